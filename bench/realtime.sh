#!/usr/bin/env bash
# Real-time factor of WaveNet generation at 16 kHz (issue 22): the BENCHMARKS model
# (receptive field 1,025, 64 channels, 256 levels, freshly initialised), in alternating
# rounds of
#   argen cached, one sequence of 4,096 steps, and 16 sequences of 2,048 steps;
#   the same by an earlier build of the bench (OLD_BENCH, optional: before/after in one run);
#   argen naive and PyTorch naive (bench/sequence_generation_torch.py), 1,024 steps.
# Real-time factor = steps/s per sequence ÷ 16,000.
#
#   bash bench/realtime.sh [ROUNDS] [OLD_BENCH]    (PYTHON=... a python with torch)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
old=${2:-}
python=${PYTHON:-python3}
cargo bench --bench sequence_generation --no-run 2> /dev/null
bin=$(ls -t target/release/deps/sequence_generation-* | grep -v '\.d$' | head -1)
grep -m1 'model name' /proc/cpuinfo
grep -o 'avx512[a-z_0-9]*\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' '
echo
for r in $(seq "$rounds"); do
    echo "== round $r"
    for b in "$bin" $old; do
        tag=$([ "$b" = "$bin" ] && echo "now" || echo "before")
        "$b" --steps 4096 --n 1 --runs 1 --naive-runs 0 | grep '^cached, 4096' | sed "s/^/$tag n=1 /"
        "$b" --steps 2048 --n 16 --runs 1 --naive-runs 0 | grep '^cached, 2048' | sed "s/^/$tag n=16 /"
    done
    "$bin" --steps 1024 --n 1 --runs 1 --naive-runs 1 | grep '^naive' | sed 's/^/argen /'
    "$python" bench/sequence_generation_torch.py --steps 1024 --runs 1 | grep 'torch naive:'
done
