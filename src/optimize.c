/* optimize.c: heuristic optimisations of a lowered kernel (loops over RANGEs), applied before linearising.
 *
 * Contract: every optimisation is a rewrite that keeps the kernel's meaning: the same stores of the same values.
 *   UPCAST r by f: the output loop r of size n becomes a loop r' of size n/f, and the kernel body is repeated f times
 *   with r := r'*f + c, c = 0..f-1 (a substitution rule plus the symbolic rules). The copies share their reduction
 *   loops, which the linearizer fuses, so one pass over the reduced axis feeds f accumulators: loads are reused from
 *   registers and the C compiler vectorises across the copies. This is tinygrad's UPCAST, unrolled.
 * The heuristic (tg__optimize) upcasts the output of reductions with two or more output loops (matmul, conv) into a
 * register tile (8x32 accumulators with AVX-512, 4x16 otherwise). NOOPT=1 turns it off. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// substitution: replace given nodes everywhere in a graph (tinygrad's UOp.substitute)

static tg__uop *rw_substitute(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  return (tg__uop *)tg__map_get((tg__map *)ctx, root);
}

static const tg__rule tg__substitute_rules[] = {
    TG__RULE("(RANGE)", rw_substitute), /* a range given a value */
};

/* root with the RANGE `from` replaced by `to`, simplified */
static tg__uop *tg__substitute_range(tg__uop *root, tg__uop *from, tg__uop *to) {
  tg__map m;
  memset(&m, 0, sizeof m);
  tg__map_put(&m, from, to);
  tg__uop *r = tg__graph_rewrite2(root, TG__MATCHER(tg__substitute_rules), tg__symbolic(), &m);
  tg__map_free(&m);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------------
// upcast

static tg__uop *tg__upcast(tg__uop *sink, tg__uop *r, int64_t f) {
  int64_t n = (int64_t)tg__const_val(r->src[0]);
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = r->arg.i;
  tg__uop *outer = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, n / f), &a);
  tg__vec stores;
  memset(&stores, 0, sizeof stores);
  for (int i = 0; i < sink->nsrc; i++)
    for (int64_t c = 0; c < f; c++) {
      tg__uop *v =
          tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, outer, tg__const_int(r->dtype, f)), tg__const_int(r->dtype, c));
      tg__vec_push(&stores, tg__substitute_range(sink->src[i], r, v));
    }
  tg__uop *out = tg__uop_new(TG__OP_SINK, sink->dtype, stores.n, (tg__uop **)stores.items, &sink->arg);
  tg__vec_free(&stores);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// the heuristic

static int64_t tg__range_size(const tg__uop *r) { return (int64_t)tg__const_val(r->src[0]); }

static int64_t tg__pick_factor(int64_t n, const int64_t *choices, int nchoices, int64_t limit) {
  for (int i = 0; i < nchoices; i++)
    if (choices[i] <= limit && n % choices[i] == 0 && n / choices[i] >= 1 && choices[i] < n * 2) return choices[i];
  return 1;
}

TG__PRIVATE tg__uop *tg__optimize(tg__uop *sink, int nglobal) {
  if (tg__getenv_int("NOOPT", 0)) return sink;
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  tg__uop *globals[TG_MAX_DIMS];
  int ng = 0, has_reduce = 0;
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_REDUCE) has_reduce = 1;
    if (u->op == TG__OP_RANGE && u->arg.i < nglobal && ng < TG_MAX_DIMS) globals[ng++] = u;
  }
  tg__vec_free(&all);
  if (!has_reduce || ng < 2 || sink->nsrc != 1) return sink;
  /* the output loops in order; the last is contiguous in the output */
  for (int i = 1; i < ng; i++)
    for (int j = i; j > 0 && globals[j]->arg.i < globals[j - 1]->arg.i; j--) {
      tg__uop *t = globals[j];
      globals[j] = globals[j - 1];
      globals[j - 1] = t;
    }
  /* the register tile: rows of i times vectors of j. With AVX-512 (32 registers of 16 floats) an 8x32 tile holds its
   * 16 accumulator registers with room for the loads; otherwise 4x16 (AVX2: 8 of 16 registers) */
  int wide = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  wide = __builtin_cpu_supports("avx512f");
#endif
  static const int64_t inner[] = {32, 16, 8, 4, 2}, outer[] = {8, 4, 2};
  tg__uop *rj = globals[ng - 1], *ri = globals[ng - 2];
  int64_t fj = tg__pick_factor(tg__range_size(rj), inner + (wide ? 0 : 1), TG__COUNT(inner) - (wide ? 0 : 1), 32);
  int64_t fi = tg__pick_factor(tg__range_size(ri), outer + (wide ? 0 : 1), TG__COUNT(outer) - (wide ? 0 : 1),
                               (wide ? 256 : 64) / fj);
  /* keep the parallel loop long enough to share among threads */
  if (ri == globals[0] && tg__range_size(ri) / fi < 16) fi = 1;
  /* i first, so the copies are ordered (i, j) with j fastest: adjacent accumulators read adjacent memory */
  if (fi > 1) sink = tg__upcast(sink, ri, fi);
  if (fj > 1) sink = tg__upcast(sink, rj, fj);
  return sink;
}
