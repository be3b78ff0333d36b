"""Figures. matplotlib is imported here only, when a figure is drawn (Agg backend)."""

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def scatter(ax, Y, labels=None, *, title=None, point_size=None):
    """Draw a 2-D (or first two columns of a d-D) embedding, coloured by label if given."""
    Y = np.asarray(Y)
    if Y.shape[1] == 1:
        Y = np.hstack([Y, np.zeros_like(Y)])
    n = Y.shape[0]
    s = point_size or float(np.clip(4000.0 / max(n, 1), 0.3, 20.0))
    if labels is None:
        ax.scatter(Y[:, 0], Y[:, 1], s=s, c="#3b6ea8", linewidths=0, rasterized=True)
    else:
        classes, codes = np.unique(np.asarray(labels), return_inverse=True)
        cmap = _pyplot().get_cmap("tab10" if len(classes) <= 10 else "tab20")
        colours = cmap(codes % cmap.N)
        ax.scatter(Y[:, 0], Y[:, 1], s=s, c=colours, linewidths=0, rasterized=True)
        if len(classes) <= 20:
            handles = [
                ax.scatter([], [], s=20, color=cmap(i % cmap.N), label=str(c)) for i, c in enumerate(classes)
            ]
            ax.legend(handles=handles, loc="best", fontsize="x-small", markerscale=1.0, frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)


def save_embedding_plot(Y, path, labels=None, title=None):
    """Write a PNG of the embedding to ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    try:
        scatter(ax, Y, labels, title=title)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
