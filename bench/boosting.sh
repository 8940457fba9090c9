#!/usr/bin/env bash
# Gradient boosting against LightGBM on the same rows: N generated customers (the demo's
# features, ~40 model inputs after one-hot encoding), the demo pipeline up to `split`, then
#   ours:     `churnflow repro -s -f train` with algorithm gradient_boosting (the whole stage:
#             read the Parquet, encode, bin, boost, write and store the model file);
#   LightGBM: read the same train.parquet, encode it as our model does (one-hot over the
#             training categories, missing numbers → training median), Dataset + train.
# Both at the same trees, leaves, depth, learning rate, min rows per leaf, min hessian, L2, 256
# bins, unweighted, no early stopping, all cores. Prints the median wall times of REPEATS runs
# and both test AUCs (ours from `evaluate`, LightGBM's from scikit-learn on the same test split).
#
#   bash bench/boosting.sh [CUSTOMERS=100000] [REPEATS=3] [TREES=100] [LEAVES=31] [DEPTH=12] [RATE=0.1]
# Builds churnflow in release unless CHURNFLOW=/path/to/churnflow names a binary. Installs
# LightGBM into the user's Python (pip --user) when it is missing.
set -euo pipefail
N="${1:-100000}"
REPEATS="${2:-3}"
TREES="${3:-100}"
LEAVES="${4:-31}"
DEPTH="${5:-12}"
RATE="${6:-0.1}"
source "$(dirname "$0")/common.sh"
bench_setup
python3 -c "import lightgbm, pandas, pyarrow, sklearn" 2>/dev/null ||
  python3 -m pip install --user --quiet lightgbm pandas pyarrow scikit-learn
cp "$ROOT/pipeline.yaml" "$work/"
# The demo's params with the train section replaced (the other sections as in the demo).
python3 - "$ROOT/params.yaml" "$work/params.yaml" "$TREES" "$LEAVES" "$DEPTH" "$RATE" <<'EOF'
import re, sys
src, dst, trees, leaves, depth, rate = sys.argv[1:]
text = open(src).read()
train = f"""train:
  algorithm: gradient_boosting
  class_weight: none
  n_trees: {trees}
  max_leaves: {leaves}
  max_depth: {depth}
  learning_rate: {rate}
  min_samples_leaf: 20
  min_child_weight: 0.001
  l2: 1.0
  early_stopping_rounds: 0
  seed: 42
"""
text = re.sub(r"^train:\n(?:[ #].*\n)*", train, text, flags=re.M)
open(dst, "w").write(text)
EOF
"$BIN" -C "$work" generate --customers "$N" --seed 42 --out data/raw >/dev/null
"$BIN" -C "$work" repro -q split
ours=()
for _ in $(seq "$REPEATS"); do
  t0=$(date +%s%N)
  "$BIN" -C "$work" repro -q -s -f train
  t1=$(date +%s%N)
  ours+=("$(python3 -c "print(f'{($t1 - $t0) / 1e9:.3f}')")")
done
"$BIN" -C "$work" repro -q -s evaluate
our_auc=$(python3 -c "import json; print(f\"{json.load(open('$work/reports/metrics.json'))['auc_roc']:.4f}\")")
trees_kept=$(python3 -c "import json; print(len(json.load(open('$work/models/model.json'))['estimator']['trees']))")

python3 - "$work" "$REPEATS" "$TREES" "$LEAVES" "$DEPTH" "$RATE" >"$work/lightgbm.txt" <<'EOF'
import os, sys, time
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

work, repeats, trees, leaves, depth, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])

def encode(train, test):
    """As churnflow's model does: one-hot over the training categories, missing → median."""
    y_tr, y_te = train.pop("churned").to_numpy(), test.pop("churned").to_numpy()
    id_col = train.columns[0]
    train, test = train.drop(columns=[id_col]), test.drop(columns=[id_col])
    cols_tr, cols_te = [], []
    for c in train.columns:
        if not pd.api.types.is_numeric_dtype(train[c].dtype):  # object, str (pandas 3), category
            for v in sorted(train[c].dropna().astype(str).str.strip().unique()):
                cols_tr.append((train[c].astype(str).str.strip() == v).to_numpy(np.float64))
                cols_te.append((test[c].astype(str).str.strip() == v).to_numpy(np.float64))
        else:
            x_tr, x_te = train[c].astype(np.float64), test[c].astype(np.float64)
            m = x_tr.median()
            cols_tr.append(x_tr.fillna(m).to_numpy())
            cols_te.append(x_te.fillna(m).to_numpy())
    return np.column_stack(cols_tr), y_tr, np.column_stack(cols_te), y_te

params = dict(objective="binary", num_leaves=leaves, max_depth=depth, learning_rate=rate,
              min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3, lambda_l2=1.0, max_bin=256,
              num_threads=os.cpu_count(), deterministic=True, force_col_wise=True, verbose=-1, seed=42)
fits, totals = [], []
for _ in range(repeats):
    t0 = time.perf_counter()
    X, y, Xt, yt = encode(pd.read_parquet(f"{work}/data/train.parquet"), pd.read_parquet(f"{work}/data/test.parquet"))
    t1 = time.perf_counter()
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=trees)
    t2 = time.perf_counter()
    fits.append(t2 - t1)
    totals.append(t2 - t0)
auc = roc_auc_score(yt, booster.predict(Xt))
print(f"lgb_fit {np.median(fits):.3f}")
print(f"lgb_total {np.median(totals):.3f}")
print(f"lgb_auc {auc:.4f}")
print(f"lgb_inputs {X.shape[1]}")
print(f"lgb_rows {X.shape[0]}")
print(f"lgb_version {lgb.__version__}")
EOF
field() { awk -v k="$1" '$1 == k {print $2}' "$work/lightgbm.txt"; }
echo "customers: $N ($(field lgb_rows) train rows, $(field lgb_inputs) inputs); $TREES trees, $LEAVES leaves, depth $DEPTH, learning rate $RATE; $(nproc) cores; medians of $REPEATS"
echo "churnflow gradient_boosting, whole train stage:   $(median "${ours[@]}") s   test AUC $our_auc ($trees_kept trees)"
echo "LightGBM $(field lgb_version), Dataset + train:           $(field lgb_fit) s   test AUC $(field lgb_auc)"
echo "LightGBM, read Parquet + encode + Dataset + train:  $(field lgb_total) s"
