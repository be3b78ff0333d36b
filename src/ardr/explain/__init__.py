"""Explanations of a picture of data: what it can and cannot say about its input.

``explain(X, Y, labels=None, ...)`` (module ``explanation``) is the one call: group sizes
and distances, tears and gaps, splits and merges, neighbourhoods at several scales,
flung-out points and the force law, with a plain-language reading; the returned
``Explanation`` writes ``to_html``, ``to_json`` and ``to_csv``. Its parts:

- ``neighbourhoods``: the one input search and one pass over distance rows they share;
- ``groups``, ``tears``, ``scales``, ``outliers``, ``law``, ``reading``, ``figures``, ``html``;
- ``clustering``: groups found in the input when no labels are given;
- ``metrics``: global quality metrics (trustworthiness, continuity, ...);
- ``pointwise``: per-point diagnostics (stationarity weights and residuals, local
  neighbourhood preservation, the neighbours that pull a point);
- ``objective``: DK-LLE's objective J for any embedding and the constant-factor ratio.
"""

import importlib

_LAZY = {
    "explain": "explanation",
    "Explanation": "explanation",
    "dklle_objective": "objective",
    "constant_factor": "objective",
    "stationarity_weights": "pointwise",
    "reconstruction_residual": "pointwise",
    "local_trustworthiness": "pointwise",
    "local_continuity": "pointwise",
    "local_knn_overlap": "pointwise",
    "pulling_neighbours": "pointwise",
    "neighbour_agreement": "pointwise",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"ardr.explain.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ardr.explain' has no attribute {name!r}")
