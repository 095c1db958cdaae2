/* test_reduce.c: reductions over none, one, several and negative axes with keepdim 0/1 (table-driven from golden.h),
 * argmax/argmin with ties, logsumexp, cumulative ops, softmax/log_softmax, layernorm, and the result dtypes of sums. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_REDUCE
#include "golden/golden.h"

#define TOL 1e-5

// ---------------------------------------------------------------------------------------------------------------------
// sum/prod/max/min/mean/var/std/any/all over every axis set of golden.h's table

static tg_tensor *test_reduce_op(const golden_reduce *c, tg_tensor *in) {
  const char *op = c->op;
  if (!strcmp(op, "sum")) return tg_sum(in, c->naxes, c->axes, c->keepdim);
  if (!strcmp(op, "prod")) return tg_prod(in, c->naxes, c->axes, c->keepdim);
  if (!strcmp(op, "max")) return tg_max(in, c->naxes, c->axes, c->keepdim);
  if (!strcmp(op, "min")) return tg_min(in, c->naxes, c->axes, c->keepdim);
  if (!strcmp(op, "mean")) return tg_mean(in, c->naxes, c->axes, c->keepdim);
  if (!strcmp(op, "var")) return tg_var(in, c->naxes, c->axes, c->keepdim, c->correction);
  if (!strcmp(op, "std")) return tg_std(in, c->naxes, c->axes, c->keepdim, c->correction);
  if (!strcmp(op, "any")) return tg_any(in, c->naxes, c->axes, c->keepdim);
  if (!strcmp(op, "all")) return tg_all(in, c->naxes, c->axes, c->keepdim);
  return NULL;
}

TEST(test_rd_table) {
  tg_scope_begin();
  tg_tensor *r = TEST_F32(g_rd_r, 2, 3, 4), *q = TEST_F32(g_rd_q, 2, 3, 4);
  tg_tensor *b = TEST_DATA(g_rd_b, TG_BOOL, 2, 3, 4);
  for (int i = 0; i < TEST_COUNT(g_rd_cases); i++) {
    const golden_reduce *c = &g_rd_cases[i];
    tg_tensor *in = c->in[0] == 'r' ? r : c->in[0] == 'q' ? q : b;
    tg_tensor *t = test_reduce_op(c, in);
    if (!test_tensor_near(t, c->want, c->ndim, c->shape, TOL, "reduction", "golden", __FILE__, __LINE__)) {
      printf("  case %d: %s(%s, axes=(", i, c->op, c->in);
      for (int k = 0; k < c->naxes; k++) printf("%s%d", k ? ", " : "", c->axes[k]);
      printf("), keepdim=%d, correction=%g)\n", c->keepdim, c->correction);
    }
  }
  tg_scope_end();
}

TEST(test_rd_dtypes_of_results) {
  tg_scope_begin();
  tg_tensor *r = TEST_F32(g_rd_r, 2, 3, 4), *b = TEST_DATA(g_rd_b, TG_BOOL, 2, 3, 4);
  CHECK_DTYPE(tg_any(b, TG_AXES(1), 0), TG_BOOL);
  CHECK_DTYPE(tg_all(b, 0, NULL, 0), TG_BOOL);
  CHECK_DTYPE(tg_max(r, TG_AXES(0), 0), TG_FLOAT32);
  CHECK_DTYPE(tg_std(r, TG_AXES(0), 0, 1), TG_FLOAT32);
  /* any/all of a float tensor count non-zero as true */
  static const float f[6] = {0, 0, 0, 0, 2, -1};
  static const uint8_t any_rows[2] = {0, 1}, all_rows[2] = {0, 0};
  tg_tensor *ft = TEST_F32(f, 2, 3);
  CHECK_RAW(tg_any(ft, TG_AXES(1), 0), TG_BOOL, any_rows, 2);
  CHECK_RAW(tg_all(ft, TG_AXES(-1), 0), TG_BOOL, all_rows, 2);
  tg_scope_end();
}

/* reductions of strided views and of empty axes */
TEST(test_rd_views_and_empty) {
  tg_scope_begin();
  tg_tensor *r = TEST_F32(g_rd_r, 2, 3, 4);
  CHECK_TENSOR(tg_sum(tg_permute(r, TG_AXES(2, 0, 1)), TG_AXES(1), 0), g_rd_sum_perm, TOL, 4, 3);
  CHECK_TENSOR(tg_max(tg_flip(r, TG_AXES(2)), TG_AXES(0), 0), g_rd_max_flip, 0, 3, 4);
  static const float zeros[3] = {0, 0, 0}, ones[3] = {1, 1, 1};
  tg_tensor *e = tg_zeros(TG_FLOAT32, TG_SHAPE(0, 3));
  CHECK_TENSOR(tg_sum(e, TG_AXES(0), 0), zeros, 0, 3);  /* the sum over nothing is 0 */
  CHECK_TENSOR(tg_prod(e, TG_AXES(0), 0), ones, 0, 3);  /* the product over nothing is 1 */
  /* a sum of 10000 elements stays accurate */
  static float big[10000];
  for (int i = 0; i < 10000; i++) big[i] = (float)(sin(i * 0.01) + 0.25);
  CHECK_TENSOR0(tg_sum(TEST_F32(big, 10000), 0, NULL, 0), G_RD_BIGSUM, 1e-5);
  CHECK_TENSOR0(tg_mean(TEST_F32(big, 100, 100), 0, NULL, 0), G_RD_BIGSUM / 10000, 1e-5);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// argmax/argmin: int32 indices, the first of equal values wins

TEST(test_rd_argmax_argmin) {
  tg_scope_begin();
  tg_tensor *t = TEST_DATA(g_rd_ties, TG_INT32, 3, 4);
  CHECK_RAW(tg_argmax(t, 0, 0), TG_INT32, g_rd_argmax_0, 4);
  CHECK_RAW(tg_argmax(t, 1, 0), TG_INT32, g_rd_argmax_1, 3);
  CHECK_RAW(tg_argmax(t, -1, 0), TG_INT32, g_rd_argmax_m1, 3);
  CHECK_RAW(tg_argmax(t, 1, 1), TG_INT32, g_rd_argmax_1, 3, 1);
  CHECK_RAW0(tg_argmax(tg_flatten(t, 0, -1), 0, 0), TG_INT32, g_rd_argmax_flat);
  CHECK_RAW(tg_argmin(t, 0, 0), TG_INT32, g_rd_argmin_0, 4);
  CHECK_RAW(tg_argmin(t, 1, 0), TG_INT32, g_rd_argmin_1, 3);
  CHECK_RAW(tg_argmin(t, -1, 1), TG_INT32, g_rd_argmin_m1, 3, 1);
  CHECK_RAW0(tg_argmin(tg_flatten(t, 0, -1), 0, 0), TG_INT32, g_rd_argmin_flat);
  /* floats, too */
  tg_tensor *r = TEST_F32(g_rd_r, 2, 3, 4);
  CHECK_RAW(tg_argmax(r, 1, 0), TG_INT32, g_rd_argmax_r1, 2, 4);
  CHECK_RAW(tg_argmin(r, 1, 0), TG_INT32, g_rd_argmin_r1, 2, 4);
  tg_tensor *tf = tg_cast(t, TG_FLOAT32);
  CHECK_RAW(tg_argmax(tf, 1, 0), TG_INT32, g_rd_argmax_1, 3);
  CHECK_RAW(tg_argmin(tf, 0, 0), TG_INT32, g_rd_argmin_0, 4);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// logsumexp, softmax, log_softmax

TEST(test_rd_softmax_family) {
  tg_scope_begin();
  tg_tensor *r = TEST_F32(g_rd_r, 2, 3, 4);
  CHECK_TENSOR(tg_logsumexp(r, 0, 0), g_rd_lse_0, TOL, 3, 4);
  CHECK_TENSOR(tg_logsumexp(r, 1, 0), g_rd_lse_1, TOL, 2, 4);
  CHECK_TENSOR(tg_logsumexp(r, -1, 0), g_rd_lse_m1, TOL, 2, 3);
  CHECK_TENSOR(tg_logsumexp(r, 1, 1), g_rd_lse_1, TOL, 2, 1, 4);
  CHECK_TENSOR(tg_softmax(r, 0), g_rd_softmax_0, TOL, 2, 3, 4);
  CHECK_TENSOR(tg_softmax(r, 1), g_rd_softmax_1, TOL, 2, 3, 4);
  CHECK_TENSOR(tg_softmax(r, -1), g_rd_softmax_m1, TOL, 2, 3, 4);
  CHECK_TENSOR(tg_log_softmax(r, 0), g_rd_logsoftmax_0, TOL, 2, 3, 4);
  CHECK_TENSOR(tg_log_softmax(r, 1), g_rd_logsoftmax_1, TOL, 2, 3, 4);
  CHECK_TENSOR(tg_log_softmax(r, -1), g_rd_logsoftmax_m1, TOL, 2, 3, 4);
  /* large logits: no overflow */
  tg_tensor *big = TEST_F32(g_rd_big, 2, 3);
  CHECK_TENSOR(tg_softmax(big, 1), g_rd_big_softmax, TOL, 2, 3);
  CHECK_TENSOR(tg_logsumexp(big, 1, 0), g_rd_big_lse, TOL, 2);
  /* softmax rows sum to 1 */
  static const float ones[6] = {1, 1, 1, 1, 1, 1};
  CHECK_TENSOR(tg_sum(tg_softmax(r, -1), TG_AXES(-1), 0), ones, TOL, 2, 3);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// cumulative ops

TEST(test_rd_cumulative) {
  tg_scope_begin();
  tg_tensor *c = TEST_F32(g_rd_c, 3, 4);
  CHECK_TENSOR(tg_cumsum(c, 0), g_rd_cumsum_0, TOL, 3, 4);
  CHECK_TENSOR(tg_cumsum(c, 1), g_rd_cumsum_1, TOL, 3, 4);
  CHECK_TENSOR(tg_cumsum(c, -1), g_rd_cumsum_m1, TOL, 3, 4);
  CHECK_TENSOR(tg_cumprod(c, 0), g_rd_cumprod_0, TOL, 3, 4);
  CHECK_TENSOR(tg_cumprod(c, 1), g_rd_cumprod_1, TOL, 3, 4);
  CHECK_TENSOR(tg_cumprod(c, -1), g_rd_cumprod_m1, TOL, 3, 4);
  CHECK_TENSOR(tg_cummax(c, 0), g_rd_cummax_0, 0, 3, 4);
  CHECK_TENSOR(tg_cummax(c, 1), g_rd_cummax_1, 0, 3, 4);
  CHECK_TENSOR(tg_cummax(c, -1), g_rd_cummax_m1, 0, 3, 4);
  tg_tensor *ci = TEST_DATA(g_rd_ci, TG_INT32, 8);
  CHECK_RAW(tg_cumsum(ci, 0), TG_INT32, g_rd_cumsum_int, 8);
  CHECK_RAW(tg_cummax(ci, 0), TG_INT32, g_rd_cummax_int, 8);
  /* cumsum of int8 accumulates (and returns) int32: 100 + 100 does not wrap */
  static const int8_t i8[2] = {100, 100};
  static const float i8_cum[2] = {100, G_RD_I8_CUMSUM_LAST};
  tg_tensor *cs8 = tg_cumsum(TEST_DATA(i8, TG_INT8, 2), 0);
  CHECK_DTYPE(cs8, G_RD_DT_I8_CUMSUM);
  CHECK_TENSOR(cs8, i8_cum, 0, 2);
  tg_scope_end();
}

/* cummin, the running extrema's indices (tinygrad's: each one's first position), logcumsumexp, and the all-axes forms
 * of argmax, argmin, logsumexp and the cumulative ops (the flattened tensor) */
TEST(test_rd_cumulative_more) {
  tg_scope_begin();
  tg_tensor *ct = TEST_F32(g_rd_ct, 3, 4), *c = TEST_F32(g_rd_c, 3, 4);
  CHECK_RAW(tg_cummax_indices(ct, 0), TG_INT32, g_rd_cummax_idx0, 3, 4);
  CHECK_RAW(tg_cummax_indices(ct, -1), TG_INT32, g_rd_cummax_idx1, 3, 4);
  CHECK_TENSOR(tg_cummin(ct, 0), g_rd_cummin0, 0, 3, 4);
  CHECK_TENSOR(tg_cummin(ct, 1), g_rd_cummin1, 0, 3, 4);
  CHECK_RAW(tg_cummin_indices(ct, 0), TG_INT32, g_rd_cummin_idx0, 3, 4);
  CHECK_RAW(tg_cummin_indices(ct, 1), TG_INT32, g_rd_cummin_idx1, 3, 4);
  CHECK_TENSOR(tg_logcumsumexp(c, 0), g_rd_logcumsumexp0, TOL, 3, 4);
  CHECK_TENSOR(tg_logcumsumexp(c, 1), g_rd_logcumsumexp1, TOL, 3, 4);
  CHECK_RAW0(tg_argmax(ct, TG_ALL_AXES, 0), TG_INT32, g_rd_argmax_all);
  CHECK_RAW0(tg_argmin(ct, TG_ALL_AXES, 1), TG_INT32, g_rd_argmin_all); /* keepdim ignored, as tinygrad's */
  CHECK_TENSOR0(tg_logsumexp(c, TG_ALL_AXES, 0), g_rd_lse_all[0], TOL);
  CHECK_TENSOR(tg_cumsum(c, TG_ALL_AXES), g_rd_cumsum_all, TOL, 12);
  /* an integer tensor's running minimum and its index (~x reverses the order without overflow at INT32_MIN) */
  static const int32_t im[5] = {3, INT32_MIN, 7, INT32_MIN, -1}, im_v[5] = {3, INT32_MIN, INT32_MIN, INT32_MIN,
                                                                              INT32_MIN}, im_i[5] = {0, 1, 1, 1, 1};
  CHECK_RAW(tg_cummin(TEST_DATA(im, TG_INT32, 5), 0), TG_INT32, im_v, 5);
  CHECK_RAW(tg_cummin_indices(TEST_DATA(im, TG_INT32, 5), 0), TG_INT32, im_i, 5);
  /* logcumsumexp of large values does not overflow, and of -inf is -inf */
  static const float big[3] = {1000, 1000, -INFINITY}, big_want[3] = {1000, 1000.6931472f, 1000.6931472f};
  CHECK_TENSOR(tg_logcumsumexp(TEST_F32(big, 3), 0), big_want, TOL, 3);
  CHECK(tg_cummax_indices(ct, 2) == NULL && strstr(tg_error(), "tg_cummax_indices"));
  CHECK(tg_logcumsumexp(NULL, 0) == NULL);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// layernorm over the dims from axis on

TEST(test_rd_layernorm) {
  tg_scope_begin();
  tg_tensor *r = TEST_F32(g_rd_r, 2, 3, 4);
  CHECK_TENSOR(tg_layernorm(r, -1, 1e-5), g_rd_layernorm_m1, 1e-4, 2, 3, 4);
  CHECK_TENSOR(tg_layernorm(r, 1, 1e-5), g_rd_layernorm_1, 1e-4, 2, 3, 4);
  CHECK_TENSOR(tg_layernorm(r, 2, 1e-5), g_rd_layernorm_2, 1e-4, 2, 3, 4);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// result dtypes of reductions (tinygrad): small ints accumulate in int32/uint32, float16 stays float16

TEST(test_rd_sum_dtypes) {
  tg_scope_begin();
  tg_tensor *s8 = tg_sum(TEST_DATA(g_rd_i8, TG_INT8, 4), 0, NULL, 0);
  CHECK_DTYPE(s8, G_RD_DT_I8_SUM);
  CHECK_NEAR(tg_item(s8), 250, 0); /* 100+100+100-50: no int8 wrap */
  tg_tensor *su8 = tg_sum(TEST_DATA(g_rd_u8, TG_UINT8, 3), 0, NULL, 0);
  CHECK_DTYPE(su8, G_RD_DT_U8_SUM);
  CHECK_NEAR(tg_item(su8), 655, 0);
  static const uint8_t bv[3] = {1, 0, 1};
  tg_tensor *sb = tg_sum(TEST_DATA(bv, TG_BOOL, 3), 0, NULL, 0);
  CHECK_DTYPE(sb, G_RD_DT_BOOL_SUM);
  CHECK_NEAR(tg_item(sb), 2, 0);
  tg_tensor *h = TEST_DATA(g_rd_h_bits, TG_FLOAT16, 3);
  tg_tensor *sh = tg_sum(h, 0, NULL, 0);
  CHECK_DTYPE(sh, G_RD_DT_HALF_SUM);
  CHECK_NEAR(tg_item(sh), G_RD_HALF_SUM, 0);
  CHECK_DTYPE(tg_mean(h, 0, NULL, 0), G_RD_DT_HALF_MEAN);
  static const int8_t p8[3] = {2, 3, 4};
  tg_tensor *pr = tg_prod(TEST_DATA(p8, TG_INT8, 3), 0, NULL, 0);
  CHECK_DTYPE(pr, G_RD_DT_I8_PROD);
  CHECK_NEAR(tg_item(pr), 24, 0);
  static const int16_t m16[2] = {1, 2};
  tg_tensor *mn = tg_mean(TEST_DATA(m16, TG_INT16, 2), 0, NULL, 0);
  CHECK_DTYPE(mn, G_RD_DT_I16_MEAN);
  CHECK_NEAR(tg_item(mn), 1.5, 0);
  tg_tensor *mx = tg_max(TEST_DATA(g_rd_i8, TG_INT8, 4), 0, NULL, 0);
  CHECK_DTYPE(mx, G_RD_DT_I8_MAX);
  CHECK_NEAR(tg_item(mx), 100, 0);
  CHECK_DTYPE(tg_cumsum(TEST_DATA(g_rd_ci, TG_INT32, 8), 0), G_RD_DT_I32_CUMSUM);
  /* min of uint8 and of int64 */
  CHECK_NEAR(tg_item(tg_min(TEST_DATA(g_rd_u8, TG_UINT8, 3), 0, NULL, 0)), 200, 0);
  static const int64_t big[3] = {(int64_t)1 << 40, -((int64_t)1 << 41), 5};
  CHECK_NEAR(tg_item(tg_min(TEST_DATA(big, TG_INT64, 3), 0, NULL, 0)), -2199023255552.0, 0);
  CHECK_NEAR(tg_item(tg_sum(TEST_DATA(big, TG_INT64, 3), 0, NULL, 0)), -1099511627771.0, 0);
  /* the max of negated integers, of each width (CUDA 13.0 compiled the int32 one wrongly, 3 for this one, and 4 for
   * the eight below: the CUDA dialect takes such a max in 64 bits); the uint8 negation wraps (256 - v) */
  static const int32_t v32[4] = {1, 3, 3, 2}, v32b[8] = {1, 3, 3, 2, 5, 4, 6, 7};
  static const int16_t v16[4] = {1, 3, 3, 2};
  CHECK_NEAR(tg_item(tg_max(tg_neg(TEST_DATA(v32b, TG_INT32, 8)), 0, NULL, 0)), -1, 0);
  CHECK_NEAR(tg_item(tg_max(tg_neg(TEST_DATA(v16, TG_INT16, 4)), 0, NULL, 0)), -1, 0);
  static const int64_t v64[4] = {1, 3, 3, 2};
  static const int8_t v8[4] = {1, 3, 3, 2};
  static const uint8_t vu8[4] = {1, 3, 3, 2};
  CHECK_NEAR(tg_item(tg_max(tg_neg(TEST_DATA(v32, TG_INT32, 4)), 0, NULL, 0)), -1, 0);
  CHECK_NEAR(tg_item(tg_max(tg_neg(TEST_DATA(v64, TG_INT64, 4)), 0, NULL, 0)), -1, 0);
  CHECK_NEAR(tg_item(tg_max(tg_neg(TEST_DATA(v8, TG_INT8, 4)), 0, NULL, 0)), -1, 0);
  CHECK_NEAR(tg_item(tg_max(tg_neg(TEST_DATA(vu8, TG_UINT8, 4)), 0, NULL, 0)), 255, 0);
  static const int32_t m2[6] = {4, -7, 2, 9, 0, -1}; /* (2, 3): max over rows of the negation */
  float *r = tg_to_float(tg_max(tg_neg(TEST_DATA(m2, TG_INT32, 2, 3)), TG_AXES(0), 0));
  static const float want[3] = {-4, 7, 1};
  CHECK(r != NULL);
  if (r) CHECK_ARR_NEAR(r, want, 3, 0);
  free(r);
  tg_scope_end();
}

/* larger integer-valued reductions: Z[i] = (i*3)%17 - 8 as (67, 301); every result is exact */
TEST(test_rd_big) {
  tg_scope_begin();
  static float z[67 * 301];
  for (int i = 0; i < 67 * 301; i++) z[i] = (float)((i * 3) % 17 - 8);
  tg_tensor *t = TEST_F32(z, 67, 301);
  tg_tensor *ti = tg_cast(t, TG_INT32);
  CHECK_RAW(tg_sum(ti, TG_AXES(0), 0), TG_INT32, g_rd_z_sum0, 301);
  CHECK_RAW(tg_sum(ti, TG_AXES(1), 0), TG_INT32, g_rd_z_sum1, 67);
  CHECK_RAW(tg_max(ti, TG_AXES(1), 0), TG_INT32, g_rd_z_max1, 67);
  CHECK_RAW(tg_argmin(t, 0, 0), TG_INT32, g_rd_z_argmin0, 301);
  CHECK_TENSOR0(tg_sum(t, 0, NULL, 0), G_RD_Z_SUM, 0);
  tg_tensor *cs = tg_cumsum(ti, 1);
  CHECK_RAW(tg_select(cs, 1, -1), TG_INT32, g_rd_z_cumsum1_last, 67);
  CHECK_RAW(tg_select(cs, 0, 5), TG_INT32, g_rd_z_cumsum1_row5, 301);
  tg_tensor *sm = tg_softmax(tg_mul_s(tg_slice(t, 0, 0, 4, 1), 0.05), 1);
  CHECK_TENSOR(tg_select(sm, 0, 0), g_rd_z_softmax_row0, TOL, 301);
  /* float sums of the same: exact too (integers below 2^24) */
  float want0[301];
  for (int i = 0; i < 301; i++) want0[i] = (float)g_rd_z_sum0[i];
  CHECK_TENSOR(tg_sum(t, TG_AXES(0), 0), want0, 0, 301);
  tg_scope_end();
}

/* reductions of float16 tensors: accumulate wider, return float16 */
TEST(test_rd_half) {
  tg_scope_begin();
  double v[64];
  for (int i = 0; i < 64; i++) v[i] = 0.25 * (i % 8) - 0.5; /* exact in float16 */
  tg_tensor *h = test_make(TG_FLOAT16, v, 8, 8);
  static const float row_sums[8] = {3, 3, 3, 3, 3, 3, 3, 3};
  static const float col_max[8] = {-0.5f, -0.25f, 0, 0.25f, 0.5f, 0.75f, 1, 1.25f};
  tg_tensor *s = tg_sum(h, TG_AXES(1), 0), *m = tg_max(h, TG_AXES(0), 0);
  CHECK_DTYPE(s, TG_FLOAT16);
  CHECK_TENSOR(s, row_sums, 0, 8);
  CHECK_TENSOR(m, col_max, 0, 8);
  CHECK_TENSOR0(tg_mean(h, 0, NULL, 0), 0.375, 0);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// split reductions: a reduction of 32768 or more elements into fewer than 16 outputs is two kernels (tinygrad's
// split_reduceop), so that its threads share the work; the values are the same

static int rd_kernels(tg_tensor *t) {
  tg_schedule *s = tg_schedule_create(&t, 1);
  int n = tg_schedule_count(s);
  tg_schedule_free(s);
  return n;
}

TEST(test_rd_split_reduce) {
  tg_scope_begin();
  /* 0 + 1 + ... + 65535 = 2147450880, in int64; the max is 65535 */
  tg_tensor *i = tg_arange(0, 65536, 1, TG_INT64);
  tg_tensor *s = tg_sum(i, 0, NULL, 0), *m = tg_max(i, 0, NULL, 0);
  CHECK_EQ_INT(rd_kernels(s), 2);
  CHECK_NEAR(tg_item(s), 2147450880.0, 0);
  CHECK_NEAR(tg_item(m), 65535, 0);
  /* one element short of the threshold: one kernel */
  tg_tensor *small = tg_sum(tg_arange(0, 32767, 1, TG_INT64), 0, NULL, 0);
  CHECK_EQ_INT(rd_kernels(small), 1);
  CHECK_NEAR(tg_item(small), 32767.0 * 32766.0 / 2, 0);
  /* batchnorm's statistics: axes 0, 2, 3 of (8, 4, 64, 64), 32768 per channel; x = channel + position in it */
  tg_tensor *x = tg_add(tg_reshape(tg_arange(0, 4, 1, TG_FLOAT32), TG_SHAPE(1, 4, 1, 1)),
                        tg_div_s(tg_reshape(tg_arange(0, 8 * 4096, 1, TG_FLOAT32), TG_SHAPE(8, 1, 64, 64)), 32768));
  tg_tensor *mean = tg_mean(x, TG_AXES(0, 2, 3), 0);
  CHECK_EQ_INT(rd_kernels(mean), 2);
  float *mv = tg_to_float(mean);
  CHECK(mv != NULL);
  for (int c = 0; mv && c < 4; c++) CHECK_NEAR(mv[c], c + 32767.0 / 2 / 32768, 1e-5); /* float32 sums */
  free(mv);
  /* a broadcast axis is not split (its loads are one value) */
  tg_tensor *b = tg_sum(tg_expand(tg_reshape(tg_arange(3, 4, 1, TG_FLOAT32), TG_SHAPE(1)), TG_SHAPE(65536)), 0, NULL, 0);
  CHECK_EQ_INT(rd_kernels(b), 1);
  CHECK_NEAR(tg_item(b), 3.0 * 65536, 0);
  /* 16 outputs or more: one kernel */
  CHECK_EQ_INT(rd_kernels(tg_sum(tg_ones(TG_FLOAT32, TG_SHAPE(16, 32768)), TG_AXES(1), 0)), 1);
  /* the gradient flows through both kernels: d sum(x^2) / dx = 2x */
  tg_tensor *w = tg_requires_grad(tg_contiguous(tg_div_s(tg_arange(0, 65536, 1, TG_FLOAT32), 65536)), 1);
  tg_tensor *loss = tg_sum(tg_mul(w, w), 0, NULL, 0);
  CHECK_EQ_INT(tg_backward(loss), 0);
  float *g = tg_to_float(tg_grad(w));
  CHECK(g != NULL);
  if (g) CHECK(fabs(g[12345] - 2.0 * 12345 / 65536) < 1e-6 && fabs(g[65535] - 2.0 * 65535 / 65536) < 1e-6);
  free(g);
  tg_scope_end();
}
