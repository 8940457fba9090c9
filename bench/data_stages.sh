#!/usr/bin/env bash
# Benchmark of the data stages: generate, then ingest / validate / features, each step in its
# own process under /usr/bin/time -v, repeated; prints the median wall time, CPU time and peak
# RSS per step.
#
# Usage: bench/data_stages.sh [CUSTOMERS] [REPEATS] [WORKDIR]
#   CUSTOMERS  default 100000 (the issue also asks for 2100000: ~9.6 GB of CSV)
#   REPEATS    default 3
#   WORKDIR    default a fresh temp dir (removed at the end unless KEEP=1); a WORKDIR that
#              already holds raw/ for the same CUSTOMERS is reused without generating again
#   HOLD=0     do not hold each step's inputs in memory (see bench/hold_in_memory.py: on a
#              machine whose kernel pages out idle file pages, a step would otherwise read
#              its input from disk and the figure would be the disk's)
# Builds the example in release (a cold polars release build takes ~18 min on 2 cores).
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
cd "$(dirname "$0")/.."
BENCH="$PWD/bench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# --workspace: the same feature set as every other build here, so polars is not rebuilt.
cargo build --release -q --workspace --example data_stages
BIN="$CARGO_TARGET_DIR/release/examples/data_stages"
WORK="${3:-$(mktemp -d -t churnflow-bench.XXXXXX)}"
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || [ -n "${3:-}" ] || trap 'rm -rf "$WORK"' EXIT
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }
HOLD="${HOLD:-1}"
if [ "$HOLD" = 1 ] && ! command -v python3 > /dev/null; then
  echo "python3 not found: measuring without holding inputs in memory" >&2
  HOLD=0
fi

source "$BENCH/common.sh"

# The inputs of each step.
inputs() {
  case "$1" in
    ingest) echo "$WORK/raw" ;;
    validate | features) echo "$WORK/ingested" ;;
  esac
}

# One measured run of STEP: prints "wall_seconds cpu_seconds peak_rss_kib".
measure() {
  local step="$1" log holder=""
  log="$(mktemp)"
  sync
  if [ "$HOLD" = 1 ] && [ -n "$(inputs "$step")" ]; then
    python3 "$BENCH/hold_in_memory.py" $(inputs "$step") > "$log.hold" &
    holder=$!
    until [ -s "$log.hold" ] || ! kill -0 "$holder" 2> /dev/null; do sleep 0.2; done
    kill -0 "$holder" 2> /dev/null || { echo "could not hold $(inputs "$step") in memory (HOLD=0 to skip)" >&2; exit 2; }
  fi
  "$TIME" -v "$BIN" "$step" "$N" 42 "$WORK" > "$log.out" 2> "$log"
  [ -z "$holder" ] || { kill "$holder"; wait "$holder" 2> /dev/null || true; }
  awk -F': ' '
    /Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; wall=s}
    /User time/ {cpu+=$2} /System time/ {cpu+=$2}
    /Maximum resident set size/ {rss=$2}
    END {print wall, cpu, rss}' "$log"
  cat "$log.out" >&2
  rm -f "$log" "$log.out" "$log.hold"
}

echo "churnflow data stages: $N customers, $REPEATS runs per step, work dir $WORK, hold inputs: $HOLD" >&2
printf '%-10s %10s %10s %14s\n' step median_s cpu_s peak_rss_mib
if [ -f "$WORK/raw/customers.csv" ] && [ "$(($(wc -l < "$WORK/raw/customers.csv") - 1))" = "$N" ]; then
  echo "reusing the generated data in $WORK/raw" >&2
else
  read -r w c r < <(measure generate)
  printf '%-10s %10.2f %10.2f %14.0f   (%s MB of CSV)\n' generate "$w" "$c" "$((r / 1024))" "$(du -sm "$WORK/raw" | cut -f1)"
fi
total=0
for step in ingest validate features; do
  walls=(); cpus=(); rsss=()
  for _ in $(seq "$REPEATS"); do
    read -r w c r < <(measure "$step")
    walls+=("$w"); cpus+=("$c"); rsss+=("$r")
  done
  mw="$(printf '%s\n' "${walls[@]}" | median)"
  mc="$(printf '%s\n' "${cpus[@]}" | median)"
  mr="$(printf '%s\n' "${rsss[@]}" | median)"
  total="$(awk -v a="$total" -v b="$mw" 'BEGIN {print a + b}')"
  printf '%-10s %10.2f %10.2f %14.0f\n' "$step" "$mw" "$mc" "$(awk -v r="$mr" 'BEGIN {print r / 1024}')"
done
printf '%-10s %10.2f\n' "i+v+f" "$total"
