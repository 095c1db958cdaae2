/* internal_pool.c: the CPU device's thread pool runs every iteration of a launch exactly once, whatever the size and
 * however the guided chunks fall; launches may follow each other at once or after the workers fell asleep; a wake
 * (which sets sleeping workers spinning) changes no result; a forked child computes alone. #included into runner.c
 * after the implementation. */
#include "test.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* a CPU program NAME_entry(bufs, start, end) whose body is `body`, under a name no other program has */
static tg__program *tp_compile(const char *prefix, const char *body) {
  static int serial;
  char name[64], src[1024];
  snprintf(name, sizeof name, "%s_%d", prefix, ++serial);
  snprintf(src, sizeof src, "#include <stdint.h>\nvoid %s_entry(void **bufs, int64_t start, int64_t end) {\n%s}\n",
           name, body);
  return tg__dev_compile(tg__cpu_device(), name, src);
}

TEST(test_internal_pool_each_iteration_once) {
  tg__device *d = tg__cpu_device();
  tg__program *p = tp_compile("tpool", "  int *out = (int *)bufs[0];\n"
                                       "  for (int64_t i = start; i < end; i++) out[i] += 1 + (int)(i % 3);\n");
  CHECK_NOT_NULL(p);
  if (!p) return;
  static const int64_t sizes[] = {1, 2, 3, 5, 17, 64, 129, 1000, 65537, 1000003};
  int ok = 1;
  for (int s = 0; s < TG__COUNT(sizes); s++) {
    int64_t n = sizes[s];
    int *out = (int *)calloc((size_t)n, sizeof(int));
    void *bufs[1] = {out};
    p->global_size = n;
    p->flops = 1e9; /* as a large kernel: split across the pool */
    p->bytes = 0;
    for (int rep = 0; rep < 3; rep++) {
      if (rep == 1 && s % 3 == 0) tg__dev_wake(d); /* the workers spin for the launch that follows */
      if (rep == 2 && s % 4 == 1) { /* asleep: past their spin (200 us), the workers wait on the condition */
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
      }
      CHECK_EQ_INT(tg__dev_launch(p, bufs, 1), 0);
    }
    for (int64_t i = 0; i < n; i++) ok &= out[i] == 3 * (1 + (int)(i % 3));
    if (!ok) printf("size %lld: an iteration ran twice or never\n", (long long)n);
    free(out);
  }
  CHECK(ok);
}

/* a wake with no launch after it, and many in a row, leave the pool working: the workers go back to sleep */
TEST(test_internal_pool_wake_alone) {
  tg__device *d = tg__cpu_device();
  CHECK(d->desc.wake != NULL);
  if (!d->desc.wake) return;
  for (int i = 0; i < 100; i++) tg__dev_wake(d);
  struct timespec nap = {0, 2000000};
  nanosleep(&nap, NULL);
  float v[4096];
  for (int i = 0; i < 4096; i++) v[i] = (float)i;
  tg_tensor *t = tg_sum(tg_from_data(v, TG_FLOAT32, TG_SHAPE(4096)), 0, NULL, 0);
  CHECK_NEAR(tg_item(t), 4095.0 * 4096.0 / 2, 1);
  tg_free(t);
}

/* A forked child has none of the parent's workers: a launch there runs every chunk on the calling thread (it neither
 * waits for workers that do not exist nor takes a lock a worker held at the fork), and computes the same values. */
TEST(test_internal_pool_forked_child) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the pool is the CPU's (an OpenCL driver need not survive
                                                           * a fork) */
  float v[1 << 16];
  for (int i = 0; i < (1 << 16); i++) v[i] = (float)(i % 7);
  tg_tensor *warm = tg_sum(tg_from_data(v, TG_FLOAT32, TG_SHAPE(1 << 16)), 0, NULL, 0); /* the pool is started */
  CHECK_NEAR(tg_item(warm), 196603.0, 0.5); /* 9362 cycles of 0..6 (21 each), then 0, 1 */
  tg_free(warm);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20); /* a deadlock ends the child with SIGALRM, which the parent reports */
    tg_tensor *t = tg_sum(tg_mul_s(tg_from_data(v, TG_FLOAT32, TG_SHAPE(1 << 16)), 2), 0, NULL, 0);
    _exit(fabs(tg_item(t) - 393206.0) < 1 ? 0 : 1);
  }
  CHECK(pid > 0);
  int status = 0;
  if (pid > 0) CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* tg_set_threads: the pool stops, and the next large launch starts THREADS - 1 workers (the caller is the other) */
TEST(test_internal_pool_threads_setting) {
  int threads0 = tg_setting("THREADS");
  static const int want[3] = {3, 1, 2};
  float v[1 << 16];
  for (int i = 0; i < (1 << 16); i++) v[i] = 1;
  for (int k = 0; k < 3; k++) {
    CHECK_EQ_INT(tg_set_threads(want[k]), 0);
    tg_tensor *x = tg_from_data(v, TG_FLOAT32, TG_SHAPE(1 << 16)), *on_cpu = tg_to(x, "CPU"); /* DEV may be a GPU */
    tg_tensor *t = tg_sum(on_cpu, 0, NULL, 0);
    CHECK_NEAR(tg_item(t), 65536, 0);
    tg_free(t), tg_free(on_cpu), tg_free(x);
    CHECK_EQ_INT(tg__cpu_pool.nworkers, want[k] - 1);
  }
  tg_set_threads(threads0);
}

/* Claims of cheap iterations end on multiples of 64 (tg__cpu_align): an element is computed by the vector loop or by
 * its scalar remainder whatever the split, and the two differ in the last bit where the compiler may reorder a product
 * (-fassociative-math). Adam's update of a million weights, computed with 1, 2, 3 and 7 threads (an elementwise kernel
 * has the same code for each), is the same bits every time; before, with 2 threads, some differed from 1 thread's. */
TEST(test_internal_pool_split_changes_no_bits) {
  CHECK_EQ_INT(tg__cpu_align(1 << 20, 4e6), 64);   /* elementwise: a few flops and bytes an iteration */
  CHECK_EQ_INT(tg__cpu_align(4608, 1.4e11), 1);    /* a matmul's tasks: any split */
  CHECK_EQ_INT(tg__cpu_align(100, 1e3), 1);        /* too few iterations to align */
  CHECK_EQ_INT(tg__cpu_align(1 << 20, 0), 1);      /* unknown work */
  /* the claims of an elementwise-sized job, as the pool makes them: each starts and ends on a multiple of 64 (the
   * last at the end), and together they cover the job once */
  tg__program *p =
      tp_compile("tclaims", "  int64_t *log = (int64_t *)bufs[0], k = __atomic_fetch_add(&log[0], 1, __ATOMIC_RELAXED);\n"
                            "  if (k < 4000) log[1 + 2 * k] = start, log[2 + 2 * k] = end;\n");
  CHECK_NOT_NULL(p);
  int64_t *log = (int64_t *)calloc(1 + 2 * 4000, sizeof(int64_t));
  if (p && log) {
    const int64_t n = 1000003;
    p->global_size = n, p->flops = 20.0 * (double)n, p->bytes = 0; /* 20 of work an iteration: elementwise */
    void *bufs[1] = {log};
    CHECK_EQ_INT(tg__dev_launch(p, bufs, 1), 0);
    int64_t claims = log[0] < 4000 ? log[0] : 4000, covered = 0;
    int aligned = claims > 0;
    for (int64_t k = 0; k < claims; k++) {
      int64_t s = log[1 + 2 * k], e = log[2 + 2 * k];
      aligned &= s % 64 == 0 && (e % 64 == 0 || e == n) && s < e;
      covered += e - s;
    }
    CHECK(aligned);
    CHECK_EQ_INT(covered, n);
  }
  free(log);
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the pool is the CPU's */
  int threads0 = tg_setting("THREADS");
  enum { N = 1000003 };
  float *w = (float *)malloc(sizeof(float) * N), *m = (float *)malloc(sizeof(float) * N);
  float *v = (float *)malloc(sizeof(float) * N), *first = NULL;
  uint32_t r = 12345; /* full mantissas: products that round differently in another order */
#define NEXT_U01() ((r = r * 1664525u + 1013904223u) >> 8) / 16777216.0f
  for (int i = 0; i < N; i++) w[i] = NEXT_U01() - 0.5f, m[i] = (NEXT_U01() - 0.5f) / 10, v[i] = NEXT_U01() / 100 + 1e-6f;
#undef NEXT_U01
  static const int threads[4] = {1, 2, 3, 7};
  int same = 1;
  for (int k = 0; k < 4; k++) {
    CHECK_EQ_INT(tg_set_threads(threads[k]), 0);
    tg_scope_begin();
    tg_tensor *tw = tg_from_data(w, TG_FLOAT32, TG_SHAPE(N)), *tm = tg_from_data(m, TG_FLOAT32, TG_SHAPE(N));
    tg_tensor *tv = tg_from_data(v, TG_FLOAT32, TG_SHAPE(N));
    float b1[1] = {0.9f}, b2[1] = {0.999f}, lr[1] = {0.001f};
    tg_tensor *c1 = tg_from_data(b1, TG_FLOAT32, TG_SHAPE(1)), *c2 = tg_from_data(b2, TG_FLOAT32, TG_SHAPE(1));
    tg_tensor *clr = tg_from_data(lr, TG_FLOAT32, TG_SHAPE(1));
    /* w - m / (1 - b1) / (sqrt(v / (1 - b2)) + eps) * lr, the scalars broadcast from buffers (as the optimizer's) */
    tg_tensor *mh = tg_mul(tm, tg_expand(tg_reciprocal(tg_rsub_s(1.0, c1)), TG_SHAPE(N)));
    tg_tensor *vh = tg_mul(tv, tg_expand(tg_reciprocal(tg_rsub_s(1.0, c2)), TG_SHAPE(N)));
    tg_tensor *step = tg_mul(tg_mul(mh, tg_reciprocal(tg_add_s(tg_sqrt(vh), 1e-8))), tg_expand(clr, TG_SHAPE(N)));
    float *got = tg_to_float(tg_sub(tw, step));
    CHECK(got != NULL);
    if (got && !first) first = got;
    else if (got) {
      int differ = 0;
      for (int i = 0; i < N; i++) differ += memcmp(&got[i], &first[i], sizeof(float)) != 0;
      if (differ) printf("%d threads: %d of %d values differ from 1 thread's\n", threads[k], differ, N);
      same &= differ == 0;
      free(got);
    }
    tg_scope_end();
  }
  CHECK(same);
  free(first), free(w), free(m), free(v);
  tg_set_threads(threads0);
}

/* Launches back to back of two kernels with jobs of different sizes, on more threads than cores (workers preempted
 * between their claims): each iteration of each launch runs once, with its own kernel and buffer. The pool had let a
 * worker whose chunk ended a job read the next job's size before that job was published, and claim its iterations
 * as the old job's, run with a mix of the two jobs' kernel and buffers (tg__cpu_run_chunks' seqlock check). */
TEST(test_internal_pool_back_to_back_jobs) {
  if (strcmp(tg__device_get(NULL)->name, "CPU")) return; /* the pool is the CPU's */
  int threads0 = tg_setting("THREADS");
  CHECK_EQ_INT(tg_set_threads(6), 0);
  tg__program *p[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++) {
    char body[256];
    snprintf(body, sizeof body,
             "  int *out = (int *)bufs[0];\n"
             "  for (int64_t i = start; i < end; i++) __atomic_fetch_add(&out[i], %d, __ATOMIC_RELAXED);\n",
             k ? 1000 : 1);
    p[k] = tp_compile("tb2b", body);
    CHECK_NOT_NULL(p[k]);
  }
  enum { BIG = 4096, SMALL = 200, ROUNDS = 3000 };
  int *out[2] = {(int *)calloc(BIG, sizeof(int)), (int *)calloc(BIG, sizeof(int))};
  if (p[0] && p[1] && out[0] && out[1]) {
    for (int r = 0; r < ROUNDS; r++)
      for (int k = 0; k < 2; k++) {
        void *bufs[1] = {out[k]};
        p[k]->global_size = k ? BIG : SMALL; /* the next job is larger: a stale reader sees iterations left */
        p[k]->flops = 1e9, p[k]->bytes = 0; /* split across the pool in many claims */
        if (tg__dev_launch(p[k], bufs, 1) != 0) r = ROUNDS;
      }
    int ok = 1;
    for (int i = 0; i < BIG; i++) {
      ok &= out[0][i] == (i < SMALL ? ROUNDS : 0);
      ok &= out[1][i] == ROUNDS * 1000;
    }
    CHECK(ok);
  }
  free(out[0]), free(out[1]);
  tg_set_threads(threads0);
}
