#!/usr/bin/env bash
# deps.sh: makes sure the tools the build needs are installed (idempotent; run by `make test` and .ci/run).
#
# Checks for cc, make, python3 and nm. When everything is there it returns at once, without touching apt-get. When
# something is missing and we are root, it runs `apt-get update` once and `apt-get install -y` the packages that
# provide it, saying what it installs; when we are not root it names the packages and fails.
#
# Later issues add their packages in the marked section at the end, with need_pkg PKG TESTFILE (installs PKG when
# TESTFILE does not exist), e.g.  need_pkg libstb-dev /usr/include/stb/stb_image.h
set -euo pipefail

missing_pkgs=()
apt_updated=0

# need_cmd CMD PKG: PKG provides the command CMD
need_cmd() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "deps.sh: $1 is missing (package $2)"
    missing_pkgs+=("$2")
  fi
}

# need_pkg PKG TESTFILE: PKG provides the file TESTFILE
need_pkg() {
  if [ ! -e "$2" ]; then
    echo "deps.sh: $2 is missing (package $1)"
    missing_pkgs+=("$1")
  fi
}

install_missing() {
  [ ${#missing_pkgs[@]} -eq 0 ] && return 0
  # one entry per package, in order
  local pkgs
  pkgs=$(printf '%s\n' "${missing_pkgs[@]}" | awk '!seen[$0]++' | tr '\n' ' ')
  pkgs=${pkgs% }
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: not root, cannot install: $pkgs. HINT: sudo apt-get install -y $pkgs" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: no apt-get here; install these yourself: $pkgs" >&2
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then
    echo "deps.sh: apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  echo "deps.sh: installing $pkgs"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs
  missing_pkgs=()
}

# ---------------------------------------------------------------------------------------------------------------------
# the build itself

need_cmd cc build-essential
need_cmd make build-essential
need_cmd python3 python3
need_cmd nm binutils

# ---------------------------------------------------------------------------------------------------------------------
# >>> packages of later issues go here: need_pkg PKG TESTFILE (e.g. need_pkg libstb-dev /usr/include/stb/stb_image.h,
# >>> need_pkg dataset-fashion-mnist /usr/share/...).

# tests/test_state.c reads the real Fashion-MNIST test set with tg_idx_load (gzip through libz, from zlib1g, which
# Debian always has)
need_pkg dataset-fashion-mnist /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
need_pkg libstb-dev /usr/include/stb/stb_image.h

# <<< end of the packages of later issues

# `tools/deps.sh bench` (make bench): the references the benchmarks measure in the same run. numpy with Debian's
# OpenBLAS for /usr/bin/python3 (bench/bench.h tries it first), and the real tinygrad from PyPI for the default python3
# when no python here has it (best effort: without it those references print nan).
if [ "${1:-}" = bench ]; then
  if command -v dpkg >/dev/null 2>&1; then
    for p in python3-numpy libopenblas0-pthread; do
      dpkg -s "$p" >/dev/null 2>&1 || { echo "deps.sh: $p is missing"; missing_pkgs+=("$p"); }
    done
  fi
  install_missing
  has_tinygrad=0
  for py in "${PYTHON:-}" /usr/bin/python3 python3; do
    if [ -n "$py" ] && "$py" -c 'import numpy, tinygrad' >/dev/null 2>&1; then has_tinygrad=1; break; fi
  done
  if [ "$has_tinygrad" = 0 ]; then
    echo "deps.sh: no python here has numpy and tinygrad: python3 -m pip install tinygrad numpy"
    python3 -m pip install -q tinygrad numpy || echo "deps.sh: warning: tinygrad could not be installed (its references print nan)"
  fi
  exit 0
fi

install_missing
