/* base.c: the helpers every stage uses: memory, the error string, growable arrays, a string builder, a pointer hash
 * map, hashing and cached environment variables.
 *
 * Contract: allocation failure is the one thing that aborts (there is nothing sensible left to do); every other
 * failure is reported through tg__set_error and a NULL / -1 return by the caller. The error string is thread-local. */
#include "internal.h"

#ifdef __cplusplus
#define TG__THREAD_LOCAL thread_local
#else
#define TG__THREAD_LOCAL _Thread_local
#endif

// ---------------------------------------------------------------------------------------------------------------------
// memory

TG__PRIVATE void *tg__alloc(size_t n) {
  void *p = TG_MALLOC(n ? n : 1);
  if (!p) {
    fputs("tinygrad.h: out of memory\n", stderr);
    abort();
  }
  memset(p, 0, n ? n : 1);
  return p;
}

TG__PRIVATE void *tg__realloc(void *p, size_t n) {
  void *q = TG_REALLOC(p, n ? n : 1);
  if (!q) {
    fputs("tinygrad.h: out of memory\n", stderr);
    abort();
  }
  return q;
}

TG__PRIVATE char *tg__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = (char *)tg__alloc(n);
  memcpy(d, s, n);
  return d;
}

// ---------------------------------------------------------------------------------------------------------------------
// errors: a failing call records what went wrong; tg_error() returns it until the next error or tg_clear_error()

static TG__THREAD_LOCAL char tg__errbuf[1024];
static TG__THREAD_LOCAL int tg__errset;

TG__PRIVATE void tg__set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tg__errbuf, sizeof tg__errbuf, fmt, ap);
  va_end(ap);
  tg__errset = 1;
  if (TG__DEBUG >= 1) fprintf(stderr, "tinygrad.h error: %s\n", tg__errbuf);
}

TG__PRIVATE int tg__has_error(void) { return tg__errset; }

const char *tg_error(void) { return tg__errset ? tg__errbuf : NULL; }

void tg_clear_error(void) {
  tg__errset = 0;
  tg__errbuf[0] = 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// growable arrays and strings

TG__PRIVATE void tg__vec_push(tg__vec *v, void *p) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 16;
    v->items = (void **)tg__realloc(v->items, sizeof(void *) * (size_t)v->cap);
  }
  v->items[v->n++] = p;
}

TG__PRIVATE void tg__vec_free(tg__vec *v) {
  TG_FREE(v->items);
  v->items = NULL;
  v->n = v->cap = 0;
}

static void tg__str_reserve(tg__str *b, size_t extra) {
  if (b->n + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra + 1) cap *= 2;
  b->s = (char *)tg__realloc(b->s, cap);
  b->cap = cap;
}

TG__PRIVATE void tg__str_printf(tg__str *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  tg__str_reserve(b, (size_t)n);
  if ((size_t)n < sizeof small) {
    memcpy(b->s + b->n, small, (size_t)n + 1);
  } else {
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  b->n += (size_t)n;
}

TG__PRIVATE void tg__str_cat(tg__str *b, const char *s) {
  size_t n = strlen(s);
  tg__str_reserve(b, n);
  memcpy(b->s + b->n, s, n + 1);
  b->n += n;
}

TG__PRIVATE char *tg__str_take(tg__str *b) {
  char *s = b->s ? b->s : tg__strdup("");
  b->s = NULL;
  b->n = b->cap = 0;
  return s;
}

// ---------------------------------------------------------------------------------------------------------------------
// hashing and a pointer map (open addressing, linear probing, power-of-two capacity)

TG__PRIVATE uint64_t tg__hash_mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

TG__PRIVATE uint64_t tg__hash_bytes(const void *p, size_t n, uint64_t h) {
  const unsigned char *c = (const unsigned char *)p;
  h ^= 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
  return tg__hash_mix(h, n);
}

static size_t tg__ptr_slot(const void *key, int cap) {
  return (size_t)(tg__hash_mix(0, (uint64_t)(uintptr_t)key) & (uint64_t)(cap - 1));
}

TG__PRIVATE void *tg__map_get(const tg__map *m, const void *key) {
  if (!m->cap) return NULL;
  for (size_t i = tg__ptr_slot(key, m->cap);; i = (i + 1) & (size_t)(m->cap - 1)) {
    if (m->keys[i] == key) return m->vals[i];
    if (!m->keys[i]) return NULL;
  }
}

TG__PRIVATE void tg__map_put(tg__map *m, const void *key, void *val) {
  if ((m->n + 1) * 2 > m->cap) {
    tg__map old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->n = 0;
    m->keys = (const void **)tg__alloc(sizeof(void *) * (size_t)m->cap);
    m->vals = (void **)tg__alloc(sizeof(void *) * (size_t)m->cap);
    for (int i = 0; i < old.cap; i++)
      if (old.keys[i]) tg__map_put(m, old.keys[i], old.vals[i]);
    TG_FREE((void *)old.keys);
    TG_FREE(old.vals);
  }
  size_t i = tg__ptr_slot(key, m->cap);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (size_t)(m->cap - 1);
  if (!m->keys[i]) m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
}

TG__PRIVATE void tg__map_free(tg__map *m) {
  TG_FREE((void *)m->keys);
  TG_FREE(m->vals);
  memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------------------------------
// environment variables, read once per name (DEBUG is consulted on hot paths)

typedef struct tg__envcache { const char *name; int value; } tg__envcache;
static tg__envcache tg__envs[32];
static int tg__nenvs;

TG__PRIVATE int tg__getenv_int(const char *name, int dflt) {
  for (int i = 0; i < tg__nenvs; i++)
    if (tg__envs[i].name == name || strcmp(tg__envs[i].name, name) == 0) return tg__envs[i].value;
  const char *s = getenv(name);
  int v = s && *s ? atoi(s) : dflt;
  if (tg__nenvs < TG__COUNT(tg__envs)) {
    tg__envs[tg__nenvs].name = name;
    tg__envs[tg__nenvs].value = v;
    tg__nenvs++;
  }
  return v;
}
