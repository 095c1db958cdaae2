#!/bin/bash
make -j16 build/run_tests >/dev/null 2>&1
(time DEV=CUDA ./build/run_tests) > $OUT/cuda_tests.txt 2>&1; grep -E "tests run|passed|^FAIL|^real" $OUT/cuda_tests.txt
cc -std=c11 -O2 -march=native -I. -Ibuild/data -o mnist examples/mnist.c -lm -ldl -lpthread
mkdir -p build/bench; cc -std=c11 -O2 -march=native -I. -o build/bench/matmul bench/matmul.c -lm -ldl -lpthread
export TINYGRAD_CACHE=/tmp/tgc6
MNIST_DIR=build/data ./mnist --steps 12 2>&1 | grep "per step"
MNIST_DIR=build/data ./mnist --steps 12 2>&1 | grep "per step"
MATMUL_SIZES="1024 2048 4096" ./build/bench/matmul
(yes > /dev/null &); MATMUL_SIZES="1024 2048" ./build/bench/matmul; pkill yes
