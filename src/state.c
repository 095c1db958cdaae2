/* state.c: named tensors (state dicts) with string metadata, safetensors save/load (atomic save, mmap'd and
 * validated load), the IDX reader (gzip through libz loaded at run time) (layer 5).
 *
 * Contract:
 *  - A state dict is an ordered list of (name, tensor) with unique, non-empty names (a loaded file may hold an empty
 *    one), indexed by a hash, plus an ordered list of (key, value) UTF-8 strings: the safetensors "__metadata__".
 *    Tensors added by tg_state_dict_add are borrowed; tensors made by tg_safetensors_load are owned (moved out of
 *    every scope) and freed with the dict. A refused call (NULL or empty argument, duplicate) changes nothing.
 *  - tg_load_state_dict checks every pair first (names, shapes, dtypes), realises src (and any pending assignment),
 *    allocates what it needs, and only then writes: on error no tensor of dst changes. A dst tensor that IS a buffer
 *    (made from data, loaded, or assigned: its node is a reshape of a BUFFER) is written in place: the buffer takes
 *    the new bytes and a new version, so nothing cached from the old contents is reused, and views of the buffer see
 *    the new values. Any other dst (lazy, or realised from a computation) gets a fresh buffer and the handle is
 *    pointed at it: a realised computation's buffer is the cached value of its node, which hash-consing shares with
 *    every equal graph (two tg_zeros of one shape are one node), so writing into it would change those too.
 *    Metadata plays no part.
 *  - safetensors: 8 bytes of little-endian header length N, N bytes of JSON, then the data. Save writes
 *    "__metadata__" first when there is any, then the tensors in dict order with contiguous offsets, and the JSON
 *    exactly as tinygrad's safe_save (Python's json.dumps with separators (',', ':'), ensure_ascii), padded with
 *    spaces to a multiple of 8, so the files are byte-identical. The bytes go through tg__afile (a temporary file
 *    beside the target, fsync, rename): a failure at any point (a full disk, a crash) leaves an existing file as it
 *    was, and no temporary behind; an overwritten file keeps its permission bits. A symlink at the path is replaced,
 *    as safe_save (which unlinks first) does.
 *    Load maps the file (mmap) and validates everything before creating a tensor: the header length, a strict JSON
 *    parser for the subset the format uses (objects, strings, integers, arrays of integers; any other value is an
 *    error naming the byte offset), each entry's dtype/shape/data_offsets, unique names, sizes without overflow (every
 *    product of the nonzero dimensions and the byte count fit in int64, zeros or not: other code multiplies sizes),
 *    and offsets that tile the data region exactly (no gap, no overlap, nothing left over), as the Rust safetensors
 *    crate does. "__metadata__" must be an object of strings with unique keys; it is kept. Little-endian hosts only.
 *    tg__st_load_bytes is the loader less the file: the fuzzer (tests/fuzz/) calls it on its bytes.
 *  - IDX (MNIST): bytes 0 0 TYPE NDIM, NDIM big-endian uint32 sizes (their product checked as above), big-endian
 *    data, nothing after. gzip files (1f 8b) are read through libz, loaded with dlopen on use (libz.so.1, else
 *    libz.so) and closed again. The data buffer grows as bytes arrive: a lying header cannot make it allocate more
 *    than the file holds.
 *  - Every failure is NULL / -1 plus tg_error() naming the function, the file and what is wrong; no input file can
 *    make these functions read out of bounds, abort or leak. */
#include "internal.h"

#include <dlfcn.h>     // dlopen, dlsym, dlclose, dlerror: libz
#include <errno.h>
#include <fcntl.h>     // open
#include <sys/mman.h>  // mmap, munmap
#include <sys/stat.h>  // fstat
#include <unistd.h>    // close

TG__PRIVATE int tg__host_little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// sizes read from files: every product checked

/* numel and byte count of a shape of esize-byte elements; 0, or -1 when a product of its nonzero dimensions (or
 * that times esize) passes INT64_MAX. Zeros do not excuse an overflow: numel is 0, but strides and other code that
 * multiplies sizes would overflow for [2^62+1, 4, 0]. Negative dimensions are the caller's to refuse first. */
static int tg__shape_bytes(int ndim, const int64_t *shape, int64_t esize, int64_t *numel, int64_t *nbytes) {
  uint64_t p = (uint64_t)esize;
  int zero = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0) zero = 1;
    else if (p > (uint64_t)INT64_MAX / (uint64_t)shape[d]) return -1;
    else p *= (uint64_t)shape[d];
  }
  *nbytes = zero ? 0 : (int64_t)p;
  *numel = zero ? 0 : (int64_t)(p / (uint64_t)esize);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// state dicts

typedef struct tg__sd_entry {
  char *name;
  tg_tensor *t;
  int owned;  /* made by tg_safetensors_load: freed with the dict */
} tg__sd_entry;

typedef struct tg__sd_meta {
  char *key, *value;
} tg__sd_meta;

struct tg_state_dict {
  tg__sd_entry *e;  /* (n) in insertion order */
  int n, cap;
  int *slot;        /* (nslot, a power of two) a name's index + 1, or 0: open addressing, so a lookup is O(1) */
  int nslot;
  tg__sd_meta *m;   /* (nm) __metadata__ in insertion (or the file's) order */
  int nm, capm;
};

static size_t tg__sd_hash(const char *name, int nslot) {
  return (size_t)(tg__hash_bytes(name, strlen(name), 0) & (uint64_t)(nslot - 1));
}

static int tg__sd_find(const tg_state_dict *sd, const char *name) {
  if (!sd->nslot) return -1;
  for (size_t i = tg__sd_hash(name, sd->nslot);; i = (i + 1) & (size_t)(sd->nslot - 1)) {
    int k = sd->slot[i] - 1;
    if (k < 0) return -1;
    if (strcmp(sd->e[k].name, name) == 0) return k;
  }
}

static void tg__sd_index_put(tg_state_dict *sd, int k) {
  size_t i = tg__sd_hash(sd->e[k].name, sd->nslot);
  while (sd->slot[i]) i = (i + 1) & (size_t)(sd->nslot - 1);
  sd->slot[i] = k + 1;
}

#define TG__SD_MAX (1 << 28) /* entries of a dict: the capacities and the index (twice as many slots) stay ints */

/* appends (name, t) without any other check (the caller made them); 0, or -1 past TG__SD_MAX entries */
TG__PRIVATE int tg__sd_append(const char *fn, tg_state_dict *sd, const char *name, tg_tensor *t, int owned) {
  if (sd->n >= TG__SD_MAX) {
    tg__set_error("%s: a state dict holds at most %d tensors", fn, TG__SD_MAX);
    return -1;
  }
  if (sd->n == sd->cap) {
    sd->cap = sd->cap ? 2 * sd->cap : 16;
    sd->e = (tg__sd_entry *)tg__realloc(sd->e, sizeof(tg__sd_entry) * (size_t)sd->cap);
  }
  if (2 * (sd->n + 1) > sd->nslot) { /* keep the index at most half full */
    TG_FREE(sd->slot);
    sd->nslot = sd->nslot ? 2 * sd->nslot : 32;
    sd->slot = (int *)tg__alloc(sizeof(int) * (size_t)sd->nslot);
    for (int k = 0; k < sd->n; k++) tg__sd_index_put(sd, k);
  }
  sd->e[sd->n].name = tg__strdup(name);
  sd->e[sd->n].t = t;
  sd->e[sd->n].owned = owned;
  tg__sd_index_put(sd, sd->n++);
  return 0;
}

/* the checks of a key the user passes: not NULL, not empty; 0 or -1 */
static int tg__sd_check_key(const char *fn, const tg_state_dict *sd, const char *key, const char *what) {
  if (!sd) tg__set_error("%s: the state dict is NULL", fn);
  else if (!key) tg__set_error("%s: the %s is NULL", fn, what);
  else if (!*key) tg__set_error("%s: the %s is empty", fn, what);
  else return 0;
  return -1;
}

tg_state_dict *tg_state_dict_new(void) { TG__LOCKED(); return (tg_state_dict *)tg__alloc(sizeof(tg_state_dict)); }

void tg_state_dict_free(tg_state_dict *sd) {
  TG__LOCKED();
  if (!sd) return;
  for (int i = 0; i < sd->n; i++) {
    if (sd->e[i].owned) tg_free(sd->e[i].t);
    TG_FREE(sd->e[i].name);
  }
  for (int i = 0; i < sd->nm; i++) {
    TG_FREE(sd->m[i].key);
    TG_FREE(sd->m[i].value);
  }
  TG_FREE(sd->e);
  TG_FREE(sd->slot);
  TG_FREE(sd->m);
  TG_FREE(sd);
}

int tg_state_dict_add(tg_state_dict *sd, const char *name, tg_tensor *t) {
  TG__LOCKED();
  const char *fn = "tg_state_dict_add";
  if (tg__sd_check_key(fn, sd, name, "name") < 0) return -1;
  if (!t) { /* usually the result of an op that failed: its message is the useful part */
    const char *why = tg_error();
    char prev[400];
    snprintf(prev, sizeof prev, "%.399s", why ? why : "");
    if (*prev) tg__set_error("%s: the tensor for '%s' is NULL (the last error: %s)", fn, name, prev);
    else tg__set_error("%s: the tensor for '%s' is NULL", fn, name);
    return -1;
  }
  if (tg__sd_find(sd, name) >= 0) {
    tg__set_error("%s: the name '%s' is already in the state dict", fn, name);
    return -1;
  }
  return tg__sd_append(fn, sd, name, t, 0);
}

int tg_state_dict_count(const tg_state_dict *sd) {
  TG__LOCKED();
  if (!sd) tg__set_error("tg_state_dict_count: the state dict is NULL");
  return sd ? sd->n : -1;
}

static int tg__sd_index(const char *fn, const tg_state_dict *sd, int i, int n) {
  if (!sd) tg__set_error("%s: the state dict is NULL", fn);
  else if (i < 0 || i >= n) tg__set_error("%s: index %d is out of range for %d entries", fn, i, n);
  else return 0;
  return -1;
}

const char *tg_state_dict_name(const tg_state_dict *sd, int i) {
  TG__LOCKED();
  return tg__sd_index("tg_state_dict_name", sd, i, sd ? sd->n : 0) < 0 ? NULL : sd->e[i].name;
}

tg_tensor *tg_state_dict_tensor(const tg_state_dict *sd, int i) {
  TG__LOCKED();
  return tg__sd_index("tg_state_dict_tensor", sd, i, sd ? sd->n : 0) < 0 ? NULL : sd->e[i].t;
}

tg_tensor *tg_state_dict_get(const tg_state_dict *sd, const char *name) {
  TG__LOCKED();
  if (!sd || !name) {
    tg__set_error("tg_state_dict_get: the %s is NULL", !sd ? "state dict" : "name");
    return NULL;
  }
  int i = tg__sd_find(sd, name);
  if (i < 0) {
    tg__set_error("tg_state_dict_get: no tensor is named '%s'", name);
    return NULL;
  }
  return sd->e[i].t;
}

// ---------------------------------------------------------------------------------------------------------------------
// state dicts: __metadata__ (string pairs, saved and loaded with safetensors files)

static int tg__sd_meta_find(const tg_state_dict *sd, const char *key) {
  for (int i = 0; i < sd->nm; i++)
    if (strcmp(sd->m[i].key, key) == 0) return i;
  return -1;
}

/* appends (key, value), both copied, without any check */
static void tg__sd_meta_append(tg_state_dict *sd, const char *key, const char *value) {
  if (sd->nm == sd->capm) {
    sd->capm = sd->capm ? 2 * sd->capm : 8;
    sd->m = (tg__sd_meta *)tg__realloc(sd->m, sizeof(tg__sd_meta) * (size_t)sd->capm);
  }
  sd->m[sd->nm].key = tg__strdup(key);
  sd->m[sd->nm].value = tg__strdup(value);
  sd->nm++;
}

static int tg__utf8_valid(const char *s); /* with the other UTF-8 helpers, below */

int tg_state_dict_metadata_set(tg_state_dict *sd, const char *key, const char *value) {
  TG__LOCKED();
  const char *fn = "tg_state_dict_metadata_set";
  if (tg__sd_check_key(fn, sd, key, "key") < 0) return -1;
  if (!value) {
    tg__set_error("%s: the value of '%s' is NULL", fn, key);
    return -1;
  }
  if (!tg__utf8_valid(key) || !tg__utf8_valid(value)) { /* JSON holds only UTF-8: refused now, not at save */
    tg__set_error("%s: the %s of '%s' is not UTF-8", fn, tg__utf8_valid(key) ? "value" : "key", key);
    return -1;
  }
  if (sd->nm >= TG__SD_MAX) {
    tg__set_error("%s: a state dict holds at most %d metadata entries", fn, TG__SD_MAX);
    return -1;
  }
  int i = tg__sd_meta_find(sd, key);
  if (i < 0) {
    tg__sd_meta_append(sd, key, value);
    return 0;
  }
  char *v = tg__strdup(value); /* value may be the old string itself */
  TG_FREE(sd->m[i].value);
  sd->m[i].value = v;
  return 0;
}

int tg_state_dict_metadata_count(const tg_state_dict *sd) {
  TG__LOCKED();
  if (!sd) tg__set_error("tg_state_dict_metadata_count: the state dict is NULL");
  return sd ? sd->nm : -1;
}

const char *tg_state_dict_metadata_key(const tg_state_dict *sd, int i) {
  TG__LOCKED();
  return tg__sd_index("tg_state_dict_metadata_key", sd, i, sd ? sd->nm : 0) < 0 ? NULL : sd->m[i].key;
}

const char *tg_state_dict_metadata_value(const tg_state_dict *sd, int i) {
  TG__LOCKED();
  return tg__sd_index("tg_state_dict_metadata_value", sd, i, sd ? sd->nm : 0) < 0 ? NULL : sd->m[i].value;
}

const char *tg_state_dict_metadata_get(const tg_state_dict *sd, const char *key) {
  TG__LOCKED();
  if (!sd || !key) {
    tg__set_error("tg_state_dict_metadata_get: the %s is NULL", !sd ? "state dict" : "key");
    return NULL;
  }
  int i = tg__sd_meta_find(sd, key);
  if (i < 0) {
    tg__set_error("tg_state_dict_metadata_get: no metadata key is '%s'", key);
    return NULL;
  }
  return sd->m[i].value;
}

// ---------------------------------------------------------------------------------------------------------------------
// tg_load_state_dict: check everything, prepare everything, then write

/* the names of dst and src agree (as strict asks), and every pair has one shape and one dtype; 0 or -1 */
static int tg__lsd_check(const tg_state_dict *dst, const tg_state_dict *src, int strict) {
  const char *hint = "HINT: pass strict = 0 to skip names missing on either side";
  for (int i = 0; i < dst->n; i++) {
    const char *name = dst->e[i].name;
    int j = tg__sd_find(src, name);
    if (j < 0) {
      if (!strict) continue;
      tg__set_error("tg_load_state_dict: '%s' is in the model but not in the file. %s", name, hint);
      return -1;
    }
    tg__uop *d = dst->e[i].t->uop, *s = src->e[j].t->uop;
    char b1[256], b2[256];
    if (d->ndim != s->ndim || tg__prod(d->shape, d->ndim) != tg__prod(s->shape, s->ndim) ||
        (d->ndim && memcmp(d->shape, s->shape, sizeof(int64_t) * (size_t)d->ndim) != 0)) {
      tg__set_error("tg_load_state_dict: '%s' has shape %s in the file but %s in the model", name, TG__SHAPE(s, b1),
                    TG__SHAPE(d, b2));
      return -1;
    }
    if (d->dtype != s->dtype) {
      tg__set_error("tg_load_state_dict: '%s' is %s in the file but %s in the model. HINT: tg_cast the tensor of the "
                    "file first", name, tg_dtype_name(s->dtype), tg_dtype_name(d->dtype));
      return -1;
    }
  }
  for (int j = 0; strict && j < src->n; j++)
    if (tg__sd_find(dst, src->e[j].name) < 0) {
      tg__set_error("tg_load_state_dict: '%s' is in the file but not in the model. %s", src->e[j].name, hint);
      return -1;
    }
  return 0;
}

/* the buffer t is a view of, without following a realised computation's `becomes` (see the contract), or NULL */
static tg__buffer *tg__lsd_own_buffer(tg_tensor *t) {
  tg__uop *b = tg__view_buffer(t->uop);
  return b ? (tg__buffer *)b->arg.ptr : NULL;
}

/* one pair to copy: the plan made before anything is written */
typedef struct tg__lsd_copy {
  const char *name;
  tg_tensor *dst;
  tg__buffer *from;   /* src's buffer (realised) */
  tg__buffer *to;     /* where the bytes go: dst's own buffer (in place) or `fresh` */
  tg__buffer *fresh;  /* a new buffer for dst (one reference, ours), or NULL to write in place */
  void *snapshot;     /* src's bytes read before any write, when `from` is also written by this load */
} tg__lsd_copy;

static void tg__lsd_plan_free(tg__lsd_copy *c, int n) {
  for (int i = 0; i < n; i++) {
    if (c[i].fresh) tg__buffer_release(c[i].fresh);
    TG_FREE(c[i].snapshot);
  }
  TG_FREE(c);
}

/* decides where each pair's bytes go and allocates all memory; 0, or -1 with nothing changed */
static int tg__lsd_plan(tg__lsd_copy *c, int n) {
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    tg_tensor *d = c[i].dst;
    c[i].to = tg__lsd_own_buffer(d);
    if (!c[i].to) {
      c[i].fresh = tg__buffer_new(d->dev, d->uop->dtype, tg__prod(d->uop->shape, d->uop->ndim));
      c[i].to = c[i].fresh;
    }
    if (!c[i].to || tg__buffer_ensure(c[i].to) < 0 || tg__buffer_ensure(c[i].from) < 0) rc = -1;
  }
  /* a source that is also a destination (the same tensor on both sides, or aliases) is read before any write */
  for (int i = 0; i < n && rc == 0; i++) {
    int aliased = 0;
    for (int j = 0; j < n && !aliased; j++) aliased = c[j].to == c[i].from;
    if (!aliased) continue;
    c[i].snapshot = TG_MALLOC(c[i].from->nbytes ? c[i].from->nbytes : 1);
    if (!c[i].snapshot) {
      tg__set_error("tg_load_state_dict: out of memory copying %zu bytes", c[i].from->nbytes);
      rc = -1;
    } else rc = tg__buffer_copyout(c[i].from, c[i].snapshot);
  }
  return rc;
}

/* copies the bytes and points dst at the written buffer, at a new version; 0 or -1 (a device copy failed) */
static int tg__lsd_write(tg__lsd_copy *c, void *tmp) {
  const void *bytes = c->snapshot;
  if (!bytes) {
    if (tg__buffer_copyout(c->from, tmp) < 0) return -1;
    bytes = tmp;
  }
  if ((!c->fresh && tg__buffer_unshare(c->to) < 0) || tg__buffer_copyin(c->to, bytes) < 0) return -1;
  if (!c->fresh) { /* in place: the next version, which dst and every other plain view of the buffer follow */
    tg__buffer_bump(c->to, 1);
    return 0;
  }
  tg__uop *old = c->dst->uop;
  c->dst->uop = tg__treshape(tg__buffer_uop_of(c->to), old->ndim, old->shape);
  tg__buffer_release(c->fresh); /* the BUFFER node holds it now */
  c->fresh = NULL;
  return 0;
}

int tg_load_state_dict(tg_state_dict *dst, const tg_state_dict *src, int strict) {
  TG__LOCKED();
  if (!dst || !src) {
    tg__set_error("tg_load_state_dict: the %s state dict is NULL", !dst ? "destination" : "source");
    return -1;
  }
  if (tg__lsd_check(dst, src, strict) < 0) return -1;
  tg__lsd_copy *c = (tg__lsd_copy *)tg__alloc(sizeof(tg__lsd_copy) * (size_t)(dst->n ? dst->n : 1));
  tg_tensor **srcs = (tg_tensor **)tg__alloc(sizeof(tg_tensor *) * (size_t)(dst->n ? dst->n : 1));
  int n = 0;
  for (int i = 0; i < dst->n; i++) {
    int j = tg__sd_find(src, dst->e[i].name);
    if (j < 0) continue;
    c[n].name = dst->e[i].name;
    c[n].dst = dst->e[i].t;
    srcs[n++] = src->e[j].t;
  }
  /* realises the sources, and every pending assignment with them (a dst may have one) */
  int rc = tg_realize_all(srcs, n);
  size_t maxbytes = 1;
  for (int i = 0; i < n && rc == 0; i++) {
    c[i].from = tg__tensor_buffer(srcs[i]);
    if (!c[i].from) {
      tg__set_error("tg_load_state_dict: '%s' of the file did not realise into a buffer", c[i].name);
      rc = -1;
    } else if (c[i].from->nbytes > maxbytes) maxbytes = c[i].from->nbytes;
  }
  TG_FREE(srcs);
  if (rc == 0) rc = tg__lsd_plan(c, n);
  void *tmp = rc == 0 ? TG_MALLOC(maxbytes) : NULL;
  if (rc == 0 && !tmp) {
    tg__set_error("tg_load_state_dict: out of memory for a copy of %zu bytes", maxbytes);
    rc = -1;
  }
  for (int i = 0; i < n && rc == 0; i++) rc = tg__lsd_write(&c[i], tmp);
  TG_FREE(tmp);
  tg__lsd_plan_free(c, n);
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// safetensors: dtype names, UTF-8

static const char *const tg__st_dtype_names[TG_NDTYPES] = {
    /* in tg_dtype order */
    "BOOL", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64",
};

static int tg__st_dtype(const char *name) {
  for (int d = 0; d < TG_NDTYPES; d++)
    if (strcmp(tg__st_dtype_names[d], name) == 0) return d;
  return -1;
}

/* the length of the UTF-8 sequence at s (n bytes available), with its code point in *cp; 0 if not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF included) */
static int tg__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
  if (!len || (size_t)len > n) return 0;
  uint32_t c = len == 1 ? s[0] : s[0] & (0x7fu >> len);
  for (int k = 1; k < len; k++) {
    if ((s[k] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[k] & 0x3fu);
  }
  if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  *cp = c;
  return len;
}

/* 1 if s is valid UTF-8 (as tg__utf8_decode judges), else 0 */
static int tg__utf8_valid(const char *s) {
  size_t n = strlen(s);
  uint32_t cp;
  for (size_t i = 0; i < n;) {
    int len = tg__utf8_decode((const unsigned char *)s + i, n - i, &cp);
    if (!len) return 0;
    i += (size_t)len;
  }
  return 1;
}

static void tg__utf8_encode(tg__str *b, uint32_t c) {
  char u[5] = {0};
  if (c < 0x80) u[0] = (char)c;
  else if (c < 0x800) {
    u[0] = (char)(0xc0 | (c >> 6));
    u[1] = (char)(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    u[0] = (char)(0xe0 | (c >> 12));
    u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    u[2] = (char)(0x80 | (c & 0x3f));
  } else {
    u[0] = (char)(0xf0 | (c >> 18));
    u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    u[3] = (char)(0x80 | (c & 0x3f));
  }
  tg__str_cat(b, u);
}

// ---------------------------------------------------------------------------------------------------------------------
// safetensors save

/* a JSON string as Python's json.dumps writes it (ensure_ascii: everything outside ' '..'~' escaped); -1 if name is
 * not UTF-8 */
static int tg__json_quote(tg__str *b, const char *name) {
  const unsigned char *s = (const unsigned char *)name;
  size_t n = strlen(name);
  tg__str_cat(b, "\"");
  for (size_t i = 0; i < n;) {
    uint32_t c;
    int len = tg__utf8_decode(s + i, n - i, &c);
    if (!len) return -1;
    i += (size_t)len;
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                      : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
    if (esc) tg__str_cat(b, esc);
    else if (c >= 0x20 && c <= 0x7e) tg__str_printf(b, "%c", (char)c);
    else if (c < 0x10000) tg__str_printf(b, "\\u%04x", (unsigned)c);
    else tg__str_printf(b, "\\u%04x\\u%04x", 0xd800u + ((c - 0x10000) >> 10), 0xdc00u + ((c - 0x10000) & 0x3ff));
  }
  tg__str_cat(b, "\"");
  return 0;
}

/* the header: JSON padded with spaces to a multiple of 8, as tinygrad's safe_save writes it: "__metadata__" first
 * when there is any, then the tensors in dict order with contiguous offsets; NULL with an error for a name JSON
 * cannot hold, or a tensor too large to save */
static char *tg__st_header_json(const tg_state_dict *sd, size_t *len) {
  tg__str b;
  memset(&b, 0, sizeof b);
  tg__str_cat(&b, "{");
  if (sd->nm) { /* keys and values were checked for UTF-8 by tg_state_dict_metadata_set, or by the loader */
    tg__str_cat(&b, "\"__metadata__\":{");
    for (int i = 0; i < sd->nm; i++) {
      if (i) tg__str_cat(&b, ",");
      tg__json_quote(&b, sd->m[i].key);
      tg__str_cat(&b, ":");
      tg__json_quote(&b, sd->m[i].value);
    }
    tg__str_cat(&b, sd->n ? "}," : "}");
  }
  int64_t off = 0;
  for (int i = 0; i < sd->n; i++) {
    tg__uop *u = sd->e[i].t->uop;
    int reserved = strcmp(sd->e[i].name, "__metadata__") == 0;
    int64_t numel, nbytes;
    if (i) tg__str_cat(&b, ",");
    const char *why = reserved ? "it is reserved for metadata" : tg__json_quote(&b, sd->e[i].name) < 0 ?
                      "it is not UTF-8" : NULL;
    if (why) {
      tg__set_error("tg_safetensors_save: the name '%s' cannot be saved (%s)", sd->e[i].name, why);
      TG_FREE(tg__str_take(&b));
      return NULL;
    }
    /* a lazy tensor (an expand) may have a shape no buffer could hold: refused before anything is realised */
    if (tg__shape_bytes(u->ndim, u->shape, tg_dtype_size(u->dtype), &numel, &nbytes) < 0 || nbytes > INT64_MAX - off) {
      char sb[256];
      tg__set_error("tg_safetensors_save: tensor '%s' of shape %s is too large to save (more than 2^63 bytes)",
                    sd->e[i].name, TG__SHAPE(u, sb));
      TG_FREE(tg__str_take(&b));
      return NULL;
    }
    tg__str_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[", tg__st_dtype_names[u->dtype]);
    for (int d = 0; d < u->ndim; d++) tg__str_printf(&b, "%s%lld", d ? "," : "", (long long)u->shape[d]);
    tg__str_printf(&b, "],\"data_offsets\":[%lld,%lld]}", (long long)off, (long long)(off + nbytes));
    off += nbytes;
  }
  tg__str_cat(&b, "}");
  while (b.n % 8) tg__str_cat(&b, " ");
  *len = b.n;
  return tg__str_take(&b);
}

/* writes the header and every tensor's bytes to the temporary file; 0, or -1 with the file discarded */
static int tg__st_write(tg__afile *f, const tg_state_dict *sd, const char *header, size_t hlen) {
  unsigned char len8[8];
  for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
  if (tg__afile_write(f, len8, 8) < 0 || tg__afile_write(f, header, hlen) < 0) return -1;
  for (int i = 0; i < sd->n; i++) {
    tg_tensor *t = sd->e[i].t;
    size_t nbytes = (size_t)tg_numel(t) * (size_t)tg_dtype_size(tg_dtype_of(t));
    void *buf = TG_MALLOC(nbytes ? nbytes : 1);
    int rc = -1;
    if (!buf) tg__set_error("tg_safetensors_save: %s: out of memory for the %zu bytes of '%s'", f->path, nbytes,
                            sd->e[i].name);
    else if (tg_to_host(t, buf, nbytes) == 0) rc = tg__afile_write(f, buf, nbytes);
    TG_FREE(buf);
    if (rc < 0) {
      tg__afile_discard(f); /* (a second discard after a failed write is harmless) */
      return -1;
    }
  }
  return 0;
}

int tg_safetensors_save(const char *path, const tg_state_dict *sd) {
  TG__LOCKED();
  if (!path || !sd) {
    tg__set_error("tg_safetensors_save: the %s is NULL", !path ? "path" : "state dict");
    return -1;
  }
  if (!tg__host_little_endian()) {
    tg__set_error("tg_safetensors_save: safetensors files are little-endian; this host is not");
    return -1;
  }
  size_t hlen;
  char *header = tg__st_header_json(sd, &hlen);
  if (!header) return -1;
  tg_tensor **ts = (tg_tensor **)tg__alloc(sizeof(tg_tensor *) * (size_t)(sd->n ? sd->n : 1));
  for (int i = 0; i < sd->n; i++) ts[i] = sd->e[i].t;
  int rc = tg_realize_all(ts, sd->n); /* one schedule for every lazy tensor */
  TG_FREE(ts);
  /* the bytes go to a temporary file beside path, renamed over it once complete and flushed: an existing file stays
   * intact through any failure (a full disk, a crash) */
  tg__afile f;
  if (rc == 0) rc = tg__afile_open(&f, "tg_safetensors_save", path);
  if (rc == 0) rc = tg__st_write(&f, sd, header, hlen);
  if (rc == 0) rc = tg__afile_commit(&f);
  TG_FREE(header);
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// safetensors load: a strict parser for the JSON subset of the header

typedef struct tg__js {
  const unsigned char *s;  /* the header (n bytes) */
  size_t n, i;             /* i: the cursor */
  const char *path;
} tg__js;

/* records a syntax error at the cursor (as a byte offset in the file); returns -1 */
static int tg__js_fail(tg__js *j, const char *what) {
  tg__set_error("tg_safetensors_load: %s: malformed JSON header at byte %zu: %s", j->path, 8 + j->i, what);
  return -1;
}

/* skips whitespace; the next byte, or -1 at the end */
static int tg__js_peek(tg__js *j) {
  while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r')) j->i++;
  return j->i < j->n ? j->s[j->i] : -1;
}

static int tg__js_expect(tg__js *j, char c, const char *what) {
  if (tg__js_peek(j) != c) return tg__js_fail(j, what);
  j->i++;
  return 0;
}

static int tg__js_hex4(tg__js *j, uint32_t *v) {
  *v = 0;
  for (int k = 0; k < 4; k++, j->i++) {
    int c = j->i < j->n ? j->s[j->i] : -1, d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return tg__js_fail(j, "expected 4 hex digits after \\u");
    *v = *v * 16 + (uint32_t)d;
  }
  return 0;
}

/* an escape after the backslash (at the cursor) appended to b as UTF-8; 0 or -1 */
static int tg__js_escape(tg__js *j, tg__str *b) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  int c = j->i < j->n ? j->s[j->i] : -1;
  const char *p = c > 0 ? strchr(from, c) : NULL;
  if (p) {
    j->i++;
    tg__str_printf(b, "%c", to[p - from]);
    return 0;
  }
  if (c != 'u') return tg__js_fail(j, "unknown escape in a string");
  j->i++;
  uint32_t cp, lo;
  if (tg__js_hex4(j, &cp) < 0) return -1;
  if (cp >= 0xdc00 && cp <= 0xdfff) return tg__js_fail(j, "a lone low surrogate in a string");
  if (cp >= 0xd800 && cp <= 0xdbff) { /* a pair: \uD8xx\uDCxx */
    if (j->i + 2 > j->n || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
      return tg__js_fail(j, "a high surrogate not followed by a low one");
    j->i += 2;
    if (tg__js_hex4(j, &lo) < 0) return -1;
    if (lo < 0xdc00 || lo > 0xdfff) return tg__js_fail(j, "a high surrogate not followed by a low one");
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  if (cp == 0) return tg__js_fail(j, "a NUL character (\\u0000) in a string");
  tg__utf8_encode(b, cp);
  return 0;
}

/* a string, decoded; malloc'd, NULL on error */
static char *tg__js_string(tg__js *j) {
  if (tg__js_expect(j, '"', "expected a string") < 0) return NULL;
  tg__str b;
  memset(&b, 0, sizeof b);
  tg__str_cat(&b, "");
  for (;;) {
    if (j->i >= j->n) {
      tg__js_fail(j, "unterminated string");
      break;
    }
    unsigned char c = j->s[j->i];
    uint32_t cp;
    int len;
    if (c == '"') {
      j->i++;
      return tg__str_take(&b);
    } else if (c == '\\') {
      j->i++;
      if (tg__js_escape(j, &b) < 0) break;
    } else if (c < 0x20) {
      tg__js_fail(j, "a control character in a string");
      break;
    } else if (!(len = tg__utf8_decode(j->s + j->i, j->n - j->i, &cp))) {
      tg__js_fail(j, "invalid UTF-8 in a string");
      break;
    } else {
      char u[5] = {0};
      memcpy(u, j->s + j->i, (size_t)len);
      tg__str_cat(&b, u);
      j->i += (size_t)len;
    }
  }
  TG_FREE(tg__str_take(&b));
  return NULL;
}

/* an integer (JSON syntax: -?(0|[1-9][0-9]*), no fraction or exponent) that fits in int64; 0 or -1 */
static int tg__js_int(tg__js *j, int64_t *v) {
  int c = tg__js_peek(j), neg = c == '-';
  if (neg) c = ++j->i < j->n ? j->s[j->i] : -1;
  if (c < '0' || c > '9') return tg__js_fail(j, "expected an integer");
  uint64_t x = 0;
  size_t start = j->i;
  while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
    unsigned dg = (unsigned)(j->s[j->i] - '0');
    if (x > ((uint64_t)INT64_MAX - dg) / 10) return tg__js_fail(j, "an integer too large for 64 bits");
    x = x * 10 + dg;
    j->i++;
  }
  if (j->s[start] == '0' && j->i - start > 1) return tg__js_fail(j, "a leading zero in an integer");
  c = j->i < j->n ? j->s[j->i] : -1;
  if (c == '.' || c == 'e' || c == 'E') return tg__js_fail(j, "expected an integer, found a fraction or exponent");
  *v = neg ? -(int64_t)x : (int64_t)x;
  return 0;
}

/* [int, ...] into v (at most max, more is an error naming what); the count, or -1 */
static int tg__js_ints(tg__js *j, int64_t *v, int max, const char *what) {
  if (tg__js_expect(j, '[', "expected '['") < 0) return -1;
  int n = 0;
  if (tg__js_peek(j) == ']') {
    j->i++;
    return 0;
  }
  for (;;) {
    if (n == max) {
      char msg[96];
      snprintf(msg, sizeof msg, "more than %d entries in %s", max, what);
      return tg__js_fail(j, msg);
    }
    if (tg__js_int(j, &v[n++]) < 0) return -1;
    int c = tg__js_peek(j);
    j->i++;
    if (c == ']') return n;
    if (c != ',') {
      j->i--;
      return tg__js_fail(j, "expected ',' or ']' in an array");
    }
  }
}

/* the members of an object: fn(j, key, ctx) parses each value; 0 or -1. Keys must be unique within the object when
 * unique_keys (fn sees each key; duplicates are its business otherwise). */
typedef int (*tg__js_member_fn)(tg__js *j, const char *key, void *ctx);
static int tg__js_object(tg__js *j, tg__js_member_fn fn, void *ctx) {
  if (tg__js_expect(j, '{', "expected '{'") < 0) return -1;
  if (tg__js_peek(j) == '}') {
    j->i++;
    return 0;
  }
  for (;;) {
    char *key = tg__js_string(j);
    if (!key) return -1;
    int rc = tg__js_expect(j, ':', "expected ':' after a key");
    if (rc == 0) rc = fn(j, key, ctx);
    TG_FREE(key);
    if (rc < 0) return -1;
    int c = tg__js_peek(j);
    if (c == '}' || c == ',') j->i++;
    if (c == '}') return 0;
    if (c != ',') return tg__js_fail(j, "expected ',' or '}' in an object");
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// safetensors load: the entries of the header and their validation

typedef struct tg__st_entry {
  char *name;
  int dtype;                  /* -1 until seen */
  int ndim;                   /* -1 until seen */
  int64_t shape[TG_MAX_DIMS];
  int noffsets;               /* -1 until seen */
  int64_t off[2];             /* [begin, end) in the data region */
} tg__st_entry;

typedef struct tg__st_header {
  tg__st_entry *e;
  int n, cap;
  int seen_metadata;
  tg__sd_meta *m;  /* (nm) the pairs of __metadata__, in the file's order */
  int nm, capm;
} tg__st_header;

static void tg__st_header_free(tg__st_header *h) {
  for (int i = 0; i < h->n; i++) TG_FREE(h->e[i].name);
  for (int i = 0; i < h->nm; i++) {
    TG_FREE(h->m[i].key);
    TG_FREE(h->m[i].value);
  }
  TG_FREE(h->e);
  TG_FREE(h->m);
}

/* a member of a tensor's entry: dtype, shape or data_offsets, each once */
static int tg__st_field(tg__js *j, const char *key, void *ctx) {
  tg__st_entry *e = (tg__st_entry *)ctx;
  int is_dtype = strcmp(key, "dtype") == 0, is_shape = strcmp(key, "shape") == 0;
  int is_offsets = strcmp(key, "data_offsets") == 0;
  if (!is_dtype && !is_shape && !is_offsets) {
    char msg[96];
    snprintf(msg, sizeof msg, "unknown field \"%.40s\" (expected dtype, shape, data_offsets)", key);
    return tg__js_fail(j, msg);
  }
  if ((is_dtype && e->dtype != -1) || (is_shape && e->ndim != -1) || (is_offsets && e->noffsets != -1))
    return tg__js_fail(j, "a field given twice");
  if (is_shape) {
    e->ndim = tg__js_ints(j, e->shape, TG_MAX_DIMS, "a shape (tinygrad.h's limit)");
    return e->ndim < 0 ? -1 : 0;
  }
  if (is_offsets) {
    e->noffsets = tg__js_ints(j, e->off, 2, "data_offsets");
    return e->noffsets < 0 ? -1 : 0;
  }
  char *s = tg__js_string(j);
  if (!s) return -1;
  e->dtype = tg__st_dtype(s);
  if (e->dtype < 0)
    tg__set_error("tg_safetensors_load: %s: tensor '%s' has dtype \"%.40s\", which tinygrad.h does not support (it "
                  "knows BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64)", j->path, e->name, s);
  TG_FREE(s);
  return e->dtype < 0 ? -1 : 0;
}

/* a member of "__metadata__": a string value, kept (duplicate keys are found after the parse) */
static int tg__st_metadata_value(tg__js *j, const char *key, void *ctx) {
  tg__st_header *h = (tg__st_header *)ctx;
  if (tg__js_peek(j) != '"') return tg__js_fail(j, "__metadata__ values must be strings");
  char *s = tg__js_string(j);
  if (!s) return -1;
  if (h->nm == h->capm) {
    h->capm = h->capm ? 2 * h->capm : 8;
    h->m = (tg__sd_meta *)tg__realloc(h->m, sizeof(tg__sd_meta) * (size_t)h->capm);
  }
  h->m[h->nm].key = tg__strdup(key);
  h->m[h->nm++].value = s;
  return 0;
}

/* a member of the top-level object: "__metadata__" or a tensor */
static int tg__st_member(tg__js *j, const char *key, void *ctx) {
  tg__st_header *h = (tg__st_header *)ctx;
  if (strcmp(key, "__metadata__") == 0) {
    if (h->seen_metadata++) return tg__js_fail(j, "__metadata__ given twice");
    return tg__js_object(j, tg__st_metadata_value, h);
  }
  if (h->n == h->cap) { /* duplicate names are found after the parse, by sorting (not O(n^2) here) */
    h->cap = h->cap ? 2 * h->cap : 16;
    h->e = (tg__st_entry *)tg__realloc(h->e, sizeof(tg__st_entry) * (size_t)h->cap);
  }
  tg__st_entry *e = &h->e[h->n++];
  memset(e, 0, sizeof *e);
  e->name = tg__strdup(key);
  e->dtype = e->ndim = e->noffsets = -1;
  size_t at = j->i;
  if (tg__js_object(j, tg__st_field, e) < 0) return -1;
  const char *missing = e->dtype < 0 ? "dtype" : e->ndim < 0 ? "shape" : e->noffsets < 0 ? "data_offsets" : NULL;
  char msg[128];
  if (missing) snprintf(msg, sizeof msg, "the entry of '%.60s' has no %s", e->name, missing);
  else if (e->noffsets != 2) snprintf(msg, sizeof msg, "the data_offsets of '%.60s' are not [begin, end]", e->name);
  else return 0;
  j->i = at;
  return tg__js_fail(j, msg);
}

static int tg__strptr_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the first string of names[0..n) (each at stride bytes from the previous) that occurs twice, or NULL: sorted
 * copies of the pointers, so a header of a million names is checked in O(n log n) */
static const char *tg__st_duplicate(const void *names, int n, size_t stride) {
  const char **v = (const char **)tg__alloc(sizeof(char *) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)names + (size_t)i * stride, sizeof(char *));
  qsort((void *)v, (size_t)n, sizeof *v, tg__strptr_cmp);
  const char *dup = NULL;
  for (int i = 1; i < n && !dup; i++)
    if (strcmp(v[i - 1], v[i]) == 0) dup = v[i];
  TG_FREE((void *)v);
  return dup;
}

/* parses the whole header: one object, then only whitespace, names and metadata keys unique; 0 or -1 */
static int tg__st_parse(tg__js *j, tg__st_header *h) {
  if (tg__js_object(j, tg__st_member, h) < 0) return -1;
  if (tg__js_peek(j) != -1) return tg__js_fail(j, "unexpected bytes after the header's object");
  const char *dup = tg__st_duplicate(h->e, h->n, sizeof *h->e);
  if (dup) {
    tg__set_error("tg_safetensors_load: %s: a tensor name given twice: '%s'", j->path, dup);
    return -1;
  }
  dup = tg__st_duplicate(h->m, h->nm, sizeof *h->m);
  if (dup) {
    tg__set_error("tg_safetensors_load: %s: a key of __metadata__ given twice: '%s'", j->path, dup);
    return -1;
  }
  return 0;
}

/* each entry's size matches its shape and dtype, every product of sizes without overflow; 0 or -1 */
static int tg__st_check_sizes(const char *path, const tg__st_header *h) {
  for (int i = 0; i < h->n; i++) {
    const tg__st_entry *e = &h->e[i];
    char sb[256];
    for (int d = 0; d < e->ndim; d++)
      if (e->shape[d] < 0) {
        tg__set_error("tg_safetensors_load: %s: tensor '%s' has a negative dimension in shape %s", path, e->name,
                      tg__shape_str(e->ndim, e->shape, sb, sizeof sb));
        return -1;
      }
    if (e->off[0] < 0 || e->off[1] < 0 || e->off[0] > e->off[1]) {
      tg__set_error("tg_safetensors_load: %s: tensor '%s' has data_offsets [%lld, %lld]: expected 0 <= begin <= end",
                    path, e->name, (long long)e->off[0], (long long)e->off[1]);
      return -1;
    }
    int64_t numel, nbytes;
    int overflow = tg__shape_bytes(e->ndim, e->shape, tg_dtype_size((tg_dtype)e->dtype), &numel, &nbytes) < 0;
    if (overflow || nbytes != e->off[1] - e->off[0]) {
      tg__set_error("tg_safetensors_load: %s: tensor '%s' of shape %s and dtype %s needs %s bytes, but its "
                    "data_offsets [%lld, %lld] hold %lld", path, e->name, tg__shape_str(e->ndim, e->shape, sb,
                    sizeof sb), tg__st_dtype_names[e->dtype], overflow ? "more than 2^63" : "a different number of",
                    (long long)e->off[0], (long long)e->off[1], (long long)(e->off[1] - e->off[0]));
      return -1;
    }
  }
  return 0;
}

/* qsort order of entry pointers: by begin, then end, then position in the header */
static int tg__st_cmp(const void *a, const void *b) {
  const tg__st_entry *x = *(const tg__st_entry *const *)a, *y = *(const tg__st_entry *const *)b;
  if (x->off[0] != y->off[0]) return x->off[0] < y->off[0] ? -1 : 1;
  if (x->off[1] != y->off[1]) return x->off[1] < y->off[1] ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* the offsets tile [0, data_size) exactly: sorted by begin, each begins where the previous ended; 0 or -1 */
static int tg__st_check_tiling(const char *path, const tg__st_header *h, uint64_t data_size) {
  const tg__st_entry **order = (const tg__st_entry **)tg__alloc(sizeof(tg__st_entry *) * (size_t)(h->n ? h->n : 1));
  for (int i = 0; i < h->n; i++) order[i] = &h->e[i];
  qsort((void *)order, (size_t)h->n, sizeof *order, tg__st_cmp);
  uint64_t pos = 0;
  int rc = 0;
  for (int k = 0; k < h->n && rc == 0; k++) {
    const tg__st_entry *e = order[k];
    if ((uint64_t)e->off[1] > data_size) {
      tg__set_error("tg_safetensors_load: %s: tensor '%s' has data_offsets [%lld, %lld] beyond the %llu bytes of data"
                    " (truncated file?)", path, e->name, (long long)e->off[0], (long long)e->off[1],
                    (unsigned long long)data_size);
      rc = -1;
    } else if ((uint64_t)e->off[0] < pos) {
      tg__set_error("tg_safetensors_load: %s: tensor '%s' (data_offsets [%lld, %lld]) overlaps tensor '%s'", path,
                    e->name, (long long)e->off[0], (long long)e->off[1], order[k - 1]->name);
      rc = -1;
    } else if ((uint64_t)e->off[0] > pos) {
      tg__set_error("tg_safetensors_load: %s: no tensor covers bytes [%llu, %lld) of the data (before '%s')", path,
                    (unsigned long long)pos, (long long)e->off[0], e->name);
      rc = -1;
    }
    pos = (uint64_t)e->off[1];
  }
  if (rc == 0 && pos != data_size) {
    tg__set_error("tg_safetensors_load: %s: the tensors cover %llu bytes but the file holds %llu bytes of data", path,
                  (unsigned long long)pos, (unsigned long long)data_size);
    rc = -1;
  }
  TG_FREE((void *)order);
  return rc;
}

/* the tensors and metadata of a validated header, the tensors created from the data */
static tg_state_dict *tg__st_make(const char *path, const tg__st_header *h, const unsigned char *data) {
  tg_state_dict *sd = tg_state_dict_new();
  for (int i = 0; i < h->nm; i++) tg__sd_meta_append(sd, h->m[i].key, h->m[i].value);
  for (int i = 0; i < h->n; i++) {
    const tg__st_entry *e = &h->e[i];
    tg_tensor *t = tg_from_data(data + e->off[0], (tg_dtype)e->dtype, e->ndim, e->shape);
    if (!t) {
      char why[512];
      snprintf(why, sizeof why, "%.500s", tg_error() ? tg_error() : "unknown error");
      tg__set_error("tg_safetensors_load: %s: cannot create tensor '%s': %s", path, e->name, why);
      tg_state_dict_free(sd);
      return NULL;
    }
    while (t->scope > 0) tg_keep(t); /* owned by the dict, not by a scope */
    if (tg__sd_append("tg_safetensors_load", sd, e->name, t, 1) < 0) { /* names: unique (checked) */
      tg_free(t);
      tg_state_dict_free(sd);
      return NULL;
    }
  }
  return sd;
}

/* header length, header, validation, tensors: the whole loader but the reading of the file (the fuzzer calls it
 * on its bytes); path only names the file in errors */
static tg_state_dict *tg__st_load_bytes(const char *path, const unsigned char *m, uint64_t size) {
  if (size < 8) {
    tg__set_error("tg_safetensors_load: %s: shorter than the 8 bytes of the header length: not a safetensors file",
                  path);
    return NULL;
  }
  uint64_t hlen = 0;
  for (int k = 0; k < 8; k++) hlen |= (uint64_t)m[k] << (8 * k);
  if (hlen > size - 8 || hlen >= 100000000u) {
    tg__set_error("tg_safetensors_load: %s: the header length %llu is %s (the file has %llu bytes)", path,
                  (unsigned long long)hlen, hlen >= 100000000u ? "over the 100 MB limit" : "beyond the end of the file",
                  (unsigned long long)size);
    return NULL;
  }
  tg__js j = {m + 8, (size_t)hlen, 0, path};
  tg__st_header h;
  memset(&h, 0, sizeof h);
  tg_state_dict *sd = NULL;
  if (tg__st_parse(&j, &h) == 0 && tg__st_check_sizes(path, &h) == 0 &&
      tg__st_check_tiling(path, &h, size - 8 - hlen) == 0)
    sd = tg__st_make(path, &h, m + 8 + hlen);
  tg__st_header_free(&h);
  return sd;
}

/* maps the regular file at path read-only for a loader named fn: its bytes and *size, or NULL with an error. An empty
 * file (mmap cannot map 0 bytes) is an empty string of size 0, which tg__unmap_file leaves alone */
TG__PRIVATE const unsigned char *tg__map_file(const char *fn, const char *path, uint64_t *size) {
  *size = 0;
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    tg__set_error("%s: cannot open %s: %s", fn, path, strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size == 0) {
    close(fd);
    if (S_ISREG(st.st_mode)) return (const unsigned char *)"";
    tg__set_error("%s: %s: not a regular file", fn, path);
    return NULL;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    tg__set_error("%s: cannot map %s: %s", fn, path, strerror(errno));
    return NULL;
  }
  *size = (uint64_t)st.st_size;
  return (const unsigned char *)m;
}

TG__PRIVATE void tg__unmap_file(const unsigned char *m, uint64_t size) {
  if (size) munmap((void *)m, (size_t)size);
}

tg_state_dict *tg_safetensors_load(const char *path) {
  TG__LOCKED();
  if (!path) {
    tg__set_error("tg_safetensors_load: the path is NULL");
    return NULL;
  }
  if (!tg__host_little_endian()) {
    tg__set_error("tg_safetensors_load: safetensors files are little-endian; this host is not");
    return NULL;
  }
  uint64_t size;
  const unsigned char *m = tg__map_file("tg_safetensors_load", path, &size);
  if (!m) return NULL;
  tg_state_dict *sd = tg__st_load_bytes(path, m, size);
  tg__unmap_file(m, size);
  return sd;
}

// ---------------------------------------------------------------------------------------------------------------------
// IDX: the reader (plain or gzip), then the format

typedef struct tg__zlib {
  void *lib;
  void *(*fn_open)(const char *path, const char *mode);         /* gzopen */
  int (*fn_read)(void *file, void *buf, unsigned len);          /* gzread */
  int (*fn_close)(void *file);                                  /* gzclose */
  const char *(*fn_error)(void *file, int *errnum);             /* gzerror */
} tg__zlib;

/* loads libz and its gz functions; 0, or -1 with why in err */
static int tg__zlib_open(tg__zlib *z, char *err, size_t nerr) {
  memset(z, 0, sizeof *z);
  z->lib = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!z->lib) {
    const char *e = dlerror();
    snprintf(err, nerr, "%s", e ? e : "dlopen failed");
    z->lib = dlopen("libz.so", RTLD_NOW | RTLD_LOCAL);
  }
  if (!z->lib) return -1;
  void *p[4] = {dlsym(z->lib, "gzopen"), dlsym(z->lib, "gzread"), dlsym(z->lib, "gzclose"), dlsym(z->lib, "gzerror")};
  if (!p[0] || !p[1] || !p[2] || !p[3]) {
    snprintf(err, nerr, "it has no gzopen/gzread/gzclose/gzerror");
    dlclose(z->lib);
    z->lib = NULL;
    return -1;
  }
  memcpy(&z->fn_open, &p[0], sizeof p[0]); /* object pointer -> function pointer, as POSIX allows */
  memcpy(&z->fn_read, &p[1], sizeof p[1]);
  memcpy(&z->fn_close, &p[2], sizeof p[2]);
  memcpy(&z->fn_error, &p[3], sizeof p[3]);
  return 0;
}

/* where the bytes come from: a plain file, or a gzip file through libz */
typedef struct tg__idx_src {
  const char *path;
  FILE *f;
  void *gz;
  tg__zlib z;
  int64_t left;  /* plain file: bytes not yet read; -1 for gzip (unknown) */
} tg__idx_src;

/* reads up to n bytes into buf; the count (short only at the end), or -1 with an error */
static int64_t tg__idx_read(tg__idx_src *s, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got < (1u << 30) ? n - got : (1u << 30);
    if (s->f) {
      size_t r = fread((char *)buf + got, 1, want, s->f);
      got += r;
      if (r < want) {
        if (ferror(s->f)) {
          tg__set_error("tg_idx_load: %s: read error: %s", s->path, strerror(errno));
          return -1;
        }
        break;
      }
    } else {
      int r = s->z.fn_read(s->gz, (char *)buf + got, (unsigned)want);
      if (r < 0) {
        int errnum = 0;
        const char *e = s->z.fn_error(s->gz, &errnum);
        tg__set_error("tg_idx_load: %s: corrupt or truncated gzip data: %s", s->path, e ? e : "gzread failed");
        return -1;
      }
      got += (size_t)r;
      if (r == 0) break;
    }
  }
  if (s->left >= 0) s->left -= (int64_t)got;
  return (int64_t)got;
}

/* opens path as plain or gzip (by its first two bytes); 0 or -1 */
static int tg__idx_open(tg__idx_src *s, const char *path) {
  memset(s, 0, sizeof *s);
  s->path = path;
  s->left = -1;
  s->f = fopen(path, "rb");
  struct stat st;
  if (!s->f || fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
    tg__set_error("tg_idx_load: cannot open %s: %s", path, s->f ? "not a regular file" : strerror(errno));
    if (s->f) fclose(s->f);
    s->f = NULL;
    return -1;
  }
  unsigned char magic[2] = {0, 0};
  size_t r = fread(magic, 1, 2, s->f);
  if (!(r == 2 && magic[0] == 0x1f && magic[1] == 0x8b)) {
    rewind(s->f);
    s->left = (int64_t)st.st_size;
    return 0;
  }
  fclose(s->f);
  s->f = NULL;
  char err[512] = "";
  if (tg__zlib_open(&s->z, err, sizeof err) < 0) {
    tg__set_error("tg_idx_load: %s is gzip-compressed and libz.so.1 could not be loaded: %s. HINT: install zlib "
                  "(apt-get install zlib1g) or gunzip the file", path, err);
    return -1;
  }
  s->gz = s->z.fn_open(path, "rb");
  if (!s->gz) {
    tg__set_error("tg_idx_load: cannot open %s with libz: %s", path, strerror(errno));
    dlclose(s->z.lib);
    return -1;
  }
  return 0;
}

static void tg__idx_close(tg__idx_src *s) {
  if (s->f) fclose(s->f);
  if (s->gz) s->z.fn_close(s->gz);
  if (s->z.lib) dlclose(s->z.lib);
}

/* the tg_dtype of an IDX type byte, or -1 */
static int tg__idx_dtype(int type) {
  switch (type) {
  case 0x08: return TG_UINT8;
  case 0x09: return TG_INT8;
  case 0x0B: return TG_INT16;
  case 0x0C: return TG_INT32;
  case 0x0D: return TG_FLOAT32;
  case 0x0E: return TG_FLOAT64;
  default: return -1;
  }
}

/* the magic and the sizes: dtype, ndim, shape and the number of data bytes; 0 or -1 */
static int tg__idx_header(tg__idx_src *s, int *dt, int *ndim, int64_t *shape, uint64_t *nbytes) {
  unsigned char h[4], d[4 * 255];
  int64_t got = tg__idx_read(s, h, 4);
  if (got < 0) return -1;
  if (got != 4 || h[0] != 0 || h[1] != 0 || tg__idx_dtype(h[2]) < 0) {
    tg__set_error("tg_idx_load: %s: not an IDX file (it must begin with 0x00 0x00 TYPE NDIM, TYPE one of 0x08, 0x09, "
                  "0x0B, 0x0C, 0x0D, 0x0E)", s->path);
    return -1;
  }
  *dt = tg__idx_dtype(h[2]);
  *ndim = h[3];
  if (*ndim > TG_MAX_DIMS) {
    tg__set_error("tg_idx_load: %s: %d dimensions; tinygrad.h supports at most %d", s->path, *ndim, TG_MAX_DIMS);
    return -1;
  }
  got = tg__idx_read(s, d, 4 * (size_t)*ndim);
  if (got < 0) return -1;
  if (got != 4 * *ndim) {
    tg__set_error("tg_idx_load: %s: truncated in the sizes of its %d dimensions", s->path, *ndim);
    return -1;
  }
  for (int i = 0; i < *ndim; i++)
    shape[i] = (int64_t)(((uint64_t)d[4 * i] << 24) | ((uint64_t)d[4 * i + 1] << 16) | ((uint64_t)d[4 * i + 2] << 8) |
                         d[4 * i + 3]);
  int64_t numel, n;
  if (tg__shape_bytes(*ndim, shape, tg_dtype_size((tg_dtype)*dt), &numel, &n) < 0 || (uint64_t)n > SIZE_MAX) {
    char b[256];
    tg__set_error("tg_idx_load: %s: the shape %s is too large", s->path, tg__shape_str(*ndim, shape, b, sizeof b));
    return -1;
  }
  *nbytes = (uint64_t)n;
  return 0;
}

/* exactly nbytes of data and nothing after, in a malloc'd buffer (grown as bytes arrive, so a lying header cannot
 * make us allocate more than the file holds); NULL with an error */
static unsigned char *tg__idx_data(tg__idx_src *s, uint64_t nbytes) {
  if (s->left >= 0 && (uint64_t)s->left != nbytes) {
    tg__set_error("tg_idx_load: %s: the header declares %llu bytes of data but %lld follow (%s)", s->path,
                  (unsigned long long)nbytes, (long long)s->left, (uint64_t)s->left < nbytes ? "truncated file"
                  : "trailing bytes");
    return NULL;
  }
  size_t cap = 0, have = 0;
  unsigned char *buf = NULL;
  while (have < nbytes || !buf) {
    size_t want = (size_t)nbytes - have, step = cap < (1u << 20) ? (1u << 20) : cap;
    size_t ncap = have + (want < step ? want : step);
    unsigned char *nb = (unsigned char *)TG_REALLOC(buf, ncap ? ncap : 1);
    if (!nb) {
      tg__set_error("tg_idx_load: %s: out of memory for %llu bytes", s->path, (unsigned long long)nbytes);
      break;
    }
    buf = nb;
    cap = ncap;
    int64_t got = tg__idx_read(s, buf + have, cap - have);
    if (got < 0) break;
    have += (size_t)got;
    if (have < cap) {
      tg__set_error("tg_idx_load: %s: truncated: the header declares %llu bytes of data, the file has %zu",
                    s->path, (unsigned long long)nbytes, have);
      break;
    }
  }
  unsigned char extra;
  if (buf && have == nbytes) {
    int64_t got = tg__idx_read(s, &extra, 1);
    if (got == 0) return buf;
    if (got > 0) tg__set_error("tg_idx_load: %s: trailing bytes after the %llu bytes of data", s->path,
                               (unsigned long long)nbytes);
  }
  TG_FREE(buf);
  return NULL;
}

/* big-endian elements to the host's order, in place */
static void tg__idx_to_host(unsigned char *p, uint64_t nbytes, int esize) {
  if (esize == 1 || !tg__host_little_endian()) return;
  for (uint64_t i = 0; i < nbytes; i += (uint64_t)esize)
    for (int a = 0, b = esize - 1; a < b; a++, b--) {
      unsigned char t = p[i + (uint64_t)a];
      p[i + (uint64_t)a] = p[i + (uint64_t)b];
      p[i + (uint64_t)b] = t;
    }
}

tg_tensor *tg_idx_load(const char *path) {
  TG__LOCKED();
  if (!path) {
    tg__set_error("tg_idx_load: the path is NULL");
    return NULL;
  }
  tg__idx_src s;
  if (tg__idx_open(&s, path) < 0) return NULL;
  int dt = 0, ndim = 0;
  int64_t shape[TG_MAX_DIMS];
  uint64_t nbytes = 0;
  unsigned char *data = NULL;
  if (tg__idx_header(&s, &dt, &ndim, shape, &nbytes) == 0) data = tg__idx_data(&s, nbytes);
  tg__idx_close(&s);
  if (!data) return NULL;
  tg__idx_to_host(data, nbytes, tg_dtype_size((tg_dtype)dt));
  tg_tensor *t = tg_from_data(data, (tg_dtype)dt, ndim, shape);
  TG_FREE(data);
  return t;
}
