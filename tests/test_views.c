/* test_views.c: zero-copy views, as tinygrad's buffer views. Realising a contiguous range of a realised buffer (a row
 * slice a[1:3], a chunk of split, a bitcast, their contiguous()) launches no kernel: the result is the buffer's memory
 * at an offset. An empty tensor launches nothing either, and logsumexp over all axes is one kernel. Values stay
 * values: writing in place into the buffer (an assignment, a JIT replay, a state dict load) or into the view leaves
 * the other as it was. OpenCL has no views (a cl_mem cannot be offset: tinygrad's CL neither), and CUDA views only
 * 16-byte offsets (its float4 loads): there such a slice is one copy kernel. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"

#include <stdlib.h>

/* the kernels a realisation of t launches */
static int64_t v_launched(tg_tensor *t) {
  int64_t before = tg_kernel_launches();
  if (tg_realize(t) < 0) return -1;
  return tg_kernel_launches() - before;
}

static int v_scheduled(tg_tensor *t) {
  tg_schedule *s = tg_schedule_create(&t, 1);
  int n = tg_schedule_count(s);
  tg_schedule_free(s);
  return n;
}

/* how many kernels a view costs on the device the tests run on: offsets of 16 bytes view everywhere but OpenCL; others
 * only on the CPU */
static int64_t v_cost(int aligned16) {
  const char *dev = getenv("DEV");
  if (dev && !strcmp(dev, "OPENCL")) return 1;
  if (dev && !strcmp(dev, "CUDA")) return aligned16 ? 0 : 1;
  return 0;
}

/* a realised (rows, cols) float32 matrix holding 0, 1, 2, ... */
static tg_tensor *v_matrix(int64_t rows, int64_t cols) {
  tg_tensor *a = tg_contiguous(tg_reshape(tg_arange(0, (double)(rows * cols), 1, TG_FLOAT32), TG_SHAPE(rows, cols)));
  tg_realize(a);
  return a;
}

TEST(test_views_no_kernels) {
  tg_scope_begin();
  tg_tensor *a = v_matrix(6, 4);
  /* rows 1..3: floats 4..11, at byte 16 */
  tg_tensor *rows = tg_slice(a, 0, 1, 3, 1);
  CHECK_EQ_INT(v_scheduled(rows), (int)v_cost(1));
  CHECK_EQ_INT(v_launched(rows), v_cost(1));
  float want_rows[8] = {4, 5, 6, 7, 8, 9, 10, 11};
  CHECK_TENSOR(rows, want_rows, 0, 2, 4);
  /* one row, as a[2] (a shrink, then the axis dropped) */
  tg_tensor *row = tg_reshape(tg_slice(a, 0, 2, 3, 1), TG_SHAPE(4));
  CHECK_EQ_INT(v_launched(row), v_cost(1));
  float want_row[4] = {8, 9, 10, 11};
  CHECK_TENSOR(row, want_row, 0, 4);
  /* a 1-d slice at byte 4 */
  tg_tensor *flat = tg_reshape(a, TG_SHAPE(24)), *mid = tg_slice(flat, 0, 1, 3, 1);
  CHECK_EQ_INT(v_launched(mid), v_cost(0));
  float want_mid[2] = {1, 2};
  CHECK_TENSOR(mid, want_mid, 0, 2);
  /* an empty slice and an empty arange: nothing to compute, on every device */
  tg_tensor *none = tg_slice(a, 0, 2, 2, 1);
  CHECK_EQ_INT(v_scheduled(none), 0);
  CHECK_EQ_INT(v_launched(none), 0);
  CHECK_SHAPE(none, 0, 4);
  tg_tensor *ar = tg_arange(0, 0, 1, TG_FLOAT32);
  CHECK_EQ_INT(v_launched(ar), 0);
  CHECK_SHAPE(ar, 0);
  /* the chunks of split along the rows */
  tg_tensor *parts[3];
  CHECK_EQ_INT(tg_split(a, 2, 0, parts, 3), 3);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(v_launched(parts[i]), v_cost(1));
    float want[8];
    for (int k = 0; k < 8; k++) want[k] = (float)(8 * i + k);
    CHECK_TENSOR(parts[i], want, 0, 2, 4);
  }
  /* a bitcast of the realised buffer: the same bytes */
  tg_tensor *bits = tg_bitcast(a, TG_INT32);
  CHECK_EQ_INT(v_launched(bits), v_cost(1));
  int32_t *got = (int32_t *)malloc(24 * sizeof(int32_t));
  float one = 1.0f;
  int32_t one_bits;
  memcpy(&one_bits, &one, 4);
  CHECK(got && tg_to_host(bits, got, 24 * sizeof(int32_t)) == 0 && got[1] == one_bits && got[0] == 0);
  free(got);
  /* contiguous() of a row range is a view too; a column range is not contiguous: one copy kernel */
  CHECK_EQ_INT(v_launched(tg_contiguous(tg_slice(a, 0, 4, 6, 1))), v_cost(1));
  tg_tensor *cols = tg_slice(a, 1, 1, 3, 1);
  CHECK_EQ_INT(v_launched(cols), 1);
  float want_cols[12] = {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22};
  CHECK_TENSOR(cols, want_cols, 0, 6, 2);
  /* a slice of a view is a view of the same buffer */
  tg_tensor *sub = tg_slice(rows, 0, 1, 2, 1);
  CHECK_EQ_INT(v_launched(sub), v_cost(1));
  float want_sub[4] = {8, 9, 10, 11};
  CHECK_TENSOR(sub, want_sub, 0, 1, 4);
  tg_scope_end();
}

/* logsumexp over every axis: the max and the sum of exp in one kernel (tinygrad: 1) */
TEST(test_views_logsumexp_one_kernel) {
  tg_scope_begin();
  tg_tensor *a = v_matrix(3, 5);
  tg_tensor *l = tg_logsumexp(a, TG_ALL_AXES, 0);
  CHECK_EQ_INT(v_scheduled(l), 1);
  double s = 0;
  for (int i = 0; i < 15; i++) s += exp(i - 14.0);
  CHECK_TENSOR0(l, 14.0 + log(s), 1e-5);
  tg_scope_end();
}

/* values stay values: a view and its buffer are independent tensors */
TEST(test_views_keep_values) {
  tg_scope_begin();
  float data[16];
  for (int i = 0; i < 16; i++) data[i] = (float)i;
  tg_tensor *a = tg_from_float(data, TG_SHAPE(4, 4)); /* owns its buffer: assignments write into it */
  tg_tensor *v = tg_slice(a, 0, 1, 3, 1);
  CHECK_EQ_INT(v_launched(v), v_cost(1));
  /* the buffer is overwritten: the view keeps rows 1..2 */
  tg_realize(tg_assign(a, tg_full(-1, TG_FLOAT32, TG_SHAPE(4, 4))));
  float want_v[8] = {4, 5, 6, 7, 8, 9, 10, 11}, minus[16];
  for (int i = 0; i < 16; i++) minus[i] = -1;
  CHECK_TENSOR(v, want_v, 0, 2, 4);
  CHECK_TENSOR(a, minus, 0, 4, 4);
  /* a copy that is a view (contiguous() of rows 2..3) is overwritten: the buffer keeps its values (assigning into
   * the slice itself, tg_assign(tg_slice(b, ...)), writes into b: tinygrad's setitem) */
  tg_tensor *b = v_matrix(4, 4), *w = tg_contiguous(tg_slice(b, 0, 2, 4, 1));
  CHECK_EQ_INT(v_launched(w), v_cost(1));
  tg_realize(tg_assign(w, tg_zeros(TG_FLOAT32, TG_SHAPE(2, 4))));
  float zeros[8] = {0}, want_b[16];
  for (int i = 0; i < 16; i++) want_b[i] = (float)i;
  CHECK_TENSOR(w, zeros, 0, 2, 4);
  CHECK_TENSOR(b, want_b, 0, 4, 4);
  /* an assignment through a slice of the buffer (setitem) */
  tg_tensor *c = v_matrix(4, 4), *x = tg_slice(c, 0, 0, 2, 1);
  tg_realize(x);
  CHECK_EQ_INT(tg_setitem_slice(c, 1, (const int[]){0}, (const int64_t[]){0}, (const int64_t[]){1},
                                (const int64_t[]){1}, tg_full(7, TG_FLOAT32, TG_SHAPE(1, 4))), 0);
  tg_realize(c);
  float want_x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  CHECK_TENSOR(x, want_x, 0, 2, 4);
  tg_scope_end();
}

/* a JIT replay writes its state in place: a view taken of the state between replays keeps its values */
static tg_tensor *v_state;
static int v_step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  tg_tensor *r = tg_assign(v_state, tg_add(v_state, in[0]));
  out[0] = tg_sum(r, 0, NULL, 0);
  return tg_realize(out[0]);
}

TEST(test_views_keep_values_under_jit) {
  v_state = v_matrix(4, 4);
  tg_jit *j = tg_jit_new(v_step, NULL);
  tg_scope_begin();
  tg_tensor *ones = tg_contiguous(tg_ones(TG_FLOAT32, TG_SHAPE(4, 4))), *out = NULL;
  tg_realize(ones);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(tg_jit_run(j, &ones, 1, &out, 1), 0); /* capture, then replays */
  tg_tensor *v = tg_slice(v_state, 0, 0, 1, 1);
  tg_realize(v);
  float want[4] = {3, 4, 5, 6}, after[4] = {5, 6, 7, 8};
  CHECK_TENSOR(v, want, 0, 1, 4);
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(tg_jit_run(j, &ones, 1, &out, 1), 0);
  CHECK_TENSOR(v, want, 0, 1, 4);
  CHECK_TENSOR(tg_slice(v_state, 0, 0, 1, 1), after, 0, 1, 4);
  tg_scope_end();
  tg_jit_free(j);
  tg_free(v_state);
}

/* a view outlives the tensor it was taken from, which keeps the memory alive */
TEST(test_views_outlive_their_buffer) {
  tg_tensor *a = v_matrix(3, 4);
  tg_tensor *v = tg_slice(a, 0, 1, 2, 1);
  tg_realize(v);
  tg_free(a);
  float want[4] = {4, 5, 6, 7};
  CHECK_TENSOR(v, want, 0, 1, 4);
  tg_tensor *w = tg_mul_s(v, 2);
  float twice[4] = {8, 10, 12, 14};
  CHECK_TENSOR(w, twice, 0, 1, 4);
  tg_free(w);
  tg_free(v);
}

/* a range of a value computed in the same realisation is a copy, not a view: the intermediate's memory goes to other
 * buffers once its last kernel has read it (the slice read 7 7, a later tensor's values, when it was a view) */
TEST(test_views_not_of_intermediates) {
  tg_scope_begin();
  float d[12];
  for (int i = 0; i < 12; i++) d[i] = (float)i;
  tg_tensor *x = tg_from_float(d, TG_SHAPE(4, 3));
  tg_tensor *r = tg_sum(x, 1, (int[]){1}, 0); /* 3, 12, 21, 30: a point of its own, read by three kernels */
  tg_tensor *ts[3] = {tg_slice(r, 0, 1, 3, 1), tg_mul_s(r, 2), tg_exp(tg_mul_s(r, 0.01))};
  CHECK_EQ_INT(tg_realize_all(ts, 3), 0);
  tg_realize(tg_mul_s(tg_ones(TG_FLOAT32, TG_SHAPE(4)), 7)); /* takes recycled memory */
  float want[2] = {12, 21};
  CHECK_TENSOR(ts[0], want, 0, 2);
  /* and the view of a point's buffer is found whatever was built just before it */
  tg_tensor *c = tg_contiguous(tg_mul_s(x, 1));
  tg_realize(c);
  CHECK_EQ_INT(v_launched(tg_slice(c, 0, 1, 3, 1)), v_cost(0));
  tg_scope_end();
}
