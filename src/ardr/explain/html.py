"""The page an explanation writes: the reading, the group and pair tables, the gaps, the
figures and the details of how everything was measured.

One self-contained HTML file: figures are PNGs inside ``data:`` URIs, styles are inline,
nothing is fetched and nothing runs, so the file can be mailed or archived and opens the
same anywhere.
"""

import base64
import html
import io

import numpy as np

from ..plot import _pyplot

MAX_PAIR_ROWS = 40
MAX_GAP_ROWS = 30

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1320px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border-bottom: 1px solid #ccc; padding: 0.25em 0.8em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flag td { background: #fdf1e6; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1em; }
figure { margin: 0; } figure img { width: 100%; height: auto; }
figure.wide { grid-column: 1 / -1; }
figcaption { font-size: 0.9em; color: #555; }
.meta { color: #666; font-size: 0.9em; }
"""


def png_data_uri(fig, dpi=90):
    """The figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    plt = _pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _e(value):
    return html.escape(str(value))


def _num(value, digits=2):
    if value is None:
        return '<td class="num">-</td>'
    return f'<td class="num">{value:.{digits}f}</td>'


def _table(headers, rows, css=None):
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join(f'<tr{f" class={chr(34)}{c}{chr(34)}" if c else ""}>{r}</tr>'
                     for r, c in zip(rows, css or [None] * len(rows)))
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def _group_table(e):
    rows, css = [], []
    for g in sorted(e.groups, key=lambda g: g["size_ratio"]):
        rows.append(f"<td>{_e(g['name'])}</td><td class=\"num\">{g['n']:,}</td>{_num(g['spread_input'])}"
                    f"{_num(g['spread_picture'])}{_num(g['size_ratio'])}"
                    f"<td class=\"num\">{g['interval'][0]:.2f}-{g['interval'][1]:.2f}</td><td>{_e(g['verdict'])}</td>")
        css.append("flag" if g["verdict"] != "faithful" else None)
    return _table(["group", "points", "spread in input (relative)", "spread in picture (relative)",
                   "size ratio", "95% interval", "verdict"], rows, css)


def _pair_table(e):
    def order(p):
        flagged = p["verdict"] != "faithful"
        return (not flagged, p["linked"] > 0, -abs(np.log(max(p["ratio"], 1e-300))))

    shown = sorted(e.pairs, key=order)[:MAX_PAIR_ROWS]
    rows, css = [], []
    for p in shown:
        rows.append(f"<td>{_e(p['a'])}</td><td>{_e(p['b'])}</td>{_num(p['separation_input'])}"
                    f"{_num(p['separation_picture'])}{_num(p['ratio'])}"
                    f"<td class=\"num\">{p['interval'][0]:.2f}-{p['interval'][1]:.2f}</td><td>{_e(p['verdict'])}</td>"
                    f"<td class=\"num\">{p['linked']:,}</td>")
        css.append("flag" if p["verdict"] != "faithful" or p["linked"] == 0 else None)
    note = (f"<p class=\"meta\">{len(shown)} of {len(e.pairs)} pairs shown: distorted first, then unlinked, then "
            "by size of change.</p>" if len(shown) < len(e.pairs) else "")
    return _table(["group", "group", "separation in input (relative)", "separation in picture (relative)",
                   "ratio", "95% interval", "verdict", "input links"], rows, css) + note


def _gap_table(e):
    shown = sorted(e.gaps, key=lambda g: ({"false": 0, "weak": 1, "real": 2}[g["kind"]], -g["edges"]))[:MAX_GAP_ROWS]
    if not shown:
        return "<p>No gap between islands.</p>"
    rows = [f"<td class=\"num\">{g['a'] + 1}</td><td>{_e(g['a_main'])}</td><td class=\"num\">{g['b'] + 1}</td>"
            f"<td>{_e(g['b_main'])}</td><td class=\"num\">{g['edges']:,}</td>{_num(100 * g['share'], 1)}"
            f"<td>{_e(g['kind'])}</td>" for g in shown]
    return _table(["island", "mostly", "island", "mostly", "input links across", "% of smaller island's links",
                   "gap"], rows, ["flag" if g["kind"] == "false" else None for g in shown])


def _figures(e, names, shepard):
    from . import figures as fig

    Y = e._picture
    out = [
        (fig.groups_figure(Y, e._labels, names, title="The picture, by group"),
         "Each point coloured by its group; names at each group's median position.", False),
        (fig.tears_figure(Y, e._stretched, e.points["flung_out"].astype(bool),
                          title=f"Tears: {e.tears['stretched_edges']:,} input links drawn across gaps"),
         "Red: input-neighbour links whose ends the picture puts on different islands, stretched beyond 3x the "
         "local picture scale. Circled: points flung out of the body of the picture.", False),
        (fig.geometry_figure(e.groups, e.pairs, title="Sizes and distances, picture against input"),
         "Left: each group's spread in the picture over its spread in the input, both relative to the median "
         "group, with 95% bootstrap intervals; outside the dashed lines (2x) and with an interval excluding 1 is a "
         "distortion. Right: every pair's centre distance relative to the median pair.", True),
        (fig.value_figure(Y, e.points["neighbour_agreement"], title="Neighbour agreement (k = 10)",
                          colour_label="share of picture neighbours that are input neighbours"),
         "Dark points have picture neighbours that are not their input neighbours.", False),
    ]
    if "residual" in e.points:
        out.append((fig.value_figure(Y, e.points["residual"], title=f"Stationarity residual ({e.law['name']} forces)",
                                     colour_label="net force / total force", cmap="plasma", reverse=True),
                    "How far each point is from rest under the force law: agreement with the objective, not "
                    "faithfulness.", False))
    if shepard is not None:
        out.append((fig.shepard_figure(*shepard, spearman=e.metrics["distance_spearman"]),
                    "Input distance against picture distance for random pairs.", False))
    return [(png_data_uri(f), caption, wide) for f, caption, wide in out]


def _figure_html(uri, caption, wide):
    return (f'<figure{" class=" + chr(34) + "wide" + chr(34) if wide else ""}><img src="{uri}" '
            f'alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>')


_METRIC_NAMES = {
    "trustworthiness": "Trustworthiness (k = 10)",
    "continuity": "Continuity (k = 10)",
    "knn_overlap": "kNN overlap, Jaccard (k = 10)",
    "distance_spearman": "Distance Spearman correlation (random pairs)",
    "knn_accuracy": "5-NN accuracy in the picture (5-fold CV)",
    "neighbour_agreement": "Neighbour agreement (k = 10)",
    "median_residual": "Median stationarity residual",
}


def render_explanation(e, *, details):
    """The page for an :class:`~ardr.explain.explanation.Explanation`."""
    names = [g["name"] for g in e.groups]  # the group rows are in code order
    figures = _figures(e, names, e._shepard)
    metric_rows = "\n".join(f"<tr><td>{_e(label)}</td>{_num(e.metrics[key], 4)}</tr>"
                            for key, label in _METRIC_NAMES.items() if e.metrics.get(key) is not None)
    separation = e.separation
    scale_rows = "\n".join(f"<tr><td>{int(s):,}</td>{_num(100 * v, 1)}{_num(100 * e.scales['chance'][s], 2)}</tr>"
                           for s, v in e.scales["recall"].items())
    detail_rows = "\n".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in (details | {
        "groups": e.group_source["description"],
        "neighbours": e.sampling["neighbours"],
        "query points": f"{e.sampling['queries']:,} of {e.n:,}",
        "bootstrap": f"{e.sampling['n_boot']} resamples, at most {e.sampling['max_boot_points']:,} points per group",
        "verdict rule": "beyond 2x, with a 95% interval that excludes 1",
        "tear rules": ", ".join(f"{k} {v}" for k, v in e.tears["rules"].items()),
        "timings (s)": ", ".join(f"{k} {v:.1f}" for k, v in e.timings.items()),
    }).items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>What this picture can and cannot say</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>What this picture can and cannot say</h1>
<h2>Reading</h2>
<ul>
{"".join(f"<li>{_e(line)}</li>" for line in e.reading)}
</ul>
<h2 id="groups">Groups: sizes</h2>
{_group_table(e)}
<h2 id="pairs">Groups: distances</h2>
{_pair_table(e) if e.pairs else "<p>Only one group.</p>"}
<h2 id="gaps">Islands and gaps</h2>
<p>{e.tears['picture_pieces']} islands in the picture, {e.tears['input_components']} connected pieces in the input's
neighbour graph; {e.tears['false_gaps']} false gaps, {e.tears['weak_gaps']} weak, {e.tears['real_gaps']} real;
{e.tears['stretched_edges']:,} of {e.tears['input_edges']:,} input links drawn across gaps.</p>
{_gap_table(e)}
<h2 id="figures">Figures</h2>
<div class="grid">
{"".join(_figure_html(uri, caption, wide) for uri, caption, wide in figures)}
</div>
<h2 id="measures">Measures</h2>
<table>
<tr><th>measure</th><th>value</th></tr>
{metric_rows}
<tr><td>{_e(separation['k'])}-NN accuracy in the input (leave one out)</td>{_num(separation['knn_accuracy_input'], 4)}</tr>
<tr><td>{_e(separation['k'])}-NN accuracy in the picture (leave one out)</td>{_num(separation['knn_accuracy_picture'], 4)}</tr>
<tr><td>Intrinsic dimension of the input (maximum likelihood)</td>{_num(e.scales['intrinsic_dimension'], 1)}</tr>
<tr><td>Flung-out points</td><td class="num">{e.outliers:,}</td></tr>
</table>
<table>
<tr><th>scale s</th><th>% of s nearest input neighbours among the s nearest in the picture</th><th>chance %</th></tr>
{scale_rows}
</table>
<h2>Details</h2>
<table class="meta">
{detail_rows}
</table>
</body>
</html>
"""
