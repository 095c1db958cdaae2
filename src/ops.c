/* ops.c: the tensor operations: elementwise math, activations, reductions, linear algebra, indexing and random
 * numbers (layer 5). Each composite is written in terms of the primitive ops, the way tinygrad's Tensor methods are,
 * so the compiler sees (and fuses) primitives only.
 *
 * Contract: as tensor.c. Binary ops broadcast (numpy) and promote (tinygrad's lattice); a scalar operand takes the
 * tensor's dtype when it fits (an int scalar with any tensor, a float scalar with a float tensor) and the default float
 * otherwise, like tinygrad's weak python scalars. Float-only math casts integer inputs to the default float. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// small helpers over nodes: same shape and dtype assumed

static tg__uop *tg__c(tg__uop *x, double v) { return tg__tfull_like(x, v, x->dtype); }
static tg__uop *tg__tadd(tg__uop *a, tg__uop *b) { return tg__talu(TG__OP_ADD, a, b); }
static tg__uop *tg__tsub(tg__uop *a, tg__uop *b) { return tg__talu(TG__OP_SUB, a, b); }
static tg__uop *tg__tmul(tg__uop *a, tg__uop *b) { return tg__talu(TG__OP_MUL, a, b); }
static tg__uop *tg__tadds(tg__uop *a, double v) { return tg__tadd(a, tg__c(a, v)); }
static tg__uop *tg__tmuls(tg__uop *a, double v) { return tg__tmul(a, tg__c(a, v)); }
static tg__uop *tg__tlt(tg__uop *a, tg__uop *b) { return tg__talu(TG__OP_CMPLT, a, b); }
static tg__uop *tg__tnot(tg__uop *a) { return tg__talu1(TG__OP_NEG, tg__tcast(a, TG_BOOL)); }
static tg__uop *tg__trecip(tg__uop *a) { return tg__talu1(TG__OP_RECIPROCAL, a); }
static tg__uop *tg__tdiv(tg__uop *a, tg__uop *b) { return tg__tmul(a, tg__trecip(b)); }
static tg__uop *tg__texp2(tg__uop *a) { return tg__talu1(TG__OP_EXP2, a); }
static tg__uop *tg__tlog2(tg__uop *a) { return tg__talu1(TG__OP_LOG2, a); }
static tg__uop *tg__texp(tg__uop *a) { return tg__texp2(tg__tmuls(a, 1.0 / M_LN2)); }
static tg__uop *tg__tlog(tg__uop *a) { return tg__tmuls(tg__tlog2(a), M_LN2); }
static tg__uop *tg__tsqrt(tg__uop *a) { return tg__talu1(TG__OP_SQRT, a); }
static tg__uop *tg__tsin(tg__uop *a) { return tg__talu1(TG__OP_SIN, a); }
static tg__uop *tg__tneg(tg__uop *a) { return a->dtype == TG_BOOL ? tg__tnot(a) : tg__talu1(TG__OP_NEG, a); }
static tg__uop *tg__tmax2(tg__uop *a, tg__uop *b) { return tg__talu(TG__OP_MAX, a, b); }
static tg__uop *tg__trelu(tg__uop *a) { return tg__twhere(tg__tlt(tg__c(a, 0), a), a, tg__c(a, 0)); }
static tg__uop *tg__tsigmoid(tg__uop *a) { return tg__trecip(tg__tadds(tg__texp2(tg__tmuls(a, -1.0 / M_LN2)), 1)); }
static tg__uop *tg__ttanh(tg__uop *a) { return tg__tadds(tg__tmuls(tg__tsigmoid(tg__tmuls(a, 2)), 2), -1); }
static tg__uop *tg__ttrunc(tg__uop *a) { return tg__talu1(TG__OP_TRUNC, a); }
static tg__uop *tg__tfloor(tg__uop *a) {
  tg__uop *t = tg__ttrunc(a);
  return tg__twhere(tg__tlt(a, t), tg__tadds(t, -1), t);
}
static tg__uop *tg__tceil(tg__uop *a) {
  tg__uop *t = tg__ttrunc(a);
  return tg__twhere(tg__tlt(t, a), tg__tadds(t, 1), t);
}

static tg_dtype tg__float_of(tg_dtype dt) { return tg__least_float(dt); }
static tg__uop *tg__tfloat(tg__uop *a) { return tg__tcast(a, tg__float_of(a->dtype)); }

/* the dtype a python scalar takes next to a tensor of dtype dt */
static tg_dtype tg__scalar_dtype(tg_dtype dt, double v) {
  int integral = v == floor(v) && fabs(v) < 9.2e18;
  if (tg_dtype_is_float(dt)) return dt;
  if (integral) return dt == TG_BOOL ? TG_INT32 : dt; /* a python int next to bools is an int */
  return tg__default_float();
}

/* handles in, two broadcast nodes of the promoted dtype out */
static int tg__prep2(const char *fn, tg_tensor *a, tg_tensor *b, tg__uop **x, tg__uop **y) {
  if (!a || !b) {
    tg__null(fn);
    return -1;
  }
  tg_dtype dt = tg_promote(a->uop->dtype, b->uop->dtype);
  *x = tg__tcast(a->uop, dt);
  *y = tg__tcast(b->uop, dt);
  return tg__broadcast(fn, x, y);
}

static int tg__prep_s(const char *fn, tg_tensor *a, double v, tg__uop **x, tg__uop **y) {
  if (!a) {
    tg__null(fn);
    return -1;
  }
  tg_dtype dt = tg__scalar_dtype(a->uop->dtype, v);
  *x = tg__tcast(a->uop, dt);
  *y = tg__tfull_like(*x, v, dt);
  return 0;
}

typedef tg__uop *(*tg__binfn)(tg__uop *, tg__uop *);

static tg_tensor *tg__bin(const char *fn, tg_tensor *a, tg_tensor *b, tg__binfn f) {
  tg__uop *x = NULL, *y = NULL;
  if (tg__prep2(fn, a, b, &x, &y) < 0) return NULL;
  return tg__tensor_wrap(f(x, y), a->dev);
}

static tg_tensor *tg__bin_s(const char *fn, tg_tensor *a, double v, tg__binfn f, int reverse) {
  tg__uop *x = NULL, *y = NULL; /* set by tg__prep_s (initialised for GCC -O3) */
  if (tg__prep_s(fn, a, v, &x, &y) < 0) return NULL;
  return tg__tensor_wrap(reverse ? f(y, x) : f(x, y), a->dev);
}

// ---------------------------------------------------------------------------------------------------------------------
// arithmetic

static tg__uop *tg__f_div(tg__uop *x, tg__uop *y) { return tg__tdiv(tg__tfloat(x), tg__tfloat(y)); }

/* python floor division: ints round toward -inf, floats floor(x/y) */
static tg__uop *tg__f_floordiv(tg__uop *x, tg__uop *y) {
  if (tg_dtype_is_float(x->dtype)) return tg__tfloor(tg__tdiv(x, y));
  tg__uop *q = tg__talu(TG__OP_IDIV, x, y);
  if (tg_dtype_is_unsigned(x->dtype) || x->dtype == TG_BOOL) return q;
  tg__uop *r = tg__talu(TG__OP_MOD, x, y), *zero = tg__c(x, 0);
  tg__uop *adjust = tg__talu(TG__OP_AND, tg__talu(TG__OP_CMPNE, r, zero),
                             tg__talu(TG__OP_CMPNE, tg__tlt(r, zero), tg__tlt(y, zero)));
  return tg__twhere(adjust, tg__tadds(q, -1), q);
}

/* python modulo: the result takes the sign of the divisor */
static tg__uop *tg__f_mod(tg__uop *x, tg__uop *y) {
  if (tg_dtype_is_float(x->dtype)) return tg__tsub(x, tg__tmul(y, tg__tfloor(tg__tdiv(x, y))));
  tg__uop *r = tg__talu(TG__OP_MOD, x, y);
  if (tg_dtype_is_unsigned(x->dtype) || x->dtype == TG_BOOL) return r;
  tg__uop *zero = tg__c(x, 0);
  tg__uop *adjust = tg__talu(TG__OP_AND, tg__talu(TG__OP_CMPNE, r, zero),
                             tg__talu(TG__OP_CMPNE, tg__tlt(r, zero), tg__tlt(y, zero)));
  return tg__twhere(adjust, tg__tadd(r, y), r);
}

/* the nearest integer of a float that is one up to rounding error */
static tg__uop *tg__u_round_f(tg__uop *x) { return tg__tfloor(tg__tadds(x, 0.5)); }

/* b ** e = exp2(e * log2|b|); a negative base gives NaN for a fractional exponent and flips sign for an odd one;
 * x ** 0 = 1 (tinygrad's xpow) */
static tg__uop *tg__f_pow(tg__uop *b, tg__uop *e) {
  if (!tg_dtype_is_float(b->dtype)) { /* integers: computed in float64 (exact below 2^53), rounded back */
    tg__uop *r = tg__f_pow(tg__tcast(b, TG_FLOAT64), tg__tcast(e, TG_FLOAT64));
    return tg__tcast(tg__u_round_f(r), b->dtype);
  }
  b = tg__tfloat(b);
  e = tg__tcast(e, b->dtype);
  tg__uop *neg = tg__tlt(b, tg__c(b, 0)), *zero = tg__talu(TG__OP_CMPEQ, b, tg__c(b, 0));
  tg__uop *ret = tg__texp2(tg__tmul(tg__tlog2(tg__twhere(zero, tg__c(b, 1), tg__twhere(neg, tg__tneg(b), b))), e));
  tg__uop *ei = tg__tcast(e, TG_INT32);
  tg__uop *non_int = tg__talu(TG__OP_CMPNE, e, tg__tcast(ei, e->dtype));
  tg__uop *abs_ei = tg__twhere(tg__tlt(ei, tg__c(ei, 0)), tg__tneg(ei), ei);
  tg__uop *odd = tg__tcast(tg__talu(TG__OP_MOD, abs_ei, tg__c(ei, 2)), TG_BOOL);
  tg__uop *neg_inf = tg__talu(TG__OP_CMPEQ, b, tg__c(b, -INFINITY));
  tg__uop *neg_base =
      tg__twhere(non_int, tg__twhere(neg_inf, ret, tg__c(ret, NAN)), tg__twhere(odd, tg__tneg(ret), ret));
  /* 0 ** e is 0 for e > 0 (b itself for e == 1, so that the slope is 1), inf for e < 0, NaN for e NaN; with no log2(0)
   * in the graph: its gradient would be NaN where tinygrad's pow rule gives e * 0^(e-1) = 0 (e > 1) and 0 */
  tg__uop *one = tg__talu(TG__OP_CMPEQ, e, tg__c(e, 1));
  tg__uop *at_zero = tg__twhere(tg__tlt(tg__c(e, 0), e), tg__twhere(one, b, tg__c(b, 0)),
                                tg__twhere(tg__tlt(e, tg__c(e, 0)), tg__c(b, INFINITY), e));
  tg__uop *r = tg__twhere(zero, at_zero, tg__twhere(neg, neg_base, ret));
  return tg__twhere(tg__talu(TG__OP_CMPEQ, e, tg__c(e, 0)), tg__c(ret, 1), r);
}

static tg__uop *tg__f_max(tg__uop *x, tg__uop *y) { return tg__tmax2(x, y); }
/* floats: -max(-x, -y) as tinygrad, so that a tie halves the gradient as max does */
static tg__uop *tg__f_min(tg__uop *x, tg__uop *y) {
  if (tg_dtype_is_float(x->dtype)) return tg__tneg(tg__tmax2(tg__tneg(x), tg__tneg(y)));
  return tg__twhere(tg__tlt(y, x), y, x);
}

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_add", a, b, tg__tadd); }
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_sub", a, b, tg__tsub); }
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_mul", a, b, tg__tmul); }
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_div", a, b, tg__f_div); }
tg_tensor *tg_floordiv(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__bin("tg_floordiv", a, b, tg__f_floordiv);
}
tg_tensor *tg_mod(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_mod", a, b, tg__f_mod); }
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_pow", a, b, tg__f_pow); }
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_maximum", a, b, tg__f_max); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_minimum", a, b, tg__f_min); }
tg_tensor *tg_add_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_add_s", a, b, tg__tadd, 0); }
tg_tensor *tg_sub_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_sub_s", a, b, tg__tsub, 0); }
tg_tensor *tg_rsub_s(double a, tg_tensor *b) { TG__LOCKED(); return tg__bin_s("tg_rsub_s", b, a, tg__tsub, 1); }
tg_tensor *tg_mul_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_mul_s", a, b, tg__tmul, 0); }
tg_tensor *tg_div_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_div_s", a, b, tg__f_div, 0); }
tg_tensor *tg_rdiv_s(double a, tg_tensor *b) { TG__LOCKED(); return tg__bin_s("tg_rdiv_s", b, a, tg__f_div, 1); }
tg_tensor *tg_maximum_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_maximum_s", a, b, tg__f_max, 0); }
tg_tensor *tg_minimum_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_minimum_s", a, b, tg__f_min, 0); }

/* x ** k for a small integer k is exact repeated multiplication (as tinygrad does for const exponents) */
tg_tensor *tg_pow_s(tg_tensor *a, double b) {
  TG__LOCKED();
  TG__NEED("tg_pow_s", a);
  if (!tg_dtype_is_float(tg__scalar_dtype(a->uop->dtype, b)) && b < 0) { /* tinygrad's rule, not wrapped integers */
    tg__set_error("tg_pow_s: %s to the power %g: the base needs to be float (an integer result cannot be negative "
                  "powers' fractions)", tg_dtype_name(a->uop->dtype), b);
    return NULL;
  }
  if (b == floor(b) && fabs(b) <= 16 && (b >= 0 || tg_dtype_is_float(a->uop->dtype))) {
    tg__uop *x = a->uop, *acc = NULL, *p = x;
    for (int64_t k = (int64_t)fabs(b); k; k >>= 1) {
      if (k & 1) acc = acc ? tg__tmul(acc, p) : p;
      if (k > 1) p = tg__tmul(p, p);
    }
    /* x ** 0 is 1 everywhere, NaN and inf included; the node still reads x, so x's gradient is 0, not an error */
    if (!acc) acc = tg__twhere(tg__talu(TG__OP_CMPNE, x, x), tg__c(x, 1), tg__c(x, 1));
    return tg__tensor_wrap(b < 0 ? tg__trecip(acc) : acc, a->dev);
  }
  if (b == 0.5) return tg_sqrt(a);
  return tg__bin_s("tg_pow_s", a, b, tg__f_pow, 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// comparisons and logic

static tg__uop *tg__f_lt(tg__uop *x, tg__uop *y) { return tg__tlt(x, y); }
static tg__uop *tg__f_gt(tg__uop *x, tg__uop *y) { return tg__tlt(y, x); }
static tg__uop *tg__f_le(tg__uop *x, tg__uop *y) { return tg__tnot(tg__tlt(y, x)); }
static tg__uop *tg__f_ge(tg__uop *x, tg__uop *y) { return tg__tnot(tg__tlt(x, y)); }
static tg__uop *tg__f_eq(tg__uop *x, tg__uop *y) { return tg__talu(TG__OP_CMPEQ, x, y); }
static tg__uop *tg__f_ne(tg__uop *x, tg__uop *y) { return tg__talu(TG__OP_CMPNE, x, y); }
tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_lt", a, b, tg__f_lt); }
tg_tensor *tg_le(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_le", a, b, tg__f_le); }
tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_gt", a, b, tg__f_gt); }
tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_ge", a, b, tg__f_ge); }
tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_eq", a, b, tg__f_eq); }
tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_ne", a, b, tg__f_ne); }
tg_tensor *tg_lt_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_lt_s", a, b, tg__f_lt, 0); }
tg_tensor *tg_gt_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_gt_s", a, b, tg__f_gt, 0); }
tg_tensor *tg_eq_s(tg_tensor *a, double b) { TG__LOCKED(); return tg__bin_s("tg_eq_s", a, b, tg__f_eq, 0); }

tg_tensor *tg_where(tg_tensor *cond, tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  TG__NEED("tg_where", cond);
  tg__uop *x, *y, *c = tg__tcast(cond->uop, TG_BOOL);
  if (tg__prep2("tg_where", a, b, &x, &y) < 0) return NULL;
  if (tg__broadcast("tg_where", &c, &x) < 0 || tg__broadcast("tg_where", &c, &y) < 0 ||
      tg__broadcast("tg_where", &x, &y) < 0)
    return NULL;
  return tg__tensor_wrap(tg__twhere(c, x, y), cond->dev);
}

tg_tensor *tg_where_s(tg_tensor *cond, double a, double b) {
  TG__LOCKED();
  TG__NEED("tg_where_s", cond);
  tg_dtype dt = (a == floor(a) && b == floor(b)) ? TG_INT32 : tg__default_float();
  tg__uop *c = tg__tcast(cond->uop, TG_BOOL);
  return tg__tensor_wrap(tg__twhere(c, tg__tfull_like(c, a, dt), tg__tfull_like(c, b, dt)), cond->dev);
}

static int tg__need_int(const char *fn, tg__uop *x) {
  if (tg_dtype_is_float(x->dtype)) {
    tg__set_error("%s: needs an integer or bool tensor, got %s", fn, tg_dtype_name(x->dtype));
    return -1;
  }
  return 0;
}

static tg_tensor *tg__bitwise(const char *fn, tg_tensor *a, tg_tensor *b, tg__op op) {
  tg__uop *x, *y;
  if (tg__prep2(fn, a, b, &x, &y) < 0 || tg__need_int(fn, x) < 0) return NULL;
  return tg__tensor_wrap(tg__talu(op, x, y), a->dev);
}
tg_tensor *tg_bitwise_and(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__bitwise("tg_bitwise_and", a, b, TG__OP_AND);
}
tg_tensor *tg_bitwise_or(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__bitwise("tg_bitwise_or", a, b, TG__OP_OR);
}
tg_tensor *tg_bitwise_xor(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__bitwise("tg_bitwise_xor", a, b, TG__OP_XOR);
}
tg_tensor *tg_bitwise_not(tg_tensor *a) {
  TG__LOCKED();
  TG__NEED("tg_bitwise_not", a);
  if (tg__need_int("tg_bitwise_not", a->uop) < 0) return NULL;
  tg__uop *x = a->uop;
  return tg__tensor_wrap(x->dtype == TG_BOOL ? tg__tnot(x) : tg__talu(TG__OP_XOR, x, tg__c(x, -1)), a->dev);
}

// ---------------------------------------------------------------------------------------------------------------------
// a binary op with a python scalar, any of them, either side, and a python float said as such

static tg__uop *tg__f_and(tg__uop *x, tg__uop *y) { return tg__talu(TG__OP_AND, x, y); }
static tg__uop *tg__f_or(tg__uop *x, tg__uop *y) { return tg__talu(TG__OP_OR, x, y); }
static tg__uop *tg__f_xor(tg__uop *x, tg__uop *y) { return tg__talu(TG__OP_XOR, x, y); }

tg_tensor *tg_binop_s(tg_tensor *a, int op, double v, int flags) {
  TG__LOCKED();
  static const struct { const char *name; tg__binfn f; int bitwise; } ops[] = {
      {"add", tg__tadd, 0},      {"sub", tg__tsub, 0},     {"mul", tg__tmul, 0},    {"div", tg__f_div, 0},
      {"floordiv", tg__f_floordiv, 0}, {"mod", tg__f_mod, 0}, {"pow", tg__f_pow, 0}, {"maximum", tg__f_max, 0},
      {"minimum", tg__f_min, 0}, {"lt", tg__f_lt, 0},      {"le", tg__f_le, 0},     {"gt", tg__f_gt, 0},
      {"ge", tg__f_ge, 0},       {"eq", tg__f_eq, 0},      {"ne", tg__f_ne, 0},     {"bitwise_and", tg__f_and, 1},
      {"bitwise_or", tg__f_or, 1}, {"bitwise_xor", tg__f_xor, 1}};
  TG__NEED("tg_binop_s", a);
  if (op < 0 || op >= TG__COUNT(ops) || (flags & ~(TG_SCALAR_REVERSE | TG_SCALAR_FLOAT))) {
    tg__set_error("tg_binop_s: %s %d is not one of tinygrad.h's", op < 0 || op >= TG__COUNT(ops) ? "op" : "flags",
                  op < 0 || op >= TG__COUNT(ops) ? op : flags);
    return NULL;
  }
  int rev = (flags & TG_SCALAR_REVERSE) != 0;
  tg_dtype dt = (flags & TG_SCALAR_FLOAT) && !tg_dtype_is_float(a->uop->dtype) ? tg__default_float()
                                                                              : tg__scalar_dtype(a->uop->dtype, v);
  if (ops[op].bitwise && (tg_dtype_is_float(dt) || v != floor(v))) {
    tg__set_error("tg_binop_s: bitwise_%s needs an integer or bool tensor and a whole scalar, got %s and %g",
                  ops[op].name + 8, tg_dtype_name(a->uop->dtype), v);
    return NULL;
  }
  if (op == TG_OP_POW && !tg_dtype_is_float(dt) && v < 0) {
    tg__set_error("tg_binop_s: %s%s: the base needs to be float (tinygrad's rule for integer powers)",
                  rev ? "a negative scalar to the power of " : "an integer tensor to a negative power, ",
                  tg_dtype_name(a->uop->dtype));
    return NULL;
  }
  if (op == TG_OP_POW && !rev) { /* tg_pow_s's exact small powers */
    tg_tensor *x = dt == a->uop->dtype ? a : tg_cast(a, dt), *r = tg_pow_s(x, v);
    if (x != a) tg_free(x);
    return r;
  }
  tg__uop *x = tg__tcast(a->uop, dt), *y = tg__tfull_like(x, v, dt);
  return tg__tensor_wrap(rev ? ops[op].f(y, x) : ops[op].f(x, y), a->dev);
}

tg_tensor *tg_floordiv_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_FLOORDIV, b, 0); }
tg_tensor *tg_mod_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_MOD, b, 0); }
tg_tensor *tg_rpow_s(double a, tg_tensor *b) { TG__LOCKED(); return tg_binop_s(b, TG_OP_POW, a, TG_SCALAR_REVERSE); }
tg_tensor *tg_le_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_LE, b, 0); }
tg_tensor *tg_ge_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_GE, b, 0); }
tg_tensor *tg_ne_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_NE, b, 0); }
tg_tensor *tg_bitwise_and_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_AND, b, 0); }
tg_tensor *tg_bitwise_or_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_OR, b, 0); }
tg_tensor *tg_bitwise_xor_s(tg_tensor *a, double b) { TG__LOCKED(); return tg_binop_s(a, TG_OP_XOR, b, 0); }

static tg_tensor *tg__logical(const char *fn, tg_tensor *a, tg_tensor *b, tg__op op) {
  TG__NEED(fn, a);
  TG__NEED(fn, b);
  tg__uop *x = tg__tcast(a->uop, TG_BOOL), *y = tg__tcast(b->uop, TG_BOOL);
  if (tg__broadcast(fn, &x, &y) < 0) return NULL;
  return tg__tensor_wrap(tg__talu(op, x, y), a->dev);
}
tg_tensor *tg_logical_and(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__logical("tg_logical_and", a, b, TG__OP_AND);
}
tg_tensor *tg_logical_or(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__logical("tg_logical_or", a, b, TG__OP_OR);
}
tg_tensor *tg_logical_not(tg_tensor *a) {
  TG__LOCKED();
  TG__NEED("tg_logical_not", a);
  return tg__tensor_wrap(tg__tnot(a->uop), a->dev);
}

static tg_tensor *tg__shift(const char *fn, tg_tensor *a, int bits, tg__op op) {
  TG__NEED(fn, a);
  tg__uop *x = a->uop;
  if (tg__need_int(fn, x) < 0) return NULL;
  if (bits < 0 || bits >= 8 * tg_dtype_size(x->dtype)) {
    tg__set_error("%s: shift by %d is out of range for %s", fn, bits, tg_dtype_name(x->dtype));
    return NULL;
  }
  return tg__tensor_wrap(tg__talu(op, x, tg__c(x, bits)), a->dev);
}
tg_tensor *tg_lshift(tg_tensor *a, int bits) { TG__LOCKED(); return tg__shift("tg_lshift", a, bits, TG__OP_SHL); }
tg_tensor *tg_rshift(tg_tensor *a, int bits) { TG__LOCKED(); return tg__shift("tg_rshift", a, bits, TG__OP_SHR); }

// ---------------------------------------------------------------------------------------------------------------------
// unary math and activations: one function from node to node each, wrapped by one macro

static tg__uop *tg__u_neg(tg__uop *x) { return tg__tneg(x); }
static tg__uop *tg__u_abs(tg__uop *x) {
  if (tg_dtype_is_unsigned(x->dtype) || x->dtype == TG_BOOL) return x;
  /* a zero becomes +0, with a zero gradient (as PyTorch's sign(0) = 0), however the device treats signed zeros;
   * NaN stays NaN */
  tg__uop *zero = tg__c(x, 0), *pos = x;
  if (tg_dtype_is_float(x->dtype)) pos = tg__twhere(tg__talu(TG__OP_CMPEQ, x, zero), zero, x);
  return tg__twhere(tg__tlt(x, zero), tg__tneg(x), pos);
}
static tg__uop *tg__u_sign(tg__uop *x) {
  tg__uop *s = tg__twhere(tg__talu(TG__OP_CMPNE, x, tg__c(x, 0)),
                          tg__twhere(tg__tlt(x, tg__c(x, 0)), tg__c(x, -1), tg__c(x, 1)), tg__c(x, 0));
  /* NaN stays NaN (as PyTorch; tinygrad gives 1); +-inf give +-1 */
  return tg_dtype_is_float(x->dtype) ? tg__twhere(tg__talu(TG__OP_CMPNE, x, x), x, s) : s;
}
static tg__uop *tg__u_exp(tg__uop *x) { return tg__texp(tg__tfloat(x)); }
static tg__uop *tg__u_exp2(tg__uop *x) { return tg__texp2(tg__tfloat(x)); }
static tg__uop *tg__u_log(tg__uop *x) { return tg__tlog(tg__tfloat(x)); }
static tg__uop *tg__u_log2(tg__uop *x) { return tg__tlog2(tg__tfloat(x)); }
static tg__uop *tg__u_sqrt(tg__uop *x) { return tg__tsqrt(tg__tfloat(x)); }
static tg__uop *tg__u_rsqrt(tg__uop *x) { return tg__trecip(tg__tsqrt(tg__tfloat(x))); }
static tg__uop *tg__u_recip(tg__uop *x) { return tg__trecip(tg__tfloat(x)); }
static tg__uop *tg__u_sin(tg__uop *x) { return tg__tsin(tg__tfloat(x)); }
static tg__uop *tg__u_cos(tg__uop *x) { x = tg__tfloat(x); return tg__tsin(tg__tsub(tg__c(x, M_PI / 2), x)); }
static tg__uop *tg__u_tan(tg__uop *x) { return tg__tdiv(tg__u_sin(x), tg__u_cos(x)); }
static tg__uop *tg__u_trunc(tg__uop *x) { return tg_dtype_is_float(x->dtype) ? tg__ttrunc(x) : x; }
static tg__uop *tg__u_floor(tg__uop *x) { return tg_dtype_is_float(x->dtype) ? tg__tfloor(x) : x; }
static tg__uop *tg__u_ceil(tg__uop *x) { return tg_dtype_is_float(x->dtype) ? tg__tceil(x) : x; }
/* half to even: tinygrad's ((x > 0) == (trunc(x)/2 is whole)) ? ceil(x - 0.5) : floor(x + 0.5) */
static tg__uop *tg__u_round(tg__uop *x) {
  if (!tg_dtype_is_float(x->dtype)) return x;
  tg__uop *b = tg__tmuls(tg__ttrunc(x), 0.5);
  tg__uop *even = tg__talu(TG__OP_CMPEQ, tg__ttrunc(b), b);
  tg__uop *c = tg__talu(TG__OP_CMPEQ, tg__tlt(tg__c(x, 0), x), even);
  return tg__twhere(c, tg__tceil(tg__tadds(x, -0.5)), tg__tfloor(tg__tadds(x, 0.5)));
}
static tg__uop *tg__u_square(tg__uop *x) { return tg__tmul(x, x); }
static tg__uop *tg__u_isnan(tg__uop *x) { return tg__talu(TG__OP_CMPNE, x, x); }
static tg__uop *tg__u_isinf(tg__uop *x) {
  if (!tg_dtype_is_float(x->dtype)) return tg__tfull_like(x, 0, TG_BOOL);
  return tg__talu(TG__OP_OR, tg__talu(TG__OP_CMPEQ, x, tg__c(x, INFINITY)),
                  tg__talu(TG__OP_CMPEQ, x, tg__c(x, -INFINITY)));
}
static tg__uop *tg__u_sigmoid(tg__uop *x) { return tg__tsigmoid(tg__tfloat(x)); }
static tg__uop *tg__u_tanh(tg__uop *x) { return tg__ttanh(tg__tfloat(x)); }
static tg__uop *tg__u_relu(tg__uop *x) { return tg__trelu(x); }
/* gelu (tanh approximation): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static tg__uop *tg__u_gelu(tg__uop *x) {
  x = tg__tfloat(x);
  tg__uop *in = tg__tmuls(tg__tadd(x, tg__tmuls(tg__tmul(x, tg__tmul(x, x)), 0.044715)), sqrt(2 / M_PI));
  return tg__tmul(tg__tmuls(x, 0.5), tg__tadds(tg__ttanh(in), 1));
}
static tg__uop *tg__u_quick_gelu(tg__uop *x) {
  x = tg__tfloat(x);
  return tg__tmul(x, tg__tsigmoid(tg__tmuls(x, 1.702)));
}
static tg__uop *tg__u_silu(tg__uop *x) { x = tg__tfloat(x); return tg__tmul(x, tg__tsigmoid(x)); }
/* log(1 + e^x), stably: m + log(e^(x-m) + e^-m) with m = max(x, 0) (tinygrad's logaddexp(x, 0)). Symmetric in its two
 * terms, so the gradient is right at x = 0 too, where max splits it (with |x| instead, it would be 0, not 1/2). */
static tg__uop *tg__softplus1(tg__uop *x) {
  tg__uop *m = tg__tmax2(x, tg__c(x, 0));
  tg__uop *r = tg__tadd(m, tg__tlog(tg__tadd(tg__texp(tg__tsub(x, m)), tg__texp(tg__tneg(m)))));
  return tg__twhere(tg__talu(TG__OP_CMPEQ, x, tg__c(x, INFINITY)), x, r); /* inf, not inf - inf */
}
static tg__uop *tg__u_mish(tg__uop *x) { x = tg__tfloat(x); return tg__tmul(x, tg__ttanh(tg__softplus1(x))); }
/* relu(x) capped at hi: tinygrad's relu(x) - relu(x - hi) in value and gradient (1 at hi), but hi at +inf, where
 * tinygrad's gives inf - inf */
static tg__uop *tg__relu_cap(tg__uop *x, double hi) {
  tg__uop *r = tg__trelu(x);
  return tg__twhere(tg__tlt(tg__c(r, hi), r), tg__c(r, hi), r);
}
static tg__uop *tg__relu6(tg__uop *x) { return tg__relu_cap(x, 6); }
static tg__uop *tg__u_hardsigmoid(tg__uop *x) {
  x = tg__tfloat(x);
  return tg__relu_cap(tg__tadds(tg__tmuls(x, 1.0 / 6), 0.5), 1);
}
static tg__uop *tg__u_hardswish(tg__uop *x) {
  x = tg__tfloat(x);
  return tg__tmuls(tg__tmul(x, tg__relu6(tg__tadds(x, 3))), 1.0 / 6);
}
/* Abramowitz & Stegun 7.1.26, as tinygrad */
static tg__uop *tg__u_erf(tg__uop *x) {
  x = tg__tfloat(x);
  static const double p[5] = {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592};
  tg__uop *t = tg__trecip(tg__tadds(tg__tmuls(tg__u_abs(x), 0.3275911), 1));
  tg__uop *poly = tg__c(x, p[0]);
  for (int i = 1; i < 5; i++) poly = tg__tadds(tg__tmul(poly, t), p[i]);
  tg__uop *e = tg__texp(tg__tneg(tg__tmul(x, x)));
  tg__uop *r = tg__tmul(tg__u_sign(x), tg__tsub(tg__c(x, 1), tg__tmul(tg__tmul(t, poly), e)));
  /* at 0, sign(x) would make the gradient 0: there erf(x) = 2x/sqrt(pi), the value 0 and the slope right */
  return tg__twhere(tg__talu(TG__OP_CMPEQ, x, tg__c(x, 0)), tg__tmuls(x, M_2_SQRTPI), r);
}

static tg__uop *tg__u_gelu_erf(tg__uop *x) { /* the exact form: x/2 (1 + erf(x / sqrt(2))), tinygrad's "none" */
  x = tg__tfloat(x);
  return tg__tmul(tg__tmuls(x, 0.5), tg__tadds(tg__u_erf(tg__tmuls(x, M_SQRT1_2)), 1));
}
static tg__uop *tg__u_relu6(tg__uop *x) { return tg__relu6(x); }
static tg__uop *tg__u_selu(tg__uop *x) { /* tinygrad's constants (PyTorch's to more digits: 1.6732632, 1.0507010) */
  x = tg__tfloat(x);
  tg__uop *neg = tg__tmuls(tg__tadds(tg__texp(x), -1), 1.67326);
  return tg__tmuls(tg__twhere(tg__tlt(x, tg__c(x, 0)), neg, x), 1.0507);
}
static tg__uop *tg__u_logsigmoid(tg__uop *x) { x = tg__tfloat(x); return tg__tneg(tg__softplus1(tg__tneg(x))); }
static tg__uop *tg__u_softsign(tg__uop *x) { /* +-1 at +-inf (tinygrad's: inf / inf) */
  x = tg__tfloat(x);
  return tg__twhere(tg__u_isinf(x), tg__u_sign(x), tg__tdiv(x, tg__tadds(tg__u_abs(x), 1)));
}
static tg__uop *tg__u_sinh(tg__uop *x) {
  x = tg__tfloat(x);
  return tg__tmuls(tg__tsub(tg__texp(x), tg__texp(tg__tneg(x))), 0.5);
}
static tg__uop *tg__u_cosh(tg__uop *x) {
  x = tg__tfloat(x);
  return tg__tmuls(tg__tadd(tg__texp(x), tg__texp(tg__tneg(x))), 0.5);
}
/* tinygrad's: pi/2 - sqrt(1 - |x|) p(|x|), a polynomial of degree 7 (Abramowitz & Stegun 4.4.46, |error| <= 2e-8),
 * with x's sign; NaN past +-1. At 0 the value is x and the slope 1 (sign(x) alone would make it 0, as tinygrad's) */
static tg__uop *tg__u_asin(tg__uop *x) {
  x = tg__tfloat(x);
  static const double p[8] = {-0.0012624911, 0.0066700901, -0.0170881256, 0.0308918810,
                              -0.0501743046, 0.0889789874, -0.2145988016, 1.5707963050};
  tg__uop *ax = tg__u_abs(x), *poly = tg__c(x, p[0]);
  for (int i = 1; i < 8; i++) poly = tg__tadds(tg__tmul(poly, ax), p[i]);
  tg__uop *r = tg__tsub(tg__c(x, M_PI / 2), tg__tmul(tg__tsqrt(tg__tsub(tg__c(x, 1), ax)), poly));
  return tg__twhere(tg__talu(TG__OP_CMPEQ, x, tg__c(x, 0)), x, tg__tmul(tg__u_sign(x), r));
}
static tg__uop *tg__u_acos(tg__uop *x) { x = tg__tfloat(x); return tg__tsub(tg__c(x, M_PI / 2), tg__u_asin(x)); }
/* asin(x / sqrt(1 + x^2)) as tinygrad, for |x| <= 1; past it sign(x) pi/2 - atan(1/x), so that atan(+-inf) is
 * +-pi/2 (tinygrad's gives NaN there: inf / inf). Each branch reads a safe input (1 where it is not used), so the
 * unused one adds no NaN to the gradient */
static tg__uop *tg__u_atan(tg__uop *x) {
  x = tg__tfloat(x);
  tg__uop *big = tg__tlt(tg__c(x, 1), tg__u_abs(x)), *one = tg__c(x, 1);
  tg__uop *xs = tg__twhere(big, one, x), *xb = tg__twhere(big, x, one);
  tg__uop *small = tg__u_asin(tg__tdiv(xs, tg__tsqrt(tg__tadds(tg__tmul(xs, xs), 1))));
  tg__uop *inv = tg__trecip(xb);
  tg__uop *far = tg__tsub(tg__tmuls(tg__u_sign(xb), M_PI / 2),
                          tg__u_asin(tg__tdiv(inv, tg__tsqrt(tg__tadds(tg__tmul(inv, inv), 1)))));
  return tg__twhere(big, far, small);
}
static tg__uop *tg__u_log10(tg__uop *x) { return tg__tmuls(tg__tlog2(tg__tfloat(x)), M_LN2 / M_LN10); }
static tg__uop *tg__u_isfinite(tg__uop *x) {
  if (!tg_dtype_is_float(x->dtype)) return tg__tfull_like(x, 1, TG_BOOL);
  return tg__tnot(tg__talu(TG__OP_OR, tg__u_isinf(x), tg__u_isnan(x)));
}

#define TG__UNARY(name, f)                              \
  tg_tensor *name(tg_tensor *a) {                       \
    TG__LOCKED();                                       \
    TG__NEED(#name, a);                                 \
    return tg__tensor_wrap(f(a->uop), a->dev);          \
  }
TG__UNARY(tg_neg, tg__u_neg)
TG__UNARY(tg_abs, tg__u_abs)
TG__UNARY(tg_sign, tg__u_sign)
TG__UNARY(tg_exp, tg__u_exp)
TG__UNARY(tg_exp2, tg__u_exp2)
TG__UNARY(tg_log, tg__u_log)
TG__UNARY(tg_log2, tg__u_log2)
TG__UNARY(tg_sqrt, tg__u_sqrt)
TG__UNARY(tg_rsqrt, tg__u_rsqrt)
TG__UNARY(tg_reciprocal, tg__u_recip)
TG__UNARY(tg_sin, tg__u_sin)
TG__UNARY(tg_cos, tg__u_cos)
TG__UNARY(tg_tan, tg__u_tan)
TG__UNARY(tg_erf, tg__u_erf)
TG__UNARY(tg_floor, tg__u_floor)
TG__UNARY(tg_ceil, tg__u_ceil)
TG__UNARY(tg_round, tg__u_round)
TG__UNARY(tg_trunc, tg__u_trunc)
TG__UNARY(tg_square, tg__u_square)
TG__UNARY(tg_isnan, tg__u_isnan)
TG__UNARY(tg_isinf, tg__u_isinf)
TG__UNARY(tg_sigmoid, tg__u_sigmoid)
TG__UNARY(tg_tanh, tg__u_tanh)
TG__UNARY(tg_relu, tg__u_relu)
TG__UNARY(tg_gelu, tg__u_gelu)
TG__UNARY(tg_quick_gelu, tg__u_quick_gelu)
TG__UNARY(tg_silu, tg__u_silu)
TG__UNARY(tg_mish, tg__u_mish)
TG__UNARY(tg_hardsigmoid, tg__u_hardsigmoid)
TG__UNARY(tg_hardswish, tg__u_hardswish)
TG__UNARY(tg_gelu_erf, tg__u_gelu_erf)
TG__UNARY(tg_relu6, tg__u_relu6)
TG__UNARY(tg_selu, tg__u_selu)
TG__UNARY(tg_logsigmoid, tg__u_logsigmoid)
TG__UNARY(tg_softsign, tg__u_softsign)
TG__UNARY(tg_sinh, tg__u_sinh)
TG__UNARY(tg_cosh, tg__u_cosh)
TG__UNARY(tg_asin, tg__u_asin)
TG__UNARY(tg_acos, tg__u_acos)
TG__UNARY(tg_atan, tg__u_atan)
TG__UNARY(tg_log10, tg__u_log10)
TG__UNARY(tg_isfinite, tg__u_isfinite)

// ---------------------------------------------------------------------------------------------------------------------
// more binary ops, as tinygrad composes them

/* integers: C's truncated quotient, or python's floored one; floats: the true quotient truncated or floored; bools and
 * integers with TG_DIV_TRUE: the float quotient */
static tg__uop *tg__f_div_trunc(tg__uop *x, tg__uop *y) {
  if (!tg_dtype_is_float(x->dtype) && x->dtype != TG_BOOL) return tg__talu(TG__OP_IDIV, x, y);
  return tg__ttrunc(tg__f_div(x, y));
}
static tg__uop *tg__f_div_floor(tg__uop *x, tg__uop *y) {
  if (!tg_dtype_is_float(x->dtype) && x->dtype != TG_BOOL) return tg__f_floordiv(x, y);
  return tg__tfloor(tg__f_div(x, y));
}
tg_tensor *tg_div_mode(tg_tensor *a, tg_tensor *b, int rounding) {
  TG__LOCKED();
  if (rounding != TG_DIV_TRUE && rounding != TG_DIV_TRUNC && rounding != TG_DIV_FLOOR) {
    tg__set_error("tg_div_mode: rounding %d is none of TG_DIV_TRUE, TG_DIV_TRUNC, TG_DIV_FLOOR", rounding);
    return NULL;
  }
  return tg__bin("tg_div_mode", a, b, rounding == TG_DIV_TRUE ? tg__f_div
                                      : rounding == TG_DIV_TRUNC ? tg__f_div_trunc : tg__f_div_floor);
}

/* the remainder with the dividend's sign: C's % on integers; x - trunc(x / y) y on floats (tinygrad's formula: it
 * rounds the quotient, so it is not C's exact fmod for quotients past 2^24) */
static tg__uop *tg__f_fmod(tg__uop *x, tg__uop *y) {
  if (!tg_dtype_is_float(x->dtype) && x->dtype != TG_BOOL) return tg__talu(TG__OP_MOD, x, y);
  x = tg__tfloat(x), y = tg__tfloat(y);
  tg__uop *r = tg__tsub(x, tg__tmul(tg__ttrunc(tg__tdiv(x, y)), y));
  /* C's fmod(x, +-inf) = x for finite x (tinygrad's formula gives 0 * inf) */
  return tg__twhere(tg__talu(TG__OP_AND, tg__u_isinf(y), tg__tnot(tg__u_isinf(x))), x, r);
}
tg_tensor *tg_fmod(tg_tensor *a, tg_tensor *b) { TG__LOCKED(); return tg__bin("tg_fmod", a, b, tg__f_fmod); }

/* |x| with y's sign, a negative zero's too (1/y < 0) */
static tg__uop *tg__f_copysign(tg__uop *x, tg__uop *y) {
  tg__uop *yf = tg__tfloat(y), *mag = tg__u_abs(x);
  tg__uop *neg = tg__talu(TG__OP_OR, tg__tlt(yf, tg__c(yf, 0)), tg__tlt(tg__trecip(yf), tg__c(yf, 0)));
  return tg__twhere(neg, tg__tneg(mag), mag);
}
tg_tensor *tg_copysign(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__bin("tg_copysign", a, b, tg__f_copysign);
}

/* log(e^x + e^y) = m + log(e^(x-m) + e^(y-m)), m = max(x, y); m itself where it is infinite (tinygrad's formula
 * gives inf - inf there) */
static tg__uop *tg__f_logaddexp(tg__uop *x, tg__uop *y) {
  x = tg__tfloat(x), y = tg__tfloat(y);
  tg__uop *m = tg__tmax2(x, y);
  tg__uop *r = tg__tadd(tg__tlog(tg__tadd(tg__texp(tg__tsub(x, m)), tg__texp(tg__tsub(y, m)))), m);
  return tg__twhere(tg__u_isinf(m), m, r);
}
tg_tensor *tg_logaddexp(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  return tg__bin("tg_logaddexp", a, b, tg__f_logaddexp);
}

/* a + (end - a) w; uint8 images with a tensor weight as tinygrad: the weight in 7 fractional bits, the step in int8,
 * rounded, so that the result stays uint8 */
tg_tensor *tg_lerp(tg_tensor *a, tg_tensor *end, tg_tensor *weight) {
  TG__LOCKED();
  TG__NEED("tg_lerp", a);
  TG__NEED("tg_lerp", end);
  TG__NEED("tg_lerp", weight);
  tg__uop *x, *e, *w;
  if (tg__prep2("tg_lerp", a, end, &x, &e) < 0) return NULL;
  w = weight->uop;
  if (tg__broadcast("tg_lerp", &x, &w) < 0 || tg__broadcast("tg_lerp", &e, &w) < 0 ||
      tg__broadcast("tg_lerp", &x, &e) < 0)
    return NULL;
  if (x->dtype == TG_UINT8) {
    tg__uop *wi = tg__tcast(tg__tadds(tg__tmuls(tg__tfloat(w), 128), 0.5), TG_INT16);
    tg__uop *step = tg__tmul(tg__tcast(tg__tcast(tg__tsub(e, x), TG_INT8), TG_INT16), wi);
    step = tg__talu(TG__OP_SHR, tg__tcast(tg__tadds(step, 64), TG_UINT16), tg__c(tg__tcast(step, TG_UINT16), 7));
    return tg__tensor_wrap(tg__tcast(tg__tadd(tg__tcast(x, TG_UINT16), step), TG_UINT8), a->dev);
  }
  tg_dtype dt = tg_promote(x->dtype, w->dtype);
  x = tg__tcast(x, dt), e = tg__tcast(e, dt), w = tg__tcast(w, dt);
  return tg__tensor_wrap(tg__tadd(x, tg__tmul(tg__tsub(e, x), w)), a->dev);
}
tg_tensor *tg_lerp_s(tg_tensor *a, tg_tensor *end, double weight) {
  TG__LOCKED();
  tg__uop *x, *e;
  if (tg__prep2("tg_lerp_s", a, end, &x, &e) < 0) return NULL;
  tg_dtype dt = tg__scalar_dtype(x->dtype, weight);
  x = tg__tcast(x, dt), e = tg__tcast(e, dt);
  return tg__tensor_wrap(tg__tadd(x, tg__tmul(tg__tsub(e, x), tg__tfull_like(x, weight, dt))), a->dev);
}

/* tinygrad's celu: max(x, 0) + min(alpha (exp(x / alpha) - 1), 0) */
tg_tensor *tg_celu(tg_tensor *a, double alpha) {
  TG__LOCKED();
  TG__NEED("tg_celu", a);
  if (alpha == 0 || alpha != alpha) {
    tg__set_error("tg_celu: alpha must be a nonzero number, got %g", alpha);
    return NULL;
  }
  /* x where positive, else alpha (exp(x / alpha) - 1): tinygrad's max(x, 0) + min(that, 0) in value and gradient
   * (1 at 0), and NaN at NaN as tinygrad's */
  tg__uop *x = tg__tfloat(a->uop);
  tg__uop *e = tg__tmuls(tg__tadds(tg__texp(tg__tmuls(x, 1 / alpha)), -1), alpha);
  return tg__tensor_wrap(tg__twhere(tg__tlt(tg__c(x, 0), x), x, e), a->dev);
}

tg_tensor *tg_clip(tg_tensor *a, double lo, double hi) {
  TG__LOCKED();
  TG__NEED("tg_clip", a);
  if (lo > hi) {
    tg__set_error("tg_clip: lo %g is greater than hi %g", lo, hi);
    return NULL;
  }
  tg__uop *x = a->uop;
  tg_dtype dt = tg__scalar_dtype(tg__scalar_dtype(x->dtype, lo), hi);
  x = tg__tcast(x, dt);
  /* tinygrad's clamp: where(x < lo, lo, x), then where(r > hi, hi, r): the gradient passes at the bounds */
  tg__uop *r = tg__twhere(tg__tlt(x, tg__c(x, lo)), tg__c(x, lo), x);
  return tg__tensor_wrap(tg__twhere(tg__tlt(tg__c(r, hi), r), tg__c(r, hi), r), a->dev);
}
tg_tensor *tg_hardtanh(tg_tensor *a, double lo, double hi) { TG__LOCKED(); return tg_clip(a, lo, hi); }

tg_tensor *tg_leaky_relu(tg_tensor *a, double neg_slope) {
  TG__LOCKED();
  TG__NEED("tg_leaky_relu", a);
  tg__uop *x = tg__tfloat(a->uop);
  return tg__tensor_wrap(tg__twhere(tg__tlt(x, tg__c(x, 0)), tg__tmuls(x, neg_slope), x), a->dev);
}

tg_tensor *tg_elu(tg_tensor *a, double alpha) {
  TG__LOCKED();
  TG__NEED("tg_elu", a);
  tg__uop *x = tg__tfloat(a->uop);
  return tg__tensor_wrap(tg__tsub(tg__trelu(x), tg__tmuls(tg__trelu(tg__tsub(tg__c(x, 1), tg__texp(x))), alpha)),
                         a->dev);
}

tg_tensor *tg_softplus(tg_tensor *a, double beta) {
  TG__LOCKED();
  TG__NEED("tg_softplus", a);
  if (beta == 0) {
    tg__set_error("tg_softplus: beta cannot be 0");
    return NULL;
  }
  tg__uop *x = tg__tfloat(a->uop);
  return tg__tensor_wrap(tg__tmuls(tg__softplus1(tg__tmuls(x, beta)), 1 / beta), a->dev);
}

tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt) {
  TG__LOCKED();
  TG__NEED("tg_cast", a);
  if ((int)dt < 0 || (int)dt >= TG_NDTYPES) {
    tg__set_error("tg_cast: %d is not a tg_dtype", (int)dt);
    return NULL;
  }
  return tg__tensor_wrap(tg__tcast(a->uop, dt), a->dev);
}

tg_tensor *tg_bitcast(tg_tensor *a, tg_dtype dt) {
  TG__LOCKED();
  TG__NEED("tg_bitcast", a);
  if ((int)dt < 0 || (int)dt >= TG_NDTYPES || tg_dtype_size(dt) != tg_dtype_size(a->uop->dtype)) {
    tg__set_error("tg_bitcast: cannot bitcast %s to %s (sizes differ)", tg_dtype_name(a->uop->dtype),
                  (int)dt >= 0 && (int)dt < TG_NDTYPES ? tg_dtype_name(dt) : "an invalid dtype");
    return NULL;
  }
  if (dt == a->uop->dtype) return tg__tensor_wrap(a->uop, a->dev);
  return tg__tensor_wrap(tg__uop1(TG__OP_BITCAST, dt, a->uop, NULL), a->dev);
}

tg_tensor *tg_contiguous(tg_tensor *a) {
  TG__LOCKED();
  TG__NEED("tg_contiguous", a);
  return tg__tensor_wrap(tg__uop1(TG__OP_CONTIGUOUS, a->uop->dtype, a->uop, NULL), a->dev);
}

// ---------------------------------------------------------------------------------------------------------------------
// reductions

/* naxes == 0 reduces every axis */
static int tg__axes_mask(const char *fn, tg__uop *x, int naxes, const int *axes, int64_t *mask) {
  *mask = 0;
  if (naxes == 0) {
    *mask = x->ndim ? (int64_t)((1ULL << x->ndim) - 1) : 0;
    return 0;
  }
  return tg__axes_to_mask(fn, x->ndim, naxes, axes, mask);
}

/* removes the reduced (size-1) axes unless keepdim */
static tg__uop *tg__unkeep(tg__uop *x, int64_t mask, int keepdim) {
  if (keepdim || !x) return x;
  int64_t s[TG_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < x->ndim; i++)
    if (!((mask >> i) & 1)) s[n++] = x->shape[i];
  return tg__treshape(x, n, s);
}

static int64_t tg__count(tg__uop *x, int64_t mask) {
  int64_t n = 1;
  for (int i = 0; i < x->ndim; i++)
    if ((mask >> i) & 1 && !tg__is_sym(x->shape[i])) n *= x->shape[i];
  return n;
}

/* the product of the symbolic sizes among the axes of mask, as a float scalar of the graph (NULL: none) */
static tg__uop *tg__sym_count(tg__uop *x, int64_t mask) {
  tg__uop *p = NULL;
  for (int i = 0; i < x->ndim; i++) {
    if (!((mask >> i) & 1) || !tg__is_sym(x->shape[i])) continue;
    tg__uop *v = tg__var_node(tg__sym_slot(x->shape[i]));
    if (tg__sym_offset(x->shape[i])) v = tg__talu(TG__OP_ADD, v, tg__const_int(TG_INT32, tg__sym_offset(x->shape[i])));
    v = tg__tcast(v, TG_FLOAT32);
    p = p ? tg__talu(TG__OP_MUL, p, v) : v;
  }
  return p;
}

/* tinygrad's sum_acc_dtype: small ints sum in int32 (uint32 if unsigned), halves in float32 */
static tg_dtype tg__sum_acc(tg_dtype dt) {
  if (tg_dtype_is_unsigned(dt)) return tg_promote(dt, TG_UINT32);
  if (tg_dtype_is_int(dt) || dt == TG_BOOL) return tg_promote(dt, TG_INT32);
  return tg_promote(dt, TG_FLOAT32);
}

TG__PRIVATE tg__uop *tg__tsum(tg__uop *x, int64_t mask) {
  tg_dtype out = x->dtype == TG_FLOAT16 || x->dtype == TG_BFLOAT16 ? x->dtype : tg__sum_acc(x->dtype);
  return tg__tcast(tg__treduce(tg__tcast(x, tg__sum_acc(x->dtype)), TG__OP_ADD, mask), out);
}

/* the order-reversing map used for min: -x, ~x for unsigned, !x for bool */
static tg__uop *tg__inverse(tg__uop *x) {
  if (x->dtype == TG_BOOL) return tg__tnot(x);
  /* integers: ~x (as tinygrad), which reverses the order without overflowing at the minimum as -x would */
  if (tg_dtype_is_int(x->dtype)) return tg__talu(TG__OP_XOR, x, tg__c(x, -1));
  return tg__tneg(x);
}

TG__PRIVATE tg__uop *tg__tmax(tg__uop *x, int64_t mask) { return tg__treduce(x, TG__OP_MAX, mask); }
static tg__uop *tg__tmin(tg__uop *x, int64_t mask) {
  return tg__inverse(tg__treduce(tg__inverse(x), TG__OP_MAX, mask));
}

TG__PRIVATE tg__uop *tg__tmean(tg__uop *x, int64_t mask) {
  tg_dtype out = tg_dtype_is_float(x->dtype) ? x->dtype : tg__default_float();
  tg__uop *s = tg__tcast(tg__treduce(tg__tcast(x, tg__sum_acc(x->dtype)), TG__OP_ADD, mask), tg__sum_acc(x->dtype));
  s = tg__tcast(s, tg_dtype_is_float(s->dtype) ? s->dtype : tg__default_float());
  int64_t n = tg__count(x, mask);
  tg__uop *sym = tg__sym_count(x, mask); /* a mean over a symbolic size divides by the variable's value */
  if (sym) {
    int64_t ones[TG_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++) ones[i] = 1;
    tg__uop *r = tg__tcast(tg__talu1(TG__OP_RECIPROCAL, sym), s->dtype);
    s = tg__tmul(s, tg__texpand(tg__treshape(r, s->ndim, ones), s->shape));
  }
  return tg__tcast(tg__tmuls(s, n ? 1.0 / (double)n : NAN), out);
}

static tg__uop *tg__tvar(tg__uop *x, int64_t mask, double correction) {
  tg__uop *m = tg__tmean(x, mask);
  tg__uop *xf = tg__tcast(x, m->dtype);
  tg__uop *d = tg__tsub(xf, tg__texpand(m, xf->shape));
  double n = (double)tg__count(x, mask) - correction;
  return tg__tmuls(tg__treduce(tg__tmul(d, d), TG__OP_ADD, mask), n > 0 ? 1.0 / n : INFINITY);
}

typedef tg__uop *(*tg__redfn)(tg__uop *x, int64_t mask);

static tg_tensor *tg__reduction(const char *fn, tg_tensor *a, int naxes, const int *axes, int keepdim, tg__redfn f) {
  TG__NEED(fn, a);
  int64_t mask;
  if (tg__axes_mask(fn, a->uop, naxes, axes, &mask) < 0) return NULL;
  return tg__tensor_wrap(tg__unkeep(f(a->uop, mask), mask, keepdim), a->dev);
}

static tg__uop *tg__r_prod(tg__uop *x, int64_t mask) { return tg__treduce(x, TG__OP_MUL, mask); }
static tg__uop *tg__r_any(tg__uop *x, int64_t mask) { return tg__treduce(tg__tcast(x, TG_BOOL), TG__OP_MAX, mask); }
static tg__uop *tg__r_all(tg__uop *x, int64_t mask) { return tg__tnot(tg__r_any(tg__tnot(x), mask)); }
tg_tensor *tg_sum(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_sum", a, n, ax, k, tg__tsum);
}
tg_tensor *tg_prod(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_prod", a, n, ax, k, tg__r_prod);
}
tg_tensor *tg_max(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_max", a, n, ax, k, tg__tmax);
}
tg_tensor *tg_min(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_min", a, n, ax, k, tg__tmin);
}
tg_tensor *tg_mean(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_mean", a, n, ax, k, tg__tmean);
}
tg_tensor *tg_any(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_any", a, n, ax, k, tg__r_any);
}
tg_tensor *tg_all(tg_tensor *a, int n, const int *ax, int k) {
  TG__LOCKED();
  return tg__reduction("tg_all", a, n, ax, k, tg__r_all);
}

tg_tensor *tg_var(tg_tensor *a, int naxes, const int *axes, int keepdim, double correction) {
  TG__LOCKED();
  TG__NEED("tg_var", a);
  int64_t mask;
  if (tg__axes_mask("tg_var", a->uop, naxes, axes, &mask) < 0) return NULL;
  return tg__tensor_wrap(tg__unkeep(tg__tvar(a->uop, mask, correction), mask, keepdim), a->dev);
}

tg_tensor *tg_std(tg_tensor *a, int naxes, const int *axes, int keepdim, double correction) {
  TG__LOCKED();
  TG__NEED("tg_std", a);
  int64_t mask;
  if (tg__axes_mask("tg_std", a->uop, naxes, axes, &mask) < 0) return NULL;
  return tg__tensor_wrap(tg__unkeep(tg__tsqrt(tg__tvar(a->uop, mask, correction)), mask, keepdim), a->dev);
}

tg_tensor *tg_logsumexp(tg_tensor *a, int axis, int keepdim) {
  TG__LOCKED();
  TG__NEED("tg_logsumexp", a);
  int64_t mask = (1LL << a->uop->ndim) - 1; /* TG_ALL_AXES: every axis (tinygrad's axis=None) */
  if (axis != TG_ALL_AXES) {
    int ax = tg__axis("tg_logsumexp", axis, a->uop->ndim);
    if (ax < 0) return NULL;
    mask = 1LL << ax;
  }
  /* shifted by the max, or by 0 where the max is infinite: log(sum) is then -inf or inf itself (PyTorch's; tinygrad's
   * gives NaN from inf - inf) */
  tg__uop *x = tg__tfloat(a->uop), *m = tg__tmax(x, mask);
  m = tg__twhere(tg__u_isinf(m), tg__c(m, 0), m);
  tg__uop *s = tg__treduce(tg__texp(tg__tsub(x, tg__texpand(m, x->shape))), TG__OP_ADD, mask);
  return tg__tensor_wrap(tg__unkeep(tg__tadd(tg__tlog(s), m), mask, keepdim), a->dev);
}

/* first index of the maximum: n - max((x == max) * (n, n-1, ..., 1)) (tinygrad) */
static tg_tensor *tg__argext(const char *fn, tg_tensor *a, int axis, int keepdim, int is_min) {
  TG__NEED(fn, a);
  tg__uop *x = a->uop;
  int64_t one = 1;
  if (axis == TG_ALL_AXES) { /* the flattened tensor's index, 0-d (tinygrad's axis=None; keepdim ignored, as there) */
    int64_t numel = tg__numel_max(x->ndim, x->shape);
    tg_tensor *flat = tg__tensor_wrap(tg__treshape(x, 1, &numel), a->dev);
    tg_tensor *r = flat ? tg__argext(fn, flat, 0, 0, is_min) : NULL;
    tg_free(flat);
    return r;
  }
  if (x->ndim == 0) x = tg__treshape(x, 1, &one);
  int ax = tg__axis(fn, axis, x->ndim);
  if (ax < 0) return NULL;
  int64_t mask = 1LL << ax, n = x->shape[ax], s[TG_MAX_DIMS];
  if (n == 0) { /* as numpy and PyTorch: no element, no index (the formula below would give INT32_MIN) */
    char b[128];
    tg__set_error("%s: axis %d of %s is empty: an empty axis has no %s", fn, ax, TG__SHAPE(a->uop, b),
                  is_min ? "minimum" : "maximum");
    return NULL;
  }
  if (tg__check_arange(fn, n) < 0) return NULL; /* the indices are int32 */
  if (is_min) x = tg__inverse(x);
  tg__uop *eq = tg__talu(TG__OP_CMPEQ, x, tg__texpand(tg__tmax(x, mask), x->shape));
  for (int i = 0; i < x->ndim; i++) s[i] = i == ax ? n : 1;
  tg__uop *idx = tg__texpand(tg__treshape(tg__tarange(n, (double)n, -1, TG_INT32), x->ndim, s), x->shape);
  tg__uop *m = tg__tmax(tg__tmul(tg__tcast(eq, TG_INT32), idx), mask);
  tg__uop *r = tg__tsub(tg__tfull_like(m, (double)n, TG_INT32), m);
  return tg__tensor_wrap(tg__unkeep(r, mask, keepdim || a->uop->ndim == 0), a->dev);
}
tg_tensor *tg_argmax(tg_tensor *a, int axis, int keepdim) {
  TG__LOCKED();
  return tg__argext("tg_argmax", a, axis, keepdim, 0);
}
tg_tensor *tg_argmin(tg_tensor *a, int axis, int keepdim) {
  TG__LOCKED();
  return tg__argext("tg_argmin", a, axis, keepdim, 1);
}

/* out[..., i, ...] = reduce_{j <= i} x[..., j, ...]: x is broadcast over a new axis i and masked by j <= i.
 * TG_ALL_AXES: of the flattened tensor (numpy's axis=None) */
static tg_tensor *tg__cumulative(const char *fn, tg_tensor *a, int axis, tg__op op) {
  TG__NEED(fn, a);
  tg__uop *x = a->uop;
  if (axis == TG_ALL_AXES) {
    int64_t numel = tg__numel_max(x->ndim, x->shape);
    tg_tensor *flat = tg__tensor_wrap(tg__treshape(x, 1, &numel), a->dev);
    tg_tensor *r = flat ? tg__cumulative(fn, flat, 0, op) : NULL;
    tg_free(flat);
    return r;
  }
  int ax = tg__axis(fn, axis, x->ndim);
  if (ax < 0) return NULL;
  if (x->ndim == TG_MAX_DIMS) {
    tg__set_error("%s: needs one free dimension", fn);
    return NULL;
  }
  if (op == TG__OP_ADD) x = tg__tcast(x, tg__sum_acc(x->dtype));
  int nd = x->ndim;
  int64_t n = x->shape[ax], full[TG_MAX_DIMS], si[TG_MAX_DIMS], sj[TG_MAX_DIMS], u[TG_MAX_DIMS];
  /* (..., i, ..., j): i where the axis was, j a new last axis */
  for (int d = 0; d <= nd; d++) full[d] = d < nd ? x->shape[d] : n, si[d] = d == ax ? n : 1, sj[d] = d == nd ? n : 1;
  if (tg__check_arange(fn, n) < 0 || tg__check_span(fn, nd + 1, full) < 0) return NULL; /* the mask is n x n */
  for (int d = 0; d <= nd; d++) u[d] = d == nd ? 1 : x->shape[d];
  int p2[TG_MAX_DIMS];
  for (int d = 0; d <= nd; d++) p2[d] = d;
  p2[ax] = nd;
  p2[nd] = ax;
  tg__uop *xs = tg__tpermute(tg__treshape(x, nd + 1, u), p2); /* x[..., j] at (..., 1, ..., j) */
  xs = tg__texpand(xs, full);
  tg__uop *i = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, si), full);
  tg__uop *j = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, sj), full);
  tg__uop *keep = tg__tnot(tg__tlt(i, j));
  double ident = op == TG__OP_ADD ? 0 : op == TG__OP_MUL ? 1 : tg__dtype_min(xs->dtype);
  tg__uop *r = tg__treduce(tg__twhere(keep, xs, tg__c(xs, ident)), op, 1LL << nd);
  return tg__tensor_wrap(tg__treshape(r, nd, x->shape), a->dev);
}
tg_tensor *tg_cumsum(tg_tensor *a, int axis) { TG__LOCKED(); return tg__cumulative("tg_cumsum", a, axis, TG__OP_ADD); }
tg_tensor *tg_cumprod(tg_tensor *a, int axis) {
  TG__LOCKED();
  return tg__cumulative("tg_cumprod", a, axis, TG__OP_MUL);
}
tg_tensor *tg_cummax(tg_tensor *a, int axis) { TG__LOCKED(); return tg__cumulative("tg_cummax", a, axis, TG__OP_MAX); }
tg_tensor *tg_cummin(tg_tensor *a, int axis) {
  TG__LOCKED();
  TG__NEED("tg_cummin", a);
  tg_tensor *inv = tg__tensor_wrap(tg__inverse(a->uop), a->dev), *m = inv ? tg_cummax(inv, axis) : NULL;
  tg_tensor *r = m ? tg__tensor_wrap(tg__inverse(m->uop), a->dev) : NULL;
  tg_free(inv), tg_free(m);
  return r;
}

/* the index of each running maximum: the first position where x equals it (tinygrad's: n - max over i <= j of
 * (x_i == max_j) (n - i)), int32 */
static tg_tensor *tg__cumarg(const char *fn, tg_tensor *a, int axis, int is_min) {
  TG__NEED(fn, a);
  tg_tensor *x = is_min ? tg__tensor_wrap(tg__inverse(a->uop), a->dev) : a;
  if (axis == TG_ALL_AXES) {
    int64_t numel = tg__numel_max(x->uop->ndim, x->uop->shape);
    tg_tensor *flat = tg__tensor_wrap(tg__treshape(x->uop, 1, &numel), a->dev);
    tg_tensor *r = flat ? tg__cumarg(fn, flat, 0, 0) : NULL;
    tg_free(flat);
    if (x != a) tg_free(x);
    return r;
  }
  tg_tensor *vals = tg__cumulative(fn, x, axis, TG__OP_MAX);
  if (!vals) {
    if (x != a) tg_free(x);
    return NULL;
  }
  int ax = tg__axis(fn, axis, x->uop->ndim), nd = x->uop->ndim;
  int64_t n = x->uop->shape[ax], full[TG_MAX_DIMS], si[TG_MAX_DIMS], sj[TG_MAX_DIMS], u[TG_MAX_DIMS];
  /* (..., j, ..., i): j where the axis was (the output's position), i a new last axis (the candidate) */
  for (int d = 0; d <= nd; d++)
    full[d] = d < nd ? x->uop->shape[d] : n, si[d] = d == nd ? n : 1, sj[d] = d == ax ? n : 1;
  for (int d = 0; d <= nd; d++) u[d] = d == nd ? 1 : x->uop->shape[d];
  int p2[TG_MAX_DIMS];
  for (int d = 0; d <= nd; d++) p2[d] = d;
  p2[ax] = nd, p2[nd] = ax;
  tg__uop *xi = tg__texpand(tg__tpermute(tg__treshape(x->uop, nd + 1, u), p2), full); /* x_i at (..., j, ..., i) */
  tg__uop *mj = tg__texpand(tg__treshape(vals->uop, nd + 1, u), full);                /* max_j */
  tg__uop *i = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, si), full);
  tg__uop *j = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, sj), full);
  tg__uop *hit = tg__talu(TG__OP_AND, tg__talu(TG__OP_CMPEQ, xi, mj), tg__tnot(tg__tlt(j, i)));
  tg__uop *w = tg__twhere(hit, tg__tsub(tg__tfull_like(i, (double)n, TG_INT32), i), tg__tfull_like(i, 0, TG_INT32));
  tg__uop *best = tg__treduce(w, TG__OP_MAX, 1LL << nd), *r = tg__tsub(tg__tfull_like(best, (double)n, TG_INT32), best);
  tg_tensor *out = tg__tensor_wrap(tg__treshape(r, nd, x->uop->shape), a->dev);
  tg_free(vals);
  if (x != a) tg_free(x);
  return out;
}
tg_tensor *tg_cummax_indices(tg_tensor *a, int axis) {
  TG__LOCKED();
  return tg__cumarg("tg_cummax_indices", a, axis, 0);
}
tg_tensor *tg_cummin_indices(tg_tensor *a, int axis) {
  TG__LOCKED();
  return tg__cumarg("tg_cummin_indices", a, axis, 1);
}

/* log(cumsum(exp(x))), stably: each position's running maximum (not differentiated, as tinygrad's detach) taken out
 * of the exponents and added back */
tg_tensor *tg_logcumsumexp(tg_tensor *a, int axis) {
  TG__LOCKED();
  TG__NEED("tg_logcumsumexp", a);
  if (axis == TG_ALL_AXES) {
    int64_t numel = tg__numel_max(a->uop->ndim, a->uop->shape);
    tg_tensor *flat = tg__tensor_wrap(tg__treshape(a->uop, 1, &numel), a->dev);
    tg_tensor *r = flat ? tg_logcumsumexp(flat, 0) : NULL;
    tg_free(flat);
    return r;
  }
  if (a->uop->ndim == 0) return tg__tensor_wrap(tg__tfloat(a->uop), a->dev);
  int ax = tg__axis("tg_logcumsumexp", axis, a->uop->ndim);
  if (ax < 0) return NULL;
  tg_tensor *xf = tg__tensor_wrap(tg__tfloat(a->uop), a->dev), *cm = xf ? tg_cummax(xf, ax) : NULL;
  if (!cm) {
    tg_free(xf);
    return NULL;
  }
  tg__uop *x = xf->uop, *m = tg__uop1(TG__OP_DETACH, cm->uop->dtype, cm->uop, NULL);
  m = tg__twhere(tg__u_isinf(m), tg__c(m, 0), m); /* as tg_logsumexp: an infinite max shifts by 0 */
  int nd = x->ndim;
  int64_t n = x->shape[ax], full[TG_MAX_DIMS], si[TG_MAX_DIMS], sj[TG_MAX_DIMS], u[TG_MAX_DIMS];
  /* (..., i, ..., j): i the output's position, j the summed one (j <= i) */
  for (int d = 0; d <= nd; d++) full[d] = d < nd ? x->shape[d] : n, si[d] = d == ax ? n : 1, sj[d] = d == nd ? n : 1;
  for (int d = 0; d <= nd; d++) u[d] = d == nd ? 1 : x->shape[d];
  int p2[TG_MAX_DIMS];
  for (int d = 0; d <= nd; d++) p2[d] = d;
  p2[ax] = nd, p2[nd] = ax;
  tg__uop *xj = tg__texpand(tg__tpermute(tg__treshape(x, nd + 1, u), p2), full);
  tg__uop *mi = tg__texpand(tg__treshape(m, nd + 1, u), full);
  tg__uop *i = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, si), full);
  tg__uop *j = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, sj), full);
  tg__uop *d = tg__twhere(tg__tnot(tg__tlt(i, j)), tg__tsub(xj, mi), tg__c(xj, tg__dtype_min(xj->dtype)));
  tg__uop *r = tg__tadd(tg__tlog(tg__tsum(tg__texp(d), 1LL << nd)), tg__treshape(m, nd + 1, u));
  tg_tensor *out = tg__tensor_wrap(tg__treshape(r, nd, x->shape), a->dev);
  tg_free(xf), tg_free(cm);
  return out;
}

/* softmax: m = x - max(x); e = exp(m); e / sum(e)  (three kernels: max, sum, the division) */
static int tg__softmax_parts(const char *fn, tg_tensor *a, int axis, tg__uop **m, tg__uop **e, tg__uop **ss) {
  if (!a) {
    tg__null(fn);
    return -1;
  }
  int ax = tg__axis(fn, axis, a->uop->ndim);
  if (ax < 0) return -1;
  int64_t mask = 1LL << ax;
  tg__uop *x = tg__tfloat(a->uop);
  *m = tg__tsub(x, tg__texpand(tg__tmax(x, mask), x->shape));
  *e = tg__texp(*m);
  *ss = tg__texpand(tg__treduce(*e, TG__OP_ADD, mask), x->shape);
  return 0;
}

tg_tensor *tg_softmax(tg_tensor *a, int axis) {
  TG__LOCKED();
  tg__uop *m, *e, *ss;
  if (tg__softmax_parts("tg_softmax", a, axis, &m, &e, &ss) < 0) return NULL;
  return tg__tensor_wrap(tg__tdiv(e, ss), a->dev);
}

tg_tensor *tg_log_softmax(tg_tensor *a, int axis) {
  TG__LOCKED();
  tg__uop *m, *e, *ss;
  if (tg__softmax_parts("tg_log_softmax", a, axis, &m, &e, &ss) < 0) return NULL;
  return tg__tensor_wrap(tg__tsub(m, tg__tlog(ss)), a->dev);
}

/* y = x - mean(x); y * rsqrt(mean(y*y) + eps) over the axes from `axis` to the end */
tg_tensor *tg_layernorm(tg_tensor *a, int axis, double eps) {
  TG__LOCKED();
  TG__NEED("tg_layernorm", a);
  int ax = tg__axis("tg_layernorm", axis, a->uop->ndim);
  if (ax < 0) return NULL;
  int64_t mask = 0;
  for (int i = ax; i < a->uop->ndim; i++) mask |= 1LL << i;
  tg__uop *x = tg__tfloat(a->uop);
  tg__uop *y = tg__tsub(x, tg__texpand(tg__tmean(x, mask), x->shape));
  tg__uop *v = tg__tadds(tg__tmean(tg__tmul(y, y), mask), eps);
  return tg__tensor_wrap(tg__tmul(y, tg__texpand(tg__trecip(tg__tsqrt(v)), x->shape)), a->dev);
}

// ---------------------------------------------------------------------------------------------------------------------
// linear algebra: matmul is a broadcast multiply and a sum over the last axis (one kernel)

/* A matmul's right operand (K, N) copied into panels of W columns, [N/W][K][W], and viewed back as (K, N). The
 * register tile the heuristic gives a matmul (rows by two vectors of columns: W floats) then reads W contiguous
 * floats per step of k, where a row-major operand's rows are N floats apart: at a power-of-two N every step of k
 * falls in the same cache sets and a new page, and no prefetcher follows (2048: 33 GFLOPS plain, 187 packed, on a
 * 2-core AVX-512 EPYC). BLAS packs the same way. Only on a CPU, for float32, for products large enough (and an M
 * large enough) to repay the copy's K*N reads and writes; NOOPT=1 packs nothing. `dev` NULL: no packing.
 * An N that W does not divide is padded with zero columns up to the next multiple (at most an eighth more), so that
 * the product keeps the tile (with N = 1008 or 1040 the heuristic's tile was one vector wide and B unpacked: 0.69-0.72x
 * OpenBLAS on 2 AVX-512 cores); *npad says how many, and the caller cuts them from the product. */
static tg__uop *tg__pack_panels(tg__uop *w, tg__device *dev, int64_t m, int64_t *npad) {
  *npad = 0;
  if (!dev || w->ndim != 2 || w->dtype != TG_FLOAT32 || tg__getenv_int("NOOPT", 0)) return w;
  tg__target t;
  tg__device_target(dev, &t);
  int64_t K = w->shape[0], N = w->shape[1], W = 2 * (int64_t)t.vec_floats, Np = (N + W - 1) / W * W;
  if (t.gpu || W < 2 || Np < 2 * W || (Np - N) * 8 > N || K < 64 || m < 64 ||
      (double)m * (double)N * (double)K < (double)(1 << 22))
    return w;
  if (Np != N) {
    int64_t pads[4] = {0, 0, 0, Np - N};
    w = tg__tpad(w, pads);
  }
  int64_t panels[3] = {K, Np / W, W}, shape[2] = {K, Np};
  int perm[3] = {1, 0, 2};
  tg__uop *p = tg__tpermute(tg__treshape(w, 3, panels), perm);
  p = tg__uop1(TG__OP_CONTIGUOUS, p->dtype, p, NULL);
  *npad = Np - N;
  return tg__treshape(tg__tpermute(p, perm), 2, shape);
}

TG__PRIVATE tg__uop *tg__tmatmul(const char *fn, tg__uop *x, tg__uop *w, struct tg__device *dev) {
  char b1[128], b2[128];
  int n1 = x->ndim, n2 = w->ndim;
  if (n1 == 0 || n2 == 0) {
    tg__set_error("%s: both operands need at least 1 dimension, got %s and %s", fn,
                  tg__shape_str(n1, x->shape, b1, sizeof b1), tg__shape_str(n2, w->shape, b2, sizeof b2));
    return NULL;
  }
  int64_t k = x->shape[n1 - 1], kw = w->shape[n2 < 2 ? 0 : n2 - 2];
  if (k != kw) {
    tg__set_error("%s: shapes %s and %s do not match (%lld vs %lld)", fn, tg__shape_str(n1, x->shape, b1, sizeof b1),
                  tg__shape_str(n2, w->shape, b2, sizeof b2), (long long)k, (long long)kw);
    return NULL;
  }
  if ((n1 > n2 ? n1 : n2) + 1 > TG_MAX_DIMS) {
    tg__set_error("%s: too many dimensions", fn);
    return NULL;
  }
  tg_dtype dt = tg_promote(x->dtype, w->dtype);
  x = tg__tcast(x, dt);
  w = tg__tcast(w, dt);
  int64_t m = 1;
  for (int i = 0; i < n1 - 1; i++) m *= x->shape[i];
  int64_t npad = 0, ncols = w->shape[n2 - 1];
  if (n2 == 2) w = tg__pack_panels(w, dev, m, &npad);
  int one = (n1 - 1 < n2 - 1 ? n1 - 1 : n2 - 1) < 1 ? (n1 - 1 < n2 - 1 ? n1 - 1 : n2 - 1) : 1;
  int64_t xs[TG_MAX_DIMS], ws[TG_MAX_DIMS];
  int nx = 0, nw = 0;
  for (int i = 0; i < n1 - 1; i++) xs[nx++] = x->shape[i];
  for (int i = 0; i < one; i++) xs[nx++] = 1;
  xs[nx++] = k;
  int wk = n2 < 2 ? n2 : 2;
  for (int i = 0; i < n2 - 2; i++) ws[nw++] = w->shape[i];
  for (int i = 0; i < one; i++) ws[nw++] = 1;
  for (int i = n2 - wk; i < n2; i++) ws[nw++] = w->shape[i];
  x = tg__treshape(x, nx, xs);
  w = tg__treshape(w, nw, ws);
  /* w.transpose(-1, -min(n2, 2)) */
  int perm[TG_MAX_DIMS];
  for (int i = 0; i < nw; i++) perm[i] = i;
  perm[nw - 1] = nw - wk;
  perm[nw - wk] = nw - 1;
  w = tg__tpermute(w, perm);
  if (tg__broadcast(fn, &x, &w) < 0) return NULL;
  tg__uop *p = tg__tmul(x, w);
  tg__uop *s = tg__tsum(p, 1LL << (p->ndim - 1));
  tg__uop *r = tg__tcast(tg__unkeep(s, 1LL << (p->ndim - 1), 0), dt);
  if (!npad) return r;
  /* padded panels: the product of all Np columns is a buffer (one kernel with the whole tile), viewed as its first N */
  r = tg__uop1(TG__OP_CONTIGUOUS, r->dtype, r, NULL);
  int64_t b[2 * TG_MAX_DIMS];
  for (int i = 0; i < r->ndim; i++) b[2 * i] = 0, b[2 * i + 1] = i == r->ndim - 1 ? ncols : r->shape[i];
  return tg__tshrink(r, b);
}

/* einsum, as tinygrad's: "..." expands to the letters no operand uses (right-aligned, broadcast), a letter twice in
 * one operand takes that diagonal, every operand is laid out over all the letters (sorted, 1 where it has none),
 * the product of them all is summed over the letters the output lacks, and the rest are permuted to its order */
static int tg__letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

tg_tensor *tg_einsum(const char *formula, tg_tensor **ops, int n) {
  TG__LOCKED();
  enum { L = 52, MAXOP = 16 };
  if (!formula || n < 1 || n > MAXOP || !ops) {
    tg__set_error("tg_einsum: %s", !formula ? "the formula is NULL" : "1 to 16 operands");
    return NULL;
  }
  for (int i = 0; i < n; i++) TG__NEED("tg_einsum", ops[i]);
  char f[512], in[MAXOP][64], out[64];
  int k = 0;
  for (const char *c = formula; *c && k < (int)sizeof f - 1; c++)
    if (*c != ' ') f[k++] = *c;
  f[k] = 0;
  if (strlen(formula) >= sizeof f - 1) {
    tg__set_error("tg_einsum: the formula is too long");
    return NULL;
  }
  char *arrow = strstr(f, "->"), lhs[512];
  snprintf(lhs, sizeof lhs, "%.*s", arrow ? (int)(arrow - f) : (int)strlen(f), f);
  /* the operands' subscripts */
  int nin = 0;
  for (char *p = lhs, *e; nin < MAXOP; p = e + 1) {
    e = strchr(p, ',');
    int len = e ? (int)(e - p) : (int)strlen(p);
    if (len >= 64) break;
    snprintf(in[nin++], 64, "%.*s", len, p);
    if (!e) break;
  }
  if (nin != n) {
    tg__set_error("tg_einsum: \"%s\" names %d operands, %d given", formula, nin, n);
    return NULL;
  }
  int used[128] = {0};
  for (const char *c = f; *c; c++) used[(unsigned char)*c] = 1;
  /* "...": the letters no subscript uses, right-aligned across operands */
  char ell[TG_MAX_DIMS + 1];
  int nell = 0, ell_n[MAXOP] = {0}, max_ell = 0;
  for (int c = 'A'; c <= 'z' && nell < TG_MAX_DIMS; c++)
    if (tg__letter(c) && !used[c]) ell[nell++] = (char)c;
  ell[nell] = 0;
  for (int i = 0; i < n; i++) {
    char *d = strstr(in[i], "...");
    if (!d) continue;
    int letters = (int)strlen(in[i]) - 3;
    ell_n[i] = ops[i]->uop->ndim - letters;
    if (ell_n[i] < 0 || ell_n[i] > nell) {
      tg__set_error("tg_einsum: operand %d has %d dimensions for \"%s\"", i, ops[i]->uop->ndim, in[i]);
      return NULL;
    }
    if (ell_n[i] > max_ell) max_ell = ell_n[i];
  }
  for (int i = 0; i < n; i++) {
    char *d = strstr(in[i], "...");
    if (!d) continue;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*s%.*s%s", (int)(d - in[i]), in[i], ell_n[i], ell + max_ell - ell_n[i], d + 3);
    memcpy(in[i], tmp, sizeof tmp);
  }
  /* the output: given, or the letters used once (sorted), after the "..." letters */
  int count[128] = {0};
  for (int i = 0; i < n; i++)
    for (const char *c = in[i]; *c; c++) count[(unsigned char)*c]++;
  if (arrow) {
    const char *r = arrow + 2, *d = strstr(r, "...");
    if (d) snprintf(out, sizeof out, "%.*s%.*s%s", (int)(d - r), r, max_ell, ell, d + 3);
    else snprintf(out, sizeof out, "%s", r);
  } else {
    int o = 0;
    for (int e = 0; e < max_ell; e++) out[o++] = ell[e];
    for (int c = 'A'; c <= 'z'; c++)
      if (tg__letter(c) && count[c] == 1 && !strchr(ell, c)) out[o++] = (char)c;
    out[o] = 0;
  }
  for (int i = 0; i < n; i++) {
    int bad = (int)strlen(in[i]) != ops[i]->uop->ndim;
    for (const char *c = in[i]; *c && !bad; c++) bad = !tg__letter((unsigned char)*c);
    if (bad) {
      tg__set_error("tg_einsum: operand %d has %d dimensions, its subscript \"%s\" %d (letters only)", i,
                    ops[i]->uop->ndim, in[i], (int)strlen(in[i]));
      return NULL;
    }
  }
  for (const char *c = out; *c; c++)
    if (!tg__letter((unsigned char)*c) || !count[(unsigned char)*c] || strchr(c + 1, *c)) {
      tg__set_error("tg_einsum: the output \"%s\" names a letter no operand has, or one twice", out);
      return NULL;
    }
  tg_scope_begin();
  tg_tensor *xs[MAXOP];
  int64_t size[128];
  for (int c = 0; c < 128; c++) size[c] = -1;
  for (int i = 0; i < n; i++) {
    tg_tensor *x = ops[i];
    char sub[64];
    snprintf(sub, sizeof sub, "%s", in[i]);
    /* a letter twice in one operand: its diagonal, as the last axis */
    for (int j = 0; sub[j]; j++) {
      char *d2 = strchr(sub + j + 1, sub[j]);
      if (!d2) continue;
      int kk = (int)(d2 - sub);
      if (tg_shape(x)[j] != tg_shape(x)[kk]) {
        tg__set_error("tg_einsum: \"%c\" of operand %d is %lld and %lld long", sub[j], i,
                      (long long)tg_shape(x)[j], (long long)tg_shape(x)[kk]);
        tg_scope_end();
        return NULL;
      }
      char ch = sub[j];
      x = tg_diagonal(x, 0, j, kk);
      memmove(sub + kk, sub + kk + 1, strlen(sub + kk)); /* drop the second, then move the first to the end */
      memmove(sub + j, sub + j + 1, strlen(sub + j));
      size_t ln = strlen(sub);
      sub[ln] = ch, sub[ln + 1] = 0;
      j = -1; /* again from the start */
    }
    for (int j = 0; sub[j]; j++) {
      int64_t sz = tg_shape(x)[j];
      if (size[(unsigned char)sub[j]] >= 0 && size[(unsigned char)sub[j]] != sz) {
        tg__set_error("tg_einsum: \"%c\" is %lld long in one operand and %lld in another", sub[j],
                      (long long)size[(unsigned char)sub[j]], (long long)sz);
        tg_scope_end();
        return NULL;
      }
      size[(unsigned char)sub[j]] = sz;
    }
    snprintf(in[i], 64, "%s", sub);
    xs[i] = x;
  }
  char alpha[L + 1];
  int na = 0;
  for (int c = 'A'; c <= 'z'; c++)
    if (tg__letter(c) && size[c] >= 0) alpha[na++] = (char)c;
  alpha[na] = 0;
  if (na > TG_MAX_DIMS) {
    tg__set_error("tg_einsum: %d letters; at most %d dimensions", na, TG_MAX_DIMS);
    tg_scope_end();
    return NULL;
  }
  tg_tensor *prod = NULL;
  for (int i = 0; i < n; i++) {
    int perm[TG_MAX_DIMS], np = 0;
    int64_t shape[TG_MAX_DIMS];
    for (int a = 0; a < na; a++) {
      char *pos = strchr(in[i], alpha[a]);
      if (pos) perm[np++] = (int)(pos - in[i]);
      shape[a] = pos ? size[(unsigned char)alpha[a]] : 1;
    }
    tg_tensor *x = np ? tg_reshape(tg_permute(xs[i], np, perm), na, shape) : tg_reshape(xs[i], na, shape);
    prod = prod ? tg_mul(prod, x) : x;
  }
  int red[TG_MAX_DIMS], nr = 0, kept = 0;
  for (int a = 0; a < na; a++)
    if (!strchr(out, alpha[a])) red[nr++] = a;
  tg_tensor *r = nr ? tg_sum(prod, nr, red, 0) : prod;
  /* the kept letters are in alphabetical order: to the output's */
  char kept_s[L + 1];
  for (int a = 0; a < na; a++)
    if (strchr(out, alpha[a])) kept_s[kept++] = alpha[a];
  kept_s[kept] = 0;
  int perm[TG_MAX_DIMS];
  for (int o = 0; out[o]; o++) perm[o] = (int)(strchr(kept_s, out[o]) - kept_s);
  if (kept > 1) r = tg_permute(r, kept, perm);
  tg_keep(r);
  tg_scope_end();
  return r;
}

tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  TG__NEED("tg_matmul", a);
  TG__NEED("tg_matmul", b);
  return tg__tensor_wrap(tg__tmatmul("tg_matmul", a->uop, b->uop, a->dev), a->dev);
}
tg_tensor *tg_dot(tg_tensor *a, tg_tensor *b) {
  TG__LOCKED();
  TG__NEED("tg_dot", a);
  TG__NEED("tg_dot", b);
  return tg__tensor_wrap(tg__tmatmul("tg_dot", a->uop, b->uop, a->dev), a->dev);
}

/* x @ w + bias, w (in, out) (t: transposed, tinygrad's functional order), or x @ w.T + bias, w (out, in) */
static tg_tensor *tg__linear_layer(const char *fn, tg_tensor *x, tg_tensor *weight, tg_tensor *bias, int in_out) {
  TG__NEED(fn, x);
  TG__NEED(fn, weight);
  if (weight->uop->ndim != 2) {
    tg__set_error("%s: weight must be %s, got %d dimensions", fn, in_out ? "(in, out)" : "(out, in)",
                  weight->uop->ndim);
    return NULL;
  }
  int perm[2] = {1, 0};
  tg__uop *r = tg__tmatmul(fn, x->uop, in_out ? weight->uop : tg__tpermute(weight->uop, perm), x->dev);
  if (r && bias) {
    tg__uop *bb = bias->uop;
    tg_dtype dt = tg_promote(r->dtype, bb->dtype);
    r = tg__tcast(r, dt);
    bb = tg__tcast(bb, dt);
    if (tg__broadcast(fn, &r, &bb) < 0) return NULL;
    r = tg__tadd(r, bb);
  }
  return tg__tensor_wrap(r, x->dev);
}
tg_tensor *tg_linear(tg_tensor *x, tg_tensor *weight, tg_tensor *bias) {
  TG__LOCKED();
  return tg__linear_layer("tg_linear", x, weight, bias, 0);
}
tg_tensor *tg_linear_t(tg_tensor *x, tg_tensor *weight, tg_tensor *bias) {
  TG__LOCKED();
  return tg__linear_layer("tg_linear_t", x, weight, bias, 1);
}

/* The largest node tg__tpool builds is the input repeated (below): per window axis ceil(k (i f + d) / i) copies of
 * its i elements, f about the stride. Computed here in checked arithmetic: 0, or -1 with an error naming fn when it
 * passes TG__MAX_NUMEL. Needs what tg__tpool needs: k, s, d >= 1 and i >= d (k - 1) + 1. */
TG__PRIVATE int tg__pool_fits(const char *fn, int nd, const int64_t *shape, int nk, const int64_t *k, const int64_t *s,
                              const int64_t *d) {
  int64_t rep[TG_MAX_DIMS];
  int nn = nd - nk;
  for (int j = 0; j < nd; j++) rep[j] = shape[j];
  for (int j = 0; j < nk; j++) {
    int64_t i = shape[nn + j], o = (i - d[j] * (k[j] - 1) - 1) / s[j] + 1, os = tg__size_mul(o, s[j]);
    int64_t f = os < 0 ? -1 : (os - d[j] + i - 1) / i; /* tg__tpool uses max(f, 1) */
    int64_t w = os < 0 ? -1 : tg__size_add(tg__size_mul(i, f > 1 ? f : 1), d[j]);
    rep[nn + j] = w < 0 ? -1 : tg__size_add(tg__size_mul(k[j], w), i); /* >= ceil(k w / i) * i */
  }
  if (tg__shape_span(nd, rep) >= 0) return 0; /* a -1 above makes the span -1 */
  char b[128];
  tg__set_error("%s: windows over the last %d axes of %s (kernel %lld, stride %lld, dilation %lld) need more than "
                "%lld elements", fn, nk, tg__shape_str(nd, shape, b, sizeof b), (long long)k[0], (long long)s[0],
                (long long)d[0], (long long)TG__MAX_NUMEL);
  return -1;
}

/* tinygrad's _pool: windows of k (stride s, dilation d) over the last nk axes, as movement ops only.
 * (..., i...) -> (..., o..., k...). Builds nodes of x->ndim + 2 nk dimensions. */
TG__PRIVATE tg__uop *tg__tpool(tg__uop *x, int nk, const int64_t *k, const int64_t *s, const int64_t *d) {
  int nn = x->ndim - nk;
  int64_t i_[TG_MAX_DIMS], o_[TG_MAX_DIMS], f_[TG_MAX_DIMS], sh[TG_MAX_DIMS], b[2 * TG_MAX_DIMS];
  for (int j = 0; j < nk; j++) {
    i_[j] = x->shape[nn + j];
    o_[j] = (i_[j] - d[j] * (k[j] - 1) + s[j] - 1) / s[j];
    int64_t f = (o_[j] * s[j] - d[j] + i_[j] - 1) / i_[j];
    f_[j] = f > 1 ? f : 1;
  }
  { /* repeat each window axis so no padding is needed: (..., i) as (..., 1, i), expanded to (..., rep, i) */
    int64_t s1[TG_MAX_DIMS] = {0}, s2[TG_MAX_DIMS] = {0}, fin[TG_MAX_DIMS] = {0};
    int m = 0;
    for (int j = 0; j < nn; j++, m++) s1[m] = s2[m] = fin[j] = x->shape[j];
    for (int j = 0; j < nk; j++, m += 2) {
      int64_t rep = (k[j] * (i_[j] * f_[j] + d[j]) + i_[j] - 1) / i_[j];
      s1[m] = 1, s2[m] = rep, s1[m + 1] = s2[m + 1] = i_[j];
      fin[nn + j] = rep * i_[j];
    }
    x = tg__treshape(tg__texpand(tg__treshape(x, m, s1), s2), x->ndim, fin);
  }
  /* dilation: shrink to k*(i*f+d), reshape to (k, i*f+d) */
  for (int j = 0; j < x->ndim; j++)
    b[2 * j] = 0, b[2 * j + 1] = j < nn ? x->shape[j] : k[j - nn] * (i_[j - nn] * f_[j - nn] + d[j - nn]);
  x = tg__tshrink(x, b);
  int n = 0;
  for (int j = 0; j < nn; j++) sh[n++] = x->shape[j];
  for (int j = 0; j < nk; j++) sh[n++] = k[j], sh[n++] = i_[j] * f_[j] + d[j];
  x = tg__treshape(x, n, sh);
  /* stride: shrink to (k, o*s), reshape to (k, o, s) */
  for (int j = 0; j < x->ndim; j++) b[2 * j] = 0, b[2 * j + 1] = x->shape[j];
  for (int j = 0; j < nk; j++) b[2 * (nn + 2 * j + 1) + 1] = o_[j] * s[j];
  x = tg__tshrink(x, b);
  n = 0;
  for (int j = 0; j < nn; j++) sh[n++] = x->shape[j];
  for (int j = 0; j < nk; j++) sh[n++] = k[j], sh[n++] = o_[j], sh[n++] = s[j];
  x = tg__treshape(x, n, sh);
  /* keep stride column 0: shrink to (k, o, 1), reshape to (k, o) */
  for (int j = 0; j < x->ndim; j++) b[2 * j] = 0, b[2 * j + 1] = x->shape[j];
  for (int j = 0; j < nk; j++) b[2 * (nn + 3 * j + 2) + 1] = 1;
  x = tg__tshrink(x, b);
  n = 0;
  for (int j = 0; j < nn; j++) sh[n++] = x->shape[j];
  for (int j = 0; j < nk; j++) sh[n++] = k[j], sh[n++] = o_[j];
  x = tg__treshape(x, n, sh);
  /* (..., k0, o0, k1, o1) -> (..., o0, o1, k0, k1) */
  int perm[TG_MAX_DIMS];
  for (int j = 0; j < nn; j++) perm[j] = j;
  for (int j = 0; j < nk; j++) perm[nn + j] = nn + 2 * j + 1, perm[nn + nk + j] = nn + 2 * j;
  return tg__tpermute(x, perm);
}

/* pads (positive entries) and crops (negative entries) the last nk axes of x: lo[j] at axis j's start, hi[j] at its
 * end */
TG__PRIVATE tg__uop *tg__tpad_ends(tg__uop *x, int nk, const int64_t *lo, const int64_t *hi) {
  int n = x->ndim;
  int64_t p[2 * TG_MAX_DIMS] = {0}, b[2 * TG_MAX_DIMS] = {0};
  for (int j = 0; j < nk; j++) {
    int a = n - nk + j;
    p[2 * a] = lo[j] > 0 ? lo[j] : 0, p[2 * a + 1] = hi[j] > 0 ? hi[j] : 0;
  }
  x = tg__tpad(x, p);
  for (int i = 0; i < n; i++) b[2 * i] = 0, b[2 * i + 1] = x->shape[i];
  for (int j = 0; j < nk; j++) {
    int a = n - nk + j;
    b[2 * a] = lo[j] < 0 ? -lo[j] : 0;
    b[2 * a + 1] = x->shape[a] - (hi[j] < 0 ? -hi[j] : 0);
  }
  return tg__tshrink(x, b);
}

/* A convolution reads each input element KH*KW*Cout times: an input that is itself computed by a reduction (the
 * previous layer's conv, a pooling, a normalisation, an incoming gradient) is realised first rather than recomputed
 * at every read. Elementwise inputs of buffers (a cast, a relu of a realised tensor) stay fused. */
static int tg__has_reduce_rec(tg__uop *u, tg__map *seen) {
  if (u->becomes || u->op == TG__OP_BUFFER || tg__map_get(seen, u)) return 0;
  if (u->op == TG__OP_REDUCE_AXIS) return 1;
  tg__map_put(seen, u, (void *)1);
  for (int i = 0; i < u->nsrc; i++)
    if (tg__has_reduce_rec(u->src[i], seen)) return 1;
  return 0;
}

static tg__uop *tg__conv_input(tg__uop *x) {
  tg__map seen;
  memset(&seen, 0, sizeof seen);
  int r = tg__has_reduce_rec(x, &seen);
  tg__map_free(&seen);
  return r ? tg__uop1(TG__OP_CONTIGUOUS, x->dtype, x, NULL) : x;
}

/* The sizes of a convolution over nk axes of x (bs, cin, I...), padded by lo/hi (per axis; negative crops), with
 * w (cout, cin/groups, K...): each kernel must be non-empty and fit the padded input, and the padded input, its
 * windows (tg__pool_fits) and their product with the weight (bs, cout, cin/groups, I'..., K...: an upper bound of
 * the nodes the forward and the backward build) must fit TG__MAX_NUMEL. 0, or -1 with an error naming fn. */
TG__PRIVATE int tg__conv_fits(const char *fn, int nk, const int64_t *xs, const int64_t *ws, const int64_t *st,
                              const int64_t *lo, const int64_t *hi, const int64_t *dl) {
  int64_t padded[TG_MAX_DIMS] = {xs[0], xs[1]}, prod[TG_MAX_DIMS] = {xs[0], ws[0], ws[1]};
  char b1[128], b2[128];
  for (int j = 0; j < nk; j++) {
    /* tg__tpad_ends crops (negative pads) first; callers keep |lo|, |hi| below 2^62 */
    int64_t l = lo[j], h = hi[j], k = ws[2 + j], kept = xs[2 + j] + (l < 0 ? l : 0) + (h < 0 ? h : 0);
    padded[2 + j] = tg__size_add(kept, tg__size_add(l > 0 ? l : 0, h > 0 ? h : 0)); /* kept < 0: -1 */
    int64_t span = k < 1 ? -1 : tg__size_add(tg__size_mul(dl[j], k - 1), 1);
    if (padded[2 + j] < 0 || span < 0 || span > padded[2 + j]) {
      tg__set_error("%s: the kernel %s (dilation %lld) is empty or larger than the input %s padded by (%lld, %lld) "
                    "on axis %d", fn, tg__shape_str(2 + nk, ws, b1, sizeof b1), (long long)dl[j],
                    tg__shape_str(2 + nk, xs, b2, sizeof b2), (long long)l, (long long)h, 2 + j);
      return -1;
    }
    prod[3 + j] = padded[2 + j], prod[3 + nk + j] = k;
  }
  if (tg__check_span(fn, 2 + nk, padded) < 0 || tg__pool_fits(fn, 2 + nk, padded, nk, ws + 2, st, dl) < 0) return -1;
  return tg__check_span(fn, 3 + 2 * nk, prod);
}

/* Channels packed fastest. A convolution's weight is read by output channel at a stride of cin*kh*kw floats, so its
 * register tile runs along the output's x, a few floats (the MNIST model's 20 or 24: 4 or 8 to a vector, never 16).
 * With the weight copied output channels fastest, the heuristic's vector rule (optimize.c) runs the tile along the
 * channels instead: whole vectors of weights against broadcasts of x, as oneDNN's channel-blocked layouts do. So a
 * convolution's weight is packed (cout fastest), its input gradient's weight too (cin fastest), and for the weight
 * gradient the incoming gradient (cout fastest: a copy of dy, paid back when each of its elements is used in at least
 * 64 flops). Not where an output sums fewer than 64 products: the channel tile's outputs are a plane apart, stored
 * one by one, and such a convolution's time is its stores (the MNIST model's 1->32 5x5 first layer: 12 -> 15 ms).
 * The width is the vector's in floats: a CPU's, for float32, when NOOPT is off; 0 packs nothing. */
static int64_t tg__conv_pack_width(tg__device *dev, tg_dtype dt) {
  if (!dev || dt != TG_FLOAT32 || tg__getenv_int("NOOPT", 0)) return 0;
  tg__target t;
  tg__device_target(dev, &t);
  return t.gpu || t.vec_floats < 2 ? 0 : t.vec_floats;
}

/* The weight gradient sums over the batch and the output's positions into a small result (the MNIST model's 32->32
 * 5x5: 100 KiB from 26 MiB of dy). Its register tile holds a few kernel columns by the channels, so each pass over
 * the other outputs (input channels, kernel rows) reads all of dy again: 160 passes, 4 GiB from memory for 10
 * GFLOP. Summed in chunks of the batch, each a partial result (the chunk outermost, so one thread's passes read one
 * chunk of dy from its level-2 cache), then the partials summed, it reads dy once. The chunk: the largest divisor of
 * the batch whose dy (per sample: dy_bytes) fills at most a quarter of a core's level-2 cache; 0 when dy fits that
 * quarter whole, or when no chunk leaves 2 per core. */
static int64_t tg__conv_dw_chunk(tg__device *dev, int64_t bs, int64_t dy_bytes) {
  tg__target t;
  tg__device_target(dev, &t);
  if (bs * dy_bytes <= t.l2_bytes / 4) return 0;
  for (int64_t c = bs - 1; c >= 1; c--)
    if (bs % c == 0 && c * dy_bytes <= t.l2_bytes / 4) return bs / c >= 2 * (int64_t)t.cores ? c : 0;
  return 0;
}

/* u copied with axis ax fastest and viewed back in its shape, when the channels that axis holds per group (len) are
 * a multiple of `width` and the convolution it feeds is large (macs: its multiply-adds); else u */
static tg__uop *tg__pack_channels(tg__uop *u, int ax, int64_t len, int64_t width, double macs) {
  if (width < 2 || len % width || macs < (double)(1 << 24)) return u;
  int perm[TG_MAX_DIMS], back[TG_MAX_DIMS], n = 0;
  for (int i = 0; i < u->ndim; i++)
    if (i != ax) perm[n++] = i;
  perm[n++] = ax;
  for (int i = 0; i < n; i++) back[perm[i]] = i;
  tg__uop *p = tg__tpermute(u, perm);
  return tg__tpermute(tg__uop1(TG__OP_CONTIGUOUS, p->dtype, p, NULL), back);
}

/* the product of n sizes, as a double (flop counts) */
static double tg__conv_dprod(int n, const int64_t *v) {
  double r = 1;
  for (int i = 0; i < n; i++) r *= (double)v[i];
  return r;
}

/* The convolution itself, tinygrad's conv2d over any nk spatial axes: x (bs, g*cin, I...) padded by lo/hi and
 * w (g*rcout, cin, K...) of one dtype -> (bs, g*rcout, O...), stride st and dilation dl per axis. The windows of x
 * (bs, g, rcout, O..., cin, K...) times w broadcast, summed over (cin, K...); w packed for vectors of `width` floats
 * along the output channels (tg__pack_channels). Nodes of 4 + 2 nk dimensions. */
static tg__uop *tg__tconv(tg__uop *x, tg__uop *w, int nk, const int64_t *st, const int64_t *dl, const int64_t *lo,
                          const int64_t *hi, int64_t groups, int64_t width) {
  int64_t bs = x->shape[0], cin = w->shape[1], cout = w->shape[0], rcout = cout / groups, k[TG_MAX_DIMS];
  for (int j = 0; j < nk; j++) k[j] = w->shape[2 + j];
  x = tg__tpool(tg__tpad_ends(x, nk, lo, hi), nk, k, st, dl); /* (bs, g*cin, O..., K...) */
  int64_t o[TG_MAX_DIMS], s1[TG_MAX_DIMS] = {bs, groups, cin, 1}, s2[TG_MAX_DIMS] = {bs, groups, cin, rcout};
  int64_t ws[TG_MAX_DIMS] = {1, groups, rcout}, out[TG_MAX_DIMS] = {bs, cout};
  int perm[TG_MAX_DIMS] = {0, 1, 3}, nd = 4 + 2 * nk;
  for (int j = 0; j < nk; j++) {
    o[j] = x->shape[2 + j];
    s1[4 + j] = s2[4 + j] = out[2 + j] = o[j], s1[4 + nk + j] = s2[4 + nk + j] = k[j];
    perm[3 + j] = 4 + j, perm[4 + nk + j] = 4 + nk + j; /* (bs, groups, rcout, O..., cin, K...) */
    ws[3 + j] = 1, ws[4 + nk + j] = k[j];
  }
  perm[3 + nk] = 2, ws[3 + nk] = cin;
  double kvol = tg__conv_dprod(nk, k), macs = (double)bs * (double)cout * tg__conv_dprod(nk, o) * (double)cin * kvol;
  if ((double)cin * kvol >= 64) w = tg__pack_channels(w, 0, rcout, width, macs); /* see tg__pack_channels */
  x = tg__tpermute(tg__texpand(tg__treshape(x, nd, s1), s2), perm);
  tg__uop *wv = tg__texpand(tg__treshape(w, nd, ws), x->shape);
  int64_t mask = 0;
  for (int a = 3 + nk; a < nd; a++) mask |= 1LL << a;
  tg__uop *r = tg__tsum(tg__tmul(x, wv), mask);
  return tg__tcast(tg__treshape(r, 2 + nk, out), w->dtype);
}

/* The convolution's arguments as its CUSTOM_GRAD node keeps them: ints[] = {nk, groups, width, chunk, stride[nk],
 * dilation[nk], lo[nk], hi[nk]} */
enum { TG__CONV_NK, TG__CONV_GROUPS, TG__CONV_WIDTH, TG__CONV_CHUNK, TG__CONV_PER_AXIS };

/* The derivatives of y = conv(x, w) given dy, each a convolution again:
 *   dx = dy with stride-1 zeros between its elements, padded by d(k-1)-lo (and to x's size), convolved with w
 *        flipped and with in/out channels swapped (per group): the transposed convolution;
 *   dw[co, ci, k...] = sum over n, o... of dy[n, co, o...] * xpad[n, ci, o*s + k*d...]: the windows of x against
 *        dy. */
static tg__uop *tg__conv_grad(tg__uop *root, tg__uop *dy) {
  tg__uop *x = root->src[1], *w = root->src[2];
  dy = tg__conv_input(dy);
  const int64_t *a = root->arg.ints;
  int nk = (int)a[TG__CONV_NK];
  int64_t g = a[TG__CONV_GROUPS], width = a[TG__CONV_WIDTH], chunk = a[TG__CONV_CHUNK];
  const int64_t *s = a + TG__CONV_PER_AXIS, *d = s + nk, *plo = d + nk, *phi = plo + nk;
  int64_t bs = x->shape[0], cout = w->shape[0], cin = w->shape[1], rcout = cout / g;
  int64_t k[TG_MAX_DIMS], o[TG_MAX_DIMS], one[TG_MAX_DIMS], lo[TG_MAX_DIMS], hi[TG_MAX_DIMS];
  int strided = 0;
  for (int j = 0; j < nk; j++) k[j] = w->shape[2 + j], o[j] = dy->shape[2 + j], one[j] = 1, strided |= s[j] > 1;
  /* dx */
  tg__uop *z = dy;
  if (strided) { /* (.., o) -> (.., o, 1) padded to (.., o, s) (zeros after each), flattened, trimmed to (o-1)s+1 */
    int64_t sp[TG_MAX_DIMS] = {bs, cout}, pads[2 * TG_MAX_DIMS] = {0}, f[TG_MAX_DIMS] = {bs, cout};
    int64_t b[2 * TG_MAX_DIMS] = {0, bs, 0, cout};
    for (int j = 0; j < nk; j++) {
      sp[2 + 2 * j] = o[j], sp[3 + 2 * j] = 1, pads[2 * (3 + 2 * j) + 1] = s[j] - 1;
      f[2 + j] = o[j] * s[j], b[2 * (2 + j)] = 0, b[2 * (2 + j) + 1] = (o[j] - 1) * s[j] + 1;
    }
    z = tg__tpad(tg__treshape(z, 2 + 2 * nk, sp), pads);
    z = tg__tshrink(tg__treshape(z, 2 + nk, f), b);
  }
  for (int j = 0; j < nk; j++) {
    lo[j] = d[j] * (k[j] - 1) - plo[j];
    hi[j] = x->shape[2 + j] + d[j] * (k[j] - 1) - ((o[j] - 1) * s[j] + 1) - lo[j];
  }
  /* w (g rcout, cin, K...) flipped -> (g, rcout, cin, K...) -> (g, cin, rcout, K...) -> (g cin, rcout, K...) */
  int64_t wg[TG_MAX_DIMS] = {g, rcout, cin}, wt[TG_MAX_DIMS] = {g * cin, rcout}, flip = 0;
  int perm[TG_MAX_DIMS] = {0, 2, 1};
  for (int j = 0; j < nk; j++) wg[3 + j] = wt[2 + j] = k[j], perm[3 + j] = 3 + j, flip |= 1LL << (2 + j);
  tg__uop *wf = tg__treshape(tg__tpermute(tg__treshape(tg__tflip(w, flip), 3 + nk, wg), perm), 2 + nk, wt);
  tg__uop *dx = tg__tconv(z, wf, nk, one, d, lo, hi, g, width);
  /* dw */
  tg__uop *xw = tg__tpool(tg__tpad_ends(x, nk, plo, phi), nk, k, s, d); /* (bs, g*cin, O'..., K...) */
  int64_t bo[2 * TG_MAX_DIMS];
  for (int i = 0; i < xw->ndim; i++) bo[2 * i] = 0, bo[2 * i + 1] = i >= 2 && i < 2 + nk ? o[i - 2] : xw->shape[i];
  xw = tg__tshrink(xw, bo);
  /* (bs, g, rcout, cin, O..., K...), or with the batch as (chunks, chunk) in front (tg__conv_dw_chunk) */
  double macs = (double)bs * (double)cout * tg__conv_dprod(nk, o) * (double)cin * tg__conv_dprod(nk, k);
  tg__uop *packed = 2 * (double)cin * tg__conv_dprod(nk, k) >= 64 ? tg__pack_channels(dy, 1, rcout, width, macs) : dy;
  int split = packed != dy && chunk > 0 && bs % chunk == 0, f0 = split, nd = 4 + 2 * nk + split;
  int64_t full[TG_MAX_DIMS], xs[TG_MAX_DIMS], ds[TG_MAX_DIMS];
  if (split) full[0] = xs[0] = ds[0] = bs / chunk;
  full[f0] = xs[f0] = ds[f0] = split ? chunk : bs;
  full[f0 + 1] = xs[f0 + 1] = ds[f0 + 1] = g;
  full[f0 + 2] = ds[f0 + 2] = rcout, xs[f0 + 2] = 1;
  full[f0 + 3] = xs[f0 + 3] = cin, ds[f0 + 3] = 1;
  int64_t mask = 1LL << f0;
  for (int j = 0; j < nk; j++) {
    full[f0 + 4 + j] = xs[f0 + 4 + j] = ds[f0 + 4 + j] = o[j], mask |= 1LL << (f0 + 4 + j);
    full[f0 + 4 + nk + j] = xs[f0 + 4 + nk + j] = k[j], ds[f0 + 4 + nk + j] = 1;
  }
  tg__uop *prod = tg__tmul(tg__texpand(tg__treshape(xw, nd, xs), full),
                           tg__texpand(tg__treshape(packed, nd, ds), full));
  tg__uop *dw = tg__tsum(prod, mask);
  if (split) dw = tg__tsum(tg__uop1(TG__OP_CONTIGUOUS, dw->dtype, dw, NULL), 1LL << 0);
  int64_t wsh[TG_MAX_DIMS] = {cout, cin};
  for (int j = 0; j < nk; j++) wsh[2 + j] = k[j];
  dw = tg__tcast(tg__treshape(dw, 2 + nk, wsh), w->dtype);
  return tg__uop3(TG__OP_SINK, TG_BOOL, tg__uop0(TG__OP_NOOP, TG_BOOL, NULL), dx, dw, NULL);
}

static const tg__custom tg__conv_custom = {"conv", tg__conv_grad};

/* tinygrad's conv2d over the last nk axes: x (N, Cin, I...), w (Cout, Cin/groups, K...), stride st, dilation dl and
 * padding lo/hi (negative crops) per axis; the checks, then the convolution and its derivative. fn names the public
 * function in errors. */
TG__PRIVATE tg_tensor *tg__conv(const char *fn, tg_tensor *input, tg_tensor *weight, tg_tensor *bias, int nk,
                                const int64_t *st, const int64_t *dl, const int64_t *lo, const int64_t *hi,
                                int64_t groups) {
  TG__NEED(fn, input);
  TG__NEED(fn, weight);
  tg__uop *x = input->uop, *w = weight->uop;
  char b1[128], b2[128];
  int ok = nk >= 1 && nk <= TG_MAX_CONV_DIMS && x->ndim == 2 + nk && w->ndim == 2 + nk && groups >= 1 &&
           x->shape[1] == tg__size_mul(w->shape[1], groups) && w->shape[0] % groups == 0;
  for (int j = 0; ok && j < nk; j++) ok = st[j] >= 1 && dl[j] >= 1 && llabs(lo[j]) < (1LL << 62) &&
                                          llabs(hi[j]) < (1LL << 62);
  if (!ok) {
    tg__set_error("%s: input %s and weight %s do not fit (groups %lld, stride %lld, padding %lld, dilation %lld%s); "
                  "HINT: input is (N, Cin, I...), weight (Cout, Cin/groups, K...) over 1 to %d axes; strides and "
                  "dilations at least 1", fn, TG__SHAPE(x, b1), TG__SHAPE(w, b2), (long long)groups,
                  (long long)(nk > 0 ? st[0] : 0), (long long)(nk > 0 ? lo[0] : 0), (long long)(nk > 0 ? dl[0] : 0),
                  nk > 1 ? ", first axis" : "", TG_MAX_CONV_DIMS);
    return NULL;
  }
  if (tg__conv_fits(fn, nk, x->shape, w->shape, st, lo, hi, dl) < 0) return NULL;
  int64_t cout = w->shape[0];
  if (bias && (bias->uop->ndim != 1 || bias->uop->shape[0] != cout)) {
    tg__set_error("%s: bias has shape %s, expected (%lld,)", fn, TG__SHAPE(bias->uop, b1), (long long)cout);
    return NULL;
  }
  tg_dtype dt = tg_promote(x->dtype, w->dtype);
  x = tg__conv_input(tg__tcast(x, dt));
  w = tg__tcast(w, dt);
  int64_t width = tg__conv_pack_width(input->dev, dt);
  tg__uop *r = tg__tconv(x, w, nk, st, dl, lo, hi, groups, width);
  if (tg_dtype_is_float(dt)) { /* differentiable: the derivative is two convolutions (tg__conv_grad) */
    int64_t per = 4 * r->shape[1];
    for (int j = 0; j < nk; j++) per *= r->shape[2 + j];
    int64_t chunk = width ? tg__conv_dw_chunk(input->dev, r->shape[0], per) : 0;
    int64_t params[TG__CONV_PER_AXIS + 4 * TG_MAX_CONV_DIMS] = {nk, groups, width, chunk};
    for (int j = 0; j < nk; j++) {
      params[TG__CONV_PER_AXIS + j] = st[j], params[TG__CONV_PER_AXIS + nk + j] = dl[j];
      params[TG__CONV_PER_AXIS + 2 * nk + j] = lo[j], params[TG__CONV_PER_AXIS + 3 * nk + j] = hi[j];
    }
    tg__arg a;
    memset(&a, 0, sizeof a);
    a.ptr = (void *)&tg__conv_custom;
    a.nints = TG__CONV_PER_AXIS + 4 * nk;
    a.ints = params;
    r = tg__uop3(TG__OP_CUSTOM_GRAD, r->dtype, r, x, w, &a);
  }
  if (bias) {
    int64_t bsh[TG_MAX_DIMS] = {1, cout};
    for (int j = 0; j < nk; j++) bsh[2 + j] = 1;
    r = tg__tadd(r, tg__texpand(tg__treshape(tg__tcast(bias->uop, dt), 2 + nk, bsh), r->shape));
  }
  return tg__tensor_wrap(r, input->dev);
}

/* tinygrad's forms of a per-axis option for nk axes: n = 0 (def on every axis), 1 (v[0] on every axis) or nk (one
 * per axis, in axis order); -1 with an error naming fn and the option otherwise */
TG__PRIVATE int tg__axes_option(const char *fn, const char *what, int n, const int64_t *v, int nk, int64_t def,
                                int64_t *out) {
  if (n != 0 && n != 1 && n != nk) {
    tg__set_error("%s: %d values of %s for %d axes; HINT: give 0 (the default), 1 (every axis) or %d", fn, n, what, nk,
                  nk);
    return -1;
  }
  for (int j = 0; j < nk; j++) out[j] = n == 0 ? def : v[n == 1 ? 0 : j];
  return 0;
}

/* tinygrad's padding forms for nk axes (resolve_pool_pads): n = 0 (none), 1 (v[0] everywhere), nk (v[j] before and
 * after axis j) or 2 nk (F.pad's order, last axis first: (left, right, top, bottom, ...)) -> lo[j], hi[j] */
TG__PRIVATE int tg__pads_option(const char *fn, int n, const int64_t *v, int nk, int64_t *lo, int64_t *hi) {
  if (n != 0 && n != 1 && n != nk && n != 2 * nk) {
    tg__set_error("%s: %d padding values for %d axes; HINT: give 0, 1, %d (one per axis) or %d (left, right, top, "
                  "bottom...: last axis first)", fn, n, nk, nk, 2 * nk);
    return -1;
  }
  for (int j = 0; j < nk; j++) {
    if (n == 2 * nk) lo[j] = v[2 * (nk - 1 - j)], hi[j] = v[2 * (nk - 1 - j) + 1];
    else lo[j] = hi[j] = n == 0 ? 0 : v[n == 1 ? 0 : j];
  }
  return 0;
}

tg_tensor *tg_conv(tg_tensor *x, tg_tensor *w, tg_tensor *bias, const tg_conv_opts *opts) {
  TG__LOCKED();
  TG__NEED("tg_conv", w);
  tg_conv_opts none;
  memset(&none, 0, sizeof none);
  const tg_conv_opts *o = opts ? opts : &none;
  int nk = w->uop->ndim - 2;
  int64_t st[TG_MAX_DIMS], dl[TG_MAX_DIMS], lo[TG_MAX_DIMS], hi[TG_MAX_DIMS];
  if (nk < 1 || nk > TG_MAX_CONV_DIMS) {
    char b[128];
    tg__set_error("tg_conv: weight %s: needs (Cout, Cin/groups, K...) with 1 to %d kernel axes", TG__SHAPE(w->uop, b),
                  TG_MAX_CONV_DIMS);
    return NULL;
  }
  if (tg__axes_option("tg_conv", "stride", o->nstride, o->stride, nk, 1, st) < 0 ||
      tg__axes_option("tg_conv", "dilation", o->ndilation, o->dilation, nk, 1, dl) < 0 ||
      tg__pads_option("tg_conv", o->npadding, o->padding, nk, lo, hi) < 0)
    return NULL;
  if (o->noutput_padding) {
    tg__set_error("tg_conv: output_padding is an option of tg_conv_transpose only");
    return NULL;
  }
  return tg__conv("tg_conv", x, w, bias, nk, st, dl, lo, hi, o->groups ? o->groups : 1);
}

tg_tensor *tg_conv2d(tg_tensor *input, tg_tensor *weight, tg_tensor *bias, int stride, int padding, int dilation,
                     int groups) {
  TG__LOCKED();
  int64_t st[2] = {stride, stride}, dl[2] = {dilation, dilation}, p[2] = {padding, padding};
  if (input && weight && padding < 0) {
    char b1[128], b2[128];
    tg__set_error("tg_conv2d: input %s and weight %s: padding %d is negative; HINT: tg_conv crops with negative "
                  "padding", TG__SHAPE(input->uop, b1), TG__SHAPE(weight->uop, b2), padding);
    return NULL;
  }
  return tg__conv("tg_conv2d", input, weight, bias, 2, st, dl, p, p, groups);
}

// ---------------------------------------------------------------------------------------------------------------------
// indexing: one-hot masks against an arange, reduced (tinygrad's gather)

/* x (..., n, ...) indexed along ax by idx: out[p, q, r] = x[p, idx[q], r] where p are x's axes before ax, q idx's
 * axes and r x's axes after: sum over k of (idx == k) * x[..., k, ...] */
static tg__uop *tg__tindex(tg__uop *x, int ax, tg__uop *idx) {
  int nb = ax, na = x->ndim - ax - 1, ni = idx->ndim, nd = nb + ni + na + 1;
  int64_t n = x->shape[ax], full[TG_MAX_DIMS], xs[TG_MAX_DIMS], is[TG_MAX_DIMS], ks[TG_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < nb; i++) full[k] = x->shape[i], xs[k] = x->shape[i], is[k] = 1, ks[k] = 1, k++;
  for (int i = 0; i < ni; i++) full[k] = idx->shape[i], xs[k] = 1, is[k] = idx->shape[i], ks[k] = 1, k++;
  for (int i = 0; i < na; i++) full[k] = x->shape[ax + 1 + i], xs[k] = x->shape[ax + 1 + i], is[k] = 1, ks[k] = 1, k++;
  full[k] = n, xs[k] = n, is[k] = 1, ks[k] = n;
  (void)xs;
  /* x with its axis moved last */
  int perm[TG_MAX_DIMS], pn = 0;
  for (int i = 0; i < x->ndim; i++)
    if (i != ax) perm[pn++] = i;
  perm[pn++] = ax;
  tg__uop *xp = tg__tpermute(x, perm);
  int64_t xps[TG_MAX_DIMS];
  int m = 0;
  for (int i = 0; i < nb; i++) xps[m++] = x->shape[i];
  for (int i = 0; i < ni; i++) xps[m++] = 1;
  for (int i = 0; i < na; i++) xps[m++] = x->shape[ax + 1 + i];
  xps[m++] = n;
  xp = tg__texpand(tg__treshape(xp, nd, xps), full);
  tg__uop *iv = tg__texpand(tg__treshape(tg__tcast(idx, TG_INT32), nd, is), full);
  /* negative indices count from the end, as in python */
  iv = tg__twhere(tg__tlt(iv, tg__c(iv, 0)), tg__tadds(iv, (double)n), iv);
  tg__uop *kv = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd, ks), full);
  tg__uop *sel = tg__twhere(tg__talu(TG__OP_CMPEQ, iv, kv), xp, tg__c(xp, 0));
  tg__uop *r = tg__treduce(sel, x->dtype == TG_BOOL ? TG__OP_MAX : TG__OP_ADD, 1LL << (nd - 1));
  return tg__treshape(r, nd - 1, full);
}

tg_tensor *tg_index(tg_tensor *a, int axis, tg_tensor *index) {
  TG__LOCKED();
  TG__NEED("tg_index", a);
  TG__NEED("tg_index", index);
  int ax = tg__axis("tg_index", axis, a->uop->ndim);
  if (ax < 0) return NULL;
  if (tg_dtype_is_float(index->uop->dtype)) {
    tg__set_error("tg_index: the index tensor must be integer, got %s", tg_dtype_name(index->uop->dtype));
    return NULL;
  }
  if (a->uop->ndim + index->uop->ndim > TG_MAX_DIMS) {
    tg__set_error("tg_index: the result would have more than %d dimensions", TG_MAX_DIMS);
    return NULL;
  }
  /* the one-hot selection is (a's shape without axis, index's shape, a's axis) */
  int64_t full[TG_MAX_DIMS + 1];
  int k = 0;
  for (int i = 0; i < a->uop->ndim; i++)
    if (i != ax) full[k++] = a->uop->shape[i];
  for (int i = 0; i < index->uop->ndim; i++) full[k++] = index->uop->shape[i];
  full[k++] = a->uop->shape[ax];
  if (tg__check_span("tg_index", k, full) < 0 || tg__check_arange("tg_index", a->uop->shape[ax]) < 0) return NULL;
  return tg__tensor_wrap(tg__tindex(a->uop, ax, index->uop), a->dev);
}

/* the checks of indexing by n index tensors: ax[k] the axis of indices[k] (seen[d] marks the axes indexed), *span
 * the positions the indexed axes hold. 0, or -1 with an error naming fn */
static int tg__index_axes(const char *fn, tg_tensor *a, int n, const int *axes, tg_tensor **indices, int *ax,
                          int *seen, int64_t *span) {
  int nd = a->uop->ndim;
  if (n < 1 || n > nd || !axes || !indices) {
    tg__set_error("%s: %d index tensors for a tensor of %d dimensions", fn, n, nd);
    return -1;
  }
  for (int d = 0; d < nd; d++) seen[d] = 0;
  for (int k = 0; k < n; k++) {
    if (!indices[k]) return tg__null(fn), -1;
    if ((ax[k] = tg__axis(fn, axes[k], nd)) < 0) return -1;
    if (seen[ax[k]]++ || tg_dtype_is_float(indices[k]->uop->dtype) || indices[k]->uop->dtype == TG_BOOL) {
      tg__set_error("%s: %s", fn, seen[ax[k]] > 1 ? "an axis is indexed twice" : "index tensors must be integer");
      return -1;
    }
  }
  *span = 1;
  for (int k = 0; k < n; k++) *span *= a->uop->shape[ax[k]];
  if (*span > INT32_MAX) {
    tg__set_error("%s: the indexed axes hold %lld positions, more than int32 indexes", fn, (long long)*span);
    return -1;
  }
  return 0;
}

/* the row-major position over the indexed axes of each index, broadcast (int32): negative indices count from their
 * axis's end, and an index outside its axis becomes span, a position that matches nothing */
static tg_tensor *tg__index_linear(tg_tensor *a, int n, const int *ax, tg_tensor **indices, int64_t span) {
  tg_tensor *lin = NULL;
  int64_t stride = 1;
  for (int k = n - 1; k >= 0; k--) {
    int64_t sz = a->uop->shape[ax[k]];
    tg_tensor *i = tg_cast(indices[k], TG_INT32);
    i = tg_where(tg_lt_s(i, 0), tg_add_s(i, (double)sz), i);
    i = tg_where(tg_logical_or(tg_lt_s(i, 0), tg_ge_s(i, (double)sz)), tg_full((double)span, TG_INT32, 0, NULL),
                 tg_mul_s(i, (double)stride));
    lin = lin ? tg_add(lin, i) : i;
    stride *= sz;
  }
  return tg_where(tg_ge_s(lin, (double)span), tg_full((double)span, TG_INT32, 0, NULL), lin);
}

/* a with the axes not indexed first (rest[0..nr), in order) and the indexed ones flattened into one last axis */
static tg_tensor *tg__index_flat(tg_tensor *a, int n, const int *ax, const int *seen, int64_t span, int *rest,
                                 int *nr) {
  int nd = a->uop->ndim, perm[TG_MAX_DIMS], np = 0;
  *nr = 0;
  for (int d = 0; d < nd; d++)
    if (!seen[d]) perm[np++] = d, rest[(*nr)++] = d;
  for (int k = 0; k < n; k++) perm[np++] = ax[k];
  int64_t fs[TG_MAX_DIMS];
  for (int d = 0; d < *nr; d++) fs[d] = a->uop->shape[rest[d]];
  fs[*nr] = span;
  return tg_reshape(tg_permute(a, nd, perm), *nr + 1, fs);
}

/* the permutation between (rest..., B...) and numpy's result order: B where the indexed axes were when they are
 * adjacent, first otherwise; p[i] = the axis of (rest..., B...) at result position i */
static int tg__index_order(int n, const int *ax, int nr, int nb, int *p) {
  int adjacent = 1, k = 0;
  for (int j = 1; j < n; j++) adjacent &= ax[j] == ax[j - 1] + 1;
  int first = adjacent ? ax[0] : 0;
  for (int d = 0; d < first; d++) p[k++] = d;
  for (int d = 0; d < nb; d++) p[k++] = nr + d;
  for (int d = first; d < nr; d++) p[k++] = d;
  return k;
}

/* a[i1, i2, ...] with index tensors on several axes at once, as numpy's advanced indexing: the indices broadcast to
 * one shape B, whose axes replace the indexed ones where those are adjacent, and come first otherwise. The indexed
 * axes become one (their row-major position, negative indices counted from each axis's end), read by tg_index */
tg_tensor *tg_index_n(tg_tensor *a, int n, const int *axes, tg_tensor **indices) {
  TG__LOCKED();
  TG__NEED("tg_index_n", a);
  int ax[TG_MAX_DIMS], seen[TG_MAX_DIMS], rest[TG_MAX_DIMS], nr, p[TG_MAX_DIMS];
  int64_t span;
  if (tg__index_axes("tg_index_n", a, n, axes, indices, ax, seen, &span) < 0) return NULL;
  tg_scope_begin();
  tg_tensor *lin = tg__index_linear(a, n, ax, indices, span);
  tg_tensor *x = tg__index_flat(a, n, ax, seen, span, rest, &nr);
  tg_tensor *r = lin ? tg_index(x, nr, lin) : NULL; /* (rest..., B...) */
  if (r) r = tg_permute(r, tg__index_order(n, ax, nr, tg_ndim(r) - nr, p), p);
  if (r) tg_keep(r);
  tg_scope_end();
  return r;
}

/* a[i1, i2, ...] = value (tinygrad's advanced __setitem__), lazily: each position the indices name takes the value
 * at the same place of the result tg_index_n would give; where an index repeats, the last one in row-major order of
 * the broadcast indices wins (tinygrad's _masked_merge); indices outside their axes write nothing. */
int tg_setitem_index(tg_tensor *a, int n, const int *axes, tg_tensor **indices, tg_tensor *value) {
  TG__LOCKED();
  const char *fn = "tg_setitem_index";
  if (!a || !value) return tg__null(fn), -1;
  int ax[TG_MAX_DIMS], seen[TG_MAX_DIMS], rest[TG_MAX_DIMS], nr, p[TG_MAX_DIMS], back[TG_MAX_DIMS];
  int64_t span;
  if (tg__index_axes(fn, a, n, axes, indices, ax, seen, &span) < 0) return -1;
  tg_scope_begin();
  tg_tensor *lin = tg__index_linear(a, n, ax, indices, span); /* (B...) */
  tg_tensor *x = tg__index_flat(a, n, ax, seen, span, rest, &nr);  /* (rest..., P) */
  int rc = -1;
  if (lin && x) {
    /* the value in the getitem's shape, then as (rest..., Q): Q the broadcast indices' positions */
    int nb = tg_ndim(lin), k = tg__index_order(n, ax, nr, nb, p);
    int64_t rshape[TG_MAX_DIMS], flat[TG_MAX_DIMS], q = tg_numel(lin);
    for (int i = 0; i < k; i++) rshape[i] = p[i] < nr ? a->uop->shape[rest[p[i]]] : tg_shape(lin)[p[i] - nr];
    for (int i = 0; i < k; i++) back[p[i]] = i;
    for (int d = 0; d < nr; d++) flat[d] = a->uop->shape[rest[d]];
    flat[nr] = q;
    tg_tensor *v = tg_expand(tg_cast(value, a->uop->dtype), k, rshape);
    v = v ? tg_reshape(tg_permute(v, k, back), nr + 1, flat) : NULL;
    if (!v) {
      char b1[128], b2[128];
      tg__set_error("%s: a value of shape %s does not broadcast to the indexed shape %s", fn,
                    TG__SHAPE(value->uop, b1), tg__shape_str(k, rshape, b2, sizeof b2));
    } else if (q == 0) {
      rc = 0; /* no index: nothing to write */
    } else {
      /* per position p of the indexed axes: the last q whose index is p (-1: none), then that q's value */
      tg_tensor *pos = tg_reshape(tg_arange(0, (double)span, 1, TG_INT32), TG_SHAPE(span, 1));
      tg_tensor *qs = tg_reshape(tg_arange(0, (double)q, 1, TG_INT32), TG_SHAPE(1, q));
      tg_tensor *hit = tg_eq(tg_reshape(lin, TG_SHAPE(1, q)), pos);                          /* (P, Q) */
      int qaxis = 1;
      tg_tensor *last = tg_max(tg_where(hit, qs, tg_full(-1, TG_INT32, 0, NULL)), 1, &qaxis, 0); /* (P,) */
      tg_tensor *taken = tg_index(v, nr, tg_maximum_s(last, 0));                               /* (rest..., P) */
      tg_tensor *merged = tg_where(tg_ge_s(last, 0), taken, x);
      int64_t ish[TG_MAX_DIMS];
      int nd = a->uop->ndim, inv[TG_MAX_DIMS], perm[TG_MAX_DIMS], m = 0;
      for (int d = 0; d < nr; d++) ish[d] = a->uop->shape[rest[d]], perm[m++] = rest[d];
      for (int j = 0; j < n; j++) ish[nr + j] = a->uop->shape[ax[j]], perm[m++] = ax[j];
      for (int d = 0; d < nd; d++) inv[perm[d]] = d;
      tg_tensor *full = tg_permute(tg_reshape(merged, nd, ish), nd, inv);
      rc = full && tg_assign(a, full) ? 0 : -1;
      if (rc < 0) tg__error_context(fn);
    }
  }
  tg_scope_end();
  return rc;
}

/* out[i][j][k] = a[i][index[i][j][k]][k] (axis 1): index has a's rank, sizes <= a's off the axis */
tg_tensor *tg_gather(tg_tensor *a, int axis, tg_tensor *index) {
  TG__LOCKED();
  TG__NEED("tg_gather", a);
  TG__NEED("tg_gather", index);
  tg__uop *x = a->uop, *idx = index->uop;
  int ax = tg__axis("tg_gather", axis, x->ndim);
  if (ax < 0) return NULL;
  char b1[128], b2[128];
  int ok = idx->ndim == x->ndim && !tg_dtype_is_float(idx->dtype) && x->ndim < TG_MAX_DIMS;
  for (int i = 0; ok && i < x->ndim; i++) ok = i == ax || idx->shape[i] <= x->shape[i];
  if (!ok) {
    tg__set_error("tg_gather: index %s (%s) does not fit input %s along axis %d", TG__SHAPE(idx, b1),
                  tg_dtype_name(idx->dtype), TG__SHAPE(x, b2), ax);
    return NULL;
  }
  int64_t b[2 * TG_MAX_DIMS], n = x->shape[ax];
  int nd = x->ndim + 1;
  int64_t full[TG_MAX_DIMS], xs[TG_MAX_DIMS], is[TG_MAX_DIMS], ks[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) full[i] = idx->shape[i], is[i] = idx->shape[i], ks[i] = 1;
  full[nd - 1] = n, is[nd - 1] = 1, ks[nd - 1] = n;
  if (tg__check_span("tg_gather", nd, full) < 0 || tg__check_arange("tg_gather", n) < 0) return NULL;
  for (int i = 0; i < x->ndim; i++) b[2 * i] = 0, b[2 * i + 1] = i == ax ? n : idx->shape[i];
  x = tg__tshrink(x, b);
  /* x moved so its axis is last, with a 1 in its place */
  int perm[TG_MAX_DIMS];
  for (int i = 0; i < nd; i++) perm[i] = i;
  perm[ax] = nd - 1;
  perm[nd - 1] = ax;
  for (int i = 0; i < x->ndim; i++) xs[i] = x->shape[i];
  xs[nd - 1] = 1;
  tg__uop *xp = tg__texpand(tg__tpermute(tg__treshape(x, nd, xs), perm), full);
  tg__uop *iv = tg__texpand(tg__treshape(tg__tcast(idx, TG_INT32), nd, is), full);
  tg__uop *kv = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd, ks), full);
  tg__uop *sel = tg__twhere(tg__talu(TG__OP_CMPEQ, iv, kv), xp, tg__c(xp, 0));
  tg__uop *r = tg__treduce(sel, x->dtype == TG_BOOL ? TG__OP_MAX : TG__OP_ADD, 1LL << (nd - 1));
  return tg__tensor_wrap(tg__treshape(r, nd - 1, idx->shape), a->dev);
}

tg_tensor *tg_one_hot(tg_tensor *a, int64_t num_classes) {
  TG__LOCKED();
  TG__NEED("tg_one_hot", a);
  tg__uop *x = a->uop;
  if (tg_dtype_is_float(x->dtype) || num_classes < 1 || x->ndim == TG_MAX_DIMS) {
    tg__set_error("tg_one_hot: needs an integer tensor and num_classes >= 1 (got %s, %lld)", tg_dtype_name(x->dtype),
                  (long long)num_classes);
    return NULL;
  }
  int nd = x->ndim + 1;
  int64_t full[TG_MAX_DIMS], xs[TG_MAX_DIMS], ks[TG_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) full[i] = xs[i] = x->shape[i], ks[i] = 1;
  full[nd - 1] = ks[nd - 1] = num_classes, xs[nd - 1] = 1;
  if (tg__check_arange("tg_one_hot", num_classes) < 0 || tg__check_span("tg_one_hot", nd, full) < 0) return NULL;
  tg__uop *xv = tg__texpand(tg__treshape(tg__tcast(x, TG_INT32), nd, xs), full);
  tg__uop *kv = tg__texpand(tg__treshape(tg__tarange(num_classes, 0, 1, TG_INT32), nd, ks), full);
  return tg__tensor_wrap(tg__tcast(tg__talu(TG__OP_CMPEQ, xv, kv), TG_INT32), a->dev);
}

// ---------------------------------------------------------------------------------------------------------------------
// writes by index: masked_fill, scatter, scatter_reduce (tinygrad's: a one-hot mask over the index's positions)

tg_tensor *tg_masked_fill(tg_tensor *a, tg_tensor *mask, tg_tensor *value) {
  TG__LOCKED();
  TG__NEED("tg_masked_fill", mask);
  return tg_where(mask, value, a);
}
tg_tensor *tg_masked_fill_s(tg_tensor *a, tg_tensor *mask, double value) {
  TG__LOCKED();
  TG__NEED("tg_masked_fill_s", a);
  TG__NEED("tg_masked_fill_s", mask);
  tg__uop *x, *v, *c = tg__tcast(mask->uop, TG_BOOL);
  if (tg__prep_s("tg_masked_fill_s", a, value, &x, &v) < 0) return NULL;
  if (tg__broadcast("tg_masked_fill_s", &c, &x) < 0 || tg__broadcast("tg_masked_fill_s", &c, &v) < 0) return NULL;
  return tg__tensor_wrap(tg__twhere(c, v, x), a->dev);
}

/* For self x (S...) and index / src of the index's shape (I...), along axis ax: over (S..., m), m = I[ax], the mask
 * of "index position i writes here" (index[p with p_ax -> i] == p_ax, and p inside the index off the axis) and the
 * value src would write; NULL and an error when the shapes or dtypes do not fit */
static int tg__pre_scatter(const char *fn, tg__uop *x, int ax, tg__uop *idx, tg__uop *src, tg__uop **mask,
                           tg__uop **vals) {
  char b1[128], b2[128], b3[128];
  int nd = x->ndim, ok = idx->ndim == nd && src->ndim == nd && nd < TG_MAX_DIMS && !tg_dtype_is_float(idx->dtype) &&
                         idx->dtype != TG_BOOL && src->dtype == x->dtype;
  for (int d = 0; ok && d < nd; d++) ok = (d == ax || idx->shape[d] <= x->shape[d]) && idx->shape[d] <= src->shape[d];
  if (!ok) {
    tg__set_error("%s: input %s (%s), index %s (%s) and src %s (%s) do not fit along axis %d; HINT: one rank, an "
                  "integer index no larger than src, nor than the input off the axis, and src of the input's dtype",
                  fn, TG__SHAPE(x, b1), tg_dtype_name(x->dtype), TG__SHAPE(idx, b2), tg_dtype_name(idx->dtype),
                  TG__SHAPE(src, b3), tg_dtype_name(src->dtype), ax);
    return -1;
  }
  int64_t n = x->shape[ax], m = idx->shape[ax], b[2 * TG_MAX_DIMS] = {0}, u[TG_MAX_DIMS + 1], full[TG_MAX_DIMS + 1];
  int64_t ks[TG_MAX_DIMS + 1], pads[2 * (TG_MAX_DIMS + 1)] = {0}, big[TG_MAX_DIMS + 1];
  for (int d = 0; d <= nd; d++) {
    u[d] = d == nd ? 1 : idx->shape[d];
    full[d] = d == nd ? m : d == ax ? n : idx->shape[d];
    ks[d] = d == ax ? n : 1;
    big[d] = d == nd ? m : x->shape[d];
    if (d < nd && d != ax) pads[2 * d + 1] = x->shape[d] - idx->shape[d];
  }
  if (tg__check_span(fn, nd + 1, big) < 0 || tg__check_arange(fn, n) < 0) return -1;
  for (int d = 0; d < nd; d++) b[2 * d] = 0, b[2 * d + 1] = idx->shape[d];
  src = tg__tshrink(src, b);
  int perm[TG_MAX_DIMS + 1];
  for (int d = 0; d <= nd; d++) perm[d] = d;
  perm[ax] = nd, perm[nd] = ax;
  /* (I..., 1 at ax, ..., m): the index's and src's axis moved last */
  tg__uop *iv = tg__texpand(tg__tpermute(tg__treshape(tg__tcast(idx, TG_INT32), nd + 1, u), perm), full);
  tg__uop *sv = tg__texpand(tg__tpermute(tg__treshape(src, nd + 1, u), perm), full);
  tg__uop *kv = tg__texpand(tg__treshape(tg__tarange(n, 0, 1, TG_INT32), nd + 1, ks), full);
  *mask = tg__tpad(tg__talu(TG__OP_CMPEQ, iv, kv), pads);
  *vals = tg__tpad(sv, pads);
  return 0;
}

static int tg__scatter_args(const char *fn, tg_tensor *a, int axis, tg_tensor *index, tg_tensor *src) {
  if (!a || !index || !src) {
    tg__null(fn);
    return -1;
  }
  return tg__axis(fn, axis, a->uop->ndim);
}

/* the index's last write wins where two positions write one place (tinygrad's _masked_merge): the largest i that
 * writes, then its value */
static tg__uop *tg__scatter_last(tg__uop *x, tg__uop *mask, tg__uop *vals) {
  int nd = mask->ndim;
  int64_t m = mask->shape[nd - 1], ks[TG_MAX_DIMS + 1];
  for (int d = 0; d < nd; d++) ks[d] = d == nd - 1 ? m : 1;
  tg__uop *i1 = tg__texpand(tg__treshape(tg__tarange(m, 1, 1, TG_INT32), nd, ks), mask->shape); /* i + 1 */
  tg__uop *last = tg__treduce(tg__twhere(mask, i1, tg__c(i1, 0)), TG__OP_MAX, 1LL << (nd - 1)); /* (S..., 1) */
  tg__uop *pick = tg__talu(TG__OP_AND, mask, tg__talu(TG__OP_CMPEQ, i1, tg__texpand(last, mask->shape)));
  tg__uop *v = tg__treduce(tg__twhere(pick, vals, tg__c(vals, 0)), vals->dtype == TG_BOOL ? TG__OP_MAX : TG__OP_ADD,
                           1LL << (nd - 1));
  v = tg__treshape(v, x->ndim, x->shape);
  last = tg__treshape(last, x->ndim, x->shape);
  return tg__twhere(tg__tlt(tg__c(last, 0), last), v, x);
}

tg_tensor *tg_scatter(tg_tensor *a, int axis, tg_tensor *index, tg_tensor *src) {
  TG__LOCKED();
  int ax = tg__scatter_args("tg_scatter", a, axis, index, src);
  tg__uop *mask, *vals;
  if (ax < 0 || tg__pre_scatter("tg_scatter", a->uop, ax, index->uop, src->uop, &mask, &vals) < 0) return NULL;
  return tg__tensor_wrap(tg__scatter_last(a->uop, mask, vals), a->dev);
}

tg_tensor *tg_scatter_s(tg_tensor *a, int axis, tg_tensor *index, double value) {
  TG__LOCKED();
  int ax = tg__scatter_args("tg_scatter_s", a, axis, index, index);
  if (ax < 0) return NULL;
  tg__uop *src = tg__tfull_like(index->uop, value, a->uop->dtype), *mask, *vals;
  if (tg__pre_scatter("tg_scatter_s", a->uop, ax, index->uop, src, &mask, &vals) < 0) return NULL;
  return tg__tensor_wrap(tg__scatter_last(a->uop, mask, vals), a->dev);
}

tg_tensor *tg_scatter_reduce(tg_tensor *a, int axis, tg_tensor *index, tg_tensor *src, int reduce, int include_self) {
  TG__LOCKED();
  const char *fn = "tg_scatter_reduce";
  int ax = tg__scatter_args(fn, a, axis, index, src);
  if (ax < 0) return NULL;
  if (reduce < TG_SCATTER_SUM || reduce > TG_SCATTER_AMIN) {
    tg__set_error("%s: reduce %d is none of TG_SCATTER_SUM, _PROD, _MEAN, _AMAX, _AMIN", fn, reduce);
    return NULL;
  }
  tg__uop *x = a->uop, *mask, *vals;
  if (tg__pre_scatter(fn, x, ax, index->uop, src->uop, &mask, &vals) < 0) return NULL;
  int64_t last = 1LL << (mask->ndim - 1);
  /* x where no position writes, and where the input is not included */
  tg__uop *none = tg__treshape(tg__tnot(tg__treduce(mask, TG__OP_MAX, last)), x->ndim, x->shape);
  double lo = tg__dtype_min(x->dtype), hi = tg__dtype_max(x->dtype);
  tg__uop *r;
#define TG__KEEP(ident) (include_self ? x : tg__twhere(none, x, tg__c(x, (ident))))
  switch (reduce) {
  case TG_SCATTER_SUM:
    r = tg__treshape(tg__tsum(tg__twhere(mask, vals, tg__c(vals, 0)), last), x->ndim, x->shape);
    r = tg__tadd(tg__tcast(r, x->dtype), TG__KEEP(0));
    break;
  case TG_SCATTER_PROD:
    r = tg__treshape(tg__treduce(tg__twhere(mask, vals, tg__c(vals, 1)), TG__OP_MUL, last), x->ndim, x->shape);
    r = tg__tmul(r, TG__KEEP(1));
    break;
  case TG_SCATTER_AMAX:
    r = tg__treshape(tg__tmax(tg__twhere(mask, vals, tg__c(vals, lo)), last), x->ndim, x->shape);
    r = tg__f_max(r, TG__KEEP(lo));
    break;
  case TG_SCATTER_AMIN:
    r = tg__treshape(tg__tmin(tg__twhere(mask, vals, tg__c(vals, hi)), last), x->ndim, x->shape);
    r = tg__f_min(r, TG__KEEP(hi));
    break;
  default: { /* mean: (the writes' sum + x) / (their count + 1), x counting where included */
    tg__uop *cnt = tg__treshape(tg__tsum(tg__tcast(mask, TG_INT32), last), x->ndim, x->shape);
    tg__uop *one = include_self ? tg__c(cnt, 1) : tg__twhere(none, tg__c(cnt, 1), tg__c(cnt, 0));
    r = tg__treshape(tg__tsum(tg__twhere(mask, vals, tg__c(vals, 0)), last), x->ndim, x->shape);
    r = tg__tadd(tg__tcast(r, x->dtype), TG__KEEP(0));
    tg__uop *c = tg__tadd(cnt, one);
    r = tg_dtype_is_float(x->dtype) ? tg__tdiv(r, tg__tcast(c, x->dtype)) : tg__f_div_trunc(r, tg__tcast(c, x->dtype));
  }
  }
#undef TG__KEEP
  return tg__tensor_wrap(r, a->dev);
}

/* The elements where mask (broadcast to a) is true, in order, as a 1-d tensor: the count is read back first (one
 * realisation; tinygrad's .item()), then output k is the element whose running count of trues is k + 1 */
static tg_tensor *tg__masked_select(const char *fn, tg_tensor *a, tg_tensor *mask) {
  tg__uop *x = a->uop, *m = tg__tcast(mask->uop, TG_BOOL);
  if (tg__broadcast(fn, &m, &x) < 0) return NULL;
  if (x->ndim != a->uop->ndim || memcmp(x->shape, a->uop->shape, sizeof(int64_t) * (size_t)x->ndim)) {
    char b1[128], b2[128];
    tg__set_error("%s: the mask %s does not broadcast to the tensor's shape %s", fn, TG__SHAPE(mask->uop, b1),
                  TG__SHAPE(a->uop, b2));
    return NULL;
  }
  int64_t n = tg__numel_max(x->ndim, x->shape);
  if (tg__check_arange(fn, n) < 0) return NULL;
  tg_scope_begin();
  tg_tensor *mf = tg__tensor_wrap(tg__treshape(m, 1, &n), a->dev);
  tg_tensor *xf = tg__tensor_wrap(tg__treshape(x, 1, &n), a->dev);
  double cnt = n ? tg_item(tg_sum(tg_cast(mf, TG_INT32), 0, NULL, 0)) : 0;
  if (cnt != cnt) {
    tg_scope_end();
    return NULL;
  }
  int64_t k = (int64_t)cnt, shape[2] = {k, n};
  if (tg__check_span(fn, 2, shape) < 0) {
    tg_scope_end();
    return NULL;
  }
  tg_tensor *r;
  if (k == 0) r = tg_full(0, tg_dtype_of(a), 1, &k);
  else {
    tg_tensor *cs = tg_reshape(tg_cumsum(tg_cast(mf, TG_INT32), 0), TG_SHAPE(1, n));
    tg_tensor *pos = tg_reshape(tg_arange(1, (double)k + 1, 1, TG_INT32), TG_SHAPE(k, 1));
    tg_tensor *hit = tg_logical_and(tg_eq(cs, pos), tg_reshape(mf, TG_SHAPE(1, n))); /* (k, n) */
    tg_tensor *xv = tg_reshape(xf, TG_SHAPE(1, n));
    r = tg_sum(tg_where(hit, xv, tg_scalar(0, tg_dtype_of(a))), TG_AXES(1), 0);
    r = tg_cast(r, tg_dtype_of(a));
  }
  tg_keep(r);
  tg_scope_end();
  return r;
}
tg_tensor *tg_masked_select(tg_tensor *a, tg_tensor *mask) {
  TG__LOCKED();
  TG__NEED("tg_masked_select", a);
  TG__NEED("tg_masked_select", mask);
  if (mask->uop->dtype != TG_BOOL) {
    tg__set_error("tg_masked_select: the mask must be bool, got %s", tg_dtype_name(mask->uop->dtype));
    return NULL;
  }
  return tg__masked_select("tg_masked_select", a, mask);
}

/* (count, ndim) int32: the coordinates of the nonzero elements, in order */
tg_tensor *tg_nonzero(tg_tensor *a) {
  TG__LOCKED();
  TG__NEED("tg_nonzero", a);
  tg__uop *x = a->uop;
  int nd = x->ndim;
  tg_scope_begin();
  tg_tensor *mask = tg__tensor_wrap(tg__talu(TG__OP_CMPNE, x, tg__c(x, 0)), a->dev), *cols[TG_MAX_DIMS], *r = NULL;
  if (nd == 0) {
    int64_t k = tg_item(mask) != 0, s[2] = {k, 0};
    r = tg_full(0, TG_INT32, 2, s);
  }
  for (int d = 0; d < nd; d++) {
    int64_t s[TG_MAX_DIMS];
    for (int e = 0; e < nd; e++) s[e] = e == d ? x->shape[d] : 1;
    tg_tensor *c = tg_expand(tg_reshape(tg_arange(0, (double)x->shape[d], 1, TG_INT32), nd, s), nd, x->shape);
    cols[d] = c ? tg__masked_select("tg_nonzero", c, mask) : NULL;
    if (!cols[d]) {
      tg_scope_end();
      return NULL;
    }
  }
  if (nd > 0) r = tg_stack(cols, nd, 1);
  tg_keep(r);
  tg_scope_end();
  return r;
}

// ---------------------------------------------------------------------------------------------------------------------
// sorting: tinygrad's bitonic network (pads to a power of two, the axis unflattened into 2s, compare-exchanges
// between the halves of one of them per step), sorting (value, index) pairs: ties keep their order (tinygrad's
// result, which it matches by counting equal values, O(n^2)), and the indices come out of the network, O(n log^2 n)

/* one compare-exchange of the halves of axis d: a pair (v, i) goes low when it orders before the other */
static void tg__sort_step(tg_tensor **v, tg_tensor **ix, int d, int desc) {
  tg_tensor *vs[2] = {NULL, NULL}, *is[2] = {NULL, NULL}; /* NULL after a failure: every op below passes it on */
  tg_split(*v, 1, d, vs, 2);
  tg_split(*ix, 1, d, is, 2);
  tg_tensor *before = desc ? tg_gt(vs[1], vs[0]) : tg_lt(vs[1], vs[0]); /* the bottom orders first */
  tg_tensor *swap = tg_logical_or(before, tg_logical_and(tg_eq(vs[1], vs[0]), tg_lt(is[1], is[0])));
  tg_tensor *lo[2] = {tg_where(swap, vs[1], vs[0]), tg_where(swap, vs[0], vs[1])};
  tg_tensor *li[2] = {tg_where(swap, is[1], is[0]), tg_where(swap, is[0], is[1])};
  *v = tg_contiguous(tg_cat(lo, 2, d));
  *ix = tg_contiguous(tg_cat(li, 2, d));
}

/* green's half of axis c flipped along the last nf axes (tinygrad's crossover), or flipped back */
static tg_tensor *tg__sort_cross(tg_tensor *x, int c, int nf) {
  tg_tensor *h[2] = {NULL, NULL};
  int axes[TG_MAX_DIMS];
  tg_split(x, 1, c, h, 2);
  for (int i = 0; i < nf; i++) axes[i] = -1 - i;
  h[1] = tg_flip(h[1], nf, axes);
  return tg_cat(h, 2, c);
}

int tg_sort(tg_tensor *a, int axis, int descending, tg_tensor **values, tg_tensor **indices) {
  TG__LOCKED();
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (!a) {
    tg__null("tg_sort");
    return -1;
  }
  tg__uop *u = a->uop;
  int nd = u->ndim == 0 ? 1 : u->ndim, dim = tg__axis("tg_sort", axis, nd);
  if (dim < 0) return -1;
  int64_t n = u->ndim == 0 ? 1 : u->shape[dim];
  int st = 0;
  while (((int64_t)1 << st) < n) st++;
  if (nd - 1 + st > TG_MAX_DIMS || tg__check_arange("tg_sort", n) < 0) {
    tg__set_error("tg_sort: an axis of %lld needs %d more dimensions than the %d there can be", (long long)n, st,
                  TG_MAX_DIMS);
    return -1;
  }
  tg_scope_begin();
  int64_t s1[TG_MAX_DIMS], ix_shape[TG_MAX_DIMS];
  for (int d = 0; d < nd; d++) s1[d] = u->ndim == 0 ? 1 : u->shape[d], ix_shape[d] = d == dim ? n : 1;
  tg_tensor *v = u->ndim == 0 ? tg_reshape(a, 1, s1) : a;
  tg_tensor *ix = tg_expand(tg_reshape(tg_arange(0, (double)n, 1, TG_INT32), nd, ix_shape), nd, s1);
  if (n > 1) {
    int64_t pads[2 * TG_MAX_DIMS] = {0}, N = (int64_t)1 << st, us[TG_MAX_DIMS];
    pads[2 * dim + 1] = N - n;
    tg_dtype dt = tg_dtype_of(a);
    v = tg_pad(v, nd, pads, descending ? tg__dtype_min(dt) : tg__dtype_max(dt));
    /* the padding's indices come after every real one: they stay last among equal values */
    ix = tg_add(tg_pad(ix, nd, pads, 0), tg_pad(tg_full(0, TG_INT32, nd, s1), nd, pads, (double)N));
    int k = 0;
    for (int d = 0; d < nd; d++) {
      if (d == dim)
        for (int j = 0; j < st; j++) us[k++] = 2;
      else us[k++] = s1[d];
    }
    v = tg_reshape(v, k, us);
    ix = tg_reshape(ix, k, us);
    for (int stage = 1; stage <= st; stage++) {
      int c = dim + st - stage - 1, nf = stage + (nd - dim);
      if (stage != st) v = tg__sort_cross(v, c, nf), ix = tg__sort_cross(ix, c, nf);
      for (int sub = stage - 1; sub >= 0; sub--) tg__sort_step(&v, &ix, dim + st - sub - 1, descending);
      if (stage != st) v = tg__sort_cross(v, c, nf), ix = tg__sort_cross(ix, c, nf);
    }
    int64_t fs[TG_MAX_DIMS], b[2 * TG_MAX_DIMS];
    for (int d = 0; d < nd; d++) fs[d] = d == dim ? N : s1[d], b[2 * d] = 0, b[2 * d + 1] = s1[d];
    v = tg_shrink(tg_reshape(v, nd, fs), nd, b);
    ix = tg_shrink(tg_reshape(ix, nd, fs), nd, b);
  }
  if (u->ndim == 0) v = tg_reshape(v, 0, NULL), ix = tg_reshape(ix, 0, NULL);
  if (!v || !ix) {
    tg_scope_end();
    return -1;
  }
  if (values) *values = tg_keep(v);
  if (indices) *indices = tg_keep(ix);
  tg_scope_end();
  return 0;
}

tg_tensor *tg_argsort(tg_tensor *a, int axis, int descending) {
  TG__LOCKED();
  tg_tensor *ix = NULL;
  return tg_sort(a, axis, descending, NULL, &ix) == 0 ? ix : NULL;
}

int tg_topk(tg_tensor *a, int64_t k, int axis, int largest, tg_tensor **values, tg_tensor **indices) {
  TG__LOCKED();
  if (values) *values = NULL;
  if (indices) *indices = NULL;
  if (!a) {
    tg__null("tg_topk");
    return -1;
  }
  int nd = a->uop->ndim == 0 ? 1 : a->uop->ndim, dim = tg__axis("tg_topk", axis, nd);
  if (dim < 0) return -1;
  int64_t n = a->uop->ndim == 0 ? 1 : a->uop->shape[dim];
  if (k < 0 || k > n) {
    tg__set_error("tg_topk: k = %lld is out of range for an axis of %lld", (long long)k, (long long)n);
    return -1;
  }
  tg_tensor *v = NULL, *ix = NULL;
  if (tg_sort(a, dim, largest, &v, &ix) < 0) return -1;
  if (a->uop->ndim == 0) {
    if (values) *values = v;
    else tg_free(v);
    if (indices) *indices = ix;
    else tg_free(ix);
    return 0;
  }
  tg_tensor *tv = tg_slice(v, dim, 0, k, 1), *ti = tg_slice(ix, dim, 0, k, 1);
  tg_free(v), tg_free(ix);
  if (values) *values = tv;
  else tg_free(tv);
  if (indices) *indices = ti;
  else tg_free(ti);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// random numbers: threefry2x32 (20 rounds) over a counter, evaluated in the kernels that read it

static uint64_t tg__seed = 0;

/* The counter lives in a one-element uint32 device buffer, as tinygrad's _device_rng_counters: a draw of n numbers
 * reads it and assigns it += n (lazily, realised with whatever realises next). So the kernels of a draw are the same
 * from call to call (nothing recompiles), and a JIT replay, which re-runs the assignment, draws new numbers. Each
 * device has its own counter, made by its first draw: a draw's graph never mixes devices, and a device that cannot
 * hold one (its driver does not load) fails the draw that asked, with the driver's reason.
 *
 * Draws read a snapshot of the counter plus the numbers drawn before them in this period (a constant): one kernel may
 * hold several draws, and changing constants would recompile. The pending assignment writes snapshot + total and is
 * replaced by every draw. The snapshot (a CONTIGUOUS copy, realised with the assignment) is what makes a draw that is
 * realised after the assignment has run still read the value it was built on, not the advanced counter: the counter's
 * buffer is in-place state, and any realisation runs its pending assignment. */
typedef struct tg__rng {
  tg__device *dev;
  tg_tensor *ctr; /* (1,) uint32 on dev, the library's own */
  uint32_t drawn; /* numbers drawn since the counter was last realised */
  tg__uop *snap;  /* this period's snapshot; alive through the pending assignment */
  int key;        /* the device's place among those that drew since the seed (tinygrad's key), -1 before */
} tg__rng;
static tg__rng tg__rngs[16]; /* as many as there can be devices */
static int tg__nrngs, tg__nkeys;

/* tinygrad's per-device key: [the low 32 bits of sha256(i as 4 big-endian bytes), the seed], i the device's place
 * in the order devices first drew since the seed (python: hashlib.sha256(i.to_bytes(4, "big")).digest()) */
static const uint32_t tg__rng_dev_key[16] = {
    0x14b81119u, 0x764f528du, 0xdb12cf1au, 0x0f79f7d3u, 0x900b0937u, 0x3eaa7569u, 0x7c0172cbu, 0x28a3a23bu,
    0x15036943u, 0xdfa285d3u, 0xeae31389u, 0xf888ebe4u, 0x9a1c7059u, 0x4273a435u, 0x5a3336e3u, 0x0f41de35u};

/* dev's counter (dev is the default device: tg_from_data makes it there); NULL with the allocation's error */
static tg__rng *tg__rng_of(tg__device *dev) {
  for (int i = 0; i < tg__nrngs; i++)
    if (tg__rngs[i].dev == dev) return &tg__rngs[i];
  if (tg__nrngs == TG__COUNT(tg__rngs)) {
    tg__set_error("random numbers: more than %d devices", TG__COUNT(tg__rngs));
    return NULL;
  }
  uint32_t zero = 0;
  int64_t one = 1;
  tg_tensor *c = tg_from_data(&zero, TG_UINT32, 1, &one);
  if (!c) return NULL;
  tg__tensor_internal(c);
  tg__rng *r = &tg__rngs[tg__nrngs++];
  memset(r, 0, sizeof *r);
  r->dev = c->dev;
  r->ctr = c;
  r->key = -1;
  return r;
}

void tg_manual_seed(uint64_t seed) {
  TG__LOCKED();
  tg__seed = seed;
  uint32_t zero = 0;
  for (int i = 0; i < tg__nrngs; i++) tg__tensor_overwrite("tg_manual_seed", tg__rngs[i].ctr, &zero);
  for (int i = 0; i < tg__nrngs; i++) tg__rngs[i].key = -1;
  tg__nkeys = 0;
}

/* the counter's value before a draw of n, as a (1,) uint32 node; NULL on error */
static tg__uop *tg__rng_take(tg__rng *r, int64_t n) {
  tg_tensor *c = r->ctr;
  int queued = c->uop->op == TG__OP_ASSIGN;
  tg__uop *cur = queued ? c->uop->src[0] : c->uop;
  if (!queued) {
    r->drawn = 0;
    tg__arg copy; /* a copy, never a view: the assignment below overwrites the counter in the same realisation */
    memset(&copy, 0, sizeof copy);
    copy.i = TG__CONTIGUOUS_COPY;
    r->snap = tg__uop1(TG__OP_CONTIGUOUS, cur->dtype, cur, &copy);
  }
  tg__uop *base = tg__tadds(r->snap, (double)r->drawn);
  r->drawn += (uint32_t)n;
  tg__uop *next = tg__tadds(r->snap, (double)r->drawn);
  if (queued) {
    c->uop = tg__uop2(TG__OP_ASSIGN, cur->dtype, cur, next, NULL);
    return base;
  }
  tg_tensor *v = tg__tensor_wrap(next, c->dev);
  tg_tensor *ok = tg_assign(c, v);
  tg_free(v);
  return ok ? base : NULL;
}

static tg__uop *tg__rotl(tg__uop *x, int r) {
  return tg__talu(TG__OP_OR, tg__talu(TG__OP_SHL, x, tg__c(x, r)), tg__talu(TG__OP_SHR, x, tg__c(x, 32 - r)));
}

/* tinygrad's threefry2x32 (20 rounds) of the pair (x0, x1) under the key (k0, k1), all uint32 nodes of one shape:
 * its two output words, low (*r0) and high (*r1) */
static void tg__threefry(tg__uop *x0, tg__uop *x1, tg__uop *k0, tg__uop *k1, tg__uop **r0, tg__uop **r1) {
  static const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  tg__uop *ks[3] = {k1, tg__talu(TG__OP_XOR, tg__talu(TG__OP_XOR, k0, k1), tg__c(k0, 0x1BD11BDAu)), k0};
  tg__uop *a = tg__tadd(x0, ks[2]), *b = tg__tadd(x1, ks[0]);
  for (int i = 0; i < 5; i++) {
    for (int r = 0; r < 4; r++) {
      a = tg__tadd(a, b);
      b = tg__talu(TG__OP_XOR, a, tg__rotl(b, rot[i % 2][r]));
    }
    a = tg__tadd(a, ks[i % 3]);
    b = tg__tadds(tg__tadd(b, ks[(i + 1) % 3]), (double)(i + 1));
  }
  *r0 = a, *r1 = b;
}

/* n random uint32 words, as tinygrad's random_bits: a key for this draw from the device's key and the counter
 * (threefry of (counter, 0)), then words i < h = ceil(n/2) the low words of threefry(i, i + h) and the rest their
 * high words. The counter's high word is 0 here: the stream equals tinygrad's for the first 2^32 words a device
 * draws after a seed.
 * The draw's key schedule (each round's two key words, with their round constants, and h) is computed once into a
 * buffer of 12 words by a one-element kernel: inside the draw's kernel its constants were lifted out of every sum by
 * the symbolic rules, which then shared nothing (and the key's 20 rounds ran again for every element): 1M floats
 * took 3.1-4.3 ms instead of 1.7-2.5 */
static tg__uop *tg__rand_bits(tg__rng *rng, int64_t n, tg__uop *base) {
  if (rng->key < 0) rng->key = tg__nkeys++ % TG__COUNT(tg__rng_dev_key);
  tg__uop *kd0 = tg__c(base, tg__rng_dev_key[rng->key]), *kd1 = tg__c(base, (double)(uint32_t)tg__seed);
  tg__uop *k0, *k1;
  tg__threefry(base, tg__c(base, 0), kd0, kd1, &k0, &k1);
  int64_t h = (n + 1) / 2;
  /* ks = (k1, k0 ^ k1 ^ C, k0); words: a's initial add, b's (with h: x1 = x0 + h), then per round a's and b's */
  tg__uop *ks[3] = {k1, tg__talu(TG__OP_XOR, tg__talu(TG__OP_XOR, k0, k1), tg__c(k0, 0x1BD11BDAu)), k0}, *w[12];
  w[0] = ks[2], w[1] = tg__tadds(ks[0], (double)h);
  for (int i = 0; i < 5; i++) w[2 + 2 * i] = ks[i % 3], w[3 + 2 * i] = tg__tadds(ks[(i + 1) % 3], (double)(i + 1));
  tg__uop *sched = w[0];
  int64_t len = 12;
  for (int i = 0; i < 12; i++) { /* (12,): word i at position i */
    int64_t pads[2] = {i, 11 - i};
    tg__uop *p = tg__tpad(w[i], pads);
    sched = i ? tg__tadd(sched, p) : p;
  }
  sched = tg__uop1(TG__OP_CONTIGUOUS, sched->dtype, sched, NULL);
  tg__uop *K[12];
  for (int i = 0; i < 12; i++) {
    int64_t b[2] = {i, i + 1};
    K[i] = tg__texpand(tg__tshrink(sched, b), &n);
  }
  (void)len;
  tg__uop *j = tg__tcast(tg__tarange(n, 0, 1, TG_INT32), TG_UINT32);
  tg__uop *hi = tg__tnot(tg__tlt(j, tg__c(j, (double)h))); /* j >= h: the high word of pair j - h */
  tg__uop *c0 = tg__twhere(hi, tg__tsub(j, tg__c(j, (double)h)), j);
  static const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  tg__uop *a = tg__tadd(c0, K[0]), *bb = tg__tadd(c0, K[1]);
  for (int i = 0; i < 5; i++) {
    for (int r = 0; r < 4; r++) {
      a = tg__tadd(a, bb);
      bb = tg__talu(TG__OP_XOR, a, tg__rotl(bb, rot[i % 2][r]));
    }
    a = tg__tadd(a, K[2 + 2 * i]);
    bb = tg__tadd(bb, K[3 + 2 * i]);
  }
  return tg__twhere(hi, bb, a);
}

/* uniform [0, 1) float32 of the given shape: 23 random mantissa bits under the exponent of 1.0, minus 1 (tinygrad's
 * _bits_to_rand); NULL when the counter cannot be advanced */
static tg__uop *tg__trand(tg__rng *rng, int ndim, const int64_t *shape) {
  int64_t n = tg__prod(shape, ndim);
  tg__uop *base = tg__rng_take(rng, n);
  if (!base) return NULL;
  tg__uop *bits = tg__rand_bits(rng, n, base);
  tg__uop *m = tg__talu(TG__OP_OR, tg__talu(TG__OP_SHR, bits, tg__c(bits, 9)), tg__c(bits, 0x3F800000u));
  tg__uop *f = tg__tadds(tg__uop1(TG__OP_BITCAST, TG_FLOAT32, m, NULL), -1.0);
  return tg__treshape(f, ndim, shape);
}

/* uniform [0, 1) of a float dtype of 2 or 8 bytes, as tinygrad's _bits_to_rand: ceil(n size / 4) words drawn and read
 * as n elements of size bytes (little-endian: a word's low half first; a double's low word first), the top mantissa
 * bits of each under the exponent of 1.0, minus 1. float16 and bfloat16 are built as the float32 of the same value
 * (exact), float64 from 64-bit integers. NULL when the counter cannot be advanced */
static tg__uop *tg__trand_bytes(tg__rng *rng, int ndim, const int64_t *shape, tg_dtype dt) {
  int64_t n = tg__prod(shape, ndim), size = tg_dtype_size(dt), words = (n * size + 3) / 4;
  tg__uop *base = tg__rng_take(rng, words);
  if (!base) return NULL;
  tg__uop *bits = tg__rand_bits(rng, words, base), *f;
  if (size == 2) {
    int64_t w2[2] = {words, 2}, w1[2] = {words, 1}, flat = 2 * words, b[2] = {0, n}, one2[2] = {1, 2};
    tg__uop *halves = tg__texpand(tg__treshape(tg__tcast(tg__tarange(2, 0, 16, TG_INT32), TG_UINT32), 2, one2), w2);
    tg__uop *u = tg__talu(TG__OP_SHR, tg__texpand(tg__treshape(bits, 2, w1), w2), halves);
    u = tg__tshrink(tg__treshape(u, 1, &flat), b); /* each half's bits in 16..31 of nothing, 0..15 kept below */
    int nm = dt == TG_BFLOAT16 ? 7 : 10;           /* mantissa bits */
    tg__uop *k = tg__talu(TG__OP_AND, tg__talu(TG__OP_SHR, u, tg__c(u, 16 - nm)), tg__c(u, (1 << nm) - 1));
    tg__uop *m = tg__talu(TG__OP_OR, tg__talu(TG__OP_SHL, k, tg__c(k, 23 - nm)), tg__c(k, 0x3F800000u));
    f = tg__tcast(tg__tadds(tg__uop1(TG__OP_BITCAST, TG_FLOAT32, m, NULL), -1.0), dt);
  } else { /* 8 bytes: words 2i (low) and 2i + 1 (high) */
    int64_t pairs[2] = {n, 2}, lo_b[4] = {0, n, 0, 1}, hi_b[4] = {0, n, 1, 2};
    tg__uop *p = tg__treshape(bits, 2, pairs);
    tg__uop *lo = tg__tcast(tg__treshape(tg__tshrink(p, lo_b), 1, &n), TG_UINT64);
    tg__uop *hi = tg__tcast(tg__treshape(tg__tshrink(p, hi_b), 1, &n), TG_UINT64);
    tg__uop *u = tg__talu(TG__OP_OR, lo, tg__talu(TG__OP_SHL, hi, tg__c(hi, 32)));
    tg__uop *m = tg__talu(TG__OP_OR, tg__talu(TG__OP_SHR, u, tg__c(u, 12)), tg__c(u, 4607182418800017408.0));
    f = tg__tadds(tg__uop1(TG__OP_BITCAST, TG_FLOAT64, m, NULL), -1.0);
  }
  return tg__treshape(f, ndim, shape);
}

/* random tensors are realised once (as tinygrad's contiguous rand), not recomputed by every kernel that reads them
 * (NULL in, NULL out) */
static tg_tensor *tg__rand_wrap(tg__uop *u, tg__rng *rng) {
  return u ? tg__tensor_wrap(tg__uop1(TG__OP_CONTIGUOUS, u->dtype, u, NULL), rng->dev) : NULL;
}

/* Validates a draw, then makes sure it can be built: the default device exists (DEV is looked up at each creation)
 * and holds a counter (a device whose driver cannot load fails here, with the driver's reason). Its counter, or NULL
 * with an error naming fn. */
static tg__rng *tg__check_rand(const char *fn, tg_dtype dt, int ndim, const int64_t *shape, int need_float) {
  if (tg__check_dtype(fn, dt) < 0 || tg__check_shape(fn, ndim, shape) < 0) return NULL;
  if (need_float && !tg_dtype_is_float(dt)) {
    tg__set_error("%s: needs a float dtype, got %s", fn, tg_dtype_name(dt));
    return NULL;
  }
  if (tg__prod(shape, ndim) > 2147483647) {
    tg__set_error("%s: at most 2^31-1 elements", fn);
    return NULL;
  }
  tg__device *dev = tg__default_device(fn);
  tg__rng *rng = dev ? tg__rng_of(dev) : NULL;
  if (dev && !rng) tg__error_context(fn);
  return rng;
}

tg_tensor *tg_rand(tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  tg__rng *rng = tg__check_rand("tg_rand", dt, ndim, shape, 1);
  if (!rng) return NULL;
  int size = tg_dtype_size(dt); /* tinygrad draws the dtype's own bits: 2 or 8 bytes an element */
  return tg__rand_wrap(size == 2 || size == 8 ? tg__trand_bytes(rng, ndim, shape, dt)
                                              : tg__tcast(tg__trand(rng, ndim, shape), dt), rng);
}

tg_tensor *tg_uniform(double low, double high, tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  tg__rng *rng = tg__check_rand("tg_uniform", dt, ndim, shape, 0);
  tg__uop *r = rng ? tg__trand(rng, ndim, shape) : NULL;
  if (!r) return NULL;
  r = tg__tmuls(r, high - low);
  return tg__rand_wrap(tg__tadd(tg__tcast(r, dt), tg__tfull(low, dt, ndim, shape)), rng);
}

/* Box-Muller, as tinygrad's randn: one draw u of (2, shape), cos(2 pi u[0]) * sqrt(-2 log(1 - u[1])) */
static tg__uop *tg__trandn(tg__rng *rng, int ndim, const int64_t *shape) {
  int64_t s2[TG_MAX_DIMS + 1], n = tg__prod(shape, ndim), b[2 * (TG_MAX_DIMS + 1)];
  s2[0] = 2;
  memcpy(s2 + 1, shape, sizeof(int64_t) * (size_t)ndim);
  tg__uop *u = ndim < TG_MAX_DIMS ? tg__trand(rng, ndim + 1, s2) : NULL;
  if (!u) {
    if (ndim >= TG_MAX_DIMS) tg__set_error("randn: at most %d dimensions", TG_MAX_DIMS - 1);
    return NULL;
  }
  int64_t two_n[2] = {2, n};
  u = tg__treshape(u, 2, two_n);
  b[0] = 0, b[1] = 1, b[2] = 0, b[3] = n;
  tg__uop *u1 = tg__treshape(tg__tshrink(u, b), ndim, shape);
  b[0] = 1, b[1] = 2;
  tg__uop *u2 = tg__treshape(tg__tshrink(u, b), ndim, shape);
  tg__uop *c = tg__u_cos(tg__tmuls(u1, 2 * M_PI));
  return tg__tmul(c, tg__tsqrt(tg__tmuls(tg__tlog(tg__tsub(tg__c(u2, 1), u2)), -2)));
}

tg_tensor *tg_randn(tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  tg__rng *rng = tg__check_rand("tg_randn", dt, ndim, shape, 1);
  return rng ? tg__rand_wrap(tg__tcast(tg__trandn(rng, ndim, shape), dt), rng) : NULL;
}

tg_tensor *tg_normal(double mean, double std, tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  tg__rng *rng = tg__check_rand("tg_normal", dt, ndim, shape, 1);
  tg__uop *r = rng ? tg__trandn(rng, ndim, shape) : NULL;
  return r ? tg__rand_wrap(tg__tcast(tg__tadds(tg__tmuls(r, std), mean), dt), rng) : NULL;
}

tg_tensor *tg_randint(int64_t low, int64_t high, tg_dtype dt, int ndim, const int64_t *shape) {
  TG__LOCKED();
  if (high <= low || tg__check_dtype("tg_randint", dt) < 0 || tg_dtype_is_float(dt)) {
    tg__set_error("tg_randint: needs low < high and an integer dtype (got %lld, %lld, %s)", (long long)low,
                  (long long)high, tg_dtype_name(dt));
    return NULL;
  }
  tg__rng *rng = tg__check_rand("tg_randint", dt, ndim, shape, 0);
  tg__uop *r = rng ? tg__trand(rng, ndim, shape) : NULL;
  if (!r) return NULL;
  /* tinygrad's: uniform(low, high) in integers, ((high - low) * rand).cast(dtype) + low, the product in float32 */
  r = tg__tcast(tg__tmuls(r, (double)(float)((double)high - (double)low)), dt);
  return tg__rand_wrap(tg__tadd(r, tg__tfull((double)low, dt, ndim, shape)), rng);
}

tg_tensor *tg_rand_like(tg_tensor *t) {
  TG__LOCKED();
  TG__NEED("tg_rand_like", t);
  return tg_rand(tg__least_float(t->uop->dtype), t->uop->ndim, t->uop->shape);
}
tg_tensor *tg_randn_like(tg_tensor *t) {
  TG__LOCKED();
  TG__NEED("tg_randn_like", t);
  return tg_randn(tg__least_float(t->uop->dtype), t->uop->ndim, t->uop->shape);
}
