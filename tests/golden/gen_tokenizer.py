#!/usr/bin/env python3
"""gen_tokenizer.py: the golden ids of tests/test_tokenizer.c's tokenizer.json tests, from Hugging Face's tokenizers.

Contract:
  - MiniLM: all-MiniLM-L6-v2's tokenizer.json (build/llm/minilm, from tools/fetch_llm.sh), padding and truncation
    off, each text of TEXTS encoded with add_special_tokens True ([CLS] ... [SEP]); the C test parses the added
    tokens as tinygrad.h's TG_TOKENIZE_PARSE_SPECIAL | TG_TOKENIZE_ADD_SPECIAL (the library always parses them).
  - BPE: the small byte-level BPE file BPE_JSON (the C test writes the same text), each of BPE_TEXTS encoded without
    special tokens, and with them (its TemplateProcessing puts <s> first).
  - Chat: SmolLM2-135M-Instruct's GGUF (build/llm): its tokenizer.chat_template rendered by jinja2 for the France
    question (with add_generation_prompt), and the ids of that text from a tokenizers BPE built from the file's
    vocabulary and merges (as gen_llm.py does), its control tokens added as special tokens.
  - Prints C: paste it into tests/test_tokenizer.c.

Run: python3 tests/golden/gen_tokenizer.py [build/llm]   (pip install tokenizers gguf jinja2)
"""
import json
import sys

from tokenizers import Tokenizer

TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "UNAFFABLE   don't  re-do it: $5.00 (approx.) 3.14159",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m \u0130stanbul",
    "\u4e2d\u6587\u5b57\u7b26 and \ud55c\uad6d\uc5b4 and \u65e5\u672c\u8a9e\u3067\u3059",
    "emoji \U0001F600 tab\tnew\nline\u200b zero\u0000width \u00bd \u2167",
    "[CLS] already [SEP] here [MASK]",
    "a" * 101 + " " + "b" * 100,
    "x\u0301y\u0327 \u1e9b\u0323 \u00df \u01c5 \u2126",
    "",
]

BPE_JSON = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [
        {"id": 0, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True},
        {"id": 1, "content": "<|x|>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": True},
    ],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": {}, "merges": [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["\u0120", "w"],
                                      ["\u0120w", "o"], ["r", "l"], ["rl", "d"], ["\u0120wo", "rld"]]},
}

BPE_TEXTS = ["hello world", "hello<|x|>world  hello!\n\u00e9", "<s>hello"]


def bytes_to_unicode():
  bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xa1, 0xac + 1)) + list(range(0xae, 0xff + 1))
  cs, n = bs[:], 0
  for b in range(256):
    if b not in bs:
      bs.append(b)
      cs.append(256 + n)
      n += 1
  return dict(zip(bs, (chr(c) for c in cs)))


def bpe_json():
  d = json.loads(json.dumps(BPE_JSON))
  vocab = {"<s>": 0, "<|x|>": 1}
  for b, c in sorted(bytes_to_unicode().items()):
    vocab[c] = 2 + b
  for a, b in d["model"]["merges"]:
    vocab.setdefault(a + b, len(vocab))
  d["model"]["vocab"] = vocab
  return json.dumps(d, ensure_ascii=True, separators=(",", ":"))


def c_str(s):
  out = ""
  for ch in s.encode():
    c = chr(ch)
    out += "\\" + c if c in '"\\' else c if 32 <= ch < 127 and c != "?" else "\\%03o" % ch
  return '"' + out + '"'


def c_wrapped(s, indent=8):
  """a C string literal of s, in pieces of at most 100 columns"""
  pieces, cur = [], ""
  for ch in s:
    if len(c_str(cur + ch)) > 100:
      pieces.append(c_str(cur))
      cur = ""
    cur += ch
  pieces.append(c_str(cur))
  return ("\n" + " " * indent).join(pieces)


def c_ids(ids, indent=8):
  """{a, b, ...} wrapped to 118 columns"""
  lines, row = [], "{"
  for k, i in enumerate(ids):
    item = str(i) + (", " if k + 1 < len(ids) else "")
    if len(row) + len(item) + indent > 116:
      lines.append(row.rstrip())
      row = ""
    row += item
  lines.append(row + "}")
  return ("\n" + " " * indent).join(lines)


def chat(path):
  import gguf
  import jinja2
  from tokenizers import AddedToken, models, pre_tokenizers
  r = gguf.GGUFReader(path)

  def field(name):
    f = r.fields[name]
    return [bytes(f.parts[i]).decode() for i in f.data] if name != "tokenizer.ggml.token_type" else \
        [int(f.parts[i][0]) for i in f.data]
  tokens, merges = field("tokenizer.ggml.tokens"), field("tokenizer.ggml.merges")
  types = field("tokenizer.ggml.token_type")
  bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ", 1)) for m in merges])
  tok = Tokenizer(bpe)
  tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
  tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
  from tokenizers import decoders
  tok.decoder = decoders.ByteLevel()
  tmpl = field("tokenizer.chat_template")[0]
  text = jinja2.Environment().from_string(tmpl).render(
      messages=[{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True)
  ids = tok.encode(text).ids
  print(f"/* SmolLM2's chat: {len(ids)} ids of */ {c_wrapped(text)}")
  print("        " + c_ids(ids))


def main():
  d = sys.argv[1] if len(sys.argv) > 1 else "build/llm"
  chat(d + "/SmolLM2-135M-Instruct.Q4_1.gguf")
  tok = Tokenizer.from_file(d + "/minilm/tokenizer.json")
  tok.no_padding()
  tok.no_truncation()
  print("/* gen_tokenizer.py: MiniLM's ids (add_special_tokens=True) */")
  for t in TEXTS:
    ids = tok.encode(t).ids
    text = c_wrapped(t)
    print(f"    {{{text}, {len(t.encode())}, {len(ids)},\n        {c_ids(ids)}}},")
  js = bpe_json()
  tok = Tokenizer.from_str(js)
  print("/* the BPE file */")
  print("    " + c_wrapped(js, 4))
  for t in BPE_TEXTS:
    print(f"    {{{c_str(t)}, {c_ids(tok.encode(t, add_special_tokens=False).ids)}, "
          f"{c_ids(tok.encode(t).ids)}}},")


if __name__ == "__main__":
  main()
