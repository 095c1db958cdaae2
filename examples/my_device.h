/* my_device.h: a whole device for tinygrad.h in one page, the tinygrad learning guide's project 7 in C. It is what the
 * built-in CPU device is, without its thread pool and its care: an allocator (malloc and memcpy), a compiler (cc on
 * the C the renderer prints, into a shared object whose bytes are the binary) and a runner (the shared object
 * dlopen'd, its entry point called over the whole launch on one thread). Register it, and "MY" is a device string
 * like "CPU":
 *
 *     my_device_register("MY");
 *     tg_tensor *t = tg_to(x, "MY");          // or tg_set_default_device("MY")
 *
 * Use it from the one file that defines TINYGRAD_IMPLEMENTATION, or from any file with tinygrad.h: it calls only the
 * public API (tg_device_register, tg_device_error). examples/custom_device.c runs it; tests/test_custom_device.c
 * tests it. POSIX: mkdtemp, popen, dlopen. */
#ifndef MY_DEVICE_H
#define MY_DEVICE_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinygrad.h"

/* the allocator: host memory */
static void *my_alloc(void *ctx, size_t nbytes) {
  (void)ctx;
  return malloc(nbytes ? nbytes : 1);
}
static void my_free(void *ctx, void *ptr) {
  (void)ctx;
  free(ptr);
}
static int my_copy(void *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  memcpy(dst, src, nbytes);
  return 0;
}

/* a private scratch directory for one compile or load (mkdtemp: nobody else can write it) */
static int my_tmpdir(char *dir, size_t n) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, n, "%s/my-device-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
}

/* the whole of a file, malloc'd (the library frees a blob with free), its length in *n; NULL if it cannot be read */
static void *my_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  char *p = len >= 0 ? (char *)malloc((size_t)len + 1) : NULL;
  if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) p[len] = 0, *n = (size_t)len;
  return p;
}

static int my_write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(p, 1, n, f);
  return fclose(f) == 0 && w == n ? 0 : -1;
}

/* the compiler: the kernel's C (the "C" dialect: it defines void NAME_entry(void **bufs, int64_t start, int64_t end))
 * through `cc` into a shared object, whose bytes are the binary the library keeps in its disk cache */
static void *my_compile(void *ctx, const char *name, const char *src, size_t *size, char *err, size_t nerr) {
  (void)ctx;
  char dir[512], c[600], so[600], log[600], cmd[2048];
  if (my_tmpdir(dir, sizeof dir) != 0) {
    snprintf(err, nerr, "MY: no temporary directory");
    return NULL;
  }
  snprintf(c, sizeof c, "%s/k.c", dir);
  snprintf(so, sizeof so, "%s/k.so", dir);
  snprintf(log, sizeof log, "%s/log", dir);
  snprintf(cmd, sizeof cmd, "cc -shared -fPIC -O2 -march=native -x c -o %s %s -lm 2> %s", so, c, log);
  void *blob = NULL;
  if (my_write_file(c, src, strlen(src)) != 0) snprintf(err, nerr, "MY: cannot write %s", c);
  else if (system(cmd) != 0) { /* the compiler's complaint is the error */
    size_t n = 0;
    char *said = (char *)my_read_file(log, &n);
    snprintf(err, nerr, "cc failed on kernel %s: %.900s", name, said ? said : "(no output)");
    free(said);
  } else if (!(blob = my_read_file(so, size))) snprintf(err, nerr, "MY: cc wrote no %s", so);
  unlink(c), unlink(so), unlink(log), rmdir(dir);
  return blob;
}

/* what changes the binaries besides the source: the compiler (its --version) and its flags. Blobs are cached on disk
 * under it, so a second run compiles nothing; NULL would cache nothing. */
static const char *my_cache_key(void *ctx) {
  static char key[1024];
  (void)ctx;
  if (!key[0]) {
    FILE *p = popen("cc --version 2>&1", "r");
    size_t n = p ? fread(key, 1, sizeof key - 64, p) : 0;
    if (p) pclose(p);
    snprintf(key + n, sizeof key - n, "\nMY 1: cc -shared -fPIC -O2 -march=native");
  }
  return key;
}

/* the runner: a program is the entry point of a dlopen'd copy of the binary */
typedef void (*my_entry)(void **bufs, int64_t start, int64_t end);
typedef struct my_program { void *dl; my_entry entry; } my_program;

static void *my_load(void *ctx, const char *name, const void *blob, size_t size) {
  (void)ctx;
  char dir[512], so[600], sym[256];
  if (my_tmpdir(dir, sizeof dir) != 0) {
    tg_device_error("MY: no temporary directory");
    return NULL;
  }
  snprintf(so, sizeof so, "%s/k.so", dir);
  void *dl = my_write_file(so, blob, size) == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
  if (!dl) tg_device_error("MY: cannot load kernel %s: %s", name, dlerror());
  unlink(so), rmdir(dir);
  if (!dl) return NULL;
  snprintf(sym, sizeof sym, "%s_entry", name);
  void *fn = dlsym(dl, sym);
  my_program *p = fn ? (my_program *)malloc(sizeof *p) : NULL;
  if (!p) {
    tg_device_error("MY: kernel %s has no %s", name, sym);
    dlclose(dl);
    return NULL;
  }
  p->dl = dl;
  memcpy(&p->entry, &fn, sizeof fn); /* POSIX: a data pointer from dlsym is a function */
  return p;
}

static void my_unload(void *ctx, void *program) {
  (void)ctx;
  dlclose(((my_program *)program)->dl);
  free(program);
}

/* every iteration of the kernel's outer loop, on this one thread */
static int my_launch(void *ctx, const tg_launch *l) {
  (void)ctx;
  ((my_program *)l->program)->entry(l->bufs, 0, l->global[0]);
  return 0;
}

static int my_synchronize(void *ctx) {
  (void)ctx;
  return 0; /* launches return when they are done */
}

/* registers the device under `name`: 0, or -1 with tg_error() saying why */
static int my_device_register(const char *name) {
  tg_device_desc d;
  memset(&d, 0, sizeof d);
  d.size = sizeof d; /* what this file was compiled with: a later library reads the fields it knows */
  d.version = TG_DEVICE_API_VERSION;
  d.dialect = "C";
  d.alloc = my_alloc, d.free = my_free, d.copy_in = my_copy, d.copy_out = my_copy;
  d.compile = my_compile, d.cache_key = my_cache_key;
  d.load = my_load, d.unload = my_unload, d.launch = my_launch, d.synchronize = my_synchronize;
  return tg_device_register(name, &d);
}

#endif /* MY_DEVICE_H */
