/* llm_synth.h: a small llama-architecture model with random float32 weights and a real tokenizer, written as GGUF:
 * the cross-check of examples/llama_model.h against llama.cpp's own forward (tests/test_llama.c reads the logits
 * tools/llm_crosscheck.sh produced with llama.cpp on the same file; tools/llm_synth.c writes the file for it).
 *
 * Contract: ls_write(c, path) writes the model of config c to path: the tokenizer.* key-values of the GGUF c->vocab
 * (one of llama.cpp's ggml-vocab-*.gguf: its tokens, merges, types, special ids and chat template) copied as they
 * are, c->chat_template in place of the file's when not NULL, the architecture's hyper-parameters, and weights drawn
 * from splitmix64 seeded by c->seed (the same file on every machine): an embedding of standard deviation ~1 (the
 * logits spread, so the greedy tokens are not near-ties), products of ~1/sqrt(fan in), norms ~1. 0, or -1 with a
 * message on stderr. Needs tinygrad.h (to read the vocabulary) and gguf_writer.h. */
#ifndef LLM_SYNTH_H
#define LLM_SYNTH_H

#include <math.h>
#include <stdio.h>
#include <stdint.h>

#include "gguf_writer.h"
#include "tinygrad.h"

typedef struct ls_config {
  const char *arch;          /* "llama" or "qwen2" */
  const char *vocab;         /* a GGUF whose tokenizer.* keys are copied */
  const char *chat_template; /* NULL: the vocabulary's */
  int n_layer, dim, heads, kv_heads, ffn;
  double rope_base, eps;
  int biases;     /* attn_q/k/v.bias (Qwen2) */
  int tied;       /* the output is the embedding; else output.weight */
  int rope_freqs; /* rope_freqs.weight, Llama 3's frequency factors (head_dim / 2 of them) */
  uint64_t seed;
} ls_config;

static double ls_uniform(uint64_t *s) { /* splitmix64, [-1, 1) */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 * 2 - 1;
}

/* a key-value of the vocabulary's (index i) appended as the file has it; 0 or -1 */
static int ls_copy_kv(gg_buf *b, const tg_gguf *g, int64_t i) {
  int type = tg_gguf_kv_type(g, i), et = tg_gguf_kv_element_type(g, i);
  int64_t n = tg_gguf_kv_len(g, i);
  gg_key(b, tg_gguf_kv_key(g, i), (uint32_t)type);
  if (type == TG_GGUF_ARRAY) gg_u32(b, (uint32_t)et), gg_u64(b, (uint64_t)n);
  static const int size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (et < 0 || et > 12 || et == TG_GGUF_ARRAY) return -1;
  for (int64_t j = 0; j < n; j++) {
    int64_t iv = 0, len = 0;
    double fv = 0;
    if (et == TG_GGUF_STRING) {
      const char *s = tg_gguf_kv_str(g, i, j, &len);
      if (!s) return -1;
      gg_u64(b, (uint64_t)len);
      gg_put(b, s, (size_t)len);
    } else if (et == TG_GGUF_FLOAT32 || et == TG_GGUF_FLOAT64) {
      if (tg_gguf_kv_float(g, i, j, &fv)) return -1;
      float f = (float)fv;
      if (et == TG_GGUF_FLOAT32) gg_put(b, &f, 4);
      else gg_put(b, &fv, 8);
    } else {
      if (tg_gguf_kv_int(g, i, j, &iv)) return -1;
      gg_put(b, &iv, (size_t)size[et]); /* little-endian: the low bytes */
    }
  }
  return 0;
}

typedef struct ls_tensor {
  char name[48];
  int64_t ne0, ne1; /* GGUF's order: ne0 the row's length; ne1 0 for a vector */
  double scale;     /* values uniform in [-scale, scale) around `mean` */
  double mean;
} ls_tensor;

static int ls_write(const ls_config *c, const char *path) {
  tg_gguf *v = tg_gguf_load(c->vocab);
  if (!v) {
    fprintf(stderr, "ls_write: %s\n", tg_error());
    return -1;
  }
  int64_t nv = tg_gguf_kv_find(v, "tokenizer.ggml.tokens"), vocab = nv < 0 ? 0 : tg_gguf_kv_len(v, nv);
  int hd = c->dim / c->heads, nt = 0;
  ls_tensor *t = (ls_tensor *)calloc((size_t)(16 * c->n_layer + 8), sizeof(ls_tensor));
  if (!t || vocab < 1) {
    fprintf(stderr, "ls_write: %s has no tokenizer.ggml.tokens\n", c->vocab);
    tg_gguf_free(v);
    free(t);
    return -1;
  }
#define LS_T(nm, a, b, sc, mu) (snprintf(t[nt].name, sizeof t[nt].name, "%s", nm), t[nt].ne0 = (a), \
                                t[nt].ne1 = (b), t[nt].scale = (sc), t[nt++].mean = (mu))
  double u = sqrt(3.0); /* uniform in [-u s, u s): standard deviation s */
  LS_T("token_embd.weight", c->dim, vocab, u, 0);
  for (int l = 0; l < c->n_layer; l++) {
    char n[48];
#define LS_B(nm, a, b, sc, mu) (snprintf(n, sizeof n, "blk.%d.%s", l, nm), LS_T(n, a, b, sc, mu))
    LS_B("attn_norm.weight", c->dim, 0, 0.2, 1);
    LS_B("attn_q.weight", c->dim, c->heads * hd, u / sqrt(c->dim), 0);
    LS_B("attn_k.weight", c->dim, c->kv_heads * hd, u / sqrt(c->dim), 0);
    LS_B("attn_v.weight", c->dim, c->kv_heads * hd, u / sqrt(c->dim), 0);
    if (c->biases) {
      LS_B("attn_q.bias", c->heads * hd, 0, 0.5, 0);
      LS_B("attn_k.bias", c->kv_heads * hd, 0, 0.5, 0);
      LS_B("attn_v.bias", c->kv_heads * hd, 0, 0.5, 0);
    }
    LS_B("attn_output.weight", c->heads * hd, c->dim, 4 * u / sqrt(c->dim), 0); /* layers that move the stream */
    LS_B("ffn_norm.weight", c->dim, 0, 0.2, 1);
    LS_B("ffn_gate.weight", c->dim, c->ffn, u / sqrt(c->dim), 0);
    LS_B("ffn_up.weight", c->dim, c->ffn, u / sqrt(c->dim), 0);
    LS_B("ffn_down.weight", c->ffn, c->dim, 4 * u / sqrt(c->ffn), 0);
#undef LS_B
  }
  LS_T("output_norm.weight", c->dim, 0, 0.2, 1);
  if (!c->tied) LS_T("output.weight", c->dim, vocab, u, 0);
  if (c->rope_freqs) LS_T("rope_freqs.weight", hd / 2, 0, 0, 0); /* values set below */
#undef LS_T
  int64_t kvs = 0;
  for (int64_t i = 0; i < tg_gguf_kv_count(v); i++) kvs += !strncmp(tg_gguf_kv_key(v, i), "tokenizer.", 10);
  int own_template = c->chat_template && tg_gguf_kv_find(v, "tokenizer.chat_template") < 0;
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4);
  gg_u32(&b, 3);
  gg_u64(&b, (uint64_t)nt);
  gg_u64(&b, (uint64_t)(kvs + own_template + 11));
  char key[96];
  gg_key(&b, "general.architecture", TG_GGUF_STRING);
  gg_str(&b, c->arch);
#define LS_U32(k, val) (snprintf(key, sizeof key, "%s.%s", c->arch, k), gg_key(&b, key, TG_GGUF_UINT32), \
                        gg_u32(&b, (uint32_t)(val)))
#define LS_F32(k, val) (snprintf(key, sizeof key, "%s.%s", c->arch, k), gg_key(&b, key, TG_GGUF_FLOAT32), \
                        f = (float)(val), gg_put(&b, &f, 4))
  float f;
  LS_U32("block_count", c->n_layer);
  LS_U32("context_length", 4096);
  LS_U32("embedding_length", c->dim);
  LS_U32("feed_forward_length", c->ffn);
  LS_U32("attention.head_count", c->heads);
  LS_U32("attention.head_count_kv", c->kv_heads);
  LS_U32("rope.dimension_count", hd);
  LS_U32("vocab_size", vocab);
  LS_F32("rope.freq_base", c->rope_base);
  LS_F32("attention.layer_norm_rms_epsilon", c->eps);
#undef LS_U32
#undef LS_F32
  int rc = 0;
  for (int64_t i = 0; i < tg_gguf_kv_count(v) && !rc; i++) {
    const char *k = tg_gguf_kv_key(v, i);
    if (strncmp(k, "tokenizer.", 10)) continue;
    if (c->chat_template && !strcmp(k, "tokenizer.chat_template")) {
      gg_key(&b, k, TG_GGUF_STRING);
      gg_str(&b, c->chat_template);
    } else rc = ls_copy_kv(&b, v, i);
  }
  if (own_template) {
    gg_key(&b, "tokenizer.chat_template", TG_GGUF_STRING);
    gg_str(&b, c->chat_template);
  }
  tg_gguf_free(v);
  uint64_t off = 0;
  for (int i = 0; i < nt; i++) {
    gg_str(&b, t[i].name);
    gg_u32(&b, t[i].ne1 ? 2 : 1);
    gg_u64(&b, (uint64_t)t[i].ne0);
    if (t[i].ne1) gg_u64(&b, (uint64_t)t[i].ne1);
    gg_u32(&b, 0); /* F32 */
    gg_u64(&b, off);
    off += (uint64_t)(t[i].ne0 * (t[i].ne1 ? t[i].ne1 : 1) * 4 + 31) / 32 * 32;
  }
  while (b.n % 32) gg_put(&b, "", 1);
  uint64_t s = c->seed;
  for (int i = 0; i < nt && !rc; i++) {
    int64_t n = t[i].ne0 * (t[i].ne1 ? t[i].ne1 : 1);
    for (int64_t j = 0; j < n; j++) {
      float x = !strcmp(t[i].name, "rope_freqs.weight") ? (float)(1 + j * j / 4.0) /* Llama 3's: 1 to ~16 */
                                                        : (float)(t[i].mean + t[i].scale * ls_uniform(&s));
      gg_put(&b, &x, 4);
    }
    while (b.n % 32) gg_put(&b, "", 1);
  }
  free(t);
  if (rc) fprintf(stderr, "ls_write: a key-value of %s could not be copied\n", c->vocab);
  else if (gg_save(&b, b.n, path)) fprintf(stderr, "ls_write: cannot write %s\n", path), rc = -1;
  free(b.p);
  return rc;
}

/* the two models of the cross-check: Qwen2's layout with its vocabulary and template (biases, RoPE on the halves,
 * the embedding tied), and Llama 3's (grouped-query attention 4:1, frequency factors, an output of its own) with
 * Llama 3's template; vocab_dir holds llama.cpp's ggml-vocab-*.gguf */
#define LS_LLAMA3_TEMPLATE                                                                                           \
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "   \
  "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 " \
  "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "  \
  "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"

static ls_config ls_model(int which, const char *vocab_path) {
  ls_config c;
  memset(&c, 0, sizeof c);
  c.vocab = vocab_path;
  c.n_layer = 2, c.dim = 64, c.heads = 4, c.ffn = 160;
  if (which == 0) {
    c.arch = "qwen2", c.kv_heads = 2, c.rope_base = 1e6, c.eps = 1e-6, c.biases = 1, c.tied = 1, c.seed = 2;
  } else {
    c.arch = "llama", c.kv_heads = 1, c.rope_base = 5e5, c.eps = 1e-5, c.rope_freqs = 1, c.seed = 3;
    c.chat_template = LS_LLAMA3_TEMPLATE;
  }
  return c;
}
static const char *const ls_vocab_names[2] = {"ggml-vocab-qwen2.gguf", "ggml-vocab-llama-bpe.gguf"};

#endif
