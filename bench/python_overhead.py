#!/usr/bin/env python3
"""The overhead of the Python layer: the same training and the same sampling through the
command line and through the Python package, alternating, in one run.

    pip install ./python
    python bench/python_overhead.py [--rounds 3] [--epochs 20] [--samples 2000]

Training: the default digits run (Gated PixelCNN, 32 channels, 5 layers, dropout 0.2, 20
epochs, seed 0) into a run folder, then its test NLL; `argen train --samples 0` against
`argen.train_images(..., out=...)` on the same 1,000 training and 350 validation digits,
each in its own process (wall time, start-up included). Sampling: 2,000 images (`argen sample RUN --n 2000` against
`argen.open_run(RUN).sample(2000)`), each in its own process (the CLI also writes its PNG
grid; 64 images take 0.15 s, which the interpreter's start-up and numpy's import would
dominate). Prints medians and the ratio.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINARY = REPO / "target" / "release" / "argen"

PY_TRAIN = """
import argen, numpy as np, sys
digits = argen.load_images("digits")
train, valid, test = digits["train"][0], digits["valid"][0], digits["test"][0]
images = np.concatenate([train, valid])
model = argen.train_images(images, levels=17, epochs={epochs}, dropout=0.2,
                           valid_fraction=len(valid) / len(images), out=sys.argv[1], progress=False)
print(model.bits_per_dim(test))
"""

PY_SAMPLE = """
import argen, sys
argen.open_run(sys.argv[1]).sample(int(sys.argv[2]), seed=1)
"""


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    print(open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "))
    work = Path(tempfile.mkdtemp())
    times = {"cli train": [], "python train": [], "cli sample": [], "python sample": []}
    bits = {}
    for r in range(args.rounds):
        run = work / f"cli-{r}"
        t, out = timed([str(BINARY), "train", "--epochs", str(args.epochs), "--samples", "0",
                        "--out", str(run), "--quiet"])
        times["cli train"].append(t)
        bits["cli"] = json.loads(subprocess.run([str(BINARY), "eval", str(run), "--json"],
                                                check=True, capture_output=True).stdout)["bits_per_dim"]
        t, out = timed([sys.executable, "-c", PY_TRAIN.format(epochs=args.epochs), str(work / f"py-{r}")])
        times["python train"].append(t)
        bits["python"] = float(out.strip())
        for _ in range(3):
            t, _ = timed([str(BINARY), "sample", str(run), "--n", str(args.samples), "--seed", "1",
                          "--out", str(work / "s.png")])
            times["cli sample"].append(t)
            t, _ = timed([sys.executable, "-c", PY_SAMPLE, str(run), str(args.samples)])
            times["python sample"].append(t)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    for what in ["train", "sample"]:
        cli, py = median[f"cli {what}"], median[f"python {what}"]
        print(f"{what}: CLI {cli:.2f} s, Python {py:.2f} s (medians of {len(times['cli ' + what])}); "
              f"Python / CLI = {py / cli:.3f}")
    print(f"test bits/dim: CLI {bits['cli']:.6f}, Python {bits['python']:.6f}")


if __name__ == "__main__":
    main()
