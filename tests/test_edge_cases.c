/* test_edge_cases.c: arguments at the edge of what an op accepts, each a reported defect: a slice with a huge step,
 * adaptive average pooling and argmax/argmin over an empty axis, a negative count of axes, and an axis given twice.
 * Expected values are numpy's (and PyTorch's errors). */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"

static const float g_m6[6] = {0, 1, 2, 3, 4, 5}; /* arange(6).reshape(2, 3) */

/* numpy: a[:, 0::2**63-1] is [[0], [3]], a[:, ::-(2**63-1)] and a[:, ::-2**63] are [[2], [5]], a[:, 1::2**62] is
 * [[1], [4]], a[:, 5::2**63-1] is empty. tg_slice(m, 1, 0, TG_END, INT64_MAX) gave the shape (2, -1): len + step - 1
 * overflowed. */
TEST(test_edge_slice_huge_step) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_m6, 2, 3);
  static const float first[2] = {0, 3}, last[2] = {2, 5}, second[2] = {1, 4}, every[3] = {0, 3, 6};
  CHECK_TENSOR(tg_slice(m, 1, 0, TG_END, INT64_MAX), first, 0, 2, 1);
  CHECK_TENSOR(tg_slice(m, 1, TG_END, TG_END, -INT64_MAX), last, 0, 2, 1);
  CHECK_TENSOR(tg_slice(m, 1, TG_END, TG_END, INT64_MIN), last, 0, 2, 1);
  CHECK_TENSOR(tg_slice(m, 1, 1, TG_END, (int64_t)1 << 62), second, 0, 2, 1);
  CHECK_TENSOR(tg_slice(m, 1, 5, TG_END, INT64_MAX), NULL, 0, 2, 0);
  CHECK_TENSOR(tg_slice(m, -1, -1, 0, -INT64_MAX), last, 0, 2, 1);
  /* ordinary steps are unchanged: arange(7)[::3] and [::-3] */
  tg_tensor *v = tg_arange(0, 7, 1, TG_FLOAT32);
  CHECK_TENSOR(tg_slice(v, 0, 0, TG_END, 3), every, 0, 3);
  static const float back[3] = {6, 3, 0};
  CHECK_TENSOR(tg_slice(v, 0, TG_END, TG_END, -3), back, 0, 3);
  tg_scope_end();
}

/* PyTorch: "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions"; here an error that
 * names the empty axis (it divided by zero inside the library). An empty batch is fine: the result is empty. */
TEST(test_edge_adaptive_pool_empty_axis) {
  tg_scope_begin();
  tg_tensor *h0 = tg_zeros(TG_FLOAT32, TG_SHAPE(1, 2, 0, 4)), *w0 = tg_zeros(TG_FLOAT32, TG_SHAPE(1, 2, 4, 0));
  CHECK_FAILS2(tg_adaptive_avg_pool2d(h0, 2, 2), "tg_adaptive_avg_pool2d", "axis 2 (H)");
  CHECK_FAILS2(tg_adaptive_avg_pool2d(w0, 2, 2), "tg_adaptive_avg_pool2d", "axis 3 (W)");
  CHECK_FAILS2(tg_adaptive_avg_pool2d(h0, 3, 1), "tg_adaptive_avg_pool2d", "is empty");
  tg_tensor *nb = tg_adaptive_avg_pool2d(tg_zeros(TG_FLOAT32, TG_SHAPE(0, 2, 4, 4)), 2, 2);
  CHECK_TENSOR(nb, NULL, 0, 0, 2, 2, 2);
  static const float x[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static const float avg[4] = {2.5f, 4.5f, 10.5f, 12.5f};
  CHECK_TENSOR(tg_adaptive_avg_pool2d(TEST_F32(x, 1, 1, 4, 4), 2, 2), avg, 1e-6, 1, 1, 2, 2);
  tg_scope_end();
}

/* numpy: "attempt to get argmax of an empty sequence"; PyTorch: "Expected reduction dim 0 to have non-zero size".
 * It returned INT32_MIN without an error. Reducing a non-empty axis of an empty tensor is fine. */
TEST(test_edge_argmax_empty) {
  tg_scope_begin();
  tg_tensor *e = tg_zeros(TG_FLOAT32, TG_SHAPE(0)), *e2 = tg_zeros(TG_INT32, TG_SHAPE(3, 0));
  CHECK_FAILS2(tg_argmax(e, 0, 0), "tg_argmax", "axis 0 of (0,) is empty");
  CHECK_FAILS2(tg_argmin(e, 0, 1), "tg_argmin", "no minimum");
  CHECK_FAILS2(tg_argmax(e2, 1, 0), "tg_argmax", "axis 1 of (3, 0) is empty");
  CHECK_FAILS2(tg_argmin(e2, -1, 0), "tg_argmin", "axis 1");
  tg_tensor *r = tg_argmax(e2, 0, 0); /* (3, 0) over axis 0: shape (0,) */
  CHECK_NOT_NULL(r);
  CHECK_EQ_INT(r ? tg_ndim(r) : -1, 1);
  CHECK_EQ_INT(r ? tg_dim(r, 0) : -1, 0);
  static const int32_t want[2] = {2, 2};
  CHECK_RAW(tg_argmax(TEST_F32(g_m6, 2, 3), 1, 0), TG_INT32, want, 2); /* rows 0..2 and 3..5: the last */
  static const int32_t want_min[2] = {0, 0};
  CHECK_RAW(tg_argmin(TEST_F32(g_m6, 2, 3), 1, 0), TG_INT32, want_min, 2);
  tg_scope_end();
}

/* naxes < 0 was taken as "no axis" (a sum returned its input); an axis given twice summed once. Both are errors, as
 * PyTorch's "dim 0 appears multiple times in the list of dims" */
TEST(test_edge_axes_lists) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_m6, 2, 3);
  static const int one[1] = {0};
  CHECK_FAILS2(tg_sum(m, -1, one, 0), "tg_sum", "naxes is -1");
  CHECK_FAILS2(tg_max(m, -2, one, 1), "tg_max", "cannot be negative");
  CHECK_FAILS2(tg_mean(m, -1, NULL, 0), "tg_mean", "naxes is -1");
  CHECK_FAILS2(tg_var(m, -1, one, 0, 1), "tg_var", "naxes is -1");
  CHECK_FAILS2(tg_flip(m, -1, one), "tg_flip", "naxes is -1");
  CHECK_FAILS2(tg_sum(m, 2, NULL, 0), "tg_sum", "axes is NULL");
  CHECK_FAILS2(tg_sum(m, TG_AXES(0, 0), 0), "tg_sum", "dim 0 appears multiple times");
  CHECK_FAILS2(tg_sum(m, TG_AXES(1, -1), 0), "tg_sum", "dim 1 appears multiple times"); /* -1 is 1 */
  CHECK_FAILS2(tg_prod(m, TG_AXES(0, -2), 1), "tg_prod", "dim 0 appears multiple times");
  CHECK_FAILS2(tg_min(m, TG_AXES(1, 1), 0), "tg_min", "appears multiple times");
  CHECK_FAILS2(tg_std(m, TG_AXES(0, 1, 0), 0, 1), "tg_std", "appears multiple times");
  CHECK_FAILS2(tg_any(m, TG_AXES(1, 1), 0), "tg_any", "appears multiple times");
  CHECK_FAILS2(tg_flip(m, TG_AXES(1, -1)), "tg_flip", "dim 1 appears multiple times");
  CHECK_FAILS2(tg_permute(m, TG_AXES(1, 1)), "tg_permute", "appears twice"); /* already an error */
  /* the valid forms still work: sum over both axes, flip of both, flip of none */
  tg_clear_error();
  CHECK_NEAR(tg_item(tg_sum(m, TG_AXES(0, 1), 0)), 15, 0);
  static const float flipped[6] = {5, 4, 3, 2, 1, 0};
  CHECK_TENSOR(tg_flip(m, TG_AXES(0, -1)), flipped, 0, 2, 3);
  CHECK_TENSOR(tg_flip(m, 0, NULL), g_m6, 0, 2, 3);
  tg_scope_end();
}
