"""Pruning methods; each returns a record with the sparsity and the accuracy before and after retraining.

- One-shot magnitude pruning, global or layer-wise (Han et al. 2015), then fine-tuning.
- Iterative magnitude pruning with learning-rate rewinding (Renda et al. 2020, open_lth defaults):
  each round prunes 20 % of the *remaining* weights with one global magnitude threshold over conv and
  linear weights (the classifier excluded), then retrains with the original schedule and a fresh
  optimizer; masks are re-applied after every optimizer step. Sparsity after k rounds: 1 - 0.8^k.
- Optimal Brain Damage (LeCun, Denker & Solla 1990): saliency 1/2 H_kk w_k^2 with the Hessian diagonal
  estimated by the empirical Fisher (mean squared per-sample gradient, ``torch.func.vmap(grad)``) or by
  Hutchinson probes (mean of z * Hz, Rademacher z).
- Structured L1 filter pruning (Li et al. 2017): the filters (units) with the smallest L1 norm are
  removed for real: the producing layer, its BatchNorm and the consuming layer's inputs are sliced.
- CKA-guided block removal (Pons et al. 2024): remove the identity-shortcut residual block whose removal
  keeps the penultimate representation most similar (linear CKA) to the unpruned network's, fine-tune,
  repeat.
- Layer removal (the seed study's toy experiment): remove named stages at once (VGG stages that keep
  the shape, residual blocks with an identity shortcut; ``models.remove_stages``), then fine-tune.

Every method runs inside :func:`determinism.deterministic` (one thread, deterministic algorithms), its
scoring as well as its retraining, so that a pruned model is the same bit for bit whatever the thread
count.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

import metrics
from scenarios.networks.activations import penultimate
from scenarios.networks.data import Dataset
from scenarios.networks.determinism import deterministic
from scenarios.networks.models import HEAD, remove_stages
from scenarios.networks.train import Schedule, accuracy, apply_masks, train

__all__ = [
    "prunable_weights", "sparsity", "masks_of", "select_masks", "magnitude_scores", "obd_scores",
    "one_shot", "imp_round", "structured_l1", "cka_block_removal", "layer_removal", "parameter_count",
]


def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """Weights of every conv and linear layer except the classifier head: name -> parameter."""
    return {
        f"{name}.weight": module.weight
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and not name.startswith(HEAD)
    }


def sparsity(model: nn.Module) -> float:
    """Fraction of the prunable weights that are exactly zero."""
    weights = prunable_weights(model).values()
    return float(sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def masks_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """The current masks: 1 where a prunable weight is nonzero."""
    return {name: (w.detach() != 0).float() for name, w in prunable_weights(model).items()}


def select_masks(scores: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], amount: float,
                 scope: str = "global") -> dict[str, torch.Tensor]:
    """New masks that also prune ``amount`` of the still-unpruned weights, lowest score first.

    ``scope="global"``: one threshold over all layers; ``"layer"``: ``amount`` of every layer.
    """
    if not 0 <= amount < 1:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    groups = [list(scores)] if scope == "global" else [[name] for name in scores]
    new = {}
    for names in groups:
        alive = torch.cat([scores[n][masks[n].bool()].flatten().double() for n in names])
        k = int(round(amount * alive.numel()))
        # rank the surviving weights and keep exactly the top (alive - k), ties broken by position
        order = torch.argsort(alive, stable=True)
        keep_alive = torch.ones_like(alive, dtype=torch.bool)
        keep_alive[order[:k]] = False
        offset = 0
        for n in names:
            mask = masks[n].clone()
            idx = mask.bool()
            count = int(idx.sum())
            mask[idx] = keep_alive[offset:offset + count].to(mask.dtype)
            new[n] = mask
            offset += count
    return new


def magnitude_scores(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: w.detach().abs() for name, w in prunable_weights(model).items()}


def _hessian_diagonal_fisher(model, data, device, n_samples, batch_size=128):
    """Empirical Fisher: mean over samples of squared per-sample gradients (eval mode)."""
    model.to(device).eval()
    names = list(prunable_weights(model))
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def sample_loss(weights, x, y):
        out = functional_call(model, ({**params, **weights}, buffers), (x[None],))
        return F.cross_entropy(out, y[None])

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    weights = {n: params[n] for n in names}
    total = {n: torch.zeros_like(w) for n, w in weights.items()}
    x, y = data.x_train[:n_samples], data.y_train[:n_samples]
    for i in range(0, len(x), batch_size):
        grads = per_sample(weights, x[i:i + batch_size].to(device), y[i:i + batch_size].to(device))
        for n in names:
            total[n] += grads[n].pow(2).sum(0)
    return {n: t / len(x) for n, t in total.items()}


def _hessian_diagonal_hutchinson(model, data, device, n_samples, probes=32, seed=0):
    """Hutchinson: mean over Rademacher probes z of z * (H z), H the Hessian of the mean loss."""
    model.to(device).eval()
    weights = prunable_weights(model)
    x, y = data.x_train[:n_samples].to(device), data.y_train[:n_samples].to(device)
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(weights.values()), create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    total = [torch.zeros_like(w) for w in weights.values()]
    for _ in range(probes):
        zs = [(torch.randint(0, 2, w.shape, generator=generator) * 2 - 1).to(w) for w in weights.values()]
        hz = torch.autograd.grad(grads, list(weights.values()), grad_outputs=zs, retain_graph=True)
        for t, z, h in zip(total, zs, hz):
            t += z * h
    return {n: t.detach() / probes for n, t in zip(weights, total)}


def obd_scores(model: nn.Module, data: Dataset, device: str, hessian: str = "fisher",
               n_samples: int = 512) -> dict[str, torch.Tensor]:
    """OBD saliency 1/2 H_kk w_k^2 (LeCun et al. 1990); ``hessian`` is ``fisher`` or ``hutchinson``."""
    estimators = {"fisher": _hessian_diagonal_fisher, "hutchinson": _hessian_diagonal_hutchinson}
    if hessian not in estimators:
        raise ValueError(f"hessian must be one of {sorted(estimators)}, got {hessian!r}")
    diagonal = estimators[hessian](model, data, device, n_samples)
    weights = prunable_weights(model)
    return {n: (0.5 * diagonal[n] * weights[n].detach() ** 2).cpu() for n in weights}


def _retrain_record(model, data, schedule, seed, device, masks, method, before, label, **extra) -> dict:
    """Accuracy after pruning, retrain, accuracy after; the record every method returns."""
    pruned_accuracy = accuracy(model, data.x_test, data.y_test, device)
    result = train(model, data, schedule, seed, masks=masks, device=device, label=label)
    return {"method": method, "sparsity": sparsity(model), "accuracy_dense": before,
            "accuracy_before_retraining": pruned_accuracy,
            "accuracy_after_retraining": result["test_accuracy"], **extra}


@deterministic()
def one_shot(model: nn.Module, data: Dataset, schedule: Schedule, seed: int, amount: float, *,
             scores: str = "magnitude", scope: str = "global", hessian: str = "fisher",
             device: str = "cpu") -> dict:
    """Prune ``amount`` of the weights at once by magnitude or OBD saliency, then fine-tune with
    ``schedule`` (masks kept). Returns the record."""
    before = accuracy(model, data.x_test, data.y_test, device)
    if scores == "magnitude":
        score = magnitude_scores(model)
    elif scores == "obd":
        score = obd_scores(model, data, device, hessian)
    else:
        raise ValueError(f"scores must be 'magnitude' or 'obd', got {scores!r}")
    masks = select_masks(score, masks_of(model), amount, scope)
    apply_masks(model, masks)
    return _retrain_record(model, data, schedule, seed, device, masks, f"{scores}_{scope}", before,
                           f"prune {scores} {scope} {amount:.2f}", amount=amount,
                           **({"hessian": hessian} if scores == "obd" else {}))


@deterministic()
def imp_round(model: nn.Module, data: Dataset, schedule: Schedule, seed: int, *, amount: float = 0.2,
              device: str = "cpu") -> dict:
    """One round of IMP with learning-rate rewinding: prune ``amount`` of the remaining weights by one
    global magnitude threshold, retrain with the full original ``schedule`` and a fresh optimizer."""
    before = accuracy(model, data.x_test, data.y_test, device)
    masks = select_masks(magnitude_scores(model), masks_of(model), amount, "global")
    apply_masks(model, masks)
    return _retrain_record(model, data, schedule, seed, device, masks, "imp", before,
                           f"imp round to {sparsity(model):.3f}")


def _slice(module: nn.Module, keep: torch.Tensor, dim: int) -> None:
    """Keep entries ``keep`` of ``module``'s weight along ``dim`` (0: outputs, 1: inputs), in place."""
    with torch.no_grad():
        module.weight = nn.Parameter(module.weight.index_select(dim, keep).clone())
        if dim == 0 and getattr(module, "bias", None) is not None:
            module.bias = nn.Parameter(module.bias[keep].clone())
    size = len(keep)
    if isinstance(module, nn.Conv2d):
        setattr(module, "out_channels" if dim == 0 else "in_channels", size)
    else:
        setattr(module, "out_features" if dim == 0 else "in_features", size)


def _slice_batch_norm(bn: nn.BatchNorm2d, keep: torch.Tensor) -> None:
    with torch.no_grad():
        bn.weight = nn.Parameter(bn.weight[keep].clone())
        bn.bias = nn.Parameter(bn.bias[keep].clone())
    bn.running_mean = bn.running_mean[keep].clone()
    bn.running_var = bn.running_var[keep].clone()
    bn.num_features = len(keep)


@deterministic()
def structured_l1(model: nn.Module, data: Dataset, schedule: Schedule, seed: int, fraction: float, *,
                  device: str = "cpu") -> dict:
    """Remove ``fraction`` of the filters (units) of every prunable group, smallest L1 norm first (Li et
    al. 2017), slicing the producer, its BatchNorm and the consumer's inputs; then fine-tune."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    before = accuracy(model, data.x_test, data.y_test, device)
    dense_count = parameter_count(model)
    model.cpu()
    for producer, bn, consumer in model.channel_groups():
        norms = producer.weight.detach().abs().flatten(1).sum(1)
        n_keep = max(1, len(norms) - int(round(fraction * len(norms))))
        keep = torch.sort(torch.topk(norms, n_keep).indices).values
        _slice(producer, keep, 0)
        if bn is not None:
            _slice_batch_norm(bn, keep)
        _slice(consumer, keep, 1)
    model.to(device)
    record = _retrain_record(model, data, schedule, seed, device, None, "structured_l1", before,
                             f"structured l1 {fraction:.2f}", filters_removed=fraction)
    return {**record, "sparsity": 1 - parameter_count(model) / dense_count}


@deterministic()
def cka_block_removal(model: nn.Module, data: Dataset, schedule: Schedule, seed: int, n_blocks: int, *,
                      device: str = "cpu", n_samples: int = 2048) -> dict:
    """Remove ``n_blocks`` residual blocks one at a time (Pons et al. 2024).

    Each step scores every identity-shortcut block by 1 - CKA(R, penultimate features with that block
    replaced by the identity, no fine-tuning), R the unpruned network's penultimate features on (up to
    ``n_samples``) training images; removes the lowest-scoring block and fine-tunes with ``schedule``.
    """
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
    cka = metrics.get("cka_linear")
    x = data.x_train[:n_samples]
    reference = penultimate(model, x, device)
    before = accuracy(model, data.x_test, data.y_test, device)
    dense_count = parameter_count(model)
    removed, scores, before_retraining = [], [], []
    for step in range(n_blocks):
        candidates = model.removable_blocks()
        if not candidates:
            raise ValueError(f"no removable block left after removing {removed}")
        step_scores = {}
        for name in candidates:
            block = getattr(model, name)
            setattr(model, name, nn.Identity())
            step_scores[name] = 1 - cka(reference, penultimate(model, x, device))
            setattr(model, name, block)
        best = min(step_scores, key=step_scores.get)
        remove_stages(model, [best])
        removed.append(best)
        scores.append(step_scores)
        before_retraining.append(accuracy(model, data.x_test, data.y_test, device))
        result = train(model, data, schedule, seed + step, device=device, label=f"cka removal {best}")
    return {"method": "cka_block", "sparsity": 1 - parameter_count(model) / dense_count,
            "accuracy_dense": before, "accuracy_before_retraining": before_retraining[-1],
            "accuracy_after_retraining": result["test_accuracy"], "removed": removed, "scores": scores}


@deterministic()
def layer_removal(model: nn.Module, data: Dataset, schedule: Schedule, seed: int, names, *,
                  device: str = "cpu") -> dict:
    """Remove the stages ``names`` at once (``models.remove_stages``: VGG stages that keep the shape,
    residual blocks with an identity shortcut; ValueError naming a stage that cannot go), then fine-tune
    with ``schedule``. ``sparsity`` is the fraction of the parameters removed."""
    names = list(names)
    if not names:
        raise ValueError("layer_removal needs at least one stage to remove")
    before = accuracy(model, data.x_test, data.y_test, device)
    dense_count = parameter_count(model)
    remove_stages(model, names)
    record = _retrain_record(model, data, schedule, seed, device, None, "layer_removal", before,
                             f"layer removal {','.join(names)}", removed=names)
    return {**record, "sparsity": 1 - parameter_count(model) / dense_count}
