"""Device memory of the torch backend's UMAP, stage by stage: the arithmetic behind "10
million points of 50 dimensions fit one 80 GB GPU".

Notation: n points, D features, k = n_neighbors - 1 neighbours, E stored edges of the
symmetric fuzzy graph (k n <= E <= 2 k n; Fashion-MNIST: E = 1.6 k n), d = 2 output
dimensions. Bytes, counting the tensors each stage holds at its peak (a tensor freed
before the peak is not counted; torch's caching allocator reuses freed blocks, so the
process peak is the largest stage, not the sum):

kNN, the IVF search (``graph/torch/ivf.py``; D <= 128, so no projection)
    data R (float32)                                       4 n D
    norms, cell of each point, order by cell (f32/i64/i64)  20 n
    k-means sample (n / 4 rows)                            n D
    result: indices (int64), squared distances (float32)   12 n k
    one batch of cells (independent of n; ``graph/torch/ivf.py``'s BATCH_ELEMENTS and
    GATHER_ELEMENTS, 2^28 and 2^27 on a GPU): keys and doubled products (2 x 2^28
    float32), an exclusion mask (2^28 bool), query and candidate coordinates (2 x 2^27
    float32)                                               ~3.3 GiB (0.4 GiB on the CPU)
graph (``graph/torch/affinities.py``)
    neighbours (int32), distances (float32), as float64, bandwidth-search temporaries
    (about 4 n x k float64), membership strengths (float32)  4+4+8+32+4 = 52 n k
    then the union's sort: both directions of 2 n k directed edges with int64 keys, their
    stable order (int64), sorted copies, flags, pair starts and values
                                                           <= 126 n k
optimize (``engine/torch/graph.py`` on ``engine/torch/layout.py``)
    padded rows (at most 2 E slots: int32 partner + float32 weight) 16 E <= 32 n k
    while building them: the CSR's indices and weights     8 E <= 16 n k
    embedding, step, gains, direction, coordinate copies   ~6 x 4 d n = 48 n
    one block's temporaries (2^23 slots on a GPU x 5 negative samples x ~40 B)  ~1.7 GB

For n = 10,000,000, D = 50, k = 14 (``umap_bytes(10_000_000, 50, 15)``), in GB:
    kNN       4 n D + 20 n + n D + 12 n k + batch = 2.0 + 0.2 + 0.5 + 1.68 + 3.5  =  7.9
    graph     126 n k = 126 x 1.4e8                                               = 17.6
    optimize  24 E + 48 n + block, E <= 2 n k:  6.72 + 0.48 + 1.68                =  8.9
so the peak is the graph stage's sort, about 18 GB: within one 80 GB GPU with room to
spare (the data X is also on the host). The same count for tSNE's graph (k = 90,
perplexity 30) is 126 x 9e8 = 113 GB: tSNE at 10 million points does not fit one 80 GB
GPU as written (its union would have to be built in row blocks).

``umap_bytes`` returns these terms; ``benchmarks/gpu.py --memory`` compares them with the
peak memory measured at smaller n on the CPU (and on a GPU, where it runs there).
"""

#: Fixed buffers, per device kind (the terms of the arithmetic above that do not grow with n).
#: ``graph/torch/ivf.py``, per batch of cells: keys (queries x candidates, padded;
#: float32) and gathered coordinates (candidates x D; float32)
BATCH_ELEMENTS = {"cpu": 1 << 25, "cuda": 1 << 28}
GATHER_ELEMENTS = {"cpu": 1 << 24, "cuda": 1 << 27}
#: ``layout.py``: slots (row x padded width) per block, which bound one gather's
#: temporaries (x d x 4 bytes, x negative samples for UMAP's pushes)
BLOCK_SLOTS = {"cpu": 1 << 21, "cuda": 1 << 23}
#: ``layout.py``: a group of rows this small (padded slots) is never split by width. On a
#: GPU a small graph's step is bound by kernel launches (some twenty per block, ~5-10 us
#: each), not by arithmetic on padding: Fashion-MNIST 70k's UMAP graph pads into one
#: block of ~3M slots there (a choice from that arithmetic; not measured, no GPU was
#: available).
SMALL_SLOTS = {"cpu": 1 << 16, "cuda": 1 << 23}


def umap_bytes(n, n_features, n_neighbors=15, *, edges=None, n_components=2, negative_rate=5, device="cuda"):
    """The per-stage peak device bytes of the arithmetic above, as a dict
    (``edges``: stored edges of the symmetric graph; default its upper bound 2 k n)."""

    k = n_neighbors - 1
    E = 2 * k * n if edges is None else edges
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    batch = (2 * 4 + 1) * BATCH_ELEMENTS[kind] + 2 * 4 * GATHER_ELEMENTS[kind]
    # one block's temporaries: a batch holds about 2 E / 4 padded slots until blocks are full
    block = min(BLOCK_SLOTS[kind], E // 2) * negative_rate * 40
    return {
        "knn": 4 * n * n_features + 20 * n + n * n_features + 12 * n * k + batch,
        "graph": max(52 * n * k, 126 * n * k),
        "optimize": 16 * E + 8 * E + 6 * 4 * n_components * n + block,
    }
