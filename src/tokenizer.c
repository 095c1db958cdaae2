/* tokenizer.c: byte-level BPE tokenizers (GPT-2's kind) from a GGUF file's metadata, with llama.cpp's pre-tokenizers
 * (layer 5).
 *
 * Contract:
 *  - tg_tokenizer_from_gguf reads tokenizer.ggml.model "gpt2" (byte-level BPE): tokenizer.ggml.tokens (the vocabulary;
 *    a token's id is its index), tokenizer.ggml.merges ("a b", the first the highest priority) and
 *    tokenizer.ggml.pre, the pre-tokenizer: "gpt-2" (and "default"), "starcoder" and "smollm" (digits split one by
 *    one, then GPT-2's regex), "llama-bpe" (Llama 3's regex: letters with one leading non-letter, numbers in runs of
 *    at most three, and a word that is a token whole taken as it is, as llama.cpp's ignore_merges), "qwen2" (Llama
 *    3's with single digits). Any other model or pre-tokenizer is an error naming the supported ones.
 *  - Special tokens first, as llama.cpp: the user-defined tokens (tokenizer.ggml.token_type 4), and the control ones
 *    (3, such as "<|im_start|>") when asked, split the text where they occur, the longest first; none is added.
 *  - Then each part between them, as llama.cpp: the text (UTF-8; an invalid byte counts as
 *    a code point of no class) is split by the pre-tokenizer's regex into pieces (text between matches is a piece
 *    too), each piece's bytes are mapped to GPT-2's printable characters, and adjacent symbols are merged by the
 *    lowest-ranked merge until none applies (the leftmost of equals first). A symbol that is no token falls back to
 *    its bytes' tokens.
 *  - Decoding maps each token's characters back to bytes (a character outside GPT-2's map is kept as its UTF-8).
 *  - The regexes are hand-written matchers, one per pre-tokenizer, over the code points' classes (src/unicode.c),
 *    each following its regex's alternatives in order, as llama.cpp's unicode.cpp does for the same ones. */
#include "internal.h"

enum { TG__PRE_GPT2, TG__PRE_STARCODER, TG__PRE_LLAMA3, TG__PRE_QWEN2 };
enum { TG__TOK_BPE, TG__TOK_SPM, TG__TOK_WPM };                       /* the model */
enum { TG__TT_NORMAL = 1, TG__TT_UNKNOWN = 2, TG__TT_CONTROL = 3, TG__TT_USER = 4, TG__TT_BYTE = 6 }; /* GGUF's */

/* a string -> int table, open addressing. The keys are copied into one arena, NUL-terminated (a key apiece cost
 * SmolLM2's 98000 vocabulary and merge strings 3 MB of allocator overhead) */
typedef struct tg__stab {
  char *arena;
  int64_t used, room;
  int64_t *off; /* per slot: its key's offset in the arena, -1 when the slot is empty */
  int32_t *klen, *val;
  int64_t cap, n;
} tg__stab;

static uint64_t tg__stab_hash(const char *s, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static void tg__stab_init(tg__stab *t, int64_t n) {
  memset(t, 0, sizeof *t);
  t->cap = 16;
  while (t->cap < 2 * n + 16) t->cap *= 2;
  t->off = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)t->cap);
  t->klen = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)t->cap);
  t->val = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)t->cap);
  for (int64_t i = 0; i < t->cap; i++) t->off[i] = -1;
}

static int32_t tg__stab_get(const tg__stab *t, const char *s, int64_t n) {
  for (uint64_t h = tg__stab_hash(s, n) & (uint64_t)(t->cap - 1);; h = (h + 1) & (uint64_t)(t->cap - 1)) {
    if (t->off[h] < 0) return -1;
    if (t->klen[h] == n && !memcmp(t->arena + t->off[h], s, (size_t)n)) return t->val[h];
  }
}

/* adds s -> v unless s is there already (the first one stays). The table never fills: it has room for twice the
 * keys its init was told of, and grows when half full. A key of 2 GB or more is not added (no token is so long) */
static void tg__stab_put(tg__stab *t, const char *s, int64_t n, int32_t v) {
  if (n < 0 || n >= INT32_MAX) return;
  if (2 * (t->n + 1) > t->cap) { /* twice the slots, every key placed again */
    tg__stab old = *t;
    t->cap *= 2;
    t->off = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)t->cap);
    t->klen = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)t->cap);
    t->val = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)t->cap);
    for (int64_t i = 0; i < t->cap; i++) t->off[i] = -1;
    for (int64_t i = 0; i < old.cap; i++) {
      if (old.off[i] < 0) continue;
      uint64_t h = tg__stab_hash(old.arena + old.off[i], old.klen[i]) & (uint64_t)(t->cap - 1);
      while (t->off[h] >= 0) h = (h + 1) & (uint64_t)(t->cap - 1);
      t->off[h] = old.off[i], t->klen[h] = old.klen[i], t->val[h] = old.val[i];
    }
    TG_FREE(old.off);
    TG_FREE(old.klen);
    TG_FREE(old.val);
  }
  uint64_t h = tg__stab_hash(s, n) & (uint64_t)(t->cap - 1);
  for (; t->off[h] >= 0; h = (h + 1) & (uint64_t)(t->cap - 1))
    if (t->klen[h] == n && !memcmp(t->arena + t->off[h], s, (size_t)n)) return;
  if (t->used + n + 1 > t->room) {
    while (t->used + n + 1 > t->room) t->room = t->room ? 2 * t->room : 4096;
    t->arena = (char *)tg__realloc(t->arena, (size_t)t->room);
  }
  memcpy(t->arena + t->used, s, (size_t)n);
  t->arena[t->used + n] = 0;
  t->off[h] = t->used, t->klen[h] = (int32_t)n, t->val[h] = v, t->n++;
  t->used += n + 1;
}

/* gives back the arena's unused room, once every key is in */
static void tg__stab_trim(tg__stab *t) {
  if (t->arena && t->room > t->used) t->arena = (char *)tg__realloc(t->arena, (size_t)(t->used ? t->used : 1));
  t->room = t->used;
}

/* the table's copy of key s (NUL-terminated), or NULL */
static const char *tg__stab_key(const tg__stab *t, const char *s, int64_t n) {
  for (uint64_t h = tg__stab_hash(s, n) & (uint64_t)(t->cap - 1);; h = (h + 1) & (uint64_t)(t->cap - 1)) {
    if (t->off[h] < 0) return NULL;
    if (t->klen[h] == n && !memcmp(t->arena + t->off[h], s, (size_t)n)) return t->arena + t->off[h];
  }
}

static void tg__stab_free(tg__stab *t) {
  TG_FREE(t->arena);
  TG_FREE(t->off);
  TG_FREE(t->klen);
  TG_FREE(t->val);
}

struct tg_tokenizer {
  int kind, pre;
  int64_t nvocab;
  char **tokens; /* (nvocab) NUL-terminated copies; once finished (tg__tok_finish), the vocabulary table's */
  int shared;    /* the tokens are the table's keys (but one too long for it) */
  int64_t *tlen;
  tg__stab vocab, merges;
  int32_t *special; /* the tokens matched in the text before it is split: user-defined ones (always) and control
                       and unknown ones (when asked), longest first */
  int64_t nspecial;
  unsigned char *type; /* (nvocab) tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte */
  char bytechar[256][3]; /* BPE: GPT-2's printable character of each byte, UTF-8 */
  int16_t charbyte[512]; /* and back: the byte of each of those code points (< 512), -1 for others */
  int ignore_merges;     /* BPE: a piece that is a token whole is taken whole (Llama 3's) */
  int by_rank;           /* BPE (tiktoken): a pair's rank is its concatenation's id; no merges table */
  float *score;          /* SPM: (nvocab) each token's score, the higher merged first */
  int32_t byte_id[256];  /* SPM: the token of each byte (<0xXX>), -1 when none */
  int space_prefix;      /* SPM: a space before the text and after each special token (add_space_prefix) */
  /* WordPiece: the words' first pieces are looked up as first + piece, the others as cont + piece (GGUF: "\u2581"
   * and ""; Hugging Face: "" and "##"); a word of more than max_chars code points is unk */
  char wp_first[16], wp_cont[16];
  int64_t max_chars;
  int64_t max_tlen;                 /* the longest token's bytes: no longer piece is looked up */
  int lowercase, strip_accents, hf; /* hf: Hugging Face's BertNormalizer (json), else llama.cpp's */
  int32_t unk, bos, eos, eot;       /* -1 when none */
  int32_t pre_ids[4], post_ids[4];  /* TG_TOKENIZE_ADD_SPECIAL's tokens before and after the text */
  int npre, npost;
  char *chat_template; /* the GGUF's tokenizer.chat_template, NULL without */
};

/* GPT-2's bytes_to_unicode: the printable bytes stand for themselves, the others for 256 + their rank */
static void tg__tok_bytemap(tg_tokenizer *t) {
  int next = 0;
  for (int i = 0; i < 512; i++) t->charbyte[i] = -1;
  for (int b = 0; b < 256; b++) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    int cp = printable ? b : 256 + next++;
    t->charbyte[cp] = (int16_t)b;
    if (cp < 0x80) t->bytechar[b][0] = (char)cp, t->bytechar[b][1] = 0;
    else t->bytechar[b][0] = (char)(0xc0 | (cp >> 6)), t->bytechar[b][1] = (char)(0x80 | (cp & 0x3f)), t->bytechar[b][2] = 0;
  }
}

void tg_tokenizer_free(tg_tokenizer *t) {
  TG__LOCKED();
  if (!t) return;
  uintptr_t lo = (uintptr_t)t->vocab.arena, hi = lo + (uintptr_t)t->vocab.used;
  for (int64_t i = 0; t->tokens && i < t->nvocab; i++) /* but the table's keys */
    if (!(t->shared && (uintptr_t)t->tokens[i] >= lo && (uintptr_t)t->tokens[i] < hi)) TG_FREE(t->tokens[i]);
  TG_FREE(t->tokens);
  TG_FREE(t->tlen);
  TG_FREE(t->special);
  TG_FREE(t->type);
  TG_FREE(t->score);
  TG_FREE(t->chat_template);
  tg__stab_free(&t->vocab);
  tg__stab_free(&t->merges);
  TG_FREE(t);
}

/* a tokenizer of nv tokens, none of them set yet */
static tg_tokenizer *tg__tok_new(int kind, int64_t nv) {
  tg_tokenizer *t = (tg_tokenizer *)tg__alloc(sizeof(tg_tokenizer));
  t->kind = kind, t->nvocab = nv;
  tg__tok_bytemap(t);
  t->tokens = (char **)tg__alloc(sizeof(char *) * (size_t)nv);
  t->tlen = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)nv);
  t->type = (unsigned char *)tg__alloc((size_t)nv);
  t->special = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)nv);
  t->unk = t->bos = t->eos = t->eot = -1;
  t->max_chars = INT64_MAX;
  for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
  return t;
}

/* once the tokens and their types are set: the text-to-id table, the special tokens longest first, the byte
 * tokens, and an end-of-turn token found by its text (as llama.cpp does) when none was declared */
static void tg__tok_finish(tg_tokenizer *t) {
  static const char *const eots[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                     "<|end_of_text|>", "<EOT>"};
  tg__stab_init(&t->vocab, t->nvocab);
  t->nspecial = 0;
  for (int64_t i = 0; i < t->nvocab; i++) {
    if (!t->tokens[i]) t->tokens[i] = tg__strdup(""), t->tlen[i] = 0; /* a hole in a json vocabulary */
    tg__stab_put(&t->vocab, t->tokens[i], t->tlen[i], (int32_t)i);
    if (t->tlen[i] > t->max_tlen) t->max_tlen = t->tlen[i];
    int ty = t->type[i];
    if ((ty == TG__TT_UNKNOWN || ty == TG__TT_CONTROL || ty == TG__TT_USER) && t->tlen[i] > 0)
      t->special[t->nspecial++] = (int32_t)i;
    unsigned v;
    char c;
    if (ty == TG__TT_BYTE && t->tlen[i] == 6 && sscanf(t->tokens[i], "<0x%2X%c", &v, &c) == 2 && c == '>')
      t->byte_id[v] = (int32_t)i;
  }
  for (int64_t i = 1; i < t->nspecial; i++) /* longest first (insertion sort: a few hundred at most), then by id */
    for (int64_t j = i; j > 0 && t->tlen[t->special[j]] > t->tlen[t->special[j - 1]]; j--) {
      int32_t x = t->special[j];
      t->special[j] = t->special[j - 1], t->special[j - 1] = x;
    }
  for (int k = 0; t->eot < 0 && k < TG__COUNT(eots); k++)
    t->eot = tg__stab_get(&t->vocab, eots[k], (int64_t)strlen(eots[k]));
  /* the tokens become the table's keys (a token written twice: the first's, the same bytes) */
  tg__stab_trim(&t->vocab);
  for (int64_t i = 0; i < t->nvocab; i++) {
    const char *k = tg__stab_key(&t->vocab, t->tokens[i], t->tlen[i]);
    if (!k) continue; /* a token too long for the table (2 GB): it keeps its copy */
    TG_FREE(t->tokens[i]);
    t->tokens[i] = (char *)k;
  }
  t->shared = 1;
}

/* a GGUF integer key as a token id (-1 when absent or outside the vocabulary) */
static int32_t tg__gguf_id(const tg_gguf *g, const char *key, int32_t dflt, int64_t nv) {
  int64_t k = tg_gguf_kv_find(g, key), v = -1;
  if (k < 0) return dflt >= 0 && dflt < nv ? dflt : -1;
  if (tg_gguf_kv_int(g, k, 0, &v) != 0) tg_clear_error(), v = -1;
  return v >= 0 && v < nv ? (int32_t)v : -1;
}

static int tg__gguf_bool(const tg_gguf *g, const char *key, int dflt) {
  int64_t k = tg_gguf_kv_find(g, key), v = dflt;
  if (k >= 0 && tg_gguf_kv_int(g, k, 0, &v) != 0) tg_clear_error(), v = dflt;
  return v != 0;
}

tg_tokenizer *tg_tokenizer_from_gguf(const tg_gguf *g) {
  TG__LOCKED();
  if (!g) {
    tg__set_error("tg_tokenizer_from_gguf: the GGUF is NULL");
    return NULL;
  }
  int64_t km = tg_gguf_kv_find(g, "tokenizer.ggml.model"), kt = tg_gguf_kv_find(g, "tokenizer.ggml.tokens");
  int64_t kg = tg_gguf_kv_find(g, "tokenizer.ggml.merges"), kp = tg_gguf_kv_find(g, "tokenizer.ggml.pre");
  const char *model = tg_gguf_kv_str(g, km, 0, NULL), *pre = kp >= 0 ? tg_gguf_kv_str(g, kp, 0, NULL) : "default";
  int kind = !model ? -1 : !strcmp(model, "gpt2") ? TG__TOK_BPE : !strcmp(model, "llama") ? TG__TOK_SPM
                                                 : !strcmp(model, "bert") ? TG__TOK_WPM : -1;
  if (kind < 0) {
    tg__set_error("tg_tokenizer_from_gguf: tokenizer.ggml.model is %s%.100s%s; tinygrad.h reads byte-level BPE "
                  "(\"gpt2\"), SentencePiece (\"llama\") and WordPiece (\"bert\")", model ? "\"" : "",
                  model ? model : "absent or no string", model ? "\"" : "");
    return NULL;
  }
  if (tg_gguf_kv_element_type(g, kt) != TG_GGUF_STRING ||
      (kind == TG__TOK_BPE && tg_gguf_kv_element_type(g, kg) != TG_GGUF_STRING)) {
    tg__set_error("tg_tokenizer_from_gguf: tokenizer.ggml.tokens%s must be %s of strings",
                  kind == TG__TOK_BPE ? " and tokenizer.ggml.merges" : "", kind == TG__TOK_BPE ? "arrays" : "an array");
    return NULL;
  }
  static const struct { const char *name; int pre; } pres[] = { /* llama.cpp's names of each regex */
      {"default", TG__PRE_GPT2},          {"gpt-2", TG__PRE_GPT2},         {"mpt", TG__PRE_GPT2},
      {"olmo", TG__PRE_GPT2},             {"starcoder", TG__PRE_STARCODER}, {"smollm", TG__PRE_STARCODER},
      {"refact", TG__PRE_STARCODER},      {"command-r", TG__PRE_STARCODER}, {"llama-bpe", TG__PRE_LLAMA3},
      {"llama3", TG__PRE_LLAMA3},         {"qwen2", TG__PRE_QWEN2}};
  int which = kind == TG__TOK_BPE ? -1 : TG__PRE_GPT2; /* SPM and WordPiece have their own splitting */
  for (int i = 0; pre && i < (int)TG__COUNT(pres) && which < 0; i++)
    if (!strcmp(pre, pres[i].name)) which = pres[i].pre;
  if (which < 0) {
    tg__set_error("tg_tokenizer_from_gguf: pre-tokenizer \"%.100s\" is not one tinygrad.h has (default, gpt-2, mpt, "
                  "olmo, starcoder, smollm, refact, command-r, llama-bpe, llama3, qwen2)", pre ? pre : "(no string)");
    return NULL;
  }
  int64_t nv = tg_gguf_kv_len(g, kt), nm = kind == TG__TOK_BPE ? tg_gguf_kv_len(g, kg) : 0;
  if (nv <= 0 || nv > INT32_MAX) {
    tg__set_error("tg_tokenizer_from_gguf: a vocabulary of %lld tokens", (long long)nv);
    return NULL;
  }
  tg_tokenizer *t = tg__tok_new(kind, nv);
  t->pre = which;
  t->ignore_merges = which == TG__PRE_LLAMA3;
  int64_t ty = tg_gguf_kv_find(g, "tokenizer.ggml.token_type"), ks = tg_gguf_kv_find(g, "tokenizer.ggml.scores");
  if (kind == TG__TOK_SPM) t->score = (float *)tg__alloc(sizeof(float) * (size_t)nv);
  for (int64_t i = 0; i < nv; i++) {
    int64_t len, v = 1;
    const char *s = tg_gguf_kv_str(g, kt, i, &len);
    t->tokens[i] = (char *)tg__alloc((size_t)len + 1);
    memcpy(t->tokens[i], s, (size_t)len + 1);
    t->tlen[i] = len;
    if (ty >= 0 && tg_gguf_kv_len(g, ty) == nv && tg_gguf_kv_int(g, ty, i, &v) != 0) tg_clear_error(), v = 1;
    t->type[i] = (unsigned char)(v >= 0 && v < 8 ? v : 1);
    double sc = 0;
    if (t->score && ks >= 0 && tg_gguf_kv_len(g, ks) == nv && tg_gguf_kv_float(g, ks, i, &sc) != 0) tg_clear_error();
    if (t->score) t->score[i] = (float)sc;
  }
  tg__tok_finish(t);
  tg__stab_init(&t->merges, nm);
  for (int64_t i = 0; i < nm && i < INT32_MAX; i++) {
    int64_t len;
    const char *s = tg_gguf_kv_str(g, kg, i, &len);
    tg__stab_put(&t->merges, s, len, (int32_t)i);
  }
  tg__stab_trim(&t->merges);
  /* llama.cpp's defaults, then the file's keys */
  int bert = kind == TG__TOK_WPM, spm = kind == TG__TOK_SPM;
  t->unk = tg__gguf_id(g, "tokenizer.ggml.unknown_token_id", bert ? 100 : spm ? 0 : -1, nv);
  t->bos = tg__gguf_id(g, "tokenizer.ggml.bos_token_id", bert ? 101 : spm ? 1 : -1, nv);
  t->eos = tg__gguf_id(g, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, nv);
  int32_t eot = tg__gguf_id(g, "tokenizer.ggml.eot_token_id", -1, nv);
  if (eot >= 0) t->eot = eot;
  if (bert) {
    int32_t cls = tg__gguf_id(g, "tokenizer.ggml.cls_token_id", t->bos, nv);
    int32_t sep = tg__gguf_id(g, "tokenizer.ggml.seperator_token_id", 102, nv); /* llama.cpp's spelling */
    if (cls >= 0) t->pre_ids[t->npre++] = cls;
    if (sep >= 0) t->post_ids[t->npost++] = sep;
    memcpy(t->wp_first, "\xe2\x96\x81", 4); /* a word's first piece is spelled "\u2581piece", the others bare */
    t->lowercase = tg__gguf_bool(g, "tokenizer.ggml.normalizer.lowercase", 1);
    t->strip_accents = tg__gguf_bool(g, "tokenizer.ggml.normalizer.strip_accents", t->lowercase);
  } else {
    if (tg__gguf_bool(g, "tokenizer.ggml.add_bos_token", spm) && t->bos >= 0) t->pre_ids[t->npre++] = t->bos;
    if (tg__gguf_bool(g, "tokenizer.ggml.add_eos_token", 0) && t->eos >= 0) t->post_ids[t->npost++] = t->eos;
  }
  t->space_prefix = spm && tg__gguf_bool(g, "tokenizer.ggml.add_space_prefix", 1);
  int64_t kc = tg_gguf_kv_find(g, "tokenizer.chat_template");
  const char *tmpl = kc >= 0 ? tg_gguf_kv_str(g, kc, 0, NULL) : NULL;
  if (tmpl) t->chat_template = tg__strdup(tmpl);
  return t;
}

int64_t tg_tokenizer_vocab_size(const tg_tokenizer *t) {
  TG__LOCKED();
  return t ? t->nvocab : -1;
}

const char *tg_tokenizer_token(const tg_tokenizer *t, int32_t id) {
  TG__LOCKED();
  return t && id >= 0 && id < t->nvocab ? t->tokens[id] : NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// pre-tokenizers: the text as code points with their classes, split into pieces

typedef struct tg__cps {
  uint32_t *cp;
  int64_t *at;  /* the byte offset of each code point (at[n]: the text's length) */
  unsigned char *cls;
  int64_t n;
} tg__cps;

/* the code points of text (UTF-8; an invalid or truncated sequence is one code point per byte, of no class) */
static void tg__cps_of(tg__cps *c, const char *text, int64_t len) {
  c->cp = (uint32_t *)tg__alloc(sizeof(uint32_t) * (size_t)(len + 1));
  c->at = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(len + 1));
  c->cls = (unsigned char *)tg__alloc((size_t)len + 1);
  c->n = 0;
  const unsigned char *s = (const unsigned char *)text;
  for (int64_t i = 0; i < len;) {
    uint32_t v = s[i];
    int k = v < 0x80 ? 1 : (v >> 5) == 6 ? 2 : (v >> 4) == 14 ? 3 : (v >> 3) == 30 ? 4 : 0, ok = k > 0 && i + k <= len;
    for (int j = 1; ok && j < k; j++) ok = (s[i + j] & 0xc0) == 0x80;
    if (ok && k > 1) {
      v &= 0x7fu >> k;
      for (int j = 1; j < k; j++) v = (v << 6) | (s[i + j] & 0x3f);
    }
    c->cp[c->n] = ok ? v : 0xfffd;
    c->cls[c->n] = ok ? (unsigned char)tg__uni_class(v) : 0;
    c->at[c->n++] = i;
    i += ok ? k : 1;
  }
  c->at[c->n] = len;
}

#define TG__L(i) (c->cls[i] & TG__UNI_LETTER)
#define TG__N(i) (c->cls[i] & TG__UNI_NUMBER)
#define TG__S(i) (c->cls[i] & TG__UNI_SPACE)
#define TG__O(i) (!c->cls[i]) /* [^\s\p{L}\p{N}] */
#define TG__NL(i) (c->cp[i] == '\r' || c->cp[i] == '\n')

/* 's 't 're 've 'm 'll 'd at i (any case: `fold`): the match's end, or -1 */
static int64_t tg__pre_contraction(const tg__cps *c, int64_t i, int64_t n, int fold) {
  if (c->cp[i] != '\'' || i + 1 >= n) return -1;
  uint32_t a = c->cp[i + 1], b = i + 2 < n ? c->cp[i + 2] : 0;
  if (fold) a = a < 0x80 ? (a | 0x20) : a, b = b < 0x80 ? (b | 0x20) : b;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return -1;
}

/* \s+(?!\S)|\s+ at i (a whitespace): a run's end, less its last character when something follows */
static int64_t tg__pre_spaces(const tg__cps *c, int64_t i, int64_t n) {
  int64_t e = i;
  while (e < n && TG__S(e)) e++;
  return e == n || e - i == 1 ? e : e - 1;
}

/* GPT-2's regex at i: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static int64_t tg__pre_gpt2(const tg__cps *c, int64_t i, int64_t n) {
  int64_t e = tg__pre_contraction(c, i, n, 0);
  if (e >= 0) return e;
  for (int k = 0; k < 3; k++) {
#define TG__IN(j) (k == 0 ? TG__L(j) : k == 1 ? TG__N(j) : TG__O(j))
    int64_t j = c->cp[i] == ' ' && i + 1 < n && TG__IN(i + 1) ? i + 1 : i;
    if (!TG__IN(j)) continue;
    while (j < n && TG__IN(j)) j++;
#undef TG__IN
    return j;
  }
  return TG__S(i) ? tg__pre_spaces(c, i, n) : -1;
}

/* Llama 3's regex at i (`digits` numbers at most: 3; Qwen2's 1): (?i:'s|'t|'re|'ve|'m|'ll|'d)|
 * [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static int64_t tg__pre_llama3(const tg__cps *c, int64_t i, int64_t n, int digits) {
  int64_t e = tg__pre_contraction(c, i, n, 1), j;
  if (e >= 0) return e;
  j = !TG__NL(i) && !TG__L(i) && !TG__N(i) && i + 1 < n && TG__L(i + 1) ? i + 1 : i;
  if (TG__L(j)) {
    while (j < n && TG__L(j)) j++;
    return j;
  }
  if (TG__N(i)) {
    for (j = i; j < n && j < i + digits && TG__N(j);) j++;
    return j;
  }
  j = c->cp[i] == ' ' && i + 1 < n && TG__O(i + 1) ? i + 1 : i;
  if (TG__O(j)) {
    while (j < n && TG__O(j)) j++;
    while (j < n && TG__NL(j)) j++;
    return j;
  }
  if (!TG__S(i)) return -1;
  for (e = i; e < n && TG__S(e);) e++;
  for (j = e - 1; j >= i; j--) /* \s*[\r\n]+: up to the run's last newline */
    if (TG__NL(j)) return j + 1;
  return tg__pre_spaces(c, i, n);
}

/* the pieces of code points [a, b) by the matcher: each match, and the text between matches, in order */
static void tg__pre_split(const tg__cps *c, int64_t a, int64_t b, int pre, int64_t **cuts, int64_t *nc, int64_t *cap) {
  int64_t gap = a;
  for (int64_t i = a; i < b;) {
    int64_t e = pre == TG__PRE_LLAMA3 || pre == TG__PRE_QWEN2
                    ? tg__pre_llama3(c, i, b, pre == TG__PRE_LLAMA3 ? 3 : 1)
                    : tg__pre_gpt2(c, i, b);
    if (e <= i) {
      i++;
      continue;
    }
    for (int64_t k = 0; k < 2; k++) { /* the gap before, then the match */
      int64_t s = k ? i : gap, end = k ? e : i;
      if (end <= s) continue;
      if (*nc + 2 > *cap) *cap = *cap * 2 + 16, *cuts = (int64_t *)tg__realloc(*cuts, sizeof(int64_t) * (size_t)*cap);
      (*cuts)[(*nc)++] = s, (*cuts)[(*nc)++] = end;
    }
    i = gap = e;
  }
  if (gap < b) {
    if (*nc + 2 > *cap) *cap = *cap * 2 + 16, *cuts = (int64_t *)tg__realloc(*cuts, sizeof(int64_t) * (size_t)*cap);
    (*cuts)[(*nc)++] = gap, (*cuts)[(*nc)++] = b;
  }
}

#undef TG__L
#undef TG__N
#undef TG__S
#undef TG__O
#undef TG__NL

// ---------------------------------------------------------------------------------------------------------------------
// the ids as they come: into out while there is room, counted past it

typedef struct tg__ids {
  int32_t *out;
  int64_t n, cap;
  int prev_special; /* SPM: the last fragment was a special token (or none came yet): the next text gets a space */
} tg__ids;

static void tg__put(tg__ids *e, int32_t id) {
  if (e->out && e->n < e->cap) e->out[e->n] = id;
  e->n++;
}

// ---------------------------------------------------------------------------------------------------------------------
// BPE

typedef struct tg__sym { int64_t a, b; } tg__sym; /* a symbol: bytes [a, b) of the mapped piece */

/* the tokens of one piece (its bytes mapped to GPT-2's characters: m, each source byte's character starting at
 * cstart[k]) */
static void tg__bpe(const tg_tokenizer *t, const char *m, const int64_t *cstart, int64_t nbytes, tg__ids *e) {
  int32_t whole = t->ignore_merges ? tg__stab_get(&t->vocab, m, cstart[nbytes]) : -1;
  if (whole >= 0) { /* llama.cpp's ignore_merges: a word that is a token */
    tg__put(e, whole);
    return;
  }
  tg__sym *s = (tg__sym *)tg__alloc(sizeof(tg__sym) * (size_t)(nbytes + 1));
  int64_t ns = nbytes;
  for (int64_t k = 0; k < nbytes; k++) s[k].a = cstart[k], s[k].b = cstart[k + 1];
  char *pair = (char *)tg__alloc((size_t)cstart[nbytes] + 2);
  for (;;) {
    int32_t best = INT32_MAX;
    int64_t at = -1;
    for (int64_t k = 0; k + 1 < ns; k++) { /* "left right" */
      int64_t la = s[k].b - s[k].a, lb = s[k + 1].b - s[k + 1].a;
      memcpy(pair, m + s[k].a, (size_t)la);
      pair[la] = ' ';
      memcpy(pair + la + 1, m + s[k + 1].a, (size_t)lb);
      int32_t r = t->by_rank ? tg__stab_get(&t->vocab, m + s[k].a, la + lb) /* tiktoken: the pair's own rank */
                             : tg__stab_get(&t->merges, pair, la + 1 + lb);
      if (r >= 0 && r < best) best = r, at = k;
    }
    if (at < 0) break;
    s[at].b = s[at + 1].b;
    memmove(s + at + 1, s + at + 2, sizeof(tg__sym) * (size_t)(ns - at - 2));
    ns--;
  }
  for (int64_t k = 0; k < ns; k++) {
    int32_t id = tg__stab_get(&t->vocab, m + s[k].a, s[k].b - s[k].a);
    if (id >= 0) {
      tg__put(e, id);
      continue;
    }
    for (int64_t q = s[k].a; q < s[k].b;) { /* no such token: its characters' tokens (a byte each) */
      int64_t w = ((unsigned char)m[q] >> 5) == 6 ? 2 : 1;
      id = tg__stab_get(&t->vocab, m + q, w);
      if (id >= 0) tg__put(e, id);
      q += w;
    }
  }
  TG_FREE(pair);
  TG_FREE(s);
}

/* the tokens of raw text (no special tokens in it), byte-level BPE */
static void tg__bpe_text(const tg_tokenizer *t, const char *text, int64_t len, tg__ids *e) {
  tg__cps c;
  tg__cps_of(&c, text, len);
  int64_t *cuts = NULL, nc = 0, ccap = 0;
  if (t->pre == TG__PRE_STARCODER) { /* \p{N} first: each digit a piece, the text between pieces split by GPT-2's */
    int64_t start = 0;
    for (int64_t i = 0; i <= c.n; i++)
      if (i == c.n || (c.cls[i] & TG__UNI_NUMBER)) {
        tg__pre_split(&c, start, i, TG__PRE_GPT2, &cuts, &nc, &ccap);
        if (i < c.n) tg__pre_split(&c, i, i + 1, TG__PRE_GPT2, &cuts, &nc, &ccap);
        start = i + 1;
      }
  } else tg__pre_split(&c, 0, c.n, t->pre, &cuts, &nc, &ccap);
  char *m = (char *)tg__alloc((size_t)len * 2 + 1);
  int64_t *cstart = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(len + 1));
  for (int64_t p = 0; p < nc; p += 2) {
    int64_t b0 = c.at[cuts[p]], b1 = c.at[cuts[p + 1]], ml = 0;
    for (int64_t k = b0; k < b1; k++) { /* the piece's bytes as GPT-2's characters */
      const char *ch = t->bytechar[(unsigned char)text[k]];
      cstart[k - b0] = ml;
      for (int q = 0; ch[q]; q++) m[ml++] = ch[q];
    }
    cstart[b1 - b0] = ml;
    m[ml] = 0;
    tg__bpe(t, m, cstart, b1 - b0, e);
  }
  TG_FREE(m);
  TG_FREE(cstart);
  TG_FREE(cuts);
  TG_FREE(c.cp);
  TG_FREE(c.at);
  TG_FREE(c.cls);
}

// ---------------------------------------------------------------------------------------------------------------------
// SentencePiece (llama.cpp's SPM): spaces as U+2581, characters merged pairwise by the score of the token they make

typedef struct tg__bigram {
  int64_t left, right, size; /* symbols left and right, size their bytes together when the bigram was made */
  float score;
} tg__bigram;

/* a comes out of the heap before b: the higher score, then the leftmost */
static int tg__bigram_before(const tg__bigram *a, const tg__bigram *b) {
  return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct tg__spm {
  const tg_tokenizer *t;
  const char *s;         /* the escaped text */
  int64_t *at, *n, *prev, *next; /* each symbol: its bytes [at, at + n) (n 0 once merged away), its neighbours */
  tg__bigram *heap;
  int64_t nheap, cap;
} tg__spm;

/* the pair (left, right) onto the heap when together they are a token */
static void tg__spm_pair(tg__spm *q, int64_t left, int64_t right) {
  if (left < 0 || right < 0) return;
  int32_t id = tg__stab_get(&q->t->vocab, q->s + q->at[left], q->n[left] + q->n[right]);
  if (id < 0) return;
  if (q->nheap == q->cap) q->cap = q->cap * 2 + 16, q->heap = (tg__bigram *)tg__realloc(q->heap,
                                                                                  sizeof(tg__bigram) * (size_t)q->cap);
  tg__bigram b;
  b.left = left, b.right = right, b.size = q->n[left] + q->n[right], b.score = q->t->score[id];
  int64_t i = q->nheap++;
  for (; i > 0 && tg__bigram_before(&b, &q->heap[(i - 1) / 2]); i = (i - 1) / 2) q->heap[i] = q->heap[(i - 1) / 2];
  q->heap[i] = b;
}

static tg__bigram tg__spm_pop(tg__spm *q) {
  tg__bigram top = q->heap[0], last = q->heap[--q->nheap];
  int64_t i = 0;
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= q->nheap) break;
    if (c + 1 < q->nheap && tg__bigram_before(&q->heap[c + 1], &q->heap[c])) c++;
    if (!tg__bigram_before(&q->heap[c], &last)) break;
    q->heap[i] = q->heap[c], i = c;
  }
  if (q->nheap > 0) q->heap[i] = last;
  return top;
}

/* the tokens of raw text: a space first when the text starts the input or follows a special token (add_space_prefix),
 * every space as U+2581, each UTF-8 character a symbol (a truncated one is its bytes), pairs merged by their token's
 * score; a symbol that is no token becomes its bytes' tokens (<0xXX>) */
static void tg__spm_text(const tg_tokenizer *t, const char *text, int64_t len, tg__ids *e) {
  int pfx = t->space_prefix && e->prev_special;
  char *s = (char *)tg__alloc((size_t)(len + pfx) * 3 + 1);
  int64_t ns = 0, nsym = 0;
  for (int64_t i = -pfx; i < len; i++)
    if (i < 0 || text[i] == ' ') memcpy(s + ns, "\xe2\x96\x81", 3), ns += 3;
    else s[ns++] = text[i];
  tg__spm q;
  memset(&q, 0, sizeof q);
  q.t = t, q.s = s;
  q.at = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)(ns + 1) * 4);
  q.n = q.at + ns + 1, q.prev = q.n + ns + 1, q.next = q.prev + ns + 1;
  for (int64_t i = 0; i < ns; nsym++) {
    unsigned char b = (unsigned char)s[i];
    int64_t k = b < 0xc0 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4; /* llama.cpp's length by the lead byte alone */
    if (k > ns - i) k = ns - i;
    q.at[nsym] = i, q.n[nsym] = k, q.prev[nsym] = nsym - 1, q.next[nsym] = i + k < ns ? nsym + 1 : -1;
    i += k;
  }
  for (int64_t i = 1; i < nsym; i++) tg__spm_pair(&q, i - 1, i);
  while (q.nheap > 0) {
    tg__bigram b = tg__spm_pop(&q);
    int64_t l = b.left, r = b.right;
    if (q.n[l] == 0 || q.n[r] == 0 || q.n[l] + q.n[r] != b.size) continue; /* a symbol changed since: stale */
    q.n[l] += q.n[r], q.n[r] = 0;
    q.next[l] = q.next[r];
    if (q.next[r] >= 0) q.prev[q.next[r]] = l;
    tg__spm_pair(&q, q.prev[l], l);
    tg__spm_pair(&q, l, q.next[l]);
  }
  for (int64_t i = nsym > 0 ? 0 : -1; i >= 0; i = q.next[i]) {
    int32_t id = tg__stab_get(&t->vocab, s + q.at[i], q.n[i]);
    if (id >= 0) {
      tg__put(e, id);
      continue;
    }
    for (int64_t k = 0; k < q.n[i]; k++) { /* byte fallback: <0xXX>, else the byte as a token, else unknown */
      unsigned char b = (unsigned char)s[q.at[i] + k];
      id = t->byte_id[b] >= 0 ? t->byte_id[b] : tg__stab_get(&t->vocab, s + q.at[i] + k, 1);
      if (id < 0) id = t->unk;
      if (id >= 0) tg__put(e, id);
    }
  }
  TG_FREE(q.heap);
  TG_FREE(q.at);
  TG_FREE(s);
}

// ---------------------------------------------------------------------------------------------------------------------
// WordPiece: the text normalised and split into words (punctuation and CJK characters each a word of their own), each
// word the longest tokens from its start, or the unknown token whole

static int tg__is_cjk(uint32_t c) { /* the "Chinese characters" of BERT's tokenizer (its 0x2B920, not 0x2B820) */
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) ||
         (c >= 0x2a700 && c <= 0x2b73f) || (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
         (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

static int64_t tg__utf8_put(char *o, uint32_t c) {
  if (c < 0x80) return o[0] = (char)c, 1;
  if (c < 0x800) return o[0] = (char)(0xc0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3f)), 2;
  if (c < 0x10000) {
    o[0] = (char)(0xe0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3f)), o[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((c >> 6) & 0x3f)), o[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

/* one word's tokens (w: wl bytes of UTF-8, nchars code points): the longest token from the start (spelled wp_first +
 * piece), then from where it ends (wp_cont + piece), and so on; when some position has none, the word is unknown */
static void tg__wp_word(const tg_tokenizer *t, const char *w, int64_t wl, int64_t nchars, char *key, tg__ids *e) {
  int64_t n0 = e->n;
  if (nchars <= t->max_chars)
    for (int64_t i = 0; i < wl;) {
      const char *pf = i == 0 ? t->wp_first : t->wp_cont;
      int64_t pl = (int64_t)strlen(pf), j = wl - i > t->max_tlen ? i + t->max_tlen : wl; /* a long word: linear */
      int32_t id = -1;
      memcpy(key, pf, (size_t)pl);
      for (; j > i; j--) { /* the end at each character boundary, longest first */
        if (j < wl && ((unsigned char)w[j] & 0xc0) == 0x80) continue;
        memcpy(key + pl, w + i, (size_t)(j - i));
        if ((id = tg__stab_get(&t->vocab, key, pl + j - i)) >= 0) break;
      }
      if (id < 0) {
        e->n = n0; /* the word's tokens so far go */
        break;
      }
      tg__put(e, id);
      i = j;
    }
  if (e->n == n0 && t->unk >= 0) tg__put(e, t->unk);
}

/* the tokens of raw text, WordPiece. llama.cpp's normaliser: NFD as its first code point, control characters
 * (Cc Cf Co Cs), U+0000 and U+FFFD dropped, marks (M) dropped when stripping accents, the simple lowercase.
 * Hugging Face's BertNormalizer (t->hf): control characters C (unassigned ones too) dropped, NFD less the nonspacing
 * marks (Mn) when stripping accents, the lowercase (U+0130 as i and U+0307). Then both split at whitespace, and make
 * each punctuation character (P, and the ASCII symbols) and each CJK ideograph a word of its own. */
static void tg__wp_text(const tg_tokenizer *t, const char *text, int64_t len, tg__ids *e) {
  tg__cps c;
  tg__cps_of(&c, text, len);
  char *w = (char *)tg__alloc((size_t)len * 8 + 8), *key = (char *)tg__alloc((size_t)len * 8 + 40);
  int64_t wl = 0, nch = 0;
  for (int64_t i = 0; i <= c.n; i++) {
    uint32_t cp = i < c.n ? c.cp[i] : ' ', dec[3];
    int nd = 1;
    dec[0] = cp;
    if (t->strip_accents && i < c.n) {
      if (t->hf) nd = tg__uni_strip_accents(cp, dec);
      else dec[0] = tg__uni_nfd_first(cp);
    }
    for (int k = 0; k < nd; k++) {
      uint32_t x = dec[k];
      int cat = tg__uni_category(x);
      if (tg__uni_class(x) & TG__UNI_SPACE) {
        if (wl) tg__wp_word(t, w, wl, nch, key, e), wl = nch = 0;
        continue;
      }
      int control = cat == TG__UC_CC || cat == TG__UC_CF || cat == TG__UC_CO || cat == TG__UC_CS ||
                    (t->hf && cat == TG__UC_CN);
      if (x == 0 || x == 0xfffd || control) continue;
      if (!t->hf && t->strip_accents && (cat == TG__UC_MN || cat == TG__UC_MC || cat == TG__UC_ME)) continue;
      int alone = (cat >= TG__UC_PC && cat <= TG__UC_PS) || (x < 0x7f && cat >= TG__UC_SC && cat <= TG__UC_SO) ||
                  tg__is_cjk(x);
      if (alone && wl) tg__wp_word(t, w, wl, nch, key, e), wl = nch = 0;
      if (t->lowercase && t->hf && x == 0x130) wl += tg__utf8_put(w + wl, 'i'), x = 0x307, nch++;
      wl += tg__utf8_put(w + wl, t->lowercase ? tg__uni_lower(x) : x), nch++;
      if (alone) tg__wp_word(t, w, wl, nch, key, e), wl = nch = 0;
    }
  }
  TG_FREE(w);
  TG_FREE(key);
  TG_FREE(c.cp);
  TG_FREE(c.at);
  TG_FREE(c.cls);
}

// ---------------------------------------------------------------------------------------------------------------------
// encoding and decoding

static void tg__tok_raw(const tg_tokenizer *t, const char *text, int64_t len, tg__ids *e) {
  if (t->kind == TG__TOK_SPM) tg__spm_text(t, text, len, e);
  else if (t->kind == TG__TOK_WPM) tg__wp_text(t, text, len, e);
  else tg__bpe_text(t, text, len, e);
  e->prev_special = 0;
}

/* the tokens of text [a, b): each special token from index s of the list on (the longest first) splits it where it
 * occurs, the text before an occurrence going on with the next tokens of the list (a recursion at most the list's
 * length deep), the text after with the same token (a loop: a text of a million special tokens recurses no deeper);
 * text with none left is raw. Control and unknown tokens count only when `control`. */
static void tg__tok_special(const tg_tokenizer *t, const char *text, int64_t a, int64_t b, int64_t s, int control,
                            tg__ids *e) {
  while (s < t->nspecial) {
    int32_t id = t->special[s];
    int64_t len = t->tlen[id], i = a;
    int off = t->type[id] != TG__TT_USER && !control;
    if (!off)
      for (; i + len <= b && memcmp(text + i, t->tokens[id], (size_t)len); i++) {
      }
    if (off || i + len > b) {
      s++;
      continue;
    }
    tg__tok_special(t, text, a, i, s + 1, control, e);
    tg__put(e, id);
    e->prev_special = 1;
    a = i + len;
  }
  if (b > a) tg__tok_raw(t, text + a, b - a, e);
}

int64_t tg_tokenizer_encode(const tg_tokenizer *t, const char *text, int64_t len, int special, int32_t *out,
                            int64_t cap) {
  TG__LOCKED();
  if (!t || (!text && len != 0) || (cap > 0 && !out)) {
    tg__set_error("tg_tokenizer_encode: %s", !t ? "the tokenizer is NULL" : !text ? "the text is NULL" : "out is NULL");
    return -1;
  }
  if (special & ~(TG_TOKENIZE_PARSE_SPECIAL | TG_TOKENIZE_ADD_SPECIAL)) {
    tg__set_error("tg_tokenizer_encode: special is %d; it takes TG_TOKENIZE_PARSE_SPECIAL and TG_TOKENIZE_ADD_SPECIAL",
                  special);
    return -1;
  }
  if (len < 0) len = text ? (int64_t)strlen(text) : 0;
  tg__ids e;
  e.out = out, e.n = 0, e.cap = cap, e.prev_special = 1;
  for (int i = 0; (special & TG_TOKENIZE_ADD_SPECIAL) && i < t->npre; i++) tg__put(&e, t->pre_ids[i]);
  tg__tok_special(t, text, 0, len, 0, special & TG_TOKENIZE_PARSE_SPECIAL, &e);
  for (int i = 0; (special & TG_TOKENIZE_ADD_SPECIAL) && i < t->npost; i++) tg__put(&e, t->post_ids[i]);
  return e.n;
}

/* the bytes of token id into out (up to cap; its length, whatever the room): `first` when it is the first token of
 * the text (SPM drops the space it added in front) */
static int64_t tg__tok_piece(const tg_tokenizer *t, int32_t id, int first, char *out, int64_t cap) {
  const unsigned char *s = (const unsigned char *)t->tokens[id];
  int64_t n = t->tlen[id], w = 0;
#define TG__OUT(c) (w < cap ? (void)(out[w] = (char)(c)) : (void)0, w++)
  int ty = t->type[id];
  if (ty == TG__TT_CONTROL || ty == TG__TT_UNKNOWN || ty == TG__TT_USER) { /* special tokens: as they are spelled */
    for (int64_t k = 0; k < n; k++) TG__OUT(s[k]);
    return w;
  }
  if (t->kind == TG__TOK_SPM || t->kind == TG__TOK_WPM) {
    unsigned v;
    char c;
    if (ty == TG__TT_BYTE && n == 6 && sscanf((const char *)s, "<0x%2X%c", &v, &c) == 2 && c == '>') {
      TG__OUT(v);
      return w;
    }
    int64_t k = 0, pl = t->kind == TG__TOK_WPM ? (int64_t)strlen(t->wp_cont) : 0;
    if (t->kind == TG__TOK_WPM) { /* Hugging Face: " word", continuations bare; GGUF: U+2581 is the space */
      if (pl && n >= pl && !memcmp(s, t->wp_cont, (size_t)pl)) k = pl;
      else if (t->hf && !first) TG__OUT(' ');
    }
    int strip = first && (t->space_prefix || t->kind == TG__TOK_WPM); /* the space in front of the first word */
    for (int64_t k0 = k; k < n; k++)
      if (k + 2 < n && s[k] == 0xe2 && s[k + 1] == 0x96 && s[k + 2] == 0x81) {
        if (!(strip && k == k0)) TG__OUT(' ');
        k += 2;
      } else TG__OUT(s[k]);
    return w;
  }
  for (int64_t k = 0; k < n;) { /* byte-level BPE: GPT-2's characters back to their bytes */
    uint32_t v = s[k];
    int len = v < 0x80 ? 1 : (v >> 5) == 6 ? 2 : (v >> 4) == 14 ? 3 : 4;
    if (len == 2 && k + 1 < n) v = ((v & 0x1f) << 6) | (s[k + 1] & 0x3f);
    int byte = (len <= 2 && v < 512) ? t->charbyte[v] : -1;
    if (byte >= 0) TG__OUT(byte);
    else
      for (int q = 0; q < len && k + q < n; q++) TG__OUT(s[k + q]);
    k += len;
  }
#undef TG__OUT
  return w;
}

int64_t tg_tokenizer_decode(const tg_tokenizer *t, const int32_t *ids, int64_t n, char *out, int64_t cap) {
  TG__LOCKED();
  if (!t || (n > 0 && !ids) || (cap > 0 && !out)) {
    tg__set_error("tg_tokenizer_decode: %s", !t ? "the tokenizer is NULL" : !ids ? "ids is NULL" : "out is NULL");
    return -1;
  }
  int64_t w = 0;
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= t->nvocab) {
      tg__set_error("tg_tokenizer_decode: token %lld is %d, outside the vocabulary of %lld", (long long)i, ids[i],
                    (long long)t->nvocab);
      return -1;
    }
    w += tg__tok_piece(t, ids[i], i == 0, out ? out + (w < cap ? w : cap) : NULL, w < cap ? cap - w : 0);
  }
  if (w < cap) out[w] = 0;
  return w;
}

int32_t tg_tokenizer_bos(const tg_tokenizer *t) {
  TG__LOCKED();
  return t ? t->bos : -1;
}

int32_t tg_tokenizer_eos(const tg_tokenizer *t) {
  TG__LOCKED();
  return t ? t->eos : -1;
}

int32_t tg_tokenizer_eot(const tg_tokenizer *t) {
  TG__LOCKED();
  return t ? t->eot : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// JSON (RFC 8259, strict): a tree of nodes in one array, strings decoded into one buffer. Anything else (a trailing
// comma, a comment, a bad escape or UTF-8, a lone surrogate, a control character in a string, nesting past 256,
// text after the value) is an error naming the byte where it is.

enum { TG__J_NULL, TG__J_FALSE, TG__J_TRUE, TG__J_NUM, TG__J_STR, TG__J_ARR, TG__J_OBJ };

typedef struct tg__jnode {
  int type;
  double num;
  int64_t str, slen; /* a string's bytes in the string buffer */
  int64_t key, klen; /* an object member's key there (-1 for others) */
  int64_t first, next, n; /* the first child, the next sibling (-1: none), the number of children */
} tg__jnode;

typedef struct tg__json {
  const char *p; /* the text */
  int64_t len, at;
  tg__jnode *nodes;
  int64_t nn, ncap;
  char *str;
  int64_t ns, scap;
  char err[160];
} tg__json;

static int tg__j_fail(tg__json *j, const char *what) {
  if (!j->err[0]) snprintf(j->err, sizeof j->err, "byte %lld: %s", (long long)j->at, what);
  return -1;
}

static void tg__j_ws(tg__json *j) {
  while (j->at < j->len && (j->p[j->at] == ' ' || j->p[j->at] == '\t' || j->p[j->at] == '\n' || j->p[j->at] == '\r'))
    j->at++;
}

static void tg__j_sput(tg__json *j, const char *s, int64_t n) {
  if (j->ns + n + 1 > j->scap) {
    while (j->ns + n + 1 > j->scap) j->scap = j->scap * 2 + 256;
    j->str = (char *)tg__realloc(j->str, (size_t)j->scap);
  }
  memcpy(j->str + j->ns, s, (size_t)n);
  j->ns += n;
}

static int tg__j_hex4(tg__json *j, uint32_t *v) {
  *v = 0;
  for (int k = 0; k < 4; k++, j->at++) {
    char c = j->at < j->len ? j->p[j->at] : 0;
    int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
    if (d < 0) return tg__j_fail(j, "a \\u escape needs four hex digits");
    *v = *v * 16 + (uint32_t)d;
  }
  return 0;
}

/* a string at j->at (its opening quote) decoded into the buffer: its offset and length, or -1 */
static int tg__j_string(tg__json *j, int64_t *off, int64_t *n) {
  j->at++;
  *off = j->ns;
  for (;;) {
    if (j->at >= j->len) return tg__j_fail(j, "a string without its closing quote");
    unsigned char c = (unsigned char)j->p[j->at];
    if (c == '"') break;
    if (c < 0x20) return tg__j_fail(j, "a control character in a string");
    if (c == '\\') {
      char e = j->at + 1 < j->len ? j->p[j->at + 1] : 0, o[4];
      const char *simple = strchr("\"\\/bfnrt", e);
      j->at += 2;
      if (e && simple) {
        static const char map[] = "\"\\/\b\f\n\r\t";
        tg__j_sput(j, &map[simple - "\"\\/bfnrt"], 1);
        continue;
      }
      if (e != 'u') return j->at -= 2, tg__j_fail(j, "an unknown escape in a string");
      uint32_t v, lo;
      if (tg__j_hex4(j, &v)) return -1;
      if (v >= 0xdc00 && v <= 0xdfff) return tg__j_fail(j, "a lone low surrogate");
      if (v >= 0xd800 && v <= 0xdbff) {
        if (j->at + 1 >= j->len || j->p[j->at] != '\\' || j->p[j->at + 1] != 'u')
          return tg__j_fail(j, "a high surrogate without its low one");
        j->at += 2;
        if (tg__j_hex4(j, &lo)) return -1;
        if (lo < 0xdc00 || lo > 0xdfff) return tg__j_fail(j, "a high surrogate without its low one");
        v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
      }
      tg__j_sput(j, o, tg__utf8_put(o, v));
      continue;
    }
    int k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0, ok = k > 0;
    uint32_t v = c & (0x7fu >> k);
    for (int q = 1; ok && q < k; q++) {
      ok = j->at + q < j->len && ((unsigned char)j->p[j->at + q] & 0xc0) == 0x80;
      if (ok) v = (v << 6) | ((unsigned char)j->p[j->at + q] & 0x3f);
    }
    if (ok && k > 1) /* the shortest form, a scalar value */
      ok = v >= (k == 2 ? 0x80u : k == 3 ? 0x800u : 0x10000u) && v <= 0x10ffff && (v < 0xd800 || v > 0xdfff);
    if (!ok) return tg__j_fail(j, "a string that is not UTF-8");
    tg__j_sput(j, j->p + j->at, k);
    j->at += k;
  }
  j->at++;
  *n = j->ns - *off;
  tg__j_sput(j, "", 1); /* NUL-terminated */
  return 0;
}

static int64_t tg__j_node(tg__json *j, int type) {
  if (j->nn == j->ncap) j->ncap = j->ncap * 2 + 64, j->nodes = (tg__jnode *)tg__realloc(j->nodes,
                                                                                  sizeof(tg__jnode) * (size_t)j->ncap);
  tg__jnode *x = &j->nodes[j->nn];
  memset(x, 0, sizeof *x);
  x->type = type, x->key = x->first = x->next = -1;
  return j->nn++;
}

/* a value at j->at: its node, or -1 */
static int64_t tg__j_value(tg__json *j, int depth) {
  tg__j_ws(j);
  if (j->at >= j->len) return tg__j_fail(j, "a value was expected");
  if (depth > 256) return tg__j_fail(j, "nesting deeper than 256");
  char c = j->p[j->at];
  if (c == '{' || c == '[') {
    int64_t me = tg__j_node(j, c == '{' ? TG__J_OBJ : TG__J_ARR), last = -1;
    char close = c == '{' ? '}' : ']';
    j->at++;
    tg__j_ws(j);
    if (j->at < j->len && j->p[j->at] == close) return j->at++, me;
    for (;;) {
      int64_t key = -1, klen = 0;
      if (close == '}') {
        tg__j_ws(j);
        if (j->at >= j->len || j->p[j->at] != '"') return tg__j_fail(j, "an object's key was expected");
        if (tg__j_string(j, &key, &klen)) return -1;
        tg__j_ws(j);
        if (j->at >= j->len || j->p[j->at] != ':') return tg__j_fail(j, "':' was expected");
        j->at++;
      }
      int64_t v = tg__j_value(j, depth + 1);
      if (v < 0) return -1;
      j->nodes[v].key = key, j->nodes[v].klen = klen;
      if (last < 0) j->nodes[me].first = v;
      else j->nodes[last].next = v;
      last = v, j->nodes[me].n++;
      tg__j_ws(j);
      if (j->at < j->len && j->p[j->at] == ',') {
        j->at++;
        continue;
      }
      if (j->at < j->len && j->p[j->at] == close) return j->at++, me;
      return tg__j_fail(j, close == '}' ? "',' or '}' was expected" : "',' or ']' was expected");
    }
  }
  if (c == '"') {
    int64_t me = tg__j_node(j, TG__J_STR), off, n;
    if (tg__j_string(j, &off, &n)) return -1;
    j->nodes[me].str = off, j->nodes[me].slen = n;
    return me;
  }
  static const char *const words[] = {"null", "false", "true"};
  for (int w = 0; w < 3; w++) {
    int64_t wl = (int64_t)strlen(words[w]);
    if (j->len - j->at >= wl && !memcmp(j->p + j->at, words[w], (size_t)wl)) {
      j->at += wl;
      return tg__j_node(j, w);
    }
  }
  int64_t s = j->at; /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
#define TG__DIG(i) ((i) < j->len && j->p[i] >= '0' && j->p[i] <= '9')
  if (j->at < j->len && j->p[j->at] == '-') j->at++;
  if (!TG__DIG(j->at)) return tg__j_fail(j, "a value was expected");
  if (j->p[j->at] == '0') j->at++;
  else
    while (TG__DIG(j->at)) j->at++;
  if (j->at < j->len && j->p[j->at] == '.') {
    if (!TG__DIG(j->at + 1)) return j->at++, tg__j_fail(j, "a digit was expected after '.'");
    for (j->at++; TG__DIG(j->at);) j->at++;
  }
  if (j->at < j->len && (j->p[j->at] | 0x20) == 'e') {
    j->at++;
    if (j->at < j->len && (j->p[j->at] == '+' || j->p[j->at] == '-')) j->at++;
    if (!TG__DIG(j->at)) return tg__j_fail(j, "a digit was expected in the exponent");
    while (TG__DIG(j->at)) j->at++;
  }
#undef TG__DIG
  char buf[64];
  int64_t n = j->at - s < 63 ? j->at - s : 63;
  memcpy(buf, j->p + s, (size_t)n);
  buf[n] = 0;
  int64_t me = tg__j_node(j, TG__J_NUM);
  j->nodes[me].num = strtod(buf, NULL);
  return me;
}

static void tg__j_free(tg__json *j) {
  TG_FREE(j->nodes);
  TG_FREE(j->str);
}

/* the text parsed into j: 0, or -1 with j->err */
static int tg__j_parse(tg__json *j, const char *text, int64_t len) {
  memset(j, 0, sizeof *j);
  j->p = text, j->len = len;
  if (tg__j_value(j, 0) < 0) return -1;
  tg__j_ws(j);
  return j->at < j->len ? tg__j_fail(j, "text after the JSON value") : 0;
}

/* an object's member by key (-1 when x is no object or has none; the last of repeated keys, as serde keeps) */
static int64_t tg__j_get(const tg__json *j, int64_t x, const char *key) {
  int64_t found = -1;
  if (x < 0 || j->nodes[x].type != TG__J_OBJ) return -1;
  for (int64_t c = j->nodes[x].first; c >= 0; c = j->nodes[c].next)
    if (j->nodes[c].klen == (int64_t)strlen(key) && !memcmp(j->str + j->nodes[c].key, key, (size_t)j->nodes[c].klen))
      found = c;
  return found;
}

static const char *tg__j_str(const tg__json *j, int64_t x) {
  return x >= 0 && j->nodes[x].type == TG__J_STR ? j->str + j->nodes[x].str : NULL;
}

/* a member's string ("" when x is no string: never NULL, for comparisons) */
static const char *tg__j_gets(const tg__json *j, int64_t x, const char *key) {
  const char *s = tg__j_str(j, tg__j_get(j, x, key));
  return s ? s : "";
}

/* a member's truth: 1 true, 0 false, dflt when absent or null, -1 for anything else */
static int tg__j_bool(const tg__json *j, int64_t x, const char *key, int dflt) {
  int64_t v = tg__j_get(j, x, key);
  int ty = v < 0 ? TG__J_NULL : j->nodes[v].type;
  return ty == TG__J_NULL ? dflt : ty == TG__J_TRUE ? 1 : ty == TG__J_FALSE ? 0 : -1;
}

/* a node as a token id: 0 <= id < 2^31 - 1, an integer, else -1 */
static int64_t tg__j_id(const tg__json *j, int64_t x) {
  if (x < 0 || j->nodes[x].type != TG__J_NUM) return -1;
  double v = j->nodes[x].num;
  return v >= 0 && v < INT32_MAX && v == (double)(int64_t)v ? (int64_t)v : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// Hugging Face's tokenizer.json

/* the pre-tokenizer of a byte-level BPE file: ByteLevel with its regex (GPT-2's); Split by a regex tinygrad.h has a
 * matcher for, then ByteLevel without its regex; Digits one by one, then ByteLevel (StarCoder's); else -1 */
static int tg__json_pre(const tg__json *j, int64_t pt) {
  static const char *const res[] = {
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
      "\\s+(?!\\S)|\\s+"};
  static const int pres[] = {TG__PRE_GPT2, TG__PRE_LLAMA3, TG__PRE_QWEN2};
  const char *type = tg__j_gets(j, pt, "type");
  if (!strcmp(type, "ByteLevel"))
    return tg__j_bool(j, pt, "use_regex", 1) == 1 && tg__j_bool(j, pt, "add_prefix_space", 0) == 0 ? TG__PRE_GPT2 : -1;
  int64_t seq = tg__j_get(j, pt, "pretokenizers");
  if (strcmp(type, "Sequence") || seq < 0 || j->nodes[seq].type != TG__J_ARR || j->nodes[seq].n != 2) return -1;
  int64_t a = j->nodes[seq].first, b = j->nodes[a].next;
  if (strcmp(tg__j_gets(j, b, "type"), "ByteLevel") || tg__j_bool(j, b, "add_prefix_space", 0) != 0) return -1;
  if (!strcmp(tg__j_gets(j, a, "type"), "Digits"))
    return tg__j_bool(j, a, "individual_digits", 0) == 1 && tg__j_bool(j, b, "use_regex", 1) == 1 ? TG__PRE_STARCODER
                                                                                                   : -1;
  const char *re = tg__j_gets(j, tg__j_get(j, a, "pattern"), "Regex");
  if (strcmp(tg__j_gets(j, a, "type"), "Split") || strcmp(tg__j_gets(j, a, "behavior"), "Isolated") ||
      tg__j_bool(j, a, "invert", 0) != 0 || tg__j_bool(j, b, "use_regex", 1) != 0)
    return -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(re, res[i])) return pres[i];
  return -1;
}

/* the post-processor's tokens around a single sequence into t (pre_ids, post_ids): 0, or -1 with why */
static int tg__json_post(const tg__json *j, int64_t pp, tg_tokenizer *t, const char **why) {
  const char *type = tg__j_gets(j, pp, "type");
  if (pp < 0 || j->nodes[pp].type == TG__J_NULL || !strcmp(type, "ByteLevel")) return 0;
  if (!strcmp(type, "Sequence")) {
    int64_t ps = tg__j_get(j, pp, "processors");
    if (ps < 0 || j->nodes[ps].type != TG__J_ARR) return *why = "a Sequence without its processors", -1;
    for (int64_t c = j->nodes[ps].first; c >= 0; c = j->nodes[c].next)
      if (tg__json_post(j, c, t, why)) return -1;
    return 0;
  }
  if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
    int64_t cls = tg__j_get(j, pp, "cls"), sep = tg__j_get(j, pp, "sep");
    int64_t ci = cls >= 0 && j->nodes[cls].n == 2 ? tg__j_id(j, j->nodes[j->nodes[cls].first].next) : -1;
    int64_t si = sep >= 0 && j->nodes[sep].n == 2 ? tg__j_id(j, j->nodes[j->nodes[sep].first].next) : -1;
    if (ci < 0 || si < 0 || ci >= t->nvocab || si >= t->nvocab || t->npre >= 4 || t->npost >= 4)
      return *why = "a BertProcessing's cls and sep must be [token, id] of the vocabulary", -1;
    t->pre_ids[t->npre++] = (int32_t)ci, t->post_ids[t->npost++] = (int32_t)si;
    return 0;
  }
  if (strcmp(type, "TemplateProcessing")) return *why = "its post_processor is none of TemplateProcessing, "
                                                       "BertProcessing, RobertaProcessing, ByteLevel, Sequence", -1;
  int64_t single = tg__j_get(j, pp, "single"), sp = tg__j_get(j, pp, "special_tokens"), seen = 0;
  if (single < 0 || j->nodes[single].type != TG__J_ARR) return *why = "a TemplateProcessing without single", -1;
  for (int64_t c = j->nodes[single].first; c >= 0; c = j->nodes[c].next) {
    int64_t tok = tg__j_get(j, c, "SpecialToken");
    if (tg__j_get(j, c, "Sequence") >= 0) {
      seen++;
      continue;
    }
    int64_t ids = tg__j_get(j, tg__j_get(j, sp, tg__j_gets(j, tok, "id")), "ids");
    if (ids < 0 || j->nodes[ids].type != TG__J_ARR)
      return *why = "a TemplateProcessing's special token is not in its special_tokens", -1;
    for (int64_t k = j->nodes[ids].first; k >= 0; k = j->nodes[k].next) {
      int64_t id = tg__j_id(j, k);
      int *n = seen ? &t->npost : &t->npre;
      if (id < 0 || id >= t->nvocab || *n >= 4)
        return *why = "a TemplateProcessing's special token ids must be in the vocabulary, at most 4 a side", -1;
      (seen ? t->post_ids : t->pre_ids)[(*n)++] = (int32_t)id;
    }
  }
  return seen == 1 ? 0 : (*why = "a TemplateProcessing's single must hold one Sequence", -1);
}

static tg_tokenizer *tg__json_fail(const char **why, const char *what) {
  *why = what;
  return NULL;
}

/* the tokenizer of a parsed tokenizer.json; NULL with why */
static tg_tokenizer *tg__json_tokenizer(const tg__json *j, const char **why) {
  int64_t root = 0, model = tg__j_get(j, root, "model"), vocab = tg__j_get(j, model, "vocab");
  int64_t added = tg__j_get(j, root, "added_tokens"), merges = tg__j_get(j, model, "merges");
  const char *type = tg__j_gets(j, model, "type");
  if (!type[0]) type = merges >= 0 ? "BPE" : tg__j_get(j, model, "continuing_subword_prefix") >= 0 ? "WordPiece" : "";
  int kind = !strcmp(type, "BPE") ? TG__TOK_BPE : !strcmp(type, "WordPiece") ? TG__TOK_WPM : -1;
  if (j->nodes[root].type != TG__J_OBJ || model < 0) return tg__json_fail(why, "no model object");
  if (kind < 0) return tg__json_fail(why, "its model is not BPE or WordPiece");
  if (vocab < 0 || j->nodes[vocab].type != TG__J_OBJ) return tg__json_fail(why, "the model has no vocab object");
  if (added >= 0 && j->nodes[added].type != TG__J_ARR && j->nodes[added].type != TG__J_NULL)
    return tg__json_fail(why, "added_tokens is not an array");
  if (kind == TG__TOK_BPE && (merges < 0 || j->nodes[merges].type != TG__J_ARR))
    return tg__json_fail(why, "the BPE model has no merges array");
  int64_t nv = 0;
  for (int64_t c = j->nodes[vocab].first; c >= 0; c = j->nodes[c].next) {
    int64_t id = tg__j_id(j, c);
    if (id < 0) return tg__json_fail(why, "a vocab id is no integer in [0, 2^31 - 1)");
    nv = id + 1 > nv ? id + 1 : nv;
  }
  for (int64_t c = added >= 0 && j->nodes[added].type == TG__J_ARR ? j->nodes[added].first : -1; c >= 0;
       c = j->nodes[c].next) {
    int64_t id = tg__j_id(j, tg__j_get(j, c, "id"));
    if (id < 0 || !tg__j_str(j, tg__j_get(j, c, "content")) || tg__j_bool(j, c, "special", 0) < 0)
      return tg__json_fail(why, "an added token needs an integer id, a string content and a boolean special");
    nv = id + 1 > nv ? id + 1 : nv;
  }
  if (nv == 0 || nv > (int64_t)(j->nn + 1)) return tg__json_fail(why, "an empty vocabulary, or ids far past its size");
  tg_tokenizer *t = tg__tok_new(kind, nv);
  t->hf = 1;
  for (int64_t c = j->nodes[vocab].first; c >= 0; c = j->nodes[c].next) {
    int64_t id = tg__j_id(j, c);
    if (t->tokens[id]) {
      tg_tokenizer_free(t);
      return tg__json_fail(why, "two vocab tokens have one id");
    }
    t->tokens[id] = tg__strdup(j->str + j->nodes[c].key), t->tlen[id] = j->nodes[c].klen;
    t->type[id] = TG__TT_NORMAL;
  }
  for (int64_t c = added >= 0 && j->nodes[added].type == TG__J_ARR ? j->nodes[added].first : -1; c >= 0;
       c = j->nodes[c].next) { /* special ones are control tokens (taken when asked), the others always */
    int64_t id = tg__j_id(j, tg__j_get(j, c, "id")), s = tg__j_get(j, c, "content");
    TG_FREE(t->tokens[id]);
    t->tokens[id] = tg__strdup(j->str + j->nodes[s].str), t->tlen[id] = j->nodes[s].slen;
    t->type[id] = tg__j_bool(j, c, "special", 0) ? TG__TT_CONTROL : TG__TT_USER;
  }
  tg__tok_finish(t);
  int64_t norm = tg__j_get(j, root, "normalizer"), pt = tg__j_get(j, root, "pre_tokenizer");
  const char *nt = tg__j_gets(j, norm, "type");
  if (kind == TG__TOK_WPM) {
    const char *unk = tg__j_gets(j, model, "unk_token"), *pfx = tg__j_gets(j, model, "continuing_subword_prefix");
    int64_t mc = tg__j_get(j, model, "max_input_chars_per_word");
    t->unk = tg__stab_get(&t->vocab, unk, (int64_t)strlen(unk));
    t->max_chars = mc < 0 || j->nodes[mc].type == TG__J_NULL ? 100 : tg__j_id(j, mc);
    if (tg__j_get(j, model, "continuing_subword_prefix") < 0) pfx = "##";
    if (t->unk < 0 || t->max_chars < 0 || strlen(pfx) >= sizeof t->wp_cont) {
      tg_tokenizer_free(t);
      return tg__json_fail(why, "a WordPiece model needs an unk_token of its vocabulary, a max_input_chars_per_word, "
                                "and a continuing_subword_prefix of at most 15 bytes");
    }
    memcpy(t->wp_cont, pfx, strlen(pfx) + 1);
    int lower = tg__j_bool(j, norm, "lowercase", 1), strip = tg__j_bool(j, norm, "strip_accents", lower);
    if (!(norm < 0 || j->nodes[norm].type == TG__J_NULL) &&
        (strcmp(nt, "BertNormalizer") || tg__j_bool(j, norm, "clean_text", 1) != 1 ||
         tg__j_bool(j, norm, "handle_chinese_chars", 1) != 1 || lower < 0 || strip < 0)) {
      tg_tokenizer_free(t);
      return tg__json_fail(why, "a WordPiece normalizer must be a BertNormalizer with clean_text and "
                                "handle_chinese_chars");
    }
    if (norm >= 0 && j->nodes[norm].type != TG__J_NULL) t->lowercase = lower, t->strip_accents = strip;
    if (strcmp(tg__j_gets(j, pt, "type"), "BertPreTokenizer")) {
      tg_tokenizer_free(t);
      return tg__json_fail(why, "a WordPiece pre_tokenizer must be a BertPreTokenizer");
    }
  } else {
    t->pre = tg__json_pre(j, pt);
    t->ignore_merges = tg__j_bool(j, model, "ignore_merges", 0) == 1;
    const char *bad = t->pre < 0 ? "its pre_tokenizer is none tinygrad.h has (ByteLevel with GPT-2's regex; Split by "
                                   "Llama 3's or Qwen2's regex then ByteLevel; Digits then ByteLevel)"
                      : tg__j_bool(j, model, "byte_fallback", 0) != 0 ? "a BPE model with byte_fallback"
                      : tg__j_get(j, model, "continuing_subword_prefix") >= 0 &&
                              j->nodes[tg__j_get(j, model, "continuing_subword_prefix")].type != TG__J_NULL
                          ? "a BPE model with a continuing_subword_prefix"
                      : !(norm < 0 || j->nodes[norm].type == TG__J_NULL || !strcmp(nt, "NFC"))
                          ? "a BPE normalizer other than NFC"
                          : NULL;
    tg__stab_init(&t->merges, j->nodes[merges].n);
    char *pair = NULL;
    int64_t rank = 0;
    for (int64_t c = j->nodes[merges].first; !bad && c >= 0; c = j->nodes[c].next, rank++) {
      const char *s = tg__j_str(j, c);
      if (s) { /* "a b" */
        tg__stab_put(&t->merges, s, j->nodes[c].slen, (int32_t)rank);
        continue;
      }
      int64_t a = j->nodes[c].type == TG__J_ARR && j->nodes[c].n == 2 ? j->nodes[c].first : -1;
      if (a < 0 || !tg__j_str(j, a) || !tg__j_str(j, j->nodes[a].next)) {
        bad = "a merge is neither \"a b\" nor [\"a\", \"b\"]";
        break;
      }
      int64_t la = j->nodes[a].slen, lb = j->nodes[j->nodes[a].next].slen;
      pair = (char *)tg__realloc(pair, (size_t)(la + lb + 2));
      memcpy(pair, tg__j_str(j, a), (size_t)la);
      pair[la] = ' ';
      memcpy(pair + la + 1, tg__j_str(j, j->nodes[a].next), (size_t)lb);
      tg__stab_put(&t->merges, pair, la + 1 + lb, (int32_t)rank);
    }
    TG_FREE(pair);
    tg__stab_trim(&t->merges);
    if (bad) {
      tg_tokenizer_free(t);
      return tg__json_fail(why, bad);
    }
  }
  if (tg__json_post(j, tg__j_get(j, root, "post_processor"), t, why)) {
    tg_tokenizer_free(t);
    return NULL;
  }
  return t;
}

/* a tokenizer.json's text (name: for messages) as a tokenizer; NULL with an error (the fuzzer's entry) */
static tg_tokenizer *tg__tokenizer_from_json_text(const char *name, const char *text, int64_t len) {
  tg__json j;
  const char *why = NULL;
  tg_tokenizer *t = NULL;
  if (tg__j_parse(&j, text, len)) tg__set_error("tg_tokenizer_from_json: %.300s: not JSON: %s", name, j.err);
  else if (!(t = tg__json_tokenizer(&j, &why))) tg__set_error("tg_tokenizer_from_json: %.300s: %s", name, why);
  tg__j_free(&j);
  return t;
}

/* a whole file's bytes (malloc'd, one byte to spare), or NULL with an error naming fn */
static char *tg__tok_read_file(const char *fn, const char *path, int64_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    tg__set_error("%s: cannot open %.300s", fn, path);
    return NULL;
  }
  char *text = NULL;
  int64_t cap = 0;
  *n = 0;
  for (size_t got = 1; got;) {
    if (*n == cap) cap = cap * 2 + 65536, text = (char *)tg__realloc(text, (size_t)cap + 1);
    got = fread(text + *n, 1, (size_t)(cap - *n), f);
    *n += (int64_t)got;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    tg__set_error("%s: cannot read %.300s", fn, path);
    TG_FREE(text);
    return NULL;
  }
  return text;
}

tg_tokenizer *tg_tokenizer_from_json(const char *path) {
  TG__LOCKED();
  if (!path) {
    tg__set_error("tg_tokenizer_from_json: the path is NULL");
    return NULL;
  }
  int64_t n = 0;
  char *text = tg__tok_read_file("tg_tokenizer_from_json", path, &n);
  if (!text) return NULL;
  tg_tokenizer *t = tg__tokenizer_from_json_text(path, text, n);
  TG_FREE(text);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------------
// streaming decoding: whole UTF-8 characters only

struct tg_tokenizer_stream {
  const tg_tokenizer *t;
  unsigned char held[4]; /* the start of a character whose other bytes are still to come */
  int nheld, first;      /* first: no token pushed yet (SentencePiece drops its leading space) */
};

tg_tokenizer_stream *tg_tokenizer_stream_new(const tg_tokenizer *t) {
  TG__LOCKED();
  if (!t) {
    tg__set_error("tg_tokenizer_stream_new: the tokenizer is NULL");
    return NULL;
  }
  tg_tokenizer_stream *s = (tg_tokenizer_stream *)tg__alloc(sizeof(tg_tokenizer_stream));
  s->t = t, s->first = 1;
  return s;
}

void tg_tokenizer_stream_free(tg_tokenizer_stream *s) {
  TG__LOCKED();
  TG_FREE(s);
}

/* the UTF-8 at s (n > 0 bytes): 1 and *len its bytes for a whole character; 0 when the n bytes start one and
 * end before it does; -1 and *len the bytes to replace by one U+FFFD (the maximal start of a character that is
 * none, at least one byte: Unicode's "substitution of maximal subparts") */
static int tg__utf8_next(const unsigned char *s, int64_t n, int64_t *len) {
  unsigned b = s[0];
  int k = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (k == 0) return *len = 1, -1;
  for (int q = 1; q < k; q++) {
    if (q >= n) return 0;
    unsigned c = s[q], lo = 0x80, hi = 0xbf;
    if (q == 1) lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80, hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
    if (c < lo || c > hi) return *len = q, -1;
  }
  return *len = k, 1;
}

/* the held bytes and `more` (m bytes) as whole characters into out (room for cap): the bytes written, the rest
 * held; at the end (`flush`) a character cut short is one U+FFFD. -1 when out is short (nothing changes). */
static int64_t tg__stream_emit(tg_tokenizer_stream *s, const char *more, int64_t m, int flush, char *out, int64_t cap,
                               const char *fn) {
  unsigned char *b = (unsigned char *)tg__alloc((size_t)(s->nheld + m + 1));
  memcpy(b, s->held, (size_t)s->nheld);
  if (m) memcpy(b + s->nheld, more, (size_t)m);
  int64_t n = s->nheld + m, i = 0, w = 0, len;
  for (int pass = 0; pass < 2; pass++) { /* the size, then the bytes */
    i = 0, w = 0;
    while (i < n) {
      int r = tg__utf8_next(b + i, n - i, &len);
      if (r == 0 && !flush) break;
      if (r == 0) len = n - i;
      if (pass) memcpy(out + w, r == 1 ? (const char *)b + i : "\xef\xbf\xbd", (size_t)(r == 1 ? len : 3));
      w += r == 1 ? len : 3, i += len;
    }
    if (pass == 0 && w + 1 > cap) {
      TG_FREE(b);
      tg__set_error("%s: out has room for %lld bytes; these characters need %lld and a NUL", fn, (long long)cap,
                    (long long)w);
      return -1;
    }
  }
  out[w] = 0;
  s->nheld = (int)(n - i);
  memcpy(s->held, b + i, (size_t)s->nheld);
  TG_FREE(b);
  return w;
}

int64_t tg_tokenizer_stream_push(tg_tokenizer_stream *s, int32_t id, char *out, int64_t cap) {
  TG__LOCKED();
  if (!s || !out || cap < 1) {
    tg__set_error("tg_tokenizer_stream_push: %s", !s ? "the stream is NULL" : "out is NULL or of no room");
    return -1;
  }
  if (id < 0 || id >= s->t->nvocab) {
    tg__set_error("tg_tokenizer_stream_push: token %d is outside the vocabulary of %lld", id,
                  (long long)s->t->nvocab);
    return -1;
  }
  int64_t n = tg__tok_piece(s->t, id, s->first, NULL, 0);
  char *piece = (char *)tg__alloc((size_t)n + 1);
  tg__tok_piece(s->t, id, s->first, piece, n);
  int64_t w = tg__stream_emit(s, piece, n, 0, out, cap, "tg_tokenizer_stream_push");
  TG_FREE(piece);
  if (w >= 0) s->first = 0;
  return w;
}

int64_t tg_tokenizer_stream_flush(tg_tokenizer_stream *s, char *out, int64_t cap) {
  TG__LOCKED();
  if (!s || !out || cap < 1) {
    tg__set_error("tg_tokenizer_stream_flush: %s", !s ? "the stream is NULL" : "out is NULL or of no room");
    return -1;
  }
  return tg__stream_emit(s, NULL, 0, 1, out, cap, "tg_tokenizer_stream_flush");
}

// ---------------------------------------------------------------------------------------------------------------------
// chat templates: the style recognised in the GGUF's Jinja template, rendered as llama.cpp's llm_chat_apply_template
// does for it

typedef struct tg__sbuf {
  char *out;
  int64_t n, cap;
} tg__sbuf;

static void tg__sb_put(tg__sbuf *b, const char *s, int64_t n) {
  for (int64_t i = 0; i < n; i++, b->n++)
    if (b->n < b->cap) b->out[b->n] = s[i];
}

static void tg__sb_puts(tg__sbuf *b, const char *s) { tg__sb_put(b, s, (int64_t)strlen(s)); }

/* ChatML's default system prompt, when the template puts one before a first message that is not the system's
 * (SmolLM2's: {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}):
 * its text (a newline written as \n in the template's string unescaped) into a new string, else NULL */
static char *tg__chatml_default_system(const char *tmpl) {
  if (!strstr(tmpl, "!= 'system'") && !strstr(tmpl, "!= \"system\"")) return NULL;
  const char *p = strstr(tmpl, "<|im_start|>system");
  if (!p) return NULL;
  p += strlen("<|im_start|>system");
  if (*p == '\n') p++;
  else if (p[0] == '\\' && p[1] == 'n') p += 2;
  else return NULL;
  const char *e = strstr(p, "<|im_end|>");
  if (!e) return NULL;
  char *s = (char *)tg__alloc((size_t)(e - p) + 1);
  int64_t n = 0;
  for (; p < e; p++) s[n++] = p[0] == '\\' && p[1] == 'n' ? (p++, '\n') : *p;
  s[n] = 0;
  return s;
}

int64_t tg_tokenizer_chat(const tg_tokenizer *t, const char *const *roles, const char *const *contents, int n,
                          int add_generation_prompt, char *out, int64_t cap) {
  TG__LOCKED();
  int nulls = 0;
  for (int i = 0; roles && contents && i < n; i++) nulls += !roles[i] || !contents[i];
  if (!t || n < 0 || (n > 0 && (!roles || !contents)) || nulls || (cap > 0 && !out)) {
    tg__set_error("tg_tokenizer_chat: %s", !t ? "the tokenizer is NULL" : n < 0 ? "n is negative"
                  : (cap > 0 && !out) ? "out is NULL" : "a role or content is NULL");
    return -1;
  }
  const char *tm = t->chat_template;
  int chatml = tm && strstr(tm, "<|im_start|>"), llama3 = tm && strstr(tm, "<|start_header_id|>") &&
                                                             strstr(tm, "<|end_header_id|>");
  if (!chatml && !llama3) {
    if (tm) tg__set_error("tg_tokenizer_chat: the chat template \"%.80s%s\" is neither ChatML nor Llama 3's", tm,
                          strlen(tm) > 80 ? "..." : "");
    else tg__set_error("tg_tokenizer_chat: the tokenizer has no chat template (tokenizer.chat_template)");
    return -1;
  }
  tg__sbuf b;
  b.out = out, b.n = 0, b.cap = cap;
  if (chatml) { /* <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n */
    char *sys = tg__chatml_default_system(tm);
    if (sys && n > 0 && strcmp(roles[0], "system")) {
      tg__sb_puts(&b, "<|im_start|>system\n");
      tg__sb_puts(&b, sys);
      tg__sb_puts(&b, "<|im_end|>\n");
    }
    TG_FREE(sys);
    for (int i = 0; i < n; i++) {
      tg__sb_puts(&b, "<|im_start|>");
      tg__sb_puts(&b, roles[i]);
      tg__sb_puts(&b, "\n");
      tg__sb_puts(&b, contents[i]);
      tg__sb_puts(&b, "<|im_end|>\n");
    }
    if (add_generation_prompt) tg__sb_puts(&b, "<|im_start|>assistant\n");
  } else { /* <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent (trimmed)<|eot_id|> ... */
    tg__sb_puts(&b, "<|begin_of_text|>");
    for (int i = 0; i < n; i++) {
      const char *c = contents[i], *e = c + strlen(c);
      while (*c && strchr(" \t\n\r\v\f", *c)) c++;
      while (e > c && strchr(" \t\n\r\v\f", e[-1])) e--;
      tg__sb_puts(&b, "<|start_header_id|>");
      tg__sb_puts(&b, roles[i]);
      tg__sb_puts(&b, "<|end_header_id|>\n\n");
      tg__sb_put(&b, c, (int64_t)(e - c));
      tg__sb_puts(&b, "<|eot_id|>");
    }
    if (add_generation_prompt) tg__sb_puts(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
  }
  if (b.n < cap) out[b.n] = 0;
  return b.n;
}

// ---------------------------------------------------------------------------------------------------------------------
// tiktoken files: a token's bytes in base64 and its rank, a line each

static int tg__b64(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
         : c == '+' ? 62 : c == '/' ? 63 : -1;
}

tg_tokenizer *tg_tokenizer_from_tiktoken(const char *path, const char *pre_name) {
  TG__LOCKED();
  static const struct { const char *name; int pre; } pres[] = {
      {"gpt-2", TG__PRE_GPT2}, {"llama-bpe", TG__PRE_LLAMA3}, {"llama3", TG__PRE_LLAMA3}, {"qwen2", TG__PRE_QWEN2}};
  int which = -1;
  for (int i = 0; pre_name && i < TG__COUNT(pres); i++)
    if (!strcmp(pre_name, pres[i].name)) which = pres[i].pre;
  if (!path || which < 0) {
    if (!path) tg__set_error("tg_tokenizer_from_tiktoken: the path is NULL");
    else tg__set_error("tg_tokenizer_from_tiktoken: pre-tokenizer \"%.60s\" is none of gpt-2, llama-bpe, llama3, qwen2",
                       pre_name ? pre_name : "(NULL)");
    return NULL;
  }
  int64_t n = 0;
  char *text = tg__tok_read_file("tg_tokenizer_from_tiktoken", path, &n);
  if (!text) return NULL;
  /* first pass: validate, count, the largest rank */
  int64_t lines = 0, maxrank = -1, line = 0;
  const char *bad = NULL;
  for (int64_t i = 0; i < n && !bad; line++) {
    int64_t e = i, sp, q = 0;
    while (e < n && text[e] != '\n') e++;
    for (sp = i; sp < e && text[sp] != ' '; sp++) {
    }
    int64_t blen = sp - i, rank = 0, digits = 0;
    for (q = sp + 1; q < e && text[q] >= '0' && text[q] <= '9' && rank < INT32_MAX; q++, digits++)
      rank = rank * 10 + (text[q] - '0');
    if (e > i && (q < e && text[q] == '\r' && q + 1 == e)) q++;
    if (e == i || (e == i + 1 && text[i] == '\r')) {
    } else if (sp >= e || blen == 0 || blen % 4 || !digits || q != e || rank >= INT32_MAX)
      bad = "a line is not \"base64 rank\"";
    else {
      for (int64_t k = i; k < sp && !bad; k++)
        if (tg__b64((unsigned char)text[k]) < 0 && !(text[k] == '=' && k >= sp - 2)) bad = "bad base64";
      lines++, maxrank = rank > maxrank ? rank : maxrank;
    }
    i = e + 1;
  }
  if (!bad && (lines == 0 || maxrank >= lines * 2 + 1024)) bad = "no tokens, or ranks far past their count";
  if (bad) {
    tg__set_error("tg_tokenizer_from_tiktoken: %.300s: line %lld: %s", path, (long long)line, bad);
    TG_FREE(text);
    return NULL;
  }
  tg_tokenizer *t = tg__tok_new(TG__TOK_BPE, maxrank + 1);
  t->pre = which, t->by_rank = 1, t->ignore_merges = 1; /* tiktoken takes a piece that is a token whole */
  unsigned char *raw = (unsigned char *)tg__alloc((size_t)n + 1);
  char *mapped = (char *)tg__alloc((size_t)n * 2 + 1);
  for (int64_t i = 0; i < n;) {
    int64_t e = i, sp, rank = 0, nb = 0, ml = 0;
    while (e < n && text[e] != '\n') e++;
    for (sp = i; sp < e && text[sp] != ' '; sp++) {
    }
    if (sp < e) {
      for (int64_t q = sp + 1; q < e && text[q] >= '0' && text[q] <= '9'; q++) rank = rank * 10 + (text[q] - '0');
      for (int64_t k = i; k < sp; k += 4) { /* four characters, three bytes (fewer before '=') */
        int v[4];
        for (int c = 0; c < 4; c++) v[c] = text[k + c] == '=' ? 0 : tg__b64((unsigned char)text[k + c]);
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        int keep = text[k + 2] == '=' ? 1 : text[k + 3] == '=' ? 2 : 3;
        for (int c = 0; c < keep; c++) raw[nb++] = (unsigned char)(x >> (16 - 8 * c));
      }
      for (int64_t k = 0; k < nb; k++) { /* spelled as GPT-2's characters, as byte-level vocabularies are */
        const char *ch = t->bytechar[raw[k]];
        for (int c = 0; ch[c]; c++) mapped[ml++] = ch[c];
      }
      if (!t->tokens[rank]) {
        t->tokens[rank] = (char *)tg__alloc((size_t)ml + 1);
        memcpy(t->tokens[rank], mapped, (size_t)ml);
        t->tlen[rank] = ml, t->type[rank] = TG__TT_NORMAL;
      }
    }
    i = e + 1;
  }
  TG_FREE(raw);
  TG_FREE(mapped);
  TG_FREE(text);
  tg__tok_finish(t);
  tg__stab_init(&t->merges, 0);
  return t;
}
