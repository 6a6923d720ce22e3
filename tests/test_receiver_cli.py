"""``hemotrace-receiver query``: what arrived, by device, type and time."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import DoorChanged, TemperatureSample
from agent.payload_codec import encode_payload
from hospital_receiver.cli import main
from hospital_receiver.records import Identity, StoredRecord
from hospital_receiver.sqlite_store import SqliteStore

T0 = 1_767_600_000_000_000_000  # 2026-01-05T08:00:00Z


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
            stored(0, TemperatureSample("air-top", 4.1)),
            stored(1, DoorChanged("main", open=True)),
            stored(2, TemperatureSample("air-top", 6.5)),
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
    assert "celsius=6.5" in out


def test_bad_time_is_a_usage_error(database: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["query", "--db", str(database), "--since", "yesterday"])
    assert exited.value.code == 2


def test_unreachable_database_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 2
    assert "cannot open" in capsys.readouterr().err
