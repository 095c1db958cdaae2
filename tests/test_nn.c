/* test_nn.c: the nn functional forms, initialisers and layers against the real tinygrad (tests/golden/gen_nn.py):
 * forward values, gradients (of loss = sum(out * G) or of the scalar loss), BatchNorm's running statistics, kernel
 * counts against tinygrad's, random functions statistically and for determinism, and the error cases. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#include "golden/golden_nn.h"

#include <unistd.h>

#define TOL 1e-5      /* float32 sums of a few terms */
#define GRAD_TOL 2e-5 /* gradients: longer chains of float32 rounding */

// ---------------------------------------------------------------------------------------------------------------------
// helpers

static tg_tensor *test_param(tg_tensor *t) { return tg_requires_grad(t, 1); }

/* a layer's parameter takes the golden values (in place, realised: graphs built afterwards read the new buffer) */
static void test_set(tg_tensor *param, tg_tensor *value) {
  tg_assign(param, value);
  tg_realize(param);
}

static int test_kernels(tg_tensor *t) {
  tg_schedule *s = tg_schedule_create(&t, 1);
  int n = tg_schedule_count(s);
  tg_schedule_free(s);
  return n;
}

static tg_tensor *test_realized_rand(int ndim, const int64_t *shape) {
  tg_tensor *t = tg_rand(TG_FLOAT32, ndim, shape);
  tg_realize(t);
  return t;
}

/* mean, standard deviation (population), min and max of a tensor's values */
typedef struct test_stats { double mean, std, min, max; int64_t n; } test_stats;
static test_stats test_stats_of(tg_tensor *t) {
  test_stats s = {0, 0, INFINITY, -INFINITY, 0};
  float *v = tg_to_float(t);
  if (!v) return s;
  s.n = tg_numel(t);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < s.n; i++) {
    sum += v[i];
    s.min = v[i] < s.min ? v[i] : s.min;
    s.max = v[i] > s.max ? v[i] : s.max;
  }
  s.mean = sum / (double)s.n;
  for (int64_t i = 0; i < s.n; i++) sq += (v[i] - s.mean) * (v[i] - s.mean);
  s.std = sqrt(sq / (double)s.n);
  free(v);
  return s;
}

/* 1 if two tensors hold the same bytes */
static int test_same_bytes(tg_tensor *a, tg_tensor *b) {
  int64_t n = tg_numel(a);
  if (!a || !b || n != tg_numel(b)) return 0;
  float *x = tg_to_float(a), *y = tg_to_float(b);
  int same = x && y && memcmp(x, y, sizeof(float) * (size_t)n) == 0;
  free(x), free(y);
  return same;
}

/* a NULL result and an error message naming the function */
#define CHECK_FAILS(expr, name)                                                                                       \
  do {                                                                                                                \
    tg_clear_error();                                                                                                 \
    CHECK_NULL(expr);                                                                                                 \
    CHECK_ERROR_HAS(name);                                                                                            \
  } while (0)

// ---------------------------------------------------------------------------------------------------------------------
// losses

TEST(test_nn_cross_entropy) {
  tg_scope_begin();
  tg_tensor *labels = TEST_DATA(g_nn_ce_labels, TG_INT32, 4);
  tg_tensor *x = test_param(TEST_F32(g_nn_ce_logits, 4, 5));
  tg_tensor *loss = tg_cross_entropy(x, labels, 0);
  CHECK_TENSOR0(loss, g_nn_ce_idx_loss[0], TOL);
  CHECK_EQ_INT(tg_backward(loss), 0);
  CHECK_TENSOR(tg_grad(x), g_nn_ce_idx_grad, GRAD_TOL, 4, 5);

  x = test_param(TEST_F32(g_nn_ce_logits, 4, 5));
  loss = tg_cross_entropy(x, labels, 0.1);
  CHECK_TENSOR0(loss, g_nn_ce_idx_ls_loss[0], TOL);
  tg_backward(loss);
  CHECK_TENSOR(tg_grad(x), g_nn_ce_idx_ls_grad, GRAD_TOL, 4, 5);

  x = test_param(TEST_F32(g_nn_ce_logits, 4, 5));
  loss = tg_cross_entropy(x, TEST_F32(g_nn_ce_probs, 4, 5), 0.2); /* probability targets */
  CHECK_TENSOR0(loss, g_nn_ce_prob_loss[0], TOL);
  tg_backward(loss);
  CHECK_TENSOR(tg_grad(x), g_nn_ce_prob_grad, GRAD_TOL, 4, 5);

  /* classes on axis 1 of (N, C, d); a (C,) vector with a 0-d label */
  CHECK_TENSOR0(tg_cross_entropy(TEST_F32(g_nn_ce_l3, 2, 3, 4), TEST_DATA(g_nn_ce_y3, TG_INT32, 2, 4), 0),
                g_nn_ce_l3_loss[0], TOL);
  int32_t three = 3;
  CHECK_TENSOR0(tg_cross_entropy(TEST_F32(g_nn_ce_l1, 5), tg_from_data(&three, TG_INT32, 0, NULL), 0),
                g_nn_ce_l1_loss[0], TOL);
  /* int64 labels give the same */
  CHECK_TENSOR0(tg_cross_entropy(TEST_F32(g_nn_ce_logits, 4, 5), tg_cast(labels, TG_INT64), 0), g_nn_ce_idx_loss[0],
                TOL);
  tg_scope_end();
}

TEST(test_nn_sparse_categorical_crossentropy) {
  tg_scope_begin();
  tg_tensor *x = test_param(TEST_F32(g_nn_scce_logits, 2, 3, 5));
  tg_tensor *loss = tg_sparse_categorical_crossentropy(x, TEST_DATA(g_nn_scce_labels, TG_INT32, 2, 3), 3, 0.1);
  CHECK_TENSOR0(loss, g_nn_scce_ign_loss[0], TOL);
  CHECK_EQ_INT(tg_backward(loss), 0);
  CHECK_TENSOR(tg_grad(x), g_nn_scce_ign_grad, GRAD_TOL, 2, 3, 5);
  /* ignore_index -1 ignores nothing: a -1 label contributes 0 but still counts */
  tg_tensor *l2 = TEST_DATA(g_nn_scce_labels_m1, TG_INT32, 2, 3);
  CHECK_TENSOR0(tg_sparse_categorical_crossentropy(TEST_F32(g_nn_scce_logits, 2, 3, 5), l2, -1, 0),
                g_nn_scce_m1_loss[0], TOL);
  tg_scope_end();
}

TEST(test_nn_binary_losses) {
  tg_scope_begin();
  tg_tensor *t = TEST_F32(g_nn_bce_t, 4, 6);
  tg_tensor *p = test_param(TEST_F32(g_nn_bce_p, 4, 6));
  tg_tensor *loss = tg_binary_crossentropy(p, t);
  CHECK_TENSOR0(loss, g_nn_bce_loss[0], TOL);
  tg_backward(loss);
  CHECK_TENSOR(tg_grad(p), g_nn_bce_grad, GRAD_TOL, 4, 6);

  tg_tensor *x = test_param(TEST_F32(g_nn_bce_x, 4, 6)); /* x[0] == 0: the stable form's gradient there */
  loss = tg_binary_crossentropy_logits(x, t);
  CHECK_TENSOR0(loss, g_nn_bce_logits_loss[0], TOL);
  tg_backward(loss);
  CHECK_TENSOR(tg_grad(x), g_nn_bce_logits_grad, GRAD_TOL, 4, 6);
  /* large logits stay finite */
  float big[2] = {100, -100}, tt[2] = {0, 1};
  CHECK_TENSOR0(tg_binary_crossentropy_logits(TEST_F32(big, 2), TEST_F32(tt, 2)), 100, TOL);

  x = test_param(TEST_F32(g_nn_bce_x, 4, 6));
  loss = tg_mse(x, t);
  CHECK_TENSOR0(loss, g_nn_bce_mse[0], TOL);
  tg_backward(loss);
  CHECK_TENSOR(tg_grad(x), g_nn_bce_mse_grad, GRAD_TOL, 4, 6);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// pooling

TEST(test_nn_max_pool2d) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_pool_x, 2, 3, 7, 6);
  CHECK_TENSOR(tg_max_pool2d(x, 2, 0, 0, 1), g_nn_pool_max0, 0, 2, 3, 3, 3);
  CHECK_TENSOR(tg_max_pool2d(x, 3, 2, 1, 1), g_nn_pool_max1, 0, 2, 3, 4, 3);
  CHECK_TENSOR(tg_max_pool2d(x, 3, 1, 1, 2), g_nn_pool_max2, 0, 2, 3, 5, 4);
  CHECK_TENSOR(tg_max_pool2d(x, 2, 1, 0, 1), g_nn_pool_max3, 0, 2, 3, 6, 5);
  CHECK_TENSOR(tg_max_pool2d(x, 3, 3, 1, 1), g_nn_pool_max4, 0, 2, 3, 3, 2);
  CHECK_TENSOR(tg_max_pool2d(x, 2, 3, 1, 1), g_nn_pool_max5, 0, 2, 3, 3, 3); /* gaps between the windows */
  tg_tensor *xg = test_param(TEST_F32(g_nn_pool_x, 2, 3, 7, 6));
  tg_backward(test_weighted(tg_max_pool2d(xg, 3, 2, 1, 1)));
  CHECK_TENSOR(tg_grad(xg), g_nn_pool_max_grad, GRAD_TOL, 2, 3, 7, 6);
  xg = test_param(TEST_F32(g_nn_pool_x, 2, 3, 7, 6));
  tg_backward(test_weighted(tg_max_pool2d(xg, 2, 2, 1, 1))); /* windows that do not overlap: a reshape */
  CHECK_TENSOR(tg_grad(xg), g_nn_pool_max_grad2, GRAD_TOL, 2, 3, 7, 6);
  /* ties inside a window share the gradient equally (tinygrad) */
  tg_tensor *xt = test_param(TEST_F32(g_nn_pool_xt, 1, 2, 5, 5));
  tg_tensor *mt = tg_max_pool2d(xt, 2, 1, 0, 1);
  CHECK_TENSOR(mt, g_nn_pool_maxt, 0, 1, 2, 4, 4);
  tg_backward(test_weighted(mt));
  CHECK_TENSOR(tg_grad(xt), g_nn_pool_maxt_grad, GRAD_TOL, 1, 2, 5, 5);
  /* ints pad with the dtype's minimum, and stay int */
  tg_tensor *xi = TEST_DATA(g_nn_pool_xi, TG_INT32, 1, 1, 4, 4);
  CHECK_RAW(tg_max_pool2d(xi, 3, 1, 1, 1), TG_INT32, g_nn_pool_xi_max, 1, 1, 4, 4);
  /* any number of leading axes, at least (H, W) */
  CHECK_TENSOR(tg_max_pool2d(tg_reshape(x, TG_SHAPE(6, 7, 6)), 2, 0, 0, 1), g_nn_pool_max0, 0, 6, 3, 3);
  tg_scope_end();
}

TEST(test_nn_avg_pool2d) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_pool_x, 2, 3, 7, 6);
  CHECK_TENSOR(tg_avg_pool2d(x, 2, 0, 0), g_nn_pool_avg0, TOL, 2, 3, 3, 3);
  CHECK_TENSOR(tg_avg_pool2d(x, 3, 2, 1), g_nn_pool_avg1, TOL, 2, 3, 4, 3);
  CHECK_TENSOR(tg_avg_pool2d(x, 3, 1, 0), g_nn_pool_avg2, TOL, 2, 3, 5, 4);
  CHECK_TENSOR(tg_avg_pool2d(x, 4, 3, 2), g_nn_pool_avg3, TOL, 2, 3, 3, 3);
  CHECK_TENSOR(tg_avg_pool2d(x, 2, 3, 1), g_nn_pool_avg4, TOL, 2, 3, 3, 3);
  tg_tensor *xg = test_param(TEST_F32(g_nn_pool_x, 2, 3, 7, 6));
  tg_backward(test_weighted(tg_avg_pool2d(xg, 3, 2, 1)));
  CHECK_TENSOR(tg_grad(xg), g_nn_pool_avg_grad, GRAD_TOL, 2, 3, 7, 6);
  xg = test_param(TEST_F32(g_nn_pool_x, 2, 3, 7, 6));
  tg_backward(test_weighted(tg_avg_pool2d(xg, 3, 3, 1)));
  CHECK_TENSOR(tg_grad(xg), g_nn_pool_avg_grad2, GRAD_TOL, 2, 3, 7, 6);
  tg_tensor *avg = tg_avg_pool2d(TEST_DATA(g_nn_pool_xi, TG_INT32, 1, 1, 4, 4), 2, 0, 0);
  CHECK_DTYPE(avg, TG_FLOAT32);
  CHECK_TENSOR(avg, g_nn_pool_xi_avg, TOL, 1, 1, 2, 2);
  tg_scope_end();
}

TEST(test_nn_adaptive_avg_pool2d) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_pool_x, 2, 3, 7, 6);
  CHECK_TENSOR(tg_adaptive_avg_pool2d(x, 3, 4), g_nn_pool_adapt34, TOL, 2, 3, 3, 4);
  CHECK_TENSOR(tg_adaptive_avg_pool2d(x, 5, 2), g_nn_pool_adapt52, TOL, 2, 3, 5, 2);
  CHECK_TENSOR(tg_adaptive_avg_pool2d(x, 9, 9), g_nn_pool_adapt99, TOL, 2, 3, 9, 9);
  CHECK_TENSOR(tg_adaptive_avg_pool2d(x, 1, 1), g_nn_pool_adapt11, TOL, 2, 3, 1, 1);
  /* sizes that divide: a plain average pool (one kernel) */
  tg_tensor *img = TEST_F32(g_nn_pool_x, 6, 1, 7, 6);
  tg_tensor *a = tg_adaptive_avg_pool2d(img, 1, 3), *b = tg_mean(tg_reshape(img, TG_SHAPE(6, 1, 7, 3, 2)),
                                                                 TG_AXES(2, 4), 1);
  CHECK_EQ_INT(test_kernels(a), 1);
  float *want = tg_to_float(b);
  CHECK_TENSOR(a, want, TOL, 6, 1, 1, 3);
  free(want);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// interpolation

TEST(test_nn_interpolate) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_interp_x, 2, 3, 4, 5);
  CHECK_TENSOR(tg_interpolate(x, 7, 3, TG_BILINEAR, 0), g_nn_interp_bil73, TOL, 2, 3, 7, 3);
  CHECK_TENSOR(tg_interpolate(x, 7, 3, TG_BILINEAR, 1), g_nn_interp_bil73a, TOL, 2, 3, 7, 3);
  CHECK_TENSOR(tg_interpolate(x, 8, 10, TG_BILINEAR, 0), g_nn_interp_bil810, TOL, 2, 3, 8, 10);
  CHECK_TENSOR(tg_interpolate(x, 8, 10, TG_BILINEAR, 1), g_nn_interp_bil810a, TOL, 2, 3, 8, 10);
  CHECK_TENSOR(tg_interpolate(x, 1, 1, TG_BILINEAR, 1), g_nn_interp_bil11a, TOL, 2, 3, 1, 1);
  CHECK_TENSOR(tg_interpolate(x, 2, 2, TG_BILINEAR, 0), g_nn_interp_bil22, TOL, 2, 3, 2, 2);
  CHECK_TENSOR(tg_interpolate(x, 7, 3, TG_NEAREST, 0), g_nn_interp_near73, 0, 2, 3, 7, 3);
  CHECK_TENSOR(tg_interpolate(x, 3, 8, TG_NEAREST, 0), g_nn_interp_near38, 0, 2, 3, 3, 8);
  CHECK_TENSOR(tg_interpolate(x, 12, 15, TG_NEAREST, 0), g_nn_interp_near1215, 0, 2, 3, 12, 15);
  CHECK_TENSOR(tg_interpolate(x, 4, 5, TG_BILINEAR, 0), g_nn_interp_x, TOL, 2, 3, 4, 5); /* same size: identity */
  CHECK_TENSOR(tg_interpolate(TEST_F32(g_nn_interp_xn, 1, 1, 6, 14), 74, 46, TG_NEAREST, 0), g_nn_interp_near7446, 0,
               1, 1, 74, 46); /* indices computed in float32, as tinygrad */
  tg_tensor *xg = test_param(TEST_F32(g_nn_interp_x, 2, 3, 4, 5));
  tg_backward(test_weighted(tg_interpolate(xg, 7, 3, TG_BILINEAR, 0)));
  CHECK_TENSOR(tg_grad(xg), g_nn_interp_bil_grad, GRAD_TOL, 2, 3, 4, 5);
  xg = test_param(TEST_F32(g_nn_interp_x, 2, 3, 4, 5));
  tg_backward(test_weighted(tg_interpolate(xg, 7, 3, TG_BILINEAR, 1)));
  CHECK_TENSOR(tg_grad(xg), g_nn_interp_bila_grad, GRAD_TOL, 2, 3, 4, 5);
  CHECK_RAW(tg_interpolate(TEST_DATA(g_nn_interp_xi, TG_INT32, 1, 1, 3, 4), 5, 6, TG_NEAREST, 0), TG_INT32,
            g_nn_interp_xi_near, 1, 1, 5, 6);
  /* an inf stays in the windows that read it (tinygrad's a + (b - a) p gives nan next to it, PyTorch inf) */
  float inf4[4] = {INFINITY, 1, 2, 3};
  CHECK_TENSOR(tg_interpolate(TEST_F32(inf4, 1, 4), 1, 4, TG_BILINEAR, 0), inf4, TOL, 1, 4);
  float upw[8] = {INFINITY, INFINITY, INFINITY, 1.25f, 1.75f, 2.25f, 2.75f, 3};
  CHECK_TENSOR(tg_interpolate(TEST_F32(inf4, 1, 4), 1, 8, TG_BILINEAR, 0), upw, TOL, 1, 8);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// attention

TEST(test_nn_sdpa) {
  tg_scope_begin();
  tg_tensor *q = TEST_F32(g_nn_sdpa_q, 2, 3, 4, 8), *k = TEST_F32(g_nn_sdpa_k, 2, 3, 5, 8);
  tg_tensor *v = TEST_F32(g_nn_sdpa_v, 2, 3, 5, 6);
  CHECK_TENSOR(tg_scaled_dot_product_attention(q, k, v, NULL, 0), g_nn_sdpa_plain, TOL, 2, 3, 4, 6);
  tg_tensor *mask = TEST_DATA(g_nn_sdpa_mask, TG_BOOL, 4, 5);
  CHECK_TENSOR(tg_scaled_dot_product_attention(q, k, v, mask, 0), g_nn_sdpa_masked, TOL, 2, 3, 4, 6);
  /* an all-true mask changes nothing */
  CHECK_TENSOR(tg_scaled_dot_product_attention(q, k, v, tg_ones(TG_BOOL, TG_SHAPE(4, 5)), 0), g_nn_sdpa_plain, TOL, 2,
               3, 4, 6);
  tg_tensor *qc = test_param(TEST_F32(g_nn_sdpa_qc, 2, 3, 5, 8));
  tg_tensor *kc = test_param(TEST_F32(g_nn_sdpa_k, 2, 3, 5, 8)), *vc = test_param(TEST_F32(g_nn_sdpa_v, 2, 3, 5, 6));
  tg_tensor *out = tg_scaled_dot_product_attention(qc, kc, vc, NULL, 1);
  CHECK_TENSOR(out, g_nn_sdpa_causal, TOL, 2, 3, 5, 6);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(qc), g_nn_sdpa_causal_dq, GRAD_TOL, 2, 3, 5, 8);
  CHECK_TENSOR(tg_grad(kc), g_nn_sdpa_causal_dk, GRAD_TOL, 2, 3, 5, 8);
  CHECK_TENSOR(tg_grad(vc), g_nn_sdpa_causal_dv, GRAD_TOL, 2, 3, 5, 6);
  /* causal is the same as its lower-triangular bool mask */
  tg_tensor *tri = tg_tril(tg_ones(TG_BOOL, TG_SHAPE(5, 5)), 0);
  CHECK_TENSOR(tg_scaled_dot_product_attention(qc, kc, vc, tri, 0), g_nn_sdpa_causal, TOL, 2, 3, 5, 6);
  CHECK_TENSOR(tg_scaled_dot_product_attention(qc, kc, vc, tri, 1), g_nn_sdpa_causal, TOL, 2, 3, 5, 6);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// convolutions

TEST(test_nn_conv1d) {
  tg_scope_begin();
  tg_tensor *x = test_param(TEST_F32(g_nn_conv1d_x, 2, 4, 10)), *w = test_param(TEST_F32(g_nn_conv1d_w, 6, 2, 3));
  tg_tensor *b = test_param(TEST_F32(g_nn_conv1d_b, 6));
  tg_tensor *out = tg_conv1d(x, w, b, 2, 1, 2, 2);
  CHECK_TENSOR(out, g_nn_conv1d_out, TOL, 2, 6, 4);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(x), g_nn_conv1d_dx, GRAD_TOL, 2, 4, 10);
  CHECK_TENSOR(tg_grad(w), g_nn_conv1d_dw, GRAD_TOL, 6, 2, 3);
  CHECK_TENSOR(tg_grad(b), g_nn_conv1d_db, GRAD_TOL, 6);
  tg_tensor *w1 = TEST_F32(g_nn_conv1d_w1, 3, 4, 4);
  CHECK_TENSOR(tg_conv1d(x, w1, NULL, 1, TG_PADDING_SAME, 2, 1), g_nn_conv1d_same, TOL, 2, 3, 10);
  tg_scope_end();
}

TEST(test_nn_conv_transpose2d) {
  tg_scope_begin();
  tg_tensor *x = test_param(TEST_F32(g_nn_convt_x, 2, 4, 5, 4)), *w = test_param(TEST_F32(g_nn_convt_w, 4, 3, 3, 3));
  tg_tensor *b = test_param(TEST_F32(g_nn_convt_b, 6));
  tg_tensor *out = tg_conv_transpose2d(x, w, b, 2, 1, 1, 1, 2);
  CHECK_TENSOR(out, g_nn_convt_out, TOL, 2, 6, 10, 8);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(x), g_nn_convt_dx, GRAD_TOL, 2, 4, 5, 4);
  CHECK_TENSOR(tg_grad(w), g_nn_convt_dw, GRAD_TOL, 4, 3, 3, 3);
  CHECK_TENSOR(tg_grad(b), g_nn_convt_db, GRAD_TOL, 6);
  tg_tensor *w2 = TEST_F32(g_nn_convt_w2, 4, 2, 2, 3);
  CHECK_TENSOR(tg_conv_transpose2d(x, w2, NULL, 1, 0, 0, 2, 1), g_nn_convt_out2, TOL, 2, 2, 7, 8);
  CHECK_TENSOR(tg_conv_transpose2d(x, w2, NULL, 3, 2, 2, 1, 1), g_nn_convt_out3, TOL, 2, 2, 12, 10);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// kernel counts: tinygrad 0.14's len(t.schedule_linear().src), CPU, realised inputs

TEST(test_nn_kernel_counts) {
  tg_scope_begin();
  tg_tensor *img = test_realized_rand(TG_SHAPE(1, 1, 28, 28));
  CHECK_EQ_INT(test_kernels(tg_max_pool2d(img, 2, 0, 0, 1)), 1);  /* tinygrad: 1 */
  CHECK_EQ_INT(test_kernels(tg_max_pool2d(img, 3, 1, 1, 1)), 1);  /* tinygrad: 1 */
  CHECK_EQ_INT(test_kernels(tg_avg_pool2d(img, 2, 0, 0)), 1);     /* tinygrad: 1 */
  CHECK_EQ_INT(test_kernels(tg_avg_pool2d(img, 3, 2, 1)), 1);     /* tinygrad: 1 */
  /* a convolution is its own kernel before a pooling, not nested in the pool's loops */
  tg_tensor *cx = test_realized_rand(TG_SHAPE(2, 4, 12, 12)), *cw = test_realized_rand(TG_SHAPE(8, 4, 3, 3));
  CHECK_EQ_INT(test_kernels(tg_max_pool2d(tg_relu(tg_conv2d(cx, cw, NULL, 1, 0, 1, 1)), 2, 0, 0, 1)), 2); /* tinygrad: 2 */
  tg_tensor *logits = test_realized_rand(TG_SHAPE(32, 10));
  tg_tensor *labels = tg_randint(0, 10, TG_INT32, TG_SHAPE(32));
  tg_realize(labels);
  /* tinygrad: 3 (max, sum of exp, the loss); here one: each row's max is used only by its sum of exp and its
   * log-sum-exp, which the loss sums, so it is computed once per row inside the loss's kernel */
  CHECK_EQ_INT(test_kernels(tg_cross_entropy(logits, labels, 0)), 1);
  CHECK_EQ_INT(test_kernels(tg_sparse_categorical_crossentropy(logits, labels, -1, 0)), 1); /* tinygrad: 3 */
  /* logsumexp over all axes (and over one) is one kernel, as tinygrad's */
  CHECK_EQ_INT(test_kernels(tg_logsumexp(logits, TG_ALL_AXES, 0)), 1);
  CHECK_EQ_INT(test_kernels(tg_logsumexp(logits, 1, 0)), 1);
  tg_tensor *p = test_realized_rand(TG_SHAPE(32)), *t = test_realized_rand(TG_SHAPE(32));
  CHECK_EQ_INT(test_kernels(tg_binary_crossentropy(p, t)), 1);        /* tinygrad: 1 */
  CHECK_EQ_INT(test_kernels(tg_binary_crossentropy_logits(p, t)), 1); /* tinygrad: 1 */
  tg_tensor *q = test_realized_rand(TG_SHAPE(2, 4, 8, 16)), *k = test_realized_rand(TG_SHAPE(2, 4, 8, 16));
  tg_tensor *v = test_realized_rand(TG_SHAPE(2, 4, 8, 16));
  CHECK_EQ_INT(test_kernels(tg_scaled_dot_product_attention(q, k, v, NULL, 1)), 4); /* tinygrad: 4 */
  tg_tensor *im = test_realized_rand(TG_SHAPE(2, 3, 8, 8));
  CHECK_EQ_INT(test_kernels(tg_interpolate(im, 5, 7, TG_BILINEAR, 0)), 2); /* tinygrad: 2 */
  CHECK_EQ_INT(test_kernels(tg_interpolate(im, 5, 7, TG_NEAREST, 0)), 2);  /* tinygrad: 2 */
  CHECK_EQ_INT(test_kernels(tg_conv_transpose2d(im, test_realized_rand(TG_SHAPE(3, 4, 3, 3)), NULL, 2, 1, 0, 1, 1)),
               1); /* tinygrad: 1 */
  tg_tensor *x1 = test_realized_rand(TG_SHAPE(2, 3, 10));
  CHECK_EQ_INT(test_kernels(tg_conv1d(x1, test_realized_rand(TG_SHAPE(4, 3, 3)), NULL, 1, 0, 1, 1)), 1); /* 1 */
  /* layers with realised parameters */
  tg_tensor *x = test_realized_rand(TG_SHAPE(8, 16, 6, 6));
  tg_nn_layernorm ln;
  tg_nn_groupnorm gn;
  tg_nn_rmsnorm rms;
  tg_nn_embedding emb;
  tg_nn_batchnorm bn;
  tg_nn_layernorm_init(&ln, 6, 1), tg_nn_groupnorm_init(&gn, 4, 16, 1), tg_nn_rmsnorm_init(&rms, 6);
  tg_nn_embedding_init(&emb, 100, 32), tg_nn_batchnorm_init(&bn, 16);
  tg_tensor *params[10] = {ln.weight, ln.bias, gn.weight, gn.bias, rms.weight, emb.weight, bn.weight, bn.bias,
                           bn.running_mean, bn.running_var};
  tg_realize_all(params, 10);
  tg_tensor *idx = tg_randint(0, 100, TG_INT32, TG_SHAPE(4, 7));
  tg_realize(idx);
  CHECK_EQ_INT(test_kernels(tg_nn_layernorm_forward(&ln, x)), 3);     /* tinygrad: 3 */
  CHECK_EQ_INT(test_kernels(tg_nn_groupnorm_forward(&gn, x)), 3);     /* tinygrad: 3 */
  CHECK_EQ_INT(test_kernels(tg_nn_rmsnorm_forward(&rms, x)), 2);      /* tinygrad: 2 */
  CHECK_EQ_INT(test_kernels(tg_nn_embedding_forward(&emb, idx)), 1);  /* tinygrad: 1 */
  CHECK_EQ_INT(test_kernels(tg_nn_batchnorm_forward(&bn, x)), 1);     /* eval; tinygrad: 1 */
  tg_nn_layernorm_free(&ln), tg_nn_groupnorm_free(&gn), tg_nn_rmsnorm_free(&rms), tg_nn_embedding_free(&emb);
  tg_nn_batchnorm_free(&bn);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// dropout and training mode

TEST(test_nn_dropout) {
  tg_scope_begin();
  int prev = tg_set_training(0);
  tg_tensor *x = tg_ones(TG_FLOAT32, TG_SHAPE(100000));
  CHECK(test_same_bytes(tg_dropout(x, 0.5), x)); /* not training: the identity */
  CHECK_EQ_INT(tg_set_training(1), 0);
  CHECK(test_same_bytes(tg_dropout(x, 0), x));
  CHECK_TENSOR0(tg_sum(tg_dropout(x, 1), 0, NULL, 0), 0, 0);
  tg_manual_seed(7);
  tg_tensor *xg = test_param(tg_ones(TG_FLOAT32, TG_SHAPE(100000)));
  tg_tensor *d = tg_dropout(xg, 0.25);
  test_stats s = test_stats_of(d);
  float *v = tg_to_float(d);
  int64_t zeros = 0, others = 0;
  for (int64_t i = 0; v && i < 100000; i++) {
    if (v[i] == 0) zeros++;
    else others += fabsf(v[i] - 1 / 0.75f) > 1e-6f;
  }
  CHECK_NEAR((double)zeros / 100000, 0.25, 0.01); /* 0.25 +- 0.01: over 7 standard deviations */
  CHECK_EQ_INT(others, 0);                        /* kept values are scaled by 1/(1-p) */
  CHECK_NEAR(s.mean, 1, 0.01);
  /* the gradient uses the same mask as the forward */
  tg_backward(tg_sum(d, 0, NULL, 0));
  float *g = tg_to_float(tg_grad(xg));
  CHECK(v && g && memcmp(v, g, sizeof(float) * 100000) == 0);
  free(v), free(g);
  /* deterministic under a seed; a new draw differs */
  tg_manual_seed(123);
  tg_tensor *a = tg_dropout(x, 0.5);
  tg_realize(a); /* before the seed is reset */
  tg_manual_seed(123);
  tg_tensor *b = tg_dropout(x, 0.5);
  tg_realize(b); /* before another realisation moves the generator's counter on */
  CHECK(test_same_bytes(a, b));
  CHECK(!test_same_bytes(a, tg_dropout(x, 0.5)));
  /* ints become floats, as a division by (1 - p) */
  CHECK_DTYPE(tg_dropout(tg_ones(TG_INT32, TG_SHAPE(4)), 0.5), TG_FLOAT32);
  CHECK_EQ_INT(tg_set_training(prev), 1);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// initialisers

TEST(test_nn_initialisers) {
  tg_scope_begin();
  tg_manual_seed(1);
  /* kaiming_uniform: bound sqrt(6/(1+a^2)/fan_in); a = sqrt(5), fan_in = 64*3*3 gives 1/24 */
  tg_tensor *ku = tg_kaiming_uniform(TG_SHAPE(256, 64, 3, 3), sqrt(5));
  double bound = 1.0 / 24, n = 256.0 * 576;
  test_stats s = test_stats_of(ku);
  CHECK_DTYPE(ku, TG_FLOAT32);
  CHECK(s.min >= -bound && s.max < bound);
  CHECK(s.min < -0.999 * bound && s.max > 0.999 * bound);
  CHECK(fabs(s.mean) < 5 * bound / sqrt(3 * n)); /* 5 standard errors */
  CHECK_NEAR(s.std, bound / sqrt(3), 0.01);      /* relative: std of uniform(-b, b) is b/sqrt(3) */
  /* the default a of tinygrad (0.01) on a (1000, 10) */
  s = test_stats_of(tg_kaiming_uniform(TG_SHAPE(1000, 10), 0.01));
  bound = sqrt(6 / (1 + 1e-4) / 10);
  CHECK(s.min >= -bound && s.max < bound && s.max > 0.99 * bound);
  /* kaiming_normal: std sqrt(2/(1+a^2)/fan_in) */
  tg_tensor *kn = tg_kaiming_normal(TG_SHAPE(512, 300), 0);
  double sd = sqrt(2.0 / 300);
  s = test_stats_of(kn);
  CHECK_NEAR(s.std / sd, 1, 0.01);
  CHECK(fabs(s.mean) < 5 * sd / sqrt(512.0 * 300));
  CHECK(s.max > 3.5 * sd && s.min < -3.5 * sd); /* tails of a normal, not a uniform */
  /* glorot_uniform: bound sqrt(6/(shape[0] + prod(shape[1:]))) */
  tg_tensor *gu = tg_glorot_uniform(TG_SHAPE(300, 20, 10));
  bound = sqrt(6.0 / (300 + 200));
  s = test_stats_of(gu);
  CHECK(s.min >= -bound && s.max < bound && s.max > 0.999 * bound && s.min < -0.999 * bound);
  CHECK_NEAR(s.std, bound / sqrt(3), 0.01);
  CHECK(fabs(s.mean) < 5 * bound / sqrt(3 * 60000.0));
  /* deterministic under a seed */
  tg_manual_seed(99);
  tg_tensor *a = tg_kaiming_uniform(TG_SHAPE(8, 5), 0.01);
  tg_realize(a); /* before the seed is reset */
  tg_manual_seed(99);
  tg_tensor *b = tg_kaiming_uniform(TG_SHAPE(8, 5), 0.01);
  tg_realize(b); /* before another realisation moves the generator's counter on */
  CHECK(test_same_bytes(a, b));
  CHECK(!test_same_bytes(a, tg_kaiming_uniform(TG_SHAPE(8, 5), 0.01)));
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// layers

TEST(test_nn_linear_layer) {
  tg_nn_linear m;
  tg_scope_begin();
  CHECK_EQ_INT(tg_nn_linear_init(&m, 4, 5, 1), 0);
  tg_scope_end(); /* parameters outlive the scope they were made in */
  tg_scope_begin();
  CHECK_NOT_NULL(m.weight);
  CHECK_NOT_NULL(m.bias);
  test_stats s = test_stats_of(m.weight);
  CHECK(s.min >= -0.5 && s.max < 0.5); /* 1/sqrt(in) */
  s = test_stats_of(m.bias);
  CHECK(s.min >= -0.5 && s.max < 0.5);
  test_set(m.weight, TEST_F32(g_nn_lin_w, 5, 4));
  test_set(m.bias, TEST_F32(g_nn_lin_b, 5));
  CHECK_TENSOR(tg_nn_linear_forward(&m, TEST_F32(g_nn_lin_x, 2, 3, 4)), g_nn_lin_out, TOL, 2, 3, 5);
  tg_nn_linear_free(&m);
  CHECK_NULL(m.weight);
  tg_nn_linear_free(&m); /* a zeroed struct is fine */
  CHECK_EQ_INT(tg_nn_linear_init(&m, 3, 2, 0), 0);
  CHECK_NULL(m.bias);
  CHECK_TENSOR(tg_nn_linear_forward(&m, tg_zeros(TG_FLOAT32, TG_SHAPE(7, 3))), (float[14]){0}, 0, 7, 2);
  tg_nn_linear_free(&m);
  tg_scope_end();
}

TEST(test_nn_conv_layers) {
  tg_scope_begin();
  tg_nn_conv2d c2;
  CHECK_EQ_INT(tg_nn_conv2d_init(&c2, 4, 6, 3, 1, 1, 1, 2, 1), 0);
  CHECK(tg_ndim(c2.weight) == 4 && tg_shape(c2.weight)[0] == 6 && tg_shape(c2.weight)[1] == 2);
  test_stats s = test_stats_of(c2.weight);
  CHECK(s.min >= -1 / 6.0 && s.max < 1 / 6.0); /* 1/sqrt(cin k k) = 1/6 */
  tg_nn_conv2d_free(&c2);
  /* padding 'same': an even kernel pads 1 before and 2 after */
  CHECK_EQ_INT(tg_nn_conv2d_init(&c2, 2, 3, 4, 1, TG_PADDING_SAME, 1, 1, 1), 0);
  test_set(c2.weight, TEST_F32(g_nn_conv2d_w, 3, 2, 4, 4));
  test_set(c2.bias, TEST_F32(g_nn_conv2d_b, 3));
  CHECK_TENSOR(tg_nn_conv2d_forward(&c2, TEST_F32(g_nn_conv2d_x, 1, 2, 6, 5)), g_nn_conv2d_same, TOL, 1, 3, 6, 5);
  c2.dilation = 3;
  CHECK_TENSOR(tg_nn_conv2d_forward(&c2, TEST_F32(g_nn_conv2d_xb, 1, 2, 12, 11)), g_nn_conv2d_same_d3, TOL, 1, 3, 12,
               11);
  tg_nn_conv2d_free(&c2);

  tg_nn_conv1d c1;
  CHECK_EQ_INT(tg_nn_conv1d_init(&c1, 4, 3, 4, 1, TG_PADDING_SAME, 2, 1, 0), 0);
  CHECK(tg_ndim(c1.weight) == 3 && tg_shape(c1.weight)[2] == 4 && !c1.bias);
  s = test_stats_of(c1.weight);
  CHECK(s.min >= -0.25 && s.max < 0.25); /* 1/sqrt(4*4) */
  test_set(c1.weight, TEST_F32(g_nn_conv1d_w1, 3, 4, 4));
  CHECK_TENSOR(tg_nn_conv1d_forward(&c1, TEST_F32(g_nn_conv1d_x, 2, 4, 10)), g_nn_conv1d_same, TOL, 2, 3, 10);
  tg_nn_conv1d_free(&c1);

  tg_nn_conv_transpose2d ct;
  CHECK_EQ_INT(tg_nn_conv_transpose2d_init(&ct, 4, 6, 3, 2, 1, 1, 1, 2, 1), 0);
  CHECK(tg_ndim(ct.weight) == 4 && tg_shape(ct.weight)[0] == 4 && tg_shape(ct.weight)[1] == 3);
  test_set(ct.weight, TEST_F32(g_nn_convt_w, 4, 3, 3, 3));
  test_set(ct.bias, TEST_F32(g_nn_convt_b, 6));
  CHECK_TENSOR(tg_nn_conv_transpose2d_forward(&ct, TEST_F32(g_nn_convt_x, 2, 4, 5, 4)), g_nn_convt_out, TOL, 2, 6, 10,
               8);
  tg_nn_conv_transpose2d_free(&ct);
  tg_nn_conv_transpose2d_free(&ct);
  tg_scope_end();
}

TEST(test_nn_batchnorm) {
  tg_scope_begin();
  tg_nn_batchnorm bn;
  CHECK_EQ_INT(tg_nn_batchnorm_init(&bn, 3), 0);
  CHECK_NEAR(bn.eps, 1e-5, 0);
  CHECK_NEAR(bn.momentum, 0.1, 0);
  CHECK_DTYPE(bn.num_batches_tracked, TG_INT64);
  CHECK_EQ_INT(tg_ndim(bn.num_batches_tracked), 0);
  test_set(bn.weight, TEST_F32(g_nn_bn_w, 3));
  test_set(bn.bias, TEST_F32(g_nn_bn_b, 3));
  test_param(bn.weight);
  test_param(bn.bias);
  int prev = tg_set_training(1);
  tg_tensor *x = test_param(TEST_F32(g_nn_bn_x, 4, 3, 5, 2));
  tg_tensor *out = tg_nn_batchnorm_forward(&bn, x);
  CHECK_TENSOR(out, g_nn_bn_out, TOL, 4, 3, 5, 2); /* realising the output realises the running statistics too */
  CHECK_TENSOR(bn.running_mean, g_nn_bn_rmean1, TOL, 3);
  CHECK_TENSOR(bn.running_var, g_nn_bn_rvar1, TOL, 3);
  CHECK_EQ_INT(tg_backward(test_weighted(out)), 0);
  CHECK_TENSOR(tg_grad(x), g_nn_bn_dx, GRAD_TOL, 4, 3, 5, 2);
  CHECK_TENSOR(tg_grad(bn.weight), g_nn_bn_dw, GRAD_TOL, 3);
  CHECK_TENSOR(tg_grad(bn.bias), g_nn_bn_db, GRAD_TOL, 3);
  /* a second step accumulates with momentum */
  CHECK_EQ_INT(tg_realize(tg_nn_batchnorm_forward(&bn, TEST_F32(g_nn_bn_x2, 4, 3, 5, 2))), 0);
  CHECK_TENSOR(bn.running_mean, g_nn_bn_rmean2, TOL, 3);
  CHECK_TENSOR(bn.running_var, g_nn_bn_rvar2, TOL, 3);
  CHECK_RAW0(bn.num_batches_tracked, TG_INT64, g_nn_bn_nbt2);
  /* eval: the running statistics, nothing updated */
  tg_set_training(0);
  CHECK_TENSOR(tg_nn_batchnorm_forward(&bn, TEST_F32(g_nn_bn_x2, 4, 3, 5, 2)), g_nn_bn_eval, TOL, 4, 3, 5, 2);
  CHECK_TENSOR(bn.running_mean, g_nn_bn_rmean2, TOL, 3);
  CHECK_RAW0(bn.num_batches_tracked, TG_INT64, g_nn_bn_nbt2);
  tg_set_training(prev);
  tg_nn_batchnorm_free(&bn);
  tg_nn_batchnorm_free(&bn);
  tg_scope_end();
}

TEST(test_nn_norm_layers) {
  tg_scope_begin();
  tg_nn_layernorm ln;
  CHECK_EQ_INT(tg_nn_layernorm_init(&ln, 6, 1), 0);
  test_set(ln.weight, TEST_F32(g_nn_ln_w, 6));
  test_set(ln.bias, TEST_F32(g_nn_ln_b, 6));
  tg_tensor *x = test_param(TEST_F32(g_nn_ln_x, 2, 3, 6));
  test_param(ln.weight), test_param(ln.bias);
  tg_tensor *out = tg_nn_layernorm_forward(&ln, x);
  CHECK_TENSOR(out, g_nn_ln_out, TOL, 2, 3, 6);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(x), g_nn_ln_dx, GRAD_TOL, 2, 3, 6);
  CHECK_TENSOR(tg_grad(ln.weight), g_nn_ln_dw, GRAD_TOL, 6);
  CHECK_TENSOR(tg_grad(ln.bias), g_nn_ln_db, GRAD_TOL, 6);
  tg_nn_layernorm_free(&ln);
  CHECK_EQ_INT(tg_nn_layernorm_init(&ln, 6, 0), 0); /* no affine: plain layernorm */
  CHECK_NULL(ln.weight);
  tg_tensor *plain = tg_layernorm(TEST_F32(g_nn_ln_x, 2, 3, 6), -1, 1e-5);
  float *want = tg_to_float(plain);
  CHECK_TENSOR(tg_nn_layernorm_forward(&ln, TEST_F32(g_nn_ln_x, 2, 3, 6)), want, 0, 2, 3, 6);
  free(want);
  tg_nn_layernorm_free(&ln);

  tg_nn_groupnorm gn;
  CHECK_EQ_INT(tg_nn_groupnorm_init(&gn, 3, 6, 1), 0);
  test_set(gn.weight, TEST_F32(g_nn_gn_w, 6));
  test_set(gn.bias, TEST_F32(g_nn_gn_b, 6));
  x = test_param(TEST_F32(g_nn_gn_x, 2, 6, 3, 2));
  test_param(gn.weight), test_param(gn.bias);
  out = tg_nn_groupnorm_forward(&gn, x);
  CHECK_TENSOR(out, g_nn_gn_out, TOL, 2, 6, 3, 2);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(x), g_nn_gn_dx, GRAD_TOL, 2, 6, 3, 2);
  CHECK_TENSOR(tg_grad(gn.weight), g_nn_gn_dw, GRAD_TOL, 6);
  CHECK_TENSOR(tg_grad(gn.bias), g_nn_gn_db, GRAD_TOL, 6);
  tg_nn_groupnorm_free(&gn);

  tg_nn_rmsnorm rms;
  CHECK_EQ_INT(tg_nn_rmsnorm_init(&rms, 5), 0);
  CHECK_NEAR(rms.eps, 1e-6, 0);
  test_set(rms.weight, TEST_F32(g_nn_rms_w, 5));
  x = test_param(TEST_F32(g_nn_rms_x, 3, 5));
  test_param(rms.weight);
  out = tg_nn_rmsnorm_forward(&rms, x);
  CHECK_TENSOR(out, g_nn_rms_out, TOL, 3, 5);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(x), g_nn_rms_dx, GRAD_TOL, 3, 5);
  CHECK_TENSOR(tg_grad(rms.weight), g_nn_rms_dw, GRAD_TOL, 5);
  tg_nn_rmsnorm_free(&rms);
  tg_scope_end();
}

TEST(test_nn_embedding) {
  tg_scope_begin();
  tg_nn_embedding emb;
  CHECK_EQ_INT(tg_nn_embedding_init(&emb, 7, 4), 0);
  test_stats s = test_stats_of(emb.weight);
  double bound = sqrt(6.0 / 11); /* glorot_uniform(7, 4) */
  CHECK(s.min >= -bound && s.max < bound);
  test_set(emb.weight, TEST_F32(g_nn_emb_w, 7, 4));
  test_param(emb.weight);
  tg_tensor *out = tg_nn_embedding_forward(&emb, TEST_DATA(g_nn_emb_idx, TG_INT32, 2, 3));
  CHECK_TENSOR(out, g_nn_emb_out, 0, 2, 3, 4);
  tg_backward(test_weighted(out));
  CHECK_TENSOR(tg_grad(emb.weight), g_nn_emb_dw, GRAD_TOL, 7, 4);
  /* int64 and uint8 indices; an out-of-range index gives zeros (tinygrad) */
  CHECK_TENSOR(tg_nn_embedding_forward(&emb, tg_cast(TEST_DATA(g_nn_emb_idx, TG_INT32, 2, 3), TG_INT64)),
               g_nn_emb_out, 0, 2, 3, 4);
  uint8_t u[2] = {6, 9};
  float want[8];
  memcpy(want, g_nn_emb_w + 24, sizeof(float) * 4);
  memset(want + 4, 0, sizeof(float) * 4);
  CHECK_TENSOR(tg_nn_embedding_forward(&emb, TEST_DATA(u, TG_UINT8, 2)), want, 0, 2, 4);
  tg_nn_embedding_free(&emb);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// lifetimes: a composite leaves exactly its result behind

TEST(test_nn_no_leaked_intermediates) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_pool_x, 2, 3, 7, 6), *l = TEST_F32(g_nn_ce_logits, 4, 5);
  tg_tensor *y = TEST_DATA(g_nn_ce_labels, TG_INT32, 4);
  int64_t n0 = tg_live_tensors();
  tg_tensor *r[6] = {tg_cross_entropy(l, y, 0.1), tg_sparse_categorical_crossentropy(l, y, 2, 0.1),
                     tg_interpolate(x, 3, 9, TG_BILINEAR, 1), tg_adaptive_avg_pool2d(x, 3, 4),
                     tg_max_pool2d(x, 3, 2, 1, 1), tg_conv_transpose2d(x, tg_ones(TG_FLOAT32, TG_SHAPE(3, 2, 2, 2)),
                                                                         NULL, 2, 0, 1, 1, 1)};
  CHECK_EQ_INT(tg_live_tensors() - n0, 7); /* the six results and the ones() */
  for (int i = 0; i < 6; i++) CHECK_NOT_NULL(r[i]);
  /* a failing call leaves nothing behind either */
  n0 = tg_live_tensors();
  CHECK_NULL(tg_max_pool2d(x, 0, 0, 0, 1));
  CHECK_EQ_INT(tg_live_tensors() - n0, 0);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// errors: NULL (or -1) and a message naming the function; never a crash

TEST(test_nn_errors_functional) {
  tg_scope_begin();
  tg_tensor *x4 = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 3, 7, 6)), *v = tg_zeros(TG_FLOAT32, TG_SHAPE(3));
  tg_tensor *l = tg_zeros(TG_FLOAT32, TG_SHAPE(4, 5)), *y = tg_zeros(TG_INT32, TG_SHAPE(4));
  CHECK_FAILS(tg_dropout(x4, 1.5), "tg_dropout");
  CHECK_FAILS(tg_dropout(x4, -0.1), "tg_dropout");
  CHECK_FAILS(tg_dropout(x4, NAN), "tg_dropout");
  CHECK_FAILS(tg_dropout(NULL, 0.5), "tg_dropout");
  CHECK_FAILS(tg_cross_entropy(l, tg_zeros(TG_INT32, TG_SHAPE(5)), 0), "tg_cross_entropy");
  CHECK_FAILS(tg_cross_entropy(l, tg_zeros(TG_FLOAT32, TG_SHAPE(4)), 0), "tg_cross_entropy"); /* float indices */
  CHECK_FAILS(tg_cross_entropy(l, y, 1.5), "tg_cross_entropy");
  CHECK_FAILS(tg_cross_entropy(tg_scalar(1, TG_FLOAT32), tg_scalar(1, TG_FLOAT32), 0), "tg_cross_entropy");
  CHECK_FAILS(tg_cross_entropy(l, NULL, 0), "tg_cross_entropy");
  CHECK_FAILS(tg_sparse_categorical_crossentropy(l, tg_zeros(TG_FLOAT32, TG_SHAPE(4)), -1, 0),
              "tg_sparse_categorical_crossentropy");
  CHECK_FAILS(tg_sparse_categorical_crossentropy(l, tg_zeros(TG_INT32, TG_SHAPE(4, 5)), -1, 0),
              "tg_sparse_categorical_crossentropy");
  CHECK_FAILS(tg_sparse_categorical_crossentropy(l, y, -1, -0.5), "tg_sparse_categorical_crossentropy");
  CHECK_FAILS(tg_binary_crossentropy(l, v), "tg_binary_crossentropy");
  CHECK_FAILS(tg_binary_crossentropy_logits(l, tg_zeros(TG_FLOAT32, TG_SHAPE(3, 5))), "tg_binary_crossentropy_logits");
  CHECK_FAILS(tg_mse(l, v), "tg_mse");
  CHECK_FAILS(tg_mse(NULL, v), "tg_mse");

  CHECK_FAILS(tg_max_pool2d(v, 2, 0, 0, 1), "tg_max_pool2d"); /* 1-D */
  CHECK_FAILS(tg_max_pool2d(x4, 0, 0, 0, 1), "tg_max_pool2d");
  CHECK_FAILS(tg_max_pool2d(x4, 2, -1, 0, 1), "tg_max_pool2d");
  CHECK_FAILS(tg_max_pool2d(x4, 2, 0, -1, 1), "tg_max_pool2d");
  CHECK_FAILS(tg_max_pool2d(x4, 2, 0, 0, 0), "tg_max_pool2d");
  CHECK_FAILS(tg_max_pool2d(x4, 8, 0, 0, 1), "tg_max_pool2d"); /* the window is larger than the input */
  CHECK_FAILS(tg_max_pool2d(x4, 3, 1, 0, 4), "tg_max_pool2d"); /* dilated: spans 9 */
  CHECK_FAILS(tg_avg_pool2d(x4, 2, 0, -2), "tg_avg_pool2d");
  CHECK_FAILS(tg_avg_pool2d(tg_zeros(TG_FLOAT32, TG_SHAPE(1, 1, 2, 2)), 3, 1, 0), "tg_avg_pool2d");
  CHECK_FAILS(tg_adaptive_avg_pool2d(x4, 0, 2), "tg_adaptive_avg_pool2d");
  CHECK_FAILS(tg_adaptive_avg_pool2d(v, 2, 2), "tg_adaptive_avg_pool2d");
  CHECK_FAILS(tg_interpolate(x4, 3, 3, 7, 0), "tg_interpolate");
  CHECK_FAILS(tg_interpolate(x4, 3, 3, TG_NEAREST, 1), "tg_interpolate"); /* align_corners needs bilinear */
  CHECK_FAILS(tg_interpolate(x4, 3, -1, TG_BILINEAR, 0), "tg_interpolate");
  CHECK_FAILS(tg_interpolate(v, 3, 3, TG_BILINEAR, 0), "tg_interpolate");

  tg_tensor *q = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 4, 8)), *k = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 5, 8));
  tg_tensor *vv = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 5, 3));
  CHECK_NOT_NULL(tg_scaled_dot_product_attention(q, k, vv, NULL, 0));
  const char *sdpa = "tg_scaled_dot_product_attention";
  CHECK_FAILS(tg_scaled_dot_product_attention(q, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 5, 7)), vv, NULL, 0), sdpa);
  CHECK_FAILS(tg_scaled_dot_product_attention(q, k, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 6, 3)), NULL, 0), sdpa);
  CHECK_FAILS(tg_scaled_dot_product_attention(q, tg_zeros(TG_FLOAT32, TG_SHAPE(3, 5, 8)), vv, NULL, 0), sdpa);
  CHECK_FAILS(tg_scaled_dot_product_attention(q, k, vv, tg_ones(TG_BOOL, TG_SHAPE(4, 4)), 0), sdpa);
  CHECK_FAILS(tg_scaled_dot_product_attention(v, k, vv, NULL, 0), sdpa);
  CHECK_FAILS(tg_scaled_dot_product_attention(q, k, NULL, NULL, 0), sdpa);

  tg_tensor *x3 = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 4, 10)), *w3 = tg_zeros(TG_FLOAT32, TG_SHAPE(6, 2, 3));
  CHECK_NOT_NULL(tg_conv1d(x3, w3, NULL, 1, 0, 1, 2));
  CHECK_FAILS(tg_conv1d(x3, w3, NULL, 1, 0, 1, 1), "tg_conv1d"); /* Cin 4 != 2 * 1 */
  CHECK_FAILS(tg_conv1d(x4, w3, NULL, 1, 0, 1, 2), "tg_conv1d");
  CHECK_FAILS(tg_conv1d(x3, w3, NULL, 2, TG_PADDING_SAME, 1, 2), "tg_conv1d");
  CHECK_FAILS(tg_conv1d(x3, w3, NULL, 0, 0, 1, 2), "tg_conv1d");
  CHECK_FAILS(tg_conv1d(x3, w3, NULL, 1, -2, 1, 2), "tg_conv1d");
  CHECK_FAILS(tg_conv1d(x3, w3, NULL, 1, 0, 5, 2), "tg_conv1d"); /* spans 11 > 10 */
  CHECK_FAILS(tg_conv1d(x3, w3, tg_zeros(TG_FLOAT32, TG_SHAPE(5)), 1, 0, 1, 2), "tg_conv1d");
  CHECK_FAILS(tg_conv1d(x3, tg_zeros(TG_FLOAT32, TG_SHAPE(5, 2, 3)), NULL, 1, 0, 1, 2), "tg_conv1d");

  tg_tensor *xt = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 4, 5, 4)), *wt = tg_zeros(TG_FLOAT32, TG_SHAPE(4, 3, 3, 3));
  CHECK_NOT_NULL(tg_conv_transpose2d(xt, wt, NULL, 2, 1, 1, 1, 2));
  CHECK_FAILS(tg_conv_transpose2d(xt, tg_zeros(TG_FLOAT32, TG_SHAPE(3, 3, 3, 3)), NULL, 1, 0, 0, 1, 1),
              "tg_conv_transpose2d");
  CHECK_FAILS(tg_conv_transpose2d(xt, wt, NULL, 2, 1, 2, 1, 2), "tg_conv_transpose2d"); /* output_padding >= 2 */
  CHECK_FAILS(tg_conv_transpose2d(xt, wt, NULL, 1, 0, 0, 1, 3), "tg_conv_transpose2d"); /* 3 does not divide 4 */
  CHECK_FAILS(tg_conv_transpose2d(x3, wt, NULL, 1, 0, 0, 1, 1), "tg_conv_transpose2d");
  CHECK_FAILS(tg_conv_transpose2d(xt, wt, tg_zeros(TG_FLOAT32, TG_SHAPE(3)), 1, 0, 0, 1, 2), "tg_conv_transpose2d");
  CHECK_FAILS(tg_conv_transpose2d(xt, wt, NULL, 1, 6, 0, 1, 2), "tg_conv_transpose2d"); /* empty output */

  CHECK_FAILS(tg_kaiming_uniform(0, NULL, 0.01), "tg_kaiming_uniform");
  CHECK_FAILS(tg_kaiming_uniform(TG_SHAPE(4, 0), 0.01), "tg_kaiming_uniform");
  CHECK_FAILS(tg_kaiming_normal(TG_SHAPE(0, 3), 0.01), "tg_kaiming_normal");
  CHECK_FAILS(tg_glorot_uniform(TG_SHAPE(-1, 3)), "tg_glorot_uniform");
  CHECK_FAILS(tg_glorot_uniform(17, (int64_t[17]){0}), "tg_glorot_uniform");
  tg_scope_end();
}

TEST(test_nn_errors_layers) {
  tg_scope_begin();
  tg_nn_linear lin;
  memset(&lin, 0x5a, sizeof lin);
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_linear_init(&lin, 0, 3, 1), -1);
  CHECK_ERROR_HAS("tg_nn_linear_init");
  CHECK(!lin.weight && !lin.bias); /* left zeroed */
  CHECK_EQ_INT(tg_nn_linear_init(NULL, 3, 3, 1), -1);
  CHECK_FAILS(tg_nn_linear_forward(&lin, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 3))), "tg_nn_linear_forward");
  CHECK_EQ_INT(tg_nn_linear_init(&lin, 3, 2, 1), 0);
  CHECK_FAILS(tg_nn_linear_forward(&lin, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 4))), "tg_nn_linear_forward");
  CHECK_FAILS(tg_nn_linear_forward(&lin, NULL), "tg_nn_linear_forward");
  tg_nn_linear_free(&lin);

  tg_nn_conv2d c2;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_conv2d_init(&c2, 4, 6, 3, 2, TG_PADDING_SAME, 1, 1, 1), -1); /* 'same' needs stride 1 */
  CHECK_ERROR_HAS("tg_nn_conv2d_init");
  CHECK(!c2.weight);
  CHECK_EQ_INT(tg_nn_conv2d_init(&c2, 4, 6, 3, 1, 0, 1, 4, 1), -1); /* 4 groups do not divide 6 */
  CHECK_EQ_INT(tg_nn_conv2d_init(&c2, 4, 6, 0, 1, 0, 1, 1, 1), -1);
  CHECK_EQ_INT(tg_nn_conv2d_init(&c2, 4, 6, 3, 1, TG_PADDING_SAME, 1, 2, 1), 0);
  CHECK_FAILS(tg_nn_conv2d_forward(&c2, tg_zeros(TG_FLOAT32, TG_SHAPE(4, 5, 5))), "tg_nn_conv2d_forward");
  CHECK_FAILS(tg_nn_conv2d_forward(&c2, tg_zeros(TG_FLOAT32, TG_SHAPE(1, 3, 5, 5))), "tg_nn_conv2d_forward"); /* channels */
  tg_nn_conv2d_free(&c2);
  tg_nn_conv1d c1;
  CHECK_EQ_INT(tg_nn_conv1d_init(&c1, 3, 3, 2, 1, -5, 1, 1, 1), -1);
  CHECK(!c1.weight);
  tg_nn_conv_transpose2d ct;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_conv_transpose2d_init(&ct, 4, 6, 3, 1, 0, 1, 1, 1, 1), -1); /* output_padding 1, stride 1 */
  CHECK_ERROR_HAS("tg_nn_conv_transpose2d_init");
  CHECK_EQ_INT(tg_nn_conv_transpose2d_init(&ct, 4, 6, 3, 1, TG_PADDING_SAME, 0, 1, 1, 1), -1);

  tg_nn_batchnorm bn;
  CHECK_EQ_INT(tg_nn_batchnorm_init(&bn, 0), -1);
  CHECK(!bn.running_mean);
  CHECK_EQ_INT(tg_nn_batchnorm_init(&bn, 3), 0);
  CHECK_FAILS(tg_nn_batchnorm_forward(&bn, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 4))), "tg_nn_batchnorm_forward");
  CHECK_FAILS(tg_nn_batchnorm_forward(&bn, tg_zeros(TG_FLOAT32, TG_SHAPE(3))), "tg_nn_batchnorm_forward");
  int prev = tg_set_training(1);
  CHECK_FAILS(tg_nn_batchnorm_forward(&bn, tg_zeros(TG_FLOAT32, TG_SHAPE(1, 3))), "tg_nn_batchnorm_forward");
  tg_set_training(prev);
  tg_nn_batchnorm_free(&bn);
  CHECK_FAILS(tg_nn_batchnorm_forward(&bn, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 3))), "tg_nn_batchnorm_forward");

  tg_nn_layernorm ln;
  CHECK_EQ_INT(tg_nn_layernorm_init(&ln, -1, 1), -1);
  CHECK_EQ_INT(tg_nn_layernorm_init(&ln, 4, 1), 0);
  CHECK_FAILS(tg_nn_layernorm_forward(&ln, tg_zeros(TG_FLOAT32, TG_SHAPE(4, 3))), "tg_nn_layernorm_forward");
  tg_nn_layernorm_free(&ln);
  tg_nn_rmsnorm rms;
  CHECK_EQ_INT(tg_nn_rmsnorm_init(&rms, 0), -1);
  CHECK_EQ_INT(tg_nn_rmsnorm_init(&rms, 4), 0);
  CHECK_FAILS(tg_nn_rmsnorm_forward(&rms, tg_zeros(TG_FLOAT32, TG_SHAPE(4, 3))), "tg_nn_rmsnorm_forward");
  tg_nn_rmsnorm_free(&rms);
  tg_nn_groupnorm gn;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_groupnorm_init(&gn, 4, 6, 1), -1);
  CHECK_ERROR_HAS("tg_nn_groupnorm_init");
  CHECK_EQ_INT(tg_nn_groupnorm_init(&gn, 3, 6, 0), 0);
  CHECK_NULL(gn.weight);
  CHECK_FAILS(tg_nn_groupnorm_forward(&gn, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 5, 3))), "tg_nn_groupnorm_forward");
  tg_nn_groupnorm_free(&gn);
  tg_nn_embedding emb;
  CHECK_EQ_INT(tg_nn_embedding_init(&emb, 0, 4), -1);
  CHECK_EQ_INT(tg_nn_embedding_init(&emb, 5, 4), 0);
  CHECK_FAILS(tg_nn_embedding_forward(&emb, tg_zeros(TG_FLOAT32, TG_SHAPE(3))), "tg_nn_embedding_forward");
  CHECK_FAILS(tg_nn_embedding_forward(&emb, tg_zeros(TG_BOOL, TG_SHAPE(3))), "tg_nn_embedding_forward");
  tg_nn_embedding_free(&emb);
  CHECK_FAILS(tg_nn_embedding_forward(&emb, tg_zeros(TG_INT32, TG_SHAPE(3))), "tg_nn_embedding_forward");
  CHECK_FAILS(tg_nn_embedding_forward(NULL, tg_zeros(TG_INT32, TG_SHAPE(3))), "tg_nn_embedding_forward");
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// a fix outside nn.c (schedule.c): a CONTIGUOUS realised inside a schedule keeps its value, so a graph built on it
// later (dropout's backward after the forward was realised) reads the same random numbers instead of drawing new ones

TEST(test_nn_contiguous_realised_once) {
  tg_scope_begin();
  tg_tensor *r = tg_rand(TG_FLOAT32, TG_SHAPE(64));
  float *a = tg_to_float(tg_mul_s(r, 2)); /* r is an intermediate of this schedule, not a root */
  float *b = tg_to_float(tg_mul_s(r, 4)); /* a new graph on r */
  int same = a && b;
  for (int i = 0; same && i < 64; i++) same = b[i] == 2 * a[i];
  CHECK(same);
  free(a), free(b);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// _params: tinygrad's names in a state dict, for safetensors and tg_load_state_dict

/* ONE check: sd holds exactly the names given, in order, each with the tensor given */
static int test_sd_is(tg_state_dict *sd, int n, const char *const *names, tg_tensor *const *ts, const char *file,
                      int line) {
  int ok = tg_state_dict_count(sd) == n;
  for (int i = 0; ok && i < n; i++)
    ok = strcmp(tg_state_dict_name(sd, i), names[i]) == 0 && tg_state_dict_tensor(sd, i) == ts[i];
  return test_check(ok, file, line, "the state dict holds %d entries (first: %s), not the %d expected (first: %s)",
                    tg_state_dict_count(sd), tg_state_dict_count(sd) ? tg_state_dict_name(sd, 0) : "-", n,
                    n ? names[0] : "-");
}
#define CHECK_SD(sd, n, names, ts) test_sd_is((sd), (n), (names), (ts), __FILE__, __LINE__)

TEST(test_nn_params) {
  tg_scope_begin();
  tg_state_dict *sd = tg_state_dict_new();
  tg_nn_linear lin;
  tg_nn_linear_init(&lin, 4, 3, 1);
  CHECK_EQ_INT(tg_nn_linear_params(&lin, sd, "fc1"), 0);
  CHECK_SD(sd, 2, ((const char *[]){"fc1.weight", "fc1.bias"}), ((tg_tensor *[]){lin.weight, lin.bias}));
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_linear_params(&lin, sd, "fc1"), -1); /* a duplicate: nothing added */
  CHECK_ERROR_HAS("fc1.weight");
  CHECK_EQ_INT(tg_state_dict_count(sd), 2);
  tg_state_dict_free(sd); /* borrowed: the layer's tensors live on */
  sd = tg_state_dict_new();
  tg_nn_batchnorm bn;
  tg_nn_batchnorm_init(&bn, 3);
  CHECK_EQ_INT(tg_nn_batchnorm_params(&bn, sd, "layers.0.bn"), 0);
  CHECK_SD(sd, 5,
           ((const char *[]){"layers.0.bn.weight", "layers.0.bn.bias", "layers.0.bn.running_mean",
                             "layers.0.bn.running_var", "layers.0.bn.num_batches_tracked"}),
           ((tg_tensor *[]){bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked}));
  tg_state_dict_free(sd);
  sd = tg_state_dict_new();
  tg_nn_conv2d c2;
  tg_nn_conv1d c1;
  tg_nn_conv_transpose2d ct;
  tg_nn_layernorm ln, ln0;
  tg_nn_rmsnorm rms;
  tg_nn_groupnorm gn;
  tg_nn_embedding emb;
  tg_nn_conv2d_init(&c2, 2, 4, 3, 1, 1, 1, 1, 0);
  tg_nn_conv1d_init(&c1, 2, 4, 3, 1, 1, 1, 1, 1);
  tg_nn_conv_transpose2d_init(&ct, 2, 4, 3, 1, 0, 0, 1, 1, 1);
  tg_nn_layernorm_init(&ln, 4, 1);
  tg_nn_layernorm_init(&ln0, 4, 0);
  tg_nn_rmsnorm_init(&rms, 4);
  tg_nn_groupnorm_init(&gn, 2, 4, 1);
  tg_nn_embedding_init(&emb, 10, 4);
  CHECK_EQ_INT(tg_nn_conv2d_params(&c2, sd, "c2"), 0); /* no bias: only the weight */
  CHECK_EQ_INT(tg_nn_conv1d_params(&c1, sd, "c1"), 0);
  CHECK_EQ_INT(tg_nn_conv_transpose2d_params(&ct, sd, "ct"), 0);
  CHECK_EQ_INT(tg_nn_layernorm_params(&ln, sd, "ln"), 0);
  CHECK_EQ_INT(tg_nn_layernorm_params(&ln0, sd, "ln0"), 0); /* not affine: nothing */
  CHECK_EQ_INT(tg_nn_rmsnorm_params(&rms, sd, "rms"), 0);
  CHECK_EQ_INT(tg_nn_groupnorm_params(&gn, sd, "gn"), 0);
  CHECK_EQ_INT(tg_nn_embedding_params(&emb, sd, ""), 0); /* an empty prefix: the bare names */
  CHECK_SD(sd, 11,
           ((const char *[]){"c2.weight", "c1.weight", "c1.bias", "ct.weight", "ct.bias", "ln.weight", "ln.bias",
                             "rms.weight", "gn.weight", "gn.bias", "weight"}),
           ((tg_tensor *[]){c2.weight, c1.weight, c1.bias, ct.weight, ct.bias, ln.weight, ln.bias, rms.weight,
                            gn.weight, gn.bias, emb.weight}));
  /* errors */
  tg_nn_linear zero;
  memset(&zero, 0, sizeof zero);
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_linear_params(&zero, sd, "x"), -1);
  CHECK_ERROR_HAS("tg_nn_linear_params");
  CHECK_EQ_INT(tg_nn_batchnorm_params(NULL, sd, "x"), -1);
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_rmsnorm_params(&rms, NULL, "x"), -1);
  CHECK_ERROR_HAS("tg_nn_rmsnorm_params");
  CHECK_EQ_INT(tg_state_dict_count(sd), 11);
  tg_state_dict_free(sd);
  tg_nn_linear_free(&lin), tg_nn_batchnorm_free(&bn), tg_nn_conv2d_free(&c2), tg_nn_conv1d_free(&c1);
  tg_nn_conv_transpose2d_free(&ct), tg_nn_layernorm_free(&ln), tg_nn_layernorm_free(&ln0);
  tg_nn_rmsnorm_free(&rms), tg_nn_groupnorm_free(&gn), tg_nn_embedding_free(&emb);
  tg_scope_end();
}

/* a trained BatchNorm saved with safetensors and loaded into a fresh one gives the same eval output */
TEST(test_nn_params_safetensors) {
  tg_scope_begin();
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_nn_XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/bn.safetensors", dir);
  tg_nn_batchnorm a, b;
  tg_nn_batchnorm_init(&a, 3);
  tg_nn_batchnorm_init(&b, 3);
  test_set(a.weight, TEST_F32(g_nn_bn_w, 3));
  test_set(a.bias, TEST_F32(g_nn_bn_b, 3));
  int prev = tg_set_training(1);
  tg_realize(tg_nn_batchnorm_forward(&a, TEST_F32(g_nn_bn_x, 4, 3, 5, 2)));
  tg_realize(tg_nn_batchnorm_forward(&a, TEST_F32(g_nn_bn_x2, 4, 3, 5, 2)));
  tg_set_training(0);
  tg_state_dict *sa = tg_state_dict_new(), *sb = tg_state_dict_new();
  tg_nn_batchnorm_params(&a, sa, "bn");
  tg_nn_batchnorm_params(&b, sb, "bn");
  CHECK_EQ_INT(tg_safetensors_save(path, sa), 0);
  tg_state_dict *loaded = tg_safetensors_load(path);
  CHECK_NOT_NULL(loaded);
  CHECK_EQ_INT(tg_load_state_dict(sb, loaded, 1), 0);
  CHECK_TENSOR(tg_nn_batchnorm_forward(&b, TEST_F32(g_nn_bn_x2, 4, 3, 5, 2)), g_nn_bn_eval, TOL, 4, 3, 5, 2);
  CHECK_RAW0(b.num_batches_tracked, TG_INT64, g_nn_bn_nbt2);
  tg_set_training(prev);
  tg_state_dict_free(loaded);
  tg_state_dict_free(sa);
  tg_state_dict_free(sb);
  tg_nn_batchnorm_free(&a);
  tg_nn_batchnorm_free(&b);
  unlink(path);
  rmdir(dir);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// a fix outside nn.c (ops.c): softplus in tinygrad's logaddexp form, whose derivative at 0 is 1/2 (it was 0), as
// binary_crossentropy_logits needs

TEST(test_nn_softplus_grad_at_zero) {
  tg_scope_begin();
  float v[3] = {0, 1, -1}, want[3] = {0.5f, 0.7310586f, 0.26894143f}; /* sigmoid(x) */
  float mish0[1] = {0.6f}; /* mish'(0) = tanh(softplus(0)) = tanh(ln 2) = 0.6 */
  tg_tensor *x = test_param(TEST_F32(v, 3)), *z = test_param(tg_zeros(TG_FLOAT32, TG_SHAPE(1)));
  tg_backward(tg_sum(tg_softplus(x, 1), 0, NULL, 0));
  CHECK_TENSOR(tg_grad(x), want, TOL, 3);
  tg_backward(tg_sum(tg_mish(z), 0, NULL, 0));
  CHECK_TENSOR(tg_grad(z), mish0, TOL, 1);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// the losses' reduction, nll_loss, pos_weight, softmin, normalize, functional batchnorm, interpolate over 1 and 3
// axes and nearest-exact: tinygrad's values (gen_nn.py)

TEST(test_nn_loss_reductions) {
  tg_scope_begin();
  tg_tensor *logits = TEST_F32(g_nn_ce_logits, 4, 5), *labels = TEST_DATA(g_nn_ce_labels, TG_INT32, 4);
  tg_tensor *t = TEST_F32(g_nn_red_t, 4, 5), *p = tg_sigmoid(logits);
  CHECK_TENSOR0(tg_cross_entropy_r(logits, labels, 0.1, TG_REDUCTION_SUM), g_nn_red_ce_sum[0], TOL);
  CHECK_TENSOR(tg_cross_entropy_r(logits, labels, 0.1, TG_REDUCTION_NONE), g_nn_red_ce_none, TOL, 4);
  CHECK_TENSOR0(tg_binary_crossentropy_r(p, t, TG_REDUCTION_SUM), g_nn_red_bce_sum[0], 1e-4);
  CHECK_TENSOR(tg_binary_crossentropy_r(p, t, TG_REDUCTION_NONE), g_nn_red_bce_none, TOL, 4, 5);
  CHECK_TENSOR0(tg_binary_crossentropy_logits_r(logits, t, NULL, TG_REDUCTION_SUM), g_nn_red_bcel_sum[0], 1e-4);
  CHECK_TENSOR(tg_binary_crossentropy_logits_r(logits, t, NULL, TG_REDUCTION_NONE), g_nn_red_bcel_none, TOL, 4, 5);
  tg_tensor *sl = TEST_F32(g_nn_red_sl, 2, 3, 5), *sy = TEST_DATA(g_nn_red_sy, TG_INT32, 2, 3);
  CHECK_TENSOR0(tg_sparse_categorical_crossentropy_r(sl, sy, 3, 0, TG_REDUCTION_SUM), g_nn_red_scce_sum[0], TOL);
  CHECK_TENSOR(tg_sparse_categorical_crossentropy_r(sl, sy, 3, 0, TG_REDUCTION_NONE), g_nn_red_scce_none, TOL, 2, 3);
  /* mse's sum and none against their closed forms */
  float *tv = tg_to_float(t), *lv = tg_to_float(logits), want[20];
  double sum = 0;
  for (int i = 0; i < 20; i++) want[i] = (lv[i] - tv[i]) * (lv[i] - tv[i]), sum += want[i];
  CHECK_TENSOR(tg_mse_r(logits, t, TG_REDUCTION_NONE), want, TOL, 4, 5);
  CHECK_TENSOR0(tg_mse_r(logits, t, TG_REDUCTION_SUM), sum, 1e-4);
  free(tv), free(lv);
  /* pos_weight per class, and its gradient */
  tg_tensor *x = tg_requires_grad(TEST_F32(g_nn_ce_logits, 4, 5), 1);
  tg_tensor *l = tg_binary_crossentropy_logits_r(x, t, TEST_F32(g_nn_red_pos_weight, 5), TG_REDUCTION_MEAN);
  CHECK_TENSOR0(l, g_nn_red_bcel_pw[0], TOL);
  CHECK_EQ_INT(tg_backward(l), 0);
  CHECK_TENSOR(tg_grad(x), g_nn_red_bcel_pw_grad, GRAD_TOL, 4, 5);
  CHECK(tg_mse_r(logits, t, 7) == NULL && strstr(tg_error(), "reduction 7"));
  CHECK(tg_binary_crossentropy_logits_r(logits, t, TEST_F32(g_nn_red_pos_weight, 4), 0) == NULL);
  tg_scope_end();
}

TEST(test_nn_nll_loss) {
  tg_scope_begin();
  tg_tensor *lp = tg_requires_grad(TEST_F32(g_nn_red_lp, 4, 5), 1), *y = TEST_DATA(g_nn_ce_labels, TG_INT32, 4);
  tg_tensor *w = TEST_F32(g_nn_red_w, 5);
  tg_tensor *l = tg_nll_loss(lp, y, w, 4, TG_REDUCTION_MEAN);
  CHECK_TENSOR0(l, g_nn_red_nll[0], TOL);
  CHECK_EQ_INT(tg_backward(l), 0);
  CHECK_TENSOR(tg_grad(lp), g_nn_red_nll_grad, GRAD_TOL, 4, 5);
  CHECK_TENSOR0(tg_nll_loss(lp, y, NULL, TG_IGNORE_NONE, TG_REDUCTION_MEAN), g_nn_red_nll_plain[0], TOL);
  CHECK_TENSOR(tg_nll_loss(lp, y, w, TG_IGNORE_NONE, TG_REDUCTION_NONE), g_nn_red_nll_none, TOL, 4);
  CHECK_TENSOR0(tg_nll_loss(lp, y, NULL, 0, TG_REDUCTION_SUM), g_nn_red_nll_sum[0], TOL);
  tg_tensor *l3 = TEST_F32(g_nn_red_l3, 2, 3, 4), *y3 = TEST_DATA(g_nn_red_y3, TG_INT32, 2, 4);
  CHECK_TENSOR0(tg_nll_loss(l3, y3, NULL, TG_IGNORE_NONE, TG_REDUCTION_MEAN), g_nn_red_nll3[0], TOL);
  /* nll of log_softmax is cross_entropy */
  tg_tensor *ce = tg_cross_entropy(TEST_F32(g_nn_ce_logits, 4, 5), y, 0);
  float *a = tg_to_float(ce), *b = tg_to_float(tg_nll_loss(tg_log_softmax(TEST_F32(g_nn_ce_logits, 4, 5), 1), y, NULL,
                                                            TG_IGNORE_NONE, TG_REDUCTION_MEAN));
  CHECK(a && b && fabsf(a[0] - b[0]) < 1e-6f);
  free(a), free(b);
  CHECK(tg_nll_loss(lp, TEST_F32(g_nn_red_w, 4), NULL, TG_IGNORE_NONE, 0) == NULL && strstr(tg_error(), "HINT"));
  CHECK(tg_nll_loss(lp, y, TEST_F32(g_nn_red_w, 4), TG_IGNORE_NONE, 0) == NULL && strstr(tg_error(), "weight"));
  tg_scope_end();
}

TEST(test_nn_softmin_normalize_batchnorm) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_misc_x, 3, 4), *xz = TEST_F32(g_nn_misc_xz, 3, 4);
  CHECK_TENSOR(tg_softmin(x, 1), g_nn_misc_softmin, TOL, 3, 4);
  CHECK_TENSOR(tg_softmin(x, 0), g_nn_misc_softmin0, TOL, 3, 4);
  CHECK_TENSOR(tg_normalize(xz, 2, 1, 1e-12), g_nn_misc_norm2, TOL, 3, 4);
  CHECK_TENSOR(tg_normalize(xz, 1, 0, 1e-12), g_nn_misc_norm1_0, TOL, 3, 4);
  CHECK_TENSOR(tg_normalize(xz, 0, 1, 1e-12), g_nn_misc_norm0, TOL, 3, 4);
  tg_tensor *bx = TEST_F32(g_nn_misc_bx, 2, 3, 2, 2), *bw = TEST_F32(g_nn_misc_bw, 3), *bb = TEST_F32(g_nn_misc_bb, 3);
  tg_tensor *bm = TEST_F32(g_nn_misc_bm, 3), *bi = TEST_F32(g_nn_misc_bi, 3);
  CHECK_TENSOR(tg_batchnorm(bx, bw, bb, bm, bi), g_nn_misc_bn, TOL, 2, 3, 2, 2);
  CHECK_TENSOR(tg_batchnorm(bx, NULL, NULL, bm, bi), g_nn_misc_bn_nowb, TOL, 2, 3, 2, 2);
  CHECK(tg_batchnorm(bx, bw, bb, TEST_F32(g_nn_misc_bw, 2), bi) == NULL && strstr(tg_error(), "(C,)"));
  CHECK(tg_normalize(x, -1, 1, 1e-12) == NULL && strstr(tg_error(), "p = -1"));
  CHECK(tg_normalize(x, 2, 2, 1e-12) == NULL);
  tg_scope_end();
}

TEST(test_nn_interpolate_nd) {
  tg_scope_begin();
  tg_tensor *x1 = TEST_F32(g_nn_misc_xi1, 2, 3, 5), *x3 = TEST_F32(g_nn_misc_xi3, 1, 2, 3, 4, 2);
  int64_t s8 = 8;
  CHECK_TENSOR(tg_interpolate_nd(x1, 1, &s8, TG_LINEAR, 0), g_nn_misc_i1_lin, TOL, 2, 3, 8);
  CHECK_TENSOR(tg_interpolate_nd(x1, 1, &s8, TG_LINEAR, 1), g_nn_misc_i1_lin_ac, TOL, 2, 3, 8);
  CHECK_TENSOR(tg_interpolate_nd(x1, 1, &s8, TG_NEAREST, 0), g_nn_misc_i1_near, 0, 2, 3, 8);
  CHECK_TENSOR(tg_interpolate_nd(x1, 1, &s8, TG_NEAREST_EXACT, 0), g_nn_misc_i1_exact, 0, 2, 3, 8);
  CHECK_TENSOR(tg_interpolate_nd(x3, TG_SHAPE(5, 2, 3), TG_LINEAR, 0), g_nn_misc_i3_lin, TOL, 1, 2, 5, 2, 3);
  CHECK_TENSOR(tg_interpolate_nd(x3, TG_SHAPE(2, 6, 3), TG_NEAREST_EXACT, 0), g_nn_misc_i3_exact, 0, 1, 2, 2, 6, 3);
  CHECK_TENSOR(tg_interpolate(x1, 7, 2, TG_NEAREST_EXACT, 0), g_nn_misc_i2_exact, 0, 2, 7, 2);
  CHECK(tg_interpolate_nd(x1, TG_SHAPE(1, 2, 3, 4), TG_LINEAR, 0) == NULL && strstr(tg_error(), "4 sizes"));
  CHECK(tg_interpolate_nd(x1, 1, &s8, TG_NEAREST_EXACT, 1) == NULL && strstr(tg_error(), "align_corners"));
  tg_scope_end();
}
