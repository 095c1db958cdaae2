/* test_elementwise.c: every elementwise op and activation of api.h against numpy/tinygrad goldens: unary math,
 * special values, binary ops with broadcasting, scalar (_s) ops, pow, where, logical, integer and bitwise ops, casts,
 * bitcasts and the result dtypes of mixed-dtype ops. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_ELEMENTWISE
#include "golden/golden.h"

#define EXACT 1e-6  /* ops that round once: the result may differ from float64-then-round by an ulp */
#define MATH 1e-5   /* exp, log, sin, ...: a few ulps */
#define COMPOSED 1e-4 /* compositions and approximations: erf, gelu, tan, mish, softplus, pow */

// ---------------------------------------------------------------------------------------------------------------------
// unary ops on x = sin(i*0.37)*2.7 or p = 0.1+|cos(i*0.51)|*4, shape (4, 6)

static tg_tensor *op_clip(tg_tensor *a) { return tg_clip(a, -1, 1.5); }
static tg_tensor *op_leaky(tg_tensor *a) { return tg_leaky_relu(a, 0.1); }
static tg_tensor *op_elu(tg_tensor *a) { return tg_elu(a, 1.3); }
static tg_tensor *op_softplus1(tg_tensor *a) { return tg_softplus(a, 1.0); }
static tg_tensor *op_softplus2(tg_tensor *a) { return tg_softplus(a, 2.0); }
static tg_tensor *op_hardtanh(tg_tensor *a) { return tg_hardtanh(a, -0.5, 2.0); }
static tg_tensor *op_celu(tg_tensor *a) { return tg_celu(a, 1.3); }

typedef struct test_unary {
  const char *name;
  tg_tensor *(*fn)(tg_tensor *);
  int on_p; /* the input: 0 x, 1 p (positive), 2 u (inside (-1, 1)), 3 x3 (3x) */
  const float *want;
  double tol;
} test_unary;

static const test_unary test_unaries[] = {
  {"neg", tg_neg, 0, g_ew_neg, 0},
  {"abs", tg_abs, 0, g_ew_abs, 0},
  {"sign", tg_sign, 0, g_ew_sign, 0},
  {"exp", tg_exp, 0, g_ew_exp, MATH},
  {"exp2", tg_exp2, 0, g_ew_exp2, MATH},
  {"sin", tg_sin, 0, g_ew_sin, MATH},
  {"cos", tg_cos, 0, g_ew_cos, MATH},
  {"tan", tg_tan, 0, g_ew_tan, COMPOSED},
  {"erf", tg_erf, 0, g_ew_erf, COMPOSED},
  {"floor", tg_floor, 0, g_ew_floor, 0},
  {"ceil", tg_ceil, 0, g_ew_ceil, 0},
  {"round", tg_round, 0, g_ew_round, 0},
  {"trunc", tg_trunc, 0, g_ew_trunc, 0},
  {"clip", op_clip, 0, g_ew_clip, 0},
  {"square", tg_square, 0, g_ew_square, EXACT},
  {"reciprocal", tg_reciprocal, 0, g_ew_reciprocal, EXACT},
  {"log", tg_log, 1, g_ew_log, MATH},
  {"log2", tg_log2, 1, g_ew_log2, MATH},
  {"sqrt", tg_sqrt, 1, g_ew_sqrt, EXACT},
  {"rsqrt", tg_rsqrt, 1, g_ew_rsqrt, MATH},
  {"sigmoid", tg_sigmoid, 0, g_ew_sigmoid, MATH},
  {"tanh", tg_tanh, 0, g_ew_tanh, MATH},
  {"relu", tg_relu, 0, g_ew_relu, 0},
  {"leaky_relu", op_leaky, 0, g_ew_leaky_relu, EXACT},
  {"elu", op_elu, 0, g_ew_elu, MATH},
  {"gelu", tg_gelu, 0, g_ew_gelu, COMPOSED},
  {"quick_gelu", tg_quick_gelu, 0, g_ew_quick_gelu, MATH},
  {"silu", tg_silu, 0, g_ew_silu, MATH},
  {"softplus", op_softplus1, 0, g_ew_softplus, COMPOSED},
  {"softplus(beta=2)", op_softplus2, 0, g_ew_softplus2, COMPOSED},
  {"mish", tg_mish, 0, g_ew_mish, COMPOSED},
  {"hardtanh", op_hardtanh, 0, g_ew_hardtanh, 0},
  {"hardsigmoid", tg_hardsigmoid, 0, g_ew_hardsigmoid, EXACT},
  {"hardswish", tg_hardswish, 0, g_ew_hardswish, EXACT},
  {"celu", op_celu, 0, g_ew_celu, MATH},
  {"selu", tg_selu, 0, g_ew_selu, MATH},
  {"relu6", tg_relu6, 3, g_ew_relu6, 0},
  {"logsigmoid", tg_logsigmoid, 0, g_ew_logsigmoid, MATH},
  {"softsign", tg_softsign, 0, g_ew_softsign, EXACT},
  {"sinh", tg_sinh, 0, g_ew_sinh, MATH},
  {"cosh", tg_cosh, 0, g_ew_cosh, MATH},
  {"asin", tg_asin, 2, g_ew_asin, COMPOSED},
  {"acos", tg_acos, 2, g_ew_acos, COMPOSED},
  {"atan", tg_atan, 3, g_ew_atan, COMPOSED},
  {"log10", tg_log10, 1, g_ew_log10, MATH},
  {"gelu_erf", tg_gelu_erf, 0, g_ew_gelu_erf, COMPOSED},
};

TEST(test_ew_unary) {
  tg_scope_begin();
  tg_tensor *in[4] = {TEST_F32(g_ew_x, 4, 6), TEST_F32(g_ew_p, 4, 6), TEST_F32(g_ew_u, 4, 6),
                      TEST_F32(g_ew_x3, 4, 6)};
  tg_tensor *x = in[0];
  for (int i = 0; i < TEST_COUNT(test_unaries); i++) {
    const test_unary *u = &test_unaries[i];
    tg_tensor *r = u->fn(in[u->on_p]);
    if (!CHECK_TENSOR(r, u->want, u->tol, 4, 6)) printf("  op: %s\n", u->name);
  }
  /* float ops keep float32 */
  CHECK_DTYPE(tg_exp(x), TG_FLOAT32);
  CHECK_DTYPE(tg_sigmoid(x), TG_FLOAT32);
  tg_scope_end();
}

/* the same ops on a strided view: x transposed, then back */
TEST(test_ew_unary_on_views) {
  tg_scope_begin();
  tg_tensor *xt = tg_transpose(TEST_F32(g_ew_x, 4, 6), 0, 1); /* (6, 4), not contiguous */
  CHECK_TENSOR(tg_transpose(tg_exp(xt), 0, 1), g_ew_exp, MATH, 4, 6);
  CHECK_TENSOR(tg_transpose(tg_gelu(xt), 0, 1), g_ew_gelu, COMPOSED, 4, 6);
  CHECK_TENSOR(tg_transpose(tg_contiguous(tg_neg(xt)), 0, 1), g_ew_neg, 0, 4, 6);
  tg_scope_end();
}

TEST(test_ew_special_values) {
  tg_scope_begin();
  tg_tensor *s = TEST_F32(g_ew_special, 10);
  CHECK_TENSOR(tg_exp(s), g_ew_special_exp, MATH, 10);
  CHECK_TENSOR(tg_log(s), g_ew_special_log, MATH, 10);
  CHECK_TENSOR(tg_sqrt(s), g_ew_special_sqrt, EXACT, 10);
  CHECK_TENSOR(tg_abs(s), g_ew_special_abs, 0, 10);
  CHECK_TENSOR(tg_sigmoid(s), g_ew_special_sigmoid, MATH, 10);
  CHECK_TENSOR(tg_tanh(s), g_ew_special_tanh, MATH, 10);
  CHECK_TENSOR(tg_floor(s), g_ew_special_floor, 0, 10);
  CHECK_TENSOR(tg_neg(s), g_ew_special_neg, 0, 10);
  CHECK_RAW(tg_isnan(s), TG_BOOL, g_ew_isnan, 10);
  CHECK_RAW(tg_isfinite(s), TG_BOOL, g_ew_isfinite, 10);
  /* past tinygrad's: atan(+-inf) is +-pi/2 (tinygrad's asin(inf / inf) is NaN); asin outside [-1, 1] is NaN */
  float inf4[4] = {INFINITY, -INFINITY, 1e30f, -1e30f}, half_pi = 1.5707963705062866f;
  float want_atan[4] = {half_pi, -half_pi, half_pi, -half_pi};
  CHECK_TENSOR(tg_atan(TEST_F32(inf4, 4)), want_atan, EXACT, 4);
  float out2[2] = {1.5f, -2.0f}, nan2[2] = {NAN, NAN};
  CHECK_TENSOR(tg_asin(TEST_F32(out2, 2)), nan2, 0, 2);
  int32_t ints[3] = {-5, 0, 7};
  uint8_t all_finite[3] = {1, 1, 1};
  CHECK_RAW(tg_isfinite(TEST_DATA(ints, TG_INT32, 3)), TG_BOOL, all_finite, 3);
  CHECK_RAW(tg_isinf(s), TG_BOOL, g_ew_isinf, 10);
  /* -0.0 keeps its sign through neg and abs (bit patterns) */
  static const float mz = -0.0f, pz = 0.0f;
  static const float zero_in[1] = {0.0f}, mzero_in[1] = {-0.0f};
  CHECK_RAW(tg_neg(TEST_F32(zero_in, 1)), TG_FLOAT32, &mz, 1);
  CHECK_RAW(tg_abs(TEST_F32(mzero_in, 1)), TG_FLOAT32, &pz, 1);
  tg_scope_end();
}

TEST(test_ew_round_half_even) {
  tg_scope_begin();
  tg_tensor *r = TEST_F32(g_ew_round_in, 12);
  CHECK_TENSOR(tg_round(r), g_ew_round_ties, 0, 12);
  CHECK_DTYPE(tg_round(r), TG_FLOAT32);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// binary ops, broadcasting, scalar ops

TEST(test_ew_binary) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_ew_x, 4, 6), *y = TEST_F32(g_ew_y, 4, 6);
  CHECK_TENSOR(tg_add(x, y), g_ew_add, EXACT, 4, 6);
  CHECK_TENSOR(tg_sub(x, y), g_ew_sub, EXACT, 4, 6);
  CHECK_TENSOR(tg_mul(x, y), g_ew_mul, EXACT, 4, 6);
  CHECK_TENSOR(tg_div(x, y), g_ew_div, EXACT, 4, 6);
  CHECK_TENSOR(tg_maximum(x, y), g_ew_maximum, 0, 4, 6);
  CHECK_TENSOR(tg_minimum(x, y), g_ew_minimum, 0, 4, 6);
  CHECK_RAW(tg_lt(x, y), TG_BOOL, g_ew_lt, 4, 6);
  CHECK_RAW(tg_le(x, y), TG_BOOL, g_ew_le, 4, 6);
  CHECK_RAW(tg_gt(x, y), TG_BOOL, g_ew_gt, 4, 6);
  CHECK_RAW(tg_ge(x, y), TG_BOOL, g_ew_ge, 4, 6);
  CHECK_RAW(tg_eq(x, y), TG_BOOL, g_ew_eq, 4, 6);
  CHECK_RAW(tg_ne(x, y), TG_BOOL, g_ew_ne, 4, 6);
  /* an op with itself */
  static const float zeros[24] = {0};
  CHECK_TENSOR(tg_sub(x, x), zeros, 0, 4, 6);
  tg_scope_end();
}

TEST(test_ew_broadcast) {
  tg_scope_begin();
  tg_tensor *c = TEST_F32(g_ew_c31, 3, 1), *r = TEST_F32(g_ew_r14, 1, 4);
  CHECK_TENSOR(tg_add(c, r), g_ew_bc_add, EXACT, 3, 4);
  CHECK_TENSOR(tg_sub(c, r), g_ew_bc_sub, EXACT, 3, 4);
  CHECK_TENSOR(tg_mul(c, r), g_ew_bc_mul, EXACT, 3, 4);
  CHECK_TENSOR(tg_div(c, r), g_ew_bc_div, EXACT, 3, 4);
  CHECK_TENSOR(tg_sub(r, c), g_ew_bc_sub_rev, EXACT, 3, 4);
  tg_tensor *b = TEST_F32(g_ew_b234, 2, 3, 4);
  CHECK_TENSOR(tg_add(b, TEST_F32(g_ew_v4, 4)), g_ew_bc3_add, EXACT, 2, 3, 4);       /* (2,3,4) + (4,) */
  CHECK_TENSOR(tg_add(TEST_F32(g_ew_v4, 4), b), g_ew_bc3_add, EXACT, 2, 3, 4);       /* (4,) + (2,3,4) */
  CHECK_TENSOR(tg_mul(b, TEST_F32(g_ew_v4, 1, 1, 4)), g_ew_bc3_mul, EXACT, 2, 3, 4); /* (2,3,4) * (1,1,4) */
  /* a 0-d tensor broadcasts against anything */
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = g_ew_b234[i] * 2.5f;
  CHECK_TENSOR(tg_mul(b, tg_scalar(2.5, TG_FLOAT32)), want, EXACT, 2, 3, 4);
  tg_scope_end();
}

typedef struct test_scalar_op {
  const char *name;
  tg_tensor *(*fn)(tg_tensor *);
  int on_p;
  const float *want;
  double tol;
} test_scalar_op;

static tg_tensor *op_add_s(tg_tensor *a) { return tg_add_s(a, 2.5); }
static tg_tensor *op_sub_s(tg_tensor *a) { return tg_sub_s(a, 2.5); }
static tg_tensor *op_rsub_s(tg_tensor *a) { return tg_rsub_s(1.0, a); }
static tg_tensor *op_mul_s(tg_tensor *a) { return tg_mul_s(a, -3.0); }
static tg_tensor *op_div_s(tg_tensor *a) { return tg_div_s(a, 4.0); }
static tg_tensor *op_rdiv_s(tg_tensor *a) { return tg_rdiv_s(2.0, a); }
static tg_tensor *op_maximum_s(tg_tensor *a) { return tg_maximum_s(a, 0.5); }
static tg_tensor *op_minimum_s(tg_tensor *a) { return tg_minimum_s(a, -0.5); }
static tg_tensor *op_pow_s2(tg_tensor *a) { return tg_pow_s(a, 2); }
static tg_tensor *op_pow_s05(tg_tensor *a) { return tg_pow_s(a, 0.5); }
static tg_tensor *op_pow_sm1(tg_tensor *a) { return tg_pow_s(a, -1); }
static tg_tensor *op_pow_s3(tg_tensor *a) { return tg_pow_s(a, 3); }
static tg_tensor *op_pow_s0(tg_tensor *a) { return tg_pow_s(a, 0); }
static tg_tensor *op_pow_s15(tg_tensor *a) { return tg_pow_s(a, 1.5); }

static const test_scalar_op test_scalar_ops[] = {
  {"add_s(x, 2.5)", op_add_s, 0, g_ew_add_s, EXACT},
  {"sub_s(x, 2.5)", op_sub_s, 0, g_ew_sub_s, EXACT},
  {"rsub_s(1, x)", op_rsub_s, 0, g_ew_rsub_s, EXACT},
  {"mul_s(x, -3)", op_mul_s, 0, g_ew_mul_s, EXACT},
  {"div_s(x, 4)", op_div_s, 0, g_ew_div_s, EXACT},
  {"rdiv_s(2, p)", op_rdiv_s, 1, g_ew_rdiv_s, EXACT},
  {"maximum_s(x, 0.5)", op_maximum_s, 0, g_ew_maximum_s, 0},
  {"minimum_s(x, -0.5)", op_minimum_s, 0, g_ew_minimum_s, 0},
  {"pow_s(x, 2)", op_pow_s2, 0, g_ew_pow_s2, COMPOSED},
  {"pow_s(p, 0.5)", op_pow_s05, 1, g_ew_pow_s05, COMPOSED},
  {"pow_s(p, -1)", op_pow_sm1, 1, g_ew_pow_sm1, COMPOSED},
  {"pow_s(x, 3): negative bases", op_pow_s3, 0, g_ew_pow_s3, COMPOSED},
  {"pow_s(x, 0): 0**0 = 1", op_pow_s0, 0, g_ew_pow_s0, 0},
  {"pow_s(p, 1.5)", op_pow_s15, 1, g_ew_pow_s15, COMPOSED},
};

TEST(test_ew_scalar_ops) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_ew_x, 4, 6), *p = TEST_F32(g_ew_p, 4, 6);
  for (int i = 0; i < TEST_COUNT(test_scalar_ops); i++) {
    const test_scalar_op *s = &test_scalar_ops[i];
    if (!CHECK_TENSOR(s->fn(s->on_p ? p : x), s->want, s->tol, 4, 6)) printf("  op: %s\n", s->name);
  }
  CHECK_RAW(tg_lt_s(x, 0), TG_BOOL, g_ew_lt_s, 4, 6);
  CHECK_RAW(tg_gt_s(x, 1), TG_BOOL, g_ew_gt_s, 4, 6);
  static const int32_t iv[5] = {3, -1, 3, 0, 7};
  static const uint8_t eq3[5] = {1, 0, 1, 0, 0};
  CHECK_RAW(tg_eq_s(TEST_DATA(iv, TG_INT32, 5), 3), TG_BOOL, eq3, 5);
  tg_scope_end();
}

/* integer tensors with python scalars (tinygrad's types and values): the missing _s forms, and tg_binop_s's python
 * float (TG_SCALAR_FLOAT: int_tensor * 3.0 is float32 where int_tensor * 3 stays int32) and reversed operands */
TEST(test_ew_scalar_int_semantics) {
  tg_scope_begin();
  tg_tensor *i = TEST_DATA(g_ew_si, TG_INT32, 6);
  CHECK_RAW(tg_floordiv_s(i, 3), TG_INT32, g_ew_floordiv_s, 6);
  CHECK_RAW(tg_mod_s(i, -4), TG_INT32, g_ew_mod_s, 6);
  CHECK_RAW(tg_le_s(i, 2), TG_BOOL, g_ew_le_s, 6);
  CHECK_RAW(tg_ge_s(i, 0), TG_BOOL, g_ew_ge_s, 6);
  CHECK_RAW(tg_ne_s(i, 5), TG_BOOL, g_ew_ne_s, 6);
  CHECK_RAW(tg_bitwise_and_s(i, 6), TG_INT32, g_ew_and_s, 6);
  CHECK_RAW(tg_bitwise_or_s(i, 3), TG_INT32, g_ew_or_s, 6);
  CHECK_RAW(tg_bitwise_xor_s(i, -2), TG_INT32, g_ew_xor_s, 6);
  static const int32_t e[6] = {2, 3, 0, 2, 0, 4}; /* |si| % 5 */
  CHECK_RAW(tg_rpow_s(2, TEST_DATA(e, TG_INT32, 6)), TG_INT32, g_ew_rpow_s, 6);
  CHECK_RAW(tg_mul_s(i, 3), TG_INT32, g_ew_mul_s3, 6);
  CHECK_RAW(tg_mul_s(i, 3.0), TG_INT32, g_ew_mul_s3, 6); /* a whole double is an int */
  CHECK_TENSOR(tg_binop_s(i, TG_OP_MUL, 3.0, TG_SCALAR_FLOAT), g_ew_mul_f3, 0, 6);
  CHECK_DTYPE(tg_binop_s(i, TG_OP_MUL, 3.0, TG_SCALAR_FLOAT), TG_FLOAT32);
  CHECK_TENSOR(tg_binop_s(i, TG_OP_ADD, 0.5, 0), g_ew_add_f, 0, 6);
  CHECK_TENSOR(tg_binop_s(i, TG_OP_SUB, 1.0, TG_SCALAR_FLOAT | TG_SCALAR_REVERSE), g_ew_rsub_f, 0, 6);
  CHECK_TENSOR(tg_binop_s(i, TG_OP_POW, 2.0, TG_SCALAR_FLOAT), g_ew_pow_f, 0, 6);
  CHECK_DTYPE(tg_binop_s(i, TG_OP_POW, 2.0, TG_SCALAR_FLOAT), TG_FLOAT32);
  /* a float16 tensor keeps float16 next to a python float */
  CHECK_DTYPE(tg_binop_s(tg_cast(i, TG_FLOAT16), TG_OP_MUL, 3.0, TG_SCALAR_FLOAT), TG_FLOAT16);
  /* errors: int ** -1 (tinygrad's "base needs to be float"), a fractional bitwise scalar, a bad op or flag */
  CHECK(tg_pow_s(i, -1) == NULL && strstr(tg_error(), "base needs to be float"));
  CHECK(tg_binop_s(i, TG_OP_POW, -2, 0) == NULL && strstr(tg_error(), "base needs to be float"));
  CHECK(tg_rpow_s(-2, i) == NULL && strstr(tg_error(), "base needs to be float"));
  CHECK(tg_pow_s(tg_cast(i, TG_FLOAT32), -1) != NULL);
  CHECK(tg_bitwise_and_s(i, 1.5) == NULL && strstr(tg_error(), "whole"));
  CHECK(tg_bitwise_or_s(tg_cast(i, TG_FLOAT32), 1) == NULL && strstr(tg_error(), "integer or bool"));
  CHECK(tg_binop_s(i, 99, 1, 0) == NULL && strstr(tg_error(), "op 99"));
  CHECK(tg_binop_s(i, TG_OP_ADD, 1, 8) == NULL && strstr(tg_error(), "flags 8"));
  CHECK(tg_binop_s(NULL, TG_OP_ADD, 1, 0) == NULL);
  /* sign(NaN) is NaN (numpy, PyTorch; tinygrad gives 1) */
  static const float nanv[1] = {NAN};
  float *sg = tg_to_float(tg_sign(TEST_F32(nanv, 1)));
  CHECK(sg && sg[0] != sg[0]);
  free(sg);
  tg_scope_end();
}

TEST(test_ew_pow) {
  tg_scope_begin();
  tg_tensor *b = TEST_F32(g_ew_pow_base, 6, 1), *e = TEST_F32(g_ew_pow_exp, 1, 7);
  CHECK_TENSOR(tg_pow(b, e), g_ew_pow, COMPOSED, 6, 7); /* includes (-2)**3 = -8, (-2)**-1 = -0.5, (-2)**0.5 = nan */
  /* integer tensors: exact integer results, int dtype */
  static const int32_t ib[4] = {2, 3, -2, 5}, ie[4] = {3, 2, 3, 0}, ip[4] = {8, 9, -8, 1};
  CHECK_RAW(tg_pow(TEST_DATA(ib, TG_INT32, 4), TEST_DATA(ie, TG_INT32, 4)), TG_INT32, ip, 4);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// where, logical ops

TEST(test_ew_where) {
  tg_scope_begin();
  tg_tensor *x = TEST_F32(g_ew_x, 4, 6), *y = TEST_F32(g_ew_y, 4, 6);
  tg_tensor *cond = tg_gt(x, y);
  CHECK_TENSOR(tg_where(cond, x, y), g_ew_where, 0, 4, 6);
  CHECK_TENSOR(tg_where_s(cond, 1.5, -2), g_ew_where_s, 0, 4, 6);
  /* cond (4,1), a (1,6), b 0-d: the result is (4,6) */
  tg_tensor *c41 = TEST_DATA(g_ew_c41, TG_BOOL, 4, 1);
  CHECK_TENSOR(tg_where(c41, TEST_F32(g_ew_a16, 1, 6), tg_scalar(-1, TG_FLOAT32)), g_ew_where_bc, 0, 4, 6);
  /* a float condition counts non-zero as true */
  static const float fc[4] = {0, 2, -0.5, 0}, w1[4] = {7, 1, 1, 7};
  CHECK_TENSOR(tg_where_s(tg_ne(TEST_F32(fc, 4), tg_scalar(0, TG_FLOAT32)), 1, 7), w1, 0, 4);
  tg_scope_end();
}

TEST(test_ew_logical) {
  tg_scope_begin();
  tg_tensor *a = TEST_DATA(g_ew_ba, TG_BOOL, 4), *b = TEST_DATA(g_ew_bb, TG_BOOL, 4);
  CHECK_RAW(tg_logical_and(a, b), TG_BOOL, g_ew_land, 4);
  CHECK_RAW(tg_logical_or(a, b), TG_BOOL, g_ew_lor, 4);
  CHECK_RAW(tg_logical_not(a), TG_BOOL, g_ew_lnot, 4);
  CHECK_RAW(tg_logical_not(tg_logical_not(a)), TG_BOOL, g_ew_ba, 4);
  /* logical_not of constant tensors (the compiler may fold them) */
  static const uint8_t f3[3] = {0, 0, 0}, t3[3] = {1, 1, 1};
  CHECK_RAW(tg_logical_not(tg_full(1, TG_BOOL, TG_SHAPE(3))), TG_BOOL, f3, 3);
  CHECK_RAW(tg_logical_not(tg_full(0, TG_BOOL, TG_SHAPE(3))), TG_BOOL, t3, 3);
  CHECK_RAW(tg_logical_not(tg_gt_s(tg_full(5, TG_FLOAT32, TG_SHAPE(3)), 1)), TG_BOOL, f3, 3);
  /* bool + bool is bool (logical or), as in tinygrad */
  CHECK_RAW(tg_add(a, b), TG_BOOL, g_ew_lor, 4);
  tg_scope_end();
}

/* copysign (negative zeros, infinities; a NaN sign counts as positive, as tinygrad's b < 0 or 1/b < 0), logaddexp,
 * lerp with a scalar, a tensor and a uint8 image's weights */
TEST(test_ew_copysign_logaddexp_lerp) {
  tg_scope_begin();
  CHECK_TENSOR(tg_copysign(TEST_F32(g_ew_ca, 8), TEST_F32(g_ew_cb, 8)), g_ew_copysign, 0, 8);
  tg_tensor *x = TEST_F32(g_ew_x, 4, 6), *y = TEST_F32(g_ew_y, 4, 6), *w = TEST_F32(g_ew_w, 4, 6);
  CHECK_TENSOR(tg_logaddexp(x, y), g_ew_logaddexp, MATH, 4, 6);
  CHECK_TENSOR(tg_lerp_s(x, y, 0.3), g_ew_lerp_s, EXACT, 4, 6);
  CHECK_TENSOR(tg_lerp(x, y, w), g_ew_lerp, EXACT, 4, 6);
  tg_tensor *u8 = tg_lerp(TEST_DATA(g_ew_la, TG_UINT8, 8), TEST_DATA(g_ew_lb, TG_UINT8, 8), TEST_F32(g_ew_lw, 8));
  CHECK_RAW(u8, TG_UINT8, g_ew_lerp_u8, 8);
  /* broadcast: a row of weights over (4, 6) */
  tg_tensor *row = tg_reshape(tg_shrink(w, 2, (int64_t[]){0, 1, 0, 6}), TG_SHAPE(6));
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = g_ew_x[i] + (g_ew_y[i] - g_ew_x[i]) * g_ew_w[i % 6];
  CHECK_TENSOR(tg_lerp(x, y, row), want, EXACT, 4, 6);
  CHECK(tg_lerp(x, y, TEST_F32(g_ew_lw, 8)) == NULL && strstr(tg_error(), "tg_lerp"));
  CHECK(tg_copysign(x, NULL) == NULL);
  CHECK(tg_celu(x, 0) == NULL && strstr(tg_error(), "alpha"));
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// integer ops: python floordiv and mod, true division, bitwise, shifts

TEST(test_ew_floordiv_mod) {
  tg_scope_begin();
  tg_tensor *a = TEST_DATA(g_ew_ia, TG_INT32, 15, 1), *b = TEST_DATA(g_ew_ib, TG_INT32, 1, 6);
  CHECK_RAW(tg_floordiv(a, b), TG_INT32, g_ew_floordiv, 15, 6);
  CHECK_RAW(tg_mod(a, b), TG_INT32, g_ew_mod, 15, 6);
  tg_tensor *a8 = TEST_DATA(g_ew_i8a, TG_INT8, 8), *b8 = TEST_DATA(g_ew_i8b, TG_INT8, 8);
  CHECK_RAW(tg_floordiv(a8, b8), TG_INT8, g_ew_floordiv8, 8);
  CHECK_RAW(tg_mod(a8, b8), TG_INT8, g_ew_mod8, 8);
  tg_tensor *fa = TEST_F32(g_ew_fa, 13, 1), *fb = TEST_F32(g_ew_fb, 1, 4);
  CHECK_TENSOR(tg_floordiv(fa, fb), g_ew_ffloordiv, 0, 13, 4);
  CHECK_TENSOR(tg_mod(fa, fb), g_ew_fmod, EXACT, 13, 4);
  /* rounding modes: C's truncation and python's floor on integers, the float quotient's trunc / floor on floats */
  CHECK_RAW(tg_div_mode(a, b, TG_DIV_TRUNC), TG_INT32, g_ew_idiv_trunc, 15, 6);
  CHECK_RAW(tg_div_mode(a, b, TG_DIV_FLOOR), TG_INT32, g_ew_floordiv, 15, 6);
  CHECK_TENSOR(tg_div_mode(a, b, TG_DIV_TRUE), g_ew_idiv, EXACT, 15, 6);
  CHECK_TENSOR(tg_div_mode(fa, fb, TG_DIV_TRUNC), g_ew_fdiv_trunc, 0, 13, 4);
  CHECK_TENSOR(tg_div_mode(fa, fb, TG_DIV_FLOOR), g_ew_fdiv_floor, 0, 13, 4);
  CHECK(tg_div_mode(fa, fb, 7) == NULL && strstr(tg_error(), "rounding 7"));
  /* fmod: the dividend's sign */
  CHECK_RAW(tg_fmod(a, b), TG_INT32, g_ew_ifmod, 15, 6);
  CHECK_TENSOR(tg_fmod(fa, fb), g_ew_ffmod, EXACT, 13, 4);
  /* int / int is true division, float32 */
  tg_tensor *d = tg_div(a, b);
  CHECK_TENSOR(d, g_ew_idiv, EXACT, 15, 6);
  CHECK_DTYPE(d, TG_FLOAT32);
  tg_scope_end();
}

TEST(test_ew_bitwise) {
  tg_scope_begin();
  tg_tensor *a = TEST_DATA(g_ew_wa, TG_INT32, 8), *b = TEST_DATA(g_ew_wb, TG_INT32, 8);
  CHECK_RAW(tg_bitwise_and(a, b), TG_INT32, g_ew_band, 8);
  CHECK_RAW(tg_bitwise_or(a, b), TG_INT32, g_ew_bor, 8);
  CHECK_RAW(tg_bitwise_xor(a, b), TG_INT32, g_ew_bxor, 8);
  CHECK_RAW(tg_bitwise_not(a), TG_INT32, g_ew_bnot, 8);
  tg_tensor *u = TEST_DATA(g_ew_u8, TG_UINT8, 6);
  CHECK_RAW(tg_bitwise_not(u), TG_UINT8, g_ew_u8_not, 6);
  CHECK_RAW(tg_lshift(u, 2), TG_UINT8, g_ew_u8_shl2, 6);
  CHECK_RAW(tg_rshift(u, 3), TG_UINT8, g_ew_u8_shr3, 6);
  tg_tensor *s = TEST_DATA(g_ew_sh, TG_INT32, 8);
  CHECK_RAW(tg_lshift(s, 3), TG_INT32, g_ew_shl3, 8);
  CHECK_RAW(tg_rshift(s, 1), TG_INT32, g_ew_shr1, 8);
  /* bitwise ops on bools are logical */
  tg_tensor *ba = TEST_DATA(g_ew_ba, TG_BOOL, 4), *bb = TEST_DATA(g_ew_bb, TG_BOOL, 4);
  CHECK_RAW(tg_bitwise_and(ba, bb), TG_BOOL, g_ew_land, 4);
  CHECK_RAW(tg_bitwise_or(ba, bb), TG_BOOL, g_ew_lor, 4);
  tg_scope_end();
}

TEST(test_ew_integer_arith) {
  tg_scope_begin();
  static const int32_t a[5] = {7, -3, 100000, -2147483647, 0}, b[5] = {5, 4, 30000, -1, -9};
  static const int32_t sum[5] = {12, 1, 130000, INT32_MIN, -9}, prod[5] = {35, -12, -1294967296, 2147483647, 0};
  tg_tensor *ta = TEST_DATA(a, TG_INT32, 5), *tb = TEST_DATA(b, TG_INT32, 5);
  CHECK_RAW(tg_add(ta, tb), TG_INT32, sum, 5);
  CHECK_RAW(tg_mul(ta, tb), TG_INT32, prod, 5); /* wraps like C's int32 on two's complement */
  static const int32_t mx[5] = {7, 4, 100000, -1, 0}, ab[5] = {7, 3, 100000, 2147483647, 0};
  CHECK_RAW(tg_maximum(ta, tb), TG_INT32, mx, 5);
  CHECK_RAW(tg_abs(ta), TG_INT32, ab, 5);
  static const int32_t neg[5] = {-7, 3, -100000, 2147483647, 0}, sg[5] = {1, -1, 1, -1, 0};
  CHECK_RAW(tg_neg(ta), TG_INT32, neg, 5);
  CHECK_RAW(tg_sign(ta), TG_INT32, sg, 5);
  static const int32_t a2[5] = {10, 0, 100003, -2147483644, 3}; /* scalar ops keep the int dtype */
  CHECK_RAW(tg_add_s(ta, 3), TG_INT32, a2, 5);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// casts and bitcasts

TEST(test_ew_cast) {
  tg_scope_begin();
  tg_tensor *f = TEST_F32(g_ew_cast_in, 8);
  CHECK_RAW(tg_cast(f, TG_INT32), TG_INT32, g_ew_cast_i32, 8); /* truncation toward 0 */
  CHECK_RAW(tg_cast(f, TG_BOOL), TG_BOOL, g_ew_cast_bool, 8);
  CHECK_RAW(tg_cast(TEST_F32(g_ew_castu_in, 5), TG_UINT8), TG_UINT8, g_ew_cast_u8, 5);
  { /* out of range (undefined in C): wrapped through int64, as numpy's astype gives them (numpy 2.4, x86-64) */
    static const float in[8] = {-5.0f, -1.0f, -0.5f, 3.7f, 255.9f, 256.0f, 300.0f, -300.0f};
    static const uint8_t u8[8] = {251, 255, 0, 3, 255, 0, 44, 212};
    static const uint16_t u16[8] = {65531, 65535, 0, 3, 255, 256, 300, 65236};
    static const uint32_t u32[8] = {4294967291u, 4294967295u, 0, 3, 255, 256, 300, 4294966996u};
    CHECK_RAW(tg_cast(TEST_F32(in, 8), TG_UINT8), TG_UINT8, u8, 8);
    CHECK_RAW(tg_cast(TEST_F32(in, 8), TG_UINT16), TG_UINT16, u16, 8);
    CHECK_RAW(tg_cast(TEST_F32(in, 8), TG_UINT32), TG_UINT32, u32, 8);
  }
  CHECK_RAW(tg_cast(TEST_DATA(g_ew_casti_in, TG_INT32, 5), TG_FLOAT32), TG_FLOAT32, g_ew_cast_f32, 5);
  /* float32 -> float16 / bfloat16: round to nearest even, overflow to inf, subnormals */
  tg_tensor *h = tg_cast(TEST_F32(g_ew_half_in, 13), TG_FLOAT16);
  CHECK_RAW(h, TG_FLOAT16, g_ew_half_bits, 13);
  CHECK_TENSOR(tg_cast(h, TG_FLOAT32), g_ew_half_vals, 0, 13);
  tg_tensor *bf = tg_cast(TEST_F32(g_ew_bf16_in, 10), TG_BFLOAT16);
  CHECK_RAW(bf, TG_BFLOAT16, g_ew_bf16_bits, 10);
  CHECK_TENSOR(tg_cast(bf, TG_FLOAT32), g_ew_bf16_vals, 0, 10);
  /* float16 -> int, bool -> float, int8 -> int32 sign extension, uint8 -> int32 zero extension */
  /* element 6 (65520 -> inf) has no int value: compare the others with the truncated float16 values */
  int32_t got[13];
  CHECK_EQ_INT(tg_to_host(tg_cast(h, TG_INT32), got, sizeof got), 0);
  int same = 1;
  for (int i = 0; i < 13; i++) same &= i == 6 || got[i] == (int32_t)g_ew_half_vals[i];
  CHECK(same);
  static const uint8_t bv[3] = {1, 0, 1};
  static const float bf_want[3] = {1, 0, 1};
  CHECK_RAW(tg_cast(TEST_DATA(bv, TG_BOOL, 3), TG_FLOAT32), TG_FLOAT32, bf_want, 3);
  static const int8_t i8[4] = {-128, -1, 0, 127};
  static const int32_t i8w[4] = {-128, -1, 0, 127};
  CHECK_RAW(tg_cast(TEST_DATA(i8, TG_INT8, 4), TG_INT32), TG_INT32, i8w, 4);
  static const uint8_t u8[4] = {0, 1, 128, 255};
  static const int32_t u8w[4] = {0, 1, 128, 255};
  CHECK_RAW(tg_cast(TEST_DATA(u8, TG_UINT8, 4), TG_INT32), TG_INT32, u8w, 4);
  static const int32_t wide[4] = {256, 257, -1, 1000};
  static const uint8_t narrow[4] = {0, 1, 255, 232}; /* int32 -> uint8 keeps the low byte */
  CHECK_RAW(tg_cast(TEST_DATA(wide, TG_INT32, 4), TG_UINT8), TG_UINT8, narrow, 4);
  static const double dd[2] = {0.1, 1e300};
  static const float df[2] = {0.1f, INFINITY};
  CHECK_RAW(tg_cast(TEST_DATA(dd, TG_FLOAT64, 2), TG_FLOAT32), TG_FLOAT32, df, 2);
  static const double fd[2] = {(double)0.1f, -2.5};
  static const float fdin[2] = {0.1f, -2.5f};
  CHECK_RAW(tg_cast(TEST_F32(fdin, 2), TG_FLOAT64), TG_FLOAT64, fd, 2);
  tg_scope_end();
}

TEST(test_ew_bitcast) {
  tg_scope_begin();
  tg_tensor *f = TEST_F32(g_ew_bitcast_in, 8);
  tg_tensor *i = tg_bitcast(f, TG_INT32);
  CHECK_RAW(i, TG_INT32, g_ew_bitcast_i32, 8);
  CHECK_RAW(tg_bitcast(i, TG_FLOAT32), TG_FLOAT32, g_ew_bitcast_in, 8);
  CHECK_RAW(tg_bitcast(TEST_DATA(g_ew_bitcast_i32, TG_INT32, 8), TG_FLOAT32), TG_FLOAT32, g_ew_bitcast_in, 8);
  /* uint32 <-> float32 and float16 <-> int16 */
  static const uint32_t u[2] = {0x3f800000u, 0xc0000000u};
  static const float uf[2] = {1.0f, -2.0f};
  CHECK_RAW(tg_bitcast(TEST_DATA(u, TG_UINT32, 2), TG_FLOAT32), TG_FLOAT32, uf, 2);
  static const uint16_t hb[2] = {0x3c00, 0xc000};
  static const int16_t hi[2] = {0x3c00, (int16_t)0xc000};
  CHECK_RAW(tg_bitcast(TEST_DATA(hb, TG_FLOAT16, 2), TG_INT16), TG_INT16, hi, 2);
  /* a bitcast of a computed value (not just of a buffer) */
  static const float two[1] = {2.0f};
  static const int32_t four_bits = 0x40800000;
  CHECK_RAW(tg_bitcast(tg_mul_s(TEST_F32(two, 1), 2), TG_INT32), TG_INT32, &four_bits, 1);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// result dtypes of mixed ops (tinygrad's promotion)

TEST(test_ew_mixed_dtypes) {
  tg_scope_begin();
  static const double va[3] = {1, 0, 1}, vb[3] = {1, 1, 0};
  for (int i = 0; i < TEST_COUNT(g_ew_add_dtypes); i++) {
    tg_dtype da = g_ew_add_dtypes[i][0], db = g_ew_add_dtypes[i][1], want = g_ew_add_dtypes[i][2];
    tg_tensor *r = tg_add(test_make(da, va, 3), test_make(db, vb, 3));
    if (!CHECK_DTYPE(r, want)) printf("  %s + %s\n", tg_dtype_name(da), tg_dtype_name(db));
    static const float sum[3] = {2, 1, 1}, any[3] = {1, 1, 1};
    if (!CHECK_TENSOR(r, want == TG_BOOL ? any : sum, 0, 3)) printf("  %s + %s\n", tg_dtype_name(da),
                                                                    tg_dtype_name(db));
  }
  /* values survive the promotion */
  static const double a8[2] = {100, -100}, a16[2] = {1000, -30000};
  static const int16_t s16[2] = {1100, -30100};
  CHECK_RAW(tg_add(test_make(TG_INT8, a8, 2), test_make(TG_INT16, a16, 2)), TG_INT16, s16, 2);
  static const double u8v[2] = {200, 255}, i8v[2] = {-100, -1};
  static const int16_t s_ui[2] = {100, 254};
  CHECK_RAW(tg_add(test_make(TG_UINT8, u8v, 2), test_make(TG_INT8, i8v, 2)), TG_INT16, s_ui, 2);

  /* scalars are weak: they do not widen an int tensor, a float scalar makes an int tensor float32 */
  static const int32_t iv[3] = {1, 2, 3};
  static const float ivf[3] = {2.5f, 5.0f, 7.5f};
  tg_tensor *ti = TEST_DATA(iv, TG_INT32, 3);
  CHECK_DTYPE(tg_mul_s(ti, 2.5), TG_FLOAT32);
  CHECK_TENSOR(tg_mul_s(ti, 2.5), ivf, 0, 3);
  static const double i8d[3] = {1, 2, 3};
  static const int8_t i8w[3] = {3, 4, 5};
  CHECK_RAW(tg_add_s(test_make(TG_INT8, i8d, 3), 2), TG_INT8, i8w, 3);
  CHECK_DTYPE(tg_mul_s(test_make(TG_FLOAT16, i8d, 3), 2.5), TG_FLOAT16);
  CHECK_DTYPE(tg_add_s(test_make(TG_BOOL, i8d, 3), 1), TG_INT32);
  CHECK_DTYPE(tg_div(ti, ti), TG_FLOAT32);
  CHECK_DTYPE(tg_div_s(ti, 2), TG_FLOAT32);
  CHECK_DTYPE(tg_lt(ti, ti), TG_BOOL);
  CHECK_DTYPE(tg_sqrt(ti), TG_FLOAT32); /* float math on ints gives float32 */
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// float16 math: results are float16, within a float16 rounding of the exact value

TEST(test_ew_half) {
  tg_scope_begin();
  tg_tensor *hx = TEST_DATA(g_ew_hx_bits, TG_FLOAT16, 4, 6), *hy = TEST_DATA(g_ew_hy_bits, TG_FLOAT16, 4, 6);
  const double half_tol = 1e-3; /* one float16 ulp is 2^-10 of the value */
  CHECK_DTYPE(tg_exp(hx), TG_FLOAT16);
  CHECK_TENSOR(tg_exp(hx), g_ew_h_exp, half_tol, 4, 6);
  CHECK_TENSOR(tg_sigmoid(hx), g_ew_h_sigmoid, half_tol, 4, 6);
  CHECK_TENSOR(tg_mul(hx, hy), g_ew_h_mul, half_tol, 4, 6);
  CHECK_TENSOR(tg_add(hx, hy), g_ew_h_add, half_tol, 4, 6);
  CHECK_TENSOR(tg_sqrt(tg_abs(hx)), g_ew_h_sqrt_abs, half_tol, 4, 6);
  CHECK_DTYPE(tg_add(hx, hy), TG_FLOAT16);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// constants: ops on tg_full tensors (which the compiler may fold at build time) give what they give on buffers.
// Expected values are python/numpy's (tinygrad agrees on every one of them).

TEST(test_ew_constant_operands) {
  tg_scope_begin();
  static const int32_t m4[2] = {-4, -4}, one[2] = {1, 1}, mone[2] = {-1, -1};
  tg_tensor *m7 = tg_full(-7, TG_INT32, TG_SHAPE(2)), *p7 = tg_full(7, TG_INT32, TG_SHAPE(2));
  tg_tensor *p2 = tg_full(2, TG_INT32, TG_SHAPE(2)), *n2 = tg_full(-2, TG_INT32, TG_SHAPE(2));
  CHECK_RAW(tg_floordiv(m7, p2), TG_INT32, m4, 2);
  CHECK_RAW(tg_floordiv(p7, n2), TG_INT32, m4, 2);
  CHECK_RAW(tg_mod(m7, p2), TG_INT32, one, 2);
  CHECK_RAW(tg_mod(p7, n2), TG_INT32, mone, 2);
  static const float m4f[2] = {-4, -4};
  CHECK_TENSOR(tg_floordiv(tg_full(-7.5, TG_FLOAT32, TG_SHAPE(2)), tg_full(2, TG_FLOAT32, TG_SHAPE(2))), m4f, 0, 2);
  /* casts of constants */
  static const uint8_t u44[2] = {44, 44}, u255[2] = {255, 255}, t2[2] = {1, 1};
  static const int32_t m2[2] = {-2, -2};
  static const int64_t big[2] = {10000000000LL, 10000000000LL};
  CHECK_RAW(tg_cast(tg_full(300, TG_INT32, TG_SHAPE(2)), TG_UINT8), TG_UINT8, u44, 2);
  CHECK_RAW(tg_cast(tg_full(-1, TG_INT32, TG_SHAPE(2)), TG_UINT8), TG_UINT8, u255, 2);
  CHECK_RAW(tg_cast(tg_full(-2.7, TG_FLOAT32, TG_SHAPE(2)), TG_INT32), TG_INT32, m2, 2);
  CHECK_RAW(tg_cast(tg_full(0.5, TG_FLOAT32, TG_SHAPE(2)), TG_BOOL), TG_BOOL, t2, 2);
  CHECK_RAW(tg_cast(tg_full(1e10, TG_FLOAT32, TG_SHAPE(2)), TG_INT64), TG_INT64, big, 2);
  /* shifts and bitwise ops of constants */
  static const int32_t imin[2] = {INT32_MIN, INT32_MIN}, m6[2] = {-6, -6};
  static const uint8_t u32v[2] = {32, 32};
  CHECK_RAW(tg_lshift(tg_full(1, TG_INT32, TG_SHAPE(2)), 31), TG_INT32, imin, 2);
  CHECK_RAW(tg_rshift(tg_full(-8, TG_INT32, TG_SHAPE(2)), 1), TG_INT32, m4, 2);
  CHECK_RAW(tg_lshift(tg_full(200, TG_UINT8, TG_SHAPE(2)), 2), TG_UINT8, u32v, 2);
  CHECK_RAW(tg_bitwise_not(tg_full(0, TG_UINT8, TG_SHAPE(2))), TG_UINT8, u255, 2);
  CHECK_RAW(tg_bitwise_not(tg_full(5, TG_INT32, TG_SHAPE(2))), TG_INT32, m6, 2);
  /* float specials of constants */
  static const float specials[4] = {NAN, -INFINITY, INFINITY, INFINITY};
  tg_tensor *r[4] = {tg_sqrt(tg_full(-1, TG_FLOAT32, TG_SHAPE(1))), tg_log(tg_full(0, TG_FLOAT32, TG_SHAPE(1))),
                     tg_exp(tg_full(100, TG_FLOAT32, TG_SHAPE(1))),
                     tg_reciprocal(tg_full(0, TG_FLOAT32, TG_SHAPE(1)))};
  for (int i = 0; i < 4; i++) CHECK_TENSOR(r[i], &specials[i], 0, 1);
  static const float pw[3] = {-8, 1, NAN};
  CHECK_TENSOR(tg_pow(tg_full(-2, TG_FLOAT32, TG_SHAPE(1)), tg_full(3, TG_FLOAT32, TG_SHAPE(1))), &pw[0], 1e-6, 1);
  CHECK_TENSOR(tg_pow_s(tg_full(0, TG_FLOAT32, TG_SHAPE(1)), 0), &pw[1], 0, 1);
  CHECK_TENSOR(tg_pow_s(tg_full(-8, TG_FLOAT32, TG_SHAPE(1)), 1.0 / 3), &pw[2], 0, 1);
  /* sign of the infinities is +-1 and of NaN is NaN (PyTorch); x ** 0 is 1 for NaN and inf too (C's pow) */
  static const float sgn_in[5] = {INFINITY, -INFINITY, NAN, 0, -2}, sgn_out[5] = {1, -1, NAN, 0, -1};
  CHECK_TENSOR(tg_sign(TEST_DATA(sgn_in, TG_FLOAT32, 5)), sgn_out, 0, 5);
  static const float ones5[5] = {1, 1, 1, 1, 1};
  CHECK_TENSOR(tg_pow_s(TEST_DATA(sgn_in, TG_FLOAT32, 5), 0), ones5, 0, 5);
  static const float rnd[3] = {2, -0.0f, 4};
  CHECK_TENSOR(tg_round(tg_full(2.5, TG_FLOAT32, TG_SHAPE(1))), &rnd[0], 0, 1);
  CHECK_TENSOR(tg_round(tg_full(-0.5, TG_FLOAT32, TG_SHAPE(1))), &rnd[1], 0, 1);
  CHECK_TENSOR(tg_round(tg_full(3.5, TG_FLOAT32, TG_SHAPE(1))), &rnd[2], 0, 1);
  tg_scope_end();
}

/* NaN is not equal to itself: x == x and x != x must not be folded to constants */
TEST(test_ew_nan_self_compare) {
  tg_scope_begin();
  static const float v[2] = {NAN, 1.0f};
  static const uint8_t eq[2] = {0, 1}, ne[2] = {1, 0}, ff[2] = {0, 0}, tt[2] = {1, 1};
  tg_tensor *t = TEST_F32(v, 2);
  CHECK_RAW(tg_eq(t, t), TG_BOOL, eq, 2);
  CHECK_RAW(tg_ne(t, t), TG_BOOL, ne, 2);
  CHECK_RAW(tg_isnan(t), TG_BOOL, ne, 2);
  tg_tensor *c = tg_full(NAN, TG_FLOAT32, TG_SHAPE(2));
  CHECK_RAW(tg_eq(c, c), TG_BOOL, ff, 2);
  CHECK_RAW(tg_ne(c, c), TG_BOOL, tt, 2);
  CHECK_RAW(tg_isnan(c), TG_BOOL, tt, 2);
  CHECK_RAW(tg_lt(c, c), TG_BOOL, ff, 2);
  CHECK_RAW(tg_eq_s(c, NAN), TG_BOOL, ff, 2);
  tg_tensor *sum = tg_sum(tg_full(0.1, TG_FLOAT32, TG_SHAPE(1000)), 0, NULL, 0);
  CHECK_TENSOR0(sum, 100.0, 1e-5); /* a constant sum: 1000 * 0.1 */
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// wide types: int64, uint32, uint64 and float64 keep their range and precision

TEST(test_ew_wide_types) {
  tg_scope_begin();
  static const int64_t a64[3] = {300000, -4000000000LL, (int64_t)1 << 40};
  static const int64_t b64[3] = {300000, 3, -2};
  static const int64_t p64[3] = {90000000000LL, -12000000000LL, -((int64_t)1 << 41)};
  static const int64_t fd64[3] = {1, -1333333334LL, -((int64_t)1 << 39)};
  tg_tensor *ta = TEST_DATA(a64, TG_INT64, 3), *tb = TEST_DATA(b64, TG_INT64, 3);
  CHECK_RAW(tg_mul(ta, tb), TG_INT64, p64, 3);
  CHECK_RAW(tg_floordiv(ta, tb), TG_INT64, fd64, 3);
  static const int64_t sum64[3] = {600000, -3999999997LL, ((int64_t)1 << 40) - 2};
  CHECK_RAW(tg_add(ta, tb), TG_INT64, sum64, 3);
  static const uint32_t u1[2] = {4000000000u, 7}, u2[2] = {300000000u, 4294967295u};
  static const uint32_t usum[2] = {5032704u, 6}; /* wraps modulo 2^32 */
  CHECK_RAW(tg_add(TEST_DATA(u1, TG_UINT32, 2), TEST_DATA(u2, TG_UINT32, 2)), TG_UINT32, usum, 2);
  static const uint32_t ushr[2] = {2000000000u, 3};
  CHECK_RAW(tg_rshift(TEST_DATA(u1, TG_UINT32, 2), 1), TG_UINT32, ushr, 2); /* logical shift for unsigned */
  static const uint64_t g1[2] = {18446744073709551615ULL, (uint64_t)1 << 63}, g2[2] = {1, 1};
  static const uint64_t gsum[2] = {0, ((uint64_t)1 << 63) + 1};
  CHECK_RAW(tg_add(TEST_DATA(g1, TG_UINT64, 2), TEST_DATA(g2, TG_UINT64, 2)), TG_UINT64, gsum, 2);
  static const uint8_t glt[2] = {0, 0}; /* 2^64-1 < 1 and 2^63 < 1 are false: unsigned compare */
  CHECK_RAW(tg_lt(TEST_DATA(g1, TG_UINT64, 2), TEST_DATA(g2, TG_UINT64, 2)), TG_BOOL, glt, 2);
  /* float64 math is done in float64 */
  static const double d[3] = {1.0, 2.0, 0.1};
  tg_tensor *td = TEST_DATA(d, TG_FLOAT64, 3);
  double got[3];
  CHECK_EQ_INT(tg_to_host(tg_add_s(td, 1e-12), got, sizeof got), 0);
  CHECK(got[0] == 1.0 + 1e-12 && got[1] == 2.0 + 1e-12 && got[2] == 0.1 + 1e-12);
  CHECK_EQ_INT(tg_to_host(tg_sqrt(td), got, sizeof got), 0);
  CHECK(fabs(got[1] - 1.4142135623730951) < 1e-15 && fabs(got[2] - 0.31622776601683794) < 1e-15);
  CHECK_EQ_INT(tg_to_host(tg_exp(td), got, sizeof got), 0);
  CHECK(fabs(got[0] - 2.718281828459045) < 1e-13 && fabs(got[2] - 1.1051709180756477) < 1e-13);
  CHECK_EQ_INT(tg_to_host(tg_sin(td), got, sizeof got), 0);
  CHECK(fabs(got[1] - 0.9092974268256817) < 1e-13);
  double s = NAN;
  CHECK_EQ_INT(tg_to_host(tg_sum(tg_full(0.1, TG_FLOAT64, TG_SHAPE(10)), 0, NULL, 0), &s, sizeof s), 0);
  CHECK(fabs(s - 1.0) < 1e-15);
  /* item() of float64 and int64 keeps the value */
  CHECK(tg_item(tg_mul_s(tg_select(td, 0, 2), 3)) == 0.1 * 3);
  CHECK(tg_item(tg_select(ta, 0, 2)) == 1099511627776.0);
  tg_scope_end();
}

/* mixed-dtype where and maximum promote like the binary ops */
TEST(test_ew_where_mixed) {
  tg_scope_begin();
  static const uint8_t c[3] = {1, 0, 1};
  static const int32_t a[3] = {1, 2, 3};
  static const float b[3] = {0.5f, 1.5f, 2.5f}, want[3] = {1, 1.5f, 3};
  tg_tensor *w = tg_where(TEST_DATA(c, TG_BOOL, 3), TEST_DATA(a, TG_INT32, 3), TEST_F32(b, 3));
  CHECK_DTYPE(w, TG_FLOAT32);
  CHECK_TENSOR(w, want, 0, 3);
  static const float ws[3] = {1, -1, 1};
  CHECK_TENSOR(tg_where_s(TEST_DATA(c, TG_BOOL, 3), 1, -1), ws, 0, 3);
  tg_tensor *mx = tg_maximum(TEST_DATA(a, TG_INT32, 3), TEST_F32(b, 3));
  CHECK_DTYPE(mx, TG_FLOAT32);
  static const float mxw[3] = {1, 2, 3};
  CHECK_TENSOR(mx, mxw, 0, 3);
  tg_scope_end();
}

/* an int tensor with a float scalar compares and computes in float (tinygrad): 1 < 1.5 is true, 2 == 2.5 false.
 * Both on a buffer and on a constant tensor (which the compiler may fold). */
TEST(test_ew_int_tensor_float_scalar) {
  tg_scope_begin();
  static const int32_t v[4] = {0, 1, 2, 3};
  tg_tensor *ins[2] = {TEST_DATA(v, TG_INT32, 4),
                       tg_add(tg_arange(0, 4, 1, TG_INT32), tg_zeros(TG_INT32, TG_SHAPE(4)))}; /* no buffer */
  static const uint8_t lt15[4] = {1, 1, 0, 0}, gt05[4] = {0, 1, 1, 1}, eq25[4] = {0, 0, 0, 0};
  static const float max05[4] = {0.5f, 1, 2, 3}, clip[4] = {0.5f, 1, 2, 2.5f}, sub05[4] = {-0.5f, 0.5f, 1.5f, 2.5f};
  static const float rsub[4] = {1.5f, 0.5f, -0.5f, -1.5f}, sqrtv[4] = {0, 1, 1.4142135f, 1.7320508f};
  for (int k = 0; k < 2; k++) {
    tg_tensor *t = ins[k];
    CHECK_RAW(tg_lt_s(t, 1.5), TG_BOOL, lt15, 4);
    CHECK_RAW(tg_gt_s(t, 0.5), TG_BOOL, gt05, 4);
    CHECK_RAW(tg_eq_s(t, 2.5), TG_BOOL, eq25, 4);
    CHECK_TENSOR(tg_maximum_s(t, 0.5), max05, 0, 4);
    CHECK_TENSOR(tg_clip(t, 0.5, 2.5), clip, 0, 4);
    CHECK_TENSOR(tg_sub_s(t, 0.5), sub05, 0, 4);
    CHECK_TENSOR(tg_rsub_s(1.5, t), rsub, 0, 4);
    CHECK_TENSOR(tg_pow_s(t, 0.5), sqrtv, 1e-6, 4);
    CHECK_DTYPE(tg_sub_s(t, 0.5), TG_FLOAT32);
  }
  /* uint8 with int scalars stays uint8 and wraps */
  static const uint8_t u[3] = {0, 1, 200}, up100[3] = {100, 101, 44}, um1[3] = {255, 0, 199};
  tg_tensor *tu = TEST_DATA(u, TG_UINT8, 3);
  CHECK_RAW(tg_add_s(tu, 100), TG_UINT8, up100, 3);
  CHECK_RAW(tg_sub_s(tu, 1), TG_UINT8, um1, 3);
  static const int8_t i8[1] = {100}, i8w[1] = {-56};
  CHECK_RAW(tg_add_s(TEST_DATA(i8, TG_INT8, 1), 100), TG_INT8, i8w, 1);
  tg_scope_end();
}

/* reductions of constant tensors (which the compiler may fold) */
TEST(test_ew_constant_reductions) {
  tg_scope_begin();
  tg_tensor *s8 = tg_sum(tg_full(1, TG_INT8, TG_SHAPE(300)), 0, NULL, 0);
  CHECK_DTYPE(s8, TG_INT32);
  CHECK_NEAR(tg_item(s8), 300, 0); /* accumulated in int32: no int8 wrap */
  static const int32_t cs[5] = {1, 2, 3, 4, 5};
  CHECK_RAW(tg_cumsum(tg_full(1, TG_BOOL, TG_SHAPE(5)), 0), TG_INT32, cs, 5);
  static const int32_t zero = 0;
  CHECK_RAW0(tg_argmax(tg_full(2, TG_FLOAT32, TG_SHAPE(5)), 0, 0), TG_INT32, &zero);
  /* a compiler that fuses x - mean * 1/n into one fma (GPUs; GCC's -ffp-contract=fast where x is loaded, now that
   * expressions are not reassociated) leaves 3e-8 of the inexact 1/5 */
  CHECK_TENSOR0(tg_std(tg_full(2, TG_FLOAT32, TG_SHAPE(5)), 0, NULL, 0, 1), 0, 1e-7);
  CHECK_TENSOR0(tg_prod(tg_full(0.5, TG_FLOAT32, TG_SHAPE(10)), 0, NULL, 0), 0.0009765625, 1e-6);
  CHECK_TENSOR0(tg_mean(tg_full(3, TG_INT32, TG_SHAPE(7)), 0, NULL, 0), 3, 1e-6); /* tinygrad: 3.0000002 */
  static const uint8_t f = 0, t = 1;
  CHECK_RAW0(tg_any(tg_zeros(TG_FLOAT32, TG_SHAPE(4)), 0, NULL, 0), TG_BOOL, &f);
  CHECK_RAW0(tg_all(tg_ones(TG_INT32, TG_SHAPE(4)), 0, NULL, 0), TG_BOOL, &t);
  CHECK_TENSOR0(tg_max(tg_full(-INFINITY, TG_FLOAT32, TG_SHAPE(3)), 0, NULL, 0), -INFINITY, 0);
  static const float lse_in[3] = {-INFINITY, 0, -INFINITY};
  CHECK_TENSOR0(tg_logsumexp(TEST_F32(lse_in, 3), 0, 0), 0, 0);
  tg_scope_end();
}
