/* matmul.c: 1024x1024 float32 matmul in GFLOPS, against numpy (OpenBLAS). Also checks the result. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"
#include <math.h>

int main(void) {
  int64_t n = 1024;
  tg_tensor *a = tg_rand(TG_FLOAT32, TG_SHAPE(n, n)), *b = tg_rand(TG_FLOAT32, TG_SHAPE(n, n));
  tg_realize(a);
  tg_realize(b);
  float *ha = tg_to_float(a);
  double t[7];
  for (int i = 0; i < 8; i++) {
    tg_scope_begin();
    /* a fresh input buffer: the same graph over the same buffer is realised already (results are cached) */
    tg_tensor *a2 = tg_from_float(ha, TG_SHAPE(n, n));
    double t0 = bench_now();
    tg_tensor *c = tg_matmul(a2, b);
    if (tg_realize(c) < 0) { fprintf(stderr, "%s\n", tg_error()); return 1; }
    if (i) t[i - 1] = bench_now() - t0;
    if (i == 7) { /* spot check one element against a dot product on the host */
      float *A = tg_to_float(a2), *B = tg_to_float(b), *C = tg_to_float(c);
      double ref = 0;
      for (int k = 0; k < n; k++) ref += (double)A[5 * n + k] * B[k * n + 7];
      if (fabs(ref - C[5 * n + 7]) > 1e-3 * fabs(ref)) { fprintf(stderr, "wrong result\n"); return 1; }
      free(A), free(B), free(C);
    }
    tg_scope_end();
  }
  free(ha);
  double ours = 2.0 * n * n * n / bench_median(t, 7) / 1e9;
  bench_report("matmul 1024x1024 f32", ours, bench_reference("matmul"), "GFLOPS", "numpy/OpenBLAS", 1);
  return 0;
}
