#!/usr/bin/env python3
"""gen_nn.py: computes the golden values of tests/test_nn.c with the real tinygrad and writes tests/golden/golden_nn.h.

Contract:
  - Inputs are closed forms of the element index (sin, cos, small integer patterns), rounded to float32 and written into
    golden_nn.h, so the C tests use exactly the bytes the goldens were computed from.
  - Expected values come from the real tinygrad (CPU): forward values, and gradients of loss = sum(out * G) (G a fixed
    closed form, so that no gradient is trivially uniform) or of the scalar loss itself. Where tinygrad has no such
    function (adaptive_avg_pool2d, mse), numpy in float64 is the reference (PyTorch's definitions).
  - Layers run with their parameters replaced by closed forms (tinygrad's init is random).
  - The arrays are named g_nn_<case>_<what>; the shapes are in the comments and in test_nn.c.

Run: python3 tests/golden/gen_nn.py   (rewrites tests/golden/golden_nn.h next to this file)
"""
import math
import os
import sys

import numpy as np

os.environ.setdefault("DEV", "CPU")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import Out, f32  # noqa: E402  (the C emitter of gen.py)
from tinygrad import Tensor, dtypes, nn  # noqa: E402
from tinygrad.helpers import Context  # noqa: E402


def form(shape, a, s, off=0.1, fn=np.sin):
  """a closed-form float32 input: fn(i*a + off) * s over the flat index i"""
  n = int(np.prod(shape))
  return f32(fn(np.arange(n) * a + off) * s).reshape(shape)


def T(a, grad=False):
  return Tensor(np.asarray(a))  # tinygrad 0.14: backward fills .grad of every float tensor in the graph


def weighted(out, tag):
  """loss = sum(out * G) with G = cos(i*0.7 + 0.3) of out's shape; returns (loss, G)"""
  g = form(out.shape, 0.7, 1.0, 0.3, np.cos)
  return (out * Tensor(g)).sum(), g


class Case:
  def __init__(self, o, name):
    self.o, self.name = o, name

  def arr(self, what, a, ctype="float", note=""):
    self.o.arr(f"g_nn_{self.name}_{what}", a, ctype, note)


# ---------------------------------------------------------------------------------------------------------------------
# losses

def section_losses(o):
  c = Case(o, "ce")
  logits = form((4, 5), 0.37, 2.5)
  labels = np.array([1, 0, 4, 2], np.int32)
  c.arr("logits", logits, note="sin(i*0.37+0.1)*2.5")
  c.arr("labels", labels, "int32_t")
  for ls, tag in [(0.0, "idx"), (0.1, "idx_ls")]:
    x = T(logits, True)
    loss = x.cross_entropy(T(labels), label_smoothing=ls)
    loss.backward()
    c.arr(f"{tag}_loss", [loss.numpy()], note=f"cross_entropy(logits, labels, ls={ls})")
    c.arr(f"{tag}_grad", x.grad.numpy(), note="d loss / d logits")
  probs = form((4, 5), 0.53, 1.0, 0.2, np.cos)
  probs = f32(np.exp(probs) / np.exp(probs).sum(1, keepdims=True))
  c.arr("probs", probs, note="softmax rows: probability targets")
  x = T(logits, True)
  loss = x.cross_entropy(T(probs), label_smoothing=0.2)
  loss.backward()
  c.arr("prob_loss", [loss.numpy()], note="cross_entropy(logits, probs, ls=0.2)")
  c.arr("prob_grad", x.grad.numpy())
  # (N, C, d): classes on axis 1
  l3 = form((2, 3, 4), 0.29, 2.0)
  y3 = np.array([[0, 2, 1, 1], [2, 2, 0, 1]], np.int32)
  c.arr("l3", l3)
  c.arr("y3", y3, "int32_t")
  c.arr("l3_loss", [T(l3).cross_entropy(T(y3)).numpy()], note="(2, 3, 4) logits, (2, 4) labels")
  # (C,) logits, a 0-d label
  l1 = form((5,), 0.9, 1.5)
  c.arr("l1", l1)
  c.arr("l1_loss", [T(l1).cross_entropy(T(np.array(3, np.int32))).numpy()], note="(5,) logits, label 3")

  c = Case(o, "scce")
  logits = form((2, 3, 5), 0.41, 2.0)
  labels = np.array([[1, 3, 0], [3, 4, 2]], np.int32)
  c.arr("logits", logits)
  c.arr("labels", labels, "int32_t", "two entries are the ignore_index 3")
  x = T(logits, True)
  loss = x.sparse_categorical_crossentropy(T(labels), ignore_index=3, label_smoothing=0.1)
  loss.backward()
  c.arr("ign_loss", [loss.numpy()], note="ignore_index 3, label_smoothing 0.1")
  c.arr("ign_grad", x.grad.numpy())
  labels_m1 = np.array([[1, -1, 0], [3, 4, 2]], np.int32)
  c.arr("labels_m1", labels_m1, "int32_t", "a -1 label: ignore_index -1 means none (it still counts)")
  c.arr("m1_loss", [T(logits).sparse_categorical_crossentropy(T(labels_m1)).numpy()])

  c = Case(o, "bce")
  p = f32(1 / (1 + np.exp(-form((4, 6), 0.37, 2.7).astype(np.float64))))
  t = form((4, 6), 0.23, 0.5, 0.0, np.cos) + f32(0.5)
  xl = form((4, 6), 0.37, 2.7, 0.0)  # xl[0] == 0: the gradient of the stable form at 0
  c.arr("p", p, note="sigmoid of sin(i*0.37)*2.7")
  c.arr("t", t, note="0.5 + 0.5*cos(i*0.23)")
  c.arr("x", xl, note="sin(i*0.37)*2.7, x[0] == 0")
  pt = T(p, True)
  loss = pt.binary_crossentropy(T(t))
  loss.backward()
  c.arr("loss", [loss.numpy()])
  c.arr("grad", pt.grad.numpy())
  xt = T(xl, True)
  loss = xt.binary_crossentropy_logits(T(t))
  loss.backward()
  c.arr("logits_loss", [loss.numpy()])
  c.arr("logits_grad", xt.grad.numpy())
  d = xl.astype(np.float64) - t
  c.arr("mse", [np.mean(d * d)], note="numpy: mean((x - t)^2)")
  c.arr("mse_grad", 2 * d / d.size, note="numpy: 2 (x - t) / n")


def section_losses_more(o):
  """the losses' reduction argument, nll_loss, pos_weight, softmin, normalize, functional batchnorm"""
  c = Case(o, "red")
  logits = form((4, 5), 0.37, 2.5)
  labels = np.array([1, 0, 4, 2], np.int32)
  t = form((4, 5), 0.23, 0.5, 0.0, np.cos) + f32(0.5)
  p = f32(1 / (1 + np.exp(-logits.astype(np.float64))))
  for r in ("sum", "none"):
    c.arr(f"ce_{r}", T(logits).cross_entropy(T(labels), reduction=r, label_smoothing=0.1).numpy(),
          note=f"cross_entropy(ce logits, labels, ls 0.1, {r})")
    c.arr(f"bce_{r}", T(p).binary_crossentropy(T(t), reduction=r).numpy(), note=f"bce(sigmoid(logits), t, {r})")
    c.arr(f"bcel_{r}", T(logits).binary_crossentropy_logits(T(t), reduction=r).numpy(), note=f"bce_logits {r}")
  c.arr("t", t, note="0.5 + 0.5 cos(0.23 i)")
  pw = f32([0.5, 1.0, 2.0, 3.0, 0.25])
  c.arr("pos_weight", pw)
  xl = T(logits, True)
  loss = xl.binary_crossentropy_logits(T(t), pos_weight=T(pw))
  loss.backward()
  c.arr("bcel_pw", [loss.numpy()], note="bce_logits(logits, t, pos_weight per class), mean")
  c.arr("bcel_pw_grad", xl.grad.numpy())
  sl = form((2, 3, 5), 0.41, 2.0)
  sy = np.array([[1, 3, 0], [3, 4, 2]], np.int32)
  for r in ("sum", "none"):
    c.arr(f"scce_{r}", T(sl).sparse_categorical_crossentropy(T(sy), ignore_index=3, reduction=r).numpy(),
          note=f"scce(scce logits, labels, ignore 3, {r})")
  c.arr("sl", sl)
  c.arr("sy", sy, "int32_t")
  # nll_loss on log-probabilities: (N, C) and (N, C, d), a class weight, an ignored index
  lp = T(logits).log_softmax(1).numpy()
  c.arr("lp", lp, note="log_softmax(ce logits, 1)")
  w = f32([1.0, 0.5, 2.0, 1.5, 0.25])
  c.arr("w", w)
  lpt = T(lp, True)
  loss = lpt.nll_loss(T(labels), weight=T(w), ignore_index=4)
  loss.backward()
  c.arr("nll", [loss.numpy()], note="nll_loss(lp, labels, weight w, ignore 4), mean over the weights")
  c.arr("nll_grad", lpt.grad.numpy())
  c.arr("nll_plain", [T(lp).nll_loss(T(labels)).numpy()], note="nll_loss(lp, labels)")
  c.arr("nll_none", T(lp).nll_loss(T(labels), weight=T(w), reduction="none").numpy(), note="none")
  c.arr("nll_sum", [T(lp).nll_loss(T(labels), ignore_index=0, reduction="sum").numpy()], note="sum, ignore 0")
  l3 = T(form((2, 3, 4), 0.29, 2.0)).log_softmax(1).numpy()
  y3 = np.array([[0, 2, 1, 1], [2, 2, 0, 1]], np.int32)
  c.arr("l3", l3)
  c.arr("y3", y3, "int32_t")
  c.arr("nll3", [T(l3).nll_loss(T(y3)).numpy()], note="(2, 3, 4) log-probs, (2, 4) targets")
  c = Case(o, "misc")
  x = form((3, 4), 0.61, 1.7)
  c.arr("x", x)
  c.arr("softmin", T(x).softmin(1).numpy(), note="softmin(x, 1)")
  c.arr("softmin0", T(x).softmin(0).numpy(), note="softmin(x, 0)")
  xz = x.copy()
  xz[1, :] = 0
  c.arr("xz", xz, note="x with a zero row")
  c.arr("norm2", T(xz).normalize().numpy(), note="normalize(xz): p 2, dim 1, eps 1e-12")
  c.arr("norm1_0", T(xz).normalize(p=1.0, dim=0).numpy(), note="p 1, dim 0")
  c.arr("norm0", T(xz).normalize(p=0.0, dim=1).numpy(), note="p 0: the nonzeros counted")
  bx = form((2, 3, 2, 2), 0.45, 1.5)
  bw, bb = f32([1.5, 0.5, -1.0]), f32([0.1, -0.2, 0.3])
  bm, bi = f32([0.2, -0.1, 0.05]), f32([2.0, 0.5, 1.25])
  for nm, a in [("bx", bx), ("bw", bw), ("bb", bb), ("bm", bm), ("bi", bi)]: c.arr(nm, a)
  c.arr("bn", T(bx).batchnorm(T(bw), T(bb), T(bm), T(bi)).numpy(), note="batchnorm(bx, bw, bb, bm, bi)")
  c.arr("bn_nowb", T(bx).batchnorm(None, None, T(bm), T(bi)).numpy(), note="batchnorm(bx, None, None, bm, bi)")
  # interpolate over 1 and 3 axes, nearest-exact
  xi1 = form((2, 3, 5), 0.3, 2.0)
  xi3 = form((1, 2, 3, 4, 2), 0.21, 1.5)
  c.arr("xi1", xi1)
  c.arr("xi3", xi3)
  for mode, ac, nm in [("linear", False, "i1_lin"), ("linear", True, "i1_lin_ac"), ("nearest", False, "i1_near"),
                       ("nearest-exact", False, "i1_exact")]:
    c.arr(nm, T(xi1).interpolate((8,), mode=mode, align_corners=ac).numpy(),
          note=f"interpolate(xi1, (8,), {mode}, {ac})")
  c.arr("i3_lin", T(xi3).interpolate((5, 2, 3), mode="linear").numpy(), note="interpolate(xi3, (5, 2, 3), linear)")
  c.arr("i3_exact", T(xi3).interpolate((2, 6, 3), mode="nearest-exact").numpy(), note="(2, 6, 3), nearest-exact")
  c.arr("i2_exact", T(xi1).interpolate((7, 2), mode="nearest-exact").numpy(), note="xi1 to (7, 2), nearest-exact")


# ---------------------------------------------------------------------------------------------------------------------
# pooling and interpolation

def adaptive_np(x, oh, ow):
  """PyTorch's adaptive_avg_pool2d in float64"""
  h, w = x.shape[-2:]
  out = np.zeros(x.shape[:-2] + (oh, ow))
  for i in range(oh):
    h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
    for j in range(ow):
      w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
      out[..., i, j] = x[..., h0:h1, w0:w1].astype(np.float64).mean((-2, -1))
  return out


def section_pool(o):
  c = Case(o, "pool")
  x = form((2, 3, 7, 6), 0.37, 2.0)
  c.arr("x", x, note="(2, 3, 7, 6): sin(i*0.37+0.1)*2")
  xt = f32(np.round(form((1, 2, 5, 5), 0.9, 2.0) * 2) / 2)
  c.arr("xt", xt, note="(1, 2, 5, 5): halves, with ties inside windows")
  # (kernel, stride, padding, dilation); stride None = kernel
  maxcases = [(2, None, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), (2, 1, 0, 1), (3, 3, 1, 1), (2, 3, 1, 1)]
  for i, (k, s, p, d) in enumerate(maxcases):
    c.arr(f"max{i}", T(x).max_pool2d(k, s, d, p).numpy(), note=f"max_pool2d(k={k}, s={s}, p={p}, d={d})")
  xg = T(x, True)
  loss, _ = weighted(xg.max_pool2d(3, 2, 1, 1), "max")
  loss.backward()
  c.arr("max_grad", xg.grad.numpy(), note="grad of sum(max_pool2d(x, 3, 2, p=1) * G)")
  xg = T(x, True)
  loss, _ = weighted(xg.max_pool2d(2, 2, 1, 1), "max2")
  loss.backward()
  c.arr("max_grad2", xg.grad.numpy(), note="grad of sum(max_pool2d(x, 2, 2, p=1) * G): windows that do not overlap")
  xg = T(xt, True)
  out = xg.max_pool2d(2, 1)
  c.arr("maxt", out.numpy(), note="max_pool2d(xt, 2, s=1)")
  loss, _ = weighted(out, "maxt")
  loss.backward()
  c.arr("maxt_grad", xg.grad.numpy(), note="ties share the gradient equally")
  avgcases = [(2, None, 0), (3, 2, 1), (3, 1, 0), (4, 3, 2), (2, 3, 1)]
  for i, (k, s, p) in enumerate(avgcases):
    c.arr(f"avg{i}", T(x).avg_pool2d(k, s, 1, p).numpy(), note=f"avg_pool2d(k={k}, s={s}, p={p})")
  xg = T(x, True)
  loss, _ = weighted(xg.avg_pool2d(3, 2, 1, 1), "avg")
  loss.backward()
  c.arr("avg_grad", xg.grad.numpy(), note="grad of sum(avg_pool2d(x, 3, 2, p=1) * G)")
  xg = T(x, True)
  loss, _ = weighted(xg.avg_pool2d(3, 3, 1, 1), "avg2")
  loss.backward()
  c.arr("avg_grad2", xg.grad.numpy(), note="grad of sum(avg_pool2d(x, 3, 3, p=1) * G): windows that do not overlap")
  xi = ((np.arange(16, dtype=np.int32) * 7) % 11 - 20).reshape(1, 1, 4, 4)
  c.arr("xi", xi, "int32_t", "(1, 1, 4, 4) int32, all negative: the padding must lose")
  c.arr("xi_max", T(xi).max_pool2d(3, 1, 1, 1).numpy(), "int32_t", "max_pool2d(xi, 3, s=1, p=1), int32")
  c.arr("xi_avg", T(xi).avg_pool2d(2).numpy(), note="avg_pool2d(xi, 2): float32")
  c.arr("adapt34", adaptive_np(x, 3, 4), note="adaptive_avg_pool2d(x, (3, 4)) in numpy (PyTorch's windows)")
  c.arr("adapt52", adaptive_np(x, 5, 2), note="adaptive_avg_pool2d(x, (5, 2))")
  c.arr("adapt99", adaptive_np(x, 9, 9), note="adaptive_avg_pool2d(x, (9, 9)): upsampling windows")
  c.arr("adapt11", adaptive_np(x, 1, 1), note="adaptive_avg_pool2d(x, (1, 1))")

  c = Case(o, "interp")
  x = form((2, 3, 4, 5), 0.43, 3.0)
  c.arr("x", x, note="(2, 3, 4, 5): sin(i*0.43+0.1)*3")
  cases = [("bil73", (7, 3), "linear", False), ("bil73a", (7, 3), "linear", True), ("bil810", (8, 10), "linear", False),
           ("bil810a", (8, 10), "linear", True), ("bil11a", (1, 1), "linear", True), ("bil22", (2, 2), "linear", False),
           ("near73", (7, 3), "nearest", False), ("near38", (3, 8), "nearest", False),
           ("near1215", (12, 15), "nearest", False)]
  for nm, size, mode, ac in cases:
    if nm == "bil11a":  # tinygrad divides by size-1 = 0 here; PyTorch (and tg_interpolate) take source index 0
      want = x[..., :1, :1]
    else:
      want = T(x).interpolate(size, mode=mode, align_corners=ac).numpy()
    c.arr(nm, want, note=f"interpolate(x, {size}, {mode}, align_corners={ac})")
  for nm, ac in [("bil_grad", False), ("bila_grad", True)]:
    xg = T(x, True)
    loss, _ = weighted(xg.interpolate((7, 3), align_corners=ac), nm)
    loss.backward()
    c.arr(nm, xg.grad.numpy(), note=f"grad of sum(interpolate(x, (7, 3), linear, {ac}) * G)")
  xn = form((1, 1, 6, 14), 0.37, 1.0)
  c.arr("xn", xn, note="(1, 1, 6, 14)")
  c.arr("near7446", T(xn).interpolate((74, 46), mode="nearest").numpy(),
        note="nearest (74, 46): float32 i*in/size truncates below the exact index at i = 37 (H) and 23 (W)")
  xi = (np.arange(12, dtype=np.int32) * 7 % 11).reshape(1, 1, 3, 4)
  c.arr("xi", xi, "int32_t")
  c.arr("xi_near", T(xi).interpolate((5, 6), mode="nearest").numpy(), "int32_t", "int32 nearest stays int32")


# ---------------------------------------------------------------------------------------------------------------------
# attention and convolutions

def section_attention(o):
  c = Case(o, "sdpa")
  q, k, v = form((2, 3, 4, 8), 0.31, 1.0), form((2, 3, 5, 8), 0.47, 1.0, 0.2), form((2, 3, 5, 6), 0.23, 1.0, 0.3)
  mask = (np.arange(20).reshape(4, 5) % 3 != 1)
  mask[:, 0] = True  # every row keeps something
  c.arr("q", q)
  c.arr("k", k)
  c.arr("v", v)
  c.arr("mask", mask, "uint8_t", "(4, 5) bool, true = keep")
  c.arr("plain", T(q).scaled_dot_product_attention(T(k), T(v)).numpy())
  c.arr("masked", T(q).scaled_dot_product_attention(T(k), T(v), attn_mask=T(mask)).numpy())
  qc = form((2, 3, 5, 8), 0.31, 1.0)
  c.arr("qc", qc, note="(2, 3, 5, 8) queries for the causal case")
  ts = [T(a, True) for a in (qc, k, v)]
  out = ts[0].scaled_dot_product_attention(ts[1], ts[2], is_causal=True)
  c.arr("causal", out.numpy())
  loss, _ = weighted(out, "causal")
  loss.backward()
  for nm, t in zip("qkv", ts):
    c.arr(f"causal_d{nm}", t.grad.numpy())


def section_conv(o):
  c = Case(o, "conv1d")
  x, w, b = form((2, 4, 10), 0.37, 1.0), form((6, 2, 3), 0.53, 0.5, 0.2), form((6,), 1.1, 0.3)
  c.arr("x", x)
  c.arr("w", w, note="(6, 2, 3): groups 2")
  c.arr("b", b)
  ts = [T(a, True) for a in (x, w, b)]
  out = ts[0].conv2d(ts[1], ts[2], groups=2, stride=2, dilation=2, padding=1)
  c.arr("out", out.numpy(), note="conv1d(x, w, b, stride 2, padding 1, dilation 2, groups 2)")
  loss, _ = weighted(out, "c1")
  loss.backward()
  for nm, t in zip(("dx", "dw", "db"), ts):
    c.arr(nm, t.grad.numpy())
  w1 = form((3, 4, 4), 0.29, 0.5)
  c.arr("w1", w1, note="(3, 4, 4): kernel 4, for padding 'same'")
  conv = nn.Conv1d(4, 3, 4, padding="same", dilation=2, bias=False)
  conv.weight = T(w1)
  c.arr("same", conv(T(x)).numpy(), note="nn.Conv1d(4, 3, 4, padding='same', dilation=2)(x)")

  c = Case(o, "convt")
  x, w, b = form((2, 4, 5, 4), 0.37, 1.0), form((4, 3, 3, 3), 0.41, 0.5, 0.2), form((6,), 0.9, 0.3)
  c.arr("x", x)
  c.arr("w", w, note="(4, 3, 3, 3): Cin 4, Cout/groups 3, groups 2")
  c.arr("b", b)
  ts = [T(a, True) for a in (x, w, b)]
  out = ts[0].conv_transpose2d(ts[1], ts[2], groups=2, stride=2, padding=1, output_padding=1)
  c.arr("out", out.numpy(), note="conv_transpose2d(x, w, b, stride 2, padding 1, output_padding 1, groups 2)")
  loss, _ = weighted(out, "ct")
  loss.backward()
  for nm, t in zip(("dx", "dw", "db"), ts):
    c.arr(nm, t.grad.numpy())
  w2 = form((4, 2, 2, 3), 0.61, 0.5)
  c.arr("w2", w2, note="(4, 2, 2, 3): a non-square kernel")
  c.arr("out2", T(x).conv_transpose2d(T(w2), dilation=2).numpy(), note="conv_transpose2d(x, w2, dilation 2)")
  c.arr("out3", T(x).conv_transpose2d(T(w2), stride=3, padding=2, output_padding=2).numpy(),
        note="conv_transpose2d(x, w2, stride 3, padding 2, output_padding 2): negative conv padding")

  c = Case(o, "conv2d")
  x, w, b = form((1, 2, 6, 5), 0.37, 1.0), form((3, 2, 4, 4), 0.29, 0.5), form((3,), 0.7, 0.2)
  c.arr("x", x)
  c.arr("w", w)
  c.arr("b", b)
  conv = nn.Conv2d(2, 3, 4, padding="same")
  conv.weight, conv.bias = T(w), T(b)
  c.arr("same", conv(T(x)).numpy(), note="nn.Conv2d(2, 3, 4, padding='same')(x): pads 1 before, 2 after")
  conv = nn.Conv2d(2, 3, 4, padding="same", dilation=3)
  conv.weight, conv.bias = T(w), T(b)
  xb = form((1, 2, 12, 11), 0.37, 1.0)
  c.arr("xb", xb)
  c.arr("same_d3", conv(T(xb)).numpy(), note="nn.Conv2d(2, 3, 4, padding='same', dilation=3)(xb)")


# ---------------------------------------------------------------------------------------------------------------------
# normalisation layers and embedding

def section_norm(o):
  c = Case(o, "bn")
  x = form((4, 3, 5, 2), 0.37, 2.0) + form((4, 3, 5, 2), 0.05, 1.0, 0.0, np.cos)
  x2 = form((4, 3, 5, 2), 0.61, 1.5, 0.4)
  wv, bv = f32([1.5, -0.5, 0.75]), f32([0.1, -0.2, 0.3])
  c.arr("x", x)
  c.arr("x2", x2, note="a second batch")
  c.arr("w", wv)
  c.arr("b", bv)
  bn = nn.BatchNorm(3)
  bn.weight, bn.bias = T(wv, True), T(bv, True)
  xt = T(x, True)
  with Context(TRAINING=1):
    out = bn(xt)
    loss, _ = weighted(out, "bn")
    loss.backward()
    Tensor.realize(bn.running_mean, bn.running_var)
    c.arr("out", out.numpy(), note="training forward")
    c.arr("dx", xt.grad.numpy())
    c.arr("dw", bn.weight.grad.numpy())
    c.arr("db", bn.bias.grad.numpy())
    c.arr("rmean1", bn.running_mean.numpy(), note="running_mean after one step")
    c.arr("rvar1", bn.running_var.numpy(), note="running_var after one step (unbiased batch variance)")
    bn(T(x2)).realize()
    Tensor.realize(bn.running_mean, bn.running_var)
    c.arr("rmean2", bn.running_mean.numpy(), note="after a second step on x2")
    c.arr("rvar2", bn.running_var.numpy())
    c.arr("nbt2", [bn.num_batches_tracked.numpy()], "int64_t")
  c.arr("eval", bn(T(x2)).numpy(), note="eval forward on x2 with the running statistics")

  c = Case(o, "ln")
  x, wv, bv = form((2, 3, 6), 0.37, 2.0, 0.3), form((6,), 0.9, 1.0, 1.0), form((6,), 1.3, 0.5)
  c.arr("x", x)
  c.arr("w", wv)
  c.arr("b", bv)
  ln = nn.LayerNorm(6)
  ts = [T(a, True) for a in (x, wv, bv)]
  ln.weight, ln.bias = ts[1], ts[2]
  out = ln(ts[0])
  c.arr("out", out.numpy())
  loss, _ = weighted(out, "ln")
  loss.backward()
  for nm, t in zip(("dx", "dw", "db"), ts):
    c.arr(nm, t.grad.numpy())

  c = Case(o, "gn")
  x, wv, bv = form((2, 6, 3, 2), 0.37, 2.0, 0.3), form((6,), 0.9, 1.0, 1.0), form((6,), 1.3, 0.5)
  c.arr("x", x)
  c.arr("w", wv)
  c.arr("b", bv)
  gn = nn.GroupNorm(3, 6)
  ts = [T(a, True) for a in (x, wv, bv)]
  gn.weight, gn.bias = ts[1], ts[2]
  out = gn(ts[0])
  c.arr("out", out.numpy())
  loss, _ = weighted(out, "gn")
  loss.backward()
  for nm, t in zip(("dx", "dw", "db"), ts):
    c.arr(nm, t.grad.numpy())

  c = Case(o, "rms")
  x, wv = form((3, 5), 0.37, 2.0, 0.3), form((5,), 0.9, 1.0, 1.0)
  c.arr("x", x)
  c.arr("w", wv)
  rms = nn.RMSNorm(5)
  ts = [T(a, True) for a in (x, wv)]
  rms.weight = ts[1]
  out = rms(ts[0])
  c.arr("out", out.numpy())
  loss, _ = weighted(out, "rms")
  loss.backward()
  for nm, t in zip(("dx", "dw"), ts):
    c.arr(nm, t.grad.numpy())

  c = Case(o, "emb")
  wv = form((7, 4), 0.37, 1.0)
  idx = np.array([[3, 0, 6], [3, 3, 1]], np.int32)
  c.arr("w", wv)
  c.arr("idx", idx, "int32_t", "3 appears three times")
  emb = nn.Embedding(7, 4)
  emb.weight = T(wv, True)
  out = emb(T(idx))
  c.arr("out", out.numpy())
  loss, _ = weighted(out, "emb")
  loss.backward()
  c.arr("dw", emb.weight.grad.numpy(), note="repeated indices accumulate")

  c = Case(o, "lin")
  x, wv, bv = form((2, 3, 4), 0.37, 1.0), form((5, 4), 0.53, 0.5), form((5,), 0.9, 0.2)
  c.arr("x", x)
  c.arr("w", wv)
  c.arr("b", bv)
  lin = nn.Linear(4, 5)
  lin.weight, lin.bias = T(wv), T(bv)
  c.arr("out", lin(T(x)).numpy())


# ---------------------------------------------------------------------------------------------------------------------
# convolutions and pooling with tinygrad's per-axis options (tg_conv, tg_conv_transpose, tg_max_pool, tg_avg_pool)

def grads_of(c, tag, fn, arrays, names):
  """forward fn(*tensors) -> out; writes out and the gradients of sum(out * G) for each input"""
  ts = [T(a, True) for a in arrays]
  out = fn(*ts)
  c.arr(f"{tag}", out.numpy())
  loss, _ = weighted(out, tag)
  loss.backward()
  for nm, t in zip(names, ts):
    c.arr(f"{tag}_{nm}", t.grad.numpy())


def section_conv_nd(o):
  c = Case(o, "convnd")
  x1, w1, b1 = form((2, 4, 11), 0.37, 1.0), form((6, 2, 3), 0.53, 0.5, 0.2), form((6,), 1.1, 0.3)
  for nm, a in (("x1", x1), ("w1", w1), ("b1", b1)):
    c.arr(nm, a)
  grads_of(c, "c1", lambda x, w, b: x.conv2d(w, b, groups=2, stride=3, dilation=2, padding=(1, 2)), (x1, w1, b1),
           ("dx", "dw", "db"))
  x2, w2, b2 = form((2, 3, 7, 8), 0.31, 1.0), form((4, 3, 2, 3), 0.47, 0.5, 0.2), form((4,), 0.9, 0.3)
  for nm, a in (("x2", x2), ("w2", w2), ("b2", b2)):
    c.arr(nm, a)
  grads_of(c, "c2", lambda x, w, b: x.conv2d(w, b, stride=(2, 1), dilation=(1, 2), padding=(1, 0, 2, 1)), (x2, w2, b2),
           ("dx", "dw", "db"))
  w2s = form((2, 3, 3, 2), 0.41, 0.5)
  c.arr("w2s", w2s)
  c.arr("c2sym", T(x2).conv2d(T(w2s), stride=(1, 2), padding=(2, 1)).numpy(), note="padding (2, 1): per axis")
  grads_of(c, "c2neg", lambda x, w: x.conv2d(w, padding=(-1, 1, 0, -2)), (x2, w2s), ("dx", "dw"))
  x3, w3, b3 = form((1, 2, 5, 6, 4), 0.29, 1.0), form((3, 2, 2, 3, 2), 0.43, 0.5, 0.2), form((3,), 0.7, 0.2)
  for nm, a in (("x3", x3), ("w3", w3), ("b3", b3)):
    c.arr(nm, a)
  grads_of(c, "c3", lambda x, w, b: x.conv2d(w, b, stride=(1, 2, 1), dilation=(2, 1, 1), padding=(0, 1, 1, 0, 1, 1)),
           (x3, w3, b3), ("dx", "dw", "db"))
  # transposed
  xt1, wt1, bt1 = form((2, 4, 5), 0.37, 1.0), form((4, 3, 3), 0.61, 0.5), form((6,), 0.9, 0.3)
  for nm, a in (("xt1", xt1), ("wt1", wt1), ("bt1", bt1)):
    c.arr(nm, a)
  grads_of(c, "t1", lambda x, w, b: x.conv_transpose2d(w, b, groups=2, stride=2, padding=(1, 0), output_padding=1),
           (xt1, wt1, bt1), ("dx", "dw", "db"))
  xt2, wt2 = form((1, 2, 4, 3), 0.33, 1.0), form((2, 3, 2, 3), 0.51, 0.5)
  c.arr("xt2", xt2)
  c.arr("wt2", wt2)
  grads_of(c, "t2", lambda x, w: x.conv_transpose2d(w, stride=(2, 3), dilation=(1, 2), padding=(1, 0, 0, 1),
                                                    output_padding=(1, 0)), (xt2, wt2), ("dx", "dw"))
  xt3, wt3 = form((1, 2, 3, 4, 3), 0.27, 1.0), form((2, 2, 2, 3, 2), 0.39, 0.5)
  c.arr("xt3", xt3)
  c.arr("wt3", wt3)
  grads_of(c, "t3", lambda x, w: x.conv_transpose2d(w, stride=(2, 1, 2), padding=1, output_padding=(1, 0, 0)),
           (xt3, wt3), ("dx", "dw"))
  # layers: nn.Conv2d with a 3-d kernel and nn.ConvTranspose2d, initialised from the seed (tinygrad's stream)
  Tensor.manual_seed(3)
  conv = nn.Conv2d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1)
  c.arr("l3_w", conv.weight.numpy(), note="manual_seed(3); nn.Conv2d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1)")
  c.arr("l3_b", conv.bias.numpy())
  c.arr("l3_out", conv(T(x3)).numpy(), note="its output on x3")
  convt = nn.ConvTranspose2d(2, 4, (3, 2), stride=2, groups=2)
  # realised together: realising tinygrad's weight alone first gives its bias other numbers (the draw it discarded
  # is still pending); together they are the draws in creation order, as a C program's
  Tensor.realize(conv.weight, conv.bias, convt.weight, convt.bias)
  c.arr("lt_w", convt.weight.numpy(), note="then nn.ConvTranspose2d(2, 4, (3, 2), stride=2, groups=2)")
  c.arr("lt_b", convt.bias.numpy())
  c.arr("lt_out", convt(T(xt2)).numpy(), note="its output on xt2")


def section_pool_nd(o):
  c = Case(o, "poolnd")
  x = form((2, 3, 7, 6), 0.37, 2.0)
  c.arr("x", x, note="(2, 3, 7, 6)")
  cases = [
    ("m_rect", lambda t: t.max_pool2d((3, 2), stride=(2, 1), dilation=(1, 2), padding=(1, 0))),
    ("m_pad4", lambda t: t.max_pool2d((2, 3), padding=(1, 0, 0, 1))),
    ("m_ceil", lambda t: t.max_pool2d(3, stride=2, padding=1, ceil_mode=True)),
    ("m_ceil2", lambda t: t.max_pool2d((2, 4), stride=(3, 3), ceil_mode=True)),
    ("a_ceil", lambda t: t.avg_pool2d((3, 2), stride=2, ceil_mode=True)),
    ("a_ceil_x", lambda t: t.avg_pool2d((3, 2), stride=2, ceil_mode=True, count_include_pad=False)),
    ("a_excl", lambda t: t.avg_pool2d(3, stride=2, padding=1, count_include_pad=False)),
    ("a_ceil_p", lambda t: t.avg_pool2d(3, stride=2, padding=1, ceil_mode=True)),
    ("a_pad4", lambda t: t.avg_pool2d((2, 2), stride=(1, 2), padding=(0, 1, 1, 1), count_include_pad=False)),
  ]
  for nm, f in cases:
    grads_of(c, nm, f, (x,), ("dx",))
  x1 = form((2, 3, 10), 0.41, 2.0)
  c.arr("x1", x1, note="(2, 3, 10)")
  grads_of(c, "m1", lambda t: t.max_pool2d((3,), stride=2, ceil_mode=True), (x1,), ("dx",))
  grads_of(c, "a1", lambda t: t.avg_pool2d((4,), stride=3, padding=1, count_include_pad=False), (x1,), ("dx",))
  x3 = form((1, 2, 5, 6, 4), 0.29, 2.0)
  c.arr("x3", x3, note="(1, 2, 5, 6, 4)")
  grads_of(c, "a3", lambda t: t.avg_pool2d((2, 3, 2), stride=(2, 2, 1), padding=1, count_include_pad=False), (x3,),
           ("dx",))
  grads_of(c, "m3", lambda t: t.max_pool2d((2, 2, 3), stride=(1, 2, 2), padding=(0, 1, 1, 0, 1, 0)), (x3,), ("dx",))
  # indices and unpooling
  xt = f32(np.round(form((1, 2, 5, 5), 0.9, 2.0) * 2) / 2)
  c.arr("xt", xt, note="(1, 2, 5, 5): halves, with ties inside windows")
  for nm, src, kw in [("i2", x, dict(kernel_size=(2, 2))), ("i3p", x, dict(kernel_size=3, stride=2, padding=1)),
                      ("it", xt, dict(kernel_size=2, stride=1)),
                      ("ic", x, dict(kernel_size=(3, 2), stride=2, ceil_mode=True))]:
    v, i = T(src).max_pool2d(**kw, return_indices=True)
    c.arr(f"{nm}_v", v.numpy())
    c.arr(f"{nm}_i", i.numpy().astype(np.int32), "int32_t", f"return_indices, {i.dtype}")
  v, i = T(x).max_pool2d((2, 2), return_indices=True)
  grads_of(c, "u2", lambda t: t.max_unpool2d(i, (2, 2)), (v.numpy(),), ("dx",))
  v, i = T(x).max_pool2d(3, stride=2, padding=1, return_indices=True)
  c.arr("u3p", v.max_unpool2d(i, 3, stride=2, padding=1).numpy(), note="default output size (7, 6)... from the formula")
  c.arr("u3p_big", v.max_unpool2d(i, 3, stride=2, padding=1, output_size=(2, 3, 8, 7)).numpy(),
        note="output_size (8, 7)")
  v, i = T(x1).max_pool2d((3,), stride=2, return_indices=True)
  c.arr("i1_v", v.numpy())
  c.arr("i1_i", i.numpy().astype(np.int32), "int32_t")
  c.arr("u1", v.max_unpool2d(i, (3,), stride=2).numpy(), note="1-d unpool, output (9,)")
  xi = ((np.arange(42, dtype=np.int32) * 7) % 11 - 20).reshape(1, 1, 7, 6)
  c.arr("xi", xi, "int32_t", "(1, 1, 7, 6) int32, all negative")
  c.arr("xi_mceil", T(xi).max_pool2d(3, stride=2, padding=1, ceil_mode=True).numpy(), "int32_t")
  c.arr("xi_aexcl", T(xi).avg_pool2d(3, stride=2, padding=1, count_include_pad=False).numpy(), note="float32")


def main():
  o = Out()
  o.raw("/* golden_nn.h: expected values for tests/test_nn.c, GENERATED by tests/golden/gen_nn.py (numpy "
        f"{np.__version__}, the real")
  o.raw(" * tinygrad as the reference). Do not edit: change gen_nn.py and run it again. Include tinygrad.h first. */")
  o.raw("#ifndef GOLDEN_NN_H")
  o.raw("#define GOLDEN_NN_H")
  o.raw("#include <math.h>   /* NAN, INFINITY */")
  o.raw("#include <stdint.h>")
  o.raw("#if defined(__GNUC__) || defined(__clang__)")
  o.raw("#define GOLDEN_ARR static const __attribute__((unused))")
  o.raw("#else")
  o.raw("#define GOLDEN_ARR static const")
  o.raw("#endif")
  for sec in (section_losses, section_losses_more, section_pool, section_attention, section_conv, section_norm,
              section_conv_nd, section_pool_nd):
    o.raw("")
    o.raw(f"/* {'-' * 114} */")
    o.raw(f"/* {sec.__name__[len('section_'):]} */")
    sec(o)
  o.raw("")
  o.raw("#endif /* GOLDEN_NN_H */")
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_nn.h")
  text = "\n".join(o.lines) + "\n"
  with open(path, "w") as f:
    f.write(text)
  print(f"gen_nn.py: wrote {path} ({len(text)} bytes, {len(o.names)} arrays)")


if __name__ == "__main__":
  main()
