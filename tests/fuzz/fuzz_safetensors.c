/* fuzz_safetensors.c: libFuzzer target for the safetensors loader (make fuzz).
 *
 * Contract:
 *  - The input is a whole safetensors file. It goes to tg__st_load_bytes, the loader of tg_safetensors_load less the
 *    reading of the file, so the input's exact heap buffer is parsed (ASan sees a read one byte past its end, which
 *    an mmap'd page would hide).
 *  - A loaded tensor's sizes fit: the product of its nonzero dimensions and its element size is at most INT64_MAX.
 *  - A file that loads must round-trip: its header written back (tg__st_header_json, tinygrad's bytes) plus every
 *    tensor's bytes loads again to the same names, dtypes, shapes, bytes and metadata. Any difference traps.
 *  - Nothing may compile a kernel (the loader creates tensors from data): a compiler invocation traps.
 *  - Everything allocated is freed (libFuzzer runs LeakSanitizer); the thread's error is cleared for the next input. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the bytes of a loaded tensor (malloc'd, *n set), or NULL */
static unsigned char *fz_bytes(tg_tensor *t, size_t *n) {
  *n = (size_t)tg_numel(t) * (size_t)tg_dtype_size(tg_dtype_of(t));
  unsigned char *b = (unsigned char *)malloc(*n ? *n : 1);
  if (b && tg_to_host(t, b, *n) != 0) __builtin_trap(); /* a loaded tensor is a buffer: reading cannot fail */
  return b;
}

/* the loader's promise on sizes: the product of t's nonzero dimensions times its element size fits in int64, so
 * no product of sizes (numel, strides, bytes) can overflow in any order, zeros or not */
static void fz_sizes_fit(tg_tensor *t) {
  int64_t p = tg_dtype_size(tg_dtype_of(t));
  for (int d = 0; d < tg_ndim(t); d++)
    if (tg_shape(t)[d] < 0 || (tg_shape(t)[d] && __builtin_mul_overflow(p, tg_shape(t)[d], &p))) __builtin_trap();
}

/* a and b hold the same tensors (names, dtypes, shapes, bytes, in order) and the same metadata */
static void fz_same(const tg_state_dict *a, const tg_state_dict *b) {
  if (tg_state_dict_count(a) != tg_state_dict_count(b)) __builtin_trap();
  if (tg_state_dict_metadata_count(a) != tg_state_dict_metadata_count(b)) __builtin_trap();
  for (int i = 0; i < tg_state_dict_metadata_count(a); i++)
    if (strcmp(tg_state_dict_metadata_key(a, i), tg_state_dict_metadata_key(b, i)) != 0 ||
        strcmp(tg_state_dict_metadata_value(a, i), tg_state_dict_metadata_value(b, i)) != 0)
      __builtin_trap();
  for (int i = 0; i < tg_state_dict_count(a); i++) {
    tg_tensor *x = tg_state_dict_tensor(a, i), *y = tg_state_dict_tensor(b, i);
    if (strcmp(tg_state_dict_name(a, i), tg_state_dict_name(b, i)) != 0 || tg_dtype_of(x) != tg_dtype_of(y) ||
        tg_ndim(x) != tg_ndim(y) || memcmp(tg_shape(x), tg_shape(y), sizeof(int64_t) * (size_t)tg_ndim(x)) != 0)
      __builtin_trap();
    size_t nx, ny;
    unsigned char *bx = fz_bytes(x, &nx), *by = fz_bytes(y, &ny);
    if (nx != ny || (nx && memcmp(bx, by, nx) != 0)) __builtin_trap();
    free(bx);
    free(by);
  }
}

/* sd as a safetensors file in memory, as tg_safetensors_save writes it (NULL if a name cannot be saved) */
static unsigned char *fz_serialize(const tg_state_dict *sd, size_t *n) {
  size_t hlen;
  char *header = tg__st_header_json(sd, &hlen);
  if (!header) return NULL;
  size_t cap = 8 + hlen, at = 8 + hlen;
  for (int i = 0; i < tg_state_dict_count(sd); i++) {
    tg_tensor *t = tg_state_dict_tensor(sd, i);
    cap += (size_t)tg_numel(t) * (size_t)tg_dtype_size(tg_dtype_of(t));
  }
  unsigned char *f = (unsigned char *)malloc(cap);
  for (int k = 0; k < 8; k++) f[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
  memcpy(f + 8, header, hlen);
  TG_FREE(header);
  for (int i = 0; i < tg_state_dict_count(sd); i++) {
    size_t nb;
    unsigned char *b = fz_bytes(tg_state_dict_tensor(sd, i), &nb);
    memcpy(f + at, b, nb);
    at += nb;
    free(b);
  }
  *n = at;
  return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_state_dict *sd = tg__st_load_bytes("fuzz.safetensors", data, size);
  if (!sd && !tg_error()) __builtin_trap(); /* a refusal always says why */
  if (sd) {
    for (int i = 0; i < tg_state_dict_count(sd); i++) fz_sizes_fit(tg_state_dict_tensor(sd, i));
    size_t n;
    unsigned char *again = fz_serialize(sd, &n);
    if (!again) __builtin_trap(); /* loaded names are UTF-8 and never "__metadata__", sizes were checked */
    tg_state_dict *back = tg__st_load_bytes("again.safetensors", again, n);
    if (!back) __builtin_trap(); /* what we write, we read */
    fz_same(sd, back);
    tg_state_dict_free(back);
    free(again);
  }
  tg_state_dict_free(sd);
  if (tg_compiler_invocations() != 0) __builtin_trap();
  tg_clear_error();
  tg__uop_gc(NULL, 0); /* frees this input's nodes now: libFuzzer's check for leaks after each input stays exact */
  return 0;
}
