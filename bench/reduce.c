/* reduce.c: sum(axis=1) of a 4096x4096 float32 matrix, in GB/s read, against numpy. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"

int main(void) {
  tg_tensor *a = tg_rand(TG_FLOAT32, TG_SHAPE(4096, 4096));
  tg_realize(a);
  float *ha = tg_to_float(a);
  double t[15];
  for (int i = 0; i < 16; i++) {
    tg_scope_begin();
    /* a fresh input buffer: the same graph over the same buffer is realised already (results are cached) */
    tg_tensor *a2 = tg_from_float(ha, TG_SHAPE(4096, 4096));
    double t0 = bench_now();
    if (tg_realize(tg_sum(a2, TG_AXES(1), 0)) < 0) { fprintf(stderr, "%s\n", tg_error()); return 1; }
    if (i) t[i - 1] = bench_now() - t0;
    tg_scope_end();
  }
  free(ha);
  double ours = 4.0 * 4096 * 4096 / bench_median(t, 15) / 1e9;
  bench_report("sum(axis=1) 4096x4096 f32", ours, bench_reference("reduce"), "GB/s", "numpy", 1);
  return 0;
}
