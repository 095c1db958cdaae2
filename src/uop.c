/* uop.c: the UOp graph (layer 2). One node type serves the lazy tensor graph and the kernels.
 *
 * Contract:
 *  - Nodes are immutable and hash-consed: tg__uop_new returns the existing node for the same (op, dtype, sources,
 *    argument), so structural equality is pointer equality and rewrites memoise on pointers.
 *  - A tensor-graph node carries its shape (ndim >= 0), computed once at creation from its sources and argument.
 *  - Nodes are garbage collected: tg__uop_gc marks from the live tensors (and given extra roots) and frees the rest.
 *    It runs only as a public call returns to the user (tg__uop_maybe_gc is the lock's return hook), never while the
 *    library's own code holds unrooted nodes. User code the library calls back (a JIT'd function, between
 *    tg__callback_begin and _end in base.c) counts as the user: its public calls collect as they return.
 *  - Integer bounds (vmin, vmax) are computed on demand for index arithmetic and cached in the node.
 *  - It owns the op table (tg__ops, internal.h's TG__OPS rows): what kind each op is, its arity, flags, reduction
 *    identity and C format, and the one evaluator of each ALU op over constants (tg__ei_* over int64, tg__ef_* over
 *    double) that the constant folder (symbolic.c), the optimiser's index evaluator (optimize.c) and the bounds here
 *    share; the op groups patterns may name (tinygrad's GroupOp) are defined from its columns. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// the op table's evaluators: each ALU op over constants, as the generated C code computes it (internal.h)

static int tg__ei_neg(tg_dtype dt, const int64_t *v, int64_t *out) { /* NEG of a bool is NOT */
  *out = dt == TG_BOOL ? !v[0] : (int64_t)(0 - (uint64_t)v[0]);
  return 1;
}
static int tg__ei_add(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = (int64_t)((uint64_t)v[0] + (uint64_t)v[1]);
  return 1;
}
static int tg__ei_sub(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = (int64_t)((uint64_t)v[0] - (uint64_t)v[1]);
  return 1;
}
static int tg__ei_mul(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = (int64_t)((uint64_t)v[0] * (uint64_t)v[1]);
  return 1;
}
/* as the kernels compute them (api.h, codegen.c's guard): x / 0 = x % 0 = 0, x / -1 = -x wrapping (MIN / -1 = MIN),
 * x % -1 = 0; never the host's trap */
static int tg__ei_idiv(tg_dtype dt, const int64_t *v, int64_t *out) {
  int64_t a = v[0], b = v[1];
  int u = dt == TG_UINT64;
  if (b == 0) *out = 0;
  else if (b == -1 && !u) *out = (int64_t)(0 - (uint64_t)a);
  else *out = u ? (int64_t)((uint64_t)a / (uint64_t)b) : a / b;
  return 1;
}
static int tg__ei_mod(tg_dtype dt, const int64_t *v, int64_t *out) {
  int64_t a = v[0], b = v[1];
  int u = dt == TG_UINT64;
  if (b == 0 || (b == -1 && !u)) *out = 0;
  else *out = u ? (int64_t)((uint64_t)a % (uint64_t)b) : a % b;
  return 1;
}
static int tg__ei_max(tg_dtype dt, const int64_t *v, int64_t *out) {
  uint64_t ua = (uint64_t)v[0], ub = (uint64_t)v[1];
  *out = dt == TG_UINT64 ? (int64_t)(ua > ub ? ua : ub) : v[0] > v[1] ? v[0] : v[1];
  return 1;
}
static int tg__ei_cmplt(tg_dtype dt, const int64_t *v, int64_t *out) {
  *out = dt == TG_UINT64 ? (uint64_t)v[0] < (uint64_t)v[1] : v[0] < v[1];
  return 1;
}
static int tg__ei_cmpne(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = v[0] != v[1];
  return 1;
}
static int tg__ei_cmpeq(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = v[0] == v[1];
  return 1;
}
static int tg__ei_and(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = v[0] & v[1];
  return 1;
}
static int tg__ei_or(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = v[0] | v[1];
  return 1;
}
static int tg__ei_xor(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = v[0] ^ v[1];
  return 1;
}
/* a shift by a negative amount or by the width or more is undefined in C: refused */
static int tg__ei_shl(tg_dtype dt, const int64_t *v, int64_t *out) {
  if (v[1] < 0 || v[1] >= 8 * tg_dtype_size(dt)) return 0;
  *out = (int64_t)((uint64_t)v[0] << v[1]);
  return 1;
}
static int tg__ei_shr(tg_dtype dt, const int64_t *v, int64_t *out) {
  if (v[1] < 0 || v[1] >= 8 * tg_dtype_size(dt)) return 0;
  *out = tg_dtype_is_unsigned(dt) ? (int64_t)((uint64_t)v[0] >> v[1]) : v[0] >> v[1];
  return 1;
}
static int tg__ei_where(tg_dtype dt, const int64_t *v, int64_t *out) {
  (void)dt;
  *out = v[0] ? v[1] : v[2];
  return 1;
}

static double tg__ef_neg(const double *v) { return -v[0]; }
static double tg__ef_exp2(const double *v) { return exp2(v[0]); }
static double tg__ef_log2(const double *v) { return log2(v[0]); }
static double tg__ef_sin(const double *v) { return sin(v[0]); }
static double tg__ef_sqrt(const double *v) { return sqrt(v[0]); }
static double tg__ef_recip(const double *v) { return 1.0 / v[0]; }
static double tg__ef_trunc(const double *v) { return trunc(v[0]); }
static double tg__ef_add(const double *v) { return v[0] + v[1]; }
static double tg__ef_sub(const double *v) { return v[0] - v[1]; }
static double tg__ef_mul(const double *v) { return v[0] * v[1]; }
static double tg__ef_max(const double *v) { return v[0] > v[1] || v[0] != v[0] ? v[0] : v[1]; } /* NaN wins */
static double tg__ef_cmplt(const double *v) { return v[0] < v[1]; }
static double tg__ef_cmpne(const double *v) { return v[0] != v[1]; }
static double tg__ef_cmpeq(const double *v) { return v[0] == v[1]; }
static double tg__ef_where(const double *v) { return v[0] != 0 ? v[1] : v[2]; }

// ---------------------------------------------------------------------------------------------------------------------
// the op table, its groups and the shorthands

TG__DATA const char *const tg__op_names[TG__NOPS] = {
#define TG__X(name, kind, arity, flags, ident, cfmt, ei, ef) #name,
    TG__OPS(TG__X)
#undef TG__X
};
TG__DATA const tg__op_info tg__ops[TG__NOPS] = {
#define TG__X(name, kind, arity, flags, ident, cfmt, ei, ef)                                                           \
  {TG__OPK_##kind, arity, flags, TG__IDENT_##ident, cfmt, ei, ef},
    TG__OPS(TG__X)
#undef TG__X
};
TG__DATA const char *const tg__op_group_names[TG__NGROUPS] = {
    "ALU", "UNARY", "BINARY", "TERNARY", "ELEMENTWISE", "MOVEMENT", "COMMUTATIVE", "CMP",
};

TG__PRIVATE int tg__op_in_group(tg__op op, tg__op_group g) {
  const tg__op_info *o = &tg__ops[op];
  int alu = o->kind == TG__OPK_ALU;
  switch (g) {
  case TG__GROUP_ALU: return alu;
  case TG__GROUP_UNARY: return alu && o->arity == 1;
  case TG__GROUP_BINARY: return alu && o->arity == 2;
  case TG__GROUP_TERNARY: return alu && o->arity == 3;
  case TG__GROUP_ELEMENTWISE: return alu || (o->flags & TG__OPF_ELEMENTWISE);
  case TG__GROUP_MOVEMENT: return (o->flags & TG__OPF_MOVEMENT) != 0;
  case TG__GROUP_COMMUTATIVE: return (o->flags & TG__OPF_COMMUTATIVE) != 0;
  case TG__GROUP_CMP: return (o->flags & TG__OPF_CMP) != 0;
  default: return 0;
  }
}

TG__PRIVATE int tg__op_group_find(const char *name) {
  for (int g = 0; g < TG__NGROUPS; g++)
    if (strcmp(tg__op_group_names[g], name) == 0) return g;
  return -1;
}

TG__PRIVATE double tg__op_identity(tg__op op, tg_dtype dt) {
  switch (tg__ops[op].identity) {
  case TG__IDENT_ZERO: return 0;
  case TG__IDENT_ONE: return 1;
  case TG__IDENT_LOWEST: return tg__dtype_min(dt);
  default: return 0;
  }
}

TG__PRIVATE int tg__op_is_alu(tg__op op) { return tg__ops[op].kind == TG__OPK_ALU; }
TG__PRIVATE int tg__op_is_movement(tg__op op) { return (tg__ops[op].flags & TG__OPF_MOVEMENT) != 0; }
TG__PRIVATE int tg__op_is_cmp(tg__op op) { return (tg__ops[op].flags & TG__OPF_CMP) != 0; }

// ---------------------------------------------------------------------------------------------------------------------
// the intern table

static struct {
  tg__uop **buckets;
  size_t nbuckets, count, live_after_gc;
  int64_t alloc_bytes_at_gc;
  uint32_t epoch;
  int64_t next_id;
} tg__U;

static uint64_t tg__arg_hash(const tg__arg *a, uint64_t h) {
  uint64_t fbits;
  memcpy(&fbits, &a->f, 8);
  h = tg__hash_mix(h, (uint64_t)a->i);
  h = tg__hash_mix(h, (uint64_t)a->i2);
  h = tg__hash_mix(h, fbits);
  h = tg__hash_mix(h, (uint64_t)(uintptr_t)a->ptr);
  if (a->nints) h = tg__hash_bytes(a->ints, sizeof(int64_t) * (size_t)a->nints, h);
  return h;
}

static int tg__arg_eq(const tg__arg *a, const tg__arg *b) {
  return a->i == b->i && a->i2 == b->i2 && memcmp(&a->f, &b->f, 8) == 0 && a->ptr == b->ptr && a->nints == b->nints &&
         (!a->nints || (a->ints && b->ints && memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->nints) == 0));
}

static void tg__intern_grow(void) {
  if (!tg__U.nbuckets) tg__set_return_hook(tg__uop_maybe_gc); /* the first node: collect at each return to the user */
  size_t n = tg__U.nbuckets ? tg__U.nbuckets * 2 : 4096;
  tg__uop **b = (tg__uop **)tg__alloc(sizeof(tg__uop *) * n);
  for (size_t i = 0; i < tg__U.nbuckets; i++) {
    tg__uop *u = tg__U.buckets[i];
    while (u) {
      tg__uop *next = u->next;
      size_t j = (size_t)(u->hash & (n - 1));
      u->next = b[j];
      b[j] = u;
      u = next;
    }
  }
  TG_FREE(tg__U.buckets);
  tg__U.buckets = b;
  tg__U.nbuckets = n;
}

// ---------------------------------------------------------------------------------------------------------------------
// shape inference for tensor-graph nodes: ndim -1 means "a kernel node, no shape"

static void tg__infer_shape(tg__uop *u) {
  const tg__uop *s0 = u->nsrc ? u->src[0] : NULL;
  u->ndim = -1;
  switch (u->op) {
  case TG__OP_CONST: u->ndim = 0; return;
  case TG__OP_BUFFER: u->ndim = 1; u->shape = (int64_t *)tg__alloc(sizeof(int64_t));
    u->shape[0] = ((tg__buffer *)u->arg.ptr)->numel; return;
  case TG__OP_ARANGE: u->ndim = 1; u->shape = (int64_t *)tg__alloc(sizeof(int64_t)); u->shape[0] = u->arg.i; return;
  case TG__OP_DEFINE_VAR: u->ndim = u->nsrc ? -1 : 0; return; /* the tensor graph's has no source, a kernel's one */
  case TG__OP_BIND: u->ndim = 0; return;
  case TG__OP_RESHAPE: case TG__OP_EXPAND:
    u->ndim = u->arg.nints;
    u->shape = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(u->ndim + 1));
    if (u->ndim) memcpy(u->shape, u->arg.ints, sizeof(int64_t) * (size_t)u->ndim);
    return;
  default: break;
  }
  /* kernel-only ops have no shape, and neither has anything computed from one (a RANGE makes an ALU a kernel node) */
  if (tg__ops[u->op].kind == TG__OPK_KERNEL || u->op == TG__OP_INDEX || u->op == TG__OP_SINK || !u->nsrc) return;
  for (int i = 0; i < u->nsrc; i++)
    if (u->src[i]->ndim < 0) return;
  /* everything else takes its shape from its widest source */
  for (int i = 0; i < u->nsrc; i++)
    if (u->src[i]->ndim > s0->ndim) s0 = u->src[i];
  u->ndim = s0->ndim;
  u->shape = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(u->ndim + 1));
  if (u->ndim) memcpy(u->shape, s0->shape, sizeof(int64_t) * (size_t)u->ndim);
  switch (u->op) {
  case TG__OP_PERMUTE:
    for (int i = 0; i < u->ndim; i++) u->shape[i] = s0->shape[u->arg.ints[i]];
    break;
  case TG__OP_PAD:
    for (int i = 0; i < u->ndim; i++) u->shape[i] = s0->shape[i] + u->arg.ints[2 * i] + u->arg.ints[2 * i + 1];
    break;
  case TG__OP_SHRINK:
    for (int i = 0, ok; i < u->ndim; i++) u->shape[i] = tg__sym_sub(u->arg.ints[2 * i + 1], u->arg.ints[2 * i], &ok);
    break;
  case TG__OP_REDUCE_AXIS:
    for (int i = 0; i < u->ndim; i++)
      if ((u->arg.i >> i) & 1) u->shape[i] = 1;
    break;
  default: break;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// construction

TG__PRIVATE tg__uop *tg__uop_new(tg__op op, tg_dtype dt, int nsrc, tg__uop *const *src, const tg__arg *arg) {
  static const tg__arg noarg = {0, 0, 0.0, NULL, 0, NULL};
  if (!arg) arg = &noarg;
  uint64_t h = tg__hash_mix((uint64_t)op * 1000003u, (uint64_t)dt);
  h = tg__hash_mix(h, (uint64_t)nsrc);
  for (int i = 0; i < nsrc; i++) h = tg__hash_mix(h, src[i]->hash);
  h = tg__arg_hash(arg, h);
  if (!tg__U.nbuckets) tg__intern_grow();
  for (tg__uop *u = tg__U.buckets[h & (tg__U.nbuckets - 1)]; u; u = u->next) {
    if (u->hash != h || u->op != op || u->dtype != dt || u->nsrc != nsrc || !tg__arg_eq(&u->arg, arg)) continue;
    int same = 1;
    for (int i = 0; i < nsrc && same; i++) same = u->src[i] == src[i];
    if (same) return u;
  }
  tg__uop *u = (tg__uop *)tg__alloc(sizeof(tg__uop));
  u->op = op;
  u->dtype = dt;
  u->nsrc = nsrc;
  if (nsrc) {
    u->src = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)nsrc);
    memcpy(u->src, src, sizeof(tg__uop *) * (size_t)nsrc);
  }
  u->arg = *arg;
  u->arg.ints = NULL; /* the node owns a copy of the ints, never the caller's array */
  if (arg->nints) {
    int64_t *ints = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)arg->nints);
    memcpy(ints, arg->ints, sizeof(int64_t) * (size_t)arg->nints);
    u->arg.ints = ints;
  }
  if (op == TG__OP_BUFFER) tg__buffer_retain((tg__buffer *)arg->ptr);
  u->hash = h;
  u->id = tg__U.next_id++;
  u->mark = tg__U.epoch;
  tg__infer_shape(u);
  if (tg__U.count + 1 > tg__U.nbuckets) tg__intern_grow();
  size_t j = (size_t)(h & (tg__U.nbuckets - 1));
  u->next = tg__U.buckets[j];
  tg__U.buckets[j] = u;
  tg__U.count++;
  return u;
}

TG__PRIVATE tg__uop *tg__uop0(tg__op op, tg_dtype dt, const tg__arg *arg) { return tg__uop_new(op, dt, 0, NULL, arg); }
TG__PRIVATE tg__uop *tg__uop1(tg__op op, tg_dtype dt, tg__uop *a, const tg__arg *arg) {
  return tg__uop_new(op, dt, 1, &a, arg);
}
TG__PRIVATE tg__uop *tg__uop2(tg__op op, tg_dtype dt, tg__uop *a, tg__uop *b, const tg__arg *arg) {
  tg__uop *s[2] = {a, b};
  return tg__uop_new(op, dt, 2, s, arg);
}
TG__PRIVATE tg__uop *tg__uop3(tg__op op, tg_dtype dt, tg__uop *a, tg__uop *b, tg__uop *c, const tg__arg *arg) {
  tg__uop *s[3] = {a, b, c};
  return tg__uop_new(op, dt, 3, s, arg);
}

/* Constants are stored canonically for their dtype: ints truncated and wrapped, bools 0/1, float32 rounded. */
TG__PRIVATE tg__uop *tg__const(tg_dtype dt, double v) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  if (tg_dtype_is_float(dt)) {
    if (dt == TG_FLOAT32) v = (double)(float)v;
    else if (dt == TG_FLOAT16) v = (double)tg__half_to_float(tg__float_to_half((float)v));
    else if (dt == TG_BFLOAT16) v = (double)tg__bf16_to_float(tg__float_to_bf16((float)v));
    a.f = v == 0 ? 0.0 * (signbit(v) ? -1 : 1) : v;
  } else if (dt == TG_BOOL) {
    a.i = v != 0;
  } else {
    return tg__const_int(dt, isnan(v) ? 0 : v >= 9.2233720368547758e18 ? (int64_t)(uint64_t)v : (int64_t)v);
  }
  return tg__uop0(TG__OP_CONST, dt, &a);
}

TG__PRIVATE tg__uop *tg__const_int(tg_dtype dt, int64_t v) {
  if (tg_dtype_is_float(dt)) return tg__const(dt, (double)v);
  tg__arg a;
  memset(&a, 0, sizeof a);
  switch (dt) {
  case TG_BOOL: v = v != 0; break;
  case TG_INT8: v = (int8_t)v; break;
  case TG_UINT8: v = (uint8_t)v; break;
  case TG_INT16: v = (int16_t)v; break;
  case TG_UINT16: v = (uint16_t)v; break;
  case TG_INT32: v = (int32_t)v; break;
  case TG_UINT32: v = (uint32_t)v; break;
  default: break; /* 64-bit: stored as the bit pattern */
  }
  a.i = v;
  return tg__uop0(TG__OP_CONST, dt, &a);
}

TG__PRIVATE int tg__is_const(const tg__uop *u, double *v) {
  if (u->op != TG__OP_CONST) return 0;
  if (v) *v = tg__const_val(u);
  return 1;
}

TG__PRIVATE double tg__const_val(const tg__uop *u) {
  if (tg_dtype_is_float(u->dtype)) return u->arg.f;
  if (u->dtype == TG_UINT64) return (double)(uint64_t)u->arg.i;
  return (double)u->arg.i;
}

TG__PRIVATE tg__uop *tg__alu(tg__op op, tg__uop *a, tg__uop *b) {
  return tg__uop2(op, tg__op_is_cmp(op) ? TG_BOOL : a->dtype, a, b, NULL);
}
TG__PRIVATE tg__uop *tg__alu1(tg__op op, tg__uop *a) { return tg__uop1(op, a->dtype, a, NULL); }
TG__PRIVATE tg__uop *tg__where(tg__uop *c, tg__uop *a, tg__uop *b) {
  return tg__uop3(TG__OP_WHERE, a->dtype, c, a, b, NULL);
}
TG__PRIVATE tg__uop *tg__cast(tg__uop *a, tg_dtype dt) {
  return a->dtype == dt ? a : tg__uop1(TG__OP_CAST, dt, a, NULL);
}

// ---------------------------------------------------------------------------------------------------------------------
// integer bounds, for index simplification: [vmin, vmax] over every value the expression can take

static int64_t tg__sat(double v) {
  return v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
}

/* ADD, SUB, MUL, MAX and NEG take their extremes at the corners of their operands' intervals (bit i of corner c: the
 * upper end for operand i). They are evaluated there through the op table: in double, saturated, for those that may
 * overflow; MAX, which cannot, exactly in int64 (signed: bounds are signed intervals) */
static void tg__corner_bounds(tg__op op, const int64_t *los, const int64_t *his, int64_t *lo, int64_t *hi) {
  const tg__op_info *o = &tg__ops[op];
  int exact = op == TG__OP_MAX;
  double mn = INFINITY, mx = -INFINITY;
  int64_t imn = INT64_MAX, imx = INT64_MIN;
  for (int c = 0; c < 1 << o->arity; c++) {
    int64_t v[2], r = 0;
    double f[2];
    for (int i = 0; i < o->arity; i++) {
      v[i] = (c >> i) & 1 ? his[i] : los[i];
      f[i] = (double)v[i];
    }
    if (exact && o->eval_int(TG_INT64, v, &r)) {
      imn = r < imn ? r : imn;
      imx = r > imx ? r : imx;
    } else if (!exact) {
      double x = o->eval_float(f);
      mn = x < mn ? x : mn;
      mx = x > mx ? x : mx;
    }
  }
  *lo = exact ? imn : tg__sat(mn);
  *hi = exact ? imx : tg__sat(mx);
}

static void tg__compute_bounds(tg__uop *u, int64_t *lo, int64_t *hi) {
  int64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  tg_dtype dt = u->dtype;
  *lo = tg__sat(tg__dtype_min(dt));
  *hi = tg__sat(tg__dtype_max(dt));
  if (dt == TG_UINT64) *hi = INT64_MAX; /* conservative */
  if (tg_dtype_is_float(dt)) return;
  if (u->nsrc >= 1) tg__uop_bounds(u->src[0], &a0, &a1);
  if (u->nsrc >= 2) tg__uop_bounds(u->src[1], &b0, &b1);
  switch (u->op) {
  case TG__OP_CONST: *lo = *hi = u->arg.i; break;
  case TG__OP_RANGE: *lo = 0; *hi = a1 - 1; break;
  case TG__OP_DEFINE_VAR: *lo = u->arg.ints[0]; *hi = u->arg.ints[1]; break;
  case TG__OP_ADD: case TG__OP_SUB: case TG__OP_MUL: case TG__OP_MAX: case TG__OP_NEG: {
    int64_t los[2] = {a0, b0}, his[2] = {a1, b1};
    tg__corner_bounds(u->op, los, his, lo, hi);
    break;
  }
  case TG__OP_IDIV:
    if (b0 == b1 && b0 > 0) { *lo = a0 / b0; *hi = a1 / b0; }
    break;
  case TG__OP_MOD:
    if (b0 == b1 && b0 > 0) {
      if (a0 >= 0 && a1 < b0) { *lo = a0; *hi = a1; }
      else if (a0 >= 0) { *lo = 0; *hi = b0 - 1; }
      else { *lo = -(b0 - 1); *hi = b0 - 1; }
    }
    break;
  case TG__OP_WHERE: {
    int64_t c0, c1;
    tg__uop_bounds(u->src[2], &c0, &c1);
    *lo = b0 < c0 ? b0 : c0; *hi = b1 > c1 ? b1 : c1;
    break;
  }
  case TG__OP_AND:
    if (b0 == b1 && b0 >= 0) { *lo = 0; *hi = b0; }
    break;
  case TG__OP_CAST:
    if (!tg_dtype_is_float(u->src[0]->dtype) && a0 >= *lo && a1 <= *hi) { *lo = a0; *hi = a1; }
    break;
  default:
    if (tg__op_is_cmp(u->op) || dt == TG_BOOL) { *lo = 0; *hi = 1; }
    break;
  }
}

TG__PRIVATE void tg__uop_bounds(tg__uop *u, int64_t *lo, int64_t *hi) {
  if (!u->has_bounds) {
    tg__compute_bounds(u, &u->vmin, &u->vmax);
    u->has_bounds = 1;
  }
  *lo = u->vmin;
  *hi = u->vmax;
}

// ---------------------------------------------------------------------------------------------------------------------
// walks and printing

static int tg__reaches_in(const tg__uop *from, const tg__uop *to, tg__map *seen) {
  if (from == to) return 1;
  if (tg__map_get(seen, from)) return 0;
  tg__map_put(seen, from, (void *)1);
  for (int i = 0; i < from->nsrc; i++)
    if (tg__reaches_in(from->src[i], to, seen)) return 1;
  return 0;
}

/* whether `to` is `from` or one of its sources, at any depth */
TG__PRIVATE int tg__uop_reaches(const tg__uop *from, const tg__uop *to) {
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  int r = tg__reaches_in(from, to, &seen);
  tg__map_free(&seen);
  return r;
}

TG__PRIVATE void tg__uop_toposort(tg__uop *root, tg__vec *out) {
  /* iterative DFS; a visited map holds 1 while on the stack and 2 when emitted */
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  tg__vec stack;
  memset(&stack, 0, sizeof stack);
  tg__vec_push(&stack, root);
  while (stack.n) {
    tg__uop *u = (tg__uop *)stack.items[stack.n - 1];
    uintptr_t st = (uintptr_t)tg__map_get(&seen, u);
    if (st == 2) { stack.n--; continue; }
    if (st == 1) {
      stack.n--;
      tg__map_put(&seen, u, (void *)2);
      tg__vec_push(out, u);
      continue;
    }
    tg__map_put(&seen, u, (void *)1);
    for (int i = u->nsrc - 1; i >= 0; i--)
      if (!tg__map_get(&seen, u->src[i])) tg__vec_push(&stack, u->src[i]);
  }
  tg__vec_free(&stack);
  tg__map_free(&seen);
}

/* whether u's graph reads a buffer (0 for constants: zeros, full, arange, ...): a walk that stops at the first
 * BUFFER; memo (u -> 1 reads, 2 does not), shared across calls, may be NULL */
TG__PRIVATE int tg__uop_reads_buffer(tg__uop *u, tg__map *memo) {
  tg__map own;
  memset(&own, 0, sizeof own);
  if (!memo) memo = &own;
  tg__vec order;
  memset(&order, 0, sizeof order);
  int found = (intptr_t)tg__map_get(memo, u) == 1;
  if (!tg__map_get(memo, u)) {
    tg__uop_toposort(u, &order);
    for (int i = 0; i < order.n; i++) { /* sources first: each node's answer from its sources' */
      tg__uop *v = (tg__uop *)order.items[i];
      if (tg__map_get(memo, v)) continue;
      int r = v->op == TG__OP_BUFFER;
      for (int k = 0; k < v->nsrc && !r; k++) r = (intptr_t)tg__map_get(memo, v->src[k]) == 1;
      tg__map_put(memo, v, (void *)(intptr_t)(r ? 1 : 2));
    }
    found = (intptr_t)tg__map_get(memo, u) == 1;
  }
  tg__vec_free(&order);
  tg__map_free(&own);
  return found;
}

static void tg__print_arg(tg__str *b, const tg__uop *u) {
  if (u->op == TG__OP_CONST) {
    if (tg_dtype_is_float(u->dtype)) tg__str_printf(b, " %.9g", u->arg.f);
    else if (u->dtype == TG_UINT64) tg__str_printf(b, " %llu", (unsigned long long)u->arg.i);
    else tg__str_printf(b, " %lld", (long long)u->arg.i);
    return;
  }
  if (u->op == TG__OP_BUFFER) {
    tg__buffer *buf = (tg__buffer *)u->arg.ptr;
    tg__str_printf(b, " buf%lld<%s,%lld>", (long long)buf->id, buf->dev->name, (long long)buf->numel);
    if (u->arg.i) tg__str_printf(b, " v%lld", (long long)u->arg.i);
    return;
  }
  if (u->arg.nints) {
    tg__str_cat(b, " (");
    for (int i = 0; i < u->arg.nints; i++) tg__str_printf(b, "%s%lld", i ? "," : "", (long long)u->arg.ints[i]);
    tg__str_cat(b, ")");
  }
  if (u->op == TG__OP_REDUCE_AXIS) tg__str_printf(b, " %s axes=0x%llx", tg__op_names[u->arg.i2], (long long)u->arg.i);
  else if (u->op == TG__OP_REDUCE) tg__str_printf(b, " %s", tg__op_names[u->arg.i]);
  else if (u->arg.i || u->op == TG__OP_RANGE || u->op == TG__OP_DEFINE_GLOBAL)
    tg__str_printf(b, " %lld", (long long)u->arg.i);
}

TG__PRIVATE void tg__uop_arg_str(tg__str *b, const tg__uop *u) { tg__print_arg(b, u); }
TG__PRIVATE uint64_t tg__uop_arg_hash(const tg__uop *u) { return tg__arg_hash(&u->arg, 0x76697a); }

TG__PRIVATE char *tg__uop_print(tg__uop *root) {
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__uop_toposort(root, &order);
  tg__map num;
  memset(&num, 0, sizeof num);
  tg__str b;
  memset(&b, 0, sizeof b);
  for (int i = 0; i < order.n; i++) {
    tg__uop *u = (tg__uop *)order.items[i];
    tg__map_put(&num, u, (void *)(uintptr_t)(i + 1));
    tg__str_printf(&b, "%4d %-13s %-8s [", i, tg__op_names[u->op], tg__dtypes[u->dtype].name);
    for (int j = 0; j < u->nsrc; j++)
      tg__str_printf(&b, "%s%d", j ? "," : "", (int)(uintptr_t)tg__map_get(&num, u->src[j]) - 1);
    tg__str_cat(&b, "]");
    tg__print_arg(&b, u);
    if (u->ndim >= 0 && u->op != TG__OP_CONST) {
      tg__str_cat(&b, " shape=(");
      for (int j = 0; j < u->ndim; j++) tg__str_printf(&b, "%s%lld", j ? "," : "", (long long)u->shape[j]);
      tg__str_cat(&b, ")");
    }
    tg__str_cat(&b, "\n");
  }
  tg__map_free(&num);
  tg__vec_free(&order);
  return tg__str_take(&b);
}

// ---------------------------------------------------------------------------------------------------------------------
// garbage collection: mark from the roots, sweep the intern table

static void tg__mark(tg__uop *root, tg__vec *stack) {
  stack->n = 0;
  if (!root || root->mark == tg__U.epoch) return;
  root->mark = tg__U.epoch;
  tg__vec_push(stack, root);
  while (stack->n) {
    tg__uop *u = (tg__uop *)stack->items[--stack->n];
    for (int i = 0; i <= u->nsrc; i++) {
      tg__uop *s = i < u->nsrc ? u->src[i] : u->becomes;
      if (s && s->mark != tg__U.epoch) {
        s->mark = tg__U.epoch;
        tg__vec_push(stack, s);
      }
    }
  }
}

static void tg__uop_destroy(tg__uop *u) {
  if (u->op == TG__OP_BUFFER) tg__buffer_release((tg__buffer *)u->arg.ptr);
  TG_FREE(u->src);
  TG_FREE((void *)u->arg.ints);
  TG_FREE(u->shape);
  TG_FREE(u);
}

static void (*tg__root_enumerator)(tg__root_visit visit, void *ctx);
TG__PRIVATE void tg__set_root_enumerator(void (*each)(tg__root_visit visit, void *ctx)) { tg__root_enumerator = each; }
TG__PRIVATE void tg__uop_roots(tg__root_visit visit, void *ctx) {
  if (tg__root_enumerator) tg__root_enumerator(visit, ctx);
}

static void tg__mark_root(void *stack, tg__uop *u) { tg__mark(u, (tg__vec *)stack); }

TG__PRIVATE void tg__uop_gc(tg__uop **extra_roots, int n) {
  tg__U.epoch++;
  tg__vec stack;
  memset(&stack, 0, sizeof stack);
  tg__uop_roots(tg__mark_root, &stack);
  for (int i = 0; i < n; i++) tg__mark(extra_roots[i], &stack);
  tg__vec_free(&stack);
  size_t live = 0;
  for (size_t i = 0; i < tg__U.nbuckets; i++) {
    tg__uop **pp = &tg__U.buckets[i];
    while (*pp) {
      tg__uop *u = *pp;
      if (u->mark != tg__U.epoch) {
        *pp = u->next;
        tg__uop_destroy(u);
      } else {
        live++;
        pp = &u->next;
      }
    }
  }
  tg__U.count = live;
  tg__U.live_after_gc = live;
  tg__U.alloc_bytes_at_gc = tg__stat_alloc_bytes(0);
}

/* collects when the graph has doubled since the last collection, or when much buffer memory has been handed out since
 * (the nodes of dead tensors hold their buffers until collected). Memory not given back is memory the next
 * allocations take fresh from the system, at a page fault per 4 KiB on first touch (about 1 ms per 4 MiB, and worse
 * on many cores): an eager 1024 matmul in a loop allocated 12 MiB per call, faulted on every one until 64 MiB had
 * gone by, and B's panel copy ran 4x slower for it. A collection costs about a mark per live node, so the allowance
 * grows with the graph: 8 MiB, or 512 bytes per node that was live after the last collection. Inside a JIT'd
 * function (its first call and its capture, once each) the graph may grow by half instead of doubling: a language
 * model's capture left up to 48 thousand dead nodes (12 MB) uncollected at its peak, and SmolLM2's peak RSS with
 * 8-bit activations went 140.5-141.0 -> 135.8-136.2 MB, its first answer token no later */
TG__PRIVATE void tg__uop_maybe_gc(void) {
  int64_t allowance = (int64_t)512 * (int64_t)tg__U.live_after_gc;
  if (allowance < (8 << 20)) allowance = 8 << 20;
  size_t slack = tg__in_callback() ? tg__U.live_after_gc / 2 + 5000 : tg__U.live_after_gc + 20000;
  if (tg__U.count > tg__U.live_after_gc + slack || tg__stat_alloc_bytes(0) - tg__U.alloc_bytes_at_gc > allowance)
    tg__uop_gc(NULL, 0);
}

TG__PRIVATE int64_t tg__uop_count(void) { return (int64_t)tg__U.count; }
