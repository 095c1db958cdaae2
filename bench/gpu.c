/* gpu.c: the GPU backends against PyTorch on the same GPU (bench/ref.py gpu CASE, measured in the same run).
 *
 * usage: DEV=CUDA build/bench/gpu [CASE...]  (DEV=OPENCL for an OpenCL device; without a GPU it says so and exits 0)
 * Each case is a JIT'd function replayed on the device; a replay is timed from launch to tg_synchronize, median of
 * 21. The cases are the GPU issue's figures: sums of 64M floats (whole, by rows and by columns of 8192x8192) and
 * relu(2a+b) over 64M floats in GB/s moved; matmuls of 4096 in float32 (PyTorch with TF32 off, cuBLAS's float32
 * path), float16 and bfloat16 in TFLOPS; a JIT replay of 32 small kernels, microseconds per kernel (PyTorch: the
 * same 32 launches from Python, eagerly); and beautiful_mnist's training step, batch 512 with Adam, in milliseconds
 * (examples/mnist_model.h, on random images; PyTorch eager, the same model). Names on the command line pick cases
 * (sum, rowsum, colsum, elementwise, matmul, matmul_half, matmul_bf16, replay, mnist, tc_peak: the tensor cores'
 * ceiling through mma.sync, with no reference). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "backends/tinygrad_cuda.h"
#include "backends/tinygrad_opencl.h"
#include "examples/mnist_model.h"
#include "bench.h"
#include <string.h>

enum { REPS = 21, CHAIN = 32 };
enum { K_ELEMENTWISE, K_ROWSUM, K_COLSUM, K_SUM, K_MATMUL, K_REPLAY, K_MNIST };

typedef struct bcase { const char *name, *ref, *unit; int kind; int64_t n; tg_dtype dt; } bcase;

static int step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)n_in, (void)n_out;
  const bcase *c = (const bcase *)ctx;
  switch (c->kind) {
  case K_ELEMENTWISE: out[0] = tg_relu(tg_add(tg_mul_s(in[0], 2), in[1])); break;
  case K_ROWSUM: out[0] = tg_sum(in[0], TG_AXES(1), 0); break;
  case K_COLSUM: out[0] = tg_sum(in[0], TG_AXES(0), 0); break;
  case K_SUM: out[0] = tg_sum(in[0], 0, NULL, 0); break;
  case K_MATMUL: out[0] = tg_matmul(in[0], in[1]); break;
  default: { /* CHAIN dependent kernels, each realised: the replay's cost per launch */
    tg_tensor *x = in[0];
    for (int i = 0; i < CHAIN; i++) x = tg_contiguous(tg_add_s(x, 1)); /* each a kernel of its own */
    out[0] = x;
  }
  }
  return 0;
}

/* seconds per replay, median */
static double time_case(const bcase *c) {
  int64_t n = c->n;
  tg_tensor *in[2];
  int square = c->kind == K_ROWSUM || c->kind == K_COLSUM || c->kind == K_MATMUL;
  for (int i = 0; i < 2; i++) {
    in[i] = square ? tg_rand(TG_FLOAT32, TG_SHAPE(n, n)) : tg_rand(TG_FLOAT32, TG_SHAPE(n));
    if (c->dt != TG_FLOAT32) in[i] = tg_cast(in[i], c->dt);
  }
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
    if (r == REPS + 2 && c->kind == K_MATMUL) { /* spot check one element against a dot product on the host */
      float *A = tg_to_float(in[0]), *B = tg_to_float(in[1]), *C = tg_to_float(out);
      double ref = 0;
      for (int64_t k = 0; k < n; k++) ref += (double)A[5 * n + k] * B[k * n + 7];
      double tol = c->dt == TG_FLOAT32 ? 1e-3 : 2e-2;
      if (fabs(ref - C[5 * n + 7]) > tol * fabs(ref))
        fprintf(stderr, "%s: WRONG %g vs %g\n", c->name, C[5 * n + 7], ref);
      free(A), free(B), free(C);
    }
    if (r == REPS + 2 && c->kind == K_SUM) { /* and a sum against the host's, in double */
      float *A = tg_to_float(in[0]), *S = tg_to_float(out);
      double ref = 0;
      for (int64_t k = 0; k < n; k++) ref += A[k];
      if (fabs(ref - S[0]) > 1e-4 * fabs(ref)) fprintf(stderr, "%s: WRONG %g vs %g\n", c->name, S[0], ref);
      free(A), free(S);
    }
    tg_scope_end();
  }
  tg_jit_free(j);
  tg_free(in[0]);
  tg_free(in[1]);
  return bench_median(t, REPS);
}

/* seconds per MNIST training step (a JIT replay, synchronised), median; NAN on an error */
static double time_mnist(void) {
  trainer t;
  memset(&t, 0, sizeof t);
  t.bs = 512;
  t.x_train = tg_cast(tg_mul_s(tg_rand(TG_FLOAT32, TG_SHAPE(8192, 1, 28, 28)), 255), TG_UINT8);
  t.y_train = tg_randint(0, 10, TG_INT32, TG_SHAPE(8192));
  tg_tensor *data[2] = {t.x_train, t.y_train};
  tg_state_dict *sd = NULL;
  tg_jit *j = NULL;
  double times[REPS], med = NAN;
  int rc = tg_realize_all(data, 2) < 0 || model_init(&t.m) < 0 || !(sd = model_state(&t.m)) ||
           !(t.opt = model_adam(sd)) || !(j = tg_jit_new(train_step, &t)) ? -1 : 0;
  for (int r = 0; rc == 0 && r < REPS + 3; r++) {
    tg_scope_begin();
    tg_tensor *loss = NULL;
    tg_synchronize(NULL);
    double t0 = bench_now();
    rc = tg_jit_run(j, NULL, 0, &loss, 1);
    if (rc == 0) rc = tg_synchronize(NULL);
    if (r >= 3) times[r - 3] = bench_now() - t0;
    if (rc == 0 && r == REPS + 2 && !(tg_item(loss) > 0 && tg_item(loss) < 10)) /* ln 10 = 2.3 at first */
      fprintf(stderr, "mnist: WRONG loss %g\n", tg_item(loss));
    tg_scope_end();
  }
  if (rc == 0) med = bench_median(times, REPS);
  else fprintf(stderr, "gpu bench mnist: %s\n", tg_error());
  tg_jit_free(j);
  tg_optimizer_free(t.opt);
  tg_state_dict_free(sd);
  model_free(&t.m);
  tg_free(t.x_train), tg_free(t.y_train);
  return med;
}

/* The ceiling of the tensor cores through mma.sync m16n8k16 (float16, float32 accumulate), the instruction TC uses:
 * a kernel of the CUDA dialect's helper alone, 8 independent chains of 2048 multiply-adds per warp, 132 x 16 blocks
 * of 256 threads, no memory traffic. TFLOPS, best of 5; NAN where there are no tensor cores */
static double tc_peak(void) {
  tg__device *d = tg__device_get(NULL);
  if (!d || d->dialect != &tg__dialect_cuda) return NAN;
  char src[8192];
  snprintf(src, sizeof src,
           "%s%sextern \"C\" __global__ void tc_peak(float* __restrict__ data0) {\n"
           "  unsigned a0 = threadIdx.x * 2654435761u & 0x3bff3bffu, a1 = a0 ^ 0x01000100u, a2 = a0 ^ 0x02000200u;\n"
           "  unsigned a3 = a0 ^ 0x00100010u, b0 = a0 ^ 0x00200020u, b1 = a0 ^ 0x00400040u;\n"
           "  float4 c[8];\n"
           "  for (int i = 0; i < 8; i++) c[i] = make_float4(0.f, 0.f, 0.f, 0.f);\n"
           "  for (int it = 0; it < 2048; it++)\n"
           "#pragma unroll\n"
           "    for (int i = 0; i < 8; i++) c[i] = tg_mma_f16(a0, a1, a2, a3, b0, b1, c[i]);\n"
           "  float s = 0.f;\n"
           "  for (int i = 0; i < 8; i++) s += c[i].x + c[i].y + c[i].z + c[i].w;\n"
           "  data0[blockIdx.x * blockDim.x + threadIdx.x] = s;\n"
           "}\n",
           d->dialect->prelude, d->dialect->wmma_prelude);
  tg__program *p = tg__dev_compile(d, "tc_peak", src);
  int64_t blocks = 132 * 16, threads = 256;
  void *buf = p ? tg__dev_alloc(d, sizeof(float) * (size_t)(blocks * threads)) : NULL, *bufs[1] = {buf};
  if (!buf) return NAN;
  p->global_size = blocks, p->local_size = threads;
  double best = INFINITY;
  for (int r = 0; r < 6; r++) {
    double t0 = bench_now();
    if (tg__dev_launch(p, bufs, 1) || tg__dev_synchronize(d)) return NAN;
    if (r && bench_now() - t0 < best) best = bench_now() - t0;
  }
  tg__dev_free(d, buf, sizeof(float) * (size_t)(blocks * threads));
  return (double)blocks * (threads / 32) * 2048.0 * 8 * 2 * 16 * 8 * 16 / best / 1e12;
}

static int wanted(int argc, char **argv, const char *ref) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], ref)) return 1;
  return argc < 2;
}

int main(int argc, char **argv) {
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
      {"sum() 64M f32", "sum", "GB/s", K_SUM, 1 << 26, TG_FLOAT32},
      {"sum(axis=1) 8192x8192 f32", "rowsum", "GB/s", K_ROWSUM, 8192, TG_FLOAT32},
      {"sum(axis=0) 8192x8192 f32", "colsum", "GB/s", K_COLSUM, 8192, TG_FLOAT32},
      {"elementwise relu(2a+b), 64M f32", "elementwise", "GB/s", K_ELEMENTWISE, 1 << 26, TG_FLOAT32},
      {"matmul 4096 f32", "matmul", "TFLOPS", K_MATMUL, 4096, TG_FLOAT32},
      {"matmul 4096 f16", "matmul_half", "TFLOPS", K_MATMUL, 4096, TG_FLOAT16},
      {"matmul 4096 bf16", "matmul_bf16", "TFLOPS", K_MATMUL, 4096, TG_BFLOAT16},
      {"JIT replay, per kernel (32 small kernels)", "replay", "us", K_REPLAY, 1024, TG_FLOAT32},
      {"beautiful_mnist train step, batch 512", "mnist", "ms", K_MNIST, 512, TG_FLOAT32},
  };
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    const bcase *c = &cases[i];
    if (!wanted(argc, argv, c->ref)) continue;
    double s = c->kind == K_MNIST ? time_mnist() : time_case(c), n = (double)c->n, ours;
    switch (c->kind) {
    case K_ELEMENTWISE: ours = 12 * n / s / 1e9; break;
    case K_ROWSUM: case K_COLSUM: ours = 4 * n * n / s / 1e9; break;
    case K_SUM: ours = 4 * n / s / 1e9; break;
    case K_MATMUL: ours = 2 * n * n * n / s / 1e12; break;
    case K_MNIST: ours = s * 1e3; break;
    default: ours = s / CHAIN * 1e6;
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "gpu %s", c->ref);
    bench_report(c->name, ours, bench_reference(cmd), c->unit, "PyTorch", c->kind != K_REPLAY && c->kind != K_MNIST);
  }
  if (wanted(argc, argv, "tc_peak")) { /* no reference: the physical limit the matmuls above are measured against */
    double peak = tc_peak();
    if (!isnan(peak)) printf("%-45s %9.2f TFLOPS  | mma.sync's ceiling here (no memory traffic)\n", "tc_peak", peak);
  }
  return 0;
}
