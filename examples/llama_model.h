/* llama_model.h: the llama-architecture language model (SmolLM2, Llama 3.2, Qwen's layout) on a GGUF file's weights,
 * built from tinygrad.h's tensor ops, as tinygrad's examples/llama3.py: the forward of a whole sequence, and
 * generation with a KV cache (llama_cache_init, llama_feed).
 *
 * Contract:
 *  - llama_load reads a GGUF of architecture llama (SmolLM2, Llama 3.x, Mistral) or qwen2: the hyper-parameters of
 *    general.architecture's prefix (block_count, embedding_length, attention.head_count and head_count_kv,
 *    attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count) and borrows the file's tensors
 *    (token_embd, output_norm, output when the embedding is not tied, each block's attn_norm, attn_q/k/v/output,
 *    ffn_norm, ffn_gate/up/down, and attn_q/k/v.bias where the file has them, as Qwen2's; rope_freqs, Llama 3's
 *    frequency factors, is read to the host): 0, or -1 with an error naming what is missing or unsupported. The
 *    GGUF must outlive the model.
 *  - llama_forward(m, ids, n, last) gives the logits (last, vocab) of the last `last` positions of the sequence
 *    ids[0..n): embedding; per block RMSNorm, attention (RoPE on the first rope.dimension_count dimensions of each
 *    head: on adjacent pairs for llama, as llama.cpp's "normal" rope, which the GGUF converter's permutation of q and
 *    k expects, and on the two halves for qwen2, llama.cpp's "neox"; each frequency divided by its rope_freqs factor
 *    when the file has them; grouped-query heads; causal), residual, RMSNorm, SwiGLU, residual; a last RMSNorm and
 *    the output (the embedding when tied). Quantised weights stay quantised: each matmul reads their blocks. */
#ifndef LLAMA_MODEL_H
#define LLAMA_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "tinygrad.h"

typedef struct llama_block {
  tg_tensor *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *gate, *up, *down;
  tg_tensor *bq, *bk, *bv; /* the queries', keys' and values' biases (Qwen2's), or NULL */
  char name[9][48]; /* the tensors' names in the GGUF, in the order above (for tg_gguf_linear) */
} llama_block;

typedef struct llama_model {
  int n_layer, n_head, n_kv, dim, head_dim;
  int n_rot;     /* the dimensions of each head that RoPE turns, the first ones (rope.dimension_count; partial) */
  int rope_neox; /* RoPE on the halves of those (x_i with x_{i + n_rot/2}: qwen2), not on adjacent pairs (llama) */
  float *rope_factors; /* Llama 3's rope_freqs: each frequency divided by its factor (n_rot / 2 of them), or NULL */
  double eps, rope_base;
  int64_t vocab;
  tg_tensor *embd, *out_norm, *out;
  llama_block *blk;
  const tg_gguf *g;      /* the file: borrowed */
  const char *out_name; /* the output's weight in it ("output.weight", or the tied "token_embd.weight") */
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
  int64_t nl, dim, nh, nkv, nrot = 0;
  double eps = 1e-5, base = 10000;
  if (arch && strcmp(arch, "llama") != 0 && strcmp(arch, "qwen2") != 0) {
    fprintf(stderr, "llama_load: architecture %s is not supported (llama, qwen2)\n", arch);
    return -1;
  }
  if (!arch || llama__int(g, arch, "block_count", &nl) || llama__int(g, arch, "embedding_length", &dim) ||
      llama__int(g, arch, "attention.head_count", &nh) || llama__int(g, arch, "attention.head_count_kv", &nkv)) {
    fprintf(stderr, "llama_load: the file's hyper-parameters are missing: %s\n", tg_error() ? tg_error() : "");
    return -1;
  }
  if (nl < 1 || nh < 1 || nkv < 1 || dim % nh || nh % nkv) {
    fprintf(stderr, "llama_load: %lld heads of %lld KV heads do not divide a width of %lld\n", (long long)nh,
            (long long)nkv, (long long)dim);
    return -1;
  }
  if (llama__int(g, arch, "rope.dimension_count", &nrot) != 0 || nrot <= 0) nrot = dim / nh;
  if (nrot % 2 || nrot > dim / nh) {
    fprintf(stderr, "llama_load: RoPE over %lld of a head's %lld dimensions\n", (long long)nrot, (long long)(dim / nh));
    return -1;
  }
  char k[128];
  snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
  tg_gguf_kv_float(g, tg_gguf_kv_find(g, k), 0, &eps);
  snprintf(k, sizeof k, "%s.rope.freq_base", arch);
  if (tg_gguf_kv_float(g, tg_gguf_kv_find(g, k), 0, &base) != 0) base = 10000;
  tg_clear_error();
  m->n_layer = (int)nl, m->dim = (int)dim, m->n_head = (int)nh, m->n_kv = (int)nkv, m->head_dim = (int)(dim / nh);
  m->eps = eps, m->rope_base = base, m->g = g;
  m->n_rot = (int)nrot, m->rope_neox = !strcmp(arch, "qwen2");
  int missing = 0;
  tg_tensor *rf = tg_state_dict_get(tg_gguf_tensors(g), "rope_freqs.weight");
  if (rf) { /* Llama 3's: one factor per frequency */
    m->rope_factors = tg_numel(rf) == nrot / 2 ? tg_to_float(rf) : NULL;
    if (!m->rope_factors) {
      fprintf(stderr, "llama_load: rope_freqs has %lld factors for %lld frequencies\n", (long long)tg_numel(rf),
              (long long)(nrot / 2));
      return -1;
    }
  }
  m->embd = llama__get(g, "token_embd.weight", &missing);
  m->out_norm = llama__get(g, "output_norm.weight", &missing);
  m->out = tg_state_dict_get(tg_gguf_tensors(g), "output.weight");
  m->out_name = m->out ? "output.weight" : "token_embd.weight";
  if (!m->out) m->out = m->embd; /* tied */
  m->vocab = m->embd ? tg_shape(m->embd)[0] : 0;
  m->blk = (llama_block *)calloc((size_t)nl, sizeof(llama_block));
  static const char *const names[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                       "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
  for (int l = 0; l < m->n_layer; l++) {
    tg_tensor **slot[9] = {&m->blk[l].attn_norm, &m->blk[l].wq, &m->blk[l].wk, &m->blk[l].wv, &m->blk[l].wo,
                           &m->blk[l].ffn_norm, &m->blk[l].gate, &m->blk[l].up, &m->blk[l].down};
    for (int i = 0; i < 9; i++) {
      snprintf(m->blk[l].name[i], sizeof m->blk[l].name[i], "blk.%d.%s.weight", l, names[i]);
      *slot[i] = llama__get(g, m->blk[l].name[i], &missing);
    }
    static const char *const biases[3] = {"attn_q", "attn_k", "attn_v"};
    tg_tensor **bslot[3] = {&m->blk[l].bq, &m->blk[l].bk, &m->blk[l].bv};
    for (int i = 0; i < 3; i++) {
      char bn[64];
      snprintf(bn, sizeof bn, "blk.%d.%s.bias", l, biases[i]);
      *bslot[i] = tg_state_dict_get(tg_gguf_tensors(g), bn);
    }
  }
  if (missing) {
    free(m->blk);
    free(m->rope_factors);
    m->blk = NULL, m->rope_factors = NULL;
    return -1;
  }
  return 0;
}

static void llama_free(llama_model *m) {
  free(m->blk);
  free(m->rope_factors);
  m->blk = NULL, m->rope_factors = NULL;
}

/* x / sqrt(mean(x^2) + eps) * w over the last axis */
static tg_tensor *llama__rmsnorm(tg_tensor *x, tg_tensor *w, double eps) {
  int last = tg_ndim(x) - 1;
  tg_tensor *ms = tg_mean(tg_mul(x, x), 1, &last, 1);
  return tg_mul(tg_mul(x, tg_rsqrt(tg_add_s(ms, eps))), w);
}

/* x @ w.T for a weight w (out, in) */
static tg_tensor *llama__linear(tg_tensor *x, tg_tensor *w) { return tg_matmul(x, tg_transpose(w, 0, 1)); }
/* ...plus a bias, when there is one */
static tg_tensor *llama__bias(tg_tensor *y, tg_tensor *b) { return b ? tg_add(y, b) : y; }

/* RoPE's tables for positions 0..n-1: cos and sin of pos * base^(-2i / n_rot) / factor_i, (n, 1, n_rot / 2), the
 * angle computed in float32 as the references do */
static void llama__rope_tables(const llama_model *m, int64_t n, tg_tensor **c, tg_tensor **s) {
  int64_t half = m->n_rot / 2;
  size_t bytes = sizeof(float) * (size_t)(n * half);
  float *cs = (float *)malloc(bytes), *sn = (float *)malloc(bytes);
  for (int64_t t = 0; t < n; t++)
    for (int64_t i = 0; i < half; i++) {
      float freq = (float)(1.0 / pow(m->rope_base, (double)(2 * i) / m->n_rot));
      if (m->rope_factors) freq /= m->rope_factors[i];
      float ang = (float)t * freq;
      cs[t * half + i] = (float)cos((double)ang), sn[t * half + i] = (float)sin((double)ang);
    }
  int64_t shape[3] = {n, 1, half};
  *c = tg_from_data(cs, TG_FLOAT32, 3, shape), *s = tg_from_data(sn, TG_FLOAT32, 3, shape);
  free(cs);
  free(sn);
}

/* RoPE on x (T, heads, head_dim) with the tables' rows c, s (T, 1, n_rot / 2): each pair (x0, x1) of the first n_rot
 * dimensions -> (x0 c - x1 s, x0 s + x1 c), the pairs adjacent (llama) or n_rot / 2 apart (neox); the rest as is */
static tg_tensor *llama__rope_with(const llama_model *m, tg_tensor *x, tg_tensor *c, tg_tensor *s, int64_t T,
                                   int heads) {
  int64_t hd = m->head_dim, nr = m->n_rot, half = nr / 2, three[3] = {T, heads, half};
  tg_tensor *rest = NULL, *x0, *x1;
  if (nr < hd) {
    int64_t tail[6] = {0, T, 0, heads, nr, hd}, head[6] = {0, T, 0, heads, 0, nr};
    rest = tg_shrink(x, 3, tail), x = tg_shrink(x, 3, head);
  }
  if (m->rope_neox) {
    int64_t b0[6] = {0, T, 0, heads, 0, half}, b1[6] = {0, T, 0, heads, half, nr};
    x0 = tg_shrink(x, 3, b0), x1 = tg_shrink(x, 3, b1);
  } else {
    int64_t pairs[4] = {T, heads, half, 2}, b0[8] = {0, T, 0, heads, 0, half, 0, 1};
    int64_t b1[8] = {0, T, 0, heads, 0, half, 1, 2};
    tg_tensor *p = tg_reshape(x, 4, pairs);
    x0 = tg_reshape(tg_shrink(p, 4, b0), 3, three), x1 = tg_reshape(tg_shrink(p, 4, b1), 3, three);
  }
  tg_tensor *r[2] = {tg_sub(tg_mul(x0, c), tg_mul(x1, s)), tg_add(tg_mul(x0, s), tg_mul(x1, c))};
  int64_t out[3] = {T, heads, nr};
  tg_tensor *y = m->rope_neox ? tg_cat(r, 2, 2) : tg_reshape(tg_stack(r, 2, 3), 3, out);
  if (!rest) return y;
  tg_tensor *both[2] = {y, rest};
  return tg_cat(both, 2, 2);
}

/* RoPE at positions 0..T-1 */
static tg_tensor *llama__rope(const llama_model *m, tg_tensor *x, int64_t T, int heads) {
  tg_tensor *c, *s;
  llama__rope_tables(m, T, &c, &s);
  return llama__rope_with(m, x, c, s, T, heads);
}

static inline tg_tensor *llama_forward(const llama_model *m, const int32_t *ids, int64_t T, int64_t last) {
  int H = m->n_head, KV = m->n_kv, HD = m->head_dim, D = m->dim;
  tg_tensor *x = tg_index(m->embd, 0, tg_from_data(ids, TG_INT32, 1, &T));
  for (int l = 0; l < m->n_layer; l++) {
    const llama_block *b = &m->blk[l];
    tg_tensor *h = llama__rmsnorm(x, b->attn_norm, m->eps);
    int64_t qs[3] = {T, H, HD}, ks[3] = {T, KV, HD};
    tg_tensor *q = llama__rope(m, tg_reshape(llama__bias(llama__linear(h, b->wq), b->bq), 3, qs), T, H);
    tg_tensor *k = llama__rope(m, tg_reshape(llama__bias(llama__linear(h, b->wk), b->bk), 3, ks), T, KV);
    tg_tensor *v = tg_reshape(llama__bias(llama__linear(h, b->wv), b->bv), 3, ks);
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

/* ---------------------------------------------------------------------------------------------------------------- */
/* Generation with a KV cache, as tinygrad.llm: each layer's keys and values live in persistent buffers, written with
 * tg_assign into the slice at the variable start_pos; attention reads the cache up to start_pos + T, a symbolic size.
 * Two JITs run the model: one for a token at a time (decode) and one for prompt chunks of `chunk` tokens (prefill);
 * each is captured once and replayed for every position. */

typedef struct llama_cache {
  const llama_model *m;
  int64_t max_ctx, chunk, n_past; /* positions 0..max_ctx-1; n_past filled so far */
  tg_tensor **k, **v;             /* per layer (max_ctx + chunk, n_kv, head_dim) */
  tg_tensor *cos, *sin;           /* RoPE's tables for every position */
  tg_tensor *kpos, *qoff;         /* the keys' positions (int32), and each prefill query's offset in its chunk */
  tg_variable *pos;               /* start_pos */
  tg_jit *decode, *prefill;
  tg_tensor *logits;              /* the last call's (1, vocab): overwritten by the next */
  tg_tensor *best;                /* ...and its greedy token, (1,) int32, computed on the device (llama_greedy) */
  int q8; /* the decode's products with 8-bit activations, as llama.cpp (tg_gguf_linear's TG_GGUF_Q8): about twice
           * as fast on a CPU, and close to float32's logits, not equal. 0 after init; set it before the first feed */
  int split;                      /* products' inputs and outputs as buffers of their own */
  int fuse;                       /* ...but a token's inputs fused: a GPU's default (LLAMA_FUSE=0/1 chooses) */
  int whole; /* a token's attention over the whole cache, masked, instead of the positions filled (a variable S): a
              * GPU's default for a cache of up to 512 positions (LLAMA_WHOLE=0/1 chooses). Workgroups share a
              * reduction over S too (GROUP in gated iterations). On an H200, medians of 3: a cache of 512, 706-755
              * tokens/s generated from empty against 635-642 over S; of 1024, 693 against 740 at position 40 and
              * 737 against 699 at 900; of 2048, 548 against 656 at 40. A CPU stops at S (render.c) */
  tg_dtype kv;                    /* the cache's dtype: TG_FLOAT16 (llama.cpp's default) or TG_FLOAT32 */
} llama_cache;

/* a product with a weight, as a buffer of its own (its matrix-vector kernel is then alone: fused into an
 * elementwise consumer with another product, neither gets its tile) */
static tg_tensor *llama__mv(const llama_cache *c, tg_tensor *x, tg_tensor *w, const char *name, tg_tensor *bias) {
  /* A prompt's chunk reads the weight's blocks as a decode does (no float copy: transposed copies were faster once,
   * 83 against 31 tokens/s, before the CPU's tile for quantised prompts; now 140 against 227, at 590 MB of RSS). A
   * token with q8 set: integer dot products of the weight's quants and the activations' (the prompt's chunks keep
   * float32, whose tile already shares each dequantised weight between 8 tokens) */
  tg_tensor *y = c->q8 && tg_shape(x)[0] == 1 ? tg_gguf_linear(c->m->g, name, x, TG_GGUF_Q8) : llama__linear(x, w);
  y = llama__bias(y, bias); /* the product's epilogue */
  return c->split ? tg_contiguous(y) : y;
}
static tg_tensor *llama__buf(const llama_cache *c, tg_tensor *x) { return c->split ? tg_contiguous(x) : x; }
/* a product's input: a buffer of its own, unless fused (fz: see llama__layer) */
static tg_tensor *llama__in(const llama_cache *c, int fz, tg_tensor *x) { return fz ? x : llama__buf(c, x); }

/* layer l of a step of T tokens at start_pos (the variable p): x's keys and values go into the cache, and the
 * residual stream after the layer comes out (NULL on error) */
static tg_tensor *llama__layer(llama_cache *c, int l, tg_tensor *x, tg_tensor *cs, tg_tensor *sn, tg_tensor *mask,
                               int64_t T) {
  const llama_model *m = c->m;
  const llama_block *b = &m->blk[l];
  int H = m->n_head, KV = m->n_kv, HD = m->head_dim, D = m->dim, G = H / KV;
  tg_variable *p = c->pos;
  /* the residual stream as a buffer: the cache's assignments realise each layer, and the next layer's would
   * otherwise compute every layer before it again */
  if (tg_realize(x) < 0) return NULL;
  /* the matrix-vector products' inputs as buffers: fused into a product, an input vector's elementwise work (a
   * norm, RoPE, SiLU, the softmax's exp) is computed again for every output row. On a GPU (c->fuse) a token's are
   * fused all the same: that work is cheap there, and every kernel costs 2-3 us however small (634 -> 454 kernels
   * a token; on an H200, with the whole cache's attention, 520 -> 545-579 tokens/s; the products 15% slower) */
  int fz = c->fuse && T == 1;
  tg_tensor *h = llama__in(c, fz, llama__rmsnorm(x, b->attn_norm, m->eps));
  /* ...realised now: the keys' and values' assignments realise before the queries, and while a JIT captures, a
   * value is reused only while a tensor holds it (the queries' schedule computed the norm again: 2 kernels a layer) */
  if (c->split && !fz && tg_realize(h) < 0) return NULL;
  int64_t qs[3] = {T, H, HD}, ks[3] = {T, KV, HD};
  tg_tensor *qmv = llama__mv(c, h, b->wq, b->name[1], b->bq);
  tg_tensor *q = llama__in(c, fz, llama__rope_with(m, tg_reshape(qmv, 3, qs), cs, sn, T, H));
  tg_tensor *k = llama__rope_with(m, tg_reshape(llama__mv(c, h, b->wk, b->name[2], b->bk), 3, ks), cs, sn, T, KV);
  tg_tensor *v = tg_reshape(llama__mv(c, h, b->wv, b->name[3], b->bv), 3, ks);
  tg_sint at[6] = {{p, 0}, {p, T}, {NULL, 0}, {NULL, KV}, {NULL, 0}, {NULL, HD}};
  tg_tensor *kslot = tg_shrink_sym(c->k[l], 3, at), *vslot = tg_shrink_sym(c->v[l], 3, at);
  /* the queries in the same schedule as the keys and values: their products share h's 8-bit copy (3 kernels) */
  tg_tensor *now[3] = {kslot, vslot, fz ? qmv : q};
  if (!tg_assign(kslot, tg_cast(k, c->kv)) || !tg_assign(vslot, tg_cast(v, c->kv)) ||
      tg_realize_all(now, c->split ? 3 : 2) < 0)
    return NULL;
  tg_sint upto[6] = {{NULL, 0}, {p, T}, {NULL, 0}, {NULL, KV}, {NULL, 0}, {NULL, HD}};
  int kperm[3] = {1, 2, 0}, vperm[3] = {1, 0, 2}, qperm[4] = {1, 2, 0, 3}, operm[4] = {2, 0, 1, 3};
  /* S: the positions filled, a variable; with c->whole a token reads the whole cache, masked (see llama__step) */
  int whole = c->whole && T == 1;
  tg_tensor *kc = whole ? c->k[l] : tg_shrink_sym(c->k[l], 3, upto);
  tg_tensor *vc = whole ? c->v[l] : tg_shrink_sym(c->v[l], 3, upto);
  tg_tensor *keys = tg_permute(tg_cast(kc, TG_FLOAT32), 3, kperm); /* (KV, HD, S) */
  tg_tensor *vals = tg_permute(tg_cast(vc, TG_FLOAT32), 3, vperm); /* (KV, S, HD) */
  int64_t q4[4] = {T, KV, G, HD}, q3[3] = {KV, G * T, HD}, o4[4] = {KV, G, T, HD}, o2[2] = {T, D};
  tg_tensor *qg = tg_reshape(tg_permute(tg_reshape(q, 4, q4), 4, qperm), 3, q3); /* (KV, G*T, HD) */
  tg_tensor *sc = tg_mul_s(tg_matmul(qg, keys), 1.0 / sqrt((double)HD));        /* (KV, G*T, S) */
  if (mask) sc = tg_where(mask, sc, tg_full_like(sc, -INFINITY));
  /* the probabilities as a buffer: fused into the product with the values, each exp is computed again for each of
   * the head's 64 values (a prompt chunk's product took 3.3 ms a layer on 2 cores) */
  tg_tensor *o = tg_matmul(llama__in(c, fz, tg_softmax(sc, -1)), vals);         /* (KV, G*T, HD) */
  o = tg_reshape(tg_permute(tg_reshape(o, 4, o4), 4, operm), 2, o2);
  x = tg_add(x, llama__mv(c, llama__buf(c, o), b->wo, b->name[4], NULL));
  h = llama__in(c, fz, llama__rmsnorm(x, b->ffn_norm, m->eps));
  tg_tensor *gate = llama__mv(c, h, b->gate, b->name[6], NULL), *up = llama__mv(c, h, b->up, b->name[7], NULL);
  tg_tensor *act = tg_mul(tg_silu(gate), up);
  /* fused, the residual's sum is the down product's epilogue (one product: it keeps its tile) */
  tg_tensor *dn = fz ? llama__linear(act, b->down) : llama__mv(c, llama__buf(c, act), b->down, b->name[8], NULL);
  tg_tensor *out = tg_add(x, dn);
  /* realised inside the layer's scope, while its tensors live (see above): after it, the capture computed parts of
   * the layer again (1205 kernels a token against 996; the peak RSS is 2.5 MB higher, a prompt chunk's layer's
   * intermediates held a little longer) */
  return c->split && tg_realize(out) < 0 ? NULL : out;
}

/* one step of T tokens (ids, (T,) int32) at positions start_pos..start_pos+T-1: their keys and values go into the
 * cache, and the logits (1, vocab) of the last come out */
static tg_tensor *llama__step(llama_cache *c, tg_tensor *ids, int64_t T) {
  const llama_model *m = c->m;
  int H = m->n_head, KV = m->n_kv, D = m->dim, G = H / KV;
  int64_t half = m->n_rot / 2;
  tg_variable *p = c->pos;
  tg_tensor *x = tg_index(m->embd, 0, ids);
  tg_sint rows[6] = {{p, 0}, {p, T}, {NULL, 0}, {NULL, 1}, {NULL, 0}, {NULL, half}};
  tg_tensor *cs = tg_shrink_sym(c->cos, 3, rows), *sn = tg_shrink_sym(c->sin, 3, rows);
  tg_tensor *mask = NULL;
  if (T == 1 && c->whole) { /* the whole cache: key s is seen when s <= start_pos */
    int64_t k2[2] = {1, c->max_ctx + c->chunk};
    mask = tg_le(tg_reshape(c->kpos, 2, k2), tg_variable_tensor(p)); /* (1, max_ctx + chunk) */
  } else if (T > 1) { /* key s is seen by the query at start_pos + t when s <= start_pos + t */
    tg_sint upto[2] = {{NULL, 0}, {p, T}};
    int64_t q2[2] = {G * T, 1};
    tg_tensor *qp = tg_reshape(tg_add(c->qoff, tg_variable_tensor(p)), 2, q2);
    mask = tg_le(tg_shrink_sym(c->kpos, 1, upto), qp); /* (G*T, S) */
  }
  for (int l = 0; l < m->n_layer; l++) {
    /* each layer in a scope of its own: its intermediates (a prompt chunk's: 2 MB a layer) go when it ends, and
     * their memory serves the next layer (all 30 held until the step returned: 58 MB of SmolLM2's peak RSS) */
    tg_scope_begin();
    tg_tensor *next = llama__layer(c, l, x, cs, sn, mask, T);
    if (next) tg_keep(next);
    tg_scope_end();
    if (!next) return NULL;
    x = next; /* the last layer's handle stays: while a JIT captures, a realised node is reused only while a
               * tensor holds it (freed, the capture computed every layer again for each one: 7712 kernels) */
  }
  int64_t keep[4] = {T - 1, T, 0, D};
  /* the final norm as a buffer of its own: fused into the output's product, it is computed again for each of the
   * vocabulary's 49152 rows (2.7 ms a token on 2 cores, against 0.9 without) */
  tg_tensor *xn = llama__buf(c, llama__rmsnorm(tg_shrink(x, 2, keep), m->out_norm, m->eps));
  return llama__mv(c, xn, m->out, m->out_name, NULL);
}

/* the step's outputs: the logits, and the greedy token (its argmax), computed in the same JIT so that a greedy
 * decode reads 4 bytes back a token instead of the vocabulary's logits (196 KB for SmolLM2) */
static int llama__jit_step(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)n_in;
  tg_scope_begin();
  tg_tensor *r[2] = {llama__step((llama_cache *)ctx, in[0], tg_shape(in[0])[0]), NULL};
  if (r[0]) r[1] = tg_argmax(r[0], -1, 0);
  int rc = r[1] && tg_realize_all(r, 2) == 0 ? 0 : -1;
  out[0] = r[0] ? tg_keep(r[0]) : NULL;
  if (n_out > 1) out[1] = r[1] ? tg_keep(r[1]) : NULL;
  tg_scope_end();
  return rc;
}

/* a cache of max_ctx positions for m in dtype kv (TG_FLOAT16: half the memory, as llama.cpp's default; TG_FLOAT32:
 * exact), prefilled in chunks of `chunk` tokens (1: token by token); 0 or -1 */
static int llama_cache_init_kv(llama_cache *c, const llama_model *m, int64_t max_ctx, int64_t chunk, tg_dtype kv) {
  memset(c, 0, sizeof *c);
  if (kv != TG_FLOAT16 && kv != TG_FLOAT32) {
    fprintf(stderr, "llama_cache_init: a cache of %s (float16 or float32)\n", tg_dtype_name(kv));
    return -1;
  }
  c->kv = kv;
  if (!m || !m->blk || m->n_kv < 1 || m->n_head % m->n_kv || max_ctx < 1) {
    fprintf(stderr, "llama_cache_init: no loaded model, or a context of %lld positions\n", (long long)max_ctx);
    return -1;
  }
  c->m = m, c->max_ctx = max_ctx, c->chunk = chunk < 1 ? 1 : chunk;
  /* A product fused with the elementwise work of its input vector computes that work again for every output row:
   * split, SmolLM2's decode went 9 -> 28 tokens/s on 2 cores and 112 -> 202 on an H200. LLAMA_SPLIT=0 fuses. */
  c->split = getenv("LLAMA_SPLIT") ? atoi(getenv("LLAMA_SPLIT")) : 1;
  int64_t n = max_ctx + c->chunk, shape[3] = {n, m->n_kv, m->head_dim};
  int G = m->n_head / m->n_kv;
  c->k = (tg_tensor **)calloc((size_t)m->n_layer, sizeof(tg_tensor *));
  c->v = (tg_tensor **)calloc((size_t)m->n_layer, sizeof(tg_tensor *));
  c->pos = tg_variable_new("start_pos", 0, max_ctx - 1);
  if (!c->k || !c->v || !c->pos) return -1;
  for (int l = 0; l < m->n_layer; l++) {
    c->k[l] = tg_empty(kv, 3, shape), c->v[l] = tg_empty(kv, 3, shape); /* buffers of their own */
    if (!tg_assign(c->k[l], tg_zeros(kv, 3, shape)) || !tg_assign(c->v[l], tg_zeros(kv, 3, shape)) ||
        tg_realize(c->k[l]) < 0 || tg_realize(c->v[l]) < 0)
      return -1;
  }
  const char *dev = tg_device_of(c->k[0]);
  int gpu = dev && strcmp(dev, "CPU") != 0;
  c->fuse = getenv("LLAMA_FUSE") ? atoi(getenv("LLAMA_FUSE")) : gpu;
  c->whole = getenv("LLAMA_WHOLE") ? atoi(getenv("LLAMA_WHOLE")) : gpu && max_ctx <= 512;
  llama__rope_tables(m, n, &c->cos, &c->sin);
  int32_t *kp = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n > G * c->chunk ? n : G * c->chunk));
  for (int64_t i = 0; i < n; i++) kp[i] = (int32_t)i;
  c->kpos = tg_from_data(kp, TG_INT32, 1, &n);
  for (int64_t i = 0; i < G * c->chunk; i++) kp[i] = (int32_t)(i % c->chunk); /* query (g, t) at start_pos + t */
  int64_t nq = G * c->chunk;
  c->qoff = tg_from_data(kp, TG_INT32, 1, &nq);
  free(kp);
  c->decode = tg_jit_new(llama__jit_step, c);
  c->prefill = tg_jit_new(llama__jit_step, c);
  return c->cos && c->sin && c->kpos && c->qoff ? 0 : -1;
}

/* the exact cache: float32 */
static inline int llama_cache_init(llama_cache *c, const llama_model *m, int64_t max_ctx, int64_t chunk) {
  return llama_cache_init_kv(c, m, max_ctx, chunk, TG_FLOAT32);
}

static void llama_cache_free(llama_cache *c) {
  for (int l = 0; c->k && c->m && l < c->m->n_layer; l++) tg_free(c->k[l]), tg_free(c->v[l]);
  free(c->k);
  free(c->v);
  tg_free(c->cos), tg_free(c->sin), tg_free(c->kpos), tg_free(c->qoff), tg_free(c->logits), tg_free(c->best);
  tg_jit_free(c->decode);
  tg_jit_free(c->prefill);
  memset(c, 0, sizeof *c);
}

/* feeds ids[0..n) at the next positions: whole chunks through the prefill JIT, the rest token by token. Returns
 * the logits (1, vocab) after the last token, owned by the cache and valid until the next call; NULL on error (the
 * context full: max_ctx positions) */
static tg_tensor *llama_feed(llama_cache *c, const int32_t *ids, int64_t n) {
  if (n < 1 || c->n_past + n > c->max_ctx) {
    fprintf(stderr, "llama_feed: %lld tokens do not fit the context (%lld of %lld used)\n", (long long)n,
            (long long)c->n_past, (long long)c->max_ctx);
    return NULL;
  }
  for (int64_t i = 0; i < n;) {
    int64_t T = c->chunk > 1 && n - i >= c->chunk ? c->chunk : 1;
    tg_tensor *in = tg_from_data(ids + i, TG_INT32, 1, &T), *out[2] = {NULL, NULL};
    int rc = tg_variable_bind(c->pos, c->n_past) == 0 ? tg_jit_run(T > 1 ? c->prefill : c->decode, &in, 1, out, 2)
                                                      : -1;
    tg_free(in);
    if (rc < 0) return NULL;
    tg_free(c->logits);
    tg_free(c->best);
    c->logits = out[0], c->best = out[1];
    c->n_past += T, i += T;
  }
  return c->logits;
}

/* the greedy token after the last llama_feed (the first maximum of its logits, chosen on the device); -1 on error */
static int32_t llama_greedy(const llama_cache *c) {
  double v = c->best ? tg_item(c->best) : -1;
  return v == v ? (int32_t)v : -1;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Sampling, on the host from the logits: greedy at temperature 0; else the repetition penalty (llama.cpp's: a
 * positive logit of a recent token divided by it, a negative one multiplied), top-k, softmax at the temperature,
 * top-p (the smallest set of the likeliest tokens whose probability reaches p), and a draw. The logits come to the
 * host anyway for the draw, so changing any setting recompiles nothing. */

typedef struct llama_sampler {
  double temperature; /* 0: greedy */
  int top_k;          /* 0: all */
  double top_p;       /* 1: all */
  double repeat_penalty; /* 1: none */
  int repeat_last_n;  /* the recent tokens it looks at */
  uint64_t rng;       /* the generator's state (any seed) */
} llama_sampler;

static double llama__uniform(uint64_t *s) { /* splitmix64, [0, 1) */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

typedef struct llama__cand { float logit; int32_t id; } llama__cand;
static int llama__cand_desc(const void *a, const void *b) {
  float x = ((const llama__cand *)a)->logit, y = ((const llama__cand *)b)->logit;
  return x < y ? 1 : x > y ? -1 : ((const llama__cand *)a)->id - ((const llama__cand *)b)->id;
}

/* the next token from logits[0..vocab) after the tokens recent[0..nrecent); -1 on a bad argument */
static inline int32_t llama_sample(llama_sampler *s, const float *logits, int64_t vocab, const int32_t *recent,
                            int nrecent) {
  if (!logits || vocab < 1) return -1;
  llama__cand *c = (llama__cand *)malloc(sizeof(llama__cand) * (size_t)vocab);
  if (!c) return -1;
  for (int64_t i = 0; i < vocab; i++) c[i].logit = logits[i], c[i].id = (int32_t)i;
  int from = nrecent > s->repeat_last_n ? nrecent - s->repeat_last_n : 0;
  for (int i = from; s->repeat_penalty != 1 && i < nrecent; i++)
    if (recent[i] >= 0 && recent[i] < vocab) {
      llama__cand *r = &c[recent[i]];
      if (r->id == recent[i]) r->logit = r->logit > 0 ? (float)(r->logit / s->repeat_penalty)
                                                      : (float)(r->logit * s->repeat_penalty);
      r->id = -1 - r->id; /* penalised once, however often it recurs */
    }
  for (int64_t i = 0; i < vocab; i++)
    if (c[i].id < 0) c[i].id = -1 - c[i].id;
  int32_t pick;
  if (s->temperature <= 0) { /* greedy: the first of the largest */
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; i++)
      if (c[i].logit > c[best].logit) best = i;
    pick = c[best].id;
  } else {
    qsort(c, (size_t)vocab, sizeof *c, llama__cand_desc);
    int64_t n = s->top_k > 0 && s->top_k < vocab ? s->top_k : vocab;
    double sum = 0, *p = (double *)malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) sum += (p[i] = exp((c[i].logit - c[0].logit) / s->temperature));
    double acc = 0;
    int64_t keep = n;
    for (int64_t i = 0; i < n; i++) {
      acc += p[i] / sum;
      if (s->top_p < 1 && acc >= s->top_p) {
        keep = i + 1;
        break;
      }
    }
    double total = 0;
    for (int64_t i = 0; i < keep; i++) total += p[i];
    double u = llama__uniform(&s->rng) * total;
    pick = c[keep - 1].id;
    for (int64_t i = 0; i < keep; i++)
      if ((u -= p[i]) < 0) {
        pick = c[i].id;
        break;
      }
    free(p);
  }
  free(c);
  return pick;
}

#endif
