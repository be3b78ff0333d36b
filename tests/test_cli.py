import json
import subprocess
import sys

import numpy as np
import pytest

from ardr.cli import main


def test_embed_dataset_writes_all_outputs(tmp_path):
    out = tmp_path / "out"
    assert main(["embed", "--dataset", "digits", "--n-samples", "500", "--method", "umap", "--seed", "1",
                 "--out", str(out), "--quiet", "--n-epochs", "100"]) == 0
    Y = np.load(out / "embedding.npy")
    assert Y.shape == (500, 2) and np.isfinite(Y).all()
    assert (out / "embedding.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    assert report["method"] == "umap" and report["n_samples"] == 500
    assert report["metrics"]["knn_accuracy"] > 0.9 and report["metrics"]["trustworthiness"] > 0.9
    assert {"fit_knn", "fit_graph", "fit_optimize", "metrics", "total"} <= set(report["timings"])
    assert sorted(p.name for p in out.iterdir()) == ["embedding.npy", "embedding.png", "report.json"]


def test_embed_input_file_with_labels_tsne(tmp_path, digits):
    X, y = digits
    np.save(tmp_path / "X.npy", X[:300])
    np.savetxt(tmp_path / "y.csv", y[:300], delimiter=",")
    out = tmp_path / "o"
    assert main(["embed", "--input", str(tmp_path / "X.npy"), "--labels", str(tmp_path / "y.csv"),
                 "--method", "tsne", "--n-epochs", "200", "--out", str(out), "--quiet"]) == 0
    assert np.load(out / "embedding.npy").shape == (300, 2)


@pytest.mark.parametrize(
    "setup,match",
    [
        (lambda d: np.save(d / "X.npy", np.full((20, 3), np.nan)), "NaN"),
        (lambda d: (d / "X.npy").write_text("not an array"), "X.npy"),
        (lambda d: np.save(d / "X.npy", np.zeros((20, 3))) or np.save(d / "y.npy", np.zeros(5)), "labels"),
    ],
)
def test_errors_are_one_line_and_write_nothing(tmp_path, capsys, setup, match):
    setup(tmp_path)
    args = ["embed", "--input", str(tmp_path / "X.npy"), "--out", str(tmp_path / "out"), "--quiet"]
    if (tmp_path / "y.npy").exists():
        args += ["--labels", str(tmp_path / "y.npy")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ardr: error:") and match in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_failed_run_leaves_existing_folder_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    import ardr.plot

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ardr.plot, "save_embedding_plot", broken)
    assert main(["embed", "--dataset", "digits", "--n-samples", "200", "--n-epochs", "20", "--out", str(out),
                 "--quiet", "--no-metrics"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_unknown_dataset_and_usage_errors(tmp_path, capsys):
    assert main(["embed", "--dataset", "nope", "--out", str(tmp_path / "x")]) == 1
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["embed", "--dataset", "digits", "--method", "magic", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2


def test_console_script_runs():
    run = subprocess.run([sys.executable, "-m", "ardr", "embed", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--method" in run.stdout


def test_option_the_method_does_not_take_is_an_error(tmp_path, capsys):
    assert main(["embed", "--dataset", "digits", "--method", "umap", "--perplexity", "10",
                 "--out", str(tmp_path / "x")]) == 1
    assert "does not take --perplexity" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ input files, transform, version
def _digits_table(tmp_path, digits, n=200, name="d.csv", delimiter=",", decimal_comma=False, opener=open):
    X, y = digits
    header = delimiter.join([f"px{j}" for j in range(X.shape[1])] + ["label"])
    rows = []
    for x, label in zip(X[:n], y[:n]):
        cells = [f"{v:.1f}".replace(".", ",") if decimal_comma else f"{v:g}" for v in x]
        rows.append(delimiter.join(cells + [f"digit{label}"]))
    path = tmp_path / name
    with opener(path, "wt") as f:
        f.write(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("name,delimiter,decimal_comma,compressed", [
    ("d.csv", ",", False, False), ("d.csv.gz", ",", False, True), ("d.tsv", "\t", False, False),
    ("d.csv", ";", True, False)], ids=["csv", "csv.gz", "tsv", "semicolon-decimal-comma"])
def test_table_with_a_label_column(tmp_path, digits, name, delimiter, decimal_comma, compressed):
    import gzip

    from ardr.cli._common import load_input

    path = _digits_table(tmp_path, digits, name=name, delimiter=delimiter, decimal_comma=decimal_comma,
                         opener=gzip.open if compressed else open)
    X, y = load_input(path, "label")
    assert X.shape == (200, 64) and np.array_equal(X, digits[0][:200])  # the label is not a feature
    assert list(y[:3]) == [f"digit{v}" for v in digits[1][:3]]
    assert load_input(path, "64")[0].shape == (200, 64)  # the same column by index
    with pytest.raises(ValueError, match="no such column.*columns are px0, px1"):
        load_input(path, "species")
    with pytest.raises(ValueError, match="name it with --labels COLUMN"):
        load_input(path)  # the label column read as a feature is refused, not misread


def test_embed_then_transform_with_the_saved_model(tmp_path, digits):
    path = _digits_table(tmp_path, digits)
    out, model = tmp_path / "out", tmp_path / "pca.npz"
    assert main(["embed", "--input", str(path), "--labels", "label", "--method", "pca", "--n-components", "2",
                 "--out", str(out), "--save-model", str(model), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n_features"] == 64 and report["metrics"]["knn_accuracy"] > 0.5
    new = tmp_path / "new.npy"
    assert main(["transform", "--model", str(model), "--input", str(path), "--labels", "label",
                 "--out", str(new)]) == 0
    assert np.allclose(np.load(new), np.load(out / "embedding.npy"), atol=1e-4)
    assert main(["transform", "--model", str(model), "--input", str(path), "--out", str(tmp_path / "n.csv")]) == 1


def test_sparse_npz_is_read_as_a_matrix(tmp_path, digits):
    import scipy.sparse as sp

    from ardr.cli._common import load_input

    sp.save_npz(tmp_path / "X.npz", sp.csr_matrix(digits[0][:100]))
    X, _ = load_input(tmp_path / "X.npz")
    assert sp.issparse(X) and X.shape == (100, 64) and np.array_equal(X.toarray(), digits[0][:100])
    assert main(["embed", "--input", str(tmp_path / "X.npz"), "--method", "pca", "--out", str(tmp_path / "o"),
                 "--quiet", "--no-metrics"]) == 0
    assert np.load(tmp_path / "o" / "embedding.npy").shape == (100, 2)


def test_version(capsys):
    import ardr

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"ardr {ardr.__version__}"
