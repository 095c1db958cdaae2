/* test_bert.c: BERT and sentence embeddings, examples/bert_model.h.
 *  - A tiny random BERT written as safetensors (with its config.json) by the test: 2 layers, width 32, 4 heads of 8,
 *    intermediate 64, 40 tokens, 16 positions. Two sequences in one padded batch (the second has 3 tokens and 2 of
 *    padding): every hidden state and both embeddings equal a scalar forward written here in double from BERT's
 *    definition (post-norm layers, padding keys masked, GELU's erf form, LayerNorm eps 1e-12, mean pooling over the
 *    mask, L2 normalisation). And the loader's refusals: no config.json, a config that contradicts the weights.
 *  - all-MiniLM-L6-v2 (the files of make llm-files in TG_LLM_DIR, else build/llm, under minilm/): the embeddings of
 *    "A man is eating food." and "A man is eating a piece of bread." (the ids Hugging Face's tokenizers gives,
 *    batched with padding) against a float32 numpy reference (tests/golden/gen_bert.py): the first 8 values of each
 *    within 1e-4, a few hidden states, and their cosine 0.755 (sentence-transformers' figure) within 0.002. Skipped,
 *    with a message, when the files are absent. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "tinygrad.h"
#include "test.h"
#include "examples/bert_model.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

enum { BV = 40, BD = 32, BH = 4, BHD = 8, BF = 64, BL = 2, BP = 16, BB = 2, BT = 5 };

typedef struct bt_w { /* a weight: its name, shape (rows x cols; rows 0 for a vector of cols) and values */
  char name[64];
  int rows, cols;
  double *v;
} bt_w;

static uint32_t bt_rng = 7;
static double bt_rand(void) { /* an exact multiple of 1/64 in [-1, 1) */
  bt_rng = bt_rng * 1664525u + 1013904223u;
  return (double)((int)(bt_rng >> 25) - 64) / 64;
}

/* the tiny model's weights, in the order of bt_find's indices: 5 of the embeddings, then 16 per layer */
static int bt_weights(bt_w *w) {
  static const char *const ln[16] = {
      "attention.self.query.weight",     "attention.self.query.bias",   "attention.self.key.weight",
      "attention.self.key.bias",         "attention.self.value.weight", "attention.self.value.bias",
      "attention.output.dense.weight",   "attention.output.dense.bias", "attention.output.LayerNorm.weight",
      "attention.output.LayerNorm.bias", "intermediate.dense.weight",   "intermediate.dense.bias",
      "output.dense.weight",             "output.dense.bias",           "output.LayerNorm.weight",
      "output.LayerNorm.bias"};
  static const int rows[16] = {BD, 0, BD, 0, BD, 0, BD, 0, 0, 0, BF, 0, BD, 0, 0, 0};
  static const int cols[16] = {BD, BD, BD, BD, BD, BD, BD, BD, BD, BD, BD, BF, BF, BD, BD, BD};
  int n = 0;
  snprintf(w[n].name, sizeof w[n].name, "embeddings.word_embeddings.weight"), w[n].rows = BV, w[n++].cols = BD;
  snprintf(w[n].name, sizeof w[n].name, "embeddings.position_embeddings.weight"), w[n].rows = BP, w[n++].cols = BD;
  snprintf(w[n].name, sizeof w[n].name, "embeddings.token_type_embeddings.weight"), w[n].rows = 2, w[n++].cols = BD;
  snprintf(w[n].name, sizeof w[n].name, "embeddings.LayerNorm.weight"), w[n].rows = 0, w[n++].cols = BD;
  snprintf(w[n].name, sizeof w[n].name, "embeddings.LayerNorm.bias"), w[n].rows = 0, w[n++].cols = BD;
  for (int l = 0; l < BL; l++)
    for (int i = 0; i < 16; i++) {
      snprintf(w[n].name, sizeof w[n].name, "encoder.layer.%d.%s", l, ln[i]);
      w[n].rows = rows[i], w[n++].cols = cols[i];
    }
  for (int i = 0; i < n; i++) {
    int count = (w[i].rows ? w[i].rows : 1) * w[i].cols, norm_weight = strstr(w[i].name, "LayerNorm.weight") != NULL;
    w[i].v = (double *)malloc(sizeof(double) * (size_t)count);
    for (int j = 0; j < count; j++)
      w[i].v[j] = norm_weight ? 1 + bt_rand() / 4 : w[i].rows ? bt_rand() / 2 : bt_rand() / 8;
  }
  return n;
}

static void bt_layernorm(double *x, const double *w, const double *b) { /* in place, over BD */
  double mu = 0, var = 0;
  for (int i = 0; i < BD; i++) mu += x[i] / BD;
  for (int i = 0; i < BD; i++) var += (x[i] - mu) * (x[i] - mu) / BD;
  for (int i = 0; i < BD; i++) x[i] = (x[i] - mu) / sqrt(var + 1e-12) * w[i] + b[i];
}

static void bt_dense(const bt_w *w, const bt_w *b, const double *x, double *out) { /* out = W x + b */
  for (int r = 0; r < w->rows; r++) {
    double s = b->v[r];
    for (int c = 0; c < w->cols; c++) s += w->v[r * w->cols + c] * x[c];
    out[r] = s;
  }
}

/* the scalar forward of one sequence ids[0..T) of which the first n are tokens (the rest padding): the hidden states
 * (T x BD) and the embedding (BD) */
static void bt_reference(const bt_w *w, const int32_t *ids, int T, int n, double *hidden, double *emb) {
  static double x[BT][BD], q[BT][BD], k[BT][BD], v[BT][BD], a[BD], o[BD], h[BF];
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < BD; i++) x[t][i] = w[0].v[ids[t] * BD + i] + w[1].v[t * BD + i] + w[2].v[i];
    bt_layernorm(x[t], w[3].v, w[4].v);
  }
  for (int l = 0; l < BL; l++) {
    const bt_w *L = &w[5 + 16 * l];
    for (int t = 0; t < T; t++)
      bt_dense(&L[0], &L[1], x[t], q[t]), bt_dense(&L[2], &L[3], x[t], k[t]), bt_dense(&L[4], &L[5], x[t], v[t]);
    for (int t = 0; t < T; t++) {
      for (int hh = 0; hh < BH; hh++) { /* softmax over the n tokens' keys */
        double sc[BT], mx = -1e300, sum = 0;
        for (int s = 0; s < n; s++) {
          sc[s] = 0;
          for (int i = 0; i < BHD; i++) sc[s] += q[t][hh * BHD + i] * k[s][hh * BHD + i];
          sc[s] /= sqrt((double)BHD);
          mx = sc[s] > mx ? sc[s] : mx;
        }
        for (int s = 0; s < n; s++) sum += sc[s] = exp(sc[s] - mx);
        for (int i = 0; i < BHD; i++) {
          a[hh * BHD + i] = 0;
          for (int s = 0; s < n; s++) a[hh * BHD + i] += sc[s] / sum * v[s][hh * BHD + i];
        }
      }
      bt_dense(&L[6], &L[7], a, o);
      for (int i = 0; i < BD; i++) o[i] += x[t][i];
      bt_layernorm(o, L[8].v, L[9].v);
      bt_dense(&L[10], &L[11], o, h);
      for (int i = 0; i < BF; i++) h[i] = 0.5 * h[i] * (1 + erf(h[i] / sqrt(2.0)));
      bt_dense(&L[12], &L[13], h, x[t]);
      for (int i = 0; i < BD; i++) x[t][i] += o[i];
      bt_layernorm(x[t], L[14].v, L[15].v);
    }
  }
  double norm = 0;
  for (int i = 0; i < BD; i++) {
    emb[i] = 0;
    for (int t = 0; t < n; t++) emb[i] += x[t][i] / n;
    norm += emb[i] * emb[i];
  }
  for (int i = 0; i < BD; i++) emb[i] /= sqrt(norm);
  for (int t = 0; t < T; t++) memcpy(hidden + t * BD, x[t], sizeof x[t]);
}

static int bt_write(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

static const char *bt_config =
    "{\n  \"architectures\": [\"BertModel\"],\n  \"hidden_act\": \"gelu\",\n  \"hidden_size\": 32,\n"
    "  \"intermediate_size\": 64,\n  \"layer_norm_eps\": 1e-12,\n  \"max_position_embeddings\": 16,\n"
    "  \"model_type\": \"bert\",\n  \"num_attention_heads\": 4,\n  \"num_hidden_layers\": 2,\n"
    "  \"position_embedding_type\": \"absolute\",\n  \"type_vocab_size\": 2,\n  \"vocab_size\": 40\n}\n";

TEST(test_bert_tiny_forward) {
  bt_w w[5 + 16 * BL];
  int nw = bt_weights(w);
  char dir[64], path[128], cfg[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_bert_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  snprintf(cfg, sizeof cfg, "%s/config.json", dir);
  tg_scope_begin();
  /* the file, as torch would save BertModel's state dict (float32) */
  tg_state_dict *sd = tg_state_dict_new();
  for (int i = 0; i < nw; i++) {
    int count = (w[i].rows ? w[i].rows : 1) * w[i].cols;
    float *f = (float *)malloc(sizeof(float) * (size_t)count);
    for (int j = 0; j < count; j++) f[j] = (float)w[i].v[j];
    int64_t shape[2] = {w[i].rows ? w[i].rows : w[i].cols, w[i].cols};
    tg_state_dict_add(sd, w[i].name, tg_from_float(f, w[i].rows ? 2 : 1, shape));
    free(f);
  }
  CHECK(tg_safetensors_save(path, sd) == 0);
  tg_state_dict_free(sd);
  bert_model m;
  CHECK(bert_load(&m, path) == -1 && strstr(bert_error(), "config.json must lie beside")); /* none yet */
  CHECK(bt_write(cfg, "{\"vocab_size\": 40, \"hidden_size\": 48, \"num_attention_heads\": 4}") == 0);
  CHECK(bert_load(&m, path) == -1 && strstr(bert_error(), "hidden_size 48, the weights 32"));
  char relu[1024]; /* the right config, but for its activation */
  memcpy(strstr(strcpy(relu, bt_config), "\"gelu\""), "\"relu\"", 6);
  CHECK(bt_write(cfg, relu) == 0);
  CHECK(bert_load(&m, path) == -1 &&
        strstr(bert_error(), "must be \"gelu\" (the erf form); config.json says \"relu\""));
  CHECK(bt_write(cfg, bt_config) == 0);
  if (CHECK(bert_load(&m, path) == 0)) {
    CHECK(m.n_layer == BL && m.n_head == BH && m.head_dim == BHD && m.dim == BD && m.ffn == BF && m.vocab == BV &&
          m.max_pos == BP && m.eps == 1e-12);
    static const int32_t ids[BB * BT] = {1, 17, 39, 5, 2, /* */ 1, 23, 2, 0, 0};
    static const int32_t mask[BB * BT] = {1, 1, 1, 1, 1, /* */ 1, 1, 1, 0, 0};
    static const int n[BB] = {5, 3};
    double want_h[BB][BT * BD], want_e[BB][BD];
    for (int b = 0; b < BB; b++) bt_reference(w, ids + b * BT, BT, n[b], want_h[b], want_e[b]);
    tg_tensor *h = bert_forward(&m, ids, mask, BB, BT), *e = bert_embed(&m, ids, mask, BB, BT);
    float *got_h = h ? tg_to_float(h) : NULL, *got_e = e ? tg_to_float(e) : NULL;
    if (!got_h || !got_e) printf("bert_forward: %s\n", tg_error());
    if (CHECK(got_h && got_e && tg_ndim(h) == 3 && tg_shape(h)[0] == BB && tg_shape(h)[1] == BT &&
              tg_shape(h)[2] == BD && tg_ndim(e) == 2 && tg_shape(e)[0] == BB && tg_shape(e)[1] == BD)) {
      double err_h = 0, err_e = 0;
      for (int b = 0; b < BB; b++)
        for (int i = 0; i < BT * BD; i++) err_h = fmax(err_h, fabs(got_h[b * BT * BD + i] - want_h[b][i]));
      for (int b = 0; b < BB; b++)
        for (int i = 0; i < BD; i++) err_e = fmax(err_e, fabs(got_e[b * BD + i] - want_e[b][i]));
      if (!CHECK(err_h < 1e-4 && err_e < 1e-5)) printf("max error: hidden %g, embeddings %g\n", err_h, err_e);
    }
    free(got_h);
    free(got_e);
    /* the second sequence alone, without padding or a mask: the same embedding */
    e = bert_embed(&m, ids + BT, NULL, 1, 3);
    got_e = e ? tg_to_float(e) : NULL;
    for (int i = 0; got_e && i < BD; i++) CHECK_NEAR(got_e[i], want_e[1][i], 1e-5);
    CHECK(got_e != NULL);
    free(got_e);
    /* refused: an id outside the vocabulary, more tokens than positions, a sequence all padding */
    static const int32_t far[2] = {1, BV}, zeros[2] = {0, 0};
    int32_t many[BP + 1] = {0};
    CHECK(bert_forward(&m, far, NULL, 1, 2) == NULL && strstr(bert_error(), "token id 40 (at 1) is outside"));
    CHECK(bert_forward(&m, many, NULL, 1, BP + 1) == NULL && strstr(bert_error(), "need B >= 1 and 1 <= T <= 16"));
    CHECK(bert_embed(&m, ids, zeros, 1, 2) == NULL && strstr(bert_error(), "sequence 0 hides every token"));
    bert_free(&m);
  }
  tg_scope_end();
  unlink(path);
  unlink(cfg);
  rmdir(dir);
  for (int i = 0; i < nw; i++) free(w[i].v);
}

static double bt_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* all-MiniLM-L6-v2: the classic pair of sentence-transformers' documentation */
TEST(test_bert_minilm_pair) {
  const char *dir = getenv("TG_LLM_DIR") && getenv("TG_LLM_DIR")[0] ? getenv("TG_LLM_DIR") : "build/llm";
  char path[512];
  snprintf(path, sizeof path, "%s/minilm/model.safetensors", dir);
  if (access(path, R_OK) != 0) {
    printf("test_bert_minilm_pair: needs %s (make llm-files): skipped\n", path);
    return;
  }
  /* tests/golden/gen_bert.py: Hugging Face tokenizers' ids (with [CLS] and [SEP]), the second sentence's padded */
  enum { T = 11 };
  static const int32_t ids[2 * T] = {101, 1037, 2158, 2003, 5983, 2833, 1012, 102,  0,    0,    0,
                                     101, 1037, 2158, 2003, 5983, 1037, 3538, 1997, 7852, 1012, 102};
  static const int32_t mask[2 * T] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, /* */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  static const double want_e[2][8] = {
      {0.03324156627058983, 0.00440606102347374, -0.0062769511714577675, 0.04837869480252266, -0.13870222866535187,
       -0.033617377281188965, 0.10112832486629486, -0.05438496544957161},
      {0.05251842737197876, 0.05524134635925293, -0.011188249103724957, -0.005745454225689173, -0.12720823287963867,
       -0.02225182205438614, 0.0768786296248436, 0.013185183517634869}};
  /* the last hidden state's first 4 values at the first token and at the last one (7 and 10) */
  static const int last[2] = {7, 10};
  static const double want_h[2][2][4] = {
      {{-0.0025503672659397125, 0.11769746243953705, 0.00373789481818676, 0.2447081059217453},
       {0.21422475576400757, 0.03076425939798355, -0.07353680580854416, 0.2985071539878845}},
      {{0.14101041853427887, 0.30365264415740967, 0.010243265889585018, -0.1387428492307663},
       {0.28744029998779297, 0.13914477825164795, -0.06848697364330292, 0.08065415173768997}}};
  /* the library's tokenizer.json reader gives the same ids */
  char tpath[512];
  snprintf(tpath, sizeof tpath, "%s/minilm/tokenizer.json", dir);
  tg_tokenizer *tok = tg_tokenizer_from_json(tpath);
  CHECK_NOT_NULL(tok);
  const char *pair[2] = {"A man is eating food.", "A man is eating a piece of bread."};
  for (int s = 0; tok && s < 2; s++) {
    int32_t got[32];
    int64_t n = tg_tokenizer_encode(tok, pair[s], -1, TG_TOKENIZE_ADD_SPECIAL, got, 32);
    CHECK_EQ_INT(n, s ? 11 : 8);
    for (int i = 0; i < n && i < T; i++) CHECK_EQ_INT(got[i], ids[s * T + i]);
  }
  tg_tokenizer_free(tok);
  tg_scope_begin();
  bert_model m;
  if (!CHECK(bert_load(&m, path) == 0)) {
    tg_scope_end();
    return;
  }
  CHECK(m.n_layer == 6 && m.n_head == 12 && m.dim == 384 && m.ffn == 1536 && m.vocab == 30522 && m.eps == 1e-12);
  double t0 = bt_now();
  tg_tensor *e = bert_embed(&m, ids, mask, 2, T);
  float *x = e ? tg_to_float(e) : NULL;
  double t1 = bt_now();
  if (CHECK(x != NULL)) {
    double cosine = 0, err = 0;
    for (int i = 0; i < 384; i++) cosine += (double)x[i] * x[384 + i];
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < 8; i++) err = fmax(err, fabs(x[b * 384 + i] - want_e[b][i]));
    if (!CHECK(err <= 1e-4)) printf("test_bert_minilm_pair: embeddings %g from numpy's\n", err);
    CHECK(fabs(cosine - 0.755) <= 0.002);
    CHECK_NEAR(cosine, 0.755336975791868, 1e-5); /* numpy's */
    printf("test_bert_minilm_pair: cosine %.6f, first values within %.2g of numpy; embeddings of 2x%d tokens in %.3f s"
           " (first call: compiles what the disk cache lacks)\n",
           cosine, err, T, t1 - t0);
  }
  free(x);
  tg_tensor *h = bert_forward(&m, ids, mask, 2, T);
  x = h ? tg_to_float(h) : NULL;
  double t2 = bt_now();
  if (CHECK(x != NULL)) {
    double err = 0;
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < 4; i++) {
        err = fmax(err, fabs(x[(b * T) * 384 + i] - want_h[b][0][i]));
        err = fmax(err, fabs(x[(b * T + last[b]) * 384 + i] - want_h[b][1][i]));
      }
    if (!CHECK(err <= 1e-4)) printf("test_bert_minilm_pair: hidden states %g from numpy's\n", err);
    printf("test_bert_minilm_pair: the forward alone, after: %.3f s\n", t2 - t1);
  }
  free(x);
  bert_free(&m);
  tg_scope_end();
}
