/* internal_search.c: BEAM search (search.c) and the CPU's parallel compile of its candidates (compile_batch).
 *  - A search finds a list that computes what NOOPT computes, says so in its counters and writes its choice into the
 *    disk cache; after a restart (the in-memory cache dropped) the same kernel is found there and nothing is searched;
 *    a damaged file, or a list the code generator refuses, is searched again and replaced.
 *  - compile_batch compiles several kernels at once: the good ones run, a broken one is NULL, and a second batch of
 *    the same sources compiles nothing.
 * Runs against the private cache directory of internal_cache.c's helpers (#included before this file, in runner.c). */
#include "test.h"

/* a 16x24 @ 24x32 matmul over fresh buffers (values from a formula) */
static tg_tensor *ts_matmul(void) {
  float a[16 * 24], b[24 * 32];
  for (int i = 0; i < 16 * 24; i++) a[i] = (float)sin(0.11 * i);
  for (int i = 0; i < 24 * 32; i++) b[i] = (float)cos(0.07 * i) - 0.5f;
  return tg_matmul(tg_from_data(a, TG_FLOAT32, TG_SHAPE(16, 24)), tg_from_data(b, TG_FLOAT32, TG_SHAPE(24, 32)));
}

/* the matmul realised (with whatever list the settings give), its values into out; 0 or -1 */
static int ts_values(float *out) {
  tg_scope_begin();
  tg_tensor *c = ts_matmul();
  int rc = tg_realize(c);
  float *v = rc == 0 ? tg_to_float(c) : NULL;
  if (v) memcpy(out, v, sizeof(float) * 16 * 32);
  free(v);
  tg_scope_end();
  return v ? 0 : -1;
}

/* the matmul kernel's source as it would run now */
static char *ts_source(void) {
  tg_scope_begin();
  tg_tensor *c = ts_matmul();
  tg_schedule *s = tg_schedule_create(&c, 1);
  const char *src = s && tg_schedule_count(s) == 1 ? tg_schedule_source(s, 0) : NULL;
  char *copy = src ? strdup(src) : NULL;
  tg_schedule_free(s);
  tg_scope_end();
  return copy;
}

/* the one beam-* file of dir into path; how many there are */
static int ts_beam_file(const char *dir, char *path, size_t n) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int count = 0;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, "beam-", 5) && !strchr(e->d_name, '.')) {
      snprintf(path, n, "%s/%s", dir, e->d_name);
      count++;
    }
  if (d) closedir(d);
  return count;
}

TEST(test_internal_search_beam_and_its_cache) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  float want[16 * 32], got[16 * 32];
  tg__set_opts_override(NULL, 0); /* NOOPT */
  CHECK_EQ_INT(ts_values(want), 0);
  tg__set_opts_override(NULL, -1);
  /* a search: width 2, every kernel however fast, at most 3 s */
  tg__beam_forget();
  tg__set_beam(2, 0, 3);
  tg__beam_stat s0 = *tg__beam_stats();
  CHECK_EQ_INT(ts_values(got), 0);
  CHECK_ARR_NEAR(got, want, 16 * 32, 1e-5);
  tg__beam_stat s1 = *tg__beam_stats();
  CHECK_EQ_INT(s1.searches - s0.searches, 1);
  CHECK_EQ_INT(s1.hits - s0.hits, 0);
  CHECK(s1.candidates - s0.candidates > 2); /* past round 0 (the heuristic's list and the empty one) */
  char path[1024] = "", *src1 = ts_source(); /* the same kernel again: its source is cached, nothing is searched */
  CHECK_EQ_INT(tg__beam_stats()->searches, s1.searches);
  CHECK_EQ_INT(ts_beam_file(t.dir, path, sizeof path), 1);
  FILE *f = fopen(path, "r");
  char line[64] = "";
  if (f) {
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
  }
  CHECK_STR(line, "tinygrad.h BEAM 5\n");
  /* a restart: only the disk remembers. The same choice, nothing searched */
  tg__beam_forget();
  s1 = *tg__beam_stats();
  CHECK_EQ_INT(ts_values(got), 0);
  CHECK_ARR_NEAR(got, want, 16 * 32, 1e-5);
  CHECK_EQ_INT(tg__beam_stats()->searches, s1.searches);
  CHECK_EQ_INT(tg__beam_stats()->hits - s1.hits, 1);
  char *src2 = ts_source();
  CHECK(src1 && src2 && !strcmp(src1, src2));
  free(src1);
  free(src2);
  /* a damaged file, and a list the code generator refuses: searched again, and replaced */
  static const char *const bad[] = {"garbage\x01\x02", "tinygrad.h BEAM 5\nUPCAST 7 2\n",
                                    "tinygrad.h BEAM 5\nNOSUCHOP 0 2\n", "tinygrad.h BEAM 5\nUPCAST 0",
                                    "tinygrad.h BEAM 3\nUPCAST 0 2\n"}; /* an older version's list */
  for (int i = 0; i < TG__COUNT(bad); i++) {
    CHECK_EQ_INT(ti_write_file(path, bad[i], strlen(bad[i])), 0);
    tg__beam_forget();
    s1 = *tg__beam_stats();
    CHECK_EQ_INT(ts_values(got), 0);
    CHECK_ARR_NEAR(got, want, 16 * 32, 1e-5);
    CHECK_EQ_INT(tg__beam_stats()->searches - s1.searches, 1);
    f = fopen(path, "r");
    line[0] = 0;
    if (f) {
      if (!fgets(line, sizeof line, f)) line[0] = 0;
      fclose(f);
    }
    CHECK_STR(line, "tinygrad.h BEAM 5\n");
  }
  tg__set_beam(-1, 0, 0);
  tg__beam_forget();
  ti_cache_end(&t);
}

/* The search starts from the heuristic's list, so a kernel whose heuristic gives another list (here NOOPT's empty
 * one, then the tile) is searched again, not answered from the cache; each answer computes the same values */
TEST(test_internal_search_key_follows_the_heuristic) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  float want[16 * 32], got[16 * 32];
  tg__set_opts_override(NULL, 0);
  CHECK_EQ_INT(ts_values(want), 0);
  tg__set_opts_override(NULL, -1);
  tg__beam_forget();
  tg__set_beam(2, 0, 3);
  int noopt = tg__getenv_int("NOOPT", 0);
  for (int pass = 0; pass < 3; pass++) { /* NOOPT, the heuristic, NOOPT again (now from a cache) */
    tg__setenv_int("NOOPT", pass != 1);
    tg__beam_stat s0 = *tg__beam_stats();
    CHECK_EQ_INT(ts_values(got), 0);
    CHECK_ARR_NEAR(got, want, 16 * 32, 1e-5);
    CHECK_EQ_INT(tg__beam_stats()->searches - s0.searches, pass < 2);
    if (pass < 2) CHECK_EQ_INT(tg__beam_stats()->hits - s0.hits, 0);
  }
  tg__setenv_int("NOOPT", noopt);
  tg__set_beam(-1, 0, 0);
  tg__beam_forget();
  ti_cache_end(&t);
}

/* BEAM off (the default) searches nothing; a kernel faster than the minimum time is timed, not searched */
TEST(test_internal_search_off_and_small) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  float got[16 * 32];
  tg__beam_stat s0 = *tg__beam_stats();
  CHECK_EQ_INT(ts_values(got), 0);
  CHECK_EQ_INT(tg__beam_stats()->searches + tg__beam_stats()->hits, s0.searches + s0.hits);
  tg__beam_forget();
  tg__set_beam(1, 1e9, 3); /* every kernel is "fast": round 0 only */
  s0 = *tg__beam_stats();
  CHECK_EQ_INT(ts_values(got), 0);
  CHECK_EQ_INT(tg__beam_stats()->searches - s0.searches, 1);
  CHECK_EQ_INT(tg__beam_stats()->candidates - s0.candidates, 2);
  tg__set_beam(-1, 0, 0);
  tg__beam_forget();
  ti_cache_end(&t);
}

/* A kernel's search lasts what 20000 runs of the heuristic's list take, 2 s at least, unbounded when it did not run */
TEST(test_internal_search_budget) {
  CHECK_NEAR(tg__beam_budget(250e-6), 5.0, 1e-9);  /* B's panel copy of a 1024 matmul on 2 cores */
  CHECK_NEAR(tg__beam_budget(0.012), 240.0, 1e-9); /* its matmul: BEAM_TIMEOUT (60 s) decides */
  CHECK_NEAR(tg__beam_budget(30e-6), 2.0, 1e-12);
  CHECK_NEAR(tg__beam_budget(0), 2.0, 1e-12);
  CHECK(isinf(tg__beam_budget(INFINITY)));
  CHECK(isinf(tg__beam_budget(NAN)));
}

/* The candidates' buffers are zero whatever the heap held before (garbage read as floats holds denormals, which
 * slowed a 16-core Xeon's FMAs 4-8x and crowned slower lists); a failed allocation gives NULL and keeps nothing */
TEST(test_internal_search_scratch_is_zero) {
  tg__device *d = tg__device_get(NULL);
  size_t sizes[3] = {(size_t)4 << 20, 65536 + 12, 0};
  for (int round = 0; round < 3; round++) { /* the heap dirtied, so that the allocator has garbage to hand back */
    void *junk[4];
    for (int i = 0; i < 4; i++) {
      junk[i] = malloc(i & 1 ? sizes[1] : sizes[0]);
      if (junk[i]) memset(junk[i], 5 + i, i & 1 ? sizes[1] : sizes[0]);
    }
    for (int i = 0; i < 4; i++) free(junk[i]);
    void **p = tg__beam_scratch(d, sizes, 3);
    CHECK(p != NULL);
    if (!p) return;
    unsigned char *host = (unsigned char *)malloc(sizes[0]);
    CHECK(host != NULL);
    for (int b = 0; b < 3 && host; b++) {
      size_t nb = sizes[b] ? sizes[b] : 1, nonzero = 0;
      memset(host, 0xff, nb);
      CHECK_EQ_INT(tg__dev_copy_out(d, host, p[b], nb), 0);
      CHECK_EQ_INT(tg__dev_synchronize(d), 0);
      for (size_t i = 0; i < nb; i++) nonzero += host[i] != 0;
      CHECK_EQ_INT((long long)nonzero, 0);
    }
    free(host);
    tg__beam_scratch_free(d, p, sizes, 3);
  }
  tg__fault_arm(TG__FAULT_HOST_ALLOC, 0, 1); /* the zeros' host buffer */
  CHECK(tg__beam_scratch(d, sizes, 3) == NULL);
  tg__fault_arm(TG__FAULT_HOST_ALLOC, 0, 0);
  tg_clear_error();
}

/* three kernels at once, the middle one broken: two programs that run right and a NULL; the same batch again
 * compiles nothing (the programs are the same) */
TEST(test_internal_search_compile_batch) {
  ti_cache t;
  if (ti_cache_begin(&t) != 0) return;
  tg__device *d = tg__cpu_device();
  ti_kernel k[3];
  for (int i = 0; i < 3; i++) ti_kernel_new(&k[i]);
  snprintf(k[1].src, sizeof k[1].src, "void %s_entry(void **bufs, long start, long end) { syntax error }\n",
           k[1].name);
  const char *names[3] = {k[0].name, k[1].name, k[2].name}, *srcs[3] = {k[0].src, k[1].src, k[2].src};
  tg__program *out[3] = {NULL, NULL, NULL}, *again[3] = {NULL, NULL, NULL};
  tg__errsave saved;
  tg__error_push(&saved);
  int64_t c0 = tg_compiler_invocations();
  tg__dev_compile_batch(d, 3, names, srcs, out);
  CHECK(ti_runs_right(out[0], &k[0]));
  CHECK_NULL(out[1]);
  CHECK(ti_runs_right(out[2], &k[2]));
  CHECK_EQ_INT(tg_compiler_invocations() - c0, 3);
  CHECK_EQ_INT(ti_entries(t.dir), 2); /* two objects cached; nothing of the broken one, no temporaries */
  c0 = tg_compiler_invocations();
  tg__dev_compile_batch(d, 3, names, srcs, again);
  CHECK(again[0] == out[0] && again[2] == out[2]);
  CHECK_EQ_INT(tg_compiler_invocations() - c0, 1); /* only the broken one */
  const char *e = tg_error(); /* the compiler's complaint, naming the kernel */
  CHECK(e && strstr(e, "CPU compile of kernel") && strstr(e, k[1].name));
  tg__error_pop(&saved);
  ti_cache_end(&t);
}
