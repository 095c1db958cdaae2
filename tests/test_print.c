/* test_print.c: tg_to_string of small float, int and bool tensors matches numpy's str() exactly (the expected strings
 * are numpy's own output, generated into golden.h). */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_PRINT
#include "golden/golden.h"

/* ONE assertion: tg_to_string(t) is want; frees the string */
static int test_str_is(tg_tensor *t, const char *want, const char *expr, const char *file, int line) {
  char *s = tg_to_string(t);
  int ok = test_check_str(s, want, expr, "numpy", file, line);
  free(s);
  return ok;
}
#define CHECK_PRINTS(t, want) test_str_is((t), (want), #t, __FILE__, __LINE__)

TEST(test_pr_simple) {
  tg_scope_begin();
  static const float f22[4] = {1, 2, 3, 4};
  CHECK_PRINTS(TEST_F32(f22, 2, 2), g_pr_f22);
  static const int32_t i3[3] = {1, 2, 3};
  CHECK_PRINTS(TEST_DATA(i3, TG_INT32, 3), g_pr_i3);
  static const uint8_t b2[2] = {1, 0};
  CHECK_PRINTS(TEST_DATA(b2, TG_BOOL, 2), g_pr_b2);
  static const int32_t i222[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  CHECK_PRINTS(TEST_DATA(i222, TG_INT32, 2, 2, 2), g_pr_i222);
  static const float fneg[2] = {-1, 2};
  CHECK_PRINTS(TEST_F32(fneg, 2), g_pr_fneg);
  static const float f0 = 2.5f;
  CHECK_PRINTS(tg_from_float(&f0, 0, NULL), g_pr_f0);
  CHECK_PRINTS(tg_zeros(TG_INT32, TG_SHAPE(0)), g_pr_i0);
  /* a computed (not just uploaded) tensor prints the same */
  CHECK_PRINTS(tg_add_s(tg_arange(0, 4, 1, TG_FLOAT32), 1), "[1. 2. 3. 4.]");
  CHECK_PRINTS(tg_reshape(tg_add_s(tg_arange(0, 4, 1, TG_FLOAT32), 1), TG_SHAPE(2, 2)), g_pr_f22);
  tg_scope_end();
}

/* numpy pads every element to the width of the widest one */
TEST(test_pr_padding) {
  tg_scope_begin();
  static const float f3[3] = {0.5f, -1.25f, 3.0f};
  CHECK_PRINTS(TEST_F32(f3, 3), g_pr_f3);
  static const int32_t ineg[3] = {1, -2, 30};
  CHECK_PRINTS(TEST_DATA(ineg, TG_INT32, 3), g_pr_ineg);
  static const uint8_t b22[4] = {1, 0, 0, 1};
  CHECK_PRINTS(TEST_DATA(b22, TG_BOOL, 2, 2), g_pr_b22);
  static const float f2[2] = {1.0f, 2.5f};
  CHECK_PRINTS(TEST_F32(f2, 2), g_pr_f2);
  tg_scope_end();
}
