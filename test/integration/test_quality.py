"""og_evaluate against scikit-learn and a real MLflow server.

Three small models are trained here (an XGBoost regressor, an XGBoost binary:logistic
classifier, a LightGBM 3-class classifier), logged with the libraries' MLflow flavors, each in
a run of its own, registered and loaded from the real server.  Their evaluation rows are a
table of the test database (features as float8[] with NaN, as float8[] with NULL elements, and
as scalar columns with NULL); og_evaluate's metrics must agree with scikit-learn's on the
libraries' own predictions of the same rows.  Then: the metrics on the MLflow run, in
og_model.evaluations and in og_model.quality; the og_model linear fixtures loaded from file://
(never logged); the errors and their SQLSTATEs, which store nothing; and a tracking server
that is gone by the time of the evaluation (a WARNING, the metrics are still stored).
"""

import math
import warnings

import mlflow
import mlflow.lightgbm
import mlflow.xgboost
import numpy as np
import psycopg
import pytest
from mlflow import MlflowClient
from sklearn import metrics as skm

from conftest import connect, free_port, load, model_row, need_env, set_config, unload

# |og_evaluate - scikit-learn| <= TOL * max(1, |scikit-learn|)
TOL = 1e-9
N_FEATURES = 6
FEATURE_NAMES = [f"f{i}" for i in range(N_FEATURES)]
N_TRAIN = 3000
N_EVAL = 2000
ROUNDS = 20
SEED = 20_240_917
ALIAS = "champion"

REG, BIN, MULTI = "quality_xgb_reg", "quality_xgb_bin", "quality_lgb_multi"
MODELS = (REG, BIN, MULTI)
LINEAR, LOGISTIC = "quality_linear3", "quality_logistic3"
METRIC_KEYS = {
    "regression": {"rmse", "mae", "r2"},
    "binary": {"accuracy", "precision", "recall", "roc_auc", "log_loss"},
    "multiclass": {"accuracy", "log_loss"},
}


# -------------------------------------------------------------------- data --

def features(rng, n, missing_cols):
    """n rows of N_FEATURES; about 10% NaN in each of missing_cols."""
    X = rng.normal(size=(n, N_FEATURES))
    X[:, 3] = rng.integers(-3, 4, n)
    X[:, 4] = np.round(rng.uniform(-1, 1, n), 2)
    for col in missing_cols:
        X[rng.random(n) < 0.10, col] = np.nan
    return X


def latent(X, rng):
    Z = np.nan_to_num(X, nan=0.0)
    z = 1.1 * Z[:, 0] - 0.7 * Z[:, 1] * Z[:, 2] + np.sin(2 * Z[:, 3]) + 0.4 * Z[:, 4] \
        - 0.3 * Z[:, 5] + np.where(np.isnan(X[:, 0]), 0.5, 0.0)
    return z + rng.normal(scale=0.4, size=len(X))


def labels(task, z):
    if task == "regression":
        return z
    if task == "binary":
        return (z > 0.1).astype(np.float64)
    edges = np.quantile(z, [1 / 3, 2 / 3])
    return np.searchsorted(edges, z).astype(np.float64)


SPECS = {
    # name: (library, task, training parameters)
    REG: ("xgboost", "regression", {"objective": "reg:squarederror"}),
    BIN: ("xgboost", "binary", {"objective": "binary:logistic"}),
    MULTI: ("lightgbm", "multiclass", {"objective": "multiclass", "num_class": 3}),
}


def train(library, params, X, y):
    if library == "xgboost":
        import xgboost as xgb

        params = {"nthread": 2, "seed": 1, "max_depth": 4, "eta": 0.3, "tree_method": "hist",
                  **params}
        return xgb.train(params, xgb.DMatrix(X, label=y, feature_names=FEATURE_NAMES),
                         num_boost_round=ROUNDS)
    import lightgbm as lgb

    params = {"num_threads": 2, "verbose": -1, "seed": 1, "deterministic": True,
              "force_row_wise": True, "num_leaves": 15, "learning_rate": 0.1, **params}
    return lgb.train(params, lgb.Dataset(X, label=y, feature_name=FEATURE_NAMES),
                     num_boost_round=ROUNDS)


def library_output(library, booster, X):
    """The library's own prediction, as float64: the value (regression), the probability of
    class 1 (binary), the class probabilities (multiclass)."""
    if library == "xgboost":
        return np.asarray(booster.inplace_predict(X), dtype=np.float64)
    return np.asarray(booster.predict(X), dtype=np.float64)


def log_and_register(name, library, booster, X):
    """Log with the library's MLflow flavor in a run of its own, register as name, set the
    alias; returns (version, run_id)."""
    import pandas as pd
    from mlflow.models import infer_signature

    module = __import__(library)
    signature = infer_signature(pd.DataFrame(X[:50], columns=FEATURE_NAMES),
                                library_output(library, booster, X[:50]))
    requirements = [f"{library}=={module.__version__}"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with mlflow.start_run(run_name=name) as run:
            if library == "xgboost":
                info = mlflow.xgboost.log_model(booster, name=name, model_format="json",
                                                registered_model_name=name, signature=signature,
                                                pip_requirements=requirements)
            else:
                info = mlflow.lightgbm.log_model(booster, name=name, registered_model_name=name,
                                                 signature=signature,
                                                 pip_requirements=requirements)
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(name, ALIAS, version)
    return version, run.info.run_id


def table_of(name):
    return f"{name}_rows"


def fill_table(conn, table, X, y):
    """A real table: i (row order), features float8[] (NaN = missing), fn float8[] (NULL
    elements instead), f0.. scalar columns (NULL = missing), label float8."""
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    scalars = ", ".join(f"{f} float8" for f in FEATURE_NAMES)
    conn.execute(f"CREATE TABLE {table} (i int PRIMARY KEY, features float8[], fn float8[], "
                 f"{scalars}, label float8 NOT NULL)")
    columns = ["i", "features", "fn", *FEATURE_NAMES, "label"]
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "float8[]", "float8[]", *["float8"] * N_FEATURES, "float8"])
            for i, (row, label) in enumerate(zip(X, y)):
                values = row.tolist()
                nulled = [None if v != v else v for v in values]
                copy.write_row((i, values, nulled, *nulled, float(label)))
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == len(X)


@pytest.fixture(scope="module")
def models(mlflow_server):
    """The three models: trained, logged, registered (@champion), loaded from the server, and
    their evaluation rows in a table each, with the libraries' own predictions of them."""
    out = {}
    with mlflow_server.client_env():
        for k, (name, (library, task, params)) in enumerate(SPECS.items()):
            rng = np.random.default_rng([SEED, k])
            X = features(rng, N_TRAIN, [0, 1, 2, 4])
            y = labels(task, latent(X, rng))
            booster = train(library, params, X, y)
            version, run_id = log_and_register(name, library, booster, X)
            # Scoring rows: f5 is missing too, which it never was in training.
            Xe = features(rng, N_EVAL, [0, 1, 2, 4, 5])
            ze = latent(Xe, rng)
            ye = labels(task, ze)
            out[name] = {"name": name, "library": library, "task": task, "version": version,
                         "run_id": run_id, "X": Xe, "y": ye, "table": table_of(name),
                         "predicted": library_output(library, booster, Xe)}
    conn = connect()
    set_config(conn, "og_model.tracking_uri", mlflow_server.url)
    conn.execute("DELETE FROM og_model.evaluations WHERE model = ANY(%s)",
                 (list(MODELS) + [LINEAR, LOGISTIC],))
    for name, case in out.items():
        fill_table(conn, case["table"], case["X"], case["y"])
        # The multiclass model by its version number, the others by alias.
        ref = case["version"] if name == MULTI else f"@{ALIAS}"
        row = load(conn, name, ref)
        assert (row["version"], row["run_id"]) == (case["version"], case["run_id"])
    yield out
    for name, case in out.items():
        unload(conn, name)
        conn.execute(f"DROP TABLE IF EXISTS {case['table']}")
    conn.close()


@pytest.fixture
def conn(db, mlflow_server):
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    return db


class Notices:
    """The notices (WARNING, NOTICE, ...) a connection receives, as dicts (a Diagnostic is
    only readable inside the handler)."""

    FIELDS = ("severity_nonlocalized", "sqlstate", "message_primary", "message_detail",
              "message_hint")

    def __init__(self, conn):
        self.items = []
        conn.add_notice_handler(
            lambda diag: self.items.append({f: getattr(diag, f) for f in self.FIELDS}))

    def warnings(self):
        return [n for n in self.items if n["severity_nonlocalized"] == "WARNING"]


# ----------------------------------------------------------------- helpers --

def evaluate(conn, name, query, label=None):
    if label is None:
        return conn.execute("SELECT og_evaluate(%s, %s)", (name, query)).fetchone()[0]
    return conn.execute("SELECT og_evaluate(%s, %s, %s)", (name, query, label)).fetchone()[0]


def sklearn_metrics(task, y, predicted):
    """The metrics og_evaluate documents, by scikit-learn, from float64 predictions."""
    y = np.asarray(y, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if task == "regression":
        return {"rmse": math.sqrt(skm.mean_squared_error(y, predicted)),
                "mae": skm.mean_absolute_error(y, predicted),
                "r2": skm.r2_score(y, predicted)}
    if task == "binary":
        classes = (predicted > 0.5).astype(int)  # as XGBoost and LightGBM predict
        truth = y.astype(int)
        return {"accuracy": skm.accuracy_score(truth, classes),
                "precision": skm.precision_score(truth, classes, zero_division=0),
                "recall": skm.recall_score(truth, classes, zero_division=0),
                "roc_auc": skm.roc_auc_score(truth, predicted),
                "log_loss": skm.log_loss(truth, predicted)}
    truth = y.astype(int)
    return {"accuracy": skm.accuracy_score(truth, np.argmax(predicted, axis=1)),
            "log_loss": skm.log_loss(truth, predicted, labels=[0, 1, 2])}


def assert_metrics_close(got, want, what):
    assert set(got) == set(want), f"{what}: metrics {sorted(got)}, expected {sorted(want)}"
    bad = {k: (got[k], want[k]) for k in want
           if not abs(got[k] - want[k]) <= TOL * max(1.0, abs(want[k]))}
    assert not bad, f"{what}: og_evaluate vs scikit-learn (ours, sklearn): {bad}"


def last_max_evaluated_at(conn, name):
    return conn.execute("SELECT max(evaluated_at) FROM og_model.evaluations WHERE model = %s",
                        (name,)).fetchone()[0]


def evaluation_rows(conn, name, since):
    """og_model.evaluations rows of name stored after since (None: all)."""
    cur = conn.execute(
        "SELECT metric, value, rows, version, evaluated_at FROM og_model.evaluations "
        "WHERE model = %s AND (%s::timestamptz IS NULL OR evaluated_at > %s) ORDER BY metric",
        (name, since, since))
    return cur.fetchall()


def evaluation_count(conn, name):
    return conn.execute("SELECT count(*) FROM og_model.evaluations WHERE model = %s",
                        (name,)).fetchone()[0]


def quality_metrics(conn, name, version):
    """The metrics of og_model.quality for name and version (the same on every row of it: a
    cluster reused across runs may keep statistics of an earlier artifact of that version)."""
    rows = conn.execute("SELECT DISTINCT metrics FROM og_model.quality "
                        "WHERE name = %s AND version IS NOT DISTINCT FROM %s", (name, version)
                        ).fetchall()
    assert len(rows) == 1, f"og_model.quality for {name} version {version}: {rows}"
    return rows[0][0]


# Queries over a model's table; every one orders its rows.  name -> (query, label argument)
SCALARS_BY_NAME = ", ".join(reversed(FEATURE_NAMES))          # not the model's order
SCALARS_IN_ORDER = ", ".join(f"{f} AS c{i}" for i, f in enumerate(FEATURE_NAMES))
QUERIES = {
    "array_nan": ("SELECT features, label FROM {t} ORDER BY i", None),
    "array_null_elements": ("SELECT label, fn AS features FROM {t} ORDER BY i", None),
    "array_named_features_among_others": (
        "SELECT i, fn AS other, features, label AS y FROM {t} ORDER BY i", "y"),
    "scalars_by_name": (f"SELECT label, {SCALARS_BY_NAME} FROM {{t}} ORDER BY i", None),
    "scalars_in_order": (f"SELECT {SCALARS_IN_ORDER}, label FROM {{t}} ORDER BY i", None),
    "integer_label": ("SELECT features, label::int AS label FROM {t} ORDER BY i", None),
}


# ------------------------------------------------------ metrics vs sklearn --

@pytest.mark.parametrize("name,variant", [
    (name, variant) for name in MODELS for variant in QUERIES
    if not (variant == "integer_label" and SPECS[name][1] == "regression")])
def test_metrics_agree_with_scikit_learn(conn, models, name, variant):
    case = models[name]
    query, label = QUERIES[variant]
    result = evaluate(conn, name, query.format(t=case["table"]), label)
    want = sklearn_metrics(case["task"], case["y"], case["predicted"])
    assert set(want) == METRIC_KEYS[case["task"]]
    assert result["model"] == name
    assert result["version"] == case["version"]
    assert result["rows"] == N_EVAL
    assert result["run_id"] == case["run_id"]
    assert_metrics_close(result["metrics"], want, f"{name} {variant}")


def test_boolean_label_of_a_binary_model(conn, models):
    case = models[BIN]
    result = evaluate(conn, BIN, f"SELECT features, label = 1 AS label FROM {case['table']} "
                                 "ORDER BY i")
    assert_metrics_close(result["metrics"], sklearn_metrics("binary", case["y"], case["predicted"]),
                         "boolean label")


def test_the_evaluation_data_is_not_degenerate(models):
    """The rows exercise the trees' missing-value branches (f5, never missing in training, is
    missing here too), every class occurs, and the models are good but not perfect."""
    for name, case in models.items():
        missing = np.isnan(case["X"])
        assert missing[:, 5].sum() > 50 and missing.any(axis=1).mean() > 0.3, name
        want = sklearn_metrics(case["task"], case["y"], case["predicted"])
        if case["task"] == "regression":
            assert 0.3 < want["r2"] < 0.99, want
        else:
            classes = 2 if case["task"] == "binary" else 3
            assert sorted(set(case["y"])) == list(range(classes)), name
            assert 1 / classes + 0.1 < want["accuracy"] < 0.99, want


# -------------------------------------- MLflow run, evaluations, quality --

@pytest.mark.parametrize("name", MODELS)
def test_metrics_are_logged_and_stored(conn, mlflow_server, models, name):
    case = models[name]
    notices = Notices(conn)
    since = last_max_evaluated_at(conn, name)
    result = evaluate(conn, name, f"SELECT features, label FROM {case['table']} ORDER BY i")
    assert notices.warnings() == []
    assert result["logged_to_mlflow"] is True
    assert result["run_id"] == case["run_id"] == model_row(conn, name)["run_id"]
    metrics = result["metrics"]
    assert set(metrics) == METRIC_KEYS[case["task"]]

    # The run on the real server has every metric, at step 0, with the same value (to TOL
    # here; test_mlflow_run_has_the_exact_values asks for the same double).
    client = MlflowClient(mlflow_server.url)
    run = client.get_run(case["run_id"])
    assert_metrics_close({k: run.data.metrics.get(k) for k in metrics}, metrics, "MLflow run")
    for key, value in metrics.items():
        history = client.get_metric_history(case["run_id"], key)
        assert any(m.step == 0 and abs(m.value - value) <= TOL * max(1, abs(value))
                   for m in history), (key, history)

    # og_model.evaluations: one row per metric, the row count, the registered version.
    rows = evaluation_rows(conn, name, since)
    assert sorted(r[0] for r in rows) == sorted(metrics), rows
    for metric, value, n, version, _ in rows:
        assert value == metrics[metric], (metric, value, metrics[metric])
        assert n == N_EVAL
        assert version == case["version"]
    assert len({r[4] for r in rows}) == 1, "one evaluation, one evaluated_at"

    # og_model.quality: the last evaluation's metrics.
    assert quality_metrics(conn, name, case["version"]) == metrics


@pytest.mark.parametrize("name", [REG, BIN])
def test_mlflow_run_has_the_exact_values(conn, mlflow_server, models, name):
    """The value on the run is the double og_evaluate returned and stored, not a rounding."""
    case = models[name]
    result = evaluate(conn, name, f"SELECT features, label FROM {case['table']} ORDER BY i")
    assert result["logged_to_mlflow"] is True
    logged = MlflowClient(mlflow_server.url).get_run(case["run_id"]).data.metrics
    differ = {k: (v, logged.get(k)) for k, v in result["metrics"].items() if logged.get(k) != v}
    assert not differ, f"(returned, on the MLflow run): {differ}"


def test_quality_shows_only_the_last_evaluation(conn, models):
    """A second evaluation over fewer rows replaces the metrics in og_model.quality, and
    og_model.evaluations keeps both."""
    case = models[REG]
    table = case["table"]
    set_config(conn, "og_model.tracking_uri", f"http://127.0.0.1:{free_port()}")  # not logged
    before = evaluation_count(conn, REG)
    conn.add_notice_handler(lambda n: None)
    first = evaluate(conn, REG, f"SELECT features, label FROM {table} ORDER BY i")
    second = evaluate(conn, REG, f"SELECT features, label FROM {table} WHERE i < 500 ORDER BY i")
    assert second["rows"] == 500
    want = sklearn_metrics("regression", case["y"][:500], case["predicted"][:500])
    assert_metrics_close(second["metrics"], want, "first 500 rows")
    assert second["metrics"] != first["metrics"]
    assert evaluation_count(conn, REG) == before + 2 * len(METRIC_KEYS["regression"])
    assert quality_metrics(conn, REG, case["version"]) == second["metrics"]


# ------------------------------------------------- og_model fixtures, file:// --

def linear_rows(conn, table, n, rng, binary):
    X = np.round(rng.normal(scale=2.0, size=(n, 3)), 3)
    if binary:
        z = -0.5 + X @ np.array([0.75, -1.25, 2.0])
        y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    else:
        y = 0.5 + X @ np.array([1.0, -2.0, 0.25]) + rng.normal(scale=0.7, size=n)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (i int PRIMARY KEY, a float8, b float8, c float8, "
                 "label float8)")
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (i, a, b, c, label) FROM STDIN") as copy:
            for i, (row, label) in enumerate(zip(X, y)):
                copy.write_row((i, *row.tolist(), float(label)))
    return X, y


@pytest.fixture
def linear_models(conn):
    fixtures = need_env("OG_FIXTURES")
    rng = np.random.default_rng([SEED, 99])
    out = {}
    for name, directory, binary in ((LINEAR, "linear3", False), (LOGISTIC, "logistic3", True)):
        row = load(conn, name, f"file://{fixtures}/models/{directory}")
        X, y = linear_rows(conn, table_of(name), 400, rng, binary)
        out[name] = (row, X, y)
    yield out
    for name in out:
        unload(conn, name)
        conn.execute(f"DROP TABLE IF EXISTS {table_of(name)}")


def test_file_models_are_evaluated_and_not_logged(conn, linear_models):
    """The og_model fixtures from file:// (linear3: 0.5 + a - 2b + c/4; logistic3: the
    sigmoid of -0.5 + 0.75a - 1.25b + 2c), with the real server as og_model.tracking_uri: the
    metrics, no logging, no warning."""
    notices = Notices(conn)
    for name, task, expected in (
            (LINEAR, "regression", lambda X: 0.5 + X @ np.array([1.0, -2.0, 0.25])),
            (LOGISTIC, "binary",
             lambda X: 1 / (1 + np.exp(-(-0.5 + X @ np.array([0.75, -1.25, 2.0])))))):
        row, X, y = linear_models[name]
        since = last_max_evaluated_at(conn, name)
        table = table_of(name)
        queries = (f"SELECT label, c, b, a FROM {table} ORDER BY i",             # by name
                   f"SELECT a AS x, b AS y, c AS z, label FROM {table} ORDER BY i",  # in order
                   f"SELECT ARRAY[a, b, c] AS features, label FROM {table} ORDER BY i")
        for query in queries:
            result = evaluate(conn, name, query)
            assert result["logged_to_mlflow"] is False, query
            assert result["version"] == row["version"]
            assert result["rows"] == len(X)
            assert_metrics_close(result["metrics"], sklearn_metrics(task, y, expected(X)),
                                 f"{name}: {query}")
        rows = evaluation_rows(conn, name, since)
        assert len(rows) == len(queries) * len(METRIC_KEYS[task])
        assert all(r[2] == len(X) and r[3] == row["version"] for r in rows)
        assert quality_metrics(conn, name, row["version"]) == result["metrics"]
    assert notices.items == []


# ----------------------------------------------------------------- errors --
# SQLSTATEs as README's error table gives them: no rows P0002 (no_data_found), a NULL label
# 22004 (null_value_not_allowed, as a NULL feature), a label the task does not take 22000,
# no label column 42804.

def assert_error(conn, name, query, sqlstate, message, label=None):
    before = evaluation_count(conn, name)
    with pytest.raises(psycopg.Error) as info:
        evaluate(conn, name, query, label)
    diag = info.value.diag
    assert info.value.sqlstate == sqlstate, (info.value.sqlstate, diag.message_primary)
    assert message in diag.message_primary, diag.message_primary
    assert evaluation_count(conn, name) == before, "a failed evaluation stored rows"
    assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_no_rows(conn, mlflow_server, models):
    case = models[BIN]
    client = MlflowClient(mlflow_server.url)
    history = len(client.get_metric_history(case["run_id"], "accuracy"))
    assert_error(conn, BIN, f"SELECT features, label FROM {case['table']} WHERE false",
                 "P0002", f'query for model "{BIN}" returned no rows')
    assert len(client.get_metric_history(case["run_id"], "accuracy")) == history


@pytest.mark.parametrize("name", MODELS)
def test_missing_label_column(conn, models, name):
    table = models[name]["table"]
    assert_error(conn, name, f"SELECT features FROM {table}", "42804",
                 'has no label column "label"')
    assert_error(conn, name, f"SELECT features, label FROM {table}", "42804",
                 'has no label column "target"', label="target")


@pytest.mark.parametrize("name", MODELS)
def test_null_label(conn, models, name):
    table = models[name]["table"]
    assert_error(conn, name,
                 f"SELECT features, CASE WHEN i = 7 THEN NULL ELSE label END AS label "
                 f"FROM {table} ORDER BY i",
                 "22004", f'label of row 8 for model "{name}" is NULL')


@pytest.mark.parametrize("bad", ["2", "-1", "0.5", "'NaN'::float8"])
def test_binary_label_not_0_or_1(conn, models, bad):
    table = models[BIN]["table"]
    assert_error(conn, BIN,
                 f"SELECT features, CASE WHEN i = 1500 THEN {bad} ELSE label END AS label "
                 f"FROM {table} ORDER BY i",
                 "22000", f'label of row 1501 for model "{BIN}"')


@pytest.mark.parametrize("bad", ["'NaN'::float8", "'Infinity'::float8"])
def test_regression_label_not_finite(conn, models, bad):
    table = models[REG]["table"]
    assert_error(conn, REG,
                 f"SELECT features, CASE WHEN i = 10 THEN {bad} ELSE label END AS label "
                 f"FROM {table} ORDER BY i",
                 "22000", f'label of row 11 for model "{REG}" is')


@pytest.mark.parametrize("bad", ["3", "-1", "1.5"])
def test_multiclass_label_not_a_class_index(conn, models, bad):
    table = models[MULTI]["table"]
    assert_error(conn, MULTI,
                 f"SELECT features, CASE WHEN i = 0 THEN {bad} ELSE label END AS label "
                 f"FROM {table} ORDER BY i",
                 "22000", f'label of row 1 for model "{MULTI}"')


def test_missing_feature_for_a_linear_model(conn, linear_models):
    """The linear fixture takes no missing values: the row is an error, nothing stored."""
    assert_error(conn, LINEAR,
                 f"SELECT CASE WHEN i = 3 THEN NULL ELSE a END AS a, b, c, label "
                 f"FROM {table_of(LINEAR)} ORDER BY i",
                 "22004", f'model "{LINEAR}" does not accept missing')


# ------------------------------------------------------- MLflow unreachable --

@pytest.mark.parametrize("tracking_uri", ["closed_port", "unset"])
def test_mlflow_unreachable_is_a_warning(conn, models, tracking_uri):
    """The model was loaded from the real server; by the time of the evaluation the tracking
    server is a closed port (or no longer set): the metrics are returned and stored, a
    WARNING says they were not logged."""
    case = models[BIN]
    uri = f"http://127.0.0.1:{free_port()}" if tracking_uri == "closed_port" else ""
    set_config(conn, "og_model.tracking_uri", uri)
    notices = Notices(conn)
    since = last_max_evaluated_at(conn, BIN)
    result = evaluate(conn, BIN, f"SELECT features, label FROM {case['table']} ORDER BY i")
    assert result["logged_to_mlflow"] is False
    assert result["run_id"] == case["run_id"]
    assert_metrics_close(result["metrics"],
                         sklearn_metrics("binary", case["y"], case["predicted"]), "unlogged")
    warned = notices.warnings()
    assert len(warned) == 1, notices.items
    assert f'model "{BIN}"' in warned[0]["message_primary"], warned[0]
    assert "og_model.evaluations" in (warned[0]["message_hint"] or ""), warned[0]
    rows = evaluation_rows(conn, BIN, since)
    assert {r[0]: r[1] for r in rows} == result["metrics"]
    assert all(r[2] == N_EVAL and r[3] == case["version"] for r in rows)
    assert quality_metrics(conn, BIN, case["version"]) == result["metrics"]
