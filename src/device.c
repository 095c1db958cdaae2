/* device.c: the device registry, the calls into devices, the program caches, driver loading and the run counters
 * (layer 4).
 *
 * Contract:
 *  - A device is the user's tg_device_desc (api.h), registered with tg_device_register: a version, a size (fields
 *    past the size the caller compiled are NULL here), a dialect (a built-in one by name, or a table that changes
 *    one), an allocator, a compiler (source -> blob), a runner (blob -> program, launch, synchronize) and optional
 *    parts. The CPU (runtime_cpu.c) and the backends of backends/ register through the same path (tg__device_add),
 *    at most 16 devices. tg__device_get finds one by name, case-insensitively, with an optional ":0" (tinygrad's device
 *    strings); a NULL name means the default: tg_set_default_device's, else the environment variable DEV, else "CPU".
 *    An unknown name is NULL plus an error listing the known ones.
 *  - Every call into a device goes through tg__dev_* (buffer.c, realize.c, jit.c and search.c call nothing else):
 *    a failure becomes an error naming the device and the call, with what the device said (tg_device_error).
 *  - Programs: tg__dev_compile(_batch) gives the program of a kernel's source from (1) the programs loaded in this
 *    process, keyed by device, the device's cache key and the source; (2) the disk cache, when the device has a cache
 *    key: the blob under a key hashing the device's name and cache key and the kernel's name and source, loaded (one
 *    that no longer loads is deleted and compiled again); (3) the device's compiler, on up to 16 threads at once
 *    when the device allows it (TG_DEVICE_PARALLEL_COMPILE), the blob then written to the disk cache and loaded.
 *    Programs live until exit (unload then).
 *  - tg__stat_launches / tg__stat_compiles count kernel launches and compiler invocations; tg_kernel_launches() and
 *    tg_compiler_invocations() report them to the user.
 *  - Nothing here aborts or exits; failures are tg__set_error plus NULL / -1. It prints one line on stderr when the
 *    disk cache cannot be written (once per process), and a damaged entry at DEBUG>=1. */
#include "internal.h"

#include <dlfcn.h> // tg__dl_load: backends load their driver libraries at run time
#include <pthread.h> // compiles in parallel (tg__dev_compile_batch)
#include <stdarg.h> // tg_device_error
#include <unistd.h> // unlink: tg__blob_read removes a damaged entry; sysconf: the cores

// ---------------------------------------------------------------------------------------------------------------------
// dialects: the built-in tables by name

enum { tg__dialect_max = 8, tg__dev_max = 16, tg__dev_name_max = 31 };

static struct { const char *name; const tg__dialect *d; } tg__dialects[tg__dialect_max];
static int tg__ndialects;

static int tg__dev_name_eq(const char *a, const char *b) { /* ASCII, case-insensitive, locale-independent */
  for (;; a++, b++) {
    int ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca >= 'A' && ca <= 'Z') ca += 'a' - 'A';
    if (cb >= 'A' && cb <= 'Z') cb += 'a' - 'A';
    if (ca != cb) return 0;
    if (!ca) return 1;
  }
}

TG__PRIVATE void tg__dialect_add(const char *name, const tg__dialect *d) {
  for (int i = 0; i < tg__ndialects; i++)
    if (tg__dev_name_eq(tg__dialects[i].name, name)) return;
  if (tg__ndialects < tg__dialect_max) tg__dialects[tg__ndialects].name = name, tg__dialects[tg__ndialects++].d = d;
}

static void tg__dev_builtins(void);

TG__PRIVATE const tg__dialect *tg__dialect_find(const char *name) {
  tg__dev_builtins(); /* the CPU adds "C" */
  for (int i = 0; name && i < tg__ndialects; i++)
    if (tg__dev_name_eq(tg__dialects[i].name, name)) return tg__dialects[i].d;
  return NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// the registry

static tg__device tg__devs[tg__dev_max];
static int tg__dev_count;

static void tg__dev_builtins(void) {
  static int done;
  if (done) return;
  done = 1;
  tg__cpu_register(); /* first: the CPU is always device 0 */
  char warn[2048];
  tg__env_warnings(warn, sizeof warn); /* a variable that does nothing here is said, once */
  if (warn[0]) fputs(warn, stderr);
}

/* The known names, comma-separated, into buf (for errors) */
static const char *tg__dev_known(char *buf, size_t n) {
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < tg__dev_count && at + 1 < n; i++) {
    int w = snprintf(buf + at, n - at, "%s%s", i ? ", " : "", tg__devs[i].name);
    if (w < 0) break;
    at += (size_t)w;
  }
  return buf;
}

/* registers name: the description copied (up to the size the caller compiled it with), the dialect resolved. The
 * built-in devices come here too. 0, or -1 with an error. */
TG__PRIVATE int tg__device_add(const char *name, const tg_device_desc *desc) {
  tg__dev_builtins();
  size_t len = name ? strlen(name) : 0;
  int ok = len > 0 && len <= tg__dev_name_max;
  for (size_t i = 0; i < len && ok; i++)
    ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
         (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
  if (!ok) {
    tg__set_error("device name '%.64s' is not 1 to %d letters, digits or '_'. HINT: name it like \"MY\"",
                  name ? name : "(null)", tg__dev_name_max);
    return -1;
  }
  if (!desc) {
    tg__set_error("device '%s': the description is NULL", name);
    return -1;
  }
  if (desc->size < offsetof(tg_device_desc, synchronize) + sizeof desc->synchronize ||
      desc->version != TG_DEVICE_API_VERSION) {
    tg__set_error("device '%s': the description has size %zu and version %d; this library needs version %d and at "
                  "least the fields up to synchronize. HINT: set .size = sizeof(tg_device_desc), .version = "
                  "TG_DEVICE_API_VERSION", name, desc->size, desc->version, TG_DEVICE_API_VERSION);
    return -1;
  }
  tg__device fresh;
  memset(&fresh, 0, sizeof fresh);
  memcpy(&fresh.desc, desc, desc->size < sizeof fresh.desc ? desc->size : sizeof fresh.desc);
  fresh.desc.size = sizeof fresh.desc;
  const tg_device_desc *x = &fresh.desc;
  const char *missing = !x->alloc ? "alloc" : !x->free ? "free" : !x->copy_in ? "copy_in" : !x->copy_out ? "copy_out"
                        : !x->compile ? "compile" : !x->load ? "load" : !x->launch ? "launch"
                        : !x->synchronize ? "synchronize" : NULL;
  if (missing) {
    tg__set_error("device '%s': its %s is NULL. HINT: alloc, free, copy_in, copy_out, compile, load, launch and "
                  "synchronize are required", name, missing);
    return -1;
  }
  const tg_dialect_desc *t = x->dialect_table;
  if (t && t->size < offsetof(tg_dialect_desc, base) + sizeof t->base) t = NULL;
  const char *base = t && t->base ? t->base : x->dialect;
  const tg__dialect *dia = tg__dialect_find(base);
  if (!dia) {
    tg__set_error("device '%s': unknown dialect '%.64s'. HINT: \"C\" (the CPU's), or \"OPENCL\" / \"CUDA\" with "
                  "their backend header included", name, base ? base : "(null)");
    return -1;
  }
  for (int i = 0; i < tg__dev_count; i++)
    if (tg__dev_name_eq(tg__devs[i].name, name)) {
      tg__set_error("device '%s' is already registered (as '%s'). HINT: register each device once, under a name "
                    "of its own", name, tg__devs[i].name);
      return -1;
    }
  if (tg__dev_count == tg__dev_max) {
    tg__set_error("device '%s': at most %d devices can be registered", name, tg__dev_max);
    return -1;
  }
  memcpy(fresh.name, name, len + 1);
  fresh.dialect = dia;
  if (t) { /* the user's table: the base's, with its fields that are set (a field past its size is not) */
    tg_dialect_desc u;
    memset(&u, 0, sizeof u);
    memcpy(&u, t, t->size < sizeof u ? t->size : sizeof u);
    tg__dialect *o = &fresh.own_dialect;
    *o = *dia;
#define TG__DIALECT_SET(f) \
  if (u.f) o->f = u.f
    TG__DIALECT_SET(kernel_prefix);
    TG__DIALECT_SET(buffer_prefix);
    TG__DIALECT_SET(buffer_qualifier);
    TG__DIALECT_SET(extra_params);
    TG__DIALECT_SET(global_id);
    TG__DIALECT_SET(group_id);
    TG__DIALECT_SET(local_id);
    TG__DIALECT_SET(shared_prefix);
    TG__DIALECT_SET(barrier);
#undef TG__DIALECT_SET
    o->extra_prelude = u.extra_prelude;
    o->unsupported |= u.unsupported;
    fresh.dialect = o;
  }
  tg__device *d = &tg__devs[tg__dev_count++];
  *d = fresh;
  if (t) d->dialect = &d->own_dialect; /* the copy's own table, not fresh's */
  return 0;
}

int tg_device_register(const char *name, const tg_device_desc *desc) {
  TG__LOCKED();
  if (tg__device_add(name, desc) < 0) {
    tg__error_context("tg_device_register");
    return -1;
  }
  return 0;
}

void tg_device_error(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt ? fmt : "(no message)", ap);
  va_end(ap);
  tg__set_error("%s", msg);
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
      if (tg__dev_name_eq(tg__devs[i].name, base)) {
        if (index == 0) return &tg__devs[i];
        tg__set_error("device '%.64s': %s has one unit here, index 0 (\"%s\" or \"%s:0\")%s", name,
                      tg__devs[i].name, tg__devs[i].name, tg__devs[i].name, from_env ? ", from DEV" : "");
        return NULL;
      }
  }
  char known[256];
  tg__set_error("unknown device '%.64s' (known: %s)%s. HINT: use a known name, register yours (tg_device_register), "
                "or include the backend header (e.g. backends/tinygrad_cuda.h) that provides it", name,
                tg__dev_known(known, sizeof known), from_env ? ", from DEV" : "");
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
  tg_device_props p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  t->gpu = d->dialect->global_id != NULL;
  p.vec_floats = 4;
  p.vec_regs = 16;
  p.cores = 1;
  p.l2_bytes = 1 << 20;
  p.local_max = t->gpu && d->dialect->group_id ? 256 : 0; /* what every OpenCL device and CUDA GPU allows */
  p.shared_bytes = p.local_max ? 16384 : 0;
  p.units = 1;
  if (d->desc.describe) {
    tg__errsave saved; /* what it cannot find out stays at the defaults */
    tg__error_push(&saved);
    d->desc.describe(d->desc.ctx, &p);
    tg__error_pop(&saved);
  }
  t->vec_floats = p.vec_floats > 0 ? p.vec_floats : 4;
  t->vec_regs = p.vec_regs > 0 ? p.vec_regs : 16;
  t->cores = p.cores > 0 ? p.cores : 1;
  t->l2_bytes = p.l2_bytes > 0 ? p.l2_bytes : 1 << 20;
  t->l3_bytes = p.l3_bytes > 0 ? p.l3_bytes : 0; /* a device built before the field leaves it 0 */
  t->local_max = p.local_max > 0 && d->dialect->group_id ? p.local_max : 0;
  t->shared_bytes = t->local_max && p.shared_bytes > 0 ? p.shared_bytes : 0;
  t->units = p.units > 0 ? p.units : 1;
  t->tensor_cores = p.tensor_cores, t->wgmma = p.wgmma;
  if (!d->dialect->wmma || !d->dialect->ldmatrix || !t->local_max) t->tensor_cores = 0; /* the dialect renders them */
  if (!t->tensor_cores || !d->dialect->wgmma || !d->dialect->async_copy || !d->dialect->dynamic_shared) t->wgmma = 0;
}

int tg_synchronize(const char *device) {
  TG__LOCKED();
  tg__device *d = tg__device_get(device);
  return d ? tg__dev_synchronize(d) : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// calls into a device: an error names the device and the call (tg__dev_failed, buffer.c, with the memory calls)

TG__PRIVATE int tg__dev_synchronize(tg__device *d) {
  unsigned s = tg__error_serial();
  if (d->desc.synchronize(d->desc.ctx) == 0) return 0;
  tg__dev_failed(d, s, "synchronize (a kernel before it failed)");
  return -1;
}

TG__PRIVATE void tg__dev_wake(tg__device *d) {
  if (d->desc.wake) d->desc.wake(d->desc.ctx);
}

static void tg__dev_launch_of(const tg__program *p, void **bufs, int nbufs, tg_launch *l) {
  memset(l, 0, sizeof *l);
  l->size = sizeof *l;
  l->name = p->name;
  l->program = p->handle;
  l->bufs = bufs;
  l->nbufs = nbufs;
  l->global[0] = p->global_size > 0 ? p->global_size : 1;
  l->global[1] = l->global[2] = 1;
  l->local[0] = p->local_size > 0 ? p->local_size : 0;
  l->local[1] = l->local[2] = l->local[0] ? 1 : 0;
  l->shared_bytes = p->shared_bytes;
  l->flops = p->flops, l->bytes = p->bytes;
}

TG__PRIVATE int tg__dev_launch(tg__program *p, void **bufs, int nbufs) {
  tg_launch l;
  tg__dev_launch_of(p, bufs, nbufs, &l);
  tg__device *d = p->dev;
  unsigned s = tg__error_serial();
  if (d->desc.compile) tg__stat_launches(1); /* kernels: not the copies between devices (realize.c's COPY device) */
  if (d->desc.launch(d->desc.ctx, &l) == 0) return 0;
  char what[160];
  snprintf(what, sizeof what, "launch of kernel %.100s", p->name);
  tg__dev_failed(d, s, what);
  return -1;
}

TG__PRIVATE int tg__dev_launch_graph(tg__device *d, int n, tg__program *const *progs, void ***bufs, const int *nbufs,
                                     void **state) {
  if (!d->desc.launch_graph || n < 1) return 1;
  tg_launch *ls = (tg_launch *)tg__alloc(sizeof(tg_launch) * (size_t)n);
  for (int i = 0; i < n; i++) tg__dev_launch_of(progs[i], bufs[i], nbufs[i], &ls[i]);
  unsigned s = tg__error_serial();
  int rc = d->desc.launch_graph(d->desc.ctx, n, ls, state);
  TG_FREE(ls);
  if (rc == 0) tg__stat_launches(n);
  if (rc < 0) {
    char what[96];
    snprintf(what, sizeof what, "a graph of %d launches", n);
    tg__dev_failed(d, s, what);
  }
  return rc;
}

TG__PRIVATE void tg__dev_graph_free(tg__device *d, void *state) {
  if (state && d->desc.graph_free) d->desc.graph_free(d->desc.ctx, state);
}

// ---------------------------------------------------------------------------------------------------------------------
// the disk cache of compiled programs

/* Compiled programs on disk, in the library's cache directory (tg__cache_dir): the file `<kind>-<32 hex digits of
 * the key>` (kind: the device's name in lower case) holds a 32-byte header (tg__blob_magic, the payload's length, two
 * hashes of the payload) and then the payload, written whole or not at all (tg__afile). The key hashes everything
 * that decides the payload (the device's cache key: compiler, version, target, flags; the kernel's name and source).
 * A damaged entry (truncated, garbage, empty) is deleted and compiled again. When the directory is refused or a write
 * into it fails (full, read-only, a quota), kernels are compiled as always and not kept: one line on stderr, once per
 * process and at any DEBUG, says so and why. */
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

/* whether the line "not caching" was said in this process (the tests reset it) */
static int tg__blob_said;

static void tg__blob_not_caching(const char *why) {
  if (tg__blob_said) return;
  tg__blob_said = 1;
  fprintf(stderr, "tinygrad.h: not caching compiled kernels: %s\n", why);
}

/* caches the payload under (kind, key); a failure (no directory, a full disk) leaves nothing and is no error */
static TG__UNUSED void tg__blob_write(const char *kind, uint64_t k0, uint64_t k1, const void *p, size_t n) {
  char dir[4096], why[512], path[4200];
  if (tg__cache_dir(dir, sizeof dir, why, sizeof why) != 0) {
    tg__blob_not_caching(why);
    return;
  }
  if (tg__blob_path(kind, k0, k1, path, sizeof path) < 0) return;
  unsigned char head[TG__BLOB_HEADER];
  tg__blob_header(p, n, head);
  tg__errsave saved;
  tg__error_push(&saved); /* the error state stays the caller's */
  tg__afile f;
  int ok = tg__afile_open(&f, "compiled program cache", path) == 0 && tg__afile_write(&f, head, sizeof head) == 0 &&
           tg__afile_write(&f, p, n) == 0 && tg__afile_commit(&f) == 0;
  if (!ok) {
    tg__afile_discard(&f);
    snprintf(why, sizeof why, "%.500s", tg_error() ? tg_error() : "a write failed");
  }
  tg__error_pop(&saved);
  if (!ok) tg__blob_not_caching(why);
}

// ---------------------------------------------------------------------------------------------------------------------
// programs: loaded once per (device, source) and kept until exit; blobs cached on disk when the device has a key

/* a slot: the program of src on dev when its cache key hashed to kh (a changed $CC compiles again) */
static int64_t tg__prog_stats[3]; /* loaded already, from the disk cache, compiled */

TG__PRIVATE void tg__program_stats(int64_t out[3]) { memcpy(out, tg__prog_stats, sizeof tg__prog_stats); }

typedef struct tg__prog_slot { tg__device *dev; uint64_t h, kh; char *src; tg__program *prog; } tg__prog_slot;
static struct {
  tg__prog_slot *slot; /* open addressing on (dev, h); NULL prog: empty */
  size_t cap, n;
} tg__progs;

static uint64_t tg__prog_hash(const tg__device *d, uint64_t kh, const char *src) {
  return tg__hash_bytes(src, strlen(src), (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ULL + kh);
}

static tg__program *tg__prog_find(tg__device *d, uint64_t kh, const char *src) {
  if (!tg__progs.cap) return NULL;
  uint64_t h = tg__prog_hash(d, kh, src);
  for (size_t i = h & (tg__progs.cap - 1);; i = (i + 1) & (tg__progs.cap - 1)) {
    tg__prog_slot *e = &tg__progs.slot[i];
    if (!e->prog) return NULL;
    if (e->dev == d && e->h == h && e->kh == kh && !strcmp(e->src, src)) return e->prog;
  }
}

static void tg__progs_free(void) {
  for (size_t i = 0; i < tg__progs.cap; i++) {
    tg__prog_slot *e = &tg__progs.slot[i];
    if (!e->prog) continue;
    if (e->dev->desc.unload && e->prog->handle) e->dev->desc.unload(e->dev->desc.ctx, e->prog->handle);
    TG_FREE(e->prog->name);
    TG_FREE(e->prog);
    TG_FREE(e->src);
  }
  TG_FREE(tg__progs.slot);
  memset(&tg__progs, 0, sizeof tg__progs);
}

static void tg__prog_put(tg__device *d, uint64_t kh, const char *src, tg__program *p) {
  uint64_t h = tg__prog_hash(d, kh, src);
  if (2 * (tg__progs.n + 1) > tg__progs.cap) {
    size_t cap = tg__progs.cap ? 2 * tg__progs.cap : 256;
    tg__prog_slot *old = tg__progs.slot;
    size_t oldcap = tg__progs.cap;
    if (!old) atexit(tg__progs_free);
    tg__progs.slot = (tg__prog_slot *)tg__alloc(sizeof(tg__prog_slot) * cap);
    tg__progs.cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
      if (!old[i].prog) continue;
      size_t j = old[i].h & (cap - 1);
      while (tg__progs.slot[j].prog) j = (j + 1) & (cap - 1);
      tg__progs.slot[j] = old[i];
    }
    TG_FREE(old);
  }
  size_t j = h & (tg__progs.cap - 1);
  while (tg__progs.slot[j].prog) j = (j + 1) & (tg__progs.cap - 1);
  tg__prog_slot *e = &tg__progs.slot[j];
  e->dev = d, e->h = h, e->kh = kh, e->src = tg__strdup(src), e->prog = p;
  tg__progs.n++;
}

/* the device's cache key now (*dkey, NULL: none) and its hash, part of the in-memory programs' key */
static uint64_t tg__dev_cache_key(tg__device *d, const char **dkey) {
  *dkey = d->desc.cache_key ? d->desc.cache_key(d->desc.ctx) : NULL;
  return *dkey ? tg__hash_bytes(*dkey, strlen(*dkey), 7) : 0;
}

/* one kernel of a batch */
typedef struct tg__compile_job {
  tg__device *dev;
  const char *name, *src;
  uint64_t k0, k1;   /* the disk cache's key (key set: the device has one) */
  int key;
  void *blob;        /* the compiler's (malloc) */
  size_t size;
  int compiled;      /* the compiler ran */
  char err[2048];
} tg__compile_job;

typedef struct tg__compile_jobs {
  pthread_mutex_t mu;
  tg__compile_job **job;
  int n, next;
} tg__compile_jobs;

static void tg__compile_job_run(tg__compile_job *j) {
  j->err[0] = 0;
  j->blob = j->dev->desc.compile(j->dev->desc.ctx, j->name, j->src, &j->size, j->err, sizeof j->err);
  j->compiled = 1;
}

static void *tg__compile_thread(void *arg) {
  tg__compile_jobs *J = (tg__compile_jobs *)arg;
  for (;;) {
    pthread_mutex_lock(&J->mu);
    int i = J->next++;
    pthread_mutex_unlock(&J->mu);
    if (i >= J->n) return NULL;
    tg__compile_job_run(J->job[i]);
  }
}

/* the disk cache's key of a kernel: the device's name and cache key, the kernel's name and source */
static void tg__compile_key(tg__compile_job *j, const char *dkey) {
  char head[160];
  snprintf(head, sizeof head, "tinygrad.h program 1\n%s\n%.100s\n", j->dev->name, j->name);
  size_t hn = strlen(head), kn = strlen(dkey), sn = strlen(j->src);
  j->k0 = tg__hash_bytes(j->src, sn, tg__hash_bytes(head, hn, tg__hash_bytes(dkey, kn, 1)));
  j->k1 = tg__hash_bytes(j->src, sn, tg__hash_bytes(head, hn, tg__hash_bytes(dkey, kn, 2)));
  j->key = 1;
}

/* the cache file's kind: the device's name in lower case ("cpu-<key>") */
static void tg__compile_kind(const tg__device *d, char *kind) {
  size_t i = 0;
  for (; d->name[i]; i++) kind[i] = (char)(d->name[i] >= 'A' && d->name[i] <= 'Z' ? d->name[i] + 32 : d->name[i]);
  kind[i] = 0;
}

/* the blob loaded as a program of d (kept in the program cache), or NULL with an error naming the device */
static tg__program *tg__compile_load(tg__device *d, const char *name, const char *src, uint64_t kh, const void *blob,
                                     size_t size) {
  unsigned s = tg__error_serial();
  void *handle = d->desc.load(d->desc.ctx, name, blob, size);
  if (!handle) {
    char what[160];
    snprintf(what, sizeof what, "load of kernel %.100s", name);
    tg__dev_failed(d, s, what);
    return NULL;
  }
  tg__program *p = (tg__program *)tg__alloc(sizeof *p);
  p->dev = d;
  p->name = tg__strdup(name);
  p->handle = handle;
  p->global_size = 1;
  tg__prog_put(d, kh, src, p);
  return p;
}

TG__PRIVATE void tg__dev_compile_batch(tg__device *d, int n, const char *const *names, const char *const *srcs,
                                       tg__program **out) {
  tg__compile_job *jobs = (tg__compile_job *)tg__alloc(sizeof(tg__compile_job) * (size_t)(n ? n : 1));
  tg__compile_jobs J;
  memset(&J, 0, sizeof J);
  J.job = (tg__compile_job **)tg__alloc(sizeof(tg__compile_job *) * (size_t)(n ? n : 1));
  char kind[tg__dev_name_max + 1];
  tg__compile_kind(d, kind);
  const char *dkey; /* asked once per batch: $CC may change between two */
  uint64_t kh = tg__dev_cache_key(d, &dkey);
  for (int i = 0; i < n; i++) {
    tg__compile_job *j = &jobs[i];
    j->dev = d, j->name = names[i], j->src = srcs[i];
    if (!names[i] || !srcs[i]) {
      out[i] = NULL;
      tg__set_error("device '%s': compile of a NULL kernel name or source", d->name);
      continue;
    }
    if ((out[i] = tg__prog_find(d, kh, srcs[i]))) {
      tg__prog_stats[0]++;
      continue;
    }
    int dup = 0;
    for (int e = 0; e < i && !dup; e++) dup = jobs[e].src && !strcmp(jobs[e].src, srcs[i]);
    if (dup) { /* compiled once, found in the program cache below */
      tg__prog_stats[0]++;
      continue;
    }
    if (TG__DEBUG >= 3) printf("%s\n", srcs[i]); /* a kernel new to this process: its source, on any device */
    if (dkey) {
      tg__compile_key(j, dkey);
      size_t len = 0;
      unsigned char *cached = tg__blob_read(kind, j->k0, j->k1, &len);
      if (cached) {
        tg__errsave saved;
        tg__error_push(&saved);
        out[i] = tg__compile_load(d, names[i], srcs[i], kh, cached, len);
        tg__error_pop(&saved);
        TG_FREE(cached);
        if (out[i]) {
          tg__prog_stats[1]++;
          continue;
        }
        tg__blob_remove(kind, j->k0, j->k1); /* no longer loads (a driver changed under it): compiled again */
      }
    }
    J.job[J.n++] = j;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  pthread_t tid[15];
  int nt = 0, want = (int)(cores < 1 ? 1 : cores > 16 ? 16 : cores) - 1;
  if (J.n > 1 && (d->desc.flags & TG_DEVICE_PARALLEL_COMPILE) && pthread_mutex_init(&J.mu, NULL) == 0) {
    for (; nt < want && nt < J.n - 1; nt++)
      if (pthread_create(&tid[nt], NULL, tg__compile_thread, &J) != 0) break;
    tg__compile_thread(&J); /* the caller compiles too */
    for (int i = 0; i < nt; i++) pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&J.mu);
  } else {
    for (int i = 0; i < J.n; i++) tg__compile_job_run(J.job[i]);
  }
  for (int i = 0; i < n; i++) {
    tg__compile_job *j = &jobs[i];
    if (out[i] || !j->compiled) continue;
    tg__stat_compiles(1);
    tg__prog_stats[2]++;
    if (!j->blob) {
      tg__set_error("device '%s': compile of kernel %.100s failed: %s", d->name, j->name,
                    j->err[0] ? j->err : "(the compiler said nothing)");
      continue;
    }
    if (j->key) tg__blob_write(kind, j->k0, j->k1, j->blob, j->size);
    out[i] = tg__compile_load(d, j->name, j->src, kh, j->blob, j->size);
    free(j->blob); /* malloc'd by the device (api.h) */
  }
  for (int i = 0; i < n; i++) /* repeats of a source in the batch */
    if (!out[i] && srcs[i]) out[i] = tg__prog_find(d, kh, srcs[i]);
  TG_FREE(J.job);
  TG_FREE(jobs);
}

TG__PRIVATE tg__program *tg__dev_compile(tg__device *d, const char *name, const char *src) {
  const char *dkey;
  tg__program *p = src ? tg__prog_find(d, tg__dev_cache_key(d, &dkey), src) : NULL;
  if (p) { /* every schedule's case: loaded already, and nothing allocated */
    tg__prog_stats[0]++;
    return p;
  }
  tg__dev_compile_batch(d, 1, &name, &src, &p);
  return p;
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

// ---------------------------------------------------------------------------------------------------------------------
// settings: the environment's, changed at run time (tinygrad's ContextVars)

/* the integer settings the library reads (tg__getenv_int: read once, cached), with their defaults */
static const struct { const char *name; int dflt; } tg__settings[] = {
    {"DEBUG", 0},     {"NOOPT", 0},    {"BEAM", 0},          {"BEAM_TIMEOUT", 60},  {"THREADS", 0},
    {"JIT", 1},       {"JIT_GRAPH", 1}, {"NOLOCALS", 0},     {"NOTC", 0},           {"NOWGMMA", 0},
    {"VECTORIZE", 1}, {"PREFETCH", 1}, {"SPLIT_REDUCEOP", 1}, {"REDUCEOP_SPLIT_THRESHOLD", 32768},
    {"NOMERGE", 0},   {"TRACK_MATCH_STATS", 0}, {"VIZ", 0},     {"PROFILE", 0}};

/* the setting's index, or -1 with an error naming fn and listing the settings */
static int tg__setting_find(const char *fn, const char *name) {
  for (int i = 0; name && i < TG__COUNT(tg__settings); i++)
    if (tg__dev_name_eq(tg__settings[i].name, name)) return i;
  char known[512];
  size_t at = 0;
  known[0] = 0;
  for (int i = 0; i < TG__COUNT(tg__settings) && at + 1 < sizeof known; i++) {
    int w = snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", tg__settings[i].name);
    if (w > 0) at += (size_t)w;
  }
  tg__set_error("%s: unknown setting '%.64s' (known: %s)", fn, name ? name : "(null)", known);
  return -1;
}

int tg_set_setting(const char *name, int value) {
  TG__LOCKED();
  int i = tg__setting_find("tg_set_setting", name);
  if (i < 0) return -1;
  const char *n = tg__settings[i].name; /* the table's string: the cache keeps the pointer */
  if (value < 0 && strcmp(n, "BEAM_TIMEOUT") && strcmp(n, "DEBUG") && strcmp(n, "VIZ")) {
    tg__set_error("tg_set_setting: %s = %d: a setting is 0 or more", n, value);
    return -1;
  }
  int before = tg__getenv_int(n, tg__settings[i].dflt);
  tg__setenv_int(n, value);
  if (!strcmp(n, "THREADS") && before != value) tg__cpu_threads_changed();
  return 0;
}

int tg_setting(const char *name) {
  TG__LOCKED();
  int i = tg__setting_find("tg_setting", name);
  return i < 0 ? -1 : tg__getenv_int(tg__settings[i].name, tg__settings[i].dflt);
}

int tg_set_debug(int level) {
  TG__LOCKED();
  return tg_set_setting("DEBUG", level);
}
int tg_set_noopt(int on) {
  TG__LOCKED();
  return tg_set_setting("NOOPT", on);
}
int tg_set_beam(int width) {
  TG__LOCKED();
  return tg_set_setting("BEAM", width);
}
int tg_set_threads(int n) {
  TG__LOCKED();
  return tg_set_setting("THREADS", n);
}

/* Variables of tinygrad that this library does not implement (or spells another way), each with what to do: one
 * warning line each at the first call into the library, so that a setting is never ignored in silence. */
static const struct { const char *name, *why; } tg__unimplemented[] = {
    {"GRAPH", "graph drawing is not implemented; DEBUG=4 prints each kernel's IR"},
    {"SAVE_SCHEDULE", "not implemented"},
    {"CACHELEVEL", "not implemented; DISABLE_COMPILER_CACHE=1 skips reading the cache"},
    {"CACHEDB", "the cache here is a directory: TINYGRAD_CACHE=/path"},
    {"IGNORE_BEAM_CACHE", "not implemented; TINYGRAD_CACHE=<an empty directory> searches again"},
    {"DEFAULT_FLOAT", "not implemented: creation functions take a dtype"},
    {"IMAGE", "image dtypes are not implemented"},
    {"CUDA", "tinygrad's device switch: here DEV=CUDA"},
    {"NV", "tinygrad's device switch: here DEV=CUDA"},
    {"GPU", "tinygrad's device switch: here DEV=OPENCL"},
    {"CL", "tinygrad's device switch: here DEV=OPENCL"},
    {"CPU", "tinygrad's device switch: here DEV=CPU"},
    {"CLANG", "tinygrad's device switch: here DEV=CPU"},
    {"LLVM", "no LLVM device: DEV=CPU compiles C"},
    {"METAL", "no Metal device yet"},
    {"AMD", "no AMD device yet"}};

/* the warnings for the environment as it is, into out (empty when there are none) */
TG__PRIVATE void tg__env_warnings(char *out, size_t n) {
  size_t at = 0;
  out[0] = 0;
  for (int i = 0; i < TG__COUNT(tg__unimplemented) && at + 1 < n; i++) {
    const char *v = getenv(tg__unimplemented[i].name);
    if (!v || !v[0]) continue;
    int w = snprintf(out + at, n - at, "tinygrad.h: %s=%.32s is ignored: %s\n", tg__unimplemented[i].name, v,
                     tg__unimplemented[i].why);
    if (w > 0) at += (size_t)w;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// counters (touched only by the calling thread; the library is not thread-safe)

static int64_t tg__dev_launches, tg__dev_compiles;

TG__PRIVATE int64_t tg__stat_launches(int64_t add) { return tg__dev_launches += add; }
TG__PRIVATE int64_t tg__stat_compiles(int64_t add) { return tg__dev_compiles += add; }

int64_t tg_kernel_launches(void) { TG__LOCKED(); return tg__stat_launches(0); }
int64_t tg_compiler_invocations(void) { TG__LOCKED(); return tg__stat_compiles(0); }
