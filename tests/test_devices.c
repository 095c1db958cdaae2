/* test_devices.c: devices as a user sees them: DEV, tg_synchronize, and the backends of backends/ (which runner.c
 * includes) on a machine that may lack their drivers. The suite as a whole also runs on a backend: DEV=OPENCL
 * (PoCL in CI) or DEV=CUDA (on a GPU machine). */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include "helpers.h"

TEST(test_dev_synchronize) {
  CHECK_EQ_INT(tg_synchronize(NULL), 0);
  CHECK_EQ_INT(tg_synchronize("CPU"), 0);
  CHECK_EQ_INT(tg_synchronize("cpu"), 0); /* names are case-insensitive */
  tg_clear_error();
  CHECK_EQ_INT(tg_synchronize("NOPE"), -1);
  CHECK_ERROR_HAS("unknown device 'NOPE'");
  tg_clear_error();
}

/* A sum on the backend that DEV names. Where it works, the value is right and the tensor lives there; where its
 * driver (or a device) is missing, as on CI for CUDA, the failing call returns an error that names the device and
 * gives a hint, nothing crashes, and the default device keeps working afterwards. */
static void check_backend(const char *name) {
  const char *old = getenv("DEV");
  char saved[64] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("DEV", name, 1);
  tg_scope_begin();
  tg_clear_error();
  static const float in[4] = {1, 2, 3, 4};
  tg_tensor *x = TEST_F32(in, 4);
  double v = x ? tg_item(tg_sum(tg_mul_s(x, 2), 0, NULL, 0)) : NAN;
  if (isnan(v)) {
    CHECK_ERROR_HAS(name);
    CHECK_ERROR_HAS("HINT");
    CHECK(tg_synchronize(name) <= 0); /* no crash; a device that never started has nothing to wait for */
  } else {
    CHECK_NEAR(v, 20, 0);
    CHECK_STR(tg_device_of(x), name);
    CHECK_EQ_INT(tg_synchronize(name), 0);
  }
  tg_scope_end();
  if (old) setenv("DEV", saved, 1);
  else unsetenv("DEV");
  tg_clear_error();
  tg_scope_begin();
  x = TEST_F32(in, 4);
  CHECK_NEAR(tg_item(tg_sum(x, 0, NULL, 0)), 10, 0);
  tg_scope_end();
}

TEST(test_dev_cuda) { check_backend("CUDA"); }
TEST(test_dev_opencl) { check_backend("OPENCL"); }
