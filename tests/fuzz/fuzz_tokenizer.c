/* fuzz_tokenizer.c: libFuzzer target for the byte-level BPE tokenizer (make fuzz).
 *
 * Contract:
 *  - The first byte of the input picks the pre-tokenizer (gpt-2, starcoder, llama-bpe, qwen2); the rest is the text,
 *    any bytes (invalid UTF-8 included).
 *  - The vocabulary is built here as a GGUF file in memory (through tg__gguf_load_bytes): the 256 bytes, a few
 *    merges across letters, digits, spaces and a two-byte character, a user-defined and a control token.
 *  - Byte-level BPE loses nothing: decoding the ids of any text gives its bytes back exactly, with control tokens
 *    parsed or not, and the count of a second encoding into a buffer of exactly that size is the same. Any difference
 *    traps; so does an id outside the vocabulary.
 *  - Everything allocated is freed (libFuzzer runs LeakSanitizer). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "../gguf_writer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tg_tokenizer *fz_tok[4];

static tg_tokenizer *fz_make(const char *pre) {
  static const char *const extra[] = {"th", "the", "\xc4\xa0the", "12", "\xc4\xa0\xc4\xa0", "\xc3\xa9", "<u>", "<|c|>"};
  static const char *const merges[] = {"t h", "th e", "\xc4\xa0 the", "1 2", "\xc4\xa0 \xc4\xa0", "\xc3 \xa9"};
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4), gg_u32(&b, 3), gg_u64(&b, 0), gg_u64(&b, 5);
  gg_key(&b, "tokenizer.ggml.model", TG_GGUF_STRING), gg_str(&b, "gpt2");
  gg_key(&b, "tokenizer.ggml.pre", TG_GGUF_STRING), gg_str(&b, pre);
  gg_key(&b, "tokenizer.ggml.tokens", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, 264);
  for (int i = 0; i < 256; i++) {
    char c[4];
    gg_bytechar(i, c);
    gg_str(&b, c);
  }
  for (int i = 0; i < 8; i++) gg_str(&b, extra[i]);
  gg_key(&b, "tokenizer.ggml.token_type", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_INT32), gg_u64(&b, 264);
  for (int i = 0; i < 264; i++) gg_u32(&b, i == 262 ? 4 : i == 263 ? 3 : 1);
  gg_key(&b, "tokenizer.ggml.merges", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, 6);
  for (int i = 0; i < 6; i++) gg_str(&b, merges[i]);
  tg_gguf *g = tg__gguf_load_bytes("fuzz-vocab.gguf", b.p, b.n, 0);
  tg_tokenizer *t = g ? tg_tokenizer_from_gguf(g) : NULL;
  tg_gguf_free(g);
  free(b.p);
  if (!t) __builtin_trap();
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const pres[4] = {"gpt-2", "starcoder", "llama-bpe", "qwen2"};
  if (size < 1) return 0;
  int p = data[0] % 4;
  if (!fz_tok[p]) fz_tok[p] = fz_make(pres[p]); /* kept for the run: built once per pre-tokenizer */
  const char *text = (const char *)data + 1;
  int64_t len = (int64_t)size - 1;
  for (int special = 0; special < 2; special++) {
    int64_t n = tg_tokenizer_encode(fz_tok[p], text, len, special, NULL, 0);
    if (n < 0 || n > len) __builtin_trap(); /* at most a token a byte */
    int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
    if (tg_tokenizer_encode(fz_tok[p], text, len, special, ids, n) != n) __builtin_trap();
    char *back = (char *)malloc((size_t)len + 1);
    if (tg_tokenizer_decode(fz_tok[p], ids, n, back, len + 1) != len || memcmp(back, text, (size_t)len)) __builtin_trap();
    free(back);
    free(ids);
  }
  tg_clear_error();
  return 0;
}
