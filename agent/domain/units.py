"""Blood units as the cabinet knows them: what never changes about a unit, and its state.

A :class:`Unit` is immutable; it changes only through :func:`agent.domain.transitions.apply`,
whose table is the single place that says which state follows which. This module keeps the
shape rules every unit value obeys whatever its history: a unit in ``in_stock``, ``allocated``
or ``unlocked`` is in a slot; a unit that left (``dispensed``, ``returned`` awaiting a decision,
``removed``) is in none; a unit carries an allocation exactly when it is ``allocated`` or
``unlocked`` from ``allocated``; it remembers its state before an unlock exactly while
``unlocked``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from agent.domain.allocations import UnitAllocation, require_aware
from agent.domain.blood import BloodGroup

__all__ = ["IN_SLOT_STATES", "OUT_OF_SLOT_STATES", "Unit", "UnitIdentity", "UnitState"]

_DIN = re.compile(r"[A-Z0-9][0-9]{12}")


class UnitState(enum.StrEnum):
    """Where a unit stands in its life in the cabinet."""

    IN_STOCK = "in_stock"
    ALLOCATED = "allocated"
    UNLOCKED = "unlocked"
    DISPENSED = "dispensed"
    RETURNED = "returned"
    QUARANTINED = "quarantined"
    EXPIRED = "expired"
    REMOVED = "removed"


IN_SLOT_STATES = frozenset({UnitState.IN_STOCK, UnitState.ALLOCATED, UnitState.UNLOCKED})
"""States in which a unit is always in a slot."""
OUT_OF_SLOT_STATES = frozenset({UnitState.DISPENSED, UnitState.RETURNED, UnitState.REMOVED})
"""States in which a unit is never in a slot (quarantined and expired units may be either)."""


@dataclass(frozen=True, slots=True)
class UnitIdentity:
    """What never changes about a unit: its labels and its RFID tag.

    ``din`` is the 13-character Donation Identification Number without its flag and check
    characters (``G123417654321``); ``product_class`` names the storage class (``red_cells``,
    ``platelets``, ``plasma`` ...) that selects temperature limits; ``expiry`` is aware.
    """

    din: str
    blood_group: BloodGroup
    product_code: str
    product_class: str
    expiry: datetime
    tag_uid: str

    def __post_init__(self) -> None:
        if not _DIN.fullmatch(self.din):
            raise ValueError(
                "a DIN is 13 characters: a facility letter or digit, then 12 digits, found "
                f"{self.din!r}"
            )
        require_aware("expiry", self.expiry)
        if not self.product_code or not self.product_class or not self.tag_uid:
            raise ValueError(
                "a unit needs a product code, a product class and a tag uid, found "
                f"{self.product_code!r}, {self.product_class!r}, {self.tag_uid!r}"
            )

    def expired(self, now: datetime) -> bool:
        """Whether the unit is past its expiry at ``now`` (expiry itself counts as expired)."""
        return self.expiry <= now


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit in one state, in at most one slot."""

    identity: UnitIdentity
    state: UnitState
    slot: int | None = None
    allocation: UnitAllocation | None = None
    prior_state: UnitState | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.state in IN_SLOT_STATES and self.slot is None:
            problems.append(f"a unit {self.state} must be in a slot")
        if self.state in OUT_OF_SLOT_STATES and self.slot is not None:
            problems.append(f"a unit {self.state} cannot be in slot {self.slot}")
        allocated = self.state is UnitState.ALLOCATED or self.prior_state is UnitState.ALLOCATED
        if allocated != (self.allocation is not None):
            problems.append(f"a unit {self.state} has an allocation only when allocated")
        if (self.state is UnitState.UNLOCKED) != (self.prior_state is not None):
            problems.append("a unit remembers its state before an unlock only while unlocked")
        if self.allocation is not None and self.allocation.din != self.din:
            problems.append(f"allocation of {self.allocation.din} attached to {self.din}")
        if problems:
            raise ValueError(f"unit {self.din}: " + "; ".join(problems))

    @property
    def din(self) -> str:
        """The unit's Donation Identification Number."""
        return self.identity.din

    @property
    def tag_uid(self) -> str:
        """The uid of the unit's RFID tag."""
        return self.identity.tag_uid

    @property
    def expiry(self) -> datetime:
        """When the unit expires."""
        return self.identity.expiry

    @property
    def blood_group(self) -> BloodGroup:
        """The unit's ABO/RhD group."""
        return self.identity.blood_group

    @property
    def product_class(self) -> str:
        """The unit's storage class."""
        return self.identity.product_class
