"""What the hospital decided: orders, unit allocations and electronic-issue eligibility.

The agent enforces these decisions and never makes them: which unit is crossmatched for which
patient, and which blood groups a patient may receive by electronic issue, come from the
hospital's blood bank system as given. The invariant kept here: an allocation or eligibility
counts only strictly before its ``until``; an order never issues more than its ``unit_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from agent.domain.blood import BloodGroup

__all__ = ["ElectronicIssue", "Order", "UnitAllocation", "require_aware"]


def require_aware(name: str, moment: datetime) -> None:
    """Raise ``ValueError`` unless ``moment`` carries a time zone (the domain never guesses)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, found naive {moment.isoformat()}")


@dataclass(frozen=True, slots=True)
class UnitAllocation:
    """Unit ``din`` is crossmatched for ``patient_id`` on order ``order_id`` until ``until``."""

    din: str
    patient_id: str
    order_id: str
    until: datetime

    def __post_init__(self) -> None:
        require_aware("until", self.until)

    def current(self, now: datetime) -> bool:
        """Whether the allocation still counts at ``now``."""
        return now < self.until


@dataclass(frozen=True, slots=True)
class ElectronicIssue:
    """``patient_id`` may receive, on order ``order_id`` until ``until``, any in-stock unit of
    ``product_class`` whose group is one of ``groups`` - the list exactly as the hospital gave
    it."""

    patient_id: str
    order_id: str
    groups: frozenset[BloodGroup]
    product_class: str
    until: datetime

    def __post_init__(self) -> None:
        require_aware("until", self.until)

    def current(self, now: datetime) -> bool:
        """Whether the eligibility still counts at ``now``."""
        return now < self.until

    def admits(self, blood_group: BloodGroup, product_class: str) -> bool:
        """Whether a unit of this group and product class is covered."""
        return blood_group in self.groups and product_class == self.product_class


@dataclass(frozen=True, slots=True)
class Order:
    """An order for ``patient_id``: at most ``unit_limit`` units, ``units_issued`` so far."""

    order_id: str
    patient_id: str
    unit_limit: int
    units_issued: int = 0

    def __post_init__(self) -> None:
        if self.unit_limit < 1 or not 0 <= self.units_issued <= self.unit_limit:
            raise ValueError(
                "an order needs unit_limit >= 1 and 0 <= units_issued <= unit_limit, found "
                f"{self.unit_limit} and {self.units_issued}"
            )

    @property
    def remaining(self) -> int:
        """Units the order may still issue."""
        return self.unit_limit - self.units_issued

    def issued_one(self) -> Order:
        """The order after one more unit was dispensed on it; ``ValueError`` past its limit."""
        return replace(self, units_issued=self.units_issued + 1)
