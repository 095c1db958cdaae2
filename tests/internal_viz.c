/* internal_viz.c: VIZ's recorder (viz.c) seen from inside: the steps of a rewrite as pattern.c reports them (the
 * node replaced, the node made, the rule), rewrites without a step dropped, nothing recorded outside a context,
 * PROFILE's launches alone, the JSON's escaping, the default path, and a page written whole or not at all.
 * #included into runner.c after the implementation. tools/viz_test.sh checks the page itself in a browser. */
#include "helpers.h"
#include "test.h"
#include <unistd.h>

/* (x + 0) * 1 simplifies in two steps: ADD(x, 0) -> x by x+0's rule, then MUL(x, 1) (the MUL rebuilt on its new
 * source) -> x by x*1's rule; the rewrite's root and result are the graph before and after */
TEST(test_internal_viz_records_steps) {
  int viz0 = tg__viz_mode();
  tg__viz_reset();
  tg__setenv_int("VIZ", 1);
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i2 = 100;
  tg__uop *x = tg__uop0(TG__OP_DEFINE_VAR, TG_INT32, &a);
  tg__uop *c0 = tg__const_int(TG_INT32, 0), *c1 = tg__const_int(TG_INT32, 1);
  tg__uop *add = tg__uop2(TG__OP_ADD, TG_INT32, x, c0, NULL);
  tg__uop *e = tg__uop2(TG__OP_MUL, TG_INT32, add, c1, NULL);
  CHECK(tg__simplify(e) == x); /* outside a context: not recorded */
  int nctx = -1, nrw = -1, nlaunch = -1;
  int64_t nsteps = -1;
  tg__viz_counts(&nctx, &nrw, &nsteps, &nlaunch);
  CHECK_EQ_INT(nctx, 0);
  CHECK_EQ_INT(nrw, 0);
  int token = tg__viz_begin();
  CHECK_EQ_INT(token, 0);
  CHECK_EQ_INT(tg__viz_begin(), -1); /* one context at a time */
  CHECK(tg__simplify(x) == x);       /* no rule fires: dropped */
  CHECK(tg__simplify(e) == x);
  tg__viz_end(token, "kernel", "test_kernel", "CPU", "UPCAST(0,4)", "void test_kernel(void) {}");
  CHECK(tg__simplify(e) == x); /* after the context: not recorded */
  CHECK_EQ_INT(tg__viz_counts(&nctx, &nrw, &nsteps, &nlaunch), 0);
  CHECK_EQ_INT(nctx, 1);
  CHECK_EQ_INT(nrw, 1);
  CHECK_EQ_INT((int)nsteps, 2);
  int64_t root = 0, result = 0;
  const int64_t *opaque = NULL;
  int nopaque = -1, ns = 0;
  int rw = tg__viz_rewrite_of(0, &root, &result, &opaque, &nopaque, &ns);
  CHECK(rw >= 0);
  CHECK_EQ_INT(tg__viz_rewrite_of(1, &root, &result, &opaque, &nopaque, &ns), -1);
  tg__viz_rewrite_of(0, &root, &result, &opaque, &nopaque, &ns);
  CHECK_EQ_INT((int)root, (int)e->id);
  CHECK_EQ_INT((int)result, (int)x->id);
  CHECK_EQ_INT(ns, 2);
  CHECK_EQ_INT(nopaque, 0);
  int64_t before = 0, after = 0;
  int pre = -1;
  tg__viz_step_of(rw, 0, &before, &after, &pre);
  CHECK_EQ_INT((int)before, (int)add->id);
  CHECK_EQ_INT((int)after, (int)x->id);
  CHECK_EQ_INT(pre, 0);
  tg__uop *rebuilt = tg__uop2(TG__OP_MUL, TG_INT32, x, c1, NULL);
  tg__viz_step_of(rw, 1, &before, &after, &pre);
  CHECK_EQ_INT((int)before, (int)rebuilt->id);
  CHECK_EQ_INT((int)after, (int)x->id);
  /* the JSON: the rules by file:line and pattern, the steps with their rules' indices, every node named */
  char path[] = "/tmp/tg-viz-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  CHECK_EQ_INT(tg__viz_write("test", path, 1), 0);
  char *j = test_read_text(path);
  CHECK_NOT_NULL(j);
  if (j) {
    CHECK(strstr(j, "symbolic.c:") != NULL);
    CHECK(strstr(j, "\"(ADD [x (CONST 0)])\"") != NULL);
    CHECK(strstr(j, "\"(MUL [x (CONST 1)])\"") != NULL);
    char want[200];
    snprintf(want, sizeof want, "\"steps\":[[%lld,%lld,0,0],[%lld,%lld,1,0]]", (long long)add->id, (long long)x->id,
             (long long)rebuilt->id, (long long)x->id);
    CHECK(strstr(j, want) != NULL);
    snprintf(want, sizeof want, "[%lld,\"ADD\",\"int32\",\"\",", (long long)add->id);
    CHECK(strstr(j, want) != NULL);
    snprintf(want, sizeof want, "[%lld,\"MUL\",\"int32\",\"\",", (long long)rebuilt->id);
    CHECK(strstr(j, want) != NULL);
    CHECK(strstr(j, "\"kind\":\"kernel\",\"name\":\"test_kernel\",\"device\":\"CPU\",\"opts\":\"UPCAST(0,4)\"") !=
          NULL);
    CHECK(strstr(j, "\"name\":\"symbolic_rules\"") != NULL); /* the matcher's table, tg__ stripped */
  }
  free(j);
  unlink(path);
  tg__viz_reset();
  tg__setenv_int("VIZ", viz0);
}

/* past its bound the recording stops: the rewrite that finds it full is not recorded, yet every end still pairs with
 * its begin (the rewrites open around it keep their steps), and the contexts after record nothing */
TEST(test_internal_viz_cut) {
  int viz0 = tg__viz_mode();
  int64_t max0 = tg__viz_max_steps;
  tg__viz_reset();
  tg__setenv_int("VIZ", 1);
  tg__viz_max_steps = 3;
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i2 = 100;
  tg__uop *x = tg__uop0(TG__OP_DEFINE_VAR, TG_INT32, &a);
  tg__uop *e = tg__uop2(TG__OP_MUL, TG_INT32, tg__uop2(TG__OP_ADD, TG_INT32, x, tg__const_int(TG_INT32, 0), NULL),
                        tg__const_int(TG_INT32, 1), NULL);
  int token = tg__viz_begin();
  CHECK(tg__simplify(e) == x);             /* 2 steps */
  tg__viz_rewrite_begin("outer", NULL, e); /* recorded: below the bound */
  tg__viz_step(e, x, &tg__symbolic_rules[0], 0); /* its step: the bound (3) reached */
  CHECK(tg__simplify(e) == x);             /* inside it, finds the recording full: not recorded, its end pairs */
  tg__viz_rewrite_end(e);                  /* the outer's end: its own result, not the inner one's */
  CHECK_EQ_INT(tg__V.depth, 0);
  tg__viz_end(token, "kernel", "k", "CPU", "", "");
  int nctx = 0, nrw = 0, nlaunch = 0;
  int64_t nsteps = 0;
  CHECK_EQ_INT(tg__viz_counts(&nctx, &nrw, &nsteps, &nlaunch), 1); /* cut */
  CHECK_EQ_INT(nrw, 2);
  CHECK_EQ_INT((int)nsteps, 3);
  int64_t root = 0, result = 0;
  const int64_t *opaque = NULL;
  int nopaque = 0, ns = 0;
  CHECK(tg__viz_rewrite_of(1, &root, &result, &opaque, &nopaque, &ns) >= 0);
  CHECK_EQ_INT((int)result, (int)e->id);
  CHECK_EQ_INT(ns, 1);
  token = tg__viz_begin(); /* a context after the cut records nothing */
  CHECK(tg__simplify(e) == x);
  tg__viz_end(token, "kernel", "k2", "CPU", "", "");
  tg__viz_counts(&nctx, &nrw, &nsteps, &nlaunch);
  CHECK_EQ_INT(nrw, 2);
  CHECK_EQ_INT((int)nsteps, 3);
  tg__viz_max_steps = max0;
  tg__viz_reset();
  tg__setenv_int("VIZ", viz0);
}

/* PROFILE=1 times and records each launch, and no rewrite */
TEST(test_internal_viz_profile_launches) {
  int viz0 = tg__viz_mode(), prof0 = tg__getenv_int("PROFILE", 0);
  tg__viz_reset();
  tg__setenv_int("VIZ", 0);
  tg__setenv_int("PROFILE", 1);
  int64_t l0 = tg_kernel_launches();
  tg_scope_begin();
  static const float v[7] = {1, 2, 3, 4, 5, 6, 7};
  CHECK_NEAR(tg_item(tg_sum(tg_mul_s(TEST_F32(v, 7), 3.0), 0, NULL, 0)), 84.0, 1e-4);
  tg_scope_end();
  int launched = (int)(tg_kernel_launches() - l0);
  int nctx = -1, nrw = -1, nlaunch = -1;
  int64_t nsteps = -1;
  tg__viz_counts(&nctx, &nrw, &nsteps, &nlaunch);
  CHECK(launched >= 1);
  CHECK_EQ_INT(nlaunch, launched);
  CHECK_EQ_INT(nctx, 0);
  CHECK_EQ_INT((int)nsteps, 0);
  /* each launch: [device, kernel, start, duration], the times in µs with three decimals (integers inside: no
   * locale's decimal comma) */
  char path[] = "/tmp/tg-vizp-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  CHECK_EQ_INT(tg__viz_write("test", path, 1), 0);
  char *j = test_read_text(path);
  const char *l = j ? strstr(j, "\"launches\":[\n[\"") : NULL;
  CHECK(l != NULL);
  if (l) {
    unsigned long long ts = 0, tsf = 0, dur = 0, durf = 0;
    int used = 0;
    CHECK(sscanf(l + 13, "[\"%*[^\"]\",\"%*[^\"]\",%llu.%3llu,%llu.%3llu]%n", &ts, &tsf, &dur, &durf, &used) == 4 &&
          used > 0);
    CHECK(dur > 0 || durf > 0);
  }
  free(j);
  unlink(path);
  tg__setenv_int("PROFILE", prof0);
  tg__viz_reset();
  tg__setenv_int("VIZ", viz0);
}

TEST(test_internal_viz_json_escape) {
  tg__str b;
  memset(&b, 0, sizeof b);
  tg__json_str(&b, "a\"b\\c\nd\t</script>\x01\xc3\xa9");
  char *s = tg__str_take(&b);
  CHECK_STR(s, "\"a\\\"b\\\\c\\nd\\t\\u003c/script\\u003e\\u0001\\u00c3\\u00a9\"");
  free(s);
  tg__json_str(&b, NULL);
  s = tg__str_take(&b);
  CHECK_STR(s, "\"\"");
  free(s);
}

TEST(test_internal_viz_default_path) {
  char p[4096], want[200];
  const char *saved = getenv("VIZ_PATH");
  char keep[4096] = "";
  if (saved) snprintf(keep, sizeof keep, "%s", saved);
  setenv("VIZ_PATH", "/somewhere/page.html", 1);
  tg__viz_default_path(p, sizeof p, 0);
  CHECK_STR(p, "/somewhere/page.html");
  unsetenv("VIZ_PATH");
  const char *tmp = getenv("TMPDIR");
  snprintf(want, sizeof want, "%s/tinygrad-viz-%ld.json", tmp && tmp[0] ? tmp : "/tmp", (long)getpid());
  tg__viz_default_path(p, sizeof p, 1);
  CHECK_STR(p, want);
  if (saved) setenv("VIZ_PATH", keep, 1);
}

/* a write that fails (a full disk at any write) leaves the old file as it was, and no temporary beside it */
TEST(test_internal_viz_write_whole_or_nothing) {
  char dir[] = "/tmp/tg-vizw-XXXXXX";
  CHECK_NOT_NULL(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/page.html", dir);
  FILE *f = fopen(path, "w");
  CHECK_NOT_NULL(f);
  if (f) {
    fputs("the old page", f);
    fclose(f);
  }
  for (int skip = 0; skip < 3; skip++) {
    tg__fault_arm(TG__FAULT_IO, skip, 1);
    tg_clear_error();
    CHECK_EQ_INT(tg_viz_write(path, 0), -1);
    tg__fault_arm(TG__FAULT_IO, 0, 0);
    CHECK_ERROR_HAS(path);
    char *s = test_read_text(path);
    CHECK(s && strcmp(s, "the old page") == 0);
    free(s);
  }
  CHECK_EQ_INT(tg_viz_write(path, 0), 0);
  char *s = test_read_text(path);
  CHECK(s && strncmp(s, "<!DOCTYPE html>", 15) == 0);
  CHECK(s && strstr(s, "@DATA@") == NULL && strstr(s, "{\"version\":1,") != NULL);
  free(s);
  unlink(path);
  CHECK_EQ_INT(rmdir(dir), 0); /* empty: no temporary was left */
}
