"""The dispensing cabinet's service: people, the hospital and time, turned into decisions,
records and slot actions.

Inputs: badges and scans (from the readers, through :mod:`agent.runtime.watchers`), choices
on the touch screen (:meth:`CabinetDesk.choose`), slots emptied or filled (the presence
watch), the hospital's decisions (commands, through :class:`~agent.sync.commands.CommandDesk`)
and a one-second tick (relocks, sign-out, expiry).

Every step follows the same order, which is the invariant this module keeps:

1. the domain decides (:class:`~agent.domain.Cabinet`; pure, nothing changes yet);
2. the outcome is **journaled** - ``await stream.record`` returns once it is committed;
3. the outcome is applied to the state;
4. only then does hardware move (a lock released, a light lit).

If the journal refuses (:class:`~agent.sink.SinkUnavailable`), steps 3 and 4 never happen:
no slot opens without its record (invariant 1). Every refusal is shown on the screen *and*
journaled. Steps are serialised (one lock), so two inputs never interleave their decisions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from agent.cabinet.labels import unit_identity
from agent.cabinet.records import moment, nanoseconds, record_of
from agent.cabinet.replay import rebuild
from agent.cabinet.screen import Screen, Tone
from agent.cabinet.slot_actions import SlotActions
from agent.cabinet.terminal import Mode, Session
from agent.clock import Clock
from agent.config.dispensing import DispensingConfig
from agent.dispensing_events import (
    BadgeListUpdated,
    ExpiryWarning,
    InventorySnapshot,
    RequestRefused,
    SignedIn,
    SlotsReleased,
)
from agent.domain import Cabinet, DomainError
from agent.domain.blood import BloodGroup
from agent.domain.lockout import ReaderLockout
from agent.domain.outcomes import (
    AllocationCancelled,
    CabinetEvent,
    Incident,
    OrderCancelled,
    SlotGrant,
    SlotsRelocked,
    StockedIn,
    UnitDispensed,
    UnitDisposed,
    UnitReturned,
    UnlockPlan,
)
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.units import UnitState
from agent.domain.users import BadgeList, Role, User
from agent.events import Event, HardwareFault, Payload
from agent.hal.errors import HalError
from agent.hal.hardware import Hardware
from agent.hal.parts import Indicator, IndicatorState
from agent.isbt128 import Din, LabelError, MissingStructure, ProductTable, UnitLabel, parse_scan
from agent.isbt128.scan import flatten
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable
from agent.sync.protocol import Allocate, Cancel, ElectronicIssue, Inventory
from agent.sync.protocol import BadgeList as BadgeListCommand

__all__ = ["CabinetDesk", "Choice"]

_log = logging.getLogger(__name__)

_WRISTBAND = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A patient wristband scan: the patient's identifier (anything that is not an ISBT label)."""

_SWEEP_EVERY_S = 60.0
_RFID_RETRIES = 3

Choice = str
"""A touch-screen choice: ``dispense``, ``stock_in``, ``return``, ``emergency`` (with a
reason), ``dispose``, ``acknowledge`` (an incident alarm) or ``sign_out``."""


def _relocked_by(outcome: CabinetEvent) -> tuple[SlotGrant, ...]:
    """The released slots a hospital decision locks again."""
    if isinstance(outcome, OrderCancelled):
        return outcome.relocked
    if isinstance(outcome, AllocationCancelled) and outcome.relocked is not None:
        return (outcome.relocked,)
    return ()


@dataclass(frozen=True, slots=True)
class _Placement:
    """A slot opened for a unit to be put in: confirmed when presence and RFID agree."""

    outcome: StockedIn | UnitReturned
    tag_uid: str
    flags: str
    deadline: float


class CabinetDesk:
    """Runs one cabinet's workflows; see the module docstring."""

    def __init__(
        self,
        *,
        settings: DispensingConfig,
        hardware: Hardware,
        stream: EventStream,
        clock: Clock,
        cabinet: Cabinet,
        products: ProductTable | None,
        alarm: Indicator,
        release_s: float,
    ) -> None:
        self._settings = settings
        self._stream = stream
        self._clock = clock
        self._cabinet = cabinet
        self._left_storage: dict[str, dt.datetime] = {}
        self._warned: set[str] = set()
        self._restore_problems: list[str] = []
        self._products = products
        self._alarm = alarm
        self._release_s = release_s
        self._actions = SlotActions(hardware)
        self._lockout = ReaderLockout.from_policy(self._cabinet.policy)
        self._session: Session | None = None
        self._placements: dict[int, _Placement] = {}
        self._busy = asyncio.Lock()
        self._next_sweep = 0.0
        self.screen = Screen()

    @property
    def cabinet(self) -> Cabinet:
        """The cabinet's state as the journal holds it."""
        return self._cabinet

    @property
    def session(self) -> Session | None:
        """Who is signed in, if anyone."""
        return self._session

    def load(self, records: Iterable[Event]) -> None:
        """Rebuild the state from the journal's dispensing records, before :meth:`run`."""
        rebuilt = rebuild(self._cabinet, records)
        self._cabinet = rebuilt.cabinet
        self._left_storage = rebuilt.left_storage
        self._warned = rebuilt.warned
        self._restore_problems += rebuilt.problems

    def problem(self, description: str) -> None:
        """Report a problem found while setting up (a broken product table): journaled and
        logged when the desk starts."""
        self._restore_problems.append(description)

    # --- time ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Restore, then tick once a second until cancelled."""
        async with self._busy:
            await self._restore()
        while True:
            await asyncio.sleep(1.0)
            async with self._busy:
                await self._tick()

    async def _restore(self) -> None:
        for problem in self._restore_problems:
            _log.error("restoring the cabinet: %s", problem)
            await self._record(RequestRefused("restore", "setup_problem", problem, None, "device"))
        now = moment(self._clock.wall_ns())
        relocked = self._cabinet.relock_all(now=now, reason="restart")
        if relocked is not None and await self._commit(relocked):
            for grant in relocked.grants:
                await self._actions.close(grant.slot)
        await self._sweep()
        await self._snapshot("start")

    async def _tick(self) -> None:
        now = moment(self._clock.wall_ns())
        mono = self._clock.monotonic()
        due = self._cabinet.relock_due(now=now, monotonic=mono)
        if due is not None and await self._commit(due):
            for grant in due.grants:
                await self._actions.close(grant.slot)
            slots = ", ".join(str(grant.slot) for grant in due.grants)
            self.screen.show(f"Slot {slots} was not opened in time and is locked again.")
            await self._snapshot("relocked")
        for slot, placement in list(self._placements.items()):
            if mono >= placement.deadline:
                del self._placements[slot]
                await self._actions.close(slot)
                await self._refuse(
                    "put_in",
                    Refusal(
                        RefusalCode.INVALID_REQUEST,
                        f"Slot {slot} was not filled in time and is locked again; start over.",
                    ),
                    placement.outcome.din
                    if isinstance(placement.outcome, UnitReturned)
                    else placement.outcome.identity.din,
                )
        session = self._session
        if session is not None and session.idle(mono, self._settings.sign_out_after_s):
            await self._sign_out("signed_out")
        if mono >= self._next_sweep:
            await self._sweep()

    async def _sweep(self) -> None:
        now = moment(self._clock.wall_ns())
        self._next_sweep = self._clock.monotonic() + _SWEEP_EVERY_S
        sweep = self._cabinet.expiry_sweep(now)
        for warning in sweep.warnings:
            if warning.din not in self._warned:
                self._warned.add(warning.din)
                await self._record(
                    ExpiryWarning(warning.din, warning.slot, nanoseconds(warning.expiry))
                )
        if sweep.changes_state and await self._commit(sweep):
            for grant in sweep.relocked:
                await self._actions.close(grant.slot)
            if sweep.expired:
                await self._alarm.show(IndicatorState.ATTENTION)
            await self._snapshot("expiry")

    # --- journal -------------------------------------------------------------------------

    async def _record(self, payload: Payload) -> bool:
        try:
            await self._stream.record(payload)
        except SinkUnavailable:
            self.screen.show(
                "The cabinet cannot keep its records right now, so nothing can be taken or "
                "put in. Call the blood bank.",
                Tone.ALARM,
            )
            return False
        return True

    async def _commit(self, outcome: CabinetEvent, *, flags: str = "00") -> bool:
        """Journal ``outcome``, then apply it; False (and nothing applied) if the journal
        refused it."""
        if not await self._record(record_of(outcome, flags=flags)):
            return False
        try:
            self._cabinet = self._cabinet.apply(outcome)
        except DomainError:
            _log.exception("a journaled outcome did not apply: %s", outcome)
            return False
        return True

    async def _refuse(self, action: str, refusal: Refusal, subject: str) -> None:
        self.screen.show(refusal.message, Tone.REFUSED)
        user = None if self._session is None else self._session.user.user_id
        await self._record(
            RequestRefused(action, str(refusal.code), refusal.message, user, subject)
        )

    async def _snapshot(self, reason: str) -> None:
        units = sorted(
            (unit for unit in self._cabinet.inventory.units.values() if unit.slot is not None),
            key=lambda unit: unit.slot or 0,
        )
        now = moment(self._clock.wall_ns())
        await self._record(
            InventorySnapshot(
                reason=reason,
                slots=tuple(unit.slot or 0 for unit in units),
                dins=tuple(unit.din for unit in units),
                states=tuple(unit.state.value for unit in units),
                expiries_ns=tuple(nanoseconds(unit.expiry) for unit in units),
                blood_groups=tuple(unit.blood_group.value for unit in units),
                product_codes=tuple(unit.identity.product_code for unit in units),
                badge_list_stale=self._cabinet.badges.stale(
                    now, self._cabinet.policy.badge_list_max_age
                ),
            )
        )

    # --- badges --------------------------------------------------------------------------

    async def badge(self, uid: str) -> None:
        """A badge was presented."""
        async with self._busy:
            await self._badge(uid)

    async def _badge(self, uid: str) -> None:
        now = moment(self._clock.wall_ns())
        mono = self._clock.monotonic()
        locked = self._lockout.check(mono)
        if locked is not None:
            await self._refuse("sign_in", locked, uid)
            return
        admitted = self._cabinet.identify(uid, now)
        if isinstance(admitted, Refusal):
            if admitted.code is RefusalCode.UNKNOWN_BADGE:
                self._lockout = self._lockout.failed(mono)
            await self._refuse("sign_in", admitted, uid)
            return
        self._lockout = self._lockout.succeeded()
        session = self._session
        if session is not None and session.mode is Mode.WITNESS:
            await self._witnessed(session, admitted.user)
            return
        if session is not None and session.user.user_id != admitted.user.user_id:
            await self._sign_out("signed_out")
        roles = tuple(sorted(role.value for role in admitted.user.roles))
        if not await self._record(SignedIn(admitted.user.user_id, roles, admitted.stale_list)):
            return
        self._session = Session.start(admitted.user, stale_list=admitted.stale_list, monotonic=mono)
        self.screen.show(self._greeting(self._session), Tone.ACT)

    @staticmethod
    def _greeting(session: Session) -> str:
        name = session.user.name
        if session.stale_list:
            return (
                f"Hello {name}. The badge list is out of date: only an emergency release is "
                "possible. Choose emergency and give the reason."
            )
        if session.mode is Mode.STOCK_IN:
            return f"Hello {name}. Hold a unit on the scanning station and scan its labels."
        return f"Hello {name}. Scan the patient's wristband."

    async def _sign_out(self, reason: str) -> None:
        now = moment(self._clock.wall_ns())
        relocked = self._cabinet.relock_all(now=now, reason=reason)
        if relocked is not None and await self._commit(relocked):
            for grant in relocked.grants:
                await self._actions.close(grant.slot)
        for slot in list(self._placements):
            del self._placements[slot]
            await self._actions.close(slot)
        self._session = None
        self.screen.show("Present your badge.")

    # --- choices on the screen -------------------------------------------------------------

    async def choose(self, choice: Choice, reason: str = "") -> None:
        """The signed-in person chose ``choice`` on the screen."""
        async with self._busy:
            await self._choose(choice, reason.strip())

    async def _choose(self, choice: Choice, reason: str) -> None:  # noqa: PLR0911 - one case per choice
        session = self._session
        mono = self._clock.monotonic()
        if session is None:
            await self._refuse(
                choice, Refusal(RefusalCode.ROLE_REQUIRED, "Present your badge first."), choice
            )
            return
        if choice == "sign_out":
            await self._sign_out("signed_out")
            return
        if session.stale_list and choice != "emergency":
            await self._refuse(
                choice, Refusal(RefusalCode.BADGE_LIST_STALE, self._greeting(session)), choice
            )
            return
        if choice in (Mode.DISPENSE, Mode.STOCK_IN, Mode.RETURN):
            self._session = session.choose(Mode(choice), mono)
            prompts = {
                Mode.DISPENSE: "Scan the patient's wristband.",
                Mode.STOCK_IN: "Hold a unit on the scanning station and scan its labels.",
                Mode.RETURN: "Hold the returned unit on the scanning station and scan its DIN.",
            }
            self.screen.show(prompts[Mode(choice)], Tone.ACT)
            return
        if choice == "emergency":
            await self._emergency(session, reason, mono)
            return
        if choice == "dispose":
            now = moment(self._clock.wall_ns())
            plan = self._cabinet.disposal_plan(session.user, now=now, monotonic=mono)
            await self._release(plan, "dispose", "disposal")
            return
        if choice == "acknowledge":
            if not (session.user.has(Role.TECHNICIAN) or session.user.has(Role.SUPERVISOR)):
                await self._refuse(
                    choice,
                    Refusal(
                        RefusalCode.ROLE_REQUIRED,
                        "Only a technician or supervisor can acknowledge an alarm.",
                    ),
                    "alarm",
                )
                return
            await self._alarm.show(IndicatorState.QUIET)
            self.screen.show("Alarm acknowledged.")
            return
        await self._refuse(
            choice,
            Refusal(RefusalCode.INVALID_REQUEST, f"{choice!r} is not a choice here."),
            choice,
        )

    async def _emergency(self, session: Session, reason: str, mono: float) -> None:
        if not reason:
            await self._refuse(
                "emergency",
                Refusal(RefusalCode.REASON_REQUIRED, "An emergency release needs a reason."),
                "emergency",
            )
            return
        if self._cabinet.policy.emergency_second_person:
            if not session.user.has(Role.EMERGENCY):
                await self._refuse(
                    "emergency",
                    Refusal(
                        RefusalCode.ROLE_REQUIRED,
                        "Your badge does not allow an emergency release.",
                    ),
                    "emergency",
                )
                return
            self._session = session.choose(Mode.WITNESS, mono, reason)
            self.screen.show(
                "Emergency release: a second person must confirm. Present a second badge.",
                Tone.ACT,
            )
            return
        now = moment(self._clock.wall_ns())
        plan = self._cabinet.emergency_plan(
            session.user, reason=reason, second_user=None, now=now, monotonic=mono
        )
        await self._release(plan, "emergency", "emergency")

    async def _witnessed(self, session: Session, witness: User) -> None:
        now = moment(self._clock.wall_ns())
        mono = self._clock.monotonic()
        self._session = session.choose(Mode.DISPENSE, mono)
        plan = self._cabinet.emergency_plan(
            session.user, reason=session.reason, second_user=witness, now=now, monotonic=mono
        )
        await self._release(plan, "emergency", "emergency")

    # --- scans ---------------------------------------------------------------------------

    async def scan(self, data: str) -> None:
        """A barcode was scanned."""
        async with self._busy:
            await self._scan(data.strip())

    async def _scan(self, data: str) -> None:
        session = self._session
        mono = self._clock.monotonic()
        if session is None:
            await self._refuse(
                "scan",
                Refusal(RefusalCode.ROLE_REQUIRED, "Present your badge before scanning."),
                data,
            )
            return
        self._session = session = session.touched(mono)
        if session.stale_list or session.mode is Mode.WITNESS:
            await self._refuse(
                "scan",
                Refusal(RefusalCode.INVALID_REQUEST, "Nothing to scan now: " + self.screen.message),
                data,
            )
            return
        if session.mode is Mode.STOCK_IN:
            await self._stock_scan(session, data)
        elif session.mode is Mode.RETURN:
            await self._return_scan(session, data)
        else:
            await self._wristband(session, data)

    async def _wristband(self, session: Session, data: str) -> None:
        if data.startswith(("=", "&")) or not _WRISTBAND.fullmatch(data):
            await self._refuse(
                "dispense",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    "That is not a patient wristband. Scan the patient's wristband (to stock in "
                    "or return a unit, choose that first).",
                ),
                data,
            )
            return
        now = moment(self._clock.wall_ns())
        plan = self._cabinet.dispense_plan(
            session.user, data, now=now, monotonic=self._clock.monotonic()
        )
        await self._release(plan, "dispense", data)

    async def _release(self, plan: UnlockPlan | Refusal, action: str, subject: str) -> None:
        """Journal ``plan``, apply it, then open its slots (invariant 1)."""
        if isinstance(plan, Refusal):
            await self._refuse(action, plan, subject)
            return
        if not await self._commit(plan):
            return
        opened: list[int] = []
        for grant in plan.grants:
            error = await self._actions.open(grant.slot)
            if error is None:
                opened.append(grant.slot)
                continue
            await self._record(
                HardwareFault(
                    error.part, type(error).__name__, f"slot {grant.slot}: {error.detail}"
                )
            )
            now = moment(self._clock.wall_ns())
            jammed = SlotsRelocked((self._cabinet.grants[grant.slot],), "lock failed", now)
            await self._commit(jammed)
            await self._actions.close(grant.slot)
        if not opened:
            self.screen.show(
                "The slot did not open (its lock failed). Call the blood bank.", Tone.ALARM
            )
        else:
            slots = ", ".join(str(slot) for slot in opened)
            what = "EMERGENCY release: take" if plan.emergency else "Take"
            self.screen.show(f"{what} the unit from slot {slots}.", Tone.ACT)
        await self._snapshot(action)

    async def _stock_scan(self, session: Session, data: str) -> None:
        session = session.scanned(data, self._clock.monotonic())
        try:
            label = UnitLabel.from_scans(*session.scans)
        except MissingStructure as missing:
            self._session = session
            self.screen.show(
                f"Scanned. Now scan the rest of the label: {missing.detail}.", Tone.ACT
            )
            return
        except LabelError as error:
            self._session = session.choose(Mode.STOCK_IN, self._clock.monotonic())
            await self._refuse(
                "stock_in",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    f"The label cannot be read: {error}. Scan it again.",
                ),
                data,
            )
            return
        self._session = session.choose(Mode.STOCK_IN, self._clock.monotonic())
        station = await self._actions.read_station()
        if station.problem is not None or station.tag_uid is None or station.din is None:
            await self._refuse(
                "stock_in",
                Refusal(RefusalCode.TAG_MISMATCH, station.problem or "The tag cannot be read."),
                label.din.code,
            )
            return
        identity = unit_identity(
            label,
            tag_uid=station.tag_uid,
            products=self._products,
            tz=self._settings.label_timezone,
        )
        if isinstance(identity, Refusal):
            await self._refuse("stock_in", identity, label.din.code)
            return
        now = moment(self._clock.wall_ns())
        decision = self._cabinet.stock_in(identity, tag_din=station.din, user=session.user, now=now)
        if isinstance(decision, Refusal):
            await self._refuse("stock_in", decision, label.din.code)
            return
        await self._open_for(decision, "stock_in", station.tag_uid, label.din.flags)

    async def _open_for(
        self, outcome: StockedIn | UnitReturned, purpose: str, tag_uid: str, flags: str
    ) -> None:
        """Open a free slot for a unit to be put in; the outcome is journaled once presence
        and RFID confirm it (or, for a refused return with no slot, at once)."""
        assert outcome.slot is not None
        slot = outcome.slot
        din = outcome.identity.din if isinstance(outcome, StockedIn) else outcome.din
        user = outcome.user_id
        mono = self._clock.monotonic()
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
        if not await self._record(released):
            return
        error = await self._actions.open(slot)
        if error is not None:
            await self._record(
                HardwareFault(error.part, type(error).__name__, f"slot {slot}: {error.detail}")
            )
            self.screen.show(f"Slot {slot} did not open. Call the blood bank.", Tone.ALARM)
            return
        self._placements[slot] = _Placement(outcome, tag_uid, flags, mono + self._release_s)
        self.screen.show(f"Put unit {din} into slot {slot}.", Tone.ACT)

    async def _return_scan(self, session: Session, data: str) -> None:
        try:
            dins = [item for item in flatten(parse_scan(data)) if isinstance(item, Din)]
        except LabelError as error:
            await self._refuse(
                "return",
                Refusal(RefusalCode.INVALID_REQUEST, f"The label cannot be read: {error}."),
                data,
            )
            return
        if len(dins) != 1:
            await self._refuse(
                "return",
                Refusal(RefusalCode.INVALID_REQUEST, "Scan the returned unit's DIN barcode."),
                data,
            )
            return
        din = dins[0].code
        station = await self._actions.read_station()
        if station.problem is not None or station.tag_uid is None:
            await self._refuse(
                "return",
                Refusal(RefusalCode.TAG_MISMATCH, station.problem or "The tag cannot be read."),
                din,
            )
            return
        if station.din != din:
            await self._refuse(
                "return",
                Refusal(
                    RefusalCode.TAG_MISMATCH,
                    f"The unit on the station carries DIN {station.din} on its tag, not {din}.",
                ),
                din,
            )
            return
        now = moment(self._clock.wall_ns())
        left = self._left_storage.get(din, now)
        decision = self._cabinet.return_decision(
            session.user, din, left_storage_at=left, returned_at=now
        )
        if isinstance(decision, Refusal):
            await self._refuse("return", decision, din)
            return
        if decision.slot is None:
            if await self._commit(decision):
                self.screen.show(
                    f"Unit {din} cannot go back into stock ({decision.reason}) and there is no "
                    "free slot: hand it to the blood bank.",
                    Tone.REFUSED,
                )
                await self._snapshot("return")
            return
        await self._open_for(decision, "return", station.tag_uid, "00")

    # --- slots emptied and filled --------------------------------------------------------

    async def slot_changed(self, slot: int, present: bool) -> None:
        """Slot ``slot``'s presence sensor now reads ``present`` (debounced)."""
        async with self._busy:
            if present:
                await self._filled(slot)
            else:
                await self._emptied(slot)

    async def _filled(self, slot: int) -> None:
        placement = self._placements.get(slot)
        if placement is None:
            await self._refuse(
                "put_in",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    f"Something was put into slot {slot}, which was not opened for it.",
                ),
                str(slot),
            )
            return
        tags = await self._actions.tags_in(slot)
        if isinstance(tags, HalError) or placement.tag_uid not in tags:
            await self._refuse(
                "put_in",
                Refusal(
                    RefusalCode.TAG_MISMATCH,
                    f"The unit in slot {slot} is not the one scanned: take it out and put "
                    "the scanned unit in.",
                ),
                str(slot),
            )
            return
        del self._placements[slot]
        if not await self._commit(placement.outcome, flags=placement.flags):
            return
        await self._actions.close(slot)
        if isinstance(placement.outcome, UnitReturned):
            self._left_storage.pop(placement.outcome.din, None)
            verdict = "back in stock" if placement.outcome.accepted else "QUARANTINED"
            self.screen.show(
                f"Unit {placement.outcome.din} is {verdict} in slot {slot}: "
                f"{placement.outcome.reason}.",
                Tone.INFO if placement.outcome.accepted else Tone.REFUSED,
            )
            await self._snapshot("return")
        else:
            self.screen.show(
                f"Unit {placement.outcome.identity.din} is in stock in slot {slot}. Scan the "
                "next unit's labels."
            )
            await self._snapshot("stock_in")

    async def _emptied(self, slot: int) -> None:
        if slot in self._placements:
            return
        unit = self._cabinet.inventory.in_slot(slot)
        left: str | None = None
        if unit is not None:
            left = unit.tag_uid
            for _ in range(_RFID_RETRIES):
                tags = await self._actions.tags_in(slot)
                if isinstance(tags, HalError) or unit.tag_uid not in tags:
                    break
                await asyncio.sleep(0.2)
            else:
                _log.warning("slot %d reads empty but its tag %s is still there", slot, left)
                return
        now = moment(self._clock.wall_ns())
        signed_in = None if self._session is None else self._session.user.user_id
        outcome = self._cabinet.removal_observed(slot, left, now=now, signed_in=signed_in)
        if not await self._commit(outcome):
            return
        await self._actions.close(slot)
        if isinstance(outcome, Incident):
            await self._alarm.show(IndicatorState.ALARM)
            self.screen.show(f"ALARM: {outcome.message}", Tone.ALARM)
        elif isinstance(outcome, UnitDispensed):
            self._left_storage[outcome.din] = now
            remaining = len(self._cabinet.grants)
            more = f" {remaining} slot(s) still open." if remaining else ""
            self.screen.show(f"Unit {outcome.din} dispensed.{more}")
        elif isinstance(outcome, UnitDisposed):
            self.screen.show(f"Unit {outcome.din} removed for disposal.")
        await self._snapshot("removal")

    # --- the hospital's decisions ----------------------------------------------------------

    async def decide(
        self, decision: Allocate | ElectronicIssue | Cancel | BadgeListCommand | Inventory
    ) -> str | None:
        """Carry out one of the hospital's decisions; why not, or None when done."""
        async with self._busy:
            return await self._decide(decision)

    async def _decide(  # noqa: PLR0911, PLR0912 - one case per decision
        self, decision: Allocate | ElectronicIssue | Cancel | BadgeListCommand | Inventory
    ) -> str | None:
        now = moment(self._clock.wall_ns())
        cabinet = self._cabinet
        if isinstance(decision, Inventory):
            await self._snapshot("requested")
            return None
        if isinstance(decision, BadgeListCommand):
            return await self._badge_list(decision)
        outcomes: list[CabinetEvent] = []
        if isinstance(decision, Allocate):
            known = cabinet.orders.get(decision.order)
            allocated = sum(
                1
                for unit in cabinet.inventory.in_states(UnitState.ALLOCATED, UnitState.UNLOCKED)
                if unit.allocation is not None and unit.allocation.order_id == decision.order
            )
            limit = max(allocated + 1, 0 if known is None else known.unit_limit)
            if known is None or known.unit_limit < limit:
                placed = cabinet.place_order(
                    decision.order, patient_id=decision.patient, unit_limit=limit, now=now
                )
                if isinstance(placed, Refusal):
                    return placed.message
                outcomes.append(placed)
                cabinet = cabinet.apply(placed)
            allocation = cabinet.allocate_unit(
                decision.din,
                patient_id=decision.patient,
                order_id=decision.order,
                until=moment(decision.until_ns),
                now=now,
            )
            if isinstance(allocation, Refusal):
                return allocation.message
            outcomes.append(allocation)
        elif isinstance(decision, ElectronicIssue):
            placed = cabinet.place_order(
                decision.order, patient_id=decision.patient, unit_limit=decision.units, now=now
            )
            if isinstance(placed, Refusal):
                return placed.message
            cabinet = cabinet.apply(placed)
            issue = cabinet.allow_electronic_issue(
                decision.patient,
                order_id=decision.order,
                groups=frozenset(BloodGroup(group) for group in decision.groups),
                product_class=decision.product_class,
                until=moment(decision.until_ns),
                now=now,
            )
            if isinstance(issue, Refusal):
                return issue.message
            outcomes += [placed, issue]
        else:
            cancelled = (
                cabinet.cancel_order(decision.order, now=now)
                if decision.din is None
                else cabinet.cancel_allocation(decision.din, now=now)
            )
            if isinstance(cancelled, Refusal):
                return cancelled.message
            outcomes.append(cancelled)
        for outcome in outcomes:
            if not await self._commit(outcome):
                return "the device cannot journal it now"
            for grant in _relocked_by(outcome):
                await self._actions.close(grant.slot)
        await self._snapshot("allocation")
        return None

    async def _badge_list(self, command: BadgeListCommand) -> str | None:
        record = BadgeListUpdated(
            issued_ns=command.issued_ns,
            uids=tuple(badge.uid for badge in command.badges),
            users=tuple(badge.user for badge in command.badges),
            names=tuple(badge.name for badge in command.badges),
            roles=tuple(",".join(badge.roles) for badge in command.badges),
        )
        if not await self._record(record):
            return "the device cannot journal it now"
        users = {
            badge.uid: User(badge.user, badge.name, frozenset(Role(role) for role in badge.roles))
            for badge in command.badges
        }
        self._cabinet = self._cabinet.with_badges(BadgeList(users, moment(command.issued_ns)))
        await self._snapshot("badge_list")
        return None
