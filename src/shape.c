/* shape.c: shapes, and the builders of the lazy tensor graph (layer 2, with uop.c).
 *
 * Contract:
 *  - Shape arithmetic is checked: sizes multiply and add through tg__size_mul / tg__size_add, which give -1 past
 *    TG__MAX_NUMEL instead of a wrapped value; tg__check_shape and tg__check_span refuse a shape with an error naming
 *    the public function.
 *  - The builders (tg__treshape, tg__texpand, ..., tg__talu, tg__twhere, tg__tslice) take nodes and return a node of
 *    the tensor graph; a NULL operand gives NULL. They are what tinygrad's UOp methods are: the tensor API (tensor.c,
 *    ops.c, nn.c) and the derivative rules (gradient.c) build every graph through them. A builder that would make a
 *    no-op (a reshape to the same shape, a pad of zeros) returns its input.
 *  - Nothing here knows tensors, buffers or devices. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// shapes and axes

TG__PRIVATE const char *tg__shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && k < n; i++)
    if (tg__is_sym(shape[i])) {
      int64_t off = tg__sym_offset(shape[i]);
      k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", tg__var_slot(tg__sym_slot(shape[i]))->name);
      if (off && k < n) k += (size_t)snprintf(buf + k, n - k, "%+lld", (long long)off);
    } else
      k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (k < n) snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
  return buf;
}

TG__PRIVATE int tg__axis(const char *fn, int axis, int ndim) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= (ndim ? ndim : 1)) {
    tg__set_error("%s: axis %d is out of range for a tensor of %d dimensions", fn, axis, ndim);
    return -1;
  }
  return a;
}

TG__PRIVATE int tg__axes_to_mask(const char *fn, int ndim, int naxes, const int *axes, int64_t *mask) {
  *mask = 0;
  if (naxes < 0) {
    tg__set_error("%s: naxes is %d; a count of axes cannot be negative", fn, naxes);
    return -1;
  }
  if (naxes && !axes) {
    tg__set_error("%s: axes is NULL for naxes %d", fn, naxes);
    return -1;
  }
  for (int i = 0; i < naxes; i++) {
    int a = tg__axis(fn, axes[i], ndim);
    if (a < 0) return -1;
    if ((*mask >> a) & 1) { /* as PyTorch; numpy says "duplicate value in 'axis'" */
      tg__set_error("%s: dim %d appears multiple times in the list of axes", fn, a);
      return -1;
    }
    *mask |= 1LL << a;
  }
  return 0;
}

TG__PRIVATE int64_t tg__prod(const int64_t *s, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= s[i];
  return p;
}

// ---------------------------------------------------------------------------------------------------------------------
// symbolic sizes: var + offset in one int64 (internal.h), and the registry of variables

static tg__var_info tg__vars[TG__MAX_VARS];
static int tg__nvars;

/* a symbolic size: a negative number of the encoding (offsets within +-2^29, a registered slot); other negative
 * numbers stay what they are (a bad size, reported as such) */
TG__PRIVATE int tg__is_sym(int64_t d) {
  return d < 0 && (-d - 1) / TG__MAX_VARS >= TG__SYM_BIAS / 2 && (-d - 1) % TG__MAX_VARS < tg__nvars;
}
TG__PRIVATE int64_t tg__sym_make(int slot, int64_t offset) {
  return -(1 + (int64_t)slot + (int64_t)TG__MAX_VARS * (offset + TG__SYM_BIAS));
}
TG__PRIVATE int tg__sym_slot(int64_t d) { return (int)((-d - 1) % TG__MAX_VARS); }
TG__PRIVATE int64_t tg__sym_offset(int64_t d) { return (-d - 1) / TG__MAX_VARS - TG__SYM_BIAS; }
TG__PRIVATE tg__var_info *tg__var_slot(int slot) { return &tg__vars[slot]; }
TG__PRIVATE int64_t tg__sym_max(int64_t d) {
  return tg__is_sym(d) ? tg__vars[tg__sym_slot(d)].max + tg__sym_offset(d) : d;
}
TG__PRIVATE int64_t tg__sym_min(int64_t d) {
  return tg__is_sym(d) ? tg__vars[tg__sym_slot(d)].min + tg__sym_offset(d) : d;
}

TG__PRIVATE int64_t tg__sym_sub(int64_t a, int64_t b, int *ok) {
  *ok = 1;
  int sa = tg__is_sym(a), sb = tg__is_sym(b);
  if (!sa && !sb) return a - b;
  if (sa && !sb) return tg__sym_make(tg__sym_slot(a), tg__sym_offset(a) - b);
  if (sa && sb && tg__sym_slot(a) == tg__sym_slot(b)) return tg__sym_offset(a) - tg__sym_offset(b);
  *ok = 0;
  return -1;
}

TG__PRIVATE int tg__shape_has_sym(int ndim, const int64_t *shape) {
  for (int i = 0; i < ndim; i++)
    if (tg__is_sym(shape[i])) return 1;
  return 0;
}

TG__PRIVATE int64_t tg__numel_max(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= tg__sym_max(shape[i]);
  return n;
}

/* a variable of that name and those bounds: the same slot as before when one matches (tinygrad's Variables are equal
 * by name and bounds), else a new one; -1 with an error naming fn */
TG__PRIVATE int tg__var_register(const char *fn, const char *name, int64_t min, int64_t max) {
  if (!name || !*name || strlen(name) >= sizeof tg__vars[0].name) {
    tg__set_error("%s: a variable needs a name of 1 to %d bytes", fn, (int)sizeof tg__vars[0].name - 1);
    return -1;
  }
  if (min < 0 || max < min || max > INT32_MAX) {
    tg__set_error("%s: variable '%s' has bounds [%lld, %lld]; they must satisfy 0 <= min <= max <= 2^31-1", fn, name,
                  (long long)min, (long long)max);
    return -1;
  }
  for (int i = 0; i < tg__nvars; i++)
    if (!strcmp(tg__vars[i].name, name) && tg__vars[i].min == min && tg__vars[i].max == max) return i;
  if (tg__nvars == TG__MAX_VARS) {
    tg__set_error("%s: variable '%s': a program may define at most %d variables", fn, name, TG__MAX_VARS);
    return -1;
  }
  tg__var_info *v = &tg__vars[tg__nvars];
  snprintf(v->name, sizeof v->name, "%s", name);
  v->min = min, v->max = max, v->value = min, v->bound = 0, v->slot = tg__nvars;
  return tg__nvars++;
}

TG__PRIVATE tg__uop *tg__var_node(int slot) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  int64_t mm[2] = {tg__vars[slot].min, tg__vars[slot].max};
  a.i = slot;
  a.nints = 2;
  a.ints = mm;
  return tg__uop0(TG__OP_DEFINE_VAR, TG_INT32, &a);
}

TG__PRIVATE tg__uop *tg__var_bind_node(int slot, int64_t v) {
  return tg__uop2(TG__OP_BIND, TG_INT32, tg__var_node(slot), tg__const_int(TG_INT32, v), NULL);
}

/* Sizes in checked arithmetic: a result past TG__MAX_NUMEL (or a negative operand) is -1, never a wrapped value. Every
 * shape a function builds from user integers goes through these before any node is made. */
TG__PRIVATE int64_t tg__size_mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return -1;
  if (a == 0 || b == 0) return 0;
  return a > TG__MAX_NUMEL / b ? -1 : a * b;
}

TG__PRIVATE int64_t tg__size_add(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || a > TG__MAX_NUMEL - b) return -1;
  return a + b;
}

/* zeros count as ones: a (0, 2^40, 2^40) tensor is empty, but summing away its first axis is not */
TG__PRIVATE int64_t tg__shape_span(int ndim, const int64_t *shape) {
  int64_t p = 1;
  for (int i = 0; i < ndim && p >= 0; i++) p = tg__size_mul(p, shape[i] ? tg__sym_max(shape[i]) : 1);
  return p;
}

TG__PRIVATE int tg__check_shape(const char *fn, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > TG_MAX_DIMS || (ndim && !shape)) {
    tg__set_error("%s: %d dimensions (at most %d)", fn, ndim, TG_MAX_DIMS);
    return -1;
  }
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0 && !tg__is_sym(shape[i])) {
      tg__set_error("%s: negative size %lld in dimension %d", fn, (long long)shape[i], i);
      return -1;
    }
  return tg__check_span(fn, ndim, shape);
}

TG__PRIVATE int tg__check_span(const char *fn, int ndim, const int64_t *shape) {
  if (tg__shape_span(ndim, shape) >= 0) return 0;
  char b[128];
  tg__set_error("%s: shape %s is too large: its sizes multiply past %lld elements (zero sizes counted as 1)", fn,
                tg__shape_str(ndim, shape, b, sizeof b), (long long)TG__MAX_NUMEL);
  return -1;
}

TG__PRIVATE int tg__check_dtype(const char *fn, tg_dtype dt) {
  if ((int)dt < 0 || (int)dt >= TG_NDTYPES) {
    tg__set_error("%s: %d is not a tg_dtype", fn, (int)dt);
    return -1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the tensor graph's builders (nodes in, node out)

static tg__uop *tg__movement(tg__op op, tg__uop *x, int nints, const int64_t *ints, int64_t i) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.nints = nints;
  a.ints = ints;
  a.i = i;
  return tg__uop1(op, x->dtype, x, &a);
}

static int tg__same_shape(const tg__uop *x, int ndim, const int64_t *shape) {
  return x->ndim == ndim && (!ndim || memcmp(x->shape, shape, sizeof(int64_t) * (size_t)ndim) == 0);
}

TG__PRIVATE tg__uop *tg__treshape(tg__uop *x, int ndim, const int64_t *shape) {
  if (!x) return NULL;
  if (tg__same_shape(x, ndim, shape)) return x;
  /* reshape(reshape(x)) is not collapsed here: x may be a leaf a gradient is asked for. Lowering folds the chain. */
  return tg__movement(TG__OP_RESHAPE, x, ndim, shape, 0);
}

TG__PRIVATE tg__uop *tg__texpand(tg__uop *x, const int64_t *shape) {
  if (!x) return NULL;
  if (tg__same_shape(x, x->ndim, shape)) return x;
  return tg__movement(TG__OP_EXPAND, x, x->ndim, shape, 0);
}

TG__PRIVATE tg__uop *tg__tpermute(tg__uop *x, const int *perm) {
  if (!x) return NULL;
  int64_t p[TG_MAX_DIMS];
  int ident = 1;
  for (int i = 0; i < x->ndim; i++) {
    p[i] = perm[i];
    ident &= perm[i] == i;
  }
  return ident ? x : tg__movement(TG__OP_PERMUTE, x, x->ndim, p, 0);
}

TG__PRIVATE tg__uop *tg__tpad(tg__uop *x, const int64_t *pads) {
  if (!x) return NULL;
  int any = 0;
  for (int i = 0; i < 2 * x->ndim; i++) any |= pads[i] != 0;
  return any ? tg__movement(TG__OP_PAD, x, 2 * x->ndim, pads, 0) : x;
}

TG__PRIVATE tg__uop *tg__tshrink(tg__uop *x, const int64_t *bounds) {
  if (!x) return NULL;
  int any = 0;
  for (int i = 0; i < x->ndim; i++) any |= bounds[2 * i] != 0 || bounds[2 * i + 1] != x->shape[i];
  return any ? tg__movement(TG__OP_SHRINK, x, 2 * x->ndim, bounds, 0) : x;
}

TG__PRIVATE tg__uop *tg__tflip(tg__uop *x, int64_t mask) {
  if (!x) return NULL;
  for (int i = 0; i < x->ndim; i++)
    if (x->shape[i] == 1) mask &= ~(1LL << i);
  return mask ? tg__movement(TG__OP_FLIP, x, 0, NULL, mask) : x;
}

TG__PRIVATE tg__uop *tg__tfull(double v, tg_dtype dt, int ndim, const int64_t *shape) {
  int64_t ones[TG_MAX_DIMS];
  for (int i = 0; i < ndim; i++) ones[i] = 1;
  tg__uop *c = tg__const(dt, v);
  return ndim ? tg__texpand(tg__treshape(c, ndim, ones), shape) : c;
}

TG__PRIVATE tg__uop *tg__tfull_like(tg__uop *x, double v, tg_dtype dt) { return tg__tfull(v, dt, x->ndim, x->shape); }

TG__PRIVATE tg__uop *tg__tcast(tg__uop *x, tg_dtype dt) {
  if (!x) return NULL;
  return x->dtype == dt ? x : tg__uop1(TG__OP_CAST, dt, x, NULL);
}

/* a REDUCE_AXIS; `split` marks the two stages of a split reduction (arg.f = 1), which are not split again */
static tg__uop *tg__reduce_axis(tg__uop *x, tg__op op, int64_t mask, int split) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = mask;
  a.i2 = op;
  a.f = split;
  return tg__uop1(TG__OP_REDUCE_AXIS, x->dtype, x, &a);
}

/* A reduction of many elements into few outputs would run on one thread per output: it becomes two kernels, as
 * tinygrad's split_reduceop. One reduced axis of size n is split into (d, n/d), d moved last; the first kernel reduces
 * the original axes, leaving d partial results per output (d from 256 down to 8, a divisor of n, at most 2^22
 * partial results in all), and the second reduces those. Only where each output reduces 32768 elements or more
 * (REDUCEOP_SPLIT_THRESHOLD; SPLIT_REDUCEOP=0 turns it off), never along a broadcast axis (its loads are one), and
 * for fewer than 16 outputs: split, batchnorm's 32 channel statistics got the matmul tile of the heuristic, 128
 * copies of an index with divisions, and the first two MNIST steps compiled for 77 s instead of 15 s (tinygrad
 * splits them; that waits for an optimiser that sees the cost of an index). A GPU's schedule splits reductions to
 * fewer than max_out = 2^19 outputs too (tg__kernelize), whose workgroups then fill the GPU: BatchNorm's 32 channel
 * statistics ran in 32 workgroups on an H200's 132 SMs. */
TG__PRIVATE tg__uop *tg__split_reduce(tg__uop *x, tg__op op, int64_t mask, int64_t max_out) {
  int64_t out = 1, in = 1;
  for (int i = 0; i < x->ndim; i++) {
    in *= x->shape[i];
    if (!((mask >> i) & 1)) out *= x->shape[i];
  }
  if (!tg__getenv_int("SPLIT_REDUCEOP", 1) || x->ndim >= TG_MAX_DIMS || out == 0 || out >= max_out ||
      in / out < tg__getenv_int("REDUCEOP_SPLIT_THRESHOLD", 32768))
    return NULL;
  int64_t dmax = ((int64_t)1 << 22) / out < 256 ? ((int64_t)1 << 22) / out : 256;
  int axis = -1;
  int64_t d = 0;
  for (int i = 0; i < x->ndim && axis < 0; i++) {
    if (!((mask >> i) & 1) || (x->op == TG__OP_EXPAND && x->src[0]->shape[i] == 1)) continue;
    for (int64_t c = dmax; c >= 8 && axis < 0; c--)
      if (x->shape[i] % c == 0) axis = i, d = c;
  }
  if (axis < 0) return NULL;
  int64_t shape[TG_MAX_DIMS + 1];
  int perm[TG_MAX_DIMS + 1], n = 0;
  for (int i = 0; i < x->ndim; i++) {
    if (i == axis) shape[n++] = d;
    shape[n++] = i == axis ? x->shape[i] / d : x->shape[i];
  }
  for (int i = 0, k = 0; i < n; i++)
    if (i != axis) perm[k++] = i;
  perm[n - 1] = axis;
  /* after the permute the axes keep their numbers (n/d takes the place of the split axis) and d is the last */
  tg__uop *part = tg__reduce_axis(tg__tpermute(tg__treshape(x, n, shape), perm), op, mask, 1);
  part = tg__uop1(TG__OP_CONTIGUOUS, part->dtype, part, NULL);
  int64_t keep[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) keep[i] = (mask >> i) & 1 ? 1 : x->shape[i];
  return tg__treshape(tg__reduce_axis(part, op, 1LL << (n - 1), 1), x->ndim, keep);
}

TG__PRIVATE tg__uop *tg__treduce(tg__uop *x, tg__op op, int64_t mask) {
  if (!x) return NULL;
  for (int i = 0; i < x->ndim; i++)
    if (x->shape[i] == 1) mask &= ~(1LL << i);
  if (!mask) return x;
  tg__uop *split = tg__split_reduce(x, op, mask, 16);
  return split ? split : tg__reduce_axis(x, op, mask, 0);
}

/* broadcasts two nodes to a common shape (numpy rules); NULL with an error on mismatch */
TG__PRIVATE int tg__broadcast(const char *fn, tg__uop **a, tg__uop **b) {
  tg__uop *x = *a, *y = *b;
  int nd = x->ndim > y->ndim ? x->ndim : y->ndim;
  int64_t xs[TG_MAX_DIMS], ys[TG_MAX_DIMS], out[TG_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    int xi = i - (nd - x->ndim), yi = i - (nd - y->ndim);
    xs[i] = xi >= 0 ? x->shape[xi] : 1;
    ys[i] = yi >= 0 ? y->shape[yi] : 1;
    if (xs[i] != ys[i] && xs[i] != 1 && ys[i] != 1) {
      char b1[128], b2[128];
      tg__set_error("%s: shapes %s and %s do not broadcast (axis %d: %lld vs %lld)", fn, TG__SHAPE(x, b1),
                    TG__SHAPE(y, b2), i, (long long)xs[i], (long long)ys[i]);
      return -1;
    }
    out[i] = xs[i] == 1 ? ys[i] : xs[i];
  }
  if (tg__shape_span(nd, out) < 0) {
    char b1[128], b2[128];
    tg__set_error("%s: shapes %s and %s broadcast to more than %lld elements", fn, TG__SHAPE(x, b1), TG__SHAPE(y, b2),
                  (long long)TG__MAX_NUMEL);
    return -1;
  }
  *a = tg__texpand(tg__treshape(x, nd, xs), out);
  *b = tg__texpand(tg__treshape(y, nd, ys), out);
  return 0;
}

/* the binary ALU on two nodes of one shape and dtype */
TG__PRIVATE tg__uop *tg__talu(tg__op op, tg__uop *a, tg__uop *b) {
  if (!a || !b) return NULL;
  return tg__uop2(op, tg__op_is_cmp(op) ? TG_BOOL : a->dtype, a, b, NULL);
}

TG__PRIVATE tg__uop *tg__talu1(tg__op op, tg__uop *a) { return a ? tg__uop1(op, a->dtype, a, NULL) : NULL; }

TG__PRIVATE tg__uop *tg__twhere(tg__uop *c, tg__uop *a, tg__uop *b) {
  if (!c || !a || !b) return NULL;
  return tg__uop3(TG__OP_WHERE, a->dtype, c, a, b, NULL);
}

/* a node, or what it became when realised (its `becomes` links followed) */
TG__PRIVATE tg__uop *tg__base(tg__uop *u) {
  while (u && u->becomes) u = u->becomes;
  return u;
}

/* start + step * i for i in [0, n): an ARANGE node, computed inside whatever kernel reads it */
TG__PRIVATE tg__uop *tg__tarange(int64_t n, double start, double step, tg_dtype dt) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = n;
  tg__uop *r = tg__tcast(tg__uop0(TG__OP_ARANGE, TG_INT32, &a), dt);
  if (step != 1) r = tg__talu(TG__OP_MUL, r, tg__tfull(step, dt, 1, &n));
  if (start != 0) r = tg__talu(TG__OP_ADD, r, tg__tfull(start, dt, 1, &n));
  return r;
}

/* positions along an axis (ARANGE) count in int32: an axis longer than that is an error naming fn */
TG__PRIVATE int tg__check_arange(const char *fn, int64_t n) {
  if (n <= INT32_MAX) return 0;
  tg__set_error("%s: an axis of %lld elements is longer than the 2^31-1 positions it can be indexed by (int32)", fn,
                (long long)n);
  return -1;
}

/* python's rules for a slice's negative and open (TG_END) bounds over n elements: *start and *stop made concrete,
 * inside [0, n] for a positive step and [-1, n-1] for a negative one */
TG__PRIVATE void tg__slice_bounds(int64_t n, int64_t *start_, int64_t *stop_, int64_t step) {
  int64_t start = *start_, stop = *stop_;
  if (step > 0) {
    if (start < 0) start += n;
    if (stop == TG_END) stop = n;
    else if (stop < 0) stop += n;
    start = start < 0 ? 0 : start > n ? n : start;
    stop = stop < start ? start : stop > n ? n : stop;
  } else {
    if (start == TG_END) start = n - 1;
    else if (start < 0) start += n;
    if (stop == TG_END) stop = -1;
    else if (stop < 0) stop += n;
    start = start < -1 ? -1 : start > n - 1 ? n - 1 : start;
    stop = stop < -1 ? -1 : stop > start ? start : stop;
  }
  *start_ = start, *stop_ = stop;
}

/* x[start:stop:step] along one axis, with python's rules for negative and open bounds */
TG__PRIVATE tg__uop *tg__tslice(tg__uop *x, int a, int64_t start, int64_t stop, int64_t step) {
  tg__slice_bounds(x->shape[a], &start, &stop, step);
  int64_t b[2 * TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) b[2 * i] = 0, b[2 * i + 1] = x->shape[i];
  if (step > 0) b[2 * a] = start, b[2 * a + 1] = stop;
  else b[2 * a] = stop + 1, b[2 * a + 1] = start + 1;
  x = tg__tshrink(x, b);
  if (step < 0) x = tg__tflip(x, 1LL << a);
  int64_t s = step == INT64_MIN ? INT64_MAX : step < 0 ? -step : step, len = x->shape[a];
  if (s >= len && len > 1) { /* a step past the end keeps the first element (no len + s - 1 to overflow) */
    for (int i = 0; i < x->ndim; i++) b[2 * i] = 0, b[2 * i + 1] = x->shape[i];
    b[2 * a + 1] = 1;
    return tg__tshrink(x, b);
  }
  if (s > 1 && len > 0) {
    /* pad to a multiple of s, split the axis into (len/s, s), keep column 0; s < len, so m * s < 2 * len fits */
    int64_t m = (len - 1) / s + 1, pads[2 * TG_MAX_DIMS] = {0}, sh[TG_MAX_DIMS + 1], kb[2 * (TG_MAX_DIMS + 1)];
    pads[2 * a + 1] = m * s - len;
    x = tg__tpad(x, pads);
    int k = 0;
    for (int i = 0; i < x->ndim; i++) {
      if (i == a) { sh[k++] = m; sh[k++] = s; }
      else sh[k++] = x->shape[i];
    }
    x = tg__treshape(x, k, sh);
    for (int i = 0; i < k; i++) kb[2 * i] = 0, kb[2 * i + 1] = sh[i];
    kb[2 * (a + 1) + 1] = 1;
    x = tg__tshrink(x, kb);
    sh[a + 1] = 1;
    for (int i = a + 1; i < k - 1; i++) sh[i] = sh[i + 1];
    x = tg__treshape(x, k - 1, sh);
  }
  return x;
}
