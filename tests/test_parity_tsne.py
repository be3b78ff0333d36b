"""Parity with the peers, option by option (issue 12): the same call on openTSNE (or
scikit-learn's TSNE for scikit-learn's spellings) and on ardr.TSNE, on digits, must
score within 0.01 of the peer in 5-NN accuracy and trustworthiness@10. The peers come
from the optional ``peers`` extra; without them this module is skipped. The cases and
the larger Fashion-MNIST comparison live in benchmarks/tsne_parity.py."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("openTSNE")

import ardr  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "tsne_parity", Path(__file__).resolve().parent.parent / "benchmarks" / "tsne_parity.py")
parity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parity)

TOLERANCE = 0.01


@pytest.fixture(scope="module")
def digits():
    return ardr.datasets.load("digits")


@pytest.mark.parametrize("case", sorted(parity.CASES))
def test_tsne_option_matches_peer(case, digits):
    if parity.unsupported(case):
        pytest.skip(parity.unsupported(case))
    X, y = digits
    r = parity.run_case(case, X, y, seed=0)
    ours, peer = r["ardr"], r["peer_scores"]
    # two-sided: an option that ardr ignored or got wrong shows as a difference either way
    assert abs(ours["knn5_acc"] - peer["knn5_acc"]) <= TOLERANCE, r
    assert abs(ours["trust10"] - peer["trust10"]) <= TOLERANCE, r
