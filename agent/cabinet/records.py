"""The domain's outcomes as journal records, and journal records back as outcomes.

Invariant kept: **the journal alone rebuilds the cabinet**. Every outcome that changes the
domain's state is journaled as one record (:mod:`agent.dispensing_events`) holding what
:meth:`agent.domain.Cabinet.apply` needs; :func:`outcome_of` turns it back, so that applying
the journaled records in order after a restart gives the state the cabinet had. Where an
outcome refers to a slot grant the cabinet already holds (a relock, a cancellation), the
record names the slot and the grant is looked up in the state being rebuilt.
"""

from __future__ import annotations

import datetime as dt
from typing import assert_never

from agent import dispensing_events as records
from agent.domain import Cabinet
from agent.domain.allocations import ElectronicIssue, Order, UnitAllocation
from agent.domain.blood import BloodGroup
from agent.domain.outcomes import (
    AllocationCancelled,
    CabinetEvent,
    ElectronicIssueAllowed,
    ExpirySweep,
    Incident,
    IncidentKind,
    OrderCancelled,
    OrderPlaced,
    SlotGrant,
    SlotsRelocked,
    StockedIn,
    UnitAllocated,
    UnitDispensed,
    UnitDisposed,
    UnitQuarantined,
    UnitReturned,
    UnlockPlan,
    UnlockPurpose,
)
from agent.domain.units import UnitIdentity
from agent.domain.users import BadgeList, Role, User
from agent.events import Event, Payload

__all__ = ["badge_list_of", "moment", "nanoseconds", "outcome_of", "record_of"]

_NS = 1_000_000_000


def nanoseconds(moment_: dt.datetime) -> int:
    """An aware moment as nanoseconds since the Unix epoch."""
    delta = moment_ - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000


def moment(wall_ns: int) -> dt.datetime:
    """Nanoseconds since the Unix epoch as an aware UTC moment."""
    return dt.datetime.fromtimestamp(wall_ns // 1000 / 1_000_000, tz=dt.UTC)


def record_of(outcome: CabinetEvent, *, flags: str = "00") -> Payload:  # noqa: PLR0911, PLR0912 - one case per outcome
    """The journal record of ``outcome`` (``flags``: the DIN's flag characters, for a
    stock-in)."""
    match outcome:
        case StockedIn(identity=unit):
            return records.UnitStocked(
                slot=outcome.slot,
                din=unit.din,
                flags=flags,
                blood_group=unit.blood_group.value,
                product_code=unit.product_code,
                product_class=unit.product_class,
                expiry_ns=nanoseconds(unit.expiry),
                tag_uid=unit.tag_uid,
                user=outcome.user_id,
            )
        case OrderPlaced(order=order):
            return records.OrderPlaced(
                order.order_id, order.patient_id, order.unit_limit, order.units_issued
            )
        case UnitAllocated(allocation=allocation):
            return records.UnitAllocated(
                allocation.din,
                allocation.patient_id,
                allocation.order_id,
                nanoseconds(allocation.until),
            )
        case ElectronicIssueAllowed(issue=issue):
            return records.ElectronicIssueAllowed(
                patient=issue.patient_id,
                order=issue.order_id,
                groups=tuple(sorted(group.value for group in issue.groups)),
                product_class=issue.product_class,
                until_ns=nanoseconds(issue.until),
            )
        case OrderCancelled():
            return records.OrderCancelled(
                outcome.order_id,
                outcome.deallocated,
                tuple(grant.slot for grant in outcome.relocked),
            )
        case AllocationCancelled():
            slot = None if outcome.relocked is None else outcome.relocked.slot
            return records.AllocationCancelled(outcome.din, slot)
        case UnlockPlan():
            return _released(outcome)
        case UnitDispensed():
            return records.UnitDispensed(
                slot=outcome.slot,
                din=outcome.din,
                tag_uid=outcome.tag_uid,
                user=outcome.user_id,
                patient=outcome.patient_id,
                order=outcome.order_id,
                emergency=outcome.emergency,
            )
        case UnitDisposed():
            return records.UnitDisposed(outcome.slot, outcome.din, outcome.user_id)
        case Incident():
            return records.WrongUnitRemoved(
                kind=outcome.kind.value,
                slot=outcome.slot,
                din=outcome.din,
                tag_uid=outcome.tag_uid,
                user=outcome.user_id,
                detail=outcome.message,
            )
        case SlotsRelocked(grants=grants):
            return records.SlotsRelocked(
                tuple(grant.slot for grant in grants),
                tuple(grant.din for grant in grants),
                outcome.reason,
            )
        case UnitReturned():
            return records.UnitReturned(
                din=outcome.din,
                slot=outcome.slot,
                accepted=outcome.accepted,
                minutes_out=outcome.time_out.total_seconds() / 60,
                reason=outcome.reason,
                user=outcome.user_id,
            )
        case UnitQuarantined():
            slot = None if outcome.relocked is None else outcome.relocked.slot
            return records.UnitQuarantined(outcome.din, slot, outcome.reason)
        case ExpirySweep():
            return records.ExpirySwept(
                outcome.expired, outcome.lapsed_allocations, outcome.lapsed_issues
            )
        case _:
            assert_never(outcome)


def _released(plan: UnlockPlan) -> records.SlotsReleased:
    return records.SlotsReleased(
        purpose=plan.purpose.value,
        user=plan.user_id,
        patient=plan.patient_id,
        reason=plan.reason,
        witness=plan.second_user_id,
        slots=plan.slots,
        dins=tuple(grant.din for grant in plan.grants),
        orders=tuple(grant.order_id or "" for grant in plan.grants),
        relock_at_ns=tuple(round(grant.relock_at * _NS) for grant in plan.grants),
    )


def _grants(cabinet: Cabinet, slots: tuple[int, ...]) -> tuple[SlotGrant, ...]:
    return tuple(cabinet.grants[slot] for slot in slots if slot in cabinet.grants)


def outcome_of(event: Event, cabinet: Cabinet) -> CabinetEvent | None:  # noqa: PLR0911, PLR0912 - one case per record type
    """The outcome journaled as ``event``, as it applies to ``cabinet``; None for a record
    that changes nothing in the domain (a slot opened to put a unit in, a refusal ...)."""
    at = moment(event.wall_ns)
    payload = event.payload
    match payload:
        case records.UnitStocked():
            identity = UnitIdentity(
                din=payload.din,
                blood_group=BloodGroup(payload.blood_group),
                product_code=payload.product_code,
                product_class=payload.product_class,
                expiry=moment(payload.expiry_ns),
                tag_uid=payload.tag_uid,
            )
            return StockedIn(identity, payload.slot, payload.user, at)
        case records.OrderPlaced():
            order = Order(payload.order, payload.patient, payload.unit_limit, payload.units_issued)
            return OrderPlaced(order, at)
        case records.UnitAllocated():
            allocation = UnitAllocation(
                payload.din, payload.patient, payload.order, moment(payload.until_ns)
            )
            return UnitAllocated(allocation, at)
        case records.ElectronicIssueAllowed():
            issue = ElectronicIssue(
                payload.patient,
                payload.order,
                frozenset(BloodGroup(group) for group in payload.groups),
                payload.product_class,
                moment(payload.until_ns),
            )
            return ElectronicIssueAllowed(issue, at)
        case records.OrderCancelled():
            relocked = _grants(cabinet, payload.relocked_slots)
            return OrderCancelled(payload.order, payload.deallocated, relocked, at)
        case records.AllocationCancelled():
            grant = (
                None if payload.relocked_slot is None else cabinet.grants.get(payload.relocked_slot)
            )
            return AllocationCancelled(payload.din, grant, at)
        case records.SlotsReleased() if payload.purpose in set(UnlockPurpose):
            purpose = UnlockPurpose(payload.purpose)
            grants = tuple(
                SlotGrant(
                    slot, din, purpose, payload.user, payload.patient, order or None, at_ns / _NS
                )
                for slot, din, order, at_ns in zip(
                    payload.slots, payload.dins, payload.orders, payload.relock_at_ns, strict=True
                )
            )
            return UnlockPlan(
                purpose, payload.user, payload.patient, grants, at, payload.reason, payload.witness
            )
        case records.UnitDispensed():
            return UnitDispensed(
                payload.din,
                payload.slot,
                payload.tag_uid,
                payload.user,
                payload.patient,
                payload.order,
                payload.emergency,
                at,
            )
        case records.UnitDisposed():
            return UnitDisposed(payload.din, payload.slot, payload.user, at)
        case records.WrongUnitRemoved():
            return Incident(
                IncidentKind(payload.kind),
                payload.slot,
                payload.din,
                payload.tag_uid,
                payload.user,
                payload.detail,
                at,
            )
        case records.SlotsRelocked():
            return SlotsRelocked(_grants(cabinet, payload.slots), payload.reason, at)
        case records.UnitReturned():
            return UnitReturned(
                payload.din,
                payload.accepted,
                payload.slot,
                dt.timedelta(minutes=payload.minutes_out),
                payload.reason,
                payload.user,
                at,
            )
        case records.UnitQuarantined():
            return UnitQuarantined(payload.din, payload.reason, cabinet.grant_for(payload.din), at)
        case records.ExpirySwept():
            relocked = tuple(
                grant for din in payload.expired if (grant := cabinet.grant_for(din)) is not None
            )
            return ExpirySweep(
                (), payload.expired, relocked, payload.lapsed_allocations, payload.lapsed_issues, at
            )
    return None


def badge_list_of(payload: records.BadgeListUpdated) -> BadgeList:
    """The badge list a record carries."""
    users = {
        uid: User(user, name, frozenset(Role(role) for role in roles.split(",") if role))
        for uid, user, name, roles in zip(
            payload.uids, payload.users, payload.names, payload.roles, strict=True
        )
    }
    return BadgeList(users, moment(payload.issued_ns))
