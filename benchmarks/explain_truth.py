"""Does ``ardr explain`` tell the truth? Cases of known answer, real data, speed.

    python benchmarks/explain_truth.py --parts synthetic,fmnist10k,fmnist70k,million \
        --out benchmarks/results/explain-truth.json

Parts:
- ``synthetic``: designed clusters (a faithful layout, one group shrunk 5x, two groups
  swapped, PCA, and UMAP's and tSNE's pictures), a smooth curve (UMAP tears it, tSNE
  draws it whole), one blob cut in two and pushed apart, clusters with no input edge
  between them. For each, what the report flagged against the truth, PASS or FAIL.
- ``fmnist10k``: a 10,000-image Fashion-MNIST subset drawn by ardr.UMAP: the class pairs
  the report says the picture merges and compresses most, and the class whose size it
  inverts most, beside the same quantities computed directly here (brute force, other
  code: numpy centroids and medians, scikit-learn's neighbour search).
- ``fmnist70k``: Fashion-MNIST 70,000 x 784: an ardr.UMAP fit and ``explain`` of its
  picture, each in a fresh process, one after the other: seconds and peak memory.
- ``million``: 1,000,000 synthetic 50-D points (20 Gaussian clusters) and their PCA
  picture: explain's seconds and memory, and the sampling the report states.
Every fit and explanation uses seed 0.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------ synthetic cases

def _check(rows, case, picture, what, ok, detail):
    rows.append({"case": case, "picture": picture, "check": what, "pass": bool(ok), "detail": detail})
    print(f"  {'PASS' if ok else 'FAIL'}  {case} / {picture}: {what} -- {detail}")


def synthetic(rows):
    import ardr
    from ardr.experiments import explain_cases as cases
    from ardr.explain import explain

    print("\n== designed clusters (6 groups, 20-D; A-B and C-D close, F 5x wider)")
    c = cases.designed_clusters()
    pictures = dict(c.pictures)
    pictures["UMAP"] = ardr.UMAP(random_state=0).fit_transform(c.X)
    pictures["tSNE"] = ardr.TSNE(random_state=0).fit_transform(c.X)
    for name, Y in pictures.items():
        e = explain(c.X, Y, c.labels)
        shrunk = sorted(g["name"] for g in e.groups if g["verdict"] == "shrunk")
        inflated = sorted(g["name"] for g in e.groups if g["verdict"] == "inflated")
        flagged = {(p["a"], p["b"]): p["verdict"] for p in e.pairs if p["verdict"] != "faithful"}
        sizes = {g["name"]: round(g["size_ratio"], 2) for g in e.groups}
        print(f"  {name}: law {e.law['name']} ({e.law['how']}); size ratios {sizes}; flagged pairs "
              f"{ {k: v for k, v in flagged.items()} }")
        if name in ("faithful", "F shrunk 5x", "B and E swapped"):
            truth = cases.designed_pair_ratios(c, name)
            expected = {pair: ("too close" if r < 0.5 else "too far") for pair, r in truth.items()
                        if r < 0.5 or r > 2}
            _check(rows, "designed", name, "every pair distorted beyond 2x flagged, no other",
                   flagged == expected, f"flagged {flagged}, truth {expected}")
            want_shrunk = ["F"] if name == "F shrunk 5x" else []
            _check(rows, "designed", name, "sizes: the 5x change flagged, no other",
                   shrunk == want_shrunk and not inflated, f"shrunk {shrunk}, inflated {inflated}")
        if name == "faithful":
            _check(rows, "designed", name, "no false alarm (no verdict, no false gap, no mixing verdict)",
                   not flagged and not shrunk and not inflated and e.tears["false_gaps"] == 0
                   and all(m["verdict"] == "faithful" for m in e.mixing), "")
        if name == "PCA":
            close = sorted(k for k, v in flagged.items() if v == "too close")
            _check(rows, "designed", name, "both close pairs drawn on top of each other are 'too close'",
                   close == [("A", "B"), ("C", "D")], f"too close: {close}")
        if name in ("UMAP", "tSNE"):  # not designed: what the method did to F, 5x wider in the input
            f = next(g for g in e.groups if g["name"] == "F")
            print(f"    {name} draws F at {f['size_ratio']:.2f}x its relative input size: {f['verdict']}")
        linked_ok = _linked_matches_brute_force(c.X, c.labels, e)
        _check(rows, "designed", name, "'linked' = input-graph edges between groups (brute force)", linked_ok, "")

    print("\n== a smooth curve in 20-D (1,500 points)")
    X, _ = cases.curve()
    for name, est in (("UMAP", ardr.UMAP(random_state=0)), ("tSNE", ardr.TSNE(random_state=0))):
        Y = est.fit_transform(X)
        e = explain(X, Y, law=est)
        t = e.tears
        says = any("false gaps" in line for line in e.reading)
        print(f"  {name}: islands {t['picture_pieces']}, input components {t['input_components']}, false gaps "
              f"{t['false_gaps']}, stretched links {t['stretched_edges']}")
        if name == "UMAP":
            _check(rows, "curve", name, "torn: false_gaps > 0 and a sentence says so", t["false_gaps"] > 0 and says,
                   f"false gaps {t['false_gaps']}")
        else:
            _check(rows, "curve", name, "intact: no false gap, no stretched link",
                   t["false_gaps"] == 0 and t["stretched_edges"] == 0 and not says, f"false gaps {t['false_gaps']}")

    print("\n== one Gaussian blob (10-D), its PCA, and the same with one half pushed away")
    b = cases.split_blob()
    for name, Y in b.pictures.items():
        e = explain(b.X, Y, b.labels)
        separated = [(m["a"], m["b"]) for m in e.mixing if m["verdict"] == "separated"]
        named = any("separates 'left half' and 'right half' more than the data do" in line for line in e.reading)
        acc = e.separation
        print(f"  {name}: false gaps {e.tears['false_gaps']}, 5-NN accuracy input {acc['knn_accuracy_input']:.3f} "
              f"picture {acc['knn_accuracy_picture']:.3f}, separated {separated}")
        if name == "split":
            _check(rows, "blob", name, "the fake split is named (false gap + separation sentence)",
                   e.tears["false_gaps"] == 1 and named, f"false gaps {e.tears['false_gaps']}")
        else:
            _check(rows, "blob", name, "no false gap", e.tears["false_gaps"] == 0, "")
    e = explain(b.X, b.pictures["split"])  # without labels: groups found in the input
    _check(rows, "blob", "split, no labels", "the split is still a false gap", e.tears["false_gaps"] >= 1,
           f"groups found: {e.group_source['count']}, false gaps {e.tears['false_gaps']}")

    print("\n== four clusters no input edge joins, drawn by UMAP")
    X, labels = cases.unlinked_clusters()
    umap = ardr.UMAP(random_state=0).fit(X)
    e = explain(X, umap.embedding_, labels, law=umap)
    unlinked = sum(p["linked"] == 0 for p in e.pairs)
    says = any("not by the data" in line for line in e.reading)
    _check(rows, "unlinked", "UMAP", "linked is 0 for every pair, and the reading says placement is arbitrary",
           unlinked == len(e.pairs) and says and _linked_matches_brute_force(X, labels, e), f"{unlinked} unlinked")
    _check(rows, "unlinked", "UMAP", "the gaps are real (no false gap)", e.tears["false_gaps"] == 0,
           f"real gaps {e.tears['real_gaps']}")


def _linked_matches_brute_force(X, labels, e):
    from sklearn.neighbors import NearestNeighbors

    k = e.sampling["k_graph"]
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(return_distance=False)
    edges = set()
    for i, row in enumerate(nn):
        for j in [j for j in row if j != i][:k]:
            edges.add((min(i, j), max(i, j)))
    labels = np.asarray(labels)
    for p in e.pairs:
        truth = sum(1 for i, j in edges if {labels[i], labels[j]} == {p["a"], p["b"]} and labels[i] != labels[j])
        if truth != p["linked"]:
            return False
    return True


# ------------------------------------------------------------------ Fashion-MNIST 10k

def fmnist10k(rows):
    import ardr
    from ardr.datasets import class_names
    from ardr.explain import explain
    from sklearn.neighbors import NearestNeighbors

    X, y = ardr.datasets.load("fashion-mnist", n_samples=10_000, random_state=0)
    names = class_names("fashion-mnist", y)
    Y = ardr.UMAP(random_state=0).fit_transform(X)
    t0 = time.perf_counter()
    e = explain(X, Y, names)
    seconds = time.perf_counter() - t0

    # the truth, directly: group medians of distances to centroids, centroid distances
    classes = sorted(set(names))
    Xd, Yd = X.astype(np.float64), Y.astype(np.float64)
    spread = {}
    for space, A in (("input", Xd), ("picture", Yd)):
        values = {c: np.median(np.linalg.norm(A[names == c] - A[names == c].mean(0), axis=1)) for c in classes}
        mid = np.median(list(values.values()))
        spread[space] = {c: v / mid for c, v in values.items()}
    size_ratio = {c: spread["picture"][c] / spread["input"][c] for c in classes}
    cent = {space: {c: A[names == c].mean(0) for c in classes} for space, A in (("input", Xd), ("picture", Yd))}
    pairs = [(a, b) for i, a in enumerate(classes) for b in classes[i + 1:]]
    sep = {space: {p: np.linalg.norm(cent[space][p[0]] - cent[space][p[1]]) for p in pairs} for space in cent}
    sep = {space: {p: v / np.median(list(d.values())) for p, v in d.items()} for space, d in
           ((s, sep[s]) for s in sep)}
    ratio = {p: sep["picture"][p] / sep["input"][p] for p in pairs}
    mixing = {}
    for space, A in (("input", Xd), ("picture", Yd)):
        nn = NearestNeighbors(n_neighbors=11).fit(A).kneighbors(return_distance=False)[:, 1:]
        other = names[nn]
        mixing[space] = {p: (np.sum(other[names == p[0]] == p[1]) + np.sum(other[names == p[1]] == p[0]))
                         / (10 * (np.sum(names == p[0]) + np.sum(names == p[1]))) for p in pairs}
    rank_in = {c: r for r, c in enumerate(sorted(classes, key=lambda c: -spread["input"][c]))}
    rank_pic = {c: r for r, c in enumerate(sorted(classes, key=lambda c: -spread["picture"][c]))}

    reported_ratio = {(p["a"], p["b"]): p["ratio"] for p in e.pairs}
    reported_size = {g["name"]: g["size_ratio"] for g in e.groups}
    compressed = sorted(pairs, key=lambda p: ratio[p])[:3]
    # "merges most": the largest relative increase of mixing among the pairs that pass the
    # report's stated rule on their point estimates (at least 2x, and at least 1 point of
    # neighbours more in the picture); all pairs ranked the same way when none does
    def mixes_more(p):
        return (mixing["picture"][p] >= 2 * mixing["input"][p]
                and mixing["picture"][p] - mixing["input"][p] >= 0.01)

    merged = sorted((p for p in pairs if mixes_more(p)) or pairs,
                    key=lambda p: -mixing["picture"][p] / max(mixing["input"][p], 1e-12))[:3]
    inverted = max(classes, key=lambda c: (abs(rank_in[c] - rank_pic[c]), c))
    print(f"\n== Fashion-MNIST 10k, ardr.UMAP picture (explain {seconds:.1f} s)")
    print("  pairs the picture compresses most (separation ratio: truth | report | verdict):")
    for p in compressed:
        verdict = next(q["verdict"] for q in e.pairs if (q["a"], q["b"]) == p)
        print(f"    {p[0]} - {p[1]}: {ratio[p]:.3f} | {reported_ratio[p]:.3f} | {verdict}")
    print("  pairs the picture merges most (neighbour mixing input -> picture: truth | report):")
    for p in merged:
        rep = next(m for m in e.mixing if (m["a"], m["b"]) == p)
        print(f"    {p[0]} - {p[1]}: {mixing['input'][p]:.3f} -> {mixing['picture'][p]:.3f} | "
              f"{rep['mixing_input']:.3f} -> {rep['mixing_picture']:.3f} ({rep['verdict']})")
    print(f"  size order inverted most: {inverted}: rank {rank_in[inverted] + 1} in the input, "
          f"{rank_pic[inverted] + 1} in the picture; size ratio truth {size_ratio[inverted]:.3f} | report "
          f"{reported_size[inverted]:.3f}")
    reading = " ".join(e.reading)
    print("  reading:")
    for line in e.reading:
        print("   -", line)
    _check(rows, "fmnist10k", "UMAP", "reported ratios equal the direct computation (1e-6)",
           all(abs(reported_ratio[p] - ratio[p]) < 1e-6 for p in pairs)
           and all(abs(reported_size[c] - size_ratio[c]) < 1e-6 for c in classes), "")
    most_compressed = compressed[0]
    _check(rows, "fmnist10k", "UMAP", "the reading names the most compressed pair",
           f"'{most_compressed[0]}'-'{most_compressed[1]}'" in reading, f"{most_compressed}")
    _check(rows, "fmnist10k", "UMAP", "the reading names the class whose size order is inverted most",
           f"'{inverted}' has the" in reading, inverted)
    best = merged[0]
    if mixes_more(best):
        _check(rows, "fmnist10k", "UMAP", "the reading names the most merged pair (computed directly)",
               any(f"merges" in line and f"'{best[0]}'" in line and f"'{best[1]}'" in line for line in e.reading),
               f"{best[0]} - {best[1]}")
    return {"seconds": seconds, "reading": e.reading}


# ------------------------------------------------------------------ timing in fresh processes

_WORKER = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
task = json.loads(sys.argv[1])
import ardr
if task["data"] == "fashion-mnist":
    X, y = ardr.datasets.load("fashion-mnist")
else:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 50)) * 4
    y = rng.integers(0, 20, task["n"])
    X = (centres[y] + rng.standard_normal((task["n"], 50))).astype(np.float32)
out = {}
if task["what"] == "fit":
    t0 = time.perf_counter(); Y = ardr.UMAP(random_state=0).fit_transform(X); out["seconds"] = time.perf_counter() - t0
    np.save(task["picture"], Y)
elif task["what"] == "pca":
    from sklearn.decomposition import PCA
    np.save(task["picture"], PCA(2, random_state=0).fit_transform(X))
else:
    from ardr.explain import explain
    Y = np.load(task["picture"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter(); e = explain(X, Y, y); out["seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter(); e.to_html(); out["html_seconds"] = time.perf_counter() - t0
    out["timings"] = e.timings; out["sampling"] = e.sampling; out["reading"] = e.reading
    out["rss_before_mib"] = before / 1024
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def _run(task):
    run = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(task)], capture_output=True, text=True)
    line = [l for l in run.stdout.splitlines() if l.startswith("RESULT ")]
    if run.returncode or not line:
        raise RuntimeError(f"worker {task} failed: {run.stderr[-2000:]}")
    return json.loads(line[-1][7:])


def fmnist70k(rows, repeats=2):
    picture = "/tmp/ardr-explain-fm70k.npy"
    runs = []
    for r in range(repeats):
        fit = _run({"data": "fashion-mnist", "what": "fit", "picture": picture})
        exp = _run({"data": "fashion-mnist", "what": "explain", "picture": picture})
        runs.append((fit, exp))
        print(f"\n== Fashion-MNIST 70k, run {r + 1}: UMAP fit {fit['seconds']:.1f} s, explain {exp['seconds']:.1f} s "
              f"(ratio {exp['seconds'] / fit['seconds']:.2f}; + page {exp['html_seconds']:.1f} s), explain peak RSS "
              f"{exp['peak_rss_mib']:.0f} MiB (data loaded: {exp['rss_before_mib']:.0f} MiB)")
        print("   stages:", {k: round(v, 1) for k, v in exp["timings"].items()})
    ratios = [e["seconds"] / f["seconds"] for f, e in runs]
    peak = max(e["peak_rss_mib"] for _, e in runs)
    _check(rows, "fmnist70k", "UMAP", "explain <= 1.5x the UMAP fit (median of runs)", np.median(ratios) <= 1.5,
           f"ratios {[round(r, 2) for r in ratios]}")
    _check(rows, "fmnist70k", "UMAP", "explain peak memory <= 2 GiB", peak <= 2048, f"{peak:.0f} MiB")
    return {"runs": [{"fit": f, "explain": e} for f, e in runs]}


def million(rows, n=1_000_000):
    picture = "/tmp/ardr-explain-1m.npy"
    _run({"data": "synthetic", "n": n, "what": "pca", "picture": picture})
    exp = _run({"data": "synthetic", "n": n, "what": "explain", "picture": picture})
    print(f"\n== {n:,} x 50 synthetic, PCA picture: explain {exp['seconds']:.1f} s (+ page {exp['html_seconds']:.1f} s), "
          f"peak RSS {exp['peak_rss_mib']:.0f} MiB")
    print("   stages:", {k: round(v, 1) for k, v in exp["timings"].items()})
    print("   sampling:", exp["reading"][-1])
    _check(rows, "million", "PCA", "explained within 10 minutes, sampling stated",
           exp["seconds"] + exp["html_seconds"] <= 600 and "seeded random query points" in exp["reading"][-1],
           f"{exp['seconds'] + exp['html_seconds']:.0f} s")
    return exp


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="synthetic,fmnist10k,fmnist70k,million")
    parser.add_argument("--repeats", type=int, default=2, help="fmnist70k: fit/explain pairs (default 2)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows, extra = [], {}
    for part in args.parts.split(","):
        if part == "synthetic":
            synthetic(rows)
        elif part == "fmnist10k":
            extra["fmnist10k"] = fmnist10k(rows)
        elif part == "fmnist70k":
            extra["fmnist70k"] = fmnist70k(rows, args.repeats)
        elif part == "million":
            extra["million"] = million(rows)
        else:
            parser.error(f"unknown part {part!r}")
    failed = [r for r in rows if not r["pass"]]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} checks pass")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"checks": rows, **extra, "machine": os.uname().nodename, "date": time.strftime("%Y-%m-%d")},
                      f, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
