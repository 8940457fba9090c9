#!/usr/bin/env bash
# Benchmark of the data stages: generate, then ingest / validate / features, each step in its
# own process under /usr/bin/time -v, repeated; prints the median wall time and the median
# peak RSS per step.
#
# Usage: bench/data_stages.sh [CUSTOMERS] [REPEATS] [WORKDIR]
#   CUSTOMERS  default 100000 (the issue also asks for 2100000: ~9.4 GB of CSV)
#   REPEATS    default 3
#   WORKDIR    default a fresh temp dir (removed at the end unless KEEP=1)
# Builds the example in release (a cold polars release build takes ~18 min on 2 cores).
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p churnflow-stages --example data_stages
BIN="$CARGO_TARGET_DIR/release/examples/data_stages"
WORK="${3:-$(mktemp -d -t churnflow-bench.XXXXXX)}"
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || [ -n "${3:-}" ] || trap 'rm -rf "$WORK"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# One measured run of STEP: prints "wall_seconds peak_rss_kib".
measure() {
  local step="$1" log
  log="$(mktemp)"
  "$TIME" -v "$BIN" "$step" "$N" 42 "$WORK" > "$log.out" 2> "$log"
  local wall rss
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$log")"
  rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
  cat "$log.out" >&2
  rm -f "$log" "$log.out"
  echo "$wall $rss"
}

echo "churnflow data stages: $N customers, $REPEATS runs per step, work dir $WORK" >&2
printf '%-10s %12s %14s\n' step median_s peak_rss_mib
read -r w r < <(measure generate)
printf '%-10s %12.2f %14.0f   (%s MB of CSV)\n' generate "$w" "$((r / 1024))" "$(du -sm "$WORK/raw" | cut -f1)"
total=0
for step in ingest validate features; do
  walls=(); rsss=()
  for _ in $(seq "$REPEATS"); do
    read -r w r < <(measure "$step")
    walls+=("$w"); rsss+=("$r")
  done
  mw="$(printf '%s\n' "${walls[@]}" | median)"
  mr="$(printf '%s\n' "${rsss[@]}" | median)"
  total="$(awk -v a="$total" -v b="$mw" 'BEGIN {print a + b}')"
  printf '%-10s %12.2f %14.0f\n' "$step" "$mw" "$(awk -v r="$mr" 'BEGIN {print r / 1024}')"
done
printf '%-10s %12.2f\n' "i+v+f" "$total"
