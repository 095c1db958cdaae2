/* gradient.c: reverse-mode differentiation, as a table of derivative rules over the primitive tensor ops.
 *
 * Contract: a rule matches a forward node (root) and, given the gradient flowing into it (ctx), returns a SINK whose
 * sources are the gradients of root's sources, in order; a NOOP source means "no gradient" (comparisons, integer
 * ops, DETACH). tg__gradients walks the graph from the output back to the wanted nodes, applying the rules and
 * summing the gradients of nodes used more than once. Every composite op (softmax, layernorm, conv2d, pooling,
 * gather) is built from these primitives, so each gets its backward for free. This is tinygrad's gradient.py.
 *
 * Layer 3: it builds nodes (shape.c's builders) and knows nothing of tensors; the public functions that take tensors
 * (tg_backward, tg_gradient, tg_requires_grad, ...) are autograd.c's. */
#include "internal.h"

static tg__uop *tg__none(void) { return tg__uop0(TG__OP_NOOP, TG_BOOL, NULL); }

static tg__uop *tg__grads1(tg__uop *a) { return tg__uop1(TG__OP_SINK, TG_BOOL, a ? a : tg__none(), NULL); }
static tg__uop *tg__grads2(tg__uop *a, tg__uop *b) {
  return tg__uop2(TG__OP_SINK, TG_BOOL, a ? a : tg__none(), b ? b : tg__none(), NULL);
}

static tg__uop *tg__gc(tg__uop *like, double v) { return tg__tfull_like(like, v, like->dtype); }
static tg__uop *tg__gmul(tg__uop *a, tg__uop *b) { return tg__talu(TG__OP_MUL, a, b); }
static tg__uop *tg__gneg(tg__uop *a) { return tg__talu1(TG__OP_NEG, a); }

// ---------------------------------------------------------------------------------------------------------------------
// the rules: d(root)/d(sources), given g = d(out)/d(root)

#define TG__G ((tg__uop *)ctx)
static tg__uop *tg__gr_cast(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads1(tg_dtype_is_float(r->src[0]->dtype) ? tg__tcast(TG__G, r->src[0]->dtype) : NULL);
}
static tg__uop *tg__gr_neg(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)r, (void)b;
  return tg__grads1(tg__gneg(TG__G));
}
/* d(1/x) = -1/x^2 = -r*r */
static tg__uop *tg__gr_recip(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads1(tg__gneg(tg__gmul(TG__G, tg__gmul(r, r))));
}
/* d sin x = cos x = sin(pi/2 - x) */
static tg__uop *tg__gr_sin(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  tg__uop *x = r->src[0];
  return tg__grads1(tg__gmul(TG__G, tg__talu1(TG__OP_SIN, tg__talu(TG__OP_SUB, tg__gc(x, M_PI / 2), x))));
}
/* d log2 x = 1/(x ln 2) */
static tg__uop *tg__gr_log2(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  tg__uop *x = r->src[0];
  return tg__grads1(tg__gmul(TG__G, tg__talu1(TG__OP_RECIPROCAL, tg__gmul(x, tg__gc(x, M_LN2)))));
}
/* d 2^x = 2^x ln 2 */
static tg__uop *tg__gr_exp2(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads1(tg__gmul(TG__G, tg__gmul(r, tg__gc(r, M_LN2))));
}
/* d sqrt x = 1/(2 sqrt x) */
static tg__uop *tg__gr_sqrt(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads1(tg__gmul(TG__G, tg__talu1(TG__OP_RECIPROCAL, tg__gmul(r, tg__gc(r, 2)))));
}
static tg__uop *tg__gr_add(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)r, (void)b;
  return tg__grads2(TG__G, TG__G);
}
static tg__uop *tg__gr_sub(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)r, (void)b;
  return tg__grads2(TG__G, tg__gneg(TG__G));
}
static tg__uop *tg__gr_mul(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads2(tg__gmul(TG__G, r->src[1]), tg__gmul(TG__G, r->src[0]));
}
/* max: to the larger source; a tie splits the gradient in halves (tinygrad) */
static tg__uop *tg__gr_max(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  tg__uop *x = r->src[0], *y = r->src[1], *zero = tg__gc(TG__G, 0), *half = tg__gmul(TG__G, tg__gc(TG__G, 0.5));
  tg__uop *tie = tg__twhere(tg__talu(TG__OP_CMPNE, x, y), zero, half);
  return tg__grads2(tg__twhere(tg__talu(TG__OP_CMPLT, y, x), TG__G, tie),
                    tg__twhere(tg__talu(TG__OP_CMPLT, x, y), TG__G, tie));
}
static tg__uop *tg__gr_where(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  tg__uop *c = r->src[0], *zero = tg__gc(TG__G, 0);
  return tg__uop3(TG__OP_SINK, TG_BOOL, tg__none(), tg__twhere(c, TG__G, zero), tg__twhere(c, zero, TG__G), NULL);
}
static tg__uop *tg__gr_none(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)ctx, (void)b;
  tg__uop *s[3] = {tg__none(), tg__none(), tg__none()};
  return tg__uop_new(TG__OP_SINK, TG_BOOL, r->nsrc, s, NULL);
}
static tg__uop *tg__gr_identity(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)r, (void)b;
  return tg__grads1(TG__G);
}

static tg__uop *tg__gr_copy(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.ptr = (void *)(intptr_t)r->arg.i, a.i = (int64_t)(intptr_t)r->arg.ptr; /* from the target back to the source */
  return tg__grads1(tg__uop1(TG__OP_COPY, TG__G->dtype, TG__G, &a));
}

static tg__uop *tg__gr_custom(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return ((const tg__custom *)r->arg.ptr)->grad(r, TG__G);
}

/* d(prod x)/dx_j is the product of the other elements of x_j's window: r/x_j when x_j != 0; when x_j is the only zero
 * of its window, the product of the others; 0 when there are more zeros (tinygrad's reduce_gradient) */
static tg__uop *tg__prod_deriv(tg__uop *r) {
  tg__uop *x = r->src[0], *zero = tg__gc(x, 0), *is_zero = tg__talu(TG__OP_CMPEQ, x, zero);
  tg__uop *safe = tg__twhere(is_zero, tg__gc(x, 1), x);
  tg__uop *nzero = tg__texpand(tg__treduce(tg__tcast(is_zero, TG_INT32), TG__OP_ADD, r->arg.i), x->shape);
  tg__uop *others = tg__texpand(tg__treduce(safe, TG__OP_MUL, r->arg.i), x->shape);
  tg__uop *at_zero = tg__twhere(tg__talu(TG__OP_CMPEQ, nzero, tg__gc(nzero, 1)), others, zero);
  return tg__twhere(is_zero, at_zero, tg__gmul(tg__texpand(r, x->shape), tg__talu1(TG__OP_RECIPROCAL, safe)));
}

/* reductions: sum broadcasts back; max goes to the maxima (shared equally); prod to the product of the others */
static tg__uop *tg__gr_reduce(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  tg__uop *x = r->src[0], *g = tg__texpand(TG__G, x->shape);
  if (r->arg.i2 == TG__OP_ADD) return tg__grads1(g);
  if (r->arg.i2 == TG__OP_MUL) return tg__grads1(tg__gmul(g, tg__prod_deriv(r)));
  tg__uop *mask = tg__tcast(tg__talu(TG__OP_CMPEQ, x, tg__texpand(r, x->shape)), x->dtype);
  tg__uop *count = tg__texpand(tg__treduce(mask, TG__OP_ADD, r->arg.i), x->shape);
  return tg__grads1(tg__gmul(tg__gmul(mask, tg__talu1(TG__OP_RECIPROCAL, count)), g));
}

/* movement: the inverse movement of the gradient */
static tg__uop *tg__gr_reshape(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads1(tg__treshape(TG__G, r->src[0]->ndim, r->src[0]->shape));
}
static tg__uop *tg__gr_expand(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  int64_t mask = 0;
  for (int i = 0; i < r->ndim; i++)
    if (r->src[0]->shape[i] != r->shape[i]) mask |= 1LL << i;
  return tg__grads1(tg__treduce(TG__G, TG__OP_ADD, mask));
}
static tg__uop *tg__gr_permute(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  int inv[TG_MAX_DIMS];
  for (int i = 0; i < r->ndim; i++) inv[r->arg.ints[i]] = i;
  return tg__grads1(tg__tpermute(TG__G, inv));
}
static tg__uop *tg__gr_pad(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  int64_t bounds[2 * TG_MAX_DIMS];
  for (int i = 0; i < r->ndim; i++) {
    bounds[2 * i] = r->arg.ints[2 * i];
    bounds[2 * i + 1] = r->arg.ints[2 * i] + r->src[0]->shape[i];
  }
  return tg__grads1(tg__tshrink(TG__G, bounds));
}
static tg__uop *tg__gr_shrink(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  int64_t pads[2 * TG_MAX_DIMS];
  for (int i = 0; i < r->ndim; i++) {
    pads[2 * i] = r->arg.ints[2 * i];
    pads[2 * i + 1] = r->src[0]->shape[i] - r->arg.ints[2 * i + 1];
  }
  return tg__grads1(tg__tpad(TG__G, pads));
}
static tg__uop *tg__gr_flip(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)b;
  return tg__grads1(tg__tflip(TG__G, r->arg.i));
}
#undef TG__G

static const tg__rule tg__grad_rules[] = {
    TG__RULE("(CAST x)", tg__gr_cast),                              /* back to the source dtype (floats only) */
    TG__RULE("(NEG x)", tg__gr_neg),                                /* -g */
    TG__RULE("(RECIPROCAL x)", tg__gr_recip),                       /* -g/x^2 */
    TG__RULE("(SIN x)", tg__gr_sin),                                /* g cos x */
    TG__RULE("(LOG2 x)", tg__gr_log2),                              /* g/(x ln2) */
    TG__RULE("(EXP2 x)", tg__gr_exp2),                              /* g 2^x ln2 */
    TG__RULE("(SQRT x)", tg__gr_sqrt),                              /* g/(2 sqrt x) */
    TG__RULE("(ADD x y)", tg__gr_add),                              /* g, g */
    TG__RULE("(SUB x y)", tg__gr_sub),                              /* g, -g */
    TG__RULE("(MUL x y)", tg__gr_mul),                              /* g y, g x */
    TG__RULE("(MAX x y)", tg__gr_max),                              /* to the larger; ties halve */
    TG__RULE("(WHERE c x y)", tg__gr_where),                        /* where(c, g, 0), where(c, 0, g) */
    TG__RULE("(CMP|AND|OR|XOR|SHL|SHR|IDIV|MOD|TRUNC|BITCAST|DETACH)", tg__gr_none), /* piecewise constant */
    TG__RULE("(CONTIGUOUS x)", tg__gr_identity),                    /* g */
    TG__RULE("(COPY x)", tg__gr_copy),                              /* g copied back to x's device */
    TG__RULE("(CUSTOM_GRAD ...)", tg__gr_custom),                   /* the composite's own function */
    TG__RULE("(REDUCE_AXIS x)", tg__gr_reduce),                     /* expand; to the maxima; the others' product */
    TG__RULE("(RESHAPE x)", tg__gr_reshape),                        /* the inverse movement */
    TG__RULE("(EXPAND x)", tg__gr_expand),
    TG__RULE("(PERMUTE x)", tg__gr_permute),
    TG__RULE("(PAD x)", tg__gr_pad),
    TG__RULE("(SHRINK x)", tg__gr_shrink),
    TG__RULE("(FLIP x)", tg__gr_flip),
};
TG__RULES_REGISTER(tg__grad_rules)

// ---------------------------------------------------------------------------------------------------------------------
// the walk

/* marks in on_path the nodes of order (sources first) that depend on a wanted node through differentiable ops: not
 * through a DETACH. A wanted node is on the path even when it is a DETACH itself (a tensor made in no-grad mode, then
 * marked with tg_requires_grad), as in tinygrad's _deepwalk. */
TG__PRIVATE void tg__grad_path(const tg__vec *order, tg__map *wanted, tg__map *on_path) {
  for (int i = 0; i < order->n; i++) {
    tg__uop *u = (tg__uop *)order->items[i];
    int on = 0;
    for (int j = 0; j < u->nsrc && !on; j++) on = tg__map_get(on_path, u->src[j]) != NULL;
    if (tg__map_get(wanted, u) || (on && u->op != TG__OP_DETACH)) tg__map_put(on_path, u, (void *)1);
  }
}

TG__PRIVATE int tg__gradients(tg__uop *out, tg__uop *seed, tg__uop **wrt, int n, tg__uop **grads) {
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__uop_toposort(out, &order);
  /* the nodes on a path from out to a wanted node */
  tg__map wanted, on_path, acc;
  memset(&wanted, 0, sizeof wanted);
  memset(&on_path, 0, sizeof on_path);
  memset(&acc, 0, sizeof acc);
  for (int i = 0; i < n; i++) tg__map_put(&wanted, wrt[i], (void *)1);
  tg__grad_path(&order, &wanted, &on_path);
  tg__map_put(&acc, out, seed);
  tg__matcher *m = TG__MATCHER(tg__grad_rules);
  int rc = 0;
  for (int i = order.n - 1; i >= 0 && rc == 0; i--) {
    tg__uop *u = (tg__uop *)order.items[i];
    tg__uop *g = (tg__uop *)tg__map_get(&acc, u);
    if (!g || !u->nsrc || !tg__map_get(&on_path, u) || tg__map_get(&wanted, u) == (void *)2) continue;
    int any = 0;
    for (int j = 0; j < u->nsrc; j++) any |= tg__map_get(&on_path, u->src[j]) != NULL;
    if (!any) continue;
    tg__uop *gs = tg__match_rules(m, u, g);
    if (!gs) {
      tg__set_error("gradient: no derivative rule for %s", tg__op_names[u->op]);
      rc = -1;
      break;
    }
    for (int j = 0; j < u->nsrc; j++) {
      tg__uop *s = u->src[j], *gj = gs->src[j];
      if (gj->op == TG__OP_NOOP || !tg__map_get(&on_path, s)) continue;
      tg__uop *prev = (tg__uop *)tg__map_get(&acc, s);
      tg__map_put(&acc, s, prev ? tg__talu(TG__OP_ADD, prev, gj) : gj);
    }
  }
  for (int i = 0; i < n && rc == 0; i++) {
    tg__uop *g = (tg__uop *)tg__map_get(&acc, wrt[i]);
    grads[i] = g ? g : tg__tfull_like(wrt[i], 0, wrt[i]->dtype);
  }
  tg__vec_free(&order);
  tg__map_free(&wanted);
  tg__map_free(&on_path);
  tg__map_free(&acc);
  return rc;
}
