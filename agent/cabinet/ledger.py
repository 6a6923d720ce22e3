"""The cabinet's state and its journal, kept in step: the one way anything changes.

Invariant kept (commit before act, invariant 1): :meth:`Ledger.commit` journals an outcome and
only then applies it to the state; if the journal refuses, nothing is applied and the person is
told that nothing can be done. The workflows (:mod:`agent.cabinet.desk`,
:mod:`agent.cabinet.intake`, :mod:`agent.cabinet.hospital_desk`) change the state only through
here, and move hardware only after a commit returned True.
"""

from __future__ import annotations

import datetime as dt
import logging

from agent.cabinet.records import moment, nanoseconds, record_of
from agent.cabinet.screen import Screen, Tone
from agent.clock import Clock
from agent.dispensing_events import InventorySnapshot, RequestRefused
from agent.domain import Cabinet, DomainError
from agent.domain.outcomes import CabinetEvent
from agent.domain.refusals import Refusal
from agent.events import Payload
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable

__all__ = ["Ledger"]

_log = logging.getLogger(__name__)


class Ledger:
    """The domain state, the event stream it is journaled through, the clock and the screen.

    ``user`` is whoever is signed in (named in refusals)."""

    def __init__(
        self, *, cabinet: Cabinet, stream: EventStream, clock: Clock, screen: Screen
    ) -> None:
        self.cabinet = cabinet
        self.stream = stream
        self.clock = clock
        self.screen = screen
        self.user: str | None = None

    def now(self) -> dt.datetime:
        """The wall-clock moment, aware UTC."""
        return moment(self.clock.wall_ns())

    def monotonic(self) -> float:
        """Monotonic seconds (delays and relocks run on these, invariant 7)."""
        return self.clock.monotonic()

    async def record(self, payload: Payload) -> bool:
        """Journal ``payload``; False, with the person told, if the journal refused it."""
        try:
            await self.stream.record(payload)
        except SinkUnavailable:
            self.screen.show(
                "The cabinet cannot keep its records right now, so nothing can be taken or "
                "put in. Call the blood bank.",
                Tone.ALARM,
            )
            return False
        return True

    async def commit(self, outcome: CabinetEvent, *, flags: str = "00") -> bool:
        """Journal ``outcome``, then apply it; False (and nothing applied) if the journal
        refused it."""
        if not await self.record(record_of(outcome, flags=flags)):
            return False
        try:
            self.cabinet = self.cabinet.apply(outcome)
        except DomainError:
            _log.exception("a journaled outcome did not apply: %s", outcome)
            return False
        return True

    async def refuse(self, action: str, refusal: Refusal, subject: str) -> None:
        """Tell the person why ``action`` is refused, and journal it."""
        self.screen.show(refusal.message, Tone.REFUSED)
        await self.record(
            RequestRefused(action, str(refusal.code), refusal.message, self.user, subject)
        )

    async def snapshot(self, reason: str) -> None:
        """Journal the inventory as it is now (after every change, and on request)."""
        cabinet = self.cabinet
        units = sorted(
            (unit for unit in cabinet.inventory.units.values() if unit.slot is not None),
            key=lambda unit: unit.slot or 0,
        )
        await self.record(
            InventorySnapshot(
                reason=reason,
                slots=tuple(unit.slot or 0 for unit in units),
                dins=tuple(unit.din for unit in units),
                states=tuple(unit.state.value for unit in units),
                expiries_ns=tuple(nanoseconds(unit.expiry) for unit in units),
                blood_groups=tuple(unit.blood_group.value for unit in units),
                product_codes=tuple(unit.identity.product_code for unit in units),
                badge_list_stale=cabinet.badges.stale(
                    self.now(), cabinet.policy.badge_list_max_age
                ),
            )
        )
