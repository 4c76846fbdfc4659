#!/usr/bin/env bash
# Naive against cached generation, argen beside PyTorch's naive generation of the same
# architectures, measured alternately in one run so that both sides see the same machine
# load. Prints every measurement; the medians are in the last lines of each side.
#
#   PYTHON=/tmp/venv-torch/bin/python ROUNDS=3 bash bench/generation.sh [sequence|image|all]
#
# PYTHON must have torch (python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install
# torch). sequence: a WaveNet with a receptive field of 1,025 steps generating 4,096 steps
# (bench/sequence_generation.rs, bench/sequence_generation_torch.py). image: the
# Fashion-MNIST Gated PixelCNN (32 channels, 7 layers, 256 levels) drawing 28x28 images
# (bench/throughput.rs, bench/gated_pixelcnn_torch.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv-torch/bin/python}
ROUNDS=${ROUNDS:-3}
WHAT=${1:-all}
STEPS=${STEPS:-4096}
IMAGES=${IMAGES:-2}

cargo build --release --benches -q
for round in $(seq "$ROUNDS"); do
    echo "== round $round"
    if [[ $WHAT == sequence || $WHAT == all ]]; then
        cargo bench -q --bench sequence_generation -- --steps "$STEPS" --runs 3 --naive-runs 1
        "$PYTHON" bench/sequence_generation_torch.py --steps "$STEPS" --runs 1
    fi
    if [[ $WHAT == image || $WHAT == all ]]; then
        cargo bench -q --bench throughput -- --data fashion-mnist --runs 1 --train-steps 4 \
            --eval-images 256 --sample-images "$IMAGES"
        "$PYTHON" bench/gated_pixelcnn_torch.py --runs 1 --train-steps 4 --eval-images 256 \
            --sample-images "$IMAGES"
    fi
done
