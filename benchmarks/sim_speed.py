"""Simulated time per wall second: the 72-slot cabinet, 8 probes sampled every second.

The whole agent runs - sampling (a tick a second: the 8 readings, one sample event), the sensor
watchers, the simulator's physics - on the virtual-time loop at full speed. Target (issue 2):
one simulated week in under 30 s of wall time on a 2-core machine.

    .venv/bin/python benchmarks/sim_speed.py            # one simulated week
    .venv/bin/python benchmarks/sim_speed.py --days 1   # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from agent.config import load_profile
from agent.events import EventType
from hal_sim.clock import VirtualTimeLoop
from hal_sim.session import start_session

PROFILE = Path(__file__).resolve().parents[1] / "config" / "cabinet-72.toml"
WEEK_S = 7 * 86400


async def simulate(seconds: float) -> tuple[float, int]:
    """Run the cabinet for ``seconds`` of simulated time; return (wall seconds, samples: one
    a tick, with a reading of each probe)."""
    profile = load_profile(PROFILE)
    assert len(profile.probes) == 8
    assert all(probe.interval_s == 1.0 for probe in profile.probes)
    session = await start_session(profile, log_events=False)
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - started
    await session.stop()
    return wall, session.counts[EventType.TEMPERATURE_SAMPLE]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0, help="simulated days (default 7)")
    args = parser.parse_args()
    seconds = args.days * 86400
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        wall, samples = runner.run(simulate(seconds))
    ratio = seconds / wall
    print(f"simulated {args.days:g} d of a 72-slot cabinet with 8 probes at 1 s")
    print(f"wall time          {wall:8.2f} s")
    print(f"speed              {ratio:8.0f} simulated s per wall s")
    print(f"samples recorded   {samples:8d} ({samples / wall:,.0f} per wall s, 8 readings each)")
    print(f"one week takes     {WEEK_S / ratio:8.2f} s  (target < 30 s)")


if __name__ == "__main__":
    main()
