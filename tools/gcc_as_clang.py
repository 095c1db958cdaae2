#!/usr/bin/env python3
"""gcc_as_clang.py: lets the real tinygrad's CPU backend run where only GCC is installed (the H200 machine's host), so
that bench/ref.py has a tinygrad reference there. tinygrad compiles each kernel with `$CC` (default `clang`) as
`CC -c -x c ... --target=x86_64-none-unknown-elf - -o -` and loads the ELF object it prints. This script takes clang's
place: it drops --target, turns clang's ext_vector_type typedefs into GCC's vector_size and __builtin_bit_cast into a
memcpy, compiles with GCC, and prints the object.

usage: CC=$PWD/tools/gcc_as_clang.py build/bench/conv   (our kernels: the script runs GCC unchanged without -c)

The reference is slower than tinygrad with clang: on the 2-core VM, layer 2 of bench/conv.c took tinygrad 5.2-5.5 s
with clang and 5.8-8.1 s with this stand-in. Quote it as such."""
import os, re, subprocess, sys, tempfile

GCC = os.environ.get("GCC_AS_CLANG_GCC") or ("/opt/gcc/bin/gcc" if os.path.exists("/opt/gcc/bin/gcc") else "gcc")
args = [a for a in sys.argv[1:] if not a.startswith("--target=")]
if "-c" not in args:  # not tinygrad's compile (a link, or tinygrad.h's own kernels): plain GCC
  os.execvp(GCC, [GCC] + args)

VEC = re.compile(r"typedef (.+?) (\w+) __attribute__\(\(aligned\((\d+)\),ext_vector_type\((\d+)\)\)\);")
src = VEC.sub(lambda m: f"typedef {m[1]} {m[2]} __attribute__((aligned({m[3]}),vector_size({m[4]}*sizeof({m[1]}))));",
              sys.stdin.read())
BITCAST = ("#define __builtin_bit_cast(T, v) ({ __typeof__(v) bc_v_ = (v); T bc_r_; "
           "__builtin_memcpy(&bc_r_, &bc_v_, sizeof(bc_r_)); bc_r_; })\n")
flags, skip = [], False
for a in args:  # the source comes from a file and the object goes to one: drop "-x c", "-" and "-o -"
  if skip: skip = False
  elif a == "-o": skip = True
  elif a not in ("-", "-x", "c"): flags.append(a)
with tempfile.TemporaryDirectory() as d:
  c, o = os.path.join(d, "k.c"), os.path.join(d, "k.o")
  with open(c, "w") as f: f.write(BITCAST + src)
  # no memset/memcpy calls (the object is loaded without a libc), no stack protector (no TLS canary either)
  extra = ["-fno-tree-loop-distribute-patterns", "-fno-stack-protector", "-w"]
  rc = subprocess.run([GCC, *flags, *extra, c, "-o", o]).returncode
  if rc: sys.exit(rc)
  with open(o, "rb") as f: sys.stdout.buffer.write(f.read())
