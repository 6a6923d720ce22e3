"""Every state change of a unit: one table, one function.

Rules of this file:

* :data:`TRANSITIONS` is the only place that says which state follows which. A key is
  ``(state, action)``; ``state`` None means "not known to the cabinet" (only ``stock_in`` starts
  there). The value is the new state, or :data:`PRIOR` for "the state it had before the
  unlock".
* :func:`apply` is the only way a unit changes state. It either returns the new unit or raises
  :class:`IllegalTransition`; the unit it was given is immutable and so always unchanged.
* Actions are frozen dataclasses carrying what the new state needs (a slot, an allocation);
  their :attr:`~UnitAction.ACTION` is their row in the table.
* Whatever else the action implies follows from the table: leaving a slot when the new state
  is ``dispensed``, ``returned`` or ``removed``; dropping the allocation when leaving
  ``allocated`` (other than by an unlock, which keeps it until the take or the relock).

===============  ====================  ==========================================
action           from                  to
===============  ====================  ==========================================
stock_in         (not known)           in_stock (in a slot)
allocate         in_stock, allocated   allocated
deallocate       allocated             in_stock
unlock           in_stock, allocated   unlocked (remembers the state it had)
relock           unlocked              the state it had before the unlock
take             unlocked              dispensed (out of its slot)
take_unauth.     in_stock, allocated,  removed (out of its slot; an incident)
                 quarantined, expired
return           dispensed             returned
accept_return    returned              in_stock (in a slot)
reject_return    returned              quarantined (in a slot or not)
quarantine       in_stock, allocated   quarantined
expire           in_stock, allocated,  expired (never dispensable again)
                 unlocked, returned,
                 quarantined
remove_disposal  quarantined, expired  removed (out of its slot)
===============  ====================  ==========================================
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import ClassVar, Final

from agent.domain.allocations import UnitAllocation
from agent.domain.errors import DomainError
from agent.domain.units import OUT_OF_SLOT_STATES, Unit, UnitIdentity, UnitState

__all__ = [
    "PRIOR",
    "TRANSITIONS",
    "AcceptReturn",
    "Action",
    "Allocate",
    "Deallocate",
    "Expire",
    "IllegalTransition",
    "Prior",
    "Quarantine",
    "RejectReturn",
    "Relock",
    "RemoveForDisposal",
    "Return",
    "StockIn",
    "Take",
    "TakeUnauthorised",
    "UnitAction",
    "Unlock",
    "allowed",
    "apply",
]


class Action(enum.StrEnum):
    """The names of the things that can happen to a unit."""

    STOCK_IN = "stock_in"
    ALLOCATE = "allocate"
    DEALLOCATE = "deallocate"
    UNLOCK = "unlock"
    RELOCK = "relock"
    TAKE = "take"
    TAKE_UNAUTHORISED = "take_unauthorised"
    RETURN = "return"
    ACCEPT_RETURN = "accept_return"
    REJECT_RETURN = "reject_return"
    QUARANTINE = "quarantine"
    EXPIRE = "expire"
    REMOVE_FOR_DISPOSAL = "remove_for_disposal"


class Prior(enum.Enum):
    """Marker of the table: the new state is the one the unit had before its unlock."""

    STATE = "prior"


PRIOR: Final = Prior.STATE

_S = UnitState
_A = Action

TRANSITIONS: Mapping[tuple[UnitState | None, Action], UnitState | Prior] = MappingProxyType(
    {
        (None, _A.STOCK_IN): _S.IN_STOCK,
        (_S.IN_STOCK, _A.ALLOCATE): _S.ALLOCATED,
        (_S.ALLOCATED, _A.ALLOCATE): _S.ALLOCATED,
        (_S.ALLOCATED, _A.DEALLOCATE): _S.IN_STOCK,
        (_S.IN_STOCK, _A.UNLOCK): _S.UNLOCKED,
        (_S.ALLOCATED, _A.UNLOCK): _S.UNLOCKED,
        (_S.UNLOCKED, _A.RELOCK): PRIOR,
        (_S.UNLOCKED, _A.TAKE): _S.DISPENSED,
        (_S.IN_STOCK, _A.TAKE_UNAUTHORISED): _S.REMOVED,
        (_S.ALLOCATED, _A.TAKE_UNAUTHORISED): _S.REMOVED,
        (_S.QUARANTINED, _A.TAKE_UNAUTHORISED): _S.REMOVED,
        (_S.EXPIRED, _A.TAKE_UNAUTHORISED): _S.REMOVED,
        (_S.DISPENSED, _A.RETURN): _S.RETURNED,
        (_S.RETURNED, _A.ACCEPT_RETURN): _S.IN_STOCK,
        (_S.RETURNED, _A.REJECT_RETURN): _S.QUARANTINED,
        (_S.IN_STOCK, _A.QUARANTINE): _S.QUARANTINED,
        (_S.ALLOCATED, _A.QUARANTINE): _S.QUARANTINED,
        (_S.IN_STOCK, _A.EXPIRE): _S.EXPIRED,
        (_S.ALLOCATED, _A.EXPIRE): _S.EXPIRED,
        (_S.UNLOCKED, _A.EXPIRE): _S.EXPIRED,
        (_S.RETURNED, _A.EXPIRE): _S.EXPIRED,
        (_S.QUARANTINED, _A.EXPIRE): _S.EXPIRED,
        (_S.QUARANTINED, _A.REMOVE_FOR_DISPOSAL): _S.REMOVED,
        (_S.EXPIRED, _A.REMOVE_FOR_DISPOSAL): _S.REMOVED,
    }
)
"""``(state, action)`` → new state; a pair not in the table is an illegal transition."""


class IllegalTransition(DomainError):
    """An action that the table does not allow from the unit's state."""

    def __init__(self, din: str | None, state: UnitState | None, action: Action) -> None:
        where = f"unit {din} in state {state}" if din is not None else "a unit not yet known"
        super().__init__(f"{action} is not allowed for {where}")
        self.din = din
        self.state = state
        self.action = action


@dataclass(frozen=True, slots=True)
class StockIn:
    """The unit ``identity`` was placed in ``slot``."""

    ACTION: ClassVar[Action] = Action.STOCK_IN
    identity: UnitIdentity
    slot: int


@dataclass(frozen=True, slots=True)
class Allocate:
    """The hospital allocated the unit (or renewed its allocation)."""

    ACTION: ClassVar[Action] = Action.ALLOCATE
    allocation: UnitAllocation


@dataclass(frozen=True, slots=True)
class Deallocate:
    """The allocation was cancelled or lapsed."""

    ACTION: ClassVar[Action] = Action.DEALLOCATE


@dataclass(frozen=True, slots=True)
class Unlock:
    """The unit's slot was unlocked for a dispense or an emergency release."""

    ACTION: ClassVar[Action] = Action.UNLOCK


@dataclass(frozen=True, slots=True)
class Relock:
    """The unlocked slot locked again without the unit leaving."""

    ACTION: ClassVar[Action] = Action.RELOCK


@dataclass(frozen=True, slots=True)
class Take:
    """The unit left its unlocked slot: dispensed."""

    ACTION: ClassVar[Action] = Action.TAKE


@dataclass(frozen=True, slots=True)
class TakeUnauthorised:
    """The unit left its slot without being unlocked for it."""

    ACTION: ClassVar[Action] = Action.TAKE_UNAUTHORISED


@dataclass(frozen=True, slots=True)
class Return:
    """A dispensed unit was brought back and awaits the return decision."""

    ACTION: ClassVar[Action] = Action.RETURN


@dataclass(frozen=True, slots=True)
class AcceptReturn:
    """The returned unit passed the return rule and was placed in ``slot``."""

    ACTION: ClassVar[Action] = Action.ACCEPT_RETURN
    slot: int


@dataclass(frozen=True, slots=True)
class RejectReturn:
    """The returned unit failed the return rule: quarantined, in ``slot`` or handed over."""

    ACTION: ClassVar[Action] = Action.REJECT_RETURN
    slot: int | None


@dataclass(frozen=True, slots=True)
class Quarantine:
    """The unit may not be dispensed pending review."""

    ACTION: ClassVar[Action] = Action.QUARANTINE


@dataclass(frozen=True, slots=True)
class Expire:
    """The unit reached its expiry."""

    ACTION: ClassVar[Action] = Action.EXPIRE


@dataclass(frozen=True, slots=True)
class RemoveForDisposal:
    """A technician took a quarantined or expired unit out for disposal."""

    ACTION: ClassVar[Action] = Action.REMOVE_FOR_DISPOSAL


UnitAction = (
    StockIn
    | Allocate
    | Deallocate
    | Unlock
    | Relock
    | Take
    | TakeUnauthorised
    | Return
    | AcceptReturn
    | RejectReturn
    | Quarantine
    | Expire
    | RemoveForDisposal
)
"""Any action :func:`apply` accepts."""


def allowed(state: UnitState | None, action: Action) -> bool:
    """Whether the table has a row for ``action`` from ``state``."""
    return (state, action) in TRANSITIONS


def apply(unit: Unit | None, action: UnitAction) -> Unit:
    """The unit after ``action``; raises :class:`IllegalTransition` if the table has no row for
    it (``unit`` None: a unit the cabinet does not know yet)."""
    state = unit.state if unit is not None else None
    target = TRANSITIONS.get((state, action.ACTION))
    if target is None:
        raise IllegalTransition(unit.din if unit is not None else None, state, action.ACTION)
    if unit is None:
        assert isinstance(action, StockIn)
        return Unit(action.identity, UnitState.IN_STOCK, slot=action.slot)
    if isinstance(action, Allocate) and action.allocation.din != unit.din:
        raise IllegalTransition(unit.din, state, action.ACTION)
    new_state = unit.prior_state if target is PRIOR else target
    assert isinstance(new_state, UnitState)
    slot = unit.slot
    allocation = unit.allocation
    prior = unit.state if new_state is UnitState.UNLOCKED else None
    if isinstance(action, AcceptReturn | RejectReturn):
        slot = action.slot
    elif new_state in OUT_OF_SLOT_STATES:
        slot = None
    if isinstance(action, Allocate):
        allocation = action.allocation
    elif new_state is not UnitState.ALLOCATED and prior is not UnitState.ALLOCATED:
        allocation = None
    return replace(unit, state=new_state, slot=slot, allocation=allocation, prior_state=prior)
