/* fuzz_state_dict.c: libFuzzer target for tg_load_state_dict with a loaded file (make fuzz).
 *
 * Contract:
 *  - The input is a safetensors file (loaded by tg__st_load_bytes, as tg_safetensors_load would), loaded into the
 *    state dict of a small model: fc.weight F32 (4, 3), fc.bias F32 (4), emb.weight F16 (5, 2), bn.steps I64 (),
 *    mask BOOL (3), empty F32 (0, 3), buffers made from data, and head.weight F32 (2, 2), a fresh lazy tg_zeros per
 *    input (the path that gives a dst a new buffer). Both strict = 1 and strict = 0.
 *  - On success every model tensor named in the file holds the file's bytes, the others their old bytes; on error
 *    no model tensor changes (bytes, and the lazy tensor's node). Anything else traps.
 *  - Nothing may compile a kernel: the model's buffers are read directly, the lazy tensor only once it has a buffer;
 *    a compiler invocation traps.
 *  - Everything allocated is freed (libFuzzer runs LeakSanitizer): the model lives for the whole run. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FZ_N 6 /* the model's buffers; the lazy one comes last in the dict */

static tg_state_dict *fz_model;
static tg_tensor *fz_t[FZ_N];
static const char *const fz_names[FZ_N] = {"fc.weight", "fc.bias", "emb.weight", "bn.steps", "mask", "empty"};

static void fz_free_model(void) {
  tg_state_dict_free(fz_model);
  for (int i = 0; i < FZ_N; i++) tg_free(fz_t[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static const float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b[4] = {-1, -2, -3, -4};
  static const uint16_t e[10] = {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700, 0x4800, 0x4880, 0x4900};
  static const int64_t steps = 99;
  static const uint8_t mask[3] = {1, 0, 1};
  static const float none[1] = {0};
  fz_t[0] = tg_from_data(w, TG_FLOAT32, 2, (int64_t[]){4, 3});
  fz_t[1] = tg_from_data(b, TG_FLOAT32, 1, (int64_t[]){4});
  fz_t[2] = tg_from_data(e, TG_FLOAT16, 2, (int64_t[]){5, 2});
  fz_t[3] = tg_from_data(&steps, TG_INT64, 0, NULL);
  fz_t[4] = tg_from_data(mask, TG_BOOL, 1, (int64_t[]){3});
  fz_t[5] = tg_from_data(none, TG_FLOAT32, 2, (int64_t[]){0, 3});
  fz_model = tg_state_dict_new();
  for (int i = 0; i < FZ_N; i++)
    if (!fz_t[i] || tg_state_dict_add(fz_model, fz_names[i], fz_t[i]) != 0) __builtin_trap();
  atexit(fz_free_model);
  return 0;
}

/* t's bytes (t must have a buffer), malloc'd */
static unsigned char *fz_bytes(tg_tensor *t, size_t *n) {
  *n = (size_t)tg_numel(t) * (size_t)tg_dtype_size(tg_dtype_of(t));
  unsigned char *b = (unsigned char *)malloc(*n ? *n : 1);
  if (tg_to_host(t, b, *n) != 0) __builtin_trap();
  return b;
}

/* ONE load: checks the outcome against the model's bytes before (old) */
static void fz_load(tg_state_dict *src, int strict, tg_tensor *lazy) {
  unsigned char *old[FZ_N];
  size_t n[FZ_N];
  for (int i = 0; i < FZ_N; i++) old[i] = fz_bytes(fz_t[i], &n[i]);
  tg__uop *lazy_uop = lazy->uop;
  int rc = tg_load_state_dict(fz_model, src, strict);
  if (rc != 0 && !tg_error()) __builtin_trap();
  for (int i = 0; i < FZ_N; i++) {
    tg_tensor *from = tg_state_dict_get(src, fz_names[i]);
    size_t m;
    unsigned char *now = fz_bytes(fz_t[i], &m);
    const unsigned char *want = old[i];
    unsigned char *file = NULL;
    if (rc == 0 && from) {
      size_t nf;
      file = fz_bytes(from, &nf);
      if (nf != m) __builtin_trap(); /* shapes and dtypes were checked */
      want = file;
    }
    if (m != n[i] || (m && memcmp(now, want, m) != 0)) __builtin_trap();
    free(now);
    free(file);
    free(old[i]);
  }
  tg_tensor *from = tg_state_dict_get(src, "head.weight");
  if (rc == 0 && from) { /* the lazy tensor now has the file's bytes in a buffer of its own */
    size_t a, b;
    unsigned char *x = fz_bytes(lazy, &a), *y = fz_bytes(from, &b);
    if (a != b || memcmp(x, y, a) != 0) __builtin_trap();
    free(x);
    free(y);
  } else if (lazy->uop != lazy_uop) {
    __builtin_trap(); /* untouched on error, or when the file does not name it */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_state_dict *src = tg__st_load_bytes("fuzz.safetensors", data, size);
  if (src) {
    for (int strict = 1; strict >= 0; strict--) {
      tg_tensor *lazy = tg_zeros(TG_FLOAT32, 2, (int64_t[]){2, 2});
      if (!lazy || tg_state_dict_add(fz_model, "head.weight", lazy) != 0) __builtin_trap();
      fz_load(src, strict, lazy);
      /* the lazy entry leaves the dict again (entries cannot be removed: a new dict of the buffers) */
      tg_state_dict *next = tg_state_dict_new();
      for (int i = 0; i < FZ_N; i++) tg_state_dict_add(next, fz_names[i], fz_t[i]);
      tg_state_dict_free(fz_model);
      fz_model = next;
      tg_free(lazy);
    }
  }
  tg_state_dict_free(src);
  if (tg_compiler_invocations() != 0) __builtin_trap();
  tg_clear_error();
  tg__uop_gc(NULL, 0); /* frees this input's nodes now: libFuzzer's check for leaks after each input stays exact */
  return 0;
}
