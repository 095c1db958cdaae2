/* llm.c: SmolLM2-135M-Instruct (Q4_1 GGUF) on this machine against llama.cpp's llama-bench on the same file in the
 * same run (bench/llama_bench.sh builds it): prompt processing of 128 tokens, generation, the time from the start to
 * the first token of an answer (with a warm kernel cache), and the peak memory against the file's size. The
 * decode multiplies 8-bit activations by the weights' quants on a CPU, as llama.cpp does; LLM_Q8=0 keeps float32
 * (a GPU's default: LLM_Q8=1 for 8 bits there).
 * THREADS (default: all cores) is what both use; DEV=CUDA measures a GPU (with the CUDA backend compiled in:
 * make build/bench/llm-cuda), where llama.cpp's CPU figure is printed for orientation only. */
#define TINYGRAD_IMPLEMENTATION
#include "../tinygrad.h"
#ifdef LLM_CUDA
#include "../backends/tinygrad_cuda.h"
#endif
#include "../examples/llama_model.h"
#include "bench.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
  double t_start = bench_now();
  const char *dir = getenv("TG_LLM_DIR") && getenv("TG_LLM_DIR")[0] ? getenv("TG_LLM_DIR") : "build/llm";
  char path[512];
  snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir);
  struct stat sb;
  if (stat(path, &sb) != 0) {
    printf("llm: %s is missing (make llm-files): skipped\n", path);
    return 0;
  }
  tg_gguf *g = tg_gguf_load(path);
  tg_tokenizer *tok = g ? tg_tokenizer_from_gguf(g) : NULL;
  llama_model m;
  llama_cache c;
  if (!tok || llama_load(&m, g) != 0 || llama_cache_init_kv(&c, &m, 512, 32, TG_FLOAT16) != 0) {
    printf("llm: %s\n", tg_error());
    return 1;
  }
  /* the decode's products with 8-bit activations on a CPU, as llama.cpp's (LLM_Q8=0: float32 activations); a GPU
   * keeps float32 by default (H200: 350-357 tokens/s against 307 with 8 bits, which have no GPU tile yet) */
  const char *dev = getenv("DEV");
  c.q8 = getenv("LLM_Q8") ? atoi(getenv("LLM_Q8")) : !dev || !*dev || !strcmp(dev, "CPU") || !strcmp(dev, "cpu");
  /* the first answer: template, tokens, prefill and the first token */
  const char *role = "user", *q = "What is the capital of France?";
  char text[512];
  int32_t ids[512];
  int64_t n = tg_tokenizer_encode(tok, text, tg_tokenizer_chat(tok, &role, &q, 1, 1, text, sizeof text), 1, ids, 512);
  int32_t first = llama_feed(&c, ids, n) ? llama_greedy(&c) : -1;
  double t_first = bench_now() - t_start;
  /* as llama-bench's pp128 and tg64: a prompt of 128 tokens (four chunks of 32) into an empty cache, then 64 tokens
   * generated one at a time (greedy) from an empty cache */
  for (int i = 0; i < 128; i++) ids[i] = (int32_t)((i * 7919 + 13) % m.vocab);
  double pp[3], tg[3];
  for (int r = -1; r < 3; r++) { /* r = -1 warms up */
    c.n_past = 0;
    double t0 = bench_now();
    tg_tensor *lg = llama_feed(&c, ids, 128);
    int32_t next = llama_greedy(&c);
    double t1 = bench_now();
    c.n_past = 0;
    for (int i = 0; i < 64 && lg; i++) {
      lg = llama_feed(&c, &next, 1);
      next = lg ? llama_greedy(&c) : -1;
    }
    double t2 = bench_now();
    if (!lg || next < 0) {
      printf("llm: %s\n", tg_error());
      return 1;
    }
    if (r >= 0) pp[r] = 128 / (t1 - t0), tg[r] = 64 / (t2 - t1);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss_mb = (double)ru.ru_maxrss / 1024, file_mb = (double)sb.st_size / 1048576;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const char *th = getenv("THREADS");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "bench/llama_bench.sh '%s' %ld 2>/dev/null", path, th && atoi(th) > 0 ? atol(th) : cores);
  double ref_pp = NAN, ref_tg = NAN;
  FILE *p = popen(cmd, "r");
  if (p) {
    if (fscanf(p, "%lf %lf", &ref_pp, &ref_tg) != 2) ref_pp = ref_tg = NAN;
    pclose(p);
  }
  printf("SmolLM2-135M Q4_1, %ld cores%s, %s activations in the decode; first answer token %d ('The' is 504)\n",
         cores, getenv("DEV") ? getenv("DEV") : "", c.q8 ? "8-bit" : "float32", first);
  bench_report("prompt processing, 128 tokens (tokens/s)", bench_median(pp, 3), ref_pp, "tok/s", "llama.cpp", 1);
  bench_report("generation, 64 tokens (tokens/s)", bench_median(tg, 3), ref_tg, "tok/s", "llama.cpp", 1);
  bench_report("start to the first answer token (s)", t_first, 1.0, "s", "target", 0);
  bench_report("peak RSS (MB) / file size", rss_mb, 1.5 * file_mb, "MB", "1.5x the file", 0);
  llama_cache_free(&c);
  llama_free(&m);
  tg_tokenizer_free(tok);
  tg_gguf_free(g);
  return 0;
}
