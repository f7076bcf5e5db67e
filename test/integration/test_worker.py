"""The og_model background worker, on a private cluster with a profile.

A cluster of its own (initdb/pg_ctl as the server user, og_model preloaded, og_model.config_file
naming a profile) and an MLflow server of its own (stopped and started again on the same port
and stores for the outage).  Registered model "wk_churn": v1 predicts 1.5, v2 predicts 2.5 for
any input.  The profile loads wk_churn by its alias @champion and wk_pinned by version 1;
aliases are checked every REFRESH seconds, retries back off up to BACKOFF seconds.

- restart: the profile's models answer the very first query after `pg_ctl start`;
- the alias moves in MLflow (Python client) -> og_model.models shows the new version within
  two refresh intervals, with no SQL call; the pinned model stays;
- MLflow stops -> scoring goes on, the worker logs the failures; MLflow comes back -> the
  worker recovers and follows the alias again;
- SIGHUP: a model added to the profile is loaded; a broken profile is logged and the old one
  kept.
"""

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from conftest import FIXTURES, RUNDIR, SERVER_USER, MlflowServer, free_port, give_to_server

PG_BIN = Path(os.environ.get("OG_PG_BIN", "/usr/lib/postgresql/15/bin"))
REFRESH = 1.0      # seconds
BACKOFF = 2.0      # seconds, the profile's limits.max_backoff
LOAD_SLACK = 2.0   # seconds for one load over HTTP on a busy machine
DB = "og_worker"
V1, V2 = 1.5, 2.5  # what versions 1 and 2 predict


def as_server(*args):
    if os.geteuid() == 0:
        args = ("runuser", "-u", SERVER_USER, "--", *args)
    return subprocess.run([str(a) for a in args], cwd="/", check=True, capture_output=True, text=True)


class PrivateCluster:
    def __init__(self, name):
        self.dir = RUNDIR / name
        self.dir.mkdir(parents=True, exist_ok=True)
        give_to_server(self.dir, 0o755)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        as_server(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                       "listen_addresses = ''\nshared_preload_libraries = 'og_model'\n"
                       "fsync = off\n")

    def set(self, line):
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(line + "\n")

    def start(self):
        as_server(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")

    def stop(self):
        as_server(PG_BIN / "pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def connect(self, dbname=DB):
        return psycopg.connect(host=str(self.dir), port=self.port, user="postgres", dbname=dbname,
                               autocommit=True)

    def log_text(self):
        return self.log.read_text(errors="replace")


def write_profile(path, server, models, refresh="1s", extra=""):
    text = (f"tracking_uri: {server.url}\ndatabase: {DB}\nrefresh_interval: {refresh}\n"
            f"limits:\n  max_backoff: {int(BACKOFF)}s\n{extra}models:\n")
    for name, ref in models:
        text += f"  - name: {name}\n    ref: \"{ref}\"\n"
    path.write_text(text)
    give_to_server(path, 0o644)


MODELS = [("wk_churn", "@champion"), ("wk_pinned", "models:/wk_churn/1")]


@pytest.fixture(scope="module")
def setup():
    server = MlflowServer("mlflow-worker")
    cluster = PrivateCluster("worker-cluster")
    try:
        v1, _ = server.register("wk_churn", FIXTURES / "swap_a", alias="champion")
        v2, _ = server.register_raw("wk_churn", FIXTURES / "swap_b")
        assert (v1, v2) == ("1", "2")
        profile = cluster.dir / "profile.yml"
        write_profile(profile, server, MODELS)
        # the worker's database must exist before the worker starts with the profile
        cluster.start()
        with cluster.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {DB}")
        with cluster.connect() as conn:
            conn.execute("CREATE EXTENSION og_model")
        cluster.stop()
        cluster.set(f"og_model.config_file = '{profile}'")
        cluster.start()
        yield cluster, server, profile
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass
        server.stop()


def predict(conn, name):
    return conn.execute("SELECT og_predict(%s, ARRAY[1, 2, 3]::float8[])", (name,)).fetchone()[0]


def loaded(conn):
    return {name: (version, ref) for name, version, ref in
            conn.execute("SELECT name, version, ref FROM og_model.models")}


def wait_for(conn, name, version, seconds):
    """Seconds until name serves version, or fail after seconds."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if loaded(conn).get(name, (None,))[0] == version:
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"{name} did not serve version {version} within {seconds} s: {loaded(conn)}")


def test_profile_models_answer_the_first_query_after_a_restart(setup):
    cluster, server, _ = setup
    cluster.stop()
    cluster.start()
    # no waiting here: the very first statements of the first session score
    with cluster.connect() as conn:
        assert predict(conn, "wk_churn") == V1
        assert predict(conn, "wk_pinned") == V1
        assert loaded(conn) == {"wk_churn": ("1", "@champion"),
                                "wk_pinned": ("1", "models:/wk_churn/1")}
    log = cluster.log_text()
    assert 'og_model worker: loaded model "wk_churn" version 1 from "@champion"' in log


def test_alias_move_is_followed_without_sql(setup):
    cluster, server, _ = setup
    with cluster.connect() as conn:
        assert loaded(conn)["wk_churn"][0] == "1"
        server.set_alias("wk_churn", "champion", "2")
        took = wait_for(conn, "wk_churn", "2", 2 * REFRESH + LOAD_SLACK)
        assert took <= 2 * REFRESH + LOAD_SLACK
        assert predict(conn, "wk_churn") == V2
        # a version ref is not followed
        assert loaded(conn)["wk_pinned"] == ("1", "models:/wk_churn/1")
        # nor is a model loaded by SQL with a version
        conn.execute("SELECT og_load_model('wk_sql', 'models:/wk_churn/1')")
        server.set_alias("wk_churn", "champion", "1")
        wait_for(conn, "wk_churn", "1", 2 * REFRESH + LOAD_SLACK)
        assert loaded(conn)["wk_sql"][0] == "1"
    assert 'alias "champion" of registered model "wk_churn" moved from version 1 to 2' in cluster.log_text()


def failure_times(log):
    """Times (seconds) of the worker's failed alias lookups in the server log."""
    times = []
    for line in log.splitlines():
        if "og_model worker: cannot look up alias" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
            times.append(stamp.timestamp())
    return times


def test_mlflow_outage_keeps_serving_and_recovers(setup):
    cluster, server, _ = setup
    with cluster.connect() as conn:
        version = loaded(conn)["wk_churn"][0]
        before = len(failure_times(cluster.log_text()))
        server.stop()
        try:
            time.sleep(3 * REFRESH + 3 * BACKOFF)
            # scoring goes on from shared memory
            for _ in range(100):
                assert predict(conn, "wk_churn") == (V1 if version == "1" else V2)
            assert loaded(conn)["wk_churn"][0] == version
            failed = failure_times(cluster.log_text())[before:]
        finally:
            server.start()
        # logged, and retried with backoff: the delays grow from one refresh interval
        # to BACKOFF, not one attempt per interval
        assert len(failed) >= 3, cluster.log_text()[-2000:]
        gaps = [b - a for a, b in zip(failed, failed[1:])]
        assert gaps[0] < BACKOFF - 0.5 and max(gaps) >= BACKOFF - 0.2, gaps
        other = "2" if version == "1" else "1"
        server.set_alias("wk_churn", "champion", other)
        wait_for(conn, "wk_churn", other, BACKOFF + 2 * REFRESH + LOAD_SLACK)
    assert "og_model worker: MLflow answers again" in cluster.log_text()


def test_sighup_rereads_the_profile(setup):
    cluster, server, profile = setup
    with cluster.connect() as conn:
        write_profile(profile, server, MODELS + [("wk_added", "models:/wk_churn/2")])
        conn.execute("SELECT pg_reload_conf()")
        wait_for(conn, "wk_added", "2", 5)
        assert predict(conn, "wk_added") == V2

        # a broken profile is logged and the old one kept: aliases are still followed
        profile.write_text(f"tracking_uri: {server.url}\nrefresh_interval: -5\n")
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while "refresh_interval" not in cluster.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = cluster.log_text()
        assert f'invalid og_model profile "{profile}" line 2: refresh_interval' in log, log[-2000:]
        version = loaded(conn)["wk_churn"][0]
        other = "2" if version == "1" else "1"
        server.set_alias("wk_churn", "champion", other)
        wait_for(conn, "wk_churn", other, 2 * REFRESH + LOAD_SLACK)
