/* realize.c: run schedules: compile each kernel, plan the memory, launch (layer 4; tinygrad's engine/realize.py).
 *
 * Contract:
 *  - tg__schedule(roots) is the schedule of roots as the runtime sees it now: it asks schedule.c (tg__kernelize)
 *    with the capture state of the hook below and the default device (DEV, else the CPU; asked only for a graph that
 *    reads no buffer).
 *  - tg__kernel_source is the one compile path to source: codegen (with BEAM's list when BEAM=n, search.c), then the
 *    device's dialect renders it; a kernel seen before over other buffers takes its source from the source cache.
 *    Running (tg__kernel_prepare) and inspection (tg_schedule_*) both use it, so what is inspected is what runs.
 *  - tg__run_schedule compiles every kernel, plans the memory of every launch (tg__plan_memory: intermediates are
 *    recycled once their last reader has run), then launches. DEBUG=1 prints the kernel count and time, DEBUG=2 a line
 *    per kernel, DEBUG=4 the linearised UOps. tg__sched_settle and tg__sched_ran tell what ran.
 *  - The capture hook: whoever registers one (the JIT, as tinygrad's `capturing` list) is told every launch and every
 *    intermediate recycled after it. This file calls no higher layer: the JIT registers itself.
 *  - tg_schedule_create / count / name / ast / source / free: the kernels of a schedule, for inspection; they never
 *    run. */
#include "internal.h"

#include <unistd.h> // isatty: DEBUG=2 colours a terminal only

// ---------------------------------------------------------------------------------------------------------------------
// the capture hook

static const tg__capture_hook *tg__capture;

TG__PRIVATE void tg__set_capture_hook(const tg__capture_hook *h) { tg__capture = h; }

// ---------------------------------------------------------------------------------------------------------------------
// scheduling for the runtime, and what ran

static tg__device *tg__realize_default_device(void) { return tg__device_get(NULL); }

TG__PRIVATE int tg__schedule(tg__uop **roots, int nroots, tg__device *dev, tg__sched *out,
                             tg__uop **realized_out) {
  tg__sched_opts o;
  memset(&o, 0, sizeof o);
  o.device = dev;
  o.capturing = tg__capture != NULL;
  o.default_device = tg__realize_default_device;
  int viz = tg__viz_begin(); /* VIZ: the tensor graph's rewrites into kernels */
  int rc = tg__kernelize(roots, nroots, &o, out, realized_out);
  if (viz >= 0) {
    char name[96];
    snprintf(name, sizeof name, "schedule: %d kernel%s", rc == 0 ? out->n : 0, rc == 0 && out->n == 1 ? "" : "s");
    tg__viz_end(viz, "schedule", name, dev ? dev->name : "", "", "");
  }
  return rc;
}

/* whether u's value depends on a variable (memo: u -> 1 yes, 2 no) */
static int tg__reads_var(tg__uop *u, tg__map *memo) {
  intptr_t m = (intptr_t)tg__map_get(memo, u);
  if (m) return m == 1;
  int r = u->op == TG__OP_DEFINE_VAR;
  for (int i = 0; i < u->nsrc && !r; i++) r = tg__reads_var(u->src[i], memo);
  tg__map_put(memo, u, (void *)(intptr_t)(r ? 1 : 2));
  return r;
}

/* A CONTIGUOUS realised by a run keeps its buffer (`becomes`, as a root does), so a graph built on it later (a
 * backward pass after the forward was realised) reads the values the first run computed instead of recomputing them:
 * a random tensor is drawn once, as tinygrad's contiguous rand. Not while a JIT captures: its replays own the
 * memory. */
TG__PRIVATE void tg__sched_settle(tg__sched *s) {
  /* A node that reads a variable is the schedule's, with its BINDs stripped (schedule.c): the same node stands for
   * every value, so it keeps no buffer (a tg_contiguous of rows 0..n gave the first n's values for every n after) */
  tg__map memo;
  memset(&memo, 0, sizeof memo);
  for (int i = 0; i < s->nran; i++)
    if (s->k[i].node && !s->k[i].node->becomes && !(s->var_vals && tg__reads_var(s->k[i].node, &memo)))
      s->k[i].node->becomes = s->k[i].view;
  tg__map_free(&memo);
  tg__sched_undo(s);
}

TG__PRIVATE int tg__sched_ran(const tg__sched *s, const tg__uop *view) {
  const tg__uop *b = tg__movement_buffer((tg__uop *)view);
  for (int i = s->nran; i < s->n; i++)
    if (tg__store_buffer(s->k[i].ast) == b) return 0;
  return 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// compiling a kernel

/* The source cache: what codegen made of a kernel, by its AST up to the identity of its buffers. A schedule is built
 * anew on every realisation, and codegen (the Opts' rewrites above all: a matmul's 8x32 tile is 256 substitutions)
 * cost a 1024 matmul 6 ms of every 18 on 2 cores; the same AST over other buffers of the same dtypes and sizes
 * gives the same source. The key hashes each node of the AST in order (op, dtype, sources by position, the argument,
 * the shape), a BUFFER as its parameter number, dtype and size (never its address or version), then the device, its
 * dialect and the target. Not used while the tests' Opt override is set; BEAM's choice is part of the source, so a
 * width is part of the key. Entries live until exit. */
typedef struct tg__src_entry {
  uint64_t k0, k1;
  char *name, *src, *opts;
  int64_t global_size, global_total, local_size, shared_bytes;
  double flops, bytes, lds;
  char roles[TG__NAME_ROLES];
} tg__src_entry;
static tg__src_entry *tg__srcs;
static int tg__nsrcs, tg__srcs_cap;
static int64_t tg__src_hits;

TG__PRIVATE int64_t tg__source_cache_hits(void) { return tg__src_hits; }

static void tg__ast_key(const tg__kernel *k, const tg__device *dev, const tg__target *t, uint64_t key[2]) {
  tg__vec all;
  tg__map pos;
  memset(&all, 0, sizeof all);
  memset(&pos, 0, sizeof pos);
  tg__uop_toposort(k->ast, &all);
  uint64_t h = tg__hash_mix(0x7467682d737263ULL, (uint64_t)(uintptr_t)dev);
  h = tg__hash_mix(h, (uint64_t)(uintptr_t)dev->dialect);
  uint64_t g = tg__hash_mix(h, 0x5eed);
  int64_t words[15] = {t->gpu,  t->vec_floats, t->vec_regs,  t->cores, tg__beam_width(), all.n, k->nbufs,
                       t->l2_bytes, tg__getenv_int("NOOPT", 0), tg__getenv_int("NOMERGE", 0), t->local_max,
                       t->shared_bytes, t->units, t->tensor_cores, t->l3_bytes};
  for (int i = 0; i < 15; i++) h = tg__hash_mix(h, (uint64_t)words[i]), g = tg__hash_mix(g, ~(uint64_t)words[i]);
  for (int i = 0; i < all.n; i++) {
    tg__uop *u = (tg__uop *)all.items[i];
    tg__map_put(&pos, u, (void *)(intptr_t)(i + 1));
    uint64_t w[8] = {(uint64_t)u->op, (uint64_t)u->dtype, (uint64_t)u->nsrc, (uint64_t)u->arg.i, (uint64_t)u->arg.i2,
                     0, (uint64_t)u->arg.nints, (uint64_t)(int64_t)u->ndim};
    memcpy(&w[5], &u->arg.f, sizeof(double));
    if (u->op == TG__OP_BUFFER) { /* which parameter, of what dtype and size: not which buffer, nor its version */
      const tg__buffer *b = (const tg__buffer *)u->arg.ptr;
      int p = -1;
      for (int j = 0; j < k->nbufs && p < 0; j++)
        if (k->bufs[j] == b) p = j;
      w[3] = (uint64_t)(int64_t)p;
      w[4] = (uint64_t)b->numel;
    } else if (u->op == TG__OP_COPY) { /* the devices (pointers to their tables, for the process's life) */
      w[4] = (uint64_t)(uintptr_t)u->arg.ptr;
    }
    for (int j = 0; j < 8; j++) h = tg__hash_mix(h, w[j]), g = tg__hash_mix(g, w[j] + 0x9e3779b97f4a7c15ULL);
    for (int j = 0; j < u->nsrc; j++) {
      uint64_t s = (uint64_t)(intptr_t)tg__map_get(&pos, u->src[j]);
      h = tg__hash_mix(h, s), g = tg__hash_mix(g, s ^ 0xa5a5);
    }
    for (int j = 0; j < u->arg.nints; j++) {
      h = tg__hash_mix(h, (uint64_t)u->arg.ints[j]);
      g = tg__hash_mix(g, ~(uint64_t)u->arg.ints[j]);
    }
    for (int j = 0; j < u->ndim; j++) {
      h = tg__hash_mix(h, (uint64_t)u->shape[j]);
      g = tg__hash_mix(g, (uint64_t)u->shape[j] ^ 7);
    }
  }
  tg__map_free(&pos);
  tg__vec_free(&all);
  key[0] = h, key[1] = g;
}

TG__PRIVATE void tg__forget_sources(void) {
  for (int i = 0; i < tg__nsrcs; i++) {
    TG_FREE(tg__srcs[i].name);
    TG_FREE(tg__srcs[i].src);
    TG_FREE(tg__srcs[i].opts);
  }
  TG_FREE(tg__srcs);
  tg__srcs = NULL;
  tg__nsrcs = tg__srcs_cap = 0;
}

static tg__src_entry *tg__src_find(const uint64_t key[2]) {
  for (int i = 0; i < tg__nsrcs; i++)
    if (tg__srcs[i].k0 == key[0] && tg__srcs[i].k1 == key[1]) return &tg__srcs[i];
  return NULL;
}

static void tg__src_add(const uint64_t key[2], const tg__kernel *k, const tg__linear *lin) {
  if (tg__nsrcs == tg__srcs_cap) {
    tg__srcs_cap = tg__srcs_cap ? 2 * tg__srcs_cap : 64;
    tg__srcs = (tg__src_entry *)tg__realloc(tg__srcs, sizeof(tg__src_entry) * (size_t)tg__srcs_cap);
  }
  tg__src_entry *e = &tg__srcs[tg__nsrcs++];
  e->k0 = key[0], e->k1 = key[1];
  e->name = tg__strdup(k->name);
  e->src = tg__strdup(k->src);
  e->opts = tg__strdup(k->opts ? k->opts : "");
  e->global_size = lin->global_size;
  e->global_total = lin->global_total;
  e->local_size = lin->local_size;
  e->shared_bytes = lin->shared_bytes;
  e->flops = lin->flops;
  e->bytes = lin->bytes;
  e->lds = lin->lds;
  memcpy(e->roles, lin->roles, sizeof e->roles);
}

/* k's source (k->src, k->name, k->opts) and what launching it needs (*lin: sizes and estimates; its UOps only when
 * codegen ran, lin->n 0 on a cache hit), without compiling: the one path to a kernel's source, for running and for
 * inspection. 0, or -1 with an error; free lin after (tg__linear_free) */
// ---------------------------------------------------------------------------------------------------------------------
// copies between devices (tg_to's COPY): a "program" of a device of their own, so that schedules, memory plans and
// JIT replays launch them as any kernel. Through the host: out of one device into a staging buffer, into the other.

typedef struct tg__copy_plan { tg__device *from, *to; size_t nbytes; } tg__copy_plan;

static int tg__copy_launch(void *ctx, const tg_launch *l) {
  (void)ctx;
  const tg__copy_plan *c = (const tg__copy_plan *)l->program;
  if (l->nbufs < 2 || !c->nbytes) return 0;
  void *tmp = tg__try_alloc(l->name, c->nbytes);
  int rc = !tmp || tg__dev_copy_out(c->from, tmp, l->bufs[1], c->nbytes) < 0 ||
                   tg__dev_copy_in(c->to, l->bufs[0], tmp, c->nbytes) < 0 ? -1 : 0;
  TG_FREE(tmp);
  return rc;
}
static int tg__copy_sync(void *ctx) { (void)ctx; return 0; }

/* the device that runs copies: not registered (no name reaches it), launch and synchronize only */
static tg__device tg__copy_device;
static tg__device *tg__copy_dev(void) {
  if (!tg__copy_device.name[0]) {
    memcpy(tg__copy_device.name, "COPY", 5);
    tg__copy_device.dialect = tg__dialect_find("C");
    tg__copy_device.desc.size = sizeof tg__copy_device.desc;
    tg__copy_device.desc.version = TG_DEVICE_API_VERSION;
    tg__copy_device.desc.launch = tg__copy_launch;
    tg__copy_device.desc.synchronize = tg__copy_sync;
  }
  return &tg__copy_device;
}

/* the copy programs made, one per (from, to, size), for the program's life as compiled kernels are */
static tg__program **tg__copies;
static int tg__ncopies;

static void tg__copies_free(void) {
  for (int i = 0; i < tg__ncopies; i++) {
    TG_FREE(tg__copies[i]->handle);
    TG_FREE(tg__copies[i]->name);
    TG_FREE(tg__copies[i]);
  }
  TG_FREE(tg__copies);
  tg__ncopies = 0;
}

/* whether k is a copy between devices: SINK(STORE(out, COPY(view of a buffer))) */
static int tg__is_copy_kernel(const tg__kernel *k) { return k->ast->src[0]->src[1]->op == TG__OP_COPY; }

static int tg__copy_prepare(tg__kernel *k) {
  TG_FREE(tg__kernel_params(k)); /* collects the buffers: the output, then the source */
  tg__device *from = k->bufs[1]->dev, *to = k->bufs[0]->dev;
  size_t nbytes = k->bufs[0]->nbytes;
  for (int i = 0; i < tg__ncopies && !k->prog; i++) {
    const tg__copy_plan *c = (const tg__copy_plan *)tg__copies[i]->handle;
    if (c->from == from && c->to == to && c->nbytes == nbytes) k->prog = tg__copies[i];
  }
  if (!k->prog) {
    if (!tg__ncopies) atexit(tg__copies_free);
    tg__program *p = (tg__program *)tg__alloc(sizeof *p);
    tg__copy_plan *c = (tg__copy_plan *)tg__alloc(sizeof *c);
    c->from = from, c->to = to, c->nbytes = nbytes;
    char name[96];
    snprintf(name, sizeof name, "copy %zu bytes %s -> %s", nbytes, from->name, to->name);
    p->dev = tg__copy_dev(), p->name = tg__strdup(name), p->handle = c, p->bytes = (double)nbytes;
    tg__copies = (tg__program **)tg__realloc(tg__copies, sizeof(tg__program *) * (size_t)(tg__ncopies + 1));
    tg__copies[tg__ncopies++] = p;
    k->prog = p;
  }
  if (!k->name) k->name = tg__strdup(k->prog->name);
  if (!k->src) k->src = tg__strdup("/* a copy between devices, through the host: no kernel source */");
  return 0;
}

static int tg__kernel_source(tg__kernel *k, tg__linear *lin) {
  memset(lin, 0, sizeof *lin);
  if (tg__is_copy_kernel(k)) return tg__copy_prepare(k);
  tg__kparam *params = tg__kernel_params(k); /* collects the kernel's buffers first */
  tg__device *dev = k->bufs[0]->dev;
  const tg__dialect *d = dev->dialect;
  tg__target t;
  tg__device_target(dev, &t);
  uint64_t key[2];
  int cacheable = !tg__opts_overridden() && TG__DEBUG < 4; /* DEBUG=4 prints the UOps: codegen must run */
  tg__src_entry *e = NULL;
  if (cacheable) {
    tg__ast_key(k, dev, &t, key);
    e = tg__src_find(key);
  }
  if (e) {
    tg__src_hits++;
    TG_FREE(params);
    if (!k->name) k->name = tg__strdup(e->name);
    k->src = tg__strdup(e->src);
    if (!k->opts) k->opts = tg__strdup(e->opts);
    lin->global_size = e->global_size;
    lin->global_total = e->global_total;
    lin->local_size = e->local_size;
    lin->shared_bytes = e->shared_bytes;
    lin->flops = e->flops;
    lin->bytes = e->bytes;
    lin->lds = e->lds;
    memcpy(lin->roles, e->roles, sizeof lin->roles);
    return 0;
  }
  tg__opt chosen[TG__MAX_OPTS]; /* BEAM's, else (-1) the heuristic's */
  int nchosen = tg__opts_overridden() ? -1 : tg__beam_opts(k, dev, &t, chosen);
  int viz = tg__viz_begin(); /* VIZ: this kernel's rewrites, from its AST to its source */
  int rc = tg__codegen(k, &t, chosen, nchosen, lin);
  if (rc == 0) {
    if (!k->name) {
      k->name = lin->name;
      lin->name = NULL;
    }
    k->src = tg__render(d, k->name, params, k->nbufs, lin);
    if (!k->opts) k->opts = tg__opts_str(lin->opts, lin->nopts);
    rc = k->src ? 0 : -1; /* else the renderer said why (a dtype the dialect cannot hold) */
  }
  if (viz >= 0)
    tg__viz_end(viz, "kernel", k->name ? k->name : "(failed)", dev->name, k->opts ? k->opts : "",
                k->src ? k->src : tg_error());
  TG_FREE(params);
  if (rc < 0) tg__linear_free(lin);
  else if (cacheable) tg__src_add(key, k, lin);
  return rc;
}

/* DEBUG=4: the linearised program, each op with the positions of its sources in the list (a source that is no op
 * of the list, a constant folded into its user, shows as its op's name) */
static void tg__linear_print(const char *name, const tg__linear *lin) {
  tg__map at;
  memset(&at, 0, sizeof at);
  printf("=== kernel %s: linearised ===\n", name ? name : "(unnamed)");
  for (int i = 0; i < lin->n; i++) {
    tg__uop *u = lin->u[i];
    tg__map_put(&at, u, (void *)(intptr_t)(i + 1));
    printf("%4d %-13s %-8s [", i, tg__op_names[u->op], tg__dtypes[u->dtype].name);
    for (int j = 0; j < u->nsrc; j++) {
      intptr_t p = (intptr_t)tg__map_get(&at, u->src[j]);
      if (p) printf("%s%d", j ? ", " : "", (int)(p - 1));
      else if (u->src[j]->op == TG__OP_CONST) printf("%s%g", j ? ", " : "", tg__const_val(u->src[j]));
      else printf("%s%s", j ? ", " : "", tg__op_names[u->src[j]->op]);
    }
    printf("]\n");
  }
  tg__map_free(&at);
}

/* k's program is p (NULL: none); it takes the launch sizes and costs of k's linear program. 0, or -1 when p is NULL */
static int tg__kernel_program(tg__kernel *k, tg__program *p, const tg__linear *lin) {
  if (!(k->prog = p)) return -1;
  /* the CPU splits the outermost loop across threads; a GPU runs a thread (or a workgroup of local_size threads) per
   * iteration of all output loops */
  p->global_size = k->bufs[0]->dev->dialect->global_id ? lin->global_total : lin->global_size;
  p->local_size = lin->local_size;
  p->shared_bytes = lin->shared_bytes;
  p->flops = lin->flops;
  p->bytes = lin->bytes;
  p->lds = lin->lds;
  memcpy(p->roles, lin->roles, sizeof p->roles);
  return 0;
}

/* source, then the device's program (cached by the device); 0 or -1 */
static int tg__kernel_prepare(tg__kernel *k) {
  if (k->prog) return 0;
  if (tg__is_copy_kernel(k)) return tg__copy_prepare(k);
  tg__linear lin;
  if (tg__kernel_source(k, &lin) < 0) return -1;
  tg__device *dev = k->bufs[0]->dev;
  if (TG__DEBUG >= 4) tg__linear_print(k->name, &lin);
  tg__program *p = NULL;
  if (tg__fault(TG__FAULT_COMPILE)) tg__set_error("compile of kernel %s failed (injected fault)", k->name);
  else p = tg__dev_compile(dev, k->name, k->src);
  int rc = tg__kernel_program(k, p, &lin);
  tg__linear_free(&lin);
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// memory plans: the memory of every launch of a schedule or a JIT replay is found before the first one runs

/* memory a plan took back from a dropped buffer; launches of the plan still use it */
static void tg__plan_keep(tg__plan *p, tg__buffer *b) {
  if (p->npool == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 16;
    p->pool = (tg__memory *)tg__realloc(p->pool, sizeof(tg__memory) * (size_t)p->cap);
  }
  p->pool[p->npool++] = tg__buffer_take_memory(b);
}

/* b's memory: a dropped buffer's of the same size first (as a run would reuse it), else the cache or the device */
static int tg__plan_ensure(tg__plan *p, tg__buffer *b) {
  if (b->ptr) return 0;
  size_t n = b->nbytes ? b->nbytes : 1;
  for (int i = p->npool - 1; i >= 0; i--)
    if (p->pool[i].dev == b->dev && p->pool[i].nbytes == n) {
      tg__buffer_give_memory(b, &p->pool[i]);
      p->pool[i] = p->pool[--p->npool];
      return 0;
    }
  return tg__buffer_ensure(b);
}

TG__PRIVATE int tg__plan_memory(tg__plan *p, const tg__launch *ls, int n) {
  memset(p, 0, sizeof *p);
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (size_t)ls[i].nbufs;
  p->ptrs = (void ***)tg__alloc(sizeof(void **) * (size_t)(n ? n : 1) + sizeof(void *) * (total ? total : 1));
  void **next = (void **)(p->ptrs + (n ? n : 1));
  tg__vec fresh; /* buffers that had no memory before the plan */
  memset(&fresh, 0, sizeof fresh);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    p->ptrs[i] = next;
    next += ls[i].nbufs;
    for (int j = 0; j < ls[i].nbufs && rc == 0; j++) {
      tg__buffer *b = ls[i].bufs[j];
      if (!b->ptr) tg__vec_push(&fresh, b);
      rc = tg__plan_ensure(p, b);
      p->ptrs[i][j] = b->ptr;
    }
    for (int k = 0; k < ls[i].ndrop && rc == 0; k++)
      if (ls[i].drop[k]->ptr) tg__plan_keep(p, ls[i].drop[k]);
  }
  if (rc < 0) { /* all or nothing */
    for (int i = 0; i < fresh.n; i++) tg__buffer_drop_memory((tg__buffer *)fresh.items[i]);
    tg__plan_end(p);
  }
  tg__vec_free(&fresh);
  return rc;
}

TG__PRIVATE void tg__plan_end(tg__plan *p) {
  for (int i = 0; i < p->npool; i++) tg__memory_give_back(&p->pool[i]);
  TG_FREE(p->pool);
  TG_FREE(p->ptrs);
  memset(p, 0, sizeof *p);
}

// ---------------------------------------------------------------------------------------------------------------------
// running a schedule

/* the launches of s, with the buffers each one reads for the last time (intermediates only: what a kernel keeps, or
 * what was realised before, lives on) */
static tg__launch *tg__sched_launches(tg__sched *s) {
  tg__map last, temp;
  memset(&last, 0, sizeof last);
  memset(&temp, 0, sizeof temp);
  for (int i = 0; i < s->n; i++) {
    for (int j = 0; j < s->k[i].nbufs; j++) tg__map_put(&last, s->k[i].bufs[j], (void *)(intptr_t)(i + 1));
    if (!s->k[i].keep) tg__map_put(&temp, s->k[i].bufs[0], (void *)1);
  }
  tg__launch *ls = (tg__launch *)tg__alloc(sizeof(tg__launch) * (size_t)(s->n ? s->n : 1));
  for (int i = 0; i < s->n; i++) {
    tg__kernel *k = &s->k[i];
    ls[i].bufs = k->bufs;
    ls[i].nbufs = k->nbufs;
    ls[i].drop = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)k->nbufs);
    for (int j = 1; j < k->nbufs; j++)
      if ((intptr_t)tg__map_get(&last, k->bufs[j]) == i + 1 && tg__map_get(&temp, k->bufs[j]))
        ls[i].drop[ls[i].ndrop++] = k->bufs[j];
  }
  tg__map_free(&last);
  tg__map_free(&temp);
  return ls;
}

/* runs kernel i with the planned memory; 0 or -1 */
static int tg__sched_launch(tg__sched *s, int i, void **ptrs, const tg__launch *l, double *t_total) {
  tg__kernel *k = &s->k[i];
  tg__device *dev = k->prog->dev; /* the output's, or COPY's (tg__copy_device) */
  int viz = tg__viz_profiling();
  uint64_t t0 = TG__DEBUG >= 1 || viz ? tg__now_ns() : 0;
  int rc = 0;
  if (tg__fault(TG__FAULT_LAUNCH)) {
    tg__set_error("%s launch of kernel %s failed (injected fault)", dev->name, k->name);
    rc = -1;
  }
  if (rc == 0) rc = tg__dev_launch(k->prog, ptrs, k->nbufs);
  if (rc == 0 && tg__capture) {
    const tg__capture_hook *h = tg__capture;
    h->record(h->ctx, k->prog, k->bufs, k->nbufs);
    for (int j = 0; j < l->ndrop; j++) h->record_drop(h->ctx, l->drop[j]);
  }
  if (rc == 0 && (TG__DEBUG >= 1 || viz)) {
    tg__dev_synchronize(dev);
    uint64_t t1 = tg__now_ns();
    double dt = 1e-9 * (double)(t1 - t0);
    *t_total += dt;
    if (TG__DEBUG >= 2) tg__debug_launch(k->prog, k->nbufs, dt, k->opts, "");
    if (viz) tg__viz_launch(dev->name, k->name, t0, t1);
  }
  return rc;
}

/* DEBUG=2's line for a launch, as tinygrad's: the device and the kernel's number in the process, its name with each
 * number coloured by its loop's role (ANSI colours when `color`: tinygrad's blue output loops, cyan workgroup digits,
 * bright red shared reductions, red reductions, magenta UNROLL, yellow UPCAST), its buffers, the device memory in use,
 * its time and the time of every kernel so far, GFLOPS, GB/s counted two ways (its buffers once | every load and store
 * of global memory), the Opts, and mark ("(jit)" for a replay). The name is padded to 44 columns. */
TG__PRIVATE void tg__debug_line(tg__str *out, const tg__program *p, int64_t index, int nbufs, double dt, double total,
                                int64_t mem, const char *opts, const char *mark, int color) {
  static const char *const colors[6] = {"\033[34m", "\033[36m", "\033[91m", "\033[31m", "\033[35m", "\033[33m"};
  static const char roles[] = "glGruU";
  tg__str_printf(out, "%s*** %-7.7s %4lld%s ", color ? "\033[32m" : "", p->dev->name, (long long)index,
                 color ? "\033[0m" : "");
  int shown = 0, part = -1, nroles = (int)strlen(p->roles);
  for (const char *c = p->name; *c; c++, shown++) { /* each number in its loop's colour */
    if (*c == '_') {
      if (color && part >= 0 && part < nroles) tg__str_cat(out, "\033[0m");
      part++;
      const char *r = part < nroles ? strchr(roles, p->roles[part]) : NULL;
      tg__str_cat(out, "_");
      if (color && r) tg__str_cat(out, colors[r - roles]);
      continue;
    }
    tg__str_printf(out, "%c", *c);
  }
  if (color && part >= 0 && part < nroles) tg__str_cat(out, "\033[0m");
  for (; shown < 44; shown++) tg__str_cat(out, " ");
  double t = dt > 0 ? dt : 1e-20;
  tg__str_printf(out, " arg %2d mem %5.2f GB tm %9.2f%s/%9.2fms (%9.2f GFLOPS %6.1f|%-7.1f GB/s)", nbufs,
                 (double)mem * 1e-9, dt < 1e-3 ? dt * 1e6 : dt * 1e3, dt < 1e-3 ? "us" : "ms", total * 1e3,
                 p->flops / t * 1e-9, p->bytes / t * 1e-9, p->lds / t * 1e-9);
  if (opts && *opts) tg__str_printf(out, " [%s]", opts);
  tg__str_printf(out, "%s\n", mark);
}

static double tg__debug_total; /* seconds of the kernels DEBUG=2 timed in this process */

/* DEBUG=1's line for a realisation: its kernels, where their programs came from (loaded already, the disk cache, the
 * compiler: the difference of tg__program_stats before and after), and the time split three ways */
TG__PRIVATE void tg__debug_realised(tg__str *out, int n, const char *device, double t_schedule, double t_compile,
                                    double t_run, const int64_t before[3], const int64_t after[3]) {
  tg__str_printf(out, "realised %d kernel%s on %s: schedule %.2f ms, compile %.2f ms (%lld compiled, %lld from the "
                 "disk cache, %lld loaded before), run %.2f ms\n", n, n == 1 ? "" : "s", device, t_schedule * 1e3,
                 t_compile * 1e3, (long long)(after[2] - before[2]), (long long)(after[1] - before[1]),
                 (long long)(after[0] - before[0]), t_run * 1e3);
}

TG__PRIVATE void tg__debug_launch(const tg__program *p, int nbufs, double dt, const char *opts, const char *mark) {
  static int tty = -1;
  if (tty < 0) tty = isatty(fileno(stdout));
  tg__debug_total += dt;
  tg__str s;
  memset(&s, 0, sizeof s);
  tg__debug_line(&s, p, tg__stat_launches(0), nbufs, dt, tg__debug_total, tg__mem_used(), opts, mark, tty);
  char *line = tg__str_take(&s);
  fputs(line, stdout);
  TG_FREE(line);
}

/* The launches ls are about to run on dev: when their buffers hold enough to share among threads (1 MiB in all), the
 * device may wake its workers now, so that they are ready when the first launch comes (the CPU's pool) */
TG__PRIVATE void tg__device_wake(tg__device *dev, const tg__launch *ls, int n) {
  if (!dev || !dev->desc.wake) return;
  double bytes = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < ls[i].nbufs; j++) bytes += (double)ls[i].bufs[j]->nbytes;
  if (bytes >= (double)(1 << 20)) tg__dev_wake(dev);
}

/* A schedule's kernels that are not compiled yet, compiled together where the device can: each kernel's source is
 * made first, in order, then the device's compile_batch compiles them at once (the CPU: a compiler per core; CUDA:
 * NVRTC on the host's cores; a first MNIST step has some 110 kernels). An injected compile fault fails the kernel it
 * falls on, as one at a time would: the kernels before it are compiled, the ones after it are not. 0, or -1 with the
 * error (no kernel is half-prepared: one that failed has no program, and the next realisation tries again). */
static int tg__prepare_batch(tg__sched *s) {
  tg__device *dev = NULL;
  int m = 0;
  for (int i = 0; i < s->n; i++)
    if (!s->k[i].prog && s->k[i].nbufs > 0 && !tg__is_copy_kernel(&s->k[i]))
      dev = dev ? dev : s->k[i].bufs[0]->dev, m++;
  if (!dev || m < 2) return 0;
  tg__linear *lins = (tg__linear *)tg__alloc(sizeof(tg__linear) * (size_t)m);
  int *at = (int *)tg__alloc(sizeof(int) * (size_t)m), n = 0, rc = 0;
  const char **names = (const char **)tg__alloc(sizeof(char *) * (size_t)m);
  const char **srcs = (const char **)tg__alloc(sizeof(char *) * (size_t)m);
  tg__program **progs = (tg__program **)tg__alloc(sizeof(tg__program *) * (size_t)m);
  int faulted = 0; /* an injected fault: the kernel at[n] fails, after the ones before it compile */
  for (int i = 0; i < s->n && rc == 0 && !faulted; i++) {
    if (s->k[i].prog || s->k[i].nbufs < 1 || s->k[i].bufs[0]->dev != dev || tg__is_copy_kernel(&s->k[i]))
      continue;
    if (tg__kernel_source(&s->k[i], &lins[n]) < 0) rc = -1;
    else if (tg__fault(TG__FAULT_COMPILE)) {
      tg__set_error("compile of kernel %s failed (injected fault)", s->k[i].name);
      tg__linear_free(&lins[n]);
      faulted = 1;
    } else {
      if (TG__DEBUG >= 4) tg__linear_print(s->k[i].name, &lins[n]);
      at[n] = i, names[n] = s->k[i].name, srcs[n] = s->k[i].src, n++;
    }
  }
  tg__errsave saved;
  if (faulted) tg__error_push(&saved); /* the fault's error is the one to report */
  if (rc == 0 && n) tg__dev_compile_batch(dev, n, names, srcs, progs);
  for (int j = 0; j < n; j++) {
    tg__kernel *k = &s->k[at[j]];
    if (rc == 0 && tg__kernel_program(k, progs[j], &lins[j]) < 0) {
      if (!tg__has_error()) tg__set_error("%s compile of kernel %s failed", dev->name, k->name);
      rc = -1;
    }
    tg__linear_free(&lins[j]);
  }
  if (faulted) tg__error_pop(&saved), rc = -1;
  TG_FREE(lins), TG_FREE(at), TG_FREE(names), TG_FREE(srcs), TG_FREE(progs);
  return rc;
}

TG__PRIVATE int tg__run_schedule(tg__sched *s) {
  s->nran = 0;
  int64_t before[3], after[3];
  tg__program_stats(before);
  uint64_t t0 = TG__DEBUG >= 1 ? tg__now_ns() : 0;
  if (tg__prepare_batch(s) < 0) return -1;
  for (int i = 0; i < s->n; i++)
    if (tg__kernel_prepare(&s->k[i]) < 0) return -1;
  double t_compile = TG__DEBUG >= 1 ? 1e-9 * (double)(tg__now_ns() - t0) : 0;
  for (int i = 0; i < s->n; i++) /* the values the graph bound its variables to, for the kernels that read them */
    if (s->k[i].vars && tg__var_table_write(s->k[i].vars, s->var_vals) < 0) return -1;
  tg__launch *ls = tg__sched_launches(s);
  if (s->n) tg__device_wake(s->k[0].bufs[0]->dev, ls, s->n);
  tg__plan plan;
  int rc = tg__plan_memory(&plan, ls, s->n), planned = rc == 0;
  double t_total = 0;
  for (int i = 0; i < s->n && rc == 0; i++) {
    rc = tg__sched_launch(s, i, plan.ptrs[i], &ls[i], &t_total);
    if (rc == 0) s->nran = i + 1;
  }
  if (planned) tg__plan_end(&plan); /* a failed plan has given everything back already */
  if (rc < 0 && s->nran > 0) { /* a launch failed: what ran stays; what did not run keeps no memory */
    for (int i = s->nran; i < s->n; i++)
      if (!s->k[i].keep) tg__buffer_drop_memory(s->k[i].bufs[0]);
  }
  if (TG__DEBUG >= 1 && s->n) {
    tg__program_stats(after);
    tg__str line;
    memset(&line, 0, sizeof line);
    tg__debug_realised(&line, s->n, s->k[0].bufs[0]->dev->name, s->t_schedule, t_compile, t_total, before, after);
    char *text = tg__str_take(&line);
    fputs(text, stdout);
    TG_FREE(text);
  }
  for (int i = 0; i < s->n; i++) TG_FREE(ls[i].drop);
  TG_FREE(ls);
  return rc;
}

// ---------------------------------------------------------------------------------------------------------------------
// inspecting schedules (tinygrad's Tensor.schedule()): the kernels, never run

struct tg_schedule {
  tg__sched s;
  char **asts;
};

tg_schedule *tg_schedule_create(tg_tensor **ts, int n) {
  TG__LOCKED();
  tg__uop *roots[64], *views[64];
  if (n < 1 || n > 64 || !ts) {
    tg__set_error("tg_schedule_create: between 1 and 64 tensors");
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    if (!ts[i]) { /* as tensor.c's tg__null (a higher layer): the first error stays */
      if (!tg__has_error()) tg__set_error("tg_schedule_create: an operand is NULL");
      return NULL;
    }
    for (roots[i] = ts[i]->uop; roots[i]->becomes;) roots[i] = roots[i]->becomes; /* realised: its buffer */
  }
  tg_schedule *sc = (tg_schedule *)tg__alloc(sizeof(tg_schedule));
  tg__device *dev = ts[0]->dev; /* the roots' device, when they share one */
  for (int i = 1; i < n; i++)
    if (ts[i]->dev != dev) dev = NULL;
  if (tg__schedule(roots, n, dev, &sc->s, views) < 0) {
    TG_FREE(sc);
    return NULL;
  }
  tg__sched_settle(&sc->s); /* only inspected, never run: assignments stay pending */
  sc->asts = (char **)tg__alloc(sizeof(char *) * (size_t)(sc->s.n + 1));
  for (int i = 0; i < sc->s.n; i++) {
    tg__kernel *k = &sc->s.k[i];
    sc->asts[i] = tg__uop_print(k->ast);
    tg__linear lin;
    if (tg__kernel_source(k, &lin) == 0) tg__linear_free(&lin); /* the source of what would run */
  }
  return sc;
}

int tg_schedule_count(const tg_schedule *s) { TG__LOCKED(); return s ? s->s.n : -1; }
const char *tg_schedule_name(const tg_schedule *s, int i) {
  TG__LOCKED();
  return s && i >= 0 && i < s->s.n ? s->s.k[i].name : NULL;
}
const char *tg_schedule_ast(const tg_schedule *s, int i) {
  TG__LOCKED();
  return s && i >= 0 && i < s->s.n ? s->asts[i] : NULL;
}
const char *tg_schedule_source(const tg_schedule *s, int i) {
  TG__LOCKED();
  return s && i >= 0 && i < s->s.n ? s->s.k[i].src : NULL;
}
void tg_schedule_free(tg_schedule *s) {
  TG__LOCKED();
  if (!s) return;
  for (int i = 0; i < s->s.n; i++) TG_FREE(s->asts[i]);
  TG_FREE(s->asts);
  tg__sched_free(&s->s);
  TG_FREE(s);
}
