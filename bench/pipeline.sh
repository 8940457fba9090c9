#!/usr/bin/env bash
# The whole demo pipeline (ingest -> promote) on N customers from `churnflow generate`:
# a cold `churnflow repro` (nothing stored), then a no-op repro. Prints medians of the wall
# times and the peak RSS of the cold run.
#
#   bash bench/pipeline.sh [CUSTOMERS=100000] [REPEATS=3]
# Builds churnflow in release (a cold polars release build takes ~18 min on 2 cores), unless
# CHURNFLOW=/path/to/churnflow names a binary (for A/B runs of two builds).
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
source "$(dirname "$0")/common.sh"
here="$ROOT"
bench_setup
cp "$here/pipeline.yaml" "$here/params.yaml" "$work/"
"$BIN" -C "$work" generate --customers "$N" --seed 42 --out data/raw
cold=() ; rss=() ; noop=()
for _ in $(seq "$REPEATS"); do
  rm -rf "$work/artifacts" "$work/registry" "$work/data/ingested" "$work"/data/*.parquet "$work/models" "$work/reports" "$work/pipeline.lock"
  t0=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$BIN" -C "$work" repro >"$work/log" 2>&1
  t1=$(date +%s%N)
  cold+=($(( (t1 - t0) / 1000000 )))
  rss+=($(cat "$work/rss"))
  t0=$(date +%s%N); "$BIN" -C "$work" repro >/dev/null 2>&1; t1=$(date +%s%N)
  noop+=($(( (t1 - t0) / 1000000 )))
done
echo "customers:               $N"
echo "cold repro (7 stages):   $(median "${cold[@]}") ms"
echo "peak RSS (largest stage): $(( $(median "${rss[@]}") / 1024 )) MiB"
echo "no-op repro:             $(median "${noop[@]}") ms"
grep -E "done in|AUC" "$work/log" | sed 's/^/  /'
