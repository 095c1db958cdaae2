/* llm_synth.c: writes tests/llm_synth.h's two cross-check models (Qwen2's and Llama 3's layouts with their real
 * vocabularies and random weights) for tools/llm_crosscheck.sh.
 *
 *   llm_synth VOCAB_DIR OUT_DIR   ->  OUT_DIR/synth-qwen2.gguf, OUT_DIR/synth-llama3.gguf */
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "tests/llm_synth.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: llm_synth VOCAB_DIR OUT_DIR\n");
    return 2;
  }
  static const char *const out[2] = {"synth-qwen2.gguf", "synth-llama3.gguf"};
  for (int i = 0; i < 2; i++) {
    char vp[1024], op[1024];
    snprintf(vp, sizeof vp, "%s/%s", argv[1], ls_vocab_names[i]);
    snprintf(op, sizeof op, "%s/%s", argv[2], out[i]);
    ls_config c = ls_model(i, vp);
    if (ls_write(&c, op)) return 1;
  }
  return 0;
}
