"""Sharded UMAP on torch.distributed: ``UMAP(backend="torch", distributed=True).fit(X)`` in
every rank of a job that torchrun launched (each rank gives the same X).

The single-process pipeline, stage by stage, with the points split between ranks
(docs/design.md, "Sharded UMAP"):

1. partition: k-means cells (the IVF search's), whole cells to ranks
   (``graph/torch/sharded.py``);
2. kNN: each rank searches its own rows against all of X (the same search, restricted
   to those rows: the single process's rows);
3. graph: the reverse edges go to their rows' ranks (all_to_all); each rank builds its
   rows of the fuzzy union; the prune threshold is the global maximum (all_reduce);
4. start: rank 0 computes the single process's start (the spectral one from the whole
   graph, gathered) and broadcasts it;
5. optimize: each rank moves its points by the torch backend's ``SampledGraphForces``,
   reading remote points from a ``Halo`` refreshed once per epoch (halo positions by
   all_to_all, cell means by all_gather);
6. the embedding is all_gathered: every rank's estimator ends with the whole embedding_.

With one process the result is the single-process torch run's, bit for bit.
"""

import time

import numpy as np

from . import umap_options

# one exchange per epoch: an epoch's UMAP_STEPS_PER_EPOCH steps read the remote points
# as they were at its start (own points move after every step)
EXCHANGE_EVERY_EPOCHS = 1


def check_distributed(c):
    """One clear error for each configuration a sharded run does not do."""
    if c.backend != "torch":
        raise ValueError("distributed=True runs on the torch backend: UMAP(backend='torch', distributed=True) "
                         "(device 'cpu' uses gloo, 'cuda' NCCL)")
    unsupported = [name for name, on in (
        ("normalized=True", c.normalized), ("densmap=True", c.densmap), ("output_dens=True", c.output_dens),
        ("unique=True", c.unique), ("precomputed_knn", c.precomputed_knn is not None),
        ("set_op_mix_ratio != 1", c.set_op_mix_ratio != 1.0), ("local_connectivity != 1", c.local_connectivity != 1.0),
        ("input_kernel='tsne'", c.input_kernel != "umap")) if on]
    if unsupported:
        raise ValueError(f"distributed=True shards UMAP's sampled objective only; not with {', '.join(unsupported)}")


def rank_seed(seed, rank):
    """Rank 0 draws the single process's numbers; rank r > 0 its own stream."""
    from ..engine.torch.graph import step_seed

    return int(seed) if rank == 0 else step_seed(seed, (1 << 40) + rank)


def fit_sharded(est, X, y, seed):
    """``est.fit(X)`` as one rank of a sharded run (``est._cfg`` set, X checked)."""
    import scipy.sparse as sp
    import torch

    from ..engine.torch.device import resolve_device
    from ..engine.torch.shards import Halo, Shards, local_device
    from ..graph.neighbors import _power_of_two_scale, _prepare
    from ..graph.torch.sharded import partition, umap_graph_rows
    from .neighbor_embedding import UMAP_STEPS_PER_EPOCH

    c = est._cfg
    check_distributed(c)
    if y is not None:
        raise ValueError("distributed=True does not do supervised UMAP: fit(X) without y")
    if not isinstance(c.metric, str) or c.metric == "precomputed" or hasattr(X, "tocsr"):
        raise ValueError("distributed=True needs dense rows and a metric of the euclidean family "
                         "(euclidean, cosine, correlation, hellinger)")
    device = local_device(resolve_device(c.device))
    c.device = str(device)
    shards = Shards(device)
    c.verbose = bool(c.verbose) and shards.rank == 0
    n = X.shape[0]
    a, b, k, n_knn = est._check_params(n)
    est.a_, est.b_, est._k = a, b, k
    engine = est._engine()
    timings = {}

    t0 = time.perf_counter()
    scale = _power_of_two_scale(X)
    cell, cell_owner = partition(torch.as_tensor(_prepare(X, c.metric, scale), device=device), shards.size, seed)
    owner = cell_owner[cell]
    if len(np.unique(owner)) < shards.size:  # the same answer on every rank: all raise together
        raise ValueError(f"{n} points make too few k-means cells for {shards.size} processes; "
                         f"use fewer processes (each needs a few hundred points at least)")
    own = np.flatnonzero(owner == shards.rank)
    timings["partition"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    idx, dist = engine.nearest_neighbors(X, n_knn, metric=c.metric, metric_kwds=c.metric_kwds, method=c.knn_method,
                                         random_state=seed, n_jobs=c.n_jobs, rows=own)
    timings["knn"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    dist = umap_options.cut_far_edges(dist, umap_options.disconnection_distance(c))
    P = umap_graph_rows(own, idx, dist, k, n, owner, shards, device=device)
    timings["graph"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    Y = _start(est, X, P, own, seed, n, shards)
    timings["init"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    est.n_epochs_ = est._default_epochs(n)
    P = _prune(P, est.n_epochs_, shards)
    remote = np.unique(P.indices[owner[P.indices] != shards.rank]).astype(np.int64)
    halo = Halo(shards, own, remote, owner, cell, cell_owner, every=EXCHANGE_EVERY_EPOCHS * UMAP_STEPS_PER_EPOCH,
                device=device)
    halo.weight_max = shards.all_reduce(P.data.max() if P.nnz else 0.0, "max")
    slots = halo.slots.cpu().numpy()
    local = sp.csr_matrix((P.data, slots[P.indices].astype(np.int32), P.indptr), shape=(len(own), len(halo.ids)))
    law, schedule = est._force_law(local, Y, a, b, rank_seed(seed, shards.rank), n, est.n_epochs_, halo=halo)
    est.n_iter_ = est._optimize(Y, law, schedule, "optimize")
    timings["optimize"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    embedding = np.empty((n, Y.shape[1]))
    order = np.concatenate([np.flatnonzero(owner == r) for r in range(shards.size)])
    embedding[order] = shards.all_gather_rows(torch.as_tensor(Y), "gather").numpy()
    timings["gather"] = time.perf_counter() - t0
    timings["total"] = sum(timings.values())

    est.distributed_stats_ = _stats(shards, P, owner, own, cell_owner, halo)
    est.timings_ = timings
    est.graph_, est.knn_indices_, est.knn_dists_ = P, idx, dist
    est.shard_rows_ = own
    est._X_fit, est._seed, est._unique_inverse = X, seed, None
    return embedding


def _start(est, X, P, own, seed, n, shards):
    """This rank's rows of the single process's start: rank 0 computes it (the spectral
    start from the whole graph, gathered to every rank) and broadcasts it."""
    import scipy.sparse as sp
    import torch

    c = est._cfg
    spectral = isinstance(c.init, str) and c.init in ("spectral", "tswspectral")
    whole = None
    if spectral:
        coo = P.tocoo()
        edges = torch.as_tensor(np.stack([own[coo.row], coo.col.astype(np.int64)], axis=1))
        edges = shards.all_gather_rows(edges, "init").numpy()
        weights = shards.all_gather_rows(torch.as_tensor(coo.data), "init").numpy()
        whole = sp.csr_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n, n))
        whole.sort_indices()
    Y = est._initial_layout(X, whole, seed, n) if shards.rank == 0 else np.empty((n, c.n_components))
    return np.ascontiguousarray(shards.broadcast(np.asarray(Y, dtype=np.float64), "init")[own])


def _prune(P, n_epochs, shards):
    """UMAP's prune (``ARDR._prune``) at the whole graph's threshold."""
    P = P.copy()
    P.data[P.data < shards.all_reduce(P.data.max() if P.nnz else 0.0, "max") / n_epochs] = 0.0
    P.eliminate_zeros()
    return P


def _stats(shards, P, owner, own, cell_owner, halo):
    """What the run exchanged, per rank and in total (``distributed_stats_``)."""
    import torch

    cross = int((owner[P.indices] != shards.rank).sum())
    mine = torch.tensor([[len(own), int((cell_owner == shards.rank).sum()), cross, P.nnz, len(halo.halo),
                          halo.bytes_per_refresh or 0] + [shards.sent.get(s, 0) for s in _STAGES]],
                        dtype=torch.int64)
    table = shards.all_gather_rows(mine, "stats").numpy()
    column = {name: table[:, i].tolist() for i, name in enumerate(
        ["points", "cells", "cross_shard_edges", "edges", "halo_points", "bytes_per_epoch"]
        + [f"bytes_{s}" for s in _STAGES])}
    return {
        "world_size": shards.size, "rank": shards.rank, "backend": shards.dist.get_backend(),
        "points_per_rank": column["points"], "cells_per_rank": column["cells"],
        "cross_shard_edges": int(sum(column["cross_shard_edges"])), "edges": int(sum(column["edges"])),
        "halo_points_per_rank": column["halo_points"],
        "bytes_per_epoch_per_rank": column["bytes_per_epoch"],
        "bytes_per_epoch": int(sum(column["bytes_per_epoch"])),
        "exchanges": halo.refreshes,
        "bytes_by_stage_per_rank": {s: column[f"bytes_{s}"] for s in _STAGES},
    }


_STAGES = ("setup", "graph", "init", "optimize", "gather")
