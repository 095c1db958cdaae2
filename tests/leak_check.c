/* leak_check.c: creates and frees 100k tensors (in scopes and by hand, with realisations and errors in between) and
 * exits 0; `make leakcheck` runs it under valgrind, which must report no definite or indirect leak. Not part of the
 * test runner: valgrind makes it slow, and it checks the process as a whole, exit included. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include <stdio.h>

int main(void) {
  float data[64];
  for (int i = 0; i < 64; i++) data[i] = (float)i * 0.5f;
  tg_tensor *w = tg_from_float(data, TG_SHAPE(8, 8)); /* a "parameter", outside every scope */
  int64_t live0 = tg_live_tensors();
  double acc = 0;
  for (int step = 0; step < 10000; step++) {
    tg_scope_begin();
    /* ten tensors a step: 100k in all */
    tg_tensor *x = tg_from_float(data, TG_SHAPE(8, 8));
    tg_tensor *y = tg_relu(tg_sub_s(tg_matmul(x, w), 100.0));
    tg_tensor *z = tg_sum(tg_mul(y, y), 0, NULL, 0);
    tg_tensor *bad = tg_add(x, tg_ones(TG_FLOAT32, TG_SHAPE(3))); /* a broadcast error: NULL, nothing leaks */
    if (bad) return 1;
    tg_clear_error();
    if (step % 1000 == 0) acc += tg_item(z); /* realise now and then */
    tg_tensor *kept = tg_keep(tg_add_s(x, 1));
    tg_scope_end();
    tg_free(kept);
  }
  if (tg_live_tensors() != live0) {
    fprintf(stderr, "live tensors: %lld, expected %lld\n", (long long)tg_live_tensors(), (long long)live0);
    return 1;
  }
  tg_free(w);
  printf("leak_check: 100k tensors created and freed, checksum %.1f, %lld live\n", acc, (long long)tg_live_tensors());
  return acc > 0 ? 0 : 1;
}
