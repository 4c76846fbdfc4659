#!/usr/bin/env bash
# Sampling through `argen serve` against `argen sample`, alternating in one run: the time to the
# first drawn value on the page, the time to the last, and images/s of each.
#
#   bash bench/serve.sh [RUN] [N] [ROUNDS]
#
# RUN: an image run folder (default: a fresh default digits run, `argen train` with its
# defaults, trained into a temporary folder); N images per request (default 16); ROUNDS
# alternating rounds (default 5). Prints each round and the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
argen=target/release/argen
n=${2:-16}
rounds=${3:-5}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${1:-}" ]; then
    runs=$(dirname "$(realpath "$1")")
    name=$(basename "$1")
else
    runs="$work/runs"
    name=digits
    "$argen" train --out "$runs/digits" > /dev/null 2>&1
fi
"$argen" serve --runs "$runs" --listen 127.0.0.1:0 > "$work/serve.log" &
server=$!
for _ in $(seq 50); do grep -q http "$work/serve.log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/serve.log")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(nproc) cores; AVX-512: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
echo "run: $runs/$name, $n images per request"
printf '%-6s %12s %12s %12s %14s %14s\n' round first_value total server_gen cli_wall cli_sampler
for r in $(seq "$rounds"); do
    seed=$r
    page=$(python3 bench/serve_client.py "$base" "$name" "$n" "$seed")
    start=$(date +%s.%N)
    cli=$("$argen" sample "$runs/$name" --n "$n" --seed "$seed" --out "$work/s.png")
    end=$(date +%s.%N)
    wall=$(echo "$end - $start" | bc -l)
    # Its own timing: "(0.1s, 259.5 images/s)"; the rate keeps the digits the seconds round off.
    rate=$(echo "$cli" | grep -o '[0-9.]* images/s' | cut -d' ' -f1)
    sampler=$(echo "$n / $rate" | bc -l)
    python3 - "$page" "$wall" "$sampler" "$r" >> "$work/rounds" <<'PY'
import json, sys
page = json.loads(sys.argv[1])
print(json.dumps({"round": int(sys.argv[4]), **page, "cli_wall_s": float(sys.argv[2]), "cli_sampler_s": float(sys.argv[3])}))
PY
    tail -1 "$work/rounds" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%-6d %10.1fms %11.3fs %11.3fs %13.3fs %13.3fs" % (d["round"], d["first_value_s"] * 1000, d["total_s"], d["generation_s"], d["cli_wall_s"], d["cli_sampler_s"]))'
done
python3 - "$work/rounds" "$n" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
m = lambda k: statistics.median(r[k] for r in rows)
print(f"medians of {len(rows)} rounds: first value on the page {m('first_value_s')*1000:.1f} ms; "
      f"page {n / m('total_s'):.1f} images/s (request to last value {m('total_s'):.3f} s, generation {m('generation_s'):.3f} s); "
      f"argen sample {n / m('cli_wall_s'):.1f} images/s wall ({m('cli_wall_s'):.3f} s with start and model load), "
      f"{n / m('cli_sampler_s'):.1f} images/s in its sampler ({m('cli_sampler_s'):.3f} s)")
PY
