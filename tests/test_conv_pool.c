/* test_conv_pool.c: tg_conv, tg_conv_transpose, tg_max_pool, tg_avg_pool and tg_max_unpool, with tinygrad's per-axis
 * options (1-d, 2-d and 3-d; per-axis stride, dilation and padding, the flat (left, right, top, bottom) padding,
 * negative padding, rectangular kernels, groups, output_padding; ceil_mode, count_include_pad=False, return_indices)
 * against the real tinygrad (tests/golden/gen_nn.py, sections conv_nd and pool_nd): values and the gradients of
 * sum(out * G), and the errors for bad options. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#include "golden/golden_nn.h"

#define TOL 1e-5
#define GRAD_TOL 2e-5

static tg_tensor *cp_param(tg_tensor *t) { return tg_requires_grad(t, 1); }

// ---------------------------------------------------------------------------------------------------------------------
// convolutions

TEST(test_conv_1d_options) {
  tg_scope_begin();
  tg_tensor *x = cp_param(TEST_F32(g_nn_convnd_x1, 2, 4, 11)), *w = cp_param(TEST_F32(g_nn_convnd_w1, 6, 2, 3));
  tg_tensor *b = cp_param(TEST_F32(g_nn_convnd_b1, 6));
  /* tinygrad: conv2d(w, b, groups=2, stride=3, dilation=2, padding=(1, 2)): (left, right) of the one axis */
  tg_conv_opts o = {.groups = 2, .nstride = 1, .stride = {3}, .ndilation = 1, .dilation = {2}, .npadding = 2,
                    .padding = {1, 2}};
  tg_tensor *y = tg_conv(x, w, b, &o);
  CHECK_TENSOR(y, g_nn_convnd_c1, TOL, 2, 6, 4);
  tg_backward(test_weighted(y));
  CHECK_TENSOR(tg_grad(x), g_nn_convnd_c1_dx, GRAD_TOL, 2, 4, 11);
  CHECK_TENSOR(tg_grad(w), g_nn_convnd_c1_dw, GRAD_TOL, 6, 2, 3);
  CHECK_TENSOR(tg_grad(b), g_nn_convnd_c1_db, GRAD_TOL, 6);
  tg_scope_end();
}

TEST(test_conv_2d_options) {
  tg_scope_begin();
  tg_tensor *x = cp_param(TEST_F32(g_nn_convnd_x2, 2, 3, 7, 8)), *w = cp_param(TEST_F32(g_nn_convnd_w2, 4, 3, 2, 3));
  tg_tensor *b = cp_param(TEST_F32(g_nn_convnd_b2, 4));
  /* stride (2, 1), dilation (1, 2), padding (left 1, right 0, top 2, bottom 1), a 2x3 kernel */
  tg_conv_opts o = {.nstride = 2, .stride = {2, 1}, .ndilation = 2, .dilation = {1, 2}, .npadding = 4,
                    .padding = {1, 0, 2, 1}};
  tg_tensor *y = tg_conv(x, w, b, &o);
  CHECK_TENSOR(y, g_nn_convnd_c2, TOL, 2, 4, 5, 5);
  tg_backward(test_weighted(y));
  CHECK_TENSOR(tg_grad(x), g_nn_convnd_c2_dx, GRAD_TOL, 2, 3, 7, 8);
  CHECK_TENSOR(tg_grad(w), g_nn_convnd_c2_dw, GRAD_TOL, 4, 3, 2, 3);
  CHECK_TENSOR(tg_grad(b), g_nn_convnd_c2_db, GRAD_TOL, 4);
  /* padding (2, 1): one value per axis, both sides */
  tg_tensor *w2 = TEST_F32(g_nn_convnd_w2s, 2, 3, 3, 2), *x2 = TEST_F32(g_nn_convnd_x2, 2, 3, 7, 8);
  tg_conv_opts sym = {.nstride = 2, .stride = {1, 2}, .npadding = 2, .padding = {2, 1}};
  CHECK_TENSOR(tg_conv(x2, w2, NULL, &sym), g_nn_convnd_c2sym, TOL, 2, 2, 9, 5);
  /* negative padding crops: left -1, right 1, top 0, bottom -2 */
  tg_tensor *xg = cp_param(TEST_F32(g_nn_convnd_x2, 2, 3, 7, 8)), *wg = cp_param(TEST_F32(g_nn_convnd_w2s, 2, 3, 3, 2));
  tg_conv_opts neg = {.npadding = 4, .padding = {-1, 1, 0, -2}};
  tg_tensor *yn = tg_conv(xg, wg, NULL, &neg);
  CHECK_TENSOR(yn, g_nn_convnd_c2neg, TOL, 2, 2, 3, 7);
  tg_backward(test_weighted(yn));
  CHECK_TENSOR(tg_grad(xg), g_nn_convnd_c2neg_dx, GRAD_TOL, 2, 3, 7, 8);
  CHECK_TENSOR(tg_grad(wg), g_nn_convnd_c2neg_dw, GRAD_TOL, 2, 3, 3, 2);
  /* defaults (NULL options) are tg_conv2d's stride 1, padding 0 */
  tg_tensor *a = tg_conv(x2, w2, NULL, NULL), *c = tg_conv2d(x2, w2, NULL, 1, 0, 1, 1);
  CHECK_SHAPE(a, 2, 2, 5, 7);
  float *va = tg_to_float(a), *vc = tg_to_float(c);
  CHECK(va && vc && memcmp(va, vc, sizeof(float) * 2 * 2 * 5 * 7) == 0);
  free(va), free(vc);
  tg_scope_end();
}

TEST(test_conv_3d) {
  tg_scope_begin();
  tg_tensor *x = cp_param(TEST_F32(g_nn_convnd_x3, 1, 2, 5, 6, 4));
  tg_tensor *w = cp_param(TEST_F32(g_nn_convnd_w3, 3, 2, 2, 3, 2)), *b = cp_param(TEST_F32(g_nn_convnd_b3, 3));
  /* padding (left 0, right 1, top 1, bottom 0, front 1, back 1): the last axis first */
  tg_conv_opts o = {.nstride = 3, .stride = {1, 2, 1}, .ndilation = 3, .dilation = {2, 1, 1}, .npadding = 6,
                    .padding = {0, 1, 1, 0, 1, 1}};
  tg_tensor *y = tg_conv(x, w, b, &o);
  CHECK_TENSOR(y, g_nn_convnd_c3, TOL, 1, 3, 5, 3, 4);
  tg_backward(test_weighted(y));
  CHECK_TENSOR(tg_grad(x), g_nn_convnd_c3_dx, GRAD_TOL, 1, 2, 5, 6, 4);
  CHECK_TENSOR(tg_grad(w), g_nn_convnd_c3_dw, GRAD_TOL, 3, 2, 2, 3, 2);
  CHECK_TENSOR(tg_grad(b), g_nn_convnd_c3_db, GRAD_TOL, 3);
  tg_scope_end();
}

/* over 4 axes (the most, TG_MAX_CONV_DIMS): ones against ones count the window's elements inside the input */
TEST(test_conv_4d_closed_form) {
  tg_scope_begin();
  tg_tensor *x = tg_ones(TG_FLOAT32, TG_SHAPE(1, 2, 3, 3, 3, 3)), *w = tg_ones(TG_FLOAT32, TG_SHAPE(1, 2, 2, 2, 2, 2));
  tg_conv_opts o = {.npadding = 1, .padding = {1}, .nstride = 1, .stride = {2}};
  tg_tensor *y = tg_conv(x, w, NULL, &o); /* each axis: windows [-1, 0] and [1, 2]: 1 and 2 elements inside */
  float want[16];
  for (int i = 0; i < 16; i++) {
    float v = 2; /* the channels */
    for (int a = 0; a < 4; a++) v *= (i >> (3 - a)) & 1 ? 2 : 1;
    want[i] = v;
  }
  CHECK_TENSOR(y, want, 0, 1, 1, 2, 2, 2, 2);
  tg_tensor *w5 = tg_ones(TG_FLOAT32, TG_SHAPE(1, 1, 1, 1, 1, 1, 1));
  CHECK_FAILS2(tg_conv(tg_ones(TG_FLOAT32, TG_SHAPE(1, 1, 1, 1, 1, 1, 1)), w5, NULL, NULL), "tg_conv", "1 to 4");
  tg_scope_end();
}

TEST(test_conv_transpose_options) {
  tg_scope_begin();
  tg_tensor *x = cp_param(TEST_F32(g_nn_convnd_xt1, 2, 4, 5)), *w = cp_param(TEST_F32(g_nn_convnd_wt1, 4, 3, 3));
  tg_tensor *b = cp_param(TEST_F32(g_nn_convnd_bt1, 6));
  tg_conv_opts o1 = {.groups = 2, .nstride = 1, .stride = {2}, .npadding = 2, .padding = {1, 0},
                     .noutput_padding = 1, .output_padding = {1}};
  tg_tensor *y = tg_conv_transpose(x, w, b, &o1);
  CHECK_TENSOR(y, g_nn_convnd_t1, TOL, 2, 6, 11);
  tg_backward(test_weighted(y));
  CHECK_TENSOR(tg_grad(x), g_nn_convnd_t1_dx, GRAD_TOL, 2, 4, 5);
  CHECK_TENSOR(tg_grad(w), g_nn_convnd_t1_dw, GRAD_TOL, 4, 3, 3);
  CHECK_TENSOR(tg_grad(b), g_nn_convnd_t1_db, GRAD_TOL, 6);
  tg_tensor *x2 = cp_param(TEST_F32(g_nn_convnd_xt2, 1, 2, 4, 3));
  tg_tensor *w2 = cp_param(TEST_F32(g_nn_convnd_wt2, 2, 3, 2, 3));
  tg_conv_opts o2 = {.nstride = 2, .stride = {2, 3}, .ndilation = 2, .dilation = {1, 2}, .npadding = 4,
                     .padding = {1, 0, 0, 1}, .noutput_padding = 2, .output_padding = {1, 0}};
  tg_tensor *y2 = tg_conv_transpose(x2, w2, NULL, &o2);
  CHECK_TENSOR(y2, g_nn_convnd_t2, TOL, 1, 3, 8, 10);
  tg_backward(test_weighted(y2));
  CHECK_TENSOR(tg_grad(x2), g_nn_convnd_t2_dx, GRAD_TOL, 1, 2, 4, 3);
  CHECK_TENSOR(tg_grad(w2), g_nn_convnd_t2_dw, GRAD_TOL, 2, 3, 2, 3);
  tg_tensor *x3 = cp_param(TEST_F32(g_nn_convnd_xt3, 1, 2, 3, 4, 3));
  tg_tensor *w3 = cp_param(TEST_F32(g_nn_convnd_wt3, 2, 2, 2, 3, 2));
  tg_conv_opts o3 = {.nstride = 3, .stride = {2, 1, 2}, .npadding = 1, .padding = {1}, .noutput_padding = 3,
                     .output_padding = {1, 0, 0}};
  tg_tensor *y3 = tg_conv_transpose(x3, w3, NULL, &o3);
  CHECK_TENSOR(y3, g_nn_convnd_t3, TOL, 1, 2, 5, 4, 4);
  tg_backward(test_weighted(y3));
  CHECK_TENSOR(tg_grad(x3), g_nn_convnd_t3_dx, GRAD_TOL, 1, 2, 3, 4, 3);
  CHECK_TENSOR(tg_grad(w3), g_nn_convnd_t3_dw, GRAD_TOL, 2, 2, 2, 3, 2);
  tg_scope_end();
}

TEST(test_conv_errors) {
  tg_scope_begin();
  tg_tensor *x = tg_ones(TG_FLOAT32, TG_SHAPE(1, 2, 5, 5)), *w = tg_ones(TG_FLOAT32, TG_SHAPE(3, 2, 3, 3));
  tg_conv_opts o = {.nstride = 3, .stride = {1, 1, 1}};
  CHECK_FAILS2(tg_conv(x, w, NULL, &o), "tg_conv", "3 values of stride for 2 axes");
  tg_conv_opts p = {.npadding = 3, .padding = {1, 1, 1}};
  CHECK_FAILS2(tg_conv(x, w, NULL, &p), "tg_conv", "3 padding values for 2 axes");
  tg_conv_opts z = {.nstride = 1, .stride = {0}};
  CHECK_FAILS2(tg_conv(x, w, NULL, &z), "tg_conv", "strides and dilations at least 1");
  tg_conv_opts crop = {.npadding = 4, .padding = {0, 0, -2, -1}}; /* 5 - 3 rows left: the 3-row kernel does not fit */
  CHECK_FAILS2(tg_conv(x, w, NULL, &crop), "tg_conv", "larger than the input");
  tg_conv_opts op = {.noutput_padding = 1, .output_padding = {1}};
  CHECK_FAILS2(tg_conv(x, w, NULL, &op), "tg_conv", "output_padding");
  CHECK_FAILS2(tg_conv(x, tg_ones(TG_FLOAT32, TG_SHAPE(3, 2)), NULL, NULL), "tg_conv", "1 to 4 kernel axes");
  CHECK_FAILS2(tg_conv(x, tg_ones(TG_FLOAT32, TG_SHAPE(3, 2, 3)), NULL, NULL), "tg_conv", "do not fit");
  tg_conv_opts g = {.groups = 2};
  CHECK_FAILS2(tg_conv(x, w, NULL, &g), "tg_conv", "do not fit"); /* 2 channels, 2 groups of 2 */
  CHECK_FAILS2(tg_conv(NULL, w, NULL, NULL), "tg_conv", "NULL");
  CHECK_FAILS2(tg_conv(x, w, tg_ones(TG_FLOAT32, TG_SHAPE(2)), NULL), "tg_conv", "bias");
  tg_conv_opts big = {.noutput_padding = 1, .output_padding = {2}, .nstride = 1, .stride = {2}};
  CHECK_FAILS2(tg_conv_transpose(tg_ones(TG_FLOAT32, TG_SHAPE(1, 3, 4, 4)), w, NULL, &big), "tg_conv_transpose",
               "output_padding smaller than the stride");
  CHECK_FAILS2(tg_conv_transpose(x, w, NULL, NULL), "tg_conv_transpose", "do not fit"); /* Cin is w's axis 0 */
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// pooling

/* pooling x with o (max or avg) against tinygrad: values, and the gradient of sum(out * G) */
static void cp_pool_case(const float *xs, int xnd, const int64_t *xshape, const tg_pool_opts *o, int avg,
                         const float *want, int ond, const int64_t *oshape, const float *want_dx, const char *name) {
  tg_scope_begin();
  tg_tensor *x = cp_param(tg_from_float(xs, xnd, xshape));
  tg_tensor *y = avg ? tg_avg_pool(x, o) : tg_max_pool(x, o, NULL);
  if (!test_tensor_near(y, want, ond, oshape, TOL, name, "tinygrad", __FILE__, __LINE__)) {
    tg_scope_end();
    return;
  }
  tg_backward(test_weighted(y));
  test_tensor_near(tg_grad(x), want_dx, xnd, xshape, GRAD_TOL, name, "tinygrad's gradient", __FILE__, __LINE__);
  tg_scope_end();
}

#define CP_X TG_SHAPE(2, 3, 7, 6)

TEST(test_pool_options_2d) {
  tg_pool_opts rect = {.nkernel = 2, .kernel = {3, 2}, .nstride = 2, .stride = {2, 1}, .ndilation = 2,
                       .dilation = {1, 2}, .npadding = 2, .padding = {1, 0}};
  cp_pool_case(g_nn_poolnd_x, CP_X, &rect, 0, g_nn_poolnd_m_rect, TG_SHAPE(2, 3, 4, 4), g_nn_poolnd_m_rect_dx, "rect");
  tg_pool_opts pad4 = {.nkernel = 2, .kernel = {2, 3}, .npadding = 4, .padding = {1, 0, 0, 1}};
  cp_pool_case(g_nn_poolnd_x, CP_X, &pad4, 0, g_nn_poolnd_m_pad4, TG_SHAPE(2, 3, 4, 2), g_nn_poolnd_m_pad4_dx, "pad4");
  tg_pool_opts ceil = {.nkernel = 2, .kernel = {3, 3}, .nstride = 1, .stride = {2}, .npadding = 1, .padding = {1},
                       .ceil_mode = 1};
  cp_pool_case(g_nn_poolnd_x, CP_X, &ceil, 0, g_nn_poolnd_m_ceil, TG_SHAPE(2, 3, 4, 4), g_nn_poolnd_m_ceil_dx, "ceil");
  tg_pool_opts ceil2 = {.nkernel = 2, .kernel = {2, 4}, .nstride = 2, .stride = {3, 3}, .ceil_mode = 1};
  cp_pool_case(g_nn_poolnd_x, CP_X, &ceil2, 0, g_nn_poolnd_m_ceil2, TG_SHAPE(2, 3, 3, 2), g_nn_poolnd_m_ceil2_dx,
               "ceil2");
  tg_pool_opts aceil = {.nkernel = 2, .kernel = {3, 2}, .nstride = 1, .stride = {2}, .ceil_mode = 1};
  cp_pool_case(g_nn_poolnd_x, CP_X, &aceil, 1, g_nn_poolnd_a_ceil, TG_SHAPE(2, 3, 3, 3), g_nn_poolnd_a_ceil_dx,
               "avg ceil");
  aceil.exclude_pad = 1;
  cp_pool_case(g_nn_poolnd_x, CP_X, &aceil, 1, g_nn_poolnd_a_ceil_x, TG_SHAPE(2, 3, 3, 3), g_nn_poolnd_a_ceil_x_dx,
               "avg ceil exclude_pad");
  tg_pool_opts excl = {.nkernel = 2, .kernel = {3, 3}, .nstride = 1, .stride = {2}, .npadding = 1, .padding = {1},
                       .exclude_pad = 1};
  cp_pool_case(g_nn_poolnd_x, CP_X, &excl, 1, g_nn_poolnd_a_excl, TG_SHAPE(2, 3, 4, 3), g_nn_poolnd_a_excl_dx,
               "avg exclude_pad");
  tg_pool_opts ceilp = {.nkernel = 2, .kernel = {3, 3}, .nstride = 1, .stride = {2}, .npadding = 1, .padding = {1},
                        .ceil_mode = 1};
  cp_pool_case(g_nn_poolnd_x, CP_X, &ceilp, 1, g_nn_poolnd_a_ceil_p, TG_SHAPE(2, 3, 4, 4), g_nn_poolnd_a_ceil_p_dx,
               "avg ceil padded");
  tg_pool_opts apad4 = {.nkernel = 2, .kernel = {2, 2}, .nstride = 2, .stride = {1, 2}, .npadding = 4,
                        .padding = {0, 1, 1, 1}, .exclude_pad = 1};
  cp_pool_case(g_nn_poolnd_x, CP_X, &apad4, 1, g_nn_poolnd_a_pad4, TG_SHAPE(2, 3, 8, 3), g_nn_poolnd_a_pad4_dx,
               "avg pad4");
}

TEST(test_pool_1d_3d) {
  tg_pool_opts m1 = {.nkernel = 1, .kernel = {3}, .nstride = 1, .stride = {2}, .ceil_mode = 1};
  cp_pool_case(g_nn_poolnd_x1, TG_SHAPE(2, 3, 10), &m1, 0, g_nn_poolnd_m1, TG_SHAPE(2, 3, 5), g_nn_poolnd_m1_dx, "m1");
  tg_pool_opts a1 = {.nkernel = 1, .kernel = {4}, .nstride = 1, .stride = {3}, .npadding = 1, .padding = {1},
                     .exclude_pad = 1};
  cp_pool_case(g_nn_poolnd_x1, TG_SHAPE(2, 3, 10), &a1, 1, g_nn_poolnd_a1, TG_SHAPE(2, 3, 3), g_nn_poolnd_a1_dx, "a1");
  tg_pool_opts a3 = {.nkernel = 3, .kernel = {2, 3, 2}, .nstride = 3, .stride = {2, 2, 1}, .npadding = 1,
                     .padding = {1}, .exclude_pad = 1};
  cp_pool_case(g_nn_poolnd_x3, TG_SHAPE(1, 2, 5, 6, 4), &a3, 1, g_nn_poolnd_a3, TG_SHAPE(1, 2, 3, 3, 5),
               g_nn_poolnd_a3_dx, "a3");
  tg_pool_opts m3 = {.nkernel = 3, .kernel = {2, 2, 3}, .nstride = 3, .stride = {1, 2, 2}, .npadding = 6,
                     .padding = {0, 1, 1, 0, 1, 0}};
  cp_pool_case(g_nn_poolnd_x3, TG_SHAPE(1, 2, 5, 6, 4), &m3, 0, g_nn_poolnd_m3, TG_SHAPE(1, 2, 5, 3, 2),
               g_nn_poolnd_m3_dx, "m3");
  /* integers: max keeps int32 (the padding is int32's lowest), avg is float32 */
  tg_scope_begin();
  tg_tensor *xi = TEST_DATA(g_nn_poolnd_xi, TG_INT32, 1, 1, 7, 6);
  tg_pool_opts c = {.nkernel = 2, .kernel = {3, 3}, .nstride = 1, .stride = {2}, .npadding = 1, .padding = {1},
                    .ceil_mode = 1};
  CHECK_RAW(tg_max_pool(xi, &c, NULL), TG_INT32, g_nn_poolnd_xi_mceil, 1, 1, 4, 4);
  c.ceil_mode = 0, c.exclude_pad = 1;
  tg_tensor *a = tg_avg_pool(xi, &c);
  CHECK_DTYPE(a, TG_FLOAT32);
  CHECK_TENSOR(a, g_nn_poolnd_xi_aexcl, TOL, 1, 1, 4, 3);
  /* the defaults: 2 x 2 windows, stride 2, over the last two axes (tinygrad's max_pool2d()) */
  tg_tensor *x = TEST_F32(g_nn_poolnd_x, 2, 3, 7, 6);
  float *d = tg_to_float(tg_max_pool(x, NULL, NULL)), *e = tg_to_float(tg_max_pool2d(x, 2, 0, 0, 1));
  CHECK(d && e && memcmp(d, e, sizeof(float) * 2 * 3 * 3 * 3) == 0);
  free(d), free(e);
  tg_scope_end();
}

TEST(test_pool_indices_unpool) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_nn_poolnd_x, 2, 3, 7, 6), *xt = TEST_F32(g_nn_poolnd_xt, 1, 2, 5, 5), *idx = NULL;
  tg_pool_opts k2 = {.nkernel = 2, .kernel = {2, 2}};
  tg_tensor *v = tg_max_pool(x, &k2, &idx);
  CHECK_TENSOR(v, g_nn_poolnd_i2_v, TOL, 2, 3, 3, 3);
  CHECK_RAW(idx, TG_INT32, g_nn_poolnd_i2_i, 2, 3, 3, 3);
  tg_tensor *vg = cp_param(TEST_F32(g_nn_poolnd_i2_v, 2, 3, 3, 3));
  tg_tensor *u = tg_max_unpool(vg, idx, &k2, 0, NULL);
  CHECK_TENSOR(u, g_nn_poolnd_u2, TOL, 2, 3, 6, 6);
  tg_backward(test_weighted(u));
  CHECK_TENSOR(tg_grad(vg), g_nn_poolnd_u2_dx, GRAD_TOL, 2, 3, 3, 3);
  tg_pool_opts k3 = {.nkernel = 2, .kernel = {3, 3}, .nstride = 1, .stride = {2}, .npadding = 1, .padding = {1}};
  v = tg_max_pool(x, &k3, &idx);
  CHECK_TENSOR(v, g_nn_poolnd_i3p_v, TOL, 2, 3, 4, 3);
  CHECK_RAW(idx, TG_INT32, g_nn_poolnd_i3p_i, 2, 3, 4, 3);
  CHECK_TENSOR(tg_max_unpool(v, idx, &k3, 0, NULL), g_nn_poolnd_u3p, TOL, 2, 3, 7, 5);
  CHECK_TENSOR(tg_max_unpool(v, idx, &k3, 4, (const int64_t[]){2, 3, 8, 7}),
               g_nn_poolnd_u3p_big, TOL, 2, 3, 8, 7);
  tg_pool_opts t = {.nkernel = 2, .kernel = {2, 2}, .nstride = 1, .stride = {1}}; /* ties: the first position wins */
  v = tg_max_pool(xt, &t, &idx);
  CHECK_TENSOR(v, g_nn_poolnd_it_v, TOL, 1, 2, 4, 4);
  CHECK_RAW(idx, TG_INT32, g_nn_poolnd_it_i, 1, 2, 4, 4);
  tg_pool_opts c = {.nkernel = 2, .kernel = {3, 2}, .nstride = 1, .stride = {2}, .ceil_mode = 1};
  v = tg_max_pool(x, &c, &idx);
  CHECK_TENSOR(v, g_nn_poolnd_ic_v, TOL, 2, 3, 3, 3);
  CHECK_RAW(idx, TG_INT32, g_nn_poolnd_ic_i, 2, 3, 3, 3);
  tg_tensor *x1 = TEST_F32(g_nn_poolnd_x1, 2, 3, 10);
  tg_pool_opts one = {.nkernel = 1, .kernel = {3}, .nstride = 1, .stride = {2}};
  v = tg_max_pool(x1, &one, &idx);
  CHECK_TENSOR(v, g_nn_poolnd_i1_v, TOL, 2, 3, 4);
  CHECK_RAW(idx, TG_INT32, g_nn_poolnd_i1_i, 2, 3, 4);
  CHECK_TENSOR(tg_max_unpool(v, idx, &one, 0, NULL), g_nn_poolnd_u1, TOL, 2, 3, 9); /* a repeated index sums */
  tg_scope_end();
}

TEST(test_pool_errors) {
  tg_scope_begin();
  tg_tensor *x = tg_ones(TG_FLOAT32, TG_SHAPE(1, 2, 5, 5)), *idx = NULL;
  tg_pool_opts many = {.nkernel = 5, .kernel = {2, 2, 2, 2, 2}};
  CHECK_FAILS2(tg_max_pool(x, &many, &idx), "tg_max_pool", "5 pooled axes");
  CHECK(idx == NULL);
  tg_pool_opts s = {.nkernel = 2, .kernel = {2, 2}, .nstride = 3, .stride = {1, 1, 1}};
  CHECK_FAILS2(tg_avg_pool(x, &s), "tg_avg_pool", "3 values of stride for 2 axes");
  tg_pool_opts k0 = {.nkernel = 2, .kernel = {0, 2}};
  CHECK_FAILS2(tg_avg_pool(x, &k0), "tg_avg_pool", "kernel 0");
  tg_pool_opts wide = {.nkernel = 2, .kernel = {6, 2}};
  CHECK_FAILS2(tg_max_pool(x, &wide, NULL), "tg_max_pool", "spans more than the input");
  tg_pool_opts p5 = {.npadding = 5, .padding = {1, 1, 1, 1, 1}};
  CHECK_FAILS2(tg_max_pool(x, &p5, NULL), "tg_max_pool", "5 padding values for 2 axes");
  CHECK_FAILS2(tg_max_pool(NULL, NULL, &idx), "tg_max_pool", "NULL");
  tg_tensor *v = tg_max_pool(x, NULL, &idx);
  CHECK_FAILS2(tg_max_unpool(v, tg_cast(idx, TG_FLOAT32), NULL, 0, NULL), "tg_max_unpool", "integer indices");
  CHECK_FAILS2(tg_max_unpool(v, tg_reshape(idx, TG_SHAPE(1, 2, 4)), NULL, 0, NULL), "tg_max_unpool", "indices");
  CHECK_FAILS2(tg_max_unpool(v, idx, NULL, 1, (const int64_t[]){4}), "tg_max_unpool", "at least 2 output sizes");
  tg_pool_opts one = {.nkernel = 1, .kernel = {2}};
  CHECK_FAILS2(tg_max_unpool(v, idx, &one, 0, NULL), "tg_max_unpool", "as many I axes as the kernel");
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// the layer

/* tinygrad's nn.Conv2d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1) and nn.ConvTranspose2d(2, 4, (3, 2), stride=2,
 * groups=2) after manual_seed(3): the same initial parameters (its random stream) and outputs */
TEST(test_conv_layer_nd) {
  tg_scope_begin();
  tg_manual_seed(3);
  tg_nn_conv c3, ct;
  tg_conv_opts o3 = {.nstride = 3, .stride = {1, 2, 1}, .npadding = 1, .padding = {1}};
  CHECK_EQ_INT(tg_nn_conv_init(&c3, 2, 4, 3, (const int64_t[]){2, 3, 2}, &o3, 0, 1), 0);
  CHECK_TENSOR(c3.weight, g_nn_convnd_l3_w, 1e-7, 4, 2, 2, 3, 2);
  CHECK_TENSOR(c3.bias, g_nn_convnd_l3_b, 1e-7, 4);
  tg_tensor *x3 = TEST_F32(g_nn_convnd_x3, 1, 2, 5, 6, 4);
  CHECK_TENSOR(tg_nn_conv_forward(&c3, x3), g_nn_convnd_l3_out, TOL, 1, 4, 6, 3, 5);
  tg_conv_opts ot = {.groups = 2, .nstride = 1, .stride = {2}};
  CHECK_EQ_INT(tg_nn_conv_init(&ct, 2, 4, 2, (const int64_t[]){3, 2}, &ot, 1, 1), 0);
  CHECK_TENSOR(ct.weight, g_nn_convnd_lt_w, 1e-7, 2, 2, 3, 2);
  CHECK_TENSOR(ct.bias, g_nn_convnd_lt_b, 1e-7, 4);
  CHECK_TENSOR(tg_nn_conv_forward(&ct, TEST_F32(g_nn_convnd_xt2, 1, 2, 4, 3)), g_nn_convnd_lt_out, TOL, 1, 4, 9, 6);
  /* its parameters under tinygrad's names */
  tg_state_dict *sd = tg_state_dict_new();
  CHECK_EQ_INT(tg_nn_conv_params(&c3, sd, "conv"), 0);
  CHECK(tg_state_dict_get(sd, "conv.weight") == c3.weight && tg_state_dict_get(sd, "conv.bias") == c3.bias);
  tg_state_dict_free(sd);
  /* errors: nothing is made */
  tg_nn_conv bad;
  tg_conv_opts op = {.noutput_padding = 1, .output_padding = {1}}, pd = {.npadding = 3, .padding = {1, 1, 1}};
  CHECK_EQ_INT(tg_nn_conv_init(&bad, 2, 4, 2, (const int64_t[]){3, 3}, &op, 0, 1), -1); /* output_padding: transposed */
  CHECK(bad.weight == NULL);
  CHECK_EQ_INT(tg_nn_conv_init(&bad, 2, 4, 2, (const int64_t[]){3, 3}, &pd, 0, 1), -1);
  CHECK_ERROR_HAS("3 padding values for 2 axes");
  CHECK_EQ_INT(tg_nn_conv_init(&bad, 3, 4, 2, (const int64_t[]){3, 3}, &ot, 0, 1), -1); /* groups 2 of 3 channels */
  CHECK_EQ_INT(tg_nn_conv_init(&bad, 2, 4, 5, (const int64_t[]){1, 1, 1, 1, 1}, NULL, 0, 1), -1);
  CHECK_FAILS2(tg_nn_conv_forward(&bad, TEST_F32(g_nn_convnd_xt2, 1, 2, 4, 3)), "tg_nn_conv_forward", "");
  CHECK_FAILS2(tg_nn_conv_forward(&c3, TEST_F32(g_nn_convnd_xt2, 1, 2, 4, 3)), "tg_nn_conv_forward", "tg_conv");
  tg_nn_conv_free(&c3);
  tg_nn_conv_free(&ct);
  tg_scope_end();
}
