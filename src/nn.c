/* nn.c: the nn functional forms (dropout, losses, pooling, interpolation, attention, conv1d, conv_transpose2d), the
 * initialisers and the layers (Linear, Conv2d, Conv1d, ConvTranspose2d, BatchNorm, LayerNorm, RMSNorm, GroupNorm,
 * Embedding), each following tinygrad's Tensor method or nn class of the same name (layer 5).
 *
 * Contract:
 *  - Everything is composed of the public tensor ops (and the movement builders of internal.h), so every function is
 *    lazy, fuses like tinygrad's, and is differentiable through gradient.c's rules. No loop here touches tensor data.
 *  - A function validates all of its arguments before it builds anything: a bad argument gives NULL (or -1) and a
 *    tg_error() message naming the function and the shapes. A NULL operand gives NULL.
 *  - A composite builds inside its own scope (tg_scope_begin) and keeps only its result, so intermediates never leak
 *    into the caller's scope.
 *  - Layers own their parameter tensors: _init moves them out of any open scope, _free frees them and zeroes the
 *    struct (a zeroed struct is fine to free). A failing _init leaves the struct zeroed.
 *  - Randomness (dropout, initialisers) comes from the seeded generator of ops.c (tg_manual_seed). */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// helpers

static int tg__train = 0;

int tg_set_training(int on) {
  TG__LOCKED();
  int prev = tg__train;
  tg__train = on != 0;
  return prev;
}

/* ends the scope a composite opened, keeping its result r (NULL passes through) */
static tg_tensor *tg__nn_done(tg_tensor *r) {
  tg_keep(r);
  tg_scope_end();
  return r;
}

static tg_tensor *tg__nn_wrap(tg__uop *u, const tg_tensor *like) { return tg__tensor_wrap(u, like->dev); }

/* numpy broadcasting of two shapes (without building anything) */
static int tg__nn_bcast(int na, const int64_t *a, int nb, const int64_t *b) {
  for (int i = 1; i <= na && i <= nb; i++)
    if (a[na - i] != b[nb - i] && a[na - i] != 1 && b[nb - i] != 1) return 0;
  return 1;
}
static int tg__nn_broadcastable(const tg__uop *a, const tg__uop *b) {
  return tg__nn_bcast(a->ndim, a->shape, b->ndim, b->shape);
}

/* (d0, ..., dn) -> the same shape with one axis removed */
static int tg__nn_drop_axis(const tg__uop *x, int axis, int64_t *out) {
  int n = 0;
  for (int i = 0; i < x->ndim; i++)
    if (i != axis) out[n++] = x->shape[i];
  return n;
}

/* the integer dtype for index arithmetic whose values stay below bound */
static tg_dtype tg__nn_index_dtype(double bound) { return bound < 2147483647.0 ? TG_INT32 : TG_INT64; }

/* r, or NULL with the error prefixed by fn (the public function the user called) */
static tg_tensor *tg__nn_context(const char *fn, tg_tensor *r) {
  if (!r) tg__error_context(fn);
  return r;
}

/* a parameter belongs to its layer, never to a scope */
static tg_tensor *tg__nn_own(tg_tensor *t) {
  while (t && t->scope > 0) tg_keep(t);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------------
// dropout

/* training: zero each element with probability p, scale the rest by 1/(1-p) (tinygrad's mask of rand >= p) */
tg_tensor *tg_dropout(tg_tensor *x, double p) {
  TG__LOCKED();
  TG__NEED("tg_dropout", x);
  if (!(p >= 0 && p <= 1)) {
    tg__set_error("tg_dropout: p = %g is out of range [0, 1]", p);
    return NULL;
  }
  if (!tg__train || p == 0) return tg__nn_wrap(x->uop, x);
  if (p == 1) return tg_zeros_like(x);
  tg_scope_begin();
  tg_tensor *r = tg__nn_context("tg_dropout", tg_rand(tg__default_float(), x->uop->ndim, x->uop->shape));
  if (!r) return tg__nn_done(NULL);
  tg_tensor *keep = tg_logical_not(tg_lt_s(r, p)); /* r is realised once, so the backward reads the same mask */
  return tg__nn_done(tg_div_s(tg_where(keep, x, tg_zeros_like(x)), 1.0 - p));
}

// ---------------------------------------------------------------------------------------------------------------------
// losses

static int tg__nn_smoothing_ok(const char *fn, double ls) {
  if (ls >= 0 && ls <= 1) return 0;
  tg__set_error("%s: label_smoothing = %g is out of range [0, 1]", fn, ls);
  return -1;
}

/* class indices (...) -> a one-hot int32 tensor with the classes on `axis` of the result */
static tg_tensor *tg__nn_one_hot_at(tg_tensor *idx, int64_t classes, int axis) {
  tg_tensor *oh = tg_one_hot(idx, classes); /* (..., C) */
  int nd = tg_ndim(oh), perm[TG_MAX_DIMS], n = 0;
  if (!oh || axis == nd - 1) return oh;
  for (int i = 0; i < nd - 1; i++) {
    if (i == axis) perm[n++] = nd - 1;
    perm[n++] = i;
  }
  return tg_permute(oh, nd, perm);
}

/* a loss's per-element values reduced as asked: their mean, their sum or themselves (tinygrad's _do_reduction) */
static int tg__nn_reduction_ok(const char *fn, int reduction) {
  if (reduction == TG_REDUCTION_MEAN || reduction == TG_REDUCTION_SUM || reduction == TG_REDUCTION_NONE) return 0;
  tg__set_error("%s: reduction %d is none of TG_REDUCTION_MEAN, TG_REDUCTION_SUM, TG_REDUCTION_NONE", fn, reduction);
  return -1;
}
static tg_tensor *tg__nn_reduce(tg_tensor *x, int reduction) {
  return reduction == TG_REDUCTION_NONE ? x : reduction == TG_REDUCTION_SUM ? tg_sum(x, 0, NULL, 0)
                                                                            : tg_mean(x, 0, NULL, 0);
}

/* logits (N, C, ...) (or (C,)); target: the same shape (probabilities) or the shape without C (class indices).
 * -mean(sum_C(log_softmax(logits) * ((1-ls) Y + ls/C))), as tinygrad's cross_entropy */
tg_tensor *tg_cross_entropy(tg_tensor *logits, tg_tensor *target, double label_smoothing) {
  TG__LOCKED();
  return tg_cross_entropy_r(logits, target, label_smoothing, TG_REDUCTION_MEAN);
}
tg_tensor *tg_cross_entropy_r(tg_tensor *logits, tg_tensor *target, double label_smoothing, int reduction) {
  TG__LOCKED();
  TG__NEED("tg_cross_entropy", logits);
  TG__NEED("tg_cross_entropy", target);
  if (tg__nn_smoothing_ok("tg_cross_entropy", label_smoothing) < 0) return NULL;
  if (tg__nn_reduction_ok("tg_cross_entropy", reduction) < 0) return NULL;
  tg__uop *x = logits->uop, *y = target->uop;
  char b1[128], b2[128];
  int cd = x->ndim == 1 ? 0 : 1, probs = x->ndim >= 1 && x->ndim == y->ndim;
  for (int i = 0; probs && i < x->ndim; i++) probs = x->shape[i] == y->shape[i];
  int64_t want[TG_MAX_DIMS];
  int nw = x->ndim ? tg__nn_drop_axis(x, cd, want) : 0, ok = probs;
  if (!probs && x->ndim >= 1 && y->ndim == nw && !tg_dtype_is_float(y->dtype) && y->dtype != TG_BOOL) {
    ok = 1;
    for (int i = 0; i < nw; i++) ok &= y->shape[i] == want[i];
  }
  if (!ok) {
    tg__set_error("tg_cross_entropy: logits %s and target %s (%s) do not fit; HINT: the target is either "
                  "probabilities of the logits' shape or integer class indices of its shape without axis %d",
                  TG__SHAPE(x, b1), TG__SHAPE(y, b2), tg_dtype_name(y->dtype), cd);
    return NULL;
  }
  int64_t classes = x->shape[cd];
  tg_scope_begin();
  tg_tensor *yt = probs ? target : tg__nn_one_hot_at(target, classes, cd);
  yt = tg_add_s(tg_mul_s(yt, 1 - label_smoothing), label_smoothing / (double)classes);
  tg_tensor *s = tg_sum(tg_mul(tg_log_softmax(logits, cd), yt), TG_AXES(cd), 0);
  return tg__nn_done(tg__nn_reduce(tg_neg(s), reduction));
}

/* logits (..., C), labels (...): labels equal to ignore_index (unless it is -1) count for nothing, in the sum and in
 * the count it is divided by (tinygrad's sparse_categorical_crossentropy) */
tg_tensor *tg_sparse_categorical_crossentropy(tg_tensor *logits, tg_tensor *labels, int64_t ignore_index,
                                              double label_smoothing) {
  TG__LOCKED();
  return tg_sparse_categorical_crossentropy_r(logits, labels, ignore_index, label_smoothing, TG_REDUCTION_MEAN);
}
tg_tensor *tg_sparse_categorical_crossentropy_r(tg_tensor *logits, tg_tensor *labels, int64_t ignore_index,
                                                double label_smoothing, int reduction) {
  TG__LOCKED();
  const char *fn = "tg_sparse_categorical_crossentropy";
  TG__NEED(fn, logits);
  TG__NEED(fn, labels);
  if (tg__nn_smoothing_ok(fn, label_smoothing) < 0 || tg__nn_reduction_ok(fn, reduction) < 0) return NULL;
  tg__uop *x = logits->uop, *y = labels->uop;
  char b1[128], b2[128];
  int ok = x->ndim >= 1 && y->ndim == x->ndim - 1 && !tg_dtype_is_float(y->dtype) && y->dtype != TG_BOOL;
  for (int i = 0; ok && i < y->ndim; i++) ok = y->shape[i] == x->shape[i];
  if (!ok) {
    tg__set_error("%s: logits %s and labels %s (%s) do not fit; HINT: logits (..., C), integer labels (...)", fn,
                  TG__SHAPE(x, b1), TG__SHAPE(y, b2), tg_dtype_name(y->dtype));
    return NULL;
  }
  double ls = label_smoothing;
  tg_scope_begin();
  tg_tensor *lp = tg_log_softmax(logits, -1);
  tg_tensor *mask = ignore_index != -1 ? tg_logical_not(tg_eq_s(labels, (double)ignore_index))
                                       : tg_full(1, TG_BOOL, y->ndim, y->shape);
  tg_tensor *oh = tg_mul(tg_one_hot(labels, x->shape[x->ndim - 1]), tg_unsqueeze(mask, -1));
  tg_tensor *smooth = tg_mul_s(tg_mul(tg_mean(lp, TG_AXES(-1), 0), mask), ls);
  tg_tensor *per = tg_add(tg_mul_s(tg_sum(tg_mul(lp, oh), TG_AXES(-1), 0), 1 - ls), smooth);
  if (reduction != TG_REDUCTION_MEAN) return tg__nn_done(tg__nn_reduce(tg_neg(per), reduction));
  return tg__nn_done(tg_div(tg_neg(tg_sum(per, 0, NULL, 0)), tg_sum(mask, 0, NULL, 0)));
}

/* -logprobs[n, target[n], ...] * weight[target[n]], the ignored targets weighing 0; the mean divides by the weights'
 * sum (tinygrad's and PyTorch's nll_loss) */
tg_tensor *tg_nll_loss(tg_tensor *logprobs, tg_tensor *target, tg_tensor *weight, int64_t ignore_index, int reduction) {
  TG__LOCKED();
  const char *fn = "tg_nll_loss";
  TG__NEED(fn, logprobs);
  TG__NEED(fn, target);
  if (tg__nn_reduction_ok(fn, reduction) < 0) return NULL;
  tg__uop *x = logprobs->uop, *y = target->uop;
  char b1[128], b2[128];
  int ok = x->ndim >= 1 && y->ndim == x->ndim - 1 && !tg_dtype_is_float(y->dtype) && y->dtype != TG_BOOL;
  for (int i = 0; ok && i < y->ndim; i++) ok = y->shape[i] == x->shape[i < 1 ? 0 : i + 1];
  if (ok && weight) ok = weight->uop->ndim == 1 && weight->uop->shape[0] == x->shape[x->ndim == 1 ? 0 : 1];
  if (!ok) {
    tg__set_error("%s: log-probabilities %s, target %s (%s)%s do not fit; HINT: (N, C, d...) and integer (N, d...), "
                  "weight (C,)", fn, TG__SHAPE(x, b1), TG__SHAPE(y, b2), tg_dtype_name(y->dtype),
                  weight ? " and the weight" : "");
    return NULL;
  }
  int cd = x->ndim == 1 ? 0 : 1;
  tg_scope_begin();
  tg_tensor *picked = tg_squeeze(tg_gather(logprobs, cd, tg_unsqueeze(target, cd)), cd);
  tg_tensor *w = weight ? tg_reshape(tg_gather(weight, 0, tg_flatten(target, 0, -1)), y->ndim, y->shape)
                        : tg_full(1, tg_dtype_of(picked), y->ndim, y->shape);
  if (ignore_index != TG_IGNORE_NONE) w = tg_mul(w, tg_logical_not(tg_eq_s(target, (double)ignore_index)));
  tg_tensor *nll = tg_mul(tg_neg(picked), w);
  if (reduction != TG_REDUCTION_MEAN) return tg__nn_done(tg__nn_reduce(nll, reduction));
  return tg__nn_done(tg_div(tg_sum(nll, 0, NULL, 0), tg_sum(w, 0, NULL, 0)));
}

static int tg__nn_pair_ok(const char *fn, tg_tensor *a, tg_tensor *b) {
  if (!a || !b) {
    tg__null(fn);
    return -1;
  }
  if (tg__nn_broadcastable(a->uop, b->uop)) return 0;
  char b1[128], b2[128];
  tg__set_error("%s: shapes %s and %s do not broadcast", fn, TG__SHAPE(a->uop, b1), TG__SHAPE(b->uop, b2));
  return -1;
}

/* mean(-t log(p) - (1-t) log(1-p)) */
tg_tensor *tg_binary_crossentropy(tg_tensor *probs, tg_tensor *target) {
  TG__LOCKED();
  return tg_binary_crossentropy_r(probs, target, TG_REDUCTION_MEAN);
}
tg_tensor *tg_binary_crossentropy_r(tg_tensor *probs, tg_tensor *target, int reduction) {
  TG__LOCKED();
  if (tg__nn_pair_ok("tg_binary_crossentropy", probs, target) < 0 ||
      tg__nn_reduction_ok("tg_binary_crossentropy", reduction) < 0)
    return NULL;
  tg_scope_begin();
  tg_tensor *pos = tg_mul(tg_neg(target), tg_log(probs));
  tg_tensor *neg = tg_mul(tg_rsub_s(1, target), tg_log(tg_rsub_s(1, probs)));
  return tg__nn_done(tg__nn_reduce(tg_sub(pos, neg), reduction));
}

/* -(w t log(sigmoid(x)) + (1-t) log(sigmoid(-x))), w the positives' weight (1 without) */
tg_tensor *tg_binary_crossentropy_logits(tg_tensor *logits, tg_tensor *target) {
  TG__LOCKED();
  return tg_binary_crossentropy_logits_r(logits, target, NULL, TG_REDUCTION_MEAN);
}
tg_tensor *tg_binary_crossentropy_logits_r(tg_tensor *logits, tg_tensor *target, tg_tensor *pos_weight,
                                           int reduction) {
  TG__LOCKED();
  const char *fn = "tg_binary_crossentropy_logits";
  if (tg__nn_pair_ok(fn, logits, target) < 0 || tg__nn_reduction_ok(fn, reduction) < 0) return NULL;
  if (pos_weight && tg__nn_pair_ok(fn, logits, pos_weight) < 0) return NULL;
  tg_scope_begin();
  tg_tensor *lp = tg_logsigmoid(logits), *l1p = tg_logsigmoid(tg_neg(logits));
  tg_tensor *pos = tg_mul(target, lp);
  if (pos_weight) pos = tg_mul(pos_weight, pos);
  tg_tensor *sum = tg_add(pos, tg_mul(tg_rsub_s(1, target), l1p));
  return tg__nn_done(tg__nn_reduce(tg_neg(sum), reduction));
}

tg_tensor *tg_mse(tg_tensor *x, tg_tensor *target) { TG__LOCKED(); return tg_mse_r(x, target, TG_REDUCTION_MEAN); }
tg_tensor *tg_mse_r(tg_tensor *x, tg_tensor *target, int reduction) {
  TG__LOCKED();
  if (tg__nn_pair_ok("tg_mse", x, target) < 0 || tg__nn_reduction_ok("tg_mse", reduction) < 0) return NULL;
  tg_scope_begin();
  return tg__nn_done(tg__nn_reduce(tg_square(tg_sub(x, target)), reduction));
}

tg_tensor *tg_softmin(tg_tensor *x, int axis) {
  TG__LOCKED();
  TG__NEED("tg_softmin", x);
  tg_scope_begin();
  return tg__nn_done(tg_softmax(tg_neg(x), axis));
}

/* x / max(||x||_p along axis, eps); p = 0 counts the nonzeros (tinygrad's and PyTorch's normalize) */
tg_tensor *tg_normalize(tg_tensor *x, double p, int axis, double eps) {
  TG__LOCKED();
  TG__NEED("tg_normalize", x);
  if (tg__axis("tg_normalize", axis, x->uop->ndim) < 0) return NULL;
  if (p < 0 || p != p) {
    tg__set_error("tg_normalize: p = %g; a norm's p is 0 or more", p);
    return NULL;
  }
  tg_scope_begin();
  tg_tensor *den = p == 0 ? tg_sum(tg_ne_s(x, 0), TG_AXES(axis), 1)
                          : tg_pow_s(tg_sum(tg_pow_s(tg_abs(x), p), TG_AXES(axis), 1), 1 / p);
  return tg__nn_done(tg_div(x, tg_maximum_s(den, eps)));
}

/* (x - mean) * weight * invstd + bias along axis 1, each (C,) (weight, bias NULL: none): tinygrad's batchnorm */
tg_tensor *tg_batchnorm(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_tensor *mean, tg_tensor *invstd) {
  TG__LOCKED();
  const char *fn = "tg_batchnorm";
  TG__NEED(fn, x);
  TG__NEED(fn, mean);
  TG__NEED(fn, invstd);
  tg__uop *u = x->uop;
  int64_t c = u->ndim >= 2 ? u->shape[1] : -1, shape[TG_MAX_DIMS];
  tg_tensor *ps[4] = {weight, bias, mean, invstd};
  int ok = c >= 0;
  for (int i = 0; ok && i < 4; i++) ok = !ps[i] || (ps[i]->uop->ndim == 1 && ps[i]->uop->shape[0] == c);
  if (!ok) {
    char b[128];
    tg__set_error("tg_batchnorm: input %s needs (N, C, ...) and weight, bias, mean and invstd of (C,)",
                  TG__SHAPE(u, b));
    return NULL;
  }
  for (int i = 0; i < u->ndim; i++) shape[i] = i == 1 ? c : 1;
  tg_scope_begin();
  tg_tensor *r = tg_sub(x, tg_reshape(mean, u->ndim, shape));
  if (weight) r = tg_mul(r, tg_reshape(weight, u->ndim, shape));
  r = tg_mul(r, tg_reshape(invstd, u->ndim, shape));
  if (bias) r = tg_add(r, tg_reshape(bias, u->ndim, shape));
  return tg__nn_done(r);
}

// ---------------------------------------------------------------------------------------------------------------------
// pooling: windows over the last nk axes (tg__tpool), reduced

/* a pooling's arguments, resolved: nk axes; kernel, stride, dilation; padding before (lo) and after (hi) each axis,
 * and the padding the user gave (rlo, rhi) before ceil_mode grew hi */
typedef struct tg__pool {
  int nk;
  int64_t k[TG_MAX_DIMS], s[TG_MAX_DIMS], d[TG_MAX_DIMS], lo[TG_MAX_DIMS], hi[TG_MAX_DIMS], rhi[TG_MAX_DIMS];
} tg__pool;

/* checks and resolves the options of a pooling of x (tinygrad's forms; ceil_mode as tinygrad's _apply_ceil_mode) */
static int tg__nn_pool_args(const char *fn, tg_tensor *x, const tg_pool_opts *opts, tg__pool *p) {
  if (!x) {
    tg__null(fn);
    return -1;
  }
  tg_pool_opts none;
  memset(&none, 0, sizeof none);
  const tg_pool_opts *o = opts ? opts : &none;
  tg__uop *u = x->uop;
  char b[128];
  int nk = o->nkernel ? o->nkernel : 2;
  if (nk < 1 || nk > u->ndim || u->ndim + 2 * nk > TG_MAX_DIMS) {
    tg__set_error("%s: %d pooled axes of input %s; HINT: pool 1 to %d axes, and at most (%d - ndim) / 2 of them",
                  fn, nk, TG__SHAPE(u, b), u->ndim, TG_MAX_DIMS);
    return -1;
  }
  p->nk = nk;
  for (int j = 0; j < nk; j++) p->k[j] = o->nkernel ? o->kernel[j] : 2;
  if (tg__axes_option(fn, "stride", o->nstride, o->stride, nk, 0, p->s) < 0 ||
      tg__axes_option(fn, "dilation", o->ndilation, o->dilation, nk, 1, p->d) < 0 ||
      tg__pads_option(fn, o->npadding, o->padding, nk, p->lo, p->hi) < 0)
    return -1;
  int nn = u->ndim - nk;
  for (int j = 0; j < nk; j++) {
    if (p->s[j] == 0) p->s[j] = p->k[j]; /* stride 0: the kernel */
    int64_t in = u->shape[nn + j], lo = p->lo[j], hi = p->hi[j];
    if (p->k[j] < 1 || p->s[j] < 1 || p->d[j] < 1 || llabs(lo) >= (1LL << 62) || llabs(hi) >= (1LL << 62)) {
      tg__set_error("%s: axis %d: kernel %lld, stride %lld, dilation %lld, padding (%lld, %lld); HINT: kernel, "
                    "stride and dilation at least 1 (stride 0: the kernel)", fn, nn + j, (long long)p->k[j],
                    (long long)p->s[j], (long long)p->d[j], (long long)lo, (long long)hi);
      return -1;
    }
    int64_t span = tg__size_add(tg__size_mul(p->d[j], p->k[j] - 1), 1), padded = in + lo + hi;
    if (span < 0 || padded < span || in + (lo < 0 ? lo : 0) + (hi < 0 ? hi : 0) < 0) {
      tg__set_error("%s: the window on axis %d (kernel %lld, dilation %lld) spans more than the input %s padded by "
                    "(%lld, %lld)", fn, nn + j, (long long)p->k[j], (long long)p->d[j], TG__SHAPE(u, b),
                    (long long)lo, (long long)hi);
      return -1;
    }
    p->rhi[j] = hi;
    if (o->ceil_mode) { /* the last window may start past the end (arxiv 1603.07285, relationship 15), not in the pad */
      int64_t s = p->s[j], out = (padded - span + s - 1) / s + 1, last = s * (out - 1);
      p->hi[j] = hi + last + span - padded - (last - (lo + in - 1) > 0 ? last - (lo + in - 1) : 0);
    }
  }
  int64_t padded[TG_MAX_DIMS];
  for (int j = 0; j < u->ndim; j++) padded[j] = u->shape[j] + (j >= nn ? p->lo[j - nn] + p->hi[j - nn] : 0);
  return tg__check_span(fn, u->ndim, padded) < 0 ? -1 : tg__pool_fits(fn, u->ndim, padded, nk, p->k, p->s, p->d);
}

/* x padded (lo, hi per pooled axis; negative crops) with v */
static tg__uop *tg__nn_pad_value(tg__uop *x, int nk, const int64_t *lo, const int64_t *hi, double v) {
  tg__uop *r = tg__tpad_ends(x, nk, lo, hi);
  if (v == 0 || r->ndim == 0) return r;
  tg__uop *mask = tg__tpad_ends(tg__tfull_like(x, 1, TG_BOOL), nk, lo, hi);
  return tg__twhere(mask, r, tg__tfull_like(r, v, r->dtype));
}

/* x (..., I...) padded with v as p says -> windows (..., O..., K...). Windows that do not overlap (k <= s and no
 * dilation on every axis) are a reshape of the padded input into stride blocks, cut to the kernel: the backward is
 * then a pad, not the sum over repeats that tg__tpool's general form (tinygrad's _pool) costs */
static tg__uop *tg__nn_windows(tg__uop *x, const tg__pool *p, double v) {
  int nd = x->ndim, nk = p->nk, nn = nd - nk, blocks = 1;
  int64_t hi[TG_MAX_DIMS] = {0}, o[TG_MAX_DIMS] = {0}; /* set below; zeroed for GCC -O2 -Wmaybe-uninitialized */
  for (int j = 0; j < nk; j++) {
    blocks &= p->k[j] <= p->s[j] && p->d[j] == 1;
    hi[j] = p->hi[j];
  }
  for (int j = 0; j < nk && blocks; j++) { /* pad (or crop) the end to o * stride */
    int64_t in = x->shape[nn + j];
    o[j] = (in + p->lo[j] + p->hi[j] - p->k[j]) / p->s[j] + 1;
    hi[j] = o[j] * p->s[j] - in - p->lo[j];
  }
  x = tg__nn_pad_value(x, nk, p->lo, hi, v);
  if (!blocks) return tg__tpool(x, nk, p->k, p->s, p->d);
  int64_t sh[TG_MAX_DIMS], b[2 * TG_MAX_DIMS];
  int perm[TG_MAX_DIMS];
  for (int j = 0; j < nn; j++) sh[j] = x->shape[j], perm[j] = j;
  for (int j = 0; j < nk; j++) { /* (..., o0, s0, o1, s1...) cut to (..., o0, k0, o1, k1...), to (..., O..., K...) */
    sh[nn + 2 * j] = o[j], sh[nn + 2 * j + 1] = p->s[j];
    perm[nn + j] = nn + 2 * j, perm[nn + nk + j] = nn + 2 * j + 1;
  }
  tg__uop *r = tg__treshape(x, nn + 2 * nk, sh);
  for (int j = 0; j < nn + 2 * nk; j++) b[2 * j] = 0, b[2 * j + 1] = sh[j];
  for (int j = 0; j < nk; j++) b[2 * (nn + 2 * j + 1) + 1] = p->k[j];
  return tg__tpermute(tg__tshrink(r, b), perm);
}

/* the windows' axes (the last nk of w) as a mask for the reductions */
static int64_t tg__nn_window_axes(const tg__uop *w, int nk) {
  int64_t mask = 0;
  for (int j = 0; j < nk; j++) mask |= 1LL << (w->ndim - 1 - j);
  return mask;
}

/* a / b, as tinygrad divides floats: a times b's reciprocal */
static tg__uop *tg__nn_udiv(tg__uop *a, tg__uop *b) {
  return tg__talu(TG__OP_MUL, a, tg__talu1(TG__OP_RECIPROCAL, b));
}

/* (..., O..., K...) reduced over the windows, kept as size 1 -> (..., O...) */
static tg__uop *tg__nn_unwindow(tg__uop *r, int nk) {
  return tg__treshape(r, r->ndim - nk, r->shape);
}

/* tinygrad's max_pool2d: the windows' maxima; with indices, the first maximum's flat position in the pooled axes
 * (tinygrad's: positions counted down from size, so that the largest marked one is the first) */
static tg_tensor *tg__max_pool(const char *fn, tg_tensor *x, const tg_pool_opts *o, tg_tensor **indices) {
  tg__pool p;
  if (indices) *indices = NULL;
  if (tg__nn_pool_args(fn, x, o, &p) < 0) return NULL;
  tg__uop *u = x->uop;
  int nk = p.nk, nn = u->ndim - nk;
  int64_t size = tg__prod(u->shape + nn, nk);
  if (indices && size > INT32_MAX) {
    tg__set_error("%s: the pooled axes hold %lld positions, more than an int32 index", fn, (long long)size);
    return NULL;
  }
  tg_scope_begin();
  tg__uop *w = tg__nn_windows(u, &p, tg__dtype_min(u->dtype));
  int64_t axes = tg__nn_window_axes(w, nk);
  tg__uop *m = tg__tmax(w, axes);
  tg_tensor *r = tg__nn_wrap(tg__nn_unwindow(m, nk), x);
  if (indices) {
    /* size - max over the window of (w == its max) * (size, size - 1, ...: the positions counted down) */
    tg__uop *down = tg__treshape(tg__tarange(size, (double)size, -1, TG_INT32), nk, u->shape + nn);
    tg__uop *dw = tg__nn_windows(down, &p, tg__dtype_min(TG_INT32)); /* (O..., K...) */
    int64_t one[TG_MAX_DIMS];
    for (int j = 0; j < w->ndim; j++) one[j] = j < nn ? 1 : w->shape[j];
    dw = tg__texpand(tg__treshape(dw, w->ndim, one), w->shape);
    tg__uop *hit = tg__twhere(tg__talu(TG__OP_CMPEQ, w, tg__texpand(m, w->shape)), dw, tg__tfull_like(dw, 0, TG_INT32));
    tg__uop *first = tg__nn_unwindow(tg__tmax(hit, axes), nk);
    tg_tensor *idx = tg__nn_wrap(tg__talu(TG__OP_SUB, tg__tfull_like(first, (double)size, TG_INT32), first), x);
    tg_keep(idx);
    *indices = idx;
  }
  return tg__nn_done(r);
}

/* tinygrad's avg_pool2d: padding counts as zeros; exclude_pad divides by the elements of the input only; ceil_mode's
 * extra windows divide by what they cover of the input padded as the user asked. Integers average as float32. */
static tg_tensor *tg__avg_pool(const char *fn, tg_tensor *x, const tg_pool_opts *o) {
  tg__pool p;
  if (tg__nn_pool_args(fn, x, o, &p) < 0) return NULL;
  tg_scope_begin();
  tg__uop *u = x->uop;
  if (!tg_dtype_is_float(u->dtype)) u = tg__tcast(u, TG_FLOAT32);
  tg__uop *w = tg__nn_windows(u, &p, 0);
  int64_t axes = tg__nn_window_axes(w, p.nk);
  int ceil = 0;
  for (int j = 0; j < p.nk; j++) ceil |= p.hi[j] != p.rhi[j];
  tg__uop *r;
  if (o && o->exclude_pad) {
    r = tg__nn_udiv(tg__tsum(w, axes), tg__tsum(tg__nn_windows(tg__tfull_like(u, 1, u->dtype), &p, 0), axes));
  } else if (!ceil) {
    r = tg__tmean(w, axes);
  } else { /* ones over the input padded by the user's padding, padded by the rest with zeros */
    tg__pool q = p;
    for (int j = 0; j < p.nk; j++) q.lo[j] = 0, q.hi[j] = p.hi[j] - p.rhi[j];
    tg__uop *ones = tg__tfull_like(tg__tpad_ends(u, p.nk, p.lo, p.rhi), 1, u->dtype);
    r = tg__nn_udiv(tg__tsum(w, axes), tg__tsum(tg__nn_windows(ones, &q, 0), axes));
  }
  return tg__nn_done(tg__nn_wrap(tg__nn_unwindow(r, p.nk), x));
}

tg_tensor *tg_max_pool(tg_tensor *x, const tg_pool_opts *o, tg_tensor **indices) {
  TG__LOCKED();
  return tg__max_pool("tg_max_pool", x, o, indices);
}

tg_tensor *tg_avg_pool(tg_tensor *x, const tg_pool_opts *o) {
  TG__LOCKED();
  return tg__avg_pool("tg_avg_pool", x, o);
}

/* the square pools' options: kernel k x k over (H, W) */
static tg_pool_opts tg__nn_square_pool(int kernel, int stride, int padding, int dilation) {
  tg_pool_opts o;
  memset(&o, 0, sizeof o);
  o.nkernel = 2, o.kernel[0] = o.kernel[1] = kernel;
  o.nstride = 1, o.stride[0] = stride;
  o.npadding = 1, o.padding[0] = padding;
  o.ndilation = 1, o.dilation[0] = dilation;
  return o;
}

static int tg__nn_square_pool_ok(const char *fn, tg_tensor *x, int stride, int padding) {
  if (!x || (stride >= 0 && padding >= 0)) return 0;
  tg__set_error("%s: stride %d, padding %d: needs stride >= 0 (0: the kernel) and padding >= 0", fn, stride, padding);
  return -1;
}

tg_tensor *tg_max_pool2d(tg_tensor *x, int kernel, int stride, int padding, int dilation) {
  TG__LOCKED();
  if (tg__nn_square_pool_ok("tg_max_pool2d", x, stride, padding) < 0) return NULL;
  tg_pool_opts o = tg__nn_square_pool(kernel, stride, padding, dilation);
  return tg__max_pool("tg_max_pool2d", x, &o, NULL);
}

tg_tensor *tg_avg_pool2d(tg_tensor *x, int kernel, int stride, int padding) {
  TG__LOCKED();
  if (tg__nn_square_pool_ok("tg_avg_pool2d", x, stride, padding) < 0) return NULL;
  tg_pool_opts o = tg__nn_square_pool(kernel, stride, padding, 1);
  return tg__avg_pool("tg_avg_pool2d", x, &o);
}

/* tinygrad's max_unpool2d: out[n, c, p] = sum over q of (indices[n, c, q] == p) * x[n, c, q], the spatial axes
 * flattened */
tg_tensor *tg_max_unpool(tg_tensor *x, tg_tensor *indices, const tg_pool_opts *opts, int n_out, const int64_t *out) {
  TG__LOCKED();
  const char *fn = "tg_max_unpool";
  TG__NEED(fn, x);
  TG__NEED(fn, indices);
  tg__uop *u = x->uop, *iu = indices->uop;
  char b1[128], b2[128];
  int nk = opts && opts->nkernel ? opts->nkernel : 2;
  if (u->ndim != nk + 2 || u->ndim != iu->ndim || memcmp(u->shape, iu->shape, sizeof(int64_t) * (size_t)u->ndim) ||
      tg_dtype_is_float(iu->dtype) || iu->dtype == TG_BOOL || n_out < 0 || (n_out && (n_out < nk || !out))) {
    tg__set_error("%s: input %s, indices %s (%s), %d output sizes; HINT: both (N, C, I...) with as many I axes as "
                  "the kernel (%d), integer indices, and 0 or at least %d output sizes", fn, TG__SHAPE(u, b1),
                  TG__SHAPE(iu, b2), tg_dtype_name(iu->dtype), n_out, nk, nk);
    return NULL;
  }
  int64_t osz[TG_MAX_DIMS] = {0};
  if (n_out) {
    for (int j = 0; j < nk; j++) osz[j] = out[n_out - nk + j];
  } else {
    int64_t k[TG_MAX_DIMS], s[TG_MAX_DIMS], d[TG_MAX_DIMS], lo[TG_MAX_DIMS], hi[TG_MAX_DIMS];
    const tg_pool_opts *o = opts;
    tg_pool_opts none;
    memset(&none, 0, sizeof none);
    if (!o) o = &none;
    for (int j = 0; j < nk; j++) k[j] = o->nkernel ? o->kernel[j] : 2;
    if (tg__axes_option(fn, "stride", o->nstride, o->stride, nk, 0, s) < 0 ||
        tg__axes_option(fn, "dilation", o->ndilation, o->dilation, nk, 1, d) < 0 ||
        tg__pads_option(fn, o->npadding, o->padding, nk, lo, hi) < 0)
      return NULL;
    for (int j = 0; j < nk; j++) {
      if (s[j] == 0) s[j] = k[j];
      double v = (double)(u->shape[2 + j] - 1) * (double)s[j] - (double)lo[j] - (double)hi[j] +
                 (double)d[j] * (double)(k[j] - 1) + 1;
      osz[j] = v >= 0 && v < 9e15 ? (int64_t)v : -1;
    }
  }
  int64_t full[4] = {u->shape[0], u->shape[1], tg__shape_span(nk, osz), tg__prod(u->shape + 2, nk)};
  if (tg__check_shape(fn, nk, osz) < 0 || full[2] > INT32_MAX) {
    if (full[2] > INT32_MAX) tg__set_error("%s: an output of %lld positions passes the int32 indices", fn,
                                           (long long)full[2]);
    return NULL;
  }
  if (tg__check_span(fn, 4, full) < 0) return NULL;
  tg_scope_begin();
  int64_t row[4] = {full[0], full[1], 1, full[3]}, col[4] = {1, 1, full[2], 1}, shp[TG_MAX_DIMS] = {full[0], full[1]};
  tg__uop *iv = tg__texpand(tg__treshape(tg__tcast(iu, TG_INT32), 4, row), full);
  tg__uop *xv = tg__texpand(tg__treshape(u, 4, row), full);
  tg__uop *pos = tg__texpand(tg__treshape(tg__tarange(full[2], 0, 1, TG_INT32), 4, col), full);
  tg__uop *r = tg__tsum(tg__twhere(tg__talu(TG__OP_CMPEQ, iv, pos), xv, tg__tfull_like(xv, 0, xv->dtype)), 1LL << 3);
  for (int j = 0; j < nk; j++) shp[2 + j] = osz[j];
  return tg__nn_done(tg__nn_wrap(tg__tcast(tg__treshape(r, 2 + nk, shp), u->dtype), x));
}

/* the averaging matrix (out, in) of adaptive pooling: row i averages [floor(i in/out), ceil((i+1) in/out)) */
static tg_tensor *tg__nn_adaptive_matrix(int64_t in, int64_t out) {
  tg_dtype dt = tg__nn_index_dtype((double)in * (double)(out + 1));
  tg_tensor *i = tg_reshape(tg_arange(0, (double)out, 1, dt), TG_SHAPE(out, 1));
  tg_tensor *j = tg_reshape(tg_arange(0, (double)in, 1, dt), TG_SHAPE(1, in));
  tg_tensor *o = tg_scalar((double)out, dt);
  tg_tensor *start = tg_floordiv(tg_mul_s(i, (double)in), o);
  tg_tensor *end = tg_floordiv(tg_add_s(tg_mul_s(i, (double)in), (double)(in + out - 1)), o);
  tg_tensor *in_window = tg_logical_and(tg_ge(j, start), tg_lt(j, end));
  return tg_div(tg_cast(in_window, TG_FLOAT32), tg_cast(tg_sub(end, start), TG_FLOAT32));
}

/* PyTorch's adaptive_avg_pool2d: a plain average pool when the sizes divide, otherwise A_h @ x @ A_w^T */
tg_tensor *tg_adaptive_avg_pool2d(tg_tensor *x, int64_t out_h, int64_t out_w) {
  TG__LOCKED();
  TG__NEED("tg_adaptive_avg_pool2d", x);
  tg__uop *u = x->uop;
  char b[128];
  if (u->ndim < 2 || u->ndim + 4 > TG_MAX_DIMS || out_h < 1 || out_w < 1 || out_h > INT32_MAX || out_w > INT32_MAX) {
    tg__set_error("tg_adaptive_avg_pool2d: input %s to (%lld, %lld): needs (..., H, W) and output sizes >= 1",
                  TG__SHAPE(u, b), (long long)out_h, (long long)out_w);
    return NULL;
  }
  int64_t h = u->shape[u->ndim - 2], w = u->shape[u->ndim - 1];
  for (int j = 0; j < 2; j++)
    if (u->shape[u->ndim - 2 + j] == 0) { /* as PyTorch: no window can average nothing */
      tg__set_error("tg_adaptive_avg_pool2d: axis %d (%s) of input %s is empty; the output (%lld, %lld) would average "
                    "no elements", u->ndim - 2 + j, j ? "W" : "H", TG__SHAPE(u, b), (long long)out_h, (long long)out_w);
      return NULL;
    }
  int divides = h % out_h == 0 && w % out_w == 0;
  int64_t k[2] = {h / out_h, w / out_w}, d[2] = {1, 1}, big[TG_MAX_DIMS + 1], big2[TG_MAX_DIMS + 1];
  if (divides && tg__pool_fits("tg_adaptive_avg_pool2d", u->ndim, u->shape, 2, k, k, d) < 0) return NULL;
  if (!divides) { /* the matrices index H and W by int32 positions; the matmuls multiply (..., oh, W, H), then
                   * (..., oh, ow, W) */
    memcpy(big, u->shape, sizeof(int64_t) * (size_t)u->ndim);
    memcpy(big2, u->shape, sizeof(int64_t) * (size_t)u->ndim);
    big[u->ndim - 2] = out_h, big[u->ndim - 1] = w, big[u->ndim] = h;
    big2[u->ndim - 2] = out_h, big2[u->ndim - 1] = out_w, big2[u->ndim] = w;
    if (tg__check_arange("tg_adaptive_avg_pool2d", h) < 0 || tg__check_arange("tg_adaptive_avg_pool2d", w) < 0 ||
        tg__check_span("tg_adaptive_avg_pool2d", u->ndim + 1, big) < 0 ||
        tg__check_span("tg_adaptive_avg_pool2d", u->ndim + 1, big2) < 0)
      return NULL;
  }
  tg_scope_begin();
  if (divides) {
    tg__uop *win = tg__tpool(u, 2, k, k, d);
    int64_t mask = (1LL << (win->ndim - 1)) | (1LL << (win->ndim - 2));
    return tg__nn_done(tg__nn_wrap(tg__nn_unwindow(tg__tmean(win, mask), 2), x));
  }
  tg_tensor *xf = tg_cast(x, tg__least_float(u->dtype));
  tg_tensor *ah = tg_cast(tg__nn_adaptive_matrix(h, out_h), tg_dtype_of(xf));
  tg_tensor *aw = tg_cast(tg__nn_adaptive_matrix(w, out_w), tg_dtype_of(xf));
  return tg__nn_done(tg_matmul(tg_matmul(ah, xf), tg_transpose(aw, 0, 1)));
}

// ---------------------------------------------------------------------------------------------------------------------
// interpolation: per axis (the last first), each output a weighted sum of the inputs it selects: tinygrad's gathers
// and lerp, in one reduction per axis

/* x (..., in) -> (..., size): out[..., i] = sum over the j where sel[i, j] of x[..., j] * w[i, j] (1 if w is NULL);
 * sel (size, in) bool, w (size, in) float. Unselected inputs never enter (an inf stays in its window). */
static tg_tensor *tg__nn_resample_last(tg_tensor *x, tg_tensor *sel, tg_tensor *w) {
  tg_tensor *xs = tg_unsqueeze(x, -2); /* (..., 1, in) */
  if (w) xs = tg_mul(xs, w);
  return tg_sum(tg_where(sel, xs, tg_scalar(0, tg_dtype_of(xs))), TG_AXES(-1), 0);
}

/* linear: the source position (2i+1) in/(2 size) - 1/2 (i (in-1)/(size-1) with align_corners) as num/den in
 * integers, clipped to [0, in-1]; weights 1-p at floor, p at ceil */
static tg_tensor *tg__nn_lerp_last(tg_tensor *x, int64_t size, int align_corners) {
  int64_t in = tg_shape(x)[tg_ndim(x) - 1], den;
  tg_dtype dt = tg__nn_index_dtype((double)in * (double)(2 * size + 2));
  tg_tensor *i = tg_reshape(tg_arange(0, (double)size, 1, dt), TG_SHAPE(size, 1)), *num;
  tg_tensor *j = tg_reshape(tg_arange(0, (double)in, 1, dt), TG_SHAPE(1, in));
  if (align_corners) {
    den = size > 1 ? size - 1 : 1; /* one output sample: position 0 */
    num = tg_mul_s(i, (double)(in - 1));
  } else {
    den = 2 * size;
    num = tg_sub_s(tg_mul_s(tg_add_s(tg_mul_s(i, 2), 1), (double)in), (double)size);
  }
  num = tg_clip(num, 0, (double)((in - 1) * den));
  tg_tensor *d = tg_scalar((double)den, dt);
  tg_tensor *low = tg_eq(j, tg_floordiv(num, d)), *high = tg_eq(j, tg_floordiv(tg_add_s(num, (double)(den - 1)), d));
  tg_tensor *p = tg_div_s(tg_cast(tg_mod(num, d), TG_FLOAT32), (double)den);
  tg_tensor *zero = tg_scalar(0, TG_FLOAT32);
  tg_tensor *w = tg_add(tg_where(low, tg_rsub_s(1, p), zero), tg_where(high, p, zero));
  return tg__nn_resample_last(x, tg_logical_or(low, high), w);
}

/* nearest: the source index trunc(i * in/size) (nearest-exact: trunc((i + 1/2) in/size)), computed in float32 as
 * tinygrad */
static tg_tensor *tg__nn_nearest_last(tg_tensor *x, int64_t size, int exact) {
  int64_t in = tg_shape(x)[tg_ndim(x) - 1];
  float scale = (float)((double)in / (double)size);
  tg_tensor *pos = tg_arange(exact ? 0.5 : 0, (double)size + (exact ? 0.5 : 0), 1, TG_FLOAT32);
  pos = tg_mul(pos, tg_scalar((double)scale, TG_FLOAT32));
  tg_tensor *src = tg_reshape(tg_cast(pos, TG_INT32), TG_SHAPE(size, 1));
  return tg__nn_resample_last(x, tg_eq(tg_reshape(tg_arange(0, (double)in, 1, TG_INT32), TG_SHAPE(1, in)), src), NULL);
}

static tg_tensor *tg__nn_interp_last(tg_tensor *x, int64_t size, int mode, int align_corners) {
  return mode == TG_BILINEAR ? tg__nn_lerp_last(x, size, align_corners)
                              : tg__nn_nearest_last(x, size, mode == TG_NEAREST_EXACT);
}

/* the last n axes of x resampled to sizes[0..n) (tinygrad's interpolate: the last axis first) */
tg_tensor *tg_interpolate_nd(tg_tensor *x, int n, const int64_t *sizes, int mode, int align_corners) {
  TG__LOCKED();
  TG__NEED("tg_interpolate", x);
  tg__uop *u = x->uop;
  char b[128];
  int nd = u->ndim, bad = n < 1 || n > nd || !sizes || nd == TG_MAX_DIMS;
  for (int i = 0; !bad && i < n; i++) bad = sizes[i] < 1 || sizes[i] > INT32_MAX;
  if (bad) {
    tg__set_error("tg_interpolate: input %s to %d sizes: needs that many axes or more, and sizes >= 1",
                  TG__SHAPE(u, b), n);
    return NULL;
  }
  if ((mode != TG_NEAREST && mode != TG_BILINEAR && mode != TG_NEAREST_EXACT) ||
      (align_corners && mode != TG_BILINEAR)) {
    tg__set_error("tg_interpolate: mode %d with align_corners %d; HINT: TG_NEAREST, TG_NEAREST_EXACT or TG_LINEAR, "
                  "and align_corners only with TG_LINEAR", mode, align_corners);
    return NULL;
  }
  /* each axis is resampled by a weighted sum over its inputs: (..., in, size) at most, checked before */
  int64_t cur[TG_MAX_DIMS + 1];
  memcpy(cur, u->shape, sizeof(int64_t) * (size_t)nd);
  for (int i = n - 1; i >= 0; i--) {
    int ax = nd - n + i;
    int64_t in = cur[ax], s1[TG_MAX_DIMS + 1];
    if (in == 0) {
      tg__set_error("tg_interpolate: input %s is empty along axis %d; there is nothing to interpolate from",
                    TG__SHAPE(u, b), ax);
      return NULL;
    }
    memcpy(s1, cur, sizeof(int64_t) * (size_t)nd);
    s1[ax] = sizes[i], s1[nd] = in;
    if (tg__check_arange("tg_interpolate", in) < 0 || tg__check_span("tg_interpolate", nd + 1, s1) < 0) return NULL;
    cur[ax] = sizes[i];
  }
  tg_scope_begin();
  tg_tensor *r = x;
  for (int i = n - 1; i >= 0; i--) {
    int ax = nd - n + i;
    if (ax == nd - 1) r = tg__nn_interp_last(r, sizes[i], mode, align_corners);
    else r = tg_transpose(tg__nn_interp_last(tg_transpose(r, ax, -1), sizes[i], mode, align_corners), ax, -1);
  }
  return tg__nn_done(tg_cast(r, u->dtype));
}

tg_tensor *tg_interpolate(tg_tensor *x, int64_t out_h, int64_t out_w, int mode, int align_corners) {
  TG__LOCKED();
  TG__NEED("tg_interpolate", x);
  if (x->uop->ndim < 2) {
    char b[128];
    tg__set_error("tg_interpolate: input %s to (%lld, %lld): needs (..., H, W) and output sizes >= 1",
                  TG__SHAPE(x->uop, b), (long long)out_h, (long long)out_w);
    return NULL;
  }
  int64_t sizes[2] = {out_h, out_w};
  return tg_interpolate_nd(x, 2, sizes, mode, align_corners);
}

// ---------------------------------------------------------------------------------------------------------------------
// attention

/* softmax(q k^T / sqrt(D) + mask) v; a bool mask keeps where true (others get -inf), a float mask is added; causal
 * keeps j <= i on top of the mask */
tg_tensor *tg_scaled_dot_product_attention(tg_tensor *q, tg_tensor *k, tg_tensor *v, tg_tensor *mask, int causal) {
  TG__LOCKED();
  const char *fn = "tg_scaled_dot_product_attention";
  TG__NEED(fn, q);
  TG__NEED(fn, k);
  TG__NEED(fn, v);
  tg__uop *qu = q->uop, *ku = k->uop, *vu = v->uop;
  char b1[128], b2[128], b3[128];
  int ok = qu->ndim >= 2 && ku->ndim >= 2 && vu->ndim >= 2 && qu->shape[qu->ndim - 1] == ku->shape[ku->ndim - 1] &&
           ku->shape[ku->ndim - 2] == vu->shape[vu->ndim - 2];
  if (ok) /* the batch dims broadcast */
    ok = tg__nn_bcast(qu->ndim - 2, qu->shape, ku->ndim - 2, ku->shape) &&
         tg__nn_bcast(qu->ndim - 2, qu->shape, vu->ndim - 2, vu->shape) &&
         tg__nn_bcast(ku->ndim - 2, ku->shape, vu->ndim - 2, vu->shape);
  if (!ok) {
    tg__set_error("%s: q %s, k %s, v %s do not fit; HINT: q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv)", fn,
                  TG__SHAPE(qu, b1), TG__SHAPE(ku, b2), TG__SHAPE(vu, b3));
    return NULL;
  }
  int64_t lq = qu->shape[qu->ndim - 2], lk = ku->shape[ku->ndim - 2], d = qu->shape[qu->ndim - 1];
  if (mask) {
    int64_t ss[TG_MAX_DIMS];
    memcpy(ss, qu->shape, sizeof(int64_t) * (size_t)qu->ndim);
    ss[qu->ndim - 1] = lk;
    if (!tg__nn_bcast(mask->uop->ndim, mask->uop->shape, qu->ndim, ss)) {
      tg__set_error("%s: mask %s does not broadcast to the scores (..., %lld, %lld)", fn, TG__SHAPE(mask->uop, b1),
                    (long long)lq, (long long)lk);
      return NULL;
    }
  }
  tg_dtype dt = tg_promote(tg_promote(qu->dtype, ku->dtype), TG_FLOAT32);
  tg_scope_begin();
  tg_tensor *kt = tg_transpose(tg_cast(k, dt), -2, -1);
  tg_tensor *qk = tg_div_s(tg_matmul(tg_cast(q, dt), kt), sqrt((double)d));
  tg_tensor *zero = tg_scalar(0, dt), *ninf = tg_scalar(-INFINITY, dt);
  if (mask) qk = tg_add(qk, mask->uop->dtype == TG_BOOL ? tg_where(mask, zero, ninf) : mask);
  if (causal) qk = tg_add(qk, tg_where(tg_tril(tg_ones(TG_BOOL, TG_SHAPE(lq, lk)), 0), zero, ninf));
  return tg__nn_done(tg_matmul(tg_softmax(tg_cast(qk, qu->dtype), -1), v));
}

// ---------------------------------------------------------------------------------------------------------------------
// convolutions built on tg__conv (ops.c): conv1d, 'same' padding, the transposed convolution

/* 'same' padding: d(k-1) in total, the odd one on the right/bottom (PyTorch, tinygrad) */
static void tg__nn_same_pads(int64_t k, int dilation, int64_t *lo, int64_t *hi) {
  int64_t total = (int64_t)dilation * (k - 1);
  *lo = total / 2;
  *hi = total - total / 2;
}

static int tg__nn_bias_ok(const char *fn, tg_tensor *bias, int64_t cout) {
  if (!bias || (bias->uop->ndim == 1 && bias->uop->shape[0] == cout)) return 0;
  char b[128];
  tg__set_error("%s: bias has shape %s, expected (%lld,)", fn, TG__SHAPE(bias->uop, b), (long long)cout);
  return -1;
}

/* x (N, Cin, L), w (Cout, Cin/groups, K) */
tg_tensor *tg_conv1d(tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride, int padding, int dilation, int groups) {
  TG__LOCKED();
  TG__NEED("tg_conv1d", x);
  TG__NEED("tg_conv1d", w);
  tg__uop *xu = x->uop, *wu = w->uop;
  char b1[128], b2[128];
  int same = padding == TG_PADDING_SAME;
  if (xu->ndim != 3 || wu->ndim != 3 || groups < 1 || stride < 1 || dilation < 1 || (padding < 0 && !same) ||
      (same && stride != 1) || (same && wu->shape[2] > 0 && tg__size_mul(dilation, wu->shape[2] - 1) < 0)) {
    tg__set_error("tg_conv1d: input %s and weight %s do not fit (groups %d, stride %d, padding %d, dilation %d); "
                  "HINT: input (N, Cin, L), weight (Cout, Cin/groups, K); TG_PADDING_SAME needs stride 1",
                  TG__SHAPE(xu, b1), TG__SHAPE(wu, b2), groups, stride, padding, dilation);
    return NULL;
  }
  int64_t lo = padding, hi = padding, st = stride, dl = dilation;
  if (same && wu->shape[2] > 0) tg__nn_same_pads(wu->shape[2], dilation, &lo, &hi); /* d (k - 1) fits: above */
  return tg__conv("tg_conv1d", x, w, bias, 1, &st, &dl, &lo, &hi, groups);
}

/* tinygrad's conv_transpose2d over nk axes: the input dilated by the stride (s - 1 zeros between its elements), the
 * weight (Cin, Cout/g, K...) regrouped to (Cout, Cin/g, K...) and flipped, then a convolution padded by
 * d (k - 1) - lo before and d (k - 1) - hi + output_padding after each axis */
static tg_tensor *tg__conv_transpose(const char *fn, tg_tensor *x, tg_tensor *w, tg_tensor *bias, int nk,
                                     const int64_t *st, const int64_t *dl, const int64_t *lo, const int64_t *hi,
                                     const int64_t *op, int64_t groups) {
  TG__NEED(fn, x);
  TG__NEED(fn, w);
  tg__uop *xu = x->uop, *wu = w->uop;
  char b1[128], b2[128];
  int ok = nk >= 1 && nk <= TG_MAX_CONV_DIMS && xu->ndim == 2 + nk && wu->ndim == 2 + nk && groups >= 1 &&
           xu->shape[1] == wu->shape[0] && wu->shape[0] % groups == 0;
  for (int j = 0; ok && j < nk; j++)
    ok = st[j] >= 1 && dl[j] >= 1 && op[j] >= 0 && (op[j] < st[j] || op[j] < dl[j]) && llabs(lo[j]) < (1LL << 61) &&
         llabs(hi[j]) < (1LL << 61);
  if (!ok) {
    tg__set_error("%s: input %s and weight %s do not fit (groups %lld, stride %lld, padding %lld, output_padding "
                  "%lld, dilation %lld%s); HINT: input (N, Cin, I...), weight (Cin, Cout/groups, K...), "
                  "output_padding smaller than the stride or the dilation", fn, TG__SHAPE(xu, b1), TG__SHAPE(wu, b2),
                  (long long)groups, (long long)(nk > 0 ? st[0] : 0), (long long)(nk > 0 ? lo[0] : 0),
                  (long long)(nk > 0 ? op[0] : 0), (long long)(nk > 0 ? dl[0] : 0), nk > 1 ? ", first axis" : "");
    return NULL;
  }
  /* per axis, in checked arithmetic: the input dilated by the stride, (in - 1) s + 1, padded by d (k - 1) - lo
   * before and d (k - 1) - hi + output_padding after */
  int64_t clo[TG_MAX_DIMS], chi[TG_MAX_DIMS], one[TG_MAX_DIMS], dil[TG_MAX_DIMS] = {xu->shape[0], xu->shape[1]};
  int64_t cin = wu->shape[0], rcout = wu->shape[1], wt[TG_MAX_DIMS] = {tg__size_mul(rcout, groups), cin / groups};
  int64_t spread[TG_MAX_DIMS] = {xu->shape[0], cin}, wg[TG_MAX_DIMS] = {groups, cin / groups, rcout};
  int strided = 0;
  for (int j = 0; j < nk; j++) {
    int64_t k = wu->shape[2 + j], in = xu->shape[2 + j];
    if (k < 1 || in < 1) {
      tg__set_error("%s: input %s and weight %s: the spatial axes of both must be at least 1", fn, TG__SHAPE(xu, b1),
                    TG__SHAPE(wu, b2));
      return NULL;
    }
    int64_t span = tg__size_mul(dl[j], k - 1), grown = tg__size_mul(in - 1, st[j]);
    if (span < 0 || grown < 0 || tg__size_add(tg__size_add(grown, span), op[j] + 1) < 0) {
      tg__set_error("%s: input %s with weight %s, stride %lld, dilation %lld gives an output larger than %lld "
                    "elements", fn, TG__SHAPE(xu, b1), TG__SHAPE(wu, b2), (long long)st[j], (long long)dl[j],
                    (long long)TG__MAX_NUMEL);
      return NULL;
    }
    if (grown + span + op[j] + 1 - lo[j] - hi[j] < 1) {
      tg__set_error("%s: input %s with weight %s, stride %lld, padding (%lld, %lld) gives an empty output", fn,
                    TG__SHAPE(xu, b1), TG__SHAPE(wu, b2), (long long)st[j], (long long)lo[j], (long long)hi[j]);
      return NULL;
    }
    clo[j] = span - lo[j], chi[j] = span - hi[j] + op[j], one[j] = 1;
    dil[2 + j] = grown + 1, wt[2 + j] = wg[3 + j] = k;
    spread[2 + 2 * j] = in, spread[3 + 2 * j] = st[j], strided |= st[j] > 1;
  }
  if (tg__check_span(fn, 2 + nk, wt) < 0 || tg__check_span(fn, 2 + 2 * nk, spread) < 0 ||
      tg__conv_fits(fn, nk, dil, wt, one, clo, chi, dl) < 0)
    return NULL;
  if (tg__nn_bias_ok(fn, bias, rcout * groups) < 0) return NULL;
  tg_scope_begin();
  /* weight (Cin, Cout/g, K...) -> (g, Cin/g, Cout/g, K...) -> (g, Cout/g, Cin/g, K...), flipped -> (Cout, Cin/g, K...)
   */
  int64_t flip = 0;
  int perm[TG_MAX_DIMS] = {0, 2, 1};
  for (int j = 0; j < nk; j++) flip |= 1LL << (3 + j), perm[3 + j] = 3 + j;
  tg__uop *wr = tg__treshape(tg__tflip(tg__tpermute(tg__treshape(wu, 3 + nk, wg), perm), flip), 2 + nk, wt);
  tg__uop *xs = xu;
  if (strided) { /* (.., in) -> (.., in, 1) padded to (.., in, s) (zeros after each), flattened, trimmed */
    int64_t pads[2 * TG_MAX_DIMS] = {0}, flat[TG_MAX_DIMS] = {spread[0], cin}, sp[TG_MAX_DIMS] = {spread[0], cin};
    int64_t b[2 * TG_MAX_DIMS] = {0, spread[0], 0, cin};
    for (int j = 0; j < nk; j++) {
      sp[2 + 2 * j] = xu->shape[2 + j], sp[3 + 2 * j] = 1, pads[2 * (3 + 2 * j) + 1] = st[j] - 1;
      flat[2 + j] = xu->shape[2 + j] * st[j], b[2 * (2 + j)] = 0, b[2 * (2 + j) + 1] = dil[2 + j];
    }
    xs = tg__tshrink(tg__treshape(tg__tpad(tg__treshape(xs, 2 + 2 * nk, sp), pads), 2 + nk, flat), b);
  }
  return tg__nn_done(tg__conv(fn, tg__nn_wrap(xs, x), tg__nn_wrap(wr, w), bias, nk, one, dl, clo, chi, groups));
}

tg_tensor *tg_conv_transpose(tg_tensor *x, tg_tensor *w, tg_tensor *bias, const tg_conv_opts *opts) {
  TG__LOCKED();
  const char *fn = "tg_conv_transpose";
  TG__NEED(fn, w);
  tg_conv_opts none;
  memset(&none, 0, sizeof none);
  const tg_conv_opts *o = opts ? opts : &none;
  int nk = w->uop->ndim - 2;
  int64_t st[TG_MAX_DIMS], dl[TG_MAX_DIMS], lo[TG_MAX_DIMS], hi[TG_MAX_DIMS], op[TG_MAX_DIMS];
  if (nk < 1 || nk > TG_MAX_CONV_DIMS) {
    char b[128];
    tg__set_error("%s: weight %s: needs (Cin, Cout/groups, K...) with 1 to %d kernel axes", fn, TG__SHAPE(w->uop, b),
                  TG_MAX_CONV_DIMS);
    return NULL;
  }
  if (tg__axes_option(fn, "stride", o->nstride, o->stride, nk, 1, st) < 0 ||
      tg__axes_option(fn, "dilation", o->ndilation, o->dilation, nk, 1, dl) < 0 ||
      tg__axes_option(fn, "output_padding", o->noutput_padding, o->output_padding, nk, 0, op) < 0 ||
      tg__pads_option(fn, o->npadding, o->padding, nk, lo, hi) < 0)
    return NULL;
  return tg__conv_transpose(fn, x, w, bias, nk, st, dl, lo, hi, op, o->groups ? o->groups : 1);
}

tg_tensor *tg_conv_transpose2d(tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride, int padding,
                               int output_padding, int dilation, int groups) {
  TG__LOCKED();
  int64_t st[2] = {stride, stride}, dl[2] = {dilation, dilation}, p[2] = {padding, padding};
  int64_t op[2] = {output_padding, output_padding};
  if (x && w && padding < 0) {
    tg__set_error("tg_conv_transpose2d: padding %d is negative; HINT: tg_conv_transpose takes negative padding",
                  padding);
    return NULL;
  }
  return tg__conv_transpose("tg_conv_transpose2d", x, w, bias, 2, st, dl, p, p, op, groups);
}

// ---------------------------------------------------------------------------------------------------------------------
// initialisers (tinygrad's formulas; fan_in = prod(shape[1:]))

/* a shape the seeded generator can fill: valid, and at most 2^31-1 elements (its counter is 32 bits) */
static int tg__nn_random_shape_ok(const char *fn, int ndim, const int64_t *shape) {
  if (tg__check_shape(fn, ndim, shape) < 0) return -1;
  if (tg__prod(shape, ndim) <= INT32_MAX) return 0;
  char b[128];
  tg__set_error("%s: shape %s has more than the 2^31-1 elements a random initialiser draws", fn,
                tg__shape_str(ndim, shape, b, sizeof b));
  return -1;
}

static int tg__nn_init_shape(const char *fn, int ndim, const int64_t *shape, int64_t *fan_in) {
  if (ndim < 1) {
    tg__set_error("%s: needs at least 1 dimension, got %d", fn, ndim);
    return -1;
  }
  if (tg__nn_random_shape_ok(fn, ndim, shape) < 0) return -1;
  *fan_in = tg__prod(shape + 1, ndim - 1);
  if (*fan_in < 1 || shape[0] < 1) {
    char b[128];
    tg__set_error("%s: shape %s has a zero size", fn, tg__shape_str(ndim, shape, b, sizeof b));
    return -1;
  }
  return 0;
}

/* uniform(-b, b) with b = sqrt(6 / (1 + a^2) / fan_in) */
tg_tensor *tg_kaiming_uniform(int ndim, const int64_t *shape, double a) {
  TG__LOCKED();
  int64_t fan_in;
  if (tg__nn_init_shape("tg_kaiming_uniform", ndim, shape, &fan_in) < 0) return NULL;
  double bound = sqrt(6.0 / (1 + a * a) / (double)fan_in);
  return tg__nn_context("tg_kaiming_uniform", tg_uniform(-bound, bound, TG_FLOAT32, ndim, shape));
}

/* normal(0, s) with s = sqrt(2 / (1 + a^2) / fan_in) */
tg_tensor *tg_kaiming_normal(int ndim, const int64_t *shape, double a) {
  TG__LOCKED();
  int64_t fan_in;
  if (tg__nn_init_shape("tg_kaiming_normal", ndim, shape, &fan_in) < 0) return NULL;
  return tg__nn_context("tg_kaiming_normal", tg_normal(0, sqrt(2.0 / (1 + a * a) / (double)fan_in), TG_FLOAT32, ndim,
                                                       shape));
}

/* uniform(-b, b) with b = sqrt(6 / (shape[0] + fan_in)) */
tg_tensor *tg_glorot_uniform(int ndim, const int64_t *shape) {
  TG__LOCKED();
  int64_t fan_in;
  if (tg__nn_init_shape("tg_glorot_uniform", ndim, shape, &fan_in) < 0) return NULL;
  double bound = sqrt(6.0 / (double)(shape[0] + fan_in));
  return tg__nn_context("tg_glorot_uniform", tg_uniform(-bound, bound, TG_FLOAT32, ndim, shape));
}

// ---------------------------------------------------------------------------------------------------------------------
// layers: shared pieces

static int tg__nn_no_struct(const char *fn) {
  tg__set_error("%s: the layer is NULL", fn);
  return -1;
}

static tg_tensor *tg__nn_uninit(const char *fn) {
  tg__set_error("%s: the layer is NULL or not initialised", fn);
  return NULL;
}

/* uniform(-bound, bound), owned by a layer */
static tg_tensor *tg__nn_uniform_param(double bound, int ndim, const int64_t *shape) {
  return tg__nn_own(tg_uniform(-bound, bound, TG_FLOAT32, ndim, shape));
}

/* the random stream moved past a draw of that shape, which is never computed (a layer whose tinygrad __init__ draws
 * a tensor it then replaces: ConvTranspose2d's Conv2d weight), so the parameters drawn next match tinygrad's */
static void tg__nn_skip_draw(int ndim, const int64_t *shape) {
  tg_free(tg_uniform(0, 1, TG_FLOAT32, ndim, shape));
}

static tg_tensor *tg__nn_full_param(double v, tg_dtype dt, int ndim, const int64_t *shape) {
  return tg__nn_own(tg_full(v, dt, ndim, shape));
}

// ---------------------------------------------------------------------------------------------------------------------
// Linear: weight (out, in), bias (out), both uniform(-1/sqrt(in), 1/sqrt(in))

int tg_nn_linear_init(tg_nn_linear *m, int64_t in, int64_t out, int bias) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_linear_init");
  memset(m, 0, sizeof *m);
  if (in < 1 || out < 1) {
    tg__set_error("tg_nn_linear_init: in %lld and out %lld must be >= 1", (long long)in, (long long)out);
    return -1;
  }
  if (tg__nn_random_shape_ok("tg_nn_linear_init", TG_SHAPE(out, in)) < 0) return -1;
  double bound = 1 / sqrt((double)in);
  m->weight = tg__nn_uniform_param(bound, TG_SHAPE(out, in));
  if (bias) m->bias = tg__nn_uniform_param(bound, TG_SHAPE(out));
  if (!m->weight || (bias && !m->bias)) {
    tg__error_context("tg_nn_linear_init"); /* a parameter could not be made: say which layer */
    tg_nn_linear_free(m);
    return -1;
  }
  return 0;
}

tg_tensor *tg_nn_linear_forward(const tg_nn_linear *m, tg_tensor *x) {
  TG__LOCKED();
  if (!m || !m->weight) return tg__nn_uninit("tg_nn_linear_forward");
  TG__NEED("tg_nn_linear_forward", x);
  int64_t in = m->weight->uop->shape[1];
  if (x->uop->ndim < 1 || x->uop->shape[x->uop->ndim - 1] != in) {
    char b[128];
    tg__set_error("tg_nn_linear_forward: input %s does not end in the %lld input features", TG__SHAPE(x->uop, b),
                  (long long)in);
    return NULL;
  }
  return tg_linear(x, m->weight, m->bias);
}

void tg_nn_linear_free(tg_nn_linear *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------------------------------
// Conv2d, Conv1d, ConvTranspose2d: weight and bias uniform(-s, s), s = 1/sqrt(cin * prod(kernel)) (tinygrad)

static int tg__nn_conv_args(const char *fn, int64_t cin, int64_t cout, int kernel, int stride, int padding,
                            int output_padding, int dilation, int groups, int allow_same) {
  int same = allow_same && padding == TG_PADDING_SAME;
  if (cin < 1 || cout < 1 || kernel < 1 || stride < 1 || dilation < 1 || groups < 1 || (padding < 0 && !same) ||
      (same && stride != 1) || output_padding < 0 || cin % groups || cout % groups) {
    tg__set_error("%s: cin %lld, cout %lld, kernel %d, stride %d, padding %d, dilation %d, groups %d do not fit; "
                  "HINT: sizes >= 1, groups divides cin and cout, TG_PADDING_SAME only with stride 1", fn,
                  (long long)cin, (long long)cout, kernel, stride, padding, dilation, groups);
    return -1;
  }
  return 0;
}

int tg_nn_conv2d_init(tg_nn_conv2d *m, int64_t cin, int64_t cout, int kernel, int stride, int padding, int dilation,
                      int groups, int bias) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_conv2d_init");
  memset(m, 0, sizeof *m);
  if (tg__nn_conv_args("tg_nn_conv2d_init", cin, cout, kernel, stride, padding, 0, dilation, groups, 1) < 0 ||
      tg__nn_random_shape_ok("tg_nn_conv2d_init", TG_SHAPE(cout, cin / groups, kernel, kernel)) < 0)
    return -1;
  double scale = 1 / sqrt((double)cin * kernel * kernel);
  m->weight = tg__nn_uniform_param(scale, TG_SHAPE(cout, cin / groups, kernel, kernel));
  if (bias) m->bias = tg__nn_uniform_param(scale, TG_SHAPE(cout));
  m->stride = stride, m->padding = padding, m->dilation = dilation, m->groups = groups;
  if (!m->weight || (bias && !m->bias)) {
    tg__error_context("tg_nn_conv2d_init"); /* a parameter could not be made: say which layer */
    tg_nn_conv2d_free(m);
    return -1;
  }
  return 0;
}

tg_tensor *tg_nn_conv2d_forward(const tg_nn_conv2d *m, tg_tensor *x) {
  TG__LOCKED();
  if (!m || !m->weight) return tg__nn_uninit("tg_nn_conv2d_forward");
  TG__NEED("tg_nn_conv2d_forward", x);
  if (m->padding != TG_PADDING_SAME) return tg_conv2d(x, m->weight, m->bias, m->stride, m->padding, m->dilation,
                                                      m->groups);
  if (x->uop->ndim != 4) {
    char b[128];
    tg__set_error("tg_nn_conv2d_forward: input %s is not (N, Cin, H, W)", TG__SHAPE(x->uop, b));
    return NULL;
  }
  int64_t lo[2], hi[2], st[2] = {1, 1}, dl[2] = {m->dilation, m->dilation};
  for (int j = 0; j < 2; j++) tg__nn_same_pads(m->weight->uop->shape[2 + j], m->dilation, &lo[j], &hi[j]);
  return tg__conv("tg_nn_conv2d_forward", x, m->weight, m->bias, 2, st, dl, lo, hi, m->groups);
}

void tg_nn_conv2d_free(tg_nn_conv2d *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

int tg_nn_conv1d_init(tg_nn_conv1d *m, int64_t cin, int64_t cout, int kernel, int stride, int padding, int dilation,
                      int groups, int bias) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_conv1d_init");
  memset(m, 0, sizeof *m);
  if (tg__nn_conv_args("tg_nn_conv1d_init", cin, cout, kernel, stride, padding, 0, dilation, groups, 1) < 0 ||
      tg__nn_random_shape_ok("tg_nn_conv1d_init", TG_SHAPE(cout, cin / groups, kernel)) < 0)
    return -1;
  double scale = 1 / sqrt((double)cin * kernel);
  m->weight = tg__nn_uniform_param(scale, TG_SHAPE(cout, cin / groups, kernel));
  if (bias) m->bias = tg__nn_uniform_param(scale, TG_SHAPE(cout));
  m->stride = stride, m->padding = padding, m->dilation = dilation, m->groups = groups;
  if (!m->weight || (bias && !m->bias)) {
    tg__error_context("tg_nn_conv1d_init"); /* a parameter could not be made: say which layer */
    tg_nn_conv1d_free(m);
    return -1;
  }
  return 0;
}

tg_tensor *tg_nn_conv1d_forward(const tg_nn_conv1d *m, tg_tensor *x) {
  TG__LOCKED();
  if (!m || !m->weight) return tg__nn_uninit("tg_nn_conv1d_forward");
  return tg_conv1d(x, m->weight, m->bias, m->stride, m->padding, m->dilation, m->groups);
}

void tg_nn_conv1d_free(tg_nn_conv1d *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

int tg_nn_conv_transpose2d_init(tg_nn_conv_transpose2d *m, int64_t cin, int64_t cout, int kernel, int stride,
                                int padding, int output_padding, int dilation, int groups, int bias) {
  TG__LOCKED();
  const char *fn = "tg_nn_conv_transpose2d_init";
  if (!m) return tg__nn_no_struct(fn);
  memset(m, 0, sizeof *m);
  if (tg__nn_conv_args(fn, cin, cout, kernel, stride, padding, output_padding, dilation, groups, 0) < 0) return -1;
  if (output_padding >= stride && output_padding >= dilation) {
    tg__set_error("%s: output_padding %d must be smaller than the stride %d or the dilation %d", fn, output_padding,
                  stride, dilation);
    return -1;
  }
  if (tg__nn_random_shape_ok(fn, TG_SHAPE(cin, cout / groups, kernel, kernel)) < 0) return -1;
  double scale = 1 / sqrt((double)cin * kernel * kernel);
  tg__nn_skip_draw(TG_SHAPE(cout, cin / groups, kernel, kernel)); /* tinygrad's Conv2d.__init__ draws first */
  if (bias) m->bias = tg__nn_uniform_param(scale, TG_SHAPE(cout));
  m->weight = tg__nn_uniform_param(scale, TG_SHAPE(cin, cout / groups, kernel, kernel));
  m->stride = stride, m->padding = padding, m->output_padding = output_padding, m->dilation = dilation;
  m->groups = groups;
  if (!m->weight || (bias && !m->bias)) {
    tg__error_context("tg_nn_conv_transpose2d_init"); /* a parameter could not be made: say which layer */
    tg_nn_conv_transpose2d_free(m);
    return -1;
  }
  return 0;
}

tg_tensor *tg_nn_conv_transpose2d_forward(const tg_nn_conv_transpose2d *m, tg_tensor *x) {
  TG__LOCKED();
  if (!m || !m->weight) return tg__nn_uninit("tg_nn_conv_transpose2d_forward");
  return tg_conv_transpose2d(x, m->weight, m->bias, m->stride, m->padding, m->output_padding, m->dilation, m->groups);
}

/* tinygrad's nn.Conv2d with a kernel tuple (Conv1d, Conv3d...) and nn.ConvTranspose2d: the options are checked here
 * against the kernel's axes, and kept */
int tg_nn_conv_init(tg_nn_conv *m, int64_t cin, int64_t cout, int nk, const int64_t *kernel, const tg_conv_opts *opts,
                    int transposed, int bias) {
  TG__LOCKED();
  const char *fn = "tg_nn_conv_init";
  if (!m) return tg__nn_no_struct(fn);
  memset(m, 0, sizeof *m);
  if (opts) m->opts = *opts;
  int64_t groups = m->opts.groups ? m->opts.groups : 1, v[TG_MAX_DIMS], lo[TG_MAX_DIMS], hi[TG_MAX_DIMS];
  int ok = nk >= 1 && nk <= TG_MAX_CONV_DIMS && kernel && cin >= 1 && cout >= 1 && groups >= 1 && cin % groups == 0 &&
           cout % groups == 0 && (transposed || !m->opts.noutput_padding);
  for (int j = 0; ok && j < nk; j++) ok = kernel[j] >= 1;
  if (!ok) {
    tg__set_error("%s: cin %lld, cout %lld, %d kernel axes, groups %lld do not fit; HINT: 1 to %d kernel sizes >= 1, "
                  "groups dividing cin and cout, output_padding only when transposed", fn, (long long)cin,
                  (long long)cout, nk, (long long)groups, TG_MAX_CONV_DIMS);
    return -1;
  }
  const tg_conv_opts *o = &m->opts;
  if (tg__axes_option(fn, "stride", o->nstride, o->stride, nk, 1, v) < 0 ||
      tg__axes_option(fn, "dilation", o->ndilation, o->dilation, nk, 1, v) < 0 ||
      tg__axes_option(fn, "output_padding", o->noutput_padding, o->output_padding, nk, 0, v) < 0 ||
      tg__pads_option(fn, o->npadding, o->padding, nk, lo, hi) < 0)
    return -1;
  int64_t shape[TG_MAX_DIMS] = {transposed ? cin : cout, (transposed ? cout : cin) / groups};
  double fan = (double)cin;
  for (int j = 0; j < nk; j++) shape[2 + j] = kernel[j], fan *= (double)kernel[j];
  if (tg__nn_random_shape_ok(fn, 2 + nk, shape) < 0) return -1;
  m->transposed = transposed;
  if (transposed) { /* tinygrad's ConvTranspose2d draws a Conv2d's weight (out, in/g, k...) and bias first */
    int64_t conv_w[TG_MAX_DIMS];
    memcpy(conv_w, shape, sizeof conv_w);
    conv_w[0] = cout, conv_w[1] = cin / groups;
    tg__nn_skip_draw(2 + nk, conv_w);
    if (bias) m->bias = tg__nn_uniform_param(1 / sqrt(fan), TG_SHAPE(cout));
  }
  m->weight = tg__nn_uniform_param(1 / sqrt(fan), 2 + nk, shape);
  if (bias && !transposed) m->bias = tg__nn_uniform_param(1 / sqrt(fan), TG_SHAPE(cout));
  if (!m->weight || (bias && !m->bias)) {
    tg__error_context(fn); /* a parameter could not be made: say which layer */
    tg_nn_conv_free(m);
    return -1;
  }
  return 0;
}

tg_tensor *tg_nn_conv_forward(const tg_nn_conv *m, tg_tensor *x) {
  TG__LOCKED();
  if (!m || !m->weight) return tg__nn_uninit("tg_nn_conv_forward");
  tg_tensor *r = m->transposed ? tg_conv_transpose(x, m->weight, m->bias, &m->opts) : tg_conv(x, m->weight, m->bias,
                                                                                              &m->opts);
  return tg__nn_context("tg_nn_conv_forward", r);
}

void tg_nn_conv_free(tg_nn_conv *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

void tg_nn_conv_transpose2d_free(tg_nn_conv_transpose2d *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------------------------------
// BatchNorm over axis 1

int tg_nn_batchnorm_init(tg_nn_batchnorm *m, int64_t features) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_batchnorm_init");
  memset(m, 0, sizeof *m);
  if (features < 1) {
    tg__set_error("tg_nn_batchnorm_init: features %lld must be >= 1", (long long)features);
    return -1;
  }
  if (tg__check_shape("tg_nn_batchnorm_init", 1, &features) < 0) return -1;
  m->weight = tg__nn_full_param(1, TG_FLOAT32, TG_SHAPE(features));
  m->bias = tg__nn_full_param(0, TG_FLOAT32, TG_SHAPE(features));
  m->running_mean = tg__nn_full_param(0, TG_FLOAT32, TG_SHAPE(features));
  m->running_var = tg__nn_full_param(1, TG_FLOAT32, TG_SHAPE(features));
  m->num_batches_tracked = tg__nn_own(tg_scalar(0, TG_INT64));
  m->eps = 1e-5;
  m->momentum = 0.1;
  if (!m->weight || !m->bias || !m->running_mean || !m->running_var || !m->num_batches_tracked) {
    tg__error_context("tg_nn_batchnorm_init"); /* a parameter could not be made: say which layer */
    tg_nn_batchnorm_free(m);
    return -1;
  }
  return 0;
}

/* training: the batch mean and the biased variance normalise; the running statistics take the batch mean and the
 * unbiased variance with momentum, as lazy assignments (tinygrad's BatchNorm.__call__) */
tg_tensor *tg_nn_batchnorm_forward(tg_nn_batchnorm *m, tg_tensor *x) {
  TG__LOCKED();
  const char *fn = "tg_nn_batchnorm_forward";
  if (!m || !m->running_mean) return tg__nn_uninit(fn);
  TG__NEED(fn, x);
  tg__uop *u = x->uop;
  int64_t c = m->running_mean->uop->shape[0], n = tg__prod(u->shape, u->ndim);
  char b[128];
  if (u->ndim < 2 || u->shape[1] != c) {
    tg__set_error("%s: input %s is not (N, %lld, ...)", fn, TG__SHAPE(u, b), (long long)c);
    return NULL;
  }
  if (tg__train && n <= c) {
    tg__set_error("%s: input %s has one value per channel; training needs more", fn, TG__SHAPE(u, b));
    return NULL;
  }
  int axes[TG_MAX_DIMS], na = 0;
  int64_t bshape[TG_MAX_DIMS];
  for (int i = 0; i < u->ndim; i++) {
    if (i != 1) axes[na++] = i;
    bshape[i] = i == 1 ? c : 1;
  }
  tg_scope_begin();
  tg_tensor *mean = m->running_mean, *var = m->running_var;
  if (tg__train) {
    mean = tg_mean(x, na, axes, 0);
    tg_tensor *y = tg_sub(x, tg_reshape(tg_detach(mean), u->ndim, bshape)); /* d(var)/d(mean) = 0 */
    var = tg_mean(tg_mul(y, y), na, axes, 0);
    double mom = m->momentum, unbias = (double)n / (double)(n - c);
    tg_tensor *rm = tg_add(tg_mul_s(m->running_mean, 1 - mom), tg_mul_s(tg_detach(mean), mom));
    tg_tensor *rv = tg_add(tg_mul_s(m->running_var, 1 - mom), tg_mul_s(tg_detach(var), mom * unbias));
    tg_tensor *nb = tg_add_s(m->num_batches_tracked, 1);
    if (!tg_assign(m->running_mean, rm) || !tg_assign(m->running_var, rv) || !tg_assign(m->num_batches_tracked, nb))
      return tg__nn_done(NULL);
  }
  tg_tensor *invstd = tg_rsqrt(tg_add_s(var, m->eps));
  tg_tensor *r = tg_sub(x, tg_reshape(mean, u->ndim, bshape));
  if (m->weight) r = tg_mul(r, tg_reshape(m->weight, u->ndim, bshape));
  r = tg_mul(r, tg_reshape(invstd, u->ndim, bshape));
  if (m->bias) r = tg_add(r, tg_reshape(m->bias, u->ndim, bshape));
  return tg__nn_done(r);
}

void tg_nn_batchnorm_free(tg_nn_batchnorm *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  tg_free(m->running_mean);
  tg_free(m->running_var);
  tg_free(m->num_batches_tracked);
  memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------------------------------
// LayerNorm, RMSNorm, GroupNorm

int tg_nn_layernorm_init(tg_nn_layernorm *m, int64_t features, int affine) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_layernorm_init");
  memset(m, 0, sizeof *m);
  if (features < 1) {
    tg__set_error("tg_nn_layernorm_init: features %lld must be >= 1", (long long)features);
    return -1;
  }
  if (tg__check_shape("tg_nn_layernorm_init", 1, &features) < 0) return -1;
  m->features = features;
  m->eps = 1e-5;
  if (!affine) return 0;
  m->weight = tg__nn_full_param(1, TG_FLOAT32, TG_SHAPE(features));
  m->bias = tg__nn_full_param(0, TG_FLOAT32, TG_SHAPE(features));
  if (!m->weight || !m->bias) {
    tg__error_context("tg_nn_layernorm_init"); /* a parameter could not be made: say which layer */
    tg_nn_layernorm_free(m);
    return -1;
  }
  return 0;
}

tg_tensor *tg_nn_layernorm_forward(const tg_nn_layernorm *m, tg_tensor *x) {
  TG__LOCKED();
  const char *fn = "tg_nn_layernorm_forward";
  if (!m || !m->features) return tg__nn_uninit(fn);
  TG__NEED(fn, x);
  if (x->uop->ndim < 1 || x->uop->shape[x->uop->ndim - 1] != m->features) {
    char b[128];
    tg__set_error("%s: input %s does not end in the %lld features", fn, TG__SHAPE(x->uop, b), (long long)m->features);
    return NULL;
  }
  tg_scope_begin();
  tg_tensor *r = tg_layernorm(x, -1, m->eps);
  if (m->weight && m->bias) r = tg_add(tg_mul(r, m->weight), m->bias);
  return tg__nn_done(r);
}

void tg_nn_layernorm_free(tg_nn_layernorm *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

int tg_nn_rmsnorm_init(tg_nn_rmsnorm *m, int64_t features) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_rmsnorm_init");
  memset(m, 0, sizeof *m);
  if (features < 1) {
    tg__set_error("tg_nn_rmsnorm_init: features %lld must be >= 1", (long long)features);
    return -1;
  }
  if (tg__check_shape("tg_nn_rmsnorm_init", 1, &features) < 0) return -1;
  m->features = features;
  m->eps = 1e-6;
  m->weight = tg__nn_full_param(1, TG_FLOAT32, TG_SHAPE(features));
  if (!m->weight) {
    tg__error_context("tg_nn_rmsnorm_init"); /* a parameter could not be made: say which layer */
    tg_nn_rmsnorm_free(m);
    return -1;
  }
  return 0;
}

/* x * rsqrt(mean(x^2) + eps) over the last axis, in float32, back to x's dtype, times the weight */
tg_tensor *tg_nn_rmsnorm_forward(const tg_nn_rmsnorm *m, tg_tensor *x) {
  TG__LOCKED();
  const char *fn = "tg_nn_rmsnorm_forward";
  if (!m || !m->weight) return tg__nn_uninit(fn);
  TG__NEED(fn, x);
  if (x->uop->ndim < 1 || x->uop->shape[x->uop->ndim - 1] != m->features) {
    char b[128];
    tg__set_error("%s: input %s does not end in the %lld features", fn, TG__SHAPE(x->uop, b), (long long)m->features);
    return NULL;
  }
  tg_scope_begin();
  tg_tensor *xf = tg_cast(x, TG_FLOAT32);
  tg_tensor *ms = tg_add_s(tg_mean(tg_square(xf), TG_AXES(-1), 1), m->eps);
  tg_tensor *r = tg_cast(tg_mul(xf, tg_rsqrt(ms)), x->uop->dtype);
  return tg__nn_done(tg_mul(r, m->weight));
}

void tg_nn_rmsnorm_free(tg_nn_rmsnorm *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  memset(m, 0, sizeof *m);
}

int tg_nn_groupnorm_init(tg_nn_groupnorm *m, int64_t groups, int64_t channels, int affine) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_groupnorm_init");
  memset(m, 0, sizeof *m);
  if (groups < 1 || channels < 1 || channels % groups) {
    tg__set_error("tg_nn_groupnorm_init: %lld groups do not divide %lld channels", (long long)groups,
                  (long long)channels);
    return -1;
  }
  if (tg__check_shape("tg_nn_groupnorm_init", 1, &channels) < 0) return -1;
  m->groups = groups, m->channels = channels, m->eps = 1e-5;
  if (!affine) return 0;
  m->weight = tg__nn_full_param(1, TG_FLOAT32, TG_SHAPE(channels));
  m->bias = tg__nn_full_param(0, TG_FLOAT32, TG_SHAPE(channels));
  if (!m->weight || !m->bias) {
    tg__error_context("tg_nn_groupnorm_init"); /* a parameter could not be made: say which layer */
    tg_nn_groupnorm_free(m);
    return -1;
  }
  return 0;
}

/* x (N, C, ...) as (N, groups, rest) layer-normalised over rest, then the per-channel affine */
tg_tensor *tg_nn_groupnorm_forward(const tg_nn_groupnorm *m, tg_tensor *x) {
  TG__LOCKED();
  const char *fn = "tg_nn_groupnorm_forward";
  if (!m || !m->channels) return tg__nn_uninit(fn);
  TG__NEED(fn, x);
  tg__uop *u = x->uop;
  if (u->ndim < 2 || u->shape[1] != m->channels || u->shape[0] < 1) {
    char b[128];
    tg__set_error("%s: input %s is not (N, %lld, ...)", fn, TG__SHAPE(u, b), (long long)m->channels);
    return NULL;
  }
  int64_t rest = tg__prod(u->shape, u->ndim) / u->shape[0] / m->groups, cs[TG_MAX_DIMS];
  for (int i = 0; i < u->ndim; i++) cs[i] = i == 1 ? m->channels : 1;
  tg_scope_begin();
  tg_tensor *g = tg_reshape(x, TG_SHAPE(u->shape[0], m->groups, rest));
  tg_tensor *r = tg_reshape(tg_layernorm(g, -1, m->eps), u->ndim, u->shape);
  if (m->weight && m->bias)
    r = tg_add(tg_mul(r, tg_reshape(m->weight, u->ndim, cs)), tg_reshape(m->bias, u->ndim, cs));
  return tg__nn_done(r);
}

void tg_nn_groupnorm_free(tg_nn_groupnorm *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  tg_free(m->bias);
  memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------------------------------
// Embedding: weight (vocab, dim) glorot_uniform; a lookup is a one-hot sum (an index out of range gives zeros)

int tg_nn_embedding_init(tg_nn_embedding *m, int64_t vocab, int64_t dim) {
  TG__LOCKED();
  if (!m) return tg__nn_no_struct("tg_nn_embedding_init");
  memset(m, 0, sizeof *m);
  if (vocab < 1 || dim < 1 || vocab > INT32_MAX) {
    tg__set_error("tg_nn_embedding_init: vocab %lld and dim %lld must be >= 1", (long long)vocab, (long long)dim);
    return -1;
  }
  if (tg__nn_random_shape_ok("tg_nn_embedding_init", TG_SHAPE(vocab, dim)) < 0) return -1;
  m->weight = tg__nn_own(tg_glorot_uniform(TG_SHAPE(vocab, dim)));
  if (!m->weight) {
    tg__error_context("tg_nn_embedding_init");
    return -1;
  }
  m->vocab = vocab, m->dim = dim;
  return 0;
}

/* idx (...) -> (..., dim): sum over v of (idx == v) * weight[v] */
tg_tensor *tg_nn_embedding_forward(const tg_nn_embedding *m, tg_tensor *idx) {
  TG__LOCKED();
  const char *fn = "tg_nn_embedding_forward";
  if (!m || !m->weight) return tg__nn_uninit(fn);
  TG__NEED(fn, idx);
  if (tg_dtype_is_float(idx->uop->dtype) || idx->uop->dtype == TG_BOOL || idx->uop->ndim + 2 > TG_MAX_DIMS) {
    char b[128];
    tg__set_error("%s: the index %s must be an integer tensor, got %s", fn, TG__SHAPE(idx->uop, b),
                  tg_dtype_name(idx->uop->dtype));
    return NULL;
  }
  tg_scope_begin();
  tg_tensor *eq = tg_eq(tg_unsqueeze(idx, -1), tg_arange(0, (double)m->vocab, 1, TG_INT32)); /* (..., vocab) */
  tg_tensor *sel = tg_where(tg_unsqueeze(eq, -1), m->weight, tg_zeros_like(m->weight));  /* (..., vocab, dim) */
  return tg__nn_done(tg_cast(tg_sum(sel, TG_AXES(-2), 0), m->weight->uop->dtype));
}

void tg_nn_embedding_free(tg_nn_embedding *m) {
  TG__LOCKED();
  if (!m) return;
  tg_free(m->weight);
  memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------------------------------------------------
// _params: the parameters into a state dict under "prefix.name" (tinygrad's names)

/* adds the tensors (NULL ones skipped) under "prefix.name" ("name" for an empty prefix). All names are checked
 * first: on error nothing is added. */
static int tg__nn_params(const char *fn, int ready, tg_state_dict *sd, const char *prefix, int n, const char **names,
                         tg_tensor **ts) {
  if (!ready || !sd) {
    tg__set_error("%s: the %s is NULL%s", fn, !ready ? "layer" : "state dict", !ready ? " or not initialised" : "");
    return -1;
  }
  char *full[8];
  int rc = 0;
  for (int i = 0; i < n; i++) {
    tg__str b;
    memset(&b, 0, sizeof b);
    if (prefix && *prefix) tg__str_printf(&b, "%s.", prefix);
    tg__str_cat(&b, names[i]);
    full[i] = tg__str_take(&b);
    for (int j = 0; ts[i] && rc == 0 && j < tg_state_dict_count(sd); j++)
      if (strcmp(tg_state_dict_name(sd, j), full[i]) == 0) {
        tg__set_error("%s: the name '%s' is already in the state dict", fn, full[i]);
        rc = -1;
      }
  }
  for (int i = 0; i < n && rc == 0; i++)
    if (ts[i]) rc = tg_state_dict_add(sd, full[i], ts[i]);
  for (int i = 0; i < n; i++) TG_FREE(full[i]);
  return rc;
}

static const char *tg__nn_wb[2] = {"weight", "bias"};

int tg_nn_linear_params(const tg_nn_linear *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_linear_params", m && m->weight, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_conv2d_params(const tg_nn_conv2d *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_conv2d_params", m && m->weight, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_conv1d_params(const tg_nn_conv1d *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_conv1d_params", m && m->weight, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_conv_params(const tg_nn_conv *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_conv_params", m && m->weight, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_conv_transpose2d_params(const tg_nn_conv_transpose2d *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_conv_transpose2d_params", m && m->weight, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_batchnorm_params(const tg_nn_batchnorm *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  static const char *names[5] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
  tg_tensor *ts[5] = {NULL, NULL, NULL, NULL, NULL};
  if (m) ts[0] = m->weight, ts[1] = m->bias, ts[2] = m->running_mean, ts[3] = m->running_var;
  if (m) ts[4] = m->num_batches_tracked;
  return tg__nn_params("tg_nn_batchnorm_params", m && m->running_mean, sd, prefix, 5, names, ts);
}

int tg_nn_layernorm_params(const tg_nn_layernorm *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_layernorm_params", m && m->features, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_rmsnorm_params(const tg_nn_rmsnorm *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[1] = {m ? m->weight : NULL};
  return tg__nn_params("tg_nn_rmsnorm_params", m && m->weight, sd, prefix, 1, tg__nn_wb, ts);
}

int tg_nn_groupnorm_params(const tg_nn_groupnorm *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[2] = {m ? m->weight : NULL, m ? m->bias : NULL};
  return tg__nn_params("tg_nn_groupnorm_params", m && m->channels, sd, prefix, 2, tg__nn_wb, ts);
}

int tg_nn_embedding_params(const tg_nn_embedding *m, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  tg_tensor *ts[1] = {m ? m->weight : NULL};
  return tg__nn_params("tg_nn_embedding_params", m && m->weight, sd, prefix, 1, tg__nn_wb, ts);
}
