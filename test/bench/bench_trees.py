"""The model part of the benchmark (test/bench/bench.sh runs it; not a test).

On the bench's rows (bench_rows: id, f float8[32], uniform in [0, 1); bench_nan: the same rows
with 5% NaN in each of the first 8 features; bench_cat: features 29-32 replaced by categories
of 10, 25, 4 and 20 values), single-threaded, one backend, it trains and times:

    linear          the bench's 32-feature linear model (bench.sh loads it) against the no-op
    one leaf        an XGBoost model of one single-leaf tree: what a row costs without trees
    xgb 100x6       XGBoost reg:squarederror, 100 trees of depth 6       against inplace_predict
    xgb 500x8       500 trees of depth 8                                  against inplace_predict
    xgb multi       multi:softprob, 5 classes x 100 rounds, og_predict_proba, against inplace_predict
    lgb 100x63      LightGBM regression, 100 trees of 63 leaves, on bench_nan, against predict
    lgb 500x255     500 trees of 255 leaves, on bench_nan
    xgb cat / lgb cat   categorical features (XGBoost partition splits, LightGBM categorical
                    splits) on bench_cat, against the plain numeric model of the same size
                    trained on the same data

Each model is saved with mlflow.<flavor>.save_model and loaded with og_load_model('file://...').
Before timing, og_predict must agree with the library on the first 2,000 rows (1e-6 relative)
and the benchmark's experimental walks (og_bench.c) with og_predict.  Every time is the median
of --runs runs, the paths of a model alternated within each run.  Per model it prints ms,
ns per tree per row above the scan floor, the ratio to each alternative, the blob's bytes with
and without the cover section, og_predict with statistics on and off, and (where perf can read
hardware counters) cycles, instructions, branch and cache misses per row.  Then the targets.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.adapt import Loader

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

FEATURES = 32
TRAIN_ROWS = 50_000
BATCH = 10_000
CHECK_ROWS = 2_000
NAN_FEATURES, NAN_SHARE = 8, 0.05
CATEGORIES = {28: 10, 29: 25, 30: 4, 31: 20}     # 0-based feature: number of categories


class Float8ArrayNumpyLoader(Loader):
    """float8[] in binary straight to a numpy array (no Python float per element).
    One-dimensional arrays without NULLs only, which is what the bench tables hold."""

    format = psycopg.pq.Format.BINARY

    def load(self, data):
        ndim, has_null, _oid = np.frombuffer(data, ">i4", 3)
        if ndim != 1 or has_null:
            raise ValueError("only one-dimensional float8[] without NULLs")
        n = int(np.frombuffer(data, ">i4", 1, 12)[0])
        # Elements: int4 length (8), then the float8, big-endian.
        pairs = np.frombuffer(data, np.dtype([("len", ">i4"), ("v", ">f8")]), n, 20)
        return pairs["v"].astype(np.float64)


def fetch_rows(conn, table, ordered=True):
    with conn.cursor(binary=True) as cur:
        cur.adapters.register_loader(psycopg.postgres.types["float8"].array_oid, Float8ArrayNumpyLoader)
        cur.execute(sql.SQL("SELECT f FROM {}" + (" ORDER BY id" if ordered else "")).format(sql.Identifier(table)))
        rows = cur.fetchall()
    return np.vstack([r[0] for r in rows])


# ------------------------------------------------------------------ training data --

def label(X):
    Z = np.nan_to_num(X, nan=0.5)
    return (np.sin(6 * Z[:, 0]) + Z[:, 1] * Z[:, 2] + np.where(Z[:, 3] > 0.5, Z[:, 4], -Z[:, 5])
            + 0.3 * Z[:, 6:16].sum(axis=1) + 0.2 * (Z[:, 16:32] ** 2).sum(axis=1))


def training_data(kind, seed):
    """Rows drawn like the table the model is scored on (bench.sh makes the tables)."""
    rng = np.random.default_rng(seed)
    X = rng.random((TRAIN_ROWS, FEATURES))
    y = label(X) + rng.normal(scale=0.1, size=TRAIN_ROWS)
    if kind == "nan":
        X[:, :NAN_FEATURES][rng.random((TRAIN_ROWS, NAN_FEATURES)) < NAN_SHARE] = np.nan
    elif kind == "cat":
        effect = rng.normal(size=max(CATEGORIES.values()))
        for j, n in CATEGORIES.items():
            X[:, j] = np.floor(X[:, j] * n)
        y = y + effect[X[:, 28].astype(int)] + 0.05 * X[:, 29] - 0.4 * (X[:, 30] == 2)
    return X, y


def categorical_frame(X):
    import pandas as pd

    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    for j, n in CATEGORIES.items():
        frame[f"f{j}"] = pd.Categorical(X[:, j].astype(int), categories=range(n))
    return frame


def train_xgb(params, rounds, X, y, categorical=False):
    import xgboost as xgb

    base = {"objective": "reg:squarederror", "eta": 0.05, "nthread": 2, "tree_method": "hist", "seed": 1}
    base.update(params)
    if categorical:
        data = xgb.DMatrix(categorical_frame(X), label=y, enable_categorical=True)
    else:
        data = xgb.DMatrix(X, label=y)
    return xgb.train(base, data, num_boost_round=rounds)


def train_lgb(params, rounds, X, y, categorical=False):
    import lightgbm as lgb

    base = {"objective": "regression", "verbose": -1, "num_threads": 2, "seed": 1, "min_data_in_leaf": 5}
    base.update(params)
    data = lgb.Dataset(X, label=y, categorical_feature=sorted(CATEGORIES) if categorical else "auto")
    return lgb.train(base, data, num_boost_round=rounds)


def save(flavor, booster, directory: Path):
    import mlflow.lightgbm
    import mlflow.xgboost

    shutil.rmtree(directory, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if flavor == "xgboost":
            mlflow.xgboost.save_model(booster, str(directory), model_format="ubj")
        else:
            mlflow.lightgbm.save_model(booster, str(directory))
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class Model:
    """A model of the benchmark: how it is trained, scored by og_predict and by its library."""

    def __init__(self, name, label_, flavor, table, train, proba=False, twin=None, experiments=False,
                 target=None, categorical=False):
        self.name, self.label, self.flavor, self.table = name, label_, flavor, table
        self.categorical = categorical
        self.train, self.proba, self.twin, self.experiments, self.target = train, proba, twin, experiments, target
        self.booster = None
        self.trees = None

    def og_sql(self):
        if self.proba:
            return "SELECT sum((og_predict_proba(%s, f))[1]) FROM " + self.table
        return "SELECT sum(og_predict(%s, f)) FROM " + self.table

    def library(self, X):
        """A callable scoring X with the library (what is timed), and its per-row answers."""
        if self.flavor == "xgboost":
            self.booster.set_param({"nthread": 1})
            data = categorical_frame(X) if self.categorical else X
            return lambda n=None: self.booster.inplace_predict(data if n is None else data[:n])
        return lambda n=None: self.booster.predict(X if n is None else X[:n], num_threads=1)


def models():
    def xgb(params, rounds, kind="plain", categorical=False, seed=1):
        return lambda: train_xgb(params, rounds, *training_data(kind, seed), categorical=categorical)

    def lgb(params, rounds, kind="plain", categorical=False, seed=1):
        return lambda: train_lgb(params, rounds, *training_data(kind, seed), categorical=categorical)

    return [
        Model("bench_one_leaf", "one leaf (XGBoost)", "xgboost", "bench_rows",
              xgb({"max_depth": 1, "gamma": 1e12}, 1)),
        Model("bench_xgb_100x6", "xgb 100x6", "xgboost", "bench_rows", xgb({"max_depth": 6}, 100),
              experiments=True, target=0.5),
        Model("bench_xgb_500x8", "xgb 500x8", "xgboost", "bench_rows", xgb({"max_depth": 8}, 500),
              experiments=True, target=0.5),
        Model("bench_xgb_multi", "xgb multi 5x100", "xgboost", "bench_rows",
              lambda: train_xgb({"objective": "multi:softprob", "num_class": 5, "max_depth": 6, "eta": 0.1},
                                100, *multiclass_data()), proba=True, target=0.5),
        Model("bench_lgb_100x63", "lgb 100x63 NaN", "lightgbm", "bench_nan",
              lgb({"num_leaves": 63}, 100, "nan"), experiments=True, target=0.2),
        Model("bench_lgb_500x255", "lgb 500x255 NaN", "lightgbm", "bench_nan",
              lgb({"num_leaves": 255}, 500, "nan"), experiments=True, target=0.2),
        Model("bench_xgb_cat", "xgb cat 100x6", "xgboost", "bench_cat",
              xgb({"max_depth": 6, "max_cat_to_onehot": 1}, 100, "cat", categorical=True),
              twin="bench_xgb_cat_plain", target=1.5, categorical=True),
        Model("bench_xgb_cat_plain", "xgb plain twin", "xgboost", "bench_cat", xgb({"max_depth": 6}, 100, "cat")),
        Model("bench_lgb_cat", "lgb cat 100x63", "lightgbm", "bench_cat",
              lgb({"num_leaves": 63}, 100, "cat", categorical=True), twin="bench_lgb_cat_plain", target=1.5,
              categorical=True),
        Model("bench_lgb_cat_plain", "lgb plain twin", "lightgbm", "bench_cat", lgb({"num_leaves": 63}, 100, "cat")),
    ]


def multiclass_data():
    X, y = training_data("plain", 5)
    return X, np.digitize(y, np.quantile(y, [0.2, 0.4, 0.6, 0.8])).astype(np.float64)


# ---------------------------------------------------------------------- timing --

def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def alternate(paths, runs):
    """paths: {name: callable}; every run times each once, in turn; the median of each."""
    times = {name: [] for name in paths}
    for _ in range(runs):
        for name, fn in paths.items():
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}


def query(conn, q, *args):
    return lambda: conn.execute(q, args).fetchone()


def stats_on_off(conn, q, args, runs):
    """og_predict with og_model.stats on and off, alternated, the first of each pair switching."""
    times = {"on": [], "off": []}
    for i in range(runs):
        for setting in (("on", "off") if i % 2 == 0 else ("off", "on")):
            conn.execute(f"SET og_model.stats = {setting}")
            times[setting].append(timed(lambda: conn.execute(q, args).fetchone()))
    conn.execute("RESET og_model.stats")
    return statistics.median(times["on"]), statistics.median(times["off"])


PERF_EVENTS = "cycles,instructions,branch-misses,cache-misses"


def perf_works():
    """Whether perf can read the hardware counters here (many VMs cannot)."""
    if shutil.which("perf") is None:
        return False
    try:
        done = subprocess.run(["perf", "stat", "-x,", "-e", PERF_EVENTS, "--", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    lines = [line for line in done.stderr.splitlines() if line.count(",") >= 2]
    return done.returncode == 0 and len(lines) == 4 and not any("<not" in line for line in lines)


def perf_counters(conn, q, args, rows):
    """Hardware counters per row of the backend while it runs q, or None."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    proc = subprocess.Popen(["perf", "stat", "-x,", "-e", PERF_EVENTS, "-p", str(pid)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    time.sleep(0.3)
    conn.execute(q, args).fetchone()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    counts = {}
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) >= 3 and fields[0].replace(".", "").isdigit():
            counts[fields[2]] = float(fields[0]) / rows
    return counts or None


# ----------------------------------------------------------------------- output --

def print_table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))


def fmt(x, digits=1):
    return "-" if x is None else f"{x:,.{digits}f}"


def agree(ours, want, tolerance=1e-6):
    return float(np.max(np.abs(ours - want) / np.maximum(1.0, np.abs(want))))


# -------------------------------------------------------------------------- main --

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--dbname", required=True)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--workdir", required=True, help="for the model directories; the server must read it")
    parser.add_argument("--runs", type=int, default=3, help="runs of every timing (the median is shown)")
    parser.add_argument("--only", default="", help="comma-separated model names (default: all)")
    args = parser.parse_args()

    import lightgbm
    import xgboost

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    site_packages = sysconfig.get_paths()["purelib"]
    conn = psycopg.connect(host=args.host, port=args.port, dbname=args.dbname, user=args.user,
                           autocommit=True)
    conn.execute("SET work_mem = '1GB'")   # array_agg batches stay in memory
    n_rows = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]
    print(f"XGBoost {xgboost.__version__}, LightGBM {lightgbm.__version__}, {n_rows} rows of "
          f"float8[{FEATURES}], one backend / one thread, median of {args.runs} runs alternated")
    use_perf = perf_works()
    if not use_perf:
        print("perf cannot read hardware counters on this machine: no counters per row")

    tables = {}
    for table in ("bench_rows", "bench_nan", "bench_cat"):
        t0 = time.perf_counter()
        tables[table] = fetch_rows(conn, table)
        print(f"fetched {table} into numpy in {time.perf_counter() - t0:.1f} s")

    all_models = models()
    wanted = set(filter(None, args.only.split(",")))
    results = {}
    floors = {}
    for table in tables:
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()     # warm the buffers
    scan = alternate({t: query(conn, f"SELECT count(*) FROM {t}") for t in tables}, args.runs)
    noop = alternate({t: query(conn, f"SELECT sum(og_bench_noop('bench', f)) FROM {t}") for t in tables},
                     args.runs)
    for t in tables:
        floors[t] = (scan[t], noop[t])
    print_table("Floors (ms): the scan alone, and a no-op C function taking each row's array",
                ["table", "SELECT count(*)", "no-op C function"],
                [[t, fmt(scan[t]), fmt(noop[t])] for t in tables])

    # -- linear: against the no-op --------------------------------------------------
    lin_q = "SELECT sum(og_predict('bench', f)) FROM bench_rows"
    lin = alternate({"og_predict": query(conn, lin_q),
                     "no-op": query(conn, "SELECT sum(og_bench_noop('bench', f)) FROM bench_rows"),
                     "sum": query(conn, "SELECT sum(og_bench_sum('bench', f)) FROM bench_rows")}, args.runs)
    lin_on, lin_off = stats_on_off(conn, lin_q, (), args.runs)
    results["linear"] = {"ratio": lin["og_predict"] / lin["no-op"], "target": 1.15,
                         "stats": lin_on / lin_off - 1}
    print_table("Linear model, 32 features (bench.sh loads it)",
                ["path", "ms", "ratio to og_predict"],
                [["og_predict", fmt(lin["og_predict"]), "1.00"],
                 ["no-op C function on the same array", fmt(lin["no-op"]),
                  f"{lin['no-op'] / lin['og_predict']:.2f}"],
                 ["C function summing the array's elements", fmt(lin["sum"]),
                  f"{lin['sum'] / lin['og_predict']:.2f}"]])
    print(f"  og_predict / no-op: {lin['og_predict'] / lin['no-op']:.2f}, reading the elements alone "
          f"{lin['sum'] / lin['no-op']:.2f}; scoring ns per row above the "
          f"no-op: {(lin['og_predict'] - lin['no-op']) * 1e6 / n_rows:.1f}; statistics on {fmt(lin_on)} ms, "
          f"off {fmt(lin_off)} ms: {100 * (lin_on / lin_off - 1):+.1f} %")

    plpy_problem = plpython_setup(conn)
    if plpy_problem:
        print(f"PL/Python path left out: {plpy_problem}")

    for model in all_models:
        if wanted and model.name not in wanted and model.twin not in wanted:
            continue
        t0 = time.perf_counter()
        model.booster = model.train()
        save(model.flavor, model.booster, workdir / model.name)
        row = conn.execute("SELECT n_trees FROM og_load_model(%s, %s)",
                           (model.name, f"file://{workdir / model.name}")).fetchone()
        model.trees = row[0]
        blob, cover = conn.execute("SELECT bytes, cover_bytes FROM og_bench_blob(%s)", (model.name,)).fetchone()
        print(f"\n{model.name}: {model.trees} trees, trained and saved in {time.perf_counter() - t0:.1f} s; "
              f"blob {blob:,} bytes, {blob - cover:,} without the cover section")

        X = tables[model.table]
        lib = model.library(X)
        # agreement before timing
        want = np.asarray(lib(CHECK_ROWS), dtype=np.float64)
        if model.proba:
            got = np.array([r[0] for r in conn.execute(
                f"SELECT og_predict_proba(%s, f) FROM {model.table} WHERE id <= %s ORDER BY id",
                (model.name, CHECK_ROWS))], dtype=np.float64)
        else:
            got = np.array([r[0] for r in conn.execute(
                f"SELECT og_predict(%s, f) FROM {model.table} WHERE id <= %s ORDER BY id",
                (model.name, CHECK_ROWS))], dtype=np.float64)
        diff = agree(got, want)
        print(f"  largest relative difference to {model.flavor} on {CHECK_ROWS} rows: {diff:.3g}")
        if not diff <= 1e-6:
            print("error: og_predict does not agree with the library; the timings would mean nothing",
                  file=sys.stderr)
            return 1

        og_q = model.og_sql()
        paths = {"og_predict": query(conn, og_q, model.name),
                 f"{model.flavor} in memory, 1 thread": lambda: lib()}
        once = {}       # paths that are no target: one run each
        if model.experiments:
            experiments = {
                "one tree at a time (C)": f"SELECT sum(og_bench_walk(%s, f, 1)) FROM {model.table}",
                "16 trees side by side (C)": f"SELECT sum(og_bench_walk(%s, f, 16)) FROM {model.table}",
                "quantized nodes, 16 trees (C)": f"SELECT sum(og_bench_quantized(%s, f)) FROM {model.table}",
                "blocks of 64 rows, 16 rows a tree (C)": f"SELECT og_bench_block(%s, f) FROM {model.table}",
            }
            check = conn.execute(
                "SELECT count(*) FILTER (WHERE og_bench_walk(%(m)s, f, 1) <> p OR og_bench_walk(%(m)s, f, 16) <> p"
                " OR og_bench_quantized(%(m)s, f) <> p), (SELECT og_bench_block(%(m)s, f) = sum(og_predict(%(m)s, f))"
                f" FROM (SELECT f FROM {model.table} WHERE id <= %(n)s ORDER BY id) s)"
                f" FROM (SELECT f, og_predict(%(m)s, f) AS p FROM {model.table} WHERE id <= %(n)s) r",
                {"m": model.name, "n": CHECK_ROWS}).fetchone()
            if check[0] != 0 or not check[1]:
                print(f"error: the experimental walks disagree with og_predict ({check[0]} rows, block {check[1]})",
                      file=sys.stderr)
                return 1
            for label_, q in experiments.items():
                once[label_] = query(conn, q, model.name)
        if model.flavor == "xgboost" and model.name in ("bench_xgb_100x6", "bench_xgb_500x8"):
            once["psycopg fetch + inplace_predict"] = lambda: lib_on(model, fetch_rows(conn, model.table, ordered=False))
            if not plpy_problem:
                once[f"PL/Python + XGBoost, array_agg batches of {BATCH}"] = query(
                    conn, plpython_query(workdir / model.name / "model.ubj", site_packages))
                # import xgboost and load the model outside the timings
                conn.execute(sql.SQL("SELECT og_bench_xgb({m}, {s}, ARRAY[array_fill(0.5::float8, ARRAY[{n}])])").format(
                    m=sql.Literal(str(workdir / model.name / "model.ubj")),
                    s=sql.Literal(site_packages), n=sql.Literal(FEATURES)))
        conn.execute(og_q, (model.name,)).fetchone()    # warm-up: the model in this backend's cache
        ms = alternate(paths, args.runs)
        ms.update({f"{k} (1 run)": v for k, v in alternate(once, 1).items()})
        on, off = stats_on_off(conn, og_q, (model.name,), args.runs)
        scan_ms, noop_ms = floors[model.table]
        og = ms["og_predict"]
        lib_ms = ms[f"{model.flavor} in memory, 1 thread"]
        rows = [[label_, fmt(v), f"{v / og:.2f}"] for label_, v in ms.items()]
        rows.append(["scan floor: SELECT count(*)", fmt(scan_ms), f"{scan_ms / og:.2f}"])
        print_table(f"{model.label} ({model.name}, {model.table})", ["path", "ms", "ratio to og_predict"], rows)
        per_tree = (og - scan_ms) * 1e6 / n_rows / model.trees
        print(f"  og_predict: {per_tree:.2f} ns per tree per row above the scan floor, "
              f"{(og - noop_ms) * 1e6 / n_rows:.0f} ns per row above the no-op; "
              f"{og / lib_ms:.2f}x the library's time")
        print(f"  statistics on {fmt(on)} ms, off {fmt(off)} ms: {100 * (on / off - 1):+.1f} %")
        if use_perf:
            counters = perf_counters(conn, og_q, (model.name,), n_rows)
            if counters:
                print("  per row: " + ", ".join(f"{k} {v:,.0f}" for k, v in counters.items()))
        results[model.name] = {"og": og, "lib": lib_ms, "ratio": og / lib_ms, "target": model.target,
                               "stats": on / off - 1, "blob": blob, "cover": cover, "twin": model.twin,
                               "label": model.label, "ns_tree": per_tree, "noop": noop_ms}

    # -- the targets -------------------------------------------------------------------
    rows = []
    if "linear" in results:
        r = results["linear"]
        rows.append(["linear, 32 features", "no-op C function", f"{r['ratio']:.3f}", "<= 1.15",
                     "met" if r["ratio"] <= 1.15 else "missed"])
    for name, r in results.items():
        if name == "linear" or r["target"] is None:
            continue
        if r["twin"]:
            if r["twin"] not in results:
                continue
            ratio = r["og"] / results[r["twin"]]["og"]
            against = "og_predict on the plain twin"
        else:
            ratio = r["ratio"]
            against = "the library, 1 thread"
        rows.append([r["label"], against, f"{ratio:.3f}", f"<= {r['target']}",
                     "met" if ratio <= r["target"] else "missed"])
    if "bench_xgb_500x8" in results:
        r = results["bench_xgb_500x8"]
        rows.append(["xgb 500x8 blob bytes without cover", "bytes", f"{r['blob'] - r['cover']:,}", "", ""])
    # the one-leaf model reads no feature: with statistics on, the pass that looks for NaN
    # (rows_with_missing) is the only read of the row's elements, so its cost shows in full
    worst = max((r["stats"], name) for name, r in results.items() if name != "bench_one_leaf")
    rows.append(["statistics on vs off, worst model", worst[1], f"{100 * worst[0]:+.1f} %", "<= 5 %",
                 "met" if worst[0] <= 0.05 else "missed"])
    if "bench_one_leaf" in results:
        rows.append(["statistics, the one-leaf model", "(reads no feature)",
                     f"{100 * results['bench_one_leaf']['stats']:+.1f} %", "", ""])
    print_table("Targets (og_predict's ms / the other's ms)", ["model", "compared with", "ratio", "target", ""], rows)
    conn.close()
    return 0


def lib_on(model, X):
    model.booster.set_param({"nthread": 1})
    return model.booster.inplace_predict(X)


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
        m=sql.Literal(str(model_file)), s=sql.Literal(site_packages), b=sql.Literal(BATCH))


if __name__ == "__main__":
    sys.exit(main())
