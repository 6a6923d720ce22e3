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
import contextlib
import logging
import re
from collections.abc import Iterable

from agent.cabinet.hospital_desk import Decision, HospitalDesk
from agent.cabinet.intake import Intake
from agent.cabinet.ledger import Ledger
from agent.cabinet.records import nanoseconds
from agent.cabinet.replay import rebuild
from agent.cabinet.screen import Screen, Tone
from agent.cabinet.slot_actions import SlotActions
from agent.cabinet.terminal import Mode, Session
from agent.clock import Clock
from agent.config.dispensing import DispensingConfig
from agent.dispensing_events import (
    AlarmAcknowledged,
    ExpiryWarning,
    RequestRefused,
    SignedIn,
)
from agent.domain import Cabinet
from agent.domain.lockout import ReaderLockout
from agent.domain.outcomes import (
    Incident,
    SlotsRelocked,
    UnitDispensed,
    UnitDisposed,
    UnlockPlan,
)
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.users import Role, User
from agent.events import Event, HardwareFault
from agent.hal.errors import HalError
from agent.hal.hardware import Hardware
from agent.hal.parts import Indicator, IndicatorState
from agent.isbt128 import ProductTable
from agent.runtime.stream import EventStream

__all__ = ["CabinetDesk", "Choice"]

_log = logging.getLogger(__name__)

_WRISTBAND = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A patient wristband scan: the patient's identifier (anything that is not an ISBT label)."""

_SWEEP_EVERY_S = 60.0
_URGENCY = {IndicatorState.QUIET: 0, IndicatorState.ATTENTION: 1, IndicatorState.ALARM: 2}
_RFID_RETRIES = 3

Choice = str
"""A touch-screen choice: ``dispense``, ``stock_in``, ``return``, ``emergency`` (with a
reason), ``dispose``, ``acknowledge`` (an incident alarm) or ``sign_out``."""


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
        self.screen = Screen()
        self._ledger = Ledger(cabinet=cabinet, stream=stream, clock=clock, screen=self.screen)
        self._settings = settings
        self._actions = SlotActions(hardware)
        self._intake = Intake(
            self._ledger,
            self._actions,
            settings=settings,
            products=products,
            release_s=release_s,
        )
        self._hospital = HospitalDesk(self._ledger, self._actions, self._intake.histories)
        self._alarm = alarm
        self._warned: set[str] = set()
        self._restore_problems: list[str] = []
        self._lockout = ReaderLockout.from_policy(cabinet.policy)
        self._current: Session | None = None
        self._busy = asyncio.Lock()
        self._wake = asyncio.Event()
        self._alarm_level = IndicatorState.QUIET
        self._alarm_restored = False
        self._next_sweep = 0.0

    @property
    def cabinet(self) -> Cabinet:
        """The cabinet's state as the journal holds it."""
        return self._ledger.cabinet

    @property
    def session(self) -> Session | None:
        """Who is signed in, if anyone."""
        return self._current

    @property
    def _session(self) -> Session | None:
        return self._current

    @_session.setter
    def _session(self, session: Session | None) -> None:
        self._current = session
        self._ledger.user = None if session is None else session.user.user_id

    def load(self, records: Iterable[Event]) -> None:
        """Rebuild the state from the journal's dispensing records, before :meth:`run`."""
        rebuilt = rebuild(self._ledger.cabinet, records)
        self._ledger.cabinet = rebuilt.cabinet
        self._intake.left_storage = rebuilt.left_storage
        self._warned = rebuilt.warned
        self._alarm_restored = rebuilt.alarm
        self._restore_problems += rebuilt.problems

    def problem(self, description: str) -> None:
        """Report a problem found while setting up (a broken product table): journaled and
        logged when the desk starts."""
        self._restore_problems.append(description)

    # --- time ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Restore, then tick until cancelled: every second while someone is at the cabinet
        or a slot is released (relocks, sign-out), else at the next expiry sweep - a badge
        wakes it at once."""
        async with self._busy:
            await self._restore()
        while True:
            idle = self._session is None and not self._ledger.cabinet.grants
            wait = max(1.0, self._next_sweep - self._ledger.monotonic()) if idle else 1.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()
            async with self._busy:
                await self._tick()

    async def _restore(self) -> None:
        for problem in self._restore_problems:
            _log.error("restoring the cabinet: %s", problem)
            await self._ledger.record(
                RequestRefused("restore", "setup_problem", problem, None, "device")
            )
        now = self._ledger.now()
        relocked = self._ledger.cabinet.relock_all(now=now, reason="restart")
        if relocked is not None and await self._ledger.commit(relocked):
            for grant in relocked.grants:
                await self._actions.close(grant.slot)
        if self._alarm_restored:
            await self._raise(IndicatorState.ALARM)
            self._ledger.screen.show(
                "ALARM: an incident before the restart was not acknowledged. A technician or "
                "supervisor must acknowledge it.",
                Tone.ALARM,
            )
        await self._sweep()
        await self._ledger.snapshot("start")

    async def _tick(self) -> None:
        now = self._ledger.now()
        mono = self._ledger.monotonic()
        due = self._ledger.cabinet.relock_due(now=now, monotonic=mono)
        if due is not None and await self._ledger.commit(due):
            for grant in due.grants:
                await self._actions.close(grant.slot)
            slots = ", ".join(str(grant.slot) for grant in due.grants)
            self._ledger.screen.show(f"Slot {slots} was not opened in time and is locked again.")
            await self._ledger.snapshot("relocked")
        await self._intake.expire()
        session = self._session
        if session is not None and session.idle(mono, self._settings.sign_out_after_s):
            await self._sign_out("signed_out")
            self._ledger.screen.show(
                f"{session.user.name} was signed out after "
                f"{self._settings.sign_out_after_s:g} s without activity. Present your badge."
            )
        if mono >= self._next_sweep:
            await self._sweep()

    async def _sweep(self) -> None:
        now = self._ledger.now()
        self._next_sweep = self._ledger.monotonic() + _SWEEP_EVERY_S
        sweep = self._ledger.cabinet.expiry_sweep(now)
        for warning in sweep.warnings:
            if warning.din not in self._warned:
                self._warned.add(warning.din)
                await self._ledger.record(
                    ExpiryWarning(warning.din, warning.slot, nanoseconds(warning.expiry))
                )
        if sweep.changes_state and await self._ledger.commit(sweep):
            for grant in sweep.relocked:
                await self._actions.close(grant.slot)
            if sweep.expired:
                await self._raise(IndicatorState.ATTENTION)
            await self._ledger.snapshot("expiry")

    async def _raise(self, state: IndicatorState) -> None:
        """Ask the indicator for ``state`` unless the cabinet already asks for more: an expiry
        never turns an incident's alarm into a chirp; only ``acknowledge`` lowers it."""
        if _URGENCY[state] > _URGENCY[self._alarm_level]:
            self._alarm_level = state
            await self._alarm.show(state)

    # --- badges --------------------------------------------------------------------------

    async def badge(self, uid: str) -> None:
        """A badge was presented."""
        async with self._busy:
            await self._badge(uid)
        self._wake.set()

    async def _badge(self, uid: str) -> None:
        now = self._ledger.now()
        mono = self._ledger.monotonic()
        locked = self._lockout.check(mono)
        if locked is not None:
            await self._ledger.refuse("sign_in", locked, uid)
            return
        admitted = self._ledger.cabinet.identify(uid, now)
        if isinstance(admitted, Refusal):
            if admitted.code is RefusalCode.UNKNOWN_BADGE:
                self._lockout = self._lockout.failed(mono)
            await self._ledger.refuse("sign_in", admitted, uid)
            return
        self._lockout = self._lockout.succeeded()
        session = self._session
        if session is not None and session.mode is Mode.WITNESS:
            await self._witnessed(session, admitted.user)
            return
        if session is not None and session.user.user_id != admitted.user.user_id:
            await self._sign_out("signed_out")
        roles = tuple(sorted(role.value for role in admitted.user.roles))
        if not await self._ledger.record(
            SignedIn(admitted.user.user_id, roles, admitted.stale_list)
        ):
            return
        self._session = Session.start(admitted.user, stale_list=admitted.stale_list, monotonic=mono)
        self._ledger.screen.show(self._greeting(self._session), Tone.ACT)

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
        now = self._ledger.now()
        relocked = self._ledger.cabinet.relock_all(now=now, reason=reason)
        if relocked is not None and await self._ledger.commit(relocked):
            for grant in relocked.grants:
                await self._actions.close(grant.slot)
        await self._intake.cancel()
        self._session = None
        self._ledger.screen.show("Present your badge.")

    # --- choices on the screen -------------------------------------------------------------

    async def choose(self, choice: Choice, reason: str = "") -> None:
        """The signed-in person chose ``choice`` on the screen."""
        async with self._busy:
            await self._choose(choice, reason.strip())

    async def _choose(self, choice: Choice, reason: str) -> None:  # noqa: PLR0911 - one case per choice
        session = self._session
        mono = self._ledger.monotonic()
        if session is None:
            await self._ledger.refuse(
                choice, Refusal(RefusalCode.ROLE_REQUIRED, "Present your badge first."), choice
            )
            return
        if choice == "sign_out":
            await self._sign_out("signed_out")
            return
        if session.stale_list and choice != "emergency":
            await self._ledger.refuse(
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
            self._ledger.screen.show(prompts[Mode(choice)], Tone.ACT)
            return
        if choice == "emergency":
            await self._emergency(session, reason, mono)
            return
        if choice == "dispose":
            now = self._ledger.now()
            plan = self._ledger.cabinet.disposal_plan(session.user, now=now, monotonic=mono)
            await self._release(plan, "dispose", "disposal")
            return
        if choice == "acknowledge":
            if not (session.user.has(Role.TECHNICIAN) or session.user.has(Role.SUPERVISOR)):
                await self._ledger.refuse(
                    choice,
                    Refusal(
                        RefusalCode.ROLE_REQUIRED,
                        "Only a technician or supervisor can acknowledge an alarm.",
                    ),
                    "alarm",
                )
                return
            if not await self._ledger.record(AlarmAcknowledged(session.user.user_id)):
                return
            self._alarm_level = IndicatorState.QUIET
            await self._alarm.show(IndicatorState.QUIET)
            self._ledger.screen.show("Alarm acknowledged.")
            return
        await self._ledger.refuse(
            choice,
            Refusal(RefusalCode.INVALID_REQUEST, f"{choice!r} is not a choice here."),
            choice,
        )

    async def _emergency(self, session: Session, reason: str, mono: float) -> None:
        if not reason:
            await self._ledger.refuse(
                "emergency",
                Refusal(RefusalCode.REASON_REQUIRED, "An emergency release needs a reason."),
                "emergency",
            )
            return
        if self._ledger.cabinet.policy.emergency_second_person:
            if not session.user.has(Role.EMERGENCY):
                await self._ledger.refuse(
                    "emergency",
                    Refusal(
                        RefusalCode.ROLE_REQUIRED,
                        "Your badge does not allow an emergency release.",
                    ),
                    "emergency",
                )
                return
            self._session = session.choose(Mode.WITNESS, mono, reason)
            self._ledger.screen.show(
                "Emergency release: a second person must confirm. Present a second badge.",
                Tone.ACT,
            )
            return
        now = self._ledger.now()
        plan = self._ledger.cabinet.emergency_plan(
            session.user, reason=reason, second_user=None, now=now, monotonic=mono
        )
        await self._release(plan, "emergency", "emergency")

    async def _witnessed(self, session: Session, witness: User) -> None:
        now = self._ledger.now()
        mono = self._ledger.monotonic()
        self._session = session.choose(Mode.DISPENSE, mono)
        plan = self._ledger.cabinet.emergency_plan(
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
        mono = self._ledger.monotonic()
        if session is None:
            await self._ledger.refuse(
                "scan",
                Refusal(RefusalCode.ROLE_REQUIRED, "Present your badge before scanning."),
                data,
            )
            return
        self._session = session = session.touched(mono)
        if session.stale_list or session.mode is Mode.WITNESS:
            await self._ledger.refuse(
                "scan",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    "Nothing to scan now: " + self._ledger.screen.message,
                ),
                data,
            )
            return
        if session.mode is Mode.STOCK_IN:
            self._session = await self._intake.stock_scan(session, data)
        elif session.mode is Mode.RETURN:
            await self._intake.return_scan(session, data)
        else:
            await self._wristband(session, data)

    async def _wristband(self, session: Session, data: str) -> None:
        if data.startswith(("=", "&")) or not _WRISTBAND.fullmatch(data):
            await self._ledger.refuse(
                "dispense",
                Refusal(
                    RefusalCode.INVALID_REQUEST,
                    "That is not a patient wristband. Scan the patient's wristband (to stock in "
                    "or return a unit, choose that first).",
                ),
                data,
            )
            return
        now = self._ledger.now()
        plan = self._ledger.cabinet.dispense_plan(
            session.user, data, now=now, monotonic=self._ledger.monotonic()
        )
        await self._release(plan, "dispense", data)

    async def _release(self, plan: UnlockPlan | Refusal, action: str, subject: str) -> None:
        """Journal ``plan``, apply it, then open its slots (invariant 1)."""
        if isinstance(plan, Refusal):
            await self._ledger.refuse(action, plan, subject)
            return
        if not await self._ledger.commit(plan):
            return
        opened: list[int] = []
        for grant in plan.grants:
            error = await self._actions.open(grant.slot)
            if error is None:
                opened.append(grant.slot)
                continue
            await self._ledger.record(
                HardwareFault(
                    error.part, type(error).__name__, f"slot {grant.slot}: {error.detail}"
                )
            )
            now = self._ledger.now()
            jammed = SlotsRelocked((self._ledger.cabinet.grants[grant.slot],), "lock failed", now)
            await self._ledger.commit(jammed)
            await self._actions.close(grant.slot)
        if not opened:
            self._ledger.screen.show(
                "The slot did not open (its lock failed). Call the blood bank.", Tone.ALARM
            )
        else:
            slots = ", ".join(str(slot) for slot in opened)
            what = "EMERGENCY release: take" if plan.emergency else "Take"
            self._ledger.screen.show(f"{what} the unit from slot {slots}.", Tone.ACT)
        await self._ledger.snapshot(action)

    # --- slots emptied and filled --------------------------------------------------------

    async def slot_changed(self, slot: int, present: bool) -> None:
        """Slot ``slot``'s presence sensor now reads ``present`` (debounced)."""
        async with self._busy:
            if present:
                await self._intake.filled(slot)
            else:
                await self._emptied(slot)

    async def _emptied(self, slot: int) -> None:
        if self._intake.expecting(slot):
            return
        unit = self._ledger.cabinet.inventory.in_slot(slot)
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
        now = self._ledger.now()
        signed_in = None if self._session is None else self._session.user.user_id
        outcome = self._ledger.cabinet.removal_observed(slot, left, now=now, signed_in=signed_in)
        if not await self._ledger.commit(outcome):
            return
        await self._actions.close(slot)
        if isinstance(outcome, Incident):
            await self._raise(IndicatorState.ALARM)
            self._ledger.screen.show(f"ALARM: {outcome.message}", Tone.ALARM)
        elif isinstance(outcome, UnitDispensed):
            self._intake.left_storage[outcome.din] = now
            remaining = len(self._ledger.cabinet.grants)
            more = f" {remaining} slot(s) still open." if remaining else ""
            self._ledger.screen.show(f"Unit {outcome.din} dispensed.{more}")
        elif isinstance(outcome, UnitDisposed):
            self._ledger.screen.show(f"Unit {outcome.din} removed for disposal.")
        await self._ledger.snapshot("removal")

    # --- the hospital's decisions ----------------------------------------------------------

    async def decide(self, decision: Decision) -> str | None:
        """Carry out one of the hospital's decisions; why not, or None when done."""
        async with self._busy:
            return await self._hospital.decide(decision)
