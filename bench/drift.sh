#!/usr/bin/env bash
# Benchmark of `churnflow drift` (issue #15: 2.1M vs 2.1M rows over all feature columns in
# ≤ 10 s and ≤ 2 GiB; 100,000 rows in ≤ 0.5 s), with Evidently 0.7's DataDriftPreset on the
# same tables side by side when it is installed.
#
#   bash bench/drift.sh [REPEATS=5]
#
# Two kinds of input, reference and current drawn with different seeds, built in a temp dir:
#   telco      the Telco sample's 19 feature columns (/work/shared/data/telco/telco.csv, or
#              TELCO=path) resampled with replacement to 100,000 and 2,100,000 rows;
#   generated  the features table of the demo pipeline (pipeline.yaml: `churnflow generate
#              --customers 100000` + `churnflow repro features`, 29 columns, 27 compared
#              plus the label); the 2.1M tables are the 100,000-customer tables resampled
#              with replacement, since generating 2.1M customers takes ~4.5 min and ~15 GB
#              of disk per side here. FULL=1 generates 2,100,000 customers per side instead.
# Each measurement is `churnflow drift --reference R --current C --html FILE` in its own
# process under /usr/bin/time: the median wall and CPU (user + system) time over REPEATS runs
# (after one unmeasured warm-up run) and the largest peak RSS. The load average is printed
# before and after: on a shared machine, other work shows in the wall times.
#
# Environment:
#   CHURNFLOW=path   the binary to measure (default: a release build of this checkout,
#                    `cargo build --release`; a cold polars release build takes ~18 min here)
#   EVIDENTLY=auto   Evidently at 100,000 rows when it can be imported (auto), always (1,
#                    an error when it is missing) or never (0)
#   EVIDENTLY_ROWS="100000 1000000"   the sizes Evidently runs at (at 1M it takes 42 s and
#                    2.0 GiB on Telco, 90 s and 2.6 GiB on generated, so 1M and 2.1M are
#                    opt-in; sizes other than 100,000 and 2,100,000 are resampled from the
#                    2.1M tables); Evidently runs max(1, REPEATS/2) times per size, each in a
#                    fresh interpreter (import timed apart)
#   HOLD=0           do not hold the input tables and the binary in memory while measuring
#                    (bench/hold_in_memory.py: this machine's kernel pages out idle file pages)
#   KEEP=1           keep the temp dir (its path is printed)
# Needs python3 with numpy, pandas and pyarrow to write the tables (bench/drift_tables.py says
# what is missing), and GNU time at /usr/bin/time.
set -euo pipefail
REPEATS="${1:-5}"
here="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$here/bench"
TELCO="${TELCO:-/work/shared/data/telco/telco.csv}"
[ -f "$TELCO" ] || TELCO="$here/examples/telco/data/telco.csv"
EVIDENTLY="${EVIDENTLY:-auto}"
EVIDENTLY_ROWS="${EVIDENTLY_ROWS:-100000}"
HOLD="${HOLD:-1}"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3 with numpy, pandas and pyarrow to write the tables" >&2; exit 2; }
python3 "$BENCH/drift_tables.py" check || exit 2
case "$EVIDENTLY" in
  0) ;;
  1) python3 "$BENCH/drift_tables.py" check evidently || exit 2 ;;
  auto) if ! python3 "$BENCH/drift_tables.py" check evidently 2>/dev/null; then
          echo "Evidently 0.7 is not installed: measuring churnflow alone (pip install \"evidently>=0.7,<0.8\" for the comparison)" >&2
          EVIDENTLY=0
        fi ;;
  *) echo "EVIDENTLY is auto, 0 or 1, not $EVIDENTLY" >&2; exit 2 ;;
esac
source "$BENCH/common.sh"
churnflow_binary
BIN="$CHURNFLOW"
export CI=1 NO_COLOR=1
WORK="$(mktemp -d -t churnflow-drift.XXXXXX)"
if [ "${KEEP:-0}" = 1 ]; then echo "tables kept in $WORK" >&2; else trap 'rm -rf "$WORK"' EXIT; fi

largest() { sort -g | tail -1; }
# GNU time's elapsed "m:ss.ss" or "h:mm:ss" as seconds, its CPU seconds (user + system) and
# its peak RSS in KiB.
parse_time() {
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; wall=s}
              /User time/ {cpu+=$2} /System time/ {cpu+=$2}
              /Maximum resident set size/ {rss=$2}
              END {print wall, cpu, rss}' "$1"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Holds FILES in the page cache while a measurement runs; sets HOLDER (pid) or leaves it empty.
hold() {
  HOLDER=""
  [ "$HOLD" = 1 ] || return 0
  python3 "$BENCH/hold_in_memory.py" "$@" > "$WORK/hold.log" 2>&1 &
  HOLDER=$!
  until grep -q held "$WORK/hold.log" 2>/dev/null || ! kill -0 "$HOLDER" 2>/dev/null; do sleep 0.1; done
  kill -0 "$HOLDER" 2>/dev/null || { cat "$WORK/hold.log" >&2; echo "could not hold the inputs in memory (HOLD=0 to measure without)" >&2; exit 2; }
}
release() { [ -z "$HOLDER" ] || { kill "$HOLDER"; wait "$HOLDER" 2>/dev/null || true; }; }

# --- the tables ---------------------------------------------------------------------------
echo "writing the tables in $WORK ..." >&2
mkdir -p "$WORK/project"
for rows in 100000 2100000; do
  python3 "$BENCH/drift_tables.py" telco "$TELCO" "$rows" 1 "$WORK/telco-ref-$rows.parquet"
  python3 "$BENCH/drift_tables.py" telco "$TELCO" "$rows" 2 "$WORK/telco-cur-$rows.parquet"
done
# The demo pipeline's features table of CUSTOMERS customers from seed SEED, as OUT.
features() {
  local customers="$1" seed="$2" out="$3" project="$WORK/gen-$1-$2"
  mkdir -p "$project"
  cp "$here/pipeline.yaml" "$here/params.yaml" "$project/"
  "$BIN" -C "$project" generate --customers "$customers" --seed "$seed" --out data/raw >/dev/null
  "$BIN" -C "$project" repro features > "$WORK/repro.log" 2>&1 || { cat "$WORK/repro.log" >&2; exit 1; }
  mv "$project/data/features.parquet" "$out"
  rm -rf "$project"
}
features 100000 1 "$WORK/generated-ref-100000.parquet"
features 100000 2 "$WORK/generated-cur-100000.parquet"
if [ "${FULL:-0}" = 1 ]; then
  features 2100000 1 "$WORK/generated-ref-2100000.parquet"
  features 2100000 2 "$WORK/generated-cur-2100000.parquet"
  GENERATED_2M="2,100,000 customers generated per side"
else
  for side in ref cur; do
    seed=$([ "$side" = ref ] && echo 3 || echo 4)
    python3 "$BENCH/drift_tables.py" resample "$WORK/generated-$side-100000.parquet" 2100000 "$seed" \
      "$WORK/generated-$side-2100000.parquet"
  done
  GENERATED_2M="the 100,000-customer tables resampled (FULL=1 generates 2.1M customers)"
fi

# --- churnflow ----------------------------------------------------------------------------
# One case: prints "median_wall_s median_cpu_s peak_rss_mib compared_columns".
measure() {
  local ref="$1" cur="$2" walls=() cpus=() rsss=()
  hold "$ref" "$cur" "$BIN"
  "$BIN" -C "$WORK/project" drift --reference "$ref" --current "$cur" --html "$WORK/drift.html" > "$WORK/drift.out"
  for _ in $(seq "$REPEATS"); do
    "$TIME" -v "$BIN" -C "$WORK/project" drift --reference "$ref" --current "$cur" --html "$WORK/drift.html" \
      > "$WORK/drift.out" 2> "$WORK/time.log"
    read -r wall cpu rss < <(parse_time "$WORK/time.log")
    walls+=("$wall"); cpus+=("$cpu"); rsss+=("$rss")
  done
  release
  local compared
  compared="$(sed -n 's/^dataset drift: [0-9]* of \([0-9]*\) columns.*/\1/p' "$WORK/drift.out")"
  echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${cpus[@]}" | median)" \
    "$(( $(printf '%s\n' "${rsss[@]}" | largest) / 1024 )) $compared"
}

# --- Evidently ----------------------------------------------------------------------------
# One case: prints "import_s read_s compute_s peak_rss_mib" (medians; the largest RSS).
evidently() {
  local ref="$1" cur="$2" id="$3" runs=$(( REPEATS / 2 > 0 ? REPEATS / 2 : 1 )) imports=() reads=() computes=() rsss=()
  for _ in $(seq "$runs"); do
    "$TIME" -v python3 "$BENCH/drift_tables.py" evidently "$ref" "$cur" $id > "$WORK/ev.out" 2> "$WORK/time.log" \
      || { cat "$WORK/ev.out" "$WORK/time.log" >&2; exit 1; }
    imports+=("$(sed -n 's/.*import_s=\([0-9.]*\).*/\1/p' "$WORK/ev.out")")
    reads+=("$(sed -n 's/.*read_s=\([0-9.]*\).*/\1/p' "$WORK/ev.out")")
    computes+=("$(sed -n 's/.*compute_s=\([0-9.]*\).*/\1/p' "$WORK/ev.out")")
    read -r _ _ rss < <(parse_time "$WORK/time.log")
    rsss+=("$rss")
  done
  echo "$(printf '%s\n' "${imports[@]}" | median) $(printf '%s\n' "${reads[@]}" | median)" \
    "$(printf '%s\n' "${computes[@]}" | median) $(( $(printf '%s\n' "${rsss[@]}" | largest) / 1024 ))"
}

echo "churnflow drift: $BIN ($(nproc) cores, load average $(load)), median of $REPEATS runs, largest peak RSS"
echo "generated 2.1M tables: $GENERATED_2M"
printf '%-10s %10s %8s %8s %8s %10s\n' tables rows columns wall CPU "peak RSS"
for kind in telco generated; do
  for rows in 100000 2100000; do
    read -r wall cpu rss compared < <(measure "$WORK/$kind-ref-$rows.parquet" "$WORK/$kind-cur-$rows.parquet")
    printf '%-10s %10s %8s %7.2fs %7.2fs %6s MiB\n' "$kind" "$rows" "$compared" "$wall" "$cpu" "$rss"
  done
done

if [ "$EVIDENTLY" != 0 ]; then
  echo
  echo "Evidently $(python3 -c 'import evidently; print(evidently.__version__)') DataDriftPreset (Report.run + snapshot.dict(), the tables read with pandas), median of $(( REPEATS / 2 > 0 ? REPEATS / 2 : 1 )) runs"
  printf '%-10s %10s %9s %9s %9s %10s\n' tables rows import read compute "peak RSS"
  for kind in telco generated; do
    id=$([ "$kind" = generated ] && echo customer_id || echo "")
    for rows in $EVIDENTLY_ROWS; do
      if [ ! -f "$WORK/$kind-ref-$rows.parquet" ]; then
        python3 "$BENCH/drift_tables.py" resample "$WORK/$kind-ref-2100000.parquet" "$rows" 5 "$WORK/$kind-ref-$rows.parquet"
        python3 "$BENCH/drift_tables.py" resample "$WORK/$kind-cur-2100000.parquet" "$rows" 6 "$WORK/$kind-cur-$rows.parquet"
      fi
      read -r imp rd comp rss < <(evidently "$WORK/$kind-ref-$rows.parquet" "$WORK/$kind-cur-$rows.parquet" "$id")
      printf '%-10s %10s %8.2fs %8.2fs %8.2fs %6s MiB\n' "$kind" "$rows" "$imp" "$rd" "$comp" "$rss"
    done
  done
fi
echo "load average at the end: $(load)"
