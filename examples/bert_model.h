/* bert_model.h: BERT's encoder (Hugging Face's BertModel) on a safetensors file's weights, and sentence embeddings
 * as sentence-transformers computes them (all-MiniLM-L6-v2: mean pooling over the attention mask, then L2
 * normalisation), built from tinygrad.h's tensor ops.
 *
 * Contract:
 *  - bert_load(m, path) loads the safetensors file at path (the tensors named as BertModel's state dict, with or
 *    without a "bert." prefix) and the config.json beside it (the same directory), whose hidden_size,
 *    num_hidden_layers, intermediate_size, vocab_size and max_position_embeddings must agree with the weights'
 *    shapes; num_attention_heads and layer_norm_eps come from it alone, and hidden_act must be "gelu" (the erf
 *    form). 0, or -1 with bert_error() naming what is missing or wrong; the model owns its weights until
 *    bert_free.
 *  - bert_forward(m, ids, mask, B, T): the last hidden state (B, T, dim) of B sequences of T token ids (row-major,
 *    ids[b * T + t]); mask (B * T values, 1 for a token, 0 for padding; NULL: all tokens) hides padding keys from
 *    attention. Word + position (0..T-1) + token type 0 embeddings and a LayerNorm, then per layer (post-norm):
 *    self-attention -> dense -> residual -> LayerNorm -> dense -> GELU 0.5 x (1 + erf(x / sqrt 2)) -> dense ->
 *    residual -> LayerNorm. Lazy, like every op: NULL (and bert_error()) for ids outside the vocabulary, T
 *    past the positions, or a row whose mask is all 0.
 *  - bert_embed(m, ids, mask, B, T): (B, dim) sentence embeddings: the mean of the hidden states over the mask, each
 *    divided by its L2 norm (at least 1e-12, as torch's F.normalize).
 *  - Both free their intermediate handles: the result is the one new handle (in the caller's scope, if any).
 *  - Nothing prints or aborts: bert_error() is the last failure's message (the library's tg_error() included). */
#ifndef BERT_MODEL_H
#define BERT_MODEL_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinygrad.h"

typedef struct bert_layer {
  tg_tensor *wq, *bq, *wk, *bk, *wv, *bv; /* (dim, dim), (dim) */
  tg_tensor *wo, *bo, *ln1_w, *ln1_b;     /* attention output dense (dim, dim), its LayerNorm (dim) */
  tg_tensor *w1, *b1, *w2, *b2;           /* intermediate (ffn, dim), (ffn); output (dim, ffn), (dim) */
  tg_tensor *ln2_w, *ln2_b;               /* (dim) */
} bert_layer;

typedef struct bert_model {
  int n_layer, n_head, dim, head_dim, ffn;
  int64_t vocab, max_pos;
  double eps;
  tg_state_dict *sd;            /* the file's tensors (owned) */
  tg_tensor *word, *pos, *type; /* (vocab, dim), (max_pos, dim), (type_vocab, dim) */
  tg_tensor *ln_w, *ln_b;       /* the embeddings' LayerNorm (dim) */
  bert_layer *layer;            /* n_layer of them */
} bert_model;

/* the last failure's message, or NULL if none yet (one buffer per program: not for several threads at once) */
static char bert__message[512];
static const char *bert_error(void) { return bert__message[0] ? bert__message : NULL; }

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2)))
#endif
static void bert__fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(bert__message, sizeof bert__message, fmt, ap);
  va_end(ap);
}

// ---------------------------------------------------------------------------------------------------------------------
// config.json: a flat JSON object; only top-level numbers and one string are read

/* the text after "key": in json, or NULL */
static const char *bert__json_value(const char *json, const char *key) {
  size_t n = strlen(key);
  for (const char *p = strchr(json, '"'); p; p = strchr(p + 1, '"')) {
    if (strncmp(p + 1, key, n) != 0 || p[n + 1] != '"') continue;
    const char *q = p + n + 2;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    if (*q != ':') continue;
    q++;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    return q;
  }
  return NULL;
}

/* the length of the value at p (a string with its quotes, else up to a comma, brace or line end), at most 40 */
static int bert__json_len(const char *p) {
  if (!p) return 0;
  size_t n = *p == '"' ? strcspn(p + 1, "\"\n") + 2 : strcspn(p, ",}\n");
  return n > 40 ? 40 : (int)n;
}

static int bert__json_number(const char *json, const char *key, double *v) {
  const char *p = bert__json_value(json, key);
  char *end;
  if (!p) return -1;
  *v = strtod(p, &end);
  return end == p ? -1 : 0;
}

static char *bert__read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0, got;
  char *s = (char *)malloc(cap + 1);
  while (s && (got = fread(s + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *t = (char *)realloc(s, 2 * cap + 1);
      if (!t) free(s);
      s = t, cap *= 2;
    }
  }
  fclose(f);
  if (s) s[n] = 0;
  return s;
}

// ---------------------------------------------------------------------------------------------------------------------
// loading

static void bert_free(bert_model *m) {
  tg_state_dict_free(m->sd);
  free(m->layer);
  memset(m, 0, sizeof *m);
}

/* the tensor name, or bert.name (a BertFor... checkpoint's), or NULL */
static tg_tensor *bert__find(const bert_model *m, const char *name) {
  char k[192]; /* "bert." and a name of up to 159 characters (the callers' buffers) */
  tg_tensor *t = tg_state_dict_get(m->sd, name);
  snprintf(k, sizeof k, "bert.%s", name);
  return t ? t : tg_state_dict_get(m->sd, k);
}

/* the float32 tensor name of shape (d0) (d1 < 0) or (d0, d1); otherwise NULL, a message and *bad set (one message:
 * none once *bad is set) */
static tg_tensor *bert__get(const bert_model *m, const char *name, int64_t d0, int64_t d1, int *bad) {
  tg_tensor *t = bert__find(m, name);
  int ndim = d1 < 0 ? 1 : 2;
  if (t && tg_dtype_of(t) == TG_FLOAT32 && tg_ndim(t) == ndim && tg_shape(t)[0] == d0 &&
      (ndim == 1 || tg_shape(t)[1] == d1))
    return t;
  if (!*bad) {
    char want[64];
    if (ndim == 1)
      snprintf(want, sizeof want, "(%lld)", (long long)d0);
    else
      snprintf(want, sizeof want, "(%lld, %lld)", (long long)d0, (long long)d1);
    if (!t)
      bert__fail("bert_load: the file has no tensor %s", name);
    else
      bert__fail("bert_load: %s is %s of %d dimensions, not float32 %s", name, tg_dtype_name(tg_dtype_of(t)),
                 tg_ndim(t), want);
  }
  *bad = 1;
  return NULL;
}

/* the sizes of a 2-d tensor name: 0, or -1 when it is absent or not 2-d */
static int bert__size2(const bert_model *m, const char *name, int64_t *d0, int64_t *d1) {
  tg_tensor *t = bert__find(m, name);
  if (!t || tg_ndim(t) != 2) return -1;
  *d0 = tg_shape(t)[0], *d1 = tg_shape(t)[1];
  return 0;
}

/* the config's positive integer key into *v, which must equal want when want >= 0: 0, or -1 with a message */
static int bert__config_int(const char *json, const char *key, int64_t want, int64_t *v) {
  double d;
  if (bert__json_number(json, key, &d) != 0 || d != floor(d) || d < 1 || d > 1e9) {
    bert__fail("bert_load: config.json has no positive integer %s", key);
    return -1;
  }
  *v = (int64_t)d;
  if (want >= 0 && *v != want) {
    bert__fail("bert_load: config.json says %s %lld, the weights %lld", key, (long long)*v, (long long)want);
    return -1;
  }
  return 0;
}

/* config.json beside path: malloc'd text, or NULL with a message */
static char *bert__read_config(const char *path) {
  size_t n = strlen(path);
  const char *slash = strrchr(path, '/');
  char *cfg_path = (char *)malloc(n + 16), *cfg = NULL;
  if (!cfg_path) return NULL;
  if (slash)
    snprintf(cfg_path, n + 16, "%.*sconfig.json", (int)(slash - path + 1), path);
  else
    snprintf(cfg_path, n + 16, "config.json");
  cfg = bert__read_text(cfg_path);
  if (!cfg) bert__fail("bert_load: cannot read %s; HINT: BERT's config.json must lie beside the weights", cfg_path);
  free(cfg_path);
  return cfg;
}

static int bert_load(bert_model *m, const char *path) {
  memset(m, 0, sizeof *m);
  char *cfg = bert__read_config(path);
  if (!cfg) return -1;
  m->sd = tg_safetensors_load(path);
  if (!m->sd) {
    bert__fail("bert_load: %s", tg_error() ? tg_error() : path);
    free(cfg);
    return -1;
  }
  /* the sizes from the shapes, which the config must repeat */
  int64_t vocab = -1, dim = -1, ffn = -1, max_pos = -1, types = -1, x, nl = 0, nh = 0, v;
  double eps = 0;
  int bad = bert__size2(m, "embeddings.word_embeddings.weight", &vocab, &dim) != 0 ||
            bert__size2(m, "embeddings.position_embeddings.weight", &max_pos, &x) != 0 ||
            bert__size2(m, "embeddings.token_type_embeddings.weight", &types, &x) != 0 ||
            bert__size2(m, "encoder.layer.0.intermediate.dense.weight", &ffn, &x) != 0;
  char k[160];
  for (;; nl++) {
    snprintf(k, sizeof k, "encoder.layer.%lld.attention.self.query.weight", (long long)nl);
    if (!bert__find(m, k)) break;
  }
  const char *act = bert__json_value(cfg, "hidden_act"), *pet = bert__json_value(cfg, "position_embedding_type");
  if (bad || nl == 0) {
    bert__fail("bert_load: %s lacks BERT's embeddings (word, position, token type) or first layer", path);
    bad = 1;
  } else if (bert__config_int(cfg, "vocab_size", vocab, &v) || bert__config_int(cfg, "hidden_size", dim, &v) ||
             bert__config_int(cfg, "intermediate_size", ffn, &v) ||
             bert__config_int(cfg, "max_position_embeddings", max_pos, &v) ||
             bert__config_int(cfg, "num_hidden_layers", nl, &v) ||
             bert__config_int(cfg, "num_attention_heads", -1, &nh)) {
    bad = 1;
  } else if (dim % nh != 0) {
    bert__fail("bert_load: hidden_size %lld is not a multiple of num_attention_heads %lld", (long long)dim,
               (long long)nh);
    bad = 1;
  } else if (bert__json_number(cfg, "layer_norm_eps", &eps) != 0 || !(eps > 0)) {
    bert__fail("bert_load: config.json has no positive layer_norm_eps");
    bad = 1;
  } else if (!act || strncmp(act, "\"gelu\"", 6) != 0) {
    bert__fail("bert_load: hidden_act must be \"gelu\" (the erf form); config.json says %.*s", bert__json_len(act),
               act ? act : "");
    bad = 1;
  } else if (pet && strncmp(pet, "\"absolute\"", 10) != 0) {
    bert__fail("bert_load: position_embedding_type must be \"absolute\"; config.json says %.*s", bert__json_len(pet),
               pet);
    bad = 1;
  }
  free(cfg);
  if (!bad) {
    m->n_layer = (int)nl, m->n_head = (int)nh, m->dim = (int)dim, m->head_dim = (int)(dim / nh), m->ffn = (int)ffn;
    m->vocab = vocab, m->max_pos = max_pos, m->eps = eps;
    m->word = bert__get(m, "embeddings.word_embeddings.weight", vocab, dim, &bad);
    m->pos = bert__get(m, "embeddings.position_embeddings.weight", max_pos, dim, &bad);
    m->type = bert__get(m, "embeddings.token_type_embeddings.weight", types, dim, &bad);
    m->ln_w = bert__get(m, "embeddings.LayerNorm.weight", dim, -1, &bad);
    m->ln_b = bert__get(m, "embeddings.LayerNorm.bias", dim, -1, &bad);
    m->layer = (bert_layer *)calloc((size_t)nl, sizeof(bert_layer));
    if (!m->layer) bad = 1;
  }
  /* each layer's tensors and their shapes: (d0) when d1 < 0, else (d0, d1) */
  static const char *const names[16] = {
      "attention.self.query.weight",     "attention.self.query.bias",   "attention.self.key.weight",
      "attention.self.key.bias",         "attention.self.value.weight", "attention.self.value.bias",
      "attention.output.dense.weight",   "attention.output.dense.bias", "attention.output.LayerNorm.weight",
      "attention.output.LayerNorm.bias", "intermediate.dense.weight",   "intermediate.dense.bias",
      "output.dense.weight",             "output.dense.bias",           "output.LayerNorm.weight",
      "output.LayerNorm.bias"};
  const int64_t d0[16] = {dim, dim, dim, dim, dim, dim, dim, dim, dim, dim, ffn, ffn, dim, dim, dim, dim};
  const int64_t d1[16] = {dim, -1, dim, -1, dim, -1, dim, -1, -1, -1, dim, -1, ffn, -1, -1, -1};
  for (int l = 0; !bad && l < m->n_layer; l++) {
    bert_layer *L = &m->layer[l];
    tg_tensor **slot[16] = {&L->wq,    &L->bq,    &L->wk, &L->bk, &L->wv, &L->bv, &L->wo,    &L->bo,
                            &L->ln1_w, &L->ln1_b, &L->w1, &L->b1, &L->w2, &L->b2, &L->ln2_w, &L->ln2_b};
    for (int i = 0; i < 16; i++) {
      snprintf(k, sizeof k, "encoder.layer.%d.%s", l, names[i]);
      *slot[i] = bert__get(m, k, d0[i], d1[i], &bad);
    }
  }
  if (bad) {
    bert_free(m);
    return -1;
  }
  tg_clear_error(); /* the names looked up without and with "bert." */
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the forward

/* LayerNorm over the last axis, with its weight and bias */
static tg_tensor *bert__layernorm(tg_tensor *x, tg_tensor *w, tg_tensor *b, double eps) {
  return tg_add(tg_mul(tg_layernorm(x, -1, eps), w), b);
}

/* GELU, the exact form: 0.5 x (1 + erf(x / sqrt 2)) */
static tg_tensor *bert__gelu(tg_tensor *x) {
  return tg_mul(tg_mul_s(x, 0.5), tg_add_s(tg_erf(tg_mul_s(x, 0.70710678118654752440)), 1));
}

/* (B, T, dim) -> (B, heads, T, head_dim) */
static tg_tensor *bert__heads(tg_tensor *x, int64_t B, int64_t T, int heads, int hd) {
  int64_t s[4] = {B, T, heads, hd};
  int order[4] = {0, 2, 1, 3};
  return tg_permute(tg_reshape(x, 4, s), 4, order);
}

/* ids and mask checked: 0, or -1 with a message */
static int bert__check(const bert_model *m, const int32_t *ids, const int32_t *mask, int64_t B, int64_t T) {
  if (!m->layer || B < 1 || T < 1 || T > m->max_pos) {
    bert__fail("bert_forward: B = %lld sequences of T = %lld tokens: need B >= 1 and 1 <= T <= %lld", (long long)B,
               (long long)T, (long long)m->max_pos);
    return -1;
  }
  for (int64_t i = 0; i < B * T; i++)
    if (ids[i] < 0 || ids[i] >= m->vocab) {
      bert__fail("bert_forward: token id %d (at %lld) is outside the vocabulary of %lld", (int)ids[i], (long long)i,
                 (long long)m->vocab);
      return -1;
    }
  for (int64_t b = 0; mask && b < B; b++) {
    int64_t n = 0;
    for (int64_t t = 0; t < T; t++) n += mask[b * T + t] != 0;
    if (n == 0) {
      bert__fail("bert_forward: the mask of sequence %lld hides every token", (long long)b);
      return -1;
    }
  }
  return 0;
}

static tg_tensor *bert_forward(const bert_model *m, const int32_t *ids, const int32_t *mask, int64_t B, int64_t T) {
  if (bert__check(m, ids, mask, B, T) != 0) return NULL;
  int H = m->n_head, HD = m->head_dim;
  int64_t bt[2] = {B, T}, keys[4] = {B, 1, 1, T}, dims[3] = {B, T, m->dim}, pos[4] = {0, T, 0, m->dim};
  int back[4] = {0, 2, 1, 3};
  tg_scope_begin();
  tg_tensor *x = tg_index(m->word, 0, tg_from_data(ids, TG_INT32, 2, bt)); /* (B, T, dim) */
  x = tg_add(tg_add(x, tg_shrink(m->pos, 2, pos)), tg_select(m->type, 0, 0));
  x = bert__layernorm(x, m->ln_w, m->ln_b, m->eps);
  tg_tensor *keep = mask ? tg_gt_s(tg_from_data(mask, TG_INT32, 4, keys), 0) : NULL; /* (B, 1, 1, T) bool */
  for (int l = 0; l < m->n_layer; l++) {
    const bert_layer *L = &m->layer[l];
    tg_tensor *q = bert__heads(tg_linear(x, L->wq, L->bq), B, T, H, HD);
    tg_tensor *k = bert__heads(tg_linear(x, L->wk, L->bk), B, T, H, HD);
    tg_tensor *v = bert__heads(tg_linear(x, L->wv, L->bv), B, T, H, HD);
    tg_tensor *a = tg_scaled_dot_product_attention(q, k, v, keep, 0); /* (B, H, T, HD) */
    a = tg_reshape(tg_permute(a, 4, back), 3, dims);
    x = bert__layernorm(tg_add(tg_linear(a, L->wo, L->bo), x), L->ln1_w, L->ln1_b, m->eps);
    tg_tensor *h = bert__gelu(tg_linear(x, L->w1, L->b1));
    x = bert__layernorm(tg_add(tg_linear(h, L->w2, L->b2), x), L->ln2_w, L->ln2_b, m->eps);
  }
  tg_keep(x);
  tg_scope_end();
  if (!x) bert__fail("bert_forward: %s", tg_error() ? tg_error() : "failed");
  return x;
}

static tg_tensor *bert_embed(const bert_model *m, const int32_t *ids, const int32_t *mask, int64_t B, int64_t T) {
  tg_tensor *h = bert_forward(m, ids, mask, B, T);
  if (!h) return NULL;
  int64_t s[3] = {B, T, 1};
  int tokens = 1, last = -1;
  tg_scope_begin();
  tg_tensor *w = mask ? tg_cast(tg_gt_s(tg_from_data(mask, TG_INT32, 3, s), 0), TG_FLOAT32) : tg_ones(TG_FLOAT32, 3, s);
  tg_tensor *e = tg_div(tg_sum(tg_mul(h, w), 1, &tokens, 0), tg_maximum_s(tg_sum(w, 1, &tokens, 0), 1e-9));
  e = tg_div(e, tg_maximum_s(tg_sqrt(tg_sum(tg_mul(e, e), 1, &last, 1)), 1e-12)); /* (B, dim) */
  tg_keep(e);
  tg_scope_end();
  tg_free(h);
  if (!e) bert__fail("bert_embed: %s", tg_error() ? tg_error() : "failed");
  return e;
}

#endif
