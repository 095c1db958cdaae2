#define _POSIX_C_SOURCE 200809L /* mkdtemp */
/* test_lifetimes.c: handles and scopes: tg_scope_end frees all but kept tensors, nested scopes, tg_keep moving a
 * handle to the parent, tg_free inside a scope (no double free), 100k create/free cycles without a leak of handles,
 * and freeing a tensor never invalidating the tensors derived from it. */
#include "tinygrad.h"
#include "test.h"
#include "helpers.h"

static const float test_v[4] = {1, 2, 3, 4};
static const float test_v_exp[4] = {2.7182817f, 7.389056f, 20.085537f, 54.59815f};
static const float test_v_x2[4] = {2, 4, 6, 8};

TEST(test_lt_scope_frees_all_but_kept) {
  int64_t base = tg_live_tensors();
  tg_scope_begin();
  tg_tensor *a = TEST_F32(test_v, 4);
  tg_tensor *kept = NULL;
  for (int i = 0; i < 10; i++) {
    tg_tensor *t = tg_add_s(a, i);
    if (i == 3) kept = tg_keep(t);
  }
  CHECK_EQ_INT(tg_live_tensors(), base + 11);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  static const float want[4] = {4, 5, 6, 7};
  CHECK_TENSOR(kept, want, 0, 4); /* still valid, though its input a was freed */
  tg_free(kept);
  CHECK_EQ_INT(tg_live_tensors(), base);
}

TEST(test_lt_nested_scopes_and_keep) {
  int64_t base = tg_live_tensors();
  tg_scope_begin();
  tg_tensor *a = TEST_F32(test_v, 4);
  tg_tensor *c;
  tg_scope_begin();
  tg_tensor *b = tg_exp(a);
  c = tg_keep(tg_mul_s(a, 2)); /* moves to the outer scope */
  (void)b;
  CHECK_EQ_INT(tg_live_tensors(), base + 3);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base + 2); /* a and c */
  CHECK_TENSOR(c, test_v_x2, 0, 4);
  /* keep in the outer scope moves c to the user */
  tg_keep(c);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  CHECK_TENSOR(c, test_v_x2, 0, 4);
  tg_free(c);
  CHECK_EQ_INT(tg_live_tensors(), base);

  /* keep twice in a three-level nest: from the innermost to the outermost's parent (the user) */
  tg_scope_begin();
  tg_scope_begin();
  tg_scope_begin();
  tg_tensor *d = tg_exp(TEST_F32(test_v, 4));
  tg_keep(d);
  tg_scope_end();
  tg_keep(d);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base + 1); /* d only: the input was freed with the innermost scope */
  tg_keep(d);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  CHECK_TENSOR(d, test_v_exp, 1e-6, 4);
  tg_free(d);
  CHECK_EQ_INT(tg_live_tensors(), base);
  /* keep outside any scope is a no-op that returns its argument */
  tg_tensor *e = TEST_F32(test_v, 4);
  CHECK(tg_keep(e) == e);
  CHECK(tg_keep(NULL) == NULL);
  tg_free(e);
  CHECK_EQ_INT(tg_live_tensors(), base);
}

TEST(test_lt_free_inside_scope) {
  int64_t base = tg_live_tensors();
  tg_scope_begin();
  tg_tensor *a = TEST_F32(test_v, 4);
  tg_tensor *b = tg_exp(a);
  tg_tensor *c = tg_mul_s(a, 2);
  tg_free(a); /* freed by hand in the scope: scope_end must not free it again */
  tg_free(b);
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  CHECK_TENSOR(c, test_v_x2, 0, 4);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base);
  /* a kept tensor freed by hand, then its scope ends */
  tg_scope_begin();
  tg_scope_begin();
  tg_tensor *k = tg_keep(TEST_F32(test_v, 4));
  tg_scope_end();
  tg_free(k);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base);
}

TEST(test_lt_many_tensors) {
  int64_t base = tg_live_tensors();
  tg_tensor *a = TEST_F32(test_v, 4);
  for (int i = 0; i < 100000; i++) {
    tg_tensor *t = tg_add_s(a, (double)i);
    tg_tensor *u = tg_mul(t, a);
    tg_free(u);
    tg_free(t);
  }
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  for (int i = 0; i < 1000; i++) {
    tg_scope_begin();
    for (int j = 0; j < 100; j++) tg_neg(tg_add_s(a, (double)j));
    tg_scope_end();
  }
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  /* realised tensors too: create, realise, free */
  for (int i = 0; i < 200; i++) {
    tg_tensor *t = tg_mul_s(a, 2);
    tg_realize(t);
    tg_free(t);
  }
  CHECK_EQ_INT(tg_live_tensors(), base + 1);
  CHECK_TENSOR(a, test_v, 0, 4);
  tg_free(a);
  CHECK_EQ_INT(tg_live_tensors(), base);
}

TEST(test_lt_free_never_invalidates_derived) {
  int64_t base = tg_live_tensors();
  /* lazy: b is computed after a is freed */
  tg_tensor *a = TEST_F32(test_v, 4);
  tg_tensor *b = tg_exp(a);
  tg_tensor *v = tg_reshape(a, TG_SHAPE(2, 2)); /* a view */
  tg_free(a);
  CHECK_TENSOR(b, test_v_exp, 1e-6, 4);
  CHECK_TENSOR(v, test_v, 0, 2, 2);
  tg_free(b), tg_free(v);
  /* realised base, lazy child */
  tg_tensor *in = TEST_F32(test_v, 4);
  tg_tensor *c = tg_mul_s(in, 1);
  CHECK_EQ_INT(tg_realize(c), 0);
  tg_tensor *d = tg_mul_s(c, 2);
  tg_free(c);
  tg_free(in);
  CHECK_TENSOR(d, test_v_x2, 0, 4);
  tg_free(d);
  /* freeing the child leaves the parent intact, also after the child was realised */
  tg_tensor *p = TEST_F32(test_v, 4);
  tg_tensor *q = tg_exp(p);
  CHECK_EQ_INT(tg_realize(q), 0);
  tg_free(q);
  CHECK_TENSOR(p, test_v, 0, 4);
  tg_tensor *q2 = tg_exp(p);
  CHECK_TENSOR(q2, test_v_exp, 1e-6, 4);
  tg_free(q2);
  tg_free(p);
  CHECK_EQ_INT(tg_live_tensors(), base);
}

/* the handle count over a test that frees exactly what it made */
TEST(test_lt_counts_balanced) {
  int64_t base = tg_live_tensors();
  tg_tensor *a = TEST_F32(test_v, 4);
  tg_tensor *parts[4];
  int n = tg_split(a, 1, 0, parts, 4);
  CHECK_EQ_INT(n, 4);
  CHECK_EQ_INT(tg_live_tensors(), base + 5);
  tg_tensor *s = tg_reshape(parts[2], 0, NULL);
  CHECK_EQ_INT(tg_live_tensors(), base + 6);
  for (int i = 0; i < n; i++) tg_free(parts[i]);
  tg_free(a);
  CHECK_TENSOR0(s, 3, 0); /* its base and the pieces are gone */
  tg_free(s);
  CHECK_EQ_INT(tg_live_tensors(), base);
}

/* tg_free outside any scope gives the memory back: 20k tensors of 16 KB made and freed one by one (320 MB in all)
 * and 4k safetensors loads freed with their dict keep resident memory flat (it grew to 328 MB before) */
TEST(test_lt_free_outside_scopes_releases_memory) {
  static float v[4096];
  long rss_start = 0;
  if (TEST_ASAN) return; /* the sanitizer's quarantine keeps freed memory resident */
  /* garbage is collected after 64 MB of new buffers: RSS plateaus after the first collections (it grew by 160 MB
   * between rounds 10k and 20k before) */
  for (int r = 0; r < 20000; r++) {
    tg_free(TEST_F32(v, 4096));
    if (r == 10000) rss_start = test_rss_kb();
  }
  long rss_end = test_rss_kb();
  CHECK(rss_start > 0 && rss_end > 0);
  if (rss_end - rss_start > 24 * 1024) printf("    RSS grew from %ld KB to %ld KB\n", rss_start, rss_end);
  CHECK(rss_end - rss_start <= 24 * 1024);

  char dir[] = "/tmp/tg_lt_XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/w.safetensors", dir);
  tg_state_dict *sd = tg_state_dict_new();
  tg_tensor *w = TEST_F32(v, 4096);
  tg_state_dict_add(sd, "w", w);
  CHECK_EQ_INT(tg_safetensors_save(path, sd), 0);
  tg_state_dict_free(sd);
  tg_free(w);
  /* each load's buffer is held by its node until the collector runs (after 64 MB of new buffers, 4096 loads): the
   * window starts after two collections, so RSS must be flat across the next ones */
  for (int r = 0; r < 16000; r++) {
    tg_state_dict_free(tg_safetensors_load(path));
    if (r == 8000) rss_start = test_rss_kb();
  }
  rss_end = test_rss_kb();
  if (rss_end - rss_start > 8 * 1024) printf("    RSS grew from %ld KB to %ld KB\n", rss_start, rss_end);
  CHECK(rss_end - rss_start <= 8 * 1024);
  unlink(path);
  rmdir(dir);
}

/* scopes nest without a limit: 300 levels deep (the 257th used to fail silently, and the next tg_scope_end freed the
 * caller's tensors), each level's tensor freed by its own end */
TEST(test_lt_deep_scopes) {
  int64_t base = tg_live_tensors();
  tg_scope_begin();
  tg_tensor *outer = TEST_F32(test_v, 4);
  tg_tensor *level[300];
  for (int d = 0; d < 300; d++) {
    CHECK_EQ_INT(tg_scope_begin(), 0);
    level[d] = tg_add_s(outer, d);
  }
  CHECK_EQ_INT(tg_live_tensors(), base + 301);
  for (int d = 299; d >= 0; d--) {
    if (d == 150) CHECK_NEAR(tg_item(tg_sum(level[d], 0, NULL, 0)), 10 + 4 * 150, 0);
    CHECK_EQ_INT(tg_scope_end(), 0);
    CHECK_EQ_INT(tg_live_tensors(), base + 1 + d);
  }
  CHECK_TENSOR(outer, test_v, 0, 4);
  tg_scope_end();
  CHECK_EQ_INT(tg_live_tensors(), base);
  CHECK_EQ_INT(tg_scope_end(), -1); /* none open */
}

/* NULL arguments say why */
TEST(test_lt_null_arguments) {
  tg_clear_error();
  CHECK_NULL(tg_keep(NULL));
  CHECK(tg_error() && strstr(tg_error(), "tg_keep") != NULL);
  tg_clear_error();
  CHECK_NULL(tg_grad(NULL));
  CHECK(tg_error() && strstr(tg_error(), "tg_grad") != NULL);
  tg_clear_error();
  tg_tensor *a = TEST_F32(test_v, 4);
  CHECK_NULL(tg_grad(a));
  CHECK(tg_error() && strstr(tg_error(), "no gradient") != NULL);
  tg_clear_error();
  CHECK_EQ_INT(tg_realize_all(NULL, 3), -1);
  CHECK(tg_error() && strstr(tg_error(), "tg_realize_all") != NULL);
  tg_clear_error();
  CHECK_EQ_INT(tg_realize_all(&a, -1), -1);
  CHECK_EQ_INT(tg_realize_all(NULL, 0), 0); /* nothing to do */
  tg_free(a);
}
