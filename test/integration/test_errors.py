"""Every failure of a load from MLflow: a fitting SQLSTATE, a message naming model, ref and
server, and the version loaded before keeps serving."""

import shutil

import pytest

from conftest import FIXTURES, RUNDIR, free_port, load, load_error, model_row, predict, set_config, unload

X = [1, 2, 3]


@pytest.fixture(scope="module")
def registry(mlflow_server):
    """"errs" v1 serves; broken versions: no model.json, no MLmodel, bad YAML."""
    broken = RUNDIR / "broken-models"
    shutil.rmtree(broken, ignore_errors=True)
    (broken / "no_model_json").mkdir(parents=True)
    shutil.copy(FIXTURES / "linear3" / "MLmodel", broken / "no_model_json" / "MLmodel")
    (broken / "no_mlmodel").mkdir()
    shutil.copy(FIXTURES / "linear3" / "model.json", broken / "no_mlmodel" / "model.json")
    shutil.copytree(FIXTURES / "yaml_syntax", broken / "bad_yaml")
    shutil.copytree(FIXTURES / "json_syntax", broken / "bad_json")
    versions = {}
    versions["good"], _ = mlflow_server.register("errs", FIXTURES / "linear3", alias="champion")
    for name in ("no_model_json", "no_mlmodel", "bad_yaml", "bad_json"):
        versions[name], _ = mlflow_server.register_raw("errs", broken / name)
    versions["pending"], _ = mlflow_server.register("errs", FIXTURES / "swap_a")
    mlflow_server.set_status("errs", versions["pending"], "PENDING_REGISTRATION")
    return versions


@pytest.fixture
def conn(db, mlflow_server, registry):
    """The good version is loaded and must keep serving after every failure."""
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    load(db, "errs", "@champion")
    yield db
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    row = model_row(db, "errs")
    assert row is not None and row["version"] == registry["good"], "the failed load replaced the model"
    assert predict(db, "errs", X) == -1.75
    unload(db, "errs")


def test_unknown_registered_model(conn, mlflow_server):
    state, message, detail, _ = load_error(conn, "errs", "models:/nosuchmodel/1")
    assert state == "42704"
    assert message == 'cannot load model "errs" from "models:/nosuchmodel/1": version 1 of registered model "nosuchmodel" does not exist'
    assert detail.startswith(f"MLflow server {mlflow_server.url} answered GET /api/2.0/mlflow/model-versions/get with HTTP 404 RESOURCE_DOES_NOT_EXIST")


def test_unknown_registered_model_latest(conn, mlflow_server):
    state, message, detail, _ = load_error(conn, "errs", "models:/nosuchmodel/latest")
    assert state == "42704"
    assert message == 'cannot load model "errs" from "models:/nosuchmodel/latest": registered model "nosuchmodel" does not exist'
    assert mlflow_server.url in detail


def test_unknown_version(conn, mlflow_server):
    state, message, detail, _ = load_error(conn, "errs", "99")
    assert state == "42704"
    assert message == 'cannot load model "errs" from "99": version 99 of registered model "errs" does not exist'
    assert "Model Version (name=errs, version=99) not found" in detail


def test_unknown_alias_answered_400(conn, mlflow_server):
    state, message, detail, _ = load_error(conn, "errs", "@nosuchalias")
    assert state == "42704"
    assert message == 'cannot load model "errs" from "@nosuchalias": alias "nosuchalias" of registered model "errs" does not exist'
    assert "HTTP 400 INVALID_PARAMETER_VALUE" in detail


def test_version_not_ready(conn, registry):
    version = registry["pending"]
    state, message, _, hint = load_error(conn, "errs", version)
    assert state == "55000"
    assert message == f'cannot load model "errs" from "{version}": version {version} of registered model "errs" is PENDING_REGISTRATION, not READY'
    assert hint == "Load it when MLflow has finished registering it."


def test_missing_model_file(conn, registry):
    version = registry["no_model_json"]
    state, message, detail, _ = load_error(conn, "errs", version)
    assert state == "58P01"
    assert message == f'cannot load model "errs" from "{version}": file "model.json" of version {version} of registered model "errs" does not exist'
    assert "RESOURCE_DOES_NOT_EXIST" in detail


def test_missing_mlmodel(conn, registry):
    version = registry["no_mlmodel"]
    state, message, _, _ = load_error(conn, "errs", version)
    assert state == "58P01"
    assert message == f'cannot load model "errs" from "{version}": file "MLmodel" of version {version} of registered model "errs" does not exist'


def test_malformed_mlmodel(conn, registry):
    state, message, detail, _ = load_error(conn, "errs", registry["bad_yaml"])
    assert (state, message) == ("22P02", 'invalid MLmodel file for model "errs"')
    assert "line 4, column 1" in detail


def test_malformed_model_json(conn, registry):
    state, message, detail, _ = load_error(conn, "errs", registry["bad_json"])
    assert (state, message) == ("22P02", 'invalid JSON in model.json of model "errs"')
    assert detail == "Syntax error at line 2, column 24."


def test_unreachable_server(conn):
    port = free_port()
    set_config(conn, "og_model.tracking_uri", f"http://127.0.0.1:{port}")
    state, message, detail, hint = load_error(conn, "errs", "1")
    assert state == "08006"
    assert message == f'cannot load model "errs" from "1": could not connect to MLflow server http://127.0.0.1:{port}'
    assert detail.startswith("GET /api/2.0/mlflow/model-versions/get: ")
    assert hint == "Check og_model.tracking_uri and that the MLflow server is running."


def test_tracking_uri_not_set(conn):
    conn.execute("RESET og_model.tracking_uri")
    state, message, _, hint = load_error(conn, "errs", "@champion")
    assert state == "55000"
    assert message == 'cannot load model "errs" from "@champion": og_model.tracking_uri is not set'
    assert "og_model.tracking_uri" in hint


@pytest.mark.parametrize("ref, why", [
    ("champion", "The reference is not a version, an alias, \"latest\" or a URI og_model reads."),
    ("@", "The alias is empty."),
    ("models:/errs", "A models:/ URI names a registered model and a version or an alias: models:/name/7 or models:/name@alias."),
    ("models:/errs/v1", "A version is a number."),
    ("runs:/abc", "A runs:/ URI names a run and the model's path among its artifacts: runs:/<run_id>/model."),
    ("s3://bucket/model", "The reference is not a version, an alias, \"latest\" or a URI og_model reads."),
])
def test_invalid_refs(conn, ref, why):
    state, message, detail, hint = load_error(conn, "errs", ref)
    assert state == "22023"
    assert message == f'invalid reference "{ref}" for model "errs"'
    assert detail == why
    assert hint.startswith("Use a version ('7'), an alias ('@champion'), 'latest'")


def test_unknown_run(conn):
    state, message, _, _ = load_error(conn, "errs", "runs:/0000aaaa/model")
    assert state == "42704"
    assert message == 'cannot load model "errs" from "runs:/0000aaaa/model": run "0000aaaa" does not exist'


def test_invalid_tracking_uris(conn):
    import psycopg

    for uri, detail in (("ftp://127.0.0.1/", "The tracking URI must start with http:// or https://."),
                        ("http://user:secret@127.0.0.1:5000", "Credentials do not belong in the tracking URI."),
                        ("http://", "The tracking URI has no host.")):
        with pytest.raises(psycopg.Error) as info:
            set_config(conn, "og_model.tracking_uri", uri)
        assert info.value.sqlstate == "22023"
        assert info.value.diag.message_detail == detail


# --- faults of the stand-in (a real server cannot produce them on demand) ---

def test_timeout(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("stall"))
    set_config(conn, "og_model.http_timeout_ms", 700)
    state, message, _, hint = load_error(conn, "errs", "1")
    assert state == "08006"
    assert message == f'cannot load model "errs" from "1": MLflow server {standin.url("stall")} did not answer within 700 ms'
    assert hint == "Raise og_model.http_timeout_ms for slow servers or large models."


def test_timeout_in_the_middle_of_a_body(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("stall_body"))
    set_config(conn, "og_model.http_timeout_ms", 700)
    state, message, _, _ = load_error(conn, "errs", "1")
    assert state == "08006"
    assert "did not answer within 700 ms" in message


def test_truncated_api_answer(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("truncated"))
    state, message, _, _ = load_error(conn, "errs", "1")
    assert state == "08006"
    assert message == f'cannot load model "errs" from "1": MLflow server {standin.url("truncated")} sent an incomplete response'


def test_truncated_model_file(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("mlflow_cut"))
    state, message, detail, _ = load_error(conn, "errs", "1")
    assert state == "08006"
    assert message.endswith("sent an incomplete response")
    assert detail.startswith("GET /model-versions/get-artifact")


@pytest.mark.parametrize("behaviour", ["mlflow_big", "mlflow_big_announced"])
def test_oversized_model_file(conn, standin, behaviour):
    set_config(conn, "og_model.tracking_uri", standin.url(behaviour))
    set_config(conn, "og_model.max_artifact_bytes", 1024 * 1024)
    state, message, _, hint = load_error(conn, "errs", "1")
    assert state == "54000"
    assert message == f'cannot load model "errs" from "1": response of MLflow server {standin.url(behaviour)} is larger than 1048576 bytes'
    assert hint == "Raise og_model.max_artifact_bytes to load larger models."


def test_not_json(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("not_json"))
    state, message, _, hint = load_error(conn, "errs", "1")
    assert state == "08P01"
    assert message == f'cannot load model "errs" from "1": MLflow server {standin.url("not_json")} sent an invalid JSON answer'
    assert hint == "Check that og_model.tracking_uri points at an MLflow tracking server."


def test_server_error(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("error500"))
    state, message, detail, _ = load_error(conn, "errs", "1")
    assert state == "08006"
    assert message == f'cannot load model "errs" from "1": MLflow server {standin.url("error500")} failed'
    assert detail.endswith("HTTP 500: Internal Server Error: database is locked")


def test_fallback_to_download_uri_and_artifact_proxy(conn, standin):
    """An MLflow without /model-versions/get-artifact: files come through the artifact proxy."""
    set_config(conn, "og_model.tracking_uri", standin.url("mlflow_no_route"))
    try:
        row = load(conn, "errs_fallback", "4")
        assert row["version"] == "4"
        assert predict(conn, "errs_fallback", X) == -1.75
        paths = [path for path, _ in standin.requests if path.startswith("/mlflow_no_route/")]
        assert any("/api/2.0/mlflow/model-versions/get-download-uri" in p for p in paths)
        assert any("/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model/model.json" in p for p in paths)
    finally:
        unload(conn, "errs_fallback")


@pytest.mark.parametrize("behaviour", ["redirect_file", "redirect_https"])
def test_redirect_to_another_protocol_is_refused(conn, standin, behaviour):
    set_config(conn, "og_model.tracking_uri", standin.url(behaviour))
    state, message, detail, _ = load_error(conn, "errs", "1")
    assert state == "08006"
    assert message == f'cannot load model "errs" from "1": request to MLflow server {standin.url(behaviour)} failed'
    assert "rotocol" in detail  # libcurl: protocol not supported or disabled


def test_redirect_within_http_is_followed(conn, standin):
    set_config(conn, "og_model.tracking_uri", standin.url("redirect_same"))
    try:
        assert load(conn, "errs_redirect", "5")["version"] == "5"
        assert predict(conn, "errs_redirect", X) == -1.75
    finally:
        unload(conn, "errs_redirect")
