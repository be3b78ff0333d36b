"""``explain(X, Y, labels)``: what a 2-D picture Y of an input X can and cannot say.

One call measures, on one input neighbour search and one pass over sampled distance rows
(:mod:`~ardr.explain.neighbourhoods`):

* groups (labels, or clusters of the input) and their sizes and distances in both spaces,
  with bootstrap verdicts (:mod:`~ardr.explain.groups`);
* tears, islands and false or real gaps (:mod:`~ardr.explain.tears`);
* splits and merges: kNN accuracy and neighbour mixing in both spaces;
* neighbourhood recall at several scales and the input's intrinsic dimension
  (:mod:`~ardr.explain.scales`); flung-out points (:mod:`~ardr.explain.outliers`);
* the force law, stated or detected (:mod:`~ardr.explain.law`);

and turns them into sentences (:mod:`~ardr.explain.reading`). The returned
:class:`Explanation` holds the tables; ``to_json``, ``to_html`` and ``to_csv`` write them.
"""

import json
import time
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from .._validation import check_choice, check_data, check_float, check_int, check_seed

K_GRAPH = 15  # the input graph: each point's 15 nearest other points (UMAP's default)
K_METRIC = 10  # trustworthiness, continuity, overlap, per-point agreement
MAX_EXACT = 10_000  # every point is a query up to here; a seeded sample above
N_QUERIES = 3000
MIXING_K = 10
SHEPARD_PAIRS = 20000


@dataclass
class Explanation:
    """The findings about one picture. Tables are lists of dicts (JSON-ready); per-point
    arrays are in ``points``; ``reading`` holds the plain-language sentences."""

    n: int
    dims: tuple
    groups: list
    pairs: list
    mixing: list
    tears: dict
    gaps: list
    islands: list
    separation: dict
    outliers: int
    scales: dict
    law: dict
    metrics: dict
    sampling: dict
    group_source: dict
    reading: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict, repr=False)
    _picture: np.ndarray = field(default=None, repr=False)
    _labels: np.ndarray = field(default=None, repr=False)
    _stretched: tuple = field(default=None, repr=False)
    _shepard: tuple = field(default=None, repr=False)

    def to_dict(self):
        """The report as JSON-serializable data (the report.json contract)."""
        from .._files import jsonable

        keys = ("n", "dims", "groups", "pairs", "mixing", "tears", "gaps", "islands", "separation",
                "outliers", "scales", "metrics", "sampling", "group_source", "reading", "timings")
        return jsonable({key: getattr(self, key) for key in keys}
                        | {"law": self.law["name"], "force_law": self.law, "ardr_version": __version__})

    def to_json(self, path, **extra):
        """Write the report as JSON (atomically); ``extra`` keys are added at the top level."""
        from pathlib import Path

        from .._files import atomic_file, jsonable

        with atomic_file(Path(path)) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict() | jsonable(extra), indent=2), encoding="utf-8")

    def to_csv(self, path):
        """Write the per-point table (one row per point) as CSV (atomically)."""
        from pathlib import Path

        from .._files import atomic_file

        names = list(self.points)
        table = np.column_stack([np.arange(self.n)] + [np.asarray(self.points[k], dtype=np.float64)
                                                       for k in names])
        with atomic_file(Path(path)) as tmp:
            np.savetxt(tmp, table, delimiter=",", header="index," + ",".join(names), comments="",
                       fmt=["%d"] + ["%.6g"] * len(names))

    def to_html(self, path=None, *, details=None):
        """The self-contained HTML page (returned; also written atomically when ``path`` is given)."""
        from .html import render_explanation

        page = render_explanation(self, details=details or {})
        if path is not None:
            from pathlib import Path

            from .._files import atomic_file

            with atomic_file(Path(path)) as tmp:
                Path(tmp).write_text(page, encoding="utf-8")
        return page


def _check_inputs(X, Y, k, metric):
    # float32 input stays float32 (its distance rows are computed in float32, twice as
    # fast); anything else is float64, so near-ties in precise data are not rounded away
    single = getattr(X, "dtype", None) == np.float32
    X = check_data(X, name="input", min_rows=3, dtype=np.float32 if single else np.float64)
    Y = np.asarray(Y) if not hasattr(Y, "toarray") else Y.toarray()
    if Y.ndim == 1:
        Y = Y[:, None]
    Y = check_data(Y, name="embedding", min_rows=3, dtype=np.float64)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"the embedding has {Y.shape[0]} rows but the input has {X.shape[0]}")
    n = X.shape[0]
    k = check_int(k, "k", low=2)
    if k >= n - 1:
        raise ValueError(f"k={k} neighbours need more than {k + 1} points, got {n}")
    check_choice(metric, "metric", ("euclidean", "cosine"))
    return X, Y, k


def explain(X, Y, labels=None, *, law="auto", k=K_GRAPH, metric="euclidean", perplexity=30.0,
            input_knn=None, max_exact=MAX_EXACT, n_queries=N_QUERIES, n_boot=None, random_state=0):
    """Explain picture ``Y`` (n x 2, any tool's) of input ``X`` (n x D): an :class:`Explanation`.

    ``labels`` (numbers or names, one per point) define the groups; without them, groups
    are clusters found in the input's neighbour graph. ``law`` is "auto" (detect), "umap",
    "tsne", "linear", "unknown" or a fitted ardr estimator. ``k`` is the input graph's
    neighbours per point; ``input_knn`` = (indices, distances) reuses a search. Above
    ``max_exact`` points, rank-based measures use ``n_queries`` seeded query points.
    """
    from . import groups as grp
    from .law import LAWS, settle_law
    from .neighbourhoods import find_neighbourhoods
    from .reading import build_reading

    clock = _Clock()
    seed = check_seed(random_state)
    X, Y, k = _check_inputs(X, Y, k, metric)
    n = X.shape[0]
    if isinstance(law, str):
        check_choice(law, "law", LAWS)
    perplexity = check_float(perplexity, "perplexity", low=0.0, low_inclusive=False)
    n_boot = grp.N_BOOT if n_boot is None else check_int(n_boot, "n_boot", low=20)
    groups = grp.groups_from_labels(labels, n) if labels is not None else None  # bad labels fail first
    # one search serves every measure: tSNE's law (stated, or tried when detecting) needs
    # 3 x perplexity neighbours; the graph measures use the first k of them
    K = min(n - 2, max(k, int(np.ceil(3 * perplexity))) if law in ("tsne", "auto") else k)

    with clock("neighbours"):
        neigh = find_neighbourhoods(X, Y, K, metric=metric, input_knn=input_knn, random_state=seed)
        graph = neigh.first(k)
    with clock("groups"):
        if groups is None:
            groups = grp.groups_from_clusters(graph, seed)
        found = _group_findings(X, Y, groups, graph, n_boot, seed)
    with clock("tears"):
        found = _merged(found, _tear_findings(Y, groups, graph))
    with clock("scales"):
        found = _merged(found, _scale_findings(X, Y, groups, graph, max_exact, n_queries, metric, seed))
    with clock("law"):
        found_law = settle_law(law, X, Y, neigh, perplexity=perplexity, seed=seed)
    with clock("metrics"):
        metric_values = _legacy_metrics(X, Y, groups, labels, found, found_law, seed)

    points = found.pop("points")
    if found_law.residual is not None:
        points["residual"] = found_law.residual
    result = Explanation(
        n=n, dims=(int(X.shape[1]), int(Y.shape[1])), **{key: found[key] for key in (
            "groups", "pairs", "mixing", "tears", "gaps", "islands", "separation", "outliers", "scales")},
        law={"name": found_law.name, "how": found_law.how, "median_residual": found_law.median_residual,
             **found_law.evidence},
        metrics=metric_values,
        sampling=found["sampling"] | {"n_boot": n_boot, "max_boot_points": grp.MAX_BOOT_POINTS,
                                      "neighbours": neigh.description, "k_graph": k},
        group_source={"source": groups.source, "description": groups.description, "count": len(groups.names)},
        points=points, _picture=Y, _labels=groups.codes, _stretched=found["stretched"],
        _shepard=shepard_pairs(X, Y, SHEPARD_PAIRS, seed),
    )
    result.reading = build_reading(result, groups.names)
    result.timings = clock.timings | {"total": clock.elapsed()}
    return result


def _merged(a, b):
    """a | b, with the dicts under "sampling" and "points" merged too."""
    out = a | b
    for key in ("sampling", "points"):
        out[key] = a.get(key, {}) | b.get(key, {})
    return out


class _Clock:
    """Seconds per named stage: ``with clock("stage"): ...``."""

    def __init__(self):
        self.timings, self._start = {}, time.perf_counter()

    def __call__(self, name):
        import contextlib

        @contextlib.contextmanager
        def stage():
            t0 = time.perf_counter()
            yield
            self.timings[name] = time.perf_counter() - t0

        return stage()

    def elapsed(self):
        return time.perf_counter() - self._start


def _group_findings(X, Y, groups, graph, n_boot, seed):
    """Sizes, separations and links of the groups; mixing and kNN accuracy in both spaces."""
    from . import groups as grp

    group_rows, pair_rows, notes = grp.group_geometry(X, Y, groups, n_boot=n_boot, seed=seed)
    links = grp.pair_links(graph, groups)
    for row in pair_rows:
        row["linked"] = int(links[groups.names.index(row["a"]), groups.names.index(row["b"])])
    mixing_rows = grp.mixing(graph, groups, k=MIXING_K, n_boot=n_boot, seed=seed) if len(groups.names) >= 2 else []
    separation = {"knn_accuracy_input": grp.knn_accuracy(graph.input_indices, groups.codes),
                  "knn_accuracy_picture": grp.knn_accuracy(graph.picture_indices, groups.codes),
                  "k": grp.ACCURACY_K, "groups": groups.source}
    return {"groups": group_rows, "pairs": pair_rows, "mixing": mixing_rows, "separation": separation,
            "sampling": {"factor": notes["factor"], "pairs_comparable": notes["pairs_comparable"]}}


def _tear_findings(Y, groups, graph):
    """Islands of the picture, links drawn across gaps, pieces of the input graph."""
    from . import tears

    n = Y.shape[0]
    island, n_islands, cut = tears.picture_islands(Y, graph.picture_distances)
    si, sj, stretch = tears.stretched_edges(graph, Y, island)
    component, n_components = tears.input_components(graph)
    gap_rows = tears.gaps(graph, island, n_islands, cut)
    merged = tears.merged_components(island, component, n_islands)
    island_rows = _island_table(island, n_islands, groups)
    summary = {
        "stretched_edges": int(len(si)), "input_edges": int(graph.input_edges()[0].size),
        "input_components": int(n_components), "picture_pieces": int(n_islands),
        "false_gaps": int(sum(g["kind"] == "false" for g in gap_rows)),
        "weak_gaps": int(sum(g["kind"] == "weak" for g in gap_rows)),
        "real_gaps": int(sum(g["kind"] == "real" for g in gap_rows)),
        "stray_points": int(np.sum(island < 0)),
        "merged_components": [{"island": int(a), "components": c} for a, c in merged],
        "rules": {"stretch": tears.STRETCH, "gap": tears.GAP, "join_share": tears.JOIN_SHARE,
                  "join_min": tears.JOIN_MIN, "min_island": tears.min_island_size(n)},
    }
    points = {"group": groups.codes, "island": island, "input_component": component,
              "stretched_edges": np.bincount(np.concatenate([si, sj]), minlength=n)}
    return {"tears": summary, "gaps": [_name_gap(g, island_rows) for g in gap_rows], "islands": island_rows,
            "stretched": (si, sj, stretch), "points": points}


def _scale_findings(X, Y, groups, graph, max_exact, n_queries, metric, seed):
    """Recall at several scales and the rank metrics (one pass over sampled distance rows),
    the input's intrinsic dimension, per-point agreement, flung-out points."""
    from . import outliers, scales
    from .neighbourhoods import query_points

    n = X.shape[0]
    queries, sampled = query_points(n, max_exact, n_queries, seed)
    median_group = int(np.median(groups.sizes))
    ranks = scales.rank_pass(X, Y, queries, k=K_METRIC, scales=sorted({K_METRIC, 100, median_group}),
                             metric=metric)
    agreement = (graph.input_indices[:, :K_METRIC, None]
                 == graph.picture_indices[:, None, :K_METRIC]).any(axis=2).mean(axis=1)
    flung, radius = outliers.flung_out(X, Y)
    return {
        "scales": {"recall": {str(s): v for s, v in ranks["recall"].items()},
                   "chance": {str(s): v for s, v in ranks["chance"].items()},
                   "median_group_size": median_group,
                   "intrinsic_dimension": scales.intrinsic_dimension(graph.input_distances), "k": K_METRIC},
        "outliers": int(flung.sum()), "ranks": ranks,
        "sampling": {"queries": int(len(queries)), "sampled": bool(sampled)},
        "points": {"neighbour_agreement": agreement, "radius": radius, "flung_out": flung.astype(np.int8)},
    }


def shepard_pairs(X, Y, n_pairs, seed):
    """Input and picture distances of seeded random pairs i != j (for the Shepard diagram)."""
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n
    dx = np.linalg.norm(np.asarray(X[i], dtype=np.float64) - X[j], axis=1)
    return dx, np.linalg.norm(Y[i] - Y[j], axis=1)


def _island_table(island, n_islands, groups):
    """Per island: size and its main group (name and share of the island's points)."""
    rows = []
    for a in range(n_islands):
        codes = groups.codes[island == a]
        counts = np.bincount(codes, minlength=len(groups.names))
        top = int(np.argmax(counts))
        rows.append({"island": a, "n": int(len(codes)), "main_group": groups.names[top],
                     "main_share": float(counts[top] / max(1, len(codes)))})
    return rows


def _name_gap(row, islands):
    return row | {"a_main": islands[row["a"]]["main_group"], "b_main": islands[row["b"]]["main_group"]}


def _legacy_metrics(X, Y, groups, labels, found, found_law, seed):
    """The keys report.json has always had: global metrics at k = 10."""
    from . import metrics

    ranks, sampling = found["ranks"], found["sampling"]
    result = {"n": int(X.shape[0]), "k": K_METRIC, "sampled": sampling["sampled"], "n_queries": sampling["queries"],
              "trustworthiness": ranks["trustworthiness"], "continuity": ranks["continuity"],
              "knn_overlap": ranks["knn_overlap"],
              "distance_spearman": metrics.distance_spearman(X, Y, random_state=seed),
              "neighbour_agreement": float(np.mean(found["points"]["neighbour_agreement"])),
              "median_residual": found_law.median_residual}
    if labels is not None:
        counts = groups.sizes
        ok = len(counts) > 1 and counts.min() >= 5 and X.shape[0] >= 10
        result["knn_accuracy"] = (metrics.knn_accuracy(Y, groups.codes, k=5, folds=5, random_state=seed)
                                  if ok else None)
    return result
