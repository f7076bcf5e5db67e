#!/usr/bin/env python3
"""Generate the raw churn history in data/raw/ (run once; not a DVC stage).

data/raw/ is the pipeline's input and is committed to git.  Two of its files
stand for exports of other systems and were made by this script:

  data/raw/past_customers.csv   the CRM export of past customers: id and the
                                four features og_model's churn model takes
  data/raw/churn_outcomes.csv   the billing system's outcome per customer:
                                customer_id, outcome (churned / retained),
                                recorded_on (a later record supersedes an
                                earlier one)

Like real exports they are not clean: a few customers appear twice, some rows
miss a value or hold an impossible one, some customers have no outcome yet,
and some outcomes were corrected later.  lifecycle/pipeline/ingest.py cleans
and joins them.  The outcomes follow a logistic model of the features, so the
pipeline's train stage has something to learn.

    .venv/bin/python lifecycle/pipeline/make_raw.py [--seed N] [--rows N]

The same seed and row count write the same bytes.  data/raw/customers.csv (the
current customers the demo scores) is not written by this script.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fmt  # noqa: E402

# The "true" churn model the outcomes are drawn from (raw feature scale).
TRUE_INTERCEPT = -0.8
TRUE_WEIGHTS = np.array([-0.045, 0.021, 0.38, -0.9])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--rows", type=int, default=600)
    ap.add_argument("--out", default="data/raw")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.rows

    ids = np.arange(1001, 1001 + n)
    contract = rng.choice([0, 1, 2], size=n, p=[0.55, 0.25, 0.20])
    tenure = np.clip(np.round(rng.gamma(2.0, 9.0 + 8.0 * contract)), 1, 72)
    charges = np.round(rng.uniform(20.0, 118.0, size=n), 2)
    calls = rng.poisson(1.5 + 1.5 * (charges > 75), size=n)
    x = np.column_stack([tenure, charges, calls, contract])
    p = 1.0 / (1.0 + np.exp(-(TRUE_INTERCEPT + x @ TRUE_WEIGHTS)))
    churned = rng.random(n) < p

    rows = [[str(int(i)), fmt(t), f"{c:.2f}", str(int(s)), str(int(k))]
            for i, t, c, s, k in zip(ids, tenure, charges, calls, contract)]
    # Dirt: missing values, impossible values, exact duplicates.
    for j in rng.choice(n, size=6, replace=False):
        rows[j][1 + int(rng.integers(0, 4))] = ""
    for j, col, bad in ((rng.integers(n), 1, "-3"), (rng.integers(n), 2, "0.00"),
                        (rng.integers(n), 4, "5")):
        rows[j][col] = bad
    dups = rng.choice(n, size=4, replace=False)
    rows_out = rows + [list(rows[j]) for j in dups]
    rows_out.sort(key=lambda r: int(r[0]))

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "past_customers.csv"), "w", newline="\n") as f:
        f.write("id,tenure_months,monthly_charges,support_calls,contract_years\n")
        for r in rows_out:
            f.write(",".join(r) + "\n")

    # Outcomes: none yet for some customers, a corrected record for others.
    unknown = set(int(j) for j in rng.choice(n, size=15, replace=False))
    corrected = [int(j) for j in rng.choice(n, size=8, replace=False) if int(j) not in unknown]
    out = []
    for j in range(n):
        if j in unknown:
            continue
        day = 1 + int(rng.integers(0, 28))
        label = churned[j]
        if j in corrected:
            out.append((int(ids[j]), "retained" if label else "churned", f"2026-09-{day:02d}"))
            out.append((int(ids[j]), "churned" if label else "retained", f"2026-10-{day:02d}"))
        else:
            out.append((int(ids[j]), "churned" if label else "retained", f"2026-09-{day:02d}"))
    with open(os.path.join(args.out, "churn_outcomes.csv"), "w", newline="\n") as f:
        f.write("customer_id,outcome,recorded_on\n")
        for r in out:
            f.write(f"{r[0]},{r[1]},{r[2]}\n")
    print(f"wrote {len(rows_out)} past customers and {len(out)} outcome records to {args.out}")


if __name__ == "__main__":
    main()
