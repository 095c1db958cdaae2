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

/* restores DEV as it was (saved by test_dev_set) */
typedef struct test_dev_saved { int had; char v[64]; } test_dev_saved;
static test_dev_saved test_dev_set(const char *name) {
  test_dev_saved s = {0, ""};
  const char *old = getenv("DEV");
  if (old) s.had = 1, snprintf(s.v, sizeof s.v, "%s", old);
  setenv("DEV", name, 1);
  return s;
}
static void test_dev_restore(test_dev_saved s) {
  if (s.had) setenv("DEV", s.v, 1);
  else unsetenv("DEV");
}

/* Runs the assignments still pending (a draw advances its device's counter lazily; any realisation runs them all):
 * done before DEV changes, since one schedule cannot read two devices */
static void test_flush_pending(void) {
  static const float one = 1; /* data, not a constant: a realised constant would be read from memory ever after */
  tg_tensor *z = tg_from_float(&one, TG_SHAPE(1));
  CHECK_EQ_INT(tg_realize(z), 0);
  tg_free(z);
}

/* a creator that must fail on the device DEV names: NULL, and a message naming the creator and the device */
#define CHECK_DEV_FAILS(expr, fn, dev)                                                                                \
  do {                                                                                                                \
    tg_clear_error();                                                                                                 \
    CHECK_NULL(expr);                                                                                                 \
    CHECK_ERROR_HAS(fn);                                                                                              \
    CHECK_ERROR_HAS(dev);                                                                                             \
  } while (0)

/* the same for a layer's _init: -1 and the struct left zeroed */
#define CHECK_INIT_FAILS(call, m, fn, dev)                                                                            \
  do {                                                                                                                \
    tg_clear_error();                                                                                                 \
    CHECK_EQ_INT(call, -1);                                                                                           \
    CHECK_NULL(m.weight);                                                                                             \
    CHECK_ERROR_HAS(fn);                                                                                              \
    CHECK_ERROR_HAS(dev);                                                                                             \
  } while (0)

/* DEV is looked up at every creation: with a name no device has, every creator returns NULL with an error naming
 * itself and the device (random numbers and initialisers used to dereference the counter they could not make) */
TEST(test_dev_unknown_creators) {
  tg_scope_begin();
  static const float in[4] = {1, 2, 3, 4};
  tg_tensor *t = TEST_F32(in, 2, 2); /* made on the real default device, before DEV changes */
  tg_tensor *p = tg_requires_grad(TEST_F32(in, 4), 1);
  test_flush_pending();
  test_dev_saved saved = test_dev_set("NO_SUCH_DEV");
  const char *dev = "unknown device 'NO_SUCH_DEV'";
  CHECK_DEV_FAILS(tg_from_data(in, TG_FLOAT32, TG_SHAPE(4)), "tg_from_data", dev);
  CHECK_DEV_FAILS(tg_from_float(in, TG_SHAPE(4)), "tg_from_data", dev);
  CHECK_DEV_FAILS(tg_scalar(1, TG_FLOAT32), "tg_scalar", dev);
  CHECK_DEV_FAILS(tg_empty(TG_FLOAT32, TG_SHAPE(2)), "tg_empty", dev);
  CHECK_DEV_FAILS(tg_zeros(TG_FLOAT32, TG_SHAPE(2)), "tg_zeros", dev);
  CHECK_DEV_FAILS(tg_ones(TG_INT32, TG_SHAPE(2)), "tg_ones", dev);
  CHECK_DEV_FAILS(tg_full(3, TG_FLOAT32, TG_SHAPE(2)), "tg_full", dev);
  CHECK_DEV_FAILS(tg_zeros_like(t), "tg_full_like", dev);
  CHECK_DEV_FAILS(tg_ones_like(t), "tg_full_like", dev);
  CHECK_DEV_FAILS(tg_full_like(t, 2), "tg_full_like", dev);
  CHECK_DEV_FAILS(tg_arange(0, 4, 1, TG_INT32), "tg_arange", dev);
  CHECK_DEV_FAILS(tg_linspace(0, 1, 5, TG_FLOAT32), "tg_linspace", dev);
  CHECK_DEV_FAILS(tg_linspace(0, 1, 1, TG_FLOAT32), "tg_linspace", dev);
  CHECK_DEV_FAILS(tg_eye(3, 3, TG_FLOAT32), "tg_eye", dev);
  CHECK_DEV_FAILS(tg_rand(TG_FLOAT32, TG_SHAPE(2, 3)), "tg_rand", dev);
  CHECK_DEV_FAILS(tg_randn(TG_FLOAT32, TG_SHAPE(2, 3)), "tg_randn", dev);
  CHECK_DEV_FAILS(tg_uniform(-1, 1, TG_FLOAT32, TG_SHAPE(5)), "tg_uniform", dev);
  CHECK_DEV_FAILS(tg_normal(0, 1, TG_FLOAT32, TG_SHAPE(5)), "tg_normal", dev);
  CHECK_DEV_FAILS(tg_randint(0, 10, TG_INT32, TG_SHAPE(5)), "tg_randint", dev);
  CHECK_DEV_FAILS(tg_rand_like(t), "tg_rand", dev);
  CHECK_DEV_FAILS(tg_randn_like(t), "tg_randn", dev);
  CHECK_DEV_FAILS(tg_kaiming_uniform(TG_SHAPE(4, 3), 0), "tg_kaiming_uniform", dev);
  CHECK_DEV_FAILS(tg_kaiming_normal(TG_SHAPE(4, 3), 0), "tg_kaiming_normal", dev);
  CHECK_DEV_FAILS(tg_glorot_uniform(TG_SHAPE(4, 3)), "tg_glorot_uniform", dev);
  int was_training = tg_set_training(1);
  CHECK_DEV_FAILS(tg_dropout(t, 0.5), "tg_dropout: tg_rand", dev); /* its mask is a draw */
  tg_set_training(was_training);
  tg_nn_linear lin;
  CHECK_INIT_FAILS(tg_nn_linear_init(&lin, 3, 4, 1), lin, "tg_nn_linear_init", dev);
  tg_nn_conv2d c2;
  CHECK_INIT_FAILS(tg_nn_conv2d_init(&c2, 2, 4, 3, 1, 0, 1, 1, 1), c2, "tg_nn_conv2d_init", dev);
  tg_nn_conv1d c1;
  CHECK_INIT_FAILS(tg_nn_conv1d_init(&c1, 2, 4, 3, 1, 0, 1, 1, 1), c1, "tg_nn_conv1d_init", dev);
  tg_nn_conv_transpose2d ct;
  CHECK_INIT_FAILS(tg_nn_conv_transpose2d_init(&ct, 2, 4, 3, 1, 0, 0, 1, 1, 1), ct, "tg_nn_conv_transpose2d_init",
                   dev);
  tg_nn_batchnorm bn;
  CHECK_INIT_FAILS(tg_nn_batchnorm_init(&bn, 3), bn, "tg_nn_batchnorm_init", dev);
  tg_nn_layernorm ln;
  CHECK_INIT_FAILS(tg_nn_layernorm_init(&ln, 3, 1), ln, "tg_nn_layernorm_init", dev);
  tg_nn_rmsnorm rn;
  CHECK_INIT_FAILS(tg_nn_rmsnorm_init(&rn, 3), rn, "tg_nn_rmsnorm_init", dev);
  tg_nn_groupnorm gn;
  CHECK_INIT_FAILS(tg_nn_groupnorm_init(&gn, 1, 3, 1), gn, "tg_nn_groupnorm_init", dev);
  tg_nn_embedding emb;
  CHECK_INIT_FAILS(tg_nn_embedding_init(&emb, 5, 3), emb, "tg_nn_embedding_init", dev);
  CHECK_DEV_FAILS(tg_sgd(&p, 1, 0.1, 0.9, 0, 0), "tg_sgd", dev); /* its learning rate is a tensor */
  CHECK_DEV_FAILS(tg_adam(&p, 1, 0.1, 0.9, 0.999, 1e-8), "tg_adam", dev);
  tg_manual_seed(7); /* no counter to make: nothing fails */
  test_dev_restore(saved);
  /* everything works again on the real default device */
  tg_clear_error();
  tg_manual_seed(7);
  tg_tensor *r = tg_rand(TG_FLOAT32, TG_SHAPE(64));
  CHECK_NOT_NULL(r);
  double m = r ? tg_item(tg_mean(r, 0, NULL, 0)) : NAN;
  CHECK(m > 0.3 && m < 0.7);
  CHECK_NEAR(tg_item(tg_sum(tg_zeros_like(t), 0, NULL, 0)), 0, 0);
  CHECK_EQ_INT(tg_nn_linear_init(&lin, 3, 4, 1), 0);
  tg_nn_linear_free(&lin);
  test_flush_pending();
  tg_scope_end();
}

/* A backend whose driver cannot load (CUDA on a machine without a GPU, OpenCL without an ICD): every random creator
 * and initialiser fails cleanly with the driver's reason, where it used to crash; where the driver works, they give
 * numbers on that device */
static void check_backend_random(const char *name) {
  tg_scope_begin();
  test_flush_pending();
  test_dev_saved saved = test_dev_set(name);
  static const float in[2] = {1, 2};
  tg_clear_error();
  tg_tensor *probe = TEST_F32(in, 2);
  if (!probe) {
    CHECK_ERROR_HAS(name);
    CHECK_DEV_FAILS(tg_rand(TG_FLOAT32, TG_SHAPE(3)), "tg_rand", name);
    CHECK_DEV_FAILS(tg_randn(TG_FLOAT32, TG_SHAPE(3)), "tg_randn", name);
    CHECK_DEV_FAILS(tg_randint(0, 5, TG_INT32, TG_SHAPE(3)), "tg_randint", name);
    CHECK_DEV_FAILS(tg_kaiming_uniform(TG_SHAPE(4, 3), 0), "tg_kaiming_uniform", name);
    tg_nn_linear lin;
    CHECK_INIT_FAILS(tg_nn_linear_init(&lin, 3, 4, 1), lin, "tg_nn_linear_init", name);
  } else {
    tg_tensor *r = tg_rand(TG_FLOAT32, TG_SHAPE(64));
    CHECK_NOT_NULL(r);
    CHECK_STR(r ? tg_device_of(r) : NULL, name);
    double m = r ? tg_item(tg_mean(r, 0, NULL, 0)) : NAN; /* runs the counter's assignment too */
    CHECK(m > 0.3 && m < 0.7);
  }
  test_dev_restore(saved);
  tg_scope_end();
  tg_clear_error();
}

TEST(test_dev_cuda_random) { check_backend_random("CUDA"); }
TEST(test_dev_opencl_random) { check_backend_random("OPENCL"); }

/* tg_set_default_device: tinygrad's Device.DEFAULT. Device strings as tinygrad's (case-insensitive, ":0"); an unknown
 * name or index is an error listing what there is, and leaves the default as it was; NULL goes back to DEV */
static const char *dev_other(void);

TEST(test_dev_default_device) {
  tg_scope_begin();
  const char *env = tg_default_device();
  CHECK_NOT_NULL(env);
  char was[32] = "";
  if (env) snprintf(was, sizeof was, "%s", env);
  CHECK_EQ_INT(tg_set_default_device("cpu"), 0);
  CHECK_STR(tg_default_device(), "CPU");
  CHECK_STR(tg_device_of(tg_zeros(TG_FLOAT32, TG_SHAPE(2))), "CPU");
  CHECK_EQ_INT(tg_set_default_device("CPU:0"), 0);
  tg_clear_error();
  CHECK_EQ_INT(tg_set_default_device("CPU:1"), -1);
  CHECK_ERROR_HAS("tg_set_default_device");
  CHECK_ERROR_HAS("index 0");
  tg_clear_error();
  CHECK_EQ_INT(tg_set_default_device("CPU:x"), -1);
  CHECK_ERROR_HAS("unknown device 'CPU:x'");
  tg_clear_error();
  CHECK_EQ_INT(tg_set_default_device("NOPE"), -1);
  CHECK_ERROR_HAS("known: CPU");
  CHECK_STR(tg_default_device(), "CPU"); /* unchanged */
  /* another device, where its driver loads (a registered device whose driver is missing, PoCL not installed, is set
   * as the default all the same, and fails when used): creation, random numbers and layers follow the default */
  if (dev_other() && tg_set_default_device("opencl") == 0) {
    tg_tensor *z = tg_zeros(TG_FLOAT32, TG_SHAPE(3)), *r = tg_rand(TG_FLOAT32, TG_SHAPE(3));
    tg_nn_linear lin;
    CHECK_EQ_INT(tg_nn_linear_init(&lin, 3, 2, 1), 0);
    CHECK_STR(tg_device_of(z), "OPENCL");
    CHECK_STR(tg_device_of(r), "OPENCL");
    CHECK_STR(tg_device_of(lin.weight), "OPENCL");
    tg_tensor *y = tg_nn_linear_forward(&lin, tg_add(z, r));
    CHECK(y && tg_realize(y) == 0 && !strcmp(tg_device_of(y), "OPENCL"));
    CHECK_EQ_INT(tg_set_default_device("CPU"), 0);
    /* a graph over two devices is an error naming both */
    static const float two[2] = {1, 2};
    tg_tensor *c = TEST_F32(two, 2); /* a CPU buffer (constants alone run anywhere) */
    tg_clear_error();
    tg_tensor *mixed = tg_add(c, y); /* y lives in an OpenCL buffer */
    CHECK(mixed == NULL || tg_realize(mixed) == -1);
    CHECK_ERROR_HAS("OPENCL");
    tg_nn_linear_free(&lin);
  } else {
    tg_clear_error();
  }
  CHECK_EQ_INT(tg_set_default_device(NULL), 0);
  CHECK_STR(tg_default_device(), was);
  tg_scope_end();
}

/* tg_to: tinygrad's Tensor.to, between the CPU and OpenCL (PoCL in CI): lazy copies through the host, values and
 * dtypes round trip, gradients flow back, a JIT replays the copies, and errors name what is wrong */
static const char *dev_other(void) { /* the device that is not the default, when OpenCL is there */
  const char *def = tg_default_device();
  if (!def) return NULL;
  const char *other = strcmp(def, "CPU") ? "CPU" : "OPENCL";
  tg_tensor *probe = tg_to(tg_zeros(TG_FLOAT32, TG_SHAPE(1)), other);
  int ok = probe && tg_realize(probe) == 0;
  tg_free(probe);
  tg_clear_error();
  return ok ? other : NULL;
}

static const char *dev_to_target; /* the device dev_to_step copies to */
static int dev_to_step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  const char *home = tg_device_of(in[0]);
  out[0] = tg_to(tg_add_s(tg_mul_s(tg_to(in[0], dev_to_target), 2), 1), home);
  return tg_realize(out[0]);
}

TEST(test_dev_to) {
  const char *other = dev_other();
  if (!other) {
    printf("test_dev_to: no second device (OpenCL's driver is missing): skipped\n");
    return;
  }
  tg_scope_begin();
  const char *home = tg_default_device();
  static const float v[6] = {1, -2, 3.5f, 4, 5, -6};
  tg_tensor *x = TEST_F32(v, 2, 3);
  tg_tensor *y = tg_to(tg_mul_s(x, 2), other);
  CHECK_STR(tg_device_of(y), other);
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = 2 * v[i] + 1;
  CHECK_TENSOR(tg_add_s(y, 1), want, 0, 2, 3);   /* computed on the other device */
  static const float twice[6] = {2, -4, 7, 8, 10, -12};
  CHECK_TENSOR(tg_to(y, home), twice, 0, 2, 3);
  /* the same device: the value as it is, no copy */
  tg_realize(x);
  int64_t before = tg_kernel_launches();
  tg_tensor *same = tg_to(x, home);
  CHECK_EQ_INT(tg_realize(same), 0);
  CHECK_EQ_INT(tg_kernel_launches() - before, 0);
  /* dtypes round trip bit for bit */
  static const int32_t iv[4] = {-7, 0, 2147483647, -2147483647 - 1};
  static const uint16_t hv[4] = {0x3c00, 0xfbff, 0x0001, 0x7e00}; /* 1, -65504, the smallest subnormal, NaN */
  static const uint8_t bv[4] = {1, 0, 0, 1};
  CHECK_RAW(tg_to(tg_to(TEST_DATA(iv, TG_INT32, 4), other), home), TG_INT32, iv, 4);
  CHECK_RAW(tg_to(tg_to(TEST_DATA(hv, TG_FLOAT16, 4), other), home), TG_FLOAT16, hv, 4);
  CHECK_RAW(tg_to(TEST_DATA(bv, TG_BOOL, 4), other), TG_BOOL, bv, 4);
  /* gradients flow back across it: d/dw sum(to(w)^2) = 2w, on w's device */
  tg_tensor *w = tg_requires_grad(TEST_F32(v, 2, 3), 1);
  tg_tensor *wo = tg_to(w, other);
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(wo, wo), 0, NULL, 0)), 0);
  CHECK_STR(tg_device_of(tg_grad(w)), home);
  CHECK_TENSOR(tg_grad(w), twice, 0, 2, 3);
  /* errors: an unknown device; a graph over two devices without tg_to names it */
  tg_clear_error();
  CHECK_NULL(tg_to(x, "NOPE"));
  CHECK_ERROR_HAS("tg_to");
  CHECK_ERROR_HAS("unknown device 'NOPE'");
  tg_tensor *mixed = tg_add(x, y);
  tg_clear_error();
  CHECK(mixed == NULL || tg_realize(mixed) == -1);
  CHECK_ERROR_HAS("tg_to(t,");
  tg_scope_end();
  /* a JIT step that copies there and back: captured once, replayed on new inputs */
  dev_to_target = other;
  tg_jit *j = tg_jit_new(dev_to_step, NULL);
  for (int r = 0; r < 4; r++) {
    tg_scope_begin();
    float in[3] = {(float)r, (float)(r + 1), (float)(-r)}, got[3] = {2 * in[0] + 1, 2 * in[1] + 1, 2 * in[2] + 1};
    tg_tensor *a = TEST_F32(in, 3), *out = NULL;
    tg_realize(a);
    CHECK_EQ_INT(tg_jit_run(j, &a, 1, &out, 1), 0);
    CHECK_TENSOR(out, got, 0, 3);
    if (out) CHECK_STR(tg_device_of(out), home);
    tg_scope_end();
  }
  tg_jit_free(j);
}
