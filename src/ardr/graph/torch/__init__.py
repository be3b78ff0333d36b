"""The input side on torch tensors (the torch backend's kNN search and input kernels),
mirroring ``graph/neighbors.py``, ``graph/ivf.py`` and ``graph/affinities.py``:

- ``neighbors``: exact kNN by blocked matrix products, the IVF search above a size
  limit; the same ``(indices int32, distances float32)`` numpy results.
- ``ivf``: the inverted-file search (k-means cells, all probed cells of a batch of
  cells in one batched matrix product).
- ``affinities``: UMAP's fuzzy graph and tSNE's perplexity affinities, returned as the
  same scipy CSR matrices as the numba backend's (the graph is one description; each
  backend lays it out for its force loops).

Imported only by the torch backend.
"""
