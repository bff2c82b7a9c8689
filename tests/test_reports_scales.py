"""MeasureScale: bounded and unbounded measures (infinite bounds never give NaN), the scale-free unit
of relative tolerances and the 0..1 similarity scale."""
import json
import math

import numpy as np
import pytest

from reports.scales import MeasureScale

DISTANCE = MeasureScale(0.0, math.inf, higher_is_more_similar=False)


@pytest.mark.parametrize("scale", [MeasureScale(0.0, 1.0), MeasureScale(-1.0, 1.0), DISTANCE,
                                   MeasureScale(-math.inf, 0.0), MeasureScale(-math.inf, math.inf, False)])
def test_infinite_bounds_survive_json(scale):
    document = json.dumps(scale.to_dict(), allow_nan=False)  # inf is no valid JSON: it must become null
    assert MeasureScale.from_dict(json.loads(document)) == scale


def test_a_bounded_unit_is_the_bound_width_whatever_the_values():
    assert MeasureScale(-1.0, 1.0).unit([0.1, 0.2]) == 2.0
    assert MeasureScale(0.0, 1.0).unit([]) == 1.0


def test_an_unbounded_unit_is_the_extent_from_the_finite_bound_and_scales_with_the_measure():
    values = np.array([0.5, 2.0, 4.0])
    assert DISTANCE.unit(values) == 4.0
    assert DISTANCE.unit(1e6 * values) == pytest.approx(4e6)  # a spread / unit is scale-free
    assert MeasureScale(-math.inf, 1.0).unit([0.0, -3.0]) == 4.0  # from the upper bound
    assert MeasureScale(-math.inf, math.inf).unit([-2.0, 5.0]) == 7.0  # no finite bound: the range


def test_an_unbounded_unit_never_is_zero_or_nan():
    assert DISTANCE.unit([0.0, 0.0]) == 1.0  # every value at the bound: every difference is 0 anyway
    assert DISTANCE.unit([]) == 1.0
    assert DISTANCE.unit([np.nan, 2.0]) == 2.0
    assert DISTANCE.unit([0.0, 1e-15], context=[0.0, 1e-15, 8.0]) == pytest.approx(8.0 * 1e-6)  # the floor
    assert DISTANCE.unit([1.0, 3.0], context=[0.0, 5.0]) == 3.0  # the floor only matters near the bound


def test_similarity_of_bounded_measures_is_linear_and_clipped():
    np.testing.assert_allclose(MeasureScale(0.0, 1.0).similarity([0.0, 0.25, 1.0]), [0.0, 0.25, 1.0])
    np.testing.assert_allclose(MeasureScale(-1.0, 1.0).similarity([-0.5, 0.5]), [0.0, 0.5])  # 0: unrelated
    np.testing.assert_allclose(MeasureScale(0.0, 2.0, False).similarity([0.0, 1.0, 2.0]), [1.0, 0.5, 0.0])


def test_similarity_of_unbounded_measures_reads_the_bound_as_one_side_and_the_farthest_as_the_other():
    np.testing.assert_allclose(DISTANCE.similarity([0.0, 1.0, 4.0]), [1.0, 0.75, 0.0])
    np.testing.assert_allclose(DISTANCE.similarity([0.0, 0.0]), [1.0, 1.0])  # identical everywhere, no NaN
    grows = MeasureScale(0.0, math.inf)  # a similarity without an upper bound
    np.testing.assert_allclose(grows.similarity([0.0, 2.0, 8.0]), [0.0, 0.25, 1.0])
    below = MeasureScale(-math.inf, 0.0)  # a negated distance: 0 is identical
    np.testing.assert_allclose(below.similarity([0.0, -1.0, -4.0]), [1.0, 0.75, 0.0])
    free = MeasureScale(-math.inf, math.inf, higher_is_more_similar=False)
    np.testing.assert_allclose(free.similarity([-1.0, 1.0, 3.0]), [1.0, 0.5, 0.0])
    for scale in (DISTANCE, grows, below, free):
        assert np.isfinite(scale.similarity([5.0, 5.0])).all()
