"""The run's measures held against ReSi's published vision ranking (Klabunde et al., ICLR 2025).

ReSi ranks each measure on each of its six tests, per dataset and architecture, and shows the
distribution of those ranks. This module does the same over the run's networks scenarios of ReSi's
tests and compares the result with ReSi's published order:

- **cells**: one per (test, architecture) of the run, a test being a scenario of ReSi's tests
  (``resi_vision_ranking.json``'s ``tests``: the scenario name without ``networks_`` and without a
  ``_<arch>`` suffix, the architecture read from the rows' meta ``arch``). On each cell every measure
  has one statistic per model seed (seed pair) from :func:`reports.verdicts.seed_statistics` (the AUPRC
  of the group tests, the violation rate of layer monotonicity, the Spearman correlation with the
  accuracy difference or the agreement), whose mean over the seeds is the verdict's estimate;
- **ranks**: per cell, the measures ranked by that mean (1 = best; higher AUPRC and Spearman are better,
  a lower violation rate is; ties share the mean rank); per measure the **median rank** over the cells,
  with its interquartile range and its minimum and maximum;
- **premises**: a cell whose premise did not hold (the verdicts' ``premise`` neither ``pass`` nor ``""``:
  the functional reference itself did not separate the groups, fall with layer distance or vary) is
  left out of the main ranking, as the scorecard sets such verdicts aside; ReSi ranks a measure on
  every cell regardless, so the comparison is also given over all cells (``all_cells``);
- **Kendall's tau** (tau-b, ``scipy.stats.kendalltau``: ties in the median ranks are common) between the
  median ranks over the measures both suites have (ranked among those measures only, as ReSi ranks its
  own) and ReSi's published positions, with a percentile **bootstrap interval over model seeds**: each
  cell's seeds are drawn again with replacement (all measures of a cell share the draw), and each
  cell's means, the ranks, the median ranks and tau are computed again. Seeded: the same seed gives the
  same interval.

ReSi's order is data with a cited source, read by :func:`read_published`; nothing here types a number
of a run.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, rankdata

from reports.figures import Figure, plt, save
from reports.ranking import ranked_verdicts
from reports.scales import MeasureScale
from reports.scenario_values import scenario_values
from reports.scorecard import markdown_table
from reports.verdicts import expectation_labels, seed_statistics
from runner.atomic import write_text

__all__ = ["CAVEATS", "PUBLISHED", "Comparison", "Published", "compare_with_published", "comparison_markdown",
           "comparison_figure", "comparison_of", "comparison_summary", "median_ranks", "read_published",
           "seed_table", "write_comparison"]

#: ReSi's published vision ranking with its source and the mapping of its names to ours
PUBLISHED = Path(__file__).with_name("resi_vision_ranking.json")
#: the verdicts' premise outcomes under which a cell counts (as the scorecard counts verdicts)
_HELD = ("pass", "")


@dataclass(frozen=True)
class Published:
    """ReSi's published ranking: ``positions`` maps our measure name -> ReSi's position (1 = best) for every
    ReSi measure that one of ours implements; ``names`` ours -> ReSi's abbreviation; ``unmapped`` ReSi's
    measures without one of ours; ``tests`` our test name -> ReSi's test; ``source`` where it came from."""

    positions: Mapping[str, int]
    names: Mapping[str, str]
    unmapped: tuple[str, ...]
    tests: Mapping[str, str]
    source: Mapping[str, str]
    notes: Mapping[str, str] = field(default_factory=dict)


def read_published(path: str | Path = PUBLISHED) -> Published:
    """Read a published ranking file (``resi_vision_ranking.json``'s shape).

    Raises:
        ValueError: the file cannot be read or lacks a part; one line naming the file and what is wrong.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        measures, tests, source = document["measures"], document["tests"], document["source"]
        rows = [(int(m["position"]), str(m["resi"]), m["ours"], str(m.get("note", ""))) for m in measures]
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err.strerror or err})") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a published ranking (measures with position, resi, ours; tests; source): "
                         f"{type(err).__name__} {err}") from None
    positions = sorted(position for position, *_ in rows)
    if positions != list(range(1, len(rows) + 1)):
        raise ValueError(f"{path}: the positions must be 1..{len(rows)} once each, got {positions}")
    mapped = [ours for _, _, ours, _ in rows if ours]
    if len(set(mapped)) != len(mapped):
        twice = sorted({m for m in mapped if mapped.count(m) > 1})
        raise ValueError(f"{path}: a measure of ours is mapped twice: {twice}")
    return Published(
        positions={ours: position for position, _, ours, _ in rows if ours},
        names={ours: resi for _, resi, ours, _ in rows if ours},
        unmapped=tuple(resi for _, resi, ours, _ in rows if not ours),
        tests=dict(tests), source=dict(source),
        notes={ours: note for _, _, ours, note in rows if ours},
    )  # fmt: skip


def _cell_names(results: pd.DataFrame, tests: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Scenario -> (test, architecture) for the scenarios of ``tests``: the scenario name without
    ``networks_`` and without ``_<arch>``, ``arch`` from the rows' meta."""
    cells = {}
    for scenario, rows in results.groupby("scenario", sort=True):
        archs = {meta.get("arch") for meta in rows["meta"] if isinstance(meta, dict)} - {None}
        arch = str(next(iter(archs))) if len(archs) == 1 else "?"
        test = str(scenario).removeprefix("networks_").removesuffix(f"_{arch}")
        if test in tests:
            cells[scenario] = (test, arch)
    return cells


def seed_table(results: pd.DataFrame, verdicts: pd.DataFrame, expectations: Mapping[str, Sequence],
               scales: Mapping[str, MeasureScale], tests: Mapping[str, str]) -> pd.DataFrame:  # fmt: skip
    """One row per (measure, cell, seed) of ReSi's ``tests`` in the run: ``metric``, ``scenario``,
    ``test``, ``arch``, ``seed``, ``statistic`` (:func:`reports.verdicts.seed_statistics`), ``direction``
    (+1 higher is better), ``premise`` (the verdict's premise outcome). A measure whose statistic cannot
    be had on a cell (it failed there) has no rows there."""
    columns = ["metric", "scenario", "test", "arch", "seed", "statistic", "direction", "premise"]
    cells = _cell_names(results, tests)
    rows = ranked_verdicts(verdicts)
    rows = rows[rows["scenario"].isin(list(cells))]
    usable = results[results["error"] == ""]
    context = {metric: values["value"].to_numpy(float) for metric, values in usable.groupby("metric")}
    grouped = results[results["scenario"].isin(list(cells))].groupby(["metric", "scenario"])
    records = []
    for row in rows.itertuples(index=False):
        specs = expectations.get(row.scenario, ())
        expectation = dict(zip(expectation_labels(specs), specs)).get(row.expectation)
        if expectation is None or (row.metric, row.scenario) not in grouped.groups or row.metric not in scales:
            continue
        judged = dataclasses.replace(expectation, kind=row.became) if row.became else expectation
        try:
            data = scenario_values(grouped.get_group((row.metric, row.scenario)))
            statistics = seed_statistics(judged, data, scales[row.metric], context.get(row.metric))
        except ValueError:
            continue  # the verdict says why (an error): the measure has no rank on this cell
        test, arch = cells[row.scenario]
        records += [(row.metric, row.scenario, test, arch, seed, value, row.direction, row.premise)
                    for seed, value in zip(data.seeds, statistics)]  # fmt: skip
    return pd.DataFrame(records, columns=columns)


def _cubes(seeds: pd.DataFrame, measures: Sequence[str]) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """Per cell (scenario) the oriented statistics [measures, seeds] (``direction`` times the statistic,
    so higher is better; NaN where a measure lacks a seed), the cells' names, and whether their premise held."""
    names, cubes, held = [], [], []
    for scenario, rows in seeds.groupby("scenario", sort=True):
        table = rows.pivot_table(index="metric", columns="seed", values="statistic", aggfunc="first")
        table = table.reindex(list(measures))
        names.append(str(scenario))
        cubes.append(table.to_numpy(float) * float(rows["direction"].iloc[0]))
        held.append(bool(rows["premise"].isin(_HELD).all()))
    return names, cubes, np.array(held, dtype=bool)


def _means(values: np.ndarray) -> np.ndarray:
    """The mean over the last axis of the finite entries (NaN where there is none: the measure has no
    value on that cell)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def _ranks(means: np.ndarray) -> np.ndarray:
    """Ranks of each row's measures [..., measures] by their oriented mean, 1 = best, ties the mean rank;
    NaN stays NaN (a measure without a value on a cell has no rank there)."""
    return rankdata(-means, axis=-1, nan_policy="omit")


def median_ranks(ranks: np.ndarray) -> np.ndarray:
    """The median over the cells of ranks [..., cells, measures] (NaN cells ignored; NaN where a measure
    has no rank at all)."""
    if ranks.shape[-2] == 0:
        return np.full(ranks.shape[:-2] + ranks.shape[-1:], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a measure without any rank: NaN, as documented
        return np.nanmedian(ranks, axis=-2)


def _tau(ours: np.ndarray, published: np.ndarray) -> float:
    """Kendall's tau-b of our median ranks and the published positions over the measures ranked by both."""
    known = np.isfinite(ours)
    if known.sum() < 2:
        return float("nan")
    return float(kendalltau(ours[known], published[known]).statistic)


_TABLE_COLUMNS = ["metric", "median", "q1", "q3", "low", "high", "cells", "median_all", "shared_median", "resi",
                  "resi_position"]
_CELL_COLUMNS = ["scenario", "test", "arch", "premise_held", "seeds"]


@dataclass(frozen=True)
class Comparison:
    """The run held against a published ranking (module docstring).

    ``table`` has one row per measure of the run: ``median``, ``q1``, ``q3``, ``low``, ``high`` (of its
    ranks over the cells whose premise held, among all measures of the run), ``cells`` (how many),
    ``median_all`` (over every cell), ``shared_median`` (median rank among the shared measures, premise-held
    cells), ``resi`` (ReSi's name) and ``resi_position``. ``tau``, ``tau_low``, ``tau_high``: over the
    premise-held cells; ``tau_all``, ``tau_all_low``, ``tau_all_high``: over every cell.
    """

    table: pd.DataFrame
    cells: pd.DataFrame  # scenario, test, arch, premise_held, seeds
    shared: tuple[str, ...]
    tau: float
    tau_low: float
    tau_high: float
    tau_all: float
    tau_all_low: float
    tau_all_high: float
    missing: Mapping[str, str]  # ReSi measure -> why it is not compared
    absent_tests: tuple[str, ...]  # ReSi tests with no cell in the run
    n_resamples: int
    confidence: float
    seed: int
    source: Mapping[str, str]

    @classmethod
    def from_dict(cls, document: Mapping) -> Comparison:
        """Inverse of :meth:`to_dict` (a baseline's ``resi`` section).

        Raises:
            ValueError: a part is missing or malformed (one line naming it).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            values = {name: document[name] for name in names}
            values |= {"table": pd.DataFrame.from_records(values["table"], columns=_TABLE_COLUMNS),
                       "cells": pd.DataFrame.from_records(values["cells"], columns=_CELL_COLUMNS)}
            values |= {name: float("nan") if values[name] is None else float(values[name])
                       for name in ("tau", "tau_low", "tau_high", "tau_all", "tau_all_low", "tau_all_high")}
            values |= {"shared": tuple(values["shared"]), "absent_tests": tuple(values["absent_tests"])}
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a comparison with ReSi's ranking ({type(err).__name__}: {err})") from None
        return cls(**values)

    def to_dict(self) -> dict:
        """As JSON-ready data (``resi_ranking.json``)."""
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("table", "cells")}
        plain = {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in plain.items()}
        return {**json.loads(json.dumps(plain, default=list)),
                "table": json.loads(self.table.to_json(orient="records")),
                "cells": json.loads(self.cells.to_json(orient="records"))}  # fmt: skip


def _bootstrap_tau(cubes: list[np.ndarray], positions: np.ndarray, rng: np.random.Generator,
                   n_resamples: int) -> np.ndarray:  # fmt: skip
    """Tau of each resample: every cell's seeds drawn again with replacement, its means, the ranks, the
    median ranks and tau computed again."""
    if not cubes:
        return np.full(n_resamples, np.nan)
    ranks = []
    for cube in cubes:
        draws = rng.integers(0, cube.shape[1], size=(n_resamples, cube.shape[1]))
        ranks.append(_ranks(_means(cube[:, draws]).T))  # means [resamples, measures]
    medians = median_ranks(np.stack(ranks, axis=1))  # [resamples, measures]
    return np.array([_tau(row, positions) for row in medians])


def _interval(taus: np.ndarray, confidence: float) -> tuple[float, float]:
    taus = taus[np.isfinite(taus)]
    if not taus.size:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(taus, [tail, 1 - tail])
    return float(low), float(high)


def compare_with_published(seeds: pd.DataFrame, published: Published, n_resamples: int = 1000,
                           confidence: float = 0.95, seed: int = 0) -> Comparison:  # fmt: skip
    """The run's median ranks on ReSi's tests and Kendall's tau against ``published`` (module docstring),
    from :func:`seed_table`'s rows. Measures and tests that either side lacks are named in ``missing``
    and ``absent_tests``, never an error; with fewer than 2 shared measures tau is NaN."""
    measures = sorted(seeds["metric"].unique()) if len(seeds) else []
    in_run = set(measures)
    missing = {published.names[ours]: f"{ours} is not in this run's cells of ReSi's tests"
               for ours in published.positions if ours not in in_run}  # fmt: skip
    missing.update({resi: "no stitchbench measure implements it" for resi in published.unmapped})
    shared = tuple(sorted((m for m in measures if m in published.positions), key=published.positions.get))
    names, cubes, held = _cubes(seeds, measures)
    cell_ranks = np.stack([_ranks(_means(c)) for c in cubes]) if cubes else np.empty((0, len(measures)))
    kept = cell_ranks[held]

    def quantile(q):
        if not len(kept):
            return np.full(len(measures), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # as in median_ranks
            return np.nanquantile(kept, q, axis=0)

    index = [measures.index(m) for m in shared]
    shared_cubes = [c[index] for c in cubes]
    positions = np.array([published.positions[m] for m in shared], dtype=float)
    shared_ranks = (np.stack([_ranks(_means(c)) for c in shared_cubes]) if cubes
                    else np.empty((0, len(shared))))  # fmt: skip
    shared_held, shared_all = median_ranks(shared_ranks[held]), median_ranks(shared_ranks)
    rng = np.random.default_rng(seed)
    taus_held = _bootstrap_tau([c for c, h in zip(shared_cubes, held) if h], positions, rng, n_resamples)
    taus_all = _bootstrap_tau(shared_cubes, positions, rng, n_resamples)
    table = pd.DataFrame({
        "metric": measures, "median": median_ranks(kept), "q1": quantile(0.25), "q3": quantile(0.75),
        "low": quantile(0.0), "high": quantile(1.0), "cells": np.isfinite(kept).sum(axis=0),
        "median_all": median_ranks(cell_ranks),
    })  # fmt: skip
    table["shared_median"] = table["metric"].map(dict(zip(shared, shared_held)))
    table["resi"] = table["metric"].map(published.names)
    table["resi_position"] = table["metric"].map(published.positions)
    table = table.sort_values(["median", "median_all", "metric"], na_position="last", kind="stable", ignore_index=True)
    described = seeds.drop_duplicates("scenario").set_index("scenario")
    cells = pd.DataFrame({"scenario": names, "test": [described.at[n, "test"] for n in names],
                          "arch": [described.at[n, "arch"] for n in names], "premise_held": held,
                          "seeds": [c.shape[1] for c in cubes]})  # fmt: skip
    present = set(cells["test"])
    return Comparison(
        table=table, cells=cells, shared=shared,
        tau=_tau(shared_held, positions), tau_low=_interval(taus_held, confidence)[0],
        tau_high=_interval(taus_held, confidence)[1],
        tau_all=_tau(shared_all, positions), tau_all_low=_interval(taus_all, confidence)[0],
        tau_all_high=_interval(taus_all, confidence)[1],
        missing=dict(sorted(missing.items())), absent_tests=tuple(t for t in published.tests if t not in present),
        n_resamples=n_resamples, confidence=confidence, seed=seed, source=dict(published.source),
    )  # fmt: skip


def _number(x: float, form: str = "g") -> str:
    return "—" if not np.isfinite(x) else format(x, form)


def _tau_line(tau: float, low: float, high: float, confidence: float) -> str:
    return f"{_number(tau, '.2f')} [{_number(low, '.2f')}, {_number(high, '.2f')}] ({confidence:.0%} interval)"


CAVEATS = (
    "toy networks (tens of thousands of parameters) on 8x8 digits and 28x28 MNIST, where ReSi trains ResNets, "
    "VGGs and ViTs on ImageNet-100 and CIFAR-100",
    "few model seeds per cell (each cell's count in ranking_tests.md) against ReSi's 5 per group and 10 per setting",
    "not every test on every architecture (the run's cells in ranking_tests.md)",
    "some of ReSi's measures are computed by another convention here (the mapping's notes in "
    "reports/resi_vision_ranking.json)",
    "ReSi's order is read from its figure, where close medians are hard to tell apart",
)


def comparison_summary(comparison: Comparison, level: int = 2) -> str:
    """The comparison's short markdown section: tau with its interval under both premise choices, the
    caveats, the measures compared (our median rank among them beside ReSi's position) and what was not
    compared; the scorecard and the results page show it."""
    c = comparison
    head = "#" * level
    source = c.source
    lines = [f"{head} Held against ReSi's published vision ranking", "",
             f"ReSi's order: {source.get('paper', '')}, {source.get('figure', '')} "
             f"({source.get('repository', '')}, `{source.get('path', '')}` at {source.get('commit', '')[:12]}).", ""]
    if not len(c.cells):
        return "\n".join(lines + ["No cell of ReSi's tests in this run: nothing to compare.", ""])
    held = c.cells[c.cells["premise_held"]]
    aside = c.cells[~c.cells["premise_held"]]
    lines += [
        f"- Kendall's tau between our median ranks and ReSi's order, over the {len(c.shared)} measures both have, "
        f"on the {len(held)} cells (test x architecture) whose premise held: "
        f"**{_tau_line(c.tau, c.tau_low, c.tau_high, c.confidence)}**; on every cell, as ReSi ranks regardless of "
        f"premises ({len(c.cells)} cells): {_tau_line(c.tau_all, c.tau_all_low, c.tau_all_high, c.confidence)}. "
        "Tau is +1 when the two orders agree, -1 when one reverses the other, about 0 when they are unrelated.",
        f"- The interval: {c.n_resamples} bootstrap resamples of the model seeds within each cell (seed {c.seed}).",
        "- Cells whose premise was set aside (the functional reference itself did not show the difference the "
        "test presumes): " + (", ".join(f"{r.test} on {r.arch}" for r in aside.itertuples()) or "none") + ".",
        "- Caveats: " + "; ".join(CAVEATS) + ".", "",
    ]
    shared = c.table[c.table["resi_position"].notna()].sort_values(["shared_median", "resi_position"], kind="stable")
    body = [[r.metric, r.resi, str(int(r.resi_position)), _number(r.shared_median), _number(r.median),
             f"{_number(r.q1)}–{_number(r.q3)}"] for r in shared.itertuples()]  # fmt: skip
    lines += ["The measures compared, ours best first: our median rank among them (what tau compares), ReSi's position "
              "(1 = best of its 24), and the median rank among all the run's measures with its middle half.", "",
              markdown_table(["measure", "ReSi", "ReSi position", "our median rank (shared)", "median rank (all)",
                              "middle half"], body), ""]  # fmt: skip
    if c.missing:
        lines += ["Not compared: " + "; ".join(f"{resi} ({why})" for resi, why in c.missing.items()) + ".", ""]
    return "\n".join(lines)


def comparison_markdown(comparison: Comparison, level: int = 2) -> str:
    """:func:`comparison_summary`, then the cells and every measure's median rank with its spread (the
    section of ``ranking_tests.md``)."""
    c = comparison
    head = "#" * level
    lines = [comparison_summary(c, level)]
    if not len(c.cells):
        return lines[0]
    cell_rows = [[r.test, r.arch, str(r.seeds), "held" if r.premise_held else "set aside", r.scenario]
                 for r in c.cells.itertuples()]  # fmt: skip
    lines += [f"{head}# Cells (test x architecture)", "",
              markdown_table(["test", "architecture", "seeds", "premise", "scenario"], cell_rows), ""]
    if c.absent_tests:
        lines += [f"ReSi's tests without a cell in this run: {', '.join(c.absent_tests)}.", ""]
    body = [[r.metric, _number(r.median), f"{_number(r.q1)}–{_number(r.q3)}", f"{_number(r.low)}–{_number(r.high)}",
             str(int(r.cells)), _number(r.median_all), "" if pd.isna(r.resi) else f"{r.resi} ({int(r.resi_position)})"]
            for r in c.table.itertuples()]  # fmt: skip
    lines += [f"{head}# Median rank per measure", "",
              "Each measure's rank among all the run's measures on each cell (1 = best), the median over the cells "
              "whose premise held with its middle half (interquartile range) and its range, as ReSi's rank figure "
              "shows; the median over every cell; ReSi's name and position.", "",
              markdown_table(["measure", "median rank", "middle half", "range", "cells", "median, every cell",
                              "ReSi (position)"], body), ""]  # fmt: skip
    return "\n".join(lines)


def comparison_of(results: pd.DataFrame, verdicts: pd.DataFrame, expectations: Mapping[str, Sequence],
                  scales: Mapping[str, MeasureScale], seed: int = 0,
                  published: Published | None = None) -> Comparison | None:  # fmt: skip
    """The run held against ``published`` (default: :data:`PUBLISHED`), from its results, verdicts and its
    record's expectations and scales; None when the run has no cell of ReSi's tests."""
    published = read_published() if published is None else published
    seeds = seed_table(results, verdicts, expectations, scales, published.tests)
    return None if seeds.empty else compare_with_published(seeds, published, seed=seed)


def write_comparison(comparison: Comparison | None, out_dir: str | Path) -> list[Path]:
    """``resi_ranking.json`` into ``out_dir`` (nothing without a comparison); :func:`comparison_markdown`
    gives its section of ``ranking_tests.md``."""
    if comparison is None:
        return []
    text = json.dumps(comparison.to_dict(), indent=1, allow_nan=False) + "\n"
    return [write_text(Path(out_dir) / "resi_ranking.json", text)]


def comparison_figure(comparison: Comparison, out_dir: str | Path) -> Figure:
    """``ranking_resi.png`` (and its PDF) into ``out_dir``: each shared measure's median rank among the
    shared measures against ReSi's position, the diagonal where the two orders agree."""
    shared = comparison.table[comparison.table["resi_position"].notna()]
    figure, ax = plt.subplots(figsize=(5.6, 5.2))
    count = max(len(shared), 2)
    ax.plot([1, count], [1, count], color="0.8", linewidth=1, zorder=1)
    ax.scatter(shared["resi_position"], shared["shared_median"], s=14, color="#3d6b99", zorder=2)
    for row in shared.itertuples():
        if np.isfinite(row.shared_median):
            ax.annotate(row.metric, (row.resi_position, row.shared_median), fontsize=5.5, xytext=(3, 2),
                        textcoords="offset points")  # fmt: skip
    ax.set_xlabel("ReSi's position, vision (1 = best)", fontsize=8)
    ax.set_ylabel("median rank in this run, among the shared measures (1 = best)", fontsize=8)
    ax.tick_params(labelsize=7)
    tau = _tau_line(comparison.tau, comparison.tau_low, comparison.tau_high, comparison.confidence)
    held = int(comparison.cells["premise_held"].sum())
    ax.set_title(f"Kendall's tau {tau}\non the {held} cells whose premise held", fontsize=8)
    figure.tight_layout()
    path = save(figure, Path(out_dir) / "ranking_resi.png")
    return Figure(path, "Each measure that ReSi also ranks: its median rank over the run's cells of ReSi's tests "
                        "(test x architecture, premise held), ranked among the shared measures, against its position "
                        "in ReSi's published vision ranking; on the grey diagonal the two orders agree. Toy networks on "
                        "digits and MNIST against ReSi's ImageNet-100 and CIFAR-100 models: ranking_tests.md gives the "
                        "caveats, every cell and the tau over every cell.")
