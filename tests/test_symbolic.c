/* test_symbolic.c: symbolic shapes (tinygrad's Variables). A shrink by a variable gives a tensor of symbolic size;
 * reductions over it are right for every bound value with one compiled kernel (the same source for every value);
 * tg_assign writes into a slice at a variable position; a JIT captures a decode-like step once and replays it for
 * every position, reading the variable's value at each replay; misuse is an error. Values are checked against closed
 * forms and a scalar C attention. */
#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static tg_tensor *test_sym_rows(tg_tensor *a, tg_variable *v, int64_t cols) {
  tg_sint b[4] = {{NULL, 0}, {v, 0}, {NULL, 0}, {NULL, cols}};
  return tg_shrink_sym(a, 2, b);
}

TEST(symbolic_reductions_over_a_variable_size) {
  float data[8 * 4];
  for (int i = 0; i < 32; i++) data[i] = (float)((i * 7) % 11) - 3.0f;
  tg_tensor *a = TEST_F32(data, 8, 4);
  tg_variable *v = tg_variable_new("n", 1, 8);
  CHECK_NOT_NULL(v);
  CHECK(tg_variable_new("n", 1, 8) == v); /* the same name and bounds: the same variable */
  char *first_src = NULL;
  for (int n = 1; n <= 8; n += 3) {
    CHECK_EQ_INT(tg_variable_bind(v, n), 0);
    CHECK_EQ_INT((int)tg_variable_value(v), n);
    tg_tensor *s = test_sym_rows(a, v, 4);
    CHECK_NOT_NULL(s);
    CHECK_EQ_INT(tg_ndim(s), 2);
    CHECK(tg_shape(s)[0] < 0); /* symbolic */
    CHECK_EQ_INT((int)tg_shape(s)[1], 4);
    int ax = 0;
    float sum[4], mx[4], mean[4], want_sum[4], want_max[4];
    for (int c = 0; c < 4; c++) {
      want_sum[c] = 0, want_max[c] = -1e30f;
      for (int r = 0; r < n; r++) want_sum[c] += data[r * 4 + c], want_max[c] = fmaxf(want_max[c], data[r * 4 + c]);
    }
    CHECK_EQ_INT(tg_to_host(tg_sum(s, 1, &ax, 0), sum, sizeof sum), 0);
    CHECK_EQ_INT(tg_to_host(tg_max(s, 1, &ax, 0), mx, sizeof mx), 0);
    CHECK_EQ_INT(tg_to_host(tg_mean(s, 1, &ax, 0), mean, sizeof mean), 0);
    CHECK_ARR_NEAR(sum, want_sum, 4, 1e-6);
    CHECK_ARR_NEAR(mx, want_max, 4, 0);
    for (int c = 0; c < 4; c++) want_sum[c] /= (float)n;
    CHECK_ARR_NEAR(mean, want_sum, 4, 1e-6);
    /* one kernel for every value: the rendered source does not depend on it */
    tg_tensor *r = tg_sum(s, 1, &ax, 0);
    tg_schedule *sc = tg_schedule_create(&r, 1);
    CHECK_NOT_NULL(sc);
    if (sc && tg_schedule_count(sc) == 1) {
      if (!first_src) {
        const char *src = tg_schedule_source(sc, 0);
        first_src = (char *)malloc(strlen(src) + 1);
        memcpy(first_src, src, strlen(src) + 1);
      }
      else CHECK(strcmp(first_src, tg_schedule_source(sc, 0)) == 0);
      CHECK(strstr(tg_schedule_name(sc, 0), "_S") != NULL); /* the loop of symbolic size */
    }
    tg_schedule_free(sc);
  }
  free(first_src);
}

TEST(symbolic_elementwise_output_and_errors) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  tg_tensor *a = TEST_F32(data, 6, 1);
  tg_variable *v = tg_variable_new("m", 0, 6);
  CHECK_EQ_INT(tg_variable_bind(v, 4), 0);
  tg_tensor *s = test_sym_rows(a, v, 1);
  /* elementwise over a symbolic size, then reduced: 2 * (1 + 2 + 3 + 4) */
  tg_tensor *d = tg_mul_s(s, 2);
  CHECK_TENSOR0(tg_sum(d, 0, NULL, 0), 20, 1e-6);
  /* a reshape that only drops or adds axes of 1 keeps it; one that merges sizes is refused */
  int64_t r1[1] = {tg_shape(s)[0]}, r2[2] = {2, 2};
  CHECK_NOT_NULL(tg_reshape(s, 1, r1));
  CHECK(tg_reshape(s, 2, r2) == NULL);
  CHECK(strstr(tg_error(), "symbolic") != NULL);
  tg_clear_error();
  /* bind errors; an unbound variable; bounds that do not fit */
  CHECK_EQ_INT(tg_variable_bind(v, 7), -1);
  CHECK(strstr(tg_error(), "outside the bounds") != NULL);
  CHECK(tg_variable_new("bad", 5, 2) == NULL);
  tg_variable *u = tg_variable_new("unbound", 0, 3);
  CHECK_EQ_INT((int)tg_variable_value(u), -1);
  tg_sint b[4] = {{NULL, 0}, {u, 0}, {NULL, 0}, {NULL, 1}};
  CHECK(tg_shrink_sym(a, 2, b) == NULL);
  CHECK(strstr(tg_error(), "not bound") != NULL);
  tg_variable *big = tg_variable_new("big", 0, 9);
  CHECK_EQ_INT(tg_variable_bind(big, 2), 0);
  tg_sint b2[4] = {{NULL, 0}, {big, 0}, {NULL, 0}, {NULL, 1}};
  CHECK(tg_shrink_sym(a, 2, b2) == NULL); /* 9 > 6 rows */
  tg_clear_error();
  /* a symbolic shape is not read to the host; its numel is -1 */
  float host[6];
  CHECK_EQ_INT((int)tg_numel(s), -1);
  CHECK_EQ_INT(tg_to_host(s, host, sizeof host), -1);
  CHECK(strstr(tg_error(), "symbolic") != NULL);
  CHECK(tg_to_float(s) == NULL);
  tg_clear_error();
  /* the variable as a value */
  CHECK_TENSOR0(tg_add_s(tg_cast(tg_variable_tensor(v), TG_FLOAT32), 0.5), 4.5, 0);
}

/* an output axis of symbolic size loops to its maximum with its stores gated; the CPU's loop stops where the gate
 * closes for good (render.c's early exit: a KV cache's scores cost the positions filled), with the same values. A
 * tg_contiguous of it is recomputed for each value (its node, BINDs stripped, keeps no buffer: it did, and every
 * value after the first read the first one's rows) */
TEST(symbolic_output_loop_stops_early) {
  float a[64 * 8], b[8 * 4];
  for (int i = 0; i < 64 * 8; i++) a[i] = (float)((i * 5) % 13) - 6.0f;
  for (int i = 0; i < 32; i++) b[i] = (float)(i % 5) - 2.0f;
  tg_tensor *at = TEST_F32(a, 64, 8), *bt = TEST_F32(b, 8, 4);
  tg_variable *v = tg_variable_new("rows", 1, 64);
  for (int n = 3; n <= 64; n += 47) {
    CHECK_EQ_INT(tg_variable_bind(v, n), 0);
    tg_tensor *y = tg_contiguous(tg_matmul(test_sym_rows(at, v, 8), bt)); /* (rows, 4) */
    tg_schedule *sc = tg_schedule_create(&y, 1);
    CHECK(sc && tg_schedule_count(sc) == 1);
    if (sc && test_on_cpu()) CHECK(strstr(tg_schedule_source(sc, 0), "break;") != NULL); /* a GPU's are threads */
    tg_schedule_free(sc);
    float got[4], want[4] = {0, 0, 0, 0};
    for (int r = 0; r < n; r++)
      for (int c = 0; c < 4; c++)
        for (int k = 0; k < 8; k++) want[c] += a[r * 8 + k] * b[k * 4 + c];
    int ax = 0;
    CHECK_EQ_INT(tg_to_host(tg_sum(y, 1, &ax, 0), got, sizeof got), 0);
    CHECK_ARR_NEAR(got, want, 4, 1e-4);
  }
}

TEST(symbolic_assign_into_a_variable_slice) {
  float zeros[5 * 2] = {0};
  tg_tensor *cache = TEST_F32(zeros, 5, 2);
  tg_variable *p = tg_variable_new("p", 0, 4);
  for (int pos = 0; pos < 5; pos++) {
    CHECK_EQ_INT(tg_variable_bind(p, pos), 0);
    float row[2] = {(float)pos + 1, (float)(10 * pos)};
    tg_sint b[4] = {{p, 0}, {p, 1}, {NULL, 0}, {NULL, 2}};
    tg_tensor *slot = tg_shrink_sym(cache, 2, b);
    CHECK_NOT_NULL(slot);
    CHECK_EQ_INT((int)tg_shape(slot)[0], 1); /* (p + 1) - p */
    CHECK_NOT_NULL(tg_assign(slot, TEST_F32(row, 1, 2)));
    CHECK_EQ_INT(tg_realize(slot), 0);
  }
  const float want[10] = {1, 0, 2, 10, 3, 20, 4, 30, 5, 40};
  CHECK_TENSOR(cache, want, 0, 5, 2);
}

/* A decode step: the key at position pos goes into the cache, and the query attends to keys 0..pos */
typedef struct test_sym_ctx { tg_tensor *kc, *vc; tg_variable *pos; int calls; } test_sym_ctx;

static int test_sym_step(void *vctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  test_sym_ctx *c = (test_sym_ctx *)vctx;
  (void)n_in, (void)n_out;
  c->calls++;
  tg_sint at[4] = {{c->pos, 0}, {c->pos, 1}, {NULL, 0}, {NULL, 4}};
  tg_tensor *ks = tg_shrink_sym(c->kc, 2, at), *vs = tg_shrink_sym(c->vc, 2, at);
  if (!tg_assign(ks, in[1]) || !tg_assign(vs, in[2]) || tg_realize(ks) < 0 || tg_realize(vs) < 0) return -1;
  tg_sint upto[4] = {{NULL, 0}, {c->pos, 1}, {NULL, 0}, {NULL, 4}};
  tg_tensor *k = tg_shrink_sym(c->kc, 2, upto), *v = tg_shrink_sym(c->vc, 2, upto); /* (pos+1, 4) */
  tg_tensor *scores = tg_mul_s(tg_matmul(in[0], tg_transpose(k, 0, 1)), 0.5);  /* (1, pos+1) */
  out[0] = tg_matmul(tg_softmax(scores, -1), v);                                 /* (1, 4) */
  return tg_realize(out[0]);
}

TEST(symbolic_jit_decode_replays_every_position) {
  enum { CTX = 6 };
  float zeros[CTX * 4] = {0}, K[CTX][4], V[CTX][4], Q[CTX][4];
  for (int t = 0; t < CTX; t++)
    for (int j = 0; j < 4; j++)
      K[t][j] = sinf((float)(t * 4 + j)), V[t][j] = cosf((float)(3 * t + j)), Q[t][j] = 0.3f * (float)(t - j);
  test_sym_ctx c = {TEST_F32(zeros, CTX, 4), TEST_F32(zeros, CTX, 4), tg_variable_new("start_pos", 0, CTX - 1), 0};
  tg_jit *j = tg_jit_new(test_sym_step, &c);
  for (int t = 0; t < CTX; t++) {
    CHECK_EQ_INT(tg_variable_bind(c.pos, t), 0);
    tg_tensor *in[3] = {TEST_F32(Q[t], 1, 4), TEST_F32(K[t], 1, 4), TEST_F32(V[t], 1, 4)}, *o = NULL;
    CHECK_EQ_INT(tg_jit_run(j, in, 3, &o, 1), 0);
    /* scalar attention over keys 0..t */
    double w[CTX], m = -1e30, z = 0, want[4] = {0};
    for (int s = 0; s <= t; s++) {
      w[s] = 0;
      for (int d = 0; d < 4; d++) w[s] += 0.5 * Q[t][d] * K[s][d];
      m = fmax(m, w[s]);
    }
    for (int s = 0; s <= t; s++) z += (w[s] = exp(w[s] - m));
    for (int s = 0; s <= t; s++)
      for (int d = 0; d < 4; d++) want[d] += w[s] / z * V[s][d];
    float got[4], wf[4] = {(float)want[0], (float)want[1], (float)want[2], (float)want[3]};
    CHECK_EQ_INT(tg_to_host(o, got, sizeof got), 0);
    CHECK_ARR_NEAR(got, wf, 4, 1e-5);
    for (int i = 0; i < 3; i++) tg_free(in[i]);
    tg_free(o);
  }
  CHECK_EQ_INT(c.calls, 2); /* captured once; replays for positions 2..5 */
  CHECK(tg_jit_kernels(j) > 0);
  float kc[CTX * 4];
  CHECK_EQ_INT(tg_to_host(c.kc, kc, sizeof kc), 0); /* the cache holds every key */
  CHECK_ARR_NEAR(kc, &K[0][0], CTX * 4, 0);
  tg_jit_free(j);
  tg_free(c.kc);
  tg_free(c.vc);
}

/* A product over a reduction of symbolic size (attention's probabilities by a KV cache's values: (16, n) by (n, 64))
 * tiles its output loops, which have constant sizes: on the CPU the kernel's name shows the upcast axes after the
 * symbolic one (r_..._S_4_16, not r_16_64_S). Right for several n with one kernel. */
TEST(symbolic_reduction_tiles_its_output_loops) {
  float p[16 * 40], v[40 * 64];
  for (int i = 0; i < 16 * 40; i++) p[i] = (float)((i * 5) % 13) / 13.0f - 0.4f;
  for (int i = 0; i < 40 * 64; i++) v[i] = (float)((i * 3) % 17) / 17.0f - 0.5f;
  tg_tensor *pt = TEST_F32(p, 16, 40), *vt = TEST_F32(v, 40, 64);
  tg_variable *n = tg_variable_new("filled", 1, 40);
  char *first = NULL;
  for (int k = 5; k <= 40; k += 14) {
    CHECK_EQ_INT(tg_variable_bind(n, k), 0);
    tg_sint cols[4] = {{NULL, 0}, {NULL, 16}, {NULL, 0}, {n, 0}};
    tg_tensor *o = tg_matmul(tg_shrink_sym(pt, 2, cols), test_sym_rows(vt, n, 64));
    tg_schedule *sc = tg_schedule_create(&o, 1);
    CHECK(sc && tg_schedule_count(sc) == 1);
    if (sc && tg_schedule_count(sc) == 1) {
      const char *name = tg_schedule_name(sc, 0);
      const char *src = tg_schedule_source(sc, 0);
      if (!first) {
        first = (char *)malloc(strlen(src) + 1);
        memcpy(first, src, strlen(src) + 1);
      }
      else CHECK(strcmp(first, src) == 0);
      if (test_on_cpu()) CHECK(strstr(name, "_S_") != NULL);
    }
    tg_schedule_free(sc);
    float got[16 * 64], want[16 * 64];
    for (int r = 0; r < 16; r++)
      for (int c = 0; c < 64; c++) {
        double acc = 0;
        for (int s = 0; s < k; s++) acc += (double)p[r * 40 + s] * v[s * 64 + c];
        want[r * 64 + c] = (float)acc;
      }
    CHECK_EQ_INT(tg_to_host(o, got, sizeof got), 0);
    CHECK_ARR_NEAR(got, want, 16 * 64, 1e-5);
  }
  free(first);
}

/* A token's attention by a KV cache's values: probabilities (kv heads, group, n) by values (n positions, kv heads,
 * 16) permuted to (kv, n, 16). The kernel tiles its outputs past the symbolic loop (its name goes on after the _S);
 * right for several n. (When the outputs merge into one loop, as in SmolLM2's decode, the vector rule's estimate
 * takes over: test_internal_opts_lanes_contiguous.) */
TEST(symbolic_attention_values_tiled) {
  enum { KV = 2, G = 3, HD = 16, S = 24 };
  float p[KV * G * S], v[S * KV * HD];
  for (int i = 0; i < KV * G * S; i++) p[i] = (float)((i * 7) % 19) / 19.0f;
  for (int i = 0; i < S * KV * HD; i++) v[i] = (float)((i * 5) % 23) / 23.0f - 0.5f;
  tg_tensor *pt = TEST_F32(p, KV, G, S), *vt = TEST_F32(v, S, KV, HD);
  tg_variable *n = tg_variable_new("cached", 1, S);
  for (int k = 3; k <= S; k += 7) {
    CHECK_EQ_INT(tg_variable_bind(n, k), 0);
    tg_sint pb[6] = {{NULL, 0}, {NULL, KV}, {NULL, 0}, {NULL, G}, {NULL, 0}, {n, 0}};
    tg_sint vb[6] = {{NULL, 0}, {n, 0}, {NULL, 0}, {NULL, KV}, {NULL, 0}, {NULL, HD}};
    int perm[3] = {1, 0, 2};
    tg_tensor *o = tg_matmul(tg_shrink_sym(pt, 3, pb), tg_permute(tg_shrink_sym(vt, 3, vb), 3, perm));
    tg_schedule *sc = tg_schedule_create(&o, 1);
    CHECK(sc && tg_schedule_count(sc) == 1);
    if (sc && tg_schedule_count(sc) == 1 && test_on_cpu()) {
      CHECK(strstr(tg_schedule_name(sc, 0), "_S_") != NULL);
    }
    tg_schedule_free(sc);
    float got[KV * G * HD], want[KV * G * HD];
    for (int h = 0; h < KV; h++)
      for (int g = 0; g < G; g++)
        for (int d = 0; d < HD; d++) {
          double acc = 0;
          for (int s = 0; s < k; s++) acc += (double)p[(h * G + g) * S + s] * v[(s * KV + h) * HD + d];
          want[(h * G + g) * HD + d] = (float)acc;
        }
    CHECK_EQ_INT(tg_to_host(o, got, sizeof got), 0);
    CHECK_ARR_NEAR(got, want, KV * G * HD, 1e-5);
  }
}
