"""Users' own networks (scenarios.networks.experiments.user_models): a tiny factory end to end, every malformed
factory, a broken factory in a real run, mixed-precision settings, and two processes writing one cache
entry at once."""
import json
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from scenarios import load_specs
from scenarios._registry import generate
from scenarios.networks.experiments import user_models
from scenarios.networks.cache import Cache
from scenarios.networks.train import Schedule, train
from scenarios.networks.data import Dataset
import tiny_networks  # noqa: F401 - torch._dynamo before pytester (see there)

pytest_plugins = ["pytester"]

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: A factory written from the contract alone: two tiny CNNs (seeds s and s + 1) on 8x8 blobs whose
#: class is which quadrant is bright; ``BROKEN`` selects a defect.
FACTORY = '''
import dataclasses
import torch
from torch import nn
from torch.utils.data import TensorDataset

BROKEN = {broken!r}


class Net(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        if BROKEN == "out_of_memory" and not self.training and len(x) > 8:
            raise RuntimeError("CUDA out of memory")
        h = self.conv(x)
        h = self.block(h) + h if BROKEN == "residual" else self.block(h)
        logits = self.fc(self.pool(h))
        if BROKEN == "hf_dict" and not self.training:  # HuggingFace-style: logits and hidden states
            return {{"logits": logits, "hidden_states": (h, self.pool(h))}}
        if BROKEN == "hf_tuple" and not self.training:
            return (logits, h)
        if BROKEN == "hf_dataclass" and not self.training:
            return Output(logits=logits, hidden_states=(h,))
        return logits


@dataclasses.dataclass
class Output:
    logits: torch.Tensor
    hidden_states: tuple


def data(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    for i, label in enumerate(y.tolist()):
        r, c = divmod(label, 2)
        x[i, 0, 4 * r:4 * r + 4, 4 * c:4 * c + 4] += 1.0
    return TensorDataset(x, y)


def fit(seed, train):
    torch.manual_seed(seed)
    net = Net(5 if BROKEN == "shapes" and seed % 2 else 4)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    x, y = train.tensors
    for _ in range(30):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@dataclasses.dataclass
class Built:
    models: dict
    train: object
    test: object
    pairs: list
    version: str


if BROKEN == "exits_on_import":  # a training script reused as a factory: it parses its command line
    import argparse
    argparse.ArgumentParser().parse_args(["--no-such-option"])


def build(seed):
    if BROKEN == "raises":
        raise RuntimeError("no GPU here")
    if BROKEN == "exits":
        raise SystemExit(3)
    train, test = data(96, 0), data(48, 1)
    result = {{"models": {{"a": fit(seed, train), "b": fit(seed + 1 + (BROKEN == "retrained"), train)}},
              "train": train, "test": test,
              "pairs": [("a", "conv", "b", "conv"), ("a", "block", "b", "pool"), ("a", "pool", "a", "pool")],
              "version": "v1"}}
    if BROKEN == "nan":  # NaN in channel 0 of b's conv output, once trained
        result["models"]["b"].conv.register_forward_hook(
            lambda module, inputs, h: torch.cat([torch.full_like(h[:, :1], float("nan")), h[:, 1:]], 1))
    if BROKEN in ("float64", "bfloat16"):
        for model in result["models"].values():
            model.to(getattr(torch, BROKEN))
    if BROKEN == "dataclass":
        return Built(**result)
    if BROKEN == "missing":
        del result["version"]
    if BROKEN == "typo":
        result["pair"] = result.pop("pairs")
    if BROKEN == "not_a_module":
        result["models"]["b"] = "b.pt"
    if BROKEN == "unknown_model":
        result["pairs"] = [("a", "conv", "c", "conv")]
    if BROKEN == "unknown_layer":
        result["pairs"] = [("a", "blok", "b", "block")]
    if BROKEN == "bad_pair":
        result["pairs"] = [("a", "conv", "b")]
    if BROKEN == "bad_data":
        result["test"] = [1, 2]
    if BROKEN == "residual":
        result["pairs"].append(("b", "block", "a", "block"))  # a.block->b.pool and this one cross the block
    return result
'''

SPEC = '''
[[scenario]]
name = "{name}"
family = "networks"
generator = "networks.user_models"
description = "A tiny factory."
seeds = [0, 1]
[scenario.params]
factory = "{factory}"
probe_size = 40
stitch_epochs = 1
batch_size = 32
cache_dir = "{cache}"
[[scenario.expect]]
kind = "follows_reference"
reference = "stitch"
tolerance = 0.02
'''


def _scenario(tmp_path: Path, broken: str = "", name: str = "mine", factory: str | None = None, output: str = "",
              file: str | None = None):
    path = tmp_path / f"factory_{file or broken or 'ok'}.py"
    path.write_text(FACTORY.format(broken=broken))
    spec = tmp_path / f"spec_{broken or 'ok'}.toml"
    text = SPEC.format(name=name, factory=factory or f"{path}:build", cache=tmp_path / "cache")
    spec.write_text(text.replace("probe_size = 40", f"probe_size = 40\noutput = {output!r}") if output else text)
    return load_specs([spec])[0]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The tiny factory's cases for seed 0, cold, and the folder its cache is in."""
    tmp_path = tmp_path_factory.mktemp("user_models")
    scenario = _scenario(tmp_path)
    return tmp_path, scenario, generate(scenario, 0)


def test_a_factory_becomes_cases_with_every_reference(generated):
    _, scenario, cases = generated
    assert [c.case for c in cases] == ["a.conv->b.conv", "a.block->b.pool", "a.pool->a.pool"]
    conv, cross, same = cases
    assert conv.x.dtype == np.float64 and conv.x.shape == (40, 4)  # conv = "pool": channels as features
    assert cross.x.shape == (40, 4) and cross.y.shape == (40, 16)
    for case in cases:
        for reference in ("stitch", "stitch_reverse", "stitch_direct", "stitch_direct_reverse"):
            assert 0 < getattr(case, reference) < 1.5
        assert 0 <= case.agreement <= 1 and 0 <= case.accuracy_difference <= 1
        assert case.meta["accuracy_x"] > 0.9 and case.meta["accuracy_y"] > 0.9  # the blobs are easy
        assert case.meta["conv"] == "pool" and case.meta["model_x"] == "a"
    # a layer stitched into itself by least squares is the model itself; whole-model references of a
    # model with itself are exact
    assert same.stitch_direct == pytest.approx(1.0) and same.stitch_direct_reverse == pytest.approx(1.0)
    assert (same.agreement, same.accuracy_difference) == (1.0, 0.0)
    assert conv.meta["shape_x"] == [4, 8, 8] and cross.meta["shape_y"] == [16]


def test_activations_are_the_layers_outputs_in_eval_mode(generated):
    tmp_path, scenario, cases = generated
    returned = user_models.load_factory(scenario.params["factory"])(0)
    x = torch.stack([returned["test"][i][0] for i in range(40)])
    expected = returned["models"]["a"].eval().conv(x).mean(dim=(2, 3)).detach().double().numpy()
    np.testing.assert_allclose(cases[0].x, expected, rtol=1e-5, atol=1e-6)


def test_a_warm_run_calls_the_factory_and_retrains_no_stitch(generated, monkeypatch):
    tmp_path, scenario, cold = generated

    def refuse(*args, **kwargs):
        raise AssertionError("a warm run stitched again")

    monkeypatch.setattr(user_models, "references", refuse)
    warm = generate(scenario, 0)
    for a, b in zip(cold, warm):
        assert (a.stitch, a.stitch_direct_reverse, a.agreement) == (b.stitch, b.stitch_direct_reverse, b.agreement)
        np.testing.assert_array_equal(a.x, b.x)
    entries = [json.loads(p.read_text())["recipe"] for p in (tmp_path / "cache").rglob("*.json")]
    keys = {(e["factory"], e["version"], e["seed"], e["code"]) for e in entries}
    assert keys == {(scenario.params["factory"], "v1", 0, user_models.USER_MODELS_VERSION)}


def test_a_dataclass_with_the_same_fields_works(tmp_path):
    cases = generate(_scenario(tmp_path, "dataclass"), 0)
    assert len(cases) == 3


MALFORMED = {
    "raises": "raised RuntimeError: no GPU here",
    "missing": "missing ['version']",
    "typo": "missing ['pairs'], unknown ['pair']",
    "not_a_module": "'b' is a str",
    "unknown_model": "names model 'c'; the models are ['a', 'b']",
    "unknown_layer": "model 'a' has no layer 'blok'; its layers (close matches first): block, ",
    "bad_pair": "each pair must be (model, layer, model, layer)",
    "bad_data": "'test' must be a non-empty torch Dataset",
    "shapes": "the models' outputs differ in shape",
    "exits": "raised SystemExit: the code called sys.exit(3)",
    "exits_on_import": "SystemExit: the code called sys.exit(2)",
    "hf_dict": "model 'a': its output is a dict, not a tensor of logits; set the spec parameter output",
}


@pytest.mark.parametrize("broken", sorted(MALFORMED))
def test_a_malformed_factory_is_an_error_naming_the_scenario_the_factory_and_the_problem(tmp_path, broken):
    scenario = _scenario(tmp_path, broken)
    with pytest.raises(ValueError) as info:
        generate(scenario, 0)
    message = str(info.value)
    assert message.startswith(f"scenario 'mine', factory '{scenario.params['factory']}': ")
    assert MALFORMED[broken] in message


#: Pairs that fail, each in its own case (the scenario's other pairs are made): the message each holds.
PAIR_ERRORS = {
    "residual": {case: "layer 'block' is not a cut of the model" for case in ("a.block->b.pool", "b.block->a.block")},
    "out_of_memory": {case: "RuntimeError: CUDA out of memory"
                      for case in ("a.conv->b.conv", "a.block->b.pool", "a.pool->a.pool")},
    "nan": {"a.conv->b.conv": "model 'b', layer 'conv': 2560 of 10240 activation values are NaN or Inf",
            "a.block->b.pool": "model 'b', layer 'pool': 640 of 640 activation values are NaN or Inf"},
}


@pytest.mark.parametrize("broken", sorted(PAIR_ERRORS))
def test_a_pair_that_fails_is_its_own_case_with_its_error_and_the_other_pairs_are_made(tmp_path, broken):
    """A layer that is not a cut, a model that fails while recorded, NaN in a model: the pair's case
    carries the error (naming the scenario, the factory, the pair, and for NaN the model, layer and
    count), before any stitching could fail obscurely; the healthy pairs are made as usual."""
    scenario = _scenario(tmp_path, broken)
    cases = {case.case: case for case in generate(scenario, 0)}
    failed = {name: case for name, case in cases.items() if case.error}
    assert set(failed) == set(PAIR_ERRORS[broken])
    for name, case in failed.items():
        assert case.error.startswith(f"scenario 'mine', factory '{scenario.params['factory']}': pair ")
        assert PAIR_ERRORS[broken][name] in case.error and case.x is None and case.y is None
    for case in cases.values():
        if not case.error:
            assert np.isfinite(case.x).all() and 0 < case.stitch_direct < 1.5


def test_an_error_case_is_an_error_row_for_every_measure():
    from runner.cells import measure_cases
    from scenarios.types import Case

    case = Case("networks", "mine", "a.conv->b.conv", 0, None, None, error="pair ...: NaN")
    [row] = measure_cases("cka_linear", lambda x, y: 1.0, [case])
    assert row["error"] == "pair ...: NaN" and np.isnan(row["value"]) and row["case"] == "a.conv->b.conv"


@pytest.mark.parametrize("kind, output", [("hf_dict", "logits"), ("hf_tuple", "0"), ("hf_dataclass", "logits"),
                                          ("hf_dict", "{tmp}/select.py:logits_of")])
def test_a_model_returning_a_dict_a_tuple_or_a_dataclass_runs_with_the_output_option(generated, tmp_path, kind,
                                                                                      output):
    """HuggingFace-style models (no download): the output option takes the logits out of a dict with
    logits and hidden states, a tuple or a dataclass; the cases are those of the same models returning
    the logits alone."""
    (tmp_path / "select.py").write_text("def logits_of(returned):\n    return returned['logits']\n")
    cases = generate(_scenario(tmp_path, kind, output=output.format(tmp=tmp_path)), 0)
    plain = generated[2]
    assert [c.case for c in cases] == [c.case for c in plain] and not any(c.error for c in cases)
    for mine, theirs in zip(cases, plain):
        np.testing.assert_array_equal(mine.x, theirs.x)
        assert (mine.stitch_direct, mine.agreement) == (theirs.stitch_direct, theirs.agreement)


def test_an_output_option_that_does_not_fit_names_the_model_and_the_option(tmp_path):
    with pytest.raises(ValueError, match=r"model 'a': output = 'scores' cannot select from its output \(dict\): "
                                         r"KeyError: 'scores'"):
        generate(_scenario(tmp_path, "hf_dict", output="scores"), 0)


@pytest.mark.parametrize("dtype", ["float64", "bfloat16"])
def test_models_of_any_float_dtype_are_recorded_and_stitched(generated, tmp_path, dtype):
    """float64 and bfloat16 models (before: "mat1 and mat2 must have the same dtype"): float64 ones give
    the float32 models' activations to float32 rounding, in float64."""
    cases = generate(_scenario(tmp_path, dtype), 0)
    assert not any(c.error for c in cases) and all(c.x.dtype == np.float64 for c in cases)
    for mine, theirs in zip(cases, generated[2]):
        assert np.isfinite(mine.x).all() and 0 < mine.stitch_direct < 1.5
        # float32 weights cast to float64: the same numbers up to float32 rounding of the float32 pass
        tolerance = 1e-5 if dtype == "float64" else 0.1  # bfloat16 keeps 8 bits of mantissa
        np.testing.assert_allclose(mine.x, theirs.x, rtol=tolerance, atol=tolerance)


def test_models_changed_without_a_version_bump_are_not_served_from_the_cache(tmp_path):
    """The factory's file is edited to return other models, its version still "v1": the cache is keyed
    by the weights, so the cases are those of the new models (before: the old models' values)."""
    first = generate(_scenario(tmp_path, "", file="same"), 0)
    second = generate(_scenario(tmp_path, "retrained", file="same"), 0)
    assert first[0].meta["version"] == second[0].meta["version"] == "v1"
    assert not np.allclose(first[0].y, second[0].y)  # b is another model now
    np.testing.assert_array_equal(first[0].x, second[0].x)  # a is the same


@pytest.mark.parametrize("factory, problem", [
    ("no_such_module_here:build", "cannot import 'no_such_module_here': ModuleNotFoundError"),
    ("{tmp}/missing.py:build", "cannot import"),
    ("{tmp}/factory_ok.py:nothing", "has no callable 'nothing'"),
])
def test_a_factory_that_cannot_be_imported_is_an_error(tmp_path, factory, problem):
    scenario = _scenario(tmp_path, factory=factory.format(tmp=tmp_path))
    with pytest.raises(ValueError, match=f"scenario 'mine', factory .*{problem}"):
        generate(scenario, 0)


def test_a_spec_without_a_factory_is_refused_on_load(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(name="mine", factory="", cache=tmp_path).replace('factory = ""\n', ""))
    with pytest.raises(ValueError, match="factory must be 'module:function'"):
        load_specs([spec])


def test_a_module_factory_is_imported_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "factory_ok.py").write_text(FACTORY.format(broken=""))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(tmp_path)  # restored after the test
    assert callable(user_models.load_factory("factory_ok:build"))


def test_a_broken_factory_fails_its_cells_and_leaves_the_other_scenarios_intact(pytester, tmp_path):
    for name in ("conftest.py", "test_scenarios.py"):
        shutil.copy(BENCHMARKS / name, pytester.path / name)
    pytester.makeini("[pytest]\n")
    broken = _scenario(tmp_path, "raises", name="broken_factory")
    spec = (tmp_path / "spec_raises.toml").read_text()
    spec += ('\n[[scenario]]\nname = "tiny_orthogonal"\nfamily = "symmetry"\ngenerator = "symmetry.orthogonal"\ndescription = "A rotation."\n'
             'seeds = 2\nparams = { n = 60, p = 4 }\n[[scenario.expect]]\nkind = "invariant"\n')
    (pytester.path / "spec.toml").write_text(spec)
    result = pytester.runpytest("-p", "no:cacheprovider", "--specs", "spec.toml", "--report-dir", "out",
                                "--metrics", "cka_linear,procrustes")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([f"*scenario 'broken_factory', factory '{broken.params['factory']}': raised "
                                 f"RuntimeError: no GPU here*"])
    table = pd.read_csv(pytester.path / "out" / "results.csv", keep_default_na=False)
    failed = table[table["scenario"] == "broken_factory"]
    assert len(failed) == 4 and set(failed["case"]) == {"(not generated)"}
    assert failed["error"].str.contains("no GPU here").all()
    intact = table[table["scenario"] == "tiny_orthogonal"]
    assert set(intact["metric"]) == {"cka_linear", "procrustes"} and set(intact["seed"]) == {0, 1}
    assert (intact["error"] == "").all() and intact["value"].notna().all()
    assert "broken_factory" in (pytester.path / "out" / "scorecard.md").read_text()


def test_mixed_precision_is_part_of_the_key_and_off_on_the_cpu():
    assert "amp" not in Schedule().as_dict()  # full-precision keys are the ones from before the option
    assert Schedule(amp="bf16").as_dict()["amp"] == "bf16" and Schedule(amp="fp16").scaled(0.5).amp == "fp16"
    assert Schedule(amp="fp16").autocast_dtype("cpu") is None
    assert Schedule(amp="bf16").autocast_dtype("cuda:1") is torch.bfloat16
    with pytest.raises(ValueError, match="amp must be one of"):
        Schedule(amp="fp8")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 4, 4, generator=g), torch.arange(64) % 3
    data = Dataset("tiny", x, y, x, y, 3)
    weights = []
    for amp in ("", "fp16"):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        train(net, data, Schedule(epochs=2, batch_size=16, amp=amp), 0, device="cpu")
        weights.append(net[1].weight.detach().clone())
    assert torch.equal(*weights)  # on the CPU the option changes nothing


def _write_entry(root: str, barrier, value: float) -> None:
    cache = Cache(root)
    barrier.wait()
    cache.store({"kind": "race"}, {"value": torch.full((256, 256), value), "label": "race"})


def test_two_processes_writing_one_entry_at_once_leave_a_readable_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [context.Process(target=_write_entry, args=(str(tmp_path), barrier, 1.0)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    entry = Cache(tmp_path).load({"kind": "race"})  # a third reader, in another process than the writers
    assert entry["label"] == "race" and torch.equal(entry["value"], torch.ones(256, 256))
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert len(list(tmp_path.rglob("*.pt"))) == 1 and len(list(tmp_path.rglob("*.json"))) == 1


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class _FakeResNet(nn.Module):
    """The stages torchvision's ResNet-18 has (conv1, layer1..layer4, avgpool, fc), a few channels
    each; its classifier's bias favours class 0, so that it classifies one image in ten correctly."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            nn.Sequential(nn.Conv2d(4 * 2 ** max(i - 1, 0), 4 * 2 ** i, 3, stride=1 + (i > 0), padding=1), nn.ReLU())
            for i in range(4))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)
        with torch.no_grad():
            self.fc.bias[0] = 100.0

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_the_resnet18_checkpoint_example_on_a_tiny_cifar(tmp_path, monkeypatch):
    """The GPU example's factory on CIFAR-shaped batches written here (10 images a batch) and two
    checkpoints of a stand-in for torchvision's ResNet-18 (the same stage names), loaded through
    ``checkpoints.load_model`` (torchvision itself is an optional extra)."""
    from test_networks_data import write_cifar

    from scenarios.networks import checkpoints

    requested = []
    monkeypatch.setattr(checkpoints, "build_architecture",
                        lambda name, **kwargs: requested.append(name) or _FakeResNet(**kwargs))
    write_cifar(tmp_path)
    for kind in ("dense", "pruned"):
        torch.manual_seed(len(kind))
        torch.save(_FakeResNet().state_dict(), tmp_path / f"{kind}_seed0.pt")
    monkeypatch.setenv("STITCHBENCH_DATA", str(tmp_path))
    monkeypatch.setenv("RESNET18_CHECKPOINTS", str(tmp_path))
    spec = (EXAMPLES / "resnet18_specs.toml").read_text().replace(
        "examples/resnet18_checkpoints.py", str(EXAMPLES / "resnet18_checkpoints.py")).replace(
        "probe_size = 2000\nstitch_epochs = 30", f'probe_size = 8\nstitch_epochs = 0\ncache_dir = "{tmp_path}/cache"')
    (tmp_path / "spec.toml").write_text(spec)
    cases = generate(load_specs([tmp_path / "spec.toml"])[0], 0)
    assert requested == ["torchvision:resnet18"] * 2
    assert [c.case for c in cases] == [f"dense.layer{i}->pruned.layer{i}" for i in range(1, 5)]
    assert [c.x.shape for c in cases] == [(8, 4), (8, 8), (8, 16), (8, 32)]
    assert all(c.meta["accuracy_x"] == c.meta["accuracy_y"] == 0.1 for c in cases)
