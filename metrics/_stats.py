"""Centered co-moments of a pair of representations, and their exact pairwise combination.

For samples (x_i, y_i), i = 1..n, with means m_x, m_y, centered rows a_i = x_i - m_x, b_i = y_i - m_y and
squared norms r_i = ||a_i||^2, s_i = ||b_i||^2, :class:`Moments` holds

    second order   xx = sum a a^T [p1, p1],  xy = sum a b^T [p1, p2],  yy = sum b b^T [p2, p2]
    third order    rx = sum r a,  ry = sum r b,  sx = sum s a,  sy = sum s b        (vectors)
    fourth order   rr = sum r^2,  rs = sum r s,  ss = sum s^2                       (scalars)

The second-order block serves every linear measure; the others serve debiased CKA, whose unbiased HSIC
needs d.e with d_i = ||x_i - mean||^2 about the mean of *all* samples.

Combination (Chan, Golub, LeVeque 1979, "Updating formulae and a pairwise algorithm for computing sample
variances"; higher orders as in Pebay 2008, SAND2008-6212): moments of a group about its own mean are
re-expressed about another point c by expanding u_i = x_i - c = a_i + delta with delta = m_x - c (and
v_i = b_i + epsilon for Y), using sum a_i = sum b_i = 0. With the side index u, w in {x, y},
C_uw = sum a_u a_w^T, T_uw = sum ||a_u||^2 a_w and D_uw = sum ||a_u||^2 ||a_w||^2:

    C'_uw = C_uw + n delta_u delta_w^T
    T'_uw = T_uw + tr(C_uu) delta_w + 2 C_wu delta_u + n ||delta_u||^2 delta_w
    D'_uw = D_uw + 2 delta_w.T_uw + 2 delta_u.T_wu + 4 delta_u^T C_uw delta_w
            + ||delta_w||^2 tr(C_uu) + ||delta_u||^2 tr(C_ww) + n ||delta_u||^2 ||delta_w||^2

Two groups A, B combine by moving both to the pooled mean m = m_A + (n_B / n) Delta, Delta = m_B - m_A
(delta_A = -(n_B / n) Delta, delta_B = (n_A / n) Delta) and adding. For the second order this is Chan's
C = C_A + C_B + (n_A n_B / n) Delta Delta^T. No raw sums sum x x^T are ever formed, so a mean that is
large against the spread costs no digits.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from metrics._linalg import cross, gram, row_sq_norms

__all__ = ["SUMMED", "Moments", "about", "add", "batch_moments", "combine", "flatten", "unflatten", "zeros"]

_SIDES = ("x", "y")

#: The fields that add up over groups moved to one common point (all but the count and the means).
SUMMED = ("xx", "xy", "yy", "rx", "ry", "sx", "sy", "rr", "rs", "ss")


@dataclass(frozen=True)
class Moments:
    """Centered co-moments of n paired samples (see the module docstring for every field)."""

    count: float
    mean_x: torch.Tensor
    mean_y: torch.Tensor
    xx: torch.Tensor
    xy: torch.Tensor
    yy: torch.Tensor
    rx: torch.Tensor
    ry: torch.Tensor
    sx: torch.Tensor
    sy: torch.Tensor
    rr: torch.Tensor
    rs: torch.Tensor
    ss: torch.Tensor

    def mean(self, u: str) -> torch.Tensor:
        return self.mean_x if u == "x" else self.mean_y

    def second(self, u: str, w: str) -> torch.Tensor:
        """C_uw = sum a_u a_w^T (C_yx is C_xy transposed)."""
        return self.xy.T if (u, w) == ("y", "x") else getattr(self, u + w)

    def third(self, u: str, w: str) -> torch.Tensor:
        """T_uw = sum ||a_u||^2 a_w."""
        return getattr(self, {"x": "r", "y": "s"}[u] + w)

    def fourth(self, u: str, w: str) -> torch.Tensor:
        """D_uw = sum ||a_u||^2 ||a_w||^2."""
        return getattr(self, {"xx": "rr", "xy": "rs", "yx": "rs", "yy": "ss"}[u + w])


def batch_moments(x: torch.Tensor, y: torch.Tensor, product_dtype: torch.dtype = torch.float64) -> Moments:
    """Moments of one batch about its own mean (two-pass: mean first, then centered products).

    Args:
        x, y: [b, p1] and [b, p2] float64 tensors on one device, b >= 1.
        product_dtype: dtype of the O(b p^2) products; ``torch.float32`` trades ~1e-7 relative accuracy
            per batch for speed (means, centering and all results stay float64).
    """
    mean_x, mean_y = x.mean(dim=0), y.mean(dim=0)
    a, b = x - mean_x, y - mean_y
    r, s = row_sq_norms(a), row_sq_norms(b)
    low_a, low_b = a.to(product_dtype), b.to(product_dtype)
    return Moments(
        count=float(x.shape[0]),
        mean_x=mean_x,
        mean_y=mean_y,
        xx=gram(low_a).to(torch.float64),
        xy=cross(low_a, low_b).to(torch.float64),
        yy=gram(low_b).to(torch.float64),
        rx=a.T @ r,
        ry=b.T @ r,
        sx=a.T @ s,
        sy=b.T @ s,
        rr=r @ r,
        rs=r @ s,
        ss=s @ s,
    )


def about(m: Moments, delta_x: torch.Tensor, delta_y: torch.Tensor) -> Moments:
    """The same samples' moments about the point (mean_x - delta_x, mean_y - delta_y).

    The result's first moments sum(x_i - c) = n delta are not stored: it is meant to be summed with other
    groups moved to the same point, their common mean, where the first moments cancel.
    """
    n, delta = m.count, {"x": delta_x, "y": delta_y}
    sq = {u: delta[u] @ delta[u] for u in _SIDES}
    trace = {u: torch.trace(m.second(u, u)) for u in _SIDES}

    def second(u, w):
        return torch.addr(m.second(u, w), delta[u], delta[w], alpha=n)

    def third(u, w):
        return m.third(u, w) + trace[u] * delta[w] + 2 * (m.second(w, u) @ delta[u]) + n * sq[u] * delta[w]

    def fourth(u, w):
        return (
            m.fourth(u, w)
            + 2 * delta[w] @ m.third(u, w)
            + 2 * delta[u] @ m.third(w, u)
            + 4 * delta[u] @ m.second(u, w) @ delta[w]
            + sq[w] * trace[u]
            + sq[u] * trace[w]
            + n * sq[u] * sq[w]
        )

    return Moments(
        count=n,
        mean_x=m.mean_x - delta_x,
        mean_y=m.mean_y - delta_y,
        xx=second("x", "x"),
        xy=second("x", "y"),
        yy=second("y", "y"),
        rx=third("x", "x"),
        ry=third("x", "y"),
        sx=third("y", "x"),
        sy=third("y", "y"),
        rr=fourth("x", "x"),
        rs=fourth("x", "y"),
        ss=fourth("y", "y"),
    )


def add(a: Moments, b: Moments) -> Moments:
    """Sum of two groups' moments taken about one common point (the pooled mean, kept from ``a``)."""
    return replace(a, count=a.count + b.count, **{name: getattr(a, name) + getattr(b, name) for name in SUMMED})


def combine(a: Moments, b: Moments) -> Moments:
    """Moments of the union of two disjoint groups (Chan et al. 1979 pairwise update, all orders)."""
    n = a.count + b.count
    step_x, step_y = b.mean_x - a.mean_x, b.mean_y - a.mean_y
    to_a, to_b = -b.count / n, a.count / n
    return add(about(a, to_a * step_x, to_a * step_y), about(b, to_b * step_x, to_b * step_y))


def zeros(p1: int, p2: int, device: torch.device) -> Moments:
    """The moments of no samples (the neutral element of :func:`add`)."""

    def z(*shape):
        return torch.zeros(shape, dtype=torch.float64, device=device)

    return Moments(0.0, z(p1), z(p2), z(p1, p1), z(p1, p2), z(p2, p2), z(p1), z(p2), z(p1), z(p2), z(), z(), z())


def flatten(m: Moments) -> torch.Tensor:
    """The :data:`SUMMED` fields concatenated into one float64 vector (one collective per reduction)."""
    return torch.cat([getattr(m, name).reshape(-1) for name in SUMMED])


def unflatten(flat: torch.Tensor, like: Moments) -> Moments:
    """Inverse of :func:`flatten`: ``like`` with its :data:`SUMMED` fields read from ``flat``."""
    parts, start = {}, 0
    for name in SUMMED:
        shape = getattr(like, name).shape
        parts[name] = flat[start : start + shape.numel()].reshape(shape)
        start += shape.numel()
    return replace(like, **parts)
