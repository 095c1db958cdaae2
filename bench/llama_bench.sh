#!/usr/bin/env bash
# llama_bench.sh MODEL THREADS: llama.cpp's llama-bench on MODEL (CPU, THREADS threads), the reference of
# bench/llm.c. Prints "PP TG": tokens/s of a 128-token prompt and of generating 64 tokens (llama-bench's pp128 and
# tg64 averages). llama-bench is built once into build/llama.cpp from the llama-cpp-python source package (its
# vendor/llama.cpp; cmake, CPU only, a few minutes on 2 cores). Prints "nan nan" when it cannot be built. With
# CPU_ISA=avx2, a build without AVX-512.
set -uo pipefail
model=$1 threads=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/llama.cpp/build/bin/llama-bench
if [ ! -x "$bin" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if [ -z "${LLAMA_BENCH_SKIP:-}" ] &&
    pip download --retries 1 --timeout 20 --no-deps --no-binary :all: -q -d "$tmp" llama-cpp-python==0.3.36 >&2 &&
    tar -xzf "$tmp"/llama_cpp_python-0.3.36.tar.gz -C "$tmp" &&
    rm -rf "$root/build/llama.cpp" && mkdir -p "$root/build" &&
    mv "$tmp"/llama_cpp_python-0.3.36/vendor/llama.cpp "$root/build/llama.cpp"; then
    (cd "$root/build/llama.cpp" &&
      cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_SERVER=OFF -DCMAKE_BUILD_TYPE=Release >&2 &&
      cmake --build build --target llama-bench -j"$(nproc)" >&2) || true
  fi
fi
if [ ! -x "$bin" ]; then echo "nan nan"; exit 0; fi
# CPU_ISA=avx2 (tinygrad.h's kernels without AVX-512, bench/llm.c's comparison as on an AVX2 machine): the reference
# is a build without AVX-512 (and AMX) too, build-avx2, kept for the next run
# variant DIR FLAGS: llama-bench built into build/llama.cpp/DIR, native with extra compiler flags, once
variant() {
  local out=$root/build/llama.cpp/$1/bin/llama-bench
  if [ ! -x "$out" ]; then
    (cd "$root/build/llama.cpp" &&
      cmake -B "$1" -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_SERVER=OFF -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS=$2" "-DCMAKE_CXX_FLAGS=$2" >&2 &&
      cmake --build "$1" --target llama-bench -j"$(nproc)" >&2) || true
  fi
  [ -x "$out" ]
}
if [ "${CPU_ISA:-}" = avx2 ]; then
  variant build-avx2 "-mno-avx512f -mno-amx-tile -mno-amx-int8 -mno-amx-bf16" || { echo "nan nan"; exit 0; }
  bin=$root/build/llama.cpp/build-avx2/bin/llama-bench
fi
# A build for -march=native uses AMX where the CPU lists it, and on a machine (a VM) that lists AMX but does not let a
# process use it, llama-bench dies of SIGILL or SIGSEGV in ggml's AMX kernels. Then the reference is a second build,
# native but without AMX (build-noamx), kept for the next run.
if ! "$bin" -m "$model" -t "$threads" -p 8 -n 1 -r 1 >/dev/null 2>&1; then
  variant build-noamx "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" || { echo "nan nan"; exit 0; }
  echo "llama_bench.sh: llama-bench fails on this CPU's AMX: its build without AMX is the reference" >&2
  bin=$root/build/llama.cpp/build-noamx/bin/llama-bench
fi
"$bin" -m "$model" -t "$threads" -p 128 -n 64 -r 3 -o csv 2>/dev/null | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
pp = [float(r["avg_ts"]) for r in rows if int(r["n_prompt"]) > 0]
tg = [float(r["avg_ts"]) for r in rows if int(r["n_gen"]) > 0]
print(pp[0] if pp else "nan", tg[0] if tg else "nan")' || echo "nan nan"
