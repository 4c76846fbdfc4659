#!/usr/bin/env bash
# The GPU row of BENCHMARKS.md ("Devices"): argen's training on `--device gpu` (burn's wgpu
# backend, an argen built with `--features gpu`) beside PyTorch on CUDA, on one machine.
#
#   ARGEN=path/to/argen PYTHON=python3 bash bench/gpu.sh IDX_DIR [ROUNDS]
#
# IDX_DIR holds Fashion-MNIST-shaped IDX files (28x28; `idx:DIR` of argen). Each training
# measurement runs two epochs and reports the second: the first includes compiling and tuning
# the GPU kernels (the warm-up's time is in the profile's output). The Fashion-MNIST
# configuration runs at batch 32 and at batch 256 (the GPU's natural size), each beside
# PyTorch at the same batch. Prints one line per measurement.
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
# The per-kernel profile first (before the timed rounds): which kernels one training step
# launches and what each costs on its own, at batch 32, from `cargo bench --features gpu
# --bench gpu_profile` (PROFILE= names its binary; skipped where there is none).
PROFILE=${PROFILE:-$(ls target/release/deps/gpu_profile-* 2>/dev/null | grep -v '\.d$' | head -1)}
if [ -n "$PROFILE" ] && [ -x "$PROFILE" ]; then
    "$PROFILE" --size 28 --batch 32 --steps 4
else
    echo "no gpu_profile binary (cargo bench --features gpu --bench gpu_profile --no-run)"
fi
for batch in 32 256; do
    fmnist=(--data "idx:$IDX" --channels 32 --layers 7 --first-kernel 7 --kernel 3 --head 256
        --batch-size "$batch" --train-limit $((batch * 32)))
    for r in $(seq "$ROUNDS"); do
        if [ "$batch" = 32 ]; then
            echo "round $r: digits default: gpu $(second_epoch train --device gpu) img/s," \
                "cpu $(second_epoch train --device cpu) img/s"
        fi
        echo "round $r, batch $batch: fashion-mnist configuration: gpu" \
            "$(second_epoch train --device gpu "${fmnist[@]}") img/s"
        "$PY" bench/gated_pixelcnn_torch.py --device cuda --runs 2 --train-steps 32 \
            --batch "$batch" --eval-images 0 --sample-images 0 | grep "run 1"
    done
done
