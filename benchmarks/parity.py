#!/usr/bin/env python
"""umap-learn's options, the same calls on umap-learn and on ardr: parity of quality.

    python benchmarks/parity.py --datasets digits,fmnist10k --out benchmarks/results/parity-umap.json
    python benchmarks/parity.py --datasets digits --cases default,supervised,densmap

Each case fits ``umap.UMAP(random_state=seed, **params)`` and
``ardr.UMAP(random_state=seed, **params)`` on the same data (and the same y), one after
the other in this process (umap-learn is warmed up first, so its ~30 s of compilation
is not in its fit time), and scores both:

- ``fit`` cases: 5-NN accuracy (5-fold stratified CV) and trustworthiness@10 of the
  embedding (against the true labels, also for supervised fits), on the rows both
  libraries embedded (umap-learn gives NaN to points a disconnection distance cut off;
  ardr keeps them: its scores on all rows are reported too);
  with ``output_dens``, the Pearson correlation of ``rad_orig_`` and ``rad_emb_``;
- ``transform``: fit on a stratified 80%, transform the other 20%: 5-NN accuracy of
  the new points by a classifier on the training embedding, trustworthiness@10 of the
  new points, and how far ``transform`` moves training rows (whole training set, and
  its first 200 rows alone);
- ``inverse``: fit on the 80%, transform 300 held-out rows, ``inverse_transform`` them
  back: mean squared error against the true rows.

The parity criteria of issue 12 are printed per case: accuracy and trustworthiness
within 0.01 of umap-learn, densMAP's radius correlation within 0.05, inverse error no
worse than umap-learn's, supervised accuracy above unsupervised by a margin like
umap-learn's. ``tests/test_parity_umap.py`` runs a few of these cases on digits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import _load_dataset, _score  # noqa: E402  (the benchmark's own data and scores)

LIBS = ("umap-learn", "ardr")
ACCURACY_TOLERANCE = 0.01
RADIUS_TOLERANCE = 0.05
HELD_OUT_FRACTION = 0.2
INVERSE_ROWS = 300


@dataclass
class Case:
    """One call: estimator parameters, and how the data and y are prepared."""

    params: dict = field(default_factory=dict)
    target: str | None = None  # None, "labels", "semi" (70% -1), "float"
    kind: str = "fit"  # "fit", "transform", "inverse"
    data: str = "plain"  # "plain", "duplicates" (10% of the rows twice), "knn" (precomputed_knn)


CASES = {
    "default": Case(),
    "supervised": Case(target="labels"),
    "semi-supervised": Case(target="semi"),
    "target_weight=0.9": Case({"target_weight": 0.9}, target="labels"),
    "target_metric=l2": Case({"target_metric": "l2"}, target="float"),
    "densmap": Case({"densmap": True, "output_dens": True}),
    "output_dens": Case({"output_dens": True}),
    "set_op_mix_ratio=0.5": Case({"set_op_mix_ratio": 0.5}),
    "local_connectivity=2": Case({"local_connectivity": 2.0}),
    "repulsion_strength=2": Case({"repulsion_strength": 2.0}),
    "disconnection_distance": Case({"disconnection_distance": "q95"}),
    "a=b=1": Case({"a": 1.0, "b": 1.0}),
    "init=tswspectral": Case({"init": "tswspectral"}),
    "unique": Case({"unique": True}, data="duplicates"),
    "precomputed_knn": Case(data="knn"),
    "transform": Case(kind="transform"),
    "inverse_transform": Case(kind="inverse"),
}


def estimator(lib, seed, params):
    if lib == "ardr":
        import ardr

        return ardr.UMAP(random_state=seed, **params)
    import umap

    return umap.UMAP(random_state=seed, **params)


def warm_up(seed):
    """umap-learn compiles its kernels (and pynndescent's) on first use, in every process."""
    import umap

    X = np.random.default_rng(seed).normal(size=(300, 10)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP(random_state=seed, n_epochs=20, force_approximation_algorithm=True).fit(X)
        umap.UMAP(random_state=seed, n_epochs=20).fit(X)


def prepare(case, X, y, seed):
    """(X, labels for scoring, y passed to fit, resolved params) of a case."""
    params = dict(case.params)
    rng = np.random.default_rng(seed)
    if case.data == "duplicates":
        extra = rng.choice(len(X), len(X) // 10, replace=False)
        X, y = np.vstack([X, X[extra]]), np.concatenate([y, y[extra]])
    if case.data == "knn":
        from sklearn.neighbors import NearestNeighbors

        dist, idx = NearestNeighbors(n_neighbors=15).fit(X).kneighbors(X)  # self first, umap-learn's layout
        params["precomputed_knn"] = (idx, dist.astype(np.float32), None)
    if params.get("disconnection_distance") == "q95":
        from sklearn.neighbors import NearestNeighbors

        dist, _ = NearestNeighbors(n_neighbors=15).fit(X).kneighbors(X)
        params["disconnection_distance"] = float(np.quantile(dist[:, 1:], 0.95))
    fit_y = None
    if case.target == "labels":
        fit_y = y
    elif case.target == "semi":
        fit_y = np.where(rng.random(len(y)) < 0.7, -1, y)
    elif case.target == "float":
        fit_y = y.astype(np.float64)
    return X, y, fit_y, params


def held_out(y, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(y)), test_size=HELD_OUT_FRACTION, stratify=y, random_state=seed)


def run_case(lib, case, X, y, seed):
    """Fit (and transform / inverse-transform) one library on one case; its scores."""
    X, labels, fit_y, params = prepare(case, X, y, seed)
    est = estimator(lib, seed, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.kind == "fit":
            t0 = time.perf_counter()
            est.fit(X, fit_y)
            emb = np.asarray(est.embedding_)
            result = {"fit_s": time.perf_counter() - t0, "nan_rows": int((~np.isfinite(emb).all(axis=1)).sum()),
                      "_scoring": (X, labels, emb)}  # scored in run(), on the rows both embedded
            if params.get("output_dens"):
                result["radius_corr"] = float(np.corrcoef(est.rad_orig_, est.rad_emb_)[0, 1])
            return result
        train, test = held_out(labels, seed)
        t0 = time.perf_counter()
        est.fit(X[train])
        result = {"fit_s": time.perf_counter() - t0}
        if case.kind == "transform":
            return result | transform_scores(est, X[train], labels[train], X[test], labels[test])
        test = test[:INVERSE_ROWS]
        Y_test = est.transform(X[test])
        t0 = time.perf_counter()
        back = est.inverse_transform(Y_test)
        return result | {"inverse_s": time.perf_counter() - t0,
                         "inverse_mse": float(np.mean((np.asarray(back, dtype=np.float64) - X[test]) ** 2)),
                         "mean_row_mse": float(np.mean((X[train].mean(axis=0) - X[test]) ** 2))}


def transform_scores(est, X_train, y_train, X_test, y_test):
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier

    t0 = time.perf_counter()
    Y_test = np.asarray(est.transform(X_test), dtype=np.float64)
    seconds = time.perf_counter() - t0
    emb = np.asarray(est.embedding_, dtype=np.float64)
    moved_all = np.abs(np.asarray(est.transform(X_train), dtype=np.float64) - emb).max()
    moved_200 = np.abs(np.asarray(est.transform(X_train[:200]), dtype=np.float64) - emb[:200]).max()
    return {"transform_s": seconds,
            "knn5_acc": float(KNeighborsClassifier(5).fit(emb, y_train).score(Y_test, y_test)),
            "trust10": float(trustworthiness(X_test, Y_test, n_neighbors=10)),
            "train_moved_all": float(moved_all), "train_moved_200": float(moved_200),
            "embedding_span": float(np.ptp(emb, axis=0).max())}


def verdict(name, case, ardr_res, peer_res, baseline=None):
    """The issue's criteria for one case: {criterion: (ardr, umap-learn, ok)}."""
    out = {}
    for key in ("knn5_acc", "trust10"):
        if key in ardr_res:
            out[key] = (ardr_res[key], peer_res[key], ardr_res[key] >= peer_res[key] - ACCURACY_TOLERANCE)
    if "radius_corr" in ardr_res:
        out["radius_corr"] = (ardr_res["radius_corr"], peer_res["radius_corr"],
                              abs(ardr_res["radius_corr"] - peer_res["radius_corr"]) <= RADIUS_TOLERANCE)
    if "inverse_mse" in ardr_res:
        out["inverse_mse"] = (ardr_res["inverse_mse"], peer_res["inverse_mse"],
                              ardr_res["inverse_mse"] <= peer_res["inverse_mse"])
    if case.target == "labels" and baseline is not None:
        gains = [res["knn5_acc"] - base["knn5_acc"] for res, base in ((ardr_res, baseline["ardr"]),
                                                                       (peer_res, baseline["umap-learn"]))]
        # "a margin like umap-learn's": at least half of umap-learn's gain, and a gain
        out["supervised_gain"] = (gains[0], gains[1], gains[0] > 0 and gains[0] >= 0.5 * gains[1])
    return out


def score_common_rows(scores):
    """Fit cases: both embeddings scored on the rows both libraries embedded (umap-learn
    gives NaN to points a disconnection distance cut off; ardr keeps them, and its
    scores on all rows are kept as ``*_all_rows``)."""
    if "_scoring" not in scores["ardr"]:
        return scores
    parts = {lib: res.pop("_scoring") for lib, res in scores.items()}
    both = np.logical_and.reduce([np.isfinite(emb).all(axis=1) for _, _, emb in parts.values()])
    for lib, (X, labels, emb) in parts.items():
        scores[lib].update(_score(X[both], labels[both], emb[both]))
        if not both.all() and np.isfinite(emb).all():
            scores[lib].update({f"{k}_all_rows": v for k, v in _score(X, labels, emb).items()
                                if k in ("knn5_acc", "trust10")})
    return scores


def run(datasets, cases, seed, data_seed=0, log=print):
    warm_up(seed)
    results = []
    for spec in datasets:
        X, y = _load_dataset(spec, data_seed)
        done = {}
        for name in cases:
            case = CASES[name]
            scores = score_common_rows({lib: run_case(lib, case, X, y, seed) for lib in LIBS})
            done[name] = scores
            row = {"dataset": spec, "case": name, "params": {k: str(v) for k, v in case.params.items()},
                   "scores": scores,
                   "verdict": verdict(name, case, scores["ardr"], scores["umap-learn"], done.get("default"))}
            results.append(row)
            log(format_row(row))
    return results


def format_row(row):
    a, p = row["scores"]["ardr"], row["scores"]["umap-learn"]
    parts = [f"{row['dataset']:10s} {row['case']:24s}", f"fit {a['fit_s']:6.1f}s / {p['fit_s']:6.1f}s"]
    for key, (mine, theirs, ok) in row["verdict"].items():
        parts.append(f"{key} {mine:.4f} / {theirs:.4f} {'ok' if ok else 'FAIL'}")
    if a.get("nan_rows") or p.get("nan_rows"):
        parts.append(f"NaN rows {a['nan_rows']} / {p['nan_rows']}")
    if "trust10_all_rows" in a:
        parts.append(f"ardr on all rows: knn5_acc {a['knn5_acc_all_rows']:.4f} trust10 {a['trust10_all_rows']:.4f}")
    if "train_moved_200" in a:
        parts.append(f"train rows moved {a['train_moved_200']:.3g} / {p['train_moved_200']:.3g} "
                     f"(span {a['embedding_span']:.0f} / {p['embedding_span']:.0f})")
    return " | ".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,fmnist10k",
                        help="comma-separated: ardr.datasets names, NAME:N, or fmnistNk (benchmarks/run.py)")
    parser.add_argument("--cases", default="all", help=f"comma-separated from: {', '.join(CASES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file for every score (benchmarks/results/...)")
    args = parser.parse_args(argv)
    cases = list(CASES) if args.cases == "all" else args.cases.split(",")
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases: {', '.join(unknown)}")
    print("rows: dataset case | fit s ardr / umap-learn | criterion ardr / umap-learn verdict", flush=True)
    results = run(args.datasets.split(","), cases, args.seed, args.data_seed,
                  log=lambda line: print(line, flush=True))
    failed = [f"{r['dataset']}:{r['case']}:{k}" for r in results for k, v in r["verdict"].items() if not v[2]]
    print(f"{len(results)} comparisons, {len(failed)} criteria failed{': ' + ', '.join(failed) if failed else ''}")
    if args.out:
        import importlib.metadata as md

        versions = {p: md.version(p) for p in ("ardr", "umap-learn", "numba", "numpy")}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"seed": args.seed, "data_seed": args.data_seed, "versions": versions,
                                              "results": results}, indent=1, default=float))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
