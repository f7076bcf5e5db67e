"""A stalled download stops within a second of a cancel, and no secret ever reached the
server log.  (Named to run last: the log check covers every test before it.)"""

import threading
import time
from pathlib import Path

import psycopg
import pytest

from conftest import connect, load, need_env, predict, set_config, unload

X = [1, 2, 3]


@pytest.fixture
def serving(db):
    """A model that must keep serving while loads are cancelled."""
    load(db, "cancelme", f"file://{need_env('OG_FIXTURES')}/models/linear3")
    yield db
    assert predict(db, "cancelme", X) == -1.75
    unload(db, "cancelme")


@pytest.mark.parametrize("behaviour", ["stall", "stall_body", "mlflow_stall"])
def test_statement_timeout_stops_a_stalled_download(serving, standin, behaviour):
    set_config(serving, "og_model.tracking_uri", standin.url(behaviour))
    set_config(serving, "og_model.http_timeout_ms", 60000)
    serving.execute("SET statement_timeout = '500ms'")
    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled) as info:
        serving.execute("SELECT og_load_model('cancelme', '1')")
    elapsed = time.monotonic() - started
    serving.execute("RESET statement_timeout")
    assert "statement timeout" in str(info.value)
    assert elapsed < 1.5, f"the load took {elapsed:.2f} s to stop"


def test_pg_cancel_backend_stops_a_stalled_download(serving, standin):
    set_config(serving, "og_model.tracking_uri", standin.url("mlflow_stall"))
    set_config(serving, "og_model.http_timeout_ms", 60000)
    pid = serving.execute("SELECT pg_backend_pid()").fetchone()[0]
    outcome = {}

    def run():
        try:
            serving.execute("SELECT og_load_model('cancelme', '1')")
            outcome["error"] = None
        except psycopg.Error as e:
            outcome["error"] = e
        outcome["done"] = time.monotonic()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.7)
    assert "done" not in outcome, "the stalled load finished by itself"
    with connect() as other:
        cancelled_at = time.monotonic()
        assert other.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()[0]
    worker.join(timeout=10)
    assert isinstance(outcome.get("error"), psycopg.errors.QueryCanceled)
    assert outcome["done"] - cancelled_at < 1.0, "cancel took a second or more"


def test_pg_terminate_backend_ends_a_stalled_download(standin):
    conn = connect()
    set_config(conn, "og_model.tracking_uri", standin.url("stall"))
    set_config(conn, "og_model.http_timeout_ms", 60000)
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    worker = threading.Thread(target=lambda: pytest.raises(psycopg.Error, conn.execute,
                                                          "SELECT og_load_model('terminated', '1')"))
    worker.start()
    time.sleep(0.5)
    with connect() as other:
        started = time.monotonic()
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]
        assert time.monotonic() - started < 1.0
        assert other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0
    worker.join(timeout=10)
    conn.close()


def test_no_secret_in_the_server_log(standin_token):
    """Passwords and tokens used by the tests above never appear in the server log."""
    import test_credentials

    log = Path(need_env("OG_SERVER_LOG")).read_text(errors="replace")
    secrets = [need_env("OG_ENV_MLFLOW_PASSWORD"), test_credentials.READER_PASSWORD,
               test_credentials.NOBODY_PASSWORD, "not-the-password", standin_token]
    assert log, "the server log is empty"
    for secret in secrets:
        assert secret not in log
