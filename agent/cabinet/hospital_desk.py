"""The hospital's decisions, carried out: orders, allocations, electronic issue,
cancellations, the badge list and inventory requests (``docs/protocol.md`` section 6.1).

The blood bank decides; the cabinet enforces (brief, section 3). Each decision is checked by
the domain against what the cabinet holds (is the unit here, unexpired, not allocated to
someone else), journaled, then applied; slots released under a cancelled allocation lock
again. A refusal is returned as text for the command's reply (``rejected``). A unit's
temperature history (``unit_history``, from the transport box that carried it) is kept for its
return: it is not journaled as state, so after a restart the return is judged by time alone
(fail safe: the unit is quarantined rather than accepted on a history the cabinet lost).
"""

from __future__ import annotations

from agent.cabinet.ledger import Ledger
from agent.cabinet.records import moment
from agent.cabinet.slot_actions import SlotActions
from agent.dispensing_events import BadgeListUpdated
from agent.domain.blood import BloodGroup
from agent.domain.outcomes import AllocationCancelled, CabinetEvent, OrderCancelled, SlotGrant
from agent.domain.refusals import Refusal
from agent.domain.returns import TemperatureSummary
from agent.domain.units import UnitState
from agent.domain.users import BadgeList, Role, User
from agent.payload_codec import encode_payload
from agent.sync.protocol import (
    MAX_MESSAGE_BYTES,
    Allocate,
    Cancel,
    ElectronicIssue,
    Inventory,
    UnitHistory,
)
from agent.sync.protocol import BadgeList as BadgeListCommand

__all__ = ["MAX_BADGE_LIST_BYTES", "Decision", "HospitalDesk"]

MAX_BADGE_LIST_BYTES = MAX_MESSAGE_BYTES - 4096
"""The largest badge list record: it must reach the hospital in one message (a record is never
split), with room for the batch around it."""

Decision = Allocate | ElectronicIssue | Cancel | BadgeListCommand | Inventory | UnitHistory


def _relocked_by(outcome: CabinetEvent) -> tuple[SlotGrant, ...]:
    """The released slots a hospital decision locks again."""
    if isinstance(outcome, OrderCancelled):
        return outcome.relocked
    if isinstance(outcome, AllocationCancelled) and outcome.relocked is not None:
        return (outcome.relocked,)
    return ()


class HospitalDesk:
    """Carries out the hospital's decisions for one cabinet."""

    def __init__(
        self,
        ledger: Ledger,
        actions: SlotActions,
        histories: dict[str, TemperatureSummary],
    ) -> None:
        self._ledger = ledger
        self._actions = actions
        self._histories = histories

    async def decide(  # noqa: PLR0911, PLR0912 - one case per decision
        self, decision: Decision
    ) -> str | None:
        """Carry out one of the hospital's decisions; why not, or None when done."""
        now = self._ledger.now()
        cabinet = self._ledger.cabinet
        if isinstance(decision, Inventory):
            await self._ledger.snapshot("requested")
            return None
        if isinstance(decision, BadgeListCommand):
            return await self._badge_list(decision)
        if isinstance(decision, UnitHistory):
            return self._history(decision)
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
            if not await self._ledger.commit(outcome):
                return "the device cannot journal it now"
            for grant in _relocked_by(outcome):
                await self._actions.close(grant.slot)
        await self._ledger.snapshot("allocation")
        return None

    def _history(self, history: UnitHistory) -> str | None:
        unit = self._ledger.cabinet.inventory.get(history.din)
        if unit is None or unit.state is not UnitState.DISPENSED:
            return f"Unit {history.din} is not out on a dispense from this cabinet."
        self._histories[history.din] = TemperatureSummary(
            history.minimum_c,
            history.maximum_c,
            moment(history.from_ns),
            moment(history.until_ns),
        )
        return None

    async def _badge_list(self, command: BadgeListCommand) -> str | None:
        record = BadgeListUpdated(
            issued_ns=command.issued_ns,
            uids=tuple(badge.uid for badge in command.badges),
            users=tuple(badge.user for badge in command.badges),
            names=tuple(badge.name for badge in command.badges),
            roles=tuple(",".join(badge.roles) for badge in command.badges),
        )
        size = len(encode_payload(record))
        if size > MAX_BADGE_LIST_BYTES:
            return (
                f"The badge list is too large to journal as one record: {len(command.badges)} "
                f"badges make {size} bytes, at most {MAX_BADGE_LIST_BYTES}. Send fewer badges."
            )
        if not await self._ledger.record(record):
            return "the device cannot journal it now"
        users = {
            badge.uid: User(badge.user, badge.name, frozenset(Role(role) for role in badge.roles))
            for badge in command.badges
        }
        self._ledger.cabinet = self._ledger.cabinet.with_badges(
            BadgeList(users, moment(command.issued_ns))
        )
        await self._ledger.snapshot("badge_list")
        return None
