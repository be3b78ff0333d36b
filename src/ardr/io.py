"""Saved models without pickle: ``save(estimator, path)`` and ``load(path)``.

A model file is an .npz (a zip of .npy arrays) written and read with
``allow_pickle=False``, so opening a stranger's file cannot run code. Its first entry,
``__header__``, is UTF-8 JSON (stored as a uint8 array) with

* ``format`` ("ardr-model") and ``format_version`` (an integer; a file from a newer
  version is refused with a message saying so, never half-read),
* ``class``: "module:Class", which must be an ardr estimator (the method registry
  ``ardr.methods.registry.METHODS`` plus :data:`EXTRA_CLASSES`); nothing else is imported,
* ``ardr_version``, the constructor ``params`` (``get_params(deep=False)``), the names
  of the ``fitted`` attributes and of the ``private`` state, and their encoded values.

Values are JSON where JSON is exact (None, bool, int, str, finite float), else tagged
objects that point at arrays in the archive: ndarrays (numeric, bool or string dtypes),
numpy scalars (0-d arrays), scipy sparse matrices (their CSR parts), lists, tuples,
dicts with string keys, ``types.SimpleNamespace``, numpy random generators, ardr
estimators (one given as a parameter) and ardr helper objects that list their saved
attributes (rebuilt without running their ``__init__``). Anything else (a callable, an
arbitrary object) cannot be saved and says which attribute it was.

What is saved: every fitted attribute (a name that ends in "_" and does not start with
"_") plus the private state a class lists in its ``_saved_state`` class attribute
(names transform needs, such as the training data). A loaded model therefore has the
same arrays, bit for bit, and its ``transform`` gives the same bytes.
"""

import json
import types
import zipfile
from pathlib import Path

import numpy as np

from ._files import atomic_file, describe_content

FORMAT = "ardr-model"
FORMAT_VERSION = 1
HEADER_KEY = "__header__"

#: Loadable classes beyond the CLI registry (``ardr.methods.registry.METHODS``).
EXTRA_CLASSES = ("ardr.methods.neighbor_embedding:ARDR",)

# Where classes lived in files written by ardr 0.1.0, before the package took its layers
# (graph / engine / methods / explain / cli): a file names the class where it was then.
_RENAMED_MODULES = {
    "ardr.estimators": "ardr.methods.neighbor_embedding",
    "ardr.classical_methods": "ardr.methods.classical",
    "ardr.classical": "ardr.methods.classical_exact",
    "ardr.lle": "ardr.methods.lle",
}

_ARRAY_KINDS = "biufcU"  # bool, int, uint, float, complex, unicode: never objects
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ModelFileError(ValueError):
    """A model file that cannot be loaded (wrong kind, newer format, damaged, unsafe)."""


# ---------------------------------------------------------------------------- naming


def class_path(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def current_class_name(name):
    """A saved "module:Class" name translated to where that class lives now."""
    if not isinstance(name, str):
        return name
    module, sep, qualname = name.partition(":")
    return f"{_RENAMED_MODULES.get(module, module)}{sep}{qualname}"


def loadable_classes():
    """The "module:Class" names :func:`load` accepts."""
    from .methods.registry import METHODS

    return sorted(set(METHODS.values()) | set(EXTRA_CLASSES))


def saved_state_names(cls):
    """Private attribute names saved for ``cls``: its ``_saved_state``."""
    return list(dict.fromkeys(getattr(cls, "_saved_state", ())))


def _is_state_object(value):
    """A helper object of the ardr package (not an estimator) that lists its saved state."""
    cls = type(value)
    return (cls.__module__.startswith("ardr.") and not hasattr(value, "get_params")
            and bool(saved_state_names(cls)))


def fitted_attribute_names(estimator):
    return sorted(n for n in vars(estimator) if n.endswith("_") and not n.startswith("_"))


# ---------------------------------------------------------------------------- saving


class SaveMixin:
    """Adds ``save(path)`` to an estimator: a pickle-free model file (see :mod:`ardr.io`)."""

    def save(self, path, *, compress=False):
        """Write this fitted estimator to ``path`` (an .npz); ``ardr.load(path)`` reads it back."""
        return save(self, path, compress=compress)


def save(estimator, path, *, compress=False):
    """Write a fitted ardr estimator to ``path`` atomically; returns the path.

    ``compress=True`` deflates the arrays (smaller, slower). The file is written to a
    temporary name in the same folder and renamed into place, so a failure leaves no
    partial file and an existing file at ``path`` untouched."""
    cls = type(estimator)
    name = class_path(cls)
    if name not in loadable_classes():
        raise ValueError(f"cannot save a {name}: only ardr estimators can be saved "
                         f"({', '.join(loadable_classes())})")
    if not fitted_attribute_names(estimator):
        raise ValueError(f"this {cls.__name__} is not fitted; call fit before save")
    from . import __version__

    writer = _Writer()
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "ardr_version": __version__,
              **writer.describe(estimator, "")}
    text = json.dumps(header, allow_nan=False).encode("utf-8")
    path = Path(path)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_file(path) as tmp:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            _write_member(zf, HEADER_KEY, np.frombuffer(text, dtype=np.uint8), method)
            for key, arr in writer.arrays.items():
                _write_member(zf, key, arr, method)
    return path


def _write_member(zf, key, arr, method):
    # A fixed timestamp: the same model gives the same bytes, whenever it is saved.
    info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = method
    info.external_attr = 0o644 << 16  # rw-r--r-- for whoever unzips it
    with zf.open(info, "w", force_zip64=True) as f:
        np.lib.format.write_array(f, arr, allow_pickle=False)


class _Writer:
    """Turns values into JSON, collecting the arrays they refer to (each array once)."""

    def __init__(self):
        self.arrays = {}
        self._seen = {}  # id(array) -> (key, array): an array shared by two attributes is stored once

    def describe(self, estimator, prefix):
        """Class, parameters and state of an ardr estimator (also one given as a parameter,
        such as a fitted UMAP whose graph DKLLE reuses)."""
        fitted = fitted_attribute_names(estimator)
        private = [n for n in saved_state_names(type(estimator)) if n in vars(estimator)]
        params = estimator.get_params(deep=False)
        return {
            "class": class_path(type(estimator)),
            "params": {k: self.encode(v, f"{prefix}params.{k}") for k, v in params.items()},
            "fitted": fitted,
            "private": private,
            "state": {k: self.encode(getattr(estimator, k), f"{prefix}state.{k}") for k in fitted + private},
        }

    def encode(self, value, where):
        import scipy.sparse as sp

        if isinstance(value, np.generic):  # first: np.float64 and np.str_ subclass float and str
            return {"type": "scalar", "key": self._array(np.asarray(value), where)}
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if np.isfinite(value) else {"type": "float", "value": repr(value)}
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "O":  # strings only (e.g. feature names), stored as str
                return {"type": "array", "key": self._array(value, where), "object_strings": True}
            return {"type": "array", "key": self._array(value, where)}
        if sp.issparse(value):
            csr = value.tocsr()
            return {
                "type": "sparse",
                "format": value.format,
                "container": "matrix" if isinstance(value, sp.spmatrix) else "array",
                "shape": [int(s) for s in csr.shape],
                "data": self._array(csr.data, f"{where}.data"),
                "indices": self._array(csr.indices, f"{where}.indices"),
                "indptr": self._array(csr.indptr, f"{where}.indptr"),
            }
        if isinstance(value, (list, tuple)):
            return {"type": "list" if isinstance(value, list) else "tuple",
                    "items": [self.encode(v, f"{where}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, (dict, types.SimpleNamespace)):
            items = vars(value) if isinstance(value, types.SimpleNamespace) else value
            bad = [k for k in items if not isinstance(k, str)]
            if bad:
                raise ValueError(f"cannot save {where}: dictionary key {bad[0]!r} is not a string")
            return {"type": "dict" if isinstance(value, dict) else "namespace",
                    "items": {k: self.encode(v, f"{where}.{k}") for k, v in items.items()}}
        if isinstance(value, np.random.RandomState):
            return {"type": "random_state", "state": self.encode(value.get_state(legacy=False), where)}
        if isinstance(value, np.random.Generator):
            bit_generator = type(value.bit_generator).__name__
            if bit_generator not in _BIT_GENERATORS:
                raise ValueError(f"cannot save {where}: unknown bit generator {bit_generator}")
            return {"type": "generator", "bit_generator": bit_generator,
                    "state": self.encode(value.bit_generator.state, where)}
        if class_path(type(value)) in loadable_classes():
            return {"type": "estimator", **self.describe(value, f"{where}.")}
        if _is_state_object(value):
            names = [n for n in saved_state_names(type(value)) if n in vars(value)]
            return {"type": "object", "class": class_path(type(value)),
                    "items": {n: self.encode(getattr(value, n), f"{where}.{n}") for n in names}}
        raise ValueError(f"cannot save {where}: a {type(value).__name__} is not an array, number, "
                         f"string, list, dict, sparse matrix or ardr estimator (model files hold no pickles)")

    def _array(self, arr, where):
        if id(arr) in self._seen:
            return self._seen[id(arr)][0]
        stored = arr
        if arr.dtype.kind == "O":
            if not all(isinstance(v, str) for v in arr.flat):
                raise ValueError(f"cannot save {where}: an object array (model files hold no pickles)")
            stored = arr.astype(str)
        if stored.dtype.kind not in _ARRAY_KINDS or stored.dtype.fields is not None:
            raise ValueError(f"cannot save {where}: arrays of dtype {arr.dtype} are not supported")
        key = "".join(c if c.isalnum() or c in "._-" else "-" for c in where)[:120]
        base, n = key, 1
        while key in self.arrays or key == HEADER_KEY:
            key, n = f"{base}-{n}", n + 1
        self.arrays[key] = stored
        self._seen[id(arr)] = (key, arr)  # keep arr alive so its id is not reused
        return key


# ---------------------------------------------------------------------------- loading


def load(path):
    """The estimator saved in ``path`` by :func:`save`, ready to ``transform``.

    Raises ValueError (a :class:`ModelFileError`) for a file that is not an ardr model,
    comes from a newer format version, names a class that is not an ardr estimator,
    holds an object (pickled) array, or is truncated or corrupted."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise ModelFileError(f"{path} is not an ardr model file: it holds {describe_content(head)}")
    try:
        with zipfile.ZipFile(path) as zf:
            header, arrays = _read_archive(zf, path)
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile, numpy's header parser and json each fail their own way
        raise ModelFileError(f"model file {path} is corrupted or truncated "
                             f"({type(exc).__name__}: {exc})") from None
    return _build(header, arrays, path)


def _read_archive(zf, path):
    members = {info.filename: info for info in zf.infolist()}
    if HEADER_KEY + ".npy" not in members:
        raise ModelFileError(f"{path} is not an ardr model file: it has no {HEADER_KEY} entry")
    for name, info in members.items():
        if not name.endswith(".npy") or "/" in name:
            raise ModelFileError(f"model file {path} has an unexpected entry {name!r}")
        _check_member(zf, info, path)
    header = _read_header(_read_member(zf, members[HEADER_KEY + ".npy"]), path)
    arrays = {name[:-4]: _read_member(zf, info) for name, info in members.items()
              if name != HEADER_KEY + ".npy"}
    return header, arrays


def _check_member(zf, info, path):
    """Refuse object (pickled) arrays and sizes that do not add up, before reading any data."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"model file {path} holds an array in .npy format {version}, "
                                 f"which ardr does not write ({info.filename})")
        data_bytes = info.file_size - f.tell()
    if dtype.hasobject:
        raise ModelFileError(f"model file {path} holds a pickled object array ({info.filename}); "
                             f"ardr model files never contain pickles, refusing to load it")
    if dtype.kind not in _ARRAY_KINDS:
        raise ModelFileError(f"model file {path} holds an array of unsupported dtype {dtype} ({info.filename})")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != data_bytes:
        raise ModelFileError(f"model file {path} is corrupted or truncated: {info.filename} should hold "
                             f"{shape} x {dtype} but has {data_bytes} data bytes")


def _read_member(zf, info):
    with zf.open(info) as f:
        arr = np.lib.format.read_array(f, allow_pickle=False)
        if f.read(1):  # also reaches the end, where zipfile checks the CRC
            raise ValueError(f"trailing bytes after the array in {info.filename}")
    return arr


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")  # save writes non-finite floats as tagged values


def _read_header(raw, path):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"model file {path} has a malformed header")
    header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constant)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an ardr model file (its header has no format {FORMAT!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"model file {path} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        from . import __version__

        raise ModelFileError(
            f"model file {path} uses format version {version} (written by ardr "
            f"{header.get('ardr_version', '?')}); this ardr {__version__} reads format versions up to "
            f"{FORMAT_VERSION}: upgrade ardr to load it")
    return header


def _build(header, arrays, path):
    reader = _Reader(arrays, path, header.get("ardr_version", "?"))
    try:
        return reader.estimator(header)
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"model file {path} has a malformed header ({type(exc).__name__}: {exc})") from None


class _Reader:
    """Inverse of _Writer: JSON values and array references back to Python objects."""

    def __init__(self, arrays, path, written_by):
        self.arrays = arrays
        self.path = path
        self.written_by = written_by

    def estimator(self, desc):
        """An estimator from its description: only ardr classes, and nothing else imported."""
        import importlib

        for key, kind in (("class", str), ("params", dict), ("fitted", list), ("private", list),
                          ("state", dict)):
            if not isinstance(desc.get(key), kind):
                raise ModelFileError(f"model file {self.path} has a malformed header (field {key!r})")
        name = current_class_name(desc["class"])
        if name not in loadable_classes():
            raise ModelFileError(f"model file {self.path} names class {name!r}, which is not an ardr "
                                 f"estimator; refusing to load it (loadable: {', '.join(loadable_classes())})")
        bad = [k for k in desc["fitted"] if not (isinstance(k, str) and k.endswith("_") and k[0] != "_")]
        bad += [k for k in desc["private"] if not (isinstance(k, str) and k[:1] == "_" and k[:2] != "__")]
        if bad:
            raise ModelFileError(f"model file {self.path} lists invalid attribute names {bad}")
        params = {k: self.decode(v) for k, v in desc["params"].items()}
        state = {k: self.decode(desc["state"][k]) for k in desc["fitted"] + desc["private"]}
        module, qualname = name.split(":")
        cls = getattr(importlib.import_module(module), qualname)
        try:
            estimator = cls(**params)
        except TypeError as exc:
            raise ModelFileError(f"model file {self.path} has parameters this ardr's {cls.__name__} does not "
                                 f"take ({exc}); it was written by ardr {self.written_by}") from None
        for key, value in state.items():
            setattr(estimator, key, value)
        return estimator

    def _array(self, key):
        if not isinstance(key, str) or key not in self.arrays:
            raise ModelFileError(f"model file {self.path} refers to a missing array {key!r}")
        return self.arrays[key]

    def decode(self, value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            raise ModelFileError(f"model file {self.path} has a malformed header (untagged list)")
        kind = value["type"]
        if kind == "float":
            if value["value"] not in ("nan", "inf", "-inf"):
                raise ModelFileError(f"model file {self.path} has a malformed float {value['value']!r}")
            return float(value["value"])
        if kind == "array":
            arr = self._array(value["key"])
            if value.get("object_strings"):
                if arr.dtype.kind != "U":
                    raise ModelFileError(f"model file {self.path} has a malformed string array {value['key']!r}")
                return arr.astype(object)
            return arr
        if kind == "scalar":
            arr = self._array(value["key"])
            if arr.ndim != 0:
                raise ModelFileError(f"model file {self.path} has a malformed scalar {value['key']!r}")
            return arr[()]
        if kind == "sparse":
            return self._sparse(value)
        if kind == "estimator":
            return self.estimator(value)
        if kind == "object":
            return self._state_object(value)
        if kind in ("list", "tuple"):
            items = [self.decode(v) for v in value["items"]]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "namespace"):
            items = {str(k): self.decode(v) for k, v in value["items"].items()}
            return items if kind == "dict" else types.SimpleNamespace(**items)
        if kind == "random_state":
            rs = np.random.RandomState()
            rs.set_state(self.decode(value["state"]))
            return rs
        if kind == "generator":
            if value["bit_generator"] not in _BIT_GENERATORS:
                raise ModelFileError(f"model file {self.path} names unknown bit generator "
                                     f"{value['bit_generator']!r}")
            bit_generator = getattr(np.random, value["bit_generator"])()
            bit_generator.state = self.decode(value["state"])
            return np.random.Generator(bit_generator)
        raise ModelFileError(f"model file {self.path} has a value of unknown type {kind!r}")

    def _state_object(self, value):
        """A helper object rebuilt from its saved attributes (its __init__ is not run). Only
        ardr classes that list their saved state qualify; no other module is imported."""
        import importlib

        name = current_class_name(value["class"])
        module, _, qualname = name.partition(":") if isinstance(name, str) else ("", "", "")
        if not module.startswith("ardr.") or not qualname.isidentifier():
            raise ModelFileError(f"model file {self.path} names class {name!r}, which is not part of ardr; "
                                 f"refusing to load it")
        cls = getattr(importlib.import_module(module), qualname, None)
        allowed = saved_state_names(cls) if isinstance(cls, type) else []
        items = value["items"]
        if not allowed or hasattr(cls, "get_params") or not set(items) <= set(allowed):
            raise ModelFileError(f"model file {self.path} holds a {name} with attributes {sorted(items)}, "
                                 f"which ardr does not save; refusing to load it")
        obj = cls.__new__(cls)
        for key, item in items.items():
            setattr(obj, key, self.decode(item))
        return obj

    def _sparse(self, value):
        import scipy.sparse as sp

        parts = [self._array(value[k]) for k in ("data", "indices", "indptr")]
        container = sp.csr_matrix if value["container"] == "matrix" else sp.csr_array
        shape = tuple(int(s) for s in value["shape"])
        try:
            matrix = container(tuple(parts), shape=shape)
            matrix.check_format(full_check=True)  # indices in range, indptr monotone
        except ValueError as exc:
            raise ModelFileError(f"model file {self.path} is corrupted: sparse matrix {value['data']!r} "
                                 f"is inconsistent ({exc})") from None
        return matrix if value["format"] == "csr" else matrix.asformat(value["format"])
