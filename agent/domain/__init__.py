"""The dispensing cabinet's domain core: units, inventory, users, allocations and the
decisions the cabinet takes on them - pure, immutable values with no I/O, no clock and no
event loop (time is always passed in: aware UTC ``now``, and monotonic seconds for delays).

How it fits together (``docs/domain.md`` has the tables):

* :mod:`~agent.domain.transitions` - the one table of unit state changes;
* :mod:`~agent.domain.inventory` - units by DIN, tag and slot, one unit per slot;
* :mod:`~agent.domain.users`, :mod:`~agent.domain.lockout` - badges, roles, reader lockout;
* :mod:`~agent.domain.allocations` - the hospital's orders, allocations and eligibility;
* :mod:`~agent.domain.cabinet` - the aggregate: decisions return an outcome event from
  :mod:`~agent.domain.outcomes` or a :class:`Refusal`, and :meth:`Cabinet.apply` folds an
  outcome in (journal it first: commit before you act);
* :mod:`~agent.domain.policy` - every tunable rule, with documented defaults.
"""

from __future__ import annotations

from agent.domain.allocations import ElectronicIssue, Order, UnitAllocation
from agent.domain.blood import BloodGroup
from agent.domain.cabinet import Cabinet
from agent.domain.errors import DomainError, InventoryConflict, StaleDecision
from agent.domain.inventory import Inventory
from agent.domain.lockout import ReaderLockout
from agent.domain.outcomes import (
    AllocationCancelled,
    CabinetEvent,
    ElectronicIssueAllowed,
    ExpirySweep,
    ExpiryWarning,
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
from agent.domain.policy import DispensePolicy, ReturnRule, TemperatureRange
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.returns import TemperatureSummary
from agent.domain.transitions import Action, IllegalTransition
from agent.domain.units import Unit, UnitIdentity, UnitState
from agent.domain.users import Admitted, BadgeList, Role, User

__all__ = [
    "Action",
    "Admitted",
    "AllocationCancelled",
    "BadgeList",
    "BloodGroup",
    "Cabinet",
    "CabinetEvent",
    "DispensePolicy",
    "DomainError",
    "ElectronicIssue",
    "ElectronicIssueAllowed",
    "ExpirySweep",
    "ExpiryWarning",
    "IllegalTransition",
    "Incident",
    "IncidentKind",
    "Inventory",
    "InventoryConflict",
    "Order",
    "OrderCancelled",
    "OrderPlaced",
    "ReaderLockout",
    "Refusal",
    "RefusalCode",
    "ReturnRule",
    "Role",
    "SlotGrant",
    "SlotsRelocked",
    "StaleDecision",
    "StockedIn",
    "TemperatureRange",
    "TemperatureSummary",
    "Unit",
    "UnitAllocated",
    "UnitAllocation",
    "UnitDispensed",
    "UnitDisposed",
    "UnitIdentity",
    "UnitQuarantined",
    "UnitReturned",
    "UnitState",
    "UnlockPlan",
    "UnlockPurpose",
    "User",
]
