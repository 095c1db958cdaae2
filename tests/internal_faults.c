/* internal_faults.c: a failure anywhere in a realisation leaves every tensor as it was, and a retry works. Faults are
 * injected where they happen in the field (tg__fault_arm: a compile, a device allocation, a launch) and, for the
 * compiler, for real (CC=false). Each test checks the values after the failure, that no kernel ran when the failure
 * came before the launches, and the values after the retry. #included into runner.c after the implementation. */
#include "test.h"
#include "helpers.h"

static const float tf_v[4] = {1, 2, 3, 4};
static const float tf_v100[4] = {101, 102, 103, 104};

/* the 4 values of t, or NANs (with the error printed) if it cannot be read */
static void tf_read4(tg_tensor *t, float *out) {
  float *p = tg_to_float(t);
  for (int i = 0; i < 4; i++) out[i] = p ? p[i] : NAN;
  if (!p) printf("    read failed: %s\n", tg_error() ? tg_error() : "(no error)");
  free(p);
}

/* c = 2a (a new buffer) and tg_assign(a, a+100), realised together, fail at the fault armed; both keep their values
 * (c reads a from before the assignment), then reading them realises each once */
static void tf_assign_survives(tg__fault_kind kind, int64_t skip) {
  if (!test_on_cpu()) return;
  static const float want_c[4] = {2, 4, 6, 8};
  tg_tensor *a = TEST_F32(tf_v, 4);
  tg_tensor *c = tg_mul_s(a, 2);
  CHECK_NOT_NULL(tg_assign(a, tg_add_s(a, 100)));
  int64_t launches = tg_kernel_launches();
  tg__fault_arm(kind, skip, 1);
  tg_tensor *both[2] = {c, a};
  CHECK(tg_realize_all(both, 2) < 0);
  CHECK(tg_error() != NULL && strstr(tg_error(), "injected") != NULL);
  tg__fault_arm(kind, 0, 0);
  CHECK_EQ_INT(tg_kernel_launches(), launches + skip); /* nothing ran but what came before the fault */
  tg_clear_error();
  float got[4];
  tf_read4(c, got);
  CHECK_ARR_NEAR(got, want_c, 4, 0);
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tg_free(c);
  tg_free(a);
}

TEST(test_fault_compile_leaves_assign_pending) { tf_assign_survives(TG__FAULT_COMPILE, 0); }
TEST(test_fault_alloc_leaves_assign_pending) { tf_assign_survives(TG__FAULT_DEVICE_ALLOC, 0); }
TEST(test_fault_launch_leaves_assign_pending) { tf_assign_survives(TG__FAULT_LAUNCH, 0); }
TEST(test_fault_second_launch_keeps_the_first) { tf_assign_survives(TG__FAULT_LAUNCH, 1); }

/* the reviewer's reproduction: a real compiler that fails (CC=false), then the right one */
TEST(test_fault_failing_cc_then_retry) {
  if (!test_on_cpu()) return;
  tg_tensor *a = TEST_F32(tf_v, 4);
  tg_assign(a, tg_add_s(a, 100));
  const char *old = getenv("CC");
  char saved[256] = "";
  if (old) snprintf(saved, sizeof saved, "%s", old);
  setenv("CC", "false", 1);
  CHECK(tg_realize(a) < 0);
  CHECK(tg_error() != NULL && strstr(tg_error(), "compile") != NULL);
  if (old) setenv("CC", saved, 1);
  else unsetenv("CC");
  tg_clear_error();
  float got[4];
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tg_free(a);
}

/* values that were readable stay readable while a later assignment to them fails */
TEST(test_fault_realised_values_stay_readable) {
  if (!test_on_cpu()) return;
  tg_tensor *a = TEST_F32(tf_v, 4);
  tg_tensor *view = tg_mul_s(a, 1); /* a lazy graph on a's current version */
  tg_assign(a, tg_add_s(a, 100));
  tg__fault_arm(TG__FAULT_COMPILE, 0, -1); /* every compile fails */
  CHECK(tg_realize(a) < 0);
  CHECK(tg_realize(a) < 0);
  tg__fault_arm(TG__FAULT_COMPILE, 0, 0);
  tg_clear_error();
  float got[4];
  tf_read4(view, got); /* reads version 0: the assignment never ran, so it is not stale */
  CHECK_ARR_NEAR(got, tf_v, 4, 0);
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tg_free(view);
  tg_free(a);
}

/* a lazy random tensor survives a failed realisation: the counter's pending update is undone, and the retry draws
 * exactly the numbers an undisturbed run draws */
TEST(test_fault_randn_survives) {
  if (!test_on_cpu()) return;
  float want[4], got[4];
  tg_manual_seed(7);
  tg_tensor *r0 = tg_randn(TG_FLOAT32, TG_SHAPE(4));
  tf_read4(r0, want);
  tg_free(r0);
  tg_manual_seed(7);
  tg_tensor *r = tg_randn(TG_FLOAT32, TG_SHAPE(4));
  tg__fault_arm(TG__FAULT_COMPILE, 0, 1);
  CHECK(tg_realize(r) < 0);
  tg_clear_error();
  tf_read4(r, got);
  CHECK_ARR_NEAR(got, want, 4, 0);
  CHECK(!isnan(got[0]));
  tg_free(r);
}

/* a launch fails after earlier kernels ran: what ran is kept (an assignment that ran is realised), the rest is
 * pending, and the retry finishes it with the right values */
TEST(test_fault_launch_midway_keeps_what_ran) {
  if (!test_on_cpu()) return;
  tg_tensor *a = TEST_F32(tf_v, 4), *b = TEST_F32(tf_v, 4);
  tg_assign(a, tg_add_s(a, 100));
  tg_assign(b, tg_mul_s(b, 2));
  tg__fault_arm(TG__FAULT_LAUNCH, 1, 1); /* the first kernel runs, the second fails */
  int64_t launches = tg_kernel_launches();
  CHECK(tg_realize(a) < 0);
  CHECK_EQ_INT(tg_kernel_launches(), launches + 1);
  tg__fault_arm(TG__FAULT_LAUNCH, 0, 0);
  tg_clear_error();
  static const float want_b[4] = {2, 4, 6, 8};
  float got[4];
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tf_read4(b, got);
  CHECK_ARR_NEAR(got, want_b, 4, 0);
  tf_read4(a, got); /* no assignment ran twice */
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tg_free(a);
  tg_free(b);
}

/* a training loop where the compile of every fifth step fails: the parameters stay readable and savable, and
 * retrying the failed realisation gives exactly the losses and weights of an undisturbed run */
static double tf_train(int faulty, float *w_out) {
  static const float xs[8] = {1, 2, 3, 4, 5, 6, 7, 8}, ys[4] = {1, 0, 1, 0};
  tg_tensor *w = tg_from_float((const float[]){0.1f, -0.2f}, TG_SHAPE(2, 1));
  tg_requires_grad(w, 1);
  tg_optimizer *opt = tg_sgd(&w, 1, 0.01, 0.9, 0, 0);
  double loss = NAN;
  int failures = 0;
  for (int step = 0; step < 10; step++) {
    tg_scope_begin();
    tg_tensor *x = tg_from_float(xs, TG_SHAPE(4, 2)), *y = tg_from_float(ys, TG_SHAPE(4, 1));
    tg_tensor *l = tg_mean(tg_square(tg_sub(tg_matmul(x, w), y)), 0, NULL, 0);
    tg_optimizer_zero_grad(opt);
    tg_backward(l);
    tg_optimizer_step(opt);
    if (faulty && step % 5 == 4) tg__fault_arm(TG__FAULT_COMPILE, 1, 1); /* the second kernel of the step */
    loss = tg_item(l);
    tg__fault_arm(TG__FAULT_COMPILE, 0, 0);
    if (isnan(loss)) { /* the step's assignments are still pending: realising again finishes the step */
      failures++;
      tg_clear_error();
      loss = tg_item(l);
    }
    tg_scope_end();
  }
  CHECK_EQ_INT(failures, faulty ? 2 : 0);
  tg_state_dict *sd = tg_state_dict_new();
  tg_state_dict_add(sd, "w", w);
  char path[] = "/tmp/tg_faults_XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  CHECK(tg_safetensors_save(path, sd) == 0);
  unlink(path);
  tg_state_dict_free(sd);
  tg_to_host(w, w_out, 2 * sizeof(float));
  tg_optimizer_free(opt);
  tg_free(w);
  return loss;
}

TEST(test_fault_training_every_fifth_compile_fails) {
  if (!test_on_cpu()) return;
  float w_clean[2], w_faulty[2];
  double clean = tf_train(0, w_clean), faulty = tf_train(1, w_faulty);
  CHECK(!isnan(clean));
  CHECK_NEAR(faulty, clean, 0);
  CHECK_ARR_NEAR(w_faulty, w_clean, 2, 0);
}

/* a JIT replay whose memory cannot be found changes nothing; the next replay works */
static int tf_jit_step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  tg_tensor *p = (tg_tensor *)ctx;
  tg_assign(p, tg_add(p, in[0]));
  out[0] = tg_sum(tg_contiguous(tg_mul(p, in[0])), 0, NULL, 0); /* an intermediate: memory found at each replay */
  return 0;
}

TEST(test_fault_jit_replay_alloc) {
  if (!test_on_cpu()) return;
  tg_tensor *p = TEST_F32(tf_v, 4);
  tg_jit *j = tg_jit_new(tf_jit_step, p);
  float ones[4] = {1, 1, 1, 1};
  tg_tensor *out = NULL;
  for (int call = 0; call < 3; call++) { /* p: 1..4 -> +1 each call */
    tg_tensor *x = TEST_F32(ones, 4);
    CHECK(tg_jit_run(j, &x, 1, &out, 1) == 0);
    tg_free(x);
    tg_free(out);
  }
  CHECK_EQ_INT(tg_jit_kernels(j) > 0, 1);
  float got[4];
  static const float want3[4] = {4, 5, 6, 7}, want4[4] = {5, 6, 7, 8};
  tf_read4(p, got);
  CHECK_ARR_NEAR(got, want3, 4, 0);
  tg_tensor *x = TEST_F32(ones, 4);
  int64_t launches = tg_kernel_launches();
  tg__fault_arm(TG__FAULT_DEVICE_ALLOC, 0, -1);
  CHECK(tg_jit_run(j, &x, 1, &out, 1) < 0);
  tg__fault_arm(TG__FAULT_DEVICE_ALLOC, 0, 0);
  CHECK_EQ_INT(tg_kernel_launches(), launches);
  tg_clear_error();
  tf_read4(p, got);
  CHECK_ARR_NEAR(got, want3, 4, 0);
  CHECK(tg_jit_run(j, &x, 1, &out, 1) == 0);
  tf_read4(p, got);
  CHECK_ARR_NEAR(got, want4, 4, 0);
  CHECK_NEAR(tg_item(out), 26, 0);
  tg_free(out);
  tg_free(x);
  tg_jit_free(j);
  tg_free(p);
}

/* inspecting the schedule of a pending assignment does not run it, nor make it stale */
TEST(test_fault_schedule_inspection_changes_nothing) {
  tg_tensor *a = TEST_F32(tf_v, 4);
  tg_tensor *lazy = tg_add_s(a, 0);
  tg_assign(a, tg_add_s(a, 100));
  tg_schedule *s = tg_schedule_create(&a, 1);
  CHECK_NOT_NULL(s);
  CHECK(tg_schedule_count(s) >= 1);
  tg_schedule_free(s);
  float got[4];
  tf_read4(lazy, got);
  CHECK_ARR_NEAR(got, tf_v, 4, 0);
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v100, 4, 0);
  tg_free(lazy);
  tg_free(a);
}

/* host memory for data that cannot be had is an error naming the call, never an abort; the tensor is intact */
TEST(test_fault_host_alloc_is_an_error) {
  tg_tensor *a = TEST_F32(tf_v, 4);
  tg_tensor *i = tg_cast(a, TG_INT32);
  tg__fault_arm(TG__FAULT_HOST_ALLOC, 0, -1);
  CHECK_NULL(tg_to_float(a));
  CHECK(tg_error() && strstr(tg_error(), "tg_to_float: out of memory") != NULL);
  CHECK_NULL(tg_to_float(i)); /* the conversion's buffer too */
  CHECK_NULL(tg_to_string(a));
  CHECK(tg_error() && strstr(tg_error(), "tg_to_string: out of memory") != NULL);
  tg__fault_arm(TG__FAULT_HOST_ALLOC, 1, 1); /* the result is allocated, the raw bytes are not */
  CHECK_NULL(tg_to_float(i));
  tg__fault_arm(TG__FAULT_HOST_ALLOC, 0, 0);
  tg_clear_error();
  float got[4];
  tf_read4(a, got);
  CHECK_ARR_NEAR(got, tf_v, 4, 0);
  tf_read4(i, got);
  CHECK_ARR_NEAR(got, tf_v, 4, 0);
  char *s = tg_to_string(a);
  CHECK_STR(s, "[1. 2. 3. 4.]");
  free(s);
  tg_free(i);
  tg_free(a);
}
