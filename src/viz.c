/* viz.c: VIZ, the graph-rewrite recorder and its viewer page, and PROFILE's timeline of launches (layer 2, beside the
 * pattern matcher that reports to it; tinygrad's viz/ and TRACK_MATCH_STATS=2).
 *
 * Contract:
 *  - Recording is on while VIZ is non-zero (1: the page, -1: the data as JSON; the environment, or
 *    tg_set_setting("VIZ", v)) and PROFILE=1 records the launches alone. Nothing is recorded, and nothing costs more
 *    than a pointer test, otherwise.
 *  - Contexts: tg__viz_begin() opens one (a schedule, or one kernel's code generation in realize.c) and
 *    tg__viz_end() names it, with the kernel's device, Opts and source. Only rewrites inside a context are recorded
 *    (BEAM's candidates and the small simplifications of tensor creation are not).
 *  - pattern.c reports each graph rewrite (tg__viz_rewrite_begin/_end: the matchers' names, the root before and the
 *    result), each rule that fired (tg__viz_step: the node before, the node the rule returned, the rule's file:line
 *    and pattern, whether a pre-order rule) and each node it left opaque. A rewrite in which no rule fired is
 *    dropped. Every node named is kept as text at once, with the sources below it ([id, op, dtype, arg, argument
 *    key, sources, shape]): nodes are freed by the collector, their ids are never reused. From a rewrite's root and
 *    steps the viewer rebuilds the graph after each step (rewriting as pattern.c does with the recorded replacements
 *    in place of the rules: tests/internal_viz.c checks that this gives the recorded result, for every rewrite).
 *  - Launches (tg__viz_launch): device, kernel name, start and duration, in µs from the first event.
 *  - tg__viz_write(fn, path, json) writes the page (viz/index.html with the data inside, one file, no network) or
 *    the JSON, whole or not at all. At exit, a process that recorded writes $VIZ_PATH, else
 *    $TMPDIR/tinygrad-viz-<pid>.html (.json for VIZ=-1), and prints its path on stderr, unless VIZ and PROFILE are
 *    off by then (a program that turned them off wrote what it wanted with tg_viz_write).
 *  - Bounded: past 2 million steps or 512 MiB of text the recorder stops adding rewrites (the page says it was cut);
 *    launches stop at 4 million.
 *  - Called under the library's lock (pattern.c and realize.c run under it); nothing here aborts. */
#include "internal.h"

#include <unistd.h> // getpid: the default file name

typedef struct tg__viz_srec {
  int64_t before, after;
  int rule; /* index into tg__V.rules */
  int pre;  /* a pre-order rule (graph_rewrite_pre's): it replaced the node before its sources were visited */
} tg__viz_srec;

typedef struct tg__viz_rw {
  char name[96];
  int ctx;
  int64_t root, result;
  tg__uop *rootp; /* alive while the rewrite runs: written when the first rule fires */
  tg__viz_srec *steps;
  int nsteps, capsteps;
  int64_t *opaque;
  int nopaque, capopaque;
  int done;
} tg__viz_rw;

typedef struct tg__viz_ctx {
  char *name, *kind, *device, *opts, *source;
} tg__viz_ctx;

typedef struct tg__viz_launch_rec {
  char *device, *name;
  uint64_t ts, dur; /* ns from the first event; written as µs with three decimals */
} tg__viz_launch_rec;

static struct {
  int atexit_set, cut;
  uint64_t t0;
  tg__str uops;  /* the nodes' JSON arrays, comma-separated */
  tg__map seen;  /* node id + 1 -> 1 once its text is in uops */
  int64_t nuops;
  const tg__rule **rules;
  int nrules, caprules;
  tg__map rule_ix; /* rule -> index + 1 */
  tg__viz_ctx *ctxs;
  int nctx, capctx, open; /* the context recording now + 1; 0: none */
  tg__viz_rw *rws;
  int nrw, caprw;
  int stack[32], depth; /* the rewrites open now (a rule's function may rewrite: symbolic simplifications) */
  int64_t total_steps;
  tg__viz_launch_rec *launches;
  int nlaunch, caplaunch;
} tg__V;

TG__PRIVATE int tg__viz_mode(void) { return tg__getenv_int("VIZ", 0); }
TG__PRIVATE int tg__viz_profiling(void) { return tg__viz_mode() != 0 || tg__getenv_int("PROFILE", 0) > 0; }

static void tg__viz_atexit(void);
static int64_t tg__viz_max_steps = 2000000; /* the recording's bound (the tests lower it) */

static void tg__viz_started(void) {
  if (!tg__V.t0) tg__V.t0 = tg__now_ns();
  if (!tg__V.atexit_set) {
    tg__V.atexit_set = 1;
    atexit(tg__viz_atexit);
  }
}

static void *tg__viz_grow(void *p, int *cap, int need, size_t elem) {
  if (need <= *cap) return p;
  int c = *cap ? *cap * 2 : 16;
  while (c < need) c *= 2;
  *cap = c;
  return tg__realloc(p, elem * (size_t)c);
}

// ---------------------------------------------------------------------------------------------------------------------
// JSON text

static void tg__json_str(tg__str *b, const char *s) {
  tg__str_cat(b, "\"");
  char chunk[256];
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (n + 8 > sizeof chunk) {
      chunk[n] = 0;
      tg__str_cat(b, chunk);
      n = 0;
    }
    unsigned char c = *p;
    if (c == '"' || c == '\\') chunk[n++] = '\\', chunk[n++] = (char)c;
    else if (c == '\n') chunk[n++] = '\\', chunk[n++] = 'n';
    else if (c == '\t') chunk[n++] = '\\', chunk[n++] = 't';
    else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c >= 0x80) /* no "</script>" can end the page's data */
      n += (size_t)snprintf(chunk + n, sizeof chunk - n, "\\u%04x", c);
    else chunk[n++] = (char)c;
  }
  chunk[n] = 0;
  tg__str_cat(b, chunk);
  tg__str_cat(b, "\"");
}

/* node u and every node below it that is not written yet, sources first */
static void tg__viz_node(tg__uop *root) {
  if (tg__map_get(&tg__V.seen, (const void *)(uintptr_t)(root->id + 1))) return;
  tg__vec order;
  memset(&order, 0, sizeof order);
  tg__uop_toposort(root, &order);
  tg__str arg;
  memset(&arg, 0, sizeof arg);
  for (int i = 0; i < order.n; i++) {
    tg__uop *u = (tg__uop *)order.items[i];
    const void *key = (const void *)(uintptr_t)(u->id + 1);
    if (tg__map_get(&tg__V.seen, key)) continue;
    tg__map_put(&tg__V.seen, key, (void *)1);
    tg__uop_arg_str(&arg, u);
    char *a = tg__str_take(&arg);
    tg__str_printf(&tg__V.uops, "%s[%lld,\"%s\",\"%s\",", tg__V.nuops ? ",\n" : "", (long long)u->id,
                   tg__op_names[u->op], tg__dtypes[u->dtype].name);
    tg__json_str(&tg__V.uops, a[0] == ' ' ? a + 1 : a);
    TG_FREE(a);
    tg__str_printf(&tg__V.uops, ",\"%016llx\",[", (unsigned long long)tg__uop_arg_hash(u));
    for (int j = 0; j < u->nsrc; j++) tg__str_printf(&tg__V.uops, "%s%lld", j ? "," : "", (long long)u->src[j]->id);
    tg__str_cat(&tg__V.uops, "],");
    if (u->ndim < 0 || u->op == TG__OP_CONST) tg__str_cat(&tg__V.uops, "null]");
    else {
      tg__str_cat(&tg__V.uops, "[");
      for (int j = 0; j < u->ndim; j++) tg__str_printf(&tg__V.uops, "%s%lld", j ? "," : "", (long long)u->shape[j]);
      tg__str_cat(&tg__V.uops, "]]");
    }
    tg__V.nuops++;
  }
  tg__vec_free(&order);
}

// ---------------------------------------------------------------------------------------------------------------------
// contexts and rewrites

TG__PRIVATE int tg__viz_begin(void) {
  if (tg__viz_mode() == 0 || tg__V.open) return -1;
  tg__viz_started();
  tg__V.ctxs = (tg__viz_ctx *)tg__viz_grow(tg__V.ctxs, &tg__V.capctx, tg__V.nctx + 1, sizeof(tg__viz_ctx));
  memset(&tg__V.ctxs[tg__V.nctx], 0, sizeof(tg__viz_ctx));
  tg__V.open = ++tg__V.nctx;
  tg__pattern_viz(!tg__V.cut);
  return tg__V.open - 1;
}

TG__PRIVATE void tg__viz_end(int token, const char *kind, const char *name, const char *device, const char *opts,
                             const char *source) {
  if (token < 0 || token != tg__V.open - 1) return;
  tg__viz_ctx *c = &tg__V.ctxs[token];
  c->kind = tg__strdup(kind ? kind : "");
  c->name = tg__strdup(name ? name : "");
  c->device = tg__strdup(device ? device : "");
  c->opts = tg__strdup(opts ? opts : "");
  c->source = tg__strdup(source ? source : "");
  tg__V.open = 0;
  tg__pattern_viz(0);
  tg__V.depth = 0;
}

static const char *tg__viz_short(const char *name) { return strncmp(name, "tg__", 4) == 0 ? name + 4 : name; }

TG__PRIVATE void tg__viz_rewrite_begin(const char *m1, const char *m2, tg__uop *root) {
  int ix = -1; /* the rewrite's record, or -1: not recorded (past the limits, or nested too deep) */
  if (tg__V.total_steps >= tg__viz_max_steps || tg__V.uops.n > ((size_t)512 << 20)) {
    tg__V.cut = 1; /* the contexts after this one record nothing (tg__viz_begin) */
  } else if (tg__V.depth < (int)TG__COUNT(tg__V.stack)) {
    tg__V.rws = (tg__viz_rw *)tg__viz_grow(tg__V.rws, &tg__V.caprw, tg__V.nrw + 1, sizeof(tg__viz_rw));
    tg__viz_rw *r = &tg__V.rws[tg__V.nrw];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s%s%s", m1 ? tg__viz_short(m1) : "", m1 && m2 ? " + " : "",
             m2 ? tg__viz_short(m2) : "");
    r->ctx = tg__V.open - 1;
    r->root = root->id;
    r->rootp = root;
    ix = tg__V.nrw++;
  }
  if (tg__V.depth < (int)TG__COUNT(tg__V.stack)) tg__V.stack[tg__V.depth] = ix;
  tg__V.depth++; /* counted either way, so that every end pairs with its begin */
}

static tg__viz_rw *tg__viz_top(void) {
  if (tg__V.depth <= 0 || tg__V.depth > (int)TG__COUNT(tg__V.stack)) return NULL;
  int ix = tg__V.stack[tg__V.depth - 1];
  return ix < 0 ? NULL : &tg__V.rws[ix];
}

TG__PRIVATE void tg__viz_step(tg__uop *before, tg__uop *after, const tg__rule *rule, int pre) {
  tg__viz_rw *r = tg__viz_top();
  if (!r) return;
  if (!r->nsteps) tg__viz_node(r->rootp); /* the graph before: written once a rule fires in it */
  tg__viz_node(before);
  tg__viz_node(after);
  intptr_t ix = (intptr_t)tg__map_get(&tg__V.rule_ix, rule);
  if (!ix) {
    tg__V.rules = (const tg__rule **)tg__viz_grow(tg__V.rules, &tg__V.caprules, tg__V.nrules + 1, sizeof(void *));
    tg__V.rules[tg__V.nrules++] = rule;
    ix = tg__V.nrules;
    tg__map_put(&tg__V.rule_ix, rule, (void *)ix);
  }
  r->steps = (tg__viz_srec *)tg__viz_grow(r->steps, &r->capsteps, r->nsteps + 1, sizeof(tg__viz_srec));
  tg__viz_srec *s = &r->steps[r->nsteps++];
  s->before = before->id, s->after = after->id, s->rule = (int)ix - 1, s->pre = pre;
  tg__V.total_steps++;
}

TG__PRIVATE void tg__viz_opaque(tg__uop *u) {
  tg__viz_rw *r = tg__viz_top();
  if (!r) return;
  for (int i = 0; i < r->nopaque; i++)
    if (r->opaque[i] == u->id) return;
  r->opaque = (int64_t *)tg__viz_grow(r->opaque, &r->capopaque, r->nopaque + 1, sizeof(int64_t));
  r->opaque[r->nopaque++] = u->id;
}

TG__PRIVATE void tg__viz_rewrite_end(tg__uop *result) {
  if (tg__V.depth <= 0) return;
  tg__viz_rw *r = tg__viz_top();
  tg__V.depth--;
  if (!r) return;
  r->result = result->id;
  r->rootp = NULL;
  r->done = 1;
  if (r->nsteps) tg__viz_node(result);
  else if (r == &tg__V.rws[tg__V.nrw - 1]) { /* nothing fired: forgotten (the last one, or skipped when written) */
    TG_FREE(r->opaque);
    tg__V.nrw--;
  }
}

TG__PRIVATE void tg__viz_launch(const char *device, const char *name, uint64_t t0, uint64_t t1) {
  if (tg__V.nlaunch >= 4000000) return;
  tg__viz_started();
  tg__V.launches = (tg__viz_launch_rec *)tg__viz_grow(tg__V.launches, &tg__V.caplaunch, tg__V.nlaunch + 1,
                                                      sizeof(tg__viz_launch_rec));
  tg__viz_launch_rec *l = &tg__V.launches[tg__V.nlaunch++];
  l->device = tg__strdup(device ? device : "");
  l->name = tg__strdup(name ? name : "");
  l->ts = t0 > tg__V.t0 ? t0 - tg__V.t0 : 0;
  l->dur = t1 > t0 ? t1 - t0 : 0;
}

// ---------------------------------------------------------------------------------------------------------------------
// the internal view, for the tests

TG__PRIVATE int tg__viz_counts(int *nctx, int *nrw, int64_t *nsteps, int *nlaunch) {
  int n = 0;
  for (int i = 0; i < tg__V.nrw; i++) n += tg__V.rws[i].done && tg__V.rws[i].nsteps > 0;
  if (nctx) *nctx = tg__V.nctx;
  if (nrw) *nrw = n;
  if (nsteps) *nsteps = tg__V.total_steps;
  if (nlaunch) *nlaunch = tg__V.nlaunch;
  return tg__V.cut;
}

/* rewrite i (of those with steps): its root, result, steps and opaque nodes; -1 past the end */
TG__PRIVATE int tg__viz_rewrite_of(int i, int64_t *root, int64_t *result, const int64_t **opaque, int *nopaque,
                                   int *nsteps) {
  for (int k = 0; k < tg__V.nrw; k++) {
    const tg__viz_rw *r = &tg__V.rws[k];
    if (!r->done || !r->nsteps || i--) continue;
    *root = r->root, *result = r->result, *opaque = r->opaque, *nopaque = r->nopaque, *nsteps = r->nsteps;
    return k;
  }
  return -1;
}

TG__PRIVATE void tg__viz_step_of(int rw, int s, int64_t *before, int64_t *after, int *pre) {
  const tg__viz_srec *st = &tg__V.rws[rw].steps[s];
  *before = st->before, *after = st->after, *pre = st->pre;
}

TG__PRIVATE void tg__viz_reset(void) {
  for (int i = 0; i < tg__V.nctx; i++) {
    tg__viz_ctx *c = &tg__V.ctxs[i];
    TG_FREE(c->name), TG_FREE(c->kind), TG_FREE(c->device), TG_FREE(c->opts), TG_FREE(c->source);
  }
  for (int i = 0; i < tg__V.nrw; i++) TG_FREE(tg__V.rws[i].steps), TG_FREE(tg__V.rws[i].opaque);
  for (int i = 0; i < tg__V.nlaunch; i++) TG_FREE(tg__V.launches[i].device), TG_FREE(tg__V.launches[i].name);
  TG_FREE(tg__V.ctxs), TG_FREE(tg__V.rws), TG_FREE(tg__V.launches), TG_FREE(tg__V.rules);
  TG_FREE(tg__V.uops.s);
  tg__map_free(&tg__V.seen);
  tg__map_free(&tg__V.rule_ix);
  int atexit_set = tg__V.atexit_set;
  memset(&tg__V, 0, sizeof tg__V);
  tg__V.atexit_set = atexit_set;
  tg__pattern_viz(0);
}

// ---------------------------------------------------------------------------------------------------------------------
// writing

/* the data: {"version", "cut", "uops", "rules", "contexts": [{kind, name, device, opts, source, rewrites: [{name, root,
 * result, opaque, steps: [[before, after, rule, pre]]}]}], "launches": [[device, name, ts, dur]]} */
static char *tg__viz_json(void) {
  tg__str b;
  memset(&b, 0, sizeof b);
  tg__str_printf(&b, "{\"version\":1,\"library\":\"tinygrad.h %s\",\"cut\":%d,\n\"uops\":[\n", TG_VERSION, tg__V.cut);
  if (tg__V.uops.s) tg__str_cat(&b, tg__V.uops.s);
  tg__str_cat(&b, "],\n\"rules\":[");
  for (int i = 0; i < tg__V.nrules; i++) {
    const char *where = tg__V.rules[i]->where, *slash = strrchr(where, '/');
    tg__str_cat(&b, i ? ",\n[" : "\n[");
    tg__json_str(&b, slash ? slash + 1 : where);
    tg__str_cat(&b, ",");
    tg__json_str(&b, tg__V.rules[i]->pattern);
    tg__str_cat(&b, "]");
  }
  tg__str_cat(&b, "],\n\"contexts\":[");
  for (int c = 0; c < tg__V.nctx; c++) {
    const tg__viz_ctx *x = &tg__V.ctxs[c];
    tg__str_cat(&b, c ? ",\n{\"kind\":" : "\n{\"kind\":");
    tg__json_str(&b, x->kind ? x->kind : "unfinished");
    tg__str_cat(&b, ",\"name\":");
    tg__json_str(&b, x->name);
    tg__str_cat(&b, ",\"device\":");
    tg__json_str(&b, x->device);
    tg__str_cat(&b, ",\"opts\":");
    tg__json_str(&b, x->opts);
    tg__str_cat(&b, ",\"source\":");
    tg__json_str(&b, x->source);
    tg__str_cat(&b, ",\"rewrites\":[");
    int first = 1;
    for (int i = 0; i < tg__V.nrw; i++) {
      const tg__viz_rw *r = &tg__V.rws[i];
      if (r->ctx != c || !r->done || !r->nsteps) continue;
      tg__str_cat(&b, first ? "\n {\"name\":" : ",\n {\"name\":");
      first = 0;
      tg__json_str(&b, r->name);
      tg__str_printf(&b, ",\"root\":%lld,\"result\":%lld,\"opaque\":[", (long long)r->root, (long long)r->result);
      for (int j = 0; j < r->nopaque; j++) tg__str_printf(&b, "%s%lld", j ? "," : "", (long long)r->opaque[j]);
      tg__str_cat(&b, "],\"steps\":[");
      for (int j = 0; j < r->nsteps; j++)
        tg__str_printf(&b, "%s[%lld,%lld,%d,%d]", j ? "," : "", (long long)r->steps[j].before,
                       (long long)r->steps[j].after, r->steps[j].rule, r->steps[j].pre);
      tg__str_cat(&b, "]}");
    }
    tg__str_cat(&b, "]}");
  }
  tg__str_cat(&b, "],\n\"launches\":[");
  for (int i = 0; i < tg__V.nlaunch; i++) {
    const tg__viz_launch_rec *l = &tg__V.launches[i];
    tg__str_cat(&b, i ? ",\n[" : "\n[");
    tg__json_str(&b, l->device);
    tg__str_cat(&b, ",");
    tg__json_str(&b, l->name);
    /* integers: a program's LC_NUMERIC (a decimal comma) must not break the JSON */
    tg__str_printf(&b, ",%llu.%03llu,%llu.%03llu]", (unsigned long long)(l->ts / 1000),
                   (unsigned long long)(l->ts % 1000), (unsigned long long)(l->dur / 1000),
                   (unsigned long long)(l->dur % 1000));
  }
  tg__str_cat(&b, "]}\n");
  return tg__str_take(&b);
}

TG__PRIVATE int tg__viz_write(const char *fn, const char *path, int json) {
  if (!path || !path[0]) {
    tg__set_error("%s: the path is empty", fn);
    return -1;
  }
  char *data = tg__viz_json();
  tg__afile f;
  int rc = tg__afile_open(&f, fn, path);
  if (rc == 0 && json) rc = tg__afile_write(&f, data, strlen(data));
  for (int i = 0; rc == 0 && !json && tg__viz_page[i]; i++) {
    const char *line = tg__viz_page[i];
    if (strcmp(line, "@DATA@\n") == 0) rc = tg__afile_write(&f, data, strlen(data));
    else rc = tg__afile_write(&f, line, strlen(line));
  }
  if (rc == 0) rc = tg__afile_commit(&f);
  TG_FREE(data);
  return rc;
}

/* the path the exit handler writes: $VIZ_PATH, else $TMPDIR (or /tmp)/tinygrad-viz-<pid>.html or .json */
TG__PRIVATE void tg__viz_default_path(char *out, size_t n, int json) {
  const char *p = getenv("VIZ_PATH"), *tmp = getenv("TMPDIR");
  if (p && p[0]) snprintf(out, n, "%s", p);
  else snprintf(out, n, "%s/tinygrad-viz-%ld.%s", tmp && tmp[0] ? tmp : "/tmp", (long)getpid(), json ? "json" : "html");
}

static void tg__viz_atexit(void) {
  if ((!tg__V.nctx && !tg__V.nlaunch) || !tg__viz_profiling()) return; /* a program that turned VIZ off wrote its own */
  int json = tg__viz_mode() < 0;
  char path[4096];
  tg__viz_default_path(path, sizeof path, json);
  int nctx, nrw, nlaunch;
  int64_t nsteps;
  tg__viz_counts(&nctx, &nrw, &nsteps, &nlaunch);
  if (tg__viz_write("VIZ", path, json) == 0)
    fprintf(stderr, "tinygrad.h: VIZ: wrote %s (%d contexts, %d rewrites, %lld steps, %d launches)%s\n", path, nctx,
            nrw, (long long)nsteps, nlaunch, json ? "" : ": open it in a browser");
  else fprintf(stderr, "tinygrad.h: VIZ: %s\n", tg_error() ? tg_error() : "cannot write the page");
  tg__viz_reset();
}

int tg_viz_write(const char *path, int json) {
  TG__LOCKED();
  tg_clear_error();
  return tg__viz_write("tg_viz_write", path, json);
}
