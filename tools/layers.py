#!/usr/bin/env python3
"""layers.py: checks that the files of src/ (and backends/) form layers, each calling only its own layer or lower ones.

Contract:
  tools/layers.py            exits 1, naming each call (file -> file: names), when a file uses a function or table
                             that a file of a higher layer defines, or when a file of src/ has no layer
  tools/layers.py --graph    prints, for each file, the files it uses and the names it uses from each

A name is "defined" by a file when the file defines it at file scope: a function with a body, or a variable or table
(TG__DATA, static) with an initializer or a size. A file "uses" a name defined elsewhere when the name appears in it as
an identifier (comments and string literals are ignored). Where a lower layer must reach a higher one, the higher one
registers a hook (a function pointer the lower one calls), as tinygrad's `capturing` list: the root enumerator of
uop.c, the JIT's capture hook in realize.c, the return hook of base.c's lock.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the layers, lowest first (DESIGN.md); a file calls into its own layer or lower ones
LAYERS = [
    ["base", "dtype", "unicode", "viz_page"],                                         # 1 helpers
    ["uop", "shape", "buffer", "pattern", "symbolic", "viz"],                 # 2 the graph and its rewriting
    ["gradient", "schedule", "codegen", "optimize", "linearize", "render"],   # 3 graph to kernels to source
    ["realize", "search", "device", "runtime_cpu", "tinygrad_cuda", "tinygrad_opencl"],  # 4 running on devices
    ["tensor", "autograd", "ops", "nn", "optim", "state", "gguf", "tokenizer", "jit"],  # 5 the public API
]
LAYER = {name: i + 1 for i, names in enumerate(LAYERS) for name in names}


def strip(text):
    """the text without comments, string and character literals, and preprocessor lines (same line count)"""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        elif c == "#" and (i == 0 or text[i - 1] == "\n"):
            j = i
            while True:  # a directive, with its continuation lines
                k = text.find("\n", j)
                if k < 0:
                    k = n
                    break
                if text[k - 1] != "\\":
                    break
                j = k + 1
            out.append("\n" * text.count("\n", i, k))
            i = k
        else:
            out.append(c)
            i += 1
    return "".join(out)


IDENT = re.compile(r"[A-Za-z_]\w*")


def definitions(code):
    """names defined at file scope: functions with a body, and variables/tables"""
    names, depth, chunk = set(), 0, []
    for tok in re.finditer(r"[{};]|[^{};]+", code):
        t = tok.group(0)
        if depth == 0 and t not in "{};":
            chunk.append(t)
            continue
        if t == "{":
            if depth == 0:
                decl = "".join(chunk)
                m = re.search(r"(\w+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*$", decl)
                if m and not re.search(r"\b(struct|union|enum)\s*\w*\s*$", decl):
                    names.add(m.group(1))  # a function definition
                else:
                    m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*=\s*$", decl)
                    if m:
                        names.add(m.group(1))  # a table: T name[] = {
            depth += 1
        elif t == "}":
            depth -= 1
        elif t == ";" and depth == 0:
            decl = "".join(chunk)
            if not re.match(r"\s*(typedef|extern)\b", decl) and "(" not in decl.split("=")[0]:
                m = re.search(r"(\w+)\s*(\[[^\]]*\]\s*)*(=.*)?$", decl.strip(), re.S)
                if m and re.match(r"\s*(static|TG__DATA|TG__PRIVATE|const|[A-Za-z_])", decl):
                    names.add(m.group(1))  # a variable
            chunk = []
        if t in "{}" and depth == 0:
            chunk = []
    return {n for n in names if n.startswith(("tg_", "TG_"))}


def sources():
    files = {}
    for d in ("src", "backends"):
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if f.endswith((".c", ".h")) and f not in ("internal.h", "api.h"):
                files[os.path.splitext(f)[0]] = os.path.join(d, f)
    return files


def main():
    files = sources()
    code = {name: strip(open(os.path.join(ROOT, path)).read()) for name, path in files.items()}
    owner = {}
    for name in files:
        for d in definitions(code[name]):
            owner.setdefault(d, name)
    uses = {name: {} for name in files}
    for name in files:
        for ident in set(IDENT.findall(code[name])):
            o = owner.get(ident)
            if o and o != name:
                uses[name].setdefault(o, set()).add(ident)
    if "--graph" in sys.argv:
        for name in files:
            for o in sorted(uses[name], key=lambda x: (LAYER.get(x, 0), x)):
                print(f"{name} ({LAYER.get(name, '?')}) -> {o} ({LAYER.get(o, '?')}): {' '.join(sorted(uses[name][o]))}")
        return 0
    bad = 0
    for name, path in files.items():
        if name not in LAYER:
            print(f"layers: {path} has no layer: add it to LAYERS in tools/layers.py (and say so at its top)")
            bad += 1
            continue
        for o, idents in sorted(uses[name].items()):
            if LAYER.get(o, 0) > LAYER[name]:
                print(f"layers: {path} (layer {LAYER[name]}) calls {files[o]} (layer {LAYER[o]}): "
                      f"{' '.join(sorted(idents))}")
                bad += 1
    if bad:
        print(f"layers: {bad} upward dependencies; a lower layer reaches a higher one only through a hook it calls")
        return 1
    print(f"layers: {len(files)} files in {len(LAYERS)} layers, no upward calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
