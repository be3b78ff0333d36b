"""The PyTorch backend: the same force laws as ``engine/numba``, on any torch device
(CUDA GPUs; the CPU for tests). Imported only when an estimator asks for
``backend="torch"``; ``import ardr`` never loads torch.

- ``device``: resolving ``device=`` strings, the one import of torch with a clear error.
- ``layout``: a sparse graph's rows as padded blocks of similar length (per-point sums
  without atomics).
- ``reduce``: sums whose value does not depend on the order of additions (fixed-point
  integer accumulation) or on the CPU thread count.
- ``kernels``: q(t) = 1 / (1 + a t^b) and its force coefficients.
- ``graph``: UMAP's sampled cross-entropy, the normalized (tSNE) objective, KL.
- ``repulsion``: exact (blocked), sampled and FFT-interpolated repulsion for the
  normalized objective.
- ``gram``: the strain law's kernels (``FeatureGram``, ``DenseGram``); the law itself is
  ``ardr.engine.strain``, shared with the numba backend.

Determinism: the same seed gives the same bytes on the same device, software and (on
the CPU) any thread count. No floating-point atomics: every point's force is a dense
sum over its own padded row (``layout``), grid charges are summed as 64-bit integers
(``reduce``), random draws come from a generator reseeded from (seed, step), and
sorts are stable. Memory for 10,000,000 points: see ``ardr.engine.torch.memory``.
"""
