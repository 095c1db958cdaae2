#!/usr/bin/env python3
"""gen_llm.py: the golden numbers of tests/test_tokenizer.c's SmolLM2 test, from llama.cpp's own GGUF reader and
Hugging Face's tokenizers library (not from tinygrad.h).

  - tensors: gguf.GGUFReader + gguf.quants.dequantize (llama.cpp's gguf-py): the first four and the last value of a
    few tensors (Q8_0, Q4_1, F32), and the sum of their absolute values in float64;
  - tokens: a tokenizers BPE built from the file's tokenizer.ggml.tokens and merges, with SmolLM2's pre-tokenizer
    (Digits(individual_digits=True) then ByteLevel(add_prefix_space=False, use_regex=True)).

Run: python3 tests/golden/gen_llm.py [build/llm/SmolLM2-135M-Instruct.Q4_1.gguf]   (pip install gguf tokenizers numpy)
"""
import sys

import gguf
import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers

path = sys.argv[1] if len(sys.argv) > 1 else "build/llm/SmolLM2-135M-Instruct.Q4_1.gguf"
r = gguf.GGUFReader(path)


def strings(name):
  field = r.fields[name]
  return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


for name in ["token_embd.weight", "blk.0.ffn_down.weight", "blk.29.attn_v.weight", "output_norm.weight"]:
  t = next(x for x in r.tensors if x.name == name)
  d = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1)
  print(name, t.tensor_type.name, d[:4].tolist(), repr(float(np.abs(d).sum())), repr(float(d[-1])))

tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ", 1)) for m in merges])
tok = Tokenizer(bpe)
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
for text in ["What is the capital of France?", "The capital of France is Paris.", "Hello  world\n\n  123 x 4567!"]:
  print(repr(text), tok.encode(text).ids)
