/* tinygrad_cuda.h: an NVIDIA CUDA device for tinygrad.h (layer 4, with device.c: it calls no higher layer).
 *
 * Use: in the one file that defines TINYGRAD_IMPLEMENTATION, include this after tinygrad.h:
 *
 *     #define TINYGRAD_IMPLEMENTATION
 *     #include "tinygrad.h"
 *     #include "backends/tinygrad_cuda.h"
 *
 * and run with DEV=CUDA to put every tensor on the first GPU (CUDA_DEVICE=n picks another). Elsewhere this header is
 * empty.
 *
 * Contract:
 *  - Kernels are rendered as CUDA C++ by the shared renderer through the CUDA dialect (tg__dialect_cuda, defined
 *    below with its prelude and type tables; the 16-bit float conversions are the renderer's): one thread per element
 *    of the output loops, the reductions as loops inside it, or, where the optimiser made workgroups (LOCAL, GROUP),
 *    one block per element of the output loops left. NVRTC compiles each distinct source once, for the GPU's own
 *    architecture (sm_XY, to a cubin; PTX for the driver to finish when NVRTC does not know the GPU), on up to 16 of
 *    the host's threads at once (the image is the blob tinygrad.h keeps in its disk cache, keyed by NVRTC's version and
 *    the GPU's compute capability), and kernels are launched over global_total threads in blocks of 256 (or the
 *    kernel's blocks) on the default stream, so they run in launch order. describe tells the optimiser the block and shared-memory limits and the SM count.
 *  - The driver (libcuda.so.1) and NVRTC (libnvrtc.so, or a versioned one; TINYGRAD_NVRTC=path names it) are loaded
 *    with dlopen on first use. Nothing links against them and no CUDA header is needed: the few types are declared
 *    below, so the header builds on machines without the toolkit. A missing driver, no GPU, a failed compile or an
 *    out-of-memory GPU is a clear error from the call that needed it, and the CPU device keeps working.
 *  - The context is the device's primary context (the one the CUDA runtime and PyTorch use), made current on the
 *    thread that first uses the device. Copies in and out are synchronous.
 *  - The device is registered through the public interface (tg_device_desc, api.h) when the program starts.
 *  - tinygrad.h is not thread-safe; use the device from one thread. */
#ifndef TINYGRAD_CUDA_H
#define TINYGRAD_CUDA_H
#ifdef TINYGRAD_IMPLEMENTATION

#include <dlfcn.h>

typedef int tg__cu_result; /* CUresult, nvrtcResult: 0 is success */
typedef struct tg__cu_opaque *tg__cu_obj; /* CUcontext, CUmodule, CUfunction, nvrtcProgram */
typedef unsigned long long tg__cu_ptr;  /* CUdeviceptr */

enum {
  TG__CU_CC_MAJOR = 75, TG__CU_CC_MINOR = 76, TG__CU_BLOCK = 256, /* CU_DEVICE_ATTRIBUTE_*, and a default block */
  TG__CU_MAX_THREADS = 1, TG__CU_MAX_SHARED = 8, TG__CU_SMS = 16, TG__CU_MAX_SHARED_OPTIN = 97,
  TG__CU_FUNC_MAX_DYNAMIC_SHARED = 8 /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
};

/* the driver's entry points, in the order of tg__cu_syms */
typedef struct tg__cu_api {
  tg__cu_result (*Init)(unsigned);
  tg__cu_result (*DeviceGet)(int *, int);
  tg__cu_result (*DeviceGetCount)(int *);
  tg__cu_result (*DeviceGetAttribute)(int *, int, int);
  tg__cu_result (*DeviceGetName)(char *, int, int);
  tg__cu_result (*DevicePrimaryCtxRetain)(tg__cu_obj *, int);
  tg__cu_result (*CtxSetCurrent)(tg__cu_obj);
  tg__cu_result (*CtxSynchronize)(void);
  tg__cu_result (*MemAlloc)(tg__cu_ptr *, size_t);
  tg__cu_result (*MemFree)(tg__cu_ptr);
  tg__cu_result (*MemcpyHtoD)(tg__cu_ptr, const void *, size_t);
  tg__cu_result (*MemcpyDtoH)(void *, tg__cu_ptr, size_t);
  tg__cu_result (*ModuleLoadData)(tg__cu_obj *, const void *);
  tg__cu_result (*ModuleGetFunction)(tg__cu_obj *, tg__cu_obj, const char *);
  tg__cu_result (*LaunchKernel)(tg__cu_obj, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                void *, void **, void **);
  tg__cu_result (*GetErrorString)(tg__cu_result, const char **);
  tg__cu_result (*FuncSetAttribute)(tg__cu_obj, int, int);
} tg__cu_api;

static const char *const tg__cu_syms[] = {
    "cuInit", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetAttribute", "cuDeviceGetName",
    "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuCtxSynchronize", "cuMemAlloc_v2", "cuMemFree_v2",
    "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuModuleLoadData", "cuModuleGetFunction", "cuLaunchKernel",
    "cuGetErrorString", "cuFuncSetAttribute", NULL};

/* NVRTC's, in the order of tg__nvrtc_syms */
typedef struct tg__nvrtc_api {
  tg__cu_result (*CreateProgram)(tg__cu_obj *, const char *, const char *, int, const char *const *,
                                 const char *const *);
  tg__cu_result (*CompileProgram)(tg__cu_obj, int, const char *const *);
  tg__cu_result (*GetProgramLogSize)(tg__cu_obj, size_t *);
  tg__cu_result (*GetProgramLog)(tg__cu_obj, char *);
  tg__cu_result (*GetPTXSize)(tg__cu_obj, size_t *);
  tg__cu_result (*GetPTX)(tg__cu_obj, char *);
  tg__cu_result (*DestroyProgram)(tg__cu_obj *);
  const char *(*GetErrorString)(tg__cu_result);
} tg__nvrtc_api;

static const char *const tg__nvrtc_syms[] = {
    "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize", "nvrtcGetProgramLog", "nvrtcGetPTXSize",
    "nvrtcGetPTX", "nvrtcDestroyProgram", "nvrtcGetErrorString", NULL};

/* the driver's CUDA graph entry points (optional: a replay launches kernel by kernel without them) */
typedef struct tg__cu_kernel_node { /* CUDA_KERNEL_NODE_PARAMS (v1) */
  tg__cu_obj func;
  unsigned grid[3], block[3], shared;
  void **params, **extra;
} tg__cu_kernel_node;
typedef struct tg__cu_graph_api {
  tg__cu_result (*Create)(tg__cu_obj *, unsigned);
  tg__cu_result (*AddKernelNode)(tg__cu_obj *, tg__cu_obj, const tg__cu_obj *, size_t, const tg__cu_kernel_node *);
  tg__cu_result (*Instantiate)(tg__cu_obj *, tg__cu_obj, unsigned long long);
  tg__cu_result (*SetParams)(tg__cu_obj, tg__cu_obj, const tg__cu_kernel_node *);
  tg__cu_result (*Launch)(tg__cu_obj, tg__cu_obj);
  tg__cu_result (*ExecDestroy)(tg__cu_obj);
  tg__cu_result (*Destroy)(tg__cu_obj);
} tg__cu_graph_api;
static const char *const tg__cu_graph_syms[] = {
    "cuGraphCreate", "cuGraphAddKernelNode", "cuGraphInstantiateWithFlags", "cuGraphExecKernelNodeSetParams",
    "cuGraphLaunch", "cuGraphExecDestroy", "cuGraphDestroy", NULL};

static struct {
  int state; /* 0 not tried, 1 ready, -1 failed (err holds why) */
  char err[1024];
  tg__cu_api cu;
  tg__nvrtc_api rtc;
  tg__cu_result (*get_cubin_size)(tg__cu_obj, size_t *); /* NVRTC 11.1+; NULL: PTX only */
  tg__cu_result (*get_cubin)(tg__cu_obj, char *);
  int rtc_major, rtc_minor;                              /* nvrtcVersion's (0.0 when it is missing) */
  int device, cc;                                        /* cc: 90 for sm_90 */
  tg__cu_obj context;
  char name[128];
  tg__cu_graph_api graph; /* CUDA graphs, for JIT replays; entries NULL when the driver lacks them */
} tg__cu;

static int tg__cu_fail(const char *what, tg__cu_result r) {
  const char *s = NULL;
  if (tg__cu.cu.GetErrorString) tg__cu.cu.GetErrorString(r, &s);
  tg__set_error("CUDA %s on %s: %s (%d)", what, tg__cu.name[0] ? tg__cu.name : "the GPU", s ? s : "error", r);
  return -1;
}

/* the primary context is current on this thread (a CUDA context is current per thread: the library's lock lets any
 * thread call it, one at a time) */
static TG__THREAD_LOCAL int tg__cu_bound;

static int tg__cu_bind(void) {
  if (tg__cu_bound) return 0;
  tg__cu_result r = tg__cu.cu.CtxSetCurrent(tg__cu.context);
  if (r) return tg__cu_fail("cuCtxSetCurrent on a new thread", r);
  tg__cu_bound = 1;
  return 0;
}

/* loads the driver and NVRTC and makes the primary context current, once per process, then once per thread; 0 or -1
 * with an error */
static int tg__cu_init(void) {
  if (tg__cu.state == 1) return tg__cu_bind();
  if (tg__cu.state == -1) {
    tg__set_error("%s", tg__cu.err);
    return -1;
  }
  tg__cu.state = -1;
  static const char *const cuda_libs[] = {"libcuda.so.1", "libcuda.so", NULL};
  void *lib = tg__dl_load("CUDA", cuda_libs, tg__cu_syms, (void **)&tg__cu.cu);
  if (!lib) {
    snprintf(tg__cu.err, sizeof tg__cu.err, "%.900s. HINT: install the NVIDIA driver, or use DEV=CPU", tg_error());
    tg__set_error("%s", tg__cu.err);
    return -1;
  }
  int graphs = 1;
  for (int i = 0; tg__cu_graph_syms[i]; i++)
    graphs &= (((void **)&tg__cu.graph)[i] = dlsym(lib, tg__cu_graph_syms[i])) != NULL;
  if (!graphs) memset(&tg__cu.graph, 0, sizeof tg__cu.graph);
  const char *custom = getenv("TINYGRAD_NVRTC");
  const char *rtc_libs[] = {custom && custom[0] ? custom : "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12",
                            "libnvrtc.so.11.2", "/usr/local/cuda/lib64/libnvrtc.so", NULL};
  void *rtc = tg__dl_load("CUDA (NVRTC, the run-time compiler)", rtc_libs, tg__nvrtc_syms, (void **)&tg__cu.rtc);
  if (!rtc) {
    snprintf(tg__cu.err, sizeof tg__cu.err, "%.900s. HINT: install the CUDA toolkit's NVRTC, or name it with "
             "TINYGRAD_NVRTC=/path/to/libnvrtc.so", tg_error());
    tg__set_error("%s", tg__cu.err);
    return -1;
  }
  *(void **)&tg__cu.get_cubin_size = dlsym(rtc, "nvrtcGetCUBINSize");
  *(void **)&tg__cu.get_cubin = dlsym(rtc, "nvrtcGetCUBIN");
  tg__cu_result (*version)(int *, int *);
  *(void **)&version = dlsym(rtc, "nvrtcVersion");
  if (version) version(&tg__cu.rtc_major, &tg__cu.rtc_minor);
  tg__cu_api *cu = &tg__cu.cu;
  int n = 0, major = 0, minor = 0, pick = tg__getenv_int("CUDA_DEVICE", 0);
  tg__cu_result r;
  const char *step = "cuInit";
  if ((r = cu->Init(0)) == 0 && (step = "cuDeviceGetCount", r = cu->DeviceGetCount(&n)) == 0) {
    if (pick < 0 || pick >= n) {
      snprintf(tg__cu.err, sizeof tg__cu.err, "CUDA: %s (%d GPU%s). HINT: set CUDA_DEVICE to 0..%d, or use DEV=CPU",
               n ? "CUDA_DEVICE is out of range" : "no GPU found", n, n == 1 ? "" : "s", n - 1);
      tg__set_error("%s", tg__cu.err);
      return -1;
    }
    if ((step = "cuDeviceGet", r = cu->DeviceGet(&tg__cu.device, pick)) == 0 &&
        (step = "cuDeviceGetAttribute", r = cu->DeviceGetAttribute(&major, TG__CU_CC_MAJOR, tg__cu.device)) == 0 &&
        (r = cu->DeviceGetAttribute(&minor, TG__CU_CC_MINOR, tg__cu.device)) == 0 &&
        (step = "cuDevicePrimaryCtxRetain", r = cu->DevicePrimaryCtxRetain(&tg__cu.context, tg__cu.device)) == 0 &&
        (step = "cuCtxSetCurrent", r = cu->CtxSetCurrent(tg__cu.context)) == 0) {
      cu->DeviceGetName(tg__cu.name, sizeof tg__cu.name - 1, tg__cu.device);
      tg__cu.cc = major * 10 + minor;
      tg__cu.state = 1;
      tg__cu_bound = 1;
      return 0;
    }
  }
  tg__cu_fail(step, r);
  snprintf(tg__cu.err, sizeof tg__cu.err, "%.900s. HINT: check the driver with nvidia-smi, or use DEV=CPU", tg_error());
  tg__set_error("%s", tg__cu.err);
  return -1;
}

static void *tg__cu_alloc(void *ctx, size_t nbytes) {
  (void)ctx;
  if (tg__cu_init() < 0) return NULL;
  tg__cu_ptr p = 0;
  tg__cu_result r = tg__cu.cu.MemAlloc(&p, nbytes);
  if (r) {
    char what[64];
    snprintf(what, sizeof what, "alloc of %zu bytes", nbytes);
    tg__cu_fail(what, r);
    return NULL;
  }
  return (void *)(uintptr_t)p;
}

static void tg__cu_free(void *ctx, void *ptr) {
  (void)ctx;
  if (ptr && tg__cu.state == 1 && tg__cu_bind() == 0) tg__cu.cu.MemFree((tg__cu_ptr)(uintptr_t)ptr);
}

static int tg__cu_copy_in(void *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  if (tg__cu_init() < 0) return -1;
  tg__cu_result r = tg__cu.cu.MemcpyHtoD((tg__cu_ptr)(uintptr_t)dst, src, nbytes);
  return r ? tg__cu_fail("copy in", r) : 0;
}

static int tg__cu_copy_out(void *ctx, void *dst, const void *src, size_t nbytes) {
  (void)ctx;
  if (tg__cu_init() < 0) return -1;
  tg__cu_result r = tg__cu.cu.MemcpyDtoH(dst, (tg__cu_ptr)(uintptr_t)src, nbytes);
  return r ? tg__cu_fail("copy out (or a kernel before it)", r) : 0;
}

/* source -> cubin (or PTX) with NVRTC, on any thread: it touches nothing of the library but NVRTC, and sets no
 * error. The image (TG_MALLOC'd, its size in *size, *ptx telling which came out), or NULL with why in err. */
static char *tg__cu_nvrtc(const char *name, const char *src, int *ptx, size_t *size, char *err, size_t nerr) {
  tg__nvrtc_api *rtc = &tg__cu.rtc;
  tg__cu_obj prog = NULL;
  *size = 0;
  tg__cu_result r = rtc->CreateProgram(&prog, src, name, 0, NULL, NULL);
  if (r) {
    snprintf(err, nerr, "CUDA: NVRTC cannot create a program for kernel %s: %s", name, rtc->GetErrorString(r));
    return NULL;
  }
  char arch[64];
  *ptx = !tg__cu.get_cubin;
  /* WGMMA (Hopper's warpgroup tensor cores) is sm_90a's, not sm_90's */
  const char *feat = tg__cu.cc == 90 && strstr(src, "wgmma.") ? "a" : "";
  snprintf(arch, sizeof arch, "--gpu-architecture=%s_%d%s", *ptx ? "compute" : "sm", tg__cu.cc, feat);
  const char *opts[] = {arch, "-default-device"};
  r = rtc->CompileProgram(prog, 2, opts);
  if (r && !*ptx) { /* an NVRTC older than the GPU knows no sm_XY: PTX for the driver to compile */
    rtc->DestroyProgram(&prog);
    rtc->CreateProgram(&prog, src, name, 0, NULL, NULL);
    *ptx = 1;
    snprintf(arch, sizeof arch, "--gpu-architecture=compute_%d%s", tg__cu.cc, feat);
    r = rtc->CompileProgram(prog, 2, opts);
  }
  char *out = NULL;
  size_t n = 0;
  if (r) {
    rtc->GetProgramLogSize(prog, &n);
    char *log = (char *)TG_MALLOC(n + 1);
    if (log && n) rtc->GetProgramLog(prog, log);
    snprintf(err, nerr, "CUDA compile of kernel %s failed (%s): %.1500s\nHINT: DEBUG=3 prints the kernel source", name,
             rtc->GetErrorString(r), log && n ? log : "");
    TG_FREE(log);
  } else if (*ptx ? rtc->GetPTXSize(prog, &n) == 0 : tg__cu.get_cubin_size(prog, &n) == 0) {
    out = (char *)TG_MALLOC(n + 1);
    if (!out || (*ptx ? rtc->GetPTX(prog, out) : tg__cu.get_cubin(prog, out))) {
      TG_FREE(out);
      out = NULL;
      snprintf(err, nerr, "CUDA: NVRTC compiled kernel %s but gave no code back", name);
    }
  }
  rtc->DestroyProgram(&prog);
  if (out) *size = n;
  return out;
}

/* The device's cache key (compiled images are kept in the library's disk cache, device.c): NVRTC's version, the
 * GPU's compute capability, whether NVRTC makes cubins. NULL (no caching) when CUDA cannot start. */
static const char *tg__cu_cache_key(void *ctx) {
  static char key[128];
  (void)ctx;
  if (tg__cu_init() < 0) return NULL; /* here, on the library's thread: compile may run on others */
  snprintf(key, sizeof key, "tinygrad.h CUDA 2\nnvrtc %d.%d sm_%d cubin %d", tg__cu.rtc_major, tg__cu.rtc_minor,
           tg__cu.cc, tg__cu.get_cubin != NULL);
  return key;
}

/* the device's compile, on any thread (NVRTC's): the image tagged by its first byte, 'C' for a cubin or 'P' for PTX */
static void *tg__cu_compile(void *ctx, const char *name, const char *src, size_t *size, char *err, size_t nerr) {
  (void)ctx;
  if (tg__cu.state != 1) { /* cache_key started it; it failed */
    snprintf(err, nerr, "%s", tg__cu.err[0] ? tg__cu.err : "CUDA is not initialised");
    return NULL;
  }
  int ptx = 0;
  size_t n = 0;
  char *made = tg__cu_nvrtc(name, src, &ptx, &n, err, nerr);
  if (!made) return NULL;
  char *image = (char *)malloc(n + 2); /* the library frees it with free */
  if (image) {
    image[0] = ptx ? 'P' : 'C';
    memcpy(image + 1, made, n);
    image[n + 1] = 0;
    *size = n + 1;
  } else snprintf(err, nerr, "CUDA: no memory for the image of kernel %s", name);
  TG_FREE(made);
  return image;
}

/* a program: the kernel's function (its module stays loaded until exit) and the dynamic shared memory it may take */
typedef struct tg__cu_prog { tg__cu_obj mod, fn; int64_t shared_allowed; } tg__cu_prog;

static void *tg__cu_load(void *ctx, const char *name, const void *blob, size_t size) {
  (void)ctx;
  const char *image = (const char *)blob;
  if (tg__cu_init() < 0) return NULL;
  if (size < 2 || (image[0] != 'C' && image[0] != 'P') || image[size - 1]) {
    tg__set_error("CUDA: the image of kernel %s is not one this backend made", name);
    return NULL;
  }
  tg__cu_obj mod = NULL, fn = NULL;
  tg__cu_result r = tg__cu.cu.ModuleLoadData(&mod, image + 1);
  if (!r) r = tg__cu.cu.ModuleGetFunction(&fn, mod, name);
  if (r) {
    tg__cu_fail(image[0] == 'P' ? "load of a PTX module" : "load of a cubin module", r);
    return NULL;
  }
  tg__cu_prog *p = (tg__cu_prog *)tg__alloc(sizeof *p);
  p->mod = mod, p->fn = fn;
  return p;
}

static void tg__cu_unload(void *ctx, void *program) {
  (void)ctx;
  TG_FREE(program); /* the module goes with the context at exit */
}

/* a GPU launch of `total` threads (a GPU kernel returns early past its total): blocks of `block` threads */
static void tg__cu_launch_dims(int64_t total, int block, uint32_t *nblocks, uint32_t *nthreads) {
  if (total < 1) total = 1;
  int64_t t = total < block ? (total + 31) / 32 * 32 : block;
  *nthreads = (uint32_t)t;
  *nblocks = (uint32_t)((total + t - 1) / t);
}

/* a launch's grid: global[0] blocks of local[0] threads (the kernel's workgroups: LOCAL, GROUP), or its global[0]
 * threads in blocks of TG__CU_BLOCK */
static void tg__cu_program_dims(const tg_launch *l, uint32_t *blocks, uint32_t *threads) {
  if (l->local[0] > 0) *blocks = (uint32_t)(l->global[0] > 0 ? l->global[0] : 1), *threads = (uint32_t)l->local[0];
  else tg__cu_launch_dims(l->global[0], TG__CU_BLOCK, blocks, threads);
}

/* the shared memory a launch takes: its arrays when they pass the static limit (the dialect's dynamic_shared: one
 * array sized at launch, which the function is allowed to take on its first launch), else 0; -1 on an error */
static int tg__cu_dynamic_shared(const tg_launch *l) {
  tg__cu_prog *p = (tg__cu_prog *)l->program;
  if (l->shared_bytes <= TG__STATIC_SHARED) return 0;
  if (l->shared_bytes <= p->shared_allowed) return (int)l->shared_bytes;
  tg__cu_result r = tg__cu.cu.FuncSetAttribute(p->fn, TG__CU_FUNC_MAX_DYNAMIC_SHARED, (int)l->shared_bytes);
  if (!r) return (int)(p->shared_allowed = l->shared_bytes);
  char what[160];
  snprintf(what, sizeof what, "kernel %.64s's %lld bytes of shared memory", l->name, (long long)l->shared_bytes);
  tg__cu_fail(what, r);
  return -1;
}

static int tg__cu_launch(void *ctx, const tg_launch *l) {
  (void)ctx;
  void *args[256];
  if (l->nbufs > 256) {
    tg__set_error("CUDA launch of kernel %s: %d buffers, at most 256", l->name, l->nbufs);
    return -1;
  }
  if (tg__cu_init() < 0) return -1;
  for (int i = 0; i < l->nbufs; i++) args[i] = &l->bufs[i]; /* each parameter is a device pointer, by address */
  uint32_t blocks, threads;
  tg__cu_program_dims(l, &blocks, &threads);
  int shared = tg__cu_dynamic_shared(l);
  if (shared < 0) return -1;
  tg__cu_result r = tg__cu.cu.LaunchKernel(((tg__cu_prog *)l->program)->fn, blocks, 1, 1, threads, 1, 1,
                                           (unsigned)shared, NULL, args, NULL);
  if (!r) return 0;
  char what[160];
  snprintf(what, sizeof what, "launch of kernel %.64s (%u blocks of %u threads)", l->name, blocks, threads);
  return tg__cu_fail(what, r);
}

/* A JIT's replay as one CUDA graph: the kernels in order, each after the one before. The graph is built on the first
 * replay and kept in *state; later replays change the parameters of the nodes whose buffers moved (a plan may give
 * an intermediate other memory) and launch it, one call for all the kernels. Returns 1 (nothing ran: launch them
 * one by one) when the driver has no graphs or the graph cannot be built, 0 when it launched, -1 on an error. */
typedef struct tg__cu_graph {
  tg__cu_obj graph, exec;
  int n;
  tg__cu_obj *nodes;
  tg__cu_ptr *args; /* the parameters the nodes have now: node i's from off[i] */
  int *off;
} tg__cu_graph;

static void tg__cu_graph_free(void *ctx, void *state) {
  (void)ctx;
  tg__cu_graph *g = (tg__cu_graph *)state;
  if (!g) return;
  if (tg__cu.state == 1 && tg__cu_bind() == 0) {
    if (g->exec) tg__cu.graph.ExecDestroy(g->exec);
    if (g->graph) tg__cu.graph.Destroy(g->graph);
  }
  TG_FREE(g->nodes);
  TG_FREE(g->args);
  TG_FREE(g->off);
  TG_FREE(g);
}

/* node i's parameters for launch of p over bufs: n pointers to the values in vals (which the driver copies); -1 when
 * its shared memory cannot be had */
static int tg__cu_node(tg__cu_kernel_node *k, const tg_launch *l, tg__cu_ptr *vals, void **ptrs) {
  memset(k, 0, sizeof *k);
  uint32_t blocks, threads;
  tg__cu_program_dims(l, &blocks, &threads);
  int shared = tg__cu_dynamic_shared(l);
  if (shared < 0) return -1;
  k->shared = (unsigned)shared;
  k->func = ((tg__cu_prog *)l->program)->fn;
  void **bufs = l->bufs;
  int n = l->nbufs;
  k->grid[0] = blocks, k->grid[1] = k->grid[2] = 1;
  k->block[0] = threads, k->block[1] = k->block[2] = 1;
  for (int i = 0; i < n; i++) vals[i] = (tg__cu_ptr)(uintptr_t)bufs[i], ptrs[i] = &vals[i];
  k->params = ptrs;
  return 0;
}

static int tg__cu_launch_graph(void *ctx, int n, const tg_launch *ls, void **state) {
  if (n < 1) return 1;
  if (tg__cu_init() < 0) return -1;
  if (!tg__cu.graph.Launch) return 1;
  tg__cu_graph *g = (tg__cu_graph *)*state;
  int total = 0, most = 1;
  for (int i = 0; i < n; i++) total += ls[i].nbufs, most = ls[i].nbufs > most ? ls[i].nbufs : most;
  tg__cu_ptr *vals = (tg__cu_ptr *)tg__alloc(sizeof(tg__cu_ptr) * (size_t)most);
  void **ptrs = (void **)tg__alloc(sizeof(void *) * (size_t)most);
  tg__cu_kernel_node k;
  tg__cu_result r = 0;
  if (g && g->n != n) { /* another record (cannot happen for one JIT): rebuilt */
    tg__cu_graph_free(ctx, g);
    *state = g = NULL;
  }
  if (!g) {
    g = (tg__cu_graph *)tg__alloc(sizeof *g);
    g->n = n;
    g->nodes = (tg__cu_obj *)tg__alloc(sizeof(tg__cu_obj) * (size_t)n);
    g->args = (tg__cu_ptr *)tg__alloc(sizeof(tg__cu_ptr) * (size_t)(total ? total : 1));
    g->off = (int *)tg__alloc(sizeof(int) * (size_t)n);
    r = tg__cu.graph.Create(&g->graph, 0);
    for (int i = 0, at = 0; i < n && !r; at += ls[i++].nbufs) {
      r = tg__cu_node(&k, &ls[i], vals, ptrs) < 0 /* its launch will say why */
              ? 1
              : tg__cu.graph.AddKernelNode(&g->nodes[i], g->graph, i ? &g->nodes[i - 1] : NULL, i ? 1 : 0, &k);
      g->off[i] = at;
      memcpy(g->args + at, vals, sizeof(tg__cu_ptr) * (size_t)ls[i].nbufs);
    }
    if (!r) r = tg__cu.graph.Instantiate(&g->exec, g->graph, 0);
    if (r) { /* no graph: the replay launches kernel by kernel */
      tg__cu_graph_free(ctx, g);
      TG_FREE(vals);
      TG_FREE(ptrs);
      return 1;
    }
    *state = g;
  } else {
    for (int i = 0; i < n && !r; i++) {
      tg__cu_ptr *have = g->args + g->off[i];
      int moved = 0;
      for (int b = 0; b < ls[i].nbufs; b++) moved |= have[b] != (tg__cu_ptr)(uintptr_t)ls[i].bufs[b];
      if (!moved) continue;
      r = tg__cu_node(&k, &ls[i], vals, ptrs) < 0 ? 1 : tg__cu.graph.SetParams(g->exec, g->nodes[i], &k);
      memcpy(have, vals, sizeof(tg__cu_ptr) * (size_t)ls[i].nbufs);
    }
    if (r) { /* a node's parameters are unknown now: the next replay builds the graph again */
      tg__cu_graph_free(ctx, g);
      *state = NULL;
      TG_FREE(vals);
      TG_FREE(ptrs);
      return tg__cu_fail("update of a CUDA graph's kernel parameters", r);
    }
  }
  TG_FREE(vals);
  TG_FREE(ptrs);
  if (!r) r = tg__cu.graph.Launch(g->exec, NULL);
  if (!r) return 0;
  char what[96];
  snprintf(what, sizeof what, "graph launch of %d kernels", n);
  return tg__cu_fail(what, r);
}

/* the GPU for the optimiser: threads per block, shared memory per block, SMs (defaults when there is none) */
static void tg__cu_describe(void *ctx, tg_device_props *t) {
  (void)ctx;
  int v = 0;
  if (tg__cu_init() == 0) {
    if (tg__cu.cu.DeviceGetAttribute(&v, TG__CU_MAX_THREADS, tg__cu.device) == 0 && v > 0) t->local_max = v;
    if (tg__cu.cu.DeviceGetAttribute(&v, TG__CU_MAX_SHARED, tg__cu.device) == 0 && v > 0) t->shared_bytes = v;
    /* more, sized at launch (the dialect's dynamic_shared), where the GPU lets a kernel opt in: 227 KB on Hopper */
    if (tg__cu.cu.DeviceGetAttribute(&v, TG__CU_MAX_SHARED_OPTIN, tg__cu.device) == 0 && v > t->shared_bytes)
      t->shared_bytes = v;
    if (tg__cu.cu.DeviceGetAttribute(&v, TG__CU_SMS, tg__cu.device) == 0 && v > 0) t->units = v;
    t->tensor_cores = tg__cu.cc >= 80 && !tg__getenv_int("NOTC", 0); /* mma.sync m16n8k16: Ampere on */
    t->wgmma = t->tensor_cores && tg__cu.cc == 90 && !tg__getenv_int("NOWGMMA", 0); /* Hopper only (sm_90a) */
  }
}

static int tg__cu_synchronize(void *ctx) {
  (void)ctx;
  if (tg__cu.state != 1) return 0;
  if (tg__cu_bind() < 0) return -1;
  tg__cu_result r = tg__cu.cu.CtxSynchronize();
  return r ? tg__cu_fail("synchronize (a kernel failed)", r) : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the CUDA dialect: CUDA C++, compiled by NVRTC with no headers (the prelude defines what <math.h> would)

static const char tg__cuda_prelude[] =
    "#define INFINITY (__int_as_float(0x7f800000))\n"
    "#define NAN (__int_as_float(0x7fffffff))\n"
    "#define TG_FN static __device__ __forceinline__\n"
    "TG_FN unsigned int tg_f2u(float f) { return __float_as_uint(f); }\n"
    "TG_FN float tg_u2f(unsigned int u) { return __uint_as_float(u); }\n"
    "template <class T, class F> TG_FN T tg_bitcast(F x) { union { F f; T t; } u; u.f = x; return u.t; }\n";
static const char *const tg__cuda_types[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    "bool", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
static const char *const tg__cuda_mem_types[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    "bool", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "unsigned short", "unsigned short", NULL, NULL};

/* float16 conversions by the hardware (PTX cvt, round to nearest even, as render.c's software ones), NaNs aside:
 * those keep the software's bits (a float16 NaN widens with its payload; a float NaN narrows to 0x7e00 with its
 * sign), which the hardware would make canonical. bfloat16's are a shift and a rounding add: kept as they are. */
static const char tg__cuda_half_prelude[] =
    "TG_FN float tg_h2f(unsigned short h) {\n"
    "  if ((h & 0x7c00) == 0x7c00) return tg_u2f(((unsigned int)(h >> 15) << 31) | 0x7f800000u | "
    "((unsigned int)(h & 0x3ff) << 13));\n"
    "  float f; asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h)); return f;\n"
    "}\n"
    "TG_FN unsigned short tg_f2h(float f) {\n"
    "  if (f != f) return (unsigned short)(((tg_f2u(f) >> 16) & 0x8000) | 0x7e00);\n"
    "  unsigned short h; asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f)); return h;\n"
    "}\n"
    "TG_FN float tg_bf2f(unsigned short h) { return tg_u2f((unsigned int)h << 16); }\n"
    "TG_FN unsigned short tg_f2bf(float f) { unsigned int x = tg_f2u(f);\n"
    "  if ((x & 0x7fffffff) > 0x7f800000) return (unsigned short)((x >> 16) | 0x40);\n"
    "  x += 0x7fff + ((x >> 16) & 1); return (unsigned short)(x >> 16); }\n";
static const char *const tg__cuda_half_preludes[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tg__cuda_half_prelude, tg__cuda_half_prelude, NULL, NULL};

/* The max of integers of 32 bits or fewer is taken in 64 bits. CUDA 13.0 (NVRTC and nvcc alike; right with -G)
 * miscompiles a 32-bit max-reduction of negated loads: max(-v) over {1, 3, 3, 2} gave 3, over {1, 3, 3, 2, 5, 4, 6,
 * 7} 4, and max(v * -1) the same. Writing it as max(), or the negation as unsigned arithmetic or as PTX's neg.s32
 * (opaque to NVVM) changed nothing, which points at ptxas folding the negation into its integer max; the 64-bit
 * max gives every case right (measured on an H200, 2026-12-02). */
#define TG__CUDA_MAX64(dt) {TG__OP_MAX, dt, dt, "((%t)max((long long)(%1),(long long)(%2)))"}
static const tg__form tg__cuda_forms[] = {TG__CUDA_MAX64(TG_INT8),   TG__CUDA_MAX64(TG_UINT8),
                                          TG__CUDA_MAX64(TG_INT16),  TG__CUDA_MAX64(TG_UINT16),
                                          TG__CUDA_MAX64(TG_INT32),  TG__CUDA_MAX64(TG_UINT32)};
#undef TG__CUDA_MAX64

/* tensor cores: PTX's warp-level mma.sync for each entry of tg__tensor_cores (inline assembly: NVRTC has no headers) */
static const char *const tg__cuda_wmma[TG__NTENSOR_CORES] = {"tg_mma_f16(%1, %2, make_float4(%3))",
                                                             "tg_mma_bf16(%1, %2, make_float4(%3))"};
#define TG__CUDA_MMA(fn, ty)                                                                                         \
  "TG_FN float4 " fn "(unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1, float4 c) {\n" \
  "  asm(\"mma.sync.aligned.m16n8k16.row.col.f32." ty "." ty ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "       \
  "{%0,%1,%2,%3};\"\n"                                                                                              \
  "      : \"+f\"(c.x), \"+f\"(c.y), \"+f\"(c.z), \"+f\"(c.w) : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), "         \
  "\"r\"(b0), \"r\"(b1));\n"                                                                                        \
  "  return c;\n"                                                                                                    \
  "}\n"
static const char tg__cuda_wmma_prelude[] = TG__CUDA_MMA("tg_mma_f16", "f16") TG__CUDA_MMA("tg_mma_bf16", "bf16");
#undef TG__CUDA_MMA

/* warpgroup tensor cores: PTX's wgmma.mma_async, n x 16 along k, A and B by descriptors of their shared tiles (their
 * shared address, leading and stride byte offsets over 16, 128-byte swizzle), the accumulators in place, scale-d
 * 1 (C is added). (%% is a percent sign: render.c's formats take %1 to %9.) */
#define TG__CUDA_WGMMA(ty)                                                                                           \
  "asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, 1, 0;\\nwgmma.mma_async.sync.aligned.m64n%1k16.f32." ty "." ty  \
  " {%2}, %3, %4, p, 1, 1, %5, %6;\\n}\" : %7 : \"l\"(%8), \"l\"(%9));"
static const char *const tg__cuda_wgmma[TG__NTENSOR_CORES] = {TG__CUDA_WGMMA("f16"), TG__CUDA_WGMMA("bf16")};
#undef TG__CUDA_WGMMA
static const char tg__cuda_wgmma_prelude[] =
    "TG_FN unsigned long long tg_wgmma_desc(const void *p, unsigned long long lbo, unsigned long long sbo) {\n"
    "  unsigned long long g = (unsigned long long)p, s;\n"
    "  asm(\"cvta.to.shared.u64 %0, %1;\" : \"=l\"(s) : \"l\"(g));\n"
    "  return ((s & 0x3FFFF) >> 4) | ((lbo >> 4) << 16) | ((sbo >> 4) << 32) | (1ull << 62);\n"
    "}\n";

/* ldmatrix: the shared array's generic address made a shared one (cvta), then the warp's load; volatile, with a memory
 * clobber, so that it stays after the barrier before it. (%%n is PTX's operand n: render.c's formats take %1, %2.) */
#define TG__CUDA_LDM(n, regs, outs, trans)                                                                           \
  "unsigned %1[4]; { unsigned long long g = (unsigned long long)(%2); unsigned s; "                                   \
  "asm(\"{ .reg .u64 a; cvta.to.shared.u64 a, %%1; cvt.u32.u64 %%0, a; }\" : \"=r\"(s) : \"l\"(g)); "               \
  "asm volatile(\"ldmatrix.sync.aligned.m8n8.x" #n trans ".shared.b16 " regs ", [%%" #n "];\" "                      \
  ": " outs " : \"r\"(s) : \"memory\"); }"
#define TG__CUDA_LDM_OUT1 "\"=r\"(%1[0])"
#define TG__CUDA_LDM_OUT2 TG__CUDA_LDM_OUT1 ", \"=r\"(%1[1])"
#define TG__CUDA_LDM_OUT4 TG__CUDA_LDM_OUT2 ", \"=r\"(%1[2]), \"=r\"(%1[3])"
static const char *const tg__cuda_ldmatrix[6] = {
    TG__CUDA_LDM(1, "{%%0}", TG__CUDA_LDM_OUT1, ""),
    TG__CUDA_LDM(1, "{%%0}", TG__CUDA_LDM_OUT1, ".trans"),
    TG__CUDA_LDM(2, "{%%0,%%1}", TG__CUDA_LDM_OUT2, ""),
    TG__CUDA_LDM(2, "{%%0,%%1}", TG__CUDA_LDM_OUT2, ".trans"),
    TG__CUDA_LDM(4, "{%%0,%%1,%%2,%%3}", TG__CUDA_LDM_OUT4, ""),
    TG__CUDA_LDM(4, "{%%0,%%1,%%2,%%3}", TG__CUDA_LDM_OUT4, ".trans")};
#undef TG__CUDA_LDM_OUT4
#undef TG__CUDA_LDM_OUT2
#undef TG__CUDA_LDM_OUT1
#undef TG__CUDA_LDM

static const tg__dialect tg__dialect_cuda = {
    /* name, prelude, kernel_prefix, buffer_prefix, buffer_qualifier, extra_params, has_entry_wrapper */
    "CUDA", tg__cuda_prelude, "extern \"C\" __global__ ", "", "__restrict__", NULL, 0,
    /* global_id, float_suffix, bitcast (the operand cast to its own type first: a promoted uchar expression is an
     * int, which the union would read as 4 bytes), int64_suffix, uint64_suffix */
    "((long long)blockIdx.x * blockDim.x + threadIdx.x)", 1, "tg_bitcast<%m>((%u)(%s))", "ll", "ull",
    /* types, mem_types, preludes, load_fmt, store_fmt, unsupported */
    tg__cuda_types, tg__cuda_mem_types, tg__cuda_half_preludes, tg__half_loads, tg__half_stores, 0,
    /* tile_prelude, stage_strided_stores, forms, nforms */
    NULL, 0, tg__cuda_forms, (int)(sizeof tg__cuda_forms / sizeof tg__cuda_forms[0]),
    /* group_id, local_id, shared_prefix, barrier */
    "blockIdx.x", "threadIdx.x", "__shared__ ", "__syncthreads();",
    /* vec4_load, vec4_store */
    "*((const float4*)(%s))", "*((float4*)(%1)) = make_float4(%2);",
    /* wmma, wmma_prelude, wmma_word, wmma_vec, wmma_vec_load, wmma_vec_store */
    tg__cuda_wmma, tg__cuda_wmma_prelude, "*((const unsigned*)(%s))", "uint4", "*((const uint4*)(%s))",
    "*((uint4*)(%1)) = %2;",
    /* ldmatrix, async_copy, async_wait */
    tg__cuda_ldmatrix,
    "{ unsigned long long g = (unsigned long long)(%1); unsigned s; "
    "asm(\"{ .reg .u64 a; cvta.to.shared.u64 a, %%1; cvt.u32.u64 %%0, a; }\" : \"=r\"(s) : \"l\"(g)); "
    "asm volatile(\"cp.async.cg.shared.global [%%0], [%%1], 16;\" :: \"r\"(s), \"l\"(%2) : \"memory\"); }",
    "asm volatile(\"cp.async.wait_all;\" ::: \"memory\");",
    /* async_wait_group */
    "asm volatile(\"cp.async.commit_group;\\n\\tcp.async.wait_group %1;\" ::: \"memory\");",
    /* dynamic_shared: 1024-byte aligned, as WGMMA's swizzled tiles need */
    "extern __shared__ __align__(1024) uint4 %s[];",
    /* wgmma, wgmma_reg, wgmma_acc, wgmma_desc, wgmma_fence, wgmma_commit, proxy_fence, wgmma_prelude */
    tg__cuda_wgmma, "%%%1", "\"+f\"(%1)", "tg_wgmma_desc(%1, %2, %3)",
    "asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\");",
    "asm volatile(\"wgmma.commit_group.sync.aligned;\\n\\twgmma.wait_group.sync.aligned %1;\" ::: \"memory\");",
    "asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");", tg__cuda_wgmma_prelude,
    /* vectors: each thread computes its outputs alone; prefetch: other warps hide memory's latency; extra_prelude */
    0, NULL, NULL};

/* buffer views: a device address is a number; only at 16-byte offsets, which the kernels' float4 loads and stores
 * (and the tensor cores' copies) need */
static void *tg__cu_offset(void *ctx, void *ptr, size_t bytes) {
  (void)ctx;
  return bytes % 16 ? NULL : (void *)((uintptr_t)ptr + bytes);
}

/* the CUDA device, registered through the public interface (tg_device_desc, api.h) when the program starts */
__attribute__((constructor)) static void tg__cu_register(void) {
  tg_device_desc d;
  memset(&d, 0, sizeof d);
  d.size = sizeof d;
  d.version = TG_DEVICE_API_VERSION;
  d.dialect = "CUDA";
  d.flags = TG_DEVICE_PARALLEL_COMPILE; /* NVRTC on the host's cores: a first MNIST step has some 110 kernels */
  d.alloc = tg__cu_alloc, d.free = tg__cu_free, d.copy_in = tg__cu_copy_in, d.copy_out = tg__cu_copy_out;
  d.compile = tg__cu_compile, d.cache_key = tg__cu_cache_key;
  d.load = tg__cu_load, d.unload = tg__cu_unload, d.launch = tg__cu_launch, d.synchronize = tg__cu_synchronize;
  d.describe = tg__cu_describe, d.offset = tg__cu_offset;
  d.launch_graph = tg__cu_launch_graph, d.graph_free = tg__cu_graph_free;
  tg__dialect_add("CUDA", &tg__dialect_cuda);
  tg__device_add("CUDA", &d);
}

#endif /* TINYGRAD_IMPLEMENTATION */
#endif /* TINYGRAD_CUDA_H */
