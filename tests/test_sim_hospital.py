"""``hemotrace sim`` as the README's main command: the simulated device keeps a journal and
syncs it to a broker and hospital receiver it starts itself."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hal_sim.hospital import LocalHospital
from tests.support.broker import find_mosquitto


def test_sim_syncs_every_record_to_the_local_hospital(tmp_path: Path) -> None:
    find_mosquitto()  # fails with instructions when the broker is not installed
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "sim",
            "--plain",
            "--for",
            "10m",
            "--speed",
            "60",
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "sync link to mqtt://127.0.0.1:" in result.stderr
    with sqlite3.connect(tmp_path / "cab-or-01" / "journal.db") as journal:
        recorded = dict(
            journal.execute("SELECT sequence, acknowledged_wall_ns IS NOT NULL FROM records")
        )
        times = dict(journal.execute("SELECT sequence, monotonic_ns FROM records"))
        series = journal.execute(
            "SELECT series, COUNT(*) FROM records WHERE type = 'temperature_sample' GROUP BY series"
        ).fetchall()
    with sqlite3.connect(tmp_path / "hospital.db") as hospital:
        stored = [sequence for (sequence,) in hospital.execute("SELECT sequence FROM records")]
    acknowledged = {sequence for sequence, acked in recorded.items() if acked}
    # About ten simulated minutes of a tick a second, each the sample of all eight probes.
    ((probes, ticks),) = series
    assert len(probes.split(",")) == 8
    assert ticks > 550
    assert len(stored) == len(set(stored)), "nothing stored twice"
    assert acknowledged <= set(stored), "every acknowledged record is in the hospital's database"
    assert set(stored) <= set(recorded)
    # The last records (agent_stopping among them) may still be on their way when the run
    # ends; nothing older than the last simulated minute is.
    unacknowledged = set(recorded) - acknowledged
    last_minute = max(times.values()) - 60 * 10**9
    assert all(times[sequence] >= last_minute for sequence in unacknowledged)
    assert "status " in result.stdout
    assert re.search(r"sync up \(mqtt://127\.0\.0\.1:\d+\): hospital has all to #", result.stdout)


def test_the_hospital_reports_how_far_it_holds_a_device(tmp_path: Path) -> None:
    hospital = LocalHospital(tmp_path)
    assert hospital.stored("cab-1").contiguous_through == -1, "nothing before it starts"
    with hospital:
        assert hospital.port > 0
        assert hospital.broker_url == f"mqtt://127.0.0.1:{hospital.port}"
    assert (tmp_path / "receiver.log").read_text().count("subscribed") >= 1


@pytest.mark.parametrize("flag", ["--offline"])
def test_sim_offline_keeps_records_in_the_journal(tmp_path: Path, flag: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "sim",
            "--plain",
            "--for",
            "2m",
            "--speed",
            "max",
            "--state-dir",
            str(tmp_path),
            flag,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "hospital.db").exists()
    with sqlite3.connect(tmp_path / "cab-or-01" / "journal.db") as journal:
        (pending,) = journal.execute(
            "SELECT COUNT(*) FROM records WHERE acknowledged_wall_ns IS NULL"
        ).fetchone()
        (records,) = journal.execute("SELECT COUNT(*) FROM records").fetchone()
        (ticks,) = journal.execute(
            "SELECT COUNT(*) FROM records WHERE type = 'temperature_sample'"
        ).fetchone()
    assert pending == records, "nothing acknowledged"
    assert ticks >= 120, "two simulated minutes of a tick a second"
    assert "sync off" in result.stdout


def test_a_signal_stops_a_syncing_sim_at_full_speed(tmp_path: Path) -> None:
    """At full speed the device makes records far faster than they drain; an orderly stop must
    not wait for the whole backlog (it goes at the next start): the sim stops promptly and the
    pending records stay in the journal."""
    find_mosquitto()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "sim",
            "--plain",
            "--speed",
            "max",
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "sync link to mqtt://" in line:
                break
        time.sleep(3)  # a few simulated hours of records pile up
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert 'type=agent_stopping reason="signal SIGTERM"' in rest
