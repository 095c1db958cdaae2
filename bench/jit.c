/* jit.c: the cost of running a step of many small kernels: eagerly (build the graph, schedule, look up the compiled
 * programs, run) and replayed by the JIT (run only), in microseconds per kernel, against the real tinygrad's TinyJit
 * replaying the same 64 kernels of 64 elements (measured in the same run by bench/ref.py jit). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"

enum { KERNELS = 64, REPS = 51 };

/* 64 kernels: each op is forced into its own kernel, so the figure is the per-kernel overhead, not the arithmetic */
static int step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  tg_tensor *y = in[0];
  for (int i = 0; i < KERNELS; i++) y = tg_contiguous(i % 2 ? tg_add_s(tg_mul_s(y, 1.01), 0.5) : tg_relu(y));
  out[0] = y;
  return 0;
}

static double run(tg_jit *j, tg_tensor *x) {
  double t[REPS];
  for (int r = 0; r < REPS; r++) {
    tg_scope_begin();
    tg_tensor *out = NULL;
    double t0 = bench_now();
    int rc = j ? tg_jit_run(j, &x, 1, &out, 1) : (step(NULL, &x, 1, &out, 1) || tg_realize(out));
    t[r] = bench_now() - t0;
    if (rc) {
      fprintf(stderr, "jit bench: %s\n", tg_error());
      exit(1);
    }
    /* a new input each time, as a training loop has */
    tg_tensor *next = tg_add_s(x, 1e-3);
    tg_realize(next);
    tg_assign(x, next);
    tg_realize(x);
    tg_scope_end();
  }
  return bench_median(t, REPS) / KERNELS * 1e6;
}

int main(void) {
  tg_tensor *x = tg_rand(TG_FLOAT32, TG_SHAPE(64));
  tg_realize(x);
  double eager = run(NULL, x);
  tg_jit *j = tg_jit_new(step, NULL);
  double replay = run(j, x);
  if (tg_jit_kernels(j) != KERNELS) fprintf(stderr, "jit bench: captured %d kernels, expected %d\n", tg_jit_kernels(j), KERNELS);
  double ref = bench_reference("jit");
  bench_report("JIT replay, per kernel (64 kernels)", replay, ref, "us", "tinygrad TinyJit", 0);
  bench_report("eager step, per kernel (64 kernels)", eager, ref, "us", "tinygrad TinyJit", 0);
  tg_jit_free(j);
  tg_free(x);
  return 0;
}
