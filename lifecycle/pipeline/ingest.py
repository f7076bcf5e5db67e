#!/usr/bin/env python3
"""DVC stage ingest: data/raw -> data/interim (clean, join the outcomes).

Reads
  data/raw/past_customers.csv  past customers (id + the four features)
  data/raw/churn_outcomes.csv  outcome per customer (latest record wins)
  data/raw/customers.csv       current customers, scored by the demo
Writes
  data/interim/customer_churn.csv  past customers with a known outcome:
                                   id, the four features, churned (0/1)
  data/interim/customers.csv       the current customers, cleaned
  reports/ingest.json              how many rows each cleaning rule dropped

Cleaning (bounds from params.yaml, section ingest): exact duplicate rows
are dropped; rows with a missing or non-numeric feature, a value out of
bounds, or an id that is still duplicated are dropped; outcomes other than
churned/retained are dropped, and a customer's latest record wins.
"""

import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FEATURES, LABEL, params, write_csv, write_json  # noqa: E402


def clean_features(frame, bounds, counts, what):
    frame = frame.drop_duplicates()
    counts[f"{what}_duplicate_rows"] = int(counts[f"{what}_rows"] - len(frame))
    for col in ["id"] + FEATURES:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    missing = frame[["id"] + FEATURES].isna().any(axis=1)
    counts[f"{what}_missing_values"] = int(missing.sum())
    frame = frame[~missing]
    ok = pd.Series(True, index=frame.index)
    for col in FEATURES:
        lo, hi = bounds[col]
        ok &= frame[col].between(lo, hi)
    ok &= frame["contract_years"].isin(bounds["contract_years_values"])
    counts[f"{what}_out_of_bounds"] = int((~ok).sum())
    frame = frame[ok]
    dup_id = frame["id"].duplicated(keep=False)
    counts[f"{what}_conflicting_ids"] = int(dup_id.sum())
    frame = frame[~dup_id].astype({"id": "int64"})
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def main():
    p = params("ingest")
    counts = {}

    past = pd.read_csv("data/raw/past_customers.csv", dtype=str, keep_default_na=False,
                       na_values=[""])
    counts["past_rows"] = len(past)
    past = clean_features(past, p["bounds"], counts, "past")

    outcomes = pd.read_csv("data/raw/churn_outcomes.csv", dtype=str)
    counts["outcome_records"] = len(outcomes)
    outcomes["outcome"] = outcomes["outcome"].str.strip().str.lower()
    known = outcomes["outcome"].isin(["churned", "retained"])
    counts["outcome_unknown_values"] = int((~known).sum())
    outcomes = outcomes[known].copy()
    outcomes["customer_id"] = pd.to_numeric(outcomes["customer_id"], errors="raise").astype("int64")
    outcomes = (outcomes.sort_values(["customer_id", "recorded_on"], kind="stable")
                .drop_duplicates("customer_id", keep="last"))
    counts["outcome_superseded_records"] = int(counts["outcome_records"]
                                               - counts["outcome_unknown_values"] - len(outcomes))
    outcomes[LABEL] = (outcomes["outcome"] == "churned").astype("int64")

    history = past.merge(outcomes[["customer_id", LABEL]], left_on="id",
                         right_on="customer_id", how="inner", validate="one_to_one")
    counts["past_without_outcome"] = int(len(past) - len(history))
    history = history.sort_values("id", kind="stable")
    counts["customer_churn_rows"] = len(history)
    counts["customer_churn_churned"] = int(history[LABEL].sum())
    write_csv("data/interim/customer_churn.csv", history, ["id"] + FEATURES + [LABEL])

    current = pd.read_csv("data/raw/customers.csv", dtype=str, keep_default_na=False,
                          na_values=[""])
    counts["current_rows"] = len(current)
    current = clean_features(current, p["bounds"], counts, "current")
    counts["current_clean_rows"] = len(current)
    write_csv("data/interim/customers.csv", current, ["id"] + FEATURES)

    write_json("reports/ingest.json", counts)
    print(f"ingest: {len(history)} labelled past customers, {len(current)} current customers")


if __name__ == "__main__":
    main()
