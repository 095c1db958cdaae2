/* internal_pool.c: the CPU device's thread pool runs every iteration of a launch exactly once, whatever the size and
 * however the guided chunks fall; launches may follow each other at once or after the workers fell asleep; a wake
 * (which sets sleeping workers spinning) changes no result; a forked child computes alone. #included into runner.c
 * after the implementation. */
#include "test.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(test_internal_pool_each_iteration_once) {
  static int serial;
  char name[64], src[512];
  snprintf(name, sizeof name, "tpool_%d", ++serial);
  snprintf(src, sizeof src,
           "#include <stdint.h>\n"
           "void %s_entry(void **bufs, int64_t start, int64_t end) {\n"
           "  int *out = (int *)bufs[0];\n"
           "  for (int64_t i = start; i < end; i++) out[i] += 1 + (int)(i %% 3);\n"
           "}\n", name);
  tg__device *d = tg__cpu_device();
  tg__program *p = tg__dev_compile(d, name, src);
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
