"""``hemotrace sim``: one simulated device with its agent, on virtual time, until stopped.

:func:`run_simulator` loads the profile, starts the session on a
:class:`~hal_sim.clock.VirtualTimeLoop` and either shows the live view (a terminal) or writes
plain status lines (anything else). The run ends, with ``agent_stopping`` recorded, on SIGTERM,
Ctrl-C, the live view's quit key or once ``duration`` simulated seconds have passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.cli import load_or_report, stop_on_signals
from agent.config.schema import Profile
from agent.duration import format_duration
from hal_sim.clock import VirtualTimeLoop
from hal_sim.live.plain import status_period, write_status_lines
from hal_sim.session import SimSession, start_session

__all__ = ["run_simulator"]


def run_simulator(
    profile_path: Path, *, speed: float | None, duration: float | None, live: bool
) -> int:
    """Run the simulated device of the profile at ``profile_path``; see the module docstring.

    ``speed`` is simulated seconds per wall second (None: as fast as possible), ``duration``
    simulated seconds (None: until stopped), ``live`` whether to show the live view. Returns the
    exit code: 0, or 2 when the profile cannot be loaded (every problem printed to stderr).
    """
    profile = load_or_report(profile_path)
    if profile is None:
        return 2
    logs = _logs_held_back() if live else contextlib.nullcontext()
    with logs, asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(speed=speed)) as runner:
        runner.run(_simulate(profile, duration=duration, live=live))
    return 0


async def _simulate(profile: Profile, *, duration: float | None, live: bool) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    stop = stop_on_signals()
    # Simulated wall-clock time starts at the host's time: at speed 1 the view shows the time of
    # day a person expects.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    session = await start_session(profile, log_events=not live, wall_epoch=now)
    started_at = session.clock.monotonic()
    session.task.add_done_callback(lambda _: _resolve(stop, "the agent ended"))
    if duration is not None:
        loop.call_later(duration, _resolve, stop, f"simulated {format_duration(duration)} ran")
    try:
        if live:
            await _live(session, loop, stop, started_at)
        else:
            await _plain(session, loop, stop, started_at)
    finally:
        _resolve(stop, "simulation ended")
        await session.stop(stop.result())


async def _plain(
    session: SimSession, loop: VirtualTimeLoop, stop: asyncio.Future[str], started_at: float
) -> None:
    status = loop.create_task(
        write_status_lines(
            session, period_s=status_period(loop.speed), started_at=started_at, out=sys.stdout
        ),
        name="status-lines",
    )
    try:
        await stop
    finally:
        status.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await status


async def _live(
    session: SimSession, loop: VirtualTimeLoop, stop: asyncio.Future[str], started_at: float
) -> None:
    from hal_sim.live.app import LiveView  # noqa: PLC0415 - Textual only when it is shown

    app = LiveView(session, loop, started_at=started_at)
    stop.add_done_callback(lambda _: app.exit())
    await app.run_async()
    _resolve(stop, "live view closed")


def _resolve(stop: asyncio.Future[str], reason: str) -> None:
    if not stop.done():
        stop.set_result(reason)


@contextmanager
def _logs_held_back() -> Iterator[None]:
    """While the live view owns the terminal, keep the warnings and errors that would be
    logged to it (and scramble the screen), and log them once it is given back. The view shows
    the events themselves; routine log lines are dropped."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    held = _HoldingHandler()
    root.handlers[:] = [held]
    try:
        yield
    finally:
        root.handlers[:] = handlers
        for record in held.records:
            root.handle(record)


class _HoldingHandler(logging.Handler):
    """Keeps every record at WARNING or above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
