/* bench.h: helpers shared by the benchmarks: a clock, a median, and the reference figure from bench/ref.py.
 * Each benchmark prints "name: ours UNIT, reference UNIT (ratio x)" so the comparison is made in one run. */
#ifndef BENCH_H
#define BENCH_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), bench_cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* runs bench/ref.py CASE with the first python that has numpy (and tinygrad for the cases that measure it): $PYTHON,
 * Debian's /usr/bin/python3 (numpy with Debian's OpenBLAS), then python3 (`make bench` installs what it can: tools/
 * deps.sh bench); NAN if none has them */
static inline double bench_reference(const char *which) {
  char cmd[768];
  int tg = !strncmp(which, "graph", 5) || !strncmp(which, "jit", 3) || !strncmp(which, "conv", 4);
  snprintf(cmd, sizeof cmd,
           "for p in \"${PYTHON:-}\" /usr/bin/python3 python3; do [ -n \"$p\" ] && \"$p\" -c 'import numpy%s' "
           "2>/dev/null && exec \"$p\" bench/ref.py %s 2>/dev/null; done; echo nan",
           tg ? ", tinygrad" : "", which);
  FILE *p = popen(cmd, "r");
  double v = 0.0 / 0.0;
  if (p) {
    if (fscanf(p, "%lf", &v) != 1) v = 0.0 / 0.0;
    pclose(p);
  }
  return v;
}

static void bench_report(const char *name, double ours, double ref, const char *unit, const char *refname,
                         int higher_is_better) {
  double ratio = higher_is_better ? ours / ref : ref / ours;
  printf("%-44s %10.2f %-7s | %-18s %10.2f %-7s | %.2fx\n", name, ours, unit, refname, ref, unit, ratio);
}
#endif
