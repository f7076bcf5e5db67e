"""A matrix of XGBoost and LightGBM models for the tree-model tests (test_trees.py).

Each case trains a small model on generated data (numpy, fixed seeds), logs it through MLflow
with the library's own flavor (mlflow.xgboost / mlflow.lightgbm), registers it under the case's
name, and records the library's own predictions on a scoring set that og_model must reproduce:

    build_matrix(names=None, workdir=None) -> list of dicts
        name, registered_model, version, X (float64, NaN = missing), expected, expected_proba
        (None for regression), task ("regression", "binary", "multiclass"), plus alias (set on
        the version), expected_f4 (the library on X rounded to float4), library,
        model_format, objective, n_features, n_outputs, float32 (XGBoost computes in float4),
        booster, model_uri, run_id, and model_dir (a copy written by save_model when workdir
        is given, else None)

The tracking URI must be set before (mlflow.set_tracking_uri, or MlflowServer.client_env()).

The data: 10 features in signature order f0..f9.  f0..f7 are numeric (f4 small integers, f5
rounded to 2 digits, f1 and f2 with exact zeros); f8 (4 categories) and f9 (40 categories)
hold integer codes, categorical for the cases that say so and plain numbers for the others.
About 10% of f0..f6, f8 and f9 are missing (NaN) in training; f7 never is, so the libraries
learn no missing direction for it, but it is missing in the scoring set.  The scoring set adds
rows whose values sit exactly on (and one ulp around) the models' split thresholds, tiny values
around LightGBM's zero threshold (1e-35), and, in the categorical columns, categories never
seen in training, negative and non-integer values.

Also here, for the malformed-model tests: a UBJSON codec for XGBoost's .ubj/.xgb files
(ubj_decode / ubj_encode keep the typed arrays as numpy arrays of the same type) and
save_model_dir(), which writes a case's model as a real MLflow model directory.

Run as a script against a tracking server to build the matrix and print a summary:
    python test/integration/tree_models.py --tracking-uri http://127.0.0.1:5070
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import shutil
import struct
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

N_FEATURES = 10
FEATURE_NAMES = [f"f{i}" for i in range(N_FEATURES)]
CAT_COLUMNS = (8, 9)
CAT_SIZES = {8: 4, 9: 40}
N_TRAIN = 20_000
N_SCORE = 5_000
N_EDGE = 1_200          # extra scoring rows on split thresholds
NAN_RATE = 0.10
THREADS = 2
SEED = 20_240_601
ALIAS = "champion"        # set on every case's new version


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    library: str             # "xgboost" or "lightgbm"
    objective: str           # as the library names it in the model file
    task: str                # "regression", "binary", "multiclass"
    params: dict
    rounds: int = 30
    model_format: str = "lgb"  # XGBoost: "json", "ubj", "xgb"
    categorical: bool = False
    label: str = ""          # label kind; default from the objective
    num_class: int = 0
    same_as: str = ""        # reuse the booster of that case (XGBoost formats)

    @property
    def n_outputs(self) -> int:
        return self.num_class if self.task == "multiclass" else 1


def _xgb(name, objective, task, fmt, rounds=30, categorical=False, label="", num_class=0,
         same_as="", **params):
    return Case(name, "xgboost", objective, task, params, rounds, fmt, categorical, label,
                num_class, same_as)


def _lgb(name, objective, task, rounds=30, categorical=False, label="", num_class=0, **params):
    return Case(name, "lightgbm", objective, task, params, rounds, "lgb", categorical, label,
                num_class)


CASES = [
    # XGBoost: every objective, the three file formats, gbtree and dart, base_score set and
    # estimated, random-forest style parallel trees, categorical splits of both kinds.
    _xgb("xgb_reg_squarederror", "reg:squarederror", "regression", "json"),
    _xgb("xgb_reg_squarederror_ubj", "reg:squarederror", "regression", "ubj",
         same_as="xgb_reg_squarederror"),
    _xgb("xgb_reg_squarederror_xgb", "reg:squarederror", "regression", "xgb",
         same_as="xgb_reg_squarederror"),
    _xgb("xgb_reg_squarederror_base_score", "reg:squarederror", "regression", "ubj",
         base_score=0.5),
    _xgb("xgb_reg_absoluteerror", "reg:absoluteerror", "regression", "ubj"),
    _xgb("xgb_reg_pseudohubererror", "reg:pseudohubererror", "regression", "xgb",
         huber_slope=1.5),
    _xgb("xgb_reg_logistic", "reg:logistic", "regression", "json", label="unit"),
    _xgb("xgb_binary_logistic", "binary:logistic", "binary", "ubj"),
    _xgb("xgb_binary_logistic_base_score", "binary:logistic", "binary", "json", base_score=0.3),
    _xgb("xgb_binary_logitraw", "binary:logitraw", "binary", "xgb"),
    _xgb("xgb_binary_hinge", "binary:hinge", "binary", "json"),
    _xgb("xgb_multi_softprob", "multi:softprob", "multiclass", "ubj", num_class=4),
    _xgb("xgb_multi_softmax", "multi:softmax", "multiclass", "json", num_class=3),
    _xgb("xgb_count_poisson", "count:poisson", "regression", "xgb"),
    _xgb("xgb_reg_gamma", "reg:gamma", "regression", "json"),
    _xgb("xgb_reg_tweedie", "reg:tweedie", "regression", "ubj", tweedie_variance_power=1.4),
    _xgb("xgb_lossguide_deep", "reg:squarederror", "regression", "json",
         grow_policy="lossguide", max_depth=0, max_leaves=255, min_child_weight=2, rounds=10),
    _xgb("xgb_dart_regression", "reg:squarederror", "regression", "json", booster="dart",
         rate_drop=0.1, skip_drop=0.0),
    _xgb("xgb_dart_binary", "binary:logistic", "binary", "ubj", booster="dart", rate_drop=0.2,
         skip_drop=0.0, normalize_type="forest", sample_type="weighted"),
    _xgb("xgb_rf_regression", "reg:squarederror", "regression", "json", rounds=2,
         num_parallel_tree=6, subsample=0.8, colsample_bynode=0.8, eta=1.0),
    _xgb("xgb_rf_multiclass", "multi:softprob", "multiclass", "ubj", num_class=3, rounds=4,
         num_parallel_tree=3, subsample=0.7, colsample_bynode=0.7),
    _xgb("xgb_cat_partition", "reg:squarederror", "regression", "json", categorical=True,
         max_cat_to_onehot=1),
    _xgb("xgb_cat_onehot", "binary:logistic", "binary", "ubj", categorical=True,
         max_cat_to_onehot=64),
    _xgb("xgb_cat_multiclass", "multi:softprob", "multiclass", "xgb", categorical=True,
         num_class=3, max_cat_to_onehot=1),
    # LightGBM: every objective, categorical splits (one-vs-rest and many-vs-many), linear
    # trees, random forest, dart, and the three ways of reading missing values.
    _lgb("lgb_regression", "regression", "regression", use_missing=True),
    _lgb("lgb_regression_sqrt", "regression", "regression", reg_sqrt=True),
    _lgb("lgb_regression_l1", "regression_l1", "regression"),
    _lgb("lgb_huber", "huber", "regression", alpha=1.2),
    _lgb("lgb_poisson", "poisson", "regression"),
    _lgb("lgb_gamma", "gamma", "regression"),
    _lgb("lgb_tweedie", "tweedie", "regression", tweedie_variance_power=1.3),
    _lgb("lgb_binary", "binary", "binary"),
    _lgb("lgb_binary_sigmoid", "binary", "binary", sigmoid=0.7),
    _lgb("lgb_cross_entropy", "cross_entropy", "binary", label="unit"),
    _lgb("lgb_multiclass", "multiclass", "multiclass", num_class=4, rounds=20),
    _lgb("lgb_multiclassova", "multiclassova", "multiclass", num_class=3, rounds=20),
    _lgb("lgb_categorical", "regression", "regression", categorical=True,
         cat_smooth=5, min_data_per_group=20),
    _lgb("lgb_categorical_binary", "binary", "binary", categorical=True, max_cat_to_onehot=8),
    _lgb("lgb_linear_tree", "regression", "regression", linear_tree=True, linear_lambda=0.01),
    _lgb("lgb_rf", "regression", "regression", boosting="rf", bagging_fraction=0.7,
         bagging_freq=1, feature_fraction=0.8),
    _lgb("lgb_dart", "binary", "binary", boosting="dart", drop_rate=0.2),
    _lgb("lgb_zero_as_missing", "regression", "regression", zero_as_missing=True),
    _lgb("lgb_no_missing", "regression", "regression", use_missing=False),
]
CASE_NAMES = [c.name for c in CASES]
CASES_BY_NAME = {c.name: c for c in CASES}


# ------------------------------------------------------------------- data --

def _base_features(rng, n):
    X = rng.normal(size=(n, N_FEATURES))
    X[:, 3] = rng.exponential(size=n)
    X[:, 4] = rng.integers(-5, 6, n)
    X[:, 5] = np.round(rng.uniform(-1, 1, n), 2)
    for col in (1, 2):
        X[rng.random(n) < 0.05, col] = 0.0
    for col, k in CAT_SIZES.items():
        # Skewed frequencies: rare categories exist, the last one never in training.
        p = rng.dirichlet(np.ones(k) * 0.7)
        p[-1] = 0.0
        X[:, col] = rng.choice(k, size=n, p=p / p.sum())
    return X


def _with_missing(rng, X, columns):
    X = X.copy()
    for col in columns:
        X[rng.random(len(X)) < NAN_RATE, col] = np.nan
    return X


CAT_EFFECT = {8: np.array([0.0, 1.2, -0.8, 0.4]),
              9: np.random.default_rng(7).normal(scale=0.9, size=CAT_SIZES[9])}


def _latent(X):
    Z = np.nan_to_num(X, nan=0.0)
    z = 1.2 * Z[:, 0] - 0.8 * Z[:, 1] * Z[:, 2] + np.sin(2 * Z[:, 3]) + 0.25 * Z[:, 4] \
        + 0.5 * np.abs(Z[:, 5]) - 0.4 * Z[:, 6] + 0.3 * Z[:, 7]
    for col, effect in CAT_EFFECT.items():
        codes = np.clip(Z[:, col].astype(int), 0, len(effect) - 1)
        z += np.where(np.isnan(X[:, col]), 0.3, effect[codes])
    return z


def _labels(case: Case, rng, X):
    z = _latent(X)
    noise = rng.normal(scale=0.3, size=len(X))
    kind = case.label or {
        "binary": "binary", "multiclass": "multiclass",
    }.get(case.task, "")
    obj = case.objective
    if not kind:
        if obj in ("count:poisson", "poisson"):
            kind = "count"
        elif obj in ("reg:gamma", "gamma"):
            kind = "positive"
        elif obj in ("reg:tweedie", "tweedie"):
            kind = "tweedie"
        else:
            kind = "real"
    if kind == "real":
        return z + noise
    if kind == "unit":
        return 1.0 / (1.0 + np.exp(-(z + noise)))
    if kind == "binary":
        return (z + noise > np.median(z)).astype(np.float64)
    if kind == "multiclass":
        edges = np.quantile(z + noise, np.linspace(0, 1, case.num_class + 1)[1:-1])
        return np.searchsorted(edges, z + noise).astype(np.float64)
    if kind == "count":
        return rng.poisson(np.exp(z / 3)).astype(np.float64)
    if kind == "positive":
        return rng.gamma(2.0, np.exp(z / 3) / 2.0)
    if kind == "tweedie":
        return rng.poisson(np.exp(z / 4)) * rng.gamma(2.0, 0.5, size=len(X))
    raise ValueError(kind)


def training_data(case: Case):
    rng = np.random.default_rng([SEED, CASE_NAMES.index(case.name)])
    X = _with_missing(rng, _base_features(rng, N_TRAIN), [0, 1, 2, 3, 4, 5, 6, 8, 9])
    return X, _labels(case, rng, X)


def scoring_data(case: Case):
    """N_SCORE rows like the training data, f7 missing too, and odd values."""
    rng = np.random.default_rng([SEED, 1000 + CASE_NAMES.index(case.name)])
    X = _with_missing(rng, _base_features(rng, N_SCORE), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    n = len(X)
    # Tiny values around LightGBM's kZeroThreshold (1e-35), and exact zeros everywhere.
    tiny = np.array([1e-36, -1e-36, 1e-35, -1e-35, 2e-35, 1e-300, -0.0, 0.0, 1e-30])
    for col in (0, 1, 2, 6):
        rows = rng.choice(n, 60, replace=False)
        X[rows, col] = rng.choice(tiny, len(rows))
    # Categorical columns: unseen, negative, non-integer, large values; the same values
    # are plain numbers for the cases without categorical features.
    odd = {8: [4, 5, 7, 31, 32, 33, 63, 64, 100, 1000, -1, -2, -100, 0.5, 1.5, 2.999, 3.0000001,
               2.9999999999, -0.5, 1e-9],
           9: [39, 40, 41, 63, 64, 65, 127, 128, 255, 256, 1000, 4096, -1, -3, -64, 7.25, 12.999,
               31.5, 38.9999999999, -0.25]}
    for col, values in odd.items():
        rows = rng.choice(n, 400, replace=False)
        X[rows, col] = rng.choice(values, len(rows))
    return X


def _thresholds(case: Case, booster):
    """(feature, threshold) of the numeric splits of the model."""
    pairs = []
    if case.library == "xgboost":
        import json

        gb = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]
        for tree in gb.get("gbtree", gb)["model"]["trees"]:
            for left, feat, cond, kind in zip(tree["left_children"], tree["split_indices"],
                                              tree["split_conditions"], tree["split_type"]):
                if left != -1 and kind == 0:
                    pairs.append((feat, cond))
    else:
        text = booster.model_to_string()
        for block in text.split("\nTree=")[1:]:
            fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
            if "split_feature" not in fields:
                continue
            feats = fields["split_feature"].split()
            ths = fields["threshold"].split()
            dts = fields["decision_type"].split()
            for f, t, d in zip(feats, ths, dts):
                if not int(d) & 1:
                    pairs.append((int(f), float(t)))
    return pairs


def edge_rows(case: Case, booster, rng):
    """Rows with one feature exactly on a split threshold or one ulp beside it.

    For XGBoost (which compares in float4) also a double just below the threshold that
    rounds to it in float4: a double comparison would send it left, XGBoost sends it right.
    """
    pairs = _thresholds(case, booster)
    base = scoring_data(case)[rng.choice(N_SCORE, N_EDGE)]
    if not pairs:
        return base[:0]
    for row in base:
        feat, t = pairs[rng.integers(len(pairs))]
        variants = [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
        if case.library == "xgboost":
            t32 = np.float32(t)
            variants += [float(np.nextafter(t32, np.float32(np.inf))),
                         float(np.nextafter(t32, np.float32(-np.inf))),
                         float(t32) - abs(float(t32)) * 2.0 ** -30,
                         float(t32) + abs(float(t32)) * 2.0 ** -30]
        row[feat] = variants[rng.integers(len(variants))]
    return base


# --------------------------------------------------------------- training --

def _xgb_train(case: Case, X, y):
    import pandas as pd
    import xgboost as xgb

    params = {"objective": case.objective, "nthread": THREADS, "seed": 1, "max_depth": 6,
              "eta": 0.3, "tree_method": "hist"}
    if case.num_class:
        params["num_class"] = case.num_class
    params.update(case.params)
    if case.categorical:
        frame = pd.DataFrame(X, columns=FEATURE_NAMES)
        for col in CAT_COLUMNS:
            frame[FEATURE_NAMES[col]] = pd.Categorical(X[:, col], categories=range(CAT_SIZES[col]))
        dtrain = xgb.DMatrix(frame, label=y, enable_categorical=True)
    else:
        dtrain = xgb.DMatrix(X, label=y, feature_names=FEATURE_NAMES)
    return xgb.train(params, dtrain, num_boost_round=case.rounds)


def _lgb_train(case: Case, X, y):
    import lightgbm as lgb

    params = {"objective": case.objective, "num_threads": THREADS, "verbose": -1, "seed": 1,
              "deterministic": True, "force_row_wise": True, "num_leaves": 31,
              "learning_rate": 0.1, "min_data_in_leaf": 20}
    if case.num_class:
        params["num_class"] = case.num_class
    params.update(case.params)
    cats = list(CAT_COLUMNS) if case.categorical else "auto"
    dtrain = lgb.Dataset(X, label=y, feature_name=FEATURE_NAMES, categorical_feature=cats,
                         free_raw_data=False)
    return lgb.train(params, dtrain, num_boost_round=case.rounds)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def library_predictions(case: Case, booster, X):
    """(expected, expected_proba) by the library itself.

    XGBoost: inplace_predict on the float64 matrix (it converts to float4, and returns
    float4): the value for regression, the probability of class 1 for binary:logistic, the
    raw margin for binary:logitraw (probabilities: its sigmoid), 0/1 for binary:hinge
    (probabilities {1 - p, p} of that), the class index for multiclass (probabilities from multi:softprob, or
    the softmax of the margins for multi:softmax).
    LightGBM: Booster.predict (float64), class index = argmax of the probabilities.
    """
    if case.library == "xgboost":
        pred = booster.inplace_predict(X)
        if case.objective == "multi:softmax":
            margin = booster.inplace_predict(X, predict_type="margin").astype(np.float64)
            return pred, _softmax(margin)
        if case.task == "multiclass":
            return np.argmax(pred, axis=1).astype(np.float64), pred
        if case.objective == "binary:logitraw":
            p = _sigmoid(pred.astype(np.float64))
            return pred, np.column_stack([1 - p, p])
        if case.objective == "binary:hinge":
            # 0/1 from the library; og_predict_proba answers {1 - p, p} of that.
            return pred, np.column_stack([1 - pred.astype(np.float64), pred])
        if case.task == "binary":
            return pred, np.column_stack([1 - pred.astype(np.float64), pred])
        return pred, None
    pred = booster.predict(X)
    if case.task == "multiclass":
        return np.argmax(pred, axis=1).astype(np.float64), pred
    if case.task == "binary":
        return pred, np.column_stack([1 - pred, pred])
    return pred, None


def _drop_near_ties(case, X, expected, proba):
    """Multiclass rows whose two best classes are within 1e-6: the class index is then a
    matter of rounding, not of correctness; leave them out."""
    if case.task != "multiclass" or proba is None:
        return X, expected, proba, 0
    top = np.sort(proba.astype(np.float64), axis=1)
    keep = top[:, -1] - top[:, -2] > 1e-6
    return X[keep], expected[keep], proba[keep], int((~keep).sum())


# ----------------------------------------------------------------- MLflow --

def _pip_requirements(case: Case):
    import importlib

    module = importlib.import_module(case.library)
    return [f"{case.library}=={module.__version__}"]


def _signature(X, expected):
    import pandas as pd
    from mlflow.models import infer_signature

    return infer_signature(pd.DataFrame(X[:100], columns=FEATURE_NAMES), np.asarray(expected[:100]))


def log_and_register(case: Case, booster, X, expected):
    """Log with the library's MLflow flavor, registered as case.name; returns ModelInfo."""
    signature = _signature(X, expected)
    with warnings.catch_warnings():
        # XGBoost warns that model.xgb is written as UBJSON ("as default"): that is the point.
        warnings.simplefilter("ignore", UserWarning)
        if case.library == "xgboost":
            import mlflow.xgboost

            return mlflow.xgboost.log_model(
                booster, name=case.name, model_format=case.model_format,
                registered_model_name=case.name, signature=signature,
                pip_requirements=_pip_requirements(case))
        import mlflow.lightgbm

        return mlflow.lightgbm.log_model(
            booster, name=case.name, registered_model_name=case.name, signature=signature,
            pip_requirements=_pip_requirements(case))


def save_model_dir(case: Case, booster, path, model_format=None):
    """Write the model as an MLflow model directory (MLmodel + model file) at path."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if case.library == "xgboost":
            import mlflow.xgboost

            mlflow.xgboost.save_model(booster, str(path),
                                      model_format=model_format or case.model_format,
                                      pip_requirements=_pip_requirements(case))
        else:
            import mlflow.lightgbm

            mlflow.lightgbm.save_model(booster, str(path), pip_requirements=_pip_requirements(case))
    return path


def model_file(path) -> Path:
    """The model file of an MLflow model directory (model.json/.ubj/.xgb/.lgb)."""
    files = [p for p in Path(path).iterdir() if p.name.startswith("model.")]
    assert len(files) == 1, files
    return files[0]


# ------------------------------------------------------------------ build --

def build_case(case: Case, boosters: dict, workdir: Path | None):
    from mlflow import MlflowClient

    X, y = training_data(case)
    t0 = time.monotonic()
    if case.same_as:
        booster = boosters[case.same_as]
    elif case.library == "xgboost":
        booster = _xgb_train(case, X, y)
    else:
        booster = _lgb_train(case, X, y)
    boosters[case.name] = booster
    train_s = time.monotonic() - t0

    rng = np.random.default_rng([SEED, 2000 + CASE_NAMES.index(case.name)])
    Xs = np.vstack([scoring_data(case), edge_rows(case, booster, rng)])
    expected, proba = library_predictions(case, booster, Xs)
    Xs, expected, proba, ties = _drop_near_ties(case, Xs, expected, proba)
    # The same rows rounded to float4, as og_predict(name, real[]) receives them.
    expected_f4, _ = library_predictions(case, booster, Xs.astype(np.float32).astype(np.float64))

    t1 = time.monotonic()
    info = log_and_register(case, booster, Xs, expected)
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(case.name, ALIAS, version)
    log_s = time.monotonic() - t1
    model_dir = None
    if workdir is not None:
        model_dir = save_model_dir(case, booster, Path(workdir) / case.name)
    return {
        "name": case.name,
        "registered_model": case.name,
        "version": version,
        "alias": ALIAS,
        "X": np.ascontiguousarray(Xs, dtype=np.float64),
        "expected": np.asarray(expected),
        "expected_proba": None if proba is None else np.asarray(proba),
        "expected_f4": np.asarray(expected_f4),
        "task": case.task,
        "library": case.library,
        "model_format": case.model_format,
        "objective": case.objective,
        "n_features": N_FEATURES,
        "n_outputs": case.n_outputs,
        "float32": case.library == "xgboost",
        "categorical": case.categorical,
        "booster": booster,
        "model_uri": info.model_uri,
        "run_id": info.run_id,
        "model_dir": model_dir,
        "near_ties_dropped": ties,
        "train_s": train_s,
        "log_s": log_s,
    }


def build_matrix(names=None, workdir=None, progress=None):
    """Train, log, register and predict every case (or those named); see the module doc."""
    import mlflow

    wanted = set(names) if names else None
    needed = set(wanted) if wanted else set(CASE_NAMES)
    needed |= {CASES_BY_NAME[n].same_as for n in needed if CASES_BY_NAME[n].same_as}
    boosters = {}
    out = []
    with mlflow.start_run(run_name="og_model tree matrix"):
        for case in CASES:
            if case.name not in needed:
                continue
            result = build_case(case, boosters, workdir)
            if progress:
                progress(result)
            if wanted is None or case.name in wanted:
                out.append(result)
    return out


# -------------------------------------------------------------- UBJSON --
# XGBoost's UBJSON: objects '{' (key: int length + bytes) ... '}', arrays '[' ... ']' or
# '[#<n>' (count) or '[$<type>#<n>' (typed, big-endian payload), strings 'S', integers
# i U I l L, floats d (float4) D (float8), T F Z.  Typed arrays decode to numpy arrays and
# scalars to numpy scalars of the same type, so ubj_encode(ubj_decode(b)) == b.

_UBJ_TYPES = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8",
              b"d": ">f4", b"D": ">f8"}
_UBJ_MARKERS = {np.dtype(v).newbyteorder("="): k for k, v in _UBJ_TYPES.items()}


class _Reader:
    def __init__(self, buf):
        self.buf = memoryview(buf)
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.buf):
            raise ValueError("UBJSON ends early")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(out)

    def marker(self):
        return self.take(1)

    def number(self, m):
        dt = np.dtype(_UBJ_TYPES[m])
        return np.frombuffer(self.take(dt.itemsize), dtype=dt)[0].astype(dt.newbyteorder("="))

    def length(self):
        return int(self.number(self.marker()))

    def value(self, m=None):
        m = m or self.marker()
        if m in _UBJ_TYPES:
            return self.number(m)
        if m == b"S":
            return self.take(self.length()).decode()
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m == b"Z":
            return None
        if m == b"{":
            out = {}
            while True:
                m2 = self.marker()
                if m2 == b"}":
                    return out
                key = self.take(int(self.number(m2))).decode()
                out[key] = self.value()
        if m == b"[":
            m2 = self.marker()
            if m2 == b"$":
                t = self.marker()
                if self.marker() != b"#":
                    raise ValueError("typed array without count")
                n = self.length()
                dt = np.dtype(_UBJ_TYPES[t])
                return np.frombuffer(self.take(n * dt.itemsize), dtype=dt).astype(dt.newbyteorder("="))
            if m2 == b"#":
                return [self.value() for _ in range(self.length())]
            out = []
            while m2 != b"]":
                out.append(self.value(m2))
                m2 = self.marker()
            return out
        raise ValueError(f"unknown UBJSON marker {m!r} at {self.pos - 1}")


def ubj_decode(buf: bytes):
    return _Reader(buf).value()


def _ubj_int(n: int) -> bytes:
    return b"L" + struct.pack(">q", n)


def _ubj_write(out: io.BytesIO, v):
    if isinstance(v, dict):
        out.write(b"{")
        for k, item in v.items():
            kb = k.encode()
            out.write(_ubj_int(len(kb)) + kb)
            _ubj_write(out, item)
        out.write(b"}")
    elif isinstance(v, np.ndarray):
        marker = _UBJ_MARKERS[v.dtype.newbyteorder("=")]
        out.write(b"[$" + marker + b"#" + _ubj_int(len(v)))
        out.write(v.astype(_UBJ_TYPES[marker]).tobytes())
    elif isinstance(v, (list, tuple)):
        out.write(b"[#" + _ubj_int(len(v)))
        for item in v:
            _ubj_write(out, item)
    elif isinstance(v, str):
        b = v.encode()
        out.write(b"S" + _ubj_int(len(b)) + b)
    elif v is True:
        out.write(b"T")
    elif v is False:
        out.write(b"F")
    elif v is None:
        out.write(b"Z")
    elif isinstance(v, np.generic):
        marker = _UBJ_MARKERS[v.dtype.newbyteorder("=")]
        out.write(marker + np.asarray(v).astype(_UBJ_TYPES[marker]).tobytes())
    elif isinstance(v, int):
        out.write(_ubj_int(v))
    elif isinstance(v, float):
        out.write(b"D" + struct.pack(">d", v))
    else:
        raise TypeError(type(v))


def ubj_encode(v) -> bytes:
    out = io.BytesIO()
    _ubj_write(out, v)
    return out.getvalue()


def ubj_to_json_value(v):
    """A decoded UBJSON value as plain Python (for json.dumps)."""
    if isinstance(v, dict):
        return {k: ubj_to_json_value(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, list):
        return [ubj_to_json_value(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


# ------------------------------------------------------------------- main --

def _summary_line(r):
    proba = "" if r["expected_proba"] is None else f" proba{tuple(r['expected_proba'].shape)}"
    n_missing = int(np.isnan(r["X"]).sum())
    return (f"{r['name']:34s} v{r['version']:>2s} {r['library']:8s} {r['model_format']:4s} "
            f"{r['objective']:22s} {r['task']:10s} rows={len(r['X'])} NaN={n_missing} "
            f"expected[{r['expected'].dtype}] {np.round(r['expected'][:3], 5)}{proba} "
            f"train={r['train_s']:.2f}s log={r['log_s']:.2f}s")


def main(argv=None):
    import mlflow

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--workdir", help="also write each model as an MLflow model dir here")
    parser.add_argument("names", nargs="*", help="only these cases")
    args = parser.parse_args(argv)
    mlflow.set_tracking_uri(args.tracking_uri)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="og-trees-"))
    t0 = time.monotonic()
    results = build_matrix(args.names or None, workdir,
                           progress=lambda r: print(_summary_line(r), flush=True))
    print(f"{len(results)} cases in {time.monotonic() - t0:.1f} s; model dirs in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
