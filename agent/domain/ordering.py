"""The hospital's commands: orders, unit allocations, electronic issue, cancellations and
quarantine.

The agent applies the blood bank's decisions as given and checks only that they fit what is in
the cabinet: a unit allocated must be here, in stock and unexpired; an allocation names a known
order of the same patient; an order's limit never falls below what it has issued or has
unlocked. Cancelling revokes any unlock made under what was cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from agent.domain.allocations import ElectronicIssue, Order, UnitAllocation
from agent.domain.blood import BloodGroup
from agent.domain.outcomes import (
    AllocationCancelled,
    ElectronicIssueAllowed,
    OrderCancelled,
    OrderPlaced,
    UnitAllocated,
    UnitQuarantined,
)
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.units import UnitState

if TYPE_CHECKING:
    from agent.domain.cabinet import Cabinet

__all__ = [
    "allocate_unit",
    "allow_electronic_issue",
    "cancel_allocation",
    "cancel_order",
    "place_order",
    "quarantine",
]


def place_order(
    cabinet: Cabinet, order_id: str, *, patient_id: str, unit_limit: int, now: datetime
) -> OrderPlaced | Refusal:
    """Record an order, or change the unit limit of one already known."""
    if unit_limit < 1:
        return Refusal(
            RefusalCode.INVALID_REQUEST, f"Order {order_id} must allow at least one unit."
        )
    known = cabinet.orders.get(order_id)
    if known is None:
        return OrderPlaced(Order(order_id, patient_id, unit_limit), now)
    if known.patient_id != patient_id:
        return Refusal(
            RefusalCode.ORDER_CONFLICT,
            f"Order {order_id} is for patient {known.patient_id}, not {patient_id}.",
        )
    committed = known.units_issued + cabinet.pending_on(order_id)
    if unit_limit < committed:
        return Refusal(
            RefusalCode.INVALID_REQUEST,
            f"Order {order_id} already has {committed} units issued or unlocked; its limit "
            f"cannot drop to {unit_limit}.",
        )
    return OrderPlaced(Order(order_id, patient_id, unit_limit, known.units_issued), now)


def _order_refusal(cabinet: Cabinet, order_id: str, patient_id: str) -> Refusal | None:
    order = cabinet.orders.get(order_id)
    if order is None:
        return Refusal(RefusalCode.UNKNOWN_ORDER, f"Order {order_id} is not known here.")
    if order.patient_id != patient_id:
        return Refusal(
            RefusalCode.ORDER_CONFLICT,
            f"Order {order_id} is for patient {order.patient_id}, not {patient_id}.",
        )
    return None


def allocate_unit(
    cabinet: Cabinet,
    din: str,
    *,
    patient_id: str,
    order_id: str,
    until: datetime,
    now: datetime,
) -> UnitAllocated | Refusal:
    """Allocate unit ``din`` to ``patient_id`` on ``order_id`` until ``until`` (renewing an
    allocation to the same patient and order is allowed)."""
    refusal = next(
        _allocation_refusals(cabinet, din, patient_id, order_id, until=until, now=now), None
    )
    if refusal is not None:
        return refusal
    return UnitAllocated(UnitAllocation(din, patient_id, order_id, until), now)


def _allocation_refusals(
    cabinet: Cabinet, din: str, patient_id: str, order_id: str, *, until: datetime, now: datetime
) -> Iterator[Refusal]:
    unit = cabinet.inventory.get(din)
    if unit is None:
        yield Refusal(RefusalCode.UNKNOWN_UNIT, f"Unit {din} is not in this cabinet.")
        return
    refused = _order_refusal(cabinet, order_id, patient_id)
    if refused is not None:
        yield refused
    held = unit.allocation
    if held is not None and (held.patient_id, held.order_id) != (patient_id, order_id):
        yield Refusal(
            RefusalCode.ALREADY_ALLOCATED,
            f"Unit {din} is allocated to patient {held.patient_id} on order "
            f"{held.order_id}; cancel that allocation first.",
        )
    if unit.state not in {UnitState.IN_STOCK, UnitState.ALLOCATED}:
        yield Refusal(
            RefusalCode.UNIT_UNAVAILABLE,
            f"Unit {din} is {unit.state.replace('_', ' ')} and cannot be allocated.",
        )
    if unit.identity.expired(now):
        yield Refusal(RefusalCode.UNIT_EXPIRED, f"Unit {din} has expired.")
    if until <= now:
        yield Refusal(
            RefusalCode.PAST_DEADLINE, f"The allocation of unit {din} would already have ended."
        )


def allow_electronic_issue(
    cabinet: Cabinet,
    patient_id: str,
    *,
    order_id: str,
    groups: frozenset[BloodGroup],
    product_class: str,
    until: datetime,
    now: datetime,
) -> ElectronicIssueAllowed | Refusal:
    """Make ``patient_id`` eligible, on ``order_id`` until ``until``, for in-stock units of
    ``product_class`` whose group is one of ``groups`` (the hospital's list, used as given)."""
    refused = _order_refusal(cabinet, order_id, patient_id)
    if refused is not None:
        return refused
    if not groups:
        return Refusal(
            RefusalCode.INVALID_REQUEST,
            f"The electronic issue for order {order_id} names no blood group.",
        )
    if until <= now:
        return Refusal(
            RefusalCode.PAST_DEADLINE,
            f"The electronic issue for order {order_id} would already have ended.",
        )
    issue = ElectronicIssue(patient_id, order_id, frozenset(groups), product_class, until)
    return ElectronicIssueAllowed(issue, now)


def cancel_order(cabinet: Cabinet, order_id: str, *, now: datetime) -> OrderCancelled | Refusal:
    """Cancel ``order_id``: its allocations, its eligibility and its unlocked slots."""
    if order_id not in cabinet.orders:
        return Refusal(RefusalCode.UNKNOWN_ORDER, f"Order {order_id} is not known here.")
    deallocated = tuple(
        unit.din
        for unit in cabinet.inventory.in_states(UnitState.ALLOCATED, UnitState.UNLOCKED)
        if unit.allocation is not None and unit.allocation.order_id == order_id
    )
    relocked = tuple(
        grant for _, grant in sorted(cabinet.grants.items()) if grant.order_id == order_id
    )
    return OrderCancelled(order_id, deallocated, relocked, now)


def cancel_allocation(
    cabinet: Cabinet, din: str, *, now: datetime
) -> AllocationCancelled | Refusal:
    """Cancel the allocation of unit ``din``, locking its slot again if it was unlocked."""
    unit = cabinet.inventory.get(din)
    if unit is None:
        return Refusal(RefusalCode.UNKNOWN_UNIT, f"Unit {din} is not in this cabinet.")
    if unit.allocation is None:
        return Refusal(RefusalCode.NOT_ALLOCATED, f"Unit {din} is not allocated.")
    return AllocationCancelled(din, cabinet.grant_for(din), now)


def quarantine(
    cabinet: Cabinet, din: str, *, reason: str, now: datetime
) -> UnitQuarantined | Refusal:
    """Quarantine unit ``din`` pending review (a temperature excursion, a recall); a unit
    unlocked at that moment is locked again first."""
    unit = cabinet.inventory.get(din)
    if unit is None:
        return Refusal(RefusalCode.UNKNOWN_UNIT, f"Unit {din} is not in this cabinet.")
    if unit.state not in {UnitState.IN_STOCK, UnitState.ALLOCATED, UnitState.UNLOCKED}:
        return Refusal(
            RefusalCode.UNIT_UNAVAILABLE,
            f"Unit {din} is {unit.state.replace('_', ' ')} and cannot be quarantined.",
        )
    if not reason.strip():
        return Refusal(RefusalCode.REASON_REQUIRED, f"Say why unit {din} is quarantined.")
    return UnitQuarantined(din, reason, cabinet.grant_for(din), now)
