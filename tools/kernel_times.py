#!/usr/bin/env python3
"""kernel_times.py: where a JIT'd step's time goes, from a DEBUG=2 log.

usage: DEBUG=2 build/mnist --steps 4 > log.txt; python3 tools/kernel_times.py log.txt [--top N]

DEBUG=2 prints one line per kernel launch, and one per replayed kernel marked "(jit)", each timed alone (launch to
synchronise). This takes the last whole replay in the log (from the last launch numbered 0), and prints its kernels
slowest first, with their share of the step and the total. A kernel's own time is a little less than its line says:
each line includes one launch and one synchronise. Without "(jit)" lines it reads the last schedule instead."""
import re, sys

LINE = re.compile(r"^\*\*\* (\S+)\s+(\d+) (\S+)\s+([\d.]+) us(.*)$")


def last_step(lines):
  """the kernel lines of the last replay (or schedule): from the last launch numbered 0 to the end"""
  jit = [l for l in lines if l.startswith("***") and "(jit)" in l]
  rows = [m for m in (LINE.match(l) for l in (jit or [l for l in lines if l.startswith("***")])) if m]
  start = max((i for i, m in enumerate(rows) if m.group(2) == "0"), default=0)
  return rows[start:]


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
  total = sum(float(m.group(4)) for m in step)
  print("%d kernels, %.0f us in all (each timed alone)" % (len(step), total))
  for m in sorted(step, key=lambda m: -float(m.group(4)))[:top]:
    us = float(m.group(4))
    print("%10.1f us %5.1f%%  %-36s %s" % (us, 100 * us / total, m.group(3), m.group(5).strip()))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
