#!/usr/bin/env python3
"""Inputs for bench/drift.sh, and Evidently's side of its comparison.

Needs numpy, pandas and pyarrow (`pip install numpy pandas pyarrow`); the `evidently`
command also needs Evidently 0.7 (`pip install "evidently>=0.7,<0.8"`). `check [evidently]`
exits 3 with the pip command when something is missing.

    drift_tables.py check [evidently]
    drift_tables.py telco TELCO_CSV ROWS SEED OUT.parquet
        The Telco sample's 19 feature columns (customerID and Churn dropped) resampled with
        replacement to ROWS rows. TotalCharges is read as churnflow reads the CSV: a number,
        its blank cells missing (pandas alone would keep the column as strings).
    drift_tables.py resample TABLE.parquet ROWS SEED OUT.parquet
        The rows of a table resampled with replacement to ROWS rows.
    drift_tables.py evidently REFERENCE.parquet CURRENT.parquet [ID_COLUMN]
        Evidently's DataDriftPreset on the two tables (every column but ID_COLUMN; numbers
        numerical, everything else categorical). Prints one line:
        `import_s=… read_s=… compute_s=… drifted=…/…`; run it under /usr/bin/time for the
        peak RSS.
"""

import sys
import time

NEEDS = {"numpy": "numpy", "pandas": "pandas", "pyarrow": "pyarrow"}


def check(with_evidently):
    import importlib

    missing = []
    for module in list(NEEDS) + (["evidently"] if with_evidently else []):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if with_evidently and "evidently" not in missing:
        import evidently

        if not evidently.__version__.startswith("0.7."):
            missing.append(f"evidently (found {evidently.__version__}, the comparison is with 0.7)")
    if missing:
        wanted = ["numpy", "pandas", "pyarrow"] + (['"evidently>=0.7,<0.8"'] if with_evidently else [])
        print(
            f"missing Python packages: {', '.join(missing)} (pip install {' '.join(wanted)})",
            file=sys.stderr,
        )
        sys.exit(3)


def resampled(frame, rows, seed):
    import numpy as np

    picks = np.random.default_rng(seed).integers(0, len(frame), rows)
    return frame.iloc[picks].reset_index(drop=True)


def telco(src, rows, seed, out):
    import pandas as pd

    frame = pd.read_csv(src, float_precision="round_trip").drop(columns=["customerID", "Churn"])
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"].str.strip().replace("", None))
    resampled(frame, rows, seed).to_parquet(out, index=False)


def resample(src, rows, seed, out):
    import pandas as pd

    resampled(pd.read_parquet(src), rows, seed).to_parquet(out, index=False)


def run_evidently(reference, current, id_column=None):
    t0 = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    t1 = time.perf_counter()
    ref = pd.read_parquet(reference)
    cur = pd.read_parquet(current)
    t2 = time.perf_counter()
    columns = [c for c in ref.columns if c != id_column and c in cur.columns]
    numerical = [c for c in columns if ref[c].dtype.kind in "iuf"]
    categorical = [c for c in columns if c not in numerical]
    definition = DataDefinition(
        id_column=id_column, numerical_columns=numerical, categorical_columns=categorical
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    result = snapshot.dict()
    t3 = time.perf_counter()
    count = next(
        m["value"] for m in result["metrics"] if m["metric_name"].startswith("DriftedColumnsCount")
    )
    print(
        f"import_s={t1 - t0:.3f} read_s={t2 - t1:.3f} compute_s={t3 - t2:.3f} "
        f"drifted={count['count']:.0f}/{len(columns)}"
    )


def main(argv):
    if not argv:
        sys.exit(__doc__)
    command, args = argv[0], argv[1:]
    if command == "check":
        check(args == ["evidently"])
    elif command == "telco" and len(args) == 4:
        check(False)
        telco(args[0], int(args[1]), int(args[2]), args[3])
    elif command == "resample" and len(args) == 4:
        check(False)
        resample(args[0], int(args[1]), int(args[2]), args[3])
    elif command == "evidently" and len(args) in (2, 3):
        try:  # not `check` first: it would import evidently before the import is timed
            run_evidently(*args)
        except ImportError:
            check(True)
            raise
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
