"""umap-learn's everyday options, as ardr reads them: defaults, checks and the small
data steps they stand for (duplicate rows, cut edges, the supervised target).

The estimators list these parameters in their signatures (scikit-learn needs explicit
ones); this module says what each accepts, so ``fit`` stays a readable pipeline.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from .._validation import check_float, check_int
from ..graph import supervision
from ..graph.distances import canonical as canonical_metric

#: umap-learn's defaults for the options of the UMAP graph, its force law and densMAP.
DEFAULTS = {
    "set_op_mix_ratio": 1.0,
    "local_connectivity": 1.0,
    "disconnection_distance": None,
    "repulsion_strength": 1.0,
    "target_n_neighbors": -1,
    "target_metric": "categorical",
    "target_weight": 0.5,
    "densmap": False,
    "dens_lambda": 2.0,
    "dens_frac": 0.3,
    "dens_var_shift": 0.1,
    "output_dens": False,
    "unique": False,
    "tqdm_kwds": None,
}

#: Options that shape UMAP's fuzzy graph: meaningless for tSNE's perplexity affinities.
GRAPH_OPTIONS = ("set_op_mix_ratio", "local_connectivity", "disconnection_distance")

# umap-learn's default cut for bounded metrics: a pair this far apart shares nothing.
DISCONNECTION_DISTANCES = {"correlation": 2.0, "cosine": 2.0, "hellinger": 1.0, "jaccard": 1.0, "dice": 1.0}


def check_options(c):
    """Validate the options on the config namespace ``c`` (in place: aliases resolved)."""
    check_float(c.set_op_mix_ratio, "set_op_mix_ratio", low=0.0, high=1.0)
    check_float(c.local_connectivity, "local_connectivity", low=0.0)
    if c.disconnection_distance is not None:
        check_float(c.disconnection_distance, "disconnection_distance", low=0.0, low_inclusive=False)
    check_float(c.repulsion_strength, "repulsion_strength", low=0.0)
    if c.target_n_neighbors != -1:
        check_int(c.target_n_neighbors, "target_n_neighbors", low=2)
    if c.target_metric != supervision.CATEGORICAL:
        try:
            name, _ = canonical_metric(c.target_metric)
        except ValueError as err:
            raise ValueError(f"target_metric: 'categorical' or a metric of the neighbour search ({err})") from None
        if name == "precomputed":
            raise ValueError("target_metric='precomputed' is not supported: give y itself")
        c.target_metric = name
    supervision.check_target_weight(c.target_weight)
    for name in ("densmap", "output_dens", "unique"):
        if not isinstance(getattr(c, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {getattr(c, name)!r}")
    check_float(c.dens_lambda, "dens_lambda", low=0.0)
    check_float(c.dens_frac, "dens_frac", low=0.0, high=1.0)
    check_float(c.dens_var_shift, "dens_var_shift", low=0.0)
    if c.tqdm_kwds is not None and not isinstance(c.tqdm_kwds, dict):
        raise ValueError(f"tqdm_kwds must be a dict of tqdm arguments, got {type(c.tqdm_kwds).__name__}")
    if c.input_kernel != "umap":
        changed = [name for name in GRAPH_OPTIONS if getattr(c, name) != DEFAULTS[name]]
        if changed:
            raise ValueError(f"{', '.join(changed)} shape UMAP's fuzzy graph: they need input_kernel='umap'")
    if c.normalized and c.densmap:
        raise ValueError("densmap adds its term to UMAP's force law: it needs normalized=False")
    if c.normalized and c.repulsion_strength != 1.0:
        raise ValueError("repulsion_strength weights UMAP's sampled repulsion: it needs normalized=False")
    if c.unique and isinstance(c.metric, str) and c.metric == "precomputed":
        raise ValueError("unique=True is not defined for metric='precomputed' (rows of distances)")


def disconnection_distance(c):
    """The distance at and beyond which a kNN edge is cut (inf: none)."""
    if c.disconnection_distance is not None:
        return float(c.disconnection_distance)
    return DISCONNECTION_DISTANCES.get(c.metric, np.inf) if isinstance(c.metric, str) else np.inf


def cut_far_edges(dist, threshold):
    """kNN distances with the entries at or beyond ``threshold`` set to inf (weight 0 in
    UMAP's graph); warns when a point loses every edge, as umap-learn does."""
    far = dist >= threshold
    if not far.any():
        return dist
    dist = np.where(far, np.inf, dist).astype(np.float32)
    isolated = int(far.all(axis=1).sum())
    if isolated:
        warnings.warn(f"disconnection_distance={threshold:g} cut {int(far.sum())} kNN edges and left "
                      f"{isolated} point(s) with none of their own (they keep only edges from others, "
                      f"or float free)", stacklevel=4)
    return dist


def unique_rows(X):
    """(rows kept, inverse): the first occurrence of each distinct row, in data order, and
    for every row the index of its kept row (umap-learn's ``unique=True``). Dense rows only."""
    if sp.issparse(X):
        raise ValueError("unique=True needs dense X (sparse rows are not deduplicated)")
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct rows in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[np.ravel(inverse)]


def rows_of(y, kept, n):
    """y's entries for the kept rows (None stays None); y must have one entry per row."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0] if y.ndim else 'no'} entries but X has {n} rows")
    return y[kept]


def split_precomputed_knn(knn):
    """umap-learn's ``(indices, distances, index)`` triple (or its (None, None, None)
    default) as ardr's (indices, distances) pair or None. The search index is not used:
    transform searches the training rows itself."""
    if knn is None:
        return None
    if isinstance(knn, (tuple, list)) and len(knn) == 3:
        knn = tuple(knn[:2])
    if isinstance(knn, (tuple, list)) and len(knn) == 2 and knn[0] is None and knn[1] is None:
        return None
    return knn


def check_n_neighbors_target(value, n_neighbors):
    """target_n_neighbors = -1 means n_neighbors, as in umap-learn."""
    return n_neighbors if value == -1 else int(value)

