"""Published CKA packages against ours on the same inputs: time, value, and why the values differ.

Install the peers with the ``peers`` extra (ckatorch, torch-cka, cka-pytorch); each case is skipped when
its package is missing. Every row records, in pytest-benchmark's ``extra_info``: the peer's value, the
stitchbench measure that computes the same estimator, the absolute difference, and the reason for it.
Where a peer computes our estimator exactly, the agreement is asserted.

Estimators (RECIPES: "name the estimator"):
- biased linear CKA, HSIC = tr(HKH HLH) / (n-1)^2 (Kornblith et al. 2019): ours ``cka_linear``;
- unbiased HSIC of Song et al. 2012 on the full data: ours ``cka_linear_debiased`` (Kornblith's
  U-centering gives the same ratio);
- minibatch CKA (Nguyen, Raghu, Kornblith 2021): the per-batch unbiased HSIC *averaged over batches*,
  a different estimator from any full-data value; it tends to the debiased value only as batches grow.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import metrics
from metrics.streaming import SufficientStats

SIZES = {"quick": (400, 16, 100), "full": (4_000, 256, 500)}  # n, p, minibatch size


class _Columns(nn.Module):
    def __init__(self, start: int, stop: int | None):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, self.start : self.stop]


class _Halves(nn.Module):
    """A parameter-free "model" whose layers ``left`` and ``right`` output X and Y of the input [X, Y]."""

    def __init__(self, p1: int):
        super().__init__()
        self.left, self.right = _Columns(0, p1), _Columns(p1, None)

    def forward(self, z: torch.Tensor):
        return self.left(z), self.right(z)


@pytest.fixture(scope="module")
def data(request):
    n, p, minibatch = SIZES[request.config.getoption("--profile")]
    generator = torch.Generator().manual_seed(0)

    def normal(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    z = normal(n, 8)
    return z @ normal(8, p) + normal(n, p), z @ normal(8, p) + 2 * normal(n, p), minibatch


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int) -> DataLoader:
    joined = torch.cat([x, y], dim=1)
    return DataLoader(TensorDataset(joined, torch.zeros(len(joined))), batch_size=batch)


def ckatorch_biased(x, y, batch):
    return float(pytest.importorskip("ckatorch").cka_base(x, y, kernel="linear", unbiased=False))


def ckatorch_unbiased(x, y, batch):
    return float(pytest.importorskip("ckatorch").cka_base(x, y, kernel="linear", unbiased=True))


def ckatorch_minibatch(x, y, batch):
    k = x.shape[0] // batch
    x, y = x[: k * batch].reshape(k, batch, -1), y[: k * batch].reshape(k, batch, -1)
    return float(pytest.importorskip("ckatorch").cka_batch(x, y))


def torch_cka(x, y, batch):
    """torch-cka's CKA.compare: float32 only (its ones vector is float32), minibatch HSIC averaged."""
    module = pytest.importorskip("torch_cka")
    model = _Halves(x.shape[1])
    cka = module.CKA(model, model, "X", "Y", model1_layers=["left"], model2_layers=["right"])
    cka.compare(_loader(x.float(), y.float(), batch))
    return float(cka.export()["CKA"][0, 0])


def cka_pytorch(x, y, batch, epsilon=1e-4):
    """cka-pytorch's CKACalculator: minibatch HSIC in float32 accumulators, sqrt(. + epsilon) below."""
    module = pytest.importorskip("cka_pytorch.cka")
    model = _Halves(x.shape[1])
    calculator = module.CKACalculator(
        model, model, ["left"], ["right"], device=torch.device("cpu"), verbose=False, hook_recursive=False
    )
    return float(calculator.calculate_cka_matrix(_loader(x, y, batch), num_epochs=1, epsilon=epsilon)[0, 0])


# (id, peer call, batch: "full" or "minibatch", input scale, our measure, tolerance if it must agree, reason)
CASES = [
    ("ckatorch.cka_base", ckatorch_biased, "full", 1.0, "cka_linear", 1e-10, "same estimator (biased HSIC)"),
    ("ckatorch.cka_base(unbiased)", ckatorch_unbiased, "full", 1.0, "cka_linear_debiased", 1e-10,
     "U-centering (Kornblith) = Song et al. unbiased HSIC"),
    ("ckatorch.cka_batch", ckatorch_minibatch, "minibatch", 1.0, "cka_linear_debiased", None,
     "minibatch estimator: mean of per-batch unbiased HSIC (Nguyen et al. 2021)"),
    ("torch_cka.CKA(one batch)", torch_cka, "full", 1.0, "cka_linear_debiased", 1e-5,
     "same estimator, float32 only (float64 input raises)"),
    ("torch_cka.CKA(minibatch)", torch_cka, "minibatch", 1.0, "cka_linear_debiased", None,
     "minibatch estimator, float32"),
    ("cka_pytorch(one batch)", cka_pytorch, "full", 1.0, "cka_linear_debiased", 1e-5,
     "same estimator; float32 accumulators; +1e-4 under the sqrt"),
    ("cka_pytorch(one batch, x0.01)", cka_pytorch, "full", 0.01, "cka_linear_debiased", None,
     "epsilon 1e-4 under the sqrt is not scale-free: small activations are pulled toward 0"),
    ("cka_pytorch(minibatch)", cka_pytorch, "minibatch", 1.0, "cka_linear_debiased", None,
     "minibatch estimator; float32 accumulators; epsilon"),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_peer(benchmark, data, case):
    name, call, batching, scale, ours_name, tolerance, reason = case
    x, y, minibatch = data
    x, y = scale * x, scale * y
    batch = x.shape[0] if batching == "full" else minibatch
    value = benchmark.pedantic(call, args=(x, y, batch), rounds=3, iterations=1)
    ours = metrics.get(ours_name)(x, y)
    benchmark.extra_info.update(
        peer=name, value=value, ours=ours_name, ours_value=ours, difference=value - ours, reason=reason,
        n=x.shape[0], p=x.shape[1], batch=batch,
    )
    if tolerance is not None:
        assert value == pytest.approx(ours, rel=tolerance)


@pytest.mark.parametrize("route", ["cka_linear", "cka_linear_debiased", "streaming"])
def test_ours(benchmark, data, route):
    """Our timings on the same inputs (streaming: batches of the minibatch size, both CKA values)."""
    x, y, minibatch = data

    def streamed():
        stats = SufficientStats()
        for start in range(0, x.shape[0], minibatch):
            stats.update(x[start : start + minibatch], y[start : start + minibatch])
        return stats.compute("cka_linear"), stats.compute("cka_linear_debiased")

    call = streamed if route == "streaming" else (lambda: metrics.get(route)(x, y))
    value = benchmark.pedantic(call, rounds=3, iterations=1)
    benchmark.extra_info.update(peer=f"stitchbench {route}", value=value, n=x.shape[0], p=x.shape[1])


def test_torch_cka_fails_on_float64(data):
    module = pytest.importorskip("torch_cka")
    x, y, _ = data
    model = _Halves(x.shape[1])
    cka = module.CKA(model, model, "X", "Y", model1_layers=["left"], model2_layers=["right"])
    with pytest.raises(RuntimeError, match="dtype|Double|Float"):
        cka.compare(_loader(x, y, x.shape[0]))
