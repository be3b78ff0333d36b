"""``ardr compare``: several methods on one data set and one kNN graph."""

import json

import matplotlib.image
import numpy as np
import pytest

import ardr
from ardr import datasets
from ardr.explain import metrics
from ardr.cli import main
from ardr.methods.registry import available

# umap and tsne always; the classical methods as soon as their modules exist
METHODS = ["umap", "tsne"] + [m for m in ("pca", "isomap", "lle") if m in available()]


pytestmark = pytest.mark.usefixtures("one_numba_thread")


@pytest.fixture(scope="module")
def data():
    """300 digits with a 1e-3 jitter: raw digits have tied distances, and which of several
    tied points is the k-th neighbour may depend on how many neighbours are searched."""
    X, y = datasets.load("digits", n_samples=300, random_state=3)
    return X + 1e-3 * np.random.default_rng(0).standard_normal(X.shape).astype(np.float32), y


@pytest.fixture(scope="module")
def compared(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("compare")
    np.save(folder / "X.npy", data[0])
    np.save(folder / "y.npy", data[1])
    out = folder / "out"
    assert main(["compare", "--input", str(folder / "X.npy"), "--labels", str(folder / "y.npy"), "--seed", "3",
                 "--methods", ",".join(METHODS), "--n-jobs", "1", "--out", str(out), "--quiet"]) == 0
    return out


def test_compare_writes_grid_table_and_embeddings(compared, data):
    names = sorted(p.name for p in compared.iterdir())
    assert names == sorted(["grid.png", "table.md", "table.json"] + [f"embedding_{m}.npy" for m in METHODS])
    grid = matplotlib.image.imread(compared / "grid.png")
    cols = int(np.ceil(np.sqrt(len(METHODS))))
    rows = int(np.ceil(len(METHODS) / cols))
    assert grid.shape[:2] == (460 * rows, 460 * cols)  # one 4.6-inch panel per method at 100 dpi
    table = json.loads((compared / "table.json").read_text())
    assert [row["method"] for row in table["methods"]] == METHODS
    X, y = data
    for row in table["methods"]:
        Y = np.load(compared / f"embedding_{row['method']}.npy")
        assert Y.shape == (300, 2)
        # the table's numbers are ardr.explain.metrics.report of the saved embedding
        expected = metrics.report(X, Y, labels=y, k=10, random_state=3)
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, abs=1e-12)
        assert row["fit_s"] > 0
    markdown = (compared / "table.md").read_text()
    assert all(f"| {m} |" in markdown for m in METHODS) and "trust" in markdown
    by_method = {row["method"]: row for row in table["methods"]}
    assert by_method["umap"]["neighbours"] == by_method["tsne"]["neighbours"] == "shared"
    assert by_method["umap"]["knn_accuracy"] > 0.9 and by_method["tsne"]["knn_accuracy"] > 0.9


def test_shared_neighbours_give_the_methods_own_result(compared, data):
    """The one kNN search (90 neighbours for tSNE) handed to UMAP gives exactly the
    embedding UMAP makes with its own search."""
    X, _ = data
    own = ardr.UMAP(random_state=3, n_jobs=1).fit_transform(X)
    np.testing.assert_array_equal(np.load(compared / "embedding_umap.npy"), own.astype(np.float64))


@pytest.mark.parametrize(
    "methods,match",
    [
        ("umap,magic", "unknown method 'magic'"),
        ("umap,,tsne", "comma-separated"),
        ("umap,umap", "twice"),
        ("fake", "not available"),
    ],
)
def test_bad_method_lists_fail_before_any_work(tmp_path, capsys, monkeypatch, methods, match):
    import ardr.methods.registry

    monkeypatch.setitem(ardr.methods.registry.METHODS, "fake", "ardr.not_written_yet:Fake")
    out = tmp_path / "out"
    assert main(["compare", "--dataset", "digits", "--methods", methods, "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ardr: error:") and match in err and "\n" not in err
    assert not out.exists()


def test_k_too_large_and_labels_of_the_wrong_length(tmp_path, capsys):
    X = np.random.default_rng(0).standard_normal((30, 4))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", np.zeros(12))
    base = ["compare", "--input", str(tmp_path / "X.npy"), "--methods", "umap", "--out", str(tmp_path / "o"),
            "--quiet"]
    assert main(base + ["--k", "15"]) == 1
    assert "--k 15" in capsys.readouterr().err
    assert main(base + ["--labels", str(tmp_path / "y.npy")]) == 1
    assert "labels" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
