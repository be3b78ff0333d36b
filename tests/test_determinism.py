"""Determinism: for every stochastic estimator in the method registry (one with a
``random_state``), the same seed gives the same bytes on 1 and on 2 numba threads
(separate processes with NUMBA_NUM_THREADS=1 and =2), and ``fit_transform`` gives the
same bytes as ``fit`` followed by ``embedding_``; ``transform`` is deterministic too.

Variants of the graph family that take other code paths (sampled repulsion, FFT
repulsion, approximate neighbours) are checked as well. Each process prints one SHA-256
per output, so the comparison is exact and the failure message says which output
differs."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ardr.methods.registry import available, estimator_class

FAST = {"n_epochs": 25, "max_iter": 10, "random_state": 7, "verbose": False, "n_jobs": -1,
        "n_neighbors": 10}  # Isomap's default 5 leaves the 360 digits' neighbour graph disconnected
# Other code paths of the graph family: (label, registry name, extra parameters).
# (Approximate neighbours are not here: pynndescent's first compile costs ~50 s.)
VARIANTS = [
    ("umap-normalized", "umap", {"normalized": True}),
    ("tsne-fft", "tsne", {"repulsion": "fft"}),
    ("umap-densmap", "umap", {"densmap": True}),
]
# The normalized transform runs the kernels its fit runs (the fitted points as a fixed
# tail) for 250 epochs, slow on a busy machine; fit checks those kernels already.
NO_TRANSFORM = {"tsne", "umap-normalized", "tsne-fft"}
# The seed must matter here (else the checks above could pass by ignoring it). TSNE's
# defaults on these 360 rows (PCA start by a full SVD, exact repulsion) draw no random numbers.
SEED_MATTERS = {"umap", "umap-normalized"}

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, warnings
    import numpy as np
    import numba
    import ardr
    from ardr.methods.registry import estimator_class

    warnings.simplefilter("ignore", UserWarning)
    X, _ = ardr.datasets.load("digits", n_samples=400, random_state=0)
    fit_rows, new_rows = X[:360], X[360:]
    configs, no_transform, both_ways = json.loads(sys.argv[1]), set(json.loads(sys.argv[2])), sys.argv[3] == "1"
    seed_matters = set(json.loads(sys.argv[4]))

    def digest(a):
        a = np.ascontiguousarray(np.asarray(a))
        return f"{a.dtype}{a.shape}:" + hashlib.sha256(a.tobytes()).hexdigest()

    out = {"threads": numba.config.NUMBA_NUM_THREADS}
    for label, name, params in configs:
        cls = estimator_class(name)
        est = cls(**params).fit(fit_rows)
        row = {"fit_embedding_": digest(est.embedding_)}
        if both_ways:
            row["fit_transform"] = digest(cls(**params).fit_transform(fit_rows))
            if label in seed_matters:
                other = dict(params, random_state=params["random_state"] + 1)
                row["other_seed"] = digest(cls(**other).fit(fit_rows).embedding_)
        if hasattr(est, "transform") and label not in no_transform:
            row["transform"] = digest(est.transform(new_rows))
        out[label] = row
    print(json.dumps(out))
    """
)


def _configurations():
    configs = []
    for name in available():
        params = estimator_class(name)().get_params(deep=False)
        if "random_state" not in params:
            continue  # not stochastic
        configs.append((name, name, {k: v for k, v in FAST.items() if k in params}))
    for label, name, extra in VARIANTS:
        if name in available():
            params = estimator_class(name)().get_params(deep=False)
            configs.append((label, name, {k: v for k, v in FAST.items() if k in params} | extra))
    return configs


def _start(threads, configs, both_ways):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    args = [json.dumps(configs), json.dumps(sorted(NO_TRANSFORM)), "1" if both_ways else "0",
            json.dumps(sorted(SEED_MATTERS))]
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _result(process):
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def digests():
    """One process per thread count, one after the other (side by side they oversubscribe a
    small machine and the parallel kernels crawl); fit_transform is compared in the first."""
    configs = _configurations()
    one = _result(_start(1, configs, both_ways=True))
    two = _result(_start(2, configs, both_ways=False))
    return configs, one, two


def test_every_stochastic_registered_estimator_is_checked(digests):
    configs, one, two = digests
    assert one["threads"] == 1 and two["threads"] == 2
    stochastic = {n for n in available() if "random_state" in estimator_class(n)().get_params()}
    assert stochastic <= {label for label, _, _ in configs} and {"umap", "tsne"} <= stochastic


@pytest.mark.parametrize("label", [c[0] for c in _configurations()])
def test_same_seed_same_bytes_on_one_and_two_threads(digests, label):
    _, one, two = digests
    assert set(two[label]) >= {"fit_embedding_"}
    for output in two[label]:
        assert one[label][output] == two[label][output], output


@pytest.mark.parametrize("label", [c[0] for c in _configurations()])
def test_fit_transform_equals_fit_then_embedding(digests, label):
    _, one, _ = digests
    assert one[label]["fit_transform"] == one[label]["fit_embedding_"]


@pytest.mark.parametrize("label", sorted(SEED_MATTERS))
def test_a_different_seed_changes_the_output(digests, label):
    _, one, _ = digests
    assert one[label]["other_seed"] != one[label]["fit_embedding_"]


FIRST_RUN_SCRIPT = textwrap.dedent(
    """
    import hashlib, numpy as np, ardr
    from sklearn.datasets import make_blobs
    X, _ = make_blobs(20_000, 20, centers=10, random_state=0)  # above PARALLEL_MIN_ROWS: parallel kernels
    Y = ardr.UMAP(random_state=0, n_epochs=30).fit_transform(X.astype(np.float32))
    print(hashlib.sha256(np.ascontiguousarray(Y).tobytes()).hexdigest())
    """
)


def test_first_run_and_cached_runs_give_the_same_bytes(tmp_path):
    """The first run compiles the kernels, later runs load them from numba's disk cache.
    With reassociated sums the cached parallel UMAP step rounded differently from the
    one compiled in the process, so the first fit on a machine differed from all later
    ones (20,000 points, 30 epochs: coordinates apart by up to 1.6)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", FIRST_RUN_SCRIPT], capture_output=True, text=True, env=env,
                           timeout=600) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    assert any(tmp_path.rglob("*.nbi")), "the first run cached nothing: the check would be void"
    assert runs[0].stdout.split()[-1] == runs[1].stdout.split()[-1]
