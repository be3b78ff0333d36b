"""The estimators, thin over ``graph`` and ``engine`` (scikit-learn conventions).

- ``neighbor_embedding``: ``ARDR`` and its presets ``UMAP`` and ``TSNE``.
- ``classical``: ``PCA``, ``ClassicalMDS``, ``Isomap``, ``MetricMDS`` by forces, with
  the exact solvers of ``classical_exact`` as references.
- ``lle``: ``LLE`` and ``DKLLE``.
- ``registry``: the method names the command line and ``compare`` know.
"""

from .registry import METHODS, available, estimator_class, make_estimator

__all__ = ["METHODS", "available", "estimator_class", "make_estimator"]
