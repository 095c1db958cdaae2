/* autograd.c: the tensor-level autograd API (layer 5): requires_grad, grad, backward, gradient, detach and the
 * no-grad mode, as tinygrad's Tensor.backward / Tensor.gradient.
 *
 * Contract: the derivatives themselves are gradient.c's (tg__gradients, a rule table over nodes); this file finds
 * which tensors want gradients, calls it once per backward pass, and accumulates the results into each tensor's grad
 * (a tensor of the user's, freed with it). Gradients are lazy like everything else. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// the no-grad mode and the flags

static int tg__grad_on = 1;
TG__PRIVATE int tg__grad_enabled(void) { return tg__grad_on; }
int tg_set_grad_enabled(int on) {
  TG__LOCKED();
  int prev = tg__grad_on;
  tg__grad_on = on != 0;
  return prev;
}

tg_tensor *tg_requires_grad(tg_tensor *t, int on) {
  TG__LOCKED();
  TG__NEED("tg_requires_grad", t);
  if (on && !tg_dtype_is_float(t->uop->dtype)) {
    tg__set_error("tg_requires_grad: only float tensors have gradients, this one is %s", tg_dtype_name(t->uop->dtype));
    return NULL;
  }
  /* a constant is one hash-consed node for every tensor built alike: as a leaf it needs a buffer of its own, or two
   * biases made by tg_zeros would share one gradient */
  if (on && !tg__uop_reads_buffer(t->uop, NULL) && tg__own_buffer("tg_requires_grad", t) < 0) return NULL;
  t->requires_grad = on != 0;
  return t;
}

tg_tensor *tg_grad(tg_tensor *t) {
  TG__LOCKED();
  if (!t) return tg__null("tg_grad");
  if (!t->grad)
    tg__set_error("tg_grad: the tensor has no gradient. HINT: mark it with tg_requires_grad and call tg_backward on a "
                  "loss that depends on it");
  return t->grad;
}

void tg_zero_grad(tg_tensor *t) {
  TG__LOCKED();
  if (!t || !t->grad) return;
  tg_tensor *g = t->grad;
  t->grad = NULL;
  tg_free(g);
}

tg_tensor *tg_detach(tg_tensor *t) {
  TG__LOCKED();
  TG__NEED("tg_detach", t);
  return tg__tensor_wrap(tg__uop1(TG__OP_DETACH, t->uop->dtype, t->uop, NULL), t->dev);
}

/* index[v] = the node of a graph (order) that holds v's value: each node itself, and a realised node under the buffer
 * it became. A tensor written by tg_assign holds its buffer once the assignment is realised, while a graph built before
 * (a loss computed from the tensor, then read, which realised the assignment) holds the ASSIGN node. */
static void tg__index_graph(const tg__vec *order, tg__map *index) {
  for (int i = 0; i < order->n; i++) tg__map_put(index, order->items[i], order->items[i]);
  for (int i = 0; i < order->n; i++) {
    tg__uop *u = (tg__uop *)order->items[i], *b = tg__base(u);
    if (b != u && !tg__map_get(index, b)) tg__map_put(index, b, u);
  }
}

static int tg__check_out(const char *fn, tg_tensor *out) {
  if (!out) {
    tg__null(fn);
    return -1;
  }
  if (!tg_dtype_is_float(out->uop->dtype)) {
    tg__set_error("%s: the output must be a float tensor, it is %s", fn, tg_dtype_name(out->uop->dtype));
    return -1;
  }
  return 0;
}

int tg_gradient(tg_tensor *out, tg_tensor **wrt, int n, tg_tensor **grads) {
  TG__LOCKED();
  if (tg__check_out("tg_gradient", out) < 0) return -1;
  if (n < 0 || n > 4096 || (n && (!wrt || !grads))) {
    tg__set_error("tg_gradient: bad list of %d tensors", n);
    return -1;
  }
  tg__uop **w = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  tg__uop **g = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  tg__vec order;
  tg__map index;
  memset(&order, 0, sizeof order);
  memset(&index, 0, sizeof index);
  tg__uop_toposort(out->uop, &order);
  tg__index_graph(&order, &index);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    if (!wrt[i]) rc = (tg__null("tg_gradient"), -1);
    else if (!tg_dtype_is_float(wrt[i]->uop->dtype))
      rc = (tg__set_error("tg_gradient: only float tensors have gradients, wrt[%d] is %s", i,
                          tg_dtype_name(wrt[i]->uop->dtype)), -1);
    else w[i] = tg__map_get(&index, wrt[i]->uop) ? (tg__uop *)tg__map_get(&index, wrt[i]->uop) : wrt[i]->uop;
  }
  tg__map_free(&index);
  tg__vec_free(&order);
  if (rc == 0) rc = tg__gradients(out->uop, tg__tfull_like(out->uop, 1, out->uop->dtype), w, n, g);
  for (int i = 0; i < n; i++) grads[i] = rc == 0 ? tg__tensor_wrap(g[i], wrt[i]->dev) : NULL;
  TG_FREE(w);
  TG_FREE(g);
  return rc;
}

/* grads accumulate: a second backward adds to what the first left, as in tinygrad and PyTorch */
int tg_backward(tg_tensor *loss) {
  TG__LOCKED();
  if (tg__check_out("tg_backward", loss) < 0) return -1;
  if (loss->uop->ndim != 0) {
    char b[128];
    tg__set_error("tg_backward: the loss must be a scalar, it has shape %s; HINT: reduce it (tg_mean or tg_sum)",
                  TG__SHAPE(loss->uop, b));
    return -1;
  }
  /* the leaves: live tensors that require grad and appear in the loss's graph (nodes[i]: where) */
  tg__vec order, targets, nodes;
  memset(&order, 0, sizeof order);
  memset(&targets, 0, sizeof targets);
  memset(&nodes, 0, sizeof nodes);
  tg__uop_toposort(loss->uop, &order);
  tg__map index, wanted, on_path;
  memset(&index, 0, sizeof index);
  memset(&wanted, 0, sizeof wanted);
  memset(&on_path, 0, sizeof on_path);
  tg__index_graph(&order, &index);
  for (tg_tensor *t = tg__tensor_list(); t; t = t->next) {
    tg__uop *node = t->requires_grad ? (tg__uop *)tg__map_get(&index, t->uop) : NULL;
    if (!node) continue;
    tg__vec_push(&targets, t);
    tg__vec_push(&nodes, node);
    tg__map_put(&wanted, node, (void *)1);
  }
  /* as PyTorch: a loss that does not depend on them (or only through tg_detach or no-grad mode) is a mistake */
  tg__grad_path(&order, &wanted, &on_path);
  int reached = tg__map_get(&on_path, loss->uop) != NULL;
  tg__map_free(&index);
  tg__map_free(&wanted);
  tg__map_free(&on_path);
  tg__vec_free(&order);
  if (!reached) {
    tg__set_error("tg_backward: nothing the loss depends on requires grad (%s); HINT: tg_requires_grad(t, 1) on the "
                  "parameters, and compute the loss outside tg_set_grad_enabled(0) and tg_detach",
                  targets.n ? "only through tg_detach or no-grad mode" : "no tensor of its graph");
    tg__vec_free(&targets);
    tg__vec_free(&nodes);
    return -1;
  }
  int n = targets.n, rc = 0;
  tg__uop **w = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  tg__uop **g = (tg__uop **)tg__alloc(sizeof(tg__uop *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) w[i] = (tg__uop *)nodes.items[i];
  rc = tg__gradients(loss->uop, tg__tfull_like(loss->uop, 1, loss->uop->dtype), w, n, g);
  for (int i = 0; i < n && rc == 0; i++) {
    tg_tensor *t = (tg_tensor *)targets.items[i];
    tg__uop *gi = tg__tcast(g[i], t->uop->dtype);
    if (t->grad) gi = tg__talu(TG__OP_ADD, t->grad->uop, gi);
    if (!t->grad) {
      t->grad = tg__tensor_wrap(gi, t->dev);
      while (t->grad && t->grad->scope > 0) tg_keep(t->grad); /* owned by t, never by a scope */
    } else {
      t->grad->uop = gi;
    }
  }
  TG_FREE(w);
  TG_FREE(g);
  tg__vec_free(&targets);
  tg__vec_free(&nodes);
  return rc;
}
