"""Running the agent on a device: state directory, boot epoch, journal, sync link, the agent.

What ``hemotrace run`` does once the profile is loaded. The journal is opened before anything
is recorded (invariant 1); if it cannot be opened - a corrupt file, a read-only mount - the
agent does not exit (a service manager would restart it in a loop): it shows the alarm on the
indicator, logs why, and retries every ``retry_s`` until the journal opens or a stop is
requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from agent.clock import Clock
from agent.config.schema import Profile
from agent.hal.errors import HalError
from agent.hal.hardware import Backend
from agent.hal.parts import IndicatorState
from agent.journal import Journal, JournalUnavailable
from agent.runtime.agent import Agent
from agent.runtime.event_log import log_event
from agent.runtime.journal_supervisor import classify_for
from agent.runtime.stream import EventStream
from agent.sync.link import SyncLink
from agent.sync.nonces import NonceStore

__all__ = ["JOURNAL_FILE", "NONCES_FILE", "open_journal", "run_device"]

JOURNAL_FILE = "journal.db"
NONCES_FILE = "command-nonces.db"

_log = logging.getLogger(__name__)


async def open_journal(
    path: Path,
    *,
    profile: Profile,
    backend: Backend,
    stop: asyncio.Future[str],
    retry_s: float = 30.0,
) -> Journal | None:
    """The device's journal, once it opens; None if a stop came first."""
    while not stop.done():
        try:
            return await Journal.open(
                path, device_id=profile.device.id, classify=classify_for(profile)
            )
        except JournalUnavailable as error:
            _log.error("journal unavailable, nothing can be recorded: %s", error.reason)
            try:
                await backend.hardware.indicator.show(IndicatorState.ALARM)
            except HalError as indicator_error:
                _log.error("cannot sound the alarm: %s", indicator_error)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(retry_s):
                    await asyncio.shield(stop)
    return None


async def run_device(
    profile: Profile,
    *,
    backend: Backend,
    clock: Clock,
    boot_epoch: int,
    device_dir: Path,
    stop: asyncio.Future[str],
) -> None:
    """Open the journal, run the agent (and its sync link when the profile has ``[sync]``)
    until ``stop`` resolves, close the journal."""
    journal = await open_journal(
        device_dir / JOURNAL_FILE, profile=profile, backend=backend, stop=stop
    )
    if journal is None:
        return
    try:
        stream = EventStream(
            device_id=profile.device.id,
            boot_epoch=boot_epoch,
            clock=clock,
            sink=journal,
            first_sequence=journal.next_sequence,
        )
        stream.observe(log_event)
        link = (
            None
            if profile.sync is None
            else SyncLink(
                config=profile.sync,
                site=profile.device.site,
                boot_epoch=boot_epoch,
                journal=journal,
                stream=stream,
                clock=clock,
                nonces=NonceStore(device_dir / NONCES_FILE),
            )
        )
        agent = Agent(
            profile=profile,
            backend=backend,
            clock=clock,
            stream=stream,
            journal=journal,
            link=link,
        )
        await agent.run(stop)
    finally:
        await journal.close()
