/* render.c: print a linearised kernel as C-style source (layer 3: it calls only base, dtype and uop).
 *
 * Contract: tg__render(dialect, name, parameters, program) -> source. One renderer for every C-like language; a
 * dialect (tg__dialect) changes only data: the prelude, the kernel prefix, the buffer qualifier, the types, the
 * per-dtype load and store conversions and preludes, the dtypes it cannot render (an error naming both, not a crash),
 * whether a CPU entry wrapper is emitted. The dialects are defined with their devices (C in runtime_cpu.c, CUDA and
 * OpenCL in backends/), so a program that includes no backend compiles none. The renderer sees no kernel, buffer or
 * device: only the parameters' dtypes and whether each is written, and the linear program.
 * What each op prints is its C format in the op table (tg__ops[op].cfmt), as tinygrad's code_for_op; ops whose
 * spelling depends on dtypes (casts, bitcasts, float mod, bool negation) are a table of forms tried before it.
 * Expressions used once are inlined; the rest are named: ridxN for loops, valN for loads, accN for accumulators, aluN
 * for other values.
 *
 * Tensor cores: a WMMA is the dialect's call (tg__dialect.wmma) over its elements of A and B packed two to a 32-bit
 * word and its C, named wmmaN, a float4 whose lanes are its GEPs. A 16-bit float's load that only WMMAs use keeps
 * its bits (no conversion to float and back).
 * Storage types: float16 and bfloat16 buffers are unsigned short in memory; loads convert to float, stores convert
 * back, and a cast to a half type rounds through the storage format, so results match hardware halves. The
 * conversions (the half prelude and the per-dtype tables that use it) are shared by every dialect. */
#include "internal.h"

typedef char tg__dtype_mask_fits[TG_NDTYPES <= 32 ? 1 : -1]; /* tg__dialect.unsupported is a 32-bit mask */

/* conversions for the 16-bit float storage types, emitted only into kernels that use them; every dialect shares them
 * (its prelude defines TG_FN, tg_f2u and tg_u2f) */
TG__DATA const char tg__half_prelude[] =
    /* the CPU's compiler with F16C (x86) converts with one instruction, which vectorises; others in software.
     * With AVX512-FP16 (Sapphire Rapids on), GCC converts a _Float16 by vcvtsh2ss, which merges into its
     * destination register's old value: a false dependency that chained a loop's conversions from one block to the
     * next (a Q4_1 product's kernel ran 94 us against 49). F16C's vcvtph2ps writes the whole register. */
    "#if defined(__AVX512FP16__) && defined(__GNUC__) && !defined(__clang__) && !defined(__OPENCL_VERSION__) && "
    "!defined(__CUDACC__)\n"
    "#include <immintrin.h>\n"
    "TG_FN float tg_h2f(unsigned short h) { return _cvtsh_ss(h); }\n"
    "#elif defined(__F16C__) && defined(__FLT16_MAX__) && !defined(__OPENCL_VERSION__) && !defined(__CUDACC__)\n"
    "TG_FN float tg_h2f(unsigned short h) { _Float16 f; __builtin_memcpy(&f, &h, 2); return (float)f; }\n"
    "#else\n"
    "TG_FN float tg_h2f(unsigned short h) {\n"
    "  unsigned int s = (unsigned int)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, b;\n"
    "  if (e == 0x1f) b = s | 0x7f800000u | (m << 13);\n"
    "  else if (e) b = s | ((e + 112) << 23) | (m << 13);\n"
    "  else if (!m) b = s;\n"
    "  else { int k = -1; do { m <<= 1; k++; } while (!(m & 0x400)); b = s | ((unsigned int)(112 - k) << 23) | ((m & "
    "0x3ff) << 13); }\n"
    "  return tg_u2f(b);\n"
    "}\n"
    "#endif\n"
    "TG_FN unsigned short tg_f2h(float f) {\n"
    "  unsigned int x = tg_f2u(f);\n"
    "  unsigned int s = (x >> 16) & 0x8000, m = x & 0x7fffff; int e = (int)((x >> 23) & 0xff) - 112;\n"
    "  if (((x >> 23) & 0xff) == 0xff) return (unsigned short)(s | 0x7c00 | (m ? 0x200 : 0));\n"
    "  if (e >= 0x1f) return (unsigned short)(s | 0x7c00);\n"
    "  if (e <= 0) { if (e < -10) return (unsigned short)s; m |= 0x800000; unsigned int sh = (unsigned int)(14 - e),\n"
    "    h = m >> sh, r = m & ((1u << sh) - 1), mid = 1u << (sh - 1); if (r > mid || (r == mid && (h & 1))) h++;\n"
    "    return (unsigned short)(s | h); }\n"
    "  unsigned int h = s | ((unsigned int)e << 10) | (m >> 13), r = m & 0x1fff;\n"
    "  if (r > 0x1000 || (r == 0x1000 && (h & 1))) h++;\n"
    "  return (unsigned short)h;\n"
    "}\n"
    "TG_FN float tg_bf2f(unsigned short h) { return tg_u2f((unsigned int)h << 16); }\n"
    "TG_FN unsigned short tg_f2bf(float f) { unsigned int x = tg_f2u(f);\n"
    "  if ((x & 0x7fffffff) > 0x7f800000) return (unsigned short)((x >> 16) | 0x40);\n"
    "  x += 0x7fff + ((x >> 16) & 1); return (unsigned short)(x >> 16); }\n";

/* per dtype: the half prelude for the 16-bit floats (a dialect's `preludes`) */
TG__DATA const char *const tg__half_preludes[TG_NDTYPES] = {
    /* bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32, float64 */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tg__half_prelude, tg__half_prelude, NULL, NULL};

/* per dtype: 16-bit floats are unsigned short in memory and float in kernels (a dialect's `load_fmt`, `store_fmt`) */
TG__DATA const char *const tg__half_loads[TG_NDTYPES] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "tg_h2f(%s)", "tg_bf2f(%s)", NULL, NULL};
TG__DATA const char *const tg__half_stores[TG_NDTYPES] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "tg_f2h(%s)", "tg_f2bf(%s)", NULL, NULL};

// ---------------------------------------------------------------------------------------------------------------------
// what an ALU op prints is its C format in the op table (tg__ops[op].cfmt), a format over its operands

/* expands fmt: %s takes the next operand, %1..%3 a given one, %f the float suffix, %% a percent sign */
static char *tg__fmt_op(const char *fmt, char **ops, int nops, int suffix_f) {
  tg__str b;
  memset(&b, 0, sizeof b);
  int next = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      char c[2] = {*p, 0};
      tg__str_cat(&b, c);
      continue;
    }
    p++;
    if (*p == 's' && next < nops) tg__str_cat(&b, ops[next++]);
    else if (*p >= '1' && *p <= '9' && *p - '1' < nops) tg__str_cat(&b, ops[*p - '1']);
    else if (*p == 'f') tg__str_cat(&b, suffix_f ? "f" : "");
    else if (*p == '%') tg__str_cat(&b, "%");
  }
  return tg__str_take(&b);
}

/* the C type of a value, and of a buffer element in memory */
static const char *tg__ctype(const tg__dialect *d, tg_dtype dt) {
  return d->types && d->types[dt] ? d->types[dt] : tg__dtypes[dt].cname;
}
static const char *tg__mem_ctype(const tg__dialect *d, tg_dtype dt) {
  return d->mem_types && d->mem_types[dt] ? d->mem_types[dt] : tg__ctype(d, dt);
}

/* a dialect's per-dtype entry, NULL when the table or the entry is */
static const char *tg__per_dtype(const char *const *table, tg_dtype dt) { return table ? table[dt] : NULL; }

// ---------------------------------------------------------------------------------------------------------------------
// special forms (tg__form): ops whose spelling depends on dtypes, tried in order before the op table's format (as the
// first rules of tinygrad's string_rewrite); a dialect's own forms come first

static const tg__form tg__forms[] = {
    /* op, value's dtype, source's dtype, format */
    /* a cast to a 16-bit float rounds through its storage format, so results match hardware halves */
    {TG__OP_CAST, TG_FLOAT16, TG__FORM_ANY, "tg_h2f(tg_f2h((float)%s))"},
    {TG__OP_CAST, TG_BFLOAT16, TG__FORM_ANY, "tg_bf2f(tg_f2bf((float)%s))"},
    {TG__OP_CAST, TG__FORM_ANY, TG__FORM_ANY, "((%t)%s)"},
    /* 16-bit floats live in kernels as float: their bits are the storage conversion */
    {TG__OP_BITCAST, TG_FLOAT16, TG_FLOAT16, "tg_h2f(tg_f2h(%s))"},
    {TG__OP_BITCAST, TG_BFLOAT16, TG_FLOAT16, "tg_bf2f(tg_f2h(%s))"},
    {TG__OP_BITCAST, TG__FORM_ANY, TG_FLOAT16, "((%m)tg_f2h(%s))"},
    {TG__OP_BITCAST, TG_FLOAT16, TG_BFLOAT16, "tg_h2f(tg_f2bf(%s))"},
    {TG__OP_BITCAST, TG_BFLOAT16, TG_BFLOAT16, "tg_bf2f(tg_f2bf(%s))"},
    {TG__OP_BITCAST, TG__FORM_ANY, TG_BFLOAT16, "((%m)tg_f2bf(%s))"},
    {TG__OP_BITCAST, TG_FLOAT16, TG__FORM_ANY, "tg_h2f((unsigned short)(%s))"},
    {TG__OP_BITCAST, TG_BFLOAT16, TG__FORM_ANY, "tg_bf2f((unsigned short)(%s))"},
    {TG__OP_BITCAST, TG__FORM_ANY, TG__FORM_ANY, "%b"},
    {TG__OP_MOD, TG__FORM_FLOAT, TG__FORM_ANY, "fmod%f(%s,%s)"}, /* C's % is for integers */
    {TG__OP_NEG, TG_BOOL, TG__FORM_ANY, "(!%s)"},              /* a bool's negation is not (-true is true) */
};

static int tg__dtype_fits(int filter, tg_dtype dt) {
  return filter == TG__FORM_ANY || (filter == TG__FORM_FLOAT && tg_dtype_is_float(dt)) ||
         (filter == TG__FORM_INT && tg_dtype_is_int(dt)) || filter == (int)dt;
}

/* the format of the first form of `forms` matching an op of dtype dt over a first source of dtype sdt, or NULL */
static const char *tg__form_in(const tg__form *forms, int n, tg__op op, tg_dtype dt, tg_dtype sdt) {
  for (int i = 0; i < n; i++)
    if (forms[i].op == op && tg__dtype_fits(forms[i].dtype, dt) && tg__dtype_fits(forms[i].src, sdt))
      return forms[i].fmt;
  return NULL;
}

/* the dialect's form, else render.c's, else NULL (the op table's format) */
static const char *tg__form_of(const tg__dialect *d, tg__op op, tg_dtype dt, tg_dtype sdt) {
  const char *f = d->forms ? tg__form_in(d->forms, d->nforms, op, dt, sdt) : NULL;
  return f ? f : tg__form_in(tg__forms, TG__COUNT(tg__forms), op, dt, sdt);
}

/* a form with its types written in (%t %m %u %b); the operands' escapes are left for tg__fmt_op */
static void tg__form_types(tg__str *b, const tg__dialect *d, const char *fmt, tg_dtype dt, tg_dtype sdt) {
  for (const char *p = fmt; *p; p++) {
    if (*p == '%' && p[1] == 't') tg__str_cat(b, tg__ctype(d, dt)), p++;
    else if (*p == '%' && p[1] == 'm') tg__str_cat(b, tg__mem_ctype(d, dt)), p++;
    else if (*p == '%' && p[1] == 'u') tg__str_cat(b, tg__mem_ctype(d, sdt)), p++;
    else if (*p == '%' && p[1] == 'b') tg__form_types(b, d, d->bitcast, dt, sdt), p++;
    else {
      char c[3] = {*p, (char)(*p == '%' && p[1] ? p[1] : 0), 0}; /* an escape of tg__fmt_op is copied whole */
      tg__str_cat(b, c);
      p += c[1] != 0;
    }
  }
}

static char *tg__render_const(const tg__dialect *d, const tg__uop *u) {
  char buf[64];
  tg_dtype dt = u->dtype;
  if (tg_dtype_is_float(dt)) {
    double v = u->arg.f;
    const char *suffix = dt == TG_FLOAT64 ? "" : "f";
    if (isnan(v)) snprintf(buf, sizeof buf, "NAN");
    else if (isinf(v)) snprintf(buf, sizeof buf, "%sINFINITY", v < 0 ? "-" : "");
    else if (dt == TG_FLOAT64) snprintf(buf, sizeof buf, "%.17g", v);
    else snprintf(buf, sizeof buf, "%.9g%s", v, suffix);
    if (!isnan(v) && !isinf(v) && !strpbrk(buf, ".eEN")) { /* 1f is not C: make it 1.0f */
      char *f = strchr(buf, 'f');
      if (f) memmove(f + 2, f, strlen(f) + 1), f[0] = '.', f[1] = '0';
      else strcat(buf, ".0");
    }
  } else if (dt == TG_BOOL) {
    snprintf(buf, sizeof buf, "%d", (int)u->arg.i);
  } else if (dt == TG_UINT64) {
    snprintf(buf, sizeof buf, "%llu%s", (unsigned long long)u->arg.i, d->uint64_suffix);
  } else if (dt == TG_INT64) {
    if (u->arg.i == INT64_MIN) snprintf(buf, sizeof buf, "(-9223372036854775807%s-1)", d->int64_suffix);
    else snprintf(buf, sizeof buf, "%lld%s", (long long)u->arg.i, d->int64_suffix);
  } else if (dt == TG_UINT32) {
    snprintf(buf, sizeof buf, "%lluu", (unsigned long long)u->arg.i);
  } else if (u->arg.i == INT32_MIN) {
    snprintf(buf, sizeof buf, "(-2147483647-1)");
  } else {
    snprintf(buf, sizeof buf, "%s%lld%s", u->arg.i < 0 ? "(" : "", (long long)u->arg.i, u->arg.i < 0 ? ")" : "");
  }
  return tg__strdup(buf);
}

// ---------------------------------------------------------------------------------------------------------------------
// rendering a kernel

typedef struct tg__rctx {
  const tg__dialect *d;
  const tg__linear *lin;
  tg__map expr;   /* uop -> char* (its name or inline expression) */
  tg__map uses;   /* uop -> use count */
  tg__vec owned;  /* strings to free */
  tg__str body;
  int depth;
  long long nalu, nval, nstage, nvec;
  int *vec;       /* per entry of the list: for a LOAD or STORE of a vector of 4, the first of its members (in the
                     list) for a load, the last for a store, whose statement renders the vector; -1 otherwise */
  int (*members)[4]; /* per vector, by its rendering entry: the entries of lanes 0..3 */
  tg__map raw;       /* loads of 16-bit floats that only WMMAs use: rendered as their bits (no conversion) */
  tg__map partner;   /* raw loads that are a WMMA's pair of elements adjacent in memory: each to the other */
  tg__map word;      /* the pair's lower load -> the name of its 32-bit word, once rendered */
  long long nword;
  int *vec8;         /* per entry: for a load or store of 8 16-bit bits in a vector (TC's staged tiles), the entry
                        that renders it (a load's first member, a store's last); -1 otherwise */
  int (*members8)[8];
  long long nvec8;
  tg__map vname;     /* a member of a rendered load vector of 8 -> the vector's name */
  int *async;        /* per entry: for a load vector of 8 that only a store vector copies into shared memory, the
                        store's rendering entry (one cp.async, issued where the load was); -1 otherwise */
  int copies;        /* async copies rendered: a barrier waits for them first */
  int pipelined;     /* a barrier lets copies run on (arg.i > 0: TC's three buffers), or WGMMAs read them: only then
                        are copies async. With two buffers, a register copy measured faster (H200, 4096 float16: 268
                        against 244 TFLOPS) */
  long long nwmma, nldm;
  int wgmma;         /* the kernel has WGMMAs: stores into shared memory reach them through a proxy fence */
  int wg_run;        /* a run of WGMMAs is open (its fence rendered) */
  int wg_pending;    /* WGMMAs may still run (left in flight): the loop's end waits for them */
  int dynamic;       /* the shared arrays are parts of one array sized at launch (tg__dialect.dynamic_shared) */
  int64_t dyn_at;    /* ...the next one's offset in it, in 16-byte vectors */
  /* explicit vectors (tg__find_slp) */
  int *slp;          /* per entry: for a DEFINE_ACC or ASSIGN of a vector group, the group's number; -1 otherwise */
  struct tg__slp_group *groups;
  int ngroups, cgroups;
  struct tg__slp_memo *memo; /* the vectors rendered in the current loop body */
  int nmemo, cmemo;
  long long nvv;
  int used_vectors;  /* the kernel needs the vector prelude */
  int used_dot;      /* ...and the byte vectors' and dot products' part of it */
  int *brk_at;       /* per entry: the loop (its RANGE's entry) whose early exit is tested after it; -1 */
  tg__uop **brk_bound; /* per loop's entry: its exit's bound and factor (tg__find_breaks) */
  int64_t *brk_f;
  struct tg__pf *pf; /* per entry: the streams prefetched after it (tg__find_prefetch), or NULL */
} tg__rctx;

static const char *tg__expr_of(tg__rctx *r, tg__uop *u);

static char *tg__own(tg__rctx *r, char *s) {
  tg__vec_push(&r->owned, s);
  return s;
}

/* A little-endian 16-bit integer built from two adjacent bytes of one buffer, (u16)b[i] | (u16)b[i+1] << 8 (a
 * quantised block's float16 scale: tg__gq_half in gguf.c): the INDEX of b[i], else NULL. Ungated loads only */
static tg__uop *tg__store_base(const tg__uop *st, int64_t *off);

static tg__uop *tg__le_pair(const tg__uop *u) {
  if (u->op != TG__OP_OR || u->dtype != TG_UINT16) return NULL;
  for (int lo = 0; lo < 2; lo++) {
    const tg__uop *a = u->src[lo], *b = u->src[1 - lo];
    double eight;
    if (a->op != TG__OP_CAST || b->op != TG__OP_SHL || !tg__is_const(b->src[1], &eight) || eight != 8 ||
        b->src[0]->op != TG__OP_CAST)
      continue;
    const tg__uop *la = a->src[0], *lb = b->src[0]->src[0];
    if (la->op != TG__OP_LOAD || lb->op != TG__OP_LOAD || la->nsrc != 1 || lb->nsrc != 1 || la->dtype != TG_UINT8 ||
        lb->dtype != TG_UINT8 || la->src[0]->op != TG__OP_INDEX || lb->src[0]->op != TG__OP_INDEX ||
        la->src[0]->src[0] != lb->src[0]->src[0])
      continue;
    const tg__uop *i = la->src[0]->src[1], *j = lb->src[0]->src[1];
    double one;
    int64_t oa, ob; /* ...or base + o and base + o + 1 (a Q4_1 block's second scale, at bytes 2 and 3) */
    if ((j->op == TG__OP_ADD && ((j->src[0] == i && tg__is_const(j->src[1], &one) && one == 1) ||
                                 (j->src[1] == i && tg__is_const(j->src[0], &one) && one == 1))) ||
        (tg__store_base(la, &oa) == tg__store_base(lb, &ob) && ob == oa + 1))
      return la->src[0];
  }
  return NULL;
}

static char *tg__render_alu(tg__rctx *r, tg__uop *u) {
  /* on the CPU (little-endian), one unaligned 16-bit load: GCC built the pair from two byte loads, two shifts and
   * an insert, per block and row of a quantised matrix-vector product (1-2% of a Q4_1 1536x576 one on a core) */
  const uint16_t endian = 1;
  tg__uop *pair = r->d->vectors && *(const unsigned char *)&endian ? tg__le_pair(u) : NULL;
  if (pair) {
    tg__str e;
    memset(&e, 0, sizeof e);
    tg__str_printf(&e, "({unsigned short _v; __builtin_memcpy(&_v, &%s, 2); _v;})", tg__expr_of(r, pair));
    return tg__str_take(&e);
  }
  char *ops[3];
  for (int i = 0; i < u->nsrc && i < 3; i++) ops[i] = (char *)tg__expr_of(r, u->src[i]);
  tg_dtype sdt = u->nsrc ? u->src[0]->dtype : u->dtype;
  const char *form = tg__form_of(r->d, u->op, u->dtype, sdt);
  if (form) {
    tg__str fmt;
    memset(&fmt, 0, sizeof fmt);
    tg__form_types(&fmt, r->d, form, u->dtype, sdt);
    char *f = tg__str_take(&fmt), *s = tg__fmt_op(f, ops, u->nsrc, sdt != TG_FLOAT64 && r->d->float_suffix);
    TG_FREE(f);
    return s;
  }
  const char *cfmt = tg__ops[u->op].cfmt;
  if (cfmt) return tg__fmt_op(cfmt, ops, u->nsrc, sdt != TG_FLOAT64 && r->d->float_suffix);
  return tg__strdup("/* unsupported */0");
}

static const char *tg__expr_of(tg__rctx *r, tg__uop *u) {
  const char *e = (const char *)tg__map_get(&r->expr, u);
  if (e) return e;
  char *s = u->op == TG__OP_CONST ? tg__render_const(r->d, u) : tg__render_alu(r, u);
  tg__map_put(&r->expr, u, tg__own(r, s));
  return s;
}

static void tg__line(tg__rctx *r, const char *fmt, ...) TG__PRINTF(2, 3);
/* a line of the body, of any length (a store of a long inlined expression passed 4 KiB: a sort's gradient, 4.1 KB,
 * was cut there into C that did not compile) */
static void tg__line(tg__rctx *r, const char *fmt, ...) {
  char buf[4096], *p = buf;
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof buf) {
    p = (char *)tg__alloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
  }
  va_end(ap2);
  for (int i = 0; i < r->depth + 1; i++) tg__str_cat(&r->body, "  ");
  tg__str_cat(&r->body, n < 0 ? "" : p);
  tg__str_cat(&r->body, "\n");
  if (p != buf) TG_FREE(p);
}

static void tg__count_uses(tg__rctx *r, tg__uop *u, tg__map *seen) {
  /* MAX's C writes each operand twice or more ((a>b||a!=a)?a:b): an operand inlined there grows at each level, and a
   * max of 32 accumulators (GROUP's lanes) was a 2 GB expression. Its operands count two uses, so they are named */
  intptr_t per = u->op == TG__OP_MAX ? 2 : 1;
  for (int i = 0; i < u->nsrc && u->op != TG__OP_BARRIER; i++) { /* a barrier orders its sources, uses no value */
    tg__uop *s = u->src[i];
    tg__map_put(&r->uses, s, (void *)((intptr_t)tg__map_get(&r->uses, s) + per));
    /* operands of nodes that are inlined (never listed) are counted through them */
    if (!tg__map_get(seen, s) && s->op != TG__OP_RANGE) {
      tg__map_put(seen, s, (void *)1);
      if (s->op == TG__OP_CONST) continue;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// statements: what each op of the linear list prints, a table indexed by op (values not in it are expressions)

typedef void (*tg__stmt_fn)(tg__rctx *r, const tg__linear *lin, int i);

static void tg__name(tg__rctx *r, tg__uop *u, const char *fmt, long long n) {
  char nm[64];
  snprintf(nm, sizeof nm, fmt, n);
  tg__map_put(&r->expr, u, tg__own(r, tg__strdup(nm)));
}

/* the position of u among the output loops, or -1 */
static int tg__global_at(const tg__linear *lin, const tg__uop *u) {
  for (int g = 0; g < lin->nglobals; g++)
    if (lin->globals[g] == u) return g;
  return -1;
}

/* the range nm as digit k of an index var over ranges[0..n), the slowest first: var / (the faster ones' sizes) % size */
static void tg__rs_digit(tg__rctx *r, const char *nm, const char *var, tg__uop *const *ranges, int n, int k) {
  int64_t inner = 1;
  for (int h = k + 1; h < n; h++) inner *= (int64_t)tg__const_val(ranges[h]->src[0]);
  tg__str e;
  memset(&e, 0, sizeof e);
  tg__str_cat(&e, var);
  if (inner > 1) tg__str_printf(&e, " / %lld", (long long)inner);
  if (k > 0) tg__str_printf(&e, " %% %s", tg__expr_of(r, ranges[k]->src[0]));
  tg__line(r, "int %s = (int)(%s);", nm, e.s);
  TG_FREE(e.s);
}

static void tg__rs_range(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  tg__name(r, u, "ridx%lld", (long long)u->arg.i);
  const char *nm = tg__expr_of(r, u);
  int g = r->d->global_id ? tg__global_at(lin, u) : -1;
  if (u->arg.i2) { /* a digit of the thread's index in its workgroup */
    int k = 0;
    while (k < lin->nlocals && lin->locals[k] != u) k++;
    tg__rs_digit(r, nm, "lid", lin->locals, lin->nlocals, k);
    return;
  }
  if (g >= 0) { /* a GPU's output loop is a digit of the thread's (or its workgroup's) index */
    tg__rs_digit(r, nm, "gid", lin->globals, lin->nglobals, g);
    return;
  }
  if (u == lin->parallel) tg__line(r, "for (int %s = (int)start; %s < (int)end; %s++) {", nm, nm, nm);
  else tg__line(r, "for (int %s = 0; %s < %s; %s++) {", nm, nm, tg__expr_of(r, u->src[0]), nm);
  r->depth++;
}

static void tg__rs_endrange(tg__rctx *r, const tg__linear *lin, int i) {
  if (lin->u[i]->src[0]->arg.i2 || (r->d->global_id && tg__global_at(lin, lin->u[i]->src[0]) >= 0)) return;
  r->depth--;
  tg__line(r, "}");
  if (r->wg_pending) { /* the WGMMAs left in flight end before their accumulators are read */
    char *ops[1] = {(char *)"0"}, *w = tg__fmt_op(r->d->wgmma_commit, ops, 1, 0);
    tg__line(r, "%s", w);
    TG_FREE(w);
    r->wg_pending = 0;
  }
}

static void tg__rs_define_acc(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  tg__name(r, u, "acc%lld", (long long)u->arg.i);
  tg__line(r, "%s %s = %s;", tg__ctype(r->d, u->dtype), tg__expr_of(r, u), tg__expr_of(r, u->src[0]));
}

static void tg__rs_assign(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  const char *to = tg__expr_of(r, u->src[0]), *v = tg__expr_of(r, u->src[1]);
  if (strcmp(to, v)) tg__line(r, "%s = %s;", to, v); /* a WGMMA's element is its accumulator already */
}

/* a REDUCE is its accumulator, read after the loops */
static void tg__rs_reduce(tg__rctx *r, const tg__linear *lin, int i) {
  tg__map_put(&r->expr, lin->u[i], (void *)tg__expr_of(r, lin->u[lin->aux[i]]));
}

static void tg__rs_index(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  tg__str e;
  memset(&e, 0, sizeof e);
  tg__str_printf(&e, "%s[%s]", tg__expr_of(r, u->src[0]), tg__expr_of(r, u->src[1]));
  tg__map_put(&r->expr, u, tg__own(r, tg__str_take(&e)));
}

/* x through a dialect's conversion format (%s: x), or x when there is none */
static char *tg__convert(const char *fmt, const char *x) {
  char *ops[1] = {(char *)x};
  return fmt ? tg__fmt_op(fmt, ops, 1, 0) : tg__strdup(x);
}

/* whether a LOAD's or STORE's address is in a shared array, which holds values as they are (no storage type) */
static int tg__is_shared(const tg__uop *u) {
  return u->src[0]->op == TG__OP_INDEX && u->src[0]->src[0]->op == TG__OP_DEFINE_LOCAL;
}

/* whether a shared array holds 16-bit floats' bits (TC's staged tiles: arg.f = 1), not values */
static int tg__bits_array(const tg__uop *arr) { return arr->op == TG__OP_DEFINE_LOCAL && arr->arg.f == 1; }

/* a load, gated by its second source when it has one (padding): the gate keeps the address from being read. A third
 * source is the BARRIER it must come after (a shared array's) */
static tg__uop *tg__store_base(const tg__uop *st, int64_t *off);
static int tg__multiple_of(const tg__uop *u, int n);

/* whether a load is gated (PADTO's padding) */
static int tg__gated(const tg__uop *u) {
  double on;
  return u->nsrc > 1 && !(tg__is_const(u->src[1], &on) && on != 0);
}

/* The pairs of a WMMA's elements (j, j + 1 for an even j) that are raw loads of one buffer at an even index and the
 * next one, ungated, and are used nowhere but as such pairs: each pair is one 32-bit load (r->partner) */
static void tg__find_pairs(tg__rctx *r, const tg__linear *lin) {
  tg__map count;
  memset(&count, 0, sizeof count);
  if (!r->d->wmma_word) return;
  for (int i = 0; i < lin->n; i++)
    for (int j = 0; lin->u[i]->op == TG__OP_WMMA && j < 12; j += 2) {
      tg__uop *lo = lin->u[i]->src[j], *hi = lin->u[i]->src[j + 1], *was = (tg__uop *)tg__map_get(&r->partner, lo);
      int64_t olo, ohi;
      if (!tg__map_get(&r->raw, lo) || !tg__map_get(&r->raw, hi) || tg__gated(lo) || tg__gated(hi) ||
          lo->src[0]->src[0] != hi->src[0]->src[0] || tg__store_base(lo, &olo) != tg__store_base(hi, &ohi) ||
          ohi != olo + 1 || olo % 2 || !tg__multiple_of(tg__store_base(lo, &olo), 2) || (was && was != hi) ||
          (tg__map_get(&r->partner, hi) && tg__map_get(&r->partner, hi) != lo))
        continue;
      tg__map_put(&r->partner, lo, hi);
      tg__map_put(&r->partner, hi, lo);
      tg__map_put(&count, lo, (void *)((intptr_t)tg__map_get(&count, lo) + 1));
      tg__map_put(&count, hi, (void *)((intptr_t)tg__map_get(&count, hi) + 1));
    }
  for (int i = 0; i < lin->n; i++) { /* a member used alone somewhere is loaded alone, and so is its partner */
    tg__uop *u = lin->u[i], *p = (tg__uop *)tg__map_get(&r->partner, u);
    if (p && (tg__map_get(&count, u) != tg__map_get(&r->uses, u) ||
              tg__map_get(&count, p) != tg__map_get(&r->uses, p))) {
      tg__map_put(&r->partner, u, NULL);
      tg__map_put(&r->partner, p, NULL);
    }
  }
  tg__map_free(&count);
}

static void tg__rs_load(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i], *p = (tg__uop *)tg__map_get(&r->partner, u);
  if (p) { /* a pair: its word, rendered where the first of the two comes */
    int64_t olo, ohi;
    tg__store_base(u, &olo), tg__store_base(p, &ohi);
    tg__uop *lo = olo < ohi ? u : p;
    if (tg__map_get(&r->word, lo)) return;
    tg__str a;
    memset(&a, 0, sizeof a);
    tg__str_printf(&a, "%s+%s", tg__expr_of(r, lo->src[0]->src[0]), tg__expr_of(r, lo->src[0]->src[1]));
    char *ops[1] = {a.s}, *w = tg__fmt_op(r->d->wmma_word, ops, 1, 0), nm[64];
    snprintf(nm, sizeof nm, "word%lld", r->nword++);
    tg__line(r, "unsigned %s = %s;", nm, w);
    tg__map_put(&r->word, lo, tg__own(r, tg__strdup(nm)));
    TG_FREE(w);
    TG_FREE(a.s);
    return;
  }
  int raw = tg__map_get(&r->raw, u) != NULL; /* a tensor core's element: its bits, as in memory */
  const char *fmt = tg__is_shared(u) || raw ? NULL : tg__per_dtype(r->d->load_fmt, u->dtype);
  if (!raw && tg__is_shared(u) && tg__bits_array(u->src[0]->src[0])) /* bits used as a value (never made so) */
    fmt = tg__per_dtype(r->d->load_fmt, u->dtype);
  const char *type = raw ? tg__mem_ctype(r->d, u->dtype) : tg__ctype(r->d, u->dtype);
  char *val = tg__own(r, tg__convert(fmt, tg__expr_of(r, u->src[0])));
  tg__name(r, u, "val%lld", r->nval++);
  double on;
  if (u->nsrc > 1 && !(tg__is_const(u->src[1], &on) && on != 0))
    tg__line(r, "%s %s = %s ? %s : 0;", type, tg__expr_of(r, u), tg__expr_of(r, u->src[1]), val);
  else tg__line(r, "%s %s = %s;", type, tg__expr_of(r, u), val);
}

/* whether u is element j (a constant) of an LDMATRIX l */
static int tg__ldm_element(const tg__uop *u, const tg__uop **l, int *j) {
  if (u->op != TG__OP_GEP || u->src[0]->op != TG__OP_LDMATRIX) return 0;
  *l = u->src[0], *j = (int)tg__const_val(u->src[1]);
  return 1;
}

/* a WMMA's 16-bit element as its bits in a 32-bit word: a raw load as it is, another value through the dialect's
 * store conversion (tg_f2h) */
static char *tg__wmma_bits(tg__rctx *r, tg__uop *u) {
  tg__str b;
  memset(&b, 0, sizeof b);
  const tg__uop *l;
  int j;
  if (tg__map_get(&r->raw, u) || tg__ldm_element(u, &l, &j)) tg__str_printf(&b, "(unsigned)%s", tg__expr_of(r, u));
  else {
    char *c = tg__convert(tg__per_dtype(r->d->store_fmt, u->dtype), tg__expr_of(r, u));
    tg__str_printf(&b, "(unsigned)%s", c);
    TG_FREE(c);
  }
  return tg__str_take(&b);
}

/* a tensor core's multiply-accumulate: the dialect's call over A's and B's elements packed two to a word (the lower
 * half the first) and C's four floats, named wmmaN (a float4 whose .x .y .z .w are D's elements) */
static void tg__rs_wmma(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  tg__str part[3];
  memset(part, 0, sizeof part);
  for (int j = 0; j < 12; j += 2) {
    const tg__uop *l0, *l1;
    int e0, e1;
    if (tg__ldm_element(u->src[j], &l0, &e0) && tg__ldm_element(u->src[j + 1], &l1, &e1) && l0 == l1 && e0 % 2 == 0 &&
        e1 == e0 + 1) { /* a word of an LDMATRIX */
      tg__str_printf(&part[j < 8 ? 0 : 1], "%s%s[%d]", j == 0 || j == 8 ? "" : ", ", tg__expr_of(r, (tg__uop *)l0),
                     e0 / 2);
      continue;
    }
    const char *word = (const char *)tg__map_get(&r->word, u->src[j]);
    if (word && tg__map_get(&r->partner, u->src[j]) == u->src[j + 1]) { /* a pair loaded as one word */
      tg__str_printf(&part[j < 8 ? 0 : 1], "%s%s", j == 0 || j == 8 ? "" : ", ", word);
      continue;
    }
    char *lo = tg__wmma_bits(r, u->src[j]), *hi = tg__wmma_bits(r, u->src[j + 1]);
    tg__str_printf(&part[j < 8 ? 0 : 1], "%s(%s|(%s<<16))", j == 0 || j == 8 ? "" : ", ", lo, hi);
    TG_FREE(lo);
    TG_FREE(hi);
  }
  for (int j = 12; j < 16; j++) tg__str_printf(&part[2], "%s%s", j > 12 ? ", " : "", tg__expr_of(r, u->src[j]));
  char *ops[3] = {part[0].s, part[1].s, part[2].s}, *call = tg__fmt_op(r->d->wmma[u->arg.i], ops, 3, 0);
  tg__name(r, u, "wmma%lld", r->nwmma++);
  tg__line(r, "float4 %s = %s;", tg__expr_of(r, u), call);
  TG_FREE(call);
  for (int k = 0; k < 3; k++) TG_FREE(part[k].s);
}

/* A warpgroup's multiply-accumulate (WGMMA): the dialect's statement over the descriptors of A's and B's tiles and
 * the thread's accumulators, in place (tg__render checked that each element of C is an accumulator or the element of
 * a WGMMA before: its GEP names the same variable). A run of WGMMAs opens with the dialect's fence; the last one of a
 * run commits them and leaves arg.ints[3] groups in flight, which the end of the loop waits for */
static void tg__rs_wgmma(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  int nc = u->nsrc - 3;
  if (!r->wg_run && r->d->wgmma_fence) tg__line(r, "%s", r->d->wgmma_fence);
  r->wg_run = 1;
  tg__str part[7];
  memset(part, 0, sizeof part);
  char num[48], *one[3] = {num, NULL, NULL};
  for (int j = 0; j < nc + 2; j++) { /* the placeholders: the accumulators', then the two descriptors' */
    snprintf(num, sizeof num, "%d", j);
    char *ph = tg__fmt_op(r->d->wgmma_reg, one, 1, 0);
    tg__str_printf(&part[j < nc ? 1 : j == nc ? 2 : 3], "%s%s", j && j < nc ? "," : "", ph);
    TG_FREE(ph);
  }
  for (int j = 0; j < nc; j++) { /* the accumulators as operands */
    one[0] = (char *)tg__expr_of(r, u->src[3 + j]);
    char *op = tg__fmt_op(r->d->wgmma_acc, one, 1, 0);
    tg__str_printf(&part[4], "%s%s", j ? ", " : "", op);
    TG_FREE(op);
  }
  for (int k = 0; k < 2; k++) { /* the descriptors: the tile's address, its leading and stride byte offsets */
    char lbo[32], sbo[32];
    snprintf(lbo, sizeof lbo, "%lld", (long long)u->arg.ints[4 + 2 * k]);
    snprintf(sbo, sizeof sbo, "%lld", (long long)u->arg.ints[5 + 2 * k]);
    tg__str at;
    memset(&at, 0, sizeof at);
    tg__str_printf(&at, "%s+%s", tg__expr_of(r, u->src[k]->src[0]), tg__expr_of(r, u->src[k]->src[1]));
    char *ops[3] = {at.s, lbo, sbo}, *desc = tg__fmt_op(r->d->wgmma_desc, ops, 3, 0);
    tg__str_cat(&part[5 + k], desc);
    TG_FREE(desc);
    TG_FREE(at.s);
  }
  snprintf(num, sizeof num, "%lld", (long long)u->arg.ints[0]);
  char ta[4], tb[4];
  snprintf(ta, sizeof ta, "%d", (int)u->arg.ints[1]);
  snprintf(tb, sizeof tb, "%d", (int)u->arg.ints[2]);
  char *ops[9] = {num, part[1].s, part[2].s, part[3].s, ta, tb, part[4].s, part[5].s, part[6].s};
  char *stmt = tg__fmt_op(r->d->wgmma[u->arg.i], ops, 9, 0);
  tg__line(r, "%s", stmt);
  TG_FREE(stmt);
  for (int k = 0; k < 7; k++) TG_FREE(part[k].s);
  int last = 1; /* the run ends at the next statement that is no value of the copies' addresses */
  for (int k = i + 1; k < lin->n && last; k++) {
    tg__op op = lin->u[k]->op;
    if (op == TG__OP_WGMMA) last = 0;
    else if (op != TG__OP_GEP && op != TG__OP_INDEX && op != TG__OP_CONST && !tg__op_is_alu(op)) break;
  }
  if (last) {
    snprintf(num, sizeof num, "%lld", (long long)u->arg.ints[3]);
    one[0] = num;
    char *w = tg__fmt_op(r->d->wgmma_commit, one, 1, 0);
    tg__line(r, "%s", w);
    TG_FREE(w);
    r->wg_run = 0;
    r->wg_pending = u->arg.ints[3] > 0;
  }
}

/* an element of a WMMA's result, or the bits of one of an LDMATRIX's (its words' lower halves first) */
static void tg__rs_gep(tg__rctx *r, const tg__linear *lin, int i) {
  static const char *const lanes[4] = {"x", "y", "z", "w"};
  tg__uop *u = lin->u[i];
  char nm[96];
  int j = (int)tg__const_val(u->src[1]);
  if (u->src[0]->op == TG__OP_WGMMA) /* in place: C's operand, an accumulator */
    snprintf(nm, sizeof nm, "%s", tg__expr_of(r, u->src[0]->src[3 + j]));
  else if (u->src[0]->op == TG__OP_LDMATRIX)
    snprintf(nm, sizeof nm, "((%s)(%s[%d]%s))", tg__mem_ctype(r->d, u->dtype), tg__expr_of(r, u->src[0]), j / 2,
             j % 2 ? ">>16" : "");
  else snprintf(nm, sizeof nm, "%s.%s", tg__expr_of(r, u->src[0]), lanes[j & 3]);
  tg__map_put(&r->expr, u, tg__own(r, tg__strdup(nm)));
}

/* a warp's load of 8x8 matrices from shared memory (the dialect's ldmatrix), into the words ldmN[0..] */
static void tg__rs_ldmatrix(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  tg__name(r, u, "ldm%lld", r->nldm++);
  tg__str a;
  memset(&a, 0, sizeof a);
  tg__str_printf(&a, "%s+%s", tg__expr_of(r, u->src[0]->src[0]), tg__expr_of(r, u->src[0]->src[1]));
  char *ops[2] = {(char *)tg__expr_of(r, u), a.s};
  char *stmt = tg__fmt_op(r->d->ldmatrix[(u->arg.i == 1 ? 0 : u->arg.i == 2 ? 2 : 4) + (u->arg.i2 ? 1 : 0)], ops, 2, 0);
  tg__line(r, "%s", stmt);
  TG_FREE(stmt);
  TG_FREE(a.s);
}



static void tg__rs_store(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  int bits = tg__is_shared(u) && tg__bits_array(u->src[0]->src[0]), raw = tg__map_get(&r->raw, u->src[1]) != NULL;
  const char *fmt = (tg__is_shared(u) && !bits) || raw ? NULL : tg__per_dtype(r->d->store_fmt, u->dtype);
  char *val = tg__own(r, tg__convert(fmt, tg__expr_of(r, u->src[1])));
  double on;
  if (u->nsrc > 2 && !(tg__is_const(u->src[2], &on) && on != 0)) /* PADTO's gate, unless proved true */
    tg__line(r, "if (%s) %s = %s;", tg__expr_of(r, u->src[2]), tg__expr_of(r, u->src[0]), val);
  else tg__line(r, "%s = %s;", tg__expr_of(r, u->src[0]), val);
}

static void tg__rs_nothing(tg__rctx *r, const tg__linear *lin, int i) { (void)r, (void)lin, (void)i; }

/* an array in the workgroup's shared memory, of values (a 16-bit float's is float, a bool's as in memory) */
static void tg__rs_define_local(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  tg__name(r, u, "temp%lld", (long long)u->arg.i);
  if (r->dynamic) { /* a part of the one array sized at launch, 16-byte aligned (linearize's count) */
    int bits = tg__bits_array(u);
    const char *nm = tg__expr_of(r, u), *type = bits ? tg__mem_ctype(r->d, u->dtype) : tg__ctype(r->d, u->dtype);
    if (u->dtype == TG_BOOL) type = tg__mem_ctype(r->d, u->dtype);
    if (r->dyn_at == 0) {
      char name[] = "tg_shared", *ops[1] = {name}, *decl = tg__fmt_op(r->d->dynamic_shared, ops, 1, 0);
      tg__line(r, "%s", decl);
      TG_FREE(decl);
    }
    tg__line(r, "%s *%s = (%s *)(tg_shared + %lld);", type, nm, type, (long long)r->dyn_at);
    r->dyn_at += tg__shared_vectors(u);
    return;
  }
  if (tg__bits_array(u) && r->d->wmma_vec) { /* as 16-byte vectors, so that any multiple of 8 elements is aligned */
    const char *nm = tg__expr_of(r, u), *mem = tg__mem_ctype(r->d, u->dtype);
    tg__line(r, "%s%s %s_v[%lld];", r->d->shared_prefix, r->d->wmma_vec, nm, (long long)(u->arg.i2 + 7) / 8);
    tg__line(r, "%s *%s = (%s *)%s_v;", mem, nm, mem, nm);
    return;
  }
  const char *type = u->dtype == TG_BOOL ? tg__mem_ctype(r->d, u->dtype) : tg__ctype(r->d, u->dtype);
  tg__line(r, "%s%s %s[%lld];", r->d->shared_prefix, type, tg__expr_of(r, u), (long long)u->arg.i2);
}

static void tg__rs_barrier(tg__rctx *r, const tg__linear *lin, int i) {
  int64_t ahead = lin->u[i]->arg.i; /* groups of async copies that may still run (a deeper pipeline's) */
  if (r->copies && ahead > 0 && r->d->async_wait_group) {
    char n[32], *ops[1] = {n}, *w;
    snprintf(n, sizeof n, "%lld", (long long)ahead);
    tg__line(r, "%s", w = tg__fmt_op(r->d->async_wait_group, ops, 1, 0));
    TG_FREE(w);
  } else if (r->copies && r->d->async_wait) tg__line(r, "%s", r->d->async_wait); /* the copies land first */
  if (r->wgmma && r->d->proxy_fence) tg__line(r, "%s", r->d->proxy_fence); /* ...where WGMMAs read them */
  tg__line(r, "%s", r->d->barrier);
}

/* any other value: inlined where it is used once, named otherwise */
static void tg__rs_value(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  const char *e = tg__expr_of(r, u);
  if ((intptr_t)tg__map_get(&r->uses, u) <= 1) return;
  char *saved = tg__strdup(e);
  tg__name(r, u, "alu%lld", r->nalu++);
  tg__line(r, "%s %s = %s;", tg__ctype(r->d, u->dtype), tg__expr_of(r, u), saved);
  TG_FREE(saved);
}

typedef struct tg__stmt { tg__op op; tg__stmt_fn fn; } tg__stmt;
static const tg__stmt tg__stmts[] = {
    {TG__OP_RANGE, tg__rs_range},   {TG__OP_ENDRANGE, tg__rs_endrange}, {TG__OP_DEFINE_ACC, tg__rs_define_acc},
    {TG__OP_ASSIGN, tg__rs_assign}, {TG__OP_REDUCE, tg__rs_reduce},     {TG__OP_INDEX, tg__rs_index},
    {TG__OP_LOAD, tg__rs_load},     {TG__OP_STORE, tg__rs_store},       {TG__OP_CONST, tg__rs_nothing},
    {TG__OP_SINK, tg__rs_nothing},  {TG__OP_DEFINE_GLOBAL, tg__rs_nothing}, {TG__OP_NOOP, tg__rs_nothing},
    {TG__OP_DEFINE_LOCAL, tg__rs_define_local}, {TG__OP_BARRIER, tg__rs_barrier},
    {TG__OP_WMMA, tg__rs_wmma}, {TG__OP_GEP, tg__rs_gep}, {TG__OP_LDMATRIX, tg__rs_ldmatrix},
    {TG__OP_WGMMA, tg__rs_wgmma},
};

static int tg__rs_vector(tg__rctx *r, const tg__linear *lin, int i);

static int tg__rs_vec8(tg__rctx *r, const tg__linear *lin, int i);

static int tg__rs_slp(tg__rctx *r, const tg__linear *lin, int i);

static void tg__render_stmt(tg__rctx *r, const tg__linear *lin, int i) {
  if (tg__rs_vector(r, lin, i) || tg__rs_vec8(r, lin, i) || tg__rs_slp(r, lin, i)) return;
  static tg__stmt_fn table[TG__NOPS];
  if (!table[TG__OP_RANGE])
    for (int k = 0; k < TG__COUNT(tg__stmts); k++) table[tg__stmts[k].op] = tg__stmts[k].fn;
  tg__stmt_fn fn = table[lin->u[i]->op];
  (fn ? fn : tg__rs_value)(r, lin, i);
}

// ---------------------------------------------------------------------------------------------------------------------
// vectors of 4 (a GPU dialect's vec4_load and vec4_store): four loads or stores of adjacent float32 elements at an
// index that is a multiple of 4 become one 16-byte access (tinygrad's float4), as an UPCAST by 4 of a contiguous
// axis makes them; a warp then moves 512 bytes per instruction

/* whether an index expression is a multiple of n whatever its loops: products by multiples of n, and their sums */
static int tg__multiple_of(const tg__uop *u, int n) {
  double c;
  if (tg__is_const(u, &c)) return fmod(c, n) == 0;
  if (u->op == TG__OP_ADD) return tg__multiple_of(u->src[0], n) && tg__multiple_of(u->src[1], n);
  if (u->op == TG__OP_MUL) return tg__multiple_of(u->src[0], n) || tg__multiple_of(u->src[1], n);
  return 0;
}

/* a load's or store's buffer and index when it may join a vector: a global buffer of float32, ungated, with no
 * conversion, or a shared array of float32 (STAGE's tiles: a load after its barrier); NULL otherwise */
static tg__uop *tg__vec_member(const tg__rctx *r, const tg__uop *u, tg__uop **idx) {
  double on;
  int load = u->op == TG__OP_LOAD;
  if ((!load && u->op != TG__OP_STORE) || u->src[0]->op != TG__OP_INDEX) return NULL;
  tg__uop *at = u->src[0];
  int shared = at->src[0]->op == TG__OP_DEFINE_LOCAL && !tg__bits_array(at->src[0]);
  if ((at->src[0]->op != TG__OP_DEFINE_GLOBAL && !shared) || at->nsrc != 2) return NULL;
  tg_dtype dt = load ? u->dtype : u->src[1]->dtype;
  if (dt != TG_FLOAT32 || (!shared && tg__per_dtype(load ? r->d->load_fmt : r->d->store_fmt, dt))) return NULL;
  int gated = u->nsrc > (load ? 1 : 2) && !(tg__is_const(u->src[load ? 1 : 2], &on) && on != 0);
  if (gated || (load && u->nsrc > 2 && !(shared && u->nsrc == 3 && u->src[2]->op == TG__OP_BARRIER))) return NULL;
  *idx = at->src[1];
  return at->src[0];
}

/* one use of u fewer (a vector's member no longer reads its own address); the uses left */
static intptr_t tg__drop_use(tg__rctx *r, const tg__uop *u) {
  intptr_t n = (intptr_t)tg__map_get(&r->uses, u);
  if (n > 0) tg__map_put(&r->uses, u, (void *)(n - 1));
  return n > 0 ? n - 1 : 0;
}

/* finds the vectors of the list (r->vec, r->members): lanes at base + o + 0..3 of one buffer, with base
 * and o multiples of 4; a store's lanes with no load of its buffer between its first and last */
static void tg__find_vectors(tg__rctx *r, const tg__linear *lin) {
  int n = lin->n;
  r->vec = (int *)tg__alloc(sizeof(int) * (size_t)(n + 1));
  r->members = (int(*)[4])tg__alloc(sizeof(int[4]) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) r->vec[i] = -1;
  if (!r->d->vec4_load) return;
  for (int i = 0; i < n; i++) {
    tg__uop *u = lin->u[i], *idx, *buf = r->vec[i] < 0 ? tg__vec_member(r, u, &idx) : NULL;
    int64_t o;
    tg__uop *base = buf ? tg__store_base(u, &o) : NULL;
    if (!buf || o % 4 || !tg__multiple_of(base, 4)) continue;
    int lane[4] = {i, -1, -1, -1}, first = i, last = i;
    for (int k = 0; k < n; k++) {
      tg__uop *v = lin->u[k], *vi, *vb = NULL;
      if (k != i && v->op == u->op && r->vec[k] < 0) vb = tg__vec_member(r, v, &vi);
      int64_t vo;
      if (vb != buf || tg__store_base(v, &vo) != base || vo <= o || vo > o + 3 || lane[vo - o] >= 0) continue;
      lane[vo - o] = k;
      first = k < first ? k : first, last = k > last ? k : last;
    }
    int ok = lane[1] >= 0 && lane[2] >= 0 && lane[3] >= 0;
    for (int k = first; ok && u->op == TG__OP_STORE && k < last; k++) { /* a load of the buffer between */
      tg__uop *v = lin->u[k];
      ok = !(v->op == TG__OP_LOAD && v->src[0]->op == TG__OP_INDEX && v->src[0]->src[0] == buf);
    }
    if (!ok) continue;
    int at = u->op == TG__OP_LOAD ? first : last;
    for (int c = 0; c < 4; c++) {
      r->vec[lane[c]] = at, r->members[at][c] = lane[c];
      tg__uop *index = lin->u[lane[c]]->src[0]; /* no longer rendered: its address needs no name of its own */
      if (tg__drop_use(r, index) == 0) tg__drop_use(r, index->src[1]);
    }
  }
}

/* A raw load of 16-bit bits from a global buffer, ungated, or a store of one into a shared array of bits: its buffer
 * and index when it may join a vector of 8 (TC's staged tiles), NULL otherwise */
static tg__uop *tg__vec8_member(const tg__rctx *r, const tg__uop *u) {
  if (u->op == TG__OP_LOAD)
    return tg__map_get(&r->raw, u) && !tg__is_shared(u) && !tg__gated(u) && u->nsrc < 3 && u->src[0]->nsrc == 2
               ? u->src[0]->src[0]
               : NULL;
  if (u->op != TG__OP_STORE || !tg__is_shared(u) || !tg__bits_array(u->src[0]->src[0]) || u->nsrc > 2) return NULL;
  return u->src[0]->src[0];
}

/* Finds the vectors of 8 (r->vec8): loads of one buffer at base + o + 0..7, base and o multiples of 8; and stores of a
 * shared array at such addresses whose values are the lanes of one such load in order (a 16-byte copy) */
static void tg__find_vec8(tg__rctx *r, const tg__linear *lin) {
  int n = lin->n;
  r->vec8 = (int *)tg__alloc(sizeof(int) * (size_t)(n + 1));
  r->members8 = (int(*)[8])tg__alloc(sizeof(int[8]) * (size_t)(n + 1));
  r->async = (int *)tg__alloc(sizeof(int) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) r->vec8[i] = r->async[i] = -1;
  if (!r->d->wmma_vec) return;
  for (int i = 0; i < n; i++) r->pipelined |= lin->u[i]->op == TG__OP_BARRIER && lin->u[i]->arg.i > 0;
  r->pipelined |= r->wgmma; /* WGMMA's copies run under the tensor cores' work, whatever the buffers */
  tg__map at; /* a load -> its entry + 1 */
  memset(&at, 0, sizeof at);
  for (int i = 0; i < n; i++) tg__map_put(&at, lin->u[i], (void *)(intptr_t)(i + 1));
  for (int pass = 0; pass < 2; pass++) /* loads, then the stores that copy them */
    for (int i = 0; i < n; i++) {
      tg__uop *u = lin->u[i], *buf = r->vec8[i] < 0 && (u->op == TG__OP_LOAD) == !pass ? tg__vec8_member(r, u) : NULL;
      int64_t o;
      tg__uop *base = buf ? tg__store_base(u, &o) : NULL;
      if (!buf || o % 8 || !tg__multiple_of(base, 8)) continue;
      int lane[8] = {i, -1, -1, -1, -1, -1, -1, -1}, first = i, last = i, ok = 1;
      for (int k = 0; k < n; k++) {
        tg__uop *v = lin->u[k];
        int64_t vo;
        if (k == i || v->op != u->op || r->vec8[k] >= 0 || tg__vec8_member(r, v) != buf ||
            tg__store_base(v, &vo) != base || vo <= o || vo > o + 7 || lane[vo - o] >= 0)
          continue;
        lane[vo - o] = k;
        first = k < first ? k : first, last = k > last ? k : last;
      }
      for (int c = 0; c < 8 && ok; c++) ok = lane[c] >= 0;
      for (int c = 0; c < 8 && ok && pass; c++) { /* the lanes of one load vector, in order */
        intptr_t e = (intptr_t)tg__map_get(&at, lin->u[lane[c]]->src[1]) - 1;
        intptr_t e0 = (intptr_t)tg__map_get(&at, lin->u[lane[0]]->src[1]) - 1;
        ok = e >= 0 && e0 >= 0 && r->vec8[e] >= 0 && r->vec8[e] == r->vec8[e0] && r->members8[r->vec8[e]][c] == e;
      }
      if (!ok) continue;
      int render = pass ? last : first, single = pass && r->d->async_copy && r->pipelined;
      for (int c = 0; c < 8; c++) r->vec8[lane[c]] = render, r->members8[render][c] = lane[c];
      for (int c = 0; c < 8 && single; c++) single = (intptr_t)tg__map_get(&r->uses, lin->u[lane[c]]->src[1]) == 1;
      int load = single ? r->vec8[(intptr_t)tg__map_get(&at, lin->u[lane[0]]->src[1]) - 1] : 0;
      for (int k = load; single && k < render; k++) /* issued at the load: no loop opens or closes before the store */
        single = lin->u[k]->op != TG__OP_RANGE && lin->u[k]->op != TG__OP_ENDRANGE;
      if (single) r->async[load] = render; /* a global-to-shared copy whose loads nothing else uses: one cp.async */
    }
  tg__map_free(&at);
}

/* the address of a vector's first member, a load or store: buffer+base(+offset) (malloc'd) */
static char *tg__vector_address(tg__rctx *r, const tg__uop *first) {
  int64_t o;
  tg__uop *base = tg__store_base(first, &o);
  tg__str a;
  memset(&a, 0, sizeof a);
  tg__str_printf(&a, "%s+%s", tg__expr_of(r, first->src[0]->src[0]), tg__expr_of(r, base));
  if (o) tg__str_printf(&a, "+%lld", (long long)o);
  return tg__str_take(&a);
}

/* a member of a vector of 8: the vector's statement at its rendering entry; 0 when not a member */
static int tg__rs_vec8(tg__rctx *r, const tg__linear *lin, int i) {
  if (!r->vec8 || r->vec8[i] < 0) return 0;
  if (r->vec8[i] != i) return 1;
  static const char *const words[4] = {"x", "y", "z", "w"};
  tg__uop *first = lin->u[r->members8[i][0]];
  tg__str ptr;
  memset(&ptr, 0, sizeof ptr);
  ptr.s = tg__vector_address(r, first);
  char *ops[2] = {ptr.s, NULL}, nm[64];
  if (first->op == TG__OP_LOAD && r->async[i] >= 0) { /* issued here, to shared memory, where the store would be */
    char *dst = tg__vector_address(r, lin->u[r->members8[r->async[i]][0]]);
    char *cops[2] = {dst, ptr.s}, *copy = tg__fmt_op(r->d->async_copy, cops, 2, 0);
    tg__line(r, "%s", copy);
    r->copies++;
    TG_FREE(copy);
    TG_FREE(dst);
  } else if (first->op == TG__OP_LOAD) {
    char *load = tg__fmt_op(r->d->wmma_vec_load, ops, 1, 0);
    long long id = r->nvec8++;
    tg__line(r, "%s vecb%lld = %s;", r->d->wmma_vec, id, load);
    TG_FREE(load);
    for (int c = 0; c < 8; c++) {
      snprintf(nm, sizeof nm, "((%s)(vecb%lld.%s%s))", tg__mem_ctype(r->d, first->dtype), id, words[c / 2],
               c % 2 ? ">>16" : "");
      tg__map_put(&r->expr, lin->u[r->members8[i][c]], tg__own(r, tg__strdup(nm)));
      snprintf(nm, sizeof nm, "vecb%lld", id);
      tg__map_put(&r->vname, lin->u[r->members8[i][c]], tg__own(r, tg__strdup(nm)));
    }
  } else if (!tg__map_get(&r->vname, first->src[1])) { /* a copy issued as a cp.async where its load was */
  } else { /* a copy of a load vector */
    ops[1] = (char *)tg__map_get(&r->vname, first->src[1]);
    char *store = tg__fmt_op(r->d->wmma_vec_store, ops, 2, 0);
    tg__line(r, "%s", store);
    TG_FREE(store);
  }
  TG_FREE(ptr.s);
  return 1;
}

/* a member of a vector: the vector's statement when this is its rendering entry; 0 when not a member */
static int tg__rs_vector(tg__rctx *r, const tg__linear *lin, int i) {
  if (!r->vec || r->vec[i] < 0) return 0;
  if (r->vec[i] != i) return 1; /* another member renders it */
  static const char *const lanes[4] = {"x", "y", "z", "w"};
  tg__uop *u = lin->u[i], *first = lin->u[r->members[i][0]];
  int64_t o;
  tg__uop *base = tg__store_base(first, &o);
  char *ops[2];
  tg__str ptr, vals;
  memset(&ptr, 0, sizeof ptr);
  memset(&vals, 0, sizeof vals);
  tg__str_printf(&ptr, "%s+%s", tg__expr_of(r, first->src[0]->src[0]), tg__expr_of(r, base));
  if (o) tg__str_printf(&ptr, "+%lld", (long long)o);
  ops[0] = ptr.s;
  if (u->op == TG__OP_LOAD) {
    char *load = tg__fmt_op(r->d->vec4_load, ops, 1, 0), nm[64];
    long long id = r->nvec++;
    tg__line(r, "float4 vec%lld = %s;", id, load);
    TG_FREE(load);
    for (int c = 0; c < 4; c++) {
      snprintf(nm, sizeof nm, "vec%lld.%s", id, lanes[c]);
      tg__map_put(&r->expr, lin->u[r->members[i][c]], tg__own(r, tg__strdup(nm)));
    }
  } else {
    for (int c = 0; c < 4; c++)
      tg__str_printf(&vals, "%s%s", c ? "," : "", tg__expr_of(r, lin->u[r->members[i][c]]->src[1]));
    ops[1] = vals.s;
    char *store = tg__fmt_op(r->d->vec4_store, ops, 2, 0);
    tg__line(r, "%s", store);
    TG_FREE(store);
  }
  TG_FREE(ptr.s);
  TG_FREE(vals.s);
  return 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// explicit vectors (tg__dialect.vectors): a register tile's accumulators, W at a time (W = tg__linear.vec_width),
// become one vector each when their updates are alike lane by lane: the same op in every lane down to values that
// are one scalar for all lanes (a block's scale), constants, or loads of W adjacent elements of one buffer (a
// weight's row, four-bit nibbles included: bytes widen to 32-bit lanes). This is SLP vectorisation done by the
// renderer, which knows the lanes, instead of hoping GCC's finds them: GCC 12 on Zen 3 made a Q4_1 matrix-vector
// product's 128 accumulators four-lane vectors fed by scalar byte loads and shifts (129 us for 576x576 on one core);
// written as eight-lane vectors it takes 36-41 us. The scalar statements stay (GCC drops those no longer used).

#define TG__SLP_MAX 16 /* lanes */

typedef struct tg__slp_group { /* W accumulators updated as one vector */
  tg__uop *acc[TG__SLP_MAX], *val[TG__SLP_MAX];
  int last; /* the entry of its last ASSIGN, which renders the update */
  char *name;
} tg__slp_group;

#define TG__SLPB_MAX 64 /* byte lanes: 4 a 32-bit lane */

typedef struct tg__slp_memo { /* a vector rendered in the current loop body: its lanes and its name */
  tg__uop *lanes[TG__SLPB_MAX];
  int n;
  const char *name;
} tg__slp_memo;

/* the kind of a 32-bit lane holding dtype dt: 'f' float, 'i' int (the narrow integers widened), 'u' unsigned; 0 none */
static int tg__slp_kind(tg_dtype dt) {
  switch (dt) {
  case TG_FLOAT32: return 'f';
  case TG_INT32: case TG_INT8: case TG_UINT8: case TG_INT16: case TG_UINT16: return 'i';
  case TG_UINT32: return 'u';
  default: return 0;
  }
}
static int tg__slp_narrow(tg_dtype dt) { return tg__dtypes[dt].size < 4; }
static const char *tg__slp_type(int kind) { return kind == 'f' ? "tg_vf" : kind == 'u' ? "tg_vu" : "tg_vi"; }

/* whether every lane is u[0] */
static int tg__slp_same(tg__uop *const *u, int w) {
  for (int k = 1; k < w; k++)
    if (u[k] != u[0]) return 0;
  return 1;
}

/* W loads of adjacent elements of one global buffer, ungated, in lane order, of a dtype a vector load widens */
static int tg__slp_loads(tg__uop *const *u, int w) {
  int64_t o0 = 0, o;
  tg__uop *base = NULL;
  for (int k = 0; k < w; k++) {
    tg__uop *l = u[k];
    double on;
    if (l->op != TG__OP_LOAD || l->src[0]->op != TG__OP_INDEX || l->src[0]->nsrc != 2 ||
        l->src[0]->src[0]->op != TG__OP_DEFINE_GLOBAL || l->src[0]->src[0] != u[0]->src[0]->src[0] ||
        l->dtype != u[0]->dtype || l->nsrc > 2 || l->nsrc != u[0]->nsrc)
      return 0;
    if (l->nsrc == 2 && !(tg__is_const(l->src[1], &on) && on != 0) && l->src[1] != u[0]->src[1])
      return 0; /* gated: by one gate for every lane (a packed nibble's half, chosen by the block's position) */
    tg__uop *b = tg__store_base(l, &o);
    if (!k) base = b, o0 = o;
    else if (b != base || o != o0 + k) return 0;
  }
  tg_dtype dt = u[0]->dtype;
  return dt == TG_FLOAT32 || dt == TG_INT32 || dt == TG_UINT32 || dt == TG_UINT8 || dt == TG_INT8;
}

/* whether a and b could be lanes of one vector at first sight: one value, or one op of one dtype (a load: of one
 * buffer) */
static int tg__slp_like_at(const tg__uop *a, const tg__uop *b, int depth) {
  if (a == b) return 1;
  if (a->op != b->op || a->dtype != b->dtype || a->nsrc != b->nsrc) return 0;
  if (a->op == TG__OP_LOAD)
    return a->src[0]->op == TG__OP_INDEX && b->src[0]->op == TG__OP_INDEX && a->src[0]->src[0] == b->src[0]->src[0];
  if (a->op == TG__OP_WHERE && a->src[0] != b->src[0]) return 0; /* one condition */
  for (int i = 0; depth > 0 && i < a->nsrc; i++)
    if (!tg__slp_like_at(a->src[i], b->src[i], depth - 1)) return 0;
  return 1;
}
static int tg__slp_like(const tg__uop *a, const tg__uop *b) { return tg__slp_like_at(a, b, 2); }

/* operand j of each lane of u (a binary op) into lanes: a commutative op's operands are taken in the order that
 * lines them up with lane 0's (the graph orders x + y by its own rule: one lane adds the low nibbles' bytes to the
 * high ones', the next the other way round) */
static void tg__slp_operands(tg__uop *const *u, int w, int j, tg__uop **lanes) {
  int comm = u[0]->nsrc == 2 && (tg__ops[u[0]->op].flags & TG__OPF_COMMUTATIVE);
  for (int k = 0; k < w; k++) {
    int swap = comm && k && !tg__slp_like(u[k]->src[0], u[0]->src[0]) && tg__slp_like(u[k]->src[1], u[0]->src[0]) &&
               tg__slp_like(u[k]->src[0], u[0]->src[1]);
    lanes[k] = u[k]->src[swap ? 1 - j : j];
  }
}

static int tg__slp_dot_ok(tg__uop *const *u, int w, tg__uop **a, tg__uop **b);

/* whether lanes u[0..w) can be one vector (the ops the vector extensions have, on lanes of one kind) */
static int tg__slp_ok(tg__uop *const *u, int w, int depth) {
  tg_dtype dt = u[0]->dtype;
  int kind = tg__slp_kind(dt);
  if (tg__slp_same(u, w)) /* one scalar, broadcast (16-bit floats are float values in a kernel) */
    return kind || dt == TG_FLOAT16 || dt == TG_BFLOAT16;
  if (!kind || depth > 48) return 0;
  int consts = 1;
  for (int k = 0; k < w; k++) consts &= u[k]->op == TG__OP_CONST && u[k]->dtype == dt;
  if (consts) return 1;
  if (u[0]->op == TG__OP_ADD && tg__slp_dot_ok(u, w, NULL, NULL)) return 1;
  if (u[0]->op == TG__OP_LOAD) return tg__slp_loads(u, w);
  tg__op op = u[0]->op;
  for (int k = 1; k < w; k++) {
    if (u[k]->op != op || u[k]->dtype != dt || u[k]->nsrc != u[0]->nsrc) return 0;
    for (int j = 0; j < u[0]->nsrc; j++)
      if (u[k]->src[j]->dtype != u[0]->src[j]->dtype) return 0;
  }
  int narrow = tg__slp_narrow(dt), ok;
  switch (op) {
  case TG__OP_AND: case TG__OP_OR: case TG__OP_XOR: case TG__OP_SHR: ok = 1; break; /* exact on widened lanes */
  case TG__OP_ADD: case TG__OP_SUB: case TG__OP_MUL: case TG__OP_NEG: ok = 1; break; /* narrow: wrapped after */
  case TG__OP_SHL: ok = kind != 'f'; break;
  case TG__OP_CAST: ok = !narrow && tg__slp_kind(u[0]->src[0]->dtype); break; /* C's conversions, lane by lane */
  case TG__OP_WHERE: { /* one condition for every lane: C's ?: between two vectors */
    ok = 1;
    for (int k = 1; k < w; k++) ok &= u[k]->src[0] == u[0]->src[0];
    tg__uop *lanes[TG__SLP_MAX];
    for (int j = 1; ok && j < 3; j++) {
      for (int k = 0; k < w; k++) lanes[k] = u[k]->src[j];
      ok = tg__slp_ok(lanes, w, depth + 1);
    }
    return ok;
  }
  case TG__OP_BITCAST: /* between narrow integers of one size (a Q8_0 weight's bytes as int8): widened again */
    ok = narrow && tg__slp_kind(u[0]->src[0]->dtype) && tg__dtypes[u[0]->src[0]->dtype].size == tg__dtypes[dt].size;
    break;
  default: ok = 0;
  }
  if (kind == 'f' && (op == TG__OP_AND || op == TG__OP_OR || op == TG__OP_XOR || op == TG__OP_SHR)) ok = 0;
  tg__uop *lanes[TG__SLP_MAX];
  for (int j = 0; ok && j < u[0]->nsrc; j++) {
    tg__slp_operands(u, w, j, lanes);
    ok = tg__slp_ok(lanes, w, depth + 1);
  }
  return ok;
}

/* a vector's statement `type vvN = e;` rendered, and remembered with its n lanes for the rest of the loop body */
static const char *tg__slp_name(tg__rctx *r, tg__uop *const *u, int n, const char *type, tg__str *e) {
  char nm[32];
  snprintf(nm, sizeof nm, "vv%lld", r->nvv++);
  tg__line(r, "%s %s = %s;", type, nm, e->s);
  TG_FREE(e->s);
  if (r->nmemo == r->cmemo) {
    r->cmemo = r->cmemo ? 2 * r->cmemo : 64;
    r->memo = (tg__slp_memo *)tg__realloc(r->memo, sizeof(tg__slp_memo) * (size_t)r->cmemo);
  }
  tg__slp_memo *m = &r->memo[r->nmemo++];
  memset(m, 0, sizeof *m);
  memcpy(m->lanes, u, sizeof(tg__uop *) * (size_t)n);
  m->n = n;
  m->name = tg__own(r, tg__strdup(nm));
  return m->name;
}

static const char *tg__slp_found(tg__rctx *r, tg__uop *const *u, int n) {
  for (int m = 0; m < r->nmemo; m++)
    if (r->memo[m].n == n && !memcmp(r->memo[m].lanes, u, sizeof(tg__uop *) * (size_t)n)) return r->memo[m].name;
  return NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// integer dot products of bytes: W 32-bit lanes, each the sum of 4 products of bytes, (int)a * (int)b, whose 4W
// bytes of a and of b are each one vector of bytes (a quantised weight's 32 quants of a block, an activation's 32
// int8 values: llama.cpp's Q4_1 x Q8_1 product). One instruction multiplies and sums them: vpdpbusd (AVX-VNNI,
// AVX-512 VNNI), else vpmaddubsw then vpmaddwd (AVX2, AVX-512 BW: 32 or 64 products in two instructions, where the
// float path spends three for 8), else a loop. vpmaddubsw takes a as unsigned bytes and b as signed ones and
// saturates each pair's sum to 16 bits, so a must be an unsigned byte of at most 127 (a nibble: its bound is read
// off the masks and shifts) and b an int8 (or such a byte): a pair's sum then fits, and each lane is exact.

/* the largest value an unsigned byte's expression can take (255 when not known) */
static int tg__byte_max(const tg__uop *u) {
  double c;
  if (tg__is_const(u, &c)) return c >= 0 && c <= 255 ? (int)c : 255;
  if (u->dtype != TG_UINT8) return 255;
  int a, b;
  switch (u->op) {
  case TG__OP_AND:
    a = tg__byte_max(u->src[0]), b = tg__byte_max(u->src[1]);
    return a < b ? a : b;
  case TG__OP_OR:
    a = tg__byte_max(u->src[0]) | tg__byte_max(u->src[1]);
    for (b = 1; b < a; b = 2 * b + 1) {}
    return b;
  case TG__OP_SHR: return tg__is_const(u->src[1], &c) && c >= 0 && c < 8 ? tg__byte_max(u->src[0]) >> (int)c : 255;
  case TG__OP_SHL:
    if (!tg__is_const(u->src[1], &c) || c < 0 || c >= 8) return 255;
    a = tg__byte_max(u->src[0]) << (int)c;
    return a > 255 ? 255 : a;
  case TG__OP_ADD: /* no wrap below 256 */
    a = tg__byte_max(u->src[0]) + tg__byte_max(u->src[1]);
    return a > 255 ? 255 : a;
  case TG__OP_WHERE:
    a = tg__byte_max(u->src[1]), b = tg__byte_max(u->src[2]);
    return a > b ? a : b;
  default: return 255;
  }
}

/* byte b of a product's operand: the byte under a cast to int32, else NULL */
static tg__uop *tg__dot_byte(tg__uop *x) {
  return x->op == TG__OP_CAST && x->dtype == TG_INT32 && (x->src[0]->dtype == TG_UINT8 || x->src[0]->dtype == TG_INT8)
             ? x->src[0]
             : NULL;
}

/* a lane's value as a sum of 4 products of bytes (an ADD tree, its terms in order): a[k] the unsigned ones (at most
 * 127), b[k] the others (int8, or unsigned at most 127): 1; or both int8 (a Q8_0 weight's): 2; else 0 */
static int tg__dot_terms(tg__uop *v, tg__uop **a, tg__uop **b) {
  tg__uop *stack[8], *t[4];
  int ns = 0, nt = 0;
  stack[ns++] = v;
  while (ns) { /* depth first, left operand first: the terms in the order of the tree's leaves */
    tg__uop *x = stack[--ns];
    if (x->op == TG__OP_ADD && x->dtype == TG_INT32 && ns + 2 <= 8) {
      stack[ns++] = x->src[1];
      stack[ns++] = x->src[0];
    } else {
      if (nt == 4 || x->op != TG__OP_MUL || x->dtype != TG_INT32) return 0;
      t[nt++] = x;
    }
  }
  if (nt != 4) return 0;
  int kind = 0;
  for (int k = 0; k < 4; k++) {
    tg__uop *p = tg__dot_byte(t[k]->src[0]), *q = tg__dot_byte(t[k]->src[1]);
    if (!p || !q) return 0;
    int pu = p->dtype == TG_UINT8 && tg__byte_max(p) <= 127, qu = q->dtype == TG_UINT8 && tg__byte_max(q) <= 127;
    if (!pu && qu) {
      tg__uop *tmp = p;
      p = q, q = tmp;
      pu = 1, qu = 0;
    }
    int kk = pu && (q->dtype == TG_INT8 || qu) ? 1 : p->dtype == TG_INT8 && q->dtype == TG_INT8 ? 2 : 0;
    if (!kk || (kind && kk != kind)) return 0;
    kind = kk;
    a[k] = p, b[k] = q;
  }
  return kind;
}

/* n lanes of bytes (one dtype, 8 bits) as one vector: a broadcast, constants, n adjacent loads of one buffer (gated
 * by one gate for every lane, or not), or one op in every lane (& | ^ +, wrapping as bytes do; >> and << by one
 * constant, on unsigned bytes; a WHERE with one condition for every lane; a bitcast between bytes) */
static int tg__slpb_ok(tg__uop *const *u, int n, int depth) {
  tg_dtype dt = u[0]->dtype;
  if (dt != TG_UINT8 && dt != TG_INT8) return 0;
  if (tg__slp_same(u, n)) return 1;
  if (depth > 16) return 0;
  int consts = 1;
  for (int k = 0; k < n; k++) consts &= u[k]->op == TG__OP_CONST && u[k]->dtype == dt;
  if (consts) return 1;
  if (u[0]->op == TG__OP_LOAD) return tg__slp_loads(u, n);
  tg__op op = u[0]->op;
  for (int k = 1; k < n; k++)
    if (u[k]->op != op || u[k]->dtype != dt || u[k]->nsrc != u[0]->nsrc) return 0;
  tg__uop *lanes[TG__SLPB_MAX];
  switch (op) {
  case TG__OP_AND: case TG__OP_OR: case TG__OP_XOR: case TG__OP_ADD:
    for (int j = 0; j < 2; j++) {
      tg__slp_operands(u, n, j, lanes);
      if (!tg__slpb_ok(lanes, n, depth + 1)) return 0;
    }
    return 1;
  case TG__OP_WHERE:
    for (int k = 1; k < n; k++)
      if (u[k]->src[0] != u[0]->src[0]) return 0;
    for (int j = 1; j < 3; j++) {
      for (int k = 0; k < n; k++) lanes[k] = u[k]->src[j];
      if (!tg__slpb_ok(lanes, n, depth + 1)) return 0;
    }
    return 1;
  case TG__OP_SHR: case TG__OP_SHL: {
    double c;
    for (int k = 0; k < n; k++) lanes[k] = u[k]->src[1];
    if (dt != TG_UINT8 || !tg__slp_same(lanes, n) || !tg__is_const(lanes[0], &c)) return 0;
    for (int k = 0; k < n; k++) lanes[k] = u[k]->src[0];
    return tg__slpb_ok(lanes, n, depth + 1);
  }
  case TG__OP_BITCAST:
    for (int k = 0; k < n; k++) lanes[k] = u[k]->src[0];
    return tg__slpb_ok(lanes, n, depth + 1);
  default: return 0;
  }
}

/* ...or two halves of at least 16 lanes that each are (a weight's 32 quants: the low nibbles of its 16 bytes, then
 * the high ones) */
static int tg__slpb_halves_ok(tg__uop *const *u, int n) {
  if (tg__slpb_ok(u, n, 0)) return 1;
  return n > 16 && n % 2 == 0 && tg__slpb_halves_ok(u, n / 2) && tg__slpb_halves_ok(u + n / 2, n / 2);
}

/* whether lanes u[0..w) are integer dot products of bytes (a and b of 4w lanes each into a, b when given): 1 for
 * unsigned by signed bytes (tg_vdot4), 2 for signed by signed (tg_vdot4s), else 0 */
static int tg__slp_dot_ok(tg__uop *const *u, int w, tg__uop **a, tg__uop **b) {
  tg__uop *pa[TG__SLPB_MAX], *pb[TG__SLPB_MAX];
  if (u[0]->dtype != TG_INT32 || (w != 8 && w != 16)) return 0;
  int kind = 0;
  for (int k = 0; k < w; k++) {
    int kk = tg__dot_terms(u[k], pa + 4 * k, pb + 4 * k);
    if (!kk || (kind && kk != kind) || (kk == 2 && w != 8)) return 0;
    kind = kk;
  }
  if (!tg__slpb_halves_ok(pa, 4 * w) || !tg__slpb_halves_ok(pb, 4 * w)) return 0;
  if (a) memcpy(a, pa, sizeof(tg__uop *) * (size_t)(4 * w)), memcpy(b, pb, sizeof(tg__uop *) * (size_t)(4 * w));
  return kind;
}

/* the byte vector of lanes u[0..n) (tg__slpb_halves_ok), type tg_vbN */
static const char *tg__slpb_emit(tg__rctx *r, tg__uop *const *u, int n) {
  const char *found = tg__slp_found(r, u, n);
  if (found) return found;
  char type[16];
  snprintf(type, sizeof type, "tg_vb%d", n);
  tg__str e;
  memset(&e, 0, sizeof e);
  if (!tg__slpb_ok(u, n, 0)) {
    const char *lo = tg__slpb_emit(r, u, n / 2), *hi = tg__slpb_emit(r, u + n / 2, n / 2);
    tg__str_printf(&e, "tg_vbcat%d(%s, %s)", n / 2, lo, hi);
  } else if (tg__slp_same(u, n)) {
    tg__str_printf(&e, "(%s){0} + (unsigned char)(%s)", type, tg__expr_of(r, u[0]));
  } else if (u[0]->op == TG__OP_CONST) {
    tg__str_printf(&e, "(%s){", type);
    for (int k = 0; k < n; k++) {
      double c = 0;
      tg__is_const(u[k], &c);
      tg__str_printf(&e, "%s%d", k ? ", " : "", (int)((int64_t)c & 255));
    }
    tg__str_cat(&e, "}");
  } else if (u[0]->op == TG__OP_LOAD) {
    int64_t o;
    tg__uop *base = tg__store_base(u[0], &o);
    double on;
    int gated = u[0]->nsrc == 2 && !(tg__is_const(u[0]->src[1], &on) && on != 0);
    if (gated) tg__str_printf(&e, "%s ? ", tg__expr_of(r, u[0]->src[1])); /* a closed gate loads nothing */
    tg__str_printf(&e, "tg_vbld%d(%s+%s", n, tg__expr_of(r, u[0]->src[0]->src[0]), tg__expr_of(r, base));
    if (o) tg__str_printf(&e, "+%lld", (long long)o);
    tg__str_cat(&e, ")");
    if (gated) tg__str_printf(&e, " : (%s){0}", type);
  } else if (u[0]->op == TG__OP_WHERE) {
    tg__uop *lanes[TG__SLPB_MAX];
    const char *ops[2];
    for (int j = 1; j < 3; j++) {
      for (int k = 0; k < n; k++) lanes[k] = u[k]->src[j];
      ops[j - 1] = tg__slpb_emit(r, lanes, n);
    }
    tg__str_printf(&e, "%s ? %s : %s", tg__expr_of(r, u[0]->src[0]), ops[0], ops[1]);
  } else if (u[0]->op == TG__OP_BITCAST) {
    tg__uop *lanes[TG__SLPB_MAX];
    for (int k = 0; k < n; k++) lanes[k] = u[k]->src[0];
    tg__str_cat(&e, tg__slpb_emit(r, lanes, n));
  } else if (u[0]->op == TG__OP_SHR || u[0]->op == TG__OP_SHL) {
    tg__uop *lanes[TG__SLPB_MAX];
    double c = 0;
    for (int k = 0; k < n; k++) lanes[k] = u[k]->src[0];
    tg__is_const(u[0]->src[1], &c);
    tg__str_printf(&e, "%s %s %d", tg__slpb_emit(r, lanes, n), u[0]->op == TG__OP_SHR ? ">>" : "<<", (int)c);
  } else {
    tg__uop *lanes[TG__SLPB_MAX];
    const char *ops[2];
    for (int j = 0; j < 2; j++) {
      tg__slp_operands(u, n, j, lanes);
      ops[j] = tg__slpb_emit(r, lanes, n);
    }
    tg__str_printf(&e, "%s %s %s", ops[0],
                   u[0]->op == TG__OP_AND ? "&" : u[0]->op == TG__OP_OR ? "|" : u[0]->op == TG__OP_XOR ? "^" : "+", ops[1]);
  }
  r->used_dot = 1;
  return tg__slp_name(r, u, n, type, &e);
}

/* the vector of lanes u[0..w) in the current loop body: its name, its statements rendered first (found again when
 * rendered before in this body) */
static const char *tg__slp_emit(tg__rctx *r, tg__uop *const *u, int w) {
  const char *found = tg__slp_found(r, u, w);
  if (found) return found;
  tg_dtype dt = u[0]->dtype;
  tg__uop *da[TG__SLPB_MAX], *db[TG__SLPB_MAX];
  int dot;
  int kind = tg__slp_kind(dt) ? tg__slp_kind(dt) : 'f';
  const char *type = tg__slp_type(kind);
  tg__str e;
  memset(&e, 0, sizeof e);
  if (tg__slp_same(u, w)) {
    tg__str_printf(&e, "tg_vset_%c(%s)", kind, tg__expr_of(r, u[0]));
  } else if (u[0]->op == TG__OP_CONST) {
    tg__str_printf(&e, "(%s){", type);
    for (int k = 0; k < w; k++) tg__str_printf(&e, "%s%s", k ? ", " : "", tg__expr_of(r, u[k]));
    tg__str_cat(&e, "}");
  } else if (u[0]->op == TG__OP_LOAD) {
    int64_t o;
    tg__uop *base = tg__store_base(u[0], &o);
    const char *fn = dt == TG_UINT8 ? "u8" : dt == TG_INT8 ? "s8" : dt == TG_UINT32 ? "u" : dt == TG_INT32 ? "i" : "f";
    double on;
    int gated = u[0]->nsrc == 2 && !(tg__is_const(u[0]->src[1], &on) && on != 0);
    if (gated) tg__str_printf(&e, "%s ? ", tg__expr_of(r, u[0]->src[1]));
    tg__str_printf(&e, "tg_vld_%s(%s+%s", fn, tg__expr_of(r, u[0]->src[0]->src[0]), tg__expr_of(r, base));
    if (o) tg__str_printf(&e, "+%lld", (long long)o);
    tg__str_cat(&e, ")");
    if (gated) tg__str_printf(&e, " : tg_vset_%c(0)", kind);
  } else if (u[0]->op == TG__OP_ADD && (dot = tg__slp_dot_ok(u, w, da, db)) != 0) {
    const char *a = tg__slpb_emit(r, da, 4 * w), *b = tg__slpb_emit(r, db, 4 * w);
    tg__str_printf(&e, "tg_vdot4%s(%s, %s)", dot == 2 ? "s" : "", a, b);
  } else {
    const char *ops[3] = {NULL, NULL, NULL};
    tg__uop *lanes[TG__SLP_MAX];
    for (int j = u[0]->op == TG__OP_WHERE; j < u[0]->nsrc && j < 3; j++) { /* a WHERE's condition is one scalar */
      tg__slp_operands(u, w, j, lanes);
      ops[j] = tg__slp_emit(r, lanes, w);
    }
    int skind = u[0]->nsrc ? (tg__slp_kind(u[0]->src[0]->dtype) ? tg__slp_kind(u[0]->src[0]->dtype) : 'f') : kind;
    switch (u[0]->op) {
    case TG__OP_NEG: tg__str_printf(&e, "-%s", ops[0]); break;
    case TG__OP_WHERE: tg__str_printf(&e, "%s ? %s : %s", tg__expr_of(r, u[0]->src[0]), ops[1], ops[2]); break;
    case TG__OP_BITCAST: /* the lanes' bits as the narrower dtype, widened again */
      tg__str_printf(&e, "%s", ops[0]);
      break;
    case TG__OP_CAST:
      if (skind == kind) tg__str_cat(&e, ops[0]);
      else tg__str_printf(&e, "__builtin_convertvector(%s, %s)", ops[0], type);
      break;
    default: {
      const char *sym = u[0]->op == TG__OP_ADD ? "+" : u[0]->op == TG__OP_SUB ? "-" : u[0]->op == TG__OP_MUL ? "*"
                        : u[0]->op == TG__OP_AND ? "&" : u[0]->op == TG__OP_OR ? "|" : u[0]->op == TG__OP_XOR ? "^"
                        : u[0]->op == TG__OP_SHL ? "<<" : ">>";
      tg__str_printf(&e, "%s %s %s", ops[0], sym, ops[1]);
    }
    }
  }
  int bits = 32 - 8 * tg__dtypes[dt].size; /* a narrow integer's arithmetic wraps as the dtype does */
  if (tg__slp_narrow(dt) && (u[0]->op == TG__OP_ADD || u[0]->op == TG__OP_SUB || u[0]->op == TG__OP_MUL ||
                             u[0]->op == TG__OP_NEG || u[0]->op == TG__OP_SHL || u[0]->op == TG__OP_BITCAST)) {
    char *x = e.s;
    memset(&e, 0, sizeof e);
    if (tg__dtypes[dt].is_unsigned) tg__str_printf(&e, "(%s) & %d", x, (1 << (32 - bits)) - 1);
    else tg__str_printf(&e, "((%s) << %d) >> %d", x, bits, bits);
    TG_FREE(x);
  }
  return tg__slp_name(r, u, w, type, &e);
}

/* acc = acc + v (either order): v, else NULL */
static tg__uop *tg__slp_update(const tg__uop *a) {
  if (a->op != TG__OP_ASSIGN || a->src[0]->op != TG__OP_DEFINE_ACC || a->src[1]->op != TG__OP_ADD) return NULL;
  tg__uop *add = a->src[1];
  return add->src[0] == a->src[0] ? add->src[1] : add->src[1] == a->src[0] ? add->src[0] : NULL;
}

/* Finds the vector groups: in each loop body, the runs of accumulator updates of one dtype (float32, int32) cut into
 * groups of W in the list's order (a tile's lanes), each kept when its values are alike lane by lane (tg__slp_ok) */
static void tg__find_slp(tg__rctx *r, const tg__linear *lin) {
  int w = r->d->vectors ? lin->vec_width : 0, n = lin->n;
  r->slp = (int *)tg__alloc(sizeof(int) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) r->slp[i] = -1;
  if (w < 2 || w > TG__SLP_MAX) return;
  tg__map entry; /* DEFINE_ACC -> its entry + 1 */
  memset(&entry, 0, sizeof entry);
  for (int i = 0; i < n; i++)
    if (lin->u[i]->op == TG__OP_DEFINE_ACC) tg__map_put(&entry, lin->u[i], (void *)(intptr_t)(i + 1));
  int run[TG__SLP_MAX], nrun = 0;
  for (int i = 0; i < n; i++) {
    tg__uop *u = lin->u[i], *v = tg__slp_update(u);
    if (u->op == TG__OP_RANGE || u->op == TG__OP_ENDRANGE) nrun = 0;
    if (!v || (u->dtype != TG_FLOAT32 && u->dtype != TG_INT32) || !tg__map_get(&entry, u->src[0])) continue;
    if (nrun && lin->u[run[0]]->dtype != u->dtype) nrun = 0;
    run[nrun++] = i;
    if (nrun < w) continue;
    nrun = 0;
    tg__uop *vals[TG__SLP_MAX];
    int ok = 1;
    for (int k = 0; k < w; k++) {
      tg__uop *a = lin->u[run[k]];
      vals[k] = tg__slp_update(a);
      ok &= a->src[0]->src[0] == lin->u[run[0]]->src[0]->src[0]; /* one initial value */
    }
    if (!ok || !tg__slp_ok(vals, w, 0)) continue;
    if (r->ngroups == r->cgroups) {
      r->cgroups = r->cgroups ? 2 * r->cgroups : 16;
      r->groups = (tg__slp_group *)tg__realloc(r->groups, sizeof(tg__slp_group) * (size_t)r->cgroups);
    }
    tg__slp_group *g = &r->groups[r->ngroups];
    memset(g, 0, sizeof *g);
    g->last = run[w - 1];
    for (int k = 0; k < w; k++) {
      g->acc[k] = lin->u[run[k]]->src[0], g->val[k] = vals[k];
      r->slp[run[k]] = r->ngroups;
      r->slp[(intptr_t)tg__map_get(&entry, g->acc[k]) - 1] = r->ngroups;
    }
    r->ngroups++;
  }
  tg__map_free(&entry);
}

/* the explicit vectors' helpers for w lanes: types, loads (bytes widened to 32 bits) and broadcasts */
static void tg__slp_prelude(tg__str *out, int w) {
  tg__str_printf(out, "typedef float tg_vf __attribute__((vector_size(%d)));\n", 4 * w);
  tg__str_printf(out, "typedef int tg_vi __attribute__((vector_size(%d)));\n", 4 * w);
  tg__str_printf(out, "typedef unsigned int tg_vu __attribute__((vector_size(%d)));\n", 4 * w);
  static const char *const plain[3][2] = {{"f", "float"}, {"i", "int"}, {"u", "unsigned int"}};
  for (int t = 0; t < 3; t++) {
    const char *c = plain[t][0], *ct = plain[t][1];
    tg__str_printf(out, "TG_FN tg_v%s tg_vld_%s(const %s *p) { tg_v%s v; __builtin_memcpy(&v, p, sizeof v); "
                        "return v; }\n", c, c, ct, c);
    tg__str_printf(out, "TG_FN tg_v%s tg_vset_%s(%s x) { tg_v%s v = {", c, c, ct, c);
    for (int k = 0; k < w; k++) tg__str_cat(out, k ? ", x" : "x");
    tg__str_cat(out, "}; return v; }\n");
  }
  /* bytes widened to 32-bit lanes: one vpmovzxbd / vpmovsxbd where GCC has them (its generic conversion of a vector
   * of 8 bytes extracts them one by one), clang's conversion, or a loop */
  static const char *const bytes[2][3] = {{"u8", "unsigned char", "zx"}, {"s8", "signed char", "sx"}};
  for (int t = 0; t < 2; t++) {
    const char *c = bytes[t][0], *ct = bytes[t][1], *x = bytes[t][2];
    tg__str_printf(out, "TG_FN tg_vi tg_vld_%s(const %s *p) {\n", c, ct);
    if (w == 8 || w == 16) {
      tg__str_cat(out, "#if defined(__GNUC__) && !defined(__clang__) && ");
      tg__str_cat(out, w == 8 ? "defined(__AVX2__)\n" : "defined(__AVX512F__)\n");
      tg__str_cat(out, "  typedef char c16 __attribute__((vector_size(16)));\n");
      if (w == 8)
        tg__str_printf(out, "  typedef long long l2 __attribute__((vector_size(16))); long long q; "
                            "__builtin_memcpy(&q, p, 8); l2 v = {q, 0}; "
                            "return (tg_vi)__builtin_ia32_pmov%sbd256((c16)v);\n", x);
      else
        tg__str_printf(out, "  c16 v; __builtin_memcpy(&v, p, 16); return (tg_vi)__builtin_ia32_pmov%sbd512_mask(v, "
                            "(tg_vi){0}, (unsigned short)-1);\n", x);
      tg__str_cat(out, "#elif defined(__clang__)\n");
    } else {
      tg__str_cat(out, "#if defined(__clang__)\n");
    }
    tg__str_printf(out, "  typedef %s b __attribute__((vector_size(%d))); b v; __builtin_memcpy(&v, p, %d); "
                        "return __builtin_convertvector(v, tg_vi);\n#else\n", ct, w, w);
    tg__str_printf(out, "  tg_vi v; for (int k = 0; k < %d; k++) v[k] = p[k]; return v;\n#endif\n}\n", w);
  }
}

/* the byte vectors' helpers (16 and 4w lanes: loads, halves put together) and tg_vdot4 for w 32-bit lanes */
static void tg__slpb_prelude(tg__str *out, int w) {
  tg__str_cat(out, "#if defined(__AVX2__) || defined(__AVX512F__)\n#include <immintrin.h>\n#endif\n");
  for (int n = 16; n <= 4 * w; n *= 2) {
    tg__str_printf(out, "typedef unsigned char tg_vb%d __attribute__((vector_size(%d)));\n", n, n);
    tg__str_printf(out, "TG_FN tg_vb%d tg_vbld%d(const void *p) { tg_vb%d v; __builtin_memcpy(&v, p, %d); return v; }\n",
                   n, n, n, n);
  }
  /* lo, hi -> one vector of twice the lanes: one vinserti128 (through memory, GCC stored the halves and loaded the
   * whole, which no store forwards) */
  for (int n = 16; n < 4 * w; n *= 2) {
    tg__str_printf(out, "TG_FN tg_vb%d tg_vbcat%d(tg_vb%d lo, tg_vb%d hi) {\n", 2 * n, n, n, n);
    tg__str_cat(out, "#if defined(__has_builtin)\n#if __has_builtin(__builtin_shufflevector)\n#define TG_HAS_SHUFFLE 1\n"
                     "#endif\n#endif\n#ifdef TG_HAS_SHUFFLE\n  return __builtin_shufflevector(lo, hi");
    for (int k = 0; k < 2 * n; k++) tg__str_printf(out, ", %d", k);
    tg__str_printf(out, ");\n#else\n  tg_vb%d v; __builtin_memcpy(&v, &lo, %d); __builtin_memcpy((char *)&v + %d, &hi, %d); "
                        "return v;\n#endif\n}\n", 2 * n, n, n, n);
  }
  /* lane l: the sum over k < 4 of a[4l+k] (unsigned) times b[4l+k] (signed) */
  tg__str_printf(out, "TG_FN tg_vi tg_vdot4(tg_vb%d a, tg_vb%d b) {\n", 4 * w, 4 * w);
  if (w == 8)
    tg__str_cat(out, "#if defined(__AVX512VNNI__) && defined(__AVX512VL__)\n"
                     "  return (tg_vi)_mm256_dpbusd_epi32(_mm256_setzero_si256(), (__m256i)a, (__m256i)b);\n"
                     "#elif defined(__AVXVNNI__)\n"
                     "  return (tg_vi)_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (__m256i)a, (__m256i)b);\n"
                     "#elif defined(__AVX2__)\n"
                     "  return (tg_vi)_mm256_madd_epi16(_mm256_maddubs_epi16((__m256i)a, (__m256i)b), "
                     "_mm256_set1_epi16(1));\n");
  else
    tg__str_cat(out, "#if defined(__AVX512VNNI__)\n"
                     "  return (tg_vi)_mm512_dpbusd_epi32(_mm512_setzero_si512(), (__m512i)a, (__m512i)b);\n"
                     "#elif defined(__AVX512BW__)\n"
                     "  return (tg_vi)_mm512_madd_epi16(_mm512_maddubs_epi16((__m512i)a, (__m512i)b), "
                     "_mm512_set1_epi16(1));\n");
  tg__str_printf(out, "#else\n  tg_vi v;\n  for (int l = 0; l < %d; l++) {\n    int s = 0;\n"
                      "    for (int k = 0; k < 4; k++) s += (int)a[4 * l + k] * (int)(signed char)b[4 * l + k];\n"
                      "    v[l] = s;\n  }\n  return v;\n#endif\n}\n", w);
  if (w != 8) return;
  /* both signed (a Q8_0 weight's int8 quants): each half's 16 bytes widened to 16 bits, vpmaddwd (pairs), then the
   * pairs of pairs added (vphaddd, in each 128-bit half) and put in lane order (vpermq) */
  tg__str_cat(out, "TG_FN tg_vi tg_vdot4s(tg_vb32 a, tg_vb32 b) {\n"
                   "#if defined(__AVX2__)\n"
                   "  __m256i a0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128((__m256i)a)), "
                   "a1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256((__m256i)a, 1));\n"
                   "  __m256i b0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128((__m256i)b)), "
                   "b1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256((__m256i)b, 1));\n"
                   "  __m256i p = _mm256_hadd_epi32(_mm256_madd_epi16(a0, b0), _mm256_madd_epi16(a1, b1));\n"
                   "  return (tg_vi)_mm256_permute4x64_epi64(p, 0xd8);\n"
                   "#else\n  tg_vi v;\n  for (int l = 0; l < 8; l++) {\n    int s = 0;\n"
                   "    for (int k = 0; k < 4; k++) s += (int)(signed char)a[4 * l + k] * (int)(signed char)b[4 * l + k];\n"
                   "    v[l] = s;\n  }\n  return v;\n#endif\n}\n");
}

/* an entry of a vector group: a DEFINE_ACC (the group's vector, declared at its first) or an ASSIGN (the group's
 * update, rendered at its last); 0 when not one. A loop's opening or closing forgets the vectors rendered. */
static int tg__rs_slp(tg__rctx *r, const tg__linear *lin, int i) {
  tg__uop *u = lin->u[i];
  if (u->op == TG__OP_RANGE || u->op == TG__OP_ENDRANGE) r->nmemo = 0;
  if (!r->slp || r->slp[i] < 0) return 0;
  tg__slp_group *g = &r->groups[r->slp[i]];
  int w = lin->vec_width;
  if (u->op == TG__OP_DEFINE_ACC) {
    if (g->name) return 1;
    char nm[32];
    snprintf(nm, sizeof nm, "vacc%d", r->slp[i]);
    g->name = tg__own(r, tg__strdup(nm));
    int kind = tg__slp_kind(u->dtype);
    tg__line(r, "%s %s = tg_vset_%c(%s);", tg__slp_type(kind), g->name, kind, tg__expr_of(r, u->src[0]));
    for (int k = 0; k < w; k++) {
      snprintf(nm, sizeof nm, "%s[%d]", g->name, k);
      tg__map_put(&r->expr, g->acc[k], tg__own(r, tg__strdup(nm)));
    }
    r->used_vectors = 1;
    return 1;
  }
  if (i != g->last) return 1;
  const char *v = tg__slp_emit(r, g->val, w);
  tg__line(r, "%s = %s + %s;", g->name, g->name, v);
  return 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// early exits: an output axis of symbolic size loops to its maximum with its stores gated (codegen.c). When every
// store in a CPU loop is gated by r * f + k < bound (k >= 0, the bound not depending on r), no store happens from the
// iteration where r * f >= bound on, and the loop stops there: a KV cache's attention scores cost the positions
// filled, not the cache's size (SmolLM2's, 1024 positions: 183 us a layer with 30 filled, before).

/* whether u is r * f + k with k a constant >= 0 (f >= 1 into *f) */
static int tg__ramp_of(const tg__uop *u, const tg__uop *r, int64_t *f) {
  double c;
  if (u == r) return *f = 1, 1;
  if (u->op == TG__OP_MUL && u->src[0] == r && tg__is_const(u->src[1], &c) && c >= 1 && c < 1e9 && c == (int64_t)c)
    return *f = (int64_t)c, 1;
  if (u->op == TG__OP_ADD && tg__is_const(u->src[1], &c) && c >= 0) return tg__ramp_of(u->src[0], r, f);
  return 0;
}

/* a conjunct of gate g that is ramp < bound for loop r: the bound and f, else NULL */
static tg__uop *tg__gate_bound(tg__uop *g, const tg__uop *r, int64_t *f) {
  if (g->op == TG__OP_AND && g->dtype == TG_BOOL) {
    tg__uop *b = tg__gate_bound(g->src[0], r, f);
    return b ? b : tg__gate_bound(g->src[1], r, f);
  }
  if (g->op == TG__OP_CMPLT && tg__ramp_of(g->src[0], r, f) && !tg__uop_reaches(g->src[1], r)) return g->src[1];
  return NULL;
}

/* Finds each CPU loop's early exit (r->brk_at: after which entry its test is rendered, the loop's entry there) */
static void tg__find_breaks(tg__rctx *r, const tg__linear *lin) {
  int n = lin->n;
  r->brk_at = (int *)tg__alloc(sizeof(int) * (size_t)(n + 1));
  r->brk_bound = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  r->brk_f = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) r->brk_at[i] = -1;
  if (r->d->global_id) return; /* a GPU's output loops are threads */
  for (int i = 0; i < n; i++) {
    tg__uop *rg = lin->u[i], *bound = NULL;
    if (rg->op != TG__OP_RANGE || rg->arg.i2) continue;
    int depth = 0, end = i + 1, ok = 1, stores = 0;
    int64_t f = 0;
    for (; end < n && ok; end++) {
      tg__uop *u = lin->u[end];
      if (u->op == TG__OP_RANGE) depth++;
      else if (u->op == TG__OP_ENDRANGE && depth-- == 0) break;
      else if (u->op == TG__OP_BARRIER) ok = 0;
      else if (u->op == TG__OP_STORE) {
        int64_t g = 0;
        tg__uop *b = u->nsrc > 2 ? tg__gate_bound(u->src[2], rg, &g) : NULL;
        ok = b && (!bound || (b == bound && g == f));
        bound = b, f = g, stores++;
      }
    }
    if (!ok || !stores || end >= n) continue;
    int at = i; /* after the bound's own entry when the loop computes it */
    for (int k = i + 1; k < end; k++)
      if (lin->u[k] == bound) at = k;
    r->brk_at[at] = i, r->brk_bound[i] = bound, r->brk_f[i] = f;
  }
}

/* the early exit whose test comes after entry i */
static void tg__rs_break(tg__rctx *r, const tg__linear *lin, int i) {
  if (!r->brk_at || r->brk_at[i] < 0) return;
  int l = r->brk_at[i];
  const char *rg = tg__expr_of(r, lin->u[l]), *b = tg__expr_of(r, r->brk_bound[l]);
  if (r->brk_f[l] == 1) tg__line(r, "if (%s >= %s) break;", rg, b);
  else tg__line(r, "if (%s*%lld >= %s) break;", rg, (long long)r->brk_f[l], b);
}

// ---------------------------------------------------------------------------------------------------------------------
// software prefetch (tg__dialect.prefetch). A matrix-vector product reads its matrix once, row block after row block:
// the thread's loop over the blocks (the parallel one) holds a reduction loop that reads block g's bytes. The
// hardware's prefetcher did not run far enough ahead of such a stream, and the kernel waited on memory and computed
// by turns: a Q4_1 1536x576 product streamed at 4.7 GB/s on one Sapphire Rapids core, against 11 GB/s with its matrix
// in the level 2 cache. So each iteration of the reduction loop asks for its share of block g + D's bytes, which
// arrive while blocks g to g + D - 1 are computed (4.7 -> 7.6 GB/s). A buffer is streamed so when every load of it in
// the loop is a * g + b * r + c (r the reduction's index, c a constant) and the loads of one g cover its a elements.

#define TG__PREFETCH_AHEAD 8192 /* bytes: measured alike from 6 to 46 KB ahead; 1.4 KB ahead was half the gain */
#define TG__PREFETCH_MIN 65536  /* bytes streamed in all: a smaller buffer (a vector just written) is in the cache */

#define TG__AFFINE_MAX 1e15 /* coefficients beyond this are no stream (and their products would overflow) */

/* u as a * p + b * q + c (p and q ranges, c a constant); 0 when it is not such a sum */
static int tg__affine2(const tg__uop *u, const tg__uop *p, const tg__uop *q, int64_t *a, int64_t *b, int64_t *c) {
  double k;
  int64_t a1, b1, c1;
  if (u == p || u == q) return *a = u == p, *b = u == q, *c = 0, 1;
  if (tg__is_const(u, &k))
    return fabs(k) <= TG__AFFINE_MAX && k == (double)(int64_t)k && (*a = 0, *b = 0, *c = (int64_t)k, 1);
  if (u->op == TG__OP_CAST && tg__dtypes[u->dtype].is_int && tg__dtypes[u->src[0]->dtype].is_int)
    return tg__affine2(u->src[0], p, q, a, b, c);
  if (u->op == TG__OP_ADD)
    return tg__affine2(u->src[0], p, q, a, b, c) && tg__affine2(u->src[1], p, q, &a1, &b1, &c1) &&
           (*a += a1, *b += b1, *c += c1, 1) && /* each at most 1e15: no overflow */
           (double)llabs(*a) + (double)llabs(*b) + (double)llabs(*c) <= TG__AFFINE_MAX;
  if (u->op == TG__OP_MUL)
    for (int s = 0; s < 2; s++)
      if (tg__is_const(u->src[1 - s], &k) && fabs(k) <= TG__AFFINE_MAX && k == (double)(int64_t)k &&
          tg__affine2(u->src[s], p, q, a, b, c) &&
          fabs(k) * ((double)llabs(*a) + (double)llabs(*b) + (double)llabs(*c)) <= TG__AFFINE_MAX)
        return *a *= (int64_t)k, *b *= (int64_t)k, *c *= (int64_t)k, 1;
  return 0;
}

typedef struct tg__stream {
  tg__uop *buf;
  int64_t a, b, cmin, cmax;
  int ok;
} tg__stream;

/* a loop's prefetched streams: each buffer's bytes at ((g + ahead) * block + r * step + off), lines of them */
typedef struct tg__pf {
  int n;
  tg__uop *buf[8];
  int64_t ahead[8], block[8], step[8], off[8], lines[8];
} tg__pf;

/* the prefetches of the streamed buffers of the reduction loop at entry i (its body from i + 1 to end) */
static void tg__stream_prefetch(tg__rctx *r, const tg__linear *lin, int i, int end) {
  tg__uop *rg = lin->u[i], *par = lin->parallel;
  tg__stream st[8];
  int ns = 0;
  for (int k = i + 1; k < end; k++) {
    tg__uop *u = lin->u[k];
    if (u->op != TG__OP_LOAD || u->src[0]->op != TG__OP_INDEX || u->src[0]->src[0]->op != TG__OP_DEFINE_GLOBAL)
      continue;
    tg__uop *buf = u->src[0]->src[0];
    int s = 0;
    while (s < ns && st[s].buf != buf) s++;
    if (s == ns) {
      if (ns == 8) continue;
      st[ns].buf = buf, st[ns].ok = -1, ns++;
    }
    int64_t a, b, c;
    int ok = tg__affine2(u->src[0]->src[1], par, rg, &a, &b, &c) && a > 0 && b >= 0;
    if (st[s].ok == -1 && ok) st[s].a = a, st[s].b = b, st[s].cmin = st[s].cmax = c, st[s].ok = 1;
    else if (!ok || st[s].a != a || st[s].b != b) st[s].ok = 0;
    else st[s].cmin = c < st[s].cmin ? c : st[s].cmin, st[s].cmax = c > st[s].cmax ? c : st[s].cmax;
  }
  double nd = tg__const_val(rg->src[0]);
  if (nd < 1 || nd > TG__AFFINE_MAX) return;
  int64_t n = (int64_t)nd;
  for (int s = 0; s < ns; s++) {
    if (st[s].ok != 1 || (double)st[s].a * 8 > 1e9) continue; /* a block of a GB streams no more */
    int64_t es = tg__dtypes[st[s].buf->dtype].size, block = st[s].a * es, step = block / n + (block % n != 0);
    double span = ((double)st[s].b * (double)(n - 1) + (double)(st[s].cmax - st[s].cmin) + 1) * (double)es;
    int64_t lines = (step + 63) / 64;
    double total = (double)block * (tg__is_const(par->src[0], NULL) ? tg__const_val(par->src[0]) : 1);
    if (block < 64 || span * 4 < (double)block * 3 || lines > 16 || total < TG__PREFETCH_MIN) continue;
    if (!r->pf) r->pf = (tg__pf *)tg__alloc(sizeof(tg__pf) * (size_t)(lin->n + 1));
    tg__pf *p = &r->pf[i];
    p->buf[p->n] = st[s].buf, p->block[p->n] = block, p->step[p->n] = step, p->lines[p->n] = lines;
    p->ahead[p->n] = (TG__PREFETCH_AHEAD + block - 1) / block, p->off[p->n] = st[s].cmin * es;
    p->n++;
  }
}

/* Finds the streamed buffers of each innermost loop directly inside the parallel one (r->pf). PREFETCH=0: none */
static void tg__find_prefetch(tg__rctx *r, const tg__linear *lin) {
  if (!r->d->prefetch || !lin->parallel || !tg__getenv_int("PREFETCH", 1)) return;
  int open[64], nopen = 0;
  for (int i = 0; i < lin->n; i++) {
    tg__uop *u = lin->u[i];
    if (u->op == TG__OP_ENDRANGE && nopen) nopen--;
    if (u->op != TG__OP_RANGE) continue;
    int parent = nopen ? open[nopen - 1] : -1;
    if (nopen < 64) open[nopen++] = i;
    if (parent < 0 || lin->u[parent] != lin->parallel || u->arg.i2 || !tg__is_const(u->src[0], NULL)) continue;
    int end = i + 1;
    while (end < lin->n && lin->u[end]->op != TG__OP_RANGE && lin->u[end]->op != TG__OP_ENDRANGE) end++;
    if (end < lin->n && lin->u[end]->op == TG__OP_ENDRANGE) tg__stream_prefetch(r, lin, i, end);
  }
}

/* the prefetches after entry i (a loop's start: its index has its name), at the loop body's depth */
static void tg__rs_prefetch(tg__rctx *r, const tg__linear *lin, int i) {
  tg__pf *p = r->pf ? &r->pf[i] : NULL;
  for (int s = 0; p && s < p->n; s++)
    for (int64_t l = 0; l < p->lines[s]; l++) {
      tg__str e;
      memset(&e, 0, sizeof e);
      tg__str_printf(&e, "(const char *)%s + ((i64)%s + %lld) * %lld + (i64)%s * %lld", tg__expr_of(r, p->buf[s]),
                     tg__expr_of(r, lin->parallel), (long long)p->ahead[s], (long long)p->block[s],
                     tg__expr_of(r, lin->u[i]), (long long)p->step[s]);
      if (p->off[s] + 64 * l) tg__str_printf(&e, " + %lld", (long long)(p->off[s] + 64 * l));
      char *ops[1] = {e.s}, *line = tg__fmt_op(r->d->prefetch, ops, 1, 0);
      tg__line(r, "%s;", line);
      TG_FREE(line);
      TG_FREE(e.s);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// staged stores: a register tile stored through a local array (tg__dialect.stage_strided_stores)

#define TG__MAX_STAGED 256 /* stores in one staged run: its offset table fits one line of source */

/* the store's address as base + offset: its index is base, or base plus a constant */
static tg__uop *tg__store_base(const tg__uop *st, int64_t *off) {
  tg__uop *idx = st->src[0]->src[1];
  double c;
  *off = 0;
  if (idx->op == TG__OP_ADD && tg__is_const(idx->src[1], &c) && fabs(c) < 2147483648.0 &&
      c == (double)(int64_t)c) {
    *off = (int64_t)c;
    return idx->src[0];
  }
  return idx;
}

/* The values after a tile's sums: the accumulators (REDUCE values) that v is computed from are appended to accs
 * (when not NULL) in the order first met; returns whether v is computed from them with a select, which GCC writes as
 * a branch (WHERE, and MAX's conditional form). The walk stops at loads, loops and constants. */
static int tg__epilogue_of(tg__uop *v, tg__vec *accs, tg__map *seen) {
  if (tg__map_get(seen, v) || v->op == TG__OP_LOAD || v->op == TG__OP_RANGE || v->op == TG__OP_CONST) return 0;
  tg__map_put(seen, v, (void *)1);
  if (v->op == TG__OP_REDUCE) {
    if (accs) tg__vec_push(accs, v);
    return 0;
  }
  int select = v->op == TG__OP_WHERE || v->op == TG__OP_MAX;
  for (int k = 0; k < v->nsrc; k++) select |= tg__epilogue_of(v->src[k], accs, seen);
  return select;
}

/* The run of a tile's stores from lin->u[i]: the values computed after the tile's loops (a bias added, a relu),
 * then stores into one buffer at one base plus constants, ungated, with only values and loads of other buffers
 * among them (no loop, accumulator or load of the stored buffer, which would see the deferred stores). It is
 * staged when it has at least 8 stores, no two of which, one after the other, are adjacent in memory (a tile whose
 * fastest axis is contiguous in its buffer vectorises as it is), or whose values select; at most TG__MAX_STAGED
 * stores. Returns the end of the run (one past its last store), or 0 when it is not staged; off[] gets the offsets
 * of the stores in order (room for lin->n entries), *first the index of the first store. */
static int tg__staged_run(const tg__linear *lin, int i, int64_t *off, int *nstores, int *first) {
  tg__uop *buf = NULL, *base = NULL;
  tg_dtype dt = TG_FLOAT32;
  int n = 0, end = 0, adjacent = 0;
  for (int k = i; k < lin->n; k++) {
    tg__uop *u = lin->u[k];
    int64_t o;
    double on;
    if (u->op == TG__OP_STORE) {
      if (u->src[0]->op != TG__OP_INDEX || (u->nsrc > 2 && !(tg__is_const(u->src[2], &on) && on != 0))) break;
      if (!n) buf = u->src[0]->src[0], dt = u->src[1]->dtype, base = tg__store_base(u, &o), *first = k;
      if (u->src[0]->src[0] != buf || u->src[1]->dtype != dt || tg__store_base(u, &o) != base || n == TG__MAX_STAGED)
        break;
      if (n && o == off[n - 1] + 1) adjacent++;
      off[n++] = o;
      end = k + 1;
    } else if (u->op == TG__OP_RANGE || u->op == TG__OP_ENDRANGE || u->op == TG__OP_DEFINE_ACC ||
               u->op == TG__OP_ASSIGN)
      break;
  }
  for (int k = i; k < end; k++) /* the loads before the first store too */
    if (lin->u[k]->op == TG__OP_LOAD && lin->u[k]->src[0]->op == TG__OP_INDEX && lin->u[k]->src[0]->src[0] == buf)
      return 0;
  int select = 0; /* a tile whose stores are adjacent is staged when its values select (relu), see tg__render_staged */
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  for (int k = i; k < end && adjacent && !select; k++)
    if (lin->u[k]->op == TG__OP_STORE) select = tg__epilogue_of(lin->u[k]->src[1], NULL, &seen);
  tg__map_free(&seen);
  *nstores = n;
  return n >= 8 && (!adjacent || select) ? end : 0;
}

/* Renders lin->u[i..end) (tg__staged_run): each store into the next element of a local array, then one loop
 * copying the array out through a table of offsets from the common base. GCC vectorises the array's contiguous
 * stores (and so the tile's accumulators) and keeps the copy a loop; unrolled, the copy's scalar stores would make
 * SLP split the tile again. The copy reads the array as volatile: else GCC's partial redundancy elimination hands
 * the first element to the copy in a register, the array's stores start one element late, and SLP's vectors no
 * longer line up with the accumulators' (gcc 12: 40 zmm multiply-adds became 21 zmm, 12 xmm and 6 scalar).
 * When the stored values are more than the accumulators (a relu after a convolution's sums), the accumulators are
 * staged first, in an array of their own behind a compiler fence (the dialect's TG_FENCE), and the values computed
 * from it: GCC turns a select into branches, which end SLP's basic block, and a tile whose epilogue branched was
 * all scalar (a 32->64 3x3 convolution with its relu, batch 10000 on 2 cores: 2.4 s; without the relu, 0.19 s; a
 * 1024 matmul with bias and relu, whose tile stores rows of adjacent outputs: 212 ms, 14 without the relu). */
static void tg__render_staged(tg__rctx *r, const tg__linear *lin, int i, int first, int end, const int64_t *off,
                              int n) {
  tg__uop *st = lin->u[first];
  int64_t o;
  const char *type = tg__ctype(r->d, st->src[1]->dtype);
  long long id = r->nstage++;
  tg__vec accs;
  memset(&accs, 0, sizeof accs);
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  int plain = 1;
  for (int k = first; k < end; k++)
    if (lin->u[k]->op == TG__OP_STORE) {
      plain &= lin->u[k]->src[1]->op == TG__OP_REDUCE;
      tg__epilogue_of(lin->u[k]->src[1], &accs, &seen);
    }
  tg__map_free(&seen);
  int two = !plain && accs.n >= 8 && accs.n <= TG__MAX_STAGED;
  if (two) { /* the accumulators first, behind the fence, then the values are computed from the array */
    for (int k = i; k < end; k++)
      if (lin->u[k]->op == TG__OP_REDUCE) tg__render_stmt(r, lin, k);
    tg__line(r, "%s stage%lld[%d];", tg__ctype(r->d, ((tg__uop *)accs.items[0])->dtype), id, accs.n);
    for (int a = 0; a < accs.n; a++)
      tg__line(r, "stage%lld[%d] = %s;", id, a, tg__expr_of(r, (tg__uop *)accs.items[a]));
    tg__line(r, "TG_FENCE(stage%lld);", id);
    for (int a = 0; a < accs.n; a++) {
      char nm[64];
      snprintf(nm, sizeof nm, "stage%lld[%d]", id, a);
      tg__map_put(&r->expr, accs.items[a], tg__own(r, tg__strdup(nm)));
    }
    id = r->nstage++;
  }
  tg__vec_free(&accs);
  for (int k = i; k < first; k++)
    if (!two || lin->u[k]->op != TG__OP_REDUCE) tg__render_stmt(r, lin, k);
  tg__line(r, "%s stage%lld[%d];", type, id, n);
  for (int k = first, s = 0; k < end; k++) {
    tg__uop *u = lin->u[k];
    if (u->op == TG__OP_STORE) tg__line(r, "stage%lld[%d] = %s;", id, s++, tg__expr_of(r, u->src[1]));
    else if (!two || u->op != TG__OP_REDUCE) tg__render_stmt(r, lin, k);
  }
  tg__str t;
  memset(&t, 0, sizeof t);
  for (int s = 0; s < n; s++) tg__str_printf(&t, "%s%lld", s ? ", " : "", (long long)off[s]);
  tg__line(r, "static const int stage_at%lld[%d] = {%s};", id, n, t.s);
  TG_FREE(t.s);
  tg__line(r, "for (int s = 0; s < %d; s++) %s[%s + stage_at%lld[s]] = ((volatile %s *)stage%lld)[s];", n,
           tg__expr_of(r, st->src[0]->src[0]), tg__expr_of(r, tg__store_base(st, &o)), id, type, id);
}

/* the first dtype of the parameters or the program that d cannot render, or -1 */
static int tg__unsupported_dtype(const tg__dialect *d, const tg__kparam *params, int nparams, const tg__linear *lin) {
  uint32_t used = 0;
  for (int i = 0; i < nparams; i++) used |= 1u << params[i].dtype;
  for (int i = 0; i < lin->n; i++) {
    used |= 1u << lin->u[i]->dtype;
    for (int j = 0; j < lin->u[i]->nsrc; j++) used |= 1u << lin->u[i]->src[j]->dtype;
  }
  for (int dt = 0; dt < TG_NDTYPES; dt++)
    if (used & d->unsupported & (1u << dt)) return dt;
  return -1;
}

/* the preludes: the dialect's, then each distinct one its dtypes need (the half conversions), once */
static void tg__render_preludes(tg__str *out, const tg__dialect *d, const tg__kparam *params, int nparams,
                                const tg__linear *lin) {
  tg__str_cat(out, d->prelude);
  if (d->extra_prelude) {
    tg__str_cat(out, d->extra_prelude);
    tg__str_cat(out, "\n");
  }
  int tiled = 0;
  for (int i = 0; i < lin->nopts; i++) tiled |= lin->opts[i].op == TG__OPT_UPCAST;
  if (tiled && d->tile_prelude) tg__str_cat(out, d->tile_prelude);
  int wmma = 0, wgmma = 0;
  for (int i = 0; i < lin->n; i++) wmma |= lin->u[i]->op == TG__OP_WMMA, wgmma |= lin->u[i]->op == TG__OP_WGMMA;
  if (wmma && d->wmma_prelude) tg__str_cat(out, d->wmma_prelude);
  if (wgmma && d->wgmma_prelude) tg__str_cat(out, d->wgmma_prelude);
  if (!d->preludes) return;
  int used[TG_NDTYPES] = {0};
  for (int i = 0; i < nparams; i++) used[params[i].dtype] = 1;
  for (int i = 0; i < lin->n; i++) used[lin->u[i]->dtype] = 1;
  for (int dt = 0; dt < TG_NDTYPES; dt++) {
    int first = used[dt] && d->preludes[dt];
    for (int e = 0; first && e < dt; e++) first = !(used[e] && d->preludes[e] == d->preludes[dt]);
    if (first) tg__str_cat(out, d->preludes[dt]);
  }
}

/* KIND void NAME(data0, data1...: the buffer parameters, then the dialect's extra ones */
static void tg__render_signature(tg__str *out, const tg__dialect *d, const char *name, const tg__kparam *params,
                                 int nparams) {
  tg__str_printf(out, "%svoid %s(", d->kernel_prefix, name);
  for (int i = 0; i < nparams; i++)
    tg__str_printf(out, "%s%s%s%s* %s data%d", i ? ", " : "", d->buffer_prefix, params[i].written ? "" : "const ",
                   tg__mem_ctype(d, params[i].dtype), d->buffer_qualifier, i);
  if (d->extra_params) tg__str_cat(out, d->extra_params);
}

/* the CPU's entry point: void NAME_entry(void **bufs, i64 start, i64 end) */
static void tg__render_entry(tg__str *out, const tg__dialect *d, const char *name, const tg__kparam *params,
                             int nparams) {
  tg__str_printf(out, "void %s_entry(void **bufs, i64 start, i64 end) {\n  %s(", name, name);
  for (int i = 0; i < nparams; i++)
    tg__str_printf(out, "%s(%s%s*)bufs[%d]", i ? ", " : "", params[i].written ? "" : "const ",
                   tg__mem_ctype(d, params[i].dtype), i);
  tg__str_cat(out, ", start, end);\n}\n");
}

TG__PRIVATE char *tg__render(const tg__dialect *d, const char *name, const tg__kparam *params, int nparams,
                             const tg__linear *lin) {
  int bad = tg__unsupported_dtype(d, params, nparams, lin);
  for (int i = 0; i < lin->n && bad < 0; i++) {
    tg__uop *u = lin->u[i];
    if ((u->op == TG__OP_WMMA && !d->wmma) || (u->op == TG__OP_WGMMA && !d->wgmma)) {
      tg__set_error("render of kernel %s: the %s dialect has no %s tensor cores (TC)", name, d->name,
                    u->op == TG__OP_WMMA ? "warp" : "warpgroup");
      return NULL;
    }
    for (int j = 3; u->op == TG__OP_WGMMA && j < u->nsrc; j++) /* C in place: the sums' accumulators */
      if (u->src[j]->op != TG__OP_DEFINE_ACC &&
          !(u->src[j]->op == TG__OP_GEP && u->src[j]->src[0]->op == TG__OP_WGMMA)) {
        tg__set_error("render of kernel %s: a WGMMA's C is not its sums' accumulators (codegen)", name);
        return NULL;
      }
  }
  if (bad >= 0) {
    tg__set_error("render of kernel %s: the %s dialect does not support dtype %s. HINT: cast to another dtype, or use "
                  "another device", name, d->name, tg__dtypes[bad].name);
    return NULL;
  }
  tg__rctx r;
  memset(&r, 0, sizeof r);
  r.d = d;
  r.dynamic = d->dynamic_shared && lin->shared_bytes > TG__STATIC_SHARED;
  r.lin = lin;
  for (int i = 0; i < lin->n; i++) r.wgmma |= lin->u[i]->op == TG__OP_WGMMA;
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  for (int i = 0; i < lin->n; i++) {
    tg__uop *u = lin->u[i];
    tg__count_uses(&r, u, &seen);
    if (u->op == TG__OP_ASSIGN) tg__count_uses(&r, u->src[1], &seen);
  }
  tg__map_free(&seen);
  tg__map wuses; /* the raw loads: a 16-bit float's load every use of which is a WMMA's element */
  memset(&wuses, 0, sizeof wuses);
  for (int i = 0; i < lin->n; i++) { /* ...or whose uses are values stored into shared arrays of bits */
    tg__uop *u = lin->u[i];
    int n = u->op == TG__OP_WMMA ? 12 : 0;
    if (u->op == TG__OP_STORE && tg__is_shared(u) && tg__bits_array(u->src[0]->src[0]) && u->src[1]->op == TG__OP_LOAD)
      tg__map_put(&wuses, u->src[1], (void *)((intptr_t)tg__map_get(&wuses, u->src[1]) + 1));
    for (int j = 0; j < n; j++) {
      tg__uop *s = u->src[j];
      if (s->op == TG__OP_LOAD && (!tg__is_shared(s) || tg__bits_array(s->src[0]->src[0])) &&
          (s->dtype == TG_FLOAT16 || s->dtype == TG_BFLOAT16))
        tg__map_put(&wuses, s, (void *)((intptr_t)tg__map_get(&wuses, s) + 1));
    }
  }
  for (int i = 0; i < lin->n; i++) {
    tg__uop *u = lin->u[i];
    if (u->op == TG__OP_LOAD && tg__map_get(&wuses, u) && tg__map_get(&wuses, u) == tg__map_get(&r.uses, u))
      tg__map_put(&r.raw, u, (void *)1);
  }
  tg__map_free(&wuses);
  tg__find_pairs(&r, lin);
  tg__find_vec8(&r, lin);
  for (int i = 0; i < nparams; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "data%d", i);
    tg__arg a;
    memset(&a, 0, sizeof a);
    a.i = i;
    tg__map_put(&r.expr, tg__uop0(TG__OP_DEFINE_GLOBAL, params[i].dtype, &a), tg__own(&r, tg__strdup(nm)));
  }
  tg__find_vectors(&r, lin);
  tg__find_slp(&r, lin);
  tg__find_breaks(&r, lin);
  tg__find_prefetch(&r, lin);
  /* staging (tg__dialect.stage_strided_stores) is tried after the last loop closes, in kernels with accumulators */
  int64_t *off = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(lin->n + 1));
  int stage = 0;
  for (int i = 0; i < lin->n && d->stage_strided_stores && !stage; i++) stage = lin->u[i]->op == TG__OP_DEFINE_ACC;
  for (int i = 0; i < lin->n; i++) {
    int n = 0, first = 0, end = 0;
    if (stage && (i == 0 || lin->u[i - 1]->op == TG__OP_ENDRANGE) && lin->u[i]->op != TG__OP_ENDRANGE)
      end = tg__staged_run(lin, i, off, &n, &first);
    if (end && tg__per_dtype(d->store_fmt, lin->u[first]->src[1]->dtype)) end = 0;
    if (end) tg__render_staged(&r, lin, i, first, end, off, n), i = end - 1;
    else tg__render_stmt(&r, lin, i), tg__rs_break(&r, lin, i), tg__rs_prefetch(&r, lin, i);
  }
  TG_FREE(off);
  TG_FREE(r.vec);
  TG_FREE(r.members);
  TG_FREE(r.vec8);
  TG_FREE(r.members8);
  TG_FREE(r.async);
  TG_FREE(r.slp);
  TG_FREE(r.groups);
  TG_FREE(r.memo);
  TG_FREE(r.brk_at);
  TG_FREE(r.brk_bound);
  TG_FREE(r.brk_f);
  TG_FREE(r.pf);
  tg__str out;
  memset(&out, 0, sizeof out);
  char *opts = tg__opts_str(lin->opts, lin->nopts); /* the first line says what made it (DEBUG=3 prints it) */
  tg__str_printf(&out, "/* tinygrad.h kernel %s, opts [%s] */\n", name, opts);
  TG_FREE(opts);
  tg__render_preludes(&out, d, params, nparams, lin);
  if (r.used_vectors) tg__slp_prelude(&out, lin->vec_width);
  if (r.used_dot) tg__slpb_prelude(&out, lin->vec_width);
  tg__render_signature(&out, d, name, params, nparams);
  if (d->global_id && lin->local_size) /* workgroups: one per iteration of the output loops, launched exactly */
    tg__str_printf(&out, ") {\n  %s gid = %s;\n  int lid = (int)(%s);\n%s}\n", tg__ctype(d, TG_INT64), d->group_id,
                   d->local_id, r.body.s ? r.body.s : "");
  else if (d->global_id) /* one thread per iteration of the output loops; the launch may round the count up */
    tg__str_printf(&out, ") {\n  %s gid = %s;\n  if (gid >= %lld) return;\n%s}\n", tg__ctype(d, TG_INT64),
                   d->global_id, (long long)lin->global_total, r.body.s ? r.body.s : "");
  else tg__str_printf(&out, ", i64 start, i64 end) {\n  (void)start; (void)end;\n%s}\n", r.body.s ? r.body.s : "");
  if (d->has_entry_wrapper) tg__render_entry(&out, d, name, params, nparams);
  for (int i = 0; i < r.owned.n; i++) TG_FREE(r.owned.items[i]);
  tg__vec_free(&r.owned);
  tg__map_free(&r.expr);
  tg__map_free(&r.uses);
  tg__map_free(&r.raw);
  tg__map_free(&r.partner);
  tg__map_free(&r.vname);
  tg__map_free(&r.word);
  TG_FREE(r.body.s);
  return tg__str_take(&out);
}
