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
# --workspace: the feature set of the other builds here, so polars is not compiled again.
cargo build --release --workspace --example model_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/model_bench"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for i in $(seq 1 "$repeats"); do
  echo "== run $i"
  "$bin" "$rows" "$score_rows" | tee -a "$log"
done
# Medians over the runs: training seconds and scoring rows/s per algorithm, peak RSS.
echo "== medians of $repeats runs"
awk '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  /^train / { key = $2; sub(":", "", key); train[key] = train[key] " " $6; if (!(key in order)) { order[key] = ++k; names[k] = key } }
  /^score / { key = $2; sub(":", "", key); score[key] = score[key] " " $9 }
  /^peak RSS/ { rss = rss " " $3 }
  END {
    for (i = 1; i <= k; i++) printf "train %-22s %8.3f s\n", names[i], median(train[names[i]])
    for (key in score) printf "score %-22s %8.0f rows/s\n", key, median(score[key])
    printf "peak RSS %.0f MB\n", median(rss)
  }' "$log"
