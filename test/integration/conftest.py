"""Fixtures of the MLflow integration tests.

test/run.sh runs these with pytest against the private test cluster; the
OG_* environment variables below describe it.  The MLflow servers are real
(`mlflow server` from requirements.txt, started here on loopback ports): a
plain one, one with `--app-name basic-auth`, one serving https.  The stand-in
of standin.py is only for faults a real server cannot produce on demand.
"""

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import mlflow
import psycopg
import pytest
from mlflow import MlflowClient

from standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
FIXTURES = ROOT / "test" / "fixtures" / "models"


def need_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through test/run.sh")
    return value


RUNDIR = Path(need_env("OG_RUNDIR"))
SERVER_USER = need_env("OG_SERVER_USER")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def give_to_server(path: Path, mode: int) -> Path:
    """Make a file the server's own (owner = server user) with the given mode."""
    user = pwd.getpwnam(SERVER_USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, mode)
    return path


class MlflowServer:
    """A real `mlflow server` on a loopback port, state under RUNDIR/name."""

    def __init__(self, name, extra_args=(), extra_env=None, tls=None):
        self.name = name
        self.dir = RUNDIR / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.tls = tls  # (certfile, keyfile) or None
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.db = self.dir / "mlflow.db"
        self.args = [need_env("OG_MLFLOW"), "server", "--host", "127.0.0.1", "--port", str(self.port),
                     "--backend-store-uri", f"sqlite:///{self.db}",
                     "--artifacts-destination", str(self.dir / "artifacts"), "--workers", "1",
                     *extra_args]
        if tls:
            self.args += ["--uvicorn-opts", f"--ssl-certfile={tls[0]} --ssl-keyfile={tls[1]}"]
        self.env = dict(os.environ, **(extra_env or {}))
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            self.env.pop(var, None)
        self.start()

    def start(self):
        """Start (again, after stop(): same port, same stores)."""
        self.log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(self.args, cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        self._wait_healthy()

    def _wait_healthy(self):
        context = ssl.create_default_context(cafile=self.tls[0]) if self.tls else None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2, context=context) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server {self.name} did not start:\n"
                           + (self.dir / "server.log").read_text(errors="replace")[-3000:])

    def stop(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        self.log.close()

    @contextlib.contextmanager
    def client_env(self, username=None, password=None):
        """Environment of the MLflow Python client talking to this server."""
        saved = dict(os.environ)
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            os.environ.pop(var, None)
        if username:
            os.environ["MLFLOW_TRACKING_USERNAME"] = username
            os.environ["MLFLOW_TRACKING_PASSWORD"] = password
        if self.tls:
            os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = str(self.tls[0])
        mlflow.set_tracking_uri(self.url)
        try:
            yield MlflowClient(self.url)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def register(self, name, model_dir, alias=None, username=None, password=None):
        """Log a model directory as a run's artifacts and register it, as a user would."""
        with self.client_env(username, password) as client:
            with mlflow.start_run() as run:
                mlflow.log_artifacts(str(model_dir), artifact_path="model")
            mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
            if alias:
                client.set_registered_model_alias(name, alias, mv.version)
        return mv.version, run.info.run_id

    def register_raw(self, name, model_dir):
        """Log a directory and create a version with the low-level client API, which (unlike
        register_model) accepts a directory that is not a complete MLflow model."""
        with self.client_env() as client:
            with mlflow.start_run() as run:
                mlflow.log_artifacts(str(model_dir), artifact_path="model")
            try:
                client.create_registered_model(name)
            except mlflow.exceptions.MlflowException:
                pass  # exists already
            mv = client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)
        return mv.version, run.info.run_id

    def set_alias(self, name, alias, version, username=None, password=None):
        with self.client_env(username, password) as client:
            client.set_registered_model_alias(name, alias, version)

    def set_status(self, name, version, status):
        """Fault injection on the real server's own store: a version that is not READY."""
        import sqlite3

        with sqlite3.connect(self.db) as con:
            con.execute("UPDATE model_versions SET status = ? WHERE name = ? AND version = ?",
                        (status, name, int(version)))


@pytest.fixture(scope="session")
def mlflow_server():
    server = MlflowServer("mlflow-plain")
    yield server
    server.stop()


class AuthServer(MlflowServer):
    """`mlflow server --app-name basic-auth`, default permission NO_PERMISSIONS."""

    def __init__(self):
        self.admin_password = secrets.token_urlsafe(16)
        name = "mlflow-auth"
        config_dir = RUNDIR / f"{name}-config"
        shutil.rmtree(config_dir, ignore_errors=True)
        config_dir.mkdir(parents=True)
        ini = config_dir / "basic_auth.ini"
        ini.write_text(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = sqlite:///{config_dir}/basic_auth.db\n"
            "admin_username = admin\n"
            f"admin_password = {self.admin_password}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        super().__init__(name, ["--app-name", "basic-auth"],
                         {"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                          "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)})

    def admin_post(self, path, payload):
        import json

        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        token = f"admin:{self.admin_password}".encode()
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status

    def create_user(self, username, password):
        self.admin_post("/api/2.0/mlflow/users/create", {"username": username, "password": password})

    def grant(self, model, username, permission="READ"):
        self.admin_post("/api/3.0/mlflow/users/permissions/grant",
                        {"username": username, "resource_type": "registered_model",
                         "resource_id": model, "permission": permission})


@pytest.fixture(scope="session")
def auth_server():
    server = AuthServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_files():
    """A self-signed certificate for 127.0.0.1 (openssl from Debian)."""
    directory = RUNDIR / "tls"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    os.chmod(directory, 0o755)
    os.chmod(cert, 0o644)
    return cert, key


@pytest.fixture(scope="session")
def tls_server(tls_files):
    server = MlflowServer("mlflow-tls", tls=tls_files)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def standin_token():
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def standin(standin_token):
    with StandIn(FIXTURES / "linear3", token=standin_token) as server:
        yield server


def connect():
    return psycopg.connect(host=need_env("OG_PGHOST"), port=need_env("OG_PGPORT"),
                           user=need_env("OG_PGUSER"), dbname=need_env("OG_DB"), autocommit=True)


@pytest.fixture
def db():
    conn = connect()
    yield conn
    conn.close()


def set_config(conn, name, value):
    conn.execute("SELECT set_config(%s, %s, false)", (name, str(value)))


def load(conn, name, ref):
    """og_load_model's row as a dict."""
    cur = conn.execute("SELECT * FROM og_load_model(%s, %s)", (name, ref))
    columns = [c.name for c in cur.description]
    return dict(zip(columns, cur.fetchone()))


def load_error(conn, name, ref):
    """The error of a load that must fail: (sqlstate, message, detail, hint)."""
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT og_load_model(%s, %s)", (name, ref))
    diag = info.value.diag
    return info.value.sqlstate, diag.message_primary, diag.message_detail, diag.message_hint


def predict(conn, name, features):
    return conn.execute("SELECT og_predict(%s, %s::float8[])", (name, features)).fetchone()[0]


def unload(conn, name):
    conn.execute("SELECT og_unload_model(%s)", (name,))


def model_row(conn, name):
    cur = conn.execute("SELECT * FROM og_model.models WHERE name = %s", (name,))
    row = cur.fetchone()
    return dict(zip([c.name for c in cur.description], row)) if row else None
