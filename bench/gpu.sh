#!/usr/bin/env bash
# The GPU row of BENCHMARKS.md ("Devices"): argen's training on `--device gpu` (burn's wgpu
# backend, an argen built with `--features gpu`) beside PyTorch on CUDA, on one machine.
#
#   ARGEN=path/to/argen PYTHON=python3 bash bench/gpu.sh IDX_DIR [ROUNDS]
#
# IDX_DIR holds Fashion-MNIST-shaped IDX files (28x28; `idx:DIR` of argen). Each training
# measurement runs two epochs and reports the second: the first includes compiling and tuning
# the GPU kernels. Prints one line per measurement.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${ARGEN:-target/release/argen}
PY=${PYTHON:-python3}
IDX=${1:?IDX_DIR}
ROUNDS=${2:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
second_epoch() { # the images/s of the second epoch line of `argen ... train ...`
    "$B" "$@" --epochs 2 --samples 0 --dropout 0 --out "$out/run-$RANDOM$RANDOM" 2>&1 \
        | grep '^epoch 2/' | grep -o '[0-9.]* img/s' | cut -d' ' -f1
}
fmnist=(--data "idx:$IDX" --channels 32 --layers 7 --first-kernel 7 --kernel 3 --head 256
    --batch-size 32 --train-limit 1024)
for r in $(seq "$ROUNDS"); do
    echo "round $r: digits default: gpu $(second_epoch train --device gpu) img/s," \
        "cpu $(second_epoch train --device cpu) img/s;" \
        "fashion-mnist configuration: gpu $(second_epoch train --device gpu "${fmnist[@]}") img/s"
    "$PY" bench/gated_pixelcnn_torch.py --device cuda --runs 2 --train-steps 32 \
        --eval-images 0 --sample-images 0 | grep "run 1"
done
