"""PyTorch peer of argen's Gated PixelCNN (src/models/gated_pixelcnn.rs, rebuilt here;
freshly initialised, no weights exchanged): time a training step (forward, backward, Adam),
the evaluation of a batch, and naive sampling (the whole network reruns for every pixel,
as the PyTorch reimplementations sample).

    python bench/gated_pixelcnn_torch.py [--channels 32] [--layers 7] [--first-kernel 7]
        [--kernel 3] [--head 256] [--levels 256] [--size 28] [--batch 32]
        [--train-steps 10] [--eval-images 512] [--sample-images 2] [--runs 3] [--warmup 1]
        [--compile] [--device cpu|cuda]

--compile wraps the training objective (forward pass and loss) and the evaluation pass in
torch.compile (dynamic=False); their first calls compile, and that time is printed apart
("compile"), never inside a measurement. --warmup steps of each kind (1) run before the
first run's measurements, after the compilation. Naive sampling stays eager (a compiled
sampler would recompile or pad for each of the 784 prefixes; users sample eagerly).

Random images of the right shape stand in for Fashion-MNIST: the time of a step does not
depend on the pixel values. Prints one line per measurement and the medians.
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class GatedLayer(nn.Module):
    def __init__(self, p, k, first):
        super().__init__()
        half = k // 2
        self.half, self.first = half, first
        # Vertical: a (half+1) x k kernel over the rows above (strictly above when first).
        self.vertical = nn.Conv2d(p, 2 * p, (half + 1, k))
        # Horizontal: a 1 x (half+1) kernel over the row, to the left (strictly when first).
        self.horizontal = nn.Conv2d(p, 2 * p, (1, half + 1))
        self.link = nn.Conv2d(2 * p, 2 * p, 1)
        self.out = nn.Conv2d(p, p, 1)

    def forward(self, v, h):
        height, width = v.shape[2], v.shape[3]
        top = self.half + 1 if self.first else self.half
        v_pre = self.vertical(F.pad(v, (self.half, self.half, top, 0)))[:, :, :height]
        left = self.half + 1 if self.first else self.half
        h_pre = self.horizontal(F.pad(h, (left, 0, 0, 0)))[:, :, :, :width] + self.link(v_pre)
        a, b = v_pre.chunk(2, 1)
        v_out = torch.tanh(a) * torch.sigmoid(b)
        a, b = h_pre.chunk(2, 1)
        gated = self.out(torch.tanh(a) * torch.sigmoid(b))
        return v_out, gated if self.first else h + gated


class GatedPixelCNN(nn.Module):
    def __init__(self, levels, channels, layers, first_kernel, kernel, head):
        super().__init__()
        self.embedding = nn.Embedding(levels, channels)
        self.layers = nn.ModuleList(
            GatedLayer(channels, first_kernel if i == 0 else kernel, i == 0) for i in range(layers)
        )
        self.head_hidden = nn.Conv2d(channels, head, 1)
        self.head_out = nn.Conv2d(head, levels, 1)

    def forward(self, x):  # x: [batch, height, width] levels -> [batch, levels, height, width]
        v = h = self.embedding(x).permute(0, 3, 1, 2)
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head_out(F.relu(self.head_hidden(F.relu(h))))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("channels", 32), ("layers", 7), ("first-kernel", 7), ("kernel", 3),
                          ("head", 256), ("levels", 256), ("size", 28), ("batch", 32),
                          ("train-steps", 10), ("eval-images", 512), ("sample-images", 2),
                          ("runs", 3), ("warmup", 1), ("eval-batch", 256)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU row")
    p.add_argument("--compile", action="store_true", help="torch.compile training and evaluation")
    a = p.parse_args()
    torch.manual_seed(0)
    dev = torch.device(a.device)
    model = GatedPixelCNN(a.levels, a.channels, a.layers, a.first_kernel, a.kernel, a.head).to(dev)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    s = a.size
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    label = "torch-compile" if a.compile else "torch"
    print(f"PyTorch {torch.__version__} on {dev}, {torch.get_num_threads()} threads, "
          f"{sum(q.numel() for q in model.parameters())} parameters, {label}")

    def objective(x):
        return F.cross_entropy(model(x), x)

    def evaluation(x):
        return F.cross_entropy(model(x), x, reduction="sum")

    if a.compile:
        objective = torch.compile(objective, dynamic=False)
        evaluation = torch.compile(evaluation, dynamic=False)

    def train_step(x):
        loss = objective(x)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def evaluate_images(x):
        for chunk in x.split(a.eval_batch):  # as argen's --eval-batch
            evaluation(chunk).item()

    # The first calls compile (under --compile); then the warm-up steps. None is measured.
    model.train()
    x = torch.randint(0, a.levels, (a.batch, s, s), device=dev)
    start = time.perf_counter()
    train_step(x)
    sync()
    first_train = time.perf_counter() - start
    if a.eval_images > 0:
        model.eval()
        with torch.no_grad():
            start = time.perf_counter()
            evaluate_images(torch.randint(0, a.levels, (a.eval_images, s, s), device=dev))
            sync()
        first_eval = time.perf_counter() - start
    if a.compile:
        print(f"{label} compile (first step): train {first_train:.2f} s"
              + (f", eval {first_eval:.2f} s" if a.eval_images > 0 else ""))
    for _ in range(a.warmup):
        model.train()
        train_step(x)
    train, evaluate, sample = [], [], []
    for run in range(a.runs):
        model.train()
        x = torch.randint(0, a.levels, (a.batch, s, s), device=dev)
        sync()
        start = time.perf_counter()
        for _ in range(a.train_steps):
            train_step(x)
        sync()
        train.append(a.batch * a.train_steps / (time.perf_counter() - start))
        model.eval()
        with torch.no_grad():
            x = torch.randint(0, a.levels, (a.eval_images, s, s), device=dev)
            sync()
            start = time.perf_counter()
            evaluate_images(x)
            sync()
            evaluate.append(a.eval_images / max(time.perf_counter() - start, 1e-9))
            if a.sample_images > 0:
                img = torch.zeros(a.sample_images, s, s, dtype=torch.long, device=dev)
                start = time.perf_counter()
                for r in range(s):
                    for c in range(s):
                        probs = torch.softmax(model(img)[:, :, r, c], dim=1)
                        img[:, r, c] = torch.multinomial(probs, 1).squeeze(1)
                sample.append(a.sample_images / (time.perf_counter() - start))
        print(f"{label} run {run}: train {train[-1]:.2f} img/s, eval {evaluate[-1]:.2f} img/s"
              + (f", naive sampling {sample[-1]:.4f} img/s" if sample else ""))
    print(f"{label} median: train {statistics.median(train):.2f} img/s, "
          f"eval {statistics.median(evaluate):.2f} img/s"
          + (f", naive sampling {statistics.median(sample):.4f} img/s" if sample else ""))


if __name__ == "__main__":
    main()
