/* chat.c: chat with a llama-architecture GGUF model (SmolLM2-135M-Instruct by default) in the terminal, streaming,
 * as tinygrad.llm does: the model's chat template, a KV cache, a JIT for prompt chunks and one for decoding.
 *
 *   build/chat [--model FILE.gguf] [--temperature T] [--top-k K] [--top-p P] [--repeat-penalty R] [--seed S]
 *              [--max-tokens N] [--ctx N] [--chunk N] [--kv f16|f32] [--act f32|q8] [--system TEXT] [--prompt TEXT]
 *
 * --kv: the KV cache's dtype; float16 (the default, as llama.cpp's) takes half the memory, float32 is exact.
 * --act: the decode's activations in its products with the weights; float32 (the default) is exact, q8 quantises
 *        them to 8 bits per block of 32 as llama.cpp does (integer dot products: faster, logits within about 0.5).
 *
 * With --prompt it answers that one user turn and exits: only the generated text goes to stdout, the figures (prompt
 * and generation tokens/s, GB/s of weights read) to stderr, for scripts and tests. Without it, it reads a line at a
 * time from stdin and keeps the conversation (the cache keeps what was said; each turn feeds only what is new).
 * DEV=CUDA runs it on a GPU when the program is built with backends/tinygrad_cuda.h (make chat-cuda). */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#ifdef CHAT_CUDA
#include "backends/tinygrad_cuda.h"
#endif
#include "llama_model.h"

#include <sys/stat.h>
#include <time.h>

static double chat_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void chat_usage(void) {
  fprintf(stderr, "usage: chat [--model FILE.gguf] [--temperature T] [--top-k K] [--top-p P] [--repeat-penalty R]\n"
                  "            [--seed S] [--max-tokens N] [--ctx N] [--chunk N] [--kv f16|f32] [--act f32|q8]\n"
                  "            [--system TEXT] [--prompt TEXT]\n");
}

typedef struct chat_state {
  tg_tokenizer *tok;
  llama_model m;
  llama_cache c;
  llama_sampler smp;
  int32_t *hist; /* every token the cache holds, and the ones it is about to */
  int64_t nhist, cap;
  int max_tokens;
  double bytes;  /* of weights read per token */
} chat_state;

static int chat_push(chat_state *s, int32_t id) {
  if (s->nhist == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 1024;
    int32_t *h = (int32_t *)realloc(s->hist, sizeof(int32_t) * (size_t)s->cap);
    if (!h) return -1;
    s->hist = h;
  }
  s->hist[s->nhist++] = id;
  return 0;
}

/* the conversation so far rendered and tokenised; its tokens after what the cache holds are fed, then the reply is
 * generated and streamed to stdout. Returns the reply (malloc'd), or NULL on error */
static char *chat_turn(chat_state *s, const char *const *roles, const char *const *contents, int n) {
  int64_t len = tg_tokenizer_chat(s->tok, roles, contents, n, 1, NULL, 0);
  char *text = len >= 0 ? (char *)malloc((size_t)len + 1) : NULL;
  if (!text || tg_tokenizer_chat(s->tok, roles, contents, n, 1, text, len + 1) != len) {
    fprintf(stderr, "chat: %s\n", tg_error() ? tg_error() : "out of memory");
    free(text);
    return NULL;
  }
  int64_t cap = len + 16, nids;
  int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
  nids = ids ? tg_tokenizer_encode(s->tok, text, len, TG_TOKENIZE_PARSE_SPECIAL, ids, cap) : -1;
  free(text);
  if (nids < 0) {
    fprintf(stderr, "chat: %s\n", tg_error());
    free(ids);
    return NULL;
  }
  /* what the cache holds must be a prefix of the new text's tokens; else it starts over */
  int64_t same = 0;
  while (same < s->c.n_past && same < nids && s->hist[same] == ids[same]) same++;
  if (same == nids) same = nids - 1; /* at least one token to feed, for the logits */
  if (same < s->c.n_past) s->c.n_past = same;
  s->nhist = s->c.n_past;
  for (int64_t i = s->c.n_past; i < nids; i++) chat_push(s, ids[i]);
  double t0 = chat_now();
  tg_tensor *logits = llama_feed(&s->c, ids + s->c.n_past, nids - s->c.n_past);
  double t1 = chat_now();
  int64_t fed = nids - same;
  free(ids);
  if (!logits) {
    fprintf(stderr, "chat: %s\n", tg_error() ? tg_error() : "the prompt does not fit the context");
    return NULL;
  }
  tg_tokenizer_stream *st = tg_tokenizer_stream_new(s->tok);
  size_t rcap = 256, rlen = 0;
  char *reply = (char *)malloc(rcap), piece[512];
  reply[0] = 0;
  int32_t eos = tg_tokenizer_eos(s->tok), eot = tg_tokenizer_eot(s->tok);
  int generated = 0;
  double t2 = chat_now();
  for (; generated < s->max_tokens; generated++) {
    int32_t id = -1;
    if (s->smp.temperature <= 0 && s->smp.repeat_penalty == 1) {
      id = llama_greedy(&s->c); /* chosen on the device: 4 bytes come back, not the logits */
    } else {
      float *f = tg_to_float(logits);
      id = f ? llama_sample(&s->smp, f, s->m.vocab, s->hist, (int)s->nhist) : -1;
      free(f);
    }
    if (id < 0 || id == eos || id == eot) break;
    int64_t k = tg_tokenizer_stream_push(st, id, piece, sizeof piece);
    if (k > 0) {
      fwrite(piece, 1, (size_t)k, stdout);
      fflush(stdout);
      while (rlen + (size_t)k + 1 > rcap) reply = (char *)realloc(reply, rcap *= 2);
      memcpy(reply + rlen, piece, (size_t)k);
      reply[rlen += (size_t)k] = 0;
    }
    chat_push(s, id);
    if (s->c.n_past + 1 > s->c.max_ctx) {
      fprintf(stderr, "\nchat: the context of %lld tokens is full\n", (long long)s->c.max_ctx);
      generated++;
      break;
    }
    if (!(logits = llama_feed(&s->c, &id, 1))) break;
  }
  int64_t k = tg_tokenizer_stream_flush(st, piece, sizeof piece);
  if (k > 0) fwrite(piece, 1, (size_t)k, stdout);
  tg_tokenizer_stream_free(st);
  printf("\n");
  double t3 = chat_now(), gen_s = t3 - t2;
  fprintf(stderr, "prompt: %lld tokens in %.3f s (%.1f tokens/s); generation: %d tokens in %.3f s (%.1f tokens/s, "
                  "%.2f GB/s of weights)\n", (long long)fed, t1 - t0, (double)fed / (t1 - t0), generated, gen_s,
          generated / gen_s, generated * s->bytes / gen_s / 1e9);
  return reply;
}

int main(int argc, char **argv) {
  const char *dir = getenv("TG_LLM_DIR") && getenv("TG_LLM_DIR")[0] ? getenv("TG_LLM_DIR") : "build/llm";
  char def[512];
  snprintf(def, sizeof def, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
  const char *model = def, *prompt = NULL, *system = NULL;
  chat_state s;
  memset(&s, 0, sizeof s);
  s.smp.temperature = 0.7, s.smp.top_k = 40, s.smp.top_p = 0.9, s.smp.repeat_penalty = 1.1;
  s.smp.repeat_last_n = 64, s.smp.rng = (uint64_t)time(NULL);
  s.max_tokens = 512;
  int64_t ctx = 1024, chunk = 32;
  tg_dtype kv = TG_FLOAT16;
  int q8 = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return chat_usage(), 0;
    if (!v) return chat_usage(), 2;
    if (!strcmp(a, "--model")) model = v;
    else if (!strcmp(a, "--prompt")) prompt = v;
    else if (!strcmp(a, "--system")) system = v;
    else if (!strcmp(a, "--temperature")) s.smp.temperature = atof(v);
    else if (!strcmp(a, "--top-k")) s.smp.top_k = atoi(v);
    else if (!strcmp(a, "--top-p")) s.smp.top_p = atof(v);
    else if (!strcmp(a, "--repeat-penalty")) s.smp.repeat_penalty = atof(v);
    else if (!strcmp(a, "--seed")) s.smp.rng = (uint64_t)strtoull(v, NULL, 10);
    else if (!strcmp(a, "--max-tokens")) s.max_tokens = atoi(v);
    else if (!strcmp(a, "--ctx")) ctx = atoll(v);
    else if (!strcmp(a, "--chunk")) chunk = atoll(v);
    else if (!strcmp(a, "--kv") && (!strcmp(v, "f16") || !strcmp(v, "f32")))
      kv = !strcmp(v, "f16") ? TG_FLOAT16 : TG_FLOAT32;
    else if (!strcmp(a, "--act") && (!strcmp(v, "f32") || !strcmp(v, "q8"))) q8 = !strcmp(v, "q8");
    else return chat_usage(), 2;
    i++;
  }
  if (ctx < 2 || chunk < 1 || s.max_tokens < 0) return chat_usage(), 2;
  double t0 = chat_now();
  tg_gguf *g = tg_gguf_load(model);
  if (!g) {
    fprintf(stderr, "chat: %s\nHINT: make llm-files fetches SmolLM2 into build/llm\n", tg_error());
    return 1;
  }
  s.tok = tg_tokenizer_from_gguf(g);
  if (!s.tok || llama_load(&s.m, g) != 0 || llama_cache_init_kv(&s.c, &s.m, ctx, chunk, kv) != 0) {
    fprintf(stderr, "chat: %s\n", tg_error() ? tg_error() : "cannot load the model");
    return 1;
  }
  s.c.q8 = q8;
  struct stat sb;
  s.bytes = stat(model, &sb) == 0 ? (double)sb.st_size : 0; /* the weights, nearly all of the file */
  fprintf(stderr, "chat: %s loaded in %.2f s (%d layers, width %d, %lld tokens of context)\n", model,
          chat_now() - t0, s.m.n_layer, s.m.dim, (long long)ctx);
  const char *roles[256], *contents[256];
  char *owned[256];
  int n = 0, rc = 0;
  if (system) roles[n] = "system", contents[n] = system, owned[n++] = NULL;
  if (prompt) {
    roles[n] = "user", contents[n++] = prompt;
    char *r = chat_turn(&s, roles, contents, n);
    rc = r ? 0 : 1;
    free(r);
  } else {
    char line[4096];
    fprintf(stderr, "> ");
    while (n + 2 < 256 && fgets(line, sizeof line, stdin)) {
      line[strcspn(line, "\n")] = 0;
      if (!line[0]) {
        fprintf(stderr, "> ");
        continue;
      }
      owned[n] = strdup(line);
      roles[n] = "user", contents[n] = owned[n], n++;
      char *r = chat_turn(&s, roles, contents, n);
      if (!r) break;
      roles[n] = "assistant", contents[n] = owned[n] = r, n++;
      fprintf(stderr, "> ");
    }
    for (int i = 0; i < n; i++)
      if (roles[i][0] != 's') free(owned[i]);
  }
  llama_cache_free(&s.c);
  llama_free(&s.m);
  tg_tokenizer_free(s.tok);
  tg_gguf_free(g);
  free(s.hist);
  return rc;
}
