#!/usr/bin/env bash
# Two builds of argen side by side, alternating rounds on one machine: the default
# `argen train` (wall time of the whole command, and the test NLL it prints) and the
# throughput bench on the digits.
#
#   OLD=path/to/old/argen NEW=path/to/new/argen \
#   OLD_BENCH=path/to/old/throughput NEW_BENCH=path/to/new/throughput ROUNDS=3 \
#   bash bench/before_after.sh
#
# (A throughput binary is target/release/deps/throughput-* after `cargo bench --no-run`.)
set -euo pipefail
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for r in $(seq "$ROUNDS"); do
    for v in OLD NEW; do
        bin=${!v}
        start=$(date +%s.%N)
        "$bin" train --quiet --samples 0 --out "run-$v-$r" > "out-$v-$r.txt" 2> /dev/null
        end=$(date +%s.%N)
        echo "round $r $v: default train wall $(echo "$end - $start" | bc) s; $(grep -o 'test NLL.*' "out-$v-$r.txt")"
    done
    for v in OLD_BENCH NEW_BENCH; do
        echo "round $r $v:"
        "${!v}" --data digits --runs 3 --train-steps 20 --eval-images 447 --sample-images 8 2>&1 | tail -5
    done
done
