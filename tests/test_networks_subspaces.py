"""Subspaces of a layer (scenarios/networks/subspaces.py) against independent formulas, the two probing
generators (scenarios/networks/recipes.py) end to end on a tiny budget, their ground truths, and the
denoising table (reports/denoising.py).

Ground truths checked here (what the constructions guarantee, not numbers a run produced):
- PC deletion moves the probe as the construction says: on activations whose label lives in one principal
  component (the top one, or the bottom one), deleting that component leaves features uncorrelated with the
  labels, so the probe predicts the training majority class everywhere; deleting the other end keeps it;
  deleting every component of a trained layer does the same.
- In the denoising scenario the readout of the relevant part is unchanged in every case: Y Q = X Q and the
  ``stitch`` reference is 1.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ortho_group
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

import scenarios
from reports.results import results_table
from reports.denoising import DENOISING_COLUMNS, denoising_table, write_denoising
from scenarios import Scenario, Sweep
from scenarios.networks import plan, prefetch, recipes
from scenarios.networks.activations import as_matrix
from scenarios.networks.cache import Cache
from scenarios.networks.subspaces import (delete_components, gaussian_like, principal_components, probe_accuracy,
                                          relevant_basis, split, total_variance)
from strategies import PLATFORM_RTOL

torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------
def clustered(seed: int, n: int, p: int, classes: int, spread: float = 2.0):
    """Gaussian classes in p dimensions with anisotropic within-class noise: (x [n, p], labels [n]). The
    noise's axes are a random rotation with scales in [0.5, 2]: a Gaussian mixing matrix can be nearly
    singular (singular value 0.009 at seed 552, p = 3), and LDA then rightly drops the direction its
    rank cut-off cannot support, which no test here means to probe."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    means = spread * rng.standard_normal((classes, p))
    rotation = np.linalg.qr(rng.standard_normal((p, p)))[0]
    noise = rng.standard_normal((n, p)) @ (rotation * rng.uniform(0.5, 2.0, p))
    return means[labels] + noise, labels


def between_within_projector(x, labels, rank):
    """The projector onto the top ``rank`` generalized eigenvectors of (S_b, S_w): S_b v = lambda S_w v
    (scipy.linalg.eigh), orthonormalized: Fisher's discriminant subspace, computed independently of LDA."""
    overall = x.mean(axis=0)
    within = np.zeros((x.shape[1],) * 2)
    between = np.zeros_like(within)
    for c in np.unique(labels):
        group = x[labels == c]
        centered = group - group.mean(axis=0)
        within += centered.T @ centered
        between += len(group) * np.outer(group.mean(axis=0) - overall, group.mean(axis=0) - overall)
    _, vectors = scipy.linalg.eigh(between, within)
    basis = np.linalg.qr(vectors[:, ::-1][:, :rank])[0]
    return basis @ basis.T


def label_in_one_component(seed: int, labels, label_scale: float, noise_scales, rotation, exact: bool):
    """Activations [n, 1 + len(noise_scales)] whose labels live in one direction: the column
    label_scale * (2 y - 1) beside noise columns of the given scales, rotated by ``rotation``. With ``exact``
    (training data) the noise columns are orthogonal to each other, to the label column and to the constant
    (a QR decomposition), so the sample covariance is diagonal before the rotation: its principal components
    are the rotated columns, the label column among them."""
    n, rng = len(labels), np.random.default_rng(seed)
    noise = rng.standard_normal((n, len(noise_scales)))
    if exact:
        noise = np.linalg.qr(np.column_stack([np.ones(n), labels, noise]))[0][:, 2:] * np.sqrt(n)
    return np.column_stack([label_scale * (2 * labels - 1.0), noise * noise_scales]) @ rotation + 3.0


# ----------------------------------------------------------------------------------------------------
# relevant_basis and split
# ----------------------------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**16), p=st.integers(2, 12), classes=st.integers(2, 7))
def test_relevant_basis_is_an_orthonormal_basis_of_rank_min_c_minus_1_p(seed, p, classes):
    x, labels = clustered(seed, 40 * classes, p, classes)
    basis = relevant_basis(x, labels, classes)
    rank = min(classes - 1, p)
    assert basis.shape == (p, rank)
    np.testing.assert_allclose(basis.T @ basis, np.eye(rank), atol=PLATFORM_RTOL)
    projector = basis @ basis.T
    np.testing.assert_allclose(projector @ projector, projector, atol=PLATFORM_RTOL)
    np.testing.assert_allclose(projector, projector.T, atol=PLATFORM_RTOL)
    if rank == p:  # p <= C - 1: every direction is discriminant
        np.testing.assert_allclose(projector, np.eye(p), atol=PLATFORM_RTOL)


@pytest.mark.parametrize("seed", range(3))
def test_relevant_subspace_is_fishers_and_lda_reads_only_it(seed):
    x, labels = clustered(seed, 600, 10, 5)
    basis = relevant_basis(x, labels, 5)
    projector = basis @ basis.T
    np.testing.assert_allclose(projector, between_within_projector(x, labels, 4), atol=1e-8)
    lda = LinearDiscriminantAnalysis().fit(x, labels)
    held_out, _ = clustered(seed + 100, 300, 10, 5)
    for z in (x, held_out):
        np.testing.assert_allclose(lda.decision_function(z @ projector), lda.decision_function(z), atol=1e-8)
        assert np.array_equal(lda.predict(z @ projector), lda.predict(z))


def test_relevant_basis_with_constant_and_collinear_features():
    x, labels = clustered(0, 400, 6, 4)
    wide = np.column_stack([x, np.full(len(x), 7.0), x[:, 0] - 2 * x[:, 1]])  # a dead unit, a collinear one
    basis = relevant_basis(wide, labels, 4)
    assert basis.shape == (8, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=PLATFORM_RTOL)
    np.testing.assert_allclose(basis[6], 0, atol=PLATFORM_RTOL)  # the constant feature is no part of it
    np.testing.assert_allclose(split(wide, basis)[0] @ (np.eye(8) - basis @ basis.T), 0, atol=1e-9)


@pytest.mark.parametrize("labels, classes, match", [
    (np.zeros(50, dtype=int), 2, "two classes"),
    (np.arange(50) % 3, 2, r"\[0, 2\)"),
    (np.arange(50) % 2 - 1, 2, r"\[0, 2\)"),
    (np.arange(50) % 2, 1, "num_classes"),
    (np.arange(49) % 2, 2, "one label per row"),
    ((np.arange(50) % 2).astype(float), 2, "integer"),
])
def test_relevant_basis_refuses_bad_labels(labels, classes, match):
    with pytest.raises(ValueError, match=match):
        relevant_basis(np.random.default_rng(0).standard_normal((50, 4)), labels, classes)


def test_relevant_basis_refuses_bad_activations():
    labels = np.arange(20) % 2
    with pytest.raises(ValueError, match="NaN"):
        relevant_basis(np.full((20, 3), np.nan), labels, 2)
    with pytest.raises(ValueError, match="2-D"):
        relevant_basis(np.ones(20), labels, 2)
    with pytest.raises(ValueError, match="no variance"):
        relevant_basis(np.ones((20, 3)), labels, 2)


def test_split_parts_sum_to_the_activations_and_are_orthogonal():
    x, labels = clustered(1, 300, 8, 4)
    basis = relevant_basis(x, labels, 4)
    relevant, irrelevant = split(x, basis)
    np.testing.assert_allclose(relevant + irrelevant, x, atol=PLATFORM_RTOL)
    np.testing.assert_allclose(irrelevant @ basis, 0, atol=1e-10)
    np.testing.assert_allclose(relevant, x @ basis @ basis.T, atol=PLATFORM_RTOL)
    with pytest.raises(ValueError, match="basis has 8 rows"):
        split(x[:, :5], basis)


def test_total_variance_is_the_trace_of_the_covariance():
    x, _ = clustered(2, 100, 5, 2)
    assert total_variance(x) == pytest.approx(np.trace(np.cov(x, rowvar=False)), rel=PLATFORM_RTOL)
    with pytest.raises(ValueError, match="at least 2 rows"):
        total_variance(x[:1])


def test_gaussian_like_has_the_parts_mean_and_covariance():
    rng = np.random.default_rng(0)
    part = rng.standard_normal((20000, 3)) @ np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.2]]) + 5.0
    noise = gaussian_like(part, np.random.default_rng(1))
    assert noise.shape == part.shape
    np.testing.assert_allclose(noise.mean(axis=0), part.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.cov(noise, rowvar=False), np.cov(part, rowvar=False), atol=0.08)
    assert np.array_equal(noise, gaussian_like(part, np.random.default_rng(1)))  # seeded


# ----------------------------------------------------------------------------------------------------
# delete_components
# ----------------------------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**16), p=st.integers(1, 10), data=st.data())
def test_deleting_k_components_removes_exactly_their_variance(seed, p, data):
    k = data.draw(st.integers(0, p), label="k")
    which = data.draw(st.sampled_from(("top", "bottom")), label="which")
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((60, p)) @ rng.standard_normal((p, p)) + rng.standard_normal(p)
    probe = rng.standard_normal((30, p)) @ rng.standard_normal((p, p))
    train_deleted, probe_deleted = delete_components(train, probe, k, which)
    # the eigenvalues by an SVD of the centered data, independent of the eigh in principal_components
    centered = train - train.mean(axis=0)
    singular, vt = np.linalg.svd(centered, full_matrices=False)[1:]
    variances = singular ** 2 / (len(train) - 1)
    deleted = slice(0, k) if which == "top" else slice(p - k, p)
    assert total_variance(train_deleted) == pytest.approx(variances.sum() - variances[deleted].sum(),
                                                          rel=1e-9, abs=1e-9 * variances.sum())
    components = vt[deleted].T  # [p, k]
    np.testing.assert_allclose((train_deleted - train.mean(axis=0)) @ components, 0, atol=1e-8 * singular[0])
    # the probe loses only those directions, by the same map: what is removed lies in their span
    removed = probe - probe_deleted
    np.testing.assert_allclose(removed - removed @ components @ components.T, 0, atol=1e-8 * np.abs(probe).max())
    np.testing.assert_allclose(train_deleted.mean(axis=0), train.mean(axis=0), atol=1e-10 * np.abs(train).max())


def test_principal_components_are_in_descending_order_of_variance():
    x, _ = clustered(3, 200, 6, 3)
    mean, variances, components = principal_components(x)
    assert np.all(np.diff(variances) <= 0)
    np.testing.assert_allclose(components.T @ components, np.eye(6), atol=PLATFORM_RTOL)
    np.testing.assert_allclose(np.cov(x, rowvar=False) @ components, components * variances, atol=1e-9)
    np.testing.assert_allclose(mean, x.mean(axis=0))


def test_deleting_no_component_or_all_of_them():
    x, _ = clustered(4, 100, 5, 2)
    probe = x[:20] + 1.0
    train_same, probe_same = delete_components(x, probe, 0, "top")
    assert np.array_equal(train_same, x) and np.array_equal(probe_same, probe)
    for which in ("top", "bottom"):
        _, probe_none = delete_components(x, probe, 5, which)
        np.testing.assert_allclose(probe_none, np.broadcast_to(x.mean(axis=0), probe.shape), atol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 6}, r"k must be an integer in \[0, 5\]"),
    ({"k": -1}, r"\[0, 5\]"),
    ({"k": 1.0}, "integer"),
    ({"k": 1, "which": "middle"}, "which must be one of"),
])
def test_delete_components_refuses_bad_arguments(kwargs, match):
    x, _ = clustered(5, 50, 5, 2)
    with pytest.raises(ValueError, match=match):
        delete_components(x, x, **kwargs)
    with pytest.raises(ValueError, match="acts has 4 features"):
        delete_components(x, x[:, :4], 1)


# ----------------------------------------------------------------------------------------------------
# The probe, and "PC deletion moves the probe as stated"
# ----------------------------------------------------------------------------------------------------
def test_probe_is_deterministic_and_reads_separable_classes():
    x, labels = clustered(6, 400, 6, 3, spread=20.0)
    first = probe_accuracy(x[:200], labels[:200], x[200:], labels[200:])
    assert first == probe_accuracy(x[:200], labels[:200], x[200:], labels[200:])
    assert first == 1.0  # classes 20 noise scales apart
    with pytest.raises(ValueError, match="test_feats has 5 features"):
        probe_accuracy(x[:200], labels[:200], x[200:, :5], labels[200:])


@pytest.mark.parametrize("where, label_scale, noise_scales", [
    ("top", 10.0, [1.0, 0.9, 0.8, 0.6, 0.5]),     # the label carries the most variance
    ("bottom", 1.0, [4.0, 3.5, 3.0, 2.5, 2.0]),   # the label carries the least (Ding et al.'s case)
])
def test_pc_deletion_moves_the_probe_as_the_construction_says(where, label_scale, noise_scales):
    rotation = ortho_group.rvs(6, random_state=0)
    train_labels = (np.arange(300) % 5 < 3).astype(int)  # 60 % of the training images are class 1
    test_labels = (np.random.default_rng(1).random(400) < 0.5).astype(int)
    train = label_in_one_component(2, train_labels, label_scale, noise_scales, rotation, exact=True)
    test = label_in_one_component(3, test_labels, label_scale, noise_scales, rotation, exact=False)
    majority_rate = np.mean(test_labels == 1)
    other = {"top": "bottom", "bottom": "top"}[where]
    # the label's component deleted: the features left are uncorrelated with the labels in training, so the
    # probe's optimum ignores them (zero weights) and predicts the training majority class
    without = probe_accuracy(*_deleted(train, train_labels, test, test_labels, where))
    assert without == majority_rate
    # the other end deleted: the label's component is intact, far from the noise (>= 2 noise scales)
    kept = probe_accuracy(*_deleted(train, train_labels, test, test_labels, other))
    assert kept >= 0.95


def _deleted(train, train_labels, test, test_labels, which):
    train_deleted, test_deleted = delete_components(train, test, 1, which)
    return train_deleted, train_labels, test_deleted, test_labels


# ----------------------------------------------------------------------------------------------------
# The generators end to end (the CNN, one epoch, a temporary cache)
# ----------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def serial(monkeypatch):
    """Build on demand in the test process."""
    monkeypatch.setenv(prefetch.WORKERS_ENV, "1")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("probing_cache")


def tiny_scenario(cache_dir, generator, sweep, **params):
    registered = scenarios.lookup(generator).params
    resolved = {**registered, "epochs": 1, "probe_size": 128, "cache_dir": str(cache_dir), "device": "cpu", **params}
    return Scenario(name="tiny", family="networks", generator=generator, params=resolved, seeds=(0,),
                    expectations=(), sweep=sweep)


def test_generators_are_registered():
    assert {"networks.pc_deletion", "networks.pruning_denoising"} <= set(scenarios.generators())


def test_pc_deletion_cases_references_and_a_warm_cache(cache_dir, monkeypatch):
    width = plan.layer_shape(recipes.DataSpec.of("digits_corrupted"), "cnn", "conv4")[0]
    scenario = tiny_scenario(cache_dir, "networks.pc_deletion", Sweep("k", (1, 4, width)))
    cases = scenarios.generate(scenario, 0)
    assert [c.case for c in cases] == ["top=1", "top=4", f"top={width}", "bottom=1", "bottom=4", f"bottom={width}"]
    by_id = {c.case: c for c in cases}
    first = cases[0]
    assert first.x.shape == (128, width) and first.meta["layer_x"] == "conv4" and first.meta["model_x"] == "cnn/seed=0"
    setup = recipes.Setup.from_params(scenario.params)
    model = recipes.Trained("cnn", 0, setup.data, setup.schedule)
    train = recipes.TrainingActivations(model, "conv4", "pool").matrix(setup)
    data = setup.data.load()
    # X's probe is the probe on the intact layer, recomputed here from the same activations
    assert first.meta["probe_accuracy_x"] == probe_accuracy(train, data.y_train.numpy(), first.x,
                                                            data.y_test[:128].numpy())
    for case in cases:
        assert case.accuracy_difference == abs(case.meta["probe_accuracy_y"] - case.meta["probe_accuracy_x"])
        assert 0 <= case.agreement <= 1 and case.param == case.meta["k"]
        assert np.array_equal(case.x, first.x)
    for k in (1, 4):  # the top components hold at least the variance of the bottom ones
        assert by_id[f"top={k}"].meta["deleted_variance"] >= by_id[f"bottom={k}"].meta["deleted_variance"]
    # every component deleted: the features are constant, the probe predicts the training majority class
    majority = np.bincount(data.y_train.numpy()).argmax()
    for which in ("top", "bottom"):
        case = by_id[f"{which}={width}"]
        assert case.meta["deleted_variance"] == pytest.approx(1.0)
        assert case.meta["probe_accuracy_y"] == np.mean(data.y_test[:128].numpy() == majority)
        np.testing.assert_allclose(case.y, np.broadcast_to(train.mean(axis=0), case.y.shape), atol=1e-9)

    def refuse(*args, **kwargs):
        raise AssertionError("a warm cache must build nothing")

    monkeypatch.setattr(Cache, "store", refuse)
    again = scenarios.generate(scenario, 0)
    assert all(np.array_equal(a.y, b.y) and a.accuracy_difference == b.accuracy_difference and a.meta == b.meta
               for a, b in zip(again, cases))


def test_denoising_readout_of_the_relevant_part_is_unchanged_in_every_case(cache_dir):
    scenario = tiny_scenario(cache_dir, "networks.pruning_denoising", Sweep("scale", (0.0, 0.5, 1.0, 4.0)))
    cases = scenarios.generate(scenario, 0)
    assert [c.case for c in cases] == ["h3/scale=0", "h3/scale=0.5", "h3/scale=1", "h3/scale=4", "h2/other_seed",
                                       "h1/noise"]
    setup = recipes.Setup.from_params(scenario.params)
    model = recipes.Trained("cnn", 0, setup.data, setup.schedule)
    basis = recipes.RelevantBasis(recipes.TrainingActivations(model, "conv4", "pool")).matrix(setup)
    x = cases[0].x
    relevant, irrelevant = split(x, basis)
    scale = np.abs(x).max()
    for case in cases:
        np.testing.assert_allclose(case.y @ basis, x @ basis, atol=PLATFORM_RTOL * scale)
        assert case.stitch == pytest.approx(1.0, abs=PLATFORM_RTOL)
        assert case.meta["readout_accuracy_y"] == case.meta["readout_accuracy_x"]
    fields = cases[0].meta
    assert fields["relevant_variance_x"] + fields["irrelevant_variance_x"] == pytest.approx(total_variance(x))
    for case in cases[:4]:
        assert case.meta["irrelevant_variance_y"] == pytest.approx(case.param ** 2 * fields["irrelevant_variance_x"])
    np.testing.assert_allclose(cases[2].y, x, atol=PLATFORM_RTOL * scale)  # scale 1: X itself
    np.testing.assert_allclose(cases[0].y, relevant, atol=PLATFORM_RTOL * scale)  # scale 0: the relevant part alone
    other = as_matrix(recipes.Activations(recipes.Trained("cnn", 1, setup.data, setup.schedule), "conv4", 128)
                      .fetch(setup)["activations"], "pool")
    np.testing.assert_allclose(cases[4].y, relevant + split(other, basis)[1], atol=PLATFORM_RTOL * scale)
    assert not np.allclose(cases[5].y, x) and np.array_equal(cases[5].y, scenarios.generate(scenario, 0)[5].y)
    # relevance_fields: the same split of the same layer
    assert recipes.relevance_fields(setup, model, "conv4") == {
        "relevant_variance": fields["relevant_variance_x"], "irrelevant_variance": fields["irrelevant_variance_x"],
        "relevant_rank": basis.shape[1]}
    assert basis.shape[1] == 9  # C - 1 for the ten digits


@pytest.mark.parametrize("generator, params, match", [
    ("networks.pc_deletion", {"conv": "positions"}, "one row per image"),
    ("networks.pc_deletion", {"k": 0}, "k .* must be >= 1"),
    ("networks.pruning_denoising", {"scale": -1.0}, "scale .* must be >= 0"),
])
def test_generator_checks(generator, params, match):
    check = scenarios.lookup(generator).check
    with pytest.raises(ValueError, match=match):
        check({**scenarios.lookup(generator).params, **params})


def test_specs_load_in_both_profiles():
    for profile in scenarios.PROFILES:
        specs = {s.name: s for s in scenarios.load_specs(profile=profile)}
        deletion, denoising = specs["networks_pc_deletion"], specs["networks_pruning_denoising"]
        assert len(deletion.seeds) >= 3 and len(denoising.seeds) >= 3
        assert {e.kind for e in (*deletion.expectations, *denoising.expectations)} == {"follows_reference"}
        assert [e.reference for e in deletion.expectations] == ["accuracy_difference", "agreement"]
        assert [e.reference for e in denoising.expectations] == ["stitch"]
    assert specs["networks_pc_deletion"].params["arch"] == "vgg11"  # the last profile read: full


# ----------------------------------------------------------------------------------------------------
# reports/denoising.py
# ----------------------------------------------------------------------------------------------------
def _row(scenario, case, seed, metric="cka_linear", generator="networks.pruning_progression", **meta):
    return {"metric": metric, "family": "networks", "scenario": scenario, "generator": generator, "case": case,
            "seed": seed, "meta": meta}


def test_denoising_table_reads_the_progression_rows():
    fields = lambda relevant, irrelevant: {  # noqa: E731
        "relevant_variance_x": 2.0, "irrelevant_variance_x": 10.0,
        "relevant_variance_y": relevant, "irrelevant_variance_y": irrelevant}
    results = results_table([
        _row("networks_progression_imp", "step=1", 0, arch="cnn", method="imp", step=1, sparsity=0.2, **fields(2.0, 5.0)),
        _row("networks_progression_imp", "step=1", 0, metric="procrustes", arch="cnn", method="imp", step=1,
             sparsity=0.2, **fields(2.0, 5.0)),  # another measure's row of the same case: counted once
        _row("networks_progression_imp", "step=1", 1, arch="cnn", method="imp", step=1, sparsity=0.3, **fields(1.0, 3.0)),
        _row("networks_progression_imp", "step=0", 0, arch="cnn", method="imp", step=0, sparsity=0.0, **fields(2.0, 10.0)),
        _row("networks_progression_obd", "step=1", 0, arch="cnn", method="obd", step=1, sparsity=0.2),  # no fields
        _row("networks_pruning_denoising", "h1/noise", 0, generator="networks.pruning_denoising",
             **fields(2.0, 1.0)),  # not a progression
    ])
    table = denoising_table(results)
    assert list(table.columns) == DENOISING_COLUMNS
    assert table[["method", "step"]].values.tolist() == [["imp", 0], ["imp", 1]]
    step1 = table.iloc[1]
    assert step1["relevant_kept"] == pytest.approx((1.0 + 0.5) / 2)
    assert step1["irrelevant_kept"] == pytest.approx((0.5 + 0.3) / 2)
    assert step1["sparsity"] == pytest.approx(0.25) and step1["n_seeds"] == 2
    assert table.iloc[0][["relevant_kept", "irrelevant_kept"]].tolist() == [1.0, 1.0]


def test_write_denoising(tmp_path):
    empty = results_table([_row("networks_progression_imp", "step=1", 0, method="imp", step=1)])
    assert denoising_table(empty).empty and write_denoising(empty, tmp_path) == []
    results = results_table([_row("networks_progression_imp", "step=1", 0, arch="cnn", method="imp", step=1,
                                 sparsity=0.2, relevant_variance_x=1.0, irrelevant_variance_x=4.0,
                                 relevant_variance_y=1.0, irrelevant_variance_y=1.0)])
    [path] = write_denoising(results, tmp_path)
    assert path == tmp_path / "networks_denoising.md"
    text = path.read_text()
    assert "| imp" in text and "0.250" in text
