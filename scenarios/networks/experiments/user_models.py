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
Adam on the task loss; scored on the test inputs by ``stitch.stitch_score``, the accuracy above chance
relative to the receiver's, in [0, 1]), and the
prediction agreement and accuracy difference of the two whole models. X and Y are the layers'
activations on the first ``probe_size`` test inputs (forward hooks, eval mode), brought to float64 [n, p]
by the ``conv`` convention.

Layers are cut points: stitching A[:l] -> S -> B[m:] needs a B[m:] that is a function of layer m's
output alone. A layer of any ``nn.Module`` is cut by forward hooks: the head runs the model until the
layer and stops there; the tail runs the model with the layer's output replaced by its input. A layer
around which something else flows (a convolution inside a residual block, a module called twice) is
not a cut; it is refused with an error, found by checking on a few test inputs that the tail of the
head is the model.

Models as they come (:class:`Network`):

- **Outputs**: a model's forward may return a tensor of logits, or a tuple, a dict or a dataclass (a
  HuggingFace ``ModelOutput``) holding them; the ``output`` parameter says which: an index (``"0"``), a
  key or attribute name (``"logits"``, HuggingFace's), or ``"module:function"`` (``"path/file.py:fn"``),
  a function of the whole output that returns the logits tensor. Left empty, the output must be a tensor.
  A layer (a cut point) must output one tensor.
- **Dtypes**: a model of any float dtype (float16, bfloat16, float32, float64) gets its inputs cast to
  its own dtype (that of its first floating parameter); its logits are read as float32. Activations are
  recorded in the model's precision (float32 for float32 and lower, float64 for float64) and brought to
  float64 for the measures. Stitches are trained in float32: the sender's activation is cast to
  float32, and the stitch's output to the receiver's dtype where it enters the receiver's tail.
- **Non-finite values**: NaN or Inf in an activation is an error that names the model, the layer and how
  many values are not finite (not a confusing linear-algebra error later).

Everything the suite computes (activations, the models' accuracies, every pair's references) is cached
(``cache.Cache``) under the factory's name, its ``version``, a digest of every model's weights (names,
dtypes, shapes and bytes of its state dict) and of the data (both datasets' inputs and labels), the
seed, the options that shape the entry, :data:`USER_MODELS_VERSION` and the cache's code version: a
factory whose models or data change gets new entries even when ``version`` is not bumped. The factory
runs on every run (its models are the user's and are not stored), so a warm run calls it and reads
every stitch from the cache.

Errors of the scenario (a ValueError naming the scenario, the factory and the problem): a factory that
cannot be imported, raises or calls ``sys.exit``, a malformed dict (missing or unknown keys, wrong types,
a model that is no ``nn.Module``, a model name in ``pairs`` that ``models`` lacks), a layer that does not
exist (the model's layer names are listed, close matches first), an output that is not a tensor of
logits (the ``output`` parameter is named), models whose outputs differ in shape or do not classify the
labels. Models whose outputs differ in shape are an error, not an empty agreement: stitching scores
X -> Y by Y's accuracy on the test labels and Y -> X by X's, so both models must classify the same
labels, and outputs of different shapes mean one of them does not.

Errors of one pair (that pair's case carries the error, ``Case.error``, and every measure gets an error
row for it; the scenario's other pairs are measured as usual): a layer that is not a cut, non-finite
activations, and a model that fails while it is recorded or stitched.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import importlib
import importlib.util
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping
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
from runner.isolation import USER_FAULTS, describe

__all__ = ["USER_MODELS_VERSION", "REQUIRED_KEYS", "PARAMS", "UserModels", "Network", "load_factory", "built",
           "output_selector", "LayerHead", "LayerTail", "cut", "user_models"]

#: Part of every key of this generator's cache entries: bump it when this module changes what it computes.
USER_MODELS_VERSION = "user-models-2"  # 2: keyed by the weights and data, any float dtype, outputs selected
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
    except USER_FAULTS as err:  # whatever the user's module raises on import (sys.exit included) is reported
        raise ValueError(f"cannot import {module_name!r}: {describe(err)}") from err
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


def output_selector(output: str) -> Callable[[Any], Any]:
    """The function that takes a model's logits out of what its forward returns (the ``output``
    parameter, module docstring): ``""`` the output itself, digits (``"0"``, ``"-1"``) an index, a
    ``"module:function"`` that function, anything else a key (a mapping, a HuggingFace ``ModelOutput``)
    or an attribute (a dataclass).

    Raises:
        ValueError: a ``"module:function"`` that cannot be imported.
    """
    if not output:
        return lambda returned: returned
    if output.lstrip("-").isdigit():
        return lambda returned: returned[int(output)]
    if ":" in output:
        return load_factory(output)
    return lambda returned: returned[output] if isinstance(returned, Mapping) else getattr(returned, output)


def _float_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating parameter (or buffer); float32 when it has none."""
    tensors = [*model.parameters(), *model.buffers()]
    return next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)


class Network(nn.Module):
    """A user's model as the suite runs it (module docstring): inputs cast to the model's dtype, the
    logits taken out of its output by ``select`` (:func:`output_selector`) and read as float32."""

    def __init__(self, name: str, model: nn.Module, select: Callable[[Any], Any], output: str = ""):
        super().__init__()
        self.name, self.model, self.select, self.output = name, model, select, output
        self.dtype = _float_dtype(model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        returned = self.model(x.to(self.dtype))
        try:
            logits = self.select(returned)
        except Exception as err:  # noqa: BLE001 - a selector that does not fit the output: say which and why
            raise ValueError(f"model {self.name!r}: output = {self.output!r} cannot select from its output "
                             f"({type(returned).__name__}): {describe(err)}") from err
        if not isinstance(logits, torch.Tensor):
            what = "its output is" if not self.output else f"output = {self.output!r} gives"
            raise ValueError(f"model {self.name!r}: {what} a {type(logits).__name__}, not a tensor of logits; set "
                             f"the spec parameter output to an index, a key (HuggingFace: \"logits\") or "
                             f"\"module:function\"")
        return logits.float()


@dataclasses.dataclass(frozen=True)
class UserModels:
    """What a factory returned, checked (:func:`built`): models in eval mode on ``device``, each as a
    :class:`Network`."""

    models: dict[str, Network]
    train: Any
    test: Any
    pairs: tuple[tuple[str, str, str, str], ...]
    version: str

    @functools.cached_property
    def data(self) -> Dataset:
        """Both datasets as tensors."""
        x_train, y_train = _stacked(self.train)
        x_test, y_test = _stacked(self.test)
        return Dataset("user", x_train, y_train, x_test, y_test, int(max(y_train.max(), y_test.max())) + 1)

    @functools.cached_property
    def digests(self) -> dict:
        """BLAKE2b of each model's state dict and of the data (module docstring: part of every key)."""
        data = self.data
        return {"models": {name: _digest(network.model.state_dict().items()) for name, network in
                           sorted(self.models.items())},
                "data": _digest([("x_train", data.x_train), ("y_train", data.y_train), ("x_test", data.x_test),
                                 ("y_test", data.y_test)])}


def _digest(named_tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """BLAKE2b (hex) of tensors: each one's name, dtype, shape and bytes (any dtype, on any device)."""
    digest = hashlib.blake2b(digest_size=20)
    for name, tensor in named_tensors:
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _stacked(dataset, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    inputs, labels = zip(*((torch.as_tensor(x), torch.as_tensor(y)) for x, y in loader))
    return torch.cat(inputs), torch.cat(labels).long()


def built(returned: Any, device: str, output: str = "") -> UserModels:
    """Check what a factory returned and bring its models to ``device`` in eval mode, each a
    :class:`Network` whose logits ``output`` selects (:func:`output_selector`).

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
    try:
        select = output_selector(output)
    except ValueError as err:
        raise ValueError(f"output = {output!r}: {err}") from None
    networks = {name: Network(name, model.to(device).eval(), select, output) for name, model in models.items()}
    return UserModels(networks, returned["train"], returned["test"], tuple(tuple(p) for p in pairs),
                      returned["version"])


class _Stop(Exception):
    """Raised by the head's hook to stop the forward pass at the layer."""


class LayerHead(nn.Module):
    """``network`` (a :class:`Network`) up to and including ``layer`` (a name of its model's
    ``named_modules()``): runs the model's forward until the layer and returns its output, as float32
    (the stitches' dtype); :meth:`raw` returns it in the model's own dtype."""

    def __init__(self, network: Network, layer: str):
        super().__init__()
        self.network, self.layer = network, layer

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's output on ``x`` in the model's dtype."""
        outputs = []

        def stop(module, inputs, output):
            outputs.append(output)
            raise _Stop

        handle = self.network.model.get_submodule(self.layer).register_forward_hook(stop)
        try:
            self.network.model(x.to(self.network.dtype))
        except _Stop:
            pass
        finally:
            handle.remove()
        if not outputs or not isinstance(outputs[0], torch.Tensor):
            raise ValueError(f"layer {self.layer!r} " + ("did not run in the model's forward" if not outputs
                                                         else "does not output one tensor"))
        return outputs[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.raw(x).float()


class LayerTail(nn.Module):
    """``network`` after ``layer``: the network run on zero inputs of shape ``input_shape`` with the
    layer's output replaced by the argument, cast to the layer's dtype (correct where the layer is a
    cut: see :func:`cut`); float32 logits."""

    def __init__(self, network: Network, layer: str, input_shape: tuple[int, ...], input_dtype: torch.dtype):
        super().__init__()
        self.network, self.layer = network, layer
        self.input_shape, self.input_dtype = tuple(input_shape), input_dtype

    def forward(self, activation: torch.Tensor) -> torch.Tensor:
        handle = self.network.model.get_submodule(self.layer).register_forward_hook(
            lambda module, inputs, output: activation.to(output.dtype))
        try:
            return self.network(torch.zeros(len(activation), *self.input_shape, dtype=self.input_dtype,
                                            device=activation.device))
        finally:
            handle.remove()


def cut(network: Network, layer: str, inputs: torch.Tensor) -> nn.Sequential:
    """``network`` as the two stages ``CUT`` (:class:`LayerHead`) and ``HEAD`` (:class:`LayerTail`), the
    form the suite's stitching (``stitch.references``) splits at a layer; ``inputs`` (a few test
    inputs, on the model's device) check that the tail of the head is the model.

    Raises:
        ValueError: the layer is not a cut (the model's output depends on its input other than through
            the layer's output), or the model's logits hold NaN or Inf.
    """
    two = nn.Sequential(OrderedDict([(CUT, LayerHead(network, layer)),
                                     (HEAD, LayerTail(network, layer, inputs.shape[1:], inputs.dtype))]))
    with torch.no_grad():
        whole, through = _finite(network(inputs), network.name, "(its logits)"), two(inputs)
    scale = float(whole.abs().max()) or 1.0
    if not torch.allclose(through, whole, rtol=1e-3, atol=1e-4 * scale):
        raise ValueError(f"layer {layer!r} is not a cut of the model: its output depends on its input other than "
                         f"through this layer (a skip connection around it, or the module runs more than once); "
                         f"stitch at a layer everything flows through, such as a block's or a stage's output")
    return two


def _check_outputs(checked: UserModels, inputs: torch.Tensor, classes: int) -> None:
    with torch.no_grad():
        shapes = {name: tuple(network(inputs).shape[1:]) for name, network in checked.models.items()}
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
    "output": "",           # which output holds the logits: "" (a tensor), an index, a key ("logits"), "module:function"
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
    module docstring for the contract and the errors (a pair that fails is a case with its error)."""
    p = scenario.params
    factory, device = p["factory"], p["device"] or default_device()
    try:
        fn = load_factory(factory)
    except ValueError as err:
        raise _fail(scenario.name, factory, str(err)) from err
    note(f"calling {factory}({seed})")
    try:
        returned = fn(seed)
    except USER_FAULTS as err:  # the user's code (sys.exit included): its failure is this scenario's error
        raise _fail(scenario.name, factory, f"raised {describe(err)}") from err
    try:
        checked = built(returned, device, p["output"])
        inputs, classes = _test_inputs(checked.test, CHECK_INPUTS, device)
        _check_outputs(checked, inputs, classes)
    except ValueError as err:
        raise _fail(scenario.name, factory, str(err)) from err
    cases = _Cases(scenario, seed, checked, inputs, device)
    for pair in checked.pairs:
        try:
            case = cases.case(*pair)
        except USER_FAULTS as err:  # this pair's models or layers failed: its own case says so
            case = cases.failed(pair, str(_fail(scenario.name, factory, f"pair {pair}: {describe(err)}")))
        yield case


def _finite(activation: torch.Tensor, name: str, layer: str) -> torch.Tensor:
    """``activation``, or a ValueError naming the model, the layer and how many values are NaN or Inf."""
    bad = int((~torch.isfinite(activation)).sum())
    if bad:
        raise ValueError(f"model {name!r}, layer {layer!r}: {bad} of {activation.numel()} activation values are NaN "
                         f"or Inf")
    return activation


class _Cases:
    """The cached entries of one (scenario, seed): each built from the user's live models when missing."""

    def __init__(self, scenario: Scenario, seed: int, checked: UserModels, inputs: torch.Tensor, device: str):
        self.scenario, self.seed, self.checked, self.inputs, self.device = scenario, seed, checked, inputs, device
        self.params = scenario.params
        self._stages: dict[tuple[str, str], nn.Sequential] = {}
        self.cache = Cache.shared(self.params["cache_dir"] or None)
        self.base = {"kind": "user_models", "code": USER_MODELS_VERSION, "factory": self.params["factory"],
                     "version": checked.version, "seed": seed, "output": self.params["output"], **checked.digests}

    def stages(self, name: str, layer: str) -> nn.Sequential:
        """The model ``name`` cut at ``layer`` (:func:`cut`, made once; a ValueError where the layer is not a
        cut)."""
        if (name, layer) not in self._stages:
            self._stages[name, layer] = cut(self.checked.models[name], layer, self.inputs)
        return self._stages[name, layer]

    def _fetch(self, what: str, key: dict, label: str, build: Callable[[], dict]) -> dict:
        def build_entry():
            note(f"{what} {label}")
            with deterministic():
                return build()

        return self.cache.fetch({**self.base, "entry": what, **key}, build_entry)

    def activations(self, name: str, layer: str) -> torch.Tensor:
        """The layer's outputs on the probe inputs, in the model's precision (float64 models: float64)."""
        n = self.params["probe_size"]

        @torch.no_grad()
        def build():
            x = self.checked.data.x_test[: n or None]
            head, batch = LayerHead(self.checked.models[name], layer), self.params["batch_size"]
            parts = [head.raw(x[i:i + batch].to(self.device)) for i in range(0, len(x), batch)]
            precision = torch.float64 if parts[0].dtype == torch.float64 else torch.float32
            return {"activations": torch.cat([part.to(precision).cpu() for part in parts])}

        found = self._fetch("recording", {"model": name, "layer": layer, "probe_size": n}, f"{name}.{layer}", build)
        return _finite(found["activations"], name, layer)

    def accuracy(self, name: str) -> float:
        def build():
            data = self.checked.data
            return {"accuracy": accuracy(self.checked.models[name], data.x_test, data.y_test, self.device)}

        return self._fetch("evaluating", {"model": name}, name, build)["accuracy"]

    def references(self, name_x: str, layer_x: str, name_y: str, layer_y: str) -> dict:
        """``stitch.references`` of the two layers (every reference column), one entry per pair."""
        options = {"epochs": self.params["stitch_epochs"], "lr": self.params["lr"], "seed": self.seed}

        def build():
            return references(self.stages(name_x, layer_x), CUT, self.stages(name_y, layer_y), CUT,
                              self.checked.data, device=self.device, **options)

        key = {"x": [name_x, layer_x], "y": [name_y, layer_y], **options}
        return self._fetch("stitching", key, f"{name_x}.{layer_x} <-> {name_y}.{layer_y}", build)

    def _meta(self, name_x: str, layer_x: str, name_y: str, layer_y: str) -> dict:
        return {"factory": self.params["factory"], "version": self.checked.version, "model_x": name_x,
                "layer_x": layer_x, "model_y": name_y, "layer_y": layer_y, "conv": self.params["conv"]}

    def case(self, name_x: str, layer_x: str, name_y: str, layer_y: str) -> Case:
        x, y = self.activations(name_x, layer_x), self.activations(name_y, layer_y)  # non-finite: before stitching
        found = self.references(name_x, layer_x, name_y, layer_y)
        conv = self.params["conv"]
        return Case(
            family=self.scenario.family, scenario=self.scenario.name, case=f"{name_x}.{layer_x}->{name_y}.{layer_y}",
            seed=self.seed, x=as_matrix(x, conv), y=as_matrix(y, conv), **found,
            meta={**self._meta(name_x, layer_x, name_y, layer_y), "shape_x": list(x.shape[1:]),
                  "shape_y": list(y.shape[1:]), "accuracy_x": self.accuracy(name_x),
                  "accuracy_y": self.accuracy(name_y)},
        )

    def failed(self, pair: tuple[str, str, str, str], error: str) -> Case:
        """The case of a pair that could not be made: no activations, its ``error`` for every measure."""
        name_x, layer_x, name_y, layer_y = pair
        return Case(family=self.scenario.family, scenario=self.scenario.name,
                    case=f"{name_x}.{layer_x}->{name_y}.{layer_y}", seed=self.seed, x=None, y=None, error=error,
                    meta=self._meta(*pair))
