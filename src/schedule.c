/* schedule.c: split a lazy tensor graph into kernels, and run them.
 *
 * Contract:
 *  - tg__schedule(roots) decides which nodes become buffers (realisation points) and returns one kernel per point, in
 *    dependency order. Everything between points is fused into the consumer's kernel.
 *  - Realisation points: the roots; CONTIGUOUS; COPY; and a REDUCE_AXIS whose result is expanded afterwards (softmax's
 *    max, layernorm's mean) or feeds more than one kernel. A reduction consumed without expansion is fused, even into
 *    another reduction: (a@b).relu().sum(0) is one kernel.
 *  - A kernel's AST is SINK(STORE(BUFFER_out, value)) over the tensor graph, where every other point is replaced by a
 *    RESHAPE of its BUFFER. Codegen lowers it.
 *  - Each root gets a new buffer; realized_out[i] is RESHAPE(BUFFER, shape) for roots[i], which tensors then use.
 *  - tg__run_schedule compiles and runs the kernels; device memory of intermediate buffers is recycled once their last
 *    reader has run (memory planning). */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// realisation points

typedef struct tg__sctx {
  tg__map consumers;   /* uop -> tg__vec* of distinct consumers */
  tg__map realize;     /* uop -> (void*)1 if it is a realisation point */
  tg__map loads;       /* realised uop -> its buffer view (RESHAPE(BUFFER)) */
  tg__uop *self;       /* the node whose kernel is being built */
  tg__vec allocs;      /* vecs to free */
  int capturing;       /* a JIT records this schedule: reuse only the values of live tensors (see tg__substitute) */
  tg__map live;        /* the uops of live tensors, when capturing */
} tg__sctx;

static tg__vec *tg__consumers_of(tg__sctx *c, tg__uop *u) { return (tg__vec *)tg__map_get(&c->consumers, u); }

static int64_t tg__expanded_mask(const tg__uop *u) {
  int64_t m = 0;
  for (int i = 0; i < u->ndim; i++)
    if (u->src[0]->shape[i] == 1 && u->shape[i] != 1) m |= 1LL << i;
  return m;
}

/* Walks the consumers of a reduction up to the next kernel boundaries, carrying the mask of axes it has been expanded
 * along. Fusing is fine when every expanded axis is reduced again before the boundary (argmax's max feeds a max over
 * the same axis: computed once per outer iteration, hoisted out of the loop). It needs a buffer when an expanded axis
 * reaches the kernel's output (softmax's max would be recomputed for every element), when a movement op other than
 * an expand reshuffles expanded axes (kept simple: conservative), or when it reaches more than one boundary (it would
 * be computed twice). A reduction that reaches another one through a reshuffle (a pooling's reshape of a convolution)
 * is a kernel of its own too: nested in the other's loops it cannot be tiled well (a fused conv + maxpool ran at a
 * tenth of the conv's speed). */
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

static int tg__reduce_needs_buffer(tg__sctx *c, tg__uop *r) {
  typedef struct { tg__uop *u; int64_t mask; int resh; } item;
  item *stack = (item *)tg__alloc(sizeof(item) * 64);
  int n = 0, cap = 64, boundaries = 0, need = 0;
  tg__map seen;
  memset(&seen, 0, sizeof seen);
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
        boundaries++;
        continue;
      }
      if (tg__map_get(&c->realize, u)) {
        if (mask) need = 1;
        boundaries++;
        continue;
      }
    }
    tg__vec *cs = tg__consumers_of(c, u);
    if (!cs) { boundaries++; if (mask) need = 1; continue; }
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
  return need || boundaries > 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// building a kernel's AST: replace every other realisation point by a view of its buffer (a top-down walk that stops
// at points, so a kernel never looks past its inputs)

static tg__uop *tg__substitute(tg__sctx *c, tg__uop *u, tg__map *memo) {
  tg__uop *done = (tg__uop *)tg__map_get(memo, u);
  if (done) return done;
  tg__uop *r = u;
  tg__uop *view = u != c->self ? (tg__uop *)tg__map_get(&c->loads, u) : NULL;
  if (view) {
    r = view;
  } else if (u->becomes && (!c->capturing || tg__map_get(&c->live, u))) {
    /* a realised value. While a JIT captures, only a live tensor's value is taken as given: an intermediate cached by
     * an earlier call is recomputed, so that replays (which run no graph) recompute it too */
    r = u->becomes;
  } else if (u->op == TG__OP_CUSTOM_GRAD) { /* only its value is computed */
    r = tg__substitute(c, u->src[0], memo);
  } else if (u->nsrc) {
    tg__uop *small[8];
    tg__uop **srcs = u->nsrc <= 8 ? small : (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)u->nsrc);
    int changed = 0;
    for (int i = 0; i < u->nsrc; i++) {
      srcs[i] = tg__substitute(c, u->src[i], memo);
      changed |= srcs[i] != u->src[i];
    }
    if (changed) r = tg__uop_new(u->op, u->dtype, u->nsrc, srcs, &u->arg);
    if (srcs != small) TG_FREE(srcs);
  }
  tg__map_put(memo, u, r);
  return r;
}

static tg__uop *tg__buffer_view(tg__uop *buf, const tg__uop *like) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.nints = like->ndim;
  a.ints = like->shape;
  return tg__uop1(TG__OP_RESHAPE, buf->dtype, buf, &a);
}

/* The kernels in an order that respects what they read and write: a kernel runs after the kernels whose outputs it
 * reads, and an in-place assignment to a buffer runs after every kernel that reads the buffer's previous contents
 * (write after read). Kahn's algorithm, earliest first, so the order is the topological one when nothing moves. */
static int tg__order_kernels(tg__sched *s) {
  int n = s->n, rc = 0;
  if (n < 2) return 0;
  tg__map writer; /* BUFFER uop -> kernel index + 1 */
  memset(&writer, 0, sizeof writer);
  for (int i = 0; i < n; i++) tg__map_put(&writer, s->k[i].ast->src[0]->src[0], (void *)(intptr_t)(i + 1));
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
        tg__uop *out = s->k[j].ast->src[0]->src[0];
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

static int64_t tg__numel_of(const tg__uop *u) {
  int64_t n = 1;
  for (int i = 0; i < u->ndim; i++) n *= u->shape[i];
  return n;
}

static void tg__sched_push(tg__sched *s, tg__kernel *k) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->k = (tg__kernel *)tg__realloc(s->k, sizeof(tg__kernel) * (size_t)s->cap);
  }
  s->k[s->n++] = *k;
}

/* The buffers a graph reads, checked in one pass:
 *  - A lazy graph reads each buffer at the version it saw when it was built. Once an assignment to that buffer has
 *    run (in another realisation, or a JIT replay or host write), those contents are gone: realising the graph now
 *    would silently compute with the new ones (tinygrad does). That is an error instead.
 *  - They give the device the kernels run on (*dev stays NULL for a graph of constants). A graph that reads two
 *    devices is an error: there is no copy between devices yet. */
static int tg__check_buffers(const tg__vec *order, tg__device **dev) {
  for (int i = 0; i < order->n; i++) {
    const tg__uop *u = (const tg__uop *)order->items[i];
    if (u->op != TG__OP_BUFFER) continue;
    const tg__buffer *b = (const tg__buffer *)u->arg.ptr;
    if (u->arg.i < b->written) {
      tg__set_error("tg_realize: this tensor reads buffer %lld as it was before an assignment that has run since "
                    "(version %lld, now %lld); HINT: realise it before the assignment runs (tg_realize), or build it "
                    "after", (long long)b->id, (long long)u->arg.i, (long long)b->version);
      return -1;
    }
    if (*dev && b->dev != *dev) {
      tg__set_error("tg_realize: the graph reads tensors on %s and on %s; moving data between devices is not "
                    "supported yet. HINT: keep DEV the same for the whole program", (*dev)->name, b->dev->name);
      return -1;
    }
    *dev = b->dev;
  }
  return 0;
}

TG__PRIVATE int tg__schedule(tg__uop **roots, int nroots, tg__sched *out, tg__uop **realized_out) {
  memset(out, 0, sizeof *out);
  tg__sctx c;
  memset(&c, 0, sizeof c);
  tg__uop *sink = tg__uop_new(TG__OP_SINK, TG_BOOL, nroots, roots, NULL);
  c.capturing = tg__jit_capturing();
  for (tg_tensor *t = c.capturing ? tg__tensor_list() : NULL; t; t = t->next) tg__map_put(&c.live, t->uop, (void *)1);
  tg__vec order;
  memset(&order, 0, sizeof order);
  /* the graph below each root, stopping at realised nodes */
  {
    tg__map memo;
    memset(&memo, 0, sizeof memo);
    sink = tg__substitute(&c, sink, &memo);
    tg__map_free(&memo);
  }
  tg__uop_toposort(sink, &order);
  tg__device *dev = NULL;
  if (tg__check_buffers(&order, &dev) < 0 || (!dev && !(dev = tg__device_get(NULL)))) {
    tg__map_free(&c.live);
    tg__vec_free(&order);
    return -1;
  }
  for (int i = 0; i < order.n; i++) {
    tg__uop *u = (tg__uop *)order.items[i];
    for (int j = 0; j < u->nsrc; j++) {
      tg__uop *s = u->src[j];
      tg__vec *cs = tg__consumers_of(&c, s);
      if (!cs) {
        cs = (tg__vec *)tg__alloc(sizeof(tg__vec));
        tg__vec_push(&c.allocs, cs);
        tg__map_put(&c.consumers, s, cs);
      }
      if (!cs->n || cs->items[cs->n - 1] != u) tg__vec_push(cs, u);
    }
  }
  /* roots, CONTIGUOUS and COPY are points; reductions are decided consumers first */
  for (int i = 0; i < sink->nsrc; i++) {
    tg__uop *r = sink->src[i];
    if (!tg__view_buffer(r))
      tg__map_put(&c.realize, r, (void *)1);
  }
  for (int i = order.n - 1; i >= 0; i--) {
    tg__uop *u = (tg__uop *)order.items[i];
    if (u->op == TG__OP_CONTIGUOUS || u->op == TG__OP_COPY || u->op == TG__OP_ASSIGN)
      tg__map_put(&c.realize, u, (void *)1);
    else if (u->op == TG__OP_REDUCE_AXIS && !tg__map_get(&c.realize, u) && tg__reduce_needs_buffer(&c, u))
      tg__map_put(&c.realize, u, (void *)1);
  }
  /* one kernel per point, in topological order */
  int rc = 0;
  for (int i = 0; i < order.n; i++) {
    tg__uop *u = (tg__uop *)order.items[i];
    if (!tg__map_get(&c.realize, u)) continue;
    tg__map memo;
    memset(&memo, 0, sizeof memo);
    c.self = u;
    tg__uop *value = tg__substitute(&c, u, &memo);
    tg__map_free(&memo);
    tg__uop *outbuf;
    tg__kernel k;
    memset(&k, 0, sizeof k);
    if (u->op == TG__OP_ASSIGN) { /* in place: the target's buffer, at its next version (undone if it never runs) */
      tg__uop *tb = tg__view_buffer(u->src[0]);
      tg__buffer *b = (tg__buffer *)tb->arg.ptr;
      if (tb->arg.i != b->version) {
        tg__set_error("tg_realize: an assignment to a buffer that was assigned since; realise assignments in order");
        rc = -1;
        break;
      }
      k.undo_buf = b;
      k.undo_version = b->version;
      k.undo_written = b->written;
      b->written = ++b->version;
      outbuf = tg__buffer_uop_of(b);
      value = value->src[1];
    } else {
      tg__buffer *b = tg__buffer_new(dev, u->dtype, tg__numel_of(u));
      if (!b) {
        rc = -1;
        break;
      }
      outbuf = tg__buffer_uop_of(b);
      tg__buffer_release(b); /* the BUFFER uop holds it now */
      if (value->op == TG__OP_CONTIGUOUS) value = value->src[0];
    }
    for (int r = 0; r < sink->nsrc; r++) k.keep |= sink->src[r] == u;
    k.keep |= u->op == TG__OP_ASSIGN; /* its buffer belongs to the target */
    /* realised once: see tg__sched_settle. An assignment always (its buffer is the target's), a CONTIGUOUS only when
     * no JIT captures (replays own its memory) */
    if (u->op == TG__OP_ASSIGN || (u->op == TG__OP_CONTIGUOUS && !c.capturing)) {
      k.keep = 1;
      k.node = u;
      k.view = tg__buffer_view(outbuf, u);
    }
    k.ast = tg__uop1(TG__OP_SINK, TG_BOOL, tg__uop2(TG__OP_STORE, u->dtype, outbuf, value, NULL), NULL);
    tg__sched_push(out, &k);
    tg__map_put(&c.loads, u, tg__buffer_view(outbuf, u));
  }
  if (rc == 0) rc = tg__order_kernels(out);
  for (int i = 0; i < nroots; i++) {
    tg__uop *r = sink->src[i];
    tg__uop *v = (tg__uop *)tg__map_get(&c.loads, r);
    realized_out[i] = v ? v : r;
  }
  for (int i = 0; i < c.allocs.n; i++) {
    tg__vec_free((tg__vec *)c.allocs.items[i]);
    TG_FREE(c.allocs.items[i]);
  }
  tg__vec_free(&c.allocs);
  tg__map_free(&c.consumers);
  tg__map_free(&c.realize);
  tg__map_free(&c.loads);
  tg__map_free(&c.live);
  tg__vec_free(&order);
  if (rc < 0) {
    tg__sched_settle(out); /* nothing ran: every assignment is undone */
    tg__sched_free(out);
  }
  return rc;
}

/* A CONTIGUOUS realised by a run keeps its buffer (`becomes`, as a root does), so a graph built on it later (a
 * backward pass after the forward was realised) reads the values the first run computed instead of recomputing them:
 * a random tensor is drawn once, as tinygrad's contiguous rand. Not while a JIT captures: its replays own the
 * memory. */
TG__PRIVATE void tg__sched_settle(tg__sched *s) {
  for (int i = 0; i < s->nran; i++)
    if (s->k[i].node && !s->k[i].node->becomes) s->k[i].node->becomes = s->k[i].view;
  for (int i = s->n - 1; i >= s->nran; i--) { /* latest first: a chain of assignments to one buffer unwinds in order */
    tg__kernel *k = &s->k[i];
    if (!k->undo_buf) continue;
    k->undo_buf->version = k->undo_version;
    k->undo_buf->written = k->undo_written;
    k->undo_buf = NULL;
  }
}

TG__PRIVATE int tg__sched_ran(const tg__sched *s, const tg__uop *view) {
  const tg__uop *b = tg__view_buffer((tg__uop *)view);
  for (int i = s->nran; i < s->n; i++)
    if (s->k[i].ast->src[0]->src[0] == b) return 0;
  return 1;
}

TG__PRIVATE void tg__sched_free(tg__sched *s) {
  for (int i = 0; i < s->n; i++) {
    TG_FREE(s->k[i].bufs);
    TG_FREE(s->k[i].name);
    TG_FREE(s->k[i].src);
  }
  TG_FREE(s->k);
  memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------------------------------------------------------------
// running: compile each kernel (cached by the device), recycle intermediate memory after its last reader

static int tg__kernel_prepare(tg__kernel *k) {
  if (k->prog) return 0;
  tg__linear lin;
  memset(&lin, 0, sizeof lin);
  tg__kparam *params = tg__kernel_params(k);
  tg__device *dev = k->bufs[0]->dev;
  if (tg__codegen(k, dev->dialect->global_id != NULL, &lin) < 0) {
    TG_FREE(params);
    return -1;
  }
  k->src = tg__render(dev->dialect, k->name, params, k->nbufs, &lin);
  TG_FREE(params);
  if (TG__DEBUG >= 4) {
    for (int i = 0; i < lin.n; i++) {
      tg__uop *u = lin.u[i];
      printf("%4d %-13s %-8s %d srcs\n", i, tg__op_names[u->op], tg__dtypes[u->dtype].name, u->nsrc);
    }
  }
  if (tg__fault(TG__FAULT_COMPILE)) tg__set_error("compile of kernel %s failed (injected fault)", k->name);
  else if (k->src) k->prog = dev->compile(dev, k->name, k->src); /* else the renderer said why */
  if (k->prog) {
    /* the CPU splits the outermost loop across threads; a GPU runs a thread per iteration of all output loops */
    k->prog->global_size = dev->dialect->global_id ? lin.global_total : lin.global_size;
    k->prog->flops = lin.flops;
    k->prog->bytes = lin.bytes;
  }
  TG_FREE(lin.u);
  TG_FREE(lin.aux);
  return k->prog ? 0 : -1;
}

/* the launches of s, with the buffers each one reads for the last time (intermediates only: what a kernel keeps, or
 * what was realised before, lives on) */
static tg__launch *tg__sched_launches(tg__sched *s) {
  tg__map last, temp;
  memset(&last, 0, sizeof last);
  memset(&temp, 0, sizeof temp);
  for (int i = 0; i < s->n; i++) {
    for (int j = 0; j < s->k[i].nbufs; j++) tg__map_put(&last, s->k[i].bufs[j], (void *)(intptr_t)(i + 1));
    if (!s->k[i].keep) tg__map_put(&temp, s->k[i].bufs[0], (void *)1);
  }
  tg__launch *ls = (tg__launch *)tg__alloc(sizeof(tg__launch) * (size_t)(s->n ? s->n : 1));
  for (int i = 0; i < s->n; i++) {
    tg__kernel *k = &s->k[i];
    ls[i].bufs = k->bufs;
    ls[i].nbufs = k->nbufs;
    ls[i].drop = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)k->nbufs);
    for (int j = 1; j < k->nbufs; j++)
      if ((intptr_t)tg__map_get(&last, k->bufs[j]) == i + 1 && tg__map_get(&temp, k->bufs[j]))
        ls[i].drop[ls[i].ndrop++] = k->bufs[j];
  }
  tg__map_free(&last);
  tg__map_free(&temp);
  return ls;
}

/* runs kernel i with the planned memory; 0 or -1 */
static int tg__sched_launch(tg__sched *s, int i, void **ptrs, const tg__launch *l, double *t_total) {
  tg__kernel *k = &s->k[i];
  tg__device *dev = k->bufs[0]->dev;
  struct timespec t0, t1;
  if (TG__DEBUG >= 1) clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = 0;
  if (tg__fault(TG__FAULT_LAUNCH)) {
    tg__set_error("%s launch of kernel %s failed (injected fault)", dev->name, k->name);
    rc = -1;
  }
  if (rc == 0) rc = dev->launch(k->prog, ptrs, k->nbufs);
  if (rc == 0 && tg__jit_capturing()) {
    tg__jit_record(k->prog, k->bufs, k->nbufs);
    for (int j = 0; j < l->ndrop; j++) tg__jit_record_drop(l->drop[j]);
  }
  if (rc == 0 && TG__DEBUG >= 1) {
    dev->synchronize(dev);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    *t_total += dt;
    if (TG__DEBUG >= 2)
      printf("*** %-6s %4d %-28s %9.2f us  %8.2f GFLOPS %8.2f GB/s\n", dev->name, i, k->name, dt * 1e6,
             k->prog->flops / dt * 1e-9, k->prog->bytes / dt * 1e-9);
  }
  return rc;
}

TG__PRIVATE int tg__run_schedule(tg__sched *s) {
  s->nran = 0;
  for (int i = 0; i < s->n; i++)
    if (tg__kernel_prepare(&s->k[i]) < 0) return -1;
  tg__launch *ls = tg__sched_launches(s);
  tg__plan plan;
  int rc = tg__plan_memory(&plan, ls, s->n), planned = rc == 0;
  double t_total = 0;
  for (int i = 0; i < s->n && rc == 0; i++) {
    rc = tg__sched_launch(s, i, plan.ptrs[i], &ls[i], &t_total);
    if (rc == 0) s->nran = i + 1;
  }
  if (planned) tg__plan_end(&plan); /* a failed plan has given everything back already */
  if (rc < 0 && s->nran > 0) { /* a launch failed: what ran stays; what did not run keeps no memory */
    for (int i = s->nran; i < s->n; i++)
      if (!s->k[i].keep) tg__buffer_drop_memory(s->k[i].bufs[0]);
  }
  if (TG__DEBUG >= 1 && s->n) printf("scheduled %d kernels in %.2f ms\n", s->n, t_total * 1e3);
  for (int i = 0; i < s->n; i++) TG_FREE(ls[i].drop);
  TG_FREE(ls);
  return rc;
}
