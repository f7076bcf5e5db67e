"""lifecycle/dag.py run by a real Apache Airflow against the test cluster and a real MLflow server.

Airflow (requirements-airflow.txt) lives in its own virtual environment, OG_AIRFLOW_VENV, so
everything Airflow does runs there in a subprocess: a DagBag import of lifecycle/ (no import
errors, the five tasks of each model in order, for each profile of config/ and for a profile
of this test), and `airflow dags test` on a fresh SQLite metadata database under OG_RUNDIR,
which runs the DAG's tasks without a scheduler.  The DAG's connection is AIRFLOW_CONN_OG_MODEL
(the test cluster), and its sessions reach the session's MLflow server through the
connection's options (-c og_model.tracking_uri=...).

The end-to-end test retrains one model three times from a deterministic synthetic table:
a first, weak version (heavy ridge penalty) takes the alias because no version holds it; a
good one beats it and takes the alias; one trained on rows with shuffled labels (the holdout
stays clean) loses and the alias stays.  Each run must register a new version in MLflow,
record og_promote's decision, evaluate both versions on the same holdout, and leave the
alias holder loaded under the model's own name with no scratch model left behind.
"""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import RUNDIR, connect, need_env

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "lifecycle"
DAG_ID = "og_model_retraining"
STEPS = ["prepare", "train", "evaluate", "promote", "reload"]
MODEL = "airflow_house"
ALIAS = "champion"
# The names evaluate.sql loads the candidate and the alias holder under, and the model's own.
LOADED_NAMES = [MODEL, f"{MODEL}__candidate", f"{MODEL}__{ALIAS}"]
SOURCE = "airflow_house_source"
FEATURES_VIEW = "airflow_house_features"  # the source without its id, as a table-like source
CONN_ID = "og_model"
HOLDOUT_FRACTION = 0.25
AIRFLOW_TIMEOUT = 600  # seconds for one Airflow command


def airflow_venv() -> Path:
    venv = Path(need_env("OG_AIRFLOW_VENV"))
    if not (venv / "bin" / "airflow").is_file():
        raise RuntimeError(f"no Apache Airflow in {venv} (./setup.sh test installs "
                           "requirements-airflow.txt there)")
    return venv


def airflow_env(home: Path, profile: Path | None, tracking_uri: str | None = None) -> dict:
    """The environment of an Airflow subprocess: nothing Airflow-related inherited;
    profile None: the DAG's default profile."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") and k != "OG_MODEL_PROFILE"}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(LIFECYCLE),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if profile is not None:
        env["OG_MODEL_PROFILE"] = str(profile)
    if tracking_uri:
        conn = {"conn_type": "postgres", "host": need_env("OG_PGHOST"),
                "port": int(need_env("OG_PGPORT")), "login": need_env("OG_PGUSER"),
                "schema": need_env("OG_DB"),
                "extra": {"options": f"-c og_model.tracking_uri={tracking_uri}"}}
        env[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(conn)
    return env


def run(args, env, log: Path) -> subprocess.CompletedProcess:
    """Run an Airflow command (its own session, killed whole on time-out), output in log."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=RUNDIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=AIRFLOW_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"{args[:3]} timed out after {AIRFLOW_TIMEOUT} s:\n" + tail(log))
    return proc.returncode


def tail(log: Path, n=6000) -> str:
    return log.read_text(errors="replace")[-n:]


def write_profile(path: Path, models, schedule="0 3 * * *") -> Path:
    path.write_text(yaml.safe_dump({"retraining": {"schedule": schedule, "conn_id": CONN_ID,
                                                   "models": models}}, sort_keys=False))
    return path


def house_model(**overrides) -> dict:
    spec = {"name": MODEL, "query": f"SELECT rooms, area, age, price FROM {SOURCE}",
            "label": "price", "algorithm": "linear", "params": {"alpha": 0.0},
            "holdout_fraction": HOLDOUT_FRACTION, "alias": ALIAS, "metric": "rmse", "min_gain": 0.0}
    spec.update(overrides)
    return spec


# ------------------------------------------------------------------ DagBag --

DAGBAG_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
result = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
          "dags": {dag_id: {"tasks": [[t.task_id, sorted(t.upstream_task_ids)] for t in dag.tasks],
                            "schedule": str(dag.schedule)}
                   for dag_id, dag in bag.dags.items()}}
with open(sys.argv[2], "w") as f:
    json.dump(result, f)
"""


def dagbag(profile: Path | None, name: str) -> dict:
    home = RUNDIR / "airflow-dagbag"
    home.mkdir(exist_ok=True)
    out, log = home / f"{name}.json", home / f"{name}.log"
    rc = run([str(airflow_venv() / "bin" / "python"), "-c", DAGBAG_SCRIPT, str(LIFECYCLE), str(out)],
             airflow_env(home, profile), log)
    assert rc == 0, tail(log)
    return json.loads(out.read_text())


def expected_tasks(names) -> list:
    tasks = []
    for name in names:
        group = name.replace(".", "_")
        for i, step in enumerate(STEPS):
            tasks.append([f"{group}.{step}", [f"{group}.{STEPS[i - 1]}"] if i else []])
    return tasks


SHIPPED_PROFILES = ["config_local.yml", "config.yml", "config_production.yml"]


@pytest.mark.parametrize("profile", SHIPPED_PROFILES)
def test_dagbag_imports_shipped_profile(profile):
    """Each profile of config/ makes the DAG; config_local.yml is the default."""
    path = ROOT / "config" / profile
    section = yaml.safe_load(path.read_text())["retraining"]
    result = dagbag(None if profile == "config_local.yml" else path, profile)
    assert result["import_errors"] == {}
    assert list(result["dags"]) == [DAG_ID]
    dag = result["dags"][DAG_ID]
    assert dag["tasks"] == expected_tasks([m["name"] for m in section["models"]])
    assert dag["schedule"] == str(section["schedule"])


def test_dagbag_imports_test_profile():
    path = write_profile(RUNDIR / "airflow-dagbag-profile.yml",
                         [house_model(), house_model(name="second.model", query=None, table=SOURCE)])
    result = dagbag(path, "test-profile")
    assert result["import_errors"] == {}
    dag = result["dags"][DAG_ID]
    assert dag["tasks"] == expected_tasks([MODEL, "second.model"])
    assert dag["schedule"] == "0 3 * * *"


@pytest.mark.parametrize("model, message", [
    ({"name": "bad name"}, "name must be letters, digits, '_', '.' and '-' (got 'bad name')"),
    ({"holdout_fration": 0.3}, "unknown key holdout_fration"),
    ({"table": SOURCE}, "give exactly one of table and query"),
], ids=["name", "typo", "two-sources"])
def test_dagbag_reports_a_bad_profile(model, message):
    path = write_profile(RUNDIR / "airflow-dagbag-bad.yml", [house_model(**model)])
    result = dagbag(path, "bad-profile")
    assert result["dags"] == {}
    [error] = result["import_errors"].values()
    assert message in error


# -------------------------------------------------------------- end to end --

def make_source(conn, n=600, seed=20261126):
    """price = 50 + 20 rooms + 2.5 area - 0.8 age + noise (sd 10), rows in a fixed order."""
    rng = random.Random(seed)
    conn.execute(f"DROP TABLE IF EXISTS {SOURCE} CASCADE")
    conn.execute(f"CREATE TABLE {SOURCE} (id int PRIMARY KEY, rooms float8, area float8, "
                 "age float8, price float8)")
    with conn.cursor().copy(f"COPY {SOURCE} FROM STDIN") as copy:
        for i in range(n):
            rooms, area, age = rng.randint(1, 6), rng.uniform(30, 200), rng.uniform(0, 80)
            price = 50 + 20 * rooms + 2.5 * area - 0.8 * age + rng.gauss(0, 10)
            copy.write_row([i, rooms, area, age, price])
    conn.execute(f"CREATE VIEW {FEATURES_VIEW} AS SELECT rooms, area, age, price FROM {SOURCE}")


def shuffle_training_labels(conn, seed=7):
    """Shuffle the labels of the rows the last run trained on; the holdout's stay as they are."""
    rows = conn.execute(
        f"SELECT s.id, s.price FROM {SOURCE} s JOIN og_lifecycle.{MODEL}__train t "
        "USING (rooms, area, age) ORDER BY s.id").fetchall()
    prices = [p for _, p in rows]
    random.Random(seed).shuffle(prices)
    with conn.cursor() as cur:
        cur.executemany(f"UPDATE {SOURCE} SET price = %s WHERE id = %s",
                        [(p, i) for (i, _), p in zip(rows, prices)])
    return len(rows)


class Airflow:
    """A fresh Airflow home under OG_RUNDIR (SQLite metadata) that runs the DAG."""

    def __init__(self, tracking_uri):
        self.home = RUNDIR / "airflow"
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir()
        self.profile = self.home / "profile.yml"
        self.env = airflow_env(self.home, self.profile, tracking_uri)
        self.airflow = str(airflow_venv() / "bin" / "airflow")
        log = self.home / "db-migrate.log"
        assert run([self.airflow, "db", "migrate"], self.env, log) == 0, tail(log)
        self.runs = 0

    def dags_test(self, **model) -> float:
        """Run the DAG once with one model (house_model(**model)); return the seconds taken."""
        self.runs += 1
        write_profile(self.profile, [house_model(**model)])
        log = self.home / f"dags-test-{self.runs}.log"
        start = time.monotonic()
        rc = run([self.airflow, "dags", "test", DAG_ID], self.env, log)
        seconds = time.monotonic() - start
        print(f"airflow dags test run {self.runs}: {seconds:.1f} s")
        assert rc == 0, f"airflow dags test failed (exit status {rc}):\n" + tail(log)
        with sqlite3.connect(self.home / "airflow.db") as db:
            run_id, state = db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ? "
                                       "ORDER BY id DESC LIMIT 1", (DAG_ID,)).fetchone()
            states = dict(db.execute("SELECT task_id, state FROM task_instance "
                                     "WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)))
        assert state == "success", tail(log)
        assert states == {f"{MODEL}.{step}": "success" for step in STEPS}, tail(log)
        return seconds


def versions(client) -> list:
    return sorted(int(v.version) for v in client.search_model_versions(f"name = '{MODEL}'"))


def alias_holder(client):
    return client.get_registered_model(MODEL).aliases.get(ALIAS)


def last_decision(conn) -> dict:
    cur = conn.execute("SELECT * FROM og_model.promotions WHERE model = %s AND alias = %s "
                       "ORDER BY decided_at DESC LIMIT 1", (MODEL, ALIAS))
    row = cur.fetchone()
    assert row is not None, "og_promote recorded no decision"
    return dict(zip([c.name for c in cur.description], row))


def holdout_rmse(conn, version) -> tuple:
    """The latest holdout rmse of a version and the number of rows it was computed on."""
    row = conn.execute("SELECT value, rows FROM og_model.evaluations "
                       "WHERE registered_model = %s AND version = %s AND metric = 'rmse' "
                       "ORDER BY evaluated_at DESC LIMIT 1", (MODEL, str(version))).fetchone()
    assert row is not None, f"version {version} was not evaluated"
    return row


def holdout_rows(conn) -> list:
    return conn.execute(f"SELECT rooms, area, age, price FROM og_lifecycle.{MODEL}__holdout "
                        "ORDER BY rooms, area, age").fetchall()


def check_run(conn, client, since, before: list, promoted: bool) -> int:
    """After a DAG run that started at since (the server's clock): one new version, the
    decision, the holder reloaded; return the new version."""
    after = versions(client)
    assert after[:-1] == before and len(after) == len(before) + 1, (before, after)
    new = after[-1]
    holder = new if promoted else before[-1]
    assert alias_holder(client) == str(holder)

    decision = last_decision(conn)
    assert decision["candidate_version"] == str(new)
    assert decision["promoted"] is promoted, decision
    assert decision["metric"] == "rmse"

    # both sides evaluated on the whole holdout, and the decision follows the numbers
    n_holdout = conn.execute(f"SELECT count(*) FROM og_lifecycle.{MODEL}__holdout").fetchone()[0]
    candidate, rows = holdout_rmse(conn, new)
    assert rows == n_holdout
    assert decision["candidate_value"] == pytest.approx(candidate)
    if before:
        previous = decision["previous_version"]
        holder_rmse, holder_rows = holdout_rmse(conn, previous)
        assert holder_rows == n_holdout
        assert decision["previous_value"] == pytest.approx(holder_rmse)
        assert (candidate < holder_rmse) is promoted
    else:
        assert decision["previous_version"] is None

    # the reload step loaded the alias holder under the model's own name; no scratch name is left
    loaded = {name: (version, ref, loaded_at > since) for name, version, ref, loaded_at in conn.execute(
        "SELECT name, version, ref, loaded_at FROM og_model.models WHERE name = ANY(%s)",
        (LOADED_NAMES,))}
    assert loaded == {MODEL: (str(holder), f"@{ALIAS}", True)}, loaded
    return new


def server_now(conn):
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


@pytest.fixture
def house_db():
    """The test database with the source table; afterwards nothing of this test stays loaded."""
    with connect() as conn:
        unload_all(conn)
        make_source(conn)
        try:
            yield conn
        finally:
            unload_all(conn)
            conn.execute(f"DROP TABLE IF EXISTS {SOURCE}, og_lifecycle.{MODEL}__train, "
                         f"og_lifecycle.{MODEL}__holdout CASCADE")


def unload_all(conn):
    conn.execute("SELECT og_unload_model(name) FROM og_model.models WHERE name = ANY(%s)",
                 (LOADED_NAMES,))


def test_retraining_dag_end_to_end(mlflow_server, house_db):
    airflow = Airflow(mlflow_server.url)
    conn = house_db
    with mlflow_server.client_env() as client:
        timings = []

        # 1. No version holds the alias: the first, weak version takes it.
        since = server_now(conn)
        timings.append(airflow.dags_test(params={"alpha": 1e8}))
        weak = check_run(conn, client, since, [], promoted=True)
        counts = conn.execute(f"SELECT (SELECT count(*) FROM og_lifecycle.{MODEL}__train), "
                              f"(SELECT count(*) FROM og_lifecycle.{MODEL}__holdout)").fetchone()
        assert sum(counts) == 600 and 0.15 < counts[1] / 600 < 0.35, counts
        holdout = holdout_rows(conn)

        # 2. A better version (no penalty) takes the alias, and is reloaded.  The same rows,
        # through the profile's key table this time (a view).
        since = server_now(conn)
        timings.append(airflow.dags_test(query=None, table=f"public.{FEATURES_VIEW}"))
        good = check_run(conn, client, since, [weak], promoted=True)
        assert holdout_rows(conn) == holdout
        assert holdout_rmse(conn, good)[0] < 15 < holdout_rmse(conn, weak)[0]

        # 3. Trained on shuffled labels, the next version is worse: the alias stays.
        assert shuffle_training_labels(conn) == counts[0]
        since = server_now(conn)
        timings.append(airflow.dags_test())
        check_run(conn, client, since, [weak, good], promoted=False)
        assert holdout_rows(conn) == holdout  # the split does not depend on labels
        assert last_decision(conn)["previous_version"] == str(good)
        print("airflow dags test, seconds per run:", ", ".join(f"{t:.1f}" for t in timings))
