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
