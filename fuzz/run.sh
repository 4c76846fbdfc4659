#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS seconds each (default 30), on one core, and prints
# libFuzzer's last status line per target. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). New inputs that reach new code are added to corpus/TARGET.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(idx cifar png_folder csv_series text piano_roll run_folder midi)
fi
cargo +nightly fuzz build -O -s none
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    log=$(mktemp)
    if ! cargo +nightly fuzz run -O -s none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
        > "$log" 2>&1; then
        cat "$log"
        echo "fuzz target $t FAILED" >&2
        exit 1
    fi
    echo "$t: $(grep -E '^#[0-9]+' "$log" | tail -1)"
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" | tr '\n' ' '
    echo
    rm -f "$log"
done
