/* custom_device.c: your own device, registered beside the built-in ones (the tinygrad learning guide's project 7).
 *
 * examples/my_device.h builds a device "MY" from three parts, as tinygrad's custom devices are: an allocator (malloc),
 * a compiler (cc on the C the renderer prints) and a runner (dlopen, then the kernel's loop on one thread). Here it
 * computes [1,2,3] + [4,5,6], then times a 256x256 matmul on MY, on the built-in CPU device (the same C, on a pool
 * of threads) and, where a driver is there, on CUDA and OpenCL, and prints GFLOPS side by side.
 *
 *   make build/custom_device && ./build/custom_device
 *   DEBUG=3 ./build/custom_device     also prints the C each device compiles */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "backends/tinygrad_cuda.h"   /* CUDA, if this machine has a driver and a GPU */
#include "backends/tinygrad_opencl.h" /* OpenCL, if it has an ICD */
#include "my_device.h"

#include <stdio.h>
#include <time.h>

#define N 256
#define REPS 20

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* the median time of a 256x256 matmul on `device` (its first run compiles and is not counted), checked against the
 * host's own product; NAN when the device is not there. Each run multiplies a fresh copy of a (the same graph over the
 * same buffers would be computed already), copied to the device before the clock starts. */
static double matmul_seconds(const char *device, const float *a, const float *b, const float *want) {
  double t[REPS];
  tg_tensor *y = tg_to(tg_from_float(b, TG_SHAPE(N, N)), device);
  int ok = y && tg_realize(y) == 0;
  for (int r = -1; r < REPS && ok; r++) {
    tg_scope_begin();
    tg_tensor *x = tg_to(tg_from_float(a, TG_SHAPE(N, N)), device);
    ok = tg_realize(x) == 0 && tg_synchronize(device) == 0;
    double t0 = now();
    tg_tensor *z = tg_matmul(x, y);
    ok = ok && tg_realize(z) == 0 && tg_synchronize(device) == 0;
    if (r >= 0) t[r] = now() - t0;
    if (ok && r == REPS - 1) { /* the last result, checked */
      float *got = tg_to_float(z);
      double worst = 0;
      for (int i = 0; got && i < N * N; i++) worst = fmax(worst, fabs((double)got[i] - (double)want[i]));
      ok = got && worst < 1e-3;
      if (got && !ok) printf("%s: wrong result (off by %g)\n", device, worst);
      free(got);
    }
    tg_scope_end();
  }
  tg_free(y);
  if (!ok) return NAN;
  qsort(t, REPS, sizeof t[0], cmp_double);
  return t[REPS / 2];
}

int main(void) {
  if (my_device_register("MY") != 0) {
    fprintf(stderr, "custom_device: %s\n", tg_error());
    return 1;
  }

  /* [1,2,3] + [4,5,6] on MY */
  static const float u[3] = {1, 2, 3}, v[3] = {4, 5, 6};
  tg_set_default_device("MY"); /* tensors are made on MY from here on */
  tg_tensor *s = tg_add(tg_from_float(u, TG_SHAPE(3)), tg_from_float(v, TG_SHAPE(3)));
  float got[3] = {0, 0, 0};
  if (tg_to_host(s, got, sizeof got) != 0) {
    fprintf(stderr, "custom_device: %s\n", tg_error());
    return 1;
  }
  printf("on %s: [1,2,3] + [4,5,6] = [%g,%g,%g]\n", tg_device_of(s), got[0], got[1], got[2]);
  tg_free(s);
  tg_set_default_device(NULL); /* back to DEV, or the CPU */
  if (got[0] != 5 || got[1] != 7 || got[2] != 9) return 1;

  /* a 256x256 matmul on each device, against the host's product */
  static float a[N * N], b[N * N], want[N * N];
  for (int i = 0; i < N * N; i++) a[i] = (float)((i * 7) % 13) / 13 - 0.5f, b[i] = (float)((i * 5) % 11) / 11 - 0.5f;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double acc = 0;
      for (int k = 0; k < N; k++) acc += (double)a[i * N + k] * b[k * N + j];
      want[i * N + j] = (float)acc;
    }
  printf("\n%dx%d matmul, float32, median of %d runs:\n", N, N, REPS);
  static const char *const devices[] = {"MY", "CPU", "CUDA", "OPENCL"};
  int failed = 0;
  for (int i = 0; i < 4; i++) {
    tg_clear_error();
    double sec = matmul_seconds(devices[i], a, b, want);
    if (sec == sec) printf("  %-7s %9.1f us  %8.2f GFLOPS\n", devices[i], sec * 1e6, 2.0 * N * N * N / sec * 1e-9);
    else if (i < 2) failed = 1, printf("  %-7s failed: %s\n", devices[i], tg_error() ? tg_error() : "wrong values");
    else printf("  %-7s not here (%.90s...)\n", devices[i], tg_error() ? tg_error() : "?");
  }
  return failed;
}
