/* reduce.c: sum(axis=1) of a 4096x4096 float32 matrix and sum() of 16M float32, in GB/s read, against numpy.
 * sum() reduces to one output: split in two kernels (split_reduceop), its threads share it; compare its GB/s with
 * bench/elementwise.c's (the optimizer issue's target: at least 80% of it). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"

/* the median time of 15 realisations of the sum over `axes` of a fresh copy of h (rows x cols) */
static double bench_sum(const float *h, int64_t rows, int64_t cols, int naxes, const int *axes) {
  double t[15];
  for (int i = 0; i < 16; i++) {
    tg_scope_begin();
    /* a fresh input buffer: the same graph over the same buffer is realised already (results are cached) */
    tg_tensor *a2 = tg_from_float(h, TG_SHAPE(rows, cols));
    double t0 = bench_now();
    if (tg_realize(tg_sum(a2, naxes, axes, 0)) < 0) {
      fprintf(stderr, "%s\n", tg_error());
      exit(1);
    }
    if (i) t[i - 1] = bench_now() - t0; /* the first run compiles */
    tg_scope_end();
  }
  return bench_median(t, 15);
}

int main(void) {
  tg_tensor *a = tg_rand(TG_FLOAT32, TG_SHAPE(4096, 4096));
  float *ha = tg_to_float(a);
  double bytes = 4.0 * 4096 * 4096;
  bench_report("sum(axis=1) 4096x4096 f32", bytes / bench_sum(ha, 4096, 4096, TG_AXES(1)) / 1e9,
               bench_reference("reduce"), "GB/s", "numpy", 1);
  bench_report("sum() 16M f32", bytes / bench_sum(ha, 4096, 4096, 0, NULL) / 1e9, bench_reference("reduce_all"),
               "GB/s", "numpy", 1);
  free(ha);
  return 0;
}
