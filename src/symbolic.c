/* symbolic.c: constant folding, algebraic identities and index simplification, as one rule table (layer 2).
 *
 * Contract: every rule preserves the value of the expression for every input the kernel can see. Integer rules that
 * reason about division and remainder ask for bounds (tg__uop_bounds) and only fire when the operands are known to be
 * non-negative, since IDIV and MOD truncate toward zero like C. Integer division by 0 gives 0, and MIN / -1 gives MIN,
 * here as in the kernels (api.h; codegen.c guards the divisors). Float rules never reassociate (that changes rounding).
 * The rules are tinygrad's uop/symbolic.py in spirit; sums of index terms are kept in a canonical form (terms merged,
 * constant last) so that flatten-then-unflatten index arithmetic cancels. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// constant folding

/* a CAST of a constant, as C converts */
static tg__uop *tg__fold_cast(tg_dtype dt, const tg__uop *s) {
  tg_dtype sdt = s->dtype;
  double v = tg__const_val(s);
  if (dt == TG_BOOL) return tg__const_int(TG_BOOL, v != 0); /* any non-zero, 0.5 included, is true */
  if (tg_dtype_is_float(dt) || !tg_dtype_is_float(sdt)) {
    if (!tg_dtype_is_float(sdt) && !tg_dtype_is_float(dt)) return tg__const_int(dt, s->arg.i);
    return tg__const(dt, v);
  }
  if (isnan(v) || isinf(v)) return NULL; /* undefined in C */
  return tg__const(dt, trunc(v));
}

/* evaluates op over constants through the op table's evaluators, in the semantics of the generated C code (wrapped
 * to dt by tg__const_int); returns NULL when it must not fold (no evaluator for that dtype, an undefined shift) */
static tg__uop *tg__fold(tg__op op, tg_dtype dt, tg__uop **s, int n) {
  if (op == TG__OP_CAST) return tg__fold_cast(dt, s[0]);
  const tg__op_info *o = &tg__ops[op];
  tg_dtype sdt = s[0]->dtype;
  if (tg_dtype_is_float(sdt)) {
    double v[3] = {0, 0, 0};
    for (int i = 0; i < n && i < 3; i++) v[i] = tg__const_val(s[i]);
    if (!o->eval_float) return NULL;
    double r = o->eval_float(v);
    return tg__op_is_cmp(op) ? tg__const_int(TG_BOOL, r != 0) : tg__const(dt, r);
  }
  int64_t v[3] = {0, 0, 0}, r;
  for (int i = 0; i < n && i < 3; i++) v[i] = s[i]->arg.i;
  if (!o->eval_int || !o->eval_int(sdt, v, &r)) return NULL;
  return tg__const_int(dt, r);
}

static tg__uop *tg__rw_fold(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx;
  (void)b;
  return tg__fold(root->op, root->dtype, root->src, root->nsrc);
}

static tg__uop *tg__rw_zero(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  return tg__const_int(root->dtype, 0);
}
static tg__uop *tg__rw_one(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  return tg__const_int(root->dtype, 1);
}

static tg__uop *tg__rw_where_const(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx;
  return tg__bind(b, "c")->arg.i ? root->src[1] : root->src[2];
}

// ---------------------------------------------------------------------------------------------------------------------
// comparisons decided by bounds

static tg__uop *tg__rw_cmplt_bounds(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  int64_t a0, a1, b0, b1;
  if (tg_dtype_is_float(root->src[0]->dtype)) return NULL;
  tg__uop_bounds(root->src[0], &a0, &a1);
  tg__uop_bounds(root->src[1], &b0, &b1);
  if (a1 < b0) return tg__const_int(TG_BOOL, 1);
  if (a0 >= b1) return tg__const_int(TG_BOOL, 0);
  return NULL;
}

static tg__uop *tg__rw_cmpne_bounds(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  int64_t a0, a1, b0, b1;
  if (tg_dtype_is_float(root->src[0]->dtype)) return NULL;
  tg__uop_bounds(root->src[0], &a0, &a1);
  tg__uop_bounds(root->src[1], &b0, &b1);
  if (a1 < b0 || b1 < a0) return tg__const_int(TG_BOOL, root->op == TG__OP_CMPNE);
  return NULL;
}

/* (x + c) < d  ->  x < d - c, for ints */
static tg__uop *tg__rw_cmplt_shift(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)root;
  tg__uop *x = tg__bind(b, "x"), *c = tg__bind(b, "c"), *d = tg__bind(b, "d");
  return tg__alu(TG__OP_CMPLT, x, tg__const_int(x->dtype, d->arg.i - c->arg.i));
}

// ---------------------------------------------------------------------------------------------------------------------
// sums of index terms: flatten, merge and rebuild in a canonical order

#define TG__MAX_TERMS 32
typedef struct tg__sum {
  tg__uop *base[TG__MAX_TERMS];
  int64_t coef[TG__MAX_TERMS];
  int n;
  int64_t k; /* the constant */
  int ok;
} tg__sum;

static void tg__sum_add(tg__sum *s, tg__uop *u, int64_t coef) {
  if (!s->ok) return;
  if (u->op == TG__OP_CONST) { s->k += coef * u->arg.i; return; }
  if (u->op == TG__OP_ADD) { tg__sum_add(s, u->src[0], coef); tg__sum_add(s, u->src[1], coef); return; }
  if (u->op == TG__OP_SUB) { tg__sum_add(s, u->src[0], coef); tg__sum_add(s, u->src[1], -coef); return; }
  if (u->op == TG__OP_MUL && u->src[1]->op == TG__OP_CONST) {
    tg__sum_add(s, u->src[0], coef * u->src[1]->arg.i);
    return;
  }
  if (u->op == TG__OP_MUL && u->src[0]->op == TG__OP_CONST) {
    tg__sum_add(s, u->src[1], coef * u->src[0]->arg.i);
    return;
  }
  for (int i = 0; i < s->n; i++)
    if (s->base[i] == u) { s->coef[i] += coef; return; }
  if (s->n == TG__MAX_TERMS) { s->ok = 0; return; }
  s->base[s->n] = u;
  s->coef[s->n++] = coef;
}

static void tg__sum_of(tg__uop *u, tg__sum *s) {
  memset(s, 0, sizeof *s);
  s->ok = 1;
  tg__sum_add(s, u, 1);
}

/* (x//c)*c*k + (x%c)*k -> x*k: merges a quotient and remainder pair back into its dividend */
static int tg__sum_merge_divmod(tg__sum *s) {
  for (int i = 0; i < s->n; i++) {
    tg__uop *q = s->base[i];
    if (!s->coef[i] || q->op != TG__OP_IDIV || q->src[1]->op != TG__OP_CONST) continue;
    int64_t c = q->src[1]->arg.i;
    if (c <= 0 || s->coef[i] % c) continue;
    int64_t k = s->coef[i] / c;
    for (int j = 0; j < s->n; j++) {
      tg__uop *r = s->base[j];
      if (j == i || r->op != TG__OP_MOD || r->src[0] != q->src[0] || r->src[1] != q->src[1] || s->coef[j] != k)
        continue;
      int64_t lo, hi;
      tg__uop_bounds(q->src[0], &lo, &hi);
      if (lo < 0) continue;
      s->coef[i] = 0;
      s->coef[j] = 0;
      tg__sum_add(s, q->src[0], k);
      return 1;
    }
  }
  return 0;
}

/* terms in the order of their structural hash (then of creation, for a collision): the same sum is written the same
 * way in every run, whatever nodes the collector freed and rebuilt before (an order by creation made a kernel's source,
 * and so its cache key, depend on that history) */
static int tg__cmp_term(const void *a, const void *b) {
  const tg__uop *x = *(tg__uop *const *)a, *y = *(tg__uop *const *)b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static tg__uop *tg__sum_build(tg__sum *s, tg_dtype dt) {
  /* order terms canonically (tg__cmp_term) */
  tg__uop *bases[TG__MAX_TERMS];
  int64_t coefs[TG__MAX_TERMS];
  int m = 0;
  for (int i = 0; i < s->n; i++)
    if (s->coef[i]) bases[m++] = s->base[i];
  qsort(bases, (size_t)m, sizeof(tg__uop *), tg__cmp_term);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < s->n; j++)
      if (s->base[j] == bases[i]) coefs[i] = s->coef[j];
  tg__uop *acc = NULL;
  for (int i = 0; i < m; i++) {
    tg__uop *t = coefs[i] == 1 ? bases[i] : tg__alu(TG__OP_MUL, bases[i], tg__const_int(dt, coefs[i]));
    acc = acc ? tg__alu(TG__OP_ADD, acc, t) : t;
  }
  if (!acc) return tg__const_int(dt, s->k);
  return s->k ? tg__alu(TG__OP_ADD, acc, tg__const_int(dt, s->k)) : acc;
}

/* an integer ADD (or MUL by a constant of an ADD): rebuilt canonically when that changes it. Not unsigned ones: they
 * are bit arithmetic (random numbers' threefry, packed quants), never indices, and their chains of a += b, flattened
 * into sums of every earlier term, shared nothing: a draw's 20 rounds became hundreds of adds (1M floats: 1.7-2.5 ms
 * -> 3.1-4.3) */
static tg__uop *tg__rw_canon_sum(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  if (tg_dtype_is_unsigned(root->dtype)) return NULL;
  tg__sum s;
  tg__sum_of(root, &s);
  if (!s.ok) return NULL;
  tg__sum_merge_divmod(&s);
  tg__uop *r = tg__sum_build(&s, root->dtype);
  return r == root ? NULL : r;
}

// ---------------------------------------------------------------------------------------------------------------------
// division and remainder by a positive constant (tinygrad's div_and_mod_folding)

static int64_t tg__gcd(int64_t a, int64_t b) {
  a = a < 0 ? -a : a;
  b = b < 0 ? -b : b;
  while (b) { int64_t t = a % b; a = b; b = t; }
  return a;
}

static tg__uop *tg__divmod_fold(tg__uop *root, tg__uop *x, int64_t c) {
  int is_mod = root->op == TG__OP_MOD;
  tg_dtype dt = root->dtype;
  int64_t lo, hi;
  if (c <= 0) return NULL;
  tg__uop_bounds(x, &lo, &hi);
  if (lo < 0) return NULL;
  if (hi < c) return is_mod ? x : tg__const_int(dt, 0);
  /* (x // a) // c -> x // (a*c);  (x % a) % c -> x % c when c divides a */
  if (!is_mod && x->op == TG__OP_IDIV && x->src[1]->op == TG__OP_CONST && x->src[1]->arg.i > 0)
    return tg__alu(TG__OP_IDIV, x->src[0], tg__const_int(dt, x->src[1]->arg.i * c));
  if (is_mod && x->op == TG__OP_MOD && x->src[1]->op == TG__OP_CONST && x->src[1]->arg.i % c == 0)
    return tg__alu(TG__OP_MOD, x->src[0], root->src[1]);
  tg__sum s;
  tg__sum_of(x, &s);
  if (!s.ok || s.k < 0) return NULL;
  for (int i = 0; i < s.n; i++) {
    int64_t blo, bhi;
    tg__uop_bounds(s.base[i], &blo, &bhi);
    if (s.coef[i] < 0 || blo < 0) return NULL;
  }
  /* split every coefficient into a quotient and remainder part; if the remainders cannot reach c, divide exactly */
  tg__sum q, r;
  memset(&q, 0, sizeof q);
  memset(&r, 0, sizeof r);
  q.ok = r.ok = 1;
  double rmax = (double)(s.k % c);
  int any_q = s.k >= c;
  for (int i = 0; i < s.n; i++) {
    int64_t blo, bhi;
    tg__uop_bounds(s.base[i], &blo, &bhi);
    if (s.coef[i] / c) { tg__sum_add(&q, s.base[i], s.coef[i] / c); any_q = 1; }
    if (s.coef[i] % c) tg__sum_add(&r, s.base[i], s.coef[i] % c);
    rmax += (double)(s.coef[i] % c) * (double)bhi;
  }
  q.k = s.k / c;
  r.k = s.k % c;
  if (rmax < (double)c) return is_mod ? tg__sum_build(&r, dt) : tg__sum_build(&q, dt);
  /* a common factor: (g*y) // (g*d) -> y // d, (g*y) % (g*d) -> (y % d) * g */
  int64_t g = tg__gcd(c, s.k);
  for (int i = 0; i < s.n; i++) g = tg__gcd(g, s.coef[i]);
  if (g > 1) {
    for (int i = 0; i < s.n; i++) s.coef[i] /= g;
    s.k /= g;
    tg__uop *y = tg__sum_build(&s, dt), *d = tg__const_int(dt, c / g);
    return is_mod ? tg__alu(TG__OP_MUL, tg__alu(TG__OP_MOD, y, d), tg__const_int(dt, g)) : tg__alu(TG__OP_IDIV, y, d);
  }
  /* x = f*a + b with 0 <= b < f, for a factor f of c: x // c -> a // (c/f), x % c -> (a % (c/f))*f + b. Terms whose
   * coefficient f divides make a, the others b: (20*y + z) // 40 -> y // 2 for z < 20 (a max pool's index into a
   * merged 20x20 block). f is a term's common factor with c, the largest that works. */
  int64_t tried = c;
  for (;;) {
    int64_t f = 1;
    for (int i = 0; i < s.n; i++) {
      int64_t gi = tg__gcd(s.coef[i], c);
      if (gi > f && gi < tried) f = gi;
    }
    if (f <= 1) break;
    tried = f;
    tg__sum a, rest;
    memset(&a, 0, sizeof a);
    memset(&rest, 0, sizeof rest);
    a.ok = rest.ok = 1;
    double bmax = (double)(s.k % f);
    for (int i = 0; i < s.n; i++) {
      int64_t blo, bhi;
      tg__uop_bounds(s.base[i], &blo, &bhi);
      if (s.coef[i] % f == 0) tg__sum_add(&a, s.base[i], s.coef[i] / f);
      else tg__sum_add(&rest, s.base[i], s.coef[i]), bmax += (double)s.coef[i] * (double)bhi;
    }
    a.k = s.k / f;
    rest.k = s.k % f;
    if (bmax >= (double)f) continue;
    tg__uop *m = tg__const_int(dt, c / f), *av = tg__sum_build(&a, dt);
    if (!is_mod) return tg__alu(TG__OP_IDIV, av, m);
    return tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, tg__alu(TG__OP_MOD, av, m), tg__const_int(dt, f)),
                   tg__sum_build(&rest, dt));
  }
  /* terms whose coefficient c divides leave the remainder alone: (c*y + z) // c -> y + z // c (all terms >= 0) */
  if (any_q && r.n + (r.k != 0) < s.n + (s.k != 0)) {
    tg__uop *rest = tg__sum_build(&r, dt);
    if (is_mod) return tg__alu(TG__OP_MOD, rest, root->src[1]);
    return tg__alu(TG__OP_ADD, tg__sum_build(&q, dt), tg__alu(TG__OP_IDIV, rest, root->src[1]));
  }
  return NULL;
}

static tg__uop *tg__rw_divmod(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx;
  return tg__divmod_fold(root, tg__bind(b, "x"), tg__bind(b, "c")->arg.i);
}

// ---------------------------------------------------------------------------------------------------------------------
// the table

static tg__uop *tg__rw_self_true(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)root, (void)b;
  return tg__const_int(TG_BOOL, 1);
}
static tg__uop *tg__rw_self_false(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)root, (void)b;
  return tg__const_int(TG_BOOL, 0);
}

static const tg__rule tg__symbolic_rules[] = {
    /* constant folding */
    TG__RULE("(UNARY|CAST CONST)", tg__rw_fold),                       /* op(c) -> its value */
    TG__RULE("(BINARY CONST CONST)", tg__rw_fold),                     /* op(c1, c2) -> its value */
    TG__RULE("(WHERE CONST:c x y)", tg__rw_where_const),               /* c ? x : y with c known */
    TG__RULE("(WHERE _ x x)", tg__rw_x),                           /* c ? x : x -> x */
    /* identities */
    TG__RULE("(ADD [x (CONST 0)])", tg__rw_x),                     /* x+0 -> x */
    TG__RULE("(SUB x (CONST 0))", tg__rw_x),                       /* x-0 -> x */
    TG__RULE("(MUL [x (CONST 1)])", tg__rw_x),                     /* x*1 -> x */
    TG__RULE("(MUL:int [x (CONST 0)])", tg__rw_zero),                  /* x*0 -> 0 (ints: no NaN) */
    TG__RULE("(IDIV x (CONST 1))", tg__rw_x),                      /* x//1 -> x */
    TG__RULE("(MOD:int x (CONST 1))", tg__rw_zero),                    /* x%1 -> 0 */
    TG__RULE("(IDIV|MOD:int x (CONST 0))", tg__rw_zero),               /* x//0, x%0 -> 0 (api.h defines them) */
    TG__RULE("(MOD:int x (CONST -1))", tg__rw_zero),                   /* x%-1 -> 0 (signed: -1 is no unsigned value) */
    TG__RULE("(MAX x x)", tg__rw_x),                               /* max(x,x) -> x */
    TG__RULE("(AND|OR x x)", tg__rw_x),                            /* x&x, x|x -> x */
    TG__RULE("(AND:bool [x (CONST 1)])", tg__rw_x),                /* x&true -> x */
    TG__RULE("(AND:bool [_ (CONST 0)])", tg__rw_zero),                 /* x&false -> false */
    TG__RULE("(OR:bool [x (CONST 0)])", tg__rw_x),                 /* x|false -> x */
    TG__RULE("(OR:bool [_ (CONST 1)])", tg__rw_one),                   /* x|true -> true */
    TG__RULE("(CMPNE:bool x:int x)", tg__rw_self_false),               /* x!=x -> false (ints) */
    TG__RULE("(CMPEQ:bool x:int x)", tg__rw_self_true),                /* x==x -> true (ints) */
    TG__RULE("(CMPLT x:int x)", tg__rw_self_false),                    /* x<x -> false (ints) */
    /* index arithmetic */
    TG__RULE("(CMPLT x y)", tg__rw_cmplt_bounds),                      /* decided by bounds */
    TG__RULE("(CMPNE|CMPEQ x y)", tg__rw_cmpne_bounds),                /* disjoint bounds */
    TG__RULE("(CMPLT (ADD:int x CONST:c) CONST:d)", tg__rw_cmplt_shift), /* x+c<d -> x<d-c */
    TG__RULE("(ADD:int x y)", tg__rw_canon_sum),                       /* merge terms, constant last */
    TG__RULE("(MUL:int (ADD x y) CONST)", tg__rw_canon_sum),           /* (x+y)*c -> x*c+y*c */
    TG__RULE("(MUL:int (MUL x CONST) CONST)", tg__rw_canon_sum),       /* (x*c1)*c2 -> x*(c1*c2) */
    TG__RULE("(IDIV:int x CONST:c)", tg__rw_divmod),                   /* exact splits of sums, x//a//b */
    TG__RULE("(MOD:int x CONST:c)", tg__rw_divmod),
};
TG__RULES_REGISTER(tg__symbolic_rules)

TG__PRIVATE tg__matcher *tg__symbolic(void) { return TG__MATCHER(tg__symbolic_rules); }
TG__PRIVATE tg__uop *tg__simplify(tg__uop *u) { return tg__graph_rewrite(u, tg__symbolic(), NULL); }
