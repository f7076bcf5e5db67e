"""Credentials (file, environment, Bearer token) against a real basic-auth MLflow server,
TLS against a real https MLflow server, and secrets never visible to anyone but a superuser."""

import os
import secrets

import psycopg
import pytest

from conftest import (FIXTURES, RUNDIR, connect, give_to_server, load, load_error, model_row, need_env,
                      predict, set_config, unload)

X = [1, 2, 3]
READER_PASSWORD = secrets.token_urlsafe(18)
NOBODY_PASSWORD = secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def secured(auth_server):
    """Registered model "secured" (v1 linear3) readable by "reader" and the server's env user only."""
    auth_server.register("secured", FIXTURES / "linear3", alias="champion",
                         username="admin", password=auth_server.admin_password)
    auth_server.create_user("reader", READER_PASSWORD)
    auth_server.create_user("nobody", NOBODY_PASSWORD)
    auth_server.create_user(need_env("OG_ENV_MLFLOW_USER"), need_env("OG_ENV_MLFLOW_PASSWORD"))
    auth_server.grant("secured", "reader")
    auth_server.grant("secured", need_env("OG_ENV_MLFLOW_USER"))
    return auth_server


def credentials_file(name, content, mode=0o600):
    path = RUNDIR / name
    path.write_text(content)
    return give_to_server(path, mode)


@pytest.fixture
def conn(db, secured):
    set_config(db, "og_model.tracking_uri", secured.url)
    yield db
    unload(db, "secured")


def test_environment_credentials(conn):
    """Without og_model.credentials_file, the server's MLFLOW_TRACKING_* variables are used."""
    row = load(conn, "secured", "@champion")
    assert row["version"] == "1"
    assert predict(conn, "secured", X) == -1.75


def test_credentials_file_username_password(conn):
    path = credentials_file("creds-reader", f"[mlflow]\nmlflow_tracking_username = reader\n"
                                            f"mlflow_tracking_password = {READER_PASSWORD}\n")
    set_config(conn, "og_model.credentials_file", path)
    assert load(conn, "secured", "1")["version"] == "1"


def test_wrong_password_is_401(conn, secured):
    path = credentials_file("creds-wrong", "[mlflow]\nmlflow_tracking_username = reader\n"
                                           "mlflow_tracking_password = not-the-password\n")
    set_config(conn, "og_model.credentials_file", path)
    state, message, detail, hint = load_error(conn, "secured", "1")
    assert state == "28000"
    assert message == f'cannot load model "secured" from "1": MLflow server {secured.url} requires valid credentials'
    assert "HTTP 401" in detail
    assert "not-the-password" not in message + detail + hint
    assert hint.startswith("Set og_model.credentials_file")


def test_no_permission_is_403(conn, secured):
    path = credentials_file("creds-nobody", f"mlflow_tracking_username=nobody\n"
                                            f"mlflow_tracking_password={NOBODY_PASSWORD}\n")
    set_config(conn, "og_model.credentials_file", path)
    state, message, detail, _ = load_error(conn, "secured", "@champion")
    assert state == "42501"
    assert message == f'cannot load model "secured" from "@champion": MLflow server {secured.url} denied access'
    assert "HTTP 403" in detail
    assert NOBODY_PASSWORD not in detail


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_loose_credentials_file_is_refused(conn, mode):
    path = credentials_file(f"creds-loose-{mode:o}", f"mlflow_tracking_username = reader\n"
                                                    f"mlflow_tracking_password = {READER_PASSWORD}\n", mode)
    set_config(conn, "og_model.credentials_file", path)
    state, message, detail, hint = load_error(conn, "secured", "1")
    assert state == "42501"
    assert message == f'credentials file "{path}" is not private to the database server\'s user'
    assert detail == f"The file must be a regular file owned by the server's user with mode 0600 (it has mode {mode:04o})."
    assert READER_PASSWORD not in message + detail + hint


def test_credentials_file_of_another_owner_is_refused(conn):
    path = RUNDIR / "creds-root"
    path.write_text(f"mlflow_tracking_username = reader\nmlflow_tracking_password = {READER_PASSWORD}\n")
    os.chmod(path, 0o600)
    os.chmod(RUNDIR, 0o755)
    set_config(conn, "og_model.credentials_file", path)
    state, _, _, _ = load_error(conn, "secured", "1")
    # root's 0600 file: unreadable (42501 from open) or refused for its owner (42501)
    assert state == "42501"


def test_credentials_file_without_credentials(conn):
    path = credentials_file("creds-empty", "[mlflow]\n# nothing here\n")
    set_config(conn, "og_model.credentials_file", path)
    state, message, _, _ = load_error(conn, "secured", "1")
    assert (state, message) == ("22023", f'credentials file "{path}" has no credentials')


def test_bearer_token(db, standin, standin_token):
    path = credentials_file("creds-token", f"[mlflow]\nmlflow_tracking_token = {standin_token}\n")
    set_config(db, "og_model.tracking_uri", standin.url("mlflow_token"))
    state, message, _, _ = load_error(db, "tokened", "1")
    assert state == "28000", "the stand-in must refuse requests without the token"
    set_config(db, "og_model.credentials_file", path)
    try:
        assert load(db, "tokened", "1")["version"] == "1"
        sent = {auth for p, auth in standin.requests if p.startswith("/mlflow_token/")}
        assert f"Bearer {standin_token}" in sent
    finally:
        unload(db, "tokened")


def test_credentials_go_only_to_the_tracking_server(db, standin, standin_token):
    """A download location on another origin (an object store) never receives the credentials."""
    path = credentials_file("creds-token2", f"mlflow_tracking_token = {standin_token}\n")
    set_config(db, "og_model.credentials_file", path)
    set_config(db, "og_model.tracking_uri", standin.url("mlflow_elsewhere"))
    before = len(standin.requests)
    try:
        load(db, "tokened2", "1")
        assert predict(db, "tokened2", X) == -1.75
        sent = standin.requests[before:]
        api = [auth for p, auth in sent if "/api/2.0/mlflow/" in p]
        files = [auth for p, auth in sent if "/files/" in p]
        assert api and all(auth == f"Bearer {standin_token}" for auth in api)
        assert len(files) == 2 and all(auth is None for auth in files)
    finally:
        unload(db, "tokened2")


def test_secrets_are_hidden_from_ordinary_roles(conn):
    path = credentials_file("creds-hidden", f"mlflow_tracking_username = reader\n"
                                            f"mlflow_tracking_password = {READER_PASSWORD}\n")
    set_config(conn, "og_model.credentials_file", path)
    load(conn, "secured", "1")
    conn.execute("DROP ROLE IF EXISTS og_cred_admin")
    conn.execute("CREATE ROLE og_cred_admin LOGIN IN ROLE og_model_admin")
    try:
        other = psycopg.connect(host=need_env("OG_PGHOST"), port=need_env("OG_PGPORT"), user="og_cred_admin",
                                dbname=need_env("OG_DB"), autocommit=True)
        try:
            with pytest.raises(psycopg.Error) as info:
                other.execute("SHOW og_model.credentials_file")
            assert info.value.sqlstate == "42501"
            rows = other.execute("SELECT name, setting FROM pg_settings WHERE name LIKE 'og_model.%'").fetchall()
            assert "og_model.credentials_file" not in {name for name, _ in rows}
            assert "og_model.tracking_uri" in {name for name, _ in rows}
            everything = str(other.execute("SELECT * FROM og_model.models").fetchall())
            assert "secured" in everything
            assert READER_PASSWORD not in everything and "reader" not in everything
        finally:
            other.close()
    finally:
        conn.execute("DROP ROLE IF EXISTS og_cred_admin")


def test_tls_needs_the_ca(db, tls_server, tls_files):
    tls_server.register("tlsmodel", FIXTURES / "swap_a", alias="champion")
    set_config(db, "og_model.tracking_uri", tls_server.url)
    state, message, _, hint = load_error(db, "tlsmodel", "@champion")
    assert state == "08006"
    assert message == f'cannot load model "tlsmodel" from "@champion": TLS connection to MLflow server {tls_server.url} failed'
    assert hint.startswith("Set og_model.tls_ca_file")
    set_config(db, "og_model.tls_ca_file", tls_files[0])
    try:
        assert load(db, "tlsmodel", "@champion")["version"] == "1"
        assert predict(db, "tlsmodel", X) == 1.5
    finally:
        unload(db, "tlsmodel")


def test_tls_insecure_switch(db, tls_server, tls_files):
    tls_server.register("tlsinsecure", FIXTURES / "swap_b")
    set_config(db, "og_model.tracking_uri", tls_server.url)
    set_config(db, "og_model.tls_insecure", "on")
    try:
        assert load(db, "tlsinsecure", "1")["version"] == "1"
        assert predict(db, "tlsinsecure", X) == 2.5
    finally:
        unload(db, "tlsinsecure")


def test_settings_are_superuser_only(db):
    conn = connect()
    try:
        conn.execute("DROP ROLE IF EXISTS og_plain")
        conn.execute("CREATE ROLE og_plain LOGIN IN ROLE og_model_admin")
        other = psycopg.connect(host=need_env("OG_PGHOST"), port=need_env("OG_PGPORT"), user="og_plain",
                                dbname=need_env("OG_DB"), autocommit=True)
        try:
            for name, value in (("og_model.tracking_uri", "http://127.0.0.1:9"),
                                ("og_model.credentials_file", "/tmp/x"),
                                ("og_model.tls_insecure", "on"),
                                ("og_model.tls_ca_file", "/tmp/ca")):
                with pytest.raises(psycopg.Error) as info:
                    set_config(other, name, value)
                assert info.value.sqlstate == "42501", name
        finally:
            other.close()
    finally:
        conn.execute("DROP ROLE IF EXISTS og_plain")
        conn.close()
