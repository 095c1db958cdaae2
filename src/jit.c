/* jit.c: the JIT, tinygrad's TinyJit (layer 5). Captures the kernels a step function runs and replays them on new
 * inputs with no graph building, scheduling, rendering or compiling.
 *
 * Contract:
 *  - Call 1 runs the function normally (kernels get compiled). Call 2 runs it again while recording every kernel the
 *    runtime launches (program + buffers) and every intermediate it recycles: the JIT registers a capture hook with
 *    realize.c for the duration of the call (tinygrad's `capturing` list), so the runtime never calls the JIT and a
 *    schedule made meanwhile knows that it is captured. Calls 3+ replay the record: the capture's input buffers are
 *    swapped for the new inputs', the function itself is NOT called.
 *  - Inputs are realised first; they must keep the dtypes and shapes of call 1, be distinct buffers, and be plain
 *    contiguous tensors. Outputs must be realised by the function; a replay returns new handles on the captured
 *    output buffers, which the next replay overwrites (as tinygrad's: copy what you keep).
 *  - Misuse is an error, not silently wrong output: a changed input shape, dtype or count; reading a tensor to the
 *    host inside the function (tg_item, tg_to_host... replays skip host code); a tensor made from host data inside
 *    the function and read by its kernels (a replay would read the capture's data: make it an input); a tensor the
 *    kernels read that is not an input and was freed since the capture (replays would read its old buffer).
 *  - Buffers written by a replay move to their next version (tg__buffer_bump): cached results of the old contents
 *    are not reused, and plain views of them (parameters, optimiser state) follow.
 *  - A device that can launch the whole replay at once does (CUDA graphs: one call for all the kernels, whose
 *    buffers are updated where a replay's plan moved them); JIT_GRAPH=0, DEBUG=2 and the tests' launch faults
 *    launch kernel by kernel. */
#include "internal.h"

typedef struct tg__jit_call {
  tg__program *prog;
  tg__buffer **bufs; /* retained */
  int *slot;         /* per buffer: the input it stands for, or -1 */
  int nbufs;
  tg__buffer **drop; /* intermediates whose memory is recycled after this call */
  int ndrop;
} tg__jit_call;

typedef struct tg__jit_sig {
  tg_dtype dt;
  int ndim;
  int64_t shape[TG_MAX_DIMS];
} tg__jit_sig;

struct tg_jit {
  tg_jit_fn fn;
  void *ctx;
  int ncalls_made;       /* calls of tg_jit_run so far */
  int n_in, n_out;
  tg__jit_sig *in_sig, *out_sig;
  tg__jit_call *calls;
  int ncalls, cap;
  tg__buffer **in_bufs;  /* the capture's input buffers (not retained: compared by address only while capturing) */
  tg__buffer **out_bufs; /* retained */
  int64_t first_id;      /* buffers with an id >= this were created during the capture */
  /* the buffers the last walk of the live graphs found (tg__jit_graph_buffers), each with the tensor whose graph
   * reached it and that tensor's node then: while that tensor lives with that node, the buffer is still read */
  tg__map witness; /* buffer -> index + 1 into wt, wu */
  tg_tensor **wt;
  tg__uop **wu;
  int nw, cw;
  tg__device *graph_dev; /* the device holding graph, its replay as one launch (CUDA graphs), or NULL */
  void *graph;
  int no_graph;          /* the device declined: launched kernel by kernel */
};

static int tg__inside;             /* depth of JIT'd functions running (call 1 or capture) */

TG__PRIVATE int tg__jit_host_read(const char *fn) {
  if (!tg__inside) return 0;
  tg__set_error("%s: reads a tensor to the host inside a JIT'd function; replays do not run the function's C code, "
                "so the value would be stale. HINT: return the tensor as an output and read it after tg_jit_run", fn);
  return -1;
}

/* the capture hook (realize.c): a kernel ran */
static void tg__jit_record(void *ctx, tg__program *prog, tg__buffer **bufs, int nbufs) {
  tg_jit *j = (tg_jit *)ctx;
  if (j->ncalls == j->cap) {
    j->cap = j->cap ? 2 * j->cap : 32;
    j->calls = (tg__jit_call *)tg__realloc(j->calls, sizeof(tg__jit_call) * (size_t)j->cap);
  }
  tg__jit_call *c = &j->calls[j->ncalls++];
  memset(c, 0, sizeof *c);
  c->prog = prog;
  c->nbufs = nbufs;
  c->bufs = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)nbufs);
  c->slot = (int *)tg__alloc(sizeof(int) * (size_t)nbufs);
  for (int i = 0; i < nbufs; i++) {
    c->bufs[i] = bufs[i];
    tg__buffer_retain(bufs[i]);
    c->slot[i] = -1;
    for (int k = 0; k < j->n_in; k++)
      if (j->in_bufs[k] == bufs[i]) c->slot[i] = k;
  }
}

/* the capture hook: the last recorded kernel was b's last reader */
static void tg__jit_record_drop(void *ctx, tg__buffer *b) {
  tg_jit *j = (tg_jit *)ctx;
  if (!j->ncalls) return;
  tg__jit_call *c = &j->calls[j->ncalls - 1];
  c->drop = (tg__buffer **)tg__realloc(c->drop, sizeof(tg__buffer *) * (size_t)(c->ndrop + 1));
  c->drop[c->ndrop++] = b; /* retained by the call that reads it */
}

static void tg__jit_forget(tg_jit *j) {
  if (j->graph) tg__dev_graph_free(j->graph_dev, j->graph);
  j->graph = NULL, j->graph_dev = NULL, j->no_graph = 0;
  for (int i = 0; i < j->ncalls; i++) {
    tg__jit_call *c = &j->calls[i];
    for (int k = 0; k < c->nbufs; k++) tg__buffer_release(c->bufs[k]);
    TG_FREE(c->bufs);
    TG_FREE(c->slot);
    TG_FREE(c->drop);
  }
  TG_FREE(j->calls);
  j->calls = NULL;
  j->ncalls = j->cap = 0;
  if (j->out_bufs)
    for (int i = 0; i < j->n_out; i++) tg__buffer_release(j->out_bufs[i]);
  TG_FREE(j->out_bufs);
  j->out_bufs = NULL;
  tg__map_free(&j->witness);
  memset(&j->witness, 0, sizeof j->witness);
  TG_FREE(j->wt);
  TG_FREE(j->wu);
  j->wt = NULL, j->wu = NULL, j->nw = j->cw = 0;
}

tg_jit *tg_jit_new(tg_jit_fn fn, void *ctx) {
  TG__LOCKED();
  if (!fn) {
    tg__set_error("tg_jit_new: the function is NULL");
    return NULL;
  }
  tg_jit *j = (tg_jit *)tg__alloc(sizeof *j);
  j->fn = fn;
  j->ctx = ctx;
  return j;
}

void tg_jit_free(tg_jit *j) {
  TG__LOCKED();
  if (!j) return;
  tg__jit_forget(j);
  TG_FREE(j->in_sig);
  TG_FREE(j->out_sig);
  TG_FREE(j->in_bufs);
  TG_FREE(j);
}

int tg_jit_kernels(const tg_jit *j) { TG__LOCKED(); return j && j->ncalls_made > 1 ? j->ncalls : 0; }

// ---------------------------------------------------------------------------------------------------------------------
// inputs and outputs

static void tg__jit_sig_of(tg_tensor *t, tg__jit_sig *s) {
  memset(s, 0, sizeof *s);
  s->dt = t->uop->dtype;
  s->ndim = t->uop->ndim;
  memcpy(s->shape, t->uop->shape, sizeof(int64_t) * (size_t)s->ndim);
}

static int tg__jit_sig_eq(const tg__jit_sig *a, const tg__jit_sig *b) {
  return a->dt == b->dt && a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

/* realises the inputs and checks them against the first call's; fills bufs[] */
static int tg__jit_inputs(tg_jit *j, tg_tensor **in, int n_in, int n_out, tg__buffer **bufs) {
  if (n_in < 0 || n_out < 0 || (n_in && !in)) {
    tg__set_error("tg_jit_run: %d inputs and %d outputs", n_in, n_out);
    return -1;
  }
  if (j->ncalls_made && (n_in != j->n_in || n_out != j->n_out)) {
    tg__set_error("tg_jit_run: called with %d inputs and %d outputs, but the first call had %d and %d", n_in, n_out,
                  j->n_in, j->n_out);
    return -1;
  }
  for (int i = 0; i < n_in; i++)
    if (!in[i]) {
      tg__set_error("tg_jit_run: input %d is NULL", i);
      return -1;
    }
  if (tg_realize_all(in, n_in) < 0) return -1; /* also runs pending assignments made outside */
  for (int i = 0; i < n_in; i++) {
    tg__jit_sig s;
    tg__jit_sig_of(in[i], &s);
    char b1[128], b2[128];
    if (j->ncalls_made && !tg__jit_sig_eq(&s, &j->in_sig[i])) {
      tg__set_error("tg_jit_run: input %d is %s %s, but the JIT was made for %s %s (a JIT has fixed shapes: make "
                    "another one)",
                    i, tg_dtype_name(s.dt), tg__shape_str(s.ndim, s.shape, b1, sizeof b1),
                    tg_dtype_name(j->in_sig[i].dt),
                    tg__shape_str(j->in_sig[i].ndim, j->in_sig[i].shape, b2, sizeof b2));
      return -1;
    }
    bufs[i] = tg__tensor_buffer(in[i]);
    if (!bufs[i]) {
      tg__set_error("tg_jit_run: input %d is not a plain realised tensor", i);
      return -1;
    }
    for (int k = 0; k < i; k++)
      if (bufs[k] == bufs[i]) {
        tg__set_error("tg_jit_run: inputs %d and %d are the same buffer; a JIT needs distinct inputs", k, i);
        return -1;
      }
  }
  return 0;
}

/* runs the function (call 1 or the capture) and checks its outputs */
static int tg__jit_call_fn(tg_jit *j, tg_tensor **in, int n_in, tg_tensor **out, int n_out) {
  for (int i = 0; i < n_out; i++) out[i] = NULL;
  tg__inside++;
  int cb = tg__callback_begin();
  int rc = j->fn(j->ctx, in, n_in, out, n_out);
  tg__callback_end(cb);
  for (int i = 0; rc == 0 && i < n_out; i++)
    if (!out[i]) {
      tg__set_error("tg_jit_run: the function returned 0 but left output %d NULL", i);
      rc = -1;
    }
  if (rc == 0) rc = tg_realize_all(out, n_out); /* the outputs and any assignment still pending belong to the step */
  tg__inside--;
  if (rc != 0 && !tg__has_error()) tg__set_error("tg_jit_run: the function failed (returned %d)", rc);
  return rc == 0 ? 0 : -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// capture and replay

/* a read-only buffer made during the capture (not by a kernel of it) holds host data that replays would not refresh */
static int tg__jit_check_capture(tg_jit *j) {
  tg__map written;
  memset(&written, 0, sizeof written);
  int rc = 0;
  for (int i = 0; i < j->ncalls && rc == 0; i++) {
    tg__jit_call *c = &j->calls[i];
    for (int k = 1; k < c->nbufs && rc == 0; k++) {
      tg__buffer *b = c->bufs[k];
      if (c->slot[k] < 0 && !tg__map_get(&written, b) && b->id >= j->first_id) {
        tg__set_error("tg_jit_run: kernel %d of the captured function reads a tensor made from host data inside the "
                      "function; replays would reuse the captured data. HINT: pass it as an input", i);
        rc = -1;
      }
    }
    tg__map_put(&written, c->bufs[0], (void *)1);
  }
  tg__map_free(&written);
  return rc;
}

static int tg__jit_capture(tg_jit *j, tg_tensor **in, int n_in, tg_tensor **out, int n_out, tg__buffer **inb) {
  j->in_bufs = (tg__buffer **)tg__realloc(j->in_bufs, sizeof(tg__buffer *) * (size_t)(n_in ? n_in : 1));
  memcpy(j->in_bufs, inb, sizeof(tg__buffer *) * (size_t)n_in);
  j->first_id = tg__buffer_new_id_peek();
  /* new versions of the inputs, which the function sees as plain views: its graphs differ from call 1's, so no
   * result of call 1 is reused (an input that is a realised graph, a tg_randn say, would otherwise bring back the
   * very nodes call 1 realised, and the capture would record nothing) */
  tg_tensor *vstack[16], **views = n_in <= 16 ? vstack : (tg_tensor **)tg__alloc(sizeof(tg_tensor *) * (size_t)n_in);
  for (int i = 0; i < n_in; i++) {
    tg__buffer_bump(inb[i], 0);
    views[i] =
        tg__tensor_wrap(tg__treshape(tg__buffer_uop_of(inb[i]), in[i]->uop->ndim, in[i]->uop->shape), in[i]->dev);
    while (views[i] && views[i]->scope > 0) tg_keep(views[i]); /* freed here, not by the caller's scope */
  }
  tg__capture_hook hook;
  hook.ctx = j;
  hook.record = tg__jit_record;
  hook.record_drop = tg__jit_record_drop;
  tg__set_capture_hook(&hook);
  int rc = tg__jit_call_fn(j, views, n_in, out, n_out);
  tg__set_capture_hook(NULL);
  for (int i = 0; i < n_in; i++) tg_free(views[i]);
  if (views != vstack) TG_FREE(views);
  if (rc == 0) rc = tg__jit_check_capture(j);
  if (rc == 0) {
    j->out_bufs = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)(n_out ? n_out : 1));
    for (int i = 0; i < n_out && rc == 0; i++) {
      tg__buffer *b = tg__tensor_buffer(out[i]);
      for (int k = 0; b && k < n_in; k++)
        if (b == inb[k]) b = NULL;
      if (!b) {
        tg__set_error("tg_jit_run: output %d is an input or not a realised tensor", i);
        rc = -1;
        break;
      }
      tg__buffer_retain(b);
      j->out_bufs[i] = b;
    }
  }
  if (rc < 0) {
    tg__jit_forget(j);
    for (int i = 0; i < n_out; i++) tg_free(out[i]), out[i] = NULL;
  }
  return rc;
}

/* every buffer the graphs of live tensors read (a quantised weight is a lazy graph over its blocks' buffer) into
 * live, and into j's witnesses with the tensor that reached it */
static void tg__jit_graph_buffers(tg_jit *j, tg__map *live) {
  tg__map seen;
  tg__vec stack;
  memset(&seen, 0, sizeof seen);
  memset(&stack, 0, sizeof stack);
  tg__map_free(&j->witness);
  memset(&j->witness, 0, sizeof j->witness);
  j->nw = 0;
  for (tg_tensor *t = tg__tensor_list(); t; t = t->next) {
    tg__vec_push(&stack, t->uop);
    while (stack.n) {
      tg__uop *u = (tg__uop *)stack.items[--stack.n];
      if (tg__map_get(&seen, u)) continue;
      tg__map_put(&seen, u, (void *)1);
      if (u->op == TG__OP_BUFFER && !tg__map_get(live, u->arg.ptr)) {
        tg__map_put(live, u->arg.ptr, (void *)1);
        if (j->nw == j->cw) {
          j->cw = j->cw ? 2 * j->cw : 64;
          j->wt = (tg_tensor **)tg__realloc(j->wt, sizeof(tg_tensor *) * (size_t)j->cw);
          j->wu = (tg__uop **)tg__realloc(j->wu, sizeof(tg__uop *) * (size_t)j->cw);
        }
        j->wt[j->nw] = t, j->wu[j->nw] = t->uop;
        tg__map_put(&j->witness, u->arg.ptr, (void *)(intptr_t)++j->nw);
      }
      if (u->becomes) tg__vec_push(&stack, u->becomes);
      for (int i = 0; i < u->nsrc; i++) tg__vec_push(&stack, u->src[i]);
    }
  }
  tg__map_free(&seen);
  tg__vec_free(&stack);
}

/* the tensors the user holds: a buffer the record reads that no live tensor views or reads any more was freed by
 * the user. Realised tensors are checked first. A buffer found only so, and referenced by more than the record,
 * may be read by a lazy graph (a quantised weight's blocks under its dequantising graph): the graphs of the live
 * tensors are walked then (0.35 ms for SmolLM2's 272 weights on 2 cores), and a later replay walks them again only
 * when the tensor through which the walk found such a buffer is gone or holds another node. */
static int tg__jit_check_alive(tg_jit *j) {
  tg__map live, written, nodes; /* nodes: each live tensor's node */
  memset(&live, 0, sizeof live);
  memset(&written, 0, sizeof written);
  memset(&nodes, 0, sizeof nodes);
  for (tg_tensor *t = tg__tensor_list(); t; t = t->next) {
    tg__buffer *b = tg__tensor_buffer(t);
    if (b) tg__map_put(&live, b, (void *)1);
    tg__map_put(&nodes, t, t->uop);
  }
  tg__map refs; /* buffer -> the references the record holds on it */
  memset(&refs, 0, sizeof refs);
  for (int i = 0; i < j->ncalls; i++)
    for (int k = 0; k < j->calls[i].nbufs; k++) {
      tg__buffer *b = j->calls[i].bufs[k];
      tg__map_put(&refs, b, (void *)((intptr_t)tg__map_get(&refs, b) + 1));
    }
  for (int i = 0; i < j->n_out; i++)
    tg__map_put(&refs, j->out_bufs[i], (void *)((intptr_t)tg__map_get(&refs, j->out_bufs[i]) + 1));
  int rc = 0, walked = 0;
  for (int i = 0; i < j->ncalls && rc == 0; i++) {
    tg__jit_call *c = &j->calls[i];
    for (int k = 1; k < c->nbufs && rc == 0; k++) {
      tg__buffer *b = c->bufs[k];
      int suspect = c->slot[k] < 0 && !tg__map_get(&written, b) && !tg__map_get(&live, b) && !tg__is_var_table(b);
      if (suspect && b->refcount > (intptr_t)tg__map_get(&refs, b)) {
        /* the tensor whose graph reached b at the last walk lives with the same node: its graph (immutable) still
         * reads b, and nothing is walked (the walk cost SmolLM2's decode 0.35 ms a token on 2 cores) */
        intptr_t w = walked ? 0 : (intptr_t)tg__map_get(&j->witness, b);
        if (w && tg__map_get(&nodes, j->wt[w - 1]) == (void *)j->wu[w - 1]) suspect = 0;
        else {
          if (!walked) tg__jit_graph_buffers(j, &live);
          walked = 1;
          suspect = !tg__map_get(&live, b);
        }
      }
      if (suspect) {
        tg__set_error("tg_jit_run: a tensor the captured function reads (not an input) was freed since the capture; "
                      "replays would read its old contents. HINT: pass it as an input, or make a new JIT");
        rc = -1;
      }
    }
    tg__map_put(&written, c->bufs[0], (void *)1);
  }
  tg__map_free(&live);
  tg__map_free(&written);
  tg__map_free(&refs);
  tg__map_free(&nodes);
  return rc;
}

/* The planned launches as one, where the device can (CUDA graphs; JIT_GRAPH=0 turns them off): every call on one
 * device, no DEBUG timing of each kernel, no launch fault armed by the tests. 1 when they are to be launched one by
 * one, else launch_graph's 0 or -1 */
static int tg__jit_graph(tg_jit *j, const tg__plan *plan) {
  tg__device *dev = j->ncalls ? j->calls[0].prog->dev : NULL;
  if (!dev || !dev->desc.launch_graph || j->no_graph || TG__DEBUG >= 2 || tg__viz_profiling() ||
      !tg__getenv_int("JIT_GRAPH", 1) ||
      tg__fault_armed(TG__FAULT_LAUNCH))
    return 1;
  tg__program **progs = (tg__program **)tg__alloc(sizeof(tg__program *) * (size_t)j->ncalls);
  int *nbufs = (int *)tg__alloc(sizeof(int) * (size_t)j->ncalls), rc = 0;
  for (int i = 0; i < j->ncalls && rc == 0; i++) {
    progs[i] = j->calls[i].prog, nbufs[i] = j->calls[i].nbufs;
    if (progs[i]->dev != dev) rc = 1;
  }
  if (rc == 0) rc = tg__dev_launch_graph(dev, j->ncalls, progs, plan->ptrs, nbufs, &j->graph);
  if (j->graph) j->graph_dev = dev;
  if (rc == 1) j->no_graph = 1;
  TG_FREE(progs);
  TG_FREE(nbufs);
  return rc;
}

/* Replays the record on the inputs inb. The memory of every kernel is planned before the first runs, so a failed
 * allocation changes nothing. A failed launch (a device fault) leaves the buffers written by the kernels that ran at
 * new versions: their contents changed, and stale graphs of them are refused rather than silently read. */
static int tg__jit_replay(tg_jit *j, tg__buffer **inb, tg_tensor **out, int n_out) {
  if (tg__jit_check_alive(j) < 0) return -1;
  size_t total = 0;
  for (int i = 0; i < j->ncalls; i++) total += (size_t)j->calls[i].nbufs;
  tg__launch *ls = (tg__launch *)tg__alloc(sizeof(tg__launch) * (size_t)(j->ncalls ? j->ncalls : 1));
  tg__buffer **bufs = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (total ? total : 1)), **next = bufs;
  for (int i = 0; i < j->ncalls; i++) {
    tg__jit_call *c = &j->calls[i];
    for (int k = 0; k < c->nbufs; k++) next[k] = c->slot[k] >= 0 ? inb[c->slot[k]] : c->bufs[k];
    ls[i].bufs = next;
    ls[i].nbufs = c->nbufs;
    ls[i].drop = c->drop;
    ls[i].ndrop = c->ndrop;
    next += c->nbufs;
  }
  int rc = 0;
  for (int i = 0; i < j->ncalls && rc == 0; i++) /* the variables' values now (tg_var_bind), for the kernels */
    for (int k = 0; k < j->calls[i].nbufs && rc == 0; k++)
      if (tg__is_var_table(j->calls[i].bufs[k])) rc = tg__var_table_write(j->calls[i].bufs[k], NULL);
  if (rc < 0) {
    TG_FREE(ls);
    TG_FREE(bufs);
    return -1;
  }
  for (int i = 0; i < j->ncalls && rc == 0; i++) /* what the replay writes in place: views keep their values */
    if (j->calls[i].slot[0] < 0) rc = tg__buffer_unshare(j->calls[i].bufs[0]);
  if (rc < 0) {
    TG_FREE(ls);
    TG_FREE(bufs);
    return -1;
  }
  if (j->ncalls) tg__device_wake(j->calls[0].prog->dev, ls, j->ncalls);
  tg__plan plan;
  int ran = 0, graph = 1;
  rc = tg__plan_memory(&plan, ls, j->ncalls);
  if (rc == 0 && (graph = tg__jit_graph(j, &plan)) != 1) { /* as one launch: all ran, or a fault took any of them */
    rc = graph;
    ran = j->ncalls;
    tg__plan_end(&plan);
  } else if (rc == 0) {
    if (TG__DEBUG >= 2) printf("jit: replaying %d kernels\n", j->ncalls); /* tools/kernel_times.py starts a step here */
    int debug = TG__DEBUG, viz = tg__viz_profiling(), timed = debug >= 2 || viz;
    for (; ran < j->ncalls && rc == 0; ran++) {
      tg__jit_call *c = &j->calls[ran];
      if (tg__fault(TG__FAULT_LAUNCH)) {
        tg__set_error("%s launch of kernel %s failed (injected fault)", c->prog->dev->name, c->prog->name);
        rc = -1;
      } else {
        uint64_t t0 = timed ? tg__now_ns() : 0;
        rc = tg__dev_launch(c->prog, plan.ptrs[ran], c->nbufs);
        if (rc == 0 && timed) { /* each replayed kernel, timed alone, as tinygrad's DEBUG=2 shows them */
          tg__dev_synchronize(c->prog->dev);
          uint64_t t1 = tg__now_ns();
          if (debug >= 2) tg__debug_launch(c->prog, c->nbufs, 1e-9 * (double)(t1 - t0), NULL, " (jit)");
          if (viz) tg__viz_launch(c->prog->dev->name, c->prog->name, t0, t1);
        }
      }
    }
    if (rc < 0) ran--; /* the failed one did not run */
    tg__plan_end(&plan);
  }
  tg__buffer **written = (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)(ran + 1));
  int nw = 0;
  for (int i = 0; i < ran; i++)
    if (j->calls[i].slot[0] < 0) written[nw++] = j->calls[i].bufs[0];
  tg__buffers_bump(written, nw, 1);
  TG_FREE(written);
  TG_FREE(ls);
  TG_FREE(bufs);
  if (rc < 0) return -1;
  for (int i = 0; i < n_out; i++) {
    tg__buffer *b = j->out_bufs[i];
    tg__jit_sig *s = &j->out_sig[i];
    out[i] = tg__tensor_wrap(tg__treshape(tg__buffer_uop_of(b), s->ndim, s->shape), b->dev);
  }
  return 0;
}

int tg_jit_run(tg_jit *j, tg_tensor **inputs, int n_in, tg_tensor **outputs, int n_out) {
  TG__LOCKED();
  if (!j) return tg__null("tg_jit_run"), -1;
  if (tg__inside) {
    tg__set_error("tg_jit_run: called inside a JIT'd function (JITs do not nest)");
    return -1;
  }
  if (n_out && !outputs) {
    tg__set_error("tg_jit_run: %d outputs but no array for them", n_out);
    return -1;
  }
  tg__buffer *stack[16], **inb = n_in <= 16 ? stack : (tg__buffer **)tg__alloc(sizeof(tg__buffer *) * (size_t)n_in);
  int rc = tg__jit_inputs(j, inputs, n_in, n_out, inb);
  if (rc == 0 && !tg__getenv_int("JIT", 1)) { /* JIT=0: the function runs each time, as tinygrad's TinyJit */
    rc = tg__jit_call_fn(j, inputs, n_in, outputs, n_out);
    if (inb != stack) TG_FREE(inb);
    return rc;
  }
  if (rc == 0 && j->ncalls_made == 0) { /* call 1: runs normally, fixes the signature */
    rc = tg__jit_call_fn(j, inputs, n_in, outputs, n_out);
    if (rc == 0) {
      j->n_in = n_in;
      j->n_out = n_out;
      j->in_sig = (tg__jit_sig *)tg__alloc(sizeof(tg__jit_sig) * (size_t)(n_in ? n_in : 1));
      j->out_sig = (tg__jit_sig *)tg__alloc(sizeof(tg__jit_sig) * (size_t)(n_out ? n_out : 1));
      for (int i = 0; i < n_in; i++) tg__jit_sig_of(inputs[i], &j->in_sig[i]);
      for (int i = 0; i < n_out; i++) tg__jit_sig_of(outputs[i], &j->out_sig[i]);
    }
  } else if (rc == 0 && j->ncalls_made == 1) {
    rc = tg__jit_capture(j, inputs, n_in, outputs, n_out, inb);
    for (int i = 0; rc == 0 && i < n_out; i++) {
      tg__jit_sig s;
      tg__jit_sig_of(outputs[i], &s);
      if (!tg__jit_sig_eq(&s, &j->out_sig[i])) {
        tg__set_error("tg_jit_run: output %d changed its shape or dtype between the first two calls", i);
        tg__jit_forget(j);
        rc = -1;
      }
    }
  } else if (rc == 0) {
    rc = tg__jit_replay(j, inb, outputs, n_out);
  }
  if (inb != stack) TG_FREE(inb);
  if (rc == 0) j->ncalls_made++;
  return rc;
}
