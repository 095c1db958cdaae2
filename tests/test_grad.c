/* test_grad.c: autograd. Every differentiable op of api.h, in float64, against central finite differences
 * (test_gradcheck); composite ops in float32 against the real tinygrad's gradients (golden_grad.h); and the autograd
 * API: tg_gradient, tg_detach, no-grad mode, accumulation, tg_zero_grad, higher-order gradients and the errors.
 *
 * A gradcheck case is a function y = f(x0, x1, ...) of float64 inputs whose values are drawn away from the kinks of
 * the ops it uses (relu at 0, clip at its bounds, ...) and inside their domains (log > 0, ...). The loss is
 * L = sum(y * w) with fixed pseudo-random weights w, so that every element of y matters (sum(softmax(x)) alone is
 * constant). The analytic gradient is tg_grad after tg_backward(L); the numeric one is (L(x + h e_i) - L(x - h e_i))
 * / 2h, each L evaluated on freshly built inputs. One assertion per input of a case. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#include "golden/golden_grad.h"

// ---------------------------------------------------------------------------------------------------------------------
// gradcheck

#define TEST_GC_MAXIN 3   /* inputs of a function */
#define TEST_GC_MAXN 128  /* elements of an input */

typedef tg_tensor *(*test_gfn)(tg_tensor **x);

/* how an input's values are drawn (pseudo-random, deterministic) */
enum {
  GX, /* +-[0.2, 1.8]: away from 0 */
  GP, /* [0.3, 2.1]: inside the domains of log, sqrt, rsqrt and pow's base */
  GS, /* +-[0.1, 1.0]: tan, away from its poles */
  GW, /* +-[0.3, 5.5] without +-[2.9, 3.1]: both sides of the kinks of hardsigmoid and hardswish at +-3 */
  GD, /* the values given in data */
};

typedef struct test_gin {
  int kind, ndim;
  int64_t shape[4];
  const double *data; /* GD only */
} test_gin;

typedef struct test_gcase {
  const char *name;
  test_gfn f;                   /* y = f(x), or */
  tg_tensor *(*u)(tg_tensor *); /* y = u(x[0]) */
  int zero;                     /* bit k: input k's gradient is 0 everywhere (sign, floor, ...); others have a
                                   non-zero element */
  int n;                        /* inputs */
  test_gin in[TEST_GC_MAXIN];
} test_gcase;

/* inputs of shape (a...) and kind k */
#define I0(k) {(k), 0, {0}, NULL}
#define I1(k, a) {(k), 1, {a}, NULL}
#define I2(k, a, b) {(k), 2, {a, b}, NULL}
#define I3(k, a, b, c) {(k), 3, {a, b, c}, NULL}
#define I4(k, a, b, c, d) {(k), 4, {a, b, c, d}, NULL}
/* cases: a unary op on (3, 4); a function of n inputs; one whose gradient is 0 */
#define U(op, k) {#op, NULL, op, 0, 1, {I2(k, 3, 4)}}
#define UZ(op) {#op, NULL, op, 1, 1, {I2(GX, 3, 4)}}
#define F(fn, n, ...) {#fn, fn, NULL, 0, n, {__VA_ARGS__}}
#define FZ(fn, zero, n, ...) {#fn, fn, NULL, zero, n, {__VA_ARGS__}}

/* a deterministic uniform number in [0, 1) for (stream, index) */
static double test_rand01(int stream, int i) {
  uint32_t h = (uint32_t)stream * 2654435761u ^ (uint32_t)(i + 1) * 2246822519u;
  h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
  return (double)h / 4294967296.0;
}

static double test_gvalue(const test_gin *in, int stream, int i) {
  double r = test_rand01(stream, 2 * i), sign = test_rand01(stream, 2 * i + 1) < 0.5 ? -1 : 1;
  switch (in->kind) {
  case GP: return 0.3 + 1.8 * r;
  case GS: return sign * (0.1 + 0.9 * r);
  case GW: return sign * (0.3 + 5.0 * r < 2.9 ? 0.3 + 5.0 * r : 0.5 + 5.0 * r);
  case GD: return in->data[i];
  default: return sign * (0.2 + 1.6 * r);
  }
}

static int64_t test_gnumel(const test_gin *in) {
  int64_t n = 1;
  for (int d = 0; d < in->ndim; d++) n *= in->shape[d];
  return n;
}

/* the fixed weights of the loss: w[i] = 1.5 cos(0.9 i + 0.4) */
static tg_tensor *test_gweights(tg_tensor *y, tg_dtype dt) {
  int64_t n = tg_numel(y);
  double *w = (double *)malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) w[i] = cos(0.9 * (double)i + 0.4) * 1.5;
  tg_tensor *t = tg_cast(tg_from_data(w, TG_FLOAT64, tg_ndim(y), tg_shape(y)), dt);
  free(w);
  return t;
}

/* L(x) = sum(f(x) * w) for the inputs vals[] (NAN if f fails). With grads, the inputs require grad and their
 * gradients are read into grads[k]; grads[k][0] is NAN when one is missing or not a float64 tensor of x's shape. */
static double test_gloss(const test_gcase *c, double vals[][TEST_GC_MAXN], double grads[][TEST_GC_MAXN]) {
  tg_scope_begin();
  tg_tensor *x[TEST_GC_MAXIN];
  for (int k = 0; k < c->n; k++) {
    x[k] = tg_from_data(vals[k], TG_FLOAT64, c->in[k].ndim, c->in[k].shape);
    if (grads) tg_requires_grad(x[k], 1);
  }
  tg_tensor *y = c->f ? c->f(x) : c->u(x[0]);
  tg_tensor *l = y ? tg_sum(tg_mul(y, test_gweights(y, TG_FLOAT64)), 0, NULL, 0) : NULL;
  if (l && grads) {
    int rc = tg_backward(l);
    for (int k = 0; k < c->n; k++) {
      tg_tensor *g = tg_grad(x[k]);
      int ok = rc == 0 && g && tg_dtype_of(g) == TG_FLOAT64 && tg_ndim(g) == c->in[k].ndim;
      for (int d = 0; ok && d < c->in[k].ndim; d++) ok = tg_shape(g)[d] == c->in[k].shape[d];
      if (!ok || tg_to_host(g, grads[k], sizeof(double) * (size_t)test_gnumel(&c->in[k])) != 0) grads[k][0] = NAN;
    }
  }
  double loss = l ? tg_item(l) : NAN;
  tg_scope_end();
  return loss;
}

/* ONE assertion per input: |analytic - numeric| <= tol * (1 + |numeric|) everywhere, and the gradient is 0
 * everywhere if the input's bit of c->zero is set, somewhere not 0 otherwise (a lost gradient would pass against a
 * function that is flat in that input) */
static int test_gradcheck_(const test_gcase *c, double h, double tol, const char *file, int line) {
  static double vals[TEST_GC_MAXIN][TEST_GC_MAXN], grads[TEST_GC_MAXIN][TEST_GC_MAXN];
  for (int k = 0; k < c->n; k++)
    for (int64_t i = 0; i < test_gnumel(&c->in[k]); i++) vals[k][i] = test_gvalue(&c->in[k], 7 * k + 1, (int)i);
  tg_clear_error();
  double l0 = test_gloss(c, vals, grads);
  if (isnan(l0))
    return test_check(0, file, line, "gradcheck %s: the loss failed; tg_error: %s", c->name,
                      tg_error() ? tg_error() : "(none)");
  int all = 1;
  for (int k = 0; k < c->n; k++) {
    if (isnan(grads[k][0])) {
      all &= test_check(0, file, line, "gradcheck %s: input %d has no float64 gradient of its shape; tg_error: %s",
                        c->name, k, tg_error() ? tg_error() : "(none)");
      continue;
    }
    int64_t n = test_gnumel(&c->in[k]), bad = -1, nonzero = 0;
    double num = 0;
    for (int64_t i = 0; i < n && bad < 0; i++) {
      double v = vals[k][i];
      vals[k][i] = v + h;
      double lp = test_gloss(c, vals, NULL);
      vals[k][i] = v - h;
      double lm = test_gloss(c, vals, NULL);
      vals[k][i] = v;
      num = (lp - lm) / (2 * h);
      nonzero += grads[k][i] != 0;
      if (!(fabs(grads[k][i] - num) <= tol * (1 + fabs(num)))) bad = i;
    }
    if (bad >= 0)
      all &= test_check(0, file, line, "gradcheck %s: input %d [%lld] at %.6g: analytic %.10g, numeric %.10g", c->name,
                        k, (long long)bad, vals[k][bad], grads[k][bad], num);
    else if ((c->zero >> k) & 1 ? nonzero != 0 : nonzero == 0)
      all &= test_check(0, file, line, "gradcheck %s: input %d: the gradient is %s0 everywhere", c->name, k,
                        (c->zero >> k) & 1 ? "not " : "");
    else all &= test_check(1, file, line, "%s", "");
  }
  return all;
}
#define test_gradcheck(c, h, tol) test_gradcheck_((c), (h), (tol), __FILE__, __LINE__)

#define GH 1e-6   /* the finite-difference step */
#define GTOL 1e-6 /* relative tolerance, with an absolute floor of the same size */

static void test_gradcheck_all(const test_gcase *cs, int n) {
  for (int i = 0; i < n; i++) test_gradcheck(&cs[i], GH, GTOL);
}

// ---------------------------------------------------------------------------------------------------------------------
// elementwise: unary math and activations on (3, 4)

static tg_tensor *clip(tg_tensor *a) { return tg_clip(a, -0.5, 1.0); }
static tg_tensor *leaky_relu(tg_tensor *a) { return tg_leaky_relu(a, 0.1); }
static tg_tensor *elu(tg_tensor *a) { return tg_elu(a, 1.3); }
static tg_tensor *softplus(tg_tensor *a) { return tg_softplus(a, 1.0); }
static tg_tensor *softplus_beta2(tg_tensor *a) { return tg_softplus(a, 2.0); }
static tg_tensor *hardtanh(tg_tensor *a) { return tg_hardtanh(a, -1.0, 0.7); }
static tg_tensor *contiguous_exp(tg_tensor *a) { return tg_exp(tg_contiguous(tg_mul_s(a, 0.5))); }
static tg_tensor *celu(tg_tensor *a) { return tg_celu(a, 0.7); }
static tg_tensor *relu6_3x(tg_tensor *a) { return tg_relu6(tg_mul_s(a, 4)); } /* past 6 too */
static tg_tensor *atan_3x(tg_tensor *a) { return tg_atan(tg_mul_s(a, 3)); }   /* past 1: the other branch */

TEST(test_grad_unary) {
  static const test_gcase cs[] = {
    U(tg_neg, GX), U(tg_abs, GX), U(tg_exp, GX), U(tg_exp2, GX), U(tg_log, GP), U(tg_log2, GP), U(tg_sqrt, GP),
    U(tg_rsqrt, GP), U(tg_reciprocal, GX), U(tg_sin, GX), U(tg_cos, GX), U(tg_tan, GS), U(tg_erf, GX),
    U(tg_square, GX), U(clip, GX), U(tg_sigmoid, GX), U(tg_tanh, GX), U(tg_relu, GX), U(leaky_relu, GX),
    U(elu, GX), U(tg_gelu, GX), U(tg_quick_gelu, GX), U(tg_silu, GX), U(softplus, GX), U(softplus_beta2, GX),
    U(tg_mish, GX), U(hardtanh, GX), U(tg_hardsigmoid, GW), U(tg_hardswish, GW), U(contiguous_exp, GX),
    U(celu, GX), U(tg_selu, GX), U(relu6_3x, GX), U(tg_logsigmoid, GX), U(tg_softsign, GX), U(tg_sinh, GX),
    U(tg_cosh, GX), U(tg_asin, GS), U(tg_acos, GS), U(atan_3x, GX), U(tg_log10, GP), U(tg_gelu_erf, GX),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

/* functions that are smooth at 0, at 0 exactly (where a max or a sign inside them has a kink): softplus is
 * m + log(e^(x-m) + e^-m), m = max(x, 0); mish is built on it */
static const double test_with_zeros[12] = {0.0, 1.25, -0.0, -0.75, 0.0, 2.5, 0.5, -1.5, 0.0, 1.0, -0.25, 0.0};
#define UZERO(op) {#op " at 0", NULL, op, 0, 1, {{GD, 2, {3, 4}, test_with_zeros}}} /* the shape of U(): same kernels */
#define TEST_2_SQRTPI 1.1283791670955126 /* erf'(0) */

TEST(test_grad_smooth_at_zero) {
  static const test_gcase cs[] = {
    UZERO(softplus), UZERO(softplus_beta2), UZERO(tg_mish), UZERO(tg_sigmoid), UZERO(tg_tanh), UZERO(tg_gelu),
    UZERO(tg_quick_gelu), UZERO(tg_silu), UZERO(tg_sin), UZERO(tg_exp), UZERO(tg_square),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
  /* erf (an approximation whose value at 0+ is 1e-9, not 0, so finite differences across 0 are off by 1e-3): the
   * slope at 0 is 2/sqrt(pi), not the 0 that sign(x) * (...) alone would give (tinygrad's is 0) */
  tg_scope_begin();
  tg_tensor *x = TEST_DATA(test_with_zeros, TG_FLOAT64, 3, 4), *g = NULL;
  CHECK_EQ_INT(tg_gradient(tg_erf(x), &x, 1, &g), 0);
  double gv[12] = {0};
  CHECK_EQ_INT(tg_to_host(g, gv, sizeof gv), 0);
  CHECK_NEAR(gv[0], TEST_2_SQRTPI, 1e-6);
  CHECK_NEAR(gv[2], TEST_2_SQRTPI, 1e-6);
  CHECK_NEAR(gv[1], TEST_2_SQRTPI * exp(-1.25 * 1.25), 2e-6); /* the approximation: 2e-7 absolute error */
  double sum = 0;
  for (int i = 0; i < 12; i++) sum += erf(test_with_zeros[i]);
  CHECK_NEAR(tg_item(tg_sum(tg_erf(x), 0, NULL, 0)), sum, 1e-6);
  tg_scope_end();
}

/* piecewise constant ops: the gradient is 0 (not missing, not NaN) */
TEST(test_grad_unary_zero) {
  static const test_gcase cs[] = {UZ(tg_sign), UZ(tg_floor), UZ(tg_ceil), UZ(tg_round), UZ(tg_trunc)};
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

/* x ** 0 is constant but still a function of x: its gradient is 0 (PyTorch and tinygrad), not "nothing requires grad" */
TEST(test_grad_pow_zero) {
  tg_scope_begin();
  static const float v[3] = {1, 2, 0}, zero[3] = {0, 0, 0};
  tg_tensor *x = tg_requires_grad(TEST_DATA(v, TG_FLOAT32, 3), 1);
  CHECK(tg_backward(tg_sum(tg_pow_s(x, 0), 0, NULL, 0)) == 0);
  CHECK_TENSOR(tg_grad(x), zero, 0, 3);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// elementwise: binary ops, with and without broadcasting, and the scalar (_s) variants

static tg_tensor *add(tg_tensor **x) { return tg_add(x[0], x[1]); }
static tg_tensor *sub(tg_tensor **x) { return tg_sub(x[0], x[1]); }
static tg_tensor *mul(tg_tensor **x) { return tg_mul(x[0], x[1]); }
static tg_tensor *div_(tg_tensor **x) { return tg_div(x[0], x[1]); }
static tg_tensor *pow_(tg_tensor **x) { return tg_pow(x[0], x[1]); }
static tg_tensor *mod(tg_tensor **x) { return tg_mod(x[0], x[1]); }           /* x - y floor(x/y): 1, -floor(x/y) */
static tg_tensor *floordiv(tg_tensor **x) { return tg_floordiv(x[0], x[1]); } /* piecewise constant */
static tg_tensor *maximum(tg_tensor **x) { return tg_maximum(x[0], x[1]); }
static tg_tensor *fmod_(tg_tensor **x) { return tg_fmod(x[0], x[1]); } /* x - y trunc(x/y): 1, -trunc(x/y) */
static tg_tensor *div_trunc(tg_tensor **x) { return tg_div_mode(x[0], x[1], TG_DIV_TRUNC); }
static tg_tensor *copysign_(tg_tensor **x) { return tg_copysign(x[0], x[1]); } /* +-1 in x, none in y */
static tg_tensor *logaddexp_(tg_tensor **x) { return tg_logaddexp(x[0], x[1]); }
static tg_tensor *lerp_(tg_tensor **x) { return tg_lerp(x[0], x[1], x[2]); }
static tg_tensor *minimum(tg_tensor **x) { return tg_minimum(x[0], x[1]); }
/* the condition compares the inputs: it carries no gradient of its own */
static tg_tensor *where_(tg_tensor **x) { return tg_where(tg_gt(x[0], x[1]), tg_mul_s(x[0], 2), tg_sin(x[1])); }
static tg_tensor *where3(tg_tensor **x) { return tg_where(tg_lt_s(x[0], 0), x[1], x[2]); }
/* a negative base with integer exponents (the exponents are constants: pow is not differentiable in them there) */
static tg_tensor *pow_neg_base(tg_tensor **x) {
  static const double e[4] = {2, 3, -1, 0};
  return tg_pow(x[0], TEST_DATA(e, TG_FLOAT64, 4));
}
/* x used several times: x^3 + e^x / x */
static tg_tensor *same_input(tg_tensor **x) {
  return tg_add(tg_mul(tg_mul(x[0], x[0]), x[0]), tg_div(tg_exp(x[0]), x[0]));
}

TEST(test_grad_binary) {
  static const test_gcase cs[] = {
    F(add, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(sub, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(mul, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(div_, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(pow_, 2, I2(GP, 3, 4), I2(GX, 3, 4)),
    F(mod, 2, I2(GW, 3, 4), I2(GX, 3, 4)),
    FZ(floordiv, 3, 2, I2(GW, 3, 4), I2(GX, 3, 4)),
    F(maximum, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(minimum, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(fmod_, 2, I2(GW, 3, 4), I2(GX, 3, 4)),
    FZ(div_trunc, 3, 2, I2(GW, 3, 4), I2(GX, 3, 4)),
    FZ(copysign_, 2, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(logaddexp_, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(lerp_, 3, I2(GX, 3, 4), I2(GX, 3, 4), I2(GS, 3, 4)),
    F(where_, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(pow_neg_base, 1, I2(GX, 3, 4)),
    F(same_input, 1, I2(GX, 3, 4)),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

/* the gradient of a broadcast operand is summed back to the operand's shape */
TEST(test_grad_broadcast) {
  static const test_gcase cs[] = {
    F(add, 2, I2(GX, 3, 4), I1(GX, 4)),
    F(sub, 2, I2(GX, 3, 1), I2(GX, 1, 4)),
    F(mul, 2, I2(GX, 3, 4), I2(GX, 3, 1)),
    F(mul, 2, I3(GX, 2, 3, 4), I0(GX)),
    F(div_, 2, I1(GX, 4), I2(GX, 3, 4)),
    F(pow_, 2, I2(GP, 3, 4), I2(GX, 1, 4)),
    F(maximum, 2, I2(GX, 3, 4), I1(GX, 4)),
    F(minimum, 2, I2(GX, 1, 4), I2(GX, 3, 1)),
    FZ(where3, 1, 3, I2(GX, 3, 4), I1(GX, 4), I2(GX, 3, 1)), /* the condition's input has no gradient */
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

static tg_tensor *add_s(tg_tensor *a) { return tg_add_s(a, 0.7); }
static tg_tensor *sub_s(tg_tensor *a) { return tg_sub_s(a, 0.7); }
static tg_tensor *rsub_s(tg_tensor *a) { return tg_rsub_s(0.7, a); }
static tg_tensor *mul_s(tg_tensor *a) { return tg_mul_s(a, -1.3); }
static tg_tensor *div_s(tg_tensor *a) { return tg_div_s(a, 0.6); }
static tg_tensor *rdiv_s(tg_tensor *a) { return tg_rdiv_s(1.5, a); }
static tg_tensor *maximum_s(tg_tensor *a) { return tg_maximum_s(a, 0.3); }
static tg_tensor *minimum_s(tg_tensor *a) { return tg_minimum_s(a, -0.4); }
static tg_tensor *pow_s3(tg_tensor *a) { return tg_pow_s(a, 3); }
static tg_tensor *pow_s_neg2(tg_tensor *a) { return tg_pow_s(a, -2); }
static tg_tensor *pow_s_half(tg_tensor *a) { return tg_pow_s(a, 0.5); }
static tg_tensor *pow_s_frac(tg_tensor *a) { return tg_pow_s(a, 1.7); }
static tg_tensor *pow_s_negfrac(tg_tensor *a) { return tg_pow_s(a, -0.3); }
static tg_tensor *pow_s_big_odd(tg_tensor *a) { return tg_pow_s(a, 17); } /* past the multiplication chain */

TEST(test_grad_scalar_ops) {
  static const test_gcase cs[] = {
    U(add_s, GX), U(sub_s, GX), U(rsub_s, GX), U(mul_s, GX), U(div_s, GX), U(rdiv_s, GX), U(maximum_s, GX),
    U(minimum_s, GX), U(pow_s3, GX), U(pow_s_neg2, GX), U(pow_s_half, GP), U(pow_s_frac, GP), U(pow_s_negfrac, GP),
    U(pow_s_big_odd, GX),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

// ---------------------------------------------------------------------------------------------------------------------
// casts: float32 <-> float64 in a chain (float32 rounding: a bigger step, a looser tolerance), through an integer
// cast (no gradient), and a float32 operand promoted to float64

static tg_tensor *cast_chain(tg_tensor *a) {
  tg_tensor *s = tg_cast(a, TG_FLOAT32);
  return tg_cast(tg_mul(tg_mul(s, s), tg_cast(tg_mul_s(a, 0.5), TG_FLOAT32)), TG_FLOAT64);
}
static tg_tensor *promote_f32(tg_tensor **x) { return tg_mul(x[0], tg_cast(x[1], TG_FLOAT32)); }
/* x * int(2x): the integer factor is piecewise constant */
static tg_tensor *cast_int(tg_tensor *a) { return tg_mul(a, tg_cast(tg_cast(tg_mul_s(a, 2), TG_INT32), TG_FLOAT64)); }

TEST(test_grad_casts) {
  static const test_gcase f32[] = {U(cast_chain, GX), F(promote_f32, 2, I2(GX, 3, 4), I2(GX, 3, 4))};
  for (int i = 0; i < TEST_COUNT(f32); i++) test_gradcheck(&f32[i], 1e-2, 1e-4);
  static const test_gcase f64[] = {U(cast_int, GX)};
  test_gradcheck_all(f64, TEST_COUNT(f64));
}

// ---------------------------------------------------------------------------------------------------------------------
// reductions on (2, 3, 4): axes, negative axes, keepdim

static tg_tensor *sum_all(tg_tensor *a) { return tg_sum(a, 0, NULL, 0); }
static tg_tensor *sum_1(tg_tensor *a) { return tg_sum(a, TG_AXES(1), 0); }
static tg_tensor *sum_02_keep(tg_tensor *a) { return tg_sum(a, TG_AXES(0, 2), 1); }
static tg_tensor *prod_all(tg_tensor *a) { return tg_prod(a, 0, NULL, 0); }
static tg_tensor *prod_2_keep(tg_tensor *a) { return tg_prod(a, TG_AXES(2), 1); }
static tg_tensor *max_all(tg_tensor *a) { return tg_max(a, 0, NULL, 0); }
static tg_tensor *max_1(tg_tensor *a) { return tg_max(a, TG_AXES(1), 0); }
static tg_tensor *max_02_keep(tg_tensor *a) { return tg_max(a, TG_AXES(0, 2), 1); }
static tg_tensor *min_m1(tg_tensor *a) { return tg_min(a, TG_AXES(-1), 0); }
static tg_tensor *mean_all(tg_tensor *a) { return tg_mean(a, 0, NULL, 0); }
static tg_tensor *mean_0_keep(tg_tensor *a) { return tg_mean(a, TG_AXES(0), 1); }
static tg_tensor *var_all_c0(tg_tensor *a) { return tg_var(a, 0, NULL, 0, 0); }
static tg_tensor *var_02_keep(tg_tensor *a) { return tg_var(a, TG_AXES(0, 2), 1, 1); }
static tg_tensor *std_2(tg_tensor *a) { return tg_std(a, TG_AXES(2), 0, 1); }
static tg_tensor *logsumexp_1(tg_tensor *a) { return tg_logsumexp(a, 1, 0); }
static tg_tensor *logsumexp_m1_keep(tg_tensor *a) { return tg_logsumexp(a, -1, 1); }
static tg_tensor *cumsum_0(tg_tensor *a) { return tg_cumsum(a, 0); }
static tg_tensor *cumprod_2(tg_tensor *a) { return tg_cumprod(a, 2); }
static tg_tensor *cummax_2(tg_tensor *a) { return tg_cummax(a, 2); }
static tg_tensor *cummin_1(tg_tensor *a) { return tg_cummin(a, 1); }
static tg_tensor *logcumsumexp_2(tg_tensor *a) { return tg_logcumsumexp(a, 2); }
static tg_tensor *logcumsumexp_all(tg_tensor *a) { return tg_logcumsumexp(a, TG_ALL_AXES); }
static tg_tensor *logsumexp_all(tg_tensor *a) { return tg_logsumexp(a, TG_ALL_AXES, 0); }
static tg_tensor *softmax_m1(tg_tensor *a) { return tg_softmax(a, -1); }
static tg_tensor *softmax_0(tg_tensor *a) { return tg_softmax(a, 0); }
static tg_tensor *log_softmax_m1(tg_tensor *a) { return tg_log_softmax(a, -1); }
static tg_tensor *layernorm_m1(tg_tensor *a) { return tg_layernorm(a, -1, 1e-5); }
static tg_tensor *layernorm_1(tg_tensor *a) { return tg_layernorm(a, 1, 1e-5); }

#define R(op, k) {#op, NULL, op, 0, 1, {I3(k, 2, 3, 4)}}

/* the float32 goldens (test_grad_golden_tinygrad) cover softmax(-1), log_softmax(0), logsumexp(1), layernorm(-1),
 * std(1), std() and cumsum(1) on their own; the variants here differ (every kernel costs a compilation) */
TEST(test_grad_reduce) {
  static const test_gcase cs[] = {
    R(sum_all, GX), R(sum_1, GX), R(sum_02_keep, GX), R(prod_all, GX), R(prod_2_keep, GX), R(max_all, GX),
    R(max_1, GX), R(max_02_keep, GX), R(min_m1, GX), R(mean_all, GX), R(mean_0_keep, GX), R(var_all_c0, GX),
    R(var_02_keep, GX), R(std_2, GX), R(logsumexp_m1_keep, GX), R(cumsum_0, GX), R(cumprod_2, GX), R(cummax_2, GX),
    R(softmax_0, GX), R(log_softmax_m1, GX), R(layernorm_1, GX), R(cummin_1, GX), R(logcumsumexp_2, GX),
    R(logcumsumexp_all, GX), R(logsumexp_all, GX),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

/* prod with zeros: d(prod x)/dx_j is the product of the others, which is not prod/x_j (tinygrad's reduce_gradient).
 * Rows of 4 along the last axis: no zero, one zero, two zeros. prod is a polynomial, so the differences are exact. */
static const double test_prod_zeros[12] = {1.5, -0.5, 2.0, 0.75, 0.0, 1.25, -2.0, 0.5, 0.0, 1.5, 0.0, -1.0};
static const double test_prod_one_zero[6] = {1.5, -0.5, 0.0, 0.75, 1.25, -2.0};
static tg_tensor *prod_rows(tg_tensor *a) { return tg_prod(a, TG_AXES(1), 0); }
static tg_tensor *cumprod_rows(tg_tensor *a) { return tg_cumprod(a, 1); }

TEST(test_grad_prod_zeros) {
  static const test_gcase cs[] = {
    {"prod with zeros", NULL, prod_rows, 0, 1, {{GD, 2, {3, 4}, test_prod_zeros}}},
    {"prod with one zero (all)", NULL, prod_all, 0, 1, {{GD, 2, {2, 3}, test_prod_one_zero}}},
    {"prod with three zeros (all)", NULL, prod_all, 1, 1, {{GD, 2, {3, 4}, test_prod_zeros}}},
    {"cumprod with zeros", NULL, cumprod_rows, 0, 1, {{GD, 2, {3, 4}, test_prod_zeros}}},
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

// ---------------------------------------------------------------------------------------------------------------------
// movement on (2, 3, 4)

static tg_tensor *reshape_46(tg_tensor *a) { return tg_reshape(a, TG_SHAPE(4, 6)); }
static tg_tensor *reshape_flat(tg_tensor *a) { return tg_reshape(a, TG_SHAPE(-1)); }
static tg_tensor *permute_201(tg_tensor *a) { return tg_permute(a, TG_AXES(2, 0, 1)); }
static tg_tensor *transpose_02(tg_tensor *a) { return tg_transpose(a, 0, 2); }
static tg_tensor *expand_keep(tg_tensor *a) { /* -1 keeps a dimension */
  return tg_expand(tg_reshape(a, TG_SHAPE(2, 3, 1, 4)), TG_SHAPE(-1, -1, 3, -1));
}
static tg_tensor *expand_left(tg_tensor *a) {
  return tg_expand(tg_reshape(a, TG_SHAPE(2, 1, 3, 4)), TG_SHAPE(3, 2, 5, 3, 4)); /* a new axis and a stretched one */
}
static tg_tensor *squeeze_1(tg_tensor *a) { return tg_squeeze(tg_reshape(a, TG_SHAPE(2, 1, 12)), 1); }
static tg_tensor *squeeze_all(tg_tensor *a) { return tg_squeeze(tg_reshape(a, TG_SHAPE(1, 6, 1, 4)), TG_ALL_AXES); }
static tg_tensor *unsqueeze_1(tg_tensor *a) { return tg_unsqueeze(a, 1); }
static tg_tensor *flatten_12(tg_tensor *a) { return tg_flatten(a, 1, 2); }
static tg_tensor *unflatten_2(tg_tensor *a) { return tg_unflatten(a, 2, 2, (const int64_t[]){2, 2}); }
static tg_tensor *pad0(tg_tensor *a) { return tg_pad(a, 3, (const int64_t[]){1, 0, 0, 2, 1, 1}, 0); }
static tg_tensor *pad_value(tg_tensor *a) { return tg_pad(a, 3, (const int64_t[]){0, 1, 2, 0, 0, 3}, 2.5); }
static tg_tensor *pad_negative(tg_tensor *a) { return tg_pad(a, 3, (const int64_t[]){-1, 1, 0, -1, 2, -2}, 0); }
static tg_tensor *shrink(tg_tensor *a) { return tg_shrink(a, 3, (const int64_t[]){1, 2, 0, 2, 1, 4}); }
static tg_tensor *slice_step2(tg_tensor *a) { return tg_slice(a, 2, 1, TG_END, 2); }
static tg_tensor *slice_step3(tg_tensor *a) { return tg_slice(a, 2, 0, TG_END, 3); }
static tg_tensor *slice_rev(tg_tensor *a) { return tg_slice(a, 1, TG_END, TG_END, -1); }
static tg_tensor *slice_rev2(tg_tensor *a) { return tg_slice(a, -1, -1, 0, -2); }
static tg_tensor *slice_neg_bounds(tg_tensor *a) { return tg_slice(a, 1, -2, -1, 1); }
static tg_tensor *select_m1(tg_tensor *a) { return tg_select(a, 1, -1); }
static tg_tensor *flip_02(tg_tensor *a) { return tg_flip(a, TG_AXES(0, 2)); }
static tg_tensor *repeat(tg_tensor *a) { return tg_repeat(a, TG_SHAPE(2, 1, 2, 1)); }
static tg_tensor *tril_0(tg_tensor *a) { return tg_tril(a, 0); }
static tg_tensor *triu_1(tg_tensor *a) { return tg_triu(a, 1); }
static tg_tensor *tril_m1(tg_tensor *a) { return tg_tril(a, -1); }
static tg_tensor *cat_1(tg_tensor **x) { return tg_cat((tg_tensor *[]){x[0], x[1], x[2]}, 3, 1); }
static tg_tensor *cat_same(tg_tensor **x) { return tg_cat((tg_tensor *[]){x[0], x[1], x[0]}, 3, 0); }
static tg_tensor *stack_0(tg_tensor **x) { return tg_stack((tg_tensor *[]){x[0], x[1]}, 2, 0); }
static tg_tensor *stack_m1(tg_tensor **x) { return tg_stack((tg_tensor *[]){x[1], x[0], x[1]}, 3, -1); }
/* the pieces of a split, put back in another order and scaled differently */
static tg_tensor *split_2(tg_tensor *a) {
  tg_tensor *p[4];
  int n = tg_split(a, 2, 2, p, 4);
  if (n != 2) return NULL;
  return tg_cat((tg_tensor *[]){p[1], tg_mul_s(p[0], 3)}, 2, 2);
}
static tg_tensor *chunk_3(tg_tensor *a) {
  tg_tensor *p[4];
  int n = tg_chunk(a, 3, 1, p, 4);
  if (n != 3) return NULL;
  return tg_add(tg_mul(p[0], p[2]), tg_exp(p[1]));
}

#define M(op) {#op, NULL, op, 0, 1, {I3(GX, 2, 3, 4)}}

static tg_tensor *roll_12(tg_tensor *a) { return tg_roll(a, 2, (int64_t[]){1, -2}, (int[]){1, 2}); }
static tg_tensor *diagonal_o1(tg_tensor *a) { return tg_diagonal(a, 1, 1, 2); }
static tg_tensor *repeat_interleave_1(tg_tensor *a) { return tg_repeat_interleave(a, 2, 1); }
static tg_tensor *unfold_overlap(tg_tensor *a) { return tg_unfold(a, 2, 2, 1); } /* middle elements in 2 windows */
static const int64_t test_pads_r[6] = {0, 0, 2, 1, 1, -1}, test_pads_e[6] = {0, 0, 2, 1, 3, 0},
                     test_pads_c[6] = {1, 0, 2, 1, -1, 3};
static tg_tensor *pad_reflect(tg_tensor *a) { return tg_pad_mode(a, 3, test_pads_r, TG_PAD_REFLECT, 0); }
static tg_tensor *pad_replicate(tg_tensor *a) { return tg_pad_mode(a, 3, test_pads_e, TG_PAD_REPLICATE, 0); }
static tg_tensor *pad_circular(tg_tensor *a) { return tg_pad_mode(a, 3, test_pads_c, TG_PAD_CIRCULAR, 0); }

TEST(test_grad_movement) {
  static const test_gcase cs[] = {
    M(reshape_46), M(reshape_flat), M(permute_201), M(transpose_02), M(expand_left), M(expand_keep), M(squeeze_1),
    M(squeeze_all), M(unsqueeze_1), M(flatten_12), M(unflatten_2), M(pad0), M(pad_value), M(pad_negative), M(shrink),
    M(slice_step2), M(slice_step3), M(slice_rev), M(slice_rev2), M(slice_neg_bounds), M(select_m1), M(flip_02),
    M(repeat), M(tril_0), M(triu_1), M(tril_m1), M(split_2), M(chunk_3), M(roll_12), M(diagonal_o1),
    M(repeat_interleave_1), M(unfold_overlap), M(pad_reflect), M(pad_replicate), M(pad_circular),
    F(cat_1, 3, I3(GX, 2, 3, 4), I3(GX, 2, 1, 4), I3(GX, 2, 2, 4)),
    F(cat_same, 2, I2(GX, 2, 3), I2(GX, 1, 3)),
    F(stack_0, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
    F(stack_m1, 2, I2(GX, 3, 4), I2(GX, 3, 4)),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

// ---------------------------------------------------------------------------------------------------------------------
// indexing with integer tensors: repeated and negative indices accumulate their gradients

static tg_tensor *gather_1(tg_tensor *a) {
  static const int32_t idx[16] = {0, 2, 1, 2, 2, 2, 0, 1, 1, 0, 0, 0, 2, 1, 2, 0}; /* (2, 2, 4) */
  return tg_gather(a, 1, TEST_DATA(idx, TG_INT32, 2, 2, 4));
}
static tg_tensor *gather_0(tg_tensor *a) {
  static const int64_t idx[6] = {1, 0, 1, 1, 1, 0}; /* (1, 2, 3), int64 */
  return tg_gather(a, 0, TEST_DATA(idx, TG_INT64, 1, 2, 3));
}
static tg_tensor *index_1(tg_tensor *a) {
  static const int32_t idx[4] = {2, -1, 0, 2};
  return tg_index(a, 1, TEST_DATA(idx, TG_INT32, 4));
}
static tg_tensor *index_0_2d(tg_tensor *a) {
  static const int32_t idx[6] = {1, 0, 1, 1, -2, 0}; /* (3, 2) */
  return tg_index(a, 0, TEST_DATA(idx, TG_INT32, 3, 2));
}

/* scatter into x (2, 3, 4) along 2 from src (2, 3, 2): src's gradient where it lands (the last of two writes), x's
 * where nothing lands; the reductions' through their sums, products, means and extrema */
static const int32_t test_scatter_idx[12] = {3, 1, 0, 3, 2, 2, 1, 1, 0, 3, 2, 0};
static tg_tensor *test_scatter_index(void) { return TEST_DATA(test_scatter_idx, TG_INT32, 2, 3, 2); }
static tg_tensor *scatter_(tg_tensor **x) { return tg_scatter(x[0], 2, test_scatter_index(), x[1]); }
static tg_tensor *scatter_sum(tg_tensor **x) {
  return tg_scatter_reduce(x[0], 2, test_scatter_index(), x[1], TG_SCATTER_SUM, 1);
}
static tg_tensor *scatter_mean(tg_tensor **x) {
  return tg_scatter_reduce(x[0], 2, test_scatter_index(), x[1], TG_SCATTER_MEAN, 0);
}
static tg_tensor *scatter_prod(tg_tensor **x) {
  return tg_scatter_reduce(x[0], 2, test_scatter_index(), x[1], TG_SCATTER_PROD, 1);
}
static tg_tensor *scatter_amax(tg_tensor **x) {
  return tg_scatter_reduce(x[0], 2, test_scatter_index(), x[1], TG_SCATTER_AMAX, 1);
}

/* a[i, :, j] with repeats: their gradients add up */
static tg_tensor *index_n_02(tg_tensor *a) {
  static const int32_t i0[3] = {1, 0, 1}, i2[3] = {3, 3, -4};
  return tg_index_n(a, 2, (int[]){0, 2}, (tg_tensor *[]){TEST_DATA(i0, TG_INT32, 3), TEST_DATA(i2, TG_INT32, 3)});
}

/* sorted values and the top k: each output is one input, whose gradient it carries */
static tg_tensor *sort_desc(tg_tensor *a) {
  tg_tensor *v = NULL;
  tg_sort(a, 2, 1, &v, NULL);
  return v;
}
static tg_tensor *topk_2(tg_tensor *a) {
  tg_tensor *v = NULL;
  tg_topk(a, 2, 1, 1, &v, NULL);
  return v;
}

TEST(test_grad_indexing) {
  static const test_gcase cs[] = {M(gather_1), M(gather_0), M(index_1), M(index_0_2d),
                                  F(scatter_, 2, I3(GX, 2, 3, 4), I3(GX, 2, 3, 2)),
                                  F(scatter_sum, 2, I3(GX, 2, 3, 4), I3(GX, 2, 3, 2)),
                                  F(scatter_mean, 2, I3(GX, 2, 3, 4), I3(GX, 2, 3, 2)),
                                  F(scatter_prod, 2, I3(GX, 2, 3, 4), I3(GX, 2, 3, 2)),
                                  F(scatter_amax, 2, I3(GX, 2, 3, 4), I3(GX, 2, 3, 2)), M(sort_desc), M(topk_2),
                                  M(index_n_02)};
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

// ---------------------------------------------------------------------------------------------------------------------
// linear algebra

static tg_tensor *matmul(tg_tensor **x) { return tg_matmul(x[0], x[1]); }
static tg_tensor *dot(tg_tensor **x) { return tg_dot(x[0], x[1]); }
static tg_tensor *linear(tg_tensor **x) { return tg_linear(x[0], x[1], x[2]); }
static tg_tensor *linear_nobias(tg_tensor **x) { return tg_linear(x[0], x[1], NULL); }
static tg_tensor *conv(tg_tensor **x) { return tg_conv2d(x[0], x[1], x[2], 1, 0, 1, 1); }
static tg_tensor *conv_stride2_pad1(tg_tensor **x) { return tg_conv2d(x[0], x[1], x[2], 2, 1, 1, 1); }
static tg_tensor *conv_dilation2(tg_tensor **x) { return tg_conv2d(x[0], x[1], NULL, 1, 1, 2, 1); }
static tg_tensor *conv_groups2(tg_tensor **x) { return tg_conv2d(x[0], x[1], x[2], 1, 1, 1, 2); }
/* a small network: softmax(relu(x @ w1 + b) @ w1^T) */
static tg_tensor *mlp(tg_tensor **x) {
  tg_tensor *h = tg_relu(tg_add(tg_matmul(x[0], x[1]), x[2]));
  return tg_log_softmax(tg_matmul(h, tg_transpose(x[1], 0, 1)), -1);
}

static tg_tensor *einsum_bmm(tg_tensor **x) { return tg_einsum("bij,bjk->bik", x, 2); }
static tg_tensor *einsum_trace_outer(tg_tensor **x) { return tg_einsum("ii,j->j", x, 2); }

TEST(test_grad_linalg) {
  static const test_gcase cs[] = {
    F(einsum_bmm, 2, I3(GX, 2, 3, 4), I3(GX, 2, 4, 2)),
    F(einsum_trace_outer, 2, I2(GX, 3, 3), I1(GX, 4)),
    F(matmul, 2, I2(GX, 3, 4), I2(GX, 4, 2)),
    F(matmul, 2, I3(GX, 2, 3, 4), I3(GX, 2, 4, 2)),
    F(matmul, 2, I3(GX, 2, 3, 4), I2(GX, 4, 2)),
    F(matmul, 2, I4(GX, 2, 1, 2, 3), I3(GX, 3, 3, 2)),
    F(matmul, 2, I1(GX, 4), I2(GX, 4, 3)),
    F(matmul, 2, I3(GX, 2, 3, 4), I1(GX, 4)),
    F(dot, 2, I1(GX, 5), I1(GX, 5)),
    F(dot, 2, I2(GX, 2, 3), I2(GX, 3, 4)),
    F(linear, 3, I2(GX, 2, 4), I2(GX, 3, 4), I1(GX, 3)),
    F(linear_nobias, 2, I3(GX, 2, 2, 4), I2(GX, 3, 4)),
    F(conv, 3, I4(GX, 1, 2, 4, 4), I4(GX, 3, 2, 2, 2), I1(GX, 3)),
    F(conv_stride2_pad1, 3, I4(GX, 2, 2, 5, 5), I4(GX, 2, 2, 3, 3), I1(GX, 2)),
    F(conv_dilation2, 2, I4(GX, 1, 1, 5, 5), I4(GX, 2, 1, 2, 2)),
    F(conv_groups2, 3, I4(GX, 1, 4, 3, 3), I4(GX, 4, 2, 2, 2), I1(GX, 4)),
    F(mlp, 3, I2(GX, 2, 3), I2(GX, 3, 4), I1(GX, 4)),
  };
  test_gradcheck_all(cs, TEST_COUNT(cs));
}

// ---------------------------------------------------------------------------------------------------------------------
// float32 gradients of composite ops against the real tinygrad's (golden_grad.h), with its choices at ties and zeros

typedef struct test_golden {
  test_gcase c; /* the function and the shapes of its inputs */
  const float *x[TEST_GC_MAXIN], *w, *g[TEST_GC_MAXIN]; /* inputs, loss weights (NULL: L = sum(y)), gradients */
  double tol; /* 0: the caller's */
} test_golden;

/* 1 + n assertions: tg_backward of L succeeds, and each input's gradient is tinygrad's */
static int test_golden_grad(const test_golden *t, double tol) {
  const test_gcase *c = &t->c;
  if (t->tol > 0) tol = t->tol;
  tg_scope_begin();
  tg_tensor *x[TEST_GC_MAXIN];
  for (int k = 0; k < c->n; k++) x[k] = tg_requires_grad(tg_from_float(t->x[k], c->in[k].ndim, c->in[k].shape), 1);
  tg_tensor *y = c->f ? c->f(x) : c->u(x[0]);
  tg_tensor *l = tg_sum(t->w && y ? tg_mul(y, tg_from_float(t->w, tg_ndim(y), tg_shape(y))) : y, 0, NULL, 0);
  int ok = test_check(tg_backward(l) == 0, __FILE__, __LINE__, "golden %s: tg_backward failed; tg_error: %s", c->name,
                      tg_error() ? tg_error() : "(none)");
  for (int k = 0; k < c->n; k++) {
    char what[96];
    snprintf(what, sizeof what, "the gradient of %s's input %d", c->name, k);
    ok &= test_tensor_near(tg_grad(x[k]), t->g[k], c->in[k].ndim, c->in[k].shape, tol, what, "tinygrad's", __FILE__,
                           __LINE__);
  }
  if (!ok) printf("  golden case: %s\n", c->name);
  tg_scope_end();
  return ok;
}

static tg_tensor *log_softmax_0(tg_tensor *a) { return tg_log_softmax(a, 0); }
static tg_tensor *std_1(tg_tensor *a) { return tg_std(a, TG_AXES(1), 0, 1); }
static tg_tensor *std_all_c0(tg_tensor *a) { return tg_std(a, 0, NULL, 0, 0); }
static tg_tensor *cumsum_1(tg_tensor *a) { return tg_cumsum(a, 1); }
static tg_tensor *conv_groups2_dilation2(tg_tensor **x) { return tg_conv2d(x[0], x[1], NULL, 1, 1, 2, 2); }
static tg_tensor *gather_golden(tg_tensor *a) { return tg_gather(a, 1, TEST_DATA(g_gr_gather_idx, TG_INT32, 3, 4)); }
static tg_tensor *pad_chain(tg_tensor *a) {
  tg_tensor *y = tg_shrink(tg_pad(a, 2, (const int64_t[]){1, 2, 0, 1}, 0), 2, (const int64_t[]){1, 5, 1, 5});
  y = tg_flip(tg_pad(y, 2, (const int64_t[]){-1, 1, 2, -1}, 0), TG_AXES(0));
  return tg_mul_s(tg_slice(y, 1, 0, TG_END, 2), 2);
}
static tg_tensor *matmul_relu(tg_tensor **x) { return tg_relu(tg_add(tg_matmul(x[0], x[1]), x[2])); }

/* a unary case: the op, its input's shape (I1, I2, ...), its input, the loss weights, the gradient */
#define GU(op, in, x, w, g) {{#op, NULL, op, 0, 1, {in}}, {x}, w, {g}, 0}
/* ... whose float32 result carries a larger rounding error than 1e-5 */
#define GUT(op, in, x, w, g, tol) {{#op, NULL, op, 0, 1, {in}}, {x}, w, {g}, tol}

TEST(test_grad_golden_tinygrad) {
  static const test_golden cs[] = {
    GU(softmax_m1, I2(0, 3, 5), g_gr_x35, g_gr_softmax_w, g_gr_softmax_g0),
    GU(log_softmax_0, I2(0, 3, 5), g_gr_x35, g_gr_log_softmax_w, g_gr_log_softmax_g0),
    GU(logsumexp_1, I2(0, 3, 5), g_gr_x35, g_gr_logsumexp_w, g_gr_logsumexp_g0),
    /* row 1 of x234 varies by 0.1 around -1.6: 1/std is 20, and float32 results (tinygrad's, ours) are 2e-5 from
     * the float64 gradient, in different directions depending on the order of the sums */
    GUT(layernorm_m1, I3(0, 2, 3, 4), g_gr_x234, g_gr_layernorm_w, g_gr_layernorm_g0, 1e-4),
    GU(std_1, I3(0, 2, 3, 4), g_gr_x234, g_gr_std_w, g_gr_std_g0),
    GU(std_all_c0, I3(0, 2, 3, 4), g_gr_x234, g_gr_std_all_w, g_gr_std_all_g0),
    GU(cumsum_1, I2(0, 3, 5), g_gr_x35, g_gr_cumsum_w, g_gr_cumsum_g0),
    GU(gather_golden, I2(0, 3, 5), g_gr_x35, g_gr_gather_w, g_gr_gather_g0),
    GU(pad_chain, I2(0, 3, 4), g_gr_xp, g_gr_pad_chain_w, g_gr_pad_chain_g0),
    {F(conv_stride2_pad1, 3, I4(0, 2, 3, 5, 5), I4(0, 4, 3, 3, 3), I1(0, 4)), {g_gr_cx, g_gr_cw, g_gr_cb},
     g_gr_conv_w, {g_gr_conv_g0, g_gr_conv_g1, g_gr_conv_g2}, 0},
    {F(conv_groups2_dilation2, 2, I4(0, 1, 4, 6, 6), I4(0, 4, 2, 2, 2)), {g_gr_gx, g_gr_gw}, g_gr_conv_groups_w,
     {g_gr_conv_groups_g0, g_gr_conv_groups_g1}, 0},
    {F(matmul_relu, 3, I2(0, 2, 4), I2(0, 4, 3), I1(0, 3)), {g_gr_mx, g_gr_mw, g_gr_mb}, NULL,
     {g_gr_mlp_g0, g_gr_mlp_g1, g_gr_mlp_g2}, 0},
  };
  for (int i = 0; i < TEST_COUNT(cs); i++) test_golden_grad(&cs[i], 1e-5);
}

/* tinygrad's choices where the derivative does not exist: max and min split the gradient equally among tied
 * elements, maximum and minimum halve it at ties, clip passes it at its bounds, relu has 0 at 0; and prod with zeros,
 * pow at a zero base (e 0^(e-1) for the base, 0 for the exponent, not NaN) */
TEST(test_grad_golden_ties) {
  static const test_golden cs[] = {
    GU(max_1, I2(0, 3, 4), g_gr_ties, g_gr_max_ties_w, g_gr_max_ties_g0),
    GU(max_all, I2(0, 3, 4), g_gr_ties, g_gr_max_ties_all_w, g_gr_max_ties_all_g0),
    GU(min_m1, I2(0, 3, 4), g_gr_ties, g_gr_min_ties_w, g_gr_min_ties_g0),
    {F(maximum, 2, I1(0, 6), I1(0, 6)), {g_gr_ties_a, g_gr_ties_b}, g_gr_maximum_ties_w,
     {g_gr_maximum_ties_g0, g_gr_maximum_ties_g1}, 0},
    {F(minimum, 2, I1(0, 6), I1(0, 6)), {g_gr_ties_a, g_gr_ties_b}, g_gr_minimum_ties_w,
     {g_gr_minimum_ties_g0, g_gr_minimum_ties_g1}, 0},
    GU(clip, I1(0, 6), g_gr_kinks, g_gr_clip_bounds_w, g_gr_clip_bounds_g0),
    GU(tg_relu, I1(0, 6), g_gr_kinks, g_gr_relu_zero_w, g_gr_relu_zero_g0),
    GU(prod_rows, I2(0, 3, 3), g_gr_zeros, g_gr_prod_zeros_w, g_gr_prod_zeros_g0),
    {F(pow_, 2, I1(0, 5), I1(0, 5)), {g_gr_pow_b, g_gr_pow_e}, g_gr_pow_zero_base_w,
     {g_gr_pow_zero_base_g0, g_gr_pow_zero_base_g1}, 0},
  };
  for (int i = 0; i < TEST_COUNT(cs); i++) test_golden_grad(&cs[i], 1e-6);
  /* pow's values at a zero base are unchanged by the care taken for its gradient */
  static const float pb[7] = {0, 0, 0, 0, 0, -0.0f, NAN}, pe[7] = {2, 1, 2.5f, -1, 0, -3, 0};
  static const float want[7] = {0, 0, 0, INFINITY, 1, INFINITY, 1};
  tg_scope_begin();
  CHECK_TENSOR(tg_pow(TEST_F32(pb, 7), TEST_F32(pe, 7)), want, 0, 7);
  CHECK(isnan(tg_item(tg_pow(tg_scalar(0, TG_FLOAT32), tg_scalar(NAN, TG_FLOAT32)))));
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// the autograd API

static const double test_xv[6] = {0.5, -1.2, 2.0, 0.3, -0.7, 1.1}, test_yv[6] = {1.5, 0.25, -0.8, 2.2, -1.0, 0.6};

/* a (2, 3) float64 tensor of v, requiring grad */
static tg_tensor *test_leaf(const double *v) { return tg_requires_grad(TEST_DATA(v, TG_FLOAT64, 2, 3), 1); }

/* want[i] = fn(x[i], y[i]) as floats, for CHECK_TENSOR */
static void test_expect(float *want, double (*fn)(double, double)) {
  for (int i = 0; i < 6; i++) want[i] = (float)fn(test_xv[i], test_yv[i]);
}
static double d_xy_sin_x(double x, double y) { return y + cos(x); }
static double d_x(double x, double y) { return (void)y, x; }
static double d_2x(double x, double y) { return (void)y, 2 * x; }
static double d_4x(double x, double y) { return (void)y, 4 * x; }
static double d_4x_3(double x, double y) { return (void)y, 4 * x + 3; }
static double d_3xx(double x, double y) { return (void)y, 3 * x * x; }
static double d_6x(double x, double y) { return (void)y, 6 * x; }
static double d_6(double x, double y) { return (void)x, (void)y, 6; }
static double d_xx(double x, double y) { return (void)y, x * x; }
static double d_36xxx(double x, double y) { return (void)y, 36 * x * x * x; }
static double d_2xy(double x, double y) { return 2 * x * y; } /* also d(sum (xy)^2)/d(xy) */
static double d_yy(double x, double y) { return (void)x, y * y; }
static double d_msin(double x, double y) { return (void)y, -sin(x); }
static double d_zero(double x, double y) { return (void)x, (void)y, 0; }

/* several wrt at once; a non-scalar output is summed; wrt an intermediate; wrt a tensor outside the graph (zeros) */
TEST(test_grad_gradient_several) {
  tg_scope_begin();
  tg_tensor *x = TEST_DATA(test_xv, TG_FLOAT64, 2, 3), *y = TEST_DATA(test_yv, TG_FLOAT64, 2, 3);
  tg_tensor *other = TEST_DATA(test_yv, TG_FLOAT64, 3, 2);
  tg_tensor *out = tg_add(tg_mul(x, y), tg_sin(x)); /* (2, 3): d(sum out)/dx = y + cos x, /dy = x */
  tg_tensor *g[3] = {NULL, NULL, NULL};
  float want[6];
  CHECK_EQ_INT(tg_gradient(out, (tg_tensor *[]){x, y, other}, 3, g), 0);
  test_expect(want, d_xy_sin_x);
  CHECK_TENSOR(g[0], want, 1e-6, 2, 3);
  test_expect(want, d_x);
  CHECK_TENSOR(g[1], want, 1e-6, 2, 3);
  test_expect(want, d_zero);
  CHECK_TENSOR(g[2], want, 0, 3, 2);
  CHECK_DTYPE(g[0], TG_FLOAT64);
  /* tg_gradient returns new handles and leaves tg_grad alone; no tensor needed tg_requires_grad */
  CHECK_NULL(tg_grad(x));
  /* with respect to an intermediate: d(sum z^2)/dz = 2z */
  tg_tensor *z = tg_mul(x, y), *gz = NULL;
  CHECK_EQ_INT(tg_gradient(tg_sum(tg_mul(z, z), 0, NULL, 0), &z, 1, &gz), 0);
  test_expect(want, d_2xy);
  CHECK_TENSOR(gz, want, 1e-6, 2, 3);
  /* n = 0 is a valid empty request */
  CHECK_EQ_INT(tg_gradient(out, NULL, 0, NULL), 0);
  tg_scope_end();
}

/* no gradient flows through tg_detach; the value is the same */
TEST(test_grad_detach) {
  tg_scope_begin();
  tg_tensor *x = test_leaf(test_xv), *d = tg_detach(x);
  float want[6];
  test_expect(want, d_x);
  CHECK_TENSOR(d, want, 1e-7, 2, 3);
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(x, d), 0, NULL, 0)), 0); /* d(x * const)/dx = const = x, not 2x */
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3);
  /* through a detached intermediate only: tg_gradient gives zeros */
  tg_tensor *g = NULL;
  CHECK_EQ_INT(tg_gradient(tg_exp(tg_detach(tg_mul_s(x, 2))), &x, 1, &g), 0);
  test_expect(want, d_zero);
  CHECK_TENSOR(g, want, 0, 2, 3);
  tg_scope_end();
}

/* a realised tensor keeps its graph: the gradient flows through it (and through tg_contiguous); tg_bitcast carries no
 * gradient (tinygrad) */
static double d_6x_exp(double x, double y) { return (void)y, 6 * x + exp(x); }
TEST(test_grad_through_realised) {
  tg_scope_begin();
  tg_tensor *x = test_leaf(test_xv), *sq = tg_mul(x, x), *e = tg_contiguous(tg_exp(x));
  float want[6];
  test_expect(want, d_xx);
  CHECK_TENSOR(sq, want, 1e-7, 2, 3);
  CHECK_EQ_INT(tg_realize(e), 0);
  CHECK_EQ_INT(tg_backward(tg_sum(tg_add(tg_mul_s(sq, 3), e), 0, NULL, 0)), 0);
  test_expect(want, d_6x_exp);
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3);
  tg_tensor *g = NULL, *bits = tg_bitcast(tg_bitcast(x, TG_INT64), TG_FLOAT64);
  CHECK_EQ_INT(tg_gradient(tg_mul(x, bits), &x, 1, &g), 0);
  test_expect(want, d_x);
  CHECK_TENSOR(g, want, 1e-7, 2, 3);
  tg_scope_end();
}

/* tg_set_grad_enabled(0): results are cut from the graph (their values are right); it returns the previous setting.
 * A tensor made in no-grad mode and then marked with tg_requires_grad is a leaf like any other (parameters are
 * often initialised that way). */
TEST(test_grad_no_grad_mode) {
  tg_scope_begin();
  tg_tensor *x = test_leaf(test_xv);
  CHECK_EQ_INT(tg_set_grad_enabled(0), 1);
  CHECK_EQ_INT(tg_set_grad_enabled(0), 0);
  tg_tensor *sq = tg_mul(x, x);
  tg_tensor *w = tg_requires_grad(tg_mul_s(TEST_DATA(test_yv, TG_FLOAT64, 2, 3), 1.0), 1); /* no-grad: a new leaf */
  CHECK_EQ_INT(tg_set_grad_enabled(1), 0);
  float want[6];
  test_expect(want, d_xx);
  CHECK_TENSOR(sq, want, 1e-7, 2, 3);
  tg_tensor *g = NULL;
  CHECK_EQ_INT(tg_gradient(sq, &x, 1, &g), 0);
  test_expect(want, d_zero);
  CHECK_TENSOR(g, want, 0, 2, 3);
  /* d(sum(x * sq * w))/dx = sq * w = x^2 y (sq is a constant); d/dw = x^3 */
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(tg_mul(x, sq), w), 0, NULL, 0)), 0);
  for (int i = 0; i < 6; i++) want[i] = (float)(test_xv[i] * test_xv[i] * test_yv[i]);
  CHECK_TENSOR(tg_grad(x), want, 1e-6, 2, 3);
  for (int i = 0; i < 6; i++) want[i] = (float)(test_xv[i] * test_xv[i] * test_xv[i]);
  CHECK_TENSOR(tg_grad(w), want, 1e-6, 2, 3);
  tg_scope_end();
}

/* tg_backward adds to the gradient already there (tinygrad's and PyTorch's backward); tg_zero_grad drops it; the
 * gradient belongs to its tensor, not to the scope that was open during tg_backward */
TEST(test_grad_accumulate) {
  tg_tensor *x = test_leaf(test_xv);
  float want[6];
  int64_t live = tg_live_tensors();
  tg_scope_begin();
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(x, x), 0, NULL, 0)), 0);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), live + 1); /* the gradient */
  test_expect(want, d_2x);
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3); /* realised here */
  tg_scope_begin();
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(x, x), 0, NULL, 0)), 0);
  test_expect(want, d_4x);
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3);
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul_s(x, 3), 0, NULL, 0)), 0); /* another loss adds its own */
  test_expect(want, d_4x_3);
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3);
  tg_scope_end();
  tg_zero_grad(x);
  CHECK_NULL(tg_grad(x));
  CHECK_EQ_INT(tg_live_tensors(), live);
  tg_zero_grad(x); /* twice is fine */
  tg_scope_begin();
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(x, x), 0, NULL, 0)), 0);
  tg_scope_end();
  test_expect(want, d_2x);
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3);
  /* a tensor that no longer requires grad keeps its gradient and gets no more */
  tg_scope_begin();
  tg_tensor *y = test_leaf(test_yv);
  tg_requires_grad(x, 0);
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(x, y), 0, NULL, 0)), 0);
  CHECK_TENSOR(tg_grad(x), want, 1e-7, 2, 3);
  test_expect(want, d_x);
  CHECK_TENSOR(tg_grad(y), want, 1e-7, 2, 3);
  tg_scope_end();
  tg_free(x); /* frees its gradient */
  CHECK_EQ_INT(tg_live_tensors(), live - 1);
}

/* tensors built alike share one (hash-consed) node: two biases made by tg_zeros, or two tg_full, are still two leaves
 * with their own gradients, and writing one (an optimiser step with tg_assign) leaves the others alone */
TEST(test_grad_constant_leaves) {
  tg_scope_begin();
  tg_tensor *a = tg_requires_grad(tg_zeros(TG_FLOAT64, TG_SHAPE(2, 3)), 1);
  tg_tensor *b = tg_requires_grad(tg_zeros(TG_FLOAT64, TG_SHAPE(2, 3)), 1);
  tg_tensor *c = tg_requires_grad(tg_full(1.5, TG_FLOAT64, TG_SHAPE(2, 3)), 1);
  tg_tensor *d = tg_requires_grad(tg_full(1.5, TG_FLOAT64, TG_SHAPE(2, 3)), 1);
  tg_tensor *x = TEST_DATA(test_xv, TG_FLOAT64, 2, 3), *zeros = tg_zeros(TG_FLOAT64, TG_SHAPE(2, 3));
  /* L = sum(2(a + x) + 3(b + x) + c x + 5 d) */
  tg_tensor *l = tg_add(tg_mul_s(tg_add(a, x), 2), tg_mul_s(tg_add(b, x), 3));
  CHECK_EQ_INT(tg_backward(tg_sum(tg_add(tg_add(l, tg_mul(c, x)), tg_mul_s(d, 5)), 0, NULL, 0)), 0);
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = 2;
  CHECK_TENSOR(tg_grad(a), want, 0, 2, 3);
  for (int i = 0; i < 6; i++) want[i] = 3;
  CHECK_TENSOR(tg_grad(b), want, 0, 2, 3);
  test_expect(want, d_x);
  CHECK_TENSOR(tg_grad(c), want, 1e-7, 2, 3);
  for (int i = 0; i < 6; i++) want[i] = 5;
  CHECK_TENSOR(tg_grad(d), want, 0, 2, 3);
  for (int i = 0; i < 6; i++) want[i] = 1.5f;
  CHECK_TENSOR(c, want, 0, 2, 3); /* the values are kept */
  /* three SGD steps on L = sum((w - x)^2) from w = 0, lr 0.25: w <- w - 0.5 (w - x) = x/2, 3x/4, 7x/8 */
  tg_tensor *w = tg_requires_grad(tg_zeros(TG_FLOAT64, TG_SHAPE(2, 3)), 1);
  for (int step = 0; step < 3; step++) {
    tg_tensor *e = tg_sub(w, x);
    CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(e, e), 0, NULL, 0)), 0);
    CHECK(tg_assign(w, tg_sub(w, tg_mul_s(tg_grad(w), 0.25))) == w);
    CHECK_EQ_INT(tg_realize(w), 0);
    tg_zero_grad(w);
  }
  for (int i = 0; i < 6; i++) want[i] = (float)(0.875 * test_xv[i]);
  CHECK_TENSOR(w, want, 1e-7, 2, 3);
  for (int i = 0; i < 6; i++) want[i] = 0;
  CHECK_TENSOR(zeros, want, 0, 2, 3);
  CHECK_TENSOR(a, want, 0, 2, 3);
  CHECK_TENSOR(tg_zeros(TG_FLOAT64, TG_SHAPE(2, 3)), want, 0, 2, 3);
  /* a tensor realised before being written is written alone too */
  tg_tensor *p = tg_full(2.0, TG_FLOAT32, TG_SHAPE(4)), *q = tg_full(2.0, TG_FLOAT32, TG_SHAPE(4));
  CHECK_EQ_INT(tg_realize(p), 0);
  CHECK(tg_assign(p, tg_ones(TG_FLOAT32, TG_SHAPE(4))) == p);
  static const float ones4[4] = {1, 1, 1, 1}, twos4[4] = {2, 2, 2, 2};
  CHECK_TENSOR(p, ones4, 0, 4);
  CHECK_TENSOR(q, twos4, 0, 4);
  tg_scope_end();
}

/* an optimiser step is a lazy tg_assign, realised with the next realisation: here the next loss's tg_item, before its
 * tg_backward. The loss's graph holds the assignment, the parameter its buffer by then: still the same leaf. SGD on
 * L = sum(w^2) with lr 0.25 halves w at each step. */
TEST(test_grad_lazy_assign) {
  tg_scope_begin();
  tg_tensor *w = test_leaf(test_xv);
  double l0 = 0;
  for (int i = 0; i < 6; i++) l0 += test_xv[i] * test_xv[i];
  float want[6];
  for (int step = 0; step < 3; step++) {
    tg_tensor *loss = tg_sum(tg_mul(w, w), 0, NULL, 0), *g = NULL;
    CHECK_NEAR(tg_item(loss), l0 * pow(0.25, step), 1e-12);
    CHECK_EQ_INT(tg_gradient(loss, &w, 1, &g), 0);
    CHECK_EQ_INT(tg_backward(loss), 0);
    for (int i = 0; i < 6; i++) want[i] = (float)(2 * test_xv[i] * pow(0.5, step));
    CHECK_TENSOR(g, want, 1e-7, 2, 3);
    CHECK_TENSOR(tg_grad(w), want, 1e-7, 2, 3);
    CHECK(tg_assign(w, tg_sub(w, tg_mul_s(tg_grad(w), 0.25))) == w);
    tg_zero_grad(w);
  }
  tg_scope_end();
}

/* gradients are graphs of the same ops, so they can be differentiated again */
TEST(test_grad_higher_order) {
  tg_scope_begin();
  tg_tensor *x = test_leaf(test_xv), *y = test_leaf(test_yv);
  tg_tensor *g1 = NULL, *g2 = NULL, *g3 = NULL, *g4 = NULL;
  float want[6];
  CHECK_EQ_INT(tg_gradient(tg_mul(tg_mul(x, x), x), &x, 1, &g1), 0);
  CHECK_EQ_INT(tg_gradient(g1, &x, 1, &g2), 0);
  CHECK_EQ_INT(tg_gradient(g2, &x, 1, &g3), 0);
  CHECK_EQ_INT(tg_gradient(g3, &x, 1, &g4), 0);
  test_expect(want, d_3xx);
  CHECK_TENSOR(g1, want, 1e-6, 2, 3);
  test_expect(want, d_6x);
  CHECK_TENSOR(g2, want, 1e-6, 2, 3);
  test_expect(want, d_6);
  CHECK_TENSOR(g3, want, 1e-6, 2, 3);
  test_expect(want, d_zero);
  CHECK_TENSOR(g4, want, 0, 2, 3);
  /* a gradient penalty: L = sum((d sum(x^3)/dx)^2) = sum(9 x^4), dL/dx = 36 x^3 */
  CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(g1, g1), 0, NULL, 0)), 0);
  test_expect(want, d_36xxx);
  CHECK_TENSOR(tg_grad(x), want, 1e-6, 2, 3);
  /* mixed partials: gx = d(sum x y^2)/dx = y^2, then d(sum gx * x)/dy = 2 x y */
  tg_tensor *gx = NULL, *gxy = NULL, *gs = NULL, *gss = NULL;
  CHECK_EQ_INT(tg_gradient(tg_mul(x, tg_mul(y, y)), &x, 1, &gx), 0);
  test_expect(want, d_yy);
  CHECK_TENSOR(gx, want, 1e-6, 2, 3);
  CHECK_EQ_INT(tg_gradient(tg_mul(gx, x), &y, 1, &gxy), 0);
  test_expect(want, d_2xy);
  CHECK_TENSOR(gxy, want, 1e-6, 2, 3);
  /* through a transcendental: d2 sin x / dx2 = -sin x */
  CHECK_EQ_INT(tg_gradient(tg_sin(x), &x, 1, &gs), 0);
  CHECK_EQ_INT(tg_gradient(gs, &x, 1, &gss), 0);
  test_expect(want, d_msin);
  CHECK_TENSOR(gss, want, 1e-6, 2, 3);
  tg_scope_end();
}

/* errors: -1 (or NULL) and a message, never a crash; a failing call changes no gradient */
TEST(test_grad_errors) {
  tg_scope_begin();
  tg_tensor *x = test_leaf(test_xv), *g = NULL;
  tg_tensor *ints = TEST_DATA(((const int32_t[]){1, 2, 3}), TG_INT32, 3);
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(NULL), -1);
  CHECK_ERROR_HAS("tg_backward");
  /* tinygrad's backward needs a scalar (shape ()), not a (1,) or (2, 3) tensor */
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(tg_mul(x, x)), -1);
  CHECK_ERROR_HAS("scalar");
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(tg_sum(x, TG_AXES(0, 1), 1)), -1);
  CHECK_ERROR_HAS("scalar");
  CHECK_NULL(tg_grad(x));
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(tg_sum(ints, 0, NULL, 0)), -1);
  CHECK_ERROR_HAS("float");
  /* a loss that depends on nothing that requires grad, or only through tg_detach */
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(tg_sum(TEST_DATA(test_yv, TG_FLOAT64, 6), 0, NULL, 0)), -1);
  CHECK_ERROR_HAS("requires grad");
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(tg_sum(tg_exp(tg_detach(x)), 0, NULL, 0)), -1);
  CHECK_ERROR_HAS("requires grad");
  CHECK_NULL(tg_grad(x));
  /* a NULL from a failed op upstream */
  tg_clear_error();
  CHECK_EQ_INT(tg_backward(tg_sum(tg_add(x, TEST_DATA(test_yv, TG_FLOAT64, 3, 2)), 0, NULL, 0)), -1);
  CHECK_ERROR_HAS("tg_add");
  /* tg_requires_grad: floats only */
  tg_clear_error();
  CHECK_NULL(tg_requires_grad(ints, 1));
  CHECK_ERROR_HAS("float");
  CHECK_NULL(tg_requires_grad(NULL, 1));
  /* tg_gradient */
  tg_clear_error();
  CHECK_EQ_INT(tg_gradient(NULL, &x, 1, &g), -1);
  CHECK_ERROR_HAS("tg_gradient");
  tg_clear_error();
  g = x;
  CHECK_EQ_INT(tg_gradient(tg_mul(x, x), (tg_tensor *[]){NULL}, 1, &g), -1);
  CHECK_NULL(g);
  CHECK_EQ_INT(tg_gradient(tg_mul(x, x), NULL, 1, &g), -1);
  CHECK_EQ_INT(tg_gradient(tg_mul(x, x), &x, 1, NULL), -1);
  CHECK_EQ_INT(tg_gradient(tg_mul(x, x), &x, -1, &g), -1);
  tg_clear_error();
  CHECK_EQ_INT(tg_gradient(tg_sum(ints, 0, NULL, 0), &x, 1, &g), -1);
  CHECK_ERROR_HAS("float");
  /* tinygrad: "only float Tensors have gradient" */
  tg_clear_error();
  CHECK_EQ_INT(tg_gradient(tg_mul(x, tg_cast(ints, TG_FLOAT64)), &ints, 1, &g), -1);
  CHECK_ERROR_HAS("float");
  /* the rest take NULL quietly or with an error */
  CHECK_NULL(tg_grad(NULL));
  tg_zero_grad(NULL);
  tg_clear_error();
  CHECK_NULL(tg_detach(NULL));
  CHECK_ERROR_HAS("tg_detach");
  CHECK_NULL(tg_grad(x));
  tg_scope_end();
}
