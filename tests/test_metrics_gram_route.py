"""The Gram route of gulp, pwcca and shape_metric (metrics._linalg.gram_basis: the p x p products and their
factorizations, no QR of the n x p data): taken where it keeps float64 accuracy, and left for the
rank-revealing QR route elsewhere (ill-conditioned data, p >= n, values near where the formula cancels)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import metrics
import metrics._linalg as linalg
from reference import route
from strategies import PLATFORM_RTOL, assert_close, correlated_pair

#: (measure, parameters): both routes of gulp (Cholesky at lam = 0, singular directions for lam > 0) and of
#: the shape metric (whitened, partially whitened); pwcca.
ROUTED = [("gulp", {}), ("gulp", {"lam": 0.1}), ("pwcca", {}), ("shape_metric", {}), ("shape_metric", {"alpha": 0.0})]
IDS = [f"{name}{params}" for name, params in ROUTED]


@pytest.fixture
def gram_routes(monkeypatch) -> list[bool]:
    """Records, for every call of gram_basis, whether it returned a basis (the Gram route was open)."""
    taken: list[bool] = []
    original = linalg.gram_basis

    def spy(*args, **kwargs):
        basis = original(*args, **kwargs)
        taken.append(basis is not None)
        return basis

    for module in ("metrics.subspace", "metrics.cca", "metrics.shape"):
        monkeypatch.setattr(f"{module}.gram_basis", spy)
    return taken


def _ill_conditioned(seed: int, n: int = 400, p: int = 12, decades: float = 6.0):
    """X with singular values from 1 to 10^-decades along rotated directions (no column scaling undoes it),
    and Y a noisy map of part of it."""
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.normal(size=(n, p)))[0]
    x = (u * np.logspace(0, -decades, p)) @ np.linalg.qr(rng.normal(size=(p, p)))[0]
    return x, x[:, :8] @ rng.normal(size=(8, 8)) + 1e-3 * rng.normal(size=(n, 8))


@pytest.mark.parametrize("name, params", ROUTED, ids=IDS)
def test_gram_route_is_taken_on_well_conditioned_data_and_matches_the_qr_route(name, params, gram_routes, monkeypatch):
    x, y = correlated_pair(np.random.default_rng(21), 300, 20, 15)
    fast = metrics.get(name)(x, y, **params)
    assert gram_routes and all(gram_routes), "well-conditioned data should take the Gram route"
    monkeypatch.setattr(linalg, "GRAM_ROUTE_CONDITION", 0.0)  # every basis refused: the QR route
    assert_close(fast, metrics.get(name)(x, y, **params), rtol=PLATFORM_RTOL, what=f"{name} Gram vs QR route")
    if name != "pwcca":  # pwcca's reference whitens the covariances itself
        assert_close(fast, route(name)(x, y, **params), rtol=PLATFORM_RTOL, what=f"{name} Gram route vs reference")


@pytest.mark.parametrize("name, params", [case for case in ROUTED if case[0] != "pwcca"], ids=IDS[:2] + IDS[3:])
def test_ill_conditioned_data_takes_the_qr_route_and_keeps_float64_accuracy(name, params, gram_routes):
    """kappa(X) = 1e6: the Gram route would lose about eps kappa^2 (1e-4 relative; measured 1e-9 on such
    data); the guard sends it to the QR route, which matches the reference to PLATFORM_RTOL."""
    x, y = _ill_conditioned(22)
    value = metrics.get(name)(x, y, **params)
    assert gram_routes and not gram_routes[0], "X's condition number should close the Gram route"
    assert_close(value, route(name)(x, y, **params), rtol=PLATFORM_RTOL, what=name)


@pytest.mark.parametrize("name", ["gulp", "shape_metric"])
def test_identical_inputs_give_zero_through_the_qr_route(name):
    """Where the value cancels to 0, the Gram route cannot promise its accuracy and hands over: 0 to
    rounding of the QR route (the Gram route's sqrt(r - ||G||_F^2) would be about sqrt(r eps), 1e-7)."""
    x, _ = correlated_pair(np.random.default_rng(23), 300, 20, 15)
    assert metrics.get(name)(x, x) <= 1e-12


def test_gram_basis_refuses_wide_and_ill_conditioned_inputs_and_finds_the_singular_values():
    rng = np.random.default_rng(24)
    wide = torch.from_numpy(rng.normal(size=(10, 12)))
    assert linalg.gram_basis(linalg.center_unit(wide)) is None
    x, _ = _ill_conditioned(25, decades=2.0)  # kappa = 100 > 64
    assert linalg.gram_basis(linalg.center_unit(torch.from_numpy(x))) is None
    x = rng.normal(size=(200, 6))
    xc = linalg.center_unit(torch.from_numpy(x))
    for singular in (False, True):
        basis = linalg.gram_basis(xc, singular=singular)
        s = np.linalg.svd(xc.numpy(), compute_uv=False)
        np.testing.assert_allclose(basis.s, s, rtol=PLATFORM_RTOL)
        # Xc = B T with B orthonormal: T^T T is the Gram matrix, and B^T B = (Xc T^-1)^T (Xc T^-1) = I
        np.testing.assert_allclose(basis.t.T @ basis.t, xc.numpy().T @ xc.numpy(), rtol=PLATFORM_RTOL, atol=1e-10)
        cross = linalg.gram_cross(basis, basis, xc, xc)
        # through BLAS on unit-scale data: the platform tolerance, absolute (the zeros have no scale)
        np.testing.assert_allclose(cross, np.eye(6), atol=1e-10)
