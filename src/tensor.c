/* tensor.c: tensor handles, lifetimes, creation, movement, realising and reading (layer 5).
 *
 * Contract:
 *  - A tg_tensor is a handle on a lazy UOp (t->uop). Ops build new UOps and return new handles; nothing runs until a
 *    realisation. Handles are on a list of live tensors: the roots of the UOp garbage collector.
 *  - Scopes: a handle made while a scope is open belongs to it and is freed by tg_scope_end unless kept.
 *  - Errors: validation happens in the public function, before any node is built, so a failing call builds nothing
 *    and changes no tensor. The message names the function, the shapes and what was wrong.
 *  - Nodes are built by shape.c's builders (tg__treshape, tg__texpand, ...), which assume valid arguments: the public
 *    functions here check them first.
 *  - The live list is the graph's roots: tensor.c registers them with uop.c (tg__set_root_enumerator). */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// handles, the live list, scopes

static tg_tensor *tg__live;
static int64_t tg__nlive;

/* Scopes belong to the thread that opens them: each thread has its own stack (allocated by its first
 * tg_scope_begin, freed when its last scope ends), and a tensor remembers the stack and the depth that own it, so a
 * tensor another thread frees or keeps leaves the right scope. The stack grows as needed: no depth limit but memory. */
typedef struct tg__scopes {
  tg__vec *levels; /* (cap) levels[d - 1]: the tensors of depth d */
  int depth, cap;
} tg__scopes;
static TG__THREAD_LOCAL tg__scopes *tg__my_scopes;

TG__PRIVATE tg_tensor *tg__tensor_list(void) { return tg__live; }
/* the graph's roots for uop.c's collector and the scheduler: every live tensor's node */
static void tg__each_root(tg__root_visit visit, void *ctx) {
  for (tg_tensor *t = tg__live; t; t = t->next) visit(ctx, t->uop);
}
static int64_t tg__ninternal; /* live tensors of the library itself (the random counter), not counted for the user */
int64_t tg_live_tensors(void) { TG__LOCKED(); return tg__nlive - tg__ninternal; }
static void tg__scope_forget(tg_tensor *t);
TG__PRIVATE void tg__tensor_internal(tg_tensor *t) { /* the library's own: no scope frees it */
  tg__scope_forget(t);
  tg__ninternal++;
  t->internal = 1;
}

/* puts t in level `depth` of the scopes s (0: owned by the user) */
static void tg__scope_put(tg_tensor *t, tg__scopes *s, int depth) {
  t->scope = depth;
  t->scopes = depth > 0 ? s : NULL;
  if (depth > 0) tg__vec_push(&s->levels[depth - 1], t);
}

TG__PRIVATE tg_tensor *tg__tensor_wrap(tg__uop *u, tg__device *dev) {
  if (!u) return NULL;
  if (!tg__grad_enabled() && u->op != TG__OP_DETACH && u->op != TG__OP_BUFFER && u->op != TG__OP_RESHAPE)
    u = tg__uop1(TG__OP_DETACH, u->dtype, u, NULL); /* no-grad mode: nothing made now carries a gradient */
  if (!dev) dev = tg__device_get(NULL);
  if (!dev) return NULL;
  if (u->ndim > TG_MAX_DIMS) {
    tg__set_error("tensor: %d dimensions is more than the %d supported", u->ndim, TG_MAX_DIMS);
    return NULL;
  }
  /* a backstop: the public functions check the shapes they build, so this should never fire */
  if (tg__check_span("tensor", u->ndim, u->shape) < 0) return NULL;
  tg_tensor *t = (tg_tensor *)tg__alloc(sizeof(tg_tensor));
  t->uop = u;
  t->dev = dev;
  if (!tg__live) tg__set_root_enumerator(tg__each_root);
  t->next = tg__live;
  if (tg__live) tg__live->prev = t;
  tg__live = t;
  tg__nlive++;
  tg__scope_put(t, tg__my_scopes, tg__my_scopes ? tg__my_scopes->depth : 0);
  return t;
}

static void tg__unlink(tg_tensor *t) {
  if (t->prev) t->prev->next = t->next;
  else tg__live = t->next;
  if (t->next) t->next->prev = t->prev;
  tg__nlive--;
}

/* takes t out of the scope that owns it (it is then the user's) */
static void tg__scope_forget(tg_tensor *t) {
  tg__scopes *s = t->scopes;
  int d = t->scope;
  t->scope = 0;
  t->scopes = NULL;
  if (!s || d <= 0 || d > s->depth) return;
  tg__vec *v = &s->levels[d - 1];
  for (int i = v->n - 1; i >= 0; i--)
    if (v->items[i] == t) {
      v->items[i] = NULL;
      return;
    }
}

static void tg__pending_forget(tg_tensor *t);

void tg_free(tg_tensor *t) {
  TG__LOCKED();
  if (!t) return;
  tg__scope_forget(t);
  if (t->uop->op == TG__OP_ASSIGN) tg__pending_forget(t);
  tg__unlink(t);
  tg__ninternal -= t->internal;
  if (t->grad) tg_free(t->grad);
  TG_FREE(t);
}

int tg_scope_begin(void) {
  TG__LOCKED();
  tg__scopes *s = tg__my_scopes;
  if (!s) s = tg__my_scopes = (tg__scopes *)tg__alloc(sizeof *s);
  if (s->depth == s->cap) {
    if (s->cap >= (1 << 24)) {
      tg__set_error("tg_scope_begin: more than %d nested scopes (a scope_begin without its scope_end in a loop?)",
                    s->cap);
      return -1;
    }
    s->cap = s->cap ? 2 * s->cap : 8;
    s->levels = (tg__vec *)tg__realloc(s->levels, sizeof(tg__vec) * (size_t)s->cap);
    memset(s->levels + s->depth, 0, sizeof(tg__vec) * (size_t)(s->cap - s->depth));
  }
  s->depth++;
  return 0;
}

int tg_scope_end(void) {
  TG__LOCKED();
  tg__scopes *s = tg__my_scopes;
  if (!s || s->depth == 0) {
    tg__set_error("tg_scope_end: no scope is open on this thread");
    return -1;
  }
  tg__vec v = s->levels[s->depth - 1];
  memset(&s->levels[s->depth - 1], 0, sizeof v);
  s->depth--; /* first: a tensor this frees (a grad) never lands in the level being walked */
  for (int i = 0; i < v.n; i++) {
    tg_tensor *t = (tg_tensor *)v.items[i];
    if (!t || t->scopes != s || t->scope != s->depth + 1) continue;
    t->scope = 0; /* so tg_free does not search the level we are walking */
    t->scopes = NULL;
    tg_free(t);
  }
  tg__vec_free(&v);
  if (s->depth == 0) { /* the thread's last scope: nothing of it is left */
    TG_FREE(s->levels);
    TG_FREE(s);
    tg__my_scopes = NULL;
  }
  return 0; /* what the scope held is collected as the call returns to the user (the lock's return hook) */
}

tg_tensor *tg_keep(tg_tensor *t) {
  TG__LOCKED();
  if (!t) return tg__null("tg_keep");
  tg__scopes *s = t->scopes;
  int d = t->scope;
  if (!s || d <= 0) return t;
  tg__scope_forget(t);
  tg__scope_put(t, s, d - 1);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------------
// error helpers

/* an operand is NULL: keep the message of the op that failed first */
TG__PRIVATE tg_tensor *tg__null(const char *fn) {
  if (!tg__has_error()) tg__set_error("%s: an operand is NULL", fn);
  return NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// creation

/* the device a creator puts its tensor on (DEV, or the CPU): looked up at each creation, so NULL with an error naming
 * fn and the device when DEV names none */
TG__PRIVATE tg__device *tg__default_device(const char *fn) {
  tg__device *d = tg__device_get(NULL);
  if (!d) tg__error_context(fn);
  return d;
}

static tg__uop *tg__buffer_uop(tg__buffer *b, int ndim, const int64_t *shape) {
  return tg__treshape(tg__buffer_uop_of(b), ndim, shape);
}

tg_tensor *tg_from_data(const void *data, tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  if (tg__check_dtype("tg_from_data", dt) < 0 || tg__check_shape("tg_from_data", ndim, shape) < 0) return NULL;
  if (!data) {
    tg__set_error("tg_from_data: data is NULL");
    return NULL;
  }
  tg__device *dev = tg__default_device("tg_from_data");
  if (!dev) return NULL;
  tg__buffer *b = tg__buffer_new(dev, dt, tg__prod(shape, ndim));
  if (tg__buffer_copyin(b, data) < 0) {
    tg__buffer_release(b);
    return NULL;
  }
  tg__uop *u = tg__buffer_uop(b, ndim, shape);
  tg__buffer_release(b);
  return tg__tensor_wrap(u, dev);
}

tg_tensor *tg_from_float(const float *data, int ndim, const int64_t *shape) {
  TG__LOCKED();
  return tg_from_data(data, TG_FLOAT32, ndim, shape);
}

tg_tensor *tg_empty(tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  if (tg__check_dtype("tg_empty", dt) < 0 || tg__check_shape("tg_empty", ndim, shape) < 0) return NULL;
  tg__device *dev = tg__default_device("tg_empty");
  if (!dev) return NULL;
  tg__buffer *b = tg__buffer_new(dev, dt, tg__prod(shape, ndim));
  tg__uop *u = tg__buffer_uop(b, ndim, shape);
  tg__buffer_release(b);
  return tg__tensor_wrap(u, dev);
}

static tg_tensor *tg__full(const char *fn, double v, tg_dtype dt, int ndim, const int64_t *shape) {
  if (tg__check_dtype(fn, dt) < 0 || tg__check_shape(fn, ndim, shape) < 0) return NULL;
  tg__device *dev = tg__default_device(fn);
  return dev ? tg__tensor_wrap(tg__tfull(v, dt, ndim, shape), dev) : NULL;
}
tg_tensor *tg_full(double v, tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  return tg__full("tg_full", v, dt, ndim, shape);
}
tg_tensor *tg_scalar(double v, tg_dtype dt) { TG__LOCKED(); return tg__full("tg_scalar", v, dt, 0, NULL); }
tg_tensor *tg_zeros(tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  return tg__full("tg_zeros", 0, dt, ndim, shape);
}
tg_tensor *tg_ones(tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  return tg__full("tg_ones", 1, dt, ndim, shape);
}
tg_tensor *tg_full_like(tg_tensor *t, double v) {
  TG__LOCKED();
  TG__NEED("tg_full_like", t);
  return tg__full("tg_full_like", v, t->uop->dtype, t->uop->ndim, t->uop->shape);
}
tg_tensor *tg_zeros_like(tg_tensor *t) { TG__LOCKED(); return tg_full_like(t, 0); }
tg_tensor *tg_ones_like(tg_tensor *t) { TG__LOCKED(); return tg_full_like(t, 1); }

tg_tensor *tg_arange(double start, double stop, double step, tg_dtype dt) {
  TG__LOCKED();
  if (tg__check_dtype("tg_arange", dt) < 0) return NULL;
  if (step == 0 || isnan(start) || isnan(stop) || isnan(step)) {
    tg__set_error("tg_arange: step must be non-zero and the bounds finite (start %g, stop %g, step %g)", start, stop,
                  step);
    return NULL;
  }
  double n = ceil((stop - start) / step);
  if (n < 0) n = 0;
  if (!(n <= 2147483647.0)) { /* ARANGE counts in int32 */
    tg__set_error("tg_arange: %g elements (start %g, stop %g, step %g) is more than 2^31-1", n, start, stop, step);
    return NULL;
  }
  tg__device *dev = tg__default_device("tg_arange");
  return dev ? tg__tensor_wrap(tg__tarange((int64_t)n, start, step, dt), dev) : NULL;
}

tg_tensor *tg_linspace(double start, double stop, int64_t steps, tg_dtype dt) {
  TG__LOCKED();
  if (tg__check_dtype("tg_linspace", dt) < 0) return NULL;
  if (steps < 0 || steps > 2147483647) {
    tg__set_error("tg_linspace: steps must be in [0, 2^31), got %lld", (long long)steps);
    return NULL;
  }
  tg__device *dev = tg__default_device("tg_linspace");
  if (!dev) return NULL;
  if (steps == 1) return tg_full(start, dt, 1, &steps);
  tg_dtype f = TG_FLOAT32;
  tg__uop *r = tg__tarange(steps, start, steps > 1 ? (stop - start) / (double)(steps - 1) : 0, f);
  return tg__tensor_wrap(tg__tcast(r, dt), dev);
}

tg_tensor *tg_eye(int64_t n, int64_t m, tg_dtype dt) {
  TG__LOCKED();
  if (tg__check_dtype("tg_eye", dt) < 0) return NULL;
  if (n < 0 || m < 0 || n > INT32_MAX || m > INT32_MAX) { /* the row and column numbers are int32 */
    tg__set_error("tg_eye: size (%lld, %lld) is negative or past 2^31-1", (long long)n, (long long)m);
    return NULL;
  }
  int64_t s[2] = {n, m}, c[2] = {n, 1}, r[2] = {1, m};
  if (tg__check_span("tg_eye", 2, s) < 0) return NULL;
  tg__device *dev = tg__default_device("tg_eye");
  if (!dev) return NULL;
  tg__uop *a = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), 2, c), s);
  tg__uop *b = tg__texpand(tg__treshape(tg__tarange(m, 0, 1, TG_INT32), 2, r), s);
  return tg__tensor_wrap(tg__tcast(tg__talu(TG__OP_CMPEQ, a, b), dt), dev);
}

/* keeps x[..., i, j] where j - i <= diag (lower) or j - i >= diag (upper) */
static tg_tensor *tg__tri(const char *fn, tg_tensor *t, int64_t diag, int upper) {
  TG__NEED(fn, t);
  tg__uop *x = t->uop;
  if (x->ndim < 2) {
    tg__set_error("%s: needs at least 2 dimensions, got %d", fn, x->ndim);
    return NULL;
  }
  int64_t n = x->shape[x->ndim - 2], m = x->shape[x->ndim - 1], s[2] = {n, m}, c[2] = {n, 1}, r[2] = {1, m};
  if (tg__check_arange(fn, n) < 0 || tg__check_arange(fn, m) < 0) return NULL; /* row and column numbers */
  tg__uop *i = tg__texpand(tg__treshape(tg__tarange(n, (double)diag, 1, TG_INT64), 2, c), s);
  tg__uop *j = tg__texpand(tg__treshape(tg__tarange(m, 0, 1, TG_INT64), 2, r), s);
  tg__uop *keep =
      upper ? tg__talu1(TG__OP_NEG, tg__talu(TG__OP_CMPLT, j, i)) : tg__talu1(TG__OP_NEG, tg__talu(TG__OP_CMPLT, i, j));
  tg__uop *zero = tg__tfull_like(x, 0, x->dtype);
  if (tg__broadcast(fn, &keep, &zero) < 0) return NULL;
  return tg__tensor_wrap(tg__twhere(keep, x, zero), t->dev);
}
tg_tensor *tg_tril(tg_tensor *t, int64_t diagonal) { TG__LOCKED(); return tg__tri("tg_tril", t, diagonal, 0); }
tg_tensor *tg_triu(tg_tensor *t, int64_t diagonal) { TG__LOCKED(); return tg__tri("tg_triu", t, diagonal, 1); }

// ---------------------------------------------------------------------------------------------------------------------
// properties

int tg_ndim(const tg_tensor *t) { TG__LOCKED(); return t ? t->uop->ndim : -1; }
const int64_t *tg_shape(const tg_tensor *t) { TG__LOCKED(); return t ? t->uop->shape : NULL; }
int64_t tg_numel(const tg_tensor *t) {
  TG__LOCKED();
  return t && !tg__shape_has_sym(t->uop->ndim, t->uop->shape) ? tg__prod(t->uop->shape, t->uop->ndim) : -1;
}
tg_dtype tg_dtype_of(const tg_tensor *t) { TG__LOCKED(); return t ? t->uop->dtype : TG_FLOAT32; }
const char *tg_device_of(const tg_tensor *t) { TG__LOCKED(); return t ? t->dev->name : NULL; }

/* tinygrad's Tensor.to: a COPY node (lazy), realised as a copy through the host after its source is realised on its
 * own device; the gradient copies back */
tg_tensor *tg_to(tg_tensor *t, const char *device) {
  TG__LOCKED();
  TG__NEED("tg_to", t);
  tg__device *d = tg__device_get(device);
  if (!d) {
    tg__error_context("tg_to");
    return NULL;
  }
  if (d == t->dev) return tg__tensor_wrap(t->uop, d);
  if (tg__shape_has_sym(t->uop->ndim, t->uop->shape)) {
    char b[128];
    tg__set_error("tg_to: tensor %s has a symbolic shape; copying it between devices is not supported yet. HINT: "
                  "copy a tensor of concrete shape (shrink it to the variable's bound value first)",
                  TG__SHAPE(t->uop, b));
    return NULL;
  }
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.ptr = d, a.i = (int64_t)(intptr_t)t->dev;
  return tg__tensor_wrap(tg__uop1(TG__OP_COPY, t->uop->dtype, t->uop, &a), d);
}
int64_t tg_dim(const tg_tensor *t, int axis) {
  TG__LOCKED();
  if (!t) return -1;
  int a = tg__axis("tg_dim", axis, t->uop->ndim);
  return a < 0 || !t->uop->ndim ? -1 : t->uop->shape[a];
}

// ---------------------------------------------------------------------------------------------------------------------
// realising and reading

/* the BUFFER under a chain of reshapes (a contiguous view of a realised buffer), or NULL */
static int tg__is_buffer_view(tg__uop *u) { return tg__view_buffer(u) != NULL; }

/* the buffer a realised tensor's value lives in (through `becomes`), or NULL if t is lazy or not a plain view */
TG__PRIVATE tg__buffer *tg__tensor_buffer(tg_tensor *t) {
  tg__uop *v = tg__view_buffer(tg__base(t->uop));
  return v ? (tg__buffer *)v->arg.ptr : NULL;
}

/* Assignments waiting for a realisation: a thread's next realisation runs those it made too, in the same schedule
 * (so an optimiser step is realised with the loss, as tinygrad's schedule_step). Each entry records its thread (the
 * address of that thread's tg__me): another thread's realisation leaves it alone. It used to run every thread's:
 * one thread's optimiser step then ran while that thread's loss, built before the step, was still to be realised,
 * and the loss failed as a stale read (two threads training a model each: a NaN loss in about 1 of 40 runs). A
 * graph that reads a target still schedules its assignment, whoever made it: the target's node is the ASSIGN. */
static tg__vec tg__pending, tg__pending_owner; /* parallel: the target tensor, and its thread */
static TG__THREAD_LOCAL char tg__me;

static void tg__pending_remove(int i) {
  tg__pending.items[i] = tg__pending.items[--tg__pending.n];
  tg__pending_owner.items[i] = tg__pending_owner.items[--tg__pending_owner.n];
  if (!tg__pending.n) tg__vec_free(&tg__pending), tg__vec_free(&tg__pending_owner);
}

static void tg__pending_forget(tg_tensor *t) {
  for (int i = tg__pending.n - 1; i >= 0; i--)
    if (tg__pending.items[i] == t) tg__pending_remove(i);
}

/* After a schedule failed: a pending assignment the caller did not ask for that cannot be scheduled even alone (a
 * stale read, two devices: errors no retry mends) would fail every later realisation. It leaves the pending list:
 * the failed call reports it, and realising its tensor reports it again; nothing else is blocked any more. */
static void tg__drop_broken_pending(tg_tensor **ts, int n) {
  char err[1024];
  snprintf(err, sizeof err, "%s", tg_error() ? tg_error() : "");
  int dropped = 0;
  for (int i = tg__pending.n - 1; i >= 0; i--) {
    tg_tensor *t = (tg_tensor *)tg__pending.items[i];
    int asked = tg__pending_owner.items[i] != &tg__me; /* another thread's: not part of this realisation */
    for (int j = 0; j < n && !asked; j++) asked = ts[j] == t;
    tg__sched probe;
    tg__uop *view;
    if (asked) continue;
    if (tg__schedule(&t->uop, 1, t->dev, &probe, &view) == 0) { /* fine alone: not the culprit */
      tg__sched_settle(&probe);
      tg__sched_free(&probe);
      continue;
    }
    tg__pending_remove(i);
    dropped++;
  }
  if (dropped)
    tg__set_error("%.700s (%d pending assignment%s that can never run %s left the pending list: realising its "
                  "tensor reports this again, and other realisations are no longer blocked)", err, dropped,
                  dropped > 1 ? "s" : "", dropped > 1 ? "have" : "has");
  else
    tg__set_error("%s", err);
}

/* realises the tensors of one device (owners: those not yet realised, and the pending assignments of this thread on
 * that device) in one schedule */
static int tg__realize_group(tg_tensor **ts, int n, const tg__vec *owners, tg__device *dev) {
  int nr = owners->n, rc = 0;
  tg__uop **roots = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)nr * 2), **views = roots + nr;
  for (int i = 0; i < nr; i++) roots[i] = ((tg_tensor *)owners->items[i])->uop;
  tg__sched s;
  for (int i = 0; i < nr && TG__DEBUG >= 4; i++) { /* the tensor graph, before the scheduler */
    char *g = tg__uop_print(roots[i]);
    printf("=== tensor graph %d of %d, to realise ===\n%s", i + 1, nr, g);
    TG_FREE(g);
  }
  uint64_t t0 = TG__DEBUG >= 1 ? tg__now_ns() : 0;
  rc = tg__schedule(roots, nr, dev, &s, views);
  s.t_schedule = TG__DEBUG >= 1 ? 1e-9 * (double)(tg__now_ns() - t0) : 0;
  if (rc < 0) tg__drop_broken_pending(ts, n);
  if (rc == 0) {
    /* A failure leaves every tensor as it was, or realised where its kernel ran (a launch failed midway): what did
     * not run is undone (tg__sched_settle), and a retry schedules only that. A realised tensor keeps its graph
     * (backward may still need it); `becomes` points every reader at the buffer. An assignment is the exception:
     * the target becomes its buffer, so a parameter does not hold every step's graph. */
    rc = tg__run_schedule(&s);
    tg__sched_settle(&s);
    for (int i = 0; i < nr; i++) {
      if (!tg__sched_ran(&s, views[i])) continue;
      roots[i]->becomes = views[i];
      if (roots[i]->op == TG__OP_ASSIGN) ((tg_tensor *)owners->items[i])->uop = views[i];
      if (roots[i]->op == TG__OP_ASSIGN && !tg__view_buffer(views[i])) { /* into a view: the buffer's owner */
        tg__buffer *b = (tg__buffer *)tg__movement_buffer(views[i])->arg.ptr;
        for (tg_tensor *o = tg__live; o; o = o->next) {
          tg__uop *ov = tg__view_buffer(o->uop);
          if (ov && ov->arg.ptr == b && ov->arg.i != b->version)
            o->uop = tg__buffer_uop(b, o->uop->ndim, o->uop->shape);
        }
      }
    }
    for (int i = tg__pending.n - 1; i >= 0; i--) /* pending assignments that ran (any thread's) are done */
      if (((tg_tensor *)tg__pending.items[i])->uop->op != TG__OP_ASSIGN) tg__pending_remove(i);
    tg__sched_free(&s);
  }
  TG_FREE(roots);
  return rc;
}

int tg_realize_all(tg_tensor **ts, int n) {
  TG__LOCKED();
  if (n < 0 || (n > 0 && !ts)) {
    tg__set_error("tg_realize_all: %d tensors at %p", n, (void *)ts);
    return -1;
  }
  tg__vec owners;
  memset(&owners, 0, sizeof owners);
  for (int i = 0; i < n + tg__pending.n; i++) {
    if (i >= n && tg__pending_owner.items[i - n] != &tg__me) continue; /* another thread's assignment */
    tg_tensor *t = i < n ? ts[i] : (tg_tensor *)tg__pending.items[i - n];
    if (!t) {
      tg__vec_free(&owners);
      tg__null("tg_realize");
      return -1;
    }
    int dup = 0;
    for (int j = 0; j < owners.n && !dup; j++) dup = ((tg_tensor *)owners.items[j])->uop == t->uop;
    if (!dup && !tg__is_buffer_view(tg__base(t->uop))) tg__vec_push(&owners, t);
  }
  /* one schedule per device: a pending assignment on another device (that device's random counter) is not this
   * graph's, and tensors of two devices realised together run on each */
  int rc = 0;
  tg__vec group;
  memset(&group, 0, sizeof group);
  while (owners.n && rc == 0) {
    tg__device *d = ((tg_tensor *)owners.items[0])->dev;
    int m = 0;
    group.n = 0;
    for (int i = 0; i < owners.n; i++) {
      tg_tensor *t = (tg_tensor *)owners.items[i];
      if (t->dev == d) tg__vec_push(&group, t);
      else owners.items[m++] = t;
    }
    owners.n = m;
    rc = tg__realize_group(ts, n, &group, d);
  }
  tg__vec_free(&group);
  tg__vec_free(&owners);
  return rc;
}

int tg_realize(tg_tensor *t) { TG__LOCKED(); return tg_realize_all(&t, 1); }

/* makes t a view of a buffer of its own. A realised lazy tensor reads its buffer through `becomes`, and every tensor
 * built by the same graph (two tg_zeros of one shape, say) shares that buffer: writing in place into it would change
 * them all. Such a tensor gets a private copy first (once); a tensor that is already a view of a buffer (from data, a
 * previous assignment) is the buffer's owner. */
TG__PRIVATE int tg__own_buffer(const char *fn, tg_tensor *t) {
  if (tg__is_buffer_view(t->uop)) return 0;
  if (!tg__is_buffer_view(tg__base(t->uop)) && tg_realize(t) < 0) return -1;
  if (tg__is_buffer_view(t->uop)) return 0; /* a pending assignment, now realised: t is its buffer */
  tg__buffer *src = (tg__buffer *)tg__view_buffer(tg__base(t->uop))->arg.ptr;
  tg__buffer *b = tg__buffer_new(src->dev, src->dtype, src->numel);
  void *tmp = b ? tg__try_alloc(fn, src->nbytes ? src->nbytes : 1) : NULL;
  int rc = tmp ? 0 : -1;
  if (rc == 0)
    rc = tg__buffer_ensure(src) < 0 || tg__buffer_copyout(src, tmp) < 0 || tg__buffer_copyin(b, tmp) < 0 ? -1 : 0;
  TG_FREE(tmp);
  if (rc == 0) t->uop = tg__buffer_uop(b, t->uop->ndim, t->uop->shape);
  if (b) tg__buffer_release(b);
  if (rc < 0 && !tg__has_error()) tg__set_error("%s: could not copy the target into a buffer of its own", fn);
  return rc;
}

tg_tensor *tg_assign(tg_tensor *target, tg_tensor *value) {
  TG__LOCKED();
  TG__NEED("tg_assign", target);
  TG__NEED("tg_assign", value);
  tg__uop *t = target->uop, *v = value->uop;
  char b1[128], b2[128];
  int fits = v->ndim <= t->ndim;
  for (int i = 0; fits && i < v->ndim; i++) {
    int64_t vs = v->shape[i], ts = t->shape[t->ndim - v->ndim + i];
    fits = vs == ts || vs == 1;
  }
  if (!fits) {
    tg__set_error("tg_assign: a value of shape %s does not fit the target's shape %s", TG__SHAPE(v, b1),
                  TG__SHAPE(t, b2));
    return NULL;
  }
  tg__uop *base = t;
  int shrunk = 0;
  while (tg__op_is_movement(base->op) && !tg__view_buffer(base))
    shrunk |= base->op == TG__OP_SHRINK, base = base->src[0];
  if (shrunk) { /* into a slice of a tensor that owns its buffer (a KV cache's) */
    if (!tg__view_buffer(base)) {
      tg__set_error("tg_assign: the target is a slice of a tensor that does not own a buffer (a lazy graph, or a "
                    "realised one whose buffer equal graphs share). HINT: make the tensor with tg_empty or "
                    "tg_from_data, or tg_assign it whole first, then assign into its slices");
      return NULL;
    }
    tg__uop *vv = tg__tcast(v, t->dtype), *tv = t;
    if (tg__broadcast("tg_assign", &tv, &vv) < 0) return NULL;
    target->uop = tg__uop2(TG__OP_ASSIGN, t->dtype, t, vv, NULL);
    tg__vec_push(&tg__pending, target), tg__vec_push(&tg__pending_owner, &tg__me);
    return target;
  }
  /* the target must own a buffer to write into. A target with an assignment pending (prev) chains: the new one
   * writes the buffer's next version after prev's, and lists prev as a third source so that it is scheduled after */
  tg__uop *prev = t->op == TG__OP_ASSIGN ? t : NULL;
  if (prev) {
    tg__uop *pb = tg__view_buffer(prev->src[0]);
    tg__arg a;
    memset(&a, 0, sizeof a);
    a.ptr = pb->arg.ptr;
    a.i = pb->arg.i + 1;
    t = tg__treshape(tg__uop0(TG__OP_BUFFER, pb->dtype, &a), t->ndim, t->shape);
  } else {
    if (tg__own_buffer("tg_assign", target) < 0) return NULL;
    t = target->uop;
  }
  tg__uop *tv = t, *vv = tg__tcast(v, t->dtype);
  if (tg__broadcast("tg_assign", &tv, &vv) < 0) return NULL;
  target->uop =
      prev ? tg__uop3(TG__OP_ASSIGN, t->dtype, t, vv, prev, NULL) : tg__uop2(TG__OP_ASSIGN, t->dtype, t, vv, NULL);
  if (!prev) tg__vec_push(&tg__pending, target), tg__vec_push(&tg__pending_owner, &tg__me);
  return target;
}

/* python's slice of n elements: the first position and the count (0 for an empty slice) */
static void tg__slice_norm(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first, int64_t *count) {
  tg__slice_bounds(n, &start, &stop, step);
  *first = start;
  if (step > 0) *count = stop > start ? (stop - start - 1) / step + 1 : 0;
  else *count = start > stop ? (start - stop - 1) / -step + 1 : 0;
}

/* x (count along axis a) placed every |step| from `lo` in an axis of n, zeros (false) elsewhere */
static tg__uop *tg__place_strided(tg__uop *x, int a, int64_t lo, int64_t count, int64_t step, int64_t n) {
  int nd = x->ndim;
  int64_t s1[TG_MAX_DIMS + 1] = {0}, pads[2 * (TG_MAX_DIMS + 1)] = {0}, b[2 * TG_MAX_DIMS] = {0}, fs[TG_MAX_DIMS] = {0};
  if (step > 1 && count > 1) { /* (..., count, 1, ...) -> (..., count, step, ...) -> (..., count*step, ...) */
    for (int d = 0, k = 0; d < nd; d++) {
      s1[k++] = x->shape[d];
      if (d == a) s1[k++] = 1;
    }
    x = tg__treshape(x, nd + 1, s1);
    pads[2 * (a + 1) + 1] = step - 1;
    x = tg__tpad(x, pads);
    for (int d = 0; d < nd; d++) fs[d] = d == a ? count * step : x->shape[d < a ? d : d + 1];
    x = tg__treshape(x, nd, fs);
    for (int d = 0; d < nd; d++) b[2 * d] = 0, b[2 * d + 1] = d == a ? (count - 1) * step + 1 : x->shape[d];
    x = tg__tshrink(x, b);
  }
  int64_t p2[2 * TG_MAX_DIMS] = {0};
  p2[2 * a] = lo, p2[2 * a + 1] = n - lo - x->shape[a];
  return tg__tpad(x, p2);
}

int tg_setitem_slice(tg_tensor *a, int n, const int *axes, const int64_t *starts, const int64_t *stops,
                     const int64_t *steps, tg_tensor *value) {
  TG__LOCKED();
  if (!a || !value) {
    tg__null("tg_setitem_slice");
    return -1;
  }
  tg__uop *x = a->uop;
  int nd = x->ndim, seen[TG_MAX_DIMS] = {0};
  int64_t first[TG_MAX_DIMS], count[TG_MAX_DIMS], step[TG_MAX_DIMS], shape[TG_MAX_DIMS];
  for (int d = 0; d < nd; d++) first[d] = 0, count[d] = shape[d] = x->shape[d], step[d] = 1;
  if (n < 0 || (n && (!axes || !starts || !stops || !steps))) {
    tg__set_error("tg_setitem_slice: %d slices without their arrays", n);
    return -1;
  }
  for (int k = 0; k < n; k++) {
    int d = tg__axis("tg_setitem_slice", axes[k], nd);
    if (d < 0) return -1;
    if (seen[d]++ || steps[k] == 0 || steps[k] == INT64_MIN) {
      tg__set_error("tg_setitem_slice: %s", steps[k] == 0 ? "a step of 0" : "an axis sliced twice, or a bad step");
      return -1;
    }
    if (nd == TG_MAX_DIMS && (steps[k] > 1 || steps[k] < -1)) {
      tg__set_error("tg_setitem_slice: a strided slice of a tensor of %d dimensions needs one more", nd);
      return -1;
    }
    step[d] = steps[k];
    tg__slice_norm(x->shape[d], starts[k], stops[k], steps[k], &first[d], &count[d]);
    shape[d] = count[d];
  }
  /* the value broadcast to the slice's shape, in the target's dtype */
  tg__uop *v = tg__tcast(value->uop, x->dtype), *like = tg__tfull_like(x, 0, x->dtype);
  int64_t b[2 * TG_MAX_DIMS];
  for (int d = 0; d < nd; d++) b[2 * d] = 0, b[2 * d + 1] = shape[d];
  tg__uop *slot = tg__tshrink(like, b);
  if (tg__broadcast("tg_setitem_slice", &slot, &v) < 0) return -1;
  if (v->ndim != nd || memcmp(v->shape, shape, sizeof(int64_t) * (size_t)nd)) {
    char b1[128], b2[128];
    tg__set_error("tg_setitem_slice: a value of shape %s does not fit the slice's shape %s", TG__SHAPE(value->uop, b1),
                  TG__SHAPE(slot, b2));
    return -1;
  }
  tg__uop *m = tg__tfull_like(v, 1, TG_BOOL);
  for (int d = 0; d < nd; d++) {
    if (count[d] == 0) return 0; /* an empty slice writes nothing */
    int64_t lo = step[d] > 0 ? first[d] : first[d] + (count[d] - 1) * step[d];
    if (step[d] < 0) v = tg__tflip(v, 1LL << d), m = tg__tflip(m, 1LL << d);
    int64_t st = step[d] < 0 ? -step[d] : step[d];
    v = tg__place_strided(v, d, lo, count[d], st, x->shape[d]);
    m = tg__place_strided(m, d, lo, count[d], st, x->shape[d]);
  }
  tg_tensor *nv = tg__tensor_wrap(tg__twhere(m, v, x), a->dev);
  tg_tensor *r = nv ? tg_assign(a, nv) : NULL;
  tg_free(nv);
  return r ? 0 : -1;
}

/* Each distinct buffer of bs[0..n) moves to its next version, so that no cached result computed from the old one is
 * reused, and every live tensor that is a plain view of one follows it, in one walk of the live tensors (a JIT
 * replay writes ~660 buffers a token in SmolLM2's decode, and a walk each was 6% of the step). When the contents
 * changed, graphs built on the old versions are stale. */
TG__PRIVATE void tg__buffers_bump(tg__buffer *const *bs, int n, int contents_changed) {
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  for (int i = 0; i < n; i++)
    if (bs[i] && !tg__map_get(&seen, bs[i])) {
      tg__map_put(&seen, bs[i], (void *)1);
      tg__buffer_advance(bs[i], contents_changed);
    }
  for (tg_tensor *t = tg__live; t && seen.n; t = t->next) {
    tg__uop *v = tg__view_buffer(t->uop);
    tg__buffer *b = v ? (tg__buffer *)v->arg.ptr : NULL;
    if (b && tg__map_get(&seen, b) && v->arg.i != b->version) t->uop = tg__buffer_uop(b, t->uop->ndim, t->uop->shape);
  }
  tg__map_free(&seen);
}

TG__PRIVATE void tg__buffer_bump(tg__buffer *b, int contents_changed) { tg__buffers_bump(&b, 1, contents_changed); }

/* overwrites realised t in place with host bytes (t's dtype, numel elements); 0 or -1 */
TG__PRIVATE int tg__tensor_overwrite(const char *fn, tg_tensor *t, const void *src) {
  if (!t) return tg__null(fn), -1;
  if (tg__own_buffer(fn, t) < 0) return -1;
  tg__buffer *b = (tg__buffer *)tg__view_buffer(t->uop)->arg.ptr;
  if (tg__buffer_unshare(b) < 0 || tg__buffer_ensure(b) < 0 || tg__buffer_copyin(b, src) < 0) return -1;
  tg__buffer_bump(b, 1);
  return 0;
}

/* realises t and returns its buffer (contiguous, t's dtype and numel) */
static tg__buffer *tg__realized_buffer(const char *fn, tg_tensor *t) {
  if (!t) {
    tg__null(fn);
    return NULL;
  }
  if (tg__jit_host_read(fn) < 0) return NULL;
  if (tg__shape_has_sym(t->uop->ndim, t->uop->shape)) {
    char b[128];
    tg__set_error("%s: the tensor's shape %s is symbolic; reduce it, or shrink it to a concrete size, first", fn,
                  TG__SHAPE(t->uop, b));
    return NULL;
  }
  if (tg_realize(t) < 0) return NULL;
  tg__uop *u = tg__base(t->uop);
  tg__buffer *b = (tg__buffer *)tg__view_buffer(u)->arg.ptr;
  if (tg__buffer_ensure(b) < 0) return NULL;
  return b;
}

int tg_to_host(tg_tensor *t, void *dst, size_t nbytes) {
  TG__LOCKED();
  tg__buffer *b = tg__realized_buffer("tg_to_host", t);
  if (!b) return -1;
  if (!dst || nbytes < b->nbytes) {
    tg__set_error("tg_to_host: the destination holds %zu bytes, the tensor needs %zu", dst ? nbytes : 0, b->nbytes);
    return -1;
  }
  return tg__buffer_copyout(b, dst);
}

float *tg_to_float(tg_tensor *t) {
  TG__LOCKED();
  tg__buffer *b = tg__realized_buffer("tg_to_float", t);
  if (!b) return NULL;
  if ((uint64_t)b->numel > SIZE_MAX / sizeof(float)) {
    tg__set_error("tg_to_float: %lld elements do not fit in host memory", (long long)b->numel);
    return NULL;
  }
  float *f = (float *)tg__try_alloc("tg_to_float", sizeof(float) * (size_t)(b->numel ? b->numel : 1));
  if (b->dtype == TG_FLOAT32) { /* straight into the result */
    if (f && tg__buffer_copyout(b, f) < 0) {
      TG_FREE(f);
      return NULL;
    }
    return f;
  }
  void *raw = f ? tg__try_alloc("tg_to_float", b->nbytes) : NULL;
  if (!raw || tg__buffer_copyout(b, raw) < 0) {
    TG_FREE(raw);
    TG_FREE(f);
    return NULL;
  }
  for (int64_t i = 0; i < b->numel; i++) f[i] = (float)tg__load_elem(raw, b->dtype, i);
  TG_FREE(raw);
  return f;
}

double tg_item(tg_tensor *t) {
  TG__LOCKED();
  if (!t) {
    tg__null("tg_item");
    return NAN;
  }
  if (tg_numel(t) != 1) {
    char b[128];
    tg__set_error("tg_item: the tensor has shape %s; item needs exactly one element", TG__SHAPE(t->uop, b));
    return NAN;
  }
  tg__buffer *b = tg__realized_buffer("tg_item", t);
  if (!b) return NAN;
  unsigned char raw[16];
  if (tg__buffer_copyout(b, raw) < 0) return NAN;
  return tg__load_elem(raw, b->dtype, 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// printing, exactly as numpy's str(array) (arrayprint.py: _formatArray and FloatingFormat with its defaults:
// precision 8, floatmode maxprec, linewidth 75, threshold 1000, edgeitems 3). Every element shown gets one width:
// integer parts right-aligned, fractional digits left-aligned ("[ 0.5  -1.25  3.  ]"), each float the shortest
// decimal that reads back as the same value of its dtype.

typedef struct tg__fmt {
  tg_dtype dt;
  int exp_mode;               /* scientific notation for every element */
  int left, right, exp_size;  /* widths before and after the '.', exponent digits */
  int measure;                /* first pass: only compute the widths */
  int nonfinite;              /* the longest of nan, inf, -inf shown */
  int summarize;              /* more than 1000 elements: 3 at each end of every axis */
} tg__fmt;

/* does the decimal string s read back as v, in dtype dt? */
static int tg__roundtrips(const char *s, double v, tg_dtype dt) {
  double r = strtod(s, NULL);
  if (dt == TG_FLOAT32) return (float)r == (float)v;
  if (dt == TG_FLOAT16) return tg__float_to_half((float)r) == tg__float_to_half((float)v);
  if (dt == TG_BFLOAT16) return tg__float_to_bf16((float)r) == tg__float_to_bf16((float)v);
  return r == v;
}

/* the element without padding: ints, True/False, nan/inf, or the shortest float ("1.", "0.1", "1.5e-05") */
static void tg__fmt_raw(char *buf, size_t n, double v, const tg__fmt *f) {
  if (f->dt == TG_BOOL) { snprintf(buf, n, "%s", v != 0 ? "True" : "False"); return; }
  if (!tg_dtype_is_float(f->dt)) { snprintf(buf, n, "%lld", (long long)v); return; }
  if (isnan(v)) { snprintf(buf, n, "nan"); return; }
  if (isinf(v)) { snprintf(buf, n, "%s", v < 0 ? "-inf" : "inf"); return; }
  int maxd = f->exp_mode ? 17 : 8;
  for (int d = 0; d <= maxd; d++) {
    snprintf(buf, n, f->exp_mode ? "%.*e" : "%.*f", d, v);
    if (tg__roundtrips(buf, v, f->dt)) break;
  }
  if (!f->exp_mode) { /* a whole number keeps its '.', trailing zeros go */
    if (!strchr(buf, '.')) strcat(buf, ".");
    char *e = buf + strlen(buf) - 1;
    while (*e == '0') *e-- = 0;
  } else if (!strchr(buf, '.')) { /* 1e-04 -> 1.e-04 */
    char *e = strchr(buf, 'e');
    memmove(e + 1, e, strlen(e) + 1);
    *e = '.';
  }
}

static void tg__fmt_word(tg__str *s, double v, tg__fmt *f) {
  char buf[96];
  tg__fmt_raw(buf, sizeof buf, v, f);
  int isf = tg_dtype_is_float(f->dt) && isfinite(v);
  const char *dot = isf ? strchr(buf, '.') : NULL, *ex = isf ? strchr(buf, 'e') : NULL;
  int len = (int)strlen(buf), left = dot ? (int)(dot - buf) : len;
  int right = dot ? (int)((ex ? ex : buf + len) - dot) - 1 : 0, exps = ex ? (int)strlen(ex + 2) : 0;
  if (f->measure) {
    if (tg_dtype_is_float(f->dt) && !isf) f->nonfinite = len > f->nonfinite ? len : f->nonfinite;
    else f->left = left > f->left ? left : f->left;
    f->right = right > f->right ? right : f->right;
    f->exp_size = exps > f->exp_size ? exps : f->exp_size;
    return;
  }
  if (dot) {
    /* positional: fractions padded with spaces; scientific: mantissas padded with zeros (numpy's trim 'k') */
    int mant = (int)((ex ? ex : buf + len) - buf);
    tg__str_printf(s, "%*s%.*s", f->left - left, "", mant, buf);
    if (ex)
      tg__str_printf(s, "%.*s%.2s%0*d", f->right - right, "00000000000000000", ex, f->exp_size, abs(atoi(ex + 2)));
    else tg__str_printf(s, "%*s", f->right - right, "");
  } else {
    int w = tg_dtype_is_float(f->dt) ? f->left + 1 + f->right + (f->exp_mode ? 2 + f->exp_size : 0) : f->left;
    tg__str_printf(s, "%*s", w, buf); /* ints, bools, nan, inf: right-aligned */
  }
}

/* a line of words wraps before it passes width */
static void tg__extend_line(tg__str *s, tg__str *line, const char *word, int width, const char *prefix) {
  if ((int)(line->n + strlen(word)) > width && (int)line->n > (int)strlen(prefix)) {
    while (line->n && line->s[line->n - 1] == ' ') line->s[--line->n] = 0;
    tg__str_cat(s, line->s);
    tg__str_cat(s, "\n");
    line->n = 0;
    if (line->s) line->s[0] = 0;
    tg__str_cat(line, prefix);
  }
  tg__str_cat(line, word);
}

/* numpy's _formatArray: returns the text of x[index...] */
static char *tg__fmt_rec(const void *raw, tg__fmt *f, const int64_t *shape, int nd, int d, int64_t off,
                         const char *indent, int width) {
  tg__str s, w;
  memset(&s, 0, sizeof s);
  memset(&w, 0, sizeof w);
  if (d == nd) {
    tg__fmt_word(&w, tg__load_elem(raw, f->dt, off), f);
    return tg__str_take(&w);
  }
  int64_t stride = tg__prod(shape + d + 1, nd - d - 1), n = shape[d];
  int summary = f->summarize && n > 6;
  char next_indent[TG_MAX_DIMS + 4];
  snprintf(next_indent, sizeof next_indent, "%s ", indent);
  if (d == nd - 1) {
    tg__str line;
    memset(&line, 0, sizeof line);
    tg__str_cat(&line, indent);
    int elem_width = width - 1; /* room for the ']' */
    for (int64_t i = 0; i < n; i++) {
      if (summary && i == 3) {
        tg__extend_line(&s, &line, "...", elem_width, indent);
        tg__str_cat(&line, " ");
        i = n - 3;
      }
      char *word = tg__fmt_rec(raw, f, shape, nd, d + 1, off + i * stride, next_indent, width - 1);
      tg__extend_line(&s, &line, word, elem_width, indent);
      TG_FREE(word);
      if (i + 1 < n) tg__str_cat(&line, " ");
    }
    tg__str_cat(&s, line.s ? line.s : "");
    TG_FREE(line.s);
  } else {
    for (int64_t i = 0; i < n; i++) {
      if (summary && i == 3) {
        tg__str_printf(&s, "%s...", indent);
        for (int k = 0; k < nd - d - 1; k++) tg__str_cat(&s, "\n");
        i = n - 3;
      }
      char *nested = tg__fmt_rec(raw, f, shape, nd, d + 1, off + i * stride, next_indent, width - 1);
      tg__str_printf(&s, "%s%s", indent, nested);
      TG_FREE(nested);
      if (i + 1 < n)
        for (int k = 0; k < nd - d - 1; k++) tg__str_cat(&s, "\n");
    }
  }
  char *body = tg__str_take(&s);
  tg__str_printf(&w, "[%s]", body + strlen(indent));
  TG_FREE(body);
  return tg__str_take(&w);
}

char *tg_to_string(tg_tensor *t) {
  TG__LOCKED();
  tg__buffer *b = tg__realized_buffer("tg_to_string", t);
  if (!b) return NULL;
  if (b->numel == 0 && t->uop->ndim > 0) return tg__strdup("[]");
  void *raw = tg__try_alloc("tg_to_string", b->nbytes);
  if (!raw || tg__buffer_copyout(b, raw) < 0) {
    TG_FREE(raw);
    return NULL;
  }
  tg__fmt f;
  memset(&f, 0, sizeof f);
  f.dt = b->dtype;
  f.summarize = b->numel > 1000;
  /* numpy's rule for scientific notation: a finite magnitude >= 1e8, or one < 1e-4, or a ratio over 1e3 */
  double mx = 0, mn = INFINITY;
  for (int64_t i = 0; tg_dtype_is_float(f.dt) && i < b->numel; i++) {
    double v = fabs(tg__load_elem(raw, f.dt, i));
    if (!isfinite(v) || v == 0) continue;
    mx = v > mx ? v : mx;
    mn = v < mn ? v : mn;
  }
  f.exp_mode = mx >= 1e8 || (mx > 0 && (mn < 1e-4 || mx / mn > 1e3));
  char *r;
  if (t->uop->ndim == 0) {
    tg__str s;
    memset(&s, 0, sizeof s);
    f.measure = 1;
    tg__fmt_word(&s, tg__load_elem(raw, f.dt, 0), &f);
    f.measure = 0;
    tg__fmt_word(&s, tg__load_elem(raw, f.dt, 0), &f);
    r = tg__str_take(&s);
  } else {
    f.measure = 1;
    TG_FREE(tg__fmt_rec(raw, &f, t->uop->shape, t->uop->ndim, 0, 0, " ", 75));
    f.measure = 0;
    int room = f.left + 1 + f.right + (f.exp_mode ? 2 + f.exp_size : 0); /* nan, inf fit the finite width */
    if (f.nonfinite > room) f.left += f.nonfinite - room;
    r = tg__fmt_rec(raw, &f, t->uop->shape, t->uop->ndim, 0, 0, " ", 75);
  }
  TG_FREE(raw);
  return r;
}

int tg_print(tg_tensor *t) {
  TG__LOCKED();
  char *s = tg_to_string(t);
  if (!s) return -1;
  puts(s);
  TG_FREE(s);
  return 0;
}

char *tg_tensor_graph(tg_tensor *t) {
  TG__LOCKED();
  if (!t) {
    tg__null("tg_tensor_graph");
    return NULL;
  }
  return tg__uop_print(t->uop);
}

// ---------------------------------------------------------------------------------------------------------------------
// movement

tg_tensor *tg_reshape(tg_tensor *t, int ndim, const int64_t *shape) {
  TG__LOCKED();
  TG__NEED("tg_reshape", t);
  if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim && !shape)) {
    tg__set_error("tg_reshape: %d dimensions (at most %d)", ndim, TG_MAX_DIMS);
    return NULL;
  }
  int64_t s[TG_MAX_DIMS], known = 1, numel = tg_numel(t);
  int infer = -1;
  char b1[128], b2[128];
  if (tg__shape_has_sym(t->uop->ndim, t->uop->shape)) { /* symbolic sizes: only axes of size 1 come and go */
    int i = 0, j = 0, ok = 1;
    const int64_t *from = t->uop->shape;
    while (ok) {
      while (i < ndim && shape[i] == 1) i++;
      while (j < t->uop->ndim && from[j] == 1) j++;
      if (i == ndim || j == t->uop->ndim) {
        ok = i == ndim && j == t->uop->ndim;
        break;
      }
      ok = shape[i++] == from[j++];
    }
    if (!ok) {
      tg__set_error("tg_reshape: %s has a symbolic size; a reshape of it may only add or drop axes of size 1, not "
                    "give %s", TG__SHAPE(t->uop, b1), tg__shape_str(ndim, shape, b2, sizeof b2));
      return NULL;
    }
    return tg__tensor_wrap(tg__treshape(t->uop, ndim, shape), t->dev);
  }
  for (int i = 0; i < ndim; i++) {
    s[i] = shape[i];
    if (shape[i] == -1 && infer < 0) infer = i, s[i] = 1;
    else if (shape[i] < 0) {
      tg__set_error("tg_reshape: bad size %lld in %s", (long long)shape[i], tg__shape_str(ndim, shape, b2, sizeof b2));
      return NULL;
    }
  }
  if (tg__shape_span(ndim, s) < 0) { /* checked first: then the products below cannot overflow */
    tg__set_error("tg_reshape: shape %s is too large: its sizes multiply past %lld elements",
                  tg__shape_str(ndim, shape, b2, sizeof b2), (long long)TG__MAX_NUMEL);
    return NULL;
  }
  known = tg__prod(s, ndim);
  if (infer >= 0) s[infer] = known ? numel / known : 0;
  if (tg__prod(s, ndim) != numel || (infer >= 0 && known == 0)) {
    tg__set_error("tg_reshape: cannot reshape %s (%lld elements) to %s", TG__SHAPE(t->uop, b1), (long long)numel,
                  tg__shape_str(ndim, shape, b2, sizeof b2));
    return NULL;
  }
  return tg__tensor_wrap(tg__treshape(t->uop, ndim, s), t->dev);
}

tg_tensor *tg_permute(tg_tensor *t, int ndim, const int *order) {
  TG__LOCKED();
  TG__NEED("tg_permute", t);
  int nd = t->uop->ndim, seen[TG_MAX_DIMS] = {0}, p[TG_MAX_DIMS];
  if (ndim != nd || (nd && !order)) {
    tg__set_error("tg_permute: %d axes given for a tensor of %d dimensions", ndim, nd);
    return NULL;
  }
  for (int i = 0; i < nd; i++) {
    int a = tg__axis("tg_permute", order[i], nd);
    if (a < 0) return NULL;
    if (seen[a]++) {
      tg__set_error("tg_permute: axis %d appears twice", a);
      return NULL;
    }
    p[i] = a;
  }
  return tg__tensor_wrap(tg__tpermute(t->uop, p), t->dev);
}

tg_tensor *tg_transpose(tg_tensor *t, int dim0, int dim1) {
  TG__LOCKED();
  TG__NEED("tg_transpose", t);
  int nd = t->uop->ndim, a = tg__axis("tg_transpose", dim0, nd), b = tg__axis("tg_transpose", dim1, nd);
  if (a < 0 || b < 0) return NULL;
  int p[TG_MAX_DIMS];
  for (int i = 0; i < nd; i++) p[i] = i;
  p[a] = b;
  p[b] = a;
  return tg__tensor_wrap(tg__tpermute(t->uop, p), t->dev);
}

tg_tensor *tg_expand(tg_tensor *t, int ndim, const int64_t *shape) {
  TG__LOCKED();
  TG__NEED("tg_expand", t);
  tg__uop *x = t->uop;
  char b1[128], b2[128];
  if (ndim < x->ndim || ndim > TG_MAX_DIMS || (ndim && !shape)) {
    tg__set_error("tg_expand: cannot expand %s to %d dimensions", TG__SHAPE(x, b1), ndim);
    return NULL;
  }
  int64_t in[TG_MAX_DIMS], out[TG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int xi = i - (ndim - x->ndim);
    in[i] = xi >= 0 ? x->shape[xi] : 1;
    out[i] = shape[i] == -1 ? in[i] : shape[i];
    if (out[i] < 0 || (in[i] != 1 && in[i] != out[i])) {
      tg__set_error("tg_expand: cannot expand %s to %s (axis %d)", TG__SHAPE(x, b1),
                    tg__shape_str(ndim, shape, b2, sizeof b2), i);
      return NULL;
    }
  }
  if (tg__check_span("tg_expand", ndim, out) < 0) return NULL;
  return tg__tensor_wrap(tg__texpand(tg__treshape(x, ndim, in), out), t->dev);
}

tg_tensor *tg_squeeze(tg_tensor *t, int axis) {
  TG__LOCKED();
  TG__NEED("tg_squeeze", t);
  tg__uop *x = t->uop;
  int64_t s[TG_MAX_DIMS];
  int n = 0, a = axis == TG_ALL_AXES ? -1 : tg__axis("tg_squeeze", axis, x->ndim);
  if (axis != TG_ALL_AXES && a < 0) return NULL;
  for (int i = 0; i < x->ndim; i++)
    if (!(x->shape[i] == 1 && (a < 0 || a == i))) s[n++] = x->shape[i];
  return tg__tensor_wrap(tg__treshape(x, n, s), t->dev);
}

tg_tensor *tg_unsqueeze(tg_tensor *t, int axis) {
  TG__LOCKED();
  TG__NEED("tg_unsqueeze", t);
  tg__uop *x = t->uop;
  int a = tg__axis("tg_unsqueeze", axis, x->ndim + 1);
  if (a < 0) return NULL;
  if (x->ndim == TG_MAX_DIMS) {
    tg__set_error("tg_unsqueeze: already %d dimensions", TG_MAX_DIMS);
    return NULL;
  }
  int64_t s[TG_MAX_DIMS];
  for (int i = 0, j = 0; i <= x->ndim; i++) s[i] = i == a ? 1 : x->shape[j++];
  return tg__tensor_wrap(tg__treshape(x, x->ndim + 1, s), t->dev);
}

tg_tensor *tg_flatten(tg_tensor *t, int start_dim, int end_dim) {
  TG__LOCKED();
  TG__NEED("tg_flatten", t);
  tg__uop *x = t->uop;
  int64_t one = 1;
  if (x->ndim == 0) return tg__tensor_wrap(tg__treshape(x, 1, &one), t->dev);
  int a = tg__axis("tg_flatten", start_dim, x->ndim), b = tg__axis("tg_flatten", end_dim, x->ndim);
  if (a < 0 || b < 0) return NULL;
  if (a > b) {
    tg__set_error("tg_flatten: start_dim %d is after end_dim %d", start_dim, end_dim);
    return NULL;
  }
  int64_t s[TG_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < a; i++) s[n++] = x->shape[i];
  s[n++] = tg__prod(x->shape + a, b - a + 1);
  for (int i = b + 1; i < x->ndim; i++) s[n++] = x->shape[i];
  return tg__tensor_wrap(tg__treshape(x, n, s), t->dev);
}

tg_tensor *tg_unflatten(tg_tensor *t, int dim, int n, const int64_t *sizes) {
  TG__LOCKED();
  TG__NEED("tg_unflatten", t);
  tg__uop *x = t->uop;
  int a = tg__axis("tg_unflatten", dim, x->ndim);
  if (a < 0) return NULL;
  if (n < 1 || x->ndim - 1 + n > TG_MAX_DIMS || !sizes) {
    tg__set_error("tg_unflatten: bad number of sizes %d", n);
    return NULL;
  }
  int64_t s[TG_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < a; i++) s[k++] = x->shape[i];
  for (int i = 0; i < n; i++) s[k++] = sizes[i];
  for (int i = a + 1; i < x->ndim; i++) s[k++] = x->shape[i];
  int64_t prod = 1;
  for (int i = 0; i < n; i++) prod = sizes[i] < 0 ? -1 : tg__size_mul(prod, sizes[i]); /* -1 sticks */
  if (prod != x->shape[a]) {
    char b1[128], b2[128];
    tg__set_error("tg_unflatten: sizes %s do not multiply to %lld, the size of axis %d of %s",
                  tg__shape_str(n, sizes, b2, sizeof b2), (long long)x->shape[a], a, TG__SHAPE(x, b1));
    return NULL;
  }
  return tg_reshape(t, k, s);
}

tg_tensor *tg_pad(tg_tensor *t, int ndim, const int64_t *pads, double value) {
  TG__LOCKED();
  TG__NEED("tg_pad", t);
  tg__uop *x = t->uop;
  if (ndim != x->ndim || (ndim && !pads)) {
    tg__set_error("tg_pad: %d pad pairs given for a tensor of %d dimensions", ndim, x->ndim);
    return NULL;
  }
  /* negative pads crop first */
  int64_t crop[2 * TG_MAX_DIMS], pos[2 * TG_MAX_DIMS], out[TG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int64_t b = pads[2 * i], e = pads[2 * i + 1], n = x->shape[i];
    int64_t cb = b >= 0 ? 0 : b < -n ? n + 1 : -b, ce = e >= 0 ? 0 : e < -n ? n + 1 : -e; /* no -INT64_MIN */
    crop[2 * i] = cb;
    crop[2 * i + 1] = n - ce;
    if (cb + ce > n) {
      tg__set_error("tg_pad: negative pads (%lld, %lld) remove more than the %lld elements of axis %d", (long long)b,
                    (long long)e, (long long)x->shape[i], i);
      return NULL;
    }
    pos[2 * i] = b > 0 ? b : 0;
    pos[2 * i + 1] = e > 0 ? e : 0;
    if (tg__size_add(tg__size_add(crop[2 * i + 1] - crop[2 * i], pos[2 * i]), pos[2 * i + 1]) < 0) {
      tg__set_error("tg_pad: pads (%lld, %lld) make axis %d of size %lld larger than %lld elements", (long long)b,
                    (long long)e, i, (long long)x->shape[i], (long long)TG__MAX_NUMEL);
      return NULL;
    }
    out[i] = crop[2 * i + 1] - crop[2 * i] + pos[2 * i] + pos[2 * i + 1];
  }
  if (tg__check_span("tg_pad", ndim, out) < 0) return NULL;
  x = tg__tshrink(x, crop);
  tg__uop *r = tg__tpad(x, pos);
  if (value != 0 && r != x) {
    tg__uop *mask = tg__tpad(tg__tfull_like(x, 1, TG_BOOL), pos);
    r = tg__twhere(mask, r, tg__tfull_like(r, value, r->dtype));
  }
  return tg__tensor_wrap(r, t->dev);
}

tg_tensor *tg_shrink(tg_tensor *t, int ndim, const int64_t *bounds) {
  TG__LOCKED();
  TG__NEED("tg_shrink", t);
  tg__uop *x = t->uop;
  if (ndim != x->ndim || (ndim && !bounds)) {
    tg__set_error("tg_shrink: %d bound pairs given for a tensor of %d dimensions", ndim, x->ndim);
    return NULL;
  }
  for (int i = 0; i < ndim; i++)
    if (bounds[2 * i] < 0 || bounds[2 * i] > bounds[2 * i + 1] || bounds[2 * i + 1] > x->shape[i]) {
      tg__set_error("tg_shrink: bounds [%lld, %lld) do not fit axis %d of size %lld", (long long)bounds[2 * i],
                    (long long)bounds[2 * i + 1], i, (long long)x->shape[i]);
      return NULL;
    }
  return tg__tensor_wrap(tg__tshrink(x, bounds), t->dev);
}

// ---------------------------------------------------------------------------------------------------------------------
// variables (symbolic shapes)

tg_variable *tg_variable_new(const char *name, int64_t min, int64_t max) {
  TG__LOCKED();
  int slot = tg__var_register("tg_variable_new", name, min, max);
  return slot < 0 ? NULL : tg__var_slot(slot);
}

int tg_variable_bind(tg_variable *v, int64_t value) {
  TG__LOCKED();
  if (!v) return tg__null("tg_variable_bind"), -1;
  if (value < v->min || value > v->max) {
    tg__set_error("tg_variable_bind: %lld is outside the bounds [%lld, %lld] of variable '%s'", (long long)value,
                  (long long)v->min, (long long)v->max, v->name);
    return -1;
  }
  v->value = value;
  v->bound = 1;
  return 0;
}

int64_t tg_variable_value(const tg_variable *v) {
  TG__LOCKED();
  return v && v->bound ? v->value : -1;
}

static int tg__sint_encode(const char *fn, tg_sint b, int64_t *out) {
  if (!b.var) {
    *out = b.offset;
    return 0;
  }
  if (!b.var->bound) {
    tg__set_error("%s: variable '%s' is not bound. HINT: tg_variable_bind it first", fn, b.var->name);
    return -1;
  }
  if (b.offset < -TG__SYM_BIAS / 4 || b.offset > TG__SYM_BIAS / 4) {
    tg__set_error("%s: offset %lld of variable '%s' is too large", fn, (long long)b.offset, b.var->name);
    return -1;
  }
  *out = tg__sym_make(b.var->slot, b.offset);
  return 0;
}

tg_tensor *tg_shrink_sym(tg_tensor *t, int ndim, const tg_sint *bounds) {
  TG__LOCKED();
  TG__NEED("tg_shrink_sym", t);
  tg__uop *x = t->uop, *srcs[1 + 2 * TG_MAX_DIMS];
  if (ndim != x->ndim || (ndim && !bounds)) {
    tg__set_error("tg_shrink_sym: %d bound pairs given for a tensor of %d dimensions", ndim, x->ndim);
    return NULL;
  }
  int64_t b[2 * TG_MAX_DIMS];
  int nsrc = 1, any = 0;
  srcs[0] = x;
  for (int i = 0; i < 2 * ndim; i++) {
    if (tg__sint_encode("tg_shrink_sym", bounds[i], &b[i]) < 0) return NULL;
    if (!bounds[i].var) continue;
    tg__uop *bind = tg__var_bind_node(bounds[i].var->slot, bounds[i].var->value);
    int dup = 0;
    for (int j = 1; j < nsrc; j++) dup |= srcs[j] == bind;
    if (!dup) srcs[nsrc++] = bind;
  }
  for (int i = 0; i < ndim; i++) {
    int ok = 1;
    int64_t lo = b[2 * i], hi = b[2 * i + 1], n = x->shape[i], len = tg__sym_sub(hi, lo, &ok);
    any |= lo != 0 || hi != n;
    if (lo == 0 && hi == n) continue;
    if (tg__is_sym(n) || !ok || tg__sym_min(lo) < 0 || tg__sym_max(hi) > n || tg__sym_min(len) < 0) {
      char sb[128];
      tg__set_error("tg_shrink_sym: bounds %d of axis %d do not fit a tensor of shape %s for every value of their "
                    "variables (a start of 0 + c or var + c, an end of var + c or c, within [0, size])", i, i,
                    TG__SHAPE(x, sb));
      return NULL;
    }
  }
  if (!any) return tg__tensor_wrap(x, t->dev);
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.nints = 2 * ndim;
  a.ints = b;
  return tg__tensor_wrap(tg__uop_new(TG__OP_SHRINK, x->dtype, nsrc, srcs, &a), t->dev);
}

tg_tensor *tg_variable_tensor(tg_variable *v) {
  TG__LOCKED();
  if (!v) return tg__null("tg_variable_tensor");
  if (!v->bound) {
    tg__set_error("tg_variable_tensor: variable '%s' is not bound. HINT: tg_variable_bind it first", v->name);
    return NULL;
  }
  tg__device *dev = tg__default_device("tg_variable_tensor");
  if (!dev) return NULL;
  return tg__tensor_wrap(tg__var_bind_node(v->slot, v->value), dev);
}

tg_tensor *tg_flip(tg_tensor *t, int naxes, const int *axes) {
  TG__LOCKED();
  TG__NEED("tg_flip", t);
  int64_t mask;
  if (tg__axes_to_mask("tg_flip", t->uop->ndim, naxes, axes, &mask) < 0) return NULL;
  return tg__tensor_wrap(tg__tflip(t->uop, mask), t->dev);
}

tg_tensor *tg_slice(tg_tensor *t, int axis, int64_t start, int64_t stop, int64_t step) {
  TG__LOCKED();
  TG__NEED("tg_slice", t);
  int a = tg__axis("tg_slice", axis, t->uop->ndim);
  if (a < 0) return NULL;
  if (step == 0) {
    tg__set_error("tg_slice: step cannot be 0");
    return NULL;
  }
  return tg__tensor_wrap(tg__tslice(t->uop, a, start, stop, step), t->dev);
}

tg_tensor *tg_select(tg_tensor *t, int axis, int64_t index) {
  TG__LOCKED();
  TG__NEED("tg_select", t);
  tg__uop *x = t->uop;
  int a = tg__axis("tg_select", axis, x->ndim);
  if (a < 0) return NULL;
  int64_t n = x->shape[a], i = index < 0 ? index + n : index;
  if (i < 0 || i >= n) {
    tg__set_error("tg_select: index %lld is out of range for axis %d of size %lld", (long long)index, a, (long long)n);
    return NULL;
  }
  int64_t b[2 * TG_MAX_DIMS], s[TG_MAX_DIMS];
  int k = 0;
  for (int d = 0; d < x->ndim; d++) {
    b[2 * d] = d == a ? i : 0;
    b[2 * d + 1] = d == a ? i + 1 : x->shape[d];
    if (d != a) s[k++] = x->shape[d];
  }
  return tg__tensor_wrap(tg__treshape(tg__tshrink(x, b), k, s), t->dev);
}

tg_tensor *tg_repeat(tg_tensor *t, int ndim, const int64_t *repeats) {
  TG__LOCKED();
  TG__NEED("tg_repeat", t);
  tg__uop *x = t->uop;
  if (ndim < x->ndim || 2 * ndim > TG_MAX_DIMS || (ndim && !repeats)) {
    tg__set_error("tg_repeat: %d repeats for a tensor of %d dimensions", ndim, x->ndim);
    return NULL;
  }
  int64_t base[TG_MAX_DIMS], s1[TG_MAX_DIMS], s2[TG_MAX_DIMS], fin[TG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int xi = i - (ndim - x->ndim);
    base[i] = xi >= 0 ? x->shape[xi] : 1;
    if (repeats[i] < 0) {
      tg__set_error("tg_repeat: negative repeat %lld", (long long)repeats[i]);
      return NULL;
    }
    s1[2 * i] = 1, s1[2 * i + 1] = base[i];
    s2[2 * i] = repeats[i], s2[2 * i + 1] = base[i];
    fin[i] = tg__size_mul(repeats[i], base[i]);
    if (fin[i] < 0) {
      tg__set_error("tg_repeat: %lld repeats of axis %d (size %lld) is more than %lld elements",
                    (long long)repeats[i], i, (long long)base[i], (long long)TG__MAX_NUMEL);
      return NULL;
    }
  }
  if (tg__check_span("tg_repeat", 2 * ndim, s2) < 0) return NULL; /* the expanded (repeat, size) pairs */
  tg__uop *r = tg__treshape(tg__texpand(tg__treshape(x, 2 * ndim, s1), s2), ndim, fin);
  return tg__tensor_wrap(r, t->dev);
}

/* x repeated reps[d] times along each axis d (sizes already checked: at most 3 copies of an axis here) */
static tg__uop *tg__trepeat(tg__uop *x, const int64_t *reps) {
  int nd = x->ndim;
  int64_t s1[2 * TG_MAX_DIMS], s2[2 * TG_MAX_DIMS], fin[TG_MAX_DIMS];
  if (2 * nd > TG_MAX_DIMS) { /* repeat one axis at a time */
    for (int d = 0; d < nd; d++) {
      if (reps[d] == 1) continue;
      int64_t r1[TG_MAX_DIMS];
      for (int e = 0; e < nd; e++) r1[e] = e == d ? reps[d] : 1;
      int64_t t1[TG_MAX_DIMS + 1], t2[TG_MAX_DIMS + 1], f[TG_MAX_DIMS];
      for (int e = 0, k = 0; e < nd; e++) {
        if (e == d) t1[k] = 1, t2[k++] = r1[e];
        t1[k] = x->shape[e], t2[k++] = x->shape[e];
        f[e] = e == d ? r1[e] * x->shape[e] : x->shape[e];
      }
      x = tg__treshape(tg__texpand(tg__treshape(x, nd + 1, t1), t2), nd, f);
    }
    return x;
  }
  for (int i = 0; i < nd; i++) {
    s1[2 * i] = 1, s1[2 * i + 1] = x->shape[i];
    s2[2 * i] = reps[i], s2[2 * i + 1] = x->shape[i];
    fin[i] = reps[i] * x->shape[i];
  }
  return tg__treshape(tg__texpand(tg__treshape(x, 2 * nd, s1), s2), nd, fin);
}

/* xs[0..n) in dtype dt, concatenated along axis a: every piece padded to the full length and added (or or'd), one
 * kernel in which each element reads one piece */
static tg__uop *tg__tcat_axis(tg__uop *const *xs, int n, int a, tg_dtype dt) {
  int64_t total = 0, off = 0;
  for (int i = 0; i < n; i++) total += xs[i]->shape[a];
  tg__uop *r = NULL;
  for (int i = 0; i < n; i++) {
    int64_t pads[2 * TG_MAX_DIMS] = {0};
    pads[2 * a] = off;
    pads[2 * a + 1] = total - off - xs[i]->shape[a];
    off += xs[i]->shape[a];
    tg__uop *p = tg__tpad(tg__tcast(xs[i], dt), pads);
    r = r ? tg__talu(dt == TG_BOOL ? TG__OP_OR : TG__OP_ADD, r, p) : p;
  }
  return r;
}

tg_tensor *tg_cat(tg_tensor **ts, int n, int axis) {
  TG__LOCKED();
  if (n < 1 || !ts) {
    tg__set_error("tg_cat: no tensors");
    return NULL;
  }
  for (int i = 0; i < n; i++) TG__NEED("tg_cat", ts[i]);
  tg__uop *x0 = ts[0]->uop;
  int a = tg__axis("tg_cat", axis, x0->ndim);
  if (a < 0) return NULL;
  int64_t total = 0;
  tg_dtype dt = x0->dtype;
  for (int i = 0; i < n; i++) {
    tg__uop *x = ts[i]->uop;
    int ok = x->ndim == x0->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = d == a || x->shape[d] == x0->shape[d];
    if (!ok) {
      char b1[128], b2[128];
      tg__set_error("tg_cat: tensor %d has shape %s, which does not match %s outside axis %d", i, TG__SHAPE(x, b1),
                    TG__SHAPE(x0, b2), a);
      return NULL;
    }
    total = tg__size_add(total, x->shape[a]);
    if (total < 0) {
      tg__set_error("tg_cat: the sizes along axis %d add up to more than %lld elements", a, (long long)TG__MAX_NUMEL);
      return NULL;
    }
    dt = tg_promote(dt, x->dtype);
  }
  {
    int64_t s[TG_MAX_DIMS];
    memcpy(s, x0->shape, sizeof(int64_t) * (size_t)x0->ndim);
    s[a] = total;
    if (tg__check_span("tg_cat", x0->ndim, s) < 0) return NULL;
  }
  tg__uop **xs = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)n);
  for (int i = 0; i < n; i++) xs[i] = ts[i]->uop;
  tg__uop *r = tg__tcat_axis(xs, n, a, dt);
  TG_FREE(xs);
  return tg__tensor_wrap(r, ts[0]->dev);
}

tg_tensor *tg_stack(tg_tensor **ts, int n, int axis) {
  TG__LOCKED();
  if (n < 1 || !ts) {
    tg__set_error("tg_stack: no tensors");
    return NULL;
  }
  tg_tensor *tmp[256];
  if (n > 256) {
    tg__set_error("tg_stack: at most 256 tensors");
    return NULL;
  }
  for (int i = 0; i < n; i++) TG__NEED("tg_stack", ts[i]);
  int a = tg__axis("tg_stack", axis, ts[0]->uop->ndim + 1);
  if (a < 0) return NULL;
  for (int i = 1; i < n; i++) {
    tg__uop *x = ts[i]->uop, *x0 = ts[0]->uop;
    if (x->ndim != x0->ndim || (x->ndim && memcmp(x->shape, x0->shape, sizeof(int64_t) * (size_t)x->ndim))) {
      char b1[128], b2[128];
      tg__set_error("tg_stack: tensor %d has shape %s, tensor 0 has %s; stacked tensors need one shape", i,
                    TG__SHAPE(x, b1), TG__SHAPE(x0, b2));
      return NULL;
    }
  }
  {
    tg__uop *x0 = ts[0]->uop;
    int64_t s[TG_MAX_DIMS + 1];
    for (int d = 0, j = 0; d <= x0->ndim; d++) s[d] = d == a ? n : x0->shape[j++];
    if (x0->ndim == TG_MAX_DIMS) {
      tg__set_error("tg_stack: the tensors already have %d dimensions, the most there can be", TG_MAX_DIMS);
      return NULL;
    }
    if (tg__check_span("tg_stack", x0->ndim + 1, s) < 0) return NULL;
  }
  for (int i = 0; i < n; i++) {
    tg__uop *x = ts[i]->uop;
    int64_t s[TG_MAX_DIMS + 1];
    for (int d = 0, j = 0; d <= x->ndim; d++) s[d] = d == a ? 1 : x->shape[j++];
    tmp[i] = tg__tensor_wrap(tg__treshape(x, x->ndim + 1, s), ts[i]->dev);
  }
  tg_tensor *r = tg_cat(tmp, n, a);
  for (int i = 0; i < n; i++) tg_free(tmp[i]);
  return r;
}

int tg_split(tg_tensor *t, int64_t size, int axis, tg_tensor **out, int max_out) {
  TG__LOCKED();
  if (!t) {
    tg__null("tg_split");
    return -1;
  }
  int a = tg__axis("tg_split", axis, t->uop->ndim);
  if (a < 0) return -1;
  if (size <= 0) {
    tg__set_error("tg_split: size must be positive, got %lld", (long long)size);
    return -1;
  }
  int64_t n = t->uop->shape[a], count = n ? (n - 1) / size + 1 : 0; /* no n + size - 1 to overflow */
  if (count > max_out || !out) {
    tg__set_error("tg_split: %lld pieces do not fit in %d outputs", (long long)count, max_out);
    return -1;
  }
  for (int i = 0; i < count; i++) {
    int64_t e = (int64_t)(i + 1) * size;
    out[i] = tg__tensor_wrap(tg__tslice(t->uop, a, (int64_t)i * size, e < n ? e : n, 1), t->dev);
  }
  return (int)count;
}

int tg_chunk(tg_tensor *t, int chunks, int axis, tg_tensor **out, int max_out) {
  TG__LOCKED();
  if (!t) {
    tg__null("tg_chunk");
    return -1;
  }
  int a = tg__axis("tg_chunk", axis, t->uop->ndim);
  if (a < 0) return -1;
  if (chunks <= 0) {
    tg__set_error("tg_chunk: chunks must be positive, got %d", chunks);
    return -1;
  }
  int64_t n = t->uop->shape[a], size = (n + chunks - 1) / chunks;
  return tg_split(t, size ? size : 1, a, out, max_out);
}

// ---------------------------------------------------------------------------------------------------------------------
// more movement, as tinygrad composes it from reshape, expand, pad, shrink, permute and flip: no kernel of their own

int tg_split_sizes(tg_tensor *t, int n, const int64_t *sizes, int axis, tg_tensor **out) {
  TG__LOCKED();
  if (!t) {
    tg__null("tg_split_sizes");
    return -1;
  }
  int a = tg__axis("tg_split_sizes", axis, t->uop->ndim);
  if (a < 0) return -1;
  if (n < 1 || !sizes || !out) {
    tg__set_error("tg_split_sizes: %s", n < 1 ? "no sizes" : !sizes ? "sizes is NULL" : "out is NULL");
    return -1;
  }
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    if (sizes[i] < 0 || sizes[i] > t->uop->shape[a]) {
      tg__set_error("tg_split_sizes: size %lld is not between 0 and axis %d's %lld", (long long)sizes[i], a,
                    (long long)t->uop->shape[a]);
      return -1;
    }
    total += sizes[i];
    if (total > t->uop->shape[a]) break;
  }
  if (total != t->uop->shape[a]) {
    tg__set_error("tg_split_sizes: the sizes add up to %s%lld, axis %d has %lld",
                  total > t->uop->shape[a] ? "more than " : "", (long long)total, a, (long long)t->uop->shape[a]);
    return -1;
  }
  int64_t off = 0;
  for (int i = 0; i < n; i++) {
    out[i] = tg__tensor_wrap(tg__tslice(t->uop, a, off, off + sizes[i], 1), t->dev);
    off += sizes[i];
  }
  return n;
}

tg_tensor *tg_roll(tg_tensor *t, int n, const int64_t *shifts, const int *axes) {
  TG__LOCKED();
  TG__NEED("tg_roll", t);
  tg__uop *x = t->uop;
  if (n < 1 || !shifts || (!axes && n != 1)) {
    tg__set_error("tg_roll: %s", n < 1 || !shifts ? "no shifts" : "without axes, one shift (of the flattened tensor)");
    return NULL;
  }
  if (!axes) { /* the flattened tensor, rolled, in its shape */
    int64_t numel = tg__numel_max(x->ndim, x->shape);
    tg__uop *f = tg__treshape(x, 1, &numel);
    if (numel == 0) return tg__tensor_wrap(x, t->dev);
    int64_t sh = ((shifts[0] % numel) + numel) % numel, b[2] = {numel - sh, 2 * numel - sh}, two = 2;
    if (tg__size_mul(numel, 2) < 0) {
      tg__set_error("tg_roll: twice %lld elements is more than %lld", (long long)numel, (long long)TG__MAX_NUMEL);
      return NULL;
    }
    f = tg__tshrink(tg__trepeat(f, &two), b);
    return tg__tensor_wrap(tg__treshape(f, x->ndim, x->shape), t->dev);
  }
  int64_t reps[TG_MAX_DIMS], b[2 * TG_MAX_DIMS], shift[TG_MAX_DIMS] = {0};
  int seen[TG_MAX_DIMS] = {0};
  for (int i = 0; i < n; i++) {
    int a = tg__axis("tg_roll", axes[i], x->ndim);
    if (a < 0) return NULL;
    if (seen[a]) {
      tg__set_error("tg_roll: axis %d is given twice", a);
      return NULL;
    }
    seen[a] = 1, shift[a] = shifts[i];
  }
  for (int d = 0; d < x->ndim; d++)
    if (x->shape[d] == 0) return tg__tensor_wrap(x, t->dev);
  for (int d = 0; d < x->ndim; d++) {
    int64_t sz = x->shape[d], sh = seen[d] ? ((shift[d] % sz) + sz) % sz : 0;
    reps[d] = seen[d] ? 2 : 1;
    b[2 * d] = seen[d] ? sz - sh : 0;
    b[2 * d + 1] = b[2 * d] + sz;
  }
  int64_t big[TG_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) big[d] = x->shape[d] * reps[d];
  if (tg__check_span("tg_roll", x->ndim, big) < 0) return NULL;
  return tg__tensor_wrap(tg__tshrink(tg__trepeat(x, reps), b), t->dev);
}

/* tinygrad's: the two axes last, the wanted diagonal's square flattened, padded by a row of d and reshaped to
 * (d, d + 1), whose first column is the diagonal */
static tg__uop *tg__tdiagonal(tg__uop *x, int64_t offset, int d1, int d2) {
  int nd = x->ndim, perm[TG_MAX_DIMS], k = 0;
  for (int i = 0; i < nd; i++)
    if (i != d1 && i != d2) perm[k++] = i;
  perm[k++] = d1, perm[k++] = d2;
  x = tg__tpermute(x, perm);
  int64_t b[2 * TG_MAX_DIMS], s[TG_MAX_DIMS + 1];
  int64_t r = x->shape[nd - 2], c = x->shape[nd - 1];
  int64_t r0 = offset < 0 ? (-offset < r ? -offset : r) : 0, c0 = offset > 0 ? (offset < c ? offset : c) : 0;
  int64_t d = r - r0 < c - c0 ? r - r0 : c - c0;
  for (int i = 0; i < nd; i++) b[2 * i] = 0, b[2 * i + 1] = x->shape[i];
  b[2 * (nd - 2)] = r0, b[2 * (nd - 2) + 1] = r0 + d;
  b[2 * (nd - 1)] = c0, b[2 * (nd - 1) + 1] = c0 + d;
  x = tg__tshrink(x, b);
  for (int i = 0; i < nd - 2; i++) s[i] = x->shape[i];
  if (d == 0) {
    s[nd - 2] = 0;
    return tg__treshape(x, nd - 1, s);
  }
  s[nd - 2] = d * d;
  x = tg__treshape(x, nd - 1, s);
  int64_t pads[2 * TG_MAX_DIMS] = {0};
  pads[2 * (nd - 2) + 1] = d;
  x = tg__tpad(x, pads);
  s[nd - 2] = d, s[nd - 1] = d + 1;
  x = tg__treshape(x, nd, s);
  for (int i = 0; i < nd; i++) b[2 * i] = 0, b[2 * i + 1] = x->shape[i];
  b[2 * (nd - 1) + 1] = 1;
  x = tg__tshrink(x, b);
  return tg__treshape(x, nd - 1, s);
}

tg_tensor *tg_diagonal(tg_tensor *t, int64_t offset, int dim1, int dim2) {
  TG__LOCKED();
  TG__NEED("tg_diagonal", t);
  if (t->uop->ndim < 2) {
    tg__set_error("tg_diagonal: needs 2 dimensions or more, got %d", t->uop->ndim);
    return NULL;
  }
  int a = tg__axis("tg_diagonal", dim1, t->uop->ndim), b = a < 0 ? -1 : tg__axis("tg_diagonal", dim2, t->uop->ndim);
  if (a < 0 || b < 0) return NULL;
  if (a == b) {
    tg__set_error("tg_diagonal: dim1 and dim2 are both axis %d", a);
    return NULL;
  }
  return tg__tensor_wrap(tg__tdiagonal(t->uop, offset, a, b), t->dev);
}

tg_tensor *tg_diag(tg_tensor *t) {
  TG__LOCKED();
  TG__NEED("tg_diag", t);
  tg__uop *x = t->uop;
  if (x->ndim == 2) return tg__tensor_wrap(tg__tdiagonal(x, 0, 0, 1), t->dev); /* PyTorch's 2-d form */
  if (x->ndim != 1) {
    tg__set_error("tg_diag: needs a 1-d tensor (or a 2-d one, whose diagonal it gives), got %d dimensions", x->ndim);
    return NULL;
  }
  int64_t n = x->shape[0], s[2] = {n, 1}, pads[4] = {0, 0, 0, n}, flat, sq[2] = {n, n};
  if (tg__size_mul(n, n + 1) < 0) {
    tg__set_error("tg_diag: a %lld x %lld matrix is more than %lld elements", (long long)n, (long long)n,
                  (long long)TG__MAX_NUMEL);
    return NULL;
  }
  x = tg__tpad(tg__treshape(x, 2, s), pads); /* (n, n + 1): x, then n zeros, a row each */
  flat = n * (n + 1);
  x = tg__treshape(x, 1, &flat);
  int64_t b[2] = {0, n * n};
  return tg__tensor_wrap(tg__treshape(tg__tshrink(x, b), 2, sq), t->dev);
}

tg_tensor *tg_repeat_interleave(tg_tensor *t, int64_t repeats, int axis) {
  TG__LOCKED();
  TG__NEED("tg_repeat_interleave", t);
  tg__uop *x = t->uop;
  if (repeats < 0) {
    tg__set_error("tg_repeat_interleave: negative repeats %lld", (long long)repeats);
    return NULL;
  }
  if (axis == TG_ALL_AXES) {
    int64_t numel = tg__numel_max(x->ndim, x->shape);
    x = tg__treshape(x, 1, &numel);
    axis = 0;
  }
  int a = tg__axis("tg_repeat_interleave", axis, x->ndim);
  if (a < 0) return NULL;
  if (x->ndim == TG_MAX_DIMS) {
    tg__set_error("tg_repeat_interleave: needs one free dimension");
    return NULL;
  }
  int64_t s1[TG_MAX_DIMS + 1], s2[TG_MAX_DIMS + 1], fin[TG_MAX_DIMS];
  for (int d = 0, k = 0; d < x->ndim; d++) {
    s1[k] = x->shape[d], s2[k++] = x->shape[d];
    if (d == a) s1[k] = 1, s2[k++] = repeats;
    fin[d] = d == a ? tg__size_mul(x->shape[d], repeats) : x->shape[d];
    if (fin[d] < 0) {
      tg__set_error("tg_repeat_interleave: %lld repeats of %lld elements is more than %lld", (long long)repeats,
                    (long long)x->shape[d], (long long)TG__MAX_NUMEL);
      return NULL;
    }
  }
  if (tg__check_span("tg_repeat_interleave", x->ndim, fin) < 0) return NULL;
  return tg__tensor_wrap(tg__treshape(tg__texpand(tg__treshape(x, x->ndim + 1, s1), s2), x->ndim, fin), t->dev);
}

int tg_meshgrid(tg_tensor **ts, int n, int xy, tg_tensor **out) {
  TG__LOCKED();
  if (n < 1 || n > TG_MAX_DIMS || !ts || !out) {
    tg__set_error("tg_meshgrid: %d tensors (1 to %d, and an out array)", n, TG_MAX_DIMS);
    return -1;
  }
  int64_t len[TG_MAX_DIMS], shape[TG_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    if (!ts[i]) {
      tg__null("tg_meshgrid");
      return -1;
    }
    len[i] = tg__numel_max(ts[i]->uop->ndim, ts[i]->uop->shape);
  }
  /* tensor i varies along output axis i ("ij"); "xy" swaps the first two, as numpy's default */
  int pos[TG_MAX_DIMS] = {0};
  for (int i = 0; i < n; i++) pos[i] = xy && n > 1 && i < 2 ? 1 - i : i;
  for (int i = 0; i < n; i++) shape[pos[i]] = len[i];
  if (tg__check_span("tg_meshgrid", n, shape) < 0) return -1;
  for (int i = 0; i < n; i++) {
    int64_t s[TG_MAX_DIMS];
    for (int d = 0; d < n; d++) s[d] = d == pos[i] ? len[i] : 1;
    out[i] = tg__tensor_wrap(tg__texpand(tg__treshape(ts[i]->uop, n, s), shape), ts[i]->dev);
  }
  return n;
}

tg_tensor *tg_unfold(tg_tensor *t, int axis, int64_t size, int64_t step) {
  TG__LOCKED();
  TG__NEED("tg_unfold", t);
  tg__uop *x = t->uop;
  int a = tg__axis("tg_unfold", axis, x->ndim);
  if (a < 0) return NULL;
  if (size < 0 || step <= 0 || size > x->shape[a]) {
    if (size < 0) tg__set_error("tg_unfold: size must be >= 0, got %lld", (long long)size);
    else if (step <= 0) tg__set_error("tg_unfold: step must be > 0, got %lld", (long long)step);
    else tg__set_error("tg_unfold: size %lld is more than axis %d's %lld", (long long)size, a, (long long)x->shape[a]);
    return NULL;
  }
  if (x->ndim == TG_MAX_DIMS) {
    tg__set_error("tg_unfold: needs one free dimension");
    return NULL;
  }
  int nd = x->ndim, perm[TG_MAX_DIMS + 1], k = 0;
  for (int d = 0; d < nd; d++)
    if (d != a) perm[k++] = d;
  perm[k] = a;
  x = tg__tpermute(x, perm);
  int64_t one = 1;
  if (size == 0) { /* n / step + 1 windows of nothing, as tinygrad and PyTorch */
    int64_t b[2 * TG_MAX_DIMS], s1[TG_MAX_DIMS + 1], s2[TG_MAX_DIMS + 1];
    for (int d = 0; d < nd; d++) b[2 * d] = 0, b[2 * d + 1] = d == nd - 1 ? 0 : x->shape[d];
    for (int d = 0; d < nd - 1; d++) s1[d] = s2[d] = x->shape[d];
    s1[nd - 1] = 1, s2[nd - 1] = x->shape[nd - 1] / step + 1, s1[nd] = s2[nd] = 0;
    x = tg__texpand(tg__treshape(tg__tshrink(x, b), nd + 1, s1), s2); /* (..., windows, 0) */
  } else {
    if (tg__pool_fits("tg_unfold", nd, x->shape, 1, &size, &step, &one) < 0) return NULL;
    x = tg__tpool(x, 1, &size, &step, &one); /* (..., windows, size) */
  }
  int back[TG_MAX_DIMS + 1];
  for (int d = 0, j = 0; d < nd; d++) back[d] = d == a ? nd - 1 : j++;
  back[nd] = nd;
  return tg__tensor_wrap(tg__tpermute(x, back), t->dev);
}

/* rearrange (einops' and tinygrad's): one side's axis names, "..." as its own name, and its groups "( ... )" as
 * [start, end) ranges over the names; "1" is an empty group. 0, or -1 with an error */
typedef struct tg__rside {
  char names[TG_MAX_DIMS][32];
  int n, g[TG_MAX_DIMS][2], ng;
} tg__rside;

static int tg__rparse(const char *s, const char *e, tg__rside *r) {
  memset(r, 0, sizeof *r);
  int open = -1;
  while (s < e) {
    if (*s == ' ') { s++; continue; }
    if (*s == '(' || *s == ')') {
      if ((*s == '(') == (open >= 0) || r->ng == TG_MAX_DIMS) return -1; /* nested, unopened, too many */
      if (*s == '(') open = r->n;
      else r->g[r->ng][0] = open, r->g[r->ng++][1] = r->n, open = -1;
      s++;
      continue;
    }
    const char *t = s;
    while (s < e && *s != ' ' && *s != '(' && *s != ')') s++;
    int len = (int)(s - t);
    if (len == 1 && *t == '1') { /* an axis of 1: an empty group */
      if (open >= 0 || r->ng == TG_MAX_DIMS) return -1;
      r->g[r->ng][0] = r->g[r->ng][1] = r->n, r->ng++;
      continue;
    }
    int ok = len > 0 && len < 32 && r->n < TG_MAX_DIMS;
    if (ok && !(len == 3 && !strncmp(t, "...", 3)))
      for (int i = 0; i < len && ok; i++)
        ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (i && t[i] >= '0' && t[i] <= '9') ||
             (t[i] == '_' && i && i < len - 1);
    if (!ok) return -1;
    snprintf(r->names[r->n++], 32, "%.*s", len, t);
  }
  return open >= 0 ? -1 : 0;
}

static int tg__rfind(const tg__rside *r, const char *name) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->names[i], name)) return i;
  return -1;
}

tg_tensor *tg_rearrange(tg_tensor *a, const char *formula, int nsizes, const char *const *names, const int64_t *sizes) {
  TG__LOCKED();
  TG__NEED("tg_rearrange", a);
  const char *arrow = formula ? strstr(formula, "->") : NULL;
  tg__rside l, r;
  if (!arrow || strstr(arrow + 2, "->") || tg__rparse(formula, arrow, &l) < 0 ||
      tg__rparse(arrow + 2, arrow + strlen(arrow), &r) < 0 || nsizes < 0 || (nsizes && (!names || !sizes))) {
    tg__set_error("tg_rearrange: \"%s\" is no formula of names, \"...\", groups \"(a b)\" and \"1\" on either side of "
                  "one \"->\"", formula ? formula : "(NULL)");
    return NULL;
  }
  /* the same names on both sides, each once; "..." at most once and outside the input's groups */
  int bad = l.n != r.n, ell = tg__rfind(&l, "...");
  for (int i = 0; i < l.n && !bad; i++) bad = tg__rfind(&r, l.names[i]) < 0 || tg__rfind(&l, l.names[i]) != i;
  for (int i = 0; i < r.n && !bad; i++) bad = tg__rfind(&r, r.names[i]) != i;
  for (int k = 0; k < l.ng && !bad && ell >= 0; k++) bad = ell >= l.g[k][0] && ell < l.g[k][1];
  for (int k = 0; k < nsizes && !bad; k++) bad = !names[k] || tg__rfind(&l, names[k]) < 0 || sizes[k] < 1;
  int collapsed = 0;
  for (int k = 0; k < l.ng; k++) collapsed += l.g[k][1] - l.g[k][0] - 1;
  int ell_len = ell >= 0 ? a->uop->ndim - l.n + 1 + collapsed : 0;
  if (bad || ell_len < 0 || l.n - (ell >= 0) + ell_len > TG_MAX_DIMS ||
      (ell < 0 && l.n - collapsed != a->uop->ndim)) {
    tg__set_error("tg_rearrange: \"%s\" does not fit a tensor of %d dimensions (each name once on both sides, "
                  "sizes only for the input's names)", formula, a->uop->ndim);
    return NULL;
  }
  /* "..." becomes ell_len names on both sides, the groups after it moved along */
  tg__rside *sides[2] = {&l, &r};
  for (int s = 0; s < 2 && ell >= 0; s++) {
    tg__rside *x = sides[s];
    int at = tg__rfind(x, "...");
    tg__rside y = *x;
    y.n = 0;
    for (int i = 0; i < x->n; i++) {
      if (i != at) snprintf(y.names[y.n++], 32, "%s", x->names[i]);
      else
        for (int j = 0; j < ell_len; j++) snprintf(y.names[y.n++], 32, "...%d", j);
    }
    for (int k = 0; k < x->ng; k++)
      for (int c = 0; c < 2; c++)
        if (y.g[k][c] > at) y.g[k][c] += ell_len - 1;
    *x = y;
  }
  tg_scope_begin();
  tg_tensor *t = a;
  for (int k = 0; k < l.ng && t; k++) { /* the input's groups split, left to right */
    int st = l.g[k][0], en = l.g[k][1];
    if (st == en) {
      t = tg_shape(t)[st] == 1 ? tg_squeeze(t, st) : NULL;
      if (!t) tg__set_error("tg_rearrange: a \"1\" in \"%s\" stands for an axis of size 1", formula);
      continue;
    }
    int64_t us[TG_MAX_DIMS];
    for (int i = st; i < en; i++) {
      us[i - st] = -1;
      for (int j = 0; j < nsizes; j++)
        if (!strcmp(names[j], l.names[i])) us[i - st] = sizes[j];
    }
    int unknown = 0;
    int64_t known = 1;
    for (int i = 0; i < en - st; i++) unknown += us[i] < 0, known *= us[i] < 0 ? 1 : us[i];
    int64_t whole = tg_shape(t)[st];
    if (unknown > 1 || (unknown == 0 && known != whole) || (unknown == 1 && whole % known)) {
      tg__set_error("tg_rearrange: axis %d of %lld does not split into group %d of \"%s\" with the sizes given", st,
                    (long long)whole, k, formula);
      t = NULL;
      break;
    }
    for (int i = 0; i < en - st; i++)
      if (us[i] < 0) us[i] = whole / known;
    t = tg_unflatten(t, st, en - st, us);
  }
  for (int j = 0; j < nsizes && t; j++) {
    int at = tg__rfind(&l, names[j]);
    if (tg_shape(t)[at] != sizes[j]) {
      tg__set_error("tg_rearrange: %s is %lld long, not the %lld given", names[j], (long long)tg_shape(t)[at],
                    (long long)sizes[j]);
      t = NULL;
    }
  }
  if (t) {
    int perm[TG_MAX_DIMS];
    for (int i = 0; i < r.n; i++) perm[i] = tg__rfind(&l, r.names[i]);
    t = tg_permute(t, r.n, perm);
  }
  for (int k = r.ng - 1; k >= 0 && t; k--) /* the output's groups merged, right to left */
    t = r.g[k][0] < r.g[k][1] ? tg_flatten(t, r.g[k][0], r.g[k][1] - 1) : tg_unsqueeze(t, r.g[k][0]);
  if (t) tg_keep(t);
  tg_scope_end();
  return t;
}

/* reflect / replicate / circular pads: the pieces beside each axis are slices of the tensor (reflect: mirrored
 * without the edge; replicate: the edge repeated; circular: the other end), concatenated; negative pads crop after
 * (before, for circular), as tinygrad */

tg_tensor *tg_pad_mode(tg_tensor *t, int ndim, const int64_t *pads, int mode, double value) {
  TG__LOCKED();
  TG__NEED("tg_pad_mode", t);
  if (mode == TG_PAD_CONSTANT) return tg_pad(t, ndim, pads, value);
  tg__uop *x = t->uop;
  if (mode != TG_PAD_REFLECT && mode != TG_PAD_REPLICATE && mode != TG_PAD_CIRCULAR) {
    tg__set_error("tg_pad_mode: mode %d is none of TG_PAD_CONSTANT, TG_PAD_REFLECT, TG_PAD_REPLICATE, TG_PAD_CIRCULAR",
                  mode);
    return NULL;
  }
  if (ndim != x->ndim || (ndim && !pads)) {
    tg__set_error("tg_pad_mode: %d pad pairs given for a tensor of %d dimensions", ndim, x->ndim);
    return NULL;
  }
  static const char *const names[4] = {"constant", "reflect", "replicate", "circular"};
  for (int d = 0; d < ndim; d++) {
    int64_t pb = pads[2 * d], pa = pads[2 * d + 1], sz = x->shape[d];
    if (pb < -sz || pa < -sz || (pb < 0 && pa < 0 && -pb - pa > sz) ||
        (mode == TG_PAD_REFLECT && ((pb > 0 && pb >= sz) || (pa > 0 && pa >= sz))) ||
        (mode == TG_PAD_REPLICATE && sz == 0 && (pb > 0 || pa > 0)) || pb > TG__MAX_NUMEL || pa > TG__MAX_NUMEL) {
      tg__set_error("tg_pad_mode: %s pads (%lld, %lld) do not fit axis %d of size %lld (%s)", names[mode],
                    (long long)pb, (long long)pa, d, (long long)sz,
                    mode == TG_PAD_REFLECT ? "reflect: less than the size" : mode == TG_PAD_CIRCULAR
                    ? "circular: at most the size, once around" : "replicate: at most the size, and an edge");
      return NULL;
    }
  }
  if (mode == TG_PAD_CIRCULAR) { /* crop first, then the other end's slices */
    int64_t b[2 * TG_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
      int64_t pb = pads[2 * d], pa = pads[2 * d + 1], sz = x->shape[d];
      b[2 * d] = pb < 0 ? -pb : 0, b[2 * d + 1] = pa < 0 ? sz + pa : sz;
      if (b[2 * d] > b[2 * d + 1]) b[2 * d + 1] = b[2 * d];
    }
    x = tg__tshrink(x, b);
    for (int d = 0; d < ndim; d++) {
      int64_t pb = pads[2 * d] > 0 ? pads[2 * d] : 0, pa = pads[2 * d + 1] > 0 ? pads[2 * d + 1] : 0, sz = x->shape[d];
      if (pb > sz || pa > sz) {
        tg__set_error("tg_pad_mode: circular pads (%lld, %lld) wrap axis %d (size %lld after the crop) more than once",
                      (long long)pb, (long long)pa, d, (long long)sz);
        return NULL;
      }
      tg__uop *parts[3];
      int k = 0;
      if (pb) parts[k++] = tg__tslice(x, d, sz - pb, sz, 1);
      parts[k++] = x;
      if (pa) parts[k++] = tg__tslice(x, d, 0, pa, 1);
      if (k > 1) x = tg__tcat_axis(parts, k, d, x->dtype);
    }
    return tg__tensor_wrap(x, t->dev);
  }
  for (int d = 0; d < ndim; d++) {
    int64_t pb = pads[2 * d] > 0 ? pads[2 * d] : 0, pa = pads[2 * d + 1] > 0 ? pads[2 * d + 1] : 0, sz = x->shape[d];
    tg__uop *parts[3];
    int k = 0;
    if (mode == TG_PAD_REFLECT) {
      if (pb) parts[k++] = tg__tslice(x, d, pb, 0, -1);
      parts[k++] = x;
      if (pa) parts[k++] = tg__tslice(x, d, sz - 2, sz - 2 - pa >= 0 ? sz - 2 - pa : TG_END, -1);
    } else {
      int64_t e[TG_MAX_DIMS];
      memcpy(e, x->shape, sizeof(int64_t) * (size_t)ndim);
      if (pb) e[d] = pb, parts[k++] = tg__texpand(tg__tslice(x, d, 0, 1, 1), e);
      parts[k++] = x;
      if (pa) e[d] = pa, parts[k++] = tg__texpand(tg__tslice(x, d, sz - 1, sz, 1), e);
    }
    if (k > 1) x = tg__tcat_axis(parts, k, d, x->dtype);
  }
  int64_t b[2 * TG_MAX_DIMS];
  for (int d = 0; d < ndim; d++) {
    int64_t pb = pads[2 * d], pa = pads[2 * d + 1], sz = x->shape[d];
    b[2 * d] = pb < 0 ? -pb : 0, b[2 * d + 1] = pa < 0 ? sz + pa : sz;
    if (b[2 * d] > b[2 * d + 1]) b[2 * d + 1] = b[2 * d];
  }
  return tg__tensor_wrap(tg__tshrink(x, b), t->dev);
}
