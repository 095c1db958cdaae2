/* gguf.c: GGUF files (llama.cpp's model format, versions 2 and 3): typed metadata and tensors, quantised weights kept
 * quantised (layer 5).
 *
 * Contract:
 *  - A file is the magic "GGUF", a uint32 version (2 or 3: the same layout; version 1's 32-bit counts are refused), a
 *    uint64 tensor count and key-value count, the key-values (a string key, a uint32 type, the value), the tensor
 *    infos (a string name, a uint32 dimension count, that many uint64 sizes, fastest first, a uint32 ggml type and a
 *    uint64 offset into the data), then the data, which starts at the next multiple of general.alignment (a uint32
 *    power of two; 32 when absent). Strings are a uint64 length and that many bytes; an array is a uint32 element
 *    type, a uint64 count and the elements (arrays of arrays are refused, as llama.cpp does). Little-endian only.
 *  - Everything is validated before any tensor is made, and every failure is NULL plus tg_error() naming the file
 *    and what is wrong (the byte offset where the file ends too soon): lengths and counts within the bytes left
 *    (a lying count never makes the loader allocate more than the file holds), known value types, unique non-empty
 *    keys, general.alignment's type and value, 1 to 4 dimensions whose product and byte count fit in int64, a
 *    known tensor type whose blocks divide the fastest dimension, unique non-empty names, offsets that are multiples
 *    of the alignment, and data inside the file that no two tensors share.
 *  - Tensors: F32, F16 and BF16 are buffers of their dtype. The quantised types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
 *    Q5_K, Q6_K) stay quantised in memory: a buffer of the raw blocks (uint8, blocks x bytes) and a lazy float32
 *    graph of tensor ops over it (the blocks' float16 scales put together from their bytes and bitcast, the
 *    quants' bits shifted and masked), which the scheduler fuses into the kernel that reads the weight (a matmul's):
 *    no dequantised copy of the model is ever made. Shapes are numpy's order (the file's sizes reversed), as
 *    tinygrad's gguf_load gives them, and so are the values (its ggml_data_to_tensor).
 *  - The file is mapped only while loading: the tensors' bytes are copied into their buffers (each tensor's pages of
 *    the mapping released after its copy: the load holds the model about once), the metadata into the tg_gguf. tg__gguf_load_bytes is the loader less the file: the fuzzer (tests/fuzz/) calls it on its bytes. */
#include "internal.h"

#include <sys/mman.h>  // madvise
#include <unistd.h>    // sysconf

/* a key's value: n elements of `type` (an array's element type; n = 1 for a scalar) */
typedef union tg__gguf_num {
  int64_t i;  /* signed integers and bools */
  uint64_t u; /* unsigned integers */
  double f;   /* floats */
} tg__gguf_num;

typedef struct tg__gguf_kv {
  char *key;
  int type;   /* TG_GGUF_*: TG_GGUF_ARRAY for an array */
  int etype;  /* an array's elements' type; the value's type for a scalar */
  int64_t n;
  tg__gguf_num *num; /* numbers (n), or NULL for strings */
  char **str;        /* strings (n), NUL-terminated copies in one allocation (arena), with their lengths */
  int64_t *len;
  char *arena;
} tg__gguf_kv;

typedef struct tg__gguf_ti {
  char *name;
  int ndim, type;
  int64_t ne[4];  /* the file's sizes, fastest first */
  uint64_t off, nbytes;
} tg__gguf_ti;

struct tg_gguf {
  int version;
  int64_t nkv, nti, alignment;
  tg__gguf_kv *kv;
  tg__gguf_ti *ti;
  tg_state_dict *sd; /* the tensors, owned */
  tg_tensor **raw;   /* per tensor: a quantised one's blocks (uint8, blocks x bytes), owned; NULL for the others */
};

/* the ggml types read: elements and bytes per block */
typedef struct tg__ggml_type { int type; const char *name; int block, bytes; } tg__ggml_type;
static const tg__ggml_type tg__ggml_types[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},     {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},     {12, "Q4_K", 256, 144},
    {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210},  {30, "BF16", 1, 2},
};

static const tg__ggml_type *tg__ggml_type_of(int type) {
  for (int i = 0; i < (int)TG__COUNT(tg__ggml_types); i++)
    if (tg__ggml_types[i].type == type) return &tg__ggml_types[i];
  return NULL;
}

/* bytes of each scalar value type (TG_GGUF_*), 0 for strings and arrays */
static int tg__gguf_size(int type) {
  static const int size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  return type >= 0 && type < 13 ? size[type] : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// the reader: bounds-checked little-endian reads over the file's bytes

typedef struct tg__gr {
  const unsigned char *p;
  uint64_t n, at;
  const char *path;
  int bad;
} tg__gr;

static int tg__gr_need(tg__gr *r, uint64_t k, const char *what) {
  if (r->bad) return -1;
  if (k > r->n - r->at) {
    tg__set_error("tg_gguf_load: %s: %s at byte %llu runs past the end of the file (%llu bytes)", r->path, what,
                  (unsigned long long)r->at, (unsigned long long)r->n);
    r->bad = 1;
    return -1;
  }
  return 0;
}

static uint64_t tg__gr_u(tg__gr *r, int bytes, const char *what) {
  if (tg__gr_need(r, (uint64_t)bytes, what) < 0) return 0;
  uint64_t v = 0;
  for (int k = 0; k < bytes; k++) v |= (uint64_t)r->p[r->at + (uint64_t)k] << (8 * k);
  r->at += (uint64_t)bytes;
  return v;
}

/* a string: its bytes in the file (not NUL-terminated) and length, or NULL */
static const unsigned char *tg__gr_str(tg__gr *r, uint64_t *len, const char *what) {
  *len = tg__gr_u(r, 8, what);
  if (r->bad || tg__gr_need(r, *len, what) < 0) return NULL;
  const unsigned char *s = r->p + r->at;
  r->at += *len;
  return s;
}

static char *tg__gguf_strdup(const unsigned char *s, uint64_t n) {
  char *c = (char *)tg__alloc((size_t)n + 1);
  if (n) memcpy(c, s, (size_t)n);
  c[n] = 0;
  return c;
}

/* one value of scalar type t into *v */
static void tg__gr_num(tg__gr *r, int t, tg__gguf_num *v, const char *what) {
  uint64_t x = tg__gr_u(r, tg__gguf_size(t), what);
  switch (t) {
  case TG_GGUF_INT8: v->i = (int8_t)(uint8_t)x; break;
  case TG_GGUF_INT16: v->i = (int16_t)(uint16_t)x; break;
  case TG_GGUF_INT32: v->i = (int32_t)(uint32_t)x; break;
  case TG_GGUF_INT64: v->i = (int64_t)x; break;
  case TG_GGUF_BOOL: v->i = x != 0; break;
  case TG_GGUF_FLOAT32: {
    uint32_t b = (uint32_t)x;
    float f;
    memcpy(&f, &b, 4);
    v->f = f;
    break;
  }
  case TG_GGUF_FLOAT64: memcpy(&v->f, &x, 8); break;
  default: v->u = x; break; /* the unsigned ones */
  }
}

/* a key's value of type t (elements of type et, n of them, for an array) into kv; 0 or -1 */
static int tg__gr_value(tg__gr *r, tg__gguf_kv *kv, int t) {
  kv->type = t;
  kv->etype = t;
  kv->n = 1;
  if (t == TG_GGUF_ARRAY) {
    kv->etype = (int)tg__gr_u(r, 4, "an array's element type");
    uint64_t n = tg__gr_u(r, 8, "an array's length");
    if (r->bad) return -1;
    if (kv->etype == TG_GGUF_ARRAY || tg__gguf_size(kv->etype) < 0) {
      tg__set_error("tg_gguf_load: %s: key '%s' is an array of %s %d", r->path, kv->key,
                    kv->etype == TG_GGUF_ARRAY ? "arrays, which GGUF readers do not take: element type" : "unknown type",
                    kv->etype);
      return -1;
    }
    uint64_t least = kv->etype == TG_GGUF_STRING ? 8 : (uint64_t)tg__gguf_size(kv->etype); /* bytes an element takes */
    if (n > (r->n - r->at) / least) {
      tg__set_error("tg_gguf_load: %s: key '%s' is an array of %llu elements, more than the %llu bytes left hold",
                    r->path, kv->key, (unsigned long long)n, (unsigned long long)(r->n - r->at));
      return -1;
    }
    kv->n = (int64_t)n;
  } else if (tg__gguf_size(t) < 0) {
    tg__set_error("tg_gguf_load: %s: key '%s' has unknown value type %d", r->path, kv->key, t);
    return -1;
  }
  if (kv->etype == TG_GGUF_STRING) { /* the strings' bytes first, then one allocation for their copies */
    uint64_t start = r->at, total = 0, len;
    for (int64_t i = 0; i < kv->n && !r->bad; i++) tg__gr_str(r, &len, "a string"), total += len + 1;
    if (r->bad) return -1;
    r->at = start;
    char *all = kv->arena = (char *)tg__alloc((size_t)total + 1);
    kv->str = (char **)tg__alloc(sizeof(char *) * (size_t)(kv->n + 1));
    kv->len = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(kv->n + 1));
    for (int64_t i = 0; i < kv->n; i++) {
      const unsigned char *s = tg__gr_str(r, &len, "a string");
      if (len) memcpy(all, s, (size_t)len);
      all[len] = 0;
      kv->str[i] = all, kv->len[i] = (int64_t)len;
      all += len + 1;
    }
    return 0;
  }
  kv->num = (tg__gguf_num *)tg__alloc(sizeof(tg__gguf_num) * (size_t)(kv->n + 1));
  for (int64_t i = 0; i < kv->n && !r->bad; i++) tg__gr_num(r, kv->etype, &kv->num[i], "a value");
  return r->bad ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// dequantisation: the blocks (a uint8 tensor, blocks x bytes) to float32 values, by tensor ops (ggml's layouts)

/* bytes [a, b) of every block */
static tg_tensor *tg__gq_cols(tg_tensor *raw, int64_t a, int64_t b) {
  int64_t bounds[4] = {0, tg_shape(raw)[0], a, b};
  return tg_shrink(raw, 2, bounds);
}

/* the little-endian float16 at byte a of every block, as float32 (blocks x 1) */
static tg_tensor *tg__gq_half(tg_tensor *raw, int64_t a) {
  tg_tensor *lo = tg_cast(tg__gq_cols(raw, a, a + 1), TG_UINT16), *hi = tg_cast(tg__gq_cols(raw, a + 1, a + 2), TG_UINT16);
  return tg_cast(tg_bitcast(tg_bitwise_or(lo, tg_lshift(hi, 8)), TG_FLOAT16), TG_FLOAT32);
}

/* the fields of w bits of each byte of x (..., k): field f of byte l at index f * k + l (the fields' planes one
 * after another: low nibbles, then high ones), or, byte_major, at l * (8 / w) + f (a bit mask's bits in order) */
static tg_tensor *tg__gq_fields(tg_tensor *x, int w, int byte_major) {
  tg_tensor *f[8];
  int nf = 8 / w, nd = tg_ndim(x);
  for (int i = 0; i < nf; i++) f[i] = tg_bitwise_and(tg_rshift(x, w * i), tg_full_like(x, (double)((1 << w) - 1)));
  tg_tensor *s = tg_stack(f, nf, byte_major ? nd : nd - 1);
  return tg_flatten(s, nd - 1, nd);
}

static tg_tensor *tg__gq_f32(tg_tensor *x) { return tg_cast(x, TG_FLOAT32); }

/* Q4_K's and Q5_K's 6-bit scales and mins of their 8 sub-blocks (12 bytes at 4), float32 (blocks, 8) each */
static void tg__gq_kscales(tg_tensor *raw, tg_tensor **scale, tg_tensor **mins) {
  int64_t nb = tg_shape(raw)[0], b4[2] = {nb, 4};
  tg_tensor *s03 = tg__gq_cols(raw, 4, 8), *s47 = tg__gq_cols(raw, 8, 12), *s8 = tg__gq_cols(raw, 12, 16);
  tg_tensor *m63 = tg_full(63, TG_UINT8, 2, b4), *m15 = tg_full(15, TG_UINT8, 2, b4);
  tg_tensor *sc[2] = {tg_bitwise_and(s03, m63), tg_bitwise_or(tg_bitwise_and(s8, m15), tg_lshift(tg_rshift(s03, 6), 4))};
  tg_tensor *mn[2] = {tg_bitwise_and(s47, m63), tg_bitwise_or(tg_rshift(s8, 4), tg_lshift(tg_rshift(s47, 6), 4))};
  *scale = tg__gq_f32(tg_cat(sc, 2, 1));
  *mins = tg__gq_f32(tg_cat(mn, 2, 1));
}

/* the quants q of a Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 or Q4_K weight's blocks, in the order of the blocks' values: uint8
 * 0 to 15 for four bits, 0 to 31 for five; int8 for Q8_0 */
static tg_tensor *tg__gq_quants(tg_tensor *raw, int type) {
  switch (type) {
  case 12: { /* 4 chunks of 32 bytes: the low nibbles sub-block 2g, the high ones 2g + 1 */
    int64_t nb = tg_shape(raw)[0], shape[3] = {nb, 4, 32};
    return tg__gq_fields(tg_reshape(tg__gq_cols(raw, 16, 144), 3, shape), 4, 0);
  }
  case 8: return tg_bitcast(tg__gq_cols(raw, 2, 34), TG_INT8);
  case 2: return tg__gq_fields(tg__gq_cols(raw, 2, 18), 4, 0);
  case 3: return tg__gq_fields(tg__gq_cols(raw, 4, 20), 4, 0);
  case 6:
  case 7: {
    int64_t qh = type == 6 ? 2 : 4;
    tg_tensor *hi = tg__gq_fields(tg__gq_cols(raw, qh, qh + 4), 1, 1);
    return tg_bitwise_or(tg__gq_fields(tg__gq_cols(raw, qh + 4, qh + 20), 4, 0), tg_lshift(hi, 4));
  }
  default: return NULL;
  }
}

/* the values of n elements of ggml type `type` from their blocks (a uint8 tensor, blocks x bytes), float32 (n) */
static tg_tensor *tg__gguf_dequant(tg_tensor *raw, int type) {
  tg_tensor *d = type == 14 ? NULL : tg__gq_half(raw, 0), *q = NULL, *v = NULL; /* the scale first, but Q6_K's last */
  switch (type) {
  case 8: /* Q8_0: d, 32 int8; q d */
    v = tg_mul(d, tg__gq_f32(tg__gq_quants(raw, type)));
    break;
  case 2: /* Q4_0: d, nibbles; (q - 8) d */
    v = tg_mul(d, tg_sub_s(tg__gq_f32(tg__gq_quants(raw, type)), 8));
    break;
  case 3: /* Q4_1: d, m, nibbles; q d + m */
    v = tg_add(tg_mul(d, tg__gq_f32(tg__gq_quants(raw, type))), tg__gq_half(raw, 2));
    break;
  case 6:
  case 7: /* Q5_0: d, 32 fifth bits, nibbles; (q - 16) d. Q5_1: d, m, the bits, nibbles; q d + m */
    q = tg__gq_f32(tg__gq_quants(raw, type));
    v = type == 6 ? tg_mul(d, tg_sub_s(q, 16)) : tg_add(tg_mul(d, q), tg__gq_half(raw, 2));
    break;
  case 12:
  case 13: { /* Q4_K / Q5_K: d, dmin, 12 bytes of 6-bit scales and mins of 8 sub-blocks of 32, (Q5_K: 32 bytes of fifth
              * bits,) 128 bytes of nibbles: 4 chunks of 32 bytes, the low nibbles one sub-block, the high the next */
    int64_t nb = tg_shape(raw)[0];
    tg_tensor *scale, *mins;
    tg__gq_kscales(raw, &scale, &mins);
    scale = tg_unsqueeze(scale, 2), mins = tg_unsqueeze(mins, 2);
    int64_t shape[3] = {nb, 4, 32}, sub[3] = {nb, 8, 32}, all[2] = {nb, 256};
    q = type == 12 ? tg__gq_quants(raw, type) /* Q5_K's nibbles come after its fifth bits */
                   : tg__gq_fields(tg_reshape(tg__gq_cols(raw, 48, 176), 3, shape), 4, 0);
    q = tg__gq_f32(tg_reshape(q, 3, sub));
    if (type == 13) /* bit j of byte l: the fifth bit of element l of sub-block j */
      q = tg_add(q, tg_mul_s(tg__gq_f32(tg_reshape(tg__gq_fields(tg__gq_cols(raw, 16, 48), 1, 0), 3, sub)), 16));
    tg_tensor *dd = tg_unsqueeze(d, 2), *dmin = tg_unsqueeze(tg__gq_half(raw, 2), 2);
    v = tg_sub(tg_mul(tg_mul(dd, scale), q), tg_mul(dmin, mins));
    v = tg_reshape(v, 2, all);
    break;
  }
  case 14: { /* Q6_K: 128 bytes of low nibbles, 64 of 2-bit high parts, 16 int8 scales of 16 elements, d last. Per half
              * of 128: elements 0-63 the low nibbles of its 64 bytes, 64-127 the high ones; high part g (bits 2g, 2g+1)
              * of byte l goes to element 32 g + l */
    int64_t nb = tg_shape(raw)[0], h2[3] = {nb, 2, 64}, h3[3] = {nb, 2, 32}, all[2] = {nb, 256};
    tg_tensor *xl = tg_reshape(tg__gq_fields(tg_reshape(tg__gq_cols(raw, 0, 128), 3, h2), 4, 0), 2, all);
    tg_tensor *xh = tg_reshape(tg__gq_fields(tg_reshape(tg__gq_cols(raw, 128, 192), 3, h3), 2, 0), 2, all);
    tg_tensor *qv = tg_sub_s(tg__gq_f32(tg_bitcast(tg_bitwise_or(xl, tg_lshift(xh, 4)), TG_INT8)), 32);
    int64_t e16[3] = {nb, 16, 16};
    tg_tensor *sc = tg_reshape(tg_expand(tg_unsqueeze(tg__gq_f32(tg_bitcast(tg__gq_cols(raw, 192, 208), TG_INT8)), 2), 3,
                                         e16), 2, all);
    v = tg_mul(tg_mul(tg__gq_half(raw, 208), qv), sc);
    break;
  }
  default: return NULL;
  }
  return tg_flatten(v, 0, -1);
}

// ---------------------------------------------------------------------------------------------------------------------
// the loader

static void tg__gguf_free_parts(tg_gguf *g) {
  for (int64_t i = 0; g->kv && i < g->nkv; i++) {
    TG_FREE(g->kv[i].key);
    TG_FREE(g->kv[i].num);
    TG_FREE(g->kv[i].arena);
    TG_FREE(g->kv[i].str);
    TG_FREE(g->kv[i].len);
  }
  for (int64_t i = 0; g->ti && i < g->nti; i++) TG_FREE(g->ti[i].name);
  for (int64_t i = 0; g->raw && i < g->nti; i++)
    if (g->raw[i]) tg_free(g->raw[i]);
  TG_FREE(g->raw);
  TG_FREE(g->kv);
  TG_FREE(g->ti);
}

void tg_gguf_free(tg_gguf *g) {
  TG__LOCKED();
  if (!g) return;
  tg_state_dict_free(g->sd);
  tg__gguf_free_parts(g);
  TG_FREE(g);
}

static int tg__gguf_cmp_off(const void *a, const void *b) {
  const tg__gguf_ti *x = *(const tg__gguf_ti *const *)a, *y = *(const tg__gguf_ti *const *)b;
  return x->off < y->off ? -1 : x->off > y->off;
}

static int tg__gguf_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* a name that n records (of `size` bytes from base, the name's pointer at offset `at` of each) hold twice, or NULL:
 * sorted, in O(n log n) (a file of a million keys is checked in a moment) */
static const char *tg__gguf_repeated(const void *base, size_t size, size_t at, int64_t n) {
  char **names = (char **)tg__alloc(sizeof(char *) * (size_t)(n + 1));
  for (int64_t i = 0; i < n; i++) memcpy(&names[i], (const char *)base + (size_t)i * size + at, sizeof(char *));
  qsort(names, (size_t)n, sizeof(char *), tg__gguf_cmp_str);
  const char *twice = NULL;
  for (int64_t i = 1; i < n && !twice; i++)
    if (!strcmp(names[i - 1], names[i])) twice = names[i];
  TG_FREE(names);
  return twice;
}

/* the key-values (g->kv, g->nkv of them read), unique keys, the alignment; 0 or -1 */
static int tg__gguf_read_kvs(tg__gr *r, tg_gguf *g, uint64_t nkv) {
  g->kv = (tg__gguf_kv *)tg__alloc(sizeof(tg__gguf_kv) * (size_t)(nkv + 1));
  memset(g->kv, 0, sizeof(tg__gguf_kv) * (size_t)(nkv + 1));
  int rc = 0;
  for (uint64_t i = 0; i < nkv && rc == 0; i++) {
    tg__gguf_kv *kv = &g->kv[i];
    uint64_t len;
    uint64_t at = r->at;
    const unsigned char *k = tg__gr_str(r, &len, "a key");
    if (!k) return -1;
    kv->key = tg__gguf_strdup(k, len);
    g->nkv = (int64_t)i + 1;
    if (!len || strlen(kv->key) != len) {
      tg__set_error("tg_gguf_load: %s: the key at byte %llu is %s", r->path, (unsigned long long)at,
                    len ? "not a string (it holds a NUL byte)" : "empty");
      rc = -1;
    } else rc = tg__gr_value(r, kv, (int)tg__gr_u(r, 4, "a value type"));
  }
  if (rc < 0 || r->bad) return -1;
  const char *twice = tg__gguf_repeated(g->kv, sizeof(tg__gguf_kv), offsetof(tg__gguf_kv, key), g->nkv);
  if (twice) {
    tg__set_error("tg_gguf_load: %s: key '%s' appears twice", r->path, twice);
    return -1;
  }
  g->alignment = 32;
  int64_t a = tg_gguf_kv_find(g, "general.alignment");
  if (a >= 0) {
    tg__gguf_kv *kv = &g->kv[a];
    if (kv->type != TG_GGUF_UINT32 || kv->num[0].u == 0 || (kv->num[0].u & (kv->num[0].u - 1))) {
      tg__set_error("tg_gguf_load: %s: general.alignment must be a uint32 power of two", r->path);
      return -1;
    }
    g->alignment = (int64_t)kv->num[0].u;
  }
  return 0;
}

/* the tensor infos (g->ti), each checked; 0 or -1 */
static int tg__gguf_read_infos(tg__gr *r, tg_gguf *g, uint64_t nti) {
  g->ti = (tg__gguf_ti *)tg__alloc(sizeof(tg__gguf_ti) * (size_t)(nti + 1));
  memset(g->ti, 0, sizeof(tg__gguf_ti) * (size_t)(nti + 1));
  for (uint64_t i = 0; i < nti; i++) {
    tg__gguf_ti *t = &g->ti[i];
    uint64_t len;
    const unsigned char *nm = tg__gr_str(r, &len, "a tensor name");
    if (!nm) return -1;
    t->name = tg__gguf_strdup(nm, len);
    g->nti = (int64_t)i + 1;
    uint64_t nd = tg__gr_u(r, 4, "a tensor's dimension count");
    if (r->bad) return -1;
    if (!len || strlen(t->name) != len) {
      tg__set_error("tg_gguf_load: %s: tensor %llu's name is %s", r->path, (unsigned long long)i,
                    len ? "not a string (it holds a NUL byte)" : "empty");
      return -1;
    }
    if (nd < 1 || nd > 4) {
      tg__set_error("tg_gguf_load: %s: tensor '%s' has %llu dimensions (1 to 4)", r->path, t->name,
                    (unsigned long long)nd);
      return -1;
    }
    t->ndim = (int)nd;
    uint64_t numel = 1;
    int zero = 0;
    for (int d = 0; d < t->ndim; d++) {
      uint64_t e = tg__gr_u(r, 8, "a tensor's size");
      if (e > (uint64_t)INT64_MAX) e = (uint64_t)INT64_MAX, numel = 0; /* refused below */
      t->ne[d] = (int64_t)e;
      if (!e) zero = 1;
      else if (numel && numel > (uint64_t)INT64_MAX / e) numel = 0;
      else if (numel) numel *= e;
    }
    t->type = (int)tg__gr_u(r, 4, "a tensor's type");
    t->off = tg__gr_u(r, 8, "a tensor's offset");
    if (r->bad) return -1;
    const tg__ggml_type *ty = tg__ggml_type_of(t->type);
    if (!ty) {
      tg__set_error("tg_gguf_load: %s: tensor '%s' has ggml type %d, which tinygrad.h does not read (it reads F32, "
                    "F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K)", r->path, t->name, t->type);
      return -1;
    }
    if (!numel && !zero) {
      tg__set_error("tg_gguf_load: %s: tensor '%s': its size overflows", r->path, t->name);
      return -1;
    }
    if (t->ne[0] % ty->block) {
      tg__set_error("tg_gguf_load: %s: tensor '%s' (%s) has %lld elements along its fastest axis, no multiple of the "
                    "%d of a block", r->path, t->name, ty->name, (long long)t->ne[0], ty->block);
      return -1;
    }
    uint64_t blocks = zero ? 0 : numel / (uint64_t)ty->block;
    if (blocks > (uint64_t)INT64_MAX / (uint64_t)ty->bytes) {
      tg__set_error("tg_gguf_load: %s: tensor '%s': its byte count overflows", r->path, t->name);
      return -1;
    }
    t->nbytes = blocks * (uint64_t)ty->bytes;
    if (t->off % (uint64_t)g->alignment) {
      tg__set_error("tg_gguf_load: %s: tensor '%s' starts at offset %llu, no multiple of the alignment %lld", r->path,
                    t->name, (unsigned long long)t->off, (long long)g->alignment);
      return -1;
    }
  }
  const char *twice = tg__gguf_repeated(g->ti, sizeof(tg__gguf_ti), offsetof(tg__gguf_ti, name), g->nti);
  if (twice) {
    tg__set_error("tg_gguf_load: %s: tensor '%s' appears twice", r->path, twice);
    return -1;
  }
  return 0;
}

/* every tensor's bytes inside the data, and no two sharing any; 0 or -1 */
static int tg__gguf_check_data(const char *path, tg_gguf *g, uint64_t data_size) {
  const tg__gguf_ti **order = (const tg__gguf_ti **)tg__alloc(sizeof(void *) * (size_t)(g->nti + 1));
  for (int64_t i = 0; i < g->nti; i++) order[i] = &g->ti[i];
  qsort((void *)order, (size_t)g->nti, sizeof(void *), tg__gguf_cmp_off);
  int rc = 0;
  uint64_t end = 0;
  const char *last = NULL;
  for (int64_t i = 0; i < g->nti && rc == 0; i++) {
    const tg__gguf_ti *t = order[i];
    if (t->off > data_size || t->nbytes > data_size - t->off) {
      tg__set_error("tg_gguf_load: %s: tensor '%s' (bytes [%llu, +%llu) of the data) runs past the end of the file "
                    "(%llu bytes of data)", path, t->name, (unsigned long long)t->off, (unsigned long long)t->nbytes,
                    (unsigned long long)data_size);
      rc = -1;
    } else if (last && t->nbytes && t->off < end) {
      tg__set_error("tg_gguf_load: %s: tensor '%s' overlaps tensor '%s'", path, t->name, last);
      rc = -1;
    }
    if (t->nbytes && t->off + t->nbytes > end) end = t->off + t->nbytes, last = t->name;
  }
  TG_FREE((void *)order);
  return rc;
}

/* the tensors from the data: native ones as buffers, quantised ones as their blocks and a dequantisation. `mapped`:
 * the data is a file's read-only private mapping, whose pages each tensor's copy releases (they would come back
 * from the file), so that loading holds the model about once in memory, not twice */
static int tg__gguf_make(const char *path, tg_gguf *g, const unsigned char *data, int mapped) {
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  g->sd = tg_state_dict_new();
  g->raw = (tg_tensor **)tg__alloc(sizeof(tg_tensor *) * (size_t)(g->nti + 1));
  memset(g->raw, 0, sizeof(tg_tensor *) * (size_t)(g->nti + 1));
  for (int64_t i = 0; i < g->nti; i++) {
    const tg__gguf_ti *ti = &g->ti[i];
    const tg__ggml_type *ty = tg__ggml_type_of(ti->type);
    int64_t shape[4];
    for (int d = 0; d < ti->ndim; d++) shape[d] = ti->ne[ti->ndim - 1 - d];
    tg_scope_begin();
    tg_tensor *t = NULL;
    if (ty->block == 1)
      t = tg_from_data(data + ti->off, ti->type == 0 ? TG_FLOAT32 : ti->type == 1 ? TG_FLOAT16 : TG_BFLOAT16, ti->ndim,
                       shape);
    else {
      int64_t blocks[2] = {(int64_t)(ti->nbytes / (uint64_t)ty->bytes), ty->bytes};
      tg_tensor *raw = tg_from_data(data + ti->off, TG_UINT8, 2, blocks), *v = raw ? tg__gguf_dequant(raw, ti->type) : NULL;
      t = v ? tg_reshape(v, ti->ndim, shape) : NULL;
      if (t) g->raw[i] = tg_keep(raw); /* the same buffer as t's graph reads: no copy */
    }
    if (t) tg_keep(t);
    tg_scope_end();
    while (g->raw[i] && g->raw[i]->scope > 0) tg_keep(g->raw[i]);
    if (!t) {
      char why[512];
      snprintf(why, sizeof why, "%.500s", tg_error() ? tg_error() : "unknown error");
      tg__set_error("tg_gguf_load: %s: cannot create tensor '%s': %s", path, ti->name, why);
      return -1;
    }
    if (mapped && ti->nbytes && page) {
      uintptr_t a = (uintptr_t)(data + ti->off) / page * page, b = (uintptr_t)(data + ti->off + ti->nbytes);
      madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
    }
    while (t->scope > 0) tg_keep(t); /* owned by the dict, not by a scope */
    if (tg__sd_append("tg_gguf_load", g->sd, ti->name, t, 1) < 0) {
      tg_free(t);
      return -1;
    }
  }
  return 0;
}

/* the whole loader but the reading of the file (the fuzzer calls it on its bytes); path only names the file */
static tg_gguf *tg__gguf_load_bytes(const char *path, const unsigned char *m, uint64_t size, int mapped) {
  tg__gr r = {m, size, 0, path, 0};
  if (size < 4 || memcmp(m, "GGUF", 4)) {
    tg__set_error("tg_gguf_load: %s: not a GGUF file (it does not start with \"GGUF\")", path);
    return NULL;
  }
  r.at = 4;
  uint64_t version = tg__gr_u(&r, 4, "the version");
  uint64_t nti = tg__gr_u(&r, 8, "the tensor count"), nkv = tg__gr_u(&r, 8, "the key-value count");
  if (r.bad) return NULL;
  if (version != 2 && version != 3) {
    tg__set_error("tg_gguf_load: %s: GGUF version %llu%s (tinygrad.h reads versions 2 and 3)", path,
                  (unsigned long long)version,
                  version == 1 ? ", whose counts are 32-bit" : (version >> 24) ? ": a big-endian file" : "");
    return NULL;
  }
  /* a key-value takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8 */
  if (nkv > (size - r.at) / 13 || nti > (size - r.at) / 32) {
    tg__set_error("tg_gguf_load: %s: %llu key-values and %llu tensors cannot fit in the %llu bytes of the file", path,
                  (unsigned long long)nkv, (unsigned long long)nti, (unsigned long long)size);
    return NULL;
  }
  tg_gguf *g = (tg_gguf *)tg__alloc(sizeof(tg_gguf));
  memset(g, 0, sizeof *g);
  g->version = (int)version;
  int rc = tg__gguf_read_kvs(&r, g, nkv);
  if (rc == 0) rc = tg__gguf_read_infos(&r, g, nti);
  uint64_t start = rc == 0 ? (r.at + (uint64_t)g->alignment - 1) / (uint64_t)g->alignment * (uint64_t)g->alignment : 0;
  if (rc == 0 && start > size) {
    if (g->nti) {
      tg__set_error("tg_gguf_load: %s: the data would start at byte %llu, past the end of the file (%llu bytes)", path,
                    (unsigned long long)start, (unsigned long long)size);
      rc = -1;
    }
    start = size;
  }
  if (rc == 0) rc = tg__gguf_check_data(path, g, size - start);
  if (rc == 0) rc = tg__gguf_make(path, g, m + start, mapped);
  if (rc < 0) {
    tg_state_dict_free(g->sd);
    tg__gguf_free_parts(g);
    TG_FREE(g);
    return NULL;
  }
  return g;
}

tg_gguf *tg_gguf_load(const char *path) {
  TG__LOCKED();
  if (!path) {
    tg__set_error("tg_gguf_load: the path is NULL");
    return NULL;
  }
  if (!tg__host_little_endian()) {
    tg__set_error("tg_gguf_load: tinygrad.h reads little-endian GGUF files on little-endian hosts only");
    return NULL;
  }
  uint64_t size;
  const unsigned char *m = tg__map_file("tg_gguf_load", path, &size);
  if (!m) return NULL;
  tg_gguf *g = tg__gguf_load_bytes(path, m, size, size > 0);
  tg__unmap_file(m, size);
  return g;
}

// ---------------------------------------------------------------------------------------------------------------------
// accessors

int tg_gguf_version(const tg_gguf *g) {
  TG__LOCKED();
  return g ? g->version : -1;
}

tg_state_dict *tg_gguf_tensors(const tg_gguf *g) {
  TG__LOCKED();
  return g ? g->sd : NULL;
}

int64_t tg_gguf_kv_count(const tg_gguf *g) {
  TG__LOCKED();
  return g ? g->nkv : -1;
}

static const tg__gguf_kv *tg__gguf_kv_at(const tg_gguf *g, int64_t i) {
  return g && i >= 0 && i < g->nkv ? &g->kv[i] : NULL;
}

const char *tg_gguf_kv_key(const tg_gguf *g, int64_t i) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  return kv ? kv->key : NULL;
}

int64_t tg_gguf_kv_find(const tg_gguf *g, const char *key) {
  TG__LOCKED();
  for (int64_t i = 0; g && key && i < g->nkv; i++)
    if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return i;
  return -1;
}

int tg_gguf_kv_type(const tg_gguf *g, int64_t i) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  return kv ? kv->type : -1;
}

int tg_gguf_kv_element_type(const tg_gguf *g, int64_t i) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  return kv ? kv->etype : -1;
}

int64_t tg_gguf_kv_len(const tg_gguf *g, int64_t i) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  return kv ? kv->n : -1;
}

int tg_gguf_kv_int(const tg_gguf *g, int64_t i, int64_t j, int64_t *out) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  int e = kv ? kv->etype : -1;
  if (!kv || !out || j < 0 || j >= kv->n || e == TG_GGUF_STRING || e == TG_GGUF_FLOAT32 || e == TG_GGUF_FLOAT64) {
    tg__set_error("tg_gguf_kv_int: %s", !kv ? "no such key-value" : !out ? "out is NULL"
                                        : j < 0 || j >= kv->n ? "no such element" : "the value is no integer");
    return -1;
  }
  int is_unsigned = e == TG_GGUF_UINT8 || e == TG_GGUF_UINT16 || e == TG_GGUF_UINT32 || e == TG_GGUF_UINT64;
  if (is_unsigned && kv->num[j].u > (uint64_t)INT64_MAX) {
    tg__set_error("tg_gguf_kv_int: %s's value %llu passes int64", kv->key, (unsigned long long)kv->num[j].u);
    return -1;
  }
  *out = is_unsigned ? (int64_t)kv->num[j].u : kv->num[j].i;
  return 0;
}

int tg_gguf_kv_float(const tg_gguf *g, int64_t i, int64_t j, double *out) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  int e = kv ? kv->etype : -1;
  if (!kv || !out || j < 0 || j >= kv->n || e == TG_GGUF_STRING) {
    tg__set_error("tg_gguf_kv_float: %s", !kv ? "no such key-value" : !out ? "out is NULL"
                                          : j < 0 || j >= kv->n ? "no such element" : "the value is a string");
    return -1;
  }
  if (e == TG_GGUF_FLOAT32 || e == TG_GGUF_FLOAT64) *out = kv->num[j].f;
  else if (e == TG_GGUF_UINT8 || e == TG_GGUF_UINT16 || e == TG_GGUF_UINT32 || e == TG_GGUF_UINT64)
    *out = (double)kv->num[j].u;
  else *out = (double)kv->num[j].i;
  return 0;
}

const char *tg_gguf_kv_str(const tg_gguf *g, int64_t i, int64_t j, int64_t *len) {
  TG__LOCKED();
  const tg__gguf_kv *kv = tg__gguf_kv_at(g, i);
  if (!kv || kv->etype != TG_GGUF_STRING || j < 0 || j >= kv->n) return NULL;
  if (len) *len = kv->len[j];
  return kv->str[j];
}

int tg_gguf_tensor_type(const tg_gguf *g, const char *name) {
  TG__LOCKED();
  for (int64_t i = 0; g && name && i < g->nti; i++)
    if (!strcmp(g->ti[i].name, name)) return g->ti[i].type;
  return -1;
}

const char *tg_gguf_type_name(int type) {
  TG__LOCKED();
  const tg__ggml_type *ty = tg__ggml_type_of(type);
  return ty ? ty->name : NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// products with a weight: in float32, or with the activations quantised to 8 bits (llama.cpp's Q8_0 / Q8_1)

/* x (M, K) quantised per block of 32 as llama.cpp does (Q8_1): d = max|x| / 127 and q = round(x / d) (int8, (M, B,
 * 8, 4)), with *d (M, B, 1) and *s (M, B, 8), the sums of each 4 quants (float). Three small kernels: max|x|, q and
 * s; d is computed where it is read */
static tg_tensor *tg__q8_quantise(tg_tensor *x, int64_t M, int64_t B, tg_tensor **d, tg_tensor **s) {
  int64_t shape[4] = {M, B, 8, 4}, mb1[3] = {M, B, 1};
  int last2[2] = {2, 3}, last = 3;
  tg_tensor *xb = tg_reshape(tg_cast(x, TG_FLOAT32), 4, shape);
  tg_tensor *amax = tg_contiguous(tg_max(tg_abs(xb), 2, last2, 1));
  tg_tensor *inv = tg_where(tg_eq_s(amax, 0), tg_full_like(amax, 0), tg_rdiv_s(127.0, amax));
  tg_tensor *q = tg_contiguous(tg_cast(tg_round(tg_mul(xb, inv)), TG_INT8));
  *d = tg_reshape(tg_div_s(amax, 127.0), 3, mb1);
  *s = tg_contiguous(tg_cast(tg_sum(tg_cast(q, TG_INT32), 1, &last, 0), TG_FLOAT32));
  return q;
}

tg_tensor *tg_gguf_linear(const tg_gguf *g, const char *name, tg_tensor *x, int flags) {
  TG__LOCKED();
  TG__NEED("tg_gguf_linear", x);
  int64_t i = -1;
  for (int64_t j = 0; g && name && j < g->nti && i < 0; j++)
    if (!strcmp(g->ti[j].name, name)) i = j;
  if (i < 0) {
    if (g && name) tg__set_error("tg_gguf_linear: the GGUF has no tensor '%s'", name);
    else tg__set_error("tg_gguf_linear: %s", !g ? "no GGUF (NULL)" : "no tensor name (NULL)");
    return NULL;
  }
  const tg__gguf_ti *ti = &g->ti[i];
  tg_tensor *w = tg_state_dict_get(g->sd, name);
  int nd = tg_ndim(x);
  if (ti->ndim != 2 || nd < 1 || tg_shape(x)[nd - 1] != ti->ne[0] || (flags & ~TG_GGUF_Q8)) {
    if (ti->ndim != 2) tg__set_error("tg_gguf_linear: '%s' has %d dimensions, not 2", name, ti->ndim);
    else if (flags & ~TG_GGUF_Q8) tg__set_error("tg_gguf_linear: unknown flags 0x%x (TG_GGUF_Q8 is 1)", flags);
    else
      tg__set_error("tg_gguf_linear: x's last axis is %lld, '%s' takes %lld (its shape is %lld x %lld)",
                    nd ? (long long)tg_shape(x)[nd - 1] : 0LL, name, (long long)ti->ne[0], (long long)ti->ne[1],
                    (long long)ti->ne[0]);
    return NULL;
  }
  int type = ti->type,
      q8 = (flags & TG_GGUF_Q8) && (type == 2 || type == 3 || type == 6 || type == 7 || type == 8 || type == 12);
  if (!q8) return tg_matmul(x, tg_transpose(w, 0, 1));
  int64_t N = ti->ne[1], K = ti->ne[0], B = K / 32, M = tg_numel(x) / K;
  tg_scope_begin();
  tg_tensor *dx, *sx, *raw = g->raw[i];
  int64_t mk[2] = {M, K};
  tg_tensor *qx = tg__q8_quantise(tg_reshape(x, 2, mk), M, B, &dx, &sx);
  int64_t qw_shape[5] = {1, N, B, 8, 4}, qx_shape[5] = {M, 1, B, 8, 4}, nb1[4] = {1, N, B, 1};
  tg_tensor *qw = tg_reshape(tg__gq_quants(raw, type), 5, qw_shape);
  int last = 4, blocks[2] = {2, 3};
  /* the integer dot products of each 4 quants: (M, N, B, 8) */
  tg_tensor *dot = tg_sum(tg_mul(tg_cast(qw, TG_INT32), tg_cast(tg_reshape(qx, 5, qx_shape), TG_INT32)), 1, &last, 0);
  dot = tg_cast(dot, TG_FLOAT32);
  tg_tensor *dw = type == 12 ? NULL : tg_reshape(tg__gq_half(raw, 0), 4, nb1); /* a block's d (Q4_K: below) */
  tg_tensor *dxb = tg_unsqueeze(dx, 1), *sxb = tg_unsqueeze(sx, 1); /* (M, 1, B, 1), (M, 1, B, 8) */
  tg_tensor *term;
  /* the product with x's quantised values dx qx, exactly: q d + m gives dx (d dot + m s); (q - 8) d (Q5_0: 16) gives
   * dx d (dot - 8 s); q d (Q8_0) dx d dot */
  if (type == 12) { /* d sc q - dmin mn per sub-block of 32: dx (d sc dot - dmin mn s) */
    tg_tensor *sc, *mn;
    tg__gq_kscales(raw, &sc, &mn);
    tg_tensor *dk = tg_reshape(tg_mul(tg__gq_half(raw, 0), sc), 4, nb1);
    tg_tensor *mk = tg_reshape(tg_mul(tg__gq_half(raw, 2), mn), 4, nb1);
    term = tg_mul(tg_sub(tg_mul(dot, dk), tg_mul(mk, sxb)), dxb);
  } else if (type == 3 || type == 7)
    term = tg_mul(tg_add(tg_mul(dot, dw), tg_mul(tg_reshape(tg__gq_half(raw, 2), 4, nb1), sxb)), dxb);
  else if (type == 8) /* q d: dx d dot */
    term = tg_mul(dot, tg_mul(dw, dxb));
  else
    term = tg_mul(tg_mul(dw, dxb), tg_sub(dot, tg_mul_s(sxb, type == 2 ? 8 : 16)));
  tg_tensor *y = tg_sum(term, 2, blocks, 0);
  int64_t out[TG_MAX_DIMS];
  for (int a = 0; a < nd - 1; a++) out[a] = tg_shape(x)[a];
  out[nd - 1] = N;
  y = tg_reshape(y, nd, out);
  if (y) tg_keep(y);
  tg_scope_end();
  return y;
}
