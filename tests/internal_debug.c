/* internal_debug.c: what DEBUG prints (its level is changed for a moment through tg__setenv_int, which the public
 * tests cannot reach). #included into runner.c after the implementation. */
#include "test.h"
#include <unistd.h>

static int idbg_add(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  out[0] = tg_mul_s(tg_add(in[0], in[1]), 2);
  return tg_realize(out[0]);
}

static tg_tensor *idbg_vec3(float a, float b, float c) {
  const float v[] = {a, b, c};
  return tg_from_data(v, TG_FLOAT32, TG_SHAPE(3));
}

/* DEBUG=2 prints a line for each replayed kernel too (its name, time and "(jit)"), as for a scheduled one: what a
 * training step's kernels cost is read from its replays. stdout goes to a file for the replay. */
TEST(test_internal_debug_jit_replay_lines) {
  tg_jit *j = tg_jit_new(idbg_add, NULL);
  CHECK_NOT_NULL(j);
  tg_scope_begin();
  tg_tensor *out = NULL;
  for (int i = 0; i < 2; i++) {
    tg_tensor *in[2] = {idbg_vec3((float)i, 1, 2), idbg_vec3(10, 0, 0.5f)};
    CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
  }
  char path[] = "/tmp/tg_jit_debug_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  fflush(stdout);
  int saved = dup(1);
  int prev = tg__getenv_int("DEBUG", 0);
  if (fd >= 0 && saved >= 0) {
    dup2(fd, 1);
    tg__setenv_int("DEBUG", 2);
    tg_tensor *in[2] = {idbg_vec3(1, 2, 3), idbg_vec3(1, 1, 1)};
    CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
    tg__setenv_int("DEBUG", prev);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
  }
  const float want[] = {4, 6, 8};
  float *got = tg_to_float(out);
  CHECK(got != NULL);
  if (got) CHECK_ARR_NEAR(got, want, 3, 0);
  free(got);
  char text[512] = "";
  FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
  if (f) {
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
  }
  unlink(path);
  CHECK(strstr(text, "jit: replaying 1 kernels\n*** ") == text); /* the replay's header, then its one line */
  CHECK(strstr(text, " E_3 ") != NULL);     /* the kernel's name */
  CHECK(strstr(text, "us/") != NULL);       /* its time */
  CHECK(strstr(text, " (jit)\n") != NULL);  /* marked as a replay */
  CHECK(strchr(strchr(text, '\n') + 1, '\n') == strrchr(text, '\n'));
  tg_scope_end();
  tg_jit_free(j);
}


/* DEBUG=2's GFLOPS come from codegen's estimate: a matmul's M*N*K multiplies and M*N*K accumulating adds (the adds
 * were once left out, halving the figure), plus a little index arithmetic. With the heuristic's register tile the
 * addresses are computed outside the inner loop; without it (NOOPT) they are counted too, 2.5x over (tinygrad leaves
 * index arithmetic out: the DEBUG issue) */
TEST(test_internal_debug_matmul_flops) {
  tg_scope_begin();
  float a[64 * 40], b[40 * 48];
  for (int i = 0; i < 64 * 40; i++) a[i] = (float)(i % 5);
  for (int i = 0; i < 40 * 48; i++) b[i] = (float)(i % 3);
  tg_tensor *c =
      tg_matmul(tg_from_data(a, TG_FLOAT32, TG_SHAPE(64, 40)), tg_from_data(b, TG_FLOAT32, TG_SHAPE(40, 48)));
  tg_schedule *s = tg_schedule_create(&c, 1);
  CHECK(s && s->s.n == 1);
  if (s && s->s.n == 1) {
    tg__target t; /* the CPU's, whatever DEV is: a GPU's 4x4 tile computes addresses in its inner loop */
    tg__device_target(tg__cpu_device(), &t);
    {
      tg__linear lin;
      CHECK_EQ_INT(tg__codegen(&s->s.k[0], &t, NULL, -1, &lin), 0);
      double want = 2.0 * 64 * 48 * 40;
      test_check(lin.flops >= want && lin.flops <= 1.25 * want, __FILE__, __LINE__, "flops %g, want %g (+25%%)",
                 lin.flops, want);
      tg__linear_free(&lin);
    }
  }
  tg_schedule_free(s);
  /* a row sum GROUPed by 256 on a GPU: the partial sums count (4 x 4096 adds, and their addresses); the second stage,
   * which each of a group's 256 threads runs over the 256 partial sums alike, does not (it would count 16x over) */
  float r[4 * 4096];
  for (int i = 0; i < 4 * 4096; i++) r[i] = (float)(i % 3);
  tg_tensor *rows = tg_sum(tg_from_data(r, TG_FLOAT32, TG_SHAPE(4, 4096)), TG_AXES(1), 0);
  s = tg_schedule_create(&rows, 1);
  CHECK(s && s->s.n == 1);
  if (s && s->s.n == 1) {
    tg__target t;
    tg__device_target(tg__cpu_device(), &t);
    t.gpu = 1, t.local_max = 256, t.shared_bytes = 16384, t.units = 1;
    tg__opt group[1] = {{TG__OPT_GROUP, 0, 256}};
    tg__linear lin;
    CHECK_EQ_INT(tg__codegen(&s->s.k[0], &t, group, 1, &lin), 0);
    CHECK_EQ_INT(lin.local_size, 256);
    double want = 4.0 * 4096;
    test_check(lin.flops >= want && lin.flops <= 5 * want, __FILE__, __LINE__, "flops %g, want %g (to 5x)", lin.flops,
               want);
    tg__linear_free(&lin);
  }
  tg_schedule_free(s);
  tg_scope_end();
}

/* DEBUG=2's line, as tinygrad's, pinned: the kernel's number, its name padded to 44 columns (each number coloured by
 * its loop's role on a terminal), buffers, memory in use, its time and the total so far, GFLOPS, GB/s two ways (the
 * buffers once | every load and store), the Opts, the mark */
TEST(test_internal_debug_line_format) {
  tg__program p;
  memset(&p, 0, sizeof p);
  p.dev = tg__cpu_device();
  p.name = (char *)"r_8_2_64_8_32";
  snprintf(p.roles, sizeof p.roles, "ggruU");
  p.flops = 2e6, p.bytes = 1e5, p.lds = 3e5;
  tg__str s;
  memset(&s, 0, sizeof s);
  tg__debug_line(&s, &p, 12, 3, 5e-6, 1.2e-4, 50000000, "UPCAST(0,8)", "", 0);
  tg__debug_line(&s, &p, 13, 3, 2.5e-3, 1.5, 0, NULL, " (jit)", 0);
  char *plain = tg__str_take(&s);
  CHECK_STR(plain, "*** CPU       12 r_8_2_64_8_32                                arg  3 mem  0.05 GB tm      5.00us/"
                   "     0.12ms (   400.00 GFLOPS   20.0|60.0    GB/s) [UPCAST(0,8)]\n"
                   "*** CPU       13 r_8_2_64_8_32                                arg  3 mem  0.00 GB tm      2.50ms/"
                   "  1500.00ms (     0.80 GFLOPS    0.0|0.1     GB/s) (jit)\n");
  free(plain);
  memset(&s, 0, sizeof s);
  tg__debug_line(&s, &p, 12, 3, 5e-6, 1.2e-4, 0, NULL, "", 1);
  char *color = tg__str_take(&s);
  CHECK(strstr(color, "\033[32m*** CPU       12\033[0m r_\033[34m8\033[0m_\033[34m2\033[0m_\033[31m64\033[0m_"
                      "\033[35m8\033[0m_\033[33m32\033[0m                                arg  3") == color); /* u: magenta */
  free(color);
  /* DEBUG=1's line */
  int64_t before[3] = {5, 1, 2}, after[3] = {12, 3, 4};
  memset(&s, 0, sizeof s);
  tg__debug_realised(&s, 11, "CPU", 0.25e-3, 31.5e-3, 0.125e-3, before, after);
  char *line = tg__str_take(&s);
  CHECK_STR(line, "realised 11 kernels on CPU: schedule 0.25 ms, compile 31.50 ms (2 compiled, 2 from the disk cache, "
                  "7 loaded before), run 0.12 ms\n");
  free(line);
}

/* the role of each number of a kernel's name, from codegen: a matmul's output loops, its reduction, its UPCASTs */
TEST(test_internal_debug_name_roles) {
  tg_scope_begin();
  float a[64 * 48], b[48 * 32];
  memset(a, 0, sizeof a), memset(b, 0, sizeof b);
  tg_tensor *c = tg_matmul(tg_from_data(a, TG_FLOAT32, TG_SHAPE(64, 48)), tg_from_data(b, TG_FLOAT32, TG_SHAPE(48, 32)));
  tg_schedule *s = tg_schedule_create(&c, 1);
  CHECK(s && s->s.n == 1);
  if (s && s->s.n == 1) {
    tg__target t;
    tg__device_target(tg__cpu_device(), &t);
    tg__opt opts[3] = {{TG__OPT_UPCAST, 0, 4}, {TG__OPT_UPCAST, 1, 8}, {TG__OPT_UNROLL, 0, 2}};
    tg__linear lin;
    CHECK_EQ_INT(tg__codegen(&s->s.k[0], &t, opts, 3, &lin), 0);
    CHECK_STR(lin.name, "r_16_4_24_2_4_8");
    CHECK_STR(lin.roles, "ggruUU");
    tg__linear_free(&lin);
  }
  tg_schedule_free(s);
  tg_scope_end();
}

/* what f prints on stdout at DEBUG=level (malloc'd) */
static char *idbg_capture(int level, void (*f)(void)) {
  char path[] = "/tmp/tg_debug_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  fflush(stdout);
  int saved = dup(1), prev = tg__getenv_int("DEBUG", 0);
  dup2(fd, 1);
  tg__setenv_int("DEBUG", level);
  f();
  tg__setenv_int("DEBUG", prev);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  off_t n = lseek(fd, 0, SEEK_END);
  char *text = (char *)calloc(1, (size_t)n + 1);
  if (text && n > 0 && pread(fd, text, (size_t)n, 0) != n) text[0] = 0;
  close(fd);
  unlink(path);
  return text;
}

static void idbg_exp_sum(void) {
  static int serial;
  float v[5] = {1, 2, 3, 4, 5};
  tg_scope_begin(); /* a constant no other kernel of the process has: its kernel is new, and compiled */
  tg_realize(tg_sum(tg_exp(tg_add_s(tg_from_data(v, TG_FLOAT32, TG_SHAPE(5)), 0.125 * ++serial)), 0, NULL, 0));
  tg_scope_end();
}

/* DEBUG=4: the IR after each named stage, in order, the linearised ops with their sources' positions; DEBUG=3: the
 * source of the kernel, its first line naming its Opts; DEBUG=1: one line for the realisation */
TEST(test_internal_debug_levels) {
  char *four = idbg_capture(4, idbg_exp_sum);
  CHECK_NOT_NULL(four);
  if (four) {
    static const char *const stages[] = {"=== tensor graph 1 of 1, to realise ===\n", "=== a kernel: its AST, from the "
                                         "scheduler ===\n", "=== kernel r_5: lowered to loops and indices, symbolic "
                                         "rules applied ===\n", "=== kernel r_5: optimised [", "=== kernel r_5: "
                                         "linearised ===\n", "/* tinygrad.h kernel r_5, opts [", "realised 1 kernel on "};
    const char *at = four;
    for (int i = 0; i < 7 && at; i++) {
      const char *next = strstr(at, stages[i]);
      test_check(next != NULL, __FILE__, __LINE__, "stage %d (%s) missing or out of order", i, stages[i]);
      at = next;
    }
    const char *lin = strstr(four, "linearised ===\n");
    CHECK(lin && strncmp(lin + 15, "   0 ", 5) == 0); /* numbered ops */
    CHECK(lin && strstr(lin, " LOAD ") && strstr(lin, "[DEFINE_GLOBAL, "));
    free(four);
  }
  char *three = idbg_capture(3, idbg_exp_sum);
  CHECK(three && strstr(three, "/* tinygrad.h kernel r_5, opts [") && !strstr(three, "=== kernel"));
  free(three);
  const char *dis = getenv("DISABLE_COMPILER_CACHE");
  char *dis_saved = dis ? strdup(dis) : NULL;
  setenv("DISABLE_COMPILER_CACHE", "1", 1); /* not read from the disk cache: compiled */
  char *one = idbg_capture(1, idbg_exp_sum);
  if (dis_saved) setenv("DISABLE_COMPILER_CACHE", dis_saved, 1);
  else unsetenv("DISABLE_COMPILER_CACHE");
  free(dis_saved);
  CHECK(one && strncmp(one, "realised 1 kernel on ", 21) == 0 && !strstr(one, "***"));
  CHECK(one && strstr(one, "(1 compiled, 0 from the disk cache, 0 loaded before)"));
  free(one);
}
