#!/usr/bin/env python3
"""gen.py: computes the golden values of the tensor API tests and writes tests/golden/golden.h.

Contract:
  - Inputs are deterministic (formulas of the index, small integer patterns) and are written into golden.h too, so the
    C tests use exactly the bytes that the goldens were computed from.
  - Expected values come from numpy (in float64, then rounded to float32) where numpy is the reference, and from the
    real tinygrad (CPU) where tinygrad's semantics differ from numpy: dtype promotion, result dtypes of reductions,
    argmax ties, the tanh gelu, python // and % on ints. Where both apply, gen.py checks that they agree.
  - golden.h is split into sections, one per test file: a test file defines GOLDEN_<NAME> before including it.

Run: python3 tests/golden/gen.py   (rewrites tests/golden/golden.h next to this file)
"""
import math
import os
import sys

import numpy as np

os.environ.setdefault("DEV", "CPU")
from tinygrad import Tensor, dtypes  # noqa: E402
from tinygrad.dtype import least_upper_dtype  # noqa: E402

F32 = np.float32

# ---------------------------------------------------------------------------------------------------------------------
# emitting C


def cfloat(v):
  """the shortest decimal that reads back as the same float32"""
  v = F32(v)
  if np.isnan(v): return "NAN"
  if np.isinf(v): return "INFINITY" if v > 0 else "-INFINITY"
  if v != 0 and not 1e-4 <= abs(v) < 1e8: s = np.format_float_scientific(v, unique=True)
  else: s = np.format_float_positional(v, unique=True)
  s = s.replace(".e", ".0e")
  if s.endswith("."): s += "0"
  return s + "f"


CTYPES = {"float": None, "int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16, "uint16_t": np.uint16,
          "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64, "uint64_t": np.uint64, "double": np.float64}


def cint(v, ctype):
  v = int(v)
  if ctype == "int64_t" and v == -2**63: return "INT64_MIN"
  if ctype == "int32_t" and v == -2**31: return "INT32_MIN"
  if ctype == "uint64_t": return f"{v}ULL"
  if ctype == "int64_t": return f"{v}LL"
  if ctype == "uint32_t": return f"{v}U"
  return str(v)


class Out:
  def __init__(self):
    self.lines = []
    self.names = set()

  def raw(self, s=""):
    self.lines.append(s)

  def section(self, name, what):
    self.raw("")
    self.raw("/* " + "-" * 114 + " */")
    self.raw(f"/* {what} */")
    self.raw(f"#ifdef GOLDEN_{name}")

  def end(self):
    self.raw("#endif")

  def arr(self, name, a, ctype="float", note=""):
    """a C array of a's values, flattened; the shape goes into the comment"""
    assert name not in self.names, name
    self.names.add(name)
    a = np.asarray(a)
    shape = "(" + ", ".join(str(d) for d in a.shape) + ("," if a.ndim == 1 else "") + ")"
    flat = a.reshape(-1)
    if ctype == "float": items = [cfloat(v) for v in flat]
    elif ctype == "double": items = [repr(float(v)) for v in flat]
    else: items = [cint(v, ctype) for v in flat]
    if not items: items = ["0"]  # C has no empty initialiser: a placeholder, the tests use the shape
    comment = f"/* {shape}{': ' + note if note else ''} */"
    head = f"GOLDEN_ARR {ctype} {name}[] = {{"
    self.raw(comment)
    line = head
    body = []
    for i, it in enumerate(items):
      piece = it + ("," if i + 1 < len(items) else "")
      if len(line) + 1 + len(piece) > 118:
        body.append(line)
        line = "  " + piece
      else:
        line = line + (" " if line != head else "") + piece
    body.append(line + "};")
    self.lines.extend(body)

  def string(self, name, s, note=""):
    """a C string holding s, in pieces of 80 characters (escapes never split)"""
    assert name not in self.names, name
    self.names.add(name)
    self.raw(f"/* {note} */" if note else f"/* {name} */")

    def escape(t): return t.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    pieces = [escape(s[i:i + 80]) for i in range(0, len(s), 80)] or [""]
    if len(pieces) == 1:
      self.raw(f'GOLDEN_ARR char {name}[] = "{pieces[0]}";')
      return
    self.raw(f"GOLDEN_ARR char {name}[] =")
    for i, p in enumerate(pieces):
      self.raw(f'  "{p}"' + (";" if i + 1 == len(pieces) else ""))


def f32(a):
  return np.asarray(a, dtype=np.float64).astype(F32)


def agree(name, ours, theirs, tol):
  """gen.py's own check: numpy's golden and tinygrad agree"""
  ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
  assert ours.shape == theirs.shape, (name, ours.shape, theirs.shape)
  ok = np.isclose(theirs, ours, rtol=tol, atol=tol, equal_nan=True)
  if not ok.all():
    i = int(np.argmax(~ok.reshape(-1)))
    sys.exit(f"gen.py: {name}: numpy and tinygrad disagree at [{i}]: {ours.reshape(-1)[i]} vs {theirs.reshape(-1)[i]}")


TG_NAMES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "bfloat16",
            "float32", "float64"]
TG_ENUM = ["TG_BOOL", "TG_INT8", "TG_UINT8", "TG_INT16", "TG_UINT16", "TG_INT32", "TG_UINT32", "TG_INT64", "TG_UINT64",
           "TG_FLOAT16", "TG_BFLOAT16", "TG_FLOAT32", "TG_FLOAT64"]
TINY = [dtypes.bool, dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16, dtypes.int32, dtypes.uint32, dtypes.int64,
        dtypes.uint64, dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64]


def strong(dt):
  """tinygrad's weak types (python scalars) become the defaults once a tensor holds them"""
  return {"weakint": dtypes.int32, "weakfloat": dtypes.float32}.get(dt.name, dt)


def tg_enum(dt):
  return TG_ENUM[TINY.index(strong(dt))]


def bf16_round(a):
  """float32 -> bfloat16 (round to nearest even) -> float32, in numpy"""
  b = np.asarray(a, F32).view(np.uint32).astype(np.uint64)
  r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF
  return (r.astype(np.uint32) << 16).view(F32), r.astype(np.uint16)


# ---------------------------------------------------------------------------------------------------------------------
# inputs shared by several sections

N = 24
IDX = np.arange(N, dtype=np.float64)
X = f32(np.sin(IDX * 0.37) * 2.7)               # (4, 6): [-2.7, 2.7], X[0] == 0
P = f32(0.1 + np.abs(np.cos(IDX * 0.51)) * 4)  # (4, 6): positive
Y = f32(np.cos(IDX * 0.23) * 2)                 # (4, 6)
Y[3], Y[10], Y[17] = X[3], X[10], X[17]         # equal pairs for the comparisons
# tan: keep away from its poles, where float32 rounding of the input changes everything
assert np.min(np.abs(np.cos(X.astype(np.float64)))) > 0.05


def section_creation(o):
  o.section("CREATION", "creation: from_data round trips, arange, linspace, eye, tril/triu, dtype promotion")
  # random numbers: tinygrad's exact stream for a seed (threefry2x32, its per-device key and counter)
  Tensor.manual_seed(42)
  o.arr("g_cr_rand42", Tensor.rand(2, 3).numpy(), note="manual_seed(42); rand(2, 3)")
  o.arr("g_cr_rand42_next", Tensor.rand(7).numpy(), note="then rand(7): the counter moved on by 6")
  o.arr("g_cr_randn42", Tensor.randn(5).numpy(), note="then randn(5): one draw of (2, 5)")
  o.arr("g_cr_randint42", Tensor.randint(9, low=-3, high=40).numpy(), "int32_t", "then randint(9, low=-3, high=40)")
  o.arr("g_cr_uniform42", Tensor.uniform(4, low=-2.0, high=0.5).numpy(), note="then uniform(4, -2, 0.5)")
  o.arr("g_cr_normal42", Tensor.normal(3, mean=1.0, std=0.5).numpy(), note="then normal(3, mean 1, std 0.5)")
  Tensor.manual_seed(7)  # each float dtype draws its own bits: 2 or 8 bytes an element
  o.arr("g_cr_rand_f16", Tensor.rand(5, dtype=dtypes.float16).numpy().view(np.uint16), "uint16_t",
        "manual_seed(7); rand(5, float16): bits")
  # bfloat16 reads the same 16-bit halves, 7 mantissa bits where float16 takes 10 (tinygrad's CPU backend here has no
  # __bf16): from float16's draw at the same counter, k/1024 -> (k >> 3)/128, exact in float32
  k = np.round(Tensor.rand(3, dtype=dtypes.float16).numpy().astype(np.float64) * 1024).astype(np.int64)
  o.arr("g_cr_rand_bf16", (f32((k >> 3) / 128.0).view(np.uint32) >> 16).astype(np.uint16), "uint16_t",
        "then rand(3, bfloat16): bits (float16's draw at the same counter, 7 of its 10 bits)")
  o.arr("g_cr_rand_f64", Tensor.rand(3, dtype=dtypes.float64).numpy().view(np.uint64), "uint64_t",
        "then rand(3, float64): bits")
  o.arr("g_cr_rand_after", Tensor.rand(2).numpy(), note="then rand(2): the counter moved on by 3 + 2 + 6 words")
  Tensor.manual_seed(1234567)
  o.arr("g_cr_rand_big", Tensor.rand(1001).numpy()[[0, 1, 499, 500, 501, 1000]], note="seed 1234567, rand(1001)"
        " at 0, 1, 499, 500, 501, 1000 (an odd count: the low words' last pair)")
  # round trips of every dtype: the raw values, and what tg_to_float must give for them
  f16 = np.array([0.5, -2.0, 65504.0, 6e-5, np.inf, -0.0], np.float16)
  o.arr("g_cr_f16_bits", f16.view(np.uint16), "uint16_t", "float16 bit patterns")
  o.arr("g_cr_f16_vals", f16.astype(F32), "float", "their float32 values")
  bfv, bfb = bf16_round(f32([1.0, -2.5, 3.140625, 1e38, -np.inf, 0.0078125]))
  o.arr("g_cr_bf16_bits", bfb, "uint16_t", "bfloat16 bit patterns")
  o.arr("g_cr_bf16_vals", bfv, "float", "their float32 values")

  # arange: (start, stop, step, dtype) and the numpy result
  cases = [(0, 5, 1, "TG_INT32", np.int32), (1, 2.5, 0.25, "TG_FLOAT32", F32), (5, -3, -1.5, "TG_FLOAT32", F32),
           (-3, 7, 2, "TG_INT32", np.int32), (0, 1, 0.1, "TG_FLOAT32", F32), (3, 3, 1, "TG_FLOAT32", F32),
           (0, -1, 1, "TG_FLOAT32", F32), (10, 0, -3, "TG_INT32", np.int32), (-1, 1, 0.5, "TG_FLOAT64", np.float64)]
  rows = []
  for i, (a, b, s, enum, npdt) in enumerate(cases):
    want = np.arange(a, b, s, dtype=np.float64)
    tdt = {"TG_INT32": dtypes.int32, "TG_FLOAT32": dtypes.float32, "TG_FLOAT64": dtypes.float64}[enum]
    tiny = Tensor.arange(a, b, s, dtype=tdt).numpy()
    agree(f"arange{i}", want, tiny, 1e-6)
    o.arr(f"g_cr_arange{i}", want.astype(npdt).astype(F32), "float", f"arange({a}, {b}, {s}, {enum})")
    rows.append(f"  {{{a}, {b}, {s}, {enum}, {len(want)}, g_cr_arange{i}}},")
  o.raw("typedef struct golden_arange { double start, stop, step; tg_dtype dt; int64_t n; const float *want; } "
        "golden_arange;")
  o.raw("GOLDEN_ARR golden_arange g_cr_arange[] = {")
  o.lines.extend(rows)
  o.raw("};")

  cases = [(0, 1, 5, "TG_FLOAT32"), (-2, 3, 7, "TG_FLOAT32"), (5, -5, 4, "TG_FLOAT32"), (2, 2, 1, "TG_FLOAT32"),
           (0, 10, 5, "TG_INT32"), (0, 1, 0, "TG_FLOAT32")]
  rows = []
  for i, (a, b, n, enum) in enumerate(cases):
    want = np.linspace(a, b, n, dtype=np.float64)
    if enum == "TG_INT32":
      want = np.trunc(want)
      tiny = Tensor.linspace(a, b, n, dtype=dtypes.int32).numpy()
      agree(f"linspace{i}", want, tiny, 0)
    elif n > 0:
      agree(f"linspace{i}", want, Tensor.linspace(a, b, n).numpy(), 1e-6)
    o.arr(f"g_cr_linspace{i}", f32(want), "float", f"linspace({a}, {b}, {n}, {enum})")
    rows.append(f"  {{{a}, {b}, {n}, {enum}, g_cr_linspace{i}}},")
  o.raw("typedef struct golden_linspace { double start, stop; int64_t steps; tg_dtype dt; const float *want; } "
        "golden_linspace;")
  o.raw("GOLDEN_ARR golden_linspace g_cr_linspace[] = {")
  o.lines.extend(rows)
  o.raw("};")

  for n, m in [(3, 3), (2, 4), (4, 2), (1, 1)]:
    o.arr(f"g_cr_eye_{n}x{m}", np.eye(n, m, dtype=F32), "float", f"eye({n}, {m})")

  t34 = np.arange(1, 13, dtype=F32).reshape(3, 4)
  t43 = np.arange(1, 13, dtype=F32).reshape(4, 3)
  o.arr("g_cr_tri_in34", t34, "float", "1..12")
  o.arr("g_cr_tri_in43", t43, "float", "1..12")
  for d in [0, 1, -1, 2, -5]:
    nm = str(d).replace("-", "m")
    o.arr(f"g_cr_tril34_{nm}", np.tril(t34, d), "float", f"tril(in34, {d})")
    o.arr(f"g_cr_triu34_{nm}", np.triu(t34, d), "float", f"triu(in34, {d})")
    o.arr(f"g_cr_tril43_{nm}", np.tril(t43, d), "float", f"tril(in43, {d})")
    o.arr(f"g_cr_triu43_{nm}", np.triu(t43, d), "float", f"triu(in43, {d})")
  b233 = np.arange(18, dtype=F32).reshape(2, 3, 3)
  o.arr("g_cr_tri_in233", b233, "float", "0..17")
  o.arr("g_cr_tril233", np.tril(b233), "float", "tril(in233, 0): per matrix")
  o.arr("g_cr_triu233_1", np.triu(b233, 1), "float", "triu(in233, 1): per matrix")

  # dtype promotion: tinygrad's least_upper_dtype for all 13x13 pairs (weak results become float32/int32)
  o.raw("/* (13, 13): tg_promote(a, b) as tinygrad's least_upper_dtype, rows a, columns b, in tg_dtype order */")
  o.raw("GOLDEN_ARR tg_dtype g_cr_promote[13][13] = {")
  for a in TINY:
    row = [tg_enum(least_upper_dtype(a, b)) for b in TINY]
    o.raw("  {" + ", ".join(row[:7]) + ",")
    o.raw("   " + ", ".join(row[7:]) + "},")
  o.raw("};")
  o.arr("g_cr_dtype_size", [np.dtype(n).itemsize if n != "bfloat16" else 2 for n in TG_NAMES], "int32_t",
        "tg_dtype_size in tg_dtype order")
  o.raw("GOLDEN_ARR char *g_cr_dtype_name[] = {" + ", ".join(f'"{n}"' for n in TG_NAMES[:7]) + ",")
  o.raw("  " + ", ".join(f'"{n}"' for n in TG_NAMES[7:]) + "};")
  o.end()


# ---------------------------------------------------------------------------------------------------------------------
# elementwise

def tiny_unary(name, fn, a, **kw):
  return fn(Tensor(a, **kw)).numpy()


def section_elementwise(o):
  o.section("ELEMENTWISE", "elementwise: unary ops, activations, binary ops, broadcasting, integer ops, casts")
  x64, p64, y64 = X.astype(np.float64), P.astype(np.float64), Y.astype(np.float64)
  o.arr("g_ew_x", X.reshape(4, 6), "float", "sin(i*0.37)*2.7")
  o.arr("g_ew_p", P.reshape(4, 6), "float", "0.1+|cos(i*0.51)|*4")
  o.arr("g_ew_y", Y.reshape(4, 6), "float", "cos(i*0.23)*2, y[3]=x[3], y[10]=x[10], y[17]=x[17]")

  def sig(v): return 1 / (1 + np.exp(-v))

  def softplus(v, beta): return np.log1p(np.exp(v * beta)) / beta

  gelu_c = math.sqrt(2 / math.pi)
  # name, input, numpy (float64), tinygrad, tolerance of the agreement check
  unary = [
    ("neg", X, -x64, lambda t: -t), ("abs", X, np.abs(x64), Tensor.abs), ("sign", X, np.sign(x64), Tensor.sign),
    ("exp", X, np.exp(x64), Tensor.exp), ("exp2", X, np.exp2(x64), Tensor.exp2), ("sin", X, np.sin(x64), Tensor.sin),
    ("cos", X, np.cos(x64), Tensor.cos), ("tan", X, np.tan(x64), Tensor.tan),
    ("erf", X, np.vectorize(math.erf)(x64), Tensor.erf), ("floor", X, np.floor(x64), Tensor.floor),
    ("ceil", X, np.ceil(x64), Tensor.ceil), ("round", X, np.round(x64), Tensor.round),
    ("trunc", X, np.trunc(x64), Tensor.trunc), ("clip", X, np.clip(x64, -1, 1.5), lambda t: t.clip(-1, 1.5)),
    ("square", X, x64 * x64, Tensor.square), ("reciprocal", X, 1 / np.where(x64 == 0, 1, x64), None),
    ("log", P, np.log(p64), Tensor.log), ("log2", P, np.log2(p64), Tensor.log2), ("sqrt", P, np.sqrt(p64), Tensor.sqrt),
    ("rsqrt", P, 1 / np.sqrt(p64), Tensor.rsqrt),
    ("sigmoid", X, sig(x64), Tensor.sigmoid), ("tanh", X, np.tanh(x64), Tensor.tanh),
    ("relu", X, np.maximum(x64, 0), Tensor.relu),
    ("leaky_relu", X, np.where(x64 < 0, 0.1 * x64, x64), lambda t: t.leaky_relu(0.1)),
    ("elu", X, np.where(x64 > 0, x64, 1.3 * (np.exp(x64) - 1)), lambda t: t.elu(1.3)),
    ("gelu", X, 0.5 * x64 * (1 + np.tanh(gelu_c * (x64 + 0.044715 * x64 ** 3))), Tensor.gelu),
    ("quick_gelu", X, x64 * sig(1.702 * x64), Tensor.quick_gelu), ("silu", X, x64 * sig(x64), Tensor.silu),
    ("softplus", X, softplus(x64, 1.0), Tensor.softplus),
    ("softplus2", X, softplus(x64, 2.0), lambda t: t.softplus(2.0)),
    ("mish", X, x64 * np.tanh(softplus(x64, 1.0)), Tensor.mish),
    ("hardtanh", X, np.clip(x64, -0.5, 2.0), lambda t: t.hardtanh(-0.5, 2.0)),
    ("hardsigmoid", X, np.clip(x64 / 6 + 0.5, 0, 1), Tensor.hardsigmoid),
    ("hardswish", X, x64 * np.clip(x64 + 3, 0, 6) / 6, Tensor.hardswish),
  ]
  for name, inp, want, fn in unary:
    if name == "reciprocal":
      want = np.where(x64 == 0, np.inf, want)  # 1/+0 = inf
      fn = Tensor.reciprocal
    if fn is not None: agree(name, want, tiny_unary(name, fn, inp), 1e-4)
    o.arr(f"g_ew_{name}", f32(want).reshape(4, 6), "float", f"{name}({'p' if inp is P else 'x'})")

  # more unary ops (tinygrad's compositions), against numpy's functions where numpy has them
  U = f32(np.sin(np.arange(24) * 0.37) * 0.98).reshape(4, 6)
  R6 = f32(X * 3)
  u64, r64 = U.astype(np.float64), R6.astype(np.float64)
  o.arr("g_ew_u", U, "float", "sin(i*0.37)*0.98: inside (-1, 1)")
  o.arr("g_ew_x3", R6, "float", "3x: past relu6's 6")
  more = [
    ("celu", X, np.maximum(x64, 0) + np.minimum(1.3 * (np.exp(x64 / 1.3) - 1), 0), lambda t: t.celu(1.3)),
    ("selu", X, 1.0507 * np.where(x64 >= 0, x64, 1.67326 * (np.exp(x64) - 1)), Tensor.selu),
    ("relu6", R6, np.clip(r64, 0, 6), Tensor.relu6),
    ("logsigmoid", X, -np.log1p(np.exp(-x64)), Tensor.logsigmoid),
    ("softsign", X, x64 / (1 + np.abs(x64)), Tensor.softsign),
    ("sinh", X, np.sinh(x64), Tensor.sinh), ("cosh", X, np.cosh(x64), Tensor.cosh),
    ("asin", U, np.arcsin(u64), Tensor.asin), ("acos", U, np.arccos(u64), Tensor.acos),
    ("atan", R6, np.arctan(r64), Tensor.atan), ("log10", P, np.log10(p64), Tensor.log10),
    ("gelu_erf", X, 0.5 * x64 * (1 + np.vectorize(math.erf)(x64 / math.sqrt(2))),
     lambda t: t.gelu(approximate="none")),
  ]
  for name, inp, want, fn in more:
    agree(name, want, tiny_unary(name, fn, inp), 1e-5)
    o.arr(f"g_ew_{name}", f32(want).reshape(4, 6), "float", f"{name}, numpy's (tinygrad within 1e-5)")

  s = f32([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 88.0, -88.0])
  o.arr("g_ew_special", s, "float", "0, -0, 1, -1, inf, -inf, nan, 1e-30, 88, -88")
  s64 = s.astype(np.float64)
  with np.errstate(all="ignore"):
    for name, want, fn in [("exp", np.exp(s64), Tensor.exp), ("log", np.log(s64), Tensor.log),
                           ("sqrt", np.sqrt(s64), Tensor.sqrt), ("abs", np.abs(s64), Tensor.abs),
                           ("sigmoid", sig(s64), Tensor.sigmoid), ("tanh", np.tanh(s64), Tensor.tanh),
                           ("floor", np.floor(s64), Tensor.floor), ("neg", -s64, lambda t: -t)]:
      agree("special_" + name, want, tiny_unary(name, fn, s), 1e-5)
      o.arr(f"g_ew_special_{name}", f32(want), "float", f"{name}(special)")
  o.arr("g_ew_isnan", np.isnan(s), "uint8_t", "isnan(special)")
  o.arr("g_ew_isfinite", np.isfinite(s), "uint8_t", "isfinite(special)")
  agree("isfinite", np.isfinite(s), Tensor(s).isfinite().numpy(), 0)
  o.arr("g_ew_isinf", np.isinf(s), "uint8_t", "isinf(special)")
  agree("isnan", np.isnan(s), Tensor(s).isnan().numpy(), 0)
  agree("isinf", np.isinf(s), Tensor(s).isinf().numpy(), 0)

  r = f32([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999997, 2.5000002, 3.7, -3.7, -0.0])
  o.arr("g_ew_round_in", r, "float", "ties and near-ties")
  agree("round", np.round(r), Tensor(r).round().numpy(), 0)
  o.arr("g_ew_round_ties", np.round(r), "float", "round half to even")

  # binary float ops on (x, y), both (4, 6)
  binary = [("add", x64 + y64, Tensor.add), ("sub", x64 - y64, Tensor.sub), ("mul", x64 * y64, Tensor.mul),
            ("div", x64 / y64, Tensor.div), ("maximum", np.maximum(x64, y64), Tensor.maximum),
            ("minimum", np.minimum(x64, y64), Tensor.minimum)]
  for name, want, fn in binary:
    agree(name, want, fn(Tensor(X), Tensor(Y)).numpy(), 1e-5)
    o.arr(f"g_ew_{name}", f32(want).reshape(4, 6), "float", f"{name}(x, y)")
  for name, fn in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                   ("eq", np.equal), ("ne", np.not_equal)]:
    o.arr(f"g_ew_{name}", fn(X, Y).reshape(4, 6), "uint8_t", f"{name}(x, y)")

  # broadcasting: (3,1) op (1,4), (2,3,4) op (4,), (4,6) op scalar tensor
  c31 = f32([[1.5], [-2.0], [0.25]])
  r14 = f32([[1.0, -1.0, 2.0, 4.0]])
  o.arr("g_ew_c31", c31, "float")
  o.arr("g_ew_r14", r14, "float")
  o.arr("g_ew_bc_add", c31 + r14, "float", "c31 + r14")
  o.arr("g_ew_bc_sub", c31 - r14, "float", "c31 - r14")
  o.arr("g_ew_bc_mul", c31 * r14, "float", "c31 * r14")
  o.arr("g_ew_bc_div", f32(c31.astype(np.float64) / r14), "float", "c31 / r14")
  o.arr("g_ew_bc_sub_rev", r14 - c31, "float", "r14 - c31")
  b234 = f32(np.arange(24).reshape(2, 3, 4) * 0.5)
  v4 = f32([10, 20, 30, 40])
  o.arr("g_ew_b234", b234, "float", "i*0.5")
  o.arr("g_ew_v4", v4, "float")
  o.arr("g_ew_bc3_add", b234 + v4, "float", "b234 + v4")
  o.arr("g_ew_bc3_mul", b234 * v4.reshape(1, 1, 4), "float", "b234 * v4")

  # scalar ops
  sc = [("add_s", x64 + 2.5), ("sub_s", x64 - 2.5), ("rsub_s", 1.0 - x64), ("mul_s", x64 * -3.0),
        ("div_s", x64 / 4.0), ("rdiv_s", 2.0 / p64), ("maximum_s", np.maximum(x64, 0.5)),
        ("minimum_s", np.minimum(x64, -0.5)), ("pow_s2", x64 ** 2), ("pow_s05", np.sqrt(p64)),
        ("pow_sm1", 1 / p64), ("pow_s3", x64 ** 3), ("pow_s0", np.ones_like(x64)), ("pow_s15", p64 ** 1.5)]
  for name, want in sc:
    o.arr(f"g_ew_{name}", f32(want).reshape(4, 6), "float", name)
  agree("rsub", 1.0 - x64, (1.0 - Tensor(X)).numpy(), 1e-6)
  agree("rdiv", 2.0 / p64, (2.0 / Tensor(P)).numpy(), 1e-6)
  agree("pow3", x64 ** 3, (Tensor(X) ** 3).numpy(), 1e-5)
  agree("pow0", np.ones_like(x64), (Tensor(X) ** 0).numpy(), 0)
  # integer tensors with python scalars: tinygrad's types and values
  si = np.array([-7, -3, 0, 2, 5, 9], np.int32)
  ti = Tensor(si)
  o.arr("g_ew_si", si, "int32_t", "integers for the scalar ops")
  cases = [("floordiv_s", ti // 3), ("mod_s", ti % -4), ("le_s", ti <= 2), ("ge_s", ti >= 0), ("ne_s", ti != 5),
           ("and_s", ti & 6), ("or_s", ti | 3), ("xor_s", ti ^ -2), ("rpow_s", 2 ** Tensor(np.abs(si) % 5)),
           ("mul_s3", ti * 3), ("mul_f3", ti * 3.0), ("add_f", ti + 0.5), ("rsub_f", 1.0 - ti), ("pow_f", ti ** 2.0)]
  for name, t in cases:
    want = t.numpy()
    ctype = {"int32": "int32_t", "bool": "uint8_t", "float32": "float"}[str(want.dtype)]
    o.arr(f"g_ew_{name}", want, ctype, f"{name} ({want.dtype}, tinygrad)")
  try:
    ti ** -1
    sys.exit("gen.py: tinygrad no longer refuses int ** -1")
  except RuntimeError as e:
    assert "base needs to be float" in str(e)
  o.arr("g_ew_lt_s", (X < 0).reshape(4, 6), "uint8_t", "x < 0")
  o.arr("g_ew_gt_s", (X > 1).reshape(4, 6), "uint8_t", "x > 1")

  # pow: negative bases with integer exponents; fractional exponents of negative bases give nan
  pb = f32([[-2.0], [-1.5], [-0.5], [0.5], [2.0], [3.0]])
  pe = f32([[0, 1, 2, 3, -1, -2, 0.5]])
  with np.errstate(invalid="ignore"):
    pw = np.power(pb.astype(np.float64), pe.astype(np.float64))
  agree("pow", pw, Tensor(pb).pow(Tensor(pe)).numpy(), 1e-5)
  o.arr("g_ew_pow_base", pb, "float")
  o.arr("g_ew_pow_exp", pe, "float")
  o.arr("g_ew_pow", f32(pw), "float", "base ** exp, broadcast (6,1) ** (1,7)")

  # where
  cond = (X > Y).reshape(4, 6)
  o.arr("g_ew_where", np.where(cond, X.reshape(4, 6), Y.reshape(4, 6)), "float", "where(x > y, x, y)")
  c41 = np.array([[True], [False], [True], [False]])
  a16 = f32(np.arange(6).reshape(1, 6))
  o.arr("g_ew_c41", c41, "uint8_t")
  o.arr("g_ew_a16", a16, "float", "0..5")
  o.arr("g_ew_where_bc", np.where(c41, a16, F32(-1)), "float", "where(c41, a16, scalar -1): (4, 6)")
  o.arr("g_ew_where_s", np.where(cond, 1.5, -2.0).astype(F32), "float", "where_s(x > y, 1.5, -2)")

  # logical ops on bools
  ba = np.array([True, True, False, False])
  bb = np.array([True, False, True, False])
  o.arr("g_ew_ba", ba, "uint8_t")
  o.arr("g_ew_bb", bb, "uint8_t")
  o.arr("g_ew_land", ba & bb, "uint8_t")
  o.arr("g_ew_lor", ba | bb, "uint8_t")
  o.arr("g_ew_lnot", ~ba, "uint8_t")

  # python floordiv/mod on int32: (15, 1) // (1, 6), every sign combination
  ia = np.arange(-7, 8, dtype=np.int32).reshape(15, 1)
  ib = np.array([[-3, -2, -1, 1, 2, 3]], np.int32)
  fd = ia // ib
  md = ia % ib
  agree("floordiv", fd, (Tensor(ia) // Tensor(ib)).numpy(), 0)
  agree("mod", md, (Tensor(ia) % Tensor(ib)).numpy(), 0)
  o.arr("g_ew_ia", ia, "int32_t", "-7..7")
  o.arr("g_ew_ib", ib, "int32_t")
  o.arr("g_ew_floordiv", fd, "int32_t", "ia // ib, python (toward -inf)")
  o.arr("g_ew_mod", md, "int32_t", "ia % ib, python (sign of the divisor)")
  # int8 too (a narrower type takes the same path)
  i8a = np.array([-7, 7, -7, 7, -128, 127, 0, -1], np.int8)
  i8b = np.array([2, 2, -2, -2, 3, -5, 3, 4], np.int8)
  agree("floordiv8", i8a // i8b, (Tensor(i8a) // Tensor(i8b)).numpy(), 0)
  o.arr("g_ew_i8a", i8a, "int8_t")
  o.arr("g_ew_i8b", i8b, "int8_t")
  o.arr("g_ew_floordiv8", i8a // i8b, "int8_t", "int8 // int8")
  o.arr("g_ew_mod8", i8a % i8b, "int8_t", "int8 % int8")
  # float floordiv/mod: multiples of 0.5, so a/b is exact
  fa = f32(np.arange(-7.5, 8, 1.25).reshape(13, 1))
  fb = f32([[2.0, -1.5, 0.75, -4.0]])
  agree("ffloordiv", np.floor_divide(fa, fb), (Tensor(fa) // Tensor(fb)).numpy(), 0)
  agree("fmod", np.mod(fa, fb), (Tensor(fa) % Tensor(fb)).numpy(), 1e-6)
  o.arr("g_ew_fa", fa, "float", "-7.5..7.5 step 1.25")
  o.arr("g_ew_fb", fb, "float")
  o.arr("g_ew_ffloordiv", np.floor_divide(fa, fb), "float", "fa // fb")
  o.arr("g_ew_fmod", np.mod(fa, fb), "float", "fa % fb")
  # rounding modes, fmod (the dividend's sign)
  with np.errstate(all="ignore"):
    for name, want, mode in [("div_trunc", np.trunc(fa / fb), "trunc"), ("div_floor", np.floor(fa / fb), "floor")]:
      agree(name, want, Tensor(fa).div(Tensor(fb), rounding_mode=mode).numpy(), 0)
      o.arr(f"g_ew_f{name}", f32(want), "float", f"fa / fb, rounding_mode={mode}")
    itrunc = np.trunc(ia / ib).astype(np.int32)
    agree("idiv_trunc", itrunc, Tensor(ia).div(Tensor(ib), rounding_mode="trunc").numpy(), 0)
    agree("idiv_floor", fd, Tensor(ia).div(Tensor(ib), rounding_mode="floor").numpy(), 0)
    o.arr("g_ew_idiv_trunc", itrunc, "int32_t", "ia / ib, rounding_mode=trunc (C's /)")
    agree("ifmod", np.fmod(ia, ib), Tensor(ia).fmod(Tensor(ib)).numpy(), 0)
    agree("ffmod", np.fmod(fa, fb), Tensor(fa).fmod(Tensor(fb)).numpy(), 1e-6)
    o.arr("g_ew_ifmod", np.fmod(ia, ib), "int32_t", "fmod(ia, ib): C's %")
    o.arr("g_ew_ffmod", np.fmod(fa, fb), "float", "fmod(fa, fb)")
  # int / int is true division in float32
  o.arr("g_ew_idiv", f32(ia.astype(np.float64) / ib), "float", "ia / ib (true division)")

  # copysign (a negative zero's sign too), logaddexp, lerp
  ca = f32([1.5, -2.0, 0.0, -0.0, 3.0, -4.0, np.inf, 2.5])
  cb = f32([-0.0, 0.0, -1.0, 2.0, -np.inf, np.inf, -3.0, np.nan])
  with np.errstate(all="ignore"):
    cs = np.copysign(ca, cb)
  cs[7] = 2.5  # NaN's sign bit is not tinygrad's test (b < 0 or 1/b < 0): a NaN counts as positive
  agree("copysign", cs, Tensor(ca).copysign(Tensor(cb)).numpy(), 0)
  o.arr("g_ew_ca", ca, "float")
  o.arr("g_ew_cb", cb, "float")
  o.arr("g_ew_copysign", cs, "float", "copysign(ca, cb)")
  agree("logaddexp", np.logaddexp(x64, y64), Tensor(X).logaddexp(Tensor(Y)).numpy(), 1e-5)
  o.arr("g_ew_logaddexp", f32(np.logaddexp(x64, y64)).reshape(4, 6), "float", "logaddexp(x, y)")
  W = f32(np.abs(np.cos(np.arange(24) * 0.7)))
  o.arr("g_ew_w", W.reshape(4, 6), "float", "|cos(0.7 i)|: lerp's weights")
  agree("lerp_s", x64 + (y64 - x64) * 0.3, Tensor(X).lerp(Tensor(Y), 0.3).numpy(), 1e-6)
  agree("lerp", x64 + (y64 - x64) * W, Tensor(X).lerp(Tensor(Y), Tensor(W)).numpy(), 1e-6)
  o.arr("g_ew_lerp_s", f32(x64 + (y64 - x64) * 0.3).reshape(4, 6), "float", "lerp(x, y, 0.3)")
  o.arr("g_ew_lerp", f32(x64 + (y64 - x64) * W).reshape(4, 6), "float", "lerp(x, y, w)")
  la = np.array([0, 10, 200, 250, 128, 7, 100, 60], np.uint8)
  lb = np.array([120, 20, 100, 255, 130, 7, 30, 187], np.uint8)
  lw = f32([0.5, 0.25, 0.75, 1.0, 0.1, 0.0, 0.33, 0.9])
  lu = Tensor(la).lerp(Tensor(lb), Tensor(lw)).numpy()
  assert lu.dtype == np.uint8 and np.abs(lu.astype(int) - np.round(la + (lb.astype(int) - la) * lw)).max() <= 1
  o.arr("g_ew_la", la, "uint8_t")
  o.arr("g_ew_lb", lb, "uint8_t")
  o.arr("g_ew_lw", lw, "float")
  o.arr("g_ew_lerp_u8", lu, "uint8_t", "tinygrad's uint8 lerp(la, lb, lw): 7 fractional bits")

  # bitwise
  wa = np.array([-8, -3, 0, 5, 12, 127, -128, 0x0F0F], np.int32)
  wb = np.array([3, -1, 6, -4, 10, 1, 7, 0xFF], np.int32)
  o.arr("g_ew_wa", wa, "int32_t")
  o.arr("g_ew_wb", wb, "int32_t")
  o.arr("g_ew_band", wa & wb, "int32_t")
  o.arr("g_ew_bor", wa | wb, "int32_t")
  o.arr("g_ew_bxor", wa ^ wb, "int32_t")
  o.arr("g_ew_bnot", ~wa, "int32_t")
  agree("bxor", wa ^ wb, (Tensor(wa) ^ Tensor(wb)).numpy(), 0)
  agree("bnot", ~wa, Tensor(wa).bitwise_not().numpy(), 0)
  u8 = np.array([0, 1, 200, 255, 31, 3], np.uint8)
  o.arr("g_ew_u8", u8, "uint8_t")
  o.arr("g_ew_u8_not", ~u8, "uint8_t")
  o.arr("g_ew_u8_shl2", u8 << 2, "uint8_t", "wraps at 8 bits")
  o.arr("g_ew_u8_shr3", u8 >> 3, "uint8_t")
  agree("u8shl", u8 << 2, Tensor(u8).lshift(2).numpy(), 0)
  sh = np.array([1, -3, 5, 100, -8, -7, 7, -1], np.int32)
  o.arr("g_ew_sh", sh, "int32_t")
  o.arr("g_ew_shl3", sh << 3, "int32_t")
  o.arr("g_ew_shr1", sh >> 1, "int32_t", "arithmetic shift")
  agree("shr", sh >> 1, Tensor(sh).rshift(1).numpy(), 0)

  # casts
  cf = f32([-2.7, -0.5, 0.5, 2.7, 100.9, -100.9, 0.0, 1e9])
  o.arr("g_ew_cast_in", cf, "float")
  o.arr("g_ew_cast_i32", np.trunc(cf).astype(np.int32), "int32_t", "float -> int32 truncates")
  agree("cast_i32", np.trunc(cf), Tensor(cf).cast(dtypes.int32).numpy(), 0)
  cu = f32([0.5, 1.9, 200.7, 255.2, 17.0])
  o.arr("g_ew_castu_in", cu, "float")
  o.arr("g_ew_cast_u8", np.trunc(cu).astype(np.uint8), "uint8_t", "float -> uint8 truncates")
  ci = np.array([-5, 0, 7, 16777217, -2147483647 - 1], np.int32)
  o.arr("g_ew_casti_in", ci, "int32_t")
  o.arr("g_ew_cast_f32", ci.astype(F32), "float", "int32 -> float32 (16777217 rounds to even)")
  o.arr("g_ew_cast_bool", (cf != 0), "uint8_t", "float -> bool")
  hv = f32([1.0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -10, 65504.0, 65519.0, 65520.0, 1e-8, 6e-5, -3.3, 0.1,
            2049.0, 2051.0])
  with np.errstate(over="ignore"):
    h = hv.astype(np.float16)
  agree("half", h, Tensor(hv).cast(dtypes.float16).numpy(), 0)
  o.arr("g_ew_half_in", hv, "float", "ties to even, overflow, subnormals")
  o.arr("g_ew_half_bits", h.view(np.uint16), "uint16_t", "float32 -> float16, round to nearest even")
  o.arr("g_ew_half_vals", h.astype(F32), "float", "and back to float32")
  bv = f32([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -10, 3.3, -7.77, 1e38, 65520.0, 0.1, -0.0])
  bvals, bbits = bf16_round(bv)
  agree("bf16", bvals, Tensor(bv).cast(dtypes.bfloat16).cast(dtypes.float32).numpy(), 0)
  o.arr("g_ew_bf16_in", bv, "float", "ties to even")
  o.arr("g_ew_bf16_bits", bbits, "uint16_t", "float32 -> bfloat16, round to nearest even")
  o.arr("g_ew_bf16_vals", bvals, "float", "and back to float32")
  bc = f32([1.0, -2.0, 0.0, -0.0, np.inf, 0.1, -1e-40, 3.4028235e38])
  o.arr("g_ew_bitcast_in", bc, "float")
  o.arr("g_ew_bitcast_i32", bc.view(np.int32), "int32_t", "float32 bit patterns as int32")
  agree("bitcast", bc.view(np.int32), Tensor(bc).bitcast(dtypes.int32).numpy(), 0)

  # float16 math: the results are float16 (within a float16 rounding of the float64 value)
  hx, hy = X.astype(np.float16), Y.astype(np.float16)
  o.arr("g_ew_hx_bits", hx.view(np.uint16).reshape(4, 6), "uint16_t", "x as float16")
  o.arr("g_ew_hy_bits", hy.view(np.uint16).reshape(4, 6), "uint16_t", "y as float16")
  hx64, hy64 = hx.astype(np.float64), hy.astype(np.float64)
  for nm, val in [("exp", np.exp(hx64)), ("sigmoid", 1 / (1 + np.exp(-hx64))), ("mul", hx64 * hy64),
                  ("add", hx64 + hy64), ("sqrt_abs", np.sqrt(np.abs(hx64)))]:
    o.arr(f"g_ew_h_{nm}", val.astype(np.float16).astype(F32).reshape(4, 6), "float", f"{nm} in float16")

  # result dtypes of binary ops (tinygrad's promotion), with values
  pairs = [("int8", "int16"), ("uint8", "int8"), ("int32", "float16"), ("bool", "int8"), ("uint32", "int32"),
           ("float16", "bfloat16"), ("int64", "uint64"), ("bool", "bool"), ("uint16", "float32"), ("int8", "uint64")]
  rows = []
  for a, b in pairs:
    ta, tb = TINY[TG_NAMES.index(a)], TINY[TG_NAMES.index(b)]
    r = (Tensor([1, 0, 1], dtype=ta) + Tensor([1, 1, 0], dtype=tb))
    rows.append(f"  {{{TG_ENUM[TG_NAMES.index(a)]}, {TG_ENUM[TG_NAMES.index(b)]}, {tg_enum(r.dtype)}}},")
  o.raw("/* the dtype of a + b for tensors of these dtypes (tinygrad) */")
  o.raw("GOLDEN_ARR tg_dtype g_ew_add_dtypes[][3] = {")
  o.lines.extend(rows)
  o.raw("};")
  o.end()


# ---------------------------------------------------------------------------------------------------------------------
# reductions


def section_reduce(o):
  o.section("REDUCE", "reductions: sum/prod/max/min/mean/var/std/any/all, arg*, cumulative, softmax, layernorm")
  r = f32(np.sin(np.arange(24) * 0.7 + 0.3) * 2).reshape(2, 3, 4)
  q = f32(1 + 0.3 * np.sin(np.arange(24) * 1.3)).reshape(2, 3, 4)  # near 1: for prod
  o.arr("g_rd_r", r, "float", "sin(i*0.7+0.3)*2")
  o.arr("g_rd_q", q, "float", "1+0.3*sin(i*1.3)")
  b = r > 0.5
  b[1, 2, :] = True  # one all-true row
  o.arr("g_rd_b", b, "uint8_t", "r > 0.5, row [1,2,:] all true")
  r64, q64 = r.astype(np.float64), q.astype(np.float64)

  axes_list = [(), (0,), (1,), (-1,), (0, 2), (-1, -2), (0, 1, 2)]
  rows = []
  k = 0

  def add(op, inp, axes, keepdim, corr, want, tiny_fn):
    nonlocal k
    name = f"g_rd_case{k}"
    k += 1
    want = np.asarray(want)
    if tiny_fn is not None:
      agree(f"{op}{axes}{keepdim}", want, tiny_fn(), 1e-5)
    ctype = "float"
    o.arr(name, f32(want.astype(np.float64)), ctype, f"{op}({inp}, axes={axes}, keepdim={keepdim}"
          + (f", correction={corr}" if op in ("var", "std") else "") + ")")
    shape = list(want.shape) + [0] * (4 - want.ndim)
    ax = list(axes) + [0] * (4 - len(axes))
    rows.append(f'  {{"{op}", "{inp}", {len(axes)}, {{{", ".join(map(str, ax))}}}, {keepdim}, {corr}, {want.ndim}, '
                f'{{{", ".join(map(str, shape))}}}, {name}}},')

  for axes in axes_list:
    for keepdim in (0, 1):
      npax = tuple(axes) if axes else None
      tax = tuple(axes) if axes else None
      add("sum", "r", axes, keepdim, 0, r64.sum(npax, keepdims=bool(keepdim)),
          lambda: Tensor(r).sum(tax, keepdim=bool(keepdim)).numpy())
      add("prod", "q", axes, keepdim, 0, q64.prod(npax, keepdims=bool(keepdim)),
          lambda: Tensor(q).prod(tax, keepdim=bool(keepdim)).numpy())
      add("max", "r", axes, keepdim, 0, r64.max(npax, keepdims=bool(keepdim)), None)
      add("min", "r", axes, keepdim, 0, r64.min(npax, keepdims=bool(keepdim)), None)
      add("mean", "r", axes, keepdim, 0, r64.mean(npax, keepdims=bool(keepdim)), None)
      for corr in (0, 1):
        if axes in ((1,), (-1, -2), ()):
          add("var", "r", axes, keepdim, corr, r64.var(npax, ddof=corr, keepdims=bool(keepdim)),
              lambda: Tensor(r).var(tax, keepdim=bool(keepdim), correction=corr).numpy())
          add("std", "r", axes, keepdim, corr, r64.std(npax, ddof=corr, keepdims=bool(keepdim)),
              lambda: Tensor(r).std(tax, keepdim=bool(keepdim), correction=corr).numpy())
      add("any", "b", axes, keepdim, 0, b.any(npax, keepdims=bool(keepdim)), None)
      add("all", "b", axes, keepdim, 0, b.all(npax, keepdims=bool(keepdim)), None)
  o.raw("/* reductions: op, input (r, q or b), axes, keepdim, correction (var/std), expected shape and values */")
  o.raw("typedef struct golden_reduce {")
  o.raw("  const char *op, *in; /* the op, and its input: g_rd_r, g_rd_q or g_rd_b */")
  o.raw("  int naxes, axes[4], keepdim;")
  o.raw("  double correction;")
  o.raw("  int ndim;")
  o.raw("  int64_t shape[4];")
  o.raw("  const float *want;")
  o.raw("} golden_reduce;")
  o.raw("GOLDEN_ARR golden_reduce g_rd_cases[] = {")
  o.lines.extend(rows)
  o.raw("};")

  # argmax/argmin with ties: the first index wins
  ties = np.array([[1, 3, 3, 2], [5, 5, 1, 5], [0, 0, 0, 0]], np.int32)
  o.arr("g_rd_ties", ties, "int32_t")
  for fn, npfn in (("argmax", np.argmax), ("argmin", np.argmin)):
    for ax in (0, 1, -1):
      want = npfn(ties, axis=ax)
      agree(f"{fn}{ax}", want, getattr(Tensor(ties), fn)(ax).numpy(), 0)
      o.arr(f"g_rd_{fn}_{str(ax).replace('-', 'm')}", want, "int32_t", f"{fn}(ties, {ax})")
    o.arr(f"g_rd_{fn}_flat", [npfn(ties)], "int32_t", f"{fn}(flatten(ties), 0)")
    o.arr(f"g_rd_{fn}_r1", npfn(r, axis=1), "int32_t", f"{fn}(r, 1)")
  # logsumexp, softmax, log_softmax
  for ax in (0, 1, -1):
    nm = str(ax).replace("-", "m")
    m = r64.max(ax, keepdims=True)
    lse = np.log(np.exp(r64 - m).sum(ax, keepdims=True)) + m
    agree("lse", lse.squeeze(ax), Tensor(r).logsumexp(ax).numpy(), 1e-5)
    o.arr(f"g_rd_lse_{nm}", lse.squeeze(ax), "float", f"logsumexp(r, {ax})")
    o.arr(f"g_rd_softmax_{nm}", np.exp(r64 - lse), "float", f"softmax(r, {ax})")
    o.arr(f"g_rd_logsoftmax_{nm}", r64 - lse, "float", f"log_softmax(r, {ax})")
  big = f32([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1002.0]])
  o.arr("g_rd_big", big, "float", "large logits: softmax must be stable")
  bm = big.astype(np.float64)
  blse = np.log(np.exp(bm - bm.max(1, keepdims=True)).sum(1, keepdims=True)) + bm.max(1, keepdims=True)
  o.arr("g_rd_big_softmax", np.exp(bm - blse), "float", "softmax(big, 1)")
  o.arr("g_rd_big_lse", blse.reshape(2), "float", "logsumexp(big, 1)")
  # cumulative
  c = f32([[1.5, -2.0, 3.0, 0.5], [2.0, 2.0, -1.0, 4.0], [-3.0, 1.0, 0.5, -0.5]])
  o.arr("g_rd_c", c, "float")
  for ax in (0, 1, -1):
    nm = str(ax).replace("-", "m")
    o.arr(f"g_rd_cumsum_{nm}", np.cumsum(c, ax), "float", f"cumsum(c, {ax})")
    o.arr(f"g_rd_cumprod_{nm}", np.cumprod(c, ax), "float", f"cumprod(c, {ax})")
    o.arr(f"g_rd_cummax_{nm}", np.maximum.accumulate(c, ax), "float", f"cummax(c, {ax})")
  ci = np.array([3, -1, 4, 1, -5, 9, 2, -6], np.int32)
  o.arr("g_rd_ci", ci, "int32_t")
  o.arr("g_rd_cumsum_int", np.cumsum(ci), "int32_t", "cumsum(ci, 0), int32")
  o.arr("g_rd_cummax_int", np.maximum.accumulate(ci), "int32_t", "cummax(ci, 0)")
  # cummin, the running extrema's indices (tinygrad: the first position of each; ties in ct), logcumsumexp, and the
  # all-axes forms (axis=None: the flattened tensor)
  ct = f32([[2.0, 2.0, 1.0, 3.0], [0.5, 0.5, 0.5, -1.0], [1.0, 3.0, 3.0, 3.0]])
  o.arr("g_rd_ct", ct, "float", "running maxima with ties")
  for ax in (0, 1):
    tv, ti = Tensor(ct).cummax(ax)
    agree("cummax_v", np.maximum.accumulate(ct, ax), tv.numpy(), 0)
    o.arr(f"g_rd_cummax_idx{ax}", ti.numpy(), "int32_t", f"cummax(ct, {ax}) indices")
    mv, mi = Tensor(ct).cummin(ax)
    agree("cummin", np.minimum.accumulate(ct, ax), mv.numpy(), 0)
    o.arr(f"g_rd_cummin{ax}", mv.numpy(), "float", f"cummin(ct, {ax})")
    o.arr(f"g_rd_cummin_idx{ax}", mi.numpy(), "int32_t", f"cummin(ct, {ax}) indices")
    lc = Tensor(c).logcumsumexp(ax).numpy()
    agree("logcumsumexp", np.log(np.cumsum(np.exp(c.astype(np.float64)), ax)), lc, 1e-5)
    o.arr(f"g_rd_logcumsumexp{ax}", lc, "float", f"logcumsumexp(c, {ax})")
  o.arr("g_rd_argmax_all", [Tensor(ct).argmax().numpy()], "int32_t", "argmax(ct): flattened")
  o.arr("g_rd_argmin_all", [Tensor(ct).argmin().numpy()], "int32_t", "argmin(ct): flattened")
  o.arr("g_rd_lse_all", [Tensor(c).logsumexp().numpy()], "float", "logsumexp(c): every axis")
  o.arr("g_rd_cumsum_all", np.cumsum(c), "float", "cumsum(c, axis=None): flattened")
  # layernorm over the dims from axis on
  for ax in (-1, 1, 2):
    axes = tuple(range(ax % 3, 3))
    mu = r64.mean(axes, keepdims=True)
    want = (r64 - mu) / np.sqrt(((r64 - mu) ** 2).mean(axes, keepdims=True) + 1e-5)
    agree("layernorm", want, Tensor(r).layernorm(axes, 1e-5).numpy(), 1e-4)
    o.arr(f"g_rd_layernorm_{str(ax).replace('-', 'm')}", want, "float", f"layernorm(r, {ax}, 1e-5)")
  o.arr("g_rd_sum_perm", r64.transpose(2, 0, 1).sum(1), "float", "sum(permute(r, 2, 0, 1), axis 1): a strided input")
  o.arr("g_rd_max_flip", np.flip(r64, 2).max(0), "float", "max(flip(r, 2), axis 0)")
  # larger integer-valued reductions: Z[i] = (i*3)%17 - 8, shape (67, 301)
  z = (np.arange(67 * 301) * 3 % 17 - 8).reshape(67, 301)
  o.raw("/* Z[i] = (i*3)%17 - 8 as (67, 301) */")
  o.arr("g_rd_z_sum0", z.sum(0), "int32_t", "sum(Z, 0)")
  o.arr("g_rd_z_sum1", z.sum(1), "int32_t", "sum(Z, 1)")
  o.arr("g_rd_z_max1", z.max(1), "int32_t", "max(Z, 1)")
  o.arr("g_rd_z_argmin0", z.argmin(0), "int32_t", "argmin(Z, 0)")
  o.arr("g_rd_z_cumsum1_last", z.cumsum(1)[:, -1], "int32_t", "cumsum(Z, 1)[:, -1]")
  o.arr("g_rd_z_cumsum1_row5", z.cumsum(1)[5], "int32_t", "cumsum(Z, 1)[5]")
  zz = (z[:4] * 0.05).astype(np.float64)
  o.arr("g_rd_z_softmax_row0", np.exp(zz[0] - zz[0].max()) / np.exp(zz[0] - zz[0].max()).sum(), "float",
        "softmax(Z[:4]*0.05, 1)[0]: a long axis")
  o.raw(f"#define G_RD_Z_SUM {int(z.sum())}")
  # sum over a large tensor
  big_in = f32(np.sin(np.arange(10000) * 0.01) + 0.25)
  o.raw("/* the sum of (float)(sin(i*0.01)+0.25) for i < 10000, in float64 */")
  o.raw(f"#define G_RD_BIGSUM {float(big_in.astype(np.float64).sum())!r}")
  # result dtypes (tinygrad): sum of int8 -> int32, uint8 -> uint32, bool -> int32, float16 stays
  i8 = np.array([100, 100, 100, -50], np.int8)
  o.arr("g_rd_i8", i8, "int8_t")
  u8 = np.array([200, 200, 255], np.uint8)
  o.arr("g_rd_u8", u8, "uint8_t")
  h = np.array([0.5, 0.25, 1000.0], np.float16)
  o.arr("g_rd_h_bits", h.view(np.uint16), "uint16_t", "float16 0.5, 0.25, 1000")
  hs = Tensor(h).sum()
  agree("half sum", h.astype(np.float32).sum().astype(np.float16), hs.numpy(), 0)
  o.raw(f"#define G_RD_HALF_SUM {float(hs.numpy())!r} /* sum of the float16 values, rounded to float16 */")
  for nm, t in [("I8_SUM", Tensor(i8).sum()), ("U8_SUM", Tensor(u8).sum()),
                ("BOOL_SUM", Tensor([True, False, True]).sum()),
                ("HALF_SUM", hs), ("I8_PROD", Tensor(np.array([2, 3, 4], np.int8)).prod()),
                ("I16_MEAN", Tensor(np.array([1, 2], np.int16)).mean()), ("I8_MAX", Tensor(i8).max()),
                ("HALF_MEAN", Tensor(h).mean()), ("I32_CUMSUM", Tensor(ci).cumsum()),
                ("I8_CUMSUM", Tensor(np.array([100, 100], np.int8)).cumsum())]:
    o.raw(f"#define G_RD_DT_{nm} {tg_enum(t.dtype)}")
  o.raw(f"#define G_RD_I8_CUMSUM_LAST {int(Tensor(np.array([100, 100], np.int8)).cumsum().numpy()[-1])}")
  o.end()


# ---------------------------------------------------------------------------------------------------------------------
# movement


def np_pad(a, pads, value):
  """pads[i] = (before, after); negative values crop"""
  crop = tuple(slice(-min(b, 0), a.shape[i] + min(e, 0)) for i, (b, e) in enumerate(pads))
  a = a[crop]
  return np.pad(a, [(max(b, 0), max(e, 0)) for b, e in pads], constant_values=value)


def section_movement(o):
  o.section("MOVEMENT", "movement and indexing")
  m = np.arange(24, dtype=F32).reshape(2, 3, 4)
  m2 = m[0]
  v10 = np.arange(10, dtype=F32)
  o.arr("g_mv_m", m, "float", "0..23")
  o.arr("g_mv_v10", v10, "float", "0..9")
  A = o.arr
  A("g_mv_permute201", m.transpose(2, 0, 1), note="permute(m, 2, 0, 1)")
  A("g_mv_transpose02", m.swapaxes(0, 2), note="transpose(m, 0, 2)")
  A("g_mv_transpose_m1m2", m.swapaxes(-1, -2), note="transpose(m, -1, -2)")
  A("g_mv_expand", np.broadcast_to(f32([[1], [2], [3]]), (2, 3, 4)), note="expand (3,1) [1,2,3] to (2, -1, 4)")
  A("g_mv_pad_pos", np_pad(m2, [(1, 2), (0, 1)], 0), note="pad(m[0], (1,2),(0,1), 0)")
  A("g_mv_pad_neg", np_pad(m2, [(-1, 0), (1, -2)], 0), note="pad(m[0], (-1,0),(1,-2), 0): crops")
  A("g_mv_pad_val", np_pad(m2, [(0, 1), (2, 0)], -1.5), note="pad(m[0], (0,1),(2,0), -1.5)")
  A("g_mv_pad3", np_pad(m, [(0, 0), (1, 1), (-1, 2)], 7), note="pad(m, (0,0),(1,1),(-1,2), 7)")
  A("g_mv_shrink", m[1:2, 0:2, 1:4], note="shrink(m, (1,2),(0,2),(1,4))")
  slices = [(1, 9, 2, v10[1:9:2]), (0, None, 3, v10[0::3]), (None, None, -1, v10[::-1]), (8, 1, -3, v10[8:1:-3]),
            (-3, None, 1, v10[-3:]), (-8, -2, 2, v10[-8:-2:2]), (-1, -11, -1, v10[-1:-11:-1]), (3, 100, 1, v10[3:100]),
            (5, 2, 1, v10[5:2]), (-100, 4, 3, v10[-100:4:3]), (None, 4, -2, v10[:4:-2]), (7, None, -2, v10[7::-2])]
  rows = []
  for i, (a, b, s, want) in enumerate(slices):
    A(f"g_mv_slice{i}", want, note=f"v10[{'' if a is None else a}:{'' if b is None else b}:{s}]")
    ca = "TG_END" if a is None else str(a)
    cb = "TG_END" if b is None else str(b)
    rows.append(f"  {{{ca}, {cb}, {s}, {len(want)}, g_mv_slice{i}}},")
  o.raw("typedef struct golden_slice { int64_t start, stop, step, n; const float *want; } golden_slice;")
  o.raw("GOLDEN_ARR golden_slice g_mv_slices[] = {")
  o.lines.extend(rows)
  o.raw("};")
  A("g_mv_slice_ax1", m[:, ::2, :], note="m[:, ::2, :]")
  A("g_mv_slice_ax2", m[:, :, 3:0:-2], note="m[:, :, 3:0:-2]")
  A("g_mv_select1m1", m[:, -1, :], note="select(m, 1, -1)")
  A("g_mv_select01", m[1], note="select(m, 0, 1)")
  A("g_mv_select2", m[:, :, 2], note="select(m, -1, 2)")
  A("g_mv_flip02", np.flip(m, (0, 2)), note="flip(m, 0, 2)")
  A("g_mv_flipm1", np.flip(m, -1), note="flip(m, -1)")
  A("g_mv_repeat21", np.tile(m2, (2, 1)), note="repeat(m[0], 2, 1)")
  A("g_mv_repeat221", np.tile(m2, (2, 2, 1)), note="repeat(m[0], 2, 2, 1): a new leading dim")
  ca = f32(np.arange(8).reshape(2, 1, 4) + 100)
  cb = m
  cc = f32(-np.arange(16).reshape(2, 2, 4))
  # more movement (tinygrad's own results; numpy's where numpy has the op)
  def tg(fn): return fn(Tensor(m)).numpy()
  A("g_mv_roll", tg(lambda t: t.roll((1, -2), (1, 2))), note="roll(m, (1, -2), dims (1, 2))")
  agree("roll", np.roll(m, (1, -2), (1, 2)), tg(lambda t: t.roll((1, -2), (1, 2))), 0)
  A("g_mv_roll_flat", tg(lambda t: t.roll(5)), note="roll(m, 5): flattened")
  agree("roll_flat", np.roll(m, 5), tg(lambda t: t.roll(5)), 0)
  A("g_mv_roll_big", tg(lambda t: t.roll(-7, 2)), note="roll(m, -7, dim 2): past the size")
  A("g_mv_diagonal", tg(lambda t: t.diagonal()), note="diagonal(m): dims 0, 1")
  A("g_mv_diagonal_o1", tg(lambda t: t.diagonal(offset=1, dim1=1, dim2=2)), note="diagonal(m, 1, 1, 2)")
  A("g_mv_diagonal_om1", tg(lambda t: t.diagonal(offset=-1, dim1=2, dim2=1)), note="diagonal(m, -1, 2, 1)")
  for nm, o_, d1, d2 in [("diagonal", 0, 0, 1), ("diagonal_o1", 1, 1, 2), ("diagonal_om1", -1, 2, 1)]:
    agree(nm, np.diagonal(m, o_, d1, d2), tg(lambda t: t.diagonal(offset=o_, dim1=d1, dim2=d2)), 0)
  A("g_mv_diag", Tensor(f32([1.5, -2, 3])).diag().numpy(), note="diag([1.5, -2, 3])")
  A("g_mv_repeat_interleave", tg(lambda t: t.repeat_interleave(2, 1)), note="repeat_interleave(m, 2, dim 1)")
  agree("repeat_interleave", np.repeat(m, 2, 1), tg(lambda t: t.repeat_interleave(2, 1)), 0)
  A("g_mv_repeat_interleave_flat", Tensor(m2).repeat_interleave(3).numpy(), note="repeat_interleave(m[0], 3)")
  mx, my = Tensor(f32([1, 2, 3])).meshgrid(Tensor(f32([10, 20])), indexing="xy")
  A("g_mv_meshgrid_xy0", mx.numpy(), note="meshgrid([1,2,3], [10,20], xy)[0]")
  A("g_mv_meshgrid_xy1", my.numpy(), note="[1]")
  agree("meshgrid", np.meshgrid([1, 2, 3], [10, 20])[0], mx.numpy(), 0)
  mi, mj = Tensor(f32([1, 2, 3])).meshgrid(Tensor(f32([10, 20])), indexing="ij")
  A("g_mv_meshgrid_ij0", mi.numpy(), note="meshgrid(..., ij)[0]")
  A("g_mv_meshgrid_ij1", mj.numpy(), note="[1]")
  A("g_mv_unfold", Tensor(v10).unfold(0, 3, 2).numpy(), note="unfold(v10, 0, size 3, step 2)")
  A("g_mv_unfold_m", tg(lambda t: t.unfold(1, 2, 1)), note="unfold(m, 1, 2, 1): (2, 2, 4, 2)")
  A("g_mv_unfold_gap", tg(lambda t: t.unfold(2, 1, 3)), note="unfold(m, 2, 1, 3): step past the size")
  A("g_mv_split_sizes1", tg(lambda t: t.split([1, 2], 1)[1]), note="split(m, [1, 2], dim 1)[1]")
  for mode in ["reflect", "replicate", "circular"]:
    pads = ((0, 0), (2, 1), (1, -1)) if mode != "circular" else ((0, 0), (2, 1), (-1, 3))
    got = Tensor(m).pad(pads, mode=mode).numpy()
    A(f"g_mv_pad_{mode}", got, note=f"pad(m, {pads}, mode={mode})")
    if mode != "circular" and all(p >= 0 for pp in pads for p in pp):
      agree(mode, np.pad(m, pads, {"reflect": "reflect", "replicate": "edge"}[mode]), got, 0)
  agree("reflect", np.pad(m, ((0, 0), (2, 1), (1, 0)), "reflect")[:, :, :4],
        Tensor(m).pad(((0, 0), (2, 1), (1, -1)), mode="reflect").numpy(), 0)
  agree("circular", np.pad(m[:, :, 1:], ((0, 0), (2, 1), (0, 3)), "wrap"),
        Tensor(m).pad(((0, 0), (2, 1), (-1, 3)), mode="circular").numpy(), 0)
  # masked_fill, scatter, scatter_reduce (tinygrad's; PyTorch's semantics): index (2, 3) into (3, 4) along 0 and 1
  sx = f32(np.arange(12).reshape(3, 4) + 1)
  si0 = np.array([[2, 0, 1, 2], [0, 0, 2, 1]], np.int32)[:, :3]
  si1 = np.array([[3, 1, 3], [0, 0, 2]], np.int32)
  ss = f32(-np.arange(1, 10).reshape(3, 3) * 10)
  A("g_mv_sx", sx, note="1..12")
  A("g_mv_si0", si0, "int32_t", "scatter index along 0 (two writes to [0][1])")
  A("g_mv_si1", si1, "int32_t", "along 1 (repeats: [0][3] twice, [1][0] twice)")
  A("g_mv_ss", ss, note="src: -10, -20, ...")
  A("g_mv_scatter0", Tensor(sx).scatter(0, Tensor(si0), Tensor(ss)).numpy(), note="scatter(sx, 0, si0, ss)")
  A("g_mv_scatter1", Tensor(sx).scatter(1, Tensor(si1), Tensor(ss)).numpy(), note="scatter(sx, 1, si1, ss): last wins")
  A("g_mv_scatter_s", Tensor(sx).scatter(1, Tensor(si1), 0.5).numpy(), note="scatter(sx, 1, si1, 0.5)")
  for red in ("sum", "prod", "mean", "amax", "amin"):
    for inc in (True, False):
      got = Tensor(sx).scatter_reduce(1, Tensor(si1), Tensor(ss), red, include_self=inc).numpy()
      A(f"g_mv_sr_{red}_{int(inc)}", got, note=f"scatter_reduce(sx, 1, si1, ss, {red}, include_self={inc})")
  A("g_mv_sr_sum0", Tensor(sx).scatter_reduce(0, Tensor(si0), Tensor(ss), "sum").numpy(), note="sum along 0")
  mk = np.array([[True, False, False, True], [False, False, True, False], [True, True, False, False]])
  A("g_mv_mk", mk, "uint8_t")
  A("g_mv_masked_fill", Tensor(sx).masked_fill(Tensor(mk), -1.5).numpy(), note="masked_fill(sx, mk, -1.5)")
  A("g_mv_masked_select", Tensor(sx).masked_select(Tensor(mk)).numpy(), note="masked_select(sx, mk)")
  nz = f32([[0, 1.5, 0], [-2, 0, 0], [0, 0, 3]])
  A("g_mv_nz", nz)
  A("g_mv_nonzero", Tensor(nz).nonzero().numpy(), "int32_t", "nonzero(nz)")
  agree("nonzero", np.argwhere(nz), Tensor(nz).nonzero().numpy(), 0)
  # sort, argsort, topk (ties keep their order); an axis of 5 (padded to 8) and of 3
  so = f32([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3], [5, 8, 9, 7, 9]])
  A("g_mv_so", so, note="with ties")
  for dsc in (0, 1):
    v, i = Tensor(so).sort(1, descending=bool(dsc))
    A(f"g_mv_sort1_{dsc}_v", v.numpy(), note=f"sort(so, 1, descending={bool(dsc)})")
    A(f"g_mv_sort1_{dsc}_i", i.numpy(), "int32_t", "its indices")
    v, i = Tensor(so).sort(0, descending=bool(dsc))
    A(f"g_mv_sort0_{dsc}_v", v.numpy(), note=f"sort(so, 0, descending={bool(dsc)})")
    A(f"g_mv_sort0_{dsc}_i", i.numpy(), "int32_t", "its indices")
  agree("sort", np.sort(so, 1, kind="stable"), Tensor(so).sort(1)[0].numpy(), 0)
  agree("argsort", np.argsort(so, 1, kind="stable"), Tensor(so).argsort(1).numpy(), 0)
  v, i = Tensor(so).topk(2, 1)
  A("g_mv_topk2_v", v.numpy(), note="topk(so, 2, 1)")
  A("g_mv_topk2_i", i.numpy(), "int32_t")
  v, i = Tensor(so).topk(3, 1, largest=False)
  A("g_mv_topk3s_v", v.numpy(), note="topk(so, 3, 1, largest=False)")
  A("g_mv_topk3s_i", i.numpy(), "int32_t")
  # rearrange (tinygrad's, einops' formulas) on m (2, 3, 4)
  for nm, fml, kw in [("r_perm", "b c h -> h b c", {}), ("r_merge", "b c h -> b (h c)", {}),
                      ("r_split", "b (h w) x -> b h w x", {"h": 3}), ("r_split2", "b c (x y) -> (b y) c x", {"x": 2}),
                      ("r_ell", "... h -> h ...", {}), ("r_one", "b c h -> b 1 c h", {}),
                      ("r_all", "b c h -> (b c h)", {})]:
    got = Tensor(m).rearrange(fml, **kw).numpy()
    A(f"g_mv_{nm}", got, note=f'rearrange(m, "{fml}", {kw}) {got.shape}')
  # several index tensors at once (numpy's advanced indexing; tinygrad agrees)
  ia0, ia1 = np.array([1, 0, -1], np.int32), np.array([2, 2, 0], np.int32)
  ib1, ib2 = np.array([[0], [2]], np.int32), np.array([[3, -1, 1]], np.int32)
  A("g_mv_ia0", ia0, "int32_t")
  A("g_mv_ia1", ia1, "int32_t")
  A("g_mv_ib1", ib1, "int32_t")
  A("g_mv_ib2", ib2, "int32_t")
  for nm, want, tg in [("ix01", m[ia0, ia1], lambda t: t[Tensor(ia0), Tensor(ia1)]),
                       ("ix12", m[:, ib1, ib2], lambda t: t[:, Tensor(ib1), Tensor(ib2)]),
                       ("ix02", m[ia0, :, ia1], lambda t: t[Tensor(ia0), :, Tensor(ia1)])]:
    agree(nm, want, tg(Tensor(m)).numpy(), 0)
    A(f"g_mv_{nm}", want, note=f"advanced indexing {nm}: {want.shape}")
  # setitem into slices of a realised tensor (tinygrad's __setitem__), each on a fresh copy of m
  def setit(idx, val):
    t = Tensor(m.copy()).contiguous().realize()
    t[idx] = val
    return t.numpy()
  sv = f32(-np.arange(1, 7).reshape(2, 3))
  A("g_mv_set_v", sv, note="-1..-6")
  for nm, idx, val in [("set_rows", (slice(None), slice(1, 3)), Tensor(f32(-np.arange(1, 9).reshape(2, 4)))),
                       ("set_step", (1, slice(None), slice(0, None, 2)), Tensor(sv.reshape(3, 2))),
                       ("set_neg", (0, slice(None, None, -2), slice(3, 0, -1)), Tensor(sv)),
                       ("set_scalar", (slice(None), 0, slice(1, 3)), 9.5)]:
    A(f"g_mv_{nm}", setit(idx, val), note=f"m[{idx}] = ...")
  # setitem through index tensors (tinygrad's advanced __setitem__): repeats keep the last write
  sr = np.array([1, 0, 1], np.int32)
  A("g_mv_sr", sr, "int32_t", "[1, 0, 1]: index 1 twice")
  sva = f32(-np.arange(1, 37).reshape(3, 3, 4))
  A("g_mv_set_va", sva, note="-1..-36, (3, 3, 4)")
  for nm, idx, val in [("seti_rows", (Tensor(sr),), Tensor(sva)),
                       ("seti_01", (Tensor(ia0), Tensor(ia1)), Tensor(f32(-np.arange(1, 13).reshape(3, 4)))),
                       ("seti_12", (slice(None), Tensor(ib1), Tensor(ib2)), Tensor(f32(-np.arange(1, 13).reshape(2, 2, 3)))),
                       ("seti_02", (Tensor(ia0), slice(None), Tensor(ia1)), Tensor(f32(-np.arange(1, 10).reshape(3, 3)))),
                       ("seti_scalar", (slice(None), Tensor(sr)), 7.5)]:
    A(f"g_mv_{nm}", setit(idx, val), note=f"m[{nm}] = ... (advanced)")
  A("g_mv_cat_a", ca, note="100+i")
  A("g_mv_cat_c", cc, note="-i")
  A("g_mv_cat1", np.concatenate([ca, cb, cc], 1), note="cat(a, m, c, axis 1)")
  A("g_mv_cat_last", np.concatenate([m2, m2[:, :2] * 10], -1), note="cat(m[0], m[0][:, :2]*10, axis -1)")
  s1, s2, s3 = m2, m2 + 100, m2 * -1
  A("g_mv_stack0", np.stack([s1, s2, s3], 0), note="stack(m[0], m[0]+100, -m[0], axis 0)")
  A("g_mv_stack1", np.stack([s1, s2, s3], 1), note="axis 1")
  A("g_mv_stackm1", np.stack([s1, s2, s3], -1), note="axis -1")
  # gather (torch semantics): out[i][j] = a[idx[i][j]][j] (dim 0), a[i][idx[i][j]] (dim 1)
  gi1 = np.array([[3, 0], [1, 1], [2, 3]], np.int32)
  gi0 = np.array([[2, 0, 1, 2], [0, 0, 2, 1]], np.int32)
  A("g_mv_gidx1", gi1, "int32_t")
  A("g_mv_gidx0", gi0, "int32_t")
  A("g_mv_gather1", np.take_along_axis(m2, gi1, 1), note="gather(m[0], 1, gidx1)")
  A("g_mv_gather0", np.take_along_axis(m2, gi0, 0), note="gather(m[0], 0, gidx0)")
  agree("gather", np.take_along_axis(m2, gi1, 1), Tensor(m2).gather(1, Tensor(gi1)).numpy(), 0)
  ii = np.array([2, 0, -1, 1], np.int32)
  A("g_mv_iidx", ii, "int32_t")
  A("g_mv_index1", np.take(m, ii, 1), note="index(m, 1, [2,0,-1,1])")
  ii2 = np.array([[1, 0], [0, 1], [1, 1]], np.int32)
  A("g_mv_iidx2", ii2, "int32_t")
  A("g_mv_index0", np.take(m, ii2, 0), note="index(m, 0, (3,2) indices): (3, 2, 3, 4)")
  ii3 = np.array([-1, -10, 0, 9, -5], np.int32)
  A("g_mv_iidx3", ii3, "int32_t")
  A("g_mv_index_neg", np.take(v10, ii3), note="index(v10, 0, negatives)")
  oh = np.array([0, 2, 1, 3, 3], np.int32)
  A("g_mv_oh_in", oh, "int32_t")
  A("g_mv_one_hot", np.eye(4, dtype=F32)[oh], note="one_hot(oh_in, 4)")
  agree("one_hot", np.eye(4)[oh], Tensor(oh).one_hot(4).numpy(), 0)
  oh2 = np.array([[2, 0], [1, 2]], np.int32)
  A("g_mv_oh2_in", oh2, "int32_t")
  A("g_mv_one_hot2", np.eye(3, dtype=F32)[oh2], note="one_hot(oh2_in, 3): (2, 2, 3)")
  # views of views: expanded, padded, flipped inputs into reshape/slice/reduce/matmul
  col = f32([[1], [2], [3]])
  A("g_mv_x_expand_reshape", np.broadcast_to(col, (3, 4)).reshape(12), note="reshape(expand(col (3,1), (3,4)), 12)")
  A("g_mv_x_expand_slice", np.broadcast_to(col, (3, 4))[::2, 1::2], note="expand(col, (3,4))[::2, 1::2]")
  A("g_mv_x_pad_flip", np.flip(np_pad(m2, [(1, 0), (0, 2)], -1), (0, 1)), note="flip(pad(m[0], (1,0),(0,2), -1), 0, 1)")
  A("g_mv_x_pad_reshape", np_pad(m2, [(0, 1), (1, 1)], 0.5).reshape(2, 12), note="reshape(pad(m[0], (0,1),(1,1), 0.5), "
    "(2,12))")
  A("g_mv_x_pad_max", np_pad(m2 - 20, [(1, 1), (0, 0)], -1.5).max(0), note="max(pad(m[0]-20, (1,1),(0,0), -1.5), 0)")
  A("g_mv_x_flip_slice_step", np.flip(m, 1)[:, ::2, ::-3], note="flip(m, 1)[:, ::2, ::-3]")
  A("g_mv_x_expand_sum", np.broadcast_to(m2[1:2], (5, 4)).sum(0), note="sum(expand(m[0][1:2], (5,4)), 0)")
  A("g_mv_x_perm_cumsum", np.cumsum(m.transpose(1, 2, 0), 1), note="cumsum(permute(m, 1,2,0), 1)")
  A("g_mv_x_shrink_repeat", np.tile(m[:, 1:3, 2:], (2, 1, 3)), note="repeat(m[:, 1:3, 2:], (2,1,3))")
  A("g_mv_x_stack_views", np.stack([m2.T, np.flip(m2, 0).T], 1), note="stack(m[0].T, flip(m[0], 0).T, axis 1)")
  A("g_mv_x_cat_views", np.concatenate([m2[:, ::-1], m2[:, ::2]], 1), note="cat(m[0][:, ::-1], m[0][:, ::2], axis 1)")
  g3 = np.array([[[2, 0, 1, 1], [0, 0, 2, 1]], [[1, 2, 0, 0], [2, 2, 2, 0]]], np.int32)
  A("g_mv_gidx3", g3, "int32_t")
  A("g_mv_x_gather3", np.take_along_axis(m, g3, 1), note="gather(m, 1, gidx3): (2, 2, 4)")
  tie = f32([1, 3, 3, 2])
  A("g_mv_x_argmax_flip", [int(np.argmax(tie[::-1]))], "int32_t", "argmax(flip([1,3,3,2]), 0): the first in the view")
  A("g_mv_x_mm_expand", np.broadcast_to(f32([[1, -1, 2, 0.5]]), (3, 4)).astype(np.float64) @ m2.T,
    note="matmul(expand([[1,-1,2,0.5]], (3,4)), transpose(m[0]))")
  # chains
  A("g_mv_chain1", m.transpose(2, 0, 1).reshape(4, 6)[:, 1::2], note="permute(2,0,1) -> reshape(4,6) -> [:, 1::2]")
  A("g_mv_chain2", np.flip(m.swapaxes(0, 1), -1).reshape(-1)[::5], note="transpose(0,1) -> flip(-1) -> reshape(-1) -> "
    "[::5]")
  A("g_mv_chain3", np_pad(m2, [(1, 1), (2, 0)], 0)[1:4, 0:5].T, note="pad((1,1),(2,0)) -> shrink((1,4),(0,5)) -> "
    "transpose")
  A("g_mv_chain4", np.broadcast_to(v10[::-3].reshape(1, 4), (3, 4)).reshape(2, 6),
    note="v10[::-3] -> unsqueeze(0) -> expand(3,4) -> reshape(2,6)")
  A("g_mv_chain5", (m[:, 1, :].T * 2)[1:, :].reshape(-1), note="select(1,1) -> transpose -> *2 -> [1:] -> "
    "reshape(-1)")
  A("g_mv_chain6", np.tile(m[:, :, ::-1][:, 1:, :], (1, 1, 2)).sum(1), note="flip(-1) -> [:, 1:] -> repeat(1,1,2) -> "
    "sum(1)")
  o.end()


# ---------------------------------------------------------------------------------------------------------------------
# linear algebra


def conv2d(x, w, b, stride, pad, dil, groups):
  x = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (pad, pad), (pad, pad)])
  w = w.astype(np.float64)
  n, cin, h, wd = x.shape
  cout, cpg, kh, kw = w.shape
  oh = (h - dil * (kh - 1) - 1) // stride + 1
  ow = (wd - dil * (kw - 1) - 1) // stride + 1
  out = np.zeros((n, cout, oh, ow))
  opg = cout // groups
  for o in range(cout):
    g = o // opg
    for i in range(oh):
      for j in range(ow):
        patch = x[:, g * cpg:(g + 1) * cpg, i * stride:i * stride + dil * (kh - 1) + 1:dil,
                  j * stride:j * stride + dil * (kw - 1) + 1:dil]
        out[:, o, i, j] = (patch * w[o]).sum((1, 2, 3))
    if b is not None: out[:, o] += b[o]
  return out


def section_linalg(o):
  o.section("LINALG", "linear algebra: matmul, dot, linear, conv2d")

  def mat(shape, a, s):
    n = int(np.prod(shape))
    return f32(np.sin(np.arange(n) * a + 0.1) * s).reshape(shape)

  # einsum: numpy's values, tinygrad agreeing (where its einsum handles the case)
  ea, eb, ec = mat((2, 3, 4), 0.31, 1.5), mat((2, 4, 5), 0.17, 2.0), mat((4, 4), 0.43, 1.0)
  ed = mat((3, 3, 2), 0.29, 1.2)
  o.arr("g_la_ea", ea)
  o.arr("g_la_eb", eb)
  o.arr("g_la_ec", ec)
  o.arr("g_la_ed", ed)
  cases = [("bmm", "bij,bjk->bik", (ea, eb)), ("mm_implicit", "ij,jk", (ea[0], eb[0])),
           ("trace", "ii", (ec,)), ("diag", "ii->i", (ec,)), ("transpose", "ij->ji", (ec,)),
           ("sum_all", "bij->", (ea,)), ("outer", "i,j->ij", (ec[0], ec[1, :3])), ("ell", "...ij->...ji", (ea,)),
           ("ell_mm", "...ij,...jk->...ik", (ea, eb)), ("three", "ij,jk,kl->il", (ec, ec, ec)),
           ("diag3", "iij->ji", (ed,)), ("implicit_sorted", "ba,ac", (ec, ec))]
  for name, fml, ops in cases:
    want = np.einsum(fml, *[x.astype(np.float64) for x in ops])
    if name not in ("diag3",):  # tinygrad gives (3, 2) here: its diagonal goes last but keeps the letter's place
      agree(f"einsum_{name}", want, Tensor.einsum(fml, *[Tensor(x) for x in ops]).numpy(), 1e-5)
    o.arr(f"g_la_einsum_{name}", f32(want).reshape(-1) if want.ndim else [f32(want)],
          note=f'einsum("{fml}") {want.shape}')

  a, b = mat((7, 13), 0.31, 1.0), mat((13, 5), 0.17, 1.5)
  o.arr("g_la_a", a, note="sin(i*0.31+0.1)")
  o.arr("g_la_b", b, note="sin(i*0.17+0.1)*1.5")
  o.arr("g_la_ab", a.astype(np.float64) @ b, note="a @ b")
  ba, bb = mat((2, 1, 3, 4), 0.23, 1.0), mat((5, 4, 2), 0.41, 1.0)
  o.arr("g_la_ba", ba, note="sin(i*0.23+0.1)")
  o.arr("g_la_bb", bb, note="sin(i*0.41+0.1)")
  o.arr("g_la_babb", ba.astype(np.float64) @ bb, note="ba @ bb: (2, 5, 3, 2)")
  v4, m43, m34, v5 = mat((4,), 0.7, 1), mat((4, 3), 0.29, 1), mat((3, 4), 0.53, 1), mat((5,), 0.9, 2)
  b234 = mat((2, 3, 4), 0.37, 1)
  for nm, val in [("v4", v4), ("m43", m43), ("m34", m34), ("v5", v5), ("b234", b234)]:
    o.arr(f"g_la_{nm}", val)
  o.arr("g_la_v4m43", v4.astype(np.float64) @ m43, note="v4 @ m43: (3,)")
  o.arr("g_la_m34v4", m34.astype(np.float64) @ v4, note="m34 @ v4: (3,)")
  o.arr("g_la_v5v5", [v5.astype(np.float64) @ v5], note="v5 @ v5: a scalar")
  o.arr("g_la_b234v4", b234.astype(np.float64) @ v4, note="b234 @ v4: (2, 3)")
  o.arr("g_la_m34m43", m34.astype(np.float64) @ m43, note="m34 @ m43: (3, 3)")
  ia = np.array([[1, -2, 3], [4, 5, -6]], np.int32)
  ib = np.array([[7, 8], [-9, 10], [11, -12]], np.int32)
  o.arr("g_la_ia", ia, "int32_t")
  o.arr("g_la_ib", ib, "int32_t")
  o.arr("g_la_iaib", ia @ ib, "int32_t", "ia @ ib, int32")
  x, w, bias = mat((2, 3, 4), 0.19, 1), mat((5, 4), 0.47, 0.5), mat((5,), 1.1, 1)
  o.arr("g_la_lx", x)
  o.arr("g_la_lw", w)
  o.arr("g_la_lb", bias)
  o.arr("g_la_linear", x.astype(np.float64) @ w.T + bias, note="linear(lx, lw, lb): (2, 3, 5)")
  agree("linear_t", x.astype(np.float64) @ w.T + bias, Tensor(x).linear(Tensor(w.T.copy()), Tensor(bias)).numpy(), 1e-5)
  o.arr("g_la_linear_nb", x.astype(np.float64) @ w.T, note="linear(lx, lw, NULL)")

  cx = mat((2, 4, 7, 6), 0.13, 1)
  cw = mat((6, 4, 3, 3), 0.71, 0.5)
  cwg = mat((6, 2, 3, 3), 0.59, 0.5)
  cw1 = mat((3, 4, 1, 1), 0.83, 1)
  cb = mat((6,), 0.6, 1)
  for nm, val in [("cx", cx), ("cw", cw), ("cwg", cwg), ("cw1", cw1), ("cb", cb)]:
    o.arr(f"g_la_{nm}", val)
  convs = [("s1", cx, cw, cb, 1, 0, 1, 1), ("s2p1", cx, cw, None, 2, 1, 1, 1), ("d2p2", cx, cw, cb, 1, 2, 2, 1),
           ("g2", cx, cwg, cb, 1, 1, 1, 2), ("k1s2", cx, cw1, None, 2, 0, 1, 1), ("all", cx, cwg, cb, 2, 1, 2, 2)]
  # larger, integer-valued cases (exact in float32): inputs are formulas the C test recomputes
  o.raw("/* big cases: A[i] = (i*7)%11 - 5 (37, 129), B[i] = (i*5)%13 - 6 (129, 65), X[i] = (i*3)%17 - 8,")
  o.raw(" * W[i] = (i*11)%7 - 3; integer values, so every result is exact */")
  ia_ = (np.arange(37 * 129) * 7 % 11 - 5).reshape(37, 129).astype(np.float64)
  ib_ = (np.arange(129 * 65) * 5 % 13 - 6).reshape(129, 65).astype(np.float64)
  o.arr("g_la_big_mm", (ia_ @ ib_).astype(np.int32), "int32_t", "A @ B: (37, 65)")
  bx = (np.arange(3 * 5 * 9 * 17) * 7 % 11 - 5).reshape(3, 5, 9, 17).astype(np.float64)
  by = (np.arange(5 * 17 * 33) * 5 % 13 - 6).reshape(5, 17, 33).astype(np.float64)
  o.arr("g_la_big_bmm", (bx @ by).astype(np.int32), "int32_t", "A' (3,5,9,17) @ B' (5,17,33) with A', B' the same "
        "formulas: (3, 5, 9, 33)")
  cxx = (np.arange(2 * 3 * 17 * 19) * 3 % 17 - 8).reshape(2, 3, 17, 19).astype(np.float64)
  cww = (np.arange(8 * 3 * 5 * 5) * 11 % 7 - 3).reshape(8, 3, 5, 5).astype(np.float64)
  o.arr("g_la_big_conv", conv2d(cxx, cww, None, 2, 2, 1, 1).astype(np.int32), "int32_t",
        "conv2d(X (2,3,17,19), W (8,3,5,5), stride 2, padding 2): (2, 8, 9, 10)")
  for nm, xx, ww, bb_, s, p, d, g in convs:
    want = conv2d(xx, ww, bb_, s, p, d, g)
    tb = None if bb_ is None else Tensor(bb_)
    agree(f"conv_{nm}", want, Tensor(xx).conv2d(Tensor(ww), tb, groups=g, stride=s, dilation=d, padding=p).numpy(),
          1e-4)
    o.arr(f"g_la_conv_{nm}", want, note=f"conv2d(stride {s}, padding {p}, dilation {d}, groups {g}"
          f"{', bias' if bb_ is not None else ''})")
  o.end()


# ---------------------------------------------------------------------------------------------------------------------
# printing


def section_edge(o):
  o.section("EDGE", "NaN and infinities through the ops of issue 13: tinygrad's values, except where tinygrad's formula "
            "makes inf - inf or 0 * inf of a limit that exists (each departure listed, with PyTorch's value)")
  xs = f32([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.5, 0.5])
  o.arr("g_edge_x", xs, note="nan, inf, -inf, 0, -0, 1.5, -2.5, 0.5")
  with np.errstate(all="ignore"):
    un = [("celu", lambda t: t.celu(), None),
          ("selu", lambda t: t.selu(), None),
          ("relu6", lambda t: t.relu6(), {1: 6.0}),                       # relu(inf) - relu(inf - 6)
          ("hardsigmoid", lambda t: t.hardsigmoid(), {1: 1.0}),
          ("hardswish", lambda t: t.hardswish(), {1: np.inf}),
          ("logsigmoid", lambda t: t.logsigmoid(), {2: -np.inf}),         # -softplus(inf)
          ("softsign", lambda t: t.softsign(), {1: 1.0, 2: -1.0}),        # inf / inf
          ("sinh", lambda t: t.sinh(), None), ("cosh", lambda t: t.cosh(), None),
          ("asin", lambda t: t.asin(), None), ("acos", lambda t: t.acos(), None),
          ("atan", lambda t: t.atan(), {1: np.pi / 2, 2: -np.pi / 2}),    # tinygrad: NaN at +-inf
          ("log10", lambda t: t.log10(), None),
          ("sign", lambda t: t.sign(), {0: np.nan})]                      # tinygrad: sign(nan) = 1
    for nm, f, fix in un:
      got = f(Tensor(xs)).numpy().astype(np.float32)
      for i, v in (fix or {}).items():
        got[i] = v
      o.arr(f"g_edge_{nm}", got, note=f"{nm}" + (f"; departures at {sorted(fix)}" if fix else ""))
    o.arr("g_edge_isfinite", Tensor(xs).isfinite().numpy(), "uint8_t", "isfinite")
    a = f32([np.nan, 1, np.inf, -np.inf, 5.5, -5.5, 0, 3, 7, -7])
    b = f32([1, np.nan, 2, 2, np.inf, 2, 0, -0.0, -2, -2])
    o.arr("g_edge_a", a)
    o.arr("g_edge_b", b)
    A, B = Tensor(a), Tensor(b)
    bins = [("floor", A.div(B, rounding_mode="floor"), None), ("trunc", A.div(B, rounding_mode="trunc"), None),
            ("fmod", A.fmod(B), {4: 5.5}),                                # C's fmod(5.5, inf) = 5.5
            ("copysign", A.copysign(B), None),
            ("logaddexp", A.logaddexp(B), {2: np.inf, 4: np.inf}),       # tinygrad: inf - inf
            ("lerp", A.lerp(B, 0.25), None)]
    for nm, t, fix in bins:
      got = t.numpy().astype(np.float32)
      for i, v in (fix or {}).items():
        got[i] = v
      o.arr(f"g_edge_{nm}", got, note=f"{nm}(a, b)" + (f"; departures at {sorted(fix)}" if fix else ""))
    x2 = f32([[1, np.nan, 3], [np.inf, -np.inf, 2], [-np.inf, -np.inf, 1]])
    o.arr("g_edge_x2", x2)
    # tinygrad's max over a NaN depends on where the NaN falls in its loop ((a > b) ? a : b): max([1, nan, 3]) = 3,
    # max([1, 3, nan]) = nan. Here a NaN makes every max NaN, as numpy's and PyTorch's
    o.arr("g_edge_cummax", np.maximum.accumulate(x2, 1), note="cummax(x2, 1): numpy's (a NaN propagates)")
    o.arr("g_edge_cummin", np.minimum.accumulate(x2, 1), note="cummin(x2, 1): numpy's")
    o.arr("g_edge_lcse", f32(np.logaddexp.accumulate(x2.astype(np.float64), 1)), note="logcumsumexp(x2, 1): numpy's")
    tg_lse = Tensor(x2).logsumexp(1).numpy()
    o.arr("g_edge_lse", f32(np.logaddexp.reduce(x2.astype(np.float64), 1)),
          note=f"logsumexp(x2, 1): numpy's (tinygrad's {tg_lse.tolist()}: inf - inf)")
    o.arr("g_edge_max", np.max(x2, 1), note="max(x2, 1): numpy's")
  o.end()


def section_print(o):
  o.section("PRINT", "tg_to_string: numpy's str() of small arrays")
  cases = [("f22", np.array([[1, 2], [3, 4]], F32)), ("i3", np.array([1, 2, 3], np.int32)),
           ("b2", np.array([True, False])), ("f3", np.array([0.5, -1.25, 3.0], F32)),
           ("ineg", np.array([1, -2, 30], np.int32)), ("i222", np.arange(8, dtype=np.int32).reshape(2, 2, 2)),
           ("b22", np.array([[True, False], [False, True]])), ("f2", np.array([1.0, 2.5], F32)),
           ("f0", np.array(2.5, F32)), ("fneg", np.array([-1.0, 2.0], F32)), ("i0", np.array([], np.int32))]
  for nm, a in cases:
    o.string(f"g_pr_{nm}", str(a), f"str(np.array({a.tolist()!r}, {a.dtype}))")
  # harder cases: numpy's choice between positional and scientific notation, nan/inf, widths, precision
  more = [("sci_ratio", np.array([0.1, 100.5], F32)), ("sci_small", np.array([1e-5, 1.0], F32)),
          ("sci_big", np.array([1e9, 1.0], F32)), ("sci_tiny", np.array([0.5, 1e-10], F32)),
          ("pos_1e4", np.array([1e-4, 1.0], F32)), ("nan_inf", np.array([np.nan, 1.0, -np.inf], F32)),
          ("f22neg", np.array([[1.5, -2], [3, 4]], F32)), ("prec", np.array([0.123456789], F32)),
          ("thirds", np.array([1 / 3, 2 / 3], F32)), ("i64", np.array([10 ** 12, -1], np.int64)),
          ("u8", np.array([0, 255], np.uint8)), ("i0d", np.array(7, np.int32)), ("b0d", np.array(True)),
          ("f64", np.array([0.1], np.float64)), ("f16", np.array([0.1, 1.5], np.float16)),
          ("col", np.array([[1], [2]], F32)), ("e20", np.zeros((2, 0), F32)), ("negzero", np.array([-0.0, 0.0], F32))]
  for nm, a in more:
    o.string(f"g_pr_{nm}", str(a), f"str(np.array({a.tolist()!r}, {a.dtype}))")
  o.string("g_pr_wrap", str(np.arange(30, dtype=np.int32)), "str(np.arange(30, dtype=int32)): lines wrap at 75")
  o.string("g_pr_summary", str(np.arange(2000, dtype=np.int32)), "str(np.arange(2000, dtype=int32)): summarised")
  o.end()


def main():
  o = Out()
  o.raw("/* golden.h: expected values for the tensor API tests, GENERATED by tests/golden/gen.py (numpy "
        f"{np.__version__}, tinygrad")
  o.raw(" * as the reference for its own semantics). Do not edit: change gen.py and run it again.")
  o.raw(" * A test file defines GOLDEN_<SECTION> before including this file, and includes tinygrad.h first. */")
  o.raw("#ifndef GOLDEN_H")
  o.raw("#define GOLDEN_H")
  o.raw("#include <math.h>   /* NAN, INFINITY */")
  o.raw("#include <stdint.h>")
  o.raw("#if defined(__GNUC__) || defined(__clang__)")
  o.raw("#define GOLDEN_ARR static const __attribute__((unused))")
  o.raw("#else")
  o.raw("#define GOLDEN_ARR static const")
  o.raw("#endif")
  section_creation(o)
  section_elementwise(o)
  section_reduce(o)
  section_movement(o)
  section_linalg(o)
  section_edge(o)
  section_print(o)
  o.raw("")
  o.raw("#endif /* GOLDEN_H */")
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.h")
  text = "\n".join(o.lines) + "\n"
  with open(path, "w") as f:
    f.write(text)
  print(f"gen.py: wrote {path} ({len(text)} bytes, {len(o.names)} arrays)")


if __name__ == "__main__":
  main()
