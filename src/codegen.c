/* codegen.c: lower a kernel's AST (tensor ops over buffers) to index arithmetic over loops (RANGEs) (layer 3).
 *
 * Contract: the lowering is a rule table. The kernel's output is indexed by one RANGE per output dimension, and an
 * INDEX(node, valid, idx...) asks "the value of node at idx". Rules push INDEX down the graph:
 *   - through elementwise ops unchanged;
 *   - through movement ops by rewriting the index (a reshape flattens and unflattens it, a permute reorders it, an
 *     expand zeroes it, a pad shifts it and narrows `valid`, a shrink shifts it, a flip mirrors it), so movement ops
 *     never copy;
 *   - into a reduction by adding a RANGE per reduced axis, under a REDUCE;
 *   - into a buffer as a LOAD at the linear address (gated by `valid`).
 * The symbolic rules run in the same rewrite, so the index arithmetic is simplified as it is built.
 * Then a second table guards integer division: a divisor that may be 0 (or -1 under a dividend that may be the
 * type's minimum) is replaced by 1 there, so no kernel traps, and the results are the ones api.h defines (x // 0 =
 * x % 0 = 0, MIN // -1 = MIN, MIN % -1 = 0). Divisors known to be neither (every index's) are left as they are. It
 * also casts floats to small unsigned integers through int64, which C leaves undefined for negatives. */
#include "internal.h"

typedef struct tg__lctx {
  int next_range;
  tg__map params; /* BUFFER uop -> parameter number + 1 */
  tg__uop *vars;  /* the variable table's DEFINE_GLOBAL (symbolic shapes), or NULL */
} tg__lctx;

static tg__uop *tg__ci(int64_t v) { return tg__const_int(TG_INT32, v); }

/* a variable in a kernel: DEFINE_VAR(the variable table), its slot and bounds as the tensor graph's */
static tg__uop *tg__kvar(tg__lctx *c, int slot) {
  tg__var_info *v = tg__var_slot(slot);
  tg__arg a;
  memset(&a, 0, sizeof a);
  int64_t mm[2] = {v->min, v->max};
  a.i = slot;
  a.nints = 2;
  a.ints = mm;
  return tg__uop1(TG__OP_DEFINE_VAR, TG_INT32, c->vars, &a);
}

/* a size or a bound as a kernel expression: a constant, or var + offset */
static tg__uop *tg__dimu(tg__lctx *c, int64_t d) {
  if (!tg__is_sym(d)) return tg__ci(d);
  tg__uop *v = tg__kvar(c, tg__sym_slot(d));
  int64_t off = tg__sym_offset(d);
  return off ? tg__alu(TG__OP_ADD, v, tg__ci(off)) : v;
}

static tg__uop *tg__range(tg__lctx *c, int64_t n) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = c->next_range++;
  return tg__uop1(TG__OP_RANGE, TG_INT32, tg__dimu(c, n), &a);
}

/* INDEX(x, valid, idx[0..n)) */
static tg__uop *tg__index(tg__uop *x, tg__uop *valid, tg__uop **idx, int n) {
  tg__uop *s[TG_MAX_DIMS + 2];
  s[0] = x;
  s[1] = valid;
  for (int i = 0; i < n; i++) s[2 + i] = idx[i];
  return tg__uop_new(TG__OP_INDEX, x->dtype, n + 2, s, NULL);
}

static tg__uop *tg__index_like(tg__uop *root, tg__uop *x, tg__uop *valid, tg__uop **idx) {
  return tg__index(x, valid, idx, x->ndim);
  (void)root;
}

/* the linear offset of an index into a contiguous shape (symbolic sizes give symbolic strides) */
static tg__uop *tg__flatten_idx(tg__lctx *c, tg__uop **idx, const int64_t *shape, int n) {
  tg__uop *lin = tg__ci(0), *sym = NULL;
  int64_t stride = 1;
  for (int i = n - 1; i >= 0; i--) {
    tg__uop *st = sym ? tg__alu(TG__OP_MUL, sym, tg__ci(stride)) : tg__ci(stride);
    if (shape[i] != 1) lin = tg__alu(TG__OP_ADD, lin, tg__alu(TG__OP_MUL, idx[i], st));
    if (tg__is_sym(shape[i])) sym = sym ? tg__alu(TG__OP_MUL, sym, tg__dimu(c, shape[i])) : tg__dimu(c, shape[i]);
    else stride *= shape[i];
  }
  return lin;
}

/* a reshape that only adds or drops axes of size 1: the other axes map one to one (how symbolic sizes are reshaped);
 * idx gets the input's index, 1 when it applies */
static int tg__reshape_ones(const tg__uop *x, const tg__uop *in, tg__uop *const *xi, tg__uop **idx) {
  int i = 0, j = 0;
  for (;;) {
    while (i < x->ndim && x->shape[i] == 1) i++;
    while (j < in->ndim && in->shape[j] == 1) idx[j++] = tg__ci(0);
    if (i == x->ndim || j == in->ndim) return i == x->ndim && j == in->ndim;
    if (x->shape[i] != in->shape[j]) return 0;
    idx[j++] = xi[i++];
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// the push-down rules

static tg__uop *tg__rw_idx_elementwise(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *x = root->src[0], *s[4];
  for (int i = 0; i < x->nsrc; i++) s[i] = tg__index(x->src[i], root->src[1], root->src + 2, root->nsrc - 2);
  return tg__uop_new(x->op, x->dtype, x->nsrc, s, &x->arg);
}

static tg__uop *tg__rw_idx_const(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  return root->src[0];
}

static tg__uop *tg__rw_idx_reshape(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__lctx *c = (tg__lctx *)ctx;
  tg__uop *x = root->src[0], *in = x->src[0], *idx[TG_MAX_DIMS];
  int sym = tg__shape_has_sym(x->ndim, x->shape) || tg__shape_has_sym(in->ndim, in->shape);
  if (sym && in->ndim > 1 && tg__reshape_ones(x, in, root->src + 2, idx))
    return tg__index(in, root->src[1], idx, in->ndim);
  tg__uop *lin = tg__simplify(tg__flatten_idx(c, root->src + 2, x->shape, x->ndim));
  if (sym && in->ndim == 1) { /* into a buffer's elements */
    idx[0] = lin;
    return tg__index(in, root->src[1], idx, 1);
  }
  int64_t stride = 1;
  for (int j = in->ndim - 1; j >= 0; j--) {
    tg__uop *q = tg__alu(TG__OP_IDIV, lin, tg__ci(stride));
    idx[j] = in->shape[j] == 1 ? tg__ci(0) : j == 0 ? q : tg__alu(TG__OP_MOD, q, tg__ci(in->shape[j]));
    stride *= in->shape[j];
  }
  return tg__index(in, root->src[1], idx, in->ndim);
}

static tg__uop *tg__rw_idx_permute(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *x = root->src[0], *idx[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) idx[x->arg.ints[i]] = root->src[2 + i];
  return tg__index_like(root, x->src[0], root->src[1], idx);
}

static tg__uop *tg__rw_idx_expand(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *x = root->src[0], *in = x->src[0], *idx[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) idx[i] = in->shape[i] == 1 ? tg__ci(0) : root->src[2 + i];
  return tg__index_like(root, in, root->src[1], idx);
}

static tg__uop *tg__rw_idx_shrink(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__lctx *c = (tg__lctx *)ctx;
  tg__uop *x = root->src[0], *idx[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) idx[i] = tg__alu(TG__OP_ADD, root->src[2 + i], tg__dimu(c, x->arg.ints[2 * i]));
  return tg__index_like(root, x->src[0], root->src[1], idx);
}

static tg__uop *tg__rw_idx_flip(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *x = root->src[0], *idx[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++)
    idx[i] = (x->arg.i >> i) & 1 ? tg__alu(TG__OP_SUB, tg__ci(x->shape[i] - 1), root->src[2 + i]) : root->src[2 + i];
  return tg__index_like(root, x->src[0], root->src[1], idx);
}

static tg__uop *tg__rw_idx_pad(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__lctx *c = (tg__lctx *)ctx;
  tg__uop *x = root->src[0], *in = x->src[0], *idx[TG_MAX_DIMS], *ok = tg__const_int(TG_BOOL, 1);
  for (int i = 0; i < x->ndim; i++) {
    int64_t before = x->arg.ints[2 * i], after = x->arg.ints[2 * i + 1];
    tg__uop *ix = root->src[2 + i];
    idx[i] = before ? tg__alu(TG__OP_SUB, ix, tg__ci(before)) : ix;
    if (before) ok = tg__alu(TG__OP_AND, ok, tg__alu(TG__OP_CMPLT, tg__ci(before - 1), ix));
    if (after) ok = tg__alu(TG__OP_AND, ok, tg__alu(TG__OP_CMPLT, ix, tg__alu(TG__OP_ADD, tg__ci(before),
                                                                                tg__dimu(c, in->shape[i]))));
  }
  ok = tg__simplify(ok);
  tg__uop *valid = tg__alu(TG__OP_AND, root->src[1], ok);
  tg__uop *inner = tg__index_like(root, in, valid, idx);
  return tg__where(ok, inner, tg__const(x->dtype, 0));
}

static tg__uop *tg__rw_idx_reduce(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__lctx *c = (tg__lctx *)ctx;
  tg__uop *x = root->src[0], *in = x->src[0], *idx[TG_MAX_DIMS], *srcs[TG_MAX_DIMS + 1];
  int nr = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (!((x->arg.i >> i) & 1)) idx[i] = root->src[2 + i];
    else if (in->shape[i] == 1) idx[i] = tg__ci(0);
    else idx[i] = srcs[1 + nr++] = tg__range(c, in->shape[i]);
  }
  tg__uop *val = tg__index_like(root, in, root->src[1], idx);
  if (!nr) return val;
  srcs[0] = val;
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = x->arg.i2;
  return tg__uop_new(TG__OP_REDUCE, x->dtype, nr + 1, srcs, &a);
}

/* the parameter of a buffer: every version of one buffer (an in-place update reads the old and writes the new) is one
 * parameter, so a kernel never sees two aliasing restrict pointers */
static tg__uop *tg__param(tg__lctx *c, tg__uop *buf) {
  intptr_t p = (intptr_t)tg__map_get(&c->params, buf->arg.ptr);
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = p - 1;
  return tg__uop0(TG__OP_DEFINE_GLOBAL, buf->dtype, &a);
}

static tg__uop *tg__rw_idx_buffer(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__lctx *c = (tg__lctx *)ctx;
  tg__uop *buf = root->src[0], *valid = root->src[1];
  tg__uop *addr = tg__uop2(TG__OP_INDEX, buf->dtype, tg__param(c, buf), root->src[2], NULL);
  if (valid->op == TG__OP_CONST && valid->arg.i) return tg__uop1(TG__OP_LOAD, buf->dtype, addr, NULL);
  return tg__uop2(TG__OP_LOAD, buf->dtype, addr, valid, NULL);
}

static tg__uop *tg__rw_idx_arange(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  return root->src[2];
}

static tg__uop *tg__rw_idx_var(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  return tg__kvar((tg__lctx *)ctx, (int)root->src[0]->arg.i);
}

static tg__uop *tg__rw_idx_passthrough(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  return tg__index(root->src[0]->src[0], root->src[1], root->src + 2, root->nsrc - 2);
}

static const tg__rule tg__lower_rules[] = {
    TG__RULE("(INDEX ELEMENTWISE ...)", tg__rw_idx_elementwise), /* value at i of f(x) is f(x at i) (ALU, casts) */
    TG__RULE("(INDEX CONST _)", tg__rw_idx_const),           /* a scalar constant is the same everywhere */
    TG__RULE("(INDEX RESHAPE ...)", tg__rw_idx_reshape),     /* flatten by the new shape, unflatten by the old */
    TG__RULE("(INDEX PERMUTE ...)", tg__rw_idx_permute),     /* reorder */
    TG__RULE("(INDEX EXPAND ...)", tg__rw_idx_expand),       /* broadcast dims read index 0 */
    TG__RULE("(INDEX SHRINK ...)", tg__rw_idx_shrink),       /* shift by the start */
    TG__RULE("(INDEX FLIP ...)", tg__rw_idx_flip),           /* n-1-i */
    TG__RULE("(INDEX PAD ...)", tg__rw_idx_pad),             /* shift, and 0 outside */
    TG__RULE("(INDEX REDUCE_AXIS ...)", tg__rw_idx_reduce),  /* a loop per reduced axis */
    TG__RULE("(INDEX BUFFER _ _)", tg__rw_idx_buffer),       /* a load */
    TG__RULE("(INDEX ARANGE _ _)", tg__rw_idx_arange),       /* arange at i is i */
    TG__RULE("(INDEX DEFINE_VAR _)", tg__rw_idx_var),        /* a variable: read from the variable table */
    TG__RULE("(INDEX CONTIGUOUS|COPY|DETACH ...)", tg__rw_idx_passthrough), /* no computation of their own */
};
TG__RULES_REGISTER(tg__lower_rules)

// ---------------------------------------------------------------------------------------------------------------------
// integer division that cannot trap

/* What an integer x / d can hit, from the bounds: d == 0 (a trap on the CPU, undefined elsewhere), and for signed
 * types d == -1 with x == MIN (the quotient overflows: a trap too). Bounds past the type's range mean the expression
 * may wrap: then anything is possible. */
static void tg__div_hazards(tg__uop *x, tg__uop *d, int *zero, int *m1) {
  tg_dtype dt = d->dtype;
  double mn = tg__dtype_min(dt), mx = tg__dtype_max(dt);
  int64_t lo, hi, xlo, xhi;
  tg__uop_bounds(d, &lo, &hi);
  int exact = (double)lo >= mn && (double)hi <= mx;
  *zero = !exact || (lo <= 0 && hi >= 0);
  *m1 = 0;
  if (mn < 0 && (!exact || (lo <= -1 && hi >= -1))) {
    tg__uop_bounds(x, &xlo, &xhi);
    *m1 = (double)xlo <= mn || (double)xhi > mx;
  }
}

/* where the divisor must be replaced by 1: d == 0, or d == -1 and x == MIN (NULL: nowhere). Built the same way each
 * time (hash-consed), so that the guard recognises its own work by pointer (tg__div_guarded). */
static tg__uop *tg__div_bad(tg__uop *x, tg__uop *d) {
  int zero, m1;
  tg__div_hazards(x, d, &zero, &m1);
  tg_dtype dt = d->dtype;
  tg__uop *bad = zero ? tg__alu(TG__OP_CMPEQ, d, tg__const_int(dt, 0)) : NULL;
  if (m1) {
    tg__uop *is_min = tg__alu(TG__OP_CMPEQ, x, tg__const_int(dt, (int64_t)tg__dtype_min(dt)));
    tg__uop *is_m1 = tg__alu(TG__OP_CMPEQ, d, tg__const_int(dt, -1));
    tg__uop *both = d->op == TG__OP_CONST ? is_min : tg__alu(TG__OP_AND, is_m1, is_min); /* d is -1 itself */
    bad = bad ? tg__alu(TG__OP_OR, bad, both) : both;
  }
  return bad;
}

/* d is where(bad, 1, d0) with bad exactly what tg__div_bad(x, d0) builds: a divisor the guard made */
static int tg__div_guarded(tg__uop *x, tg__uop *d) {
  if (d->op != TG__OP_WHERE || d->src[1]->op != TG__OP_CONST || d->src[1]->arg.i != 1) return 0;
  tg__uop *bad = tg__div_bad(x, d->src[2]);
  return bad && d->src[0] == bad;
}

/* x / d and x % d (C's, truncating) on integers: the divisor becomes where(bad, 1, d), which leaves x / 1 = x (so
 * MIN / -1 gives MIN) and x % 1 = 0; a quotient by 0 is then replaced by 0 */
static tg__uop *tg__rw_guard_div(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx;
  tg__uop *x = tg__bind(b, "x"), *d = tg__bind(b, "d");
  tg_dtype dt = root->dtype;
  if (tg_dtype_is_float(dt) || tg__div_guarded(x, d)) return NULL;
  tg__uop *bad = tg__div_bad(x, d), *zero = tg__const_int(dt, 0);
  if (!bad) return NULL;
  if (d->op == TG__OP_CONST && d->arg.i == 0) return zero; /* x // 0 = x % 0 = 0 */
  tg__uop *q = tg__alu(root->op, x, tg__where(bad, tg__const_int(dt, 1), d));
  int may_zero, may_m1;
  tg__div_hazards(x, d, &may_zero, &may_m1);
  if (root->op == TG__OP_IDIV && may_zero) q = tg__where(tg__alu(TG__OP_CMPEQ, d, zero), zero, q); /* not x / 1 */
  return q;
}

/* A float cast to an unsigned integer of 32 bits or fewer goes through int64: C leaves a negative or too large
 * value undefined (GPU and CPU kernels gave different bytes: a GROUPed uint8 sum of negative floats differed from
 * the plain kernel's), and through int64 it wraps as numpy's astype does (-5.0 -> 251, 300.0 -> 44 as uint8) */
static tg__uop *tg__rw_guard_unsigned(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg_dtype dt = root->dtype;
  if (!tg_dtype_is_float(root->src[0]->dtype) || !tg__dtypes[dt].is_unsigned || tg__dtypes[dt].size > 4 ||
      dt == TG_BOOL)
    return NULL;
  return tg__uop1(TG__OP_CAST, dt, tg__uop1(TG__OP_CAST, TG_INT64, root->src[0], NULL), NULL);
}

static const tg__rule tg__guard_rules[] = {
    TG__RULE("(IDIV|MOD x d)", tg__rw_guard_div), /* x / where(d == 0 | (d == -1 & x == MIN), 1, d), and 0 for d == 0 */
    TG__RULE("(CAST _)", tg__rw_guard_unsigned),  /* (uint8)float -> (uint8)(int64)float: wraps, as numpy's */
};
TG__RULES_REGISTER(tg__guard_rules)

// ---------------------------------------------------------------------------------------------------------------------
// an assignment into a view, and variables read from their table

/* STORE(LOAD(addr[, valid]), v[, gate]): a store through a view, whose address the lowering found as a load's ->
 * STORE(addr, v, gate and valid) */
static tg__uop *tg__rw_store_view(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *ld = root->src[0], *gate = root->nsrc > 2 ? root->src[2] : NULL;
  if (ld->nsrc > 1) gate = gate ? tg__alu(TG__OP_AND, gate, ld->src[1]) : ld->src[1];
  tg__uop *s[3] = {ld->src[0], root->src[1], gate};
  return tg__uop_new(TG__OP_STORE, root->dtype, gate ? 3 : 2, s, &root->arg);
}

static const tg__rule tg__store_view_rules[] = {
  TG__RULE("(STORE (LOAD ...) ...)", tg__rw_store_view), /* store(load(addr), v) -> store(addr, v) */
};
TG__RULES_REGISTER(tg__store_view_rules)

/* after the optimisations (which see a variable's bounds): DEFINE_VAR(table) -> table[slot] */
static tg__uop *tg__rw_var_load(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *at = tg__uop2(TG__OP_INDEX, TG_INT32, root->src[0], tg__ci(root->arg.i), NULL);
  return tg__uop1(TG__OP_LOAD, TG_INT32, at, NULL);
}

static const tg__rule tg__var_load_rules[] = {
  TG__RULE("(DEFINE_VAR _)", tg__rw_var_load), /* a kernel's variable -> a load from the variable table */
};
TG__RULES_REGISTER(tg__var_load_rules)

/* the tensor graph is only entered through INDEX: the lowering rewrite leaves tensor nodes alone (those with a shape,
 * and the ops of the tensor graph only, scalar or not) */
static int tg__is_tensor_node(const tg__uop *u) { return u->ndim > 0 || tg__ops[u->op].kind == TG__OPK_TENSOR; }

// ---------------------------------------------------------------------------------------------------------------------
// codegen: parameters, output ranges, lowering, name, then linearise

/* numbers the kernel's buffers (k->bufs): the output first, then the inputs in the order the AST reaches them */
static void tg__collect_buffers(tg__kernel *k) {
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  tg__uop *out = tg__store_buffer(k->ast);
  tg__uop_toposort(k->ast, &order);
  k->bufs = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)(order.n + 2));
  k->bufs[k->nbufs++] = (tg__buffer *)out->arg.ptr;
  tg__map_put(&seen, out->arg.ptr, (void *)1);
  for (int i = 0; i < order.n; i++) {
    tg__uop *u = (tg__uop *)order.items[i];
    if (u->op != TG__OP_BUFFER || tg__map_get(&seen, u->arg.ptr)) continue;
    k->bufs[k->nbufs++] = (tg__buffer *)u->arg.ptr;
    tg__map_put(&seen, u->arg.ptr, (void *)1);
  }
  if (k->vars) k->bufs[k->nbufs++] = k->vars; /* the variable table, last */
  k->nout = 1;
  tg__map_free(&seen);
  tg__vec_free(&order);
}

TG__PRIVATE tg__kparam *tg__kernel_params(tg__kernel *k) {
  if (!k->bufs) tg__collect_buffers(k);
  tg__kparam *p = (tg__kparam *)tg__alloc(sizeof(tg__kparam) * (size_t)k->nbufs);
  for (int i = 0; i < k->nbufs; i++) {
    p[i].dtype = k->bufs[i]->dtype;
    p[i].written = i < k->nout;
  }
  return p;
}

/* Index arithmetic is 32-bit (tg__ci): a kernel whose addresses could pass 2^31-1 would read and write outside its
 * buffers. Where: a buffer of 2^31 elements or more; an axis of 2^31 or more anywhere in the tensor graph (a loop or
 * an index of its own); or, in the lowered kernel, an int32 node computing an address (below an INDEX into a buffer)
 * whose bounds, computed in 64 bits, leave the int32 range. An address that depends on values (loaded data, a float
 * cast to an index: a gather, a nearest interpolation) is gated or clamped at run time and has no useful bounds: its
 * buffer's size decides. Such a kernel is an error, not a crash.
 * A node's element count alone would refuse too much: a one-hot gather's compare of 2.4e10 elements collapses into a
 * load, and a reshape's flat offset is usually simplified away. 0 or -1. */
static int tg__check_index_range(const tg__kernel *k, tg__uop *root) {
  const tg__uop *bad = NULL;
  for (int i = 0; i < k->nbufs; i++)
    if (k->bufs[i]->numel > INT32_MAX) bad = root;
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__uop_toposort(k->ast, &order); /* every axis of the tensor graph is a loop or an index of its own */
  for (int i = 0; i < order.n && !bad; i++) {
    const tg__uop *u = (const tg__uop *)order.items[i];
    for (int d = 0; d < u->ndim && !bad; d++)
      if (u->shape[d] > INT32_MAX) bad = u;
  }
  order.n = 0;
  tg__uop_toposort(root, &order);
  tg__map data; /* nodes that are not pure index arithmetic (loops and constants): loaded or computed values */
  memset(&data, 0, sizeof data);
  for (int i = 0; i < order.n && !bad; i++) { /* sources first */
    tg__uop *u = (tg__uop *)order.items[i];
    int dep = u->op == TG__OP_LOAD || (u->op == TG__OP_CAST && !tg_dtype_is_int(u->src[0]->dtype) &&
                                       u->src[0]->dtype != TG_BOOL) || u->op == TG__OP_BITCAST;
    for (int j = 0; j < u->nsrc && !dep; j++) dep = tg__map_get(&data, u->src[j]) != NULL;
    if (dep) tg__map_put(&data, u, (void *)1);
  }
  tg__vec stack;
  memset(&stack, 0, sizeof stack);
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  for (int i = 0; i < order.n && !bad; i++) {
    tg__uop *u = (tg__uop *)order.items[i];
    if (u->op != TG__OP_INDEX || u->src[0]->op != TG__OP_DEFINE_GLOBAL) continue;
    for (int j = 1; j < u->nsrc; j++) tg__vec_push(&stack, u->src[j]);
    while (stack.n && !bad) {
      tg__uop *a = (tg__uop *)stack.items[--stack.n];
      if (tg__map_get(&seen, a) || tg__map_get(&data, a)) continue;
      tg__map_put(&seen, a, (void *)1);
      int64_t lo, hi;
      tg__uop_bounds(a, &lo, &hi);
      if (a->dtype == TG_INT32 && (lo < INT32_MIN || hi > INT32_MAX)) bad = a;
      for (int j = 0; j < a->nsrc; j++) tg__vec_push(&stack, a->src[j]);
    }
    stack.n = 0;
  }
  tg__vec_free(&order);
  tg__vec_free(&stack);
  tg__map_free(&seen);
  tg__map_free(&data);
  if (!bad) return 0;
  char b[160];
  tg__uop *out = k->ast->src[0]->src[1];
  tg__set_error("tg_realize: the kernel computing a tensor of shape %s would index past the 2^31-1 elements its "
                "32-bit index arithmetic reaches (64-bit indexing is not implemented yet). HINT: split the work into "
                "smaller tensors", tg__shape_str(out->ndim, out->shape, b, sizeof b));
  return -1;
}

/* The name, as tinygrad's: E_ for an elementwise kernel, r_ when a reduction is left, then its loops by role: the
 * output loops, the reduction loops (outermost first, as the optimisations left them), then the amount of each
 * UNROLL and of each UPCAST (copies of the body). A 1024 matmul tiled 8x32 and unrolled by 4 is r_128_32_256_4_8_32.
 * roles (NULL, or TG__NAME_ROLES bytes) gets a letter per number of the name, for DEBUG=2's colours: g an output
 * loop, l a workgroup's digit (LOCAL), G a shared reduction's (GROUP), r a reduction loop, u UNROLL, U UPCAST. */
static char *tg__kernel_name(tg__uop *root, int nglobal, const tg__opt *opts, int nopts, char *roles) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(root, &all);
  int reduces = 0, n = 0;
  tg__uop *loops[4 * TG_MAX_DIMS];
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    reduces |= u->op == TG__OP_REDUCE;
    if (u->op != TG__OP_RANGE || n == TG__COUNT(loops)) continue;
    int k = n++;
    for (; k > 0 && loops[k - 1]->arg.i > u->arg.i; k--) loops[k] = loops[k - 1];
    loops[k] = u;
  }
  tg__vec_free(&all);
  tg__str name;
  memset(&name, 0, sizeof name);
  tg__str_cat(&name, reduces ? "r" : "E");
  int parts = 0;
  static const char letter[6] = {'g', 'l', 'G', 'r', 'u', 'U'};
  for (int pass = 0; pass < 4; pass++) /* output loops, a workgroup's digits (LOCAL and lanes, GROUP), reductions */
    for (int i = 0; i < n; i++)
      if ((loops[i]->arg.i2 == TG__RANGE_LANE ? (int64_t)TG__RANGE_LOCAL
           : loops[i]->arg.i2                 ? loops[i]->arg.i2
           : loops[i]->arg.i >= nglobal       ? 3
                                              : 0) == pass) {
        if (loops[i]->src[0]->op == TG__OP_CONST)
          tg__str_printf(&name, "_%lld", (long long)tg__const_val(loops[i]->src[0]));
        else tg__str_cat(&name, "_S"); /* a symbolic size */
        if (roles && parts < TG__NAME_ROLES - 1) roles[parts] = letter[pass];
        parts++;
      }
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < nopts; i++)
      if (opts[i].op == (pass ? TG__OPT_UPCAST : TG__OPT_UNROLL)) {
        tg__str_printf(&name, "_%lld", (long long)opts[i].amount);
        if (roles && parts < TG__NAME_ROLES - 1) roles[parts] = letter[4 + pass];
        parts++;
      }
  if (!parts) tg__str_cat(&name, "_1");
  if (roles) roles[parts < TG__NAME_ROLES - 1 ? parts : TG__NAME_ROLES - 1] = 0;
  return tg__str_take(&name);
}

TG__PRIVATE void tg__linear_free(tg__linear *lin) {
  TG_FREE(lin->u);
  TG_FREE(lin->aux);
  TG_FREE(lin->name);
}

/* DEBUG=4: the graph of a stage of kernel `name`, under a header naming the stage */
static void tg__debug_stage(const char *name, const char *stage, tg__uop *root) {
  char *s = tg__uop_print(root);
  if (name) printf("=== kernel %s: %s ===\n%s", name, stage, s);
  else printf("=== a kernel: %s ===\n%s", stage, s);
  TG_FREE(s);
}

TG__PRIVATE int tg__codegen(tg__kernel *k, const tg__target *t, const tg__opt *use, int nuse, tg__linear *out) {
  memset(out, 0, sizeof *out); /* free with tg__linear_free, whatever happens */
  if (TG__DEBUG >= 4) tg__debug_stage(k->name, "its AST, from the scheduler", k->ast);
  tg__lctx c;
  memset(&c, 0, sizeof c);
  c.next_range = 1; /* range 0 is THREAD's: it splits an output loop, and its part runs outermost, across threads */
  if (!k->bufs) tg__collect_buffers(k);
  for (int i = 0; i < k->nbufs; i++) tg__map_put(&c.params, k->bufs[i], (void *)(intptr_t)(i + 1));
  if (k->vars) {
    tg__arg va;
    memset(&va, 0, sizeof va);
    va.i = k->nbufs - 1;
    c.vars = tg__uop0(TG__OP_DEFINE_GLOBAL, TG_INT32, &va);
  }
  tg__uop *store = k->ast->src[0], *value = store->src[1], *idx[TG_MAX_DIMS], *gate = tg__const_int(TG_BOOL, 1);
  int nd = value->ndim;
  /* an output axis of symbolic size loops to the size's maximum, its stores gated (the launch size is fixed) */
  for (int i = 0; i < nd; i++) {
    idx[i] = value->shape[i] == 1 ? tg__ci(0) : tg__range(&c, tg__sym_max(value->shape[i]));
    if (tg__is_sym(value->shape[i]))
      gate = tg__alu(TG__OP_AND, gate, tg__alu(TG__OP_CMPLT, idx[i], tg__dimu(&c, value->shape[i])));
  }
  int nglobal = c.next_range;
  tg__uop *addr = store->src[0]->op == TG__OP_BUFFER /* else a view: its address is what a load through it reads */
                      ? tg__uop2(TG__OP_INDEX, store->src[0]->dtype, tg__param(&c, store->src[0]),
                                 tg__flatten_idx(&c, idx, value->shape, nd), NULL)
                      : tg__index(store->src[0], gate, idx, nd);
  tg__uop *st[3] = {addr, tg__index(value, gate, idx, nd), gate};
  tg__uop *root = tg__uop_new(TG__OP_STORE, value->dtype, gate->op == TG__OP_CONST ? 2 : 3, st, NULL);
  root = tg__uop1(TG__OP_SINK, TG_BOOL, root, NULL);
  root = tg__graph_rewrite_ex(root, TG__MATCHER(tg__lower_rules), tg__symbolic(), &c, tg__is_tensor_node);
  root = tg__graph_rewrite(root, TG__MATCHER(tg__guard_rules), NULL);
  root = tg__graph_rewrite(root, TG__MATCHER(tg__store_view_rules), NULL);
  tg__map_free(&c.params);
  root = tg__merge_loops(tg__collapse_reduces(root), nglobal);
  if (tg__check_index_range(k, root) < 0) return -1;
  if (TG__DEBUG >= 4) {
    char *plain = tg__kernel_name(root, nglobal, NULL, 0, NULL); /* before any Opt */
    tg__debug_stage(plain, "lowered to loops and indices, symbolic rules applied", root);
    TG_FREE(plain);
  }
  tg__opt opts[TG__MAX_OPTS];
  int nopts = nuse < 0 ? 0 : nuse > TG__MAX_OPTS ? TG__MAX_OPTS : nuse;
  if (nopts) memcpy(opts, use, sizeof(tg__opt) * (size_t)nopts);
  tg__uop *opt = nuse >= 0 ? (nopts ? tg__apply_opts(root, nglobal, t, opts, nopts) : root)
                           : tg__optimize(root, nglobal, t, opts, &nopts);
  if (!opt) { /* named by its loops before the Opts that failed */
    char what[160], *plain = tg__kernel_name(root, nglobal, NULL, 0, NULL);
    snprintf(what, sizeof what, "kernel %s", plain);
    tg__error_context(what);
    TG_FREE(plain);
    return -1;
  }
  char roles[TG__NAME_ROLES];
  char *name = tg__kernel_name(opt, nglobal, opts, nopts, roles); /* as the Opts left it, before GROUP's stage 2 */
  const char *why = NULL;
  root = tg__lower_groups(opt, nglobal, t, &why);
  if (!root) {
    char *list = tg__opts_str(opts, nopts);
    tg__set_error("kernel %s: the optimisations [%s] cannot apply: %s", name, list, why);
    TG_FREE(list);
    TG_FREE(name);
    return -1;
  }
  root = tg__graph_rewrite(root, TG__MATCHER(tg__var_load_rules), NULL);
  if (TG__DEBUG >= 4) {
    char *list = tg__opts_str(opts, nopts), stage[600];
    snprintf(stage, sizeof stage, "optimised [%.500s], workgroups lowered", list);
    tg__debug_stage(name, stage, root);
    TG_FREE(list);
  }
  int rc = tg__linearize(root, nglobal, out);
  out->name = name;
  memcpy(out->roles, roles, sizeof roles);
  memcpy(out->opts, opts, sizeof(tg__opt) * (size_t)nopts);
  out->nopts = nopts;
  /* a GROUP's accumulators come in runs of its amount: vectors no wider (8-lane integer dot products of bytes, a
   * row's block, on an AVX-512 machine) */
  out->vec_width = tg__vec_lanes(t);
  for (int i = 0; i < nopts; i++)
    if (opts[i].op == TG__OPT_GROUP && opts[i].amount >= 8 && opts[i].amount < out->vec_width) out->vec_width = 8;
  for (int i = 0; i < k->nbufs; i++) out->bytes += (double)k->bufs[i]->nbytes;
  return rc;
}
