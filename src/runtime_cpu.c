/* runtime_cpu.c: the built-in CPU device (layer 4): host memory, kernels compiled by the system C compiler, a thread
 * pool. It is registered through the public device interface (tg_device_desc, api.h), as a user's device would be.
 *
 * Contract:
 *  - Memory is host memory aligned to 64 bytes (posix_memalign); copies are memcpy; synchronize has nothing to do;
 *    offset gives views at any byte.
 *  - Kernels are written in the C dialect (tg__dialect_c, defined here, registered as "C"): a kernel function over
 *    [start, end) of its outermost loop and the entry point `void NAME_entry(void **bufs, int64_t start, int64_t end)`.
 *  - compile(name, src), on any thread (TG_DEVICE_PARALLEL_COMPILE: BEAM's candidates and a schedule's new kernels
 *    are compiled on a compiler per core): $CC (default cc; split on spaces, run without a shell) compiles src in a
 *    fresh private directory (mkdtemp in the cache directory when it can be used, /tmp may be noexec; else $TMPDIR or
 *    /tmp) into a shared object, whose bytes are the blob; the directory is removed. Failures (no compiler, a compile
 *    error) give the compiler's output, the temporary path replaced by NAME.c.
 *  - cache_key: what decides the object besides the name and source: the format's version, the target CPU when
 *    -march=native is used (x86: vendor, signature and feature words of cpuid, and xcr0; other Linux: hwcaps and
 *    /proc/cpuinfo's features), the compiler's identity (`$CC --version`, run once per $CC per process, not counted by
 *    tg_compiler_invocations()), $CC and the flags. device.c keeps the blobs in the disk cache under it.
 *  - load(blob): written to a file in a fresh private directory, dlopen'd, the file and directory removed at once;
 *    the program is the handle and NAME_entry. unload dlcloses it (at exit: valgrind reports nothing).
 *  - launch runs NAME_entry over [0, global[0]): small kernels once on the calling thread, larger ones split into
 *    contiguous chunks claimed by a persistent pool of pthreads ($THREADS, default the usable cores, at most 64) and
 *    the caller: guided chunks, each 1/(2P) of what is left, so that a thread descheduled by another process delays
 *    little. Each iteration runs exactly once, and launch returns after all have finished.
 *  - At exit the workers are joined.
 *  - Nothing prints. */
#include "internal.h"

#include <dlfcn.h>     // dlopen, dlsym, dlclose, dlerror
#include <errno.h>
#include <fcntl.h>     // open, fcntl
#include <limits.h>    // PATH_MAX
#include <pthread.h>   // the pool
#include <signal.h>    // sigset_t: workers block signals; the compiler starts with a clean mask
#include <spawn.h>     // posix_spawnp
#include <sys/mman.h>  // madvise
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

/* Buffers of 4 MiB or more start on a 2 MiB boundary and are offered to the kernel's transparent huge pages, as
 * numpy offers its arrays (where THP is "madvise", the default of many distributions, nothing else gets them): a
 * matmul's tile reads A's rows a page apart and B's panels through many pages, and its operands then need a
 * 512th of the TLB entries. 1024 float32 matmul on 2 AVX-512 cores: 383-390 -> 391-395 GFLOPS. */
static void *tg__cpu_alloc(void *ctx, size_t nbytes) {
  (void)ctx;
  void *p = NULL;
  size_t huge = (size_t)2 << 20;
  int big = nbytes >= 2 * huge;
  int rc = posix_memalign(&p, big ? huge : 64, nbytes ? nbytes : 1);
  if (rc != 0 || !p) {
    tg__set_error("CPU alloc: cannot allocate %zu bytes: %s. HINT: use smaller tensors or free some", nbytes,
                  strerror(rc ? rc : ENOMEM));
    return NULL;
  }
#ifdef MADV_HUGEPAGE
  if (big) madvise(p, nbytes / huge * huge, MADV_HUGEPAGE);
#endif
  return p;
}

static void tg__cpu_free(void *ctx, void *ptr) {
  (void)ctx;
  free(ptr); /* posix_memalign memory goes back to free(), not TG_FREE */
}

static int tg__cpu_copy(void *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  if (nbytes) memcpy(dst, src, nbytes);
  return 0;
}

static int tg__cpu_synchronize(void *ctx) {
  (void)ctx;
  return 0;
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

/* The device's cache key (tg_device_desc.cache_key): what decides the shared object besides the kernel's name and
 * source: the format's version, the target (tg__cpu_target(), or "" when -march=native is not used), the compiler's
 * identity (tg__cpu_compiler_id), $CC and the flags used. Valid until the next call (on the library's thread). It is
 * asked for every kernel of every schedule: built again only when what it depends on changed ($CC, CPU_ISA,
 * valgrind's preload). */
static char *tg__cpu_key_str, *tg__cpu_key_cc;
static const char *tg__cpu_key_isa;
static int tg__cpu_key_native;

static const char *tg__cpu_cache_key(void *ctx) {
  (void)ctx;
  const char *cc = getenv("CC");
  if (!cc || !cc[0]) cc = "cc";
  int native = tg__cpu_flag_used("-march=native");
  if (tg__cpu_key_str && !strcmp(cc, tg__cpu_key_cc) && tg__cpu_isa_flag() == tg__cpu_key_isa &&
      native == tg__cpu_key_native)
    return tg__cpu_key_str;
  tg__cpu_register_atexit();
  TG_FREE(tg__cpu_key_cc);
  tg__cpu_key_cc = tg__strdup(cc);
  tg__cpu_key_isa = tg__cpu_isa_flag(), tg__cpu_key_native = native;
  tg__str s;
  memset(&s, 0, sizeof s);
  tg__str_printf(&s, "%s\ntarget %s\ncompiler %s\ncc %s\nflags", tg__cpu_cache_version,
                 tg__cpu_flag_used("-march=native") ? tg__cpu_target() : "", tg__cpu_compiler_id(cc), cc);
  for (int i = 0; i < TG__COUNT(tg__cpu_cflags); i++)
    if (tg__cpu_flag_used(tg__cpu_cflags[i])) tg__str_printf(&s, " %s", tg__cpu_cflags[i]);
  if (tg__cpu_isa_flag() && tg__cpu_flag_used("-march=native")) tg__str_printf(&s, " %s", tg__cpu_isa_flag());
  TG_FREE(tg__cpu_key_str);
  tg__cpu_key_str = tg__str_take(&s);
  return tg__cpu_key_str;
}

// ---------------------------------------------------------------------------------------------------------------------
// compile: source -> shared object (the blob); load: blob -> dlopen'd entry point

/* a program: the shared object and its entry point */
typedef struct tg__cpu_prog { void *dl; tg__cpu_entry_fn entry; } tg__cpu_prog;

/* A fresh private directory (mkdtemp, 0700) for a compile or a load: in the cache directory when it can be used (it
 * is the user's own, and /tmp may be mounted noexec), else $TMPDIR or /tmp. 0, or -1 with why in err. Any thread. */
static int tg__cpu_workdir(char *dir, size_t n, char *err, size_t nerr) {
  char base[TG__CPU_PATH_MAX - 64], why[512];
  if (tg__cache_dir(base, sizeof base, why, sizeof why) == 0) {
    int w = snprintf(dir, n, "%s/build-XXXXXX", base);
    if (w > 0 && (size_t)w + 64 < n && mkdtemp(dir)) return 0;
  }
  const char *tmp = getenv("TMPDIR");
  int w = snprintf(dir, n, "%s/tinygrad.h-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
  if (w > 0 && (size_t)w + 64 < n && mkdtemp(dir)) return 0;
  snprintf(err, nerr, "CPU: cannot create a private temporary directory: %s. HINT: set TINYGRAD_CACHE or TMPDIR to "
           "a directory only you can write", strerror(errno));
  return -1;
}

/* the whole of a regular file (malloc'd, for the library to free; its length in *n), or NULL with errno set */
static unsigned char *tg__cpu_read_file(const char *path, size_t *n) {
  struct stat st;
  int fd = open(path, O_RDONLY | TG__CPU_CLOEXEC);
  if (fd < 0) return NULL;
  int bad = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
  unsigned char *p = bad ? NULL : (unsigned char *)malloc((size_t)st.st_size + 1);
  if (!bad && !p) bad = ENOMEM;
  size_t got = 0;
  while (p && got < (size_t)st.st_size) {
    ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break; /* shorter than fstat said: what was read is what the file is */
    got += (size_t)r;
  }
  close(fd);
  if (bad) errno = bad;
  *n = got;
  return p;
}

/* writes n bytes into a new file at path (0600); 0, or -1 with errno set */
static int tg__cpu_write_file(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | TG__CPU_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int rc = tg__cpu_write_all(fd, (const char *)p, n), err = errno;
  if (close(fd) != 0 && rc == 0) rc = -1, err = errno;
  errno = err;
  return rc;
}

/* Runs $CC on the source at cpath, writing the shared object at sopath. 0; or -1 if the compiler could not be run, or
 * 1 if it failed; either way the message is in err. Safe on any thread. */
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

  char *out = (char *)malloc(tg__cpu_capture);
  if (!out) {
    snprintf(err, nerr, "CPU compile: out of memory");
    return -1;
  }
  out[0] = 0;
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
  free(out);
  return code == -1 ? -1 : code != 0;
}

/* the device's compile (any thread; device.c keeps the blob in its disk cache): src, C defining
 * `void NAME_entry(void **bufs, int64_t start, int64_t end)`, compiled by $CC in a private directory into a shared
 * object, whose bytes are the blob */
static void *tg__cpu_compile(void *ctx, const char *name, const char *src, size_t *size, char *err, size_t nerr) {
  (void)ctx;
  size_t nlen = strlen(name);
  int ok = nlen > 0 && nlen <= tg__cpu_max_name && !(name[0] >= '0' && name[0] <= '9');
  for (size_t i = 0; i < nlen && ok; i++) {
    char c = name[i];
    ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (!ok) {
    snprintf(err, nerr, "CPU compile: kernel name '%.200s' is not a C identifier of at most %d characters", name,
             (int)tg__cpu_max_name);
    return NULL;
  }
  const char *cc = getenv("CC");
  if (!cc || !cc[0]) cc = "cc";
  char dir[TG__CPU_PATH_MAX - 256], cpath[TG__CPU_PATH_MAX], sopath[TG__CPU_PATH_MAX];
  if (tg__cpu_workdir(dir, sizeof dir, err, nerr) < 0) return NULL;
  snprintf(cpath, sizeof cpath, "%s/%.128s.c", dir, name);
  snprintf(sopath, sizeof sopath, "%s/%.128s.so", dir, name);
  unsigned char *blob = NULL;
  if (tg__cpu_write_file(cpath, src, strlen(src)) != 0) {
    snprintf(err, nerr, "CPU compile: cannot write %.300s: %s", cpath, strerror(errno));
  } else if (tg__cpu_cc(cc, name, cpath, sopath, err, nerr) == 0) {
    blob = tg__cpu_read_file(sopath, size);
    if (!blob) snprintf(err, nerr, "CPU compile: cannot read %.300s: %s", sopath, strerror(errno));
  }
  unlink(cpath);
  unlink(sopath);
  rmdir(dir);
  return blob;
}

/* the device's load: the shared object written to a private file, dlopen'd (the file is removed at once) */
static void *tg__cpu_load(void *ctx, const char *name, const void *blob, size_t size) {
  (void)ctx;
  char dir[TG__CPU_PATH_MAX - 256], path[TG__CPU_PATH_MAX], err[600];
  if (strlen(name) > tg__cpu_max_name) {
    tg__set_error("CPU load: kernel name '%.200s' is longer than %d characters", name, (int)tg__cpu_max_name);
    return NULL;
  }
  if (tg__cpu_workdir(dir, sizeof dir, err, sizeof err) < 0) {
    tg__set_error("%s", err);
    return NULL;
  }
  snprintf(path, sizeof path, "%s/%.128s.so", dir, name);
  void *h = NULL;
  if (tg__cpu_write_file(path, blob, size) != 0) tg__set_error("CPU load: cannot write %.300s: %s", path, strerror(errno));
  else if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
    const char *e = dlerror();
    tg__set_error("cannot load the compiled kernel %s: %s", name, e ? e : "unknown error");
  }
  unlink(path);
  rmdir(dir);
  if (!h) return NULL;
  char sym[tg__cpu_max_name + 8];
  snprintf(sym, sizeof sym, "%s_entry", name);
  dlerror();
  void *fn = dlsym(h, sym);
  if (!fn) {
    const char *e = dlerror();
    tg__set_error("kernel %s has no entry point %s: %s. HINT: the source must define void %s(void **bufs, int64_t "
                  "start, int64_t end)", name, sym, e ? e : "NULL symbol", sym);
    dlclose(h);
    return NULL;
  }
  tg__cpu_register_atexit();
  tg__cpu_prog *p = (tg__cpu_prog *)tg__alloc(sizeof *p);
  p->dl = h;
  memcpy(&p->entry, &fn, sizeof p->entry); /* object pointer -> function pointer, as POSIX allows */
  return p;
}

static void tg__cpu_unload(void *ctx, void *program) {
  (void)ctx;
  tg__cpu_prog *p = (tg__cpu_prog *)program;
  dlclose(p->dl);
  TG_FREE(p);
}

static int tg__cpu_nthreads(void);

// ---------------------------------------------------------------------------------------------------------------------
// the thread pool. A job is the outermost loop [0, total) of a kernel. Its iterations are claimed in guided chunks:
// each claim takes 1/(2P) of what is left (P threads), at least 1/(64P) of the whole (tg__cpu_least), so the first
// chunks are large and contiguous and the last small: a thread the OS descheduled (another process busy on its core)
// holds up only a small chunk while the others take the rest. A claim is one compare-and-swap on `word`, the job's
// generation (high 24 bits) and its next unclaimed iteration (low 40): a claim from a job that has ended fails, even if
// the new one's next iteration is the same number. Workers that finish a job spin for a moment (TG__CPU_SPIN_NS)
// watching for the next, then sleep on `work`: back-to-back kernels (a JIT replay) find them awake, and an idle library
// burns nothing. tg__cpu_wake (at the start of a schedule or a replay) wakes sleepers so that they spin while the
// kernels are prepared: asleep, a 16-core host's workers took so long to wake that a 0.1 ms copy ran 0.7 ms, mostly on
// the calling thread. The caller claims chunks too, then waits for `done` to reach the total (spinning, then yielding).
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
  const tg__cpu_prog *prog;
  void **bufs;
  int64_t total, grain, least; /* a claim takes (total - next) / grain iterations, at least `least` */
  int64_t align;               /* ...and ends on a multiple of `align` (or at total) */
  uint64_t fields;             /* the generation whose fields these are, or are being written (a seqlock's count) */
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

/* The smallest claim of a job of gs iterations on `threads` threads, `work` its estimated flops + bytes: 1/(64P) of
 * the job, so that the threads finish within about as much of each other, but at least as many iterations as do 1e6
 * of work (a few microseconds: claims of less would cost more in the claim's compare-and-swap, with 16 threads on
 * one cache line, than they balance), and at most 1/(8P). It was 1/(8P): the 4096 matmul's 4608 tasks on 2 cores
 * then ended in claims of 288 (45 ms), and one core waited for the other's last one: 721-737 ms against 700 with
 * claims of 36 (a harness of the same kernel, 2 Zen 2 cores). */
TG__PRIVATE int64_t tg__cpu_least(int64_t gs, int64_t threads, double work) {
  int64_t least = gs / (64 * threads), most = gs / (8 * threads);
  double floor = work > 0 ? 1e6 * (double)gs / work : (double)gs;
  if ((double)least < floor) least = floor < (double)most ? (int64_t)floor + 1 : most;
  if (least > most) least = most;
  return least > 1 ? least : 1;
}

/* Claims of a job of cheap iterations (an elementwise kernel's, whose loop the compiler vectorises: at most 4096 of
 * work each) start and end on multiples of 64 iterations, so that each element falls in the vector loop or in its
 * scalar remainder whatever the split. The two differ in the last bit where -fassociative-math lets the vectoriser
 * reorder a product (Adam's update: val * (1/(1-b1^t)) * (1/(sqrt(v')+eps)) * lr), and a change of the claims'
 * sizes had changed the MNIST weights after a step (the accuracy after 10 steps 70.42% -> 70.54%). 1: any split. */
TG__PRIVATE int64_t tg__cpu_align(int64_t gs, double work) {
  return work > 0 && gs >= 128 && work <= 4096.0 * (double)gs ? 64 : 1;
}

/* Claims and runs chunks of job g until none is left (or g has ended). The fields are read as a seqlock's data: the
 * next launch writes `fields` (its generation) before them, then them, then publishes `word`, so a thread that read
 * any of them from the next job sees `fields` changed after its acquire fence, and leaves. Without the check, a
 * thread whose chunk was job g's last (its `done` let the caller return and launch job g + 1) could read `word`
 * still at g, every iteration claimed, but `total` already g + 1's: it claimed iterations of "g" that were g + 1's,
 * ran them with a mix of the two jobs' kernel and buffers, and counted them in g + 1's `done`, which then reached its
 * total before the job's chunks had run (one crash in ~30 runs of SmolLM2 on 16 threads, 2026-12-04). */
static void tg__cpu_run_chunks(uint64_t g) {
  for (;;) {
    uint64_t w = __atomic_load_n(&tg__cpu_pool.word, __ATOMIC_ACQUIRE);
    if ((w >> TG__CPU_NEXT_BITS) != g) return;
    const tg__cpu_prog *prog = TG__CPU_LOAD(tg__cpu_pool.prog);
    void **bufs = TG__CPU_LOAD(tg__cpu_pool.bufs);
    int64_t total = TG__CPU_LOAD(tg__cpu_pool.total), grain = TG__CPU_LOAD(tg__cpu_pool.grain);
    int64_t least = TG__CPU_LOAD(tg__cpu_pool.least), align = TG__CPU_LOAD(tg__cpu_pool.align);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (TG__CPU_LOAD(tg__cpu_pool.fields) != g) return; /* the next job's fields (or some of them) */
    int64_t next = (int64_t)(w & TG__CPU_NEXT_MASK), left = total - next;
    if (left <= 0) return;
    int64_t len = left / grain;
    if (len < least) len = least;
    if (align > 1) len = (next + len + align - 1) / align * align - next; /* next is a multiple: every end was */
    if (len > left) len = left;
    if (!__atomic_compare_exchange_n(&tg__cpu_pool.word, &w, w + (uint64_t)len, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
      continue;
    /* the job cannot end before this chunk is done, so its fields were this job's */
    prog->entry(bufs, next, next + len);
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
static void tg__cpu_wake(void *ctx) {
  (void)ctx;
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

/* THREADS changed (tg_set_threads): the workers stop, and the next launch starts as many as THREADS says */
TG__PRIVATE void tg__cpu_threads_changed(void) {
  if (!tg__cpu_pool.started) return;
  tg__cpu_pool_stop();
  if (tg__cpu_pool.pid != getpid()) return; /* a forked child: the workers are the parent's */
  __atomic_store_n(&tg__cpu_pool.shutdown, 0, __ATOMIC_SEQ_CST);
  tg__cpu_pool.started = 0;
}

static int tg__cpu_launch(void *ctx, const tg_launch *l) {
  (void)ctx;
  const tg__cpu_prog *p = (const tg__cpu_prog *)l->program;
  void **bufs = l->bufs;
  int64_t gs = l->global[0];
  if (!p || !p->entry) {
    tg__set_error("CPU launch: no program (was the kernel compiled on the CPU?)");
    return -1;
  }
  if (gs < 0) {
    tg__set_error("CPU launch of kernel %s: negative global size %lld", l->name, (long long)gs);
    return -1;
  }
  double work = l->flops + l->bytes;
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
  TG__CPU_STORE(tg__cpu_pool.fields, g); /* first: a reader of any field below sees it (tg__cpu_run_chunks) */
  __atomic_thread_fence(__ATOMIC_RELEASE);
  TG__CPU_STORE(tg__cpu_pool.prog, p);
  TG__CPU_STORE(tg__cpu_pool.bufs, bufs);
  TG__CPU_STORE(tg__cpu_pool.total, gs);
  TG__CPU_STORE(tg__cpu_pool.grain, 2 * threads);
  TG__CPU_STORE(tg__cpu_pool.least, tg__cpu_least(gs, threads, work));
  TG__CPU_STORE(tg__cpu_pool.align, tg__cpu_align(gs, work));
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
  while (tg__cpu_ccids) {
    tg__cpu_ccid *c = tg__cpu_ccids;
    tg__cpu_ccids = c->next;
    TG_FREE(c->cc);
    TG_FREE(c->id);
    TG_FREE(c);
  }
  TG_FREE(tg__cpu_target_str);
  TG_FREE(tg__cpu_key_str);
  TG_FREE(tg__cpu_key_cc);
  tg__cpu_key_str = tg__cpu_key_cc = NULL;
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
    /* vectors, prefetch, extra_prelude */
    1, "TG_PREFETCH(%s)", NULL};

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

/* a cache's share of one CPU in bytes, from sysfs's size ("16384K", "32M") and shared_cpu_list ("0-1", "0-3,8-11":
 * 8 CPUs) of it; 0 when either cannot be read or the size is outside 256 KiB..4 GiB */
TG__PRIVATE int64_t tg__cpu_cache_share(const char *size, const char *cpus) {
  char *p = NULL;
  long long v = size ? strtoll(size, &p, 10) : 0;
  int sharing = 0;
  if (v <= 0 || !p || v > (4LL << 30)) return 0; /* (before it is scaled: no overflow) */
  if (*p == 'K' || *p == 'M') v *= *p++ == 'K' ? 1024LL : 1024LL * 1024;
  if (*p && *p != '\n') return 0;
  for (const char *c = cpus; c && *c >= '0' && *c <= '9';) { /* "a" or "a-b", comma separated */
    char *e;
    long a = strtol(c, &e, 10), b = a;
    if (*e == '-') b = strtol(e + 1, &e, 10);
    if (b < a || b - a >= 65536) return 0;
    sharing += (int)(b - a + 1);
    if (*e != ',') break;
    c = e + 1;
  }
  if (sharing < 1 || v < (256 << 10) || v > (4LL << 30)) return 0;
  return v / sharing;
}

/* one core's share of the level-3 cache (a VM's list names its own CPUs only), or 0 */
static int64_t tg__cpu_l3_share(void) {
  static const char *const files[3] = {"level", "size", "shared_cpu_list"};
  char text[3][1024];
  for (int i = 0; i < 3; i++) {
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index3/%s", files[i]);
    FILE *f = fopen(path, "r");
    text[i][0] = 0;
    if (f && !fgets(text[i], sizeof text[i], f)) text[i][0] = 0;
    if (f) fclose(f);
  }
  return atoi(text[0]) == 3 ? tg__cpu_cache_share(text[1], text[2]) : 0;
}

static pthread_once_t tg__cpu_l2_once = PTHREAD_ONCE_INIT;
static int64_t tg__cpu_l2, tg__cpu_l3;
static void tg__cpu_l2_read(void) { tg__cpu_l2 = tg__cpu_l2_bytes(), tg__cpu_l3 = tg__cpu_l3_share(); }

/* the machine, for the optimiser: the host's vector registers (kernels are compiled for the host), the pool's
 * threads, the level-2 cache and a core's share of level 3. A machine without AVX2 gets SSE's 4 lanes and 16
 * registers. */
static void tg__cpu_describe(void *ctx, tg_device_props *t) {
  (void)ctx;
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
  t->l3_bytes = tg__cpu_l3;
}

/* buffer views: host memory at any byte (the kernels' vector loads and stores are memcpy's, unaligned) */
static void *tg__cpu_offset(void *ctx, void *ptr, size_t bytes) {
  (void)ctx;
  return (char *)ptr + bytes;
}

/* the CPU, registered as any device is (device.c calls this first) */
TG__PRIVATE void tg__cpu_register(void) {
  tg_device_desc d;
  memset(&d, 0, sizeof d);
  d.size = sizeof d;
  d.version = TG_DEVICE_API_VERSION;
  d.dialect = "C";
  d.flags = TG_DEVICE_PARALLEL_COMPILE;
  d.alloc = tg__cpu_alloc, d.free = tg__cpu_free, d.copy_in = tg__cpu_copy, d.copy_out = tg__cpu_copy;
  d.compile = tg__cpu_compile, d.cache_key = tg__cpu_cache_key;
  d.load = tg__cpu_load, d.unload = tg__cpu_unload, d.launch = tg__cpu_launch, d.synchronize = tg__cpu_synchronize;
  d.describe = tg__cpu_describe, d.offset = tg__cpu_offset, d.wake = tg__cpu_wake;
  tg__dialect_add("C", &tg__dialect_c);
  tg__device_add("CPU", &d);
}

TG__PRIVATE tg__device *tg__cpu_device(void) { return tg__device_get("CPU"); }
