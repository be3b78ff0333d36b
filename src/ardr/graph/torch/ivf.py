"""The inverted-file kNN search of ``graph/ivf.py`` on a torch device.

The same algorithm, constants and seeded choices: k-means cells (step 1), the number of
probes measured on ``PROBE_SAMPLE`` rows searched exactly so that ``TARGET_RECALL`` of
their true neighbours are found (step 2), each row probing the cells of the centres
nearest itself (step 3), and rows sorted by (key, index) (step 5); wide data is searched
among its principal components when the sample says the projection keeps enough
neighbours. What differs is step 4, the blocks: instead of one product per cell feeding
per-row heaps, rows are taken in chunks (in the order of their own cells, so a chunk
probes few cells), each probed cell's rows against the chunk's rows that probe it in one
batched product, the k nearest of each (row, probed cell) pair kept in the row's slot
for that probe, and the slots of a row merged by ``topk``. Every slot is written by one
pair, so the result is a pure function of the data and the seed on any device.
"""

import numpy as np

from ...engine.torch.device import import_torch, to_numpy
from ...engine.torch.memory import BATCH_ELEMENTS, GATHER_ELEMENTS
from ...engine.torch.reduce import segment_sum
from ..ivf import (CANDIDATES_PER_NEIGHBOUR, CELL_SIZE, EXTRA_CANDIDATES, KMEANS_ITERATIONS, KMEANS_SAMPLE_PER_CELL,
                   MIN_PROBES, PROJECTED_DIMS, SPARE_PROBES, TARGET_RECALL, probe_sample)
from ._rows import TIE_MARGIN, take_sorted


def _kind(device):
    return "cuda" if device.type == "cuda" else "cpu"


def ivf_knn(R, k, *, n_probe=None, random_state=0, cell_size=CELL_SIZE, rows=None, index=None):
    """k nearest other rows of float32 R (n x D, a tensor) by squared euclidean distance:
    (indices int64, squared distances float32) tensors, rows sorted by (distance, index).
    ``n_probe=None`` measures the number of probes (step 2); an integer fixes it.
    ``rows`` (a tensor of row numbers; None: all): search only these rows, with the
    result each has in the full search (a sharded run's own rows). ``index``: the
    ``_Cells`` of R with this seed and cell size, when the caller has built them."""
    index = _Cells(R, cell_size, random_state) if index is None else index
    if n_probe is None:
        sample = _sample(R, random_state)
        n_probe = index.measured_probes(sample, exact_rows(R, sample, k)[0])
    return index.search(k, n_probe, rows)


def projected_ivf_knn(R, k, *, random_state=0, n_dims=PROJECTED_DIMS, cell_size=CELL_SIZE, rows=None):
    """``ivf_knn`` among the top ``n_dims`` principal components, candidates ranked by their
    distances in the full space; None (search the full space) when the sample says the
    projection loses too many neighbours."""
    n_candidates = min(R.shape[0] - 1, CANDIDATES_PER_NEIGHBOUR * k + EXTRA_CANDIDATES)
    projected = _principal_scores(R, n_dims)
    sample = _sample(R, random_state)
    index = _Cells(projected, cell_size, random_state)
    n_probe = index.measured_probes(sample, exact_rows(R, sample, k)[0], n_candidates=n_candidates)
    if n_probe is None:
        return None
    return rerank(R, index.search(n_candidates, n_probe, rows)[0], k, rows)


def _sample(R, seed):
    torch = import_torch()
    return torch.as_tensor(probe_sample(R.shape[0], seed).astype(np.int64), device=R.device)


def rerank(R, candidates, k, rows=None):
    """The k candidates of each row (of ``rows``; None: all) nearest in R's full space, by
    (squared distance, index)."""
    torch = import_torch()
    keys = torch.empty(candidates.shape, dtype=torch.float32, device=R.device)
    queries = R if rows is None else R[rows]
    step = max(1, GATHER_ELEMENTS[_kind(R.device)] // (candidates.shape[1] * R.shape[1]))
    for start in range(0, candidates.shape[0], step):
        diff = queries[start:start + step, None, :] - R[candidates[start:start + step]]
        keys[start:start + step] = (diff * diff).sum(-1)
    indices, keys = take_sorted(keys, candidates)
    return indices[:, :k].contiguous(), keys[:, :k].contiguous()


def _principal_scores(R, n_dims, block=65536):
    """R's scores on its top n_dims principal axes (covariance summed in float64 over row
    blocks; axes from numpy's symmetric eigensolver, as ``graph.initialization``), float32."""
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


def exact_rows(R, rows, k):
    """Exact k nearest other rows of R for the rows ``rows`` (a tensor), sorted by (key,
    index): the columns in blocks, each block's k + TIE_MARGIN nearest merged in."""
    torch = import_torch()
    n = R.shape[0]
    norms = (R * R).sum(dim=1)
    q = R[rows]
    best_key = torch.full((len(rows), 0), float("inf"), device=R.device)
    best = torch.empty((len(rows), 0), dtype=torch.int64, device=R.device)
    step = max(1, BATCH_ELEMENTS[_kind(R.device)] // max(1, len(rows)))
    for s in range(0, n, step):
        cols = torch.arange(s, min(n, s + step), device=R.device)
        key = (norms[rows][:, None] + norms[cols][None, :]).sub_((q @ R[cols].T).mul_(2.0))
        key.masked_fill_(cols[None, :] == rows[:, None], float("inf"))
        part_key, part = torch.topk(key, min(len(cols), k + TIE_MARGIN), dim=1, largest=False, sorted=False)
        best_key = torch.cat([best_key, part_key], dim=1)
        best = torch.cat([best, cols[part]], dim=1)
        if best.shape[1] > k + TIE_MARGIN:
            best, best_key = take_sorted(best_key, best)
            best, best_key = best[:, :k + TIE_MARGIN], best_key[:, :k + TIE_MARGIN]
    best, best_key = take_sorted(best_key, best)
    return best[:, :k], best_key[:, :k].clamp(min=0.0)


class _Cells:
    """Steps 1-5 over the rows S (float32 tensor)."""

    def __init__(self, S, cell_size, seed):
        torch = import_torch()
        self.S = S
        n = S.shape[0]
        self.n_cells = max(1, int(round(n / cell_size)))
        self.centres = _kmeans(S, self.n_cells, seed)
        self.norms = (S * S).sum(dim=1)
        self.cell = _nearest_centre(S, self.centres)
        self.order = torch.argsort(self.cell, stable=True)  # rows by cell, increasing within one
        self.starts = torch.searchsorted(self.cell[self.order], torch.arange(self.n_cells + 1, device=S.device))
        self.sizes = self.starts[1:] - self.starts[:-1]

    def measured_probes(self, sample, truth, n_candidates=None):
        """Step 2 (see ``graph.ivf._Cells.measured_probes``)."""
        torch = import_torch()
        c_norms = (self.centres * self.centres).sum(dim=1)
        gaps = c_norms[None, :] - 2.0 * (self.S[sample] @ self.centres.T)
        ids = torch.arange(self.n_cells, device=gaps.device).expand_as(gaps)
        ranked, _ = take_sorted(gaps, ids)
        position = torch.empty_like(ranked)
        position.scatter_(1, ranked, ids.contiguous())  # one write per (row, centre)
        needed = position.gather(1, self.cell[truth])  # probes that reach each true neighbour
        if n_candidates is not None:
            candidates, _ = exact_rows(self.S, sample, n_candidates)
            kept = (truth[:, :, None] == candidates[:, None, :]).any(dim=2)
            needed = torch.where(kept, needed, self.n_cells)
        found = torch.bincount(needed.reshape(-1), minlength=self.n_cells + 1)[: self.n_cells].cumsum(0)
        found = to_numpy(found) / needed.numel()
        if n_candidates is not None and found[-1] < TARGET_RECALL:
            return None
        reached = np.flatnonzero(found >= min(TARGET_RECALL, found[-1]))
        return int(max(MIN_PROBES, reached[0] + 1))

    def _probes(self, n_probe, depth, k, rows):
        """Each row's (of the tensor ``rows``) nearest ``depth`` centres (ties by index), cut
        after ``n_probe`` or, if those hold fewer than k other rows, after enough to hold
        them (-1: not probed)."""
        torch = import_torch()
        S, n = self.S[rows], len(rows)
        c_norms = (self.centres * self.centres).sum(dim=1)
        probes = torch.empty((n, depth), dtype=torch.int64, device=S.device)
        wanted = min(self.n_cells, depth + TIE_MARGIN)
        step = max(1, BATCH_ELEMENTS[_kind(S.device)] // self.n_cells)
        for s in range(0, n, step):
            key = (S[s:s + step] @ self.centres.T).mul_(-2.0).add_(c_norms[None, :])
            part_key, part = torch.topk(key, wanted, dim=1, largest=False, sorted=False)
            probes[s:s + step] = take_sorted(part_key, part)[0][:, :depth]
        held = self.sizes[probes].cumsum(dim=1) - 1  # other rows held (the row's own cell included)
        used = torch.clamp(1 + (held < k).sum(dim=1), min=n_probe)
        return probes.masked_fill_(torch.arange(depth, device=S.device)[None, :] >= used[:, None], -1)

    def search(self, k, n_probe, rows=None):
        """Steps 3-5: (indices, keys) of the rows ``rows`` (a tensor; None: all), sorted by
        (key, index). A row's result does not depend on which other rows are searched."""
        torch = import_torch()
        S, device = self.S, self.S.device
        if rows is None:
            rows = torch.arange(S.shape[0], device=device)
        n = len(rows)
        n_probe = min(n_probe, self.n_cells)
        depth = min(self.n_cells, n_probe + SPARE_PROBES)
        probes = self._probes(n_probe, depth, k, rows)
        indices = torch.empty((n, k), dtype=torch.int64, device=device)
        keys = torch.empty((n, k), dtype=torch.float32, device=device)
        chunk = max(1, BATCH_ELEMENTS[_kind(device)] // 4 // (depth * k))
        by_cell = torch.argsort(self.cell[rows], stable=True)  # positions in ``rows``, by cell
        for start in range(0, n, chunk):
            at = by_cell[start:start + chunk]
            found, found_key = self._chunk(rows[at], probes[at], k)
            indices[at], keys[at] = found, found_key
        short = torch.nonzero(~torch.isfinite(keys[:, -1])).flatten()  # fewer than k others probed
        if len(short):
            indices[short], keys[short] = exact_rows(S, rows[short], k)
        return indices, keys.clamp_(min=0.0)

    def _chunk(self, rows, probes, k):
        """The k nearest probed rows of the rows ``rows`` (their ``probes``: chunk x depth)."""
        torch = import_torch()
        S, device = self.S, self.S.device
        m, depth = probes.shape
        # (chunk row, probe rank) pairs by cell, rows increasing within a cell (stable)
        local = torch.arange(m, device=device).repeat_interleave(depth)
        rank = torch.arange(depth, device=device).repeat(m)
        cell = probes.reshape(-1)
        keep = cell >= 0
        local, rank, cell = local[keep], rank[keep], cell[keep]
        by_cell = torch.argsort(cell, stable=True)
        local, rank, cell = local[by_cell], rank[by_cell], cell[by_cell]
        cells, counts = torch.unique_consecutive(cell, return_counts=True)
        first = torch.cumsum(counts, 0) - counts
        slot_key = torch.full((m, depth, k), float("inf"), device=device)
        slot = torch.full((m, depth, k), -1, dtype=torch.int64, device=device)
        for batch in _batches(to_numpy(counts), to_numpy(self.sizes[cells]), S.shape[1], _kind(device)):
            b = torch.as_tensor(batch, device=device)
            q_width, c_width = int(counts[b].max()), int(self.sizes[cells[b]].max())
            q_slot = torch.arange(q_width, device=device)
            q_valid = q_slot[None, :] < counts[b][:, None]
            pair = torch.where(q_valid, first[b][:, None] + q_slot[None, :], 0)
            queries = rows[local[pair]]
            c_slot = torch.arange(c_width, device=device)
            c_valid = c_slot[None, :] < self.sizes[cells[b]][:, None]
            members = self.order[torch.where(c_valid, self.starts[cells[b]][:, None] + c_slot[None, :], 0)]
            # (|q|^2 + |r|^2) - 2 q.r, as the numba kernel rounds it, in two batch-sized tensors
            products = torch.bmm(S[queries], S[members].transpose(1, 2)).mul_(2.0)
            key = (self.norms[queries][:, :, None] + self.norms[members][:, None, :]).sub_(products)
            del products
            key.masked_fill_(members[:, None, :] == queries[:, :, None], float("inf"))
            key.masked_fill_(~c_valid[:, None, :], float("inf"))
            top = min(c_width, k)
            part_key, part = torch.topk(key, top, dim=2, largest=False, sorted=False)
            part = members[:, None, :].expand(-1, q_width, -1).gather(2, part)
            where = (local[pair][q_valid], rank[pair][q_valid])  # each (row, rank) once
            slot_key[where[0], where[1], :top] = part_key[q_valid]
            slot[where[0], where[1], :top] = part[q_valid]
        slot_key, slot = slot_key.reshape(m, -1), slot.reshape(m, -1)
        part_key, part = torch.topk(slot_key, min(slot.shape[1], k + TIE_MARGIN), dim=1, largest=False,
                                    sorted=False)
        found, found_key = take_sorted(part_key, slot.gather(1, part))
        return found[:, :k], found_key[:, :k]


def _batches(queries, members, n_dims, kind):
    """Cells (positions into ``queries``/``members``, in order) grouped so that a batch's
    padded queries x members stay within ``BATCH_ELEMENTS`` and its gathered coordinates
    within ``GATHER_ELEMENTS``."""
    batch, widest_q, widest_c = [], 0, 0
    for c in range(len(queries)):
        q, w = max(widest_q, int(queries[c])), max(widest_c, int(members[c]))
        cells = len(batch) + 1
        if batch and (cells * q * w > BATCH_ELEMENTS[kind] or cells * (q + w) * n_dims > GATHER_ELEMENTS[kind]):
            yield np.array(batch)
            batch, q, w = [], int(queries[c]), int(members[c])
        batch.append(c)
        widest_q, widest_c = q, w
    if batch:
        yield np.array(batch)


def _kmeans(R, n_cells, seed):
    """Lloyd's k-means on the seeded sample of ``graph.ivf._kmeans``; empty cells keep their
    centre; the centre sums are ``segment_sum``s (order-free)."""
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
