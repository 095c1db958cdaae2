#!/usr/bin/env python3
"""mnist_tinygrad.py: the real tinygrad training examples/beautiful_mnist.py's model on the same Fashion-MNIST files
as examples/mnist.c, measured the same way: batch 512 sampled at random, Adam, the training step under TinyJit.

usage: python3 bench/mnist_tinygrad.py [STEPS] [--eval]   (default 20; pip install tinygrad numpy)
Prints the time of the first two steps (compiling and capturing) and the median seconds per step after them; with
--eval, also the test accuracy after the last step (as beautiful_mnist computes it)."""
import gzip, os, statistics, sys, time
import numpy as np

os.environ.setdefault("DEV", "CPU")
from tinygrad import Tensor, TinyJit, nn  # noqa: E402
from tinygrad.helpers import Context  # noqa: E402

DIR = os.environ.get("MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name, offset):
  with gzip.open(os.path.join(DIR, name)) as f:
    return np.frombuffer(f.read(), dtype=np.uint8)[offset:]


class Model:
  def __init__(self):
    self.layers = [nn.Conv2d(1, 32, 5), Tensor.relu, nn.Conv2d(32, 32, 5), Tensor.relu, nn.BatchNorm(32),
                   Tensor.max_pool2d, nn.Conv2d(32, 64, 3), Tensor.relu, nn.Conv2d(64, 64, 3), Tensor.relu,
                   nn.BatchNorm(64), Tensor.max_pool2d, lambda x: x.flatten(1), nn.Linear(576, 10)]

  def __call__(self, x): return x.sequential(self.layers)


def main():
  args = [a for a in sys.argv[1:] if a != "--eval"]
  steps = int(args[0]) if args else 20
  X_train = Tensor(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28))
  Y_train = Tensor(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int32))
  model = Model()
  opt = nn.optim.Adam(nn.state.get_parameters(model))

  @TinyJit
  def train_step():
    with Context(TRAINING=1):
      opt.zero_grad()
      samples = Tensor.randint(512, high=X_train.shape[0])
      loss = model(X_train[samples]).sparse_categorical_crossentropy(Y_train[samples]).backward()
      return loss.realize(*opt.schedule_step())

  times = []
  for i in range(steps):
    t0 = time.perf_counter()
    loss = train_step().item()
    times.append(time.perf_counter() - t0)
    print(f"step {i + 1:3d}: {times[-1]:7.3f} s  loss {loss:.3f}", file=sys.stderr)
  if "--eval" in sys.argv:
    X_test = Tensor(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28))
    Y_test = Tensor(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int32))
    acc = (model(X_test).argmax(axis=1) == Y_test).mean().item() * 100
    print(f"tinygrad: test accuracy {acc:.2f}% after {steps} steps")
  print(f"tinygrad: first two steps {times[0]:.1f} s + {times[1]:.1f} s, then {statistics.median(times[2:]):.3f} s "
        f"per step (median of {len(times) - 2})")


if __name__ == "__main__":
  main()
