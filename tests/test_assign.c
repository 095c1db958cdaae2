/* test_assign.c: tg_assign, the lazy in-place update: values, laziness (pending until the next realisation), reads
 * before and after the write in one schedule, targets that share a graph, and errors. */
#include "helpers.h"

TEST(assign_basic_and_lazy) {
  const float a0[] = {1, 2, 3}, v0[] = {10, 20, 30};
  tg_tensor *a = TEST_F32(a0, 3), *v = TEST_F32(v0, 3);
  int64_t k = tg_kernel_launches();
  CHECK(tg_assign(a, tg_add(a, v)) == a);
  CHECK_EQ_INT(tg_kernel_launches() - k, 0); /* pending */
  const float want[] = {11, 22, 33};
  CHECK_TENSOR(a, want, 0, 3);
  tg_free(v);
  tg_free(a);
}

TEST(assign_is_realised_by_any_realisation) {
  const float a0[] = {1, 2}, b0[] = {5, 6};
  tg_tensor *a = TEST_F32(a0, 2), *b = TEST_F32(b0, 2);
  tg_tensor *s = tg_sum(a, 0, NULL, 0); /* reads a before the write */
  tg_assign(a, tg_mul_s(a, 2));
  CHECK_EQ_INT(tg_realize(s), 0);      /* realises the assignment too, after the read */
  CHECK_NEAR(tg_item(s), 3, 0);
  const float want[] = {2, 4};
  float got[2];
  CHECK_EQ_INT(tg_to_host(b, got, sizeof got), 0); /* reading b does not disturb a */
  CHECK_TENSOR(a, want, 0, 2);
  tg_free(s);
  tg_free(a);
  tg_free(b);
}

/* a lazy tensor built on a buffer's old contents cannot be realised once an assignment has replaced them: that is an
 * error naming the buffer, not a silent computation on the new contents; a tensor built after reads the new ones */
TEST(assign_stale_read_is_an_error) {
  tg_scope_begin();
  const float a0[] = {1, 2};
  tg_tensor *a = TEST_F32(a0, 2);
  tg_tensor *old = tg_mul_s(a, 10); /* reads a as {1, 2} */
  tg_assign(a, tg_add_s(a, 1));
  CHECK_EQ_INT(tg_realize(a), 0);
  CHECK_EQ_INT(tg_realize(old), -1);
  CHECK_ERROR_HAS("before an assignment that has run since");
  const float want_a[] = {2, 3}, want_new[] = {20, 30};
  CHECK_TENSOR(a, want_a, 0, 2); /* untouched by the failed realisation */
  CHECK_TENSOR(tg_mul_s(a, 10), want_new, 0, 2);
  /* realised before the assignment ran, it keeps the old values */
  tg_tensor *kept = tg_mul_s(a, 10);
  CHECK_EQ_INT(tg_realize(kept), 0);
  tg_assign(a, tg_add_s(a, 1));
  CHECK_EQ_INT(tg_realize(a), 0);
  CHECK_TENSOR(kept, want_new, 0, 2);
  /* loading a state dict writes in place: graphs built on the old weights are stale too */
  tg_tensor *before = tg_add_s(a, 0);
  const float h[] = {7, 8};
  tg_state_dict *dst = tg_state_dict_new(), *src = tg_state_dict_new();
  tg_state_dict_add(dst, "a", a);
  tg_state_dict_add(src, "a", TEST_F32(h, 2));
  CHECK_EQ_INT(tg_load_state_dict(dst, src, 1), 0);
  CHECK_TENSOR(a, h, 0, 2);
  CHECK_NULL(tg_to_float(before));
  CHECK_ERROR_HAS("as it was before an assignment");
  tg_state_dict_free(dst);
  tg_state_dict_free(src);
  tg_scope_end();
}

/* an assignment that can never run (its value reads a stale buffer) fails the realisation that meets it, then leaves
 * the pending list: later realisations of other tensors work, and its own tensor keeps reporting the error */
TEST(assign_that_can_never_run_does_not_block_others) {
  tg_scope_begin();
  const float a0[] = {1, 2}, b0[] = {5, 6}, c0[] = {3, 4};
  tg_tensor *a = TEST_F32(a0, 2), *b = TEST_F32(b0, 2), *c = TEST_F32(c0, 2);
  tg_tensor *old = tg_mul_s(a, 10); /* reads a as {1, 2} */
  tg_assign(a, tg_add_s(a, 1));
  CHECK_EQ_INT(tg_realize(a), 0);
  tg_assign(b, old); /* pending, and stale for ever */
  CHECK_EQ_INT(tg_realize(tg_add_s(c, 1)), -1);
  CHECK_ERROR_HAS("before an assignment that has run since");
  CHECK_ERROR_HAS("left the pending list");
  tg_clear_error();
  const float want_c[] = {4, 5};
  CHECK_TENSOR(tg_add_s(c, 1), want_c, 0, 2); /* no longer blocked */
  CHECK_EQ_INT(tg_realize(b), -1);             /* b itself still reports it */
  CHECK_ERROR_HAS("before an assignment that has run since");
  tg_scope_end();
}

TEST(assign_broadcasts_and_casts) {
  const float a0[] = {1, 2, 3, 4};
  tg_tensor *a = TEST_F32(a0, 2, 2), *v = tg_scalar(7, TG_INT32);
  CHECK(tg_assign(a, v) == a);
  const float want[] = {7, 7, 7, 7};
  CHECK_TENSOR(a, want, 0, 2, 2);
  CHECK_DTYPE(a, TG_FLOAT32);
  tg_free(v);
  tg_free(a);
}

TEST(assign_into_one_of_two_equal_graphs) {
  /* tg_zeros twice builds one graph, realised once: each target must still get its own buffer */
  int64_t n = 3;
  tg_tensor *a = tg_zeros(TG_FLOAT32, 1, &n), *b = tg_zeros(TG_FLOAT32, 1, &n);
  CHECK_EQ_INT(tg_realize(a), 0);
  CHECK_EQ_INT(tg_realize(b), 0);
  tg_assign(a, tg_add_s(a, 1));
  CHECK_EQ_INT(tg_realize(a), 0);
  const float ones[] = {1, 1, 1}, zeros[] = {0, 0, 0};
  CHECK_TENSOR(a, ones, 0, 3);
  CHECK_TENSOR(b, zeros, 0, 3);
  tg_free(a);
  tg_free(b);
}

TEST(assign_repeated_steps) {
  const float a0[] = {0, 1};
  tg_tensor *a = TEST_F32(a0, 2);
  for (int i = 0; i < 5; i++) {
    tg_assign(a, tg_add_s(a, 1));
    CHECK_EQ_INT(tg_realize(a), 0);
  }
  const float want[] = {5, 6};
  CHECK_TENSOR(a, want, 0, 2);
  /* a cached result of the old contents is not reused after the write */
  tg_tensor *s1 = tg_sum(a, 0, NULL, 0);
  CHECK_NEAR(tg_item(s1), 11, 0);
  tg_assign(a, tg_mul_s(a, 0));
  CHECK_EQ_INT(tg_realize(a), 0);
  tg_tensor *s2 = tg_sum(a, 0, NULL, 0);
  CHECK_NEAR(tg_item(s2), 0, 0);
  tg_free(s1);
  tg_free(s2);
  tg_free(a);
}

TEST(assign_errors) {
  const float a0[] = {1, 2, 3};
  tg_tensor *a = TEST_F32(a0, 3), *v = TEST_F32(a0, 3, 1);
  CHECK(tg_assign(a, v) == NULL);
  CHECK(strstr(tg_error(), "does not fit") != NULL);
  CHECK(tg_assign(NULL, v) == NULL);
  CHECK(tg_assign(a, NULL) == NULL);
  CHECK_TENSOR(a, a0, 0, 3);
  tg_free(a);
  tg_free(v);
}

TEST(assign_twice_before_realising) {
  /* the second assignment reads the first one's result; both run in one schedule, in order */
  const float a0[] = {1, 2};
  tg_tensor *a = TEST_F32(a0, 2), *z = tg_zeros(TG_FLOAT32, 1, (int64_t[]){2});
  tg_assign(a, tg_add_s(a, 1));
  tg_assign(a, tg_mul_s(a, 10));
  int64_t k = tg_kernel_launches();
  CHECK_EQ_INT(tg_realize(a), 0);
  CHECK_EQ_INT(tg_kernel_launches() - k, 2);
  const float want[] = {20, 30};
  CHECK_TENSOR(a, want, 0, 2);
  /* a value that does not read the target: the later assignment still wins */
  tg_assign(a, tg_add_s(z, 5));
  tg_assign(a, tg_add_s(z, 7));
  const float sevens[] = {7, 7};
  CHECK_TENSOR(a, sevens, 0, 2);
  tg_free(a);
  tg_free(z);
}
