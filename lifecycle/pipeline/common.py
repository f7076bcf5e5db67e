"""Shared helpers of the DVC pipeline's stages (lifecycle/pipeline/*.py).

Every stage runs from the checkout's root (dvc.yaml's stages have no wdir),
with the python of .venv/, and writes its outputs byte for byte the same on
every run: rows sorted by id, floats through fmt(), JSON with sorted-free,
fixed key order and a final newline.
"""

import json
import math
import os

import yaml

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_years"]
LABEL = "churned"


def params(section):
    """The section of params.yaml that a stage reads."""
    with open("params.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)[section]


def fmt(x, decimals=6):
    """A float as stable text: rounded, shortest repr, integers without .0."""
    x = round(float(x), decimals)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x}")
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def write_csv(path, frame, columns, decimals=6):
    """Write frame[columns] as CSV with a header, '\\n' line ends, fmt() floats."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(columns) + "\n")
        for row in frame[columns].itertuples(index=False):
            f.write(",".join(fmt(v, decimals) for v in row) + "\n")


def write_json(path, obj):
    """JSON with two-space indents and a final newline (floats already rounded)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
