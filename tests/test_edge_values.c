/* test_edge_values.c: the ops of tinygrad's API that issue 13 added, at the edges.
 *  - NaN and infinities (tests/golden/gen.py, section EDGE): tinygrad's values, except where tinygrad's formula makes
 *    inf - inf or 0 * inf of a limit that exists (relu6, hardsigmoid, hardswish at inf; logsigmoid at -inf; softsign at
 *    +-inf; atan at +-inf; fmod by inf; logaddexp, logsumexp and logcumsumexp with an infinite max), and where its
 *    max over a NaN depends on the loop's order: a NaN makes every max NaN here (numpy's, PyTorch's).
 *  - Empty tensors: each op on a (2, 0, 3) tensor gives tinygrad's shape (listed beside each case), realises without
 *    launching a kernel, and reflect padding of an empty axis is an error, as tinygrad's. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_EDGE
#include "golden/golden.h"

typedef tg_tensor *(*ev_unary)(tg_tensor *);

static tg_tensor *ev_celu1(tg_tensor *x) { return tg_celu(x, 1); }

TEST(test_edge_nan_inf_unary) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_edge_x, 8);
  struct { const char *name; ev_unary f; const float *want; } cs[] = {
      {"celu", ev_celu1, g_edge_celu},           {"selu", tg_selu, g_edge_selu},
      {"relu6", tg_relu6, g_edge_relu6},         {"hardsigmoid", tg_hardsigmoid, g_edge_hardsigmoid},
      {"hardswish", tg_hardswish, g_edge_hardswish}, {"logsigmoid", tg_logsigmoid, g_edge_logsigmoid},
      {"softsign", tg_softsign, g_edge_softsign}, {"sinh", tg_sinh, g_edge_sinh},
      {"cosh", tg_cosh, g_edge_cosh},             {"asin", tg_asin, g_edge_asin},
      {"acos", tg_acos, g_edge_acos},             {"atan", tg_atan, g_edge_atan},
      {"log10", tg_log10, g_edge_log10},          {"sign", tg_sign, g_edge_sign}};
  for (int i = 0; i < TEST_COUNT(cs); i++)
    if (!CHECK_TENSOR(cs[i].f(x), cs[i].want, 1e-6, 8)) printf("  %s\n", cs[i].name);
  CHECK_RAW(tg_isfinite(x), TG_BOOL, g_edge_isfinite, 8);
  tg_scope_end();
}

TEST(test_edge_nan_inf_binary) {
  tg_scope_begin();
  tg_tensor *a = TEST_F32(g_edge_a, 10), *b = TEST_F32(g_edge_b, 10);
  CHECK_TENSOR(tg_div_mode(a, b, TG_DIV_FLOOR), g_edge_floor, 0, 10);
  CHECK_TENSOR(tg_div_mode(a, b, TG_DIV_TRUNC), g_edge_trunc, 0, 10);
  CHECK_TENSOR(tg_fmod(a, b), g_edge_fmod, 1e-6, 10);
  CHECK_TENSOR(tg_copysign(a, b), g_edge_copysign, 0, 10);
  CHECK_TENSOR(tg_logaddexp(a, b), g_edge_logaddexp, 1e-6, 10);
  CHECK_TENSOR(tg_lerp_s(a, b, 0.25), g_edge_lerp, 1e-6, 10);
  tg_scope_end();
}

TEST(test_edge_nan_inf_reductions) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_edge_x2, 3, 3);
  CHECK_TENSOR(tg_cummax(x, 1), g_edge_cummax, 0, 3, 3);
  CHECK_TENSOR(tg_cummin(x, 1), g_edge_cummin, 0, 3, 3);
  CHECK_TENSOR(tg_logcumsumexp(x, 1), g_edge_lcse, 1e-6, 3, 3);
  CHECK_TENSOR(tg_logsumexp(x, 1, 0), g_edge_lse, 1e-6, 3);
  CHECK_TENSOR(tg_max(x, 1, (int[]){1}, 0), g_edge_max, 0, 3);
  /* a NaN anywhere in the loop: the same NaN, wherever it falls (tinygrad's (a > b) ? a : b keeps the last) */
  static const float tail[3] = {1, 3, NAN}, head[3] = {NAN, 1, 3};
  CHECK(isnan(tg_item(tg_max(TEST_F32(tail, 3), 0, NULL, 0))));
  CHECK(isnan(tg_item(tg_max(TEST_F32(head, 3), 0, NULL, 0))));
  float *m = tg_to_float(tg_maximum(TEST_F32(head, 3), TEST_F32(tail, 3)));
  CHECK(m && isnan(m[0]) && m[1] == 3 && isnan(m[2]));
  free(m);
  tg_scope_end();
}

/* every op on an empty (2, 0, 3) tensor: tinygrad's shape, and no kernel */
static int64_t ev_launches(tg_tensor *t) {
  int64_t before = tg_kernel_launches();
  return tg_realize(t) < 0 ? -1 : tg_kernel_launches() - before;
}

TEST(test_edge_empty_sweep) {
  tg_scope_begin();
  tg_tensor *e = tg_contiguous(tg_zeros(TG_FLOAT32, TG_SHAPE(2, 0, 3)));
  tg_realize(e);
  struct { const char *name; tg_tensor *t; int nd; int64_t shape[4]; } cs[] = {
      {"celu", tg_celu(e, 1), 3, {2, 0, 3}},
      {"selu", tg_selu(e), 3, {2, 0, 3}},
      {"relu6", tg_relu6(e), 3, {2, 0, 3}},
      {"logsigmoid", tg_logsigmoid(e), 3, {2, 0, 3}},
      {"softsign", tg_softsign(e), 3, {2, 0, 3}},
      {"asin", tg_asin(e), 3, {2, 0, 3}},
      {"isfinite", tg_isfinite(e), 3, {2, 0, 3}},
      {"gelu_erf", tg_gelu_erf(e), 3, {2, 0, 3}},
      {"div floor", tg_div_mode(e, e, TG_DIV_FLOOR), 3, {2, 0, 3}},
      {"fmod", tg_fmod(e, e), 3, {2, 0, 3}},
      {"copysign", tg_copysign(e, e), 3, {2, 0, 3}},
      {"logaddexp", tg_logaddexp(e, e), 3, {2, 0, 3}},
      {"lerp", tg_lerp_s(e, e, 0.5), 3, {2, 0, 3}},
      {"logcumsumexp 1", tg_logcumsumexp(e, 1), 3, {2, 0, 3}},
      {"logcumsumexp 2", tg_logcumsumexp(e, 2), 3, {2, 0, 3}},
      {"cummin 1", tg_cummin(e, 1), 3, {2, 0, 3}},
      {"cummax 2", tg_cummax(e, 2), 3, {2, 0, 3}},
      {"pad replicate", tg_pad_mode(e, 3, (const int64_t[]){0, 0, 0, 0, 1, 1}, TG_PAD_REPLICATE, 0), 3, {2, 0, 5}},
      {"pad circular", tg_pad_mode(e, 3, (const int64_t[]){0, 0, 0, 0, 1, 1}, TG_PAD_CIRCULAR, 0), 3, {2, 0, 5}},
      {"repeat_interleave", tg_repeat_interleave(e, 2, 1), 3, {2, 0, 3}},
      {"roll", tg_roll(e, 1, (const int64_t[]){1}, (const int[]){1}), 3, {2, 0, 3}},
      {"diagonal", tg_diagonal(e, 0, 0, 1), 2, {3, 0}},
      {"diag", tg_diag(tg_zeros(TG_FLOAT32, TG_SHAPE(0))), 2, {0, 0}},
      {"unfold", tg_unfold(e, 2, 2, 1), 4, {2, 0, 2, 2}},
      {"rearrange", tg_rearrange(e, "a b c -> c (a b)", 0, NULL, NULL), 2, {3, 0}},
      {"masked_fill", tg_masked_fill_s(e, tg_gt_s(e, 0), 1), 3, {2, 0, 3}},
      {"masked_select", tg_masked_select(e, tg_gt_s(e, 0)), 1, {0}},
      {"nonzero", tg_nonzero(e), 2, {0, 3}},
      {"argsort", tg_argsort(e, 1, 0), 3, {2, 0, 3}},
      {"einsum", tg_einsum("abc,abd->cd", (tg_tensor *[]){e, e}, 2), 2, {3, 3}},
      {"softmin", tg_softmin(e, 1), 3, {2, 0, 3}},
      {"normalize", tg_normalize(e, 2, 1, 1e-12), 3, {2, 0, 3}},
      {"max_pool batch 0", tg_max_pool(tg_zeros(TG_FLOAT32, TG_SHAPE(0, 1, 4, 4)), NULL, NULL), 4, {0, 1, 2, 2}},
      {"conv batch 0", tg_conv(tg_zeros(TG_FLOAT32, TG_SHAPE(0, 2, 5, 5)), tg_zeros(TG_FLOAT32, TG_SHAPE(3, 2, 3, 3)),
                               NULL, NULL), 4, {0, 3, 3, 3}},
      {"interpolate batch 0", tg_interpolate(tg_zeros(TG_FLOAT32, TG_SHAPE(0, 1, 4, 4)), 2, 2, TG_LINEAR, 0), 4,
       {0, 1, 2, 2}}};
  for (int i = 0; i < TEST_COUNT(cs); i++) {
    if (!test_shape_is(cs[i].t, cs[i].nd, cs[i].shape, cs[i].name, __FILE__, __LINE__)) continue;
    /* no kernel, but for einsum's (3, 3) of zeros (a sum over nothing: one kernel writes the zeros) */
    int64_t n = ev_launches(cs[i].t), want = strcmp(cs[i].name, "einsum") ? 0 : 1;
    if (n != want) test_check(0, __FILE__, __LINE__, "%s launched %lld kernels, expected %lld", cs[i].name,
                              (long long)n, (long long)want);
  }
  float zeros[9] = {0};
  CHECK_TENSOR(cs[29].t, zeros, 0, 3, 3);
  /* sort and topk of nothing, split by sizes of nothing */
  tg_tensor *v = NULL, *ix = NULL;
  CHECK_EQ_INT(tg_sort(e, 1, 0, &v, &ix), 0);
  CHECK_SHAPE(v, 2, 0, 3);
  CHECK_SHAPE(ix, 2, 0, 3);
  CHECK_EQ_INT(tg_topk(tg_zeros(TG_FLOAT32, TG_SHAPE(4)), 0, 0, 1, &v, &ix), 0);
  CHECK_SHAPE(v, 0);
  tg_tensor *parts[2];
  CHECK_EQ_INT(tg_split_sizes(e, 2, (const int64_t[]){1, 1}, 0, parts), 2);
  CHECK_SHAPE(parts[0], 1, 0, 3);
  tg_tensor *grid[2];
  CHECK_EQ_INT(tg_meshgrid((tg_tensor *[]){tg_zeros(TG_FLOAT32, TG_SHAPE(0)), tg_zeros(TG_FLOAT32, TG_SHAPE(3))}, 2, 0,
                           grid), 2);
  CHECK_SHAPE(grid[0], 0, 3);
  /* reflect needs pads smaller than the axis: an empty axis has none (tinygrad: "Padding (0, 0) should be less than
   * the input size=0") */
  tg_clear_error();
  CHECK_NULL(tg_pad_mode(e, 3, (const int64_t[]){0, 0, 1, 1, 0, 0}, TG_PAD_REFLECT, 0));
  CHECK_ERROR_HAS("tg_pad_mode");
  tg_scope_end();
}
