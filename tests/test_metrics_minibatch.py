"""cka_linear_minibatch (Nguyen, Raghu & Kornblith 2021) against an independent route (U-centered HSIC of
the raw per-batch kernels, its declared reference route) at batch sizes with and without a remainder, the
batching rule, its parameter checks and its dependence on the row order."""
from __future__ import annotations

import numpy as np
import pytest

import metrics
from reference import route
from metrics.cka import minibatches
from strategies import assert_close, assert_refused, correlated_pair

minibatch = metrics.get("cka_linear_minibatch")


@pytest.mark.parametrize("batch_size", [4, 7, 10, 33, 64, 99, 100, 1000])
@pytest.mark.parametrize("shape", [(100, 6, 9), (100, 40, 3)])
def test_matches_the_u_centering_route(shape, batch_size):
    """n = 100: 7 and 33 leave remainders of 2 and 1 rows (joined to the last batch), 64 one of 36; a
    wide side (p = 40 > batch) takes the Gram route of each batch."""
    x, y = correlated_pair(np.random.default_rng(batch_size), *shape)
    assert_close(minibatch(x, y, batch_size=batch_size), route("cka_linear_minibatch")(x, y, batch_size),
                 what=f"batch_size={batch_size}")  # fmt: skip


@pytest.mark.parametrize("n, batch_size, sizes", [
    (10, 4, [4, 6]), (11, 4, [4, 7]), (12, 4, [4, 4, 4]), (9, 20, [9]), (100, 33, [33, 33, 34]),
    (100, 64, [64, 36]),
])  # fmt: skip
def test_batches_are_consecutive_and_a_short_remainder_joins_the_last(n, batch_size, sizes):
    batches = minibatches(n, batch_size)
    assert [b.stop - b.start for b in batches] == sizes
    assert batches[0].start == 0 and batches[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(batches, batches[1:]))


@pytest.mark.parametrize("batch_size", [3, 0, 2.5, True, "8"])
def test_batch_size_below_four_or_not_an_integer_is_refused(batch_size):
    x, y = correlated_pair(np.random.default_rng(0), 40, 5, 5)
    assert_refused(minibatch, x, y, batch_size=batch_size, match="batch_size must be an integer >= 4")


def test_the_value_depends_on_which_rows_share_a_batch():
    """Declared order_dependent: permuting the rows of both inputs together changes the batches."""
    x, y = correlated_pair(np.random.default_rng(1), 120, 5, 7)
    order = np.random.default_rng(2).permutation(120)
    assert minibatch.info.order_dependent
    assert abs(minibatch(x, y, batch_size=20) - minibatch(x[order], y[order], batch_size=20)) > 1e-6
