/* test_threads.c: the public API called from several threads at once. Two threads build, realise and read their own
 * tensors (the reviewer's crash: 5 of 5 runs at -O2, freed memory read, wrong sums), train their own models, read one
 * shared tensor, keep their own errors and their own scopes. `make test-tsan` runs these under ThreadSanitizer, which
 * must report nothing. */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include <pthread.h>
#include <string.h>

#include "tinygrad.h"
#include "test.h"
#include "helpers.h"

enum { tt_rounds = 60 };

typedef struct tt_arg {
  int id, bad, done;
  double last;
  tg_tensor *shared;
  pthread_barrier_t *barrier;
} tt_arg;

/* sum(a * k + 1) over a = 0..63, with k the thread's own: 2016 k + 64, exact in float32 */
static void *tt_sums(void *p) {
  tt_arg *a = (tt_arg *)p;
  float v[64];
  for (int i = 0; i < 64; i++) v[i] = (float)i;
  for (int r = 0; r < tt_rounds; r++) {
    int k = a->id * 100 + r;
    tg_scope_begin();
    tg_tensor *x = tg_from_float(v, TG_SHAPE(8, 8));
    tg_tensor *s = tg_sum(tg_add_s(tg_mul_s(x, k), 1), 0, NULL, 0);
    double got = tg_item(s);
    if (got != 2016.0 * k + 64) a->bad++;
    tg_scope_end();
  }
  a->done = 1;
  return NULL;
}

TEST(test_threads_independent_tensors) {
  pthread_t th[2];
  tt_arg args[2];
  memset(args, 0, sizeof args);
  for (int i = 0; i < 2; i++) {
    args[i].id = i + 1;
    CHECK(pthread_create(&th[i], NULL, tt_sums, &args[i]) == 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(args[i].done, 1);
    CHECK_EQ_INT(args[i].bad, 0);
  }
}

/* each thread trains its own linear model with Adam: the same data and seed give the same final loss in both */
static void *tt_train(void *p) {
  tt_arg *a = (tt_arg *)p;
  static const float xs[8] = {1, 2, 3, 4, 5, 6, 7, 8}, ys[4] = {3, 7, 11, 15}; /* y = x0 + x1 */
  tg_tensor *w = tg_from_float((const float[]){0.5f, 0.5f}, TG_SHAPE(2, 1));
  tg_requires_grad(w, 1);
  tg_optimizer *opt = tg_adam(&w, 1, 0.05, 0.9, 0.999, 1e-8);
  for (int step = 0; step < 30; step++) {
    tg_scope_begin();
    tg_tensor *x = tg_from_float(xs, TG_SHAPE(4, 2)), *y = tg_from_float(ys, TG_SHAPE(4, 1));
    tg_tensor *l = tg_mean(tg_square(tg_sub(tg_matmul(x, w), y)), 0, NULL, 0);
    tg_optimizer_zero_grad(opt);
    tg_backward(l);
    tg_optimizer_step(opt);
    a->last = tg_item(l);
    tg_scope_end();
  }
  tg_optimizer_free(opt);
  tg_free(w);
  a->done = 1;
  return NULL;
}

TEST(test_threads_train_two_models) {
  tt_arg ref;
  memset(&ref, 0, sizeof ref);
  tt_train(&ref); /* on this thread alone */
  pthread_t th[2];
  tt_arg args[2];
  memset(args, 0, sizeof args);
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, tt_train, &args[i]) == 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  CHECK(!isnan(ref.last) && ref.last < 1.0);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(args[i].done, 1);
    CHECK_NEAR(args[i].last, ref.last, 0);
  }
}

/* One thread's pending assignment is its own: thread A builds a loss from w, then an SGD step that assigns w
 * (pending), and only then realises the loss; between the two, thread B realises a tensor of its own. B's
 * realisation must not run A's step, or A's loss would read w after the assignment (a stale read: an error and a
 * NaN loss, which two threads training a model each met in about 1 of 40 runs). */
typedef struct tt_pend {
  pthread_barrier_t *built, *other_done;
  double loss, other, w_after;
  int err;
} tt_pend;

static void *tt_pend_owner(void *p) {
  tt_pend *a = (tt_pend *)p;
  tg_tensor *w = tg_requires_grad(tg_from_float((const float[]){2.0f}, TG_SHAPE(1)), 1);
  tg_optimizer *opt = tg_sgd(&w, 1, 0.25, 0, 0, 0);
  tg_tensor *l = tg_sum(tg_square(w), 0, NULL, 0); /* w^2 = 4; d/dw = 4 */
  tg_backward(l);
  tg_optimizer_step(opt); /* w := 2 - 0.25 * 4 = 1, pending */
  pthread_barrier_wait(a->built);
  pthread_barrier_wait(a->other_done);
  a->loss = tg_item(l); /* the loss of w before the step */
  a->err = tg_error() != NULL;
  a->w_after = tg_item(w);
  tg_optimizer_free(opt);
  tg_free(w);
  return NULL;
}

static void *tt_pend_other(void *p) {
  tt_pend *a = (tt_pend *)p;
  pthread_barrier_wait(a->built);
  tg_scope_begin();
  a->other = tg_item(tg_sum(tg_add_s(tg_from_float((const float[]){1, 2, 3}, TG_SHAPE(3)), 1), 0, NULL, 0));
  tg_scope_end();
  pthread_barrier_wait(a->other_done);
  return NULL;
}

TEST(test_threads_pending_assignments_are_per_thread) {
  pthread_barrier_t built, other_done;
  pthread_barrier_init(&built, NULL, 2);
  pthread_barrier_init(&other_done, NULL, 2);
  tt_pend a;
  memset(&a, 0, sizeof a);
  a.built = &built, a.other_done = &other_done;
  pthread_t th[2];
  CHECK(pthread_create(&th[0], NULL, tt_pend_owner, &a) == 0);
  CHECK(pthread_create(&th[1], NULL, tt_pend_other, &a) == 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&built);
  pthread_barrier_destroy(&other_done);
  CHECK_NEAR(a.other, 9, 0);
  CHECK_NEAR(a.loss, 4, 0);
  CHECK_EQ_INT(a.err, 0);
  CHECK_NEAR(a.w_after, 1, 0);
}

/* both threads read one lazy tensor at once: it is realised once, and both see its values */
static void *tt_read_shared(void *p) {
  tt_arg *a = (tt_arg *)p;
  pthread_barrier_wait(a->barrier);
  for (int r = 0; r < 20; r++) {
    float out[4];
    if (tg_to_host(a->shared, out, sizeof out) != 0 || out[0] != 2 || out[3] != 8) a->bad++;
    tg_tensor *t = tg_mul_s(a->shared, a->id);
    if (tg_item(tg_sum(t, 0, NULL, 0)) != 20.0 * a->id) a->bad++; /* sum(2,4,6,8) * id */
    tg_free(t);
  }
  a->done = 1;
  return NULL;
}

TEST(test_threads_shared_tensor) {
  static const float v[4] = {1, 2, 3, 4};
  tg_tensor *x = TEST_F32(v, 4), *shared = tg_mul_s(x, 2);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  pthread_t th[2];
  tt_arg args[2];
  memset(args, 0, sizeof args);
  for (int i = 0; i < 2; i++) {
    args[i].id = i + 1;
    args[i].shared = shared;
    args[i].barrier = &barrier;
    CHECK(pthread_create(&th[i], NULL, tt_read_shared, &args[i]) == 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&barrier);
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(args[i].bad, 0);
  tg_free(shared);
  tg_free(x);
}

/* errors and scopes are per thread: thread 1 fails a call and ends a scope while thread 2 holds a tensor made
 * outside any scope; thread 2 sees no error and its tensor lives on */
typedef struct tt_pair {
  pthread_barrier_t barrier;
  tg_tensor *t2;
  int err1, err2, t2_ok;
} tt_pair;

static void *tt_errors1(void *p) {
  tt_pair *s = (tt_pair *)p;
  tg_scope_begin();
  tg_tensor *a = tg_zeros(TG_FLOAT32, TG_SHAPE(2, 3)), *b = tg_zeros(TG_FLOAT32, TG_SHAPE(4));
  s->err1 = tg_add(a, b) == NULL && tg_error() && strstr(tg_error(), "tg_add");
  pthread_barrier_wait(&s->barrier); /* thread 2 has made its tensor */
  tg_scope_end();
  pthread_barrier_wait(&s->barrier); /* thread 2 may read it now */
  return NULL;
}

static void *tt_errors2(void *p) {
  tt_pair *s = (tt_pair *)p;
  tg_clear_error();
  s->t2 = tg_full(3, TG_FLOAT32, TG_SHAPE(2));
  pthread_barrier_wait(&s->barrier);
  pthread_barrier_wait(&s->barrier);
  s->err2 = tg_error() != NULL;
  tg_tensor *sum = tg_sum(s->t2, 0, NULL, 0);
  s->t2_ok = tg_item(sum) == 6.0;
  tg_free(sum);
  return NULL;
}

TEST(test_threads_errors_and_scopes_are_per_thread) {
  tt_pair s;
  memset(&s, 0, sizeof s);
  pthread_barrier_init(&s.barrier, NULL, 2);
  int64_t live = tg_live_tensors();
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, tt_errors1, &s) == 0);
  CHECK(pthread_create(&b, NULL, tt_errors2, &s) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  pthread_barrier_destroy(&s.barrier);
  CHECK_EQ_INT(s.err1, 1);
  CHECK_EQ_INT(s.err2, 0);
  CHECK_EQ_INT(s.t2_ok, 1);
  CHECK_EQ_INT(tg_live_tensors(), live + 1); /* t2: thread 1's scope_end did not free it */
  CHECK(tg_error() == NULL); /* nothing leaked into this thread either */
  tg_free(s.t2);
}

TEST(test_threads_scope_end_without_begin_on_this_thread) {
  CHECK_EQ_INT(tg_scope_end(), -1);
  CHECK(tg_error() != NULL && strstr(tg_error(), "no scope is open") != NULL);
}
