"""Ground truth of the built-in generators: the stitching reference is 1 where the scenario says
function is kept, below 1 where it is lost, at chance for independent data; readouts really ignore
the channels a scenario calls irrelevant."""
from __future__ import annotations

import numpy as np
import pytest

import scenarios
from scenarios import Scenario, Sweep
from scenarios.estimator import low_variance_pair, outlier_pair
from scenarios.readout import Readout, make_labeling
from scenarios.relevance import signal_pair
from scenarios.stitching import split_indices, stitch_score
from scenarios.symmetry import TRANSFORMS, containment_pair, transformed_pair

from shipped import QUICK, quick_cases


def scenario(generator: str, sweep: Sweep | None = None, seeds=(0,), **params) -> Scenario:
    """A Scenario built in code (defaults of the generator filled in)."""
    gen = scenarios.lookup(generator)
    return Scenario(name=f"test_{generator}", family=gen.family, generator=generator,
                    params={**gen.params, **params}, seeds=tuple(seeds), expectations=(), sweep=sweep)


def all_cases(name: str) -> list[scenarios.Case]:
    return list(quick_cases(name))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_symmetry_transforms_keep_function_in_both_directions(name):
    cases = all_cases(name)
    assert {case.case for case in cases} >= {"identity"} and len({case.case for case in cases}) >= 2
    for case in cases:
        assert case.stitch == 1.0 and case.stitch_reverse == 1.0, case.case
        if case.case == "identity":
            np.testing.assert_array_equal(case.x, case.y)
        else:
            assert not np.allclose(case.x, case.y)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transformed_readout_computes_the_original_function(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 12)) * np.logspace(0, -1, 12)
    readout = Readout.linear(rng.standard_normal((12, 3)), make_labeling("linear", rng, x[:, :3], 4))
    transform = TRANSFORMS[name]
    matrix, shift = transform.affine(rng, x, 30.0 if transform.strength else None)
    pair = transformed_pair(x, readout, matrix, shift)
    np.testing.assert_array_equal(pair.readout_y(pair.y), readout(x))


def test_containment_is_directional():
    cases = all_cases("containment")
    for case in cases:
        if case.case == "superset_to_subset":
            assert case.stitch == 1.0 and case.stitch_reverse < 0.9
            assert case.x.shape[1] > case.y.shape[1]
        else:
            assert case.stitch < 0.9 and case.stitch_reverse == 1.0
            assert case.stitch > case.meta["chance"]  # X still carries part of Y's task


def test_containment_superset_really_contains_the_subset():
    spec = QUICK["containment"]
    pair = containment_pair(spec, 0, spec.params)
    np.testing.assert_array_equal(pair.y[:, : pair.x.shape[1]], pair.x)


RELEVANCE = [name for name, spec in QUICK.items() if spec.family == "relevance"]


@pytest.mark.parametrize("name", RELEVANCE)
def test_relevance_stitching_is_perfect_in_every_case(name):
    for case in all_cases(name):
        assert case.stitch == 1.0 and case.stitch_reverse == 1.0, case.case


def _redraw_irrelevant(z: np.ndarray, signal_channels: int, rng) -> np.ndarray:
    changed = z.copy()
    changed[:, signal_channels:] = 100.0 * rng.standard_normal(changed[:, signal_channels:].shape)
    return changed


@pytest.mark.parametrize("labeling", ["linear", "radial"])
@pytest.mark.parametrize("structure", ["isotropic", "clusters", "low_rank"])
def test_relevance_readouts_ignore_irrelevant_channels_and_use_the_signal(labeling, structure):
    spec = scenario("relevance.signal_and_irrelevant", labeling=labeling, structure=structure,
                    noise_channels=16, shared_noise=0.5)
    pair = signal_pair(spec, 0, spec.params)
    k = spec.params["signal_dims"]
    rng = np.random.default_rng(0)
    for z, readout in ((pair.x, pair.readout_x), (pair.y, pair.readout_y)):
        labels = readout(z)
        np.testing.assert_array_equal(readout(_redraw_irrelevant(z, k, rng)), labels)
        assert np.all(readout.decoder[k:] == 0)
        changed_signal = z.copy()
        changed_signal[:, :k] = rng.standard_normal((len(z), k))
        assert np.mean(readout(changed_signal) != labels) > 0.3  # the signal channels matter
        assert np.bincount(labels).min() > 0.05 * len(labels)  # every class is used
    np.testing.assert_array_equal(pair.readout_x(pair.x), pair.readout_y(pair.y))  # same task


def test_stitching_ignores_whatever_fills_the_irrelevant_channels():
    spec = scenario("relevance.signal_and_irrelevant", noise_channels=32, noise_amplitude=10.0)
    pair = signal_pair(spec, 0, spec.params)
    split = split_indices(np.random.default_rng(0), len(pair.x))
    noisy_y = _redraw_irrelevant(pair.y, spec.params["signal_dims"], np.random.default_rng(1))
    assert stitch_score(pair.x, noisy_y, pair.readout_y, split) == 1.0


def test_shared_noise_is_correlated_between_x_and_y():
    k = 8
    spec = scenario("relevance.signal_and_irrelevant", shared_noise=1.0, noise_channels=16)
    pair = signal_pair(spec, 0, spec.params)
    # with shared_noise = 1, Y's irrelevant channels are a rotation of X's
    gram_x, gram_y = pair.x[:, k:] @ pair.x[:, k:].T, pair.y[:, k:] @ pair.y[:, k:].T
    np.testing.assert_allclose(gram_x, gram_y, atol=1e-9)


def test_independent_data_stitches_at_chance():
    for case in all_cases("independent_p_over_n"):
        for score in (case.stitch, case.stitch_reverse):
            assert score < case.meta["chance"] + 0.15, case.case
    scores = [case.stitch for case in all_cases("independent_p_over_n")]
    assert np.mean(scores) < 0.4  # four classes: chance is about 0.25-0.35


def test_outliers_move_far_along_ignored_channels_and_keep_function():
    spec = scenario("estimator.outliers", outlier_fraction=0.04, outlier_distance=20.0)
    pair, meta = outlier_pair(spec, 0, spec.params)
    base, _ = outlier_pair(spec, 0, {**spec.params, "outlier_distance": 0.0})
    moved = np.flatnonzero(np.any(pair.y != base.y, axis=1))
    assert len(moved) == meta["outliers"] == 20
    k = spec.params["signal_dims"]
    np.testing.assert_array_equal(pair.y[:, :k], base.y[:, :k])  # signal channels untouched
    np.testing.assert_array_equal(pair.readout_y(pair.y), base.readout_y(base.y))
    distance = np.linalg.norm(pair.y[moved] - base.y[moved], axis=1)
    assert np.all(distance > 10 * np.sqrt(((base.y - base.y.mean(0)) ** 2).sum(1).mean()))
    for case in all_cases("outlier_distance") + all_cases("outlier_fraction"):
        assert case.stitch == 1.0 and case.stitch_reverse == 1.0, case.case


def test_low_variance_deletion_degrades_stitching_x_to_y_only():
    cases = all_cases("low_variance_pc_deletion")
    for seed in QUICK["low_variance_pc_deletion"].seeds:
        mine = [case for case in cases if case.seed == seed]
        stitch = [case.stitch for case in mine]
        assert stitch[0] == 1.0 and all(np.diff(stitch) < 0), stitch
        assert stitch[-1] < mine[-1].meta["chance"] + 0.1  # every task component deleted: chance
        assert all(case.stitch_reverse == 1.0 for case in mine)
        assert all(case.meta["deleted_variance"] < 1e-3 for case in mine)


def test_low_variance_readout_uses_the_lowest_variance_components():
    spec = scenario("estimator.low_variance_pcs", deleted=0)
    pair, _ = low_variance_pair(spec, 0, spec.params)
    # the readout's features are the standardized bottom components: unit variance, tiny in y's units
    features = pair.readout_y.features(pair.y)
    np.testing.assert_allclose(features.std(axis=0), 1.0, atol=0.1)
    # the subspace the readout reads holds a tiny share of y's variance
    basis = np.linalg.qr(pair.readout_y.decoder)[0]
    centered = pair.y - pair.y.mean(axis=0)
    assert np.linalg.norm(centered @ basis) ** 2 < 1e-3 * np.linalg.norm(centered) ** 2


def test_readout_after_affine_and_ignoring_are_exact():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200, 6))
    labeling = make_labeling("linear", rng, z[:, :3], 4)
    readout = Readout(rng.standard_normal((6, 3)), rng.standard_normal(6), labeling)
    matrix, shift = rng.standard_normal((6, 6)), rng.standard_normal(6)
    np.testing.assert_array_equal(readout.after_affine(matrix, shift)(z @ matrix + shift), readout(z))
    padded = np.hstack([z, rng.standard_normal((200, 5))])
    np.testing.assert_array_equal(readout.ignoring(5)(padded), readout(z))


@pytest.mark.parametrize("name", ["width_null_independent", "width_null_permuted"])
def test_width_null_stitches_at_chance_at_every_width(name):
    """Scored on stitch_samples rows (the measures see the first n): balanced classes, chance 1 / 4."""
    spec = QUICK[name]
    for case in all_cases(name):
        assert case.x.shape == (spec.params["n"], int(case.param)) == case.y.shape
        assert abs(case.stitch - 0.25) < 0.04 and abs(case.stitch_reverse - 0.25) < 0.04, case.case
        assert abs(case.meta["chance"] - 0.25) < 0.02


def test_permuted_width_null_holds_the_same_samples_in_another_order():
    """Y = X Q with its rows shuffled within the measured block: the same set of samples (and geometry),
    no correspondence."""
    spec = QUICK["width_null_permuted"]
    case = scenarios.generate(spec, 0)[0]
    back = np.linalg.lstsq(case.x, case.y, rcond=None)[0]
    assert np.linalg.norm(case.x @ back - case.y) > 0.5 * np.linalg.norm(case.y)  # rows do not correspond
    norms_x, norms_y = (np.sort(np.linalg.norm(a, axis=1)) for a in (case.x, case.y))
    np.testing.assert_allclose(norms_y, norms_x, rtol=1e-10)  # the same rows, rotated (norms kept), reordered


def test_depth_null_stacks_independent_layers_and_keeps_the_smaller_stacks():
    spec = QUICK["depth_null_max"]
    cases = scenarios.generate(spec, 0)
    n, p = spec.params["n"], spec.params["p"]
    for case in cases:
        layers = int(case.param)
        assert case.aggregate == "max" and case.x.shape == case.y.shape == (layers, n, p)
        assert case.meta["layer_pairs"] == layers**2
        assert abs(case.stitch - 0.25) < 0.03 and abs(case.stitch_reverse - 0.25) < 0.03
    np.testing.assert_array_equal(cases[-1].x[: cases[0].x.shape[0]], cases[0].x)  # common random numbers
    np.testing.assert_array_equal(cases[-1].y[: cases[0].y.shape[0]], cases[0].y)
