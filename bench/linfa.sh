#!/usr/bin/env bash
# The decision tree's two learners on the same rows: N generated customers, the demo pipeline
# up to `split`, then `churnflow repro -s -f train` with algorithm decision_tree and
#   learner churnflow (the default: our CART on ≤ 256 bins per input), and
#   learner linfa     (linfa-trees' DecisionTree, converted into our tree),
# both at depth DEPTH, min 20 rows per leaf, balanced class weights. Times the whole train stage
# (read the Parquet, encode, fit, write and store the model file), REPEATS runs each; reports
# the test AUC from `evaluate` and whether every run wrote the same model bytes.
#
#   bash bench/linfa.sh [CUSTOMERS=100000] [REPEATS=3] [DEPTH=6]
# Builds churnflow in release unless CHURNFLOW=/path/to/churnflow names a binary.
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
DEPTH="${3:-6}"
source "$(dirname "$0")/common.sh"
bench_setup
cp "$ROOT/pipeline.yaml" "$work/"
params() {
  python3 - "$ROOT/params.yaml" "$work/params.yaml" "$1" "$DEPTH" <<'EOF'
import re, sys
src, dst, learner, depth = sys.argv[1:]
text = open(src).read()
train = f"""train:
  algorithm: decision_tree
  learner: {learner}
  class_weight: balanced
  max_depth: {depth}
  min_samples_leaf: 20
  seed: 42
"""
text = re.sub(r"^train:\n(?:[ #].*\n)*", train, text, flags=re.M)
open(dst, "w").write(text)
EOF
}
params churnflow
"$BIN" -C "$work" generate --customers "$N" --seed 42 --out data/raw >/dev/null
"$BIN" -C "$work" repro -q split
echo "customers: $N; decision_tree depth $DEPTH, min 20 rows per leaf, balanced; $(nproc) cores; medians of $REPEATS"
for learner in churnflow linfa; do
  params "$learner"
  times=()
  same=yes
  for i in $(seq "$REPEATS"); do
    t0=$(date +%s%N)
    "$BIN" -C "$work" repro -q -s -f train
    t1=$(date +%s%N)
    times+=("$(python3 -c "print(f'{($t1 - $t0) / 1e9:.3f}')")")
    if [ "$i" -gt 1 ] && ! cmp -s "$work/models/model.json" "$work/first.json"; then same=no; fi
    cp "$work/models/model.json" "$work/first.json"
  done
  "$BIN" -C "$work" repro -q -s evaluate
  auc=$(python3 -c "import json; print(f\"{json.load(open('$work/reports/metrics.json'))['auc_roc']:.4f}\")")
  rows=$(python3 -c "import json; print(json.load(open('$work/models/model.json'))['lineage']['training_rows'])")
  nodes=$(python3 -c "import json; print(len(json.load(open('$work/models/model.json'))['estimator']['tree']['feature']))")
  distinct=$(python3 -c "import csv; print(len({r['probability'] for r in csv.DictReader(open('/dev/stdin'))}))" \
    < <("$BIN" -C "$work" score --model models/model.json --input data/test.parquet --output "$work/s.csv" >/dev/null && sed '1s/churn_probability/probability/' "$work/s.csv"))
  echo "learner $learner: train stage on $rows rows $(median "${times[@]}") s (runs: ${times[*]}); test AUC $auc; $nodes nodes, $distinct distinct test probabilities; same bytes every run: $same"
done
