#!/usr/bin/env bash
# check.sh: checks the single header as a user meets it (run by `make check`; exits non-zero at the first failure).
#
#   1. tinygrad.h is fresh: tools/amalgamate.py --check (the committed file equals a fresh amalgamation of src/), as is
#      src/viz_page.c (tools/gen_viz.py --check: the VIZ page of viz/), and
#      every public function takes the library's lock (tools/api_lock.py), and the files of src/ form layers
#      (tools/layers.py: none calls into a higher one).
#   2. The one-file build: a file with `#define TINYGRAD_IMPLEMENTATION` + `#include "tinygrad.h"` + main compiles
#      without a warning (-Wall -Wextra -Werror) with cc and clang (C11, if clang exists) and g++ (C++17), links with
#      only -lm -ldl -lpthread and runs; with cc also at -O2 and -O3, where GCC's inlining finds more to warn about.
#   3. The options: TINYGRAD_STATIC, a user allocator (TG_MALLOC/TG_REALLOC/TG_FREE) and including the implementation
#      twice, in one C file; and a program of two files (the implementation in one, only declarations in the other).
#   4. Exported symbols: an object of the implementation (not static) defines no global symbol but tg_ names (and no
#      tg__ one: private names must be static).
#   5. Private names: every name the implementation section defines (macros, typedefs, tags, enum constants, and the
#      functions and variables nm finds in its object, statics included) starts with tg_/tg__/TG_/TG__
#      (tools/private_names.py).
#   6. Once every file of the amalgamation exists: the QUICK START example of the header comment prints 42.
# Everything is built in build/check/. CC and CXX choose the compilers (default cc, g++); clang is used if present.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-cc}
CXX=${CXX:-g++}
OUT=build/check
LIBS=(-lm -ldl -lpthread)
WARN=(-Wall -Wextra -Werror)
mkdir -p "$OUT"

step() { printf '\n== check: %s\n' "$*"; }
fail() { printf 'check FAILED: %s\n' "$*" >&2; exit 1; }

step "tinygrad.h is fresh"
python3 tools/gen_viz.py --check || fail "src/viz_page.c is stale (run make and commit it)"
python3 tools/amalgamate.py --check || fail "tinygrad.h is stale (run make and commit it)"

step "every public function takes the library's lock"
python3 tools/api_lock.py || fail "a public function does not begin with TG__LOCKED()"

step "the files of src/ form layers: none calls a file of a higher layer"
python3 tools/layers.py || fail "a file calls into a higher layer (tools/layers.py lists the layers)"

# ---------------------------------------------------------------------------------------------------------------------
# the one-file program: calls functions that exist from the first files of src/ on (extend it as the library grows)

cat > "$OUT/onefile.c" <<'EOF'
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "backends/tinygrad_cuda.h" /* the backends build with the implementation, drivers or not */
#include "backends/tinygrad_opencl.h"
#include <stdio.h>

int main(void) {
  int bad = 0;
  bad |= tg_dtype_size(TG_FLOAT32) != 4;
  bad |= tg_promote(TG_INT32, TG_FLOAT32) != TG_FLOAT32;
  bad |= tg_dtype_name(TG_FLOAT32) == NULL;
  tg_clear_error();
  bad |= tg_error() != NULL;
  bad |= tg_synchronize("CPU") != 0;
  printf("one-file build: %s\n", bad ? "WRONG RESULTS" : "ok");
  return bad;
}
EOF

step "one-file build: $CC -std=c11 ${WARN[*]}"
$CC -std=c11 "${WARN[@]}" -I. -o "$OUT/onefile_cc" "$OUT/onefile.c" "${LIBS[@]}"
"$OUT/onefile_cc"

step "one-file build optimised: $CC -std=c11 -O2 and -O3 ${WARN[*]} (the warnings that only inlining shows)"
for opt in -O2 -O3; do $CC -std=c11 "$opt" "${WARN[@]}" -I. -c -o "$OUT/onefile_opt.o" "$OUT/onefile.c"; done

step "debug information: the distributed header's lines are its own (no #line into src/, which users do not have)"
[ "$(grep -c '^#line' tinygrad.h)" = 0 ] || fail "tinygrad.h has #line markers: a debugger would look for src/"
$CC -std=c11 -g -O0 -I. -c -o "$OUT/onefile_g.o" "$OUT/onefile.c"
if command -v readelf >/dev/null 2>&1; then
  files=$(readelf --debug-dump=decodedline "$OUT/onefile_g.o" 2>/dev/null | grep -o '^[A-Za-z_./]*\.[ch]' | sort -u)
  echo "$files" | grep -q '^tinygrad.h$' || fail "the debug information does not name tinygrad.h"
  if echo "$files" | grep -q '^src/'; then fail "the debug information names src/"; fi
  echo "debug lines name: $(echo "$files" | paste -sd' ' -)"
fi

if command -v clang >/dev/null 2>&1; then
  step "one-file build: clang -std=c11 ${WARN[*]}"
  clang -std=c11 "${WARN[@]}" -I. -o "$OUT/onefile_clang" "$OUT/onefile.c" "${LIBS[@]}"
  "$OUT/onefile_clang"
else
  step "one-file build with clang: SKIPPED (clang is not installed)"
fi

step "one-file build: $CXX -std=c++17 ${WARN[*]} -x c++"
$CXX -std=c++17 "${WARN[@]}" -I. -x c++ -o "$OUT/onefile_cxx" "$OUT/onefile.c" -x none "${LIBS[@]}"
"$OUT/onefile_cxx"

# ---------------------------------------------------------------------------------------------------------------------
# the options

cat > "$OUT/options.c" <<'EOF'
#include <stdlib.h> /* before tinygrad.h on purpose: the build line gives -D_GNU_SOURCE, as the NOTE says */
static size_t n_allocs;
static void *my_malloc(size_t n) { n_allocs++; return malloc(n); }
#define TINYGRAD_STATIC
#define TG_MALLOC(sz) my_malloc(sz)
#define TG_REALLOC(p, newsz) realloc(p, newsz)
#define TG_FREE(p) free(p)
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
#include "tinygrad.h" /* a second inclusion, implementation macro still defined: harmless */
#include <stdio.h>

int main(void) {
  int bad = tg_dtype_size(TG_INT8) != 1 || tg_promote(TG_BOOL, TG_INT8) != TG_INT8;
  printf("options build: %s (%zu allocations through TG_MALLOC)\n", bad ? "WRONG RESULTS" : "ok", n_allocs);
  return bad;
}
EOF
step "options: TINYGRAD_STATIC, TG_MALLOC/TG_REALLOC/TG_FREE, the implementation included twice"
# -Wno-unused-function: under TINYGRAD_STATIC every public function is static, and gcc warns about each one the program
# does not call (unless TG_API carries __attribute__((unused))) and about each one api.h declares that src/ does not
# define yet. Drop the flag once both hold.
$CC -std=c11 "${WARN[@]}" -Wno-unused-function -D_GNU_SOURCE -I. -c -o "$OUT/options.o" "$OUT/options.c"
$CC -o "$OUT/options" "$OUT/options.o" "${LIBS[@]}"
"$OUT/options"
leaked=$(nm -g --defined-only "$OUT/options.o" | awk 'NF >= 3 && $3 != "main" { print $3 }')
[ -z "$leaked" ] || fail "TINYGRAD_STATIC still exports: $(echo "$leaked" | paste -sd' ' -)"

cat > "$OUT/two_impl.c" <<'EOF'
#define TINYGRAD_IMPLEMENTATION
#include "tinygrad.h"
EOF
cat > "$OUT/two_main.c" <<'EOF'
#include "tinygrad.h" /* declarations only */
#include <stdio.h>
int main(void) {
  size_t rows = 2, cols = 3; /* TG_SHAPE of size_t variables: no narrowing error in C++ */
  tg_tensor *z = tg_zeros(TG_FLOAT32, TG_SHAPE(rows, cols));
  int bad = tg_dtype_size(TG_FLOAT64) != 8 || tg_numel(z) != 6;
  tg_free(z);
  printf("two-file build: %s\n", bad ? "WRONG RESULTS" : "ok");
  return bad;
}
EOF
step "a program of two files: implementation in one, declarations only in the other"
$CC -std=c11 "${WARN[@]}" -I. -c -o "$OUT/two_impl.o" "$OUT/two_impl.c"
$CC -std=c11 "${WARN[@]}" -I. -c -o "$OUT/two_main.o" "$OUT/two_main.c"
$CXX -std=c++17 "${WARN[@]}" -I. -x c++ -fsyntax-only "$OUT/two_main.c"  # the public part alone, as C++
if command -v clang++ >/dev/null 2>&1; then
  clang++ -std=c++17 "${WARN[@]}" -I. -x c++ -fsyntax-only "$OUT/two_main.c"
fi
$CC -o "$OUT/two" "$OUT/two_main.o" "$OUT/two_impl.o" "${LIBS[@]}"
"$OUT/two"

step "make install PREFIX=$OUT/inst: a program built with pkg-config's flags alone"
INST="$PWD/$OUT/inst" # absolute: the .pc file's prefix
rm -rf "$INST"
make --no-print-directory -s install PREFIX="$INST" >/dev/null
[ -f "$INST/include/tinygrad/backends/tinygrad_cuda.h" ] || fail "make install left out the backend headers"
if command -v pkg-config >/dev/null 2>&1; then
  PC=$(PKG_CONFIG_PATH="$INST/lib/pkgconfig" pkg-config --cflags --libs tinygrad)
else # what pkg-config would say
  PC="-I$INST/include/tinygrad $(sed -n 's/^Libs: //p' "$INST/lib/pkgconfig/tinygrad.pc")"
fi
# no -I.: the installed header only
(cd "$OUT" && $CC -std=c11 "${WARN[@]}" -o installed two_impl.c two_main.c $PC) || fail "the installed header does not build"
"$OUT/installed"

# ---------------------------------------------------------------------------------------------------------------------
# exported symbols: only the public API may leave the implementation's object

step "exported symbols: every defined global symbol starts with tg_ (and none with tg__)"
syms=$(nm -g --defined-only "$OUT/two_impl.o" | awk 'NF >= 3 { print $3 }')
bad=$(printf '%s\n' "$syms" | grep -v -E '^tg_[^_]' | grep -v '^$' || true)
if [ -n "$bad" ]; then
  printf '%s\n' "$bad" | sed 's/^/  /' >&2
  fail "the symbols above leak from the implementation: make them static (TG__PRIVATE / TG__DATA) or name them tg_"
fi
echo "$(printf '%s\n' "$syms" | grep -c . || true) global symbols, all tg_"

# ---------------------------------------------------------------------------------------------------------------------
# private names: every name the implementation defines in the user's file is prefixed (tools/private_names.py)

step "private names: every macro, typedef, tag, enum constant, function and variable of the implementation is tg_/TG_"
# static functions and constants kept in the object, so that nm lists even the ones nothing calls
keep=(-O0 -fkeep-static-functions -fkeep-static-consts)
$CC -std=c11 "${keep[@]}" -I. -c -o "$OUT/names.o" "$OUT/two_impl.c" 2>/dev/null ||
  $CC -std=c11 -O0 -I. -c -o "$OUT/names.o" "$OUT/two_impl.c"
python3 tools/private_names.py --object "$OUT/names.o" ||
  fail "the names above are not prefixed: name them tg__/TG__ (private) or tg_/TG_ (public)"

# ---------------------------------------------------------------------------------------------------------------------
# the QUICK START example, once the library is complete enough to run it

missing=$(python3 tools/amalgamate.py --missing)
if [ -n "$missing" ]; then
  step "QUICK START example: SKIPPED until these exist: $(echo "$missing" | paste -sd' ' -)"
else
  step "QUICK START example prints 42"
  python3 tools/amalgamate.py --example > "$OUT/quickstart.c"
  $CC -std=c11 "${WARN[@]}" -I. -o "$OUT/quickstart" "$OUT/quickstart.c" "${LIBS[@]}"
  got=$("$OUT/quickstart")
  [ "$got" = "42" ] || fail "the QUICK START example printed '$got', not 42"
  echo "$got"
fi

printf '\ncheck: all passed\n'
