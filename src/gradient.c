/* gradient.c: reverse-mode differentiation, as a table of derivative rules over the primitive tensor ops.
 *
 * Contract: a rule matches a forward node (root) and, given the gradient flowing into it (ctx), returns a SINK whose
 * sources are the gradients of root's sources, in order; a NOOP source means "no gradient" (comparisons, integer
 * ops, DETACH). tg__gradients walks the graph from the output back to the wanted nodes, applying the rules and
 * summing the gradients of nodes used more than once. Every composite op (softmax, layernorm, conv2d, pooling,
 * gather) is built from these primitives, so each gets its backward for free. This is tinygrad's gradient.py. */
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
    TG__RULE("(CONTIGUOUS|COPY x)", tg__gr_identity),               /* g */
    TG__RULE("(CUSTOM_GRAD ...)", tg__gr_custom),                   /* the composite's own function */
    TG__RULE("(REDUCE_AXIS x)", tg__gr_reduce),                     /* expand; to the maxima; the others' product */
    TG__RULE("(RESHAPE x)", tg__gr_reshape),                        /* the inverse movement */
    TG__RULE("(EXPAND x)", tg__gr_expand),
    TG__RULE("(PERMUTE x)", tg__gr_permute),
    TG__RULE("(PAD x)", tg__gr_pad),
    TG__RULE("(SHRINK x)", tg__gr_shrink),
    TG__RULE("(FLIP x)", tg__gr_flip),
};

TG__PRIVATE int tg__grad_rule_table(const tg__rule **rules) {
  *rules = tg__grad_rules;
  return TG__COUNT(tg__grad_rules);
}

// ---------------------------------------------------------------------------------------------------------------------
// the walk

/* marks in on_path the nodes of order (sources first) that depend on a wanted node through differentiable ops: not
 * through a DETACH. A wanted node is on the path even when it is a DETACH itself (a tensor made in no-grad mode, then
 * marked with tg_requires_grad), as in tinygrad's _deepwalk. */
static void tg__mark_path(const tg__vec *order, tg__map *wanted, tg__map *on_path) {
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
  tg__mark_path(&order, &wanted, &on_path);
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

// ---------------------------------------------------------------------------------------------------------------------
// the public functions

static int tg__grad_on = 1;
TG__PRIVATE int tg__grad_enabled(void) { return tg__grad_on; }
int tg_set_grad_enabled(int on) {
  TG__LOCKED();
  int prev = tg__grad_on;
  tg__grad_on = on != 0;
  return prev;
}

/* 1 if u's graph reads a buffer (0 for a constant: tg_zeros, tg_full, tg_arange, random numbers, ...) */
static int tg__reads_buffer(tg__uop *u) {
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__uop_toposort(u, &order);
  int found = 0;
  for (int i = 0; i < order.n && !found; i++) found = ((tg__uop *)order.items[i])->op == TG__OP_BUFFER;
  tg__vec_free(&order);
  return found;
}

tg_tensor *tg_requires_grad(tg_tensor *t, int on) {
  TG__LOCKED();
  TG__NEED("tg_requires_grad", t);
  if (on && !tg_dtype_is_float(t->uop->dtype)) {
    tg__set_error("tg_requires_grad: only float tensors have gradients, this one is %s", tg_dtype_name(t->uop->dtype));
    return NULL;
  }
  /* a constant is one hash-consed node for every tensor built alike: as a leaf it needs a buffer of its own, or two
   * biases made by tg_zeros would share one gradient */
  if (on && !tg__reads_buffer(t->uop) && tg__own_buffer("tg_requires_grad", t) < 0) return NULL;
  t->requires_grad = on != 0;
  return t;
}

tg_tensor *tg_grad(tg_tensor *t) {
  TG__LOCKED();
  if (!t) return tg__null("tg_grad");
  if (!t->grad)
    tg__set_error("tg_grad: the tensor has no gradient. HINT: mark it with tg_requires_grad and call tg_backward on a "
                  "loss that depends on it");
  return t->grad;
}

void tg_zero_grad(tg_tensor *t) {
  TG__LOCKED();
  if (!t || !t->grad) return;
  tg_tensor *g = t->grad;
  t->grad = NULL;
  tg_free(g);
}

tg_tensor *tg_detach(tg_tensor *t) {
  TG__LOCKED();
  TG__NEED("tg_detach", t);
  return tg__tensor_wrap(tg__uop1(TG__OP_DETACH, t->uop->dtype, t->uop, NULL), t->dev);
}

/* index[v] = the node of a graph (order) that holds v's value: each node itself, and a realised node under the buffer
 * it became. A tensor written by tg_assign holds its buffer once the assignment is realised, while a graph built before
 * (a loss computed from the tensor, then read, which realised the assignment) holds the ASSIGN node. */
static void tg__index_graph(const tg__vec *order, tg__map *index) {
  for (int i = 0; i < order->n; i++) tg__map_put(index, order->items[i], order->items[i]);
  for (int i = 0; i < order->n; i++) {
    tg__uop *u = (tg__uop *)order->items[i], *b = tg__base(u);
    if (b != u && !tg__map_get(index, b)) tg__map_put(index, b, u);
  }
}

static int tg__check_out(const char *fn, tg_tensor *out) {
  if (!out) {
    tg__null(fn);
    return -1;
  }
  if (!tg_dtype_is_float(out->uop->dtype)) {
    tg__set_error("%s: the output must be a float tensor, it is %s", fn, tg_dtype_name(out->uop->dtype));
    return -1;
  }
  return 0;
}

int tg_gradient(tg_tensor *out, tg_tensor **wrt, int n, tg_tensor **grads) {
  TG__LOCKED();
  if (tg__check_out("tg_gradient", out) < 0) return -1;
  if (n < 0 || n > 4096 || (n && (!wrt || !grads))) {
    tg__set_error("tg_gradient: bad list of %d tensors", n);
    return -1;
  }
  tg__uop **w = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  tg__uop **g = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  tg__vec order;
  tg__map index;
  memset(&order, 0, sizeof order);
  memset(&index, 0, sizeof index);
  tg__uop_toposort(out->uop, &order);
  tg__index_graph(&order, &index);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    if (!wrt[i]) rc = (tg__null("tg_gradient"), -1);
    else if (!tg_dtype_is_float(wrt[i]->uop->dtype))
      rc = (tg__set_error("tg_gradient: only float tensors have gradients, wrt[%d] is %s", i,
                          tg_dtype_name(wrt[i]->uop->dtype)), -1);
    else w[i] = tg__map_get(&index, wrt[i]->uop) ? (tg__uop *)tg__map_get(&index, wrt[i]->uop) : wrt[i]->uop;
  }
  tg__map_free(&index);
  tg__vec_free(&order);
  if (rc == 0) rc = tg__gradients(out->uop, tg__tfull_like(out->uop, 1, out->uop->dtype), w, n, g);
  for (int i = 0; i < n; i++) grads[i] = rc == 0 ? tg__tensor_wrap(g[i], wrt[i]->dev) : NULL;
  TG_FREE(w);
  TG_FREE(g);
  return rc;
}

/* grads accumulate: a second backward adds to what the first left, as in tinygrad and PyTorch */
int tg_backward(tg_tensor *loss) {
  TG__LOCKED();
  if (tg__check_out("tg_backward", loss) < 0) return -1;
  if (loss->uop->ndim != 0) {
    char b[128];
    tg__set_error("tg_backward: the loss must be a scalar, it has shape %s; HINT: reduce it (tg_mean or tg_sum)",
                  TG__SHAPE(loss->uop, b));
    return -1;
  }
  /* the leaves: live tensors that require grad and appear in the loss's graph (nodes[i]: where) */
  tg__vec order, targets, nodes;
  memset(&order, 0, sizeof order);
  memset(&targets, 0, sizeof targets);
  memset(&nodes, 0, sizeof nodes);
  tg__uop_toposort(loss->uop, &order);
  tg__map index, wanted, on_path;
  memset(&index, 0, sizeof index);
  memset(&wanted, 0, sizeof wanted);
  memset(&on_path, 0, sizeof on_path);
  tg__index_graph(&order, &index);
  for (tg_tensor *t = tg__tensor_list(); t; t = t->next) {
    tg__uop *node = t->requires_grad ? (tg__uop *)tg__map_get(&index, t->uop) : NULL;
    if (!node) continue;
    tg__vec_push(&targets, t);
    tg__vec_push(&nodes, node);
    tg__map_put(&wanted, node, (void *)1);
  }
  /* as PyTorch: a loss that does not depend on them (or only through tg_detach or no-grad mode) is a mistake */
  tg__mark_path(&order, &wanted, &on_path);
  int reached = tg__map_get(&on_path, loss->uop) != NULL;
  tg__map_free(&index);
  tg__map_free(&wanted);
  tg__map_free(&on_path);
  tg__vec_free(&order);
  if (!reached) {
    tg__set_error("tg_backward: nothing the loss depends on requires grad (%s); HINT: tg_requires_grad(t, 1) on the "
                  "parameters, and compute the loss outside tg_set_grad_enabled(0) and tg_detach",
                  targets.n ? "only through tg_detach or no-grad mode" : "no tensor of its graph");
    tg__vec_free(&targets);
    tg__vec_free(&nodes);
    return -1;
  }
  int n = targets.n, rc = 0;
  tg__uop **w = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  tg__uop **g = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) w[i] = (tg__uop *)nodes.items[i];
  rc = tg__gradients(loss->uop, tg__tfull_like(loss->uop, 1, loss->uop->dtype), w, n, g);
  for (int i = 0; i < n && rc == 0; i++) {
    tg_tensor *t = (tg_tensor *)targets.items[i];
    tg__uop *gi = tg__tcast(g[i], t->uop->dtype);
    if (t->grad) gi = tg__talu(TG__OP_ADD, t->grad->uop, gi);
    if (!t->grad) {
      t->grad = tg__tensor_wrap(gi, t->dev);
      while (t->grad && t->grad->scope > 0) tg_keep(t->grad); /* owned by t, never by a scope */
    } else {
      t->grad->uop = gi;
    }
  }
  TG_FREE(w);
  TG_FREE(g);
  tg__vec_free(&targets);
  tg__vec_free(&nodes);
  return rc;
}
