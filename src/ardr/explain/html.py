"""The page ``ardr explain`` writes: per-point diagnostics drawn on the embedding, a
Shepard diagram, the metric table and a plain-language reading of the numbers.

One self-contained HTML file: figures are PNGs inside ``data:`` URIs, styles are
inline, nothing is fetched and nothing runs, so the file can be mailed or archived
and opens the same anywhere. matplotlib is imported only when a figure is drawn.
"""

import base64
import html
import io

import numpy as np

from .. import plot

# Bounds of the words used for a score in [0, 1] (higher is better): (lower bound, word).
_LEVELS = ((0.95, "very high"), (0.90, "high"), (0.80, "moderate"), (0.0, "low"))
_LOW_LOCAL_TRUST = 0.90  # a point whose own trustworthiness term is below this is "untrustworthy"
_REGIONS = (("upper", "middle", "lower"), ("left", "centre", "right"))
_METRIC_NAMES = {
    "trustworthiness": "Trustworthiness",
    "continuity": "Continuity",
    "knn_overlap": "kNN overlap (Jaccard)",
    "distance_spearman": "Distance Spearman correlation",
    "knn_accuracy": "5-NN accuracy (5-fold CV)",
    "neighbour_agreement": "Neighbour agreement",
    "median_residual": "Median stationarity residual",
}


# ------------------------------------------------------------------ figures


def png_data_uri(fig, dpi=90):
    """The figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    plt = plot._pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def value_figure(Y, values, *, title, colour_label, cmap="viridis", reverse=False):
    """The embedding with each point coloured by a per-point value (worst points drawn last)."""
    plt = plot._pyplot()
    Y = _two_columns(Y)
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values if reverse else -values, kind="stable")  # the notable end on top
    lo, hi = np.quantile(values, [0.01, 0.99]) if len(values) > 100 else (values.min(), values.max())
    if hi <= lo:
        hi = lo + 1e-12
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    points = ax.scatter(Y[order, 0], Y[order, 1], c=values[order], cmap=cmap, vmin=lo, vmax=hi,
                        s=_point_size(len(Y)), linewidths=0, rasterized=True)
    fig.colorbar(points, ax=ax, shrink=0.8, label=colour_label)
    _tidy(ax, title)
    fig.tight_layout()
    return fig


def label_figure(Y, labels, *, title):
    plt = plot._pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    plot.scatter(ax, _two_columns(Y), labels, title=title)
    fig.tight_layout()
    return fig


def shepard_figure(input_distances, embedded_distances, *, spearman):
    """Hexbin of input vs embedded distance over sampled pairs (log-scaled counts)."""
    plt = plot._pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    cells = ax.hexbin(input_distances, embedded_distances, gridsize=60, bins="log", cmap="Blues", mincnt=1)
    fig.colorbar(cells, ax=ax, shrink=0.8, label="pairs (log scale)")
    ax.set_xlabel("distance in the input")
    ax.set_ylabel("distance in the embedding")
    ax.set_title(f"Shepard diagram, {len(input_distances):,} random pairs (Spearman {spearman:.3f})")
    fig.tight_layout()
    return fig


def _two_columns(Y):
    Y = np.asarray(Y, dtype=np.float64)
    return np.hstack([Y, np.zeros_like(Y)]) if Y.shape[1] == 1 else Y[:, :2]


def _point_size(n):
    return float(np.clip(4000.0 / max(n, 1), 0.3, 20.0))


def _tidy(ax, title):
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)


# ------------------------------------------------------------------ reading


def _level(value):
    return next(word for bound, word in _LEVELS if value >= bound)


def _region_names(Y):
    """Each point's ninth of the picture's bounding box, as words ("upper left", "centre")."""
    Y = _two_columns(Y)
    cells = []
    for axis in (1, 0):  # rows from the y coordinate (top first), columns from x
        lo, hi = Y[:, axis].min(), Y[:, axis].max()
        position = (Y[:, axis] - lo) / (hi - lo) if hi > lo else np.full(len(Y), 0.5)
        cells.append(np.minimum((position * 3).astype(int), 2))
    row, col = 2 - cells[0], cells[1]
    names = np.array([[f"{r} {c}" if (r, c) != ("middle", "centre") else "centre" for c in _REGIONS[1]]
                      for r in _REGIONS[0]])
    return names[row, col]


def reading(metrics, local_trust, residual, agreement, Y, labels=None, *, law="umap"):
    """Short sentences that say what the numbers mean for this embedding."""
    k = metrics["k"]
    T, C, rho = metrics["trustworthiness"], metrics["continuity"], metrics["distance_spearman"]
    lines = [
        f"Trustworthiness is {_level(T)} ({T:.3f} at k = {k}): "
        + ("points drawn next to each other are nearly always neighbours in the input too."
           if T >= 0.95 else "points drawn next to each other are usually neighbours in the input."
           if T >= 0.9 else "some points drawn next to each other are not neighbours in the input."),
        f"Continuity is {_level(C)} ({C:.3f}): "
        + ("input neighbours stay together in the picture."
           if C >= 0.95 else "most input neighbours stay together in the picture."
           if C >= 0.9 else "many input neighbourhoods are torn apart in the picture."),
        f"On average {100 * float(np.mean(agreement)):.0f}% of a point's {k} nearest neighbours in the picture "
        f"are among its {k} nearest input neighbours.",
    ]
    if C - T > 0.02:
        lines.append("Continuity exceeds trustworthiness: the picture rarely tears neighbourhoods apart but "
                     "places some unrelated points side by side.")
    elif T - C > 0.02:
        lines.append("Trustworthiness exceeds continuity: what looks close is close, but some input "
                     "neighbourhoods are split across the picture.")
    if rho >= 0.8:
        lines.append(f"Large distances are well preserved (Spearman {rho:.2f} over random pairs): the "
                     "relative placement of groups can be read.")
    elif rho >= 0.5:
        lines.append(f"Large distances are only roughly preserved (Spearman {rho:.2f}): read the placement "
                     "of groups with care.")
    else:
        lines.append(f"Large distances are not preserved (Spearman {rho:.2f}): how far apart groups are "
                     "drawn says little about the input.")
    lines.append(_untrustworthy_regions(local_trust, Y, labels))
    lines.append(_rest(residual, law))
    if "knn_accuracy" in metrics:
        acc = metrics["knn_accuracy"]
        lines.append(f"A 5-nearest-neighbour classifier on the picture recovers the labels with accuracy "
                     f"{acc:.3f}: the classes are {'well' if acc >= 0.9 else 'partly' if acc >= 0.7 else 'poorly'} "
                     "separated locally.")
    if metrics.get("sampled"):
        lines.append(f"The neighbourhood metrics were estimated on {metrics['n_queries']:,} random query points "
                     f"of {metrics['n']:,}.")
    return lines


def _untrustworthy_regions(local_trust, Y, labels):
    low = np.asarray(local_trust) < _LOW_LOCAL_TRUST
    share = float(low.mean())
    if not low.any():
        return (f"Every point's own trustworthiness is at least {_LOW_LOCAL_TRUST}: no region stands out as "
                "untrustworthy.")
    text = (f"{100 * share:.1f}% of the points have a local trustworthiness below {_LOW_LOCAL_TRUST} "
            "(the dark points of the first figure): their picture neighbours are not their input neighbours.")
    regions = _region_names(Y)
    names, counts = np.unique(regions, return_counts=True)
    rates = np.array([low[regions == name].mean() for name in names])
    big = counts >= max(5, 0.03 * len(low))
    if big.any() and rates[big].max() > 1.5 * share:
        worst = names[big][np.argmax(rates[big])]
        text += (f" They concentrate in the {worst} of the picture, where {100 * rates[big].max():.0f}% of "
                 "the points are untrustworthy.")
    if labels is not None:
        classes = np.unique(labels)
        if 1 < len(classes) <= 50:
            means = np.array([np.mean(np.asarray(local_trust)[labels == c]) for c in classes])
            worst = np.argsort(means, kind="stable")[: min(3, len(classes))]
            text += " Least trustworthy classes: " + ", ".join(
                f"{classes[i]} ({means[i]:.3f})" for i in worst) + "."
    return text


def _rest(residual, law):
    median = float(np.median(residual))
    moving = float(np.mean(np.asarray(residual) > 0.3))
    if median < 0.05:
        state = (f"at rest under the {law} forces on this input's graph: each point sits at the weighted average "
                 "of the others that the stationarity weights describe")
    elif median < 0.2:
        state = f"close to rest under the {law} forces, with the sampling noise of a stochastic optimizer"
    else:
        state = (f"not at rest under the {law} forces on this input's graph (another method, another graph, "
                 "or a run stopped early); the residual shows where those forces would still move points")
    return (f"Median stationarity residual {median:.3f} (0 = forces balance, 1 = all pull one way): the embedding "
            f"is {state}. {100 * moving:.1f}% of the points have a residual above 0.3.")


# ------------------------------------------------------------------ page

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1320px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border-bottom: 1px solid #ccc; padding: 0.25em 0.9em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1em; }
figure { margin: 0; } figure img { width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #555; }
.meta { color: #666; font-size: 0.9em; }
"""


def _figure_html(uri, caption):
    return (f'<figure><img src="{uri}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _metric_rows(metrics):
    rows = []
    for key, name in _METRIC_NAMES.items():
        if key in metrics and metrics[key] is not None:
            rows.append(f'<tr><td>{html.escape(name)}</td><td class="num">{metrics[key]:.4f}</td></tr>')
    return "\n".join(rows)


def render(*, title, figures, metrics, reading_lines, details):
    """The page. figures: [(data URI, caption)]; metrics: name -> value; details: name -> text."""
    detail_rows = "\n".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                            for k, v in details.items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<h2>Reading</h2>
<ul>
{"".join(f"<li>{html.escape(line)}</li>" for line in reading_lines)}
</ul>
<h2>Metrics</h2>
<table>
<tr><th>metric</th><th>value</th></tr>
{_metric_rows(metrics)}
</table>
<h2>Figures</h2>
<div class="grid">
{"".join(_figure_html(uri, caption) for uri, caption in figures)}
</div>
<h2>Details</h2>
<table class="meta">
{detail_rows}
</table>
</body>
</html>
"""
