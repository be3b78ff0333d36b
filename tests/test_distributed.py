"""Sharded UMAP on torch.distributed: gloo processes on this machine (torchrun), checked
against the single-process torch run on digits.

One process is the single-process run bit for bit; 2 and 4 processes stay within 0.01 of
its 5-NN accuracy and trustworthiness@10 (25 epochs keep the five fits of this module
lean); a seed and a number of processes give the same bytes twice (once through the
API, once through ``torchrun -m ardr embed``); the bytes each rank sends per epoch are
counted and follow their formula.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ardr  # noqa: E402
from ardr.explain.metrics import trustworthiness  # noqa: E402

from conftest import knn_accuracy  # noqa: E402

EPOCHS = 25
WORKER = """
import json, sys, numpy as np, torch.distributed as dist, ardr
from sklearn.datasets import load_digits
X = load_digits().data.astype(np.float32)
est = ardr.UMAP(backend="torch", device="cpu", distributed=True, random_state=0, n_epochs={epochs})
Y = est.fit_transform(X)
if dist.get_rank() == 0:
    np.save(sys.argv[1], Y)
    json.dump(est.distributed_stats_, open(sys.argv[1] + ".json", "w"))
"""


def _torchrun(procs, args, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={procs}", "--master-addr=127.0.0.1",
           f"--master-port={port}"] + args
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _sharded(procs, tmp_path, name):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(epochs=EPOCHS))
    out = tmp_path / f"{name}.npy"
    _torchrun(procs, [str(script), str(out)], tmp_path)
    return np.load(out), json.loads((tmp_path / f"{name}.npy.json").read_text())


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float32), d.target


@pytest.fixture(scope="module")
def single(digits):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun process
    try:
        return ardr.UMAP(backend="torch", device="cpu", random_state=0, n_epochs=EPOCHS).fit_transform(digits[0])
    finally:
        torch.set_num_threads(threads)


def _assert_same_quality(digits, Y, single):
    """5-NN accuracy and trustworthiness@10 within 0.01 of the single-process run's."""
    X, y = digits
    (acc, trust), (acc_1, trust_1) = ((knn_accuracy(E, y), trustworthiness(X, E, k=10)) for E in (Y, single))
    assert abs(acc - acc_1) <= 0.01 and abs(trust - trust_1) <= 0.01, (acc, acc_1, trust, trust_1)


def test_one_process_is_the_single_process_run(single, tmp_path):
    Y, stats = _sharded(1, tmp_path, "one")
    assert np.array_equal(Y, single)
    assert stats["bytes_per_epoch"] == 0 and stats["cross_shard_edges"] == 0


def _bytes_formula(stats, n_components=2):
    """Per epoch: each rank sends the positions other ranks read from it (halo rows,
    float32) and its padded cell means (all_gather: to each other rank, plus one count)."""
    P = stats["world_size"]
    halo_rows = sum(stats["halo_points_per_rank"])
    return 4 * n_components * halo_rows + P * (P - 1) * (4 * n_components * max(stats["cells_per_rank"]) + 8)


def test_two_processes_match_quality_and_are_deterministic(digits, single, tmp_path):
    Y, stats = _sharded(2, tmp_path, "api")
    _assert_same_quality(digits, Y, single)
    assert 0 < stats["cross_shard_edges"] < 0.2 * stats["edges"]  # cells keep most edges inside a shard
    assert stats["bytes_per_epoch"] == _bytes_formula(stats)
    assert sum(stats["points_per_rank"]) == len(Y) and min(stats["points_per_rank"]) > 0
    # the same run through the command line: the same bytes
    _torchrun(2, ["-m", "ardr", "embed", "--dataset", "digits", "--distributed", "--n-epochs", str(EPOCHS),
                  "--out", str(tmp_path / "cli"), "--quiet", "--no-metrics"], tmp_path)
    from_cli = np.load(tmp_path / "cli" / "embedding.npy")
    assert from_cli.tobytes() == Y.astype(from_cli.dtype).tobytes()
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert report["result"]["distributed_stats_"]["bytes_per_epoch"] == stats["bytes_per_epoch"]


def test_four_processes_match_quality(digits, single, tmp_path):
    Y, stats = _sharded(4, tmp_path, "four")
    _assert_same_quality(digits, Y, single)
    assert len(stats["points_per_rank"]) == 4 and min(stats["points_per_rank"]) > 0
    assert stats["bytes_per_epoch"] == _bytes_formula(stats)


def test_outside_torchrun_is_a_clear_error(digits, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="torchrun"):
        ardr.UMAP(backend="torch", device="cpu", distributed=True).fit(digits[0][:100])


@pytest.mark.parametrize("params, message", [
    ({}, "backend='torch'"),
    ({"backend": "torch", "densmap": True}, "densmap"),
    ({"backend": "torch", "normalized": True}, "normalized"),
    ({"backend": "torch", "distributed": "yes"}, "True or False"),
])
def test_unsupported_combinations_are_clear_errors(digits, params, message):
    params = {"distributed": True, **params}
    with pytest.raises(ValueError, match=message):
        ardr.UMAP(**params).fit(digits[0][:100])


def test_split_cells_balances_points_and_is_deterministic():
    from ardr.graph.torch.sharded import split_cells

    rng = np.random.default_rng(0)
    centres, sizes = rng.normal(size=(40, 5)), rng.integers(100, 400, size=40)
    owner = split_cells(centres, sizes, 4)
    held = np.bincount(owner, weights=sizes, minlength=4)
    assert np.array_equal(owner, split_cells(centres, sizes, 4))
    assert held.max() - held.min() <= 2 * sizes.max()
