"""Reading user files and writing outputs atomically.

Input files are checked by content, not only by extension: a file called X.npy that
holds text, or an .npz that is not a zip archive, gets an error that names the file
and says what it actually looks like. Read: .npy; .npz (an array named X/data, the only
array, or a scipy sparse matrix written by ``scipy.sparse.save_npz``, kept sparse); text
tables .csv, .tsv and .txt, each also gzip-compressed (.csv.gz), separated by commas,
semicolons (then a decimal comma is read too), tabs or spaces, with an optional header
line whose names ``load_table`` can pick a label column by. Outputs are written to a temporary name in the
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

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
DATA_SUFFIXES = (".npy", ".npz") + TEXT_SUFFIXES + tuple(f"{t}.gz" for t in TEXT_SUFFIXES)

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


def data_suffix(path):
    """The extension that decides how ``path`` is read: ".csv.gz" counts as one."""
    name = Path(path).name.lower()
    for suffix in DATA_SUFFIXES:
        if name.endswith(suffix) and "." in suffix[1:]:
            return suffix
    return Path(path).suffix.lower()


def is_text_table(path):
    return data_suffix(path).split(".gz")[0] in TEXT_SUFFIXES


def load_matrix(path, *, what="input"):
    """A numeric array (or a scipy sparse matrix, from a sparse .npz) read from ``path``."""
    return _read(path, what, lambda p, s: _load_text(p, s)[0])


def load_table(path, label_column, *, what="input"):
    """(features, labels) from a text table whose column ``label_column`` (a header name,
    or a 0-based index, negative from the end) holds the labels: numbers where every label
    is one (integers when whole), else strings."""
    return _read(path, what, lambda p, s: _load_text(p, s, label_column))


def table_columns(path):
    """The header names of a text table (None when its first line is data), read from its first line."""
    path = Path(path)
    suffix = data_suffix(path)
    with _open_text(path, suffix) as f:
        first = f.readline()
        second = f.readline()
    delimiter = _delimiter(first, suffix)
    fields = _fields(first, delimiter)
    return fields if _is_header(fields, _fields(second, delimiter)) else None


def _is_header(first, second):
    """A first line is a header when a field of it is not a number where the next line's is
    (a column of names such as "label" stays text in every line, header or not)."""
    def number(text):
        return _numeric([text]) or _numeric([text], decimal_comma=True)

    if not second:
        return not all(number(a) for a in first)
    return any(not number(a) and number(b) for a, b in zip(first, second))


def _read(path, what, read_text):
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file not found: {path}")
    suffix = data_suffix(path)
    try:
        head = _sniff(path)
    except OSError as exc:
        raise ValueError(f"{what} file {path} could not be read: {exc}") from None
    if suffix not in DATA_SUFFIXES:
        raise ValueError(f"{what} file {path} has unsupported extension {suffix!r} (it holds "
                         f"{describe_content(head)}); use .npy, .npz, .csv, .tsv or .txt (optionally .gz)")
    _check_content(path, suffix, head, what)
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            return _load_npz(path, what)
        return read_text(path, suffix)
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
    elif suffix.endswith(".gz"):
        ok = head.startswith(b"\x1f\x8b")
    else:
        kind = describe_content(head)
        ok = kind.startswith(("text", "whitespace"))
    if not ok:
        raise ValueError(f"{what} file {path} is not a {suffix} file: it holds {describe_content(head)}")


#: the arrays scipy.sparse.save_npz writes, by format
_SPARSE_KEYS = {"csr": ("data", "indices", "indptr"), "csc": ("data", "indices", "indptr"),
                "coo": ("data", "row", "col")}


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
        if "format" in keys and "shape" in keys:
            return _sparse_from_npz(z, path, what)
        for key in ("X", "data", "embedding", "y", "labels"):
            if key in keys:
                return z[key]
        if len(keys) == 1:
            return z[keys[0]]
        raise ValueError(f"{what} file {path} holds arrays {keys}; name the data 'X'")


def _sparse_from_npz(z, path, what):
    """A scipy sparse matrix from the arrays of ``scipy.sparse.save_npz`` (CSR, CSC or COO)."""
    import scipy.sparse as sp

    kind = z["format"].item()
    kind = kind.decode("ascii", "replace") if isinstance(kind, bytes) else str(kind)
    if kind not in _SPARSE_KEYS or any(k not in z for k in _SPARSE_KEYS[kind]):
        raise ValueError(f"{what} file {path} holds a sparse matrix in format {kind!r}; ardr reads csr, csc and coo")
    shape = tuple(int(v) for v in z["shape"])
    try:
        if kind == "coo":
            return sp.coo_matrix((z["data"], (z["row"], z["col"])), shape=shape).tocsr()
        cls = sp.csr_matrix if kind == "csr" else sp.csc_matrix
        matrix = cls((z["data"], z["indices"], z["indptr"]), shape=shape)
        matrix.check_format(full_check=True)
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(f"{what} file {path} holds an inconsistent {kind} sparse matrix: {exc}") from None
    return matrix.tocsr()


def _open_text(path, suffix):
    import gzip

    if suffix.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, "r", encoding="utf-8-sig", newline="")  # -sig: a byte-order mark is not data


def _delimiter(line, suffix):
    """Tab for .tsv; else the first of tab, semicolon, comma found in the line; else whitespace (None)."""
    if suffix.startswith(".tsv"):
        return "\t"
    for candidate in ("\t", ";", ","):
        if candidate in line:
            return candidate
    return None


def _fields(line, delimiter):
    import csv

    if delimiter is None:
        return line.split()
    return [f.strip() for f in next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter))]


def _number(text, decimal_comma=False):
    return float(text.replace(",", ".") if decimal_comma else text)


def _numeric(fields, decimal_comma=False):
    try:
        [_number(v, decimal_comma) for v in fields if v]
    except ValueError:
        return False
    return True


def _load_text(path, suffix, label_column=None):
    with _open_text(path, suffix) as f:
        first = f.readline()
        second = f.readline()
    if not first.strip():
        raise ValueError("empty file")
    delimiter = _delimiter(first, suffix)
    header = _fields(first, delimiter) if _is_header(_fields(first, delimiter), _fields(second, delimiter)) else None
    sample = _fields(second if header is not None else first, delimiter)
    # "1,5;2,25": with semicolons or tabs between fields, a comma inside one is a decimal comma
    decimal_comma = delimiter in (";", "\t") and any("," in v and _numeric([v], True) for v in sample)
    n_columns = len(header if header is not None else sample)
    label = None if label_column is None else _column_index(label_column, header, n_columns)
    features = [j for j in range(n_columns) if j != label]
    if not features:
        raise ValueError("the table has no column left for features")
    X = _read_columns(path, suffix, delimiter, header, features, decimal_comma)
    if label is None:
        return (X[:, 0] if X.shape[1] == 1 else X), None
    with _open_text(path, suffix) as f:
        raw = np.loadtxt(f, delimiter=delimiter, skiprows=int(header is not None), usecols=[label], dtype=str,
                         ndmin=1, quotechar='"')
    return X, _labels_from_text(raw, decimal_comma)


def _column_index(column, header, n_columns):
    if header is not None and column in header:
        return header.index(column)
    try:
        index = int(column)
    except (TypeError, ValueError):
        names = "it has no header line" if header is None else f"its columns are {', '.join(header[:20])}"
        raise ValueError(f"no label column {column!r}: {names}") from None
    if not -n_columns <= index < n_columns:
        raise ValueError(f"label column {index} is out of range for {n_columns} columns")
    return index % n_columns


def _read_columns(path, suffix, delimiter, header, columns, decimal_comma):
    converters = (lambda v: _number(v, True)) if decimal_comma else None
    with _open_text(path, suffix) as f:
        try:
            return np.loadtxt(f, delimiter=delimiter, skiprows=int(header is not None), usecols=columns, ndmin=2,
                              converters=converters, quotechar='"')
        except ValueError as exc:
            hint = ""
            if header is not None:
                hint = "; a column of labels or names is not a feature: name it with --labels COLUMN"
            raise ValueError(f"{str(exc).strip().splitlines()[0].rstrip('.')}{hint}") from None


def _labels_from_text(raw, decimal_comma):
    """Numbers when every label is one (int64 when all are whole), else the strings."""
    try:
        values = np.array([_number(v, decimal_comma) for v in raw])
    except ValueError:
        return np.asarray(raw, dtype=str)
    if np.isfinite(values).all() and np.array_equal(values, np.round(values)):
        return values.astype(np.int64)
    return values


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
