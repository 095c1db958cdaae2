/* fuzz_gguf.c: libFuzzer target for the GGUF loader (make fuzz).
 *
 * Contract:
 *  - The input is a whole GGUF file. It goes to tg__gguf_load_bytes, the loader of tg_gguf_load less the reading of
 *    the file, so the input's exact heap buffer is parsed (ASan sees a read one byte past its end, which an mmap'd
 *    page would hide).
 *  - A file that loads is readable whole: every key-value's every element through the accessor of its type (a
 *    string's length matches its bytes up to any NUL), every tensor's shape with sizes that fit, and the type of each
 *    tensor known. Any inconsistency traps.
 *  - Nothing may compile a kernel (the loader makes buffers and lazy graphs): a compiler invocation traps.
 *  - Everything allocated is freed (libFuzzer runs LeakSanitizer); the thread's error is cleared for the next input. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fz_check(const tg_gguf *g) {
  for (int64_t i = 0; i < tg_gguf_kv_count(g); i++) {
    const char *key = tg_gguf_kv_key(g, i);
    if (!key || !key[0] || tg_gguf_kv_find(g, key) != i) __builtin_trap();
    int type = tg_gguf_kv_type(g, i), et = tg_gguf_kv_element_type(g, i);
    int64_t n = tg_gguf_kv_len(g, i);
    if (n < 0 || (type != TG_GGUF_ARRAY && (n != 1 || et != type)) || et == TG_GGUF_ARRAY) __builtin_trap();
    for (int64_t j = 0; j < n; j++) {
      int64_t v, len = -1;
      double f;
      if (et == TG_GGUF_STRING) {
        const char *s = tg_gguf_kv_str(g, i, j, &len);
        if (!s || len < 0 || strlen(s) > (size_t)len || s[len] != 0) __builtin_trap();
      } else if (tg_gguf_kv_float(g, i, j, &f) != 0) __builtin_trap();
      else if (et != TG_GGUF_FLOAT32 && et != TG_GGUF_FLOAT64 && et != TG_GGUF_UINT64 && tg_gguf_kv_int(g, i, j, &v) != 0)
        __builtin_trap();
    }
  }
  tg_state_dict *sd = tg_gguf_tensors(g);
  for (int i = 0; i < tg_state_dict_count(sd); i++) {
    tg_tensor *t = tg_state_dict_tensor(sd, i);
    int64_t p = tg_dtype_size(tg_dtype_of(t));
    for (int d = 0; d < tg_ndim(t); d++)
      if (tg_shape(t)[d] < 0 || (tg_shape(t)[d] && __builtin_mul_overflow(p, tg_shape(t)[d], &p))) __builtin_trap();
    if (!tg_gguf_type_name(tg_gguf_tensor_type(g, tg_state_dict_name(sd, i)))) __builtin_trap();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg_gguf *g = tg__gguf_load_bytes("fuzz.gguf", data, size, 0);
  if (!g && !tg_error()) __builtin_trap(); /* a refusal always says why */
  if (g) fz_check(g);
  tg_gguf_free(g);
  if (tg_compiler_invocations() != 0) __builtin_trap();
  tg_clear_error();
  tg__uop_gc(NULL, 0); /* frees this input's nodes now: libFuzzer's check for leaks after each input stays exact */
  return 0;
}
