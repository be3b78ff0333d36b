"""Reading user files and writing outputs atomically.

Input files are checked by content, not only by extension: a file called X.npy that
holds text, or an .npz that is not a zip archive, gets an error that names the file
and says what it actually looks like. Outputs are written to a temporary name in the
target folder and renamed into place, so a failed or interrupted run leaves the
folder as it was.
"""

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np

DATA_SUFFIXES = (".npy", ".npz", ".csv")

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries; an empty zip
_SNIFF_BYTES = 8192


def describe_content(head):
    """A few words saying what a file that starts with the bytes ``head`` looks like."""
    if not head:
        return "an empty file"
    if head.startswith(_NPY_MAGIC):
        return "a NumPy .npy array"
    if head.startswith(_ZIP_MAGICS):
        return "a zip archive (an .npz file?)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] <= 5:
        return "a Python pickle"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file"
    if b"\x00" in head:
        return "binary data"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut off at the sniff boundary
            return "binary data (not UTF-8 text)"
        text = head[: exc.start].decode("utf-8")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"text starting {first[:40]!r}" if first else "whitespace only"


def _sniff(path):
    with open(path, "rb") as f:
        return f.read(_SNIFF_BYTES)


def load_matrix(path, *, what="input"):
    """A numeric array from .npy, .npz (key X/data or the only array) or .csv (header allowed)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file not found: {path}")
    suffix = path.suffix.lower()
    try:
        head = _sniff(path)
    except OSError as exc:
        raise ValueError(f"{what} file {path} could not be read: {exc}") from None
    if suffix not in (".npy", ".npz", ".csv", ".txt"):
        raise ValueError(f"{what} file {path} has unsupported extension {suffix!r} (it holds "
                         f"{describe_content(head)}); use .npy, .npz or .csv")
    _check_content(path, suffix, head, what)
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            return _load_npz(path, what)
        return _load_csv(path)
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        if "allow_pickle" in str(exc):
            raise ValueError(f"{what} file {path} holds a pickled object array; only numeric "
                             f"arrays are read (pickles can run code)") from None
        raise ValueError(f"{what} file {path} is not a valid {suffix} file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{what} file {path} could not be read as {suffix}: {exc}") from None


def _check_content(path, suffix, head, what):
    """Refuse a file whose first bytes do not match its extension."""
    if not head:
        raise ValueError(f"{what} file {path} is empty")
    if suffix == ".npy":
        ok = head.startswith(_NPY_MAGIC)
    elif suffix == ".npz":
        ok = head.startswith(_ZIP_MAGICS)
    else:
        kind = describe_content(head)
        ok = kind.startswith(("text", "whitespace"))
    if not ok:
        raise ValueError(f"{what} file {path} is not a {suffix} file: it holds {describe_content(head)}")


def _load_npz(path, what):
    import zipfile

    try:
        z = np.load(path, allow_pickle=False)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{what} file {path} is a damaged zip archive: {exc}") from None
    with z:
        keys = list(z.keys())
        if not keys:
            raise ValueError(f"{what} file {path} holds no arrays")
        for key in ("X", "data", "embedding", "y", "labels"):
            if key in keys:
                return z[key]
        if len(keys) == 1:
            return z[keys[0]]
        raise ValueError(f"{what} file {path} holds arrays {keys}; name the data 'X'")


def _load_csv(path):
    with open(path, "r", encoding="utf-8-sig") as f:  # -sig: a byte-order mark is not data
        first = f.readline()
    if not first.strip():
        raise ValueError("empty file")
    skip = 0
    try:
        [float(v) for v in first.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        skip = 1  # a header line
    arr = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, encoding="utf-8-sig")
    return arr[:, 0] if arr.shape[1] == 1 else arr


@contextlib.contextmanager
def atomic_file(path):
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    On failure the temporary file is removed and ``path`` (if it existed) is untouched.
    The temporary file is created with the usual permissions (0666 minus the umask)."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: folder {folder} does not exist")
    while True:
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_outputs(out_dir):
    """Stage files in a hidden folder inside ``out_dir``; move them into place only if
    the block succeeds. On failure ``out_dir`` is left as it was (removed if we made it).

    Files staged in sub-folders go to the same sub-folders of ``out_dir`` (created as
    needed), so a staged ``models/m.npz`` lands in ``out_dir/models/m.npz``."""
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ardr-staging-", dir=out))
    try:
        yield staging
        for item in sorted(staging.rglob("*")):
            if item.is_dir():
                continue
            target = out / item.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def jsonable(value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return repr(value)[:200]
