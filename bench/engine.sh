#!/usr/bin/env bash
# Engine speed: no-op repro/status on a 7-stage cmd pipeline, status after touching a 1 GiB
# dep, warm status with a 10,000-file directory dep. Prints medians (ms).
#
#   bash bench/engine.sh            # builds churnflow in release first
#   CHURNFLOW=/path/to/churnflow bash bench/engine.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
here="$ROOT"
bench_setup

now_ns() { date +%s%N; }
# median_ms RUNS CMD...: runs CMD RUNS times, prints the median wall time in ms.
median_ms() {
  local runs=$1; shift
  local times=()
  for _ in $(seq "$runs"); do
    local t0; t0=$(now_ns)
    "$@" >/dev/null 2>&1
    local t1; t1=$(now_ns)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}'
}

# 1. Seven cmd stages: a chain with two branches.
p="$work/seven"; mkdir -p "$p/data"
echo raw > "$p/data/raw.txt"
printf 'a:\n  x: 1\nb:\n  y: 2\n' > "$p/params.yaml"
cat > "$p/pipeline.yaml" <<'YAML'
stages:
  s1: {cmd: cp data/raw.txt o1.txt, deps: [data/raw.txt], outs: [o1.txt]}
  s2: {cmd: cp o1.txt o2.txt, deps: [o1.txt], outs: [o2.txt], params: [a.x]}
  s3: {cmd: cp o1.txt o3.txt, deps: [o1.txt], outs: [o3.txt], params: [b]}
  s4: {cmd: cat o2.txt o3.txt > o4.txt, deps: [o2.txt, o3.txt], outs: [o4.txt]}
  s5: {cmd: cp o4.txt o5.txt, deps: [o4.txt], outs: [o5.txt]}
  s6: {cmd: cp o4.txt o6.txt, deps: [o4.txt], outs: [o6.txt]}
  s7: {cmd: cat o5.txt o6.txt > o7.txt, deps: [o5.txt, o6.txt], outs: [o7.txt]}
YAML
(cd "$p" && "$CHURNFLOW" repro >/dev/null 2>&1)
sleep 2.5   # let fresh outs age past the racy-mtime window, as they would between real runs
(cd "$p" && "$CHURNFLOW" status >/dev/null)
echo "version:                         $(median_ms 30 "$CHURNFLOW" --version) ms"
echo "no-op repro (7 stages):          $(cd "$p" && median_ms 30 "$CHURNFLOW" repro) ms"
echo "status (7 stages):               $(cd "$p" && median_ms 30 "$CHURNFLOW" status) ms"

# 2. A 1 GiB dep, touched before each status (so it must be hashed again).
p="$work/big"; mkdir -p "$p/data"
head -c 1073741824 /dev/urandom > "$p/data/big.bin"
cat > "$p/pipeline.yaml" <<'YAML'
stages:
  size: {cmd: wc -c < data/big.bin > size.txt, deps: [data/big.bin], outs: [size.txt]}
YAML
(cd "$p" && "$CHURNFLOW" repro >/dev/null 2>&1)
touch_then_status() { touch "$p/data/big.bin"; (cd "$p" && "$CHURNFLOW" status); }
touch "$p/data/big.bin"; (cd "$p" && "$CHURNFLOW" status >/dev/null)   # page cache warm
t_touch=$(median_ms 7 touch "$p/data/big.bin")
t_both=$(median_ms 7 touch_then_status)
echo "status after touching 1 GiB dep: $(awk -v a="$t_both" -v b="$t_touch" 'BEGIN {printf "%.2f", a-b}') ms"

# 3. A directory dep of 10,000 files, warm cache.
p="$work/many"; mkdir -p "$p/data/files"
for i in $(seq 1 10000); do echo "$i" > "$p/data/files/f$i.txt"; done
cat > "$p/pipeline.yaml" <<'YAML'
stages:
  count: {cmd: ls data/files | wc -l > n.txt, deps: [data/files], outs: [n.txt]}
YAML
(cd "$p" && "$CHURNFLOW" repro >/dev/null 2>&1)
sleep 2.5
(cd "$p" && "$CHURNFLOW" status >/dev/null)
echo "warm status, 10,000-file dep:    $(cd "$p" && median_ms 20 "$CHURNFLOW" status) ms"
