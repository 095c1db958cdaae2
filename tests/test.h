/* test.h: a tiny test framework for tinygrad.h's tests. The runner (tests/runner.c) collects and runs the tests.
 *
 * Contract:
 *  - TEST(name) { ... } defines `static void name(void)` and registers it before main runs (a constructor), so a test
 *    file needs no list and no main. Names must be unique across files only for readability: they are static.
 *  - Each CHECK_* macro is ONE assertion: it counts as passed or failed, prints `file:line: message` with the values
 *    on failure, and never stops the test (later checks still run). Every argument is evaluated exactly once.
 *  - CHECK_NEAR(a, b, tol) passes when |a-b| <= tol*(1+|b|): b is the expected value (relative plus absolute). Equal
 *    values pass, infinities included; two NaNs count as equal (as numpy's allclose with equal_nan).
 *  - CHECK_ARR_NEAR(got, want, n, tol) compares n floats with the same rule and reports the first mismatch.
 *  - CHECK_NOT_NULL(p) prints the library's tg_error() on failure: a NULL result usually means an error.
 *  - Helpers are named test_*, never tg_*: tg_ is the library's namespace.
 *
 * A test file includes "tinygrad.h" (declarations only) and "test.h". Files named tests/internal_*.c are instead
 * #included into tests/runner.c after the implementation, so they can call the private tg__ functions. */
#ifndef TEST_H
#define TEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* defined in tests/runner.c */
void test_register(const char *name, void (*fn)(void), const char *file);
int test_check(int ok, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
int test_check_near(double a, double b, double tol, const char *expr_a, const char *expr_b, const char *file, int line);
int test_check_arr_near(const float *got, const float *want, long n, double tol, const char *expr_got,
                        const char *expr_want, const char *file, int line);
int test_check_str(const char *a, const char *b, const char *expr_a, const char *expr_b, const char *file, int line);
int test_check_not_null(const void *p, const char *expr, const char *file, int line); /* prints tg_error() too */

#ifdef __cplusplus
}
#endif

#define TEST(name)                                                                                                    \
  static void name(void);                                                                                             \
  __attribute__((constructor)) static void test__register_##name(void) { test_register(#name, name, __FILE__); }     \
  static void name(void)

#define CHECK(cond) test_check(!!(cond), __FILE__, __LINE__, "CHECK(%s) failed", #cond)

#define CHECK_EQ_INT(a, b)                                                                                            \
  do {                                                                                                                \
    long long test__a = (long long)(a), test__b = (long long)(b);                                                     \
    test_check(test__a == test__b, __FILE__, __LINE__, "CHECK_EQ_INT(%s, %s) failed: %lld != %lld", #a, #b, test__a,  \
               test__b);                                                                                              \
  } while (0)

#define CHECK_NEAR(a, b, tol) test_check_near((double)(a), (double)(b), (double)(tol), #a, #b, __FILE__, __LINE__)

#define CHECK_ARR_NEAR(got, want, n, tol)                                                                             \
  test_check_arr_near((got), (want), (long)(n), (double)(tol), #got, #want, __FILE__, __LINE__)

#define CHECK_STR(a, b) test_check_str((a), (b), #a, #b, __FILE__, __LINE__)

#define CHECK_NULL(p)                                                                                                 \
  do {                                                                                                                \
    const void *test__p = (const void *)(p);                                                                          \
    test_check(test__p == NULL, __FILE__, __LINE__, "CHECK_NULL(%s) failed: got %p", #p, test__p);                   \
  } while (0)

#define CHECK_NOT_NULL(p) test_check_not_null((const void *)(p), #p, __FILE__, __LINE__)

#endif /* TEST_H */
