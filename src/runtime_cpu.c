/* runtime_cpu.c: the built-in CPU device (layer 4): host memory, kernels compiled by the system C compiler, a thread
 * pool.
 *
 * Contract:
 *  - Memory is host memory aligned to 64 bytes (posix_memalign); copies are memcpy; synchronize has nothing to do.
 *  - Kernels are written in the C dialect (tg__dialect_c, defined here): a kernel function over [start, end) of its
 *    outermost loop and the entry point below.
 *  - compile(name, src): src is C11 defining `void NAME_entry(void **bufs, int64_t start, int64_t end)`. It is compiled
 *    into a shared object by $CC (default cc; split on spaces, run without a shell) and loaded with dlopen. Programs
 *    are cached in memory under a 128-bit key and live until exit. The key hashes what decides the object: the cache
 *    format's version, the target CPU when -march=native is used (x86: vendor, signature and feature words of cpuid,
 *    and xcr0; other Linux: hwcaps and /proc/cpuinfo's features), the compiler's identity (`$CC --version`, run once
 *    per $CC per process, not counted by tg_compiler_invocations()), $CC, the flags, the kernel's name and source.
 *  - Shared objects are cached on disk under the same key, in the library's cache directory (tg__cache_dir, base.c):
 *    $TINYGRAD_CACHE, else $XDG_CACHE_HOME/tinygrad.h, else
 *    $HOME/.cache/tinygrad.h, created 0700 (mkdir -p), never inside a directory that is not owned by the effective
 *    uid (but for sticky ones anyone may write, like /tmp). The directory is used only if it is ours and nobody else
 *    can write it or any directory above it (sticky ones like /tmp excepted). DISABLE_COMPILER_CACHE=1 skips reading
 *    the disk cache.
 *  - An entry is the compiler's output plus a 32-byte trailer (magic, length, two 64-bit hashes; see
 *    tg__cpu_trailer), checked before dlopen: a damaged one (truncated, garbage, empty) is deleted and rebuilt, said
 *    on stderr at DEBUG>=1. A new entry is compiled under a temporary name in the directory, sealed with its trailer,
 *    fsynced and renamed into place, and the directory fsynced: it appears whole or not at all, even across a crash
 *    (which may leave a KEY.XXXXXX temporary, never loaded).
 *  - When the directory is refused, or a write into it fails (full, read-only, a quota; or the compiler fails there
 *    and succeeds elsewhere), the kernel is compiled in a fresh mkdtemp directory that is removed again, and nothing
 *    is cached; after a failed write, every later compile of the process does the same (entries already there are
 *    still read). One line on stderr, once per process and at any DEBUG, says that kernels are not cached and why.
 *    A kernel that loaded is never failed by the cache: if it cannot be sealed or published, it is not cached.
 *  - Failures (no compiler, a compile error, a load error) are NULL plus tg__set_error with the compiler's output.
 *  - compile_batch (a schedule's new kernels, BEAM's candidates) runs up to $THREADS compilers at once, each into the
 *    cache directory as above, and loads the objects on the calling thread.
 *  - launch runs NAME_entry over [0, global_size): small kernels once on the calling thread, larger ones split into
 *    contiguous chunks claimed by a persistent pool of pthreads ($THREADS, default the usable cores, at most 64) and
 *    the caller: guided chunks, each 1/(2P) of what is left, so that a thread descheduled by another process delays
 *    little. Each iteration runs exactly once, and launch returns after all have finished.
 *  - At exit the workers are joined and every shared object is closed, so valgrind reports nothing.
 *  - DEBUG>=3 prints each kernel's source to stdout when it is first loaded. Nothing else prints but the two stderr
 *    lines above (kernels not cached; a damaged entry at DEBUG>=1). */
#include "internal.h"

#include <dlfcn.h>     // dlopen, dlsym, dlclose, dlerror
#include <errno.h>
#include <fcntl.h>     // open, fcntl
#include <limits.h>    // PATH_MAX
#include <pthread.h>   // the pool
#include <signal.h>    // sigset_t: workers block signals; the compiler starts with a clean mask
#include <spawn.h>     // posix_spawnp
#include <sys/stat.h>  // mkdir, lstat
#include <sys/types.h>
#include <sys/utsname.h> // uname: the architecture, in the target
#include <sys/wait.h>  // waitpid
#include <unistd.h>    // read, write, close, unlink, rmdir, sysconf, geteuid
#ifdef __linux__
#include <sched.h>     // sched_getaffinity: the cores this process may use
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TG__CPU_X86 1  /* cpuid by inline assembly: <cpuid.h> would define unprefixed functions in the user's file */
#elif defined(__linux__)
#include <sys/auxv.h>  // getauxval: the target's features
#endif

#if defined(__APPLE__)
#include <crt_externs.h>
#define TG__CPU_ENVIRON (*_NSGetEnviron())
#else
#ifdef __cplusplus
extern "C" {
#endif
extern char **environ;
#ifdef __cplusplus
}
#endif
#define TG__CPU_ENVIRON environ
#endif

#ifdef PATH_MAX
#define TG__CPU_PATH_MAX PATH_MAX
#else
#define TG__CPU_PATH_MAX 4096
#endif
/* What needs more than POSIX.1-2001 is optional, so the file also builds where _GNU_SOURCE came too late. */
#ifdef O_CLOEXEC
#define TG__CPU_CLOEXEC O_CLOEXEC
#else
#define TG__CPU_CLOEXEC 0
#endif

typedef void (*tg__cpu_entry_fn)(void **bufs, int64_t start, int64_t end);

enum {
  tg__cpu_max_threads = 64,
  tg__cpu_max_cc_args = 32,    /* words in $CC */
  tg__cpu_max_name = 128,      /* kernel name length */
  tg__cpu_excerpt = 800,       /* compiler output kept in an error message */
  tg__cpu_capture = 1 << 16    /* compiler output read before the rest is discarded */
};

/* The one place the compiler flags live (they are part of the cache key). `-x c -std=gnu11`: the source is C whatever
 * the file name, with the POSIX/GNU extensions the prelude may use. Reductions may be reassociated (so they vectorise,
 * as numpy's pairwise sums do) and multiply-adds fused: results can differ from a sequential sum in the last bits,
 * never in NaN or infinity handling (no -ffinite-math-only). */
static const char *const tg__cpu_cflags[] = {"-shared", "-fPIC", "-O2", "-march=native", "-fno-math-errno",
                                             "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math",
                                             "-ffp-contract=fast", "-x", "c", "-std=gnu11"};
/* Valgrind (3.19 at least) cannot run AVX-512, which -march=native gives on many x86 machines. Under valgrind (its
 * preload library is in LD_PRELOAD) kernels are built for the baseline ISA instead. Results are the same: -O2 without
 * -ffast-math never reorders float arithmetic, and -ffp-contract=off forbids fused multiply-adds. */
static int tg__cpu_flag_used(const char *flag) {
  if (strcmp(flag, "-march=native") != 0) return 1;
  const char *preload = getenv("LD_PRELOAD");
  return !(preload && strstr(preload, "vgpreload"));
}

/* bump when what a cache entry means changes (the entry point's signature, the trailer), to ignore old entries */
static const char tg__cpu_cache_version[] = "tinygrad.h CPU 2";

static void tg__cpu_atexit(void);
static void tg__cpu_register_atexit(void) {
  static int done;
  if (!done) done = atexit(tg__cpu_atexit) == 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// memory

static void *tg__cpu_alloc(tg__device *d, size_t nbytes) {
  (void)d;
  void *p = NULL;
  int rc = posix_memalign(&p, 64, nbytes ? nbytes : 1);
  if (rc != 0 || !p) {
    tg__set_error("CPU alloc: cannot allocate %zu bytes: %s. HINT: use smaller tensors or free some", nbytes,
                  strerror(rc ? rc : ENOMEM));
    return NULL;
  }
  return p;
}

static void tg__cpu_free(tg__device *d, void *ptr) {
  (void)d;
  free(ptr); /* posix_memalign memory goes back to free(), not TG_FREE */
}

static int tg__cpu_copy(tg__device *d, void *dst, const void *src, size_t nbytes) {
  (void)d;
  if (nbytes) memcpy(dst, src, nbytes);
  return 0;
}

static int tg__cpu_synchronize(tg__device *d) {
  (void)d;
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the program cache in memory: open addressing on the 128-bit key; programs live until exit

typedef struct tg__cpu_slot { uint64_t k0, k1; tg__program *prog; } tg__cpu_slot; /* prog NULL: empty */

static struct {
  tg__cpu_slot *slots; /* (cap) */
  int n, cap;
} tg__cpu_progs;

static tg__program *tg__cpu_progs_get(uint64_t k0, uint64_t k1) {
  if (!tg__cpu_progs.cap) return NULL;
  size_t mask = (size_t)tg__cpu_progs.cap - 1;
  for (size_t i = (size_t)k0 & mask;; i = (i + 1) & mask) {
    tg__cpu_slot *s = &tg__cpu_progs.slots[i];
    if (!s->prog) return NULL;
    if (s->k0 == k0 && s->k1 == k1) return s->prog;
  }
}

static void tg__cpu_progs_put(uint64_t k0, uint64_t k1, tg__program *p) {
  if ((tg__cpu_progs.n + 1) * 2 > tg__cpu_progs.cap) {
    tg__cpu_slot *old = tg__cpu_progs.slots;
    int oldcap = tg__cpu_progs.cap;
    tg__cpu_progs.cap = oldcap ? oldcap * 2 : 64;
    tg__cpu_progs.slots = (tg__cpu_slot *)tg__alloc(sizeof(tg__cpu_slot) * (size_t)tg__cpu_progs.cap);
    tg__cpu_progs.n = 0;
    for (int i = 0; i < oldcap; i++)
      if (old[i].prog) tg__cpu_progs_put(old[i].k0, old[i].k1, old[i].prog);
    TG_FREE(old);
  }
  size_t mask = (size_t)tg__cpu_progs.cap - 1, i = (size_t)k0 & mask;
  while (tg__cpu_progs.slots[i].prog) i = (i + 1) & mask;
  tg__cpu_progs.slots[i].k0 = k0;
  tg__cpu_progs.slots[i].k1 = k1;
  tg__cpu_progs.slots[i].prog = p;
  tg__cpu_progs.n++;
}

static void tg__cpu_progs_free(void) {
  for (int i = 0; i < tg__cpu_progs.cap; i++) {
    tg__program *p = tg__cpu_progs.slots[i].prog;
    if (!p) continue;
    if (p->handle) dlclose(p->handle);
    TG_FREE(p->name);
    TG_FREE(p);
  }
  TG_FREE(tg__cpu_progs.slots);
  memset(&tg__cpu_progs, 0, sizeof tg__cpu_progs);
}

/* Why kernels are not cached. A write into the cache directory that failed (full, read-only, a quota) sends every
 * later compile of this process to a private temporary directory; a refused directory is looked at again each time
 * (it is cheap and the environment may change). The tests read and reset this. */
static struct {
  int nowrite;   /* a write into the cache directory failed: do not try it again */
  int said;      /* the line on stderr was printed */
  char why[512]; /* the latest reason */
} tg__cpu_nocache;

/* records why kernels are not cached (for good, after a failed write) and says so once per process, at any DEBUG:
 * a silently cold cache costs a compile of every kernel on every run */
static void tg__cpu_not_caching(const char *why, int for_good) {
  snprintf(tg__cpu_nocache.why, sizeof tg__cpu_nocache.why, "%s", why);
  if (for_good) tg__cpu_nocache.nowrite = 1;
  if (tg__cpu_nocache.said) return;
  tg__cpu_nocache.said = 1;
  fprintf(stderr, "tinygrad.h: not caching compiled CPU kernels on disk: %s\n", why);
}

// ---------------------------------------------------------------------------------------------------------------------
// running the compiler

/* a descriptor >= 3 (so it can never be the child's stdin/stdout/stderr), closed on exec */
static int tg__cpu_high_cloexec(int fd) {
  if (fd < 0) return -1;
#ifdef F_DUPFD_CLOEXEC
  int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
#else
  int hi = fcntl(fd, F_DUPFD, 3);
  if (hi >= 0) fcntl(hi, F_SETFD, FD_CLOEXEC);
#endif
  close(fd);
  return hi;
}

/* 0, or -1 with errno set; the tests can fail it as a full disk would (TG__FAULT_IO) */
static int tg__cpu_write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = tg__fault(TG__FAULT_IO) ? (errno = ENOSPC, -1) : write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* replaces every occurrence of `from` in the string s by `to`, which is not longer (so s never grows) */
static void tg__cpu_replace(char *s, const char *from, const char *to) {
  size_t nf = strlen(from), nt = strlen(to);
  if (!nf || nt > nf) return;
  for (char *p = strstr(s, from); p; p = strstr(p + nt, from)) {
    memmove(p + nt, p + nf, strlen(p + nf) + 1);
    memcpy(p, to, nt);
  }
}

/* Runs argv[0] (found on PATH) with stdin from /dev/null and stdout+stderr into out (NUL-terminated, up to nout-1
 * bytes kept). Returns the exit status (0 = success), or -1 if it could not be started (errno-style code in *err),
 * or -2 if it died of a signal (number in *err). */
static int tg__cpu_run(char *const *argv, char *out, size_t nout, int *err) {
  int fds[2];
  out[0] = 0;
  *err = 0;
  if (pipe(fds) != 0) {
    *err = errno;
    return -1;
  }
  int rd = tg__cpu_high_cloexec(fds[0]), wr = tg__cpu_high_cloexec(fds[1]);
  if (rd < 0 || wr < 0) {
    *err = errno ? errno : EMFILE;
    if (rd >= 0) close(rd);
    if (wr >= 0) close(wr);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr, 1);
  posix_spawn_file_actions_adddup2(&fa, wr, 2);
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, TG__CPU_ENVIRON);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(wr);
  if (rc != 0) {
    close(rd);
    *err = rc;
    return -1;
  }
  size_t n = 0;
  char sink[4096];
  for (;;) { /* read to EOF, keeping the start: a compiler stuck on a full pipe would never exit */
    char *dst = n + 1 < nout ? out + n : sink;
    size_t room = n + 1 < nout ? nout - 1 - n : sizeof sink;
    ssize_t r = read(rd, dst, room);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (dst != sink) n += (size_t)r;
  }
  out[n] = 0;
  close(rd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno == EINTR) continue;
    *err = errno; /* ECHILD: SIGCHLD is ignored, the status is lost; the caller checks the output file */
    return 0;
  }
  if (WIFSIGNALED(status)) {
    *err = WTERMSIG(status);
    return -2;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code == 127 && !out[0]) { /* a spawn that reports exec failure through the child */
    *err = ENOENT;
    return -1;
  }
  return code;
}

/* words of $CC into argv (pointing into buf); returns the count, 0 if there are too many */
static int tg__cpu_split_cc(const char *cc, char *buf, size_t nbuf, char **argv, int max) {
  int n = 0;
  snprintf(buf, nbuf, "%s", cc);
  for (char *s = buf; *s;) {
    while (*s == ' ' || *s == '\t') *s++ = 0;
    if (!*s) break;
    if (n == max) return 0;
    argv[n++] = s;
    while (*s && *s != ' ' && *s != '\t') s++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------------
// the cache key: what a shared object is built from and for

/* What -march=native compiles for on this machine, found once: objects built for one CPU must never be loaded on
 * another with fewer features (an AVX-512 kernel is SIGILL on an AVX2 machine sharing the cache). On x86 the cpuid
 * words that decide it: the vendor; leaf 1 (family/model/stepping, feature bits; its ebx, which holds the core's APIC
 * id, is left out), leaves 7.0, 7.1 and 0x80000001 (more feature bits) and xcr0 (the register state the OS saves:
 * without it AVX is off). Elsewhere on Linux the kernel's hwcaps and /proc/cpuinfo's line of features; else only the
 * architecture's name. */
static char *tg__cpu_target_str;

#if defined(TG__CPU_X86)
static void tg__cpu_cpuid(unsigned leaf, unsigned sub, unsigned *a, unsigned *b, unsigned *c, unsigned *d) {
  __asm__ __volatile__("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
#endif

/* CPU_ISA=avx2 (or sse) on an x86 host: kernels compiled (with -march=native, plus this flag) and tiled for a smaller
 * vector set than the host's, to see on an AVX-512 machine what an AVX2 (or SSE) machine would run. NULL: the host's */
static const char *tg__cpu_isa_flag(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  const char *e = getenv("CPU_ISA");
  if (e && !strcmp(e, "avx2")) return "-mno-avx512f";
  if (e && !strcmp(e, "sse")) return "-mno-avx";
#endif
  return NULL;
}

static const char *tg__cpu_target(void) {
  if (tg__cpu_target_str) return tg__cpu_target_str;
  tg__str s;
  memset(&s, 0, sizeof s);
  struct utsname u;
  tg__str_cat(&s, uname(&u) == 0 ? u.machine : "unknown");
#if defined(TG__CPU_X86)
  static const unsigned leaves[][2] = {{1, 0}, {7, 0}, {7, 1}, {0x80000001u, 0}};
  unsigned a, b, c, d, max, ext;
  char vendor[13];
  tg__cpu_cpuid(0x80000000u, 0, &ext, &b, &c, &d);
  tg__cpu_cpuid(0, 0, &a, &b, &c, &d);
  max = a;
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  tg__str_printf(&s, " %s", vendor);
  for (int i = 0; i < TG__COUNT(leaves); i++) {
    unsigned leaf = leaves[i][0];
    if (leaf > (leaf >= 0x80000000u ? ext : max)) continue;
    tg__cpu_cpuid(leaf, leaves[i][1], &a, &b, &c, &d);
    if (leaf == 1) b = 0;
    tg__str_printf(&s, " cpuid(%x,%u)=%08x,%08x,%08x,%08x", leaf, leaves[i][1], a, b, c, d);
    if (leaf == 1 && (c & (1u << 27))) { /* OSXSAVE: xgetbv may run */
      unsigned lo, hi;
      __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      tg__str_printf(&s, " xcr0=%08x%08x", hi, lo);
    }
  }
#elif defined(__linux__)
  unsigned long hw2 = 0;
#ifdef AT_HWCAP2
  hw2 = getauxval(AT_HWCAP2);
#endif
  tg__str_printf(&s, " hwcap=%lx,%lx", getauxval(AT_HWCAP), hw2);
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[4096];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "flags", 5) != 0 && strncmp(line, "Features", 8) != 0 && strncmp(line, "isa", 3) != 0) continue;
    line[strcspn(line, "\n")] = 0;
    tg__str_printf(&s, " %s", line);
    break;
  }
  if (f) fclose(f);
#endif
  if (tg__cpu_isa_flag()) tg__str_printf(&s, " %s", tg__cpu_isa_flag()); /* part of the kernels' cache key */
  tg__cpu_target_str = tg__str_take(&s);
  return tg__cpu_target_str;
}

/* `$CC --version`, run once per distinct $CC in this process (not a kernel compile: tg_compiler_invocations() does not
 * count it). What it prints (its exit status too, unless 0) identifies the compiler, so that an upgraded compiler
 * rebuilds everything rather than loading what the old one built. */
typedef struct tg__cpu_ccid { char *cc, *id; struct tg__cpu_ccid *next; } tg__cpu_ccid;
static tg__cpu_ccid *tg__cpu_ccids;

static const char *tg__cpu_compiler_id(const char *cc) {
  for (tg__cpu_ccid *c = tg__cpu_ccids; c; c = c->next)
    if (strcmp(c->cc, cc) == 0) return c->id;
  char buf[1024], out[4096] = "";
  char *argv[tg__cpu_max_cc_args + 2];
  int n = tg__cpu_split_cc(cc, buf, sizeof buf, argv, tg__cpu_max_cc_args), code = -1, err = 0;
  if (n) {
    argv[n++] = (char *)"--version";
    argv[n] = NULL;
    code = tg__cpu_run(argv, out, sizeof out, &err);
  }
  tg__str s;
  memset(&s, 0, sizeof s);
  if (code != 0) tg__str_printf(&s, "status %d: ", code);
  tg__str_cat(&s, out);
  tg__cpu_ccid *c = (tg__cpu_ccid *)tg__alloc(sizeof *c);
  c->cc = tg__strdup(cc);
  c->id = tg__str_take(&s);
  c->next = tg__cpu_ccids;
  tg__cpu_ccids = c;
  return c->id;
}

/* The 128-bit key (two 64-bit halves) of a kernel: the file format's version, the target (tg__cpu_target(), or ""
 * when -march=native is not used), the compiler's identity (tg__cpu_compiler_id), $CC, the flags used, the kernel's
 * name and source. Strings are hashed with their NUL, so no two lists of them run together into the same bytes. */
static void tg__cpu_key(const char *target, const char *compiler, const char *cc, const char *name, const char *src,
                        uint64_t key[2]) {
  static const uint64_t seeds[2] = {0x74696e7967726164ULL, 0x2e682063707520ULL};
  const char *words[] = {tg__cpu_cache_version, target, compiler, cc, name};
  for (int k = 0; k < 2; k++) {
    uint64_t h = seeds[k];
    for (int i = 0; i < TG__COUNT(words); i++) h = tg__hash_bytes(words[i], strlen(words[i]) + 1, h);
    for (int i = 0; i < TG__COUNT(tg__cpu_cflags); i++)
      if (tg__cpu_flag_used(tg__cpu_cflags[i])) h = tg__hash_bytes(tg__cpu_cflags[i], strlen(tg__cpu_cflags[i]) + 1, h);
    key[k] = tg__hash_bytes(src, strlen(src), h);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// cache entries: the compiler's shared object, then a trailer that proves it whole

/* The trailer appended to a cached shared object (ELF loaders ignore bytes past what the headers describe), 32 bytes:
 *   0..7    the magic "tgh-so\1\n" (its \1 is the trailer's version)
 *   8..15   the payload's length (the bytes before the trailer), little-endian
 *   16..31  two 64-bit hashes of the payload (tg__hash_bytes with two seeds), little-endian
 * Only a file whose last 32 bytes are the trailer of what precedes them reaches dlopen, which would die of SIGBUS on
 * a truncated object (it maps past the end of the file) and may run a damaged one. */
enum { tg__cpu_trailer_size = 32, tg__cpu_max_object = 1 << 26 /* larger: damaged */ };
static const unsigned char tg__cpu_magic[8] = {'t', 'g', 'h', '-', 's', 'o', 1, '\n'};

static void tg__cpu_trailer(const unsigned char *payload, size_t n, unsigned char out[tg__cpu_trailer_size]) {
  uint64_t w[3] = {(uint64_t)n, tg__hash_bytes(payload, n, 0x5452414931ULL),
                   tg__hash_bytes(payload, n, 0x4c45523232ULL)};
  memcpy(out, tg__cpu_magic, 8);
  for (int i = 0; i < 3; i++)
    for (int b = 0; b < 8; b++) out[8 + 8 * i + b] = (unsigned char)(w[i] >> (8 * b));
}

/* the whole of a regular file (with tg__alloc; its length in *n), or NULL with errno set */
static unsigned char *tg__cpu_read_file(const char *path, size_t *n) {
  struct stat st;
  int fd = open(path, O_RDONLY | TG__CPU_CLOEXEC);
  if (fd < 0) return NULL;
  int bad = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : st.st_size > tg__cpu_max_object ? EFBIG : 0;
  if (bad) {
    close(fd);
    errno = bad;
    return NULL;
  }
  unsigned char *p = (unsigned char *)tg__alloc((size_t)st.st_size);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* shorter than fstat said: what was read is what the file is */
    got += (size_t)r;
  }
  close(fd);
  *n = got;
  return p;
}

/* 0 if the file at path is a whole cache entry, else -1 with the reason in why */
static int tg__cpu_verify(const char *path, char *why, size_t nwhy) {
  size_t n = 0;
  unsigned char *p = tg__cpu_read_file(path, &n), want[tg__cpu_trailer_size];
  if (!p) {
    snprintf(why, nwhy, "cannot read it: %s", strerror(errno));
    return -1;
  }
  const size_t t = tg__cpu_trailer_size;
  if (n >= t) tg__cpu_trailer(p, n - t, want);
  if (n < t) snprintf(why, nwhy, "it has %zu bytes, too few for a trailer", n);
  else if (memcmp(p + n - t, tg__cpu_magic, sizeof tg__cpu_magic) != 0) snprintf(why, nwhy, "it has no trailer");
  else if (memcmp(p + n - t, want, 16) != 0) snprintf(why, nwhy, "its length differs from its trailer's");
  else if (memcmp(p + n - t, want, t) != 0) snprintf(why, nwhy, "its checksum differs from its trailer's");
  int ok = n >= t && memcmp(p + n - t, want, t) == 0;
  TG_FREE(p);
  return ok ? 0 : -1;
}

/* appends the trailer to the compiler's output at path; 0, or -1 with errno set */
static int tg__cpu_seal(const char *path) {
  size_t n = 0;
  unsigned char *p = tg__cpu_read_file(path, &n), t[tg__cpu_trailer_size];
  if (!p) return -1;
  tg__cpu_trailer(p, n, t);
  TG_FREE(p);
  int fd = open(path, O_WRONLY | O_APPEND | TG__CPU_CLOEXEC);
  int rc = fd < 0 ? -1 : tg__cpu_write_all(fd, (const char *)t, sizeof t), err = errno;
  if (fd >= 0 && close(fd) != 0 && rc == 0) {
    rc = -1;
    err = errno;
  }
  errno = err;
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// compile: source -> shared object -> program

/* loads a shared object and finds NAME_entry; on failure, err holds why */
static void *tg__cpu_load(const char *path, const char *name, tg__cpu_entry_fn *entry, char *err, size_t nerr) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(err, nerr, "cannot load the compiled kernel %s: %s", name, e ? e : "unknown error");
    return NULL;
  }
  char sym[tg__cpu_max_name + 8];
  snprintf(sym, sizeof sym, "%s_entry", name);
  dlerror();
  void *fn = dlsym(h, sym);
  if (!fn) {
    const char *e = dlerror();
    snprintf(err, nerr, "kernel %s has no entry point %s: %s. HINT: the source must define void %s(void **bufs, "
             "int64_t start, int64_t end)", name, sym, e ? e : "NULL symbol", sym);
    dlclose(h);
    return NULL;
  }
  memcpy(entry, &fn, sizeof *entry); /* object pointer -> function pointer, as POSIX allows */
  return h;
}

static tg__program *tg__cpu_program(tg__device *d, const char *name, void *handle, tg__cpu_entry_fn entry) {
  tg__program *p = (tg__program *)tg__alloc(sizeof *p);
  p->dev = d;
  p->name = tg__strdup(name);
  p->handle = handle;
  p->entry = entry;
  p->global_size = 1;
  return p;
}

/* Runs $CC on the source at cpath, writing the shared object at sopath. 0; or -1 if the compiler could not be run, or
 * 1 if it failed; either way the message is in err. Safe on any thread (the caller counts the compile). */
static int tg__cpu_cc(const char *cc, const char *name, const char *cpath, const char *sopath, char *err, size_t nerr) {
  char ccbuf[1024];
  char *argv[tg__cpu_max_cc_args + TG__COUNT(tg__cpu_cflags) + 8];
  const char *cc_env = getenv("CC");
  int argc = tg__cpu_split_cc(cc, ccbuf, sizeof ccbuf, argv, tg__cpu_max_cc_args);
  if (argc == 0) {
    snprintf(err, nerr, "CPU compile: CC='%.200s' has no words or more than %d. HINT: set CC to a compiler, e.g. "
             "CC=cc", cc, tg__cpu_max_cc_args);
    return -1;
  }
  for (int i = 0; i < TG__COUNT(tg__cpu_cflags); i++)
    if (tg__cpu_flag_used(tg__cpu_cflags[i])) argv[argc++] = (char *)tg__cpu_cflags[i];
  if (tg__cpu_isa_flag() && tg__cpu_flag_used("-march=native")) argv[argc++] = (char *)tg__cpu_isa_flag();
  argv[argc++] = (char *)"-o";
  argv[argc++] = (char *)sopath;
  argv[argc++] = (char *)cpath;
  argv[argc++] = (char *)"-lm";
  argv[argc] = NULL;

  char *out = (char *)tg__alloc(tg__cpu_capture);
  int why = 0, code = tg__cpu_run(argv, out, tg__cpu_capture, &why);
  if (code == 0 && why == ECHILD && access(sopath, F_OK) != 0) code = 1; /* status lost: judge by the output */
  if (code == -1) {
    snprintf(err, nerr, "CPU compile: cannot run the C compiler '%.200s' (%s): %s. HINT: install a C compiler or set "
             "CC", argv[0], cc_env && cc_env[0] ? "from CC" : "the default", strerror(why));
  } else if (code != 0) {
    char shown[tg__cpu_max_name + 8];
    snprintf(shown, sizeof shown, "%s.c", name);
    tg__cpu_replace(out, cpath, shown); /* the temporary path says nothing and eats the excerpt */
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = 0;
    if (code == -2) snprintf(out, tg__cpu_capture, "the compiler '%.200s' was killed by signal %d", argv[0], why);
    else if (!n) snprintf(out, tg__cpu_capture, "the compiler '%.200s' exited with status %d", argv[0], code);
    snprintf(err, nerr, "CPU compile of kernel %s failed: %.*s\nHINT: DEBUG=3 prints the kernel source", name,
             (int)tg__cpu_excerpt, out);
  }
  TG_FREE(out);
  return code == -1 ? -1 : code != 0;
}

/* Compiles src in dir and loads it. Without final (dir is a private temporary) every failure is an error. With final
 * (dir is the cache directory) the object gets its trailer and is published at final, whole or not at all; and
 * what fails there may be the directory's fault (full, read-only, a quota): when creating or writing the source
 * fails, or the compile does (the compiler may have been unable to write its output), it returns NULL with the
 * reason in why and records no error, for the caller to try a private directory; when the object loads but cannot be
 * sealed or published, it returns the program with the reason in why (the kernel is just not cached). */
static tg__program *tg__cpu_build(tg__device *d, const char *name, const char *src, const char *cc, const char *dir,
                                  const char *key, const char *final, char *why, size_t nwhy) {
  char cpath[TG__CPU_PATH_MAX], sopath[TG__CPU_PATH_MAX], err[2048];
  int fd = -1, rc = -1, dir_fault = 1;
  if (snprintf(cpath, sizeof cpath, "%s/%s.XXXXXX", dir, key) < (int)sizeof cpath - 4)
    fd = tg__fault(TG__FAULT_IO) ? (errno = EROFS, -1) : mkstemp(cpath); /* the tests' read-only directory */
  if (fd < 0) {
    snprintf(err, sizeof err, "CPU compile: cannot create a source file in %.300s: %s", dir, strerror(errno));
  } else {
    int wrc = tg__cpu_write_all(fd, src, strlen(src)), werr = errno;
    if (close(fd) != 0 && wrc == 0) {
      wrc = -1;
      werr = errno;
    }
    snprintf(sopath, sizeof sopath, "%.*s.so", (int)(sizeof sopath - 4), cpath); /* fits: checked above */
    if (wrc != 0) snprintf(err, sizeof err, "CPU compile: cannot write %.300s: %s", cpath, strerror(werr));
    else rc = tg__cpu_cc(cc, name, cpath, sopath, err, sizeof err);
    if (rc >= 0) tg__stat_compiles(1);
    dir_fault = rc == 1 || wrc != 0;
    unlink(cpath);
  }
  if (rc != 0) {
    if (fd >= 0) unlink(sopath);
    if (final && dir_fault) /* the first line of err, after the directory when the compiler failed there */
      snprintf(why, nwhy, "%.200s%s%.*s", rc == 1 ? dir : "", rc == 1 ? ": " : "", (int)strcspn(err, "\n"), err);
    else tg__set_error("%s", err);
    return NULL;
  }
  int sealed = final && tg__cpu_seal(sopath) == 0; /* before the load, so a sealed object is what dlopen sees */
  if (final && !sealed) snprintf(why, nwhy, "cannot write %.300s: %s", sopath, strerror(errno));
  tg__cpu_entry_fn entry = NULL;
  void *h = tg__cpu_load(sopath, name, &entry, err, sizeof err);
  if (!h) {
    unlink(sopath);
    if (why) why[0] = 0; /* an error of the kernel's, whatever the directory did */
    tg__set_error("CPU compile: %s", err);
    return NULL;
  }
  if (!sealed) unlink(sopath);
  else if (tg__file_publish(NULL, sopath, final) != 0) /* it removes sopath */
    snprintf(why, nwhy, "cannot publish %.300s: %s", final, strerror(errno));
  return tg__cpu_program(d, name, h, entry);
}

/* the fallback: a compile in a fresh private directory (mkdtemp), removed again; nothing is cached */
static tg__program *tg__cpu_build_private(tg__device *d, const char *name, const char *src, const char *cc,
                                          const char *key, const char *why) {
  char dir[TG__CPU_PATH_MAX];
  const char *tmp = getenv("TMPDIR");
  int w = snprintf(dir, sizeof dir, "%s/tinygrad.h-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
  if (w < 0 || (size_t)w + 64 >= sizeof dir || !mkdtemp(dir)) {
    tg__set_error("CPU compile: cannot create a private temporary directory (%s) as the cache directory cannot be "
                  "used (%s). HINT: set TINYGRAD_CACHE to a directory only you can write", strerror(errno), why);
    return NULL;
  }
  tg__program *p = tg__cpu_build(d, name, src, cc, dir, key, NULL, NULL, 0);
  rmdir(dir);
  return p;
}

/* The cached object at path, verified, then loaded; NULL if there is none. One that is damaged (or will not load) is
 * deleted, for the caller to rebuild. */
static tg__program *tg__cpu_cached(tg__device *d, const char *name, const char *path) {
  char why[1024];
  if (access(path, F_OK) != 0) return NULL;
  if (tg__cpu_verify(path, why, sizeof why) == 0) {
    tg__cpu_entry_fn entry = NULL;
    void *h = tg__cpu_load(path, name, &entry, why, sizeof why);
    if (h) return tg__cpu_program(d, name, h, entry);
  }
  if (TG__DEBUG >= 1) fprintf(stderr, "tinygrad.h: the cached kernel %s is damaged (%s): rebuilding it\n", path, why);
  unlink(path);
  return NULL;
}

static tg__program *tg__cpu_compile(tg__device *d, const char *name, const char *src) {
  if (!name || !src) {
    tg__set_error("CPU compile: NULL kernel name or source");
    return NULL;
  }
  size_t nlen = strlen(name);
  int ok = nlen > 0 && nlen <= tg__cpu_max_name && !(name[0] >= '0' && name[0] <= '9');
  for (size_t i = 0; i < nlen && ok; i++) {
    char c = name[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (!ok) {
    tg__set_error("CPU compile: kernel name '%.200s' is not a C identifier of at most %d characters", name,
                  (int)tg__cpu_max_name);
    return NULL;
  }
  const char *cc = getenv("CC");
  if (!cc || !cc[0]) cc = "cc";
  tg__cpu_register_atexit();
  uint64_t k[2];
  tg__cpu_key(tg__cpu_flag_used("-march=native") ? tg__cpu_target() : "", tg__cpu_compiler_id(cc), cc, name, src, k);
  tg__program *p = tg__cpu_progs_get(k[0], k[1]);
  if (p) return p;

  char key[33], dir[TG__CPU_PATH_MAX], final[TG__CPU_PATH_MAX], why[512] = "";
  snprintf(key, sizeof key, "%016llx%016llx", (unsigned long long)k[0], (unsigned long long)k[1]);
  if (TG__DEBUG >= 3) printf("%s\n", src);
  const char *disable = getenv("DISABLE_COMPILER_CACHE");
  int refused = tg__cache_dir(dir, sizeof dir, why, sizeof why) != 0, dir_failed = 0;
  if (refused) {
    tg__cpu_not_caching(why, 0);
  } else {
    int w = snprintf(final, sizeof final, "%s/%s.so", dir, key); /* fits: tg__cpu_cache_dir left room */
    if (w > 0 && w < (int)sizeof final && !(disable && atoi(disable) != 0)) p = tg__cpu_cached(d, name, final);
    if (!p && tg__cpu_nocache.nowrite) {
      refused = 1;
      snprintf(why, sizeof why, "%s", tg__cpu_nocache.why);
    } else if (!p) {
      p = tg__cpu_build(d, name, src, cc, dir, key, final, why, sizeof why);
      if (p && why[0]) tg__cpu_not_caching(why, 1); /* loaded, but not cached */
      dir_failed = !p && why[0];
    }
  }
  if (refused || dir_failed) {
    p = tg__cpu_build_private(d, name, src, cc, key, why);
    if (p && dir_failed) tg__cpu_not_caching(why, 1); /* it builds elsewhere: the cache directory was at fault */
  }
  if (p) tg__cpu_progs_put(k[0], k[1], p);
  return p;
}

/* BEAM's candidates (compile_batch): the ones in neither cache are compiled in parallel, a compiler per core, each
 * into the cache directory as tg__cpu_build would (sealed, then published whole), and loaded here one by one. A
 * kernel the compiler rejects is NULL with the compiler's message; any other failure (a write, the seal), and every
 * kernel when the cache directory cannot be used, goes through tg__cpu_compile, which reports and falls back as it
 * always does. */
static int tg__cpu_nthreads(void);

typedef struct tg__cpu_job {
  const char *cc, *name, *src, *dir;
  uint64_t k[2];    /* the program cache's key */
  char key[33], final[TG__CPU_PATH_MAX];
  int compiled, ok; /* the compiler ran; the object is published at final */
  char err[1024];   /* when it ran and failed: what it said */
} tg__cpu_job;

typedef struct tg__cpu_jobs {
  pthread_mutex_t mu;
  tg__cpu_job *job;
  int n, next;
} tg__cpu_jobs;

/* what tg__cpu_build does with a cache directory, but for any thread: no error, no counter, no load */
static void tg__cpu_job_run(tg__cpu_job *j) {
  char cpath[TG__CPU_PATH_MAX], sopath[TG__CPU_PATH_MAX];
  if (snprintf(cpath, sizeof cpath, "%s/%s.XXXXXX", j->dir, j->key) >= (int)sizeof cpath - 4) return;
  int fd = mkstemp(cpath);
  if (fd < 0) return;
  int wrc = tg__cpu_write_all(fd, j->src, strlen(j->src));
  if (close(fd) != 0) wrc = -1;
  snprintf(sopath, sizeof sopath, "%.*s.so", (int)(sizeof sopath - 4), cpath);
  int rc = wrc == 0 ? tg__cpu_cc(j->cc, j->name, cpath, sopath, j->err, sizeof j->err) : -1;
  j->compiled = rc >= 0;
  if (rc != 1) j->err[0] = 0;
  unlink(cpath);
  if (rc == 0 && tg__cpu_seal(sopath) == 0 && tg__file_publish(NULL, sopath, j->final) == 0) j->ok = 1;
  else unlink(sopath);
}

static void *tg__cpu_job_thread(void *arg) {
  tg__cpu_jobs *J = (tg__cpu_jobs *)arg;
  for (;;) {
    pthread_mutex_lock(&J->mu);
    int i = J->next++;
    pthread_mutex_unlock(&J->mu);
    if (i >= J->n) return NULL;
    tg__cpu_job_run(&J->job[i]);
  }
}

static void tg__cpu_compile_batch(tg__device *d, int n, const char *const *names, const char *const *srcs,
                                  tg__program **out) {
  const char *cc = getenv("CC");
  if (!cc || !cc[0]) cc = "cc";
  tg__cpu_register_atexit();
  const char *target = tg__cpu_flag_used("-march=native") ? tg__cpu_target() : "", *id = tg__cpu_compiler_id(cc);
  char dir[TG__CPU_PATH_MAX - 64], why[512]; /* room for "/<key>.so" in a job's path */
  const char *disable = getenv("DISABLE_COMPILER_CACHE");
  int usable = tg__cache_dir(dir, sizeof dir, why, sizeof why) == 0 && !tg__cpu_nocache.nowrite &&
               !(disable && atoi(disable) != 0);
  tg__cpu_jobs J;
  memset(&J, 0, sizeof J);
  J.job = (tg__cpu_job *)tg__alloc(sizeof(tg__cpu_job) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    out[i] = NULL;
    uint64_t k[2];
    tg__cpu_key(target, id, cc, names[i], srcs[i], k);
    if ((out[i] = tg__cpu_progs_get(k[0], k[1])) || !usable) continue;
    if (TG__DEBUG >= 3) printf("%s\n", srcs[i]); /* as tg__cpu_compile prints a kernel it has not loaded */
    tg__cpu_job *j = &J.job[J.n];
    snprintf(j->key, sizeof j->key, "%016llx%016llx", (unsigned long long)k[0], (unsigned long long)k[1]);
    snprintf(j->final, sizeof j->final, "%s/%s.so", dir, j->key);
    if ((out[i] = tg__cpu_cached(d, names[i], j->final))) {
      tg__cpu_progs_put(k[0], k[1], out[i]);
      continue;
    }
    j->cc = cc, j->name = names[i], j->src = srcs[i], j->dir = dir;
    j->k[0] = k[0], j->k[1] = k[1];
    J.n++;
  }
  pthread_t tid[tg__cpu_max_threads];
  int nt = 0, want = tg__cpu_nthreads() - 1;
  if (J.n > 1 && pthread_mutex_init(&J.mu, NULL) == 0) {
    for (; nt < want && nt < J.n - 1; nt++)
      if (pthread_create(&tid[nt], NULL, tg__cpu_job_thread, &J) != 0) break;
    tg__cpu_job_thread(&J); /* the caller compiles too */
    for (int i = 0; i < nt; i++) pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&J.mu);
  } else {
    for (int i = 0; i < J.n; i++) tg__cpu_job_run(&J.job[i]);
  }
  for (int i = 0, j = 0; i < n; i++) {
    if (out[i]) continue;
    tg__cpu_job *job = usable && j < J.n ? &J.job[j++] : NULL;
    if (job && job->compiled) tg__stat_compiles(1);
    if (job && job->ok && (out[i] = tg__cpu_cached(d, names[i], job->final))) {
      tg__cpu_progs_put(job->k[0], job->k[1], out[i]);
    } else if (job && job->err[0]) {
      tg__set_error("%s", job->err); /* the compiler's own complaint: the source is at fault, not the directory */
    } else {
      out[i] = tg__cpu_compile(d, names[i], srcs[i]); /* the usual path: its errors, its fallbacks */
    }
  }
  TG_FREE(J.job);
}

// ---------------------------------------------------------------------------------------------------------------------
// the thread pool. A job is the outermost loop [0, total) of a kernel. Its iterations are claimed in guided chunks:
// each claim takes 1/(2P) of what is left (P threads), at least 1/(8P) of the whole, so the first chunks are large and
// contiguous and the last small: a thread the OS descheduled (another process busy on its core) holds up only a
// small chunk while the others take the rest. A claim is one compare-and-swap on `word`, the job's generation (high
// 24 bits) and its next unclaimed iteration (low 40): a claim from a job that has ended fails, even if the new one's
// next iteration is the same number. Workers that finish a job spin for a moment (TG__CPU_SPIN_NS) watching for the
// next, then sleep on `work`: back-to-back kernels (a JIT replay) find them awake, and an idle library burns nothing.
// tg__cpu_wake (at the start of a schedule or a replay) wakes sleepers so that they spin while the kernels are
// prepared: asleep, a 16-core host's workers took so long to wake that a 0.1 ms copy ran 0.7 ms, mostly on the
// calling thread. The caller claims chunks too, then waits for `done` to reach the total (spinning, then yielding).
// Launches are serialised by tg__cpu_launch_mu; the job's fields are atomics, published before its generation.

#define TG__CPU_NEXT_BITS 40
#define TG__CPU_NEXT_MASK ((1ULL << TG__CPU_NEXT_BITS) - 1)
#define TG__CPU_SPIN_NS 200000 /* a worker's watch for the next job before it sleeps */

static pthread_mutex_t tg__cpu_mu = PTHREAD_MUTEX_INITIALIZER; /* sleeping, waking, starting and stopping */
static pthread_mutex_t tg__cpu_launch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tg__cpu_work = PTHREAD_COND_INITIALIZER;

static struct {
  pthread_t tid[tg__cpu_max_threads];
  int nworkers;  /* threads started, the caller not included */
  int started;
  pid_t pid;     /* the process that started them (a forked child has none) */
  int shutdown;  /* atomic */
  int sleepers;  /* atomic: workers asleep (or deciding to sleep) on `work` */
  uint64_t wake; /* atomic: bumped by tg__cpu_wake; a sleeper wakes to spin */
  uint64_t word; /* atomic: generation << 40 | next unclaimed iteration of the current job */
  int64_t done;  /* atomic: iterations of the current job finished */
  /* the current job (atomics, relaxed: published by the release of `word`) */
  tg__program *prog;
  void **bufs;
  int64_t total, grain, least; /* a claim takes (total - next) / grain iterations, at least `least` */
} tg__cpu_pool;

#define TG__CPU_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TG__CPU_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static void tg__cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* claims and runs chunks of job g until none is left (or g has ended) */
static void tg__cpu_run_chunks(uint64_t g) {
  for (;;) {
    uint64_t w = __atomic_load_n(&tg__cpu_pool.word, __ATOMIC_ACQUIRE);
    if ((w >> TG__CPU_NEXT_BITS) != g) return;
    int64_t next = (int64_t)(w & TG__CPU_NEXT_MASK), left = TG__CPU_LOAD(tg__cpu_pool.total) - next;
    if (left <= 0) return;
    int64_t len = left / TG__CPU_LOAD(tg__cpu_pool.grain), least = TG__CPU_LOAD(tg__cpu_pool.least);
    if (len < least) len = least;
    if (len > left) len = left;
    if (!__atomic_compare_exchange_n(&tg__cpu_pool.word, &w, w + (uint64_t)len, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
      continue;
    /* the job cannot end before this chunk is done, so its fields are still this job's */
    TG__CPU_LOAD(tg__cpu_pool.prog)->entry(TG__CPU_LOAD(tg__cpu_pool.bufs), next, next + len);
    __atomic_fetch_add(&tg__cpu_pool.done, len, __ATOMIC_RELEASE);
  }
}

/* a worker's wait for a job after `seen`: spins, then sleeps; 0 with *g set, or -1 at shutdown */
static int tg__cpu_wait_job(uint64_t seen, uint64_t *g) {
  for (;;) {
    uint64_t t0 = tg__now_ns();
    for (int i = 1;; i++) {
      if (__atomic_load_n(&tg__cpu_pool.shutdown, __ATOMIC_ACQUIRE)) return -1;
      *g = __atomic_load_n(&tg__cpu_pool.word, __ATOMIC_ACQUIRE) >> TG__CPU_NEXT_BITS;
      if (*g != seen) return 0;
      tg__cpu_pause();
      if (i % 64 == 0 && tg__now_ns() - t0 > TG__CPU_SPIN_NS) break;
    }
    /* asleep until a job, a wake or the shutdown; `sleepers` and `word` are both seq_cst, so a launch either sees
     * this sleeper (and broadcasts under the mutex, which this thread holds until it waits) or publishes its job
     * before this thread looks */
    pthread_mutex_lock(&tg__cpu_mu);
    __atomic_fetch_add(&tg__cpu_pool.sleepers, 1, __ATOMIC_SEQ_CST);
    uint64_t wake = __atomic_load_n(&tg__cpu_pool.wake, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&tg__cpu_pool.shutdown, __ATOMIC_SEQ_CST) &&
           (*g = __atomic_load_n(&tg__cpu_pool.word, __ATOMIC_SEQ_CST) >> TG__CPU_NEXT_BITS) == seen &&
           __atomic_load_n(&tg__cpu_pool.wake, __ATOMIC_SEQ_CST) == wake)
      pthread_cond_wait(&tg__cpu_work, &tg__cpu_mu);
    __atomic_fetch_sub(&tg__cpu_pool.sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&tg__cpu_mu);
    if (__atomic_load_n(&tg__cpu_pool.shutdown, __ATOMIC_ACQUIRE)) return -1;
    if (*g != seen) return 0; /* else woken early: spin again, for the job on its way */
  }
}

static void *tg__cpu_worker(void *arg) {
  (void)arg;
  uint64_t seen = __atomic_load_n(&tg__cpu_pool.word, __ATOMIC_ACQUIRE) >> TG__CPU_NEXT_BITS, g;
  while (tg__cpu_wait_job(seen, &g) == 0) {
    seen = g;
    tg__cpu_run_chunks(g);
  }
  return NULL;
}

/* wakes sleeping workers, which then spin for a moment: kernels are about to launch */
static void tg__cpu_wake(tg__device *d) {
  (void)d;
  if (!__atomic_load_n(&tg__cpu_pool.sleepers, __ATOMIC_SEQ_CST)) return;
  pthread_mutex_lock(&tg__cpu_mu);
  __atomic_fetch_add(&tg__cpu_pool.wake, 1, __ATOMIC_SEQ_CST);
  pthread_cond_broadcast(&tg__cpu_work);
  pthread_mutex_unlock(&tg__cpu_mu);
}

/* THREADS, else the cores this process may run on; 1..64 */
static int tg__cpu_nthreads(void) {
  int n = tg__getenv_int("THREADS", 0);
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) c = CPU_COUNT(&set);
#endif
    n = c <= 0 ? 1 : c < (long)tg__cpu_max_threads ? (int)c : (int)tg__cpu_max_threads;
  }
  return n < tg__cpu_max_threads ? n : tg__cpu_max_threads;
}

/* starts the workers once; returns how many run (0: run serially) */
static int tg__cpu_pool_start(void) {
  if (tg__cpu_pool.started) return tg__cpu_pool.nworkers;
  tg__cpu_register_atexit();
  tg__cpu_pool.started = 1;
  tg__cpu_pool.pid = getpid();
  int want = tg__cpu_nthreads() - 1;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the user's threads, never to a worker */
  for (int i = 0; i < want; i++) {
    if (pthread_create(&tg__cpu_pool.tid[i], NULL, tg__cpu_worker, NULL) != 0) break; /* run with what we have */
    tg__cpu_pool.nworkers++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return tg__cpu_pool.nworkers;
}

static void tg__cpu_pool_stop(void) {
  if (!tg__cpu_pool.started) return;
  pthread_mutex_lock(&tg__cpu_mu);
  __atomic_store_n(&tg__cpu_pool.shutdown, 1, __ATOMIC_SEQ_CST);
  pthread_cond_broadcast(&tg__cpu_work);
  pthread_mutex_unlock(&tg__cpu_mu);
  if (tg__cpu_pool.pid == getpid())
    for (int i = 0; i < tg__cpu_pool.nworkers; i++) pthread_join(tg__cpu_pool.tid[i], NULL);
  tg__cpu_pool.nworkers = 0; /* a launch after this (from a later atexit handler) runs serially */
}

static int tg__cpu_launch(tg__program *p, void **bufs, int nbufs) {
  (void)nbufs;
  if (!p || !p->entry) {
    tg__set_error("CPU launch: no program (was the kernel compiled on the CPU?)");
    return -1;
  }
  int64_t gs = p->global_size;
  if (gs < 0) {
    tg__set_error("CPU launch of kernel %s: negative global size %lld", p->name, (long long)gs);
    return -1;
  }
  tg__stat_launches(1);
  double work = p->flops + p->bytes;
  if (work <= 0) work = (double)gs * 64; /* no estimate: assume a little work per iteration */
  int nworkers = gs > 1 && work >= (double)(1 << 16) ? tg__cpu_pool_start() : 0;
  if (nworkers && tg__cpu_pool.pid != getpid()) nworkers = 0; /* a forked child: the workers stayed in the parent */
  if (nworkers == 0 || gs <= 1) {
    p->entry(bufs, 0, gs);
    return 0;
  }
  int64_t threads = nworkers + 1;
  pthread_mutex_lock(&tg__cpu_launch_mu);
  uint64_t g = ((__atomic_load_n(&tg__cpu_pool.word, __ATOMIC_RELAXED) >> TG__CPU_NEXT_BITS) + 1) & 0xffffff;
  TG__CPU_STORE(tg__cpu_pool.prog, p);
  TG__CPU_STORE(tg__cpu_pool.bufs, bufs);
  TG__CPU_STORE(tg__cpu_pool.total, gs);
  TG__CPU_STORE(tg__cpu_pool.grain, 2 * threads);
  TG__CPU_STORE(tg__cpu_pool.least, gs / (8 * threads) > 1 ? gs / (8 * threads) : 1);
  TG__CPU_STORE(tg__cpu_pool.done, 0);
  __atomic_store_n(&tg__cpu_pool.word, g << TG__CPU_NEXT_BITS, __ATOMIC_SEQ_CST); /* publishes the job */
  if (__atomic_load_n(&tg__cpu_pool.sleepers, __ATOMIC_SEQ_CST)) {
    pthread_mutex_lock(&tg__cpu_mu);
    pthread_cond_broadcast(&tg__cpu_work);
    pthread_mutex_unlock(&tg__cpu_mu);
  }
  tg__cpu_run_chunks(g); /* the caller works too, and takes every chunk if the workers are slow to wake */
  for (int i = 0; __atomic_load_n(&tg__cpu_pool.done, __ATOMIC_ACQUIRE) < gs; i++) {
    if (i < 4096) tg__cpu_pause(); /* the last chunks are short */
    else sched_yield();            /* a worker the OS descheduled holds one: let it run */
  }
  pthread_mutex_unlock(&tg__cpu_launch_mu);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// exit, and the device

static void tg__cpu_atexit(void) {
  tg__cpu_pool_stop();
  tg__cpu_progs_free();
  while (tg__cpu_ccids) {
    tg__cpu_ccid *c = tg__cpu_ccids;
    tg__cpu_ccids = c->next;
    TG_FREE(c->cc);
    TG_FREE(c->id);
    TG_FREE(c);
  }
  TG_FREE(tg__cpu_target_str);
  tg__cpu_target_str = NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// the C dialect: what the renderer (render.c) writes for this device

/* GCC: no reassociation of expressions (-fassociative-math still lets reductions vectorise), so one expression has
 * one value in every kernel that computes it. A max pool's gradient compares its input, recomputed in the backward
 * kernel, with the pooled values the forward kernel stored: GCC had rewritten batchnorm's (t * gamma) * rsqrt(var) as
 * t * (gamma * rsqrt(var)), hoisting the invariant product, in one kernel and not in the other, no element equaled its
 * window's max, and BEAM=2's MNIST step made NaN weights. (GCC 13 also reassociated a register tile's accumulators
 * and products across its copies, so that SLP found no two alike and a conv gradient ran all scalar.) Pragmas, not
 * flags, so that either compiler takes them; clang's turns reassociation off altogether (its reductions then
 * vectorise only through the Opts' accumulators).
 * GCC: the "cheap" cost model of the vectoriser, not -O2's "very cheap", which refuses any loop whose trip count it
 * cannot see to be a multiple of the vector (a kernel's loop over its thread's share, start to end): the random
 * numbers' kernel, which no Opt tiles, ran scalar at 10.6 ms for a million floats on 2 cores (AVX-512), and
 * 2.8-4.9 ms vectorised. */
static const char tg__c_prelude[] =
    "#if defined(__clang__)\n"
    "#pragma clang fp reassociate(off)\n"
    "#elif defined(__GNUC__)\n"
    "#pragma GCC optimize(\"no-tree-reassoc\", \"vect-cost-model=cheap\")\n"
    "#endif\n"
    "#include <math.h>\n"
    "typedef long long i64;\n"
    "#define TG_FN static inline\n"
    "TG_FN unsigned int tg_f2u(float f) { unsigned int u; __builtin_memcpy(&u, &f, 4); return u; }\n"
    "TG_FN float tg_u2f(unsigned int u) { float f; __builtin_memcpy(&f, &u, 4); return f; }\n"
    /* staged stores (render.c): what precedes the fence is in the array, and what follows reads it from memory */
    "#if defined(__GNUC__)\n"
    "#define TG_FENCE(p) __asm__ volatile(\"\" : : \"r\"(p) : \"memory\")\n"
    "#else\n"
    "#define TG_FENCE(p) ((void)(p))\n"
    "#endif\n"
    /* a read of the cache line at p ahead of time (render.c's tg__find_prefetch), nothing where it is unknown */
    "#if defined(__GNUC__)\n"
    "#define TG_PREFETCH(p) __builtin_prefetch(p)\n"
    "#else\n"
    "#define TG_PREFETCH(p) ((void)(p))\n"
    "#endif\n";

static const char *const tg__c_mem_types[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "unsigned short", "unsigned short", NULL, NULL};

TG__DATA const tg__dialect tg__dialect_c = {
    /* name, prelude, kernel_prefix, buffer_prefix, buffer_qualifier, extra_params, has_entry_wrapper */
    "C", tg__c_prelude, "static ", "", "restrict", NULL, 1,
    /* global_id, float_suffix, bitcast, int64_suffix, uint64_suffix */
    NULL, 1, "({%u _v = %s; %m _r; __builtin_memcpy(&_r, &_v, sizeof _r); _r;})", "ll", "ull",
    /* types, mem_types, preludes, load_fmt, store_fmt, unsupported */
    NULL, tg__c_mem_types, tg__half_preludes, tg__half_loads, tg__half_stores, 0,
    /* tile_prelude */
    "#if defined(__GNUC__) && !defined(__clang__)\n"
    "#pragma GCC optimize(\"no-tree-loop-vectorize\")\n"
    "#endif\n",
    /* stage_strided_stores, forms, nforms */
    1, NULL, 0,
    /* group_id, local_id, shared_prefix, barrier: no workgroups; vec4_load, vec4_store: the compiler vectorises;
     * wmma, wmma_prelude, wmma_word, wmma_vec, wmma_vec_load, wmma_vec_store, ldmatrix, async_copy, async_wait,
     * async_wait_group: no tensor cores; dynamic_shared: no shared memory; wgmma, wgmma_reg, wgmma_acc, wgmma_desc,
     * wgmma_fence, wgmma_commit, proxy_fence, wgmma_prelude: no warpgroups */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    /* vectors, prefetch */
    1, "TG_PREFETCH(%s)"};

/* one core's level-2 cache in bytes, from Linux's sysfs ("2048K"), else 1 MiB. Index 2 is the level-2 cache on x86
 * and on ARM alike (0 and 1 are level 1's data and instruction caches); its level file says so. */
static int64_t tg__cpu_l2_bytes(void) {
  int64_t bytes = 1 << 20;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index2/level", "r");
  int level = 0;
  if (f) {
    if (fscanf(f, "%d", &level) != 1) level = 0;
    fclose(f);
  }
  if (level == 2 && (f = fopen("/sys/devices/system/cpu/cpu0/cache/index2/size", "r"))) {
    long long v = 0;
    char unit = 0;
    int got = fscanf(f, "%lld%c", &v, &unit);
    fclose(f);
    if (got >= 1 && v > 0) {
      v *= unit == 'K' ? 1024LL : unit == 'M' ? 1024LL * 1024 : 1;
      if (v >= (64 << 10) && v <= (64LL << 20)) bytes = v;
    }
  }
  return bytes;
}

static pthread_once_t tg__cpu_l2_once = PTHREAD_ONCE_INIT;
static int64_t tg__cpu_l2;
static void tg__cpu_l2_read(void) { tg__cpu_l2 = tg__cpu_l2_bytes(); }

/* the machine, for the optimiser: the host's vector registers (kernels are compiled for the host), the pool's
 * threads and the level-2 cache. A machine without AVX2 gets SSE's 4 lanes and 16 registers. */
static void tg__cpu_describe(tg__device *d, tg__target *t) {
  (void)d;
  t->gpu = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  int avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  const char *isa = tg__cpu_isa_flag(); /* CPU_ISA: a smaller machine's vectors */
  if (isa) avx512 = 0, avx2 = avx2 && !strcmp(isa, "-mno-avx512f");
  t->vec_floats = avx512 ? 16 : avx2 ? 8 : 4;
  t->vec_regs = avx512 ? 32 : 16;
#elif defined(__aarch64__)
  t->vec_floats = 4; /* NEON */
  t->vec_regs = 32;
#endif
  t->cores = tg__cpu_nthreads();
  pthread_once(&tg__cpu_l2_once, tg__cpu_l2_read);
  t->l2_bytes = tg__cpu_l2;
}

/* buffer views: host memory at any byte (the kernels' vector loads and stores are memcpy's, unaligned) */
static void *tg__cpu_offset(tg__device *d, void *ptr, size_t bytes) {
  (void)d;
  return (char *)ptr + bytes;
}

static tg__device tg__cpu_dev = {
    1, "CPU", &tg__dialect_c, tg__cpu_alloc, tg__cpu_free, tg__cpu_copy, tg__cpu_copy, tg__cpu_compile, tg__cpu_launch,
    tg__cpu_synchronize, NULL, tg__cpu_describe, tg__cpu_compile_batch, tg__cpu_wake, NULL, NULL, tg__cpu_offset};

TG__PRIVATE tg__device *tg__cpu_device(void) { return &tg__cpu_dev; }
