"""DK-LLE's objective J for any embedding, and the constant-factor ratio (DESIGN 6a, 7).

J is UMAP's effective objective on the fuzzy input graph P (see ardr.engine.numba.dklle), so
it scores an embedding made by anything (ardr, umap-learn, tSNE, PCA) on the same
terms, as long as the graph is the same. The constant-factor conjecture says that
UMAP's output Y_U satisfies J(Y_U) <= c J(Y*_DK) with c not growing with n; we report
J(Y) / J(Y_DK) with Y_DK from ardr.DKLLE, next to PCA's and a random embedding's ratio
at their best overall scale (J is not scale-invariant, so a reference gets its most
favourable scale).
"""

import numpy as np

__all__ = ["dklle_objective", "constant_factor", "best_scale", "resolve_graph"]


def resolve_graph(X_or_graph, *, n_neighbors=15, min_dist=0.1, spread=1.0, metric="euclidean",
                  random_state=0, n_jobs=-1):
    """(P, a, b, X): the fuzzy graph of data X (built as ardr.UMAP builds it), a given
    sparse graph, or a fitted estimator's ``graph_`` (with its ``a_``, ``b_``). X is None
    unless data was given."""
    import scipy.sparse as sp

    from .._validation import check_data
    from ..engine.numba.kernels import fit_ab
    from ..methods.lle import fuzzy_graph

    a = b = None
    X = None
    if hasattr(X_or_graph, "graph_"):
        P = X_or_graph.graph_
        a, b = getattr(X_or_graph, "a_", None), getattr(X_or_graph, "b_", None)
    elif sp.issparse(X_or_graph):
        P = X_or_graph
    else:
        X = check_data(X_or_graph, min_rows=3)
        k = min(int(n_neighbors), X.shape[0])
        P = fuzzy_graph(X, k, metric=metric, random_state=random_state, n_jobs=n_jobs)[0]
    if a is None or b is None:
        a, b = fit_ab(spread, min_dist)
    return P, a, b, X


def _objective(P, a, b, negative_sample_rate, repulsion, dim):
    from ..engine.numba.dklle import DKObjective

    return DKObjective(P, a, b, negative_sample_rate, repulsion=repulsion, dim=dim)


def _check_embedding(Y, n):
    from .._validation import check_data

    Y = check_data(Y, name="Y", min_rows=3, dtype=np.float64)
    if Y.shape[0] != n:
        raise ValueError(f"Y has {Y.shape[0]} rows but the graph has {n} points")
    return Y


def dklle_objective(X_or_graph, Y, *, n_neighbors=15, min_dist=0.1, spread=1.0, negative_sample_rate=5,
                    metric="euclidean", repulsion="auto", random_state=0, return_parts=False):
    """J(Y) on the fuzzy graph of X (or on the given graph / fitted estimator's graph_).

    With ``return_parts`` a dict: J, attraction, repulsion (the two sums of J) and
    stationarity (||L_A Y - L_R Y|| / ||L_R Y||, 0 at a stationary point of J).
    ``repulsion``: "auto" (exact up to ardr.engine.numba.dklle.EXACT_MAX_ROWS points, grid
    estimate above), "exact" or "grid"."""
    P, a, b, _ = resolve_graph(X_or_graph, n_neighbors=n_neighbors, min_dist=min_dist, spread=spread,
                               metric=metric, random_state=random_state)
    Y = _check_embedding(Y, P.shape[0])
    ev = _objective(P, a, b, negative_sample_rate, repulsion, Y.shape[1]).evaluate(Y)
    if not return_parts:
        return ev.value
    return {"J": ev.value, "attraction": ev.attraction, "repulsion": ev.repulsion,
            "stationarity": ev.stationarity}


def best_scale(objective, Y, *, log_range=4.0, max_shifts=4):
    """(s, J(s Y)) minimizing J over the overall scale s > 0: bounded Brent search on log s
    within exp(+-log_range) of the current centre, re-centred (up to ``max_shifts`` times)
    when the minimum lands on the edge of that window."""
    from scipy.optimize import minimize_scalar

    Y = Y - Y.mean(axis=0)
    centre = 0.0
    for _ in range(max_shifts + 1):
        result = minimize_scalar(lambda u: objective.value(np.exp(u) * Y),
                                 bounds=(centre - log_range, centre + log_range), method="bounded",
                                 options={"xatol": 1e-3})
        if abs(result.x - centre) < 0.99 * log_range:
            break
        centre = float(result.x)
    s, value = float(np.exp(result.x)), float(result.fun)
    unscaled = objective.value(Y)
    if unscaled <= value:
        return 1.0, unscaled
    return s, value


def constant_factor(X_or_graph, Y, *, Y_dklle=None, X=None, n_neighbors=15, min_dist=0.1, spread=1.0,
                    negative_sample_rate=5, metric="euclidean", repulsion="auto", references=("pca", "random"),
                    dklle_params=None, random_state=0):
    """J(Y) / J(Y_DK): how far Y is from the DK-LLE optimum, in J's own units.

    ``Y_dklle``: a DK-LLE embedding of the same graph, or None to fit ardr.DKLLE here
    (``dklle_params`` go to it; default init "umap-epoch"). ``references``: "pca" (the
    data's top principal components; needs X, given here or as X_or_graph) and
    "random" (a seeded standard normal layout), each at its best scale. Returns a
    dict: J, J_dklle, ratio, ratio_at_best_scale (Y at its own best scale: how much of
    the gap is mere scale), best_scale, and references {name: {J, scale, ratio}}.
    """
    from ..graph.initialization import pca_layout
    from ..methods.lle import DKLLE

    P, a, b, X_data = resolve_graph(X_or_graph, n_neighbors=n_neighbors, min_dist=min_dist, spread=spread,
                                    metric=metric, random_state=random_state)
    if X is None:
        X = X_data
    n = P.shape[0]
    Y = _check_embedding(Y, n)
    dim = Y.shape[1]
    if Y_dklle is None:
        params = {"init": "umap-epoch", "random_state": random_state, "n_components": dim,
                  "negative_sample_rate": negative_sample_rate, "repulsion": repulsion}
        params.update(dklle_params or {})
        Y_dklle = DKLLE(precomputed_graph=P, **params).fit().embedding_
    Y_dklle = _check_embedding(Y_dklle, n)
    objective = _objective(P, a, b, negative_sample_rate, repulsion, dim)
    J = objective.value(Y)
    J_dk = objective.value(Y_dklle)
    scale, J_best = best_scale(objective, Y)
    out = {"J": J, "J_dklle": J_dk, "ratio": J / J_dk, "best_scale": scale, "ratio_at_best_scale": J_best / J_dk,
           "references": {}}
    rms = float(np.sqrt(np.mean(np.sum((Y_dklle - Y_dklle.mean(axis=0)) ** 2, axis=1))))
    for name in references:
        if name == "pca":
            if X is None:
                out["references"]["pca"] = None  # needs the data, not only its graph
                continue
            from .._validation import check_data

            Xc = check_data(X, min_rows=3, dtype=np.float64)
            if Xc.shape[0] != n:
                raise ValueError(f"X has {Xc.shape[0]} rows but the graph has {n} points")
            R = pca_layout(Xc, dim, random_state)
        elif name == "random":
            R = np.random.default_rng(random_state).normal(size=(n, dim))
        else:
            raise ValueError(f"unknown reference {name!r}; choose 'pca' or 'random'")
        R = R - R.mean(axis=0)
        R *= rms / max(float(np.sqrt(np.mean(np.sum(R**2, axis=1)))), 1e-300)  # start at DK-LLE's size
        s, J_ref = best_scale(objective, R)
        out["references"][name] = {"J": J_ref, "scale": s, "ratio": J_ref / J_dk}
    return out
