"""What the passing of time does: expiry warnings, expiry, and lapsed allocations.

Invariant kept: at a sweep, every unit still in the cabinet's care (in stock, allocated,
unlocked, returned or quarantined) whose expiry is at or before ``now`` becomes expired - never
dispensable again - and an unlocked one has its dispense grant revoked; every allocation and
electronic-issue eligibility whose ``until`` has passed is dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agent.domain.outcomes import ExpirySweep, ExpiryWarning, UnlockPurpose
from agent.domain.units import UnitState

if TYPE_CHECKING:
    from agent.domain.cabinet import Cabinet

__all__ = ["expiry_sweep"]

_EXPIRING = (
    UnitState.IN_STOCK,
    UnitState.ALLOCATED,
    UnitState.UNLOCKED,
    UnitState.RETURNED,
    UnitState.QUARANTINED,
)
_DISPENSABLE = frozenset({UnitState.IN_STOCK, UnitState.ALLOCATED, UnitState.UNLOCKED})


def expiry_sweep(
    cabinet: Cabinet, now: datetime, *, warn_ahead: timedelta | None = None
) -> ExpirySweep:
    """What changes at ``now``; warnings for dispensable units expiring within ``warn_ahead``
    (default: the policy's). Warnings repeat at every sweep: the caller journals new ones."""
    ahead = cabinet.policy.warn_ahead if warn_ahead is None else warn_ahead
    units = sorted(cabinet.inventory.in_states(*_EXPIRING), key=lambda u: (u.expiry, u.din))
    expired = tuple(unit.din for unit in units if unit.identity.expired(now))
    warnings = tuple(
        ExpiryWarning(unit.din, unit.slot, unit.expiry)
        for unit in units
        if unit.state in _DISPENSABLE and now < unit.expiry <= now + ahead
    )
    gone = set(expired)
    relocked = tuple(
        grant
        for _, grant in sorted(cabinet.grants.items())
        if grant.din in gone and grant.purpose is not UnlockPurpose.DISPOSAL
    )
    lapsed = tuple(
        unit.din
        for unit in units
        if unit.state is UnitState.ALLOCATED
        and unit.din not in gone
        and unit.allocation is not None
        and not unit.allocation.current(now)
    )
    lapsed_issues = tuple(
        order_id for order_id, issue in sorted(cabinet.issues.items()) if not issue.current(now)
    )
    return ExpirySweep(warnings, expired, relocked, lapsed, lapsed_issues, now)
