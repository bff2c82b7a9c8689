"""Recipes: every recipe class has a sample here and a kind of its own, every field is part of the cache
key, the build passes the same fields on, the pruning methods are registered by their classes, and the
small helpers (shapes, pairs, checkpoints) hold."""
import dataclasses
import pickle

import pytest
import torch

import scenarios
from scenarios.networks import models, plan, prune, recipes
from scenarios.networks.experiments import progression
from scenarios.networks.cache import Cache, recipe_key
from scenarios.networks.train import Schedule
from scenarios.networks.variants import ProbeMarks

DIGITS = recipes.DataSpec.of("digits")
SCHEDULE = Schedule(epochs=2)
TRAINED = recipes.Trained("cnn", 0, DIGITS, SCHEDULE)
RESNET = recipes.Trained("resnet", 0, DIGITS, SCHEDULE)

SAMPLES = [
    TRAINED,
    recipes.Trained("cnn", 0, DIGITS, SCHEDULE, shuffle_labels=3),
    recipes.RandomInit("cnn", 1, DIGITS),
    recipes.Checkpoint(TRAINED, 1),
    recipes.Distilled(TRAINED, "cnn_small", 0, 4.0, 0.9, SCHEDULE),
    recipes.Imp(TRAINED, SCHEDULE),
    recipes.OneShot(TRAINED, SCHEDULE, 0.2, "magnitude", "global"),
    recipes.StructuredL1(TRAINED, SCHEDULE, 0.5),
    recipes.CkaBlock(RESNET, SCHEDULE, 1),
    recipes.ClusteredNoise(DIGITS, (16, 8, 8), 1),
    recipes.Record(TRAINED),
    recipes.Activations(TRAINED, "conv1", 100),
    recipes.Stitch(TRAINED, "conv1", recipes.Imp(TRAINED, SCHEDULE), "conv2", 4),
    recipes.Agreement.of(TRAINED, recipes.Imp(TRAINED, SCHEDULE)),
    recipes.LayerRemoval(TRAINED, SCHEDULE, ("conv3",)),
    recipes.TrainingActivations(TRAINED, "conv4", "pool"),
    recipes.DeletionProbe(recipes.TrainingActivations(TRAINED, "conv4", "pool"), recipes.Activations(TRAINED, "conv4", 100),
                          "top", 2),
    recipes.RelevantBasis(recipes.TrainingActivations(TRAINED, "conv4", "flatten")),
    recipes.Activations(TRAINED, "conv1", 100, ProbeMarks()),
    recipes.Agreement.of(TRAINED, recipes.Imp(TRAINED, SCHEDULE), ProbeMarks(share=0.5)),
]


def _recipe_classes(cls=recipes.Recipe) -> set[type]:
    """Every recipe class of the package with a kind of its own (a frozen dataclass), however deep below
    Recipe."""
    found = set()
    for sub in cls.__subclasses__():
        if dataclasses.is_dataclass(sub) and "kind" in vars(sub) and sub.__module__.startswith("scenarios."):
            found.add(sub)
        found |= _recipe_classes(sub)
    return found


def test_every_recipe_kind_has_a_sample_and_a_kind_of_its_own():
    classes = _recipe_classes()
    assert classes == {type(recipe) for recipe in SAMPLES}, "add a sample of the new recipe to SAMPLES"
    kinds = [cls.kind for cls in classes]
    assert len(set(kinds)) == len(kinds), f"two recipe classes share a kind (and so their keys): {sorted(kinds)}"


def changed(value):
    """A different value of the same kind."""
    if isinstance(value, recipes.Recipe):
        return recipes.Trained("mlp", 7, DIGITS, SCHEDULE)
    if isinstance(value, Schedule):
        return dataclasses.replace(value, epochs=value.epochs + 1)
    if isinstance(value, recipes.DataSpec):
        return recipes.DataSpec.of("cifar10", data_dir="/elsewhere")
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, tuple):
        return value + (1,)
    return "other" if value is not None else 5


@pytest.mark.parametrize("recipe", SAMPLES, ids=lambda r: r.kind)
def test_every_field_is_part_of_the_key(recipe):
    key = recipe.key()
    assert key["kind"] == recipe.kind
    unset = {f.name for f in dataclasses.fields(recipe)
             if f.metadata.get("keyed_when_set") and getattr(recipe, f.name) is None}
    assert set(key) == {"kind"} | {f.name for f in dataclasses.fields(recipe)} - unset
    for field in dataclasses.fields(recipe):
        other = object.__new__(type(recipe))
        for f in dataclasses.fields(recipe):
            object.__setattr__(other, f.name, getattr(recipe, f.name))
        object.__setattr__(other, field.name, changed(getattr(recipe, field.name)))
        assert recipe_key(other.key()) != recipe_key(key), field.name
    assert recipe == pickle.loads(pickle.dumps(recipe)) and hash(recipe) == hash(pickle.loads(pickle.dumps(recipe)))


def test_a_field_keyed_when_set_keeps_the_keys_of_entries_built_before_it():
    """Activations and agreements on unmarked test images keep the keys they had (and the bank's
    entries with them); marked ones are keyed by their marks."""
    other = recipes.Imp(TRAINED, SCHEDULE)
    assert recipes.Activations(TRAINED, "conv1", 100).key() == {
        "kind": "activations", "source": TRAINED.key(), "layer": "conv1", "probe_size": 100}
    agreement = recipes.Agreement.of(TRAINED, other)
    assert agreement.key() == {"kind": "agreement", "model_a": agreement.model_a.key(),
                               "model_b": agreement.model_b.key()}
    marked = recipes.Agreement.of(other, TRAINED, ProbeMarks())
    assert marked == recipes.Agreement.of(TRAINED, other, ProbeMarks())  # one entry per pair
    assert marked.key()["marks"] == {"share": 1.0, "agreement": 0.0, "seed": 0}
    assert recipe_key(recipes.Agreement.of(TRAINED, other, ProbeMarks(share=1, agreement=0)).key()) == recipe_key(
        marked.key())  # a spec's integer share is the same marks


def test_descriptions():
    assert [r.describe() for r in SAMPLES[:9]] == [
        "cnn/seed=0", "cnn/seed=0/shuffled_labels(3)", "cnn/seed=1/random_init", "cnn/seed=0/epoch=1",
        "cnn_small/seed=0/distilled(cnn/seed=0)", "cnn/seed=0/imp", "cnn/seed=0/magnitude_global(0.2)",
        "cnn/seed=0/structured_l1(0.5)", "resnet/seed=0/cka_block(1)"]


@pytest.mark.parametrize("kind,call,fields", [
    (recipes.Imp(TRAINED, SCHEDULE, 0.3), "imp_round", {"amount": 0.3}),
    (recipes.OneShot(TRAINED, SCHEDULE, 0.4, "obd", "layer", "hutchinson"), "one_shot",
     {"amount": 0.4, "scores": "obd", "scope": "layer", "hessian": "hutchinson"}),
    (recipes.StructuredL1(TRAINED, SCHEDULE, 0.25), "structured_l1", {"fraction": 0.25}),
    (recipes.CkaBlock(RESNET, SCHEDULE, 2), "cka_block_removal", {"n_blocks": 2}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_pruning_recipe_passes_its_own_fields_to_the_call(kind, call, fields, monkeypatch):
    seen = {}

    def spy(net, data, schedule, seed, *args, **kwargs):
        seen.update(schedule=schedule, seed=seed, args=args, kwargs=kwargs)
        return {"accuracy_after_retraining": 0.5}

    monkeypatch.setattr(prune, call, spy)
    kind.prune(None, None, "cpu")
    assert seen["schedule"] is kind.schedule and seen["seed"] == kind.base.seed
    passed = {**seen["kwargs"]}
    names = [f.name for f in dataclasses.fields(kind) if f.name not in ("base", "schedule")]
    passed.update(zip([n for n in names if n not in passed], seen["args"]))
    assert {name: passed[name] for name in names} == fields


def test_pruning_methods_are_registered_by_their_classes():
    setup = recipes.Setup.from_params({**plan.COMMON_PARAMS, "epochs": 10, "cache_dir": "/tmp/unused", "device": "cpu"})
    assert progression.METHOD_CHOICES == tuple(recipes.PRUNING_METHODS)
    base = recipes.Trained("cnn", 0, setup.data, setup.schedule)
    assert all(recipes.pruned_at(setup, base, method, 0) is base for method in recipes.PRUNING_METHODS)
    imp = recipes.pruned_at(setup, base, "imp", 2)
    assert isinstance(imp, recipes.Imp) and imp.base.base == base and imp.schedule == setup.schedule
    layer = recipes.pruned_at(setup, base, "magnitude_layer", 2)
    assert (layer.scores, layer.scope, layer.amount, layer.schedule) == ("magnitude", "layer", pytest.approx(0.36),
                                                                          setup.finetune)
    assert recipes.pruned_at(setup, base, "obd", 1).scores == "obd"
    assert recipes.pruned_at(setup, base, "structured_l1", 1).fraction == pytest.approx(0.2)
    assert recipes.pruned_at(setup, base, "cka_block", 3).n_blocks == 3
    check = scenarios.lookup("networks.pruning_progression").check
    with pytest.raises(ValueError, match="ResNet"):
        check({"method": "cka_block", "arch": "cnn", "step": 1})
    with pytest.raises(ValueError, match="only 3 removable"):
        check({"method": "cka_block", "arch": "resnet", "step": 4})


def test_pairs_checkpoints_and_shapes():
    pruned = recipes.Imp(TRAINED, SCHEDULE)
    assert recipes.Agreement.of(TRAINED, pruned) == recipes.Agreement.of(pruned, TRAINED)
    with pytest.raises(ValueError, match="different data"):
        recipes.Stitch(TRAINED, "conv1", recipes.Trained("cnn", 1, recipes.DataSpec.of("cifar10"), SCHEDULE), "conv1", 1)
    assert recipes.checkpoint(TRAINED, 2) is TRAINED and recipes.checkpoint(TRAINED, 1) == recipes.Checkpoint(TRAINED, 1)
    with pytest.raises(ValueError, match="checkpoint epoch"):
        recipes.Checkpoint(TRAINED, 2)
    data = DIGITS.load()
    net = models.build(models.config_for("resnet", data.shape, 10)).eval()
    for layer in models.layer_names(net):
        assert plan.layer_shape(DIGITS, "resnet", layer) == tuple(models.prefix(net, layer)(data.x_test[:2]).shape[1:])


def test_what_is_stored_and_what_is_computed_when_used(tmp_path):
    setup = recipes.Setup(DIGITS, SCHEDULE, SCHEDULE, 1, 10, "cpu", Cache(tmp_path))
    assert not TRAINED.is_stored(setup)
    assert recipes.ClusteredNoise(DIGITS, (4,), 0).is_stored(setup)  # computed when used: nothing to store
    noise = recipes.ClusteredNoise(DIGITS, (3, 2, 2), 0, 0.0)  # scale 0: every image is its class's mean
    probe = recipes.Activations(noise, "conv1", 5).build(setup)["activations"]
    assert torch.equal(probe, noise.sender(setup, "conv1").means[DIGITS.load().y_test[:5]])
