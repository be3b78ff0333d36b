"""Reading user files and writing outputs atomically."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

DATA_SUFFIXES = (".npy", ".npz", ".csv")


def load_matrix(path, *, what="input"):
    """A numeric array from .npy, .npz (key X/data or the only array) or .csv (header allowed)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                for key in ("X", "data", "embedding", "y", "labels"):
                    if key in keys:
                        return z[key]
                if len(keys) == 1:
                    return z[keys[0]]
                raise ValueError(f"{what} file {path} holds arrays {keys}; name the data 'X'")
        if suffix in (".csv", ".txt"):
            return _load_csv(path)
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        raise ValueError(f"{what} file {path} is not a valid {suffix} file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{what} file {path} could not be read as {suffix}: {exc}") from None
    raise ValueError(f"{what} file {path} has unsupported extension {suffix!r}; use .npy, .npz or .csv")


def _load_csv(path):
    with open(path, "r", encoding="utf-8") as f:
        first = f.readline()
    if not first.strip():
        raise ValueError("empty file")
    skip = 0
    try:
        [float(v) for v in first.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        skip = 1  # a header line
    arr = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    return arr[:, 0] if arr.shape[1] == 1 else arr


@contextlib.contextmanager
def atomic_outputs(out_dir):
    """Stage files in a hidden folder inside ``out_dir``; move them into place only if
    the block succeeds. On failure ``out_dir`` is left as it was (removed if we made it)."""
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ardr-staging-", dir=out))
    try:
        yield staging
        for item in sorted(staging.iterdir()):
            os.replace(item, out / item.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
