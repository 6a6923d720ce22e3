"""Bytes on the wire per temperature reading, over a 7-day backlog of a 72-slot cabinet.

The backlog is :func:`hal_sim.backlog.week_of_records` (8 probes read together every 10 s for a
week - one ``temperature_sample`` record per tick, 8 readings each - plus 5,000 other events),
packed into record batches exactly as the sync link sends them. Counted: every batch's encoded
message (the MQTT payload); not counted: MQTT fixed headers, topic and properties (about 60
bytes per batch, under 0.01 byte per reading at ~1,000 records a batch).

Target (issue 3): at most 12 bytes per temperature sample in the issue's sense - one probe's
reading - so the total is divided by :data:`~hal_sim.backlog.WEEK_OF_READINGS`. Since protocol
version 2 a record carries a whole tick, so bytes per record are printed too.

    .venv/bin/python benchmarks/wire_bytes.py
"""

from __future__ import annotations

import time

from agent.sync.protocol import BatchLimits, pack_batches
from hal_sim.backlog import WEEK_OF_READINGS, week_of_records

DEVICE = "cab-or-01"


def main() -> None:
    records = list(week_of_records(DEVICE))
    started = time.perf_counter()
    packed = pack_batches(DEVICE, records, historical=True, limits=BatchLimits())
    elapsed = time.perf_counter() - started
    total = sum(len(batch.data) for batch in packed)
    print(f"records            {len(records):>10,}")
    print(f"readings           {WEEK_OF_READINGS:>10,} (temperature samples of one probe)")
    print(f"batches            {len(packed):>10,}")
    print(f"bytes on the wire  {total:>10,}")
    print(f"per reading        {total / WEEK_OF_READINGS:>10.2f} bytes (target <= 12)")
    print(f"per record         {total / len(records):>10.2f} bytes")
    print(f"packing            {len(records) / elapsed:>10,.0f} records/s")


if __name__ == "__main__":
    main()
