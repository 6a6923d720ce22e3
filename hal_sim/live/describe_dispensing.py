"""Texts for people about the cabinet's workflows: one line per dispensing event.

Pure functions over payloads, kept apart from :mod:`hal_sim.live.describe` (sensors, sync) so
that each module reads as one list of cases.
"""

from __future__ import annotations

import datetime as dt
from typing import assert_never

from agent.events import (
    AllocationChanged,
    BadgeListUpdated,
    ExpiryWarning,
    InventorySnapshot,
    RequestRefused,
    SignedIn,
    SlotRelocked,
    UnitDispensed,
    UnitExpired,
    UnitQuarantined,
    UnitReleased,
    UnitReturned,
    UnitStocked,
    WrongUnitRemoved,
)

__all__ = ["DispensingPayload", "describe_dispensing"]

DispensingPayload = (
    SignedIn
    | RequestRefused
    | UnitStocked
    | UnitReleased
    | UnitDispensed
    | SlotRelocked
    | WrongUnitRemoved
    | UnitReturned
    | UnitQuarantined
    | ExpiryWarning
    | UnitExpired
    | AllocationChanged
    | BadgeListUpdated
    | InventorySnapshot
)


def _when(wall_ns: int) -> str:
    return f"{dt.datetime.fromtimestamp(wall_ns / 1e9, tz=dt.UTC):%d %b %H:%M}"


def _slot(slot: int | None) -> str:
    return "" if slot is None else f" (slot {slot})"


def describe_dispensing(payload: DispensingPayload) -> str:  # noqa: PLR0911, PLR0912 - one case per type
    """What happened, in a few words."""
    match payload:
        case SignedIn():
            return f"{payload.user} signed in ({', '.join(payload.roles) or 'no roles'})"
        case RequestRefused():
            return f"REFUSED {payload.action}: {payload.message}"
        case UnitStocked():
            return f"unit {payload.din} stocked in slot {payload.slot} by {payload.user}"
        case UnitReleased(purpose="emergency"):
            witness = "" if payload.witness is None else f", witness {payload.witness}"
            return (
                f"EMERGENCY release of {payload.din} from slot {payload.slot} by {payload.user}"
                f" ({payload.reason}{witness})"
            )
        case UnitReleased():
            unit = payload.din or "an empty slot"
            patient = "" if payload.patient is None else f" for patient {payload.patient}"
            return f"slot {payload.slot} released ({payload.purpose}: {unit}{patient})"
        case UnitDispensed():
            to = "EMERGENCY" if payload.emergency else f"patient {payload.patient}"
            return f"unit {payload.din} dispensed from slot {payload.slot} ({to}, {payload.user})"
        case SlotRelocked():
            return f"slot {payload.slot} locked again: {payload.reason}"
        case WrongUnitRemoved():
            unit = payload.din or "an unknown unit"
            return f"WRONG UNIT REMOVED from slot {payload.slot}: {unit} - {payload.detail}"
        case UnitReturned(accepted=True):
            return f"unit {payload.din} returned to stock in slot {payload.slot}"
        case UnitReturned():
            return f"unit {payload.din} returned and QUARANTINED: {payload.reason}"
        case UnitQuarantined():
            return f"unit {payload.din}{_slot(payload.slot)} quarantined: {payload.reason}"
        case ExpiryWarning():
            return f"unit {payload.din}{_slot(payload.slot)} expires {_when(payload.expiry_ns)}"
        case UnitExpired():
            return f"unit {payload.din}{_slot(payload.slot)} EXPIRED and quarantined"
        case AllocationChanged(change="allocated"):
            return f"unit {payload.din} allocated to patient {payload.patient} ({payload.order})"
        case AllocationChanged(change="electronic_issue"):
            return (
                f"patient {payload.patient} eligible for electronic issue of"
                f" {'/'.join(payload.groups)} ({payload.order})"
            )
        case AllocationChanged():
            unit = "" if payload.din is None else f" (unit {payload.din})"
            return f"order {payload.order} {payload.change}{unit}"
        case BadgeListUpdated():
            return f"badge list updated: {payload.badges} badges"
        case InventorySnapshot():
            return f"inventory ({payload.reason}): {len(payload.slots)} units"
        case _:
            assert_never(payload)
