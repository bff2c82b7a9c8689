"""Which measure for which question: the scorecard's first table, the one ranking with its spread, and
both as exports for papers.

Every report counts verdicts the same way: a verdict **counts** unless it was set aside (its premise
failed: the functional reference itself broke the expectation); of the counted ones, a pass is passed,
and a fail (empirical or by design), an undecided and an error are not. A measure's share is
passed / counted, with a 95 % Wilson score interval (``scipy.stats.binomtest``); it treats the verdicts
as independent, which verdicts of one scenario are not quite, so read it as a floor on the uncertainty.

- :func:`use_case_scores`: per use case (``scenarios.use_cases``, declared by each scenario's
  generator) and measure: passed k of counted n, the share and its interval, and the measure's position.
- :func:`answers`: per use case the best measures, the ones to avoid, and a plain line on how sure the
  run is (:func:`how_sure`).
- :func:`ranking`: the one ranking, over every counted verdict of the run (the summary score), with its
  spread: the ranks of a bootstrap over scenarios (scenarios drawn with replacement, each bringing all its
  verdicts, as ReSi shows the distribution of a measure's rank over tests).
- :func:`write_exports`: ``ranking.csv``, ``ranking.tex``, ``use_cases.csv``, ``use_cases.tex`` and
  ``references.bib`` (the measures' papers, parsed from their registrations' ``reference``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from reports.scorecard import SET_ASIDE, by_design, markdown_table
from runner.atomic import write_text
from scenarios.use_cases import USE_CASES, question

__all__ = ["CONFIDENCE", "THIN", "Answers", "answers", "answers_markdown", "ranking_markdown", "summarise", "bibtex", "how_sure", "rank_draws", "ranking", "share_interval", "tallies",
           "use_case_of", "use_case_scores", "write_exports"]

CONFIDENCE = 0.95
#: fewer counted verdicts per measure than this make an answer a hint only
THIN = 5
TALLIES = ("passed", "counted", "failed", "by_design", "undecided", "errors", "set_aside")


def share_interval(passed: int, counted: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of the share ``passed / counted`` ((nan, nan) when nothing counted).

    Example:
        >>> [round(x, 3) for x in share_interval(13, 15)]
        [0.621, 0.963]
    """
    if counted <= 0:
        return float("nan"), float("nan")
    interval = binomtest(int(passed), int(counted)).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def tallies(verdicts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by`` (e.g. ``["metric"]``): the counts of :data:`TALLIES`, the share passed of the
    counted verdicts and its interval. ``failed`` counts the empirical failures, ``by_design`` those a
    measure has by its declared design (``reports.design``)."""
    design = by_design(verdicts)
    fail = verdicts["verdict"].eq("fail")
    flags = pd.DataFrame({
        "passed": verdicts["verdict"].eq("pass"), "counted": verdicts["verdict"].ne(SET_ASIDE),
        "failed": fail & ~design, "by_design": fail & design, "undecided": verdicts["verdict"].eq("undecided"),
        "errors": verdicts["verdict"].eq("error"), "set_aside": verdicts["verdict"].eq(SET_ASIDE),
    })  # fmt: skip
    table = pd.concat([verdicts[by], flags.astype(int)], axis=1).groupby(by, sort=True).sum().reset_index()
    table["share"] = table["passed"] / table["counted"].where(table["counted"] > 0)
    bounds = [share_interval(p, c) for p, c in zip(table["passed"], table["counted"])]
    table["share_low"] = [low for low, _ in bounds]
    table["share_high"] = [high for _, high in bounds]
    return table


def use_case_of(verdicts: pd.DataFrame, use_cases: Mapping[str, str]) -> pd.Series:
    """Each verdict's use case: the one its scenario's generator declares, else ``other:<family>``."""
    return pd.Series([use_cases.get(scenario) or f"other:{family}"
                      for scenario, family in zip(verdicts["scenario"], verdicts["family"])], index=verdicts.index)


def _order(table: pd.DataFrame) -> pd.DataFrame:
    """Best first: share, then more counted verdicts (a higher interval at the same share), then name (the
    order of the scorecard's overview)."""
    return table.sort_values(["share", "counted", "metric"], ascending=[False, False, True], na_position="last",
                             kind="stable")  # fmt: skip


def use_case_scores(verdicts: pd.DataFrame, use_cases: Mapping[str, str]) -> pd.DataFrame:
    """Per use case and measure: the :func:`tallies`, the use case's ``question`` and the measure's
    ``position`` in it (1 = best, by share, then interval, then name); use cases in the order of
    ``scenarios.use_cases.USE_CASES``, then the undeclared ones."""
    table = tallies(verdicts.assign(use_case=use_case_of(verdicts, use_cases)), ["use_case", "metric"])
    order = {name: i for i, name in enumerate(USE_CASES)}
    parts = []
    for use_case in sorted(table["use_case"].unique(), key=lambda name: (order.get(name, len(order)), name)):
        rows = _order(table[table["use_case"] == use_case])
        parts.append(rows.assign(position=np.arange(1, len(rows) + 1),
                                 question=question(*_undeclared(use_case))))  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else table.assign(position=[], question=[])


def _undeclared(use_case: str) -> tuple[str, str]:
    return (use_case, "") if not use_case.startswith("other:") else ("", use_case.removeprefix("other:"))


def how_sure(rows: pd.DataFrame) -> str:
    """One plain line on how sure a use case's answer is, from its rows (one per measure, best first,
    :func:`use_case_scores`): whether the best measure's interval lies above every other measure's
    share ("clear"), above the typical measure's ("fair") or not ("unsure"), or whether there are too
    few verdicts to say (fewer than :data:`THIN` per measure: "thin"), and how many tie at the top."""
    rows = rows[rows["counted"] > 0]
    if rows.empty:
        return "no answer: every verdict was set aside (the references did not do what the scenarios expect)"
    best = rows.iloc[0]
    tied = rows[(rows["passed"] == best["passed"]) & (rows["counted"] == best["counted"])]
    others = rows.drop(tied.index)
    k, n = int(best["passed"]), int(best["counted"])
    if n < THIN:
        line = f"thin: only {n} verdict(s) per measure, a hint rather than an answer"
    elif others.empty:
        line = f"no difference: every measure passes {k} of {n}"
    elif best["share_low"] > others["share"].max():
        line = "clear: the best measures' interval lies above every other measure's share"
    elif best["share_low"] > rows["share"].median():
        line = "fair: the best lie above the typical measure, not clearly above the next ones"
    else:
        line = "unsure: the best are within the noise of the typical measure"
    if len(tied) > 1 and not others.empty:
        line += f"; {len(tied)} measures tie at {k} of {n}"
    return line


def _entry(row) -> dict:
    return {"metric": row.metric, "passed": int(row.passed), "counted": int(row.counted), "share": row.share,
            "share_low": row.share_low, "share_high": row.share_high}


def answers(scores: pd.DataFrame, shown: int = 3) -> pd.DataFrame:
    """One row per use case of :func:`use_case_scores`: ``use_case``, ``question``, ``counted`` (verdicts
    per measure), ``best`` (the first ``shown`` measures; :func:`how_sure` says how many tie), ``avoid``
    (the last ``shown`` of those below the best share, best of them first), ``sure`` (:func:`how_sure`)."""
    records = []
    for use_case, rows in scores.groupby("use_case", sort=False):
        rows = rows[rows["counted"] > 0]
        head = rows.head(shown)  # measures tied with these are counted by how_sure, not listed
        worse = rows.drop(head.index)
        tail = worse[worse["share"] < head["share"].max()].tail(shown) if len(head) else worse  # never a tie of the best
        records.append({
            "use_case": use_case, "question": scores.loc[scores["use_case"] == use_case, "question"].iloc[0],
            "counted": int(rows["counted"].max()) if len(rows) else 0, "measures": len(rows),
            "best": [_entry(r) for r in head.itertuples()], "avoid": [_entry(r) for r in tail.itertuples()],
            "sure": how_sure(rows),
        })  # fmt: skip
    return pd.DataFrame(records, columns=["use_case", "question", "counted", "measures", "best", "avoid", "sure"])


def rank_draws(verdicts: pd.DataFrame, metrics: list[str], n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The measures' ranks [resamples, measures] (in the order of ``metrics``) over ``n_resamples``
    bootstrap resamples of the scenarios: each resample draws as many scenarios as the run has, with
    replacement (a scenario brings all its counted verdicts), and ranks the measures by their share of
    passed verdicts on it (1 = best, ties share the mean rank, NaN where a measure has none counted)."""
    per_scenario = tallies(verdicts, ["metric", "scenario"])
    passed = per_scenario.pivot(index="metric", columns="scenario", values="passed").reindex(metrics)
    counted = per_scenario.pivot(index="metric", columns="scenario", values="counted").reindex(metrics)
    passed, counted = passed.fillna(0).to_numpy(float), counted.fillna(0).to_numpy(float)
    if not passed.size:
        return np.empty((0, len(metrics)))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, passed.shape[1], size=(n_resamples, passed.shape[1]))
    weights = np.stack([np.bincount(draw, minlength=passed.shape[1]) for draw in draws])  # [resamples, scenarios]
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = (weights @ passed.T) / (weights @ counted.T)
    return pd.DataFrame(shares).rank(axis=1, ascending=False, method="average").to_numpy()


def ranking(verdicts: pd.DataFrame, n_resamples: int = 1000, seed: int = 0,
            confidence: float = CONFIDENCE) -> pd.DataFrame:  # fmt: skip
    """The one ranking: every measure by its share of the run's counted verdicts (:func:`tallies`; rank 1 =
    best, ties share the lowest rank), with the spread of its rank over the bootstrap resamples of the
    scenarios (:func:`rank_draws`): ``rank_median`` and the ``confidence`` interval ``rank_low`` ..
    ``rank_high``. Rows best first.

    Example:
        >>> verdicts = pd.DataFrame({"metric": ["a", "a", "b", "b"], "scenario": ["s", "t", "s", "t"],
        ...                          "verdict": ["pass", "pass", "pass", "fail"]})
        >>> ranking(verdicts, n_resamples=200)[["metric", "rank", "passed", "counted"]].values.tolist()
        [['a', 1, 2, 2], ['b', 2, 1, 2]]
    """
    table = _order(tallies(verdicts, ["metric"])).reset_index(drop=True)
    table.insert(0, "rank", table["share"].rank(ascending=False, method="min").astype("Int64"))
    ranks = rank_draws(verdicts, list(table["metric"]), n_resamples, seed)
    tail = (1.0 - confidence) / 2.0
    finite = np.isfinite(ranks).any(axis=0) if ranks.size else np.zeros(len(table), bool)
    summary = {"rank_median": 0.5, "rank_low": tail, "rank_high": 1.0 - tail}
    for column, quantile in summary.items():
        table[column] = np.nan
        if finite.any():
            table.loc[finite, column] = np.nanquantile(ranks[:, finite], quantile, axis=0, method="nearest")
    return table


# ---- exports -------------------------------------------------------------------------------------------

_PAPER = re.compile(r"^(?P<authors>[^;()]+?)\s+(?P<year>(?:19|20)\d\d)[a-z]?,\s*(?P<title>[^(]+?)\s*"
                    r"\((?P<venue>[^)]*)\)")


def _chunks(reference: str) -> list[str]:
    """The ``;``-separated parts of a reference string outside brackets."""
    parts, depth, current = [], 0, ""
    for char in reference:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ";" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [part for part in [*parts, current.strip()] if part]


def bibtex(references: Mapping[str, str]) -> str:
    """BibTeX entries (``@misc``) of the papers named in the measures' ``reference`` strings (measure ->
    its registration's reference), one per paper, each noting which measures cite it. A part of a
    reference that names no "Authors YEAR, Title (Venue)" is left out (a note, not a paper)."""
    entries: dict[str, dict] = {}
    for metric, reference in sorted(references.items()):
        for chunk in _chunks(reference or ""):
            found = _PAPER.match(chunk)
            if not found:
                continue
            authors = re.sub(r"\s+et al\.?$", " and others", found["authors"].strip())
            authors = " and ".join(a.strip() for a in re.split(r",|&|\band\b", authors) if a.strip())
            first = re.sub(r"[^a-z]", "", authors.split(" and ")[0].split()[-1].lower())
            word = next((w.lower() for w in re.findall(r"[A-Za-z]+", found["title"]) if len(w) > 3), "paper")
            key = f"{first}{found['year']}{word}"
            entry = entries.setdefault(key, {"author": authors, "title": found["title"].strip(),
                                             "year": found["year"], "howpublished": found["venue"].strip(),
                                             "measures": []})  # fmt: skip
            entry["measures"].append(metric)
    blocks = []
    for key, entry in sorted(entries.items()):
        cited = ", ".join(entry["measures"]).replace("_", r"\_")
        fields = [f"  author = {{{entry['author']}}}", f"  title = {{{{{entry['title']}}}}}",
                  f"  year = {{{entry['year']}}}", f"  howpublished = {{{entry['howpublished']}}}",
                  f"  note = {{stitchbench measures: {cited}}}"]
        blocks.append(f"@misc{{{key},\n" + ",\n".join(fields) + "\n}\n")
    return "\n".join(blocks)


def _interval(low: float, high: float, digits: int = 2) -> str:
    return f"[{low:.{digits}f}, {high:.{digits}f}]" if pd.notna(low) else ""


def _latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table (pandas' LaTeX writer, text escaped)."""
    return table.to_latex(index=False, escape=True, caption=caption, label=label, column_format="l" * table.shape[1])


def ranking_latex(table: pd.DataFrame) -> str:
    """The ranking (:func:`ranking`) as a LaTeX table: rank [interval], measure, passed k / n, share
    [interval]."""
    rows = pd.DataFrame({
        "rank": [f"{r} [{lo:g}, {hi:g}]" if pd.notna(lo) else f"{r}" for r, lo, hi in
                 zip(table["rank"], table["rank_low"], table["rank_high"])],
        "measure": table["metric"],
        "passed": [f"{p} / {c}" for p, c in zip(table["passed"], table["counted"])],
        "share": [f"{s:.2f} {_interval(lo, hi)}" if pd.notna(s) else "" for s, lo, hi in
                  zip(table["share"], table["share_low"], table["share_high"])],
    })  # fmt: skip
    return _latex(rows, "Measures ranked by the share of counted verdicts passed (95 % Wilson interval); the "
                        "rank's 95 % interval from a bootstrap over scenarios.", "tab:stitchbench-ranking")


def _listed(entries: list[dict]) -> str:
    return "; ".join(f"{e['metric']} {e['passed']}/{e['counted']} {_interval(e['share_low'], e['share_high'])}"
                     for e in entries)


def use_cases_latex(table: pd.DataFrame) -> str:
    """The answers (:func:`answers`) as a LaTeX table: question, best measures, how sure, avoid."""
    rows = pd.DataFrame({"question": table["question"], "best (passed / counted [95 % interval])":
                         [_listed(b) for b in table["best"]], "how sure": table["sure"],
                         "avoid": [_listed(a) for a in table["avoid"]]})  # fmt: skip
    return _latex(rows, "Which measure for which question: the measures that passed the largest share of each "
                        "use case's counted verdicts.", "tab:stitchbench-use-cases")


def write_exports(ranked: pd.DataFrame, scores: pd.DataFrame, answered: pd.DataFrame,
                  references: Mapping[str, str], out_dir: str | Path) -> list[Path]:  # fmt: skip
    """``ranking.csv`` / ``.tex``, ``use_cases.csv`` / ``.tex`` and (with references) ``references.bib``
    into ``out_dir``, atomically."""
    out = Path(out_dir)
    columns = ["use_case", "question", "position", "metric", *TALLIES, "share", "share_low", "share_high"]
    paths = [write_text(out / "ranking.csv", ranked.to_csv(index=False, float_format="%.6g")),
             write_text(out / "ranking.tex", ranking_latex(ranked)),
             write_text(out / "use_cases.csv", scores[columns].to_csv(index=False, float_format="%.6g")),
             write_text(out / "use_cases.tex", use_cases_latex(answered))]  # fmt: skip
    if references:
        paths.append(write_text(out / "references.bib", bibtex(references)))
    return paths


@dataclass(frozen=True)
class Answers:
    """What the scorecard opens with: the one ranking (:func:`ranking`), the per use case scores
    (:func:`use_case_scores`) and the answers (:func:`answers`)."""

    ranked: pd.DataFrame
    scores: pd.DataFrame
    table: pd.DataFrame


def summarise(verdicts: pd.DataFrame, use_cases: Mapping[str, str], n_resamples: int = 1000,
              seed: int = 0) -> Answers:  # fmt: skip
    """The :class:`Answers` of a run's verdicts (``use_cases``: scenario -> its generator's use case)."""
    scores = use_case_scores(verdicts, use_cases)
    return Answers(ranking(verdicts, n_resamples, seed), scores, answers(scores))


def _named(entries: list[dict]) -> str:
    return ", ".join(f"`{e['metric']}` {e['passed']}/{e['counted']} {_interval(e['share_low'], e['share_high'])}"
                     for e in entries) or "—"


def answers_markdown(table: pd.DataFrame) -> str:
    """The "Which measure for which question" section (markdown) of :func:`answers`."""
    rows = [[row.question, _named(row.best), row.sure, _named(row.avoid)] for row in table.itertuples()]
    return "\n".join([
        "## Which measure for which question", "",
        "Per use case, the measures that passed the largest share of its counted verdicts (k/n passed, 95 % "
        "interval of the share), how sure this run is, and the measures to avoid. Set-aside verdicts never count; "
        "failures by design count as failures (the measure lacks what the question asks).", "",
        markdown_table(["use case", "best (passed/counted [95 %])", "how sure", "avoid"], rows, keep=1), "",
    ])  # fmt: skip


def ranking_markdown(ranked: pd.DataFrame, top: int = 10) -> str:
    """The "Ranking" section (markdown): the first ``top`` measures of the one ranking with the spread of
    their rank; every measure in ranking.csv."""
    rows = [[row.rank, row.metric, f"{row.rank_median:g} [{row.rank_low:g}, {row.rank_high:g}]"
             if pd.notna(row.rank_low) else "", f"{row.passed}/{row.counted}",
             f"{row.share:.2f} {_interval(row.share_low, row.share_high)}" if pd.notna(row.share) else ""]
            for row in ranked.head(top).itertuples()]  # fmt: skip
    return "\n".join([
        "## Ranking", "",
        f"The one ranking of the run: every counted verdict, best share first (the first {min(top, len(ranked))} of "
        f"{len(ranked)}; all in ranking.csv, figures/ranking.png). The rank's spread is its median and 95 % interval "
        "over a bootstrap of the scenarios: measures whose intervals overlap are not told apart by this run.", "",
        markdown_table(["rank", "measure", "rank spread: median [95 %]", "passed", "share [95 %]"], rows), "",
    ])  # fmt: skip
