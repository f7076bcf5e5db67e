"""XGBoost and LightGBM models loaded through a real MLflow server: og_predict and
og_predict_proba against the libraries' own predictions on thousands of rows (tree_models.py
builds the matrix), og_model.models for them, and malformed model files that must be refused
without harm."""

import hashlib
import json
import shutil

import numpy as np
import psycopg
import pytest

import tree_models as tm
from conftest import RUNDIR, load, load_error, model_row, predict, set_config, unload

# |ours - library| <= TOL * max(1, |library|)
TOL = 1e-6
BAD_MODEL = "trees_bad"
REFUSED = ("22000", "22P02", "22003", "54000", "0A000")


@pytest.fixture(scope="module")
def matrix(mlflow_server):
    """Every case of tree_models.CASES, trained, logged, registered (@champion) and predicted."""
    with mlflow_server.client_env():
        cases = tm.build_matrix()
    return {case["name"]: case for case in cases}


@pytest.fixture
def conn(db, mlflow_server):
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    yield db
    db.execute("SELECT og_unload_model(name) FROM og_model.models WHERE name = ANY(%s)",
               (tm.CASE_NAMES,))


def fill_rows(conn, X):
    """Temp table tree_rows(i, f, fn, f4): f has NaN for missing values, fn NULL elements
    instead, f4 is f rounded to real (numpy's rounding, which is PostgreSQL's too; numpy
    also rounds what is below real's range to zero where a cast would raise)."""
    conn.execute("DROP TABLE IF EXISTS tree_rows")
    conn.execute("CREATE TEMP TABLE tree_rows (i int PRIMARY KEY, f float8[], fn float8[], f4 real[])")
    X4 = X.astype(np.float32)
    with conn.cursor() as cur:
        with cur.copy("COPY tree_rows (i, f, fn, f4) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "float8[]", "float8[]", "float4[]"])
            for i, (row, row4) in enumerate(zip(X, X4)):
                f = row.tolist()
                copy.write_row((i, f, [None if v != v else v for v in f], row4.tolist()))
    assert conn.execute("SELECT count(*) FROM tree_rows").fetchone()[0] == len(X)


def describe(X, i):
    return "[" + ", ".join("NaN" if v != v else repr(float(v)) for v in X[i]) + "]"


def assert_close(got, want, X, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, library {want.shape}"
    err = np.abs(got - want)
    bound = TOL * np.maximum(1.0, np.abs(want))
    bad = ~(err <= bound)          # NaN from us is a mismatch too
    if got.ndim > 1:
        bad = bad.any(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        lines = [f"  row {i}: ours {got[i]!r}, library {want[i]!r}, features {describe(X, i)}"
                 for i in rows[:5]]
        worst = np.nanmax(np.where(np.isnan(err), np.inf, err / np.maximum(1.0, np.abs(want))))
        pytest.fail(f"{what}: {len(rows)} of {len(X)} rows differ from the library by more than "
                    f"{TOL} (relative), worst {worst:.3g}:\n" + "\n".join(lines))


def assert_equal(got, want, X, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    bad = ~(got == want)
    if bad.any():
        rows = np.flatnonzero(bad)
        lines = [f"  row {i}: ours {got[i]!r}, library {want[i]!r}, features {describe(X, i)}"
                 for i in rows[:5]]
        pytest.fail(f"{what}: {len(rows)} of {len(X)} rows differ:\n" + "\n".join(lines))


# ------------------------------------------------------------------ matrix --

@pytest.mark.parametrize("name", tm.CASE_NAMES)
def test_catalog_row(conn, matrix, name):
    case = matrix[name]
    row = load(conn, name, f"@{case['alias']}")
    assert row["name"] == name
    assert (row["version"], row["ref"]) == (case["version"], f"@{case['alias']}")
    assert row["flavor"] == case["library"]
    assert row["task"] == case["task"]
    assert row["objective"].startswith(case["objective"]), row["objective"]
    assert row["n_features"] == tm.N_FEATURES
    assert row["n_trees"] > 0
    if case["task"] == "multiclass":
        assert row["n_outputs"] == case["n_outputs"]
    assert model_row(conn, name) == row


@pytest.mark.parametrize("name", tm.CASE_NAMES)
def test_predictions_match_the_library(conn, matrix, name):
    """All rows in one query; NaN and NULL elements for missing values must give the same
    answers; real[] features match the library on the rows rounded to float4."""
    case = matrix[name]
    X = case["X"]
    load(conn, name, f"@{case['alias']}")
    fill_rows(conn, X)
    exprs = ["og_predict(%(m)s, f)", "og_predict(%(m)s, fn)", "og_predict(%(m)s, f4)"]
    with_proba = case["expected_proba"] is not None
    if with_proba:
        exprs += ["og_predict_proba(%(m)s, f)", "og_predict_proba(%(m)s, fn)"]
    rows = conn.execute(f"SELECT i, {', '.join(exprs)} FROM tree_rows ORDER BY i",
                        {"m": name}).fetchall()
    assert [r[0] for r in rows] == list(range(len(X)))
    got = [r[1] for r in rows]
    got_null = [r[2] for r in rows]
    got_f4 = [r[3] for r in rows]
    assert None not in got and None not in got_null and None not in got_f4

    if case["task"] == "multiclass":
        assert_equal(got, case["expected"], X, "og_predict (class index)")
        assert_equal(got_f4, case["expected_f4"], X, "og_predict on real[] (class index)")
    else:
        assert_close(got, case["expected"], X, "og_predict")
        assert_close(got_f4, case["expected_f4"], X, "og_predict on real[]")
    assert_equal(got_null, got, X, "og_predict with NULL elements vs NaN")

    if with_proba:
        proba = np.array([r[4] for r in rows], dtype=np.float64)
        proba_null = np.array([r[5] for r in rows], dtype=np.float64)
        assert_close(proba, case["expected_proba"], X, "og_predict_proba")
        assert np.array_equal(proba_null, proba), "og_predict_proba with NULL elements vs NaN"


def test_xgboost_formats_score_alike(conn, matrix):
    """One booster saved as model.json, model.ubj and model.xgb gives the same answers."""
    names = ["xgb_reg_squarederror", "xgb_reg_squarederror_ubj", "xgb_reg_squarederror_xgb"]
    X = matrix[names[0]]["X"]
    fill_rows(conn, X)
    for name in names:
        load(conn, name, f"@{matrix[name]['alias']}")
    a, b, c = zip(*conn.execute(
        "SELECT og_predict(%s, f), og_predict(%s, f), og_predict(%s, f) FROM tree_rows ORDER BY i",
        names).fetchall())
    assert a == b == c


# ------------------------------------------------------- malformed models --

def _gbtree(model):
    gb = model["learner"]["gradient_booster"]
    return gb.get("gbtree", gb)["model"]


def _tree(model, categorical=False):
    """The first tree (with a categorical split, when asked)."""
    for tree in _gbtree(model)["trees"]:
        if not categorical or len(tree["categories_nodes"]) > 0:
            return tree
    raise AssertionError("no such tree")


def _internal_child(tree):
    """A split node below the root."""
    for child in (tree["left_children"][0], tree["right_children"][0]):
        if tree["left_children"][int(child)] != -1:
            return int(child)
    raise AssertionError("tree too shallow")


def _leaf(tree):
    return int(np.flatnonzero(np.asarray(tree["left_children"]) == -1)[0])


def _set(seq, i, value):
    seq[i] = value


def _drop_last(tree, key):
    tree[key] = tree[key][:-1]


# name -> (base case, mutation of the decoded model, applied in place).  Every one is written
# both as model.json and as model.ubj.
XGB_MUTATIONS = {
    "child_out_of_range": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["left_children"], 0, len(_tree(m)["left_children"]) + 5)),
    "child_negative": ("xgb_reg_squarederror", lambda m: _set(_tree(m)["right_children"], 0, -7)),
    "child_is_root": ("xgb_reg_squarederror", lambda m: _set(_tree(m)["right_children"], 0, 0)),
    "cycle_to_ancestor": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["left_children"], _internal_child(_tree(m)), 0)),
    "split_feature_is_n_features": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["split_indices"], 0, tm.N_FEATURES)),
    "split_feature_huge": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["split_indices"], 0, 2**31 - 1)),
    "num_nodes_huge": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["tree_param"], "num_nodes", str(2**31))),
    "num_trees_huge": ("xgb_reg_squarederror", lambda m: _set(
        _gbtree(m)["gbtree_model_param"], "num_trees", str(10**9))),
    "num_feature_huge": ("xgb_reg_squarederror", lambda m: _set(
        m["learner"]["learner_model_param"], "num_feature", str(2**31))),
    "arrays_of_different_lengths": ("xgb_reg_squarederror", lambda m: _drop_last(
        _tree(m), "split_conditions")),
    "threshold_nan": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["split_conditions"], 0, float("nan"))),
    "leaf_infinite": ("xgb_reg_squarederror", lambda m: _set(
        _tree(m)["split_conditions"], _leaf(_tree(m)), float("inf"))),
    "base_score_nan": ("xgb_reg_squarederror", lambda m: _set(
        m["learner"]["learner_model_param"], "base_score", "[NaN]")),
    "tree_output_group_out_of_range": ("xgb_reg_squarederror", lambda m: _set(
        _gbtree(m)["tree_info"], 0, 3)),
    "category_segment_out_of_range": ("xgb_cat_partition", lambda m: _set(
        _tree(m, True)["categories_segments"], 0, 10**6)),
    "category_huge": ("xgb_cat_partition", lambda m: _set(
        _tree(m, True)["categories"], 0, 2**31 - 1)),
}


def _lgb_edit(text, key, edit, tree=0):
    """Apply edit(list of values) -> list of values to line key=... of Tree=tree (or of the
    header when tree is None)."""
    lines = text.split("\n")
    start = 0 if tree is None else lines.index(f"Tree={tree}")
    for i in range(start, len(lines)):
        if lines[i].startswith(key + "="):
            values = lines[i][len(key) + 1:].split(" ")
            lines[i] = key + "=" + " ".join(edit(values))
            return "\n".join(lines)
    raise AssertionError(f"no {key}= in tree {tree}")


def _lgb_tree_field(text, key, tree=0):
    lines = text.split("\n")
    start = lines.index(f"Tree={tree}")
    return next(line[len(key) + 1:].split(" ") for line in lines[start:] if line.startswith(key + "="))


def _lgb_first_cat_tree(text):
    tree = 0
    while int(_lgb_tree_field(text, "num_cat", tree)[0]) == 0:
        tree += 1
    return tree


def _replace(values, i, value):
    values = list(values)
    values[i] = value
    return values


def _lgb_cycle(text):
    left = _lgb_tree_field(text, "left_child")
    child = next(int(c) for c in (left[0], _lgb_tree_field(text, "right_child")[0]) if int(c) > 0)
    return _lgb_edit(text, "left_child", lambda v: _replace(v, child, "0"))


def _lgb_num_leaves(text):
    return int(_lgb_tree_field(text, "num_leaves")[0])


LGB_MUTATIONS = {
    "truncated": ("lgb_regression", lambda t: t[: len(t) // 2]),
    "child_out_of_range": ("lgb_regression", lambda t: _lgb_edit(
        t, "left_child", lambda v: _replace(v, 0, str(_lgb_num_leaves(t) + 5)))),
    "leaf_out_of_range": ("lgb_regression", lambda t: _lgb_edit(
        t, "left_child", lambda v: _replace(v, 0, str(-(_lgb_num_leaves(t) + 5))))),
    "cycle_to_ancestor": ("lgb_regression", _lgb_cycle),
    "split_feature_is_n_features": ("lgb_regression", lambda t: _lgb_edit(
        t, "split_feature", lambda v: _replace(v, 0, str(tm.N_FEATURES)))),
    "num_leaves_huge": ("lgb_regression", lambda t: _lgb_edit(
        t, "num_leaves", lambda v: [str(10**9)])),
    "max_feature_idx_huge": ("lgb_regression", lambda t: _lgb_edit(
        t, "max_feature_idx", lambda v: [str(2**31 - 1)], tree=None)),
    "num_class_huge": ("lgb_regression", lambda t: _lgb_edit(
        t, "num_class", lambda v: [str(10**9)], tree=None)),
    "threshold_nan": ("lgb_regression", lambda t: _lgb_edit(
        t, "threshold", lambda v: _replace(v, 0, "nan"))),
    "threshold_nan_token": ("lgb_regression", lambda t: _lgb_edit(
        t, "threshold", lambda v: _replace(v, 0, "nan"))),
    "leaf_value_inf": ("lgb_regression", lambda t: _lgb_edit(
        t, "leaf_value", lambda v: _replace(v, 0, "inf"))),
    # (a categorical bit in a tree without categories is a numeric split for LightGBM: valid)
    "category_index_out_of_range": ("lgb_categorical", lambda t: _lgb_edit(
        t, "threshold", lambda v: [str(10**6) if int(float(x)) == float(x) else x for x in v],
        tree=_lgb_first_cat_tree(t))),
    "category_boundaries_out_of_range": ("lgb_categorical", lambda t: _lgb_edit(
        t, "cat_boundaries", lambda v: _replace(v, len(v) - 1, str(10**8)),
        tree=_lgb_first_cat_tree(t))),
}


def _ubj_count_huge(data: bytes) -> bytes:
    """The first typed float array claims 2^62 elements."""
    at = data.index(b"[$d#L") + 5
    return data[:at] + (2**62).to_bytes(8, "big") + data[at + 8:]


# name -> (base case, file format, bytes -> bytes)
RAW_MUTATIONS = {
    "json_truncated": ("xgb_reg_squarederror", "json", lambda b: b[: len(b) // 2]),
    "json_empty": ("xgb_reg_squarederror", "json", lambda b: b""),
    "ubj_truncated": ("xgb_reg_squarederror", "ubj", lambda b: b[: len(b) // 2]),
    "ubj_truncated_in_header": ("xgb_reg_squarederror", "ubj", lambda b: b[:7]),
    "ubj_count_huge": ("xgb_reg_squarederror", "ubj", _ubj_count_huge),
    "xgb_truncated": ("xgb_reg_squarederror", "xgb", lambda b: b[: len(b) // 3]),
}


def _xgb_bytes(model, fmt):
    if fmt == "json":
        return json.dumps(tm.ubj_to_json_value(model), allow_nan=True).encode()
    return tm.ubj_encode(model)


def _xgb_decoded(booster, fmt):
    if fmt == "json":
        return json.loads(booster.save_raw("json"))
    return tm.ubj_decode(bytes(booster.save_raw("ubj")))


def _write_variant(base_dirs, key, out, data):
    shutil.copytree(base_dirs[key], out)
    tm.model_file(out).write_bytes(data)
    return out


@pytest.fixture(scope="module")
def bad_registry(mlflow_server, matrix):
    """Registered model trees_bad: v1 (@champion) is xgb_reg_squarederror and serves; every
    other version is a malformed copy of a model of the matrix."""
    import xgboost as xgb

    work = RUNDIR / "tree-bad"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base_dirs = {}
    for name, fmt in (("xgb_reg_squarederror", "json"), ("xgb_reg_squarederror", "ubj"),
                      ("xgb_reg_squarederror", "xgb"), ("xgb_cat_partition", "json"),
                      ("xgb_cat_partition", "ubj"), ("lgb_regression", "lgb"),
                      ("lgb_categorical", "lgb")):
        case = tm.CASES_BY_NAME[name]
        base_dirs[name, fmt] = tm.save_model_dir(case, matrix[name]["booster"],
                                                 work / "base" / f"{name}.{fmt}",
                                                 model_format=None if fmt == "lgb" else fmt)
    dirs = {}
    for mutation, (base, mutate) in XGB_MUTATIONS.items():
        for fmt in ("json", "ubj"):
            model = _xgb_decoded(matrix[base]["booster"], fmt)
            mutate(model)
            dirs[f"xgb_{fmt}_{mutation}"] = _write_variant(
                base_dirs, (base, fmt), work / f"xgb_{fmt}_{mutation}", _xgb_bytes(model, fmt))
    for mutation, (base, mutate) in LGB_MUTATIONS.items():
        text = matrix[base]["booster"].model_to_string()
        dirs[f"lgb_{mutation}"] = _write_variant(
            base_dirs, (base, "lgb"), work / f"lgb_{mutation}", mutate(text).encode())
    for mutation, (base, fmt, mutate) in RAW_MUTATIONS.items():
        data = tm.model_file(base_dirs[base, fmt]).read_bytes()
        dirs[mutation] = _write_variant(base_dirs, (base, fmt), work / mutation, mutate(data))
    # A binary model of XGBoost < 2.1 (the format XGBoost 3 no longer writes): not JSON
    # ('{'), not UBJSON ('{' too, or '['): an old "binf" header and binary junk.
    rng = np.random.default_rng(5)
    dirs["legacy_binary"] = _write_variant(
        base_dirs, ("xgb_reg_squarederror", "xgb"), work / "legacy_binary",
        b"binf" + rng.bytes(4000))
    # gblinear: a linear booster in the xgboost flavor.
    X, y = tm.training_data(tm.CASES_BY_NAME["xgb_reg_squarederror"])
    linear = xgb.train({"booster": "gblinear", "nthread": tm.THREADS},
                       xgb.DMatrix(np.nan_to_num(X[:2000]), label=y[:2000]), num_boost_round=5)
    dirs["gblinear"] = tm.save_model_dir(tm.CASES_BY_NAME["xgb_reg_squarederror"], linear,
                                         work / "gblinear", model_format="json")

    good = matrix["xgb_reg_squarederror"]
    versions = {}
    versions["good"], _ = mlflow_server.register(BAD_MODEL, base_dirs["xgb_reg_squarederror", "json"],
                                                 alias="champion")
    for name, directory in dirs.items():
        versions[name], _ = mlflow_server.register_raw(BAD_MODEL, directory)
    versions["x0"] = good["X"][0].tolist()
    versions["y0"] = float(good["expected"][0])
    return versions


@pytest.fixture
def bad_conn(db, mlflow_server, bad_registry):
    """The good version is loaded, and must keep serving after every failure."""
    set_config(db, "og_model.tracking_uri", mlflow_server.url)
    load(db, BAD_MODEL, "@champion")
    yield db
    assert db.execute("SELECT 1").fetchone()[0] == 1
    row = model_row(db, BAD_MODEL)
    assert row is not None and row["version"] == bad_registry["good"], "the failed load replaced the model"
    want = bad_registry["y0"]
    assert abs(predict(db, BAD_MODEL, bad_registry["x0"]) - want) <= TOL * max(1.0, abs(want))
    unload(db, BAD_MODEL)


def assert_refused(conn, registry, variant):
    version = registry[variant]
    state, message, detail, hint = load_error(conn, BAD_MODEL, version)
    assert state in REFUSED, (state, message, detail, hint)
    assert f'"{BAD_MODEL}"' in message, message
    assert conn.execute("SELECT 1").fetchone()[0] == 1
    return state, message, detail, hint


@pytest.mark.parametrize("fmt", ["json", "ubj"])
@pytest.mark.parametrize("mutation", list(XGB_MUTATIONS))
def test_malformed_xgboost_model(bad_conn, bad_registry, mutation, fmt):
    assert_refused(bad_conn, bad_registry, f"xgb_{fmt}_{mutation}")


@pytest.mark.parametrize("mutation", list(LGB_MUTATIONS))
def test_malformed_lightgbm_model(bad_conn, bad_registry, mutation):
    assert_refused(bad_conn, bad_registry, f"lgb_{mutation}")


@pytest.mark.parametrize("mutation", list(RAW_MUTATIONS))
def test_malformed_model_file(bad_conn, bad_registry, mutation):
    assert_refused(bad_conn, bad_registry, mutation)


def test_gblinear_is_refused(bad_conn, bad_registry):
    assert_refused(bad_conn, bad_registry, "gblinear")


def test_legacy_binary_xgboost_model_is_refused(bad_conn, bad_registry):
    state, message, detail, hint = assert_refused(bad_conn, bad_registry, "legacy_binary")
    assert state == "0A000", (state, message)
    text = " ".join(filter(None, (message, detail, hint)))
    # It says what to do: save the model again as JSON or UBJSON.
    assert "JSON" in text and "UBJ" in text and "save" in text.lower(), text


def test_mutations_really_break_the_models(matrix):
    """The corrupted files differ from the good ones where intended: each XGBoost mutation
    changes the decoded model, and the UBJSON codec writes XGBoost's bytes back unchanged."""
    for base in ("xgb_reg_squarederror", "xgb_cat_partition"):
        raw = bytes(matrix[base]["booster"].save_raw("ubj"))
        assert tm.ubj_encode(tm.ubj_decode(raw)) == raw
    for mutation, (base, mutate) in XGB_MUTATIONS.items():
        for fmt in ("json", "ubj"):
            model = _xgb_decoded(matrix[base]["booster"], fmt)
            before = hashlib.sha256(_xgb_bytes(model, fmt)).hexdigest()
            mutate(model)
            assert hashlib.sha256(_xgb_bytes(model, fmt)).hexdigest() != before, (mutation, fmt)
    for mutation, (base, mutate) in LGB_MUTATIONS.items():
        text = matrix[base]["booster"].model_to_string()
        assert mutate(text) != text, mutation


@pytest.mark.parametrize("n", [tm.N_FEATURES - 1, tm.N_FEATURES + 1, 0])
def test_wrong_number_of_features_is_refused(bad_conn, n):
    """A tree model reads no feature past the array: a row of the wrong length is an error."""
    with pytest.raises(psycopg.Error):
        bad_conn.execute("SELECT og_predict(%s, %s::float8[])", (BAD_MODEL, [0.5] * n))
    assert bad_conn.execute("SELECT 1").fetchone()[0] == 1
