"""Cases of known truth for ``ardr explain``: inputs whose pictures are distorted in
designed ways, so what a report flags can be checked against what was done
(``benchmarks/explain_truth.py`` prints the comparison; the tests use small versions).

Each case is an input X, one or more pictures of it, labels (or None) and, per picture,
what must be reported.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    name: str
    X: np.ndarray
    labels: object
    pictures: dict  # picture name -> (n, 2) array
    truth: dict = field(default_factory=dict)  # picture name -> what must be reported


# ------------------------------------------------------------------ designed clusters

# Six groups. A-B and C-D are close pairs that differ along a third direction (so a
# linear projection onto the main plane draws each pair on top of itself); F is 5x wider.
_CENTRES_3D = {"A": (0, 0, 0), "B": (0, 0, 3.4), "C": (12, 0, 0), "D": (12, 0, 3.4), "E": (0, 12, 0),
               "F": (12, 12, 0)}
_LAYOUT_2D = {"A": (0, 0), "B": (-2.4, -2.4), "C": (12, 0), "D": (14.4, -2.4), "E": (0, 12), "F": (12, 12)}
_SIGMA = {"A": 0.3, "B": 0.3, "C": 0.3, "D": 0.3, "E": 0.3, "F": 1.5}


def designed_clusters(n_per=300, dim=20, seed=0):
    """The six designed groups and four pictures: faithful, F shrunk 5x, B and E swapped, PCA."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    names = list(_CENTRES_3D)
    X, Yf, labels = [], [], []
    for g in names:
        centre = np.zeros(dim)
        centre[:3] = _CENTRES_3D[g]
        X.append(centre + _SIGMA[g] * rng.standard_normal((n_per, dim)))
        Yf.append(np.asarray(_LAYOUT_2D[g]) + _SIGMA[g] * rng.standard_normal((n_per, 2)))
        labels += [g] * n_per
    X, faithful, labels = np.vstack(X), np.vstack(Yf), np.array(labels)
    members = {g: labels == g for g in names}
    shrunk = faithful.copy()
    f = members["F"]
    shrunk[f] = faithful[f].mean(axis=0) + (faithful[f] - faithful[f].mean(axis=0)) / 5.0
    swapped = faithful.copy()
    b, e = members["B"], members["E"]
    shift = np.asarray(_LAYOUT_2D["E"]) - np.asarray(_LAYOUT_2D["B"])
    swapped[b] += shift
    swapped[e] -= shift
    pca = PCA(n_components=2, random_state=0).fit_transform(X)
    pictures = {"faithful": faithful, "F shrunk 5x": shrunk, "B and E swapped": swapped, "PCA": pca}
    truth = {
        "faithful": {"shrunk": [], "inflated": [], "pairs": "designed"},
        "F shrunk 5x": {"shrunk": ["F"], "inflated": [], "pairs": "designed"},
        "B and E swapped": {"shrunk": [], "inflated": [], "pairs": "designed"},
        "PCA": {"too close": [("A", "B"), ("C", "D")]},
    }
    return Case("designed clusters", X, labels, pictures, truth)


def designed_pair_ratios(case, picture):
    """The true separation ratio of every pair for a designed picture: relative centre
    distance in the layout over relative centre distance in the input, from the designed
    centres (not from the points), so it is independent of the report's estimates."""
    names = list(_CENTRES_3D)
    Y = case.pictures[picture]
    centres_x = np.array([_CENTRES_3D[g] for g in names], dtype=float)
    centres_y = np.array([Y[case.labels == g].mean(axis=0) for g in names]) if picture == "PCA" else None
    if centres_y is None:
        layout = dict(_LAYOUT_2D)
        if picture == "B and E swapped":
            layout["B"], layout["E"] = _LAYOUT_2D["E"], _LAYOUT_2D["B"]
        centres_y = np.array([layout[g] for g in names], dtype=float)
    a, b = np.triu_indices(len(names), 1)
    dx = np.linalg.norm(centres_x[a] - centres_x[b], axis=1)
    dy = np.linalg.norm(centres_y[a] - centres_y[b], axis=1)
    ratio = (dy / np.median(dy)) / (dx / np.median(dx))
    return {(names[i], names[j]): float(r) for i, j, r in zip(a, b, ratio)}


# ------------------------------------------------------------------ a curve

def curve(n=1500, dim=20, seed=0):
    """A smooth open 1-D curve in ``dim`` dimensions (sums of slow sines), unlabelled:
    (X, t) with t in [0, 1] the position along the curve."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1, n))
    freq = rng.uniform(0.5, 2.0, dim)
    phase = rng.uniform(0, 2 * np.pi, dim)
    X = np.sin(2 * np.pi * freq[None, :] * t[:, None] + phase[None, :])
    X += 1e-3 * rng.standard_normal(X.shape)
    return X, t


def drawn_curve(t, n_tears=0, seed=0):
    """A picture of the curve as a gently bent line (its position t along the x axis),
    cut into ``n_tears + 1`` pieces pushed apart: a designed tear, without a fit."""
    rng = np.random.default_rng(seed)
    x = t * 100.0
    if n_tears:
        cuts = np.sort(rng.choice(np.arange(1, 100), n_tears, replace=False)) / 100.0
        x = x + 30.0 * np.searchsorted(cuts, t)  # each piece shifted right past the previous gap
    y = 5.0 * np.sin(2 * np.pi * t)
    return np.column_stack([x, y])


# ------------------------------------------------------------------ a blob cut in two

def split_blob(n=1000, dim=10, seed=0):
    """One Gaussian blob; the picture is its PCA with the half x > 0 pushed far right."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim))
    Y = PCA(n_components=2, random_state=0).fit_transform(X)
    side = Y[:, 0] > 0
    pushed = Y.copy()
    pushed[side, 0] += 4.0 * np.ptp(Y[:, 0])
    labels = np.where(side, "right half", "left half")
    truth = {"split": {"false_gaps": 1, "separated": [("left half", "right half")]},
             "intact": {"false_gaps": 0, "separated": []}}
    return Case("blob cut in two", X, labels, {"split": pushed, "intact": Y}, truth)


# ------------------------------------------------------------------ unlinked clusters

def unlinked_clusters(n_per=250, dim=10, seed=0):
    """Four tight clusters so far apart that no 15-NN edge joins any two."""
    rng = np.random.default_rng(seed)
    centres = 50.0 * rng.standard_normal((4, dim))
    X = np.vstack([c + rng.standard_normal((n_per, dim)) for c in centres])
    labels = np.repeat([f"G{g}" for g in range(4)], n_per)
    return X, labels
