"""og_train and og_promote against scikit-learn and a real MLflow server.

og_train fits on a table of the test database and registers a version in the real server;
the coefficients it wrote (model.json, read back through MLflow) must agree with
scikit-learn's fit of the same rows to 1e-6 relative, the version must be a model directory
that MLflow itself loads, the run must carry the params and training metrics, and the loaded
version must score as scikit-learn predicts.  Bad queries and parameters fail with their
SQLSTATE and leave no version behind.  og_promote moves an alias only when the candidate's
evaluation beats the holder's, and records each decision.
"""

import json
import math

import mlflow
import numpy as np
import psycopg
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error, r2_score, roc_auc_score

from conftest import connect, free_port, load, model_row, set_config, unload

COEF_TOL = 1e-6   # |og_train - scikit-learn| <= COEF_TOL * max(1, |scikit-learn|)
PRED_TOL = 1e-9
N, P = 800, 5
SEED = 20_261_126
SCALES = np.array([1e-3, 1.0, 50.0, 1e4, 3.0])
OFFSETS = np.array([0.0, 1e3, -20.0, 5e5, 0.5])


def data(seed=SEED, n=N):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, P))
    Z[:, 1] += 0.6 * Z[:, 0]                       # correlated features
    X = Z * SCALES + OFFSETS                       # wildly different units
    z = 0.8 * Z[:, 0] - 1.3 * Z[:, 1] + 0.5 * Z[:, 2] + 0.2 * Z[:, 4] + 0.3
    y_reg = 10 + 3 * z + rng.normal(scale=0.7, size=n)
    y_bin = (z + rng.logistic(scale=0.8, size=n) > 0).astype(np.float64)
    return X, y_reg, y_bin


COLUMNS = ["age", "income", "tenure", "balance", "score"]


def make_table(conn, table, X, y):
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} ({', '.join(c + ' float8' for c in COLUMNS)}, label float8)")
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        for row, label in zip(X, y):
            copy.write_row([float(v) for v in row] + [float(label)])


def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(b))


def assert_coefficients(model_json, intercept, coef, tol=COEF_TOL):
    assert close(model_json["intercept"], intercept, tol), (model_json["intercept"], intercept)
    assert len(model_json["weights"]) == len(coef)
    for got, want in zip(model_json["weights"], coef):
        assert close(got, want, tol), (model_json["weights"], list(coef))


def model_files(server, name, version):
    """MLmodel (as loaded by MLflow) and model.json of a registered version."""
    with server.client_env():
        uri = f"models:/{name}/{version}"
        mlmodel = mlflow.models.Model.load(uri)
        path = mlflow.artifacts.download_artifacts(f"{uri}/model.json")
        with open(path) as f:
            return mlmodel, json.load(f)


@pytest.fixture(scope="module")
def tables():
    X, y_reg, y_bin = data()
    with connect() as conn:
        # records of an earlier run against another MLflow server's versions
        conn.execute("DELETE FROM og_model.evaluations WHERE registered_model LIKE 'train%'")
        conn.execute("DELETE FROM og_model.promotions WHERE model LIKE 'train%'")
        make_table(conn, "train_reg", X, y_reg)
        make_table(conn, "train_bin", X, y_bin)
    return X, y_reg, y_bin


@pytest.fixture
def mdb(db, mlflow_server):
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    return db


def train(conn, name, query, algorithm="linear", params=None, label="label"):
    return conn.execute("SELECT og_train(%s, %s, %s, %s, %s::jsonb)",
                        (name, query, label, algorithm, json.dumps(params or {}))).fetchone()[0]


# ------------------------------------------------------------- agreement --

@pytest.mark.parametrize("alpha", [0.0, 2.5, 400.0])
def test_linear_matches_scikit_learn(mdb, mlflow_server, tables, alpha):
    X, y, _ = tables
    name = f"train_linear_{int(alpha * 10)}"
    version = train(mdb, name, "SELECT * FROM train_reg", "linear", {"alpha": alpha})
    assert version.isdigit()

    # tol is lstsq's cutoff of small singular values: the default (1e-6) drops the
    # small-unit feature of this data
    ref = LinearRegression(tol=1e-13).fit(X, y) if alpha == 0 else Ridge(alpha=alpha, solver="cholesky", tol=1e-12).fit(X, y)
    mlmodel, model_json = model_files(mlflow_server, name, version)
    assert_coefficients(model_json, ref.intercept_, ref.coef_)
    assert model_json["kind"] == "linear" and model_json["link"] == "identity"
    assert model_json["feature_names"] == COLUMNS
    # a valid MLflow model: flavor, signature with our column names, the run
    assert "og_model" in mlmodel.flavors
    assert mlmodel.flavors["og_model"]["data"] == "model.json"
    assert [c.name for c in mlmodel.signature.inputs] == COLUMNS
    # the training reference: quantile bins over every feature
    ref_features = model_json["reference"]["features"]
    assert [f["name"] for f in ref_features] == COLUMNS
    for f, col in zip(ref_features, X.T):
        assert f["edges"][0] == col.min() and f["edges"][-1] == col.max()
        assert math.isclose(sum(f["fractions"]), 1.0, rel_tol=1e-12)

    # the run: params and training metrics, finished; the version points at it
    with mlflow_server.client_env() as client:
        mv = client.get_model_version(name, version)
        run = client.get_run(mv.run_id)
    assert mlmodel.run_id == mv.run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["algorithm"] == "linear"
    assert float(run.data.params["alpha"]) == alpha
    assert run.data.params["rows"] == str(N)
    pred = ref.predict(X)
    assert close(run.data.metrics["training_rmse"], math.sqrt(mean_squared_error(y, pred)), 1e-9)
    assert close(run.data.metrics["training_r2"], r2_score(y, pred), 1e-9)

    # loaded, it scores as scikit-learn predicts
    load(mdb, name, version)
    for i in range(50):
        got = mdb.execute("SELECT og_predict(%s, %s::float8[])", (name, X[i].tolist())).fetchone()[0]
        assert close(got, pred[i], PRED_TOL * 1e3), (i, got, pred[i])
    # drift is tracked against the training reference
    drift = mdb.execute("SELECT count(*) FROM og_model.feature_drift WHERE name = %s", (name,)).fetchone()[0]
    assert drift == P
    unload(mdb, name)


@pytest.mark.parametrize("C", [1.0, 0.01, None])
def test_logistic_matches_scikit_learn(mdb, mlflow_server, tables, C):
    X, _, y = tables
    name = "train_logistic_" + ("none" if C is None else str(C).replace(".", "_"))
    version = train(mdb, name, "SELECT * FROM train_bin", "logistic", {"C": C})

    # scikit-learn does not converge with features offset by 5e5: fit it on centred
    # features (the same problem: the penalty is on the weights, the intercept absorbs
    # the shift) and shift its intercept back
    kwargs = {"penalty": None} if C is None else {"C": C}
    mean = X.mean(axis=0)
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, **kwargs).fit(X - mean, y)
    _, model_json = model_files(mlflow_server, name, version)
    assert model_json["link"] == "logistic"
    assert_coefficients(model_json, ref.intercept_[0] - ref.coef_[0] @ mean, ref.coef_[0])

    with mlflow_server.client_env() as client:
        run = client.get_run(client.get_model_version(name, version).run_id)
    proba = ref.predict_proba(X - mean)[:, 1]
    assert close(run.data.metrics["training_log_loss"], log_loss(y, proba), 1e-6)
    assert close(run.data.metrics["training_roc_auc"], roc_auc_score(y, proba), 1e-9)
    assert run.data.params["C"] == "none" if C is None else float(run.data.params["C"]) == C

    load(mdb, name, version)
    for i in range(20):
        got = mdb.execute("SELECT og_predict(%s, %s::float8[])", (name, X[i].tolist())).fetchone()[0]
        assert close(got, proba[i], PRED_TOL * 1e3)
    unload(mdb, name)


def test_array_column_and_experiment(mdb, mlflow_server, tables):
    X, y, _ = tables
    name = "train_array"
    version = train(mdb, name,
                    "SELECT ARRAY[age, income, tenure, balance, score] AS x, label AS target FROM train_reg",
                    "linear", {"experiment": "og-train-tests", "description": "from an array"},
                    label="target")
    ref = LinearRegression(tol=1e-13).fit(X, y)
    _, model_json = model_files(mlflow_server, name, version)
    assert_coefficients(model_json, ref.intercept_, ref.coef_)
    assert model_json["feature_names"] == [f"x_{i}" for i in range(1, P + 1)]
    with mlflow_server.client_env() as client:
        mv = client.get_model_version(name, version)
        run = client.get_run(mv.run_id)
        assert client.get_experiment(run.info.experiment_id).name == "og-train-tests"
    assert mv.description == "from an array"
    # a second training is the next version of the same registered model
    assert train(mdb, name, "SELECT ARRAY[age, income] AS x, label AS target FROM train_reg",
                 label="target") == str(int(version) + 1)


# ----------------------------------------------------------------- errors --

def train_error(conn, *args, **kwargs):
    with pytest.raises(psycopg.Error) as info:
        train(conn, *args, **kwargs)
    d = info.value.diag
    return info.value.sqlstate, d.message_primary, d.message_detail, d.message_hint


def versions(server, name):
    with server.client_env() as client:
        return len(client.search_model_versions(f"name='{name}'"))


@pytest.mark.parametrize("query, algorithm, params, sqlstate, message", [
    ("SELECT * FROM train_reg WHERE false", "linear", {}, "P0002",
     'cannot train model "train_bad": the query returned no rows'),
    ("SELECT age, 'x'::text AS name, label FROM train_reg", "linear", {}, "42804",
     'query for model "train_bad" has column "name" of type text for feature 2'),
    ("SELECT age, NULL::float8 AS label FROM train_reg", "linear", {}, "22004",
     'label of row 1 for model "train_bad" is NULL'),
    ("SELECT age, CASE WHEN income > 1000 THEN NULL ELSE tenure END AS tenure, label FROM train_reg",
     "linear", {}, "22004", None),
    ("SELECT age, income, 2 * age - income AS combo, label FROM train_reg", "linear", {}, "22000",
     'cannot train model "train_bad": features are collinear'),
    ("SELECT age, 7 AS seven, label FROM train_reg", "linear", {}, "22000",
     'cannot train model "train_bad": feature "seven" is constant'),
    ("SELECT age, label * 2 AS label FROM train_bin", "logistic", {}, "22000",
     'cannot train model "train_bad": label of row'),
    ("SELECT age, 1 AS label FROM train_bin", "logistic", {}, "22000",
     'cannot train model "train_bad": every label is 1'),
    ("SELECT age, (age > 0)::int AS label FROM train_bin", "logistic", {"C": None}, "22000",
     'cannot train model "train_bad": the classes are separated perfectly'),
    ("SELECT age AS label, income AS label FROM train_reg", "linear", {}, "42804",
     'query for model "train_bad" has two columns named "label"'),
    ("SELECT label FROM train_reg", "linear", {}, "42804",
     'query for model "train_bad" has no feature columns'),
    ("SELECT * FROM train_reg", "forest", {}, "22023",
     'cannot train model "train_bad": unknown algorithm "forest"'),
    ("SELECT * FROM train_reg", "linear", {"C": 1}, "22023",
     'cannot train model "train_bad": unknown parameter "C" for algorithm "linear"'),
    ("SELECT * FROM train_reg", "linear", {"alpha": -1}, "22023",
     'cannot train model "train_bad": params.alpha must be a number of at least 0'),
    ("SELECT * FROM train_bin", "logistic", {"max_iter": 0}, "22023",
     'cannot train model "train_bad": params.max_iter must be an integer from 1 to 100000'),
])
def test_bad_training_input(mdb, mlflow_server, tables, query, algorithm, params, sqlstate, message):
    state, primary, detail, hint = train_error(mdb, "train_bad", query, algorithm, params)
    assert state == sqlstate, (state, primary)
    if message:
        assert primary.startswith(message), primary
    assert "train_bad" in primary
    if sqlstate == "22004" and message is None:
        assert primary == 'cannot train model "train_bad": feature "tenure" of row 1 is NULL or NaN' \
            or primary.startswith('cannot train model "train_bad": feature "tenure" of row'), primary
        assert "coalesce" in hint
    if "collinear" in primary:
        assert detail == 'Feature "combo" is a linear combination of the features before it (and the intercept).'
        assert "alpha" in hint
    # nothing was registered
    assert versions(mlflow_server, "train_bad") == 0


def test_memory_limit(mdb, tables):
    mdb.execute("SET maintenance_work_mem = '1MB'")
    try:
        state, primary, detail, hint = train_error(
            mdb, "train_big", "SELECT g::float8 AS a, (g % 7)::float8 AS label FROM generate_series(1, 100000) g")
    finally:
        mdb.execute("RESET maintenance_work_mem")
    assert state == "54000"
    assert primary == 'cannot train model "train_big": the rows need more memory than maintenance_work_mem (1024 kB)'
    assert "maintenance_work_mem" in hint


def test_ridge_resolves_collinear(mdb, mlflow_server, tables):
    X, y, _ = tables
    version = train(mdb, "train_ridge_combo",
                    "SELECT age, income, 2 * age - income AS combo, 7 AS seven, label FROM train_reg",
                    "linear", {"alpha": 1.0})
    Xc = np.column_stack([X[:, 0], X[:, 1], 2 * X[:, 0] - X[:, 1], np.full(len(X), 7.0)])
    ref = Ridge(alpha=1.0, solver="svd").fit(Xc, y)
    _, model_json = model_files(mlflow_server, "train_ridge_combo", version)
    assert_coefficients(model_json, ref.intercept_, ref.coef_, 1e-5)
    assert model_json["weights"][3] == 0.0


def test_mlflow_unreachable(db, tables):
    set_config(db, "og_model.tracking_uri", f"http://127.0.0.1:{free_port()}")
    state, primary, detail, hint = train_error(db, "train_offline", "SELECT * FROM train_reg")
    assert state == "08006"
    assert primary.startswith('cannot register model "train_offline" in MLflow: could not connect')


def test_privileges(mdb, tables):
    mdb.execute("DROP ROLE IF EXISTS train_analyst")
    mdb.execute("CREATE ROLE train_analyst")
    try:
        mdb.execute("SET ROLE train_analyst")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            train(mdb, "train_priv", "SELECT * FROM train_reg")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            mdb.execute("SELECT og_promote('train_priv', '1')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            mdb.execute("SELECT * FROM og_model.promotions")
    finally:
        mdb.execute("RESET ROLE")
        mdb.execute("DROP ROLE train_analyst")


# -------------------------------------------------------------- promotion --

def evaluate(conn, name, version, query):
    """Evaluate a version of registered model name under a scratch load name."""
    scratch = f"{name}__eval"
    load(conn, scratch, f"models:/{name}/{version}")
    result = conn.execute("SELECT og_evaluate(%s, %s)", (scratch, query)).fetchone()[0]
    unload(conn, scratch)
    return result["metrics"]


def promote(conn, *args):
    return conn.execute("SELECT og_promote(%s, %s, %s, %s, %s)", args).fetchone()[0]


def last_decision(conn, name):
    cur = conn.execute("SELECT * FROM og_model.promotions WHERE model = %s "
                       "ORDER BY decided_at DESC LIMIT 1", (name,))
    return dict(zip([c.name for c in cur.description], cur.fetchone()))


def alias_version(server, name, alias):
    with server.client_env() as client:
        return client.get_model_version_by_alias(name, alias).version


def test_promotion_gate(mdb, mlflow_server, tables):
    name = "train_gate"
    holdout = "SELECT * FROM train_reg WHERE tenure > -20"
    # v1: one weak feature
    v1 = train(mdb, name, "SELECT age, label FROM train_reg")
    m1 = evaluate(mdb, name, v1, "SELECT age, label FROM train_reg WHERE tenure > -20")
    assert promote(mdb, name, v1, "champion", "rmse", 0.0) is True
    d = last_decision(mdb, name)
    assert d["promoted"] and d["previous_version"] is None and d["reason"] == "no version held the alias"
    assert alias_version(mlflow_server, name, "champion") == v1

    # v2: every feature, clearly better: takes the alias (default metric: rmse)
    v2 = train(mdb, name, "SELECT * FROM train_reg")
    m2 = evaluate(mdb, name, v2, holdout)
    assert m2["rmse"] < m1["rmse"]
    assert promote(mdb, name, v2, "champion", None, 0.0) is True
    d = last_decision(mdb, name)
    assert (d["candidate_version"], d["previous_version"], d["metric"]) == (v2, v1, "rmse")
    assert d["candidate_value"] == m2["rmse"] and d["previous_value"] == m1["rmse"]
    assert alias_version(mlflow_server, name, "champion") == v2

    # v3: worse (trained on two features): the alias stays
    v3 = train(mdb, name, "SELECT age, income, label FROM train_reg")
    evaluate(mdb, name, v3, "SELECT age, income, label FROM train_reg WHERE tenure > -20")
    assert promote(mdb, name, v3, "champion", "rmse", 0.0) is False
    d = last_decision(mdb, name)
    assert not d["promoted"] and d["previous_version"] == v2
    assert alias_version(mlflow_server, name, "champion") == v2

    # higher is better for r2; a gain not above min_gain does not move the alias
    v4 = train(mdb, name, "SELECT * FROM train_reg", "linear", {"alpha": 0.001})
    m4 = evaluate(mdb, name, v4, holdout)
    gain = m4["r2"] - m2["r2"]
    assert promote(mdb, name, v4, "champion", "r2", abs(gain) + 0.01) is False
    assert alias_version(mlflow_server, name, "champion") == v2
    # the holder itself: nothing to do
    assert promote(mdb, name, v2, "champion", "rmse", 0.0) is False
    assert last_decision(mdb, name)["reason"] == "the version already holds the alias"


def test_promotion_errors(mdb, mlflow_server, tables):
    name = "train_gate_err"
    v1 = train(mdb, name, "SELECT age, label FROM train_reg")
    with pytest.raises(psycopg.Error) as info:
        promote(mdb, name, v1, "champion", None, 0.0)
    assert info.value.sqlstate == "P0002"
    assert info.value.diag.message_primary == \
        f'cannot promote model "{name}": version {v1} (the candidate) has no evaluation'
    evaluate(mdb, name, v1, "SELECT age, label FROM train_reg")
    assert promote(mdb, name, v1, "champion", None, 0.0) is True
    v2 = train(mdb, name, "SELECT age, income, label FROM train_reg")
    evaluate(mdb, name, v2, "SELECT age, income, label FROM train_reg")
    with pytest.raises(psycopg.Error) as info:
        promote(mdb, name, v2, "champion", "roc_auc", 0.0)
    assert info.value.sqlstate == "P0002" and "roc_auc" in info.value.diag.message_primary
    for args, message in [
        ((name, "x1", "champion", None, 0.0), '"x1" is not a version number'),
        ((name, v2, "@champion", None, 0.0), 'invalid alias "@champion"'),
        ((name, v2, "champion", "f1", 0.0), 'unknown metric "f1"'),
        ((name, v2, "champion", "rmse", -1.0), "min_gain must be a finite number of at least 0"),
    ]:
        with pytest.raises(psycopg.Error) as info:
            promote(mdb, *args)
        assert info.value.sqlstate == "22023"
        assert info.value.diag.message_primary == f'cannot promote model "{name}": {message}'
    # no decision was recorded by the failed calls
    assert mdb.execute("SELECT count(*) FROM og_model.promotions WHERE model = %s",
                       (name,)).fetchone()[0] == 1
    assert alias_version(mlflow_server, name, "champion") == v1
