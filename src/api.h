/* api.h: the public API of tinygrad.h. Everything a user may call is declared here; the amalgamation puts this file
 * first, after the quick start, inside the include guard. Names are tg_ (functions, types) and TG_ (macros, enums).
 *
 * Contract:
 *  - Tensors are opaque handles. Every op returns a new handle (or NULL on error, with tg_error() saying why); ops on a
 *    NULL operand return NULL, so an expression can be checked once at the end.
 *  - A handle created inside tg_scope_begin()/tg_scope_end() is freed by tg_scope_end() unless tg_keep() was called on
 *    it. Outside any scope, the caller frees it with tg_free(). Freeing a handle never invalidates other tensors.
 *  - Ops are lazy: nothing is computed until tg_realize() or a function that reads data (tg_item, tg_to_host, ...).
 *  - Failures leave every tensor as it was (a failed realisation can be retried) and never abort, with one exception:
 *    if the library's own bookkeeping (a few bytes for a graph node, a handle, a string) cannot be allocated even
 *    after every cached buffer was given back, it prints "tinygrad.h: out of memory" and aborts. Out of memory for
 *    tensor data is an ordinary error.
 *  - Threads: every function may be called from any thread. One library-wide lock makes the calls run one at a time
 *    (kernels still run on the library's own pool of threads). Errors (tg_error) and scopes are per thread. A JIT'd
 *    function runs under the lock: it must not wait for another thread that calls the library. */
#include <stddef.h>
#include <stdint.h>

#ifndef TG_API
#ifdef TINYGRAD_STATIC
#define TG_API static
#else
#define TG_API extern
#endif
#endif

/* the library's version (make install writes it into tinygrad.pc) */
#define TG_VERSION_MAJOR 0
#define TG_VERSION_MINOR 1
#define TG_VERSION_PATCH 0
#define TG_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------- */
/* dtypes, in tinygrad's promotion order (see tg_promote) */

typedef enum tg_dtype {
  TG_BOOL, TG_INT8, TG_UINT8, TG_INT16, TG_UINT16, TG_INT32, TG_UINT32, TG_INT64, TG_UINT64,
  TG_FLOAT16, TG_BFLOAT16, TG_FLOAT32, TG_FLOAT64,
  TG_NDTYPES
} tg_dtype;

#define TG_MAX_DIMS 16  /* the most dimensions a tensor may have */

TG_API const char *tg_dtype_name(tg_dtype dt);      /* "float32", "int8", ... */
TG_API int tg_dtype_size(tg_dtype dt);              /* bytes per element */
TG_API int tg_dtype_is_float(tg_dtype dt);
TG_API int tg_dtype_is_int(tg_dtype dt);            /* signed or unsigned integer, not bool */
TG_API int tg_dtype_is_unsigned(tg_dtype dt);
TG_API tg_dtype tg_promote(tg_dtype a, tg_dtype b); /* least upper bound in tinygrad's lattice */

/* ---------------------------------------------------------------------------------------------------------------- */
/* errors, lifetimes */

typedef struct tg_tensor tg_tensor;

TG_API const char *tg_error(void);   /* the last error message of this thread, or NULL if none */
TG_API void tg_clear_error(void);

/* Frees the handle (NULL is fine); the memory only it held goes too. As with free(), using a handle after it was
 * freed (by tg_free or by the end of its scope) is undefined: nothing can tell a freed handle from a live one. */
TG_API void tg_free(tg_tensor *t);
/* Scopes belong to the thread that opens them, nest without a limit, and return 0 (-1 with an error: tg_scope_end
 * without an open scope on this thread). A thread should end its scopes before it exits. */
TG_API int tg_scope_begin(void);
TG_API int tg_scope_end(void);       /* frees every handle created since the matching begin, except kept ones */
TG_API tg_tensor *tg_keep(tg_tensor *t); /* moves t out of the innermost scope (to the enclosing one, or to the user) */
TG_API int64_t tg_live_tensors(void);    /* number of live handles (for leak checks) */

/* ---------------------------------------------------------------------------------------------------------------- */
/* creation. Shapes are (ndim, shape[]); TG_SHAPE(2,3) expands to both, e.g. tg_zeros(TG_FLOAT32, TG_SHAPE(2,3)). */

#define TG__NARG(...) TG__NARG_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define TG__NARG_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, n, ...) n
typedef struct tg_shape_lit { int64_t v[TG_MAX_DIMS]; } tg_shape_lit;
typedef struct tg_axes_lit { int v[TG_MAX_DIMS]; } tg_axes_lit;
#ifdef __cplusplus
} /* extern "C": C++ templates below */
/* each size converted to the literal's type, so that size_t or unsigned variables are no narrowing error in C++ */
template <typename... A> static inline tg_shape_lit tg__shape_of(A... a) {
  tg_shape_lit s = {{static_cast<int64_t>(a)...}};
  return s;
}
template <typename... A> static inline tg_axes_lit tg__axes_of(A... a) {
  tg_axes_lit s = {{static_cast<int>(a)...}};
  return s;
}
extern "C" {
#define TG_SHAPE(...) TG__NARG(__VA_ARGS__), tg__shape_of(__VA_ARGS__).v
#define TG_AXES(...) TG__NARG(__VA_ARGS__), tg__axes_of(__VA_ARGS__).v
#else
#define TG_SHAPE(...) TG__NARG(__VA_ARGS__), ((tg_shape_lit){{__VA_ARGS__}}).v
#define TG_AXES(...) TG__NARG(__VA_ARGS__), ((tg_axes_lit){{__VA_ARGS__}}).v  /* tg_sum(t, TG_AXES(0, -1), 1) */
#endif

TG_API tg_tensor *tg_from_data(const void *data, tg_dtype dt, int ndim, const int64_t *shape); /* copies the data */
TG_API tg_tensor *tg_from_float(const float *data, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_scalar(double v, tg_dtype dt);
TG_API tg_tensor *tg_empty(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_zeros(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_ones(tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_full(double v, tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_zeros_like(tg_tensor *t);
TG_API tg_tensor *tg_ones_like(tg_tensor *t);
TG_API tg_tensor *tg_full_like(tg_tensor *t, double v);
TG_API tg_tensor *tg_arange(double start, double stop, double step, tg_dtype dt); /* [start, stop) */
TG_API tg_tensor *tg_linspace(double start, double stop, int64_t steps, tg_dtype dt);
TG_API tg_tensor *tg_eye(int64_t n, int64_t m, tg_dtype dt);
TG_API tg_tensor *tg_tril(tg_tensor *t, int64_t diagonal);
TG_API tg_tensor *tg_triu(tg_tensor *t, int64_t diagonal);

/* random numbers: a counter-based generator (threefry2x32) evaluated inside kernels, tinygrad's stream exactly: after
 * tg_manual_seed(s), rand, randn, randint, uniform and normal give the numbers tinygrad's Tensor.manual_seed(s) and
 * the same calls give (each device its own key and counter; the seed's low 32 bits, as tinygrad's uint32 key).
 * rand draws its dtype's own bits, as tinygrad: float16 and bfloat16 two elements a word, float64 two words an
 * element; randn, uniform and normal draw float32 and cast, as tinygrad's. */
TG_API void tg_manual_seed(uint64_t seed);
TG_API tg_tensor *tg_rand(tg_dtype dt, int ndim, const int64_t *shape);  /* uniform [0, 1) */
TG_API tg_tensor *tg_randn(tg_dtype dt, int ndim, const int64_t *shape); /* standard normal */
TG_API tg_tensor *tg_uniform(double low, double high, tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_normal(double mean, double std, tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_randint(int64_t low, int64_t high, tg_dtype dt, int ndim, const int64_t *shape);
TG_API tg_tensor *tg_rand_like(tg_tensor *t);
TG_API tg_tensor *tg_randn_like(tg_tensor *t);

/* ---------------------------------------------------------------------------------------------------------------- */
/* properties and reading results */

TG_API int tg_ndim(const tg_tensor *t);
TG_API int64_t tg_dim(const tg_tensor *t, int axis);  /* negative axes count from the end; -1 on error */
TG_API const int64_t *tg_shape(const tg_tensor *t);  /* valid while t lives */
TG_API int64_t tg_numel(const tg_tensor *t);
TG_API tg_dtype tg_dtype_of(const tg_tensor *t);
TG_API const char *tg_device_of(const tg_tensor *t);
/* The device new tensors are made on (creation, random numbers, nn layers, loaded state dicts) and a graph of
 * constants runs on, as tinygrad's Device.DEFAULT: set by name, as tinygrad's device strings ("CPU", "cuda",
 * "OPENCL:0": case-insensitive, index 0 only; any registered name); NULL goes back to the environment's DEV, or the
 * CPU. Process-wide. 0, or -1 with an error listing the known devices (the default stays as it was). */
TG_API int tg_set_default_device(const char *name);
/* t on another device (tinygrad's Tensor.to; NULL: the default device), lazily: a COPY in the graph, realised as a
 * copy through the host once t is computed on its own device. Gradients flow back through it; a JIT captures it.
 * The same device gives t's value as it is. A graph that reads two devices without tg_to is an error. */
TG_API tg_tensor *tg_to(tg_tensor *t, const char *device);
TG_API const char *tg_default_device(void); /* its name: "CPU", "CUDA", ...; NULL with an error if DEV is unknown */
/* Waits until every kernel queued on the device has finished (NULL: the default device, DEV or CPU). tg_realize may
 * return before a GPU is done; reading a result waits by itself, so this is for timing. 0, or -1 with an error (an
 * unknown device, or a kernel that failed). */
TG_API int tg_synchronize(const char *device);

/* Settings (tinygrad's environment variables and Context): the environment gives the values at start, and these
 * change them at run time, process-wide. Names: DEBUG, NOOPT, BEAM, BEAM_TIMEOUT, THREADS (the CPU's pool restarts
 * with that many), JIT (0: a JIT'd function runs each time), JIT_GRAPH, NOLOCALS, NOTC, NOWGMMA, VECTORIZE, PREFETCH,
 * SPLIT_REDUCEOP, REDUCEOP_SPLIT_THRESHOLD, NOMERGE, TRACK_MATCH_STATS, VIZ, PROFILE (case-insensitive).
 * tg_set_setting: 0, or -1 with an error (an unknown name, listing the known ones; a negative value, except for
 * DEBUG, BEAM_TIMEOUT and VIZ); tg_setting: the value, or -1 with an error. A variable of tinygrad's that this library
 * ignores (CUDA=1, GRAPH, ...) gets one warning line on stderr. */
TG_API int tg_set_setting(const char *name, int value);
TG_API int tg_setting(const char *name);
TG_API int tg_set_debug(int level);  /* DEBUG: 1 realisations, 2 each kernel's line, 3 its source, 4 its IR */
TG_API int tg_set_noopt(int on);     /* NOOPT: no optimisations */
TG_API int tg_set_beam(int width);   /* BEAM: search the kernels' optimisations, width candidates */
TG_API int tg_set_threads(int n);    /* THREADS: the CPU's threads (0: every core) */

/* VIZ (tinygrad's graph viewer): while VIZ=1 (or -1), every graph rewrite of every schedule and kernel compiled is
 * recorded: the graph before, each rule that fired (its file:line and pattern) with the node it replaced and the node
 * it made, the result, and each kernel's source; with VIZ or PROFILE=1, every kernel launch (device, start,
 * duration). At exit the page is written to $VIZ_PATH, else $TMPDIR/tinygrad-viz-<pid>.html (the JSON alone, .json,
 * for VIZ=-1), and its path printed on stderr. tg_viz_write writes what was recorded so far now: one self-contained
 * HTML page (no server, no network: open it in a browser), or the JSON when json is non-zero; the file is written
 * whole or not at all. 0, or -1 with an error naming the path. */
TG_API int tg_viz_write(const char *path, int json);

/* ---------------------------------------------------------------------------------------------------------------- */
/* devices of your own (tinygrad's custom device: an allocator, a compiler and a runner, registered under a name that
 * device strings then accept). The built-in CPU, CUDA and OpenCL devices are registered through this interface too;
 * examples/custom_device.c is a whole device in 100 lines.
 *
 * The library calls a device's functions under its lock, from the thread that called it, except compile, which BEAM
 * and a schedule's first realisation call on several threads at once when flags has TG_DEVICE_PARALLEL_COMPILE. A
 * function that fails returns NULL or -1 and may say why with tg_device_error; the library's error then names the
 * device and what it was doing ("device 'MY': launch of kernel E_3: <why>"), and other devices keep working. */

#define TG_DEVICE_API_VERSION 1
#define TG_DEVICE_PARALLEL_COMPILE 1u /* compile may run on several threads at once */

/* What the kernel optimiser knows of a device's machine. The library fills in the defaults shown, then calls
 * describe, which changes what it knows. */
typedef struct tg_device_props {
  size_t size;          /* sizeof(tg_device_props) in the library: a field at or past it does not exist there */
  int vec_floats;       /* float32 lanes of a vector register (4) */
  int vec_regs;         /* vector registers (16) */
  int cores;            /* threads a kernel's outermost loop is split across (1) */
  int64_t l2_bytes;     /* one core's level-2 cache (1 MiB) */
  int local_max;        /* threads per workgroup (256 when the dialect has workgroups, else 0: none) */
  int64_t shared_bytes; /* shared memory per workgroup (16 KiB when there are workgroups) */
  int units;            /* compute units: how many workgroups keep it busy (1) */
  int tensor_cores;     /* the CUDA dialect's warp tensor cores run (0) */
  int wgmma;            /* ...and Hopper's warpgroup ones (0) */
  int64_t l3_bytes;     /* one core's share of the last-level cache: its size over the cores sharing it (0: unknown) */
} tg_device_props;

/* One launch, as the library gives it to a device's launch */
typedef struct tg_launch {
  size_t size;          /* sizeof(tg_launch) in the library */
  const char *name;     /* the kernel's name (the entry point's, in the "C" dialect: NAME_entry) */
  void *program;        /* what load returned */
  void **bufs;          /* the kernel's buffers in parameter order: what alloc (or offset) returned */
  int nbufs;
  /* tinygrad's global and local sizes. local[0] > 0: global[0] workgroups of local[0] threads. local[0] == 0: no
   * workgroups. In a GPU dialect global[0] is then the kernel's threads, which the device groups as it likes (the
   * kernel returns at once past the last); in the "C" dialect it is the iterations of the kernel's outer loop, which
   * NAME_entry(bufs, start, end) runs for start <= i < end (one call over [0, global[0]), or chunks on threads). */
  int64_t global[3], local[3];
  int64_t shared_bytes; /* the shared memory its arrays take */
  double flops, bytes;  /* the kernel's estimated work (0: unknown), for a device deciding how to split it */
} tg_launch;

/* A dialect: the language the renderer prints for a device, as a built-in one changed by a table. Built in: "C" (the
 * CPU's: C99 with GCC/clang vector attributes; entry point void NAME_entry(void **bufs, int64_t start, int64_t
 * end)); "OPENCL" and "CUDA" once their backend header is included. A NULL field keeps the base's. The strings must
 * live as long as the program (string literals). */
typedef struct tg_dialect_desc {
  size_t size;                  /* sizeof(tg_dialect_desc) as you compiled it */
  const char *base;             /* the built-in dialect it changes */
  const char *extra_prelude;    /* printed after the base's prelude, at the top of every kernel's source */
  const char *kernel_prefix;    /* before a kernel's return type (OpenCL's "__kernel ") */
  const char *buffer_prefix;    /* before a buffer parameter's type (OpenCL's "__global ") */
  const char *buffer_qualifier; /* after its '*' ("restrict") */
  const char *extra_params;     /* after the buffers in the parameter list (Metal's thread position) */
  const char *global_id;        /* GPU dialects: the thread's flat index, an expression */
  const char *group_id, *local_id, *shared_prefix, *barrier; /* workgroups: group and thread index, __shared__, sync */
  uint32_t unsupported;         /* bit 1 << dtype: dtypes it cannot print, besides the base's */
} tg_dialect_desc;

/* A device: functions the library calls with ctx. Required: alloc, free, copy_in, copy_out, compile, load, launch,
 * synchronize, and a dialect. */
typedef struct tg_device_desc {
  size_t size;                         /* sizeof(tg_device_desc) as you compiled it: later fields read as NULL / 0 */
  int version;                         /* TG_DEVICE_API_VERSION */
  const char *dialect;                 /* a built-in dialect by name ("C", "OPENCL", "CUDA"); or */
  const tg_dialect_desc *dialect_table; /* one of yours (its base replaces dialect) */
  void *ctx;                           /* given to every function */
  unsigned flags;                      /* TG_DEVICE_PARALLEL_COMPILE */
  /* the allocator: device memory of nbytes (NULL on failure), its release, and copies from and to the host */
  void *(*alloc)(void *ctx, size_t nbytes);
  void (*free)(void *ctx, void *ptr);
  int (*copy_in)(void *ctx, void *dst, const void *src, size_t nbytes);  /* host src -> device dst; 0 or -1 */
  int (*copy_out)(void *ctx, void *dst, const void *src, size_t nbytes); /* device src -> host dst; 0 or -1 */
  /* the compiler: the source of kernel `name` to a binary blob, allocated with malloc (the library frees it with
   * free), its length in *size; NULL on failure with the compiler's message in err (nerr bytes). Blobs are kept in
   * the library's disk cache when cache_key gives a string: everything besides the source that decides the blob
   * (compiler, version, flags, target); NULL cache_key (or a NULL string): never cached on disk, as tinygrad's. */
  void *(*compile)(void *ctx, const char *name, const char *src, size_t *size, char *err, size_t nerr);
  const char *(*cache_key)(void *ctx);
  /* the runner: a blob made into a program (NULL on failure; one from the disk cache that fails to load is compiled
   * again), launched over the launch's sizes; synchronize waits until every launch has finished. Kernels run in
   * launch order. unload (optional) releases a program at exit. */
  void *(*load)(void *ctx, const char *name, const void *blob, size_t size);
  void (*unload)(void *ctx, void *program);
  int (*launch)(void *ctx, const tg_launch *l);
  int (*synchronize)(void *ctx);
  /* optional: the machine for the optimiser; the address bytes into an allocation for zero-copy views (NULL where
   * kernels could not use it); kernels are about to launch (wake worker threads); a JIT replay's n launches at once
   * (a CUDA graph): 0 launched, 1 nothing ran (the library launches one by one), -1 error; *state is the device's,
   * kept between replays of one JIT (NULL at first) and given to graph_free at the end */
  void (*describe)(void *ctx, tg_device_props *props);
  void *(*offset)(void *ctx, void *ptr, size_t bytes);
  void (*wake)(void *ctx);
  int (*launch_graph)(void *ctx, int n, const tg_launch *launches, void **state);
  void (*graph_free)(void *ctx, void *state);
} tg_device_desc;

/* Registers a device under name (letters, digits and '_', at most 31; then a device string, case-insensitively). The
 * library copies the description; ctx and the dialect's strings must outlive it. 0, or -1 with an error: a name
 * taken (registering twice), a required function NULL, another version, an unknown dialect. Buffers and programs
 * live until exit, so a device is never unregistered. */
TG_API int tg_device_register(const char *name, const tg_device_desc *desc);
/* For a device's functions: why the call failed, in printf's format (the library adds the device and the call) */
TG_API void tg_device_error(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Computes t's value (and every pending assignment of this thread). A value that is a contiguous range of a buffer
 * realised before (a row slice, a chunk of split, a bitcast) becomes a view of that buffer, with no kernel or copy
 * (not on OpenCL; on CUDA at 16-byte offsets), and an empty tensor launches nothing. 0 on success, -1 on error. */
TG_API int tg_realize(tg_tensor *t);
TG_API int tg_realize_all(tg_tensor **ts, int n);     /* several tensors: one schedule per device */
TG_API double tg_item(tg_tensor *t);                  /* the value of a one-element tensor; NAN on error */
TG_API int tg_to_host(tg_tensor *t, void *dst, size_t nbytes); /* copies numel*size bytes in t's dtype; 0 or -1 */
TG_API float *tg_to_float(tg_tensor *t);              /* a malloc'd float32 copy; the caller frees it; NULL on error */
TG_API int tg_print(tg_tensor *t);                    /* numpy-like print to stdout */
TG_API char *tg_to_string(tg_tensor *t);              /* what tg_print prints, malloc'd */

/* ---------------------------------------------------------------------------------------------------------------- */
/* elementwise. Binary ops broadcast like numpy and promote dtypes like tinygrad. The _s variants take a scalar. */

TG_API tg_tensor *tg_add(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_div(tg_tensor *a, tg_tensor *b);       /* true division (ints become float) */
/* Integer division never traps, on any device: python's // and % where they are defined; by zero, x // 0 = 0 and
 * x % 0 = 0 (as numpy, without its warning); and the one overflowing case wraps, MIN // -1 = MIN (MIN the dtype's
 * least value, INT32_MIN for int32) and MIN % -1 = 0. Floats follow IEEE (x // 0 is inf or nan). */
TG_API tg_tensor *tg_floordiv(tg_tensor *a, tg_tensor *b);  /* python // (rounds toward -inf) */
TG_API tg_tensor *tg_mod(tg_tensor *a, tg_tensor *b);       /* python % (sign of the divisor) */
TG_API tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b);
/* division with tinygrad's (PyTorch's) rounding_mode: TG_DIV_TRUE (None: the float quotient), TG_DIV_TRUNC (toward
 * 0: C's integer division), TG_DIV_FLOOR (toward -inf: python's //) */
enum { TG_DIV_TRUE, TG_DIV_TRUNC, TG_DIV_FLOOR };
TG_API tg_tensor *tg_div_mode(tg_tensor *a, tg_tensor *b, int rounding);
TG_API tg_tensor *tg_fmod(tg_tensor *a, tg_tensor *b);      /* remainder with the dividend's sign (C's fmod, %); floats
                                                               as tinygrad: a - trunc(a / b) * b */
TG_API tg_tensor *tg_copysign(tg_tensor *a, tg_tensor *b);  /* |a| with b's sign (-0 counts as negative) */
TG_API tg_tensor *tg_logaddexp(tg_tensor *a, tg_tensor *b); /* log(exp(a) + exp(b)), stably */
/* a + (end - a) * weight, broadcast; a uint8 a with a tensor weight stays uint8 (tinygrad's fixed-point form) */
TG_API tg_tensor *tg_lerp(tg_tensor *a, tg_tensor *end, tg_tensor *weight);
TG_API tg_tensor *tg_lerp_s(tg_tensor *a, tg_tensor *end, double weight);
TG_API tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b); /* NaN where either is NaN */
TG_API tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_add_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_sub_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_rsub_s(double a, tg_tensor *b);        /* a - b */
TG_API tg_tensor *tg_mul_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_div_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_rdiv_s(double a, tg_tensor *b);        /* a / b */
TG_API tg_tensor *tg_pow_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_maximum_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_minimum_s(tg_tensor *a, double b);

TG_API tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_le(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_lt_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_gt_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_eq_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_le_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_ge_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_ne_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_floordiv_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_mod_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_rpow_s(double a, tg_tensor *b);         /* a ** b */
TG_API tg_tensor *tg_bitwise_and_s(tg_tensor *a, double b); /* b whole */
TG_API tg_tensor *tg_bitwise_or_s(tg_tensor *a, double b);
TG_API tg_tensor *tg_bitwise_xor_s(tg_tensor *a, double b);
/* Any binary op with a python scalar, as tinygrad types it: the scalar takes a float tensor's dtype; next to an
 * integer or bool tensor it is an int when whole (int_tensor * 3 stays int) and the default float otherwise. A C
 * double cannot tell 3.0 from 3: TG_SCALAR_FLOAT says it is a python float (int_tensor * 3.0 is float32), and
 * TG_SCALAR_REVERSE puts it on the left (v op a). The _s functions are this with flags 0. An integer result to a
 * negative scalar power is an error, as tinygrad's "base needs to be float". */
enum { TG_OP_ADD, TG_OP_SUB, TG_OP_MUL, TG_OP_DIV, TG_OP_FLOORDIV, TG_OP_MOD, TG_OP_POW, TG_OP_MAXIMUM, TG_OP_MINIMUM,
       TG_OP_LT, TG_OP_LE, TG_OP_GT, TG_OP_GE, TG_OP_EQ, TG_OP_NE, TG_OP_AND, TG_OP_OR, TG_OP_XOR };
enum { TG_SCALAR_REVERSE = 1, TG_SCALAR_FLOAT = 2 };
TG_API tg_tensor *tg_binop_s(tg_tensor *a, int op, double v, int flags);
TG_API tg_tensor *tg_where(tg_tensor *cond, tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_where_s(tg_tensor *cond, double a, double b);
TG_API tg_tensor *tg_logical_not(tg_tensor *a);
TG_API tg_tensor *tg_logical_and(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_logical_or(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_bitwise_and(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_bitwise_or(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_bitwise_xor(tg_tensor *a, tg_tensor *b);
TG_API tg_tensor *tg_bitwise_not(tg_tensor *a);
TG_API tg_tensor *tg_lshift(tg_tensor *a, int bits);
TG_API tg_tensor *tg_rshift(tg_tensor *a, int bits);

TG_API tg_tensor *tg_neg(tg_tensor *a);
TG_API tg_tensor *tg_abs(tg_tensor *a);
TG_API tg_tensor *tg_sign(tg_tensor *a); /* sign(NaN) is NaN, as PyTorch and numpy: tinygrad's 1 is its bug */
TG_API tg_tensor *tg_exp(tg_tensor *a);
TG_API tg_tensor *tg_exp2(tg_tensor *a);
TG_API tg_tensor *tg_log(tg_tensor *a);
TG_API tg_tensor *tg_log2(tg_tensor *a);
TG_API tg_tensor *tg_sqrt(tg_tensor *a);
TG_API tg_tensor *tg_rsqrt(tg_tensor *a);
TG_API tg_tensor *tg_reciprocal(tg_tensor *a);
TG_API tg_tensor *tg_sin(tg_tensor *a);
TG_API tg_tensor *tg_cos(tg_tensor *a);
TG_API tg_tensor *tg_tan(tg_tensor *a);
TG_API tg_tensor *tg_erf(tg_tensor *a);
TG_API tg_tensor *tg_floor(tg_tensor *a);
TG_API tg_tensor *tg_ceil(tg_tensor *a);
TG_API tg_tensor *tg_round(tg_tensor *a);   /* half to even, like tinygrad and numpy */
TG_API tg_tensor *tg_trunc(tg_tensor *a);
TG_API tg_tensor *tg_clip(tg_tensor *a, double lo, double hi);
TG_API tg_tensor *tg_square(tg_tensor *a);
TG_API tg_tensor *tg_isnan(tg_tensor *a);
TG_API tg_tensor *tg_isinf(tg_tensor *a);
TG_API tg_tensor *tg_isfinite(tg_tensor *a); /* neither inf nor NaN; every integer is */
TG_API tg_tensor *tg_sinh(tg_tensor *a);
TG_API tg_tensor *tg_cosh(tg_tensor *a);
TG_API tg_tensor *tg_asin(tg_tensor *a);     /* tinygrad's polynomial (|error| <= 2e-8); NaN outside [-1, 1] */
TG_API tg_tensor *tg_acos(tg_tensor *a);
TG_API tg_tensor *tg_atan(tg_tensor *a);     /* +-pi/2 at +-inf (tinygrad's gives NaN there) */
TG_API tg_tensor *tg_log10(tg_tensor *a);

TG_API tg_tensor *tg_sigmoid(tg_tensor *a);
TG_API tg_tensor *tg_tanh(tg_tensor *a);
TG_API tg_tensor *tg_relu(tg_tensor *a);
TG_API tg_tensor *tg_leaky_relu(tg_tensor *a, double neg_slope);
TG_API tg_tensor *tg_elu(tg_tensor *a, double alpha);
TG_API tg_tensor *tg_gelu(tg_tensor *a);     /* the tanh approximation (tinygrad's default) */
TG_API tg_tensor *tg_gelu_erf(tg_tensor *a); /* the exact form x/2 (1 + erf(x/sqrt 2)): approximate="none" */
TG_API tg_tensor *tg_celu(tg_tensor *a, double alpha); /* max(x,0) + min(alpha (exp(x/alpha) - 1), 0); alpha != 0 */
TG_API tg_tensor *tg_selu(tg_tensor *a);     /* tinygrad's alpha 1.67326, scale 1.0507 */
TG_API tg_tensor *tg_relu6(tg_tensor *a);
TG_API tg_tensor *tg_logsigmoid(tg_tensor *a);
TG_API tg_tensor *tg_softsign(tg_tensor *a); /* x / (1 + |x|) */
TG_API tg_tensor *tg_quick_gelu(tg_tensor *a);
TG_API tg_tensor *tg_silu(tg_tensor *a);
TG_API tg_tensor *tg_softplus(tg_tensor *a, double beta);
TG_API tg_tensor *tg_mish(tg_tensor *a);
TG_API tg_tensor *tg_hardtanh(tg_tensor *a, double lo, double hi);
TG_API tg_tensor *tg_hardsigmoid(tg_tensor *a);
TG_API tg_tensor *tg_hardswish(tg_tensor *a);

TG_API tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt);
TG_API tg_tensor *tg_bitcast(tg_tensor *a, tg_dtype dt); /* same element size only */
TG_API tg_tensor *tg_contiguous(tg_tensor *a);           /* forces a realisation point */

/* ---------------------------------------------------------------------------------------------------------------- */
/* reductions. axes: an array of naxes axes (negative allowed); naxes == 0 reduces over every axis. naxes < 0, or an
 * axis given twice (0 and -2 of a matrix too), is an error, as in PyTorch. */

TG_API tg_tensor *tg_sum(tg_tensor *a, int naxes, const int *axes, int keepdim);
TG_API tg_tensor *tg_prod(tg_tensor *a, int naxes, const int *axes, int keepdim);
/* a NaN makes a max or a min NaN, on every device and wherever it falls (numpy's and PyTorch's; tinygrad's
 * (a > b) ? a : b keeps or drops it by its place in the loop) */
TG_API tg_tensor *tg_max(tg_tensor *a, int naxes, const int *axes, int keepdim);
TG_API tg_tensor *tg_min(tg_tensor *a, int naxes, const int *axes, int keepdim);
TG_API tg_tensor *tg_mean(tg_tensor *a, int naxes, const int *axes, int keepdim);
TG_API tg_tensor *tg_var(tg_tensor *a, int naxes, const int *axes, int keepdim, double correction);
TG_API tg_tensor *tg_std(tg_tensor *a, int naxes, const int *axes, int keepdim, double correction);
TG_API tg_tensor *tg_any(tg_tensor *a, int naxes, const int *axes, int keepdim);
TG_API tg_tensor *tg_all(tg_tensor *a, int naxes, const int *axes, int keepdim);
TG_API tg_tensor *tg_logsumexp(tg_tensor *a, int axis, int keepdim);
TG_API tg_tensor *tg_argmax(tg_tensor *a, int axis, int keepdim);   /* int32 indices, first maximum; an empty axis
                                                                       is an error (numpy, PyTorch) */
TG_API tg_tensor *tg_argmin(tg_tensor *a, int axis, int keepdim);
TG_API tg_tensor *tg_cumsum(tg_tensor *a, int axis);
TG_API tg_tensor *tg_cumprod(tg_tensor *a, int axis);
TG_API tg_tensor *tg_cummax(tg_tensor *a, int axis);
TG_API tg_tensor *tg_cummin(tg_tensor *a, int axis);
/* the int32 index of each running maximum (minimum): its first position, as tinygrad's (PyTorch's takes the last) */
TG_API tg_tensor *tg_cummax_indices(tg_tensor *a, int axis);
TG_API tg_tensor *tg_cummin_indices(tg_tensor *a, int axis);
TG_API tg_tensor *tg_logcumsumexp(tg_tensor *a, int axis); /* log(cumsum(exp(a))), stably */
/* argmax, argmin, logsumexp and the cumulative ops take axis TG_ALL_AXES too: the flattened tensor's (axis=None) */
TG_API tg_tensor *tg_softmax(tg_tensor *a, int axis);
TG_API tg_tensor *tg_log_softmax(tg_tensor *a, int axis);
TG_API tg_tensor *tg_layernorm(tg_tensor *a, int axis, double eps); /* normalises over the last dims from axis on */

/* ---------------------------------------------------------------------------------------------------------------- */
/* movement (zero-copy until realised) and indexing */

TG_API tg_tensor *tg_reshape(tg_tensor *a, int ndim, const int64_t *shape); /* one -1 may be inferred */
TG_API tg_tensor *tg_permute(tg_tensor *a, int ndim, const int *order);
TG_API tg_tensor *tg_transpose(tg_tensor *a, int dim0, int dim1);
TG_API tg_tensor *tg_expand(tg_tensor *a, int ndim, const int64_t *shape); /* -1 keeps a dim; new dims on the left */
TG_API tg_tensor *tg_squeeze(tg_tensor *a, int axis);    /* axis = TG_ALL_AXES squeezes every 1 */
TG_API tg_tensor *tg_unsqueeze(tg_tensor *a, int axis);
TG_API tg_tensor *tg_flatten(tg_tensor *a, int start_dim, int end_dim);
TG_API tg_tensor *tg_unflatten(tg_tensor *a, int dim, int n, const int64_t *sizes);
TG_API tg_tensor *tg_pad(tg_tensor *a, int ndim, const int64_t *pads, double value); /* pads[2*i], pads[2*i+1]: before,
                                                                          after of axis i; negative values crop */
TG_API tg_tensor *tg_shrink(tg_tensor *a, int ndim, const int64_t *bounds); /* bounds[2*i] <= x < bounds[2*i+1] */
/* Symbolic shapes (tinygrad's Variable): a named integer with bounds, bound to a value before each use. A shrink by
 * a variable gives a tensor whose size along that axis is symbolic (a KV cache's keys up to the current position);
 * elementwise ops, expands, permutes, reshapes that only add or drop axes of size 1, reductions and matmuls carry it,
 * and tg_assign writes into a shrink by a variable. Kernels read the variable's value when they run, so one compiled
 * kernel, and one JIT capture, serves every value: bind the variable (tg_variable_bind) before each tg_jit_run.
 * A node built with a bound variable keeps the value it was bound to when built. A variable lives for the whole
 * program; asking again for the same name and bounds gives the same one (at most 256). A tensor of symbolic shape
 * cannot be read to the host (an error): reduce it, or shrink it to a concrete size. tg_shape gives a symbolic size
 * as a negative number, which tg_reshape takes back as it is; tg_numel gives -1. */
typedef struct tg_variable tg_variable;
TG_API tg_variable *tg_variable_new(const char *name, int64_t min, int64_t max); /* 0 <= min <= max < 2^31 */
TG_API int tg_variable_bind(tg_variable *v, int64_t value); /* min <= value <= max; 0 or -1 */
TG_API int64_t tg_variable_value(const tg_variable *v);    /* the bound value; -1 when unbound or NULL */
typedef struct tg_sint { tg_variable *var; int64_t offset; } tg_sint; /* var + offset; offset alone if var NULL */
/* bounds[2*i] <= x < bounds[2*i+1] as tg_shrink, each of them var + offset; a bound that depends on a variable must
 * fit the axis for every value the variable may take (its min and max), and the variables must be bound */
TG_API tg_tensor *tg_shrink_sym(tg_tensor *a, int ndim, const tg_sint *bounds);
TG_API tg_tensor *tg_variable_tensor(tg_variable *v); /* the bound value as a 0-d int32 tensor (a mask's position) */
TG_API tg_tensor *tg_flip(tg_tensor *a, int naxes, const int *axes); /* naxes < 0 or a repeated axis: an error */
TG_API tg_tensor *tg_repeat(tg_tensor *a, int ndim, const int64_t *repeats);
TG_API tg_tensor *tg_slice(tg_tensor *a, int axis, int64_t start, int64_t stop,
                           int64_t step);                           /* python a[start:stop:step]
                                           along axis; TG_END for an open stop */
TG_API tg_tensor *tg_select(tg_tensor *a, int axis, int64_t index); /* a[..., index, ...]: drops the axis */
TG_API tg_tensor *tg_cat(tg_tensor **ts, int n, int axis);
TG_API tg_tensor *tg_stack(tg_tensor **ts, int n, int axis);
TG_API int tg_split(tg_tensor *a, int64_t size, int axis, tg_tensor **out, int max_out); /* returns the count */
TG_API int tg_chunk(tg_tensor *a, int chunks, int axis, tg_tensor **out, int max_out);
/* n pieces of the given sizes (summing to the axis) into out[0..n): n, or -1 */
TG_API int tg_split_sizes(tg_tensor *a, int n, const int64_t *sizes, int axis, tg_tensor **out);
/* the elements shifted by shifts[i] along axes[i], wrapping around (axes NULL: the flattened tensor, n = 1) */
TG_API tg_tensor *tg_roll(tg_tensor *a, int n, const int64_t *shifts, const int *axes);
/* the diagonal of the (dim1, dim2) planes as a last axis (offset > 0 above it, < 0 below; past the matrix: empty) */
TG_API tg_tensor *tg_diagonal(tg_tensor *a, int64_t offset, int dim1, int dim2);
TG_API tg_tensor *tg_diag(tg_tensor *a); /* 1-d: the square matrix with it on its diagonal; 2-d: its diagonal */
/* every element repeated `repeats` times in place along axis (TG_ALL_AXES: of the flattened tensor) */
TG_API tg_tensor *tg_repeat_interleave(tg_tensor *a, int64_t repeats, int axis);
/* coordinate grids of n tensors (flattened), into out[0..n): "ij" indexing, or "xy" (xy = 1: the first two swapped,
 * numpy's default); n or -1 */
TG_API int tg_meshgrid(tg_tensor **ts, int n, int xy, tg_tensor **out);
/* einops-style rearrange, as tinygrad's: "b c h w -> b (h w) c", "(b h) w -> b h w" with the sizes of split axes by
 * name (names[i] is sizes[i] long; nsizes may be 0), "..." for the axes not named, "1" for an axis of size 1 */
TG_API tg_tensor *tg_rearrange(tg_tensor *a, const char *formula, int nsizes, const char *const *names,
                               const int64_t *sizes);
/* the windows of `size` every `step` along axis: that axis becomes the windows, and a new last axis their elements */
TG_API tg_tensor *tg_unfold(tg_tensor *a, int axis, int64_t size, int64_t step);
/* tg_pad with a mode: the pads beside each axis are the edge mirrored without it (reflect: less than the size), the
 * edge repeated (replicate), or the other end (circular: at most the size); negative pads crop, as tinygrad */
enum { TG_PAD_CONSTANT, TG_PAD_REFLECT, TG_PAD_REPLICATE, TG_PAD_CIRCULAR };
TG_API tg_tensor *tg_pad_mode(tg_tensor *a, int ndim, const int64_t *pads, int mode, double value);
TG_API tg_tensor *tg_gather(tg_tensor *a, int axis, tg_tensor *index);
TG_API tg_tensor *tg_index(tg_tensor *a, int axis, tg_tensor *index); /* a[..., index, ...] with an integer tensor */
TG_API tg_tensor *tg_one_hot(tg_tensor *a, int64_t num_classes);
/* a[i1, i2, ...]: integer index tensors on n axes at once (numpy's advanced indexing): they broadcast together, and
 * their shape replaces the indexed axes where those are adjacent (in the order given), else comes first; a negative
 * index counts from its axis's end, one outside it reads 0 */
TG_API tg_tensor *tg_index_n(tg_tensor *a, int n, const int *axes, tg_tensor **indices);
/* a where mask is false, value where it is true (broadcast) */
TG_API tg_tensor *tg_masked_fill(tg_tensor *a, tg_tensor *mask, tg_tensor *value);
TG_API tg_tensor *tg_masked_fill_s(tg_tensor *a, tg_tensor *mask, double value);
/* a with src[..., i, ...] written at a[..., index[..., i, ...], ...] along axis (PyTorch's and tinygrad's scatter):
 * index, src and a of one rank, index no larger than src, nor than a off the axis; where two positions write one
 * place the index's last wins; an index outside the axis writes nothing */
TG_API tg_tensor *tg_scatter(tg_tensor *a, int axis, tg_tensor *index, tg_tensor *src);
TG_API tg_tensor *tg_scatter_s(tg_tensor *a, int axis, tg_tensor *index, double value);
/* the same writes reduced: sum, product, mean, max or min of what lands in each place, with a's value among them
 * when include_self (where nothing lands, a's value stays) */
enum { TG_SCATTER_SUM, TG_SCATTER_PROD, TG_SCATTER_MEAN, TG_SCATTER_AMAX, TG_SCATTER_AMIN };
TG_API tg_tensor *tg_scatter_reduce(tg_tensor *a, int axis, tg_tensor *index, tg_tensor *src, int reduce,
                                    int include_self);
/* The shapes of these two depend on the values: each realises what it needs to count first (a synchronisation, as
 * tinygrad's .item()). a's elements where the bool mask (broadcast to a) is true, 1-d in order; the coordinates of
 * a's nonzero elements, (count, ndim) int32 in order. */
/* sort along axis, ascending or descending, into *values and the int32 *indices they came from (either may be
 * NULL): ties keep their order (stable, as tinygrad's); a bitonic network of compare-exchanges, n log^2 n work.
 * Gradients flow to the values. 0, or -1 with an error. topk: the k largest (or smallest), sorted. */
TG_API int tg_sort(tg_tensor *a, int axis, int descending, tg_tensor **values, tg_tensor **indices);
TG_API tg_tensor *tg_argsort(tg_tensor *a, int axis, int descending);
TG_API int tg_topk(tg_tensor *a, int64_t k, int axis, int largest, tg_tensor **values, tg_tensor **indices);
TG_API tg_tensor *tg_masked_select(tg_tensor *a, tg_tensor *mask);
TG_API tg_tensor *tg_nonzero(tg_tensor *a);

#define TG_ALL_AXES 0x7fffffff
#define TG_END INT64_MAX

/* ---------------------------------------------------------------------------------------------------------------- */
/* linear algebra */

TG_API tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b);  /* numpy matmul semantics with broadcast batch dims */
/* einsum over n operands ("ij,jk->ik", "bij,bjk->bik", "ii->i", "...ij->...ji", implicit outputs as numpy's): a
 * letter twice in one operand takes its diagonal; "..." broadcasts, right-aligned */
TG_API tg_tensor *tg_einsum(const char *formula, tg_tensor **ops, int n);
TG_API tg_tensor *tg_dot(tg_tensor *a, tg_tensor *b);
/* Two orders of a linear layer's weight, two names, so that a port cannot transpose a square weight unnoticed:
 *  - tg_linear: weight (out, in), x @ weight.T + bias: PyTorch's F.linear, and the order nn.Linear weights are stored
 *    in (tinygrad's and PyTorch's state dicts): tg_linear(x, sd["weight"], sd["bias"]);
 *  - tg_linear_t: weight (in, out), x @ weight + bias: tinygrad's functional Tensor.linear(weight, bias).
 * bias may be NULL. */
TG_API tg_tensor *tg_linear(tg_tensor *x, tg_tensor *weight, tg_tensor *bias);
TG_API tg_tensor *tg_linear_t(tg_tensor *x, tg_tensor *weight, tg_tensor *bias);
TG_API tg_tensor *tg_conv2d(tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride, int padding, int dilation,
                            int groups); /* x: (N, Cin, H, W), w: (Cout, Cin/groups, KH, KW) */

/* Convolutions over 1 to TG_MAX_CONV_DIMS axes, as tinygrad's conv2d and conv_transpose2d (which take any number):
 * the weight's kernel axes say how many. Zero the options and set what differs from the default; per-axis values
 * come in tinygrad's forms, n of them:
 *   - stride, dilation, output_padding: 0 (the default: 1, 1, 0), 1 (every axis), or one per kernel axis;
 *   - padding: 0 (none), 1 (every side), one per axis (both sides), or two per axis in tinygrad's flat order, the
 *     last axis first: (left, right, top, bottom) for 2-d, (left, right, top, bottom, front, back) for 3-d.
 *     Negative padding crops, as tinygrad's.
 * e.g. tg_conv_opts o = {.nstride = 2, .stride = {2, 1}, .npadding = 4, .padding = {1, 2, 0, 1}}; */
#define TG_MAX_CONV_DIMS 4
typedef struct tg_conv_opts {
  int groups;                                        /* 0 means 1 */
  int nstride, ndilation, npadding, noutput_padding; /* how many values of each are given */
  int64_t stride[TG_MAX_CONV_DIMS], dilation[TG_MAX_CONV_DIMS], padding[2 * TG_MAX_CONV_DIMS];
  int64_t output_padding[TG_MAX_CONV_DIMS];          /* tg_conv_transpose only */
} tg_conv_opts;
/* x (N, Cin, I...), w (Cout, Cin/groups, K...), bias (Cout,) or NULL; opts NULL means the defaults */
TG_API tg_tensor *tg_conv(tg_tensor *x, tg_tensor *w, tg_tensor *bias, const tg_conv_opts *opts);
/* x (N, Cin, I...), w (Cin, Cout/groups, K...): the gradient of tg_conv with respect to its input, as tinygrad's
 * conv_transpose2d; output_padding (each smaller than its axis's stride or dilation) adds to the end of each axis */
TG_API tg_tensor *tg_conv_transpose(tg_tensor *x, tg_tensor *w, tg_tensor *bias, const tg_conv_opts *opts);

/* ---------------------------------------------------------------------------------------------------------------- */
/* inspecting the compiler: the kernels tg_realize would run, as tinygrad's Tensor.schedule() */

typedef struct tg_schedule tg_schedule;
TG_API tg_schedule *tg_schedule_create(tg_tensor **ts, int n); /* NULL on error */
TG_API int tg_schedule_count(const tg_schedule *s);
TG_API const char *tg_schedule_name(const tg_schedule *s, int i);   /* e.g. "r_32_100" */
TG_API const char *tg_schedule_ast(const tg_schedule *s, int i);    /* the kernel's AST, printed */
TG_API const char *tg_schedule_source(const tg_schedule *s, int i); /* the rendered source */
TG_API void tg_schedule_free(tg_schedule *s);

TG_API char *tg_tensor_graph(tg_tensor *t);      /* the lazy UOp graph of t, printed; malloc'd */
TG_API int64_t tg_kernel_launches(void);         /* kernels run since start (for tests and benchmarks) */
TG_API int64_t tg_compiler_invocations(void);    /* compiler processes started since start */

/* ---------------------------------------------------------------------------------------------------------------- */
/* autograd (gradients are UOp graphs built by a table of derivative rules, as tinygrad's gradient.py) */

TG_API tg_tensor *tg_requires_grad(tg_tensor *t, int on); /* marks t as a leaf to differentiate; returns t. A constant
                                                  (tg_zeros, tg_full, random, ...) gets a buffer of its own: mark it
                                                  before using it */
TG_API int tg_backward(tg_tensor *loss);    /* fills tg_grad() of every tensor that requires grad; 0 or -1 */
TG_API tg_tensor *tg_grad(tg_tensor *t);     /* t's accumulated gradient (owned by t), NULL if none */
TG_API void tg_zero_grad(tg_tensor *t);      /* drops t's gradient */
TG_API int tg_gradient(tg_tensor *out, tg_tensor **wrt, int n, tg_tensor **grads); /* d(sum out)/d(wrt[i]) into
                                                  grads[i] (new handles); 0 or -1 */
TG_API tg_tensor *tg_detach(tg_tensor *t);   /* the same value, cut from the gradient graph */
TG_API int tg_set_grad_enabled(int on);      /* no-grad mode when 0; returns the previous setting */
TG_API int tg_set_training(int on);          /* dropout and batchnorm statistics; returns the previous setting */
/* target's buffer takes value when realised (lazy, in place; any realisation runs pending assignments); returns
 * target. A lazy tensor built on target's old contents must be realised before the assignment runs: afterwards,
 * realising it is an error (the old contents are gone), where tinygrad silently computes with the new ones. */
TG_API tg_tensor *tg_assign(tg_tensor *target, tg_tensor *value);
/* a[s1, s2, ...] = value, lazily (tinygrad's __setitem__: target = where(in the slice, value placed, target)): python
 * slices start:stop:step (TG_END open; negative steps too) on the n axes given, the others whole; value broadcast to
 * the slice's shape and cast to a's dtype. 0, or -1 with an error (a stays as it was) */
TG_API int tg_setitem_slice(tg_tensor *a, int n, const int *axes, const int64_t *starts, const int64_t *stops,
                            const int64_t *steps, tg_tensor *value);
/* a[i1, i2, ...] = value with integer index tensors on n axes (tinygrad's advanced __setitem__, numpy's rules as
 * tg_index_n): value broadcast to the shape a[i1, i2, ...] has, cast to a's dtype; where an index repeats, the last
 * in row-major order of the broadcast indices wins; negative indices count from the end, indices outside their axis
 * write nothing. Lazy, in place (tg_assign); 0, or -1 with an error (a stays as it was) */
TG_API int tg_setitem_index(tg_tensor *a, int n, const int *axes, tg_tensor **indices, tg_tensor *value);

/* ---------------------------------------------------------------------------------------------------------------- */
/* state: named tensors, safetensors, IDX (MNIST) files */

typedef struct tg_state_dict tg_state_dict;  /* an ordered list of (name, tensor), plus string metadata */
TG_API tg_state_dict *tg_state_dict_new(void);
TG_API void tg_state_dict_free(tg_state_dict *sd);           /* frees the tensors it owns (loaded ones), not others */
/* adds (name, t), t borrowed; 0, or -1 with sd unchanged when sd, name or t is NULL (a NULL t's error repeats the
 * last error, usually why the op that made it failed), name is empty, or name is already in sd. A file may hold an
 * empty name: tg_safetensors_load keeps it. */
TG_API int tg_state_dict_add(tg_state_dict *sd, const char *name, tg_tensor *t);
TG_API int tg_state_dict_count(const tg_state_dict *sd);     /* -1 for a NULL sd */
TG_API const char *tg_state_dict_name(const tg_state_dict *sd, int i);   /* NULL out of range */
TG_API tg_tensor *tg_state_dict_tensor(const tg_state_dict *sd, int i);  /* NULL out of range */
TG_API tg_tensor *tg_state_dict_get(const tg_state_dict *sd, const char *name); /* NULL if absent */
/* copies every tensor of src into the tensor of the same name in dst (realised, in place). strict: a name missing on
 * either side is an error. A shape or dtype mismatch is always an error; on error no tensor of dst changes. The
 * metadata of either dict plays no part. */
TG_API int tg_load_state_dict(tg_state_dict *dst, const tg_state_dict *src, int strict);

/* Metadata: the "__metadata__" of a safetensors file, a list of (key, value) strings (UTF-8, unique keys) in the
 * file's order, as tinygrad's safe_save(tensors, fn, metadata) writes it. tg_safetensors_load keeps it;
 * tg_safetensors_save writes it first in the header when there is any. Returned strings belong to sd, valid until
 * the entry is replaced or sd is freed. */
TG_API int tg_state_dict_metadata_count(const tg_state_dict *sd);                 /* -1 for a NULL sd */
TG_API const char *tg_state_dict_metadata_key(const tg_state_dict *sd, int i);    /* NULL out of range */
TG_API const char *tg_state_dict_metadata_value(const tg_state_dict *sd, int i);  /* NULL out of range */
TG_API const char *tg_state_dict_metadata_get(const tg_state_dict *sd, const char *key); /* NULL if absent */
/* sets key to value (both copied): a new key goes last, an existing one keeps its place. 0, or -1 with sd unchanged
 * when an argument is NULL, the key is empty, or either is not UTF-8 */
TG_API int tg_state_dict_metadata_set(tg_state_dict *sd, const char *key, const char *value);

/* writes sd as a safetensors file, byte for byte what tinygrad's safe_save writes (lazy tensors are realised first).
 * The file appears whole or not at all: the bytes go to a temporary file beside path, flushed to disk and renamed
 * over path, so an existing file (whose permission bits the new one keeps) is untouched by any failure. 0 or -1. */
TG_API int tg_safetensors_save(const char *path, const tg_state_dict *sd);
TG_API tg_state_dict *tg_safetensors_load(const char *path); /* validated; the dict owns its tensors; NULL on error */

/* an IDX file (MNIST's format), gzip-compressed or not: a uint8/int8/int16/int32/float32/float64 tensor of the shape
 * the file declares */
TG_API tg_tensor *tg_idx_load(const char *path);

/* GGUF (llama.cpp's model files, versions 2 and 3), as tinygrad's gguf_load reads them: typed key-values and tensors.
 * The file is validated whole first (a malformed one is NULL and an error, never a crash). F32, F16 and BF16 tensors
 * are buffers of their dtype; quantised ones (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) stay quantised in
 * memory: a buffer of their blocks and a lazy float32 dequantisation, which the kernel that reads the weight (a
 * matmul's) computes as it goes. Shapes are numpy's order (the file's sizes reversed). */
typedef struct tg_gguf tg_gguf;
enum { /* a key-value's type, as the file's */
  TG_GGUF_UINT8, TG_GGUF_INT8, TG_GGUF_UINT16, TG_GGUF_INT16, TG_GGUF_UINT32, TG_GGUF_INT32, TG_GGUF_FLOAT32,
  TG_GGUF_BOOL, TG_GGUF_STRING, TG_GGUF_ARRAY, TG_GGUF_UINT64, TG_GGUF_INT64, TG_GGUF_FLOAT64
};
TG_API tg_gguf *tg_gguf_load(const char *path);           /* NULL on error */
TG_API void tg_gguf_free(tg_gguf *g);                      /* with its tensors */
TG_API int tg_gguf_version(const tg_gguf *g);              /* 2 or 3; -1 for NULL */
TG_API tg_state_dict *tg_gguf_tensors(const tg_gguf *g);   /* the tensors by name, in the file's order; owned by g */
TG_API int tg_gguf_tensor_type(const tg_gguf *g, const char *name); /* its ggml type (0 F32, 8 Q8_0...); -1 absent */
TG_API const char *tg_gguf_type_name(int ggml_type);       /* "Q4_K"; NULL for a type tinygrad.h does not read */
/* x (..., K) times the 2-d weight `name` (N, K) transposed: (..., N), as tg_matmul(x, tg_transpose(w, 0, 1)). With
 * TG_GGUF_Q8 and a Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 or Q4_K weight, x is quantised per block of 32 values to 8 bits
 * first, as llama.cpp does (Q8_1: a scale max|x| / 127 and int8 values rounded half to even), and each block's
 * product is a sum of integer products of the quants, scaled after: close to the float32 product (llama.cpp's
 * error), not equal to it, and on the CPU about twice as fast. Other weight types ignore the flag. NULL and an error
 * for an absent or non-2-d tensor or an x whose last axis is not K. */
enum { TG_GGUF_Q8 = 1 };
TG_API tg_tensor *tg_gguf_linear(const tg_gguf *g, const char *name, tg_tensor *x, int flags);
/* key-values, in the file's order: i from 0 to tg_gguf_kv_count - 1; j the element of an array (0 for a scalar) */
TG_API int64_t tg_gguf_kv_count(const tg_gguf *g);
TG_API const char *tg_gguf_kv_key(const tg_gguf *g, int64_t i);         /* NULL out of range */
TG_API int64_t tg_gguf_kv_find(const tg_gguf *g, const char *key);      /* its index; -1 when absent */
TG_API int tg_gguf_kv_type(const tg_gguf *g, int64_t i);                /* TG_GGUF_*; -1 out of range */
TG_API int tg_gguf_kv_element_type(const tg_gguf *g, int64_t i);        /* an array's elements' (else the type) */
TG_API int64_t tg_gguf_kv_len(const tg_gguf *g, int64_t i);             /* an array's length; 1 for a scalar */
/* an integer or bool element into *out: 0, or -1 (a float or string, out of range, a uint64 past INT64_MAX) */
TG_API int tg_gguf_kv_int(const tg_gguf *g, int64_t i, int64_t j, int64_t *out);
TG_API int tg_gguf_kv_float(const tg_gguf *g, int64_t i, int64_t j, double *out); /* any number; -1 for strings */
/* a string element (NUL-terminated; *len its bytes, which may hold NULs); NULL when not a string */
TG_API const char *tg_gguf_kv_str(const tg_gguf *g, int64_t i, int64_t j, int64_t *len);

/* Tokenizers from a GGUF file's tokenizer.ggml.* metadata, token for token as llama.cpp encodes:
 *  - "gpt2": byte-level BPE with llama.cpp's pre-tokenizers (tokenizer.ggml.pre: "gpt-2", "mpt", "olmo";
 *    "starcoder", "smollm", "refact", "command-r"; "llama-bpe"; "qwen2");
 *  - "llama": SentencePiece (llama.cpp's SPM): a space in front of the text and after each special token (unless
 *    tokenizer.ggml.add_space_prefix is false), spaces as U+2581, pairs merged by their token's score
 *    (tokenizer.ggml.scores), a character that is no token as its bytes' <0xXX> tokens;
 *  - "bert": WordPiece (llama.cpp's WPM): NFD and lowercase (tokenizer.ggml.normalizer.*, both on by default),
 *    words split at spaces and punctuation, each the longest tokens from its start ("\u2581word" then bare pieces), or
 *    [UNK] whole. */
typedef struct tg_tokenizer tg_tokenizer;
TG_API tg_tokenizer *tg_tokenizer_from_gguf(const tg_gguf *g);  /* copies what it needs: g may be freed after */
/* Hugging Face's tokenizer.json (strict JSON: anything malformed is an error naming the byte). Models:
 *  - BPE, byte-level: pre_tokenizer ByteLevel (GPT-2's regex), or Sequence [Split by Llama 3's or Qwen2's regex,
 *    ByteLevel without regex], or Sequence [Digits one by one, ByteLevel] (StarCoder's / SmolLM's); ignore_merges;
 *    merges as "a b" or ["a", "b"]; normalizer none or NFC (NFC is not applied: give NFC text);
 *  - WordPiece: normalizer BertNormalizer (clean_text, handle_chinese_chars; lowercase; strip_accents, null: as
 *    lowercase) or none, BertPreTokenizer, continuing_subword_prefix, max_input_chars_per_word (a longer word is
 *    unk_token), as Hugging Face's tokenizers library encodes;
 * added_tokens become special tokens: "special": true ones control tokens (taken whole with
 * TG_TOKENIZE_PARSE_SPECIAL; the library always takes them), the others always; their lstrip, rstrip, single_word
 * and normalized flags are not read. The post_processor (TemplateProcessing's single, BertProcessing,
 * RobertaProcessing, ByteLevel, Sequence) gives TG_TOKENIZE_ADD_SPECIAL's tokens. truncation and padding are not
 * applied: the ids are the whole text's. Anything else (another model, normalizer or pre-tokenizer, a byte_fallback
 * BPE) is an error naming it. */
TG_API tg_tokenizer *tg_tokenizer_from_json(const char *path);
/* a tiktoken file (a line per token: its bytes in base64, a space, its rank; the rank is the id) with the
 * pre-tokenizer pre_name ("gpt-2", "llama-bpe" or "llama3", "qwen2"): byte-level BPE that merges the adjacent pair
 * whose concatenation has the lowest rank, a piece that is a token taken whole, as tiktoken does. The file holds
 * no special tokens (tiktoken's users add theirs): none are known, and no BOS/EOS. */
TG_API tg_tokenizer *tg_tokenizer_from_tiktoken(const char *path, const char *pre_name);
TG_API void tg_tokenizer_free(tg_tokenizer *t);
TG_API int64_t tg_tokenizer_vocab_size(const tg_tokenizer *t);   /* -1 for NULL */
TG_API const char *tg_tokenizer_token(const tg_tokenizer *t, int32_t id); /* as the vocabulary spells it; NULL */
/* tg_tokenizer_encode's `special`: 0, or either or both of
 *  - TG_TOKENIZE_PARSE_SPECIAL (1): the vocabulary's control and unknown tokens ("<|im_start|>", "[CLS]") in the text
 *    are taken whole (else they are text like any other; user-defined tokens are always taken whole);
 *  - TG_TOKENIZE_ADD_SPECIAL (2): the tokens the model puts around a text: WordPiece's [CLS] first and [SEP] last
 *    (GGUF: tokenizer.ggml.cls_token_id / seperator_token_id, else 101 / 102; tokenizer.json: its post_processor's
 *    single sequence, TemplateProcessing's or BertProcessing's); SentencePiece's BOS (unless
 *    tokenizer.ggml.add_bos_token is false); BPE's BOS only when tokenizer.ggml.add_bos_token is true; an EOS when
 *    tokenizer.ggml.add_eos_token is true. The text's own special tokens are never doubled or removed. */
enum { TG_TOKENIZE_PARSE_SPECIAL = 1, TG_TOKENIZE_ADD_SPECIAL = 2 };
/* the ids of text (len bytes; -1: up to its NUL) into out (at most cap of them): their count (more than cap when
 * out is short: call again with a larger one), or -1 */
TG_API int64_t tg_tokenizer_encode(const tg_tokenizer *t, const char *text, int64_t len, int special, int32_t *out,
                                   int64_t cap);
/* the bytes of n tokens into out (at most cap, NUL-terminated when there is room): their count, or -1 for an id
 * outside the vocabulary. Special tokens come out as spelled. SentencePiece: U+2581 is a space, <0xXX> its byte, and
 * the first token loses the space the encoder put in front. WordPiece: pieces are joined, each word after the
 * first behind a space (GGUF: "\u2581"; tokenizer.json: tokens without "##"); no other clean-up. */
TG_API int64_t tg_tokenizer_decode(const tg_tokenizer *t, const int32_t *ids, int64_t n, char *out, int64_t cap);
/* the ids the model declares (tokenizer.ggml.bos_token_id, eos_token_id, eot_token_id; without an EOT key the first
 * token spelled <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|end_of_text|> or <EOT>, as
 * llama.cpp finds it): -1 when none (or t is NULL). Generation stops at either EOS or EOT. */
TG_API int32_t tg_tokenizer_bos(const tg_tokenizer *t);
TG_API int32_t tg_tokenizer_eos(const tg_tokenizer *t);
TG_API int32_t tg_tokenizer_eot(const tg_tokenizer *t);
/* Streaming decoding, a token at a time as a model generates them: push gives only whole UTF-8 characters, holding
 * back the first bytes of a character whose other bytes are in tokens still to come (byte-level BPE's and
 * SentencePiece's byte tokens split them); bytes that can be no character come out as U+FFFD, one for each maximal
 * start of a character (Unicode's substitution of maximal subparts). flush gives what is held at the end, a
 * character cut short as one U+FFFD. Both write into out (room for cap bytes, NUL-terminated) and return the bytes
 * written (0 when all is held), or -1 (a NULL stream or out, an id outside the vocabulary, or out too short: then
 * nothing changes, so a call with more room goes on; 3 * (the token's length + 4) + 1 always suffices). The pieces
 * are tg_tokenizer_decode's (SentencePiece: the first token pushed loses its leading space). The stream reads t,
 * which must outlive it. */
typedef struct tg_tokenizer_stream tg_tokenizer_stream;
TG_API tg_tokenizer_stream *tg_tokenizer_stream_new(const tg_tokenizer *t);
TG_API int64_t tg_tokenizer_stream_push(tg_tokenizer_stream *s, int32_t id, char *out, int64_t cap);
TG_API int64_t tg_tokenizer_stream_flush(tg_tokenizer_stream *s, char *out, int64_t cap);
TG_API void tg_tokenizer_stream_free(tg_tokenizer_stream *s);
/* A conversation of n messages (roles[i]: "system", "user", "assistant"...; contents[i]) as the text the model was
 * trained on, in the style of the GGUF's tokenizer.chat_template (kept when the tokenizer is loaded), as llama.cpp's
 * llm_chat_apply_template renders it:
 *  - ChatML (the template holds <|im_start|>): "<|im_start|>role\ncontent<|im_end|>\n" each, then with
 *    add_generation_prompt "<|im_start|>assistant\n". When the template puts a default system prompt before a first
 *    message that is not the system's ({% if loop.first and messages[0]['role'] != 'system' %}, SmolLM2's), that
 *    prompt comes first, as the Jinja template does (none for n = 0);
 *  - Llama 3 (<|start_header_id|> and <|end_header_id|>): "<|begin_of_text|>" (the template's bos_token), then
 *    "<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>" each, the content trimmed of spaces, then
 *    with add_generation_prompt "<|start_header_id|>assistant<|end_header_id|>\n\n".
 * The text goes into out (at most cap bytes, NUL-terminated when there is room); returns its length (more than cap
 * when out is short), or -1: no template, one of neither style (the error quotes it), a NULL role or content.
 * Encode it with TG_TOKENIZE_PARSE_SPECIAL. */
TG_API int64_t tg_tokenizer_chat(const tg_tokenizer *t, const char *const *roles, const char *const *contents, int n,
                                 int add_generation_prompt, char *out, int64_t cap);

/* ---------------------------------------------------------------------------------------------------------------- */
/* nn: functional forms (all built from the ops above, so all differentiable) */

TG_API tg_tensor *tg_dropout(tg_tensor *x, double p);    /* identity unless training (tg_set_training); 0 <= p <= 1 */
/* logits (N, C) (or (N, C, d...), or (C,)); target: class indices (N,) (the logits' shape without C) of an integer
 * dtype, or probabilities of the logits' shape. label_smoothing in [0, 1]. Mean over N (and d...). */
TG_API tg_tensor *tg_cross_entropy(tg_tensor *logits, tg_tensor *target, double label_smoothing);
/* logits (..., C), labels (...) integer; entries equal to ignore_index count for nothing (use -1 for none) */
TG_API tg_tensor *tg_sparse_categorical_crossentropy(tg_tensor *logits, tg_tensor *labels, int64_t ignore_index,
                                                     double label_smoothing);
TG_API tg_tensor *tg_binary_crossentropy(tg_tensor *probs, tg_tensor *target);         /* mean */
TG_API tg_tensor *tg_binary_crossentropy_logits(tg_tensor *logits, tg_tensor *target); /* mean, stable */
TG_API tg_tensor *tg_mse(tg_tensor *x, tg_tensor *target);                             /* mean of squares */
/* the losses with tinygrad's `reduction`: the mean (as the forms above), the sum, or none (each element's loss; the
 * sparse forms' ignored elements are 0). The sparse and nll means divide by the counted (weighted) elements. */
enum { TG_REDUCTION_MEAN, TG_REDUCTION_SUM, TG_REDUCTION_NONE };
#define TG_IGNORE_NONE INT64_MIN /* nll_loss's ignore_index when nothing is ignored */
TG_API tg_tensor *tg_cross_entropy_r(tg_tensor *logits, tg_tensor *target, double label_smoothing, int reduction);
TG_API tg_tensor *tg_sparse_categorical_crossentropy_r(tg_tensor *logits, tg_tensor *labels, int64_t ignore_index,
                                                       double label_smoothing, int reduction);
TG_API tg_tensor *tg_binary_crossentropy_r(tg_tensor *probs, tg_tensor *target, int reduction);
/* pos_weight (NULL: 1) multiplies the positive term, broadcast (per class) */
TG_API tg_tensor *tg_binary_crossentropy_logits_r(tg_tensor *logits, tg_tensor *target, tg_tensor *pos_weight,
                                                  int reduction);
TG_API tg_tensor *tg_mse_r(tg_tensor *x, tg_tensor *target, int reduction);
/* logprobs (N, C, d...) or (C,), target integer (N, d...); weight (C,) or NULL; ignore_index's targets weigh 0 */
TG_API tg_tensor *tg_nll_loss(tg_tensor *logprobs, tg_tensor *target, tg_tensor *weight, int64_t ignore_index,
                              int reduction);
TG_API tg_tensor *tg_softmin(tg_tensor *x, int axis);                        /* softmax(-x) */
TG_API tg_tensor *tg_normalize(tg_tensor *x, double p, int axis, double eps); /* x / max(||x||_p, eps) along axis */
/* functional batchnorm over axis 1: (x - mean) * weight * invstd + bias, each (C,); weight and bias may be NULL */
TG_API tg_tensor *tg_batchnorm(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_tensor *mean, tg_tensor *invstd);
/* pooling over the last two axes of (..., H, W); stride 0 means stride = kernel */
TG_API tg_tensor *tg_max_pool2d(tg_tensor *x, int kernel, int stride, int padding, int dilation);
TG_API tg_tensor *tg_avg_pool2d(tg_tensor *x, int kernel, int stride, int padding); /* padding counts as 0s */
/* Pooling over the last nkernel axes of x, any number of them, as tinygrad's max_pool2d and avg_pool2d. Zero the
 * options and set what differs; NULL means the defaults:
 *   - kernel: nkernel sizes, one per pooled axis; nkernel 0 is tinygrad's default, 2 x 2 over the last two axes;
 *   - stride, dilation: 0 values (the default: stride = kernel, dilation 1), 1 (every axis) or one per axis;
 *   - padding: as tg_conv_opts's (0, 1, one per axis or two per axis, last axis first); max pads with the dtype's
 *     lowest value, avg with zeros;
 *   - ceil_mode: the output size rounds up (windows may start in the end padding, never past it);
 *   - exclude_pad: avg divides by the window's elements inside the input only (PyTorch's count_include_pad=False). */
typedef struct tg_pool_opts {
  int nkernel, nstride, ndilation, npadding; /* how many values of each are given */
  int64_t kernel[TG_MAX_DIMS], stride[TG_MAX_DIMS], dilation[TG_MAX_DIMS], padding[2 * TG_MAX_DIMS];
  int ceil_mode, exclude_pad;
} tg_pool_opts;
/* indices (NULL: not wanted) receives each maximum's flat position within its (N, C)'s spatial axes, int32, the first
 * one on ties: tinygrad's return_indices, the input of tg_max_unpool */
TG_API tg_tensor *tg_max_pool(tg_tensor *x, const tg_pool_opts *opts, tg_tensor **indices);
TG_API tg_tensor *tg_avg_pool(tg_tensor *x, const tg_pool_opts *opts);
/* the partial inverse of tg_max_pool: x and indices (N, C, I...) as tg_max_pool gave them, with nkernel = the number
 * of I axes; each value goes to its index in a zero tensor (N, C, out...). out: n_out sizes (its last nkernel are
 * used), or n_out 0 for tinygrad's (i - 1) stride - padding + dilation (kernel - 1) + 1. */
TG_API tg_tensor *tg_max_unpool(tg_tensor *x, tg_tensor *indices, const tg_pool_opts *opts, int n_out,
                                const int64_t *out);
TG_API tg_tensor *tg_adaptive_avg_pool2d(tg_tensor *x, int64_t out_h, int64_t out_w);
/* TG_NEAREST: source trunc(i in / out); TG_NEAREST_EXACT: trunc((i + 1/2) in / out); TG_LINEAR (TG_BILINEAR) */
enum { TG_NEAREST = 0, TG_BILINEAR = 1, TG_LINEAR = 1, TG_NEAREST_EXACT = 2 };
TG_API tg_tensor *tg_interpolate(tg_tensor *x, int64_t out_h, int64_t out_w, int mode, int align_corners);
/* the last n axes (1-d, 2-d, 3-d...) resampled to sizes[0..n) */
TG_API tg_tensor *tg_interpolate_nd(tg_tensor *x, int n, const int64_t *sizes, int mode, int align_corners);
/* q (..., Lq, D), k and v (..., Lk, D); mask (..., Lq, Lk) bool (true = keep), float (added to the scores) or NULL;
 * causal keeps only j <= i, on top of the mask */
TG_API tg_tensor *tg_scaled_dot_product_attention(tg_tensor *q, tg_tensor *k, tg_tensor *v, tg_tensor *mask,
                                                  int causal);
#define TG_PADDING_SAME (-1) /* conv padding that keeps the size (stride 1) */
TG_API tg_tensor *tg_conv1d(tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride, int padding, int dilation,
                            int groups); /* x (N, Cin, L), w (Cout, Cin/groups, K); padding may be SAME */
TG_API tg_tensor *tg_conv_transpose2d(tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride, int padding,
                                      int output_padding, int dilation, int groups); /* w (Cin, Cout/groups, KH, KW) */

/* initialisers, as tinygrad's (uniform/normal from the seeded generator) */
TG_API tg_tensor *tg_kaiming_uniform(int ndim, const int64_t *shape, double a); /* fan_in = prod(shape[1:]) */
TG_API tg_tensor *tg_kaiming_normal(int ndim, const int64_t *shape, double a);
TG_API tg_tensor *tg_glorot_uniform(int ndim, const int64_t *shape);

/* ---------------------------------------------------------------------------------------------------------------- */
/* nn: layers. Plain structs with named parameter tensors (owned by the struct: _free releases them). _params adds
 * them to a state dict under "prefix.name" (tinygrad's names), for safetensors and optimisers. */

typedef struct tg_nn_linear { tg_tensor *weight, *bias; } tg_nn_linear;   /* weight (out, in), bias (out) or NULL */
TG_API int tg_nn_linear_init(tg_nn_linear *m, int64_t in, int64_t out, int bias);
TG_API tg_tensor *tg_nn_linear_forward(const tg_nn_linear *m, tg_tensor *x);
TG_API int tg_nn_linear_params(const tg_nn_linear *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_linear_free(tg_nn_linear *m);

typedef struct tg_nn_conv2d { tg_tensor *weight, *bias; int stride, padding, dilation, groups; } tg_nn_conv2d;
TG_API int tg_nn_conv2d_init(tg_nn_conv2d *m, int64_t cin, int64_t cout, int kernel, int stride, int padding,
                             int dilation, int groups, int bias); /* padding may be TG_PADDING_SAME */
TG_API tg_tensor *tg_nn_conv2d_forward(const tg_nn_conv2d *m, tg_tensor *x);
TG_API int tg_nn_conv2d_params(const tg_nn_conv2d *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_conv2d_free(tg_nn_conv2d *m);

typedef struct tg_nn_conv1d { tg_tensor *weight, *bias; int stride, padding, dilation, groups; } tg_nn_conv1d;
TG_API int tg_nn_conv1d_init(tg_nn_conv1d *m, int64_t cin, int64_t cout, int kernel, int stride, int padding,
                             int dilation, int groups, int bias);
TG_API tg_tensor *tg_nn_conv1d_forward(const tg_nn_conv1d *m, tg_tensor *x);
TG_API int tg_nn_conv1d_params(const tg_nn_conv1d *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_conv1d_free(tg_nn_conv1d *m);

typedef struct tg_nn_conv_transpose2d {
  tg_tensor *weight, *bias;
  int stride, padding, output_padding, dilation, groups;
} tg_nn_conv_transpose2d;
TG_API int tg_nn_conv_transpose2d_init(tg_nn_conv_transpose2d *m, int64_t cin, int64_t cout, int kernel, int stride,
                                       int padding, int output_padding, int dilation, int groups, int bias);
TG_API tg_tensor *tg_nn_conv_transpose2d_forward(const tg_nn_conv_transpose2d *m, tg_tensor *x);
TG_API int tg_nn_conv_transpose2d_params(const tg_nn_conv_transpose2d *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_conv_transpose2d_free(tg_nn_conv_transpose2d *m);

/* A convolution layer over 1 to TG_MAX_CONV_DIMS axes: tinygrad's nn.Conv2d with a kernel tuple (a Conv3d is the
 * kernel (d, h, w)), or with transposed its nn.ConvTranspose2d; opts as tg_conv's (NULL: the defaults), kept by the
 * layer. Weight (cout, cin/groups, kernel...) or, transposed, (cin, cout/groups, kernel...); weight and bias
 * uniform(-s, s), s = 1/sqrt(cin * prod(kernel)), as tinygrad's. */
typedef struct tg_nn_conv {
  tg_tensor *weight, *bias;
  tg_conv_opts opts;
  int transposed;
} tg_nn_conv;
TG_API int tg_nn_conv_init(tg_nn_conv *m, int64_t cin, int64_t cout, int nk, const int64_t *kernel,
                           const tg_conv_opts *opts, int transposed, int bias);
TG_API tg_tensor *tg_nn_conv_forward(const tg_nn_conv *m, tg_tensor *x);
TG_API int tg_nn_conv_params(const tg_nn_conv *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_conv_free(tg_nn_conv *m);

/* batch norm over axis 1: batch statistics when training (the running ones are updated with tg_assign, realised
 * with the next realisation), running statistics otherwise */
typedef struct tg_nn_batchnorm {
  tg_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
  double eps, momentum;
} tg_nn_batchnorm;
TG_API int tg_nn_batchnorm_init(tg_nn_batchnorm *m, int64_t features);
TG_API tg_tensor *tg_nn_batchnorm_forward(tg_nn_batchnorm *m, tg_tensor *x);
TG_API int tg_nn_batchnorm_params(const tg_nn_batchnorm *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_batchnorm_free(tg_nn_batchnorm *m);

typedef struct tg_nn_layernorm { tg_tensor *weight, *bias; int64_t features; double eps; } tg_nn_layernorm;
TG_API int tg_nn_layernorm_init(tg_nn_layernorm *m, int64_t features, int affine); /* over the last axis */
TG_API tg_tensor *tg_nn_layernorm_forward(const tg_nn_layernorm *m, tg_tensor *x);
TG_API int tg_nn_layernorm_params(const tg_nn_layernorm *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_layernorm_free(tg_nn_layernorm *m);

typedef struct tg_nn_rmsnorm { tg_tensor *weight; int64_t features; double eps; } tg_nn_rmsnorm;
TG_API int tg_nn_rmsnorm_init(tg_nn_rmsnorm *m, int64_t features);
TG_API tg_tensor *tg_nn_rmsnorm_forward(const tg_nn_rmsnorm *m, tg_tensor *x);
TG_API int tg_nn_rmsnorm_params(const tg_nn_rmsnorm *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_rmsnorm_free(tg_nn_rmsnorm *m);

typedef struct tg_nn_groupnorm { tg_tensor *weight, *bias; int64_t groups, channels; double eps; } tg_nn_groupnorm;
TG_API int tg_nn_groupnorm_init(tg_nn_groupnorm *m, int64_t groups, int64_t channels, int affine);
TG_API tg_tensor *tg_nn_groupnorm_forward(const tg_nn_groupnorm *m, tg_tensor *x);
TG_API int tg_nn_groupnorm_params(const tg_nn_groupnorm *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_groupnorm_free(tg_nn_groupnorm *m);

typedef struct tg_nn_embedding { tg_tensor *weight; int64_t vocab, dim; } tg_nn_embedding;
TG_API int tg_nn_embedding_init(tg_nn_embedding *m, int64_t vocab, int64_t dim);
TG_API tg_tensor *tg_nn_embedding_forward(const tg_nn_embedding *m, tg_tensor *idx); /* (...) int -> (..., dim) */
TG_API int tg_nn_embedding_params(const tg_nn_embedding *m, tg_state_dict *sd, const char *prefix);
TG_API void tg_nn_embedding_free(tg_nn_embedding *m);

/* ---------------------------------------------------------------------------------------------------------------- */
/* optimisers. A step builds the updates as lazy assignments; they are realised with the next realisation (of the
 * loss, say), in one schedule, as tinygrad's schedule_step. Parameters are borrowed; state is owned. */

typedef struct tg_optimizer tg_optimizer;
TG_API tg_optimizer *tg_sgd(tg_tensor **params, int n, double lr, double momentum, double weight_decay, int nesterov);
TG_API tg_optimizer *tg_adam(tg_tensor **params, int n, double lr, double b1, double b2, double eps);
TG_API tg_optimizer *tg_adamw(tg_tensor **params, int n, double lr, double b1, double b2, double eps,
                              double weight_decay);
TG_API tg_optimizer *tg_lamb(tg_tensor **params, int n, double lr, double b1, double b2, double eps,
                             double weight_decay);
TG_API int tg_optimizer_step(tg_optimizer *o);        /* 0 or -1 (a parameter without a gradient is skipped) */
TG_API void tg_optimizer_zero_grad(tg_optimizer *o);
TG_API int tg_optimizer_set_lr(tg_optimizer *o, double lr); /* takes effect at the next step, no recompilation */
TG_API double tg_optimizer_lr(const tg_optimizer *o);
TG_API int tg_optimizer_state(const tg_optimizer *o, tg_state_dict *sd, const char *prefix); /* to save and load */
TG_API void tg_optimizer_free(tg_optimizer *o);

/* ---------------------------------------------------------------------------------------------------------------- */
/* the JIT: captures the kernels a function runs and replays them on new inputs without scheduling or compiling
 * (tinygrad's TinyJit). The function realises its outputs; inputs must be realised tensors of the same shapes and
 * dtypes on every call. The first call runs normally, the second captures, later calls replay. */

typedef int (*tg_jit_fn)(void *ctx, tg_tensor **inputs, int n_in, tg_tensor **outputs, int n_out);
typedef struct tg_jit tg_jit;
TG_API tg_jit *tg_jit_new(tg_jit_fn fn, void *ctx);
TG_API int tg_jit_run(tg_jit *j, tg_tensor **inputs, int n_in, tg_tensor **outputs, int n_out); /* 0 or -1 */
TG_API int tg_jit_kernels(const tg_jit *j); /* kernels captured (0 before capture) */
TG_API void tg_jit_free(tg_jit *j);

#ifdef __cplusplus
}
#endif
