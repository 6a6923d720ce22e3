"""Units coming into the cabinet: stock-in and returns, from the scans to the unit in its slot.

A unit is held on the scanning station; its labels are scanned and its tag read there, so the
cabinet checks the label, the tag and the product *before* any slot opens. The slot chosen for
it is released (journaled first), and the unit counts as in stock - or returned, or
quarantined - only once the slot's presence sensor and its RFID antenna both confirm the
scanned unit is in it (brief, section 3). A slot not filled in time locks again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agent.cabinet.labels import unit_identity
from agent.cabinet.ledger import Ledger
from agent.cabinet.screen import Tone
from agent.cabinet.slot_actions import SlotActions
from agent.cabinet.terminal import Mode, Session
from agent.config.dispensing import DispensingConfig
from agent.dispensing_events import SlotsReleased
from agent.domain.outcomes import StockedIn, UnitReturned
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.returns import TemperatureSummary
from agent.events import HardwareFault
from agent.hal.errors import HalError
from agent.isbt128 import Din, LabelError, MissingStructure, ProductTable, UnitLabel, parse_scan
from agent.isbt128.scan import flatten

__all__ = ["Intake"]


@dataclass(frozen=True, slots=True)
class _Held:
    """The unit on the scanning station: its tag, and the DIN the tag carries."""

    tag_uid: str
    din: str


@dataclass(frozen=True, slots=True)
class _Placement:
    """A slot opened for a unit to be put in: confirmed when presence and RFID agree."""

    outcome: StockedIn | UnitReturned
    tag_uid: str
    flags: str
    deadline: float

    @property
    def din(self) -> str:
        outcome = self.outcome
        return outcome.din if isinstance(outcome, UnitReturned) else outcome.identity.din


class Intake:
    """Stock-in and returns for one cabinet; see the module docstring. ``left_storage`` is when
    each dispensed unit left the cabinet (for the return rule)."""

    def __init__(
        self,
        ledger: Ledger,
        actions: SlotActions,
        *,
        settings: DispensingConfig,
        products: ProductTable | None,
        release_s: float,
    ) -> None:
        self._ledger = ledger
        self._actions = actions
        self._settings = settings
        self._products = products
        self._release_s = release_s
        self._placements: dict[int, _Placement] = {}
        self.left_storage: dict[str, dt.datetime] = {}
        self.histories: dict[str, TemperatureSummary] = {}
        """Temperature histories the hospital sent for dispensed units, by DIN."""

    def expecting(self, slot: int) -> bool:
        """Whether slot ``slot`` is open for a unit to be put in."""
        return slot in self._placements

    async def expire(self) -> None:
        """Lock again the slots not filled in time."""
        mono = self._ledger.monotonic()
        for slot, placement in list(self._placements.items()):
            if mono >= placement.deadline:
                del self._placements[slot]
                await self._actions.close(slot)
                await self._ledger.refuse(
                    "put_in",
                    Refusal(
                        RefusalCode.INVALID_REQUEST,
                        f"Slot {slot} was not filled in time and is locked again; start over.",
                    ),
                    placement.din,
                )

    async def cancel(self) -> None:
        """Lock every slot still waiting for a unit (the person signed out)."""
        for slot in list(self._placements):
            del self._placements[slot]
            await self._actions.close(slot)

    async def stock_scan(self, session: Session, data: str) -> Session:
        """A label barcode scanned on stock-in; the session with the scans kept so far."""
        session = session.scanned(data, self._ledger.monotonic())
        fresh = session.choose(Mode.STOCK_IN, self._ledger.monotonic())
        try:
            label = UnitLabel.from_scans(*session.scans)
        except MissingStructure as missing:
            self._ledger.screen.show(
                f"Scanned. Now scan the rest of the label: {missing.detail}.", Tone.ACT
            )
            return session
        except LabelError as error:
            await self._ledger.refuse(
                "stock_in",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    f"The label cannot be read: {error}. Scan it again.",
                ),
                data,
            )
            return fresh
        station = await self._station()
        if isinstance(station, Refusal):
            await self._ledger.refuse("stock_in", station, label.din.code)
            return fresh
        identity = unit_identity(
            label,
            tag_uid=station.tag_uid,
            products=self._products,
            tz=self._settings.label_timezone,
        )
        if isinstance(identity, Refusal):
            await self._ledger.refuse("stock_in", identity, label.din.code)
            return fresh
        now = self._ledger.now()
        decision = self._ledger.cabinet.stock_in(
            identity, tag_din=station.din, user=session.user, now=now
        )
        if isinstance(decision, Refusal):
            await self._ledger.refuse("stock_in", decision, label.din.code)
            return fresh
        await self._open_for(decision, "stock_in", station.tag_uid, label.din.flags)
        return fresh

    async def _open_for(
        self, outcome: StockedIn | UnitReturned, purpose: str, tag_uid: str, flags: str
    ) -> None:
        """Open a free slot for a unit to be put in; the outcome is journaled once presence
        and RFID confirm it (or, for a refused return with no slot, at once)."""
        assert outcome.slot is not None
        slot = outcome.slot
        din = outcome.identity.din if isinstance(outcome, StockedIn) else outcome.din
        user = outcome.user_id
        mono = self._ledger.monotonic()
        released = SlotsReleased(
            purpose,
            user,
            None,
            "",
            None,
            (slot,),
            (din,),
            ("",),
            (round((mono + self._release_s) * 1e9),),
        )
        if not await self._ledger.record(released):
            return
        error = await self._actions.open(slot)
        if error is not None:
            await self._ledger.record(
                HardwareFault(error.part, type(error).__name__, f"slot {slot}: {error.detail}")
            )
            self._ledger.screen.show(f"Slot {slot} did not open. Call the blood bank.", Tone.ALARM)
            return
        self._placements[slot] = _Placement(outcome, tag_uid, flags, mono + self._release_s)
        self._ledger.screen.show(f"Put unit {din} into slot {slot}.", Tone.ACT)

    async def _station(self) -> _Held | Refusal:
        """The unit on the scanning station, its tag and the DIN its tag carries; or why no
        unit can come in now (a slot is already open for one, the tag cannot be read)."""
        for slot, placement in self._placements.items():
            return Refusal(
                RefusalCode.INVALID_REQUEST,
                f"First put unit {placement.din} into slot {slot}, which is open for it.",
            )
        station = await self._actions.read_station()
        if station.problem is not None or station.tag_uid is None or station.din is None:
            return Refusal(RefusalCode.TAG_MISMATCH, station.problem or "The tag cannot be read.")
        return _Held(station.tag_uid, station.din)

    def _returned_din(self, data: str) -> str | Refusal | None:
        """The DIN a return scan carries; None for the rest of a label whose DIN was scanned
        already (nothing to do); a refusal for anything else."""
        try:
            dins = [item for item in flatten(parse_scan(data)) if isinstance(item, Din)]
        except LabelError as error:
            return Refusal(RefusalCode.INVALID_REQUEST, f"The label cannot be read: {error}.")
        if not dins and self._placements:
            return None
        if len(dins) != 1:
            return Refusal(RefusalCode.INVALID_REQUEST, "Scan the returned unit's DIN barcode.")
        return dins[0].code

    async def return_scan(self, session: Session, data: str) -> None:
        """A returned unit's DIN scanned: judge it and open a slot for it, or refuse."""
        din = self._returned_din(data)
        if isinstance(din, Refusal):
            await self._ledger.refuse("return", din, data)
            return
        if din is None:
            return
        station = await self._station()
        if isinstance(station, Refusal):
            await self._ledger.refuse("return", station, din)
            return
        if station.din != din:
            await self._ledger.refuse(
                "return",
                Refusal(
                    RefusalCode.TAG_MISMATCH,
                    f"The unit on the station carries DIN {station.din} on its tag, not {din}.",
                ),
                din,
            )
            return
        now = self._ledger.now()
        left = self.left_storage.get(din, now)
        decision = self._ledger.cabinet.return_decision(
            session.user,
            din,
            left_storage_at=left,
            returned_at=now,
            temperature=self.histories.get(din),
        )
        if isinstance(decision, Refusal):
            await self._ledger.refuse("return", decision, din)
            return
        if decision.slot is None:
            if await self._ledger.commit(decision):
                self._ledger.screen.show(
                    f"Unit {din} cannot go back into stock ({decision.reason}) and there is no "
                    "free slot: hand it to the blood bank.",
                    Tone.REFUSED,
                )
                await self._ledger.snapshot("return")
            return
        await self._open_for(decision, "return", station.tag_uid, "00")

    async def filled(self, slot: int) -> bool:
        """Slot ``slot`` now holds something; False if it was not opened for a unit."""
        placement = self._placements.get(slot)
        if placement is None:
            await self._ledger.refuse(
                "put_in",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    f"Something was put into slot {slot}, which was not opened for it.",
                ),
                str(slot),
            )
            return False
        tags = await self._actions.tags_in(slot)
        if isinstance(tags, HalError) or placement.tag_uid not in tags:
            await self._ledger.refuse(
                "put_in",
                Refusal(
                    RefusalCode.TAG_MISMATCH,
                    f"The unit in slot {slot} is not the one scanned: take it out and put "
                    "the scanned unit in.",
                ),
                str(slot),
            )
            return True
        del self._placements[slot]
        if not await self._ledger.commit(placement.outcome, flags=placement.flags):
            return True
        await self._actions.close(slot)
        if isinstance(placement.outcome, UnitReturned):
            self.left_storage.pop(placement.outcome.din, None)
            self.histories.pop(placement.outcome.din, None)
            verdict = "back in stock" if placement.outcome.accepted else "QUARANTINED"
            self._ledger.screen.show(
                f"Unit {placement.outcome.din} is {verdict} in slot {slot}: "
                f"{placement.outcome.reason}.",
                Tone.INFO if placement.outcome.accepted else Tone.REFUSED,
            )
            await self._ledger.snapshot("return")
        else:
            self._ledger.screen.show(
                f"Unit {placement.outcome.identity.din} is in stock in slot {slot}. Scan the "
                "next unit's labels."
            )
            await self._ledger.snapshot("stock_in")
        return True
