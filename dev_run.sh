#!/bin/bash
# scratch: the test suite on the H200 with CUDA (deleted after the session's runs)
export CC=/opt/gcc/bin/gcc
nproc; nvidia-smi --query-gpu=name --format=csv,noheader
make -s build/run_tests CC=$CC > $OUT/build.log 2>&1 || { tail -20 $OUT/build.log; exit 1; }
start=$(date +%s)
DEV=CUDA timeout 420 ./build/run_tests > $OUT/cuda.log 2>&1; echo "rc=$? in $(( $(date +%s) - start )) s"
grep -E "^FAIL|failed:|passed," $OUT/cuda.log | head -40
