/* test_overflow.c: shapes whose sizes overflow are errors, never wrapped values. Every function that builds a shape
 * from user integers (creation, movement, broadcasting, convolution and pooling windows, indexing, initialisers) gives
 * NULL and a message naming itself when a product or sum of sizes would pass the library's limit: numel times the
 * largest element size (8 bytes) must fit in int64, so at most 2^60-1 elements, zero sizes counted as 1. Before the
 * fix, tg_from_data with shape (2^62+1, 4) computed 4 elements and a kernel read past the buffer.
 * Big inputs here are lazy expands of one element: nothing of that size is ever allocated. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"

#define TEST_P62 ((int64_t)1 << 62)
#define TEST_P40 ((int64_t)1 << 40)

/* a float32 tensor of the given shape holding 1 everywhere, without memory: ones(1, ..., 1) expanded */
static tg_tensor *test_big(tg_dtype dt, int ndim, const int64_t *shape) {
  int64_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  return tg_expand(tg_ones(dt, ndim, ones), ndim, shape);
}

TEST(test_overflow_creation) {
  tg_scope_begin();
  static const float data[8] = {0};
  /* the reported case: (2^62+1) * 4 wraps to 4 in int64 */
  CHECK_FAILS2(tg_from_data(data, TG_FLOAT32, TG_SHAPE(TEST_P62 + 1, 4)), "tg_from_data", "too large");
  CHECK_FAILS2(tg_from_float(data, TG_SHAPE(4, TEST_P62 + 1)), "tg_from_data", "(4, 4611686018427387905)");
  CHECK_FAILS2(tg_empty(TG_UINT8, TG_SHAPE(TEST_P40, TEST_P40)), "tg_empty", "too large");
  CHECK_FAILS2(tg_zeros(TG_FLOAT32, TG_SHAPE(TEST_P40, TEST_P40)), "tg_zeros", "too large");
  CHECK_FAILS2(tg_ones(TG_FLOAT32, TG_SHAPE(INT64_MAX)), "tg_ones", "too large");
  CHECK_FAILS2(tg_full(2, TG_INT32, TG_SHAPE(1 << 30, 1 << 30)), "tg_full", "too large"); /* 2^60: one past */
  /* an empty tensor may not hide a huge one: summing away its zero would need 2^80 elements */
  CHECK_FAILS2(tg_zeros(TG_FLOAT32, TG_SHAPE(0, TEST_P40, TEST_P40)), "tg_zeros", "zero sizes counted as 1");
  /* the largest shapes still work (lazily) */
  tg_tensor *ok = tg_zeros(TG_FLOAT32, TG_SHAPE(1 << 30, 1 << 29));
  CHECK_NOT_NULL(ok);
  CHECK_EQ_INT(tg_numel(ok), (int64_t)1 << 59);
  tg_tensor *empty = tg_zeros(TG_FLOAT32, TG_SHAPE(0, 1 << 30, 1 << 29));
  CHECK_NOT_NULL(empty);
  CHECK_EQ_INT(tg_numel(empty), 0);
  /* arange, linspace and eye count in int32 */
  CHECK_FAILS2(tg_arange(0, 3e9, 1, TG_FLOAT32), "tg_arange", "more than 2^31-1");
  CHECK_FAILS2(tg_arange(-INFINITY, 0, 1, TG_FLOAT32), "tg_arange", "more than 2^31-1");
  CHECK_FAILS2(tg_arange(INFINITY, INFINITY, 1, TG_FLOAT32), "tg_arange", "more than 2^31-1"); /* inf - inf */
  CHECK_FAILS2(tg_linspace(0, 1, (int64_t)1 << 31, TG_FLOAT32), "tg_linspace", "2^31");
  CHECK_FAILS2(tg_eye((int64_t)1 << 31, 1, TG_FLOAT32), "tg_eye", "2^31-1");
  CHECK_FAILS2(tg_eye(INT32_MAX, INT32_MAX, TG_FLOAT32), "tg_eye", "too large");
  tg_tensor *eye = tg_eye(1 << 30, 1 << 29, TG_BOOL);
  CHECK_NOT_NULL(eye);
  CHECK_EQ_INT(tg_numel(eye), (int64_t)1 << 59);
  /* tril/triu number rows and columns in int32 */
  tg_tensor *tall = test_big(TG_FLOAT32, 2, (const int64_t[]){(int64_t)1 << 31, 2});
  CHECK_FAILS2(tg_tril(tall, 0), "tg_tril", "2^31-1");
  CHECK_FAILS2(tg_triu(tg_transpose(tall, 0, 1), 0), "tg_triu", "2^31-1");
  /* initialisers and layers name themselves */
  CHECK_FAILS2(tg_kaiming_uniform(TG_SHAPE(TEST_P62 + 1, 4), 0), "tg_kaiming_uniform", "too large");
  CHECK_FAILS2(tg_glorot_uniform(TG_SHAPE(1 << 16, 1 << 16)), "tg_glorot_uniform", "2^31-1");
  tg_nn_linear lin;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_linear_init(&lin, TEST_P40, TEST_P40, 1), -1);
  CHECK_ERROR_HAS("tg_nn_linear_init");
  CHECK_NULL(lin.weight);
  tg_nn_embedding emb;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_embedding_init(&emb, 1 << 20, TEST_P62), -1);
  CHECK_ERROR_HAS("tg_nn_embedding_init");
  tg_nn_conv2d conv;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_conv2d_init(&conv, 1 << 20, 1 << 20, 1 << 20, 1, 0, 1, 1, 0), -1);
  CHECK_ERROR_HAS("tg_nn_conv2d_init");
  tg_nn_batchnorm bn;
  tg_clear_error();
  CHECK_EQ_INT(tg_nn_batchnorm_init(&bn, TEST_P62), -1);
  CHECK_ERROR_HAS("tg_nn_batchnorm_init");
  tg_scope_end();
}

TEST(test_overflow_movement) {
  tg_scope_begin();
  static const float v[6] = {1, 2, 3, 4, 5, 6};
  tg_tensor *a = TEST_F32(v, 2, 3), *f4 = TEST_F32(v, 4);
  /* reshape: (2^62+1) * 4 wraps to the 4 elements of f4 */
  CHECK_FAILS2(tg_reshape(f4, TG_SHAPE(TEST_P62 + 1, 4)), "tg_reshape", "too large");
  CHECK_FAILS2(tg_reshape(f4, TG_SHAPE(-1, TEST_P62, TEST_P62)), "tg_reshape", "too large");
  CHECK_FAILS2(tg_unflatten(f4, 0, TG_SHAPE(TEST_P62 + 1, 4)), "tg_unflatten", "do not multiply");
  CHECK_FAILS2(tg_expand(tg_reshape(f4, TG_SHAPE(4, 1)), TG_SHAPE(4, TEST_P62 + 1)), "tg_expand", "too large");
  CHECK_FAILS2(tg_expand(tg_ones(TG_FLOAT32, TG_SHAPE(1, 1)), TG_SHAPE(TEST_P40, TEST_P40)), "tg_expand", "too large");
  CHECK_FAILS2(tg_repeat(a, TG_SHAPE(TEST_P62, 1)), "tg_repeat", "repeats of axis 0"); /* 2^62 * 2 */
  CHECK_FAILS2(tg_repeat(a, TG_SHAPE(TEST_P40, TEST_P40)), "tg_repeat", "too large");
  CHECK_FAILS2(tg_pad(a, 2, (const int64_t[]){INT64_MAX, INT64_MAX, 0, 0}, 0), "tg_pad", "larger than");
  CHECK_FAILS2(tg_pad(a, 2, (const int64_t[]){TEST_P40, 0, 0, TEST_P40}, 0), "tg_pad", "too large");
  CHECK_FAILS2(tg_pad(a, 2, (const int64_t[]){INT64_MIN, 0, 0, 0}, 0), "tg_pad", "remove more than"); /* -INT64_MIN */
  /* cat and stack add sizes */
  int64_t h = ((int64_t)1 << 59) - 1; /* two fit in 2^60-1, three do not */
  tg_tensor *half = test_big(TG_FLOAT32, 1, &h);
  tg_tensor *three[3] = {half, half, half};
  CHECK_FAILS2(tg_cat(three, 3, 0), "tg_cat", "add up to more than");
  tg_tensor *big[4] = {half, half, half, half};
  CHECK_FAILS2(tg_stack(big, 4, 0), "tg_stack", "too large");
  tg_tensor *two = tg_cat(three, 2, 0);
  CHECK_NOT_NULL(two);
  CHECK_EQ_INT(tg_dim(two, 0), 2 * h);
  /* broadcasting multiplies sizes */
  tg_tensor *col = test_big(TG_FLOAT32, 2, (const int64_t[]){TEST_P40, 1});
  tg_tensor *row = test_big(TG_FLOAT32, 2, (const int64_t[]){1, TEST_P40});
  CHECK_FAILS2(tg_add(col, row), "tg_add", "broadcast to more than");
  CHECK_FAILS2(tg_where(tg_gt(col, col), col, row), "tg_where", "broadcast to more than");
  /* a split larger than the axis is one piece (no size + n - 1 to overflow) */
  tg_tensor *out[2] = {NULL, NULL};
  CHECK_EQ_INT(tg_split(f4, INT64_MAX, 0, out, 2), 1);
  CHECK_TENSOR(out[0], v, 0, 4);
  tg_scope_end();
}

TEST(test_overflow_ops) {
  tg_scope_begin();
  /* matmul's product (m, n, k) before the sum */
  tg_tensor *m = test_big(TG_FLOAT32, 2, (const int64_t[]){1 << 25, 1 << 25});
  CHECK_FAILS2(tg_matmul(m, m), "tg_matmul", "broadcast to more than");
  CHECK_FAILS2(tg_linear(m, m, NULL), "tg_linear", "broadcast to more than");
  /* cumulative ops build an n x n mask */
  tg_tensor *c = test_big(TG_FLOAT32, 2, (const int64_t[]){1 << 20, 1 << 21});
  CHECK_FAILS2(tg_cumsum(c, 1), "tg_cumsum", "too large");
  /* indexing builds (shape, index shape, n) */
  tg_tensor *idx = test_big(TG_INT32, 1, (const int64_t[]){TEST_P40});
  CHECK_FAILS2(tg_one_hot(idx, 1 << 30), "tg_one_hot", "too large");
  CHECK_FAILS2(tg_one_hot(tg_zeros(TG_INT32, TG_SHAPE(2)), (int64_t)1 << 31), "tg_one_hot", "2^31-1");
  tg_tensor *table = test_big(TG_FLOAT32, 2, (const int64_t[]){1 << 30, 4});
  CHECK_FAILS2(tg_index(table, 0, idx), "tg_index", "too large");
  tg_tensor *gidx = test_big(TG_INT32, 2, (const int64_t[]){1 << 30, 4});
  CHECK_FAILS2(tg_gather(table, 0, gidx), "tg_gather", "too large");
  /* convolution and pooling windows */
  tg_tensor *img = test_big(TG_FLOAT32, 4, (const int64_t[]){1, 1, 1 << 20, 1 << 20});
  tg_tensor *w = test_big(TG_FLOAT32, 4, (const int64_t[]){1, 1, 1 << 15, 1 << 15});
  CHECK_FAILS2(tg_conv2d(img, w, NULL, 1, 0, 1, 1), "tg_conv2d", "need more than");
  tg_tensor *wlong = test_big(TG_FLOAT32, 4, (const int64_t[]){1, 1, TEST_P40, 1});
  CHECK_FAILS2(tg_conv2d(img, wlong, NULL, 1, 0, 1 << 30, 1), "tg_conv2d", "larger than the input"); /* d (k-1) */
  CHECK_FAILS2(tg_max_pool2d(img, 1 << 15, 1, 0, 1), "tg_max_pool2d", "need more than");
  CHECK_FAILS2(tg_avg_pool2d(img, 1 << 15, 1, 0), "tg_avg_pool2d", "need more than");
  tg_tensor *seq = test_big(TG_FLOAT32, 3, (const int64_t[]){1, 1, 1 << 30});
  tg_tensor *w1 = test_big(TG_FLOAT32, 3, (const int64_t[]){1 << 12, 1, 1 << 20});
  CHECK_FAILS2(tg_conv1d(seq, w1, NULL, 1, 0, 1, 1), "tg_conv1d", "too large");
  tg_tensor *wt = test_big(TG_FLOAT32, 4, (const int64_t[]){1, 1, 3, 3});
  CHECK_FAILS2(tg_conv_transpose2d(img, wt, NULL, 1 << 30, 0, 0, 1, 1), "tg_conv_transpose2d", "too large");
  tg_tensor *img40 = test_big(TG_FLOAT32, 4, (const int64_t[]){1, 1, TEST_P40, 1});
  CHECK_FAILS2(tg_conv_transpose2d(img40, wt, NULL, 1 << 30, 0, 0, 1, 1), "tg_conv_transpose2d", "larger than");
  /* resampling: (..., H, ow, W) and the adaptive pool's matrices */
  CHECK_FAILS2(tg_interpolate(img, 1 << 30, 1 << 30, TG_NEAREST, 0), "tg_interpolate", "too large");
  tg_tensor *tall = test_big(TG_FLOAT32, 4, (const int64_t[]){1, 1, 1 << 30, 3});
  CHECK_FAILS2(tg_adaptive_avg_pool2d(tall, INT32_MAX, 2), "tg_adaptive_avg_pool2d", "too large");
  tg_scope_end();
}

/* shapes the limit accepts but 32-bit index arithmetic cannot reach are an error at realisation, before anything is
 * allocated or run: a buffer of 3e9 elements, and an axis of 2.5e9 in the middle of a graph (a flat view of an outer
 * product, summed: 0 before; flipped and viewed back: a wrong maximum) */
TEST(test_overflow_index_range) {
  tg_scope_begin();
  int64_t launches = tg_kernel_launches();
  tg_tensor *e = tg_empty(TG_UINT8, TG_SHAPE((int64_t)3 << 30)); /* its memory is never allocated */
  tg_clear_error();
  CHECK(isnan(tg_item(tg_sum(tg_cast(e, TG_INT32), 0, NULL, 0))));
  CHECK_ERROR_HAS("32-bit index");
  tg_tensor *a = tg_arange(0, 50000, 1, TG_FLOAT32);
  tg_tensor *o = tg_mul(tg_reshape(a, TG_SHAPE(50000, 1)), tg_reshape(a, TG_SHAPE(1, 50000)));
  tg_tensor *flat = tg_reshape(o, TG_SHAPE(2500000000LL));
  tg_clear_error();
  CHECK(isnan(tg_item(tg_sum(flat, 0, NULL, 0))));
  CHECK_ERROR_HAS("32-bit index");
  tg_tensor *back = tg_reshape(tg_flip(flat, 1, (int[]){0}), TG_SHAPE(50000, 50000));
  tg_clear_error();
  CHECK(isnan(tg_item(tg_sum(tg_max(back, 1, (int[]){1}, 0), 0, NULL, 0))));
  CHECK_ERROR_HAS("32-bit index");
  CHECK_EQ_INT(tg_kernel_launches(), launches);
  tg_clear_error();
  tg_tensor *b = tg_arange(0, 1000, 1, TG_FLOAT32); /* below the limit: fine */
  CHECK_NEAR(tg_item(tg_sum(tg_mul(tg_reshape(b, TG_SHAPE(1000, 1)), tg_reshape(b, TG_SHAPE(1, 1000))), 0, NULL, 0)),
             499500.0 * 499500.0, 1e-4); /* float32 sums: a GPU adds in another order */
  tg_scope_end();
}
