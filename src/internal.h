/* internal.h: what the stages of the library share and the user never sees.
 *
 * In the amalgamation every TG__PRIVATE function is static, so nothing but tg_ names leaves the user's translation
 * unit. Compiled as separate files (make separate), TG__PRIVATE is empty and each file of src/ includes this header.
 * Sections follow the pipeline: base helpers, dtypes, UOps, the pattern matcher, tensors, schedule, codegen, render,
 * realize, devices, the JIT. */
#ifndef TG__INTERNAL_H
#define TG__INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

/* TG__PRIVATE marks a function shared between src/ files, TG__DATA a table shared between them. The amalgamation
 * defines both as static (and TG__AMALGAMATED); a separate build leaves them extern. Tables are declared here only in a
 * separate build: C++ (a supported way to build the implementation) cannot forward-declare a static const array. */
#ifndef TG__PRIVATE
#define TG__PRIVATE
#endif
#ifndef TG__DATA
#define TG__DATA
#endif

#if defined(TG_MALLOC) && defined(TG_FREE) && defined(TG_REALLOC)
#elif !defined(TG_MALLOC) && !defined(TG_FREE) && !defined(TG_REALLOC)
#define TG_MALLOC(sz) malloc(sz)
#define TG_REALLOC(p, newsz) realloc(p, newsz)
#define TG_FREE(p) free(p)
#else
#error "Define all or none of TG_MALLOC, TG_FREE and TG_REALLOC."
#endif

#ifdef TG_DEBUG_ASSERT
#include <assert.h>
#define TG__ASSERT(x) assert(x)
#else
#define TG__ASSERT(x) ((void)0)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TG__UNUSED __attribute__((unused))
#define TG__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TG__UNUSED
#define TG__PRINTF(a, b)
#endif

#define TG__COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

#ifdef __cplusplus
#define TG__THREAD_LOCAL thread_local
#else
#define TG__THREAD_LOCAL _Thread_local
#endif

/* ---------------------------------------------------------------------------------------------------------------- */
/* base.c: memory, errors, growable arrays, strings, hashing, environment */

/* Memory. tg__try_alloc is for tensor data and anything else whose size a user chooses: on failure it is an error
 * like any other (NULL, and a message naming fn and the size). tg__alloc and tg__realloc are for the library's own
 * bookkeeping (nodes, handles, strings, small arrays): zeroed, never NULL. Before giving up, both give back the
 * memory the library caches (tg__set_release_hook) and try again; if bookkeeping still cannot get its bytes, the
 * process prints "tinygrad.h: out of memory" and aborts: the one exception to "never aborts", documented in api.h
 * and the README. */
TG__PRIVATE void *tg__try_alloc(const char *fn, size_t n); /* not zeroed; NULL with an error */
TG__PRIVATE void *tg__alloc(size_t n);
TG__PRIVATE void *tg__realloc(void *p, size_t n);
TG__PRIVATE void tg__set_release_hook(void (*release)(void)); /* gives cached memory back (the allocation cache) */
TG__PRIVATE char *tg__strdup(const char *s);
TG__PRIVATE void tg__set_error(const char *fmt, ...) TG__PRINTF(1, 2); /* records the message tg_error() returns */
/* The error state saved, and errors silenced (not printed at DEBUG>=1) until the matching pop restores it: for work
 * whose failures are expected and dropped (BEAM's candidates) */
typedef struct tg__errsave { char buf[1024]; int set; } tg__errsave;
TG__PRIVATE void tg__error_push(tg__errsave *s);
TG__PRIVATE void tg__error_pop(const tg__errsave *s);
TG__PRIVATE int tg__has_error(void);
TG__PRIVATE unsigned tg__error_serial(void); /* changes whenever an error is set on this thread */
TG__PRIVATE void tg__error_context(const char *prefix); /* the last error becomes "prefix: <the last error>" */

/* a growable array of pointers */
typedef struct tg__vec { void **items; int n, cap; } tg__vec;
TG__PRIVATE void tg__vec_push(tg__vec *v, void *p);
TG__PRIVATE void tg__vec_free(tg__vec *v);

/* a string builder */
typedef struct tg__str { char *s; size_t n, cap; } tg__str;
TG__PRIVATE void tg__str_printf(tg__str *b, const char *fmt, ...) TG__PRINTF(2, 3);
TG__PRIVATE void tg__str_cat(tg__str *b, const char *s);
TG__PRIVATE char *tg__str_take(tg__str *b);  /* returns the malloc'd string ("" if empty) and resets b */

/* a pointer -> pointer hash map (open addressing), for memoising rewrites and graph walks */
typedef struct tg__map { const void **keys; void **vals; int n, cap; } tg__map;
TG__PRIVATE void *tg__map_get(const tg__map *m, const void *key);   /* NULL if absent */
TG__PRIVATE void tg__map_put(tg__map *m, const void *key, void *val);
TG__PRIVATE void tg__map_free(tg__map *m);

TG__PRIVATE uint64_t tg__hash_bytes(const void *p, size_t n, uint64_t h); /* 4 lanes of words, then mixed */
TG__PRIVATE uint64_t tg__hash_mix(uint64_t h, uint64_t v);
TG__PRIVATE int tg__getenv_int(const char *name, int dflt);            /* cached per name */
TG__PRIVATE void tg__setenv_int(const char *name, int v); /* tests: the value read from now on */
TG__PRIVATE uint64_t tg__now_ns(void);                    /* CLOCK_MONOTONIC */
#define TG__DEBUG (tg__getenv_int("DEBUG", 0))

/* The library-wide lock. Every public function (tg_*) but the pure ones (dtype queries, tg_error) begins with
 * TG__LOCKED(): it takes a recursive mutex released when the function returns (the cleanup attribute of GCC and
 * clang, C and C++), so calls from several threads run one at a time and a public function may call another.
 * tools/check.sh refuses a public function without it. Kernels run by the CPU pool never take it. */
TG__PRIVATE int tg__api_lock(void);
TG__PRIVATE void tg__api_unlock(int *held);
/* runs as a public call returns to the user (not to the library's own code, which may hold nodes that no tensor
 * roots yet): the UOp collector registers itself, so memory a tg_free or a dict's free let go is collected there */
TG__PRIVATE void tg__set_return_hook(void (*hook)(void));
TG__PRIVATE int tg__callback_begin(void);
TG__PRIVATE void tg__callback_end(int prev);
TG__PRIVATE int tg__in_callback(void); /* inside a JIT'd function (between callback_begin and _end) */
#if defined(__GNUC__) || defined(__clang__)
#define TG__LOCKED() int tg__api_held __attribute__((cleanup(tg__api_unlock), unused)) = tg__api_lock()
#else
#error "tinygrad.h needs GCC or clang (the cleanup attribute releases the library's lock)"
#endif

/* Fault injection, for the tests (as SQLite's): the library asks tg__fault(kind) before an operation that can fail
 * in the field (an allocation, a compile, a launch, a file write) and fails it, the way the real failure would, when
 * the answer is 1. Nothing is armed unless a test arms it. */
typedef enum tg__fault_kind {
  TG__FAULT_HOST_ALLOC,   /* host memory for data (tg__try_alloc) */
  TG__FAULT_DEVICE_ALLOC, /* a buffer's device memory (tg__buffer_ensure) */
  TG__FAULT_COMPILE,      /* a kernel's compile */
  TG__FAULT_LAUNCH,       /* a kernel's launch */
  TG__FAULT_IO,           /* a write, fsync or rename of a file the library writes */
  TG__NFAULTS
} tg__fault_kind;
TG__PRIVATE void tg__fault_arm(tg__fault_kind k, int64_t skip, int64_t count); /* pass `skip`, then fail `count` */
TG__PRIVATE int tg__fault(tg__fault_kind k);                                   /* 1: fail this one */
TG__PRIVATE int tg__fault_armed(tg__fault_kind k); /* a fault of kind k is armed (tg__fault may fail) */

/* Files the library writes appear whole or not at all: the bytes go to a temporary file in the target's directory,
 * which is flushed to disk (fsync) and renamed over the target; the directory is synced after. A failure at any step
 * removes the temporary and leaves an existing target untouched. Errors name `fn`, the path and the system's reason. */
typedef struct tg__afile {
  int fd;
  char *tmp, *path;   /* malloc'd */
  const char *fn;
  int mode;           /* of the final file: an existing target's, else 0666 less the umask */
} tg__afile;
TG__PRIVATE int tg__afile_open(tg__afile *f, const char *fn, const char *path);  /* 0 or -1 */
TG__PRIVATE int tg__afile_write(tg__afile *f, const void *p, size_t n);          /* 0 or -1 (the file is discarded) */
TG__PRIVATE int tg__afile_commit(tg__afile *f);  /* fsync, rename over the target, sync the directory; 0 or -1 */
TG__PRIVATE void tg__afile_discard(tg__afile *f); /* removes the temporary; safe after a failure or a commit */
/* for a file another program wrote (a compiler's output at tmp): fsync it, rename it to path, sync the directory.
 * 0, or -1 with errno set and tmp removed; the error is recorded for `fn`, or not at all when fn is NULL (a caller to
 * whom the failure is not an error: the CPU's kernel cache). */
TG__PRIVATE int tg__file_publish(const char *fn, const char *tmp, const char *path);
/* The library's disk cache directory (compiled kernels, BEAM's choices), created if missing: $TINYGRAD_CACHE, else
 * $XDG_CACHE_HOME/tinygrad.h, else $HOME/.cache/tinygrad.h, mode 0700. Used only when it and every directory above it
 * are ours (or root's) and nobody else can write them (sticky ones like /tmp excepted). Its real path goes into dir
 * (with room for 64 more bytes). 0, or -1 with the reason in why (no error is set: callers decide) */
TG__PRIVATE int tg__cache_dir(char *dir, size_t ndir, char *why, size_t nwhy);

/* ---------------------------------------------------------------------------------------------------------------- */
/* dtype.c */

typedef struct tg__dtype_info {
  const char *name;   /* tinygrad's name: "float32" */
  const char *cname;  /* the C type of a value in kernels: "float"; half types compute in float */
  int size, is_float, is_int, is_unsigned, priority;
} tg__dtype_info;
#ifndef TG__AMALGAMATED
extern const tg__dtype_info tg__dtypes[TG_NDTYPES];
#endif
TG__PRIVATE double tg__dtype_min(tg_dtype dt);
TG__PRIVATE double tg__dtype_max(tg_dtype dt);
TG__PRIVATE tg_dtype tg__default_float(void); /* float32 */
TG__PRIVATE tg_dtype tg__least_float(tg_dtype dt); /* dt if float, else the default float */
/* element conversion for host-side reading/writing */
TG__PRIVATE double tg__load_elem(const void *p, tg_dtype dt, int64_t i);
TG__PRIVATE void tg__store_elem(void *p, tg_dtype dt, int64_t i, double v);
/* unicode.c: a code point's classes, as the tokenizers' regexes see them (\p{L}, \p{N}, \s); 0 for others */
enum { TG__UNI_LETTER = 1, TG__UNI_NUMBER = 2, TG__UNI_SPACE = 4 };
TG__PRIVATE int tg__uni_class(uint32_t cp);
/* and what the WordPiece normalisers ask (unicode.c's contract says how each is made) */
enum { TG__UC_CN, TG__UC_CC, TG__UC_CF, TG__UC_CO, TG__UC_CS, TG__UC_LL, TG__UC_LM, TG__UC_LO, TG__UC_LT, TG__UC_LU,
       TG__UC_MC, TG__UC_ME, TG__UC_MN, TG__UC_ND, TG__UC_NL, TG__UC_NO, TG__UC_PC, TG__UC_PD, TG__UC_PE, TG__UC_PF,
       TG__UC_PI, TG__UC_PO, TG__UC_PS, TG__UC_SC, TG__UC_SK, TG__UC_SM, TG__UC_SO, TG__UC_ZL, TG__UC_ZP, TG__UC_ZS };
TG__PRIVATE int tg__uni_category(uint32_t cp);
TG__PRIVATE uint32_t tg__uni_lower(uint32_t cp);
TG__PRIVATE uint32_t tg__uni_nfd_first(uint32_t cp);
TG__PRIVATE int tg__uni_strip_accents(uint32_t cp, uint32_t out[3]);
TG__PRIVATE float tg__half_to_float(uint16_t h);
TG__PRIVATE uint16_t tg__float_to_half(float f);
TG__PRIVATE float tg__bf16_to_float(uint16_t h);
TG__PRIVATE uint16_t tg__float_to_bf16(float f);

/* ---------------------------------------------------------------------------------------------------------------- */
/* uop.c: the op table and the UOp graph. Nodes are immutable and hash-consed: tg__uop_new returns the existing node
 * when one with the same op, dtype, sources and argument exists, so equal graphs are equal pointers. Nodes are garbage
 * collected by tg__uop_gc (mark from tensors and caches, sweep the rest) at safe points between realisations. */

/* The op table (tinygrad's Ops and GroupOp, KANN's kad_op_list): one row per op, and everything the stages ask about
 * an op is a column of it, read through tg__ops[op]:
 *   X(name, kind, arity, flags, identity, C format, integer evaluator, float evaluator)
 * kind      TENSOR: the lazy tensor graph only; KERNEL: lowered kernels only; BOTH; ALU: arithmetic (in both).
 * arity     the sources of an ALU op: 1, 2 or 3 (the UNARY, BINARY, TERNARY groups); 0 for the others.
 * flags     TG__OPF_COMMUTATIVE; TG__OPF_CMP (a compare: the result is bool); TG__OPF_MOVEMENT (a view of its source,
 *           the tensor graph's reshape/permute/expand/pad/shrink/flip); TG__OPF_ELEMENTWISE (per element but not
 *           ALU: CAST, BITCAST).
 * identity  of a reduction by the op (tg__op_identity): ZERO (ADD), ONE (MUL), LOWEST (MAX: the dtype's lowest value).
 * C format  the C expression an ALU op renders to, over its operands: %s the next, %1..%3 a given one, %f the float
 *           function suffix ("f" or ""), %% a percent sign.
 * evaluators the op over constants, as the kernels compute it (uop.c: tg__ei_* over int64, tg__ef_* over double);
 *           NULL where the op is not evaluated for that kind of dtype. Every ALU op has at least one.
 * A new op goes last (WGMMA is): an op's number orders the operands of commutative ops in canonical forms, so the
 * ALU ops keep theirs. */
#define TG__OPS(X)                                                                                                     \
  X(NOOP,          BOTH,   0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(SINK,          BOTH,   0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(CONST,         BOTH,   0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(BUFFER,        TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(CONTIGUOUS,    TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(COPY,          TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(ARANGE,        TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(DETACH,        TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(CUSTOM_GRAD,   TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(RESHAPE,       TENSOR, 0, TG__OPF_MOVEMENT,    NONE, NULL, NULL, NULL)                                             \
  X(PERMUTE,       TENSOR, 0, TG__OPF_MOVEMENT,    NONE, NULL, NULL, NULL)                                             \
  X(EXPAND,        TENSOR, 0, TG__OPF_MOVEMENT,    NONE, NULL, NULL, NULL)                                             \
  X(PAD,           TENSOR, 0, TG__OPF_MOVEMENT,    NONE, NULL, NULL, NULL)                                             \
  X(SHRINK,        TENSOR, 0, TG__OPF_MOVEMENT,    NONE, NULL, NULL, NULL)                                             \
  X(FLIP,          TENSOR, 0, TG__OPF_MOVEMENT,    NONE, NULL, NULL, NULL)                                             \
  X(REDUCE_AXIS,   TENSOR, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(CAST,          BOTH,   0, TG__OPF_ELEMENTWISE, NONE, NULL, NULL, NULL)                                             \
  X(BITCAST,       BOTH,   0, TG__OPF_ELEMENTWISE, NONE, NULL, NULL, NULL)                                             \
  X(INDEX,         BOTH,   0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(DEFINE_GLOBAL, KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(RANGE,         KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(REDUCE,        KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(LOAD,          KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(STORE,         KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(DEFINE_ACC,    KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(ASSIGN,        BOTH,   0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(ENDRANGE,      KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(DEFINE_LOCAL,  KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(BARRIER,       KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(WMMA,          KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(GEP,           KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(LDMATRIX,      KERNEL, 0, 0,                   NONE, NULL, NULL, NULL)                                             \
  X(NEG,        ALU, 1, 0,                               NONE,   "(-%s)",           tg__ei_neg,   tg__ef_neg)          \
  X(EXP2,       ALU, 1, 0,                               NONE,   "exp2%f(%s)",      NULL,         tg__ef_exp2)         \
  X(LOG2,       ALU, 1, 0,                               NONE,   "log2%f(%s)",      NULL,         tg__ef_log2)         \
  X(SIN,        ALU, 1, 0,                               NONE,   "sin%f(%s)",       NULL,         tg__ef_sin)          \
  X(SQRT,       ALU, 1, 0,                               NONE,   "sqrt%f(%s)",      NULL,         tg__ef_sqrt)         \
  X(RECIPROCAL, ALU, 1, 0,                               NONE,   "(1/%s)",          NULL,         tg__ef_recip)        \
  X(TRUNC,      ALU, 1, 0,                               NONE,   "trunc%f(%s)",     NULL,         tg__ef_trunc)        \
  X(ADD,        ALU, 2, TG__OPF_COMMUTATIVE,             ZERO,   "(%s+%s)",         tg__ei_add,   tg__ef_add)          \
  X(SUB,        ALU, 2, 0,                               NONE,   "(%s-%s)",         tg__ei_sub,   tg__ef_sub)          \
  X(MUL,        ALU, 2, TG__OPF_COMMUTATIVE,             ONE,    "(%s*%s)",         tg__ei_mul,   tg__ef_mul)          \
  X(IDIV,       ALU, 2, 0,                               NONE,   "(%s/%s)",         tg__ei_idiv,  NULL)                \
  X(MOD,        ALU, 2, 0,                               NONE,   "(%s%%%s)",        tg__ei_mod,   NULL)                \
  X(MAX,        ALU, 2, TG__OPF_COMMUTATIVE,             LOWEST, "((%1>%2||%1!=%1)?%1:%2)", tg__ei_max, tg__ef_max)   \
  X(CMPLT,      ALU, 2, TG__OPF_CMP,                     NONE,   "(%s<%s)",         tg__ei_cmplt, tg__ef_cmplt)        \
  X(CMPNE,      ALU, 2, TG__OPF_CMP|TG__OPF_COMMUTATIVE, NONE,   "(%s!=%s)",        tg__ei_cmpne, tg__ef_cmpne)        \
  X(CMPEQ,      ALU, 2, TG__OPF_CMP|TG__OPF_COMMUTATIVE, NONE,   "(%s==%s)",        tg__ei_cmpeq, tg__ef_cmpeq)        \
  X(AND,        ALU, 2, TG__OPF_COMMUTATIVE,             NONE,   "(%s&%s)",         tg__ei_and,   NULL)                \
  X(OR,         ALU, 2, TG__OPF_COMMUTATIVE,             NONE,   "(%s|%s)",         tg__ei_or,    NULL)                \
  X(XOR,        ALU, 2, TG__OPF_COMMUTATIVE,             NONE,   "(%s^%s)",         tg__ei_xor,   NULL)                \
  X(SHL,        ALU, 2, 0,                               NONE,   "(%s<<%s)",        tg__ei_shl,   NULL)                \
  X(SHR,        ALU, 2, 0,                               NONE,   "(%s>>%s)",        tg__ei_shr,   NULL)                \
  X(WHERE,      ALU, 3, 0,                               NONE,   "(%s?%s:%s)",      tg__ei_where, tg__ef_where)      \
  X(WGMMA,      KERNEL, 0, 0,                            NONE,   NULL,              NULL,         NULL)              \
  X(DEFINE_VAR, BOTH,   0, 0,                            NONE,   NULL,              NULL,         NULL)              \
  X(BIND,       TENSOR, 0, 0,                            NONE,   NULL,              NULL,         NULL)

typedef enum tg__op {
#define TG__X(name, kind, arity, flags, ident, cfmt, ei, ef) TG__OP_##name,
  TG__OPS(TG__X)
#undef TG__X
  TG__NOPS /* at most 64: the pattern matcher holds op sets in a uint64_t */
} tg__op;

typedef enum tg__op_kind { TG__OPK_TENSOR, TG__OPK_KERNEL, TG__OPK_BOTH, TG__OPK_ALU } tg__op_kind;
typedef enum tg__op_ident { TG__IDENT_NONE, TG__IDENT_ZERO, TG__IDENT_ONE, TG__IDENT_LOWEST } tg__op_ident;
enum { TG__OPF_COMMUTATIVE = 1, TG__OPF_CMP = 2, TG__OPF_MOVEMENT = 4, TG__OPF_ELEMENTWISE = 8 };
/* An evaluator: the op over its operands v (arity of them). The integer one computes in int64 without wrapping to a
 * dtype (the caller wraps) and with the kernels' semantics: additions and products wrap, x / 0 = x % 0 = 0,
 * MIN / -1 = MIN, unsigned division and compares for uint64; dt is the operands' dtype. It returns 0 when the result
 * is undefined and must not be computed (a shift out of range). A compare gives 0 or 1. */
typedef int (*tg__eval_int_fn)(tg_dtype dt, const int64_t *v, int64_t *out);
typedef double (*tg__eval_float_fn)(const double *v);
typedef struct tg__op_info {
  tg__op_kind kind;
  int arity;                     /* sources of an ALU op; 0 for the others */
  unsigned flags;                /* TG__OPF_* */
  tg__op_ident identity;
  const char *cfmt;              /* NULL but for ALU ops */
  tg__eval_int_fn eval_int;      /* NULL where not evaluated */
  tg__eval_float_fn eval_float;
} tg__op_info;

/* the groups of ops a pattern may name (tinygrad's GroupOp): (ALU x y), (INDEX ELEMENTWISE ...) */
typedef enum tg__op_group {
  TG__GROUP_ALU,         /* kind ALU */
  TG__GROUP_UNARY,       /* ALU ops of one source, BINARY of two, TERNARY of three */
  TG__GROUP_BINARY,
  TG__GROUP_TERNARY,
  TG__GROUP_ELEMENTWISE, /* ALU, CAST, BITCAST */
  TG__GROUP_MOVEMENT,
  TG__GROUP_COMMUTATIVE,
  TG__GROUP_CMP,
  TG__NGROUPS
} tg__op_group;

#ifndef TG__AMALGAMATED
extern const char *const tg__op_names[TG__NOPS];
extern const tg__op_info tg__ops[TG__NOPS];
extern const char *const tg__op_group_names[TG__NGROUPS];
#endif
TG__PRIVATE int tg__op_in_group(tg__op op, tg__op_group g);
TG__PRIVATE int tg__op_group_find(const char *name); /* the group of that name, or -1 */
TG__PRIVATE double tg__op_identity(tg__op op, tg_dtype dt); /* the identity of a reduction by op (ADD, MUL, MAX) */
/* shorthands for the groups the stages ask about most */
TG__PRIVATE int tg__op_is_alu(tg__op op);
TG__PRIVATE int tg__op_is_movement(tg__op op);
TG__PRIVATE int tg__op_is_cmp(tg__op op); /* CMPLT, CMPNE, CMPEQ: result is bool */

/* a realised buffer on a device; refcounted (BUFFER uops hold one reference each, tensors none) */
typedef struct tg__buffer {
  struct tg__device *dev;
  tg_dtype dtype;
  int64_t numel;
  size_t nbytes;
  void *ptr;        /* device memory, allocated lazily by tg__buffer_ensure */
  int refcount;
  int64_t id;       /* creation number, for printing */
  int64_t version;  /* bumped by every in-place assignment: BUFFER uops carry it, so old and new contents differ */
  int64_t written;  /* the version at which the contents last changed: a graph reading an older one is stale */
  /* A view (tinygrad's buffer view): base's memory from byte `offset` on; ptr is that address. Made where a value
   * is a contiguous range of a realised buffer (schedule.c), it holds a reference to base and is listed in base's
   * views. Before either is written, tg__buffer_unshare gives the view memory of its own, so values never change. */
  struct tg__buffer *base;
  size_t offset;
  struct tg__buffer *views, *next_view; /* a base's live views, linked through next_view */
} tg__buffer;

/* The argument of a UOp. Which member is meaningful depends on the op:
 *   CONST: i (ints, bool) or f (floats); DEFINE_GLOBAL: i (parameter number); RANGE: i (range id) and i2 (its role:
 *   0 a loop, TG__RANGE_LOCAL or TG__RANGE_GROUP a digit of a GPU thread's index in its workgroup, TG__RANGE_LANE a
 *   digit of a tensor core's warp: the fastest digits of all);
 *   WMMA (a tensor core's multiply-accumulate by a warp, tinygrad's WMMA: srcs are the thread's elements of A, of B
 *   and of the accumulator C, in tg__tensor_cores' order; its value is the thread's elements of D, a vector): i (the
 *   entry of tg__tensor_cores); GEP (element src[1], a constant, of the vector src[0]); LDMATRIX (a warp's load of
 *   arg.i 8x8 matrices of 16-bit elements from a shared array, PTX's ldmatrix: src[0] the INDEX of this thread's row
 *   of 8 elements, src[1] the BARRIER it comes after; arg.i2 = 1 transposes; its value is the thread's 2 * arg.i
 *   elements, by GEP, as the tensor cores' fragments hold them);
 *   WGMMA (a warpgroup's multiply-accumulate of a 64 x n tile, Hopper's wgmma.mma_async, A and B read by the tensor
 *   cores from shared arrays laid out in 128-byte swizzled atoms: src[0] and src[1] the INDEX of A's and B's tile,
 *   src[2] the BARRIER they come after, then the n / 2 elements of C this thread holds, in PTX's order): i (the entry
 *   of tg__tensor_cores), ints {n, A's layout, B's layout, groups left in flight} (a layout: 0 K-major, 1 MN-major);
 *   DEFINE_LOCAL (an array in a workgroup's shared memory, elements of its dtype): i (its number), i2 (elements);
 *   RESHAPE/EXPAND: shape; PERMUTE: perm in ints; PAD/SHRINK: pairs (before, after) / (start, end) in ints;
 *   FLIP: axes mask in i; ARANGE (0, 1, ..., i-1 as int32): length in i; REDUCE_AXIS: reduce op in i2, axes mask
 *   in i; REDUCE: op in i; BUFFER: buf; COPY (tg_to): the target device (its tg__device *) in ptr, the source's
 *   in i (an intptr_t: the gradient copies back there). */
enum { TG__RANGE_LOOP, TG__RANGE_LOCAL, TG__RANGE_GROUP, TG__RANGE_LANE }; /* a RANGE's role (arg.i2), optimize.c */
/* CONTIGUOUS's arg.i: TG__CONTIGUOUS_COPY is a copy even where its value is a range of a realised buffer that could
 * be viewed (schedule.c): a snapshot of a buffer that an assignment realised with it overwrites (tg_rand's counter) */
enum { TG__CONTIGUOUS_ANY = 0, TG__CONTIGUOUS_COPY = 1 };
typedef struct tg__arg {
  int64_t i, i2;
  double f;
  void *ptr;
  int nints;
  const int64_t *ints;  /* interned with the node */
} tg__arg;

typedef struct tg__uop {
  tg__op op;
  tg_dtype dtype;
  int nsrc;
  struct tg__uop **src;
  tg__arg arg;
  uint64_t hash;
  /* derived, computed once at creation: the shape for tensor-graph nodes (ndim -1 for kernel nodes) */
  int ndim;
  int64_t *shape;
  /* bounds of integer kernel expressions (computed lazily: has_bounds) */
  int has_bounds;
  int64_t vmin, vmax;
  struct tg__uop *becomes;  /* set when this lazy node has been realised: the BUFFER (reshaped) holding its value */
  struct tg__uop *next;     /* intern table chain */
  uint32_t mark;            /* gc mark epoch */
  int64_t id;
} tg__uop;

TG__PRIVATE tg__uop *tg__uop_new(tg__op op, tg_dtype dt, int nsrc, tg__uop *const *src, const tg__arg *arg);
TG__PRIVATE tg__uop *tg__uop0(tg__op op, tg_dtype dt, const tg__arg *arg);
TG__PRIVATE tg__uop *tg__uop1(tg__op op, tg_dtype dt, tg__uop *a, const tg__arg *arg);
TG__PRIVATE tg__uop *tg__uop2(tg__op op, tg_dtype dt, tg__uop *a, tg__uop *b, const tg__arg *arg);
TG__PRIVATE tg__uop *tg__uop3(tg__op op, tg_dtype dt, tg__uop *a, tg__uop *b, tg__uop *c, const tg__arg *arg);
TG__PRIVATE tg__uop *tg__const(tg_dtype dt, double v);         /* a scalar constant (ints are truncated) */
TG__PRIVATE tg__uop *tg__const_int(tg_dtype dt, int64_t v);
TG__PRIVATE tg__uop *tg__alu(tg__op op, tg__uop *a, tg__uop *b); /* binary ALU; dtype from a, bool for compares */
TG__PRIVATE tg__uop *tg__alu1(tg__op op, tg__uop *a);
TG__PRIVATE tg__uop *tg__where(tg__uop *c, tg__uop *a, tg__uop *b);
TG__PRIVATE tg__uop *tg__cast(tg__uop *a, tg_dtype dt);        /* no-op when already dt */
TG__PRIVATE int tg__is_const(const tg__uop *u, double *v);     /* 1 if a CONST (value in *v) */
TG__PRIVATE double tg__const_val(const tg__uop *u);
TG__PRIVATE void tg__uop_bounds(tg__uop *u, int64_t *lo, int64_t *hi); /* conservative integer bounds */
TG__PRIVATE char *tg__uop_print(tg__uop *u);                    /* a multi-line listing; malloc'd */
TG__PRIVATE void tg__uop_arg_str(tg__str *b, const tg__uop *u); /* the argument as tg__uop_print shows it */
TG__PRIVATE uint64_t tg__uop_arg_hash(const tg__uop *u);        /* equal arguments, equal hashes (hash-consing's) */
TG__PRIVATE void tg__uop_toposort(tg__uop *root, tg__vec *out); /* sources before users */
/* whether u's graph reads a BUFFER (constants do not); memo (u -> 1 or 2) may be NULL */
TG__PRIVATE int tg__uop_reads_buffer(tg__uop *u, struct tg__map *memo);
TG__PRIVATE int tg__uop_reaches(const tg__uop *from, const tg__uop *to); /* to is from or below it */
TG__PRIVATE int64_t tg__uop_count(void);
/* The roots of the graph: the nodes that live tensors hold. uop.c sits below tensor.c and must not call it, so
 * tensor.c registers a function that calls visit(ctx, u) for each of them (tinygrad's all_tensors); the collector
 * and the scheduler ask through tg__uop_roots. */
typedef void (*tg__root_visit)(void *ctx, tg__uop *u);
TG__PRIVATE void tg__set_root_enumerator(void (*each)(tg__root_visit visit, void *ctx));
TG__PRIVATE void tg__uop_roots(tg__root_visit visit, void *ctx); /* nothing until an enumerator is registered */
/* gc: roots are the nodes of tg__uop_roots plus the extra roots given */
TG__PRIVATE void tg__uop_gc(tg__uop **extra_roots, int n);
TG__PRIVATE void tg__uop_maybe_gc(void);

/* ---------------------------------------------------------------------------------------------------------------- */
/* buffer.c: buffers, their memory and versions (layer 2); the struct is tg__buffer above */

TG__PRIVATE tg__buffer *tg__buffer_new(struct tg__device *dev, tg_dtype dt, int64_t numel); /* one reference */
TG__PRIVATE tg__buffer *tg__buffer_retain(tg__buffer *b); /* another reference; returns b */
TG__PRIVATE void tg__buffer_release(tg__buffer *b);       /* the last one frees it and gives its memory back */
TG__PRIVATE int tg__buffer_ensure(tg__buffer *b);   /* allocates device memory if needed (cached); 0 or -1 */
/* a view of base's bytes [offset, offset + numel * size of dt) as numel elements of dt (of base's base, if base is a
 * view itself); NULL when the device cannot address into an allocation there (no dev->offset, or it refuses the
 * offset), or on an error */
TG__PRIVATE tg__buffer *tg__buffer_view_new(tg__buffer *base, size_t offset, tg_dtype dt, int64_t numel);
/* b is about to be written in place: if it is a view, it gets memory of its own holding its contents, and so does
 * every live view of it. 0, or -1 with an error (out of memory, a failed copy), b and its views as they were */
TG__PRIVATE int tg__buffer_unshare(tg__buffer *b);
TG__PRIVATE void tg__buffer_drop_memory(tg__buffer *b); /* returns its memory to the allocation cache */
TG__PRIVATE int tg__buffer_copyin(tg__buffer *b, const void *src);
TG__PRIVATE int tg__buffer_copyout(tg__buffer *b, void *dst);
/* device memory on its own, for a memory plan (device.c) to move from one buffer to another */
typedef struct tg__memory { struct tg__device *dev; void *ptr; size_t nbytes; } tg__memory;
TG__PRIVATE tg__memory tg__buffer_take_memory(tg__buffer *b); /* b has no memory after */
TG__PRIVATE void tg__buffer_give_memory(tg__buffer *b, const tg__memory *m); /* of b's device and size */
TG__PRIVATE void tg__memory_give_back(const tg__memory *m);   /* to the allocation cache */
TG__PRIVATE int64_t tg__buffer_new_id_peek(void); /* the id the next buffer will get */
TG__PRIVATE int64_t tg__stat_alloc_bytes(int64_t add); /* bytes of buffer memory handed out, ever */
TG__PRIVATE tg__uop *tg__buffer_uop_of(tg__buffer *b); /* BUFFER node of b at its current version */
TG__PRIVATE tg__uop *tg__view_buffer(tg__uop *u);       /* the BUFFER under a chain of reshapes, or NULL */
TG__PRIVATE tg__uop *tg__movement_buffer(tg__uop *u);   /* the BUFFER under a chain of movement ops, or NULL */
/* view's chain of movement ops rebuilt on base instead of what lies under it (an assignment into a view writes the
 * buffer's next version through the same view) */
TG__PRIVATE tg__uop *tg__rebase_view(tg__uop *view, tg__uop *base);
TG__PRIVATE void tg__buffer_advance(tg__buffer *b, int contents_changed); /* to the next version */
/* an assignment into a buffer, scheduled but not yet run: undone (tg__buffer_undo_assign) if it never runs */
typedef struct tg__buffer_undo { tg__buffer *buf; int64_t version, written; } tg__buffer_undo;
TG__PRIVATE void tg__buffer_assign(tg__buffer *b, tg__buffer_undo *undo);
TG__PRIVATE void tg__buffer_undo_assign(tg__buffer_undo *undo);
TG__PRIVATE int tg__buffer_check_read(const tg__uop *u); /* a BUFFER node is not stale; else -1 with an error */
/* the device's variable table (created on first use, kept for the program's life; NULL with an error), and writing
 * values into it: vals[slot] for each slot with vals[slot] >= 0, or with vals NULL every bound variable's current
 * value (a JIT replay). Written only when something changed. 0 or -1 */
TG__PRIVATE tg__buffer *tg__var_table(struct tg__device *dev);
TG__PRIVATE int tg__var_table_write(tg__buffer *table, const int64_t *vals);
TG__PRIVATE int tg__is_var_table(const tg__buffer *b);

/* ---------------------------------------------------------------------------------------------------------------- */
/* pattern.c: the pattern matcher. A rule is a pattern string and a function; TG__RULE records where it was written.
 *
 * Pattern syntax (a small s-expression language, parsed once into an op-indexed matcher):
 *   x                  any node, bound to the name x (the same name twice must be the same node)
 *   _                  any node, not bound
 *   (OP a b)           a node of op OP whose sources match a, b in order (exactly that many sources)
 *   (OP|OP2 a b)       either op
 *   (GROUP a b)        any op of a group of the op table (tinygrad's GroupOp): ALU UNARY BINARY TERNARY ELEMENTWISE
 *                      MOVEMENT COMMUTATIVE CMP; combines with names: (UNARY|CAST x)
 *   (OP [a b])         the two sources in either order (commutative)
 *   (OP a ...)         a first source matching a, then any further sources
 *   (OP)               any node of op OP, whatever its sources
 *   (OP:x a)           binds the node itself to x;  CONST:c binds a constant; (CONST 0) or (CONST 1.5) a value
 *   c=CONST            shorthand for (CONST:c)
 *   :int :float :bool after the op name filter the dtype: (ADD:int x y), (CONST:c:int)
 */

#define TG__MAX_BIND 8
typedef struct tg__bindings {
  int n;
  const char *names[TG__MAX_BIND];
  tg__uop *vals[TG__MAX_BIND];
} tg__bindings;
TG__PRIVATE tg__uop *tg__bind(const tg__bindings *b, const char *name); /* the node bound to name */

typedef tg__uop *(*tg__rewrite_fn)(void *ctx, tg__uop *root, const tg__bindings *b);
typedef struct tg__rule {
  const char *pattern;
  tg__rewrite_fn fn;
  const char *where; /* file:line */
} tg__rule;
#define TG__STR2(x) #x
#define TG__STR(x) TG__STR2(x)
#define TG__RULE(pat, fn) { pat, fn, __FILE__ ":" TG__STR(__LINE__) }

typedef struct tg__matcher tg__matcher; /* compiled rules, indexed by op */
/* compiles once, cached by address; name is the table's (VIZ shows it) */
TG__PRIVATE tg__matcher *tg__matcher_get(const tg__rule *rules, int n, const char *name);
#define TG__MATCHER(rules) tg__matcher_get(rules, TG__COUNT(rules), #rules)
TG__PRIVATE int tg__pattern_check(const char *pattern, char *err, size_t errn); /* 0 if it parses */
/* rewrites bottom-up to a fixed point; memoised within the call. Returns the new root. */
TG__PRIVATE tg__uop *tg__graph_rewrite(tg__uop *root, tg__matcher *m, void *ctx);
TG__PRIVATE tg__uop *tg__graph_rewrite2(tg__uop *root, tg__matcher *m, tg__matcher *m2, void *ctx);
/* as graph_rewrite2, but nodes for which opaque() is true are left alone and their sources are not visited */
TG__PRIVATE tg__uop *tg__graph_rewrite_ex(tg__uop *root, tg__matcher *m, tg__matcher *m2, void *ctx,
                                          int (*opaque)(const tg__uop *u));
/* The registry of rule tables (pattern.c), so that a test can parse every rule of the library and the match statistics
 * can name them. Every static table of TG__RULEs registers itself with one line written just after it, at file scope:
 *
 *   static const tg__rule tg__kernelize_rules[] = { TG__RULE(...), ... };
 *   TG__RULES_REGISTER(tg__kernelize_rules)        (no semicolon: the line is a function definition)
 *
 * The macro defines a constructor (GCC/clang, C and C++) that appends the table's name, address and length to a fixed
 * array in pattern.c before main runs (or when a shared library holding the separate build is loaded): no allocation,
 * no lock, and pattern.c (layer 2) needs no call into the files that own the tables. internal_compiler.c fails when a
 * `static const tg__rule` table of tinygrad.h has not registered. Tables of the tests need not register. */
typedef struct tg__rule_table { const char *name; const tg__rule *rules; int n; } tg__rule_table;
TG__PRIVATE void tg__rules_register(const char *name, const tg__rule *rules, int n); /* called by TG__RULES_REGISTER */
TG__PRIVATE int tg__rule_tables(const tg__rule_table **out);                       /* every registered table */
#define TG__RULES_REGISTER(table) \
  __attribute__((constructor)) static void tg__register_##table(void) { \
    tg__rules_register(#table, table, TG__COUNT(table)); \
  }

/* tinygrad's bottom_up=True: the rules of pre are tried on a node before its sources are visited, and a node they
 * replace is not entered (its replacement is rewritten in turn); then the rules of m (may be NULL) as graph_rewrite */
TG__PRIVATE tg__uop *tg__graph_rewrite_pre(tg__uop *root, tg__matcher *pre, tg__matcher *m, void *ctx);
/* the first rule of m that matches u and returns a node (for rule tables used outside graph_rewrite) */
TG__PRIVATE tg__uop *tg__match_rules(tg__matcher *m, tg__uop *u, void *ctx);
/* match statistics (TRACK_MATCH_STATS=1 or DEBUG>=5; printed at exit): enable returns the previous state (for the
 * tests); stats_of gives a rule's counts, -1 when its table was never compiled */
TG__PRIVATE int tg__match_stats_enable(int on);
TG__PRIVATE void tg__match_stats_reset(void);
TG__PRIVATE int tg__match_stats_of(const tg__rule *rule, uint64_t *tried, uint64_t *matched);
/* shared trivial bodies */
TG__PRIVATE tg__uop *tg__rw_x(void *ctx, tg__uop *root, const tg__bindings *b);  /* returns the node bound to x */

/* symbolic.c: constant folding and algebraic / index simplification */
TG__PRIVATE tg__matcher *tg__symbolic(void);
TG__PRIVATE tg__uop *tg__simplify(tg__uop *u);

/* ---------------------------------------------------------------------------------------------------------------- */
/* shape.c: shapes and the tensor graph's builders (layer 2) */

TG__PRIVATE int tg__axis(const char *fn, int axis, int ndim);  /* normalised axis, or -1 with an error */
/* the bit mask of naxes axes (negative ones count from the end); -1 with an error naming fn when naxes < 0, the list
 * is NULL, an axis is out of range or appears twice */
TG__PRIVATE int tg__axes_to_mask(const char *fn, int ndim, int naxes, const int *axes, int64_t *mask);
TG__PRIVATE int64_t tg__prod(const int64_t *s, int n);
/* Symbolic sizes (tinygrad's Variables). A variable is a named integer with bounds, registered once in a slot of
 * the registry below; a size or a bound that depends on one is var + offset, stored in the int64 of a shape (or of a
 * SHRINK's bounds) as a negative number: -(1 + slot + TG__MAX_VARS * (offset + TG__SYM_BIAS)). Concrete sizes are
 * >= 0, so a symbolic one never equals a concrete one, and equal symbolic sizes are equal numbers. In the tensor
 * graph a variable is DEFINE_VAR (arg.i its slot, ints {min, max}); BIND(DEFINE_VAR, CONST value) is the variable
 * bound to a value, which the nodes that use it hold as sources (so that graphs bound to different values differ).
 * The schedule strips the BINDs and collects their values; kernels read a variable from the device's variable table
 * (tg__var_table), an int32 buffer of TG__MAX_VARS slots written before they run, so one compiled kernel serves
 * every value. */
#define TG__MAX_VARS 256
#define TG__SYM_BIAS ((int64_t)1 << 30)
struct tg_variable { char name[32]; int64_t min, max, value; int bound, slot; }; /* api.h's tg_variable */
typedef struct tg_variable tg__var_info;
TG__PRIVATE int tg__is_sym(int64_t d);                       /* d < 0 */
TG__PRIVATE int64_t tg__sym_make(int slot, int64_t offset);      /* var + offset */
TG__PRIVATE int tg__sym_slot(int64_t d);
TG__PRIVATE int64_t tg__sym_offset(int64_t d);
TG__PRIVATE int64_t tg__sym_max(int64_t d);  /* the largest value d takes (d itself when concrete) */
TG__PRIVATE int64_t tg__sym_min(int64_t d);
/* a - b: concrete, or symbolic when a is var + c and b concrete; -1 with *ok = 0 otherwise (two different variables,
 * or a variable subtracted) */
TG__PRIVATE int64_t tg__sym_sub(int64_t a, int64_t b, int *ok);
TG__PRIVATE tg__var_info *tg__var_slot(int slot);           /* the registry's entry (slots 0..TG__MAX_VARS-1) */
TG__PRIVATE int tg__var_register(const char *fn, const char *name, int64_t min, int64_t max); /* slot or -1 */
TG__PRIVATE tg__uop *tg__var_node(int slot);                  /* DEFINE_VAR of the slot (tensor graph, ndim 0) */
TG__PRIVATE tg__uop *tg__var_bind_node(int slot, int64_t v);  /* BIND(DEFINE_VAR, CONST v) */
TG__PRIVATE int tg__shape_has_sym(int ndim, const int64_t *shape);
TG__PRIVATE int64_t tg__numel_max(int ndim, const int64_t *shape); /* the elements at every variable's maximum */
/* The most elements a tensor may have: numel times the largest element size (8 bytes) fits in int64 and in size_t.
 * A valid shape has sizes >= 0 whose product, zeros counted as ones (tg__shape_span), is at most TG__MAX_NUMEL: then
 * every sub-product, sum of two sizes and reduction result the library forms from it fits as well. */
#define TG__MAX_NUMEL \
  ((int64_t)(((uint64_t)SIZE_MAX < (uint64_t)INT64_MAX ? (uint64_t)SIZE_MAX : (uint64_t)INT64_MAX) / 8))
TG__PRIVATE int64_t tg__size_mul(int64_t a, int64_t b);  /* sizes >= 0; -1 past TG__MAX_NUMEL */
TG__PRIVATE int64_t tg__size_add(int64_t a, int64_t b);  /* sizes >= 0; -1 past TG__MAX_NUMEL */
TG__PRIVATE int64_t tg__shape_span(int ndim, const int64_t *shape); /* product, zeros as ones; -1 past the limit */
/* the shape is valid (ndim, sizes >= 0, its span fits); else -1 with an error naming fn and the shape */
TG__PRIVATE int tg__check_shape(const char *fn, int ndim, const int64_t *shape);
TG__PRIVATE int tg__check_span(const char *fn, int ndim, const int64_t *shape); /* only the span (sizes >= 0) */
TG__PRIVATE int tg__check_dtype(const char *fn, tg_dtype dt);
TG__PRIVATE const char *tg__shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
#define TG__SHAPE(u, buf) tg__shape_str((u)->ndim, (u)->shape, buf, sizeof buf)
/* the tensor graph's builders: nodes in, node out (NULL in, NULL out) */
TG__PRIVATE tg__uop *tg__treshape(tg__uop *x, int ndim, const int64_t *shape);
TG__PRIVATE tg__uop *tg__texpand(tg__uop *x, const int64_t *shape);
TG__PRIVATE tg__uop *tg__tpermute(tg__uop *x, const int *perm);
TG__PRIVATE tg__uop *tg__tpad(tg__uop *x, const int64_t *pads);
TG__PRIVATE tg__uop *tg__tshrink(tg__uop *x, const int64_t *bounds);
TG__PRIVATE tg__uop *tg__tflip(tg__uop *x, int64_t mask);
TG__PRIVATE tg__uop *tg__tfull(double v, tg_dtype dt, int ndim, const int64_t *shape);
TG__PRIVATE tg__uop *tg__tfull_like(tg__uop *x, double v, tg_dtype dt);
TG__PRIVATE tg__uop *tg__tcast(tg__uop *x, tg_dtype dt);
TG__PRIVATE tg__uop *tg__treduce(tg__uop *x, tg__op op, int64_t mask);
/* a reduction of x to fewer than max_out outputs, 32768 inputs or more each, as two (tinygrad's split_reduceop);
 * NULL when it is not split. Its stages are marked (arg.f = 1) and not split again */
TG__PRIVATE tg__uop *tg__split_reduce(tg__uop *x, tg__op op, int64_t mask, int64_t max_out);
TG__PRIVATE tg__uop *tg__tarange(int64_t n, double start, double step, tg_dtype dt);
TG__PRIVATE int tg__check_arange(const char *fn, int64_t n); /* n <= INT32_MAX (ARANGE is int32); else -1 */
TG__PRIVATE void tg__slice_bounds(int64_t n, int64_t *start, int64_t *stop, int64_t step); /* python's rules */
TG__PRIVATE tg__uop *tg__tslice(tg__uop *x, int axis, int64_t start, int64_t stop, int64_t step);
TG__PRIVATE int tg__broadcast(const char *fn, tg__uop **a, tg__uop **b);
TG__PRIVATE tg__uop *tg__talu(tg__op op, tg__uop *a, tg__uop *b);
TG__PRIVATE tg__uop *tg__talu1(tg__op op, tg__uop *a);
TG__PRIVATE tg__uop *tg__twhere(tg__uop *c, tg__uop *a, tg__uop *b);
TG__PRIVATE tg__uop *tg__base(tg__uop *u);      /* follows `becomes` links */

/* ---------------------------------------------------------------------------------------------------------------- */
/* tensor.c, ops.c, nn.c (layer 5) */

struct tg_tensor {
  tg__uop *uop;           /* the lazy graph (or a BUFFER once realised) */
  struct tg__device *dev;
  int requires_grad;
  tg_tensor *grad;
  struct tg_tensor *prev, *next; /* the list of live tensors (gc roots) */
  int scope;                     /* depth of the scope that owns it; 0 = the user */
  struct tg__scopes *scopes;     /* the scopes (of the thread that made it) that own it; NULL: the user */
  int internal;                  /* the library's own (not counted by tg_live_tensors) */
  int64_t shape_copy[TG_MAX_DIMS];
};
TG__PRIVATE tg_tensor *tg__tensor_wrap(tg__uop *u, struct tg__device *dev); /* NULL u gives NULL */
TG__PRIVATE void tg__tensor_internal(tg_tensor *t); /* marks a tensor of the library's own */
TG__PRIVATE tg_tensor *tg__null(const char *fn);  /* an operand is NULL: keeps the first error, returns NULL */
#define TG__NEED(fn, x)            \
  do {                             \
    if (!(x)) return tg__null(fn); \
  } while (0)
TG__PRIVATE struct tg__device *tg__default_device(const char *fn); /* DEV or the CPU; NULL + error naming fn */
/* ops.c: composites shared with nn.c */
TG__PRIVATE tg__uop *tg__tsum(tg__uop *x, int64_t mask);   /* tinygrad's accumulation dtypes */
TG__PRIVATE tg__uop *tg__tmax(tg__uop *x, int64_t mask);
TG__PRIVATE tg__uop *tg__tmean(tg__uop *x, int64_t mask);
TG__PRIVATE tg__uop *tg__tmatmul(const char *fn, tg__uop *x, tg__uop *w, struct tg__device *dev);
/* windows of k (stride s, dilation d) over the last nk axes: (..., i...) -> (..., o..., k...), movement ops only */
TG__PRIVATE tg__uop *tg__tpool(tg__uop *x, int nk, const int64_t *k, const int64_t *s, const int64_t *d);
/* whether tg__tpool's nodes for that input shape fit TG__MAX_NUMEL; -1 with an error naming fn otherwise */
TG__PRIVATE int tg__pool_fits(const char *fn, int nd, const int64_t *shape, int nk, const int64_t *k, const int64_t *s,
                              const int64_t *d);
/* a convolution over nk axes of x (bs, cin, I...) padded by lo/hi with w (cout, cin/g, K...) has non-empty kernels
 * that fit, and nodes that fit TG__MAX_NUMEL; -1 with an error naming fn otherwise */
TG__PRIVATE int tg__conv_fits(const char *fn, int nk, const int64_t *xs, const int64_t *ws, const int64_t *st,
                              const int64_t *lo, const int64_t *hi, const int64_t *dl);
/* pads (positive) or crops (negative) the last nk axes: lo[j] at axis j's start, hi[j] at its end */
TG__PRIVATE tg__uop *tg__tpad_ends(tg__uop *x, int nk, const int64_t *lo, const int64_t *hi);
/* the convolution behind tg_conv, tg_conv2d, tg_conv1d and tg_conv_transpose: checks, value, derivative */
TG__PRIVATE tg_tensor *tg__conv(const char *fn, tg_tensor *input, tg_tensor *weight, tg_tensor *bias, int nk,
                                const int64_t *st, const int64_t *dl, const int64_t *lo, const int64_t *hi,
                                int64_t groups);
/* tinygrad's forms of per-axis options: n = 0 (def), 1 (every axis) or nk values; padding also 2 nk (last axis
 * first, (left, right, top, bottom...)). -1 with an error naming fn otherwise */
TG__PRIVATE int tg__axes_option(const char *fn, const char *what, int n, const int64_t *v, int nk, int64_t def,
                                int64_t *out);
TG__PRIVATE int tg__pads_option(const char *fn, int n, const int64_t *v, int nk, int64_t *lo, int64_t *hi);
TG__PRIVATE tg_tensor *tg__tensor_list(void);  /* head of the live list */
/* gives t a buffer of its own holding its value (t's uop becomes a view of it); 0 or -1 */
TG__PRIVATE int tg__own_buffer(const char *fn, tg_tensor *t); /* t gets a buffer no other tensor shares */

/* CUSTOM_GRAD(value, inputs...): a composite whose value is src[0] and whose derivative is given by a function
 * instead of being derived through src[0] (conv2d: its backward is two convolutions, far faster than the derivative
 * of its window trick). arg.ptr points to a tg__custom; arg.ints hold its parameters. Scheduling sees only src[0]. */
typedef struct tg__custom {
  const char *name;
  /* the SINK of gradients of root's sources (NOOP for src[0]) given the gradient g flowing into root */
  tg__uop *(*grad)(tg__uop *root, tg__uop *g);
} tg__custom;

/* gradient.c: derivative rules; grads[i] = d(sum of out * seed)/d(wrt[i]) as tensor-graph nodes (zeros if none) */
TG__PRIVATE int tg__gradients(tg__uop *out, tg__uop *seed, tg__uop **wrt, int n, tg__uop **grads);
/* marks in on_path the nodes of order (sources first) that depend on a wanted node through differentiable ops */
TG__PRIVATE void tg__grad_path(const tg__vec *order, tg__map *wanted, tg__map *on_path);
/* autograd.c and tensor.c */
TG__PRIVATE int tg__grad_enabled(void);
TG__PRIVATE tg__buffer *tg__tensor_buffer(tg_tensor *t); /* a realised tensor's buffer, or NULL */
/* b moves to its next version outside a schedule: its contents changed (a host write, a JIT replay), or only its
 * identity must change (a JIT capture's inputs) */
TG__PRIVATE void tg__buffer_bump(tg__buffer *b, int contents_changed);
TG__PRIVATE void tg__buffers_bump(tg__buffer *const *bs, int n, int contents_changed); /* each distinct one, once */
TG__PRIVATE int tg__tensor_overwrite(const char *fn, tg_tensor *t, const void *src); /* host bytes into realised t */

/* ---------------------------------------------------------------------------------------------------------------- */
/* schedule.c (layer 3): split the lazy graph into kernels at realisation points; plans only, runs nothing */

typedef struct tg__kernel {
  tg__uop *ast;           /* SINK(STORE(...)...) with DEFINE_GLOBALs numbered 0..nbufs-1 */
  tg__buffer **bufs;      /* bufs[i] is DEFINE_GLOBAL i; outputs first */
  int nbufs, nout;
  int keep;               /* the output is a root the caller keeps (otherwise its memory is recycled after use) */
  struct tg__uop *node;   /* a CONTIGUOUS this kernel realises (else NULL) and the view of its buffer: once run, */
  struct tg__uop *view;   /* the node keeps it (tg__sched_settle) */
  char *name;
  struct tg__program *prog;  /* filled by tg__kernel_prepare (realize.c) */
  char *src;
  char *opts;                /* the optimisations its source was made with, as text (tg__opts_str) */
  /* an in-place assignment moves its buffer to the next version when it is scheduled; until the kernel has run,
   * that can be undone (buf NULL: no assignment) */
  tg__buffer_undo undo;
  tg__buffer *vars;          /* the variable table it reads (symbolic shapes), its last parameter; NULL: none */
} tg__kernel;

typedef struct tg__sched {
  tg__kernel *k;
  int n, cap;
  int nran;  /* kernels that have run (k[0..nran)) */
  int64_t *var_vals; /* TG__MAX_VARS values of the variables its graph bound (-1: not bound), or NULL: none */
  double t_schedule; /* seconds its scheduling took (DEBUG=1's line; set by the caller of tg__schedule) */
} tg__sched;

/* what only the runtime knows, which realize.c passes in */
typedef struct tg__sched_opts {
  int capturing;                          /* a JIT records this schedule (intermediates realised before are recomputed,
                                             and a CONTIGUOUS keeps no buffer of its own) */
  struct tg__device *(*default_device)(void); /* the device of a graph that reads no buffer; NULL + error if none */
  /* the device of the roots' tensors (NULL: not one): a value realised before on another device (a graph of
   * constants is one node on every device) is computed again here rather than read from there */
  struct tg__device *device;
} tg__sched_opts;
/* one kernel per realisation point of the graph below roots, ordered; realized_out[i] is the view of roots[i]'s
 * buffer once it runs. 0, or -1 with an error and nothing scheduled (every assignment undone) */
TG__PRIVATE int tg__kernelize(tg__uop **roots, int nroots, const tg__sched_opts *opts, tg__sched *out,
                              tg__uop **realized_out);
/* the BUFFER a kernel's AST stores into (its STORE's target is the BUFFER or a view of it: an assignment into a
 * view) */
TG__PRIVATE tg__uop *tg__store_buffer(tg__uop *ast);
TG__PRIVATE void tg__sched_undo(tg__sched *s); /* the assignments of kernels that have not run are undone */
/* state.c: whether this host stores integers little-endian (the files' byte order) */
TG__PRIVATE int tg__host_little_endian(void);
/* state.c: a regular file mapped read-only for the loader fn (its bytes and size; an empty file is "" of size 0), or
 * NULL with an error; and its unmapping */
TG__PRIVATE const unsigned char *tg__map_file(const char *fn, const char *path, uint64_t *size);
TG__PRIVATE void tg__unmap_file(const unsigned char *m, uint64_t size);
/* state.c: appends (name, t) to sd, t owned (freed with the dict) or borrowed; 0, or -1 with an error naming fn */
TG__PRIVATE int tg__sd_append(const char *fn, tg_state_dict *sd, const char *name, tg_tensor *t, int owned);
TG__PRIVATE void tg__sched_free(tg__sched *s);

/* ---------------------------------------------------------------------------------------------------------------- */
/* codegen.c and linearize.c: from a kernel AST to an ordered list of UOps */

/* What codegen and the optimiser know of the machine a kernel is for (a device describes itself: tg__device's
 * describe). The heuristic sizes register tiles from the vector registers; tinygrad's Renderer properties. */
typedef struct tg__target {
  int gpu;        /* one thread per output element (no CPU loops; the dialect's global_id) */
  int vec_floats; /* float32 lanes of a vector register: 4 (SSE, NEON), 8 (AVX2), 16 (AVX-512) */
  int vec_regs;   /* vector registers: 16 (x86-64 up to AVX2), 32 (AVX-512, NEON) */
  int cores;      /* threads a kernel's outermost loop is split across */
  int64_t l2_bytes; /* one core's level-2 cache (the blocking of a matmul keeps a block of columns there) */
  int64_t l3_bytes; /* one core's share of the last-level cache, 0 if unknown (...and a block of rows there) */
  int local_max;    /* a GPU's threads per workgroup (LOCAL, GROUP); 0: no workgroups (the CPU, or the dialect's) */
  int64_t shared_bytes; /* a workgroup's shared memory (GROUP's partial results) */
  int units;        /* a GPU's compute units (SMs): how many workgroups keep it busy */
  int tensor_cores; /* the device runs the warp-level tensor-core multiplies of tg__tensor_cores (CUDA sm_80 on) */
  int wgmma;        /* ...and the warpgroup-level ones from shared memory (WGMMA: Hopper, CUDA sm_90a) */
} tg__target;

/* A tensor core's multiply-accumulate D = A * B + C by the 32 threads of a warp (PTX's mma.sync.m16n8k16): A is M x K,
 * B K x N, C and D M x N. Each thread holds some elements of each, by its lane's group g = lane / 4 (0..7) and
 * thread in the group t = lane % 4 (0..3): A's element j is at row g + a_row[j], column 2t + a_k[j]; B's element j at
 * row 2t + b_k[j], column g; C's and D's element j at row g + 8 * (j / 2), column 2t + j % 2 (tinygrad's tc.py has
 * the same shapes as swizzles). Products are exact and summed in float32. */
typedef struct tg__tensor_core {
  const char *name;
  int m, n, k;
  tg_dtype in, acc;
  signed char a_row[8], a_k[8], b_k[4];
} tg__tensor_core;
#define TG__NTENSOR_CORES 2
#define TG__NTC_CONFIGS 34 /* TC's configurations with shared memory (its amounts 1..34, optimize.c) */
#define TG__NSTAGE_CONFIGS 9 /* STAGE's configurations (its amounts 1..9, optimize.c) */
#define TG__NWGMMA_CONFIGS 9 /* TC's configurations of warpgroups (its amounts TG__NTC_CONFIGS + 1.., optimize.c) */
#ifndef TG__AMALGAMATED
extern const tg__tensor_core tg__tensor_cores[TG__NTENSOR_CORES];
#endif

/* optimize.c: the Opt vocabulary (tinygrad's OptOps). A kernel's optimisations are a list of (op, axis, amount).
 * Axes: UPCAST, SWAP, LOCAL, THREAD and PADTO name an output axis (0 = the outermost output loop of the lowered
 * kernel, size-1 axes have no loop); UNROLL, GROUP, GROUPTOP, TC and STAGE a reduction axis (0 = the outermost
 * reduction loop). An amount of 0 means the whole axis; SWAP's amount is the other output axis; TC's and STAGE's
 * pick a configuration. STAGE is ours (tinygrad has no shared-memory staging of a SIMT matmul). */
typedef enum tg__optop {
  TG__OPT_UPCAST, TG__OPT_UNROLL, TG__OPT_LOCAL, TG__OPT_GROUP, TG__OPT_GROUPTOP, TG__OPT_THREAD, TG__OPT_PADTO,
  TG__OPT_NOLOCALS, TG__OPT_SWAP, TG__OPT_TC, TG__OPT_STAGE, TG__NOPTOPS
} tg__optop;
typedef struct tg__opt { tg__optop op; int axis; int64_t amount; } tg__opt;
#define TG__MAX_OPTS 16
#ifndef TG__AMALGAMATED
extern const char *const tg__optop_names[TG__NOPTOPS];
#endif
#define TG__NAME_ROLES 72 /* the most numbers of a kernel's name that get a role letter, and a 0 */
typedef struct tg__linear {
  tg__uop **u;
  intptr_t *aux;        /* per entry: for a REDUCE, the index of its DEFINE_ACC */
  int n;
  tg__uop *parallel;    /* the RANGE split across threads (NULL: none) */
  int64_t global_size;  /* iterations of the parallel (outermost) loop */
  int64_t global_total; /* iterations of all output loops together (a GPU launches this many threads) */
  int nglobals;         /* the output loops, outermost first */
  tg__uop *globals[TG_MAX_DIMS];
  int64_t local_size;   /* threads per workgroup: the product of the thread ranges (0: none, the device chooses) */
  int nlocals;          /* the thread ranges (LOCAL, GROUP), slowest digit of the thread's index first */
  tg__uop *locals[TG_MAX_DIMS];
  double flops;         /* estimated */
  double bytes;         /* the kernel's buffers, each once */
  double lds;           /* its loads and stores of global memory, each time one runs (a re-read counts again) */
  char roles[TG__NAME_ROLES]; /* a letter per number of the name: its loop's role (codegen.c's tg__kernel_name) */
  int64_t shared_bytes; /* the kernel's shared arrays (DEFINE_LOCAL), each rounded up to 16 bytes */
  tg__opt opts[TG__MAX_OPTS]; /* the optimisations applied (optimize.c) */
  int nopts;
  char *name;           /* the kernel's name with these optimisations (tinygrad's: loops by role) */
  int vec_width;        /* lanes of 32 bits in the CPU's vector registers for explicit vectors (4, 8, 16); 0: none */
} tg__linear;
/* lowers, optimises (for a GPU: one thread per output element, else CPU loops) and linearises kernel k: with the list
 * use[0..nuse) or, when nuse < 0, the heuristic's (or the tests' override). Free out with tg__linear_free */
TG__PRIVATE int tg__codegen(tg__kernel *k, const tg__target *t, const tg__opt *use, int nuse, tg__linear *out);
TG__PRIVATE void tg__linear_free(tg__linear *lin);
TG__PRIVATE int tg__linearize(tg__uop *sink, int nglobal, tg__linear *out);
TG__PRIVATE int64_t tg__shared_vectors(const tg__uop *u); /* a shared array's 16-byte vectors, rounded up */
/* the heuristic's list for a lowered kernel (sink, with nglobal output loops); NOOPT=1 gives the empty list */
TG__PRIVATE int tg__heuristic_opts(tg__uop *sink, int nglobal, const tg__target *t, tg__opt *out); /* count */
/* applies the list in order; NULL, with an error naming the opt and why, for an illegal one (nothing is half-done:
 * the input sink stays valid) */
TG__PRIVATE tg__uop *tg__apply_opts(tg__uop *sink, int nglobal, const tg__target *t, const tg__opt *opts, int n);
TG__PRIVATE char *tg__opts_str(const tg__opt *opts, int n); /* "UPCAST(0,8) UNROLL(0,4)"; malloc'd */
/* a list to use instead of the heuristic's for every kernel (the tests, and later BEAM); n < 0 clears it */
TG__PRIVATE void tg__set_opts_override(const tg__opt *opts, int n);
TG__PRIVATE int tg__vec_lanes(const tg__target *t); /* explicit vectors' lanes (optimize.c) */
TG__PRIVATE int tg__opts_overridden(void); /* a list is set: BEAM does not search */
/* the kernel's optimisations: the override, or the heuristic's list, applied; *applied gets the list (its string
 * through tg__opts_str). NULL with an error when the list is illegal. */
TG__PRIVATE tg__uop *tg__optimize(tg__uop *sink, int nglobal, const tg__target *t, tg__opt *applied,
                                  int *napplied);
TG__PRIVATE tg__uop *tg__collapse_reduces(tg__uop *sink);      /* optimize.c: one-hot sums become loads */
/* optimize.c: the thread ranges of a kernel (LOCAL, GROUP), by id: the slowest digit of the thread's index first */
TG__PRIVATE int tg__thread_ranges(tg__uop *sink, tg__uop **out);
/* optimize.c: GROUP's reductions through shared memory, after the Opts; NULL with *why when it cannot be */
TG__PRIVATE tg__uop *tg__lower_groups(tg__uop *sink, int nglobal, const tg__target *t, const char **why);
TG__PRIVATE tg__uop *tg__merge_loops(tg__uop *sink, int nglobal); /* optimize.c: loops walked as one */

/* ---------------------------------------------------------------------------------------------------------------- */
/* render.c: a C-style renderer parameterised by a dialect. The dialects live with their devices: C in runtime_cpu.c,
 * CUDA and OpenCL in backends/tinygrad_cuda.h and tinygrad_opencl.h (compiled only when included). */

/* A special form: an op whose spelling depends on dtypes (render.c's table, and a dialect's own, tried first). A
 * format takes tg__fmt_op's %s %1..%3 %f %%, and %t (the value's C type), %m (its type in memory), %u (the source's
 * type in memory), %b (the dialect's bitcast format, which takes %m %u %s). */
enum { TG__FORM_ANY = -1, TG__FORM_FLOAT = -2, TG__FORM_INT = -3 }; /* dtype filters of a form, besides one dtype */
typedef struct tg__form {
  tg__op op;
  int dtype, src; /* filters of the value's dtype and of its first source's */
  const char *fmt;
} tg__form;

typedef struct tg__dialect {
  const char *name;
  const char *prelude;        /* emitted once at the top of a program; defines TG_FN (helper functions' prefix) and
                                 tg_f2u / tg_u2f (a float's bits and back), which the half prelude uses */
  const char *kernel_prefix;  /* before the return type */
  const char *buffer_prefix;  /* before a buffer parameter's type (OpenCL's __global) */
  const char *buffer_qualifier;
  const char *extra_params;   /* appended to the parameter list after the buffers (Metal's thread position); NULL */
  int has_entry_wrapper;      /* CPU: an entry point void NAME_entry(void **bufs, int64_t start, int64_t end) */
  /* GPU dialects: the expression of the thread's flat index. Then the kernel has no start/end parameters: the output
   * loops become one index over all of them, split by division (the launch covers global_total threads). NULL on the
   * CPU, where the output loops are loops and the first one is split across threads by start/end. */
  const char *global_id;
  int float_suffix;           /* math functions take an f for float (expf); OpenCL's are overloaded (exp) */
  const char *bitcast;        /* format of a bitcast: %m the target's type in memory, %u the source's, %s the operand */
  const char *int64_suffix, *uint64_suffix; /* of 64-bit integer constants */
  /* per dtype (TG_NDTYPES entries); a NULL table is all NULL */
  const char *const *types;   /* the C type of a value (NULL entries: tg__dtypes' cname) */
  const char *const *mem_types; /* the type of an element in memory (NULL entries: the value type) */
  const char *const *preludes;  /* helpers a kernel using the dtype needs, each distinct one emitted once */
  const char *const *load_fmt;  /* a loaded element (%s) as a value: "tg_h2f(%s)"; NULL entries: as it is */
  const char *const *store_fmt; /* a value (%s) as the element to store: "tg_f2h(%s)"; NULL entries: as it is */
  uint32_t unsupported;       /* bit 1 << dtype: dtypes it cannot render (rendering a kernel using one is an error) */
  /* emitted after the preludes when the kernel has a register tile (an UPCAST): the C dialect's tells GCC to vectorise
   * across the tile's copies only (SLP), never along the reduction loop, which it otherwise does with permutes when
   * the tile's loads are contiguous along it (a packed matmul: 16 FMAs per step become 256 plus shuffles). (Its
   * prelude, for every kernel, already turns reassociation off, which GCC 13 had used to mix a tile's accumulators
   * and products so that SLP found no two alike: a convolution's input gradient was all scalar.) NULL: none */
  const char *tile_prelude;
  /* a tile's stores that walk its buffer by no unit step (a convolution's tile along output channels, whose outputs
   * lie a plane apart) are staged: the tile is stored into a local array, contiguous, then copied out by a loop over
   * a table of offsets. GCC's SLP vectoriser starts only from groups of adjacent stores: without the staging the
   * tile's vectors along channels stay scalar. Its prelude defines TG_FENCE(p): a compiler barrier over the array p
   * (render.c stages a tile's accumulators behind it). 0: never (GPUs: each thread stores its own few values) */
  int stage_strided_stores;
  /* the dialect's own special forms, tried before render.c's (CUDA's integer max: see its backend); NULL: none */
  const tg__form *forms;
  int nforms;
  /* workgroups (LOCAL, GROUP): the expressions of the workgroup's flat index and of the thread's within it, the
   * qualifier of a shared array, the barrier statement. NULL group_id: the dialect has none */
  const char *group_id, *local_id, *shared_prefix, *barrier;
  /* vectors of 4 float32 (render.c groups four adjacent loads or stores): the load's format over its address (%s:
   * data1+index, a multiple of 4), giving a float4 whose lanes are .x .y .z .w; the store's statement over the
   * address (%1) and the four values (%2, comma-separated). NULL: no vectors */
  const char *vec4_load, *vec4_store;
  /* tensor cores (WMMA): per entry of tg__tensor_cores, the call's format over the thread's A elements packed two to
   * a 32-bit word (%1, comma-separated), B's (%2) and C's four floats (%3), giving a float4 of D's; and the helpers
   * they call, emitted into kernels that use one. NULL wmma: no tensor cores */
  const char *const *wmma;
  const char *wmma_prelude;
  /* two 16-bit elements adjacent in memory, at an even index, as one 32-bit word: the format over the address (%s) */
  const char *wmma_word;
  /* eight 16-bit elements at a multiple of 8 as one 16-byte vector (TC's staged tiles): its type (four 32-bit words
   * .x .y .z .w, the lower half of each the first), the load's format over the address (%s), the store's over the
   * address (%1) and the vector (%2) */
  const char *wmma_vec, *wmma_vec_load, *wmma_vec_store;
  /* LDMATRIX of 1, 2 or 4 matrices, plain and transposed ([count - 1][trans]): the statement's format over the name of
   * an array of 4 words it fills (%1) and the address of the thread's row (%2). NULL: none (TC reads 32-bit words) */
  const char *const *ldmatrix;
  /* a 16-byte copy from global to shared memory that does not wait (cp.async): its format over the shared address
   * (%1) and the global one (%2); and the statement that waits for every such copy (before a barrier). NULL: none */
  const char *async_copy, *async_wait;
  /* ...and the statement that closes the group of copies issued since the last one and waits for all groups but the
   * last %1 (a pipeline that many stages deep) */
  const char *async_wait_group;
  /* a declaration of one shared array of 16-byte vectors named %s, sized at launch: a kernel whose shared arrays
   * pass TG__STATIC_SHARED bytes (CUDA's limit for arrays sized in the source) has them as parts of it, and the
   * device launches it with that much (the device's target.shared_bytes may then be more). NULL: none */
  const char *dynamic_shared;
  /* warpgroup tensor cores (WGMMA), NULL wgmma: none. Per entry of tg__tensor_cores, the statement's format over n
   * (%1), the placeholders of the thread's n / 2 accumulators (%2, comma-separated) and of A's and B's descriptors
   * (%3, %4), A's and B's layouts (%5, %6), the accumulators as operands (%7) and the descriptors' values (%8, %9);
   * a placeholder's format over its operand number (wgmma_reg), an accumulator operand's over its name
   * (wgmma_acc), a descriptor's over the tile's address, its leading and its stride byte offsets (wgmma_desc); the
   * statements before a run of WGMMAs (wgmma_fence), after it (wgmma_commit: %1 the groups left in flight) and before
   * a barrier that shared memory stores reach the tensor cores through (proxy_fence); and the helpers they call */
  const char *const *wgmma;
  const char *wgmma_reg, *wgmma_acc, *wgmma_desc, *wgmma_fence, *wgmma_commit, *proxy_fence, *wgmma_prelude;
  /* explicit vectors of the machine's width (tg__linear.vec_width; GCC's and clang's vector extensions): the
   * accumulators of a register tile whose updates are alike lane by lane, over contiguous loads, become vectors
   * (render.c's tg__find_slp). 0: never (GPUs) */
  int vectors;
  /* a software prefetch of the byte address %s (render.c's tg__find_prefetch), or NULL: GPUs hide memory latency
   * with other threads */
  const char *prefetch;
  /* a user's table (tg_dialect_desc): printed after the prelude; NULL: none */
  const char *extra_prelude;
} tg__dialect;
#define TG__STATIC_SHARED 49152

/* a kernel parameter as the renderer sees it: parameter i is the buffer data<i>, DEFINE_GLOBAL i of the program */
typedef struct tg__kparam {
  tg_dtype dtype; /* of an element */
  int written;    /* the kernel stores into it (else its pointer is const) */
} tg__kparam;

#ifndef TG__AMALGAMATED
extern const tg__dialect tg__dialect_c;
/* shared by the dialects: the 16-bit float conversions, and per dtype the tables that use them */
extern const char tg__half_prelude[];
extern const char *const tg__half_preludes[TG_NDTYPES], *const tg__half_loads[TG_NDTYPES],
    *const tg__half_stores[TG_NDTYPES];
#endif
/* the source of kernel `name` with those parameters (nparams of them) for d; NULL with an error when it uses a dtype
 * d does not support */
TG__PRIVATE char *tg__render(const tg__dialect *d, const char *name, const tg__kparam *params, int nparams,
                             const tg__linear *lin);
/* codegen.c: k's parameters for tg__render (k->nbufs of them), numbering its buffers (k->bufs) first if codegen has
 * not; free with TG_FREE */
TG__PRIVATE tg__kparam *tg__kernel_params(tg__kernel *k);

/* ---------------------------------------------------------------------------------------------------------------- */
/* realize.c (layer 4): compile, plan memory, launch; the capture hook; schedules for inspection */

struct tg__program;
/* Whoever registers a capture hook (the JIT, while it captures) is told every launch: record(ctx, prog, bufs, nbufs)
 * after a kernel ran, then record_drop(ctx, b) for each intermediate that kernel read for the last time. */
typedef struct tg__capture_hook {
  void *ctx;
  void (*record)(void *ctx, struct tg__program *prog, tg__buffer **bufs, int nbufs);
  void (*record_drop)(void *ctx, tg__buffer *b);
} tg__capture_hook;
TG__PRIVATE void tg__set_capture_hook(const tg__capture_hook *h); /* NULL: nothing captures */
/* tg__kernelize with the runtime's state: whether a hook captures, and the default device */
TG__PRIVATE int tg__schedule(tg__uop **roots, int nroots, struct tg__device *dev, tg__sched *out,
                             tg__uop **realized_out);
/* after a run, failed or not: the nodes of kernels that ran keep their values (a realised CONTIGUOUS or assignment
 * becomes its buffer), and the assignments of kernels that did not run are undone, so every tensor is either as it
 * was or realised and a retry schedules only what is left */
TG__PRIVATE void tg__sched_settle(tg__sched *s);
TG__PRIVATE int tg__sched_ran(const tg__sched *s, const tg__uop *view); /* the kernel writing view's buffer ran */
/* compiles every kernel, then plans the memory of every launch, then launches: nothing runs unless every kernel
 * compiled and every buffer found memory. 0, or -1 with s->nran telling how many kernels ran (0 unless a launch
 * failed) */
TG__PRIVATE int tg__run_schedule(tg__sched *s);
TG__PRIVATE void tg__forget_sources(void); /* the source cache is dropped (tests; BEAM's restart) */
TG__PRIVATE int64_t tg__source_cache_hits(void); /* kernels whose source came from the source cache, for the tests */
/* Memory for a sequence of launches, fixed before any of them runs, so that a failure to allocate changes nothing:
 * launch i's buffers get memory in order, then its `drop` buffers (read for the last time) give theirs to later
 * launches of the plan, as running them one by one would. ptrs[i][j] is the memory of launches[i].bufs[j]. */
typedef struct tg__launch { tg__buffer **bufs; int nbufs; tg__buffer **drop; int ndrop; } tg__launch;
typedef struct tg__plan {
  void ***ptrs;                /* (n launches) of (nbufs) */
  tg__memory *pool;            /* memory of dropped buffers, in use by the plan's launches until tg__plan_end */
  int npool, cap;
} tg__plan;
TG__PRIVATE int tg__plan_memory(tg__plan *p, const tg__launch *ls, int n); /* 0, or -1 with nothing allocated */
TG__PRIVATE void tg__plan_end(tg__plan *p); /* after the launches: dropped memory goes back to the cache */

/* ---------------------------------------------------------------------------------------------------------------- */
/* device.c and runtime_cpu.c: devices are tables of functions */

typedef struct tg__program {
  struct tg__device *dev;
  char *name;
  void *handle;                /* what the device's load returned */
  int64_t global_size;         /* CPU: iterations of the parallel loop; GPU: threads, or workgroups with local_size */
  int64_t local_size;          /* GPU: threads per workgroup (the kernel's LOCAL and GROUP); 0: the device chooses */
  double flops, bytes, lds;    /* estimates: operations, its buffers' bytes, bytes loaded and stored */
  int64_t shared_bytes;        /* its shared arrays; past TG__STATIC_SHARED they are one array sized at launch */
  char roles[TG__NAME_ROLES];  /* the name's numbers by role (tg__linear.roles), for DEBUG=2 */
} tg__program;
/* realize.c: DEBUG=2's line for one launch (a schedule's, or a JIT replay's with mark " (jit)") on stdout; the line
 * itself, for the tests: index the kernel's number, total the seconds of all so far, mem the bytes in use */
TG__PRIVATE void tg__debug_launch(const tg__program *p, int nbufs, double dt, const char *opts, const char *mark);
// ---------------------------------------------------------------------------------------------------------------------
// viz.c: VIZ's recorder of graph rewrites, PROFILE's launches, the viewer page (viz_page.c, from viz/)

#ifndef TG__AMALGAMATED
extern const char *const tg__viz_page[]; /* viz/index.html, line by line, NULL-terminated; "@DATA@\n" is the data */
#endif
TG__PRIVATE void tg__pattern_viz(int on); /* pattern.c reports its rewrites to viz.c while on */
TG__PRIVATE int tg__viz_mode(void);      /* VIZ: 0 off, 1 the page, -1 JSON */
TG__PRIVATE int tg__viz_profiling(void); /* VIZ or PROFILE: launches are timed and recorded */
TG__PRIVATE int tg__viz_begin(void);     /* opens a context when VIZ is on: its token, else -1 */
TG__PRIVATE void tg__viz_end(int token, const char *kind, const char *name, const char *device, const char *opts,
                             const char *source);
TG__PRIVATE void tg__viz_rewrite_begin(const char *m1, const char *m2, tg__uop *root); /* matchers' names */
TG__PRIVATE void tg__viz_step(tg__uop *before, tg__uop *after, const struct tg__rule *rule, int pre);
TG__PRIVATE void tg__viz_opaque(tg__uop *u);
TG__PRIVATE void tg__viz_rewrite_end(tg__uop *result);
TG__PRIVATE void tg__viz_launch(const char *device, const char *name, uint64_t t0, uint64_t t1); /* tg__now_ns */
TG__PRIVATE int tg__viz_write(const char *fn, const char *path, int json); /* 0 or -1 (nothing written) */
TG__PRIVATE void tg__viz_default_path(char *out, size_t n, int json);
TG__PRIVATE void tg__viz_reset(void);
/* for the tests: the counts (returns whether the recording was cut), rewrite i of those with steps, a step */
TG__PRIVATE int tg__viz_counts(int *nctx, int *nrw, int64_t *nsteps, int *nlaunch);
TG__PRIVATE int tg__viz_rewrite_of(int i, int64_t *root, int64_t *result, const int64_t **opaque, int *nopaque,
                                   int *nsteps);
TG__PRIVATE void tg__viz_step_of(int rw, int s, int64_t *before, int64_t *after, int *pre);

TG__PRIVATE void tg__debug_line(tg__str *out, const tg__program *p, int64_t index, int nbufs, double dt, double total,
                                int64_t mem, const char *opts, const char *mark, int color);
/* DEBUG=1's line for a realisation of n kernels (before/after: tg__program_stats) */
TG__PRIVATE void tg__debug_realised(tg__str *out, int n, const char *device, double t_schedule, double t_compile,
                                    double t_run, const int64_t before[3], const int64_t after[3]);

/* A registered device: the user's description (tg_device_desc, api.h: fields past the size it was compiled with
 * are NULL here) and what the library made of it. The built-in devices are registered the same way. */
typedef struct tg__device {
  char name[32];                        /* "CPU", as registered */
  const tg__dialect *dialect;           /* a built-in one, or own_dialect */
  tg_device_desc desc;
  tg__dialect own_dialect;              /* a base dialect changed by the desc's table */
} tg__device;

/* Every call of a device's functions goes through these, which name the device and the call in an error (0 /
 * pointer, or -1 / NULL with an error): the memory ones are buffer.c's, the rest device.c's. tg__dev_failed makes
 * that error after a call that failed, given tg__error_serial() from before it. */
TG__PRIVATE void tg__dev_failed(tg__device *d, unsigned serial, const char *what);
TG__PRIVATE void *tg__dev_alloc(tg__device *d, size_t nbytes);
TG__PRIVATE void tg__dev_free(tg__device *d, void *ptr, size_t nbytes); /* nbytes: what was allocated */
TG__PRIVATE int64_t tg__mem_used(void); /* buffer.c: device memory the buffers hold now */
TG__PRIVATE int tg__dev_copy_in(tg__device *d, void *dst, const void *src, size_t nbytes);
TG__PRIVATE int tg__dev_copy_out(tg__device *d, void *dst, const void *src, size_t nbytes);
TG__PRIVATE int tg__dev_synchronize(tg__device *d);
TG__PRIVATE void *tg__dev_offset(tg__device *d, void *ptr, size_t bytes); /* NULL: no view there (no error) */
TG__PRIVATE void tg__dev_wake(tg__device *d);
/* a program over bufs, with the program's global and local sizes */
TG__PRIVATE int tg__dev_launch(tg__program *p, void **bufs, int nbufs);
/* n launches as one (the desc's launch_graph): 0, 1 (nothing ran, or the device has none), -1 */
TG__PRIVATE int tg__dev_launch_graph(tg__device *d, int n, tg__program *const *progs, void ***bufs, const int *nbufs,
                                     void **state);
TG__PRIVATE void tg__dev_graph_free(tg__device *d, void *state);
/* The program of a kernel's source, from the programs loaded in this process, the disk cache, or the device's
 * compiler (DEBUG>=3 prints a source it compiles), kept until exit. NULL with an error naming the device */
TG__PRIVATE tg__program *tg__dev_compile(tg__device *d, const char *name, const char *src);
/* n at once, compiled in parallel where the device allows (BEAM's candidates, a schedule's first kernels): out[i]
 * as tg__dev_compile would return it, NULL for one that failed (the last such error is set) */
TG__PRIVATE void tg__dev_compile_batch(tg__device *d, int n, const char *const *names, const char *const *srcs,
                                       tg__program **out);
/* realize.c: the n launches ls are about to run on dev: its wake, when their buffers are worth threads */
TG__PRIVATE void tg__device_wake(tg__device *dev, const tg__launch *ls, int n);

/* registers a device (tg_device_register without the lock: the built-in ones and the backends call it); 0 or -1 */
TG__PRIVATE int tg__device_add(const char *name, const tg_device_desc *desc);
/* built-in dialects by name ("C", and those backends add): NULL when none has it */
TG__PRIVATE const tg__dialect *tg__dialect_find(const char *name);
TG__PRIVATE void tg__dialect_add(const char *name, const tg__dialect *d); /* a backend's, before its device */
TG__PRIVATE tg__device *tg__device_get(const char *name); /* NULL name: DEV env or CPU; NULL + error if unknown */
TG__PRIVATE void tg__device_target(tg__device *d, tg__target *t); /* what codegen needs to know of d's machine */
TG__PRIVATE tg__device *tg__cpu_device(void);
TG__PRIVATE void tg__cpu_register(void);
TG__PRIVATE int64_t tg__cpu_cache_share(const char *size, const char *cpus); /* sysfs's size over shared_cpu_list */
TG__PRIVATE int64_t tg__cpu_least(int64_t gs, int64_t threads, double work); /* the pool's smallest claim */
TG__PRIVATE int64_t tg__cpu_align(int64_t gs, double work); /* claims end on multiples of this */
TG__PRIVATE void tg__cpu_threads_changed(void); /* THREADS changed: the pool restarts with as many at its next launch */
/* device.c: one line per variable of tinygrad's that this library ignores (VIZ, CUDA=1...), into out */
TG__PRIVATE void tg__env_warnings(char *out, size_t n);
/* device.c: kernels launched and compiled in this process (add: what to count; the total) */
TG__PRIVATE int64_t tg__stat_launches(int64_t add);
TG__PRIVATE int64_t tg__stat_compiles(int64_t add);
/* programs asked of tg__dev_compile(_batch) since start: [0] loaded already, [1] from the disk cache, [2] compiled */
TG__PRIVATE void tg__program_stats(int64_t out[3]);

/* search.c: BEAM=n, a search over Opt lists timed on the device, its winners cached on disk (see its contract) */
typedef struct tg__beam_stat { int64_t searches, hits, candidates; } tg__beam_stat;
/* k's list chosen by the search or its cache (the count), or -1: the kernel uses the heuristic's */
TG__PRIVATE int tg__beam_opts(tg__kernel *k, tg__device *dev, const tg__target *t, tg__opt *out);
/* the tests: a width instead of BEAM's, the heuristic's time below which a kernel is not searched (20 µs by default)
 * and the time limit per kernel (BEAM_TIMEOUT); width < 0: the environment again */
TG__PRIVATE void tg__set_beam(int width, double min_s, double timeout_s);
TG__PRIVATE void tg__beam_forget(void);        /* the tests: the in-memory cache is dropped (a restart) */
TG__PRIVATE int tg__beam_width(void);          /* the width in force (0: BEAM off) */
TG__PRIVATE tg__beam_stat *tg__beam_stats(void);
TG__PRIVATE double tg__beam_budget(double t_heur); /* a search's seconds: 20000 runs of the heuristic's, >= 2 */
/* the candidates' buffers: n of sizes[i] bytes on dev, all zero (or NULL, nothing kept); and their release */
TG__PRIVATE void **tg__beam_scratch(tg__device *dev, const size_t *sizes, int n);
TG__PRIVATE void tg__beam_scratch_free(tg__device *dev, void **ptrs, const size_t *sizes, int n);

/* ---------------------------------------------------------------------------------------------------------------- */
/* jit.c (layer 5): captures launches through realize.c's capture hook; host reads are refused inside a JIT'd
 * function */
TG__PRIVATE int tg__jit_host_read(const char *fn);   /* -1 with an error inside a JIT'd function, else 0 */

#endif /* TG__INTERNAL_H */
