/* gpu.c: the GPU backends against PyTorch on the same GPU (bench/gpu_ref.py, measured in the same run).
 *
 * usage: DEV=CUDA build/bench/gpu   (DEV=OPENCL for an OpenCL device; without a GPU it says so and exits 0)
 * Each case is a JIT'd function replayed on the device; a replay is timed from launch to tg_synchronize, median of
 * 21. Cases: elementwise relu(2a+b) over 16M floats and a row sum of 4096x4096 (GB/s moved), a full sum of 16M
 * floats (GB/s), matmuls of 1024 and 4096 in float32 (GFLOPS; PyTorch with TF32 off, so cuBLAS's float32 path). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "backends/tinygrad_cuda.h"
#include "backends/tinygrad_opencl.h"
#include "bench.h"
#include <string.h>

enum { REPS = 21 };

typedef struct bcase { const char *name, *ref, *unit; int kind; int64_t n; } bcase;

static int step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)n_in, (void)n_out;
  const bcase *c = (const bcase *)ctx;
  switch (c->kind) {
  case 0: out[0] = tg_relu(tg_add(tg_mul_s(in[0], 2), in[1])); break;
  case 1: out[0] = tg_sum(in[0], TG_AXES(1), 0); break;
  case 2: out[0] = tg_sum(in[0], 0, NULL, 0); break;
  default: out[0] = tg_matmul(in[0], in[1]); break;
  }
  return 0;
}

/* seconds per replay, median */
static double time_case(const bcase *c) {
  int64_t n = c->n;
  tg_tensor *in[2];
  if (c->kind == 0 || c->kind == 2) in[0] = tg_rand(TG_FLOAT32, TG_SHAPE(n)), in[1] = tg_rand(TG_FLOAT32, TG_SHAPE(n));
  else in[0] = tg_rand(TG_FLOAT32, TG_SHAPE(n, n)), in[1] = tg_rand(TG_FLOAT32, TG_SHAPE(n, n));
  if (tg_realize_all(in, 2) < 0) return NAN;
  tg_jit *j = tg_jit_new(step, (void *)c);
  double t[REPS];
  for (int r = 0; r < REPS + 3; r++) {
    tg_scope_begin();
    tg_tensor *out = NULL;
    tg_synchronize(NULL);
    double t0 = bench_now();
    int rc = tg_jit_run(j, in, 2, &out, 1);
    if (rc == 0) rc = tg_synchronize(NULL);
    if (rc) {
      fprintf(stderr, "gpu bench %s: %s\n", c->name, tg_error());
      exit(1);
    }
    if (r >= 3) t[r - 3] = bench_now() - t0;
    if (r == REPS + 2 && c->kind == 3) { /* spot check one element against a dot product on the host */
      float *A = tg_to_float(in[0]), *B = tg_to_float(in[1]), *C = tg_to_float(out);
      double ref = 0;
      for (int64_t k = 0; k < n; k++) ref += (double)A[5 * n + k] * B[k * n + 7];
      if (fabs(ref - C[5 * n + 7]) > 1e-3 * fabs(ref)) fprintf(stderr, "%s: WRONG %g vs %g\n", c->name, C[5 * n + 7], ref);
      free(A), free(B), free(C);
    }
    tg_scope_end();
  }
  tg_jit_free(j);
  tg_free(in[0]);
  tg_free(in[1]);
  return bench_median(t, REPS);
}

int main(void) {
  const char *dev = getenv("DEV");
  if (!dev || !dev[0] || !strcmp(dev, "CPU")) {
    printf("gpu bench: set DEV=CUDA or DEV=OPENCL to run it (skipped)\n");
    return 0;
  }
  if (isnan(tg_item(tg_full(1, TG_FLOAT32, TG_SHAPE(1))))) {
    printf("gpu bench: %s is not available here (%s): skipped\n", dev, tg_error());
    return 0;
  }
  static const bcase cases[] = {
      {"elementwise relu(2a+b), 16M f32", "elementwise", "GB/s", 0, 1 << 24},
      {"sum(axis=1) 4096x4096 f32", "rowsum", "GB/s", 1, 4096},
      {"sum() 16M f32", "sum", "GB/s", 2, 1 << 24},
      {"matmul 1024 f32", "matmul1024", "GFLOPS", 3, 1024},
      {"matmul 4096 f32", "matmul4096", "GFLOPS", 3, 4096},
  };
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    const bcase *c = &cases[i];
    double s = time_case(c), n = (double)c->n;
    double ours = c->kind == 0 ? 12 * n / s / 1e9 : c->kind == 1 ? 4 * n * n / s / 1e9
                : c->kind == 2 ? 4 * n / s / 1e9 : 2 * n * n * n / s / 1e9;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "gpu %s", c->ref);
    bench_report(c->name, ours, bench_reference(cmd), c->unit, "PyTorch (cuBLAS)", 1);
  }
  return 0;
}
