/* graph.c: the time to build, schedule and render a chain of 100 elementwise ops (no compile, no run), in
 * microseconds, against the real tinygrad doing the same (Tensor.schedule_linear). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"

int main(void) {
  tg_tensor *x = tg_rand(TG_FLOAT32, TG_SHAPE(64));
  tg_realize(x);
  double t[21];
  for (int i = 0; i < 21; i++) {
    tg_scope_begin();
    double t0 = bench_now();
    tg_tensor *y = x;
    for (int j = 0; j < 100; j++) y = j % 2 ? tg_add_s(tg_mul_s(y, 1.01), 0.5) : tg_relu(y);
    tg_schedule *s = tg_schedule_create(&y, 1);
    if (!s || tg_schedule_count(s) != 1 || !tg_schedule_source(s, 0)) { fprintf(stderr, "%s\n", tg_error()); return 1; }
    tg_schedule_free(s);
    t[i] = bench_now() - t0;
    tg_scope_end();
  }
  bench_report("build+schedule+render 100 elementwise ops", bench_median(t, 21) * 1e6, bench_reference("graph"), "us",
               "tinygrad", 0);
  return 0;
}
