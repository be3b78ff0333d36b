"""The input side: who is whose neighbour, and how strongly.

- ``neighbors``: k-nearest-neighbour search (exact blocked BLAS, the IVF search,
  pynndescent, precomputed); ``ivf`` is the inverted-file search itself.
- ``affinities``: input kernels (UMAP's fuzzy graph, tSNE's perplexity affinities).
- ``initialization``: starting layouts (spectral, PCA, random).
- ``ordering``: a cache-friendly numbering of the points for the force loops.

Nothing here imports from ``engine``, ``methods``, ``explain`` or ``cli``.
"""
