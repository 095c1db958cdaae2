/* internal_compiler.c: tests of the compiler's private parts: hash-consing, the pattern matcher and every rule table,
 * the symbolic rules (constant folding, index simplification, bounds). #included into runner.c after the
 * implementation, so the tg__ functions are visible. */
#include "test.h"

static tg__uop *ti_range(int id, int64_t n) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = id;
  return tg__uop1(TG__OP_RANGE, TG_INT32, tg__const_int(TG_INT32, n), &a);
}
static tg__uop *ti_c(int64_t v) { return tg__const_int(TG_INT32, v); }
static tg__uop *ti_add(tg__uop *a, tg__uop *b) { return tg__alu(TG__OP_ADD, a, b); }
static tg__uop *ti_mul(tg__uop *a, tg__uop *b) { return tg__alu(TG__OP_MUL, a, b); }
static tg__uop *ti_div(tg__uop *a, tg__uop *b) { return tg__alu(TG__OP_IDIV, a, b); }
static tg__uop *ti_mod(tg__uop *a, tg__uop *b) { return tg__alu(TG__OP_MOD, a, b); }

TEST(test_internal_hash_consing) {
  tg__uop *r = ti_range(0, 8);
  CHECK(ti_add(r, ti_c(1)) == ti_add(r, ti_c(1)));  /* same structure, same pointer */
  CHECK(ti_add(r, ti_c(1)) != ti_add(r, ti_c(2)));
  CHECK(tg__const(TG_FLOAT32, 0.1) == tg__const(TG_FLOAT32, (float)0.1)); /* constants are canonical per dtype */
  CHECK(tg__const(TG_FLOAT32, 1) != tg__const(TG_FLOAT64, 1));
  CHECK(tg__const_int(TG_UINT8, 257) == tg__const_int(TG_UINT8, 1)); /* ints wrap to their dtype */
}

static const tg__rule_table *ti_table(const char *name) {
  const tg__rule_table *tables;
  int n = tg__rule_tables(&tables);
  for (int t = 0; t < n; t++)
    if (strcmp(tables[t].name, name) == 0) return &tables[t];
  return NULL;
}

/* every `static const tg__rule NAME[] = {` that starts a line of tinygrad.h (the runner's cwd is the repository root)
 * has registered; -1 when the file cannot be read */
static int ti_unregistered_tables(void) {
  FILE *f = fopen("tinygrad.h", "r");
  if (!f) return -1;
  char line[512];
  const char *lead = "static const tg__rule ";
  int missing = 0, seen = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, lead, strlen(lead)) != 0 || !strstr(line, "[] = {")) continue;
    char name[128];
    size_t k = 0;
    for (const char *p = line + strlen(lead); tg__ident_char(*p) && k + 1 < sizeof name; p++) name[k++] = *p;
    name[k] = 0;
    seen++;
    if (!ti_table(name)) {
      printf("rule table %s is not registered: add TG__RULES_REGISTER(%s) after it\n", name, name);
      missing++;
    }
  }
  fclose(f);
  return seen ? missing : -1;
}

TEST(test_internal_rule_tables_parse) {
  const tg__rule_table *tables;
  int n = tg__rule_tables(&tables), total = 0, bad = 0;
  /* the tables of the library, each registered once (a table forgetting TG__RULES_REGISTER is also caught below) */
  static const char *const known[] = {"tg__symbolic_rules",   "tg__lower_rules",    "tg__guard_rules", "tg__grad_rules",
                                      "tg__substitute_rules", "tg__collapse_rules", "tg__split_rules",
                                      "tg__kernelize_rules",  "tg__kernel_input_rules", "tg__group_reduce_rules",
                                      "tg__replace_reduce_rules", "tg__gate_store_rules", "tg__gpu_split_rules"};
  for (int i = 0; i < TG__COUNT(known); i++) {
    const tg__rule_table *t = ti_table(known[i]);
    test_check(t != NULL, __FILE__, __LINE__, "rule table %s is not registered", known[i]);
    if (t) CHECK(t->n > 0);
  }
  CHECK(n >= TG__COUNT(known));
  int twice = 0;
  for (int t = 0; t < n; t++)
    for (int u = t + 1; u < n; u++) twice += tables[t].rules == tables[u].rules;
  CHECK_EQ_INT(twice, 0);
  int missing = ti_unregistered_tables();
  if (missing >= 0) CHECK_EQ_INT(missing, 0);
  for (int t = 0; t < n; t++)
    for (int i = 0; i < tables[t].n; i++) {
      char err[160];
      total++;
      if (tg__pattern_check(tables[t].rules[i].pattern, err, sizeof err) != 0) {
        printf("%s: bad pattern \"%s\": %s\n", tables[t].rules[i].where, tables[t].rules[i].pattern, err);
        bad++;
      }
    }
  CHECK(total > 30);
  CHECK_EQ_INT(bad, 0);
  /* and the parser rejects what it should */
  char err[160];
  CHECK(tg__pattern_check("(ADD x", err, sizeof err) != 0);
  CHECK(tg__pattern_check("(NOTANOP x)", err, sizeof err) != 0);
  CHECK(tg__pattern_check("(ADD [x y z])", err, sizeof err) != 0);
  CHECK(tg__pattern_check("(ADD|MUL [x (CONST 0)])", err, sizeof err) == 0);
}

/* a rule table written here: the same name twice binds the same node; [] tries both orders */
static tg__uop *ti_rw_double(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)root;
  return ti_mul(tg__bind(b, "x"), ti_c(2));
}
static const tg__rule ti_rules[] = {
    TG__RULE("(ADD x x)", ti_rw_double),                  /* x+x -> x*2 */
    TG__RULE("(SUB [x (CONST 5)])", tg__rw_x),            /* only to test the commutative order */
};

TEST(test_internal_pattern_matcher) {
  tg__matcher *m = TG__MATCHER(ti_rules);
  tg__uop *r = ti_range(0, 8), *s = ti_range(1, 8);
  CHECK(tg__graph_rewrite(ti_add(r, r), m, NULL) == ti_mul(r, ti_c(2)));
  CHECK(tg__graph_rewrite(ti_add(r, s), m, NULL) == ti_add(r, s)); /* different nodes: no match */
  CHECK(tg__graph_rewrite(tg__alu(TG__OP_SUB, ti_c(5), r), m, NULL) == r);
  /* bottom-up: the inner match feeds the outer */
  tg__uop *e = ti_add(ti_add(r, r), ti_add(r, r));
  CHECK(tg__graph_rewrite(e, m, NULL) == ti_mul(ti_mul(r, ti_c(2)), ti_c(2)));
}

/* sums over every registered rule: counts, and rules that matched more often than they were tried */
static void ti_match_totals(uint64_t *tried, uint64_t *matched, int *over) {
  const tg__rule_table *tables;
  int n = tg__rule_tables(&tables);
  *tried = *matched = 0;
  *over = 0;
  for (int t = 0; t < n; t++)
    for (int i = 0; i < tables[t].n; i++) {
      uint64_t tr, ma;
      tg__match_stats_of(&tables[t].rules[i], &tr, &ma);
      *tried += tr, *matched += ma;
      *over += ma > tr;
    }
}

/* something small realised: (arange(n) * 3 + c).sum() = 3 n(n-1)/2 + c n (a new graph for each n: the kernels of a
 * graph already realised are cached, and their rewrites not run again) */
static double ti_small_realise(int n, int c) {
  tg_scope_begin();
  double v = tg_item(tg_sum(tg_add_s(tg_mul_s(tg_arange(0, n, 1, TG_INT32), 3), c), 0, NULL, 0));
  tg_scope_end();
  return v;
}

TEST(test_internal_match_stats) {
  int was = tg__match_stats_enable(0);
  uint64_t tried, matched;
  int over;
  /* off: nothing is counted */
  tg__match_stats_reset();
  CHECK_NEAR(ti_small_realise(11, 2), 187, 0);
  ti_match_totals(&tried, &matched, &over);
  CHECK(tried == 0 && matched == 0);
  /* on: 2+3 folds by the binary folding rule, tried once (the first rule of ADD) and matched once */
  const tg__rule_table *sym = ti_table("tg__symbolic_rules");
  const tg__rule *fold = NULL;
  for (int i = 0; sym && i < sym->n; i++)
    if (!strcmp(sym->rules[i].pattern, "(BINARY CONST CONST)")) fold = &sym->rules[i];
  CHECK_NOT_NULL(fold);
  tg__match_stats_enable(1);
  tg__match_stats_reset();
  CHECK(tg__simplify(ti_add(ti_c(2), ti_c(3))) == ti_c(5));
  if (fold) {
    CHECK_EQ_INT(tg__match_stats_of(fold, &tried, &matched), 0);
    CHECK(tried == 1 && matched == 1);
  }
  /* a realisation: rules of several tables tried and matched, never more matches than tries */
  tg__match_stats_reset();
  CHECK_NEAR(ti_small_realise(13, 5), 299, 0);
  ti_match_totals(&tried, &matched, &over);
  CHECK(matched > 0 && tried > matched);
  CHECK_EQ_INT(over, 0);
  if (fold) {
    tg__match_stats_of(fold, &tried, &matched);
    CHECK(tried > 0);
  }
  tg__match_stats_enable(was);
  tg__match_stats_reset();
}

TEST(test_internal_symbolic) {
  tg__uop *r0 = ti_range(0, 16), *r1 = ti_range(1, 4), *r2 = ti_range(2, 8);
  CHECK(tg__simplify(ti_add(r0, ti_c(0))) == r0);                            /* x+0 */
  CHECK(tg__simplify(ti_mul(r0, ti_c(1))) == r0);                            /* x*1 */
  CHECK(tg__simplify(ti_mul(r0, ti_c(0))) == ti_c(0));                       /* x*0 (ints) */
  CHECK(tg__simplify(ti_add(ti_c(2), ti_c(3))) == ti_c(5));                  /* folding */
  CHECK(tg__simplify(ti_div(ti_mul(r0, ti_c(4)), ti_c(4))) == r0);          /* (x*c)//c */
  CHECK(tg__simplify(ti_mod(ti_add(r1, ti_mul(r0, ti_c(4))), ti_c(4))) == r1); /* (x+c*y)%c, x < c */
  tg__uop *flat = ti_add(ti_mul(r0, ti_c(4)), r1);                         /* unflatten a flattened index */
  CHECK(tg__simplify(ti_div(flat, ti_c(4))) == r0);
  CHECK(tg__simplify(ti_mod(flat, ti_c(4))) == r1);
  /* (x//4)*4 + x%4 -> x */
  CHECK(tg__simplify(ti_add(ti_mul(ti_div(r0, ti_c(4)), ti_c(4)), ti_mod(r0, ti_c(4)))) == r0);
  CHECK(tg__simplify(ti_div(ti_div(r0, ti_c(2)), ti_c(4))) == ti_div(r0, ti_c(8))); /* x//2//4 */
  /* (4*x + y) // 8 -> x // 2 and (4*x + y) % 8 -> (x % 2)*4 + y, y < 4; not when y can reach 4 */
  tg__uop *by4 = ti_add(ti_mul(r0, ti_c(4)), r1), *by4big = ti_add(ti_mul(r0, ti_c(4)), r2);
  CHECK(tg__simplify(ti_div(by4, ti_c(8))) == tg__simplify(ti_div(r0, ti_c(2))));
  CHECK(tg__simplify(ti_mod(by4, ti_c(8))) == tg__simplify(ti_add(ti_mul(ti_mod(r0, ti_c(2)), ti_c(4)), r1)));
  CHECK(tg__simplify(ti_div(by4big, ti_c(8))) != tg__simplify(ti_div(r0, ti_c(2))));
  for (int y = 0; y < 8; y++) { /* with a constant for y, below 4 and not: the values agree everywhere */
    tg__uop *e = ti_add(ti_mul(r0, ti_c(4)), ti_c(y)), *q = tg__simplify(ti_div(e, ti_c(8)));
    tg__uop *m = tg__simplify(ti_mod(e, ti_c(8)));
    for (int x = 0; x < 16; x++) {
      int ok = 1;
      CHECK(tg__eval_at(q, 0, x, &ok) == (4 * x + y) / 8 && tg__eval_at(m, 0, x, &ok) == (4 * x + y) % 8 && ok);
    }
  }
  /* range bounds */
  CHECK(tg__simplify(tg__alu(TG__OP_CMPLT, r2, ti_c(8))) == tg__const_int(TG_BOOL, 1));
  CHECK(tg__simplify(tg__alu(TG__OP_CMPLT, r2, ti_c(0))) == tg__const_int(TG_BOOL, 0));
  CHECK(tg__simplify(tg__alu(TG__OP_CMPLT, ti_add(r2, ti_c(3)), ti_c(5))) ==
        tg__alu(TG__OP_CMPLT, r2, ti_c(2)));                                 /* x+3<5 -> x<2 */
  CHECK(tg__simplify(ti_mod(r1, ti_c(4))) == r1);                           /* x%c with x < c */
  CHECK(tg__simplify(ti_div(r1, ti_c(4))) == ti_c(0));
  /* canonical sums: constants last, like terms merged */
  CHECK(tg__simplify(ti_add(ti_add(r0, ti_c(3)), ti_add(r0, ti_c(-3)))) == ti_mul(r0, ti_c(2)));
  int64_t lo, hi;
  tg__uop_bounds(ti_add(ti_mul(r0, ti_c(4)), r1), &lo, &hi);
  CHECK(lo == 0 && hi == 63);
  tg__uop_bounds(ti_mod(r0, ti_c(5)), &lo, &hi);
  CHECK(lo == 0 && hi == 4);
  /* floats do not reassociate and x*0 stays (NaN*0 is NaN) */
  tg__uop *f = tg__cast(r0, TG_FLOAT32);
  CHECK(tg__simplify(tg__alu(TG__OP_MUL, f, tg__const(TG_FLOAT32, 0))) != tg__const(TG_FLOAT32, 0));
  CHECK(tg__simplify(tg__alu(TG__OP_ADD, f, tg__const(TG_FLOAT32, 0))) == f);
  /* NEG of a bool constant is NOT */
  CHECK(tg__simplify(tg__alu1(TG__OP_NEG, tg__const_int(TG_BOOL, 0))) == tg__const_int(TG_BOOL, 1));
}

TEST(test_internal_uop_print_and_gc) {
  tg__uop *r = ti_range(0, 8);
  char *s = tg__uop_print(ti_add(r, ti_c(1)));
  CHECK(strstr(s, "RANGE") != NULL && strstr(s, "ADD") != NULL);
  free(s);
  int64_t before = tg__uop_count();
  for (int i = 0; i < 1000; i++) ti_add(r, ti_c(1000 + i)); /* garbage: nothing roots these */
  CHECK(tg__uop_count() >= before + 1000);
  tg__uop_gc(NULL, 0);
  CHECK(tg__uop_count() < before + 1000);
}

/* A JIT'd function is user code: the public calls it makes collect the graph as they return, as calls from outside
 * do. A language model's first (uncaptured) prompt step held all 30 layers' intermediate buffers until it returned,
 * 58 MB of SmolLM2's 187 MB peak. Each round here leaves a 4 MB buffer to collect: 24 rounds (96 MB) inside one
 * call must not pile up, in call 1 (eager) or the capture. */
static int ti_jit_rounds(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)n_in, (void)n_out;
  int64_t *growth = (int64_t *)ctx, before = tg__uop_count();
  for (int i = 0; i < 24; i++) {
    tg_scope_begin();
    tg_tensor *t = tg_contiguous(tg_add_s(in[0], (double)(i + 1)));
    if (tg_realize(t) < 0) return -1;
    tg_scope_end();
  }
  if (tg__uop_count() - before > *growth) *growth = tg__uop_count() - before;
  out[0] = tg_mul_s(in[0], 2.0);
  return 0;
}

TEST(test_internal_gc_inside_a_jit_function) {
  int64_t n = 1 << 20, growth = 0;
  tg_tensor *x = tg_full(1.5, TG_FLOAT32, 1, &n), *out = NULL;
  CHECK(tg_realize(x) == 0);
  tg_jit *j = tg_jit_new(ti_jit_rounds, &growth);
  for (int call = 0; call < 3; call++) {
    CHECK(tg_jit_run(j, &x, 1, &out, 1) == 0);
    CHECK_NEAR(tg_item(tg_max(out, 0, NULL, 0)), 3.0, 0);
  }
  /* a round's garbage is a handful of nodes (the constant, the add, the copy and its buffer): 24 rounds uncollected
   * leave over 100 */
  CHECK(growth > 0 && growth < 40);
  tg_jit_free(j);
  tg_free(out), tg_free(x);
}

/* graph garbage made inside a JIT'd function: 30000 lazy adds, each freed at once (two nodes each) */
static int ti_jit_garbage(void *ctx, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  (void)n_in, (void)n_out;
  int64_t *peak = (int64_t *)ctx;
  for (int i = 0; i < 30000; i++) {
    tg_free(tg_add_s(in[0], (double)i + 0.5));
    if (tg__uop_count() > *peak) *peak = tg__uop_count();
  }
  out[0] = tg_mul_s(in[0], 2.0);
  return 0;
}

/* Inside a JIT'd function the collector lets the graph grow by half (and 5000 nodes) before it collects, not double
 * it (and 20000): a language model's capture left 12 MB of dead nodes at its peak. Outside, the slack stays */
TEST(test_internal_gc_slack_inside_a_jit_function) {
  int64_t n = 16, peak = 0;
  tg_tensor *x = tg_full(1.5, TG_FLOAT32, 1, &n), *out = NULL;
  CHECK(tg_realize(x) == 0);
  tg__uop_gc(NULL, 0);
  int64_t live = tg__uop_count();
  tg_jit *j = tg_jit_new(ti_jit_garbage, &peak);
  CHECK(tg_jit_run(j, &x, 1, &out, 1) == 0);
  CHECK(peak > live && peak <= live + live / 2 + 5000 + 64); /* the old rule let it reach live * 2 + 20000 */
  tg_jit_free(j);
  tg_free(out);
  /* outside: more garbage is left before a collection (a mark per live node is not paid every few calls) */
  tg__uop_gc(NULL, 0);
  live = tg__uop_count();
  int64_t most = 0;
  for (int i = 0; i < 30000; i++) {
    tg_free(tg_add_s(x, (double)i + 0.25));
    if (tg__uop_count() > most) most = tg__uop_count();
  }
  CHECK(most > live + live / 2 + 5000 + 64 && most <= 2 * live + 20000 + 64);
  tg_free(x);
}

/* Division folded on the host gives what the kernels give (api.h) and never traps: constant folding declined x / 0
 * and MIN / -1, leaving them for the C compiler (whose trap for undefined behaviour is SIGILL), and the optimiser's
 * evaluator of index expressions divided INT64_MIN by -1 itself (SIGFPE). */
TEST(test_internal_fold_division) {
  tg__uop *mn64 = tg__const_int(TG_INT64, INT64_MIN), *m1 = tg__const_int(TG_INT64, -1);
  tg__uop *z64 = tg__const_int(TG_INT64, 0);
  CHECK(tg__simplify(tg__alu(TG__OP_IDIV, mn64, m1)) == mn64); /* wraps */
  CHECK(tg__simplify(tg__alu(TG__OP_MOD, mn64, m1)) == z64);
  CHECK(tg__simplify(tg__alu(TG__OP_IDIV, tg__const_int(TG_INT64, 7), m1)) == tg__const_int(TG_INT64, -7));
  tg__uop *mn32 = ti_c(INT32_MIN);
  CHECK(tg__simplify(ti_div(mn32, ti_c(-1))) == mn32);
  CHECK(tg__simplify(ti_mod(mn32, ti_c(-1))) == ti_c(0));
  CHECK(tg__simplify(ti_div(ti_c(7), ti_c(0))) == ti_c(0));
  CHECK(tg__simplify(ti_mod(ti_c(-7), ti_c(0))) == ti_c(0));
  CHECK(tg__simplify(ti_div(ti_c(-7), ti_c(2))) == ti_c(-3)); /* C's truncation: the floor is built on top */
  CHECK(tg__simplify(ti_mod(ti_c(-7), ti_c(2))) == ti_c(-1));
  tg__uop *u = tg__const_int(TG_UINT32, 0xFFFFFFFFu);
  CHECK(tg__simplify(tg__alu(TG__OP_IDIV, u, tg__const_int(TG_UINT32, 0))) == tg__const_int(TG_UINT32, 0));
  CHECK(tg__simplify(tg__alu(TG__OP_IDIV, u, u)) == tg__const_int(TG_UINT32, 1)); /* -1 is no unsigned value */
  /* a variable over a constant 0 or -1: the laws x // 0 = x % 0 = 0, x % -1 = 0 */
  tg__uop *r = ti_range(0, 8);
  CHECK(tg__simplify(ti_div(r, ti_c(0))) == ti_c(0));
  CHECK(tg__simplify(ti_mod(r, ti_c(0))) == ti_c(0));
  CHECK(tg__simplify(ti_mod(r, ti_c(-1))) == ti_c(0));
  /* the optimiser's evaluator of index expressions */
  int ok = 1;
  CHECK_EQ_INT(tg__eval_at(tg__alu(TG__OP_IDIV, mn64, m1), 0, 0, &ok), INT64_MIN);
  CHECK_EQ_INT(tg__eval_at(tg__alu(TG__OP_MOD, mn64, m1), 0, 0, &ok), 0);
  CHECK_EQ_INT(tg__eval_at(ti_div(ti_c(5), ti_c(0)), 0, 0, &ok), 0);
  CHECK(ok);
}

/* the op table (internal.h): every ALU op has an evaluator, a C format of its arity and no other op has either;
 * commutative ops evaluate symmetrically; the reduction identities are identities; the groups hold what tinygrad's
 * GroupOp holds, and patterns may name them */
static int ti_fmt_operands(const char *fmt) { /* the operands a C format reads: %s in turn, or %1..%3 */
  int next = 0, most = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') continue;
    p++;
    if (*p == 's') next++;
    else if (*p >= '1' && *p <= '3' && *p - '0' > most) most = *p - '0';
  }
  return next > most ? next : most;
}

static int ti_group_count(tg__op_group g) {
  int n = 0;
  for (int op = 0; op < TG__NOPS; op++) n += tg__op_in_group((tg__op)op, g);
  return n;
}

TEST(test_internal_op_table) {
  int bad = 0;
  CHECK(TG__NOPS <= 64); /* the matcher's op sets are uint64_t */
  for (int op = 0; op < TG__NOPS; op++) {
    const tg__op_info *o = &tg__ops[op];
    int alu = o->kind == TG__OPK_ALU;
    int ok = alu ? (o->eval_int || o->eval_float) && o->cfmt && o->arity >= 1 && o->arity <= 3 &&
                       ti_fmt_operands(o->cfmt) == o->arity
                 : !o->eval_int && !o->eval_float && !o->cfmt && o->arity == 0;
    if (!ok) printf("op table: row %s is inconsistent\n", tg__op_names[op]);
    bad += !ok;
    for (int j = 0; j < op; j++) bad += strcmp(tg__op_names[j], tg__op_names[op]) == 0;
  }
  CHECK_EQ_INT(bad, 0);
  /* commutative ops are symmetric on a few values, over int64 and double */
  static const int64_t iv[][2] = {{3, 5}, {-7, 2}, {0, -1}, {INT64_MIN, 9}, {123456789, -987654321}};
  int asym = 0, ncomm = 0;
  for (int op = 0; op < TG__NOPS; op++) {
    const tg__op_info *o = &tg__ops[op];
    if (!tg__op_in_group((tg__op)op, TG__GROUP_COMMUTATIVE)) continue;
    ncomm++;
    for (int i = 0; i < TG__COUNT(iv); i++) {
      int64_t ab[2] = {iv[i][0], iv[i][1]}, ba[2] = {iv[i][1], iv[i][0]}, r1 = 0, r2 = 0;
      double fab[2] = {(double)ab[0] / 4, (double)ab[1] / 4}, fba[2] = {fab[1], fab[0]};
      if (o->eval_int) asym += o->eval_int(TG_INT64, ab, &r1) != o->eval_int(TG_INT64, ba, &r2) || r1 != r2;
      if (o->eval_float) asym += o->eval_float(fab) != o->eval_float(fba);
    }
  }
  CHECK_EQ_INT(ncomm, 8); /* ADD MUL MAX CMPNE CMPEQ AND OR XOR */
  CHECK_EQ_INT(asym, 0);
  /* the identity of ADD, MUL and MAX leaves any value as it is */
  static const tg__op reduces[] = {TG__OP_ADD, TG__OP_MUL, TG__OP_MAX};
  static const tg_dtype dts[] = {TG_INT32, TG_INT64, TG_FLOAT32};
  int moved = 0;
  for (int i = 0; i < TG__COUNT(reduces); i++)
    for (int d = 0; d < TG__COUNT(dts); d++) {
      tg__uop *id = tg__const(dts[d], tg__op_identity(reduces[i], dts[d]));
      for (int64_t x = -3; x <= 3; x++) {
        tg__uop *c = tg__const(dts[d], (double)x);
        moved += tg__simplify(tg__alu(reduces[i], id, c)) != c || tg__simplify(tg__alu(reduces[i], c, id)) != c;
      }
    }
  CHECK_EQ_INT(moved, 0);
  CHECK(tg__op_identity(TG__OP_MAX, TG_INT32) == INT32_MIN);
  CHECK(isinf(tg__op_identity(TG__OP_MAX, TG_FLOAT32)) && tg__op_identity(TG__OP_MAX, TG_FLOAT32) < 0);
  /* the groups */
  CHECK_EQ_INT(ti_group_count(TG__GROUP_UNARY), 7);   /* NEG EXP2 LOG2 SIN SQRT RECIPROCAL TRUNC */
  CHECK_EQ_INT(ti_group_count(TG__GROUP_BINARY), 14); /* ADD .. SHR */
  CHECK_EQ_INT(ti_group_count(TG__GROUP_TERNARY), 1); /* WHERE */
  CHECK_EQ_INT(ti_group_count(TG__GROUP_ALU), 22);
  CHECK_EQ_INT(ti_group_count(TG__GROUP_ELEMENTWISE), 24); /* ALU, CAST, BITCAST */
  CHECK_EQ_INT(ti_group_count(TG__GROUP_MOVEMENT), 6);
  CHECK_EQ_INT(ti_group_count(TG__GROUP_CMP), 3);
  CHECK(tg__op_in_group(TG__OP_CAST, TG__GROUP_ELEMENTWISE) && !tg__op_in_group(TG__OP_CAST, TG__GROUP_ALU));
  CHECK(tg__op_in_group(TG__OP_FLIP, TG__GROUP_MOVEMENT) && !tg__op_in_group(TG__OP_REDUCE_AXIS, TG__GROUP_MOVEMENT));
  CHECK(tg__op_in_group(TG__OP_CMPNE, TG__GROUP_CMP) && tg__op_in_group(TG__OP_CMPNE, TG__GROUP_COMMUTATIVE));
  CHECK(!tg__op_in_group(TG__OP_CMPLT, TG__GROUP_COMMUTATIVE) && !tg__op_in_group(TG__OP_LOAD, TG__GROUP_ELEMENTWISE));
  CHECK(tg__op_group_find("MOVEMENT") == TG__GROUP_MOVEMENT && tg__op_group_find("ADD") < 0);
  /* in patterns: a group is the set of its ops, and combines with names */
  char err[160];
  CHECK(tg__pattern_check("(BINARY CONST CONST)", err, sizeof err) == 0);
  CHECK(tg__pattern_check("(UNARY|CAST x)", err, sizeof err) == 0);
  CHECK(tg__pattern_check("(BINARIES x y)", err, sizeof err) != 0);
}

static const tg__rule ti_group_rules[] = {
    TG__RULE("(COMMUTATIVE x (CONST 7))", tg__rw_x), /* only to see which ops a group matches */
};

TEST(test_internal_op_groups_match) {
  tg__matcher *m = TG__MATCHER(ti_group_rules);
  tg__uop *r = ti_range(0, 8), *c = ti_c(7);
  CHECK(tg__match_rules(m, tg__alu(TG__OP_MUL, r, c), NULL) == r);
  CHECK(tg__match_rules(m, tg__alu(TG__OP_XOR, r, c), NULL) == r);
  CHECK(tg__match_rules(m, tg__alu(TG__OP_SUB, r, c), NULL) == NULL);
  CHECK(tg__match_rules(m, tg__alu(TG__OP_IDIV, r, c), NULL) == NULL);
}
