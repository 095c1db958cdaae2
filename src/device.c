/* device.c: the device registry, program caches, driver loading and the run counters (layer 4).
 *
 * Contract:
 *  - A device is a table of functions (tg__device, internal.h). The CPU device is built in; a backend adds its own with
 *    tg__device_register (at most 16 devices). tg__device_get finds one by name, case-insensitively, with an optional
 *    ":0" (tinygrad's device strings); a NULL name means the default: tg_set_default_device's, else the environment
 *    variable DEV, else "CPU". An unknown name is NULL plus an error listing the known ones.
 *  - Buffers and their memory are buffer.c's: it calls a device only through the table's alloc, free and copies.
 *  - tg__stat_launches / tg__stat_compiles count kernel launches and compiler processes; tg_kernel_launches() and
 *    tg_compiler_invocations() report them to the user.
 *  - Nothing here prints, aborts or exits: failures are tg__set_error plus NULL / -1. */
#include "internal.h"

#include <dlfcn.h> // tg__dl_load: backends load their driver libraries at run time
#include <unistd.h> // unlink: tg__blob_read removes a damaged entry

// ---------------------------------------------------------------------------------------------------------------------
// the registry

enum { tg__dev_max = 16, tg__dev_api_version = 1 };

static tg__device *tg__dev_table[tg__dev_max];
static int tg__dev_count;

static int tg__dev_name_eq(const char *a, const char *b) { /* ASCII, case-insensitive, locale-independent */
  for (;; a++, b++) {
    int ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
    if (cb >= 'A' && cb <= 'Z') cb += 'a' - 'A';
    if (ca != cb) return 0;
    if (!ca) return 1;
  }
}

static void tg__dev_builtins(void) {
  if (tg__dev_count == 0) tg__dev_table[tg__dev_count++] = tg__cpu_device();
}

/* Adds a device (a backend calls this once, when it is first used). The struct must outlive every buffer and program
 * made on it: in practice, a static. Registering the same struct again is a no-op; another device with a name already
 * taken is an error. Returns 0 or -1. */
static TG__UNUSED int tg__device_register(tg__device *d) {
  tg__dev_builtins();
  if (!d || !d->name || !d->name[0]) {
    tg__set_error("device register: the device or its name is NULL. HINT: fill in tg__device.name");
    return -1;
  }
  if (d->api_version != tg__dev_api_version) {
    tg__set_error("device register: device '%s' has api_version %d, this build expects %d. HINT: rebuild the backend "
                  "with the same tinygrad.h", d->name, d->api_version, tg__dev_api_version);
    return -1;
  }
  if (!d->alloc || !d->free || !d->copy_in || !d->copy_out || !d->compile || !d->launch || !d->synchronize) {
    tg__set_error("device register: device '%s' leaves a required function NULL. HINT: every entry of tg__device "
                  "but ctx is required", d->name);
    return -1;
  }
  for (int i = 0; i < tg__dev_count; i++) {
    if (tg__dev_table[i] == d) return 0;
    if (tg__dev_name_eq(tg__dev_table[i]->name, d->name)) {
      tg__set_error("device register: a device named '%s' is already registered", d->name);
      return -1;
    }
  }
  if (tg__dev_count == tg__dev_max) {
    tg__set_error("device register: cannot add '%s': at most %d devices", d->name, tg__dev_max);
    return -1;
  }
  tg__dev_table[tg__dev_count++] = d;
  return 0;
}

/* the default device set by tg_set_default_device (NULL: DEV, or the CPU) */
static tg__device *tg__dev_default;

/* A device string as tinygrad's: a registered name, case-insensitively, with an optional ":index" ("CUDA:0"). Each
 * registered device is one unit: index 0 names it, a higher index is an error naming what there is. */
static tg__device *tg__device_lookup(const char *name, int from_env) {
  char base[64];
  const char *colon = strchr(name, ':');
  size_t len = colon ? (size_t)(colon - name) : strlen(name);
  long index = 0;
  if (colon) {
    char *end = NULL;
    index = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || index < 0 || colon[1] == '-' || colon[1] == '+' || colon[1] == ' ') index = -1;
  }
  if (len < sizeof base && index >= 0) {
    memcpy(base, name, len);
    base[len] = 0;
    for (int i = 0; i < tg__dev_count; i++)
      if (tg__dev_name_eq(tg__dev_table[i]->name, base)) {
        if (index == 0) return tg__dev_table[i];
        tg__set_error("device '%.64s': %s has one unit here, index 0 (\"%s\" or \"%s:0\")%s", name,
                      tg__dev_table[i]->name, tg__dev_table[i]->name, tg__dev_table[i]->name,
                      from_env ? ", from DEV" : "");
        return NULL;
      }
  }
  char known[256];
  size_t n = 0;
  known[0] = 0;
  for (int i = 0; i < tg__dev_count && n + 1 < sizeof known; i++) {
    int w = snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", tg__dev_table[i]->name);
    if (w < 0) break;
    n += (size_t)w;
  }
  tg__set_error("unknown device '%.64s' (known: %s)%s. HINT: use a known name, or include the backend header "
                "(e.g. backends/tinygrad_cuda.h) that provides it", name, known, from_env ? ", from DEV" : "");
  return NULL;
}

TG__PRIVATE tg__device *tg__device_get(const char *name) {
  tg__dev_builtins();
  if (!name && tg__dev_default) return tg__dev_default;
  int from_env = 0;
  if (!name) {
    name = getenv("DEV");
    from_env = name && name[0];
    if (!from_env) name = "CPU";
  }
  return tg__device_lookup(name, from_env);
}

int tg_set_default_device(const char *name) {
  TG__LOCKED();
  if (!name) { /* back to DEV, or the CPU */
    tg__dev_default = NULL;
    return 0;
  }
  tg__dev_builtins();
  tg__device *d = tg__device_lookup(name, 0);
  if (!d) {
    tg__error_context("tg_set_default_device");
    return -1;
  }
  tg__dev_default = d;
  return 0;
}

const char *tg_default_device(void) {
  TG__LOCKED();
  tg__device *d = tg__device_get(NULL);
  return d ? d->name : NULL;
}

TG__PRIVATE void tg__device_target(tg__device *d, tg__target *t) {
  t->gpu = d->dialect->global_id != NULL;
  t->vec_floats = 4;
  t->vec_regs = 16;
  t->cores = 1;
  t->l2_bytes = 1 << 20;
  t->local_max = t->gpu && d->dialect->group_id ? 256 : 0; /* what every OpenCL device and CUDA GPU allows */
  t->shared_bytes = t->local_max ? 16384 : 0;
  t->units = 1;
  t->tensor_cores = t->wgmma = 0;
  if (d->describe) d->describe(d, t);
  if (!d->dialect->wmma || !d->dialect->ldmatrix || !t->local_max) t->tensor_cores = 0; /* the dialect renders them */
  if (!t->tensor_cores || !d->dialect->wgmma || !d->dialect->async_copy || !d->dialect->dynamic_shared) t->wgmma = 0;
}

int tg_synchronize(const char *device) {
  TG__LOCKED();
  tg__device *d = tg__device_get(device);
  return d ? d->synchronize(d) : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// for backends (backends/*.h, compiled in the implementation's translation unit): loading a driver library, a cache
// of compiled programs

/* dlopens the first library of names[] that loads and resolves every symbol of syms[] into fns[]. Returns the handle,
 * or NULL with an error naming the libraries tried and the first missing piece. `what` names the device. */
static TG__UNUSED void *tg__dl_load(const char *what, const char *const *names, const char *const *syms, void **fns) {
  char tried[512];
  size_t n = 0;
  tried[0] = 0;
  for (int i = 0; names[i]; i++) {
    void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    const char *why = h ? NULL : dlerror();
    int missing = -1;
    for (int j = 0; h && syms[j]; j++)
      if (!(fns[j] = dlsym(h, syms[j]))) {
        missing = j;
        break;
      }
    if (h && missing < 0) return h;
    if (h) dlclose(h);
    int w = why ? snprintf(tried + n, sizeof tried - n, "%s%s", n ? "; " : "", why) /* dlerror names the file */
                : snprintf(tried + n, sizeof tried - n, "%s%s lacks %s", n ? "; " : "", names[i], syms[missing]);
    if (w > 0 && (size_t)w < sizeof tried - n) n += (size_t)w;
  }
  tg__set_error("%s: cannot load its driver library (%s)", what, tried);
  return NULL;
}

/* Compiled programs by device and source, kept until exit: a schedule renders its kernels anew each time, and a
 * device compiles each distinct source once. */
typedef struct tg__progcache_entry {
  tg__device *dev;
  uint64_t hash;
  char *src;
  tg__program *prog;
} tg__progcache_entry;
static tg__progcache_entry *tg__progcache;
static int tg__nprogcache, tg__progcache_cap;

static TG__UNUSED tg__program *tg__progcache_find(tg__device *d, const char *src) {
  uint64_t h = tg__hash_bytes(src, strlen(src), 0);
  for (int i = 0; i < tg__nprogcache; i++)
    if (tg__progcache[i].dev == d && tg__progcache[i].hash == h && !strcmp(tg__progcache[i].src, src))
      return tg__progcache[i].prog;
  return NULL;
}

/* a new program of d named `name` around the device's handle (a CUfunction, a cl_kernel), kept in the cache under
 * src; returns it */
static TG__UNUSED tg__program *tg__progcache_add(tg__device *d, const char *src, const char *name, void *handle) {
  tg__program *p = (tg__program *)tg__alloc(sizeof *p);
  p->dev = d;
  p->name = tg__strdup(name);
  p->handle = handle;
  p->global_size = 1;
  if (tg__nprogcache == tg__progcache_cap) {
    tg__progcache_cap = tg__progcache_cap ? 2 * tg__progcache_cap : 64;
    tg__progcache = (tg__progcache_entry *)tg__realloc(tg__progcache, sizeof(tg__progcache_entry) *
                                                                          (size_t)tg__progcache_cap);
  }
  tg__progcache_entry *e = &tg__progcache[tg__nprogcache++];
  e->dev = d;
  e->hash = tg__hash_bytes(src, strlen(src), 0);
  e->src = tg__strdup(src);
  e->prog = p;
  return p;
}

/* A backend's compiled programs on disk, in the library's cache directory (tg__cache_dir), as the CPU keeps its
 * shared objects: the file `<kind>-<32 hex digits of the key>` holds a 32-byte header (tg__blob_magic, the payload's
 * length, two hashes of the payload) and then the payload, written whole or not at all (tg__afile). The key hashes
 * everything that decides the payload (the caller's: compiler version, target, options, name, source). */
static const unsigned char tg__blob_magic[8] = {'t', 'g', 'h', '-', 'b', 'i', 'n', 1};
enum { TG__BLOB_HEADER = 32 };

static TG__UNUSED void tg__blob_header(const void *p, size_t n, unsigned char out[TG__BLOB_HEADER]) {
  uint64_t words[3] = {(uint64_t)n, tg__hash_bytes(p, n, 0x62696eULL), tg__hash_bytes(p, n, 0x9e3779b97f4a7c15ULL)};
  memcpy(out, tg__blob_magic, 8);
  memcpy(out + 8, words, sizeof words);
}

/* the entry's path: 0, or -1 when there is no usable cache directory */
static TG__UNUSED int tg__blob_path(const char *kind, uint64_t k0, uint64_t k1, char *path, size_t npath) {
  char dir[4096], why[512];
  if (tg__cache_dir(dir, sizeof dir, why, sizeof why) != 0) return -1;
  int w = snprintf(path, npath, "%s/%s-%016llx%016llx", dir, kind, (unsigned long long)k0, (unsigned long long)k1);
  return w > 0 && (size_t)w < npath ? 0 : -1;
}

/* The payload cached under (kind, key), malloc'd, its length in *n; NULL when there is none, when
 * DISABLE_COMPILER_CACHE=1, or when the entry is damaged (truncated, garbage: it is deleted, and said on stderr at
 * DEBUG>=1). Sets no error: a miss is not one. */
static TG__UNUSED unsigned char *tg__blob_read(const char *kind, uint64_t k0, uint64_t k1, size_t *n) {
  char path[4200];
  *n = 0;
  const char *disable = getenv("DISABLE_COMPILER_CACHE"); /* read each time, as the CPU's cache does */
  if ((disable && atoi(disable)) || tg__blob_path(kind, k0, k1, path, sizeof path) < 0) return NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char head[TG__BLOB_HEADER], want[TG__BLOB_HEADER];
  uint64_t len = 0;
  /* the header's length must be the file's: a garbage length is never allocated */
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  rewind(f);
  int ok = size >= TG__BLOB_HEADER && fread(head, 1, sizeof head, f) == sizeof head && !memcmp(head, tg__blob_magic, 8);
  if (ok) memcpy(&len, head + 8, 8);
  ok = ok && len == (uint64_t)(size - TG__BLOB_HEADER);
  unsigned char *p = ok ? (unsigned char *)tg__alloc((size_t)len + 1) : NULL;
  ok = ok && fread(p, 1, (size_t)len, f) == (size_t)len && fgetc(f) == EOF;
  fclose(f);
  if (ok) tg__blob_header(p, (size_t)len, want);
  if (ok && !memcmp(head, want, sizeof want)) {
    p[len] = 0;
    *n = (size_t)len;
    return p;
  }
  TG_FREE(p);
  if (tg__getenv_int("DEBUG", 0) >= 1) fprintf(stderr, "tinygrad.h: a damaged cache entry %s is rebuilt\n", path);
  unlink(path);
  return NULL;
}

/* removes the entry of (kind, key), if any */
static TG__UNUSED void tg__blob_remove(const char *kind, uint64_t k0, uint64_t k1) {
  char path[4200];
  if (tg__blob_path(kind, k0, k1, path, sizeof path) == 0) unlink(path);
}

/* caches the payload under (kind, key); a failure (no directory, a full disk) leaves nothing and is no error */
static TG__UNUSED void tg__blob_write(const char *kind, uint64_t k0, uint64_t k1, const void *p, size_t n) {
  char path[4200];
  if (tg__blob_path(kind, k0, k1, path, sizeof path) < 0) return;
  unsigned char head[TG__BLOB_HEADER];
  tg__blob_header(p, n, head);
  tg__errsave saved;
  tg__error_push(&saved); /* the error state stays the caller's */
  tg__afile f;
  if (tg__afile_open(&f, "compiled program cache", path) == 0 && tg__afile_write(&f, head, sizeof head) == 0 &&
      tg__afile_write(&f, p, n) == 0)
    tg__afile_commit(&f);
  else tg__afile_discard(&f);
  tg__error_pop(&saved);
}

// ---------------------------------------------------------------------------------------------------------------------
// counters (touched only by the calling thread; the library is not thread-safe)

static int64_t tg__dev_launches, tg__dev_compiles;

TG__PRIVATE int64_t tg__stat_launches(int64_t add) { return tg__dev_launches += add; }
TG__PRIVATE int64_t tg__stat_compiles(int64_t add) { return tg__dev_compiles += add; }

int64_t tg_kernel_launches(void) { TG__LOCKED(); return tg__stat_launches(0); }
int64_t tg_compiler_invocations(void) { TG__LOCKED(); return tg__stat_compiles(0); }
