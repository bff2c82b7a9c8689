"""Published CKA packages against ours on the same inputs: time, value, and why the values differ.

Install the peers with the ``peers`` extra (ckatorch, torch-cka, cka-pytorch); each case is skipped when
its package is missing. The inputs are those of the speed benchmarks, at the same shapes (the quick
profile the two smaller, ``--profile full`` all three; minibatches of n / 10). Every row records, in
pytest-benchmark's ``extra_info`` and in ``peers.md`` under ``--report-dir``: the peer's value, the
stitchbench measure that computes the same estimator, the difference, and the reason for it; each shape's
table ends with the fastest peer against the slower of our two in-memory measures (the streaming route,
in n / 10 batches, is listed beside them). Where a peer computes our estimator exactly, the agreement is
asserted.

Estimators (RECIPES: "name the estimator"):
- biased linear CKA, HSIC = tr(HKH HLH) / (n-1)^2 (Kornblith et al. 2019): ours ``cka_linear``;
- unbiased HSIC of Song et al. 2012 on the full data: ours ``cka_linear_debiased`` (Kornblith's
  U-centering gives the same ratio);
- minibatch CKA (Nguyen, Raghu, Kornblith 2021): the per-batch unbiased HSIC *averaged over batches*,
  a different estimator from any full-data value (it tends to the debiased value only as batches grow):
  ours ``cka_linear_minibatch`` with the same ``batch_size`` (consecutive rows, as a DataLoader without
  shuffling gives them).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import metrics
from metrics.streaming import SufficientStats

_rows: list[dict] = []  # one per timed call, for peers.md
SMALL = 1000 * 64  # inputs of at most this many entries: 3 rounds, and the rescaled case
IN_MEMORY = ("stitchbench cka_linear", "stitchbench cka_linear_debiased")


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
def data(pair):
    """The speed benchmarks' X and Y as float64 tensors, and the minibatch size n / 10."""
    x, y = pair
    return torch.from_numpy(x), torch.from_numpy(y), x.shape[0] // 10


def _rounds(x: torch.Tensor) -> int:
    return 3 if x.numel() <= SMALL else 1


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


# (id, peer call, batch: "full" or "minibatch", input scale, our measure, tolerance if it must agree, reason).
# The rescaled case is about the value only and runs at the smallest shape.
CASES = [
    ("ckatorch.cka_base", ckatorch_biased, "full", 1.0, "cka_linear", 1e-10, "same estimator (biased HSIC)"),
    ("ckatorch.cka_base(unbiased)", ckatorch_unbiased, "full", 1.0, "cka_linear_debiased", 1e-10,
     "U-centering (Kornblith) = Song et al. unbiased HSIC"),
    ("ckatorch.cka_batch", ckatorch_minibatch, "minibatch", 1.0, "cka_linear_minibatch", 1e-10,
     "same estimator: mean of per-batch unbiased HSIC (Nguyen et al. 2021)"),
    ("torch_cka.CKA(one batch)", torch_cka, "full", 1.0, "cka_linear_debiased", 1e-5,
     "same estimator, float32 only (float64 input raises)"),
    ("torch_cka.CKA(minibatch)", torch_cka, "minibatch", 1.0, "cka_linear_minibatch", 1e-5,
     "same estimator, float32 only"),
    ("cka_pytorch(one batch)", cka_pytorch, "full", 1.0, "cka_linear_debiased", 1e-5,
     "same estimator; float32 accumulators; +1e-4 under the sqrt"),
    ("cka_pytorch(one batch, x0.01)", cka_pytorch, "full", 0.01, "cka_linear_debiased", None,
     "epsilon 1e-4 under the sqrt is not scale-free: small activations are pulled toward 0"),
    ("cka_pytorch(minibatch)", cka_pytorch, "minibatch", 1.0, "cka_linear_minibatch", None,
     "same estimator; float32 accumulators; +1e-4 under the sqrt"),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_peer(benchmark, shape, data, case):
    name, call, batching, scale, ours_name, tolerance, reason = case
    x, y, minibatch = data
    if scale != 1.0 and x.numel() > SMALL:
        pytest.skip("the rescaled case shows a value, at the smallest shape")
    x, y = scale * x, scale * y
    batch = x.shape[0] if batching == "full" else minibatch
    benchmark.group = "peers: n={}, p1={}, p2={}".format(*shape)
    value = benchmark.pedantic(call, args=(x, y, batch), rounds=_rounds(x), iterations=1)
    ours = metrics.get(ours_name)(x, y, **({"batch_size": batch} if batching == "minibatch" else {}))
    row = dict(peer=name, value=value, ours=ours_name, ours_value=ours, difference=value - ours, reason=reason,
               n=x.shape[0], p=x.shape[1], batch=batch)
    benchmark.extra_info.update(row)
    _keep(benchmark, shape, row)
    if tolerance is not None:
        assert value == pytest.approx(ours, rel=tolerance)


@pytest.mark.parametrize("route", ["cka_linear", "cka_linear_debiased", "cka_linear_debiased(float32)", "streaming"])
def test_ours(benchmark, shape, data, route):
    """Our timings on the same inputs (streaming: batches of the minibatch size, both CKA values;
    float32: the opt-in single-precision computation, for the float32 peers)."""
    x, y, minibatch = data

    def streamed():
        stats = SufficientStats()
        for start in range(0, x.shape[0], minibatch):
            stats.update(x[start : start + minibatch], y[start : start + minibatch])
        return stats.compute("cka_linear"), stats.compute("cka_linear_debiased")

    if route == "streaming":
        call = streamed
    elif route.endswith("(float32)"):
        call = lambda: metrics.get(route.removesuffix("(float32)"))(x, y, dtype="float32")  # noqa: E731
    else:
        call = lambda: metrics.get(route)(x, y)  # noqa: E731
    benchmark.group = "peers: n={}, p1={}, p2={}".format(*shape)
    value = benchmark.pedantic(call, rounds=_rounds(x), iterations=1)
    row = dict(peer=f"stitchbench {route}", value=value if route != "streaming" else value[1], reason="ours",
               n=x.shape[0], p=x.shape[1], batch=minibatch if route == "streaming" else x.shape[0])
    benchmark.extra_info.update(row)
    _keep(benchmark, shape, row)


def _keep(benchmark, shape, row: dict) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        _rows.append({**row, "shape": shape, "seconds": stats.stats.median})


def peer_table(rows: list[dict]) -> str:
    """Markdown: per shape, every implementation's median time and value; then the fastest peer against
    the slower of our two in-memory measures."""
    lines = []
    for shape in sorted({row["shape"] for row in rows}):
        here = sorted((row for row in rows if row["shape"] == shape), key=lambda row: row["seconds"])
        lines += [f"### n={shape[0]}, p1={shape[1]}, p2={shape[2]}", "",
                  "| implementation | batch | seconds | value | ours (same estimator) | difference | why |",
                  "|---|---|---|---|---|---|---|"]
        for row in here:
            ours = f"{row['ours']} {row['ours_value']:.6f}" if "ours_value" in row else "-"
            difference = f"{row['difference']:.2e}" if "difference" in row else "-"
            lines.append(f"| {row['peer']} | {row['batch']} | {row['seconds']:.4f} | {row['value']:.6f} | {ours} "
                         f"| {difference} | {row['reason']} |")
        peers = [row for row in here if not row["peer"].startswith("stitchbench")]
        ours = [row for row in here if row["peer"] in IN_MEMORY]
        if peers and ours:
            fastest, slowest = peers[0], ours[-1]
            lines += ["", f"Fastest peer: {fastest['peer']}, {fastest['seconds']:.4f} s. Our slower in-memory measure: "
                      f"{slowest['peer']}, {slowest['seconds']:.4f} s, {fastest['seconds'] / slowest['seconds']:.1f}x "
                      "as fast."]
        lines.append("")
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def _write_peer_report(benchmark_report):
    yield
    if _rows:
        benchmark_report("peers.md", "# Published CKA implementations against ours (median seconds)\n\n"
                         + peer_table(_rows))


def test_torch_cka_fails_on_float64(data):
    module = pytest.importorskip("torch_cka")
    x, y, _ = data
    model = _Halves(x.shape[1])
    cka = module.CKA(model, model, "X", "Y", model1_layers=["left"], model2_layers=["right"])
    with pytest.raises(RuntimeError, match="dtype|Double|Float"):
        cka.compare(_loader(x, y, x.shape[0]))
