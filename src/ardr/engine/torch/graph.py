"""Force laws on a sparse input graph, on torch tensors: UMAP's sampled cross-entropy and
the normalized (tSNE) objective, as ``engine/numba/graph.py`` defines them.

Each point's force is a dense sum over its own padded row (``layout.RowBlocks``), so no
two threads add into one point. Random draws come from a torch generator reseeded from
(seed, step) at every step: a step's draws do not depend on the steps before it, and a
seed gives the same bytes on the same device and software.
"""

import numpy as np

from ..numba.graph import _edge_batches  # one assignment of edges to steps, both backends
from . import kernels
from .device import as_tensor, import_torch
from .layout import RowBlocks, columns, squared_norms
from .reduce import total

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _mix64(z):
    """SplitMix64's finalizer on Python ints."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def step_seed(seed, step):
    """A 63-bit seed for the draws of one step, a pure function of (seed, step)."""
    return _mix64((_mix64((int(seed) + _GOLDEN) & _MASK64) ^ (int(step) * _GOLDEN)) & _MASK64) >> 1


class StepRandom:
    """A generator on one device, reseeded per step."""

    def __init__(self, seed, device):
        torch = import_torch()
        self.seed = int(seed)
        self.generator = torch.Generator(device=device)

    def at(self, step):
        self.generator.manual_seed(step_seed(self.seed, step))
        return self.generator


class SampledGraphForces:
    """UMAP's force law (see ``engine.numba.graph.SampledGraphForces``): an edge of weight
    w is visited at the epochs where floor(epoch w / w_max) steps up (the m-th visit at
    the first epoch >= m w_max / w, as umap-learn's ``epoch_of_next_sample``; no state
    to carry between steps), each visit
    pulls with the kernel's attraction and pushes from ``negative_rate`` uniform tail
    points (the push weighted by ``repulsion_strength``); every term is clipped to [-clip, clip]. Step b of an epoch visits the edges
    of batch b (the numba backend's ``_edge_batches``: an edge and its mirror in the same
    step, so both ends are pulled at once); all points move after every step.

    ``halo`` (``engine.torch.shards.Halo``): a shard of a sharded run. The graph's rows
    are this rank's points and its columns index the halo's table (own points, then
    remote ones); edges are batched by their global ids, and negative samples are drawn
    uniformly over all points of the data set and read through ``halo.slots``. The law
    is the same; only where the partners' positions come from differs.
    """

    def __init__(self, graph, n_epochs, a, b, *, negative_rate=5, seed=0, tail=None,
                 attraction_scale=None, clip_value=4.0, n_batches=1, repulsion_strength=1.0, halo=None):
        self.graph = graph.tocsr()
        self.halo = halo
        self.n_batches = int(n_batches)
        self.a, self.b = float(a), float(b)
        self.negative_rate = int(negative_rate)
        self.seed = int(seed)
        self.tail = tail
        self.attraction_scale = float(attraction_scale if attraction_scale is not None else (2.0 if tail is None else 1.0))
        self.clip_value = float(clip_value)
        self.repulsion_strength = float(repulsion_strength)
        self._layout = None

    def _prepare(self, Y):
        if self._layout is None or self._layout.device != Y.device:
            if self.halo is not None:  # the whole graph's strongest edge, not this shard's
                w_max = self.halo.weight_max
            else:
                w_max = float(self.graph.data.max()) if self.graph.nnz else 1.0
            rows = np.repeat(np.arange(self.graph.shape[0]), np.diff(self.graph.indptr))
            cols = self.graph.indices
            if self.halo is not None:  # batches keyed by global ids: both ends' ranks agree
                rows, cols = self.halo.ids[rows], self.halo.ids[cols]
            layout = RowBlocks(self.graph, Y.device, n_batches=self.n_batches,
                               batch_of_edge=_edge_batches(rows, cols, self.n_batches))
            for blocks in layout.batches:
                for block in blocks:
                    block.weights = block.weights / w_max  # visits per epoch, in (0, 1]
            layout.device = Y.device
            self._layout = layout
            self._random = StepRandom(self.seed, Y.device)
            self._tail = None if self.tail is None else as_tensor(self.tail, Y.device, Y.dtype)
            self._tail_columns = None if self._tail is None else columns(self._tail)
        return self._layout

    def direction(self, Y, step):
        torch = import_torch()
        layout = self._prepare(Y)
        head_columns = columns(Y)
        tail_columns = head_columns if self._tail is None else self._tail_columns
        if self.halo is not None:  # every rank takes every step: the collectives stay in step
            tail_columns = self.halo.tail_columns(head_columns, step)
        n_draw = tail_columns.shape[1] if self.halo is None else self.halo.n_total
        epoch, batch = divmod(step, self.n_batches)
        generator = self._random.at(step)
        a, b, c = self.a, self.b, self.clip_value
        out = torch.zeros_like(head_columns)
        if epoch == 0:
            return out.T  # umap-learn's first visit of any edge is at epoch >= 1
        for block in layout.blocks(batch):
            rate = block.weights
            # due when (epoch - 1, epoch] holds a multiple of 1 / rate (rate <= 1)
            due = torch.remainder(epoch * rate, 1.0) < rate
            head = head_columns[:, block.rows]
            diff = head[:, :, None] - block.gather(tail_columns)
            coef = torch.where(due, kernels.attraction_coefficient(squared_norms(diff), a, b), 0.0)
            pull = (coef * diff).clamp_(-c, c).sum(dim=2)
            negatives = torch.randint(n_draw, rate.shape + (self.negative_rate,), generator=generator,
                                      device=Y.device)
            if self.halo is not None:
                negatives = self.halo.slots[negatives]
            diff = head[:, :, None, None] - block.gather(tail_columns, negatives)
            coef = torch.where(due[..., None],
                               self.repulsion_strength * kernels.umap_repulsion_coefficient(squared_norms(diff), a, b),
                               0.0)
            push = (coef * diff).clamp_(-c, c).sum(dim=(2, 3))
            out[:, block.rows] = push - self.attraction_scale * pull
        return out.T


def attraction(layout, head, tail_columns, a, b, dof=1.0):
    """A[i] = sum_j w_ij c(t_ij) (y_j - y_i), c the kernel's attraction coefficient."""
    torch = import_torch()
    head_columns = columns(head)
    out = torch.zeros_like(head_columns)
    for block in layout.blocks():
        diff = block.gather(tail_columns) - head_columns[:, block.rows, None]
        coef = block.weights * kernels.attraction_coefficient(squared_norms(diff), a, b, dof)
        out[:, block.rows] = (coef * diff).sum(dim=2)
    return out.T


class NormalizedForces:
    """The normalized objective KL(P || Q) (see ``engine.numba.graph.NormalizedForces``):
    direction = (exaggeration * A + R / Z) / 2, A the exact attraction over the graph's
    edges, R and Z from a repulsion estimator of ``engine.torch.repulsion``; ``dof`` the
    heavy-tailed kernel (1 + a t^b / dof)^-dof."""

    def __init__(self, graph, a, b, repulsion, *, exaggeration=None, tail=None, dof=1.0):
        self.graph = graph.tocsr()
        self.a, self.b = float(a), float(b)
        self.dof = float(dof)
        self.repulsion = repulsion
        self.exaggeration = exaggeration or (lambda epoch: 1.0)
        self.tail = tail
        self.last_Z = float("nan")
        self._layout = None

    def direction(self, Y, epoch):
        if self._layout is None or self._layout.device != Y.device:
            self._layout = RowBlocks(self.graph, Y.device)
            self._layout.device = Y.device
            self._tail = None if self.tail is None else as_tensor(self.tail, Y.device, Y.dtype)
        same = self._tail is None
        tail = Y if same else self._tail
        A = attraction(self._layout, Y, columns(tail), self.a, self.b, self.dof)
        R, Z = self.repulsion(Y, tail, self.a, self.b, epoch, same, self.dof)
        self.last_Z = Z
        return 0.5 * (self.exaggeration(epoch) * A + R / max(Z, 1e-300))


def kl_divergence(P, Y, a, b, repulsion, dof=1.0, *, device=None):
    """KL(P || Q), Q = q / Z, for a graph P summing to one; Z from ``repulsion``.

    Y: a tensor, or a numpy array (moved to ``device`` as float32)."""
    torch = import_torch()
    if not isinstance(Y, torch.Tensor):
        Y = as_tensor(np.asarray(Y), device or "cpu", torch.float32)
    _, Z = repulsion(Y, Y, a, b, 0, True, dof)
    layout = RowBlocks(P, Y.device, weight_dtype=torch.float64)
    acc = 0.0
    Yc = columns(Y)
    for block in layout.blocks():
        t = squared_norms(Yc[:, block.rows, None] - block.gather(Yc)).double()
        p = block.weights
        log_q = dof * torch.log1p(a * kernels.power(t, b) / dof)  # -log q
        terms = torch.where(p > 0, p * (torch.log(torch.where(p > 0, p, 1.0)) + log_q), 0.0)
        acc += total(terms)
    return float(acc + np.log(Z) * P.data.sum())
