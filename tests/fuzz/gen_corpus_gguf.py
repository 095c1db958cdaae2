#!/usr/bin/env python3
"""gen_corpus_gguf.py: the seed corpus of fuzz_gguf (tests/fuzz/corpus/fuzz_gguf/), GGUF files built here byte by byte
from the format's description (ggml's docs/gguf.md): no library needed.

Contract:
  - valid_*: versions 2 and 3, key-values of every type (arrays of numbers and of strings among them), tensors of
    every type tinygrad.h reads (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K), the default
    alignment and 64.
  - bad_*: truncated, an array of arrays, an unknown tensor type, overlapping tensors.
  - File names are stable; running this again rewrites the same bytes.

Run: python3 tests/fuzz/gen_corpus_gguf.py
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_gguf")
TYPES = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
         12: (256, 144), 13: (256, 176), 14: (256, 210)}


def s(x):
  b = x.encode() if isinstance(x, str) else x
  return struct.pack("<Q", len(b)) + b


def kv_bytes():
  out = [s("general.architecture") + struct.pack("<I", 8) + s("llama"),
         s("llama.block_count") + struct.pack("<II", 4, 2),
         s("u8") + struct.pack("<IB", 0, 7), s("i8") + struct.pack("<Ib", 1, -3), s("u16") + struct.pack("<IH", 2, 9),
         s("i16") + struct.pack("<Ih", 3, -9), s("i32") + struct.pack("<Ii", 5, -70000),
         s("f32") + struct.pack("<If", 6, 1e5), s("bool") + struct.pack("<I?", 7, True),
         s("u64") + struct.pack("<IQ", 10, 2**63 + 5), s("i64") + struct.pack("<Iq", 11, -2**40),
         s("f64") + struct.pack("<Id", 12, -0.5),
         s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3) + s("<s>") + s("") + s("\u0120the"),
         s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + struct.pack("<ff", -1.0, 2.5)]
  return out


def gguf(version, tensors, align=None, kvs=None):
  kvs = list(kv_bytes() if kvs is None else kvs)
  if align: kvs.append(s("general.alignment") + struct.pack("<II", 4, align))
  a = align or 32
  head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs)
  infos, data, off = b"", b"", 0
  for name, typ, ne, raw in tensors:
    infos += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", e) for e in ne) + struct.pack("<IQ", typ, off)
    data += raw + b"\0" * ((-len(raw)) % a)
    off += len(raw) + (-len(raw)) % a
  body = head + infos
  return body + b"\0" * ((-len(body)) % a) + data


def blocks(typ, n, rng):
  block, size = TYPES[typ]
  raw = bytearray(rng.getrandbits(8) for _ in range(n // block * size))
  if typ in (0,):
    raw = b"".join(struct.pack("<f", rng.uniform(-4, 4)) for _ in range(n))
  return bytes(raw)


def main():
  os.makedirs(OUT, exist_ok=True)
  rng = random.Random(7)
  every = [(f"t{typ}", typ, (TYPES[typ][0] * 2, 2), blocks(typ, TYPES[typ][0] * 4, rng)) for typ in sorted(TYPES)]
  files = {
      "valid_v3_every_type": gguf(3, every),
      "valid_v2_align64": gguf(2, every[:4], align=64),
      "valid_metadata_only": gguf(3, []),
      "valid_q8_0": gguf(3, [("w", 8, (32, 3), blocks(8, 96, rng)), ("b", 0, (3,), blocks(0, 3, rng))]),
  }
  good = files["valid_q8_0"]
  files["bad_truncated"] = good[: len(good) - 28]
  files["bad_nested_array"] = gguf(3, [], kvs=[s("x") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 0, 0)])
  files["bad_unknown_type"] = gguf(3, [("w", 9, (32,), bytes(36))])
  ov = gguf(3, [("a", 0, (8,), bytes(32)), ("b", 0, (8,), bytes(32))])
  i = ov.find(s("b")) + 9 + 4 + 8 + 4
  files["bad_overlap"] = ov[:i] + struct.pack("<Q", 0) + ov[i + 8:]
  for name, data in files.items():
    with open(os.path.join(OUT, name), "wb") as f:
      f.write(data)


if __name__ == "__main__":
  main()
