/* linearize.c: order a lowered kernel graph into a list of UOps with explicit loops (layer 3).
 *
 * Contract: the output lists every value node after its sources and inside exactly the loops it depends on:
 *   RANGE opens a loop and ENDRANGE closes it; a REDUCE becomes DEFINE_ACC (before its loops), the loops, an ASSIGN of
 *   the accumulator in the innermost loop, then the REDUCE itself (which reads the accumulator) after the loops.
 *   Four sums of the elements of one WMMA (a tensor core's tile) become that WMMA taking the four accumulators as its
 *   C, and four ASSIGNs of its elements (GEP): the tensor core accumulates, with no adds of its own. The same for
 *   the n / 2 sums of a WGMMA's elements. A REDUCE's
 *   BARRIER source (a staged matmul's copy of the next stage) is emitted at the end of each iteration of its
 *   outermost loop, the values it stores at the start, before the inner loops open.
 * The output ranges (ids below nglobal) are opened first, outermost first; the first one is the parallel loop. A GPU
 * kernel's thread ranges (LOCAL, GROUP: digits of the thread's index in its workgroup) are opened next, slowest
 * first. A shared array's stores, the BARRIER after them and the loads that name the barrier come in that order,
 * since each is a source of the next.
 * Before a reduction's loops open, every node of its body that does not depend on them is emitted (hoisted), so no
 * value is computed inside a loop it does not depend on, and no value is used outside the loop that defined it. */
#include "internal.h"

typedef struct tg__lin {
  tg__map deps;      /* uop -> range mask + 1 */
  tg__map emitted;   /* uop -> 1 */
  tg__vec list;
  tg__vec aux;       /* parallel to list: for REDUCE, the index of its DEFINE_ACC */
  uint64_t open;     /* ranges open at the current position */
  double iters;      /* loop iterations at the current position */
  double flops, lds;
  int nacc, error;
  int shared;        /* emitting a GROUP's second stage: its redundant sums are no flops of the kernel */
  tg__vec reduces;   /* every REDUCE of the kernel, for fusing those over the same loops */
} tg__lin;

static uint64_t tg__deps(tg__lin *L, tg__uop *u) {
  void *d = tg__map_get(&L->deps, u);
  if (d) return (uint64_t)(uintptr_t)d - 1;
  uint64_t m = 0;
  for (int i = 0; i < u->nsrc; i++) m |= tg__deps(L, u->src[i]);
  if (u->op == TG__OP_RANGE) {
    if (u->arg.i >= 63) L->error = 1;
    else m |= 1ULL << u->arg.i;
  }
  if (u->op == TG__OP_REDUCE)
    for (int i = 1; i < u->nsrc; i++)
      if (u->src[i]->op == TG__OP_RANGE) m &= ~(1ULL << (u->src[i]->arg.i & 63));
  tg__map_put(&L->deps, u, (void *)(uintptr_t)(m + 1));
  return m;
}

static void tg__list(tg__lin *L, tg__uop *u, intptr_t aux) {
  tg__vec_push(&L->list, u);
  tg__vec_push(&L->aux, (void *)aux);
  if (tg__op_is_alu(u->op) && !L->shared) L->flops += L->iters;
  if (u->op == TG__OP_WMMA) { /* a warp's 2 * m * n * k, a thread's share of it */
    const tg__tensor_core *tc = &tg__tensor_cores[u->arg.i];
    L->flops += L->iters * 2.0 * tc->m * tc->n * tc->k / 32;
  }
  if (u->op == TG__OP_WGMMA) L->flops += L->iters * 2.0 * 64 * (double)u->arg.ints[0] * 16 / 128; /* a warpgroup's */
  if ((u->op == TG__OP_LOAD || u->op == TG__OP_STORE) && u->nsrc >= 1 && u->src[0]->op == TG__OP_INDEX &&
      u->src[0]->nsrc >= 1 && u->src[0]->src[0]->op == TG__OP_DEFINE_GLOBAL) /* global memory, each time */
    L->lds += L->iters * tg_dtype_size(u->op == TG__OP_LOAD || u->nsrc < 2 ? u->dtype : u->src[1]->dtype);
}

static void tg__emit(tg__lin *L, tg__uop *u);

/* A tensor core's op (WMMA, a warp's; WGMMA, a warpgroup's): where its C begins among its sources, and its elements */
static int tg__is_mma(const tg__uop *w) { return w->op == TG__OP_WMMA || w->op == TG__OP_WGMMA; }
static int tg__mma_c0(const tg__uop *w) { return w->op == TG__OP_WMMA ? 12 : 3; }
static int tg__mma_nc(const tg__uop *w) { return w->nsrc - tg__mma_c0(w); }

/* whether a tensor core op's C is zeros: the first of a chain */
static int tg__wmma_first(const tg__uop *w) {
  double c;
  for (int j = tg__mma_c0(w); j < w->nsrc; j++)
    if (!tg__is_const(w->src[j], &c) || c != 0) return 0;
  return 1;
}

/* the op of the same kind whose D is w's C (each element by its GEP, in order), or NULL */
static tg__uop *tg__wmma_before(const tg__uop *w) {
  int c0 = tg__mma_c0(w);
  tg__uop *p = w->src[c0]->op == TG__OP_GEP ? w->src[c0]->src[0] : NULL;
  double l;
  for (int j = c0; p && j < w->nsrc; j++)
    if (w->src[j]->op != TG__OP_GEP || w->src[j]->src[0] != p || !tg__is_const(w->src[j]->src[1], &l) || l != j - c0)
      return NULL;
  return p && p->op == w->op && p->nsrc == w->nsrc ? p : NULL;
}

/* the tensor core op whose element *lane a REDUCE sums, when the op may accumulate into the sum's accumulator
 * itself: a sum of GEP(w, lane), where w is the last of a chain whose first op's C is zeros (tg__apply_tc and
 * tg__apply_wgmma make them); NULL otherwise */
static tg__uop *tg__wmma_summed(const tg__uop *v, int *lane) {
  const tg__uop *g = v->src[0];
  double z;
  if (v->arg.i != TG__OP_ADD || g->op != TG__OP_GEP || !tg__is_mma(g->src[0]) || !tg__is_const(g->src[1], &z) ||
      z < 0 || z >= tg__mma_nc(g->src[0]))
    return NULL;
  for (const tg__uop *w = g->src[0]; w; w = tg__wmma_before(w))
    if (tg__wmma_first(w)) {
      *lane = (int)z;
      return g->src[0];
    }
  return NULL;
}

/* emits the chain of tensor core ops ending at w, the first one taking c as its C; returns the last (tinygrad's WMMA
 * chains a stage's steps along k the same way) */
static tg__uop *tg__emit_wmma_chain(tg__lin *L, tg__uop *w, tg__uop *const *c) {
  tg__uop **srcs = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)w->nsrc);
  tg__uop *before = tg__wmma_first(w) ? NULL : tg__emit_wmma_chain(L, tg__wmma_before(w), c);
  int c0 = tg__mma_c0(w);
  for (int l = 0; l < w->nsrc - c0; l++) {
    srcs[c0 + l] = before ? tg__uop2(TG__OP_GEP, w->dtype, before, tg__const_int(TG_INT32, l), NULL) : c[l];
    if (before) tg__list(L, srcs[c0 + l], 0);
  }
  for (int j = 0; j < c0; j++) tg__emit(L, srcs[j] = w->src[j]);
  tg__uop *out = tg__uop_new(w->op, w->dtype, w->nsrc, srcs, &w->arg);
  TG_FREE(srcs);
  tg__list(L, out, 0);
  return out;
}

/* For each REDUCE g of the group, the tensor core op whose element lane[g] it sums (owner[g]), when the group sums
 * every element of that op once: then the op takes their accumulators as its C and its D is assigned to them, with
 * no adds (tinygrad's WMMA accumulates the same way). NULL where not */
static void tg__wmma_sums(const tg__vec *group, tg__uop **owner, int *lane) {
  for (int g = 0; g < group->n; g++) owner[g] = tg__wmma_summed((tg__uop *)group->items[g], &lane[g]);
  for (int g = 0; g < group->n; g++) {
    tg__uop *w = owner[g];
    int first = 1, nc = w ? tg__mma_nc(w) : 0, count = 0, ok = 1;
    for (int h = 0; h < g && w; h++) first &= owner[h] != w;
    if (!w || !first) continue;
    unsigned char *seen = (unsigned char *)tg__alloc((size_t)nc);
    memset(seen, 0, (size_t)nc);
    for (int h = g; h < group->n; h++)
      if (owner[h] == w) ok &= !seen[lane[h]], seen[lane[h]] = 1, count++;
    TG_FREE(seen);
    for (int h = g; h < group->n && !(ok && count == nc); h++)
      if (owner[h] == w) owner[h] = NULL;
  }
}

static void tg__emit(tg__lin *L, tg__uop *u);
static void tg__emit_reduces(tg__lin *L, tg__uop *u);

/* emits every node below u that only depends on the loops open now */
static void tg__hoist(tg__lin *L, tg__uop *u, tg__map *seen) {
  if (tg__map_get(&L->emitted, u) || tg__map_get(seen, u)) return;
  tg__map_put(seen, u, (void *)1);
  if (u->op == TG__OP_RANGE) return;
  if ((tg__deps(L, u) & ~L->open) == 0) {
    tg__emit(L, u);
    return;
  }
  for (int i = 0; i < u->nsrc; i++) tg__hoist(L, u->src[i], seen);
}

/* the accumulator's start: the reduce op's identity (ADD 0, MUL 1, MAX the dtype's lowest), from the op table */
static tg__uop *tg__identity(tg__op op, tg_dtype dt) { return tg__const(dt, tg__op_identity(op, dt)); }

/* a loop's iterations for the cost estimate: its size, or 1 for a symbolic one (counted once) */
static double tg__loop_iters(const tg__uop *r) {
  return r->src[0]->op == TG__OP_CONST ? (double)tg__const_val(r->src[0]) : 1.0;
}


static void tg__open(tg__lin *L, tg__uop *r) {
  if (r->src[0]->op != TG__OP_CONST) tg__emit(L, r->src[0]); /* a symbolic size, computed before its loop */
  tg__list(L, r, 0);
  L->open |= 1ULL << r->arg.i;
  L->iters *= tg__loop_iters(r);
}

static void tg__close(tg__lin *L, tg__uop *r) {
  tg__list(L, tg__uop1(TG__OP_ENDRANGE, TG_INT32, r, NULL), 0);
  L->open &= ~(1ULL << r->arg.i);
  L->iters /= tg__loop_iters(r);
}

static void tg__emit(tg__lin *L, tg__uop *u) {
  if (tg__map_get(&L->emitted, u) || L->error) return;
  tg__map_put(&L->emitted, u, (void *)1);
  if (u->op == TG__OP_RANGE || u->op == TG__OP_DEFINE_GLOBAL) return; /* loops are opened explicitly; params */
  if (u->op == TG__OP_REDUCE) {
    tg__emit_reduces(L, u);
    return;
  }
  for (int i = 0; i < u->nsrc; i++) tg__emit(L, u->src[i]);
  tg__list(L, u, 0);
}

static int tg__same_loops(const tg__uop *a, const tg__uop *b) {
  if (a->nsrc != b->nsrc || a->arg.i != b->arg.i) return 0;
  for (int i = 1; i < a->nsrc; i++)
    if (a->src[i] != b->src[i]) return 0;
  return 1;
}

/* A REDUCE, fused with every other REDUCE over the same loops that can run now (an upcast kernel has many): one
 * DEFINE_ACC each, the shared loops, one ASSIGN each in the innermost loop, and the REDUCEs after the loops. */
static void tg__emit_reduces(tg__lin *L, tg__uop *u) {
  tg__vec group;
  memset(&group, 0, sizeof group);
  tg__vec_push(&group, u);
  for (int i = 0; i < L->reduces.n; i++) {
    tg__uop *v = (tg__uop *)L->reduces.items[i];
    if (v == u || tg__map_get(&L->emitted, v) || !tg__same_loops(u, v) || (tg__deps(L, v) & ~L->open)) continue;
    if (!tg__uop_reaches(v->src[0], u)) {
      tg__map_put(&L->emitted, v, (void *)1);
      tg__vec_push(&group, v);
    }
  }
  intptr_t *acc_at = (intptr_t *)tg__alloc(sizeof(intptr_t) * (size_t)group.n);
  tg__uop **accs = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)group.n);
  for (int g = 0; g < group.n; g++) {
    tg__uop *v = (tg__uop *)group.items[g];
    tg__map seen;
    memset(&seen, 0, sizeof seen);
    for (int i = 0; i < v->nsrc; i++)
      if (i == 0 || v->src[i]->op == TG__OP_BARRIER) tg__hoist(L, v->src[i], &seen);
    tg__map_free(&seen);
  }
  for (int g = 0; g < group.n; g++) {
    tg__uop *v = (tg__uop *)group.items[g];
    tg__arg a;
    memset(&a, 0, sizeof a);
    a.i = L->nacc++;
    accs[g] = tg__uop1(TG__OP_DEFINE_ACC, v->dtype, tg__identity((tg__op)v->arg.i, v->dtype), &a);
    acc_at[g] = L->list.n;
    tg__list(L, accs[g], 0);
  }
  /* a BARRIER source ends each iteration of the outermost loop (a staged matmul's next stage: its copy into shared
   * memory, then the barrier): the values it stores are loaded first, before the inner loops open, so that their
   * latency passes under the sums */
  int outer = 0;
  for (int i = 1; i < u->nsrc && !outer; i++)
    if (u->src[i]->op == TG__OP_RANGE) outer = i;
  if (outer) tg__open(L, u->src[outer]);
  for (int i = 1; i < u->nsrc; i++)
    for (int j = 0; u->src[i]->op == TG__OP_BARRIER && j < u->src[i]->nsrc; j++)
      if (u->src[i]->src[j]->op == TG__OP_STORE) tg__emit(L, u->src[i]->src[j]->src[1]);
  for (int i = outer + 1; outer && i < u->nsrc; i++)
    if (u->src[i]->op == TG__OP_RANGE) tg__open(L, u->src[i]);
  tg__uop *body = u->src[0]; /* a GROUP's second stage sums the shared array, every thread of the group alike */
  int shared = L->shared;
  L->shared |= body->op == TG__OP_LOAD && body->src[0]->op == TG__OP_INDEX &&
               body->src[0]->src[0]->op == TG__OP_DEFINE_LOCAL;
  tg__uop **owner = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)group.n);
  int *lane = (int *)tg__alloc(sizeof(int) * (size_t)group.n);
  tg__wmma_sums(&group, owner, lane);
  for (int g = 0; g < group.n; g++) {
    tg__uop *v = (tg__uop *)group.items[g];
    if (owner[g]) { /* the op(A, B, its accumulators), assigned to them element by element */
      if (lane[g] != 0) continue; /* done with element 0's */
      tg__uop *w = owner[g];
      int nc = tg__mma_nc(w), *at = (int *)tg__alloc(sizeof(int) * (size_t)nc);
      tg__uop **c = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)nc);
      for (int h = g; h < group.n; h++)
        if (owner[h] == w) c[lane[h]] = accs[h], at[lane[h]] = h;
      tg__uop *acc = tg__emit_wmma_chain(L, w, c);
      for (int l = 0; l < nc; l++) {
        tg__uop *d = tg__uop2(TG__OP_GEP, w->dtype, acc, tg__const_int(TG_INT32, l), NULL);
        tg__list(L, d, 0);
        tg__list(L, tg__uop2(TG__OP_ASSIGN, w->dtype, accs[at[l]], d, NULL), 0);
      }
      TG_FREE(at);
      TG_FREE(c);
      continue;
    }
    tg__emit(L, v->src[0]);
    tg__uop *upd = tg__uop2((tg__op)v->arg.i, v->dtype, accs[g], v->src[0], NULL);
    tg__list(L, tg__uop2(TG__OP_ASSIGN, v->dtype, accs[g], upd, NULL), 0);
    if (!L->shared) L->flops += L->iters; /* the accumulation's op, in the ASSIGN (a matmul's adds: half its flops) */
  }
  TG_FREE(owner);
  TG_FREE(lane);
  for (int i = u->nsrc - 1; outer && i > outer; i--)
    if (u->src[i]->op == TG__OP_RANGE) tg__close(L, u->src[i]);
  for (int i = 1; i < u->nsrc; i++)
    if (u->src[i]->op == TG__OP_BARRIER) tg__emit(L, u->src[i]);
  if (outer) tg__close(L, u->src[outer]);
  L->shared = shared;
  for (int g = 0; g < group.n; g++) tg__list(L, (tg__uop *)group.items[g], acc_at[g]);
  TG_FREE(acc_at);
  TG_FREE(accs);
  tg__vec_free(&group);
}

static int tg__cmp_range(const void *a, const void *b) {
  const tg__uop *x = *(tg__uop *const *)a, *y = *(tg__uop *const *)b;
  return x->arg.i < y->arg.i ? -1 : x->arg.i > y->arg.i;
}

/* a shared array's (DEFINE_LOCAL's) size in 16-byte vectors, rounded up: each array starts 16-byte aligned */
TG__PRIVATE int64_t tg__shared_vectors(const tg__uop *u) { return (u->arg.i2 * tg__dtypes[u->dtype].size + 15) / 16; }

TG__PRIVATE int tg__linearize(tg__uop *sink, int nglobal, tg__linear *out) {
  tg__lin L;
  memset(&L, 0, sizeof L);
  L.iters = 1;
  memset(out, 0, sizeof *out);
  /* the output loops: every global range the stores use, by id */
  tg__vec all;
  memset(&all, 0, sizeof all);
  tg__uop_toposort(sink, &all);
  tg__uop *globals[TG_MAX_DIMS];
  int ng = 0;
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    if (u->op == TG__OP_RANGE && u->arg.i < nglobal && !u->arg.i2 && ng < TG_MAX_DIMS) globals[ng++] = u;
    if (u->op == TG__OP_REDUCE) tg__vec_push(&L.reduces, u);
  }
  tg__vec_free(&all);
  qsort(globals, (size_t)ng, sizeof(tg__uop *), tg__cmp_range);
  tg__deps(&L, sink);
  if (L.error) {
    tg__set_error("codegen: a kernel needs more than 63 loops");
    return -1;
  }
  for (int i = 0; i < ng; i++) tg__open(&L, globals[i]);
  out->nlocals = tg__thread_ranges(sink, out->locals); /* a workgroup's digits: no loops either */
  out->local_size = out->nlocals ? 1 : 0;
  for (int i = 0; i < out->nlocals; i++) {
    tg__open(&L, out->locals[i]);
    out->local_size *= (int64_t)tg__const_val(out->locals[i]->src[0]);
  }
  out->global_size = ng ? (int64_t)tg__const_val(globals[0]->src[0]) : 1;
  out->global_total = 1;
  for (int i = 0; i < ng; i++) {
    out->globals[i] = globals[i];
    out->global_total *= (int64_t)tg__const_val(globals[i]->src[0]);
  }
  out->nglobals = ng;
  for (int i = 0; i < sink->nsrc; i++) tg__emit(&L, sink->src[i]);
  for (int i = out->nlocals - 1; i >= 0; i--) tg__close(&L, out->locals[i]);
  for (int i = ng - 1; i >= 0; i--) tg__close(&L, globals[i]);
  out->n = L.list.n;
  out->u = (tg__uop **)L.list.items;
  out->aux = (intptr_t *)tg__alloc(sizeof(intptr_t) * (size_t)(L.aux.n + 1));
  for (int i = 0; i < L.aux.n; i++) out->aux[i] = (intptr_t)L.aux.items[i];
  out->parallel = ng ? globals[0] : NULL;
  out->flops = L.flops;
  out->lds = L.lds;
  for (int i = 0; i < out->n; i++)
    if (out->u[i]->op == TG__OP_DEFINE_LOCAL) out->shared_bytes += 16 * tg__shared_vectors(out->u[i]);
  tg__vec_free(&L.aux);
  tg__vec_free(&L.reduces);
  tg__map_free(&L.deps);
  tg__map_free(&L.emitted);
  return 0;
}
