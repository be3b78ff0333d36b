"""Force laws: each turns the current embedding into a descent direction.

A force law is an object with ``direction(Y, epoch) -> F`` (n x d, the step the
optimizer scales by its learning rate) and optionally ``objective(Y)``. Points that
move are the *head*; the points they are attracted to and repelled from are the
*tail*. Fitting uses head = tail; ``transform`` moves new points against a fixed
tail (the fitted embedding).

- ``graph.SampledGraphForces``: UMAP's cross-entropy, edges sampled by weight and
  negative samples per edge visit, each term clipped.
- ``graph.NormalizedForces``: the normalized (tSNE) objective: exact attraction on
  the graph, repulsion divided by Z from a pluggable estimator
  (``repulsion.Exact``, ``repulsion.Sampled``, ``repulsion.FFT``).
- ``gram.FeatureGram`` / ``gram.DenseGram``: the kernels of the strain law (``engine/strain.py``),
  whose minimizers are PCA, classical MDS and Isomap.
- ``stress.StressForces``: metric MDS stress on sampled pairs.
- ``dklle``: DK-LLE's objective J, its weights and the LLE step (docs/mathematics.md, 6a).
"""
