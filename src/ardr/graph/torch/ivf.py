"""The inverted-file kNN search of ``graph/ivf.py`` on a torch device.

Same algorithm and constants: k-means (seeded sample, Lloyd's iterations) cuts the
data into ~``CELL_SIZE``-point cells; each cell's points are compared with the points
of the cells whose centres lie nearest its own (at least ``n_probe`` cells and k + 1
points beyond its own); wide data is searched among its principal components and the
candidates ranked by exact distance. The difference is the batching: instead of one
matrix product per cell and a per-point heap, a batch of cells (grouped by how many
candidates they have) is one batched product, padded, followed by ``topk``. The result
is a pure function of the data and the seed: centre sums are ``segment_sum``s, and
every row is ordered by (distance, index).
"""

import numpy as np

from ...engine.torch.device import import_torch, to_numpy
from ...engine.torch.memory import BATCH_ELEMENTS, GATHER_ELEMENTS
from ...engine.torch.reduce import segment_sum
from ..ivf import (CANDIDATES_PER_NEIGHBOUR, CELL_SIZE, EXTRA_CANDIDATES, KMEANS_ITERATIONS, KMEANS_SAMPLE_PER_CELL,
                   PROJECTED_DIMS)
from ._rows import TIE_MARGIN, take_sorted

#: centres ranked per cell before the "enough points" rule needs more (then all are ranked)
PROBE_RANK_FACTOR = 4


def projected_ivf_knn(R, k, *, n_probe, random_state=0, n_dims=PROJECTED_DIMS, cell_size=CELL_SIZE):
    """``ivf_knn`` among the top ``n_dims`` principal components, candidates ranked by their
    distances in the full space."""
    torch = import_torch()
    n_candidates = min(R.shape[0] - 1, CANDIDATES_PER_NEIGHBOUR * k + EXTRA_CANDIDATES)
    projected = _principal_scores(R, n_dims)
    candidates, _ = ivf_knn(projected, n_candidates, n_probe=n_probe, random_state=random_state,
                            cell_size=cell_size)
    keys = torch.empty(candidates.shape, dtype=torch.float32, device=R.device)
    gather = GATHER_ELEMENTS["cuda" if R.device.type == "cuda" else "cpu"]
    rows = max(1, gather // (candidates.shape[1] * R.shape[1]))
    for start in range(0, R.shape[0], rows):
        diff = R[start:start + rows, None, :] - R[candidates[start:start + rows]]
        keys[start:start + rows] = (diff * diff).sum(-1)
    indices, keys = take_sorted(keys, candidates)
    return indices[:, :k].contiguous(), keys[:, :k].contiguous()


def _principal_scores(R, n_dims, block=65536):
    """R's scores on its top n_dims principal axes (covariance summed in float64 over row
    blocks; axes from numpy's symmetric eigensolver), as float32."""
    torch = import_torch()
    mean = R.double().mean(dim=0)
    cov = torch.zeros((R.shape[1], R.shape[1]), dtype=torch.float64, device=R.device)
    for start in range(0, R.shape[0], block):
        centred = R[start:start + block].double() - mean
        cov += centred.T @ centred
    _, vectors = np.linalg.eigh(to_numpy(cov))
    axes = torch.as_tensor(np.ascontiguousarray(vectors[:, ::-1][:, :n_dims]), device=R.device)
    scores = torch.empty((R.shape[0], axes.shape[1]), dtype=torch.float32, device=R.device)
    for start in range(0, R.shape[0], block):
        scores[start:start + block] = ((R[start:start + block].double() - mean) @ axes).float()
    return scores


def ivf_knn(R, k, *, n_probe, random_state=0, cell_size=CELL_SIZE):
    """k nearest other rows of float32 R (n x D, a tensor) by squared euclidean distance:
    (indices int64, squared distances float32) tensors, rows sorted by (distance, index)."""
    torch = import_torch()
    n = R.shape[0]
    device = R.device
    n_cells = max(1, int(round(n / cell_size)))
    centres = _kmeans(R, n_cells, random_state)
    cell = _nearest_centre(R, centres)
    order = torch.argsort(cell, stable=True)
    starts = torch.searchsorted(cell[order], torch.arange(n_cells + 1, device=device))
    sizes = starts[1:] - starts[:-1]
    probes = _probe_lists(centres, sizes, k, n_probe)  # n_cells x P, -1 padded
    norms = (R * R).sum(dim=1)

    probe_sizes = torch.where(probes >= 0, sizes[probes.clamp(min=0)], 0)
    n_candidates = probe_sizes.sum(dim=1)
    indices = torch.empty((n, k), dtype=torch.int64, device=device)
    keys = torch.empty((n, k), dtype=torch.float32, device=device)
    kind = "cuda" if device.type == "cuda" else "cpu"
    for batch in _batches(to_numpy(sizes), to_numpy(n_candidates), R.shape[1], BATCH_ELEMENTS[kind],
                          GATHER_ELEMENTS[kind]):
        cells = torch.as_tensor(batch, device=device)
        # the batch's queries (padded) and each cell's candidates: its probed cells' points
        width = int(sizes[cells].max())
        slot = torch.arange(width, device=device)
        q_valid = slot[None, :] < sizes[cells][:, None]
        queries = order[torch.where(q_valid, starts[cells][:, None] + slot[None, :], 0)]
        c_width = int(n_candidates[cells].max())
        c_slot = torch.arange(c_width, device=device)
        ends = probe_sizes[cells].cumsum(dim=1)
        which = torch.searchsorted(ends, c_slot.expand(len(batch), c_width).contiguous(), right=True)
        c_valid = c_slot[None, :] < n_candidates[cells][:, None]
        which = which.clamp(max=probes.shape[1] - 1)
        first = ends.gather(1, which) - probe_sizes[cells].gather(1, which)
        probe = probes[cells].gather(1, which).clamp(min=0)
        candidates = order[torch.where(c_valid, starts[probe] + c_slot[None, :] - first, 0)]

        # (|q|^2 + |r|^2) - 2 q.r, as the numba kernel rounds it, in two batch-sized tensors
        products = torch.bmm(R[queries], R[candidates].transpose(1, 2)).mul_(2.0)
        key = (norms[queries][:, :, None] + norms[candidates][:, None, :]).sub_(products)
        del products
        key.masked_fill_(candidates[:, None, :] == queries[:, :, None], float("inf"))
        key.masked_fill_(~c_valid[:, None, :], float("inf"))
        # k + TIE_MARGIN, so that ties with the k-th go to the lowest index (as the heap)
        part_key, part = torch.topk(key, min(c_width, k + TIE_MARGIN), dim=2, largest=False, sorted=False)
        part = candidates[:, None, :].expand(-1, width, -1).gather(2, part)
        part, part_key = take_sorted(part_key, part)
        rows = queries[q_valid]
        indices[rows] = part[q_valid][:, :k]
        keys[rows] = part_key[q_valid][:, :k]
    return indices, keys.clamp_(min=0.0)


def _batches(sizes, n_candidates, n_dims, batch_elements, gather_elements):
    """Cells grouped into batches of similar candidate counts, each batch's padded
    queries x candidates within ``batch_elements`` and candidates x dimensions within
    ``gather_elements``."""
    order = np.lexsort((np.arange(len(sizes)), n_candidates))
    batch, widest, longest = [], 0, 0
    for c in order:
        if sizes[c] == 0:
            continue
        w, l = max(widest, sizes[c]), max(longest, n_candidates[c])
        cells = len(batch) + 1
        if batch and (cells * w * l > batch_elements or cells * l * n_dims > gather_elements):
            yield np.array(batch)
            batch, w, l = [], sizes[c], n_candidates[c]
        batch.append(c)
        widest, longest = w, l
    if batch:
        yield np.array(batch)


def _kmeans(R, n_cells, seed):
    """Lloyd's k-means on the seeded sample of ``graph.ivf._kmeans``; empty cells keep their centre."""
    torch = import_torch()
    rng = np.random.default_rng(seed)
    n = R.shape[0]
    pick = np.sort(rng.choice(n, min(n, n_cells * KMEANS_SAMPLE_PER_CELL), replace=False))
    sample = R[torch.as_tensor(pick, device=R.device)]
    centres = sample[torch.as_tensor(np.sort(rng.choice(sample.shape[0], n_cells, replace=False)),
                                     device=R.device)].clone()
    for _ in range(KMEANS_ITERATIONS):
        label = _nearest_centre(sample, centres)
        sums = segment_sum(sample, label, n_cells)
        counts = torch.bincount(label, minlength=n_cells)
        filled = counts > 0
        centres[filled] = (sums[filled] / counts[filled, None]).float()
    return centres


def _nearest_centre(R, centres, block=65536):
    torch = import_torch()
    c_norms = (centres * centres).sum(dim=1)
    label = torch.empty(R.shape[0], dtype=torch.int64, device=R.device)
    for start in range(0, R.shape[0], block):
        label[start:start + block] = torch.argmin(c_norms[None, :] - 2.0 * (R[start:start + block] @ centres.T), dim=1)
    return label


def _probe_lists(centres, sizes, k, n_probe, block=4096):
    """For each cell: the cells with the nearest centres (itself first), at least n_probe
    of them and at least k + 1 points beyond the cell's own; n_cells x P, padded with -1."""
    torch = import_torch()
    n_cells = centres.shape[0]
    c_norms = (centres * centres).sum(dim=1)
    ranked_width = min(n_cells, max(n_probe, 1) * PROBE_RANK_FACTOR)
    lists = []
    for start in range(0, n_cells, block):
        stop = min(n_cells, start + block)
        gaps = c_norms[start:stop, None] - 2.0 * (centres[start:stop] @ centres.T) + c_norms[None, :]
        rows = torch.arange(stop - start, device=centres.device)
        gaps[rows, rows + start] = -float("inf")
        ids = torch.arange(n_cells, device=centres.device).expand(stop - start, n_cells)
        part_gap, part = torch.topk(gaps, ranked_width, dim=1, largest=False, sorted=False)
        ranked, _ = take_sorted(part_gap, part)
        total = sizes[ranked].cumsum(dim=1)
        need = (sizes[start:stop] + k + 1)[:, None]
        enough = (total < need).sum(dim=1) + 1
        short = torch.nonzero(enough > ranked_width).flatten()
        if len(short):  # tiny cells among tiny cells: rank every centre for those
            ranked_all, _ = take_sorted(gaps[short], ids[short])
            total_all = sizes[ranked_all].cumsum(dim=1)
            enough_all = (total_all < need[short]).sum(dim=1) + 1
            count = int(torch.clamp(enough_all, min=n_probe).max().clamp(max=n_cells))
            ranked = torch.cat([ranked, ranked.new_full((stop - start, max(0, count - ranked_width)), -1)], dim=1)
            ranked[short] = ranked_all[:, :ranked.shape[1]]
            enough[short] = enough_all
        count = torch.clamp(enough, min=n_probe).clamp(max=ranked.shape[1])
        keep = torch.arange(ranked.shape[1], device=centres.device)[None, :] < count[:, None]
        lists.append(torch.where(keep, ranked, -1))
    width = max(lst.shape[1] for lst in lists)
    lists = [torch.cat([lst, lst.new_full((lst.shape[0], width - lst.shape[1]), -1)], dim=1) for lst in lists]
    probes = torch.cat(lists)
    used = int((probes >= 0).sum(dim=1).max())
    return probes[:, :used].contiguous()
