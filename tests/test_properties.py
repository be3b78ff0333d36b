"""Hostile inputs, property-based (hypothesis): every public estimator in the method
registry and every function of ardr.explain.metrics either returns finite output of the right
shape or raises a ValueError whose message names the problem.

Inputs vary in shape (0-2 rows, 1 column, n_neighbors / perplexity close to n), dtype
(float64, float32, float16, int, uint8, bool), container (ndarray, Fortran order, list,
scipy sparse matrices and arrays), content (duplicates, constant columns, all-constant,
clusters) and magnitude (1e-300 .. 1e300), with NaN and infinities sprinkled in.

No hang: every example runs under a hypothesis deadline and a SIGALRM budget (and a
faulthandler backstop that kills the run with a traceback if native code never returns).
No warning spam: warnings are errors, except the documented UserWarnings that announce
an automatic reduction ("...; using n_neighbors=5").

Bugs found here in other modules are pinned by the strict-xfail tests at the bottom
(minimal input, cause, proposed fix) and filtered out of the properties with
``known_bug``, so the properties stay green and the xfails turn red once a bug is fixed.
Examples are few and derandomized so the file runs in well under a minute.
"""

import contextlib
import faulthandler
import re
import signal
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ardr.explain.metrics as metrics
from ardr.methods.registry import available, estimator_class

EXAMPLE_SECONDS = 30  # SIGALRM per example (a hang, not a slow machine)
DEADLINE_MS = 15_000  # hypothesis deadline per example
FAST = {"n_epochs": 8, "max_iter": 5, "random_state": 0, "verbose": False, "n_jobs": 1}

# A ValueError for valid-looking data must say what is wrong in the user's terms.
PROBLEM_WORDS = re.compile(
    r"n_neighbors|n_components|perplexity|\brows?\b|row\(s\)|points|samples|features|columns|empty|"
    r"too large|too small|magnitude|duplicate|distinct|constant|variance|rank|connected|\bk=|\bk must|"
    r"labels|classes|folds|NaN|infinite|numeric|shape"
)
NOT_FINITE = re.compile(r"NaN|infinite|finite")
STRUCTURAL = re.compile(r"\brows?\b|row\(s\)|points|n_neighbors|perplexity|\bk=|\bk must|folds")
EMPTY = re.compile(r"empty|row|feature|column")
FLOAT32_MAX = float(np.finfo(np.float32).max)
REDUCTION = r".*; using "  # the documented form of an automatic-reduction UserWarning

SETTINGS = dict(derandomize=True, deadline=DEADLINE_MS, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
METHODS = available()
# Few examples per method: bounded total cost as the registry grows.
EXAMPLES_PER_METHOD = max(10, 120 // max(1, len(METHODS)))


class ExampleTimeout(Exception):
    """An example ran past its time budget (raised from SIGALRM)."""


@contextlib.contextmanager
def strict_example(seconds=EXAMPLE_SECONDS):
    """Warnings are errors (except documented reductions); SIGALRM after ``seconds``."""

    def on_alarm(signum, frame):
        raise ExampleTimeout(f"example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    faulthandler.dump_traceback_later(4 * seconds, exit=True)  # native code that never returns
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", message=REDUCTION, category=UserWarning)
            # the runs here are deliberately short: "stopped after max_iter=..." is expected
            warnings.filterwarnings("ignore", message=r".*stopped after max_iter", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="numba|pynndescent")
            yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------ inputs


@dataclass
class Case:
    X: object  # what the user passes
    values: np.ndarray  # the same numbers as a dense float64 array (for expectations)
    label: str

    @property
    def n(self):
        return self.values.shape[0]

    def problem(self):
        """The regex a ValueError must match, or None where the input is valid."""
        if self.values.size == 0:
            return EMPTY
        if not np.isfinite(self.values).all():
            return NOT_FINITE
        return None

    def max_abs(self):
        finite = self.values[np.isfinite(self.values)]
        return float(np.abs(finite).max()) if finite.size else 0.0


DTYPES = ("float64", "float32", "float16", "int64", "int32", "uint8", "bool")
KINDS = ("gaussian", "duplicates", "constant column", "constant", "clusters")
SCALES = (1.0, 1e-30, 1e30, 1e-300, 1e300, 1e-8, 1e8)
CONTAINERS = ("ndarray", "fortran", "list", "csr", "csc", "coo", "csr_array")


@st.composite
def data(draw, max_rows=24, min_rows=2, max_cols=5, allow_bad=True):
    shape = draw(st.sampled_from(("any",) * 9 + (("no rows", "one row", "no columns") if allow_bad else ())))
    n = {"no rows": 0, "one row": 1}.get(shape) or draw(st.integers(min_rows, max_rows))
    d = 0 if shape == "no columns" else draw(st.integers(1, max_cols))
    kind = draw(st.sampled_from(KINDS))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    scale = draw(st.sampled_from(SCALES))
    container = draw(st.sampled_from(CONTAINERS))
    bad = draw(st.sampled_from((None,) * 7 + ("nan", "inf", "-inf"))) if allow_bad else None
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "duplicates":
        base = rng.normal(size=(max(1, min(n, 3)), d))[rng.integers(0, max(1, min(n, 3)), n)]
    elif kind == "clusters":
        base = rng.normal(size=(n, d)) * 0.01 + rng.integers(0, 3, (n, 1)) * 5.0
    elif kind == "constant":
        base = np.full((n, d), 1.5)
    else:
        base = rng.normal(size=(n, d))
        if kind == "constant column" and d:
            base[:, rng.integers(0, d)] = -2.0
    if dtype.kind == "b":
        values = base > 0
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        top = min(info.max, 10 ** draw(st.integers(0, 18)))
        values = np.clip(np.round(base * top / 3), info.min, info.max).astype(dtype)
    else:
        with np.errstate(over="ignore"):
            values = (base * scale).astype(dtype)
        if bad and values.size:
            flat = values.reshape(-1)
            flat[rng.integers(0, flat.size, 1 + flat.size // 10)] = float(bad)
    if container != "ndarray" and dtype.kind != "b" and values.size:
        values = np.where(rng.random(values.shape) < 0.4, 0, values).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        dense = values.astype(np.float64)
    X = values
    if container == "fortran":
        X = np.asfortranarray(values)
    elif container == "list":
        X = values.tolist()
    elif container in ("csr", "csc", "coo") and dtype != np.float16:
        X = getattr(sp, f"{container}_matrix")(values)
    elif container == "csr_array" and dtype != np.float16:
        X = sp.csr_array(values)
    label = f"{n}x{d} {kind} {dtype} x{scale:g} {container} bad={bad}"
    return Case(X, dense, label)


def check_outcome(call, problem, expected_shape=None, *, low=None, high=None):
    """Run ``call``; it returns finite output (of ``expected_shape``, in [low, high]) or
    raises ValueError matching ``problem`` (or naming some problem when the input is valid).

    An input with a problem may also be refused for a structural reason checked first
    (too few rows, k too large, row counts that differ)."""
    try:
        out = call()
    except ValueError as exc:
        message = str(exc)
        if problem is None:
            assert PROBLEM_WORDS.search(message), f"ValueError does not name the problem: {message!r}"
        else:
            assert problem.search(message) or STRUCTURAL.search(message), \
                f"ValueError does not name the problem {problem.pattern!r}: {message!r}"
        return None
    assert problem is None, f"accepted input that should be refused ({problem.pattern})"
    arr = np.asarray(out, dtype=np.float64)
    assert np.isfinite(arr).all(), f"non-finite output {arr}"
    if expected_shape is not None:
        assert arr.shape == expected_shape, f"shape {arr.shape} != {expected_shape}"
    if low is not None:
        assert (arr >= low - 1e-9).all() and (arr <= high + 1e-9).all(), f"{arr} outside [{low}, {high}]"
    return out


# ------------------------------------------------------------ known bugs (xfails below)


CLASSICAL = ("pca", "mds", "isomap", "metric-mds")
NO_NEIGHBOURS = ("pca", "mds", "metric-mds")  # methods that never search neighbours


def known_bug(case, name=None, params=None):
    """The reason if ``case`` hits a bug pinned by an xfail below, else None (estimator
    ``name``, or None for the metrics)."""
    if case.problem() is not None:
        return None
    big = case.max_abs()
    if name is None:
        return None
    if big > FLOAT32_MAX and name in ("lle", "isomap"):
        return "float64 check, float32 neighbour search (test_known_bug_lle_beyond_float32)"
    return None


# -------------------------------------------------------------------- estimators


@st.composite
def estimator_params(draw, name, n):
    """Short runs, plus parameters near the edges of what n rows allow."""
    params = estimator_class(name)().get_params(deep=False)
    chosen = {k: v for k, v in FAST.items() if k in params}
    if "n_neighbors" in params:
        chosen["n_neighbors"] = draw(st.sampled_from(sorted({2, 3, max(2, n - 1), max(2, n), n + 1, 15})))
    if "perplexity" in params:
        chosen["perplexity"] = draw(st.sampled_from((1.0, 5.0, max(1.0, n / 3), float(max(1, n)), 30.0)))
    if "n_components" in params:
        chosen["n_components"] = draw(st.sampled_from((1, 2, 3)))
    if "metric" in params:
        chosen["metric"] = draw(st.sampled_from(("euclidean", "cosine")))
    return chosen


@pytest.mark.parametrize("name", METHODS)
@settings(max_examples=EXAMPLES_PER_METHOD, **SETTINGS)
@given(st.data())
def test_estimator_fit_transform_on_hostile_input(name, draw):
    case = draw.draw(data(), label="case")
    params = draw.draw(estimator_params(name, case.n), label="params")
    reason = known_bug(case, name, {**estimator_class(name)().get_params(), **params})
    assume(reason is None)
    est = estimator_class(name)(**params)
    n_out = params.get("n_components", 2)
    with strict_example():
        Y = check_outcome(lambda: est.fit_transform(case.X), case.problem(), (case.n, n_out))
        if Y is None or not hasattr(est, "transform"):
            return
        np.testing.assert_array_equal(np.asarray(Y), np.asarray(est.embedding_))
        m = min(3, case.n)
        check_outcome(lambda: est.transform(case.values[:m]), None, (m, n_out))
        with pytest.raises(ValueError, match="features"):
            est.transform(np.zeros((2, case.values.shape[1] + 1)))
        with pytest.raises(ValueError, match="NaN"):
            est.transform(np.full((1, case.values.shape[1]), np.nan))


MAGNITUDE = re.compile(r"too large|too small|magnitude|float32|overflow|underflow|scale")


@pytest.mark.parametrize("scale", (1e-300, 1e-30, 1e30, 1e300))
@pytest.mark.parametrize("name", METHODS)
def test_estimator_on_extreme_magnitudes(name, scale):
    """Data that works at scale 1, scaled by 1e-300 .. 1e300 (every method x scale, since the
    general property draws these rarely): finite output, or a ValueError about the magnitude."""
    X = np.random.default_rng(8).normal(size=(8, 3))
    cls = estimator_class(name)
    params = {k: v for k, v in FAST.items() if k in cls().get_params()}
    params.update({"n_neighbors": 3} if "n_neighbors" in cls().get_params() else {})
    if cls().get_params().get("n_components", 2) is None:  # PCA: all components unless told, as scikit-learn's
        params["n_components"] = 2
    reason = known_bug(Case(X * scale, X * scale, ""), name, {**cls().get_params(), **params})
    if reason:
        pytest.xfail(reason)
    with strict_example():
        cls(**params).fit_transform(X)  # works at scale 1
        try:
            Y = cls(**params).fit_transform(X * scale)
        except ValueError as exc:
            assert MAGNITUDE.search(str(exc)), f"works at scale 1, but at scale {scale:g}: {exc}"
        else:
            assert Y.shape == (8, 2) and np.isfinite(Y).all()


# ----------------------------------------------------------------------- metrics


@st.composite
def metric_inputs(draw):
    """(X, Y, k) for the same n (sometimes not), k near the limits of what n allows."""
    X = draw(data(max_rows=20, max_cols=4))
    same_rows = draw(st.booleans()) or draw(st.booleans())
    if same_rows and X.n:
        rng = np.random.default_rng(draw(st.integers(0, 1000)))
        width = draw(st.integers(1, 3))
        kind = draw(st.sampled_from(("random", "copy", "collapsed", "scaled")))
        if kind == "copy" and X.values.shape[1]:
            y = np.nan_to_num(X.values[:, :width])
        elif kind == "collapsed":
            y = np.zeros((X.n, width))
        else:
            y = rng.normal(size=(X.n, width)) * (1e30 if kind == "scaled" else 1.0)
        Y = Case(y, y, "Y")
    else:
        Y = draw(data(max_rows=20, max_cols=3))
    n = X.n
    k = draw(st.sampled_from(sorted({0, 1, 2, max(1, n // 2 - 1), max(1, n // 2), max(1, n - 1), n})))
    return X, Y, k


def _pair_problem(X, Y):
    problem = X.problem() or Y.problem()
    if problem is None and X.n != Y.n:
        return re.compile("same number of rows")
    return problem


@settings(max_examples=60, **SETTINGS)
@given(metric_inputs(), st.sampled_from(("trustworthiness", "continuity", "knn_overlap")))
def test_neighbourhood_metrics(inputs, name):
    X, Y, k = inputs
    assume(known_bug(X) is None and known_bug(Y) is None)
    with strict_example():
        check_outcome(lambda: getattr(metrics, name)(X.X, Y.X, k=k), _pair_problem(X, Y), (), low=0.0, high=1.0)


@settings(max_examples=40, **SETTINGS)
@given(metric_inputs())
def test_procrustes_and_spearman(inputs):
    X, Y, _ = inputs
    assume(known_bug(X) is None and known_bug(Y) is None)
    problem = _pair_problem(X, Y)
    with strict_example():
        check_outcome(lambda: metrics.procrustes_error(X.X, Y.X), problem, (), low=0.0, high=1.0)
        check_outcome(lambda: metrics.distance_spearman(X.X, Y.X, n_pairs=500), problem, (), low=-1.0, high=1.0)


@settings(max_examples=12, **SETTINGS)
@given(st.sampled_from((1e-300, 1e-30, 1e30, 1e300)), st.sampled_from((1.0, 1e-300, 1e300)),
       st.integers(6, 15))
def test_metrics_on_extreme_magnitudes(x_scale, y_scale, n):
    """Each metric is invariant to a global scale of either argument: same value at any scale."""
    rng = np.random.default_rng(n)
    X, Y = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    assume(known_bug(Case(X * x_scale, X * x_scale, "X")) is None)
    assume(known_bug(Case(Y * y_scale, Y * y_scale, "Y")) is None)
    k = max(1, n // 2 - 1)
    names = ("trustworthiness", "continuity", "knn_overlap", "procrustes_error", "distance_spearman")
    with strict_example():
        for name in names:
            kwargs = {} if name in ("procrustes_error", "distance_spearman") else {"k": k}
            value = getattr(metrics, name)(X * x_scale, Y * y_scale, **kwargs)
            assert value == pytest.approx(getattr(metrics, name)(X, Y, **kwargs), abs=1e-9), name


@st.composite
def labelled(draw):
    Y = draw(data(max_rows=30, max_cols=3))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    n_classes = draw(st.integers(1, 4))
    # every class has at least `folds` members, or labels is the wrong length (known bug below)
    folds = draw(st.integers(2, 5))
    k = draw(st.sampled_from((1, 2, 5, 30)))
    labels = rng.permutation(np.resize(np.arange(n_classes), Y.n))
    if draw(st.booleans()) and Y.n:
        labels = labels.astype(str)
    return Y, labels, k, folds


@settings(max_examples=40, **SETTINGS)
@given(labelled())
def test_knn_accuracy(inputs):
    Y, labels, k, folds = inputs
    counts = np.unique(labels, return_counts=True)[1]
    assume(known_bug(Y) is None)
    assume(Y.n < folds or counts.min() >= folds)  # small classes: test_known_bug_knn_accuracy_small_class
    with strict_example():
        check_outcome(lambda: metrics.knn_accuracy(Y.X, labels, k=k, folds=folds), Y.problem(), (),
                      low=0.0, high=1.0)


@settings(max_examples=25, **SETTINGS)
@given(metric_inputs(), st.booleans())
def test_report(inputs, with_labels):
    X, Y, k = inputs
    assume(known_bug(X) is None and known_bug(Y) is None)
    labels = np.arange(X.n) % 2 if with_labels else None
    if labels is not None:
        assume(X.n >= 10)  # two classes of >= 5 members for its 5 folds (small classes: known bug)
    scores = ["trustworthiness", "continuity", "knn_overlap", "distance_spearman"]
    scores += ["knn_accuracy"] if with_labels else []

    def report_scores():
        out = metrics.report(X.X, Y.X, labels=labels, k=k)
        assert set(out) == {"n", "k", "sampled", "n_queries", *scores}
        return [out[key] for key in scores]

    with strict_example():
        check_outcome(report_scores, _pair_problem(X, Y), (len(scores),), low=-1.0, high=1.0)


# -------------------------------------------------- known bugs in other modules


def test_known_bug_knn_overflow():
    from ardr.graph.neighbors import exact_knn

    X = np.array([[0.0], [1.0], [1e20], [1.1e20]], dtype=np.float32)
    with strict_example():
        idx, dist = exact_knn(X, 1)
    assert idx.ravel().tolist() == [1, 0, 3, 2] and np.isfinite(dist).all()


def test_known_bug_knn_underflow():
    from ardr.graph.neighbors import exact_knn

    X = np.array([[0.0], [1.0], [3.0], [3.5]], dtype=np.float32)
    with strict_example():
        assert exact_knn(X * np.float32(1e-30), 1)[0].tolist() == exact_knn(X, 1)[0].tolist() == [[1], [0], [3], [2]]


def test_known_bug_knn_cosine_overflow():
    from ardr.graph.neighbors import exact_knn

    X = np.array([[1e20, 0.0], [0.0, 1e20], [1e20, 1e20]], dtype=np.float32)
    with strict_example():
        _, dist = exact_knn(X, 1, metric="cosine")
    np.testing.assert_allclose(dist.ravel(), [1 - 2**-0.5] * 3, rtol=1e-5)


@pytest.mark.xfail(strict=True, reason="ardr/lle.py LLE.fit checks X in float64, but the neighbour search "
                   "casts to float32: |x| > 3.4e38 overflows to inf (RuntimeWarning, garbage neighbours) "
                   "instead of the ValueError the float32 estimators raise")
def test_known_bug_lle_beyond_float32():
    from ardr.methods.registry import estimator_class

    X = np.array([[0.0, 0.0], [1e300, 0.0], [0.0, 1e300], [1e300, 1e300]])
    with strict_example():
        try:
            Y = estimator_class("lle")(n_neighbors=2).fit_transform(X)
        except ValueError as exc:
            assert "too large" in str(exc)
        else:
            assert np.isfinite(Y).all()


def test_known_bug_pca_layout_tiny():
    from ardr.graph.initialization import pca_layout

    with strict_example():
        Y = pca_layout(np.array([[0.0], [1e-30], [3e-30]], dtype=np.float32), 2, 0)
    assert np.isfinite(Y).all()


def test_known_bug_metrics_overflow():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 3)) * 1e200, rng.normal(size=(20, 2))
    with strict_example():
        values = [metrics.trustworthiness(X, Y, k=3), metrics.continuity(X, Y, k=3),
                  metrics.knn_overlap(X, Y, k=3), metrics.procrustes_error(X, Y), metrics.distance_spearman(X, Y)]
    assert np.isfinite(values).all()


def test_known_bug_metrics_underflow():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    with strict_example():
        assert metrics.trustworthiness(X * 1e-300, Y, k=2) == pytest.approx(metrics.trustworthiness(X, Y, k=2))


def test_known_bug_knn_accuracy_small_class():
    Y = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match="fewer than folds"):
        metrics.knn_accuracy(Y, np.array([0, 0, 0, 0, 0, 1]), k=1, folds=5)
