"""Groups of points, and their geometry in the input against the picture.

Groups are the labels when given, else clusters found in the input
(:func:`ardr.explain.clustering.find_groups`). For each group and each pair of groups
this module measures the same quantity in both spaces, scale-free, and says whether the
picture distorts it:

* **size**: a group's spread is the median distance of its points to its centroid; its
  *relative* spread divides by the median spread over groups. ``size_ratio`` = relative
  spread in the picture / relative spread in the input.
* **separation**: the distance between two groups' centroids, divided by the median over
  pairs. ``ratio`` = relative separation in the picture / in the input.
* **links**: input-graph edges (k nearest neighbours, either way) joining two groups. With
  none, an attraction/repulsion picture places the two groups by its start and its
  repulsion alone: their distance says nothing about the input.
* **mixing**: the share of the groups' k nearest neighbours that fall in the other group,
  in the input and in the picture; with **kNN accuracy** (leave one out, majority of the
  5 nearest, in both spaces) it tells splits and merges.

A ratio counts as a distortion when it lies beyond ``factor`` (2: below 1/2 or above 2)
and its bootstrap interval (``n_boot`` resamples of each group's points, 95%) excludes 1,
so differences within the noise of the estimate are never reported.
"""

from dataclasses import dataclass

import numpy as np

FACTOR = 2.0
N_BOOT = 200
MAX_BOOT_POINTS = 2000  # per group: larger groups are bootstrapped on a seeded subsample
MIXING_FLOOR = 0.01  # mixing differences below 1% of neighbours are not reported
ACCURACY_K = 5


@dataclass
class Groups:
    """``codes`` (n,) ints 0..G-1; ``names`` the G display names; ``source`` "labels" or
    "clusters"; ``description`` how they were obtained (for the report)."""

    codes: np.ndarray
    names: list
    source: str
    description: str

    @property
    def sizes(self):
        return np.bincount(self.codes, minlength=len(self.names))


def groups_from_labels(labels, n):
    """Groups from any labels (numbers or names), in sorted order of the distinct values."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.ravel()
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"labels must be one per point: got shape {labels.shape} for {n} points")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ValueError("labels contain NaN or infinite values")
    if labels.dtype.kind == "O":
        labels = labels.astype(str)
    names, codes = np.unique(labels, return_inverse=True)
    if len(names) < 2:
        raise ValueError(f"labels name a single group ({names[0]!r}): group comparisons need at least two")
    return Groups(codes.astype(np.int64), [str(v) for v in names], "labels", "the given labels")


def groups_from_clusters(neighbourhoods, seed):
    """Groups found in the input from its kNN graph, named C1, C2, ... by decreasing size."""
    from .clustering import find_groups

    codes, description = find_groups(neighbourhoods.input_indices, neighbourhoods.input_distances,
                                     random_state=seed)
    codes = np.asarray(codes, dtype=np.int64)
    names = [f"C{g + 1}" for g in range(int(codes.max()) + 1)]
    return Groups(codes, names, "clusters", description)


# ------------------------------------------------------------------ bootstrap

class _Bootstrap:
    """Seeded resamples of each group's points (on a subsample of at most MAX_BOOT_POINTS)."""

    def __init__(self, groups, n_boot, seed):
        rng = np.random.default_rng(seed)
        self.members, self.counts = [], []
        for g in range(len(groups.names)):
            members = np.flatnonzero(groups.codes == g)
            if len(members) > MAX_BOOT_POINTS:
                members = np.sort(rng.choice(members, MAX_BOOT_POINTS, replace=False))
            m = len(members)
            draws = rng.integers(0, m, size=(n_boot, m))
            counts = np.zeros((n_boot, m), dtype=np.float64)
            np.add.at(counts, (np.repeat(np.arange(n_boot), m), draws.ravel()), 1.0)
            self.members.append(members)
            self.counts.append(counts)  # replicate b takes point s counts[b, s] times
        self.n_boot = n_boot

    def means(self, values):
        """(n_boot, G, ...) resampled group means of per-point ``values`` (n, ...)."""
        out = [(c @ np.asarray(values[m], dtype=np.float64).reshape(len(m), -1)) / len(m)
               for c, m in zip(self.counts, self.members)]
        return np.stack(out, axis=1).reshape((self.n_boot, len(out)) + values.shape[1:])

    def medians(self, values):
        """(n_boot, G) resampled group medians of a per-point scalar."""
        out = np.empty((self.n_boot, len(self.members)))
        for g, (c, m) in enumerate(zip(self.counts, self.members)):
            order = np.argsort(values[m], kind="stable")
            cum = np.cumsum(c[:, order], axis=1)
            half = cum[:, -1:] / 2.0
            out[:, g] = values[m][order][np.argmax(cum >= half, axis=1)]
        return out


def _interval(samples):
    return np.percentile(samples, [2.5, 97.5], axis=0)


def _verdict(ratio, low, high, small, large, factor=FACTOR):
    if ratio < 1.0 / factor and high < 1.0:
        return small
    if ratio > factor and low > 1.0:
        return large
    return "faithful"


# ------------------------------------------------------------------ geometry

_BLOCK_ROWS = 16384


def _centroids(A, codes, G):
    """(G, d) group means of the rows of A (float64 sums, one block of rows at a time)."""
    import scipy.sparse as sp

    sums = np.zeros((G, A.shape[1]))
    for s in range(0, A.shape[0], _BLOCK_ROWS):
        c = codes[s:s + _BLOCK_ROWS]
        onehot = sp.csr_matrix((np.ones(len(c)), (c, np.arange(len(c)))), shape=(G, len(c)))
        sums += onehot @ np.asarray(A[s:s + _BLOCK_ROWS], dtype=np.float64)
    return sums / np.bincount(codes, minlength=G)[:, None]


def _distances_to(A, centres, codes):
    """|a_i - centre of i's group| for every row, one block at a time."""
    out = np.empty(A.shape[0])
    for s in range(0, A.shape[0], _BLOCK_ROWS):
        diff = np.asarray(A[s:s + _BLOCK_ROWS], dtype=np.float64) - centres[codes[s:s + _BLOCK_ROWS]]
        out[s:s + _BLOCK_ROWS] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _centroid_distances(C):
    """Pairwise distances of the rows of C (..., G, d) -> (..., G, G)."""
    sq = np.einsum("...gd,...gd->...g", C, C)
    D = sq[..., :, None] + sq[..., None, :] - 2.0 * np.einsum("...gd,...hd->...gh", C, C)
    return np.sqrt(np.maximum(D, 0.0))


def group_geometry(X, Y, groups, *, n_boot=N_BOOT, seed=0):
    """Sizes and separations of the groups in both spaces, with bootstrap intervals.

    Returns (group rows, pair rows, notes): lists of dicts ready for the report.
    """
    G = len(groups.names)
    codes = groups.codes
    cx, cy = _centroids(X, codes, G), _centroids(Y, codes, G)
    spread_x, spread_y = _distances_to(X, cx, codes), _distances_to(Y, cy, codes)
    boot = _Bootstrap(groups, n_boot, seed)

    sx, sy = _group_medians(spread_x, codes, G), _group_medians(spread_y, codes, G)
    bx, by = boot.medians(spread_x), boot.medians(spread_y)
    size = (sy / np.median(sy)) / (sx / np.median(sx))
    size_boot = (by / np.median(by, axis=1, keepdims=True)) / (bx / np.median(bx, axis=1, keepdims=True))
    low, high = _interval(size_boot)
    group_rows = []
    for g in range(G):
        group_rows.append({
            "name": groups.names[g], "n": int(np.sum(codes == g)),
            "spread_input": float(sx[g] / np.median(sx)), "spread_picture": float(sy[g] / np.median(sy)),
            "size_ratio": float(size[g]), "interval": [float(low[g]), float(high[g])],
            "verdict": _verdict(size[g], low[g], high[g], "shrunk", "inflated"),
        })

    pair_rows = []
    if G >= 2:
        dx, dy = _centroid_distances(cx), _centroid_distances(cy)
        bdx, bdy = _centroid_distances(boot.means(X)), _centroid_distances(boot.means(Y))
        a, b = np.triu_indices(G, 1)
        rel_x, rel_y = dx[a, b] / np.median(dx[a, b]), dy[a, b] / np.median(dy[a, b])
        brel_x = bdx[:, a, b] / np.median(bdx[:, a, b], axis=1, keepdims=True)
        brel_y = bdy[:, a, b] / np.median(bdy[:, a, b], axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = rel_y / rel_x
            boot_ratio = brel_y / brel_x
        low, high = _interval(np.nan_to_num(boot_ratio, nan=1.0, posinf=1e300))
        for p in range(len(a)):
            verdict = "faithful" if len(a) < 3 else _verdict(ratio[p], low[p], high[p], "too close", "too far")
            pair_rows.append({
                "a": groups.names[a[p]], "b": groups.names[b[p]],
                "separation_input": float(rel_x[p]), "separation_picture": float(rel_y[p]),
                "ratio": float(ratio[p]), "interval": [float(low[p]), float(high[p])], "verdict": verdict,
            })
    notes = {"factor": FACTOR, "n_boot": n_boot, "max_boot_points": MAX_BOOT_POINTS,
             "pairs_comparable": G >= 3}
    return group_rows, pair_rows, notes


def _group_medians(values, codes, G):
    return np.array([np.median(values[codes == g]) for g in range(G)])


# ------------------------------------------------------------------ links, mixing, accuracy

def pair_links(neighbourhoods, groups):
    """(G, G) counts of input-graph edges joining two groups (each undirected edge once)."""
    i, j = neighbourhoods.input_edges()
    G = len(groups.names)
    a, b = groups.codes[i], groups.codes[j]
    counts = np.bincount(np.minimum(a, b) * G + np.maximum(a, b), minlength=G * G).reshape(G, G)
    return counts + np.triu(counts, 1).T


def _neighbour_group_counts(indices, codes, G):
    """(n, G): how many of each point's listed neighbours fall in each group."""
    n, k = indices.shape
    flat = np.repeat(np.arange(n), k) * G + codes[indices.ravel()]
    return np.bincount(flat, minlength=n * G).reshape(n, G).astype(np.float64)


def mixing(neighbourhoods, groups, *, k=10, n_boot=N_BOOT, seed=0):
    """Per pair of groups: the share of both groups' k nearest neighbours that lie in the
    other group, in the input and in the picture, with a bootstrap interval of the
    difference. Returns a list of dicts (one per pair) with a verdict "merged" (the
    picture mixes them more than the data), "separated" (less) or "faithful"."""
    G = len(groups.names)
    k = min(k, neighbourhoods.k)
    codes = groups.codes
    cin = _neighbour_group_counts(neighbourhoods.input_indices[:, :k], codes, G) / k
    cpic = _neighbour_group_counts(neighbourhoods.picture_indices[:, :k], codes, G) / k
    boot = _Bootstrap(groups, n_boot, seed + 1)
    mean_in, mean_pic = _centroids(cin, codes, G), _centroids(cpic, codes, G)  # (G, G): row a, share in b
    bin_, bpic = boot.means(cin), boot.means(cpic)  # (B, G, G)
    sizes = groups.sizes.astype(np.float64)
    rows = []
    for a in range(G):
        for b in range(a + 1, G):
            w = sizes[[a, b]] / sizes[[a, b]].sum()
            m_in = w[0] * mean_in[a, b] + w[1] * mean_in[b, a]
            m_pic = w[0] * mean_pic[a, b] + w[1] * mean_pic[b, a]
            diff = (w[0] * (bpic[:, a, b] - bin_[:, a, b]) + w[1] * (bpic[:, b, a] - bin_[:, b, a]))
            low, high = _interval(diff)
            verdict = "faithful"
            if m_pic >= FACTOR * m_in and m_pic - m_in >= MIXING_FLOOR and low > 0:
                verdict = "merged"
            elif m_pic <= m_in / FACTOR and m_in - m_pic >= MIXING_FLOOR and high < 0:
                verdict = "separated"
            rows.append({"a": groups.names[a], "b": groups.names[b], "mixing_input": float(m_in),
                         "mixing_picture": float(m_pic), "difference_interval": [float(low), float(high)],
                         "verdict": verdict})
    return rows


def knn_accuracy(indices, codes, k=ACCURACY_K):
    """Leave-one-out accuracy of a majority vote of each point's k nearest neighbours
    (ties go to the class of the nearest tied neighbour)."""
    k = min(k, indices.shape[1])
    votes = codes[indices[:, :k]]
    G = int(codes.max()) + 1
    n = len(codes)
    counts = np.zeros((n, G), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), k), votes.ravel()), 1)
    best = counts.max(axis=1)
    tied = counts[np.arange(n)[:, None], votes] == best[:, None]  # neighbour's class is a top class
    winner = votes[np.arange(n), np.argmax(tied, axis=1)]  # the nearest such neighbour decides
    return float(np.mean(winner == codes))
