"""The numerical dependencies are pinned in one place for CI (constraints.txt), recorded in the baseline,
and named once (runner.environment.NUMERICAL_DEPENDENCIES): the three stay in step."""
import json
import re
from pathlib import Path

from packaging.utils import canonicalize_name

from runner.environment import NUMERICAL_DEPENDENCIES, dependency_versions, pinned_versions, versions_note

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)\s*;\s*python_version\s*==\s*\"3\.11\"", line)
            assert match, f"constraints.txt: {line!r} is not '<name>==<version>; python_version == \"3.11\"'"
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _release(version: str) -> str:
    return version.split("+")[0]  # torch's local label (+cpu) names the build, not the release


def test_constraints_pin_every_numerical_dependency_and_nothing_else():
    assert set(_pins()) == {canonicalize_name(name) for name in NUMERICAL_DEPENDENCIES}


def test_the_baseline_was_recorded_with_the_pinned_versions():
    recorded = json.loads((ROOT / "reports" / "baseline.json").read_text())["versions"]
    assert {canonicalize_name(k): _release(v) for k, v in recorded.items()} == _pins()


def test_versions_are_read_from_the_distributions():
    versions = dependency_versions()
    assert list(versions) == list(NUMERICAL_DEPENDENCIES)
    assert all(version for version in versions.values())


def test_the_header_says_which_versions_differ_from_their_pins():
    pins = {"numpy": "2.4.6", "torch": "2.13.0"}
    assert versions_note({"numpy": "2.4.6", "torch": "2.13.0+cpu"}, pins) == "as pinned in constraints.txt"
    assert versions_note({"numpy": "2.5.0", "torch": "2.13.0"}, pins) == \
        "differ from constraints.txt: numpy 2.5.0 (pinned 2.4.6)"
    assert versions_note({"numpy": "2.5.0"}, {}).startswith("no constraints.txt")
    assert {canonicalize_name(name): version for name, version in pinned_versions().items()} == _pins()
