"""What every ardr estimator declares to scikit-learn (its estimator tags).

Sparse input is accepted (``check_data`` densifies it, within a size limit), so the
estimators say so: scikit-learn's checks fit them on sparse matrices. Every check of
``sklearn.utils.estimator_checks.check_estimator`` that an estimator does not pass is
listed, with the reason, in that estimator's ``_NOT_APPLICABLE`` (tests/test_sklearn_contract.py
runs the checks and reads the list).
"""

from sklearn.base import ClassNamePrefixFeaturesOutMixin

from ..io import SaveMixin


class EstimatorContract(SaveMixin, ClassNamePrefixFeaturesOutMixin):
    """``save()`` (ardr.io), scikit-learn's tags and output feature names ("tsne0",
    "tsne1", ...: what ``set_output(transform="pandas")`` names the columns). Put it
    first among the bases."""

    @property
    def _n_features_out(self):
        return self.embedding_.shape[1]

    #: check name -> why it does not apply to this estimator
    _NOT_APPLICABLE = {}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"_xfail_checks": dict(self._NOT_APPLICABLE)}
