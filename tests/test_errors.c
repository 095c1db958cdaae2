/* test_errors.c: bad input never crashes: it gives NULL (or -1, NAN) and a tg_error() message naming the op, and
 * afterwards existing tensors still give their values. Also: a missing C compiler (CC=/nonexistent) is an error,
 * not a crash, and the library recovers once CC is back. */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv, clock_gettime */
#include <time.h>
#include <unistd.h>

#include "tinygrad.h"
#include "test.h"
#include "helpers.h"

static const float test_w_vals[6] = {1, -2, 3.5f, 4, 0, -6};
static const float test_w_twice[6] = {2, -4, 7, 8, 0, -12};

/* ONE check of the witness: its values, and an op on it, are still right */
static int test_witness_ok(tg_tensor *w, const char *file, int line) {
  tg_tensor *d = tg_mul_s(w, 2);
  int ok = w && d;
  float *a = ok ? tg_to_float(w) : NULL, *b = ok ? tg_to_float(d) : NULL;
  ok = a && b && !memcmp(a, test_w_vals, sizeof test_w_vals) && !memcmp(b, test_w_twice, sizeof test_w_twice);
  free(a), free(b);
  tg_free(d);
  return test_check(ok, file, line, "after the error, the witness tensor (or an op on it) has wrong values%s%s",
                    tg_error() ? "; tg_error: " : "", tg_error() ? tg_error() : "");
}
#define CHECK_WITNESS(w) test_witness_ok((w), __FILE__, __LINE__)

/* an op that must fail: NULL, and a message containing `name` */
#define CHECK_FAILS(expr, name)                                                                                       \
  do {                                                                                                                \
    tg_clear_error();                                                                                                 \
    CHECK_NULL(expr);                                                                                                 \
    CHECK_ERROR_HAS(name);                                                                                            \
  } while (0)

TEST(test_err_shapes) {
  tg_scope_begin();
  tg_tensor *w = TEST_F32(test_w_vals, 2, 3);
  tg_tensor *a = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 3)), *b = tg_zeros(TG_FLOAT32, TG_SHAPE(4, 5));
  CHECK_FAILS(tg_add(a, b), "tg_add");
  CHECK_WITNESS(w);
  CHECK_FAILS(tg_mul(a, tg_zeros(TG_FLOAT32, TG_SHAPE(3, 2))), "tg_mul");
  CHECK_FAILS(tg_where(tg_gt(a, a), a, b), "tg_where");
  CHECK_FAILS(tg_sum(a, TG_AXES(5), 0), "tg_sum");
  CHECK_FAILS(tg_max(a, TG_AXES(-3), 1), "tg_max");
  CHECK_FAILS(tg_softmax(a, 2), "tg_softmax");
  CHECK_FAILS(tg_argmax(a, 2, 0), "tg_argmax");
  CHECK_WITNESS(w);
  CHECK_FAILS(tg_reshape(a, TG_SHAPE(4, 2)), "tg_reshape");   /* 6 elements into 8 */
  CHECK_FAILS(tg_reshape(a, TG_SHAPE(-1, -1)), "tg_reshape"); /* two inferred dims */
  CHECK_FAILS(tg_reshape(a, TG_SHAPE(-1, 4)), "tg_reshape");  /* 6 is not a multiple of 4 */
  CHECK_FAILS(tg_permute(a, TG_AXES(1, 1)), "tg_permute");
  CHECK_FAILS(tg_permute(a, TG_AXES(0)), "tg_permute");
  CHECK_FAILS(tg_permute(a, TG_AXES(0, 2)), "tg_permute");
  CHECK_FAILS(tg_transpose(a, 0, 2), "tg_transpose");
  CHECK_FAILS(tg_expand(a, TG_SHAPE(2, 4)), "tg_expand");
  CHECK_WITNESS(w);
  CHECK_FAILS(tg_slice(a, 0, 0, 2, 0), "tg_slice");
  CHECK_FAILS(tg_slice(a, 3, 0, 2, 1), "tg_slice");
  CHECK_FAILS(tg_select(a, 0, 2), "tg_select");
  CHECK_FAILS(tg_select(a, 1, -4), "tg_select");
  CHECK_FAILS(tg_squeeze(a, 4), "tg_squeeze");
  CHECK_FAILS(tg_unsqueeze(a, 4), "tg_unsqueeze");
  CHECK_FAILS(tg_flatten(a, 1, 0), "tg_flatten");
  CHECK_FAILS(tg_unflatten(a, 1, TG_SHAPE(2, 2)), "tg_unflatten");
  CHECK_FAILS(tg_shrink(a, 2, (const int64_t[]){0, 3, 0, 3}), "tg_shrink");
  CHECK_FAILS(tg_pad(a, 2, (const int64_t[]){-3, 0, 0, 0}, 0), "tg_pad");
  CHECK_FAILS(tg_repeat(a, TG_SHAPE(2)), "tg_repeat");
  CHECK_FAILS(tg_flip(a, TG_AXES(2)), "tg_flip");
  tg_tensor *pair[2] = {a, b};
  CHECK_FAILS(tg_cat(pair, 2, 0), "tg_cat");
  CHECK_FAILS(tg_stack(pair, 2, 0), "tg_stack");
  CHECK_WITNESS(w);
  tg_tensor *out[4];
  tg_clear_error();
  CHECK_EQ_INT(tg_split(a, 1, 1, out, 2), -1); /* 3 pieces do not fit in 2 */
  CHECK_ERROR_HAS("tg_split");
  tg_clear_error();
  CHECK_EQ_INT(tg_split(a, 0, 1, out, 4), -1);
  CHECK_ERROR_HAS("tg_split");
  tg_clear_error();
  CHECK_EQ_INT(tg_chunk(a, 0, 0, out, 4), -1);
  CHECK_ERROR_HAS("tg_chunk");
  CHECK_WITNESS(w);
  tg_scope_end();
}

TEST(test_err_linalg) {
  tg_scope_begin();
  tg_tensor *w = TEST_F32(test_w_vals, 2, 3);
  tg_tensor *a = tg_ones(TG_FLOAT32, TG_SHAPE(2, 3)), *b = tg_ones(TG_FLOAT32, TG_SHAPE(4, 5));
  CHECK_FAILS(tg_matmul(a, b), "tg_matmul");
  CHECK_FAILS(tg_matmul(tg_ones(TG_FLOAT32, TG_SHAPE(3)), tg_ones(TG_FLOAT32, TG_SHAPE(4))), "tg_matmul");
  CHECK_FAILS(tg_matmul(tg_ones(TG_FLOAT32, TG_SHAPE(2, 2, 3)), tg_ones(TG_FLOAT32, TG_SHAPE(3, 3, 2))), "tg_matmul");
  CHECK_FAILS(tg_matmul(tg_scalar(1, TG_FLOAT32), a), "tg_matmul");
  CHECK_FAILS(tg_dot(a, b), "tg_dot");
  CHECK_FAILS(tg_linear(a, tg_ones(TG_FLOAT32, TG_SHAPE(4, 4)), NULL), "tg_linear");
  CHECK_FAILS(tg_linear(a, tg_ones(TG_FLOAT32, TG_SHAPE(4, 3)), tg_ones(TG_FLOAT32, TG_SHAPE(5))), "tg_linear");
  CHECK_WITNESS(w);
  tg_tensor *x = tg_ones(TG_FLOAT32, TG_SHAPE(1, 4, 5, 5));
  CHECK_FAILS(tg_conv2d(x, tg_ones(TG_FLOAT32, TG_SHAPE(2, 3, 3, 3)), NULL, 1, 0, 1, 1), "tg_conv2d"); /* Cin */
  CHECK_FAILS(tg_conv2d(x, tg_ones(TG_FLOAT32, TG_SHAPE(3, 2, 3, 3)), NULL, 1, 0, 1, 2), "tg_conv2d"); /* Cout%g */
  CHECK_FAILS(tg_conv2d(x, tg_ones(TG_FLOAT32, TG_SHAPE(2, 4, 7, 7)), NULL, 1, 0, 1, 1), "tg_conv2d"); /* kernel */
  CHECK_FAILS(tg_conv2d(x, tg_ones(TG_FLOAT32, TG_SHAPE(2, 4, 3, 3)), tg_ones(TG_FLOAT32, TG_SHAPE(3)), 1, 0, 1, 1),
              "tg_conv2d"); /* bias */
  CHECK_FAILS(tg_conv2d(x, tg_ones(TG_FLOAT32, TG_SHAPE(2, 4, 3, 3)), NULL, 0, 0, 1, 1), "tg_conv2d"); /* stride 0 */
  CHECK_FAILS(tg_conv2d(tg_ones(TG_FLOAT32, TG_SHAPE(4, 5, 5)), tg_ones(TG_FLOAT32, TG_SHAPE(2, 4, 3, 3)), NULL, 1,
                        0, 1, 1), "tg_conv2d"); /* 3-D input */
  CHECK_WITNESS(w);
  tg_scope_end();
}

TEST(test_err_null_operands) {
  tg_scope_begin();
  tg_tensor *w = TEST_F32(test_w_vals, 2, 3);
  tg_clear_error();
  /* a chain with a NULL in the middle: NULL at the end, and the first failure's message is kept */
  tg_tensor *bad = tg_reshape(w, TG_SHAPE(7)); /* fails: 6 elements */
  tg_tensor *r = tg_sum(tg_exp(tg_add(tg_mul_s(bad, 2), w)), 0, NULL, 0);
  CHECK_NULL(r);
  CHECK_ERROR_HAS("tg_reshape");
  tg_clear_error();
  CHECK_NULL(tg_neg(NULL));
  CHECK_NOT_NULL(tg_error());
  CHECK_FAILS(tg_add(w, NULL), "tg_add");
  CHECK_FAILS(tg_add(NULL, w), "tg_add");
  CHECK_FAILS(tg_matmul(NULL, w), "tg_matmul");
  CHECK_FAILS(tg_where(NULL, w, w), "tg_where");
  CHECK_FAILS(tg_cast(NULL, TG_INT32), "tg_cast");
  CHECK_FAILS(tg_reshape(NULL, TG_SHAPE(6)), "tg_reshape");
  CHECK_FAILS(tg_conv2d(NULL, w, NULL, 1, 0, 1, 1), "tg_conv2d");
  tg_tensor *withnull[2] = {w, NULL};
  CHECK_FAILS(tg_cat(withnull, 2, 0), "tg_cat");
  CHECK_FAILS(tg_from_data(NULL, TG_FLOAT32, TG_SHAPE(2)), "tg_from_data");
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(NULL), -1);
  CHECK_NOT_NULL(tg_error());
  tg_clear_error();
  CHECK(isnan(tg_item(NULL)));
  CHECK_ERROR_HAS("tg_item");
  CHECK_NULL(tg_to_float(NULL));
  CHECK_NULL(tg_to_string(NULL));
  tg_free(NULL); /* fine */
  CHECK_EQ_INT(tg_ndim(NULL), -1);
  CHECK_EQ_INT(tg_numel(NULL), -1);
  CHECK_WITNESS(w);
  tg_scope_end();
}

TEST(test_err_dtypes_and_reading) {
  tg_scope_begin();
  tg_tensor *w = TEST_F32(test_w_vals, 2, 3);
  CHECK_FAILS(tg_zeros((tg_dtype)99, TG_SHAPE(2)), "tg_zeros");
  CHECK_FAILS(tg_full(1, (tg_dtype)-1, TG_SHAPE(2)), "tg_full");
  CHECK_FAILS(tg_from_data(test_w_vals, (tg_dtype)TG_NDTYPES, TG_SHAPE(2)), "tg_from_data");
  CHECK_FAILS(tg_cast(w, (tg_dtype)42), "tg_cast");
  CHECK_FAILS(tg_bitcast(w, TG_INT16), "tg_bitcast"); /* 4 bytes -> 2 bytes */
  CHECK_FAILS(tg_arange(0, 10, 0, TG_FLOAT32), "tg_arange");
  CHECK_FAILS(tg_zeros(TG_FLOAT32, TG_SHAPE(2, -3)), "tg_zeros");
  CHECK_FAILS(tg_eye(-1, 2, TG_FLOAT32), "tg_eye");
  CHECK_FAILS(tg_tril(tg_ones(TG_FLOAT32, TG_SHAPE(3)), 0), "tg_tril");
  CHECK_FAILS(tg_randint(5, 5, TG_INT32, TG_SHAPE(3)), "tg_randint");
  CHECK_FAILS(tg_one_hot(w, 3), "tg_one_hot"); /* float input */
  CHECK_WITNESS(w);
  /* item of a non-scalar: NAN and a message */
  tg_clear_error();
  CHECK(isnan(tg_item(w)));
  CHECK_ERROR_HAS("tg_item");
  /* to_host with a buffer that is too small: -1, and the buffer is untouched */
  float small[5] = {9, 9, 9, 9, 9};
  tg_clear_error();
  CHECK_EQ_INT(tg_to_host(w, small, sizeof small), -1);
  CHECK_ERROR_HAS("tg_to_host");
  CHECK(small[0] == 9 && small[4] == 9);
  float exact[6];
  CHECK_EQ_INT(tg_to_host(w, exact, sizeof exact), 0);
  CHECK(memcmp(exact, test_w_vals, sizeof exact) == 0);
  tg_scope_end(); /* frees w */
  /* scope_end without a scope */
  tg_clear_error();
  tg_scope_end();
  CHECK_ERROR_HAS("tg_scope_end");
  /* clear_error clears */
  tg_clear_error();
  CHECK_NULL(tg_error());
}

/* CC=/nonexistent: realising a kernel that is not cached fails with a message about the compiler; it works again once
 * CC is restored. The kernel's constant comes from the clock, so no earlier run has compiled it. */
TEST(test_err_missing_compiler) {
  tg_scope_begin();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double c = 1.0 + (double)(ts.tv_nsec % 1000000) / 1048576.0 + (double)(getpid() % 1000) * 1e-3;
  static const float in[3] = {1, 2, 3};
  tg_tensor *x = TEST_F32(in, 3);
  CHECK_EQ_INT(tg_realize(x), 0);
  tg_tensor *y = tg_add_s(tg_mul_s(x, c), 0.25);

  if (!test_on_cpu()) { /* the C compiler is the CPU device's */
    tg_scope_end();
    return;
  }
  const char *old_cc = getenv("CC"), *old_dis = getenv("DISABLE_COMPILER_CACHE");
  char saved_cc[1024] = "", saved_dis[64] = "";
  if (old_cc) snprintf(saved_cc, sizeof saved_cc, "%s", old_cc);
  if (old_dis) snprintf(saved_dis, sizeof saved_dis, "%s", old_dis);
  setenv("CC", "/nonexistent", 1);
  setenv("DISABLE_COMPILER_CACHE", "1", 1);
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(y), -1);
  CHECK_ERROR_HAS("compiler");
  tg_clear_error();
  CHECK(isnan(tg_item(tg_sum(y, 0, NULL, 0))));
  CHECK_NOT_NULL(tg_error());
  /* restore the environment */
  if (old_cc) setenv("CC", saved_cc, 1);
  else unsetenv("CC");
  if (old_dis) setenv("DISABLE_COMPILER_CACHE", saved_dis, 1);
  else unsetenv("DISABLE_COMPILER_CACHE");
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(y), 0);
  float want[3];
  for (int i = 0; i < 3; i++) want[i] = (float)((float)(in[i] * (float)c) + 0.25f);
  CHECK_TENSOR(y, want, 1e-6, 3);
  CHECK_TENSOR(x, in, 0, 3);
  tg_scope_end();
}
