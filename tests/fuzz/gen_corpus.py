#!/usr/bin/env python3
"""gen_corpus.py: the seed corpora of the fuzzers (tests/fuzz/corpus/<target>/), made by the real libraries.

Contract:
  - fuzz_safetensors: files written by the real tinygrad safe_save (every dtype, with and without metadata) and by
    the `safetensors` package (the Rust crate: its own order, metadata), an empty dict, metadata alone, and a few
    malformed files (truncated, overlapping offsets, bad JSON, a shape whose product overflows, duplicate keys).
  - fuzz_state_dict: files for the target's model (fc.weight F32 (4, 3), fc.bias F32 (4), emb.weight F16 (5, 2),
    bn.steps I64 (), mask BOOL (3), empty F32 (0, 3), head.weight F32 (2, 2)): the whole model, a part of it, one
    with an extra tensor, and ones with a wrong shape or dtype.
  - fuzz_idx: the first byte is the target's mode (0: the file as is, 1: the target gzips the rest). IDX files of
    every type in both modes, gzip files (Python's gzip, mtime 0), and malformed ones.
  - File names are stable, so running this again rewrites the same files (only the Rust crate's metadata order may
    change: it is a hash map's). Regenerate after a format change only.

Run: python3 tests/fuzz/gen_corpus.py   (needs numpy, tinygrad, safetensors: pip install tinygrad numpy safetensors)
"""
import gzip
import os
import struct
import sys
import tempfile

import numpy as np

os.environ.setdefault("DEV", "CPU")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
import gen_state  # noqa: E402  (tensors(), tinygrad_style(), rust_file(), idx_bytes())


def out(target, name, data):
  d = os.path.join(HERE, "corpus", target)
  os.makedirs(d, exist_ok=True)
  with open(os.path.join(d, name), "wb") as f:
    f.write(data)


def tinygrad_save(ts, metadata=None):
  """the bytes the real tinygrad safe_save writes for (name, dtype, shape, raw) tensors (none may be empty)"""
  return gen_state.check_tinygrad(ts, gen_state.tinygrad_style(ts, metadata), metadata)


def header_file(header, data=b""):
  h = header.encode()
  return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
  ts = gen_state.tensors()
  full = [t for t in ts if t[3]]  # the real safe_save cannot allocate an empty tensor
  t = "fuzz_safetensors"
  out(t, "tinygrad_every_dtype", tinygrad_save(full))
  out(t, "tinygrad_metadata", tinygrad_save(full[:3], {"format": "pt", "note \u00f1": "x\ny \U0001F600"}))
  out(t, "ours_with_empty_and_scalar", gen_state.tinygrad_style(ts))
  out(t, "rust_crate_metadata", gen_state.rust_file(ts, {"format": "pt", "k": "v"}))
  out(t, "empty_dict", header_file("{}      "))
  out(t, "metadata_only", header_file('{"__metadata__":{"a":"b"}}      '))
  ok = gen_state.tinygrad_style(full[:2])
  out(t, "bad_truncated", ok[:-3])
  out(t, "bad_overlap", header_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                    '"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4))
  out(t, "bad_json", header_file('{"a":{"dtype":"F32","shape":[1,],"data_offsets":[0,4]}}', b"\0" * 4))
  out(t, "bad_overflow_shape", header_file('{"a":{"dtype":"F32","shape":[4611686018427387905,4,0],'
                                           '"data_offsets":[0,0]}}'))
  out(t, "bad_metadata_dup", header_file('{"__metadata__":{"k":"a","k":"b"}}'))
  out(t, "bad_metadata_value", header_file('{"__metadata__":{"k":1}}'))


MODEL = [("fc.weight", "F32", (4, 3)), ("fc.bias", "F32", (4,)), ("emb.weight", "F16", (5, 2)),
         ("bn.steps", "I64", ()), ("mask", "BOOL", (3,)), ("empty", "F32", (0, 3)), ("head.weight", "F32", (2, 2))]
NP = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BOOL": np.bool_, "I32": np.int32}


def model_tensors(names=None, change=None):
  """(name, dtype, shape, raw) for the model, values i * 0.5 + 1; change: name -> (dtype, shape)"""
  ts = []
  for name, dt, shape in MODEL:
    if names is not None and name not in names: continue
    if change and name in change: dt, shape = change[name]
    n = int(np.prod(shape)) if shape else 1
    a = (np.arange(n) * 0.5 + 1).astype(NP[dt]) if dt != "BOOL" else (np.arange(n) % 2).astype(np.bool_)
    ts.append((name, dt, shape, a.astype(a.dtype.newbyteorder("<")).tobytes()))
  return ts


def state_dict_seeds():
  t = "fuzz_state_dict"
  out(t, "model_ours", gen_state.tinygrad_style(model_tensors()))
  out(t, "model_tinygrad", tinygrad_save([x for x in model_tensors() if x[3]], {"epoch": "3"}))
  out(t, "model_rust", gen_state.rust_file(model_tensors(), {"format": "pt"}))
  out(t, "part", gen_state.tinygrad_style(model_tensors(["fc.weight", "head.weight"])))
  out(t, "extra", gen_state.tinygrad_style(model_tensors() + [("extra", "I32", (2,), b"\1\0\0\0\2\0\0\0")]))
  out(t, "wrong_shape", gen_state.tinygrad_style(model_tensors(change={"fc.weight": ("F32", (3, 4))})))
  out(t, "wrong_dtype", gen_state.tinygrad_style(model_tensors(change={"emb.weight": ("F32", (5, 2))})))
  out(t, "wrong_rank", gen_state.tinygrad_style(model_tensors(change={"bn.steps": ("I64", (1,))})))


def idx_seeds():
  t = "fuzz_idx"
  for tbyte, code, _, _, _, values, shape in gen_state.IDX_TYPES:
    b = gen_state.idx_bytes(tbyte, code, values, shape)
    out(t, f"plain_{tbyte:02x}", b"\0" + b)
    out(t, f"gzmode_{tbyte:02x}", b"\1" + b)
  b = gen_state.idx_bytes(0x08, "B", [1, 2, 3, 4, 5, 6], (2, 3))
  out(t, "gzip_file", b"\0" + gen_state.gz(b))
  out(t, "gzip_short", b"\0" + gen_state.gz(b[:-1]))
  out(t, "scalar", b"\0" + gen_state.idx_bytes(0x0C, "i", [-7], ()))
  out(t, "empty_dims", b"\0" + gen_state.idx_bytes(0x08, "B", [], (0, 5)))
  out(t, "bad_truncated", b"\0" + b[:-2])
  out(t, "bad_trailing", b"\1" + b + b"\0")
  out(t, "bad_overflow", b"\0" + bytes([0, 0, 8, 4, 0, 0, 0, 0]) + b"\xff" * 12)


def main():
  safetensors_seeds()
  state_dict_seeds()
  idx_seeds()
  for t in sorted(os.listdir(os.path.join(HERE, "corpus"))):
    print(f"gen_corpus.py: {t}: {len(os.listdir(os.path.join(HERE, 'corpus', t)))} files")


if __name__ == "__main__":
  main()
