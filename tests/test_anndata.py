"""ardr.tl: embeddings of AnnData objects written where scanpy users look for them.

anndata is an optional extra (heavy: pandas, h5py, zarr), so the code path is tested on a
minimal stand-in with .X, .obsm and .uns, and once more on a real AnnData when installed."""

import numpy as np
import pytest

import ardr
from ardr import tl


class StandIn:
    """The part of AnnData that ardr.tl touches."""

    def __init__(self, X, obsm=None):
        self.X = X
        self.obsm = dict(obsm or {})
        self.uns = {}

    def copy(self):
        return StandIn(self.X.copy(), {k: v.copy() for k, v in self.obsm.items()})


@pytest.fixture(scope="module")
def cells(digits):
    return digits[0][:300]


def test_umap_writes_obsm_and_uns_like_scanpy(cells):
    adata = StandIn(cells)
    assert tl.umap(adata, use_rep="X", n_epochs=30) is None  # in place, as scanpy
    expected = ardr.UMAP(min_dist=0.5, random_state=0, n_epochs=30).fit_transform(cells)  # scanpy's defaults
    assert np.array_equal(adata.obsm["X_umap"], expected)
    params = adata.uns["umap"]["params"]
    assert params["min_dist"] == 0.5 and params["random_state"] == 0 and params["n_epochs"] == 30


def test_tsne_reads_an_obsm_key_and_honours_key_added_and_copy(cells):
    rep = ardr.PCA(20).fit_transform(cells)
    adata = StandIn(cells, {"X_pca": rep})
    out = tl.tsne(adata, use_rep="X_pca", n_pcs=10, key_added="X_mine", copy=True, n_iter=60)
    assert "X_mine" not in adata.obsm and not adata.uns  # the original is untouched
    expected = ardr.TSNE(random_state=0, n_iter=60).fit_transform(rep[:, :10])
    assert np.array_equal(out.obsm["X_mine"], expected) and out.uns["X_mine"]["params"]["n_pcs"] == 10


def test_representation_follows_scanpys_rule(cells):
    wide = np.hstack([cells, cells])  # 128 columns > 50
    with pytest.warns(UserWarning, match="using a 50-component PCA"):
        X = tl.representation(StandIn(wide))
    assert X.shape == (300, 50)
    adata = StandIn(wide, {"X_pca": np.ones((300, 30))})
    assert tl.representation(adata).shape == (300, 30)  # an existing X_pca is used, no new PCA
    assert tl.representation(adata, n_pcs=5).shape == (300, 5)
    assert tl.representation(adata, use_rep="X") is wide and tl.representation(adata, n_pcs=0) is wide
    narrow = cells[:, :40]
    assert tl.representation(StandIn(narrow)) is narrow  # at most 50 columns: X as it is
    with pytest.raises(ValueError, match="use_rep='X_umap' is not in adata.obsm"):
        tl.representation(adata, use_rep="X_umap")
    with pytest.raises(ValueError, match="expected an AnnData"):
        tl.umap(cells)
    with pytest.raises(ValueError, match="unknown method"):
        tl.embed(StandIn(cells), "magic")


def test_real_anndata(cells):
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(cells)
    tl.embed(adata, "pca", n_components=2)
    assert adata.obsm["X_pca"].shape == (300, 2)
    tl.umap(adata, n_epochs=30)
    assert adata.obsm["X_umap"].shape == (300, 2) and "umap" in adata.uns
