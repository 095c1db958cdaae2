/* device.c: the device registry, buffers and the run counters.
 *
 * Contract:
 *  - A device is a table of functions (tg__device, internal.h). The CPU device is built in; a backend adds its own with
 *    tg__device_register (at most 16 devices). tg__device_get finds one by name, case-insensitively; a NULL name means
 *    the environment variable DEV, or "CPU" when DEV is unset or empty. An unknown name is NULL plus an error.
 *  - A buffer is reference counted (it starts at 1) and owns nbytes = numel * dtype size of device memory, allocated
 *    lazily by tg__buffer_ensure through dev->alloc and given back through dev->free when the last reference goes.
 *  - tg__stat_launches / tg__stat_compiles count kernel launches and compiler processes; tg_kernel_launches() and
 *    tg_compiler_invocations() report them to the user.
 *  - Nothing here prints, aborts or exits: failures are tg__set_error plus NULL / -1. */
#include "internal.h"

#include <dlfcn.h> // tg__dl_load: backends load their driver libraries at run time

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

TG__PRIVATE tg__device *tg__device_get(const char *name) {
  tg__dev_builtins();
  int from_env = 0;
  if (!name) {
    name = getenv("DEV");
    from_env = name && name[0];
    if (!from_env) name = "CPU";
  }
  for (int i = 0; i < tg__dev_count; i++)
    if (tg__dev_name_eq(tg__dev_table[i]->name, name)) return tg__dev_table[i];
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

// ---------------------------------------------------------------------------------------------------------------------
// buffers

static int64_t tg__dev_next_buffer_id;

TG__PRIVATE tg__buffer *tg__buffer_new(tg__device *dev, tg_dtype dt, int64_t numel) {
  if (!dev) {
    tg__set_error("buffer: no device");
    return NULL;
  }
  if ((int)dt < 0 || (int)dt >= TG_NDTYPES) {
    tg__set_error("buffer: invalid dtype %d", (int)dt);
    return NULL;
  }
  size_t esize = (size_t)tg_dtype_size(dt);
  if (numel < 0 || (esize && (uint64_t)numel > (uint64_t)(SIZE_MAX / esize))) {
    tg__set_error("buffer: cannot hold %lld elements of %d bytes on %s", (long long)numel, (int)esize, dev->name);
    return NULL;
  }
  tg__buffer *b = (tg__buffer *)tg__alloc(sizeof *b);
  b->dev = dev;
  b->dtype = dt;
  b->numel = numel;
  b->nbytes = (size_t)numel * esize;
  b->ptr = NULL;
  b->refcount = 1;
  b->id = ++tg__dev_next_buffer_id;
  return b;
}

// ---------------------------------------------------------------------------------------------------------------------
// the allocation cache: device memory of freed buffers is kept (by exact size) and handed to the next buffer of that
// size, as tinygrad's LRU allocator does. Fresh memory costs page faults on first touch, which on a VM can cost more
// than the kernel that writes it; a training step allocates the same sizes every time.

#define TG__CACHE_SLOTS 256
#define TG__CACHE_BYTES ((size_t)2 << 30)
typedef struct tg__cached { tg__device *dev; void *ptr; size_t nbytes; } tg__cached;
static tg__cached tg__cache[TG__CACHE_SLOTS];
static int tg__ncached;
static size_t tg__cached_bytes;
static int tg__cache_registered;

static void tg__cache_evict(int i) {
  tg__cache[i].dev->free(tg__cache[i].dev, tg__cache[i].ptr);
  tg__cached_bytes -= tg__cache[i].nbytes;
  tg__cache[i] = tg__cache[--tg__ncached];
}

static void tg__cache_flush(void) {
  while (tg__ncached) tg__cache_evict(tg__ncached - 1);
}

TG__PRIVATE void tg__cache_put(tg__device *dev, void *ptr, size_t nbytes) {
  if (!tg__cache_registered) {
    atexit(tg__cache_flush);
    tg__set_release_hook(tg__cache_flush); /* host memory runs out: the CPU's cached buffers go first */
    tg__cache_registered = 1;
  }
  if (nbytes > TG__CACHE_BYTES / 4) {
    dev->free(dev, ptr);
    return;
  }
  while (tg__ncached && (tg__ncached == TG__CACHE_SLOTS || tg__cached_bytes + nbytes > TG__CACHE_BYTES))
    tg__cache_evict(0); /* the oldest */
  tg__cache[tg__ncached].dev = dev;
  tg__cache[tg__ncached].ptr = ptr;
  tg__cache[tg__ncached++].nbytes = nbytes;
  tg__cached_bytes += nbytes;
}

static void *tg__cache_take(tg__device *dev, size_t nbytes) {
  for (int i = tg__ncached - 1; i >= 0; i--) /* the most recent first: its pages are warm */
    if (tg__cache[i].dev == dev && tg__cache[i].nbytes == nbytes) {
      void *p = tg__cache[i].ptr;
      tg__cached_bytes -= nbytes;
      memmove(&tg__cache[i], &tg__cache[i + 1], sizeof(tg__cached) * (size_t)(tg__ncached - i - 1));
      tg__ncached--;
      return p;
    }
  return NULL;
}

TG__PRIVATE int tg__buffer_ensure(tg__buffer *b) {
  if (!b) {
    tg__set_error("buffer: NULL buffer");
    return -1;
  }
  if (b->ptr) return 0;
  size_t n = b->nbytes ? b->nbytes : 1;
  if (tg__fault(TG__FAULT_DEVICE_ALLOC)) {
    tg__set_error("%s alloc: cannot allocate %zu bytes (injected fault)", b->dev->name, n);
    return -1;
  }
  b->ptr = tg__cache_take(b->dev, n);
  if (!b->ptr) b->ptr = b->dev->alloc(b->dev, n); /* the device records why on failure */
  tg__stat_alloc_bytes((int64_t)n);
  if (!b->ptr && tg__ncached) { /* out of memory: give the cache back and try once more */
    tg__cache_flush();
    tg_clear_error();
    b->ptr = b->dev->alloc(b->dev, n);
  }
  return b->ptr ? 0 : -1;
}

/* gives a buffer's memory back to the cache; the buffer stays valid and allocates again when next used */
TG__PRIVATE void tg__buffer_drop_memory(tg__buffer *b) {
  if (!b || !b->ptr) return;
  tg__cache_put(b->dev, b->ptr, b->nbytes ? b->nbytes : 1);
  b->ptr = NULL;
}

TG__PRIVATE void tg__buffer_release(tg__buffer *b) {
  if (!b) return;
  TG__ASSERT(b->refcount > 0);
  if (--b->refcount > 0) return;
  tg__buffer_drop_memory(b);
  TG_FREE(b);
}

TG__PRIVATE int tg__buffer_copyin(tg__buffer *b, const void *src) {
  if (tg__buffer_ensure(b) < 0) return -1;
  if (!b->nbytes) return 0;
  if (!src) {
    tg__set_error("buffer copy in: NULL source for %zu bytes", b->nbytes);
    return -1;
  }
  return b->dev->copy_in(b->dev, b->ptr, src, b->nbytes);
}

TG__PRIVATE int tg__buffer_copyout(tg__buffer *b, void *dst) {
  if (tg__buffer_ensure(b) < 0) return -1;
  if (!b->nbytes) return 0;
  if (!dst) {
    tg__set_error("buffer copy out: NULL destination for %zu bytes", b->nbytes);
    return -1;
  }
  return b->dev->copy_out(b->dev, dst, b->ptr, b->nbytes);
}

// ---------------------------------------------------------------------------------------------------------------------
// counters (touched only by the calling thread; the library is not thread-safe)

static int64_t tg__dev_launches, tg__dev_compiles;

TG__PRIVATE int64_t tg__buffer_new_id_peek(void) { return tg__dev_next_buffer_id + 1; }
TG__PRIVATE int64_t tg__stat_launches(int64_t add) { return tg__dev_launches += add; }
TG__PRIVATE int64_t tg__stat_compiles(int64_t add) { return tg__dev_compiles += add; }
static int64_t tg__dev_alloc_bytes;
TG__PRIVATE int64_t tg__stat_alloc_bytes(int64_t add) { return tg__dev_alloc_bytes += add; }

int64_t tg_kernel_launches(void) { TG__LOCKED(); return tg__stat_launches(0); }
int64_t tg_compiler_invocations(void) { TG__LOCKED(); return tg__stat_compiles(0); }
