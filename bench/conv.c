/* conv.c: the four convolutions of beautiful_mnist (batch 512), forward and backward (dx and dw) under the JIT, in
 * GFLOPS and ms, against the real tinygrad doing the same under TinyJit (bench/ref.py conv L). The sum over the
 * layers is what one training step spends in convolutions. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bench.h"

typedef struct bench_layer {
  int cin, cout, hw, k;
} bench_layer;

static const bench_layer bench_layers[4] = {{1, 32, 28, 5}, {32, 32, 24, 5}, {32, 64, 10, 3}, {64, 64, 8, 3}};

typedef struct bench_ctx {
  tg_tensor *w, *g;
} bench_ctx;

/* y = conv(x, w); L = sum(y * g): outputs y, dL/dx, dL/dw */
static int bench_step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)n_in, (void)n_out;
  bench_ctx *c = (bench_ctx *)ctx;
  tg_tensor *x = tg_requires_grad(tg_detach(in[0]), 1);
  tg_tensor *y = tg_conv2d(x, c->w, NULL, 1, 0, 1, 1);
  tg_tensor *wrt[2] = {x, c->w}, *gr[2] = {NULL, NULL};
  if (tg_gradient(tg_mul(y, c->g), wrt, 2, gr) < 0) return -1;
  out[0] = y, out[1] = gr[0], out[2] = gr[1];
  return tg_realize_all(out, 3);
}

int main(void) {
  const int B = 512, reps = 7;
  double total = 0, total_ref = 0;
  for (int l = 0; l < 4; l++) {
    const bench_layer *L = &bench_layers[l];
    int oh = L->hw - L->k + 1;
    bench_ctx c;
    c.w = tg_requires_grad(tg_randn(TG_FLOAT32, TG_SHAPE(L->cout, L->cin, L->k, L->k)), 1);
    c.g = tg_randn(TG_FLOAT32, TG_SHAPE(B, L->cout, oh, oh));
    tg_tensor *x = tg_randn(TG_FLOAT32, TG_SHAPE(B, L->cin, L->hw, L->hw));
    tg_realize(c.w), tg_realize(c.g), tg_realize(x);
    tg_jit *j = tg_jit_new(bench_step, &c);
    double t[7];
    for (int i = 0; i < reps + 3; i++) {
      tg_scope_begin();
      tg_tensor *out[3];
      double t0 = bench_now();
      if (tg_jit_run(j, &x, 1, out, 3) < 0) {
        fprintf(stderr, "conv: %s\n", tg_error());
        return 1;
      }
      if (i >= 3) t[i - 3] = bench_now() - t0;
      tg_scope_end();
    }
    double ms = bench_median(t, reps) * 1e3;
    double flops = 3 * 2.0 * B * L->cout * oh * oh * (double)L->cin * L->k * L->k;
    char name[96], refcase[32];
    snprintf(name, sizeof name, "conv %d->%d %dx%d @%d fwd+bwd (%.0f GFLOPS)", L->cin, L->cout, L->k, L->k, L->hw,
             flops / (ms * 1e-3) / 1e9);
    snprintf(refcase, sizeof refcase, "conv %d", l);
    double ref = bench_reference(refcase);
    bench_report(name, ms, ref, "ms", "tinygrad", 0);
    total += ms, total_ref += ref;
    tg_jit_free(j);
    tg_free(x), tg_free(c.w), tg_free(c.g);
  }
  bench_report("the four convs of a training step", total, total_ref, "ms", "tinygrad", 0);
  return 0;
}
