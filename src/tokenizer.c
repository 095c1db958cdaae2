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

/* a string -> int table, open addressing (keys copied) */
typedef struct tg__stab {
  char **key;
  int64_t *klen;
  int32_t *val;
  int64_t cap, n;
} tg__stab;

static uint64_t tg__stab_hash(const char *s, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static void tg__stab_init(tg__stab *t, int64_t n) {
  t->cap = 16;
  while (t->cap < 2 * n + 16) t->cap *= 2;
  t->key = (char **)tg__alloc(sizeof(char *) * (size_t)t->cap);
  t->klen = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)t->cap);
  t->val = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)t->cap);
  memset(t->key, 0, sizeof(char *) * (size_t)t->cap);
  t->n = 0;
}

static int32_t tg__stab_get(const tg__stab *t, const char *s, int64_t n) {
  for (uint64_t h = tg__stab_hash(s, n) & (uint64_t)(t->cap - 1);; h = (h + 1) & (uint64_t)(t->cap - 1)) {
    if (!t->key[h]) return -1;
    if (t->klen[h] == n && !memcmp(t->key[h], s, (size_t)n)) return t->val[h];
  }
}

/* adds s -> v unless s is there already (the first one stays) */
static void tg__stab_put(tg__stab *t, const char *s, int64_t n, int32_t v) {
  uint64_t h = tg__stab_hash(s, n) & (uint64_t)(t->cap - 1);
  for (; t->key[h]; h = (h + 1) & (uint64_t)(t->cap - 1))
    if (t->klen[h] == n && !memcmp(t->key[h], s, (size_t)n)) return;
  t->key[h] = (char *)tg__alloc((size_t)n + 1);
  memcpy(t->key[h], s, (size_t)n);
  t->key[h][n] = 0;
  t->klen[h] = n, t->val[h] = v, t->n++;
}

static void tg__stab_free(tg__stab *t) {
  for (int64_t i = 0; t->key && i < t->cap; i++) TG_FREE(t->key[i]);
  TG_FREE(t->key);
  TG_FREE(t->klen);
  TG_FREE(t->val);
}

struct tg_tokenizer {
  int pre;
  int64_t nvocab;
  char **tokens; /* (nvocab) NUL-terminated copies */
  int64_t *tlen;
  tg__stab vocab, merges;
  int32_t *special; /* the tokens matched in the text before it is split: user-defined ones (always) and control
                       ones (when asked), longest first */
  int64_t nspecial;
  unsigned char *type; /* (nvocab) tokenizer.ggml.token_type: 1 normal, 3 control, 4 user-defined...; 1 without */
  char bytechar[256][3]; /* GPT-2's printable character of each byte, UTF-8 */
  int16_t charbyte[512]; /* and back: the byte of each of those code points (< 512), -1 for others */
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
  for (int64_t i = 0; t->tokens && i < t->nvocab; i++) TG_FREE(t->tokens[i]);
  TG_FREE(t->tokens);
  TG_FREE(t->tlen);
  TG_FREE(t->special);
  TG_FREE(t->type);
  tg__stab_free(&t->vocab);
  tg__stab_free(&t->merges);
  TG_FREE(t);
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
  if (!model || strcmp(model, "gpt2")) {
    tg__set_error("tg_tokenizer_from_gguf: tokenizer.ggml.model is %s%s%s; tinygrad.h reads byte-level BPE (\"gpt2\")",
                  model ? "\"" : "", model ? model : "absent or no string", model ? "\"" : "");
    return NULL;
  }
  if (tg_gguf_kv_element_type(g, kt) != TG_GGUF_STRING || tg_gguf_kv_element_type(g, kg) != TG_GGUF_STRING) {
    tg__set_error("tg_tokenizer_from_gguf: tokenizer.ggml.tokens and tokenizer.ggml.merges must be arrays of strings");
    return NULL;
  }
  static const struct { const char *name; int pre; } pres[] = { /* llama.cpp's names of each regex */
      {"default", TG__PRE_GPT2},          {"gpt-2", TG__PRE_GPT2},         {"mpt", TG__PRE_GPT2},
      {"olmo", TG__PRE_GPT2},             {"starcoder", TG__PRE_STARCODER}, {"smollm", TG__PRE_STARCODER},
      {"refact", TG__PRE_STARCODER},      {"command-r", TG__PRE_STARCODER}, {"llama-bpe", TG__PRE_LLAMA3},
      {"llama3", TG__PRE_LLAMA3},         {"qwen2", TG__PRE_QWEN2}};
  int which = -1;
  for (int i = 0; pre && i < (int)TG__COUNT(pres) && which < 0; i++)
    if (!strcmp(pre, pres[i].name)) which = pres[i].pre;
  if (which < 0) {
    tg__set_error("tg_tokenizer_from_gguf: pre-tokenizer \"%.100s\" is not one tinygrad.h has (default, gpt-2, mpt, "
                  "olmo, starcoder, smollm, refact, command-r, llama-bpe, llama3, qwen2)", pre ? pre : "(no string)");
    return NULL;
  }
  int64_t nv = tg_gguf_kv_len(g, kt), nm = tg_gguf_kv_len(g, kg);
  if (nv <= 0 || nv > INT32_MAX) {
    tg__set_error("tg_tokenizer_from_gguf: a vocabulary of %lld tokens", (long long)nv);
    return NULL;
  }
  tg_tokenizer *t = (tg_tokenizer *)tg__alloc(sizeof(tg_tokenizer));
  memset(t, 0, sizeof *t);
  t->pre = which, t->nvocab = nv;
  tg__tok_bytemap(t);
  t->tokens = (char **)tg__alloc(sizeof(char *) * (size_t)nv);
  t->tlen = (int64_t *)tg__alloc(sizeof(int64_t) * (size_t)nv);
  tg__stab_init(&t->vocab, nv);
  for (int64_t i = 0; i < nv; i++) {
    int64_t len;
    const char *s = tg_gguf_kv_str(g, kt, i, &len);
    t->tokens[i] = (char *)tg__alloc((size_t)len + 1);
    memcpy(t->tokens[i], s, (size_t)len + 1);
    t->tlen[i] = len;
    tg__stab_put(&t->vocab, s, len, (int32_t)i);
  }
  int64_t ty = tg_gguf_kv_find(g, "tokenizer.ggml.token_type");
  t->type = (unsigned char *)tg__alloc((size_t)nv);
  t->special = (int32_t *)tg__alloc(sizeof(int32_t) * (size_t)nv);
  for (int64_t i = 0; i < nv; i++) {
    int64_t v = 1;
    if (ty >= 0 && tg_gguf_kv_len(g, ty) == nv && tg_gguf_kv_int(g, ty, i, &v) != 0) tg_clear_error(), v = 1;
    t->type[i] = (unsigned char)(v >= 0 && v < 8 ? v : 1);
    if ((t->type[i] == 3 || t->type[i] == 4) && t->tlen[i] > 0) t->special[t->nspecial++] = (int32_t)i;
  }
  for (int64_t i = 1; i < t->nspecial; i++) /* longest first (insertion sort: a few hundred at most), then by id */
    for (int64_t j = i; j > 0 && t->tlen[t->special[j]] > t->tlen[t->special[j - 1]]; j--) {
      int32_t x = t->special[j];
      t->special[j] = t->special[j - 1], t->special[j - 1] = x;
    }
  tg__stab_init(&t->merges, nm);
  for (int64_t i = 0; i < nm && i < INT32_MAX; i++) {
    int64_t len;
    const char *s = tg_gguf_kv_str(g, kg, i, &len);
    tg__stab_put(&t->merges, s, len, (int32_t)i);
  }
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
// BPE

typedef struct tg__sym { int64_t a, b; } tg__sym; /* a symbol: bytes [a, b) of the mapped piece */

/* the tokens of one piece (its bytes mapped to GPT-2's characters: m, mlen bytes, each source byte's character
 * starting at cstart[k]) appended to out (n of cap) */
static void tg__bpe(const tg_tokenizer *t, const char *m, const int64_t *cstart, int64_t nbytes, int32_t *out,
                    int64_t *n, int64_t cap) {
  int32_t whole = t->pre == TG__PRE_LLAMA3 ? tg__stab_get(&t->vocab, m, cstart[nbytes]) : -1;
  if (whole >= 0) { /* llama.cpp's ignore_merges: a word that is a token */
    if (*n < cap && out) out[*n] = whole;
    (*n)++;
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
      int32_t r = tg__stab_get(&t->merges, pair, la + 1 + lb);
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
      if (*n < cap && out) out[*n] = id;
      (*n)++;
      continue;
    }
    for (int64_t q = s[k].a; q < s[k].b;) { /* no such token: its characters' tokens (a byte each) */
      int64_t w = ((unsigned char)m[q] >> 5) == 6 ? 2 : 1;
      id = tg__stab_get(&t->vocab, m + q, w);
      if (id >= 0) {
        if (*n < cap && out) out[*n] = id;
        (*n)++;
      }
      q += w;
    }
  }
  TG_FREE(pair);
  TG_FREE(s);
}

/* the tokens of raw text (no special tokens in it) appended to out (n of cap) */
static void tg__tok_raw(const tg_tokenizer *t, const char *text, int64_t len, int32_t *out, int64_t *n, int64_t cap) {
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
    tg__bpe(t, m, cstart, b1 - b0, out, n, cap);
  }
  TG_FREE(m);
  TG_FREE(cstart);
  TG_FREE(cuts);
  TG_FREE(c.cp);
  TG_FREE(c.at);
  TG_FREE(c.cls);
}

/* the tokens of text [a, b): each special token from index s of the list on (the longest first) splits it where it
 * occurs, the text before an occurrence going on with the next tokens of the list (a recursion at most the list's
 * length deep), the text after with the same token (a loop: a text of a million special tokens recurses no deeper);
 * text with none left is raw */
static void tg__tok_special(const tg_tokenizer *t, const char *text, int64_t a, int64_t b, int64_t s, int control,
                            int32_t *out, int64_t *n, int64_t cap) {
  while (s < t->nspecial) {
    int32_t id = t->special[s];
    int64_t len = t->tlen[id], i = a;
    if (!(t->type[id] == 3 && !control))
      for (; i + len <= b && memcmp(text + i, t->tokens[id], (size_t)len); i++) {
      }
    if ((t->type[id] == 3 && !control) || i + len > b) {
      s++;
      continue;
    }
    tg__tok_special(t, text, a, i, s + 1, control, out, n, cap);
    if (*n < cap && out) out[*n] = id;
    (*n)++;
    a = i + len;
  }
  if (b > a) tg__tok_raw(t, text + a, b - a, out, n, cap);
}

int64_t tg_tokenizer_encode(const tg_tokenizer *t, const char *text, int64_t len, int special, int32_t *out,
                            int64_t cap) {
  TG__LOCKED();
  if (!t || (!text && len != 0) || (cap > 0 && !out)) {
    tg__set_error("tg_tokenizer_encode: %s", !t ? "the tokenizer is NULL" : !text ? "the text is NULL" : "out is NULL");
    return -1;
  }
  if (len < 0) len = (int64_t)strlen(text);
  int64_t n = 0;
  tg__tok_special(t, text, 0, len, 0, special, out, &n, cap);
  return n;
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
    const unsigned char *s = (const unsigned char *)t->tokens[ids[i]];
    for (int64_t k = 0; k < t->tlen[ids[i]];) {
      uint32_t v = s[k];
      int len = v < 0x80 ? 1 : (v >> 5) == 6 ? 2 : (v >> 4) == 14 ? 3 : 4;
      if (len == 2 && k + 1 < t->tlen[ids[i]]) v = ((v & 0x1f) << 6) | (s[k + 1] & 0x3f);
      int byte = (len <= 2 && v < 512) ? t->charbyte[v] : -1;
      if (byte >= 0) {
        if (w < cap) out[w] = (char)byte;
        w++;
      } else
        for (int q = 0; q < len && k + q < t->tlen[ids[i]]; q++, w++)
          if (w < cap) out[w] = (char)s[k + q];
      k += len;
    }
  }
  if (w < cap) out[w] = 0;
  return w;
}
