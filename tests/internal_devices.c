/* internal_devices.c: the GPU side of the renderer and the device rules, checked without a GPU. A fake device with
 * the CPU's memory and a GPU dialect lets tg_schedule_create render CUDA C++ and OpenCL C for known kernels.
 * #included into runner.c after the implementation. */
#include "test.h"

static tg__device ti_fake;

/* the kernels of `t` rendered for a device like the CPU's but speaking `dialect` (DEV=FAKE meanwhile) */
static tg_schedule *ti_render_as(const tg__dialect *dialect, tg_tensor *(*build)(void)) {
  ti_fake = *tg__cpu_device();
  ti_fake.name = "FAKE";
  ti_fake.dialect = dialect;
  tg__device_register(&ti_fake);
  const char *old = getenv("DEV");
  char saved[64] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("DEV", "FAKE", 1);
  tg_tensor *t = build();
  tg_schedule *s = t ? tg_schedule_create(&t, 1) : NULL;
  if (old) setenv("DEV", saved, 1);
  else unsetenv("DEV");
  return s;
}

static tg_tensor *ti_rows_argmin(void) { /* one output loop, two reductions */
  static const int32_t v[12] = {1, 3, 3, 2, 5, 5, 1, 5, 0, 0, 0, 0};
  return tg_argmin(tg_from_data(v, TG_INT32, 2, (int64_t[]){3, 4}), 1, 0);
}
static tg_tensor *ti_grid_exp(void) { /* two output loops: the thread index is split by division */
  return tg_exp(tg_arange(0, 32, 1, TG_FLOAT32));
}
static tg_tensor *ti_grid_2d(void) {
  /* i + j: no one loop walks it (tg__merge_loops leaves the two) */
  tg_tensor *i = tg_reshape(tg_arange(0, 4, 1, TG_FLOAT32), TG_SHAPE(4, 1));
  return tg_add(i, tg_reshape(tg_arange(0, 8, 1, TG_FLOAT32), TG_SHAPE(1, 8)));
}
static tg_tensor *ti_bits(void) { /* a bitcast, 64-bit constants, bools */
  tg_tensor *x = tg_cast(tg_arange(0, 8, 1, TG_INT32), TG_INT64);
  tg_tensor *big = tg_add_s(tg_mul_s(x, 3000000000.0), 1);
  return tg_logical_and(tg_gt_s(tg_cast(big, TG_FLOAT32), 1), tg_lt_s(tg_bitcast(tg_arange(0, 8, 1, TG_FLOAT32), TG_INT32), 7));
}

TEST(test_internal_render_cuda) {
  tg_scope_begin();
  tg_schedule *s = ti_render_as(&tg__dialect_cuda, ti_rows_argmin);
  CHECK_EQ_INT(tg_schedule_count(s), 1);
  const char *src = tg_schedule_source(s, 0);
  CHECK(src && strstr(src, "extern \"C\" __global__ void r_3_4_4(int* __restrict__ data0, const int* __restrict__ data1)"));
  CHECK(src && strstr(src, "long long gid = ((long long)blockIdx.x * blockDim.x + threadIdx.x);"));
  CHECK(src && strstr(src, "if (gid >= 3) return;"));
  CHECK(src && strstr(src, "int ridx1 = (int)(gid);"));
  CHECK(src && !strstr(src, "start")); /* no CPU chunk bounds */
  CHECK(src && strstr(src, "for (int ridx"));  /* reductions stay loops */
  tg_schedule_free(s);
  s = ti_render_as(&tg__dialect_cuda, ti_grid_2d);
  src = tg_schedule_source(s, 0);
  CHECK(src && strstr(src, "if (gid >= 32) return;"));
  CHECK(src && strstr(src, "int ridx1 = (int)(gid / 8);"));
  CHECK(src && strstr(src, "int ridx2 = (int)(gid % 8);"));
  tg_schedule_free(s);
  s = ti_render_as(&tg__dialect_cuda, ti_grid_exp);
  src = tg_schedule_source(s, 0);
  CHECK(src && strstr(src, "exp2f(")); /* float math keeps its f */
  tg_schedule_free(s);
  s = ti_render_as(&tg__dialect_cuda, ti_bits);
  for (int i = 0; s && i < tg_schedule_count(s); i++) {
    src = tg_schedule_source(s, i);
    CHECK(!strstr(src, "_Bool") && !strstr(src, "__builtin_memcpy")); /* C-only spellings */
    if (strstr(src, "bool* __restrict__ data0")) CHECK(strstr(src, "tg_bitcast<int>("));
  }
  CHECK(s && tg_schedule_count(s) >= 1);
  tg_schedule_free(s);
  tg_scope_end();
}

TEST(test_internal_render_opencl) {
  tg_scope_begin();
  tg_schedule *s = ti_render_as(&tg__dialect_opencl, ti_rows_argmin);
  const char *src = tg_schedule_source(s, 0);
  CHECK(src && strstr(src, "__kernel void r_3_4_4(__global int* restrict data0, __global const int* restrict data1)"));
  CHECK(src && strstr(src, "long gid = ((long)get_global_id(0));"));
  tg_schedule_free(s);
  s = ti_render_as(&tg__dialect_opencl, ti_grid_exp);
  src = tg_schedule_source(s, 0);
  CHECK(src && strstr(src, "exp2(") && !strstr(src, "exp2f(")); /* overloaded math */
  tg_schedule_free(s);
  s = ti_render_as(&tg__dialect_opencl, ti_bits);
  int saw_bitcast = 0, saw_long = 0;
  for (int i = 0; s && i < tg_schedule_count(s); i++) {
    src = tg_schedule_source(s, i);
    CHECK(!strstr(src, "long long") && !strstr(src, "_Bool") && !strstr(src, "ll)")); /* no C-only types */
    saw_bitcast |= strstr(src, "as_int(") != NULL;
    saw_long |= strstr(src, "3000000000L") != NULL;
    if (strstr(src, "__global uchar* restrict data0")) CHECK(strstr(src, "= (bool)(")); /* bools stored as 0/1 */
  }
  CHECK(saw_bitcast);
  CHECK(saw_long);
  tg_schedule_free(s);
  tg_scope_end();
}

/* a graph that reads tensors of two devices is an error (no copies between devices yet), not a crash */
TEST(test_internal_mixed_devices_are_an_error) {
  tg_scope_begin();
  ti_fake = *tg__cpu_device();
  ti_fake.name = "FAKE";
  tg__device_register(&ti_fake);
  const char *old = getenv("DEV");
  char saved[64] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  static const float in[2] = {1, 2};
  setenv("DEV", "CPU", 1);
  tg_tensor *a = tg_from_float(in, TG_SHAPE(2));
  setenv("DEV", "FAKE", 1);
  tg_tensor *b = tg_from_float(in, TG_SHAPE(2));
  setenv("DEV", "CPU", 1);
  CHECK_STR(tg_device_of(b), "FAKE");
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(tg_add(a, b)), -1);
  CHECK(tg_error() && strstr(tg_error(), "tensors on CPU and on FAKE"));
  tg_clear_error();
  CHECK_NEAR(tg_item(tg_sum(a, 0, NULL, 0)), 3, 0); /* both stay usable */
  if (old) setenv("DEV", saved, 1);
  else unsetenv("DEV");
  tg_scope_end();
}

/* OPENCL_DEVICE out of range says how many devices there are and which indices are valid (it said "found none" with
 * one PoCL device). The message is checked for 0, 1 and 3 devices; with a driver (make test-opencl), also against
 * the real device list. */
TEST(test_internal_opencl_device_index) {
  char why[160] = "";
  CHECK_EQ_INT(tg__cl_pick_error(0, 1, why, sizeof why), 0);
  CHECK_EQ_INT(tg__cl_pick_error(2, 3, why, sizeof why), 0);
  CHECK_EQ_INT(tg__cl_pick_error(5, 1, why, sizeof why), -1);
  CHECK_STR(why, "OPENCL_DEVICE=5 is out of range: there is 1 device, index 0");
  CHECK_EQ_INT(tg__cl_pick_error(-1, 3, why, sizeof why), -1);
  CHECK_STR(why, "OPENCL_DEVICE=-1 is out of range: there are 3 devices, indices 0 to 2");
  CHECK_EQ_INT(tg__cl_pick_error(0, 0, why, sizeof why), -1);
  CHECK_STR(why, "no OpenCL device on any platform");
  tg_clear_error();
  if (tg__cl_init() == 0) { /* a driver: the device count is the real one */
    tg__cl_obj devs[64];
    tg__cl_int e = 0;
    tg__cl_uint nd = tg__cl_devices(devs, 64, &e);
    CHECK_EQ_INT(e, 0);
    CHECK(nd >= 1);
    char want[64];
    snprintf(want, sizeof want, "OPENCL_DEVICE=%u is out of range: there %s %u device", nd + 4, nd == 1 ? "is" : "are",
             nd);
    CHECK_EQ_INT(tg__cl_pick_error((int)nd + 4, nd, why, sizeof why), -1);
    CHECK(strstr(why, want) != NULL);
  }
  tg_clear_error();
}
