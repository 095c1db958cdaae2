/* test_custom_device.c: devices registered through the public interface (tg_device_register, api.h): the example's
 * "MY" device (examples/my_device.h: malloc, cc, dlopen), creation on it, copies and gradients through tg_to, a
 * dialect table, the optional fields, the size field, and every way a registration or a device can fail, with the
 * other devices working on. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, popen: my_device.h */
#include <stddef.h>

#include "helpers.h"
#include "examples/my_device.h"

/* MY, registered once for the whole run (a name cannot be registered twice) */
static void tcd_my(void) {
  static int done;
  if (!done) CHECK_EQ_INT(my_device_register("MY"), 0);
  done = 1;
}

/* the MY description, for devices that change one part of it */
static tg_device_desc tcd_desc(void) {
  tg_device_desc d;
  memset(&d, 0, sizeof d);
  d.size = sizeof d;
  d.version = TG_DEVICE_API_VERSION;
  d.dialect = "C";
  d.alloc = my_alloc, d.free = my_free, d.copy_in = my_copy, d.copy_out = my_copy;
  d.compile = my_compile, d.load = my_load, d.unload = my_unload, d.launch = my_launch, d.synchronize = my_synchronize;
  return d;
}

/* registers `name` with d once (later calls: nothing); 1 when it is there */
static int tcd_register_once(const char *name, tg_device_desc d) {
  tg_clear_error();
  int rc = tg_device_register(name, &d);
  if (rc != 0 && tg_error() && strstr(tg_error(), "already registered")) rc = 0;
  tg_clear_error();
  return rc == 0;
}

TEST(test_custom_device_add) {
  tcd_my();
  static const float u[3] = {1, 2, 3}, v[3] = {4, 5, 6}, want[3] = {5, 7, 9};
  tg_scope_begin();
  tg_tensor *s = tg_add(tg_to(tg_from_float(u, TG_SHAPE(3)), "MY"), tg_to(tg_from_float(v, TG_SHAPE(3)), "my"));
  CHECK_TENSOR(s, want, 0, 3);
  CHECK_STR(tg_device_of(s), "MY");
  CHECK_EQ_INT(tg_synchronize("MY:0"), 0);
  tg_scope_end();
}

/* Creation on MY through the default device: constants, arange, random numbers (the CPU's stream: the same values),
 * a layer's weights; a matmul equals the CPU's. */
TEST(test_custom_device_creation) {
  tcd_my();
  tg_scope_begin();
  tg_manual_seed(7);
  tg_tensor *r_cpu = tg_rand(TG_FLOAT32, TG_SHAPE(4, 5));
  float *want_r = tg_to_float(r_cpu);
  CHECK_EQ_INT(tg_set_default_device("MY"), 0);
  CHECK_STR(tg_default_device(), "MY");
  tg_manual_seed(7);
  tg_tensor *r = tg_rand(TG_FLOAT32, TG_SHAPE(4, 5)), *z = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 2));
  tg_tensor *a = tg_arange(0, 6, 1, TG_FLOAT32);
  CHECK_STR(tg_device_of(r), "MY");
  CHECK_STR(tg_device_of(z), "MY");
  if (want_r) CHECK_TENSOR(r, want_r, 0, 4, 5);
  static const float zeros[4] = {0, 0, 0, 0}, ar[6] = {0, 1, 2, 3, 4, 5};
  CHECK_TENSOR(z, zeros, 0, 2, 2);
  CHECK_TENSOR(a, ar, 0, 6);
  tg_tensor *m = tg_matmul(r, tg_transpose(r, 0, 1));
  tg_set_default_device(NULL);
  tg_tensor *m_cpu = tg_matmul(r_cpu, tg_transpose(r_cpu, 0, 1));
  float *want_m = tg_to_float(m_cpu);
  if (want_m) CHECK_TENSOR(m, want_m, 1e-5, 4, 4);
  free(want_r);
  free(want_m);
  tg_scope_end();
}

/* tg_to between MY and the CPU, both ways, four dtypes bit for bit; the gradient of a loss on MY flows back to a
 * parameter on the CPU */
TEST(test_custom_device_to_and_grad) {
  tcd_my();
  tg_scope_begin();
  tg_set_default_device("CPU"); /* the suite may run on DEV=OPENCL */
  static const int32_t ints[4] = {-7, 0, 1 << 30, 42};
  tg_tensor *i = tg_to(tg_to(tg_from_data(ints, TG_INT32, TG_SHAPE(4)), "MY"), "CPU");
  CHECK_RAW(i, TG_INT32, ints, 4);
  static const float xs[3] = {1, -2, 3};
  tg_tensor *x = tg_requires_grad(tg_from_float(xs, TG_SHAPE(3)), 1);
  tg_tensor *loss = tg_sum(tg_square(tg_to(x, "MY")), 0, NULL, 0);
  CHECK_STR(tg_device_of(loss), "MY");
  CHECK_EQ_INT(tg_backward(loss), 0);
  static const float g[3] = {2, -4, 6};
  CHECK_TENSOR(tg_grad(x), g, 0, 3);
  CHECK_STR(tg_device_of(tg_grad(x)), "CPU");
  tg_set_default_device(NULL);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// registration errors

TEST(test_custom_device_register_errors) {
  tcd_my();
  tg_device_desc d = tcd_desc();
  static const char *const bad_names[] = {"", "my dev", "CUDA:1", "a_name_of_more_than_thirty_one_chars"};
  for (int i = 0; i < 4; i++) {
    tg_clear_error();
    CHECK_EQ_INT(tg_device_register(bad_names[i], &d), -1);
    CHECK_ERROR_HAS("letters, digits or '_'");
  }
  tg_clear_error();
  CHECK_EQ_INT(tg_device_register(NULL, &d), -1);
  CHECK_EQ_INT(tg_device_register("NODESC", NULL), -1);
  CHECK_ERROR_HAS("description is NULL");
  /* twice, in any case; the built-in names are taken too */
  static const char *const taken[] = {"MY", "my", "CPU"};
  for (int i = 0; i < 3; i++) {
    tg_clear_error();
    CHECK_EQ_INT(tg_device_register(taken[i], &d), -1);
    CHECK_ERROR_HAS("already registered");
    CHECK_ERROR_HAS("tg_device_register");
  }
  /* a required function missing, each named */
  static const char *const required[] = {"alloc", "compile", "load", "launch", "synchronize"};
  for (int i = 0; i < 5; i++) {
    tg_device_desc m = tcd_desc();
    if (i == 0) m.alloc = NULL;
    if (i == 1) m.compile = NULL;
    if (i == 2) m.load = NULL;
    if (i == 3) m.launch = NULL;
    if (i == 4) m.synchronize = NULL;
    tg_clear_error();
    CHECK_EQ_INT(tg_device_register("HALF", &m), -1);
    char want[64];
    snprintf(want, sizeof want, "its %s is NULL", required[i]);
    CHECK_ERROR_HAS(want);
  }
  /* another version, a size too small for the required fields, an unknown dialect */
  tg_device_desc v = tcd_desc();
  v.version = TG_DEVICE_API_VERSION + 1;
  tg_clear_error();
  CHECK_EQ_INT(tg_device_register("FUTURE", &v), -1);
  CHECK_ERROR_HAS("version");
  v = tcd_desc();
  v.size = offsetof(tg_device_desc, load);
  tg_clear_error();
  CHECK_EQ_INT(tg_device_register("TINY", &v), -1);
  CHECK_ERROR_HAS("sizeof(tg_device_desc)");
  v = tcd_desc();
  v.dialect = "FORTRAN";
  tg_clear_error();
  CHECK_EQ_INT(tg_device_register("OLD", &v), -1);
  CHECK_ERROR_HAS("unknown dialect 'FORTRAN'");
  /* none of them was registered: an unknown name lists what there is, MY included */
  tg_clear_error();
  CHECK_EQ_INT(tg_set_default_device("HALF"), -1);
  CHECK_ERROR_HAS("unknown device 'HALF'");
  CHECK_ERROR_HAS("MY");
  CHECK_ERROR_HAS("CPU");
  tg_clear_error();
}

/* A description compiled against an older tinygrad.h (a smaller size): the fields past its size are not read, even
 * where the caller's memory holds garbage there */
TEST(test_custom_device_older_size) {
  tg_device_desc d = tcd_desc();
  d.size = offsetof(tg_device_desc, describe); /* up to synchronize: a description without the optional fields */
  d.describe = (void (*)(void *, tg_device_props *))(uintptr_t)1; /* would crash if called */
  d.offset = (void *(*)(void *, void *, size_t))(uintptr_t)1;
  CHECK(tcd_register_once("OLDSIZE", d));
  static const float u[4] = {1, 2, 3, 4}, want[2] = {2, 3};
  tg_scope_begin();
  tg_tensor *x = tg_to(tg_from_float(u, TG_SHAPE(4)), "OLDSIZE");
  tg_tensor *s = tg_contiguous(tg_shrink(x, 1, (int64_t[]){1, 3})); /* no offset: a copy, not a view */
  CHECK_TENSOR(s, want, 0, 2);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// devices that fail

static void *tcd_no_compiler(void *ctx, const char *name, const char *src, size_t *size, char *err, size_t nerr) {
  (void)ctx, (void)src, (void)size;
  snprintf(err, nerr, "no compiler on this board for %s", name);
  return NULL;
}
static int tcd_launch_on_fire(void *ctx, const tg_launch *l) {
  (void)ctx;
  tg_device_error("the accelerator is on fire (%d buffers)", l->nbufs);
  return -1;
}
static int tcd_launch_silent(void *ctx, const tg_launch *l) {
  (void)ctx, (void)l;
  return -1;
}
static void *tcd_alloc_none(void *ctx, size_t nbytes) {
  (void)ctx, (void)nbytes;
  return NULL;
}

/* the sum of [1, 2, 3, 4] * 2 on `device`; NAN with the error set when it fails */
static double tcd_sum_on(const char *device) {
  static const float u[4] = {1, 2, 3, 4};
  tg_scope_begin();
  double v = tg_item(tg_sum(tg_mul_s(tg_to(tg_from_float(u, TG_SHAPE(4)), device), 2), 0, NULL, 0));
  tg_scope_end();
  return v;
}

TEST(test_custom_device_failures) {
  tcd_my();
  tg_device_desc d = tcd_desc();
  d.compile = tcd_no_compiler;
  CHECK(tcd_register_once("NOCC", d));
  d = tcd_desc();
  d.launch = tcd_launch_on_fire;
  CHECK(tcd_register_once("FIRE", d));
  d.launch = tcd_launch_silent;
  CHECK(tcd_register_once("SILENT", d));
  d = tcd_desc();
  d.alloc = tcd_alloc_none;
  CHECK(tcd_register_once("NOMEM", d));
  static const struct { const char *dev, *says[3]; } cases[] = {
      {"NOCC", {"device 'NOCC'", "compile of kernel", "no compiler on this board for"}},
      {"FIRE", {"device 'FIRE'", "launch of kernel", "the accelerator is on fire (2 buffers)"}},
      {"SILENT", {"device 'SILENT'", "launch of kernel", "the device said nothing more"}},
      {"NOMEM", {"device 'NOMEM'", "alloc of 16 bytes", "failed"}}};
  for (int i = 0; i < 4; i++) {
    tg_clear_error();
    double v = tcd_sum_on(cases[i].dev);
    CHECK(isnan(v));
    for (int k = 0; k < 3; k++) CHECK_ERROR_HAS(cases[i].says[k]);
    tg_clear_error();
    /* the others keep working */
    CHECK_NEAR(tcd_sum_on("CPU"), 20, 0);
    CHECK_NEAR(tcd_sum_on("MY"), 20, 0);
    CHECK(tg_error() == NULL);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// a dialect table, the optional fields, the compiler cache

static int tcd_compiles, tcd_saw_prelude;
static void *tcd_counting_compile(void *ctx, const char *name, const char *src, size_t *size, char *err,
                                  size_t nerr) {
  tcd_compiles++;
  tcd_saw_prelude += strstr(src, "/* the TABLE dialect's own prelude */") != NULL &&
                     strstr(src, "__attribute__((cold)) void") != NULL;
  return my_compile(ctx, name, src, size, err, nerr);
}

/* The C dialect changed by a table: its extra prelude and kernel prefix are in every kernel the device compiles,
 * which still computes right; a kernel is compiled once in a process */
TEST(test_custom_device_dialect_table) {
  static const tg_dialect_desc table = {sizeof(tg_dialect_desc), "C", "/* the TABLE dialect's own prelude */",
                                        "__attribute__((cold)) ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
  tg_device_desc d = tcd_desc();
  d.dialect = NULL;
  d.dialect_table = &table;
  d.compile = tcd_counting_compile;
  CHECK(tcd_register_once("TABLE", d));
  tcd_compiles = tcd_saw_prelude = 0;
  CHECK_NEAR(tcd_sum_on("TABLE"), 20, 0);
  CHECK(tcd_compiles >= 1);
  CHECK_EQ_INT(tcd_saw_prelude, tcd_compiles);
  int first = tcd_compiles;
  CHECK_NEAR(tcd_sum_on("TABLE"), 20, 0); /* the same kernels: loaded already */
  CHECK_EQ_INT(tcd_compiles, first);
  /* an unknown base dialect in the table */
  static const tg_dialect_desc bad = {sizeof(tg_dialect_desc), "PASCAL", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                      NULL, NULL, NULL, 0};
  d.dialect_table = &bad;
  tg_clear_error();
  CHECK_EQ_INT(tg_device_register("TABLE2", &d), -1);
  CHECK_ERROR_HAS("unknown dialect 'PASCAL'");
  tg_clear_error();
}

static int tcd_described;
static void tcd_describe(void *ctx, tg_device_props *p) {
  (void)ctx;
  tcd_described++;
  CHECK(p->size >= offsetof(tg_device_props, wgmma) + sizeof p->wgmma);
  CHECK_EQ_INT(p->vec_floats, 4); /* the defaults, before the device changes them */
  CHECK_EQ_INT(p->cores, 1);
  p->vec_floats = 8;
}
static void *tcd_offset(void *ctx, void *ptr, size_t bytes) {
  (void)ctx;
  return (char *)ptr + bytes;
}

/* describe is asked about the machine; offset makes a row slice a view: no kernel runs for it */
TEST(test_custom_device_optional_fields) {
  tg_device_desc d = tcd_desc();
  d.describe = tcd_describe;
  d.offset = tcd_offset;
  CHECK(tcd_register_once("VIEWS", d));
  tcd_my();
  static const float m[6] = {1, 2, 3, 4, 5, 6}, row[3] = {4, 5, 6};
  const char *devs[2] = {"VIEWS", "MY"};
  for (int i = 0; i < 2; i++) {
    tg_scope_begin();
    tg_tensor *x = tg_to(tg_from_float(m, TG_SHAPE(2, 3)), devs[i]);
    CHECK_EQ_INT(tg_realize(x), 0);
    tg_tensor *r = tg_contiguous(tg_shrink(x, 2, (int64_t[]){1, 2, 0, 3}));
    int64_t k0 = tg_kernel_launches();
    CHECK_EQ_INT(tg_realize(r), 0);
    CHECK_EQ_INT(tg_kernel_launches() - k0, i == 0 ? 0 : 1); /* a view on VIEWS; MY copies */
    CHECK_TENSOR(r, row, 0, 1, 3);
    tg_scope_end();
  }
  tcd_described = 0;
  CHECK_NEAR(tcd_sum_on("VIEWS"), 20, 0);
  CHECK(tcd_described > 0);
}
