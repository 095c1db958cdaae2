/* internal_opts.c: the Opt vocabulary (optimize.c). Every Opt, alone and in combinations, computes what the kernel
 * without optimisations computes (a matmul, a convolution, a reduction); an illegal Opt is refused with its reason and
 * leaves the tensor as it was; the heuristic's list, applied by hand, makes the same source as the default path.
 * #included into runner.c after the implementation. */
#include "test.h"

#define TO_OPT(op, axis, amount) {TG__OPT_##op, axis, amount}

/* a deterministic input of n values */
static tg_tensor *to_input(int ndim, const int64_t *shape, int seed) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  float *v = (float *)malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = (float)sin(0.37 * (double)(i + 1) * (seed + 1)) + 0.25f * (float)seed;
  tg_tensor *t = tg_from_data(v, TG_FLOAT32, ndim, shape);
  free(v);
  return t;
}

enum { TO_MATMUL, TO_MATMUL64, TO_CONV, TO_SUM, TO_ADD };

/* a fresh input of rows x cols, transposed */
static tg_tensor *to_transposed(int64_t rows, int64_t cols, int seed) {
  return tg_permute(to_input(TG_SHAPE(rows, cols), seed), 2, (int[]){1, 0});
}

/* a fresh graph (new input buffers, so nothing is reused from an earlier realisation) of the given kind */
static tg_tensor *to_graph(int kind) {
  switch (kind) {
  case TO_MATMUL: return tg_matmul(to_input(TG_SHAPE(24, 40), 1), to_input(TG_SHAPE(40, 48), 2));
  case TO_MATMUL64: return tg_matmul(to_input(TG_SHAPE(64, 40), 1), to_input(TG_SHAPE(40, 48), 2));
  case TO_CONV:
    return tg_conv2d(to_input(TG_SHAPE(2, 3, 10, 10), 3), to_input(TG_SHAPE(4, 3, 3, 3), 4), NULL, 1, 0, 1, 1);
  case TO_SUM: return tg_sum(to_input(TG_SHAPE(24, 40), 5), TG_AXES(1), 0);
  default: /* one input transposed: the two output loops cannot merge into one (tg__merge_loops) */
    return tg_add(to_input(TG_SHAPE(24, 48), 6), tg_permute(to_input(TG_SHAPE(48, 24), 7), 2, (int[]){1, 0}));
  }
}

/* the values of kind's graph realised with the list opts (n < 0: the heuristic's); NULL when it fails */
static float *to_run(int kind, const tg__opt *opts, int n, int64_t *numel) {
  tg__set_opts_override(opts, n);
  tg_tensor *t = to_graph(kind);
  int rc = tg_realize(t);
  tg__set_opts_override(NULL, -1);
  *numel = tg_numel(t);
  return rc == 0 ? tg_to_float(t) : NULL;
}

typedef struct { int kind; int n; tg__opt opts[4]; } to_case;

TEST(test_internal_opts_match_noopt) {
  static const to_case cases[] = {
      {TO_MATMUL, 1, {TO_OPT(UPCAST, 0, 4)}},
      {TO_MATMUL, 1, {TO_OPT(UPCAST, 1, 8)}},
      {TO_MATMUL, 1, {TO_OPT(UPCAST, 1, 0)}}, /* the whole axis */
      {TO_MATMUL, 1, {TO_OPT(UNROLL, 0, 4)}},
      {TO_MATMUL, 1, {TO_OPT(UNROLL, 0, 0)}}, /* the reduction loop disappears */
      {TO_MATMUL, 1, {TO_OPT(SWAP, 0, 1)}},
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 0, 8), TO_OPT(UPCAST, 1, 16)}},
      {TO_MATMUL, 3, {TO_OPT(UPCAST, 0, 4), TO_OPT(UPCAST, 1, 8), TO_OPT(UNROLL, 0, 8)}},
      {TO_MATMUL, 3, {TO_OPT(SWAP, 0, 1), TO_OPT(UPCAST, 0, 3), TO_OPT(UNROLL, 0, 5)}},
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 1, 2), TO_OPT(UPCAST, 1, 4)}}, /* one axis twice: 48 = 6 * 4 * 2 */
      {TO_CONV, 3, {TO_OPT(UPCAST, 1, 4), TO_OPT(UPCAST, 3, 2), TO_OPT(UNROLL, 2, 3)}},
      {TO_CONV, 2, {TO_OPT(UNROLL, 0, 3), TO_OPT(UNROLL, 1, 3)}},
      {TO_CONV, 1, {TO_OPT(SWAP, 0, 3)}},
      {TO_CONV, 2, {TO_OPT(UPCAST, 2, 8), TO_OPT(UNROLL, 2, 0)}},
      {TO_SUM, 1, {TO_OPT(UNROLL, 0, 8)}},
      {TO_SUM, 1, {TO_OPT(UPCAST, 0, 4)}},
      {TO_SUM, 2, {TO_OPT(UPCAST, 0, 4), TO_OPT(UNROLL, 0, 0)}},
      {TO_ADD, 2, {TO_OPT(UPCAST, 1, 16), TO_OPT(SWAP, 0, 1)}},
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 0, 0), TO_OPT(SWAP, 0, 1)}}, /* a loop of size 1 trades places */
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 1, 0), TO_OPT(SWAP, 1, 0)}},
      {TO_MATMUL, 1, {TO_OPT(THREAD, 1, 4)}}, /* the columns split across threads */
      {TO_MATMUL, 1, {TO_OPT(THREAD, 0, 0)}},
      {TO_MATMUL, 3, {TO_OPT(UPCAST, 0, 4), TO_OPT(THREAD, 1, 2), TO_OPT(UPCAST, 1, 8)}}, /* 48 = 2 * 3 * 8 */
      {TO_MATMUL, 3, {TO_OPT(THREAD, 1, 3), TO_OPT(SWAP, 0, 1), TO_OPT(UNROLL, 0, 4)}},
      {TO_CONV, 2, {TO_OPT(THREAD, 2, 4), TO_OPT(UPCAST, 3, 4)}},
      {TO_SUM, 2, {TO_OPT(THREAD, 0, 3), TO_OPT(UNROLL, 0, 4)}},
      {TO_ADD, 1, {TO_OPT(THREAD, 1, 16)}},
      {TO_MATMUL, 3, {TO_OPT(THREAD, 1, 6), TO_OPT(THREAD, 0, 4), TO_OPT(UPCAST, 1, 8)}}, /* a grid of 24 tasks */
      {TO_MATMUL, 3, {TO_OPT(UPCAST, 0, 2), TO_OPT(THREAD, 0, 3), TO_OPT(THREAD, 1, 0)}},
      {TO_MATMUL, 2, {TO_OPT(THREAD, 1, 2), TO_OPT(THREAD, 1, 3)}}, /* one axis twice: 48 = 2 * 3 * 8 */
      {TO_MATMUL, 1, {TO_OPT(GROUP, 0, 4)}}, /* 4 partial sums along k, added after the loop */
      {TO_MATMUL, 1, {TO_OPT(GROUP, 0, 0)}}, /* 40 of them: no loop left */
      {TO_MATMUL, 3, {TO_OPT(UPCAST, 0, 4), TO_OPT(GROUP, 0, 8), TO_OPT(UNROLL, 0, 5)}},
      {TO_CONV, 3, {TO_OPT(UPCAST, 1, 4), TO_OPT(UPCAST, 3, 2), TO_OPT(GROUP, 2, 3)}},
      {TO_SUM, 2, {TO_OPT(GROUP, 0, 8), TO_OPT(THREAD, 0, 4)}},
      {TO_CONV, 3, {TO_OPT(THREAD, 2, 4), TO_OPT(THREAD, 0, 2), TO_OPT(UPCAST, 3, 4)}},
      {TO_MATMUL, 2, {TO_OPT(PADTO, 1, 10), TO_OPT(UPCAST, 1, 10)}}, /* 48 -> 50 columns, five tiles of 10 */
      {TO_MATMUL, 3, {TO_OPT(PADTO, 0, 7), TO_OPT(UPCAST, 0, 7), TO_OPT(UPCAST, 1, 16)}}, /* 24 rows -> 28 */
      {TO_CONV, 2, {TO_OPT(PADTO, 3, 5), TO_OPT(UPCAST, 3, 5)}}, /* 8 -> 10 */
      {TO_SUM, 2, {TO_OPT(PADTO, 0, 7), TO_OPT(THREAD, 0, 4)}}, /* 24 -> 28 */
      {TO_ADD, 3, {TO_OPT(PADTO, 0, 5), TO_OPT(PADTO, 1, 10), TO_OPT(UPCAST, 1, 5)}},
      /* PADTO with a THREAD: the last tile shifted back over the one before it (test_internal_opts_padto_overlap) */
      {TO_MATMUL, 4, {TO_OPT(PADTO, 0, 7), TO_OPT(UPCAST, 0, 7), TO_OPT(UPCAST, 1, 16), TO_OPT(THREAD, 0, 2)}},
      {TO_MATMUL, 4, {TO_OPT(PADTO, 0, 5), TO_OPT(THREAD, 1, 3), TO_OPT(UPCAST, 0, 5), TO_OPT(UPCAST, 1, 16)}},
      {TO_MATMUL, 2, {TO_OPT(PADTO, 1, 10), TO_OPT(THREAD, 0, 3)}}, /* the columns' last tile */
      {TO_ADD, 3, {TO_OPT(PADTO, 0, 5), TO_OPT(PADTO, 1, 10), TO_OPT(THREAD, 1, 5)}}, /* the second one gated */
      {TO_CONV, 3, {TO_OPT(PADTO, 3, 5), TO_OPT(UPCAST, 3, 5), TO_OPT(THREAD, 0, 2)}},
      /* workgroups (a GPU's): the CPU refuses them */
      {TO_ADD, 1, {TO_OPT(LOCAL, 1, 16)}},
      {TO_ADD, 2, {TO_OPT(LOCAL, 0, 4), TO_OPT(LOCAL, 1, 8)}},
      {TO_MATMUL, 3, {TO_OPT(LOCAL, 1, 16), TO_OPT(UPCAST, 0, 4), TO_OPT(LOCAL, 0, 2)}},
      {TO_MATMUL, 1, {TO_OPT(LOCAL, 0, 0)}}, /* the whole axis: 24 threads */
      {TO_SUM, 1, {TO_OPT(GROUP, 0, 8)}},   /* 8 threads share each row's sum through shared memory */
      {TO_SUM, 1, {TO_OPT(GROUPTOP, 0, 8)}},
      {TO_SUM, 1, {TO_OPT(GROUP, 0, 0)}}, /* no loop left: one thread per element */
      {TO_SUM, 2, {TO_OPT(LOCAL, 0, 4), TO_OPT(GROUP, 0, 8)}},
      {TO_SUM, 3, {TO_OPT(UPCAST, 0, 2), TO_OPT(GROUP, 0, 4), TO_OPT(UNROLL, 0, 5)}},
      {TO_MATMUL, 3, {TO_OPT(UPCAST, 1, 4), TO_OPT(GROUPTOP, 0, 5), TO_OPT(LOCAL, 1, 4)}},
      {TO_CONV, 3, {TO_OPT(LOCAL, 3, 8), TO_OPT(GROUP, 2, 3), TO_OPT(GROUPTOP, 0, 3)}}, /* two GROUPs */
  };
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  for (int c = 0; c < TG__COUNT(cases); c++) {
    int threads = 0, wg = 0; /* THREAD is the CPU's (a GPU refuses it: test_internal_opts_illegal_refused), */
    for (int i = 0; i < cases[c].n; i++) { /* LOCAL and GROUPTOP a GPU's; GROUP is either's */
      threads |= cases[c].opts[i].op == TG__OPT_THREAD;
      wg |= cases[c].opts[i].op == TG__OPT_LOCAL || cases[c].opts[i].op == TG__OPT_GROUPTOP;
    }
    if ((threads && target.gpu) || (wg && !target.local_max)) continue;
    tg_scope_begin();
    int64_t n0 = 0, n1 = 0;
    float *want = to_run(cases[c].kind, NULL, 0, &n0); /* the empty list: NOOPT */
    float *got = to_run(cases[c].kind, cases[c].opts, cases[c].n, &n1);
    char *list = tg__opts_str(cases[c].opts, cases[c].n);
    test_check(want && got && n0 == n1, __FILE__, __LINE__, "case %d [%s]: %s", c, list, tg_error() ? tg_error() : "");
    double worst = 0;
    for (int64_t i = 0; want && got && i < n0; i++) {
      double d = fabs((double)got[i] - (double)want[i]) / (1 + fabs((double)want[i]));
      worst = d > worst ? d : worst;
    }
    test_check(worst <= 1e-5, __FILE__, __LINE__, "case %d [%s]: differs from NOOPT by %g", c, list, worst);
    TG_FREE(list);
    free(want);
    free(got);
    tg_scope_end();
  }
}

typedef struct { int kind; int n; tg__opt opts[3]; const char *why; } to_bad;

/* each case's list is refused with its reason, and the tensor stays as it was: realised again with the heuristic's
 * list, it computes what NOOPT does */
static void to_check_refused(const to_bad *cases, int n) {
  for (int c = 0; c < n; c++) {
    tg_scope_begin();
    tg__set_opts_override(cases[c].opts, cases[c].n);
    tg_tensor *t = to_graph(cases[c].kind);
    tg_clear_error();
    int rc = tg_realize(t);
    tg__set_opts_override(NULL, -1);
    const char *e = tg_error();
    test_check(rc == -1 && e && strstr(e, "cannot apply: ") && strstr(e, cases[c].why), __FILE__, __LINE__,
               "case %d: rc %d, error '%s', want '%s'", c, rc, e ? e : "(none)", cases[c].why);
    tg_clear_error();
    CHECK_EQ_INT(tg_realize(t), 0);
    int64_t n0 = 0;
    float *want = to_run(cases[c].kind, NULL, 0, &n0), *got = tg_to_float(t);
    CHECK(want && got && n0 == tg_numel(t));
    if (want && got) CHECK_ARR_NEAR(got, want, n0, 1e-5);
    free(want);
    free(got);
    tg_scope_end();
  }
}

TEST(test_internal_opts_illegal_refused) {
  static const to_bad cases[] = {
      {TO_MATMUL, 1, {TO_OPT(UPCAST, 2, 2)}, "no such output axis"},
      {TO_MATMUL, 1, {TO_OPT(UPCAST, -1, 2)}, "no such output axis"},
      {TO_MATMUL, 1, {TO_OPT(UPCAST, 0, 5)}, "the amount does not divide the axis"},
      {TO_MATMUL, 1, {TO_OPT(UPCAST, 0, 1)}, "at least 2"},
      {TO_MATMUL, 1, {TO_OPT(UNROLL, 1, 2)}, "no such reduction axis"},
      {TO_MATMUL, 2, {TO_OPT(UNROLL, 0, 0), TO_OPT(UNROLL, 0, 2)}, "an earlier opt removed that loop"},
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 0, 24), TO_OPT(UPCAST, 1, 48)}, "more than 1024 copies"},
      {TO_MATMUL, 1, {TO_OPT(SWAP, 0, 0)}, "SWAP's amount is another output axis"},
      {TO_MATMUL, 1, {TO_OPT(LOCAL, 0, 4)}, "a CPU kernel has no workgroups"},
      {TO_MATMUL, 1, {TO_OPT(TC, 0, 0)}, "a CPU kernel has no workgroups"},
      {TO_MATMUL, 1, {TO_OPT(STAGE, 0, 1)}, "a CPU kernel has no workgroups"},
      {TO_MATMUL, 1, {TO_OPT(GROUP, 0, 3)}, "the amount does not divide the axis"},
      {TO_MATMUL, 1, {TO_OPT(GROUP, 1, 4)}, "no such reduction axis"},
      {TO_ADD, 1, {TO_OPT(GROUP, 0, 2)}, "the kernel has no reduction loop"},
      {TO_MATMUL, 2, {TO_OPT(THREAD, 1, 0), TO_OPT(THREAD, 1, 2)}, "the amount does not divide the axis"},
      {TO_MATMUL, 1, {TO_OPT(THREAD, 1, 5)}, "the amount does not divide the axis"},
      {TO_MATMUL, 1, {TO_OPT(THREAD, 0, 1)}, "between 2 and 4096"},
      {TO_MATMUL, 1, {TO_OPT(PADTO, 0, 8)}, "a multiple of the amount already"},
      {TO_MATMUL, 1, {TO_OPT(PADTO, 0, 32)}, "more than a quarter of the axis"},
      {TO_MATMUL, 1, {TO_OPT(PADTO, 0, 1)}, "between 2 and 256"},
      {TO_ADD, 1, {TO_OPT(UNROLL, 0, 2)}, "the kernel has no reduction loop"},
  };
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the workgroup reasons are the CPU's */
  to_check_refused(cases, TG__COUNT(cases));
  /* the error names the kernel, the list and the opt */
  tg_scope_begin();
  tg__opt bad[2] = {TO_OPT(UPCAST, 0, 4), TO_OPT(UPCAST, 1, 7)};
  tg__set_opts_override(bad, 2);
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(to_graph(TO_MATMUL)), -1);
  tg__set_opts_override(NULL, -1);
  CHECK_STR(tg_error(), "kernel r_24_48_40: optimisation 1 of [UPCAST(0,4) UPCAST(1,7)] (UPCAST, axis 1, amount 7) "
                        "cannot apply: the amount does not divide the axis");
  tg_clear_error();
  tg_scope_end();
}

/* the workgroup Opts refused on a device that has workgroups (OpenCL, CUDA), each with its reason; the tensor stays
 * as it was. The sum over rows of a row's maximum is one kernel whose max is inside the sum's loop. */
TEST(test_internal_opts_workgroups_refused) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  if (!target.local_max) return; /* the CPU's reasons: test_internal_opts_illegal_refused */
  static const to_bad cases[] = {
      {TO_MATMUL, 1, {TO_OPT(LOCAL, 0, 5)}, "the amount does not divide the axis"},
      {TO_MATMUL, 1, {TO_OPT(LOCAL, 2, 2)}, "no such output axis"},
      {TO_MATMUL, 1, {TO_OPT(GROUP, 1, 2)}, "no such reduction axis"},
      {TO_MATMUL, 1, {TO_OPT(GROUPTOP, 0, 1)}, "at least 2"},
      {TO_ADD, 1, {TO_OPT(GROUP, 0, 2)}, "the kernel has no reduction loop"},
      {TO_MATMUL64, 2, {TO_OPT(LOCAL, 0, 64), TO_OPT(LOCAL, 1, 48)}, "more threads per workgroup than the device"},
      {TO_MATMUL, 2, {TO_OPT(NOLOCALS, 0, 0), TO_OPT(LOCAL, 0, 4)}, "NOLOCALS came before it"},
      {TO_MATMUL, 2, {TO_OPT(GROUP, 0, 4), TO_OPT(NOLOCALS, 0, 0)}, "the kernel has workgroups already"},
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 0, 2), TO_OPT(TC, 0, 0)}, "TC must come first"},
      {TO_MATMUL, 2, {TO_OPT(UPCAST, 0, 2), TO_OPT(STAGE, 0, 1)}, "STAGE must come first"},
      {TO_MATMUL, 1, {TO_OPT(STAGE, 0, 1)}, "the matmul is no multiple of the configuration's blocks"},
      {TO_MATMUL, 1, {TO_OPT(STAGE, 0, 10)}, "no such STAGE configuration (STAGE's amount)"},
      {TO_MATMUL, 1, {TO_OPT(STAGE, 1, 1)}, "no such reduction axis"},
      {TO_CONV, 1, {TO_OPT(STAGE, 0, 9)}, "the matmul is no multiple of the configuration's blocks"},
  };
  to_check_refused(cases, TG__COUNT(cases));
  tg_scope_begin();
  tg__opt nested[1] = {TO_OPT(GROUP, 1, 4)}; /* the max's loop, inside the sum's */
  tg__set_opts_override(nested, 1);
  tg_tensor *t = tg_sum(tg_max(to_input(TG_SHAPE(6, 8), 1), TG_AXES(1), 0), TG_AXES(0), 0);
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(t), -1);
  tg__set_opts_override(NULL, -1);
  CHECK(tg_error() && strstr(tg_error(), "cannot apply: a GROUPed reduction inside another reduction's loop"));
  tg_clear_error();
  float *v = tg_to_float(to_input(TG_SHAPE(6, 8), 1)), want = 0;
  for (int i = 0; v && i < 6; i++) {
    float m = v[i * 8];
    for (int j = 1; j < 8; j++) m = v[i * 8 + j] > m ? v[i * 8 + j] : m;
    want += m;
  }
  CHECK_NEAR(tg_item(t), want, 1e-5);
  free(v);
  tg_scope_end();
}

/* The heuristic on a device with workgroups: a sum of 4 rows of 4096 (4 outputs) is GROUPed, 256 threads a row,
 * each taking 4 adjacent values at a time (UNROLL), and the group's 256 partial sums added in two levels of 16; a
 * sum over the rows of 256 x 64 gets a LOCAL along the columns (adjacent threads read adjacent values) made last,
 * after the GROUP of the rows; a sum of each of 16384 rows of 64 (more rows than 1024 threads per compute unit
 * leave groups of 16 for, on any device of fewer than 128 units) also gives each thread 2 rows and each workgroup
 * 2 pairs. All compute what NOOPT computes. */
TEST(test_internal_opts_heuristic_groups) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  if (!target.local_max) return;
  tg_scope_begin();
  tg_tensor *x = to_input(TG_SHAPE(4, 4096), 2), *y = to_input(TG_SHAPE(256, 64), 3);
  tg_tensor *z = to_input(TG_SHAPE(16384, 64), 4);
  tg_tensor *outs[3] = {tg_sum(x, TG_AXES(1), 0), tg_sum(y, TG_AXES(0), 0), tg_sum(z, TG_AXES(1), 0)};
  const char *want[3] = {"UNROLL(0,4) GROUP(0,256)", "GROUP(0,8) LOCAL(0,32)",
                         "UNROLL(0,4) UPCAST(0,2) LOCAL(0,2) GROUP(0,16)"};
  for (int k = 0; k < (target.units < 128 ? 3 : 2); k++) {
    tg_schedule *s = tg_schedule_create(&outs[k], 1);
    CHECK(s && s->s.n == 1);
    if (s && s->s.n == 1) CHECK_STR(s->s.k[0].opts, want[k]);
    tg_schedule_free(s);
    CHECK_EQ_INT(tg_realize(outs[k]), 0);
    float *got = tg_to_float(outs[k]);
    tg__opt none[1] = {TO_OPT(UPCAST, 0, 0)};
    tg__set_opts_override(none, 0);
    tg_tensor *in = k == 0 ? to_input(TG_SHAPE(4, 4096), 2) : k == 1 ? to_input(TG_SHAPE(256, 64), 3)
                                                                    : to_input(TG_SHAPE(16384, 64), 4);
    tg_tensor *plain = tg_sum(in, TG_AXES(k == 1 ? 0 : 1), 0);
    float *ref = tg_realize(plain) == 0 ? tg_to_float(plain) : NULL;
    tg__set_opts_override(NULL, -1);
    CHECK(got && ref);
    if (got && ref) CHECK_ARR_NEAR(got, ref, tg_numel(outs[k]), 1e-4);
    free(got);
    free(ref);
  }
  tg_scope_end();
}

/* A GPU's workgroup shares a reduction of symbolic size too: the loop of n becomes ceil(n / G) gated iterations of
 * G threads, the loads past n read nothing and add the reduction's identity. Sums and maxima of the first n of 100
 * values of 8 rows, for n from 1 to 100 (one compiled kernel each), equal the host's; the max of negative values
 * shows that the identity, not a 0 from a gated load, fills the rest. */
TEST(test_internal_opts_group_symbolic) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  if (!target.local_max) return;
  tg_scope_begin();
  tg_tensor *x = to_input(TG_SHAPE(8, 100), 5);
  tg_tensor *neg = tg_sub_s(tg_neg(tg_abs(x)), 1); /* every value below -1 */
  float *hx = tg_to_float(x);
  tg_variable *v = tg_variable_new("grp_n", 1, 100);
  static const int64_t ns[4] = {1, 37, 64, 100};
  for (int i = 0; i < 4 && hx; i++) {
    CHECK_EQ_INT(tg_variable_bind(v, ns[i]), 0);
    tg_sint b[4] = {{NULL, 0}, {NULL, 8}, {NULL, 0}, {v, 0}};
    tg_tensor *sum = tg_sum(tg_shrink_sym(x, 2, b), TG_AXES(1), 0);
    tg_tensor *mx = tg_max(tg_shrink_sym(neg, 2, b), TG_AXES(1), 0);
    tg_schedule *s = tg_schedule_create(&sum, 1);
    CHECK(s && s->s.n == 1 && strstr(s->s.k[0].opts, "GROUP(0,64)"));
    tg_schedule_free(s);
    float *gs = tg_to_float(sum), *gm = tg_to_float(mx);
    CHECK(gs && gm);
    for (int r = 0; gs && gm && r < 8; r++) {
      double ws = 0, wm = -INFINITY;
      for (int j = 0; j < ns[i]; j++) {
        ws += hx[r * 100 + j];
        double nv = -fabs((double)hx[r * 100 + j]) - 1;
        wm = nv > wm ? nv : wm;
      }
      CHECK_NEAR(gs[r], ws, 1e-4);
      CHECK_NEAR(gm[r], wm, 1e-5);
    }
    free(gs);
    free(gm);
  }
  free(hx);
  tg_scope_end();
}

/* On a device with workgroups the schedule splits a reduction to 32 outputs of 32768 values each in two kernels
 * (a max pool's compare in the summed values too), but not a one-hot sum, which codegen turns into loads; the
 * values are the ones NOOPT computes on the same device (which splits the same way: the split is the schedule's). */
TEST(test_internal_opts_gpu_split) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  if (!target.local_max) return; /* the CPU splits to fewer than 16 outputs only (test_reduce) */
  tg_scope_begin();
  tg_tensor *x = to_input(TG_SHAPE(32, 32, 32, 32), 4);
  CHECK_EQ_INT(tg_realize(x), 0);
  tg_tensor *mask = tg_cast(tg_eq(x, tg_max(x, TG_AXES(3), 1)), TG_FLOAT32); /* a max pool's backward compares */
  tg_tensor *idx = tg_cast(tg_mul_s(tg_sin(tg_arange(0, 32, 1, TG_FLOAT32)), 0), TG_INT32);
  tg_tensor *outs[3] = {tg_sum(x, TG_AXES(0, 2, 3), 0), tg_sum(tg_mul(x, mask), TG_AXES(0, 2, 3), 0),
                        tg_gather(tg_reshape(x, TG_SHAPE(32, 32768)), 0, tg_reshape(idx, TG_SHAPE(32, 1)))};
  const int want_kernels[3] = {2, 3, 1}; /* sum, sum; max, sum, sum; the gather's loads */
  for (int k = 0; k < 3; k++) {
    tg_schedule *s = tg_schedule_create(&outs[k], 1);
    test_check(s && s->s.n == want_kernels[k], __FILE__, __LINE__, "case %d: %d kernels, want %d", k,
               s ? s->s.n : -1, want_kernels[k]);
    tg_schedule_free(s);
  }
  float *got[2] = {NULL, NULL}, *ref[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++) got[k] = tg_realize(outs[k]) == 0 ? tg_to_float(outs[k]) : NULL;
  tg__opt none[1] = {TO_OPT(UPCAST, 0, 0)};
  tg__set_opts_override(none, 0);
  tg_tensor *plain[2] = {tg_sum(x, TG_AXES(0, 2, 3), 0), tg_sum(tg_mul(x, mask), TG_AXES(0, 2, 3), 0)};
  for (int k = 0; k < 2; k++) ref[k] = tg_realize(plain[k]) == 0 ? tg_to_float(plain[k]) : NULL;
  tg__set_opts_override(NULL, -1);
  float *v = tg_to_float(x); /* and the first sum against the host's, in double */
  double host = 0;
  for (int64_t i = 0; v && i < 32 * 32 * 32 * 32; i++) host += ((i / 1024) % 32 == 5) ? v[i] : 0;
  for (int k = 0; k < 2; k++) {
    CHECK(got[k] && ref[k]);
    if (got[k] && ref[k]) CHECK_ARR_NEAR(got[k], ref[k], 32, 1e-4);
    free(got[k]);
    free(ref[k]);
  }
  float *sums = tg_to_float(outs[0]);
  CHECK(sums && v);
  if (sums && v) CHECK_NEAR(sums[5], host, 1e-3 * (1 + fabs(host)));
  free(sums);
  free(v);
  tg_scope_end();
}

/* the kernel of a one-kernel schedule of kind's graph (its opts and source) */
static tg_schedule *to_schedule(int kind, const tg__opt *opts, int n) {
  tg__set_opts_override(opts, n);
  tg_tensor *t = to_graph(kind);
  tg_schedule *s = tg_schedule_create(&t, 1);
  tg__set_opts_override(NULL, -1);
  return s;
}

TEST(test_internal_opts_heuristic_is_a_list) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the tile is the CPU's */
  tg_scope_begin();
  tg_schedule *s = to_schedule(TO_MATMUL64, NULL, -1);
  CHECK(s && s->s.n == 1);
  if (s && s->s.n == 1) {
    /* 64 x 48: rows by 8 (AVX-512) or 4 (else; the rows stay 8 or more for the threads), columns by 16, the
     * reduction not unrolled (no sliding window) */
    int wide = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    wide = __builtin_cpu_supports("avx512f");
#endif
    CHECK_STR(s->s.k[0].opts, wide ? "UPCAST(0,8) UPCAST(1,16)" : "UPCAST(0,4) UPCAST(1,16)");
    /* the same list given by hand makes the same source */
    tg__opt list[2] = {TO_OPT(UPCAST, 0, wide ? 8 : 4), TO_OPT(UPCAST, 1, 16)};
    tg_schedule *h = to_schedule(TO_MATMUL64, list, 2);
    CHECK(h && h->s.n == 1 && s->s.k[0].src && h->s.k[0].src && !strcmp(s->s.k[0].src, h->s.k[0].src));
    /* its tile's rows are contiguous in the output: stored as they are, not staged (render.c) */
    CHECK(s->s.k[0].src && !strstr(s->s.k[0].src, "stage"));
    tg_schedule_free(h);
    /* and the empty list makes another */
    tg_schedule *e = to_schedule(TO_MATMUL64, NULL, 0);
    CHECK(e && e->s.n == 1 && e->s.k[0].opts && !strcmp(e->s.k[0].opts, "") && strcmp(s->s.k[0].src, e->s.k[0].src));
    tg_schedule_free(e);
  }
  tg_schedule_free(s);
  /* an elementwise kernel gets no optimisation */
  s = to_schedule(TO_ADD, NULL, -1);
  CHECK(s && s->s.n == 1 && s->s.k[0].opts && !strcmp(s->s.k[0].opts, ""));
  tg_schedule_free(s);
  tg_scope_end();
}

TEST(test_internal_opts_str) {
  tg__opt l[3] = {TO_OPT(UPCAST, 0, 8), TO_OPT(UNROLL, 1, 0), TO_OPT(SWAP, 0, 2)};
  char *s = tg__opts_str(l, 3);
  CHECK_STR(s, "UPCAST(0,8) UNROLL(1,0) SWAP(0,2)");
  TG_FREE(s);
  s = tg__opts_str(l, 0);
  CHECK_STR(s, "");
  TG_FREE(s);
  for (int i = 0; i < TG__NOPTOPS; i++) CHECK(tg__optop_names[i] && tg__optop_names[i][0]);
}

TEST(test_internal_opts_target_of_the_cpu) {
  tg__target t;
  tg__device_target(tg__cpu_device(), &t);
  CHECK_EQ_INT(t.gpu, 0);
  CHECK(t.cores >= 1 && t.cores <= 64);
  CHECK(t.l2_bytes >= (64 << 10) && t.l2_bytes <= (64LL << 20)); /* sysfs's, or 1 MiB */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  CHECK_EQ_INT(t.vec_floats, __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 4);
  CHECK_EQ_INT(t.vec_regs, __builtin_cpu_supports("avx512f") ? 32 : 16);
#endif
}

/* a CPU that describes itself as another machine: the heuristic sizes its tile from the registers it is told of */
static tg__target to_fake_target;
static void to_fake_describe(void *ctx, tg_device_props *p) {
  (void)ctx;
  const tg__target *t = &to_fake_target;
  p->vec_floats = t->vec_floats, p->vec_regs = t->vec_regs, p->cores = t->cores, p->l2_bytes = t->l2_bytes;
  p->local_max = t->local_max, p->shared_bytes = t->shared_bytes, p->units = t->units;
  p->tensor_cores = t->tensor_cores, p->wgmma = t->wgmma, p->l3_bytes = t->l3_bytes;
}

/* registers the device OFAKE once: this machine's CPU, describing itself as to_fake_target; 1 when it is there */
static int to_fake_device(void) {
  return tt_fake_device("OFAKE", NULL, to_fake_describe) != NULL;
}

/* the fake device registered (checked), and DEV kept in saved ("" when unset) for to_fake_end; whether it is */
static int to_fake_begin(char *saved, size_t n) {
  int registered = to_fake_device();
  CHECK(registered);
  const char *old = getenv("DEV");
  snprintf(saved, n, "%s", old ? old : "");
  return registered;
}
static void to_fake_end(const char *saved) {
  if (saved[0]) setenv("DEV", saved, 1);
  else unsetenv("DEV");
}

TEST(test_internal_opts_heuristic_reads_the_machine) {
  char saved[64];
  int registered = to_fake_begin(saved, sizeof saved);
  setenv("DEV", "OFAKE", 1);
  /* vector lanes, registers -> the 64x48 matmul's tile (rows stay 8 or more for the threads). Cache blocking: with a
   * level-2 cache of 8 KiB, B (40 x 48 floats, 7.5 KiB) passes a quarter of it, so the columns become 3 blocks of one
   * 16-column panel (2.5 KiB of B each) and the rows 2 blocks of 4 tiles (a block of rows keeps 3 tiles or more,
   * which share its block of B; 2-tile blocks of 12 rows ran 6% slower on 2 AVX-512 cores); with 32 KiB or more, no
   * blocking. Each computes what the same matmul computes on the CPU. */
  static const struct { int lanes, regs; int64_t l2; const char *opts; } machines[] = {
      {16, 32, 1 << 20, "UPCAST(0,8) UPCAST(1,16)"}, /* AVX-512: 8x32, but 48 columns take 16 */
      {8, 16, 1 << 20, "UPCAST(0,4) UPCAST(1,16)"},  /* AVX2: 4x16 (a reduction of 40: see the next test) */
      {4, 32, 1 << 20, "UPCAST(0,8) UPCAST(1,8)"},   /* NEON: 8x8 */
      {4, 16, 1 << 20, "UPCAST(0,4) UPCAST(1,8)"},   /* SSE: 4x8 */
      {16, 32, 8 << 10, "UPCAST(0,8) UPCAST(1,16) THREAD(1,3) THREAD(0,2)"},
      {16, 32, 32 << 10, "UPCAST(0,8) UPCAST(1,16)"},
  };
  for (int m = 0; m < TG__COUNT(machines) && registered; m++) {
    tg_scope_begin();
    to_fake_target.gpu = 0;
    to_fake_target.vec_floats = machines[m].lanes;
    to_fake_target.vec_regs = machines[m].regs;
    to_fake_target.cores = 2;
    to_fake_target.l2_bytes = machines[m].l2;
    tg_tensor *t = to_graph(TO_MATMUL64);
    tg_schedule *s = tg_schedule_create(&t, 1);
    CHECK(s && s->s.n == 1);
    if (s && s->s.n == 1) CHECK_STR(s->s.k[0].opts, machines[m].opts);
    tg_schedule_free(s);
    CHECK_EQ_INT(tg_realize(t), 0);
    float *got = tg_to_float(t);
    setenv("DEV", "CPU", 1);
    float *want = tg_to_float(to_graph(TO_MATMUL64));
    setenv("DEV", "OFAKE", 1);
    CHECK(got && want);
    if (got && want) CHECK_ARR_NEAR(got, want, 64 * 48, 1e-5);
    free(got);
    free(want);
    tg_scope_end();
  }
  to_fake_target.l2_bytes = 1 << 20;
  /* a copy whose innermost loop is two vectors (32 floats on the fake AVX-512) runs it straight-line: UPCAST of the
   * whole axis, a pad's gated loads too (its two outer loops merged: axis 1); not a loop of 24 (not whole vectors).
   * The values are the CPU's. */
  static const struct { int64_t d0, d2; int pad; const char *opts; } copies[] = {
      {40, 32, 0, "UPCAST(2,0)"}, {40, 30, 1, "UPCAST(1,0)"}, {40, 24, 0, ""}}; /* the pad: 30 + 2 = 32 */
  for (int m = 0; m < TG__COUNT(copies) && registered; m++) {
    for (int dev = 0; dev < 2; dev++) {
      tg_scope_begin();
      setenv("DEV", dev ? "CPU" : "OFAKE", 1);
      int perm[3] = {1, 0, 2};
      int64_t d0 = copies[m].d0, d2 = copies[m].d2;
      tg_tensor *x = to_input(TG_SHAPE(3, d0, d2), 9 + m);
      static const int64_t pads[6] = {0, 0, 0, 0, 1, 1};
      tg_tensor *t = copies[m].pad ? tg_pad(x, 3, pads, 0) : tg_contiguous(tg_permute(x, 3, perm));
      if (!dev) {
        tg_schedule *s = tg_schedule_create(&t, 1);
        CHECK(s && s->s.n == 1);
        if (s && s->s.n == 1) CHECK_STR(s->s.k[0].opts, copies[m].opts);
        tg_schedule_free(s);
      }
      static float *want;
      float *got = tg_to_float(t);
      CHECK(got != NULL);
      if (dev && got && want) CHECK_ARR_NEAR(got, want, tg_numel(t), 0);
      if (!dev) want = got;
      else free(got), free(want), want = NULL;
      tg_scope_end();
    }
  }
  setenv("DEV", "OFAKE", 1);
  /* the cores: an outermost loop of 2 leaves 14 of 16 cores idle, so the 96 columns are split in 16 instead; with 2
   * cores, nothing changes. The same values either way. */
  static const struct { int cores; const char *opts; } cores[] = {{16, "THREAD(1,16)"}, {2, ""}, {32, "THREAD(1,32)"}};
  for (int m = 0; m < TG__COUNT(cores) && registered; m++) {
    tg_scope_begin();
    to_fake_target.vec_floats = 16, to_fake_target.vec_regs = 32, to_fake_target.cores = cores[m].cores;
    tg_tensor *t = tg_exp(to_transposed(96, 2, 3 + m)); /* two loops (the merge leaves them) */
    tg_schedule *s = tg_schedule_create(&t, 1);
    CHECK(s && s->s.n == 1);
    if (s && s->s.n == 1) CHECK_STR(s->s.k[0].opts, cores[m].opts);
    tg_schedule_free(s);
    CHECK_EQ_INT(tg_realize(t), 0);
    float *got = tg_to_float(t);
    setenv("DEV", "CPU", 1);
    float *want = tg_to_float(tg_exp(to_transposed(96, 2, 3 + m)));
    setenv("DEV", "OFAKE", 1);
    CHECK(got && want);
    if (got && want) CHECK_ARR_NEAR(got, want, 2 * 96, 1e-6);
    free(got);
    free(want);
    tg_scope_end();
  }
  /* a weight gradient's tile runs along the output channels (the loop a kernel window's input does not read), which
   * is its outermost loop: all 32 channels in one tile (two vectors), the threads splitting the input channels
   * instead (the other output loops give every core its share) */
  to_fake_target.vec_floats = 16, to_fake_target.vec_regs = 32, to_fake_target.cores = 2;
  float *dw[2] = {NULL, NULL};
  int saw32 = 0;
  for (int dev = 0; dev < 2 && registered; dev++) { /* OFAKE, then the CPU's own heuristic for the values */
    tg_scope_begin();
    setenv("DEV", dev ? "CPU" : "OFAKE", 1);
    tg_tensor *w = tg_requires_grad(to_input(TG_SHAPE(32, 4, 5, 5), 7), 1);
    tg_tensor *y = tg_conv2d(to_input(TG_SHAPE(2, 4, 12, 12), 8), w, NULL, 1, 0, 1, 1);
    CHECK_EQ_INT(tg_backward(tg_sum(y, 0, NULL, 0)), 0);
    tg_tensor *g = tg_grad(w);
    tg_schedule *s = g ? tg_schedule_create(&g, 1) : NULL;
    for (int i = 0; !dev && s && i < s->s.n; i++)
      saw32 |= s->s.k[i].opts && strstr(s->s.k[i].opts, "UPCAST(0,32)") && strstr(s->s.k[i].opts, "THREAD(1,2)");
    tg_schedule_free(s);
    dw[dev] = g ? tg_to_float(g) : NULL;
    tg_scope_end();
  }
  CHECK(saw32);
  CHECK(dw[0] && dw[1]);
  if (dw[0] && dw[1]) CHECK_ARR_NEAR(dw[0], dw[1], 32 * 4 * 5 * 5, 1e-3);
  free(dw[0]);
  free(dw[1]);
  to_fake_end(saved);
}

/* One loop of outputs, one reduction: a matrix-vector product's 4 outputs a thread share each load of the vector
 * (UPCAST(0,4)) with 32 accumulators each (GROUP); a sum's rows, whose outputs share no input, keep one output a
 * thread (a sum() split in two is 256 rows: 64 tasks of 4 rows left 16 cores claims of 1 MiB). Values: the CPU's. */
TEST(test_internal_opts_matvec_and_sum_rows) {
  char saved[64];
  int registered = to_fake_begin(saved, sizeof saved);
  to_fake_target.gpu = 0, to_fake_target.vec_floats = 8, to_fake_target.vec_regs = 16, to_fake_target.cores = 16;
  static const char *const want_opts[2] = {"UPCAST(0,4) GROUP(0,32)", "GROUP(0,32)"};
  for (int c = 0; c < 2 && registered; c++) {
    float *v[2] = {NULL, NULL};
    for (int dev = 0; dev < 2; dev++) {
      tg_scope_begin();
      setenv("DEV", dev ? "CPU" : "OFAKE", 1);
      tg_tensor *w = to_input(TG_SHAPE(256, 1024), 21), *x = to_input(TG_SHAPE(1024, 1), 22);
      tg_tensor *t = c ? tg_sum(w, TG_AXES(1), 0) : tg_matmul(w, x);
      if (!dev) {
        tg_schedule *s = tg_schedule_create(&t, 1);
        CHECK(s && s->s.n == 1);
        if (s && s->s.n == 1) CHECK_STR(s->s.k[0].opts, want_opts[c]);
        tg_schedule_free(s);
      }
      v[dev] = tg_to_float(t);
      tg_scope_end();
    }
    CHECK(v[0] && v[1]);
    if (v[0] && v[1]) CHECK_ARR_NEAR(v[0], v[1], 256, 1e-4);
    free(v[0]);
    free(v[1]);
  }
  to_fake_end(saved);
}

/* With 16 vector registers (AVX2, SSE) a matmul whose reduction is long gets 6 rows by two vectors, the rows padded
 * to a multiple of 6 (PADTO: 64 -> 66, 11 tiles: no THREAD keeps two in a task, so the padding is gated); with 32
 * (AVX-512, NEON) 12 rows when padding to 12 adds at most a 32nd (190 -> 192) and the tiles split in blocks of 3 or
 * more (128 rows, 11 tiles of 12, do not), else 8, and rows that 8 does not
 * divide are padded to 8 too (62 -> 64) when the tile is two whole vectors wide; a padded tile gets a THREAD of two
 * tiles or more a task, so that its last tile may overlap the one before it; a reduction of 40 (above) keeps 4 rows.
 * The padded tile computes what the CPU computes. */
TEST(test_internal_opts_matmul_tile_of_six_rows) {
  char saved[64];
  int registered = to_fake_begin(saved, sizeof saved);
  static const struct { int lanes, regs, cores; int64_t m, n; const char *opts; } machines[] = {
      {8, 16, 2, 64, 48, "PADTO(0,6) UPCAST(0,6) UPCAST(1,16)"}, /* AVX2 */
      {4, 16, 2, 64, 48, "PADTO(0,6) UPCAST(0,6) UPCAST(1,8)"},  /* SSE */
      {16, 32, 2, 64, 48, "UPCAST(0,8) UPCAST(1,16)"},           /* AVX-512 */
      {16, 32, 2, 62, 64, "PADTO(0,8) UPCAST(0,8) UPCAST(1,32) THREAD(0,4)"},  /* AVX-512, 62 rows */
      {16, 32, 2, 190, 64, "PADTO(0,12) UPCAST(0,12) UPCAST(1,32) THREAD(0,8)"}, /* 190 rows: 16 tiles of 12 */
      {16, 32, 2, 192, 64, "UPCAST(0,12) UPCAST(1,32)"},                         /* 192 rows */
      {16, 32, 2, 128, 64, "UPCAST(0,8) UPCAST(1,32)"}, /* 11 tiles of 12 would split in no blocks: 8 rows */
      /* B of 96 x 3072 passes a quarter of the level-2 cache: 6 blocks of columns, and on 16 cores also 13 blocks of
       * rows (of one tile each, so the padding is gated), which 2 cores do not need */
      {16, 32, 2, 100, 3072, "PADTO(0,8) UPCAST(0,8) UPCAST(1,32) THREAD(1,6)"},
      {16, 32, 16, 100, 3072, "PADTO(0,8) UPCAST(0,8) UPCAST(1,32) THREAD(1,6) THREAD(0,13)"},
  };
  for (int m = 0; m < TG__COUNT(machines) && registered; m++) {
    tg_scope_begin();
    setenv("DEV", "OFAKE", 1);
    to_fake_target.gpu = 0;
    to_fake_target.vec_floats = machines[m].lanes;
    to_fake_target.vec_regs = machines[m].regs;
    to_fake_target.cores = machines[m].cores;
    to_fake_target.l2_bytes = 1 << 20;
    int64_t M = machines[m].m, N = machines[m].n;
    tg_tensor *t = tg_matmul(to_input(TG_SHAPE(M, 96), 11), to_input(TG_SHAPE(96, N), 12));
    tg_schedule *s = tg_schedule_create(&t, 1);
    int packed = M * N * 96 >= (1 << 22); /* B copied into panels first: the product is the second kernel */
    CHECK(s && s->s.n == 1 + packed);
    if (s && s->s.n == 1 + packed) CHECK_STR(s->s.k[packed].opts, machines[m].opts);
    tg_schedule_free(s);
    float *got = tg_to_float(t);
    setenv("DEV", "CPU", 1);
    float *want = tg_to_float(tg_matmul(to_input(TG_SHAPE(M, 96), 11), to_input(TG_SHAPE(96, N), 12)));
    CHECK(got && want);
    if (got && want) CHECK_ARR_NEAR(got, want, M * N, 1e-5);
    free(got);
    free(want);
    tg_scope_end();
  }
  to_fake_end(saved);
}

/* Blocks of rows for the level-3 cache (tg__l3_rule): when A passes half of the cores' level 3 and B does not fit
 * level 2, the rows are split in blocks, outermost, each of 32 tiles or more whose A fits half a core's share, padded
 * so that the blocks divide them. The lists of 2 AVX2 cores with 512 KiB of level 2 and 8 MiB of level 3 each (Zen
 * 2): 4096 rows in 6-row tiles are 683, a prime, so they are padded to 4104 (units of 12) in 18 blocks of 228 rows
 * (3.6 MiB of A); 2048 rows (2052) in 6 blocks of 342; 1024 rows of A, 4 MiB, fit half of the 16 MiB of both cores
 * and get none, nor does any size when level 3 is not known, or when the blocks that fit would be smaller than 32
 * tiles; nor does 4096 on 16 AVX-512 cores of 19 MiB each (A, 64 MiB, fits half of their 300), which 2 such cores
 * split in 9 blocks. Scheduled only (not run); then a small product with caches to scale (570 x 64 by 64 x 64, 96
 * KiB of level 3 a core: 576 rows in 3 blocks of 16 units of 12) computes what the CPU computes. */
TEST(test_internal_opts_matmul_level3_blocks) {
  char saved[64];
  int registered = to_fake_begin(saved, sizeof saved);
  static const struct { int lanes, regs, cores; int64_t n, l2, l3; const char *opts; } cases[] = {
      {8, 16, 2, 4096, 512 << 10, 8 << 20, "PADTO(0,12) UPCAST(0,6) UPCAST(1,16) THREAD(0,18) THREAD(1,256)"},
      {8, 16, 2, 2048, 512 << 10, 8 << 20, "PADTO(0,6) UPCAST(0,6) UPCAST(1,16) THREAD(0,6) THREAD(1,128)"},
      {8, 16, 2, 1024, 512 << 10, 8 << 20, "PADTO(0,6) UPCAST(0,6) UPCAST(1,16) THREAD(1,32)"},
      {8, 16, 2, 4096, 512 << 10, 0, "PADTO(0,6) UPCAST(0,6) UPCAST(1,16) THREAD(1,256)"},
      /* a share whose half holds 64 rows of A: blocks of 10 tiles would read each block of B from memory for too few
       * rows (108-row blocks ran slower than none), so there are none */
      {8, 16, 2, 4096, 512 << 10, 2 << 20, "PADTO(0,6) UPCAST(0,6) UPCAST(1,16) THREAD(1,256)"},
      {16, 32, 16, 4096, 2 << 20, 19200 << 10, "PADTO(0,12) UPCAST(0,12) UPCAST(1,32) THREAD(1,128) THREAD(0,2)"},
      {16, 32, 2, 4096, 2 << 20, 19200 << 10, "PADTO(0,12) UPCAST(0,12) UPCAST(1,32) THREAD(0,9) THREAD(1,128)"},
  };
  memset(&to_fake_target, 0, sizeof to_fake_target);
  for (int c = 0; c < TG__COUNT(cases) && registered; c++) {
    tg_scope_begin();
    setenv("DEV", "OFAKE", 1);
    to_fake_target.vec_floats = cases[c].lanes, to_fake_target.vec_regs = cases[c].regs;
    to_fake_target.cores = cases[c].cores, to_fake_target.l2_bytes = cases[c].l2, to_fake_target.l3_bytes = cases[c].l3;
    int64_t n = cases[c].n;
    tg_tensor *t = tg_matmul(tg_rand(TG_FLOAT32, TG_SHAPE(n, n)), tg_rand(TG_FLOAT32, TG_SHAPE(n, n)));
    tg_schedule *s = tg_schedule_create(&t, 1);
    const char *got = NULL; /* the product's list: the kernel with the register tile */
    for (int i = 0; s && i < s->s.n; i++)
      if (s->s.k[i].opts && strstr(s->s.k[i].opts, "UPCAST(1,")) got = s->s.k[i].opts;
    test_check(got && !strcmp(got, cases[c].opts), __FILE__, __LINE__, "case %d: got [%s], want [%s]", c,
               got ? got : "(none)", cases[c].opts);
    tg_schedule_free(s);
    tg_scope_end();
  }
  to_fake_target.vec_floats = 8, to_fake_target.vec_regs = 16, to_fake_target.cores = 2;
  for (int pass = 0; pass < 2 && registered; pass++) { /* the fake machine's list, then the CPU's values */
    tg_scope_begin();
    setenv("DEV", pass ? "CPU" : "OFAKE", 1);
    to_fake_target.l2_bytes = 8 << 10, to_fake_target.l3_bytes = 96 << 10;
    static float *got;
    tg_tensor *t = tg_matmul(to_input(TG_SHAPE(570, 64), 31), to_input(TG_SHAPE(64, 64), 32));
    if (!pass) {
      tg_schedule *s = tg_schedule_create(&t, 1);
      int found = 0;
      for (int i = 0; s && i < s->s.n; i++)
        found |= s->s.k[i].opts &&
                 !strcmp(s->s.k[i].opts, "PADTO(0,12) UPCAST(0,6) UPCAST(1,16) THREAD(0,3) THREAD(1,4)");
      CHECK(found);
      tg_schedule_free(s);
      got = tg_to_float(t);
    } else {
      float *want = tg_to_float(t);
      CHECK(got && want);
      if (got && want) CHECK_ARR_NEAR(got, want, 570 * 64, 1e-5);
      free(want);
      free(got);
      got = NULL;
    }
    tg_scope_end();
  }
  to_fake_end(saved);
}

/* PADTO on the CPU with a THREAD that keeps two tiles or more a task: the padded loop's last tile is shifted back to
 * end at the loop's size, over the tile before it (which it recomputes, in the same task), and no load or store is
 * gated; without a THREAD (the threads would split the tiles' loop), with one of a tile a task, or with a SWAP, the
 * loads and stores are gated instead. Each computes NOOPT's values: 190 x 96 by 96 x 64, 12-row tiles (192 rows). */
TEST(test_internal_opts_padto_overlap) {
  static const struct { int n; tg__opt opts[5]; int overlap; } cases[] = {
      {4, {TO_OPT(PADTO, 0, 12), TO_OPT(UPCAST, 0, 12), TO_OPT(UPCAST, 1, 32), TO_OPT(THREAD, 0, 8)}, 1},
      {4, {TO_OPT(PADTO, 0, 12), TO_OPT(THREAD, 0, 2), TO_OPT(UPCAST, 0, 12), TO_OPT(UPCAST, 1, 32)}, 1},
      {3, {TO_OPT(PADTO, 0, 12), TO_OPT(UPCAST, 0, 12), TO_OPT(THREAD, 1, 2)}, 1},
      {3, {TO_OPT(PADTO, 0, 12), TO_OPT(UPCAST, 0, 12), TO_OPT(UPCAST, 1, 32)}, 0},                      /* no THREAD */
      {4, {TO_OPT(PADTO, 0, 12), TO_OPT(UPCAST, 0, 12), TO_OPT(UPCAST, 1, 32), TO_OPT(THREAD, 0, 16)}, 0}, /* 1 tile */
      {4, {TO_OPT(PADTO, 0, 12), TO_OPT(UPCAST, 0, 12), TO_OPT(THREAD, 0, 4), TO_OPT(SWAP, 0, 1)}, 0},
  };
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  if (target.gpu) return; /* THREAD is the CPU's */
  for (int c = 0; c < TG__COUNT(cases); c++) {
    tg_scope_begin();
    float *got[2] = {NULL, NULL};
    int gated = -1, shifted = -1;
    for (int pass = 0; pass < 2; pass++) { /* NOOPT's list, then the case's */
      tg__set_opts_override(cases[c].opts, pass ? cases[c].n : 0);
      tg_tensor *t = tg_matmul(to_input(TG_SHAPE(190, 96), 21), to_input(TG_SHAPE(96, 64), 22));
      tg_schedule *s = tg_schedule_create(&t, 1);
      if (pass && s && s->s.n == 1 && s->s.k[0].src) {
        gated = strstr(s->s.k[0].src, "if (") != NULL;
        shifted = strstr(s->s.k[0].src, ":178)") != NULL; /* min(base, 190 - 12) */
      }
      tg_schedule_free(s);
      got[pass] = tg_realize(t) == 0 ? tg_to_float(t) : NULL;
      tg__set_opts_override(NULL, -1);
    }
    char *list = tg__opts_str(cases[c].opts, cases[c].n);
    test_check(gated == !cases[c].overlap && shifted == cases[c].overlap, __FILE__, __LINE__,
               "case %d [%s]: gated %d, shifted %d, want overlap %d", c, list, gated, shifted, cases[c].overlap);
    CHECK(got[0] && got[1]);
    if (got[0] && got[1]) CHECK_ARR_NEAR(got[1], got[0], 190 * 64, 1e-5);
    TG_FREE(list);
    free(got[0]);
    free(got[1]);
    tg_scope_end();
  }
}

/* The channel tile: a 32->32 5x5 convolution large enough to pack, forward and both gradients, on a fake AVX-512
 * machine of 2 cores with a 256 KiB level-2 cache. The weight is packed output channels fastest (ops.c,
 * tg__pack_channels), so the forward's tile runs along the 32 channels (optimize.c's vector rule: the output's x,
 * 14, is no whole vector), and its outputs, a plane apart, are stored through the staging array (render.c); so do
 * the input gradient's (x 18); the weight gradient sums 4 chunks of the batch (tg__conv_dw_chunk: 2 samples of dy,
 * 49 KiB, fit a quarter of the cache), then the chunks, a vector of outputs at a time. With a bias and a relu in
 * the forward's kernel, its 2 x 32 accumulators are staged first. The values are NOOPT=1's, which packs and tiles
 * nothing. */
TEST(test_internal_opts_conv_channel_tile) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the fake machine is this CPU */
  char saved[64];
  int registered = to_fake_begin(saved, sizeof saved);
  int noopt0 = tg__getenv_int("NOOPT", 0);
  memset(&to_fake_target, 0, sizeof to_fake_target);
  to_fake_target.vec_floats = 16, to_fake_target.vec_regs = 32, to_fake_target.cores = 2;
  to_fake_target.l2_bytes = 256 << 10;
  float *got[2][4] = {{NULL}};
  int64_t numel[4] = {8 * 32 * 14 * 14, 8 * 32 * 18 * 18, 32 * 32 * 5 * 5, 8 * 32 * 14 * 14};
  int channel_tile = 0, staged = 0, chunked = 0, summed = 0, fenced = 0;
  for (int noopt = 0; noopt < 2 && registered; noopt++) {
    tg_scope_begin();
    setenv("DEV", "OFAKE", 1);
    tg__setenv_int("NOOPT", noopt);
    tg_tensor *x = tg_requires_grad(to_input(TG_SHAPE(8, 32, 18, 18), 21), 1);
    tg_tensor *w = tg_requires_grad(to_input(TG_SHAPE(32, 32, 5, 5), 22), 1);
    tg_tensor *y = tg_conv2d(x, w, NULL, 1, 0, 1, 1), *wrt[2] = {x, w}, *gr[2] = {NULL, NULL};
    CHECK_EQ_INT(tg_gradient(tg_mul(y, to_input(TG_SHAPE(8, 32, 14, 14), 23)), wrt, 2, gr), 0);
    tg_tensor *outs[3] = {y, gr[0], gr[1]};
    tg_schedule *s = gr[0] && gr[1] ? tg_schedule_create(outs, 3) : NULL;
    CHECK(s != NULL);
    for (int i = 0; !noopt && s && i < s->s.n; i++) {
      const char *o = s->s.k[i].opts ? s->s.k[i].opts : "", *src = s->s.k[i].src ? s->s.k[i].src : "";
      int tile = strstr(o, "UPCAST(1,32)") != NULL;
      channel_tile += tile;
      staged += tile && strstr(src, "stage0[") && strstr(src, "stage_at0[");
      chunked += !strncmp(s->s.k[i].name, "r_4_", 4) && strstr(o, "UPCAST(1,32)");
      summed += !strncmp(s->s.k[i].name, "r_1600_4_16", 11) && !strcmp(o, "UPCAST(0,16)");
    }
    tg_schedule_free(s);
    for (int k = 0; k < 3; k++) got[noopt][k] = outs[k] && tg_realize(outs[k]) == 0 ? tg_to_float(outs[k]) : NULL;
    /* inference: a bias and a relu after the sums, in the same kernel. Its accumulators are staged behind a fence,
     * the relu computed from them into a second array (render.c) */
    tg_tensor *w2 = to_input(TG_SHAPE(32, 32, 5, 5), 25); /* a fresh weight: conv2d(x, w) is realised already */
    tg_tensor *yr = tg_relu(tg_conv2d(x, w2, to_input(TG_SHAPE(32), 24), 1, 0, 1, 1));
    s = tg_schedule_create(&yr, 1);
    for (int i = 0; !noopt && s && i < s->s.n; i++)
      fenced += s->s.k[i].src && strstr(s->s.k[i].src, "TG_FENCE(stage0);") && strstr(s->s.k[i].src, "stage1[63] = ");
    tg_schedule_free(s);
    got[noopt][3] = tg_realize(yr) == 0 ? tg_to_float(yr) : NULL;
    tg_scope_end();
  }
  tg__setenv_int("NOOPT", noopt0);
  to_fake_end(saved);
  CHECK_EQ_INT(channel_tile, 3); /* the forward, the input gradient and the chunks of the weight gradient */
  CHECK_EQ_INT(staged, 3);
  CHECK_EQ_INT(chunked, 1);
  CHECK_EQ_INT(summed, 1);
  CHECK_EQ_INT(fenced, 1);
  for (int k = 0; k < 4; k++) {
    CHECK(got[0][k] && got[1][k]);
    if (got[0][k] && got[1][k]) CHECK_ARR_NEAR(got[0][k], got[1][k], numel[k], 2e-3);
    free(got[0][k]);
    free(got[1][k]);
  }
}

/* A matmul's tile with a bias and a relu after its sums: its stores are adjacent, but the relu is a select, which GCC
 * writes as a branch that would leave the whole tile scalar (15x slower at 1024). So the accumulators are staged behind
 * the fence and the relu computed from them (render.c); NOOPT=1 makes one store per kernel, nothing staged. The values
 * are the same either way. */
TEST(test_internal_opts_select_after_a_tile) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the C dialect stages; GPUs do not */
  int noopt0 = tg__getenv_int("NOOPT", 0), fenced[2] = {0, 0};
  float *got[2] = {NULL, NULL};
  for (int noopt = 0; noopt < 2; noopt++) {
    tg_scope_begin();
    tg__setenv_int("NOOPT", noopt);
    tg_tensor *a = tg_contiguous(tg_sub_s(to_input(TG_SHAPE(64, 40), 31), 7.75)); /* sines, centred on 0 */
    tg_tensor *b = tg_contiguous(tg_sub_s(to_input(TG_SHAPE(40, 48), 32), 8.0));
    tg_realize(a), tg_realize(b);
    tg_tensor *y = tg_relu(tg_add(tg_matmul(a, b), tg_sub_s(to_input(TG_SHAPE(48), 33), 8.25)));
    tg_schedule *s = tg_schedule_create(&y, 1);
    for (int i = 0; s && i < s->s.n; i++) fenced[noopt] += s->s.k[i].src && strstr(s->s.k[i].src, "TG_FENCE(stage0);");
    tg_schedule_free(s);
    got[noopt] = tg_realize(y) == 0 ? tg_to_float(y) : NULL;
    tg_scope_end();
  }
  tg__setenv_int("NOOPT", noopt0);
  CHECK_EQ_INT(fenced[0], 1);
  CHECK_EQ_INT(fenced[1], 0);
  CHECK(got[0] && got[1]);
  if (got[0] && got[1]) CHECK_ARR_NEAR(got[0], got[1], 64 * 48, 1e-4);
  int zeros = 0;
  for (int i = 0; got[0] && i < 64 * 48; i++) zeros += got[0][i] == 0;
  CHECK(zeros > 0 && zeros < 64 * 48); /* the relu did something, and not everything */
  free(got[0]);
  free(got[1]);
}

/* The source cache (realize.c): the same kernel over other buffers renders nothing again and computes its own values;
 * another size or dtype is another kernel. */
TEST(test_internal_opts_source_cache) {
  tg_scope_begin();
  int64_t n0 = 0, n1 = 0;
  float *first = to_run(TO_MATMUL, NULL, -1, &n0); /* the heuristic's, cached from here on */
  int64_t hits = tg__source_cache_hits();
  float *again = to_run(TO_MATMUL, NULL, -1, &n1); /* new buffers, same values */
  CHECK_EQ_INT(tg__source_cache_hits() - hits, 1);
  CHECK(first && again && n0 == n1);
  if (first && again) CHECK_ARR_NEAR(again, first, n0, 0);
  /* other values in the same kernel: a hit, and the new values */
  hits = tg__source_cache_hits();
  float a[24 * 40], b[40 * 48];
  for (int i = 0; i < 24 * 40; i++) a[i] = (float)(i % 7) - 3;
  for (int i = 0; i < 40 * 48; i++) b[i] = (float)(i % 5) * 0.5f;
  tg_tensor *c = tg_matmul(tg_from_data(a, TG_FLOAT32, TG_SHAPE(24, 40)),
                           tg_from_data(b, TG_FLOAT32, TG_SHAPE(40, 48)));
  float *got = tg_realize(c) == 0 ? tg_to_float(c) : NULL;
  CHECK_EQ_INT(tg__source_cache_hits() - hits, 1);
  int ok = got != NULL;
  for (int i = 0; got && i < 24; i++)
    for (int j = 0; j < 48; j++) {
      double s = 0;
      for (int k = 0; k < 40; k++) s += (double)a[i * 40 + k] * b[k * 48 + j];
      ok &= fabs(s - got[i * 48 + j]) < 1e-4;
    }
  CHECK(ok);
  /* another shape, another dtype: new kernels */
  hits = tg__source_cache_hits();
  CHECK_EQ_INT(tg_realize(tg_matmul(to_input(TG_SHAPE(24, 40), 1), to_input(TG_SHAPE(40, 56), 2))), 0);
  CHECK_EQ_INT(tg_realize(tg_matmul(tg_cast(to_input(TG_SHAPE(24, 40), 1), TG_FLOAT64),
                                    tg_cast(to_input(TG_SHAPE(40, 48), 2), TG_FLOAT64))), 0);
  CHECK_EQ_INT(tg__source_cache_hits() - hits, 0);
  free(first);
  free(again);
  free(got);
  tg_scope_end();
}

/* A large float32 matmul on the CPU copies its right operand into panels of the tile's width first (ops.c): two
 * kernels, the same values as a host reference, and gradients through the copy. An N that the panel's width W does
 * not divide (8 W - 8) is padded to a multiple of it: the product of the padded columns keeps the W-wide tile (an
 * UPCAST by W) and is cut after (a third kernel here, the cut's copy). A small one, and NOOPT, do not pack. */
TEST(test_internal_opts_matmul_panels) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* a CPU layout */
  tg__target t;
  tg__device_target(tg__device_get(NULL), &t);
  int W = 2 * t.vec_floats;
  for (int pass = 0; pass < 2 && W >= 2; pass++) {
    tg_scope_begin();
    const int M = 128, K = 320, N = pass ? 8 * W - 8 : 128;
    float *a = (float *)malloc(sizeof(float) * M * K), *b = (float *)malloc(sizeof(float) * K * N);
    for (int i = 0; i < M * K; i++) a[i] = (float)sin(0.01 * i);
    for (int i = 0; i < K * N; i++) b[i] = (float)cos(0.013 * i);
    tg_tensor *ta = tg_from_data(a, TG_FLOAT32, TG_SHAPE(M, K)), *tb = tg_from_data(b, TG_FLOAT32, TG_SHAPE(K, N));
    tg_requires_grad(tb, 1);
    tg_tensor *c = tg_matmul(ta, tb);
    CHECK(tg_ndim(c) == 2 && tg_shape(c)[0] == M && tg_shape(c)[1] == N);
    tg_schedule *s = tg_schedule_create(&c, 1);
    CHECK_EQ_INT(tg_schedule_count(s), pass ? 3 : 2); /* the panels, the matmul (and the cut) */
    if (tg_schedule_count(s) >= 2) {
      char want[32];
      snprintf(want, sizeof want, "UPCAST(1,%d)", W);
      CHECK(!strncmp(tg_schedule_name(s, 0), "E_", 2));
      CHECK(strstr(s->s.k[1].opts, want) != NULL);
    }
    tg_schedule_free(s);
    float *got = tg_realize(c) == 0 ? tg_to_float(c) : NULL;
    double worst = got ? 0 : 1;
    for (int i = 0; got && i < M; i += 7)
      for (int j = 0; j < N; j++) {
        double r = 0;
        for (int k = 0; k < K; k++) r += (double)a[i * K + k] * b[k * N + j];
        worst = fmax(worst, fabs(r - got[i * N + j]));
      }
    CHECK(worst < 1e-3);
    /* d sum(a @ b) / db [k][j] = sum_i a[i][k] */
    CHECK_EQ_INT(tg_backward(tg_sum(c, 0, NULL, 0)), 0);
    float *g = tg_grad(tb) ? tg_to_float(tg_grad(tb)) : NULL;
    CHECK(tg_grad(tb) && tg_shape(tg_grad(tb))[1] == N);
    worst = g ? 0 : 1;
    for (int k = 0; g && k < K; k++) {
      double r = 0;
      for (int i = 0; i < M; i++) r += a[i * K + k];
      for (int j = 0; j < N; j += 13) worst = fmax(worst, fabs(r - g[k * N + j]));
    }
    CHECK(worst < 1e-3);
    free(a);
    free(b);
    free(got);
    free(g);
    tg_scope_end();
  }
  /* small: one kernel */
  tg_scope_begin();
  tg_tensor *small = tg_matmul(to_input(TG_SHAPE(24, 40), 1), to_input(TG_SHAPE(40, 64), 2));
  tg_schedule *s = tg_schedule_create(&small, 1);
  CHECK_EQ_INT(tg_schedule_count(s), 1);
  tg_schedule_free(s);
  tg_scope_end();
}

/* A convolution's weight gradient: its tile runs along the output channels and kx (5: no whole vector), so the
 * heuristic GROUPs the contiguous reduction loop (ox, 8) by 4: four accumulators per output, one vector. The values
 * are NOOPT's. */
TEST(test_internal_opts_weight_gradient_groups) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* GROUP is the CPU's until GPUs get shared memory */
  float *dw[2] = {NULL, NULL};
  int grouped = 0;
  for (int noopt = 0; noopt < 2; noopt++) {
    tg_scope_begin();
    if (noopt) tg__set_opts_override(NULL, 0);
    tg_tensor *w = tg_requires_grad(to_input(TG_SHAPE(4, 3, 5, 5), 11), 1);
    tg_tensor *y = tg_conv2d(to_input(TG_SHAPE(2, 3, 12, 12), 12), w, NULL, 1, 0, 1, 1);
    CHECK_EQ_INT(tg_backward(tg_sum(tg_mul(y, y), 0, NULL, 0)), 0);
    tg_tensor *g = tg_grad(w);
    tg_schedule *s = g ? tg_schedule_create(&g, 1) : NULL;
    for (int i = 0; !noopt && s && i < s->s.n; i++) grouped |= s->s.k[i].opts && strstr(s->s.k[i].opts, "GROUP(2,4)");
    tg_schedule_free(s);
    dw[noopt] = g ? tg_to_float(g) : NULL;
    tg__set_opts_override(NULL, -1);
    tg_scope_end();
  }
  CHECK(grouped);
  CHECK(dw[0] && dw[1]);
  if (dw[0] && dw[1]) CHECK_ARR_NEAR(dw[0], dw[1], 4 * 3 * 5 * 5, 1e-3);
  free(dw[0]);
  free(dw[1]);
}

/* the name of the one kernel that realises t, with NOOPT=1 (so the name is the loops alone) and NOMERGE=nomerge */
static char *to_loops(tg_tensor *t, int nomerge) {
  int noopt0 = tg__getenv_int("NOOPT", 0), nomerge0 = tg__getenv_int("NOMERGE", 0);
  tg__setenv_int("NOOPT", 1);
  tg__setenv_int("NOMERGE", nomerge);
  tg_schedule *s = tg_schedule_create(&t, 1);
  const char *name = s && tg_schedule_count(s) == 1 ? tg_schedule_name(s, 0) : NULL;
  char *copy = name ? tg__strdup(name) : NULL;
  tg_schedule_free(s);
  tg__setenv_int("NOOPT", noopt0); /* as the run had them */
  tg__setenv_int("NOMERGE", nomerge0);
  return copy;
}

/* Adjacent loops that every address walks as one merge (tg__merge_loops); loops some address splits stay apart. The
 * values are checked against the host at eight places each (the sums at all four). */
TEST(test_internal_opts_merge_loops) {
  tg_scope_begin();
  static const struct { const char *merged, *apart; } names[] = {
      {"E_512", "E_4_8_16"},     /* exp of a contiguous 4x8x16: one loop */
      {"r_4_8_25", "r_4_8_5_5"}, /* the sum over (0, 2, 3) of 8x4x5x5: each 5x5 block is one loop of 25 */
      {"E_8_4_6", "E_8_4_6"},    /* + a bias along the middle axis: its address splits both pairs */
      {"E_6_8", "E_6_8"},        /* a transposed copy */
  };
  for (int c = 0; c < TG__COUNT(names); c++) {
    static const int64_t shapes[4][4] = {{4, 8, 16}, {8, 4, 5, 5}, {8, 4, 6}, {8, 6}};
    static const int ndims[4] = {3, 4, 3, 2};
    tg_tensor *x = to_input(ndims[c], shapes[c], 11 + c), *bias = to_input(TG_SHAPE(4), 2), *t;
    float *h = tg_to_float(x), *hb = tg_to_float(bias);
    if (c == 0) t = tg_exp(x);
    else if (c == 1) t = tg_sum(tg_mul(x, x), TG_AXES(0, 2, 3), 0);
    else if (c == 2) t = tg_add(x, tg_reshape(bias, TG_SHAPE(1, 4, 1)));
    else t = tg_contiguous(tg_permute(x, 2, (int[]){1, 0}));
    char *merged = to_loops(t, 0), *apart = to_loops(t, 1);
    CHECK_STR(merged, names[c].merged);
    CHECK_STR(apart, names[c].apart);
    TG_FREE(merged);
    TG_FREE(apart);
    float *got = tg_to_float(t);
    CHECK(got != NULL);
    for (int i = 0; got && i < (c == 1 ? 4 : 8); i++) {
      int at = c == 0 ? i * 64 + 3 : c == 1 ? i : c == 2 ? i * 24 + 7 : i * 5 + 7;
      double want = 0;
      if (c == 0) want = exp(h[at]);
      else if (c == 1)
        for (int b = 0; b < 8; b++)
          for (int k = 0; k < 25; k++) want += (double)h[b * 100 + at * 25 + k] * h[b * 100 + at * 25 + k];
      else if (c == 2) want = h[at] + hb[at / 6 % 4];
      else want = h[at % 8 * 6 + at / 8]; /* t[j][i] = x[i][j] */
      CHECK(fabs(got[at] - want) <= 1e-4 * (1 + fabs(want)));
    }
    free(got), free(h), free(hb);
  }
  tg_scope_end();
}

/* One expression has one value, whichever kernel computes it. A max pool's gradient compares its input, recomputed in
 * the backward kernel, with the pooled values the forward kernel stored, and divides by how many are equal. With
 * -fassociative-math alone, GCC reassociated batchnorm's (t * gamma) * rsqrt(var) into t * (gamma * rsqrt(var)),
 * hoisting the invariant product, in one kernel and not in the other (whose t has another use): no element equaled
 * its window's max, the count was 0, and BEAM=2's MNIST step made NaN weights (a forward pool kernel with a THREAD,
 * the backward without). -fno-tree-reassoc keeps expressions as written; reductions still vectorise. */
TEST(test_internal_opts_pool_gradient_across_kernels) {
  tg_scope_begin();
  tg_tensor *x = to_input(TG_SHAPE(8, 4, 6, 6), 3), *w = to_input(TG_SHAPE(8, 4, 3, 3), 4);
  tg_tensor *ch[4];
  for (int i = 0; i < 4; i++) ch[i] = tg_reshape(to_input(TG_SHAPE(4), 5 + i), TG_SHAPE(1, 4, 1, 1));
  tg_realize(x);
  tg_tensor *xg = tg_requires_grad(tg_detach(x), 1);
  /* (relu(x + b) - m) * g * rsqrt(|v| + 1e-5) + beta, pooled 2x2 */
  tg_tensor *t = tg_mul(tg_sub(tg_relu(tg_add(xg, ch[0])), ch[1]), ch[2]);
  tg_tensor *y = tg_add(tg_mul(t, tg_rsqrt(tg_add_s(tg_abs(ch[3]), 1e-5))), ch[0]);
  tg_tensor *pooled = tg_max_pool2d(y, 2, 2, 0, 1);
  /* the forward pool kernel made differently: split across threads (a GPU's: its output x as straight-line code) */
  static const tg__opt thread[1] = {TO_OPT(THREAD, 0, 2)}, upcast[1] = {TO_OPT(UPCAST, 3, 0)};
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  tg__set_opts_override(target.gpu ? upcast : thread, 1);
  CHECK_EQ_INT(tg_realize(pooled), 0);
  tg__set_opts_override(NULL, -1);
  tg_tensor *wrt[1] = {xg}, *gr[1] = {NULL};
  CHECK_EQ_INT(tg_gradient(tg_mul(pooled, w), wrt, 1, gr), 0);
  float *g = gr[0] ? tg_to_float(gr[0]) : NULL, *hy = tg_to_float(y), *hw = tg_to_float(w);
  CHECK(g != NULL);
  /* the host: each window's gradient w goes to its max element (no ties in this data), times dy/dx there */
  float *hx = tg_to_float(x), *hc[4];
  for (int i = 0; i < 4; i++) hc[i] = tg_to_float(ch[i]);
  int bad = 0;
  for (int n = 0; g && n < 8; n++)
    for (int c = 0; c < 4; c++)
      for (int oy = 0; oy < 3; oy++)
        for (int ox = 0; ox < 3; ox++) {
          int best = -1;
          for (int k = 0; k < 4; k++) {
            int at = ((n * 4 + c) * 6 + oy * 2 + k / 2) * 6 + ox * 2 + k % 2;
            if (best < 0 || hy[at] > hy[best]) best = at;
          }
          for (int k = 0; k < 4; k++) {
            int at = ((n * 4 + c) * 6 + oy * 2 + k / 2) * 6 + ox * 2 + k % 2;
            double d = hx[at] + hc[0][c] > 0 ? hc[2][c] / sqrt(fabs(hc[3][c]) + 1e-5) : 0;
            double want = at == best ? hw[((n * 4 + c) * 3 + oy) * 3 + ox] * d : 0;
            bad += !(fabs(g[at] - want) <= 1e-4 * (1 + fabs(want)));
          }
        }
  CHECK_EQ_INT(bad, 0);
  free(g), free(hy), free(hw), free(hx);
  for (int i = 0; i < 4; i++) free(hc[i]);
  tg_scope_end();
}

/* Realises m (case c) under the Opt list the tests' override set, then drops the override. Where the device can
 * `apply` the list, the realisation must succeed and `used` (the schedule had the list) hold; where it cannot and
 * the list was `forced` (not the heuristic's), the realisation must fail with `why` in the error, and m is then
 * realised with the heuristic's. Returns the last realisation's result (checked to be 0). */
static int to_realise_opts(tg_tensor *m, int c, int apply, int used, int forced, const char *why) {
  tg_clear_error();
  int rc = tg_realize(m);
  tg__set_opts_override(NULL, -1);
  const char *err = tg_error() ? tg_error() : "(no error)";
  if (apply) {
    test_check(rc == 0 && used, __FILE__, __LINE__, "case %d: realised %d, list used %d: %s", c, rc, used, err);
  } else if (forced) { /* refused, with the reason */
    test_check(rc == -1 && strstr(err, why), __FILE__, __LINE__, "case %d: %s", c, err);
    tg_clear_error();
    rc = tg_realize(m);
  }
  CHECK_EQ_INT(rc, 0);
  return rc;
}

/* A list the device refuses (c: the case), with the reason `why`; nothing realised. Where a device refuses every case
 * alike (no tensor cores), the cases past the first few check the refusal only: realising each by the heuristic
 * instead compiled a kernel per case, ~80 s of PoCL's compiler on 2 cores for the same fallback */
static void to_refused(tg_tensor *m, int c, const char *why) {
  tg_clear_error();
  int rc = tg_realize(m);
  tg__set_opts_override(NULL, -1);
  const char *err = tg_error() ? tg_error() : "(no error)";
  test_check(rc == -1 && strstr(err, why), __FILE__, __LINE__, "case %d: %s", c, err);
  tg_clear_error();
}

/* a (rows x inner) by (inner x cols) matmul of `dt` inputs (exact in 16 bits: small integers over 8), plus relu of
 * it plus a bias when `epilogue`, as float32; and the same on the host in double */
static tg_tensor *to_half_matmul(tg_dtype dt, int64_t rows, int64_t inner, int64_t cols, int epilogue, int layout,
                                 double **host) {
  int64_t na = rows * inner, nb = inner * cols;
  float *a = (float *)malloc(sizeof(float) * (size_t)na), *b = (float *)malloc(sizeof(float) * (size_t)nb);
  for (int64_t i = 0; i < na; i++) a[i] = (float)((i * 7 + 3) % 17 - 8) / 8;
  for (int64_t i = 0; i < nb; i++) b[i] = (float)((i * 5 + 1) % 13 - 6) / 8;
  *host = (double *)malloc(sizeof(double) * (size_t)(rows * cols));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      double s = 0;
      for (int64_t k = 0; k < inner; k++) s += (double)a[r * inner + k] * b[k * cols + c];
      if (epilogue) s = s + 0.5 * (double)(c % 3) > 0 ? s + 0.5 * (double)(c % 3) : 0;
      (*host)[r * cols + c] = s;
    }
  tg_tensor *ta = tg_cast(tg_from_data(a, TG_FLOAT32, 2, (int64_t[]){rows, inner}), dt);
  tg_tensor *tb = tg_cast(tg_from_data(b, TG_FLOAT32, 2, (int64_t[]){inner, cols}), dt);
  free(a);
  free(b);
  /* layout 1: A stored transposed (contiguous along its rows); 2: B stored transposed (contiguous along k) */
  if (layout == 1) ta = tg_permute(tg_contiguous(tg_permute(ta, 2, (int[]){1, 0})), 2, (int[]){1, 0});
  if (layout == 2) tb = tg_permute(tg_contiguous(tg_permute(tb, 2, (int[]){1, 0})), 2, (int[]){1, 0});
  tg_realize(ta);
  tg_realize(tb);
  tg_tensor *m = tg_matmul(ta, tb);
  if (epilogue) {
    float *bias = (float *)malloc(sizeof(float) * (size_t)cols);
    for (int64_t c = 0; c < cols; c++) bias[c] = 0.5f * (float)(c % 3);
    m = tg_relu(tg_add(m, tg_cast(tg_from_data(bias, TG_FLOAT32, 1, &cols), dt)));
    free(bias);
  }
  return m;
}

/* m's n values (NULL: not realised) against the host's, rounded to the inputs' 16-bit dtype dt; frees host */
static void to_check_half_matmul(tg_tensor *m, double *host, int64_t n, tg_dtype dt, int c) {
  float *got = m ? tg_to_float(m) : NULL;
  int bad = 0;
  for (int64_t i = 0; got && i < n; i++)
    bad += !(fabs(got[i] - host[i]) <= (dt == TG_BFLOAT16 ? 8e-3 : 1e-3) * (1 + fabs(host[i])));
  test_check(got && bad == 0, __FILE__, __LINE__, "case %d: %d of %lld wrong", c, bad, (long long)n);
  free(got);
  free(host);
}

/* Tensor cores (TC): float16 and bfloat16 matmuls whose sizes are multiples of the tensor core's 16 x 8 x 16 or not
 * (TC pads them: the loads past the end are gated, the stores too), a reduction of one tensor-core step (16 long),
 * a bias and relu after the sums, all against the host's sums. On a device with tensor cores the heuristic's list
 * starts with TC; elsewhere TC is refused with the reason and the heuristic computes the same values without it
 * (the first four cases; the others check the refusal only). */
TEST(test_internal_opts_tensor_cores) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  typedef struct { tg_dtype dt; int64_t m, k, n; int epilogue, layout, nopts; tg__opt opts[3]; } tc_case;
  static const tc_case cases[] = {
      {TG_FLOAT16, 64, 48, 40, 0, 0, -1, {{TG__OPT_TC, 0, 0}}},
      {TG_BFLOAT16, 64, 48, 40, 0, 0, -1, {{TG__OPT_TC, 0, 0}}},
      {TG_FLOAT16, 128, 64, 96, 1, 0, -1, {{TG__OPT_TC, 0, 0}}},
      {TG_FLOAT16, 50, 20, 30, 0, 0, 1, {{TG__OPT_TC, 0, 0}}},                     /* padded: 64 x 32 x 32 */
      {TG_BFLOAT16, 32, 16, 24, 0, 0, 2, {{TG__OPT_TC, 0, 0}, {TG__OPT_UPCAST, 0, 2}}}, /* k is one step */
      {TG_FLOAT16, 48, 32, 64, 1, 0, 3, {{TG__OPT_TC, 0, 0}, {TG__OPT_UPCAST, 1, 2}, {TG__OPT_LOCAL, 0, 3}}},
      /* shared memory: 128 x 64 blocks by 32 along k; 128 x 128 by 32, B contiguous along k; 128 x 64 by 16, A
       * contiguous along its rows; 64 x 32 blocks by 64, with a bias and relu after */
      {TG_FLOAT16, 256, 64, 128, 0, 0, 1, {{TG__OPT_TC, 0, 1}}},
      {TG_BFLOAT16, 128, 64, 128, 0, 2, 1, {{TG__OPT_TC, 0, 2}}},
      {TG_FLOAT16, 128, 32, 64, 0, 1, 1, {{TG__OPT_TC, 0, 3}}},
      {TG_FLOAT16, 64, 128, 64, 1, 0, 1, {{TG__OPT_TC, 0, 10}}},
      /* three buffers: 128 x 64 blocks by 32 (4 stages); 128 x 128 by 16, B contiguous along k, bias and relu */
      {TG_FLOAT16, 128, 128, 64, 0, 0, 1, {{TG__OPT_TC, 0, 15}}},
      {TG_BFLOAT16, 128, 64, 128, 1, 2, 1, {{TG__OPT_TC, 0, 17}}},
      /* past 48 KB of shared memory: 128 x 256 and 256 x 128 blocks of 8 warps; four buffers over five stages; 64
       * along k a stage; four buffers over two stages (the copies before the loop repeat the last) */
      {TG_FLOAT16, 128, 64, 256, 0, 0, 1, {{TG__OPT_TC, 0, 18}}},
      {TG_BFLOAT16, 256, 64, 128, 1, 2, 1, {{TG__OPT_TC, 0, 19}}},
      {TG_FLOAT16, 128, 160, 128, 0, 1, 1, {{TG__OPT_TC, 0, 21}}},
      {TG_FLOAT16, 128, 128, 128, 1, 0, 1, {{TG__OPT_TC, 0, 23}}},
      {TG_BFLOAT16, 128, 64, 256, 0, 0, 1, {{TG__OPT_TC, 0, 24}}},
      {TG_BFLOAT16, 128, 96, 128, 1, 0, 1, {{TG__OPT_TC, 0, 26}}}, /* five buffers, three stages */
      {TG_FLOAT16, 128, 256, 128, 0, 2, 1, {{TG__OPT_TC, 0, 33}}}, /* 64 along k, three buffers */
  };
  for (int c = 0; c < (int)TG__COUNT(cases); c++) {
    const tc_case *k = &cases[c];
    tg_scope_begin();
    double *host = NULL;
    tg_tensor *m = to_half_matmul(k->dt, k->m, k->k, k->n, k->epilogue, k->layout, &host);
    if (k->nopts >= 0) tg__set_opts_override(k->opts, k->nopts);
    if (!target.tensor_cores && k->nopts >= 0 && c >= 4) { /* refused as case 3 was: the reason only */
      to_refused(m, c, target.gpu ? "the device has no tensor cores" : "a CPU kernel has no workgroups");
      free(host);
      tg_scope_end();
      continue;
    }
    tg_schedule *s = tg_schedule_create(&m, 1);
    int tc = 0;
    for (int i = 0; s && i < s->s.n; i++) tc |= s->s.k[i].opts && !strncmp(s->s.k[i].opts, "TC(", 3);
    tg_schedule_free(s);
    int rc = to_realise_opts(m, c, target.tensor_cores, tc, k->nopts >= 0,
                             target.gpu ? "the device has no tensor cores" : "a CPU kernel has no workgroups");
    to_check_half_matmul(rc == 0 ? m : NULL, host, k->m * k->n, k->dt, c);
    tg_scope_end();
  }
  /* a batch of matmuls and a convolution in float16, against the same in float32 on the host's numbers (exact:
   * eighths), whichever optimisations the device's heuristic picks */
  tg_scope_begin();
  float *v = (float *)malloc(sizeof(float) * 11008);
  for (int i = 0; i < 11008; i++) v[i] = (float)((i * 7 + 3) % 17 - 8) / 8;
  tg_tensor *xa = tg_from_data(v, TG_FLOAT32, 3, (int64_t[]){2, 64, 32});
  tg_tensor *xb = tg_from_data(v + 4096, TG_FLOAT32, 3, (int64_t[]){2, 32, 48});
  tg_tensor *img = tg_from_data(v, TG_FLOAT32, 4, (int64_t[]){2, 32, 10, 10});
  tg_tensor *w = tg_from_data(v + 6400, TG_FLOAT32, 4, (int64_t[]){16, 32, 3, 3});
  tg_tensor *outs[2] = {tg_matmul(tg_cast(xa, TG_FLOAT16), tg_cast(xb, TG_FLOAT16)),
                        tg_conv2d(tg_cast(img, TG_FLOAT16), tg_cast(w, TG_FLOAT16), NULL, 1, 1, 1, 1)};
  tg_tensor *refs[2] = {tg_matmul(xa, xb), tg_conv2d(img, w, NULL, 1, 1, 1, 1)};
  for (int k = 0; k < 2; k++) {
    float *got = tg_to_float(outs[k]), *want = tg_to_float(refs[k]);
    CHECK(got && want);
    if (got && want) CHECK_ARR_NEAR(got, want, tg_numel(refs[k]), 1e-3);
    free(got);
    free(want);
  }
  free(v);
  tg_scope_end();
}

/* TC with warpgroups (WGMMA, Hopper): each configuration on a float16 or bfloat16 matmul whose sizes are multiples
 * of its blocks, A or B contiguous along either axis (K-major or MN-major tiles), two stages or more stages than
 * buffers, a bias and relu after the sums, against the host's sums; the heuristic's choice on a large one. Elsewhere
 * each is refused with the reason, and the heuristic computes the same values without it (the first two cases). */
TEST(test_internal_opts_wgmma) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  typedef struct { tg_dtype dt; int64_t m, k, n; int epilogue, layout, config; } wg_case;
  static const wg_case cases[] = {
      {TG_FLOAT16, 128, 256, 256, 0, 0, 1},  {TG_BFLOAT16, 128, 192, 256, 1, 0, 2}, /* 2: three buffers */
      {TG_FLOAT16, 256, 448, 128, 0, 1, 3},  /* six buffers, seven stages; A contiguous along its rows */
      {TG_BFLOAT16, 128, 320, 256, 0, 2, 4}, /* B contiguous along k */
      {TG_FLOAT16, 128, 128, 512, 1, 2, 5},  {TG_BFLOAT16, 64, 128, 128, 0, 1, 6}, /* two stages */
      {TG_FLOAT16, 256, 512, 64, 0, 0, 7},   {TG_BFLOAT16, 128, 384, 64, 1, 2, 8},
      {TG_FLOAT16, 256, 192, 256, 1, 1, 9}, /* four warpgroups */
  };
  const char *why = !target.gpu ? "a CPU kernel has no workgroups"
                    : target.tensor_cores ? "the device has no warpgroup tensor cores (WGMMA: Hopper)"
                                          : "the device has no tensor cores";
  for (int c = 0; c < (int)TG__COUNT(cases); c++) {
    const wg_case *k = &cases[c];
    tg_scope_begin();
    double *host = NULL;
    tg_tensor *m = to_half_matmul(k->dt, k->m, k->k, k->n, k->epilogue, k->layout, &host);
    tg__opt opt = {TG__OPT_TC, 0, TG__NTC_CONFIGS + k->config};
    tg__set_opts_override(&opt, 1);
    if (!target.wgmma && c >= 2) { /* refused as cases 0 and 1 were: the reason only */
      to_refused(m, c, why);
      free(host);
      tg_scope_end();
      continue;
    }
    tg_schedule *s = tg_schedule_create(&m, 1);
    int used = 0;
    for (int i = 0; s && i < s->s.n; i++) used |= s->s.k[i].opts && !strncmp(s->s.k[i].opts, "TC(", 3);
    tg_schedule_free(s);
    int rc = to_realise_opts(m, c, target.wgmma, used, 1, why);
    to_check_half_matmul(rc == 0 ? m : NULL, host, k->m * k->n, k->dt, c);
    tg_scope_end();
  }
  /* the heuristic on a matmul of 128 x 256 blocks enough for every compute unit: WGMMA's first configuration */
  tg_scope_begin();
  double *host = NULL;
  int64_t rows = 128 * 24, cols = 256 * 6;
  tg_tensor *m = to_half_matmul(TG_FLOAT16, rows, 128, cols, 0, 0, &host);
  tg_schedule *s = tg_schedule_create(&m, 1);
  for (int i = 0; s && i < s->s.n && target.wgmma && target.units <= 144; i++)
    if (s->s.k[i].opts && !strncmp(s->s.k[i].opts, "TC(", 3)) CHECK_STR(s->s.k[i].opts, "TC(0,35)");
  tg_schedule_free(s);
  float *got = tg_to_float(m);
  int bad = 0;
  for (int64_t i = 0; got && i < rows * cols; i++) bad += !(fabs(got[i] - host[i]) <= 1e-3 * (1 + fabs(host[i])));
  test_check(got && bad == 0, __FILE__, __LINE__, "heuristic: %d wrong", bad);
  free(got);
  free(host);
  tg_scope_end();
}

/* STAGE: float32 matmuls staged in shared memory (each configuration's blocks; A or B stored transposed; a bias and
 * relu after the sums; a batch of matmuls), against the host's sums. On a GPU with workgroups the list is applied
 * (and the heuristic stages a matmul of 128 x 128 blocks); on a CPU STAGE is refused with the reason. */
TEST(test_internal_opts_stage) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  int gpu = target.gpu && target.local_max >= 256 && target.shared_bytes >= 32768;
  typedef struct { int64_t batch, m, k, n; int epilogue, layout, config; } stage_case;
  static const stage_case cases[] = {
      {1, 128, 64, 128, 0, 0, 1}, {1, 128, 32, 256, 1, 2, 2}, {1, 256, 16, 64, 0, 1, 3}, {1, 64, 48, 128, 0, 0, 4},
      {1, 64, 8, 128, 1, 1, 5},   {1, 128, 64, 64, 0, 2, 6},  {1, 64, 32, 64, 0, 0, 7},  {1, 64, 48, 64, 1, 0, 8},
      {1, 32, 16, 32, 0, 2, 9},   {3, 64, 32, 64, 0, 0, 9},   {1, 128, 256, 256, 0, 0, 0}};
  for (int c = 0; c < (int)TG__COUNT(cases); c++) {
    const stage_case *k = &cases[c];
    tg_scope_begin();
    int64_t na = k->batch * k->m * k->k, nb = k->batch * k->k * k->n, nc = k->batch * k->m * k->n;
    float *a = (float *)malloc(sizeof(float) * (size_t)na), *b = (float *)malloc(sizeof(float) * (size_t)nb);
    double *host = (double *)malloc(sizeof(double) * (size_t)nc);
    for (int64_t i = 0; i < na; i++) a[i] = (float)((i * 7 + 3) % 17 - 8) / 8;
    for (int64_t i = 0; i < nb; i++) b[i] = (float)((i * 5 + 1) % 13 - 6) / 8;
    for (int64_t z = 0; z < k->batch; z++)
      for (int64_t r = 0; r < k->m; r++)
        for (int64_t j = 0; j < k->n; j++) {
          double sum = 0;
          for (int64_t i = 0; i < k->k; i++) sum += (double)a[(z * k->m + r) * k->k + i] * b[(z * k->k + i) * k->n + j];
          if (k->epilogue) sum = sum + 0.5 * (double)(j % 3) > 0 ? sum + 0.5 * (double)(j % 3) : 0;
          host[(z * k->m + r) * k->n + j] = sum;
        }
    tg_tensor *ta = tg_from_data(a, TG_FLOAT32, 3, (int64_t[]){k->batch, k->m, k->k});
    tg_tensor *tb = tg_from_data(b, TG_FLOAT32, 3, (int64_t[]){k->batch, k->k, k->n});
    /* layout 1: A stored transposed (contiguous along its rows); 2: B stored transposed (contiguous along k) */
    if (k->layout == 1) ta = tg_permute(tg_contiguous(tg_permute(ta, 3, (int[]){0, 2, 1})), 3, (int[]){0, 2, 1});
    if (k->layout == 2) tb = tg_permute(tg_contiguous(tg_permute(tb, 3, (int[]){0, 2, 1})), 3, (int[]){0, 2, 1});
    tg_realize(ta);
    tg_realize(tb);
    tg_tensor *m = tg_matmul(ta, tb);
    if (k->epilogue) {
      float *bias = (float *)malloc(sizeof(float) * (size_t)k->n);
      for (int64_t j = 0; j < k->n; j++) bias[j] = 0.5f * (float)(j % 3);
      m = tg_relu(tg_add(m, tg_from_data(bias, TG_FLOAT32, 1, &k->n)));
      free(bias);
    }
    tg__opt opt = {TG__OPT_STAGE, 0, k->config};
    if (k->config) tg__set_opts_override(&opt, 1);
    tg_schedule *s = tg_schedule_create(&m, 1);
    char want[32] = "";
    snprintf(want, sizeof want, k->config ? "STAGE(0,%d)" : "STAGE(", k->config);
    /* the heuristic's case (config 0): staged where some configuration's blocks fill the device (32 blocks of
     * 32 x 32 at most: PoCL on a few cores); an H200's 132 units leave it to the other rules */
    int want_staged = gpu && (k->config || target.units <= 32);
    int staged = 0;
    for (int i = 0; s && i < s->s.n; i++) staged |= s->s.k[i].opts && !strncmp(s->s.k[i].opts, want, strlen(want));
    tg_schedule_free(s);
    int rc = to_realise_opts(m, c, gpu, staged == want_staged, k->config != 0,
                             target.gpu ? "no workgroups" : "a CPU kernel has no workgroups");
    float *got = rc == 0 ? tg_to_float(m) : NULL;
    int bad = 0;
    for (int64_t i = 0; got && i < nc; i++) bad += !(fabs(got[i] - host[i]) <= 1e-5 * (1 + fabs(host[i])));
    test_check(got && bad == 0, __FILE__, __LINE__, "case %d: %d of %lld wrong", c, bad, (long long)nc);
    free(got);
    free(host);
    free(a);
    free(b);
    tg_scope_end();
  }
  if (!gpu) return;
  tg_scope_begin(); /* STAGE replaces the rows and columns: no Opt may follow it */
  tg_tensor *m = tg_matmul(to_input(TG_SHAPE(128, 64), 1), to_input(TG_SHAPE(64, 128), 2));
  tg__opt two[2] = {{TG__OPT_STAGE, 0, 1}, {TG__OPT_UPCAST, 0, 2}};
  tg__set_opts_override(two, 2);
  tg_clear_error();
  CHECK_EQ_INT(tg_realize(m), -1);
  tg__set_opts_override(NULL, -1);
  CHECK(tg_error() && strstr(tg_error(), "(UPCAST, axis 0, amount 2) cannot apply: STAGE comes last"));
  tg_clear_error();
  tg_scope_end();
}

/* GROUP's 32 lanes of a max combine as a chain of C's ((a>b)?a:b), which names its operands: inlined, each level
 * doubled the expression (a 2 GB source on a 16-core AVX-512 host, where the heuristic chose this list) */
TEST(test_internal_opts_group_max_renders_small) {
  static const tg__opt opts[2] = {TO_OPT(UPCAST, 0, 4), TO_OPT(GROUP, 0, 32)};
  tg__set_opts_override(opts, 2);
  tg_tensor *x = to_input(TG_SHAPE(8, 64), 9), *m = tg_max(x, 1, (int[]){1}, 0);
  tg_schedule *s = tg_schedule_create(&m, 1);
  const char *src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
  CHECK(src && strlen(src) < 200000);
  tg_schedule_free(s);
  float got[8];
  CHECK_EQ_INT(tg_to_host(m, got, sizeof got), 0);
  tg__set_opts_override(NULL, -1);
  for (int r = 0; r < 8; r++) { /* to_input's values, seed 9 */
    double want = -1e30;
    for (int c = 0; c < 64; c++) want = fmax(want, (float)sin(0.37 * (double)(r * 64 + c + 1) * 10) + 0.25f * 9);
    CHECK_NEAR(got[r], want, 1e-6);
  }
}

/* A kernel with a reduction of symbolic size (a shrink by a variable) takes Opts on its output loops, whose sizes are
 * constant, and a GROUP of the reduction on a device with workgroups (gated past n), and refuses the others with the
 * reason; each list that applies computes what NOOPT computes. */
TEST(test_internal_opts_symbolic_reduction) {
  tg__target target;
  tg__device_target(tg__device_get(NULL), &target);
  tg_variable *n = tg_variable_new("opts_n", 1, 24);
  CHECK_EQ_INT(tg_variable_bind(n, 13), 0);
  static const struct { int nopts; tg__opt opts[2]; const char *why; } cases[] = {
      {0, {TO_OPT(UPCAST, 0, 0)}, NULL},
      {2, {TO_OPT(UPCAST, 0, 4), TO_OPT(UPCAST, 1, 8)}, NULL},
      {1, {TO_OPT(UNROLL, 0, 2)}, "tiles only its output loops of constant size"},
      {1, {TO_OPT(GROUP, 0, 2)}, "tiles only its output loops of constant size"},
  };
  float want[8 * 16];
  for (int c = 0; c < TG__COUNT(cases); c++) {
    tg_scope_begin();
    tg_sint cols[4] = {{NULL, 0}, {NULL, 8}, {NULL, 0}, {n, 0}}, rows[4] = {{NULL, 0}, {n, 0}, {NULL, 0}, {NULL, 16}};
    tg_tensor *a = tg_shrink_sym(to_input(TG_SHAPE(8, 24), 1), 2, cols);
    tg_tensor *b = tg_shrink_sym(to_input(TG_SHAPE(24, 16), 2), 2, rows);
    tg__set_opts_override(cases[c].opts, cases[c].nopts);
    tg_tensor *t = tg_matmul(a, b);
    tg_clear_error();
    int rc = tg_realize(t);
    tg__set_opts_override(NULL, -1);
    if (cases[c].why && !(target.local_max && cases[c].opts[0].op == TG__OPT_GROUP)) {
      CHECK_EQ_INT(rc, -1);
      CHECK(tg_error() && strstr(tg_error(), "cannot apply: ") && strstr(tg_error(), cases[c].why));
      tg_clear_error();
    } else {
      CHECK_EQ_INT(rc, 0);
      float got[8 * 16];
      CHECK_EQ_INT(tg_to_host(t, c == 0 ? want : got, sizeof got), 0);
      if (c) CHECK_ARR_NEAR(got, want, 8 * 16, 1e-5);
    }
    tg_scope_end();
  }
}

/* The vector rule's estimate for an output loop whose address is no affine function of it: attention's outputs
 * (kv heads, group, 64 positions in a head) merged into one loop r of 576, read as r / 192, r / 64 % 3 and r % 64,
 * with a variable (the filled positions) in the probabilities' address. Vectors of 8 or 16 lanes read adjacent
 * values (the values) or one value (the probabilities); 128 lanes would cross a head; a stride of 2 is no vector. */
TEST(test_internal_opts_lanes_contiguous) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = 1;
  tg__uop *r = tg__uop1(TG__OP_RANGE, TG_INT32, tg__const_int(TG_INT32, 576), &a);
  a.i = 2;
  tg__uop *s = tg__uop1(TG__OP_RANGE, TG_INT32, tg__const_int(TG_INT32, 10), &a);
  memset(&a, 0, sizeof a);
  a.i = 0, a.i2 = 511;
  tg__uop *var = tg__uop0(TG__OP_DEFINE_VAR, TG_INT32, &a);
  tg__uop *c1 = tg__const_int(TG_INT32, 1), *c3 = tg__const_int(TG_INT32, 3), *c64 = tg__const_int(TG_INT32, 64);
  tg__uop *c192 = tg__const_int(TG_INT32, 192);
  tg__uop *head = tg__alu(TG__OP_IDIV, r, c192), *pos = tg__alu(TG__OP_MOD, r, c64);
  tg__uop *grp = tg__alu(TG__OP_MOD, tg__alu(TG__OP_IDIV, r, c64), c3);
  tg__uop *vals = tg__alu(TG__OP_ADD, tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, s, c192), tg__alu(TG__OP_MUL, head, c64)),
                          pos);
  tg__uop *n1 = tg__alu(TG__OP_ADD, var, c1);
  tg__uop *probs = tg__alu(TG__OP_ADD, tg__alu(TG__OP_ADD, s, tg__alu(TG__OP_MUL, grp, n1)),
                           tg__alu(TG__OP_MUL, head, tg__alu(TG__OP_MUL, n1, c3)));
  tg__uop *strided = tg__alu(TG__OP_MUL, r, tg__const_int(TG_INT32, 2));
  tg__vec access;
  memset(&access, 0, sizeof access);
  tg__vec_push(&access, vals);
  tg__vec_push(&access, probs);
  uint64_t deps[3] = {1u << 1 | 1u << 2, 1u << 1 | 1u << 2, 1u << 1};
  CHECK(tg__lanes_contiguous(&access, deps, r, 8));
  CHECK(tg__lanes_contiguous(&access, deps, r, 16));
  CHECK(!tg__lanes_contiguous(&access, deps, r, 128));
  tg__vec_push(&access, strided);
  CHECK(!tg__lanes_contiguous(&access, deps, r, 8));
  /* the affine test alone sees no vector here: the probabilities' address moves with r, but not by 1 */
  int bcast;
  access.n = 2;
  CHECK(!tg__reads_contiguously(&access, deps, r, NULL, &bcast));
  tg__vec_free(&access);
}
