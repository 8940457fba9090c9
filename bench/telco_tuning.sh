#!/usr/bin/env bash
# examples/telco, mean test AUC over split seeds 0–9 for each algorithm, before and after
# cross-validated tuning (`train.tune`), through `churnflow exp run`:
#   before — the example's params as shipped, only `train.algorithm` changed;
#   after  — the same, plus a `tune` section (a random search of TRIALS candidates scored by
#            5-fold CV AUC on each seed's train split; the spaces are below) and the train
#            stage's `tuning` report.
# The test split of each seed is read only by `evaluate`, after the search has chosen.
#
#   bash bench/telco_tuning.sh [TRIALS=20] [JOBS=2]
# Builds churnflow in release unless CHURNFLOW=/path/to/churnflow names a binary.
set -euo pipefail
TRIALS="${1:-20}"
JOBS="${2:-2}"
source "$(dirname "$0")/common.sh"
bench_setup
algorithms=(logistic_regression decision_tree random_forest gradient_boosting)

# The search space of each algorithm (YAML under `train.tune.space`).
space() {
  case "$1" in
    logistic_regression) echo '{l2: {loguniform: [0.01, 100]}, log_terms: [true, false], class_weight: [balanced, none]}' ;;
    decision_tree) echo '{max_depth: {range: [2, 11]}, min_samples_leaf: [5, 10, 20, 40, 80, 160]}' ;;
    random_forest) echo '{max_depth: [6, 8, 10, 12, 16], min_samples_leaf: [1, 3, 5, 10, 20, 40], max_features: [sqrt, 0.2, 0.35, 0.5]}' ;;
    gradient_boosting) echo '{learning_rate: {loguniform: [0.01, 0.2]}, max_leaves: [4, 8, 15, 31], min_samples_leaf: [10, 20, 40, 80], l2: {loguniform: [0.1, 30]}, subsample: [0.7, 0.85, 1.0], colsample: [0.5, 0.75, 1.0]}' ;;
  esac
}

# project DIR ALGORITHM [tuned]: a copy of examples/telco training ALGORITHM.
project() {
  mkdir -p "$1/data"
  cp "$ROOT/examples/telco/pipeline.yaml" "$1/"
  cp "$ROOT/examples/telco/data/telco.csv" "$1/data/"
  python3 - "$ROOT/examples/telco/params.yaml" "$1" "$2" "${3:-}" "$TRIALS" "$(space "$2")" <<'PY'
import re, sys
src, dst, algorithm, tuned, trials, space = sys.argv[1:]
params = open(src).read()
params, n = re.subn(r"^  algorithm: \w+", f"  algorithm: {algorithm}", params, count=1, flags=re.M)
assert n == 1, "examples/telco/params.yaml has no train.algorithm"
if tuned:
    tune = f"  tune:\n    search: random\n    trials: {trials}\n    cv: 5\n    seed: 0\n    space: {space}\n"
    params = params.replace("\nevaluation:", "\n" + tune + "evaluation:", 1)
    pipeline = open(f"{dst}/pipeline.yaml").read()
    old = "      model: models/model.json\n"
    assert old in pipeline, "examples/telco/pipeline.yaml's train stage changed"
    open(f"{dst}/pipeline.yaml", "w").write(pipeline.replace(old, old + "      tuning: reports/tuning.json\n", 1))
open(f"{dst}/params.yaml", "w").write(params)
PY
}

summary() {
  python3 - "$@" <<'PY'
import json, statistics, sys
for path in sys.argv[1:]:
    exps = json.load(open(path))["experiments"]
    failed = [e["name"] for e in exps if e["status"] != "succeeded"]
    auc = [e["metrics"]["reports/metrics.json"]["auc_roc"] for e in exps if e["status"] == "succeeded"]
    cv = [e["metrics"].get("reports/tuning.json", {}).get("best_cv_auc_mean") for e in exps if e["status"] == "succeeded"]
    cv = [c for c in cv if c is not None]
    line = f"mean {statistics.mean(auc):.4f} ± {statistics.stdev(auc):.4f} (min {min(auc):.4f}, max {max(auc):.4f}, {len(auc)} seeds)"
    if cv:
        line += f"; mean best CV AUC {statistics.mean(cv):.4f}"
    if failed:
        line += f"; FAILED: {failed}"
    print(line)
PY
}

echo "examples/telco, split seeds 0-9, test AUC; tuning: random search, $TRIALS trials, 5-fold CV; $(nproc) cores"
printf '%-20s | %-52s | %s\n' algorithm before after
for algorithm in "${algorithms[@]}"; do
  project "$work/before-$algorithm" "$algorithm"
  project "$work/after-$algorithm" "$algorithm" tuned
  "$BIN" -C "$work/before-$algorithm" -q exp run -S 'split.seed=range(0,10)' -j "$JOBS" --json >"$work/before-$algorithm.json"
  t0=$(date +%s%N)
  "$BIN" -C "$work/after-$algorithm" -q exp run -S 'split.seed=range(0,10)' -j "$JOBS" --json >"$work/after-$algorithm.json"
  t1=$(date +%s%N)
  printf '%-20s | %-52s | %s (%d s)\n' "$algorithm" "$(summary "$work/before-$algorithm.json")" \
    "$(summary "$work/after-$algorithm.json")" $(( (t1 - t0) / 1000000000 ))
  python3 - "$work/after-$algorithm.json" <<'PY'
import json, collections, sys
exps = json.load(open(sys.argv[1]))["experiments"]
# The params each seed's search chose, from the tuned model files' summaries via the report.
chosen = collections.Counter()
for e in exps:
    best = e["metrics"].get("reports/tuning.json", {})
    for k, v in best.items():
        if k.startswith("best_params."):
            chosen[f"{k[len('best_params.'):]}={v}"] += 1
if chosen:
    print("    chosen most often: " + ", ".join(f"{k} ({n}x)" for k, n in chosen.most_common(6)))
PY
done
