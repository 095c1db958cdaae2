/* test_creation.c: creation ops (from_data of every dtype, zeros/ones/full, arange, linspace, eye, tril/triu), the
 * dtype table and tg_promote against tinygrad, and the random generators (seeding, ranges, statistics). */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"
#define GOLDEN_CREATION
#include "golden/golden.h"

// ---------------------------------------------------------------------------------------------------------------------
// from_data: every dtype round-trips through tg_to_host bit for bit, and tg_to_float gives the values

TEST(test_cr_from_data_roundtrip) {
  tg_scope_begin();
  static const uint8_t b[] = {1, 0, 1, 1, 0};
  static const int8_t i8[] = {-128, -1, 0, 1, 127};
  static const uint8_t u8[] = {0, 1, 127, 128, 255};
  static const int16_t i16[] = {-32768, -1, 0, 1, 32767};
  static const uint16_t u16[] = {0, 1, 32767, 32768, 65535};
  static const int32_t i32[] = {INT32_MIN, -1, 0, 1, INT32_MAX};
  static const uint32_t u32[] = {0, 1, 2147483648u, 4294967295u, 12345};
  static const int64_t i64[] = {INT64_MIN, -1, 0, 1, (int64_t)1 << 40};
  static const uint64_t u64[] = {0, 1, (uint64_t)1 << 63, UINT64_MAX, (uint64_t)1 << 40};
  static const float f32[] = {0.1f, -3.5f, 1e-30f, 3.4e38f, -0.0f};
  static const double f64[] = {0.1, -3.5, 1e-300, 1.7e308, 1.0 / 3.0};
  CHECK_RAW(TEST_DATA(b, TG_BOOL, 5), TG_BOOL, b, 5);
  CHECK_RAW(TEST_DATA(i8, TG_INT8, 5), TG_INT8, i8, 5);
  CHECK_RAW(TEST_DATA(u8, TG_UINT8, 5), TG_UINT8, u8, 5);
  CHECK_RAW(TEST_DATA(i16, TG_INT16, 5), TG_INT16, i16, 5);
  CHECK_RAW(TEST_DATA(u16, TG_UINT16, 5), TG_UINT16, u16, 5);
  CHECK_RAW(TEST_DATA(i32, TG_INT32, 5), TG_INT32, i32, 5);
  CHECK_RAW(TEST_DATA(u32, TG_UINT32, 5), TG_UINT32, u32, 5);
  CHECK_RAW(TEST_DATA(i64, TG_INT64, 5), TG_INT64, i64, 5);
  CHECK_RAW(TEST_DATA(u64, TG_UINT64, 5), TG_UINT64, u64, 5);
  CHECK_RAW(TEST_DATA(g_cr_f16_bits, TG_FLOAT16, 6), TG_FLOAT16, g_cr_f16_bits, 6);
  CHECK_RAW(TEST_DATA(g_cr_bf16_bits, TG_BFLOAT16, 6), TG_BFLOAT16, g_cr_bf16_bits, 6);
  CHECK_RAW(TEST_DATA(f32, TG_FLOAT32, 5), TG_FLOAT32, f32, 5);
  CHECK_RAW(TEST_DATA(f64, TG_FLOAT64, 5), TG_FLOAT64, f64, 5);
  CHECK_RAW(TEST_DATA(i16, TG_INT16, 1, 5), TG_INT16, i16, 1, 5); /* 2-D */

  /* the same tensors read as float32 */
  static const float want_b[] = {1, 0, 1, 1, 0}, want_i8[] = {-128, -1, 0, 1, 127}, want_u8[] = {0, 1, 127, 128, 255};
  static const float want_i16[] = {-32768, -1, 0, 1, 32767}, want_u16[] = {0, 1, 32767, 32768, 65535};
  static const float want_i32[] = {-2147483648.0f, -1, 0, 1, 2147483648.0f};
  static const float want_u32[] = {0, 1, 2147483648.0f, 4294967296.0f, 12345};
  static const float want_i64[] = {-9223372036854775808.0f, -1, 0, 1, 1099511627776.0f};
  static const float want_u64[] = {0, 1, 9223372036854775808.0f, 18446744073709551616.0f, 1099511627776.0f};
  static const float want_f64[] = {0.1f, -3.5f, 0.0f, INFINITY, 0.33333334f};
  CHECK_TENSOR(TEST_DATA(b, TG_BOOL, 5), want_b, 0, 5);
  CHECK_TENSOR(TEST_DATA(i8, TG_INT8, 5), want_i8, 0, 5);
  CHECK_TENSOR(TEST_DATA(u8, TG_UINT8, 5), want_u8, 0, 5);
  CHECK_TENSOR(TEST_DATA(i16, TG_INT16, 5), want_i16, 0, 5);
  CHECK_TENSOR(TEST_DATA(u16, TG_UINT16, 5), want_u16, 0, 5);
  CHECK_TENSOR(TEST_DATA(i32, TG_INT32, 5), want_i32, 1e-7, 5);
  CHECK_TENSOR(TEST_DATA(u32, TG_UINT32, 5), want_u32, 1e-7, 5);
  CHECK_TENSOR(TEST_DATA(i64, TG_INT64, 5), want_i64, 1e-7, 5);
  CHECK_TENSOR(TEST_DATA(u64, TG_UINT64, 5), want_u64, 1e-7, 5);
  CHECK_TENSOR(TEST_DATA(g_cr_f16_bits, TG_FLOAT16, 6), g_cr_f16_vals, 0, 6);
  CHECK_TENSOR(TEST_DATA(g_cr_bf16_bits, TG_BFLOAT16, 6), g_cr_bf16_vals, 0, 6);
  CHECK_TENSOR(TEST_DATA(f32, TG_FLOAT32, 5), f32, 0, 5);
  CHECK_TENSOR(TEST_DATA(f64, TG_FLOAT64, 5), want_f64, 1e-7, 5);
  tg_scope_end();
}

TEST(test_cr_from_data_props) {
  tg_scope_begin();
  static const float v[6] = {1, 2, 3, 4, 5, 6};
  tg_tensor *t = TEST_F32(v, 2, 3);
  CHECK_EQ_INT(tg_ndim(t), 2);
  CHECK_EQ_INT(tg_numel(t), 6);
  CHECK_EQ_INT(tg_dim(t, 0), 2);
  CHECK_EQ_INT(tg_dim(t, -1), 3);
  CHECK_DTYPE(t, TG_FLOAT32);
  /* a 0-d tensor from data */
  static const int32_t seven = 7;
  tg_tensor *s = tg_from_data(&seven, TG_INT32, 0, NULL);
  CHECK_EQ_INT(tg_ndim(s), 0);
  CHECK_EQ_INT(tg_numel(s), 1);
  CHECK_NEAR(tg_item(s), 7, 0);
  /* an empty tensor: shape (0, 3) */
  tg_tensor *e = tg_from_data(v, TG_FLOAT32, TG_SHAPE(0, 3));
  CHECK_EQ_INT(tg_numel(e), 0);
  CHECK_TENSOR(e, v, 0, 0, 3);
  /* from_data copies: changing the source afterwards changes nothing */
  float src[3] = {1, 2, 3};
  tg_tensor *c = TEST_F32(src, 3);
  src[0] = 100;
  static const float want_c[] = {1, 2, 3};
  CHECK_TENSOR(c, want_c, 0, 3);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// zeros, ones, full, _like, empty, scalar

TEST(test_cr_full_family) {
  tg_scope_begin();
  static const int32_t z6[6] = {0};
  CHECK_RAW(tg_zeros(TG_INT32, TG_SHAPE(2, 3)), TG_INT32, z6, 2, 3);
  static const uint16_t one_h[4] = {0x3c00, 0x3c00, 0x3c00, 0x3c00};
  CHECK_RAW(tg_ones(TG_FLOAT16, TG_SHAPE(4)), TG_FLOAT16, one_h, 4);
  static const float f25[3] = {2.5f, 2.5f, 2.5f};
  CHECK_RAW(tg_full(2.5, TG_FLOAT32, TG_SHAPE(3)), TG_FLOAT32, f25, 3);
  static const int8_t m7[4] = {-7, -7, -7, -7};
  CHECK_RAW(tg_full(-7, TG_INT8, TG_SHAPE(2, 2)), TG_INT8, m7, 2, 2);
  static const uint8_t t3[3] = {1, 1, 1};
  CHECK_RAW(tg_full(1, TG_BOOL, TG_SHAPE(3, 1)), TG_BOOL, t3, 3, 1);
  static const double d2[2] = {-0.125, -0.125};
  CHECK_RAW(tg_full(-0.125, TG_FLOAT64, TG_SHAPE(1, 2)), TG_FLOAT64, d2, 1, 2);
  static const uint16_t bf[2] = {0x4049, 0x4049}; /* 3.140625 */
  CHECK_RAW(tg_full(3.140625, TG_BFLOAT16, TG_SHAPE(2)), TG_BFLOAT16, bf, 2);
  static const int64_t big[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  CHECK_RAW(tg_full((double)((int64_t)1 << 40), TG_INT64, TG_SHAPE(2)), TG_INT64, big, 2);

  static const int16_t base[6] = {1, 2, 3, 4, 5, 6};
  tg_tensor *t = TEST_DATA(base, TG_INT16, 3, 2);
  static const int16_t z16[6] = {0}, o16[6] = {1, 1, 1, 1, 1, 1}, f16[6] = {4, 4, 4, 4, 4, 4};
  CHECK_RAW(tg_zeros_like(t), TG_INT16, z16, 3, 2);
  CHECK_RAW(tg_ones_like(t), TG_INT16, o16, 3, 2);
  CHECK_RAW(tg_full_like(t, 4), TG_INT16, f16, 3, 2);
  static const float zf[1] = {0};
  CHECK_TENSOR(tg_zeros(TG_FLOAT32, TG_SHAPE(0, 4)), zf, 0, 0, 4);

  /* empty: shape and dtype only, and it can be realised */
  tg_tensor *e = tg_empty(TG_UINT16, TG_SHAPE(5, 7));
  CHECK_DTYPE(e, TG_UINT16);
  CHECK_EQ_INT(tg_numel(e), 35);
  CHECK_EQ_INT(tg_realize(e), 0);

  /* scalar: a 0-d tensor */
  tg_tensor *s = tg_scalar(3.5, TG_FLOAT32);
  CHECK_EQ_INT(tg_ndim(s), 0);
  CHECK_NEAR(tg_item(s), 3.5, 0);
  CHECK_DTYPE(s, TG_FLOAT32);
  static const int32_t m12 = -12;
  CHECK_RAW0(tg_scalar(-12, TG_INT32), TG_INT32, &m12);
  CHECK_NEAR(tg_item(tg_scalar(0.1, TG_FLOAT64)), 0.1, 0); /* float64 keeps every bit */
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// arange, linspace, eye, tril, triu

TEST(test_cr_arange) {
  tg_scope_begin();
  for (int i = 0; i < TEST_COUNT(g_cr_arange); i++) {
    const golden_arange *c = &g_cr_arange[i];
    tg_tensor *t = tg_arange(c->start, c->stop, c->step, c->dt);
    if (!CHECK_TENSOR(t, c->want, 1e-6, c->n))
      printf("  arange(%g, %g, %g, %s)\n", c->start, c->stop, c->step, tg_dtype_name(c->dt));
    if (!CHECK_DTYPE(t, c->dt)) printf("  arange case %d\n", i);
  }
  tg_scope_end();
}

TEST(test_cr_linspace) {
  tg_scope_begin();
  for (int i = 0; i < TEST_COUNT(g_cr_linspace); i++) {
    const golden_linspace *c = &g_cr_linspace[i];
    tg_tensor *t = tg_linspace(c->start, c->stop, c->steps, c->dt);
    if (!CHECK_TENSOR(t, c->want, 1e-6, c->steps))
      printf("  linspace(%g, %g, %lld, %s)\n", c->start, c->stop, (long long)c->steps, tg_dtype_name(c->dt));
    if (!CHECK_DTYPE(t, c->dt)) printf("  linspace case %d\n", i);
  }
  tg_scope_end();
}

TEST(test_cr_eye) {
  tg_scope_begin();
  CHECK_TENSOR(tg_eye(3, 3, TG_FLOAT32), g_cr_eye_3x3, 0, 3, 3);
  CHECK_TENSOR(tg_eye(2, 4, TG_FLOAT32), g_cr_eye_2x4, 0, 2, 4);
  CHECK_TENSOR(tg_eye(4, 2, TG_INT32), g_cr_eye_4x2, 0, 4, 2);
  CHECK_TENSOR(tg_eye(1, 1, TG_FLOAT32), g_cr_eye_1x1, 0, 1, 1);
  CHECK_DTYPE(tg_eye(4, 2, TG_INT32), TG_INT32);
  tg_scope_end();
}

TEST(test_cr_tril_triu) {
  tg_scope_begin();
  tg_tensor *a = TEST_F32(g_cr_tri_in34, 3, 4), *b = TEST_F32(g_cr_tri_in43, 4, 3);
  CHECK_TENSOR(tg_tril(a, 0), g_cr_tril34_0, 0, 3, 4);
  CHECK_TENSOR(tg_tril(a, 1), g_cr_tril34_1, 0, 3, 4);
  CHECK_TENSOR(tg_tril(a, -1), g_cr_tril34_m1, 0, 3, 4);
  CHECK_TENSOR(tg_tril(a, 2), g_cr_tril34_2, 0, 3, 4);
  CHECK_TENSOR(tg_tril(a, -5), g_cr_tril34_m5, 0, 3, 4);
  CHECK_TENSOR(tg_triu(a, 0), g_cr_triu34_0, 0, 3, 4);
  CHECK_TENSOR(tg_triu(a, 1), g_cr_triu34_1, 0, 3, 4);
  CHECK_TENSOR(tg_triu(a, -1), g_cr_triu34_m1, 0, 3, 4);
  CHECK_TENSOR(tg_triu(a, 2), g_cr_triu34_2, 0, 3, 4);
  CHECK_TENSOR(tg_triu(a, -5), g_cr_triu34_m5, 0, 3, 4);
  CHECK_TENSOR(tg_tril(a, 5), g_cr_tri_in34, 0, 3, 4); /* a diagonal past the corner keeps everything */
  CHECK_TENSOR(tg_tril(b, 0), g_cr_tril43_0, 0, 4, 3);
  CHECK_TENSOR(tg_tril(b, 1), g_cr_tril43_1, 0, 4, 3);
  CHECK_TENSOR(tg_tril(b, -1), g_cr_tril43_m1, 0, 4, 3);
  CHECK_TENSOR(tg_triu(b, 0), g_cr_triu43_0, 0, 4, 3);
  CHECK_TENSOR(tg_triu(b, 2), g_cr_triu43_2, 0, 4, 3);
  CHECK_TENSOR(tg_triu(b, -1), g_cr_triu43_m1, 0, 4, 3);
  tg_tensor *c = TEST_F32(g_cr_tri_in233, 2, 3, 3);
  CHECK_TENSOR(tg_tril(c, 0), g_cr_tril233, 0, 2, 3, 3);
  CHECK_TENSOR(tg_triu(c, 1), g_cr_triu233_1, 0, 2, 3, 3);
  /* ints keep their dtype */
  static const int32_t iv[4] = {1, 2, 3, 4}, iw[4] = {1, 0, 3, 4};
  CHECK_RAW(tg_tril(TEST_DATA(iv, TG_INT32, 2, 2), 0), TG_INT32, iw, 2, 2);
  tg_scope_end();
}

// ---------------------------------------------------------------------------------------------------------------------
// the dtype table and promotion

TEST(test_cr_dtype_table) {
  for (int d = 0; d < TG_NDTYPES; d++) {
    tg_dtype dt = (tg_dtype)d;
    CHECK_EQ_INT(tg_dtype_size(dt), g_cr_dtype_size[d]);
    CHECK_STR(tg_dtype_name(dt), g_cr_dtype_name[d]);
    int is_float = dt >= TG_FLOAT16, is_int = dt != TG_BOOL && dt < TG_FLOAT16;
    int is_unsigned = dt == TG_UINT8 || dt == TG_UINT16 || dt == TG_UINT32 || dt == TG_UINT64;
    test_check(!!tg_dtype_is_float(dt) == is_float, __FILE__, __LINE__, "tg_dtype_is_float(%s)", g_cr_dtype_name[d]);
    test_check(!!tg_dtype_is_int(dt) == is_int, __FILE__, __LINE__, "tg_dtype_is_int(%s)", g_cr_dtype_name[d]);
    test_check(!!tg_dtype_is_unsigned(dt) == is_unsigned, __FILE__, __LINE__, "tg_dtype_is_unsigned(%s)",
               g_cr_dtype_name[d]);
  }
}

/* every pair of the 13x13 table, against tinygrad's least_upper_dtype */
TEST(test_cr_promote_all_pairs) {
  for (int a = 0; a < TG_NDTYPES; a++)
    for (int b = 0; b < TG_NDTYPES; b++) {
      tg_dtype got = tg_promote((tg_dtype)a, (tg_dtype)b), want = g_cr_promote[a][b];
      test_check(got == want, __FILE__, __LINE__, "tg_promote(%s, %s) = %s, expected %s", g_cr_dtype_name[a],
                 g_cr_dtype_name[b], test_dt_name(got), test_dt_name(want));
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// random numbers

#define RN 1000      /* samples for the reproducibility checks */
#define RSTAT 100000 /* samples for the statistics */

/* fraction of the n positions where a and b differ */
static double test_frac_differ(const float *a, const float *b, int n) {
  int d = 0;
  for (int i = 0; i < n; i++) d += a[i] != b[i];
  return (double)d / n;
}

static void test_moments(const float *v, int n, double *mean, double *std, double *lo, double *hi) {
  double s = 0, s2 = 0;
  *lo = INFINITY, *hi = -INFINITY;
  for (int i = 0; i < n; i++) {
    s += v[i];
    if (v[i] < *lo) *lo = v[i];
    if (v[i] > *hi) *hi = v[i];
  }
  *mean = s / n;
  for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
  *std = sqrt(s2 / n);
}

/* tinygrad's exact numbers for a seed: its threefry stream, per-device key and counter, rand's mantissa bits, randn's
 * one draw of (2, n), randint's and uniform's float32 products (gen.py: the real tinygrad's) */
TEST(test_cr_rand_tinygrad_stream) {
  tg_scope_begin();
  tg_manual_seed(42);
  CHECK_TENSOR(tg_rand(TG_FLOAT32, TG_SHAPE(2, 3)), g_cr_rand42, 0, 2, 3);
  CHECK_TENSOR(tg_rand(TG_FLOAT32, TG_SHAPE(7)), g_cr_rand42_next, 0, 7);
  CHECK_TENSOR(tg_randn(TG_FLOAT32, TG_SHAPE(5)), g_cr_randn42, 1e-6, 5);
  CHECK_RAW(tg_randint(-3, 40, TG_INT32, TG_SHAPE(9)), TG_INT32, g_cr_randint42, 9);
  CHECK_TENSOR(tg_uniform(-2, 0.5, TG_FLOAT32, TG_SHAPE(4)), g_cr_uniform42, 1e-7, 4);
  CHECK_TENSOR(tg_normal(1, 0.5, TG_FLOAT32, TG_SHAPE(3)), g_cr_normal42, 1e-6, 3);
  /* each float dtype draws its own bits (2 or 8 bytes an element), and moves the counter by as many words */
  tg_manual_seed(7);
  CHECK_RAW(tg_rand(TG_FLOAT16, TG_SHAPE(5)), TG_FLOAT16, g_cr_rand_f16, 5);
  CHECK_RAW(tg_rand(TG_BFLOAT16, TG_SHAPE(3)), TG_BFLOAT16, g_cr_rand_bf16, 3);
  CHECK_RAW(tg_rand(TG_FLOAT64, TG_SHAPE(3)), TG_FLOAT64, g_cr_rand_f64, 3);
  CHECK_TENSOR(tg_rand(TG_FLOAT32, TG_SHAPE(2)), g_cr_rand_after, 0, 2);
  tg_manual_seed(1234567);
  tg_tensor *big = tg_rand(TG_FLOAT32, TG_SHAPE(1001));
  float *v = tg_to_float(big);
  static const int at[6] = {0, 1, 499, 500, 501, 1000};
  for (int i = 0; v && i < 6; i++) CHECK_NEAR(v[at[i]], g_cr_rand_big[i], 0);
  free(v);
  tg_scope_end();
}

TEST(test_cr_rand_seed) {
  tg_scope_begin();
  tg_manual_seed(42);
  float *a = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN)));
  float *a2 = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN))); /* the next draw, without reseeding */
  tg_manual_seed(42);
  float *b = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN)));
  tg_manual_seed(43);
  float *c = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN)));
  CHECK_NOT_NULL(a);
  if (a && a2 && b && c) {
    CHECK(memcmp(a, b, sizeof(float) * RN) == 0);   /* same seed: same values */
    CHECK(test_frac_differ(a, c, RN) > 0.99);       /* another seed: different values */
    CHECK(test_frac_differ(a, a2, RN) > 0.99);      /* the generator moves on between calls */
    CHECK(test_frac_differ(a, a + 1, RN - 1) > 0.99); /* not a constant */
  }
  free(a), free(a2), free(b), free(c);

  /* the other generators are reproducible too */
  tg_manual_seed(7);
  float *n1 = tg_to_float(tg_randn(TG_FLOAT32, TG_SHAPE(10, 10)));
  float *i1 = tg_to_float(tg_randint(-5, 5, TG_INT32, TG_SHAPE(100)));
  float *u1 = tg_to_float(tg_uniform(-1, 1, TG_FLOAT32, TG_SHAPE(100)));
  tg_manual_seed(7);
  float *n2 = tg_to_float(tg_randn(TG_FLOAT32, TG_SHAPE(10, 10)));
  float *i2 = tg_to_float(tg_randint(-5, 5, TG_INT32, TG_SHAPE(100)));
  float *u2 = tg_to_float(tg_uniform(-1, 1, TG_FLOAT32, TG_SHAPE(100)));
  CHECK(n1 && n2 && memcmp(n1, n2, sizeof(float) * 100) == 0);
  CHECK(i1 && i2 && memcmp(i1, i2, sizeof(float) * 100) == 0);
  CHECK(u1 && u2 && memcmp(u1, u2, sizeof(float) * 100) == 0);
  free(n1), free(n2), free(i1), free(i2), free(u1), free(u2);

  /* two tensors drawn before either is realised are still different */
  tg_tensor *p = tg_rand(TG_FLOAT32, TG_SHAPE(RN)), *q = tg_rand(TG_FLOAT32, TG_SHAPE(RN));
  tg_tensor *both[2] = {p, q};
  CHECK_EQ_INT(tg_realize_all(both, 2), 0);
  float *pf = tg_to_float(p), *qf = tg_to_float(q);
  CHECK(pf && qf && test_frac_differ(pf, qf, RN) > 0.99);
  free(pf), free(qf);

  /* a draw realised after an unrelated realisation has advanced the counter still gives its own numbers: the same as
   * when realised at once, and different from the next draw's (it used to read the advanced counter, and repeat them) */
  tg_manual_seed(5);
  float *first = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN)));
  float *second = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN)));
  tg_manual_seed(5);
  tg_tensor *late = tg_rand(TG_FLOAT32, TG_SHAPE(RN));
  CHECK_EQ_INT(tg_realize(tg_add_s(tg_zeros(TG_FLOAT32, TG_SHAPE(3)), 1)), 0); /* runs the counter's update */
  float *nxt = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RN))), *lf = tg_to_float(late);
  CHECK(first && lf && memcmp(first, lf, sizeof(float) * RN) == 0);
  CHECK(second && nxt && memcmp(second, nxt, sizeof(float) * RN) == 0);
  free(first), free(second), free(nxt), free(lf);
  tg_scope_end();
}

TEST(test_cr_rand_shapes_dtypes) {
  tg_scope_begin();
  tg_manual_seed(1);
  tg_tensor *r = tg_rand(TG_FLOAT32, TG_SHAPE(2, 3, 4));
  CHECK_EQ_INT(tg_ndim(r), 3);
  CHECK_EQ_INT(tg_dim(r, 2), 4);
  tg_tensor *h = tg_rand(TG_FLOAT16, TG_SHAPE(64));
  CHECK_DTYPE(h, TG_FLOAT16);
  float *hv = tg_to_float(h);
  int in_range = hv != NULL;
  for (int i = 0; hv && i < 64; i++) in_range &= hv[i] >= 0 && hv[i] <= 1;
  CHECK(in_range);
  free(hv);
  tg_tensor *like = tg_rand_like(r), *nlike = tg_randn_like(h);
  CHECK_EQ_INT(tg_numel(like), 24);
  CHECK_DTYPE(like, TG_FLOAT32);
  CHECK_EQ_INT(tg_dim(nlike, 0), 64);
  CHECK_DTYPE(nlike, TG_FLOAT16);
  CHECK_DTYPE(tg_randint(0, 3, TG_INT64, TG_SHAPE(4)), TG_INT64);
  CHECK_DTYPE(tg_randn(TG_FLOAT64, TG_SHAPE(4)), TG_FLOAT64);
  tg_scope_end();
}

TEST(test_cr_rand_stats) {
  tg_scope_begin();
  tg_manual_seed(1234);
  double mean, std, lo, hi;

  float *v = tg_to_float(tg_rand(TG_FLOAT32, TG_SHAPE(RSTAT)));
  CHECK_NOT_NULL(v);
  if (v) {
    test_moments(v, RSTAT, &mean, &std, &lo, &hi);
    CHECK(lo >= 0 && hi < 1);
    CHECK_NEAR(mean, 0.5, 0.01);
    CHECK_NEAR(std, sqrt(1.0 / 12), 0.01);
    int low_half = 0;
    for (int i = 0; i < RSTAT; i++) low_half += v[i] < 0.25f;
    CHECK_NEAR(low_half / (double)RSTAT, 0.25, 0.01);
  }
  free(v);

  v = tg_to_float(tg_randn(TG_FLOAT32, TG_SHAPE(100, RSTAT / 100)));
  CHECK_NOT_NULL(v);
  if (v) {
    test_moments(v, RSTAT, &mean, &std, &lo, &hi);
    CHECK_NEAR(mean, 0, 0.02);
    CHECK_NEAR(std, 1, 0.02);
    int within = 0, finite = 1;
    for (int i = 0; i < RSTAT; i++) within += fabsf(v[i]) < 1, finite &= isfinite(v[i]) != 0;
    CHECK_NEAR(within / (double)RSTAT, 0.682689, 0.01);
    CHECK(finite);
    CHECK(lo < -3.5 && hi > 3.5); /* 100k normal samples reach beyond 3.5 sigma on both sides */
  }
  free(v);

  v = tg_to_float(tg_uniform(-2, 3, TG_FLOAT32, TG_SHAPE(RSTAT)));
  CHECK_NOT_NULL(v);
  if (v) {
    test_moments(v, RSTAT, &mean, &std, &lo, &hi);
    CHECK(lo >= -2 && hi < 3);
    CHECK_NEAR(mean, 0.5, 0.02);
    CHECK_NEAR(std, 5 / sqrt(12.0), 0.02);
  }
  free(v);

  v = tg_to_float(tg_normal(3, 0.5, TG_FLOAT32, TG_SHAPE(RSTAT)));
  CHECK_NOT_NULL(v);
  if (v) {
    test_moments(v, RSTAT, &mean, &std, &lo, &hi);
    CHECK_NEAR(mean, 3, 0.01);
    CHECK_NEAR(std, 0.5, 0.01);
  }
  free(v);

  v = tg_to_float(tg_randint(-3, 7, TG_INT32, TG_SHAPE(RSTAT)));
  CHECK_NOT_NULL(v);
  if (v) {
    test_moments(v, RSTAT, &mean, &std, &lo, &hi);
    CHECK(lo == -3 && hi == 6); /* [low, high): both ends are reached, high never */
    int integral = 1, count[10] = {0};
    for (int i = 0; i < RSTAT; i++) {
      integral &= v[i] == floorf(v[i]);
      if (v[i] >= -3 && v[i] < 7) count[(int)v[i] + 3]++;
    }
    CHECK(integral);
    int flat = 1;
    for (int k = 0; k < 10; k++) flat &= fabs(count[k] / (double)RSTAT - 0.1) < 0.01;
    CHECK(flat);
    CHECK_NEAR(mean, 1.5, 0.02);
    CHECK_NEAR(std, sqrt(99 / 12.0), 0.02);
  }
  free(v);
  tg_scope_end();
}
