"""The one place that picks a backend: ``get_backend("numba" | "torch", device)``.

A backend is the set of functions and force-law classes the estimators' pipeline calls
(kNN -> input kernel -> start -> force law on the one optimizer). The pipeline is
written once, against these names; the data it passes between stages is one
description on the host (numpy kNN arrays, a scipy CSR graph, a numpy start), and
each backend lays it out for its own loops:

- "numba" (default): the compiled CPU kernels of ``ardr.engine.numba`` and the input
  side of ``ardr.graph``; embeddings are float64 numpy arrays.
- "torch": ``ardr.engine.torch`` and ``ardr.graph.torch`` on a torch device ("cpu",
  "cuda", "cuda:N"; default "cuda" when available); embeddings are float32 tensors
  (float64 for the strain law, whose products must match the SVD's).

torch is imported only when the torch backend is asked for.
"""

from functools import partial
from types import SimpleNamespace

import numpy as np

BACKENDS = ("numba", "torch")


def check_backend(backend):
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(map(repr, BACKENDS))}")
    return backend


def get_backend(backend="numba", device=None):
    """The backend's namespace (see the module docstring); ``device`` is used by "torch" only."""
    if check_backend(backend) == "numba":
        return _numba()
    return _torch(device)


def _numba():
    from ..engine.numba import gram, repulsion
    from ..engine.numba import graph as forces
    from ..graph import affinities, neighbors

    return SimpleNamespace(
        name="numba", device=None,
        nearest_neighbors=neighbors.nearest_neighbors,
        umap_graph=affinities.umap_graph, tsne_affinities=affinities.tsne_affinities,
        SampledGraphForces=forces.SampledGraphForces, NormalizedForces=forces.NormalizedForces,
        kl_divergence=forces.kl_divergence, repulsion=repulsion,
        FeatureGram=gram.FeatureGram, DenseGram=gram.DenseGram,
        asarray=lambda Y, dtype=None: Y, to_numpy=lambda Y: Y,
        reorders_points=True,
    )


def _torch(device):
    from ..engine.torch.device import resolve_device

    device = resolve_device(device)
    import torch

    from ..engine.torch import gram, repulsion
    from ..engine.torch import graph as forces
    from ..engine.torch.device import as_tensor, to_numpy
    from ..graph.torch import affinities, neighbors

    def asarray(Y, dtype=np.float32):
        return as_tensor(np.ascontiguousarray(Y), device, torch.float64 if dtype == np.float64 else torch.float32)

    return SimpleNamespace(
        name="torch", device=device,
        nearest_neighbors=partial(neighbors.nearest_neighbors, device=device),
        umap_graph=partial(affinities.umap_graph, device=device),
        tsne_affinities=partial(affinities.tsne_affinities, device=device),
        SampledGraphForces=forces.SampledGraphForces, NormalizedForces=forces.NormalizedForces,
        kl_divergence=partial(forces.kl_divergence, device=device), repulsion=repulsion,
        FeatureGram=partial(gram.FeatureGram, device=device), DenseGram=partial(gram.DenseGram, device=device),
        asarray=asarray, to_numpy=lambda Y: to_numpy(Y).astype(np.float64),
        # the torch force loops group rows by length themselves; RCM's locality is a CPU cache win
        reorders_points=False,
    )
