"""Airflow DAG that retrains og_model's models inside PostgreSQL.

One DAG, ``og_model_retraining``, with a task group per model of the profile's
``retraining:`` section.  Each group runs five SQLExecuteQueryOperator tasks,
whose SQL is in lifecycle/sql/:

    prepare   snapshot the source into a training and a holdout table
    train     og_train: fit, log an MLflow run, register a new version
    evaluate  og_evaluate the new version and the alias holder on the holdout
    promote   og_promote: move the alias only if the new version is better
    reload    og_load_model(<model>, '@<alias>') on the DAG's server

The profile is the YAML file named by the environment variable
OG_MODEL_PROFILE (a relative path is taken from the checkout's root), by
default config/config_local.yml; the comment at the top of that file describes
the keys of its retraining section.  A profile this module cannot use is an
import error of the DAG file, which names the key.  The database connection is
the Airflow connection of the profile's conn_id (by default ``og_model``), e.g.
from the environment:

    AIRFLOW_CONN_OG_MODEL='{"conn_type": "postgres", "host": "db", "port": 5432,
                            "login": "airflow", "password": "...", "schema": "app"}'

Its user must be allowed to train, load and promote (superuser or
og_model_admin) and to create the schema of the prepared tables.  The server
reaches MLflow through its own og_model.tracking_uri.

Values reach the SQL as bind parameters, never pasted into it; only the source
query of the profile is SQL by design.  The version that ``train`` registered
reaches the later tasks through its XCom.  Written for Airflow 3 (airflow.sdk)
with the common-sql and postgres providers: requirements-airflow.txt pins the
versions test/integration/test_airflow.py runs it with.  Deploy lifecycle/sql/
beside this file.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import yaml
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, TaskGroup, literal

DAG_ID = "og_model_retraining"
LIFECYCLE = Path(__file__).resolve().parent
ROOT = LIFECYCLE.parent
DEFAULT_PROFILE = ROOT / "config" / "config_local.yml"
STEPS = ("prepare", "train", "evaluate", "promote", "reload")
# The bind parameters of each step's file lifecycle/sql/<step>.sql.
STEP_PARAMETERS = {
    "prepare": ("model", "source_table", "source_query", "label", "holdout_fraction", "schema",
                "train_table", "holdout_table"),
    "train": ("model", "schema", "train_table", "label", "algorithm", "params"),
    "evaluate": ("model", "version", "alias", "label", "schema", "holdout_table"),
    "promote": ("model", "version", "alias", "metric", "min_gain"),
    "reload": ("model", "alias"),
}

# Model names as og_model accepts them; names of loaded models are at most 63
# bytes, and evaluate.sql loads the candidate as <model>__candidate.
MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]+")
MAX_NAME = 63
CANDIDATE_SUFFIX = "__candidate"
# MLflow alias names.
ALIAS_NAME = re.compile(r"[A-Za-z0-9_-]+")
ALGORITHMS = ("linear", "logistic")
METRICS = ("rmse", "mae", "r2", "accuracy", "precision", "recall", "roc_auc", "log_loss")
# The keys of a model entry (the comment at the top of config/config_local.yml
# describes them); all but name may also stand beside models, as defaults.
MODEL_KEYS = ("name", "table", "query", "label", "algorithm", "params", "holdout_fraction",
              "alias", "metric", "min_gain", "schema")
SECTION_KEYS = ("schedule", "conn_id", "models", *MODEL_KEYS[1:])


class ProfileError(ValueError):
    """The profile's retraining section is missing or wrong."""


def profile_path() -> Path:
    value = os.environ.get("OG_MODEL_PROFILE")
    if not value:
        return DEFAULT_PROFILE
    path = Path(value).expanduser()
    return path if path.is_absolute() else ROOT / path


def check_keys(mapping: dict, allowed, where: str) -> None:
    unknown = [str(key) for key in mapping if key not in allowed]
    if unknown:
        raise ProfileError(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(allowed)})")


def text(values: dict, key: str, where: str, default=None) -> str | None:
    value = values.get(key, default)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ProfileError(f"{where}: {key} must be a non-empty string")
    return value


def number(values: dict, key: str, where: str, default: float) -> float:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfileError(f"{where}: {key} must be a number")
    return float(value)


def model_values(entry, index: int, defaults: dict, path: Path) -> dict:
    """One model of the profile, checked, as the bind parameters of the SQL files."""
    where = f"{path}: retraining.models[{index}]"
    if not isinstance(entry, dict):
        raise ProfileError(f"{where} must be a mapping")
    check_keys(entry, MODEL_KEYS, where)
    name = text(entry, "name", where)
    if name is None or not MODEL_NAME.fullmatch(name):
        raise ProfileError(f"{where}: name must be letters, digits, '_', '.' and '-' (got {name!r})")
    if len(name) + len(CANDIDATE_SUFFIX) > MAX_NAME:
        raise ProfileError(f"{where}: name {name!r} is too long: at most "
                           f"{MAX_NAME - len(CANDIDATE_SUFFIX)} characters")
    where = f"{path}: retraining model {name!r}"
    # The entry's keys over the section's defaults; a key without a value counts as absent.
    values = {key: value for key, value in {**defaults, **entry}.items() if value is not None}
    table, query = text(values, "table", where), text(values, "query", where)
    if (table is None) == (query is None):
        raise ProfileError(f"{where}: give exactly one of table and query")
    algorithm = text(values, "algorithm", where, "linear")
    if algorithm not in ALGORITHMS:
        raise ProfileError(f"{where}: algorithm must be one of {', '.join(ALGORITHMS)}")
    params = values.get("params", {})
    if not isinstance(params, dict):
        raise ProfileError(f"{where}: params must be a mapping")
    fraction = number(values, "holdout_fraction", where, 0.2)
    if not 0 < fraction < 1:
        raise ProfileError(f"{where}: holdout_fraction must be between 0 and 1")
    alias = text(values, "alias", where, "champion")
    if not ALIAS_NAME.fullmatch(alias) or len(name) + 2 + len(alias) > MAX_NAME:
        raise ProfileError(f"{where}: alias must be letters, digits, '_' and '-', and "
                           f"{name!r} + '__' + alias at most {MAX_NAME} characters")
    metric = text(values, "metric", where)
    if metric is not None and metric not in METRICS:
        raise ProfileError(f"{where}: metric must be one of {', '.join(METRICS)}")
    return {
        "model": name,
        "source_table": table,
        "source_query": query,
        "label": text(values, "label", where, "label"),
        "algorithm": algorithm,
        "params": json.dumps(params),
        "holdout_fraction": fraction,
        "alias": alias,
        "metric": metric,  # None: og_promote's default (rmse, or roc_auc for binary models)
        "min_gain": number(values, "min_gain", where, 0),
        "schema": text(values, "schema", where, "og_lifecycle"),
        "train_table": f"{name}__train",
        "holdout_table": f"{name}__holdout",
    }


def load_profile(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise ProfileError(f"cannot read the og_model profile {path} (OG_MODEL_PROFILE): {e}") from e
    section = document.get("retraining") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise ProfileError(f"{path}: no retraining section")
    check_keys(section, SECTION_KEYS, f"{path}: retraining")
    entries = section.get("models")
    if not isinstance(entries, list) or not entries:
        raise ProfileError(f"{path}: retraining.models must be a non-empty list")
    defaults = {key: value for key, value in section.items() if key in MODEL_KEYS}
    models = [model_values(entry, i, defaults, path) for i, entry in enumerate(entries)]
    groups = {}
    for model in models:
        # Task group ids take no ".": one group per model, its name with "." as "_".
        group = model["model"].replace(".", "_")
        if group in groups:
            if groups[group] == model["model"]:
                raise ProfileError(f"{path}: model {group!r} appears twice in retraining.models")
            raise ProfileError(f"{path}: models {groups[group]!r} and {model['model']!r} "
                               f"would share the task group {group!r}")
        groups[group] = model["model"]
        model["group"] = group
    schedule = section.get("schedule")
    if schedule is not None and not isinstance(schedule, str):
        raise ProfileError(f"{path}: retraining.schedule must be a preset, a cron expression or null")
    return {
        "schedule": schedule,
        "conn_id": text(section, "conn_id", f"{path}: retraining", None) or "og_model",
        "models": models,
    }


def build_dag(profile: dict, path: Path) -> DAG:
    with DAG(
        dag_id=DAG_ID,
        description="Retrain og_model's models in PostgreSQL: prepare, train, evaluate, promote, reload",
        schedule=profile["schedule"],
        start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        # One run at a time: a run replaces the prepared tables of the last one.
        max_active_runs=1,
        template_searchpath=[str(LIFECYCLE / "sql")],
        # A retried train would register one more version: a failed step fails the run.
        default_args={"retries": 0},
        tags=["og_model"],
        doc_md=f"Retraining of the models of the profile `{path}`.\n\n" + __doc__,
    ) as dag:
        for spec in profile["models"]:
            group = spec["group"]
            # The profile's values reach the SQL untouched (Jinja must not render them); the
            # version is the train task's result, pulled from its XCom when a task runs.
            values = {key: literal(value) for key, value in spec.items()}
            values["version"] = f"{{{{ ti.xcom_pull(task_ids='{group}.train')[0][0] }}}}"
            with TaskGroup(group_id=group, tooltip=f"model {spec['model']}"):
                previous = None
                for step in STEPS:
                    task = SQLExecuteQueryOperator(
                        task_id=step,
                        conn_id=profile["conn_id"],
                        sql=f"{step}.sql",
                        parameters={key: values[key] for key in STEP_PARAMETERS[step]},
                        split_statements=True,
                        # the results and the server's notices go to the task's log
                        show_return_value_in_logs=True,
                        hook_params={"enable_log_db_messages": True},
                    )
                    if previous is not None:
                        previous >> task
                    previous = task
    return dag


PROFILE_PATH = profile_path()
dag = build_dag(load_profile(PROFILE_PATH), PROFILE_PATH)
