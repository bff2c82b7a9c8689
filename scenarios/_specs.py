"""Load and validate scenario specs (TOML) into Scenario objects.

A spec file holds ``[[scenario]]`` entries::

    [[scenario]]
    name = "h1_noise_channels"          # unique over all loaded files
    family = "relevance"                # symmetry | relevance | estimator | networks
    generator = "relevance.signal_and_irrelevant"
    description = "..."
    seeds = 3                           # a count (0..N-1) or a list of ints
    [scenario.params]                   # the generator's declared parameters (others keep defaults)
    noise_amplitude = 1.0
    [scenario.sweep]                    # optional: one declared parameter and its values
    name = "noise_channels"
    values = [0, 4, 16, 48]
    [[scenario.expect]]                 # Expectation fields
    kind = "invariant"
    tolerance = 0.02
    reference = "stitch"                # optional: the functional reference (runner.schema.REFERENCE_COLUMNS)
    reason = "..."
    [[scenario.expect]]                 # derived in the run: flat -> invariant, two ordered cases ->
    kind = "follows_reference"          # ordering, otherwise tracks the reference
    reference = "stitch_direct"
    tolerance = 0.02
    [scenario.full]                     # optional overrides for profile "full"
    seeds = 10
    params = { n = 2000 }
    sweep = { values = [0, 4, 16, 64, 256] }

and, once per file, optional defaults of every scenario of the file for profile "full" (a scenario's own
``[scenario.full]`` overrides them)::

    [profile.full]
    params = { data = "cifar10", epochs = 30 }

Every problem is a SpecError naming the file, the scenario and the key. Only the entries a run selects
(``families``, ``names``) are validated, so a broken spec that is not selected stops nothing.
"""
from __future__ import annotations

import dataclasses
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from scenarios._registry import Generator, families, family_package, generators, lookup, sweep_points
from runner.schema import REFERENCE_COLUMNS
from scenarios.kinds import KINDS
from scenarios.types import Expectation, Scenario, Sweep

__all__ = ["PROFILES", "SPEC_DIR", "SpecEntry", "SpecError", "load_specs", "spec_index"]

SPEC_DIR = Path(__file__).parent / "specs"
PROFILES = ("quick", "full")

REQUIRED_KEYS = ("name", "family", "generator", "description", "seeds", "expect")
OPTIONAL_KEYS = ("params", "sweep", "full")
FULL_KEYS = ("seeds", "params", "sweep")
#: top-level keys of a spec file, and what its [profile.full] defaults may set
FILE_KEYS = ("scenario", "profile")
FILE_PROFILE_KEYS = ("seeds", "params")
EXPECTATION_KEYS = tuple(field.name for field in dataclasses.fields(Expectation))
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ValueError):
    """A scenario spec is invalid; the message names the file, the scenario and the key. ``path``,
    ``scenario`` and ``family`` say which spec it is about (None where the file could not be read that
    far), so that a runner can ignore a broken spec it does not select."""

    def __init__(self, message: str, path: Path | None = None, scenario: str | None = None,
                 family: str | None = None):
        super().__init__(message)
        self.path, self.scenario, self.family = path, scenario, family


class _Where:
    """Builds SpecErrors that name the file, the scenario and the key."""

    def __init__(self, path: Path, scenario: str, family: str | None = None):
        self.path, self.scenario, self.family = path, scenario, family

    def error(self, key: str | None, problem: str) -> SpecError:
        at = f"{self.path}: scenario {self.scenario!r}"
        message = f"{at}: key {key!r}: {problem}" if key else f"{at}: {problem}"
        return SpecError(message, self.path, self.scenario, self.family)


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), type(value).__name__)


def _check_keys(table: Any, where: _Where, prefix: str, allowed: Iterable[str], required=()) -> dict:
    if not isinstance(table, dict):
        raise where.error(prefix or None, f"expected a table, got {_type_name(table)}")
    dotted = (lambda key: f"{prefix}.{key}") if prefix else (lambda key: key)
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            raise where.error(dotted(key), f"unknown key; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in table:
            raise where.error(dotted(key), "missing required key")
    return table


def _param_value(value: Any, name: str, gen: Generator, where: _Where, key: str) -> Any:
    """``value`` of parameter ``name`` checked against the type of its default (an int is accepted for
    a float) and its choices; errors name ``key``."""
    expected = type(gen.params[name])
    if expected is float and type(value) is int:
        value = float(value)
    if type(value) is not expected:
        raise where.error(key, f"expected {expected.__name__}, got {_type_name(value)} {value!r}")
    allowed = gen.choices.get(name)
    if allowed and value not in allowed:
        raise where.error(key, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
    return value


def _params(table: Any, gen: Generator, where: _Where, prefix: str) -> dict[str, Any]:
    _check_keys(table, where, prefix, gen.params)
    return {key: _param_value(value, key, gen, where, f"{prefix}.{key}") for key, value in table.items()}


#: The largest seed a spec may give: seeds reach numpy, torch and the results table's int64 column, and
#: derived seeds (``seed + 1``, streams) must stay in range for all of them.
MAX_SEED = 2**32 - 1
#: The largest seed count (the seeds 0..N-1 are made at load).
MAX_SEED_COUNT = 100_000


def _seeds(value: Any, where: _Where, key: str) -> tuple[int, ...]:
    if type(value) is int:
        if not 1 <= value <= MAX_SEED_COUNT:
            raise where.error(key, f"a seed count must be >= 1 and <= {MAX_SEED_COUNT}, got {value}")
        return tuple(range(value))
    if isinstance(value, list) and value and all(type(seed) is int and seed >= 0 for seed in value):
        if len(set(value)) != len(value):
            raise where.error(key, f"duplicate seeds in {value}")
        too_large = [seed for seed in value if seed > MAX_SEED]
        if too_large:
            raise where.error(key, f"seeds must be at most {MAX_SEED} (2^32 - 1), got {too_large}")
        return tuple(value)
    raise where.error(key, f"expected a positive count or a non-empty list of non-negative ints, got {value!r}")


def _sweep_values(values: Any, name: str, gen: Generator, where: _Where, key: str) -> tuple[Any, ...]:
    if not isinstance(values, list) or not values:
        raise where.error(key, f"expected a non-empty list, got {values!r}")
    checked = tuple(_param_value(value, name, gen, where, key) for value in values)
    if len(set(checked)) != len(checked):
        raise where.error(key, f"duplicate values in {values}")
    return checked


def _sweep(table: Any, gen: Generator, where: _Where) -> Sweep:
    _check_keys(table, where, "sweep", ("name", "values"), required=("name", "values"))
    name = table["name"]
    if name not in gen.params:
        raise where.error("sweep.name", f"{name!r} is not a parameter of generator {gen.name!r}; "
                                        f"parameters: {', '.join(gen.params)}")
    return Sweep(name, _sweep_values(table["values"], name, gen, where, "sweep.values"))


def _expectation(table: Any, index: int, case_ids: list[str] | None, sweep: Sweep | None,
                 where: _Where) -> Expectation:
    prefix = f"expect[{index}]"
    _check_keys(table, where, prefix, EXPECTATION_KEYS, required=("kind",))
    kind = table["kind"]
    if kind not in KINDS:
        raise where.error(f"{prefix}.kind", f"unknown expectation kind {kind!r}; expected one of "
                                            f"{', '.join(KINDS)}")
    for key in table:
        if key != "kind" and key not in KINDS[kind].accepts:
            raise where.error(f"{prefix}.{key}", f"does not apply to kind {kind!r}")
    for key in KINDS[kind].requires:
        if key not in table:
            raise where.error(f"{prefix}.{key}", f"missing; kind {kind!r} requires it")
    fields = dict(table)
    if not isinstance(fields.get("reason", ""), str):
        raise where.error(f"{prefix}.reason", "expected a string")
    if fields.get("reference", REFERENCE_COLUMNS[0]) not in REFERENCE_COLUMNS:
        raise where.error(f"{prefix}.reference", f"unknown functional reference {fields['reference']!r}; "
                                                 f"expected one of {', '.join(REFERENCE_COLUMNS)}")
    for key in ("tolerance", "target"):
        if key in fields:
            if type(fields[key]) not in (int, float):
                raise where.error(f"{prefix}.{key}", f"expected a number, got {fields[key]!r}")
            fields[key] = float(fields[key])
    if fields.get("tolerance", 0.0) < 0:
        raise where.error(f"{prefix}.tolerance", f"must be >= 0, got {fields['tolerance']}")
    if kind == "monotone":
        if fields["direction"] not in (-1, 1) or type(fields["direction"]) is not int:
            raise where.error(f"{prefix}.direction", f"must be +1 or -1, got {fields['direction']!r}")
        if sweep is None:
            raise where.error(f"{prefix}.kind", "'monotone' needs a [scenario.sweep]")
    if kind == "ordering":
        for key in ("higher", "lower"):
            if not isinstance(fields[key], str):
                raise where.error(f"{prefix}.{key}", f"expected a case id string, got {fields[key]!r}")
            if case_ids is not None and fields[key] not in case_ids:
                raise where.error(f"{prefix}.{key}", f"the scenario produces no case {fields[key]!r}; "
                                                     f"its cases: {', '.join(case_ids)}")
        if fields["higher"] == fields["lower"]:
            raise where.error(f"{prefix}.lower", "must differ from 'higher'")
    return Expectation(**fields)


def _generator(name: Any, where: _Where) -> Generator:
    """The registered generator ``name``; a family that lives in a subpackage (``networks.``) is imported
    first."""
    if not isinstance(name, str):
        raise where.error("generator", f"expected a string, got {name!r}")
    package = family_package(name)
    if package is not None and name not in generators():
        try:
            importlib.import_module(package)
        except Exception as exc:  # any failure to import the family is a spec problem
            raise where.error("generator", f"{name!r} needs module {package}, which failed to import: "
                                           f"{type(exc).__name__}: {exc}") from exc
    try:
        return lookup(name)
    except KeyError as exc:
        raise where.error("generator", exc.args[0]) from None


def _label(entry: Any, index: int) -> str:
    """A ``[[scenario]]`` entry's name, or ``#<index>`` where it has none."""
    return entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else f"#{index}"


def _family(entry: Any) -> str | None:
    return entry.get("family") if isinstance(entry, dict) and isinstance(entry.get("family"), str) else None


def _scenario(entry: Any, index: int, path: Path, profile: str, defaults: dict) -> Scenario:
    label = _label(entry, index)
    where = _Where(path, label, _family(entry))
    _check_keys(entry, where, "", REQUIRED_KEYS + OPTIONAL_KEYS, required=REQUIRED_KEYS)
    if not NAME_PATTERN.match(label):
        raise where.error("name", "expected lower-case letters, digits and underscores, starting with a letter")
    family = entry["family"]
    if family not in families():
        raise where.error("family", f"unknown family {family!r}; expected one of {', '.join(families())}")
    gen = _generator(entry["generator"], where)
    if gen.family != family:
        raise where.error("generator", f"{gen.name!r} belongs to family {gen.family!r}, not {family!r}")
    if not isinstance(entry["description"], str) or not entry["description"].strip():
        raise where.error("description", "expected a non-empty string")

    params = _params(entry.get("params", {}), gen, where, "params")
    seeds = _seeds(entry["seeds"], where, "seeds")
    sweep = _sweep(entry["sweep"], gen, where) if "sweep" in entry else None
    full = _check_keys(entry.get("full", {}), where, "full", FULL_KEYS)
    file_full = defaults.get("full", {})  # [profile.full] of the file, under the scenario's own [scenario.full]
    full_params = {**params, **_params(file_full.get("params", {}), gen, where, "profile.full.params"),
                   **_params(full.get("params", {}), gen, where, "full.params")}
    full_seeds = seeds
    for table, key in ((file_full, "profile.full.seeds"), (full, "full.seeds")):
        if "seeds" in table:
            full_seeds = _seeds(table["seeds"], where, key)
    full_sweep = sweep
    if "sweep" in full:
        if sweep is None:
            raise where.error("full.sweep", "overrides a sweep, but the scenario has no [scenario.sweep]")
        _check_keys(full["sweep"], where, "full.sweep", ("values",), required=("values",))
        full_sweep = Sweep(sweep.name, _sweep_values(full["sweep"]["values"], sweep.name, gen, where,
                                                     "full.sweep.values"))
    # both profiles are checked whichever is loaded, so a broken full profile fails the quick run too
    profiles = {"quick": (params, seeds, sweep, "params"),
                "full": (full_params, full_seeds, full_sweep, "full.params")}
    for given, _, swept, key in profiles.values():
        if swept is not None and swept.name in given:
            raise where.error(f"{key}.{swept.name}", "is swept; set it in [scenario.sweep] only")
        for point in sweep_points({**gen.params, **given}, swept) if gen.check else ():
            try:
                gen.check(point.params)
            except ValueError as exc:
                raise where.error(key, f"{exc} (case {point.case})") from None
    expect = entry["expect"]
    if not isinstance(expect, list) or not expect:
        raise where.error("expect", "expected one or more [[scenario.expect]] tables")
    for name, (given, _, swept, _) in profiles.items():
        case_ids = gen.expected_case_ids({**gen.params, **given}, swept)
        chosen = tuple(_expectation(table, i, case_ids, swept, where) for i, table in enumerate(expect))
        if name == profile:
            expectations = chosen
    params, seeds, sweep, _ = profiles[profile]
    resolved = {**gen.params, **params}
    return Scenario(name=label, family=family, generator=gen.name, params=resolved, seeds=seeds,
                    expectations=expectations, sweep=sweep, description=entry["description"].strip(),
                    source=str(path), profile=profile)


def _spec_files(paths) -> list[Path]:
    if paths is None:
        paths = [SPEC_DIR]
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    return files


def _document(path: Path) -> tuple[list, dict]:
    """A spec file's ``[[scenario]]`` entries and its ``[profile.<name>]`` defaults."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read spec: {exc}", path) from None
    for key in document:
        if key not in FILE_KEYS:
            raise SpecError(f"{path}: key {key!r}: unknown top-level key; expected [[scenario]] entries and "
                            f"[profile.full] defaults", path)
    entries = document.get("scenario", [])
    if not isinstance(entries, list):
        raise SpecError(f"{path}: key 'scenario': expected [[scenario]] entries (an array of tables)", path)
    profiles = document.get("profile", {})
    where = _Where(path, "(every scenario of the file)")
    _check_keys(profiles, where, "profile", [name for name in PROFILES if name != "quick"])
    for name, table in profiles.items():
        _check_keys(table, where, f"profile.{name}", FILE_PROFILE_KEYS)
    return entries, profiles


@dataclass(frozen=True)
class SpecEntry:
    """A ``[[scenario]]`` entry as declared, before validation: its file, name and family (None where
    the entry does not give them as strings)."""

    path: Path
    name: str | None
    family: str | None


def spec_index(paths=None) -> list[SpecEntry]:
    """Every ``[[scenario]]`` entry of the spec files, unvalidated (what a run can select from); a file that
    cannot be read gives one entry with neither name nor family."""
    index = []
    for path in _spec_files(paths):
        try:
            entries, _ = _document(path)
        except SpecError:
            index.append(SpecEntry(path, None, None))
            continue
        index += [SpecEntry(path, entry.get("name") if isinstance(entry, dict) else None, _family(entry))
                  for entry in entries]
    return index


def load_specs(paths=None, profile: str = "quick", *, families=None, names=None, errors: list | None = None
               ) -> list[Scenario]:
    """Load, validate and resolve scenario specs.

    Args:
        paths: spec files or folders of ``*.toml`` (a single path or an iterable); default every
            ``scenarios/specs/*.toml``, sorted.
        profile: ``quick`` (the spec's own values: small) or ``full`` (the file's ``[profile.full]``
            defaults, then the scenario's ``[scenario.full]`` overrides).
        families, names: load only the entries of these families / with these names (the others are
            not validated: a broken spec nobody selected stops nothing).
        errors: where to put the :class:`SpecError` of each invalid file or entry, which is then left out;
            without it the first one is raised.

    Returns:
        The scenarios in file order, each with every generator parameter resolved.

    Raises:
        SpecError: for any invalid file or selected entry (when ``errors`` is None), naming the file, the
            scenario and the key.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")

    def problem(error: SpecError) -> None:
        if errors is None:
            raise error
        errors.append(error)

    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for path in _spec_files(paths):
        try:
            entries, defaults = _document(path)
        except SpecError as error:
            problem(error)
            continue
        for index, entry in enumerate(entries):
            if families is not None and _family(entry) not in families:
                continue
            if names is not None and _label(entry, index) not in names:
                continue
            try:
                scenario = _scenario(entry, index, path, profile, defaults)
                if scenario.name in seen:
                    raise _Where(path, scenario.name, scenario.family).error(
                        "name", f"duplicate scenario name (first defined in {seen[scenario.name]})")
            except SpecError as error:
                problem(error)
                continue
            seen[scenario.name] = str(path)
            scenarios.append(scenario)
    return scenarios
