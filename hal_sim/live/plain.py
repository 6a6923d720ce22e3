"""The plain mode of ``hemotrace sim``: no terminal UI, for CI, pipes and logs.

Events are logged by the session (to stderr, as logfmt); this adds a status line on the device
to ``out`` at a fixed simulated period until asked to stop.
"""

from __future__ import annotations

import asyncio
from typing import TextIO

from hal_sim.live.describe import status_line
from hal_sim.session import SimSession

__all__ = ["status_period", "write_status_lines"]

_REAL_TIME_LIMIT = 60.0
"""Up to this speed-up a status line comes every simulated minute; faster, every hour."""


def status_period(speed: float | None) -> float:
    """Simulated seconds between status lines at ``speed`` (None: as fast as possible)."""
    return 60.0 if speed is not None and speed <= _REAL_TIME_LIMIT else 3600.0


async def write_status_lines(
    session: SimSession, *, period_s: float, started_at: float, out: TextIO
) -> None:
    """Write a status line to ``out`` every ``period_s`` simulated seconds, and a last one
    when cancelled (so that a run always ends with the device's final state)."""
    try:
        while True:
            await asyncio.sleep(period_s)
            print(status_line(session, started_at), file=out, flush=True)
    finally:
        print(status_line(session, started_at), file=out, flush=True)
