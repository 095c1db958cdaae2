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

/* numpy's choice of notation: scientific when the largest/smallest magnitude ratio exceeds 1000, or a value is
 * below 1e-4 or at least 1e8; otherwise positional with as many digits as the most precise element needs */
TEST(test_pr_notation) {
  tg_scope_begin();
  static const float ratio[2] = {0.1f, 100.5f}, small[2] = {1e-5f, 1.0f}, big[2] = {1e9f, 1.0f};
  static const float tiny[2] = {0.5f, 1e-10f}, e4[2] = {1e-4f, 1.0f};
  CHECK_PRINTS(TEST_F32(ratio, 2), g_pr_sci_ratio);
  CHECK_PRINTS(TEST_F32(small, 2), g_pr_sci_small);
  CHECK_PRINTS(TEST_F32(big, 2), g_pr_sci_big);
  CHECK_PRINTS(TEST_F32(tiny, 2), g_pr_sci_tiny);
  CHECK_PRINTS(TEST_F32(e4, 2), g_pr_pos_1e4);
  static const float nan_inf[3] = {NAN, 1.0f, -INFINITY}, f22neg[4] = {1.5f, -2, 3, 4};
  CHECK_PRINTS(TEST_F32(nan_inf, 3), g_pr_nan_inf);
  CHECK_PRINTS(TEST_F32(f22neg, 2, 2), g_pr_f22neg);
  static const float prec[1] = {0.123456789f}, thirds[2] = {1.0f / 3, 2.0f / 3}, negzero[2] = {-0.0f, 0.0f};
  CHECK_PRINTS(TEST_F32(prec, 1), g_pr_prec);
  CHECK_PRINTS(TEST_F32(thirds, 2), g_pr_thirds);
  CHECK_PRINTS(TEST_F32(negzero, 2), g_pr_negzero);
  tg_scope_end();
}

TEST(test_pr_dtypes_and_shapes) {
  tg_scope_begin();
  static const int64_t i64[2] = {1000000000000LL, -1};
  CHECK_PRINTS(TEST_DATA(i64, TG_INT64, 2), g_pr_i64);
  static const uint8_t u8[2] = {0, 255};
  CHECK_PRINTS(TEST_DATA(u8, TG_UINT8, 2), g_pr_u8);
  CHECK_PRINTS(tg_scalar(7, TG_INT32), g_pr_i0d);
  CHECK_PRINTS(tg_scalar(1, TG_BOOL), g_pr_b0d);
  static const double f64[1] = {0.1};
  CHECK_PRINTS(TEST_DATA(f64, TG_FLOAT64, 1), g_pr_f64);
  static const double f16[2] = {0.1, 1.5};
  CHECK_PRINTS(test_make(TG_FLOAT16, f16, 2), g_pr_f16);
  static const float col[2] = {1, 2};
  CHECK_PRINTS(TEST_F32(col, 2, 1), g_pr_col);
  CHECK_PRINTS(tg_zeros(TG_FLOAT32, TG_SHAPE(2, 0)), g_pr_e20);
  /* a strided view prints its logical order */
  static const float f22[4] = {1, 3, 2, 4};
  CHECK_PRINTS(tg_transpose(TEST_F32(f22, 2, 2), 0, 1), g_pr_f22);
  tg_scope_end();
}

/* long arrays: numpy wraps lines at 75 characters and summarises more than 1000 elements */
TEST(test_pr_long) {
  tg_scope_begin();
  CHECK_PRINTS(tg_arange(0, 30, 1, TG_INT32), g_pr_wrap);
  CHECK_PRINTS(tg_arange(0, 2000, 1, TG_INT32), g_pr_summary);
  tg_scope_end();
}
