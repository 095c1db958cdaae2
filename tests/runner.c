/* runner.c: runs every test of tests/ and counts assertions. It is THE translation unit that holds the implementation
 * of tinygrad.h (tests/test_*.c see only the declarations).
 *
 * Contract:
 *   build/run_tests [FILTER]   runs the tests whose name or file contains FILTER (all of them without one), in the
 *                              order of their files, then of their definition. TEST_VERBOSE=1 prints each test and
 *                              its time. TEST_SHARD=K/N runs only every Nth of them from the Kth (0 <= K < N), so that
 *                              N processes share the suite (`make test-opencl` runs one a core).
 *   Output: each failed assertion as `file:line: message`, a FAIL line per failing test, then `N tests run`, then the
 *   last line `N passed, N failed` counting assertions. Exit status 1 if any assertion failed (or FILTER matched no
 *   test), 0 otherwise.
 *   tg_clear_error() runs before each test, so that tests do not see each other's errors.
 *   Files tests/internal_*.c are #included at the end of this file (the Makefile lists them in TEST_INTERNAL_INC):
 *   they see the implementation's private tg__ functions. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h" /* first: it defines _GNU_SOURCE for the implementation */
#include "backends/tinygrad_cuda.h"   /* DEV=CUDA runs the tests on an NVIDIA GPU */
#include "backends/tinygrad_opencl.h" /* DEV=OPENCL on an OpenCL device */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

// ---------------------------------------------------------------------------------------------------------------------
// the registry, filled by the constructors that TEST() defines (before main runs)

typedef struct test_case {
  const char *name, *file;
  void (*fn)(void);
  int order;  /* registration number: keeps a file's tests in their order of definition after sorting */
} test_case;

static test_case *test_cases;
static int test_ncases, test_cap;

void test_register(const char *name, void (*fn)(void), const char *file) {
  if (test_ncases == test_cap) {
    test_cap = test_cap ? 2 * test_cap : 64;
    test_cases = (test_case *)realloc(test_cases, (size_t)test_cap * sizeof *test_cases);
    if (!test_cases) {
      fputs("runner: out of memory\n", stderr);
      exit(2);
    }
  }
  test_cases[test_ncases].name = name;
  test_cases[test_ncases].file = file;
  test_cases[test_ncases].fn = fn;
  test_cases[test_ncases].order = test_ncases;
  test_ncases++;
}

static int test_case_cmp(const void *pa, const void *pb) {
  const test_case *a = (const test_case *)pa, *b = (const test_case *)pb;
  int c = strcmp(a->file, b->file);
  return c ? c : a->order - b->order;
}

// ---------------------------------------------------------------------------------------------------------------------
// assertions

static long test_passed, test_failed;  /* assertions, over the whole run */
static long test_failed_here;          /* assertions failed in the running test */

int test_check(int ok, const char *file, int line, const char *fmt, ...) {
  if (ok) {
    test_passed++;
    return 1;
  }
  test_failed++;
  test_failed_here++;
  printf("%s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  return 0;
}

/* |a-b| <= tol*(1+|b|); equal values (infinities too) and two NaNs pass */
static int test_near(double a, double b, double tol) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (a == b) return 1;
  return fabs(a - b) <= tol * (1.0 + fabs(b));
}

int test_check_near(double a, double b, double tol, const char *expr_a, const char *expr_b, const char *file,
                    int line) {
  return test_check(test_near(a, b, tol), file, line, "CHECK_NEAR(%s, %s) failed: %.9g vs %.9g (diff %.3g, tol %g)",
                    expr_a, expr_b, a, b, fabs(a - b), tol);
}

int test_check_arr_near(const float *got, const float *want, long n, double tol, const char *expr_got,
                        const char *expr_want, const char *file, int line) {
  if (!got || !want)
    return test_check(0, file, line, "CHECK_ARR_NEAR(%s, %s) failed: %s is NULL%s%s", expr_got, expr_want,
                      got ? expr_want : expr_got, tg_error() ? "; tg_error: " : "", tg_error() ? tg_error() : "");
  long bad = 0, first = -1;
  for (long i = 0; i < n; i++) {
    if (!test_near(got[i], want[i], tol)) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (first < 0) return test_check(1, file, line, "%s", "");
  return test_check(0, file, line, "CHECK_ARR_NEAR(%s, %s) failed: %ld of %ld differ; first at [%ld]: %.9g vs %.9g",
                    expr_got, expr_want, bad, n, first, (double)got[first], (double)want[first]);
}

int test_check_str(const char *a, const char *b, const char *expr_a, const char *expr_b, const char *file, int line) {
  int ok = (a && b) ? strcmp(a, b) == 0 : a == b;
  return test_check(ok, file, line, "CHECK_STR(%s, %s) failed: %s%s%s vs %s%s%s", expr_a, expr_b, a ? "\"" : "",
                    a ? a : "NULL", a ? "\"" : "", b ? "\"" : "", b ? b : "NULL", b ? "\"" : "");
}

int test_check_not_null(const void *p, const char *expr, const char *file, int line) {
  const char *err = tg_error();
  return test_check(p != NULL, file, line, "CHECK_NOT_NULL(%s) failed%s%s", expr, err ? "; tg_error: " : "",
                    err ? err : "");
}

// ---------------------------------------------------------------------------------------------------------------------
// main

static double test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  /* keeps our lines in order with sanitizer reports on stderr */
  const char *filter = argc > 1 ? argv[1] : NULL;
  setenv("TEST_SELF", argv[0], 0); /* tests that run a child of the runner (the disk cache test) */
  const char *verbose_env = getenv("TEST_VERBOSE");
  int verbose = verbose_env && atoi(verbose_env) > 0;
  const char *shard_env = getenv("TEST_SHARD");
  int shard = 0, shards = 1;
  if (shard_env && (sscanf(shard_env, "%d/%d", &shard, &shards) != 2 || shards < 1 || shard < 0 || shard >= shards)) {
    printf("TEST_SHARD=%s: expected K/N with 0 <= K < N\n", shard_env);
    return 1;
  }
  if (test_ncases > 1) qsort(test_cases, (size_t)test_ncases, sizeof *test_cases, test_case_cmp);

  int run = 0, failing = 0, matched = 0;
  for (int i = 0; i < test_ncases; i++) {
    test_case *t = &test_cases[i];
    if (filter && !strstr(t->name, filter) && !strstr(t->file, filter)) continue;
    if (matched++ % shards != shard) continue;
    test_failed_here = 0;
    tg_clear_error();
    double t0 = test_now();
    t->fn();
    double dt = test_now() - t0;
    run++;
    if (verbose) printf("%-40s %8.3f s  %s\n", t->name, dt, test_failed_here ? "FAIL" : "ok");
    if (test_failed_here) {
      failing++;
      printf("FAIL %s (%s): %ld assertion%s failed\n", t->name, t->file, test_failed_here,
             test_failed_here == 1 ? "" : "s");
    }
  }
  if (filter && matched == 0) printf("no test matches \"%s\"\n", filter);
  printf("%d tests run, %d failing\n", run, failing);
  printf("%ld passed, %ld failed\n", test_passed, test_failed);
  free(test_cases);
  return (test_failed > 0 || (filter && matched == 0)) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// tests of the private functions: tests/internal_*.c, listed by the Makefile in a generated file

#ifdef TEST_INTERNAL_INC
/* For the internal tests: the device `name`, the CPU under another name (registered once, through the CPU's own
 * description), speaking `dialect` (NULL: the C dialect) and describing its machine with `describe` (NULL: as the
 * CPU does). A test may call it again with other settings. */
static tg__device *tt_fake_device(const char *name, const tg__dialect *dialect,
                                  void (*describe)(void *ctx, tg_device_props *p)) {
  tg__errsave saved;
  tg__error_push(&saved);
  tg__device *d = tg__device_get(name);
  tg__error_pop(&saved);
  if (!d) {
    if (tg__device_add(name, &tg__cpu_device()->desc) < 0) return NULL;
    d = tg__device_get(name);
  }
  d->dialect = dialect ? dialect : tg__cpu_device()->dialect;
  d->desc.describe = describe ? describe : tg__cpu_device()->desc.describe;
  d->desc.launch_graph = NULL, d->desc.graph_free = NULL;
  return d;
}

#include TEST_INTERNAL_INC
#endif
