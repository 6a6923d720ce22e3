"""The outcomes of the cabinet's decisions: frozen events that :meth:`Cabinet.apply` folds in.

A decision method of :class:`~agent.domain.cabinet.Cabinet` looks at the state and returns one
of these (or a :class:`~agent.domain.refusals.Refusal`) without changing anything; the caller
journals it - *before* acting on the hardware, for an unlock (invariant 1) - and then applies
it. Applying the journaled events in order rebuilds the cabinet's state. Every field is plain
data: strings, numbers, aware datetimes, enums and other events of this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.domain.allocations import ElectronicIssue, Order, UnitAllocation
from agent.domain.units import UnitIdentity

__all__ = [
    "AllocationCancelled",
    "CabinetEvent",
    "ElectronicIssueAllowed",
    "ExpirySweep",
    "ExpiryWarning",
    "Incident",
    "IncidentKind",
    "OrderCancelled",
    "OrderPlaced",
    "SlotGrant",
    "SlotsRelocked",
    "StockedIn",
    "UnitAllocated",
    "UnitDispensed",
    "UnitDisposed",
    "UnitQuarantined",
    "UnitReturned",
    "UnlockPlan",
    "UnlockPurpose",
]


class UnlockPurpose(enum.StrEnum):
    """Why a slot is unlocked."""

    DISPENSE = "dispense"
    EMERGENCY = "emergency"
    DISPOSAL = "disposal"


@dataclass(frozen=True, slots=True)
class SlotGrant:
    """Slot ``slot`` is unlocked for unit ``din`` until monotonic second ``relock_at``."""

    slot: int
    din: str
    purpose: UnlockPurpose
    user_id: str
    patient_id: str | None
    order_id: str | None
    relock_at: float


@dataclass(frozen=True, slots=True)
class UnlockPlan:
    """Slots to unlock, decided at ``at``: journal it, apply it, then energise the locks.

    ``reason`` and ``second_user_id`` are those of an emergency release (empty and None
    otherwise)."""

    purpose: UnlockPurpose
    user_id: str
    patient_id: str | None
    grants: tuple[SlotGrant, ...]
    at: datetime
    reason: str = ""
    second_user_id: str | None = None

    @property
    def emergency(self) -> bool:
        """Whether this is an emergency release (flagged, audited, pushed at once)."""
        return self.purpose is UnlockPurpose.EMERGENCY

    @property
    def slots(self) -> tuple[int, ...]:
        """The slots to unlock, first-expiring unit first."""
        return tuple(grant.slot for grant in self.grants)


@dataclass(frozen=True, slots=True)
class StockedIn:
    """Unit ``identity`` goes into ``slot``: apply once presence sensor and RFID confirm it."""

    identity: UnitIdentity
    slot: int
    user_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """The hospital placed (or changed the unit limit of) an order."""

    order: Order
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitAllocated:
    """The hospital allocated (or renewed the allocation of) a unit."""

    allocation: UnitAllocation
    at: datetime


@dataclass(frozen=True, slots=True)
class ElectronicIssueAllowed:
    """The hospital made a patient eligible for electronic issue on an order (replacing any
    earlier eligibility on that order)."""

    issue: ElectronicIssue
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """The hospital cancelled an order: its allocations are dropped (``deallocated`` lists the
    units going back to stock), its eligibility ends, and slots unlocked on it lock again
    (``relocked``: lock them)."""

    order_id: str
    deallocated: tuple[str, ...]
    relocked: tuple[SlotGrant, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class AllocationCancelled:
    """The hospital cancelled one unit's allocation; ``relocked`` is its slot's grant if it was
    unlocked (lock it)."""

    din: str
    relocked: SlotGrant | None
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitDispensed:
    """A unit unlocked for a dispense or an emergency release left its slot."""

    din: str
    slot: int
    tag_uid: str | None
    user_id: str
    patient_id: str | None
    order_id: str | None
    emergency: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitDisposed:
    """A quarantined or expired unit unlocked for disposal left its slot."""

    din: str
    slot: int
    user_id: str
    at: datetime


class IncidentKind(enum.StrEnum):
    """What went wrong when something left a slot."""

    FORCED_SLOT = "forced_slot"
    """A unit left a slot that was not unlocked for it."""
    TAG_MISMATCH = "tag_mismatch"
    """The tag that left is not the tag the records place in that slot."""
    UNKNOWN_ITEM = "unknown_item"
    """Something left a slot the records say is empty."""
    EXPIRED_UNIT = "expired_unit"
    """A unit unlocked for a dispense expired before it was taken: it is not dispensed."""


@dataclass(frozen=True, slots=True)
class Incident:
    """Wrong-unit alarm: something left a slot without a dispense or disposal decision.

    ``din`` is the unit recorded as removed by this incident, when one is known and was in a
    state it can be taken from; ``user_id`` whoever was signed in, if anyone."""

    kind: IncidentKind
    slot: int
    din: str | None
    tag_uid: str | None
    user_id: str | None
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SlotsRelocked:
    """Unlocked slots lock again without their unit leaving (``reason``: ``timeout``,
    ``signed_out``, ``restart`` ...)."""

    grants: tuple[SlotGrant, ...]
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitReturned:
    """A dispensed unit came back: ``accepted`` into stock in ``slot``, or quarantined (in
    ``slot``, or None: handed to the blood bank). Apply once the unit is in its slot."""

    din: str
    accepted: bool
    slot: int | None
    time_out: timedelta
    reason: str
    user_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class UnitQuarantined:
    """A unit may no longer be dispensed pending review; ``relocked`` is its grant if it was
    unlocked (lock the slot)."""

    din: str
    reason: str
    relocked: SlotGrant | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    """Unit ``din`` (in ``slot``) expires at ``expiry``, within the warning period."""

    din: str
    slot: int | None
    expiry: datetime


@dataclass(frozen=True, slots=True)
class ExpirySweep:
    """What time did at ``at``: units to warn about, units now ``expired`` (``relocked``: the
    grants of those that were unlocked - lock them), allocations and electronic-issue
    eligibilities that lapsed."""

    warnings: tuple[ExpiryWarning, ...]
    expired: tuple[str, ...]
    relocked: tuple[SlotGrant, ...]
    lapsed_allocations: tuple[str, ...]
    lapsed_issues: tuple[str, ...]
    at: datetime

    @property
    def changes_state(self) -> bool:
        """Whether applying the sweep changes anything (else there is nothing to journal but
        the warnings)."""
        return bool(self.expired or self.lapsed_allocations or self.lapsed_issues)


CabinetEvent = (
    StockedIn
    | OrderPlaced
    | UnitAllocated
    | ElectronicIssueAllowed
    | OrderCancelled
    | AllocationCancelled
    | UnlockPlan
    | UnitDispensed
    | UnitDisposed
    | Incident
    | SlotsRelocked
    | UnitReturned
    | UnitQuarantined
    | ExpirySweep
)
"""Everything :meth:`~agent.domain.cabinet.Cabinet.apply` accepts."""
