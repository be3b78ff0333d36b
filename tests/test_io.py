"""Saved models (ardr.io): every registered estimator round-trips bit for bit, hostile or
damaged files are refused with a ValueError, writes are atomic; the CLI's --save-model;
input files checked by content (ardr._files.load_matrix)."""

import copy
import json
import re
import types
import warnings
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

import ardr
import ardr.io as io
from ardr._files import load_matrix
from ardr.cli import main
from ardr.methods.registry import available, estimator_class

FAST = {"n_epochs": 30, "max_iter": 5, "random_state": 0, "verbose": False, "n_jobs": 1}


def fast_estimator(name, **overrides):
    """The registered estimator ``name`` with short runs and a fixed seed (where it has those)."""
    cls = estimator_class(name)
    params = cls().get_params(deep=False)
    return cls(**{k: v for k, v in (FAST | overrides).items() if k in params})


def assert_same(a, b, where="value"):
    """Equal type, dtype and bytes, recursively (NaNs compare equal by bytes)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray) and a.dtype == object:
        assert b.dtype == object and a.tolist() == b.tolist(), where
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif sp.issparse(a):
        assert a.format == b.format and a.shape == b.shape and a.dtype == b.dtype, where
        for part in ("data", "indices", "indptr"):
            assert_same(getattr(a.tocsr(), part), getattr(b.tocsr(), part), f"{where}.{part}")
    elif isinstance(a, (dict, types.SimpleNamespace)):
        da, db = (vars(a), vars(b)) if isinstance(a, types.SimpleNamespace) else (a, b)
        assert list(da) == list(db), where
        for k in da:
            assert_same(da[k], db[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert repr(a) == repr(b), where
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(legacy=False), b.get_state(legacy=False), where)
    elif hasattr(a, "get_params"):  # an estimator given as a parameter
        assert_same(a.get_params(deep=False), b.get_params(deep=False), f"{where}.params")
        assert io.fitted_attribute_names(a) == io.fitted_attribute_names(b), where
        for name in io.fitted_attribute_names(a) + io.saved_state_names(type(a)):
            assert_same(getattr(a, name, None), getattr(b, name, None), f"{where}.{name}")
    elif type(a).__module__.startswith("ardr."):  # a helper object saved by its attributes
        assert_same(vars(a), vars(b), where)
    elif isinstance(a, np.random.Generator):
        assert_same(a.bit_generator.state, b.bit_generator.state, where)
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def data():
    """A Swiss roll: every method (Isomap included) has a connected neighbour graph on it."""
    X, _ = ardr.datasets.load("swiss-roll", n_samples=230, random_state=0)
    return X[:200], X[200:]


@pytest.fixture(scope="module")
def umap_model(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fast_estimator("umap").fit(data[0])


@pytest.fixture
def model_file(tmp_path, umap_model):
    path = tmp_path / "model.npz"
    io.save(umap_model, path)
    return path


# --------------------------------------------------------------------- round trips


def _round_trip(est, X_new, path):
    io.save(est, path)
    loaded = ardr.load(path)
    assert type(loaded) is type(est)
    assert_same(est.get_params(deep=False), loaded.get_params(deep=False), "params")
    names = io.fitted_attribute_names(est) + [n for n in io.saved_state_names(type(est)) if hasattr(est, n)]
    assert io.fitted_attribute_names(loaded) == io.fitted_attribute_names(est)
    for name in names:
        assert_same(getattr(est, name), getattr(loaded, name), name)
    if hasattr(est, "transform") and X_new is not None:
        try:
            expected = est.transform(X_new)
        except (NotImplementedError, AttributeError) as exc:  # a method without out-of-sample placement
            with pytest.raises(type(exc)):
                loaded.transform(X_new)
        else:
            assert_same(expected, loaded.transform(X_new), "transform")
    return loaded


@pytest.mark.parametrize("name", available())
def test_every_registered_estimator_round_trips(name, data, tmp_path):
    X, X_new = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est = fast_estimator(name).fit(X)
        loaded = _round_trip(est, X_new, tmp_path / f"{name}.npz")
    # saving the loaded model again gives the same bytes: nothing was lost or added
    io.save(loaded, tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / f"{name}.npz").read_bytes()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ardr.ARDR(input_kernel="tsne", n_epochs=20, random_state=3, n_jobs=1),
        lambda: ardr.UMAP(normalized=True, n_epochs=20, random_state=np.random.RandomState(4), n_jobs=1),
        lambda: ardr.UMAP(n_epochs=20, init=np.linspace(0, 1, 400).reshape(200, 2),
                          random_state=np.random.default_rng(5), n_jobs=1, n_components=2),
        lambda: ardr.UMAP(n_epochs=20, random_state=6, n_components=3, metric="cosine", n_jobs=1),
    ],
    ids=["ardr-tsne-kernel", "umap-normalized-RandomState", "umap-init-array-Generator", "umap-3d-cosine"],
)
def test_configurations_round_trip(make, data, tmp_path):
    X, X_new = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _round_trip(make().fit(X), X_new, tmp_path / "m.npz")


@pytest.mark.parametrize("name,params", [("isomap", {"n_landmarks": 40}), ("mds", {"dissimilarity": "precomputed"}),
                                         ("pca", {"solver": "exact"})])
def test_classical_variants_round_trip(name, params, data, tmp_path):
    if name not in available():
        pytest.skip(f"no {name} in this installation")
    X, X_new = data
    if params.get("dissimilarity") == "precomputed":
        from scipy.spatial.distance import cdist

        X, X_new = cdist(X, X), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est = fast_estimator(name, **params).fit(X)
        _round_trip(est, X_new, tmp_path / "m.npz")


def test_precomputed_knn_and_odd_attributes_round_trip(data, tmp_path):
    X, X_new = data
    from ardr.graph.neighbors import exact_knn

    knn = exact_knn(X, 14)
    est = ardr.UMAP(n_epochs=20, random_state=0, precomputed_knn=knn).fit(X)
    est.extra_ = {"nan": float("nan"), "inf": -np.inf, "scalar": np.float32(1.5), "names": np.array(["a", "b"],
                  dtype=object), "nested": [(1, "x"), {"k": None}], "csc": sp.random(5, 4, density=0.5,
                  format="csc", random_state=0), "array": sp.csr_array(np.eye(3)), "big": 2**70,
                  "np64": np.float64(0.1), "npstr": np.str_("s"), "npbool": np.bool_(True)}
    loaded = _round_trip(est, X_new, tmp_path / "m.npz")
    assert loaded.precomputed_knn[0].dtype == knn[0].dtype


def test_estimator_given_as_a_parameter_round_trips(data, tmp_path):
    """DKLLE can reuse a fitted UMAP's graph: the UMAP is saved inside the DKLLE's file."""
    from ardr.methods.registry import METHODS

    if "dklle" not in available():
        pytest.skip("no DKLLE in this installation")
    X, X_new = data
    umap = ardr.UMAP(n_epochs=20, random_state=0).fit(X[:150])
    est = estimator_class("dklle")(precomputed_graph=umap, max_iter=3, random_state=0).fit(X[:150])
    loaded = _round_trip(est, X_new, tmp_path / "m.npz")
    assert METHODS["umap"] == io.class_path(type(loaded.precomputed_graph))
    assert_same(loaded.precomputed_graph.transform(X_new), umap.transform(X_new))


def test_compressed_file_is_smaller_and_loads_the_same(umap_model, data, tmp_path):
    io.save(umap_model, tmp_path / "plain.npz")
    io.save(umap_model, tmp_path / "small.npz", compress=True)
    assert (tmp_path / "small.npz").stat().st_size < (tmp_path / "plain.npz").stat().st_size
    assert_same(ardr.load(tmp_path / "small.npz").transform(data[1]), umap_model.transform(data[1]))


def test_save_mixin_delegates(umap_model, data, tmp_path):
    io.SaveMixin.save(umap_model, tmp_path / "m.npz")
    assert_same(ardr.load(tmp_path / "m.npz").embedding_, umap_model.embedding_)


def test_what_cannot_be_saved(umap_model, tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        io.save(ardr.UMAP(), tmp_path / "m.npz")
    from sklearn.decomposition import PCA

    with pytest.raises(ValueError, match="only ardr estimators"):
        io.save(PCA().fit(np.eye(3)), tmp_path / "m.npz")
    est = ardr.UMAP(n_epochs=5, random_state=0).fit(np.random.default_rng(0).normal(size=(20, 3)))
    est.callback_ = print
    with pytest.raises(ValueError, match="state.callback_"):
        io.save(est, tmp_path / "m.npz")
    est.callback_ = np.array([print, len], dtype=object)
    with pytest.raises(ValueError, match="object array"):
        io.save(est, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ refused files


def _rewrite(path, edit_header=None, extra=None, replace=None, edit_text=None):
    """Rebuild a model archive with an edited header, extra members or replaced members."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if edit_header is not None or edit_text is not None:
        import io as stdio

        header = json.loads(np.load(stdio.BytesIO(members["__header__.npy"])).tobytes())
        if edit_header is not None:
            edit_header(header)
        text = json.dumps(header)
        if edit_text is not None:
            text = edit_text(text)
        buf = stdio.BytesIO()
        np.save(buf, np.frombuffer(text.encode(), dtype=np.uint8))
        members["__header__.npy"] = buf.getvalue()
    members.update(replace or {})
    members.update(extra or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)


def _pickled_object_array(marker):
    """.npy bytes of an object array whose unpickling would create ``marker``."""
    import io as stdio

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = stdio.BytesIO()
    np.save(buf, np.array([Trap()], dtype=object), allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize("where", ["extra member", "replaced array"])
def test_file_with_a_pickle_is_refused_without_unpickling(model_file, tmp_path, where):
    marker = tmp_path / "pwned"
    raw = _pickled_object_array(marker)
    if where == "extra member":
        _rewrite(model_file, extra={"evil.npy": raw})
    else:
        _rewrite(model_file, replace={"state.embedding_.npy": raw})
    with pytest.raises(ValueError, match="pickled object array"):
        ardr.load(model_file)
    assert not marker.exists()


def test_newer_format_version_is_refused(model_file):
    _rewrite(model_file, edit_header=lambda h: h.update(format_version=io.FORMAT_VERSION + 1,
                                                        ardr_version="99.0"))
    with pytest.raises(ValueError, match=r"format version 2 \(written by ardr 99.0\).*upgrade ardr"):
        ardr.load(model_file)


def test_file_naming_the_class_where_ardr_0_1_kept_it_loads(model_file, umap_model, data):
    # ardr 0.1.0 kept UMAP in ardr.estimators; its files still load, and transform the same
    _rewrite(model_file, edit_header=lambda h: h.update({"class": "ardr.estimators:UMAP"}))
    loaded = ardr.load(model_file)
    assert type(loaded) is type(umap_model)
    assert_same(loaded.transform(data[1]), umap_model.transform(data[1]))


@pytest.mark.parametrize("cls", ["os:system", "sklearn.decomposition:PCA", "ardr.io:SaveMixin",
                                 "ardr.methods.neighbor_embedding:UMAP.__init__"])
def test_class_that_is_not_an_ardr_estimator_is_refused(model_file, cls):
    _rewrite(model_file, edit_header=lambda h: h.update({"class": cls}))
    with pytest.raises(ValueError, match="not an ardr estimator"):
        ardr.load(model_file)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda h: h.update(format="something-else"), "not an ardr model file"),
        (lambda h: h.update(format_version="1"), "invalid format version"),
        (lambda h: h["state"].update(embedding_={"type": "array", "key": "nope"}), "missing array 'nope'"),
        (lambda h: h["state"].update(embedding_={"type": "pickle", "key": "x"}), "unknown type 'pickle'"),
        (lambda h: h.update(fitted=h["fitted"] + ["__class__"]), "invalid attribute"),
        (lambda h: h.update(fitted=h["fitted"] + ["missing_"]), "malformed header"),
        (lambda h: h["params"].update(precomputed_knn={"type": "estimator", **copy.deepcopy(
            {k: h[k] for k in ("params", "fitted", "private", "state")}), "class": "sklearn.pipeline:Pipeline"}),
         "not an ardr estimator"),
        (lambda h: h.update(private=["__class__"], state={**h["state"], "__class__": 1}), "invalid attribute"),
        (lambda h: h["params"].update(no_such_param=1), "does not take"),
    ],
)
def test_malformed_header_is_refused(model_file, edit, match):
    _rewrite(model_file, edit_header=edit)
    with pytest.raises(ValueError, match=match):
        ardr.load(model_file)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "{", '"\\x"', "NaN", "-Infinity"])
def test_hostile_header_text_is_refused(model_file, text):
    def edit(header_text):
        edited = re.sub(r'"n_features_in_": \d+', lambda m: f'"n_features_in_": {text}', header_text)
        assert edited != header_text
        return edited

    _rewrite(model_file, edit_text=edit)
    with pytest.raises(ValueError, match="corrupted|malformed"):
        ardr.load(model_file)


@pytest.mark.parametrize("obj", [
    {"type": "object", "class": "os:system", "items": {}},
    {"type": "object", "class": "ardr.io:SaveMixin", "items": {}},
    {"type": "object", "class": "ardr.methods.classical_exact:LandmarkMap", "items": {"__class__": 1}},
])
def test_helper_objects_outside_the_allow_list_are_refused(model_file, obj):
    _rewrite(model_file, edit_header=lambda h: h["state"].update(a_=obj))
    with pytest.raises(ValueError, match="refusing to load"):
        ardr.load(model_file)


@pytest.mark.parametrize("pos,mask", [(126, 0x08), (21, 0x10)])
def test_npy_header_that_breaks_numpys_parser_is_refused(model_file, pos, mask):
    """numpy's .npy header parser raises tokenize.TokenError or SyntaxError on some damage."""
    with zipfile.ZipFile(model_file) as zf:
        raw = bytearray(zf.read("state.embedding_.npy"))
    raw[pos] ^= mask
    _rewrite(model_file, replace={"state.embedding_.npy": bytes(raw)})
    with pytest.raises(ValueError, match="corrupted"):
        ardr.load(model_file)


def test_sparse_parts_out_of_range_are_refused(model_file):
    import io as stdio

    buf = stdio.BytesIO()
    with zipfile.ZipFile(model_file) as zf:
        indices = np.load(stdio.BytesIO(zf.read("state.graph_.indices.npy")))
    np.save(buf, indices + 10_000)
    _rewrite(model_file, replace={"state.graph_.indices.npy": buf.getvalue()})
    with pytest.raises(ValueError, match="corrupted"):
        ardr.load(model_file)


@pytest.mark.parametrize("keep", [0.0, 0.02, 0.3, 0.6, 0.95, 0.999])
def test_truncated_file_is_refused(model_file, keep):
    raw = model_file.read_bytes()
    model_file.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ValueError, match="corrupted or truncated|empty file|not an ardr model file"):
        ardr.load(model_file)


def _structure_bytes(path):
    """Offsets of the zip headers, each member's .npy header and the central directory."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        start_of_directory = zf.start_dir
    offsets = []
    for info in infos:
        data_start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20  # zip64 extra
        offsets += range(info.header_offset, data_start + 128)  # zip local header + .npy header
    return sorted(set(offsets) | set(range(start_of_directory, path.stat().st_size)))


def test_every_flipped_byte_is_refused_or_harmless(model_file, umap_model, tmp_path):
    """Damage the file byte by byte (a third of the bytes of the zip and .npy headers, a
    sample elsewhere): each load raises ValueError or gives back the same model (a flip
    in metadata nothing reads, like a timestamp)."""
    est = copy.copy(umap_model)
    est.timings_ = {"total": 1.0}  # a file layout that does not depend on the clock
    path = tmp_path / "fixed.npz"
    io.save(est, path)
    raw = bytes(path.read_bytes())
    structure = _structure_bytes(path)  # every third byte, with one mask or the other
    flips = [(pos, 0xFF) for pos in structure[::3]] + [(pos, 0x01) for pos in structure[1::3]]
    flips += [(int(pos), 0xFF) for pos in np.linspace(0, len(raw) - 1, 200)]
    refused = 0
    for pos, mask in flips:
        damaged = bytearray(raw)
        damaged[pos] ^= mask
        path.write_bytes(bytes(damaged))
        try:
            loaded = ardr.load(path)
        except ValueError:
            refused += 1
            continue
        for name in io.fitted_attribute_names(est) + io.saved_state_names(type(est)):
            assert_same(getattr(est, name), getattr(loaded, name), f"byte {pos} ^ {mask:#x}: {name}")
    assert refused > 0.6 * len(flips)  # most damage is caught, the rest changed nothing


def test_not_a_model_file(tmp_path):
    np.savez(tmp_path / "plain.npz", X=np.zeros(3))
    with pytest.raises(ValueError, match="no __header__"):
        ardr.load(tmp_path / "plain.npz")
    (tmp_path / "t.npz").write_text("hello")
    with pytest.raises(ValueError, match="not an ardr model file: it holds text"):
        ardr.load(tmp_path / "t.npz")
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(ValueError, match="holds a NumPy .npy array"):
        ardr.load(tmp_path / "a.npy")
    with pytest.raises(ValueError, match="not found"):
        ardr.load(tmp_path / "missing.npz")


# ------------------------------------------------------------------ atomic writes


def test_failed_save_leaves_no_file_and_keeps_the_old_one(umap_model, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    calls = []

    def failing(f, arr, **kwargs):
        calls.append(arr.shape)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(f, arr, **kwargs)

    real = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        io.save(umap_model, path)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"previous model")
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        io.save(umap_model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"] and path.read_bytes() == b"previous model"


def test_save_into_a_missing_folder_is_a_clear_error(umap_model, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        io.save(umap_model, tmp_path / "nope" / "m.npz")


# ----------------------------------------------------------------------------- CLI


def _embed(out, *extra):
    return main(["embed", "--dataset", "digits", "--n-samples", "200", "--n-epochs", "20", "--seed", "3",
                 "--out", str(out), "--quiet", "--no-metrics", *extra])


@pytest.mark.parametrize("inside", [True, False])
def test_cli_save_model(tmp_path, inside):
    out = tmp_path / "out"
    model = (out / "models" / "m.npz") if inside else (tmp_path / "m.npz")
    assert _embed(out, "--save-model", str(model)) == 0
    loaded = ardr.load(model)
    assert isinstance(loaded, ardr.UMAP) and loaded.random_state == 3
    np.testing.assert_array_equal(loaded.embedding_, np.load(out / "embedding.npy"))
    assert json.loads((out / "report.json").read_text())["model"] == str(model)
    X, _ = ardr.datasets.load("digits", n_samples=200, random_state=3)
    assert loaded.transform(X[:5]).shape == (5, 2)
    assert not [p for p in tmp_path.rglob(".*")], "temporary files left behind"


@pytest.mark.parametrize("inside", [True, False])
def test_cli_failed_run_writes_no_model(tmp_path, monkeypatch, inside):
    import ardr.plot

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ardr.plot, "save_embedding_plot", broken)
    out = tmp_path / "out"
    model = (out / "m.npz") if inside else (tmp_path / "m.npz")
    assert _embed(out, "--save-model", str(model)) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_model_path_fails_before_fitting(tmp_path, capsys, monkeypatch):
    import ardr.methods.registry

    monkeypatch.setattr(ardr.methods.registry, "make_estimator", lambda *a, **k: pytest.fail("fitted anyway"))
    for target, match in ((tmp_path / "nope" / "m.npz", "does not exist"),
                          (tmp_path / "out" / "report.json", "would overwrite"),
                          (tmp_path, "is a folder"), (tmp_path / "out", "is a folder")):
        assert _embed(tmp_path / "out", "--save-model", str(target)) == 1
        assert match in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- input file content


@pytest.mark.parametrize(
    "name,write,match",
    [
        ("X.npy", lambda p: p.write_text("1,2\n3,4\n"), "is not a .npy file: it holds text starting '1,2'"),
        ("X.npy", lambda p: np.savez(p.with_suffix(".tmp.npz"), X=np.eye(2)) or
         p.with_suffix(".tmp.npz").rename(p), "is not a .npy file: it holds a zip archive"),
        ("X.npz", lambda p: p.write_bytes(_npy_bytes(np.eye(2))), "is not a .npz file: it holds a NumPy .npy"),
        ("X.npz", lambda p: p.write_bytes(b"PK\x03\x04garbage"), "damaged zip|not a valid .npz"),
        ("X.csv", lambda p: p.write_bytes(_npy_bytes(np.eye(2))), "is not a .csv file: it holds a NumPy .npy"),
        ("X.csv", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"), "is not a .csv file: it holds a PNG"),
        ("X.csv", lambda p: p.write_bytes(bytes(range(256)) * 4), "is not a .csv file: it holds binary data"),
        ("X.npy", lambda p: p.write_bytes(b""), "is empty"),
        ("X.npy", lambda p: p.write_bytes(_npy_bytes(np.array([{}, 1], dtype=object))), "pickled object array"),
        ("X.npz", lambda p: np.savez(p, X=np.array([{}, 1], dtype=object)), "pickled object array"),
        ("X.parquet", lambda p: p.write_bytes(b"PAR1...."), "unsupported extension '.parquet'"),
    ],
)
def test_input_file_content_is_checked(tmp_path, name, write, match):
    path = tmp_path / name
    write(path)
    with pytest.raises(ValueError, match=match) as exc:
        load_matrix(path)
    assert str(path) in str(exc.value)


def _npy_bytes(arr):
    import io as stdio

    buf = stdio.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_good_input_files_still_load(tmp_path):
    X = np.arange(6.0).reshape(3, 2)
    (tmp_path / "bom.csv").write_text("\ufeffa,b\n0,1\n2,3\n4,5\n", encoding="utf-8")
    np.testing.assert_array_equal(load_matrix(tmp_path / "bom.csv"), X)
    (tmp_path / "plain.csv").write_text("0,1\n2,3\n4,5\n")
    np.testing.assert_array_equal(load_matrix(tmp_path / "plain.csv"), X)
    np.save(tmp_path / "X.npy", X)
    np.testing.assert_array_equal(load_matrix(tmp_path / "X.npy"), X)
    np.savez(tmp_path / "X.npz", data=X)
    np.testing.assert_array_equal(load_matrix(tmp_path / "X.npz"), X)


def test_cli_reports_a_mislabelled_input_file(tmp_path, capsys):
    (tmp_path / "X.npz").write_text("0,1\n2,3\n")
    assert main(["embed", "--input", str(tmp_path / "X.npz"), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "X.npz is not a .npz file: it holds text" in err and not (tmp_path / "out").exists()
