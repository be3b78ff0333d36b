"""Groups of the input, found on its kNN graph, for ``ardr explain`` when no labels are given.

Chosen: Leiden communities (Traag, Waltman & van Eck 2019; scanpy's default clustering)
that maximize modularity at resolution 0.5 on UMAP's fuzzy graph of the k nearest
neighbours, written here in numba; then groups of fewer than max(5, n/1000) points join
the neighbouring group they share the most edge weight with.

Why, in numbers (``benchmarks/clustering.py``, ``benchmarks/results/clustering.json``;
ARI = adjusted Rand index against the true classes, median of seeds 0-2; a shared 2-core
machine, 1-minute load 5-8 during the run):

- Leiden against the other families, ARI on digits / mnist5k / Fashion-MNIST 10k: Leiden
  0.91 / 0.69 / 0.43 (this module); spectral clustering with the number of groups by
  eigengap 0.83 / 0.00 (one group) / 0.40; Ward with the kNN connectivity 0.70 / 0.00 /
  0.36; HDBSCAN on 10 principal components 0.20 / 0.04 / 0.07. Louvain (igraph) scores as
  Leiden within the seed-to-seed spread; Leiden's refinement also guarantees connected
  communities, which Louvain does not (Traag et al.).
- numba against python-igraph's Leiden (same objective, graph and number of passes): the
  same ARI within the spread over seeds (Fashion-MNIST 70k: 0.462 here, 0.448 igraph;
  10k: 0.426 and 0.449). On a 1,000,000 x 15 graph the whole of ``find_groups`` takes
  18.9 s (11.2 s of CPU) and 1,325 MiB peak RSS; igraph's Leiden on the same fuzzy graph
  50.3 s (38.4 s of CPU) and 2,826 MiB, much of it copying scipy's graph into igraph's.
  farm-bench pairs on Fashion-MNIST 70k, whole processes: CPU time ratio 0.44 (297 against
  432 MiB). A first call in a new process costs 0.44 s with numba's disk cache, 4.9 s
  compiling without it. So no new dependency: igraph (a 5.7 MB compiled wheel, 16.5 MiB
  installed, plus texttable) would be slower and heavier here, not better.
- Resolution and weights (ten seeds each, mean ARI over the four real data sets): UMAP's
  fuzzy weights at 0.5 score 0.627, at 1.0 (scanpy's default) 0.614, at 0.3 0.608;
  plain symmetrized kNN at best 0.603. At 0.5 the six Gaussians of issue 11 (two close
  pairs, one cluster 5x wider) come out as 6 groups (ARI 0.954), a 20-D Gaussian blob as
  1 or 2 groups (16-19 at 1.0); at 0.3 the close pairs merge.

Limits, said plainly: modularity cuts a continuum into pieces. A smooth curve of 3,000
points in 20-D becomes 42 groups, a 3-D Gaussian blob 12; no candidate measured kept the
curve whole (spectral 25 pieces, Ward 29, HDBSCAN 23). Such groups are pieces, not
clusters: they must be reported as "clusters found in the input", never as the data's
own. A connected component smaller than the minimum size has nothing to merge into and
stays its own group (a kNN graph's components have at least k + 1 points).
"""

import heapq

import numba
import numpy as np
import scipy.sparse as sp

from ardr._validation import check_seed

DEFAULT_RESOLUTION = 0.5
# Leiden passes, as igraph's default. Passing until no node moves (measured while choosing,
# seed 0-2 means) reached modularity 0.8180 against 0.8178 on mnist5k, 0.8543 against 0.8528
# on Fashion-MNIST 10k, 0.9799 both on the 1M graph, for 1.3x the time there.
LEIDEN_ITERATIONS = 2


@numba.njit(inline="always", cache=True)
def _gather_links(v, indptr, adj, weight, label, community, within, link, seen):
    """Sum v's edge weights by the label of the neighbour (into ``link``, the labels met
    listed in ``seen``), its self-loop left out and, unless ``within`` is -1, only
    neighbours of that community counted. Returns how many labels were met."""
    n_seen = 0
    for e in range(indptr[v], indptr[v + 1]):
        u = adj[e]
        if u == v or (within >= 0 and community[u] != within):
            continue
        c = label[u]
        if link[c] == 0.0:
            seen[n_seen] = c
            n_seen += 1
        link[c] += weight[e]
    return n_seen


@numba.njit(cache=True)
def _local_moves(indptr, adj, weight, node_weight, community, order, gamma_over_2m):
    """Leiden's fast local moving: visit nodes from a queue (seeded order), move each to
    the neighbouring (or an empty) community of largest modularity gain, and requeue the
    neighbours that the move may now attract. Returns the number of moves."""
    n = node_weight.shape[0]
    total = np.zeros(n, dtype=np.float64)  # community weight (sum of degrees)
    members = np.zeros(n, dtype=np.int64)
    for i in range(n):
        total[community[i]] += node_weight[i]
        members[community[i]] += 1
    empty = np.empty(n, dtype=np.int64)
    n_empty = 0
    for c in range(n - 1, -1, -1):
        if members[c] == 0:
            empty[n_empty] = c
            n_empty += 1
    queue = np.empty(n, dtype=np.int64)
    queued = np.ones(n, dtype=np.bool_)
    for i in range(n):
        queue[i] = order[i]
    head, size = 0, n
    link = np.zeros(n, dtype=np.float64)  # weight from the current node to each community
    seen = np.empty(n, dtype=np.int64)
    moves = 0
    while size > 0:
        v = queue[head]
        head = (head + 1) % n
        size -= 1
        queued[v] = False
        current = community[v]
        n_seen = _gather_links(v, indptr, adj, weight, community, community, -1, link, seen)
        kv = node_weight[v]
        total[current] -= kv
        best = current
        best_gain = link[current] - gamma_over_2m * kv * total[current]
        for s in range(n_seen):
            c = seen[s]
            gain = link[c] - gamma_over_2m * kv * total[c]
            if gain > best_gain:
                best, best_gain = c, gain
        if best_gain < 0.0 and members[current] > 1:  # alone is better than any community
            n_empty -= 1
            best = empty[n_empty]
        for s in range(n_seen):
            link[seen[s]] = 0.0
        link[current] = 0.0
        total[best] += kv
        if best != current:
            moves += 1
            members[current] -= 1
            members[best] += 1
            if members[current] == 0:
                empty[n_empty] = current
                n_empty += 1
            community[v] = best
            for e in range(indptr[v], indptr[v + 1]):
                u = adj[e]
                if not queued[u] and community[u] != best:
                    queued[u] = True
                    queue[(head + size) % n] = u
                    size += 1
    return moves


@numba.njit(cache=True)
def _refine(indptr, adj, weight, node_weight, community, order, gamma_over_2m):
    """Leiden's refinement: within each community, merge singletons greedily into
    well-connected sub-communities, so every refined community is connected."""
    n = node_weight.shape[0]
    refined = np.arange(n)
    total = node_weight.copy()  # refined community weight
    size = np.ones(n, dtype=np.int64)
    comm_total = np.zeros(n, dtype=np.float64)
    for i in range(n):
        comm_total[community[i]] += node_weight[i]
    # external weight of each refined community to the rest of its community
    external = np.zeros(n, dtype=np.float64)
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            u = adj[e]
            if u != i and community[u] == community[i]:
                external[i] += weight[e]
    link = np.zeros(n, dtype=np.float64)
    seen = np.empty(n, dtype=np.int64)
    for t in range(n):
        v = order[t]
        if size[refined[v]] != 1:
            continue
        c_v = community[v]
        kv = node_weight[v]
        if external[v] < gamma_over_2m * kv * (comm_total[c_v] - kv):
            continue  # v is not well connected to its community
        n_seen = _gather_links(v, indptr, adj, weight, refined, community, c_v, link, seen)
        best = refined[v]
        best_gain = 0.0
        for s in range(n_seen):
            r = seen[s]
            if external[r] < gamma_over_2m * total[r] * (comm_total[c_v] - total[r]):
                continue
            gain = link[r] - gamma_over_2m * kv * total[r]
            if gain > best_gain:
                best, best_gain = r, gain
        if best != refined[v]:
            old = refined[v]
            external[best] += external[old] - 2.0 * link[best]
            total[best] += kv
            size[best] += 1
            size[old] = 0
            total[old] = 0.0
            refined[v] = best
        for s in range(n_seen):
            link[seen[s]] = 0.0
    return refined


@numba.njit(cache=True)
def _aggregate(indptr, adj, weight, node_weight, part, n_parts):
    """The graph whose nodes are the parts: summed edge weights (self-loops hold each
    part's internal weight), summed node weights."""
    n = node_weight.shape[0]
    start = np.zeros(n_parts + 1, dtype=np.int64)
    for i in range(n):
        start[part[i] + 1] += 1
    for p in range(n_parts):
        start[p + 1] += start[p]
    members = np.empty(n, dtype=np.int64)
    fill = start[:-1].copy()
    for i in range(n):
        members[fill[part[i]]] = i
        fill[part[i]] += 1
    new_weight = np.zeros(n_parts, dtype=np.float64)
    link = np.zeros(n_parts, dtype=np.float64)
    seen = np.empty(n_parts, dtype=np.int64)
    new_indptr = np.zeros(n_parts + 1, dtype=np.int64)
    capacity = indptr[n]
    new_adj = np.empty(capacity, dtype=np.int32)
    new_w = np.empty(capacity, dtype=np.float64)
    nnz = 0
    for p in range(n_parts):
        n_seen = 0
        for m in range(start[p], start[p + 1]):
            i = members[m]
            new_weight[p] += node_weight[i]
            for e in range(indptr[i], indptr[i + 1]):
                q = part[adj[e]]
                if link[q] == 0.0:
                    seen[n_seen] = q
                    n_seen += 1
                link[q] += weight[e]
        for s in range(n_seen):
            q = seen[s]
            new_adj[nnz] = np.int32(q)
            new_w[nnz] = link[q]
            link[q] = 0.0
            nnz += 1
        new_indptr[p + 1] = nnz
    return new_indptr, new_adj[:nnz].copy(), new_w[:nnz].copy(), new_weight


def _compact(labels):
    """Labels renumbered 0..G-1 (in order of the old values) and G."""
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64).ravel(), int(inverse.max()) + 1


def _visit_order(rng, n):
    """A seeded shuffle of blocks of consecutive nodes (at least 256 blocks, at most 4,096
    nodes each): random enough that no sweep direction is favoured, local enough for the
    caches once the graph is in locality order (1M graph: Leiden in 9.0 s of CPU against
    19.0 s in the input order with single nodes shuffled; modularity 0.9799 both)."""
    block = min(4096, max(1, n // 256))
    starts = rng.permutation((n + block - 1) // block) * block
    order = (starts[:, None] + np.arange(block)[None, :]).ravel()
    return order[order < n]


def modularity(graph, labels, resolution=1.0):
    """Newman's modularity of a partition of a symmetric weighted graph."""
    coo = sp.coo_matrix(graph)
    labels = _compact(labels)[0]
    degree = np.bincount(coo.row, weights=coo.data, minlength=labels.size)
    two_m = degree.sum()
    inside = coo.data[labels[coo.row] == labels[coo.col]].sum()
    volume = np.bincount(labels, weights=degree)
    return float((inside - resolution * (volume**2).sum() / two_m) / two_m)


def leiden(graph, *, resolution=DEFAULT_RESOLUTION, random_state=0, n_iterations=LEIDEN_ITERATIONS):
    """Modularity communities of a symmetric sparse graph by the Leiden algorithm (Traag,
    Waltman & van Eck 2019), refinement greedy (its low-temperature limit).

    Runs on one thread in a seeded order, so the labels depend only on the graph and the
    seed. Nodes are first renumbered by reverse Cuthill-McKee so that a sweep reads nearby
    memory. Labels are numbered 0..G-1 in no particular order.
    """
    from ardr.graph.ordering import locality_order, permute_graph

    graph = sp.csr_matrix(graph, dtype=np.float64)
    n = graph.shape[0]
    perm = locality_order(graph)
    graph = permute_graph(graph, perm)
    node_weight = np.asarray(graph.sum(axis=1)).ravel()
    two_m = node_weight.sum()
    if two_m <= 0:
        return np.arange(n, dtype=np.int64)
    gamma = resolution / two_m
    rng = np.random.default_rng(random_state)
    labels = np.arange(n, dtype=np.int64)
    for _ in range(n_iterations):
        indptr, adj, weight, nw = graph.indptr.astype(np.int64), graph.indices, graph.data, node_weight
        community = labels.copy()
        to_level = np.arange(n, dtype=np.int64)  # each input node's node in the aggregated graph
        moved = 0
        while True:
            m = nw.shape[0]
            moved += _local_moves(indptr, adj, weight, nw, community, _visit_order(rng, m), gamma)
            community, n_comm = _compact(community)
            if n_comm == m:
                break
            refined, n_ref = _compact(_refine(indptr, adj, weight, nw, community, _visit_order(rng, m), gamma))
            if n_ref == m:  # refinement merged nothing: aggregate the communities themselves
                refined, n_ref = community, n_comm
            community_of_refined = np.empty(n_ref, dtype=np.int64)
            community_of_refined[refined] = community
            indptr, adj, weight, nw = _aggregate(indptr, adj, weight, nw, refined, n_ref)
            to_level = refined[to_level]
            community = community_of_refined
        labels = community[to_level]
        if moved == 0:
            break
    out = np.empty(n, dtype=np.int64)
    out[perm] = _compact(labels)[0]
    return out


def merge_small_groups(graph, labels, min_size):
    """Merge each group of fewer than ``min_size`` points, smallest first, into the group
    it shares the most edge weight with. A group with no edge to another (a small
    connected component of the graph) stays on its own."""
    labels, n_groups = _compact(labels)
    size = np.bincount(labels, minlength=n_groups)
    if size.min() >= min_size:
        return labels
    M = sp.csr_matrix((np.ones(labels.size), (np.arange(labels.size), labels)), shape=(labels.size, n_groups))
    between = (M.T @ graph @ M).tocsr()
    links = [{int(h): float(w) for h, w in zip(between.indices[between.indptr[g]:between.indptr[g + 1]],
                                               between.data[between.indptr[g]:between.indptr[g + 1]]) if h != g}
             for g in range(n_groups)]
    into = np.arange(n_groups)
    heap = [(int(size[g]), g) for g in range(n_groups) if size[g] < min_size]
    heapq.heapify(heap)
    while heap:
        s, g = heapq.heappop(heap)
        if into[g] != g or s != size[g] or not links[g]:
            continue  # merged away, grown since it was queued, or isolated
        best = max(links[g], key=lambda h: (links[g][h], -h))
        into[g] = best
        size[best] += size[g]
        for h, w in links[g].items():
            del links[h][g]
            if h != best:
                links[best][h] = links[best].get(h, 0.0) + w
                links[h][best] = links[h].get(best, 0.0) + w
        links[g] = {}
        if size[best] < min_size:
            heapq.heappush(heap, (int(size[best]), best))
    while not np.array_equal(into[into], into):  # follow chains of merges to their end
        into = into[into]
    return into[labels]


def by_size(labels):
    """Groups renumbered 0..G-1 by decreasing size, ties by smallest member index."""
    labels, n_groups = _compact(labels)
    size = np.bincount(labels, minlength=n_groups)
    first = np.full(n_groups, labels.size, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(labels.size))
    rank = np.empty(n_groups, dtype=np.int64)
    rank[np.lexsort((first, -size))] = np.arange(n_groups)
    return rank[labels]


def _check_knn(indices, distances):
    indices = np.asarray(indices)
    distances = np.asarray(distances)
    if indices.ndim != 2 or indices.shape != distances.shape:
        raise ValueError(f"indices and distances must be 2-D arrays of one shape (n, k), got {indices.shape} "
                         f"and {distances.shape}")
    n, k = indices.shape
    if n < 3 or k < 1:
        raise ValueError(f"finding groups needs at least 3 points with at least 1 neighbour each, got {n} x {k}")
    if k >= n:
        raise ValueError(f"{k} neighbours per point but only {n} points: each row must list other points")
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be integers, got {indices.dtype}")
    if indices.min() < 0 or indices.max() >= n:
        raise ValueError(f"indices must lie in [0, {n}), found {indices.min()} to {indices.max()}")
    if (indices == np.arange(n)[:, None]).any():
        row = int(np.flatnonzero((indices == np.arange(n)[:, None]).any(axis=1))[0])
        raise ValueError(f"row {row} lists the point itself among its neighbours; pass the k nearest other "
                         "points (drop the self column of a search that returns it)")
    if not np.issubdtype(distances.dtype, np.number) or np.iscomplexobj(distances):
        raise ValueError(f"distances must be real numbers, got {distances.dtype}")
    if not np.isfinite(distances).all() or (distances < 0).any():
        raise ValueError("distances must be finite and non-negative")
    return indices.astype(np.int32), distances.astype(np.float32)


def find_groups(indices, distances, *, random_state=0, resolution=None):
    """Clusters of the input from its kNN graph.

    indices, distances: (n, k) int/float arrays, each row the k nearest OTHER points sorted
    by distance (``ardr.graph.neighbors.nearest_neighbors`` output; k is typically 15).
    Returns (labels, description): labels an int64 array (n,) with groups numbered 0..G-1
    by decreasing size (ties by smallest member index), and one plain sentence naming the
    method and its parameters for the report.

    Leiden communities (modularity at ``resolution``, default 0.5) of UMAP's fuzzy graph
    of the neighbours; groups of fewer than max(5, n/1000) points are merged into the
    group they share the most edge weight with (a smaller connected component of the
    graph stays its own group). Deterministic by ``random_state`` on any number of threads.
    """
    from ardr.graph.affinities import umap_graph

    indices, distances = _check_knn(indices, distances)
    if resolution is None:
        resolution = DEFAULT_RESOLUTION
    if isinstance(resolution, bool) or not isinstance(resolution, (int, float, np.integer, np.floating)) \
            or not np.isfinite(resolution) or resolution <= 0:
        raise ValueError(f"resolution must be a positive number, got {resolution!r}")
    seed = check_seed(random_state)
    n, k = indices.shape
    graph = umap_graph(indices, distances, k + 1)
    labels = leiden(graph, resolution=float(resolution), random_state=seed)
    min_size = max(5, n / 1000)
    found = int(labels.max()) + 1
    labels = by_size(merge_small_groups(graph, labels, min_size))
    merged = found - (int(labels.max()) + 1)
    description = (f"Leiden communities (modularity, resolution {float(resolution):g}, seed {seed}) of the "
                   f"{k}-nearest-neighbour graph with UMAP's fuzzy weights")
    if merged:
        description += (f"; {merged} of the {found} communities had fewer than {min_size:g} points and were merged "
                        "into the neighbouring group they share the most edges with")
    return labels, description
