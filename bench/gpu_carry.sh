#!/usr/bin/env bash
# Prepares what a lent GPU machine needs for bench/gpu.sh, in target/gpu-carry/ (under the
# 64 MiB a device call carries): the argen binary and the gpu_profile benchmark built here with
# `--features gpu,remote`, stripped and xz-compressed, and a Fashion-MNIST subset as IDX
# files (16,384 training images, enough for 32 steps at batch 256 beside the 5,000 held out
# for validation; the 10,000 test images). On the device machine (DEVELOPERS.md):
#
#   bash bench/gpu_carry.sh unpack && ARGEN=target/gpu-carry/argen \
#       PROFILE=target/gpu-carry/gpu_profile bash bench/gpu.sh target/gpu-carry/fmnist 2
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/gpu-carry

if [ "${1:-}" = unpack ]; then
    xz -d -f -k "$out/argen.xz" "$out/gpu_profile.xz"
    chmod +x "$out/argen" "$out/gpu_profile"
    exit 0
fi

FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || {
    echo "no Fashion-MNIST in $FMNIST (apt-get install -y dataset-fashion-mnist)" >&2
    exit 1
}
cargo build --release --features gpu,remote
cargo bench --features gpu,remote --bench gpu_profile --no-run
rm -rf "$out" && mkdir -p "$out/fmnist"
profile=$(ls -t target/release/deps/gpu_profile-* | grep -v '\.d$' | head -1)
for pair in "target/release/argen:argen" "$profile:gpu_profile"; do
    strip -o "$out/${pair#*:}" "${pair%%:*}"
    xz -6 -T2 -f "$out/${pair#*:}"
done
# The first 16,384 training images and labels (IDX header with the count rewritten), and the
# test files as they are.
python3 - "$FMNIST" "$out/fmnist" <<'EOF'
import gzip, struct, sys, shutil
src, dst = sys.argv[1], sys.argv[2]
n = 16384
for name, item in [("train-images-idx3-ubyte", 784), ("train-labels-idx1-ubyte", 1)]:
    data = gzip.open(f"{src}/{name}.gz").read()
    head = 16 if item == 784 else 8
    body = data[head:head + n * item]
    header = bytearray(data[:head])
    header[4:8] = struct.pack(">I", n)
    with gzip.open(f"{dst}/{name}.gz", "wb") as f:
        f.write(bytes(header) + body)
for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
    shutil.copy(f"{src}/{name}.gz", f"{dst}/{name}.gz")
EOF
du -sh "$out"
ls -la "$out" "$out/fmnist"
