"""Nothing acknowledged is lost: a process appending to the journal is killed with SIGKILL at
random moments; every sequence it reported as appended is in the journal afterwards."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

CHILD = """
import asyncio, sys
from pathlib import Path
from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.journal import Journal

async def main():
    journal = await Journal.open(Path(sys.argv[1]), device_id="crash-dev")
    next_sequence = journal.next_sequence
    print("start", next_sequence, flush=True)

    async def producer(index):
        nonlocal next_sequence
        while True:
            sequence = next_sequence
            next_sequence += 1
            if sequence % 7 == 0:
                payload = DoorChanged("d", True)
            else:
                payload = TemperatureSample((f"p{index}", "q"), (4.0, 4.5))
            await journal.append(Event(RecordId("crash-dev", 1, sequence), 0, 0, True, payload))
            print(sequence, flush=True)

    await asyncio.gather(*(producer(i) for i in range(8)))

asyncio.run(main())
"""


def test_every_reported_append_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    rng = random.Random(20240607)
    reported: set[int] = set()
    starts: list[int] = []
    root = Path(__file__).resolve().parents[1]
    for _ in range(5):
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], cwd=root, stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            word, start = child.stdout.readline().split()
            assert word == "start"
            assert int(start) > max(reported, default=-1)  # no sequence is ever reused
            starts.append(int(start))
            for _ in range(rng.randint(1, 400)):
                reported.add(int(child.stdout.readline()))
            child.send_signal(signal.SIGKILL)
            reported.update(int(line) for line in child.stdout.read().split())
        assert child.returncode == -signal.SIGKILL
    connection = sqlite3.connect(path)
    try:
        present = {s for (s,) in connection.execute("SELECT sequence FROM records")}
    finally:
        connection.close()
    assert reported <= present
    assert starts == sorted(set(starts))
