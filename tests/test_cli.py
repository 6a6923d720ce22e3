"""The ``hemotrace`` command as an operator uses it: exit codes and what it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "config").glob("*.toml"))


def test_config_check_accepts_every_shipped_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", *map(str, PROFILES)]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok (") == len(PROFILES)


def test_config_check_reports_every_problem_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    text = (ROOT / "config" / "fridge.toml").read_text()
    text = text.replace('kind = "fridge"', 'kind = "freezer"').replace(
        "interval_s = 10.0", "interval_s = -1", 1
    )
    broken.write_text(text)
    assert main(["config", "check", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}: device.kind" in err
    assert "freezer" in err
    assert "interval_s" in err


def test_config_check_of_a_missing_file_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(tmp_path / "nope.toml")]) == 1
    assert "nope.toml" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dispense-everything"])
    assert exited.value.code == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_in_order_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    """The device command records its start, runs, and on SIGTERM or Ctrl-C records why it
    stops and exits 0; the boot epoch it used is persisted."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "run",
            "--profile",
            str(ROOT / "config" / "transport.toml"),
            "--state-dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if "agent started" in line:
            break
    else:
        process.kill()
        pytest.fail("the agent did not start:\n" + "".join(lines))
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert f'type=agent_stopping reason="signal {signum.name}"' in rest
    assert (tmp_path / "box-017" / "boot_epoch").read_text().strip() == "1"


def test_run_with_a_corrupt_journal_alarms_and_waits_instead_of_crashing(tmp_path: Path) -> None:
    """A damaged journal must not become a restart loop: the agent stays up, logs why nothing
    can be recorded, leaves the file for an operator, and stops in order when asked."""
    device_dir = tmp_path / "box-017"
    device_dir.mkdir()
    garbage = b"this is not a database" * 100
    (device_dir / "journal.db").write_bytes(garbage)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "run",
            "--profile",
            str(ROOT / "config" / "transport.toml"),
            "--state-dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while time.monotonic() < deadline and "journal unavailable" not in seen:
        seen += process.stderr.readline()
    assert "journal unavailable" in seen, seen
    assert "corrupt" in seen
    assert process.poll() is None, "still running, not crashed"
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 0
    assert (device_dir / "journal.db").read_bytes() == garbage
