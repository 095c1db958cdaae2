/* test_movement.c: movement ops and indexing against numpy: reshape, permute, transpose, expand, squeeze, unsqueeze,
 * flatten, unflatten, pad, shrink, slice, select, flip, repeat, cat, stack, split, chunk, gather, index, one_hot,
 * and chains of them. m is arange(24) as (2, 3, 4), v10 is arange(10). */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_MOVEMENT
#include "golden/golden.h"

/* values 0..23 are exact: every check here is exact */

TEST(test_mv_reshape) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  CHECK_TENSOR(tg_reshape(m, TG_SHAPE(4, -1)), g_mv_m, 0, 4, 6);
  CHECK_TENSOR(tg_reshape(m, TG_SHAPE(-1)), g_mv_m, 0, 24);
  CHECK_TENSOR(tg_reshape(m, TG_SHAPE(2, -1, 2)), g_mv_m, 0, 2, 6, 2);
  CHECK_TENSOR(tg_reshape(m, TG_SHAPE(1, 24, 1)), g_mv_m, 0, 1, 24, 1);
  CHECK_TENSOR(tg_reshape(tg_reshape(m, TG_SHAPE(6, 4)), TG_SHAPE(2, 3, 4)), g_mv_m, 0, 2, 3, 4);
  /* to and from 0-d */
  static const float five[1] = {5};
  tg_tensor *one = TEST_F32(five, 1, 1);
  tg_tensor *s = tg_reshape(one, 0, NULL);
  CHECK_EQ_INT(tg_ndim(s), 0);
  CHECK_TENSOR0(s, 5, 0);
  CHECK_TENSOR(tg_reshape(s, TG_SHAPE(1)), five, 0, 1);
  tg_scope_end();
}

TEST(test_mv_permute_transpose_expand) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  CHECK_TENSOR(tg_permute(m, TG_AXES(2, 0, 1)), g_mv_permute201, 0, 4, 2, 3);
  CHECK_TENSOR(tg_permute(m, TG_AXES(-1, 0, 1)), g_mv_permute201, 0, 4, 2, 3);
  CHECK_TENSOR(tg_permute(m, TG_AXES(0, 1, 2)), g_mv_m, 0, 2, 3, 4);
  CHECK_TENSOR(tg_transpose(m, 0, 2), g_mv_transpose02, 0, 4, 3, 2);
  CHECK_TENSOR(tg_transpose(m, -1, -2), g_mv_transpose_m1m2, 0, 2, 4, 3);
  CHECK_TENSOR(tg_transpose(tg_transpose(m, 0, 2), 2, 0), g_mv_m, 0, 2, 3, 4);
  static const float col[3] = {1, 2, 3};
  CHECK_TENSOR(tg_expand(TEST_F32(col, 3, 1), TG_SHAPE(2, -1, 4)), g_mv_expand, 0, 2, 3, 4);
  static const float one[1] = {7}, sevens[6] = {7, 7, 7, 7, 7, 7};
  CHECK_TENSOR(tg_expand(TEST_F32(one, 1), TG_SHAPE(2, 3)), sevens, 0, 2, 3);
  tg_scope_end();
}

TEST(test_mv_squeeze_unsqueeze_flatten) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  tg_tensor *w = tg_reshape(m, TG_SHAPE(2, 1, 3, 1, 4));
  CHECK_TENSOR(tg_squeeze(w, 1), g_mv_m, 0, 2, 3, 1, 4);
  CHECK_TENSOR(tg_squeeze(w, -2), g_mv_m, 0, 2, 1, 3, 4);
  CHECK_TENSOR(tg_squeeze(w, TG_ALL_AXES), g_mv_m, 0, 2, 3, 4);
  CHECK_TENSOR(tg_squeeze(m, 0), g_mv_m, 0, 2, 3, 4); /* not of size 1: unchanged, like torch */
  CHECK_TENSOR(tg_unsqueeze(m, 0), g_mv_m, 0, 1, 2, 3, 4);
  CHECK_TENSOR(tg_unsqueeze(m, -1), g_mv_m, 0, 2, 3, 4, 1);
  CHECK_TENSOR(tg_unsqueeze(m, 2), g_mv_m, 0, 2, 3, 1, 4);
  CHECK_TENSOR(tg_unsqueeze(m, -2), g_mv_m, 0, 2, 3, 1, 4);
  CHECK_TENSOR(tg_flatten(m, 1, 2), g_mv_m, 0, 2, 12);
  CHECK_TENSOR(tg_flatten(m, 0, -1), g_mv_m, 0, 24);
  CHECK_TENSOR(tg_flatten(m, 0, 1), g_mv_m, 0, 6, 4);
  CHECK_TENSOR(tg_unflatten(m, 2, TG_SHAPE(2, 2)), g_mv_m, 0, 2, 3, 2, 2);
  CHECK_TENSOR(tg_unflatten(m, -1, TG_SHAPE(4, 1)), g_mv_m, 0, 2, 3, 4, 1);
  CHECK_TENSOR(tg_unflatten(tg_flatten(m, 0, -1), 0, TG_SHAPE(2, 3, 4)), g_mv_m, 0, 2, 3, 4);
  tg_scope_end();
}

TEST(test_mv_pad_shrink) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4), *m0 = tg_select(m, 0, 0);
  CHECK_TENSOR(tg_pad(m0, 2, (const int64_t[]){1, 2, 0, 1}, 0), g_mv_pad_pos, 0, 6, 5);
  CHECK_TENSOR(tg_pad(m0, 2, (const int64_t[]){-1, 0, 1, -2}, 0), g_mv_pad_neg, 0, 2, 3);
  CHECK_TENSOR(tg_pad(m0, 2, (const int64_t[]){0, 1, 2, 0}, -1.5), g_mv_pad_val, 0, 4, 6);
  CHECK_TENSOR(tg_pad(m, 3, (const int64_t[]){0, 0, 1, 1, -1, 2}, 7), g_mv_pad3, 0, 2, 5, 5);
  CHECK_TENSOR(tg_shrink(m, 3, (const int64_t[]){1, 2, 0, 2, 1, 4}), g_mv_shrink, 0, 1, 2, 3);
  CHECK_TENSOR(tg_shrink(m, 3, (const int64_t[]){0, 2, 0, 3, 0, 4}), g_mv_m, 0, 2, 3, 4);
  /* a padded int tensor keeps its dtype; the pad value is converted */
  static const int32_t iv[2] = {5, 6}, iw[5] = {-1, 5, 6, -1, -1};
  CHECK_RAW(tg_pad(TEST_DATA(iv, TG_INT32, 2), 1, (const int64_t[]){1, 2}, -1), TG_INT32, iw, 5);
  tg_scope_end();
}

TEST(test_mv_slice) {
  tg_scope_begin();
  tg_tensor *v = TEST_F32(g_mv_v10, 10);
  for (int i = 0; i < TEST_COUNT(g_mv_slices); i++) {
    const golden_slice *s = &g_mv_slices[i];
    if (!CHECK_TENSOR(tg_slice(v, 0, s->start, s->stop, s->step), s->want, 0, s->n))
      printf("  slice %d: start %lld stop %lld step %lld (TG_END = open)\n", i, (long long)s->start,
             (long long)s->stop, (long long)s->step);
  }
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  CHECK_TENSOR(tg_slice(m, 1, 0, TG_END, 2), g_mv_slice_ax1, 0, 2, 2, 4);
  CHECK_TENSOR(tg_slice(m, -1, 3, 0, -2), g_mv_slice_ax2, 0, 2, 3, 2);
  tg_scope_end();
}

TEST(test_mv_select_flip_repeat) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  CHECK_TENSOR(tg_select(m, 1, -1), g_mv_select1m1, 0, 2, 4);
  CHECK_TENSOR(tg_select(m, 0, 1), g_mv_select01, 0, 3, 4);
  CHECK_TENSOR(tg_select(m, -1, 2), g_mv_select2, 0, 2, 3);
  CHECK_TENSOR0(tg_select(tg_select(tg_select(m, 0, 1), 0, 2), 0, 3), 23, 0);
  CHECK_TENSOR(tg_flip(m, TG_AXES(0, 2)), g_mv_flip02, 0, 2, 3, 4);
  CHECK_TENSOR(tg_flip(m, TG_AXES(-1)), g_mv_flipm1, 0, 2, 3, 4);
  CHECK_TENSOR(tg_flip(tg_flip(m, TG_AXES(1)), TG_AXES(1)), g_mv_m, 0, 2, 3, 4);
  tg_tensor *m0 = tg_select(m, 0, 0);
  CHECK_TENSOR(tg_repeat(m0, TG_SHAPE(2, 1)), g_mv_repeat21, 0, 6, 4);
  CHECK_TENSOR(tg_repeat(m0, TG_SHAPE(2, 2, 1)), g_mv_repeat221, 0, 2, 6, 4);
  CHECK_TENSOR(tg_repeat(m0, TG_SHAPE(1, 1)), g_mv_m, 0, 3, 4);
  tg_scope_end();
}

TEST(test_mv_cat_stack) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  tg_tensor *three[3] = {TEST_F32(g_mv_cat_a, 2, 1, 4), m, TEST_F32(g_mv_cat_c, 2, 2, 4)};
  CHECK_TENSOR(tg_cat(three, 3, 1), g_mv_cat1, 0, 2, 6, 4);
  tg_tensor *m0 = tg_select(m, 0, 0);
  tg_tensor *two[2] = {m0, tg_mul_s(tg_slice(m0, 1, 0, 2, 1), 10)};
  CHECK_TENSOR(tg_cat(two, 2, -1), g_mv_cat_last, 0, 3, 6);
  tg_tensor *one[1] = {m};
  CHECK_TENSOR(tg_cat(one, 1, 0), g_mv_m, 0, 2, 3, 4);
  tg_tensor *st[3] = {m0, tg_add_s(m0, 100), tg_neg(m0)};
  CHECK_TENSOR(tg_stack(st, 3, 0), g_mv_stack0, 0, 3, 3, 4);
  CHECK_TENSOR(tg_stack(st, 3, 1), g_mv_stack1, 0, 3, 3, 4);
  CHECK_TENSOR(tg_stack(st, 3, -1), g_mv_stackm1, 0, 3, 4, 3);
  /* int tensors: cat keeps the dtype */
  static const int32_t a[2] = {1, 2}, b[3] = {-3, 4, 5}, ab[5] = {1, 2, -3, 4, 5};
  tg_tensor *ints[2] = {TEST_DATA(a, TG_INT32, 2), TEST_DATA(b, TG_INT32, 3)};
  CHECK_RAW(tg_cat(ints, 2, 0), TG_INT32, ab, 5);
  tg_scope_end();
}

TEST(test_mv_split_chunk) {
  tg_scope_begin();
  tg_tensor *v = TEST_F32(g_mv_v10, 10), *out[8];
  tg_tensor *v5 = tg_slice(v, 0, 0, 5, 1);
  CHECK_EQ_INT(tg_split(v5, 2, 0, out, 8), 3); /* 5 = 2 + 2 + 1 */
  CHECK_TENSOR(out[0], g_mv_v10, 0, 2);
  CHECK_TENSOR(out[1], g_mv_v10 + 2, 0, 2);
  CHECK_TENSOR(out[2], g_mv_v10 + 4, 0, 1);
  tg_tensor *v7 = tg_slice(v, 0, 0, 7, 1);
  CHECK_EQ_INT(tg_chunk(v7, 3, 0, out, 8), 3); /* ceil(7/3) = 3: 3 + 3 + 1 */
  CHECK_TENSOR(out[0], g_mv_v10, 0, 3);
  CHECK_TENSOR(out[1], g_mv_v10 + 3, 0, 3);
  CHECK_TENSOR(out[2], g_mv_v10 + 6, 0, 1);
  tg_tensor *v6 = tg_slice(v, 0, 0, 6, 1);
  CHECK_EQ_INT(tg_chunk(v6, 4, 0, out, 8), 3); /* ceil(6/4) = 2: only 3 chunks, like torch */
  CHECK_TENSOR(out[2], g_mv_v10 + 4, 0, 2);
  /* along a middle axis of m: (2, 3, 4) split by 2 on axis 1 -> (2, 2, 4), (2, 1, 4) */
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  CHECK_EQ_INT(tg_split(m, 2, 1, out, 8), 2);
  static const float m_a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19};
  static const float m_b[8] = {8, 9, 10, 11, 20, 21, 22, 23};
  CHECK_TENSOR(out[0], m_a, 0, 2, 2, 4);
  CHECK_TENSOR(out[1], m_b, 0, 2, 1, 4);
  CHECK_EQ_INT(tg_chunk(m, 2, -1, out, 8), 2);
  static const float c0[12] = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21};
  CHECK_TENSOR(out[0], c0, 0, 2, 3, 2);
  tg_scope_end();
}

TEST(test_mv_gather_index_one_hot) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4), *m0 = tg_select(m, 0, 0);
  CHECK_TENSOR(tg_gather(m0, 1, TEST_DATA(g_mv_gidx1, TG_INT32, 3, 2)), g_mv_gather1, 0, 3, 2);
  CHECK_TENSOR(tg_gather(m0, 0, TEST_DATA(g_mv_gidx0, TG_INT32, 2, 4)), g_mv_gather0, 0, 2, 4);
  CHECK_TENSOR(tg_index(m, 1, TEST_DATA(g_mv_iidx, TG_INT32, 4)), g_mv_index1, 0, 2, 4, 4);
  CHECK_TENSOR(tg_index(m, 0, TEST_DATA(g_mv_iidx2, TG_INT32, 3, 2)), g_mv_index0, 0, 3, 2, 3, 4);
  CHECK_TENSOR(tg_index(TEST_F32(g_mv_v10, 10), 0, TEST_DATA(g_mv_iidx3, TG_INT32, 5)), g_mv_index_neg, 0, 5);
  /* int64 indices work too */
  static const int64_t i64[3] = {3, -1, 0};
  static const float want64[3] = {3, 9, 0};
  CHECK_TENSOR(tg_index(TEST_F32(g_mv_v10, 10), 0, TEST_DATA(i64, TG_INT64, 3)), want64, 0, 3);
  CHECK_TENSOR(tg_one_hot(TEST_DATA(g_mv_oh_in, TG_INT32, 5), 4), g_mv_one_hot, 0, 5, 4);
  CHECK_TENSOR(tg_one_hot(TEST_DATA(g_mv_oh2_in, TG_INT32, 2, 2), 3), g_mv_one_hot2, 0, 2, 2, 3);
  tg_scope_end();
}

/* indexing is a one-hot sum (tinygrad's form), which the compiler collapses into a direct load: one elementwise
 * kernel that reads one row per index, not n. Out-of-range indices give 0, as the sum did. */
TEST(test_mv_index_collapses_to_a_load) {
  tg_scope_begin();
  float rows[1000 * 3];
  for (int i = 0; i < 3000; i++) rows[i] = (float)i;
  static const int32_t idx[6] = {0, 999, -1, 500, 1000, -1001};
  static const float want[18] = {0, 1, 2, 2997, 2998, 2999, 2997, 2998, 2999, 1500, 1501, 1502, 0, 0, 0, 0, 0, 0};
  tg_tensor *x = tg_index(TEST_F32(rows, 1000, 3), 0, TEST_DATA(idx, TG_INT32, 6));
  tg_schedule *s = tg_schedule_create(&x, 1);
  CHECK_NOT_NULL(s);
  CHECK_EQ_INT(tg_schedule_count(s), 1);
  CHECK(s && strncmp(tg_schedule_name(s, 0), "E_", 2) == 0); /* no reduction left */
  tg_schedule_free(s);
  CHECK_TENSOR(x, want, 0, 6, 3);
  /* gather along the last axis, as a loss picks each row's label */
  static const int32_t lab[2] = {2, 0};
  static const float pick[2] = {2, 3};
  tg_tensor *g = tg_gather(TEST_F32(rows, 2, 3), 1, TEST_DATA(lab, TG_INT32, 2, 1));
  s = tg_schedule_create(&g, 1);
  CHECK(s && strncmp(tg_schedule_name(s, 0), "E_", 2) == 0);
  tg_schedule_free(s);
  CHECK_TENSOR(g, pick, 0, 2, 1);
  tg_scope_end();
}

TEST(test_mv_chains) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4), *v = TEST_F32(g_mv_v10, 10);
  tg_tensor *c1 = tg_slice(tg_reshape(tg_permute(m, TG_AXES(2, 0, 1)), TG_SHAPE(4, 6)), 1, 1, TG_END, 2);
  CHECK_TENSOR(c1, g_mv_chain1, 0, 4, 3);
  tg_tensor *c2 = tg_slice(tg_reshape(tg_flip(tg_transpose(m, 0, 1), TG_AXES(-1)), TG_SHAPE(-1)), 0, 0, TG_END, 5);
  CHECK_TENSOR(c2, g_mv_chain2, 0, 5);
  tg_tensor *padded = tg_pad(tg_select(m, 0, 0), 2, (const int64_t[]){1, 1, 2, 0}, 0);
  tg_tensor *c3 = tg_transpose(tg_shrink(padded, 2, (const int64_t[]){1, 4, 0, 5}), 0, 1);
  CHECK_TENSOR(c3, g_mv_chain3, 0, 5, 3);
  tg_tensor *rev = tg_slice(v, 0, TG_END, TG_END, -3);
  tg_tensor *c4 = tg_reshape(tg_expand(tg_unsqueeze(rev, 0), TG_SHAPE(3, 4)), TG_SHAPE(2, 6));
  CHECK_TENSOR(c4, g_mv_chain4, 0, 2, 6);
  tg_tensor *c5 = tg_reshape(tg_slice(tg_mul_s(tg_transpose(tg_select(m, 1, 1), 0, 1), 2), 0, 1, TG_END, 1),
                             TG_SHAPE(-1));
  CHECK_TENSOR(c5, g_mv_chain5, 0, 6);
  tg_tensor *tail = tg_slice(tg_flip(m, TG_AXES(-1)), 1, 1, TG_END, 1);
  tg_tensor *c6 = tg_sum(tg_repeat(tail, TG_SHAPE(1, 1, 2)), TG_AXES(1), 0);
  CHECK_TENSOR(c6, g_mv_chain6, 0, 2, 8);
  /* the same chains after forcing a realisation in the middle */
  tg_tensor *perm = tg_contiguous(tg_permute(m, TG_AXES(2, 0, 1)));
  tg_tensor *c1b = tg_slice(tg_reshape(perm, TG_SHAPE(4, 6)), 1, 1, TG_END, 2);
  CHECK_TENSOR(c1b, g_mv_chain1, 0, 4, 3);
  tg_tensor *mid = tg_transpose(m, 0, 1);
  CHECK_EQ_INT(tg_realize(mid), 0);
  CHECK_TENSOR(tg_slice(tg_reshape(tg_flip(mid, TG_AXES(-1)), TG_SHAPE(-1)), 0, 0, TG_END, 5), g_mv_chain2, 0, 5);
  tg_scope_end();
}

/* views of views: expanded (stride 0), padded, flipped and sliced inputs feeding reshape, slice, reduce, cumsum,
 * gather, argmax and matmul */
TEST(test_mv_views_of_views) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4), *m0 = tg_select(m, 0, 0);
  static const float colv[3] = {1, 2, 3};
  tg_tensor *ex = tg_expand(TEST_F32(colv, 3, 1), TG_SHAPE(3, 4));
  CHECK_TENSOR(tg_reshape(ex, TG_SHAPE(12)), g_mv_x_expand_reshape, 0, 12);
  CHECK_TENSOR(tg_slice(tg_slice(ex, 0, 0, TG_END, 2), 1, 1, TG_END, 2), g_mv_x_expand_slice, 0, 2, 2);
  tg_tensor *pf = tg_flip(tg_pad(m0, 2, (const int64_t[]){1, 0, 0, 2}, -1), TG_AXES(0, 1));
  CHECK_TENSOR(pf, g_mv_x_pad_flip, 0, 4, 6);
  CHECK_TENSOR(tg_reshape(tg_pad(m0, 2, (const int64_t[]){0, 1, 1, 1}, 0.5), TG_SHAPE(2, 12)), g_mv_x_pad_reshape, 0,
               2, 12);
  tg_tensor *pm = tg_pad(tg_sub_s(m0, 20), 2, (const int64_t[]){1, 1, 0, 0}, -1.5);
  CHECK_TENSOR(tg_max(pm, TG_AXES(0), 0), g_mv_x_pad_max, 0, 4);
  tg_tensor *fs = tg_slice(tg_slice(tg_flip(m, TG_AXES(1)), 1, 0, TG_END, 2), 2, TG_END, TG_END, -3);
  CHECK_TENSOR(fs, g_mv_x_flip_slice_step, 0, 2, 2, 2);
  tg_tensor *row = tg_slice(m0, 0, 1, 2, 1);
  CHECK_TENSOR(tg_sum(tg_expand(row, TG_SHAPE(5, 4)), TG_AXES(0), 0), g_mv_x_expand_sum, 0, 4);
  CHECK_TENSOR(tg_cumsum(tg_permute(m, TG_AXES(1, 2, 0)), 1), g_mv_x_perm_cumsum, 0, 3, 4, 2);
  tg_tensor *sh = tg_shrink(m, 3, (const int64_t[]){0, 2, 1, 3, 2, 4});
  CHECK_TENSOR(tg_repeat(sh, TG_SHAPE(2, 1, 3)), g_mv_x_shrink_repeat, 0, 4, 2, 6);
  tg_tensor *st[2] = {tg_transpose(m0, 0, 1), tg_transpose(tg_flip(m0, TG_AXES(0)), 0, 1)};
  CHECK_TENSOR(tg_stack(st, 2, 1), g_mv_x_stack_views, 0, 4, 2, 3);
  tg_tensor *ct[2] = {tg_flip(m0, TG_AXES(1)), tg_slice(m0, 1, 0, TG_END, 2)};
  CHECK_TENSOR(tg_cat(ct, 2, 1), g_mv_x_cat_views, 0, 3, 6);
  CHECK_TENSOR(tg_gather(m, 1, TEST_DATA(g_mv_gidx3, TG_INT32, 2, 2, 4)), g_mv_x_gather3, 0, 2, 2, 4);
  static const float tie[4] = {1, 3, 3, 2};
  CHECK_RAW0(tg_argmax(tg_flip(TEST_F32(tie, 4), TG_AXES(0)), 0, 0), TG_INT32, g_mv_x_argmax_flip);
  static const float r4[4] = {1, -1, 2, 0.5f};
  tg_tensor *er = tg_expand(TEST_F32(r4, 1, 4), TG_SHAPE(3, 4));
  CHECK_TENSOR(tg_matmul(er, tg_transpose(m0, 0, 1)), g_mv_x_mm_expand, 1e-6, 3, 3);
  tg_scope_end();
}

/* big elementwise work, split across threads: (1000, 37) + (37,) and a 100003-element odd size */
TEST(test_mv_big_elementwise) {
  tg_scope_begin();
  static float a[1000 * 37], b[37], want[1000 * 37];
  for (int i = 0; i < 1000 * 37; i++) a[i] = (float)(i % 101);
  for (int j = 0; j < 37; j++) b[j] = (float)(j * 1000);
  for (int i = 0; i < 1000 * 37; i++) want[i] = a[i] + b[i % 37];
  CHECK_TENSOR(tg_add(TEST_F32(a, 1000, 37), TEST_F32(b, 37)), want, 0, 1000, 37);
  for (int i = 0; i < 1000 * 37; i++) want[i] = a[(i % 1000) * 37 + i / 1000] * 2; /* transpose then double */
  CHECK_TENSOR(tg_mul_s(tg_transpose(TEST_F32(a, 1000, 37), 0, 1), 2), want, 0, 37, 1000);
  static float c[100003], cw[100003];
  for (int i = 0; i < 100003; i++) c[i] = (float)(i % 7) - 3, cw[i] = c[i] < 0 ? -c[i] : c[i];
  CHECK_TENSOR(tg_abs(TEST_F32(c, 100003)), cw, 0, 100003);
  tg_scope_end();
}

/* out-of-range indices select nothing (tinygrad compares against an arange: the result is 0, never a wild read) */
TEST(test_mv_index_out_of_range) {
  tg_scope_begin();
  static const float v[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  static const int32_t idx[4] = {10, -11, 100000, 3};
  static const float want[4] = {0, 0, 0, 4}; /* tinygrad: Tensor(v)[Tensor(idx)] and v.gather(0, idx) */
  tg_tensor *t = TEST_F32(v, 10), *i = TEST_DATA(idx, TG_INT32, 4);
  CHECK_TENSOR(tg_index(t, 0, i), want, 0, 4);
  CHECK_TENSOR(tg_gather(t, 0, i), want, 0, 4);
  static const int32_t oh[3] = {-1, 4, 1};
  static const float oh_want[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
  CHECK_TENSOR(tg_one_hot(TEST_DATA(oh, TG_INT32, 3), 4), oh_want, 0, 3, 4);
  tg_scope_end();
}

/* roll, diagonal, diag, repeat_interleave, meshgrid, unfold, split by sizes, reflect / replicate / circular pads:
 * tinygrad's results; each is movement only (no kernel until realised, tested by the count) */
TEST(test_mv_roll_diagonal_unfold) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4), *v10 = TEST_F32(g_mv_v10, 10);
  CHECK_TENSOR(tg_roll(m, 2, (int64_t[]){1, -2}, (int[]){1, 2}), g_mv_roll, 0, 2, 3, 4);
  CHECK_TENSOR(tg_roll(m, 2, (int64_t[]){1, -2}, (int[]){-2, -1}), g_mv_roll, 0, 2, 3, 4);
  CHECK_TENSOR(tg_roll(m, 1, (int64_t[]){5}, NULL), g_mv_roll_flat, 0, 2, 3, 4);
  CHECK_TENSOR(tg_roll(m, 1, (int64_t[]){-7}, (int[]){2}), g_mv_roll_big, 0, 2, 3, 4);
  CHECK_TENSOR(tg_diagonal(m, 0, 0, 1), g_mv_diagonal, 0, 4, 2);
  CHECK_TENSOR(tg_diagonal(m, 1, 1, 2), g_mv_diagonal_o1, 0, 2, 3);
  CHECK_TENSOR(tg_diagonal(m, -1, 2, 1), g_mv_diagonal_om1, 0, 2, 3);
  CHECK_SHAPE(tg_diagonal(m, 9, 1, 2), 2, 0); /* past the matrix: empty (PyTorch's; tinygrad's shrink fails) */
  static const float d3[3] = {1.5f, -2, 3};
  tg_tensor *dg = tg_diag(TEST_F32(d3, 3));
  CHECK_TENSOR(dg, g_mv_diag, 0, 3, 3);
  CHECK_TENSOR(tg_diag(dg), d3, 0, 3); /* 2-d: its diagonal, as PyTorch */
  CHECK_TENSOR(tg_repeat_interleave(m, 2, 1), g_mv_repeat_interleave, 0, 2, 6, 4);
  CHECK_TENSOR(tg_repeat_interleave(tg_select(m, 0, 0), 3, TG_ALL_AXES), g_mv_repeat_interleave_flat, 0, 36);
  static const float mx[3] = {1, 2, 3}, my[2] = {10, 20};
  tg_tensor *in[2] = {TEST_F32(mx, 3), TEST_F32(my, 2)}, *g[2];
  CHECK_EQ_INT(tg_meshgrid(in, 2, 1, g), 2);
  CHECK_TENSOR(g[0], g_mv_meshgrid_xy0, 0, 2, 3);
  CHECK_TENSOR(g[1], g_mv_meshgrid_xy1, 0, 2, 3);
  CHECK_EQ_INT(tg_meshgrid(in, 2, 0, g), 2);
  CHECK_TENSOR(g[0], g_mv_meshgrid_ij0, 0, 3, 2);
  CHECK_TENSOR(g[1], g_mv_meshgrid_ij1, 0, 3, 2);
  CHECK_TENSOR(tg_unfold(v10, 0, 3, 2), g_mv_unfold, 0, 4, 3);
  CHECK_TENSOR(tg_unfold(m, 1, 2, 1), g_mv_unfold_m, 0, 2, 2, 4, 2);
  CHECK_TENSOR(tg_unfold(m, -1, 1, 3), g_mv_unfold_gap, 0, 2, 3, 2, 1);
  CHECK_SHAPE(tg_unfold(TEST_F32(g_mv_v10, 5), 0, 0, 2), 3, 0); /* 5 / 2 + 1 windows of nothing */
  tg_tensor *parts[2];
  CHECK_EQ_INT(tg_split_sizes(m, 2, (int64_t[]){1, 2}, 1, parts), 2);
  CHECK_TENSOR(parts[1], g_mv_split_sizes1, 0, 2, 2, 4);
  CHECK_SHAPE(parts[0], 2, 1, 4);
  static const int64_t pr[6] = {0, 0, 2, 1, 1, -1}, pc[6] = {0, 0, 2, 1, -1, 3};
  CHECK_TENSOR(tg_pad_mode(m, 3, pr, TG_PAD_REFLECT, 0), g_mv_pad_reflect, 0, 2, 6, 4);
  CHECK_TENSOR(tg_pad_mode(m, 3, pr, TG_PAD_REPLICATE, 0), g_mv_pad_replicate, 0, 2, 6, 4);
  CHECK_TENSOR(tg_pad_mode(m, 3, pc, TG_PAD_CIRCULAR, 0), g_mv_pad_circular, 0, 2, 6, 6);
  /* none of them launches a kernel of its own: one kernel computes each from m's buffer */
  tg_realize(m);
  tg_tensor *r = tg_pad_mode(tg_roll(tg_repeat_interleave(m, 2, 1), 1, (int64_t[]){3}, (int[]){0}), 3, pr,
                             TG_PAD_REFLECT, 0);
  tg_schedule *s = tg_schedule_create(&r, 1);
  CHECK_EQ_INT(tg_schedule_count(s), 1);
  tg_schedule_free(s);
  tg_scope_end();
}

/* their bad arguments: errors naming the function and what is wrong, never a crash */
TEST(test_mv_roll_diagonal_unfold_errors) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4), *out[4];
  CHECK(tg_roll(m, 2, (int64_t[]){1, 1}, (int[]){1, -2}) == NULL && strstr(tg_error(), "twice"));
  CHECK(tg_roll(m, 2, (int64_t[]){1, 1}, NULL) == NULL && strstr(tg_error(), "tg_roll"));
  CHECK(tg_roll(m, 1, (int64_t[]){1}, (int[]){3}) == NULL && strstr(tg_error(), "tg_roll"));
  CHECK(tg_diagonal(m, 0, 1, -2) == NULL && strstr(tg_error(), "both axis 1"));
  CHECK(tg_diagonal(TEST_F32(g_mv_v10, 10), 0, 0, 1) == NULL && strstr(tg_error(), "2 dimensions"));
  CHECK(tg_diag(m) == NULL && strstr(tg_error(), "tg_diag"));
  CHECK(tg_repeat_interleave(m, -1, 0) == NULL && strstr(tg_error(), "negative"));
  CHECK(tg_unfold(m, 2, 5, 1) == NULL && strstr(tg_error(), "more than axis 2"));
  CHECK(tg_unfold(m, 2, 2, 0) == NULL && strstr(tg_error(), "step"));
  CHECK(tg_split_sizes(m, 2, (int64_t[]){1, 1}, 1, out) == -1 && strstr(tg_error(), "add up to 2"));
  CHECK(tg_split_sizes(m, 2, (int64_t[]){-1, 4}, 1, out) == -1 && strstr(tg_error(), "tg_split_sizes"));
  static const int64_t big[6] = {0, 0, 3, 0, 0, 0}, wrap[6] = {0, 0, 0, 0, 0, 5};
  CHECK(tg_pad_mode(m, 3, big, TG_PAD_REFLECT, 0) == NULL && strstr(tg_error(), "reflect"));
  CHECK(tg_pad_mode(m, 3, wrap, TG_PAD_CIRCULAR, 0) == NULL && strstr(tg_error(), "more than once"));
  CHECK(tg_pad_mode(m, 3, wrap, 9, 0) == NULL && strstr(tg_error(), "mode 9"));
  CHECK(tg_pad_mode(m, 2, wrap, TG_PAD_REPLICATE, 0) == NULL && strstr(tg_error(), "pad pairs"));
  CHECK(tg_meshgrid(NULL, 2, 0, out) == -1);
  /* replicate may pad past the size (the edge repeated) */
  static const int64_t far[6] = {0, 0, 0, 0, 6, 0};
  tg_tensor *r = tg_pad_mode(m, 3, far, TG_PAD_REPLICATE, 0);
  CHECK_SHAPE(r, 2, 3, 10);
  float *h = r ? tg_to_float(r) : NULL;
  CHECK(h && h[0] == 0 && h[5] == 0 && h[6] == 0 && h[9] == 3 && h[10] == 4);
  free(h);
  tg_scope_end();
}

/* masked_fill, scatter (the index's last write wins), scatter_reduce with and without the input: tinygrad's values */
TEST(test_mv_scatter) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_mv_sx, 3, 4), *s = TEST_F32(g_mv_ss, 3, 3);
  tg_tensor *i0 = TEST_DATA(g_mv_si0, TG_INT32, 2, 3), *i1 = TEST_DATA(g_mv_si1, TG_INT32, 2, 3);
  CHECK_TENSOR(tg_scatter(x, 0, i0, s), g_mv_scatter0, 0, 3, 4);
  CHECK_TENSOR(tg_scatter(x, -1, i1, s), g_mv_scatter1, 0, 3, 4);
  CHECK_TENSOR(tg_scatter_s(x, 1, i1, 0.5), g_mv_scatter_s, 0, 3, 4);
  static const struct { int op; const float *want[2]; } rs[] = {
      {TG_SCATTER_SUM, {g_mv_sr_sum_0, g_mv_sr_sum_1}},    {TG_SCATTER_PROD, {g_mv_sr_prod_0, g_mv_sr_prod_1}},
      {TG_SCATTER_MEAN, {g_mv_sr_mean_0, g_mv_sr_mean_1}}, {TG_SCATTER_AMAX, {g_mv_sr_amax_0, g_mv_sr_amax_1}},
      {TG_SCATTER_AMIN, {g_mv_sr_amin_0, g_mv_sr_amin_1}}};
  for (int r = 0; r < TEST_COUNT(rs); r++)
    for (int inc = 0; inc < 2; inc++)
      if (!CHECK_TENSOR(tg_scatter_reduce(x, 1, i1, s, rs[r].op, inc), rs[r].want[inc], 1e-6, 3, 4))
        printf("  reduce %d, include_self %d\n", rs[r].op, inc);
  CHECK_TENSOR(tg_scatter_reduce(x, 0, i0, s, TG_SCATTER_SUM, 1), g_mv_sr_sum0, 0, 3, 4);
  tg_tensor *mk = TEST_DATA(g_mv_mk, TG_BOOL, 3, 4);
  CHECK_TENSOR(tg_masked_fill_s(x, mk, -1.5), g_mv_masked_fill, 0, 3, 4);
  CHECK_TENSOR(tg_masked_fill(x, mk, tg_scalar(-1.5, TG_FLOAT32)), g_mv_masked_fill, 0, 3, 4);
  /* integers: a scatter of int32 keeps int32 */
  static const int32_t iv[4] = {1, 2, 3, 4}, ii[2] = {3, 0}, is[2] = {-7, 9}, iw[4] = {9, 2, 3, -7};
  CHECK_RAW(tg_scatter(TEST_DATA(iv, TG_INT32, 4), 0, TEST_DATA(ii, TG_INT32, 2), TEST_DATA(is, TG_INT32, 2)),
            TG_INT32, iw, 4);
  /* errors: dtypes, ranks, sizes, the reduce */
  CHECK(tg_scatter(x, 1, i1, tg_cast(s, TG_FLOAT16)) == NULL && strstr(tg_error(), "HINT"));
  CHECK(tg_scatter(x, 1, TEST_DATA(g_mv_si1, TG_INT32, 6), s) == NULL && strstr(tg_error(), "tg_scatter"));
  CHECK(tg_scatter(x, 1, tg_cast(i1, TG_FLOAT32), s) == NULL);
  CHECK(tg_scatter(x, 2, i1, s) == NULL);
  CHECK(tg_scatter_reduce(x, 1, i1, s, 9, 1) == NULL && strstr(tg_error(), "reduce 9"));
  tg_scope_end();
}

/* masked_select and nonzero: shapes that depend on the values (each counts first) */
TEST(test_mv_masked_select_nonzero) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_mv_sx, 3, 4), *mk = TEST_DATA(g_mv_mk, TG_BOOL, 3, 4);
  CHECK_TENSOR(tg_masked_select(x, mk), g_mv_masked_select, 0, 5);
  CHECK_RAW(tg_nonzero(TEST_F32(g_mv_nz, 3, 3)), TG_INT32, g_mv_nonzero, 3, 2);
  /* a mask broadcast over rows; none selected; a 0-d tensor's nonzero */
  static const uint8_t row[4] = {0, 1, 0, 1};
  static const float rows_want[6] = {2, 4, 6, 8, 10, 12};
  CHECK_TENSOR(tg_masked_select(x, TEST_DATA(row, TG_BOOL, 4)), rows_want, 0, 6);
  CHECK_SHAPE(tg_masked_select(x, tg_full(0, TG_BOOL, TG_SHAPE(3, 4))), 0);
  CHECK_SHAPE(tg_nonzero(tg_scalar(2, TG_FLOAT32)), 1, 0);
  CHECK_SHAPE(tg_nonzero(tg_zeros(TG_INT32, TG_SHAPE(2, 2))), 0, 2);
  CHECK(tg_masked_select(x, tg_cast(mk, TG_INT32)) == NULL && strstr(tg_error(), "bool"));
  CHECK(tg_masked_select(x, TEST_DATA(row, TG_BOOL, 2, 2)) == NULL && strstr(tg_error(), "tg_masked_select"));
  tg_scope_end();
}

/* sort, argsort and topk against tinygrad's (ties keep their order: [1, 1] at 1 and 3, [9, 9] at 2 and 4) */
TEST(test_mv_sort_topk) {
  tg_scope_begin();
  tg_tensor *so = TEST_F32(g_mv_so, 3, 5), *v, *i;
  static const struct { int axis, desc; const float *v; const int32_t *i; int64_t r, c; } cs[] = {
      {1, 0, g_mv_sort1_0_v, g_mv_sort1_0_i, 3, 5}, {1, 1, g_mv_sort1_1_v, g_mv_sort1_1_i, 3, 5},
      {0, 0, g_mv_sort0_0_v, g_mv_sort0_0_i, 3, 5}, {-2, 1, g_mv_sort0_1_v, g_mv_sort0_1_i, 3, 5}};
  for (int k = 0; k < TEST_COUNT(cs); k++) {
    CHECK_EQ_INT(tg_sort(so, cs[k].axis, cs[k].desc, &v, &i), 0);
    CHECK_TENSOR(v, cs[k].v, 0, 3, 5);
    CHECK_RAW(i, TG_INT32, cs[k].i, 3, 5);
  }
  CHECK_RAW(tg_argsort(so, -1, 1), TG_INT32, g_mv_sort1_1_i, 3, 5);
  CHECK_EQ_INT(tg_topk(so, 2, 1, 1, &v, &i), 0);
  CHECK_TENSOR(v, g_mv_topk2_v, 0, 3, 2);
  CHECK_RAW(i, TG_INT32, g_mv_topk2_i, 3, 2);
  CHECK_EQ_INT(tg_topk(so, 3, -1, 0, &v, &i), 0);
  CHECK_TENSOR(v, g_mv_topk3s_v, 0, 3, 3);
  CHECK_RAW(i, TG_INT32, g_mv_topk3s_i, 3, 3);
  /* a longer axis (100, padded to 128) against qsort; integers; one element; errors */
  float x[100], sorted[100];
  for (int k = 0; k < 100; k++) x[k] = sorted[k] = (float)((k * 37) % 101) - 50;
  for (int a = 1; a < 100; a++)
    for (int b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
      float t = sorted[b];
      sorted[b] = sorted[b - 1], sorted[b - 1] = t;
    }
  CHECK_EQ_INT(tg_sort(TEST_F32(x, 100), 0, 0, &v, NULL), 0);
  CHECK_TENSOR(v, sorted, 0, 100);
  static const int32_t iv[4] = {7, -3, 7, 0}, iv_s[4] = {7, 7, 0, -3}, iv_i[4] = {0, 2, 3, 1};
  CHECK_EQ_INT(tg_sort(TEST_DATA(iv, TG_INT32, 4), 0, 1, &v, &i), 0);
  CHECK_RAW(v, TG_INT32, iv_s, 4);
  CHECK_RAW(i, TG_INT32, iv_i, 4);
  static const float one[1] = {2.5f};
  static const int32_t zero[1] = {0};
  CHECK_EQ_INT(tg_sort(TEST_F32(one, 1), 0, 0, &v, &i), 0);
  CHECK_TENSOR(v, one, 0, 1);
  CHECK_RAW(i, TG_INT32, zero, 1);
  CHECK(tg_topk(so, 6, 1, 1, &v, &i) == -1 && strstr(tg_error(), "k = 6"));
  /* an axis whose network needs more dimensions than a tensor has: an error, not a crash */
  CHECK(tg_sort(tg_zeros(TG_FLOAT32, TG_SHAPE(2, (1 << 16) + 1)), 1, 0, &v, &i) == -1 && strstr(tg_error(), "tg_sort"));
  CHECK(tg_sort(so, 2, 0, &v, &i) == -1 && v == NULL && i == NULL);
  tg_scope_end();
}

/* rearrange against tinygrad's: permutes, merged and split groups (a size by name), "...", "1"; movement only */
TEST(test_mv_rearrange) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  CHECK_TENSOR(tg_rearrange(m, "b c h -> h b c", 0, NULL, NULL), g_mv_r_perm, 0, 4, 2, 3);
  CHECK_TENSOR(tg_rearrange(m, "b c h -> b (h c)", 0, NULL, NULL), g_mv_r_merge, 0, 2, 12);
  CHECK_TENSOR(tg_rearrange(m, "b (h w) x -> b h w x", 1, (const char *[]){"h"}, (int64_t[]){3}), g_mv_r_split, 0,
               2, 3, 1, 4);
  CHECK_TENSOR(tg_rearrange(m, "b c (x y) -> (b y) c x", 1, (const char *[]){"x"}, (int64_t[]){2}), g_mv_r_split2, 0,
               4, 3, 2);
  CHECK_TENSOR(tg_rearrange(m, "... h -> h ...", 0, NULL, NULL), g_mv_r_ell, 0, 4, 2, 3);
  CHECK_TENSOR(tg_rearrange(m, "b c h -> b 1 c h", 0, NULL, NULL), g_mv_r_one, 0, 2, 1, 3, 4);
  CHECK_TENSOR(tg_rearrange(tg_rearrange(m, "b c h -> b 1 c h", 0, NULL, NULL), "b 1 c h -> b c h", 0, NULL, NULL),
               g_mv_m, 0, 2, 3, 4);
  CHECK_TENSOR(tg_rearrange(m, "b c h -> (b c h)", 0, NULL, NULL), g_mv_r_all, 0, 24);
  CHECK_TENSOR(tg_rearrange(m, "b ... -> b ...", 0, NULL, NULL), g_mv_m, 0, 2, 3, 4);
  /* errors: names, groups, sizes */
  CHECK(tg_rearrange(m, "b c h -> b c", 0, NULL, NULL) == NULL && strstr(tg_error(), "does not fit"));
  CHECK(tg_rearrange(m, "b c h -> b c c", 0, NULL, NULL) == NULL);
  CHECK(tg_rearrange(m, "b c h b -> b c h", 0, NULL, NULL) == NULL);
  CHECK(tg_rearrange(m, "b c (h -> b c h", 0, NULL, NULL) == NULL && strstr(tg_error(), "no formula"));
  CHECK(tg_rearrange(m, "b c h", 0, NULL, NULL) == NULL && strstr(tg_error(), "no formula"));
  CHECK(tg_rearrange(m, "b (h w) x -> b h w x", 1, (const char *[]){"h"}, (int64_t[]){2}) == NULL &&
        strstr(tg_error(), "does not split"));
  CHECK(tg_rearrange(m, "b c h -> b c h", 1, (const char *[]){"c"}, (int64_t[]){5}) == NULL && strstr(tg_error(), "5"));
  CHECK(tg_rearrange(m, "b c h -> b 1 c h", 0, NULL, NULL) != NULL);
  CHECK(tg_rearrange(m, "1 b c h -> b c h", 0, NULL, NULL) == NULL);
  tg_scope_end();
}

/* several index tensors at once: adjacent axes keep their place, separate ones put the broadcast shape first (numpy's
 * rules; tinygrad agrees); negative indices count from the end, one outside its axis reads 0 */
TEST(test_mv_index_n) {
  tg_scope_begin();
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  tg_tensor *a0 = TEST_DATA(g_mv_ia0, TG_INT32, 3), *a1 = TEST_DATA(g_mv_ia1, TG_INT32, 3);
  tg_tensor *b1 = TEST_DATA(g_mv_ib1, TG_INT32, 2, 1), *b2 = TEST_DATA(g_mv_ib2, TG_INT32, 1, 3);
  CHECK_TENSOR(tg_index_n(m, 2, (int[]){0, 1}, (tg_tensor *[]){a0, a1}), g_mv_ix01, 0, 3, 4);
  CHECK_TENSOR(tg_index_n(m, 2, (int[]){1, -1}, (tg_tensor *[]){b1, b2}), g_mv_ix12, 0, 2, 2, 3);
  CHECK_TENSOR(tg_index_n(m, 2, (int[]){0, 2}, (tg_tensor *[]){a0, a1}), g_mv_ix02, 0, 3, 3);
  /* one index tensor is tg_index */
  float *x = tg_to_float(tg_index_n(m, 1, (int[]){1}, &a1)), *y = tg_to_float(tg_index(m, 1, a1));
  CHECK(x && y && memcmp(x, y, sizeof(float) * 24) == 0);
  free(x), free(y);
  static const int32_t far[2] = {5, 1}, far0[2] = {0, 0};
  float *z = tg_to_float(tg_index_n(m, 2, (int[]){0, 1}, (tg_tensor *[]){TEST_DATA(far, TG_INT32, 2),
                                                                          TEST_DATA(far0, TG_INT32, 2)}));
  CHECK(z && z[0] == 0 && z[1] == 0 && z[4] == 12 && z[5] == 13); /* [5, 0]: nothing; [1, 0]: row 12.. */
  free(z);
  CHECK(tg_index_n(m, 2, (int[]){1, 1}, (tg_tensor *[]){a0, a1}) == NULL && strstr(tg_error(), "twice"));
  CHECK(tg_index_n(m, 2, (int[]){0, 1}, (tg_tensor *[]){a0, tg_cast(a1, TG_FLOAT32)}) == NULL);
  CHECK_SHAPE(tg_index_n(m, 2, (int[]){0, 1}, (tg_tensor *[]){a0, b1}), 2, 3, 4); /* (3,) and (2, 1): (2, 3) */
  CHECK(tg_index_n(m, 2, (int[]){0, 1}, (tg_tensor *[]){a0, TEST_DATA(far, TG_INT32, 2)}) == NULL); /* (3,), (2,) */
  tg_scope_end();
}

/* assignment into slices (steps, negative steps, a broadcast scalar) of a realised tensor, lazily: tinygrad's
 * __setitem__; a bad value leaves the tensor as it was */
TEST(test_mv_setitem_slice) {
  tg_scope_begin();
  static const float rows[8] = {-1, -2, -3, -4, -5, -6, -7, -8};
  struct { int n, axes[3]; int64_t st[3], sp[3], sz[3]; tg_tensor *v; const float *want; } cs[] = {
      {1, {1}, {1}, {3}, {1}, TEST_F32(rows, 2, 4), g_mv_set_rows}, /* (2, 2, 4) from (2, 4): broadcast */
      {3, {0, 1, 2}, {1, 0, 0}, {2, TG_END, TG_END}, {1, 1, 2}, TEST_F32(g_mv_set_v, 1, 3, 2), g_mv_set_step},
      {3, {0, 1, 2}, {0, TG_END, 3}, {1, TG_END, 0}, {1, -2, -1}, TEST_F32(g_mv_set_v, 1, 2, 3), g_mv_set_neg},
      {2, {1, 2}, {0, 1}, {1, 3}, {1, 1}, tg_scalar(9.5, TG_FLOAT32), g_mv_set_scalar}};
  for (int k = 0; k < TEST_COUNT(cs); k++) {
    tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
    tg_realize(m);
    CHECK_EQ_INT(tg_setitem_slice(m, cs[k].n, cs[k].axes, cs[k].st, cs[k].sp, cs[k].sz, cs[k].v), 0);
    if (!CHECK_TENSOR(m, cs[k].want, 0, 2, 3, 4)) printf("  case %d\n", k);
  }
  /* errors: a value that does not fit, a zero step; the tensor keeps its values */
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  tg_realize(m);
  CHECK(tg_setitem_slice(m, 1, (int[]){1}, (int64_t[]){0}, (int64_t[]){2}, (int64_t[]){1}, TEST_F32(rows, 8)) == -1 &&
        strstr(tg_error(), "tg_setitem_slice"));
  CHECK(tg_setitem_slice(m, 1, (int[]){1}, (int64_t[]){0}, (int64_t[]){2}, (int64_t[]){0}, tg_scalar(1, TG_FLOAT32)) ==
        -1 && strstr(tg_error(), "step of 0"));
  CHECK_TENSOR(m, g_mv_m, 0, 2, 3, 4);
  /* an empty slice writes nothing */
  CHECK_EQ_INT(tg_setitem_slice(m, 1, (int[]){2}, (int64_t[]){3}, (int64_t[]){1}, (int64_t[]){1},
                                tg_scalar(7, TG_FLOAT32)), 0);
  CHECK_TENSOR(m, g_mv_m, 0, 2, 3, 4);
  tg_scope_end();
}

/* assignment through index tensors (tinygrad's advanced __setitem__, numpy's placement): rows, elements, adjacent and
 * separated indexed axes, broadcast indices, a scalar; a repeated index keeps the last write */
TEST(test_mv_setitem_index) {
  tg_scope_begin();
  static const float vals[12] = {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12};
  tg_tensor *sr = TEST_DATA(g_mv_sr, TG_INT32, 3), *ia0 = TEST_DATA(g_mv_ia0, TG_INT32, 3);
  tg_tensor *ia1 = TEST_DATA(g_mv_ia1, TG_INT32, 3), *ib1 = TEST_DATA(g_mv_ib1, TG_INT32, 2, 1);
  tg_tensor *ib2 = TEST_DATA(g_mv_ib2, TG_INT32, 1, 3);
  struct { int n, axes[2]; tg_tensor *idx[2], *v; const float *want; } cs[] = {
      {1, {0}, {sr}, TEST_F32(g_mv_set_va, 3, 3, 4), g_mv_seti_rows},           /* m[[1, 0, 1]] = (3, 3, 4) */
      {2, {0, 1}, {ia0, ia1}, TEST_F32(vals, 3, 4), g_mv_seti_01},              /* m[i, j] = (3, 4) */
      {2, {1, 2}, {ib1, ib2}, TEST_F32(vals, 2, 2, 3), g_mv_seti_12},           /* m[:, (2,1), (1,3)] = (2, 2, 3) */
      {2, {0, 2}, {ia0, ia1}, TEST_F32(vals, 3, 3), g_mv_seti_02},              /* m[i, :, j]: B first, (3, 3) */
      {1, {1}, {sr}, tg_scalar(7.5, TG_FLOAT32), g_mv_seti_scalar}};            /* m[:, [1, 0, 1]] = 7.5 */
  for (int k = 0; k < TEST_COUNT(cs); k++) {
    tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
    tg_realize(m);
    CHECK_EQ_INT(tg_setitem_index(m, cs[k].n, cs[k].axes, cs[k].idx, cs[k].v), 0);
    if (!CHECK_TENSOR(m, cs[k].want, 0, 2, 3, 4)) printf("  case %d\n", k);
  }
  /* an int32 tensor takes float values cast; indices outside their axis write nothing */
  tg_tensor *mi = tg_cast(TEST_F32(g_mv_m, 2, 3, 4), TG_INT32);
  tg_realize(mi);
  tg_tensor *far = TEST_DATA(((const int32_t[]){5, -7, 1}), TG_INT32, 3);
  CHECK_EQ_INT(tg_setitem_index(mi, 1, (int[]){1}, &far, tg_scalar(-2.75, TG_FLOAT32)), 0);
  int32_t want_i[24];
  for (int i = 0; i < 24; i++) want_i[i] = (i % 12) / 4 == 1 ? -2 : (int32_t)g_mv_m[i];
  CHECK_RAW(mi, TG_INT32, want_i, 2, 3, 4);
  /* errors: the tensor keeps its values */
  tg_tensor *m = TEST_F32(g_mv_m, 2, 3, 4);
  tg_realize(m);
  tg_clear_error();
  CHECK(tg_setitem_index(m, 1, (int[]){0}, &sr, TEST_F32(vals, 12)) == -1 && strstr(tg_error(), "does not broadcast"));
  tg_tensor *fl = tg_cast(sr, TG_FLOAT32);
  CHECK(tg_setitem_index(m, 1, (int[]){0}, &fl, tg_scalar(1, TG_FLOAT32)) == -1 && strstr(tg_error(), "integer"));
  CHECK(tg_setitem_index(m, 2, (int[]){0, 0}, (tg_tensor *[]){sr, sr}, tg_scalar(1, TG_FLOAT32)) == -1 &&
        strstr(tg_error(), "indexed twice"));
  CHECK(tg_setitem_index(m, 1, (int[]){3}, &sr, tg_scalar(1, TG_FLOAT32)) == -1 && strstr(tg_error(), "axis"));
  CHECK(tg_setitem_index(m, 1, (int[]){0}, (tg_tensor *[]){NULL}, tg_scalar(1, TG_FLOAT32)) == -1);
  CHECK(tg_setitem_index(NULL, 1, (int[]){0}, &sr, tg_scalar(1, TG_FLOAT32)) == -1);
  CHECK_TENSOR(m, g_mv_m, 0, 2, 3, 4);
  /* no index positions (an empty index tensor) write nothing */
  tg_tensor *none = tg_zeros(TG_INT32, TG_SHAPE(0));
  CHECK_EQ_INT(tg_setitem_index(m, 1, (int[]){2}, &none, tg_scalar(3, TG_FLOAT32)), 0);
  CHECK_TENSOR(m, g_mv_m, 0, 2, 3, 4);
  tg_scope_end();
}
