/* search.c: BEAM search over Opt lists, timed on the device, with a disk cache of the winners (layer 4; tinygrad's
 * codegen/opt/search.py).
 *
 * Contract:
 *  - tg__beam_opts(k, dev, t, out) chooses kernel k's Opt list by measurement when BEAM=n (n >= 1, the beam's width;
 *    tg__set_beam overrides it for the tests). It returns the list's length, or -1 when the kernel is to use the
 *    heuristic (BEAM off, a kernel too small to be worth a search, or a search that could not run: no scratch
 *    memory). It never fails a kernel and never sets an error: every failure inside is a candidate less.
 *  - The search (tinygrad's beam_search): round 0 times the heuristic's list and the empty one; each later round
 *    extends every list of the beam by one action (UPCAST, UNROLL, PADTO, SWAP, GROUP, THREAD: amounts below),
 *    renders each extension (one that an Opt refuses, that makes more than 512 copies of the body, whose source passes
 *    128 KiB, or whose source another candidate already has, is dropped), compiles them a few at a time (twice the
 *    cores) through the device's compile_batch (the CPU runs its compilers in parallel, one per core; other devices
 *    compile one by one) and times each on scratch buffers of the kernel's sizes (zeroed: garbage holds denormals,
 *    which Intel cores compute slowly). The `n` fastest new lists form the next beam; the search ends when a round
 *    gains less than 1% (or 1 µs), when no extension is left, when BEAM_TIMEOUT seconds (default 60) have passed, or
 *    after 20000 times the heuristic's time (2 s at least: a search is worth what the kernel could save). The result
 *    is the fastest list seen, so it is never slower than the heuristic's as measured. A kernel whose heuristic runs
 *    in under 20 µs is not searched further (launching costs more than an Opt can save).
 *  - Timing: a launch, then the synchronisation; a candidate slower than 3x the best so far is timed once, the others
 *    three times (the minimum counts). The winner, when it is not the heuristic's list, is timed again by turns with
 *    it (5 each, 2 for a kernel over 50 ms) and kept only if it is 2% faster there: a busy machine's noise does not
 *    replace the heuristic by a list that only looked faster once.
 *  - The winner is cached in memory and on disk (tg__cache_dir, a file `beam-<key>` written whole or not at all),
 *    keyed by a 128-bit hash of the cache format's version, the device's name, the target it describes (vector width,
 *    registers, cores), the beam's width, the kernel's source without optimisations (which names no buffer, so
 *    the same kernel of another run has the same key) and the heuristic's list (the search's start). A second run,
 *    in the same process or after a restart, searches nothing. A damaged file, or a list a newer code generator
 *    refuses, is searched again and replaced.
 *  - DEBUG>=2 prints one line per kernel: searched (candidates, seconds, the heuristic's time and the winner's) or
 *    found in the cache, with the list chosen.
 *  - tg__beam_stats counts searches and cache hits, for the tests. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// settings and counters

static struct { int width; double min_s, timeout_s; } tg__beam_override = {-1, 0, 0};

TG__PRIVATE void tg__set_beam(int width, double min_s, double timeout_s) {
  tg__beam_override.width = width;
  tg__beam_override.min_s = min_s;
  tg__beam_override.timeout_s = timeout_s;
}

TG__PRIVATE int tg__beam_width(void) {
  return tg__beam_override.width >= 0 ? tg__beam_override.width : tg__getenv_int("BEAM", 0);
}

/* a kernel whose heuristic runs faster than this is not searched: launching costs more than any Opt saves */
static double tg__beam_min_time(void) { return tg__beam_override.width >= 0 ? tg__beam_override.min_s : 20e-6; }

static double tg__beam_timeout(void) {
  if (tg__beam_override.width >= 0) return tg__beam_override.timeout_s;
  int s = tg__getenv_int("BEAM_TIMEOUT", 60);
  return s > 0 ? s : 60;
}

static tg__beam_stat tg__beam_counts;

TG__PRIVATE tg__beam_stat *tg__beam_stats(void) { return &tg__beam_counts; }

static double tg__beam_now(void) { return 1e-9 * (double)tg__now_ns(); }

// ---------------------------------------------------------------------------------------------------------------------
// the cache of winners: in memory, and on disk

/* 2: STAGE; 3: WGMMA; 4: winners confirmed; 5: zeroed scratch (lists searched on garbage are searched again) */
static const char tg__beam_version[] = "tinygrad.h BEAM 5";

typedef struct tg__beam_entry {
  uint64_t k0, k1;
  int n;
  tg__opt opts[TG__MAX_OPTS];
} tg__beam_entry;

static tg__beam_entry *tg__beam_mem;
static int tg__beam_nmem, tg__beam_cap;

TG__PRIVATE void tg__beam_forget(void) { /* the tests' restart: only the disk remembers */
  tg__forget_sources(); /* whose sources hold the choices */
  TG_FREE(tg__beam_mem);
  tg__beam_mem = NULL;
  tg__beam_nmem = tg__beam_cap = 0;
}

static void tg__beam_remember(uint64_t k0, uint64_t k1, const tg__opt *opts, int n) {
  if (tg__beam_nmem == tg__beam_cap) {
    tg__beam_cap = tg__beam_cap ? 2 * tg__beam_cap : 32;
    tg__beam_mem = (tg__beam_entry *)tg__realloc(tg__beam_mem, sizeof(tg__beam_entry) * (size_t)tg__beam_cap);
  }
  tg__beam_entry *e = &tg__beam_mem[tg__beam_nmem++];
  e->k0 = k0, e->k1 = k1, e->n = n;
  memcpy(e->opts, opts, sizeof(tg__opt) * (size_t)n);
}

static int tg__beam_recall(uint64_t k0, uint64_t k1, tg__opt *opts) {
  for (int i = 0; i < tg__beam_nmem; i++)
    if (tg__beam_mem[i].k0 == k0 && tg__beam_mem[i].k1 == k1) {
      memcpy(opts, tg__beam_mem[i].opts, sizeof(tg__opt) * (size_t)tg__beam_mem[i].n);
      return tg__beam_mem[i].n;
    }
  return -1;
}

/* the path of the key's file in the cache directory, or 0 when there is no usable directory */
static int tg__beam_path(uint64_t k0, uint64_t k1, char *path, size_t n) {
  char dir[4096], why[512];
  if (tg__cache_dir(dir, sizeof dir, why, sizeof why) != 0) return 0;
  int w = snprintf(path, n, "%s/beam-%016llx%016llx", dir, (unsigned long long)k0, (unsigned long long)k1);
  return w > 0 && (size_t)w < n;
}

/* The file: the version line, then one Opt per line as "NAME axis amount". The list read, or -1 when the file is
 * missing or damaged (a damaged file is searched again and replaced). */
static int tg__beam_load(const char *path, tg__opt *opts) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[128];
  int n = 0, ok = fgets(line, sizeof line, f) && !strncmp(line, tg__beam_version, strlen(tg__beam_version)) &&
                  line[strlen(tg__beam_version)] == '\n';
  while (ok && fgets(line, sizeof line, f)) {
    char name[16];
    int axis;
    long long amount;
    int op = -1;
    if (n == TG__MAX_OPTS || sscanf(line, "%15s %d %lld", name, &axis, &amount) != 3) {
      ok = 0;
      break;
    }
    for (int i = 0; i < TG__NOPTOPS; i++)
      if (!strcmp(name, tg__optop_names[i])) op = i;
    if (op < 0 || axis < 0 || axis > 64 || amount < 0 || amount > (1LL << 40)) ok = 0;
    else opts[n].op = (tg__optop)op, opts[n].axis = axis, opts[n++].amount = amount;
  }
  ok = ok && !ferror(f);
  fclose(f);
  return ok ? n : -1;
}

/* writes the list whole or not at all; a failure (a full disk) only means the next run searches again */
static void tg__beam_save(const char *path, const tg__opt *opts, int n) {
  tg__str s;
  memset(&s, 0, sizeof s);
  tg__str_printf(&s, "%s\n", tg__beam_version);
  for (int i = 0; i < n; i++)
    tg__str_printf(&s, "%s %d %lld\n", tg__optop_names[opts[i].op], opts[i].axis, (long long)opts[i].amount);
  char *text = tg__str_take(&s);
  tg__afile f;
  if (tg__afile_open(&f, "BEAM cache", path) == 0 && tg__afile_write(&f, text, strlen(text)) == 0)
    tg__afile_commit(&f);
  TG_FREE(text);
}

// ---------------------------------------------------------------------------------------------------------------------
// candidates

typedef struct tg__cand {
  tg__opt opts[TG__MAX_OPTS];
  int n;
  char *name, *src;
  int64_t global_size, global_total, local_size, shared_bytes;
  double flops, bytes, time; /* seconds; INFINITY: did not compile or run */
  tg__program *prog;
} tg__cand;

static void tg__cand_free(tg__cand *c) {
  TG_FREE(c->name);
  TG_FREE(c->src);
  c->name = c->src = NULL;
}

/* renders k with c's list: 0, or -1 when an Opt refuses (the error is the caller's to drop) */
static int tg__cand_render(tg__kernel *k, const tg__target *t, const tg__kparam *params, tg__cand *c) {
  tg__linear lin;
  if (tg__codegen(k, t, c->opts, c->n, &lin) < 0) {
    tg__linear_free(&lin);
    return -1;
  }
  c->src = tg__render(k->bufs[0]->dev->dialect, lin.name, params, k->nbufs, &lin);
  c->name = lin.name;
  lin.name = NULL;
  c->global_size = lin.global_size;
  c->global_total = lin.global_total;
  c->local_size = lin.local_size;
  c->shared_bytes = lin.shared_bytes;
  c->flops = lin.flops;
  c->bytes = lin.bytes;
  c->time = INFINITY;
  tg__linear_free(&lin);
  return c->src ? 0 : -1;
}

/* The actions one round adds to a list (tinygrad's actions): upcasts and unrolls by small amounts, pads of an output
 * axis to a multiple of 8, 16 or 32, swaps of the outermost output loop; on a CPU, groups of a reduction loop
 * (partial accumulators side by side) and (with more than one core) thread splits, two of which make a grid; on a
 * GPU with workgroups, LOCALs of an output loop and GROUPs and GROUPTOPs of a reduction loop (threads of a
 * workgroup sharing it through shared memory) and STAGE on a reduction loop with each of its configurations; on a
 * GPU with tensor cores, TC on a reduction loop, plain or with each of its configurations with shared memory.
 * Amounts that can divide the axis neither as it was lowered nor padded are left out here; the rest are judged by
 * tg__apply_opts. */
static int tg__beam_actions(const int64_t *gsize, int ng, const int64_t *rsize, int nr, const tg__target *t,
                            tg__opt *out) {
  static const int64_t up[] = {2, 3, 4, 5, 7, 8, 16, 32}, unroll[] = {0, 2, 3, 4, 8},
                       thread[] = {2, 3, 4, 8, 12, 16, 32, 64}, group[] = {2, 4, 8, 16};
  static const int64_t pad[] = {8, 16, 32}, local[] = {2, 4, 8, 16, 32}, wgroup[] = {4, 8, 16, 32, 64, 128, 256};
  int n = 0;
  for (int r = 0; r < nr && t->tensor_cores; r++) /* TC, its configurations with shared memory and its warpgroups' */
    for (int c = 0; c <= TG__NTC_CONFIGS + (t->wgmma ? TG__NWGMMA_CONFIGS : 0); c++)
      out[n].op = TG__OPT_TC, out[n].axis = r, out[n++].amount = c;
  for (int r = 0; r < nr && t->gpu && t->local_max && t->shared_bytes; r++) /* STAGE (it comes first too) */
    for (int c = 1; c <= TG__NSTAGE_CONFIGS; c++) out[n].op = TG__OPT_STAGE, out[n].axis = r, out[n++].amount = c;
  for (int g = 0; g < ng && t->local_max; g++)
    for (int i = 0; i < TG__COUNT(local); i++)
      if (gsize[g] % local[i] == 0 && local[i] <= t->local_max)
        out[n].op = TG__OPT_LOCAL, out[n].axis = g, out[n++].amount = local[i];
  for (int r = 0; r < nr && t->local_max; r++)
    for (int i = 0; i < TG__COUNT(wgroup); i++)
      for (int top = 0; top < 2 && rsize[r] % wgroup[i] == 0 && wgroup[i] <= t->local_max; top++)
        out[n].op = top ? TG__OPT_GROUPTOP : TG__OPT_GROUP, out[n].axis = r, out[n++].amount = wgroup[i];
  for (int g = 0; g < ng; g++) {
    for (int i = 0; i < TG__COUNT(up); i++) /* dividing the axis, or a PADTO's rounded-up length */
      if (gsize[g] % up[i] == 0 || (gsize[g] > up[i] && up[i] - gsize[g] % up[i] <= gsize[g] / 4 + 1))
        out[n].op = TG__OPT_UPCAST, out[n].axis = g, out[n++].amount = up[i];
    for (int i = 0; i < TG__COUNT(pad); i++)
      if (gsize[g] % pad[i] && gsize[g] > pad[i] && pad[i] - gsize[g] % pad[i] <= gsize[g] / 4 + 1)
        out[n].op = TG__OPT_PADTO, out[n].axis = g, out[n++].amount = pad[i];
  }
  for (int r = 0; r < nr; r++)
    for (int i = 0; i < TG__COUNT(unroll); i++)
      if (unroll[i] ? rsize[r] % unroll[i] == 0 : rsize[r] <= 32)
        out[n].op = TG__OPT_UNROLL, out[n].axis = r, out[n++].amount = unroll[i];
  for (int r = 0; r < nr && !t->gpu; r++)
    for (int i = 0; i < TG__COUNT(group); i++)
      if (rsize[r] % group[i] == 0 && rsize[r] > group[i])
        out[n].op = TG__OPT_GROUP, out[n].axis = r, out[n++].amount = group[i];
  for (int g = 1; g < ng; g++) out[n].op = TG__OPT_SWAP, out[n].axis = 0, out[n++].amount = g;
  if (!t->gpu && t->cores > 1)
    for (int g = 0; g < ng; g++)
      for (int i = 0; i < TG__COUNT(thread); i++)
        if (gsize[g] % thread[i] == 0 && thread[i] <= 4 * t->cores)
          out[n].op = TG__OPT_THREAD, out[n].axis = g, out[n++].amount = thread[i];
  return n;
}

/* a candidate's source longer than this is not tried: its compile alone would take seconds */
enum { tg__beam_max_source = 1 << 17 };

/* copies of the kernel body a list makes (UPCAST, UNROLL and GROUP amounts; 0 counts as the axis) */
static int64_t tg__beam_copies(const tg__opt *o, int n, const int64_t *gsize, int ng, const int64_t *rsize, int nr) {
  int64_t c = 1;
  for (int i = 0; i < n; i++) {
    int64_t a = o[i].amount;
    if (o[i].op == TG__OPT_UNROLL && !a) a = o[i].axis < nr ? rsize[o[i].axis] : 1;
    if (o[i].op == TG__OPT_UPCAST && !a) a = o[i].axis < ng ? gsize[o[i].axis] : 1;
    if (o[i].op == TG__OPT_GROUP && !a) a = o[i].axis < nr ? rsize[o[i].axis] : 1;
    if (o[i].op == TG__OPT_UPCAST || o[i].op == TG__OPT_UNROLL || o[i].op == TG__OPT_GROUP) c *= a > 0 ? a : 1;
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------------------
// compiling and timing

typedef struct tg__beam_ctx {
  tg__device *dev;
  void **ptrs; /* scratch memory, one per kernel buffer */
  int nbufs;
  double best, started, deadline;
} tg__beam_ctx;

/* Device memory for the candidates' buffers, n of sizes[i] bytes (0 counts as 1), every byte zero: or NULL (nothing
 * kept). Zero, not whatever the allocator returns: garbage read as floats holds denormals (small integers' bits), and
 * on Intel cores each FMA on one takes a microcode assist. On the 16-core Xeon host the heuristic's 1024 matmul
 * (1.4-2.5 ms) timed 5-14 ms on uninitialised scratch, the search's other lists 3-10 ms, and a slower list won. */
TG__PRIVATE void **tg__beam_scratch(tg__device *dev, const size_t *sizes, int n) {
  size_t most = 1;
  for (int i = 0; i < n; i++) most = sizes[i] > most ? sizes[i] : most;
  void **ptrs = (void **)tg__alloc(sizeof(void *) * (size_t)(n > 0 ? n : 1));
  void *zeros = tg__try_alloc("BEAM", most);
  int ok = zeros != NULL;
  if (ok) memset(zeros, 0, most);
  for (int i = 0; i < n && ok; i++) {
    size_t nb = sizes[i] ? sizes[i] : 1;
    ok = (ptrs[i] = tg__dev_alloc(dev, nb)) != NULL && tg__dev_copy_in(dev, ptrs[i], zeros, nb) == 0;
  }
  TG_FREE(zeros);
  if (ok) return ptrs;
  tg__beam_scratch_free(dev, ptrs, sizes, n);
  return NULL;
}

TG__PRIVATE void tg__beam_scratch_free(tg__device *dev, void **ptrs, const size_t *sizes, int n) {
  for (int i = 0; ptrs && i < n; i++)
    if (ptrs[i]) tg__dev_free(dev, ptrs[i], sizes[i] ? sizes[i] : 1);
  TG_FREE(ptrs);
}

static void tg__beam_compile(tg__beam_ctx *bc, tg__cand *c, int n) {
  if (!n) return;
  const char **names = (const char **)tg__alloc(sizeof(char *) * (size_t)n);
  const char **srcs = (const char **)tg__alloc(sizeof(char *) * (size_t)n);
  tg__program **progs = (tg__program **)tg__alloc(sizeof(tg__program *) * (size_t)n);
  for (int i = 0; i < n; i++) names[i] = c[i].name, srcs[i] = c[i].src;
  tg__dev_compile_batch(bc->dev, n, names, srcs, progs);
  for (int i = 0; i < n; i++) c[i].prog = progs[i];
  TG_FREE(names);
  TG_FREE(srcs);
  TG_FREE(progs);
}

/* one launch of c, synchronised: seconds, or INFINITY when it fails */
static double tg__beam_run(tg__beam_ctx *bc, tg__cand *c) {
  tg__program *p = c->prog;
  /* as tg__kernel_prepare sets them: a program is shared by every kernel with its source */
  p->global_size = bc->dev->dialect->global_id ? c->global_total : c->global_size;
  p->local_size = c->local_size;
  p->shared_bytes = c->shared_bytes;
  p->flops = c->flops;
  p->bytes = c->bytes;
  double t0 = tg__beam_now();
  if (tg__dev_launch(p, bc->ptrs, bc->nbufs) != 0 || tg__dev_synchronize(bc->dev) != 0) return INFINITY;
  return tg__beam_now() - t0;
}

static void tg__beam_time(tg__beam_ctx *bc, tg__cand *c) {
  if (!c->prog) return;
  double t = tg__beam_run(bc, c);
  for (int r = 0; r < 2 && t < 3 * bc->best && tg__beam_now() < bc->deadline; r++) {
    double u = tg__beam_run(bc, c);
    if (u < t) t = u;
  }
  c->time = t;
  if (t < bc->best) bc->best = t;
}

static int tg__cand_cmp(const void *a, const void *b) {
  double x = ((const tg__cand *)a)->time, y = ((const tg__cand *)b)->time;
  return x < y ? -1 : x > y;
}

/* The seconds a kernel's search may take, t_heur the heuristic's time: what 20000 runs of it take, 2 s at least (no
 * limit when it did not run). A search is worth what the kernel could save: B's panel copy of a 1024 matmul (250 us
 * on 2 cores) took 17 s of candidates to save 20 us a call, more than the matmul's own search. */
TG__PRIVATE double tg__beam_budget(double t_heur) {
  double budget = isfinite(t_heur) && t_heur >= 0 ? 2e4 * t_heur : INFINITY;
  return budget < 2 ? 2 : budget;
}

/* the output and reduction axes of k as lowered (sizes of its loops by role), through the empty list's linearised
 * form; 0, or -1 when k does not lower */
static int tg__beam_axes(tg__kernel *k, const tg__target *t, int64_t *gsize, int *ng, int64_t *rsize, int *nr) {
  tg__linear lin;
  *ng = *nr = 0;
  if (tg__codegen(k, t, NULL, 0, &lin) < 0) {
    tg__linear_free(&lin);
    return -1;
  }
  for (int i = 0; i < lin.n; i++) {
    tg__uop *u = lin.u[i];
    if (u->op != TG__OP_RANGE) continue;
    int global = 0;
    for (int g = 0; g < lin.nglobals; g++) global |= lin.globals[g] == u;
    int64_t size = (int64_t)tg__const_val(u->src[0]);
    if (global && *ng < TG_MAX_DIMS) gsize[(*ng)++] = size;
    else if (!global && *nr < 2 * TG_MAX_DIMS) rsize[(*nr)++] = size;
  }
  tg__linear_free(&lin);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the search

/* the most actions a round can have: 16 output axes x 11 + 32 reduction axes x 5 + 15 swaps, and 32 x 4 groups +
 * 16 x 8 threads (a CPU's) or 16 x 5 locals + 32 x (14 groups + the TCs + the STAGEs) (a GPU's) */
#define TG__BEAM_MAX_ACTIONS                                                                                           \
  (176 + 160 + 15 + 80 + 32 * (14 + TG__NTC_CONFIGS + TG__NWGMMA_CONFIGS + 1 + TG__NSTAGE_CONFIGS))

/* the search proper; the winner's list into out and its length, or -1 when nothing ran */
static int tg__beam_search(tg__kernel *k, tg__beam_ctx *bc, const tg__target *t, const tg__kparam *params,
                           int width, tg__opt *out, int *ncands, double *t_heur, double *t_best) {
  int64_t gsize[TG_MAX_DIMS], rsize[2 * TG_MAX_DIMS];
  int ng, nr;
  if (tg__beam_axes(k, t, gsize, &ng, rsize, &nr) < 0) return -1;
  tg__opt *actions = (tg__opt *)tg__alloc(sizeof(tg__opt) * TG__BEAM_MAX_ACTIONS);
  int nact = tg__beam_actions(gsize, ng, rsize, nr, t, actions);
  tg__map seen; /* sources tried, by hash (a collision only skips a candidate) */
  memset(&seen, 0, sizeof seen);
  tg__cand best;
  memset(&best, 0, sizeof best);
  best.time = INFINITY;
  int nbest = -1;
  /* round 0: the heuristic's list and the empty one */
  tg__cand *beam = (tg__cand *)tg__alloc(sizeof(tg__cand) * 2), *cands = NULL;
  int nbeam = 0;
  tg__linear hl; /* the heuristic's list, as the kernel would get it without BEAM */
  if (tg__codegen(k, t, NULL, -1, &hl) == 0) {
    beam[0].n = hl.nopts;
    memcpy(beam[0].opts, hl.opts, sizeof(tg__opt) * (size_t)hl.nopts);
  }
  tg__linear_free(&hl);
  nbeam = beam[0].n > 0 ? 2 : 1; /* beam[1]: the empty list */
  for (int i = 0; i < nbeam; i++)
    if (tg__cand_render(k, t, params, &beam[i]) == 0) {
      tg__map_put(&seen, (void *)(uintptr_t)(tg__hash_bytes(beam[i].src, strlen(beam[i].src), 0) | 1), (void *)1);
    }
  tg__beam_compile(bc, beam, nbeam);
  for (int i = 0; i < nbeam; i++) tg__beam_time(bc, &beam[i]);
  *t_heur = beam[0].time;
  tg__cand heur = beam[0]; /* its list, program and sizes (its strings go with the beam) */
  *ncands = nbeam;
  qsort(beam, (size_t)nbeam, sizeof(tg__cand), tg__cand_cmp);
  best = beam[0];
  nbest = isfinite(best.time) ? best.n : -1;
  int small = isfinite(*t_heur) && *t_heur < tg__beam_min_time();
  double budget = tg__beam_budget(*t_heur);
  if (bc->started + budget < bc->deadline) bc->deadline = bc->started + budget;
  while (!small && nbeam && isfinite(beam[0].time) && tg__beam_now() < bc->deadline) {
    int cap = nbeam * nact, ncand = 0;
    cands = (tg__cand *)tg__alloc(sizeof(tg__cand) * (size_t)(cap ? cap : 1));
    for (int b = 0; b < nbeam; b++) {
      if (!isfinite(beam[b].time) || beam[b].n == TG__MAX_OPTS) continue;
      for (int a = 0; a < nact; a++) {
        tg__cand *c = &cands[ncand];
        memset(c, 0, sizeof *c);
        memcpy(c->opts, beam[b].opts, sizeof(tg__opt) * (size_t)beam[b].n);
        c->opts[beam[b].n] = actions[a];
        c->n = beam[b].n + 1;
        int threads = 0;
        for (int i = 0; i < c->n; i++) threads += c->opts[i].op == TG__OPT_THREAD;
        if (threads > 2 || tg__beam_copies(c->opts, c->n, gsize, ng, rsize, nr) > 512) continue;
        if (tg__cand_render(k, t, params, c) < 0 || strlen(c->src) > tg__beam_max_source) {
          tg__cand_free(c);
          continue;
        }
        void *h = (void *)(uintptr_t)(tg__hash_bytes(c->src, strlen(c->src), 0) | 1);
        if (tg__map_get(&seen, h)) {
          tg__cand_free(c);
          continue;
        }
        tg__map_put(&seen, h, (void *)1);
        ncand++;
      }
    }
    /* compiled and timed a few at a time, so that the time limit holds (a large candidate compiles for seconds) */
    int chunk = 2 * (t->cores > 1 ? t->cores : 1), done = 0;
    for (; done < ncand && tg__beam_now() < bc->deadline; done += chunk) {
      int m = ncand - done < chunk ? ncand - done : chunk;
      tg__beam_compile(bc, cands + done, m);
      for (int i = done; i < done + m && tg__beam_now() < bc->deadline; i++) tg__beam_time(bc, &cands[i]);
    }
    *ncands += ncand;
    qsort(cands, (size_t)ncand, sizeof(tg__cand), tg__cand_cmp);
    if (TG__DEBUG >= 3 && ncand) {
      char *s = tg__opts_str(cands[0].opts, cands[0].n);
      printf("BEAM   round of %d candidates: best %.1f us [%s]\n", ncand, cands[0].time * 1e6, s);
      TG_FREE(s);
    }
    int gained = ncand && cands[0].time < beam[0].time * 0.99 && beam[0].time - cands[0].time > 1e-6;
    if (ncand && cands[0].time < best.time) {
      best = cands[0]; /* its strings are freed with the round; only the list and time are used */
      nbest = best.n;
    }
    for (int i = 0; i < nbeam; i++) tg__cand_free(&beam[i]);
    TG_FREE(beam);
    int keep = gained ? (ncand < width ? ncand : width) : 0;
    for (int i = keep; i < ncand; i++) tg__cand_free(&cands[i]);
    beam = cands, nbeam = keep, cands = NULL;
  }
  if (nbest >= 0 && heur.prog && isfinite(heur.time) && best.prog != heur.prog && isfinite(best.time)) {
    /* The winner against the heuristic's list once more, timed by turns, the minimum of each: it must be 2% faster,
     * or the heuristic's list is kept. Candidates are timed at different moments, and on a busy machine a lucky
     * moment can crown a slower list (a matmul's SWAP, cached at a search, ran at 0.85x the heuristic's after) */
    double th = INFINITY, tb = INFINITY;
    for (int r = 0; r < (heur.time > 0.05 ? 2 : 5); r++) {
      double a = tg__beam_run(bc, &heur), b = tg__beam_run(bc, &best);
      th = a < th ? a : th, tb = b < tb ? b : tb;
    }
    *t_heur = th;
    if (tb < 0.98 * th) best.time = tb;
    else best = heur, best.time = th, nbest = heur.n;
  }
  if (nbest >= 0) memcpy(out, best.opts, sizeof(tg__opt) * (size_t)nbest);
  for (int i = 0; i < nbeam; i++) tg__cand_free(&beam[i]);
  TG_FREE(beam);
  TG_FREE(actions);
  tg__map_free(&seen);
  *t_best = best.time;
  return nbest;
}

TG__PRIVATE int tg__beam_opts(tg__kernel *k, tg__device *dev, const tg__target *t, tg__opt *out) {
  int width = tg__beam_width();
  if (width <= 0 || !k->bufs || k->nbufs < 1 || k->vars) return -1; /* symbolic sizes: not searched yet */
  tg__errsave saved;
  tg__error_push(&saved); /* candidates fail quietly; the caller's error state is kept */
  tg__kparam *params = tg__kernel_params(k);
  int n = -1;
  /* the key: the kernel as source without optimisations, where buffers are parameters (never buffer ids) */
  tg__cand plain;
  memset(&plain, 0, sizeof plain);
  if (tg__cand_render(k, t, params, &plain) < 0) {
    tg__cand_free(&plain);
    TG_FREE(params);
    tg__error_pop(&saved);
    return -1;
  }
  /* ...and the heuristic's list, where the search starts: a better heuristic is searched from again (a cached 4x16
   * tile was kept, slower than the 6x16 the heuristic came to give) */
  tg__linear hl;
  char *heur = NULL;
  if (tg__codegen(k, t, NULL, -1, &hl) == 0) heur = tg__opts_str(hl.opts, hl.nopts);
  tg__linear_free(&hl);
  char desc[768];
  snprintf(desc, sizeof desc,
           "%s\n%s\ngpu=%d vec=%d regs=%d cores=%d l2=%lld l3=%lld width=%d local=%d shared=%lld units=%d tc=%d\n"
           "%.400s\n",
           tg__beam_version, dev->name, t->gpu, t->vec_floats, t->vec_regs, t->cores, (long long)t->l2_bytes,
           (long long)t->l3_bytes, width,
           t->local_max, (long long)t->shared_bytes, t->units, t->tensor_cores, heur ? heur : "");
  TG_FREE(heur);
  uint64_t k0 = tg__hash_bytes(plain.src, strlen(plain.src), tg__hash_bytes(desc, strlen(desc), 1));
  uint64_t k1 = tg__hash_bytes(plain.src, strlen(plain.src), tg__hash_bytes(desc, strlen(desc), 0x9e3779b97f4aULL));
  char path[4200], *plain_name = plain.name; /* for DEBUG: the kernel's loops before any Opt */
  plain.name = NULL;
  tg__cand_free(&plain);
  int have_path = tg__beam_path(k0, k1, path, sizeof path), from = 0;
  n = tg__beam_recall(k0, k1, out);
  if (n < 0 && have_path && (n = tg__beam_load(path, out)) >= 0) from = 1;
  if (n >= 0) { /* a list from the cache must still apply (the code generator may have changed since) */
    tg__linear lin;
    if (tg__codegen(k, t, out, n, &lin) < 0) n = -1;
    tg__linear_free(&lin);
    if (n >= 0) {
      if (from) tg__beam_remember(k0, k1, out, n);
      tg__beam_counts.hits++;
      if (TG__DEBUG >= 2) {
        char *s = tg__opts_str(out, n);
        printf("BEAM %-28s from the %s cache: [%s]\n", plain_name, from ? "disk" : "memory", s);
        TG_FREE(s);
      }
    }
  }
  if (n < 0) { /* search */
    tg__beam_ctx bc;
    memset(&bc, 0, sizeof bc);
    bc.dev = dev;
    bc.nbufs = k->nbufs;
    bc.best = INFINITY;
    double t0 = tg__beam_now();
    bc.started = t0;
    bc.deadline = t0 + tg__beam_timeout();
    size_t *sizes = (size_t *)tg__alloc(sizeof(size_t) * (size_t)k->nbufs);
    for (int i = 0; i < k->nbufs; i++) sizes[i] = k->bufs[i]->nbytes;
    bc.ptrs = tg__beam_scratch(dev, sizes, k->nbufs);
    int ncands = 0;
    double t_heur = INFINITY, t_best = INFINITY;
    if (bc.ptrs) n = tg__beam_search(k, &bc, t, params, width, out, &ncands, &t_heur, &t_best);
    tg__dev_synchronize(dev);
    tg__beam_scratch_free(dev, bc.ptrs, sizes, k->nbufs);
    TG_FREE(sizes);
    if (n >= 0) {
      tg__beam_counts.searches++;
      tg__beam_counts.candidates += ncands;
      tg__beam_remember(k0, k1, out, n);
      if (have_path) tg__beam_save(path, out, n);
      if (TG__DEBUG >= 2) {
        char *s = tg__opts_str(out, n);
        printf("BEAM %-28s searched %d candidates in %.2f s: %.1f us (heuristic %.1f us): [%s]\n",
               plain_name, ncands, tg__beam_now() - t0, t_best * 1e6, t_heur * 1e6, s);
        TG_FREE(s);
      }
    }
  }
  TG_FREE(plain_name);
  TG_FREE(params);
  tg__error_pop(&saved);
  return n;
}
