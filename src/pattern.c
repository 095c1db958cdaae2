/* pattern.c: the pattern matcher, the one mechanism every graph transformation uses (layer 2).
 *
 * Contract:
 *  - A rule table is a static array of TG__RULE(pattern, fn). tg__matcher_get compiles a table once (parsing the
 *    pattern strings, see internal.h for the syntax) into matchers indexed by root op, and caches it by address.
 *  - The registry: every table of the library registers itself (TG__RULES_REGISTER after it, a constructor) and
 *    tg__rule_tables lists them, so a test parses every rule without pattern.c calling the files that own them.
 *  - tg__graph_rewrite rewrites a graph bottom-up to a fixed point: the sources of a node are rewritten first, then the
 *    rules of the node's op are tried in table order; when a rule returns a new node, that node is rewritten in turn.
 *    Results are memoised per call, so a shared subgraph is rewritten once.
 *  - Match statistics (tinygrad's TRACK_MATCH_STATS): with TRACK_MATCH_STATS=1 or DEBUG>=5 in the environment, each
 *    rule counts how often it was tried on a node, how often it matched (returned a node) and the time taken; the
 *    table, most matches first, is printed to stdout at exit. Off, they cost one predicted branch per node matched.
 *  - A rule function returns the replacement, or NULL to decline (the next rule, or the next commutative ordering of
 *    the same rule, is tried). It must not return a node that rewrites back to the original (no cycles). */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// compiled patterns

enum { TG__SRC_ANY, TG__SRC_EXACT, TG__SRC_COMMUTE, TG__SRC_PREFIX };
enum { TG__DT_ANY = -1, TG__DT_INT = -2, TG__DT_FLOAT = -3, TG__DT_BOOL = -4 };

typedef struct tg__pat {
  uint64_t ops;         /* bitmask of accepted ops; 0 = any */
  int dtype;            /* a tg_dtype or one of TG__DT_* */
  char name[32];        /* binding name, "" for none */
  int has_value;
  double value;
  int srcmode, nsrc;
  struct tg__pat *src[8];
} tg__pat;

typedef struct tg__crule {
  const tg__rule *rule;
  tg__pat *pat;
  int any;                     /* the pattern is `_` or `(OP...)` with nothing bound: its function is called directly */
  uint64_t tried, matched, ns; /* match statistics, counted only while they are on */
} tg__crule;

struct tg__matcher {
  const tg__rule *rules;
  const char *name; /* the table's name in the source (VIZ) */
  int n;
  tg__crule *compiled;
  int *byop[TG__NOPS]; /* rule indices per root op, -1 terminated */
};

typedef struct tg__parser {
  const char *s, *p;
  char err[160];
} tg__parser;

static void tg__skip_ws(tg__parser *ps) {
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n') ps->p++;
}

static int tg__ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int tg__read_ident(tg__parser *ps, char *out, size_t n) {
  size_t k = 0;
  while (tg__ident_char(*ps->p)) {
    if (k + 1 < n) out[k++] = *ps->p;
    ps->p++;
  }
  out[k] = 0;
  return (int)k;
}

static int tg__parse_ops(tg__parser *ps, uint64_t *mask) {
  char id[32];
  *mask = 0;
  for (;;) {
    if (!tg__read_ident(ps, id, sizeof id)) {
      snprintf(ps->err, sizeof ps->err, "expected an op name at offset %d", (int)(ps->p - ps->s));
      return -1;
    }
    int op = -1, group = tg__op_group_find(id);
    for (int i = 0; i < TG__NOPS; i++)
      if (strcmp(tg__op_names[i], id) == 0) op = i;
    if (op < 0 && group < 0) {
      snprintf(ps->err, sizeof ps->err, "unknown op '%s'", id);
      return -1;
    }
    if (op >= 0) *mask |= 1ULL << op;
    for (int i = 0; group >= 0 && i < TG__NOPS; i++) /* a group (tinygrad's GroupOp): every op in it */
      if (tg__op_in_group((tg__op)i, (tg__op_group)group)) *mask |= 1ULL << i;
    if (*ps->p != '|') return 0;
    ps->p++;
  }
}

/* after an op list: any number of ":name" or ":dtype" suffixes */
static int tg__parse_suffixes(tg__parser *ps, tg__pat *pt) {
  while (*ps->p == ':') {
    char id[32];
    ps->p++;
    if (!tg__read_ident(ps, id, sizeof id)) {
      snprintf(ps->err, sizeof ps->err, "empty ':' suffix");
      return -1;
    }
    int dt = TG__DT_ANY;
    if (strcmp(id, "int") == 0) dt = TG__DT_INT;
    else if (strcmp(id, "float") == 0) dt = TG__DT_FLOAT;
    else if (strcmp(id, "bool") == 0) dt = TG__DT_BOOL;
    else
      for (int i = 0; i < TG_NDTYPES; i++)
        if (strcmp(tg__dtypes[i].name, id) == 0) dt = i;
    if (dt != TG__DT_ANY) pt->dtype = dt;
    else snprintf(pt->name, sizeof pt->name, "%s", id);
  }
  return 0;
}

static tg__pat *tg__parse_pat(tg__parser *ps);
static void tg__pat_free(tg__pat *pt);

static int tg__parse_srcs(tg__parser *ps, tg__pat *pt, char close) {
  for (;;) {
    tg__skip_ws(ps);
    if (*ps->p == close) { ps->p++; return 0; }
    if (!*ps->p) { snprintf(ps->err, sizeof ps->err, "missing '%c'", close); return -1; }
    if (strncmp(ps->p, "...", 3) == 0) {
      ps->p += 3;
      pt->srcmode = TG__SRC_PREFIX;
      continue;
    }
    if (pt->nsrc == TG__COUNT(pt->src)) { snprintf(ps->err, sizeof ps->err, "too many sources"); return -1; }
    tg__pat *s = tg__parse_pat(ps);
    if (!s) return -1;
    pt->src[pt->nsrc++] = s;
  }
}

static tg__pat *tg__parse_pat(tg__parser *ps) {
  tg__skip_ws(ps);
  tg__pat *pt = (tg__pat *)tg__alloc(sizeof(tg__pat));
  pt->dtype = TG__DT_ANY;
  if (*ps->p == '(') {
    ps->p++;
    if (tg__parse_ops(ps, &pt->ops) < 0 || tg__parse_suffixes(ps, pt) < 0) goto fail;
    tg__skip_ws(ps);
    /* (CONST 1.5): a value */
    if ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '-') {
      char *end;
      pt->value = strtod(ps->p, &end);
      pt->has_value = 1;
      ps->p = end;
      tg__skip_ws(ps);
      if (*ps->p != ')') { snprintf(ps->err, sizeof ps->err, "expected ')' after a value"); goto fail; }
      ps->p++;
      return pt;
    }
    if (*ps->p == ')') { ps->p++; return pt; } /* (OP): any sources */
    pt->srcmode = TG__SRC_EXACT;
    if (*ps->p == '[') {
      ps->p++;
      if (tg__parse_srcs(ps, pt, ']') < 0) goto fail;
      if (pt->nsrc != 2) { snprintf(ps->err, sizeof ps->err, "[...] takes exactly two sources"); goto fail; }
      pt->srcmode = TG__SRC_COMMUTE;
      tg__skip_ws(ps);
      if (*ps->p != ')') { snprintf(ps->err, sizeof ps->err, "expected ')' after [...]"); goto fail; }
      ps->p++;
      return pt;
    }
    if (tg__parse_srcs(ps, pt, ')') < 0) goto fail;
    return pt;
  }
  if (*ps->p >= 'A' && *ps->p <= 'Z') { /* OP or OP:name, any sources */
    if (tg__parse_ops(ps, &pt->ops) < 0 || tg__parse_suffixes(ps, pt) < 0) goto fail;
    return pt;
  }
  if (tg__read_ident(ps, pt->name, sizeof pt->name)) {
    if (strcmp(pt->name, "_") == 0) pt->name[0] = 0;
    if (tg__parse_suffixes(ps, pt) < 0) goto fail;
    return pt;
  }
  snprintf(ps->err, sizeof ps->err, "unexpected '%c' at offset %d", *ps->p ? *ps->p : '$', (int)(ps->p - ps->s));
fail:
  tg__pat_free(pt); /* with the sources parsed so far */
  return NULL;
}

static void tg__pat_free(tg__pat *pt) {
  if (!pt) return;
  for (int i = 0; i < pt->nsrc; i++) tg__pat_free(pt->src[i]);
  TG_FREE(pt);
}

static tg__pat *tg__pattern_compile(const char *pattern, char *err, size_t errn) {
  tg__parser ps;
  memset(&ps, 0, sizeof ps);
  ps.s = ps.p = pattern;
  tg__pat *pt = tg__parse_pat(&ps);
  if (pt) {
    tg__skip_ws(&ps);
    if (*ps.p) {
      snprintf(ps.err, sizeof ps.err, "trailing text at offset %d", (int)(ps.p - ps.s));
      tg__pat_free(pt);
      pt = NULL;
    }
  }
  if (!pt && err) snprintf(err, errn, "%s", ps.err);
  return pt;
}

TG__PRIVATE int tg__pattern_check(const char *pattern, char *err, size_t errn) {
  tg__pat *pt = tg__pattern_compile(pattern, err, errn);
  tg__pat_free(pt);
  return pt ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// the registry of rule tables, filled by the constructors of TG__RULES_REGISTER before main (see internal.h)

static tg__rule_table tg__registered[64];
static int tg__nregistered;

TG__PRIVATE void tg__rules_register(const char *name, const tg__rule *rules, int n) {
  for (int i = 0; i < tg__nregistered; i++)
    if (tg__registered[i].rules == rules) return; /* registered twice: once is enough */
  if (tg__nregistered == TG__COUNT(tg__registered)) return; /* the rule-table test sees a table missing */
  tg__registered[tg__nregistered].name = name;
  tg__registered[tg__nregistered].rules = rules;
  tg__registered[tg__nregistered].n = n;
  tg__nregistered++;
}

TG__PRIVATE int tg__rule_tables(const tg__rule_table **out) {
  *out = tg__registered;
  return tg__nregistered;
}

// ---------------------------------------------------------------------------------------------------------------------
// compiled matchers, cached by the address of their table

static tg__matcher *tg__matchers[64];
static int tg__nmatchers;

static void tg__match_stats_print(void);
static int tg__mstats = -1; /* match statistics: -1 until the environment is read, then 0 (off) or 1 (on) */

static void tg__matchers_free(void) {
  if (tg__mstats > 0) tg__match_stats_print();
  for (int i = 0; i < tg__nmatchers; i++) {
    tg__matcher *m = tg__matchers[i];
    for (int r = 0; r < m->n; r++) tg__pat_free(m->compiled[r].pat);
    for (int o = 0; o < TG__NOPS; o++) TG_FREE(m->byop[o]);
    TG_FREE(m->compiled);
    TG_FREE(m);
  }
  tg__nmatchers = 0;
}

static void tg__match_stats_init(void) {
  tg__mstats = tg__getenv_int("TRACK_MATCH_STATS", 0) > 0 || TG__DEBUG >= 5;
}

TG__PRIVATE tg__matcher *tg__matcher_get(const tg__rule *rules, int n, const char *name) {
  if (tg__mstats < 0) tg__match_stats_init(); /* every rewrite gets its matcher here first */
  for (int i = 0; i < tg__nmatchers; i++)
    if (tg__matchers[i]->rules == rules) return tg__matchers[i];
  if (tg__nmatchers == 0) atexit(tg__matchers_free);
  tg__matcher *m = (tg__matcher *)tg__alloc(sizeof(tg__matcher));
  m->rules = rules;
  m->name = name;
  m->n = n;
  m->compiled = (tg__crule *)tg__alloc(sizeof(tg__crule) * (size_t)n);
  int counts[TG__NOPS] = {0};
  for (int r = 0; r < n; r++) {
    char err[160];
    m->compiled[r].rule = &rules[r];
    m->compiled[r].pat = tg__pattern_compile(rules[r].pattern, err, sizeof err);
    /* a bad pattern is a bug in the library; the rule-table test catches it, here the rule is just skipped */
    if (!m->compiled[r].pat) continue;
    const tg__pat *pt = m->compiled[r].pat;
    m->compiled[r].any = pt->dtype == TG__DT_ANY && !pt->name[0] && !pt->has_value && pt->srcmode == TG__SRC_ANY;
    for (int o = 0; o < TG__NOPS; o++)
      if (!m->compiled[r].pat->ops || (m->compiled[r].pat->ops >> o) & 1) counts[o]++;
  }
  for (int o = 0; o < TG__NOPS; o++) {
    m->byop[o] = (int *)tg__alloc(sizeof(int) * (size_t)(counts[o] + 1));
    int k = 0;
    for (int r = 0; r < n; r++) {
      tg__pat *pt = m->compiled[r].pat;
      if (pt && (!pt->ops || (pt->ops >> o) & 1)) m->byop[o][k++] = r;
    }
    m->byop[o][k] = -1;
  }
  if (tg__nmatchers < TG__COUNT(tg__matchers)) tg__matchers[tg__nmatchers++] = m;
  return m;
}

// ---------------------------------------------------------------------------------------------------------------------
// matching: a work list of (pattern, node) pairs; commutative sources branch, and the rule's function is called at
// every complete match until one returns a replacement

TG__PRIVATE tg__uop *tg__bind(const tg__bindings *b, const char *name) {
  for (int i = 0; i < b->n; i++)
    if (strcmp(b->names[i], name) == 0) return b->vals[i];
  return NULL;
}

TG__PRIVATE tg__uop *tg__rw_x(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx;
  (void)root;
  return tg__bind(b, "x");
}

#define TG__MAX_TODO 32
typedef struct tg__match_state {
  const tg__crule *cr;
  void *ctx;
  tg__uop *root;
} tg__match_state;

static int tg__dtype_ok(int want, tg_dtype dt) {
  switch (want) {
  case TG__DT_ANY: return 1;
  case TG__DT_INT: return tg_dtype_is_int(dt);
  case TG__DT_FLOAT: return tg_dtype_is_float(dt);
  case TG__DT_BOOL: return dt == TG_BOOL;
  default: return (int)dt == want;
  }
}

static tg__uop *tg__match(const tg__match_state *st, const tg__pat **pats, tg__uop **nodes, int n, tg__bindings *b) {
  if (n == 0) return st->cr->rule->fn(st->ctx, st->root, b);
  const tg__pat *pt = pats[n - 1];
  tg__uop *u = nodes[n - 1];
  n--;
  if (pt->ops && !((pt->ops >> u->op) & 1)) return NULL;
  if (!tg__dtype_ok(pt->dtype, u->dtype)) return NULL;
  if (pt->has_value && (u->op != TG__OP_CONST || tg__const_val(u) != pt->value)) return NULL;
  int saved = b->n;
  if (pt->name[0]) {
    tg__uop *prev = tg__bind(b, pt->name);
    if (prev && prev != u) return NULL;
    if (!prev && b->n < TG__MAX_BIND) {
      b->names[b->n] = pt->name;
      b->vals[b->n++] = u;
    }
  }
  if (pt->srcmode == TG__SRC_EXACT && u->nsrc != pt->nsrc) { b->n = saved; return NULL; }
  if (pt->srcmode == TG__SRC_PREFIX && u->nsrc < pt->nsrc) { b->n = saved; return NULL; }
  if (pt->srcmode == TG__SRC_COMMUTE && u->nsrc != 2) { b->n = saved; return NULL; }
  if (n + pt->nsrc > TG__MAX_TODO) { b->n = saved; return NULL; }
  const tg__pat *p2[TG__MAX_TODO];
  tg__uop *n2[TG__MAX_TODO];
  memcpy(p2, pats, sizeof(*pats) * (size_t)n);
  memcpy(n2, nodes, sizeof(*nodes) * (size_t)n);
  tg__uop *r = NULL;
  int orders = pt->srcmode == TG__SRC_COMMUTE ? 2 : 1;
  for (int o = 0; o < orders && !r; o++) {
    for (int i = 0; i < pt->nsrc; i++) {
      p2[n + i] = pt->src[i];
      n2[n + i] = u->src[o ? pt->nsrc - 1 - i : i];
    }
    int m = pt->srcmode == TG__SRC_ANY ? n : n + pt->nsrc;
    r = tg__match(st, p2, n2, m, b);
  }
  b->n = saved;
  return r;
}

static inline tg__uop *tg__try_rule(const tg__crule *cr, tg__uop *u, void *ctx) {
  if (cr->any) { /* the op was checked by the index (byop): nothing else to match, nothing to bind */
    tg__bindings none;
    none.n = 0;
    return cr->rule->fn(ctx, u, &none);
  }
  tg__match_state st;
  st.cr = cr;
  st.ctx = ctx;
  st.root = u;
  const tg__pat *p = cr->pat;
  tg__bindings b;
  b.n = 0;
  return tg__match(&st, &p, &u, 1, &b);
}

static const tg__rule *tg__fired; /* the rule of the last replacement tg__apply_rules_counted made (VIZ's steps) */
static int tg__viz_recording;     /* viz.c records the rewrites now (a context is open) */

TG__PRIVATE void tg__pattern_viz(int on) { tg__viz_recording = on; }

/* tg__apply_rules with match statistics: each rule tried, matched (returned a node) and the time it took */
static tg__uop *tg__apply_rules_counted(tg__matcher *m, tg__uop *u, void *ctx) {
  for (const int *ri = m->byop[u->op]; *ri >= 0; ri++) {
    tg__crule *cr = &m->compiled[*ri];
    uint64_t t0 = tg__now_ns();
    tg__uop *r = tg__try_rule(cr, u, ctx);
    cr->ns += tg__now_ns() - t0;
    cr->tried++;
    if (r && r != u) {
      cr->matched++;
      tg__fired = cr->rule;
      return r;
    }
  }
  return NULL;
}

static tg__uop *tg__apply_rules(tg__matcher *m, tg__uop *u, void *ctx) {
  if (__builtin_expect(tg__mstats > 0 || tg__viz_recording, 0)) return tg__apply_rules_counted(m, u, ctx);
  for (const int *ri = m->byop[u->op]; *ri >= 0; ri++) {
    tg__uop *r = tg__try_rule(&m->compiled[*ri], u, ctx);
    if (r && r != u) return r;
  }
  return NULL;
}

TG__PRIVATE tg__uop *tg__match_rules(tg__matcher *m, tg__uop *u, void *ctx) { return tg__apply_rules(m, u, ctx); }

// ---------------------------------------------------------------------------------------------------------------------
// match statistics (tinygrad's TRACK_MATCH_STATS): per rule, how often it was tried and matched, printed at exit

TG__PRIVATE int tg__match_stats_enable(int on) {
  if (tg__mstats < 0) tg__match_stats_init();
  int was = tg__mstats;
  tg__mstats = on != 0;
  return was;
}

TG__PRIVATE void tg__match_stats_reset(void) {
  for (int i = 0; i < tg__nmatchers; i++)
    for (int r = 0; r < tg__matchers[i]->n; r++) {
      tg__crule *cr = &tg__matchers[i]->compiled[r];
      cr->tried = cr->matched = cr->ns = 0;
    }
}

TG__PRIVATE int tg__match_stats_of(const tg__rule *rule, uint64_t *tried, uint64_t *matched) {
  *tried = *matched = 0;
  for (int i = 0; i < tg__nmatchers; i++) {
    tg__matcher *m = tg__matchers[i];
    if (rule >= m->rules && rule < m->rules + m->n) {
      *tried = m->compiled[rule - m->rules].tried;
      *matched = m->compiled[rule - m->rules].matched;
      return 0;
    }
  }
  return -1;
}

static int tg__mstat_cmp(const void *a, const void *b) {
  const tg__crule *x = *(const tg__crule *const *)a, *y = *(const tg__crule *const *)b;
  if (x->matched != y->matched) return x->matched < y->matched ? 1 : -1;
  if (x->tried != y->tried) return x->tried < y->tried ? 1 : -1;
  return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

/* the rules tried, most matches first: matched / tried -- time -- file:line pattern (as tinygrad prints them) */
static void tg__match_stats_print(void) {
  int n = 0, k = 0, once = 0;
  for (int i = 0; i < tg__nmatchers; i++) n += tg__matchers[i]->n;
  tg__crule **all = (tg__crule **)tg__alloc(sizeof(tg__crule *) * (size_t)(n + 1));
  for (int i = 0; i < tg__nmatchers; i++)
    for (int r = 0; r < tg__matchers[i]->n; r++) all[k++] = &tg__matchers[i]->compiled[r];
  qsort(all, (size_t)k, sizeof *all, tg__mstat_cmp);
  uint64_t tried = 0, matched = 0, ns = 0;
  for (int i = 0; i < k; i++) {
    const tg__crule *cr = all[i];
    once += cr->matched > 0;
    tried += cr->tried, matched += cr->matched, ns += cr->ns;
    if (!cr->tried) continue;
    const char *where = strrchr(cr->rule->where, '/');
    printf("%6llu / %7llu -- %9.2f ms -- %-20s %s\n", (unsigned long long)cr->matched, (unsigned long long)cr->tried,
           (double)cr->ns * 1e-6, where ? where + 1 : cr->rule->where, cr->rule->pattern);
  }
  printf("%6llu / %7llu -- %9.2f ms -- TOTAL\n", (unsigned long long)matched, (unsigned long long)tried,
         (double)ns * 1e-6);
  printf("%d rules, %d matched once\n", k, once);
  fflush(stdout);
  TG_FREE(all);
}

// ---------------------------------------------------------------------------------------------------------------------
// graph_rewrite

typedef struct tg__rewriter {
  tg__matcher *pre;                /* tried before a node's sources are visited (NULL: none) */
  tg__matcher *m, *m2;
  int (*opaque)(const tg__uop *u); /* nodes left as they are, sources unvisited (NULL: none) */
  void *ctx;
  tg__map memo;
  int depth;
  int viz; /* VIZ records this rewrite's steps */
} tg__rewriter;

static tg__uop *tg__rewrite_node(tg__rewriter *rw, tg__uop *u) {
  tg__uop *done = (tg__uop *)tg__map_get(&rw->memo, u);
  if (done) return done;
  if (rw->pre) { /* a node a pre rule replaces is not entered: its replacement is rewritten instead */
    tg__uop *r = tg__apply_rules(rw->pre, u, rw->ctx);
    if (r) {
      if (rw->viz) tg__viz_step(u, r, tg__fired, 1);
      r = tg__rewrite_node(rw, r);
      tg__map_put(&rw->memo, u, r);
      return r;
    }
  }
  if (rw->opaque && rw->opaque(u)) {
    if (rw->viz) tg__viz_opaque(u);
    return u;
  }
  tg__uop *srcs_small[8];
  tg__uop **srcs = u->nsrc <= 8 ? srcs_small : (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)u->nsrc);
  int changed = 0;
  for (int i = 0; i < u->nsrc; i++) {
    srcs[i] = tg__rewrite_node(rw, u->src[i]);
    changed |= srcs[i] != u->src[i];
  }
  tg__uop *cur = changed ? tg__uop_new(u->op, u->dtype, u->nsrc, srcs, &u->arg) : u;
  if (srcs != srcs_small) TG_FREE(srcs);
  tg__uop *r = rw->m ? tg__apply_rules(rw->m, cur, rw->ctx) : NULL;
  if (!r && rw->m2) r = tg__apply_rules(rw->m2, cur, rw->ctx);
  if (r) {
    if (rw->viz) tg__viz_step(cur, r, tg__fired, 0);
    if (++rw->depth > 100000) { /* a rule cycle: a library bug; stop rather than overflow the stack */
      rw->depth--;
      tg__map_put(&rw->memo, u, cur);
      return cur;
    }
    r = tg__rewrite_node(rw, r);
    rw->depth--;
  } else {
    r = cur;
  }
  tg__map_put(&rw->memo, u, r);
  if (cur != u) tg__map_put(&rw->memo, cur, r);
  return r;
}

static tg__uop *tg__rewrite_run(tg__rewriter *rw, tg__uop *root) {
  rw->viz = tg__viz_recording != 0;
  if (rw->viz) {
    tg__matcher *first = rw->pre ? rw->pre : rw->m, *second = rw->pre ? rw->m : rw->m2;
    tg__viz_rewrite_begin(first ? first->name : NULL, second ? second->name : NULL, root);
  }
  tg__uop *r = tg__rewrite_node(rw, root);
  if (rw->viz) tg__viz_rewrite_end(r);
  tg__map_free(&rw->memo);
  return r;
}

TG__PRIVATE tg__uop *tg__graph_rewrite_ex(tg__uop *root, tg__matcher *m, tg__matcher *m2, void *ctx,
                                          int (*opaque)(const tg__uop *u)) {
  tg__rewriter rw;
  memset(&rw, 0, sizeof rw);
  rw.m = m;
  rw.m2 = m2;
  rw.ctx = ctx;
  rw.opaque = opaque;
  return tg__rewrite_run(&rw, root);
}

TG__PRIVATE tg__uop *tg__graph_rewrite_pre(tg__uop *root, tg__matcher *pre, tg__matcher *m, void *ctx) {
  tg__rewriter rw;
  memset(&rw, 0, sizeof rw);
  rw.pre = pre;
  rw.m = m;
  rw.ctx = ctx;
  return tg__rewrite_run(&rw, root);
}

TG__PRIVATE tg__uop *tg__graph_rewrite2(tg__uop *root, tg__matcher *m, tg__matcher *m2, void *ctx) {
  return tg__graph_rewrite_ex(root, m, m2, ctx, NULL);
}

TG__PRIVATE tg__uop *tg__graph_rewrite(tg__uop *root, tg__matcher *m, void *ctx) {
  return tg__graph_rewrite_ex(root, m, NULL, ctx, NULL);
}
