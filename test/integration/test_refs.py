"""Loading registered model versions from a real MLflow server by every kind of ref."""

import hashlib

import pytest

from conftest import FIXTURES, load, model_row, need_env, predict, set_config, unload

X = [1, 2, 3]
LINEAR3, SWAP_A, SWAP_B = -1.75, 1.5, 2.5


@pytest.fixture(scope="module")
def registry(mlflow_server):
    """Registered model "refs": v1 linear3, v2 swap_a (@champion), v3 swap_b."""
    runs = {}
    for directory, alias in (("linear3", None), ("swap_a", "champion"), ("swap_b", None)):
        version, run_id = mlflow_server.register("refs", FIXTURES / directory, alias=alias)
        runs[version] = run_id
    assert sorted(runs) == ["1", "2", "3"]
    return runs


@pytest.fixture
def conn(db, mlflow_server, registry):
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    yield db
    for name in ("refs", "refs_uri", "refs_run"):
        unload(db, name)


def test_load_by_version_records_everything(conn, mlflow_server, registry):
    row = load(conn, "refs", "1")
    model_json = (FIXTURES / "linear3" / "model.json").read_bytes()
    assert row["version"] == "1"
    assert row["ref"] == "1"
    assert row["run_id"] == registry["1"]
    assert row["source"] == f"mlflow-artifacts:/0/{registry['1']}/artifacts/model"
    assert row["sha256"] == hashlib.sha256(model_json).hexdigest()
    assert row["artifact_bytes"] == len(model_json)
    assert row["flavor"] == "og_model"
    assert row["load_ms"] > 0
    assert model_row(conn, "refs") == row
    assert predict(conn, "refs", X) == LINEAR3


def test_load_by_alias(conn, registry):
    row = load(conn, "refs", "@champion")
    assert (row["version"], row["ref"]) == ("2", "@champion")
    assert predict(conn, "refs", X) == SWAP_A


def test_latest_is_highest_ready_version(conn, mlflow_server, registry):
    assert load(conn, "refs", "latest")["version"] == "3"
    assert predict(conn, "refs", X) == SWAP_B
    mlflow_server.set_status("refs", "3", "PENDING_REGISTRATION")
    try:
        assert load(conn, "refs", "latest")["version"] == "2"
        assert predict(conn, "refs", X) == SWAP_A
    finally:
        mlflow_server.set_status("refs", "3", "READY")


def test_models_uris(conn, registry):
    assert load(conn, "refs_uri", "models:/refs/1")["version"] == "1"
    assert predict(conn, "refs_uri", X) == LINEAR3
    row = load(conn, "refs_uri", "models:/refs@champion")
    assert (row["version"], row["ref"]) == ("2", "models:/refs@champion")
    assert predict(conn, "refs_uri", X) == SWAP_A
    assert load(conn, "refs_uri", "models:/refs/latest")["version"] == "3"
    assert predict(conn, "refs_uri", X) == SWAP_B


def test_runs_uri(conn, registry):
    run_id = registry["2"]
    row = load(conn, "refs_run", f"runs:/{run_id}/model")
    assert row["version"] is None
    assert row["run_id"] == run_id
    assert row["source"] == f"mlflow-artifacts:/0/{run_id}/artifacts/model"
    assert predict(conn, "refs_run", X) == SWAP_A


def test_moving_the_alias_and_reloading_swaps_the_version(conn, mlflow_server, registry):
    assert load(conn, "refs", "@champion")["version"] == "2"
    assert predict(conn, "refs", X) == SWAP_A
    mlflow_server.set_alias("refs", "champion", "3")
    try:
        row = load(conn, "refs", "@champion")
        assert row["version"] == "3"
        assert model_row(conn, "refs")["version"] == "3"
        assert predict(conn, "refs", X) == SWAP_B
    finally:
        mlflow_server.set_alias("refs", "champion", "2")


def test_trailing_slash_in_tracking_uri(conn, mlflow_server, registry):
    set_config(conn, "og_model.tracking_uri", mlflow_server.url + "/")
    assert load(conn, "refs", "2")["version"] == "2"


def test_file_refs_still_work(conn):
    row = load(conn, "refs", f"file://{need_env('OG_FIXTURES')}/models/linear3")
    assert row["version"] is None
    assert predict(conn, "refs", X) == LINEAR3


def test_og_model_admin_loads_from_mlflow_without_file_privileges(conn, mlflow_server, registry):
    """Loading from MLflow needs og_model_admin only; file:// also needs pg_read_server_files."""
    import psycopg

    conn.execute("DROP ROLE IF EXISTS og_refs_admin")
    conn.execute("CREATE ROLE og_refs_admin LOGIN IN ROLE og_model_admin")
    conn.execute("ALTER ROLE og_refs_admin SET og_model.tracking_uri = %s" % psycopg.sql.quote(mlflow_server.url))
    try:
        with psycopg.connect(host=need_env("OG_PGHOST"), port=need_env("OG_PGPORT"), user="og_refs_admin",
                             dbname=need_env("OG_DB"), autocommit=True) as admin:
            assert load(admin, "refs", "@champion")["version"] == "2"
            assert predict(admin, "refs", X) == SWAP_A
    finally:
        conn.execute("DROP ROLE IF EXISTS og_refs_admin")


def test_dot_segments_in_runs_uri_are_refused(conn, mlflow_server, registry):
    """runs:/<v2's run>/../../<v1's run>/artifacts/model would fetch v1's files (libcurl and
    the server collapse dot segments) and record v2's run: refused, plain or escaped."""
    from conftest import load_error

    load(conn, "refs_run", "models:/refs/1")
    run1, run2 = registry["1"], registry["2"]
    for path in (f"../../{run1}/artifacts/model", f"%2e%2e/%2E%2E/{run1}/artifacts/model",
                 "./model", "model/.%2e/model"):
        ref = f"runs:/{run2}/{path}"
        state, message, detail, _ = load_error(conn, "refs_run", ref)
        assert (state, message) == ("22023", f'invalid reference "{ref}" for model "refs_run"'), (state, message)
        assert detail == 'The reference has a "." or ".." path segment.'
    row = model_row(conn, "refs_run")
    assert (row["version"], row["run_id"]) == ("1", run1), "a refused load changed the model"
    assert predict(conn, "refs_run", X) == LINEAR3


def test_dot_segments_are_refused_before_any_request(db, standin):
    from conftest import load_error

    set_config(db, "og_model.tracking_uri", standin.url("mlflow"))
    before = len(standin.requests)
    for ref in ("runs:/abc/../x/model", "models:/../7", "models:/m@%2e%2e", "@.."):
        assert load_error(db, "refs_dots", ref)[0] == "22023", ref
    assert len(standin.requests) == before, standin.requests[before:]


@pytest.mark.parametrize("behaviour,ref", [("mlflow_dotdot", "7"), ("mlflow_dotdot_http", "7"),
                                           ("mlflow_dotdot", "runs:/abc/model")])
def test_dot_segments_in_locations_from_mlflow_are_refused(db, standin, behaviour, ref):
    """A download location or a run's artifact location with dot segments, as a server
    could answer: refused (08P01) before the files are asked for."""
    from conftest import load_error

    set_config(db, "og_model.tracking_uri", standin.url(behaviour))
    before = len(standin.requests)
    state, message, _, hint = load_error(db, "refs_dots", ref)
    assert state == "08P01", (state, message)
    assert message.startswith(f'cannot load model "refs_dots" from "{ref}": MLflow server {standin.url(behaviour)} '
                              "named the artifact location "), message
    assert message.endswith('which has a "." or ".." path segment'), message
    asked = [path for path, _ in standin.requests[before:]]
    assert not any("artifacts/" in p.split("?")[0] or "/files/" in p for p in asked), asked
