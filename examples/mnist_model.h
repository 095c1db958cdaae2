/* mnist_model.h: tinygrad's examples/beautiful_mnist.py model and its JIT'd training step, shared by examples/mnist.c
 * (which trains it on Fashion-MNIST) and bench/gpu.c (which times its step against PyTorch's). Include it after
 * tinygrad.h in the file that defines the implementation.
 *
 * The model: conv5x5(32) relu conv5x5(32) relu batchnorm maxpool conv3x3(64) relu conv3x3(64) relu batchnorm maxpool
 * linear(576 -> 10). A step draws a batch of `bs` images at random on the device (X_train[samples], which the
 * compiler turns into one gather kernel), and takes one step of the optimizer on the loss. */
#ifndef MNIST_MODEL_H
#define MNIST_MODEL_H
#include <string.h>

// ---------------------------------------------------------------------------------------------------------------------
// the model

typedef struct model {
  tg_nn_conv2d c1, c2, c3, c4;
  tg_nn_batchnorm bn1, bn2;
  tg_nn_linear fc;
} model;

static int model_init(model *m) {
  memset(m, 0, sizeof *m);
  if (tg_nn_conv2d_init(&m->c1, 1, 32, 5, 1, 0, 1, 1, 1) < 0 ||
      tg_nn_conv2d_init(&m->c2, 32, 32, 5, 1, 0, 1, 1, 1) < 0 || tg_nn_batchnorm_init(&m->bn1, 32) < 0 ||
      tg_nn_conv2d_init(&m->c3, 32, 64, 3, 1, 0, 1, 1, 1) < 0 ||
      tg_nn_conv2d_init(&m->c4, 64, 64, 3, 1, 0, 1, 1, 1) < 0 || tg_nn_batchnorm_init(&m->bn2, 64) < 0 ||
      tg_nn_linear_init(&m->fc, 576, 10, 1) < 0)
    return -1;
  return 0;
}

static void model_free(model *m) {
  tg_nn_conv2d_free(&m->c1);
  tg_nn_conv2d_free(&m->c2);
  tg_nn_conv2d_free(&m->c3);
  tg_nn_conv2d_free(&m->c4);
  tg_nn_batchnorm_free(&m->bn1);
  tg_nn_batchnorm_free(&m->bn2);
  tg_nn_linear_free(&m->fc);
}

/* the state dict under tinygrad's names: the index of each layer in beautiful_mnist's list */
static tg_state_dict *model_state(model *m) {
  tg_state_dict *sd = tg_state_dict_new();
  if (tg_nn_conv2d_params(&m->c1, sd, "layers.0") < 0 || tg_nn_conv2d_params(&m->c2, sd, "layers.2") < 0 ||
      tg_nn_batchnorm_params(&m->bn1, sd, "layers.4") < 0 || tg_nn_conv2d_params(&m->c3, sd, "layers.6") < 0 ||
      tg_nn_conv2d_params(&m->c4, sd, "layers.8") < 0 || tg_nn_batchnorm_params(&m->bn2, sd, "layers.10") < 0 ||
      tg_nn_linear_params(&m->fc, sd, "layers.13") < 0) {
    tg_state_dict_free(sd);
    return NULL;
  }
  return sd;
}

/* x: (N, 1, 28, 28), any dtype -> logits (N, 10) */
static tg_tensor *model_forward(model *m, tg_tensor *x) {
  x = tg_relu(tg_nn_conv2d_forward(&m->c1, tg_cast(x, TG_FLOAT32)));
  x = tg_relu(tg_nn_conv2d_forward(&m->c2, x));
  x = tg_max_pool2d(tg_nn_batchnorm_forward(&m->bn1, x), 2, 0, 0, 1);
  x = tg_relu(tg_nn_conv2d_forward(&m->c3, x));
  x = tg_relu(tg_nn_conv2d_forward(&m->c4, x));
  x = tg_max_pool2d(tg_nn_batchnorm_forward(&m->bn2, x), 2, 0, 0, 1);
  return tg_nn_linear_forward(&m->fc, tg_flatten(x, 1, -1));
}

// ---------------------------------------------------------------------------------------------------------------------
// the training step, JIT'd

typedef struct trainer {
  model m;
  tg_optimizer *opt;
  tg_tensor *x_train, *y_train; /* (N, 1, 28, 28) uint8 and (N,) int32, on the device */
  int bs;
} trainer;

/* no inputs: the batch is drawn inside (a new one at every replay: the generator's counter is device state);
 * output: the loss. Realising the loss realises the optimiser's step and the batchnorm statistics with it. */
static int train_step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  trainer *t = (trainer *)ctx;
  (void)in, (void)n_in, (void)n_out;
  int was = tg_set_training(1);
  tg_optimizer_zero_grad(t->opt);
  tg_tensor *samples = tg_randint(0, tg_dim(t->x_train, 0), TG_INT32, TG_SHAPE(t->bs));
  tg_tensor *x = tg_index(t->x_train, 0, samples), *y = tg_index(t->y_train, 0, samples);
  tg_tensor *loss = tg_sparse_categorical_crossentropy(model_forward(&t->m, x), y, -1, 0.0);
  int rc = tg_backward(loss) < 0 || tg_optimizer_step(t->opt) < 0 ? -1 : 0;
  tg_set_training(was);
  out[0] = loss;
  return rc;
}

/* Adam over the model's parameters (lr 1e-3, as beautiful_mnist), from its state dict sd; NULL with an error */
static tg_optimizer *model_adam(tg_state_dict *sd) {
  int np = 0;
  tg_tensor *params[32];
  for (int i = 0; sd && i < tg_state_dict_count(sd) && np < 32; i++) {
    const char *name = tg_state_dict_name(sd, i);
    if (!strstr(name, "running_") && !strstr(name, "num_batches")) params[np++] = tg_state_dict_tensor(sd, i);
  }
  return sd ? tg_adam(params, np, 0.001, 0.9, 0.999, 1e-8) : NULL;
}

#endif /* MNIST_MODEL_H */
