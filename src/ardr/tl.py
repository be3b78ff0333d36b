"""Embeddings of AnnData objects, the way scanpy's ``sc.tl`` tools write them.

``ardr.tl.umap(adata)`` and ``ardr.tl.tsne(adata)`` (or ``ardr.tl.embed(adata,
method=...)`` for any method of ``ardr embed``) read a representation of the cells,
embed it with the ardr estimator and write the result where scanpy users look for it:
``adata.obsm["X_umap"]`` / ``"X_tsne"`` (``"X_<method>"``; ``key_added`` renames it), with
the parameters in ``adata.uns["umap"]["params"]`` (``uns[key_added]``).

Which representation (scanpy's rule, ``use_rep`` and ``n_pcs``):

- ``use_rep="X"`` (or ``n_pcs=0``): ``adata.X`` (dense or sparse);
- ``use_rep`` another name: ``adata.obsm[use_rep]`` (its first ``n_pcs`` columns if given);
- ``use_rep=None``: ``adata.X`` when it has at most 50 columns, else ``obsm["X_pca"]``
  (first ``n_pcs`` columns), and if there is none, a 50-component PCA of ``adata.X``
  (``n_pcs`` components if given) computed here, stored in ``obsm["X_pca"]``, with a
  warning, as scanpy does.

anndata is not imported here: anything with ``.X``, ``.obsm`` and ``.uns`` works (an
``anndata.AnnData``, or a stand-in). With ``copy=True`` the object's ``copy()`` is
embedded and returned; otherwise it is changed in place and None is returned.
"""

import warnings

import numpy as np

#: scanpy's settings.N_PCS: wider data are reduced to this many principal components
N_PCS = 50

#: defaults of the scanpy tool where they differ from the ardr estimator's
_SCANPY_DEFAULTS = {
    "umap": {"min_dist": 0.5, "random_state": 0},  # scanpy.tl.umap
    "tsne": {"random_state": 0},  # scanpy.tl.tsne
}


def embed(adata, method="umap", *, use_rep=None, n_pcs=None, key_added=None, copy=False, **params):
    """Embed ``adata`` with ardr's ``method`` and write ``obsm["X_<method>"]`` (see the module).

    ``params`` go to the estimator (``ardr.UMAP``, ``ardr.TSNE``, ...); where scanpy's tool
    has another default than the estimator (umap: ``min_dist=0.5``; every method:
    ``random_state=0``), scanpy's applies. Returns the embedded copy with ``copy=True``,
    else None."""
    from .methods.registry import estimator_class

    _check_anndata(adata)
    cls = estimator_class(method)
    if copy:
        adata = adata.copy()
    X = representation(adata, use_rep, n_pcs)
    defaults = {k: v for k, v in _SCANPY_DEFAULTS.get(method, {"random_state": 0}).items()
                if k in cls().get_params(deep=False)}
    estimator = cls(**{**defaults, **params})
    adata.obsm[key_added or f"X_{method}"] = np.asarray(estimator.fit_transform(X))
    adata.uns[key_added or method] = {"params": {"method": method, "use_rep": use_rep, "n_pcs": n_pcs,
                                                 **{k: _plain(v) for k, v in {**defaults, **params}.items()}}}
    return adata if copy else None


def umap(adata, *, use_rep=None, n_pcs=None, key_added=None, copy=False, **params):
    """``ardr.UMAP`` of ``adata`` into ``obsm["X_umap"]`` (scanpy's ``sc.tl.umap`` layout)."""
    return embed(adata, "umap", use_rep=use_rep, n_pcs=n_pcs, key_added=key_added, copy=copy, **params)


def tsne(adata, *, use_rep=None, n_pcs=None, key_added=None, copy=False, **params):
    """``ardr.TSNE`` of ``adata`` into ``obsm["X_tsne"]`` (scanpy's ``sc.tl.tsne`` layout)."""
    return embed(adata, "tsne", use_rep=use_rep, n_pcs=n_pcs, key_added=key_added, copy=copy, **params)


def representation(adata, use_rep=None, n_pcs=None):
    """The matrix to embed, chosen by scanpy's rule (module docstring)."""
    if n_pcs is not None and (isinstance(n_pcs, bool) or not isinstance(n_pcs, (int, np.integer)) or n_pcs < 0):
        raise ValueError(f"n_pcs must be a non-negative integer or None, got {n_pcs!r}")
    if use_rep == "X" or (use_rep is None and n_pcs == 0):
        return _data(adata)
    if use_rep is not None:
        if use_rep not in adata.obsm:
            raise ValueError(f"use_rep={use_rep!r} is not in adata.obsm (keys: {', '.join(adata.obsm) or 'none'}); "
                             "use 'X' for adata.X")
        return _columns(adata.obsm[use_rep], n_pcs, use_rep)
    n_vars = _data(adata).shape[1]
    if n_vars <= N_PCS:
        return adata.X
    if "X_pca" in adata.obsm:
        return _columns(adata.obsm["X_pca"], n_pcs, "X_pca")
    from .methods.classical import PCA

    n_comps = min(n_pcs or N_PCS, *adata.X.shape)
    warnings.warn(f"adata.X has {n_vars} columns and adata.obsm has no 'X_pca'; using a {n_comps}-component PCA "
                  "of adata.X, stored in adata.obsm['X_pca'] (as scanpy does; use_rep='X' embeds adata.X itself)",
                  stacklevel=3)
    adata.obsm["X_pca"] = PCA(n_comps, random_state=0).fit_transform(adata.X)
    return adata.obsm["X_pca"]


def _columns(matrix, n_pcs, key):
    if n_pcs is None:
        return matrix
    if n_pcs > matrix.shape[1]:
        raise ValueError(f"n_pcs={n_pcs} exceeds the {matrix.shape[1]} columns of adata.obsm[{key!r}]")
    return matrix[:, :n_pcs]


def _check_anndata(adata):
    missing = [name for name in ("X", "obsm", "uns") if not hasattr(adata, name)]
    if missing:
        raise ValueError(f"expected an AnnData (with .X, .obsm and .uns), got a {type(adata).__name__} without "
                         f"{', '.join('.' + m for m in missing)}; for a plain array use the estimators "
                         "(ardr.UMAP().fit_transform(X))")


def _data(adata):
    if adata.X is None:
        raise ValueError("adata.X is None; pass use_rep= with a key of adata.obsm")
    return adata.X


def _plain(value):
    """A parameter value as scanpy stores it in .uns (no arrays of the size of the data)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return repr(value)[:200]
