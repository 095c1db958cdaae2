/* internal_devices.c: the GPU side of the renderer and the device rules, checked without a GPU. A fake device with
 * the CPU's memory and a GPU dialect lets tg_schedule_create render CUDA C++ and OpenCL C for known kernels.
 * #included into runner.c after the implementation. */
#include "test.h"

static int ti_gpu_target; /* the fake device describes itself as a GPU (tg__device_target's defaults), not the CPU */
static int64_t ti_shared = 49152; /* ...with this much shared memory (CUDA's static limit; Hopper's opt-in 232448) */
static int ti_wgmma; /* ...and with Hopper's warpgroup tensor cores */
static void ti_tensor_cores(void *ctx, tg_device_props *t) { /* ...and as one with tensor cores */
  (void)ctx;
  t->tensor_cores = 1;
  t->wgmma = ti_wgmma;
  t->shared_bytes = ti_shared;
}

/* the kernels of `t` rendered for a device like the CPU's but speaking `dialect` (DEV=FAKE meanwhile) */
static tg_schedule *ti_render_as(const tg__dialect *dialect, tg_tensor *(*build)(void)) {
  tg__device *fake = tt_fake_device("FAKE", dialect, NULL);
  if (ti_gpu_target) fake->desc.describe = ti_gpu_target == 2 ? ti_tensor_cores : NULL;
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
  ti_gpu_target = 1; /* a GPU's heuristic, whatever this machine's vectors (the CPU's would tile a copy of 8) */
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
  ti_gpu_target = 0;
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

static tg_tensor *ti_row_sums(void) { /* 4 outputs of 1024 values each: a workgroup of 256 threads shares each */
  return tg_sum(tg_reshape(tg_arange(0, 4096, 1, TG_FLOAT32), TG_SHAPE(4, 1024)), TG_AXES(1), 0);
}

/* GROUP on a GPU dialect: a workgroup per output, whose threads each sum a quarter of the row (their digit is the
 * fastest part of the row's index, so a warp's loads are adjacent), store the partial sums into a shared array, meet
 * at a barrier, and sum the array; the first thread of the group alone stores the result. */
TEST(test_internal_render_workgroups) {
  tg_scope_begin();
  static const char *const want[2][7] = {
      {"long long gid = blockIdx.x;", "int lid = (int)(threadIdx.x);", "int ridx3 = (int)(lid);",
       "__shared__ float temp0[256];", "__syncthreads();", "if ((ridx3<1)) data0[ridx1] =", "+ridx3)+(ridx2*256)"},
      {"long gid = ((long)get_group_id(0));", "int lid = (int)(get_local_id(0));", "int ridx3 = (int)(lid);",
       "__local float temp0[256];", "barrier(CLK_LOCAL_MEM_FENCE);", "if ((ridx3<1)) data0[ridx1] =",
       "+ridx3)+(ridx2*256)"}};
  const tg__dialect *dialects[2] = {&tg__dialect_cuda, &tg__dialect_opencl};
  ti_gpu_target = 1;
  for (int d = 0; d < 2; d++) {
    tg_schedule *s = ti_render_as(dialects[d], ti_row_sums);
    CHECK(s && tg_schedule_count(s) == 1);
    const char *src = s ? tg_schedule_source(s, 0) : NULL;
    CHECK(s && s->s.k[0].opts && !strcmp(s->s.k[0].opts, "GROUP(0,256)"));
    CHECK(src && !strstr(src, "return;")); /* launched exactly: no thread past the end */
    for (int k = 0; k < 7; k++) test_check(src && strstr(src, want[d][k]), __FILE__, __LINE__, "%s: no '%s' in\n%s",
                                           dialects[d]->name, want[d][k], src ? src : "(none)");
    tg_schedule_free(s);
  }
  ti_gpu_target = 0;
  tg_scope_end();
}

static tg_tensor *ti_relu_4096(void) { /* relu(2a + b) over 4096: upcast by 4 on a GPU, four lanes a thread */
  tg_tensor *a = tg_arange(0, 4096, 1, TG_FLOAT32);
  return tg_relu(tg_add(tg_mul_s(tg_contiguous(a), 2), tg_contiguous(tg_sin(a))));
}

/* Four loads or stores of adjacent float32 elements at a multiple of 4 are one 16-byte access: CUDA's float4 through
 * a pointer cast, OpenCL's vload4 and vstore4 */
TEST(test_internal_render_vectors) {
  tg_scope_begin();
  static const char *const want[2][2] = {{"float4 vec0 = *((const float4*)(data1+", "*((float4*)(data0+"},
                                         {"float4 vec0 = vload4(0, data1+", "vstore4((float4)("}};
  const tg__dialect *dialects[2] = {&tg__dialect_cuda, &tg__dialect_opencl};
  ti_gpu_target = 1;
  for (int d = 0; d < 2; d++) {
    tg_schedule *s = ti_render_as(dialects[d], ti_relu_4096);
    int found = 0;
    for (int k = 0; s && k < tg_schedule_count(s); k++) {
      const char *src = tg_schedule_source(s, k);
      if (!src || !strstr(src, "E_1024_4(") || !strstr(src, "data2")) continue; /* the relu, of two inputs */
      found = 1;
      for (int w = 0; w < 2; w++) test_check(strstr(src, want[d][w]) != NULL, __FILE__, __LINE__, "%s: no '%s' in\n%s",
                                             dialects[d]->name, want[d][w], src);
      CHECK(strstr(src, "vec1.w") != NULL); /* the second input's fourth lane */
    }
    CHECK(found);
    tg_schedule_free(s);
  }
  ti_gpu_target = 0;
  tg_scope_end();
}

static tg_tensor *ti_half_matmul(void) { /* 64 x 48 by 48 x 40 in float16: a tensor core's */
  tg_tensor *a = tg_cast(tg_reshape(tg_arange(0, 64 * 48, 1, TG_FLOAT32), TG_SHAPE(64, 48)), TG_FLOAT16);
  tg_tensor *b = tg_cast(tg_reshape(tg_arange(0, 48 * 40, 1, TG_FLOAT32), TG_SHAPE(48, 40)), TG_FLOAT16);
  return tg_matmul(tg_contiguous(a), tg_contiguous(b));
}

/* The source of the tensor-core kernel of build's graph, rendered as CUDA for a GPU with tensor cores (NULL when
 * there is none: a failed check), after checking that its Opts are `opts` and that it holds every string of want
 * (n of them). The schedule goes to *s, for the caller to free. */
static const char *ti_tc_source(tg_tensor *(*build)(void), tg_schedule **s, const char *opts,
                                const char *const *want, int n) {
  ti_gpu_target = 2;
  *s = ti_render_as(&tg__dialect_cuda, build);
  tg__set_opts_override(NULL, -1);
  ti_gpu_target = 0;
  const char *found = NULL;
  for (int k = 0; *s && k < tg_schedule_count(*s) && !found; k++) {
    const char *src = tg_schedule_source(*s, k);
    if (!src || (!strstr(src, "tg_mma_f16") && !strstr(src, "wgmma.mma_async"))) continue;
    found = src;
    CHECK_STR((*s)->s.k[k].opts, opts);
    for (int w = 0; w < n; w++)
      test_check(strstr(src, want[w]) != NULL, __FILE__, __LINE__, "no '%s' in\n%s", want[w], src);
  }
  CHECK(found != NULL);
  return found;
}

/* TC on a GPU with tensor cores: the heuristic's list, a warp's lanes as the fastest digits of the thread's index,
 * the WMMA accumulating into the four accumulators, its elements of A and B as bits: A's pairs adjacent in memory
 * one 32-bit load each, B's (a row apart) two 16-bit loads packed into a word */
TEST(test_internal_render_tensor_cores) {
  tg_scope_begin();
  static const char *const want[] = {
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", /* the helper */
      "int ridx4 = (int)(lid / 4);", "int ridx5 = (int)(lid % 4);", /* the lanes: group, thread in group */
      "unsigned word0 = *((const unsigned*)(data1+",          /* A's pairs of elements as 32-bit words */
      "unsigned short val0 = data2[",                        /* B's elements (a row apart) as bits */
      "make_float4(acc0, acc4, acc8, acc12));",             /* the accumulators as C */
      "acc0 = wmma0.x;", "acc12 = wmma0.w;", "((unsigned)val0|((unsigned)val1<<16))"};
  tg_schedule *s = NULL;
  const char *src = ti_tc_source(ti_half_matmul, &s, "TC(0,0) UPCAST(0,4)", want, TG__COUNT(want));
  CHECK(src && !strstr(src, "tg_h2f(data1")); /* no conversion of A's loads */
  tg_schedule_free(s);
  tg_scope_end();
}

/* a graph that reads tensors of two devices is an error (no copies between devices yet), not a crash */
TEST(test_internal_mixed_devices_are_an_error) {
  tg_scope_begin();
  tt_fake_device("FAKE", NULL, NULL);
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

/* A device that launches a JIT replay as one (CUDA graphs), faked on the CPU: the JIT hands it every kernel of the
 * record with the buffers its plan gave them, keeps its state between replays and frees it with the JIT; JIT_GRAPH=0
 * launches kernel by kernel, and a device that declines (1) is not asked again. The values are the same each way. */
static int ti_graphs, ti_graph_kernels, ti_graph_frees, ti_graph_decline;
static int ti_launch_graph(void *ctx, int n, const tg_launch *ls, void **state) {
  if (ti_graph_decline) return 1;
  if (!*state) *state = malloc(1);
  ti_graphs++;
  ti_graph_kernels = n;
  for (int i = 0; i < n; i++)
    if (tg__cpu_device()->desc.launch(ctx, &ls[i]) < 0) return -1;
  return 0;
}
static void ti_graph_free(void *ctx, void *state) {
  (void)ctx;
  ti_graph_frees++;
  free(state);
}
static int ti_jit_fn(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  tg_tensor *h = tg_contiguous(tg_add_s(tg_mul_s(in[0], 2), 1)); /* two kernels */
  out[0] = tg_sum(h, 0, NULL, 0);
  return 0;
}

TEST(test_internal_jit_graph) {
  tg__device *fake = tt_fake_device("FAKE", NULL, NULL);
  fake->desc.launch_graph = ti_launch_graph;
  fake->desc.graph_free = ti_graph_free;
  const char *old = getenv("DEV");
  char saved[64] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("DEV", "FAKE", 1);
  for (int mode = 0; mode < 3; mode++) { /* graphs, JIT_GRAPH=0, a device that declines */
    ti_graphs = ti_graph_kernels = ti_graph_frees = 0;
    ti_graph_decline = mode == 2;
    tg__setenv_int("JIT_GRAPH", mode == 1 ? 0 : 1);
    tg_jit *j = tg_jit_new(ti_jit_fn, NULL);
    for (int call = 0; call < 5; call++) {
      tg_scope_begin();
      float v[4] = {1, 2, 3, (float)call};
      tg_tensor *x = tg_from_float(v, TG_SHAPE(4)), *out = NULL;
      CHECK_EQ_INT(tg_jit_run(j, &x, 1, &out, 1), 0);
      CHECK_NEAR(tg_item(out), 2 * (6 + call) + 4, 1e-5); /* sum(2x + 1) */
      tg_scope_end();
    }
    CHECK_EQ_INT(ti_graphs, mode == 0 ? 3 : 0); /* calls 3, 4 and 5 replay */
    CHECK_EQ_INT(ti_graph_kernels, mode == 0 ? tg_jit_kernels(j) : 0);
    tg_jit_free(j);
    CHECK_EQ_INT(ti_graph_frees, mode == 0 ? 1 : 0);
  }
  tg__setenv_int("JIT_GRAPH", 1);
  ti_graph_decline = 0;
  if (old) setenv("DEV", saved, 1);
  else unsetenv("DEV");
}

/* A program that exits with kernels still queued exits cleanly (PoCL's threads crashed it: the OpenCL backend
 * finishes its queue at exit). The child, this runner again, queues a kernel and returns from the test at once. */
TEST(test_internal_exit_with_queued_kernels) {
  const char *prog = getenv("TEST_SELF");
  CHECK(prog != NULL);
  if (!prog) return;
  char cmd[512];
  for (int i = 0; i < 3; i++) {
    snprintf(cmd, sizeof cmd, "TEST_QUEUED_CHILD=1 %s test_internal_queued_child >/dev/null 2>&1", prog);
    CHECK_EQ_INT(system(cmd), 0);
  }
}

TEST(test_internal_queued_child) {
  if (!getenv("TEST_QUEUED_CHILD")) return; /* only as the child of test_internal_exit_with_queued_kernels */
  tg_tensor *x = tg_rand(TG_FLOAT32, TG_SHAPE(1 << 16));
  CHECK_EQ_INT(tg_realize(x), 0); /* queued, not waited for */
  exit(test_failed_here ? 1 : 0);
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

static tg__opt ti_opts[4];
static int ti_nopts, ti_b_transposed; /* B given as the transpose of a contiguous array: contiguous along k */
static tg_tensor *ti_half_matmul_128(void) { /* 128 x 64 by 64 x 64 in float16, the matmul's kernel with ti_opts */
  static uint16_t h[128 * 64];
  for (int i = 0; i < 128 * 64; i++) h[i] = tg__float_to_half((float)(i % 7));
  tg_tensor *a = tg_from_data(h, TG_FLOAT16, 2, (int64_t[]){128, 64});
  tg_tensor *b = tg_from_data(h, TG_FLOAT16, 2, (int64_t[]){64, 64});
  if (ti_b_transposed) b = tg_permute(b, 2, (int[]){1, 0});
  tg__set_opts_override(ti_opts, ti_nopts);
  return tg_matmul(a, b);
}

/* TC with shared memory (configuration 1: 128 x 64 blocks of 2 x 2 warps, 32 along k a stage): A's rows and B's
 * (contiguous along n) copied in 16-byte vectors into shared arrays of bits, two buffers (one stage is read while
 * the next is copied), a barrier a stage, the fragments read by ldmatrix (B's transposed, two tiles at once), the two
 * steps of a stage chained (the second WMMA's C is the first's D); with three buffers the copies are cp.async */
TEST(test_internal_render_tensor_cores_staged) {
  tg_scope_begin();
  static const char *const want[] = {
      "__shared__ uint4 temp0_v[1280];", "unsigned short *temp0 = (unsigned short *)temp0_v;", /* 2 x 128 x 40 */
      "__shared__ uint4 temp1_v[576];", /* 2 x 32 x 72: B's [k][n] */
      "uint4 vecb0 = *((const uint4*)(data1+", "*((uint4*)(temp0+", "*((uint4*)(temp1+", /* 16-byte copies */
      "(unsigned long long)(temp1+", "__syncthreads();",
      "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];",       /* A's fragment */
      "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];", /* two tiles of B's, transposed */
      "tg_mma_f16(ldm0[0], ldm0[1], ldm0[2], ldm0[3], ldm1[0], ldm1[1], make_float4(acc0, acc1, acc2, acc3));",
      "tg_mma_f16(ldm0[0], ldm0[1], ldm0[2], ldm0[3], ldm1[2], ldm1[3], make_float4(acc4, acc5, acc6, acc7));",
      "make_float4(wmma0.x, wmma0.y, wmma0.z, wmma0.w));", "acc0 = wmma1.x;", "(ridx3*5120)"};
  ti_opts[0] = (tg__opt){TG__OPT_TC, 0, 1}, ti_nopts = 1;
  tg_schedule *s = NULL;
  const char *src = ti_tc_source(ti_half_matmul_128, &s, "TC(0,1)", want, TG__COUNT(want));
  if (src) {
    /* the first stage copied before the loop, then a barrier; each iteration reads its stage, copies the next one
     * into the other buffer (issuing the copies first), and ends with a barrier */
    const char *bar = strstr(src, "__syncthreads();"), *loop = strstr(src, "for (int ridx3 = 0; ridx3 < 2;");
    const char *bar2 = bar ? strstr(bar + 1, "__syncthreads();") : NULL, *end = loop ? strstr(loop, "\n  }\n") : NULL;
    CHECK(bar && loop && bar2 && end && strstr(src, "vecb0") < bar && bar < loop && strstr(src, "ldm0") > loop);
    CHECK(bar2 && end && !strstr(bar2 + 1, "__syncthreads();") && bar2 < end && end - bar2 < 24);
    CHECK(loop && strstr(loop, "(ridx3<1)?")); /* the next stage (the last one's again) */
    CHECK(loop && strstr(loop, "uint4 vecb6 = ") < strstr(src, "ldm0")); /* the next stage loaded before the sums */
    CHECK(!strstr(src, "cp.async")); /* two buffers: register copies (three: cp.async, below) */
  }
  tg_schedule_free(s);
  /* B contiguous along k: kept [n][k] (2 x 64 x 40) and read by ldmatrix untransposed */
  static const char *const want_t[] = {"__shared__ uint4 temp1_v[640];", "*((const uint4*)(data2+",
                                       "unsigned ldm1[4]; {", "ldmatrix.sync.aligned.m8n8.x4.shared.b16"};
  ti_b_transposed = 1;
  src = ti_tc_source(ti_half_matmul_128, &s, "TC(0,1)", want_t, TG__COUNT(want_t));
  ti_b_transposed = 0;
  CHECK(src && !strstr(src, ".trans"));
  tg_schedule_free(s);
  /* three buffers (configuration 15): two stages copied before the loop; the loop's barrier waits for all copies but
   * the last stage's */
  static const char *const want_3[] = {"__shared__ uint4 temp0_v[1920];", "cp.async.wait_all;",
                                       "asm volatile(\"cp.async.cg.shared.global [%0], [%1], 16;\" :: \"r\"(s), \"l\"(data1+",
                                       "cp.async.commit_group;\\n\\tcp.async.wait_group 1;", "(ridx3*5120)"};
  ti_opts[0] = (tg__opt){TG__OPT_TC, 0, 15};
  src = ti_tc_source(ti_half_matmul_128, &s, "TC(0,15)", want_3, TG__COUNT(want_3));
  tg_schedule_free(s);
  tg_scope_end();
}

static tg_tensor *ti_half_matmul_wide(void) { /* 128 x 64 by 64 x 128 in float16, with ti_opts */
  static uint16_t h[128 * 64];
  for (int i = 0; i < 128 * 64; i++) h[i] = tg__float_to_half((float)(i % 5));
  tg_tensor *a = tg_from_data(h, TG_FLOAT16, 2, (int64_t[]){128, 64});
  tg_tensor *b = tg_from_data(h, TG_FLOAT16, 2, (int64_t[]){64, 128});
  tg__set_opts_override(ti_opts, ti_nopts);
  return tg_matmul(a, b);
}

/* Shared arrays past CUDA's 48 KB of static shared memory (TC configuration 20: 128 x 128 blocks, 32 along k, three
 * buffers: 61440 bytes) are parts of one array sized at launch, on a GPU that lets a kernel have that much; a GPU
 * with only the static 48 KB refuses the configuration */
TEST(test_internal_render_dynamic_shared) {
  tg_scope_begin();
  static const char *const want[] = {
      "extern __shared__ __align__(1024) uint4 tg_shared[];",
      "unsigned short *temp0 = (unsigned short *)(tg_shared + 0);",
      "unsigned short *temp1 = (unsigned short *)(tg_shared + 1920);", /* after A's 3 x 128 x 40 halves */
      "cp.async.wait_group 1;"};
  ti_opts[0] = (tg__opt){TG__OPT_TC, 0, 20}, ti_nopts = 1;
  ti_shared = 232448;
  tg_schedule *s = NULL;
  const char *src = ti_tc_source(ti_half_matmul_wide, &s, "TC(0,20)", want, TG__COUNT(want));
  CHECK(src && !strstr(src, "__shared__ uint4 temp"));
  tg_schedule_free(s);
  ti_shared = 49152;
  ti_gpu_target = 2;
  s = ti_render_as(&tg__dialect_cuda, ti_half_matmul_wide);
  tg__set_opts_override(NULL, -1);
  ti_gpu_target = 0;
  const char *none = s && tg_schedule_count(s) ? tg_schedule_source(s, tg_schedule_count(s) - 1) : NULL;
  CHECK(s && !none && tg_error() && strstr(tg_error(), "the staged tiles pass the device's shared memory per workgroup"));
  tg_clear_error();
  tg_schedule_free(s);
  tg_scope_end();
}

static int ti_a_transposed; /* A given as the transpose of a contiguous array: contiguous along m */
static tg_tensor *ti_float_matmul_128(void) { /* 128 x 64 by 64 x 128 in float32, the matmul's kernel with ti_opts */
  static float v[128 * 64];
  for (int i = 0; i < 128 * 64; i++) v[i] = (float)(i % 7);
  tg_tensor *a = tg_from_data(v, TG_FLOAT32, 2, (int64_t[]){128, 64});
  tg_tensor *b = tg_from_data(v, TG_FLOAT32, 2, (int64_t[]){64, 128});
  if (ti_a_transposed) a = tg_permute(tg_from_data(v, TG_FLOAT32, 2, (int64_t[]){64, 128}), 2, (int[]){1, 0});
  if (ti_b_transposed) b = tg_permute(tg_from_data(v, TG_FLOAT32, 2, (int64_t[]){128, 64}), 2, (int[]){1, 0});
  tg__set_opts_override(ti_opts, ti_nopts);
  return tg_matmul(a, b);
}

/* STAGE (configuration 1: 128 x 128 blocks of 16 x 16 threads, each 8 x 8 outputs, 8 along k a stage) on a float32
 * matmul: A's rows copied in float4 loads and stored transposed ([k][m + 4]), B's in float4 loads and stores, two
 * buffers, a barrier a stage; each step of a stage reads a thread's rows and columns as float4s of shared memory
 * (two chunks of 4 each, 64 apart); the next stage is loaded before the stage's steps and stored after them; the
 * outputs are float4 stores */
TEST(test_internal_render_stage) {
  tg_scope_begin();
  ti_opts[0] = (tg__opt){TG__OPT_STAGE, 0, 1}, ti_nopts = 1;
  ti_gpu_target = 2;
  tg_schedule *s = ti_render_as(&tg__dialect_cuda, ti_float_matmul_128);
  tg__set_opts_override(NULL, -1);
  ti_gpu_target = 0;
  CHECK(s && tg_schedule_count(s) == 1);
  const char *src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
  if (s && src) CHECK_STR(s->s.k[0].opts, "STAGE(0,1)");
  static const char *const want[] = {
      "__shared__ float temp0[2112];", "__shared__ float temp1[2112];", /* 2 x 8 x 132 */
      "float4 vec0 = *((const float4*)(data1+", "temp0[(alu7+396)] = vec0.w;", /* A: 4 along k, stored transposed */
      "float4 vec1 = *((const float4*)(data2+", "*((float4*)(temp1+alu11)) = make_float4(vec1.x,vec1.y,vec1.z,vec1.w);",
      "for (int ridx3 = 0; ridx3 < 8; ridx3++) {", "int alu14 = ((ridx3<7)?alu13:7);", /* the next stage */
      "for (int ridx6 = 0; ridx6 < 8; ridx6++) {", "float4 vec4 = *((const float4*)(temp0+alu19));",
      "float4 vec7 = *((const float4*)(temp0+alu19+64));", "float4 vec6 = *((const float4*)(temp1+alu20+64));",
      "acc63 = (acc63+", "*((float4*)(data0+alu2+8640)) = make_float4(acc60,acc61,acc62,acc63);"};
  for (int w = 0; src && w < (int)TG__COUNT(want); w++)
    test_check(strstr(src, want[w]) != NULL, __FILE__, __LINE__, "no '%s' in\n%s", want[w], src);
  if (src) { /* stage 0, a barrier, the loop: the next stage's loads, the steps, its stores, a barrier */
    const char *bar = strstr(src, "__syncthreads();"), *loop = strstr(src, "for (int ridx3 = 0;");
    const char *steps = strstr(src, "for (int ridx6 = 0;"), *next = strstr(src, "float4 vec2 = *((const float4*)(data1+");
    const char *store = strstr(src, "*((float4*)(temp1+alu87))"), *bar2 = bar ? strstr(bar + 1, "__syncthreads();") : 0;
    CHECK(bar && loop && steps && next && store && bar2);
    CHECK(bar < loop && loop < next && next < steps && steps < store && store < bar2);
    CHECK(bar2 && !strstr(bar2 + 1, "__syncthreads();"));
  }
  tg_schedule_free(s);
  /* A contiguous along its rows: its chunks of 4 rows are stored as they are (float4s), like B's; B contiguous
   * along k: its chunks of 4 along k are stored transposed, one float each, like A's */
  for (int layout = 1; layout <= 2; layout++) {
    ti_a_transposed = layout == 1, ti_b_transposed = layout == 2;
    ti_gpu_target = 2;
    s = ti_render_as(&tg__dialect_cuda, ti_float_matmul_128);
    tg__set_opts_override(NULL, -1);
    ti_gpu_target = ti_a_transposed = ti_b_transposed = 0;
    src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
    int vec_stores = src && strstr(src, "*((float4*)(temp0+") && strstr(src, "*((float4*)(temp1+");
    int scalar_stores = src && strstr(src, "temp0[alu") && strstr(src, "temp1[alu") && strstr(src, "= vec1.w;");
    CHECK(src && vec_stores == (layout == 1) && scalar_stores == (layout == 2));
    tg_schedule_free(s);
  }
  tg_scope_end();
}

static int64_t ti_inner = 256;
static tg_tensor *ti_half_matmul_256(void) { /* 128 x K by K x 256 in float16 (B transposed: ti_b_transposed) */
  static uint16_t h[256 * 256];
  for (int i = 0; i < 256 * 256; i++) h[i] = tg__float_to_half((float)(i % 5));
  tg_tensor *a = tg_from_data(h, TG_FLOAT16, 2, (int64_t[]){128, ti_inner});
  tg_tensor *b = tg_from_data(h, TG_FLOAT16, 2, (int64_t[]){ti_inner, 256});
  if (ti_b_transposed) b = tg_permute(b, 2, (int[]){1, 0});
  tg__set_opts_override(ti_nopts ? ti_opts : NULL, ti_nopts ? ti_nopts : -1);
  return tg_matmul(a, b);
}

/* TC with warpgroups (WGMMA) on a Hopper-like GPU: the heuristic's first configuration (128 x 256 blocks, four
 * buffers of 64 along k), the tiles copied by cp.async into 128-byte swizzled layouts (an XOR of the chunk), four
 * WGMMAs a stage on descriptors of the warpgroup's tiles (A K-major; B MN-major, or K-major when B is contiguous
 * along k), accumulating in place into the thread's 128 accumulators with no adds, a fence before them, their
 * commit leaving one group in flight, the proxy fence before each barrier, and a wait for all after the loop; a GPU
 * with tensor cores but no WGMMA refuses the configuration with the reason */
TEST(test_internal_render_wgmma) {
  tg_scope_begin();
  static const char *const want[] = {
      "TG_FN unsigned long long tg_wgmma_desc(", "extern __shared__ __align__(1024) uint4 tg_shared[];",
      "unsigned short *temp1 = (unsigned short *)(tg_shared + 4096);", /* after A's 4 x 128 x 64 halves */
      "cp.async.cg.shared.global", "^", "asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\");",
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {%0,%1,", ",%127}, %128, %129, p, 1, 1, 0, 1;",
      "\"+f\"(acc0), \"+f\"(acc1),", "\"+f\"(acc127) : \"l\"(tg_wgmma_desc(temp0+",
      ", 16, 1024)), \"l\"(tg_wgmma_desc(temp1+",
      ", 8192, 1024)));", "+48), 16, 1024)", "+3072), 8192, 1024)", /* the fourth step: 32 bytes, two atoms on */
      "wgmma.commit_group.sync.aligned;\\n\\twgmma.wait_group.sync.aligned 1;", "cp.async.wait_group 1;",
      "asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");"};
  ti_wgmma = 1, ti_shared = 232448, ti_nopts = 0;
  tg_schedule *s = NULL;
  const char *src = ti_tc_source(ti_half_matmul_256, &s, "TC(0,35)", want, TG__COUNT(want));
  if (src) {
    const char *loop = strstr(src, "for (int ridx3 = 0; ridx3 < 4; ridx3++) {"), *fence = strstr(src, "wgmma.fence");
    const char *mma = strstr(src, "wgmma.mma_async"), *commit = strstr(src, "wgmma.wait_group.sync.aligned 1;");
    const char *bar = commit ? strstr(commit, "__syncthreads();") : NULL, *end = bar ? strstr(bar, "  }\n") : NULL;
    const char *wait0 = strstr(src, "wgmma.wait_group.sync.aligned 0;"), *out = strstr(src, "data0[");
    CHECK(loop && fence && mma && commit && bar && end && wait0 && out);
    CHECK(loop < fence && fence < mma && mma < commit && commit < bar && bar < end && end < wait0 && wait0 < out);
    CHECK(!strstr(src, " acc0 = acc") && !strstr(src, "(acc0+")); /* the tensor cores accumulate: no adds, no copies */
    CHECK(!strstr(src, "ldmatrix") && !strstr(src, "mma.sync"));
  }
  tg_schedule_free(s);
  static const char *const want_t[] = {"p, 1, 1, 0, 0;", ", 16, 1024)), \"l\"(tg_wgmma_desc(temp1+"};
  ti_b_transposed = 1; /* B contiguous along k: K-major like A */
  src = ti_tc_source(ti_half_matmul_256, &s, "TC(0,35)", want_t, TG__COUNT(want_t));
  ti_b_transposed = 0;
  tg_schedule_free(s);
  /* k of one stage (64) is refused: the WGMMAs accumulate into the sums of a loop along k */
  ti_opts[0] = (tg__opt){TG__OPT_TC, 0, TG__NTC_CONFIGS + 1}, ti_nopts = 1, ti_inner = 64;
  ti_gpu_target = 2;
  s = ti_render_as(&tg__dialect_cuda, ti_half_matmul_256);
  tg__set_opts_override(NULL, -1);
  ti_gpu_target = 0, ti_nopts = 0, ti_inner = 256;
  CHECK(tg_error() && strstr(tg_error(), "k is one stage: the WGMMAs accumulate into the sums of a loop along k"));
  tg_clear_error();
  tg_schedule_free(s);
  /* tensor cores but no WGMMA: the configuration is refused, and the heuristic stages mma.sync instead */
  ti_wgmma = 0;
  ti_opts[0] = (tg__opt){TG__OPT_TC, 0, TG__NTC_CONFIGS + 1}, ti_nopts = 1;
  ti_gpu_target = 2;
  s = ti_render_as(&tg__dialect_cuda, ti_half_matmul_256);
  tg__set_opts_override(NULL, -1);
  ti_gpu_target = 0, ti_nopts = 0;
  CHECK(tg_error() && strstr(tg_error(), "the device has no warpgroup tensor cores (WGMMA: Hopper)"));
  tg_clear_error();
  tg_schedule_free(s);
  static const char *const want_sync[] = {"mma.sync.aligned.m16n8k16"};
  ti_inner = 128; /* another kernel: the schedule cache knows the first one */
  src = ti_tc_source(ti_half_matmul_256, &s, "TC(0,21)", want_sync, TG__COUNT(want_sync));
  ti_inner = 256;
  CHECK(src && !strstr(src, "wgmma"));
  tg_schedule_free(s);
  ti_shared = 49152;
  tg_scope_end();
}

/* CPU_ISA: on an x86 host whose kernels GCC or clang compiles, avx2 tiles for 8 lanes and 16 registers and compiles
 * without AVX-512, sse for 4 lanes and without AVX; unset or unknown, the host's own vectors */
TEST(test_internal_cpu_isa) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  const char *old = getenv("CPU_ISA");
  char *saved = old ? strdup(old) : NULL;
  tg__target t;
  tg__device *cpu = tg__device_get("CPU");
  int host = __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4;
  setenv("CPU_ISA", "avx2", 1);
  tg__device_target(cpu, &t);
  CHECK_STR(tg__cpu_isa_flag(), "-mno-avx512f");
  CHECK_EQ_INT(t.vec_floats, host >= 8 ? 8 : 4);
  CHECK_EQ_INT(t.vec_regs, 16);
  setenv("CPU_ISA", "sse", 1);
  tg__device_target(cpu, &t);
  CHECK_STR(tg__cpu_isa_flag(), "-mno-avx");
  CHECK_EQ_INT(t.vec_floats, 4);
  setenv("CPU_ISA", "avx9000", 1);
  CHECK(tg__cpu_isa_flag() == NULL);
  unsetenv("CPU_ISA");
  tg__device_target(cpu, &t);
  CHECK(tg__cpu_isa_flag() == NULL);
  CHECK_EQ_INT(t.vec_floats, host);
  if (saved) setenv("CPU_ISA", saved, 1);
  free(saved);
#endif
}

/* CPU memory of 4 MiB or more starts on a 2 MiB boundary, offered to the kernel's transparent huge pages (numpy
 * does the same for its arrays); smaller buffers on 64 bytes. Either holds its values. */
TEST(test_internal_cpu_buffer_alignment) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return;
  tg_scope_begin();
  tg_tensor *big = tg_full(3.0, TG_FLOAT32, TG_SHAPE(1024, 1024)), *small = tg_full(5.0, TG_FLOAT32, TG_SHAPE(100));
  CHECK_EQ_INT(tg_realize(big), 0);
  CHECK_EQ_INT(tg_realize(small), 0);
  const tg__buffer *bb = tg__tensor_buffer(big), *sb = tg__tensor_buffer(small);
  CHECK(bb && bb->ptr && (uintptr_t)bb->ptr % ((uintptr_t)2 << 20) == 0);
  CHECK(sb && sb->ptr && (uintptr_t)sb->ptr % 64 == 0);
  float *b = tg_to_float(big), *sm = tg_to_float(small);
  CHECK(b && sm && b[0] == 3.0f && b[1024 * 1024 - 1] == 3.0f && sm[99] == 5.0f);
  free(b);
  free(sm);
  tg_scope_end();
}

/* a core's share of the level-3 cache from sysfs's text: the size over the CPUs sharing it; 0 for what cannot be
 * read. The machine's own share is 0 or one of these. */
TEST(test_internal_cpu_cache_share) {
  CHECK_EQ_INT(tg__cpu_cache_share("16384K\n", "0-1\n"), 8LL << 20);
  CHECK_EQ_INT(tg__cpu_cache_share("32M", "0-3,8-11"), 4LL << 20);
  CHECK_EQ_INT(tg__cpu_cache_share("1048576", "5"), 1LL << 20);
  CHECK_EQ_INT(tg__cpu_cache_share("12288K", "0,2,4"), 4LL << 20);
  CHECK_EQ_INT(tg__cpu_cache_share("", "0-1"), 0);
  CHECK_EQ_INT(tg__cpu_cache_share("16384X", "0-1"), 0);  /* no such unit */
  CHECK_EQ_INT(tg__cpu_cache_share("16384K", ""), 0);     /* shared by nobody */
  CHECK_EQ_INT(tg__cpu_cache_share("16384K", "3-1"), 0);  /* a backwards range */
  CHECK_EQ_INT(tg__cpu_cache_share("64K", "0"), 0);       /* too small for a level 3 */
  CHECK_EQ_INT(tg__cpu_cache_share(NULL, NULL), 0);
  CHECK_EQ_INT(tg__cpu_cache_share("99999999999999999M", "0"), 0); /* past any cache: no overflow */
  tg__target t;
  tg__device_target(tg__cpu_device(), &t);
  CHECK(t.l3_bytes == 0 || (t.l3_bytes >= 1024 && t.l3_bytes <= (4LL << 30)));
}

/* the pool's smallest claim: 1/(64P) of the job, at least 1e6 of work (flops + bytes), at most 1/(8P); at least 1 */
TEST(test_internal_cpu_pool_least) {
  CHECK_EQ_INT(tg__cpu_least(4608, 2, 1.4e11), 36);     /* the 4096 matmul on 2 cores: was 288 */
  CHECK_EQ_INT(tg__cpu_least(4608, 16, 1.4e11), 4);
  CHECK_EQ_INT(tg__cpu_least(1 << 20, 2, 4e6), 65536);  /* little work a claim: 1/(8P) */
  CHECK_EQ_INT(tg__cpu_least(1 << 20, 2, 2e7), 52429);  /* 1e6 of work: 2^20 / 20 iterations, and one */
  CHECK_EQ_INT(tg__cpu_least(100, 2, 0), 6);            /* no estimate: 1/(8P) */
  CHECK_EQ_INT(tg__cpu_least(3, 2, 1e12), 1);
}

/* a variable of tinygrad's that does nothing here is said: one line each, naming what to do instead */
TEST(test_internal_env_warnings) {
  static const char *const names[4] = {"GRAPH", "CUDA", "CACHEDB", "VIZ"};
  char *saved[4];
  for (int i = 0; i < 4; i++) {
    const char *v = getenv(names[i]);
    saved[i] = v ? strdup(v) : NULL;
    unsetenv(names[i]);
  }
  char out[2048];
  tg__env_warnings(out, sizeof out);
  CHECK_STR(out, "");
  setenv("GRAPH", "1", 1);
  setenv("CUDA", "1", 1);
  setenv("VIZ", "1", 1); /* read by tg__env_warnings alone here: the library's cached VIZ stays as it was */
  tg__env_warnings(out, sizeof out);
  CHECK(strstr(out, "tinygrad.h: GRAPH=1 is ignored: graph drawing is not implemented; DEBUG=4 prints each kernel's IR\n")
        != NULL);
  CHECK(strstr(out, "VIZ") == NULL); /* implemented now: never said to be ignored */
  CHECK(strstr(out, "tinygrad.h: CUDA=1 is ignored: tinygrad's device switch: here DEV=CUDA\n") != NULL);
  CHECK(strstr(out, "CACHEDB") == NULL);
  for (int i = 0; i < 4; i++) {
    if (saved[i]) setenv(names[i], saved[i], 1);
    else unsetenv(names[i]);
    free(saved[i]);
  }
}
