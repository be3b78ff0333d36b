"""The figures of an explanation. Each is framed on the body of the picture (robust
quantile limits, :func:`ardr.explain.outliers.frame`), so a few flung-out points cannot
shrink it to a dot; matplotlib is imported only when a figure is drawn."""

import numpy as np

from ..plot import _pyplot
from .outliers import frame

MAX_DRAWN_EDGES = 4000
_VERDICT_COLOURS = {"faithful": "#7f7f7f", "too close": "#1f77b4", "too far": "#d62728",
                    "shrunk": "#1f77b4", "inflated": "#d62728"}


def _point_size(n):
    return float(np.clip(16000.0 / max(n, 1), 0.4, 24.0))


def _ratio_axis(axis, lo, hi):
    """A log axis with plain tick labels (0.25, 0.5, 1, 2, 4, ...) between lo and hi."""
    from matplotlib.ticker import FixedLocator, NullLocator

    ticks = [2.0**p for p in range(-12, 13) if lo <= 2.0**p <= hi] or [1.0]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(NullLocator())
    axis.set_ticklabels([f"{v:g}" for v in ticks])


def _canvas(Y, title):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ((x0, x1), (y0, y1)), outside = frame(Y)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    if outside:
        ax.text(0.01, 0.01, f"{outside:,} points outside the frame", transform=ax.transAxes, fontsize="x-small",
                color="#555")
    return fig, ax


def _xy(Y):
    return Y[:, :2] if Y.shape[1] >= 2 else np.hstack([Y, np.zeros_like(Y)])


def groups_figure(Y, codes, names, *, title):
    """The picture coloured by group, each group's name at its median position."""
    plt = _pyplot()
    Y = _xy(Y)
    fig, ax = _canvas(Y, title)
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    ax.scatter(Y[:, 0], Y[:, 1], s=_point_size(len(Y)), c=cmap(codes % cmap.N), linewidths=0, rasterized=True)
    if len(names) <= 40:
        for g, name in enumerate(names):
            where = np.median(Y[codes == g], axis=0)
            ax.annotate(name, where, fontsize="small", ha="center", va="center",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0})
    fig.tight_layout()
    return fig


def tears_figure(Y, stretched, flung, *, title):
    """Input-neighbour links drawn across gaps (red, the most stretched on top) over the
    picture (grey); flung-out points circled."""
    from matplotlib.collections import LineCollection

    Y = _xy(Y)
    fig, ax = _canvas(Y, title)
    ax.scatter(Y[:, 0], Y[:, 1], s=_point_size(len(Y)), c="#9a9a9a", linewidths=0, rasterized=True)
    i, j, _ = stretched
    i, j = i[:MAX_DRAWN_EDGES][::-1], j[:MAX_DRAWN_EDGES][::-1]
    if len(i):
        segments = np.stack([Y[i], Y[j]], axis=1)
        alpha = float(np.clip(30.0 / len(i), 0.05, 0.6))  # many links: each fainter, their bundles still show
        ax.add_collection(LineCollection(segments, colors="#d62728", linewidths=0.6, alpha=alpha, rasterized=True))
    if flung.any():
        ax.scatter(Y[flung, 0], Y[flung, 1], s=30, facecolors="none", edgecolors="#9467bd", linewidths=0.8)
    fig.tight_layout()
    return fig


def geometry_figure(group_rows, pair_rows, *, title):
    """Left: each group's size ratio (picture / input, relative to the median group) with its
    interval. Right: each pair's relative separation in the input against the picture;
    dashed lines mark 2x; hollow markers are pairs no input neighbour links."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 5.2))
    order = sorted(range(len(group_rows)), key=lambda g: group_rows[g]["size_ratio"])[:40]
    ratios = np.array([group_rows[g]["size_ratio"] for g in order])
    lows = np.array([group_rows[g]["interval"][0] for g in order])
    highs = np.array([group_rows[g]["interval"][1] for g in order])
    colours = [_VERDICT_COLOURS[group_rows[g]["verdict"]] for g in order]
    pos = np.arange(len(order))
    left.hlines(pos, lows, highs, colors=colours, lw=2)
    left.scatter(ratios, pos, c=colours, zorder=3)
    left.set_yticks(pos, [group_rows[g]["name"] for g in order], fontsize="small")
    left.set_xscale("log")
    left.set_xlim(min(0.4, lows.min() / 1.2), max(2.5, highs.max() * 1.2))
    _ratio_axis(left.xaxis, *left.get_xlim())
    for v in (0.5, 2.0):
        left.axvline(v, color="#999", ls="--", lw=0.8)
    left.axvline(1.0, color="#555", lw=0.8)
    left.set_xlabel("size in the picture / size in the input (relative spreads)")
    left.set_title("Group sizes")
    if pair_rows:
        x = np.array([p["separation_input"] for p in pair_rows])
        y = np.array([p["separation_picture"] for p in pair_rows])
        colours = [_VERDICT_COLOURS[p["verdict"]] for p in pair_rows]
        linked = np.array([p.get("linked", 1) > 0 for p in pair_rows])
        right.scatter(x[linked], y[linked], c=[c for c, ok in zip(colours, linked) if ok], s=18)
        right.scatter(x[~linked], y[~linked], facecolors="none", edgecolors=[c for c, ok in zip(colours, linked)
                                                                            if not ok], s=18)
        lo = max(1e-3, min(x.min(), y.min()) / 1.5)
        hi = max(x.max(), y.max()) * 1.5
        grid = np.array([lo, hi])
        right.plot(grid, grid, color="#555", lw=0.8)
        right.plot(grid, 2 * grid, color="#999", ls="--", lw=0.8)
        right.plot(grid, grid / 2, color="#999", ls="--", lw=0.8)
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlim(lo, hi)
        right.set_ylim(lo, hi)
        _ratio_axis(right.xaxis, lo, hi)
        _ratio_axis(right.yaxis, lo, hi)
        right.set_xlabel("separation in the input (relative to the median pair)")
        right.set_ylabel("separation in the picture (relative)")
        right.set_title("Distances between groups (hollow: no input link)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def value_figure(Y, values, *, title, colour_label, cmap="viridis", reverse=False):
    """The picture with each point coloured by a per-point value (the notable end on top)."""
    plt = _pyplot()
    Y = _xy(Y)
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values if reverse else -values, kind="stable")
    lo, hi = np.quantile(values, [0.01, 0.99]) if len(values) > 100 else (values.min(), values.max())
    if hi <= lo:
        hi = lo + 1e-12
    fig, ax = _canvas(Y, title)
    points = ax.scatter(Y[order, 0], Y[order, 1], c=values[order], cmap=cmap, vmin=lo, vmax=hi,
                        s=_point_size(len(Y)), linewidths=0, rasterized=True)
    fig.colorbar(points, ax=ax, shrink=0.8, label=colour_label)
    fig.tight_layout()
    return fig


def shepard_figure(input_distances, picture_distances, *, spearman):
    """Hexbin of input against picture distance over random pairs (log-scaled counts)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    cells = ax.hexbin(input_distances, picture_distances, gridsize=60, bins="log", cmap="Blues", mincnt=1)
    fig.colorbar(cells, ax=ax, shrink=0.8, label="pairs (log scale)")
    ax.set_xlabel("distance in the input")
    ax.set_ylabel("distance in the picture")
    ax.set_title(f"Shepard diagram, {len(input_distances):,} random pairs (Spearman {spearman:.3f})")
    fig.tight_layout()
    return fig
