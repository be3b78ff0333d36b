"""Explanations of an embedding: what it preserves of its input, point by point.

- ``objective``: DK-LLE's objective J for any embedding and the constant-factor ratio
  (DESIGN 6a, 7).
- ``pointwise``: per-point diagnostics: stationarity weights and residuals,
  local trustworthiness/continuity, the input neighbours that pull a point.
"""

import importlib

_LAZY = {
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
