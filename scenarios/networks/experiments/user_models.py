"""Users' own networks as a scenario: generator ``networks.user_models`` (DESIGN section 6).

A spec names a factory, ``factory = "module:function"`` (a module importable from the working
directory or ``sys.path``, or a file path such as ``examples/my_networks.py:build``). The function takes
the seed and returns a dict (or a dataclass with the same fields)::

    {"models": {"dense": model_a, "pruned": model_b},      # trained torch.nn.Modules
     "train": train_dataset, "test": test_dataset,        # torch Datasets of (input, label)
     "pairs": [("dense", "layer3", "pruned", "layer3")],  # (model, layer, model, layer), names of named_modules()
     "version": "v1"}                                      # change it whenever what the factory returns changes

Every pair (X = ``layer_x`` of ``model_x``, Y = ``layer_y`` of ``model_y``) becomes the case
``"<model_x>.<layer_x>-><model_y>.<layer_y>"`` with the functional references of the suite's own
networks (``runner.schema.REFERENCE_COLUMNS``): the stitch X -> Y and Y -> X, trained and direct
(``stitch.references``, the suite's own stitching: a 1x1 convolution between two conv activations, a
linear map otherwise; least-squares initialization on the training inputs, then ``stitch_epochs`` of
Adam on the task loss; relative accuracies acc(stitched) / acc(receiver) on the test inputs), and the
prediction agreement and accuracy difference of the two whole models. X and Y are the layers'
activations on the first ``probe_size`` test inputs (forward hooks, eval mode), brought to float64 [n, p]
by the ``conv`` convention.

Layers are cut points: stitching A[:l] -> S -> B[m:] needs a B[m:] that is a function of layer m's
output alone. A layer of any ``nn.Module`` is cut by forward hooks: the head runs the model until the
layer and stops there; the tail runs the model with the layer's output replaced by its input. A layer
around which something else flows (a convolution inside a residual block, a module called twice) is
not a cut; it is refused with an error, found by checking on a few test inputs that the tail of the
head is the model.

Everything the suite computes (activations, the models' accuracies, every pair's references) is cached
(``cache.Cache``) under the factory's name, its ``version``, the seed, the options that shape the entry,
:data:`USER_MODELS_VERSION` and the cache's code version. The factory runs on every run (its models are
the user's and are not stored), so a warm run calls it and reads every stitch from the cache.

Errors: a factory that cannot be imported or raises, a malformed dict (missing or unknown keys, wrong
types, a model that is no ``nn.Module``, a model name in ``pairs`` that ``models`` lacks), a layer that
does not exist (the model's layer names are listed, close matches first), a layer that is not a cut,
models whose outputs differ in shape or do not classify the labels, and a model that fails while it is
recorded or stitched (the pair is named): a ValueError naming the scenario, the factory and the problem. Models whose outputs differ in shape are an error, not an empty
agreement: stitching scores X -> Y by Y's accuracy on the test labels and Y -> X by X's, so both models
must classify the same labels, and outputs of different shapes mean one of them does not.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import importlib.util
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from scenarios import Case, Scenario, generator
from scenarios.networks.activations import as_matrix
from scenarios.networks.cache import Cache
from scenarios.networks.data import Dataset
from scenarios.networks.determinism import deterministic
from scenarios.networks.models import HEAD
from scenarios.networks.stitch import references
from scenarios.networks.train import accuracy, default_device
from scenarios.progress import note

__all__ = ["USER_MODELS_VERSION", "REQUIRED_KEYS", "PARAMS", "UserModels", "load_factory", "built", "LayerHead",
           "LayerTail", "cut", "user_models"]

#: Part of every key of this generator's cache entries: bump it when this module changes what it computes.
USER_MODELS_VERSION = "user-models-1"
REQUIRED_KEYS = ("models", "train", "test", "pairs", "version")
#: The name of the cut layer in the two-stage model :func:`cut` builds (the receiver's tail is ``HEAD``).
CUT = "layer"
#: Test inputs the cut check and the output check run on.
CHECK_INPUTS = 4


def _fail(scenario: str, factory: str, problem: str) -> ValueError:
    return ValueError(f"scenario {scenario!r}, factory {factory!r}: {problem}")


def load_factory(factory: str) -> Callable[[int], Any]:
    """The function named by ``"module:function"`` or ``"path/to/file.py:function"``.

    A module is imported from ``sys.path`` with the working directory added (as ``python -m`` does);
    a path (it ends in ``.py``) is loaded as a file, relative to the working directory.

    Raises:
        ValueError: the name has no ``:``, the module or file cannot be imported, or it has no such
            callable (the message says which).
    """
    module_name, sep, function = factory.rpartition(":")
    if not sep or not module_name or not function:
        raise ValueError("expected 'module:function' or 'path/to/file.py:function'")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"no file {path}")
            spec = importlib.util.spec_from_file_location(f"stitchbench_factory_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - whatever the user's module raises on import is reported
        raise ValueError(f"cannot import {module_name!r}: {type(err).__name__}: {err}") from err
    fn = getattr(module, function, None)
    if not callable(fn):
        raise ValueError(f"module {module_name!r} has no callable {function!r}")
    return fn


def _is_dataset(value) -> bool:
    """Whether ``value`` is a non-empty dataset whose first item is an (input tensor, integer label) pair."""
    if not (hasattr(value, "__getitem__") and hasattr(value, "__len__") and len(value) > 0):
        return False
    item = value[0]
    return (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], torch.Tensor)
            and torch.as_tensor(item[1]).numel() == 1 and not torch.as_tensor(item[1]).is_floating_point())


def _layer_problem(model_name: str, model: nn.Module, layer: str) -> str | None:
    names = [name for name, _ in model.named_modules() if name]
    if layer in names:
        return None
    close = difflib.get_close_matches(layer, names, n=5, cutoff=0.5)
    listed = close + [name for name in names if name not in close]
    return f"model {model_name!r} has no layer {layer!r}; its layers (close matches first): {', '.join(listed)}"


@dataclasses.dataclass(frozen=True)
class UserModels:
    """What a factory returned, checked (:func:`built`): models in eval mode on ``device``."""

    models: dict[str, nn.Module]
    train: Any
    test: Any
    pairs: tuple[tuple[str, str, str, str], ...]
    version: str

    @functools.cached_property
    def data(self) -> Dataset:
        """Both datasets as tensors (built when first needed: a warm run needs none)."""
        x_train, y_train = _stacked(self.train)
        x_test, y_test = _stacked(self.test)
        return Dataset("user", x_train, y_train, x_test, y_test, int(max(y_train.max(), y_test.max())) + 1)


def _stacked(dataset, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    inputs, labels = zip(*((torch.as_tensor(x), torch.as_tensor(y)) for x, y in loader))
    return torch.cat(inputs), torch.cat(labels).long()


def built(returned: Any, device: str) -> UserModels:
    """Check what a factory returned and bring its models to ``device`` in eval mode.

    Raises:
        ValueError: a missing or unknown key, a value of the wrong type, a model that is no
            ``nn.Module``, a pair naming an unknown model or layer (see the module docstring).
    """
    if dataclasses.is_dataclass(returned) and not isinstance(returned, type):
        returned = {f.name: getattr(returned, f.name) for f in dataclasses.fields(returned)}
    if not isinstance(returned, dict):
        raise ValueError(f"expected a dict with keys {list(REQUIRED_KEYS)}, got {type(returned).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in returned]
    unknown = sorted(set(returned) - set(REQUIRED_KEYS))
    if missing or unknown:
        raise ValueError(f"the returned dict must have exactly the keys {list(REQUIRED_KEYS)}; "
                         f"missing {missing}, unknown {unknown}")
    models = returned["models"]
    if not isinstance(models, dict) or not models:
        raise ValueError("'models' must be a non-empty dict of name -> torch.nn.Module")
    for name, model in models.items():
        if not isinstance(name, str) or not isinstance(model, nn.Module):
            raise ValueError(f"'models' must map names (str) to torch.nn.Module; {name!r} is a "
                             f"{type(model).__name__}")
    for key in ("train", "test"):
        if not _is_dataset(returned[key]):
            raise ValueError(f"{key!r} must be a non-empty torch Dataset of (input tensor, integer label) pairs, "
                             f"got {type(returned[key]).__name__}")
    if not isinstance(returned["version"], str) or not returned["version"]:
        raise ValueError(f"'version' must be a non-empty string, got {returned['version']!r}")
    pairs = returned["pairs"]
    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise ValueError("'pairs' must be a non-empty list of (model, layer, model, layer)")
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 4 and all(isinstance(v, str) for v in pair)):
            raise ValueError(f"each pair must be (model, layer, model, layer), four strings; got {pair!r}")
        for name, layer in (pair[:2], pair[2:]):
            if name not in models:
                raise ValueError(f"pair {tuple(pair)} names model {name!r}; the models are {sorted(models)}")
            problem = _layer_problem(name, models[name], layer)
            if problem:
                raise ValueError(problem)
    for model in models.values():
        model.to(device).eval()
    return UserModels(dict(models), returned["train"], returned["test"], tuple(tuple(p) for p in pairs),
                      returned["version"])


class _Stop(Exception):
    """Raised by the head's hook to stop the forward pass at the layer."""


class LayerHead(nn.Module):
    """``model`` up to and including ``layer`` (a name of ``named_modules()``): runs the model's forward
    until the layer and returns its output."""

    def __init__(self, model: nn.Module, layer: str):
        super().__init__()
        self.model, self.layer = model, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []

        def stop(module, inputs, output):
            outputs.append(output)
            raise _Stop

        handle = self.model.get_submodule(self.layer).register_forward_hook(stop)
        try:
            self.model(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        if not outputs or not isinstance(outputs[0], torch.Tensor):
            raise ValueError(f"layer {self.layer!r} " + ("did not run in the model's forward" if not outputs
                                                         else "does not output one tensor"))
        return outputs[0]


class LayerTail(nn.Module):
    """``model`` after ``layer``: the model run on zero inputs of shape ``input_shape`` with the layer's
    output replaced by the argument (correct where the layer is a cut: see :func:`cut`)."""

    def __init__(self, model: nn.Module, layer: str, input_shape: tuple[int, ...], input_dtype: torch.dtype):
        super().__init__()
        self.model, self.layer = model, layer
        self.input_shape, self.input_dtype = tuple(input_shape), input_dtype

    def forward(self, activation: torch.Tensor) -> torch.Tensor:
        handle = self.model.get_submodule(self.layer).register_forward_hook(lambda module, inputs, output: activation)
        try:
            return self.model(torch.zeros(len(activation), *self.input_shape, dtype=self.input_dtype,
                                          device=activation.device))
        finally:
            handle.remove()


def cut(model: nn.Module, layer: str, inputs: torch.Tensor) -> nn.Sequential:
    """``model`` as the two stages ``CUT`` (:class:`LayerHead`) and ``HEAD`` (:class:`LayerTail`), the
    form the suite's stitching (``stitch.references``) splits at a layer; ``inputs`` (a few test
    inputs, on the model's device) check that the tail of the head is the model.

    Raises:
        ValueError: the layer is not a cut (the model's output depends on its input other than through
            the layer's output).
    """
    two = nn.Sequential(OrderedDict([(CUT, LayerHead(model, layer)),
                                     (HEAD, LayerTail(model, layer, inputs.shape[1:], inputs.dtype))]))
    with torch.no_grad():
        whole, through = model(inputs), two(inputs)
    scale = float(whole.abs().max()) or 1.0
    if not torch.allclose(through, whole, rtol=1e-3, atol=1e-4 * scale):
        raise ValueError(f"layer {layer!r} is not a cut of the model: its output depends on its input other than "
                         f"through this layer (a skip connection around it, or the module runs more than once); "
                         f"stitch at a layer everything flows through, such as a block's or a stage's output")
    return two


def _check_outputs(checked: UserModels, inputs: torch.Tensor, classes: int) -> None:
    with torch.no_grad():
        shapes = {name: tuple(model(inputs).shape[1:]) for name, model in checked.models.items()}
    for name, shape in shapes.items():
        if len(shape) != 1 or shape[0] < classes:
            raise ValueError(f"model {name!r} outputs shape {shape} per input; every model must give logits "
                             f"[n, classes] for the labels of the test inputs (at least {classes} classes)")
    if len(set(shapes.values())) > 1:
        raise ValueError(f"the models' outputs differ in shape ({shapes}); stitching and prediction agreement "
                         f"need models that classify the same labels")


def _test_inputs(dataset, n: int, device: str) -> tuple[torch.Tensor, int]:
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    inputs = torch.stack([torch.as_tensor(x) for x, _ in items]).to(device)
    return inputs, max(int(y) for _, y in items) + 1


#: The generator's parameters (name -> default).
PARAMS = {
    "factory": "",          # required: "module:function" or "path/to/file.py:function"
    "probe_size": 500,      # activations on the first probe_size test inputs (0: all)
    "conv": "pool",         # flatten | positions | pool (metrics.CONVENTIONS) for [n, c, h, w] activations
    "stitch_epochs": 4,     # epochs of task-loss training of each stitch (0: direct matching only)
    "lr": 1e-3,             # the stitches' Adam learning rate
    "batch_size": 128,      # inputs per forward pass when recording activations
    "device": "",           # "" -> $STITCHBENCH_DEVICE, else cuda when available, else cpu
    "cache_dir": "",        # "" -> $STITCHBENCH_CACHE, else ~/.cache/stitchbench
}


def _check(params: dict) -> None:
    if ":" not in params["factory"]:
        raise ValueError("factory must be 'module:function' or 'path/to/file.py:function'")
    for key in ("probe_size", "stitch_epochs"):
        if params[key] < 0:
            raise ValueError(f"{key} must be >= 0, got {params[key]}")
    if params["batch_size"] < 1 or params["lr"] <= 0:
        raise ValueError("batch_size must be >= 1 and lr > 0")


@generator("networks.user_models", family="networks", params=PARAMS,
           choices={"conv": ("flatten", "positions", "pool")}, check=_check, use_case="own")
def user_models(scenario: Scenario, seed: int) -> Iterable[Case]:
    """The user's networks (``factory(seed)``), every pair stitched both ways and compared; see the
    module docstring for the contract and the errors."""
    p = scenario.params
    factory, device = p["factory"], p["device"] or default_device()
    try:
        fn = load_factory(factory)
    except ValueError as err:
        raise _fail(scenario.name, factory, str(err)) from err
    note(f"calling {factory}({seed})")
    try:
        returned = fn(seed)
    except Exception as err:  # noqa: BLE001 - the user's code: its failure is this scenario's error
        raise _fail(scenario.name, factory, f"raised {type(err).__name__}: {err}") from err
    try:
        checked = built(returned, device)
        inputs, classes = _test_inputs(checked.test, CHECK_INPUTS, device)
        _check_outputs(checked, inputs, classes)
        stages = {(name, layer): cut(checked.models[name], layer, inputs)
                  for pair in checked.pairs for name, layer in (pair[:2], pair[2:])}
    except ValueError as err:
        raise _fail(scenario.name, factory, str(err)) from err
    cases = _Cases(scenario, seed, checked, stages, device)
    for pair in checked.pairs:
        try:
            case = cases.case(*pair)
        except Exception as err:  # noqa: BLE001 - the user's models failed while stitched or recorded
            raise _fail(scenario.name, factory, f"pair {pair}: {type(err).__name__}: {err}") from err
        yield case


class _Cases:
    """The cached entries of one (scenario, seed): each built from the user's live models when missing."""

    def __init__(self, scenario: Scenario, seed: int, checked: UserModels, stages: dict, device: str):
        self.scenario, self.seed, self.checked, self.stages, self.device = scenario, seed, checked, stages, device
        self.params = scenario.params
        self.cache = Cache.shared(self.params["cache_dir"] or None)
        self.base = {"kind": "user_models", "code": USER_MODELS_VERSION, "factory": self.params["factory"],
                     "version": checked.version, "seed": seed}

    def _fetch(self, what: str, key: dict, describe: str, build: Callable[[], dict]) -> dict:
        def build_entry():
            note(f"{what} {describe}")
            with deterministic():
                return build()

        return self.cache.fetch({**self.base, "entry": what, **key}, build_entry)

    def activations(self, name: str, layer: str) -> torch.Tensor:
        n = self.params["probe_size"]

        @torch.no_grad()
        def build():
            x = self.checked.data.x_test[: n or None]
            head, batch = self.stages[name, layer][0], self.params["batch_size"]
            return {"activations": torch.cat([head(x[i:i + batch].to(self.device)).float().cpu()
                                              for i in range(0, len(x), batch)])}

        return self._fetch("recording", {"model": name, "layer": layer, "probe_size": n}, f"{name}.{layer}",
                           build)["activations"]

    def accuracy(self, name: str) -> float:
        def build():
            data = self.checked.data
            return {"accuracy": accuracy(self.checked.models[name], data.x_test, data.y_test, self.device)}

        return self._fetch("evaluating", {"model": name}, name, build)["accuracy"]

    def references(self, name_x: str, layer_x: str, name_y: str, layer_y: str) -> dict:
        """``stitch.references`` of the two layers (every reference column), one entry per pair."""
        options = {"epochs": self.params["stitch_epochs"], "lr": self.params["lr"], "seed": self.seed}

        def build():
            return references(self.stages[name_x, layer_x], CUT, self.stages[name_y, layer_y], CUT,
                              self.checked.data, device=self.device, **options)

        key = {"x": [name_x, layer_x], "y": [name_y, layer_y], **options}
        return self._fetch("stitching", key, f"{name_x}.{layer_x} <-> {name_y}.{layer_y}", build)

    def case(self, name_x: str, layer_x: str, name_y: str, layer_y: str) -> Case:
        found = self.references(name_x, layer_x, name_y, layer_y)
        x, y = self.activations(name_x, layer_x), self.activations(name_y, layer_y)
        conv = self.params["conv"]
        return Case(
            family=self.scenario.family, scenario=self.scenario.name, case=f"{name_x}.{layer_x}->{name_y}.{layer_y}",
            seed=self.seed, x=as_matrix(x, conv), y=as_matrix(y, conv), **found,
            meta={"factory": self.params["factory"], "version": self.checked.version, "model_x": name_x,
                  "layer_x": layer_x, "model_y": name_y, "layer_y": layer_y, "conv": conv,
                  "shape_x": list(x.shape[1:]), "shape_y": list(y.shape[1:]),
                  "accuracy_x": self.accuracy(name_x), "accuracy_y": self.accuracy(name_y)},
        )
