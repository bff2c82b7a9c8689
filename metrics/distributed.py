"""Sum streaming statistics across processes with ``torch.distributed`` (gloo on CPU, NCCL on GPUs).

Every process accumulates :class:`metrics.streaming.SufficientStats` over its shard; ``all_reduce_stats``
gives each of them the statistics of all shards together. Moments about different means cannot be
summed directly, so the reduction takes three collectives:

1. ``all_gather`` of (n_r, p1, p2): the counts, and a width check that every process sees (so a bad
   width raises on all ranks instead of hanging the others);
2. ``all_reduce`` of n_r m_r: the pooled mean m = sum_r n_r m_r / n;
3. each rank moves its moments about m (the shift of Chan, Golub, LeVeque 1979, see
   :mod:`metrics._stats`), then one ``all_reduce`` sums them: about a common point, moments add.

A rank without samples takes part with zeros. Usage, launched with ``torchrun --nproc-per-node 4``::

    torch.distributed.init_process_group("nccl")
    stats = SufficientStats()
    for x, y in my_shard:                      # e.g. a DataLoader with a DistributedSampler
        stats.update(x.cuda(), y.cuda())
    total = all_reduce_stats(stats)            # identical on every rank
    if torch.distributed.get_rank() == 0:
        print(total.compute("cka_linear"))
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.distributed as dist

from metrics._stats import about, flatten, unflatten, zeros
from metrics.streaming import SufficientStats

__all__ = ["all_reduce_stats"]


def _default_device(group) -> torch.device:
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_stats(stats: SufficientStats, group=None, device: torch.device | None = None) -> SufficientStats:
    """The statistics of all processes' samples, returned on every process (the input is unchanged).

    A collective: every process of ``group`` must call it, in the same order for every pair of layers.

    Args:
        stats: this process's statistics (may hold no samples).
        group: the process group (default: the world).
        device: where a process without samples creates its zeros (default: the current CUDA device
            for NCCL, else the CPU); processes with samples use their statistics' device.

    Returns:
        New :class:`SufficientStats` with the pooled moments and ``stats``' conv and precision.

    Raises:
        ValueError: no process has samples, or the processes disagree on the feature widths.

    Example::

        total = all_reduce_stats(local_stats)  # in every process of an initialized group
        value = total.compute("cka_linear")
    """
    local = stats.moments
    device = local.mean_x.device if local is not None else (device or _default_device(group))
    widths = stats.widths if local is not None else (0, 0)
    sizes = torch.tensor([stats.n, *widths], dtype=torch.float64, device=device)
    gathered = [torch.empty_like(sizes) for _ in range(dist.get_world_size(group))]
    dist.all_gather(gathered, sizes, group=group)
    counts_and_widths = torch.stack(gathered).cpu().long().tolist()
    seen = {(p1, p2) for n, p1, p2 in counts_and_widths if n > 0}
    if not seen:
        raise ValueError("all_reduce_stats: no process has accumulated any sample")
    if len(seen) > 1:
        raise ValueError(f"all_reduce_stats: the processes disagree on the widths (p1, p2): {sorted(seen)}")
    (p1, p2), total = seen.pop(), float(sum(n for n, _, _ in counts_and_widths))
    if local is None:
        local = zeros(p1, p2, device)
    weighted_means = torch.cat([local.count * local.mean_x, local.count * local.mean_y])
    dist.all_reduce(weighted_means, group=group)
    pooled_x, pooled_y = (weighted_means / total).split([p1, p2])
    moved = about(local, local.mean_x - pooled_x, local.mean_y - pooled_y)
    flat = flatten(moved)
    dist.all_reduce(flat, group=group)
    pooled = replace(unflatten(flat, moved), count=total, mean_x=pooled_x, mean_y=pooled_y)
    return SufficientStats.from_moments(pooled, conv=stats.conv, precision=stats.precision)
