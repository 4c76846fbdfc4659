#!/usr/bin/env bash
# The cost of conditioning, and the NLL it buys (issue 17). Usage:
#   bench/conditioning.sh cost   # digits: training and cached-generation images/s, 3 alternating rounds
#   bench/conditioning.sh nll    # Fashion-MNIST: test NLL of p(x), p(x | class), the auto-encoder (codes 4, 16)
# Needs `cargo build --release`; the nll part needs `apt-get install -y dataset-fashion-mnist`.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGEN=target/release/argen
OUT=${OUT:-/tmp/argen-conditioning}
mkdir -p "$OUT"

# One vector of 10 values per digit (1,797 rows): its one-hot class plus noise, in the data's order.
vectors() {
  python3 - "$OUT/digits-vectors.csv" <<'PY'
import gzip, random, sys
random.seed(0)
rows = gzip.open("data/digits.csv.gz", "rt").read().split("\n")
rows = [r for r in rows if r.strip()]
with open(sys.argv[1], "w") as f:
    for r in rows:
        label = int(float(r.split(",")[-1]))
        f.write(",".join(f"{(1.0 if j == label else 0.0) + random.gauss(0, 0.1):.4f}" for j in range(10)) + "\n")
PY
}

case "${1:-cost}" in
cost)
  vectors
  declare -A CONFIGS=(
    [none]=""
    [class]="--conditional"
    [vectors]="--condition vectors:$OUT/digits-vectors.csv"
    [spatial]="--condition vectors:$OUT/digits-vectors.csv --spatial 8"
    [autoencoder]="--latent 16"
  )
  for round in 1 2 3; do
    for name in none class vectors spatial autoencoder; do
      run="$OUT/cost-$name-$round"
      rm -rf "$run"
      # shellcheck disable=SC2086
      $ARGEN train --epochs 3 --samples 0 --quiet --out "$run" ${CONFIGS[$name]} > /dev/null
      train=$(tail -n 3 "$run/$(cat "$run/CHECKPOINT")/metrics.csv" | cut -d, -f7 | sort -n | sed -n 2p)
      sample=$($ARGEN sample "$run" --n 64 --out "$run/s.png" | sed -E 's/.*, ([0-9.]+) images\/s.*/\1/')
      echo "round $round $name: training $train images/s, cached generation $sample images/s"
    done
  done
  ;;
nll)
  for spec in "plain:" "class:--conditional" "code4:--latent 4" "code16:--latent 16"; do
    name=${spec%%:*}
    args=${spec#*:}
    run="$OUT/fashion-$name"
    rm -rf "$run"
    # shellcheck disable=SC2086
    $ARGEN train --data fashion-mnist --train-limit 12000 --epochs 1 --samples 0 --quiet --out "$run" $args \
      | grep -E "test NLL|conditional" | sed "s/^/$name: /"
  done
  $ARGEN sample "$OUT/fashion-code16" --reconstruct 6 --n 42 --out "$OUT/fashion-reconstruct.png"
  $ARGEN sample "$OUT/fashion-code16" --interpolate 0,1 --n 8 --out "$OUT/fashion-interpolate.png"
  ;;
esac
