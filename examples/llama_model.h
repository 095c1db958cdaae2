/* llama_model.h: the llama-architecture language model (SmolLM2, Llama 3.2, Qwen's layout) on a GGUF file's weights,
 * built from tinygrad.h's tensor ops, as tinygrad's examples/llama3.py: the forward of a whole sequence (no KV cache
 * yet: that comes with symbolic shapes).
 *
 * Contract:
 *  - llama_load reads the hyper-parameters of general.architecture's prefix (block_count, embedding_length,
 *    attention.head_count and head_count_kv, attention.layer_norm_rms_epsilon, rope.freq_base) and borrows the
 *    file's tensors (token_embd, output_norm, output when the embedding is not tied, and each block's attn_norm,
 *    attn_q/k/v/output, ffn_norm, ffn_gate/up/down): 0, or -1 with an error naming what is missing. The GGUF must
 *    outlive the model.
 *  - llama_forward(m, ids, n, last) gives the logits (last, vocab) of the last `last` positions of the sequence
 *    ids[0..n): embedding; per block RMSNorm, attention (RoPE on adjacent pairs of each head, as llama.cpp's
 *    "normal" rope, which the GGUF converter's permutation of q and k expects; grouped-query heads; causal),
 *    residual, RMSNorm, SwiGLU, residual; a last RMSNorm and the output (the embedding when tied). Quantised
 *    weights stay quantised: each matmul reads their blocks. */
#ifndef LLAMA_MODEL_H
#define LLAMA_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinygrad.h"

typedef struct llama_block {
  tg_tensor *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *gate, *up, *down;
} llama_block;

typedef struct llama_model {
  int n_layer, n_head, n_kv, dim, head_dim;
  double eps, rope_base;
  int64_t vocab;
  tg_tensor *embd, *out_norm, *out;
  llama_block *blk;
} llama_model;

static int llama__int(const tg_gguf *g, const char *arch, const char *key, int64_t *v) {
  char k[128];
  snprintf(k, sizeof k, "%s.%s", arch, key);
  return tg_gguf_kv_int(g, tg_gguf_kv_find(g, k), 0, v);
}

static tg_tensor *llama__get(const tg_gguf *g, const char *name, int *missing) {
  tg_tensor *t = tg_state_dict_get(tg_gguf_tensors(g), name);
  if (!t && !*missing) {
    fprintf(stderr, "llama_load: the file has no tensor %s\n", name);
    *missing = 1;
  }
  return t;
}

static int llama_load(llama_model *m, const tg_gguf *g) {
  memset(m, 0, sizeof *m);
  const char *arch = tg_gguf_kv_str(g, tg_gguf_kv_find(g, "general.architecture"), 0, NULL);
  int64_t nl, dim, nh, nkv;
  double eps = 1e-5, base = 10000;
  if (!arch || llama__int(g, arch, "block_count", &nl) || llama__int(g, arch, "embedding_length", &dim) ||
      llama__int(g, arch, "attention.head_count", &nh) || llama__int(g, arch, "attention.head_count_kv", &nkv)) {
    fprintf(stderr, "llama_load: the file's hyper-parameters are missing: %s\n", tg_error() ? tg_error() : "");
    return -1;
  }
  char k[128];
  snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
  tg_gguf_kv_float(g, tg_gguf_kv_find(g, k), 0, &eps);
  snprintf(k, sizeof k, "%s.rope.freq_base", arch);
  if (tg_gguf_kv_float(g, tg_gguf_kv_find(g, k), 0, &base) != 0) base = 10000;
  tg_clear_error();
  m->n_layer = (int)nl, m->dim = (int)dim, m->n_head = (int)nh, m->n_kv = (int)nkv, m->head_dim = (int)(dim / nh);
  m->eps = eps, m->rope_base = base;
  int missing = 0;
  m->embd = llama__get(g, "token_embd.weight", &missing);
  m->out_norm = llama__get(g, "output_norm.weight", &missing);
  m->out = tg_state_dict_get(tg_gguf_tensors(g), "output.weight");
  if (!m->out) m->out = m->embd; /* tied */
  m->vocab = m->embd ? tg_shape(m->embd)[0] : 0;
  m->blk = (llama_block *)calloc((size_t)nl, sizeof(llama_block));
  static const char *const names[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                       "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
  for (int l = 0; l < m->n_layer; l++) {
    tg_tensor **slot[9] = {&m->blk[l].attn_norm, &m->blk[l].wq, &m->blk[l].wk, &m->blk[l].wv, &m->blk[l].wo,
                           &m->blk[l].ffn_norm, &m->blk[l].gate, &m->blk[l].up, &m->blk[l].down};
    for (int i = 0; i < 9; i++) {
      snprintf(k, sizeof k, "blk.%d.%s.weight", l, names[i]);
      *slot[i] = llama__get(g, k, &missing);
    }
  }
  if (missing) {
    free(m->blk);
    m->blk = NULL;
    return -1;
  }
  return 0;
}

static void llama_free(llama_model *m) {
  free(m->blk);
  m->blk = NULL;
}

/* x / sqrt(mean(x^2) + eps) * w over the last axis */
static tg_tensor *llama__rmsnorm(tg_tensor *x, tg_tensor *w, double eps) {
  int last = tg_ndim(x) - 1;
  tg_tensor *ms = tg_mean(tg_mul(x, x), 1, &last, 1);
  return tg_mul(tg_mul(x, tg_rsqrt(tg_add_s(ms, eps))), w);
}

/* x @ w.T for a weight w (out, in) */
static tg_tensor *llama__linear(tg_tensor *x, tg_tensor *w) { return tg_matmul(x, tg_transpose(w, 0, 1)); }

/* RoPE on adjacent pairs of x (T, heads, hd) at positions 0..T-1: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), the angle
 * pos * base^(-2i / hd) computed in float32 as the references do */
static tg_tensor *llama__rope(tg_tensor *x, int64_t T, int heads, int hd, double base) {
  int64_t half = hd / 2;
  float *cs = (float *)malloc(sizeof(float) * (size_t)(T * half)), *sn = (float *)malloc(sizeof(float) * (size_t)(T * half));
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < half; i++) {
      float freq = (float)(1.0 / pow(base, (double)(2 * i) / hd)), ang = (float)t * freq;
      cs[t * half + i] = (float)cos((double)ang), sn[t * half + i] = (float)sin((double)ang);
    }
  int64_t shape[3] = {T, 1, half}, pairs[4] = {T, heads, half, 2};
  tg_tensor *c = tg_from_data(cs, TG_FLOAT32, 3, shape), *s = tg_from_data(sn, TG_FLOAT32, 3, shape);
  free(cs);
  free(sn);
  tg_tensor *p = tg_reshape(x, 4, pairs);
  int64_t b0[8] = {0, T, 0, heads, 0, half, 0, 1}, b1[8] = {0, T, 0, heads, 0, half, 1, 2};
  tg_tensor *x0 = tg_reshape(tg_shrink(p, 4, b0), 3, (int64_t[]){T, heads, half});
  tg_tensor *x1 = tg_reshape(tg_shrink(p, 4, b1), 3, (int64_t[]){T, heads, half});
  tg_tensor *r[2] = {tg_sub(tg_mul(x0, c), tg_mul(x1, s)), tg_add(tg_mul(x0, s), tg_mul(x1, c))};
  return tg_reshape(tg_stack(r, 2, 3), 3, (int64_t[]){T, heads, hd});
}

static tg_tensor *llama_forward(const llama_model *m, const int32_t *ids, int64_t T, int64_t last) {
  int H = m->n_head, KV = m->n_kv, HD = m->head_dim, D = m->dim;
  tg_tensor *x = tg_index(m->embd, 0, tg_from_data(ids, TG_INT32, 1, &T));
  for (int l = 0; l < m->n_layer; l++) {
    const llama_block *b = &m->blk[l];
    tg_tensor *h = llama__rmsnorm(x, b->attn_norm, m->eps);
    tg_tensor *q = llama__rope(tg_reshape(llama__linear(h, b->wq), 3, (int64_t[]){T, H, HD}), T, H, HD, m->rope_base);
    tg_tensor *k = llama__rope(tg_reshape(llama__linear(h, b->wk), 3, (int64_t[]){T, KV, HD}), T, KV, HD, m->rope_base);
    tg_tensor *v = tg_reshape(llama__linear(h, b->wv), 3, (int64_t[]){T, KV, HD});
    if (KV != H) { /* each KV head serves H / KV query heads in a row */
      int64_t e[4] = {T, KV, H / KV, HD}, s[3] = {T, H, HD};
      k = tg_reshape(tg_expand(tg_unsqueeze(k, 2), 4, e), 3, s);
      v = tg_reshape(tg_expand(tg_unsqueeze(v, 2), 4, e), 3, s);
    }
    tg_tensor *a = tg_scaled_dot_product_attention(tg_transpose(q, 0, 1), tg_transpose(k, 0, 1), tg_transpose(v, 0, 1),
                                                   NULL, 1); /* (H, T, HD) */
    x = tg_add(x, llama__linear(tg_reshape(tg_transpose(a, 0, 1), 2, (int64_t[]){T, D}), b->wo));
    h = llama__rmsnorm(x, b->ffn_norm, m->eps);
    x = tg_add(x, llama__linear(tg_mul(tg_silu(llama__linear(h, b->gate)), llama__linear(h, b->up)), b->down));
  }
  int64_t keep[4] = {T - last, T, 0, D};
  return llama__linear(llama__rmsnorm(tg_shrink(x, 2, keep), m->out_norm, m->eps), m->out);
}

#endif
