/* fuzz_tokenizer.c: libFuzzer target for the tokenizers (make fuzz).
 *
 * Contract:
 *  - The first byte of the input, modulo 8, picks the tokenizer: 0-3 byte-level BPE by pre-tokenizer (gpt-2,
 *    starcoder, llama-bpe, qwen2), 4 SentencePiece, 5 WordPiece; the rest is the text, any bytes (invalid UTF-8
 *    included). 6 and 7: the rest is a tokenizer.json's text (through tg__tokenizer_from_json_text): malformed
 *    ones must fail with an error, and one that loads encodes and decodes a fixed text.
 *  - SentencePiece's vocabulary: the 256 byte tokens, "\u2581", a few pieces with scores, a user-defined and a control
 *    token; WordPiece's: a few words and pieces, [UNK] [CLS] [SEP].
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

static tg_tokenizer *fz_tok[6];

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

/* a SentencePiece (spm) or WordPiece vocabulary */
static tg_tokenizer *fz_make2(int spm) {
  static const char *const sp[] = {"\xe2\x96\x81", "t", "h", "e", "th", "\xe2\x96\x81t", "\xe2\x96\x81the",
                                   "\xc3\xa9", "<u>", "<|c|>", "<unk>"};
  static const char *const wp[] = {"[UNK]", "[CLS]", "[SEP]", "\xe2\x96\x81the", "\xe2\x96\x81" "a", "b",
                                   "\xe2\x96\x81,"};
  int n = spm ? 256 + 11 : 7;
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4), gg_u32(&b, 3), gg_u64(&b, 0), gg_u64(&b, spm ? 4 : 3);
  gg_key(&b, "tokenizer.ggml.model", TG_GGUF_STRING), gg_str(&b, spm ? "llama" : "bert");
  gg_key(&b, "tokenizer.ggml.tokens", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, (uint64_t)n);
  for (int i = 0; i < n; i++) {
    char c[8];
    snprintf(c, sizeof c, "<0x%02X>", i & 255);
    gg_str(&b, !spm ? wp[i] : i < 256 ? c : sp[i - 256]);
  }
  gg_key(&b, "tokenizer.ggml.token_type", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_INT32), gg_u64(&b, (uint64_t)n);
  for (int i = 0; i < n; i++)
    gg_u32(&b, !spm ? (i < 3 ? 3 : 1) : i < 256 ? 6 : i == 264 ? 4 : i == 265 ? 3 : i == 266 ? 2 : 1);
  if (spm) {
    gg_key(&b, "tokenizer.ggml.scores", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_FLOAT32), gg_u64(&b, (uint64_t)n);
    for (int i = 0; i < n; i++) {
      float f = -(float)(i % 7);
      gg_put(&b, &f, 4);
    }
  }
  tg_gguf *g = tg__gguf_load_bytes("fuzz-vocab.gguf", b.p, b.n, 0);
  tg_tokenizer *t = g ? tg_tokenizer_from_gguf(g) : NULL;
  tg_gguf_free(g);
  free(b.p);
  if (!t) __builtin_trap();
  return t;
}

static int fz_has(const char *s, int64_t n, const char *w) { /* w in s[0..n) */
  for (int64_t i = 0; i + (int64_t)strlen(w) <= n; i++)
    if (!memcmp(s + i, w, strlen(w))) return 1;
  return 0;
}

static int fz_utf8(const unsigned char *s, int64_t n) { /* valid UTF-8 (lead and continuation bytes) */
  for (int64_t i = 0; i < n;) {
    int k = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
    if (!k || i + k > n) return 0;
    for (int q = 1; q < k; q++)
      if ((s[i + q] & 0xc0) != 0x80) return 0;
    i += k;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const pres[4] = {"gpt-2", "starcoder", "llama-bpe", "qwen2"};
  if (size < 1) return 0;
  int p = data[0] % 8;
  const char *text = (const char *)data + 1;
  int64_t len = (int64_t)size - 1;
  if (p >= 6) { /* a tokenizer.json */
    tg_tokenizer *t = tg__tokenizer_from_json_text("fuzz.json", text, len);
    if (!t && !tg_error()) __builtin_trap(); /* a failure says why */
    int32_t ids[64];
    char back[256];
    int64_t n = t ? tg_tokenizer_encode(t, "Hello, w\xc3\xb6rld 12 <s>!", -1, 3, ids, 64) : 0;
    if (n < 0 || (t && tg_tokenizer_decode(t, ids, n < 64 ? n : 64, back, sizeof back) < 0)) __builtin_trap();
    tg_tokenizer_free(t);
    tg_clear_error();
    return 0;
  }
  if (!fz_tok[p]) fz_tok[p] = p < 4 ? fz_make(pres[p]) : fz_make2(p == 4); /* kept for the run: built once each */
  if (p >= 4) { /* SentencePiece, WordPiece: any bytes encode and decode; the count is the same twice */
    for (int special = 0; special < 4; special++) {
      int64_t n = tg_tokenizer_encode(fz_tok[p], text, len, special, NULL, 0);
      if (n < 0 || n > 3 * len + 8) __builtin_trap();
      int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
      if (tg_tokenizer_encode(fz_tok[p], text, len, special, ids, n) != n) __builtin_trap();
      int64_t m = tg_tokenizer_decode(fz_tok[p], ids, n, NULL, 0);
      char *back = (char *)malloc((size_t)m + 1);
      if (m < 0 || tg_tokenizer_decode(fz_tok[p], ids, n, back, m + 1) != m) __builtin_trap();
      /* SentencePiece loses nothing of UTF-8 text but U+2581 (a space back) and the space after a user-defined
       * token (a broken character may take the bytes of an escaped space with it, as in llama.cpp) */
      int plain = !fz_has(text, len, "<u>") && !fz_has(text, len, "\xe2\x96\x81") &&
                  fz_utf8((const unsigned char *)text, len);
      if (p == 4 && special == 0 && plain && (m != len || memcmp(back, text, (size_t)len))) __builtin_trap();
      free(back);
      free(ids);
    }
    tg_clear_error();
    return 0;
  }
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
