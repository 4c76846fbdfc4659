#!/usr/bin/env bash
# argen beside PyTorch (same architectures, rebuilt in the reference scripts; timing only),
# each pair measured one after the other in one run so that both see the same machine load.
#
#   PYTHON=/tmp/venv-torch/bin/python ROUNDS=3 bash bench/side_by_side.sh [train|images|sequence|all]
#
# train:    training step and evaluation of the Fashion-MNIST Gated PixelCNN (32 channels,
#           7 layers, head 256, 256 levels, batch 32), ROUNDS alternating rounds
#           (bench/throughput.rs, bench/gated_pixelcnn_torch.py);
# images:   64 samples of 28x28 from that model: argen naive and cached, PyTorch naive;
# sequence: a WaveNet with a receptive field of 1,025 steps: argen cached at 1,024, 2,048 and
#           4,096 steps and naive at 4,096; both naive at 1,024 (bench/sequence_generation.rs,
#           bench/sequence_generation_torch.py).
#
# BASELINE=path/to/throughput-binary (optional; `train` only): also runs an earlier build's
#           bench/throughput.rs in each round, for a before/after figure in the same run.
#
# PYTHON must have torch (python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv-torch/bin/python}
ROUNDS=${ROUNDS:-3}
WHAT=${1:-all}

cargo build --release --benches -q
argen_images() { cargo bench -q --bench throughput -- --data fashion-mnist "$@"; }
torch_images() { "$PYTHON" bench/gated_pixelcnn_torch.py "$@"; }

if [[ $WHAT == train || $WHAT == all ]]; then
    for round in $(seq "$ROUNDS"); do
        echo "== train/eval round $round"
        if [[ -n ${BASELINE:-} ]]; then
            echo "baseline ($BASELINE):"
            "$BASELINE" --data fashion-mnist --runs 1 --train-steps 4 --eval-images 256 --sample-images 0
        fi
        argen_images --runs 1 --train-steps 4 --eval-images 256 --sample-images 0
        torch_images --runs 1 --train-steps 4 --eval-images 256 --sample-images 0
    done
fi
if [[ $WHAT == images || $WHAT == all ]]; then
    echo "== 64 samples, 28x28"
    argen_images --runs 1 --train-steps 1 --eval-images 0 --sample-images 64
    torch_images --runs 1 --train-steps 1 --eval-images 0 --sample-images 64
fi
if [[ $WHAT == sequence || $WHAT == all ]]; then
    echo "== WaveNet, 4,096 steps"
    cargo bench -q --bench sequence_generation -- --steps 4096 --runs 3 --naive-runs 1
    echo "== WaveNet, 1,024 steps, both naive"
    cargo bench -q --bench sequence_generation -- --steps 1024 --runs 3 --naive-runs 1
    "$PYTHON" bench/sequence_generation_torch.py --steps 1024 --runs 1
fi
