"""Which force law made the picture: stated by the user, taken from a fitted ardr estimator,
or detected, never silently assumed.

Detection, in order:

1. **linear**: the picture is (nearly) a linear map of the input, as PCA and classical
   MDS of euclidean data draw it: a least-squares fit of the picture from the input's top
   principal components, fitted on half the points and tested on the other half, has R^2
   >= ``LINEAR_R2``.
2. **umap** or **tsne**: the picture is at rest under that attraction/repulsion law on the
   input's neighbour graph (:mod:`ardr.explain.pointwise`, DESIGN 7): its median
   stationarity residual is below ``AT_REST`` and below ``MARGIN`` times the other law's.
   The UMAP law uses UMAP's fuzzy graph of the 15 nearest neighbours and its kernel
   (min_dist 0.1); the tSNE law perplexity affinities (perplexity 30, so 90 neighbours)
   and the Student-t kernel. Measured on digits: UMAP's picture 0.11 under UMAP's law
   against 0.33 under tSNE's; tSNE's 0.002 against 0.28; a hand-made layout of six
   Gaussian clusters 0.14 and 0.18 (unknown, as it should be); Fashion-MNIST 70k's UMAP
   picture (sampled residuals) 0.13 against 0.24. Only the perplexity
   actually used brings a tSNE picture to rest (0.11 with perplexity 15, 0.16 with 10).
3. otherwise **unknown**.

The residual measures agreement with an objective, not faithfulness: a faithful picture
can be far from rest under UMAP's forces.
"""

from dataclasses import dataclass, field

import numpy as np

LAWS = ("auto", "umap", "tsne", "linear", "unknown")
NEIGHBOUR_EMBEDDINGS = ("umap", "tsne")
LINEAR_R2 = 0.98
AT_REST = 0.2
MARGIN = 0.65
_LINEAR_COMPONENTS = 50
_LINEAR_SAMPLE = 4000
_EMBEDDING_NEIGHBOURS = 30  # the residual's nearest picture partners (pointwise's default)


@dataclass
class Law:
    """name: "umap" | "tsne" | "linear" | "unknown"; how: "stated" | "detected" | "estimator";
    residual: per-point stationarity residual under ``name`` (None for linear/unknown);
    evidence: the numbers the decision rests on (R^2, median residual per law)."""

    name: str
    how: str
    residual: np.ndarray = None
    evidence: dict = field(default_factory=dict)

    @property
    def median_residual(self):
        return None if self.residual is None else float(np.median(self.residual))


def linear_fit_r2(X, Y, seed=0):
    """Held-out R^2 of the best affine map from X's top principal components to Y."""
    from ..graph.initialization import principal_scores

    n = X.shape[0]
    rng = np.random.default_rng(seed)
    sample = rng.permutation(n)[: min(n, 2 * _LINEAR_SAMPLE)]
    Xs = np.asarray(X[np.sort(sample)], dtype=np.float64)
    Ys = np.asarray(Y[np.sort(sample)], dtype=np.float64)
    dims = min(_LINEAR_COMPONENTS, Xs.shape[1], max(1, len(sample) // 4))
    scale = float(np.abs(Xs).max()) or 1.0
    Z = np.hstack([principal_scores(Xs, dims, scale=scale), np.ones((len(sample), 1))])
    half = len(sample) // 2
    if half < dims + 2:
        return float("nan")
    coef, *_ = np.linalg.lstsq(Z[:half], Ys[:half], rcond=None)
    test = Ys[half:]
    residual = ((test - Z[half:] @ coef) ** 2).sum()
    total = ((test - test.mean(axis=0)) ** 2).sum()
    return float(1.0 - residual / total) if total > 0 else float("nan")


def _settings(name, neighbourhoods, perplexity):
    from ..graph import affinities
    from .pointwise import force_settings

    idx, dist = neighbourhoods.input_indices, neighbourhoods.input_distances
    if name == "umap":
        k = min(idx.shape[1], 14)  # UMAP's n_neighbors = 15 counts the point itself
        graph = affinities.umap_graph(idx[:, :k], dist[:, :k], k + 1)
    else:
        graph = affinities.tsne_affinities(idx, dist, min(perplexity, idx.shape[1] / 3.0))  # 3 x perplexity
    return force_settings(None, name, graph=graph)


def _residual(settings, Y, seed, neighbourhoods=None):
    from .pointwise import reconstruction_residual

    near = None if neighbourhoods is None else neighbourhoods.picture_indices
    if near is not None and near.shape[1] < _EMBEDDING_NEIGHBOURS:
        near = None
    return reconstruction_residual(None, Y, law=settings, random_state=seed,
                                   n_embedding_neighbours=min(_EMBEDDING_NEIGHBOURS, Y.shape[0] - 1),
                                   embedding_neighbours=near)


def settle_law(law, X, Y, neighbourhoods, *, perplexity=30.0, seed=0):
    """The :class:`Law` of the picture (see the module docstring)."""
    if hasattr(law, "graph_") and hasattr(law, "a_"):  # a fitted ardr estimator
        from .pointwise import force_settings

        settings = force_settings(None, law)
        name = "tsne" if settings.normalized else "umap"
        return Law(name, "estimator", _residual(settings, Y, seed))
    if law in NEIGHBOUR_EMBEDDINGS:
        return Law(law, "stated", _residual(_settings(law, neighbourhoods, perplexity), Y, seed, neighbourhoods))
    if law in ("linear", "unknown"):
        return Law(law, "stated")
    r2 = linear_fit_r2(X, Y, seed)
    evidence = {"linear_r2": r2}
    if r2 >= LINEAR_R2:
        return Law("linear", "detected", evidence=evidence)
    residuals = {name: _residual(_settings(name, neighbourhoods, perplexity), Y, seed, neighbourhoods)
                 for name in NEIGHBOUR_EMBEDDINGS}
    medians = {name: float(np.median(r)) for name, r in residuals.items()}
    evidence.update({f"median_residual_{name}": m for name, m in medians.items()})
    best = min(medians, key=medians.get)
    other = max(medians, key=medians.get)
    if medians[best] < AT_REST and medians[best] < MARGIN * medians[other]:
        return Law(best, "detected", residuals[best], evidence)
    return Law("unknown", "detected", evidence=evidence)
