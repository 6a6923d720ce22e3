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
from dataclasses import dataclass
from pathlib import Path

from agent.cli import load_or_report, stop_on_signals
from agent.config.schema import Profile, SyncConfig
from agent.duration import format_duration
from agent.journal import Journal
from agent.runtime.boot_epoch import BootEpochError, next_boot_epoch
from agent.runtime.device_run import JOURNAL_FILE, NONCES_FILE
from agent.runtime.journal_supervisor import classify_for
from agent.sync.nonces import NonceStore
from hal_sim.clock import VirtualTimeLoop
from hal_sim.hospital import HospitalUnavailable, LocalHospital
from hal_sim.live.plain import status_period, write_status_lines
from hal_sim.session import SimSession, start_session

__all__ = ["run_simulator"]


def run_simulator(
    profile_path: Path,
    *,
    speed: float | None,
    duration: float | None,
    live: bool,
    state_dir: Path | None = None,
    sync: bool = True,
) -> int:
    """Run the simulated device of the profile at ``profile_path``; see the module docstring.

    ``speed`` is simulated seconds per wall second (None: as fast as possible), ``duration``
    simulated seconds (None: until stopped), ``live`` whether to show the live view. With a
    ``state_dir`` the device keeps its boot epoch and journal there, as a real one does, and -
    with ``sync`` - sends its records to a broker and receiver started in the same directory
    (the hospital side). Returns the exit code: 0, or 2 when the profile cannot be loaded
    (every problem printed to stderr) or the state directory is unusable.
    """
    profile = load_or_report(profile_path)
    if profile is None:
        return 2
    records: _Records | None = None
    if state_dir is not None:
        device_dir = state_dir / profile.device.id
        try:
            boot_epoch = next_boot_epoch(device_dir)
        except (BootEpochError, OSError) as error:
            print(f"hemotrace sim: {error}", file=sys.stderr)  # noqa: T201
            return 2
        records = _Records(device_dir, boot_epoch, _start_hospital(state_dir) if sync else None)
    logs = _logs_held_back() if live else contextlib.nullcontext()
    try:
        with logs, asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(speed=speed)) as runner:
            runner.run(_simulate(profile, duration=duration, live=live, records=records))
    finally:
        if records is not None and records.hospital is not None:
            records.hospital.stop()
    return 0


@dataclass(frozen=True, slots=True)
class _Records:
    """Where a simulated device keeps its records, and the hospital it sends them to."""

    device_dir: Path
    boot_epoch: int
    hospital: LocalHospital | None


def _start_hospital(state_dir: Path) -> LocalHospital | None:
    """The local broker and receiver; None (the device runs offline) if they cannot start."""
    hospital = LocalHospital(state_dir)
    try:
        hospital.start()
    except HospitalUnavailable as error:
        print(  # noqa: T201
            f"hemotrace sim: no hospital side: {error}. The device runs offline; its records"
            " wait in its journal.",
            file=sys.stderr,
        )
        return None
    return hospital


async def _simulate(
    profile: Profile, *, duration: float | None, live: bool, records: _Records | None
) -> None:
    if records is None:
        await _run_session(profile, duration=duration, live=live, journal=None, records=None)
        return
    journal = await Journal.open(
        records.device_dir / JOURNAL_FILE,
        device_id=profile.device.id,
        classify=classify_for(profile),
    )
    try:
        await _run_session(profile, duration=duration, live=live, journal=journal, records=records)
    finally:
        await journal.close()


async def _run_session(
    profile: Profile,
    *,
    duration: float | None,
    live: bool,
    journal: Journal | None,
    records: _Records | None,
) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    stop = stop_on_signals()
    # Simulated wall-clock time starts at the host's time: at speed 1 the view shows the time of
    # day a person expects.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hospital = None if records is None else records.hospital
    session = await start_session(
        profile,
        log_events=not live,
        wall_epoch=now,
        boot_epoch=1 if records is None else records.boot_epoch,
        journal=journal,
        sync=None if hospital is None else SyncConfig(broker_url=hospital.broker_url),
        nonces=None if records is None else NonceStore(records.device_dir / NONCES_FILE),
    )
    session.hospital = hospital
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
