/* tinygrad_opencl.h: an OpenCL device for tinygrad.h (layer 4, with device.c: it calls no higher layer).
 *
 * Use: in the one file that defines TINYGRAD_IMPLEMENTATION, include this after tinygrad.h:
 *
 *     #define TINYGRAD_IMPLEMENTATION
 *     #include "tinygrad.h"
 *     #include "backends/tinygrad_opencl.h"
 *
 * and run with DEV=OPENCL to put every tensor on the first OpenCL device (a GPU if the system has one,
 * otherwise whatever the installed platforms offer, such as PoCL on the CPU). Elsewhere this header is empty.
 *
 * Contract:
 *  - Kernels are rendered as OpenCL C 1.2 by the shared renderer through the OpenCL dialect (tg__dialect_opencl,
 *    defined below with its prelude and type tables; float64 through cl_khr_fp64): one work item per element of
 *    the output loops, the reductions as loops inside it. The driver builds each distinct source once; its binary
 *    for the device is the blob that tinygrad.h keeps in its disk cache (keyed by the device's name, OpenCL version
 *    and driver version), built again from the binary on the next run. Kernels are launched over exactly global_total
 *    work items with the work-group size left to the driver, or in the kernel's work-groups.
 *  - The device is registered through the public interface (tg_device_desc, api.h) when the program starts.
 *  - The driver (libOpenCL.so.1, the ICD loader) is loaded with dlopen on first use; nothing links against it and no
 *    OpenCL header is needed (the few types are declared below). A missing loader, no platform, no device, a failed
 *    build or an out-of-memory device is a clear error from the call that needed it, and the CPU device keeps working.
 *  - Buffers are cl_mem objects; copies in and out are blocking. One in-order queue, so kernels run in launch order.
 *  - OPENCL_DEVICE=n picks the n-th device (0-based) over all platforms; out of range, the error says how many devices
 *    there are and which indices are valid. */
#ifndef TINYGRAD_OPENCL_H
#define TINYGRAD_OPENCL_H
#ifdef TINYGRAD_IMPLEMENTATION

#include <dlfcn.h>

typedef int32_t tg__cl_int;
typedef uint32_t tg__cl_uint;
typedef struct tg__cl_opaque *tg__cl_obj; /* cl_platform_id, cl_device_id, cl_context, cl_mem, ... */

enum {
  TG__CL_DEVICE_TYPE_ALL = -1,        /* 0xFFFFFFFF */
  TG__CL_DEVICE_NAME = 0x102B,
  TG__CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002,
  TG__CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004,
  TG__CL_DEVICE_LOCAL_MEM_SIZE = 0x1023,
  TG__CL_PROGRAM_BUILD_LOG = 0x1183,
  TG__CL_PROGRAM_BINARY_SIZES = 0x1165,
  TG__CL_PROGRAM_BINARIES = 0x1166,
  TG__CL_DRIVER_VERSION = 0x102D,
  TG__CL_DEVICE_VERSION = 0x102F,
  TG__CL_MEM_READ_WRITE = 1,
};

/* the entry points used, in the order of tg__cl_syms */
typedef struct tg__cl_api {
  tg__cl_int (*GetPlatformIDs)(tg__cl_uint, tg__cl_obj *, tg__cl_uint *);
  tg__cl_int (*GetDeviceIDs)(tg__cl_obj, uint64_t, tg__cl_uint, tg__cl_obj *, tg__cl_uint *);
  tg__cl_int (*GetDeviceInfo)(tg__cl_obj, tg__cl_uint, size_t, void *, size_t *);
  tg__cl_obj (*CreateContext)(const intptr_t *, tg__cl_uint, const tg__cl_obj *, void *, void *, tg__cl_int *);
  tg__cl_obj (*CreateCommandQueue)(tg__cl_obj, tg__cl_obj, uint64_t, tg__cl_int *);
  tg__cl_obj (*CreateBuffer)(tg__cl_obj, uint64_t, size_t, void *, tg__cl_int *);
  tg__cl_int (*ReleaseMemObject)(tg__cl_obj);
  tg__cl_int (*EnqueueWriteBuffer)(tg__cl_obj, tg__cl_obj, tg__cl_uint, size_t, size_t, const void *, tg__cl_uint,
                                   const void *, void *);
  tg__cl_int (*EnqueueReadBuffer)(tg__cl_obj, tg__cl_obj, tg__cl_uint, size_t, size_t, void *, tg__cl_uint,
                                  const void *, void *);
  tg__cl_obj (*CreateProgramWithSource)(tg__cl_obj, tg__cl_uint, const char **, const size_t *, tg__cl_int *);
  tg__cl_int (*BuildProgram)(tg__cl_obj, tg__cl_uint, const tg__cl_obj *, const char *, void *, void *);
  tg__cl_int (*GetProgramBuildInfo)(tg__cl_obj, tg__cl_obj, tg__cl_uint, size_t, void *, size_t *);
  tg__cl_obj (*CreateKernel)(tg__cl_obj, const char *, tg__cl_int *);
  tg__cl_int (*SetKernelArg)(tg__cl_obj, tg__cl_uint, size_t, const void *);
  tg__cl_int (*EnqueueNDRangeKernel)(tg__cl_obj, tg__cl_obj, tg__cl_uint, const size_t *, const size_t *,
                                     const size_t *, tg__cl_uint, const void *, void *);
  tg__cl_int (*Finish)(tg__cl_obj);
  tg__cl_int (*ReleaseKernel)(tg__cl_obj);
  tg__cl_int (*ReleaseProgram)(tg__cl_obj);
  tg__cl_obj (*CreateProgramWithBinary)(tg__cl_obj, tg__cl_uint, const tg__cl_obj *, const size_t *,
                                        const unsigned char **, tg__cl_int *, tg__cl_int *);
  tg__cl_int (*GetProgramInfo)(tg__cl_obj, tg__cl_uint, size_t, void *, size_t *);
} tg__cl_api;

static const char *const tg__cl_syms[] = {
    "clGetPlatformIDs", "clGetDeviceIDs", "clGetDeviceInfo", "clCreateContext", "clCreateCommandQueue",
    "clCreateBuffer", "clReleaseMemObject", "clEnqueueWriteBuffer", "clEnqueueReadBuffer",
    "clCreateProgramWithSource", "clBuildProgram", "clGetProgramBuildInfo", "clCreateKernel", "clSetKernelArg",
    "clEnqueueNDRangeKernel", "clFinish", "clReleaseKernel", "clReleaseProgram", "clCreateProgramWithBinary",
    "clGetProgramInfo", NULL};

static struct {
  int state; /* 0 not tried, 1 ready, -1 failed (err holds why) */
  char err[1024];
  void *lib;
  tg__cl_api api;
  tg__cl_obj device, context, queue;
  char device_name[128];
} tg__cl;

static const char *tg__cl_strerror(tg__cl_int e) {
  switch (e) {
  case -1: return "CL_DEVICE_NOT_FOUND";
  case -4: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
  case -5: return "CL_OUT_OF_RESOURCES";
  case -6: return "CL_OUT_OF_HOST_MEMORY";
  case -11: return "CL_BUILD_PROGRAM_FAILURE";
  case -30: return "CL_INVALID_VALUE";
  case -38: return "CL_INVALID_MEM_OBJECT";
  case -46: return "CL_INVALID_KERNEL_NAME";
  case -48: return "CL_INVALID_KERNEL";
  case -52: return "CL_INVALID_KERNEL_ARGS";
  case -54: return "CL_INVALID_WORK_GROUP_SIZE";
  case -61: return "CL_INVALID_BUFFER_SIZE";
  case -63: return "CL_INVALID_GLOBAL_WORK_SIZE";
  case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform is installed)";
  default: return "an OpenCL error";
  }
}

static int tg__cl_fail(const char *what, tg__cl_int e) {
  tg__set_error("OPENCL %s on %s: %s (%d)", what, tg__cl.device_name, tg__cl_strerror(e), (int)e);
  return -1;
}

/* the devices of every platform, in order (OPENCL_DEVICE counts in this list); the driver must be loaded. Returns how
 * many; *e is the error of clGetPlatformIDs (0 when it worked) */
static tg__cl_uint tg__cl_devices(tg__cl_obj *devices, tg__cl_uint max, tg__cl_int *e) {
  tg__cl_obj platforms[16];
  tg__cl_uint np = 0, nd = 0;
  if ((*e = tg__cl.api.GetPlatformIDs(16, platforms, &np)) != 0) return 0;
  uint64_t all = (uint64_t)(uint32_t)TG__CL_DEVICE_TYPE_ALL;
  for (tg__cl_uint p = 0; p < np && nd < max; p++) {
    tg__cl_uint n = 0;
    if (tg__cl.api.GetDeviceIDs(platforms[p], all, max - nd, devices + nd, &n) == 0) nd += n;
  }
  return nd;
}

/* 0 when OPENCL_DEVICE=pick names one of nd devices; else -1 with why (how many devices, which indices are valid) */
static int tg__cl_pick_error(int pick, tg__cl_uint nd, char *why, size_t n) {
  if (pick >= 0 && (tg__cl_uint)pick < nd) return 0;
  if (!nd) snprintf(why, n, "no OpenCL device on any platform");
  else if (nd == 1) snprintf(why, n, "OPENCL_DEVICE=%d is out of range: there is 1 device, index 0", pick);
  else snprintf(why, n, "OPENCL_DEVICE=%d is out of range: there are %u devices, indices 0 to %u", pick, nd, nd - 1);
  return -1;
}

/* At exit, the queued kernels finish first. PoCL compiles a program's kernel on its worker thread when it first
 * runs: a process that exited meanwhile (it realised a tensor and returned from main) crashed in LLVM, whose statics
 * exit had destroyed (SIGSEGV, or an abort). So a program's first launch is waited for (tg__cl_launch), and at exit
 * the queue is finished, the kernels it holds compiled already. */
static void tg__cl_at_exit(void) {
  if (tg__cl.state == 1) tg__cl.api.Finish(tg__cl.queue);
}

/* loads the driver and opens a context and a queue on the chosen device, once; 0 or -1 with an error */
static int tg__cl_init(void) {
  if (tg__cl.state == 1) return 0;
  if (tg__cl.state == -1) {
    tg__set_error("%s", tg__cl.err);
    return -1;
  }
  static const char *const libs[] = {"libOpenCL.so.1", "libOpenCL.so", NULL};
  tg__cl.lib = tg__dl_load("OPENCL", libs, tg__cl_syms, (void **)&tg__cl.api);
  tg__cl_api *cl = &tg__cl.api;
  tg__cl_int e = 0;
  const char *step = NULL, *hint = "install an OpenCL driver (an ICD, e.g. pocl-opencl-icd), or use DEV=CPU";
  char why[160];
  if (tg__cl.lib) {
    tg__cl_obj devices[64];
    tg__cl_uint nd = tg__cl_devices(devices, 64, &e);
    int pick = tg__getenv_int("OPENCL_DEVICE", 0);
    if (e) step = "no OpenCL platform";
    else if (tg__cl_pick_error(pick, nd, why, sizeof why) < 0) {
      step = why;
      if (nd) hint = "set OPENCL_DEVICE to one of those indices, or unset it for device 0";
    }
    if (!step) {
      tg__cl.device = devices[pick];
      cl->GetDeviceInfo(tg__cl.device, TG__CL_DEVICE_NAME, sizeof tg__cl.device_name - 1, tg__cl.device_name, NULL);
      tg__cl.context = cl->CreateContext(NULL, 1, &tg__cl.device, NULL, NULL, &e);
      if (!tg__cl.context) step = "clCreateContext failed";
    }
    if (!step) {
      tg__cl.queue = cl->CreateCommandQueue(tg__cl.context, tg__cl.device, 0, &e);
      if (!tg__cl.queue) step = "clCreateCommandQueue failed";
    }
    if (step && e)
      snprintf(tg__cl.err, sizeof tg__cl.err, "OPENCL: %s (%s). HINT: %s", step, tg__cl_strerror(e), hint);
    else if (step)
      snprintf(tg__cl.err, sizeof tg__cl.err, "OPENCL: %s. HINT: %s", step, hint);
  } else {
    snprintf(tg__cl.err, sizeof tg__cl.err, "%.900s. HINT: install the OpenCL ICD loader (ocl-icd-libopencl1) and a "
             "driver, or use DEV=CPU", tg_error());
  }
  tg__cl.state = tg__cl.lib && !step ? 1 : -1;
  if (tg__cl.state == 1) atexit(tg__cl_at_exit);
  if (tg__cl.state < 0) tg__set_error("%s", tg__cl.err);
  return tg__cl.state == 1 ? 0 : -1;
}

static void *tg__cl_alloc(void *ctx, size_t nbytes) {
  (void)ctx;
  if (tg__cl_init() < 0) return NULL;
  tg__cl_int e = 0;
  tg__cl_obj m = tg__cl.api.CreateBuffer(tg__cl.context, TG__CL_MEM_READ_WRITE, nbytes, NULL, &e);
  if (!m) tg__set_error("OPENCL alloc of %zu bytes on %s: %s", nbytes, tg__cl.device_name, tg__cl_strerror(e));
  return m;
}

static void tg__cl_free(void *ctx, void *ptr) {
  (void)ctx;
  if (ptr && tg__cl.state == 1) tg__cl.api.ReleaseMemObject((tg__cl_obj)ptr);
}

static int tg__cl_copy_in(void *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  if (tg__cl_init() < 0) return -1;
  tg__cl_int e = tg__cl.api.EnqueueWriteBuffer(tg__cl.queue, (tg__cl_obj)dst, 1, 0, nbytes, src, 0, NULL, NULL);
  return e ? tg__cl_fail("copy in", e) : 0;
}

static int tg__cl_copy_out(void *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  if (tg__cl_init() < 0) return -1;
  tg__cl_int e = tg__cl.api.EnqueueReadBuffer(tg__cl.queue, (tg__cl_obj)src, 1, 0, nbytes, dst, 0, NULL, NULL);
  return e ? tg__cl_fail("copy out", e) : 0;
}

/* The device's cache key: the device's name, its OpenCL version and the driver's (programs are kept in the
 * library's disk cache as the driver's binaries). NULL (no caching) when OpenCL cannot start. */
static const char *tg__cl_cache_key(void *ctx) {
  static char key[512];
  char driver[128] = "", version[128] = "";
  (void)ctx;
  if (tg__cl_init() < 0) return NULL;
  tg__cl.api.GetDeviceInfo(tg__cl.device, TG__CL_DRIVER_VERSION, sizeof driver - 1, driver, NULL);
  tg__cl.api.GetDeviceInfo(tg__cl.device, TG__CL_DEVICE_VERSION, sizeof version - 1, version, NULL);
  snprintf(key, sizeof key, "tinygrad.h OPENCL 1\n%s\n%s\n%s", tg__cl.device_name, version, driver);
  return key;
}

/* builds prog for the device: 0, or -1 with the build log in err */
static int tg__cl_build(tg__cl_obj prog, const char *name, char *err, size_t nerr) {
  tg__cl_int e = tg__cl.api.BuildProgram(prog, 1, &tg__cl.device, "", NULL, NULL);
  if (!e) return 0;
  char log[2048] = "";
  tg__cl.api.GetProgramBuildInfo(prog, tg__cl.device, TG__CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
  snprintf(err, nerr, "OPENCL build of kernel %s failed (%s): %.1500s\nHINT: DEBUG=3 prints the kernel source", name,
           tg__cl_strerror(e), log);
  return -1;
}

/* the device's compile: the driver builds the source, and its binary for the device is the blob */
static void *tg__cl_compile(void *ctx, const char *name, const char *src, size_t *size, char *err, size_t nerr) {
  (void)ctx;
  if (tg__cl.state != 1) {
    snprintf(err, nerr, "%s", tg__cl.err[0] ? tg__cl.err : "OPENCL is not initialised");
    return NULL;
  }
  tg__cl_api *cl = &tg__cl.api;
  tg__cl_int e = 0;
  tg__cl_obj prog = cl->CreateProgramWithSource(tg__cl.context, 1, &src, NULL, &e);
  if (!prog) {
    snprintf(err, nerr, "OPENCL create program on %s: %s", tg__cl.device_name, tg__cl_strerror(e));
    return NULL;
  }
  unsigned char *bin = NULL;
  size_t n = 0;
  if (tg__cl_build(prog, name, err, nerr) == 0) {
    e = cl->GetProgramInfo(prog, TG__CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL);
    if (!e && n && (bin = (unsigned char *)malloc(n))) e = cl->GetProgramInfo(prog, TG__CL_PROGRAM_BINARIES,
                                                                              sizeof bin, &bin, NULL);
    if (e || !n || !bin) {
      snprintf(err, nerr, "OPENCL built kernel %s but gave no binary back (%s)", name, tg__cl_strerror(e));
      free(bin);
      bin = NULL;
    }
  }
  cl->ReleaseProgram(prog);
  *size = n;
  return bin;
}

/* a program: its cl_kernel (the cl_program is released once the kernel holds it), and its launches so far */
typedef struct tg__cl_prog { tg__cl_obj kernel; int64_t launches; } tg__cl_prog;

static void *tg__cl_load(void *ctx, const char *name, const void *blob, size_t size) {
  (void)ctx;
  if (tg__cl_init() < 0) return NULL;
  tg__cl_api *cl = &tg__cl.api;
  tg__cl_int e = 0, status = 0;
  const unsigned char *bin = (const unsigned char *)blob;
  tg__cl_obj prog = cl->CreateProgramWithBinary(tg__cl.context, 1, &tg__cl.device, &size, &bin, &status, &e);
  if (!prog) {
    tg__set_error("OPENCL: the driver refused the binary of kernel %s: %s", name, tg__cl_strerror(e ? e : status));
    return NULL;
  }
  char err[1800];
  if (tg__cl_build(prog, name, err, sizeof err) < 0) {
    cl->ReleaseProgram(prog);
    tg__set_error("%s", err);
    return NULL;
  }
  tg__cl_obj k = cl->CreateKernel(prog, name, &e);
  cl->ReleaseProgram(prog);
  if (!k) {
    tg__cl_fail("create kernel", e);
    return NULL;
  }
  tg__cl_prog *p = (tg__cl_prog *)tg__alloc(sizeof *p);
  p->kernel = k;
  return p;
}

static void tg__cl_unload(void *ctx, void *program) {
  (void)ctx;
  tg__cl_prog *p = (tg__cl_prog *)program;
  if (tg__cl.state == 1) tg__cl.api.ReleaseKernel(p->kernel);
  TG_FREE(p);
}

static int tg__cl_launch(void *ctx, const tg_launch *l) {
  (void)ctx;
  tg__cl_api *cl = &tg__cl.api;
  tg__cl_prog *p = (tg__cl_prog *)l->program;
  for (int i = 0; i < l->nbufs; i++) {
    tg__cl_int e = cl->SetKernelArg(p->kernel, (tg__cl_uint)i, sizeof(void *), &l->bufs[i]);
    if (e) return tg__cl_fail("set kernel argument", e);
  }
  size_t global = (size_t)(l->global[0] > 0 ? l->global[0] : 1), local = (size_t)l->local[0];
  if (local > 0) global *= local; /* the kernel's workgroups (LOCAL, GROUP): global[0] of them */
  tg__cl_int e = cl->EnqueueNDRangeKernel(tg__cl.queue, p->kernel, 1, NULL, &global, local ? &local : NULL, 0, NULL,
                                          NULL);
  if (!e && p->launches++ == 0) e = cl->Finish(tg__cl.queue); /* see tg__cl_at_exit */
  if (!e) return 0;
  tg__set_error("OPENCL launch of kernel %s over %zu work items: %s (%d)", l->name, global, tg__cl_strerror(e), (int)e);
  return -1;
}

/* the device for the optimiser: work-group size, local memory, compute units (defaults when there is none) */
static void tg__cl_describe(void *ctx, tg_device_props *t) {
  (void)ctx;
  if (tg__cl_init() == 0) {
    size_t wg = 0;
    uint64_t mem = 0;
    tg__cl_uint units = 0;
    tg__cl_api *cl = &tg__cl.api;
    if (!cl->GetDeviceInfo(tg__cl.device, TG__CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) && wg > 0)
      t->local_max = wg < 1024 ? (int)wg : 1024;
    if (!cl->GetDeviceInfo(tg__cl.device, TG__CL_DEVICE_LOCAL_MEM_SIZE, sizeof mem, &mem, NULL) && mem > 0)
      t->shared_bytes = mem < (1u << 20) ? (int64_t)mem : (1 << 20);
    if (!cl->GetDeviceInfo(tg__cl.device, TG__CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL) && units > 0)
      t->units = (int)units;
  }
}

static int tg__cl_synchronize(void *ctx) {
  (void)ctx;
  if (tg__cl.state != 1) return 0;
  tg__cl_int e = tg__cl.api.Finish(tg__cl.queue);
  return e ? tg__cl_fail("finish", e) : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the OpenCL dialect: OpenCL C 1.2; 64-bit integers are long, math functions are overloaded, bool cannot live in
// global memory (a uchar there); float64 needs cl_khr_fp64, which the prelude enables

static const char tg__opencl_prelude[] =
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "#define TG_FN inline\n"
    "TG_FN unsigned int tg_f2u(float f) { return as_uint(f); }\n"
    "TG_FN float tg_u2f(unsigned int u) { return as_float(u); }\n";
static const char *const tg__opencl_types[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    "bool", "char", "uchar", NULL, "ushort", NULL, "uint", "long", "ulong", NULL, NULL, NULL, NULL};
static const char *const tg__opencl_mem_types[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    "uchar", "char", "uchar", NULL, "ushort", NULL, "uint", "long", "ulong", "ushort", "ushort", NULL, NULL};
/* the renderer's 16-bit float stores, and a bool kept as a byte is stored as 0 or 1 (true + true is 2 until it is
 * converted to bool) */
static const char *const tg__opencl_stores[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    "(bool)(%s)", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "tg_f2h(%s)", "tg_f2bf(%s)", NULL, NULL};

static const tg__dialect tg__dialect_opencl = {
    /* name, prelude, kernel_prefix, buffer_prefix, buffer_qualifier, extra_params, has_entry_wrapper */
    "OpenCL", tg__opencl_prelude, "__kernel ", "__global ", "restrict", NULL, 0,
    /* global_id, float_suffix, bitcast (the operand cast to its own type first: C promotes a uchar expression such
     * as a | b << 4 to int, which as_char refuses), int64_suffix, uint64_suffix */
    "((long)get_global_id(0))", 0, "as_%m((%u)(%s))", "L", "UL",
    /* types, mem_types, preludes, load_fmt, store_fmt, unsupported */
    tg__opencl_types, tg__opencl_mem_types, tg__half_preludes, tg__half_loads, tg__opencl_stores, 0,
    /* tile_prelude, stage_strided_stores, forms, nforms */
    NULL, 0, NULL, 0,
    /* group_id, local_id, shared_prefix, barrier */
    "((long)get_group_id(0))", "get_local_id(0)", "__local ", "barrier(CLK_LOCAL_MEM_FENCE);",
    /* vec4_load, vec4_store */
    "vload4(0, %s)", "vstore4((float4)(%2), 0, %1);",
    /* wmma, wmma_prelude, wmma_word, wmma_vec, wmma_vec_load, wmma_vec_store, ldmatrix, async_copy, async_wait,
     * async_wait_group: tensor cores are CUDA's; dynamic_shared: local arrays are sized in the source; wgmma,
     * wgmma_reg, wgmma_acc, wgmma_desc, wgmma_fence, wgmma_commit, proxy_fence, wgmma_prelude: CUDA's too; vectors:
     * vec4's; prefetch: none; extra_prelude */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,
    NULL};

/* the OpenCL device, registered through the public interface (tg_device_desc, api.h) when the program starts. No
 * offset: a cl_mem cannot be addressed into, so there are no zero-copy views. */
__attribute__((constructor)) static void tg__cl_register(void) {
  tg_device_desc d;
  memset(&d, 0, sizeof d);
  d.size = sizeof d;
  d.version = TG_DEVICE_API_VERSION;
  d.dialect = "OPENCL";
  d.alloc = tg__cl_alloc, d.free = tg__cl_free, d.copy_in = tg__cl_copy_in, d.copy_out = tg__cl_copy_out;
  d.compile = tg__cl_compile, d.cache_key = tg__cl_cache_key;
  d.load = tg__cl_load, d.unload = tg__cl_unload, d.launch = tg__cl_launch, d.synchronize = tg__cl_synchronize;
  d.describe = tg__cl_describe;
  tg__dialect_add("OPENCL", &tg__dialect_opencl);
  tg__device_add("OPENCL", &d);
}

#endif /* TINYGRAD_IMPLEMENTATION */
#endif /* TINYGRAD_OPENCL_H */
