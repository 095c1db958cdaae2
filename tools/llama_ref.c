/* llama_ref.c: llama.cpp's forward on a GGUF, the reference of tests/test_llama.c's cross-check (built and run by
 * tools/llm_crosscheck.sh against libllama from the llama-cpp-python source package; not part of tinygrad.h).
 *
 *   llama_ref MODEL.gguf INDEX STEPS TEXT
 *
 * Tokenizes TEXT with llama.cpp's tokenizer (special tokens parsed, none added: TEXT is the chat template's
 * rendering), runs the prompt in one batch and then STEPS greedy tokens one at a time, with a float32 KV cache on the
 * CPU. Prints, for tests/golden/llama_crosscheck.txt:
 *   model INDEX
 *   prompt N id...
 *   step S best ID gap G top ID:LOGIT ... (the 8 largest logits, largest first; G the first minus the second)
 * and the generated text on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *user) {
  (void)user;
  if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: llama_ref MODEL.gguf INDEX STEPS TEXT\n");
    return 2;
  }
  int steps = atoi(argv[3]);
  const char *text = argv[4];
  llama_log_set(quiet, NULL);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  struct llama_model *model = llama_model_load_from_file(argv[1], mp);
  if (!model) {
    fprintf(stderr, "llama_ref: cannot load %s\n", argv[1]);
    return 1;
  }
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 512, cp.n_batch = 512, cp.n_ubatch = 512;
  cp.n_threads = cp.n_threads_batch = 2;
  cp.type_k = cp.type_v = GGML_TYPE_F32; /* exact, as the test's float32 cache */
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  struct llama_context *ctx = llama_init_from_model(model, cp);
  const struct llama_vocab *vocab = llama_model_get_vocab(model);
  int nv = llama_vocab_n_tokens(vocab);
  llama_token ids[512];
  int n = ctx ? llama_tokenize(vocab, text, (int)strlen(text), ids, 512, false, true) : -1;
  if (n < 1) {
    fprintf(stderr, "llama_ref: cannot tokenize or make a context\n");
    return 1;
  }
  printf("model %s\nprompt %d", argv[2], n);
  for (int i = 0; i < n; i++) printf(" %d", ids[i]);
  printf("\n");
  struct llama_batch batch = llama_batch_get_one(ids, n);
  for (int s = 0; s < steps; s++) {
    if (llama_decode(ctx, batch)) {
      fprintf(stderr, "llama_ref: llama_decode failed at step %d\n", s);
      return 1;
    }
    const float *lg = llama_get_logits_ith(ctx, -1);
    int top[8];
    for (int k = 0; k < 8; k++) { /* the k-th largest, the first of equals */
      int b = -1;
      for (int i = 0; i < nv; i++) {
        int used = 0;
        for (int j = 0; j < k; j++) used |= top[j] == i;
        if (!used && (b < 0 || lg[i] > lg[b])) b = i;
      }
      top[k] = b;
    }
    printf("step %d best %d gap %.5f top", s, top[0], lg[top[0]] - lg[top[1]]);
    for (int k = 0; k < 8; k++) printf(" %d:%.5f", top[k], lg[top[k]]);
    printf("\n");
    char piece[256];
    int pl = llama_token_to_piece(vocab, top[0], piece, sizeof piece, 0, true);
    if (pl > 0) fwrite(piece, 1, (size_t)pl, stderr);
    ids[n + s] = top[0];
    batch = llama_batch_get_one(&ids[n + s], 1);
  }
  fprintf(stderr, "\n");
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
