"""The plain-language reading of an :class:`~ardr.explain.explanation.Explanation`.

Every sentence compares the picture with the input, names the groups or counts it is
about, says what its number measures, and reports a difference only when the
measurement put it beyond its own noise (the verdicts of :mod:`ardr.explain.groups` and
:mod:`ardr.explain.tears`). Lists are cut to the few most extreme cases, with a count
of the rest.
"""

LAW_NAMES = {"umap": "UMAP's", "tsne": "tSNE's"}
_LIST = 3  # cases named per sentence


def _q(name):
    return f"'{name}'"


def _names(items, limit=_LIST):
    items = list(items)
    shown = items[:limit]
    text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1] if shown else ""
    if len(items) > limit:
        text += f" (and {len(items) - limit} more)"
    return text


def _pct(x):
    return f"{100 * x:.0f}%" if x >= 0.1 or x == 0 else f"{100 * x:.1f}%"


def _x(ratio):
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.0f}x"


def build_reading(e, names):
    lines = [_law(e), _groups(e)]
    lines += _sizes(e)
    lines += _distances(e)
    lines += _links(e)
    lines += _gaps(e)
    lines += _splits(e)
    lines += _scales(e)
    lines.append(_outliers(e))
    lines.append(_sampling(e))
    return [line for line in lines if line]


# ------------------------------------------------------------------ force law

def _law(e):
    law = e.law
    name, how = law["name"], law["how"]
    if name == "linear":
        if how == "stated":
            return "The picture is stated to be a linear projection of the input (as PCA draws it)."
        return (f"The picture is a linear projection of the input: an affine map of the input's top principal "
                f"components reproduces it (held-out R^2 = {law['linear_r2']:.3f}), as PCA draws it. Distances can "
                "only shrink in it: groups that overlap may lie apart in the input along the directions it drops.")
    if name in LAW_NAMES:
        rest = (f" Its median stationarity residual under them is {law['median_residual']:.2f} (0 = every point "
                "at rest, 1 = all forces on a point pull one way): it measures agreement with that objective, "
                "not faithfulness.")
        if how == "estimator":
            return f"The picture was made by ardr with {LAW_NAMES[name]} force law (from the fitted estimator)." + rest
        if how == "stated":
            return f"The picture is stated to come from {LAW_NAMES[name]} force law." + rest
        other = "tsne" if name == "umap" else "umap"
        return (f"The picture is read as a {name.upper() if name == 'umap' else 'tSNE'} picture: it is closest to "
                f"rest under {LAW_NAMES[name]} forces on the input's neighbour graph (median stationarity residual "
                f"{law['median_residual']:.2f}, against {law[f'median_residual_{other}']:.2f} under "
                f"{LAW_NAMES[other]}; 0 = at rest). Such a picture attracts points only along input-graph edges. "
                "The residual measures agreement with the objective, not faithfulness.")
    if how == "stated":
        return "The force law that made the picture is not stated; nothing below assumes one."
    return ("The force law could not be detected: the picture is neither a linear projection of the input "
            f"(held-out R^2 = {law.get('linear_r2', float('nan')):.2f}) nor at rest under UMAP's or tSNE's "
            f"forces (median residuals {law.get('median_residual_umap', float('nan')):.2f} and "
            f"{law.get('median_residual_tsne', float('nan')):.2f}); nothing below assumes how it was made.")


def _groups(e):
    src = e.group_source
    sizes = [g["n"] for g in e.groups]
    if src["source"] == "labels":
        what = f"the {src['count']} classes of the given labels"
    else:
        what = f"{src['count']} clusters found in the input ({src['description']}), as no labels were given"
    extent = (f"of {sizes[0]:,} points each" if min(sizes) == max(sizes)
              else f"of {min(sizes):,} to {max(sizes):,} points")
    return (f"Groups: {what}, {extent}. A group's spread is the median distance "
            "of its points to its centre, a separation the distance between two centres; both are compared "
            "relative to the median group (or pair), so the two spaces' units do not matter.")


# ------------------------------------------------------------------ sizes and distances

def _sizes(e):
    shrunk = sorted((g for g in e.groups if g["verdict"] == "shrunk"), key=lambda g: g["size_ratio"])
    inflated = sorted((g for g in e.groups if g["verdict"] == "inflated"), key=lambda g: -g["size_ratio"])
    lines = []
    if not shrunk and not inflated:
        worst = max(e.groups, key=lambda g: max(g["size_ratio"], 1 / g["size_ratio"]))
        return [f"Sizes can be read: every group's spread relative to the others is within 2x of the input's "
                f"(the largest change: {_q(worst['name'])}, {_x(worst['size_ratio'])})."] + _inversion(e)
    parts = []
    if shrunk:
        g = shrunk[0]
        most = f"most: {_q(g['name'])}, " if len(shrunk) > 1 else ""
        parts.append(f"shrinks {_names([_q(s['name']) for s in shrunk])} ({most}drawn {_x(g['size_ratio'])} its "
                     f"relative input spread, 95% interval {g['interval'][0]:.2f}-{g['interval'][1]:.2f})")
    if inflated:
        g = inflated[0]
        most = f"most: {_q(g['name'])}, " if len(inflated) > 1 else ""
        parts.append(f"inflates {_names([_q(s['name']) for s in inflated])} ({most}drawn {_x(g['size_ratio'])} its "
                     f"relative input spread, interval {g['interval'][0]:.2f}-{g['interval'][1]:.2f})")
    kept = len(e.groups) - len(shrunk) - len(inflated)
    lines.append(f"Sizes: the picture {' and '.join(parts)}; {kept} of {len(e.groups)} groups keep their relative "
                 "size within 2x. Do not read group sizes off this picture for the groups named.")
    lines += _inversion(e)
    return lines


def _inversion(e):
    """The group whose size rank changes most between input and picture."""
    if len(e.groups) < 3:
        return []
    by_in = sorted(range(len(e.groups)), key=lambda g: -e.groups[g]["spread_input"])
    by_pic = sorted(range(len(e.groups)), key=lambda g: -e.groups[g]["spread_picture"])
    rank_in = {g: r for r, g in enumerate(by_in)}
    rank_pic = {g: r for r, g in enumerate(by_pic)}
    g = max(range(len(e.groups)), key=lambda g: (abs(rank_in[g] - rank_pic[g]), -g))
    shift = abs(rank_in[g] - rank_pic[g])
    if shift < max(2, len(e.groups) // 3):
        return []
    row = e.groups[g]
    within = (f"; its size ratio {_x(row['size_ratio'])} is within 2x, so read the order of sizes, not their "
              "magnitudes, with care" if row["verdict"] == "faithful" else "")
    return [f"The largest inversion of size order: {_q(row['name'])} has the {_ordinal(rank_in[g] + 1)} largest "
            f"spread of {len(e.groups)} groups in the input but the {_ordinal(rank_pic[g] + 1)} in the picture"
            f"{within}."]


def _ordinal(k):
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _distances(e):
    if not e.pairs:
        return []
    if not e.sampling["pairs_comparable"]:
        return ["With two groups, the distance between them has no other pair to be compared with: the gap and "
                "mixing findings below say whether their separation in the picture is real."]
    close = sorted((p for p in e.pairs if p["verdict"] == "too close"), key=lambda p: p["ratio"])
    far = sorted((p for p in e.pairs if p["verdict"] == "too far"), key=lambda p: -p["ratio"])
    total = len(e.pairs)
    if not close and not far:
        worst = max(e.pairs, key=lambda p: max(p["ratio"], 1 / max(p["ratio"], 1e-300)))
        return [f"Distances between groups can be read: all {total} pairs keep their separation relative to the "
                f"median pair within 2x (the largest change: {_q(worst['a'])}-{_q(worst['b'])}, "
                f"{_x(worst['ratio'])})."]
    parts = []
    if close:
        p = close[0]
        parts.append(f"{len(close)} {'is' if len(close) == 1 else 'are'} drawn more than 2x too close (most: {_q(p['a'])}-{_q(p['b'])} at "
                     f"{_x(p['ratio'])} of their relative input separation, interval "
                     f"{p['interval'][0]:.2f}-{p['interval'][1]:.2f})")
    if far:
        p = far[0]
        parts.append(f"{len(far)} more than 2x too far (most: {_q(p['a'])}-{_q(p['b'])} at {_x(p['ratio'])})")
    kept = total - len(close) - len(far)
    return [f"Distances between groups: of {total} pairs, {' and '.join(parts)}; the other {kept} keep their "
            "relative separation within 2x."]


def _links(e):
    unlinked = [p for p in e.pairs if p["linked"] == 0]
    if not e.pairs:
        return []
    k = e.sampling["k_graph"]
    if not unlinked:
        return [f"Every pair of groups is joined by input neighbours ({k} nearest, either way)."]
    names = [f"{_q(p['a'])}-{_q(p['b'])}" for p in unlinked]
    law = e.law["name"]
    verb = "shares" if len(unlinked) == 1 else "share"
    what = f"{len(unlinked)} of {len(e.pairs)} pairs of groups {verb} no input neighbour ({k} nearest, either way): {_names(names)}."
    if law in LAW_NAMES:
        return [what + f" {LAW_NAMES[law]} forces act along input neighbours only, so the picture places such "
                       "groups by its start and its repulsion, not by the data: their distance cannot be read."]
    if law == "linear":
        return [what + " A linear projection still places them by the data."]
    return [what + " If the picture was made by tSNE or UMAP, their distance was set by the start and the "
                   "repulsion, not by the data."]


# ------------------------------------------------------------------ gaps and splits

def _island_name(e, a):
    row = e.islands[a]
    if row["main_share"] >= 0.8:
        return f"the {_q(row['main_group'])} island"
    return f"island {a + 1} ({row['n']:,} points, {_pct(row['main_share'])} {_q(row['main_group'])})"


def _gaps(e):
    t = e.tears
    k = e.sampling["k_graph"]
    pieces, comps = t["picture_pieces"], t["input_components"]
    comp_text = (f"the input's {k}-neighbour graph is one connected piece" if comps == 1 else
                 f"the input's {k}-neighbour graph has {comps} connected pieces")
    lines = []
    if pieces <= 1:
        lines.append(f"The picture is one connected piece and {comp_text}" +
                     (": it shows no gap." if comps <= 1 else
                      f": it draws input pieces that no neighbour joins as one island (see below)."))
    elif t["false_gaps"]:
        false = sorted((g for g in e.gaps if g["kind"] == "false"), key=lambda g: -g["edges"])
        worst = false[0]
        lines.append(
            f"The picture shows {pieces} islands where {comp_text}: {t['false_gaps']} gaps between islands are "
            f"crossed by input neighbours, so they are not in the data (false gaps; the most crossed: between "
            f"{_island_name(e, worst['a'])} and {_island_name(e, worst['b'])}, {worst['edges']:,} input neighbour "
            f"links). {t['stretched_edges']:,} of the input's {t['input_edges']:,} neighbour links are drawn "
            "across gaps, stretched beyond 3x the local picture scale (red in the 'Tears' figure).")
    else:
        lines.append(f"The picture shows {pieces} islands and {comp_text}: no input neighbour link crosses the "
                     f"gaps between islands{' (beyond a few weak links)' if t['weak_gaps'] else ''}, so the gaps "
                     "are real.")
    if t["real_gaps"] and t["false_gaps"]:
        real = t["real_gaps"]
        lines.append(f"{real} {'gap' if real == 1 else 'gaps'} between neighbouring islands "
                     f"{'is' if real == 1 else 'are'} real: no input neighbour crosses "
                     f"{'it' if real == 1 else 'them'}.")
    if t["weak_gaps"]:
        weak = t["weak_gaps"]
        lines.append(f"{weak} more {'pair' if weak == 1 else 'pairs'} of islands {'is' if weak == 1 else 'are'} "
                     f"joined by only a few input links (fewer than {100 * t['rules']['join_share']:.1f}% of the "
                     "smaller island's): nearly real gaps.")
    for m in t["merged_components"][:_LIST]:
        name = _island_name(e, m["island"])
        lines.append(f"{name[0].upper() + name[1:]} joins {len(m['components'])} pieces of the "
                     "input that no neighbour link connects: the picture draws together what the data keep apart.")
    return lines


def _splits(e):
    s = e.separation
    noun = "Class" if s["groups"] == "labels" else "Cluster"
    lines = [f"{noun} separation: a majority vote of the {s['k']} nearest neighbours (leaving the point out) "
             f"recovers the group with accuracy {s['knn_accuracy_input']:.3f} in the input and "
             f"{s['knn_accuracy_picture']:.3f} in the picture."]
    separated = sorted((m for m in e.mixing if m["verdict"] == "separated"),
                       key=lambda m: m["mixing_picture"] - m["mixing_input"])
    merged = sorted((m for m in e.mixing if m["verdict"] == "merged"),
                    key=lambda m: m["mixing_input"] - m["mixing_picture"])
    for m in separated[:_LIST]:
        lines.append(f"The picture separates {_q(m['a'])} and {_q(m['b'])} more than the data do: "
                     f"{_pct(m['mixing_input'])} of their 10 nearest neighbours lie in the other group in the input, "
                     f"{_pct(m['mixing_picture'])} in the picture.")
    if len(separated) > _LIST:
        lines.append(f"{len(separated) - _LIST} more pairs are separated more than in the data.")
    for members, rows in _merge_sets(merged):
        lines.append(f"The picture merges {_names([_q(x) for x in members], limit=6)} more than the data do "
                     f"(neighbour mixing {_pct(max(r['mixing_picture'] for r in rows))} in the picture against "
                     f"{_pct(max(r['mixing_input'] for r in rows))} in the input, for the most mixed pair).")
    if not separated and not merged and e.mixing:
        lines.append("No pair of groups is mixed more than 2x more or less in the picture than in the input "
                     "(mixing: the share of a group's 10 nearest neighbours that lie in the other group).")
    return lines


def _merge_sets(merged):
    """Connected sets of groups joined by "merged" pairs, largest first."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for m in merged:
        parent[find(m["a"])] = find(m["b"])
    sets = {}
    for m in merged:
        sets.setdefault(find(m["a"]), []).append(m)
    out = []
    for rows in sets.values():
        members = list(dict.fromkeys([r["a"] for r in rows] + [r["b"] for r in rows]))
        out.append((members, rows))
    return sorted(out, key=lambda x: -len(x[0]))[:_LIST]


# ------------------------------------------------------------------ scales and outliers

def _scales(e):
    s = e.scales
    m = e.metrics
    parts = []
    for scale, value in s["recall"].items():
        label = f"{int(scale):,}" + (" (the median group size)" if int(scale) == s["median_group_size"] else "")
        parts.append(f"{label}: {_pct(value)} (chance {_pct(s['chance'][scale])})")
    lines = [f"Neighbourhoods at several scales (the share of a point's s nearest input neighbours that are among "
             f"its s nearest in the picture): {'; '.join(parts)}. Trustworthiness {m['trustworthiness']:.3f} and "
             f"continuity {m['continuity']:.3f} at k = {m['k']} (1 = the picture's nearest neighbours are input "
             "neighbours, and the reverse); averages like these cannot see tears or distorted group distances."]
    dim = s["intrinsic_dimension"]
    if dim == dim:  # not nan
        if dim > 4:
            lines.append(f"The input's neighbourhoods are about {dim:.0f}-dimensional (maximum-likelihood estimate "
                         f"from {e.sampling['k_graph']} neighbours): no 2-D picture can keep them all, so low "
                         "recall at the smallest scale is expected of any picture, not a defect of this one.")
        elif dim <= 2.5:
            lines.append(f"The input's neighbourhoods are about {dim:.1f}-dimensional (maximum-likelihood "
                         "estimate): a 2-D picture can keep them, so losses here are the picture's.")
        else:
            lines.append(f"The input's neighbourhoods are about {dim:.1f}-dimensional (maximum-likelihood "
                         "estimate): a 2-D picture can keep most of them.")
    return lines


def _outliers(e):
    if not e.outliers:
        return "No point is flung out of the body of the picture (beyond 3x its 99th-percentile radius)."
    return (f"{e.outliers:,} points are flung beyond 3x the picture's 99th-percentile radius from its centre while "
            "the input keeps them with the rest; the figures are framed on the body of the picture.")


def _sampling(e):
    s = e.sampling
    text = (f"Neighbourhood measures use {s['queries']:,} seeded random query points of {e.n:,} (exact ranks for "
            "each)." if s["sampled"] else "Neighbourhood measures use every point as a query.")
    return (text + f" Group verdicts use {s['n_boot']} bootstrap resamples of each group's points (at most "
            f"{s['max_boot_points']:,} per group); a size or distance counts as distorted only beyond 2x with a "
            "95% interval that excludes 1. Input neighbours: " + s["neighbours"] + ".")
