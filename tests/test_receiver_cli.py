"""``hemotrace-receiver query``: what arrived, by device, type and time."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cbor2
import pytest

from agent.events import DoorChanged, TemperatureSample
from agent.payload_codec import encode_payload
from hospital_receiver.cli import main
from hospital_receiver.records import Identity, StoredRecord
from hospital_receiver.sqlite_store import SqliteStore

T0 = 1_767_600_000_000_000_000  # 2026-01-05T08:00:00Z
LEGACY_SAMPLE = cbor2.dumps({"probe": "air-top", "celsius": 3.9})


def stored(
    sequence: int, payload: TemperatureSample | DoorChanged, device: str = "cab-1"
) -> StoredRecord:
    return StoredRecord(
        identity=Identity(device, 1, sequence),
        type=payload.TYPE.value,
        wall_ns=T0 + sequence * 60_000_000_000,
        monotonic_ns=sequence,
        clock_synchronised=True,
        payload=encode_payload(payload),
        historical=sequence < 2,
    )


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    store = SqliteStore(path)
    store.commit(
        [
            stored(0, TemperatureSample(("air-top", "product-top"), (4.1, 4.0))),
            stored(1, DoorChanged("main", open=True)),
            stored(2, TemperatureSample(("air-top", "product-top"), (6.5, 4.2))),
            stored(3, DoorChanged("main", open=False)),
            stored(0, DoorChanged("door", open=True), device="fridge-1"),
        ]
    )
    store.close()
    return path


def test_query_by_device_and_type(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["query", "--db", str(database), "--device", "cab-1", "--type", "door_changed"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "cab-1/1/1 2026-01-05T08:01:00.000+00:00 door_changed historical door=main open=True",
        "cab-1/1/3 2026-01-05T08:03:00.000+00:00 door_changed door=main open=False",
    ]


def test_query_by_time_range(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "query",
                "--db",
                str(database),
                "--since",
                "2026-01-05T08:01:00Z",
                "--until",
                "2026-01-05T08:03:00",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == ["cab-1/1/1", "cab-1/1/2"]
    assert "probes=air-top,product-top celsius=6.5,4.2" in out


def test_a_sample_received_from_protocol_version_1_is_shown_as_a_tick(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records stored before samples became ticks hold ``{"probe": p, "celsius": c}``: they
    read as the tick of that one probe."""
    path = tmp_path / "r.db"
    store = SqliteStore(path)
    earlier = stored(0, DoorChanged("main", open=True))
    store.commit([dataclasses.replace(earlier, type="temperature_sample", payload=LEGACY_SAMPLE)])
    store.close()
    assert main(["query", "--db", str(path)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line == (
        "cab-1/1/0 2026-01-05T08:00:00.000+00:00 temperature_sample historical"
        " probes=air-top celsius=3.9"
    )


def test_bad_time_is_a_usage_error(database: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["query", "--db", str(database), "--since", "yesterday"])
    assert exited.value.code == 2


def test_unreachable_database_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 2
    assert "cannot open" in capsys.readouterr().err
