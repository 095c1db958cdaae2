/* gguf_writer.h: a GGUF writer for the tests (test_gguf.c, test_tokenizer.c): the file's parts appended to a growing
 * buffer, little-endian (the tests run on little-endian hosts), and the buffer written to a file.
 *
 * Contract: gg_put appends bytes; gg_u32 / gg_u64 a number; gg_str a GGUF string (a uint64 length, the bytes);
 * gg_key a key and its value type, whose value the caller appends next. gg_save writes the first n bytes to path
 * (0, or -1). The buffer is malloc'd: free(b.p). gg_bytechar gives GPT-2's printable character of a byte (UTF-8),
 * as byte-level BPE vocabularies spell their byte tokens. */
#ifndef GGUF_WRITER_H
#define GGUF_WRITER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gg_buf {
  unsigned char *p;
  size_t n, cap;
} gg_buf;

static inline void gg_put(gg_buf *b, const void *v, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = (unsigned char *)realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, v, n);
  b->n += n;
}
static inline void gg_u32(gg_buf *b, uint32_t v) { gg_put(b, &v, 4); }
static inline void gg_u64(gg_buf *b, uint64_t v) { gg_put(b, &v, 8); }
static inline void gg_str(gg_buf *b, const char *s) {
  gg_u64(b, strlen(s));
  gg_put(b, s, strlen(s));
}
static inline void gg_key(gg_buf *b, const char *k, uint32_t type) {
  gg_str(b, k);
  gg_u32(b, type);
}
static inline int gg_save(const gg_buf *b, size_t n, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int rc = n && fwrite(b->p, 1, n, f) != n ? -1 : 0;
  return fclose(f) != 0 ? -1 : rc;
}

static inline void gg_bytechar(int b, char *c) { /* c: 3 bytes */
#define GG_PRINTABLE(x) (((x) >= '!' && (x) <= '~') || ((x) >= 0xa1 && (x) <= 0xac) || ((x) >= 0xae && (x) <= 0xff))
  int rank = 0, cp = b;
  if (!GG_PRINTABLE(b)) {
    for (int x = 0; x < b; x++) rank += !GG_PRINTABLE(x);
    cp = 256 + rank;
  }
#undef GG_PRINTABLE
  if (cp < 0x80) c[0] = (char)cp, c[1] = 0;
  else c[0] = (char)(0xc0 | (cp >> 6)), c[1] = (char)(0x80 | (cp & 0x3f)), c[2] = 0;
}

#endif
