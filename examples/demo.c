/* demo.c: the Mandelbrot set, computed lazily by tinygrad.h and drawn in the terminal.
 *
 * Sixty iterations of z = z^2 + c over a 36x100 grid are sixty times a handful of tensor ops. Nothing runs until the
 * picture is read: then the scheduler fuses the whole chain into ONE kernel, which is compiled to C, cached on disk
 * and run on every core. The demo prints that kernel count, the time, and the picture.
 *
 *   make demo            (or: cc -O2 examples/demo.c -I. -lm -ldl -lpthread && ./a.out)
 *   DEBUG=3 make demo    also prints the generated kernel */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include <stdio.h>
#include <time.h>

#define ROWS 36
#define COLS 100
#define ITERS 60

int main(void) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tg_scope_begin(); /* every tensor made below is freed at tg_scope_end */

  /* c = x + iy over [-2.2, 0.8] x [-1.2, 1.2] */
  tg_tensor *x = tg_reshape(tg_linspace(-2.2, 0.8, COLS, TG_FLOAT32), TG_SHAPE(1, COLS));
  tg_tensor *y = tg_reshape(tg_linspace(-1.2, 1.2, ROWS, TG_FLOAT32), TG_SHAPE(ROWS, 1));
  tg_tensor *cr = tg_expand(x, TG_SHAPE(ROWS, COLS)), *ci = tg_expand(y, TG_SHAPE(ROWS, COLS));

  /* iterate, counting the steps each point stays inside |z| <= 2 */
  tg_tensor *zr = tg_zeros_like(cr), *zi = tg_zeros_like(ci), *count = tg_zeros_like(cr);
  for (int i = 0; i < ITERS; i++) {
    tg_tensor *inside = tg_le(tg_add(tg_square(zr), tg_square(zi)), tg_full_like(zr, 4.0));
    count = tg_add(count, tg_cast(inside, TG_FLOAT32));
    tg_tensor *nr = tg_add(tg_sub(tg_square(zr), tg_square(zi)), cr);
    tg_tensor *ni = tg_add(tg_mul_s(tg_mul(zr, zi), 2.0), ci);
    zr = tg_clip(nr, -4, 4); /* clipped so escaped points stay finite */
    zi = tg_clip(ni, -4, 4);
  }

  tg_schedule *s = tg_schedule_create(&count, 1);
  int kernels = tg_schedule_count(s);
  tg_schedule_free(s);

  float img[ROWS * COLS];
  if (tg_to_host(count, img, sizeof img) < 0) {
    fprintf(stderr, "demo failed: %s\n", tg_error());
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  tg_scope_end();

  const char *shades = " .:-=+*#%@";
  for (int r = 0; r < ROWS; r++) {
    for (int c = 0; c < COLS; c++) {
      float v = img[r * COLS + c];
      putchar(v >= ITERS ? '@' : shades[(int)(v * 9 / ITERS)]);
    }
    putchar('\n');
  }
  printf("\n%d iterations of z = z^2 + c on a %dx%d grid: %d kernel(s), %.1f ms (compiles the first time, then "
         "cached), %lld tensors live after the scope\n",
         ITERS, ROWS, COLS, kernels, 1e3 * ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)),
         (long long)tg_live_tensors());
  return 0;
}
