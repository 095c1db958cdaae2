/* internal_cache.c: the disk cache of compiled programs (device.c) under damage and hostile directories, through the
 * CPU device: damaged entries are rebuilt, the key follows the CPU and the compiler, entries appear whole or not at
 * all, a full or read-only cache directory or one inside somebody else's home only stops the caching, never a
 * compile.
 *
 * Each test runs against a fresh private directory (mkdtemp: TINYGRAD_CACHE points into it), restores every variable
 * of the environment it changes and the not-caching state, and removes what it made. Kernels are compiled through
 * the library (tg__dev_compile on the CPU) from small C sources, each with a constant no other kernel of the process
 * has, so none is in the in-memory program cache yet. #included into runner.c after the implementation. */
#include "test.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h> /* __get_cpuid: the reference for the library's own cpuid */
#endif

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------------------------------
// helpers

static const char *const ti_cache_envs[] = {"TINYGRAD_CACHE", "XDG_CACHE_HOME", "HOME", "CC", "DISABLE_COMPILER_CACHE"};

typedef struct ti_cache {
  char scratch[256];           /* the test's own directory (mkdtemp) */
  char dir[300];               /* scratch/cache: TINYGRAD_CACHE */
  char *env[5];                /* the saved values of ti_cache_envs (NULL: unset) */
  int stderr_fd;               /* the real stderr while it is captured */
  int said;                    /* tg__blob_said before the test */
} ti_cache;

static void ti_rmtree(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char sub[1024];
    struct stat st;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) ti_rmtree(sub);
    else unlink(sub);
  }
  if (d) closedir(d);
  rmdir(path);
}

/* entries of a directory, . and .. not counted (-1 if it cannot be read) */
static int ti_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* a fresh scratch directory, TINYGRAD_CACHE at scratch/cache, the other variables unset, stderr captured into
 * scratch/stderr, and the not-caching state cleared (so its line on stderr is said again) */
static int ti_cache_begin(ti_cache *t) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < TG__COUNT(ti_cache_envs); i++) {
    const char *v = getenv(ti_cache_envs[i]);
    t->env[i] = v ? strdup(v) : NULL;
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(t->scratch, sizeof t->scratch, "%s/tg-cache-test-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
  if (!CHECK(mkdtemp(t->scratch) != NULL)) return -1;
  snprintf(t->dir, sizeof t->dir, "%s/cache", t->scratch);
  CHECK_EQ_INT(mkdir(t->dir, 0700), 0);
  setenv("TINYGRAD_CACHE", t->dir, 1);
  unsetenv("XDG_CACHE_HOME");
  unsetenv("CC");
  unsetenv("DISABLE_COMPILER_CACHE");
  t->said = tg__blob_said;
  tg__blob_said = 0;
  char path[512];
  snprintf(path, sizeof path, "%s/stderr", t->scratch);
  fflush(stderr);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  t->stderr_fd = dup(2);
  if (fd >= 0) dup2(fd, 2);
  if (fd >= 0) close(fd);
  return 0;
}

/* what was written on stderr since ti_cache_begin (malloc'd), and stderr back to the terminal */
static char *ti_cache_stderr(ti_cache *t) {
  char path[512], *s = (char *)calloc(1, 65536);
  fflush(stderr);
  if (t->stderr_fd >= 0) {
    dup2(t->stderr_fd, 2);
    close(t->stderr_fd);
    t->stderr_fd = -1;
  }
  snprintf(path, sizeof path, "%s/stderr", t->scratch);
  FILE *f = fopen(path, "r");
  if (f) {
    size_t n = fread(s, 1, 65535, f);
    s[n] = 0;
    fclose(f);
  }
  return s;
}

static void ti_cache_end(ti_cache *t) {
  free(ti_cache_stderr(t));
  tg__fault_arm(TG__FAULT_IO, 0, 0);
  for (int i = 0; i < TG__COUNT(ti_cache_envs); i++) {
    if (t->env[i]) setenv(ti_cache_envs[i], t->env[i], 1);
    else unsetenv(ti_cache_envs[i]);
    free(t->env[i]);
  }
  tg__blob_said = t->said;
  if (t->scratch[0]) ti_rmtree(t->scratch);
}

/* how many lines `tinygrad.h: not caching ...` s holds */
static int ti_notes(const char *s) {
  int n = 0;
  for (const char *p = strstr(s, "tinygrad.h: not caching"); p; p = strstr(p + 1, "tinygrad.h: not caching")) n++;
  return n;
}

/* a kernel no other of this process has: out[i] = 2i + c, c unique */
typedef struct ti_kernel { char name[64], src[512]; float c; } ti_kernel;

static void ti_kernel_new(ti_kernel *k) {
  static int serial;
  serial++;
  k->c = 0.25f + (float)serial;
  snprintf(k->name, sizeof k->name, "tcache_%d", serial);
  snprintf(k->src, sizeof k->src,
           "#include <stdint.h>\n"
           "void %s_entry(void **bufs, int64_t start, int64_t end) {\n"
           "  float *out = (float *)bufs[0];\n"
           "  for (int64_t i = start; i < end; i++) out[i] = (float)i * 2.0f + %.2ff;\n"
           "}\n", k->name, (double)k->c);
}

/* launches a program of ti_kernel_new over 16 elements: 1 if every value is right */
static int ti_runs_right(tg__program *p, const ti_kernel *k) {
  float out[16];
  void *bufs[1] = {out};
  memset(out, 0, sizeof out);
  if (!p) return 0;
  p->global_size = 16;
  if (tg__dev_launch(p, bufs, 1) != 0) return 0;
  for (int i = 0; i < 16; i++)
    if (out[i] != (float)i * 2.0f + k->c) return 0;
  return 1;
}

/* compiles k through the device and checks its results */
static tg__program *ti_compile(const ti_kernel *k) {
  tg__program *p = tg__dev_compile(tg__cpu_device(), k->name, k->src);
  CHECK_NOT_NULL(p);
  CHECK(ti_runs_right(p, k));
  return p;
}

/* the path of k's entry in dir, keyed as the library keys it (device.c: tg__compile_key, with the CPU's cache key) */
static void ti_entry_path(const char *dir, const ti_kernel *k, char *path, size_t n) {
  tg__compile_job j;
  memset(&j, 0, sizeof j);
  j.dev = tg__cpu_device(), j.name = k->name, j.src = k->src;
  tg__compile_key(&j, tg__cpu_cache_key(NULL));
  snprintf(path, n, "%s/cpu-%016llx%016llx", dir, (unsigned long long)j.k0, (unsigned long long)j.k1);
}

static long ti_file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int ti_write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = n ? fwrite(p, 1, n, f) : 0;
  return fclose(f) == 0 && w == n ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// 1. damaged entries

/* A truncated entry, garbage and an empty file at a kernel's exact cache path, and a whole entry whose payload is not
 * a shared object: the compile reads, refuses (or fails to load), deletes and rebuilds them, the program runs right,
 * and the path then holds a whole entry. */
TEST(test_internal_cache_damaged_entries) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  ti_kernel real;
  char real_path[512];
  ti_kernel_new(&real);
  ti_compile(&real);
  ti_entry_path(t.dir, &real, real_path, sizeof real_path);
  long nreal = ti_file_size(real_path);
  CHECK(nreal > 12000); /* the header and a shared object */
  FILE *f = fopen(real_path, "rb");
  unsigned char *obj = (unsigned char *)calloc(1, nreal > 0 ? (size_t)nreal : 1);
  CHECK(f && obj && fread(obj, 1, (size_t)nreal, f) == (size_t)nreal);
  if (f) fclose(f);
  unsigned char garbage[5000];
  for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (unsigned char)(i * 2654435761u >> 13);
  memcpy(garbage, obj, 64); /* the header's magic, to get further into the reader */
  struct { const void *p; size_t n; const char *what; } damage[] = {
      {obj, 4000, "truncated"}, {obj, 12000, "truncated"}, {garbage, sizeof garbage, "garbage"}, {"", 0, "empty"}};
  for (int i = 0; i < TG__COUNT(damage) + 1; i++) {
    ti_kernel k;
    char path[512];
    ti_kernel_new(&k);
    ti_entry_path(t.dir, &k, path, sizeof path);
    if (i < TG__COUNT(damage)) CHECK_EQ_INT(ti_write_file(path, damage[i].p, damage[i].n), 0);
    else { /* a whole entry, its payload no shared object: it reads, does not load, and is compiled again */
      tg__compile_job j;
      memset(&j, 0, sizeof j);
      j.dev = tg__cpu_device(), j.name = k.name, j.src = k.src;
      tg__compile_key(&j, tg__cpu_cache_key(NULL));
      tg__blob_write("cpu", j.k0, j.k1, garbage, sizeof garbage);
      CHECK_EQ_INT(ti_file_size(path), 32 + (long)sizeof garbage);
    }
    int64_t compiles = tg_compiler_invocations();
    tg__program *p = ti_compile(&k);
    CHECK(p != NULL);
    CHECK_EQ_INT(tg_compiler_invocations() - compiles, 1); /* rebuilt */
    CHECK(ti_file_size(path) > 12000);
    /* whole now: it reads back */
    size_t n = 0;
    tg__compile_job j;
    memset(&j, 0, sizeof j);
    j.dev = tg__cpu_device(), j.name = k.name, j.src = k.src;
    tg__compile_key(&j, tg__cpu_cache_key(NULL));
    unsigned char *got = tg__blob_read("cpu", j.k0, j.k1, &n);
    CHECK(got && n > 12000);
    TG_FREE(got);
  }
  CHECK(!tg__has_error());
  free(obj);
  ti_cache_end(&t);
}

// ---------------------------------------------------------------------------------------------------------------------
// 2. the key

TEST(test_internal_cache_key) {
  /* the library's key: a function of the device, its cache key, the kernel's name and source */
  static const char *const parts[][4] = {{"CPU", "gcc 12", "k", "int x;"}, {"CPU", "gcc 13", "k", "int x;"},
                                         {"CPU", "gcc 12", "j", "int x;"}, {"CPU", "gcc 12", "k", "int y;"},
                                         {"CUDA", "gcc 12", "k", "int x;"}};
  uint64_t k0[5], k1[5];
  for (int i = 0; i < 5; i++) {
    tg__compile_job j;
    memset(&j, 0, sizeof j);
    j.dev = tg__device_get(parts[i][0]) ? tg__device_get(parts[i][0]) : tg__cpu_device();
    if (i == 4 && j.dev == tg__cpu_device()) j.dev = tt_fake_device("KEYFAKE", NULL, NULL);
    j.name = parts[i][2], j.src = parts[i][3];
    tg__compile_key(&j, parts[i][1]);
    k0[i] = j.k0, k1[i] = j.k1;
    if (i == 0) {
      tg__compile_key(&j, parts[i][1]);
      CHECK(j.k0 == k0[0] && j.k1 == k1[0]); /* the same inputs, the same key */
    }
  }
  tg_clear_error();
  for (int i = 1; i < 5; i++) CHECK(k0[i] != k0[0] && k1[i] != k1[0]);

  /* the CPU's cache key: the target, the compiler's identity, $CC and the flags (CC unset here: cc) */
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  char key[2048];
  snprintf(key, sizeof key, "%s", tg__cpu_cache_key(NULL));
  CHECK(strstr(key, "-O2") && strstr(key, "cc cc") && strstr(key, "compiler "));
  setenv("CC", "env cc", 1);
  CHECK(strcmp(tg__cpu_cache_key(NULL), key) != 0);
  unsetenv("CC");
  CHECK_STR(tg__cpu_cache_key(NULL), key);
  ti_cache_end(&t);

  /* the real target: non-empty, and on x86 it holds leaf 1 of cpuid, whose sse2 bit x86-64 always has */
  const char *target = tg__cpu_target();
  CHECK(target && target[0]);
  if (tg__cpu_flag_used("-march=native")) CHECK(strstr(key, target) != NULL);
#if defined(TG__CPU_X86)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0; /* read here with the compiler's own <cpuid.h>, not the library's */
  char leaf1[96];
  CHECK(__get_cpuid(1, &eax, &ebx, &ecx, &edx));
  snprintf(leaf1, sizeof leaf1, "cpuid(1,0)=%08x,00000000,%08x,%08x", eax, ecx, edx);
  CHECK(strstr(target, leaf1) != NULL);
#if defined(__x86_64__)
  CHECK(edx & (1u << 26)); /* sse2 */
#endif
#elif defined(__linux__)
  CHECK(strstr(target, "hwcap=") != NULL);
#endif
  if (TG__DEBUG >= 1) printf("target: %s\n", target);

  /* the compiler's identity is what `$CC --version` prints, and running it is not a kernel compile */
  int64_t compiles = tg_compiler_invocations();
  const char *id = tg__cpu_compiler_id("env cc"); /* a $CC not seen before: it runs */
  CHECK_EQ_INT(tg_compiler_invocations() - compiles, 0);
  CHECK(tg__cpu_compiler_id("env cc") == id); /* once per $CC */
  char want[4096] = "";
  FILE *f = popen("cc --version 2>&1", "r");
  if (f) {
    size_t n = fread(want, 1, sizeof want - 1, f);
    want[n] = 0;
    pclose(f);
  }
  CHECK(want[0] != 0);
  CHECK_STR(id, want);
}

// ---------------------------------------------------------------------------------------------------------------------
// 3. whole or not at all

/* A compile leaves exactly its entry in the directory (no temporaries, no build directory). A failure to write or to
 * publish it (a full disk, an fsync that fails) leaves nothing there, the program still runs right, and one line on
 * stderr says that kernels are not cached and why. */
TEST(test_internal_cache_publish_whole) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  ti_kernel k;
  char path[512];
  ti_kernel_new(&k);
  ti_compile(&k);
  ti_entry_path(t.dir, &k, path, sizeof path);
  CHECK_EQ_INT(ti_entries(t.dir), 1);
  CHECK(ti_file_size(path) > 12000);
  /* the writes of a compile: its source (0), the entry's header (1), payload (2) and flush (3), then the load's copy
   * of the object for dlopen (4) */
  static const struct { int skip; const char *says; } at[] = {{1, "No space left"}, {2, "No space left"},
                                                              {3, "cannot flush"}};
  for (int i = 0; i < TG__COUNT(at); i++) {
    ti_kernel_new(&k);
    tg__blob_said = 0;
    tg__fault_arm(TG__FAULT_IO, at[i].skip, 1);
    int64_t compiles = tg_compiler_invocations();
    ti_compile(&k);
    tg__fault_arm(TG__FAULT_IO, 0, 0);
    CHECK_EQ_INT(tg_compiler_invocations() - compiles, 1); /* the object loaded: no second compile */
    CHECK_EQ_INT(ti_entries(t.dir), 1);                    /* nothing new, not even a temporary */
    CHECK_EQ_INT(tg__blob_said, 1);
  }
  char *err = ti_cache_stderr(&t);
  CHECK_EQ_INT(ti_notes(err), 3); /* once per process (reset here for each case) */
  CHECK(strstr(err, "No space left") != NULL && strstr(err, "cannot flush") != NULL);
  free(err);
  ti_cache_end(&t);
}

// ---------------------------------------------------------------------------------------------------------------------
// 4. a read-only or full cache directory

TEST(test_internal_cache_read_only) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  if (geteuid() == 0) { /* chmod does not stop root */
    ti_cache_end(&t);
    return;
  }
  CHECK_EQ_INT(chmod(t.dir, 0500), 0);
  for (int i = 0; i < 2; i++) { /* compiled elsewhere (TMPDIR), run right, not cached; said once */
    ti_kernel k;
    ti_kernel_new(&k);
    ti_compile(&k);
  }
  CHECK_EQ_INT(ti_entries(t.dir), 0);
  chmod(t.dir, 0700);
  char *err = ti_cache_stderr(&t);
  CHECK_EQ_INT(ti_notes(err), 1);
  CHECK(strstr(err, strerror(EACCES)) != NULL);
  free(err);
  ti_cache_end(&t);
}

/* Every write fails as on a full disk: the compile's own files too (the source, the object's copy for dlopen), so the
 * kernel cannot be built, and the error says why; with the disk back, it compiles and is cached. */
TEST(test_internal_cache_full_disk) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  ti_kernel k;
  ti_kernel_new(&k);
  tg__fault_arm(TG__FAULT_IO, 0, 1000000);
  tg_clear_error();
  CHECK_NULL(tg__dev_compile(tg__cpu_device(), k.name, k.src));
  tg__fault_arm(TG__FAULT_IO, 0, 0);
  CHECK(tg_error() && strstr(tg_error(), "device 'CPU'") && strstr(tg_error(), strerror(ENOSPC)));
  tg_clear_error();
  CHECK_EQ_INT(ti_entries(t.dir), 0);
  ti_compile(&k);
  CHECK_EQ_INT(ti_entries(t.dir), 1);
  ti_cache_end(&t);
}

/* A compile error is an error naming the device and the kernel, with the compiler's message; nothing is cached and
 * caching goes on for the next kernel. */
TEST(test_internal_cache_compile_error) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  tg_clear_error();
  int64_t compiles = tg_compiler_invocations();
  CHECK_NULL(tg__dev_compile(tg__cpu_device(), "tcache_broken",
                             "void tcache_broken_entry(void **b, long s, long e) { syntax error }"));
  CHECK_EQ_INT(tg_compiler_invocations() - compiles, 1);
  CHECK(tg_error() && strstr(tg_error(), "device 'CPU': compile of kernel tcache_broken failed: CPU compile of "
                                         "kernel tcache_broken failed") != NULL);
  CHECK(tg_error() && strstr(tg_error(), "tcache_broken.c") != NULL); /* the compiler's message, the file named */
  CHECK_EQ_INT(ti_entries(t.dir), 0);
  tg_clear_error();
  ti_kernel k;
  ti_kernel_new(&k);
  ti_compile(&k);
  CHECK_EQ_INT(ti_entries(t.dir), 1);
  char *err = ti_cache_stderr(&t);
  CHECK_EQ_INT(ti_notes(err), 0);
  free(err);
  ti_cache_end(&t);
}

// ---------------------------------------------------------------------------------------------------------------------
// 5. directories that are not ours

/* As root with another user's HOME (sudo keeps HOME): nothing is created in that home, through HOME, XDG_CACHE_HOME
 * or TINYGRAD_CACHE; kernels compile privately and run right. Not root: a home owned by root, the same way. A cache
 * path under a directory of ours is still created (mode 0700) and used. */
TEST(test_internal_cache_foreign_home) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  char home[300], sub[400];
  int root = geteuid() == 0;
  snprintf(home, sizeof home, "%s/home", t.scratch);
  CHECK_EQ_INT(mkdir(home, 0755), 0);
  if (root) CHECK_EQ_INT(chown(home, 12345, 12345), 0);
  else snprintf(home, sizeof home, "/usr"); /* root's; we cannot make one of another user's */
  int before = ti_entries(home);
  for (int i = 0; i < 3; i++) {
    unsetenv("TINYGRAD_CACHE");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", home, 1);
    snprintf(sub, sizeof sub, "%s/%s", home, i == 1 ? "xdg" : "a/b");
    if (i == 1) setenv("XDG_CACHE_HOME", sub, 1);
    if (i == 2) setenv("TINYGRAD_CACHE", sub, 1);
    ti_kernel k;
    ti_kernel_new(&k);
    ti_compile(&k);
    CHECK_EQ_INT(ti_entries(home), before); /* nothing created inside */
  }
  char *err = ti_cache_stderr(&t);
  CHECK_EQ_INT(ti_notes(err), 1);
  CHECK(strstr(err, "will not create") != NULL);
  if (root) CHECK(strstr(err, "uid 12345") != NULL);
  free(err);
  /* under a directory of ours, mkdir -p goes on */
  snprintf(sub, sizeof sub, "%s/mine/a/b", t.scratch);
  setenv("TINYGRAD_CACHE", sub, 1);
  ti_kernel k;
  ti_kernel_new(&k);
  ti_compile(&k);
  struct stat st;
  CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
  CHECK_EQ_INT(ti_entries(sub), 1);
  if (root) chown(home, 0, 0);
  ti_cache_end(&t);
}

// ---------------------------------------------------------------------------------------------------------------------
// 6. the blobs themselves (device.c: tg__blob_read, tg__blob_write)

/* A payload written under a kind and key reads back byte for byte (binary, with a 0 after it), from the file
 * `kind-KEY` in the cache directory; another key or kind misses; DISABLE_COMPILER_CACHE=1 misses; a truncated, a
 * flipped and a garbage entry miss and are deleted (a line on stderr at DEBUG>=1); a write into a full disk (the
 * injected I/O fault) leaves nothing and no error; an entry removed misses. */
TEST(test_internal_cache_blobs) {
  ti_cache t;
  if (ti_cache_begin(&t) < 0) return;
  unsigned char payload[3000];
  for (int i = 0; i < (int)sizeof payload; i++) payload[i] = (unsigned char)(i * 7 + (i >> 8));
  payload[10] = 0; /* binary: a 0 inside */
  tg__blob_write("test", 0x1234, 0x5678, payload, sizeof payload);
  CHECK(!tg__has_error());
  char path[600];
  snprintf(path, sizeof path, "%s/test-%016llx%016llx", t.dir, 0x1234ULL, 0x5678ULL);
  CHECK_EQ_INT(ti_file_size(path), 32 + (long)sizeof payload);
  size_t n = 1;
  unsigned char *got = tg__blob_read("test", 0x1234, 0x5678, &n);
  CHECK(got != NULL);
  CHECK_EQ_INT((long)n, (long)sizeof payload);
  if (got) CHECK(!memcmp(got, payload, sizeof payload) && got[sizeof payload] == 0);
  free(got);
  CHECK(tg__blob_read("test", 0x1234, 0x5679, &n) == NULL && n == 0);
  CHECK(tg__blob_read("cuda", 0x1234, 0x5678, &n) == NULL);
  setenv("DISABLE_COMPILER_CACHE", "1", 1);
  CHECK(tg__blob_read("test", 0x1234, 0x5678, &n) == NULL);
  unsetenv("DISABLE_COMPILER_CACHE");
  /* damaged entries: each misses, is deleted, and is said at DEBUG>=1 */
  FILE *f = fopen(path, "rb");
  unsigned char whole[32 + sizeof payload];
  CHECK(f && fread(whole, 1, sizeof whole, f) == sizeof whole);
  if (f) fclose(f);
  int debug0 = tg__getenv_int("DEBUG", 0);
  tg__setenv_int("DEBUG", 1);
  for (int k = 0; k < 3; k++) {
    unsigned char bad[sizeof whole];
    memcpy(bad, whole, sizeof whole);
    size_t len = k == 0 ? sizeof whole - 100 : sizeof whole; /* truncated, one byte flipped, garbage */
    if (k == 1) bad[32 + 1234] ^= 0x40;
    if (k == 2) memset(bad, 'x', sizeof bad);
    CHECK_EQ_INT(ti_write_file(path, bad, len), 0);
    CHECK(tg__blob_read("test", 0x1234, 0x5678, &n) == NULL);
    CHECK_EQ_INT(ti_file_size(path), -1);
  }
  tg__setenv_int("DEBUG", debug0);
  /* a full disk: nothing is written, no error is left, and the next read misses */
  tg__fault_arm(TG__FAULT_IO, 0, 1000);
  tg__blob_write("test", 0x1234, 0x5678, payload, sizeof payload);
  tg__fault_arm(TG__FAULT_IO, 0, 0);
  CHECK(!tg__has_error());
  CHECK_EQ_INT(tg__blob_said, 1); /* said on stderr */
  CHECK_EQ_INT(ti_file_size(path), -1);
  CHECK_EQ_INT(ti_entries(t.dir), 0); /* no temporary left either */
  /* written again, then removed */
  tg__blob_write("test", 0x1234, 0x5678, payload, 16);
  got = tg__blob_read("test", 0x1234, 0x5678, &n);
  CHECK(got && n == 16 && !memcmp(got, payload, 16));
  free(got);
  tg__blob_remove("test", 0x1234, 0x5678);
  CHECK(tg__blob_read("test", 0x1234, 0x5678, &n) == NULL);
  char *err = ti_cache_stderr(&t);
  CHECK(strstr(err, "damaged cache entry") != NULL);
  free(err);
  ti_cache_end(&t);
}
