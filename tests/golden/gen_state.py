#!/usr/bin/env python3
"""gen_state.py: golden files for tests/test_state.c (safetensors and IDX); writes tests/golden/golden_state.h.

Contract:
  - The tensors of the safetensors tests (every dtype, a 0-d and an empty tensor, a name that needs JSON escapes) are
    written into golden_state.h as raw little-endian bytes, so the C test builds exactly the same tensors.
  - g_st_ours: the file tinygrad.h's tg_safetensors_save must write for them, byte for byte. It is made here by
    tinygrad's algorithm (nn/state.py safe_save: json.dumps with separators (',', ':'), spaces to a multiple of 8,
    tensors in dict order). This script checks that the real tinygrad safe_save writes the same bytes (for the
    tensors it can save: it cannot allocate an empty tensor) and that the Rust safetensors parser (the `safetensors`
    package) reads the file back to the same tensors.
  - g_st_rust: the same tensors plus __metadata__ written by the `safetensors` package (the Rust crate: its own order,
    raw UTF-8 names); the C test loads it, and finds the metadata in the file's order (g_st_rust_meta).
  - g_st_meta: a few tensors and a __metadata__ dict of strings (escapes, non-ASCII, an empty value) written by the
    real tinygrad safe_save(tensors, fn, metadata); this script checks that tinygrad_style() writes the same bytes and
    that the `safetensors` package reads the file back with the same metadata. The C test saves the same dict with
    tg_state_dict_metadata_set and compares bytes.
  - IDX: small files of every IDX type, plain and gzip (Python's gzip module, mtime 0 so the bytes are stable), and the
    values they hold in native C arrays; broken gzip files (a truncated IDX inside, trailing bytes inside).
  - Fashion-MNIST (/usr/share/datasets/fashion-mnist, the Debian package dataset-fashion-mnist): shapes, labels and
    checksums of t10k-images/t10k-labels/train-labels, computed here with gzip + struct + numpy.

Run: python3 tests/golden/gen_state.py   (rewrites tests/golden/golden_state.h next to this file)
"""
import gzip
import json
import os
import struct
import sys
import tempfile

import numpy as np

os.environ.setdefault("DEV", "CPU")

ENUM = {"BOOL": "TG_BOOL", "I8": "TG_INT8", "U8": "TG_UINT8", "I16": "TG_INT16", "U16": "TG_UINT16",
        "I32": "TG_INT32", "U32": "TG_UINT32", "I64": "TG_INT64", "U64": "TG_UINT64", "F16": "TG_FLOAT16",
        "BF16": "TG_BFLOAT16", "F32": "TG_FLOAT32", "F64": "TG_FLOAT64"}
RUST_DTYPE = {"BOOL": "bool", "I8": "int8", "U8": "uint8", "I16": "int16", "U16": "uint16", "I32": "int32",
              "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16", "BF16": "bfloat16",
              "F32": "float32", "F64": "float64"}
FASHION = "/usr/share/datasets/fashion-mnist"


def bf16_bits(vals):
  """bfloat16 bit patterns of values that bfloat16 holds exactly"""
  bits = np.asarray(vals, np.float32).view(np.uint32)
  assert ((bits & 0xffff) == 0).all(), "not exactly representable in bfloat16"
  return (bits >> 16).astype(np.uint16)


def tensors():
  """(name, safetensors dtype, shape, little-endian bytes), in dict order"""
  i64 = np.iinfo(np.int64)
  t = [
      ("flag", "BOOL", (3,), np.array([1, 0, 1], np.uint8)),
      ("i8", "I8", (2, 2), np.array([-128, -1, 0, 127], np.int8)),
      ("u8", "U8", (4,), np.array([0, 1, 254, 255], np.uint8)),
      ("i16", "I16", (4,), np.array([-32768, -2, 3, 32767], np.int16)),
      ("u16", "U16", (4,), np.array([0, 1, 40000, 65535], np.uint16)),
      ("i32", "I32", (2, 2), np.array([-2**31, -5, 6, 2**31 - 1], np.int32)),
      ("u32", "U32", (4,), np.array([0, 3000000000, 4294967295, 7], np.uint32)),
      ("i64", "I64", (4,), np.array([i64.min, -1, 1 << 40, i64.max], np.int64)),
      ("u64", "U64", (4,), np.array([0, 1 << 63, 2**64 - 1, 5], np.uint64)),
      ("f16", "F16", (6,), np.array([0.5, -2.0, 65504.0, 6.1e-5, np.inf, -0.0], np.float16)),
      ("bf16", "BF16", (2, 3), bf16_bits([1.0, -2.5, 3.140625, 2.0**100, -np.inf, 0.0078125])),
      ("conv.weight", "F32", (2, 1, 2, 2), (np.arange(8, dtype=np.float32) * 0.25 - 1)),
      ("f32", "F32", (5,), np.array([0.1, -3.5, 1e-30, 3.4e38, -0.0], np.float32)),
      ("f64", "F64", (4,), np.array([0.1, -3.5, 1e-300, 1.7e308], np.float64)),
      ("scalar", "F64", (), np.array(2.5, np.float64)),
      ("empty", "F32", (0, 3), np.zeros((0, 3), np.float32)),
      ("layer.\u00f1\"q\\\n\x7f\U0001F600", "U8", (1,), np.array([42], np.uint8)),
  ]
  return [(n, d, s, a.astype(a.dtype.newbyteorder("<")).tobytes()) for n, d, s, a in t]


def tinygrad_style(ts, metadata=None):
  """a safetensors file as tinygrad's safe_save writes it"""
  headers, off = {}, 0
  if metadata: headers["__metadata__"] = metadata
  for name, dt, shape, raw in ts:
    headers[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
    off += len(raw)
  j = json.dumps(headers, separators=(",", ":"))
  j += " " * ((8 - len(j) % 8) % 8)
  return struct.pack("<Q", len(j)) + j.encode("utf-8") + b"".join(raw for _, _, _, raw in ts)


def check_tinygrad(ts, ours_subset, metadata=None):
  """the real tinygrad safe_save writes exactly ours_subset for the tensors ts (and the metadata)"""
  from tinygrad import Tensor, dtypes
  from tinygrad.device import Buffer
  from tinygrad.nn.state import safe_save
  tdt = {"BOOL": dtypes.bool, "I8": dtypes.int8, "U8": dtypes.uint8, "I16": dtypes.int16, "U16": dtypes.uint16,
         "I32": dtypes.int32, "U32": dtypes.uint32, "I64": dtypes.int64, "U64": dtypes.uint64, "F16": dtypes.float16,
         "BF16": dtypes.bfloat16, "F32": dtypes.float32, "F64": dtypes.float64}
  tt = {}
  for name, dt, shape, raw in ts:  # buffers filled with the bytes (no kernel: clang may lack __bf16 on this target)
    x = Tensor.empty(*shape, dtype=tdt[dt]).realize()
    b = x.uop.base.buffer.ensure_allocated()
    b.copy_from(Buffer("PYTHON", b.size, b.dtype, opaque=memoryview(bytearray(raw))))
    tt[name] = x
  with tempfile.TemporaryDirectory() as d:
    fn = os.path.join(d, "t.safetensors")
    safe_save(tt, fn, metadata) if metadata else safe_save(tt, fn)
    with open(fn, "rb") as f:
      theirs = f.read()
  if theirs != ours_subset: sys.exit("gen_state.py: tinygrad's safe_save disagrees with tinygrad_style()")
  return theirs


def check_rust_metadata(blob, metadata):
  """the `safetensors` package reads blob's __metadata__ as metadata"""
  from safetensors import safe_open
  with tempfile.TemporaryDirectory() as d:
    fn = os.path.join(d, "m.safetensors")
    with open(fn, "wb") as f:
      f.write(blob)
    with safe_open(fn, "np") as f:
      got = f.metadata()
  assert got == metadata, (got, metadata)


def check_rust_reads(blob, ts):
  """the Rust safetensors parser reads blob back to the tensors ts"""
  import safetensors
  got = {name: info for name, info in safetensors.deserialize(blob)}
  assert set(got) == {t[0] for t in ts}, (set(got), [t[0] for t in ts])
  for name, dt, shape, raw in ts:
    assert got[name]["dtype"] == dt, (name, got[name]["dtype"])
    assert list(got[name]["shape"]) == list(shape), (name, got[name]["shape"])
    assert bytes(got[name]["data"]) == raw, name


def rust_file(ts, metadata):
  import safetensors
  keep = [np.frombuffer(raw, np.uint8).copy() if raw else np.zeros(1, np.uint8) for _, _, _, raw in ts]
  spec = {name: safetensors.TensorSpec(dtype=RUST_DTYPE[dt], shape=list(shape), data_ptr=k.ctypes.data,
                                       data_len=len(raw)) for (name, dt, shape, raw), k in zip(ts, keep)}
  return bytes(safetensors.serialize(spec, metadata=metadata))


# ---------------------------------------------------------------------------------------------------------------------
# IDX

IDX_TYPES = [  # (type byte, struct code, C type, numpy dtype, tg enum, values, shape)
    (0x08, "B", "uint8_t", np.uint8, "TG_UINT8", [0, 1, 127, 128, 254, 255], (2, 3)),
    (0x09, "b", "int8_t", np.int8, "TG_INT8", [-128, -1, 0, 1, 127, 5], (3, 2)),
    (0x0B, "h", "int16_t", np.int16, "TG_INT16", [-32768, -2, 0, 258, 32767], (5,)),
    (0x0C, "i", "int32_t", np.int32, "TG_INT32", [-2**31, -65536, 0, 16909060, 2**31 - 1, 7], (1, 2, 3)),
    (0x0D, "f", "float", np.float32, "TG_FLOAT32", [0.5, -2.25, 1e-30, 3.4e38, float("inf"), -0.0], (6,)),
    (0x0E, "d", "double", np.float64, "TG_FLOAT64", [0.1, -3.5, 1e-300, 1.7e308], (2, 2)),
]


def idx_bytes(tbyte, code, values, shape):
  return (bytes([0, 0, tbyte, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) +
          struct.pack(">" + code * len(values), *values))


def gz(b):
  return gzip.compress(b, mtime=0)


# ---------------------------------------------------------------------------------------------------------------------
# emitting C


class Out:
  def __init__(self):
    self.lines = []

  def raw(self, s=""):
    self.lines.append(s)

  def items(self, head, items, tail="};"):
    line = head
    for i, it in enumerate(items):
      piece = it + ("," if i + 1 < len(items) else "")
      if len(line) + 1 + len(piece) > 118:
        self.raw(line)
        line = "  " + piece
      else:
        line = line + (" " if not line.endswith("{") else "") + piece
    self.raw(line + tail)

  def bytes_(self, name, b, note):
    self.raw(f"/* {note} ({len(b)} bytes) */")
    self.items(f"GOLDEN_ARR unsigned char {name}[] = {{", [f"0x{x:02x}" for x in b] or ["0"])


def cstr(s):
  """a C string literal of s's UTF-8 bytes (octal escapes for everything but letters, digits, '.' and '_')"""
  return '"' + "".join(chr(c) if chr(c).isalnum() and c < 128 or chr(c) in "._" else f"\\{c:03o}"
                       for c in s.encode("utf-8")) + '"'


def cnum(v, ctype):
  if ctype == "float":
    v = np.float32(v)
    if np.isinf(v): return "INFINITY" if v > 0 else "-INFINITY"
    return repr(float(v)) + "f" if v != 0 or not np.signbit(v) else "-0.0f"
  if ctype == "double": return repr(float(v))
  if ctype == "int32_t" and v == -2**31: return "INT32_MIN"
  return str(int(v))


def section_safetensors(o):
  ts = tensors()
  o.raw("/* the tensors of the safetensors tests, in dict order: name, dtype, shape, little-endian bytes */")
  o.raw("typedef struct golden_st_tensor {")
  o.raw("  const char *name;")
  o.raw("  tg_dtype dtype;")
  o.raw("  int ndim;")
  o.raw("  int64_t shape[4];")
  o.raw("  int nbytes;")
  o.raw("  const unsigned char *data;")
  o.raw("} golden_st_tensor;")
  for i, (name, dt, shape, raw) in enumerate(ts):
    o.items(f"GOLDEN_ARR unsigned char g_st_data{i}[] = {{", [f"0x{x:02x}" for x in raw] or ["0"])
  o.raw("GOLDEN_ARR golden_st_tensor g_st_tensors[] = {")
  for i, (name, dt, shape, raw) in enumerate(ts):
    shp = "{" + ", ".join(str(d) for d in shape) + "}" if shape else "{0}"
    o.raw(f"    {{{cstr(name)}, {ENUM[dt]}, {len(shape)}, {shp}, {len(raw)}, g_st_data{i}}},")
  o.raw("};")

  ours = tinygrad_style(ts)
  subset = [t for t in ts if len(t[3]) > 0]
  check_tinygrad(subset, tinygrad_style(subset))
  check_rust_reads(ours, ts)
  o.bytes_("g_st_ours", ours, "what tg_safetensors_save writes for g_st_tensors: tinygrad's safe_save bytes")
  meta = {"format": "pt", "note": "metadata is kept on load"}
  rust = rust_file(ts, meta)
  check_rust_reads(rust, ts)
  check_rust_metadata(rust, meta)
  (hlen,) = struct.unpack("<Q", rust[:8])
  header = json.loads(rust[8:8 + hlen])
  order = [name for name in header if name != "__metadata__"]  # the file's order
  o.raw("/* __metadata__ of g_st_rust: " + json.dumps(meta) + " */")
  o.bytes_("g_st_rust", rust, "g_st_tensors and that metadata as the Rust crate writes them (package safetensors)")
  o.raw("/* the order of the tensors in g_st_rust: indices into g_st_tensors */")
  o.items("GOLDEN_ARR int g_st_rust_order[] = {", [str([t[0] for t in ts].index(n)) for n in order])
  o.raw("/* the __metadata__ of g_st_rust in the file's order (the crate's order is its own): key, value, ... */")
  o.items("GOLDEN_ARR char *const g_st_rust_meta[] = {", [cstr(x) for k, v in header["__metadata__"].items()
                                                           for x in (k, v)])

  # metadata as tinygrad's safe_save(tensors, fn, metadata) writes it (first in the header, json.dumps escapes)
  mts = [("w", "F32", (2, 2), np.array([1.5, -2, 0.25, 8], np.float32).astype("<f4").tobytes()),
         ("step", "I64", (), np.array(7, np.int64).astype("<i8").tobytes())]
  mmeta = {"format": "tinygrad", "note \u00f1": "a \"quoted\" \\ line\nand a tab\t\u00e9\U0001F600\x7f\x01",
           "empty": ""}
  mfile = check_tinygrad(mts, tinygrad_style(mts, mmeta), mmeta)
  check_rust_metadata(mfile, mmeta)
  o.raw("/* g_st_meta: tensors w (F32 (2, 2): 1.5, -2, 0.25, 8) and step (I64 (): 7) with this __metadata__ (key,")
  o.raw(" * value, ... in order), as the real tinygrad safe_save(tensors, fn, metadata) writes them */")
  o.items("GOLDEN_ARR char *const g_st_meta_pairs[] = {", [cstr(x) for k, v in mmeta.items() for x in (k, v)])
  o.bytes_("g_st_meta", mfile, "tinygrad's safe_save with metadata")


def section_idx(o):
  o.raw("/* IDX files of every type: the plain file, its gzip, and the values (native C arrays) */")
  for tbyte, code, ctype, npdt, enum, values, shape in IDX_TYPES:
    name = f"{tbyte:02x}"
    b = idx_bytes(tbyte, code, values, shape)
    back = np.frombuffer(b[4 + 4 * len(shape):], np.dtype(npdt).newbyteorder(">"))
    assert np.array_equal(back.astype(npdt), np.array(values, npdt), equal_nan=True)
    o.raw(f"/* type 0x{name}: {enum}, shape {shape} */")
    o.items(f"GOLDEN_ARR {ctype} g_idx_vals_{name}[] = {{", [cnum(v, ctype) for v in values])
    o.bytes_(f"g_idx_plain_{name}", b, "the IDX file")
    o.bytes_(f"g_idx_gz_{name}", gz(b), "gzip of it")
  o.raw("GOLDEN_ARR int g_idx_shape_08[] = {2, 3};")
  scalar = idx_bytes(0x0C, "i", [-7], ())
  o.bytes_("g_idx_plain_scalar", scalar, "a 0-d int32 IDX file holding -7")
  base = idx_bytes(0x08, "B", [1, 2, 3, 4, 5, 6], (2, 3))
  o.bytes_("g_idx_gz_short", gz(base[:-1]), "gzip of an IDX file one byte short of its (2, 3) uint8 data")
  o.bytes_("g_idx_gz_trailing", gz(base + b"\x00"), "gzip of an IDX file with one byte after its data")


def section_fashion(o):
  o.raw("/* Fashion-MNIST (" + FASHION + "): shapes, labels and checksums */")
  if not os.path.isdir(FASHION): sys.exit(f"gen_state.py: {FASHION} is missing (apt-get install dataset-fashion-mnist)")

  def idx(fn):
    with gzip.open(os.path.join(FASHION, fn), "rb") as f:
      b = f.read()
    ndim = b[3]
    shape = struct.unpack(">" + "I" * ndim, b[4:4 + 4 * ndim])
    assert b[:3] == b"\0\0\x08"
    return np.frombuffer(b[4 + 4 * ndim:], np.uint8).reshape(shape)

  img, lab, tlab = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
  flat = img.reshape(-1).astype(np.uint64)
  weights = (np.arange(flat.size, dtype=np.uint64) % np.uint64(251)) + np.uint64(1)
  o.raw(f"#define GOLDEN_FASHION_T10K_N {img.shape[0]}")
  o.raw(f"#define GOLDEN_FASHION_TRAIN_N {tlab.shape[0]}")
  o.raw(f"/* t10k images: the sum of all pixels, and the sum of pixel[i] * (i % 251 + 1) */")
  o.raw(f"#define GOLDEN_FASHION_T10K_SUM {int(flat.sum())}ULL")
  o.raw(f"#define GOLDEN_FASHION_T10K_WSUM {int((flat * weights).sum())}ULL")
  o.items("GOLDEN_ARR uint8_t g_fashion_img0_row14[] = {", [str(int(v)) for v in img[0, 14]])
  o.items("GOLDEN_ARR uint8_t g_fashion_img9999_col10[] = {", [str(int(v)) for v in img[9999, :, 10]])
  o.items("GOLDEN_ARR uint8_t g_fashion_t10k_labels20[] = {", [str(int(v)) for v in lab[:20]])
  o.items("GOLDEN_ARR uint8_t g_fashion_train_labels20[] = {", [str(int(v)) for v in tlab[:20]])
  o.items("GOLDEN_ARR int g_fashion_train_counts[] = {", [str(int((tlab == c).sum())) for c in range(10)])


def main():
  o = Out()
  o.raw("/* golden_state.h: golden files and values for tests/test_state.c, GENERATED by tests/golden/gen_state.py")
  o.raw(" * (Python's json/struct/gzip, numpy, the real tinygrad and the safetensors package). Do not edit: change")
  o.raw(" * gen_state.py and run it again. Include tinygrad.h first. */")
  o.raw("#ifndef GOLDEN_STATE_H")
  o.raw("#define GOLDEN_STATE_H")
  o.raw("#include <math.h>   /* INFINITY */")
  o.raw("#include <stdint.h>")
  o.raw("#if defined(__GNUC__) || defined(__clang__)")
  o.raw("#define GOLDEN_ARR static const __attribute__((unused))")
  o.raw("#else")
  o.raw("#define GOLDEN_ARR static const")
  o.raw("#endif")
  o.raw("")
  section_safetensors(o)
  o.raw("")
  section_idx(o)
  o.raw("")
  section_fashion(o)
  o.raw("")
  o.raw("#endif /* GOLDEN_STATE_H */")
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_state.h")
  text = "\n".join(o.lines) + "\n"
  with open(path, "w") as f:
    f.write(text)
  print(f"gen_state.py: wrote {path} ({len(text)} bytes)")


if __name__ == "__main__":
  main()
