/* fuzz_idx.c: libFuzzer target for tg_idx_load, plain and gzip (make fuzz).
 *
 * Contract:
 *  - The first byte of the input picks the mode: even, the rest is the file as is (an IDX file, or gzip bytes to
 *    break the gzip reader with); odd, the rest is an IDX file that this target gzips (through libz, loaded as the
 *    library loads it), so that mutations reach the IDX parser behind a valid gzip stream.
 *  - The file goes to a private directory (mkdtemp, in /dev/shm when there is one; removed at exit) and through the
 *    public tg_idx_load, which reads only from a path. A tensor that loads must hold the file's data: its element
 *    count and byte count match the header, and a plain file's data bytes (big-endian) are the tensor's, reversed per
 *    element. Anything else traps, and so does a refusal without an error or a compiler invocation.
 *  - Everything allocated is freed (libFuzzer runs LeakSanitizer). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[64], fz_path[128];
static void *fz_libz;
static void *(*fz_gzopen)(const char *path, const char *mode);
static int (*fz_gzwrite)(void *file, const void *buf, unsigned len);
static int (*fz_gzclose)(void *file);

static void fz_cleanup(void) {
  unlink(fz_path);
  rmdir(fz_dir);
  if (fz_libz) dlclose(fz_libz);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(fz_dir, sizeof fz_dir, "%s/tg_fuzz_idx_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  if (!mkdtemp(fz_dir)) __builtin_trap();
  snprintf(fz_path, sizeof fz_path, "%s/input", fz_dir);
  fz_libz = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (fz_libz) {
    void *p[3] = {dlsym(fz_libz, "gzopen"), dlsym(fz_libz, "gzwrite"), dlsym(fz_libz, "gzclose")};
    memcpy(&fz_gzopen, &p[0], sizeof p[0]);
    memcpy(&fz_gzwrite, &p[1], sizeof p[1]);
    memcpy(&fz_gzclose, &p[2], sizeof p[2]);
    if (!p[0] || !p[1] || !p[2]) __builtin_trap();
  }
  atexit(fz_cleanup);
  return 0;
}

/* the file of this input; 0, or -1 when it cannot be made (no libz for the gzip mode) */
static int fz_write(const uint8_t *data, size_t size, int gz) {
  if (gz) {
    if (!fz_libz) return -1;
    void *f = fz_gzopen(fz_path, "wb");
    if (!f) __builtin_trap();
    if (size && fz_gzwrite(f, data, (unsigned)size) != (int)size) __builtin_trap();
    if (fz_gzclose(f) != 0) __builtin_trap();
    return 0;
  }
  FILE *f = fopen(fz_path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size)) __builtin_trap();
  fclose(f);
  return 0;
}

/* t is what the IDX bytes f (n bytes, a valid file: tg_idx_load accepted it) hold */
static void fz_check(tg_tensor *t, const uint8_t *f, size_t n) {
  int ndim = f[3], es = tg_dtype_size(tg_dtype_of(t));
  size_t head = 4 + 4 * (size_t)ndim, numel = 1;
  if (tg_ndim(t) != ndim) __builtin_trap();
  for (int d = 0; d < ndim; d++) {
    const uint8_t *s = f + 4 + 4 * d;
    int64_t dim = ((int64_t)s[0] << 24) | ((int64_t)s[1] << 16) | ((int64_t)s[2] << 8) | s[3];
    if (tg_shape(t)[d] != dim) __builtin_trap();
    numel *= (size_t)dim;
  }
  if ((size_t)tg_numel(t) != numel || head + numel * (size_t)es != n) __builtin_trap();
  unsigned char *b = (unsigned char *)malloc(numel * (size_t)es + 1);
  if (tg_to_host(t, b, numel * (size_t)es) != 0) __builtin_trap();
  for (size_t i = 0; i < numel * (size_t)es; i++) /* little-endian host: each element's bytes reversed */
    if (b[i] != f[head + i - i % (size_t)es + (size_t)es - 1 - i % (size_t)es]) __builtin_trap();
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int gz = data[0] & 1;
  if (fz_write(data + 1, size - 1, gz) < 0) return 0;
  tg_tensor *t = tg_idx_load(fz_path);
  if (!t && !tg_error()) __builtin_trap();
  /* a plain IDX file: the tensor holds it (a gzip file in the plain mode is checked by the gzip mode) */
  int gzip_bytes = size >= 3 && data[1] == 0x1f && data[2] == 0x8b;
  if (t && (gz || !gzip_bytes)) fz_check(t, data + 1, size - 1);
  tg_free(t);
  if (tg_compiler_invocations() != 0) __builtin_trap();
  tg_clear_error();
  tg__uop_gc(NULL, 0); /* frees this input's nodes now: libFuzzer's check for leaks after each input stays exact */
  return 0;
}
