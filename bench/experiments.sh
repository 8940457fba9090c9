#!/usr/bin/env bash
# A 20-point train sweep (`exp run -S 'train.l2=…' -j 2`) on the demo with CUSTOMERS generated
# customers, twice per round:
#   cold — on a workspace that never ran: one upstream computation (ingest, validate,
#          features, split, shared by all 20 experiments), then 20 trainings, evaluations
#          and drift reports;
#   warm — after `repro`: the 20 experiments only.
# Prints the medians of REPEATS rounds and how many times each stage ran in the last one.
#
#   bash bench/experiments.sh [CUSTOMERS=100000] [REPEATS=3] [JOBS=2]
# Builds churnflow in release unless CHURNFLOW=/path/to/churnflow names a binary.
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
JOBS="${3:-2}"
source "$(dirname "$0")/common.sh"
bench_setup
mkdir "$work/data"
"$BIN" -C "$work/data" generate --customers "$N" --seed 42 --out raw >/dev/null
sweep='train.l2=0.01,0.02,0.05,0.1,0.2,0.3,0.5,0.7,1,1.5,2,3,5,7,10,15,20,30,50,100'

fresh_project() {
  rm -rf "$work/project" && mkdir -p "$work/project/data"
  cp "$ROOT/pipeline.yaml" "$ROOT/params.yaml" "$work/project/"
  cp -r "$work/data/raw" "$work/project/data/raw"
}
ms() { echo $(( ($2 - $1) / 1000000 )); }
cold=() ; warm=() ; repro=()
for _ in $(seq "$REPEATS"); do
  fresh_project
  t0=$(date +%s%N); "$BIN" -C "$work/project" -q exp run -S "$sweep" -j "$JOBS" --json >"$work/cold.json"; t1=$(date +%s%N)
  cold+=($(ms "$t0" "$t1"))
  fresh_project
  t0=$(date +%s%N); "$BIN" -C "$work/project" -q repro; t1=$(date +%s%N)
  repro+=($(ms "$t0" "$t1"))
  t0=$(date +%s%N); "$BIN" -C "$work/project" -q exp run -S "$sweep" -j "$JOBS" --json >"$work/warm.json"; t1=$(date +%s%N)
  warm+=($(ms "$t0" "$t1"))
done
runs() {
  python3 - "$1" <<'PY'
import json, sys, collections
exps = json.load(open(sys.argv[1]))["experiments"]
ran = collections.Counter(s for e in exps for s in e["stages"]["ran"])
ok = sum(e["status"] == "succeeded" for e in exps)
auc = sorted(e["metrics"]["reports/metrics.json"]["auc_roc"] for e in exps if e["status"] == "succeeded")
print(f"{len(exps)} experiments, {ok} succeeded; runs per stage: {dict(sorted(ran.items()))}; "
      f"test AUC {auc[0]:.4f}..{auc[-1]:.4f}")
PY
}
echo "customers: $N, experiments at once: $JOBS, cores: $(nproc), rounds: $REPEATS"
echo "cold sweep (upstream once + 20 experiments): median $(median "${cold[@]}") ms  [${cold[*]}]"
echo "  $(runs "$work/cold.json")"
echo "repro of the workspace alone, for scale:     median $(median "${repro[@]}") ms  [${repro[*]}]"
echo "warm sweep (20 experiments after repro):     median $(median "${warm[@]}") ms  [${warm[*]}]"
echo "  $(runs "$work/warm.json")"
