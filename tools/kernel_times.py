#!/usr/bin/env python3
"""kernel_times.py: where a JIT'd step's time goes, from a DEBUG=2 log.

usage: DEBUG=2 build/mnist --steps 4 > log.txt; python3 tools/kernel_times.py log.txt [--top N]

DEBUG=2 prints one line per kernel launch, and one per replayed kernel marked "(jit)", each timed alone (launch to
synchronise), in tinygrad's format: "*** CPU  12 r_8_2_64 arg 3 mem 0.01 GB tm 5.08us/0.12ms (...) [opts]". A replay
starts with a line "jit: replaying N kernels", a schedule's kernels end with DEBUG=1's "realised N kernels". This takes
the last whole replay in the log (else the last schedule), and prints its kernels slowest first, with their share of
the step and the total. A kernel's own time is a little less than its line says: each line includes one launch and
one synchronise."""
import re, sys

LINE = re.compile(r"^\*\*\* (\S+)\s+(\d+) (\S+)\s+arg\s+\d+ mem\s+[\d.]+ GB tm\s+([\d.]+)(us|ms)/\s*[\d.]+ms (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def last_step(lines):
  """the kernel lines of the last replay (from its "jit: replaying" line), else of the last schedule"""
  lines = [ANSI.sub("", l) for l in lines]
  starts = [i for i, l in enumerate(lines) if l.startswith("jit: replaying")]
  if starts:
    body = lines[starts[-1] + 1:]
    body = body[:next((i for i, l in enumerate(body) if not (l.startswith("***") and "(jit)" in l)), len(body))]
  else:
    ends = [i for i, l in enumerate(lines) if l.startswith("realised ")]
    end = ends[-1] if ends else len(lines)
    begin = ends[-2] + 1 if len(ends) > 1 else 0
    body = lines[begin:end]
  return [m for m in (LINE.match(l) for l in body) if m]


def us(m):
  return float(m.group(4)) * (1000.0 if m.group(5) == "ms" else 1.0)


def main(argv):
  if len(argv) < 2:
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    return 2
  top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 20
  with open(argv[1], errors="replace") as f:
    step = last_step(f.read().splitlines())
  if not step:
    print("no DEBUG=2 kernel lines in %s" % argv[1], file=sys.stderr)
    return 1
  total = sum(us(m) for m in step)
  print("%d kernels, %.0f us in all (each timed alone)" % (len(step), total))
  for m in sorted(step, key=lambda m: -us(m))[:top]:
    print("%10.1f us %5.1f%%  %-36s %s" % (us(m), 100 * us(m) / total, m.group(3), m.group(6).strip()))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
