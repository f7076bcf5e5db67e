"""What the compiled walk (src/blob.h, src/eval.c) could get wrong, each model against its
library on the same rows: trees of a single leaf, stumps, more walk features than a row keeps
on the stack (1,000+), a feature with thousands of thresholds, LightGBM thresholds whose float
roundings tie with the row's, thresholds at 0, -0.0 and the ends of float's range, categories
above 30 (which the walk hands to the general code), children more than 65,535 nodes away and
more than 65,533 walk features (slow nodes both).  Models the libraries cannot be made to
train (a complete tree of depth 17, 70,000 features) are written as XGBoost JSON by hand and
scored by XGBoost itself.  Models are loaded from MLflow model directories (file://)."""

import json
import shutil
import warnings

import numpy as np
import pytest

from conftest import RUNDIR, load, unload
from test_trees import assert_close, fill_rows

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).smallest_subnormal)


def save_xgb(name, booster_or_json, n_features=None):
    """An MLflow model directory for XGBoost (JSON), world-readable for the server."""
    import mlflow.xgboost
    import xgboost as xgb

    path = RUNDIR / "layout" / name
    shutil.rmtree(path, ignore_errors=True)
    if isinstance(booster_or_json, dict):
        path.mkdir(parents=True)
        (path / "model.json").write_text(json.dumps(booster_or_json))
        (path / "MLmodel").write_text(
            "flavors:\n  xgboost:\n    data: model.json\n    model_class: xgboost.core.Booster\n"
            "    model_format: json\n")
        booster = xgb.Booster(model_file=str(path / "model.json"))
    else:
        booster = booster_or_json
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlflow.xgboost.save_model(booster, str(path), model_format="json")
    _readable(path)
    booster.set_param({"nthread": 1})
    return path, booster


def save_lgb(name, booster):
    import mlflow.lightgbm

    path = RUNDIR / "layout" / name
    shutil.rmtree(path, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.lightgbm.save_model(booster, str(path))
    _readable(path)
    return path


def _readable(path):
    for p in [path.parent, path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def check(conn, name, path, X, library):
    """og_predict on X (float8[], and real[] against the library on X rounded to float32)
    equals library(X); the model is unloaded afterwards."""
    row = load(conn, name, f"file://{path}")
    try:
        fill_rows(conn, X)
        rows = conn.execute("SELECT og_predict(%(m)s, f), og_predict(%(m)s, f4) FROM tree_rows ORDER BY i",
                            {"m": name}).fetchall()
        assert_close([r[0] for r in rows], library(X), X, f"{name}: og_predict")
        X4 = X.astype(np.float32).astype(np.float64)
        assert_close([r[1] for r in rows], library(X4), X4, f"{name}: og_predict on real[]")
        # rows with a NaN in any feature are counted, whether or not the trees read it
        counted = db_quality(conn, name)
        assert counted == (2 * len(X), 2 * int(np.isnan(X).any(axis=1).sum())), counted
    finally:
        unload(conn, name)
    return row


def db_quality(conn, name):
    return conn.execute("SELECT predictions, rows_with_missing FROM og_model.quality WHERE name = %s AND serving",
                        (name,)).fetchone()


def xgb_library(booster):
    return lambda X: booster.inplace_predict(X).astype(np.float64)


def lgb_library(booster):
    return lambda X: booster.predict(X, num_threads=1)


def xgb_trees(booster):
    return json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]


def lgb_splits(booster):
    """(feature, threshold) of every numeric split of a LightGBM model."""
    out = []

    def walk(node):
        if "split_index" in node:
            if node["decision_type"] == "<=":
                out.append((node["split_feature"], float(node["threshold"])))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return out


def on_thresholds(X, splits, rng, n, f32):
    """n rows of X with one feature set on a threshold of its splits, or right beside it:
    one double or float ulp away, or (doubles) at the threshold's float rounding and its
    neighbours, where the walk's float comparison ties and the doubles decide."""
    rows = X[rng.integers(len(X), size=n)].copy()
    for row in rows:
        feat, t = splits[rng.integers(len(splits))]
        if f32:
            t32 = np.float32(t)
            cands = [t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))]
        else:
            r = float(np.float32(t))
            cands = [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), r,
                     np.nextafter(r, np.inf), np.nextafter(r, -np.inf), (t + r) / 2]
        row[feat] = float(cands[rng.integers(len(cands))])
    return rows


def rows(seed, n, features, nan_share=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    if nan_share:
        X[rng.random(X.shape) < nan_share] = np.nan
    return X


def label(X):
    Z = np.nan_to_num(X)
    return np.sin(2 * Z[:, 0]) + Z[:, 1] * Z[:, min(2, X.shape[1] - 1)] + 0.3 * Z.sum(axis=1)


def xgb_train(params, rounds, X, y):
    import xgboost as xgb

    base = {"objective": "reg:squarederror", "nthread": 2, "seed": 1, "tree_method": "hist"}
    base.update(params)
    return xgb.train(base, xgb.DMatrix(X, label=y), num_boost_round=rounds)


def lgb_train(params, rounds, X, y, binning=None, **dataset):
    """binning: Dataset parameters (max_bin and the like)."""
    import lightgbm as lgb

    base = {"objective": "regression", "verbose": -1, "num_threads": 2, "seed": 1}
    base.update(params)
    return lgb.train(base, lgb.Dataset(X, label=y, params=binning, **dataset), num_boost_round=rounds)


# ---------------------------------------------------------- trained models --

def test_single_leaf_trees_among_deep_ones(db):
    """Trees that are one leaf (their root) walk no step; they sit in the same groups of
    trees walked side by side as deep ones."""
    X = rows(1, 3000, 6, 0.05)
    y = (X[:, 0] > 0).astype(float) * 3.0    # learned in a few rounds; later trees are pruned
    booster = xgb_train({"max_depth": 6, "eta": 1.0, "gamma": 0.05, "base_score": 0.25}, 40, X, y)
    sizes = [int(t["tree_param"]["num_nodes"]) for t in xgb_trees(booster)]
    assert min(sizes) == 1 and max(sizes) > 7, sizes
    path, booster = save_xgb("lay_xgb_leaves", booster)
    check(db, "lay_xgb_leaves", path, rows(2, 2000, 6, 0.05), xgb_library(booster))

    # LightGBM stops growing when no split is allowed: every tree a single leaf
    booster = lgb_train({"min_data_in_leaf": 5000}, 3, X, label(X))
    assert all(t["num_leaves"] == 1 for t in booster.dump_model()["tree_info"])
    path = save_lgb("lay_lgb_leaves", booster)
    check(db, "lay_lgb_leaves", path, rows(3, 500, 6, 0.05), lgb_library(booster))


def test_stumps(db):
    X = rows(4, 4000, 8, 0.03)
    booster = xgb_train({"max_depth": 1, "eta": 0.3}, 100, X, label(X))
    assert {int(t["tree_param"]["num_nodes"]) for t in xgb_trees(booster)} == {3}
    path, booster = save_xgb("lay_xgb_stumps", booster)
    Xs = np.vstack([rows(5, 1500, 8, 0.03), on_thresholds(X, [
        (f, c) for t in xgb_trees(booster) for f, c, left in
        zip(t["split_indices"], t["split_conditions"], t["left_children"]) if left != -1],
        np.random.default_rng(6), 1500, True)])
    check(db, "lay_xgb_stumps", path, Xs, xgb_library(booster))

    booster = lgb_train({"num_leaves": 2, "min_data_in_leaf": 5}, 100, X, label(X))
    assert {t["num_leaves"] for t in booster.dump_model()["tree_info"]} == {2}
    path = save_lgb("lay_lgb_stumps", booster)
    Xs = np.vstack([rows(7, 1500, 8, 0.03),
                    on_thresholds(X, lgb_splits(booster), np.random.default_rng(8), 1500, False)])
    check(db, "lay_lgb_stumps", path, Xs, lgb_library(booster))


def test_more_walk_features_than_the_stack_holds(db):
    """A row keeps up to 1,022 walk features on the stack; these models read more."""
    X = rows(9, 2500, 1200, 0.02)
    y = label(X) + np.nan_to_num(X[:, 1000:1200]).sum(axis=1)
    booster = xgb_train({"max_depth": 6, "eta": 0.1, "colsample_bynode": 0.3}, 80, X, y)
    used = {f for t in xgb_trees(booster) for f, left in zip(t["split_indices"], t["left_children"]) if left != -1}
    assert len(used) > 1022, len(used)
    path, booster = save_xgb("lay_xgb_wide", booster)
    check(db, "lay_xgb_wide", path, rows(10, 300, 1200, 0.02), xgb_library(booster))

    booster = lgb_train({"num_leaves": 31, "feature_fraction_bynode": 0.3, "min_data_in_leaf": 5}, 120, X, y)
    used = {f for f, _ in lgb_splits(booster)}
    assert len(used) > 1022, len(used)
    path = save_lgb("lay_lgb_wide", booster)
    check(db, "lay_lgb_wide", path, rows(11, 300, 1200, 0.02), lgb_library(booster))


def test_a_feature_with_thousands_of_thresholds(db):
    rng = np.random.default_rng(12)
    X = rng.random((20000, 3))
    y = np.sin(40 * X[:, 0]) + 0.1 * X[:, 1]
    booster = xgb_train({"max_depth": 8, "eta": 0.3, "tree_method": "exact"}, 150, X, y)
    splits = [(f, c) for t in xgb_trees(booster) for f, c, left in
              zip(t["split_indices"], t["split_conditions"], t["left_children"]) if left != -1]
    assert len({c for f, c in splits if f == 0}) > 2000
    path, booster = save_xgb("lay_xgb_thresholds", booster)
    Xs = np.vstack([rng.random((1000, 3)), on_thresholds(X, splits, rng, 3000, True)])
    check(db, "lay_xgb_thresholds", path, Xs, xgb_library(booster))

    booster = lgb_train({"num_leaves": 255, "max_bin": 20000, "min_data_in_bin": 1, "min_data_in_leaf": 2},
                        60, X, y, binning={"max_bin": 20000, "min_data_in_bin": 1})
    splits = lgb_splits(booster)
    assert len({t for f, t in splits if f == 0}) > 2000
    path = save_lgb("lay_lgb_thresholds", booster)
    Xs = np.vstack([rng.random((1000, 3)), on_thresholds(X, splits, rng, 3000, False)])
    check(db, "lay_lgb_thresholds", path, Xs, lgb_library(booster))


def test_lightgbm_thresholds_that_tie_as_floats(db):
    """Values 1e-9 apart near 1: many doubles round to one float, so the walk's float
    comparison ties often and the double thresholds must decide."""
    rng = np.random.default_rng(13)
    X = np.column_stack([1 + rng.integers(0, 2000, 20000) * 1e-9, rng.random(20000)])
    y = np.sin(X[:, 0] * 3e6) + X[:, 1]
    booster = lgb_train({"num_leaves": 63, "max_bin": 2000, "min_data_in_leaf": 3}, 40, X, y,
                        binning={"max_bin": 2000})
    splits = lgb_splits(booster)
    near_one = [t for f, t in splits if f == 0]
    assert len(near_one) > 50 and len({float(np.float32(t)) for t in near_one}) < len(set(near_one))
    path = save_lgb("lay_lgb_ties", booster)
    Xs = np.vstack([np.column_stack([1 + rng.integers(0, 2000, 2000) * 1e-9, rng.random(2000)]),
                    on_thresholds(X, splits, rng, 4000, False)])
    check(db, "lay_lgb_ties", path, Xs, lgb_library(booster))


def test_zeros_tiny_values_and_missing_types(db):
    """Exact zeros, -0.0, values around LightGBM's 1e-35 zero threshold and float's
    subnormals, for each of LightGBM's missing-value types and for XGBoost."""
    rng = np.random.default_rng(14)
    specials = np.array([0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, float(np.float32(1e-35)), 1e-30, -1e-30,
                         F32_TINY, -F32_TINY, F32_TINY / 4, 1e-45, -1e-45, 1.0, -1.0, np.nan])
    X = rng.normal(size=(8000, 4))
    mask = rng.random((8000, 3)) < 0.4
    X[:, :3][mask] = rng.choice(specials, size=mask.sum())
    y = np.where(np.nan_to_num(X[:, 0], nan=5) > 0, 1.0, -1.0) + np.nan_to_num(X[:, 1]) * 1e30 \
        + (np.nan_to_num(X[:, 2], nan=0) == 0) * 0.5 + X[:, 3]
    Xs = X[rng.integers(0, 8000, 3000)].copy()
    mask = rng.random((3000, 3)) < 0.6
    Xs[:, :3][mask] = rng.choice(specials, size=mask.sum())
    for name, params in (("lay_lgb_zero_nan", {}), ("lay_lgb_zero_as_missing", {"zero_as_missing": True}),
                         ("lay_lgb_zero_no_missing", {"use_missing": False})):
        booster = lgb_train({"num_leaves": 31, "min_data_in_leaf": 3, **params}, 30, X, y)
        path = save_lgb(name, booster)
        check(db, name, path, Xs, lgb_library(booster))
    booster = xgb_train({"max_depth": 6, "eta": 0.3}, 30, X, y)
    path, booster = save_xgb("lay_xgb_zeros", booster)
    check(db, "lay_xgb_zeros", path, Xs, xgb_library(booster))


def test_categories_above_thirty(db):
    """Sets with categories above 30 go to the general code; rows with every category, unseen
    ones, negative, fractional and huge values, and NaN."""
    import pandas as pd
    import xgboost as xgb

    rng = np.random.default_rng(15)
    n_cat = 64
    X = np.column_stack([rng.integers(0, n_cat - 4, 10000).astype(float), rng.normal(size=10000),
                         rng.integers(0, 12, 10000).astype(float)])
    effect = rng.normal(size=n_cat)
    y = effect[X[:, 0].astype(int)] + X[:, 1] + 0.2 * X[:, 2]
    odd = [-1.0, -0.5, 0.5, 29.5, 30.0, 30.9, 31.0, 31.5, 32.0, 59.0, 60.0, 63.0, 64.0, 70.0, 1e10, np.nan]
    Xs = np.column_stack([np.concatenate([np.arange(n_cat + 6, dtype=float), odd] * 40),
                          rng.normal(size=(n_cat + 6 + len(odd)) * 40),
                          rng.integers(0, 14, (n_cat + 6 + len(odd)) * 40).astype(float)])

    frame = pd.DataFrame(X, columns=["c", "x", "k"])
    frame["c"] = pd.Categorical(X[:, 0].astype(int), categories=range(n_cat))
    frame["k"] = pd.Categorical(X[:, 2].astype(int), categories=range(12))
    booster = xgb.train({"objective": "reg:squarederror", "max_depth": 5, "max_cat_to_onehot": 1, "nthread": 2,
                         "tree_method": "hist", "seed": 1}, xgb.DMatrix(frame, label=y, enable_categorical=True),
                        num_boost_round=40)
    path, booster = save_xgb("lay_xgb_cat64", booster)
    # the library reads the codes as floats too (invalid and unseen ones go where it says)
    ok_rows = Xs[(Xs[:, 0] < n_cat) & (Xs[:, 0] >= 0) | np.isnan(Xs[:, 0])]
    ok_rows = ok_rows[(ok_rows[:, 2] < 12)]
    check(db, "lay_xgb_cat64", path, ok_rows, xgb_library(booster))

    booster = lgb_train({"num_leaves": 31, "min_data_per_group": 5, "cat_smooth": 1, "max_cat_threshold": 64},
                        40, X, y, categorical_feature=[0, 2])
    path = save_lgb("lay_lgb_cat64", booster)
    check(db, "lay_lgb_cat64", path, Xs, lgb_library(booster))


# ------------------------------------------------------ hand-written models --

def xgb_json(n_features, trees, base_score=0.5):
    """An XGBoost JSON model (reg:squarederror) of the given trees: each a dict of the
    arrays left, right, feature, value (threshold or leaf value), default_left."""
    out = []
    for i, t in enumerate(trees):
        n = len(t["left"])
        parents = [2147483647] * n
        for p, (a, b) in enumerate(zip(t["left"], t["right"])):
            if a != -1:
                parents[a] = parents[b] = p
        out.append({
            "base_weights": [float(v) for v in t["value"]], "categories": [], "categories_nodes": [],
            "categories_segments": [], "categories_sizes": [], "default_left": [int(v) for v in t["default_left"]],
            "id": i, "left_children": [int(v) for v in t["left"]], "loss_changes": [0.0] * n,
            "parents": parents, "right_children": [int(v) for v in t["right"]],
            "split_conditions": [float(v) for v in t["value"]], "split_indices": [int(v) for v in t["feature"]],
            "split_type": [0] * n, "sum_hessian": [1.0] * n,
            "tree_param": {"num_deleted": "0", "num_feature": str(n_features), "num_nodes": str(n),
                           "size_leaf_vector": "1"}})
    return {"learner": {
        "attributes": {}, "feature_names": [], "feature_types": [],
        "gradient_booster": {"model": {
            "cats": {"enc": [], "feature_segments": [], "sorted_idx": []},
            "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": str(len(trees))},
            "iteration_indptr": list(range(len(trees) + 1)), "tree_info": [0] * len(trees), "trees": out},
            "name": "gbtree"},
        "learner_model_param": {"base_score": f"[{base_score:.8E}]", "boost_from_average": "1",
                                "num_class": "0", "num_feature": str(n_features), "num_target": "1"},
        "objective": {"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}}},
        "version": [3, 2, 0]}


def complete_tree(depth, feature_of, threshold_of, rng):
    """A complete tree of the given depth, nodes in breadth-first order (children of i at
    2i + 1 and 2i + 2)."""
    n = 2 ** (depth + 1) - 1
    internal = 2 ** depth - 1
    idx = np.arange(n)
    left = np.where(idx < internal, 2 * idx + 1, -1)
    right = np.where(idx < internal, 2 * idx + 2, -1)
    feature = np.where(idx < internal, feature_of(idx), 0)
    value = np.where(idx < internal, threshold_of(idx), rng.normal(size=n).astype(np.float32))
    return {"left": left, "right": right, "feature": feature, "value": value,
            "default_left": rng.integers(0, 2, n)}


def test_children_farther_than_65535_nodes(db):
    """A complete tree of depth 17: its deepest internal nodes' children are more than
    65,535 nodes away in the breadth-first walk, so those nodes are slow nodes."""
    rng = np.random.default_rng(16)
    tree = complete_tree(17, lambda i: i % 6, lambda i: rng.normal(size=len(i)).astype(np.float32), rng)
    path, booster = save_xgb("lay_far", xgb_json(6, [tree, complete_tree(
        3, lambda i: i % 6, lambda i: rng.normal(size=len(i)).astype(np.float32), rng)]))
    X = rows(17, 3000, 6, 0.05)
    row = check(db, "lay_far", path, X, xgb_library(booster))
    assert row["n_trees"] == 2


def test_more_than_65533_walk_features(db):
    """70,000 features, every one split on: the walk numbers at most 65,533, the others'
    nodes are slow nodes."""
    rng = np.random.default_rng(18)
    n_features = 70000
    trees = [complete_tree(12, lambda i, k=k: (i + k * 4095) % n_features,
                           lambda i: rng.normal(size=len(i)).astype(np.float32), rng) for k in range(18)]
    used = set(np.concatenate([t["feature"][t["left"] != -1] for t in trees]).tolist())
    assert len(used) == n_features
    path, booster = save_xgb("lay_70k", xgb_json(n_features, trees))
    X = rows(19, 12, n_features, 0.01)
    check(db, "lay_70k", path, X, xgb_library(booster))


def test_thresholds_at_zero_and_at_the_ends_of_float(db):
    """XGBoost sends float(x) left when it is below the threshold: -0.0 is not below 0, the
    smallest subnormal is above -0.0, nothing is above float's largest value."""
    rng = np.random.default_rng(20)
    specials = [0.0, -0.0, F32_TINY, -F32_TINY, F32_MAX, -F32_MAX, 1.0, -1.0]
    tree = complete_tree(6, lambda i: i % 3, lambda i: np.array(specials)[i % len(specials)], rng)
    path, booster = save_xgb("lay_xgb_specials", xgb_json(3, [tree, tree], base_score=0.0))
    values = np.array(specials + [1e-46, -1e-46, F32_TINY / 2, np.nextafter(F32_MAX, 0), np.nan, 0.5])
    X = values[rng.integers(0, len(values), (3000, 3))]
    check(db, "lay_xgb_specials", path, X, xgb_library(booster))
