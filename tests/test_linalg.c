/* test_linalg.c: matmul (odd sizes, broadcast batch dims, vector cases, ints), dot, linear with and without bias, and
 * conv2d (stride, padding, dilation, groups, bias) against numpy (float64 then float32). */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_LINALG
#include "golden/golden.h"

#define TOL 1e-5      /* sums of a few products in float32 */
#define CONV_TOL 1e-4 /* conv sums of up to 36 products */

TEST(test_la_matmul) {
  tg_scope_begin();
  tg_tensor *a = TEST_F32(g_la_a, 7, 13), *b = TEST_F32(g_la_b, 13, 5);
  CHECK_TENSOR(tg_matmul(a, b), g_la_ab, TOL, 7, 5);
  /* (2,1,3,4) @ (5,4,2): batch dims broadcast to (2,5) */
  CHECK_TENSOR(tg_matmul(TEST_F32(g_la_ba, 2, 1, 3, 4), TEST_F32(g_la_bb, 5, 4, 2)), g_la_babb, TOL, 2, 5, 3, 2);
  tg_tensor *v4 = TEST_F32(g_la_v4, 4), *m43 = TEST_F32(g_la_m43, 4, 3), *m34 = TEST_F32(g_la_m34, 3, 4);
  CHECK_TENSOR(tg_matmul(v4, m43), g_la_v4m43, TOL, 3);
  CHECK_TENSOR(tg_matmul(m34, v4), g_la_m34v4, TOL, 3);
  tg_tensor *v5 = TEST_F32(g_la_v5, 5);
  CHECK_TENSOR0(tg_matmul(v5, v5), g_la_v5v5[0], TOL);
  CHECK_TENSOR(tg_matmul(TEST_F32(g_la_b234, 2, 3, 4), v4), g_la_b234v4, TOL, 2, 3);
  CHECK_TENSOR(tg_matmul(m34, m43), g_la_m34m43, TOL, 3, 3);
  /* transposed operands (strided views) give the same result */
  tg_tensor *at = tg_contiguous(tg_transpose(a, 0, 1)), *bt = tg_contiguous(tg_transpose(b, 0, 1));
  CHECK_TENSOR(tg_matmul(tg_transpose(at, 0, 1), tg_transpose(bt, 0, 1)), g_la_ab, TOL, 7, 5);
  /* ints stay ints */
  tg_tensor *ia = TEST_DATA(g_la_ia, TG_INT32, 2, 3), *ib = TEST_DATA(g_la_ib, TG_INT32, 3, 2);
  CHECK_RAW(tg_matmul(ia, ib), TG_INT32, g_la_iaib, 2, 2);
  /* a 1x1 identity and a matmul with eye */
  CHECK_TENSOR(tg_matmul(a, tg_eye(13, 13, TG_FLOAT32)), g_la_a, 0, 7, 13);
  tg_scope_end();
}

TEST(test_la_dot_linear) {
  tg_scope_begin();
  tg_tensor *v4 = TEST_F32(g_la_v4, 4), *m43 = TEST_F32(g_la_m43, 4, 3), *m34 = TEST_F32(g_la_m34, 3, 4);
  CHECK_TENSOR(tg_dot(m34, m43), g_la_m34m43, TOL, 3, 3);
  CHECK_TENSOR(tg_dot(v4, m43), g_la_v4m43, TOL, 3);
  tg_tensor *v5 = TEST_F32(g_la_v5, 5);
  CHECK_TENSOR0(tg_dot(v5, v5), g_la_v5v5[0], TOL);
  tg_tensor *x = TEST_F32(g_la_lx, 2, 3, 4), *w = TEST_F32(g_la_lw, 5, 4), *b = TEST_F32(g_la_lb, 5);
  CHECK_TENSOR(tg_linear(x, w, b), g_la_linear, TOL, 2, 3, 5);
  CHECK_TENSOR(tg_linear(x, w, NULL), g_la_linear_nb, TOL, 2, 3, 5);
  /* tinygrad's functional order, weight (in, out): its Tensor.linear(w.T, b) gives the same (gen.py checks) */
  tg_tensor *wt = tg_contiguous(tg_transpose(w, 0, 1));
  CHECK_TENSOR(tg_linear_t(x, wt, b), g_la_linear, TOL, 2, 3, 5);
  CHECK_TENSOR(tg_linear_t(x, wt, NULL), g_la_linear_nb, TOL, 2, 3, 5);
  CHECK(tg_linear_t(x, b, NULL) == NULL && strstr(tg_error(), "(in, out)"));
  CHECK(tg_linear_t(x, w, NULL) == NULL); /* (5, 4): its 5 is not x's 4 */
  tg_scope_end();
}

TEST(test_la_conv2d) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_la_cx, 2, 4, 7, 6);
  tg_tensor *w = TEST_F32(g_la_cw, 6, 4, 3, 3), *wg = TEST_F32(g_la_cwg, 6, 2, 3, 3);
  tg_tensor *w1 = TEST_F32(g_la_cw1, 3, 4, 1, 1), *b = TEST_F32(g_la_cb, 6);
  /* output sizes: (H + 2p - d(k-1) - 1) / s + 1 */
  CHECK_TENSOR(tg_conv2d(x, w, b, 1, 0, 1, 1), g_la_conv_s1, CONV_TOL, 2, 6, 5, 4);
  CHECK_TENSOR(tg_conv2d(x, w, NULL, 2, 1, 1, 1), g_la_conv_s2p1, CONV_TOL, 2, 6, 4, 3);
  CHECK_TENSOR(tg_conv2d(x, w, b, 1, 2, 2, 1), g_la_conv_d2p2, CONV_TOL, 2, 6, 7, 6);
  CHECK_TENSOR(tg_conv2d(x, wg, b, 1, 1, 1, 2), g_la_conv_g2, CONV_TOL, 2, 6, 7, 6);
  CHECK_TENSOR(tg_conv2d(x, w1, NULL, 2, 0, 1, 1), g_la_conv_k1s2, CONV_TOL, 2, 3, 4, 3);
  CHECK_TENSOR(tg_conv2d(x, wg, b, 2, 1, 2, 2), g_la_conv_all, CONV_TOL, 2, 6, 3, 2);
  tg_scope_end();
}

/* larger integer-valued cases: they reach the optimiser's register tiles, with sizes that are not multiples of the
 * tile (37x65 output, 129-long reduction). Inputs are the formulas of golden.h; every result is exact. */
static float *test_formula(int64_t n, int mul, int mod, int off) {
  float *v = (float *)malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = (float)((i * mul) % mod - off);
  return v;
}

static float *test_i32_to_f32(const int32_t *v, int64_t n) {
  float *f = (float *)malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
  return f;
}

TEST(test_la_big) {
  tg_scope_begin();
  float *a = test_formula(37 * 129, 7, 11, 5), *b = test_formula(129 * 65, 5, 13, 6);
  float *want = test_i32_to_f32(g_la_big_mm, 37 * 65);
  tg_tensor *ta = TEST_F32(a, 37, 129), *tb = TEST_F32(b, 129, 65);
  CHECK_TENSOR(tg_matmul(ta, tb), want, 0, 37, 65);
  /* the same product from transposed storage: (B^T A^T)^T */
  tg_tensor *at = tg_contiguous(tg_transpose(ta, 0, 1)), *bt = tg_contiguous(tg_transpose(tb, 0, 1));
  CHECK_TENSOR(tg_transpose(tg_matmul(bt, at), 0, 1), want, 0, 37, 65);
  /* int32 inputs give the same, as int32 */
  tg_tensor *r32 = tg_matmul(tg_cast(ta, TG_INT32), tg_cast(tb, TG_INT32));
  CHECK_RAW(r32, TG_INT32, g_la_big_mm, 37, 65);
  free(a), free(b), free(want);

  float *bx = test_formula(3 * 5 * 9 * 17, 7, 11, 5), *by = test_formula(5 * 17 * 33, 5, 13, 6);
  want = test_i32_to_f32(g_la_big_bmm, 3 * 5 * 9 * 33);
  CHECK_TENSOR(tg_matmul(TEST_F32(bx, 3, 5, 9, 17), TEST_F32(by, 5, 17, 33)), want, 0, 3, 5, 9, 33);
  free(bx), free(by), free(want);

  float *cx = test_formula(2 * 3 * 17 * 19, 3, 17, 8), *cw = test_formula(8 * 3 * 5 * 5, 11, 7, 3);
  want = test_i32_to_f32(g_la_big_conv, 2 * 8 * 9 * 10);
  CHECK_TENSOR(tg_conv2d(TEST_F32(cx, 2, 3, 17, 19), TEST_F32(cw, 8, 3, 5, 5), NULL, 2, 2, 1, 1), want, 0, 2, 8, 9, 10);
  free(cx), free(cw), free(want);
  tg_scope_end();
}

/* float16 operands: the result stays float16 */
TEST(test_la_half) {
  tg_scope_begin();
  static const double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {0.5, -1, 2, 0.25, -3, 1};
  tg_tensor *r = tg_matmul(test_make(TG_FLOAT16, a, 2, 3), test_make(TG_FLOAT16, b, 3, 2));
  static const float want[4] = {-4.5f, 2.5f, -6.0f, 3.25f};
  CHECK_DTYPE(r, TG_FLOAT16);
  CHECK_TENSOR(r, want, 0, 2, 2);
  tg_scope_end();
}

/* einsum against numpy's (tinygrad agrees except on "iij->ji", where its result has the wrong shape) */
TEST(test_la_einsum) {
  tg_scope_begin();
  tg_tensor *a = TEST_F32(g_la_ea, 2, 3, 4), *b = TEST_F32(g_la_eb, 2, 4, 5), *c = TEST_F32(g_la_ec, 4, 4);
  tg_tensor *d = TEST_F32(g_la_ed, 3, 3, 2);
  tg_tensor *a0 = tg_select(a, 0, 0), *b0 = tg_select(b, 0, 0), *c0 = tg_select(c, 0, 0);
  tg_tensor *c13 = tg_slice(tg_select(c, 0, 1), 0, 0, 3, 1);
  CHECK_TENSOR(tg_einsum("bij,bjk->bik", (tg_tensor *[]){a, b}, 2), g_la_einsum_bmm, 1e-5, 2, 3, 5);
  CHECK_TENSOR(tg_einsum("ij,jk", (tg_tensor *[]){a0, b0}, 2), g_la_einsum_mm_implicit, 1e-5, 3, 5);
  CHECK_TENSOR0(tg_einsum("ii", &c, 1), g_la_einsum_trace[0], 1e-5);
  CHECK_TENSOR(tg_einsum("ii->i", &c, 1), g_la_einsum_diag, 0, 4);
  CHECK_TENSOR(tg_einsum(" i j -> j i ", &c, 1), g_la_einsum_transpose, 0, 4, 4);
  CHECK_TENSOR0(tg_einsum("bij->", &a, 1), g_la_einsum_sum_all[0], 1e-5);
  CHECK_TENSOR(tg_einsum("i,j->ij", (tg_tensor *[]){c0, c13}, 2), g_la_einsum_outer, 1e-6, 4, 3);
  CHECK_TENSOR(tg_einsum("...ij->...ji", &a, 1), g_la_einsum_ell, 0, 2, 4, 3);
  CHECK_TENSOR(tg_einsum("...ij,...jk->...ik", (tg_tensor *[]){a, b}, 2), g_la_einsum_ell_mm, 1e-5, 2, 3, 5);
  CHECK_TENSOR(tg_einsum("ij,jk,kl->il", (tg_tensor *[]){c, c, c}, 3), g_la_einsum_three, 1e-5, 4, 4);
  CHECK_TENSOR(tg_einsum("iij->ji", &d, 1), g_la_einsum_diag3, 0, 2, 3);
  CHECK_TENSOR(tg_einsum("ba,ac", (tg_tensor *[]){c, c}, 2), g_la_einsum_implicit_sorted, 1e-5, 4, 4);
  /* errors: operand count, ranks, sizes, output letters */
  CHECK(tg_einsum("ij,jk->ik", &a0, 1) == NULL && strstr(tg_error(), "2 operands, 1 given"));
  CHECK(tg_einsum("ijk->i", &c, 1) == NULL && strstr(tg_error(), "dimensions"));
  CHECK(tg_einsum("ij,jk->ik", (tg_tensor *[]){a0, a0}, 2) == NULL && strstr(tg_error(), "long"));
  CHECK(tg_einsum("ij->iz", &c, 1) == NULL && strstr(tg_error(), "no operand"));
  CHECK(tg_einsum("ij->ii", &c, 1) == NULL && strstr(tg_error(), "twice"));
  CHECK(tg_einsum(NULL, &c, 1) == NULL);
  tg_scope_end();
}
