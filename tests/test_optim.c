/* test_optim.c: the optimisers. Updates against hand-computed values, three steps of each optimiser against the real
 * tinygrad (tests/golden/golden_optim.h), the lazy step (realised with the loss, in one schedule), a learning rate
 * changed between steps without recompiling, and the errors. */
#include "helpers.h"

#include "golden/golden_optim.h"

/* loss = sum(w * c): the gradient is c, whatever w is */
static tg_tensor *test_linear_loss(tg_tensor *w, const float *c) {
  tg_tensor *ct = TEST_F32(c, 4);
  tg_tensor *l = tg_sum(tg_mul(w, ct), 0, NULL, 0);
  tg_free(ct);
  return l;
}

static void test_step(tg_optimizer *o, tg_tensor *w, const float *c) {
  tg_optimizer_zero_grad(o);
  tg_scope_begin();
  tg_tensor *loss = test_linear_loss(w, c);
  CHECK_EQ_INT(tg_backward(loss), 0);
  CHECK_EQ_INT(tg_optimizer_step(o), 0);
  CHECK_EQ_INT(tg_realize(loss), 0);
  tg_scope_end();
}

TEST(optim_sgd_by_hand) {
  const float w0[] = {1, 2, 3, 4}, c[] = {0.5f, -1, 2, 0};
  tg_tensor *w = TEST_F32(w0, 4);
  tg_optimizer *o = tg_sgd(&w, 1, 0.1, 0, 0, 0);
  CHECK_NOT_NULL(o);
  test_step(o, w, c);
  const float want1[] = {0.95f, 2.1f, 2.8f, 4};
  CHECK_TENSOR(w, want1, 1e-6, 4);
  test_step(o, w, c);
  const float want2[] = {0.9f, 2.2f, 2.6f, 4};
  CHECK_TENSOR(w, want2, 1e-6, 4);
  CHECK_NEAR(tg_optimizer_lr(o), 0.1, 0);
  tg_optimizer_free(o);
  tg_free(w);
}

TEST(optim_sgd_momentum_by_hand) {
  /* b1 = g, b2 = 0.9 g + g = 1.9 g: w2 = w0 - lr*(g + 1.9 g) */
  const float w0[] = {1, 2, 3, 4}, c[] = {0.5f, -1, 2, 0};
  tg_tensor *w = TEST_F32(w0, 4);
  tg_optimizer *o = tg_sgd(&w, 1, 0.1, 0.9, 0, 0);
  test_step(o, w, c);
  test_step(o, w, c);
  float want[4];
  for (int i = 0; i < 4; i++) want[i] = w0[i] - 0.1f * 2.9f * c[i];
  CHECK_TENSOR(w, want, 1e-6, 4);
  tg_optimizer_free(o);
  tg_free(w);
}

TEST(optim_adam_by_hand) {
  /* first step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) */
  const float w0[] = {1, 2, 3, 4}, c[] = {0.5f, -1, 2, 0};
  tg_tensor *w = TEST_F32(w0, 4);
  tg_optimizer *o = tg_adam(&w, 1, 0.01, 0.9, 0.999, 1e-8);
  test_step(o, w, c);
  float want[4];
  for (int i = 0; i < 4; i++) want[i] = w0[i] - 0.01f * (float)(c[i] / (fabs(c[i]) + 1e-8));
  CHECK_TENSOR(w, want, 1e-6, 4);
  tg_optimizer_free(o);
  tg_free(w);
}

/* three steps of the golden model (see gen_optim.py); the loss is realised with each step */
static void test_golden_run(tg_optimizer *(*make)(tg_tensor **p), const float *loss_want, const float *w_want,
                            const float *b_want) {
  tg_tensor *w = TEST_F32(golden_optim_w0, 2, 3), *b = TEST_F32(golden_optim_b0, 2);
  tg_tensor *x = TEST_F32(golden_optim_x, 2, 3);
  tg_tensor *params[2] = {w, b};
  tg_optimizer *o = make(params);
  CHECK_NOT_NULL(o);
  for (int step = 0; o && step < 3; step++) {
    tg_optimizer_zero_grad(o);
    tg_scope_begin();
    tg_tensor *y = tg_relu(tg_add(tg_matmul(x, tg_transpose(w, 0, 1)), b));
    tg_tensor *loss = tg_add(tg_sum(tg_square(y), 0, NULL, 0), tg_mean(tg_mul(w, w), 0, NULL, 0));
    CHECK_EQ_INT(tg_backward(loss), 0);
    CHECK_EQ_INT(tg_optimizer_step(o), 0);
    CHECK_EQ_INT(tg_realize(loss), 0);
    CHECK_NEAR(tg_item(loss), loss_want[step], 1e-5);
    tg_scope_end();
  }
  CHECK_TENSOR(w, w_want, 1e-5, 2, 3);
  CHECK_TENSOR(b, b_want, 1e-5, 2);
  tg_optimizer_free(o);
  tg_free(w);
  tg_free(b);
  tg_free(x);
}

static tg_optimizer *test_sgd(tg_tensor **p) { return tg_sgd(p, 2, 0.01, 0, 0, 0); }
static tg_optimizer *test_sgd_m(tg_tensor **p) { return tg_sgd(p, 2, 0.01, 0.9, 0.1, 0); }
static tg_optimizer *test_sgd_nesterov(tg_tensor **p) { return tg_sgd(p, 2, 0.01, 0.9, 0, 1); }
static tg_optimizer *test_adam(tg_tensor **p) { return tg_adam(p, 2, 0.01, 0.9, 0.999, 1e-8); }
static tg_optimizer *test_adamw(tg_tensor **p) { return tg_adamw(p, 2, 0.01, 0.9, 0.999, 1e-8, 0.1); }
static tg_optimizer *test_lamb(tg_tensor **p) { return tg_lamb(p, 2, 0.01, 0.9, 0.999, 1e-6, 0.1); }

TEST(optim_sgd_golden) { test_golden_run(test_sgd, golden_sgd_loss, golden_sgd_w, golden_sgd_b); }
TEST(optim_sgd_momentum_golden) { test_golden_run(test_sgd_m, golden_sgd_m_loss, golden_sgd_m_w, golden_sgd_m_b); }
TEST(optim_sgd_nesterov_golden) {
  test_golden_run(test_sgd_nesterov, golden_sgd_nesterov_loss, golden_sgd_nesterov_w, golden_sgd_nesterov_b);
}
TEST(optim_adam_golden) { test_golden_run(test_adam, golden_adam_loss, golden_adam_w, golden_adam_b); }
TEST(optim_adamw_golden) { test_golden_run(test_adamw, golden_adamw_loss, golden_adamw_w, golden_adamw_b); }
TEST(optim_lamb_golden) { test_golden_run(test_lamb, golden_lamb_loss, golden_lamb_w, golden_lamb_b); }

TEST(optim_step_is_lazy) {
  const float w0[] = {1, 2, 3, 4}, c[] = {1, 1, 1, 1};
  tg_tensor *w = TEST_F32(w0, 4);
  tg_optimizer *o = tg_sgd(&w, 1, 0.5, 0, 0, 0);
  tg_tensor *loss = test_linear_loss(w, c);
  CHECK_EQ_INT(tg_backward(loss), 0);
  int64_t before = tg_kernel_launches();
  CHECK_EQ_INT(tg_optimizer_step(o), 0);
  CHECK_EQ_INT(tg_kernel_launches() - before, 0); /* nothing ran */
  /* the loss and the update in one realisation; the loss sees the weights before the update */
  CHECK_EQ_INT(tg_realize(loss), 0);
  CHECK_NEAR(tg_item(loss), 10, 0);
  const float want[] = {0.5f, 1.5f, 2.5f, 3.5f};
  CHECK_TENSOR(w, want, 1e-6, 4);
  tg_free(loss);
  tg_optimizer_free(o);
  tg_free(w);
}

TEST(optim_set_lr_recompiles_nothing) {
  const float w0[] = {1, 2, 3, 4}, c[] = {1, 0, -1, 2};
  tg_tensor *w = TEST_F32(w0, 4);
  tg_optimizer *o = tg_sgd(&w, 1, 0.1, 0, 0, 0);
  test_step(o, w, c);
  CHECK_EQ_INT(tg_optimizer_set_lr(o, 0.25), 0);
  CHECK_NEAR(tg_optimizer_lr(o), 0.25, 0);
  int64_t compiles = tg_compiler_invocations();
  test_step(o, w, c);
  CHECK_EQ_INT(tg_compiler_invocations() - compiles, 0);
  float want[4];
  for (int i = 0; i < 4; i++) want[i] = w0[i] - 0.35f * c[i];
  CHECK_TENSOR(w, want, 1e-6, 4);
  tg_optimizer_free(o);
  tg_free(w);
}

TEST(optim_skips_params_without_grad) {
  const float a0[] = {1, 2}, b0[] = {3, 4}, c[] = {1, 1, 1, 1};
  tg_tensor *a = TEST_F32(a0, 2), *b = TEST_F32(b0, 2), *w = TEST_F32(c, 4);
  tg_tensor *ps[2] = {a, b};
  tg_optimizer *o = tg_sgd(ps, 2, 1.0, 0, 0, 0);
  tg_tensor *loss = tg_sum(a, 0, NULL, 0); /* only a is used */
  CHECK_EQ_INT(tg_backward(loss), 0);
  CHECK(tg_grad(b) == NULL);
  CHECK_EQ_INT(tg_optimizer_step(o), 0);
  CHECK_EQ_INT(tg_realize(loss), 0);
  const float wa[] = {0, 1};
  CHECK_TENSOR(a, wa, 0, 2);
  CHECK_TENSOR(b, b0, 0, 2);
  tg_optimizer_zero_grad(o);
  CHECK(tg_grad(a) == NULL);
  /* no gradient at all is an error */
  CHECK_EQ_INT(tg_optimizer_step(o), -1);
  CHECK(strstr(tg_error(), "no parameter has a gradient") != NULL);
  tg_free(loss);
  tg_optimizer_free(o);
  tg_free(a);
  tg_free(b);
  tg_free(w);
}

TEST(optim_errors) {
  const float v[] = {1, 2};
  tg_tensor *w = TEST_F32(v, 2), *i = tg_arange(0, 2, 1, TG_INT32);
  tg_tensor *twice[2] = {w, w};
  CHECK(tg_sgd(NULL, 1, 0.1, 0, 0, 0) == NULL);
  CHECK(strstr(tg_error(), "at least one parameter") != NULL);
  CHECK(tg_adam(&w, 0, 0.1, 0.9, 0.999, 1e-8) == NULL);
  CHECK(tg_sgd(&w, 1, -0.1, 0, 0, 0) == NULL);
  CHECK(strstr(tg_error(), "learning rate") != NULL);
  CHECK(tg_sgd(&w, 1, 0.1, -1, 0, 0) == NULL);
  CHECK(strstr(tg_error(), "momentum") != NULL);
  CHECK(tg_sgd(&w, 1, 0.1, 0, 0, 1) == NULL);
  CHECK(strstr(tg_error(), "nesterov") != NULL);
  CHECK(tg_adam(&w, 1, 0.1, 1.0, 0.999, 1e-8) == NULL);
  CHECK(strstr(tg_error(), "b1") != NULL);
  CHECK(tg_adamw(&i, 1, 0.1, 0.9, 0.999, 1e-8, 0) == NULL);
  CHECK(strstr(tg_error(), "int32") != NULL);
  CHECK(tg_lamb(twice, 2, 0.1, 0.9, 0.999, 1e-6, 0) == NULL);
  CHECK(strstr(tg_error(), "again") != NULL);
  CHECK_EQ_INT(tg_optimizer_step(NULL), -1);
  CHECK_EQ_INT(tg_optimizer_set_lr(NULL, 0.1), -1);
  tg_optimizer *o = tg_sgd(&w, 1, 0.1, 0, 0, 0);
  CHECK_EQ_INT(tg_optimizer_set_lr(o, -1), -1);
  CHECK_NEAR(tg_optimizer_lr(o), 0.1, 0);
  tg_optimizer_zero_grad(NULL);
  tg_optimizer_free(NULL);
  tg_optimizer_free(o);
  CHECK_TENSOR(w, v, 0, 2); /* untouched by all of that */
  tg_free(w);
  tg_free(i);
}

TEST(optim_state_save_and_load) {
  /* two Adam steps, save the state; a fresh optimiser loaded with it takes the same third step */
  const float w0[] = {1, 2, 3, 4}, c[] = {0.5f, -1, 2, 0.25f};
  tg_tensor *w = TEST_F32(w0, 4), *w2 = TEST_F32(w0, 4);
  tg_optimizer *o = tg_adam(&w, 1, 0.01, 0.9, 0.999, 1e-8), *o2 = tg_adam(&w2, 1, 0.5, 0.9, 0.999, 1e-8);
  test_step(o, w, c);
  test_step(o, w, c);
  tg_state_dict *sd = tg_state_dict_new(), *sd2 = tg_state_dict_new();
  CHECK_EQ_INT(tg_optimizer_state(o, sd, "opt"), 0);
  CHECK_EQ_INT(tg_optimizer_state(o2, sd2, "opt"), 0);
  CHECK_EQ_INT(tg_state_dict_count(sd), 5); /* lr, b1_t, b2_t, m.0, v.0 */
  CHECK_STR(tg_state_dict_name(sd, 0), "opt.lr");
  CHECK_STR(tg_state_dict_name(sd, 3), "opt.m.0");
  CHECK_NEAR(tg_item(tg_state_dict_get(sd, "opt.b1_t")), 0.81, 1e-6);
  CHECK_EQ_INT(tg_load_state_dict(sd2, sd, 1), 0);
  CHECK_NEAR(tg_optimizer_lr(o2), 0.01, 1e-7);
  CHECK_EQ_INT(tg_assign(w2, w) == w2, 1);
  test_step(o, w, c);
  test_step(o2, w2, c);
  float *a = tg_to_float(w), *b = tg_to_float(w2);
  CHECK_ARR_NEAR(a, b, 4, 0);
  free(a), free(b);
  tg_state_dict_free(sd);
  tg_state_dict_free(sd2);
  tg_optimizer_free(o);
  tg_optimizer_free(o2);
  tg_free(w);
  tg_free(w2);
}
