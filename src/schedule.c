/* schedule.c: split a lazy tensor graph into kernels (layer 3; tinygrad's schedule/ and engine/schedule.py).
 *
 * Contract:
 *  - tg__kernelize(roots, opts) decides which nodes become buffers (realisation points) and returns one kernel per
 *    point, in an order that respects what they read and write. Everything between points is fused into the
 *    consumer's kernel. It only plans: nothing is compiled or run here (realize.c does that), and what only the
 *    runtime knows (whether a JIT captures, the default device) comes in tg__sched_opts.
 *  - Realisation points are decided by the rule table tg__kernelize_rules: the roots; CONTIGUOUS; COPY; ASSIGN; and a
 *    REDUCE_AXIS whose result is expanded afterwards (softmax's max, layernorm's mean) or feeds more than one kernel;
 *    and a PAD of 4096 elements or more that a reduction reads through a window (four reads per element or more: a
 *    padded convolution, a convolution's input gradient), so that the window's loads are not gated.
 *    A reduction consumed without expansion is fused, even into another reduction: (a@b).relu().sum(0) is one kernel.
 *  - A kernel's AST is SINK(STORE(BUFFER_out, value)) over the tensor graph, where every other point is replaced by a
 *    RESHAPE of its BUFFER (the rule table tg__kernel_input_rules). Codegen lowers it.
 *  - Each root gets a new buffer; realized_out[i] is RESHAPE(BUFFER, shape) for roots[i], which tensors then use.
 *    Two kinds of point launch nothing: an empty one (its buffer holds no element), and one whose value is a
 *    contiguous range of a buffer realised before (a row slice, a chunk of split, a bitcast), which becomes a view
 *    of that buffer (tg__buffer_view_new) where the device can address into it, as tinygrad's buffer views.
 *  - An assignment moves its target buffer to the next version when it is scheduled; tg__sched_undo takes that back
 *    for the kernels that have not run. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// the state of one schedule

typedef struct tg__sctx {
  const tg__sched_opts *opts;
  tg__uop *sink;       /* SINK(roots...), with what was realised before already replaced */
  tg__device *dev;     /* where new buffers go */
  tg__map consumers;   /* uop -> tg__vec* of distinct consumers */
  tg__map realize;     /* uop -> (void*)1 if it is a realisation point */
  tg__map loads;       /* realised uop -> its buffer view (RESHAPE(BUFFER)) */
  tg__uop *self;       /* the node whose kernel is being built */
  tg__vec allocs;      /* vecs to free */
  int capturing;       /* a JIT records this schedule: reuse only the values of live tensors (see tg__sub_realised) */
  tg__map live;        /* the uops of live tensors, when capturing */
  tg__map assigned;    /* the buffers this schedule's assignments write (tg__buffer * -> 1): never viewed */
  tg__map reads;       /* tg__reads_buffer's memo */
  tg__map devs;        /* node -> the device it is computed on (tg__node_devices; absent: constants, anywhere) */
  int copies;          /* the graph copies between devices (tg_to): constants realised before are recomputed */
  int64_t first_id;    /* the id of the first buffer this schedule makes: those are its kernels' outputs */
  int64_t var_vals[TG__MAX_VARS]; /* the values the graph binds its variables to (-1: none) */
  int nvars, var_clash;           /* variables bound; a variable bound to two values (its slot + 1) */
} tg__sctx;

static tg__vec *tg__consumers_of(tg__sctx *c, tg__uop *u) { return (tg__vec *)tg__map_get(&c->consumers, u); }

static void tg__sctx_free(tg__sctx *c) {
  for (int i = 0; i < c->allocs.n; i++) {
    tg__vec_free((tg__vec *)c->allocs.items[i]);
    TG_FREE(c->allocs.items[i]);
  }
  tg__vec_free(&c->allocs);
  tg__map_free(&c->consumers);
  tg__map_free(&c->realize);
  tg__map_free(&c->loads);
  tg__map_free(&c->live);
  tg__map_free(&c->assigned);
  tg__map_free(&c->reads);
  tg__map_free(&c->devs);
}

static void tg__sctx_live(void *ctx, tg__uop *u) { tg__map_put(&((tg__sctx *)ctx)->live, u, (void *)1); }

// ---------------------------------------------------------------------------------------------------------------------
// a kernel's inputs: every other realisation point, and every value realised before, is replaced by a view of its
// buffer. The rules run before a node's sources are visited, so a kernel never looks past its inputs.

/* another point of this schedule (not the kernel's own node) -> a view of its buffer */
static tg__uop *tg__sub_point(void *ctx, tg__uop *u, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  return u != c->self ? (tg__uop *)tg__map_get(&c->loads, u) : NULL;
}

/* A realised value -> the buffer holding it. While a JIT captures, only a live tensor's value is taken as given: an
 * intermediate cached by an earlier call is recomputed, so that replays (which run no graph) recompute it too. */
static tg__uop *tg__sub_realised(void *ctx, tg__uop *u, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  if (!u->becomes || (c->capturing && !tg__map_get(&c->live, u))) return NULL;
  /* A graph of constants is one node on every device (UOps carry none), realised on one of them: it is computed
   * again where the buffer lies on another device than the roots', or anywhere when the graph copies between
   * devices (its regions may need it on either). One that reads buffers is read where it lies: recomputed, it
   * could read buffers written since. */
  tg__uop *held = c->opts->device || c->copies ? tg__movement_buffer(u->becomes) : NULL;
  if (held && (c->copies || ((tg__buffer *)held->arg.ptr)->dev != c->opts->device) &&
      !tg__uop_reads_buffer(u, &c->reads))
    return NULL;
  return u->becomes;
}

/* a bound variable -> the variable, its value collected for the schedule (kernels read it from the variable table) */
static tg__uop *tg__sub_bind(void *ctx, tg__uop *u, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  int slot = (int)u->src[0]->arg.i;
  int64_t v = u->src[1]->arg.i;
  if (c->var_vals[slot] >= 0 && c->var_vals[slot] != v) c->var_clash = slot + 1;
  if (c->var_vals[slot] < 0) c->var_vals[slot] = v, c->nvars++;
  return u->src[0];
}

static const tg__rule tg__kernel_input_rules[] = {
  TG__RULE("(BIND _ _)", tg__sub_bind),      /* bind(var, value) -> var, the value kept for the kernels */
  TG__RULE("_", tg__sub_point),              /* a point of this schedule -> RESHAPE(BUFFER) of its kernel's output */
  TG__RULE("_", tg__sub_realised),           /* a value realised before -> RESHAPE(BUFFER) holding it */
  TG__RULE("(CUSTOM_GRAD x ...)", tg__rw_x), /* custom_grad(x, inputs...) -> x: only its value is computed */
};
TG__RULES_REGISTER(tg__kernel_input_rules)

static tg__uop *tg__substitute(tg__sctx *c, tg__uop *u) {
  return tg__graph_rewrite_pre(u, TG__MATCHER(tg__kernel_input_rules), NULL, c);
}

// ---------------------------------------------------------------------------------------------------------------------
// realisation points

static int64_t tg__expanded_mask(const tg__uop *u) {
  int64_t m = 0;
  for (int i = 0; i < u->ndim; i++)
    if (u->src[0]->shape[i] == 1 && u->shape[i] != 1) m |= 1LL << i;
  return m;
}

/* a reshape that only adds or drops axes of size 1 */
static int tg__same_but_ones(const tg__uop *a, const tg__uop *b) {
  int i = 0, j = 0;
  for (;;) {
    while (i < a->ndim && a->shape[i] == 1) i++;
    while (j < b->ndim && b->shape[j] == 1) j++;
    if (i == a->ndim || j == b->ndim) return i == a->ndim && j == b->ndim;
    if (a->shape[i++] != b->shape[j++]) return 0;
  }
}

/* Walks the consumers of a reduction up to the next kernel boundaries, carrying the mask of axes it has been expanded
 * along; a reduction that is fused itself is walked through. Fusing is fine when every expanded axis is reduced again
 * before the boundary (argmax's max feeds a max over the same axis; logsumexp's max feeds the sum of exp(x - max) and
 * the output log(sum) + max: computed once per outer iteration, hoisted out of the loop, one kernel as tinygrad's).
 * It needs a buffer when an expanded axis reaches the kernel's output (softmax's max would be recomputed for every
 * element), when a movement op other than an expand reshuffles expanded axes (kept simple: conservative), or when it
 * reaches more than one boundary (it would be computed in two kernels). A reduction that reaches another one through
 * a reshuffle (a pooling's reshape of a convolution) is a kernel of its own too: nested in the other's loops it cannot
 * be tiled well (a fused conv + maxpool ran at a tenth of the conv's speed). */
static int tg__reduce_needs_buffer(tg__sctx *c, tg__uop *r) {
  typedef struct { tg__uop *u; int64_t mask; int resh; } item;
  item *stack = (item *)tg__alloc(sizeof(item) * 64);
  int n = 0, cap = 64, boundaries = 0, need = 0;
  tg__map seen, ends; /* ends: the kernel boundaries reached (their nodes) */
  memset(&seen, 0, sizeof seen);
  memset(&ends, 0, sizeof ends);
  stack[n].u = r;
  stack[n].resh = 0;
  stack[n++].mask = 0;
  while (n && !need) {
    item it = stack[--n];
    tg__uop *u = it.u;
    int64_t mask = it.mask;
    int resh = it.resh;
    if (u != r) {
      if (u->op == TG__OP_EXPAND) mask |= tg__expanded_mask(u);
      else if (tg__op_is_movement(u->op) && mask) { need = 1; break; }
      else if (u->op == TG__OP_RESHAPE && !tg__same_but_ones(u->src[0], u)) resh = 1;
      if (u->op == TG__OP_REDUCE_AXIS) {
        if ((mask & ~u->arg.i) || resh) need = 1;
        mask &= ~u->arg.i; /* those axes are reduced: size 1 from here */
      }
      if (tg__map_get(&c->realize, u)) {
        if (mask) need = 1;
        if (!tg__map_get(&ends, u)) boundaries++, tg__map_put(&ends, u, (void *)1);
        continue;
      }
    }
    tg__vec *cs = tg__consumers_of(c, u);
    if (!cs) {
      if (!tg__map_get(&ends, u)) boundaries++, tg__map_put(&ends, u, (void *)1);
      if (mask) need = 1;
      continue;
    }
    for (int i = 0; i < cs->n; i++) {
      /* revisit a node only when it is reached with axes expanded that an earlier visit did not carry */
      intptr_t prev = (intptr_t)tg__map_get(&seen, cs->items[i]);
      if (prev && ((prev - 1) | mask) == prev - 1) continue;
      tg__map_put(&seen, cs->items[i], (void *)(intptr_t)(((prev ? prev - 1 : 0) | mask) + 1));
      if (n == cap) stack = (item *)tg__realloc(stack, sizeof(item) * (size_t)(cap *= 2));
      stack[n].u = (tg__uop *)cs->items[i];
      stack[n].resh = resh;
      stack[n++].mask = mask;
    }
  }
  TG_FREE(stack);
  tg__map_free(&seen);
  tg__map_free(&ends);
  return need || boundaries > 1;
}

static void tg__sched_point(tg__sctx *c, tg__uop *u) { tg__map_put(&c->realize, u, (void *)1); }

/* the rule functions record points in the context and return NULL: every rule that matches a node is applied */
static tg__uop *tg__kz_roots(void *ctx, tg__uop *sink, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  if (sink != c->sink) return NULL;
  for (int i = 0; i < sink->nsrc; i++)
    if (!tg__view_buffer(sink->src[i])) tg__sched_point(c, sink->src[i]);
  return NULL;
}

static tg__uop *tg__kz_always(void *ctx, tg__uop *u, const tg__bindings *b) {
  (void)b;
  tg__sched_point((tg__sctx *)ctx, u);
  return NULL;
}

/* a copy between devices reads a buffer of the source device: what it copies is realised there first */
static tg__uop *tg__kz_copy(void *ctx, tg__uop *u, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  tg__sched_point(c, u);
  if (!tg__view_buffer(u->src[0])) tg__sched_point(c, u->src[0]);
  return NULL;
}

static tg__uop *tg__kz_reduce(void *ctx, tg__uop *r, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  if (!tg__map_get(&c->realize, r) && tg__reduce_needs_buffer(c, r)) tg__sched_point(c, r);
  return NULL;
}

/* A padded tensor read through a window (a convolution with padding, and every convolution's input gradient, whose
 * graph pads the output gradient): fused, every load of the kernel is gated by the padding's bounds, which keeps the
 * C compiler from vectorising its register tile, and whatever computes the padded tensor is recomputed once per
 * tap. Realised first, the reduction reads a plain buffer: a 32->32 5x5 convolution of a batch of 512 with padding 4
 * took 92 ms instead of 766 (2-core EPYC). Only when a reduction reads the pad's elements four times or more each
 * (a window, not a plain padded sum) and the pad holds 4096 elements or more. */
static tg__uop *tg__kz_pad(void *ctx, tg__uop *p, const tg__bindings *b) {
  tg__sctx *c = (tg__sctx *)ctx;
  (void)b;
  int64_t n = tg__prod(p->shape, p->ndim);
  /* bytes (a quantised weight's nibbles, padded into their halves of a block) are not realised: one shift and
   * mask a read, where realised they cost a byte an element (SmolLM2's prompt chunks held 47 MB of them) and a
   * kernel each (1.5 ms a layer for a chunk of 32 tokens on 2 cores) */
  if (n < 4096 || tg__map_get(&c->realize, p) || (tg__dtypes[p->dtype].size == 1 && !tg_dtype_is_float(p->dtype)))
    return NULL;
  tg__vec stack;
  tg__map seen;
  memset(&stack, 0, sizeof stack);
  memset(&seen, 0, sizeof seen);
  tg__vec_push(&stack, p);
  int window = 0;
  while (stack.n && !window) {
    tg__uop *u = (tg__uop *)stack.items[--stack.n];
    tg__vec *cs = tg__consumers_of(c, u);
    for (int i = 0; cs && i < cs->n && !window; i++) {
      tg__uop *v = (tg__uop *)cs->items[i];
      if (tg__map_get(&seen, v)) continue;
      tg__map_put(&seen, v, (void *)1);
      if (v->op == TG__OP_REDUCE_AXIS) window = tg__prod(v->src[0]->shape, v->src[0]->ndim) >= 4 * n;
      else if (!tg__map_get(&c->realize, v) &&
               (tg__op_is_movement(v->op) || tg__op_in_group(v->op, TG__GROUP_ELEMENTWISE)))
        tg__vec_push(&stack, v);
    }
  }
  tg__vec_free(&stack);
  tg__map_free(&seen);
  if (window) tg__sched_point(c, p);
  return NULL;
}

/* Applied to every node, consumers before their sources (a reduction's decision reads its consumers'), so the SINK of
 * the roots comes first. */
static const tg__rule tg__kernelize_rules[] = {
  TG__RULE("(SINK)", tg__kz_roots),                    /* sink(roots...): each root, unless a view of a buffer */
  TG__RULE("(CONTIGUOUS|ASSIGN)", tg__kz_always),      /* contiguous(x), assign(t, x): always */
  TG__RULE("(COPY x)", tg__kz_copy),                   /* copy(x) to another device: it, and x */
  TG__RULE("(REDUCE_AXIS)", tg__kz_reduce),            /* reduce(x) expanded to the output, reshuffled or read twice */
  TG__RULE("(PAD)", tg__kz_pad),                       /* pad(x) read through a reduction's window */
};
TG__RULES_REGISTER(tg__kernelize_rules)

/* c->consumers: the distinct consumers of every node of the graph order (sources before users) */
static void tg__find_consumers(tg__sctx *c, const tg__vec *order) {
  for (int i = 0; i < order->n; i++) {
    tg__uop *u = (tg__uop *)order->items[i];
    for (int j = 0; j < u->nsrc; j++) {
      tg__uop *s = u->src[j];
      tg__vec *cs = tg__consumers_of(c, s);
      if (!cs) {
        cs = (tg__vec *)tg__alloc(sizeof(tg__vec));
        tg__vec_push(&c->allocs, cs);
        tg__map_put(&c->consumers, s, cs);
      }
      if (!cs->n || cs->items[cs->n - 1] != u) tg__vec_push(cs, u);
    }
  }
}

/* c->realize: the realisation points of the graph order (c->sink last) */
static void tg__find_points(tg__sctx *c, const tg__vec *order) {
  tg__find_consumers(c, order);
  tg__matcher *m = TG__MATCHER(tg__kernelize_rules);
  for (int i = order->n - 1; i >= 0; i--) tg__match_rules(m, (tg__uop *)order->items[i], c);
}

// ---------------------------------------------------------------------------------------------------------------------
// building the kernels: one per point, in topological order

static tg__uop *tg__buffer_view(tg__uop *buf, const tg__uop *like) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.nints = like->ndim;
  a.ints = like->shape;
  return tg__uop1(TG__OP_RESHAPE, buf->dtype, buf, &a);
}

static int64_t tg__numel_of(const tg__uop *u) { return tg__numel_max(u->ndim, u->shape); }

/* whether a kernel's AST has a symbolic size or bound (it then reads the variable table) */
static int tg__uses_vars(tg__uop *ast) {
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__uop_toposort(ast, &order);
  int uses = 0;
  for (int i = 0; i < order.n && !uses; i++) {
    const tg__uop *u = (const tg__uop *)order.items[i];
    uses = u->op == TG__OP_DEFINE_VAR || (u->ndim > 0 && tg__shape_has_sym(u->ndim, u->shape)) ||
           (u->op == TG__OP_SHRINK && tg__shape_has_sym(u->arg.nints, u->arg.ints));
  }
  tg__vec_free(&order);
  return uses;
}

/* An assignment writes in place: the target's buffer, at its next version (undone if the kernel never runs). NULL
 * with an error when the target was assigned since the assignment was built. */
static tg__uop *tg__assign_output(tg__uop *u, tg__kernel *k) {
  tg__uop *tb = tg__movement_buffer(u->src[0]);
  tg__buffer *b = (tg__buffer *)tb->arg.ptr;
  if (tb->arg.i != b->version) {
    tg__set_error("tg_realize: an assignment to a buffer that was assigned since; realise assignments in order");
    return NULL;
  }
  if (tg__buffer_unshare(b) < 0) return NULL; /* a buffer view, or one with views: their values stay */
  tg__buffer_assign(b, &k->undo);
  return tg__rebase_view(u->src[0], tg__buffer_uop_of(b)); /* into a view (a KV cache's slice): through it */
}

/* the device point u is computed on: its graph's, else (constants) the schedule's */
static tg__device *tg__point_device(tg__sctx *c, tg__uop *u) {
  tg__device *d = (tg__device *)tg__map_get(&c->devs, u);
  return d ? d : c->dev;
}

/* any other point writes a new buffer; NULL on failure */
static tg__uop *tg__new_output(tg__device *dev, tg__uop *u) {
  tg__buffer *b = tg__buffer_new(dev, u->dtype, tg__numel_of(u));
  if (!b) return NULL;
  tg__uop *outbuf = tg__buffer_uop_of(b);
  tg__buffer_release(b); /* the BUFFER uop holds it now */
  return outbuf;
}

static void tg__sched_push(tg__sched *s, tg__kernel *k) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->k = (tg__kernel *)tg__realloc(s->k, sizeof(tg__kernel) * (size_t)s->cap);
  }
  s->k[s->n++] = *k;
}

/* A point with no elements gets a buffer and no kernel: there is nothing to compute (an empty arange, a slice a[2:2],
 * an empty batch), as tinygrad drops the contiguous of a size-0 tensor. An assignment into nothing still moves its
 * target's version (its kernel would write nothing either). */
static int tg__empty_point(tg__sctx *c, tg__uop *u) {
  if (u->op == TG__OP_ASSIGN || tg__numel_of(u) != 0) return 0;
  tg__uop *outbuf = tg__new_output(tg__point_device(c, u), u);
  if (!outbuf) return -1;
  tg__uop *view = tg__buffer_view(outbuf, u);
  if (u->op == TG__OP_CONTIGUOUS && !c->capturing && !u->becomes) u->becomes = view;
  tg__map_put(&c->loads, u, view);
  return 1;
}

/* The byte offset in *buf (the BUFFER node found) of u's value when that value is a contiguous range of *buf read in
 * order: movement ops that keep a row-major range (reshapes; a shrink whose axes after the first partial one are
 * whole and before it single; permutes, expands and flips of size-1 axes; pads of nothing) and bitcasts. -1 when it
 * is not (or its shapes are symbolic). tinygrad's contiguous_view. */
static int64_t tg__contiguous_range(tg__uop *u, tg__uop **buf) {
  if (u->ndim && tg__shape_has_sym(u->ndim, u->shape)) return -1;
  if (u->op == TG__OP_BUFFER) {
    *buf = u;
    return 0;
  }
  if (u->nsrc < 1) return -1;
  tg__uop *x = u->src[0];
  int64_t off;
  switch (u->op) {
  case TG__OP_RESHAPE: case TG__OP_BITCAST: return tg__contiguous_range(x, buf);
  case TG__OP_PERMUTE: { /* the axes larger than 1 keep their order */
    int last = -1;
    for (int i = 0; i < u->ndim; i++)
      if (u->shape[i] != 1) {
        if (u->arg.ints[i] < last) return -1;
        last = (int)u->arg.ints[i];
      }
    return tg__contiguous_range(x, buf);
  }
  case TG__OP_EXPAND: case TG__OP_FLIP:
    for (int i = 0; i < u->ndim; i++)
      if (u->shape[i] != 1 && (u->op == TG__OP_EXPAND ? x->shape[i] != u->shape[i] : (u->arg.i >> i) & 1)) return -1;
    return tg__contiguous_range(x, buf);
  case TG__OP_PAD:
    for (int i = 0; i < u->arg.nints; i++)
      if (u->arg.ints[i]) return -1;
    return tg__contiguous_range(x, buf);
  case TG__OP_SHRINK: {
    const int64_t *b = u->arg.ints;
    int j = x->ndim - 1;
    while (j >= 0 && b[2 * j] == 0 && b[2 * j + 1] == x->shape[j]) j--; /* the last axis not kept whole */
    for (int i = 0; i < j; i++)
      if (b[2 * i + 1] - b[2 * i] != 1) return -1;
    if ((off = tg__contiguous_range(x, buf)) < 0) return -1;
    int64_t stride = tg_dtype_size(x->dtype);
    for (int i = x->ndim - 1; i >= 0; i--) off += b[2 * i] * stride, stride *= x->shape[i];
    return off;
  }
  default: return -1;
  }
}

/* A point whose value is a contiguous range of a buffer realised before (a row slice a[1:3], a chunk of split, a
 * bitcast, their contiguous()) becomes a view of that buffer and launches nothing, as tinygrad's buffer views do.
 * Not while a JIT captures (its replays run kernels only), not for an assignment or a copy to another device, and
 * only on devices that can address into an allocation (dev->offset). 1 when u is a view now, 0 when it needs a
 * kernel. */
static int tg__view_point(tg__sctx *c, tg__uop *u) {
  if (c->capturing || u->op == TG__OP_ASSIGN || u->op == TG__OP_COPY ||
      (u->op == TG__OP_CONTIGUOUS && u->arg.i == TG__CONTIGUOUS_COPY))
    return 0;
  c->self = u; /* every other point is read through its buffer */
  tg__uop *value = tg__substitute(c, u), *bn = NULL;
  if (value->op == TG__OP_CONTIGUOUS) value = value->src[0];
  int64_t off = tg__contiguous_range(value, &bn);
  if (off < 0) return 0;
  tg__buffer *b = (tg__buffer *)bn->arg.ptr;
  /* not a stale read (the kernel path says so), nor a buffer this schedule writes: its kernels are ordered by the
   * buffers they read, which a view would hide (and a snapshot before an update, the counter of tg_rand, is a copy) */
  if (bn->arg.i != b->version || tg__map_get(&c->assigned, b)) return 0;
  /* nor a buffer a kernel of this schedule writes: an intermediate's memory goes to others after its last kernel */
  if (b->id >= c->first_id) return 0;
  tg__buffer *v = tg__buffer_view_new(b, (size_t)off, u->dtype, tg__numel_of(u));
  if (!v) return 0;
  tg__uop *view = tg__buffer_view(tg__buffer_uop_of(v), u);
  tg__buffer_release(v); /* the BUFFER node holds it */
  if (u->op == TG__OP_CONTIGUOUS && !u->becomes) u->becomes = view;
  tg__map_put(&c->loads, u, view);
  return 1;
}

/* the kernel of point u, appended to out; 0 or -1 */
static int tg__build_kernel(tg__sctx *c, tg__uop *u, tg__sched *out) {
  int empty = tg__empty_point(c, u);
  if (empty) return empty < 0 ? -1 : 0;
  if (tg__view_point(c, u)) return 0;
  c->self = u;
  tg__uop *value = tg__substitute(c, u), *outbuf;
  tg__kernel k;
  memset(&k, 0, sizeof k);
  if (u->op == TG__OP_ASSIGN) {
    if (!(outbuf = tg__assign_output(u, &k))) return -1;
    value = value->src[1];
  } else {
    if (!(outbuf = tg__new_output(tg__point_device(c, u), u))) return -1;
    if (value->op == TG__OP_CONTIGUOUS) value = value->src[0];
  }
  for (int r = 0; r < c->sink->nsrc; r++) k.keep |= c->sink->src[r] == u;
  k.keep |= u->op == TG__OP_ASSIGN; /* its buffer belongs to the target */
  /* realised once: see tg__sched_settle. An assignment always (its buffer is the target's), a CONTIGUOUS only when
   * no JIT captures (replays own its memory) */
  tg__uop *view = outbuf->op == TG__OP_BUFFER ? tg__buffer_view(outbuf, u) : outbuf;
  if (u->op == TG__OP_ASSIGN || (u->op == TG__OP_CONTIGUOUS && !c->capturing)) {
    k.keep = 1;
    k.node = u;
    k.view = view;
  }
  k.ast = tg__uop1(TG__OP_SINK, TG_BOOL, tg__uop2(TG__OP_STORE, u->dtype, outbuf, value, NULL), NULL);
  if (tg__uses_vars(k.ast) && !(k.vars = tg__var_table(tg__point_device(c, u)))) return -1;
  tg__sched_push(out, &k);
  tg__map_put(&c->loads, u, view);
  return 0;
}

/* The points whose values are read: the roots and assignments, and what their kernels read, through the graph up to
 * the next points. An empty point reads nothing, so what only it would read is not computed at all (softmin over an
 * empty axis: its max and sum are of shape (2, 1, 3), its output (2, 0, 3): no kernel, as tinygrad). */
static void tg__needed_points(tg__sctx *c, tg__map *needed) {
  tg__vec stack;
  tg__map seen;
  memset(&stack, 0, sizeof stack);
  memset(&seen, 0, sizeof seen);
  for (int i = 0; i < c->sink->nsrc; i++) tg__vec_push(&stack, c->sink->src[i]);
  while (stack.n) {
    tg__uop *u = (tg__uop *)stack.items[--stack.n];
    if (tg__map_get(&seen, u)) continue;
    tg__map_put(&seen, u, (void *)1);
    if (tg__map_get(&c->realize, u)) {
      tg__map_put(needed, u, (void *)1);
      if (u->op != TG__OP_ASSIGN && tg__numel_of(u) == 0) continue; /* computes nothing, reads nothing */
    }
    for (int k = 0; k < u->nsrc; k++) tg__vec_push(&stack, u->src[k]);
  }
  tg__vec_free(&stack);
  tg__map_free(&seen);
}

static int tg__build_kernels(tg__sctx *c, const tg__vec *order, tg__sched *out) {
  tg__map needed;
  memset(&needed, 0, sizeof needed);
  tg__needed_points(c, &needed);
  int rc = 0;
  for (int i = 0; i < order->n && rc == 0; i++) {
    tg__uop *u = (tg__uop *)order->items[i];
    if (tg__map_get(&c->realize, u) && (tg__map_get(&needed, u) || u->op == TG__OP_ASSIGN))
      rc = tg__build_kernel(c, u, out);
  }
  tg__map_free(&needed);
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// ordering the kernels

/* The kernels in an order that respects what they read and write: a kernel runs after the kernels whose outputs it
 * reads, and an in-place assignment to a buffer runs after every kernel that reads the buffer's previous contents
 * (write after read). Kahn's algorithm, earliest first, so the order is the topological one when nothing moves. */
static int tg__order_kernels(tg__sched *s) {
  int n = s->n, rc = 0;
  if (n < 2) return 0;
  tg__map writer; /* BUFFER uop -> kernel index + 1 */
  memset(&writer, 0, sizeof writer);
  for (int i = 0; i < n; i++) tg__map_put(&writer, tg__store_buffer(s->k[i].ast), (void *)(intptr_t)(i + 1));
  char *before = (char *)tg__alloc((size_t)n * (size_t)n); /* before[a*n+b]: a must run before b */
  int *indeg = (int *)tg__alloc(sizeof(int) * (size_t)n), *order = (int *)tg__alloc(sizeof(int) * (size_t)n);
  for (int k = 0; k < n; k++) {
    tg__vec nodes;
    memset(&nodes, 0, sizeof nodes);
    tg__uop_toposort(s->k[k].ast->src[0]->src[1], &nodes);
    for (int i = 0; i < nodes.n; i++) {
      tg__uop *u = (tg__uop *)nodes.items[i];
      if (u->op != TG__OP_BUFFER) continue;
      intptr_t w = (intptr_t)tg__map_get(&writer, u);
      if (w && w - 1 != k) before[(w - 1) * n + k] = 1; /* read after write */
      for (int j = 0; j < n; j++) {                      /* write after read: j overwrites what k reads */
        tg__uop *out = tg__store_buffer(s->k[j].ast);
        if (j != k && out->arg.ptr == u->arg.ptr && out->arg.i > u->arg.i) before[k * n + j] = 1;
      }
    }
    tg__vec_free(&nodes);
  }
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) indeg[b] += before[a * n + b];
  char *done = (char *)tg__alloc((size_t)n);
  for (int placed = 0; placed < n; placed++) {
    int pick = -1;
    for (int k = 0; k < n && pick < 0; k++)
      if (!done[k] && indeg[k] == 0) pick = k;
    if (pick < 0) {
      tg__set_error("tg_realize: the assignments in this realisation depend on each other in a cycle");
      rc = -1;
      break;
    }
    done[pick] = 1;
    order[placed] = pick;
    for (int b = 0; b < n; b++) indeg[b] -= before[pick * n + b];
  }
  if (rc == 0) {
    tg__kernel *k = (tg__kernel *)tg__alloc(sizeof(tg__kernel) * (size_t)n);
    for (int i = 0; i < n; i++) k[i] = s->k[order[i]];
    memcpy(s->k, k, sizeof(tg__kernel) * (size_t)n);
    TG_FREE(k);
  }
  TG_FREE(done);
  TG_FREE(before);
  TG_FREE(indeg);
  TG_FREE(order);
  tg__map_free(&writer);
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// the buffers a graph reads

/* The buffers a graph reads, checked in one pass:
 *  - A lazy graph reads each buffer at the version it saw when it was built. Once an assignment to that buffer has
 *    run (in another realisation, or a JIT replay or host write), those contents are gone: realising the graph now
 *    would silently compute with the new ones (tinygrad does). That is an error instead.
 *  - They give the device the kernels run on (*dev stays NULL for a graph of constants). A graph that reads two
 *    devices is an error: there is no copy between devices yet. */
/* every BUFFER is current (not stale), and each node's device (c->devs): a buffer's; a COPY's target; else the one
 * device of its sources (constants have none: they run anywhere). Two devices meeting without a COPY is an error. */
static int tg__node_devices(tg__sctx *c, const tg__vec *order) {
  for (int i = 0; i < order->n; i++) {
    tg__uop *u = (tg__uop *)order->items[i];
    tg__device *d = NULL;
    if (u->op == TG__OP_BUFFER) {
      if (tg__buffer_check_read(u) < 0) return -1;
      d = ((const tg__buffer *)u->arg.ptr)->dev;
    } else if (u->op == TG__OP_COPY) {
      d = (tg__device *)u->arg.ptr;
    } else {
      for (int k = 0; k < u->nsrc; k++) {
        tg__device *s = (tg__device *)tg__map_get(&c->devs, u->src[k]);
        if (s && d && s != d) {
          tg__set_error("tg_realize: the graph reads tensors on %s and on %s. HINT: move one to the other with "
                        "tg_to(t, \"%s\")", d->name, s->name, d->name);
          return -1;
        }
        if (s) d = s;
      }
    }
    if (d) tg__map_put(&c->devs, u, d);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the schedule

/* On a GPU, a reduction to fewer than 1024 outputs of 32768 inputs or more each becomes two (tg__split_reduce): the
 * first stage's partial results are enough workgroups to fill the GPU (BatchNorm's statistics of 32 channels: 32
 * workgroups took 0.5 ms, split 0.07). The graph splits those to fewer than 16 outputs on every device when it is
 * built. Not a one-hot sum (a gather, which codegen turns into loads: split, it would sum 60000 rows), nor more
 * outputs: split by the batch, a weight gradient's partial results lie a batch chunk apart in adjacent threads
 * (a 64x32x3x3 one took 11 ms instead of 0.5). */
/* whether u is a position along an axis: an ARANGE, moved, cast, offset or scaled (a few steps at most) */
static int tg__is_position(const tg__uop *u, int depth) {
  if (u->op == TG__OP_ARANGE) return 1;
  if (depth > 8) return 0;
  if (tg__op_is_movement(u->op) || u->op == TG__OP_CAST) return tg__is_position(u->src[0], depth + 1);
  if (u->op == TG__OP_ADD || u->op == TG__OP_MUL)
    return tg__is_position(u->src[0], depth + 1) || tg__is_position(u->src[1], depth + 1);
  return 0;
}

static tg__uop *tg__kz_split(void *ctx, tg__uop *r, const tg__bindings *b) {
  (void)ctx, (void)b;
  if (r->arg.f != 0) return NULL;
  /* a one-hot sum: a compare for equality with a position (an ARANGE) in the summed values, short of another
   * reduction or a buffer (a max pool's backward compares with the maxima, which is no one-hot sum; the loss's
   * one-hot labels lie behind the matmul's reduction in every gradient) */
  tg__vec stack;
  tg__map seen;
  memset(&stack, 0, sizeof stack);
  memset(&seen, 0, sizeof seen);
  tg__vec_push(&stack, r->src[0]);
  int onehot = 0;
  while (stack.n && !onehot) {
    tg__uop *u = (tg__uop *)stack.items[--stack.n];
    if (tg__map_get(&seen, u)) continue;
    tg__map_put(&seen, u, (void *)1);
    if (u->op == TG__OP_CMPEQ) {
      onehot = tg__is_position(u->src[0], 0) || tg__is_position(u->src[1], 0);
      continue;
    }
    if (u->op == TG__OP_REDUCE_AXIS || u->op == TG__OP_CONTIGUOUS || u->op == TG__OP_BUFFER) continue;
    for (int i = 0; i < u->nsrc; i++) tg__vec_push(&stack, u->src[i]);
  }
  tg__vec_free(&stack);
  tg__map_free(&seen);
  return onehot ? NULL : tg__split_reduce(r->src[0], (tg__op)r->arg.i2, r->arg.i, 1024);
}

static const tg__rule tg__gpu_split_rules[] = {
  TG__RULE("(REDUCE_AXIS)", tg__kz_split), /* a reduction to few outputs, not split before */
};
TG__RULES_REGISTER(tg__gpu_split_rules)

/* whether the graph below root copies between devices (a COPY that is not realised yet): a walk that stops where a
 * node was realised before */
static int tg__copies_between_devices(tg__uop *root) {
  tg__vec stack;
  tg__map seen;
  memset(&stack, 0, sizeof stack);
  memset(&seen, 0, sizeof seen);
  tg__vec_push(&stack, root);
  int found = 0;
  while (stack.n && !found) {
    tg__uop *u = (tg__uop *)stack.items[--stack.n];
    if (tg__map_get(&seen, u) || (u != root && u->becomes)) continue;
    tg__map_put(&seen, u, (void *)1);
    found = u->op == TG__OP_COPY;
    for (int k = 0; k < u->nsrc; k++) tg__vec_push(&stack, u->src[k]);
  }
  tg__vec_free(&stack);
  tg__map_free(&seen);
  return found;
}

/* the graph below the roots, without what was realised before: c->sink, and its nodes in order (sources first); the
 * device the kernels run on in c->dev. 0 or -1 */
static int tg__sched_graph(tg__sctx *c, tg__uop **roots, int nroots, tg__vec *order) {
  tg__uop *raw = tg__uop_new(TG__OP_SINK, TG_BOOL, nroots, roots, NULL);
  c->copies = tg__copies_between_devices(raw);
  c->sink = tg__substitute(c, raw);
  tg__uop_toposort(c->sink, order);
  if (tg__node_devices(c, order) < 0) return -1;
  c->dev = c->opts->device; /* the roots' device, else their graph's, else the default */
  for (int i = 0; i < c->sink->nsrc && !c->dev; i++) c->dev = (tg__device *)tg__map_get(&c->devs, c->sink->src[i]);
  if (!c->dev && !(c->dev = c->opts->default_device())) return -1;
  if (c->dev->dialect->global_id && c->dev->dialect->group_id) {
    tg__uop *split = tg__graph_rewrite(c->sink, TG__MATCHER(tg__gpu_split_rules), NULL);
    if (split != c->sink) {
      c->sink = split;
      order->n = 0;
      tg__uop_toposort(c->sink, order);
      if (tg__node_devices(c, order) < 0) return -1; /* the split's new nodes */
    }
  }
  return 0;
}

TG__PRIVATE int tg__kernelize(tg__uop **roots, int nroots, const tg__sched_opts *opts, tg__sched *out,
                              tg__uop **realized_out) {
  memset(out, 0, sizeof *out);
  tg__sctx c;
  memset(&c, 0, sizeof c);
  c.opts = opts;
  c.capturing = opts->capturing;
  c.first_id = tg__buffer_new_id_peek();
  for (int i = 0; i < TG__MAX_VARS; i++) c.var_vals[i] = -1;
  if (c.capturing) tg__uop_roots(tg__sctx_live, &c);
  tg__vec order;
  memset(&order, 0, sizeof order);
  int rc = tg__sched_graph(&c, roots, nroots, &order);
  if (rc == 0 && c.var_clash) {
    tg__set_error("tg_realize: variable '%s' is bound to two values in one realisation; realise the tensors of "
                  "each value separately", tg__var_slot(c.var_clash - 1)->name);
    rc = -1;
  }
  if (rc == 0 && c.nvars) {
    out->var_vals = (int64_t *)tg__alloc(sizeof(int64_t) * TG__MAX_VARS);
    memcpy(out->var_vals, c.var_vals, sizeof(int64_t) * TG__MAX_VARS);
  }
  if (rc == 0) {
    for (int i = 0; i < order.n; i++) {
      tg__uop *u = (tg__uop *)order.items[i], *tb = u->op == TG__OP_ASSIGN ? tg__movement_buffer(u->src[0]) : NULL;
      if (tb) tg__map_put(&c.assigned, tb->arg.ptr, (void *)1);
    }
    tg__find_points(&c, &order);
    rc = tg__build_kernels(&c, &order, out);
    if (rc == 0) rc = tg__order_kernels(out);
    for (int i = 0; i < nroots; i++) {
      tg__uop *v = (tg__uop *)tg__map_get(&c.loads, c.sink->src[i]);
      realized_out[i] = v ? v : c.sink->src[i];
    }
  }
  tg__sctx_free(&c);
  tg__vec_free(&order);
  if (rc < 0) {
    tg__sched_undo(out); /* nothing ran: every assignment is undone */
    tg__sched_free(out);
  }
  return rc;
}

TG__PRIVATE void tg__sched_undo(tg__sched *s) {
  /* latest first: a chain of assignments to one buffer unwinds in order */
  for (int i = s->n - 1; i >= s->nran; i--) tg__buffer_undo_assign(&s->k[i].undo);
}

TG__PRIVATE void tg__sched_free(tg__sched *s) {
  for (int i = 0; i < s->n; i++) {
    TG_FREE(s->k[i].bufs);
    TG_FREE(s->k[i].name);
    TG_FREE(s->k[i].src);
    TG_FREE(s->k[i].opts);
  }
  TG_FREE(s->k);
  TG_FREE(s->var_vals);
  memset(s, 0, sizeof *s);
}

TG__PRIVATE tg__uop *tg__store_buffer(tg__uop *ast) { return tg__movement_buffer(ast->src[0]->src[0]); }
