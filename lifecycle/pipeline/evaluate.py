#!/usr/bin/env python3
"""DVC stage evaluate: models/churn on data/processed -> reports/metrics.json.

Scores the training and holdout rows with models/churn/model.json exactly as
og_predict does (1 / (1 + exp(-(intercept + w.x)))) and writes the metrics
og_evaluate computes for a binary model (accuracy, precision, recall at 0.5,
roc_auc, log_loss) for both, rounded to params evaluate.decimals, to
reports/metrics.json (a DVC metrics file: `dvc metrics show`, `dvc metrics
diff`).
"""

import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, precision_score, recall_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FEATURES, LABEL, params, write_json  # noqa: E402


def metrics(model, frame, d):
    x = frame[model["feature_names"]].to_numpy(dtype=float)
    y = frame[LABEL].to_numpy(dtype=int)
    p = 1.0 / (1.0 + np.exp(-(model["intercept"] + x @ np.asarray(model["weights"], dtype=float))))
    pred = (p >= 0.5).astype(int)
    return {
        "rows": int(len(y)),
        "churn_rate": round(float(y.mean()), d),
        "accuracy": round(float(accuracy_score(y, pred)), d),
        "precision": round(float(precision_score(y, pred, zero_division=0)), d),
        "recall": round(float(recall_score(y, pred, zero_division=0)), d),
        "roc_auc": round(float(roc_auc_score(y, p)), d),
        "log_loss": round(float(log_loss(y, p, labels=[0, 1])), d),
    }


def main():
    d = params("evaluate")["decimals"]
    with open("models/churn/model.json", encoding="utf-8") as f:
        model = json.load(f)
    assert model["feature_names"] == FEATURES, model["feature_names"]
    out = {
        "model": "models/churn",
        "holdout": metrics(model, pd.read_csv("data/processed/holdout.csv"), d),
        "train": metrics(model, pd.read_csv("data/processed/train.csv"), d),
    }
    write_json("reports/metrics.json", out)
    print("evaluate: holdout " + ", ".join(f"{k} {v}" for k, v in out["holdout"].items()))


if __name__ == "__main__":
    main()
