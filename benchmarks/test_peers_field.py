"""The field's own code for our measures, called alternately with ours: the value first, then the time.

Peers (each row records the peer's version: the package's, or the checkout's git commit, else a sha256 of
the file called):
- POT (a dependency): ``ot.emd2`` on ``ot.dist`` for ``soft_matching``;
- packages of the ``peers`` extra: dcor (``distance_correlation``), rsatoolbox (``calc_rdm`` + ``compare``
  for ``rsa``);
- local checkouts named by environment variables (their code is never copied here):
  ``STITCHBENCH_PEER_GULP`` (sgstepaniants/GULP: ``predictor_dist``, ``cca_decomp`` + ``pwcca_dist``,
  ``lin_cka_dist``), ``STITCHBENCH_PEER_RESI`` (mklabunde/resi: ``gulp``, ``magnitude_difference``,
  ``centered_kernel_alignment``, the kNN measures, the Procrustes family, ``aligned_cossim``,
  ``eigenspace_overlap_score``, the statistics, ``distance_correlation``, the correlation matches,
  ``representational_similarity_analysis``), ``STITCHBENCH_PEER_NETREP`` (ahwillia/netrep:
  ``LinearMetric``), ``STITCHBENCH_PEER_PLATONIC`` (minyoungg/platonic-rep: ``AlignmentMetrics.cknna``
  and ``mutual_knn``).
A peer whose package or checkout is missing, or does not import, is skipped with the reason;
``field_peers.md`` lists it under "absent". The field's functions that compute another number than ours
under every setting (:data:`NOT_COMPARED`, with the reason) are listed, not timed.

Values first: each peer is called on the raw X, Y with the preprocessing its function leaves to the
caller (centering, GULP's normalization ||A||_F = sqrt(n), netrep's inputs scaled to unit RMS singular
value), which is timed with it; where it returns another view of the number (a squared distance, 1 -
similarity) the conversion is stated in ``convention`` and applied; the values must agree to the stated
tolerance before anything is timed. Timing: one warm-up call each, then ours and the peer called
alternately in one process, numpy's BLAS and torch limited to one thread (threadpoolctl,
``torch.set_num_threads(1)``), the minimum over the rounds of each counted, in process CPU time (steadier
than wall time on a shared machine) and wall time; the ratio is peer / ours (above 1: ours is faster),
with the spread of the per-round ratios. Nothing fails for speed. Serial only (``SERIAL_ONLY``).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

import metrics
from pytest_stitchbench.selection import SPEED_SHAPES
from reports.peers import peers_table

#: Environment variable naming each local checkout, and the repository it holds.
CHECKOUTS = {
    "GULP": ("STITCHBENCH_PEER_GULP", "sgstepaniants/GULP"),
    "ReSi": ("STITCHBENCH_PEER_RESI", "mklabunde/resi"),
    "netrep": ("STITCHBENCH_PEER_NETREP", "ahwillia/netrep"),
    "platonic-rep": ("STITCHBENCH_PEER_PLATONIC", "minyoungg/platonic-rep"),
}
#: The field's code for our measures that computes another number under every setting: listed in the
#: report with the reason, never timed (a ratio between two different quantities would mean nothing).
NOT_COMPARED = {
    "ReSi svcca, pwcca": "Google's SVCCA/PWCCA code (directions kept by a fixed rule, PWCCA weighted by the "
    "narrower side): another number, see docs/conventions.md",
    "ReSi rsm_norm_diff": "the spectral norm of the RSM difference where the paper's Frobenius norm is meant",
    "ReSi second_order_cosine_similarity": "profiles of cosine distances where the paper compares similarities",
    "ReSi linear_reg": "its own R^2 (Y's orthonormal basis by sqrtm): another quantity than our ols_r2",
    "msid msid_score (imd)": "a stochastic estimate (unseeded Lanczos probes) times 1e6: at n = 1000 five seeds "
    "spread over about 15 %, so no value can be asserted equal to ours",
}
_rows: list[dict] = []
_absent: dict[str, str] = {}


def _source(peer: str) -> tuple[Path, str]:
    """The checkout's path (skips, recording why, when it is not named or not there) and its version."""
    variable, repository = CHECKOUTS[peer]
    where = os.environ.get(variable)
    if not where or not Path(where).is_dir():
        _absent[peer] = f"{repository}: set {variable} to a checkout" + (f" ({where} is not a folder)" if where else "")
        pytest.skip(_absent[peer])
    path = Path(where)
    commit = subprocess.run(["git", "-C", str(path), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return path, (f"{repository}@{commit.stdout.strip()}" if commit.returncode == 0 else f"{repository} (no git)")


def _module(peer: str, name: str):
    """Module ``name`` of a peer's checkout, and the peer's version (with the file's sha256 if no git)."""
    path, version = _source(peer)
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    try:
        module = importlib.import_module(name)
    except Exception as err:  # a checkout that does not import is absent, not a failure
        _absent[peer] = f"{CHECKOUTS[peer][1]}: import {name} failed ({type(err).__name__}: {err})"
        pytest.skip(_absent[peer])
    return module, _with_digest(version, module)


def _with_digest(version: str, module) -> str:
    """A checkout without git is named by the sha256 of the module's file."""
    if version.endswith("(no git)"):
        version += " sha256:" + hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:12]
    return version


def _module_file(peer: str, relative: str, name: str):
    """A peer checkout's module loaded from its file under another name (platonic-rep's ``metrics.py``
    would shadow ours); absent, with the reason, when it does not load."""
    path, version = _source(peer)
    spec = importlib.util.spec_from_file_location(name, path / relative)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # a checkout that does not import is absent, not a failure
        _absent[peer] = f"{CHECKOUTS[peer][1]}: loading {relative} failed ({type(err).__name__}: {err})"
        pytest.skip(_absent[peer])
    return module, _with_digest(version, module)


def _package(name: str, distribution: str):
    """An installed peer package and its version; absent (``pip install -e ".[peers]"``) when missing."""
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        _absent[distribution] = f"{distribution}: not installed ({err}); pip install -e \".[peers]\""
        pytest.skip(_absent[distribution])
    return module, f"{distribution} {importlib.metadata.version(distribution)}"


def _centered(a: np.ndarray) -> np.ndarray:
    return a - a.mean(axis=0)


def _gulp_normalized(a: np.ndarray) -> np.ndarray:
    """GULP's convention (its cifar_experiments/compute_dists.py): features x samples, centered, ||A||_F = sqrt(n)."""
    a = _centered(a).T
    return a * (math.sqrt(a.shape[1]) / np.linalg.norm(a))


def _unit_rms(a: np.ndarray) -> np.ndarray:
    """Xc / s_rms with s_rms = ||Xc||_F / sqrt(p): our shape metric's scaling for full-rank inputs (the
    benchmark's are)."""
    a = _centered(a)
    return a * (math.sqrt(a.shape[1]) / np.linalg.norm(a))


def gulp_predictor_dist(x, y):
    module, version = _module("GULP", "distance_functions")
    return (lambda: math.sqrt(max(module.predictor_dist(_gulp_normalized(x), _gulp_normalized(y)), 0.0))), version


def gulp_pwcca(x, y):
    module, version = _module("GULP", "distance_functions")

    def call():
        a, b = _centered(x).T, _centered(y).T
        _, rho, _, transformed_a, _ = module.cca_decomp(a, b)
        return 1.0 - module.pwcca_dist(a, rho, transformed_a)

    return call, version


def gulp_lin_cka(x, y):
    module, version = _module("GULP", "distance_functions")
    return (lambda: 1.0 - module.lin_cka_dist(_centered(x).T, _centered(y).T)), version


def resi_gulp(x, y):
    module, version = _module("ReSi", "repsim.measures.gulp")
    return (lambda: math.sqrt(max(module.gulp(x, y, shape="nd"), 0.0))), version


def resi_magnitude(x, y):
    module, version = _module("ReSi", "repsim.measures.statistics")
    return (lambda: module.magnitude_difference(x, y, shape="nd")), version


def netrep_linear_metric(x, y):
    module, version = _module("netrep", "netrep.metrics")
    return (lambda: module.LinearMetric(alpha=0.5, score_method="angular").fit_score(_unit_rms(x), _unit_rms(y))), version


def _resi(module_name: str, function: str, convert=float, **kwargs):
    """``make(x, y)`` for ReSi's ``function(x, y, shape="nd", **kwargs)`` on the raw inputs."""

    def make(x, y):
        module, version = _module("ReSi", f"repsim.measures.{module_name}")
        call = getattr(module, function)
        return (lambda: convert(call(x, y, shape="nd", **kwargs))), version

    return make


def dcor_distance_correlation(x, y):
    dcor, version = _package("dcor", "dcor")
    return (lambda: float(dcor.distance_correlation(x, y))), version


def rsatoolbox_rsa(x, y):
    _, version = _package("rsatoolbox", "rsatoolbox")
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    def call():
        rdms = [calc_rdm(Dataset(a), method="correlation") for a in (x, y)]
        return float(compare(*rdms, method="spearman")[0, 0])

    return call, version


def _platonic(method: str):
    """``make(x, y)`` for platonic-rep's ``AlignmentMetrics.<method>(A, B, topk=10)`` on L2-normalized rows
    (torch tensors), as its measure_alignment.py calls it. Its metrics.py imports torchaudio at the top for
    lcs_knn alone; where torchaudio is not installed a bare stand-in module is given (cknna and mutual_knn
    never touch it)."""

    def make(x, y):
        if "torchaudio" not in sys.modules and importlib.util.find_spec("torchaudio") is None:
            stand_in = type(sys)("torchaudio")
            stand_in.functional = type(sys)("torchaudio.functional")
            sys.modules.setdefault("torchaudio", stand_in)
            sys.modules.setdefault("torchaudio.functional", stand_in.functional)
        module, version = _module_file("platonic-rep", "metrics.py", "platonic_rep_metrics")
        call = getattr(module.AlignmentMetrics, method)

        def run():
            a, b = (torch.nn.functional.normalize(torch.from_numpy(v), dim=-1) for v in (x, y))
            return float(call(a, b, topk=10))

        if method != "cknna":
            return run, version
        # cknna returns HSIC(K, L) / (s + 1e-6) with s = sqrt(HSIC(K, K) HSIC(L, L)); each HSIC(K, K) follows
        # from its self-comparison v = h / (h + 1e-6), h = 1e-6 v / (1 - v) (untimed), and the timed value
        # is multiplied by (s + 1e-6) / s
        self_values = [_self_alignment(call, v) for v in (x, y)]
        s = math.sqrt(math.prod(1e-6 * v / (1 - v) for v in self_values))
        return (lambda: run() * (s + 1e-6) / s), version

    return make


def _self_alignment(call, a: np.ndarray) -> float:
    """platonic-rep's measure of a representation with itself, on L2-normalized rows."""
    t = torch.nn.functional.normalize(torch.from_numpy(a), dim=-1)
    return float(call(t, t, topk=10))




def pot_emd2(x, y):
    ot = pytest.importorskip("ot")

    def call():
        xc, yc = _centered(x), _centered(y)
        p1, p2 = xc.shape[1], yc.shape[1]
        cost = ot.dist(xc.T, yc.T)  # squared Euclidean distances between the units
        return math.sqrt(max(ot.emd2(np.full(p1, 1 / p1), np.full(p2, 1 / p2), cost, numItermax=10**8), 0.0))

    return call, f"POT {importlib.metadata.version('POT')}"


@dataclass(frozen=True)
class Peer:
    name: str
    measure: str
    make: Callable  # make(x, y) -> (call() -> value, version)
    tolerance: float  # relative agreement required before timing (why, in ``convention``)
    convention: str
    absolute: float = 0.0  # absolute agreement accepted besides (a difference of two nearly equal numbers)
    largest_n: int | None = None  # timed up to this many samples (a peer whose cost explodes beyond)
    linear: bool = True  # a linear-algebra measure (products and factorizations of p x p): timed at LINEAR_SHAPE


PEERS = [
    Peer("GULP predictor_dist", "gulp", gulp_predictor_dist, 1e-8, "returns the squared distance: sqrt taken"),
    Peer("ReSi gulp", "gulp", resi_gulp, 1e-8, "GULP's predictor_dist after ReSi's normalization: sqrt taken"),
    Peer("GULP cca_decomp + pwcca_dist", "pwcca", gulp_pwcca, 1e-8,
         "weights from the first argument, as ours; returns 1 - PWCCA"),
    Peer("GULP lin_cka_dist", "cka_linear", gulp_lin_cka, 1e-10, "on centered inputs; returns 1 - CKA"),
    Peer("netrep LinearMetric(0.5, angular)", "shape_metric", netrep_linear_metric, 1e-8,
         "inputs scaled to unit RMS singular value (our convention, Williams et al. whiten unscaled data)"),
    Peer("POT emd2(ot.dist)", "soft_matching", pot_emd2, 1e-8, "sqrt of the optimal transport cost", linear=False),
    Peer("ReSi magnitude_difference", "magnitude_difference", resi_magnitude, 1e-10, "same formula"),
    Peer("ReSi centered_kernel_alignment", "cka_linear", _resi("cka", "centered_kernel_alignment"), 1e-10,
         "same formula"),
    Peer("ReSi jaccard_similarity", "knn_jaccard", _resi("nearest_neighbor", "jaccard_similarity", k=10,
         inner="euclidean", n_jobs=1), 1e-12, "inner='euclidean' (ours by default; ReSi's default is cosine)",
         linear=False),
    Peer("ReSi rank_similarity", "rank_similarity", _resi("nearest_neighbor", "rank_similarity", k=10,
         inner="cosine", n_jobs=1), 1e-10, "ReSi's default neighbours (cosine), as ours", linear=False),
    Peer("ReSi eigenspace_overlap_score", "eigenspace_overlap", _resi("eigenspace_overlap",
         "eigenspace_overlap_score"), 1e-10, "raw inputs, as ours; its complete n x n SVD is timed up to n = 1000",
         largest_n=1000),
    Peer("ReSi uniformity_difference", "uniformity_difference", _resi("statistics", "uniformity_difference",
         n_jobs=1), 1e-10, "t = 2; a difference of two logs of size ~1, compared to 1e-12 absolute", absolute=1e-12,
         linear=False),
    Peer("ReSi concentricity_difference", "concentricity_difference", _resi("statistics",
         "concentricity_difference"), 1e-10, "same formula"),
    Peer("ReSi procrustes_size_and_shape_distance", "procrustes_size_shape", _resi("procrustes",
         "procrustes_size_and_shape_distance"), 1e-10, "same formula"),
    Peer("ReSi orthogonal_angular_shape_metric_centered", "procrustes_angular", _resi("procrustes",
         "orthogonal_angular_shape_metric_centered"), 1e-10, "same formula"),
    Peer("ReSi permutation_procrustes", "procrustes_permutation", _resi("procrustes", "permutation_procrustes"),
         1e-10, "uncentered, as ours"),
    Peer("ReSi aligned_cossim", "aligned_cosine", _resi("procrustes", "aligned_cossim"), 1e-10, "same formula"),
    Peer("ReSi distance_correlation", "distance_correlation", _resi("distance_correlation", "distance_correlation",
         n_jobs=1), 1e-10, "the biased estimator, as ours", linear=False),
    Peer("dcor distance_correlation", "distance_correlation", dcor_distance_correlation, 1e-10,
         "the biased estimator, as ours; its distances hold an n x n x p array (95 GiB at 5000 x 512), so it is "
         "timed up to n = 1000", largest_n=1000),
    Peer("ReSi hard_correlation_match", "correlation_match_hard", _resi("correlation_match",
         "hard_correlation_match"), 1e-10, "same formula"),
    Peer("ReSi soft_correlation_match", "correlation_match_soft", _resi("correlation_match",
         "soft_correlation_match"), 1e-10, "same formula"),
    Peer("ReSi representational_similarity_analysis", "rsa", _resi("rsa", "representational_similarity_analysis",
         n_jobs=1), 1e-10, "correlation distances, Spearman's rho (ReSi's defaults, ours)", linear=False),
    Peer("rsatoolbox calc_rdm + compare", "rsa", rsatoolbox_rsa, 1e-10,
         "calc_rdm(method='correlation'), compare(method='spearman'); timed up to n = 1000 (at n = 5000 its "
         "comparison of 12.5 million pairs holds the run for minutes)", largest_n=1000),
    Peer("platonic-rep AlignmentMetrics.cknna", "cknna", _platonic("cknna"), 1e-8,
         "k = 10 on L2-normalized rows; platonic-rep adds 1e-6 to the denominator (docs/conventions.md): its "
         "value times (s + 1e-6) / s, s from its self-comparisons; its unbiased HSIC multiplies n x n matrices "
         "(O(n^3)), so it is timed up to n = 1000", largest_n=1000),
    Peer("platonic-rep AlignmentMetrics.mutual_knn", "mutual_knn", _platonic("mutual_knn"), 1e-6,
         "k = 10 on L2-normalized rows (ours normalizes itself); the peer averages in float32", linear=False),
]


#: The largest shape, timed for the linear measures only (their cost grows like n p^2; the neighbour,
#: distance and transport measures grow like n^2 or p^3 and are compared at the smaller shapes).
LINEAR_SHAPE = (10000, 1024, 1024)
#: The shapes of this benchmark per profile (``pytest_stitchbench.selection`` reads them): the speed
#: benchmark's quick shapes, and with ``--profile full`` the linear measures at :data:`LINEAR_SHAPE` too.
SHAPES = {"quick": SPEED_SHAPES["quick"], "full": [*SPEED_SHAPES["quick"], LINEAR_SHAPE]}


def _rounds(shape) -> int:
    return 20 if shape[0] * shape[1] <= 1000 * 64 else 5 if shape[0] * shape[1] <= 5000 * 512 else 3


def interleaved(ours: Callable[[], float], peer: Callable[[], float], rounds: int) -> dict:
    """Ours and the peer called alternately ``rounds`` times after one warm-up call each: the fastest
    call of each (CPU time of the process and wall time), the ratio of their median CPU times, and the
    spread of the per-round CPU ratios."""
    ours(), peer()
    times = {"ours_s": [], "peer_s": [], "ours_wall_s": [], "peer_wall_s": []}
    for _ in range(rounds):
        for who, call in (("ours", ours), ("peer", peer)):
            cpu, wall = time.process_time(), time.perf_counter()
            call()
            times[f"{who}_s"].append(time.process_time() - cpu)
            times[f"{who}_wall_s"].append(time.perf_counter() - wall)
    ratios = np.array(times["peer_s"]) / np.maximum(np.array(times["ours_s"]), 1e-9)
    fastest = {key: min(values) for key, values in times.items()}
    medians = {f"{who}_median_s": float(np.median(times[f"{who}_s"])) for who in ("ours", "peer")}
    return {**fastest, **medians, "ratio": fastest["peer_s"] / max(fastest["ours_s"], 1e-9),
            "ratio_median": medians["peer_median_s"] / max(medians["ours_median_s"], 1e-9),
            "ratio_wall": fastest["peer_wall_s"] / max(fastest["ours_wall_s"], 1e-9),
            "ratio_low": float(ratios.min()), "ratio_high": float(ratios.max())}


@pytest.mark.parametrize("peer", PEERS, ids=[peer.name for peer in PEERS])
def test_peer(shape, pair, peer):
    x, y = pair
    if peer.largest_n is not None and shape[0] > peer.largest_n:
        pytest.skip(f"{peer.name} is timed up to n = {peer.largest_n}")
    if shape == LINEAR_SHAPE and not peer.linear:
        pytest.skip(f"{peer.measure} is not a linear-algebra measure: compared at the smaller shapes")
    measure = metrics.get(peer.measure)
    call, version = peer.make(x, y)
    ours_value, peer_value = measure(x, y), call()
    assert peer_value == pytest.approx(ours_value, rel=peer.tolerance, abs=peer.absolute), (
        f"{peer.name}: not our {peer.measure}"
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            timing = interleaved(lambda: measure(x, y), call, _rounds(shape))
    finally:
        torch.set_num_threads(threads)
    _rows.append(dict(shape=list(shape), measure=peer.measure, peer=peer.name, version=version,
                      value=ours_value, difference=peer_value - ours_value, convention=peer.convention,
                      rounds=_rounds(shape), **timing))


@pytest.fixture(scope="module", autouse=True)
def _write_field_report(benchmark_report):
    yield
    if _rows or _absent:
        run = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or
               platform.machine(), "cpus": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
               "threads": 1, "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
        data = {"run": run, "rows": _rows, "absent": _absent, "not_compared": NOT_COMPARED}
        benchmark_report("field_peers.json", json.dumps(data, indent=1, default=float) + "\n")
        benchmark_report("field_peers.md", peers_table(data))
