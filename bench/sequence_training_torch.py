"""PyTorch peer of bench/sequence_training.rs: argen's sequence models (window MLP, GRU,
LSTM, WaveNet, TCN) rebuilt here from argen's source (src/models/window_mlp.rs, rnn.rs,
causal_conv.rs, sequence.rs; the losses of src/distributions/), freshly initialised, and
their training and evaluation speed at the configurations of BENCHMARKS.md's sequence tasks.
Timing only: no weights are exchanged.

    python bench/sequence_training_torch.py --model lstm|gru|mlp|wavenet|tcn
        --task jsb|digits|adding|sine [--steps 20] [--eval-steps 5] [--runs 3] [--batch B]
        [--eval-batch 256] [--warmup 1] [--length T] [--hidden H] [--depth L] [--kernel k]
        [--first-kernel k0] [--blocks n] [--window tau] [--dropout p] [--clip c] [--lr 1e-3]
        [--compile] [--compile-optimizer] [--threads N]

The flags and the per-task defaults are those of the Rust bench (see its header). The
recurrent networks are PyTorch's own nn.LSTM / nn.GRU (batch_first), the convolutions
nn.Conv1d with causal (left) padding by F.pad. A training step: the batch's tensors picked
from the task's data, the forward pass, -log p summed over the scored steps and divided by
their number, the backward pass, clip_grad_norm_ when the configuration clips, and Adam
(eps 1e-8, PyTorch's default implementation). An evaluation step: under torch.no_grad() with
the model in eval mode, one batch of --eval-batch sequences, the forward pass and the summed
-log p and number of scored steps read back (.item()). --warmup steps (1) precede each
measurement.

--compile wraps the model and its loss in torch.compile (dynamic=False): the first training
step and the first evaluation step compile (training and evaluation are separate graphs), and
their time is printed as the compile time, apart from the measured steps, which follow the
warm-up. Inductor caches what it compiled (under /tmp/torchinductor_$USER): a later run of the
same model compiles in seconds; TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 gives the cold compile
time. --compile-optimizer also compiles Adam's step (printed as "torch-compile-opt"). nn.LSTM / nn.GRU are a graph break
under torch.compile (torch._dynamo.config.allow_rnn is off by default): with --compile the
recurrent layers run eagerly and the layers around them are compiled, which is what a user
who compiles such a model gets.

Prints the same lines as the Rust bench with "torch" or "torch-compile" in place of "argen":

    torch lstm jsb parameters: 357088
    torch lstm jsb train: median 12.30 steps/s, 24.6 sequences/s, 1476 time steps/s (runs: ...)
"""

import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

KEYS = 88
DIGIT_LEVELS = 17
LN_2PI = math.log(2 * math.pi)
SINE_LENGTH, SINE_SPLIT, SINE_NOISE, SERIES_WINDOW, SERIES_WARMUP = 1000, 600, 0.2, 64, 16


# ---------------------------------------------------------------------------------------------
# The settings: BENCHMARKS.md's configuration of each model/task pair, as in the Rust bench.


def settings(a):
    o = dict(hidden=64, depth=2, blocks=1, window=4, kernel=2, first_kernel=2, dropout=0.0)
    batch, length, clip = 32, 64, None
    m, t = a.model, a.task
    if m in ("lstm", "gru") and t == "jsb":
        o.update(hidden=200, depth=1, dropout=0.3)
        batch = 2
    elif m == "tcn" and t == "jsb":
        o.update(hidden=150, depth=4, kernel=5, first_kernel=5, dropout=0.25)
        batch, clip = 1, 0.2
    elif m == "tcn" and t == "adding":
        o.update(hidden=32, depth=5, kernel=8, first_kernel=8)
        length, clip = 200, 1.0
    elif m == "wavenet" and t == "adding":
        o.update(hidden=32, depth=6)
        length = 50
    elif m == "wavenet" and t == "digits":
        o.update(hidden=64, depth=4, kernel=7, first_kernel=7)
    elif m == "mlp" and t == "sine":
        batch = 17
    elif t == "adding":
        length = 200
    if t == "jsb":
        length = 60
    if clip is None and m in ("lstm", "gru"):
        clip = 1.0  # argen train's default clipping of the recurrent networks
    for key in o:
        given = getattr(a, key)
        if given is not None:
            o[key] = given
    batch = a.batch if a.batch is not None else batch
    length = a.length if a.length is not None else length
    clip = a.clip if a.clip is not None else clip
    return o, batch, length, (clip if clip and clip > 0 else None)


# ---------------------------------------------------------------------------------------------
# The data: synthetic sequences of each task's shapes, as the Rust bench makes them.


def task_data(task, length, gen):
    """(inputs [N, C, T] float, targets, mask [N, T], output kind, input channels, params)."""
    if task == "jsb":
        n = 229
        # 4 distinct keys pressed at every step.
        keys = torch.rand(n, length, KEYS, generator=gen).argsort(dim=2)[:, :, :4]
        roll = torch.zeros(n, length, KEYS).scatter_(2, keys, 1.0).transpose(1, 2).contiguous()
        return roll, roll, torch.ones(n, length), "bernoulli", KEYS, KEYS
    if task == "digits":
        n = 1000
        levels = torch.randint(0, DIGIT_LEVELS, (n, length), generator=gen)
        one_hot = F.one_hot(levels, DIGIT_LEVELS).float().transpose(1, 2).contiguous()
        return one_hot, levels, torch.ones(n, length), "categorical", DIGIT_LEVELS, DIGIT_LEVELS
    if task == "adding":
        # T + 1 steps of (value, marker), the last all zero; the sum scored at the last step.
        n, t = 10_000, length
        inputs = torch.zeros(n, 2, t + 1)
        inputs[:, 0, :t] = torch.rand(n, t, generator=gen)
        rows = torch.arange(n)
        first = torch.randint(0, t // 2, (n,), generator=gen)
        second = torch.randint(t // 2, t, (n,), generator=gen)
        inputs[rows, 1, first] = 1.0
        inputs[rows, 1, second] = 1.0
        targets = torch.zeros(n, 1, t + 1)
        targets[:, 0, t] = inputs[rows, 0, first] + inputs[rows, 0, second]
        mask = torch.zeros(n, t + 1)
        mask[:, t] = 1.0
        return inputs, targets, mask, "gaussian", 2, 2
    if task == "sine":
        # argen's `sine`: sin(0.01 t) + 0.2 noise, standardised by the first 600 values, its
        # training windows of 64 steps with stride 32, the first 16 steps of all but the first
        # window unscored.
        steps = torch.arange(SINE_LENGTH, dtype=torch.float64)
        values = torch.sin(0.01 * steps) + SINE_NOISE * torch.randn(SINE_LENGTH, generator=gen, dtype=torch.float64)
        train = values[:SINE_SPLIT]
        values = ((values - train.mean()) / train.std(unbiased=False)).float()
        starts = range(0, SINE_SPLIT - SERIES_WINDOW + 1, SERIES_WINDOW // 2)
        windows = torch.stack([values[s : s + SERIES_WINDOW] for s in starts]).unsqueeze(1)
        mask = torch.ones(len(starts), SERIES_WINDOW)
        mask[1:, :SERIES_WARMUP] = 0.0
        return windows, windows, mask, "gaussian", 1, 2
    raise SystemExit(f"unknown --task {task}: jsb, digits, adding or sine")


def nll_per_step(kind, features, target):
    """-log p(x_t | features_t) summed over a step's dimensions: [B, T]."""
    if kind == "bernoulli":
        return F.binary_cross_entropy_with_logits(features, target, reduction="none").sum(1)
    if kind == "categorical":
        return F.cross_entropy(features, target, reduction="none")
    # A unit-variance Gaussian on the first half of the features (argen's fixed variance: the
    # log-variance features exist but are not read).
    dims = target.shape[1]
    mean = features[:, :dims]
    return (0.5 * (target - mean).square() + 0.5 * LN_2PI).sum(1)


# ---------------------------------------------------------------------------------------------
# The networks: inputs [B, C, T] to features [B, P, T], the features at t reading x_<t only.


class WindowMlp(nn.Module):
    """src/models/window_mlp.rs: a dense layer over the last tau steps (a convolution of
    kernel tau over the inputs padded with tau zeros, the extra last output dropped), then
    1x1 layers, ReLU and dropout after each hidden layer."""

    def __init__(self, c, p, hidden, depth, window, dropout):
        super().__init__()
        self.window = window
        self.first = nn.Conv1d(c, hidden, window)
        self.hidden = nn.ModuleList(nn.Conv1d(hidden, hidden, 1) for _ in range(depth - 1))
        self.out = nn.Conv1d(hidden, p, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        t = x.shape[2]
        z = self.dropout(F.relu(self.first(F.pad(x, (self.window, 0)))[:, :, :t]))
        for layer in self.hidden:
            z = self.dropout(F.relu(layer(z)))
        return self.out(z)


class Rnn(nn.Module):
    """src/models/rnn.rs: the inputs shifted one step later (step t reads x_{t-1}), a linear
    map to the hidden size, stacked LSTM or GRU layers with dropout on each layer's output
    (between the layers and before the output layer), a linear map to the features."""

    def __init__(self, cell, c, p, hidden, depth, dropout):
        super().__init__()
        self.input = nn.Linear(c, hidden)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        # nn.LSTM's dropout acts between its layers; the one after the last is self.dropout.
        self.rnn = rnn(hidden, hidden, depth, batch_first=True, dropout=dropout if depth > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, p)

    def forward(self, x):
        shifted = F.pad(x[:, :, :-1], (1, 0)).transpose(1, 2)  # [B, T, C]
        z, _ = self.rnn(self.input(shifted))
        return self.out(self.dropout(z)).transpose(1, 2)


class CausalConv(nn.Module):
    """src/models/causal_conv.rs: a first convolution of kernel k0 that excludes the current
    step, then WaveNet blocks (gated tanh * sigmoid, residual and skip 1x1 convolutions) or
    TCN blocks (two dilated convolutions with ReLU and dropout, ReLU of the residual sum),
    dilations 1, 2, ..., 2^(depth-1) per block, and the head 1x1 ReLU 1x1 on ReLU of the skip
    sum (WaveNet) or of the last block's output (TCN)."""

    def __init__(self, block, c, p, hidden, depth, blocks, kernel, first_kernel, dropout):
        super().__init__()
        r = hidden
        self.block, self.kernel, self.first_kernel = block, kernel, first_kernel
        self.dilations = [2**i for _ in range(blocks) for i in range(depth)]
        self.input = nn.Conv1d(c, r, first_kernel)
        if block == "wavenet":
            self.dilated = nn.ModuleList(nn.Conv1d(r, 2 * r, kernel, dilation=d) for d in self.dilations)
            self.residual = nn.ModuleList(nn.Conv1d(r, r, 1) for _ in self.dilations)
            self.skip = nn.ModuleList(nn.Conv1d(r, r, 1) for _ in self.dilations)
        else:
            self.first = nn.ModuleList(nn.Conv1d(r, r, kernel, dilation=d) for d in self.dilations)
            self.second = nn.ModuleList(nn.Conv1d(r, r, kernel, dilation=d) for d in self.dilations)
        self.head_hidden = nn.Conv1d(r, r, 1)
        self.head_out = nn.Conv1d(r, p, 1)
        self.dropout = nn.Dropout(dropout)

    def causal(self, conv, z, d):
        return conv(F.pad(z, ((self.kernel - 1) * d, 0)))

    def forward(self, x):
        t = x.shape[2]
        z = self.input(F.pad(x, (self.first_kernel, 0)))[:, :, :t]
        if self.block == "wavenet":
            skips = None
            for i, d in enumerate(self.dilations):
                a, b = self.causal(self.dilated[i], z, d).chunk(2, dim=1)
                g = self.dropout(torch.tanh(a) * torch.sigmoid(b))
                s = self.skip[i](g)
                skips = s if skips is None else skips + s
                z = z + self.residual[i](g)
            features = skips
        else:
            for i, d in enumerate(self.dilations):
                y = self.dropout(F.relu(self.causal(self.first[i], z, d)))
                y = self.dropout(F.relu(self.causal(self.second[i], y, d)))
                z = F.relu(z + y)
            features = z
        return self.head_out(F.relu(self.head_hidden(F.relu(features))))


def build(model, c, p, o):
    if model == "mlp":
        return WindowMlp(c, p, o["hidden"], o["depth"], o["window"], o["dropout"])
    if model in ("lstm", "gru"):
        return Rnn(model, c, p, o["hidden"], o["depth"], o["dropout"])
    if model in ("wavenet", "tcn"):
        return CausalConv(model, c, p, o["hidden"], o["depth"], o["blocks"], o["kernel"], o["first_kernel"], o["dropout"])
    raise SystemExit(f"unknown --model {model}: mlp, gru, lstm, wavenet or tcn")


class Objective(nn.Module):
    """The model and its loss: sum of -log p over the scored steps and their number."""

    def __init__(self, net, kind):
        super().__init__()
        self.net, self.kind = net, kind

    def forward(self, x, target, mask):
        nll = nll_per_step(self.kind, self.net(x), target)
        return (nll * mask).sum(), mask.sum()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="lstm")
    p.add_argument("--task", default="jsb")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--eval-steps", type=int, default=None)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="unmeasured steps before each measurement")
    p.add_argument("--eval-batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    for name in ("batch", "length", "hidden", "depth", "blocks", "window", "kernel", "first-kernel"):
        p.add_argument("--" + name, type=int, default=None)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--clip", type=float, default=None)
    p.add_argument("--compile", action="store_true", help="torch.compile the model and its loss")
    p.add_argument("--compile-optimizer", action="store_true", help="with --compile: also compile Adam's step")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    eval_steps = a.eval_steps if a.eval_steps is not None else max(1, -(-a.steps // 4))
    o, batch, length, clip = settings(a)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    inputs, targets, mask, kind, channels, params = task_data(a.task, length, gen)
    n, steps_per_sequence = inputs.shape[0], inputs.shape[2]
    net = build(a.model, channels, params, o)
    objective = Objective(net, kind)
    name = ("torch-compile-opt" if a.compile_optimizer else "torch-compile") if a.compile else "torch"
    label = f"{name} {a.model} {a.task}"
    described = ", ".join(f"{k} {v}" for k, v in o.items())
    print(f"{label}: PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {described}; "
          f"batch {batch}, {steps_per_sequence} steps, clip {clip}, eval batch {a.eval_batch}")
    print(f"{label} parameters: {sum(q.numel() for q in net.parameters())}")

    run = torch.compile(objective, dynamic=False) if a.compile else objective
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, eps=1e-8)
    opt_step = torch.compile(opt.step) if (a.compile and a.compile_optimizer) else opt.step

    def pick(start, size):
        idx = (torch.arange(size) + start) % n
        return inputs[idx], targets[idx], mask[idx]

    cursor = [0]

    def train_step():
        x, y, m = pick(cursor[0], batch)
        cursor[0] += batch
        total, scored = run(x, y, m)
        loss = total / scored
        opt.zero_grad(set_to_none=True)
        loss.backward()
        value = loss.item()
        if not math.isfinite(value):
            raise SystemExit(f"the training loss became {value}")
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt_step()

    def measure(what, step, steps):
        """Times `step`: its first call apart (the compilation, under --compile), then
        --warmup − 1 more calls, then --runs runs of `steps` calls. Returns the first call's
        result and the steps/s of each run."""
        start = time.perf_counter()
        first = step()
        warm = time.perf_counter() - start
        if a.compile:
            print(f"{label} {what} compile (first step): {warm:.2f} s")
        for _ in range(a.warmup - 1):
            step()
        rates = []
        for _ in range(a.runs):
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rates.append(steps / (time.perf_counter() - start))
        return first, rates

    objective.train()
    _, train_rates = measure("train", train_step, a.steps)

    objective.eval()
    ex, ey, em = pick(0, a.eval_batch)

    def eval_step():
        with torch.no_grad():
            total, scored = run(ex, ey, em)
            return total.item() / scored.item()

    value, eval_rates = measure("eval", eval_step, eval_steps)
    if not math.isfinite(value):
        raise SystemExit(f"the evaluation loss is {value}")

    def show(what, rates, size):
        m = statistics.median(rates)
        runs = ", ".join(f"{r:.2f}" for r in rates)
        print(f"{label} {what}: median {m:.2f} steps/s, {m * size:.1f} sequences/s, "
              f"{m * size * steps_per_sequence:.0f} time steps/s (runs: {runs})")

    show("train", train_rates, batch)
    show("eval", eval_rates, a.eval_batch)


if __name__ == "__main__":
    main()
