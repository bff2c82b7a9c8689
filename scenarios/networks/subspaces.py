"""Subspaces of a layer's activations: the class-discriminant ("relevant") subspace, principal-component
deletion, and a linear probe. Pure float64 functions of activation matrices [n, p] (rows: images).

- :func:`relevant_basis`: an orthonormal basis Q [p, r] of the subspace that linear discriminant analysis
  (Fisher 1936; Rao 1948) reads the classes from, fitted on training activations. P = Q Q^T is the
  orthogonal projector onto it; the relevant part of X is X P, the irrelevant part X (I - P)
  (:func:`split`). LDA's decision function depends on X only through X P.
- :func:`delete_components`: principal-component deletion of Ding, Denain & Steinhardt, "Grounding
  Representation Similarity with Statistical Testing" (NeurIPS 2021): the principal components of the
  centered training activations, the k of largest (``top``) or smallest (``bottom``) variance projected
  out of both the training and the probe activations.
- :func:`probe_accuracy`: the test accuracy of a linear probe (standardized features, multinomial
  logistic regression) fitted on training features, as Ding et al. score the function a layer keeps.
- :func:`gaussian_like`: Gaussian noise with the mean and covariance of a part (the H1 control).
- :func:`total_variance`: tr(cov(X)), the variance a part carries.

The fits (LDA, the probe) run on one BLAS thread (``threadpoolctl``): their many small products are faster
there than split over cores that other work shares, and the same bits whatever the thread count.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

__all__ = ["DELETIONS", "PROBE_MAX_ITER", "delete_components", "gaussian_like", "linear_probe",
           "principal_components", "probe_accuracy", "relevant_basis", "split", "total_variance"]

#: Which principal components :func:`delete_components` removes: those of largest or of smallest variance.
DELETIONS = ("top", "bottom")
#: The probe's L-BFGS iteration budget (fixed, so that a probe is the same function of its data everywhere).
PROBE_MAX_ITER = 2000


def _matrix(name: str, value) -> np.ndarray:
    """``value`` as a finite float64 [n, p] array; ValueError naming ``name`` otherwise."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D [n, p] matrix, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return array


def _labels(name: str, value, n: int) -> np.ndarray:
    """``value`` as n integer labels; ValueError naming ``name`` otherwise."""
    labels = np.asarray(value)
    if labels.shape != (n,):
        raise ValueError(f"{name} must hold one label per row ({n}), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integer class labels, got dtype {labels.dtype}")
    return labels


def _same_width(train: np.ndarray, other: np.ndarray, name: str) -> None:
    if other.shape[1] != train.shape[1]:
        raise ValueError(f"{name} has {other.shape[1]} features, the training activations {train.shape[1]}")


def relevant_basis(train_acts, train_labels, num_classes: int) -> np.ndarray:
    """An orthonormal basis Q [p, r] of the class-discriminant subspace of ``train_acts`` [n, p].

    The subspace is spanned by the discriminant directions of scikit-learn's
    ``LinearDiscriminantAnalysis(solver="svd")`` fitted on (``train_acts``, ``train_labels``): its
    ``scalings_[:, :C - 1]``, the generalized eigenvectors of the between-class scatter S_b with respect to
    the within-class scatter S_w (S_b v = lambda S_w v, lambda > 0). r <= min(C - 1, p); LDA drops the
    directions a rank-deficient S_w (collinear or constant features, p > n) or S_b cannot support, so r is
    smaller there. The directions are orthonormalized by a thin QR decomposition. P = Q Q^T is the
    orthogonal projector onto the subspace, and LDA's decision function (hence its predictions) on X P
    equals that on X: its coefficients lie in the subspace.

    Raises:
        ValueError: bad shapes, non-finite values, labels outside [0, num_classes), fewer than two
            classes present, or activations without variance.
    """
    train = _matrix("train_acts", train_acts)
    labels = _labels("train_labels", train_labels, len(train))
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"train_labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    if len(np.unique(labels)) < 2:
        raise ValueError("train_labels must contain at least two classes")
    if not np.ptp(train, axis=0).any():
        raise ValueError("train_acts has no variance: every feature is constant")
    with warnings.catch_warnings(), threadpool_limits(1):
        # activations often have constant or collinear features (dead units): LDA's rank cut-off handles them
        warnings.filterwarnings("ignore", message="Variables are collinear", category=UserWarning)
        lda = LinearDiscriminantAnalysis(solver="svd").fit(train, labels)
    basis, _ = np.linalg.qr(lda.scalings_[:, : num_classes - 1])
    return basis


def split(acts, basis) -> tuple[np.ndarray, np.ndarray]:
    """(X P, X (I - P)) with P = Q Q^T, Q = ``basis`` [p, r] orthonormal (:func:`relevant_basis`): the
    relevant and the irrelevant part of ``acts`` [n, p]; they sum to ``acts``."""
    acts, basis = _matrix("acts", acts), _matrix("basis", basis)
    if basis.shape[0] != acts.shape[1]:
        raise ValueError(f"basis has {basis.shape[0]} rows, acts {acts.shape[1]} features")
    relevant = acts @ basis @ basis.T
    return relevant, acts - relevant


def total_variance(acts) -> float:
    """tr(cov(X)) = ||X - mean||_F^2 / (n - 1), the total variance of ``acts`` [n, p] (n >= 2)."""
    acts = _matrix("acts", acts)
    if len(acts) < 2:
        raise ValueError(f"acts needs at least 2 rows for a variance, got {len(acts)}")
    return float(np.sum((acts - acts.mean(axis=0)) ** 2) / (len(acts) - 1))


def gaussian_like(part, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise [n, p] with the mean and covariance of ``part`` [n, p] and independent of it: n rows
    drawn by ``rng.multivariate_normal(mean(part), cov(part), method="eigh")``. A rank-deficient covariance
    (such as that of X (I - P)) is honoured up to the eigendecomposition's rounding, which leaves noise of
    order sqrt(eps) in its null space: project the result onto the part's subspace where that matters."""
    part = _matrix("part", part)
    if len(part) < 2:
        raise ValueError(f"part needs at least 2 rows for a covariance, got {len(part)}")
    cov = np.cov(part, rowvar=False).reshape(part.shape[1], part.shape[1])
    return rng.multivariate_normal(part.mean(axis=0), cov, size=len(part), method="eigh")


def principal_components(train_acts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [p], variances [p], components [p, p]) of ``train_acts`` [n, p]: the eigendecomposition of the
    sample covariance (X - mean)^T (X - mean) / (n - 1) by ``numpy.linalg.eigh``, in descending order of
    variance (components are the columns)."""
    train = _matrix("train_acts", train_acts)
    if len(train) < 2:
        raise ValueError(f"train_acts needs at least 2 rows for principal components, got {len(train)}")
    mean = train.mean(axis=0)
    centered = train - mean
    variances, components = np.linalg.eigh(centered.T @ centered / (len(train) - 1))
    return mean, variances[::-1], components[:, ::-1]


def delete_components(train_acts, acts, k: int, which: str = "top") -> tuple[np.ndarray, np.ndarray]:
    """Principal-component deletion (Ding, Denain & Steinhardt 2021): with V_k [p, k] the k principal
    components of ``train_acts`` of largest (``which="top"``) or smallest (``"bottom"``) variance
    (:func:`principal_components`) and m the training mean,

        Z' = m + (Z - m) (I - V_k V_k^T)

    for Z = ``train_acts`` and Z = ``acts`` (the probe activations): the k components projected out, the mean
    kept. Returns (train', acts'). The training variance drops by exactly the k deleted eigenvalues.

    Raises:
        ValueError: bad shapes or values, ``k`` outside [0, p], or an unknown ``which``.
    """
    train, acts = _matrix("train_acts", train_acts), _matrix("acts", acts)
    _same_width(train, acts, "acts")
    if which not in DELETIONS:
        raise ValueError(f"which must be one of {DELETIONS}, got {which!r}")
    if not (isinstance(k, (int, np.integer)) and 0 <= k <= train.shape[1]):
        raise ValueError(f"k must be an integer in [0, {train.shape[1]}] (the number of features), got {k!r}")
    mean, _, components = principal_components(train)
    deleted = components[:, :k] if which == "top" else components[:, components.shape[1] - k:]
    return tuple(z - ((z - mean) @ deleted) @ deleted.T for z in (train, acts))


def linear_probe(train_feats, train_labels) -> Pipeline:
    """A linear probe fitted on (``train_feats`` [n, p], ``train_labels``): per-feature standardization
    (scikit-learn's ``StandardScaler``), then multinomial logistic regression (``LogisticRegression``,
    L-BFGS, C = 1, :data:`PROBE_MAX_ITER` iterations, ``random_state=0``). Deterministic: the same data give
    the same probe (fitted on one BLAS thread)."""
    train = _matrix("train_feats", train_feats)
    labels = _labels("train_labels", train_labels, len(train))
    if len(np.unique(labels)) < 2:
        raise ValueError("train_labels must contain at least two classes")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=PROBE_MAX_ITER, random_state=0))
    with threadpool_limits(1):
        return probe.fit(train, labels)


def probe_accuracy(train_feats, train_labels, test_feats, test_labels) -> float:
    """Test accuracy of the :func:`linear_probe` fitted on the training features: the fraction of
    ``test_feats`` rows whose predicted class equals ``test_labels``."""
    probe = linear_probe(train_feats, train_labels)
    test = _matrix("test_feats", test_feats)
    _same_width(_matrix("train_feats", train_feats), test, "test_feats")
    labels = _labels("test_labels", test_labels, len(test))
    return float(np.mean(probe.predict(test) == labels))
