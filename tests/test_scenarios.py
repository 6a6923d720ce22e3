"""Scripted simulator runs: the shipped scenarios pass, false expectations fail with a report
naming the step, and every problem in a scenario file is reported before anything runs."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hal_sim.scenario import ScenarioError, load_scenario, run_scenario_files

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _run(*paths: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run_scenario_files(list(paths), None, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda path: path.stem)
def test_shipped_scenario_passes(path: Path) -> None:
    code, report = _run(path)
    assert code == 0, report
    assert "FAIL" not in report
    assert report.endswith("1 scenario: 1 passed, 0 failed, 0 not loaded\n")


def test_every_profile_has_a_shipped_scenario() -> None:
    profiles = {load_scenario(path).profile.device.kind for path in SCENARIOS.glob("*.toml")}
    assert {kind.value for kind in profiles} == {"cabinet", "fridge", "transport"}


CABINET_DOOR = """
    [scenario]
    name = "door"
    profile = "cabinet"

    [[step]]
    at = "1m"
    do = "open_door"
    force = true

    [[step]]
    at = "2m"
    expect = "temperature"
    probe = "air-top"
    below = 6.0                  # false: an open door warms the air past 8 °C in a minute

    [[step]]
    at = "2m"
    expect = "event"
    type = "door_changed"
    where = { open = true }
"""


def test_a_false_expectation_fails_and_the_report_names_the_step(tmp_path: Path) -> None:
    code, report = _run(_write(tmp_path, CABINET_DOOR))
    assert code == 1
    lines = report.splitlines()
    failed = [line for line in lines if line.lstrip().startswith("FAIL  step")]
    assert len(failed) == 1
    assert "step  2 at      2m00s  temperature air-top below 6 °C: read" in failed[0]
    assert any("PASS  step  3" in line and "door_changed" in line for line in lines)
    assert "0 passed, 1 failed" in report


def test_a_refusal_must_be_the_one_expected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "refusals"
        profile = "cabinet"

        [[stock]]
        slot = 1
        din = "A999926000003"

        [[step]]
        at = "1m"
        do = "take_unit"
        slot = 1
        expect_error = "slot 1 is locked"     # as expected

        [[step]]
        at = "1m"
        do = "take_unit"
        slot = 1                              # refused, unexpectedly

        [[step]]
        at = "1m"
        do = "take_unit"
        slot = 1
        force = true
        expect_error = "is locked"            # done, unexpectedly

        [[step]]
        at = "1m"
        do = "take_unit"
        slot = 1
        expect_error = "is jammed"            # refused, but not for this reason
        """,
    )
    code, report = _run(path)
    assert code == 1
    verdicts = [line.split()[:3] for line in report.splitlines() if "  step " in line]
    assert verdicts == [
        ["PASS", "step", "1"],
        ["FAIL", "step", "2"],
        ["FAIL", "step", "3"],
        ["FAIL", "step", "4"],
    ]
    assert "refused: slot 1 is locked" in report
    assert "done, not refused" in report


def test_events_in_a_window_counts_and_payload_matches(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "windows"
        profile = "fridge"
        duration = "30m"

        [[unit]]
        din = "A999926000005"
        tag = "E0040000000000AA"

        [[step]]
        at = "5m"
        do = "open_door"
        force = true

        [[step]]
        at = "5m"
        do = "put_unit"
        din = "A999926000005"

        [[step]]
        at = "6m"
        do = "close_door"

        [[step]]
        at = "6m"
        expect = "event"
        type = "tags_changed"
        where = { arrived = "E0040000000000AA", left = [] }
        since = "6m"

        [[step]]
        at = "6m"
        expect = "count"
        type = "door_changed"
        since = "5m"
        exactly = 2

        [[step]]
        at = "10m"
        expect = "no_event"
        type = "door_changed"
        since = "6m30s"

        [[step]]
        at = "10m"
        expect = "temperature"
        probe = "product-middle"
        between = [2.0, 6.0]
        since = "1m"
        """,
    )
    code, report = _run(path)
    assert code == 0, report


def test_every_format_problem_is_reported_before_anything_runs(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "broken"
        profile = "cabinet"
        colour = "red"

        [[stock]]
        din = "A999926000001"
        slot = 2                     # the first unit stocked goes into slot 1

        [[step]]
        at = "10m"
        do = "open_dor"

        [[step]]
        at = "5m"
        expect = "temperature"
        probe = "air-middle"
        above = 7.0

        [[step]]
        at = "20m"
        expect = "event"
        type = "door_changed"
        where = { opened = true }
        since = "30m"

        [[step]]
        at = "20m"
        do = "close_door"
        expect = "door"

        [[step]]
        at = "20m"
        do = "probe_fault"
        probe = "air-top"
        mode = "melted"
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    keys = [problem.key for problem in caught.value.problems]
    assert keys == [
        "scenario.colour",
        "stock[1].slot",
        "step[1].do",
        "step[2].at",
        "step[2].probe",
        "step[3].where.opened",
        "step[3].since",
        "step[4]",
        "step[5].mode",
    ]
    assert all(line.startswith(f"{path}: ") for line in str(caught.value).splitlines())

    code, report = _run(path)
    assert code == 2
    assert "9 problems, not run" in report
    assert "PASS" not in report
    assert 'step[2].probe: expected a probe name: "air-top"' in report


def test_a_profile_that_does_not_load_is_a_format_problem(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "no profile"
        profile = "missing.toml"

        [[step]]
        at = "0s"
        expect = "power"
        on_mains = true
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    assert problem.key == "scenario.profile"
    assert "missing.toml" in problem.found


def test_an_error_in_one_file_does_not_stop_the_others(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\n", encoding="utf-8")
    code, report = _run(broken, SCENARIOS / "transport-trip.toml")
    assert code == 2
    assert "2 scenarios: 1 passed, 0 failed, 1 not loaded" in report


@pytest.mark.slow
def test_a_simulated_day_of_a_cabinet(tmp_path: Path) -> None:
    """A day of eight probes sampled every second runs in seconds of wall time (the benchmark
    measures how many)."""
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "a quiet day"
        profile = "cabinet"
        duration = "1d"

        [[step]]
        at = "1d"
        expect = "temperature"
        probe = "product-bottom"
        between = [2.0, 6.0]
        since = "0s"

        [[step]]
        at = "1d"
        expect = "no_event"
        type = "probe_fault"
        """,
    )
    code, report = _run(path)
    assert code == 0, report
    assert "86401 readings" in report


def test_the_command_line_runs_scenarios() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "sim", "run", str(SCENARIOS / "transport-trip.toml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 scenario: 1 passed, 0 failed, 0 not loaded" in result.stdout
    assert "msg=event" in result.stderr  # the agent's event log goes to the logging system


def test_a_cabinet_unit_the_technician_cannot_stock_fails_the_run_with_the_reason(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "expired stock"
        profile = "cabinet"

        [[stock]]
        din = "A999926000001"
        expires = 2026-01-01T00:00:00Z

        [[step]]
        at = "1m"
        expect = "unit"
        din = "A999926000001"
        state = "in_stock"
        """,
    )
    code, report = _run(path)
    assert code == 1
    assert "FAIL  stocking the cabinet: Unit A999926000001 expired" in report
    assert "no step was run" in report


def test_cabinet_expectations_report_what_the_cabinet_shows(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "cabinet state"
        profile = "cabinet"

        [[stock]]
        din = "A999926000001"

        [[step]]
        at = "1m"
        expect = "unit"
        din = "A999926000001"
        state = "allocated"           # false: nothing allocated it

        [[step]]
        at = "1m"
        expect = "screen"
        says = "Present your badge"
        tone = "info"

        [[step]]
        at = "1m"
        do = "allocate"
        din = "A999926000001"
        patient = "P-1"
        order = "O-1"
        hours = 2.0
        """,
    )
    code, report = _run(path)
    assert code == 1
    assert "FAIL  step  1 at      1m00s  unit A999926000001 allocated: in_stock in slot 1" in report
    assert 'PASS  step  2 at      1m00s  screen says "Present your badge" (info)' in report
    assert "PASS  step  3" in report


def test_a_cabinet_with_stock_needs_its_badge_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [scenario]
        name = "no list"
        profile = "cabinet"
        badge_list = false

        [[stock]]
        din = "A999926000001"

        [[step]]
        at = "1m"
        do = "present_badge"
        staff = "janitor"
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert [problem.key for problem in caught.value.problems] == [
        "scenario.badge_list",
        "step[1].staff",
    ]
