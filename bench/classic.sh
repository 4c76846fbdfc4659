#!/usr/bin/env bash
# Classical sequence models, Rust (argen) beside Python, measured alternately in one run so
# that both sides see the same machine load. Prints each measurement, then medians and
# ratios as a Markdown table.
#
#   PYTHON=/tmp/venv-bench/bin/python ROUNDS=5 bash bench/classic.sh
#
# PYTHON must have numpy and statsmodels (python3 -m venv /tmp/venv-bench &&
# /tmp/venv-bench/bin/pip install numpy statsmodels). The inputs are made by
# bench/make_classic_data.py in $BENCH_DIR (default /tmp/argen-bench), seeded, nothing
# downloaded. Both sides run single-threaded (OpenBLAS limited to one thread).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/tmp/venv-bench/bin/python}
DIR=${BENCH_DIR:-/tmp/argen-bench}
ROUNDS=${ROUNDS:-5}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

if [[ ! -f $DIR/ar100k.csv || ! -f $DIR/text5mb.txt ]]; then
    "$PYTHON" bench/make_classic_data.py "$DIR"
fi
# Build once and run the executables themselves, so that no round waits on cargo.
exe() {
    nice cargo bench --no-run --bench "$1" --message-format=json 2>/dev/null |
        "$PYTHON" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}
AR_EXE=$(exe ar_select)
MARKOV_EXE=$(exe markov_fit)
[[ -x $AR_EXE && -x $MARKOV_EXE ]] || { echo "cannot build the bench targets (cargo bench --no-run)"; exit 1; }
LOG=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
    echo "rust_ar $("$AR_EXE" "$DIR/ar100k.csv")" | tee -a "$LOG"
    echo "py_ar $("$PYTHON" bench/ar_select_statsmodels.py "$DIR/ar100k.csv")" | tee -a "$LOG"
    echo "rust_markov $("$MARKOV_EXE" "$DIR/text5mb.txt")" | tee -a "$LOG"
    echo "py_markov $("$PYTHON" bench/markov_fit_python.py "$DIR/text5mb.txt")" | tee -a "$LOG"
done
"$PYTHON" - "$LOG" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    runs.setdefault(name, []).append(json.loads(rest))
med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
n = len(runs["rust_ar"])
print()
print(f"| task | argen (Rust) | Python | Python / argen |")
print(f"|---|---|---|---|")
print(f"| AR order selection p = 0..40 (AIC) + fit, 100,000 points | {med['rust_ar']:.3f} s | "
      f"{med['py_ar']:.3f} s (statsmodels ar_select_order + AutoReg.fit) | {med['py_ar'] / med['rust_ar']:.1f}x |")
print(f"| order-5 character chain, 5,000,000 characters | {med['rust_markov']:.3f} s | "
      f"{med['py_markov']:.3f} s (plain dict counting) | {med['py_markov'] / med['rust_markov']:.1f}x |")
print()
ra, pa = runs["rust_ar"][0], runs["py_ar"][0]
rm, pm = runs["rust_markov"][0], runs["py_markov"][0]
print(f"medians of {n} alternated rounds; chosen order argen {ra['order']} / statsmodels {pa['order']}, "
      f"a_1 {ra['a1']:.12f} / {pa['a1']:.12f}; contexts {rm['contexts']} / {pm['contexts']}, "
      f"transitions {rm['transitions']} / {pm['transitions']}")
PY
rm -f "$LOG"
