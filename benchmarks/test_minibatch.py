"""Minibatch CKA (Nguyen, Raghu & Kornblith 2021) against the full-data debiased estimator as the batch
size shrinks: the table ``minibatch_cka.md`` under ``--report-dir`` (docs/minibatch_cka.md explains it).

Per seed, one pair of representations and the difference cka_linear_minibatch(X, Y, batch_size=b) -
cka_linear_debiased(X, Y) on the same samples, for b from n down to 16 (8 in the full profile); the table gives its mean and
standard deviation over the seeds, and the mean of both values. Two kinds of data: X and Y sharing a
latent signal (the population CKA is away from 0), and independent X and Y (it is 0). The minibatch
value averages the three unbiased HSIC terms over n / b batches, so each term stays unbiased; the ratio
of the means is not the full-data ratio, and its spread grows as the batches shrink.
"""
from __future__ import annotations

import numpy as np
import pytest

import metrics
from metrics.cka import minibatches

#: (n, p, seeds, batch sizes) per profile; batch size None: one batch of all n rows
SIZES = {
    "quick": (1_000, 64, 5, (None, 512, 256, 128, 64, 32, 16)),
    "full": (10_000, 256, 10, (None, 4096, 1024, 512, 256, 128, 64, 32, 16, 8)),
}
LATENT = 16


def pair(kind: str, n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X, Y [n, p]: sharing a 16-dimensional latent signal plus noise, or independent Gaussians."""
    rng = np.random.default_rng(seed)
    if kind == "independent":
        return rng.standard_normal((n, p)), rng.standard_normal((n, p))
    z = rng.standard_normal((n, LATENT))
    x = z @ rng.standard_normal((LATENT, p)) + rng.standard_normal((n, p))
    return x, z @ rng.standard_normal((LATENT, p)) + 2.0 * rng.standard_normal((n, p))


def difference_table(kind: str, n: int, p: int, seeds: int, batches) -> list[str]:
    full = metrics.get("cka_linear_debiased")
    minibatch = metrics.get("cka_linear_minibatch")
    data = [pair(kind, n, p, seed) for seed in range(seeds)]
    reference = np.array([full(x, y) for x, y in data])
    lines = [f"### {kind} X and Y (n = {n}, p = {p}, {seeds} seeds)", "",
             "| batch size | batches | mean minibatch CKA | mean debiased CKA | mean difference | sd of difference |",
             "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for batch in batches:
        size = n if batch is None else batch
        values = np.array([minibatch(x, y, batch_size=size) for x, y in data])
        difference = values - reference
        lines.append(f"| {size} | {len(minibatches(n, size))} | {values.mean():.5f} | {reference.mean():.5f} | "
                     f"{difference.mean():+.2e} | {difference.std(ddof=1):.2e} |")  # fmt: skip
    return lines + [""]


def test_minibatch_cka_against_the_full_data_estimator(request, benchmark_report):
    n, p, seeds, batches = SIZES[request.config.getoption("--profile")]
    lines = ["# Minibatch CKA against full-data debiased CKA", "",
             "cka_linear_minibatch(X, Y, batch_size=b) - cka_linear_debiased(X, Y) on the same samples (consecutive "
             "batches; benchmarks/test_minibatch.py).", ""]  # fmt: skip
    for kind in ("correlated", "independent"):
        lines += difference_table(kind, n, p, seeds, batches)
    x, y = pair("correlated", n, p, 0)
    one_batch = metrics.get("cka_linear_minibatch")(x, y, batch_size=n)
    # one batch of every row is the full-data estimator (float64 rounding of the same sums in another order)
    assert one_batch == pytest.approx(metrics.get("cka_linear_debiased")(x, y), rel=1e-12)
    benchmark_report("minibatch_cka.md", "\n".join(lines))
