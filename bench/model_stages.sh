#!/usr/bin/env bash
# Benchmarks of the model stages: training time per algorithm on 100,000 synthetic customers
# and `score` throughput on 2,100,000 rows (Parquet in and out), with peak RSS.
# Usage: bench/model_stages.sh [TRAIN_ROWS] [SCORE_ROWS] [REPEATS]
# Release build; set CARGO_TARGET_DIR to reuse a build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
score_rows="${2:-2100000}"
repeats="${3:-3}"
cargo build --release -p churnflow-stages --example model_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/model_bench"
for i in $(seq 1 "$repeats"); do
  echo "== run $i"
  "$bin" "$rows" "$score_rows"
done
