"""``ardr.explain.explain`` and ``ardr explain``: what a picture can and cannot say, checked
against cases of known truth (small versions of benchmarks/explain_truth.py), the
report.json contract, the HTML page in a real browser, and bad input."""

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import ardr
from ardr.cli import main
from ardr.experiments import explain_cases as cases
from ardr.explain import groups as grp, metrics, outliers, scales, tears
from ardr.explain.explanation import explain
from ardr.explain.neighbourhoods import find_neighbourhoods

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.usefixtures("one_numba_thread")
QUICK = {"n_boot": 60}


# ------------------------------------------------------------------ known truth

@pytest.fixture(scope="module")
def designed():
    return cases.designed_clusters(n_per=120, dim=12, seed=0)


@pytest.fixture(scope="module")
def designed_reports(designed):
    return {name: explain(designed.X, Y, designed.labels, **QUICK) for name, Y in designed.pictures.items()}


def _flagged(report, kind):
    return sorted(g["name"] for g in report.groups if g["verdict"] == kind)


def _pairs(report, verdict):
    return sorted((p["a"], p["b"]) for p in report.pairs if p["verdict"] == verdict)


def test_a_faithful_layout_gets_no_distortion_verdict(designed_reports):
    faithful = designed_reports["faithful"]
    assert all(g["verdict"] == "faithful" for g in faithful.groups)
    assert all(p["verdict"] == "faithful" for p in faithful.pairs)
    assert all(m["verdict"] == "faithful" for m in faithful.mixing)
    assert faithful.tears["false_gaps"] == 0 and faithful.outliers == 0
    assert any("Sizes can be read" in line for line in faithful.reading)
    assert any("Distances between groups can be read" in line for line in faithful.reading)


def test_a_group_shrunk_five_times_is_flagged_and_named(designed_reports):
    report = designed_reports["F shrunk 5x"]
    assert _flagged(report, "shrunk") == ["F"] and _flagged(report, "inflated") == []
    row = next(g for g in report.groups if g["name"] == "F")
    assert 0.15 < row["size_ratio"] < 0.25 and row["interval"][1] < 0.5
    assert any("shrinks 'F'" in line for line in report.reading)


def test_every_pair_distorted_beyond_2x_is_flagged_and_no_other(designed, designed_reports):
    for picture in ("faithful", "F shrunk 5x", "B and E swapped"):
        truth = cases.designed_pair_ratios(designed, picture)
        report = designed_reports[picture]
        for p in report.pairs:
            true_ratio = truth[(p["a"], p["b"])]
            expected = "too close" if true_ratio < 0.5 else "too far" if true_ratio > 2 else "faithful"
            assert p["verdict"] == expected, (picture, p, true_ratio)
            assert p["ratio"] == pytest.approx(true_ratio, rel=0.15)
    assert _pairs(designed_reports["B and E swapped"], "too far") == [("A", "B")]
    assert _pairs(designed_reports["B and E swapped"], "too close") == [("A", "E")]


def test_pca_of_the_designed_clusters_draws_the_close_pairs_together(designed_reports):
    report = designed_reports["PCA"]
    assert _pairs(report, "too close") == [("A", "B"), ("C", "D")]
    assert report.law["name"] == "linear" and report.law["how"] == "detected"
    merged = sorted((m["a"], m["b"]) for m in report.mixing if m["verdict"] == "merged")
    assert merged == [("A", "B"), ("C", "D")]
    assert report.tears["picture_pieces"] < report.tears["input_components"]
    assert len(report.tears["merged_components"]) == 2
    assert any("merges 'C' and 'D'" in line or "merges 'A' and 'B'" in line for line in report.reading)


def test_linked_is_the_number_of_input_graph_edges_between_two_groups(designed, designed_reports):
    from sklearn.neighbors import NearestNeighbors

    X, labels = designed.X, designed.labels
    nn = NearestNeighbors(n_neighbors=16).fit(X).kneighbors(return_distance=False)[:, :15]
    edges = {(min(i, j), max(i, j)) for i in range(len(X)) for j in nn[i][:15]}
    for p in designed_reports["faithful"].pairs:
        truth = sum(1 for i, j in edges if {labels[i], labels[j]} == {p["a"], p["b"]})
        assert p["linked"] == truth


def test_a_torn_curve_has_false_gaps_and_the_intact_one_has_none():
    X, t = cases.curve(n=600, dim=12, seed=1)
    torn = explain(X, cases.drawn_curve(t, n_tears=5), **QUICK)
    intact = explain(X, cases.drawn_curve(t, n_tears=0), **QUICK)
    assert torn.tears["picture_pieces"] == 6 and torn.tears["false_gaps"] == 5
    assert torn.tears["input_components"] == 1 and torn.tears["stretched_edges"] > 0
    assert any("false gaps" in line for line in torn.reading)
    assert intact.tears["picture_pieces"] == 1 and intact.tears["false_gaps"] == 0
    assert intact.tears["stretched_edges"] == 0
    assert any("shows no gap" in line for line in intact.reading)


def test_one_blob_cut_in_two_is_named_a_false_split():
    case = cases.split_blob(n=500, dim=8)
    split = explain(case.X, case.pictures["split"], case.labels, **QUICK)
    intact = explain(case.X, case.pictures["intact"], case.labels, **QUICK)
    assert split.tears["false_gaps"] == 1 and intact.tears["false_gaps"] == 0
    assert [m["verdict"] for m in split.mixing] == ["separated"]
    assert split.separation["knn_accuracy_picture"] > split.separation["knn_accuracy_input"] + 0.05
    assert any("separates 'left half' and 'right half' more than the data do" in line for line in split.reading)


def test_unlinked_groups_are_said_to_be_placed_arbitrarily_by_umap(one_numba_thread):
    X, labels = cases.unlinked_clusters(n_per=80, dim=8)
    umap = ardr.UMAP(n_epochs=100, random_state=0, n_jobs=1).fit(X)
    report = explain(X, umap.embedding_, labels, law=umap, **QUICK)
    assert report.law == {"name": "umap", "how": "estimator", "median_residual": report.law["median_residual"]}
    assert all(p["linked"] == 0 for p in report.pairs)
    assert report.tears["false_gaps"] == 0
    assert any("share no input neighbour" in line and "not by the data" in line for line in report.reading)


# ------------------------------------------------------------------ the measures themselves

@pytest.fixture(scope="module")
def untied(digits):
    """Digits with a 1e-6 jitter (no tied input distances) and its 2-D PCA projection."""
    X, y = digits
    X = X.astype(np.float64) + 1e-6 * np.random.default_rng(0).standard_normal(X.shape)
    return X, PCA(n_components=2, random_state=0).fit_transform(X), y


def test_rank_pass_equals_the_metrics_module_on_untied_data(untied):
    X, Y, _ = untied
    X, Y = X[:500], Y[:500]
    ranks = scales.rank_pass(X, Y, np.arange(500), k=10, scales=(10, 50))
    assert ranks["trustworthiness"] == pytest.approx(metrics.trustworthiness(X, Y, 10), abs=1e-9)
    assert ranks["continuity"] == pytest.approx(metrics.continuity(X, Y, 10), abs=1e-9)
    assert ranks["knn_overlap"] == pytest.approx(metrics.knn_overlap(X, Y, 10), abs=1e-9)
    # recall at s by brute force
    from scipy.spatial.distance import cdist

    dx, dy = cdist(X, X), cdist(Y, Y)
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dy, np.inf)
    near_x, near_y = np.argsort(dx, axis=1)[:, :50], np.argsort(dy, axis=1)[:, :50]
    brute = np.mean([len(set(a) & set(b)) / 50 for a, b in zip(near_x, near_y)])
    assert ranks["recall"][50] == pytest.approx(brute, abs=1e-9)


def test_intrinsic_dimension_of_known_manifolds():
    rng = np.random.default_rng(0)
    for d in (1, 3, 6):
        Z = rng.uniform(size=(3000, d))
        X = Z @ rng.standard_normal((d, 20))  # a d-dimensional flat piece of 20-D space
        dist = find_neighbourhoods(X, X[:, :2], 15).input_distances
        assert scales.intrinsic_dimension(dist) == pytest.approx(d, rel=0.2)


def test_leave_one_out_knn_accuracy_matches_scikit_learn(digits):
    X, y = digits
    X = X[:400] + 1e-6 * np.random.default_rng(0).standard_normal((400, X.shape[1]))
    neigh = find_neighbourhoods(X, X[:, :2], 15)
    ours = grp.knn_accuracy(neigh.input_indices, y[:400])
    model = KNeighborsClassifier(n_neighbors=5)
    theirs = cross_val_score(model, X, y[:400], cv=LeaveOneOut()).mean()
    assert abs(ours - theirs) <= 2 / 400  # tie-breaking differs on at most a few points


def test_bootstrap_medians_are_the_group_medians_with_unit_weights():
    codes = np.repeat([0, 1], [7, 10])
    groups = grp.Groups(codes, ["a", "b"], "labels", "")
    boot = grp._Bootstrap(groups, 5, 0)
    boot.counts = [np.ones_like(c) for c in boot.counts]
    values = np.random.default_rng(0).standard_normal(17)
    medians = boot.medians(values)
    for g in (0, 1):
        members = values[codes == g]
        assert medians[0, g] == np.sort(members)[(len(members) - 1) // 2]  # lower median


def test_flung_out_points_are_far_in_the_picture_only():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 5))
    X[0] *= 50  # an input outlier, drawn far out too: faithful
    Y = X[:, :2].copy()
    Y[1] = [400.0, 0.0]  # a flung point
    flung, radius = outliers.flung_out(X, Y)
    assert np.flatnonzero(flung).tolist() == [1] and radius[1] > 3
    (x0, x1), _ = outliers.frame(Y)[0]
    assert x1 < 50  # the frame holds the body, not the flung point


def test_islands_of_separate_blobs_and_of_one_cloud():
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.standard_normal((200, 2)) + c for c in ([0, 0], [30, 0], [0, 30])])
    dist = find_neighbourhoods(blobs, blobs, 15).picture_distances
    island, count, _ = tears.picture_islands(blobs, dist)
    assert count == 3 and (island >= 0).all()
    cloud = rng.standard_normal((600, 2))
    island, count, _ = tears.picture_islands(cloud, find_neighbourhoods(cloud, cloud, 15).picture_distances)
    assert count == 1


def test_class_names_are_accepted_as_labels(designed):
    names = np.array([f"group {c}" for c in designed.labels], dtype=object)
    report = explain(designed.X, designed.pictures["faithful"], names, **QUICK)
    assert sorted(g["name"] for g in report.groups) == [f"group {c}" for c in "ABCDEF"]


def test_same_seed_same_report(designed):
    a = explain(designed.X, designed.pictures["PCA"], designed.labels, **QUICK).to_dict()
    b = explain(designed.X, designed.pictures["PCA"], designed.labels, **QUICK).to_dict()
    a.pop("timings"), b.pop("timings")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# ------------------------------------------------------------------ report.json and the CLI

@pytest.fixture(scope="module")
def cli_report(tmp_path_factory, designed):
    folder = tmp_path_factory.mktemp("explain")
    np.save(folder / "X.npy", designed.X)
    np.save(folder / "Y.npy", designed.pictures["B and E swapped"])
    np.save(folder / "y.npy", designed.labels.astype("U1"))
    out = folder / "out"
    assert main(["explain", "--input", str(folder / "X.npy"), "--embedding", str(folder / "Y.npy"),
                 "--labels", str(folder / "y.npy"), "--out", str(out)]) == 0
    return out


def test_report_json_keeps_its_keys_and_adds_the_contract(cli_report):
    assert sorted(p.name for p in cli_report.iterdir()) == ["pointwise.csv", "report.html", "report.json"]
    report = json.loads((cli_report / "report.json").read_text())
    for key in ("ardr_version", "input", "embedding", "labels", "law", "metrics", "reading", "timings"):
        assert key in report
    assert isinstance(report["law"], str)
    for g in report["groups"]:
        assert {"name", "n", "spread_input", "spread_picture", "size_ratio", "verdict"} <= set(g)
        assert g["verdict"] in ("faithful", "shrunk", "inflated")
    for p in report["pairs"]:
        assert {"a", "b", "separation_input", "separation_picture", "ratio", "verdict", "linked"} <= set(p)
        assert p["verdict"] in ("faithful", "too close", "too far") and isinstance(p["linked"], int)
    assert {"stretched_edges", "input_components", "picture_pieces", "false_gaps"} <= set(report["tears"])
    assert set(report["separation"]) >= {"knn_accuracy_input", "knn_accuracy_picture"}
    assert isinstance(report["outliers"], int) and all(isinstance(s, str) for s in report["reading"])
    for key in ("trustworthiness", "continuity", "knn_overlap", "distance_spearman", "knn_accuracy"):
        assert 0 <= report["metrics"][key] <= 1
    table = np.loadtxt(cli_report / "pointwise.csv", delimiter=",", skiprows=1)
    assert table.shape[0] == 720


def test_the_cli_embeds_and_explains_in_one_command(tmp_path):
    out = tmp_path / "out"
    assert main(["explain", "--dataset", "digits", "--n-samples", "300", "--method", "umap",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["embedding.npy", "pointwise.csv", "report.html", "report.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["force_law"]["how"] == "estimator" and report["law"] == "umap"
    assert np.load(out / "embedding.npy").shape == (300, 2)


@pytest.mark.parametrize("setup,match", [
    ("rows", "rows"),
    ("embedding-nan", "embedding"),
    ("labels-length", "labels"),
    ("one-group", "single group"),
    ("input-nan", "NaN"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, setup, match):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((60, 4)), rng.standard_normal((60, 2))
    labels = np.repeat([0, 1], 30)
    if setup == "rows":
        Y = Y[:-2]
    elif setup == "embedding-nan":
        Y[0, 0] = np.nan
    elif setup == "labels-length":
        labels = labels[:-1]
    elif setup == "one-group":
        labels = np.zeros(60)
    elif setup == "input-nan":
        X[3, 1] = np.nan
    for name, array in (("X", X), ("Y", Y), ("y", labels)):
        np.save(tmp_path / f"{name}.npy", array)
    args = ["explain", "--input", str(tmp_path / "X.npy"), "--embedding", str(tmp_path / "Y.npy"),
            "--labels", str(tmp_path / "y.npy"), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ardr: error:") and match in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_the_python_call_refuses_the_same_bad_input():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((60, 4)), rng.standard_normal((60, 2))
    with pytest.raises(ValueError, match="rows"):
        explain(X, Y[:50])
    with pytest.raises(ValueError, match="single group"):
        explain(X, Y, np.zeros(60))
    with pytest.raises(ValueError, match="one per point"):
        explain(X, Y, np.zeros(59))
    with pytest.raises(ValueError, match="law"):
        explain(X, Y, law="pca")


# ------------------------------------------------------------------ the page in a browser

# After the load event, a script writes each image's load status and whether the group
# table and the tears figure are on the page into the DOM, which --dump-dom prints.
_PROBE = """<script>
window.addEventListener("load", function () {
  var status = Array.from(document.images).map(function (img) {
    return img.complete && img.naturalWidth > 0 ? img.naturalWidth + "x" + img.naturalHeight : "broken";
  });
  var groups = document.getElementById("groups").nextElementSibling;
  var tears = Array.from(document.images).filter(function (img) { return img.alt.indexOf("Red:") === 0; });
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images: status, group_rows: groups.rows.length,
                                    tears_loaded: tears.length === 1 && tears[0].naturalWidth > 0});
  document.body.appendChild(out);
});
</script>"""
_BROKEN = '<img src="data:image/png;base64,iVBORw0KGgoAAAAA" alt="a deliberately broken image">'


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless browser check needs Debian's chromium "
                                                    "(/usr/bin/chromium): apt-get install -y chromium")
def test_the_page_shows_the_group_table_and_the_tears_figure_in_chromium(cli_report, tmp_path):
    html = (cli_report / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:|file:|//)', html) and "<script" not in html
    images = re.findall(r'<img src="([^"]*)"', html)
    for uri in images:
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", _BROKEN + _PROBE + "</body>"), encoding="utf-8")
    profile = tmp_path / "profile"
    run = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout)
    assert found, f"no probe output in the dumped DOM (chromium exit {run.returncode}): {run.stderr[-500:]}"
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(probe["images"]) == len(images) + 1 and probe["images"][-1] == "broken"  # the control fails
    assert all(s != "broken" for s in probe["images"][:-1])
    assert probe["group_rows"] == 1 + 6 and probe["tears_loaded"]
