"""Compare layers of two models over a data set in one streaming pass (forward hooks, O(p^2) memory).

Every chosen layer pair gets a :class:`metrics.streaming.SufficientStats`; each batch runs once through
each model (once in all when both sides are one model) in eval mode under ``torch.no_grad``, the hooked
activations update the statistics, and nothing of size n is kept.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from metrics.distributed import all_reduce_stats
from metrics.streaming import SufficientStats, check_streamable

__all__ = ["compare_layers", "stream_layers"]


class _Capture:
    """Forward hooks that keep the latest output of each named module of one model."""

    def __init__(self, model: nn.Module, names: Iterable[str]):
        modules = dict(model.named_modules())
        missing = sorted(set(names) - modules.keys())
        if missing:
            raise ValueError(f"no module named {missing} in {type(model).__name__}; it has {sorted(modules)[:30]}")
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles = [modules[name].register_forward_hook(self._hook(name)) for name in set(names)]

    def _hook(self, name: str):
        def keep(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"layer {name!r} returned {type(output).__name__}, not a tensor; hook a submodule")
            self.outputs[name] = output

        return keep

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _progress(done: int, total: int | None, samples: int, start: float) -> None:
    """One self-overwriting line on stderr: batches done, samples, rate."""
    of = f"/{total}" if total is not None else ""
    rate = samples / max(time.perf_counter() - start, 1e-9)
    sys.stderr.write(f"\rlayers: batch {done}{of}, {samples} samples, {rate:.0f} samples/s")
    sys.stderr.flush()


def _inputs_of(batch: Any) -> Any:
    """A DataLoader batch is often (inputs, labels): keep the inputs."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def stream_layers(
    model_a: nn.Module,
    model_b: nn.Module | None,
    pairs: Sequence[tuple[str, str]],
    loader: Iterable,
    *,
    conv: str = "flatten",
    precision: str = "float64",
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[tuple[str, str], SufficientStats]:
    """Accumulate the statistics of every layer pair over ``loader`` in one pass.

    Args:
        model_a, model_b: the models; ``model_b=None`` compares layers of ``model_a`` with each other.
        pairs: (layer of model_a, layer of model_b) names as in ``model.named_modules()``.
        loader: iterable of input batches, or of (inputs, ...) tuples such as a DataLoader yields.
        conv: how [b, c, h, w] activations become 2-D (``metrics.CONVENTIONS``).
        precision: ``"float64"`` or ``"float32"`` products (see :class:`SufficientStats`).
        device: where the inputs go (default: the device of model_a's first parameter, else the CPU).
        progress: write a progress line to stderr.

    Returns:
        ``{(layer_a, layer_b): SufficientStats}``.

    Raises:
        ValueError: an unknown layer name, a layer whose output is not a tensor, bad activations.
    """
    model_b = model_a if model_b is None else model_b
    if device is None:
        device = next((p.device for p in model_a.parameters()), torch.device("cpu"))
    models = {id(model_a): model_a, id(model_b): model_b}
    wanted = {key: [] for key in models}
    for name_a, name_b in pairs:
        wanted[id(model_a)].append(name_a)
        wanted[id(model_b)].append(name_b)
    captures = {key: _Capture(models[key], names) for key, names in wanted.items()}
    stats = {pair: SufficientStats(conv=conv, precision=precision) for pair in pairs}
    modes = {key: model.training for key, model in models.items()}
    total = len(loader) if hasattr(loader, "__len__") else None
    start, samples = time.perf_counter(), 0
    try:
        for model in models.values():
            model.eval()
        with torch.no_grad():
            for done, batch in enumerate(loader, start=1):
                inputs = _inputs_of(batch).to(device)
                for model in models.values():
                    model(inputs)
                for name_a, name_b in pairs:
                    stats[name_a, name_b].update(
                        captures[id(model_a)].outputs[name_a], captures[id(model_b)].outputs[name_b]
                    )
                samples += inputs.shape[0]
                if progress:
                    _progress(done, total, samples, start)
    finally:
        if progress:
            sys.stderr.write("\n")
        for key, model in models.items():
            captures[key].remove()
            model.train(modes[key])
    return stats


def compare_layers(
    model_a: nn.Module,
    model_b: nn.Module | None,
    pairs: Sequence[tuple[str, str]],
    loader: Iterable,
    measures: Sequence[str] = ("cka_linear",),
    *,
    distributed: bool = False,
    **options,
) -> list[dict[str, Any]]:
    """Streamable measures for every layer pair, over all of ``loader``, in one pass.

    Args:
        model_a, model_b, pairs, loader: as in :func:`stream_layers`.
        measures: names from ``metrics.streaming.STREAMABLE`` (checked before any data is read).
        distributed: sum the statistics over the processes of the default group (each process reads
            its own shard, e.g. through a ``DistributedSampler``) before computing.
        **options: ``conv``, ``precision``, ``device``, ``progress`` of :func:`stream_layers`.

    Returns:
        Tidy records ``{"layer_a", "layer_b", "measure", "value", "n"}``, one per pair and measure
        (``pandas.DataFrame(records)`` makes the table).

    Raises:
        NotStreamableError: a measure needs all samples at once (cka_rbf, rsa, knn_jaccard...).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> data = [torch.randn(32, 4) for _ in range(4)]
        >>> rows = compare_layers(net, None, [("0", "2")], data, ["cka_linear", "procrustes"], progress=False)
        >>> [(row["measure"], row["n"]) for row in rows]
        [('cka_linear', 128), ('procrustes', 128)]
    """
    for name in measures:
        check_streamable(name)
    stats = stream_layers(model_a, model_b, pairs, loader, **options)
    if distributed:
        stats = {pair: all_reduce_stats(pair_stats) for pair, pair_stats in stats.items()}
    return [
        {"layer_a": a, "layer_b": b, "measure": name, "value": pair_stats.compute(name), "n": pair_stats.n}
        for (a, b), pair_stats in stats.items()
        for name in measures
    ]
