"""ref.py: the reference figures the C benchmarks print next to their own, measured in the same run.

usage: python3 bench/ref.py CASE   (CASE: elementwise, reduce, matmul, graph, jit)
Prints one number: the median over repeated runs (GB/s, GB/s, GFLOPS, microseconds). numpy uses its BLAS (OpenBLAS
on Debian) for matmul; `graph` measures the real tinygrad building, scheduling and rendering a 100-op chain."""
import sys, time, statistics
import numpy as np

def median_time(fn, reps):
  fn()
  ts = []
  for _ in range(reps):
    t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
  return statistics.median(ts)

case = sys.argv[1]
if case == "elementwise":
  n = 1 << 24
  a, b = np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32)
  t = median_time(lambda: np.maximum(a * 2 + b, 0), 10)
  print(3 * 4 * n / t / 1e9)
elif case == "reduce":
  a = np.random.rand(4096, 4096).astype(np.float32)
  t = median_time(lambda: a.sum(axis=1), 10)
  print(4 * a.size / t / 1e9)
elif case == "matmul":
  n = 1024
  a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
  t = median_time(lambda: a @ b, 10)
  print(2 * n ** 3 / t / 1e9)
elif case == "graph":
  import os
  os.environ.setdefault("DEV", "CPU")
  from tinygrad import Tensor
  x = Tensor.rand(64).realize()
  def build():
    y = x
    for i in range(100): y = (y * 1.01 + 0.5) if i % 2 else y.relu()
    y.schedule_linear()
  print(median_time(build, 5) * 1e6)
elif case == "jit":
  import os
  os.environ.setdefault("DEV", "CPU")
  from tinygrad import Tensor, TinyJit, Device
  @TinyJit
  def step(x):
    y = x
    for i in range(64): y = ((y * 1.01 + 0.5) if i % 2 else y.relu()).contiguous()
    return y.realize()
  x = Tensor.rand(64).realize()
  def call():
    step(x)
    Device[x.device].synchronize()  # the C side returns when its kernels are done
  for _ in range(3): call()
  print(median_time(call, 51) / 64 * 1e6)
else:
  sys.exit(f"unknown case {case}")
