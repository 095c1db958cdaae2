/* mnist.c: trains tinygrad's examples/beautiful_mnist.py model on Fashion-MNIST, in C, with tinygrad.h alone.
 *
 *   build/mnist [--steps N] [--bs N] [--eval-every N] [--seed N] [--save FILE]
 *                                                      trains (70 steps by default; the test set is evaluated at the
 *                                                      end, and every N steps when asked) and saves the weights
 *   build/mnist --predict IMAGE.png [--model FILE]     classifies an image (any size, grey or colour) with them
 *
 * The model: conv5x5(32) relu conv5x5(32) relu batchnorm maxpool conv3x3(64) relu conv3x3(64) relu batchnorm maxpool
 * linear(576 -> 10); Adam; batches of 512 images sampled at random on the device (X_train[samples], which the
 * compiler turns into one gather kernel); the training step and the test evaluation are JIT'd (captured on their
 * second call, replayed after), as in beautiful_mnist. The data comes from the Debian package
 * dataset-fashion-mnist (MNIST_DIR overrides /usr/share/datasets/fashion-mnist). The weights are saved as
 * safetensors under tinygrad's names (layers.0.weight, ...), so tinygrad's beautiful_mnist Model can load them.
 * DEV=CUDA (an NVIDIA GPU) or DEV=OPENCL trains on a GPU; the CPU is the default. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "backends/tinygrad_cuda.h"
#include "backends/tinygrad_opencl.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#include <stb/stb_image.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h> /* isatty: the progress bar in a log */

static const char *const CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

#include "mnist_model.h" /* the model, its state dict under tinygrad's names, and the training step */

// ---------------------------------------------------------------------------------------------------------------------
// the evaluation, JIT'd

/* inputs: the test images and labels; output: the accuracy in percent */
static int test_accuracy(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  trainer *t = (trainer *)ctx;
  (void)n_in, (void)n_out;
  int was = tg_set_training(0), grad = tg_set_grad_enabled(0);
  tg_tensor *pred = tg_argmax(model_forward(&t->m, in[0]), 1, 0);
  out[0] = tg_mul_s(tg_mean(tg_cast(tg_eq(pred, in[1]), TG_FLOAT32), 0, NULL, 0), 100.0);
  tg_set_training(was);
  tg_set_grad_enabled(grad);
  return out[0] ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// data

static tg_tensor *load_idx(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  tg_tensor *t = tg_idx_load(path);
  if (!t) fprintf(stderr, "mnist: %s\nHINT: sudo apt-get install dataset-fashion-mnist (or set MNIST_DIR)\n", tg_error());
  return t;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* On a terminal, one line redrawn in place; in a log (stderr is no terminal), a line every tenth of the run. eta < 0:
 * not known yet (the first two steps compile the kernels, and are left out of the rate) */
static void progress(int step, int steps, double loss, double acc, double rate, double eta) {
  static int tty = -1;
  if (tty < 0) tty = isatty(fileno(stderr));
  int every = steps >= 10 ? steps / 10 : 1;
  if (!tty && step % every != 0 && step != steps) return;
  int width = 30, done = steps ? step * width / steps : width;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < done ? '=' : i == done ? '>' : ' ';
  bar[width] = 0;
  char test[16] = "  --  ", left[16] = " --", speed[16] = "   --";
  if (acc >= 0) snprintf(test, sizeof test, "%5.2f%%", acc);
  if (eta >= 0) snprintf(left, sizeof left, "%3.0f", eta), snprintf(speed, sizeof speed, "%5.2f", rate);
  fprintf(stderr, "%s%4d/%d [%s] loss %6.3f  test %s  %s steps/s  ETA %s s %s", tty ? "\r" : "", step, steps, bar,
          loss, test, speed, left, tty ? "" : "\n");
  fflush(stderr);
}

/* the library's error without its HINT, which speaks to a C programmer (a demo's user passes no arguments to it) */
static void say_error(const char *what) {
  const char *e = tg_error() ? tg_error() : "unknown error", *hint = strstr(e, " HINT:");
  fprintf(stderr, "mnist: %.*s\n%s", hint ? (int)(hint - e) : (int)strlen(e), e, what ? what : "");
}

static int train(int steps, int bs, int eval_every, uint64_t seed, const char *save) {
  const char *dir = getenv("MNIST_DIR") ? getenv("MNIST_DIR") : "/usr/share/datasets/fashion-mnist";
  /* the data is read on the host, and copied once (tg_to) to the device the model trains on: DEV's */
  char dev[32];
  snprintf(dev, sizeof dev, "%s", tg_default_device() ? tg_default_device() : "CPU");
  tg_set_default_device("CPU");
  tg_tensor *xtr = load_idx(dir, "train-images-idx3-ubyte.gz"), *ytr = load_idx(dir, "train-labels-idx1-ubyte.gz");
  tg_tensor *xte = load_idx(dir, "t10k-images-idx3-ubyte.gz"), *yte = load_idx(dir, "t10k-labels-idx1-ubyte.gz");
  tg_set_default_device(dev);
  if (!xtr || !ytr || !xte || !yte) return 1;
  int64_t ntr = tg_dim(xtr, 0), nte = tg_dim(xte, 0);
  trainer t;
  t.x_train = tg_to(tg_reshape(xtr, TG_SHAPE(ntr, 1, 28, 28)), dev), t.y_train = tg_to(tg_cast(ytr, TG_INT32), dev);
  t.bs = bs;
  tg_tensor *xtest = tg_to(tg_reshape(xte, TG_SHAPE(nte, 1, 28, 28)), dev), *ytest = tg_to(tg_cast(yte, TG_INT32), dev);
  tg_tensor *data[4] = {t.x_train, t.y_train, xtest, ytest};
  if (tg_realize_all(data, 4) < 0) {
    fprintf(stderr, "mnist: %s\n", tg_error());
    return 1;
  }
  printf("Fashion-MNIST: %lld training and %lld test images; %d steps of %d\n", (long long)ntr, (long long)nte, steps,
         bs);

  tg_manual_seed(seed);
  if (model_init(&t.m) < 0) {
    fprintf(stderr, "mnist: %s\n", tg_error());
    return 1;
  }
  tg_state_dict *sd = model_state(&t.m);
  t.opt = model_adam(sd);
  tg_jit *jstep = tg_jit_new(train_step, &t), *jacc = tg_jit_new(test_accuracy, &t);
  if (!sd || !t.opt || !jstep || !jacc) {
    fprintf(stderr, "mnist: %s\n", tg_error());
    return 1;
  }

  double acc = -1, loss = 0, t0 = now(), t_first2 = 0, *t_step = (double *)calloc((size_t)steps, sizeof(double));
  int rc = 0;
  for (int step = 0; step < steps && rc == 0; step++) {
    tg_scope_begin();
    tg_tensor *out = NULL;
    double s0 = now();
    rc = tg_jit_run(jstep, NULL, 0, &out, 1);
    loss = rc == 0 ? tg_item(out) : 0;
    double dt = now() - s0;
    if (step < 2) t_first2 += dt;
    t_step[step] = dt;
    if (rc == 0 && ((eval_every > 0 && step % eval_every == eval_every - 1) || step == steps - 1)) {
      tg_tensor *tin[2] = {xtest, ytest}, *a = NULL;
      rc = tg_jit_run(jacc, tin, 2, &a, 1);
      acc = rc == 0 ? tg_item(a) : 0;
    }
    tg_scope_end();
    /* the rate of the steps after the first two, which compile the kernels */
    double el = now() - t0 - t_first2, rate = step >= 2 ? (step - 1) / el : 0;
    progress(step + 1, steps, loss, acc, rate, step >= 2 ? (steps - step - 1) / rate : -1);
  }
  if (isatty(fileno(stderr))) fprintf(stderr, "\n");
  if (rc != 0) fprintf(stderr, "mnist: %s\n", tg_error());
  else {
    printf("test accuracy %.2f%% after %d steps; %.1f s in all; first two steps %.2f s, then %.3f s per step (median)\n",
           acc, steps, now() - t0, t_first2, steps > 2 ? median(t_step + 2, steps - 2) : 0.0);
    if (tg_safetensors_save(save, sd) < 0) {
      fprintf(stderr, "mnist: %s\n", tg_error());
      rc = 1;
    } else {
      printf("saved the weights to %s (build/mnist --predict IMAGE.png --model %s)\n", save, save);
    }
  }
  free(t_step);
  tg_jit_free(jstep);
  tg_jit_free(jacc);
  tg_optimizer_free(t.opt);
  tg_state_dict_free(sd);
  model_free(&t.m);
  tg_free(t.x_train), tg_free(t.y_train), tg_free(xtest), tg_free(ytest);
  tg_free(xtr), tg_free(ytr), tg_free(xte), tg_free(yte);
  return rc ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// prediction

static int predict(const char *image, const char *weights) {
  int w, h, ch;
  unsigned char *px = stbi_load(image, &w, &h, &ch, 1);
  if (!px) {
    fprintf(stderr, "mnist: cannot read %s: %s\n", image, stbi_failure_reason());
    return 1;
  }
  /* Fashion-MNIST has light things on black: a light background (the border's mean) is inverted */
  double border = 0;
  for (int x = 0; x < w; x++) border += px[x] + px[(size_t)(h - 1) * (size_t)w + (size_t)x];
  for (int y = 0; y < h; y++) border += px[(size_t)y * (size_t)w] + px[(size_t)y * (size_t)w + (size_t)(w - 1)];
  border /= 2.0 * (w + h);
  model m;
  tg_state_dict *file = tg_safetensors_load(weights);
  if (!file) {
    fprintf(stderr, "mnist: %s\nHINT: train first: build/mnist --save %s\n", tg_error(), weights);
    stbi_image_free(px);
    return 1;
  }
  int rc = model_init(&m);
  tg_state_dict *sd = rc == 0 ? model_state(&m) : NULL;
  if (!sd || tg_load_state_dict(sd, file, 1) < 0) {
    say_error("HINT: the file holds no weights of this model: train and save them with build/mnist --save FILE\n");
    rc = 1;
  }
  if (rc == 0) {
    tg_scope_begin();
    tg_tensor *img = tg_from_data(px, TG_UINT8, TG_SHAPE(1, 1, h, w));
    tg_tensor *x = tg_interpolate(tg_cast(img, TG_FLOAT32), 28, 28, TG_BILINEAR, 0);
    if (border > 127) x = tg_rsub_s(255.0, x);
    tg_set_training(0);
    tg_tensor *probs = tg_softmax(model_forward(&m, x), -1);
    float p[10];
    if (!probs || tg_to_host(probs, p, sizeof p) < 0) {
      fprintf(stderr, "mnist: %s\n", tg_error());
      rc = 1;
    } else {
      printf("%s (%dx%d, %s background):\n", image, w, h, border > 127 ? "light" : "dark");
      for (int r = 0; r < 3; r++) {
        int best = 0;
        for (int i = 1; i < 10; i++)
          if (p[i] > p[best]) best = i;
        printf("  %-12s %5.1f%%\n", CLASSES[best], 100.0 * p[best]);
        p[best] = -1;
      }
    }
    tg_scope_end();
  }
  tg_state_dict_free(sd);
  tg_state_dict_free(file);
  model_free(&m);
  stbi_image_free(px);
  return rc;
}

int main(int argc, char **argv) {
  int steps = getenv("STEPS") ? atoi(getenv("STEPS")) : 70, bs = 512, eval_every = 0;
  uint64_t seed = 42;
  const char *save = "mnist.safetensors", *image = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--bs") && i + 1 < argc) bs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--eval-every") && i + 1 < argc) eval_every = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if ((!strcmp(argv[i], "--save") || !strcmp(argv[i], "--model")) && i + 1 < argc) save = argv[++i];
    else if (!strcmp(argv[i], "--predict") && i + 1 < argc) image = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--steps N] [--bs N] [--eval-every N] [--seed N] [--save FILE] | --predict IMAGE "
                      "[--model FILE]\n", argv[0]);
      return 2;
    }
  }
  if (steps < 1 || bs < 1) {
    fprintf(stderr, "mnist: --steps and --bs must be positive\n");
    return 2;
  }
  return image ? predict(image, save) : train(steps, bs, eval_every, seed, save);
}
