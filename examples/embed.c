/* embed.c: sentence embeddings with all-MiniLM-L6-v2 (examples/bert_model.h), and their cosine similarities.
 *
 *   make llm-files && make embed
 *   ./build/embed [--model DIR] SENTENCE...
 *
 * DIR holds the model's files (model.safetensors, config.json, tokenizer.json): by default $TG_LLM_DIR/minilm, else
 * build/llm/minilm (tools/fetch_llm.sh puts them there). Each sentence is tokenized by tokenizer.json's WordPiece
 * with [CLS] and [SEP] (tg_tokenizer_from_json), cut to the model's positions as sentence-transformers cuts (the
 * first tokens, then [SEP]); all are embedded in one padded batch with their attention masks. Prints each
 * sentence's first embedding values, then the matrix of cosine similarities (dot products: the embeddings have
 * norm 1). Exit status 0, or 1 with a message on stderr. */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "bert_model.h"

#include <time.h>

static double embed_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int embed_usage(const char *argv0) {
  fprintf(stderr, "usage: %s [--model DIR] SENTENCE...\n  DIR: all-MiniLM-L6-v2's files (default "
                  "$TG_LLM_DIR/minilm, else build/llm/minilm; make llm-files fetches them)\n", argv0);
  return 1;
}

int main(int argc, char **argv) {
  char dir[1024], path[1100];
  const char *env = getenv("TG_LLM_DIR");
  snprintf(dir, sizeof dir, "%s/minilm", env && env[0] ? env : "build/llm");
  int first = 1;
  if (argc > 2 && !strcmp(argv[1], "--model")) snprintf(dir, sizeof dir, "%s", argv[2]), first = 3;
  int n = argc - first;
  if (n < 1 || (argc > 1 && argv[1][0] == '-' && first == 1)) return embed_usage(argv[0]);

  bert_model m;
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  if (bert_load(&m, path) != 0) {
    fprintf(stderr, "embed: %s\nHINT: make llm-files fetches the model into build/llm/minilm\n", bert_error());
    return 1;
  }
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  tg_tokenizer *tok = tg_tokenizer_from_json(path);
  if (!tok) {
    fprintf(stderr, "embed: %s\n", tg_error() ? tg_error() : path);
    bert_free(&m);
    return 1;
  }
  /* the ids of each sentence, [CLS] ... [SEP], at most max_pos of them */
  int64_t cap = m.max_pos, T = 0;
  int32_t *ids = (int32_t *)calloc((size_t)(n * cap), sizeof(int32_t));
  int32_t *mask = (int32_t *)calloc((size_t)(n * cap), sizeof(int32_t));
  int64_t *len = (int64_t *)calloc((size_t)n, sizeof(int64_t));
  int64_t bufcap = 256;
  int32_t *buf = (int32_t *)malloc(sizeof(int32_t) * (size_t)bufcap);
  int ok = ids && mask && len && buf;
  for (int i = 0; ok && i < n; i++) {
    const char *s = argv[first + i];
    int64_t k = tg_tokenizer_encode(tok, s, -1, TG_TOKENIZE_ADD_SPECIAL, buf, bufcap);
    if (k > bufcap) { /* a long sentence: again with room for all */
      int32_t *grown = (int32_t *)realloc(buf, sizeof(int32_t) * (size_t)k);
      if (grown) buf = grown, bufcap = k;
      k = grown ? tg_tokenizer_encode(tok, s, -1, TG_TOKENIZE_ADD_SPECIAL, buf, bufcap) : -1;
    }
    if (k < 2 || k > bufcap) {
      fprintf(stderr, "embed: cannot tokenize \"%s\": %s\n", s, tg_error() ? tg_error() : "no [CLS] and [SEP]");
      ok = 0;
      break;
    }
    if (k > cap) buf[cap - 1] = buf[k - 1], k = cap; /* the first cap - 1 tokens and [SEP] */
    memcpy(ids + i * cap, buf, sizeof(int32_t) * (size_t)k);
    len[i] = k, T = k > T ? k : T;
  }
  free(buf);
  tg_tokenizer_free(tok);
  float *e = NULL;
  int status = 1;
  double t0 = embed_now(), t1 = t0;
  if (ok) {
    /* one batch of n rows of T: row i is ids[i * cap ..], its first len[i] tokens unmasked */
    for (int i = 0; i < n; i++) {
      memmove(ids + i * T, ids + i * cap, sizeof(int32_t) * (size_t)T);
      for (int64_t t = 0; t < T; t++) mask[i * T + t] = t < len[i];
    }
    tg_tensor *emb = bert_embed(&m, ids, mask, n, T);
    e = emb ? tg_to_float(emb) : NULL;
    t1 = embed_now();
    if (!e) fprintf(stderr, "embed: %s\n", bert_error() ? bert_error() : tg_error());
    tg_free(emb);
  }
  if (e) {
    int D = m.dim;
    for (int i = 0; i < n; i++) {
      printf("[%d] %lld tokens:", i, (long long)len[i]);
      for (int j = 0; j < 6; j++) printf(" %9.6f", e[i * D + j]);
      printf(" ...  %s\n", argv[first + i]);
    }
    printf("cosine similarity:\n     ");
    for (int j = 0; j < n; j++) {
      char label[16];
      snprintf(label, sizeof label, "[%d]", j);
      printf(" %8s", label);
    }
    printf("\n");
    for (int i = 0; i < n; i++) {
      char label[16];
      snprintf(label, sizeof label, "[%d]", i);
      printf("%5s", label);
      for (int j = 0; j < n; j++) {
        double c = 0;
        for (int d = 0; d < D; d++) c += (double)e[i * D + d] * e[j * D + d];
        printf(" %8.4f", c);
      }
      printf("\n");
    }
    printf("(%d sentences of up to %lld tokens embedded in %.3f s)\n", n, (long long)T, t1 - t0);
    status = 0;
  }
  free(e);
  free(ids);
  free(mask);
  free(len);
  bert_free(&m);
  return status;
}
