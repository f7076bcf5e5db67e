#!/usr/bin/env python3
"""DVC stage prepare: data/interim -> data/processed (split, demo tables).

Reads data/interim/customer_churn.csv and data/interim/customers.csv; writes
  data/processed/train.csv           training rows (id, features, churned)
  data/processed/holdout.csv         held-out rows, same columns
  data/processed/customer_churn.csv  every labelled row, the four features and
                                     churned only: the table
                                     public.customer_churn that the retraining
                                     profile (config/config_local.yml) trains
                                     on; the demo loads it
  data/processed/customers.csv       the rows the demo scores (id, features)

The holdout is a seeded random permutation (params.yaml, section prepare:
seed, holdout_fraction), stratified by the label so both sides keep the
churn rate; rows are written in id order.
"""

import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FEATURES, LABEL, params, write_csv  # noqa: E402


def main():
    p = params("prepare")
    rng = np.random.default_rng(p["seed"])
    history = pd.read_csv("data/interim/customer_churn.csv")
    holdout_ids = []
    for label in (0, 1):
        ids = history.loc[history[LABEL] == label, "id"].to_numpy()
        ids = ids[rng.permutation(len(ids))]
        holdout_ids.extend(ids[: int(round(len(ids) * p["holdout_fraction"]))].tolist())
    in_holdout = history["id"].isin(holdout_ids)
    cols = ["id"] + FEATURES + [LABEL]
    write_csv("data/processed/train.csv", history[~in_holdout], cols)
    write_csv("data/processed/holdout.csv", history[in_holdout], cols)
    write_csv("data/processed/customer_churn.csv", history, FEATURES + [LABEL])
    current = pd.read_csv("data/interim/customers.csv")
    write_csv("data/processed/customers.csv", current, ["id"] + FEATURES)
    print(f"prepare: {int((~in_holdout).sum())} training rows, {int(in_holdout.sum())} held out")


if __name__ == "__main__":
    main()
