/* optimize.c: optimisations of a lowered kernel (loops over RANGEs), applied before linearising (layer 3).
 *
 * Contract:
 *  - A kernel's optimisations are data: a list of Opts (op, axis, amount), tinygrad's OptOps. tg__apply_opts applies
 *    a list in order and refuses an illegal Opt with the reason (an axis that does not exist or that an earlier Opt
 *    removed, an amount that does not divide it, more than 1024 copies of the body, an op the target cannot have);
 *    the heuristic (tg__heuristic_opts) returns a list, and NOOPT=1 makes it empty. DEBUG=2 prints each kernel's list.
 *  - Every Opt is a rewrite that keeps the kernel's meaning: the same stores of the same values.
 *    UPCAST r by f: the output loop r of size n becomes a loop r' of size n/f, and the kernel body is repeated f times
 *    with r := r'*f + c, c = 0..f-1 (a substitution rule plus the symbolic rules). The copies share their reduction
 *    loops, which the linearizer fuses, so one pass over the reduced axis feeds f accumulators: loads are reused from
 *    registers and the C compiler vectorises across the copies. This is tinygrad's UPCAST, unrolled.
 *    UNROLL r by f: each reduction over r sums f copies of its body per step (f = n removes the loop).
 *    SWAP a, b: two output loops trade places, which changes the outermost one (split across threads on the CPU).
 *    THREAD r by T (CPU only): r := t*(n/T) + r', where t is a new loop of T iterations that runs outermost (codegen
 *    keeps range id 0 for it), so the threads split r instead of the outermost output loop; a second THREAD makes
 *    range 0 a grid of tasks (the first THREAD's part is t / T, the new one's t % T).
 *    GROUP r by f on a CPU: each reduction over r becomes f reductions with their own accumulators, over
 *    r := r'*f + c, combined after the loop; where r is contiguous the compiler makes them one vector.
 *    PADTO r to a multiple of a (an output loop, at most a quarter longer): r runs to m = n rounded up, and every load
 *    and store whose address depends on r is gated by r < n (tinygrad's PADTO), so a later UPCAST can take a vector's
 *    width of an axis no power of two divides (1000 -> 1024).
 *    Workgroups (a GPU whose dialect has them; the CPU refuses these): LOCAL r by f makes r := r'*f + l, where l is
 *    a digit of the thread's index within its workgroup (a thread range), so f neighbouring outputs are computed by
 *    f threads of one workgroup. GROUP r by f does the same to a reduction loop (GROUPTOP: r := l*(n/f) + r'): the
 *    f threads of a group each reduce their share, and tg__lower_groups combines the shares through shared memory
 *    after a barrier. NOLOCALS forbids the workgroup Opts after it. The last thread range made is the fastest digit.
 *    TC r (a GPU with tensor cores, tg__target.tensor_cores; it comes first): the kernel's one reduction over loop r,
 *    a float32 sum of products of float16 or bfloat16 x * y, is computed by PTX's warp-level mma.sync m16n8k16
 *    (tg__tensor_cores): rows m (the innermost output loop x reads and y does not), columns n (the reverse) and r are
 *    padded to multiples of 16, 8 and 16, and split into the tensor core's tiles, whose 32 threads are two new thread
 *    digits (lanes, the fastest digits of the workgroup); each thread's four outputs of a tile are four copies of the
 *    stores, and its elements of A and B the sources of one WMMA node per tile and step of 16 along r (tg__apply_tc).
 *    Later UPCASTs and LOCALs of m and n give a warp several tiles and a workgroup several warps. TC with an amount
 *    c >= 1 also stages the operands in shared memory, configuration c (tg__tc_configs: tiles per warp, warps per
 *    workgroup, steps along k per stage; tg__apply_tc_staged) of the blocks that fast GPU matmuls use; it comes last.
 *    STAGE r by c (a GPU with workgroups and shared memory; the only Opt of its list) does the same for a float32
 *    matmul on the ordinary cores: configuration c (tg__stage_configs: outputs per thread, threads per workgroup,
 *    steps along k per stage) of blocks whose stages of A and B are copied into shared memory, each thread summing a
 *    register tile of outputs from 16-byte reads of it (tg__apply_stage).
 *  - The heuristic reads the machine (tg__target, which the device describes: vector lanes and registers, cores). It
 *    upcasts the output of reductions with two or more output loops (matmul, conv) into a register tile of two
 *    vectors by as many rows as fill half the registers (4x16 with AVX2, 8x8 with NEON, 4x4 per GPU thread; a matmul
 *    gets 12x32 with AVX-512, 6x16 with AVX2, its rows padded by shifting the last tile back), unrolls a
 *    convolution's window (or GROUPs it, for a weight gradient), blocks a matmul whose B does not fit a core's
 *    level-2 cache (a grid of two THREADs), runs a copy's short innermost loop straight-line, and gives any kernel
 *    whose outermost loop is shorter than the core count a THREAD on another output loop. On a GPU with workgroups
 *    it also GROUPs reductions to few outputs or along a contiguous axis (tg__gpu_group_rule, with a 4x4 tile first
 *    for a weight gradient and a LOCAL along the columns of a column sum), gives a 16-bit matmul to the tensor cores
 *    where the device has them (tg__tc_rule: shared-memory blocks of 128x128 where they divide it, else 4x4 tiles a
 *    warp, 2x2 warps a workgroup), stages a float32 matmul whose blocks divide it and fill the device
 *    (tg__stage_rule), gives convolution tiles 16x16 workgroups, and upcasts contiguous elementwise kernels by 4
 *    (float4 accesses); NOLOCALS=1 turns the workgroups off. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// substitution: replace given nodes everywhere in a graph (tinygrad's UOp.substitute)

static tg__uop *tg__rw_substitute(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  return (tg__uop *)tg__map_get((tg__map *)ctx, root);
}

static const tg__rule tg__substitute_rules[] = {
    TG__RULE("(RANGE)", tg__rw_substitute), /* a range given a value */
};
TG__RULES_REGISTER(tg__substitute_rules)

/* root with each RANGE from[i] replaced by to[i], simplified */
static tg__uop *tg__substitute_ranges(tg__uop *root, tg__uop *const *from, tg__uop *const *to, int n) {
  tg__map m;
  memset(&m, 0, sizeof m);
  for (int i = 0; i < n; i++) tg__map_put(&m, from[i], to[i]);
  tg__uop *r = tg__graph_rewrite2(root, TG__MATCHER(tg__substitute_rules), tg__symbolic(), &m);
  tg__map_free(&m);
  return r;
}

/* root with the RANGE `from` replaced by `to`, simplified */
static tg__uop *tg__substitute_range(tg__uop *root, tg__uop *from, tg__uop *to) {
  return tg__substitute_ranges(root, &from, &to, 1);
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
// reduce collapse: a sum over r of (r == e ? v : 0), e independent of r, is v at r = e (tinygrad's arange folding)

/* the selected value v and the compare of `where(cmp, v, 0)` or `cast(cmp) * v`; 0 if u is neither */
static int tg__one_hot(tg__uop *u, tg__uop **cmp, tg__uop **v) {
  double z;
  if (u->op == TG__OP_WHERE && tg__is_const(u->src[2], &z) && z == 0 && u->src[0]->op == TG__OP_CMPEQ) {
    *cmp = u->src[0], *v = u->src[1];
    return 1;
  }
  if (u->op == TG__OP_MUL)
    for (int k = 0; k < 2; k++) {
      tg__uop *c = u->src[k];
      if (c->op == TG__OP_CAST && c->src[0]->op == TG__OP_CMPEQ && c->src[0]->dtype == TG_BOOL) {
        *cmp = c->src[0], *v = u->src[1 - k];
        return 1;
      }
    }
  return 0;
}

/* The gather X[idx] is built as sum over k of (idx == k) * X[k] (tinygrad's one-hot form): n times the work, and for
 * X_train[samples] 60000 times. When the compare is against the reduction's own loop r, the sum has one nonzero
 * term: the value at r = e, when 0 <= e < n. The address is clamped, so no load leaves the buffer. */
static tg__uop *tg__rw_collapse(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)ctx, (void)b;
  if (root->arg.i != TG__OP_ADD && !(root->arg.i == TG__OP_MAX && root->dtype == TG_BOOL)) return NULL;
  tg__uop *cmp, *v;
  if (!tg__one_hot(root->src[0], &cmp, &v)) return NULL;
  for (int i = 1; i < root->nsrc; i++) {
    tg__uop *r = root->src[i], *e = cmp->src[0] == r ? cmp->src[1] : cmp->src[1] == r ? cmp->src[0] : NULL;
    if (!e || e->dtype != r->dtype) continue;
    if (tg__uop_reaches(e, r)) continue;
    int64_t n = (int64_t)tg__const_val(r->src[0]);
    tg__uop *zero = tg__const_int(e->dtype, 0), *last = tg__const_int(e->dtype, n - 1);
    tg__uop *neg = tg__alu(TG__OP_CMPLT, e, zero), *below = tg__alu(TG__OP_CMPLT, e, tg__const_int(e->dtype, n));
    tg__uop *valid = tg__where(neg, tg__const_int(TG_BOOL, 0), below);
    tg__uop *at = tg__where(neg, zero, tg__where(below, e, last));
    tg__uop *val = tg__where(valid, tg__substitute_range(v, r, at), tg__const(root->dtype, 0));
    if (val->dtype != root->dtype) val = tg__cast(val, root->dtype);
    tg__uop *srcs[TG_MAX_DIMS * 2 + 1];
    int m = 0;
    srcs[m++] = val;
    for (int j = 1; j < root->nsrc; j++)
      if (j != i) srcs[m++] = root->src[j];
    return m == 1 ? val : tg__uop_new(TG__OP_REDUCE, root->dtype, m, srcs, &root->arg);
  }
  return NULL;
}

static const tg__rule tg__collapse_rules[] = {
    TG__RULE("(REDUCE)", tg__rw_collapse),
};
TG__RULES_REGISTER(tg__collapse_rules)

TG__PRIVATE tg__uop *tg__collapse_reduces(tg__uop *sink) {
  return tg__graph_rewrite2(sink, TG__MATCHER(tg__collapse_rules), tg__symbolic(), NULL);
}

/* a loop's size; 0 for a loop of symbolic size (a reduction over a KV cache's filled positions) */
static int64_t tg__range_size(const tg__uop *r) {
  return r->src[0]->op == TG__OP_CONST ? (int64_t)tg__const_val(r->src[0]) : 0;
}

/* ...its largest size (a loop of symbolic size: the bound of its expression) */
static int64_t tg__range_max(const tg__uop *r) {
  if (r->src[0]->op == TG__OP_CONST) return (int64_t)tg__const_val(r->src[0]);
  int64_t lo = 0, hi = 0;
  tg__uop_bounds(r->src[0], &lo, &hi);
  return hi > 0 ? hi : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// merge: two adjacent loops that every address walks as one become one loop (tinygrad merges such axes too)

/* in a REDUCE over both a and b, the pair becomes r (a's place); ctx is {a, b, r} */
static tg__uop *tg__rw_merge_reduce(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__uop **abr = (tg__uop **)ctx, *srcs[TG_MAX_DIMS * 2 + 1];
  int ia = -1, ib = -1, n = 0;
  for (int i = 1; i < root->nsrc; i++) ia = root->src[i] == abr[0] ? i : ia, ib = root->src[i] == abr[1] ? i : ib;
  if (ia < 0 || ib < 0) return NULL;
  for (int i = 0; i < root->nsrc; i++)
    if (i != ib) srcs[n++] = i == ia ? abr[2] : root->src[i];
  return tg__uop_new(TG__OP_REDUCE, root->dtype, n, srcs, &root->arg);
}

static const tg__rule tg__merge_rules[] = {
    TG__RULE("(REDUCE)", tg__rw_merge_reduce), /* the loop list of a reduction over both */
};
TG__RULES_REGISTER(tg__merge_rules)

/* The loops a (outer, size na) and b (inner, nb) as one loop r of na * nb, a = r / nb and b = r % nb, kept only where
 * the symbolic rules take every division and remainder of r away again: then each address is linear in r, as it
 * was in a and b (stride(a) == nb * stride(b) for every buffer), and the kernel does less loop bookkeeping in a
 * longer inner loop that the compiler vectorises whole. batchnorm's statistics sum 512 rows of 20x20 contiguous
 * floats: a loop of 20 became 4-wide vectors with a horizontal sum each time; one of 400 is 16-wide. NULL if not. */
static tg__uop *tg__merge_pair(tg__uop *sink, tg__uop *a, tg__uop *b) {
  int64_t nb = tg__range_size(b), n = tg__range_size(a) * nb;
  if (tg__range_size(a) < 2 || nb < 2 || n > INT32_MAX) return NULL; /* (an empty loop: r would be a itself) */
  tg__arg arg;
  memset(&arg, 0, sizeof arg);
  arg.i = a->arg.i;
  tg__uop *r = tg__uop1(TG__OP_RANGE, a->dtype, tg__const_int(a->dtype, n), &arg), *abr[3] = {a, b, r};
  tg__uop *m = tg__graph_rewrite(sink, TG__MATCHER(tg__merge_rules), abr);
  tg__map sub;
  memset(&sub, 0, sizeof sub);
  tg__map_put(&sub, a, tg__alu(TG__OP_IDIV, r, tg__const_int(a->dtype, nb)));
  tg__map_put(&sub, b, tg__alu(TG__OP_MOD, r, tg__const_int(a->dtype, nb)));
  m = tg__graph_rewrite2(m, TG__MATCHER(tg__substitute_rules), tg__symbolic(), &sub);
  tg__map_free(&sub);
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(m, &all);
  int ok = 1;
  for (int i = 0; i < all.n && ok; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    ok = u != a && u != b && !((u->op == TG__OP_IDIV || u->op == TG__OP_MOD) && tg__uop_reaches(u->src[0], r));
  }
  tg__vec_free(&all);
  return ok ? m : NULL;
}

/* the loops of one role in order, outermost first: the output loops (ids below nglobal) or one REDUCE's */
static int tg__loops_of(tg__uop *sink, int nglobal, const tg__uop *reduce, tg__uop **out) {
  int n = 0;
  if (reduce) {
    for (int i = 1; i < reduce->nsrc && n < TG_MAX_DIMS; i++) out[n++] = reduce->src[i];
    return n;
  }
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_RANGE && u->arg.i > 0 && u->arg.i < nglobal && n < TG_MAX_DIMS) out[n++] = u;
  }
  tg__vec_free(&all);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && out[j]->arg.i < out[j - 1]->arg.i; j--) {
      tg__uop *t = out[j];
      out[j] = out[j - 1], out[j - 1] = t;
    }
  return n;
}

/* Merges adjacent loops of one role (output loops, or one reduction's), innermost pairs first, wherever
 * tg__merge_pair can: a contiguous elementwise kernel over 512x32x24x24 becomes one loop, and a sum over rows of a
 * contiguous 20x20 block one loop of 400. Runs before any Opt, so the heuristic and BEAM see the merged loops. */
TG__PRIVATE tg__uop *tg__merge_loops(tg__uop *sink, int nglobal) {
  if (tg__getenv_int("NOMERGE", 0)) return sink;
  const tg__uop *failed[64][2]; /* pairs tried in vain: loops are the same nodes after other pairs merge */
  int nfailed = 0;
  for (int pass = 0; pass < 64; pass++) { /* each pass merges one pair, or finds none and returns */
    tg__vec all;
    memset(&all, 0, sizeof all);
    tg__uop_toposort(sink, &all);
    tg__uop *roles[TG_MAX_DIMS + 1];
    int nroles = 0;
    roles[nroles++] = NULL;
    for (int i = 0; i < all.n && nroles <= TG_MAX_DIMS; i++)
      if (((tg__uop *)all.items[i])->op == TG__OP_REDUCE) roles[nroles++] = (tg__uop *)all.items[i];
    tg__vec_free(&all);
    tg__uop *merged = NULL;
    for (int k = 0; k < nroles && !merged; k++) {
      tg__uop *loops[TG_MAX_DIMS];
      int n = tg__loops_of(sink, nglobal, roles[k], loops);
      for (int i = n - 1; i > 0 && !merged; i--) {
        int tried = loops[i - 1]->op != TG__OP_RANGE || loops[i]->op != TG__OP_RANGE;
        for (int f = 0; f < nfailed && !tried; f++) tried = failed[f][0] == loops[i - 1] && failed[f][1] == loops[i];
        if (tried) continue;
        merged = tg__merge_pair(sink, loops[i - 1], loops[i]);
        if (!merged && nfailed < 64) failed[nfailed][0] = loops[i - 1], failed[nfailed++][1] = loops[i];
      }
    }
    if (!merged) return sink;
    sink = merged;
  }
  return sink;
}

// ---------------------------------------------------------------------------------------------------------------------
// unroll: a reduction loop r of size n by f (f == n removes it)

/* UNROLL: every REDUCE over r gets the f copies of its body, with r := r'*f + c, combined by its own op, under a loop
 * r' of size n/f (tinygrad's UNROLL). Copies that read the same address are one node, so with the output upcast a
 * convolution's window loads are shared: x[ow + kw] for a tile of ow and every kw.
 * GROUP, on the CPU: every REDUCE over r becomes f REDUCEs, the c-th over the c-th copy, each with its own
 * accumulator, combined by the reduction's op after the loop (a GPU's GROUP shares a reduction among a workgroup's
 * threads; a CPU's among vector lanes). The f accumulators read consecutive addresses wherever r has stride 1, so the
 * compiler makes them one vector: a reduction along a contiguous axis (a conv's weight gradient, whose outputs are
 * along no contiguous axis) gets vector multiply-adds instead of scalar ones. */
static tg__uop *tg__rw_split(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__uop **rf = (tg__uop **)ctx; /* {r, outer or NULL, f as a CONST, NULL (UNROLL) or not (GROUP)} */
  tg__uop *r = rf[0], *outer = rf[1];
  int64_t f = (int64_t)tg__const_val(rf[2]);
  int at = -1, group = rf[3] != NULL;
  for (int i = 1; i < root->nsrc; i++)
    if (root->src[i] == r) at = i;
  if (at < 0) return NULL;
  tg__uop *srcs[TG_MAX_DIMS * 2 + 1], *all = NULL;
  int n = 1; /* srcs[0] is the body, the rest the loops left */
  for (int i = 1; i < root->nsrc; i++)
    if (i != at) srcs[n++] = root->src[i];
    else if (outer) srcs[n++] = outer;
  for (int64_t c = 0; c < f; c++) {
    tg__uop *v = outer ? tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, outer, tg__const_int(r->dtype, f)),
                                 tg__const_int(r->dtype, c))
                       : tg__const_int(r->dtype, c);
    tg__uop *part = tg__substitute_range(root->src[0], r, v);
    if (group && n > 1) {
      srcs[0] = part;
      part = tg__uop_new(TG__OP_REDUCE, root->dtype, n, srcs, &root->arg);
    }
    all = all ? tg__alu((tg__op)root->arg.i, all, part) : part;
  }
  if (group || n == 1) return all; /* grouped, or no loop left */
  srcs[0] = all;
  return tg__uop_new(TG__OP_REDUCE, root->dtype, n, srcs, &root->arg);
}

static const tg__rule tg__split_rules[] = {
    TG__RULE("(REDUCE)", tg__rw_split),
};
TG__RULES_REGISTER(tg__split_rules)

/* UNROLL's and GROUP's rewrite of every REDUCE over r by f: the context is {r, the loop r' of n/f left (NULL when
 * f == n), f, and whether it groups} */
static tg__uop *tg__split_reduces(tg__uop *sink, tg__uop *r, int64_t f, int group) {
  int64_t n = (int64_t)tg__const_val(r->src[0]);
  tg__uop *ctx[4] = {r, NULL, tg__const_int(TG_INT32, f), group ? r : NULL};
  if (f < n) {
    tg__arg a;
    memset(&a, 0, sizeof a);
    a.i = r->arg.i;
    ctx[1] = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, n / f), &a);
  }
  return tg__graph_rewrite(sink, TG__MATCHER(tg__split_rules), ctx);
}

static tg__uop *tg__unroll(tg__uop *sink, tg__uop *r, int64_t f) { return tg__split_reduces(sink, r, f, 0); }

static tg__uop *tg__group(tg__uop *sink, tg__uop *r, int64_t f) { return tg__split_reduces(sink, r, f, 1); }

// ---------------------------------------------------------------------------------------------------------------------
// the heuristic

/* the RANGE of id `id` in sink, or NULL */
static tg__uop *tg__range_of(tg__uop *sink, int64_t id) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  tg__uop *r = NULL;
  for (int i = 0; i < all.n && !r; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_RANGE && u->arg.i == id) r = u;
  }
  tg__vec_free(&all);
  return r;
}

static tg__opt tg__mkopt(tg__optop op, int axis, int64_t amount) {
  tg__opt o;
  o.op = op;
  o.axis = axis;
  o.amount = amount;
  return o;
}

/* the position of loop r's id among ids (an Opt's axis) */
static int tg__axis_of(const int64_t *ids, int n, const tg__uop *r) {
  for (int i = 0; i < n; i++)
    if (ids[i] == r->arg.i) return i;
  return -1;
}

/* the ranges an expression depends on, as a mask of range ids (memoised in m) */
static uint64_t tg__range_deps(tg__uop *u, tg__map *m) {
  void *d = tg__map_get(m, u);
  if (d) return (uint64_t)(uintptr_t)d - 1;
  uint64_t mask = u->op == TG__OP_RANGE && u->arg.i < 64 ? 1ULL << u->arg.i : 0;
  for (int i = 0; i < u->nsrc; i++) mask |= tg__range_deps(u->src[i], m);
  tg__map_put(m, u, (void *)(uintptr_t)(mask + 1));
  return mask;
}

/* the loops an expression depends on that are open where it is computed: as tg__range_deps, but a reduction's own
 * loops are closed after it (the inner sums of a loss over rows are no loops of the outer sum's body) */
static uint64_t tg__open_deps(tg__uop *u, tg__map *m) {
  void *d = tg__map_get(m, u);
  if (d) return (uint64_t)(uintptr_t)d - 1;
  uint64_t mask = u->op == TG__OP_RANGE && u->arg.i < 64 ? 1ULL << u->arg.i : 0;
  for (int i = 0; i < u->nsrc; i++) mask |= tg__open_deps(u->src[i], m);
  for (int i = 1; u->op == TG__OP_REDUCE && i < u->nsrc; i++) mask &= ~(1ULL << (u->src[i]->arg.i & 63));
  tg__map_put(m, u, (void *)(uintptr_t)(mask + 1));
  return mask;
}

/* the ops the stride heuristic evaluates: index arithmetic. Any other op (a WHERE, a LOAD) makes the stride unknown,
 * so that the heuristic decides as it always has */
#define TG__OPBIT(op) (1ULL << TG__OP_##op)
static const uint64_t tg__eval_ops =
    TG__OPBIT(ADD) | TG__OPBIT(SUB) | TG__OPBIT(MUL) | TG__OPBIT(IDIV) | TG__OPBIT(MOD) | TG__OPBIT(MAX) |
    TG__OPBIT(SHL) | TG__OPBIT(SHR);
#undef TG__OPBIT

/* the value of an index expression with range `id` at v and every other range at 0, through the op table's integer
 * evaluators (in int64, as the kernels divide: never the host's trap); 0 with *ok cleared when the expression holds
 * an op this does not evaluate. A variable (or its value loaded from its table) counts as 1 when *ok is 2 on entry
 * (a guess, for the vector rule's estimate below), else it is an op this does not evaluate */
static int64_t tg__eval_at(const tg__uop *u, int64_t id, int64_t v, int *ok) {
  if (u->op == TG__OP_CONST) return u->arg.i;
  if (u->op == TG__OP_RANGE) return u->arg.i == id ? v : 0;
  if ((u->op == TG__OP_DEFINE_VAR || u->op == TG__OP_LOAD) && *ok == 2) return 1;
  const tg__op_info *o = &tg__ops[u->op];
  int64_t s[3] = {0, 0, 0}, r = 0;
  if (!((tg__eval_ops >> u->op) & 1) || u->nsrc > 3) {
    *ok = 0;
    return 0;
  }
  for (int i = 0; i < u->nsrc; i++) s[i] = tg__eval_at(u->src[i], id, v, ok);
  if (!o->eval_int(u->src[0]->dtype, s, &r)) *ok = 0;
  return r;
}

/* how far the index moves when range r goes from 0 to 1 (the others at 0); 0 when unknown */
static int64_t tg__stride(const tg__uop *idx, const tg__uop *r) {
  int ok = 1;
  int64_t s = tg__eval_at(idx, r->arg.i, 1, &ok) - tg__eval_at(idx, r->arg.i, 0, &ok);
  return ok ? s : 0;
}

/* Whether every input that moves with output loop r reads f adjacent values for each vector of f lanes (r = f*r' +
 * l), or one value for all of them, at every r' (at most 128 of them tried): r is then a vector axis although its
 * address is no affine function of it (attention's outputs, heads by positions in a head, merged into one loop read
 * as r / 64 and r % 64). Variables count as 1: an estimate, which only chooses a tile (the renderer makes vectors of
 * what is really contiguous, whatever this says) */
static int tg__lanes_contiguous(const tg__vec *access, const uint64_t *deps, const tg__uop *r, int64_t f) {
  int64_t n = tg__range_size(r), step = n / f > 128 ? (n / f / 128) * f : f;
  for (int a = 0; a < access->n; a++) {
    if (!(deps[a] & (1ULL << (r->arg.i & 63)))) continue;
    const tg__uop *idx = (const tg__uop *)access->items[a];
    int mode = -1; /* 1: adjacent values, 0: one value */
    for (int64_t base = 0; base + f <= n; base += step) {
      int ok = 2;
      int64_t at0 = tg__eval_at(idx, r->arg.i, base, &ok);
      for (int64_t l = 1; l < f && ok; l++) {
        int64_t d = tg__eval_at(idx, r->arg.i, base + l, &ok) - at0;
        int m = d == l ? 1 : d == 0 ? 0 : -2;
        if (m == -2 || (mode >= 0 && m != mode)) return 0;
        mode = m;
      }
      if (!ok) return 0;
    }
  }
  return 1;
}

/* the largest factor of n from the list, at most limit; for a short loop that none divides, the loop itself */
static int64_t tg__pick_factor(int64_t n, const int64_t *choices, int nchoices, int64_t limit) {
  for (int i = 0; i < nchoices; i++)
    if (choices[i] <= limit && choices[i] <= n && n % choices[i] == 0) return choices[i];
  if (n >= 1 && n <= 8 && n <= limit) return n;
  static const int64_t odd[] = {6, 5, 3};
  for (int i = 0; i < (int)TG__COUNT(odd); i++)
    if (odd[i] <= limit && n % odd[i] == 0) return odd[i];
  return 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// swap: two output loops trade places (their ids), so the outermost loop, split across threads, changes

static tg__uop *tg__rename_ranges(tg__uop *sink, tg__uop *const *from, const int64_t *ids, const int64_t *sizes,
                                  int n) {
  tg__map m;
  memset(&m, 0, sizeof m);
  for (int i = 0; i < n; i++) {
    tg__arg a;
    memset(&a, 0, sizeof a);
    a.i = ids[i];
    tg__map_put(&m, from[i], tg__uop1(TG__OP_RANGE, from[i]->dtype, tg__const_int(from[i]->dtype, sizes[i]), &a));
  }
  tg__uop *r = tg__graph_rewrite2(sink, TG__MATCHER(tg__substitute_rules), tg__symbolic(), &m);
  tg__map_free(&m);
  return r;
}

/* a and b trade ids through two ids no kernel uses, so that no renamed loop is renamed again (equal sizes would make
 * the new loop the other's node) */
static tg__uop *tg__swap(tg__uop *sink, tg__uop *a, tg__uop *b) {
  tg__uop *from[2] = {a, b};
  int64_t tmp[2] = {62, 63}, sizes[2] = {tg__range_size(a), tg__range_size(b)}, ids[2] = {b->arg.i, a->arg.i};
  sink = tg__rename_ranges(sink, from, tmp, sizes, 2);
  tg__uop *t[2];
  int64_t to[2], sz[2];
  int k = 0;
  for (int i = 0; i < 2; i++) { /* a loop the symbolic rules removed (size 1) has nothing to rename */
    tg__uop *r = tg__range_of(sink, tmp[i]);
    if (r) t[k] = r, to[k] = ids[i], sz[k++] = sizes[i];
  }
  return k ? tg__rename_ranges(sink, t, to, sz, k) : sink;
}

// ---------------------------------------------------------------------------------------------------------------------
// thread: an output loop r of size n becomes t * (n/T) + r', where t, of size T, is range 0 (which codegen keeps free
// for it) and so the outermost loop, the one the CPU splits across its threads. A second THREAD makes a grid of
// tasks: range 0 grows to T0 * T, the first THREAD's loop reads t / T and the new one t % T, so that a thread's run of
// consecutive tasks walks the last THREAD's loop fastest (a matmul's blocks of rows, sharing one block of columns)

static tg__uop *tg__thread(tg__uop *sink, tg__uop *r, int64_t T) {
  int64_t n = tg__range_size(r);
  tg__uop *old = tg__range_of(sink, 0);
  int64_t T0 = old ? tg__range_size(old) : 1;
  tg__arg a;
  memset(&a, 0, sizeof a);
  tg__uop *t = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, T0 * T), &a); /* id 0 */
  a.i = r->arg.i;
  tg__uop *inner = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, n / T), &a);
  tg__uop *mine = old ? tg__alu(TG__OP_MOD, t, tg__const_int(r->dtype, T)) : t;
  tg__uop *v = tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, mine, tg__const_int(r->dtype, n / T)), inner);
  if (old) sink = tg__substitute_range(sink, old, tg__alu(TG__OP_IDIV, t, tg__const_int(r->dtype, T)));
  return tg__substitute_range(sink, r, v);
}

// ---------------------------------------------------------------------------------------------------------------------
// workgroups (a GPU's): LOCAL and GROUP make part of a loop a digit of the thread's index within its workgroup (a
// thread range: a RANGE whose role, arg.i2, is TG__RANGE_LOCAL or TG__RANGE_GROUP). The digits are ordered by range
// id, which is the order the Opts made them: the last made is the fastest digit, so adjacent threads differ in it
// (an Opt list puts the axis that walks memory contiguously last, and the threads of a warp read adjacent memory).

TG__PRIVATE int tg__thread_ranges(tg__uop *sink, tg__uop **out) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  int n = 0;
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op != TG__OP_RANGE || u->arg.i2 == TG__RANGE_LOOP || n == TG_MAX_DIMS) continue;
    int k = n++, lane = u->arg.i2 == TG__RANGE_LANE; /* a tensor core's warp: the fastest digits, whatever came after */
    for (; k > 0 && ((out[k - 1]->arg.i2 == TG__RANGE_LANE) > lane ||
                     ((out[k - 1]->arg.i2 == TG__RANGE_LANE) == lane && out[k - 1]->arg.i > u->arg.i));
         k--)
      out[k] = out[k - 1];
    out[k] = u;
  }
  tg__vec_free(&all);
  return n;
}

/* an id no range of sink has (above every one), or -1 when none is left below the 62 that SWAP borrows */
static int64_t tg__fresh_range_id(tg__uop *sink) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  int64_t id = 0;
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_RANGE && u->arg.i >= id) id = u->arg.i + 1;
  }
  tg__vec_free(&all);
  return id < 62 ? id : -1;
}

/* in a REDUCE over r, r becomes the loop left (ctx[1], or none) and the thread range (ctx[2]); ctx[3] is r's value */
static tg__uop *tg__rw_group_reduce(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__uop **c = (tg__uop **)ctx, *srcs[TG_MAX_DIMS * 2 + 2];
  int at = -1, n = 1;
  for (int i = 1; i < root->nsrc; i++) at = root->src[i] == c[0] ? i : at;
  if (at < 0 || root->nsrc > TG_MAX_DIMS * 2) return NULL;
  srcs[0] = tg__substitute_range(root->src[0], c[0], c[3]);
  for (int i = 1; i < root->nsrc; i++)
    if (i != at) srcs[n++] = root->src[i];
    else if (c[1]) srcs[n++] = c[1];
  srcs[n++] = c[2];
  return tg__uop_new(TG__OP_REDUCE, root->dtype, n, srcs, &root->arg);
}

static const tg__rule tg__group_reduce_rules[] = {
    TG__RULE("(REDUCE)", tg__rw_group_reduce), /* a reduction over the loop a GROUP splits */
};
TG__RULES_REGISTER(tg__group_reduce_rules)

/* ...the same for a loop of symbolic size n, split into ceil(n / a) iterations of a threads: the iterations past n
 * add the reduction's identity (ctx[4]: r < n, with r's new value) */
static tg__uop *tg__rw_group_reduce_gated(void *ctx, tg__uop *root, const tg__bindings *b) {
  tg__uop **c = (tg__uop **)ctx;
  tg__uop *u = tg__rw_group_reduce(ctx, root, b);
  if (!u) return NULL;
  tg__uop *id = tg__const(root->dtype, tg__op_identity((tg__op)root->arg.i, root->dtype));
  tg__uop *srcs[TG_MAX_DIMS * 2 + 2];
  for (int i = 0; i < u->nsrc; i++) srcs[i] = u->src[i];
  srcs[0] = tg__uop3(TG__OP_WHERE, root->dtype, c[4], u->src[0], id, NULL);
  return tg__uop_new(TG__OP_REDUCE, root->dtype, u->nsrc, srcs, &root->arg);
}

static const tg__rule tg__group_reduce_gated_rules[] = {
    TG__RULE("(REDUCE)", tg__rw_group_reduce_gated), /* a reduction over the symbolic loop a GROUP splits */
};
TG__RULES_REGISTER(tg__group_reduce_gated_rules)

static tg__uop *tg__padto_gate(tg__uop *sink, tg__uop *wide, tg__uop *in);

/* LOCAL (an output loop) and GROUP / GROUPTOP (a reduction loop) r of size n by a: r := r'*a + l (GROUPTOP: l*(n/a)
 * + r'), where l is a new thread range of size a with the role given and r' the loop of n/a left (none when a == n).
 * A GROUP's reductions run over l as well: tg__lower_groups later shares them among the workgroup's threads */
static tg__uop *tg__thread_split(tg__uop *sink, tg__uop *r, int64_t a, int role, int top, int64_t id) {
  int64_t n = tg__range_size(r);
  tg__arg arg;
  memset(&arg, 0, sizeof arg);
  arg.i = id, arg.i2 = role;
  tg__uop *l = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, a), &arg), *rest = NULL, *v = l;
  if (r->src[0]->op != TG__OP_CONST) { /* a GROUP of a loop of symbolic size: ceil(n / a) loads a thread, gated */
    tg__uop *sz = r->src[0];
    arg.i = r->arg.i, arg.i2 = TG__RANGE_LOOP;
    tg__uop *iters = tg__alu(TG__OP_IDIV, tg__alu(TG__OP_ADD, sz, tg__const_int(r->dtype, a - 1)),
                             tg__const_int(r->dtype, a));
    rest = tg__uop1(TG__OP_RANGE, r->dtype, tg__simplify(iters), &arg);
    v = tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, rest, tg__const_int(r->dtype, a)), l);
    tg__uop *in = tg__alu(TG__OP_CMPLT, v, sz);
    tg__uop *ctx[5] = {r, rest, l, v, in};
    sink = tg__graph_rewrite(sink, TG__MATCHER(tg__group_reduce_gated_rules), ctx);
    return tg__padto_gate(sink, rest, in); /* the loads past n read nothing */
  }
  if (a < n) {
    arg.i = r->arg.i, arg.i2 = TG__RANGE_LOOP;
    rest = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, n / a), &arg);
    v = top ? tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, l, tg__const_int(r->dtype, n / a)), rest)
            : tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, rest, tg__const_int(r->dtype, a)), l);
  }
  if (role == TG__RANGE_LOCAL) return tg__substitute_range(sink, r, v);
  tg__uop *ctx[4] = {r, rest, l, v};
  return tg__graph_rewrite(sink, TG__MATCHER(tg__group_reduce_rules), ctx);
}

/* a REDUCE given its replacement (ctx: a map) */
static const tg__rule tg__replace_reduce_rules[] = {
    TG__RULE("(REDUCE)", tg__rw_substitute),
};
TG__RULES_REGISTER(tg__replace_reduce_rules)

/* a store into a global buffer gated by ctx (the workgroup's first thread of each group: the others computed the same
 * value) */
static tg__uop *tg__rw_gate_store(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__uop *first = (tg__uop *)ctx;
  if (root->src[0]->op != TG__OP_INDEX || root->src[0]->src[0]->op != TG__OP_DEFINE_GLOBAL) return NULL;
  tg__uop *gate = root->nsrc > 2 ? root->src[2] : NULL;
  if (gate == first || (gate && gate->op == TG__OP_AND && (gate->src[0] == first || gate->src[1] == first)))
    return NULL;
  tg__uop *s[3] = {root->src[0], root->src[1], gate ? tg__alu(TG__OP_AND, gate, first) : first};
  return tg__uop_new(TG__OP_STORE, root->dtype, 3, s, NULL);
}

static const tg__rule tg__gate_store_rules[] = {
    TG__RULE("(STORE)", tg__rw_gate_store),
};
TG__RULES_REGISTER(tg__gate_store_rules)

/* whether u is a REDUCE over some GROUP range */
static int tg__is_group_reduce(const tg__uop *u) {
  if (u->op != TG__OP_REDUCE) return 0;
  for (int i = 1; i < u->nsrc; i++)
    if (u->src[i]->arg.i2 == TG__RANGE_GROUP) return 1;
  return 0;
}

/* a fresh loop of n iterations (ids from *next_id on), or NULL and *why */
static tg__uop *tg__fresh_loop(int64_t *next_id, tg_dtype dt, int64_t n, const char **why) {
  if (*next_id < 0 || *next_id >= 62) {
    *why = "a kernel needs more than 62 loops";
    return NULL;
  }
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = (*next_id)++;
  return tg__uop1(TG__OP_RANGE, dt, tg__const_int(dt, n), &a);
}

/* How a group of G threads sums its G stored values in two levels: each thread sums S of them (S loads), stores
 * that, and after a second barrier sums the G / S partial sums. S is the largest divisor of G up to its square
 * root, for groups of 32 and more (with fewer, one level's G loads cost less than a barrier); 1: one level. Every
 * thread summing all G values one after another took most of a kernel's time: a 576x1536 matrix-vector product
 * with groups of 256 ran in 5.6 us on an H200 where groups of 128 took 3.7. */
static int64_t tg__group_split(int64_t G) {
  if (G < 32) return 1;
  int64_t best = 1;
  for (int64_t s = 2; s * s <= G; s++)
    if (G % s == 0) best = s;
  return best >= 4 ? best : 1;
}

/* GROUP's reduction through shared memory (tinygrad's: a store to a DEFINE_LOCAL, a barrier, a reduction over the
 * group of the values the threads stored). Each REDUCE over GROUP ranges becomes:
 *   - its partial result over its other loops, per thread (the group's digits pick the thread's share);
 *   - a store of it into the thread's element of a shared array with one element per thread of the workgroup;
 *   - a BARRIER after the stores of every such reduction that no other one feeds (one barrier for a tile's copies);
 *   - a REDUCE over new loops, one per GROUP range, of the loads of the group's elements; or, for a REDUCE over one
 *     GROUP range of 32 threads or more, two levels (tg__group_split): each thread sums S elements (thread l those
 *     at l % H + H * j, H = G / S) into a second shared array, and after a second barrier the H partial sums.
 * Every thread of a group computes the whole result (a later reduction may use it); the stores into global buffers
 * are gated so that the group's first thread alone writes. A reduction inside another's loop cannot be grouped (its
 * array would be overwritten while others still read it), nor may the arrays pass the device's shared memory.
 * Returns the new sink, or NULL with *why. */
TG__PRIVATE tg__uop *tg__lower_groups(tg__uop *sink, int nglobal, const tg__target *t, const char **why) {
  tg__uop *threads[TG_MAX_DIMS];
  int nt = tg__thread_ranges(sink, threads), groups = 0;
  int64_t stride[TG_MAX_DIMS], total = 1, shared = 0, nlocal = 0;
  for (int k = nt - 1; k >= 0; k--) {
    stride[k] = total, total *= tg__range_size(threads[k]);
    groups += threads[k]->arg.i2 == TG__RANGE_GROUP;
  }
  if (!groups) return sink;
  int64_t next_id = tg__fresh_range_id(sink); /* the second stages' loops */
  tg__uop *first = NULL; /* every GROUP digit is 0 */
  for (int round = 0; round < 64; round++) {
    tg__map loops; /* GROUP range -> the loop over it of this round's second stage, shared by its reductions */
    memset(&loops, 0, sizeof loops);
    tg__vec all, red;
    memset(&all, 0, sizeof all);
    memset(&red, 0, sizeof red);
    tg__uop_toposort(sink, &all);
    for (int i = 0; i < all.n; i++)
      if (tg__is_group_reduce((tg__uop *)all.items[i])) tg__vec_push(&red, all.items[i]);
    tg__vec_free(&all);
    if (!red.n) {
      tg__vec_free(&red);
      tg__map_free(&loops);
      break;
    }
    tg__vec leaves, stores;
    memset(&leaves, 0, sizeof leaves);
    memset(&stores, 0, sizeof stores);
    tg__map dm;
    memset(&dm, 0, sizeof dm);
    for (int i = 0; i < red.n && !*why; i++) {
      tg__uop *v = (tg__uop *)red.items[i];
      int leaf = 1;
      for (int j = 0; j < red.n && leaf; j++) leaf = j == i || !tg__uop_reaches(v->src[0], (tg__uop *)red.items[j]);
      if (!leaf) continue;
      uint64_t deps = tg__open_deps(v, &dm);
      for (int id = nglobal; id < 64; id++) /* a loop (not an output loop, not a thread range) left open */
        if ((deps >> id) & 1) {
          tg__uop *r = tg__range_of(sink, id);
          if (r && r->arg.i2 == TG__RANGE_LOOP) *why = "a GROUPed reduction inside another reduction's loop";
        }
      tg__vec_push(&leaves, v);
    }
    tg__map_free(&dm);
    tg__uop *bufs[64];
    int nleaves = leaves.n < 64 ? leaves.n : 64;
    for (int i = 0; i < nleaves && !*why; i++) {
      tg__uop *v = (tg__uop *)leaves.items[i], *keep[TG_MAX_DIMS * 2 + 1];
      int nkeep = 1;
      keep[0] = v->src[0];
      for (int s = 1; s < v->nsrc; s++)
        if (v->src[s]->arg.i2 != TG__RANGE_GROUP) keep[nkeep++] = v->src[s];
      tg__uop *partial = nkeep > 1 ? tg__uop_new(TG__OP_REDUCE, v->dtype, nkeep, keep, &v->arg) : v->src[0];
      tg__arg a;
      memset(&a, 0, sizeof a);
      a.i = nlocal++, a.i2 = total;
      bufs[i] = tg__uop0(TG__OP_DEFINE_LOCAL, v->dtype, &a);
      shared += total * tg__dtypes[v->dtype].size;
      tg__uop *here = tg__const_int(TG_INT32, 0);
      for (int k = 0; k < nt; k++)
        here = tg__alu(TG__OP_ADD, here, tg__alu(TG__OP_MUL, threads[k], tg__const_int(TG_INT32, stride[k])));
      tg__uop *at = tg__uop2(TG__OP_INDEX, v->dtype, bufs[i], tg__simplify(here), NULL);
      tg__vec_push(&stores, tg__uop2(TG__OP_STORE, v->dtype, at, partial, NULL));
    }
    tg__uop *bar = *why ? NULL : tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, NULL);
    tg__map sub;
    memset(&sub, 0, sizeof sub);
    tg__vec stores2; /* the first level's stores, for the two-level sums */
    memset(&stores2, 0, sizeof stores2);
    tg__uop *bufs2[64], *bases[64];
    int kstar[64];
    int64_t split[64] = {0}; /* H, for a leaf summed in two levels; 0 for one */
    for (int i = 0; i < nleaves && !*why; i++) {
      tg__uop *v = (tg__uop *)leaves.items[i], *fin[TG_MAX_DIMS + 1];
      int nfin = 1, nmine = 0, km = -1;
      for (int k = 0; k < nt; k++)
        for (int s = 1; s < v->nsrc; s++)
          if (v->src[s] == threads[k]) nmine++, km = k;
      int64_t S = nmine == 1 ? tg__group_split(tg__range_size(threads[km])) : 1;
      if (S > 1) { /* two levels: S loads each, then G / S */
        int64_t H = tg__range_size(threads[km]) / S;
        tg__uop *j2 = tg__fresh_loop(&next_id, threads[km]->dtype, S, why);
        if (!j2) break;
        tg__uop *base = tg__const_int(TG_INT32, 0), *here = tg__const_int(TG_INT32, 0);
        for (int k = 0; k < nt; k++) {
          tg__uop *own = tg__alu(TG__OP_MUL, threads[k], tg__const_int(TG_INT32, stride[k]));
          here = tg__alu(TG__OP_ADD, here, own);
          if (k != km) base = tg__alu(TG__OP_ADD, base, own);
        }
        /* thread l sums the elements l % H, l % H + H, ...: adjacent threads read adjacent elements */
        tg__uop *el = tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, j2, tg__const_int(TG_INT32, H)),
                              tg__alu(TG__OP_MOD, threads[km], tg__const_int(TG_INT32, H)));
        tg__uop *idx = tg__alu(TG__OP_ADD, base, tg__alu(TG__OP_MUL, el, tg__const_int(TG_INT32, stride[km])));
        tg__uop *at = tg__uop2(TG__OP_INDEX, v->dtype, bufs[i], tg__simplify(idx), NULL);
        tg__uop *part[2] = {tg__uop3(TG__OP_LOAD, v->dtype, at, tg__const_int(TG_BOOL, 1), bar, NULL), j2};
        tg__uop *p = tg__uop_new(TG__OP_REDUCE, v->dtype, 2, part, &v->arg);
        tg__arg a;
        memset(&a, 0, sizeof a);
        a.i = nlocal++, a.i2 = total;
        bufs2[i] = tg__uop0(TG__OP_DEFINE_LOCAL, v->dtype, &a);
        shared += total * tg__dtypes[v->dtype].size;
        tg__uop *at2 = tg__uop2(TG__OP_INDEX, v->dtype, bufs2[i], tg__simplify(here), NULL);
        tg__vec_push(&stores2, tg__uop2(TG__OP_STORE, v->dtype, at2, p, NULL));
        kstar[i] = km, split[i] = H, bases[i] = base;
        continue;
      }
      tg__uop *there = tg__const_int(TG_INT32, 0);
      for (int k = 0; k < nt; k++) {
        tg__uop *g = threads[k];
        int mine = 0;
        for (int s = 1; s < v->nsrc; s++) mine |= v->src[s] == g;
        if (mine) {
          tg__uop *loop = (tg__uop *)tg__map_get(&loops, g);
          if (!loop) {
            if (!(loop = tg__fresh_loop(&next_id, g->dtype, tg__range_size(g), why))) break;
            tg__map_put(&loops, g, loop);
          }
          fin[nfin++] = loop;
          g = loop;
        }
        there = tg__alu(TG__OP_ADD, there, tg__alu(TG__OP_MUL, g, tg__const_int(TG_INT32, stride[k])));
      }
      if (*why) break;
      tg__uop *at = tg__uop2(TG__OP_INDEX, v->dtype, bufs[i], tg__simplify(there), NULL);
      fin[0] = tg__uop3(TG__OP_LOAD, v->dtype, at, tg__const_int(TG_BOOL, 1), bar, NULL);
      tg__map_put(&sub, v, tg__uop_new(TG__OP_REDUCE, v->dtype, nfin, fin, &v->arg));
    }
    tg__uop *bar2 = NULL;
    if (!*why && stores2.n) bar2 = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores2.n, (tg__uop **)stores2.items, NULL);
    for (int i = 0; i < nleaves && bar2 && !*why; i++) { /* the second level: the H partial sums */
      tg__uop *v = (tg__uop *)leaves.items[i];
      if (!split[i]) continue;
      tg__uop *j1 = tg__fresh_loop(&next_id, threads[kstar[i]]->dtype, split[i], why);
      if (!j1) break;
      tg__uop *idx = tg__alu(TG__OP_MUL, j1, tg__const_int(TG_INT32, stride[kstar[i]]));
      idx = tg__alu(TG__OP_ADD, bases[i], idx);
      tg__uop *at = tg__uop2(TG__OP_INDEX, v->dtype, bufs2[i], tg__simplify(idx), NULL);
      tg__uop *fin[2] = {tg__uop3(TG__OP_LOAD, v->dtype, at, tg__const_int(TG_BOOL, 1), bar2, NULL), j1};
      tg__map_put(&sub, v, tg__uop_new(TG__OP_REDUCE, v->dtype, 2, fin, &v->arg));
    }
    tg__vec_free(&stores2);
    if (!*why) sink = tg__graph_rewrite(sink, TG__MATCHER(tg__replace_reduce_rules), &sub);
    tg__map_free(&sub);
    tg__vec_free(&leaves);
    tg__vec_free(&stores);
    tg__vec_free(&red);
    tg__map_free(&loops);
    if (*why) break;
  }
  if (!*why && shared > t->shared_bytes) *why = "GROUP's arrays pass the device's shared memory per workgroup";
  if (*why) return NULL;
  for (int k = 0; k < nt; k++)
    if (threads[k]->arg.i2 == TG__RANGE_GROUP) {
      tg__uop *z = tg__alu(TG__OP_CMPLT, threads[k], tg__const_int(threads[k]->dtype, 1));
      first = first ? tg__alu(TG__OP_AND, first, z) : z;
    }
  return tg__graph_rewrite(sink, TG__MATCHER(tg__gate_store_rules), first);
}

// ---------------------------------------------------------------------------------------------------------------------
// padto: an output loop r of size n runs to m (n rounded up to a multiple of the amount), and every load and store
// whose address depends on it is gated by r < n: the padded iterations read nothing and write nothing

static tg__uop *tg__rw_pad_gate(void *ctx, tg__uop *root, const tg__bindings *b) {
  (void)b;
  tg__uop **rc = (tg__uop **)ctx; /* {the padded loop, r < n} */
  tg__uop *r = rc[0], *in = rc[1];
  int load = root->op == TG__OP_LOAD;
  tg__uop *gate = root->nsrc > (load ? 1 : 2) ? root->src[load ? 1 : 2] : NULL;
  if (gate && (gate == in || (gate->op == TG__OP_AND && (gate->src[0] == in || gate->src[1] == in)))) return NULL;
  if (!tg__uop_reaches(root->src[0], r)) return NULL;
  tg__uop *g = gate ? tg__alu(TG__OP_AND, gate, in) : in;
  if (load) return tg__uop2(TG__OP_LOAD, root->dtype, root->src[0], g, NULL);
  tg__uop *store[3] = {root->src[0], root->src[1], g};
  return tg__uop_new(TG__OP_STORE, root->dtype, 3, store, NULL);
}

static const tg__rule tg__pad_gate_rules[] = {
    TG__RULE("(LOAD|STORE)", tg__rw_pad_gate), /* a load or store whose address depends on the padded loop */
};
TG__RULES_REGISTER(tg__pad_gate_rules)

/* whether some load reads a buffer that the kernel stores into (an assignment in place) */
static int tg__reads_its_output(tg__uop *sink) {
  tg__vec all;
  tg__map stored;
  memset(&all, 0, sizeof all);
  memset(&stored, 0, sizeof stored);
  tg__uop_toposort(sink, &all);
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_STORE && u->src[0]->op == TG__OP_INDEX) tg__map_put(&stored, u->src[0]->src[0], u);
  }
  int found = 0;
  for (int i = 0; i < all.n && !found; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    found = u->op == TG__OP_LOAD && u->src[0]->op == TG__OP_INDEX && tg__map_get(&stored, u->src[0]->src[0]);
  }
  tg__map_free(&stored);
  tg__vec_free(&all);
  return found;
}

/* PADTO(r, a): r runs to m, a multiple of a. On a CPU, when r has a whole tile of a and the kernel does not read what
 * it writes, the last tile of a is shifted back to end at n (r -> min(r - r % a, n - a) + r % a): it recomputes rows
 * of the tile before it and writes the same values there, and no load or store is gated. Gated loads cost a branch
 * each in the reduction's loop, and a matmul's 12-row tile (24 accumulators: 6% faster than 8 rows on 2 AVX-512
 * cores) needs 1024 padded to 1032. Else (a GPU, whose threads would race; a list without the THREAD that keeps
 * the two tiles in one task, tg__padto_may_overlap) every load and store is gated by r < n. */
static tg__uop *tg__padto(tg__uop *sink, tg__uop *r, int64_t m, int64_t amount, int may_overlap) {
  int64_t n = tg__range_size(r);
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = r->arg.i;
  tg__uop *wide = tg__uop1(TG__OP_RANGE, r->dtype, tg__const_int(r->dtype, m), &a);
  if (may_overlap && n >= amount && !tg__reads_its_output(sink)) {
    tg__uop *k = tg__const_int(r->dtype, amount), *lane = tg__alu(TG__OP_MOD, wide, k);
    tg__uop *base = tg__alu(TG__OP_MUL, tg__alu(TG__OP_IDIV, wide, k), k);
    tg__uop *last = tg__const_int(r->dtype, n - amount);
    tg__uop *start = tg__uop3(TG__OP_WHERE, r->dtype, tg__alu(TG__OP_CMPLT, base, last), base, last, NULL);
    return tg__substitute_range(sink, r, tg__alu(TG__OP_ADD, start, lane));
  }
  sink = tg__substitute_range(sink, r, wide);
  return tg__padto_gate(sink, wide, tg__alu(TG__OP_CMPLT, wide, tg__const_int(r->dtype, n)));
}

/* every load and store whose address depends on the loop wide, gated by `in` */
static tg__uop *tg__padto_gate(tg__uop *sink, tg__uop *wide, tg__uop *in) {
  tg__uop *ctx[2] = {wide, in};
  return tg__graph_rewrite(sink, TG__MATCHER(tg__pad_gate_rules), ctx);
}

// ---------------------------------------------------------------------------------------------------------------------
// tensor cores (TC): a sum of products of 16-bit floats in float32 becomes warp-level multiply-accumulates (WMMA)

TG__DATA const tg__tensor_core tg__tensor_cores[TG__NTENSOR_CORES] = {
    /* name, m, n, k, in, acc, a_row, a_k, b_k: PTX's fragments of mma.m16n8k16 for 16-bit floats */
    {"m16n8k16 float16", 16, 8, 16, TG_FLOAT16, TG_FLOAT32, {0, 0, 8, 8, 0, 0, 8, 8}, {0, 1, 0, 1, 8, 9, 8, 9},
     {0, 1, 8, 9}},
    {"m16n8k16 bfloat16", 16, 8, 16, TG_BFLOAT16, TG_FLOAT32, {0, 0, 8, 8, 0, 0, 8, 8}, {0, 1, 0, 1, 8, 9, 8, 9},
     {0, 1, 8, 9}},
};

/* The factors of a reduction that a tensor core computes: a float32 sum of x * y, both of a tensor core's input dtype,
 * as CAST(MUL(x, y)) (a product of halves, which kernels compute in float: exact, as the tensor core's) or as
 * MUL(CAST(x), CAST(y)). The entry of tg__tensor_cores, or -1 */
static int tg__tc_factors(const tg__uop *red, tg__uop **x, tg__uop **y) {
  if (red->op != TG__OP_REDUCE || red->arg.i != TG__OP_ADD) return -1;
  tg__uop *b = red->src[0];
  if (b->op == TG__OP_CAST && b->src[0]->op == TG__OP_MUL) *x = b->src[0]->src[0], *y = b->src[0]->src[1];
  else if (b->op == TG__OP_MUL && b->src[0]->op == TG__OP_CAST && b->src[1]->op == TG__OP_CAST)
    *x = b->src[0]->src[0], *y = b->src[1]->src[0];
  else return -1;
  for (int i = 0; i < TG__NTENSOR_CORES; i++)
    if ((*x)->dtype == tg__tensor_cores[i].in && (*y)->dtype == tg__tensor_cores[i].in &&
        red->dtype == tg__tensor_cores[i].acc)
      return i;
  return -1;
}

/* how far a factor's load moves along r: 0 when the factor is no load (or a cast of one) or the stride is unknown */
static int64_t tg__factor_stride(const tg__uop *f, const tg__uop *r) {
  while (f->op == TG__OP_CAST) f = f->src[0];
  if (f->op != TG__OP_LOAD || f->src[0]->op != TG__OP_INDEX || f->src[0]->nsrc != 2) return 0;
  return tg__stride(f->src[0]->src[1], r);
}

/* a TC's matmul in a kernel: the one REDUCE over loop k, the factor a (A, rows m) and b (B, columns n) */
typedef struct tg__tc_match {
  tg__uop *red, *a, *b, *m, *n, *k;
  int tc;
} tg__tc_match;

/* Finds the kernel's one reduction over the loop of id kid as a tensor core's product (or, `simt`, as a float32 sum of
 * products x * y of float32 values, for STAGE: mt->tc is then -1): one factor reads an output loop (the innermost
 * such) that the other does not, and the other one the same way; both read k. A is the factor that reads k
 * contiguously (its pairs of elements along k are adjacent), when only one does. 0, or -1 with *why */
static int tg__tc_find(tg__uop *sink, int nglobal, int64_t kid, int simt, tg__tc_match *mt, const char **why) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  memset(mt, 0, sizeof *mt);
  tg__uop_toposort(sink, &all);
  int nred = 0;
  tg__uop *outs[TG_MAX_DIMS];
  int nout = 0;
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_RANGE && u->arg.i > 0 && u->arg.i < nglobal && !u->arg.i2 && nout < TG_MAX_DIMS)
      outs[nout++] = u;
    for (int s = 1; u->op == TG__OP_REDUCE && s < u->nsrc; s++)
      if (u->src[s]->arg.i == kid) nred++, mt->red = u, mt->k = u->src[s];
  }
  tg__vec_free(&all);
  if (nred != 1) {
    *why = simt ? "STAGE needs the axis to have one reduction (STAGE comes first)"
                : "TC needs the axis to have one reduction (TC comes first)";
    return -1;
  }
  tg__uop *x = NULL, *y = NULL, *body = mt->red->src[0];
  if (simt) {
    mt->tc = -1;
    if (mt->red->arg.i != TG__OP_ADD || mt->red->dtype != TG_FLOAT32 || body->op != TG__OP_MUL ||
        body->src[0]->dtype != TG_FLOAT32 || body->src[1]->dtype != TG_FLOAT32) {
      *why = "the reduction is no float32 sum of products";
      return -1;
    }
    x = body->src[0], y = body->src[1];
  } else if ((mt->tc = tg__tc_factors(mt->red, &x, &y)) < 0) {
    *why = "the reduction is no float32 sum of products of float16 or bfloat16";
    return -1;
  }
  tg__map dm;
  memset(&dm, 0, sizeof dm);
  uint64_t dx = tg__range_deps(x, &dm), dy = tg__range_deps(y, &dm), bk = 1ULL << (kid & 63);
  tg__map_free(&dm);
  tg__uop *mx = NULL, *ny = NULL;
  for (int i = 0; i < nout; i++) {
    uint64_t b = 1ULL << (outs[i]->arg.i & 63);
    if ((dx & b) && !(dy & b) && (!mx || outs[i]->arg.i > mx->arg.i)) mx = outs[i];
    if ((dy & b) && !(dx & b) && (!ny || outs[i]->arg.i > ny->arg.i)) ny = outs[i];
  }
  if (!(dx & bk) || !(dy & bk) || !mx || !ny) {
    *why = "each factor must read the reduction axis and an output axis the other does not";
    return -1;
  }
  int swap = tg__factor_stride(x, mt->k) != 1 && tg__factor_stride(y, mt->k) == 1;
  mt->a = swap ? y : x, mt->b = swap ? x : y, mt->m = swap ? ny : mx, mt->n = swap ? mx : ny;
  return 0;
}

/* The last steps of TC, plain or staged, and of STAGE: the kernel's reduction becomes a sum of `gep` (an element of
 * the last WMMA of its chain; STAGE's product of staged values) over its loops, k replaced by the loops kloop[0..nk)
 * (the outermost first; those that are no RANGE are dropped: one step), with `bar` as a trailing source when not
 * NULL (the staged copy of the next stage); rows m and columns n take the values out[0] and out[1]; then the
 * kernel's stores are copied for every value of the copy ranges cr[0..ncr) (sizes cn, the first slowest: a warp's
 * tiles, a thread's four elements of a tile), which become constants */
static tg__uop *tg__tc_finish(tg__uop *sink, const tg__tc_match *mt, tg__uop *gep, tg__uop *const *kloop, int nk,
                              tg__uop *bar, tg__uop *const out[2], tg__uop *const *cr, const int64_t *cn, int ncr,
                              int64_t *copies) {
  tg__uop *loops[TG_MAX_DIMS * 2 + 4], *from[4], *to[4];
  int nl = 0;
  loops[nl++] = gep;
  for (int s = 1; s < mt->red->nsrc && nl < TG_MAX_DIMS * 2 + 1; s++)
    if (mt->red->src[s] != mt->k) loops[nl++] = mt->red->src[s];
    else
      for (int j = 0; j < nk; j++)
        if (kloop[j]->op == TG__OP_RANGE) loops[nl++] = kloop[j];
  if (bar && nl > 1) loops[nl++] = bar;
  tg__map sub;
  memset(&sub, 0, sizeof sub);
  tg__map_put(&sub, mt->red, nl > 1 ? tg__uop_new(TG__OP_REDUCE, mt->red->dtype, nl, loops, &mt->red->arg) : gep);
  sink = tg__graph_rewrite(sink, TG__MATCHER(tg__replace_reduce_rules), &sub);
  tg__map_free(&sub);
  from[0] = mt->m, from[1] = mt->n;
  sink = tg__substitute_ranges(sink, from, out, 2);
  int64_t total = 1;
  for (int i = 0; i < ncr; i++) total *= cn[i];
  tg__vec stores;
  memset(&stores, 0, sizeof stores);
  for (int i = 0; i < sink->nsrc; i++)
    for (int64_t c = 0; c < total; c++) {
      int n = 0;
      for (int64_t j = ncr - 1, rest = c; j >= 0; rest /= cn[j], j--) /* the last range fastest */
        if (cr[j]->op == TG__OP_RANGE) from[n] = cr[j], to[n++] = tg__const_int(cr[j]->dtype, rest % cn[j]);
      tg__vec_push(&stores, n ? tg__substitute_ranges(sink->src[i], from, to, n) : sink->src[i]);
    }
  tg__uop *result = tg__uop_new(TG__OP_SINK, sink->dtype, stores.n, (tg__uop **)stores.items, &sink->arg);
  tg__vec_free(&stores);
  *copies *= total;
  return result;
}

/* TC on the reduction loop k (tinygrad's tensor-core Opt, for PTX's m16n8k16): rows m, columns n and k are padded to
 * multiples of 16, 8 and 16 (PADTO's gates), then m := m'*16 + g + 8h, n := n'*8 + 2t + e and k := k'*16 + 2t + ...,
 * where g (8) and t (4) are the lane digits of a warp (TG__RANGE_LANE, the fastest digits of the workgroup) and
 * h, e (2 each) pick the thread's four elements of the output tile: the kernel's stores are copied four times, like
 * an UPCAST. The reduction becomes a sum over k' (and its other loops) of element 2h + e (GEP) of one WMMA, whose
 * sources are A's and B's elements at the thread's positions of the fragments (tg__tensor_cores) and zeros for C;
 * the linearizer makes the four sums the WMMA's accumulator. A padded k gives the elements past the end 0. */
static tg__uop *tg__apply_tc(tg__uop *sink, int nglobal, const tg__target *t, int64_t kid, int64_t *copies,
                             const char **why) {
  tg__tc_match mt;
  if (!t->tensor_cores || t->local_max < 32) {
    *why = t->gpu ? "the device has no tensor cores" : "a CPU kernel has no workgroups";
    return NULL;
  }
  if (tg__tc_find(sink, nglobal, kid, 0, &mt, why) < 0) return NULL;
  const tg__tensor_core *tc = &tg__tensor_cores[mt.tc];
  int64_t ids[3] = {mt.m->arg.i, mt.n->arg.i, kid}, dims[3] = {tc->m, tc->n, tc->k}, K = tg__range_size(mt.k);
  int64_t size[3];
  int padded = 0;
  for (int a = 0; a < 3; a++) {
    int64_t n = tg__range_size(a == 0 ? mt.m : a == 1 ? mt.n : mt.k);
    size[a] = (n + dims[a] - 1) / dims[a] * dims[a];
    if (size[a] != n) sink = tg__padto(sink, tg__range_of(sink, ids[a]), size[a], size[a], 0), padded = 1;
  }
  if (padded && tg__tc_find(sink, nglobal, kid, 0, &mt, why) < 0) return NULL;
  int64_t id = tg__fresh_range_id(sink);
  if (id < 0 || id + 4 > 62) {
    *why = "too many loops";
    return NULL;
  }
  tg__arg arg;
  memset(&arg, 0, sizeof arg);
  tg_dtype it = mt.k->dtype;
  tg__uop *r[7]; /* m', n', k', g, t, h, e */
  const int64_t rid[7] = {ids[0], ids[1], ids[2], id, id + 1, id + 2, id + 3};
  const int64_t rsize[7] = {size[0] / dims[0], size[1] / dims[1], size[2] / dims[2], 8, 4, 2, 2};
  for (int i = 0; i < 7; i++) {
    arg.i = rid[i], arg.i2 = i == 3 || i == 4 ? TG__RANGE_LANE : TG__RANGE_LOOP;
    r[i] = tg__uop1(TG__OP_RANGE, it, tg__const_int(it, rsize[i]), &arg);
  }
#define TG__C(v) tg__const_int(it, v)
#define TG__MAD(a, b, c) tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, a, TG__C(b)), c)
  tg__uop *src[16], *from[2], *to[2];
  tg__uop *a = mt.a, *b = mt.b, *kin = tg__alu(TG__OP_CMPLT, mt.k, TG__C(K));
  if (size[2] != K) /* past the end of k the products are 0 (the loads are gated too, by PADTO) */
    a = tg__where(kin, a, tg__const(a->dtype, 0)), b = tg__where(kin, b, tg__const(b->dtype, 0));
  tg__uop *k2t = TG__MAD(r[2], 16, tg__alu(TG__OP_MUL, r[4], TG__C(2))); /* k'*16 + 2t */
  for (int j = 0; j < 8; j++) {
    from[0] = mt.m, to[0] = tg__alu(TG__OP_ADD, TG__MAD(r[0], 16, r[3]), TG__C(tc->a_row[j]));
    from[1] = mt.k, to[1] = tg__alu(TG__OP_ADD, k2t, TG__C(tc->a_k[j]));
    src[j] = tg__substitute_ranges(a, from, to, 2);
  }
  for (int j = 0; j < 4; j++) {
    from[0] = mt.n, to[0] = TG__MAD(r[1], 8, r[3]);
    from[1] = mt.k, to[1] = tg__alu(TG__OP_ADD, k2t, TG__C(tc->b_k[j]));
    src[8 + j] = tg__substitute_ranges(b, from, to, 2);
  }
  for (int j = 12; j < 16; j++) src[j] = tg__const(tc->acc, 0);
  memset(&arg, 0, sizeof arg);
  arg.i = mt.tc;
  tg__uop *w = tg__uop_new(TG__OP_WMMA, tc->acc, 16, src, &arg);
  tg__uop *gep = tg__uop2(TG__OP_GEP, tc->acc, w, TG__MAD(r[5], 2, r[6]), NULL), *out[2];
  out[0] = TG__MAD(r[0], 16, tg__alu(TG__OP_ADD, r[3], tg__alu(TG__OP_MUL, r[5], TG__C(8))));
  out[1] = TG__MAD(r[1], 8, tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, r[4], TG__C(2)), r[6]));
#undef TG__MAD
#undef TG__C
  static const int64_t cn[2] = {2, 2}; /* h and e: the thread's four elements of the tile */
  return tg__tc_finish(sink, &mt, gep, r + 2, rsize[2] > 1, NULL, out, r + 5, cn, 2, copies);
}

/* TC's configurations with shared memory (TC's amount 1 on): each warp um x un tensor-core tiles, each workgroup
 * lm x ln warps, each stage uk steps of 16 along k, `stages` buffers (the copies run that many stages minus one
 * ahead) */
typedef struct tg__tc_config { int um, un, lm, ln, uk, stages; } tg__tc_config;
static const tg__tc_config tg__tc_configs[] = {
    {4, 4, 2, 2, 2, 2}, {4, 8, 2, 2, 2, 2}, {4, 4, 2, 2, 1, 2}, {2, 4, 2, 2, 2, 2}, {4, 2, 2, 2, 2, 2},
    {4, 8, 2, 2, 1, 2}, {8, 4, 2, 2, 1, 2}, {4, 4, 4, 2, 1, 2}, {4, 4, 2, 4, 1, 2}, {2, 2, 2, 2, 4, 2},
    {4, 8, 4, 2, 1, 2}, {4, 8, 2, 4, 1, 2}, {2, 8, 2, 2, 2, 2}, {2, 8, 4, 2, 1, 2}, {4, 4, 2, 2, 2, 3},
    {2, 8, 2, 2, 2, 3}, {4, 8, 2, 2, 1, 3},
    /* past 48 KB of shared memory (CUDA: sized at launch) */
    {4, 8, 2, 4, 2, 2}, {4, 8, 4, 2, 2, 2}, {4, 8, 2, 2, 2, 3}, {4, 8, 2, 2, 2, 4}, {4, 8, 2, 4, 2, 3},
    {4, 8, 2, 2, 4, 2}, {4, 8, 2, 4, 2, 4}, {4, 8, 4, 2, 2, 3}, {4, 8, 2, 2, 2, 5}, {4, 8, 2, 2, 2, 6},
    {4, 8, 2, 2, 1, 6}, {4, 8, 2, 2, 1, 8}, {2, 8, 2, 2, 2, 4}, {4, 8, 2, 4, 2, 5}, {4, 8, 4, 2, 2, 4},
    {4, 8, 2, 2, 4, 3}, {4, 8, 2, 2, 4, 4},
};
typedef char tg__tc_configs_counted[TG__COUNT(tg__tc_configs) == TG__NTC_CONFIGS ? 1 : -1];

/* One operand's tile of a stage, copied into a shared array by the whole workgroup (TC's staged tiles and STAGE's):
 * P rows (the operand's output axis p: m for A, n for B) by bk columns (k) of its values x(p, k), kept [p][bk + w]
 * or, `kp`, [k][P + w] (16 bytes of padding a row: a warp's reads of a tile fall on distinct banks), in buffer `buf`
 * of nbuf (the stage modulo nbuf: one barrier a stage then keeps a buffer from being overwritten while a slower warp
 * still reads it). TC keeps 16-bit values as their bits (w = 8: DEFINE_LOCAL with arg.f = 1), STAGE float32 values
 * (w = 4). Each of the T threads copies chunks of w values adjacent along the axis x reads contiguously (k, or p
 * when `along_p`), which the renderer loads as one 16-byte vector. `at` maps p and k to the stage's
 * (pb * P + row, kb * bk + column). Appends the stores to `stores`; returns the array. */
static tg__uop *tg__stage_tile(tg__uop *x, tg__uop *const at[2], tg__uop *const base[2], int64_t P, int64_t bk,
                               tg__uop *tid, int64_t T, tg__uop *buf, int nbuf, int number, int kp, int along_p, int w,
                               tg__vec *stores) {
  tg_dtype it = tid->dtype;
  int64_t row = kp ? P + w : bk + w, size = kp ? bk * row : P * row;
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = number, a.i2 = nbuf * size, a.f = w == 8;
  tg__uop *arr = tg__uop0(TG__OP_DEFINE_LOCAL, x->dtype, &a);
  /* chunk c: along k, row c / (bk / w), columns from c % (bk / w) * w, so that a warp's chunks are adjacent in
   * memory; along p into [k][p], row c / (P / w), columns from c % (P / w) * w, the same; along p into [p][k]
   * (stored transposed), column c % bk, rows from c / bk * w, so that a warp's stores of a chunk's w elements each
   * fill adjacent elements of one row of the array (no two threads on one bank) */
  int64_t per = !along_p ? bk / w : kp ? P / w : bk;
  for (int64_t q = 0; q < P * bk / w / T; q++) {
    tg__uop *c = tg__alu(TG__OP_ADD, tid, tg__const_int(it, T * q));
    tg__uop *slow = tg__alu(TG__OP_IDIV, c, tg__const_int(it, per));
    tg__uop *fast = tg__alu(TG__OP_MOD, c, tg__const_int(it, per));
    for (int h = 0; h < w; h++) {
      tg__uop *p, *k, *to[2], *idx;
      tg__uop *chunk = tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, !along_p || kp ? fast : slow, tg__const_int(it, w)),
                               tg__const_int(it, h)); /* element h of the chunk, along the axis it runs */
      if (!along_p) p = slow, k = chunk;
      else if (kp) p = chunk, k = slow;
      else p = chunk, k = fast;
      to[0] = tg__alu(TG__OP_ADD, base[0], p), to[1] = tg__alu(TG__OP_ADD, base[1], k);
      tg__uop *v = tg__substitute_ranges(x, at, to, 2);
      idx = tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, buf, tg__const_int(it, size)),
                    kp ? tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, k, tg__const_int(it, row)), p)
                       : tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, p, tg__const_int(it, row)), k));
      tg__uop *into = tg__uop2(TG__OP_INDEX, x->dtype, arr, tg__simplify(idx), NULL);
      tg__vec_push(stores, tg__uop2(TG__OP_STORE, x->dtype, into, v, NULL));
    }
  }
  return arr;
}

/* Why a staged matmul (TC's, STAGE's) cannot have blocks of block[0] rows by block[1] columns by block[2] along k,
 * T threads each copying chunks of w values, `shared` bytes of shared arrays (each operand read contiguously along
 * k or its output axis: `contiguous`); NULL when it can */
static const char *tg__staged_refusal(const tg__tc_match *mt, const int64_t block[3], int64_t T, int64_t w,
                                      int64_t shared, int contiguous, const tg__target *t) {
  if (tg__range_size(mt->m) % block[0] || tg__range_size(mt->n) % block[1] || tg__range_size(mt->k) % block[2])
    return "the matmul is no multiple of the configuration's blocks";
  if (mt->red->nsrc != 2) return "the reduction has loops besides k (a convolution's window)";
  if (!contiguous) return "an operand is read contiguously along no axis";
  if (T > t->local_max) return "more threads per workgroup than the device has";
  if (shared > t->shared_bytes) return "the staged tiles pass the device's shared memory per workgroup";
  if ((block[0] * block[2] / w) % T || (block[1] * block[2] / w) % T)
    return "the tiles do not split evenly among the threads";
  return NULL;
}

/* The loops of a staged matmul (TC's, STAGE's): n RANGEs of ids rid and sizes rsize into r, each a loop (role 0; a
 * constant 0 when of size 1) or a digit of the thread's index (role: TG__RANGE_LOCAL, TG__RANGE_LANE) */
static void tg__staged_ranges(tg_dtype it, const int64_t *rid, const int64_t *rsize, const int *role, int n,
                              tg__uop **r) {
  tg__arg arg;
  memset(&arg, 0, sizeof arg);
  for (int i = 0; i < n; i++) {
    arg.i = rid[i], arg.i2 = role[i] ? role[i] : TG__RANGE_LOOP;
    r[i] = rsize[i] > 1 || role[i] ? tg__uop1(TG__OP_RANGE, it, tg__const_int(it, rsize[i]), &arg)
                                   : tg__const_int(it, 0);
  }
}

/* A warp's LDMATRIX of `count` 8x8 matrices from a staged tile (row length `row`, buffers of `size`): this thread
 * gives the address of row r, column c of the stage's buffer (a row of 8 elements of one matrix), after the barrier */
static tg__uop *tg__staged_ldm(tg__uop *arr, int64_t row, int64_t size, tg__uop *buf, tg__uop *r, tg__uop *c,
                               int count, int trans, tg__uop *barrier) {
  tg_dtype it = r->dtype;
  tg__uop *idx = tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, buf, tg__const_int(it, size)),
                         tg__alu(TG__OP_ADD, tg__alu(TG__OP_MUL, r, tg__const_int(it, row)), c));
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = count, a.i2 = trans;
  tg__uop *at = tg__uop2(TG__OP_INDEX, arr->dtype, arr, tg__simplify(idx), NULL);
  return tg__uop2(TG__OP_LDMATRIX, arr->dtype, at, barrier, &a);
}

/* TC with shared memory (TC's amount c >= 1: tg__tc_configs[c - 1]), the way fast GPU matmuls are written: each
 * workgroup computes a block of BM = 16 um lm rows by BN = 8 un ln columns, in stages of BK = 16 uk along k. Per
 * stage its threads copy the block's rows of A and columns of B (BM x BK and BK x BN values) into shared memory in
 * 16-byte vectors (tg__stage_tile; the renderer makes them cp.async where a barrier lets them run on), stages - 1
 * stages ahead, meet at a barrier, and each warp runs uk steps of um x un tensor-core tiles on its part, reading its
 * fragments with LDMATRIX (A's four 8x8 matrices a tile; B's for two tiles at once, transposed when B's tile is kept
 * [k][n]); the uk steps chain their WMMAs (each one's C is the one before's D). The rows, columns and k must be
 * multiples of BM, BN and BK (no padding), the reduction may have no other loop, and A and B must each be read
 * contiguously along k or along their output axis. */
static tg__uop *tg__apply_tc_staged(tg__uop *sink, int nglobal, const tg__target *t, int64_t kid, int config,
                                    int64_t *copies, const char **why) {
  tg__tc_match mt;
  if (!t->tensor_cores || t->local_max < 32) {
    *why = t->gpu ? "the device has no tensor cores" : "a CPU kernel has no workgroups";
    return NULL;
  }
  if (config < 1 || config > TG__NTC_CONFIGS) {
    *why = "no such TC configuration (TC's amount)";
    return NULL;
  }
  if (tg__tc_find(sink, nglobal, kid, 0, &mt, why) < 0) return NULL;
  const tg__tc_config *cf = &tg__tc_configs[config - 1];
  const tg__tensor_core *tc = &tg__tensor_cores[mt.tc];
  int64_t BM = 16 * cf->um * cf->lm, BN = 8 * cf->un * cf->ln, BK = 16 * cf->uk, T = 32 * cf->lm * cf->ln;
  int64_t M = tg__range_size(mt.m), N = tg__range_size(mt.n), K = tg__range_size(mt.k);
  int64_t sa = tg__factor_stride(mt.a, mt.k), sb = tg__factor_stride(mt.b, mt.k);
  int a_along_m = sa != 1 && tg__factor_stride(mt.a, mt.m) == 1;
  int b_along_n = sb != 1 && tg__factor_stride(mt.b, mt.n) == 1;
  int64_t shared = 2 * cf->stages * (BM * (BK + 8) + (b_along_n ? BK * (BN + 8) : BN * (BK + 8))); /* 16 bits */
  int64_t id = tg__fresh_range_id(sink);
  const int64_t block[3] = {BM, BN, BK};
  const char *bad = tg__staged_refusal(&mt, block, T, 8, shared, (sa == 1 || a_along_m) && (sb == 1 || b_along_n), t);
  if (bad) (void)0;
  else if (cf->un % 2) bad = "B's tiles are read two at a time (un is even)";
  else if (id < 0 || id + 8 > 62) bad = "too many loops";
  else if (*copies * cf->um * cf->un * 4 > 1024) bad = "more than 1024 copies of the kernel body";
  if (bad) {
    *why = bad;
    return NULL;
  }
  tg_dtype it = mt.k->dtype;
  tg__arg arg;
  /* mb, nb, kb (the loops' ids); wm, wn (warps: LOCAL), g, t (lanes); cm, cn, h, e (the copies) */
  tg__uop *r[11];
  const int64_t rid[11] = {mt.m->arg.i, mt.n->arg.i, kid, id, id + 1, id + 2, id + 3, id + 4, id + 5, id + 6, id + 7};
  const int64_t rsize[11] = {M / BM, N / BN, K / BK, cf->lm, cf->ln, 8, 4, cf->um, cf->un, 2, 2};
  static const int role[11] = {0, 0, 0, TG__RANGE_LOCAL, TG__RANGE_LOCAL, TG__RANGE_LANE, TG__RANGE_LANE, 0, 0, 0, 0};
  tg__staged_ranges(it, rid, rsize, role, 11, r);
#define TG__C(v) tg__const_int(it, v)
#define TG__MUL(a, b) tg__alu(TG__OP_MUL, a, TG__C(b))
#define TG__ADD(a, b) tg__alu(TG__OP_ADD, a, b)
  tg__uop *tid = TG__ADD(TG__MUL(TG__ADD(TG__MUL(TG__ADD(TG__MUL(r[3], cf->ln), r[4]), 8), r[5]), 4), r[6]);
  /* the first stages - 1 stages into buffers 0.., before the loop (they depend on no loop); then each iteration kb
   * reads buffer kb % stages and copies stage kb + stages - 1 into the one read the iteration before (the last
   * iterations copy the last stage again, unread). The loop's barrier lets that many stages' copies run on (arg.i:
   * the groups of copies it need not wait for) */
  int S = cf->stages;
  tg__uop *buf = tg__alu(TG__OP_MOD, r[2], TG__C(S)), *at[2], *base[2], *bar[2] = {NULL, NULL}, *ta = NULL, *tb = NULL;
  tg__vec stores, reads;
  memset(&stores, 0, sizeof stores);
  memset(&reads, 0, sizeof reads);
  int64_t nk = K / BK;
  for (int st = 0; st < S - 1; st++) {
    at[0] = mt.m, at[1] = mt.k, base[0] = TG__MUL(r[0], BM), base[1] = TG__C((st < nk ? st : nk - 1) * BK);
    ta = tg__stage_tile(mt.a, at, base, BM, BK, tid, T, TG__C(st), S, 0, 0, a_along_m, 8, &stores);
    at[0] = mt.n, base[0] = TG__MUL(r[1], BN);
    tb = tg__stage_tile(mt.b, at, base, BN, BK, tid, T, TG__C(st), S, 1, b_along_n, b_along_n, 8, &stores);
  }
  bar[0] = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, NULL);
  stores.n = 0;
  tg__uop *w = NULL, *src[16];
  tg__uop *pa = TG__ADD(TG__MUL(TG__ADD(TG__MUL(r[3], cf->um), r[7]), 16), r[5]); /* a tile's row g */
  /* the fragments by LDMATRIX, each thread giving one row's address: A's four 8x8 matrices (rows 0-7 and 8-15 of
   * the tile, columns 0-7, then 8-15) from its [m][k] tile; B's two (k 0-7, 8-15) from its [n][k] tile, or
   * transposed from its [k][n] one */
  tg__uop *lane = TG__ADD(TG__MUL(r[5], 4), r[6]);
  tg__uop *arow = TG__ADD(TG__MUL(TG__ADD(TG__MUL(r[3], cf->um), r[7]), 16), tg__alu(TG__OP_MOD, lane, TG__C(16)));
  /* B's tiles two at a time (lanes 16-31 give the second tile's rows): its first column, and the tile's elements */
  tg__uop *bcol = TG__MUL(TG__ADD(TG__MUL(r[4], cf->un), TG__MUL(tg__alu(TG__OP_IDIV, r[8], TG__C(2)), 2)), 8);
  tg__uop *bsel = TG__MUL(tg__alu(TG__OP_MOD, r[8], TG__C(2)), 4), *half = tg__alu(TG__OP_IDIV, lane, TG__C(16));
  for (int s = 0; s < cf->uk; s++) {
    tg__uop *acol = TG__ADD(TG__C(16 * s), TG__MUL(half, 8)), *lb;
    tg__uop *la = tg__staged_ldm(ta, BK + 8, BM * (BK + 8), buf, arow, acol, 4, 0, bar[0]);
    if (b_along_n) /* [k][n]: rows k, transposed */
      lb = tg__staged_ldm(tb, BN + 8, BK * (BN + 8), buf, TG__ADD(TG__C(16 * s), tg__alu(TG__OP_MOD, lane, TG__C(16))),
                          TG__ADD(bcol, TG__MUL(half, 8)), 4, 1, bar[0]);
    else /* [n][k]: rows n */
      lb = tg__staged_ldm(tb, BK + 8, BN * (BK + 8), buf,
                          TG__ADD(TG__ADD(bcol, tg__alu(TG__OP_MOD, lane, TG__C(8))), TG__MUL(half, 8)),
                          TG__ADD(TG__C(16 * s), TG__MUL(tg__alu(TG__OP_MOD, tg__alu(TG__OP_IDIV, lane, TG__C(8)),
                                                                 TG__C(2)), 8)), 4, 0, bar[0]);
    for (int j = 0; j < 8; j++) src[j] = tg__uop2(TG__OP_GEP, tc->in, la, TG__C(j), NULL);
    for (int j = 0; j < 4; j++) src[8 + j] = tg__uop2(TG__OP_GEP, tc->in, lb, TG__ADD(bsel, TG__C(j)), NULL);
    tg__vec_push(&reads, la);
    tg__vec_push(&reads, lb);
    for (int j = 0; j < 4; j++)
      src[12 + j] = w ? tg__uop2(TG__OP_GEP, tc->acc, w, TG__C(j), NULL) : tg__const(tc->acc, 0);
    memset(&arg, 0, sizeof arg);
    arg.i = mt.tc;
    w = tg__uop_new(TG__OP_WMMA, tc->acc, 16, src, &arg);
  }
  if (nk > 1) { /* the next stage's copy, after this iteration's reads too: none overwrites a buffer another reads */
    tg__uop *ahead = TG__ADD(r[2], TG__C(S - 1));
    tg__uop *next = tg__where(tg__alu(TG__OP_CMPLT, ahead, TG__C(nk)), ahead, TG__C(nk - 1));
    tg__uop *into = tg__alu(TG__OP_MOD, ahead, TG__C(S));
    at[0] = mt.m, base[0] = TG__MUL(r[0], BM), base[1] = TG__MUL(next, BK);
    tg__stage_tile(mt.a, at, base, BM, BK, tid, T, into, S, 0, 0, a_along_m, 8, &stores);
    at[0] = mt.n, base[0] = TG__MUL(r[1], BN);
    tg__stage_tile(mt.b, at, base, BN, BK, tid, T, into, S, 1, b_along_n, b_along_n, 8, &stores);
    for (int i = 0; i < reads.n; i++) /* every warp tile's reads: the barrier is the same node in every copy */
      for (int c = 0; c < cf->um * cf->un; c++) {
        tg__uop *from[2] = {r[7], r[8]}, *to[2] = {TG__C(c / cf->un), TG__C(c % cf->un)};
        tg__vec_push(&stores, tg__substitute_ranges((tg__uop *)reads.items[i], from, to, 2));
      }
    memset(&arg, 0, sizeof arg);
    arg.i = S - 2;
    bar[1] = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, &arg);
  }
  tg__vec_free(&stores);
  tg__vec_free(&reads);
  /* the sum over the stages (and the reduction's other loops), which ends each iteration with the next one's copy
   * and its barrier (a BARRIER source of the REDUCE: the linearizer emits it after the sums' updates) */
  tg__uop *gep = tg__uop2(TG__OP_GEP, tc->acc, w, TG__ADD(TG__MUL(r[9], 2), r[10]), NULL), *out[2];
  out[0] = TG__ADD(TG__ADD(TG__MUL(r[0], BM), pa), TG__MUL(r[9], 8)); /* row g + 8h of a tile */
  out[1] = TG__ADD(TG__ADD(TG__MUL(r[1], BN), TG__MUL(TG__ADD(TG__MUL(r[4], cf->un), r[8]), 8)),
                   TG__ADD(TG__MUL(r[6], 2), r[10])); /* column 2t + e */
#undef TG__ADD
#undef TG__MUL
#undef TG__C
  const int64_t cn[4] = {cf->um, cf->un, 2, 2}; /* each warp's um x un tiles, each thread's four elements of one */
  return tg__tc_finish(sink, &mt, gep, r + 2, rsize[2] > 1, bar[1], out, r + 7, cn, 4, copies);
}

// ---------------------------------------------------------------------------------------------------------------------
// TC with warpgroups (WGMMA, Hopper): the tensor cores read A and B from shared memory themselves, a warpgroup of 128
// threads computing a 64 x n tile per instruction, while the threads go on

/* TC's warpgroup configurations (its amounts TG__NTC_CONFIGS + 1..): lm warpgroups along m, each a tile of 64 rows by
 * n columns (a block of 64 lm x n), `stages` buffers of 64 along k */
typedef struct tg__wgmma_config { int lm, n, stages; } tg__wgmma_config;
static const tg__wgmma_config tg__wgmma_configs[] = {
    {2, 256, 4}, {2, 256, 3}, {2, 128, 6}, {2, 128, 4}, {1, 256, 4}, {1, 128, 4}, {2, 64, 4}, {1, 64, 6},
    {4, 128, 4},
};
typedef char tg__wgmma_configs_counted[TG__COUNT(tg__wgmma_configs) == TG__NWGMMA_CONFIGS ? 1 : -1];

/* One operand's tile of a stage for WGMMA: P rows (the operand's output axis p) by 64 along k of 16-bit values x(p, k),
 * kept as bits in the tensor cores' layout of 128-byte atoms swizzled by 128 bytes, in buffer `buf` of nbuf: K-major
 * (`mn` 0: each row p is 64 values along k, 128 bytes, its 16-byte chunk c at chunk c ^ (p % 8)) or MN-major (`mn`
 * 1: atoms of 8 rows of k by 64 values along p, the atom of rows p / 64 and k / 8 at (p / 64) * 4096 + (k / 8) * 512
 * elements, chunk c of row k % 8 at c ^ (k % 8)). The hardware applies the same XOR to the bits of the address, so
 * the buffers start 1024-byte aligned. Each of the T threads copies chunks of 8 values adjacent along the axis x
 * reads contiguously (k when K-major, p when MN-major), one 16-byte vector (a cp.async). `at` maps p and k to the
 * stage's (base[0] + row, base[1] + column). Appends the stores to `stores`; returns the array. */
static tg__uop *tg__swizzle_tile(tg__uop *x, tg__uop *const at[2], tg__uop *const base[2], int64_t P, tg__uop *tid,
                                 int64_t T, tg__uop *buf, int nbuf, int number, int mn, tg__vec *stores) {
  tg_dtype it = tid->dtype;
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.i = number, a.i2 = nbuf * P * 64, a.f = 1;
  tg__uop *arr = tg__uop0(TG__OP_DEFINE_LOCAL, x->dtype, &a);
#define TG__C(v) tg__const_int(it, v)
#define TG__ADD(a, b) tg__alu(TG__OP_ADD, a, b)
#define TG__MUL(a, b) tg__alu(TG__OP_MUL, a, TG__C(b))
  int64_t per = mn ? P / 8 : 8; /* chunks along the contiguous axis */
  for (int64_t q = 0; q < P * 8 / T; q++) {
    tg__uop *c = TG__ADD(tid, TG__C(T * q));
    tg__uop *slow = tg__alu(TG__OP_IDIV, c, TG__C(per)), *fast = tg__alu(TG__OP_MOD, c, TG__C(per)), *at8;
    if (mn) /* slow: k; fast: the chunk along p, in atom column fast / 8 */
      at8 = TG__ADD(TG__ADD(TG__MUL(tg__alu(TG__OP_IDIV, fast, TG__C(8)), 4096),
                            TG__MUL(tg__alu(TG__OP_IDIV, slow, TG__C(8)), 512)),
                    TG__ADD(TG__MUL(tg__alu(TG__OP_MOD, slow, TG__C(8)), 64),
                            TG__MUL(tg__alu(TG__OP_XOR, tg__alu(TG__OP_MOD, fast, TG__C(8)),
                                            tg__alu(TG__OP_MOD, slow, TG__C(8))), 8)));
    else /* slow: p; fast: the chunk along k */
      at8 = TG__ADD(TG__MUL(slow, 64), TG__MUL(tg__alu(TG__OP_XOR, fast, tg__alu(TG__OP_MOD, slow, TG__C(8))), 8));
    tg__uop *start = tg__simplify(TG__ADD(TG__MUL(buf, P * 64), at8));
    for (int h = 0; h < 8; h++) {
      tg__uop *along = TG__ADD(TG__MUL(fast, 8), TG__C(h)), *to[2];
      to[0] = TG__ADD(base[0], mn ? along : slow), to[1] = TG__ADD(base[1], mn ? slow : along);
      tg__uop *v = tg__substitute_ranges(x, at, to, 2);
      tg__uop *into = tg__uop2(TG__OP_INDEX, x->dtype, arr, TG__ADD(start, TG__C(h)), NULL);
      tg__vec_push(stores, tg__uop2(TG__OP_STORE, x->dtype, into, v, NULL));
    }
  }
#undef TG__MUL
#undef TG__ADD
#undef TG__C
  return arr;
}

/* TC with warpgroups (TC's amount TG__NTC_CONFIGS + c: tg__wgmma_configs[c - 1]), on a GPU with Hopper's WGMMA:
 * each workgroup computes a block of BM = 64 lm rows by BN = n columns in stages of BK = 64 along k, with lm
 * warpgroups of 128 threads. Per stage its threads copy the block's rows of A and columns of B into shared memory
 * in the tensor cores' swizzled layout (tg__swizzle_tile: K-major for an operand contiguous along k, MN-major for
 * one contiguous along its output axis; cp.async), stages - 2 stages ahead, and each warpgroup issues 4 WGMMAs of
 * 64 x BN x 16 on its rows, chained along k, accumulating into its threads' BN / 2 accumulators each. WGMMAs run
 * on while the threads go on: each warpgroup waits at the end of a stage for all but that stage's, so that the
 * barrier at the next stage's end has every read of a buffer done two stages before it is copied over again. The
 * rows, columns and k must be multiples of BM, BN and BK (no padding), k at least two stages, and the reduction may
 * have no other loop. */
static tg__uop *tg__apply_wgmma(tg__uop *sink, int nglobal, const tg__target *t, int64_t kid, int config,
                                int64_t *copies, const char **why) {
  tg__tc_match mt;
  if (!t->wgmma) {
    *why = !t->gpu ? "a CPU kernel has no workgroups"
           : t->tensor_cores ? "the device has no warpgroup tensor cores (WGMMA: Hopper)"
                             : "the device has no tensor cores";
    return NULL;
  }
  if (config < 1 || config > TG__NWGMMA_CONFIGS) {
    *why = "no such TC configuration (TC's amount)";
    return NULL;
  }
  if (tg__tc_find(sink, nglobal, kid, 0, &mt, why) < 0) return NULL;
  const tg__wgmma_config *cf = &tg__wgmma_configs[config - 1];
  int64_t BM = 64 * cf->lm, BN = cf->n, BK = 64, T = 128 * cf->lm, S = cf->stages;
  int64_t M = tg__range_size(mt.m), N = tg__range_size(mt.n), K = tg__range_size(mt.k);
  int64_t sa = tg__factor_stride(mt.a, mt.k), sb = tg__factor_stride(mt.b, mt.k);
  int a_mn = sa != 1 && tg__factor_stride(mt.a, mt.m) == 1, b_mn = sb != 1 && tg__factor_stride(mt.b, mt.n) == 1;
  int64_t shared = 2 * S * (BM + BN) * BK, id = tg__fresh_range_id(sink);
  const int64_t block[3] = {BM, BN, BK};
  const char *bad = tg__staged_refusal(&mt, block, T, 8, shared, (sa == 1 || a_mn) && (sb == 1 || b_mn), t);
  if (bad) (void)0;
  else if (shared <= TG__STATIC_SHARED) bad = "the warpgroups' tiles are smaller than shared memory sized at launch";
  else if (K == BK) bad = "k is one stage: the WGMMAs accumulate into the sums of a loop along k";
  else if (id < 0 || id + 7 > 62) bad = "too many loops";
  else if (*copies * BN / 2 > 1024) bad = "more than 1024 copies of the kernel body";
  if (bad) {
    *why = bad;
    return NULL;
  }
  tg_dtype it = mt.k->dtype;
  /* mb, nb, kb (the loops' ids); wg, w (warpgroups and their warps: LOCAL), g, t (lanes); j, h, e (the copies: a
   * thread's BN / 2 accumulators, 8 columns apart, rows g and g + 8, columns 2t and 2t + 1) */
  tg__uop *r[10];
  const int64_t rid[10] = {mt.m->arg.i, mt.n->arg.i, kid, id, id + 1, id + 2, id + 3, id + 4, id + 5, id + 6};
  const int64_t rsize[10] = {M / BM, N / BN, K / BK, cf->lm, 4, 8, 4, BN / 8, 2, 2};
  static const int role[10] = {0, 0, 0, TG__RANGE_LOCAL, TG__RANGE_LOCAL, TG__RANGE_LANE, TG__RANGE_LANE, 0, 0, 0};
  tg__staged_ranges(it, rid, rsize, role, 10, r);
#define TG__C(v) tg__const_int(it, v)
#define TG__MUL(a, b) tg__alu(TG__OP_MUL, a, TG__C(b))
#define TG__ADD(a, b) tg__alu(TG__OP_ADD, a, b)
  tg__uop *tid = TG__ADD(TG__MUL(TG__ADD(TG__MUL(TG__ADD(TG__MUL(r[3], 4), r[4]), 8), r[5]), 4), r[6]);
  /* the first S - 2 stages into buffers 0.. before the loop; then iteration kb copies stage kb + S - 2 into buffer
   * (kb - 2) % S, whose WGMMAs every warpgroup waited for before the last barrier, and its WGMMAs read buffer
   * kb % S, which that barrier waited for (all but the last S - 3 groups of copies) */
  tg__uop *buf = tg__alu(TG__OP_MOD, r[2], TG__C(S)), *at[2], *base[2], *bar[2] = {NULL, NULL}, *ta = NULL, *tb = NULL;
  tg__vec stores;
  memset(&stores, 0, sizeof stores);
  int64_t nk = K / BK;
  for (int st = 0; st < S - 2; st++) {
    at[0] = mt.m, at[1] = mt.k, base[0] = TG__MUL(r[0], BM), base[1] = TG__C((st < nk ? st : nk - 1) * BK);
    ta = tg__swizzle_tile(mt.a, at, base, BM, tid, T, TG__C(st), (int)S, 0, a_mn, &stores);
    at[0] = mt.n, base[0] = TG__MUL(r[1], BN);
    tb = tg__swizzle_tile(mt.b, at, base, BN, tid, T, TG__C(st), (int)S, 1, b_mn, &stores);
  }
  bar[0] = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, NULL);
  stores.n = 0;
  /* the chain of 4 WGMMAs along the stage's k: the descriptors' tiles start at the warpgroup's rows of A (64 rows:
   * 4096 elements in either layout) and at B, 16 along k further each step (32 bytes K-major, two atoms MN-major) */
  int64_t nacc = BN / 2;
  tg__uop **src = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(3 + nacc)), *w = NULL;
  /* n, the layouts, the groups left in flight at a stage's end (the loop's end waits for it), A's and B's leading
   * and stride byte offsets (MN-major: the next 64 along p, 8192 bytes; the next 8 along k) */
  const int64_t ints[8] = {BN, a_mn, b_mn, 1, a_mn ? 8192 : 16, 1024, b_mn ? 8192 : 16, 1024};
  tg__arg arg;
  memset(&arg, 0, sizeof arg);
  arg.i = mt.tc, arg.nints = 8, arg.ints = ints;
  for (int s = 0; s < BK / 16; s++) {
    tg__uop *ia = TG__ADD(TG__ADD(TG__MUL(buf, BM * 64), TG__MUL(r[3], 4096)), TG__C(s * (a_mn ? 1024 : 16)));
    tg__uop *ib = TG__ADD(TG__MUL(buf, BN * 64), TG__C(s * (b_mn ? 1024 : 16)));
    src[0] = tg__uop2(TG__OP_INDEX, ta->dtype, ta, tg__simplify(ia), NULL);
    src[1] = tg__uop2(TG__OP_INDEX, tb->dtype, tb, tg__simplify(ib), NULL);
    src[2] = bar[0];
    for (int64_t j = 0; j < nacc; j++)
      src[3 + j] = w ? tg__uop2(TG__OP_GEP, tg__tensor_cores[mt.tc].acc, w, TG__C(j), NULL)
                     : tg__const(tg__tensor_cores[mt.tc].acc, 0);
    w = tg__uop_new(TG__OP_WGMMA, tg__tensor_cores[mt.tc].acc, (int)(3 + nacc), src, &arg);
  }
  TG_FREE(src);
  if (nk > 1) { /* the copy of stage kb + S - 2, and the barrier that waits for stage kb + 1 */
    tg__uop *ahead = TG__ADD(r[2], TG__C(S - 2));
    tg__uop *next = tg__where(tg__alu(TG__OP_CMPLT, ahead, TG__C(nk)), ahead, TG__C(nk - 1));
    tg__uop *into = tg__alu(TG__OP_MOD, ahead, TG__C(S));
    at[0] = mt.m, base[0] = TG__MUL(r[0], BM), base[1] = TG__MUL(next, BK);
    tg__swizzle_tile(mt.a, at, base, BM, tid, T, into, (int)S, 0, a_mn, &stores);
    at[0] = mt.n, base[0] = TG__MUL(r[1], BN);
    tg__swizzle_tile(mt.b, at, base, BN, tid, T, into, (int)S, 1, b_mn, &stores);
    memset(&arg, 0, sizeof arg);
    arg.i = S - 3;
    bar[1] = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, &arg);
  }
  tg__vec_free(&stores);
  /* element 4j + 2h + e of the last WGMMA: row 16 w + g + 8h of the warpgroup's, column 8j + 2t + e */
  tg__uop *gep = tg__uop2(TG__OP_GEP, tg__tensor_cores[mt.tc].acc, w,
                          TG__ADD(TG__ADD(TG__MUL(r[7], 4), TG__MUL(r[8], 2)), r[9]), NULL), *out[2];
  out[0] = TG__ADD(TG__ADD(TG__MUL(r[0], BM), TG__MUL(r[3], 64)),
                   TG__ADD(TG__ADD(TG__MUL(r[4], 16), r[5]), TG__MUL(r[8], 8)));
  out[1] = TG__ADD(TG__ADD(TG__MUL(r[1], BN), TG__MUL(r[7], 8)), TG__ADD(TG__MUL(r[6], 2), r[9]));
#undef TG__ADD
#undef TG__MUL
#undef TG__C
  const int64_t cn[3] = {BN / 8, 2, 2};
  return tg__tc_finish(sink, &mt, gep, r + 2, rsize[2] > 1, bar[1], out, r + 7, cn, 3, copies);
}

// ---------------------------------------------------------------------------------------------------------------------
// STAGE: a float32 matmul's operands staged in shared memory, each thread a register tile of outputs (SIMT: no tensor
// cores)

/* STAGE's configurations (its amounts 1..): each thread tm x tn outputs, each workgroup lm x ln threads (a block of
 * BM = tm lm rows by BN = tn ln columns), stages of bk along k */
typedef struct tg__stage_config { int tm, tn, lm, ln, bk; } tg__stage_config;
static const tg__stage_config tg__stage_configs[] = {
    {8, 8, 16, 16, 8}, {8, 8, 16, 16, 16}, {8, 4, 16, 16, 16}, {4, 8, 16, 16, 16}, {8, 8, 8, 16, 8},
    {8, 8, 16, 8, 8},  {4, 4, 16, 16, 16}, {8, 8, 8, 8, 16},  {4, 4, 8, 8, 16},
};
typedef char tg__stage_configs_counted[TG__COUNT(tg__stage_configs) == TG__NSTAGE_CONFIGS ? 1 : -1];

/* STAGE k by configuration c (tg__stage_configs[c - 1]): the kernel's one reduction over loop k, a float32 sum of
 * products x * y (a matmul's), computed the way fast SIMT matmuls are written. Each workgroup computes a block of
 * BM rows by BN columns in stages of bk along k: per stage its threads copy the block's rows of A and columns of B
 * into shared arrays kept [k][row + 4] (tg__stage_tile: 16-byte loads along the axis each reads contiguously; A is
 * stored transposed when it is contiguous along k), then each thread sums, for each of the stage's bk steps, its
 * tm x tn products of the step's row of A and row of B, read as 16-byte vectors: its rows and columns are chunks of
 * 4 spread 4 lm rows (4 ln columns) apart, so that a warp's reads of a step are one broadcast and 512 contiguous
 * bytes. Two buffers: the next stage's values are loaded from memory at the start of each iteration (their latency
 * passes under the sums), stored into the other buffer at its end, then one barrier. The rows, columns and k must be
 * multiples of BM, BN and bk, the reduction may have no other loop, and A and B must each be read contiguously
 * along k or along their output axis. */
static tg__uop *tg__apply_stage(tg__uop *sink, int nglobal, const tg__target *t, int64_t kid, int config,
                                int64_t *copies, const char **why) {
  tg__tc_match mt;
  if (!t->gpu || !t->local_max || !t->shared_bytes) {
    *why = t->gpu ? "the device has no workgroups" : "a CPU kernel has no workgroups";
    return NULL;
  }
  if (config < 1 || config > TG__NSTAGE_CONFIGS) {
    *why = "no such STAGE configuration (STAGE's amount)";
    return NULL;
  }
  if (tg__tc_find(sink, nglobal, kid, 1, &mt, why) < 0) return NULL;
  const tg__stage_config *cf = &tg__stage_configs[config - 1];
  int64_t BM = cf->tm * cf->lm, BN = cf->tn * cf->ln, BK = cf->bk, T = cf->lm * cf->ln;
  int64_t M = tg__range_size(mt.m), N = tg__range_size(mt.n), K = tg__range_size(mt.k);
  int64_t sa = tg__factor_stride(mt.a, mt.k), sb = tg__factor_stride(mt.b, mt.k);
  int a_along_m = sa != 1 && tg__factor_stride(mt.a, mt.m) == 1;
  int b_along_n = sb != 1 && tg__factor_stride(mt.b, mt.n) == 1;
  int64_t shared = 2 * BK * (BM + 4 + BN + 4) * 4, id = tg__fresh_range_id(sink);
  const int64_t block[3] = {BM, BN, BK};
  const char *bad = tg__staged_refusal(&mt, block, T, 4, shared, (sa == 1 || a_along_m) && (sb == 1 || b_along_n), t);
  if (bad) (void)0;
  else if (id < 0 || id + 7 > 62) bad = "too many loops";
  else if (*copies * cf->tm * cf->tn > 1024) bad = "more than 1024 copies of the kernel body";
  if (bad) {
    *why = bad;
    return NULL;
  }
  tg_dtype it = mt.k->dtype;
  /* mb, nb, kb (the loops' ids), wm, wn (LOCAL), kk (the stage's steps); cm, im, cn, in (the copies: the thread's
   * chunks of rows, the rows of a chunk, the same for columns) */
  tg__uop *r[10];
  const int64_t rid[10] = {mt.m->arg.i, mt.n->arg.i, kid, id, id + 1, id + 2, id + 3, id + 4, id + 5, id + 6};
  const int64_t rsize[10] = {M / BM, N / BN, K / BK, cf->lm, cf->ln, BK, cf->tm / 4, 4, cf->tn / 4, 4};
  static const int role[10] = {0, 0, 0, TG__RANGE_LOCAL, TG__RANGE_LOCAL, 0, 0, 0, 0, 0};
  tg__staged_ranges(it, rid, rsize, role, 10, r);
#define TG__C(v) tg__const_int(it, v)
#define TG__MUL(a, b) tg__alu(TG__OP_MUL, a, TG__C(b))
#define TG__ADD(a, b) tg__alu(TG__OP_ADD, a, b)
  tg__uop *tid = TG__ADD(TG__MUL(r[3], cf->ln), r[4]), *at[2], *base[2], *bar[2] = {NULL, NULL}, *ta, *tb;
  tg__vec stores;
  memset(&stores, 0, sizeof stores);
  int64_t nk = K / BK;
  at[0] = mt.m, at[1] = mt.k, base[0] = TG__MUL(r[0], BM), base[1] = TG__C(0); /* stage 0 into buffer 0 */
  ta = tg__stage_tile(mt.a, at, base, BM, BK, tid, T, TG__C(0), 2, 0, 1, a_along_m, 4, &stores);
  at[0] = mt.n, base[0] = TG__MUL(r[1], BN);
  tb = tg__stage_tile(mt.b, at, base, BN, BK, tid, T, TG__C(0), 2, 1, 1, b_along_n, 4, &stores);
  bar[0] = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, NULL);
  stores.n = 0;
  if (nk > 1) { /* stage kb + 1 into the other buffer (the last iteration copies its own stage again, unread) */
    tg__uop *ahead = TG__ADD(r[2], TG__C(1));
    tg__uop *next = tg__where(tg__alu(TG__OP_CMPLT, ahead, TG__C(nk)), ahead, TG__C(nk - 1));
    tg__uop *into = tg__alu(TG__OP_MOD, ahead, TG__C(2));
    at[0] = mt.m, base[0] = TG__MUL(r[0], BM), base[1] = TG__MUL(next, BK);
    tg__stage_tile(mt.a, at, base, BM, BK, tid, T, into, 2, 0, 1, a_along_m, 4, &stores);
    at[0] = mt.n, base[0] = TG__MUL(r[1], BN);
    tg__stage_tile(mt.b, at, base, BN, BK, tid, T, into, 2, 1, 1, b_along_n, 4, &stores);
    bar[1] = tg__uop_new(TG__OP_BARRIER, TG_BOOL, stores.n, (tg__uop **)stores.items, NULL);
  }
  tg__vec_free(&stores);
  /* the thread's row (column) of a copy, and the staged values of step kk there */
  tg__uop *row = TG__ADD(TG__ADD(TG__MUL(r[6], 4 * cf->lm), TG__MUL(r[3], 4)), r[7]);
  tg__uop *col = TG__ADD(TG__ADD(TG__MUL(r[8], 4 * cf->ln), TG__MUL(r[4], 4)), r[9]);
  tg__uop *buf = tg__alu(TG__OP_MOD, r[2], TG__C(2)), *val[2];
  for (int o = 0; o < 2; o++) {
    int64_t P = o ? BN : BM;
    tg__uop *idx = TG__ADD(TG__MUL(buf, BK * (P + 4)), TG__ADD(TG__MUL(r[5], P + 4), o ? col : row));
    tg__uop *in = tg__uop2(TG__OP_INDEX, TG_FLOAT32, o ? tb : ta, tg__simplify(idx), NULL);
    val[o] = tg__uop3(TG__OP_LOAD, TG_FLOAT32, in, tg__const_int(TG_BOOL, 1), bar[0], NULL);
  }
  tg__uop *prod = mt.red->src[0]->src[0] == mt.a ? tg__alu(TG__OP_MUL, val[0], val[1])
                                                 : tg__alu(TG__OP_MUL, val[1], val[0]), *out[2];
  out[0] = TG__ADD(TG__MUL(r[0], BM), row), out[1] = TG__ADD(TG__MUL(r[1], BN), col);
#undef TG__ADD
#undef TG__MUL
#undef TG__C
  tg__uop *kloops[2] = {r[2], r[5]};
  const int64_t cn[4] = {cf->tm / 4, 4, cf->tn / 4, 4};
  return tg__tc_finish(sink, &mt, prod, kloops, 2, bar[1], out, r + 6, cn, 4, copies);
}

// ---------------------------------------------------------------------------------------------------------------------
// the Opt vocabulary: a list of (op, axis, amount) applied by one function, which refuses an illegal one with a reason

TG__DATA const char *const tg__optop_names[TG__NOPTOPS] = {
    "UPCAST", "UNROLL", "LOCAL", "GROUP", "GROUPTOP", "THREAD", "PADTO", "NOLOCALS", "SWAP", "TC", "STAGE"};

/* the kernel's axes as the Opts name them: range ids of the output loops and of the reduction loops, outermost
 * first, as they are before any Opt (an Opt keeps a loop's id, so later Opts find it again) */
typedef struct tg__axes {
  int ng, nr;
  int64_t gid[TG_MAX_DIMS], rid[2 * TG_MAX_DIMS];
} tg__axes;

static void tg__find_axes(tg__uop *sink, int nglobal, tg__axes *ax) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  memset(ax, 0, sizeof *ax);
  tg__uop_toposort(sink, &all);
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op != TG__OP_RANGE || u->arg.i == 0 || u->arg.i2) continue; /* THREAD's range 0, thread ranges */
    int64_t *ids = u->arg.i < nglobal ? ax->gid : ax->rid;
    int *n = u->arg.i < nglobal ? &ax->ng : &ax->nr, cap = u->arg.i < nglobal ? TG_MAX_DIMS : 2 * TG_MAX_DIMS;
    if (*n == cap) continue;
    int k = (*n)++;
    for (; k > 0 && ids[k - 1] > u->arg.i; k--) ids[k] = ids[k - 1];
    ids[k] = u->arg.i;
  }
  tg__vec_free(&all);
}

/* the loop an Opt's axis names now, or NULL with *why set */
static tg__uop *tg__opt_loop(tg__uop *sink, const tg__axes *ax, int reduce, int axis, const char **why) {
  int n = reduce ? ax->nr : ax->ng;
  if (axis < 0 || axis >= n) {
    *why = reduce ? (n ? "no such reduction axis" : "the kernel has no reduction loop") : "no such output axis";
    return NULL;
  }
  tg__uop *r = tg__range_of(sink, reduce ? ax->rid[axis] : ax->gid[axis]);
  if (!r) *why = "an earlier opt removed that loop";
  return r;
}

/* the amount an UPCAST or UNROLL of loop r may take (0: the whole loop), or 0 with *why set */
static int64_t tg__opt_amount(const tg__uop *r, int64_t amount, int64_t copies, const char **why) {
  int64_t size = tg__range_size(r), a = amount ? amount : size;
  if (a < 2) *why = "the amount must be 0 (the whole axis) or at least 2";
  else if (size % a) *why = "the amount does not divide the axis";
  else if (copies * a > 1024) *why = "more than 1024 copies of the kernel body";
  else return a;
  return 0;
}

/* LOCAL, GROUP and GROUPTOP on a GPU: loop r split by o's amount into a thread range (tg__thread_split) */
static tg__uop *tg__apply_workgroup(tg__uop *sink, const tg__target *t, tg__uop *r, const tg__opt *o,
                                    const char **why) {
  int64_t a = o->amount ? o->amount : tg__range_size(r), threads = a, id = tg__fresh_range_id(sink);
  int sym = r->src[0]->op != TG__OP_CONST;
  tg__uop *tr[TG_MAX_DIMS];
  int nt = tg__thread_ranges(sink, tr);
  for (int k = 0; k < nt; k++) threads *= tg__range_size(tr[k]);
  if (a < 2) *why = "the amount must be 0 (the whole axis) or at least 2";
  else if (sym && (o->op != TG__OPT_GROUP || !o->amount)) *why = "a loop of symbolic size takes a GROUP of an amount";
  else if (!sym && tg__range_size(r) % a) *why = "the amount does not divide the axis";
  else if (threads > t->local_max) *why = "more threads per workgroup than the device has";
  else if (nt == TG_MAX_DIMS || id < 0) *why = "too many loops";
  else
    return tg__thread_split(sink, r, a, o->op == TG__OPT_LOCAL ? TG__RANGE_LOCAL : TG__RANGE_GROUP,
                            o->op == TG__OPT_GROUPTOP, id);
  return NULL;
}

static tg__uop *tg__apply_opt(tg__uop *sink, int nglobal, const tg__axes *ax, const tg__target *t,
                              const tg__opt *o, int64_t *copies, int may_overlap, const char **why) {
  tg__uop *r = NULL, *r2 = NULL;
  int64_t a = 0;
  int gpu = t->gpu;
  switch (o->op) {
  case TG__OPT_UPCAST:
  case TG__OPT_UNROLL:
    if (!(r = tg__opt_loop(sink, ax, o->op == TG__OPT_UNROLL, o->axis, why))) return NULL;
    if (!(a = tg__opt_amount(r, o->amount, *copies, why))) return NULL;
    *copies *= a;
    return o->op == TG__OPT_UPCAST ? tg__upcast(sink, r, a) : tg__unroll(sink, r, a);
  case TG__OPT_SWAP:
    if (!(r = tg__opt_loop(sink, ax, 0, o->axis, why))) return NULL;
    if (o->amount == o->axis || o->amount < 0 || o->amount > INT32_MAX) {
      *why = "SWAP's amount is another output axis";
      return NULL;
    }
    if (!(r2 = tg__opt_loop(sink, ax, 0, (int)o->amount, why))) return NULL;
    return tg__swap(sink, r, r2);
  case TG__OPT_THREAD:
    if (gpu) {
      *why = "a GPU kernel's threads are its workgroups (LOCAL)";
      return NULL;
    }
    if (!(r = tg__opt_loop(sink, ax, 0, o->axis, why))) return NULL;
    r2 = tg__range_of(sink, 0);
    a = o->amount ? o->amount : tg__range_size(r);
    if (a < 2 || a > 4096) *why = "THREAD's amount is between 2 and 4096 (0: the whole axis)";
    else if (tg__range_size(r) % a) *why = "the amount does not divide the axis";
    else if (r2 && tg__range_size(r2) * a > 65536) *why = "the THREADs' grid would pass 65536 tasks";
    else return tg__thread(sink, r, a);
    return NULL;
  case TG__OPT_PADTO:
    if (!(r = tg__opt_loop(sink, ax, 0, o->axis, why))) return NULL;
    if (o->amount < 2 || o->amount > 256) {
      *why = "PADTO's amount is between 2 and 256";
      return NULL;
    }
    a = (tg__range_size(r) + o->amount - 1) / o->amount * o->amount;
    if (a == tg__range_size(r)) {
      *why = "the axis is a multiple of the amount already";
      return NULL;
    }
    if (a - tg__range_size(r) > tg__range_size(r) / 4 + 1) {
      *why = "padding would add more than a quarter of the axis";
      return NULL;
    }
    return tg__padto(sink, r, a, o->amount, !gpu && may_overlap);
  case TG__OPT_LOCAL: case TG__OPT_GROUP: case TG__OPT_GROUPTOP:
    if (!t->local_max) { /* the CPU's GROUP: partial accumulators side by side, which become a vector */
      if (o->op != TG__OPT_GROUP) *why = gpu ? "the device has no workgroups" : "a CPU kernel has no workgroups";
      else if ((r = tg__opt_loop(sink, ax, 1, o->axis, why)) && (a = tg__opt_amount(r, o->amount, *copies, why)))
        return *copies *= a, tg__group(sink, r, a);
      return NULL;
    }
    if (!(r = tg__opt_loop(sink, ax, o->op != TG__OPT_LOCAL, o->axis, why))) return NULL;
    return tg__apply_workgroup(sink, t, r, o, why);
  case TG__OPT_NOLOCALS: { /* no workgroups: the later LOCAL, GROUP and GROUPTOP are refused (tg__apply_opts) */
    tg__uop *tr[TG_MAX_DIMS];
    if (!t->local_max) *why = gpu ? "the device has no workgroups" : "a CPU kernel has no workgroups";
    else if (tg__thread_ranges(sink, tr)) *why = "the kernel has workgroups already";
    else return sink;
    return NULL;
  }
  case TG__OPT_TC: {
    tg__uop *tr[TG_MAX_DIMS];
    if (*copies > 1 || tg__thread_ranges(sink, tr)) *why = "TC must come first";
    else if (o->amount < 0 || o->amount > TG__NTC_CONFIGS + TG__NWGMMA_CONFIGS)
      *why = "no such TC configuration (TC's amount)";
    else if ((r = tg__opt_loop(sink, ax, 1, o->axis, why)))
      return o->amount > TG__NTC_CONFIGS
                 ? tg__apply_wgmma(sink, nglobal, t, r->arg.i, (int)(o->amount - TG__NTC_CONFIGS), copies, why)
             : o->amount ? tg__apply_tc_staged(sink, nglobal, t, r->arg.i, (int)o->amount, copies, why)
                         : tg__apply_tc(sink, nglobal, t, r->arg.i, copies, why);
    return NULL;
  }
  case TG__OPT_STAGE: {
    tg__uop *tr[TG_MAX_DIMS];
    if (*copies > 1 || tg__thread_ranges(sink, tr)) *why = "STAGE must come first";
    else if (o->amount < 1 || o->amount > TG__NSTAGE_CONFIGS) *why = "no such STAGE configuration (STAGE's amount)";
    else if ((r = tg__opt_loop(sink, ax, 1, o->axis, why)))
      return tg__apply_stage(sink, nglobal, t, r->arg.i, (int)o->amount, copies, why);
    return NULL;
  }
  default:
    *why = "not implemented yet";
    return NULL;
  }
}

/* a loop of symbolic size (a variable's): the Opts, which split and unroll loops of known sizes, leave such a
 * kernel alone for now */
static int tg__has_sym_range(tg__uop *sink) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  int sym = 0;
  for (int i = 0; i < all.n && !sym; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    sym = u->op == TG__OP_RANGE && u->src[0]->op != TG__OP_CONST;
  }
  tg__vec_free(&all);
  return sym;
}

/* In a kernel with a loop of symbolic size (attention's product with a KV cache's values: a reduction over the
 * filled positions), only output loops of constant size are tiled: UPCAST, THREAD, LOCAL, SWAP and PADTO on them.
 * On a GPU a workgroup may also GROUP any reduction loop (one of symbolic size in gated iterations) and UNROLL one of
 * constant size; the rest stays whole (UNROLL, a CPU's GROUP, TC and STAGE need the loop's size). NULL when o may
 * apply, else why not */
static const char *tg__sym_refuses(tg__uop *sink, const tg__axes *ax, const tg__target *t, const tg__opt *o) {
  static const char *const why = "a kernel with a loop of symbolic size tiles only its output loops of constant size "
                                 "(and on a GPU, GROUPs its reductions and UNROLLs those of constant size)";
  if (o->op == TG__OPT_NOLOCALS) return NULL;
  if (o->op == TG__OPT_GROUP && t->local_max) return NULL; /* gated past a symbolic size (tg__thread_split) */
  if (o->op == TG__OPT_UNROLL && t->gpu) {
    const char *none = NULL;
    tg__uop *r = tg__opt_loop(sink, ax, 1, o->axis, &none);
    return r && r->src[0]->op == TG__OP_CONST ? NULL : why;
  }
  if (o->op != TG__OPT_UPCAST && o->op != TG__OPT_THREAD && o->op != TG__OPT_LOCAL && o->op != TG__OPT_SWAP &&
      o->op != TG__OPT_PADTO)
    return why;
  const char *none = NULL;
  tg__uop *r = tg__opt_loop(sink, ax, 0, o->axis, &none);
  tg__uop *r2 = o->op == TG__OPT_SWAP ? tg__opt_loop(sink, ax, 0, (int)o->amount, &none) : r;
  return (r && r->src[0]->op != TG__OP_CONST) || (r2 && r2->src[0]->op != TG__OP_CONST) ? why : NULL;
}

/* Whether opts[i], a PADTO, may shift its last tile back over the one before it (tg__padto): the two tiles that write
 * the same rows must run in one task, one after the other. So the list has a THREAD (the threads then split range 0,
 * not this loop), every THREAD of this loop leaves whole tiles, two or more, to each task, and no SWAP renames it */
static int tg__padto_may_overlap(tg__uop *sink, const tg__axes *ax, const tg__opt *opts, int n, int i) {
  if (opts[i].op != TG__OPT_PADTO) return 0;
  const char *why = NULL;
  tg__uop *r = tg__opt_loop(sink, ax, 0, opts[i].axis, &why);
  if (!r || opts[i].amount < 2) return 0;
  int64_t a = opts[i].amount, m = (tg__range_size(r) + a - 1) / a * a;
  int threads = 0;
  for (int j = 0; j < n; j++) {
    if (opts[j].op == TG__OPT_SWAP) return 0;
    if (opts[j].op != TG__OPT_THREAD) continue;
    threads++;
    if (j > i && opts[j].axis == opts[i].axis &&
        (opts[j].amount < 1 || m % opts[j].amount || (m / opts[j].amount) % a || m / opts[j].amount < 2 * a))
      return 0;
  }
  return threads > 0;
}

TG__PRIVATE tg__uop *tg__apply_opts(tg__uop *sink, int nglobal, const tg__target *t, const tg__opt *opts, int n) {
  int sym = n > 0 && tg__has_sym_range(sink);
  tg__axes ax;
  tg__find_axes(sink, nglobal, &ax);
  int64_t copies = 1;
  int nolocals = 0;
  for (int i = 0; i < n; i++) {
    const char *why = "unknown op";
    int wg = opts[i].op == TG__OPT_LOCAL || opts[i].op == TG__OPT_GROUP || opts[i].op == TG__OPT_GROUPTOP;
    tg__uop *next = NULL;
    if (i > 0 && opts[i - 1].op == TG__OPT_TC && opts[i - 1].amount) why = "a TC with shared memory comes last";
    else if (i > 0 && opts[i - 1].op == TG__OPT_STAGE) why = "STAGE comes last";
    else if (nolocals && wg && t->local_max) why = "NOLOCALS came before it";
    else if (sym && (int)opts[i].op >= 0 && opts[i].op < TG__NOPTOPS && tg__sym_refuses(sink, &ax, t, &opts[i]))
      why = tg__sym_refuses(sink, &ax, t, &opts[i]);
    else if ((int)opts[i].op >= 0 && opts[i].op < TG__NOPTOPS)
      next = tg__apply_opt(sink, nglobal, &ax, t, &opts[i], &copies, tg__padto_may_overlap(sink, &ax, opts, n, i),
                           &why);
    nolocals |= opts[i].op == TG__OPT_NOLOCALS;
    if (!next) {
      char *list = tg__opts_str(opts, n);
      tg__set_error("optimisation %d of [%s] (%s, axis %d, amount %lld) cannot apply: %s", i, list,
                    (int)opts[i].op >= 0 && opts[i].op < TG__NOPTOPS ? tg__optop_names[opts[i].op] : "?",
                    opts[i].axis, (long long)opts[i].amount, why);
      TG_FREE(list);
      return NULL;
    }
    sink = next;
  }
  return sink;
}

TG__PRIVATE char *tg__opts_str(const tg__opt *opts, int n) {
  tg__str b;
  memset(&b, 0, sizeof b);
  for (int i = 0; i < n; i++)
    tg__str_printf(&b, "%s%s(%d,%lld)", i ? " " : "",
                   (int)opts[i].op >= 0 && opts[i].op < TG__NOPTOPS ? tg__optop_names[opts[i].op] : "?",
                   opts[i].axis, (long long)opts[i].amount);
  return tg__str_take(&b);
}

static struct { tg__opt opts[TG__MAX_OPTS]; int n; } tg__override = {{{TG__OPT_UPCAST, 0, 0}}, -1};

TG__PRIVATE void tg__set_opts_override(const tg__opt *opts, int n) {
  tg__override.n = n < 0 ? -1 : n > TG__MAX_OPTS ? TG__MAX_OPTS : n;
  for (int i = 0; i < tg__override.n; i++) tg__override.opts[i] = opts[i];
}

TG__PRIVATE int tg__opts_overridden(void) { return tg__override.n >= 0; }

TG__PRIVATE tg__uop *tg__optimize(tg__uop *sink, int nglobal, const tg__target *t, tg__opt *applied,
                                  int *napplied) {
  int n = tg__override.n;
  if (n >= 0) memcpy(applied, tg__override.opts, sizeof(tg__opt) * (size_t)n);
  else n = tg__heuristic_opts(sink, nglobal, t, applied);
  if (n > 0 && tg__override.n < 0 && tg__has_sym_range(sink)) {
    /* the heuristic's list for a kernel with a loop of symbolic size: what tiles its constant output loops, up to
     * the first Opt that does not (the later ones may name axes it would have made) */
    tg__axes ax;
    tg__find_axes(sink, nglobal, &ax);
    int k = 0;
    while (k < n && !tg__sym_refuses(sink, &ax, t, &applied[k])) k++;
    n = k;
  }
  *napplied = n;
  return n ? tg__apply_opts(sink, nglobal, t, applied, n) : sink;
}

// ---------------------------------------------------------------------------------------------------------------------
// the heuristic: returns the list it chooses

/* The threads' share: the CPU splits the outermost output loop across its threads, so one shorter than the core count
 * leaves cores idle (a batch of 2 over 16 cores). Then THREAD splits another output loop instead, by the smallest of
 * its divisors that gives every core an iteration (at most 4 per core): its part runs outermost. `up` gives each
 * output loop's upcast. Appends to out; returns the new count. */
static int tg__thread_rule(tg__uop *sink, int nglobal, const tg__target *t, tg__uop *const *globals, int ng,
                           const int64_t *up, tg__opt *out, int n) {
  if (t->gpu || t->cores < 2 || ng < 2 || n >= TG__MAX_OPTS) return n;
  if (tg__range_size(globals[0]) / up[0] >= t->cores) return n;
  tg__axes ax;
  tg__find_axes(sink, nglobal, &ax);
  int best = -1;
  int64_t amount = 0;
  for (int g = 0; g < ng; g++) {
    int64_t left = tg__range_size(globals[g]) / up[g];
    if (g == 0 || left < t->cores) continue;
    for (int64_t d = t->cores; d <= 4 * (int64_t)t->cores && d <= left; d++)
      if (left % d == 0) {
        if (best < 0 || d < amount) best = g, amount = d;
        break;
      }
  }
  if (best >= 0) out[n++] = tg__mkopt(TG__OPT_THREAD, tg__axis_of(ax.gid, ax.ng, globals[best]), amount);
  return n;
}

/* Cache blocking of a matmul (rows i by columns j, reduction k), as BLAS blocks it for the level-2 cache: when B, K
 * by N, passes a quarter of a core's level-2 cache, each tile of rows would read all of it again from the shared
 * level 3 (1024: 4 MiB per 8 rows; 16 cores then need more level-3 bandwidth than there is). Two THREADs make a grid
 * of tasks, each a block of columns (whose share of B fills at most a quarter of the level-2 cache, which also holds
 * the rows of A and C passing through) by a block of rows, the rows fastest: a thread's consecutive tasks share
 * their block of B, which stays in its level-2 cache while the rows stream through. Blocks of rows are as large as
 * give every core 16 tasks: fewer left cores idle at the end (the guided pool balances what there is). Measured on
 * a 16-core Xeon (2 MiB level 2), the kernel alone: 1024 881 -> 990 GFLOPS, 2048 817 -> 1000; OpenBLAS 950 and 1070.
 * A block keeps 3 tiles of rows or more, unless that leaves fewer than 2 tasks a core: 1024 rows in 12-row tiles are
 * 86, and blocks of 2 tiles (43 of them) ran the kernel 6% slower than blocks of 43 on 2 AVX-512 cores, where every
 * task reads its block of B for 24 rows; 100 rows (13 tiles of 8) by 6 blocks of columns keep 78 tasks on 16 cores.
 * `tiles_i`/`tiles_j` are the loops' lengths after the register tile; `panel` is B's bytes per tile of columns.
 * Appends THREAD(j), THREAD(i) to out; returns how many (0: B fits, no blocking). */
static int tg__block_rule(const tg__target *t, int64_t tiles_i, int64_t tiles_j, int64_t panel, int ai, int aj,
                          int64_t row_blocks, tg__opt *out) {
  if (t->cores < 1 || panel <= 0 || tiles_j * panel <= t->l2_bytes / 4 || ai < 0 || aj < 0) return 0;
  int64_t tj = 2;
  while (tj < tiles_j && (tiles_j % tj || (tiles_j / tj) * panel > t->l2_bytes / 4)) tj++;
  if (tj > 4096 || tiles_j % tj) return 0;
  if (row_blocks > 1 && row_blocks * tj <= 65536) { /* blocks of A for the level-3 cache, outermost: tg__l3_rule */
    out[0] = tg__mkopt(TG__OPT_THREAD, ai, row_blocks);
    out[1] = tg__mkopt(TG__OPT_THREAD, aj, tj);
    return 2;
  }
  int64_t ti = 1, want = 16 * (int64_t)t->cores;
  for (int64_t d = 2; d <= tiles_i / 3 && tj * ti < want; d++)
    if (tiles_i % d == 0) ti = d;
  for (int64_t d = ti + 1; d <= tiles_i && tj * ti < 2 * (int64_t)t->cores; d++) /* ...unless a core would idle */
    if (tiles_i % d == 0) ti = d;
  int n = 0;
  out[n++] = tg__mkopt(TG__OPT_THREAD, aj, tj);
  if (ti > 1 && ti * tj <= 65536 && ti <= 4096) out[n++] = tg__mkopt(TG__OPT_THREAD, ai, ti);
  return n;
}

/* Blocks of a matmul's rows for the level-3 cache, the level above tg__block_rule's: when A (m rows of row_bytes)
 * passes half of the level 3 of the cores (their shares together), every block of B's columns streams all of A
 * through from memory again (a 4096 matmul reads 64 MiB of A per 16 columns). Blocks of rows whose share of A fits
 * half a core's share, walked outermost, keep the rows that the cores are on in level 3 while every block of B passes
 * them once; a task is one block of rows by one of columns, so each core's level-2 cache holds its B while the
 * block's rows stream through from level 3. The blocks are as few as fit; each holds 32 tiles of rows or more (fewer
 * left each task reading its B from memory for too few rows: blocks of 108 rows of the 4096 product ran at 155
 * GFLOPS, of 216 rows 188, on 2 Zen 2 cores whose share is 8 MiB). Where A fits, blocks only cost B's reloads: on
 * 16 Xeon cores sharing 300 MiB, 4096 in 9 blocks (A fits) ran at 1444-1544 GFLOPS against 1637-1643 without.
 * The rows are padded (PADTO by `*unit`, a multiple of the tile, at most a 32nd more rows) so that blocks of 2 units
 * or more divide them: 4096 rows in 6-row tiles are 683, a prime, and 4104 are 342 units of 12, 18 blocks of 19.
 * On 2 Zen 2 cores (8 MiB of level 3 each), the kernel alone: 2048 174 -> 188 GFLOPS, 4096 173 -> 188; OpenBLAS's
 * whole products 180 and 197. Returns the number of blocks (0: none), and sets *unit. */
static int64_t tg__l3_rule(const tg__target *t, int64_t m, int64_t rows, int64_t row_bytes, int64_t *unit) {
  int64_t budget = t->l3_bytes / 2;
  *unit = rows;
  if (budget <= 0 || rows < 1 || row_bytes <= 0 || (double)m * (double)row_bytes <= (double)budget * t->cores)
    return 0;
  for (int64_t g = 1; g <= 8; g++) {
    int64_t a = rows * g, padded = (m + a - 1) / a * a, units = padded / a;
    if ((padded - m) * 32 > m) continue;
    for (int64_t blocks = 2; blocks <= units / 2 && blocks <= 4096; blocks++) {
      int64_t per = units / blocks; /* units a block */
      if (units % blocks || per * a * row_bytes > budget) continue;
      if (per * g < 32) break; /* the fewest blocks that fit are too small: a larger unit may divide better */
      *unit = a;
      return blocks;
    }
  }
  return 0;
}

/* each access's output and reduction loops, as bits of tg__range_deps (malloc'd) */
static uint64_t *tg__access_deps(const tg__vec *access) {
  tg__map dm;
  memset(&dm, 0, sizeof dm);
  uint64_t *deps = (uint64_t *)tg__alloc(sizeof(uint64_t) * (size_t)(access->n + 1));
  for (int a = 0; a < access->n; a++) deps[a] = tg__range_deps((tg__uop *)access->items[a], &dm);
  tg__map_free(&dm);
  return deps;
}

/* whether every access that depends on loop r (but `skip`, the store's) reads it contiguously; *bcast: whether some
 * access does not depend on it */
static int tg__reads_contiguously(const tg__vec *access, const uint64_t *deps, const tg__uop *r, const void *skip,
                                  int *bcast) {
  *bcast = 0;
  for (int a = 0; a < access->n; a++) {
    if (access->items[a] == skip) continue;
    if (!(deps[a] & (1ULL << (r->arg.i & 63)))) *bcast = 1;
    else if (tg__stride((tg__uop *)access->items[a], r) != 1) return 0;
  }
  return 1;
}

/* the largest divisor of n that is at most limit (1 when none but 1) */
static int64_t tg__divisor_upto(int64_t n, int64_t limit) {
  for (int64_t d = limit < n ? limit : n; d >= 2; d--)
    if (n % d == 0) return d;
  return 1;
}

/* A GPU's reduction to few outputs, or along a contiguous axis, is shared by the threads of a workgroup (GROUP):
 * one thread per output leaves most of the GPU idle (BatchNorm's statistics: 32 outputs, each a sum of 295k values,
 * on 32 threads) or reads memory a row apart in adjacent threads. The reduction loops, innermost first, give the
 * group up to 256 threads (each the largest divisor of its loop that fits what is left); they are made outermost
 * first, so the innermost is the fastest digit and a warp reads adjacent values. When no input reads the innermost
 * reduction loop contiguously but one reads the innermost output loop so (a sum over rows), that output loop gets
 * a LOCAL of up to 32, made last, and the group the rest. Returns the count, or -1: no GROUP (the tile rules). */
static int tg__gpu_group_rule(tg__uop *sink, int nglobal, const tg__target *t, tg__uop *const *globals, int ng,
                              const tg__vec *access, const uint64_t *deps, const tg__uop *store_at, tg__opt *out) {
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  tg__uop *red = NULL;
  double most = 0;
  tg__map dm;
  memset(&dm, 0, sizeof dm);
  for (int i = 0; i < all.n; i++) { /* the reduction with the most iterations, not inside another one's loop */
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op != TG__OP_REDUCE) continue;
    double work = 1;
    uint64_t outer = tg__open_deps(u, &dm) >> nglobal << nglobal;
    for (int s = 1; s < u->nsrc; s++) work *= (double)tg__range_max(u->src[s]);
    if (!outer && work > most) red = u, most = work;
  }
  tg__map_free(&dm);
  tg__vec_free(&all);
  double outputs = 1;
  for (int g = 0; g < ng; g++) outputs *= (double)tg__range_max(globals[g]);
  if (!red || red->nsrc < 2 || most < 32) return -1;
#define TG__BIT(r) (1ULL << ((r)->arg.i & 63))
  tg__uop *inner = red->src[red->nsrc - 1];
  int contiguous_r = 0, contiguous_out = 0, bcast = 0; /* inputs read the innermost reduction / output loop so */
  for (int a = 0; a < access->n; a++)
    contiguous_r |= (deps[a] & TG__BIT(inner)) && tg__stride((tg__uop *)access->items[a], inner) == 1;
  if (ng) {
    int reads = 0; /* ...and some input depends on it */
    contiguous_out = tg__reads_contiguously(access, deps, globals[ng - 1], store_at, &bcast);
    for (int a = 0; a < access->n; a++) reads |= access->items[a] != store_at && (deps[a] & TG__BIT(globals[ng - 1]));
    contiguous_out &= reads;
  }
#undef TG__BIT
  /* few outputs: fewer than 512 threads per compute unit (an H200's 132 SMs: 67k); or each thread would read its
   * own row of a contiguous reduction, a row apart from its neighbours (a matmul's B keeps a warp's loads adjacent) */
  if (outputs >= 512.0 * t->units && !(contiguous_r && ng && !contiguous_out)) return -1;
  if (contiguous_r) contiguous_out = 0; /* the group's threads read adjacent values already */
  int64_t budget = t->local_max < 256 ? t->local_max : 256, lsize = 1;
  if (contiguous_out) {
    lsize = tg__divisor_upto(tg__range_size(globals[ng - 1]), 32);
    if (lsize < 8) lsize = 1;
    budget /= lsize;
  }
  tg__axes ax;
  tg__find_axes(sink, nglobal, &ax);
  int64_t amount[2 * TG_MAX_DIMS];
  int nl = red->nsrc - 1, n = 0;
  /* a weight gradient (an outer product summed over the batch) also gets a 4x4 tile of outputs per thread along two
   * output loops that each of two inputs lacks one of: 8 loads for 16 multiply-adds, where one output per thread
   * loaded 2 for 1. Kept to what leaves two workgroups per compute unit */
  for (int g = ng - 1; g >= 0 && n == 0 && outputs / 16 >= 2.0 * t->units && !contiguous_out; g--)
    for (int h = g - 1; h >= 0 && n == 0; h--) {
      int ab = 0, ba = 0;
      uint64_t bg = 1ULL << (globals[g]->arg.i & 63), bh = 1ULL << (globals[h]->arg.i & 63);
      for (int a = 0; a < access->n; a++) {
        if (access->items[a] == store_at) continue;
        ab |= (deps[a] & bg) && !(deps[a] & bh);
        ba |= (deps[a] & bh) && !(deps[a] & bg);
      }
      if (ab && ba && tg__range_size(globals[g]) % 4 == 0 && tg__range_size(globals[h]) % 4 == 0) {
        out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[h]), 4);
        out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[g]), 4);
      }
    }
  int tiled = n;
  int64_t k4 = tg__range_size(inner) / 4;
  if (nl == 1 && n == 0 && contiguous_r && !contiguous_out && k4 * 4 == tg__range_size(inner) && k4 >= 8) {
    /* a matrix-vector product (a reduction along contiguous rows): each thread takes 4 adjacent elements at a time
     * (UNROLL: a quantised block's scale is loaded once for them), and the group is as large as leaves about 1024
     * threads per compute unit, from 16 to 256 (with more, a group's second stage costs more than the loads it
     * shares). With more outputs than that, each thread also takes 2 rows, which share its loads of the vector, and
     * a workgroup 2 such pairs. On an H200, Q4_1 products of SmolLM2: 1536x576 3.10 -> 2.42 us, 576x1536 3.42 ->
     * 2.31, 576x576 1.96 -> 1.76, 192x576 1.57 -> 1.48, the 49152x576 Q8_0 output 43 -> 18 us */
    out[n++] = tg__mkopt(TG__OPT_UNROLL, tg__axis_of(ax.rid, ax.nr, inner), 4);
    double fit = 1024.0 * t->units / outputs;
    budget = fit < 16 ? 16 : fit < (double)budget ? (int64_t)fit : budget;
    if (fit < 16 && ng && tg__range_size(globals[ng - 1]) % 4 == 0) {
      out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[ng - 1]), 2);
      out[n++] = tg__mkopt(TG__OPT_LOCAL, tg__axis_of(ax.gid, ax.ng, globals[ng - 1]), 2);
    }
    amount[0] = tg__divisor_upto(k4, budget);
    tiled = n;
  } else
    for (int s = nl; s >= 1; s--) {
      amount[s - 1] = budget >= 2 ? tg__divisor_upto(tg__range_size(red->src[s]), budget) : 1;
      if (!tg__range_size(red->src[s])) { /* symbolic: a power of two up to the budget and its largest size */
        amount[s - 1] = 1;
        while (amount[s - 1] * 2 <= budget && amount[s - 1] * 2 <= tg__range_max(red->src[s])) amount[s - 1] *= 2;
      }
      budget /= amount[s - 1];
    }
  for (int s = 1; s <= nl && n < TG__MAX_OPTS - 1; s++)
    if (amount[s - 1] > 1) out[n++] = tg__mkopt(TG__OPT_GROUP, tg__axis_of(ax.rid, ax.nr, red->src[s]), amount[s - 1]);
  if (n == tiled) return -1;
  if (lsize > 1) out[n++] = tg__mkopt(TG__OPT_LOCAL, tg__axis_of(ax.gid, ax.ng, globals[ng - 1]), lsize);
  return n;
}

/* A GPU with tensor cores gets a float32 sum of products of 16-bit floats (a float16 or bfloat16 matmul) computed by
 * them: TC with shared memory where a configuration's blocks divide the matmul; else TC on the reduction, then a
 * tile of 4 x 4 tensor-core tiles per warp (64 rows by 32 columns: each element of A
 * loaded serves 4 tiles of columns, each of B 4 of rows) and 2 x 2 warps per workgroup, which share their rows and
 * columns in the level-1 cache. Only where padding to the tensor core's 16 x 8 x 16 adds at most a quarter to each
 * axis. The innermost reduction loop that fits is taken. Returns the count, or 0 */
static int tg__tc_rule(tg__uop *sink, int nglobal, const tg__target *t, tg__opt *out) {
  if (!t->tensor_cores || tg__getenv_int("NOLOCALS", 0)) return 0;
  tg__axes ax;
  tg__find_axes(sink, nglobal, &ax);
  /* shared memory where the blocks divide the matmul and the device has the memory: the configurations by their
   * speed on a 4096 float16 matmul on an H200 (TFLOPS, 2026-12-02: 21 290, 26 288, 27 283, 20 275, 24 270, 2 268,
   * 22 267, 32 256, 28 254, 31 254, 17 248, 19 241, 25 237, 16 231, 30 229, 29 222, 13 216, 15 203, 1 202, 23 200,
   * 6 190, 12 183, 9 175, 11 174, 4 164, 3 158, 7 154, 18 150, 14 146, 10 117, 5 108; 33 285, 34 249); the last
   * ones' smaller blocks divide more matmuls */
  static const int staged[] = {21, 26, 33, 27, 20, 24, 2,  22, 32, 28, 31, 34, 17, 19, 25, 16, 30,
                               29, 13, 15, 1,  23, 6,  12, 9,  11, 4,  3,  7,  18, 14, 10, 5};
  /* warpgroups first where the device has them: the first configuration, by their speed on a 4096 float16 matmul
   * on an H200 (TFLOPS, 2026-12-02: 1 525, 9 474, 3 442, 4 440, 2 435, 5 386-391, 7 388-391, 6 373, 8 301),
   * whose blocks divide the matmul and give every compute unit a workgroup */
  static const int wg_order[] = {1, 9, 3, 4, 2, 5, 7, 6, 8};
  for (int i = ax.nr - 1; i >= 0 && t->wgmma; i--)
    for (int o = 0; o < (int)TG__COUNT(wg_order); o++) {
      int64_t copies = 1;
      const char *why = NULL;
      tg__tc_match mt;
      int c = wg_order[o];
      const tg__wgmma_config *cf = &tg__wgmma_configs[c - 1];
      if (tg__tc_find(sink, nglobal, ax.rid[i], 0, &mt, &why) < 0 ||
          (tg__range_size(mt.m) / (64 * cf->lm)) * (tg__range_size(mt.n) / cf->n) < t->units)
        continue;
      if (tg__apply_wgmma(sink, nglobal, t, ax.rid[i], c, &copies, &why)) {
        out[0] = tg__mkopt(TG__OPT_TC, i, TG__NTC_CONFIGS + c);
        return 1;
      }
    }
  for (int i = ax.nr - 1; i >= 0; i--)
    for (int c = 0; c < (int)TG__COUNT(staged); c++) {
      int64_t copies = 1;
      const char *why = NULL;
      if (tg__apply_tc_staged(sink, nglobal, t, ax.rid[i], staged[c], &copies, &why)) {
        out[0] = tg__mkopt(TG__OPT_TC, i, staged[c]);
        return 1;
      }
    }
  for (int i = ax.nr - 1; i >= 0; i--) {
    tg__tc_match mt;
    const char *why = NULL;
    if (tg__tc_find(sink, nglobal, ax.rid[i], 0, &mt, &why) < 0) continue;
    const tg__tensor_core *tc = &tg__tensor_cores[mt.tc];
    int64_t size[3] = {tg__range_size(mt.m), tg__range_size(mt.n), tg__range_size(mt.k)};
    int64_t dims[3] = {tc->m, tc->n, tc->k}, tiles[3];
    int ok = 1;
    for (int a = 0; a < 3; a++) {
      int64_t p = (size[a] + dims[a] - 1) / dims[a] * dims[a];
      ok &= size[a] >= dims[a] && p - size[a] <= size[a] / 4;
      tiles[a] = p / dims[a];
    }
    if (!ok) continue;
    int am = tg__axis_of(ax.gid, ax.ng, mt.m), an = tg__axis_of(ax.gid, ax.ng, mt.n), n = 0;
    int64_t um = tg__divisor_upto(tiles[0], 4), un = tg__divisor_upto(tiles[1], 4);
    int64_t lm = tg__divisor_upto(tiles[0] / um, 2), ln = tg__divisor_upto(tiles[1] / un, 2);
    out[n++] = tg__mkopt(TG__OPT_TC, i, 0);
    if (um > 1) out[n++] = tg__mkopt(TG__OPT_UPCAST, am, um);
    if (un > 1) out[n++] = tg__mkopt(TG__OPT_UPCAST, an, un);
    if (lm > 1 && 32 * lm <= t->local_max) out[n++] = tg__mkopt(TG__OPT_LOCAL, am, lm);
    if (ln > 1 && 32 * lm * ln <= t->local_max) out[n++] = tg__mkopt(TG__OPT_LOCAL, an, ln);
    return n;
  }
  return 0;
}

/* A GPU with workgroups and shared memory gets a float32 matmul staged (STAGE): the first configuration, by their
 * speed on a 4096 matmul on an H200 (TFLOPS, 2026-12-02: 5 44.7, 1 44.5, 6 43.1, 8 40.8, 2 40.5, 3 39.6, 4 38.0,
 * 7 32.8, 9 27.7; the plain 4 x 4 tiles per thread 15), whose blocks divide the matmul and give every compute unit a
 * workgroup (a smaller matmul keeps the other rules' kernels, which spread it over more threads). Returns the count,
 * or 0 */
static int tg__stage_rule(tg__uop *sink, int nglobal, const tg__target *t, tg__opt *out) {
  if (!t->local_max || !t->shared_bytes || tg__getenv_int("NOLOCALS", 0)) return 0;
  static const int order[] = {5, 1, 6, 8, 2, 3, 4, 7, 9};
  tg__axes ax;
  tg__find_axes(sink, nglobal, &ax);
  int64_t outputs = 1;
  for (int g = 0; g < ax.ng; g++) outputs *= tg__range_size(tg__range_of(sink, ax.gid[g]));
  for (int i = ax.nr - 1; i >= 0; i--) {
    tg__tc_match mt;
    const char *why = NULL;
    if (tg__tc_find(sink, nglobal, ax.rid[i], 1, &mt, &why) < 0) continue;
    for (int c = 0; c < (int)TG__COUNT(order); c++) {
      /* the workgroups it would launch (counted before the rewrite, which the device's refusals may then reject):
       * a block each of BM x BN outputs */
      const tg__stage_config *cf = &tg__stage_configs[order[c] - 1];
      int64_t copies = 1;
      if (outputs / ((int64_t)cf->tm * cf->lm * cf->tn * cf->ln) < t->units) continue;
      if (tg__apply_stage(sink, nglobal, t, ax.rid[i], order[c], &copies, &why)) {
        out[0] = tg__mkopt(TG__OPT_STAGE, i, order[c]);
        return 1;
      }
    }
  }
  return 0;
}

/* the lanes of the renderer's explicit vectors on target t (tg__linear.vec_width): the vector registers' 32-bit
 * lanes, 4 to 16; 0 for a GPU. VECTORIZE=0 turns them off (GCC's SLP alone); 4, 8 or 16 sets them whatever the
 * machine's (the tests of other widths) */
TG__PRIVATE int tg__vec_lanes(const tg__target *t) {
  int vw = t->vec_floats >= 16 ? 16 : t->vec_floats >= 8 ? 8 : t->vec_floats >= 4 ? 4 : 0;
  int ve = tg__getenv_int("VECTORIZE", 1);
  return t->gpu || !ve ? 0 : ve == 4 || ve == 8 || ve == 16 ? ve : vw;
}

/* Reductions get a register tile of accumulators over two output loops, and short reduction loops are unrolled.
 * The tile's inner loop j is the innermost output loop some input does not depend on (that input's loads are
 * reused across j); its outer loop i is one that another input, which does depend on j, does not: then a tile step
 * loads fi + fj values for fi * fj multiply-adds. For a matmul that is rows by columns; for a convolution, output
 * channels by output x, not the two spatial loops (whose loads differ everywhere in the tile). */
TG__PRIVATE int tg__heuristic_opts(tg__uop *sink, int nglobal, const tg__target *t, tg__opt *out) {
  if (tg__getenv_int("NOOPT", 0)) return 0;
  tg__vec all, access;
  memset(&all, 0, sizeof all);
  memset(&access, 0, sizeof access);
  tg__uop_toposort(sink, &all);
  tg__uop *globals[TG_MAX_DIMS], *inner_reduce = NULL, *dot4 = NULL;
  int ng = 0, has_reduce = 0, nbytes = 0, nwhere = 0, ngated = 0;
  uint64_t byte_deps = 0; /* the loops that the reads of byte-sized inputs (a quantised weight's blocks) move with */
  tg__map bmemo;
  memset(&bmemo, 0, sizeof bmemo);
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_INDEX && u->nsrc >= 2 && u->src[0]->op == TG__OP_DEFINE_GLOBAL &&
        (u->src[0]->dtype == TG_UINT8 || u->src[0]->dtype == TG_INT8))
      nbytes++, byte_deps |= tg__range_deps(u->src[1], &bmemo);
    nwhere += u->op == TG__OP_WHERE;
    ngated += u->op == TG__OP_LOAD && u->nsrc > 1;
    if (u->op == TG__OP_REDUCE) {
      has_reduce = 1;
      if (u->nsrc > 1) inner_reduce = u->src[u->nsrc - 1];
      if (u->dtype == TG_INT32 && u->nsrc == 2 && tg__range_size(u->src[1]) == 4 && u->src[0]->op == TG__OP_MUL &&
          u->src[0]->src[0]->op == TG__OP_CAST && tg__dtypes[u->src[0]->src[0]->src[0]->dtype].size == 1)
        dot4 = u->src[1];
    }
    if (u->op == TG__OP_RANGE && u->arg.i < nglobal && ng < TG_MAX_DIMS) globals[ng++] = u;
    if (u->op == TG__OP_INDEX && u->nsrc == 2 && u->src[0]->op == TG__OP_DEFINE_GLOBAL)
      tg__vec_push(&access, u->src[1]);
  }
  const tg__uop *store_at = sink->nsrc == 1 && sink->src[0]->op == TG__OP_STORE &&
                                    sink->src[0]->src[0]->op == TG__OP_INDEX ? sink->src[0]->src[0]->src[1] : NULL;
  tg__uop *red = NULL, *dot_lanes = NULL; /* the reduction loop, when there is one */
  int nred = 0;
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_RANGE && u->arg.i >= nglobal && !u->arg.i2) red = u, nred++;
    if (dot4 && u->op == TG__OP_RANGE && u->arg.i >= nglobal && !u->arg.i2 && u != dot4 && tg__range_size(u) % 8 == 0 &&
        (!dot_lanes || u->arg.i > dot_lanes->arg.i))
      dot_lanes = u; /* the innermost other reduction loop: its 8 lanes */
  }
  tg__vec_free(&all);
  tg__map_free(&bmemo);
  /* the output loops in order (by id: outermost first); the last is contiguous in the output */
  for (int i = 1; i < ng; i++)
    for (int j = i; j > 0 && globals[j]->arg.i < globals[j - 1]->arg.i; j--) {
      tg__uop *tmp = globals[j];
      globals[j] = globals[j - 1];
      globals[j - 1] = tmp;
    }
  for (int g = 0; g < ng; g++)
    if (tg__range_size(globals[g]) < 1) { /* an empty kernel: nothing to optimise */
      tg__vec_free(&access);
      return 0;
    }
  /* Integer dot products of bytes under a float reduction (tg_gguf_linear with TG_GGUF_Q8: a 4-bit weight's quants
   * times 8-bit activations, 4 products a lane summed in int32, each block's 8 lanes then scaled into float ones):
   * the 4 unrolled and the 8 lanes as accumulators (GROUP), which the renderer makes one vpmaddubsw + vpmaddwd (or
   * vpdpbusd) a block, and 4 rows a thread. A Q4_1 1536x576 product on one Zen 3 core: 93 us in float32, 52 so */
  if (dot4 && !t->gpu && sink->nsrc == 1 && ng >= 1) {
    tg__uop *lanes = dot_lanes, *rows = NULL;
    for (int g = 0; g < ng; g++)
      if (byte_deps & (1ULL << (globals[g]->arg.i & 63))) rows = globals[g];
    if (lanes) {
      tg__axes ax;
      tg__find_axes(sink, nglobal, &ax);
      int n = 0;
      if (rows && tg__range_size(rows) % 4 == 0 && tg__range_size(rows) / 4 >= 2 * (int64_t)t->cores &&
          tg__range_size(rows) < 8192) /* a vocabulary-sized one (the logits) keeps a row a thread: 3.3 -> 1.9 ms */
        out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, rows), 4);
      out[n++] = tg__mkopt(TG__OPT_GROUP, tg__axis_of(ax.rid, ax.nr, lanes), 8);
      out[n++] = tg__mkopt(TG__OPT_UNROLL, tg__axis_of(ax.rid, ax.nr, dot4), 4);
      tg__vec_free(&access);
      return n;
    }
  }
  if (has_reduce && t->gpu && sink->nsrc == 1) { /* tensor cores */
    int n = tg__tc_rule(sink, nglobal, t, out);
    if (n) {
      tg__vec_free(&access);
      return n;
    }
  }
  if (has_reduce && t->gpu && sink->nsrc == 1) { /* a float32 matmul staged in shared memory */
    int n = tg__stage_rule(sink, nglobal, t, out);
    if (n) {
      tg__vec_free(&access);
      return n;
    }
  }
  if (has_reduce && t->gpu && t->local_max && sink->nsrc == 1 && !tg__getenv_int("NOLOCALS", 0)) { /* GROUP */
    uint64_t *gdeps = tg__access_deps(&access);
    int n = tg__gpu_group_rule(sink, nglobal, t, globals, ng, &access, gdeps, store_at, out);
    TG_FREE(gdeps);
    if (n >= 0) {
      tg__vec_free(&access);
      return n;
    }
  }
  /* A product of a few rows with a quantised weight (a prompt chunk's T tokens by a language model's weight, whose
   * bytes are dequantised as they are read: some input is bytes): the weight's rows become the outer loop (SWAP),
   * so that a few rows' blocks stay in the level-1 cache while every token of the chunk reads them, and the tile
   * runs along the reduction, in explicit vectors (render.c). The matmul tile (4 tokens by 16 outputs) read its
   * 16 weight rows 576 elements apart, one byte at a time: SmolLM2's prompt took 6.5 ms for a 32x576x1536 product
   * on 2 cores (AVX2) */
  if (has_reduce && ng == 2 && nred == 1 && sink->nsrc == 1 && !t->gpu && red->src[0]->op == TG__OP_CONST &&
      tg__range_size(red) % 32 == 0 && tg__range_size(red) >= 64 && nbytes) {
    int o = -1, both = 0; /* o: the output loop of the weight's rows; the other is the tokens' */
    for (int g = 0; g < 2; g++)
      if (byte_deps & (1ULL << (globals[g]->arg.i & 63))) both |= o >= 0, o = g;
    if (o >= 0 && !both && tg__range_size(globals[o]) % 4 == 0 &&
        tg__range_size(globals[o]) / 4 >= 2 * (int64_t)t->cores) {
      /* 8 tokens by 2 rows of 8 accumulators each (16 vectors; AVX-512: of 16), which dequantise each weight once
       * for 8 tokens: 2.2 -> 0.91 ms for 32x576x1536 on 2 cores (AVX2) reading Q4_1's blocks, against 4 tokens by
       * 4 rows, or 4 by 2, which measured slower. Each group of lanes lies in one half of a 32-element block, so a
       * packed nibble's half is one choice for all of them; the reduction is unrolled over the whole block (4
       * groups of 8 lanes, 2 of 16), so that each copy's choice is a constant: no gated loads and selects, which had
       * cost as much as the dequantising. SmolLM2's 32-token prompt chunk on 2 Zen 2 cores: 138 -> 101 ms of
       * kernels, the prompt of 128 from 211 to 264 tokens/s (llama.cpp 238-242 in the same runs); BEAM had found
       * the same unroll */
      int n = 0;
      int64_t T = tg__range_size(globals[1 - o]), up = T % 8 == 0 ? 8 : T % 4 == 0 ? 4 : T % 2 == 0 ? 2 : 1;
      if (o == 1) out[n++] = tg__mkopt(TG__OPT_SWAP, 0, 1);
      if (up > 1 && tg__range_size(globals[o]) % 2 == 0) {
        out[n++] = tg__mkopt(TG__OPT_UPCAST, 0, 2);
        out[n++] = tg__mkopt(TG__OPT_UPCAST, 1, up);
        int64_t lanes = tg__vec_lanes(t) >= 16 ? 16 : 8;
        out[n++] = tg__mkopt(TG__OPT_GROUP, 0, lanes);       /* a vector, in half a block */
        out[n++] = tg__mkopt(TG__OPT_UNROLL, 0, 32 / lanes); /* the block (the reduction is a multiple of 32) */
      } else { /* an odd count of tokens: the decode's tile (4 rows, 32 accumulators) for each */
        out[n++] = tg__mkopt(TG__OPT_UPCAST, 0, 4);
        out[n++] = tg__mkopt(TG__OPT_GROUP, 0, 32);
      }
      tg__vec_free(&access);
      return n;
    }
  }
  if (!has_reduce || ng < 2 || sink->nsrc != 1) {
    /* a GPU's elementwise kernel whose innermost output loop every access walks contiguously gets an UPCAST of 4
     * along it, which the renderer makes one 16-byte load or store per access (float4), when that leaves 256
     * threads per compute unit */
    if (t->gpu && !has_reduce && ng >= 1 && tg__range_size(globals[ng - 1]) % 4 == 0) {
      double outputs = 1;
      int bcast;
      for (int g = 0; g < ng; g++) outputs *= (double)tg__range_size(globals[g]);
      uint64_t *deps = tg__access_deps(&access); /* the store's access too: it must walk the loop by 1 as well */
      int contiguous = tg__reads_contiguously(&access, deps, globals[ng - 1], NULL, &bcast);
      TG_FREE(deps);
      if (contiguous && outputs / 4 >= 256.0 * t->units) {
        tg__axes ax;
        tg__find_axes(sink, nglobal, &ax);
        tg__vec_free(&access);
        out[0] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[ng - 1]), 4);
        return 1;
      }
    }
    /* a reduction to one loop of outputs that every input reads contiguously (a sum over the outer axis: the partial
     * weight gradients of a convolution, summed) accumulates whole vectors of outputs, when that leaves each core 2 */
    int vec_out = has_reduce && ng == 1 && sink->nsrc == 1 && !t->gpu && t->vec_floats > 1 &&
                  tg__range_size(globals[0]) % t->vec_floats == 0 &&
                  tg__range_size(globals[0]) / t->vec_floats >= 2 * (int64_t)t->cores, bcast;
    if (vec_out) {
      uint64_t *deps = tg__access_deps(&access);
      /* a reduction of symbolic size (attention by a KV cache's values, one token: its outputs are merged into one
       * loop): the lanes are tried one by one. SmolLM2's r_576_S at 388 positions: 147-153 -> 72-81 us a layer
       * on 2 cores */
      int sym = red && red->src[0]->op != TG__OP_CONST;
      vec_out = tg__reads_contiguously(&access, deps, globals[0], NULL, &bcast) ||
                (sym && tg__lanes_contiguous(&access, deps, globals[0], t->vec_floats));
      TG_FREE(deps);
    }
    /* whether some input does not move with the outputs (a matrix-vector product's vector), or every input has its
     * own elements per output (a sum's partial results) */
    int shared = 0;
    if (has_reduce && ng == 1) {
      uint64_t *deps = tg__access_deps(&access);
      for (int a = 0; a < access.n; a++) shared |= !(deps[a] & (1ULL << (globals[0]->arg.i & 63)));
      TG_FREE(deps);
    }
    tg__vec_free(&access);
    int64_t ones[TG_MAX_DIMS];
    for (int i = 0; i < ng; i++) ones[i] = 1;
    /* A matrix-vector product (one output loop, one reduction loop: a language model's decode, whose weights are
     * dequantised as they are read) is a chain of dependent adds per output, bound by their latency. It gets 4
     * outputs a thread, which share each load of the vector, and 32 accumulators (GROUP), one per position in a
     * quantisation block, whose dequantising index arithmetic is then constant: a Q4_1 1536x576 product went from
     * 1050 to 188 us on 2 cores (AVX2; 290 without the 4 outputs). A vocabulary-sized one (8192 outputs or more: the
     * logits) keeps one output a thread: tiled by 4, a Q8_0 49152x576 product took 10.5 ms instead of 2.0. A sum's
     * partial results (no input shared by the outputs: nothing to gain from 4 a thread) keep one a thread too, so
     * that 16 cores share 256 of them in small claims rather than 64 of 1 MiB each */
    if (!vec_out && has_reduce && ng == 1 && nred == 1 && sink->nsrc == 1 && !t->gpu &&
        red->src[0]->op == TG__OP_CONST && tg__range_size(red) % 32 == 0 && tg__range_size(red) >= 64 &&
        tg__range_size(globals[0]) % 4 == 0 && tg__range_size(globals[0]) / 4 >= 2 * (int64_t)t->cores) {
      tg__axes ax;
      tg__find_axes(sink, nglobal, &ax);
      int n = 0;
      if (tg__range_size(globals[0]) < 8192 && shared)
        out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[0]), 4);
      out[n++] = tg__mkopt(TG__OPT_GROUP, tg__axis_of(ax.rid, ax.nr, red), 32);
      return n;
    }
    if (vec_out) {
      tg__axes ax;
      tg__find_axes(sink, nglobal, &ax);
      out[0] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[0]), t->vec_floats);
      return 1;
    }
    /* a copy whose innermost loop is one or two vectors long (a matmul's B copied into panels, 32 floats wide with
     * AVX-512) runs it as straight-line code, which the compiler turns into whole-vector loads and stores: the
     * outer loop it would vectorise instead is strided (the panel copy: 81 -> 102 GB/s on 16 cores). A pad's copy
     * too (one gated load and its select), which GCC makes masked vector moves: B padded into panels (N = 1008)
     * took 1.1-1.2 ms without, 0.46-0.65 with (0.40-0.45 for the same copy without the pad; 2 AVX-512 cores). Not a
     * kernel with other WHEREs or several gated loads (RoPE's halves: 4 WHEREs over 32), whose copies each carry
     * their selects: with them, SmolLM2's decode fell from 116-122 to 100-103 tokens/s */
    tg__axes ax;
    int n = 0;
    int64_t inner = ng ? tg__range_size(globals[ng - 1]) : 0;
    if (!has_reduce && ngated <= 1 && nwhere <= ngated && !t->gpu && ng >= 2 && inner >= t->vec_floats &&
        inner % t->vec_floats == 0 && inner <= 2 * t->vec_floats) {
      tg__find_axes(sink, nglobal, &ax);
      out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, globals[ng - 1]), 0);
      ones[ng - 1] = inner; /* all of it upcast: THREAD may not split it (E_2_32 on 16 AVX-512 cores was refused) */
    }
    return tg__thread_rule(sink, nglobal, t, globals, ng, ones, out, n);
  }
  uint64_t *deps = tg__access_deps(&access);
#define TG__BIT(r) (1ULL << ((r)->arg.i & 63))
  /* j: on a CPU, the innermost output loop that every input depending on it reads contiguously, and some input does
   * not depend on (the vector rule): the tile's vectors are then whole loads of the one and broadcasts of the other.
   * A convolution whose weight tg_conv2d packed with output channels fastest gets vectors along the channels: 16
   * (AVX-512) to a register, where the output's x gave 4. Else the innermost loop some input does not depend on */
  tg__uop *rj = NULL, *ri = NULL;
  int vector_rule = 0;
  for (int g = ng - 1; g >= 0 && !rj && !t->gpu && t->vec_floats > 1; g--) {
    int bcast = 0;
    if (tg__range_size(globals[g]) % t->vec_floats == 0 &&
        tg__reads_contiguously(&access, deps, globals[g], store_at, &bcast) && bcast)
      rj = globals[g], vector_rule = 1;
  }
  for (int g = ng - 1; g >= 0 && !rj; g--)
    for (int a = 0; a < access.n && !rj; a++)
      if (!(deps[a] & TG__BIT(globals[g]))) rj = globals[g];
  for (int g = ng - 1; g >= 0 && rj && !ri; g--)
    for (int a = 0; a < access.n && !ri; a++)
      if (globals[g] != rj && !(deps[a] & TG__BIT(globals[g])) && (deps[a] & TG__BIT(rj))) ri = globals[g];
  if (!rj) rj = globals[ng - 1];
  if (!ri) ri = rj == globals[ng - 1] ? globals[ng - 2] : globals[ng - 1];
  /* a sliding window: an input read at j + r for the innermost reduction loop r (a convolution's x[ox + kx]).
   * Unrolling r then shares loads between the copies of the tile, which a matmul's k would not */
  int window = 0, contiguous_r = 0; /* ...and whether some input reads the innermost reduction loop contiguously */
  for (int a = 0; a < access.n && inner_reduce; a++)
    contiguous_r |= (deps[a] & TG__BIT(inner_reduce)) && tg__stride((tg__uop *)access.items[a], inner_reduce) == 1;
  for (int a = 0; a < access.n && inner_reduce && !window; a++) {
    tg__uop *idx = (tg__uop *)access.items[a];
    int64_t sr = (deps[a] & TG__BIT(inner_reduce)) ? tg__stride(idx, inner_reduce) : 0;
    window = sr != 0 && (((deps[a] & TG__BIT(rj)) && tg__stride(idx, rj) == sr) ||
                         ((deps[a] & TG__BIT(ri)) && tg__stride(idx, ri) == sr));
  }
  TG_FREE(deps);
  tg__vec_free(&access);
#undef TG__BIT
  /* the register tile: rows of i times two vectors of j, whose accumulators fill half the vector registers (the
   * other half holds the loads): 8x32 with AVX-512 (32 registers of 16 floats), 4x16 with AVX2 (16 of 8), 8x8 with
   * NEON (32 of 4). A GPU thread gets a 4x4 tile: the parallelism is in the threads, and a thread's registers are
   * fewer. */
  static const int64_t inner[] = {32, 16, 8, 4, 2}, outer[] = {8, 4, 2};
  int gpu = t->gpu;
  int64_t max_j = gpu ? 4 : 2 * (int64_t)t->vec_floats, max_i = gpu ? 4 : t->vec_regs / 4;
  int skip_j = 0, skip_i = 0;
  while (skip_j < TG__COUNT(inner) - 1 && inner[skip_j] > max_j) skip_j++;
  while (skip_i < TG__COUNT(outer) - 1 && outer[skip_i] > max_i) skip_i++;
  int64_t fj = tg__pick_factor(tg__range_size(rj), inner + skip_j, TG__COUNT(inner) - skip_j, gpu ? 4 : 32);
  int64_t fi = tg__pick_factor(tg__range_size(ri), outer + skip_i, TG__COUNT(outer) - skip_i,
                               (gpu ? 16 : max_i * max_j) / fj);
  /* keep the parallel loop long enough to share among threads: 8 iterations of the rows; the vector axis, whose
   * width matters more, keeps 2 (a THREAD on another loop, below, then gives every core its work) */
  int64_t rest = 1; /* ...unless the other output loops give every core its share (the vector rule's channels) */
  for (int g = 0; g < ng; g++)
    rest *= globals[g] == rj ? 1 : tg__range_size(globals[g]) / (globals[g] == ri ? fi : 1);
  while (ri == globals[0] && fi > 1 && tg__range_size(ri) / fi < 8) fi = fi % 2 ? 1 : fi / 2;
  while (rj == globals[0] && fj > 1 && tg__range_size(rj) / fj < 2 && !(vector_rule && rest >= 4 * t->cores))
    fj = fj % 2 ? 1 : fj / 2;
  /* a window's reduction loop is unrolled: whole when short (a kernel width), else by 4. But when the tile's vector
   * axis is no whole vector (a conv's weight gradient: 5 of kx) and the reduction loop is contiguous, that loop is
   * GROUPed by 4 instead: 4 accumulators per output along it, which the compiler makes one vector (the 32->32 5x5
   * weight gradient of the MNIST model, batch 512: 233 -> 154 ms on 2 cores) */
  int64_t fu = 1, fg = 1, un = inner_reduce ? tg__range_size(inner_reduce) : 0;
  /* the unrolled tile's statements: at most 512 (256 for a partial unroll); 640 for the vector rule's tile, whose
   * copies are few vectors (the 32->32 5x5 convolution's 4 x 32 tile, whole kernel width: 40 vector FMAs) */
  int64_t whole = vector_rule ? 640 : 512, by4 = vector_rule ? 640 : 256;
  if (!gpu && window && contiguous_r && fj % 4 && un % 4 == 0 && un > 4 && fi * fj * 4 <= 128) fg = 4;
  else if (window && un > 1 && un <= 8 && fi * fj * un <= whole) fu = un;
  else if (window && un % 4 == 0 && fi * fj * 4 <= by4) fu = 4;
  /* i first, so the copies are ordered (i, j) with j fastest: adjacent accumulators read adjacent memory */
  tg__axes ax;
  tg__find_axes(sink, nglobal, &ax);
  int n = 0;
  /* A matmul's tile with 16 vector registers (AVX2): 6 rows by two vectors, 12 accumulators, as BLIS's 6x16 kernel
   * for Haswell. 4 rows left 8 accumulators for FMAs of 4 cycles' latency, two a cycle: 8 in flight, no slack. Rows
   * that 6 does not divide are padded (PADTO, its last tile shifted back, below). On 2 cores (Zen 3),
   * the 1024 kernel went 116-122 -> 172-186 GFLOPS (the whole product 0.62-0.78x -> 0.92-0.93x OpenBLAS in the same
   * run), 2048 106 -> 151 (0.60x -> 0.82x).
   * Not for a short reduction, whose kernel its stores bound (MNIST's input gradient of its last layer, 512x576 by a
   * reduction of 10: 510 -> 560 us) */
  int matmul = ng == 2 && ri == globals[0] && rj == globals[1] && !gpu && !window && inner_reduce;
  int64_t padi = tg__range_size(ri);
  /* With 32 registers (AVX-512) rows that 8 does not divide are padded to 8 likewise: M = 1001 had got a tile of one
   * row (0.31x OpenBLAS on 2 cores), 1023 and 999 of three (0.66-0.67x) */
  /* With 32 registers, 12 rows (24 accumulators, the other 8 registers for B's two vectors and A's broadcasts) when
   * padding to 12 adds at most a 32nd: on 2 AVX-512 cores the 1024 matmul went from 370-376 to 387-391 GFLOPS,
   * 2048 from 392 to 412 (the product of 1020 rows, which 12 divides: 372 -> 399). The padding's last tile is
   * shifted back over the one before it (tg__padto), which needs a THREAD: see below. Only when the row tiles can be
   * split in blocks of 3 or more (tg__block_rule): 128 rows are 11 tiles of 12, whose 9 tasks on 2 cores (a block of
   * columns each) left one core a task behind: 128 x 1536 x 576 took 0.81 ms against 0.63 with 8 rows */
  int64_t rows = t->vec_regs == 16 ? 6 : max_i, pad12 = (padi + 11) / 12 * 12;
  int split12 = tg__divisor_upto(pad12 / 12, pad12 / 12 / 3) > 1;
  if (t->vec_regs >= 32 && (pad12 - padi) * 32 <= padi && split12) rows = 12;
  int padded = 0;
  int64_t row_blocks = 0, unit = rows, K = inner_reduce ? tg__range_size(inner_reduce) : 0;
  if (matmul && (t->vec_regs == 16 || t->vec_regs >= 32) && fj == 2 * (int64_t)t->vec_floats && fi < rows &&
      (t->vec_regs >= 32 || fi <= 4) && padi >= 4 * rows && K >= 64) {
    fi = rows;
    /* A's rows in blocks for level 3 when B does not fit level 2 (tg__block_rule blocks it then) */
    if (4 * K * tg__range_size(rj) > t->l2_bytes / 4) row_blocks = tg__l3_rule(t, padi, rows, 4 * K, &unit);
    padi = (padi + unit - 1) / unit * unit;
    if (padi != tg__range_size(ri)) out[n++] = tg__mkopt(TG__OPT_PADTO, tg__axis_of(ax.gid, ax.ng, ri), unit);
    padded = padi != tg__range_size(ri);
  }
  if (fi > 1) out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, ri), fi);
  if (fj > 1) out[n++] = tg__mkopt(TG__OPT_UPCAST, tg__axis_of(ax.gid, ax.ng, rj), fj);
  if (fu > 1) out[n++] = tg__mkopt(TG__OPT_UNROLL, tg__axis_of(ax.rid, ax.nr, inner_reduce), fu);
  if (fg > 1) out[n++] = tg__mkopt(TG__OPT_GROUP, tg__axis_of(ax.rid, ax.nr, inner_reduce), fg);
  /* a GPU's convolution tiles: a workgroup of up to 16 x 16 threads over rows and columns of tiles, whose threads
   * share their window's inputs in the level-1 cache, columns fastest; only whole warps (a 48-thread block would
   * idle a third of its second warp). The H200 run that added them, with the batchnorm statistics split too, took
   * the MNIST step from 8 ms to 4 (which did how much was not measured apart); a 4096 matmul's tiles ran slower so
   * (13.8 TFLOPS against 15.6 with flat blocks of 256, which span 4 rows of tiles), and get none */
  if (gpu && window && t->local_max >= 64 && !tg__getenv_int("NOLOCALS", 0)) {
    int64_t li = tg__divisor_upto(tg__range_size(ri) / fi, 16), lj = tg__divisor_upto(tg__range_size(rj) / fj, 16);
    if (li >= 4 && lj >= 4 && (li * lj) % 32 == 0 && li * lj <= t->local_max) {
      out[n++] = tg__mkopt(TG__OPT_LOCAL, tg__axis_of(ax.gid, ax.ng, ri), li);
      out[n++] = tg__mkopt(TG__OPT_LOCAL, tg__axis_of(ax.gid, ax.ng, rj), lj);
    }
  }
  /* a matmul (two output loops, rows outer) whose B passes a quarter of the level-2 cache is blocked for it (this
   * replaced a SWAP of the column tiles outermost for a B over 8 MiB, which the blocking covers) */
  int nb = matmul ? tg__block_rule(t, padi / fi, tg__range_size(rj) / fj, 4 * K * fj, tg__axis_of(ax.gid, ax.ng, ri),
                                   tg__axis_of(ax.gid, ax.ng, rj), row_blocks, out + n)
                  : 0;
  if (nb) n += nb;
  else {
    int64_t up[TG_MAX_DIMS];
    for (int g = 0; g < ng; g++) up[g] = globals[g] == ri ? fi : globals[g] == rj ? fj : 1;
    n = tg__thread_rule(sink, nglobal, t, globals, ng, up, out, n);
  }
  /* padded rows with no THREAD: the threads would split the loop of row tiles itself, and two of them could write the
   * overlapping tiles at once; a THREAD of the rows with two tiles or more a task keeps each pair in one task (the
   * list without one has its padding gated, tg__padto_may_overlap) */
  int threaded = 0;
  for (int i = 0; i < n; i++) threaded |= out[i].op == TG__OPT_THREAD;
  int64_t tiles = padded ? padi / fi : 0, cap = 4 * (int64_t)t->cores;
  int64_t d = tiles ? tg__divisor_upto(tiles, tiles / 2 < cap ? tiles / 2 : cap) : 1;
  if (padded && !threaded && d > 1 && n < TG__MAX_OPTS)
    out[n++] = tg__mkopt(TG__OPT_THREAD, tg__axis_of(ax.gid, ax.ng, ri), d);
  return n;
}
