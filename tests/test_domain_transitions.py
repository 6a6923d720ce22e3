"""The unit transition table: every legal row gives its state, every other pair raises and
leaves the unit as it was; the shape rules of a unit hold after every legal step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.domain import BloodGroup, UnitAllocation, UnitIdentity, UnitState
from agent.domain.transitions import (
    PRIOR,
    TRANSITIONS,
    AcceptReturn,
    Action,
    Allocate,
    Deallocate,
    Expire,
    IllegalTransition,
    Quarantine,
    RejectReturn,
    Relock,
    RemoveForDisposal,
    Return,
    StockIn,
    Take,
    TakeUnauthorised,
    UnitAction,
    Unlock,
    allowed,
    apply,
)
from agent.domain.units import IN_SLOT_STATES, OUT_OF_SLOT_STATES, Unit

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
IDENTITY = UnitIdentity(
    "A999925000001", BloodGroup.O_NEG, "E0332V00", "red_cells", T0 + timedelta(days=5), "TAG1"
)
ALLOCATION = UnitAllocation(IDENTITY.din, "P1", "O1", T0 + timedelta(hours=4))

ACTIONS: dict[Action, UnitAction] = {
    Action.STOCK_IN: StockIn(IDENTITY, 3),
    Action.ALLOCATE: Allocate(ALLOCATION),
    Action.DEALLOCATE: Deallocate(),
    Action.UNLOCK: Unlock(),
    Action.RELOCK: Relock(),
    Action.TAKE: Take(),
    Action.TAKE_UNAUTHORISED: TakeUnauthorised(),
    Action.RETURN: Return(),
    Action.ACCEPT_RETURN: AcceptReturn(5),
    Action.REJECT_RETURN: RejectReturn(None),
    Action.QUARANTINE: Quarantine(),
    Action.EXPIRE: Expire(),
    Action.REMOVE_FOR_DISPOSAL: RemoveForDisposal(),
}


def sample(state: UnitState) -> Unit:
    """One valid unit in ``state``."""
    slot = None if state in OUT_OF_SLOT_STATES else 3
    if state is UnitState.ALLOCATED:
        return Unit(IDENTITY, state, slot, ALLOCATION)
    if state is UnitState.UNLOCKED:
        return Unit(IDENTITY, state, slot, ALLOCATION, prior_state=UnitState.ALLOCATED)
    return Unit(IDENTITY, state, slot)


ALL_PAIRS = [(state, action) for state in [None, *UnitState] for action in Action]


def test_every_action_has_an_action_object() -> None:
    assert set(ACTIONS) == set(Action)
    assert all(ACTIONS[action].ACTION is action for action in Action)


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS)
def test_each_pair_follows_the_table(state: UnitState | None, action: Action) -> None:
    unit = sample(state) if state is not None else None
    before = (
        Unit(unit.identity, unit.state, unit.slot, unit.allocation, unit.prior_state)
        if unit
        else None
    )
    target = TRANSITIONS.get((state, action))
    if target is None:
        assert not allowed(state, action)
        with pytest.raises(IllegalTransition) as raised:
            apply(unit, ACTIONS[action])
        assert raised.value.action is action
        assert raised.value.state is state
        assert unit == before
        return
    after = apply(unit, ACTIONS[action])
    expected = UnitState.ALLOCATED if target is PRIOR else target
    assert after.state is expected
    if after.state in IN_SLOT_STATES:
        assert after.slot is not None
    if after.state in OUT_OF_SLOT_STATES:
        assert after.slot is None
    assert unit == before


def test_the_table_is_closed_over_known_states() -> None:
    for (state, action), target in TRANSITIONS.items():
        assert state is None or isinstance(state, UnitState)
        assert isinstance(action, Action)
        assert target is PRIOR or isinstance(target, UnitState)
    assert [key for key in TRANSITIONS if key[0] is None] == [(None, Action.STOCK_IN)]


def test_relock_restores_the_state_before_the_unlock_with_its_allocation() -> None:
    in_stock = apply(None, StockIn(IDENTITY, 3))
    assert apply(apply(in_stock, Unlock()), Relock()) == in_stock
    allocated = apply(in_stock, Allocate(ALLOCATION))
    unlocked = apply(allocated, Unlock())
    assert unlocked.prior_state is UnitState.ALLOCATED
    assert unlocked.allocation == ALLOCATION
    assert apply(unlocked, Relock()) == allocated


def test_a_take_leaves_the_slot_and_drops_the_allocation() -> None:
    unit = apply(apply(apply(None, StockIn(IDENTITY, 3)), Allocate(ALLOCATION)), Unlock())
    taken = apply(unit, Take())
    assert (taken.state, taken.slot, taken.allocation, taken.prior_state) == (
        UnitState.DISPENSED,
        None,
        None,
        None,
    )


def test_returns_land_in_the_slot_given() -> None:
    returned = apply(sample(UnitState.DISPENSED), Return())
    assert returned.state is UnitState.RETURNED
    assert apply(returned, AcceptReturn(9)).slot == 9
    assert apply(returned, RejectReturn(None)) == Unit(IDENTITY, UnitState.QUARANTINED)
    assert apply(returned, RejectReturn(4)).slot == 4


def test_expiry_is_final_for_dispensing() -> None:
    expired = apply(sample(UnitState.UNLOCKED), Expire())
    assert (expired.state, expired.allocation, expired.prior_state) == (
        UnitState.EXPIRED,
        None,
        None,
    )
    for action in (Action.ALLOCATE, Action.UNLOCK, Action.TAKE, Action.QUARANTINE):
        with pytest.raises(IllegalTransition):
            apply(expired, ACTIONS[action])


def test_an_allocation_for_another_unit_is_refused() -> None:
    other = UnitAllocation("A999925000002", "P1", "O1", T0 + timedelta(hours=1))
    with pytest.raises(IllegalTransition):
        apply(sample(UnitState.IN_STOCK), Allocate(other))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state": UnitState.IN_STOCK, "slot": None},
        {"state": UnitState.DISPENSED, "slot": 2},
        {"state": UnitState.ALLOCATED, "slot": 2},
        {"state": UnitState.IN_STOCK, "slot": 2, "allocation": ALLOCATION},
        {"state": UnitState.UNLOCKED, "slot": 2},
        {"state": UnitState.IN_STOCK, "slot": 2, "prior_state": UnitState.IN_STOCK},
    ],
)
def test_malformed_units_cannot_be_made(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=IDENTITY.din):
        Unit(IDENTITY, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("din", "expiry"),
    [
        ("A99992500001", T0),
        ("a999925000001", T0),
        ("A99992500000X", T0),
        ("A999925000001", T0.replace(tzinfo=None)),
    ],
)
def test_identities_are_checked(din: str, expiry: datetime) -> None:
    with pytest.raises(ValueError, match=r"DIN|aware"):
        UnitIdentity(din, BloodGroup.O_NEG, "E0332V00", "red_cells", expiry, "TAG")
