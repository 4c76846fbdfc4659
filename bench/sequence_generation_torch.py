"""PyTorch peer of bench/sequence_generation.rs: the same WaveNet stack (argen's
src/models/causal_conv.rs, rebuilt here; freshly initialised, no weights exchanged), and
its naive generation: the whole network reruns on the sequence so far for every new step,
which is how the PyTorch reimplementations of WaveNet and TCN sample.

    python bench/sequence_generation_torch.py [--steps 4096] [--n 1] [--hidden 64]
        [--layers 10] [--blocks 1] [--kernel 2] [--levels 256] [--runs 1]

Prints the time of each run and the median. Timing only.
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class WaveNet(nn.Module):
    def __init__(self, levels, hidden, layers, blocks, kernel, first_kernel=2):
        super().__init__()
        self.first_kernel = first_kernel
        # Reads x_{t-k0} .. x_{t-1}: pad k0 on the left, drop the last output.
        self.input = nn.Conv1d(levels, hidden, first_kernel)
        self.dilations = [2**i for _ in range(blocks) for i in range(layers)]
        self.kernel = kernel
        self.dilated = nn.ModuleList(
            nn.Conv1d(hidden, 2 * hidden, kernel, dilation=d) for d in self.dilations
        )
        self.residual = nn.ModuleList(nn.Conv1d(hidden, hidden, 1) for _ in self.dilations)
        self.skip = nn.ModuleList(nn.Conv1d(hidden, hidden, 1) for _ in self.dilations)
        self.head_hidden = nn.Conv1d(hidden, hidden, 1)
        self.head_out = nn.Conv1d(hidden, levels, 1)

    def forward(self, x):
        time_steps = x.shape[2]
        z = self.input(F.pad(x, (self.first_kernel, 0)))[:, :, :time_steps]
        skips = 0
        for d, dilated, residual, skip in zip(self.dilations, self.dilated, self.residual, self.skip):
            a, b = dilated(F.pad(z, ((self.kernel - 1) * d, 0))).chunk(2, dim=1)
            g = torch.tanh(a) * torch.sigmoid(b)
            skips = skips + skip(g)
            z = z + residual(g)
        return self.head_out(F.relu(self.head_hidden(F.relu(skips))))


def generate_naive(model, n, steps, levels):
    x = torch.zeros(n, levels, steps)
    rows = torch.arange(n)
    for t in range(steps):
        logits = model(x[:, :, : t + 1])[:, :, t]
        draws = torch.multinomial(torch.softmax(logits, dim=1), 1).squeeze(1)
        x[rows, draws, t] = 1.0
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=4096)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=10)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--kernel", type=int, default=2)
    p.add_argument("--levels", type=int, default=256)
    p.add_argument("--runs", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(0)
    model = WaveNet(a.levels, a.hidden, a.layers, a.blocks, a.kernel).eval()
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    times = []
    with torch.no_grad():
        for run in range(a.runs):
            start = time.perf_counter()
            generate_naive(model, a.n, a.steps, a.levels)
            seconds = time.perf_counter() - start
            print(f"torch naive run {run}: {seconds:.3f} s")
            times.append(seconds)
    print(f"torch naive: median {statistics.median(times):.3f} s, "
          f"{a.steps / statistics.median(times):.1f} steps/s per sequence")


if __name__ == "__main__":
    main()
