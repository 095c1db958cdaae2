/* base.c: the helpers every stage uses: memory, the error string, growable arrays, a string builder, a pointer hash
 * map, hashing and cached environment variables (layer 1).
 *
 * Contract: every failure is reported through tg__set_error and a NULL / -1 return by the caller, out of memory for
 * tensor data included (tg__try_alloc). The one exception: when the library's own bookkeeping (a few bytes for a
 * node, a handle, a string) cannot be allocated even after every cached buffer was given back, it aborts, as there is
 * nothing sensible left to do. The error string is thread-local.
 * Also here: the library-wide lock, fault injection for the tests, the writer of files that appear whole or not at
 * all, and the disk cache directory (compiled kernels, BEAM's choices), used only when nobody else can write it. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>     // open: the atomic file writer
#include <pthread.h>   // the library's lock
#include <sys/stat.h>  // fstat, fchmod, umask
#include <limits.h>    // PATH_MAX
#include <unistd.h>    // write, fsync, close, unlink, geteuid

#ifdef PATH_MAX
#define TG__PATH_MAX PATH_MAX
#else
#define TG__PATH_MAX 4096
#endif
#ifdef S_ISVTX
#define TG__STICKY S_ISVTX
#else
#define TG__STICKY 0 /* unknown: no directory counts as sticky, which only makes the check stricter */
#endif

// ---------------------------------------------------------------------------------------------------------------------
// memory

static void (*tg__release_hook)(void);

TG__PRIVATE void tg__set_release_hook(void (*release)(void)) { tg__release_hook = release; }

/* malloc, and once more after the library's caches were given back */
static void *tg__malloc_retry(size_t n) {
  void *p = TG_MALLOC(n ? n : 1);
  if (!p && tg__release_hook) {
    tg__release_hook();
    p = TG_MALLOC(n ? n : 1);
  }
  return p;
}

static void tg__out_of_memory(size_t n) {
  fprintf(stderr, "tinygrad.h: out of memory (%zu bytes for the library's own bookkeeping)\n", n);
  abort();
}

TG__PRIVATE void *tg__try_alloc(const char *fn, size_t n) {
  void *p = tg__fault(TG__FAULT_HOST_ALLOC) ? NULL : tg__malloc_retry(n);
  if (!p)
    tg__set_error("%s: out of memory: cannot allocate %zu bytes of host memory. HINT: free some tensors, or read "
                  "the tensor in parts", fn, n);
  return p;
}

TG__PRIVATE void *tg__alloc(size_t n) {
  void *p = tg__malloc_retry(n);
  if (!p) tg__out_of_memory(n);
  memset(p, 0, n ? n : 1);
  return p;
}

TG__PRIVATE void *tg__realloc(void *p, size_t n) {
  void *q = TG_REALLOC(p, n ? n : 1);
  if (!q && tg__release_hook) {
    tg__release_hook();
    q = TG_REALLOC(p, n ? n : 1);
  }
  if (!q) tg__out_of_memory(n);
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
static TG__THREAD_LOCAL unsigned tg__errserial; /* errors set on this thread: tg__error_serial */
static TG__THREAD_LOCAL int tg__errquiet; /* tg__error_push depth: errors of tries that may fail are not printed */

TG__PRIVATE void tg__set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tg__errbuf, sizeof tg__errbuf, fmt, ap);
  va_end(ap);
  tg__errset = 1;
  tg__errserial++;
  if (TG__DEBUG >= 1 && !tg__errquiet) fprintf(stderr, "tinygrad.h error: %s\n", tg__errbuf);
}

TG__PRIVATE int tg__has_error(void) { return tg__errset; }
TG__PRIVATE unsigned tg__error_serial(void) { return tg__errserial; }

TG__PRIVATE void tg__error_context(const char *prefix) {
  char why[sizeof tg__errbuf];
  memcpy(why, tg__errbuf, sizeof why);
  tg__set_error("%s: %s", prefix, tg__errset && why[0] ? why : "failed");
}

TG__PRIVATE void tg__error_push(tg__errsave *s) {
  memcpy(s->buf, tg__errbuf, sizeof s->buf);
  s->set = tg__errset;
  tg__errquiet++;
}

TG__PRIVATE void tg__error_pop(const tg__errsave *s) {
  memcpy(tg__errbuf, s->buf, sizeof tg__errbuf);
  tg__errset = s->set;
  tg__errquiet--;
}

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

/* Four lanes of 64-bit words (a multiply and a shift each, independent, so they run side by side), then the last
 * bytes one by one. The CPU's program cache hashes a kernel's source at every launch (a matmul's is 50 KB): a byte at
 * a time, that was a tenth of a 256 matmul's realisation. Not for adversarial input: for cache keys and checksums. */
TG__PRIVATE uint64_t tg__hash_bytes(const void *p, size_t n, uint64_t h) {
  const unsigned char *c = (const unsigned char *)p;
  uint64_t l[4] = {h ^ 0xcbf29ce484222325ULL, h + 0x9e3779b97f4a7c15ULL, ~h, h ^ 0x5851f42d4c957f2dULL};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; j++) {
      uint64_t w;
      memcpy(&w, c + i + 8 * (size_t)j, 8);
      l[j] = (l[j] ^ w) * 0xff51afd7ed558ccdULL;
      l[j] ^= l[j] >> 31;
    }
  h = tg__hash_mix(tg__hash_mix(l[0], l[1]), tg__hash_mix(l[2], l[3]));
  for (; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
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

/* a monotonic clock in nanoseconds (timing: DEBUG's kernel lines, BEAM, the pool's spin, rule statistics) */
TG__PRIVATE uint64_t tg__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* the tests' way to change a variable after it was read (DEBUG=2 for one replay): the cached value becomes v */
TG__PRIVATE void tg__setenv_int(const char *name, int v) {
  (void)tg__getenv_int(name, 0); /* cached from here on */
  for (int i = 0; i < tg__nenvs; i++)
    if (tg__envs[i].name == name || strcmp(tg__envs[i].name, name) == 0) tg__envs[i].value = v;
}

// ---------------------------------------------------------------------------------------------------------------------
// the library-wide lock (recursive: a public function may call another; see TG__LOCKED in internal.h)

static pthread_mutex_t tg__api_mu;
static pthread_once_t tg__api_once = PTHREAD_ONCE_INIT;

static void tg__api_init(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&tg__api_mu, &a);
  pthread_mutexattr_destroy(&a);
}

static int tg__api_depth; /* public calls in progress on the thread holding the lock (they nest) */
static int tg__user_depth; /* the depth at which the library called back into user code (a JIT'd function), or 0 */
static void (*tg__return_hook)(void);

/* The library is about to call user code (a JIT'd function), holding only rooted state (tensor handles, retained
 * buffers): the public calls that code makes return to the user as the outermost ones do, and collect the graph
 * there (a prompt's first, uncaptured step held every layer's buffers until the step returned: 58 MB for SmolLM2).
 * Returns the previous depth, for tg__callback_end. */
TG__PRIVATE int tg__callback_begin(void) {
  int prev = tg__user_depth;
  tg__user_depth = tg__api_depth;
  return prev;
}
TG__PRIVATE void tg__callback_end(int prev) { tg__user_depth = prev; }
TG__PRIVATE int tg__in_callback(void) { return tg__user_depth > 0; }

TG__PRIVATE void tg__set_return_hook(void (*hook)(void)) { tg__return_hook = hook; }

TG__PRIVATE int tg__api_lock(void) {
  pthread_once(&tg__api_once, tg__api_init);
  pthread_mutex_lock(&tg__api_mu);
  tg__api_depth++;
  return 1;
}

TG__PRIVATE void tg__api_unlock(int *held) {
  if (!*held) return;
  if (tg__api_depth == tg__user_depth + 1 && tg__return_hook)
    tg__return_hook(); /* back to the user: nothing unrooted is in use */
  tg__api_depth--;
  pthread_mutex_unlock(&tg__api_mu);
}

// ---------------------------------------------------------------------------------------------------------------------
// fault injection (read and armed under the lock)

static struct { int64_t skip, count; } tg__faults[TG__NFAULTS];

TG__PRIVATE void tg__fault_arm(tg__fault_kind k, int64_t skip, int64_t count) {
  tg__faults[k].skip = skip;
  tg__faults[k].count = count;
}

TG__PRIVATE int tg__fault_armed(tg__fault_kind k) { return tg__faults[k].count != 0; }

TG__PRIVATE int tg__fault(tg__fault_kind k) {
  if (!tg__faults[k].count) return 0;
  if (tg__faults[k].skip > 0) {
    tg__faults[k].skip--;
    return 0;
  }
  if (tg__faults[k].count > 0) tg__faults[k].count--;
  return 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// files written whole or not at all: a temporary beside the target, fsync, rename, fsync of the directory

/* the directory part of path ("." when there is none), into dir */
static void tg__dirname(const char *path, char *dir, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, n, ".");
  else if (slash == path) snprintf(dir, n, "/");
  else snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

static int tg__fsync_dir(const char *path) {
  char dir[4096];
  tg__dirname(path, dir, sizeof dir);
  int fd = open(dir, O_RDONLY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  /* some filesystems cannot sync a directory (EINVAL): the rename itself is still atomic there */
  return rc == 0 || errno == EINVAL || errno == EROFS ? 0 : -1;
}

static int tg__afile_fail(tg__afile *f, const char *what, int err) {
  tg__set_error("%s: %s %s: %s%s", f->fn, what, f->path, strerror(err),
                err == ENOSPC || err == EDQUOT || err == EFBIG ? ". HINT: free some disk space; the previous file (if "
                "any) is untouched" : "");
  tg__afile_discard(f);
  return -1;
}

TG__PRIVATE int tg__afile_open(tg__afile *f, const char *fn, const char *path) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->fn = fn;
  f->path = tg__strdup(path);
  size_t n = strlen(path) + 16;
  f->tmp = (char *)tg__alloc(n);
  snprintf(f->tmp, n, "%s.tmp.XXXXXX", path);
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return tg__afile_fail(f, "cannot write", EISDIR);
    f->mode = (int)(st.st_mode & 07777);
  } else {
    mode_t um = umask(022); /* read the umask (there is no other portable way), then put it back */
    umask(um);
    f->mode = (int)(0666 & ~um);
  }
  f->fd = mkstemp(f->tmp);
  if (f->fd < 0) {
    int err = errno;
    TG_FREE(f->tmp);
    f->tmp = NULL;
    return tg__afile_fail(f, "cannot create a file beside", err);
  }
  return 0;
}

TG__PRIVATE int tg__afile_write(tg__afile *f, const void *p, size_t n) {
  const char *s = (const char *)p;
  while (n) {
    size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
    ssize_t w = tg__fault(TG__FAULT_IO) ? (errno = ENOSPC, -1) : write(f->fd, s, chunk);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return tg__afile_fail(f, "cannot write", w < 0 ? errno : EIO);
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

TG__PRIVATE int tg__afile_commit(tg__afile *f) {
  if (tg__fault(TG__FAULT_IO)) return tg__afile_fail(f, "cannot flush", EIO);
  if (fchmod(f->fd, (mode_t)f->mode) != 0 || fsync(f->fd) != 0) return tg__afile_fail(f, "cannot flush", errno);
  int rc = close(f->fd);
  f->fd = -1;
  if (rc != 0) return tg__afile_fail(f, "cannot flush", errno);
  if (rename(f->tmp, f->path) != 0) return tg__afile_fail(f, "cannot replace", errno);
  TG_FREE(f->tmp);
  f->tmp = NULL;
  if (tg__fsync_dir(f->path) != 0) return tg__afile_fail(f, "cannot sync the directory of", errno);
  tg__afile_discard(f);
  return 0;
}

TG__PRIVATE void tg__afile_discard(tg__afile *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (f->tmp) unlink(f->tmp);
  TG_FREE(f->tmp);
  TG_FREE(f->path);
  f->tmp = f->path = NULL;
}

TG__PRIVATE int tg__file_publish(const char *fn, const char *tmp, const char *path) {
  int fd = open(tmp, O_RDONLY), err = fd < 0 ? errno : 0;
  if (!err && tg__fault(TG__FAULT_IO)) err = EIO;
  if (!err && fsync(fd) != 0) err = errno;
  if (fd >= 0) close(fd);
  if (!err && rename(tmp, path) != 0) err = errno;
  if (!err && tg__fsync_dir(path) != 0) err = errno;
  if (err) {
    unlink(tmp);
    if (fn) tg__set_error("%s: cannot write %s: %s", fn, path, strerror(err));
    errno = err;
    return -1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the disk cache directory (compiled kernels, BEAM's choices): private to the user, checked before each use

/* Is the existing directory `real` (a realpath: no symlinks, no . or ..) safe to keep shared objects and search
 * results in? It must be ours and writable by nobody else, and every directory above it must be ours or root's and,
 * if others can write it, sticky (like /tmp), so nobody else can rename or replace anything on the way. 0, or -1 with
 * the reason in why. */
static int tg__cache_dir_is_private(const char *real, char *why, size_t nwhy) {
  char path[TG__PATH_MAX];
  struct stat st;
  uid_t me = geteuid();
  snprintf(path, sizeof path, "%s", real);
  if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(why, nwhy, "%.300s is not a directory", path);
    return -1;
  }
  if (st.st_uid != me) {
    snprintf(why, nwhy, "%.300s is owned by uid %ld, not by you (uid %ld)", path, (long)st.st_uid, (long)me);
    return -1;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(why, nwhy, "%.300s is writable by group or others (mode %03o)", path, (unsigned)(st.st_mode & 0777));
    return -1;
  }
  for (;;) {
    char *slash = strrchr(path, '/');
    if (!slash) break;
    if (slash == path) {
      if (!path[1]) break; /* checked "/" already */
      path[1] = 0;
    } else {
      *slash = 0;
    }
    if (lstat(path, &st) != 0) {
      snprintf(why, nwhy, "cannot stat %.300s: %s", path, strerror(errno));
      return -1;
    }
    if (st.st_uid != me && st.st_uid != 0) {
      snprintf(why, nwhy, "%.300s is owned by uid %ld, neither you nor root", path, (long)st.st_uid);
      return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & TG__STICKY)) {
      snprintf(why, nwhy, "%.300s is writable by group or others and not sticky (mode %03o)", path,
               (unsigned)(st.st_mode & 0777));
      return -1;
    }
  }
  return 0;
}

/* Finds (creating it, parents too, mode 0700) the cache directory and writes its real path to dir. 0 if it can be
 * used, -1 (reason in why) if not. mkdir -p creates nothing inside a directory that is not ours: root with another
 * user's HOME (sudo keeps it) must not leave root-owned directories in that home. */
TG__PRIVATE int tg__cache_dir(char *dir, size_t ndir, char *why, size_t nwhy) {
  char path[TG__PATH_MAX];
  const char *env = getenv("TINYGRAD_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int w;
  if (env && env[0]) w = snprintf(path, sizeof path, "%s", env);
  else if (xdg && xdg[0] == '/') w = snprintf(path, sizeof path, "%s/tinygrad.h", xdg);
  else if (home && home[0]) w = snprintf(path, sizeof path, "%s/.cache/tinygrad.h", home);
  else {
    snprintf(why, nwhy, "neither TINYGRAD_CACHE, XDG_CACHE_HOME nor HOME is set");
    return -1;
  }
  if (w < 0 || (size_t)w >= sizeof path) {
    snprintf(why, nwhy, "the cache directory's path is too long");
    return -1;
  }
  for (char *s = path + 1;; s++) { /* mkdir -p: each missing prefix, checking the owner of the one above */
    if (*s && *s != '/') continue;
    char end = *s;
    struct stat st;
    *s = 0;
    if (lstat(path, &st) != 0) {
      char parent[TG__PATH_MAX], *slash = strrchr(path, '/');
      if (!slash) snprintf(parent, sizeof parent, ".");
      else snprintf(parent, sizeof parent, "%.*s", slash == path ? 1 : (int)(slash - path), path);
      if (stat(parent, &st) != 0) {
        snprintf(why, nwhy, "cannot stat %.300s: %s", parent, strerror(errno));
        return -1;
      }
      /* a sticky directory anyone may write (/tmp) is fine: what we create there stays ours alone */
      int shared_sticky = (st.st_mode & TG__STICKY) && (st.st_mode & S_IWOTH);
      if (st.st_uid != geteuid() && !shared_sticky) {
        snprintf(why, nwhy, "will not create %.200s inside %.200s, which is owned by uid %ld, not by you (uid %ld)",
                 path, parent, (long)st.st_uid, (long)geteuid());
        return -1;
      }
      if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(why, nwhy, "cannot create %.300s: %s", path, strerror(errno));
        return -1;
      }
    }
    *s = end;
    if (!end) break;
  }
  char real[TG__PATH_MAX];
  if (!realpath(path, real)) {
    snprintf(why, nwhy, "cannot resolve %.300s: %s", path, strerror(errno));
    return -1;
  }
  if (tg__cache_dir_is_private(real, why, nwhy) < 0) return -1;
  if (strlen(real) + 64 >= ndir) { /* room for "/<key>.XXXXXX.so" */
    snprintf(why, nwhy, "the cache directory's path is too long");
    return -1;
  }
  snprintf(dir, ndir, "%s", real);
  return 0;
}
