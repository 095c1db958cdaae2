#!/usr/bin/env python3
"""gen_bert.py: a float32 numpy reference of BERT's forward on all-MiniLM-L6-v2 (sentence-transformers), for the golden
numbers of tests/test_bert.c. The weights come from the model's safetensors file, parsed here with numpy (the header
is JSON, the data little-endian); the token ids from Hugging Face's tokenizers on the model's tokenizer.json (its
padding to 128 turned off: mean pooling over the attention mask makes padding irrelevant).

The model (BertModel, post-norm): word + position + token type 0 embeddings, LayerNorm; per layer: self-attention
(12 heads of 32, scores / sqrt(32), padding keys masked out) -> dense -> residual -> LayerNorm -> dense 1536 ->
GELU in its exact erf form 0.5 x (1 + erf(x / sqrt 2)) -> dense 384 -> residual -> LayerNorm (every LayerNorm eps
1e-12). Then sentence-transformers' modules: mean pooling over the attention mask, L2 normalisation.

Prints the ids of each sentence, the first 8 values of each embedding, the first 4 values of the last hidden state
at the first and last token, and the cosine of the pair. The two sentences run once as a padded batch (B = 2, the
shorter padded with [PAD] and mask 0) and once each alone; it prints how far apart the two are.

Run: python3 tests/golden/gen_bert.py [build/llm/minilm]   (pip install tokenizers numpy)
"""
import json
import math
import struct
import sys

import numpy as np
from tokenizers import Tokenizer

d = sys.argv[1] if len(sys.argv) > 1 else "build/llm/minilm"
cfg = json.load(open(d + "/config.json"))
L, D, H, EPS = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
HD = D // H
assert cfg["hidden_act"] == "gelu" and cfg["position_embedding_type"] == "absolute"


def load_safetensors(path):
  dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
  with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
  out = {}
  for name, info in header.items():
    if name == "__metadata__": continue
    a, b = info["data_offsets"]
    out[name] = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
  return out


W = load_safetensors(d + "/model.safetensors")
erf = np.vectorize(math.erf, otypes=[np.float64])


def layernorm(x, p):
  mu = x.mean(-1, keepdims=True)
  var = ((x - mu) ** 2).mean(-1, keepdims=True)
  return ((x - mu) / np.sqrt(var + np.float32(EPS))).astype(np.float32) * W[p + ".weight"] + W[p + ".bias"]


def dense(x, p):
  return x @ W[p + ".weight"].T + W[p + ".bias"]


def forward(ids, mask):  # ids, mask (B, T) -> last hidden state (B, T, D), float32 throughout
  B, T = ids.shape
  x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T] + \
      W["embeddings.token_type_embeddings.weight"][0]
  x = layernorm(x, "embeddings.LayerNorm")
  bias = np.where(mask[:, None, None, :] > 0, 0, -np.inf).astype(np.float32)  # (B, 1, 1, T)
  for l in range(L):
    p = f"encoder.layer.{l}."
    heads = lambda t: t.reshape(B, T, H, HD).transpose(0, 2, 1, 3)  # (B, H, T, HD)
    q, k, v = (heads(dense(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
    s = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(HD)) + bias
    s = np.exp(s - s.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    a = (s @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
    x = layernorm(dense(a, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
    h = dense(x, p + "intermediate.dense")
    h = (0.5 * h * (1 + erf(h / math.sqrt(2)))).astype(np.float32)
    x = layernorm(dense(h, p + "output.dense") + x, p + "output.LayerNorm")
  return x.astype(np.float32)


def embed(ids, mask):  # mean over the mask, then x / max(|x|, 1e-12) as torch's F.normalize
  h = forward(ids, mask)
  m = mask[:, :, None].astype(np.float32)
  e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
  return h, e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


tok = Tokenizer.from_file(d + "/tokenizer.json")
tok.no_padding()
texts = ["A man is eating food.", "A man is eating a piece of bread."]
ids = [tok.encode(t).ids for t in texts]
T = max(len(i) for i in ids)
batch = np.array([i + [0] * (T - len(i)) for i in ids], dtype=np.int64)
mask = np.array([[1] * len(i) + [0] * (T - len(i)) for i in ids], dtype=np.int64)
hb, eb = embed(batch, mask)
alone = [embed(np.array([i]), np.ones((1, len(i)), dtype=np.int64)) for i in ids]
print("batch vs alone: max |embedding difference|",
      max(float(np.abs(eb[i] - alone[i][1][0]).max()) for i in range(2)))
for i, t in enumerate(texts):
  n = len(ids[i])
  print(repr(t), "ids", ids[i])
  print("  embedding[:8]", [float(v) for v in eb[i, :8]])
  print("  hidden[0][:4]", [float(v) for v in hb[i, 0, :4]], f"hidden[{n - 1}][:4]",
        [float(v) for v in hb[i, n - 1, :4]])
print("cosine", float(np.dot(eb[0].astype(np.float64), eb[1].astype(np.float64))))
