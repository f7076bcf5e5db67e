"""The tree-model part of the benchmark (test/bench/bench.sh runs it; not a test).

Trains two XGBoost models (reg:squarederror) on random data with 32 features, 100 trees of
depth 6 and 500 trees of depth 8, writes them as MLflow model directories with
mlflow.xgboost.save_model, loads them into the bench cluster with og_load_model('file://...'),
and times, on the bench's rows (bench_rows: id, f float8[32]), single-threaded, the best of
--runs runs (--big-runs for the 500-tree model) of:

    og_predict          SELECT sum(og_predict(name, f)) FROM bench_rows
    inplace_predict     XGBoost's Booster.inplace_predict(X), nthread=1, X already in memory
    psycopg + xgboost   fetch the rows with psycopg (binary, float8[] loaded straight into
                        numpy) and predict with inplace_predict, nthread=1
    PL/Python + xgboost rows batched with array_agg (10,000 rows a batch) into a PL/Python
                        function that predicts with XGBoost (the venv's, put on sys.path)
    no-op C             SELECT sum(og_bench_noop(name, f)) FROM bench_rows
    scan floor          SELECT count(*) FROM bench_rows

and prints each with its ratio to og_predict, per model, then og_predict's time as a multiple
of inplace_predict's (the target: at most 0.5).  Before timing, og_predict must agree with
XGBoost on the first 2,000 rows.
"""

import argparse
import os
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.adapt import Loader

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

FEATURES = 32
TRAIN_ROWS = 50_000
BATCH = 10_000
MODELS = (("bench_xgb_100x6", 100, 6), ("bench_xgb_500x8", 500, 8))
TARGET = 0.5


class Float8ArrayNumpyLoader(Loader):
    """float8[] in binary straight to a numpy array (no Python float per element).
    One-dimensional arrays without NULLs only, which is what bench_rows holds."""

    format = psycopg.pq.Format.BINARY

    def load(self, data):
        ndim, has_null, _oid = np.frombuffer(data, ">i4", 3)
        if ndim != 1 or has_null:
            raise ValueError("only one-dimensional float8[] without NULLs")
        n = int(np.frombuffer(data, ">i4", 1, 12)[0])
        # Elements: int4 length (8), then the float8, big-endian.
        pairs = np.frombuffer(data, np.dtype([("len", ">i4"), ("v", ">f8")]), n, 20)
        return pairs["v"].astype(np.float64)


def label(X):
    return (np.sin(6 * X[:, 0]) + X[:, 1] * X[:, 2] + np.where(X[:, 3] > 0.5, X[:, 4], -X[:, 5])
            + 0.3 * X[:, 6:16].sum(axis=1) + 0.2 * (X[:, 16:32] ** 2).sum(axis=1))


def train(trees, depth):
    import xgboost as xgb

    rng = np.random.default_rng(trees * 100 + depth)
    X = rng.random((TRAIN_ROWS, FEATURES))  # like PostgreSQL's random(): uniform in [0, 1)
    y = label(X) + rng.normal(scale=0.1, size=TRAIN_ROWS)
    params = {"objective": "reg:squarederror", "max_depth": depth, "eta": 0.05, "nthread": 2,
              "tree_method": "hist", "seed": 1}
    return xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=trees)


def save(booster, directory: Path):
    import shutil
    import warnings

    import mlflow.xgboost
    import xgboost as xgb

    shutil.rmtree(directory, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.xgboost.save_model(booster, str(directory), model_format="ubj",
                                  pip_requirements=[f"xgboost=={xgb.__version__}"])
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def best(fn, runs):
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), result


def fetch_rows(conn):
    with conn.cursor(binary=True) as cur:
        cur.adapters.register_loader(psycopg.postgres.types["float8"].array_oid, Float8ArrayNumpyLoader)
        cur.execute("SELECT f FROM bench_rows")
        rows = cur.fetchall()
    return np.vstack([r[0] for r in rows])


PLPY_FUNCTION = """
CREATE OR REPLACE FUNCTION og_bench_xgb(model_file text, site_packages text, rows float8[])
RETURNS float8[] LANGUAGE plpython3u AS $$
import sys
booster = SD.get(model_file)
if booster is None:
    if site_packages not in sys.path:
        sys.path.insert(0, site_packages)
    import xgboost
    booster = xgboost.Booster(model_file=model_file)
    booster.set_param({"nthread": 1})
    SD[model_file] = booster
import numpy
return booster.inplace_predict(numpy.asarray(rows, dtype=numpy.float64)).tolist()
$$;
CREATE OR REPLACE FUNCTION og_bench_python_version() RETURNS text LANGUAGE plpython3u AS $$
import sys
return "%d.%d" % sys.version_info[:2]
$$;
"""


def plpython_setup(conn):
    """Create the PL/Python function; None when it works, else why not."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        conn.execute(PLPY_FUNCTION)
        theirs = conn.execute("SELECT og_bench_python_version()").fetchone()[0]
    except psycopg.Error as e:
        return f"PL/Python is not available ({e.diag.message_primary}); install postgresql-plpython3-15"
    ours = "%d.%d" % sys.version_info[:2]
    if theirs != ours:
        return f"PL/Python runs Python {theirs}, the virtual environment {ours}: its xgboost cannot load"
    return None


def plpython_query(model_file, site_packages):
    return sql.SQL(
        "SELECT sum(p) FROM (SELECT unnest(og_bench_xgb({m}, {s}, array_agg(f))) AS p "
        "FROM bench_rows GROUP BY (id - 1) / {b}) batches").format(
        m=sql.Literal(model_file), s=sql.Literal(site_packages),
        b=sql.Literal(BATCH))


def print_table(title, results, ref):
    print(f"\n{title}")
    width = max(len(k) for k in results) + 2
    print(f"  {'path':{width}s} {'ms':>10s}  ratio to og_predict")
    for path, ms in results.items():
        if ms is None:
            continue
        print(f"  {path:{width}s} {ms:10.1f}  {ms / ref:8.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--dbname", required=True)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--workdir", required=True, help="for the model directories; the server must read it")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-runs", type=int, default=2, help="runs for the 500-tree model")
    args = parser.parse_args()

    import xgboost as xgb

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    site_packages = sysconfig.get_paths()["purelib"]
    conn = psycopg.connect(host=args.host, port=args.port, dbname=args.dbname, user=args.user,
                           autocommit=True)
    conn.execute("SET work_mem = '1GB'")   # array_agg batches stay in memory
    n_rows = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]
    print(f"XGBoost {xgb.__version__}, {n_rows} rows of float8[{FEATURES}], one backend / one thread")

    boosters = {}
    for name, trees, depth in MODELS:
        t0 = time.perf_counter()
        booster = train(trees, depth)
        save(booster, workdir / name)
        booster.set_param({"nthread": 1})
        boosters[name] = booster
        row = conn.execute("SELECT n_trees, bytes, load_ms FROM og_load_model(%s, %s)",
                           (name, f"file://{workdir / name}")).fetchone()
        print(f"{name}: {trees} trees of depth {depth}, trained and saved in "
              f"{time.perf_counter() - t0:.1f} s; og_load_model: {row[0]} trees, {row[1]} bytes, "
              f"{row[2]:.1f} ms")

    t0 = time.perf_counter()
    X = fetch_rows(conn)
    print(f"fetched the rows into numpy in {time.perf_counter() - t0:.1f} s: {X.shape}")
    check = 2000
    for name, booster in boosters.items():
        ours = np.array([r[0] for r in conn.execute(
            "SELECT og_predict(%s, f) FROM bench_rows WHERE id <= %s ORDER BY id",
            (name, check)).fetchall()])
        want = booster.inplace_predict(X[:check]).astype(np.float64)
        diff = np.max(np.abs(ours - want) / np.maximum(1.0, np.abs(want)))
        print(f"{name}: largest relative difference between og_predict and XGBoost on {check} rows: {diff:.3g}")
        if not diff <= 1e-6:
            print("error: og_predict does not agree with XGBoost; the timings would mean nothing",
                  file=sys.stderr)
            return 1

    plpy_problem = plpython_setup(conn)
    if plpy_problem:
        print(f"PL/Python path skipped: {plpy_problem}")
    else:
        for name in boosters:     # import xgboost and load the models outside the timings
            conn.execute(sql.SQL("SELECT og_bench_xgb({m}, {s}, ARRAY[array_fill(0.5::float8, ARRAY[{n}])])").format(
                m=sql.Literal(str(workdir / name / "model.ubj")),
                s=sql.Literal(site_packages), n=sql.Literal(FEATURES)))

    ratios = {}
    for name, booster in boosters.items():
        runs = args.big_runs if name == MODELS[-1][0] else args.runs
        # warm-up: the table in shared buffers, the model in the backend's cache
        conn.execute("SELECT sum(og_predict(%s, f)) FROM bench_rows WHERE id <= 1000", (name,))
        results = {}
        results["og_predict"], total = best(lambda: conn.execute(
            "SELECT sum(og_predict(%s, f)) FROM bench_rows", (name,)).fetchone()[0], runs)
        results["XGBoost inplace_predict (in memory)"], total_x = best(
            lambda: float(np.sum(booster.inplace_predict(X), dtype=np.float64)), runs)
        results["psycopg fetch + inplace_predict"], total_p = best(
            lambda: float(np.sum(booster.inplace_predict(fetch_rows(conn)), dtype=np.float64)), runs)
        if not plpy_problem:
            query = plpython_query(str(workdir / name / "model.ubj"), site_packages)
            results[f"PL/Python + XGBoost, array_agg batches of {BATCH}"], total_y = best(
                lambda: conn.execute(query).fetchone()[0], runs)
        else:
            total_y = None
        results["no-op C function on the same array"], _ = best(lambda: conn.execute(
            "SELECT sum(og_bench_noop(%s, f)) FROM bench_rows", (name,)).fetchone()[0], runs)
        results["scan floor: SELECT count(*)"], _ = best(lambda: conn.execute(
            "SELECT count(*) FROM bench_rows").fetchone()[0], runs)
        for other in (total_x, total_p, total_y):
            if other is not None and abs(other - total) > 1e-6 * max(1.0, abs(total)) * 100:
                print(f"warning: sums differ: og_predict {total}, other path {other}")
        trees = dict((m[0], m[1:]) for m in MODELS)[name]
        print_table(f"{name} ({trees[0]} trees, depth {trees[1]}; best of {runs} runs)",
                    results, results["og_predict"])
        ratios[name] = results["og_predict"] / results["XGBoost inplace_predict (in memory)"]
        per_row = (results["og_predict"] - results["no-op C function on the same array"]) * 1e6 / n_rows
        print(f"  scoring ns per row above the no-op: {per_row:.0f}")

    print()
    for name, ratio in ratios.items():
        verdict = "meets" if ratio <= TARGET else "misses"
        print(f"{name}: og_predict takes {ratio:.2f}x the time of XGBoost's inplace_predict "
              f"(target: og_predict at most {TARGET}x of inplace_predict) - {verdict} the target")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
