/* test_schedule.c: kernel counts (they must equal the real tinygrad's, CPU, default optimisations, realised inputs),
 * schedule inspection, result caching and the disk cache of compiled kernels. */
#include "tinygrad.h"
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tg_tensor *realized_rand(int ndim, const int64_t *shape) {
  tg_tensor *t = tg_rand(TG_FLOAT32, ndim, shape);
  tg_realize(t);
  return t;
}

static int kernels(tg_tensor *t) {
  tg_schedule *s = tg_schedule_create(&t, 1);
  int n = tg_schedule_count(s);
  tg_schedule_free(s);
  return n;
}

/* the counts tinygrad 0.14 gives (python: len(t.schedule_linear().src)) */
TEST(test_kernel_counts_tinygrad) {
  tg_scope_begin();
  tg_tensor *a = realized_rand(TG_SHAPE(4, 4)), *b = realized_rand(TG_SHAPE(4, 4));
  CHECK_EQ_INT(kernels(tg_sum(tg_relu(tg_add(a, b)), 0, NULL, 0)), 1);
  tg_tensor *m = realized_rand(TG_SHAPE(64, 64)), *n = realized_rand(TG_SHAPE(64, 64));
  CHECK_EQ_INT(kernels(tg_matmul(m, n)), 1);
  CHECK_EQ_INT(kernels(tg_sum(tg_relu(tg_matmul(m, n)), TG_AXES(0), 0)), 1); /* a reduction nested in a reduction */
  tg_tensor *x = realized_rand(TG_SHAPE(32, 100));
  CHECK_EQ_INT(kernels(tg_softmax(x, -1)), 3);
  CHECK_EQ_INT(kernels(tg_layernorm(x, -1, 1e-5)), 3);
  tg_tensor *img = realized_rand(TG_SHAPE(1, 1, 28, 28)), *w = realized_rand(TG_SHAPE(32, 1, 5, 5));
  CHECK_EQ_INT(kernels(tg_conv2d(img, w, NULL, 1, 0, 1, 1)), 1);
  tg_tensor *v = realized_rand(TG_SHAPE(100));
  tg_tensor *vv[2] = {v, v};
  CHECK_EQ_INT(kernels(tg_argmax(v, 0, 0)), 1);
  CHECK_EQ_INT(kernels(tg_cumsum(v, 0)), 1);
  CHECK_EQ_INT(kernels(tg_cat(vv, 2, 0)), 1);
  tg_scope_end();
}

/* Where tinygrad.h departs from tinygrad's counts: a padded tensor read through a convolution's window is realised
 * first (so the conv's loads are not gated by the padding), when large enough (4096 elements) and read four times or
 * more per element. The values are those of a convolution of the explicitly padded input. */
TEST(test_padded_window_realised_first) {
  tg_scope_begin();
  tg_tensor *img = realized_rand(TG_SHAPE(2, 3, 40, 40)), *w = realized_rand(TG_SHAPE(4, 3, 3, 3));
  tg_tensor *c = tg_conv2d(img, w, NULL, 1, 1, 1, 1); /* 2*3*42*42 = 10584 padded elements, read 9 times each */
  tg_schedule *s = tg_schedule_create(&c, 1);
  CHECK_EQ_INT(tg_schedule_count(s), 2);
  if (tg_schedule_count(s) == 2) CHECK(!strncmp(tg_schedule_name(s, 0), "E_", 2)); /* the pad, then the conv */
  tg_schedule_free(s);
  int64_t pads[8] = {0, 0, 0, 0, 1, 1, 1, 1};
  tg_tensor *padded = tg_pad(img, 4, pads, 0.0);
  float *want = tg_to_float(tg_conv2d(tg_realize(padded) == 0 ? padded : NULL, w, NULL, 1, 0, 1, 1));
  float *got = tg_to_float(c);
  CHECK(want && got);
  if (want && got) CHECK_ARR_NEAR(got, want, 2 * 4 * 40 * 40, 1e-5);
  free(want);
  free(got);
  /* small (1*1*6*6 = 36 elements padded): fused, as tinygrad */
  tg_tensor *small = realized_rand(TG_SHAPE(1, 1, 4, 4)), *ws = realized_rand(TG_SHAPE(2, 1, 3, 3));
  CHECK_EQ_INT(kernels(tg_conv2d(small, ws, NULL, 1, 1, 1, 1)), 1);
  /* a padded tensor summed (each element read once): fused */
  tg_tensor *big = realized_rand(TG_SHAPE(100, 100));
  int64_t p2[4] = {2, 2, 2, 2};
  CHECK_EQ_INT(kernels(tg_sum(tg_pad(big, 2, p2, 0.0), 0, NULL, 0)), 1);
  tg_scope_end();
}

TEST(test_schedule_inspection) {
  tg_scope_begin();
  tg_tensor *x = realized_rand(TG_SHAPE(32, 100));
  tg_tensor *sm = tg_softmax(x, -1);
  tg_schedule *s = tg_schedule_create(&sm, 1);
  CHECK_EQ_INT(tg_schedule_count(s), 3);
  /* max over axis 1: 32 outputs, a loop of 100; on a GPU a workgroup's 25 threads share it, 4 values at a time */
  const char *mx = tg_schedule_name(s, 0);
  CHECK(mx && (!strcmp(mx, "r_32_100") || (strcmp(tg_device_of(x), "CPU") && !strcmp(mx, "r_32_25_4"))));
  /* the division: one output per thread, or on a small GPU (PoCL's 2 cores) 4 (one 16-byte load and store each) */
  const char *div = tg_schedule_name(s, 2), *src = tg_schedule_source(s, 2);
  CHECK(div && (!strcmp(div, "E_32_100") || (strcmp(tg_device_of(x), "CPU") && !strcmp(div, "E_32_25_4"))));
  if (!div) div = "E_32_100";
  CHECK(strstr(tg_schedule_ast(s, 0), "REDUCE_AXIS   float32  [2] MAX axes=0x2 shape=(32,1)") != NULL);
  CHECK(src && strstr(src, div) && strstr(src, "("));
  CHECK(strstr(tg_schedule_source(s, 1), "exp2") != NULL); /* exp is EXP2 (exp2f in C, exp2 in OpenCL) */
  CHECK_NULL(tg_schedule_name(s, 3));
  tg_schedule_free(s);
  /* an already realised tensor needs no kernel */
  tg_realize(sm);
  CHECK_EQ_INT(kernels(sm), 0);
  tg_scope_end();
}

/* realising the same graph twice runs nothing the second time; a tensor that reads a realised one uses its buffer */
TEST(test_realised_results_are_reused) {
  tg_scope_begin();
  tg_tensor *x = realized_rand(TG_SHAPE(16, 16));
  tg_tensor *y = tg_exp(tg_mul_s(x, 0.5));
  tg_tensor *z = tg_add_s(y, 1); /* built before y is realised */
  CHECK_EQ_INT(kernels(z), 1);   /* fused: exp and add */
  CHECK_EQ_INT(tg_realize(y), 0);
  CHECK_EQ_INT(kernels(z), 1); /* now only the add, reading y's buffer */
  int64_t before = tg_kernel_launches();
  tg_realize(tg_exp(tg_mul_s(x, 0.5))); /* the same graph as y */
  CHECK_EQ_INT(tg_kernel_launches() - before, 0);
  tg_scope_end();
}

/* a kernel compiled by another process is found in the disk cache: the child runs without starting a compiler */
TEST(test_disk_cache) {
  if (!test_on_cpu()) return; /* the disk cache is the CPU device's */
  const char *prog = getenv("TEST_SELF");
  if (!prog) { /* the runner sets TEST_SELF to its own path */
    CHECK(0);
    return;
  }
  char cmd[512];
  /* run this test's child twice: the first may compile, the second must not */
  snprintf(cmd, sizeof cmd, "TEST_CACHE_CHILD=1 %s test_disk_cache_child >/dev/null 2>&1", prog);
  CHECK_EQ_INT(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "TEST_CACHE_CHILD=1 %s test_disk_cache_child 2>/dev/null | grep -q 'compiles=0'", prog);
  CHECK_EQ_INT(system(cmd), 0);
}

TEST(test_disk_cache_child) {
  if (!getenv("TEST_CACHE_CHILD")) return; /* only meaningful as the child of test_disk_cache */
  tg_tensor *x = tg_arange(0, 1000, 1, TG_FLOAT32);
  tg_tensor *y = tg_sum(tg_mul_s(tg_sin(x), 3.25), 0, NULL, 0);
  CHECK(tg_item(y) == tg_item(y));
  printf("compiles=%lld\n", (long long)tg_compiler_invocations());
  tg_free(x);
  tg_free(y);
}

/* the product's source when it is the schedule's last kernel, or NULL */
static char *ts_last_source(tg_tensor *t) {
  tg_schedule *s = tg_schedule_create(&t, 1);
  const char *src = s && tg_schedule_count(s) > 0 ? tg_schedule_source(s, tg_schedule_count(s) - 1) : NULL;
  char *copy = src ? (char *)malloc(strlen(src) + 1) : NULL;
  if (copy) memcpy(copy, src, strlen(src) + 1);
  tg_schedule_free(s);
  return copy;
}

/* A matrix-vector product streams its matrix: on the CPU, the loop over a row block asks for the bytes of a block
 * further on (render.c's software prefetch), and the values are those without it. A matrix of 16 rows, in the cache
 * anyway, gets none, nor does an elementwise kernel. The entries are multiples of 1/32 summed exactly in float32. */
TEST(test_prefetch_streamed_matrix) {
  tg_scope_begin();
  enum { M = 2048, K = 256 };
  float *w = (float *)malloc(sizeof(float) * M * K), xv[K], *want = (float *)malloc(sizeof(float) * M);
  float *got = (float *)malloc(sizeof(float) * M);
  for (int k = 0; k < K; k++) xv[k] = (float)((k % 5) - 2) / 4;
  for (int i = 0; i < M; i++) {
    double acc = 0;
    for (int k = 0; k < K; k++) w[i * K + k] = (float)((i * 7 + k * 3) % 11 - 5) / 8, acc += w[i * K + k] * xv[k];
    want[i] = (float)acc;
  }
  int64_t ws[2] = {M, K}, xs[2] = {1, K};
  tg_tensor *W = tg_from_data(w, TG_FLOAT32, 2, ws), *x = tg_from_data(xv, TG_FLOAT32, 2, xs);
  tg_tensor *y = tg_matmul(x, tg_transpose(W, 0, 1));
  char *src = ts_last_source(y);
  CHECK(src != NULL);
  if (src && test_on_cpu()) {
    const char *p = strstr(src, "TG_PREFETCH((const char *)data");
    CHECK(p != NULL); /* the matrix's parameter, ahead of the thread's loop index */
    CHECK(p && strstr(p, "((i64)ridx") && strstr(p, ") * ") && strchr(p, '\n') > strstr(p, "((i64)ridx"));
  }
  free(src);
  CHECK_EQ_INT(tg_to_host(y, got, sizeof(float) * M), 0);
  CHECK_ARR_NEAR(got, want, M, 0);
  tg_tensor *small = tg_matmul(x, tg_transpose(tg_shrink(W, 2, (int64_t[]){0, 16, 0, K}), 0, 1));
  src = ts_last_source(small);
  CHECK(src && !strstr(src, "TG_PREFETCH(("));
  free(src);
  CHECK_EQ_INT(tg_to_host(small, got, sizeof(float) * 16), 0);
  CHECK_ARR_NEAR(got, want, 16, 0);
  src = ts_last_source(tg_add_s(W, 1)); /* elementwise: no reduction loop */
  CHECK(src && !strstr(src, "TG_PREFETCH(("));
  free(src);
  free(w), free(want), free(got);
  tg_scope_end();
}
