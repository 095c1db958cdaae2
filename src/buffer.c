/* buffer.c: buffers, their memory and their versions (layer 2, beside uop.c: BUFFER nodes hold buffers).
 *
 * Contract:
 *  - A buffer (tg__buffer, internal.h) is reference counted: tg__buffer_new gives one reference to its caller, every
 *    BUFFER node holds one (tg__buffer_retain / tg__buffer_release), and the last release gives its memory back.
 *  - Its nbytes = numel * dtype size of device memory are allocated lazily (tg__buffer_ensure) through the device's
 *    allocator (tg__dev_alloc, device.c: this file calls no device code). Memory of freed buffers is kept by exact
 *    size in an allocation cache and handed to the next buffer of that size, as tinygrad's LRU allocator does.
 *  - Versions: every in-place assignment moves a buffer to its next version, and a BUFFER node names the version it
 *    reads, so a graph built on the old contents and one built on the new never share a cached result. `written` is
 *    the version at which the contents last changed: a graph that reads an older version is stale
 *    (tg__buffer_check_read), since it would silently compute with the new contents.
 *  - Views (tinygrad's Buffer.view): tg__buffer_view_new makes a buffer whose memory is a byte range of another's
 *    (through the device's optional `offset`), holding a reference to it. Values never change behind a tensor's back:
 *    whoever writes a buffer in place (an assignment's kernel, a JIT replay, a state dict load, an overwrite from the
 *    host) calls tg__buffer_unshare first, which gives the views involved memory of their own (a copy, through the
 *    host: rare).
 *  - The fields of a buffer are read anywhere, but changed only here.
 *  - Nothing here prints, aborts or exits: failures are tg__set_error plus NULL / -1. */
#include "internal.h"

// ---------------------------------------------------------------------------------------------------------------------
// device memory: the only calls into a device's allocator and copies. A failure is an error naming the device and
// the call, with what the device said (tg_device_error: the serial number tells whether it said anything).

TG__PRIVATE void tg__dev_failed(tg__device *d, unsigned serial, const char *what) {
  char ctx[256];
  snprintf(ctx, sizeof ctx, "device '%s': %s", d->name, what);
  if (tg__error_serial() != serial) tg__error_context(ctx);
  else tg__set_error("%s failed (the device said nothing more)", ctx);
}

static int64_t tg__dev_held; /* bytes the devices' allocators handed out and did not get back */

TG__PRIVATE void *tg__dev_alloc(tg__device *d, size_t nbytes) {
  unsigned s = tg__error_serial();
  void *p = d->desc.alloc(d->desc.ctx, nbytes);
  if (!p) {
    char what[64];
    snprintf(what, sizeof what, "alloc of %zu bytes", nbytes);
    tg__dev_failed(d, s, what);
  }
  if (p) tg__dev_held += (int64_t)nbytes;
  return p;
}

TG__PRIVATE void tg__dev_free(tg__device *d, void *ptr, size_t nbytes) {
  if (!ptr) return;
  d->desc.free(d->desc.ctx, ptr);
  tg__dev_held -= (int64_t)nbytes;
}

TG__PRIVATE int tg__dev_copy_in(tg__device *d, void *dst, const void *src, size_t nbytes) {
  unsigned s = tg__error_serial();
  if (d->desc.copy_in(d->desc.ctx, dst, src, nbytes) == 0) return 0;
  tg__dev_failed(d, s, "copy in");
  return -1;
}

TG__PRIVATE int tg__dev_copy_out(tg__device *d, void *dst, const void *src, size_t nbytes) {
  unsigned s = tg__error_serial();
  if (d->desc.copy_out(d->desc.ctx, dst, src, nbytes) == 0) return 0;
  tg__dev_failed(d, s, "copy out (or a kernel before it)");
  return -1;
}

TG__PRIVATE void *tg__dev_offset(tg__device *d, void *ptr, size_t bytes) {
  return d->desc.offset ? d->desc.offset(d->desc.ctx, ptr, bytes) : NULL;
}


// ---------------------------------------------------------------------------------------------------------------------
// lifetime

static int64_t tg__next_buffer_id;
static int64_t tg__alloc_bytes; /* handed out, ever */

TG__PRIVATE tg__buffer *tg__buffer_new(tg__device *dev, tg_dtype dt, int64_t numel) {
  if (!dev) {
    tg__set_error("buffer: no device");
    return NULL;
  }
  if ((int)dt < 0 || (int)dt >= TG_NDTYPES) {
    tg__set_error("buffer: invalid dtype %d", (int)dt);
    return NULL;
  }
  size_t esize = (size_t)tg_dtype_size(dt);
  if (numel < 0 || (esize && (uint64_t)numel > (uint64_t)(SIZE_MAX / esize))) {
    tg__set_error("buffer: cannot hold %lld elements of %d bytes on %s", (long long)numel, (int)esize, dev->name);
    return NULL;
  }
  tg__buffer *b = (tg__buffer *)tg__alloc(sizeof *b);
  b->dev = dev;
  b->dtype = dt;
  b->numel = numel;
  b->nbytes = (size_t)numel * esize;
  b->ptr = NULL;
  b->refcount = 1;
  b->id = ++tg__next_buffer_id;
  return b;
}

TG__PRIVATE int64_t tg__buffer_new_id_peek(void) { return tg__next_buffer_id + 1; }
TG__PRIVATE int64_t tg__stat_alloc_bytes(int64_t add) { return tg__alloc_bytes += add; }

TG__PRIVATE tg__buffer *tg__buffer_retain(tg__buffer *b) {
  b->refcount++;
  return b;
}

/* a view leaves its base's list of views and gives its reference to the base back */
static void tg__view_unlink(tg__buffer *v) {
  tg__buffer **p = &v->base->views;
  while (*p != v) p = &(*p)->next_view;
  *p = v->next_view;
  tg__buffer_release(v->base);
  v->base = NULL, v->offset = 0, v->next_view = NULL;
}

TG__PRIVATE void tg__buffer_release(tg__buffer *b) {
  if (!b) return;
  TG__ASSERT(b->refcount > 0);
  if (--b->refcount > 0) return;
  TG__ASSERT(!b->views); /* each view holds a reference */
  if (b->base) {
    b->ptr = NULL; /* the base's memory */
    tg__view_unlink(b);
  }
  tg__buffer_drop_memory(b);
  TG_FREE(b);
}

// ---------------------------------------------------------------------------------------------------------------------
// the allocation cache: device memory of freed buffers is kept (by exact size) and handed to the next buffer of that
// size, as tinygrad's LRU allocator does. Fresh memory costs page faults on first touch, which on a VM can cost more
// than the kernel that writes it; a training step allocates the same sizes every time.

#define TG__CACHE_SLOTS 256
#define TG__CACHE_BYTES ((size_t)2 << 30)
static tg__memory tg__cache[TG__CACHE_SLOTS];
static int tg__ncached;
static size_t tg__memory_bytes;
static int tg__cache_registered;

static void tg__cache_evict(int i) {
  tg__dev_free(tg__cache[i].dev, tg__cache[i].ptr, tg__cache[i].nbytes);
  tg__memory_bytes -= tg__cache[i].nbytes;
  tg__cache[i] = tg__cache[--tg__ncached];
}

static void tg__cache_flush(void) {
  while (tg__ncached) tg__cache_evict(tg__ncached - 1);
}

static void tg__cache_put(tg__device *dev, void *ptr, size_t nbytes) {
  if (!tg__cache_registered) {
    atexit(tg__cache_flush);
    tg__set_release_hook(tg__cache_flush); /* host memory runs out: the CPU's cached buffers go first */
    tg__cache_registered = 1;
  }
  if (nbytes > TG__CACHE_BYTES / 4) {
    tg__dev_free(dev, ptr, nbytes);
    return;
  }
  while (tg__ncached && (tg__ncached == TG__CACHE_SLOTS || tg__memory_bytes + nbytes > TG__CACHE_BYTES))
    tg__cache_evict(0); /* the oldest */
  tg__cache[tg__ncached].dev = dev;
  tg__cache[tg__ncached].ptr = ptr;
  tg__cache[tg__ncached++].nbytes = nbytes;
  tg__memory_bytes += nbytes;
}

/* device memory that buffers hold now (what the allocators handed out, less the cache's): DEBUG=2's "mem" */
TG__PRIVATE int64_t tg__mem_used(void) { return tg__dev_held - (int64_t)tg__memory_bytes; }

static void *tg__cache_take(tg__device *dev, size_t nbytes) {
  for (int i = tg__ncached - 1; i >= 0; i--) /* the most recent first: its pages are warm */
    if (tg__cache[i].dev == dev && tg__cache[i].nbytes == nbytes) {
      void *p = tg__cache[i].ptr;
      tg__memory_bytes -= nbytes;
      memmove(&tg__cache[i], &tg__cache[i + 1], sizeof(tg__memory) * (size_t)(tg__ncached - i - 1));
      tg__ncached--;
      return p;
    }
  return NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// views: a buffer whose memory is a range of another's (tinygrad's Buffer.view), so that realising a contiguous range
// of a realised buffer (a row slice, a chunk of split, a bitcast) copies nothing

TG__PRIVATE tg__buffer *tg__buffer_view_new(tg__buffer *base, size_t offset, tg_dtype dt, int64_t numel) {
  if (base->base) offset += base->offset, base = base->base;
  size_t esize = (size_t)tg_dtype_size(dt);
  if (!base->dev->desc.offset || numel < 0 || (uint64_t)numel > (uint64_t)(SIZE_MAX / (esize ? esize : 1)) ||
      offset > base->nbytes || (size_t)numel * esize > base->nbytes - offset || tg__buffer_ensure(base) < 0)
    return NULL;
  void *ptr = tg__dev_offset(base->dev, base->ptr, offset);
  if (!ptr) return NULL;
  tg__buffer *v = tg__buffer_new(base->dev, dt, numel);
  if (!v) return NULL;
  v->ptr = ptr;
  v->base = tg__buffer_retain(base);
  v->offset = offset;
  v->next_view = base->views;
  base->views = v;
  return v;
}

/* view v gets memory of its own holding its bytes, and leaves its base: 0 or -1 (v unchanged) */
static int tg__view_detach(tg__buffer *v) {
  size_t n = v->nbytes ? v->nbytes : 1;
  void *mem = tg__cache_take(v->dev, n), *tmp = NULL;
  if (!mem) mem = tg__dev_alloc(v->dev, n);
  int rc = mem ? 0 : -1;
  if (rc == 0 && v->nbytes) { /* through the host: the devices copy only to and from it (a write into a viewed
                                 buffer is rare) */
    tmp = tg__try_alloc("buffer", v->nbytes);
    rc = !tmp || tg__dev_copy_out(v->dev, tmp, v->ptr, v->nbytes) < 0 ||
                 tg__dev_copy_in(v->dev, mem, tmp, v->nbytes) < 0
             ? -1
             : 0;
  }
  TG_FREE(tmp);
  if (rc < 0) {
    if (mem) tg__cache_put(v->dev, mem, n);
    if (!tg__has_error()) tg__set_error("buffer: cannot give a view of %zu bytes memory of its own", v->nbytes);
    return -1;
  }
  tg__stat_alloc_bytes((int64_t)n);
  tg__view_unlink(v);
  v->ptr = mem;
  return 0;
}

TG__PRIVATE int tg__buffer_unshare(tg__buffer *b) {
  if (b->base && tg__view_detach(b) < 0) return -1;
  while (b->views)
    if (tg__view_detach(b->views) < 0) return -1;
  return 0;
}

/* memory a plan holds between launches (device.c): taken from a buffer, given to another or back to the cache */
TG__PRIVATE tg__memory tg__buffer_take_memory(tg__buffer *b) {
  TG__ASSERT(!b->base); /* plans move the memory of a schedule's intermediates, never of a view */
  tg__memory m = {b->dev, b->ptr, b->nbytes ? b->nbytes : 1};
  b->ptr = NULL;
  return m;
}
TG__PRIVATE void tg__buffer_give_memory(tg__buffer *b, const tg__memory *m) { b->ptr = m->ptr; }
TG__PRIVATE void tg__memory_give_back(const tg__memory *m) { tg__cache_put(m->dev, m->ptr, m->nbytes); }

TG__PRIVATE int tg__buffer_ensure(tg__buffer *b) {
  if (!b) {
    tg__set_error("buffer: NULL buffer");
    return -1;
  }
  if (b->ptr) return 0;
  size_t n = b->nbytes ? b->nbytes : 1;
  if (tg__fault(TG__FAULT_DEVICE_ALLOC)) {
    tg__set_error("%s alloc: cannot allocate %zu bytes (injected fault)", b->dev->name, n);
    return -1;
  }
  b->ptr = tg__cache_take(b->dev, n);
  if (!b->ptr) b->ptr = tg__dev_alloc(b->dev, n); /* the device records why on failure */
  tg__stat_alloc_bytes((int64_t)n);
  if (!b->ptr && tg__ncached) { /* out of memory: give the cache back and try once more */
    tg__cache_flush();
    tg_clear_error();
    b->ptr = tg__dev_alloc(b->dev, n);
  }
  return b->ptr ? 0 : -1;
}

/* gives a buffer's memory back to the cache; the buffer stays valid and allocates again when next used */
TG__PRIVATE void tg__buffer_drop_memory(tg__buffer *b) {
  if (!b || !b->ptr || b->base) return; /* a view's memory is its base's */
  tg__cache_put(b->dev, b->ptr, b->nbytes ? b->nbytes : 1);
  b->ptr = NULL;
}

// ---------------------------------------------------------------------------------------------------------------------
// copies between the host and a buffer

TG__PRIVATE int tg__buffer_copyin(tg__buffer *b, const void *src) {
  if (tg__buffer_ensure(b) < 0) return -1;
  if (!b->nbytes) return 0;
  if (!src) {
    tg__set_error("buffer copy in: NULL source for %zu bytes", b->nbytes);
    return -1;
  }
  return tg__dev_copy_in(b->dev, b->ptr, src, b->nbytes);
}

TG__PRIVATE int tg__buffer_copyout(tg__buffer *b, void *dst) {
  if (tg__buffer_ensure(b) < 0) return -1;
  if (!b->nbytes) return 0;
  if (!dst) {
    tg__set_error("buffer copy out: NULL destination for %zu bytes", b->nbytes);
    return -1;
  }
  return tg__dev_copy_out(b->dev, dst, b->ptr, b->nbytes);
}

// ---------------------------------------------------------------------------------------------------------------------
// versions and views

/* the BUFFER node of b at its current version */
TG__PRIVATE tg__uop *tg__buffer_uop_of(tg__buffer *b) {
  tg__arg a;
  memset(&a, 0, sizeof a);
  a.ptr = b;
  a.i = b->version;
  return tg__uop0(TG__OP_BUFFER, b->dtype, &a);
}

/* the BUFFER under a chain of reshapes (a plain view of a buffer), or NULL */
TG__PRIVATE tg__uop *tg__view_buffer(tg__uop *u) {
  while (u->op == TG__OP_RESHAPE) u = u->src[0];
  return u->op == TG__OP_BUFFER ? u : NULL;
}
TG__PRIVATE tg__uop *tg__movement_buffer(tg__uop *u) {
  while (tg__op_is_movement(u->op)) u = u->src[0];
  return u->op == TG__OP_BUFFER ? u : NULL;
}

TG__PRIVATE tg__uop *tg__rebase_view(tg__uop *view, tg__uop *base) {
  if (!tg__op_is_movement(view->op)) return base;
  tg__uop *s[1 + 2 * TG_MAX_DIMS];
  for (int i = 0; i < view->nsrc; i++) s[i] = i ? view->src[i] : tg__rebase_view(view->src[0], base);
  return tg__uop_new(view->op, view->dtype, view->nsrc, s, &view->arg);
}

/* b moves to its next version; when the contents changed, graphs built on the older versions are stale */
TG__PRIVATE void tg__buffer_advance(tg__buffer *b, int contents_changed) {
  b->version++;
  if (contents_changed) b->written = b->version;
}

/* an assignment was scheduled into b: b moves to its next version, whose contents will be new; *undo records what
 * tg__buffer_undo puts back if the kernel never runs */
TG__PRIVATE void tg__buffer_assign(tg__buffer *b, tg__buffer_undo *undo) {
  undo->buf = b;
  undo->version = b->version;
  undo->written = b->written;
  b->written = ++b->version;
}

TG__PRIVATE void tg__buffer_undo_assign(tg__buffer_undo *undo) {
  if (!undo->buf) return;
  undo->buf->version = undo->version;
  undo->buf->written = undo->written;
  undo->buf = NULL;
}

/* u (a BUFFER node) may be read: 0, or -1 with an error when it names a version older than the buffer's last write */
TG__PRIVATE int tg__buffer_check_read(const tg__uop *u) {
  const tg__buffer *b = (const tg__buffer *)u->arg.ptr;
  if (u->arg.i >= b->written) return 0;
  tg__set_error("tg_realize: this tensor reads buffer %lld as it was before an assignment that has run since "
                "(version %lld, now %lld); HINT: realise it before the assignment runs (tg_realize), or build it "
                "after", (long long)b->id, (long long)u->arg.i, (long long)b->version);
  return -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// the variable tables: one int32 buffer of TG__MAX_VARS slots per device, which kernels of symbolic shapes read

typedef struct tg__vtab { tg__device *dev; tg__buffer *buf; int32_t shadow[TG__MAX_VARS]; int fresh; } tg__vtab;
static tg__vtab tg__vtabs[8];
static int tg__nvtabs;

TG__PRIVATE tg__buffer *tg__var_table(tg__device *dev) {
  for (int i = 0; i < tg__nvtabs; i++)
    if (tg__vtabs[i].dev == dev) return tg__vtabs[i].buf;
  if (tg__nvtabs == TG__COUNT(tg__vtabs)) {
    tg__set_error("tg_realize: variables are used on more than %d devices", TG__COUNT(tg__vtabs));
    return NULL;
  }
  tg__buffer *b = tg__buffer_new(dev, TG_INT32, TG__MAX_VARS);
  if (!b) return NULL;
  tg__vtab *t = &tg__vtabs[tg__nvtabs++];
  memset(t, 0, sizeof *t);
  t->dev = dev;
  t->buf = b; /* the table's own reference, kept for the program's life */
  return b;
}

TG__PRIVATE int tg__is_var_table(const tg__buffer *b) {
  for (int i = 0; i < tg__nvtabs; i++)
    if (tg__vtabs[i].buf == b) return 1;
  return 0;
}

TG__PRIVATE int tg__var_table_write(tg__buffer *b, const int64_t *vals) {
  tg__vtab *t = NULL;
  for (int i = 0; i < tg__nvtabs && !t; i++)
    if (tg__vtabs[i].buf == b) t = &tg__vtabs[i];
  if (!t) return 0;
  int changed = !t->fresh;
  for (int i = 0; i < TG__MAX_VARS; i++) {
    int64_t v = vals ? vals[i] : (tg__var_slot(i)->bound ? tg__var_slot(i)->value : -1);
    if (v >= 0 && t->shadow[i] != (int32_t)v) t->shadow[i] = (int32_t)v, changed = 1;
  }
  if (!changed) return 0;
  if (tg__buffer_ensure(b) < 0 || tg__buffer_copyin(b, t->shadow) < 0) return -1;
  t->fresh = 1;
  return 0;
}
