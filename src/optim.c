/* optim.c: SGD, Adam, AdamW and LAMB, as tinygrad's nn/optim.py (layer 5).
 *
 * Contract: a step builds each parameter's update as a lazy graph and tg_assign()s it (and the optimiser's state:
 * momentum, m, v, the bias-correction powers) in place. Nothing runs in the step: the assignments are pending and
 * the next realisation (of the loss, typically) schedules them together with everything else, as tinygrad's
 * schedule_step. The learning rate lives in a one-element device buffer, so changing it between steps changes no
 * kernel (and a JIT replay sees the new value). State tensors are float32 and realised at creation (an assignment
 * needs a buffer to write into); parameters are borrowed, state is owned.
 *
 * The update rules (g the gradient, t the parameter, detached):
 *   SGD  (tinygrad's LARS with trust coefficient 0, popular momentum):
 *        g += wd*t;  b = momentum*b + g;  g = nesterov ? g + momentum*b : b;  t -= lr*g
 *   LAMB (Adam when adam, AdamW when adam and wd > 0):
 *        b1_t *= b1;  b2_t *= b2;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
 *        up = (m/(1-b1_t)) / (sqrt(v/(1-b2_t)) + eps) + wd*t
 *        r = adam ? 1 : trust ratio |t|/|up| (1 where either norm is 0);  t -= lr*r*up */
#include "internal.h"

typedef enum { TG__OPT_SGD, TG__OPT_LAMB } tg__opt_kind;

struct tg_optimizer {
  tg__opt_kind kind;
  int n;
  tg_tensor **params;          /* borrowed */
  tg_tensor *lr;               /* (1,) float32 buffer */
  double lr_value;
  double momentum, wd, b1, b2, eps;
  int nesterov, adam;
  tg_tensor **b;               /* SGD momentum, NULL without momentum */
  tg_tensor **m, **v;          /* LAMB moments */
  tg_tensor *b1_t, *b2_t;      /* LAMB: b1^step, b2^step */
};

static tg_tensor *tg__opt_zeros(const int64_t *shape, int ndim) {
  tg_tensor *z = tg_zeros(TG_FLOAT32, ndim, shape);
  if (z && tg_realize(z) < 0) {
    tg_free(z);
    return NULL;
  }
  return z;
}

static tg_tensor **tg__opt_state(tg_optimizer *o) {
  tg_tensor **s = (tg_tensor **)tg__alloc(sizeof(tg_tensor *) * (size_t)o->n);
  for (int i = 0; i < o->n; i++) s[i] = tg__opt_zeros(tg_shape(o->params[i]), tg_ndim(o->params[i]));
  return s;
}

static void tg__opt_free_list(tg_tensor **l, int n) {
  if (!l) return;
  for (int i = 0; i < n; i++) tg_free(l[i]);
  TG_FREE(l);
}

void tg_optimizer_free(tg_optimizer *o) {
  TG__LOCKED();
  if (!o) return;
  tg__opt_free_list(o->b, o->n);
  tg__opt_free_list(o->m, o->n);
  tg__opt_free_list(o->v, o->n);
  tg_free(o->b1_t);
  tg_free(o->b2_t);
  tg_free(o->lr);
  TG_FREE(o->params);
  TG_FREE(o);
}

static int tg__opt_check(tg_optimizer *o, const char *fn) {
  int ok = o->lr != NULL;
  for (int i = 0; ok && i < o->n; i++)
    ok = (!o->b || o->b[i]) && (!o->m || (o->m[i] && o->v[i]));
  if (ok && o->kind == TG__OPT_LAMB) ok = o->b1_t && o->b2_t;
  if (!ok && tg__has_error()) tg__error_context(fn); /* the creator that failed said why (an unknown DEV, ...) */
  else if (!ok) tg__set_error("%s: could not create the optimiser's state", fn);
  return ok ? 0 : -1;
}

/* validates the common arguments and makes the shared part; NULL with an error */
static tg_optimizer *tg__opt_new(const char *fn, tg__opt_kind kind, tg_tensor **params, int n, double lr, double wd) {
  if (!params || n <= 0) {
    tg__set_error("%s: needs at least one parameter (got %d)", fn, params ? n : 0);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    if (!params[i]) {
      tg__set_error("%s: parameter %d is NULL", fn, i);
      return NULL;
    }
    if (!tg_dtype_is_float(tg_dtype_of(params[i]))) {
      tg__set_error("%s: parameter %d is %s; parameters must be floats", fn, i, tg_dtype_name(tg_dtype_of(params[i])));
      return NULL;
    }
    for (int j = 0; j < i; j++)
      if (params[j] == params[i]) {
        tg__set_error("%s: parameter %d is parameter %d again", fn, i, j);
        return NULL;
      }
  }
  if (!(lr >= 0) || !(wd >= 0)) {
    tg__set_error("%s: invalid learning rate %g or weight decay %g (both must be >= 0)", fn, lr, wd);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (tg_realize(params[i]) < 0) return NULL; /* an assignment needs a buffer */
  tg_optimizer *o = (tg_optimizer *)tg__alloc(sizeof *o);
  o->kind = kind;
  o->n = n;
  o->params = (tg_tensor **)tg__alloc(sizeof(tg_tensor *) * (size_t)n);
  memcpy(o->params, params, sizeof(tg_tensor *) * (size_t)n);
  for (int i = 0; i < n; i++) tg_requires_grad(params[i], 1);
  float l = (float)lr;
  int64_t one = 1;
  o->lr = tg_from_data(&l, TG_FLOAT32, 1, &one);
  o->lr_value = lr;
  o->wd = wd;
  return o;
}

tg_optimizer *tg_sgd(tg_tensor **params, int n, double lr, double momentum, double weight_decay, int nesterov) {
  TG__LOCKED();
  if (!(momentum >= 0)) {
    tg__set_error("tg_sgd: invalid momentum %g (must be >= 0)", momentum);
    return NULL;
  }
  if (nesterov && momentum == 0) {
    tg__set_error("tg_sgd: nesterov needs a momentum > 0");
    return NULL;
  }
  tg_optimizer *o = tg__opt_new("tg_sgd", TG__OPT_SGD, params, n, lr, weight_decay);
  if (!o) return NULL;
  o->momentum = momentum;
  o->nesterov = nesterov != 0;
  if (momentum > 0) o->b = tg__opt_state(o);
  if (tg__opt_check(o, "tg_sgd") < 0) {
    tg_optimizer_free(o);
    return NULL;
  }
  return o;
}

static tg_optimizer *tg__lamb(const char *fn, tg_tensor **params, int n, double lr, double b1, double b2, double eps,
                              double wd, int adam) {
  if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(eps >= 0)) {
    tg__set_error("%s: invalid b1 %g, b2 %g or eps %g (betas in [0, 1), eps >= 0)", fn, b1, b2, eps);
    return NULL;
  }
  tg_optimizer *o = tg__opt_new(fn, TG__OPT_LAMB, params, n, lr, wd);
  if (!o) return NULL;
  o->b1 = b1;
  o->b2 = b2;
  o->eps = eps;
  o->adam = adam;
  o->m = tg__opt_state(o);
  o->v = tg__opt_state(o);
  int64_t one = 1;
  o->b1_t = tg__opt_zeros(&one, 1);
  o->b2_t = tg__opt_zeros(&one, 1);
  float f1 = 1;
  if (tg__opt_check(o, fn) < 0 || tg__tensor_overwrite(fn, o->b1_t, &f1) < 0 ||
      tg__tensor_overwrite(fn, o->b2_t, &f1) < 0) {
    tg_optimizer_free(o);
    return NULL;
  }
  return o;
}

tg_optimizer *tg_adam(tg_tensor **params, int n, double lr, double b1, double b2, double eps) {
  TG__LOCKED();
  return tg__lamb("tg_adam", params, n, lr, b1, b2, eps, 0.0, 1);
}
tg_optimizer *tg_adamw(tg_tensor **params, int n, double lr, double b1, double b2, double eps, double weight_decay) {
  TG__LOCKED();
  return tg__lamb("tg_adamw", params, n, lr, b1, b2, eps, weight_decay, 1);
}
tg_optimizer *tg_lamb(tg_tensor **params, int n, double lr, double b1, double b2, double eps, double weight_decay) {
  TG__LOCKED();
  return tg__lamb("tg_lamb", params, n, lr, b1, b2, eps, weight_decay, 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// the step: lazy graphs and assignments, all in a scope (the assignments hold the graphs, not the handles)

/* the update of parameter i (to subtract), or NULL on error */
static tg_tensor *tg__sgd_update(tg_optimizer *o, int i, tg_tensor *t, tg_tensor *g) {
  if (o->wd > 0) g = tg_add(g, tg_mul_s(t, o->wd));
  if (o->b) {
    if (!tg_assign(o->b[i], tg_add(tg_mul_s(o->b[i], o->momentum), g))) return NULL;
    g = o->nesterov ? tg_add(g, tg_mul_s(o->b[i], o->momentum)) : o->b[i];
  }
  return tg_mul(g, o->lr);
}

static tg_tensor *tg__lamb_update(tg_optimizer *o, int i, tg_tensor *t, tg_tensor *g) {
  tg_tensor *m = tg_assign(o->m[i], tg_add(tg_mul_s(o->m[i], o->b1), tg_mul_s(g, 1.0 - o->b1)));
  tg_tensor *v = tg_assign(o->v[i], tg_add(tg_mul_s(o->v[i], o->b2), tg_mul_s(tg_square(g), 1.0 - o->b2)));
  if (!m || !v) return NULL;
  tg_tensor *m_hat = tg_div(m, tg_rsub_s(1.0, o->b1_t)), *v_hat = tg_div(v, tg_rsub_s(1.0, o->b2_t));
  tg_tensor *up = tg_div(m_hat, tg_add_s(tg_sqrt(v_hat), o->eps));
  if (o->wd > 0) up = tg_add(up, tg_mul_s(t, o->wd));
  if (!o->adam) { /* the trust ratio |t| / |up|, 1 where either is 0 */
    tg_tensor *r1 = tg_sqrt(tg_sum(tg_square(t), 0, NULL, 0)), *r2 = tg_sqrt(tg_sum(tg_square(up), 0, NULL, 0));
    tg_tensor *r = tg_where(tg_gt_s(r1, 0), tg_where(tg_gt_s(r2, 0), tg_div(r1, r2), tg_scalar(1, TG_FLOAT32)),
                            tg_scalar(1, TG_FLOAT32));
    up = tg_mul(up, r);
  }
  return tg_mul(up, o->lr);
}

int tg_optimizer_step(tg_optimizer *o) {
  TG__LOCKED();
  if (!o) return tg__null("tg_optimizer_step"), -1;
  int with_grad = 0;
  for (int i = 0; i < o->n; i++) {
    tg_tensor *g = tg_grad(o->params[i]);
    if (!g) continue;
    with_grad++;
    if (tg_ndim(g) != tg_ndim(o->params[i]) ||
        memcmp(tg_shape(g), tg_shape(o->params[i]), sizeof(int64_t) * (size_t)tg_ndim(g)) != 0) {
      char b1[128], b2[128];
      tg__set_error("tg_optimizer_step: parameter %d has shape %s but its gradient %s", i,
                    TG__SHAPE(o->params[i]->uop, b1), TG__SHAPE(g->uop, b2));
      return -1;
    }
  }
  if (!with_grad) {
    tg__set_error("tg_optimizer_step: no parameter has a gradient (call tg_backward on the loss first)");
    return -1;
  }
  int prev = tg_set_grad_enabled(0), rc = 0;
  tg_scope_begin();
  if (o->kind == TG__OPT_LAMB &&
      (!tg_assign(o->b1_t, tg_mul_s(o->b1_t, o->b1)) || !tg_assign(o->b2_t, tg_mul_s(o->b2_t, o->b2))))
    rc = -1;
  for (int i = 0; i < o->n && rc == 0; i++) {
    tg_tensor *p = o->params[i], *g = tg_grad(p);
    if (!g) continue;
    tg_tensor *t = tg_detach(p);
    g = tg_cast(tg_detach(g), TG_FLOAT32);
    tg_tensor *up = o->kind == TG__OPT_SGD ? tg__sgd_update(o, i, t, g) : tg__lamb_update(o, i, t, g);
    if (!up || !tg_assign(p, tg_sub(t, tg_cast(up, tg_dtype_of(p))))) rc = -1;
  }
  tg_scope_end();
  tg_set_grad_enabled(prev);
  return rc;
}

void tg_optimizer_zero_grad(tg_optimizer *o) {
  TG__LOCKED();
  if (!o) return;
  for (int i = 0; i < o->n; i++) tg_zero_grad(o->params[i]);
}

int tg_optimizer_set_lr(tg_optimizer *o, double lr) {
  TG__LOCKED();
  if (!o) return tg__null("tg_optimizer_set_lr"), -1;
  if (!(lr >= 0)) {
    tg__set_error("tg_optimizer_set_lr: invalid learning rate %g (must be >= 0)", lr);
    return -1;
  }
  float l = (float)lr;
  if (tg__tensor_overwrite("tg_optimizer_set_lr", o->lr, &l) < 0) return -1;
  o->lr_value = lr;
  return 0;
}

double tg_optimizer_lr(const tg_optimizer *o) {
  TG__LOCKED();
  if (!o) return 0.0;
  float l; /* the buffer, which tg_load_state_dict may have written */
  tg__buffer *b = tg__tensor_buffer(o->lr);
  if (!b || tg__buffer_copyout(b, &l) < 0) return o->lr_value;
  return l == (float)o->lr_value ? o->lr_value : (double)l;
}

/* prefix.name (or name without a prefix) */
static int tg__opt_add(tg_state_dict *sd, const char *prefix, const char *name, int i, tg_tensor *t) {
  char key[512];
  const char *dot = prefix && *prefix ? "." : "";
  if (i >= 0) snprintf(key, sizeof key, "%s%s%s.%d", prefix ? prefix : "", dot, name, i);
  else snprintf(key, sizeof key, "%s%s%s", prefix ? prefix : "", dot, name);
  return tg_state_dict_add(sd, key, t);
}

int tg_optimizer_state(const tg_optimizer *o, tg_state_dict *sd, const char *prefix) {
  TG__LOCKED();
  if (!o || !sd) return tg__null("tg_optimizer_state"), -1;
  int rc = tg__opt_add(sd, prefix, "lr", -1, o->lr);
  if (o->kind == TG__OPT_LAMB && rc == 0)
    rc = tg__opt_add(sd, prefix, "b1_t", -1, o->b1_t) < 0 || tg__opt_add(sd, prefix, "b2_t", -1, o->b2_t) < 0 ? -1 : 0;
  for (int i = 0; i < o->n && rc == 0; i++) {
    if (o->b) rc = tg__opt_add(sd, prefix, "b", i, o->b[i]);
    if (o->m && rc == 0) rc = tg__opt_add(sd, prefix, "m", i, o->m[i]);
    if (o->v && rc == 0) rc = tg__opt_add(sd, prefix, "v", i, o->v[i]);
  }
  return rc;
}
