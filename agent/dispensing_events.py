"""The dispensing cabinet's records: what people did at the cabinet and what the hospital
decided, as journal payloads.

Two jobs, one set of classes:

* **For the hospital**, each is a flat record with a stable name (``docs/protocol.md``): who
  took which unit for which patient, every refusal with the words the person saw, every
  incident.
* **For the device**, the records that change the cabinet's state (:data:`STATE_CHANGES`) carry
  everything :mod:`agent.cabinet.replay` needs to rebuild the domain's state
  (:class:`agent.domain.Cabinet`) from the journal after a restart - the journal is the one
  source of truth, so nothing can be done that the journal does not hold (invariant 1).

Lists are columns (tuples of one length), as the payload codec encodes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from agent.event_types import EventType

__all__ = [
    "DISPENSING_PAYLOADS",
    "STATE_CHANGES",
    "AlarmAcknowledged",
    "AllocationCancelled",
    "BadgeListUpdated",
    "DispensingPayload",
    "ElectronicIssueAllowed",
    "ExpirySwept",
    "ExpiryWarning",
    "InventorySnapshot",
    "OrderCancelled",
    "OrderPlaced",
    "RequestRefused",
    "SignedIn",
    "SlotsReleased",
    "SlotsRelocked",
    "UnitAllocated",
    "UnitDispensed",
    "UnitDisposed",
    "UnitQuarantined",
    "UnitReturned",
    "UnitStocked",
    "WrongUnitRemoved",
]


def _same_length(*columns: tuple[object, ...]) -> None:
    if len({len(column) for column in columns}) > 1:
        raise ValueError("columns differ in length")


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A badge was accepted: who is at the device now, with which roles (``stale_list``: the
    badge list was older than allowed, so only emergency release is open to them)."""

    TYPE: ClassVar[EventType] = EventType.SIGNED_IN
    user: str
    roles: tuple[str, ...]
    stale_list: bool


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """Something a person (or the hospital) asked of the device was refused; ``message`` is
    what the device said, in plain words. ``action`` is what was tried (``sign_in``,
    ``stock_in``, ``dispense``, ``emergency``, ``return``, ``allocate`` ...), ``code`` the
    machine-readable reason, ``subject`` what it was about (a DIN, a patient, a badge)."""

    TYPE: ClassVar[EventType] = EventType.REQUEST_REFUSED
    action: str
    code: str
    message: str
    user: str | None
    subject: str


@dataclass(frozen=True, slots=True)
class UnitStocked:
    """A unit is in stock: labels checked, tag matched, placement confirmed by the slot's
    presence sensor and RFID. ``blood_group`` is the ABO/RhD group (``O-``, ``AB+`` ...)."""

    TYPE: ClassVar[EventType] = EventType.UNIT_STOCKED
    slot: int
    din: str
    flags: str
    blood_group: str
    product_code: str
    product_class: str
    expiry_ns: int
    tag_uid: str
    user: str


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """The hospital placed an order (or changed its unit limit)."""

    TYPE: ClassVar[EventType] = EventType.ORDER_PLACED
    order: str
    patient: str
    unit_limit: int
    units_issued: int


@dataclass(frozen=True, slots=True)
class UnitAllocated:
    """Unit ``din`` is crossmatched for ``patient`` on ``order`` until ``until_ns``."""

    TYPE: ClassVar[EventType] = EventType.UNIT_ALLOCATED
    din: str
    patient: str
    order: str
    until_ns: int


@dataclass(frozen=True, slots=True)
class ElectronicIssueAllowed:
    """``patient`` may take in-stock units of ``groups`` and ``product_class`` on ``order``
    until ``until_ns``."""

    TYPE: ClassVar[EventType] = EventType.ELECTRONIC_ISSUE_ALLOWED
    patient: str
    order: str
    groups: tuple[str, ...]
    product_class: str
    until_ns: int


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """The hospital cancelled ``order``: the units ``deallocated`` went back to stock and the
    ``relocked_slots`` unlocked on it locked again."""

    TYPE: ClassVar[EventType] = EventType.ORDER_CANCELLED
    order: str
    deallocated: tuple[str, ...]
    relocked_slots: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AllocationCancelled:
    """The hospital cancelled unit ``din``'s allocation (``relocked_slot``: its slot, locked
    again, if it was unlocked)."""

    TYPE: ClassVar[EventType] = EventType.ALLOCATION_CANCELLED
    din: str
    relocked_slot: int | None


@dataclass(frozen=True, slots=True)
class SlotsReleased:
    """Slots are about to unlock: committed *before* any lock is energised (invariant 1).

    ``purpose`` is ``dispense``, ``emergency`` or ``disposal`` (decided by the cabinet's rules,
    one unit per slot), or ``stock_in`` / ``return`` (an empty slot opened to put a unit in).
    An emergency release carries its ``reason`` and, where a second person is required, the
    ``witness``. Per slot: the unit (empty for an empty slot), the order, and the monotonic
    time (``relock_at_ns``, this boot) at which it locks again if not opened.
    """

    TYPE: ClassVar[EventType] = EventType.SLOTS_RELEASED
    purpose: str
    user: str
    patient: str | None
    reason: str
    witness: str | None
    slots: tuple[int, ...]
    dins: tuple[str, ...]
    orders: tuple[str, ...]
    relock_at_ns: tuple[int, ...]

    def __post_init__(self) -> None:
        _same_length(self.slots, self.dins, self.orders, self.relock_at_ns)


@dataclass(frozen=True, slots=True)
class UnitDispensed:
    """A released unit left its slot: removal confirmed by the presence sensor and RFID."""

    TYPE: ClassVar[EventType] = EventType.UNIT_DISPENSED
    slot: int
    din: str
    tag_uid: str | None
    user: str
    patient: str | None
    order: str | None
    emergency: bool


@dataclass(frozen=True, slots=True)
class UnitDisposed:
    """A quarantined or expired unit, released for disposal, left its slot."""

    TYPE: ClassVar[EventType] = EventType.UNIT_DISPOSED
    slot: int
    din: str
    user: str


@dataclass(frozen=True, slots=True)
class WrongUnitRemoved:
    """Alarm and incident: something left a slot without a dispense or disposal decision.

    ``kind`` is ``forced_slot``, ``tag_mismatch``, ``unknown_item`` or ``expired_unit``;
    ``din`` the unit recorded as removed by it, if any; ``user`` whoever was signed in."""

    TYPE: ClassVar[EventType] = EventType.WRONG_UNIT_REMOVED
    kind: str
    slot: int
    din: str | None
    tag_uid: str | None
    user: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class SlotsRelocked:
    """Released slots locked again without their unit leaving (``timeout``, ``signed_out``,
    ``restart`` ...)."""

    TYPE: ClassVar[EventType] = EventType.SLOTS_RELOCKED
    slots: tuple[int, ...]
    dins: tuple[str, ...]
    reason: str

    def __post_init__(self) -> None:
        _same_length(self.slots, self.dins)


@dataclass(frozen=True, slots=True)
class UnitReturned:
    """A dispensed unit came back: ``accepted`` into stock in ``slot``, or quarantined (in
    ``slot``, or None: handed to the blood bank), after ``minutes_out`` out of storage."""

    TYPE: ClassVar[EventType] = EventType.UNIT_RETURNED
    din: str
    slot: int | None
    accepted: bool
    minutes_out: float
    reason: str
    user: str


@dataclass(frozen=True, slots=True)
class UnitQuarantined:
    """A unit may no longer be dispensed, pending review: ``reason`` says why."""

    TYPE: ClassVar[EventType] = EventType.UNIT_QUARANTINED
    din: str
    slot: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    """A unit in the device expires soon (``expiry_ns``, wall clock). Recorded once per unit."""

    TYPE: ClassVar[EventType] = EventType.EXPIRY_WARNING
    din: str
    slot: int | None
    expiry_ns: int


@dataclass(frozen=True, slots=True)
class ExpirySwept:
    """What time did: units now ``expired`` (quarantined automatically, never dispensable
    again), unit allocations and electronic-issue eligibilities (by order) that lapsed."""

    TYPE: ClassVar[EventType] = EventType.EXPIRY_SWEPT
    expired: tuple[str, ...]
    lapsed_allocations: tuple[str, ...]
    lapsed_issues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BadgeListUpdated:
    """The badge list the hospital sent (issued at ``issued_ns``, its wall clock), whole: who
    may sign in, one column per field; ``roles`` are comma-separated per badge."""

    TYPE: ClassVar[EventType] = EventType.BADGE_LIST_UPDATED
    issued_ns: int
    uids: tuple[str, ...]
    users: tuple[str, ...]
    names: tuple[str, ...]
    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        _same_length(self.uids, self.users, self.names, self.roles)


@dataclass(frozen=True, slots=True)
class InventorySnapshot:
    """Every unit in the device, one column per field: after every change and on request.
    ``reason`` says which; ``badge_list_stale`` whether the cached badge list is too old."""

    TYPE: ClassVar[EventType] = EventType.INVENTORY_SNAPSHOT
    reason: str
    slots: tuple[int, ...]
    dins: tuple[str, ...]
    states: tuple[str, ...]
    expiries_ns: tuple[int, ...]
    blood_groups: tuple[str, ...]
    product_codes: tuple[str, ...]
    badge_list_stale: bool

    def __post_init__(self) -> None:
        _same_length(
            self.slots,
            self.dins,
            self.states,
            self.expiries_ns,
            self.blood_groups,
            self.product_codes,
        )


@dataclass(frozen=True, slots=True)
class AlarmAcknowledged:
    """Someone (a technician or supervisor) silenced the cabinet's alarm: who, for the audit."""

    TYPE: ClassVar[EventType] = EventType.ALARM_ACKNOWLEDGED
    user: str


DispensingPayload = (
    SignedIn
    | RequestRefused
    | UnitStocked
    | OrderPlaced
    | UnitAllocated
    | ElectronicIssueAllowed
    | OrderCancelled
    | AllocationCancelled
    | SlotsReleased
    | UnitDispensed
    | UnitDisposed
    | WrongUnitRemoved
    | SlotsRelocked
    | UnitReturned
    | UnitQuarantined
    | ExpiryWarning
    | ExpirySwept
    | BadgeListUpdated
    | InventorySnapshot
    | AlarmAcknowledged
)

DISPENSING_PAYLOADS: tuple[type[DispensingPayload], ...] = (
    SignedIn,
    RequestRefused,
    UnitStocked,
    OrderPlaced,
    UnitAllocated,
    ElectronicIssueAllowed,
    OrderCancelled,
    AllocationCancelled,
    SlotsReleased,
    UnitDispensed,
    UnitDisposed,
    WrongUnitRemoved,
    SlotsRelocked,
    UnitReturned,
    UnitQuarantined,
    ExpiryWarning,
    ExpirySwept,
    BadgeListUpdated,
    InventorySnapshot,
    AlarmAcknowledged,
)

STATE_CHANGES: frozenset[EventType] = frozenset(
    {
        EventType.UNIT_STOCKED,
        EventType.ORDER_PLACED,
        EventType.UNIT_ALLOCATED,
        EventType.ELECTRONIC_ISSUE_ALLOWED,
        EventType.ORDER_CANCELLED,
        EventType.ALLOCATION_CANCELLED,
        EventType.SLOTS_RELEASED,
        EventType.UNIT_DISPENSED,
        EventType.UNIT_DISPOSED,
        EventType.WRONG_UNIT_REMOVED,
        EventType.SLOTS_RELOCKED,
        EventType.UNIT_RETURNED,
        EventType.UNIT_QUARANTINED,
        EventType.EXPIRY_SWEPT,
        EventType.BADGE_LIST_UPDATED,
    }
)
"""The records that change the cabinet's state, replayed in order after a restart."""
