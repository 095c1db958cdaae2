/* test_jit.c: the JIT. Replays give the right values on new inputs without calling the function, scheduling or
 * compiling; a training step under the JIT matches the same steps without it; and the footguns of tinygrad's
 * test/unit/test_jit_footguns.py that apply to C are errors (shape change, host reads inside, data made inside,
 * freed implicit inputs, duplicate inputs) or documented behaviour (outputs are overwritten by the next replay). */
#include "helpers.h"

typedef struct test_jit_ctx {
  int calls;
  tg_tensor *w; /* an implicit input: read by the function, not passed */
  int mode;     /* what the function does wrong, for the footgun tests */
} test_jit_ctx;

enum { TEST_JIT_OK, TEST_JIT_ITEM, TEST_JIT_FROM_DATA, TEST_JIT_FAIL };

/* out0 = (x + y) * 2 (+ w when ctx->w) */
static int test_jit_add(void *vctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  test_jit_ctx *c = (test_jit_ctx *)vctx;
  (void)n_in;
  (void)n_out;
  c->calls++;
  if (c->mode == TEST_JIT_FAIL) return -1;
  tg_tensor *s = tg_add(in[0], in[1]);
  if (c->mode == TEST_JIT_ITEM && isnan(tg_item(tg_sum(s, 0, NULL, 0)))) return -1;
  if (c->mode == TEST_JIT_FROM_DATA) {
    const float k[] = {1, 1, 1};
    s = tg_add(s, TEST_F32(k, 3));
  }
  tg_tensor *r = tg_mul_s(s, 2);
  if (c->w) r = tg_add(r, c->w);
  out[0] = r;
  return tg_realize(r);
}

static tg_tensor *test_vec3(float a, float b, float c) {
  const float v[] = {a, b, c};
  return TEST_F32(v, 3);
}

TEST(jit_replays_on_new_inputs) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_OK};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  CHECK_NOT_NULL(j);
  CHECK_EQ_INT(tg_jit_kernels(j), 0);
  tg_scope_begin();
  for (int i = 0; i < 5; i++) {
    tg_tensor *in[2] = {test_vec3((float)i, 1, 2), test_vec3(10, (float)(-i), 0.5f)}, *out = NULL;
    int64_t compiles = tg_compiler_invocations(), launches = tg_kernel_launches();
    CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
    const float want[] = {2.0f * (float)(i + 10), 2.0f * (float)(1 - i), 5};
    CHECK_TENSOR(out, want, 0, 3);
    if (i >= 2) { /* a replay: one kernel, nothing compiled, the function not called */
      CHECK_EQ_INT(tg_compiler_invocations() - compiles, 0);
      CHECK_EQ_INT(tg_kernel_launches() - launches, 1);
    }
  }
  tg_scope_end();
  CHECK_EQ_INT(ctx.calls, 2);
  CHECK_EQ_INT(tg_jit_kernels(j), 1);
  tg_jit_free(j);
}

/* inputs that are realised graphs (not views of host data), the same ones on the first two calls: the capture still
 * records the kernels, so a replay on other inputs computes their result (it used to reuse call 1's) */
TEST(jit_same_computed_inputs_on_the_first_calls) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_OK};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_scope_begin();
  tg_tensor *a = tg_add_s(tg_arange(0, 3, 1, TG_FLOAT32), 1), *b = tg_mul_s(tg_ones(TG_FLOAT32, TG_SHAPE(3)), 10);
  tg_tensor *ab[2] = {a, b};
  CHECK_EQ_INT(tg_realize_all(ab, 2), 0);
  const float want_ab[] = {22, 24, 26};
  for (int i = 0; i < 2; i++) {
    tg_tensor *out = NULL;
    CHECK_EQ_INT(tg_jit_run(j, ab, 2, &out, 1), 0);
    CHECK_TENSOR(out, want_ab, 0, 3);
  }
  CHECK_EQ_INT(tg_jit_kernels(j), 1);
  tg_tensor *in[2] = {test_vec3(1, 1, 1), test_vec3(0, 1, 2)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
  const float want[] = {2, 4, 6};
  CHECK_TENSOR(out, want, 0, 3);
  tg_scope_end();
  tg_jit_free(j);
}

TEST(jit_implicit_input_updated_in_place) {
  /* a tensor read by the function but not passed: replays read its buffer, so an in-place update is seen */
  test_jit_ctx ctx = {0, test_vec3(100, 200, 300), TEST_JIT_OK};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_scope_begin();
  for (int i = 0; i < 4; i++) {
    tg_tensor *in[2] = {test_vec3(1, 1, 1), test_vec3(0, 0, 0)}, *out = NULL;
    CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
    float base = 100.0f * (float)(i + 1);
    const float want[] = {2 + base, 2 + 2 * base, 2 + 3 * base};
    CHECK_TENSOR(out, want, 0, 3);
    tg_assign(ctx.w, tg_add(ctx.w, test_vec3(100, 200, 300)));
    CHECK_EQ_INT(tg_realize(ctx.w), 0);
  }
  tg_scope_end();
  /* freeing it is detected: replays would read a buffer nobody holds */
  tg_free(ctx.w);
  tg_tensor *in[2] = {test_vec3(1, 1, 1), test_vec3(0, 0, 0)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), -1);
  CHECK(strstr(tg_error(), "was freed since the capture") != NULL);
  tg_free(in[0]);
  tg_free(in[1]);
  tg_jit_free(j);
}

/* An implicit input that is a lazy graph over a buffer (as a quantised weight is over its blocks): replays find the
 * buffer through the graph of the tensor that holds it (walked once, then remembered while that tensor lives with
 * the same node); freeing that tensor is still detected */
TEST(jit_lazy_implicit_input_freed_is_detected) {
  tg_tensor *base = test_vec3(10, 20, 30);
  CHECK_EQ_INT(tg_realize(base), 0);
  test_jit_ctx ctx = {0, tg_mul_s(base, 3), TEST_JIT_OK}; /* lazy: no buffer of its own */
  tg_free(base); /* only ctx.w's graph reads the buffer now */
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  for (int i = 0; i < 5; i++) {
    tg_tensor *in[2] = {test_vec3(1, 2, 3), test_vec3(1, 1, 1)}, *out = NULL;
    CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
    const float want[] = {34, 66, 98};
    CHECK_TENSOR(out, want, 0, 3);
    tg_free(out), tg_free(in[0]), tg_free(in[1]);
  }
  CHECK_EQ_INT(ctx.calls, 2); /* call 1 and the capture; the rest were replays */
  tg_free(ctx.w);
  tg_tensor *in[2] = {test_vec3(1, 1, 1), test_vec3(0, 0, 0)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), -1);
  CHECK(tg_error() && strstr(tg_error(), "was freed since the capture") != NULL);
  tg_clear_error();
  tg_free(in[0]);
  tg_free(in[1]);
  tg_jit_free(j);
}

TEST(jit_outputs_are_overwritten_by_the_next_replay) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_OK};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_scope_begin();
  tg_tensor *outs[4];
  for (int i = 0; i < 4; i++) {
    tg_tensor *in[2] = {test_vec3((float)i, 0, 0), test_vec3(0, 0, 0)};
    CHECK_EQ_INT(tg_jit_run(j, in, 2, &outs[i], 1), 0);
  }
  /* outs[2] and outs[3] are views of the same captured buffer: both read the last replay's values (as tinygrad) */
  const float last[] = {6, 0, 0};
  CHECK_TENSOR(outs[2], last, 0, 3);
  CHECK_TENSOR(outs[3], last, 0, 3);
  tg_scope_end();
  tg_jit_free(j);
}

TEST(jit_shape_dtype_and_count_changes_are_errors) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_OK};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_scope_begin();
  tg_tensor *in[2] = {test_vec3(1, 2, 3), test_vec3(1, 2, 3)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
  const float four[] = {1, 2, 3, 4};
  tg_tensor *bad_shape[2] = {TEST_F32(four, 4), TEST_F32(four, 4)};
  CHECK_EQ_INT(tg_jit_run(j, bad_shape, 2, &out, 1), -1);
  CHECK(strstr(tg_error(), "input 0 is float32 (4,), but the JIT was made for float32 (3,)") != NULL);
  tg_tensor *bad_dtype[2] = {tg_cast(in[0], TG_FLOAT64), in[1]};
  CHECK_EQ_INT(tg_jit_run(j, bad_dtype, 2, &out, 1), -1);
  CHECK(strstr(tg_error(), "float64") != NULL);
  CHECK_EQ_INT(tg_jit_run(j, in, 1, &out, 1), -1);
  CHECK(strstr(tg_error(), "the first call had 2") != NULL);
  tg_tensor *same[2] = {in[0], in[0]};
  CHECK_EQ_INT(tg_jit_run(j, same, 2, &out, 1), -1);
  CHECK(strstr(tg_error(), "same buffer") != NULL);
  tg_tensor *with_null[2] = {in[0], NULL};
  CHECK_EQ_INT(tg_jit_run(j, with_null, 2, &out, 1), -1);
  CHECK_EQ_INT(tg_jit_run(NULL, in, 2, &out, 1), -1);
  /* the errors changed nothing: the JIT still captures and replays */
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0);
  const float want[] = {4, 8, 12};
  CHECK_TENSOR(out, want, 0, 3);
  CHECK_EQ_INT(tg_jit_kernels(j), 1);
  tg_scope_end();
  tg_jit_free(j);
  CHECK(tg_jit_new(NULL, NULL) == NULL);
  CHECK_EQ_INT(tg_jit_kernels(NULL), 0);
  tg_jit_free(NULL);
}

TEST(jit_host_read_inside_is_an_error) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_ITEM};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_scope_begin();
  tg_tensor *in[2] = {test_vec3(1, 2, 3), test_vec3(1, 2, 3)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), -1);
  CHECK(strstr(tg_error(), "tg_item: reads a tensor to the host inside a JIT'd function") != NULL);
  /* outside, reading works */
  CHECK_NEAR(tg_item(tg_sum(in[0], 0, NULL, 0)), 6, 0);
  tg_scope_end();
  tg_jit_free(j);
}

TEST(jit_data_made_inside_is_an_error) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_FROM_DATA};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_scope_begin();
  tg_tensor *in[2] = {test_vec3(1, 2, 3), test_vec3(1, 2, 3)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), 0); /* call 1 runs normally */
  const float want[] = {6, 10, 14};
  CHECK_TENSOR(out, want, 0, 3);
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), -1); /* the capture sees it */
  CHECK(strstr(tg_error(), "made from host data inside the function") != NULL);
  tg_scope_end();
  tg_jit_free(j);
}

TEST(jit_function_failure_is_reported) {
  test_jit_ctx ctx = {0, NULL, TEST_JIT_FAIL};
  tg_jit *j = tg_jit_new(test_jit_add, &ctx);
  tg_tensor *in[2] = {test_vec3(1, 2, 3), test_vec3(1, 2, 3)}, *out = NULL;
  CHECK_EQ_INT(tg_jit_run(j, in, 2, &out, 1), -1);
  CHECK(strstr(tg_error(), "the function failed") != NULL);
  CHECK(out == NULL);
  tg_free(in[0]);
  tg_free(in[1]);
  tg_jit_free(j);
}

/* a training step: loss = sum((x @ w - y)^2), SGD with momentum; the step realises the loss and the update */
typedef struct test_train { tg_tensor *w; tg_optimizer *opt; } test_train;

static int test_jit_train_step(void *vctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  test_train *t = (test_train *)vctx;
  (void)n_in;
  (void)n_out;
  tg_optimizer_zero_grad(t->opt);
  tg_tensor *loss = tg_sum(tg_square(tg_sub(tg_matmul(in[0], t->w), in[1])), 0, NULL, 0);
  if (tg_backward(loss) < 0 || tg_optimizer_step(t->opt) < 0) return -1;
  out[0] = loss;
  return 0;
}

static void test_train_run(int use_jit, float *losses, float *w_out) {
  const float w0[] = {0.5f, -0.25f, 0.125f, 1};
  test_train t;
  t.w = TEST_F32(w0, 2, 2);
  t.opt = tg_sgd(&t.w, 1, 0.05, 0.9, 0, 0);
  tg_jit *j = tg_jit_new(test_jit_train_step, &t);
  for (int step = 0; step < 6; step++) {
    tg_scope_begin();
    float xs[4], ys[4];
    for (int i = 0; i < 4; i++) {
      xs[i] = (float)((step * 7 + i * 3) % 5) * 0.25f - 0.5f;
      ys[i] = (float)((step + i) % 3) * 0.5f;
    }
    tg_tensor *in[2] = {TEST_F32(xs, 2, 2), TEST_F32(ys, 2, 2)}, *loss = NULL;
    int rc = use_jit ? tg_jit_run(j, in, 2, &loss, 1) : test_jit_train_step(&t, in, 2, &loss, 1);
    CHECK_EQ_INT(rc, 0);
    losses[step] = (float)tg_item(loss);
    tg_scope_end();
  }
  float *w = tg_to_float(t.w);
  if (w) memcpy(w_out, w, 4 * sizeof(float));
  free(w);
  tg_jit_free(j);
  tg_optimizer_free(t.opt);
  tg_free(t.w);
}

TEST(jit_training_step_matches_eager) {
  float l_eager[6], l_jit[6], w_eager[4], w_jit[4];
  test_train_run(0, l_eager, w_eager);
  test_train_run(1, l_jit, w_jit);
  CHECK_ARR_NEAR(l_jit, l_eager, 6, 1e-6);
  CHECK_ARR_NEAR(w_jit, w_eager, 4, 1e-6);
  CHECK(l_eager[5] != l_eager[4]); /* it trained */
}

/* random numbers inside a JIT'd function: the generator's counter is a buffer, so replays draw new numbers */
static int test_jit_rand(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)ctx, (void)n_in, (void)n_out;
  out[0] = tg_add(in[0], tg_rand(TG_FLOAT32, TG_SHAPE(64)));
  return 0;
}

TEST(jit_random_numbers_change_between_replays) {
  tg_jit *j = tg_jit_new(test_jit_rand, NULL);
  tg_scope_begin();
  float *prev = NULL;
  int distinct = 0;
  for (int i = 0; i < 5; i++) {
    tg_tensor *in = tg_zeros(TG_FLOAT32, TG_SHAPE(64)), *out = NULL;
    CHECK_EQ_INT(tg_jit_run(j, &in, 1, &out, 1), 0);
    float *f = tg_to_float(out);
    if (f && prev) distinct += memcmp(f, prev, 64 * sizeof(float)) != 0;
    free(prev);
    prev = f;
  }
  free(prev);
  CHECK_EQ_INT(distinct, 4);
  tg_scope_end();
  tg_jit_free(j);
}

TEST(rand_kernels_are_the_same_every_draw) {
  /* the counter is read from its buffer, not baked into the source: every draw runs the same kernels */
  tg_scope_begin();
  char *first[4] = {0};
  for (int i = 0; i < 3; i++) {
    tg_tensor *r = tg_rand(TG_FLOAT32, TG_SHAPE(33));
    tg_schedule *s = tg_schedule_create(&r, 1);
    CHECK_NOT_NULL(s);
    /* the counter's snapshot, the draw's key schedule (12 words), the draw; the counter's update is pending,
     * realised with them */
    CHECK_EQ_INT(tg_schedule_count(s), 3);
    for (int k = 0; s && k < tg_schedule_count(s) && k < 4; k++) {
      const char *src = tg_schedule_source(s, k);
      if (i == 0 && src) first[k] = strcpy((char *)malloc(strlen(src) + 1), src);
      else CHECK(first[k] && src && strcmp(first[k], src) == 0);
    }
    tg_schedule_free(s);
    CHECK_EQ_INT(tg_realize(r), 0);
  }
  for (int k = 0; k < 4; k++) free(first[k]);
  tg_scope_end();
}
