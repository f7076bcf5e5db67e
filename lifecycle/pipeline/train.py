#!/usr/bin/env python3
"""DVC stage train: data/processed/train.csv -> models/churn (og_model flavor).

Fits the churn model, a binary logistic regression of the four features
(scikit-learn's LogisticRegression, lbfgs, L2 penalty C; params.yaml section
train), and writes it as an MLflow model directory in og_model's own format
(README, "Model format"), which ./setup.sh demo registers in MLflow:

  models/churn/model.json  kind linear, link logistic, intercept, weights and
                           feature_names in the order tenure_months,
                           monthly_charges, support_calls, contract_years,
                           and reference: the training histograms of the
                           features (nearest-rank quantile edges, as
                           og_set_reference and og_train compute them)
  models/churn/MLmodel     the og_model flavor and the signature

The features are standardised for the fit and the coefficients mapped back to
the raw scale, so the model scores raw feature values.  Numbers are rounded
(params train.decimals) so that a run writes the same bytes every time.
"""

import hashlib
import json
import os
import sys
import uuid

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FEATURES, LABEL, params  # noqa: E402

OUT = "models/churn"


def reference(values, bins):
    """Nearest-rank quantile edges (duplicates merged) and bin fractions."""
    v = np.sort(np.asarray(values, dtype=float))
    m = len(v)
    edges = []
    for k in range(bins + 1):
        q = v[int(k * (m - 1) / bins + 0.5)]
        if not edges or q > edges[-1]:
            edges.append(float(q))
    if len(edges) == 1:
        edges.append(edges[0])
    nb = len(edges) - 1
    # bin of x: the largest i < nb with edges[i] <= x
    idx = np.searchsorted(np.array(edges[:nb]), v, side="right") - 1
    counts = np.bincount(np.clip(idx, 0, nb - 1), minlength=nb)
    return edges, (counts / m).tolist()


def num(x, decimals):
    x = round(float(x), decimals)
    return int(x) if x == int(x) else x


def main():
    p = params("train")
    d = p["decimals"]
    train = pd.read_csv("data/processed/train.csv")
    x = train[FEATURES].to_numpy(dtype=float)
    y = train[LABEL].to_numpy(dtype=int)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    clf = LogisticRegression(C=p["C"], max_iter=p["max_iter"], tol=p["tol"], solver="lbfgs")
    clf.fit((x - mean) / std, y)
    w = clf.coef_[0] / std
    b = clf.intercept_[0] - float(np.sum(clf.coef_[0] * mean / std))

    ref = []
    for j, name in enumerate(FEATURES):
        edges, fractions = reference(x[:, j], p["bins"])
        ref.append({"name": name, "edges": [num(e, d) for e in edges],
                    "fractions": [num(f, d) for f in fractions]})
    model = {
        "kind": "linear",
        "link": "logistic",
        "intercept": num(b, d),
        "weights": [num(v, d) for v in w],
        "feature_names": FEATURES,
        "reference": {"features": ref},
    }
    # One line per key, one per reference feature: readable diffs, stable bytes.
    lines = ["{"]
    items = list(model.items())
    for i, (k, v) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        if k == "reference":
            lines.append('  "reference": {"features": [')
            for j, f in enumerate(ref):
                lines.append("    " + json.dumps(f) + ("," if j < len(ref) - 1 else ""))
            lines.append("  ]}" + sep)
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v)}{sep}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # well-formed
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "model.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)

    inputs = json.dumps([{"type": "double", "name": n, "required": True} for n in FEATURES])
    outputs = json.dumps([{"type": "double", "name": "churn_probability", "required": True}])
    # A model_uuid derived from the model's bytes: same model, same uuid.
    model_uuid = uuid.UUID(hashlib.sha256(text.encode()).hexdigest()[:32]).hex
    mlmodel = (
        "artifact_path: model\n"
        "flavors:\n"
        "  og_model:\n"
        "    data: model.json\n"
        "    og_model_version: 0.1.0\n"
        f"model_uuid: {model_uuid}\n"
        "signature:\n"
        f"  inputs: '{inputs}'\n"
        f"  outputs: '{outputs}'\n"
        "  params: null\n"
    )
    with open(os.path.join(OUT, "MLmodel"), "w", encoding="utf-8", newline="\n") as f:
        f.write(mlmodel)
    print(f"train: {len(train)} rows, intercept {model['intercept']}, weights {model['weights']}")


if __name__ == "__main__":
    main()
