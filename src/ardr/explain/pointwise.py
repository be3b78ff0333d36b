"""Per-point diagnostics of an embedding Y (n x d) of input X (n x D), made by any tool.

Stationarity (DESIGN 7). An attraction/repulsion method moves point i along

    F_i = sum_j c_ij (y_j - y_i),    c_ij = A_ij - R_ij,

so at rest y_i = sum_j w_ij y_j with w_ij = c_ij / sum_k c_ik: every point is a weighted
average of the others, with weights built from the input kernel (attractions on the
input graph P) and the output kernel (attractions' distance factor and repulsions).
:func:`stationarity_weights` returns W; :func:`reconstruction_residual` says how far
each point is from that balance; :func:`pulling_neighbours` names the input
neighbours with the largest attraction weights.

The coefficients are the expected forces of ardr's own force laws (``ardr.engine.numba.kernels``):

* ``"umap"`` (unnormalized, sampled cross-entropy): an edge is visited in proportion
  to p_ij and pulls both of its ends, each visit draws ``negative_sample_rate``
  uniform repulsion partners, so A_ij = 2 p_ij c_att(d_ij) and
  R_ij = negative_sample_rate * deg_i / n * c_rep(d_ij), deg_i = sum_j p_ij; every term
  is clipped to 4 per coordinate (here: scaled down along its own direction).
* ``"tsne"`` (normalized, KL divergence, P sums to one): A_ij = p_ij c_att(d_ij),
  R_ij = c_rep(d_ij) / Z with Z = sum over all pairs of q(d).

Repulsion acts between all pairs. ``repulsion="exact"`` sums them all: O(n^2) time
and O(n) memory for the residual; W is then dense (stored as a CSR matrix).
``"sampled"`` keeps everything sparse: the repulsion partners of i are its
``n_embedding_neighbours`` nearest points in Y (exact terms: the strongest
repulsions) plus ``n_random`` uniform draws over all points, a draw landing on i or on
one of those neighbours being discarded, each kept draw scaled by n / n_random. That
is an unbiased estimate of the sum over all other pairs (for the normalized law, Z is
estimated from the same terms). ``"auto"`` is exact up to ``EXACT_WEIGHTS_MAX_ROWS``
points for W and ``EXACT_RESIDUAL_MAX_ROWS`` for the residual.

Neighbourhood preservation per point: :func:`local_trustworthiness`,
:func:`local_continuity`, :func:`local_knn_overlap` (the mean over points is the
global value of :mod:`ardr.explain.metrics` when computed exactly) and
:func:`neighbour_agreement`. Exact up to ``max_exact`` points; above, neighbours in X
come from the approximate search of :mod:`ardr.graph.neighbors` and ranks in X beyond the
searched neighbours are estimated from distances to a random reference sample (see
:func:`local_trustworthiness`). Nothing is n x n above the exact limits.
"""

from dataclasses import dataclass, replace

import numba
import numpy as np
import scipy.sparse as sp

from . import metrics
from .._validation import check_choice, check_data, check_float, check_int, check_seed
from ..engine.numba.kernels import attraction_coefficient, normalized_repulsion_coefficient, q_of_t, umap_repulsion_coefficient

EXACT_WEIGHTS_MAX_ROWS = 2000  # a dense W: n^2 stored entries
EXACT_RESIDUAL_MAX_ROWS = 20000  # O(n^2) time, O(n) memory
REPULSIONS = ("auto", "exact", "sampled")
METHODS = ("umap", "tsne")
_BLOCK_BYTES = 32 * 2**20
_TINY = 1e-300

__all__ = [
    "ForceSettings",
    "force_settings",
    "stationarity_weights",
    "reconstruction_residual",
    "pulling_neighbours",
    "local_trustworthiness",
    "local_continuity",
    "local_knn_overlap",
    "neighbour_agreement",
]


# ----------------------------------------------------------------- force settings


@dataclass(frozen=True)
class ForceSettings:
    """One force law on one input graph: what turns a pair (i, j) into A_ij and R_ij.

    graph: symmetric sparse input kernel P (n x n); a, b: output kernel
    q(d) = 1 / (1 + a d^{2b}); normalized: tSNE's normalization (P sums to one, repulsion
    divided by Z) or UMAP's sampled cross-entropy; negative_sample_rate: UMAP's
    repulsions per edge visit; clip: UMAP's per-coordinate clip of each term (None: none).
    """

    graph: sp.csr_matrix
    a: float
    b: float
    normalized: bool
    negative_sample_rate: int = 5
    clip: float | None = None


def force_settings(X=None, law="umap", *, graph=None, n_neighbors=15, perplexity=30.0, min_dist=0.1,
                   spread=1.0, input_knn=None, random_state=0):
    """The :class:`ForceSettings` to explain an embedding with.

    ``law`` is "umap" (UMAP's fuzzy graph of X and kernel, from ``n_neighbors``,
    ``min_dist``, ``spread``), "tsne" (perplexity affinities, Student-t kernel), a fitted
    ardr estimator (its graph, kernel and normalization) or a ForceSettings. ``graph``
    replaces the input graph (then X is not needed); ``input_knn`` = (indices, distances)
    of X's nearest neighbours, nearest first, saves the neighbour search.
    """
    if isinstance(law, ForceSettings):
        settings = law
    elif hasattr(law, "graph_") and hasattr(law, "a_"):
        settings = _from_estimator(law)
    elif isinstance(law, str):
        check_choice(law, "law", METHODS)
        settings = None
    else:
        raise ValueError(f"law must be 'umap', 'tsne', a fitted ardr estimator or ForceSettings, got {law!r}")
    if graph is not None:
        graph = _check_graph(graph)
        if settings is None:
            settings = _from_name(law, None, graph, n_neighbors, perplexity, min_dist, spread, None, random_state)
        return replace(settings, graph=graph)
    if settings is not None:
        return settings
    if X is None:
        raise ValueError("give X (or graph=) to build the input graph")
    X = check_data(X, name="X", min_rows=3)
    return _from_name(law, X, None, n_neighbors, perplexity, min_dist, spread, input_knn, random_state)


def _from_name(name, X, graph, n_neighbors, perplexity, min_dist, spread, input_knn, random_state):
    from ..graph import affinities
    from ..engine.numba import kernels

    if name == "umap":
        a, b = kernels.fit_ab(check_float(spread, "spread", low=0.0, low_inclusive=False),
                              check_float(min_dist, "min_dist", low=0.0))
        if graph is None:
            n = X.shape[0]
            k = min(check_int(n_neighbors, "n_neighbors", low=2), n)
            idx, dist = _input_knn(X, k - 1, input_knn, random_state)
            graph = affinities.umap_graph(idx, dist, k)
        return ForceSettings(_as_csr(graph), a, b, False, 5, 4.0)
    if graph is None:
        n = X.shape[0]
        perplexity = check_float(perplexity, "perplexity", low=0.0, low_inclusive=False)
        perplexity = min(perplexity, max((n - 1) / 3.0, 1.0))
        idx, dist = _input_knn(X, min(n - 1, max(1, int(3 * perplexity))), input_knn, random_state)
        graph = affinities.tsne_affinities(idx, dist, perplexity)
    return ForceSettings(_as_csr(graph), 1.0, 1.0, True, 5, None)


def _from_estimator(est):
    from ..methods.neighbor_embedding import TSNE

    params = est.get_params(deep=False)
    normalized = isinstance(est, TSNE) or bool(params.get("normalized", False))
    # The fitted law also dropped edges weaker than max / n_epochs: their pull is negligible.
    return ForceSettings(_as_csr(est.graph_), float(est.a_), float(est.b_), normalized,
                         int(params.get("negative_sample_rate", 5)), None if normalized else 4.0)


def _check_graph(graph):
    if not sp.issparse(graph) and not isinstance(graph, np.ndarray):
        raise ValueError(f"graph must be a sparse or dense n x n matrix, got {type(graph).__name__}")
    graph = _as_csr(graph)
    if graph.shape[0] != graph.shape[1]:
        raise ValueError(f"graph must be square, got shape {graph.shape}")
    if graph.nnz and (not np.isfinite(graph.data).all() or graph.data.min() < 0):
        raise ValueError("graph weights must be finite and non-negative")
    return graph


def _as_csr(graph):
    """CSR, float64, sorted, no duplicates and no self-loops (a point does not pull itself)."""
    graph = sp.csr_matrix(graph, dtype=np.float64)
    graph.sum_duplicates()
    if graph.diagonal().any():
        graph = (graph - sp.diags(graph.diagonal())).tocsr()
        graph.eliminate_zeros()
    graph.sort_indices()
    return graph


def _input_knn(X, k, input_knn, random_state):
    """(indices, distances) of X's k nearest neighbours: the given ones, else ardr.graph.neighbors."""
    from ..graph.neighbors import check_precomputed, nearest_neighbors

    if input_knn is not None:
        return check_precomputed(input_knn, X.shape[0], k)
    return nearest_neighbors(X, k, random_state=check_seed(random_state))


# ------------------------------------------------------------ pair coefficients


@numba.njit(inline="always", cache=True)
def _coefficient(t, amax, a, b, normalized, attraction, clip):
    """Attraction (or repulsion) coefficient of a pair at squared distance t.

    A positive ``clip`` scales the term c * (y_j - y_i) down along its own direction
    until no coordinate exceeds ``clip`` (``amax`` = the largest |coordinate difference|).
    """
    if attraction:
        c = attraction_coefficient(t, a, b)
    elif normalized:
        c = normalized_repulsion_coefficient(t, a, b)
    else:
        c = umap_repulsion_coefficient(t, a, b)
    if clip > 0.0 and c * amax > clip:
        c = clip / amax
    return c


@numba.njit(parallel=True, cache=True)
def _pair_coefficients(t, amax, a, b, normalized, attraction, clip, out):
    for e in numba.prange(t.size):
        out[e] = _coefficient(t[e], amax[e], a, b, normalized, attraction, clip)


@numba.njit(parallel=True, cache=True)
def _q_values(t, a, b, out):
    for e in numba.prange(t.size):
        out[e] = q_of_t(t[e], a, b)


@numba.njit(parallel=True, cache=True)
def _q_row_sums(Y, a, b, out):
    """out[i] = sum_{j != i} q(|y_i - y_j|^2): Z = out.sum(), without an n x n array."""
    n, dim = Y.shape
    for i in numba.prange(n):
        total = 0.0
        for j in range(n):
            if j != i:
                t = 0.0
                for d in range(dim):
                    diff = Y[j, d] - Y[i, d]
                    t += diff * diff
                total += q_of_t(t, a, b)
        out[i] = total


@numba.njit(inline="always", cache=True)
def _gap(Y, i, j):
    """(|y_j - y_i|^2, the largest |coordinate difference|) of a pair."""
    t = 0.0
    amax = 0.0
    for d in range(Y.shape[1]):
        diff = Y[j, d] - Y[i, d]
        t += diff * diff
        amax = max(amax, abs(diff))
    return t, amax


@numba.njit(inline="always", cache=True)
def _add_term(F, Y, i, j, c):
    """F_i += c (y_j - y_i)."""
    for d in range(Y.shape[1]):
        F[i, d] += c * (Y[j, d] - Y[i, d])


@numba.njit(parallel=True, cache=True)
def _exact_balance(Y, indptr, indices, weights, a, b, normalized, att_scale, row_scale, clip, F, s, T):
    """Over all pairs: F_i = sum_j c_ij (y_j - y_i), s_i = sum_j c_ij, T_i = sum_j |c_ij| d_ij,
    c_ij = att_scale p_ij c_att - row_scale_i c_rep. Graph rows must be sorted; each
    point writes only its own outputs."""
    n, dim = Y.shape
    for i in numba.prange(n):
        e = indptr[i]
        end = indptr[i + 1]
        si = 0.0
        ti = 0.0
        for d in range(dim):
            F[i, d] = 0.0
        for j in range(n):
            if j == i:
                continue
            t, amax = _gap(Y, i, j)
            c = -row_scale[i] * _coefficient(t, amax, a, b, normalized, False, clip)
            while e < end and indices[e] < j:
                e += 1
            if e < end and indices[e] == j:
                c += att_scale * weights[e] * _coefficient(t, amax, a, b, normalized, True, clip)
            si += c
            ti += abs(c) * np.sqrt(t)
            _add_term(F, Y, i, j, c)
        s[i] = si
        T[i] = ti


@numba.njit(cache=True)
def _partner_group(i, cols, n_near, draw_weight, out_cols, out_w):
    """Point i's repulsion partners, sorted by column with their weights; returns their
    count. ``cols[:n_near]`` are its nearest picture neighbours (weight 1), the rest
    uniform draws (weight ``draw_weight`` each; a point drawn twice counts twice). A draw
    of i itself or of one of its nearest neighbours is dropped (the neighbour counts once)."""
    order = np.argsort(cols, kind="mergesort")
    m = 0
    r = 0
    while r < order.size:
        j = cols[order[r]]
        near = False
        draws = 0
        while r < order.size and cols[order[r]] == j:
            if order[r] < n_near:
                near = True
            else:
                draws += 1
            r += 1
        if j == i:
            continue
        out_cols[m] = j
        out_w[m] = 1.0 if near else draws * draw_weight
        m += 1
    return m


@numba.njit(parallel=True, cache=True)
def _partner_q_sums(Y, cols, n_near, draw_weight, a, b, out):
    """out[i] = sum over i's weighted partners of q: Z's sampled estimate is out.sum()."""
    n, dim = Y.shape
    for i in numba.prange(n):
        pc = np.empty(cols.shape[1], dtype=np.int64)
        pw = np.empty(cols.shape[1])
        m = _partner_group(i, cols[i], n_near, draw_weight, pc, pw)
        total = 0.0
        for r in range(m):
            t = 0.0
            for d in range(dim):
                diff = Y[pc[r], d] - Y[i, d]
                t += diff * diff
            total += pw[r] * q_of_t(t, a, b)
        out[i] = total


@numba.njit(parallel=True, cache=True)
def _sampled_balance(Y, cols, n_near, draw_weight, indptr, indices, weights, a, b, normalized, att_scale,
                     row_scale, clip, F, s, T):
    """``_exact_balance`` over the graph's edges and each point's weighted partners only:
    c_ij = att_scale p_ij c_att - row_scale_i w_ij c_rep, summed once per column j (graph
    rows must be sorted)."""
    n, dim = Y.shape
    for i in numba.prange(n):
        pc = np.empty(cols.shape[1], dtype=np.int64)
        pw = np.empty(cols.shape[1])
        m = _partner_group(i, cols[i], n_near, draw_weight, pc, pw)
        e = indptr[i]
        end = indptr[i + 1]
        r = 0
        si = 0.0
        ti = 0.0
        for d in range(dim):
            F[i, d] = 0.0
        while r < m or e < end:
            if e >= end or (r < m and pc[r] < indices[e]):
                j = pc[r]
            else:
                j = indices[e]
            t, amax = _gap(Y, i, j)
            c = 0.0
            if r < m and pc[r] == j:
                c -= row_scale[i] * pw[r] * _coefficient(t, amax, a, b, normalized, False, clip)
                r += 1
            if e < end and indices[e] == j:
                c += att_scale * weights[e] * _coefficient(t, amax, a, b, normalized, True, clip)
                e += 1
            si += c
            ti += abs(c) * np.sqrt(t)
            _add_term(F, Y, i, j, c)
        s[i] = si
        T[i] = ti


def _coefficients(settings, diff, attraction):
    """Coefficients for an array of differences y_j - y_i (shape (..., d))."""
    t = np.einsum("...d,...d->...", diff, diff)
    amax = np.abs(diff).max(axis=-1)
    out = np.empty(t.size)
    _pair_coefficients(np.ascontiguousarray(t).ravel(), np.ascontiguousarray(amax).ravel(), settings.a,
                       settings.b, settings.normalized, attraction, settings.clip or 0.0, out)
    return out.reshape(t.shape), np.sqrt(t)


def _attraction_scale(settings):
    return 1.0 if settings.normalized else 2.0  # UMAP pulls both ends of an edge


def _repulsion_row_scale(settings, n, Z):
    """Per-row factor of R: UMAP's expected draws per point / n; tSNE's 1 / Z."""
    if settings.normalized:
        return np.full(n, 1.0 / max(Z, _TINY))
    degree = np.asarray(settings.graph.sum(axis=1)).ravel()
    return settings.negative_sample_rate * degree / n


# ------------------------------------------------------------ stationarity


def _prepare(X, Y, law, graph, repulsion, exact_max_rows, n_embedding_neighbours, n_random, random_state):
    Y = check_data(Y, name="Y", min_rows=3, dtype=np.float64)
    n = Y.shape[0]
    if X is not None:
        X = check_data(X, name="X", min_rows=3)
        if X.shape[0] != n:
            raise ValueError(f"X and Y must have the same number of rows, got {X.shape[0]} and {n}")
    settings = force_settings(X, law, graph=graph, random_state=random_state)
    if settings.graph.shape != (n, n):
        raise ValueError(f"the input graph is {settings.graph.shape} but Y has {n} rows")
    check_choice(repulsion, "repulsion", REPULSIONS)
    if repulsion == "auto":
        repulsion = "exact" if n <= exact_max_rows else "sampled"
    check_int(n_embedding_neighbours, "n_embedding_neighbours", low=0, high=n - 1)
    check_int(n_random, "n_random", low=1)
    return Y, settings, repulsion == "exact"


def _exact_Z(Y, settings):
    """Z = sum over all pairs i != j of q (only the normalized law needs it)."""
    if not settings.normalized:
        return 0.0
    rows = np.empty(Y.shape[0])
    _q_row_sums(Y, settings.a, settings.b, rows)
    return float(rows.sum())


def _exact_balance_terms(Y, settings):
    """(F, s, T) over all pairs, O(n^2) time and O(n) memory."""
    n, d = Y.shape
    row_scale = _repulsion_row_scale(settings, n, _exact_Z(Y, settings))
    P = settings.graph
    F, s, T = np.empty((n, d)), np.empty(n), np.empty(n)
    _exact_balance(Y, P.indptr.astype(np.int64), P.indices.astype(np.int64), P.data, settings.a, settings.b,
                   settings.normalized, _attraction_scale(settings), row_scale, settings.clip or 0.0, F, s, T)
    return F, s, T


def _exact_weights(Y, settings):
    """Unnormalized c_ij = A_ij - R_ij over all pairs (dense, stored as CSR), in row blocks."""
    n, d = Y.shape
    row_scale = _repulsion_row_scale(settings, n, _exact_Z(Y, settings))
    att_scale = _attraction_scale(settings)
    step = max(1, _BLOCK_BYTES // (8 * n * max(d, 4)))
    blocks = []
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        diff = Y[None, :, :] - Y[rows, None, :]
        rep, _ = _coefficients(settings, diff, attraction=False)
        att, _ = _coefficients(settings, diff, attraction=True)
        c = att_scale * settings.graph[rows].toarray() * att - row_scale[rows, None] * rep
        c[np.arange(len(rows)), rows] = 0.0
        blocks.append(sp.csr_matrix(c))
    return sp.vstack(blocks, format="csr")


def _sampled_weights(Y, settings, n_embedding_neighbours, n_random, random_state):
    """Unnormalized c_ij over the graph's edges and the sparse repulsion partners."""
    n = Y.shape[0]
    rng = np.random.default_rng(check_seed(random_state))
    near = _embedding_knn(Y, n_embedding_neighbours) if n_embedding_neighbours else np.empty((n, 0), np.intp)
    draws = rng.integers(0, n, size=(n, n_random))
    drop = draws == np.arange(n)[:, None]
    step = max(1, _BLOCK_BYTES // max(1, n_random * near.shape[1]))
    for start in range(0, n, step):  # a draw that hits one of the exact neighbours
        block = slice(start, start + step)
        drop[block] |= (draws[block, :, None] == near[block, None, :]).any(axis=2)
    rows = np.concatenate([np.repeat(np.arange(n), near.shape[1]), np.repeat(np.arange(n), n_random)])
    cols = np.concatenate([near.ravel(), draws.ravel()])
    weight = np.concatenate([np.ones(near.size), np.where(drop, 0.0, n / n_random).ravel()])
    partners = sp.csr_matrix((weight, (rows, cols)), shape=(n, n))
    partners.sum_duplicates()  # a point drawn twice counts twice
    partners.eliminate_zeros()
    r_rows = np.repeat(np.arange(n), np.diff(partners.indptr))
    rep, dist = _coefficients(settings, Y[partners.indices] - Y[r_rows], attraction=False)
    Z = 0.0
    if settings.normalized:
        q = np.empty(len(dist))
        _q_values(dist**2, settings.a, settings.b, q)
        Z = float((partners.data * q).sum())
    row_scale = _repulsion_row_scale(settings, n, Z)
    R = sp.csr_matrix((partners.data * rep * row_scale[r_rows], partners.indices, partners.indptr), shape=(n, n))
    P = settings.graph
    a_rows = np.repeat(np.arange(n), np.diff(P.indptr))
    att, _ = _coefficients(settings, Y[P.indices] - Y[a_rows], attraction=True)
    A = sp.csr_matrix((_attraction_scale(settings) * P.data * att, P.indices, P.indptr), shape=(n, n))
    W = (A - R).tocsr()  # no self pairs: the graph has none, self draws were dropped
    W.eliminate_zeros()
    W.sort_indices()
    return W


def _sampled_balance_terms(Y, settings, n_embedding_neighbours, n_random, random_state, near=None):
    """(F, s, T) over the graph's edges and sparse repulsion partners: each point's
    ``n_embedding_neighbours`` nearest picture neighbours and ``n_random`` uniform draws
    (weight n / n_random; ``near``: those neighbours when already known). The same sums as ``_balance_from_weights(Y, _sampled_weights(...))``
    with the same draws, in compiled loops without an n x partners sparse matrix."""
    n, dim = Y.shape
    rng = np.random.default_rng(check_seed(random_state))
    if near is not None:
        near = np.asarray(near)[:, :n_embedding_neighbours]
    elif n_embedding_neighbours:
        near = _embedding_knn(Y, n_embedding_neighbours)
    else:
        near = np.empty((n, 0), np.intp)
    draws = rng.integers(0, n, size=(n, n_random))
    cols = np.ascontiguousarray(np.hstack([near, draws]), dtype=np.int64)
    del draws
    draw_weight = n / n_random
    Z = 0.0
    if settings.normalized:
        rows = np.empty(n)
        _partner_q_sums(Y, cols, near.shape[1], draw_weight, settings.a, settings.b, rows)
        Z = float(rows.sum())
    P = settings.graph  # CSR, float64, sorted (force_settings)
    F, s, T = np.empty((n, dim)), np.empty(n), np.empty(n)
    _sampled_balance(Y, cols, near.shape[1], draw_weight, P.indptr.astype(np.int64), P.indices.astype(np.int64),
                     P.data, settings.a, settings.b, settings.normalized,
                     _attraction_scale(settings), _repulsion_row_scale(settings, n, Z), settings.clip or 0.0,
                     F, s, T)
    return F, s, T


def _balance_from_weights(Y, W):
    """(F, s, T) of a coefficient matrix: the same sums as _exact_balance, over W's entries."""
    n = Y.shape[0]
    rows = np.repeat(np.arange(n), np.diff(W.indptr))
    dist = np.linalg.norm(Y[W.indices] - Y[rows], axis=1)
    s = np.asarray(W.sum(axis=1)).ravel()
    F = W @ Y - s[:, None] * Y
    T = np.bincount(rows, weights=np.abs(W.data) * dist, minlength=n)
    return F, s, T


def stationarity_weights(X, Y, *, law="umap", graph=None, repulsion="auto", n_embedding_neighbours=30,
                         n_random=100, random_state=0):
    """W (n x n CSR): y_i = sum_j W_ij y_j holds exactly where the forces on i balance.

    W_ij = (A_ij - R_ij) / sum_k (A_ik - R_ik) (DESIGN 7); rows sum to one. A row whose
    coefficients sum to zero has no such average and is left zero. Weights may be
    negative (repulsion outweighs attraction for that pair). ``repulsion="auto"`` is
    exact (a dense W) up to EXACT_WEIGHTS_MAX_ROWS points; see the module docstring
    for ``law`` and the sparse partner set.
    """
    Y, settings, exact = _prepare(X, Y, law, graph, repulsion, EXACT_WEIGHTS_MAX_ROWS, n_embedding_neighbours,
                                  n_random, random_state)
    if exact:
        W = _exact_weights(Y, settings)
    else:
        W = _sampled_weights(Y, settings, n_embedding_neighbours, n_random, random_state)
    _, s, T = _balance_from_weights(Y, W)
    usable = np.abs(s) > 1e-12 * np.maximum(T, _TINY)
    scale = np.divide(1.0, s, out=np.zeros_like(s), where=usable)
    W = (sp.diags(scale) @ W).tocsr()
    W.eliminate_zeros()
    return W


def reconstruction_residual(X, Y, *, law="umap", graph=None, repulsion="auto", n_embedding_neighbours=30,
                            n_random=100, random_state=0, normalize=True, embedding_neighbours=None):
    """Per point: how far y_i is from the weighted average sum_j w_ij y_j of the others.

    normalize=True (default) gives ||y_i - sum_j w_ij y_j|| / sum_j |w_ij| ||y_j - y_i||,
    which is the net force on i as a share of the summed magnitudes of all its
    attraction and repulsion terms: 0 at rest, 1 when every term pulls the same way;
    it does not depend on the units of Y. normalize=False gives ||y_i - sum_j w_ij y_j||
    in the units of Y (infinite where the coefficients of i sum to zero).
    ``repulsion="auto"`` sums all pairs (O(n^2) time, O(n) memory) up to
    EXACT_RESIDUAL_MAX_ROWS points; above, the sparse partner set estimates them
    (``embedding_neighbours``: Y's nearest neighbours of each point, nearest first, when
    the caller has them already).
    """
    Y, settings, exact = _prepare(X, Y, law, graph, repulsion, EXACT_RESIDUAL_MAX_ROWS, n_embedding_neighbours,
                                  n_random, random_state)
    if exact:
        F, s, T = _exact_balance_terms(Y, settings)
    else:
        F, s, T = _sampled_balance_terms(Y, settings, n_embedding_neighbours, n_random, random_state,
                                         near=embedding_neighbours)
    net = np.linalg.norm(F, axis=1)
    if normalize:
        return np.divide(net, T, out=np.zeros_like(net), where=T > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(net > 0, net / np.abs(s), 0.0)


def pulling_neighbours(X, Y, points, *, n_top=10, law="umap", graph=None, exclude_selection=False,
                       random_state=0):
    """The input neighbours that pull ``points`` (one index or a set) where they are.

    Ranks the graph neighbours j of the selection by their summed attraction weight
    sum_{i in points} A_ij (input kernel p_ij times the output kernel's pull at d_ij)
    and returns (indices, shares): the top ``n_top`` neighbours and their share of the
    selection's total attraction. ``exclude_selection`` drops neighbours inside the
    selection (what ties a cluster to the rest).
    """
    Y = check_data(Y, name="Y", min_rows=3, dtype=np.float64)
    n = Y.shape[0]
    if X is not None and np.shape(X)[0] != n:
        raise ValueError(f"X and Y must have the same number of rows, got {np.shape(X)[0]} and {n}")
    selection = _selection(points, n)
    n_top = check_int(n_top, "n_top", low=1)
    settings = force_settings(X, law, graph=graph, random_state=random_state)
    if settings.graph.shape != (n, n):
        raise ValueError(f"the input graph is {settings.graph.shape} but Y has {n} rows")
    sub = settings.graph[selection]
    rows = selection[np.repeat(np.arange(len(selection)), np.diff(sub.indptr))]
    att, _ = _coefficients(settings, Y[sub.indices] - Y[rows], attraction=True)
    total = np.bincount(sub.indices, weights=sub.data * att, minlength=n)
    if exclude_selection:
        total[selection] = 0.0
    if total.sum() <= 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    candidates = np.flatnonzero(total > 0)
    order = candidates[np.lexsort((candidates, -total[candidates]))][:n_top]
    return order, total[order] / total.sum()


def _selection(points, n):
    arr = np.atleast_1d(np.asarray(points))
    if arr.size == 0:
        raise ValueError("points is empty; give a point index or a set of them")
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"a boolean selection must have {n} entries, got {arr.shape}")
        return np.flatnonzero(arr)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"points must be integer indices (or a boolean mask), got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"point indices must lie in [0, {n}), got range [{arr.min()}, {arr.max()}]")
    return np.unique(arr.ravel())


# ------------------------------------------------------ neighbourhood preservation


def _embedding_knn(Y, k):
    """Y's exact k nearest neighbours (self excluded), tie-broken as ardr.explain.metrics does."""
    return metrics._knn(Y, np.arange(Y.shape[0]), k, False)


def _check_pair(X, Y, k, *, half):
    X = check_data(X, name="X", min_rows=3, dtype=np.float64)
    Y = check_data(Y, name="Y", min_rows=3, dtype=np.float64)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    n = X.shape[0]
    k = check_int(k, "k", low=1)
    if k >= (n / 2 if half else n):
        raise ValueError(f"k={k} must be smaller than {'n / 2 = ' + str(n / 2) if half else 'n = ' + str(n)}"
                         f" for {n} points")
    return X, Y, k


def _input_indices(X, k, exact, input_knn, random_state):
    """X's k nearest neighbours: exact as ardr.explain.metrics finds them, else approximate/given."""
    if input_knn is None and exact:
        return metrics._knn(X, np.arange(X.shape[0]), k, False)
    return _input_knn(X, k, input_knn, random_state)[0]


def _normalized_trust(penalties, n, k):
    """Per-point Venna-Kaski term: its mean over all points is the global value."""
    return 1.0 - 2.0 * penalties / (k * (2.0 * n - 3.0 * k - 1.0))


def local_trustworthiness(X, Y, k=10, *, max_exact=20000, input_knn=None, n_reference=1000, random_state=0):
    """Per point i: 1 - 2 / (k (2n - 3k - 1)) sum_{j in N_Y(i)} max(0, rank_X(i, j) - k).

    Low where i's k nearest neighbours in Y are far apart in X. The mean over points
    equals ``ardr.explain.metrics.trustworthiness(X, Y, k)`` for n <= max_exact (same
    neighbours and ranks). Above, ranks in X are exact within X's K = max(3k, 30)
    nearest neighbours (approximate search, or ``input_knn``) and estimated beyond:
    the distances from i to ``n_reference`` seeded random points give an empirical
    distribution of i's distances (the m-th nearest of them has rank ~ m (n - 1) /
    n_reference), and rank_X(i, j) is interpolated in distance between those anchors
    and the K exact ones. O(n (K + n_reference) D) time, nothing n x n.
    """
    X, Y, k = _check_pair(X, Y, k, half=True)
    n = X.shape[0]
    near_y = _embedding_knn(Y, k)
    if n <= check_int(max_exact, "max_exact", low=0):
        return _normalized_trust(metrics._rank_penalties(X, np.arange(n), near_y), n, k)
    K = min(n - 1, max(3 * k, 30))
    idx, dist = _input_knn(X, K, input_knn, random_state)
    n_reference = check_int(n_reference, "n_reference", low=1)
    penalties = _estimated_penalties(X, near_y, idx[:, :K], dist[:, :K].astype(np.float64), n_reference,
                                     check_seed(random_state))
    return _normalized_trust(penalties, n, k)


def _estimated_penalties(X, near_y, idx, dist, n_reference, seed):
    n, k = near_y.shape
    K = idx.shape[1]
    match = near_y[:, :, None] == idx[:, None, :]
    found = match.any(axis=2)
    rank = np.where(found, match.argmax(axis=2) + 1.0, 0.0)  # position in the sorted list + 1
    reference = np.random.default_rng(seed).choice(n, size=min(n_reference, n), replace=False)
    R = X[reference].astype(np.float64)
    r_sq = np.einsum("ij,ij->i", R, R)
    per_draw = (n - 1) / len(reference)
    missing = np.flatnonzero(~found.all(axis=1))
    step = max(1, _BLOCK_BYTES // (8 * len(reference)))
    for start in range(0, len(missing), step):
        block = missing[start:start + step]
        Xb = X[block].astype(np.float64)
        sq = np.einsum("ij,ij->i", Xb, Xb)[:, None] + r_sq[None, :] - 2.0 * (Xb @ R.T)
        D = np.sqrt(np.maximum(sq, 0.0))
        D[block[:, None] == reference[None, :]] = np.inf  # i is not its own neighbour
        D.sort(axis=1)
        for r, i in enumerate(block):
            cols = np.flatnonzero(~found[i])
            d = np.linalg.norm(X[near_y[i, cols]].astype(np.float64) - X[i], axis=1)
            beyond = np.flatnonzero((D[r] > dist[i, -1]) & np.isfinite(D[r]))
            xs = np.concatenate([dist[i], D[r, beyond]])
            ys = np.concatenate([np.arange(1.0, K + 1), np.maximum((beyond + 1) * per_draw, K + 1)])
            estimate = np.interp(d, xs, np.maximum.accumulate(ys), right=n - 1)
            rank[i, cols] = np.clip(estimate, K + 1, n - 1)
    return np.maximum(rank - k, 0.0).sum(axis=1)


def local_continuity(X, Y, k=10, *, max_exact=20000, input_knn=None, random_state=0):
    """Per point i: the continuity term of i (X's neighbours ranked in Y); low where i's
    input neighbours are scattered in the embedding. Mean = ``ardr.explain.metrics.continuity``
    for n <= max_exact. Above, X's neighbours come from the approximate search (or
    ``input_knn``) and ranks in Y are exact counts from a KD-tree of Y."""
    X, Y, k = _check_pair(X, Y, k, half=True)
    n = X.shape[0]
    exact = n <= check_int(max_exact, "max_exact", low=0)
    near_x = _input_indices(X, k, exact, input_knn, random_state)
    if exact:
        return _normalized_trust(metrics._rank_penalties(Y, np.arange(n), near_x), n, k)
    return _normalized_trust(_counted_penalties(Y, near_x), n, k)


def _counted_penalties(Y, near):
    """sum_j max(0, rank_Y(i, j) - k), rank = 1 + #{l != i: |y_i - y_l| < |y_i - y_j|}, by tree counts."""
    from sklearn.neighbors import KDTree

    n, k = near.shape
    rows = np.repeat(np.arange(n), k)
    d = np.linalg.norm(Y[near.ravel()] - Y[rows], axis=1)
    radius = np.nextafter(d, 0.0)  # strictly closer than j; the count includes i itself
    counts = KDTree(Y).query_radius(Y[rows], radius, count_only=True)
    rank = np.maximum(counts, 1).reshape(n, k)
    return np.maximum(rank - k, 0).sum(axis=1).astype(np.float64)


def local_knn_overlap(X, Y, k=15, *, max_exact=20000, input_knn=None, random_state=0):
    """Per point: Jaccard overlap |N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)| of k-neighbour sets.

    Mean = ``ardr.explain.metrics.knn_overlap(X, Y, k)`` for n <= max_exact."""
    X, Y, k = _check_pair(X, Y, k, half=False)
    shared = _shared_neighbours(X, Y, k, max_exact, input_knn, random_state)
    return shared / (2.0 * k - shared)


def _shared_neighbours(X, Y, k, max_exact, input_knn, random_state):
    n = X.shape[0]
    exact = n <= check_int(max_exact, "max_exact", low=0)
    near_x = _input_indices(X, k, exact, input_knn, random_state)
    near_y = _embedding_knn(Y, k)
    return (near_x[:, :, None] == near_y[:, None, :]).any(axis=2).sum(axis=1).astype(np.float64)


def neighbour_agreement(X, Y, points=None, *, k=15, max_exact=20000, input_knn=None, random_state=0):
    """Share of a point's k nearest 2-D neighbours that are also among its k input neighbours.

    points=None: one value per point (array); one index: that point's value; a set of
    indices (or a boolean mask): the mean over the set (a cluster's agreement).
    """
    X, Y, k = _check_pair(X, Y, k, half=False)
    agreement = _shared_neighbours(X, Y, k, max_exact, input_knn, random_state) / k
    if points is None:
        return agreement
    selection = _selection(points, X.shape[0])
    if np.ndim(points) == 0:
        return float(agreement[selection[0]])
    return float(agreement[selection].mean())
