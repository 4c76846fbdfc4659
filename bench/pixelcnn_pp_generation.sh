#!/usr/bin/env bash
# Cached against naive generation of a PixelCNN++ run, in one run: 64 images, the same seed,
# the cached path first, then the naive one; the two PNGs must be identical.
# Usage: bench/pixelcnn_pp_generation.sh RUN [IMAGES]
set -euo pipefail
run=${1:?usage: $0 RUN [IMAGES]}
n=${2:-64}
bin=target/release/argen
out=$(mktemp -d)
grep -m1 "model name" /proc/cpuinfo
grep -o -w 'avx2\|avx512f\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
for path in cached naive; do
  flag=""
  [ "$path" = naive ] && flag="--naive"
  start=$(date +%s.%N)
  $bin sample "$run" --n "$n" --seed 1 $flag --out "$out/$path.png" > /dev/null
  end=$(date +%s.%N)
  echo "$path: $(echo "$end - $start" | bc) s for $n images"
done
cmp "$out/cached.png" "$out/naive.png" && echo "cached and naive images identical"
