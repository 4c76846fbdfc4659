#!/usr/bin/env bash
# argen beside PyTorch (same architectures, rebuilt in the reference scripts; timing only),
# each pair measured one after the other in one run so that both see the same machine load.
#
#   PYTHON=/tmp/venv-torch/bin/python ROUNDS=3 bash bench/side_by_side.sh [train|images|sequence|seqtrain|all]
#
# train:    training step and evaluation of the Fashion-MNIST Gated PixelCNN (32 channels,
#           7 layers, head 256, 256 levels, batch 32), ROUNDS alternating rounds
#           (bench/throughput.rs, bench/gated_pixelcnn_torch.py): argen, then (BF16=1, on
#           CPUs with AMX-BF16) argen with --precision bf16, PyTorch eager and PyTorch with
#           torch.compile (its compile time printed apart);
# images:   64 samples of 28x28 from that model: argen naive and cached, PyTorch naive;
# sequence: a WaveNet with a receptive field of 1,025 steps: argen cached at 1,024, 2,048 and
#           4,096 steps and naive at 4,096; both naive at 1,024 (bench/sequence_generation.rs,
#           bench/sequence_generation_torch.py).
# seqtrain: training steps/s and evaluation steps/s of the sequence models at BENCHMARKS.md's
#           configurations (bench/sequence_training.rs, bench/sequence_training_torch.py): the
#           JSB Chorales LSTM, GRU (the LSTM's settings) and TCN, the adding-problem TCN
#           (T = 200), the digits WaveNet and the sine window MLP. ROUNDS alternating rounds;
#           in each, every pair runs argen, PyTorch eager and PyTorch with torch.compile
#           (its compile time printed apart, not in the measured steps). Ends with a summary:
#           the median over the rounds of each side's steps/s and argen's ratio to eager and
#           to compiled PyTorch. Not part of `all` (the compilations take minutes).
#           SEQ_PAIRS="model:task:steps:eval_steps ..." replaces the list of pairs;
#           SEQ_ARGS="..." adds flags to both sides (e.g. SEQ_ARGS="--warmup 3"). A quick check
#           of the tools: SEQ_STEPS=2 ROUNDS=1 bash bench/side_by_side.sh seqtrain
#           (SEQ_STEPS sets every pair's training and evaluation steps). Run it on a quiet
#           machine: PyTorch's OpenMP threads wait for each other, and with one core taken by
#           another process its steps slow down many times over (40x seen on 2 cores).
#
# EVAL_BATCH=n (default 32; `train` only): the images per evaluation batch on both sides.
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
# Both sides evaluate in batches of EVAL_BATCH images (argen's CPU evaluation takes at most
# 32 at a time; PyTorch too is faster in batches of 32-64 than of 256).
EVAL_BATCH=${EVAL_BATCH:-32}
argen_images() { cargo bench -q --bench throughput -- --data fashion-mnist --eval-batch "$EVAL_BATCH" "$@"; }
torch_images() { "$PYTHON" bench/gated_pixelcnn_torch.py --eval-batch "$EVAL_BATCH" "$@"; }

if [[ $WHAT == train || $WHAT == all ]]; then
    IMAGE_LOG=$(mktemp)
    for round in $(seq "$ROUNDS"); do
        echo "== train/eval round $round"
        if [[ -n ${BASELINE:-} ]]; then
            echo "baseline ($BASELINE):"
            "$BASELINE" --data fashion-mnist --runs 1 --train-steps 4 --eval-images 256 --sample-images 0
        fi
        argen_images --runs 1 --train-steps 4 --eval-images 256 --sample-images 0
        if [[ -n ${BF16:-} ]]; then
            argen_images --runs 1 --train-steps 4 --eval-images 256 --sample-images 0 --precision bf16
        fi
        torch_images --runs 1 --train-steps 4 --eval-images 256 --sample-images 0
        torch_images --runs 1 --train-steps 4 --eval-images 256 --sample-images 0 --compile
    done 2>&1 | tee "$IMAGE_LOG"
    # The median over the rounds of each side's images/s, and each side against compiled
    # PyTorch.
    "$PYTHON" - "$IMAGE_LOG" <<'SUMMARY'
import re, statistics, sys
runs, label, baseline = {}, None, False
for line in open(sys.argv[1]):
    if line.startswith("baseline ("):
        baseline = True  # the next figures are the earlier build's
    elif m := re.match(r"Gated PixelCNN .*, (\w+) products", line):
        label = f"baseline {m.group(1)}" if baseline else f"argen {m.group(1)}"
        baseline = False
    elif label and (m := re.match(r"(training|evaluation) +median +([\d.]+)", line)):
        runs.setdefault((label, m.group(1)), []).append(float(m.group(2)))
    elif m := re.match(r"(torch(?:-compile)?) median: train ([\d.]+) img/s, eval ([\d.]+)", line):
        runs.setdefault((m.group(1), "training"), []).append(float(m.group(2)))
        runs.setdefault((m.group(1), "evaluation"), []).append(float(m.group(3)))
print("| side | training img/s | evaluation img/s | / compiled (train) | / compiled (eval) |")
print("|---|---|---|---|---|")
med = {k: statistics.median(v) for k, v in runs.items()}
for side in ["baseline f32", "argen f32", "argen bf16", "torch", "torch-compile"]:
    if (side, "training") not in med:
        continue
    t, e = med[side, "training"], med[side, "evaluation"]
    ct, ce = med.get(("torch-compile", "training")), med.get(("torch-compile", "evaluation"))
    ratio = lambda a, b: f"{a / b:.2f}x" if b else "-"
    print(f"| {side} | {t:.2f} | {e:.2f} | {ratio(t, ct)} | {ratio(e, ce)} |")
SUMMARY
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
if [[ $WHAT == seqtrain ]]; then
    # model:task:training steps:evaluation steps (about 2-5 s a measurement on 2 cores).
    PAIRS=${SEQ_PAIRS:-"lstm:jsb:40:5 gru:jsb:40:5 tcn:jsb:60:5 tcn:adding:20:5 wavenet:digits:30:10 mlp:sine:1000:300"}
    LOG=$(mktemp)
    for round in $(seq "$ROUNDS"); do
        echo "== sequence training/evaluation round $round"
        for pair in $PAIRS; do
            IFS=: read -r model task steps eval_steps <<<"$pair"
            steps=${SEQ_STEPS:-$steps}
            eval_steps=${SEQ_STEPS:-$eval_steps}
            common=(--model "$model" --task "$task" --steps "$steps" --eval-steps "$eval_steps" --runs 1)
            # shellcheck disable=SC2086
            cargo bench -q --bench sequence_training -- "${common[@]}" ${SEQ_ARGS:-} | tee -a "$LOG"
            # shellcheck disable=SC2086
            "$PYTHON" bench/sequence_training_torch.py "${common[@]}" ${SEQ_ARGS:-} | tee -a "$LOG"
            # shellcheck disable=SC2086
            "$PYTHON" bench/sequence_training_torch.py "${common[@]}" --compile ${SEQ_ARGS:-} 2>&1 \
                | grep -v '^[WV][0-9]' | tee -a "$LOG"
        done
    done
    echo "== summary: median steps/s over $ROUNDS round(s); argen / PyTorch eager, argen / compiled"
    "$PYTHON" - "$LOG" <<'PY'
import re, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    m = re.match(r"(argen|torch|torch-compile) (\S+) (\S+) (train|eval): median ([0-9.]+) steps/s", line)
    if m:
        side, model, task, what, rate = m.groups()
        rates.setdefault((model, task, what), {}).setdefault(side, []).append(float(rate))
print(f"{'model task':<18}{'':6}{'argen':>10}{'torch':>10}{'compiled':>10}{'/eager':>8}{'/compiled':>10}")
for (model, task, what), sides in rates.items():
    med = {side: statistics.median(v) for side, v in sides.items()}
    a, t, c = (med.get(k) for k in ("argen", "torch", "torch-compile"))
    ratio = lambda x: f"{a / x:.2f}x" if a and x else "-"
    show = lambda x: f"{x:.2f}" if x else "-"
    print(f"{model + ' ' + task:<18}{what:<6}{show(a):>10}{show(t):>10}{show(c):>10}{ratio(t):>8}{ratio(c):>10}")
PY
    rm -f "$LOG"
fi
