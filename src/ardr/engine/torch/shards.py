"""The collectives of a sharded run on ``torch.distributed``, with the bytes each rank sends.

A sharded run is a job that ``torchrun`` launched: every rank runs the same program on
the same data, owns some of the points and moves only those. All communication goes
through torch.distributed's collectives (gloo on CPUs, NCCL on GPUs): ``all_gather``,
``all_to_all_single``, ``all_reduce`` and ``broadcast``; ardr has no protocol of its own.

``Shards`` wraps the process group and counts the payload bytes this rank sends to the
other ranks (an all_gather of b bytes sends b to each of the P - 1 others; an
all_to_all sends each part to its rank; the transport's own overhead is not counted).

``Halo`` is the table a shard's force law reads its partners from: its own points, then
the remote ends of its edges (the halo), then the mean position of every k-means cell
(the far field its negative samples stand for), refreshed by collectives once every
``every`` steps. Its bytes per refresh are fixed by the partition:
4 d (halo rows sent + (P - 1) x the most cells any rank owns).
"""

import atexit
import os

import numpy as np

from .device import import_torch

LAUNCH = ("launch it with torchrun, e.g. `torchrun --nproc-per-node=2 your_script.py` "
          "or `torchrun --nproc-per-node=2 -m ardr embed --distributed ...`")
_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def process_group(device):
    """torch.distributed, initialised from torchrun's environment when it is not yet
    (gloo for a CPU device, NCCL for CUDA); a clear error outside such a job."""
    try:
        import torch.distributed as dist
    except ImportError:
        raise ImportError("distributed=True needs PyTorch; install it with: pip install 'ardr[torch]'") from None
    if not dist.is_available():
        raise ImportError("distributed=True needs a PyTorch built with torch.distributed")
    if dist.is_initialized():
        return dist
    missing = [name for name in _TORCHRUN_ENV if name not in os.environ]
    if missing:
        raise ValueError(f"distributed=True runs inside a torchrun job (no {', '.join(missing)} in the "
                         f"environment); {LAUNCH}")
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    atexit.register(_close, dist)  # ardr opened the group: it closes it (gloo aborts at exit otherwise)
    return dist


def _close(dist):
    if dist.is_initialized():
        dist.destroy_process_group()


def local_device(device):
    """A CUDA device is this rank's own GPU (torchrun's LOCAL_RANK); the CPU is shared."""
    torch = import_torch()
    if device.type != "cuda" or device.index is not None:
        return device
    local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.cuda.set_device(local)
    return local


class Shards:
    """This rank of the process group, its collectives and the bytes it has sent."""

    def __init__(self, device):
        self.dist = process_group(device)
        self.rank = self.dist.get_rank()
        self.size = self.dist.get_world_size()
        # NCCL moves device tensors only; gloo moves host tensors
        self.wire = device if self.dist.get_backend() == "nccl" else import_torch().device("cpu")
        self.sent = {}

    def _count(self, stage, nbytes):
        self.sent[stage] = self.sent.get(stage, 0) + int(nbytes)

    def all_gather_rows(self, t, stage):
        """The concatenation over ranks (in rank order) of each rank's tensor ``t`` (same
        trailing shape and dtype, any number of rows): sizes first, then rows padded to
        the longest."""
        torch = import_torch()
        home = t.device
        t = t.to(self.wire).contiguous()
        sizes = torch.zeros(self.size, dtype=torch.int64, device=self.wire)
        sizes[self.rank] = t.shape[0]
        self.dist.all_reduce(sizes)  # a sum of one-hot counts: exact
        longest = int(sizes.max())
        padded = torch.zeros((longest,) + tuple(t.shape[1:]), dtype=t.dtype, device=self.wire)
        padded[: t.shape[0]] = t
        parts = [torch.empty_like(padded) for _ in range(self.size)]
        self.dist.all_gather(parts, padded)
        self._count(stage, (self.size - 1) * (padded.numel() * padded.element_size() + 8))
        return torch.cat([p[: int(s)] for p, s in zip(parts, sizes)]).to(home)

    def exchange_counts(self, counts):
        """all_to_all of one count per rank: what each rank will send this one."""
        torch = import_torch()
        out = torch.empty(self.size, dtype=torch.int64, device=self.wire)
        self.dist.all_to_all_single(out, torch.as_tensor(np.asarray(counts), dtype=torch.int64, device=self.wire))
        return [int(v) for v in out]

    def all_to_all_rows(self, t, send_counts, recv_counts, stage):
        """Rows ``t`` (grouped by destination rank, ``send_counts`` of each) sent to their
        ranks; returns the rows received, grouped by source rank (``recv_counts``)."""
        torch = import_torch()
        home = t.device
        t = t.to(self.wire).contiguous()
        out = torch.empty((sum(recv_counts),) + tuple(t.shape[1:]), dtype=t.dtype, device=self.wire)
        self.dist.all_to_all_single(out, t, list(recv_counts), list(send_counts))
        row_bytes = t.element_size() * (int(np.prod(t.shape[1:])) if t.dim() > 1 else 1)
        self._count(stage, row_bytes * (sum(send_counts) - send_counts[self.rank]))
        return out.to(home)

    def send_grouped(self, t, destination, stage):
        """Rows ``t`` sent to the ranks ``destination`` (one per row, a numpy array); returns
        the rows this rank received, by source rank and, within one, in sent order."""
        torch = import_torch()
        order = np.argsort(destination, kind="stable")
        send = np.bincount(destination, minlength=self.size)
        recv = self.exchange_counts(send)
        self._count(stage, 8 * (self.size - 1))
        return self.all_to_all_rows(t[torch.as_tensor(order, device=t.device)], send.tolist(), recv, stage)

    def all_reduce(self, value, op="sum"):
        """A number reduced over ranks (float64; "sum" or "max")."""
        torch = import_torch()
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.wire)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX if op == "max" else self.dist.ReduceOp.SUM)
        return float(t[0])

    def broadcast(self, array, stage):
        """rank 0's numpy array, on every rank (same shape and dtype on all ranks)."""
        torch = import_torch()
        t = torch.as_tensor(np.ascontiguousarray(array), device=self.wire)
        self.dist.broadcast(t, src=0)
        if self.rank == 0:
            self._count(stage, (self.size - 1) * t.numel() * t.element_size())
        return t.cpu().numpy()


class Halo:
    """Where a shard's force law reads the points it does not own.

    ``own``: this rank's global point ids (increasing), the rows it moves; ``halo``: the
    remote points its edges reach (exact positions); ``owner``, ``cell`` (one per point)
    and ``cell_owner`` (one per cell): the partition, the same on every rank. The table
    is [own positions (current), halo positions, every cell's mean position], the last
    two as of the latest refresh; ``slots`` maps a global point id to its column there
    (own and halo points: themselves; any other: its cell's mean), so a negative sample
    drawn uniformly over all n points reads a position this rank holds.
    """

    def __init__(self, shards, own, halo, owner, cell, cell_owner, *, every, device):
        torch = import_torch()
        self.shards, self.every, self.device = shards, int(every), device
        n, rank = len(owner), shards.rank
        halo = halo[np.lexsort((halo, owner[halo]))]  # by owner rank, then id: all_to_all's grouping
        self.own, self.halo, m, h = own, halo, len(own), len(halo)
        self.recv_counts = np.bincount(owner[halo], minlength=shards.size).tolist()
        # tell each owner which of its points this rank reads; it sends them at every refresh
        requested = shards.send_grouped(torch.as_tensor(halo, dtype=torch.int64), owner[halo], "setup")
        self.send_counts = shards.exchange_counts(self.recv_counts)
        self.send_index = torch.as_tensor(np.searchsorted(own, requested.cpu().numpy()), device=device)
        # this rank's cells, and its points grouped by cell (for the means)
        self.n_cells = len(cell_owner)
        cells_of = [np.flatnonzero(cell_owner == r) for r in range(shards.size)]
        own_cells = cells_of[rank]
        by_cell = np.argsort(cell[own], kind="stable")
        bounds = np.searchsorted(cell[own][by_cell], np.append(own_cells, self.n_cells))
        self.by_cell = torch.as_tensor(by_cell, device=device)
        self.cell_bounds = torch.as_tensor(bounds, device=device)
        cell_slot = np.empty(self.n_cells, dtype=np.int64)
        cell_slot[np.concatenate(cells_of)] = np.arange(self.n_cells)
        slots = m + h + cell_slot[cell]
        slots[halo] = m + np.arange(h)
        slots[own] = np.arange(m)
        self.slots = torch.as_tensor(slots, device=device)
        self.ids = np.concatenate([own, halo])  # the global id of each point column
        self.n_total = n
        self.weight_max = 1.0  # the graph's strongest edge over all shards (set by the caller)
        self.cells_max = max(len(c) for c in cells_of)
        self._remote = None
        self.refreshes = 0
        self.bytes_per_refresh = None

    def tail_columns(self, head_columns, step):
        """The table (d x columns) for this step; collectives every ``every`` steps."""
        torch = import_torch()
        if self._remote is None or step % self.every == 0:
            before = sum(self.shards.sent.values())
            rows = head_columns.T
            halo = self.shards.all_to_all_rows(rows[self.send_index], self.send_counts, self.recv_counts, "optimize")
            means = self.shards.all_gather_rows(self._cell_means(rows), "optimize")
            self._remote = torch.cat([halo, means.to(rows.dtype)]).T.contiguous()
            self.bytes_per_refresh = sum(self.shards.sent.values()) - before
            self.refreshes += 1
        return torch.cat([head_columns, self._remote], dim=1)

    def _cell_means(self, rows):
        """Mean position of each of this rank's cells (0 for an empty one): differences of
        a float64 running sum over the points grouped by cell (one fixed order)."""
        torch = import_torch()
        running = torch.cat([rows.new_zeros((1, rows.shape[1]), dtype=torch.float64),
                             rows[self.by_cell].double().cumsum(dim=0)])
        sums = running[self.cell_bounds[1:]] - running[self.cell_bounds[:-1]]
        counts = (self.cell_bounds[1:] - self.cell_bounds[:-1]).double()[:, None]
        return (sums / counts.clamp(min=1.0)).float()
