/* matmul.c: N x N float32 matmul in GFLOPS against numpy (OpenBLAS), for each N of $MATMUL_SIZES (default "1024
 * 2048"; the third size is 4096). The median of 7 timed runs after a warm-up, each on a fresh input buffer
 * (the same graph over the same buffers would be realised already), copied in before the clock starts. The time is
 * what a program sees: building the graph, scheduling, B copied into panels, and the matmul kernel. Also checks one
 * element of the result. BEAM=n times the searched kernels (the search itself runs in the warm-up, or comes from the
 * cache). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"
#include <math.h>

static int bench_matmul(int64_t n) {
  tg_tensor *a = tg_rand(TG_FLOAT32, TG_SHAPE(n, n)), *b = tg_rand(TG_FLOAT32, TG_SHAPE(n, n));
  tg_realize(a);
  tg_realize(b);
  float *ha = tg_to_float(a);
  double t[7];
  for (int i = 0; i < 8; i++) {
    tg_scope_begin();
    tg_tensor *a2 = tg_from_float(ha, TG_SHAPE(n, n));
    tg_realize(a2); /* its copy to the device is not the matmul's time (numpy's operands are in place too) */
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
  tg_free(a);
  tg_free(b);
  char name[64], ref[32];
  snprintf(name, sizeof name, "matmul %lldx%lld f32", (long long)n, (long long)n);
  snprintf(ref, sizeof ref, "matmul %lld", (long long)n);
  double ours = 2.0 * (double)n * (double)n * (double)n / bench_median(t, 7) / 1e9;
  bench_report(name, ours, bench_reference(ref), "GFLOPS", "numpy/OpenBLAS", 1);
  return 0;
}

int main(void) {
  const char *sizes = getenv("MATMUL_SIZES");
  char buf[256];
  snprintf(buf, sizeof buf, "%s", sizes && sizes[0] ? sizes : "1024 2048");
  for (char *s = strtok(buf, " ,"); s; s = strtok(NULL, " ,")) {
    long long n = atoll(s);
    if (n < 1 || n > 16384) { fprintf(stderr, "MATMUL_SIZES: %s is not a size\n", s); return 1; }
    if (bench_matmul(n)) return 1;
  }
  return 0;
}
