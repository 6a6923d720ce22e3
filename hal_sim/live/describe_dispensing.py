"""Texts for people about the cabinet's workflows: one line per dispensing record.

Pure functions over payloads, kept apart from :mod:`hal_sim.live.describe` (sensors, sync) so
that each module reads as one list of cases.
"""

from __future__ import annotations

import datetime as dt
from typing import assert_never

from agent.dispensing_events import (
    AlarmAcknowledged,
    AllocationCancelled,
    BadgeListUpdated,
    DispensingPayload,
    ElectronicIssueAllowed,
    ExpirySwept,
    ExpiryWarning,
    InventorySnapshot,
    OrderCancelled,
    OrderPlaced,
    RequestRefused,
    SignedIn,
    SlotsReleased,
    SlotsRelocked,
    UnitAllocated,
    UnitDispensed,
    UnitDisposed,
    UnitQuarantined,
    UnitReturned,
    UnitStocked,
    WrongUnitRemoved,
)

__all__ = ["describe_dispensing"]


def _when(wall_ns: int) -> str:
    return f"{dt.datetime.fromtimestamp(wall_ns / 1e9, tz=dt.UTC):%d %b %H:%M}"


def _slot(slot: int | None) -> str:
    return " (not in a slot)" if slot is None else f" (slot {slot})"


def _slots(slots: tuple[int, ...]) -> str:
    return ", ".join(str(slot) for slot in slots)


def describe_dispensing(payload: DispensingPayload) -> str:  # noqa: PLR0911, PLR0912 - one case per type
    """What happened, in a few words."""
    match payload:
        case SignedIn():
            stale = " - BADGE LIST STALE: emergency release only" if payload.stale_list else ""
            return f"{payload.user} signed in ({', '.join(payload.roles) or 'no roles'}){stale}"
        case RequestRefused():
            return f"REFUSED {payload.action}: {payload.message}"
        case UnitStocked():
            return (
                f"unit {payload.din} ({payload.blood_group}) stocked in slot {payload.slot}"
                f" by {payload.user}"
            )
        case OrderPlaced():
            return (
                f"order {payload.order} for patient {payload.patient}: {payload.unit_limit} unit(s)"
            )
        case UnitAllocated():
            return f"unit {payload.din} allocated to patient {payload.patient} ({payload.order})"
        case ElectronicIssueAllowed():
            return (
                f"patient {payload.patient} eligible for electronic issue of"
                f" {'/'.join(payload.groups)} {payload.product_class} ({payload.order})"
            )
        case OrderCancelled():
            return f"order {payload.order} cancelled"
        case AllocationCancelled():
            return f"allocation of unit {payload.din} cancelled"
        case SlotsReleased(purpose="emergency"):
            witness = "" if payload.witness is None else f", witness {payload.witness}"
            return (
                f"EMERGENCY RELEASE by {payload.user}: slot(s) {_slots(payload.slots)}"
                f" ({payload.reason}{witness})"
            )
        case SlotsReleased():
            patient = "" if payload.patient is None else f" for patient {payload.patient}"
            return f"slot(s) {_slots(payload.slots)} released ({payload.purpose}{patient})"
        case UnitDispensed():
            to = "EMERGENCY" if payload.emergency else f"patient {payload.patient}"
            return f"unit {payload.din} dispensed from slot {payload.slot} ({to}, {payload.user})"
        case UnitDisposed():
            return f"unit {payload.din} removed for disposal from slot {payload.slot}"
        case WrongUnitRemoved():
            return f"WRONG UNIT REMOVED from slot {payload.slot}: {payload.detail}"
        case SlotsRelocked():
            return f"slot(s) {_slots(payload.slots)} locked again: {payload.reason}"
        case UnitReturned(accepted=True):
            return f"unit {payload.din} returned to stock{_slot(payload.slot)}"
        case UnitReturned():
            return f"unit {payload.din} returned and QUARANTINED: {payload.reason}"
        case UnitQuarantined():
            return f"unit {payload.din}{_slot(payload.slot)} quarantined: {payload.reason}"
        case ExpiryWarning():
            return f"unit {payload.din}{_slot(payload.slot)} expires {_when(payload.expiry_ns)}"
        case ExpirySwept():
            expired = f"EXPIRED and quarantined: {', '.join(payload.expired)}; " * bool(
                payload.expired
            )
            lapsed = len(payload.lapsed_allocations) + len(payload.lapsed_issues)
            return f"{expired}{lapsed} allocation(s) lapsed"
        case BadgeListUpdated():
            return f"badge list updated: {len(payload.uids)} badges"
        case AlarmAcknowledged():
            return f"alarm acknowledged by {payload.user}"
        case InventorySnapshot():
            return f"inventory ({payload.reason}): {len(payload.slots)} units"
        case _:
            assert_never(payload)
