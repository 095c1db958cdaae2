#!/bin/sh
# fuzz.sh SECONDS LEAKS TARGET...: runs the libFuzzer binaries build/fuzz/TARGET for SECONDS each, as many at a time
# as there are cores (a fuzzer is one process, so every target still gets SECONDS of a core: on 2 cores the five
# targets took 5 minutes one after another), over a fresh copy of tests/fuzz/corpus/TARGET (new inputs never land
# in the repository), with tests/fuzz/TARGET.dict's tokens when there is one. LEAKS: 1 to detect leaks, 0 where
# LeakSanitizer cannot run. Each one's output goes to build/fuzz/TARGET.log; the results print in the targets'
# order, and a failure prints its log's tail and the input that failed. Exit status 0 when every target passed.
if [ "$1" = --one ]; then # (internal) fuzz.sh --one SECONDS LEAKS TARGET: one target, its status in TARGET.rc
  secs=$2 leaks=$3 t=$4
  rm -rf "build/fuzz/corpus/$t" "build/fuzz/crashes/$t"
  mkdir -p "build/fuzz/corpus/$t" "build/fuzz/crashes/$t"
  cp tests/fuzz/corpus/"$t"/* "build/fuzz/corpus/$t/"
  dict=
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  ASAN_OPTIONS=detect_leaks=$leaks "./build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -detect_leaks="$leaks" -print_final_stats=1 $dict -artifact_prefix="build/fuzz/crashes/$t/" \
    "build/fuzz/corpus/$t" > "build/fuzz/$t.log" 2>&1
  echo $? > "build/fuzz/$t.rc"
  exit 0
fi
secs=$1 leaks=$2
shift 2
n=$(nproc 2>/dev/null || echo 1)
for t in "$@"; do rm -f "build/fuzz/$t.rc"; done
printf '%s\n' "$@" | xargs -P "$n" -n 1 "$0" --one "$secs" "$leaks"
rc=0
for t in "$@"; do
  printf '%s: %s s over %s seeds ... ' "$t" "$secs" "$(ls "tests/fuzz/corpus/$t" | wc -l)"
  if [ "$(cat "build/fuzz/$t.rc" 2>/dev/null)" = 0 ]; then
    echo "ok: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "build/fuzz/$t.log" | grep -o '[0-9]*$') runs," \
      "corpus $(ls "build/fuzz/corpus/$t" | wc -l) files"
  else
    echo "FAILED"
    tail -n 60 "build/fuzz/$t.log"
    echo "fuzz: $t failed; the input: $(ls "build/fuzz/crashes/$t/")" \
      "(replay: ./build/fuzz/$t build/fuzz/crashes/$t/FILE)"
    rc=1
  fi
done
exit $rc
