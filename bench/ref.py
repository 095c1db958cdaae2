"""ref.py: the reference figures the C benchmarks print next to their own, measured in the same run.

usage: python3 bench/ref.py CASE   (CASE: elementwise, reduce, reduce_all, matmul [N], graph, jit, conv L, gpu G)
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
if case == "gpu":  # PyTorch on the GPU (bench/gpu.c): sum, rowsum, colsum, elementwise, matmul*, replay, mnist
  import torch
  torch.backends.cuda.matmul.allow_tf32 = False  # cuBLAS's float32 path, as our float32 kernels
  g, dev = sys.argv[2], "cuda"
  def gpu_time(fn, reps=21):
    for _ in range(3): fn()
    ts = []
    for _ in range(reps):
      torch.cuda.synchronize(); t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
  if g == "elementwise":
    n = 1 << 26; a, b = torch.rand(n, device=dev), torch.rand(n, device=dev)
    print(12 * n / gpu_time(lambda: torch.relu(a * 2 + b)) / 1e9)
  elif g in ("rowsum", "colsum"):
    a = torch.rand(8192, 8192, device=dev)
    print(4 * a.numel() / gpu_time(lambda: a.sum(dim=1 if g == "rowsum" else 0)) / 1e9)
  elif g == "sum":
    a = torch.rand(1 << 26, device=dev)
    print(4 * a.numel() / gpu_time(lambda: a.sum()) / 1e9)
  elif g == "replay":  # 32 dependent small kernels launched eagerly: microseconds per kernel
    x = torch.rand(1024, device=dev)
    def chain():
      y = x
      for _ in range(32): y = y + 1
      return y
    print(gpu_time(chain) / 32 * 1e6)
  elif g == "mnist":  # beautiful_mnist's training step, batch 512, Adam, eager: milliseconds
    import torch.nn as nn
    model = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.Conv2d(32, 32, 5), nn.ReLU(), nn.BatchNorm2d(32),
                          nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(),
                          nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(576, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(8192, 1, 28, 28, device=dev) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (8192,), device=dev)
    def step():
      s = torch.randint(0, 8192, (512,), device=dev)
      opt.zero_grad()
      loss = nn.functional.cross_entropy(model(x[s].float()), y[s])
      loss.backward()
      opt.step()
    print(gpu_time(step) * 1e3)
  else:  # matmul, matmul_half, matmul_bf16: 4096, TFLOPS
    dt = {"matmul": torch.float32, "matmul_half": torch.float16, "matmul_bf16": torch.bfloat16}[g]
    n = 4096; a, b = torch.rand(n, n, device=dev, dtype=dt), torch.rand(n, n, device=dev, dtype=dt)
    print(2 * n ** 3 / gpu_time(lambda: a @ b) / 1e12)
  sys.exit(0)
if case == "elementwise":
  n = 1 << 24
  a, b = np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32)
  t = median_time(lambda: np.maximum(a * 2 + b, 0), 10)
  print(3 * 4 * n / t / 1e9)
elif case == "reduce":
  a = np.random.rand(4096, 4096).astype(np.float32)
  t = median_time(lambda: a.sum(axis=1), 10)
  print(4 * a.size / t / 1e9)
elif case == "reduce_all":
  a = np.random.rand(1 << 24).astype(np.float32)
  t = median_time(lambda: a.sum(), 10)
  print(4 * a.size / t / 1e9)
elif case == "matmul":  # matmul [N]: N x N float32, default 1024
  n = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
  a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
  t = median_time(lambda: a @ b, 10 if n <= 2048 else 3)
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
elif case == "conv":
  # beautiful_mnist's convolutions, batch 512: forward and backward (dx, dw) under TinyJit, in ms
  import os
  os.environ.setdefault("DEV", "CPU")
  from tinygrad import Tensor, TinyJit, Device
  cin, cout, hw, k = [(1, 32, 28, 5), (32, 32, 24, 5), (32, 64, 10, 3), (64, 64, 8, 3)][int(sys.argv[2])]
  oh = hw - k + 1
  w = Tensor.randn(cout, cin, k, k).realize()
  g = Tensor.randn(512, cout, oh, oh).realize()
  x0 = Tensor.randn(512, cin, hw, hw).realize()
  @TinyJit
  def step(x):
    y = x.conv2d(w)
    dx, dw = (y * g).sum().gradient(x, w)
    return Tensor.realize(y, dx, dw)
  def call():
    step(x0)
    Device[x0.device].synchronize()
  for _ in range(3): call()
  print(median_time(call, 7) * 1e3)
else:
  sys.exit(f"unknown case {case}")
