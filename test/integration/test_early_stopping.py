"""Early-stopped XGBoost models of the scikit-learn API, logged with mlflow.xgboost.log_model
and loaded through the real MLflow server: their files keep every round trained, and
XGB*.predict (and MLflow's pyfunc) score the rounds up to best_iteration only; og_predict must
too, and og_model.models shows the rounds used.  A native Booster scores every round, even
when its file holds a best_iteration.  The oracle is the library on the same rows."""

import warnings

import numpy as np
import pytest

from conftest import load, model_row, set_config, unload
from test_trees import assert_close, assert_equal, fill_rows

N_FEATURES = 6
ROUNDS = 300


def _data(seed, n, task):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random(X.shape) < 0.08] = np.nan          # missing values, NULL in SQL
    z = np.nan_to_num(X[:, 0]) - 0.7 * np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2]) \
        + np.sin(np.nan_to_num(X[:, 3]))
    noisy = z + rng.normal(scale=1.5, size=n)     # noisy labels: early stopping stops early
    if task == "regression":
        return X, noisy
    if task == "binary":
        return X, (noisy > 0).astype(int)
    return X, np.digitize(noisy, np.quantile(noisy, [0.33, 0.66]))


CASES = {
    # name: (estimator class, params, task, seed)
    "es_regressor": ("XGBRegressor", {"num_parallel_tree": 2, "subsample": 0.8}, "regression", 1),
    "es_binary": ("XGBClassifier", {}, "binary", 2),
    "es_multiclass": ("XGBClassifier", {"num_parallel_tree": 2, "colsample_bynode": 0.8}, "multiclass", 3),
}


def _fit(name):
    import xgboost as xgb

    cls, params, task, seed = CASES[name]
    X, y = _data(seed, 4000, task)
    model = getattr(xgb, cls)(n_estimators=ROUNDS, learning_rate=0.3, max_depth=5,
                              early_stopping_rounds=5, n_jobs=2, random_state=3, **params)
    model.fit(X[:3000], y[:3000], eval_set=[(X[3000:], y[3000:])], verbose=False)
    return model, task


def _score_rows(booster):
    """Rows to score: fresh ones with missing values, and rows on the first trees' split
    thresholds (and one float ulp beside them)."""
    import json

    rng = np.random.default_rng(11)
    X, _ = _data(99, 2000, "regression")
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    edges = []
    for tree in trees[:20]:
        for left, feat, cond in zip(tree["left_children"], tree["split_indices"], tree["split_conditions"]):
            if left != -1:
                edges.append((feat, np.float32(cond)))
    rows = X[rng.choice(len(X), 600)].copy()
    for row in rows:
        feat, t = edges[rng.integers(len(edges))]
        row[feat] = float([t, np.nextafter(t, np.float32(np.inf)), np.nextafter(t, np.float32(-np.inf))][rng.integers(3)])
    return np.vstack([X, rows])


@pytest.fixture(scope="module")
def logged(mlflow_server):
    """Each case fitted, logged with mlflow.xgboost.log_model (registered, alias champion)."""
    import mlflow
    import mlflow.xgboost
    from mlflow import MlflowClient

    out = {}
    with mlflow_server.client_env():
        for name in CASES:
            model, task = _fit(name)
            with mlflow.start_run(), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                info = mlflow.xgboost.log_model(model, name="model", registered_model_name=name)
            MlflowClient().set_registered_model_alias(name, "champion", info.registered_model_version)
            out[name] = {"model": model, "task": task, "uri": info.model_uri}
    return out


@pytest.fixture
def conn(db, mlflow_server):
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    yield db
    for name in list(CASES) + ["es_native"]:
        unload(db, name)


@pytest.mark.parametrize("name", list(CASES))
def test_early_stopped_model_scores_like_predict(conn, mlflow_server, logged, name):
    import mlflow.pyfunc

    case = logged[name]
    model, task = case["model"], case["task"]
    booster = model.get_booster()
    total = booster.num_boosted_rounds()
    best = model.best_iteration
    # the model stopped early, and its file still holds the rounds after the best one
    assert best + 1 < total, (best, total)
    X = _score_rows(booster)
    all_rounds = booster.inplace_predict(X)
    best_rounds = booster.inplace_predict(X, iteration_range=(0, best + 1))
    assert not np.allclose(all_rounds, best_rounds), "the extra rounds change nothing: a vacuous test"

    row = load(conn, name, "@champion")
    assert row["n_rounds"] == best + 1
    per_round = CASES[name][1].get("num_parallel_tree", 1) * (3 if task == "multiclass" else 1)
    assert row["n_trees"] == (best + 1) * per_round
    assert model_row(conn, name)["n_rounds"] == best + 1

    fill_rows(conn, X)
    rows = conn.execute("SELECT og_predict(%(m)s, fn), "
                        + ("og_predict_proba(%(m)s, fn) " if task != "regression" else "NULL ")
                        + "FROM tree_rows ORDER BY i", {"m": name}).fetchall()
    got = np.array([r[0] for r in rows], dtype=np.float64)
    if task == "regression":
        expected = model.predict(X)
        assert_close(got, expected, X, "og_predict vs XGBRegressor.predict")
        # MLflow's pyfunc, the way mlflow models serve scores it, agrees
        with mlflow_server.client_env():
            pyfunc = mlflow.pyfunc.load_model(case["uri"]).predict(X)
        assert_close(got, np.asarray(pyfunc), X, "og_predict vs MLflow's pyfunc")
    else:
        proba = model.predict_proba(X)
        got_proba = np.array([r[1] for r in rows], dtype=np.float64)
        assert_close(got_proba, proba, X, "og_predict_proba vs predict_proba")
        if task == "binary":
            assert_close(got, proba[:, 1], X, "og_predict vs predict_proba[:, 1]")
        else:
            top = np.sort(proba, axis=1)
            clear = top[:, -1] - top[:, -2] > 1e-6
            assert_equal(got[clear], model.predict(X)[clear], X[clear], "og_predict vs predict (class)")


def test_native_booster_scores_every_round(conn, mlflow_server):
    """xgb.train with early stopping: the Booster's file has best_iteration too, but
    Booster.predict uses every round, and so does og_predict."""
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb

    X, y = _data(5, 4000, "regression")
    dtrain, dvalid = xgb.DMatrix(X[:3000], label=y[:3000]), xgb.DMatrix(X[3000:], label=y[3000:])
    booster = xgb.train({"eta": 0.3, "max_depth": 5, "nthread": 2, "seed": 3}, dtrain,
                        num_boost_round=ROUNDS, evals=[(dvalid, "valid")], early_stopping_rounds=5,
                        verbose_eval=False)
    assert booster.best_iteration + 1 < booster.num_boosted_rounds()
    assert booster.attr("best_iteration") is not None
    with mlflow_server.client_env():
        with mlflow.start_run(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            info = mlflow.xgboost.log_model(booster, name="model", registered_model_name="es_native")
    row = load(conn, "es_native", info.registered_model_version)
    assert row["n_rounds"] == booster.num_boosted_rounds()
    Xs = _score_rows(booster)
    fill_rows(conn, Xs)
    got = [r[0] for r in conn.execute("SELECT og_predict('es_native', fn) FROM tree_rows ORDER BY i")]
    assert_close(got, booster.predict(xgb.DMatrix(Xs)), Xs, "og_predict vs Booster.predict")
