/* test_gguf.c: GGUF files written by the test: every key-value type (scalars and arrays), versions 2 and 3, the
 * alignment; tensors of every type read (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) against a
 * scalar dequantiser written here from ggml's block layouts; a quantised weight's matmul as one kernel (no
 * dequantised copy); and malformed files (every truncation of a good one, and each field made wrong) refused with
 * the reason. Files go to a mkdtemp directory under /tmp, removed after. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "tinygrad.h"
#include "helpers.h"
#include "gguf_writer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint16_t gg_f16(float f) { /* small exact values only: normal numbers whose mantissa fits 10 bits, or 0 */
  uint32_t x;
  memcpy(&x, &f, 4);
  if (!(x & 0x7fffffff)) return (uint16_t)(x >> 16);
  return (uint16_t)(((x >> 16) & 0x8000) | ((((x >> 23) & 0xff) - 127 + 15) << 10) | ((x >> 13) & 0x3ff));
}
static float gg_h2f(const unsigned char *p) { /* the float16 at p (normal or zero) */
  uint16_t h = (uint16_t)(p[0] | p[1] << 8);
  if (!(h & 0x7fff)) return h ? -0.0f : 0.0f;
  uint32_t x = ((uint32_t)(h & 0x8000) << 16) | ((((h >> 10) & 0x1f) - 15 + 127) << 23) | ((uint32_t)(h & 0x3ff) << 13);
  float f;
  memcpy(&f, &x, 4);
  return f;
}

/* a tensor to write: name, ggml type, the file's sizes (fastest first), and its bytes */
typedef struct gg_tensor {
  const char *name;
  int type, ndim;
  uint64_t ne[4];
  unsigned char *data;
  size_t nbytes;
} gg_tensor;

/* a file of version `version` with the key-values the test checks and the tensors, data aligned to `align` (0: the
 * default 32, no general.alignment key) */
static gg_buf gg_file(int version, uint32_t align, const gg_tensor *ts, int nt) {
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4);
  gg_u32(&b, (uint32_t)version);
  gg_u64(&b, (uint64_t)nt);
  gg_u64(&b, align ? 9 : 8);
  gg_key(&b, "general.architecture", TG_GGUF_STRING);
  gg_str(&b, "llama");
  gg_key(&b, "llama.block_count", TG_GGUF_UINT32);
  gg_u32(&b, 30);
  gg_key(&b, "llama.rope.freq_base", TG_GGUF_FLOAT32);
  float base = 100000.0f;
  gg_put(&b, &base, 4);
  gg_key(&b, "neg", TG_GGUF_INT8);
  gg_put(&b, "\xfe", 1); /* -2 */
  gg_key(&b, "flag", TG_GGUF_BOOL);
  gg_put(&b, "\x01", 1);
  gg_key(&b, "big", TG_GGUF_UINT64);
  gg_u64(&b, 0xffffffffffffffffull);
  gg_key(&b, "tokenizer.ggml.tokens", TG_GGUF_ARRAY);
  gg_u32(&b, TG_GGUF_STRING);
  gg_u64(&b, 3);
  gg_str(&b, "<s>");
  gg_str(&b, "");
  gg_str(&b, "\xc4\xa0the");
  gg_key(&b, "tokenizer.ggml.scores", TG_GGUF_ARRAY);
  gg_u32(&b, TG_GGUF_FLOAT64);
  gg_u64(&b, 2);
  double sc[2] = {-1.5, 2.25};
  gg_put(&b, sc, 16);
  if (align) {
    gg_key(&b, "general.alignment", TG_GGUF_UINT32);
    gg_u32(&b, align);
  }
  uint64_t a = align ? align : 32, off = 0;
  for (int i = 0; i < nt; i++) {
    gg_str(&b, ts[i].name);
    gg_u32(&b, (uint32_t)ts[i].ndim);
    for (int d = 0; d < ts[i].ndim; d++) gg_u64(&b, ts[i].ne[d]);
    gg_u32(&b, (uint32_t)ts[i].type);
    gg_u64(&b, off);
    off = (off + ts[i].nbytes + a - 1) / a * a;
  }
  while (b.n % a) gg_put(&b, "", 1);
  for (int i = 0; i < nt; i++) {
    gg_put(&b, ts[i].data, ts[i].nbytes);
    while ((b.n % a) && i < nt - 1) gg_put(&b, "", 1);
  }
  return b;
}

typedef struct gg_tmp {
  char dir[64], path[128];
} gg_tmp;

static const char *gg_write(gg_tmp *t, const gg_buf *b, size_t n) {
  snprintf(t->path, sizeof t->path, "%s/f.gguf", t->dir);
  return gg_save(b, n, t->path) == 0 ? t->path : NULL;
}

/* the temporary file and its directory removed: a test leaves nothing in /tmp */
static void gg_tmp_done(gg_tmp *t) {
  if (t->path[0]) unlink(t->path);
  rmdir(t->dir);
}

// ---------------------------------------------------------------------------------------------------------------------
// blocks of each type, and a scalar dequantiser from ggml's layouts

static uint32_t gg_rng = 12345;
static unsigned gg_rand(void) {
  gg_rng = gg_rng * 1103515245u + 12345u;
  return gg_rng >> 16;
}

typedef struct gg_type { int type, block, bytes; } gg_type;
static const gg_type gg_types[] = {{0, 1, 4},     {1, 1, 2},      {30, 1, 2},     {2, 32, 18},    {3, 32, 20},
                                   {6, 32, 22},   {7, 32, 24},    {8, 32, 34},    {12, 256, 144}, {13, 256, 176},
                                   {14, 256, 210}};

/* random bytes of n elements of type t, the float16 scales set to exact small values */
static unsigned char *gg_blocks(const gg_type *t, int64_t n, size_t *nbytes) {
  *nbytes = (size_t)(n / t->block * t->bytes);
  unsigned char *p = (unsigned char *)malloc(*nbytes);
  for (size_t i = 0; i < *nbytes; i++) p[i] = (unsigned char)gg_rand();
  static const float scales[6] = {0.5f, -0.25f, 1.5f, 0.125f, -2.0f, 0.0f};
  for (int64_t b = 0; b < n / t->block; b++) {
    unsigned char *q = p + b * t->bytes;
    uint16_t h[2] = {gg_f16(scales[gg_rand() % 6]), gg_f16(scales[gg_rand() % 6])};
    int at[2] = {0, 2};
    if (t->type == 0) { /* float32: a value, not random bits (no NaNs) */
      float v = (float)((int)(gg_rand() % 2001) - 1000) / 64;
      memcpy(q, &v, 4);
      continue;
    }
    if (t->type == 1 || t->type == 30) { /* float16: an exact small value; bfloat16: the top half of a float */
      float v = (float)((int)(gg_rand() % 201) - 100) / 8;
      uint32_t x;
      memcpy(&x, &v, 4);
      uint16_t u = t->type == 1 ? gg_f16(v) : (uint16_t)(x >> 16);
      memcpy(q, &u, 2);
      continue;
    }
    if (t->type == 14) at[0] = 208, at[1] = -1;
    for (int k = 0; k < 2; k++)
      if (at[k] >= 0 && (k == 0 || t->type == 3 || t->type == 7 || t->type == 12 || t->type == 13))
        memcpy(q + at[k], &h[k], 2);
  }
  return p;
}

/* element i of n of type t, as ggml's dequantize_row_* computes it */
static float gg_value(const gg_type *t, const unsigned char *p, int64_t i) {
  const unsigned char *q = p + i / t->block * t->bytes;
  int j = (int)(i % t->block);
  if (t->block == 1) q = p; /* native: no block header */
  float d = t->block == 1 ? 0 : t->type == 14 ? gg_h2f(q + 208) : gg_h2f(q), m = t->block == 1 ? 0 : gg_h2f(q + 2);
  switch (t->type) {
  case 0: { float v; memcpy(&v, p + 4 * i, 4); return v; }
  case 1: return gg_h2f(p + 2 * i);
  case 30: { uint32_t x = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16; float v; memcpy(&v, &x, 4); return v; }
  case 8: return d * (float)(int8_t)q[2 + j];
  case 2: return d * (float)((j < 16 ? q[2 + j] & 15 : q[2 + j - 16] >> 4) - 8);
  case 3: return d * (float)(j < 16 ? q[4 + j] & 15 : q[4 + j - 16] >> 4) + m;
  case 6:
  case 7: {
    int o = t->type == 6 ? 2 : 4;
    uint32_t qh = (uint32_t)(q[o] | q[o + 1] << 8 | q[o + 2] << 16 | (uint32_t)q[o + 3] << 24);
    int lo = j < 16 ? q[o + 4 + j] & 15 : q[o + 4 + j - 16] >> 4, v = lo | (int)((qh >> j) & 1) << 4;
    return t->type == 6 ? d * (float)(v - 16) : d * (float)v + m;
  }
  case 12:
  case 13: {
    const unsigned char *s = q + 4;
    int sb = j / 32, l = j % 32, g = j / 64, sc, mn;
    if (sb < 4) sc = s[sb] & 63, mn = s[sb + 4] & 63;
    else sc = (s[sb + 4] & 15) | ((s[sb - 4] >> 6) << 4), mn = (s[sb + 4] >> 4) | ((s[sb] >> 6) << 4);
    const unsigned char *qs = q + (t->type == 13 ? 48 : 16) + 32 * g;
    int v = sb % 2 ? qs[l] >> 4 : qs[l] & 15;
    if (t->type == 13) v += ((q[16 + l] >> sb) & 1) << 4;
    return d * (float)sc * (float)v - m * (float)mn;
  }
  case 14: {
    int half = j / 128, e = j % 128, g = e / 32, l = e % 32;
    const unsigned char *ql = q + 64 * half, *qh = q + 128 + 32 * half;
    int lo = g == 0 ? ql[l] & 15 : g == 1 ? ql[l + 32] & 15 : g == 2 ? ql[l] >> 4 : ql[l + 32] >> 4;
    int v = (lo | ((qh[l] >> (2 * g)) & 3) << 4) - 32;
    return d * (float)(int8_t)q[192 + j / 16] * (float)v;
  }
  }
  return NAN;
}

// ---------------------------------------------------------------------------------------------------------------------

TEST(test_gguf_metadata) {
  gg_tmp t = {"", ""};
  snprintf(t.dir, sizeof t.dir, "/tmp/tg_test_gguf_XXXXXX");
  if (!CHECK(mkdtemp(t.dir) != NULL)) return;
  for (int version = 2; version <= 3; version++) {
    gg_buf b = gg_file(version, 0, NULL, 0);
    tg_gguf *g = tg_gguf_load(gg_write(&t, &b, b.n));
    CHECK(g != NULL);
    CHECK_EQ_INT(tg_gguf_version(g), version);
    CHECK_EQ_INT(tg_gguf_kv_count(g), 8);
    CHECK_STR(tg_gguf_kv_key(g, 0), "general.architecture");
    int64_t len = -1, v = 0;
    double f = 0;
    CHECK_STR(tg_gguf_kv_str(g, 0, 0, &len), "llama");
    CHECK_EQ_INT(len, 5);
    int64_t k = tg_gguf_kv_find(g, "llama.block_count");
    CHECK_EQ_INT(k, 1);
    CHECK_EQ_INT(tg_gguf_kv_type(g, k), TG_GGUF_UINT32);
    CHECK(tg_gguf_kv_int(g, k, 0, &v) == 0 && v == 30);
    CHECK(tg_gguf_kv_float(g, k, 0, &f) == 0 && f == 30);
    k = tg_gguf_kv_find(g, "llama.rope.freq_base");
    CHECK(tg_gguf_kv_float(g, k, 0, &f) == 0 && f == 100000.0);
    CHECK(tg_gguf_kv_int(g, k, 0, &v) == -1 && strstr(tg_error(), "the value is no integer"));
    tg_clear_error();
    CHECK(tg_gguf_kv_int(g, tg_gguf_kv_find(g, "neg"), 0, &v) == 0 && v == -2);
    CHECK(tg_gguf_kv_int(g, tg_gguf_kv_find(g, "flag"), 0, &v) == 0 && v == 1);
    CHECK_EQ_INT(tg_gguf_kv_type(g, tg_gguf_kv_find(g, "flag")), TG_GGUF_BOOL);
    k = tg_gguf_kv_find(g, "big");
    CHECK(tg_gguf_kv_int(g, k, 0, &v) == -1 && strstr(tg_error(), "passes int64"));
    tg_clear_error();
    CHECK(tg_gguf_kv_float(g, k, 0, &f) == 0 && f == 18446744073709551615.0);
    k = tg_gguf_kv_find(g, "tokenizer.ggml.tokens");
    CHECK_EQ_INT(tg_gguf_kv_type(g, k), TG_GGUF_ARRAY);
    CHECK_EQ_INT(tg_gguf_kv_element_type(g, k), TG_GGUF_STRING);
    CHECK_EQ_INT(tg_gguf_kv_len(g, k), 3);
    CHECK_STR(tg_gguf_kv_str(g, k, 0, NULL), "<s>");
    CHECK(tg_gguf_kv_str(g, k, 1, &len) && len == 0);
    CHECK_STR(tg_gguf_kv_str(g, k, 2, &len), "\xc4\xa0the");
    CHECK(tg_gguf_kv_str(g, k, 3, &len) == NULL && tg_gguf_kv_str(g, 1, 0, &len) == NULL); /* out of range; a number */
    k = tg_gguf_kv_find(g, "tokenizer.ggml.scores");
    CHECK(tg_gguf_kv_float(g, k, 1, &f) == 0 && f == 2.25);
    CHECK(tg_gguf_kv_float(g, k, 2, &f) == -1);
    tg_clear_error();
    CHECK_EQ_INT(tg_gguf_kv_find(g, "absent"), -1);
    CHECK(tg_gguf_kv_key(g, 8) == NULL && tg_gguf_kv_type(g, -1) == -1 && tg_gguf_kv_len(g, 99) == -1);
    CHECK_EQ_INT(tg_state_dict_count(tg_gguf_tensors(g)), 0);
    tg_gguf_free(g);
    free(b.p);
  }
  CHECK(tg_gguf_version(NULL) == -1 && tg_gguf_kv_count(NULL) == -1 && tg_gguf_tensors(NULL) == NULL);
  CHECK(tg_gguf_load(NULL) == NULL && strstr(tg_error(), "the path is NULL"));
  tg_clear_error();
  CHECK(tg_gguf_load("/nonexistent/x.gguf") == NULL && strstr(tg_error(), "cannot open /nonexistent/x.gguf"));
  tg_clear_error();
  tg_gguf_free(NULL);
  CHECK_STR(tg_gguf_type_name(12), "Q4_K");
  CHECK(tg_gguf_type_name(9) == NULL); /* Q8_1: not read */
  gg_tmp_done(&t);
}

/* every type read, in a file with two other tensors around it and an alignment of 64, against the scalar
 * dequantiser: shapes (rows, cols) of numpy's order, the file's (cols, rows) */
TEST(test_gguf_tensor_types) {
  gg_tmp t = {"", ""};
  snprintf(t.dir, sizeof t.dir, "/tmp/tg_test_gguf_XXXXXX");
  if (!CHECK(mkdtemp(t.dir) != NULL)) return;
  for (int c = 0; c < (int)(sizeof gg_types / sizeof gg_types[0]); c++) {
    const gg_type *ty = &gg_types[c];
    int64_t cols = ty->block == 256 ? 512 : 64, rows = 3;
    gg_tensor ts[3];
    size_t nb;
    unsigned char *data = gg_blocks(ty, rows * cols, &nb);
    static unsigned char norm[4 * 8];
    for (int i = 0; i < 8; i++) {
      float v = (float)i / 4;
      memcpy(norm + 4 * i, &v, 4);
    }
    ts[0] = (gg_tensor){"norm", 0, 1, {8}, norm, 32};
    ts[1] = (gg_tensor){"w", ty->type, 2, {(uint64_t)cols, (uint64_t)rows}, data, nb};
    ts[2] = (gg_tensor){"last", 0, 1, {8}, norm, 32};
    gg_buf b = gg_file(3, 64, ts, 3);
    tg_scope_begin();
    tg_gguf *g = tg_gguf_load(gg_write(&t, &b, b.n));
    test_check(g != NULL, __FILE__, __LINE__, "type %d: %s", ty->type, tg_error() ? tg_error() : "");
    tg_state_dict *sd = tg_gguf_tensors(g);
    tg_tensor *w = tg_state_dict_get(sd, "w");
    CHECK_EQ_INT(tg_gguf_tensor_type(g, "w"), ty->type);
    CHECK_EQ_INT(tg_gguf_tensor_type(g, "nope"), -1);
    if (w) {
      CHECK(tg_ndim(w) == 2 && tg_shape(w)[0] == rows && tg_shape(w)[1] == cols);
      CHECK_EQ_INT(tg_dtype_of(w), ty->type == 1 ? TG_FLOAT16 : ty->type == 30 ? TG_BFLOAT16 : TG_FLOAT32);
      float *got = tg_to_float(w);
      int bad = 0;
      for (int64_t i = 0; got && i < rows * cols; i++) {
        float want = gg_value(ty, data, i);
        if (!(fabsf(got[i] - want) <= 1e-6f * (1 + fabsf(want)))) {
          if (bad++ < 3) printf("type %d element %lld: %g, want %g\n", ty->type, (long long)i, got[i], want);
        }
      }
      test_check(got && bad == 0, __FILE__, __LINE__, "type %d: %d of %lld wrong", ty->type, bad, (long long)(rows * cols));
      free(got);
      float *last = tg_to_float(tg_state_dict_get(sd, "last"));
      CHECK(last && last[7] == 1.75f);
      free(last);
    }
    tg_gguf_free(g);
    tg_scope_end();
    free(data);
    free(b.p);
  }
  gg_tmp_done(&t);
}

/* checks got (rows x out) against x (rows x in) times the scalar dequantiser's weight (out x in); frees got */
static void gg_check_product(const gg_type *ty, const unsigned char *data, const float *x, int rows, int64_t in,
                             int64_t out, float *got, double tol) {
  CHECK(got != NULL);
  for (int r = 0; got && r < rows; r++)
    for (int64_t o = 0; o < out; o++) {
      double want = 0;
      for (int64_t k = 0; k < in; k++) want += (double)x[r * in + k] * gg_value(ty, data, o * in + k);
      CHECK_NEAR(got[r * out + o], want, tol * (1 + fabs(want)));
    }
  free(got);
}

/* a quantised weight stays quantised: y = x W^T with W in Q4_0 is one kernel reading W's blocks, and equals the
 * product with the dequantised values */
TEST(test_gguf_matmul_fuses) {
  gg_tmp t = {"", ""};
  snprintf(t.dir, sizeof t.dir, "/tmp/tg_test_gguf_XXXXXX");
  if (!CHECK(mkdtemp(t.dir) != NULL)) return;
  const gg_type *ty = &gg_types[3]; /* Q4_0 */
  int64_t in = 64, out = 16;
  size_t nb;
  unsigned char *data = gg_blocks(ty, in * out, &nb);
  gg_tensor ts[1] = {{"w", 2, 2, {(uint64_t)in, (uint64_t)out}, data, nb}};
  gg_buf b = gg_file(3, 0, ts, 1);
  tg_scope_begin();
  tg_gguf *g = tg_gguf_load(gg_write(&t, &b, b.n));
  tg_tensor *w = g ? tg_state_dict_get(tg_gguf_tensors(g), "w") : NULL;
  float x[2 * 64];
  for (int i = 0; i < 2 * 64; i++) x[i] = (float)(i % 7 - 3) / 4;
  tg_tensor *xt = tg_from_data(x, TG_FLOAT32, 2, (int64_t[]){2, 64});
  tg_tensor *y = w ? tg_matmul(xt, tg_transpose(w, 0, 1)) : NULL;
  tg_schedule *s = y ? tg_schedule_create(&y, 1) : NULL;
  CHECK(s && tg_schedule_count(s) == 1);
  tg_schedule_free(s);
  gg_check_product(ty, data, x, 2, in, out, y ? tg_to_float(y) : NULL, 1e-5);
  tg_gguf_free(g);
  tg_scope_end();
  free(data);
  free(b.p);
  gg_tmp_done(&t);
}

/* A matrix-vector product with a quantised weight (a language model's decode step), and a product with 8 rows (a
 * prompt's chunk), render their accumulators as explicit vectors on the CPU: the blocks' bytes are loaded W at a
 * time and widened (tg_vld_u8), nibbles and int8 values included, and the products equal the scalar dequantiser's
 * (Q4_0, Q4_1, Q8_0, Q5_1) */
TEST(test_gguf_matvec_vectors) {
  gg_tmp t = {"", ""};
  snprintf(t.dir, sizeof t.dir, "/tmp/tg_test_gguf_XXXXXX");
  if (!CHECK(mkdtemp(t.dir) != NULL)) return;
  static const int which[4] = {3, 4, 7, 6}; /* Q4_0, Q4_1, Q8_0, Q5_1 */
  for (int wi = 0; wi < 4; wi++) {
    const gg_type *ty = &gg_types[which[wi]];
    int64_t in = 256, out = 256; /* rows enough for the matrix-vector rule on 16 cores (4 a thread, twice over) */
    size_t nb;
    unsigned char *data = gg_blocks(ty, in * out, &nb);
    gg_tensor ts[1] = {{"w", ty->type, 2, {(uint64_t)in, (uint64_t)out}, data, nb}};
    gg_buf b = gg_file(3, 0, ts, 1);
    tg_scope_begin();
    tg_gguf *g = tg_gguf_load(gg_write(&t, &b, b.n));
    tg_tensor *w = g ? tg_state_dict_get(tg_gguf_tensors(g), "w") : NULL;
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 9 - 4) / 8;
    tg_tensor *xt = tg_from_data(x, TG_FLOAT32, 2, (int64_t[]){1, 256});
    tg_tensor *y = w ? tg_matmul(xt, tg_transpose(w, 0, 1)) : NULL;
    tg_schedule *s = y ? tg_schedule_create(&y, 1) : NULL;
    const char *src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
    CHECK(src != NULL);
    if (src && wi != 3 && test_on_cpu()) { /* Q5_1's fifth bits, gathered from a word by lane, stay scalar */
      CHECK(strstr(src, "tg_vld_u8(") != NULL);
      CHECK(strstr(src, "vacc0 = vacc0 + ") != NULL);
    }
    /* each block's float16 scale: one 16-bit load of its two bytes (little-endian CPUs) */
    const uint16_t endian = 1;
    if (src && test_on_cpu() && *(const unsigned char *)&endian)
      CHECK(strstr(src, "__builtin_memcpy(&_v, &data2[") != NULL);
    tg_schedule_free(s);
    gg_check_product(ty, data, x, 1, in, out, y ? tg_to_float(y) : NULL, 1e-4);
    /* a prompt's chunk of 8 rows: one kernel over the packed blocks (a byte-sized pad is not realised), its tile
     * along the reduction in vectors, unrolled over a whole block of 32: each copy's nibble half is a constant, so
     * no load is gated (before the unroll, one gated vector load per half and a select) */
    float x8[8 * 256];
    for (int i = 0; i < 8 * 256; i++) x8[i] = (float)((i * 7) % 11 - 5) / 8;
    tg_tensor *x8t = tg_from_data(x8, TG_FLOAT32, 2, (int64_t[]){8, 256});
    tg_tensor *y8 = w ? tg_matmul(x8t, tg_transpose(w, 0, 1)) : NULL;
    s = y8 ? tg_schedule_create(&y8, 1) : NULL;
    src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
    CHECK(src != NULL);
    if (src && wi != 3 && test_on_cpu()) CHECK(strstr(src, "vacc0 = vacc0 + ") != NULL);
    if (src && wi < 2 && test_on_cpu()) {
      CHECK(strstr(src, " UNROLL(0,") != NULL);
      CHECK(strstr(src, "tg_vld_u8(") != NULL);
      CHECK(strstr(src, " ? tg_vld_u8(") == NULL);
    }
    tg_schedule_free(s);
    gg_check_product(ty, data, x8, 8, in, out, y8 ? tg_to_float(y8) : NULL, 1e-4);
    tg_gguf_free(g);
    tg_scope_end();
    free(data);
    free(b.p);
  }
  gg_tmp_done(&t);
}

/* tg_gguf_linear: x W^T as tg_matmul gives it; with TG_GGUF_Q8, for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q4_K, the product
 * with x quantised per 32 values as llama.cpp's Q8_1 (d = max|x| / 127, q = round(x / d), half to even), computed
 * here in double from the scalar dequantiser; other types ignore the flag. On the CPU the products of the quants are
 * integer dot products of bytes (tg_vdot4, Q8_0's signed ones tg_vdot4s). Errors name what is wrong */
TEST(test_gguf_linear_q8) {
  gg_tmp t = {"", ""};
  snprintf(t.dir, sizeof t.dir, "/tmp/tg_test_gguf_XXXXXX");
  if (!CHECK(mkdtemp(t.dir) != NULL)) return;
  static const int which[7] = {3, 4, 5, 6, 7, 8, 0}; /* Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, F32 */
  enum { IN = 512, OUT = 64, ROWS = 3 };
  for (int wi = 0; wi < 7; wi++) {
    const gg_type *ty = &gg_types[which[wi]];
    size_t nb;
    unsigned char *data = gg_blocks(ty, (int64_t)IN * OUT, &nb);
    gg_tensor ts[2] = {{"w", ty->type, 2, {IN, OUT}, data, nb}, {"v", ty->type, 1, {(uint64_t)IN * OUT}, data, nb}};
    gg_buf b = gg_file(3, 0, ts, 2);
    tg_scope_begin();
    tg_gguf *g = tg_gguf_load(gg_write(&t, &b, b.n));
    CHECK(g != NULL);
    static float x[ROWS * IN];
    for (int i = 0; i < ROWS * IN; i++) x[i] = (float)((i * 5) % 17 - 8) / 16 + (i % 64 == 0 ? 1.5f : 0);
    for (int i = 0; i < IN; i++) x[2 * IN + i] = 0; /* a row of zeros: d = 0 */
    tg_tensor *xt = tg_from_data(x, TG_FLOAT32, 2, (int64_t[]){ROWS, IN});
    gg_check_product(ty, data, x, ROWS, IN, OUT, tg_to_float(tg_gguf_linear(g, "w", xt, 0)), 1e-4);
    tg_tensor *yq = tg_gguf_linear(g, "w", xt, TG_GGUF_Q8);
    CHECK(yq && tg_ndim(yq) == 2 && tg_shape(yq)[0] == ROWS && tg_shape(yq)[1] == OUT);
    int q8 = ty->type == 2 || ty->type == 3 || ty->type == 6 || ty->type == 7 || ty->type == 8 || ty->type == 12;
    if (q8 && yq && test_on_cpu()) { /* the dot products' kernel, and (4-bit quants; a Q5's fifth bits are gathered
                                      * from a word bit by bit, lane by lane) its 8-lane integer dot products */
      tg_schedule *s = tg_schedule_create(&yq, 1);
      int dots = 0;
      for (int k = 0; s && k < tg_schedule_count(s); k++) dots += strstr(tg_schedule_source(s, k), "tg_vdot4(") != NULL;
      /* max|x|, the quants, their sums (not for Q8_0), the product */
      CHECK(s && tg_schedule_count(s) == (ty->type == 8 ? 3 : 4));
      CHECK(dots == (ty->type == 2 || ty->type == 3 || ty->type == 8 || ty->type == 12));
      tg_schedule_free(s);
    }
    static float xq[ROWS * IN]; /* x's quantised values d q, for the reference */
    for (int r = 0; r < ROWS; r++)
      for (int blk = 0; blk < IN / 32; blk++) {
        const float *v = x + r * IN + blk * 32;
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[i]));
        float inv = amax == 0 ? 0 : 127.0f / amax, d = amax / 127.0f;
        for (int i = 0; i < 32; i++) xq[r * IN + blk * 32 + i] = q8 ? d * nearbyintf(v[i] * inv) : v[i];
      }
    gg_check_product(ty, data, xq, ROWS, IN, OUT, yq ? tg_to_float(yq) : NULL, 1e-4);
    /* a vector x (..., K): (..., N) */
    tg_tensor *x1 = tg_from_data(x, TG_FLOAT32, 1, (int64_t[]){IN}), *y1 = tg_gguf_linear(g, "w", x1, TG_GGUF_Q8);
    CHECK(y1 && tg_ndim(y1) == 1 && tg_shape(y1)[0] == OUT);
    gg_check_product(ty, data, xq, 1, IN, OUT, y1 ? tg_to_float(y1) : NULL, 1e-4);
    /* errors */
    tg_tensor *bad = tg_from_data(x, TG_FLOAT32, 2, (int64_t[]){2, 128});
    CHECK(tg_gguf_linear(g, "w", bad, TG_GGUF_Q8) == NULL && strstr(tg_error(), "x's last axis is 128"));
    CHECK(tg_gguf_linear(g, "nope", xt, 0) == NULL && strstr(tg_error(), "no tensor 'nope'"));
    CHECK(tg_gguf_linear(g, "v", xt, 0) == NULL && strstr(tg_error(), "'v' has 1 dimensions"));
    CHECK(tg_gguf_linear(g, "w", xt, 2) == NULL && strstr(tg_error(), "unknown flags"));
    CHECK(tg_gguf_linear(NULL, "w", xt, 0) == NULL && strstr(tg_error(), "no GGUF"));
    CHECK(tg_gguf_linear(g, "w", NULL, 0) == NULL);
    tg_gguf_free(g);
    tg_scope_end();
    free(data);
    free(b.p);
  }
  gg_tmp_done(&t);
}

/* Integer dot products of bytes (4 a lane, 8 lanes a block) render as one tg_vdot4 (vpmaddubsw + vpmaddwd, which
 * saturate a pair's sum to 16 bits) only when the unsigned bytes are at most 127: nibbles times int8 extremes (-128,
 * 127) are exact through it, and whole bytes (up to 255, where a pair's sum of 255 * -128 * 2 would saturate) are
 * not put through it, and are exact too */
TEST(test_byte_dot_products) {
  enum { N = 32, B = 2 };
  static uint8_t a[N * B * 32];
  static int8_t bb[B * 32];
  static float sc[N * B];
  for (int i = 0; i < N * B * 32; i++) a[i] = (uint8_t)(i % 5 == 0 ? 255 : (i * 37) & 255);
  for (int i = 0; i < B * 32; i++) bb[i] = (int8_t)(i % 3 == 0 ? -128 : i % 3 == 1 ? 127 : (i * 11) % 200 - 100);
  for (int i = 0; i < N * B; i++) sc[i] = (float)(i % 7 + 1) / 8;
  for (int masked = 0; masked < 2; masked++) {
    tg_scope_begin();
    tg_tensor *at = tg_from_data(a, TG_UINT8, 4, (int64_t[]){N, B, 8, 4});
    if (masked) at = tg_bitwise_and(at, tg_full_like(at, 15));
    tg_tensor *bt = tg_from_data(bb, TG_INT8, 4, (int64_t[]){1, B, 8, 4});
    tg_tensor *st = tg_from_data(sc, TG_FLOAT32, 3, (int64_t[]){N, B, 1});
    int last = 3, blocks[2] = {1, 2};
    tg_tensor *dot = tg_sum(tg_mul(tg_cast(at, TG_INT32), tg_cast(bt, TG_INT32)), 1, &last, 0); /* (N, B, 8) */
    tg_tensor *y = tg_sum(tg_mul(tg_cast(dot, TG_FLOAT32), st), 2, blocks, 0);             /* (N) */
    tg_schedule *s = tg_schedule_create(&y, 1);
    const char *src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
    CHECK(src != NULL);
    if (src && test_on_cpu()) CHECK((strstr(src, "tg_vdot4(") != NULL) == masked);
    tg_schedule_free(s);
    float *got = tg_to_float(y);
    for (int n = 0; got && n < N; n++) {
      double want = 0;
      for (int k = 0; k < B * 32; k++) {
        int av = a[n * B * 32 + k] & (masked ? 15 : 255);
        want += (double)(av * bb[k]) * sc[n * B + k / 32];
      }
      CHECK_NEAR(got[n], want, 1e-5 * (1 + fabs(want)));
    }
    free(got);
    tg_scope_end();
  }
}

/* a malformed file is refused with the reason: every truncation of a good one, and each field made wrong */
TEST(test_gguf_malformed) {
  gg_tmp t = {"", ""};
  snprintf(t.dir, sizeof t.dir, "/tmp/tg_test_gguf_XXXXXX");
  if (!CHECK(mkdtemp(t.dir) != NULL)) return;
  size_t nb;
  unsigned char *data = gg_blocks(&gg_types[7], 64, &nb); /* Q8_0, two blocks */
  gg_tensor ts[2] = {{"a", 8, 1, {64}, data, nb}, {"b", 0, 1, {4}, data, 16}};
  gg_buf b = gg_file(3, 0, ts, 2);
  int refused = 0;
  for (size_t n = 0; n < b.n; n++) { /* every proper prefix */
    tg_gguf *g = tg_gguf_load(gg_write(&t, &b, n));
    refused += g == NULL && tg_error() != NULL;
    tg_gguf_free(g);
    tg_clear_error();
  }
  CHECK_EQ_INT(refused, (int64_t)b.n);
  tg_gguf *g = tg_gguf_load(gg_write(&t, &b, b.n));
  CHECK(g != NULL && tg_state_dict_count(tg_gguf_tensors(g)) == 2);
  tg_gguf_free(g);
  /* the offsets of fields in the file: after the 24-byte header and the key-values */
  size_t kvs = 0, at = 24;
  for (int k = 0; k < 8; k++) { /* walk the key-values to find the tensor infos */
    uint64_t len;
    memcpy(&len, b.p + at, 8);
    at += 8 + len;
    uint32_t type;
    memcpy(&type, b.p + at, 4);
    at += 4;
    if (type == TG_GGUF_STRING) memcpy(&len, b.p + at, 8), at += 8 + len;
    else if (type == TG_GGUF_ARRAY) {
      uint32_t et;
      uint64_t n;
      memcpy(&et, b.p + at, 4);
      memcpy(&n, b.p + at + 4, 8);
      at += 12;
      for (uint64_t i = 0; i < n; i++)
        if (et == TG_GGUF_STRING) memcpy(&len, b.p + at, 8), at += 8 + len;
        else at += 8; /* float64 */
    } else at += type == TG_GGUF_UINT64 ? 8 : type == TG_GGUF_INT8 || type == TG_GGUF_BOOL ? 1 : 4;
    kvs = at;
  }
  /* tensor info "a": name (8 + 1), ndim (4), ne (8), type (4), offset (8); then "b" */
  size_t a_ndim = kvs + 9, a_ne = a_ndim + 4, a_type = a_ne + 8, a_off = a_type + 4, b_off = a_off + 8 + 9 + 4 + 8 + 4;
  typedef struct { size_t at; int width; uint64_t value; const char *why; } gg_bad;
  const gg_bad bads[] = {
      {0, 1, 'X', "not a GGUF file"},
      {4, 4, 1, "GGUF version 1, whose counts are 32-bit"},
      {4, 4, 0x03000000, "a big-endian file"},
      {8, 8, 1ull << 40, "cannot fit in the"},
      {24 + 8 + 20, 4, 13, "has unknown value type 13"},                    /* the first key's type */
      {24 + 8, 8, 0x6c61726576656e67ull, "general.architecture"},           /* a key renamed... */
      {a_ndim, 4, 5, "has 5 dimensions (1 to 4)"},
      {a_ne, 8, 48, "no multiple of the 32 of a block"},
      {a_type, 4, 9, "which tinygrad.h does not read"},
      {a_off, 8, 8, "no multiple of the alignment 32"},
      {b_off, 8, 32, "overlaps tensor"},
      {b_off, 8, 1u << 20, "runs past the end of the file"},
      {a_ne, 8, 0x4000000000000000ull, "runs past the end of the file"},
  };
  for (int c = 0; c < (int)(sizeof bads / sizeof bads[0]); c++) {
    gg_buf m = {(unsigned char *)malloc(b.n), b.n, b.n};
    memcpy(m.p, b.p, b.n);
    memcpy(m.p + bads[c].at, &bads[c].value, (size_t)bads[c].width);
    g = tg_gguf_load(gg_write(&t, &m, m.n));
    if (c == 5) { /* the renamed key is another key, not an error: "general.architecture" became "gneverel..." */
      CHECK(g != NULL && tg_gguf_kv_find(g, "general.architecture") == -1);
      tg_gguf_free(g);
    } else
      test_check(g == NULL && tg_error() && strstr(tg_error(), bads[c].why), __FILE__, __LINE__, "case %d: %s", c,
                 tg_error() ? tg_error() : "(loaded)");
    tg_clear_error();
    free(m.p);
  }
  /* a key twice, an array of arrays, a bad alignment, a tensor name twice, an empty one */
  gg_buf d = {NULL, 0, 0};
  gg_put(&d, "GGUF", 4), gg_u32(&d, 3), gg_u64(&d, 0), gg_u64(&d, 2);
  gg_key(&d, "k", TG_GGUF_UINT8), gg_put(&d, "\x01", 1), gg_key(&d, "k", TG_GGUF_UINT8), gg_put(&d, "\x02", 1);
  CHECK(tg_gguf_load(gg_write(&t, &d, d.n)) == NULL && strstr(tg_error(), "key 'k' appears twice"));
  tg_clear_error();
  d.n = 0;
  gg_put(&d, "GGUF", 4), gg_u32(&d, 3), gg_u64(&d, 0), gg_u64(&d, 1);
  gg_key(&d, "nested", TG_GGUF_ARRAY), gg_u32(&d, TG_GGUF_ARRAY), gg_u64(&d, 1), gg_u32(&d, 0), gg_u64(&d, 0);
  CHECK(tg_gguf_load(gg_write(&t, &d, d.n)) == NULL && strstr(tg_error(), "is an array of arrays"));
  tg_clear_error();
  d.n = 0;
  gg_put(&d, "GGUF", 4), gg_u32(&d, 3), gg_u64(&d, 0), gg_u64(&d, 1);
  gg_key(&d, "general.alignment", TG_GGUF_UINT32), gg_u32(&d, 48);
  CHECK(tg_gguf_load(gg_write(&t, &d, d.n)) == NULL && strstr(tg_error(), "general.alignment must be a uint32 power"));
  tg_clear_error();
  d.n = 0;
  gg_put(&d, "GGUF", 4), gg_u32(&d, 3), gg_u64(&d, 2), gg_u64(&d, 0);
  for (int i = 0; i < 2; i++) gg_str(&d, "t"), gg_u32(&d, 1), gg_u64(&d, 4), gg_u32(&d, 0), gg_u64(&d, 0);
  while (d.n % 32) gg_put(&d, "", 1);
  gg_put(&d, data, 16);
  CHECK(tg_gguf_load(gg_write(&t, &d, d.n)) == NULL && strstr(tg_error(), "tensor 't' appears twice"));
  tg_clear_error();
  d.n = 0;
  gg_put(&d, "GGUF", 4), gg_u32(&d, 3), gg_u64(&d, 1), gg_u64(&d, 0);
  gg_str(&d, ""), gg_u32(&d, 1), gg_u64(&d, 4), gg_u32(&d, 0), gg_u64(&d, 0);
  CHECK(tg_gguf_load(gg_write(&t, &d, d.n)) == NULL && strstr(tg_error(), "tensor 0's name is empty"));
  tg_clear_error();
  free(d.p);
  gg_tmp_done(&t);
  free(data);
  free(b.p);
}
