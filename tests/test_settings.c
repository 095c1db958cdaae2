/* test_settings.c: the settings a program changes at run time (tg_set_setting, tg_setting and the tg_set_debug
 * family): read back, errors for unknown names, and each one's effect where a test can see it (DEBUG=2's kernel
 * lines, JIT=0 running the function each time, NOOPT and THREADS leaving the values as they were). */
#define _POSIX_C_SOURCE 200809L /* fileno, dup */
#include <fcntl.h>

#include "helpers.h"

TEST(test_settings_read_back) {
  int debug0 = tg_setting("DEBUG"), beam0 = tg_setting("beam");
  const char *env = getenv("DEBUG");
  CHECK_EQ_INT(debug0, env && env[0] ? atoi(env) : 0); /* the environment's, by default */
  CHECK_EQ_INT(tg_setting("JIT_GRAPH"), getenv("JIT_GRAPH") ? atoi(getenv("JIT_GRAPH")) : 1);
  CHECK_EQ_INT(tg_set_setting("Beam", 3), 0); /* names are case-insensitive */
  CHECK_EQ_INT(tg_setting("BEAM"), 3);
  CHECK_EQ_INT(tg_set_beam(beam0), 0);
  CHECK_EQ_INT(tg_setting("BEAM"), beam0);
  CHECK_EQ_INT(tg_set_noopt(1), 0);
  CHECK_EQ_INT(tg_setting("NOOPT"), 1);
  CHECK_EQ_INT(tg_set_noopt(0), 0);
  tg_clear_error();
  CHECK_EQ_INT(tg_set_setting("DEBGU", 2), -1);
  CHECK_ERROR_HAS("unknown setting 'DEBGU'");
  CHECK_ERROR_HAS("DEBUG, NOOPT, BEAM");
  tg_clear_error();
  CHECK_EQ_INT(tg_setting(NULL), -1);
  CHECK_ERROR_HAS("tg_setting: unknown setting");
  tg_clear_error();
  CHECK_EQ_INT(tg_set_threads(-2), -1);
  CHECK_ERROR_HAS("THREADS = -2");
  tg_clear_error();
  CHECK_EQ_INT(tg_setting("DEBUG"), debug0);
}

/* DEBUG=2 prints a line per kernel on stdout ("*** CPU ..."), DEBUG=0 none */
TEST(test_settings_debug_lines) {
  if (!test_on_cpu()) return;
  int debug0 = tg_setting("DEBUG");
  char path[] = "/tmp/tg-settings-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  fflush(stdout);
  int saved = dup(1);
  dup2(fd, 1);
  static const float v[4] = {1, 2, 3, 4};
  for (int level = 0; level <= 2; level += 2) {
    CHECK_EQ_INT(tg_set_debug(level), 0);
    tg_scope_begin();
    CHECK_NEAR(tg_item(tg_sum(tg_exp(TEST_F32(v, 4)), 0, NULL, 0)), 84.79102, 1e-4); /* e + e^2 + e^3 + e^4 */
    tg_scope_end();
    fflush(stdout);
    if (level == 0) CHECK_EQ_INT((int)lseek(fd, 0, SEEK_END), 0); /* nothing at DEBUG=0 */
  }
  tg_set_debug(debug0);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  char buf[4096] = "";
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  close(fd);
  unlink(path);
  CHECK(strstr(buf, "*** CPU") != NULL);
  CHECK(strstr(buf, "GFLOPS") != NULL);
}

static int ts_calls;
static int ts_fn(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  ts_calls++;
  out[0] = tg_sum(tg_mul_s(in[0], 3), 0, NULL, 0);
  return 0;
}

/* JIT=1: the function runs on the first two calls, then is replayed; JIT=0: it runs on every call */
TEST(test_settings_jit_off) {
  int jit0 = tg_setting("JIT");
  for (int on = 1; on >= 0; on--) {
    CHECK_EQ_INT(tg_set_setting("JIT", on), 0);
    tg_jit *j = tg_jit_new(ts_fn, NULL);
    ts_calls = 0;
    for (int call = 0; call < 4; call++) {
      tg_scope_begin();
      float v[3] = {1, 2, (float)call};
      tg_tensor *x = TEST_F32(v, 3), *out = NULL;
      CHECK_EQ_INT(tg_jit_run(j, &x, 1, &out, 1), 0);
      CHECK_NEAR(tg_item(out), 3.0 * (3 + call), 1e-5);
      tg_scope_end();
    }
    CHECK_EQ_INT(ts_calls, on ? 2 : 4);
    tg_jit_free(j);
  }
  tg_set_setting("JIT", jit0);
}

/* NOOPT and THREADS change how kernels run, never what they compute */
TEST(test_settings_same_values) {
  int noopt0 = tg_setting("NOOPT"), threads0 = tg_setting("THREADS");
  float a[64 * 48], b[48 * 32];
  for (int i = 0; i < 64 * 48; i++) a[i] = (float)((i * 7) % 11) - 5;
  for (int i = 0; i < 48 * 32; i++) b[i] = (float)((i * 5) % 7) - 3;
  float *first = NULL;
  static const int noopt[4] = {0, 1, 0, 0}, threads[4] = {0, 0, 1, 2};
  for (int k = 0; k < 4; k++) {
    CHECK_EQ_INT(tg_set_noopt(noopt[k]), 0);
    CHECK_EQ_INT(tg_set_threads(threads[k]), 0);
    tg_scope_begin();
    tg_tensor *m = tg_matmul(tg_from_float(a, TG_SHAPE(64, 48)), tg_from_float(b, TG_SHAPE(48, 32)));
    float *got = tg_to_float(m);
    CHECK_NOT_NULL(got);
    if (k == 0) first = got;
    else if (got && first) {
      CHECK(memcmp(got, first, sizeof(float) * 64 * 32) == 0); /* integers: exact in any order */
      free(got);
    }
    tg_scope_end();
  }
  free(first);
  tg_set_noopt(noopt0);
  tg_set_threads(threads0);
}
