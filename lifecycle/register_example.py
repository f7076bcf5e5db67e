#!/usr/bin/env python3
"""Register the example churn model in an MLflow tracking server.

What ./setup.sh demo runs (with the python of .venv/, see requirements.txt)
before lifecycle/demo.sql loads the model with og_load_model('churn', '@champion').
It does what a user of MLflow does: log the model directory as the artifacts of
a run, register them as a new version of the registered model "churn", and
point the alias "champion" at that version.

    python lifecycle/register_example.py [--tracking-uri URL] [--model-dir DIR]
                                         [--name NAME] [--alias ALIAS]

The tracking URI defaults to $MLFLOW_TRACKING_URI, else http://127.0.0.1:5050;
the model directory to models/churn in this checkout.  Prints the version and
the run id.
"""

import argparse
import os
import sys

import mlflow
from mlflow import MlflowClient

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL_DIR = os.path.join(os.path.dirname(HERE), "models", "churn")


def parse_args():
    parser = argparse.ArgumentParser(
        description="Register the example churn model in an MLflow tracking server."
    )
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI") or "http://127.0.0.1:5050",
        help="MLflow tracking server (default: $MLFLOW_TRACKING_URI or %(default)s)",
    )
    parser.add_argument(
        "--model-dir",
        default=DEFAULT_MODEL_DIR,
        help="MLflow model directory to log (default: models/churn of this checkout)",
    )
    parser.add_argument("--name", default="churn", help="registered model name (default: %(default)s)")
    parser.add_argument("--alias", default="champion", help="alias to set (default: %(default)s)")
    return parser.parse_args()


def main():
    args = parse_args()
    if not os.path.isfile(os.path.join(args.model_dir, "MLmodel")):
        sys.exit(f"error: {args.model_dir} is not an MLflow model directory (no MLmodel file)")

    mlflow.set_tracking_uri(args.tracking_uri)

    # Log the model directory as the artifacts of a new run, under "model".
    with mlflow.start_run() as run:
        mlflow.log_artifacts(args.model_dir, artifact_path="model")
    run_id = run.info.run_id

    # Register them as a new version of the model and point the alias at it.
    version = mlflow.register_model(f"runs:/{run_id}/model", args.name)
    MlflowClient().set_registered_model_alias(args.name, args.alias, version.version)

    print(f"registered model: {args.name}")
    print(f"version:          {version.version}")
    print(f"alias:            @{args.alias}")
    print(f"run id:           {run_id}")
    print(f"source:           {version.source}")


if __name__ == "__main__":
    main()
