"""Approximate k nearest neighbours by an inverted file (IVF): k-means cells, probes chosen
per point, their number measured on the data, BLAS blocks.

The algorithm, step by step (rows R: float32, n x D; distances: squared euclidean):

1. **Cells.** Seeded Lloyd k-means (``KMEANS_ITERATIONS`` iterations on a seeded sample
   of ``KMEANS_SAMPLE_PER_CELL`` rows per cell) gives ``round(n / cell_size)`` centres,
   at most ``MAX_CELLS``; each row belongs to the cell of its nearest centre (ties:
   lowest centre index).
2. **Probe count, measured.** ``PROBE_SAMPLE`` seeded rows are searched exactly. For
   each sampled row the centres are ranked by distance to the row (ties by index); a
   true neighbour is found with p probes when its cell is among the row's p nearest
   centres (for a search among principal components, also when it is among the row's
   ``n_candidates`` nearest there). The number of probes p is the smallest whose found
   fraction over the sample reaches ``TARGET_RECALL`` (at least ``MIN_PROBES``). Above
   ``BUDGET_ABOVE_ROWS`` rows p is capped so that a query scans about
   ``SCAN_BUDGET_ROWS`` rows at most; a warning gives the sample's recall at the cap.
3. **Probes per row.** Each row is compared with the rows of the p cells whose centres
   lie nearest *the row itself* (more, up to ``p + SPARE_PROBES``, when those p cells
   hold fewer than k other rows; a row still short is searched exactly). One pass of
   products with the centres gives every row both its cell (the nearest) and its probes.
4. **Blocks.** For each cell, the rows that probe it (in increasing index) are compared
   with the cell's rows by one matrix product (key = |q|^2 + |r|^2 - 2 q.r), and each
   pair is offered to the query row's max-heap of the k smallest (key, index) pairs.
5. **Output.** Rows sorted by (key, index).

The result is a pure function of the data and the seed: each pair is offered once,
a heap keeps the k smallest under the total order (key, index) whatever the order of
offers, and the rows of one block are distinct, so threads never share a heap.

Measured (``benchmarks/knn.py``) against exact search: see the README's dependency table.
"""

import warnings

import numba
import numpy as np
import scipy.sparse as sp

from ._heaps import before, offer_block, replace_top, sort_one_row, sort_rows_in_place
from ._progress import progress_bar
from ._rows import sort_rows

CELL_SIZE = 256
KMEANS_ITERATIONS = 8
KMEANS_SAMPLE_PER_CELL = 64
PROBE_SAMPLE = 1000
TARGET_RECALL = 0.975
MIN_PROBES = 4
SPARE_PROBES = 8
# Every row is compared with every centre (steps 1 and 3) and k-means costs
# sample x cells, so a cell count growing with n makes the search quadratic: at 10M rows,
# 39,000 cells of 256 would cost ~4e13 flops in the centre products alone. Above
# MAX_CELLS cells (2.1M rows) the cells grow instead; the measured probe count keeps
# the recall. Per row the search then costs MAX_CELLS + probes x n / MAX_CELLS products.
MAX_CELLS = 8192
# Probe budget. Once the cells stop growing, the probes that reach TARGET_RECALL can scan a
# fixed fraction of all rows per query, and the search turns quadratic: on the 50 Gaussian
# clusters of ``perf.py million`` (50-d each) 97.5% takes half of a query's cluster, 93
# probes of 8,192 cells at 10M rows (1.1e12 pairs, ~70 min here). Above BUDGET_ABOVE_ROWS
# a query scans at most SCAN_BUDGET_ROWS rows, so the search stays linear in n; the
# recall the probe sample measures at that cap is reported in a warning. Below it the
# budget never binds on the benchmarks (at most ~47k rows: GloVe 400k, k = 90).
BUDGET_ABOVE_ROWS = MAX_CELLS * CELL_SIZE
SCAN_BUDGET_ROWS = 24_576
# Wide data and few neighbours: search among the top 100 principal components, then rank
# 2k + 32 candidates by exact distance (Fashion-MNIST 70k, k = 14: a product ~8x
# cheaper; for k = 90 ranking 212 candidates of 784 values each costs more than it saves).
PROJECT_ABOVE_DIMS = 128
PROJECT_MAX_K = 30
PROJECTED_DIMS = 100
CANDIDATES_PER_NEIGHBOUR = 2
EXTRA_CANDIDATES = 32
_BLOCK_ELEMENTS = 16_000_000  # ~64 MB float32 product block
_NO_INDEX = np.iinfo(np.int32).max


def ivf_knn(R, k, *, n_probe=None, random_state=0, cell_size=CELL_SIZE, progress=None):
    """k nearest other rows of float32 R (n x D) by squared euclidean distance:
    (indices int32, squared distances float32), each row sorted by (distance, index).
    ``n_probe=None`` measures the number of probes (step 2); an integer fixes it.
    ``progress(total, desc)``: a tqdm-like bar factory for the long loops (None: none)."""
    index = _Cells(R, cell_size, random_state, progress)
    if n_probe is None:
        sample = probe_sample(R.shape[0], random_state)
        n_probe = index.within_budget(index.measured_probes(sample, exact_rows(R, sample, k)[0]))
    return index.search(k, n_probe, progress)


def probe_sample(n, seed):
    """The seeded rows of step 2, in increasing order."""
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.choice(n, min(n, PROBE_SAMPLE), replace=False)).astype(np.int32)


def candidates_in(S, k, n_candidates, sample, truth, *, random_state=0, cell_size=CELL_SIZE, progress=None):
    """``n_candidates`` euclidean candidates per row of S for a search whose true k nearest
    neighbours are measured elsewhere (``truth`` of the rows ``sample``); None when S
    cannot find ``TARGET_RECALL`` of them."""
    index = _Cells(S, cell_size, random_state, progress)
    n_probe = index.measured_probes(sample, truth, n_candidates=n_candidates)
    if n_probe is None:
        return None
    return index.search(n_candidates, index.within_budget(n_probe), progress)[0]


def projected_ivf_knn(R, k, *, random_state=0, n_dims=PROJECTED_DIMS, cell_size=CELL_SIZE, progress=None):
    """``ivf_knn`` for wide data: candidates found among the top ``n_dims`` principal
    components (a matrix product ~D / n_dims times cheaper), then ranked by their exact
    distances in the full space. None (fall back to ``ivf_knn``) when the sample of
    step 2 says the projection loses too many neighbours to reach ``TARGET_RECALL``."""
    from .initialization import principal_scores

    n_candidates = min(R.shape[0] - 1, CANDIDATES_PER_NEIGHBOUR * k + EXTRA_CANDIDATES)
    projected = np.ascontiguousarray(principal_scores(R, n_dims), dtype=np.float32)
    sample = probe_sample(R.shape[0], random_state)
    candidates = candidates_in(projected, k, n_candidates, sample, exact_rows(R, sample, k)[0],
                               random_state=random_state, cell_size=cell_size, progress=progress)
    return None if candidates is None else rerank(R, candidates, k)


class _Cells:
    """Steps 1-5 over the rows S (float32)."""

    def __init__(self, S, cell_size, seed, progress=None):
        self.S = S
        n = S.shape[0]
        self.n_cells = max(1, min(MAX_CELLS, int(round(n / cell_size))))
        self.centres = _kmeans(S, self.n_cells, seed, progress)
        self.c_norms = np.einsum("ij,ij->i", self.centres, self.centres)
        self.norms = np.einsum("ij,ij->i", S, S)
        # Each row's cell, its nearest centre, is found in the search with the row's probes:
        # the rows' products with the centres are the search's largest cost before its
        # blocks (10M rows x 8,192 centres: ~4 min a pass), so they are computed once.

    def measured_probes(self, sample, truth, n_candidates=None):
        """Step 2: the fewest probes with which the search finds ``TARGET_RECALL`` of the
        true neighbours ``truth`` of the rows ``sample`` (None when it cannot, at any
        probe count, because they are not among the ``n_candidates`` nearest in S)."""
        S = self.S
        gaps = self.c_norms[None, :] - 2.0 * (S[sample] @ self.centres.T)
        ranked = np.lexsort((np.broadcast_to(np.arange(self.n_cells), gaps.shape), gaps), axis=1)
        position = np.empty_like(ranked)
        np.put_along_axis(position, ranked, np.arange(self.n_cells)[None, :], axis=1)
        rows, at = np.unique(truth, return_inverse=True)
        cells = _nearest_centre(S[rows], self.centres)[at].reshape(truth.shape)
        needed = np.take_along_axis(position, cells, axis=1)  # probes that reach each neighbour
        if n_candidates is not None:
            candidates, _ = exact_rows(S, sample, n_candidates)
            kept = (truth[:, :, None] == candidates[:, None, :]).any(axis=2)
            needed = np.where(kept, needed, self.n_cells)  # lost by the search space at any probe count
        found = np.bincount(needed.ravel(), minlength=self.n_cells + 1)[: self.n_cells].cumsum() / needed.size
        self.sample_recall = found  # [p - 1]: the fraction found with p probes
        if n_candidates is not None and found[-1] < TARGET_RECALL:
            return None
        reached = np.flatnonzero(found >= min(TARGET_RECALL, found[-1]))
        return int(max(MIN_PROBES, reached[0] + 1))

    def within_budget(self, n_probe):
        """``n_probe``, or fewer when its queries would scan more than ``SCAN_BUDGET_ROWS``
        rows each above ``BUDGET_ABOVE_ROWS`` rows; a cut is reported with the recall
        that the probe sample measured at the cap."""
        n = self.S.shape[0]
        cap = max(MIN_PROBES, SCAN_BUDGET_ROWS * self.n_cells // n)
        if n <= BUDGET_ABOVE_ROWS or n_probe <= cap:
            return n_probe
        warnings.warn(
            f"kNN search of {n:,} rows: {cap} probes of {self.n_cells:,} cells (~{SCAN_BUDGET_ROWS:,} rows per "
            f"query, a time linear in n) instead of the {n_probe} that reach recall {TARGET_RECALL}; a seeded "
            f"sample finds {self.sample_recall[cap - 1]:.3f} of the true neighbours with them",
            stacklevel=2)
        return cap

    def search(self, k, n_probe, progress=None):
        """Steps 3-5: (indices, keys), rows sorted by (key, index)."""
        S, n = self.S, self.S.shape[0]
        n_probe = min(n_probe, self.n_cells)
        depth = min(self.n_cells, n_probe + SPARE_PROBES)
        with progress_bar(progress, n, f"kNN cells and probes ({depth} nearest of {self.n_cells} centres)") as bar:
            probes = _nearest_centres(S, self.centres, self.c_norms, depth, bar.update)
        order = np.argsort(probes[:, 0], kind="stable").astype(np.int32)  # rows by cell, in increasing order
        starts = np.searchsorted(probes[order, 0], np.arange(self.n_cells + 1))
        members = [order[starts[c]:starts[c + 1]] for c in range(self.n_cells)]
        del order
        _cut_probes(probes, np.diff(starts), n_probe, k)
        heap_key = np.full((n, k), np.inf, dtype=np.float32)
        heap_index = np.full((n, k), _NO_INDEX, dtype=np.int32)
        tops = np.full(n, np.inf, dtype=np.float32)
        rows_of_cell, starts = _invert(probes, self.n_cells)
        del probes
        # the query rows and their products go to buffers allocated once: fresh arrays per
        # block cost a page fault per 4 KiB (GloVe 400k, k = 90: 0.8M faults, 20 s of system time)
        queries = np.empty(_BLOCK_ELEMENTS, dtype=np.float32)
        products = np.empty(_BLOCK_ELEMENTS, dtype=np.float32)
        with progress_bar(progress, self.n_cells, f"kNN search ({self.n_cells} cells, {n_probe} probes)") as bar:
            for c in range(self.n_cells):
                rows, cols = rows_of_cell[starts[c]:starts[c + 1]], members[c]
                if len(rows) and len(cols):
                    block = S[cols].T
                    step = max(1, _BLOCK_ELEMENTS // max(len(cols), S.shape[1]))
                    for s in range(0, len(rows), step):
                        q = rows[s:s + step]
                        q_rows = np.take(S, q, axis=0, out=queries[:len(q) * S.shape[1]].reshape(len(q), S.shape[1]))
                        out = products[:len(q) * len(cols)].reshape(len(q), len(cols))
                        offer_block(np.matmul(q_rows, block, out=out), self.norms[q], self.norms[cols], q, cols, q,
                                    heap_key, heap_index, tops, True)
                bar.update(1)
        del rows_of_cell
        short = np.flatnonzero(heap_index[:, 0] == _NO_INDEX)  # fewer than k others in every probe
        if len(short):
            heap_index[short], heap_key[short] = exact_rows(S, short.astype(np.int32), k)
        sort_rows_in_place(heap_key, heap_index)
        return heap_index, np.maximum(heap_key, 0.0, out=heap_key)


@numba.njit(parallel=True, cache=True)
def _nearest_cells(products, c_norms, nearest):
    """``_nearest_centres`` for a block of rows: the ``depth`` smallest keys of each row, by
    (key, index), sorted. Few of many (depth x 16 < cells) are kept in a bounded max-heap,
    where a key that does not beat the top costs one comparison (1M rows, 8,192 cells,
    depth 28: 24 s, against 72 s for a partition of every row's keys). Otherwise they are
    selected by the depth-th smallest key (GloVe 400k, 1,562 cells, depth 192: the
    partition takes 8.6 s, the heap 11.4 s)."""
    two = np.float32(2.0)
    n_cells = products.shape[1]
    depth = nearest.shape[1]
    by_heap = depth * 16 < n_cells
    for row in numba.prange(products.shape[0]):
        key = np.full(depth, np.inf, dtype=np.float32)
        index = np.full(depth, _NO_INDEX, dtype=np.int32)
        if by_heap:
            top = key[0]
            for c in range(n_cells):
                value = c_norms[c] - two * products[row, c]
                if value <= top and before(value, c, top, index[0]):
                    replace_top(key, index, value, c)
                    top = key[0]
        else:
            keys = np.empty(n_cells, dtype=np.float32)
            for c in range(n_cells):
                keys[c] = c_norms[c] - two * products[row, c]
            cut = np.partition(keys, depth - 1)[depth - 1]
            kept = 0
            for c in range(n_cells):  # the keys below the cut, then ties at it by index
                if keys[c] < cut:
                    key[kept] = keys[c]
                    index[kept] = c
                    kept += 1
            for c in range(n_cells):
                if kept < depth and keys[c] == cut:
                    key[kept] = keys[c]
                    index[kept] = c
                    kept += 1
        sort_one_row(key, index)
        nearest[row] = index


@numba.njit(parallel=True, cache=True)
def _cut_probes(probes, sizes, n_probe, k):
    """Each row's nearest cells (in place) kept while fewer than ``n_probe`` or while those
    kept hold fewer than k other rows; the rest -1."""
    for row in numba.prange(probes.shape[0]):
        held = -1  # other rows in the cells kept so far (the row's own cell holds the row)
        for p in range(probes.shape[1]):
            if p < n_probe or held < k:
                held += sizes[probes[row, p]]
            else:
                probes[row, p] = -1


@numba.njit(cache=True)
def _invert(probes, n_cells):
    """For each cell the rows probing it, in increasing order: (rows, starts). A counting
    sort: one pass to count, one to place."""
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    for i in range(probes.shape[0]):
        for p in range(probes.shape[1]):
            if probes[i, p] >= 0:
                starts[probes[i, p] + 1] += 1
    for c in range(n_cells):
        starts[c + 1] += starts[c]
    rows = np.empty(starts[n_cells], dtype=np.int32)
    fill = starts[:-1].copy()
    for i in range(probes.shape[0]):
        for p in range(probes.shape[1]):
            c = probes[i, p]
            if c >= 0:
                rows[fill[c]] = i
                fill[c] += 1
    return rows, starts


def exact_rows(R, rows, k):
    """Exact k nearest other rows of R for the rows ``rows`` (sorted by (key, index))."""
    n = R.shape[0]
    key = np.full((len(rows), k), np.inf, dtype=np.float32)
    index = np.full((len(rows), k), _NO_INDEX, dtype=np.int32)
    norms = np.einsum("ij,ij->i", R, R)
    q, heap_rows = R[rows], np.arange(len(rows), dtype=np.int32)
    tops = np.full(len(rows), np.inf, dtype=np.float32)
    step = max(1, _BLOCK_ELEMENTS // max(1, len(rows)))
    for s in range(0, n, step):
        cols = np.arange(s, min(n, s + step), dtype=np.int32)
        offer_block(q @ R[s:s + step].T, norms[rows], norms[s:s + step], rows, cols, heap_rows, key, index, tops, True)
    sort_rows_in_place(key, index)
    return index, np.maximum(key, 0.0, out=key)


def _kmeans(R, n_cells, seed, progress=None):
    """Lloyd's k-means on a seeded sample; empty cells keep their centre."""
    rng = np.random.default_rng(seed)
    n = R.shape[0]
    sample = R[np.sort(rng.choice(n, min(n, n_cells * KMEANS_SAMPLE_PER_CELL), replace=False))]
    centres = sample[np.sort(rng.choice(sample.shape[0], n_cells, replace=False))].astype(np.float32)
    with progress_bar(progress, KMEANS_ITERATIONS, f"kNN k-means ({n_cells} cells)") as bar:
        for _ in range(KMEANS_ITERATIONS):
            centres = _lloyd_step(sample, centres, n_cells)
            bar.update(1)
    return centres


def _lloyd_step(sample, centres, n_cells):
    """One Lloyd iteration: each centre moves to the mean of its sample rows."""
    label = _nearest_centre(sample, centres)
    members = sp.csr_matrix((np.ones(len(label)), (label, np.arange(len(label)))), shape=(n_cells, len(label)))
    sums = members @ sample.astype(np.float64)
    counts = np.bincount(label, minlength=n_cells)
    filled = counts > 0
    centres[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return centres


def _nearest_centre(R, centres):
    """Each row's nearest centre (key |c|^2 - 2 r.c; ties: lowest index): k-means' sample
    and the probe sample's neighbours."""
    return _nearest_centres(R, centres, np.einsum("ij,ij->i", centres, centres), 1)[:, 0]


def _nearest_centres(R, centres, c_norms, depth, advance=None):
    """Each row's ``depth`` nearest centres by (key, index), key |c|^2 - 2 r.c. The
    products go to one buffer reused block after block and the selection is compiled:
    numpy's ``c_norms - 2 * (block @ C.T)`` made three fresh 256 MB arrays per block, and
    at 10M rows x 8,192 centres their page faults cost more than the products (7 min
    for the assignment and k-means). ``advance(rows)`` after each block (a progress bar)."""
    n, n_cells = R.shape[0], centres.shape[0]
    nearest = np.empty((n, depth), dtype=np.int32)
    step = max(1, _BLOCK_ELEMENTS // n_cells)
    products = np.empty((min(n, step), n_cells), dtype=np.float32)
    for s in range(0, n, step):
        block = np.matmul(R[s:s + step], centres.T, out=products[:min(n, s + step) - s])
        _nearest_cells(block, c_norms, nearest[s:s + step])
        if advance is not None:
            advance(len(block))
    return nearest


def rerank(R, candidates, k):
    """The k candidates of each row nearest in R's full space, by (squared distance, index)."""
    keys = full_keys(R, candidates)
    order = sort_rows(keys, candidates)[:, :k]
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(keys, order, axis=1)


@numba.njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def full_keys(R, candidates):
    """Squared distances in R's full space from each row to its candidates."""
    n, c = candidates.shape
    keys = np.empty((n, c), dtype=np.float32)
    for i in numba.prange(n):
        for s in range(c):
            j = candidates[i, s]
            acc = np.float32(0.0)  # reassociated: a vectorized sum, one fixed order
            for d in range(R.shape[1]):
                diff = R[i, d] - R[j, d]
                acc += diff * diff
            keys[i, s] = acc
    return keys
