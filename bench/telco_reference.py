#!/usr/bin/env python3
"""scikit-learn next to churnflow on examples/telco: the same metrics, the same split.

Run after `churnflow repro` in a copy of examples/telco (the default DIR), with scikit-learn,
pandas and pyarrow installed (`pip install scikit-learn pandas pyarrow`):

    python3 bench/telco_reference.py [DIR]

It prints
1. churnflow's AUC, PR-AUC (average precision) and log-loss from reports/metrics.json next
   to scikit-learn's on the same predictions (reports/predictions.parquet) and the largest
   difference, which should be below 1e-9;
2. the test AUC of several scikit-learn models trained on churnflow's own train split
   (data/train.parquet) and scored on its test split (data/test.parquet), to show what this
   split allows;
3. the test AUC of a logistic regression over ten other stratified 25 % splits of
   data/features.parquet, to show how much the figure moves with the split alone.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ID, LABEL = "customer_id", "churned"


def preprocess(frame):
    numeric = [c for c in frame.columns if c not in (ID, LABEL) and frame[c].dtype.kind in "if"]
    categorical = [c for c in frame.columns if c not in (ID, LABEL) and c not in numeric]
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )


def models(frame):
    return {
        "logistic regression (balanced, C=1)": make_pipeline(
            preprocess(frame), LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
        ),
        "logistic regression (unweighted, C=1)": make_pipeline(
            preprocess(frame), LogisticRegression(C=1.0, max_iter=5000)
        ),
        "random forest (200 trees, leaf 20)": make_pipeline(
            preprocess(frame),
            RandomForestClassifier(n_estimators=200, min_samples_leaf=20, random_state=42, n_jobs=-1),
        ),
        "histogram gradient boosting": make_pipeline(
            preprocess(frame), HistGradientBoostingClassifier(learning_rate=0.05, max_iter=200, random_state=42)
        ),
    }


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/telco")
    metrics = json.loads((root / "reports/metrics.json").read_text())
    predictions = pd.read_parquet(root / "reports/predictions.parquet")
    y, p = predictions[LABEL].to_numpy(), predictions["probability"].to_numpy()
    ours = {"auc_roc": metrics["auc_roc"], "pr_auc": metrics["pr_auc"], "log_loss": metrics["log_loss"]}
    theirs = {"auc_roc": roc_auc_score(y, p), "pr_auc": average_precision_score(y, p), "log_loss": log_loss(y, p)}
    print(f"1. metrics on churnflow's {len(y)} test predictions")
    for name in ours:
        print(f"   {name:9} churnflow {ours[name]:.12f}  scikit-learn {theirs[name]:.12f}")
    print(f"   largest difference {max(abs(ours[k] - theirs[k]) for k in ours):.2e}")

    train = pd.read_parquet(root / "data/train.parquet")
    test = pd.read_parquet(root / "data/test.parquet")
    print(f"\n2. scikit-learn on churnflow's split ({len(train)} train, {len(test)} test rows)")
    print(f"   {'churnflow (reports/metrics.json)':40} AUC {metrics['auc_roc']:.4f}")
    for name, model in models(train).items():
        model.fit(train.drop(columns=[ID, LABEL]), train[LABEL])
        score = model.predict_proba(test.drop(columns=[ID, LABEL]))[:, 1]
        print(f"   {name:40} AUC {roc_auc_score(test[LABEL], score):.4f}")

    features = pd.read_parquet(root / "data/features.parquet")
    aucs = []
    for seed in range(10):
        tr, te = train_test_split(features, test_size=0.25, stratify=features[LABEL], random_state=seed)
        model = models(tr)["logistic regression (balanced, C=1)"]
        model.fit(tr.drop(columns=[ID, LABEL]), tr[LABEL])
        aucs.append(roc_auc_score(te[LABEL], model.predict_proba(te.drop(columns=[ID, LABEL]))[:, 1]))
    aucs = np.array(aucs)
    print("\n3. logistic regression over stratified 25 % splits with seeds 0..9")
    print("   AUC " + " ".join(f"{a:.4f}" for a in aucs))
    print(f"   mean {aucs.mean():.4f}, min {aucs.min():.4f}, max {aucs.max():.4f}")


if __name__ == "__main__":
    main()
