#!/usr/bin/env python3
"""gen_llama.py: a float32 numpy reference of the llama-architecture forward on SmolLM2-135M-Instruct's GGUF (the
weights dequantised by llama.cpp's gguf-py), for the golden numbers of tests/test_llama.c: the greedy reply to a
ChatML prompt, each step's top two logits and their margin (a test of an exact reply checks the steps up to the
first whose margin is under 0.3), and a few logits of the first step.

The model: token embedding (tied to the output), 30 blocks of RMSNorm -> attention (9 query heads, 3 KV heads of
64, rope base 1e5 on adjacent pairs: llama.cpp's "normal" rope, as the GGUF converter permutes q and k for it) ->
residual -> RMSNorm -> SwiGLU (down(silu(gate x) * up x)) -> residual, then RMSNorm and the logits.

Run: python3 tests/golden/gen_llama.py [build/llm/SmolLM2-135M-Instruct.Q4_1.gguf] [steps]  (pip install gguf numpy)
"""
import sys

import gguf
import numpy as np

path = sys.argv[1] if len(sys.argv) > 1 else "build/llm/SmolLM2-135M-Instruct.Q4_1.gguf"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 12
r = gguf.GGUFReader(path)
W = {t.name: gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32) for t in r.tensors}
kv = lambda k: r.fields[k].parts[r.fields[k].data[0]][0]
L, H, HKV, EPS, BASE = int(kv("llama.block_count")), int(kv("llama.attention.head_count")), \
    int(kv("llama.attention.head_count_kv")), float(kv("llama.attention.layer_norm_rms_epsilon")), \
    float(kv("llama.rope.freq_base"))
D = W["token_embd.weight"].shape[1]
HD = D // H


def rmsnorm(x, w):
  return (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS)).astype(np.float32) * w


def rope(x, pos):  # x (T, heads, HD): adjacent pairs (2i, 2i+1) rotated by pos * BASE^(-2i/HD)
  freqs = (1.0 / BASE ** (np.arange(0, HD, 2, dtype=np.float32) / HD)).astype(np.float32)
  ang = np.outer(pos, freqs).astype(np.float32)  # (T, HD/2)
  c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
  x0, x1 = x[..., 0::2], x[..., 1::2]
  out = np.empty_like(x)
  out[..., 0::2], out[..., 1::2] = x0 * c - x1 * s, x0 * s + x1 * c
  return out


def forward(ids):
  T = len(ids)
  x = W["token_embd.weight"][ids]
  pos = np.arange(T, dtype=np.float32)
  mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)
  for l in range(L):
    p = f"blk.{l}."
    h = rmsnorm(x, W[p + "attn_norm.weight"])
    q = rope((h @ W[p + "attn_q.weight"].T).reshape(T, H, HD), pos)
    k = rope((h @ W[p + "attn_k.weight"].T).reshape(T, HKV, HD), pos)
    v = (h @ W[p + "attn_v.weight"].T).reshape(T, HKV, HD)
    k, v = np.repeat(k, H // HKV, axis=1), np.repeat(v, H // HKV, axis=1)
    att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(HD) + mask
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    x = x + np.einsum("hqk,khd->qhd", att, v).reshape(T, D) @ W[p + "attn_output.weight"].T
    h = rmsnorm(x, W[p + "ffn_norm.weight"])
    g = h @ W[p + "ffn_gate.weight"].T
    x = x + ((g / (1 + np.exp(-g))) * (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
  return rmsnorm(x, W["output_norm.weight"]) @ W["token_embd.weight"].T


# the ChatML prompt of the France question, as tinygrad.h tokenizes it (ids printed by the C test; the same as
# Hugging Face tokenizers on this vocabulary)
prompt = [int(t) for t in sys.stdin.read().split()] if not sys.stdin.isatty() else None
if not prompt: sys.exit("give the prompt's ids on stdin")
ids = list(prompt)
for step in range(steps):
  logits = forward(np.array(ids))[-1]
  top = np.argsort(-logits)[:2]
  print(step, int(top[0]), float(logits[top[0]]), int(top[1]), float(logits[top[1]]),
        round(float(logits[top[0]] - logits[top[1]]), 4), logits[:3].tolist() if step == 0 else "")
  ids.append(int(top[0]))
  if top[0] == 2: break
