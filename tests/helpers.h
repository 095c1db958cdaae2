/* helpers.h: shared helpers of the golden-value tests (tests/test_*.c): tensors from C arrays, and whole-tensor checks.
 *
 * Contract:
 *  - CHECK_TENSOR(t, want, tol, dims...) is ONE assertion: t is not NULL, has exactly the shape (dims...), and its
 *    values, read with tg_to_float, are near want[] by test.h's rule |got-want| <= tol*(1+|want|). CHECK_TENSOR0 is
 *    the same for a 0-dimensional tensor and one expected value.
 *  - CHECK_RAW(t, dt, want, dims...) is ONE assertion: t has dtype dt, the shape (dims...), and its bytes (tg_to_host)
 *    equal want[] exactly. For ints, bools (0/1 bytes) and bit patterns. CHECK_RAW0 for 0-d tensors.
 *  - CHECK_DTYPE(t, dt) is ONE assertion and names both dtypes on failure.
 *  - Every check returns 1 if it passed, so a table-driven test can print which row failed.
 *  - test_make(dt, vals, n, ...) builds a tensor of any dtype from doubles, encoded here (not by the library), so that
 *    the inputs do not depend on the code under test. float16/bfloat16 are rounded to nearest even. */
#ifndef HELPERS_H
#define HELPERS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "tinygrad.h"

/* whether the tests run on the CPU device (DEV unset or CPU): the suite also runs whole on DEV=OPENCL or DEV=CUDA,
 * where a few tests of the CPU's compiler and disk cache do not apply */
static inline int test_on_cpu(void) {
  const char *d = getenv("DEV");
  return !d || !d[0] || !strcmp(d, "CPU") || !strcmp(d, "cpu");
}

/* whether AddressSanitizer is on: its quarantine keeps freed memory resident, so RSS checks do not apply */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

/* resident memory of this process in KB (Linux), -1 if unknown */
static inline long test_rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
  fclose(f);
  return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* a file's whole text, NUL-terminated and malloc'd; NULL if it cannot be read */
static inline char *test_read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = n >= 0 ? (char *)malloc((size_t)n + 1) : NULL;
  size_t got = s ? fread(s, 1, (size_t)n, f) : 0;
  if (s) s[got] = 0;
  fclose(f);
  return s;
}

#define TEST_F32(data, ...) tg_from_float((data), TG_SHAPE(__VA_ARGS__))
#define TEST_DATA(data, dt, ...) tg_from_data((data), (dt), TG_SHAPE(__VA_ARGS__))
#define TEST_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// ---------------------------------------------------------------------------------------------------------------------
// encoding values of any dtype (independent of the library)

static inline uint16_t test_f32_to_bf16(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40); /* nan stays nan */
  return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

static inline uint16_t test_f32_to_f16(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
  uint32_t abs = b & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;
  if (abs >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520: rounds to inf */
  if (abs < 0x38800000u) {                       /* below 2^-14: a subnormal half, in units of 2^-24 */
    double v = fabs((double)f) * 16777216.0;
    double r = nearbyint(v); /* round to nearest even */
    return sign | (uint16_t)r;
  }
  uint32_t mant = abs & 0x7fffffu, exp = (abs >> 23) - 112;
  uint32_t h = (exp << 10) | (mant >> 13), rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return sign | (uint16_t)h;
}

static inline void test_store(void *buf, tg_dtype dt, int64_t i, double v) {
  switch (dt) {
  case TG_BOOL: ((uint8_t *)buf)[i] = v != 0; break;
  case TG_INT8: ((int8_t *)buf)[i] = (int8_t)v; break;
  case TG_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
  case TG_INT16: ((int16_t *)buf)[i] = (int16_t)v; break;
  case TG_UINT16: ((uint16_t *)buf)[i] = (uint16_t)v; break;
  case TG_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
  case TG_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
  case TG_INT64: ((int64_t *)buf)[i] = (int64_t)v; break;
  case TG_UINT64: ((uint64_t *)buf)[i] = (uint64_t)v; break;
  case TG_FLOAT16: ((uint16_t *)buf)[i] = test_f32_to_f16((float)v); break;
  case TG_BFLOAT16: ((uint16_t *)buf)[i] = test_f32_to_bf16((float)v); break;
  case TG_FLOAT32: ((float *)buf)[i] = (float)v; break;
  case TG_FLOAT64: ((double *)buf)[i] = v; break;
  default: break;
  }
}

/* a tensor of dtype dt and shape (ndim, shape) holding vals[0..n) */
static inline tg_tensor *test_make_(tg_dtype dt, const double *vals, int64_t n, int ndim, const int64_t *shape) {
  unsigned char buf[8 * 256];
  if (n > 256) return NULL;
  for (int64_t i = 0; i < n; i++) test_store(buf, dt, i, vals[i]);
  return tg_from_data(buf, dt, ndim, shape);
}
#define test_make(dt, vals, ...) test_make_((dt), (vals), TEST_COUNT(vals), TG_SHAPE(__VA_ARGS__))

// ---------------------------------------------------------------------------------------------------------------------
// checks

static inline const char *test_dt_name(tg_dtype dt) {
  const char *n = (int)dt >= 0 && dt < TG_NDTYPES ? tg_dtype_name(dt) : NULL;
  return n ? n : "?";
}

static inline const char *test_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t k = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (k < n) snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
  return buf;
}

/* 0 and a failed assertion if t is NULL or its shape is not (ndim, shape) */
static inline int test_shape_ok(tg_tensor *t, int ndim, const int64_t *shape, const char *expr, const char *file,
                                int line) {
  if (!t)
    return test_check(0, file, line, "%s is NULL; tg_error: %s", expr, tg_error() ? tg_error() : "(none)");
  int ok = tg_ndim(t) == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = tg_shape(t)[i] == shape[i];
  if (!ok) {
    char b1[256], b2[256];
    return test_check(0, file, line, "%s has shape %s, expected %s", expr, test_shape_str(tg_ndim(t), tg_shape(t), b1,
                      sizeof b1), test_shape_str(ndim, shape, b2, sizeof b2));
  }
  return 1;
}

static inline int test_tensor_near(tg_tensor *t, const float *want, int ndim, const int64_t *shape, double tol,
                                   const char *expr, const char *expr_want, const char *file, int line) {
  if (!test_shape_ok(t, ndim, shape, expr, file, line)) return 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  float *got = tg_to_float(t);
  if (!got)
    return test_check(0, file, line, "tg_to_float(%s) failed; tg_error: %s", expr, tg_error() ? tg_error() : "(none)");
  int ok = n == 0 ? test_check(1, file, line, "%s", "") : test_check_arr_near(got, want, n, tol, expr, expr_want, file,
                                                                                line);
  free(got);
  return ok;
}
#define CHECK_TENSOR(t, want, tol, ...)                                                                               \
  test_tensor_near((t), (want), TG_SHAPE(__VA_ARGS__), (tol), #t, #want, __FILE__, __LINE__)
#define CHECK_TENSOR0(t, want, tol)                                                                                   \
  test_tensor_near0((t), (want), (tol), #t, #want, __FILE__, __LINE__)

static inline int test_tensor_near0(tg_tensor *t, double want, double tol, const char *expr, const char *expr_want,
                                    const char *file, int line) {
  float w = (float)want;
  return test_tensor_near(t, &w, 0, NULL, tol, expr, expr_want, file, line);
}

/* element i of a buffer of dtype dt, for messages (halves shown by their bits) */
static inline double test_load(const void *buf, tg_dtype dt, int64_t i) {
  switch (dt) {
  case TG_BOOL: case TG_UINT8: return ((const uint8_t *)buf)[i];
  case TG_INT8: return ((const int8_t *)buf)[i];
  case TG_INT16: return ((const int16_t *)buf)[i];
  case TG_UINT16: case TG_FLOAT16: case TG_BFLOAT16: return ((const uint16_t *)buf)[i];
  case TG_INT32: return ((const int32_t *)buf)[i];
  case TG_UINT32: return ((const uint32_t *)buf)[i];
  case TG_INT64: return (double)((const int64_t *)buf)[i];
  case TG_UINT64: return (double)((const uint64_t *)buf)[i];
  case TG_FLOAT32: return ((const float *)buf)[i];
  case TG_FLOAT64: return ((const double *)buf)[i];
  default: return NAN;
  }
}

static inline int test_tensor_raw(tg_tensor *t, tg_dtype dt, const void *want, int ndim, const int64_t *shape,
                                  const char *expr, const char *file, int line) {
  if (!test_shape_ok(t, ndim, shape, expr, file, line)) return 0;
  if (tg_dtype_of(t) != dt)
    return test_check(0, file, line, "%s has dtype %s, expected %s", expr, test_dt_name(tg_dtype_of(t)),
                      test_dt_name(dt));
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  size_t nbytes = (size_t)n * (size_t)tg_dtype_size(dt);
  unsigned char *got = (unsigned char *)malloc(nbytes ? nbytes : 1);
  int rc = tg_to_host(t, got, nbytes);
  if (rc != 0) {
    free(got);
    return test_check(0, file, line, "tg_to_host(%s) failed; tg_error: %s", expr, tg_error() ? tg_error() : "(none)");
  }
  int64_t bad = 0, first = -1, sz = tg_dtype_size(dt);
  for (int64_t i = 0; i < n; i++)
    if (memcmp(got + i * sz, (const unsigned char *)want + i * sz, (size_t)sz) != 0) {
      if (first < 0) first = i;
      bad++;
    }
  int ok;
  if (first < 0) ok = test_check(1, file, line, "%s", "");
  else
    ok = test_check(0, file, line, "%s: %lld of %lld elements differ; first at [%lld]: %.10g vs %.10g", expr,
                    (long long)bad, (long long)n, (long long)first, test_load(got, dt, first),
                    test_load(want, dt, first));
  free(got);
  return ok;
}
#define CHECK_RAW(t, dt, want, ...) test_tensor_raw((t), (dt), (want), TG_SHAPE(__VA_ARGS__), #t, __FILE__, __LINE__)
#define CHECK_RAW0(t, dt, want) test_tensor_raw((t), (dt), (want), 0, NULL, #t, __FILE__, __LINE__)

static inline int test_dtype_is(tg_tensor *t, tg_dtype dt, const char *expr, const char *file, int line) {
  if (!t) return test_check(0, file, line, "%s is NULL; tg_error: %s", expr, tg_error() ? tg_error() : "(none)");
  return test_check(tg_dtype_of(t) == dt, file, line, "%s has dtype %s, expected %s", expr,
                    test_dt_name(tg_dtype_of(t)), test_dt_name(dt));
}
#define CHECK_DTYPE(t, dt) test_dtype_is((t), (dt), #t, __FILE__, __LINE__)

/* ONE assertion: t exists and has the shape given */
static inline int test_shape_is(tg_tensor *t, int ndim, const int64_t *shape, const char *expr, const char *file,
                                int line) {
  if (!t) return test_check(0, file, line, "%s is NULL; tg_error: %s", expr, tg_error() ? tg_error() : "(none)");
  int ok = tg_ndim(t) == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = tg_shape(t)[i] == shape[i];
  return test_check(ok, file, line, "%s has %d dimensions (first %lld), expected %d (first %lld)", expr, tg_ndim(t),
                    tg_ndim(t) ? (long long)tg_shape(t)[0] : -1LL, ndim, ndim ? (long long)shape[0] : -1LL);
}
#define CHECK_SHAPE(t, ...) test_shape_is((t), TG_SHAPE(__VA_ARGS__), #t, __FILE__, __LINE__)

/* ONE assertion: the error message exists and contains needle */
static inline int test_error_has(const char *needle, const char *file, int line) {
  const char *e = tg_error();
  return test_check(e && strstr(e, needle), file, line, "tg_error() is %s%s%s, expected a message containing \"%s\"",
                    e ? "\"" : "", e ? e : "NULL", e ? "\"" : "", needle);
}
#define CHECK_ERROR_HAS(needle) test_error_has((needle), __FILE__, __LINE__)

/* sum(out * G) with G = cos(i*0.7 + 0.3) of out's shape: the golden generators' weighted(), whose gradients are not
 * trivially uniform */
static inline tg_tensor *test_weighted(tg_tensor *out) {
  if (!out) return NULL;
  int64_t n = tg_numel(out);
  float *g = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) g[i] = (float)cos((double)i * 0.7 + 0.3);
  tg_tensor *gt = tg_from_float(g, tg_ndim(out), tg_shape(out));
  free(g);
  return tg_sum(tg_mul(out, gt), 0, NULL, 0);
}

/* an op that must fail: NULL, and a message containing both needles */
#define CHECK_FAILS2(expr, name, what)                                                                               \
  do {                                                                                                                \
    tg_clear_error();                                                                                                 \
    CHECK_NULL(expr);                                                                                                 \
    CHECK_ERROR_HAS(name);                                                                                            \
    CHECK_ERROR_HAS(what);                                                                                            \
  } while (0)

#endif /* HELPERS_H */
