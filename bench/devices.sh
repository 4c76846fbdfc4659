#!/usr/bin/env bash
# Training throughput (images/s, one epoch of the digits, default Gated PixelCNN) on one CPU
# device, on two CPU replicas (--devices cpu,cpu) and on a device server over loopback
# WebSocket. Needs an argen built with `--features remote`. Usage: bench/devices.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${ARGEN:-target/release/argen}
rounds=${1:-3}
out=$(mktemp -d)
export ARGEN_REMOTE_TOKEN=bench-token
"$B" device-server --listen 127.0.0.1:0 > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$out"' EXIT
url=
for _ in $(seq 50); do
    url=$(grep -o 'ws://127.0.0.1:[0-9]*' "$out/server.log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.2
done
[ -n "$url" ] || { echo "the device server did not start:" >&2; cat "$out/server.log" >&2; exit 1; }
rate() { # prints the images/s of the epoch line
    "$B" train "$@" --epochs 1 --samples 0 --dropout 0 --out "$out/run-$RANDOM$RANDOM" 2>&1 \
        | grep -o '[0-9.]* img/s' | tail -1 | cut -d' ' -f1
}
for r in $(seq "$rounds"); do
    echo "round $r: cpu $(rate --device cpu) img/s, cpu,cpu $(rate --devices cpu,cpu) img/s, plain-ops cpu $(rate --plain-ops) img/s, remote loopback $(rate --device "remote:$url") img/s"
done
