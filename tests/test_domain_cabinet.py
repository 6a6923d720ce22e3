"""Each decision of the cabinet and each of its refusals; applying an outcome that no longer
fits raises and leaves the cabinet unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from agent.domain import (
    BloodGroup,
    Cabinet,
    DispensePolicy,
    DomainError,
    IllegalTransition,
    Incident,
    IncidentKind,
    Refusal,
    RefusalCode,
    ReturnRule,
    Role,
    StaleDecision,
    StockedIn,
    TemperatureSummary,
    UnitDispensed,
    UnitDisposed,
    UnitIdentity,
    UnitReturned,
    UnitState,
    UnlockPlan,
    UnlockPurpose,
    User,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TECH = User("t1", "Tess Tech", frozenset({Role.TECHNICIAN}))
NURSE = User("n1", "Nia Nurse", frozenset({Role.CLINICIAN}))
ER = User("e1", "Eli Emergency", frozenset({Role.EMERGENCY, Role.CLINICIAN}))
WITNESS = User("s1", "Sam Supervisor", frozenset({Role.SUPERVISOR}))

R = TypeVar("R")


def unit(
    n: int,
    group: BloodGroup = BloodGroup.O_NEG,
    days: float = 10,
    product_class: str = "red_cells",
) -> UnitIdentity:
    return UnitIdentity(
        f"A999925{n:06d}", group, "E0332V00", product_class, T0 + timedelta(days=days), f"TAG{n}"
    )


def ok(result: R | Refusal) -> R:
    assert not isinstance(result, Refusal), result
    return result


def refused(result: object, code: RefusalCode) -> Refusal:
    assert isinstance(result, Refusal), result
    assert result.code is code, result
    return result


def stocked(*identities: UnitIdentity, slots: int = 6, **policy: object) -> Cabinet:
    cabinet = Cabinet.new(slots, DispensePolicy(**policy))  # type: ignore[arg-type]
    for identity in identities:
        cabinet = cabinet.apply(
            ok(cabinet.stock_in(identity, tag_din=identity.din, user=TECH, now=T0))
        )
    return cabinet


def with_order(cabinet: Cabinet, order: str = "O1", patient: str = "P1", limit: int = 2) -> Cabinet:
    return cabinet.apply(
        ok(cabinet.place_order(order, patient_id=patient, unit_limit=limit, now=T0))
    )


def allocated(
    cabinet: Cabinet, n: int, order: str = "O1", patient: str = "P1", hours: float = 4
) -> Cabinet:
    event = cabinet.allocate_unit(
        unit(n).din, patient_id=patient, order_id=order, until=T0 + timedelta(hours=hours), now=T0
    )
    return cabinet.apply(ok(event))


def unlocked(
    cabinet: Cabinet, patient: str = "P1", monotonic: float = 0.0
) -> tuple[Cabinet, UnlockPlan]:
    plan = ok(cabinet.dispense_plan(NURSE, patient, now=T0, monotonic=monotonic))
    return cabinet.apply(plan), plan


# --- stock-in ------------------------------------------------------------------------------


def test_stock_in_takes_the_lowest_free_slot_once_applied() -> None:
    cabinet = stocked(unit(1))
    event = ok(cabinet.stock_in(unit(2), tag_din=unit(2).din, user=TECH, now=T0))
    assert event == StockedIn(unit(2), 2, "t1", T0)
    assert cabinet.inventory.get(unit(2).din) is None
    after = cabinet.apply(event)
    placed = after.inventory.get(unit(2).din)
    assert placed is not None
    assert (placed.state, placed.slot) == (UnitState.IN_STOCK, 2)


@pytest.mark.parametrize(
    ("identity", "tag_din", "user", "code"),
    [
        (unit(2), unit(2).din, NURSE, RefusalCode.ROLE_REQUIRED),
        (unit(2), unit(3).din, TECH, RefusalCode.TAG_MISMATCH),
        (unit(2, days=0), unit(2).din, TECH, RefusalCode.UNIT_EXPIRED),
        (unit(2, product_class="platelets"), unit(2).din, TECH, RefusalCode.PRODUCT_NOT_STORED),
        (unit(1), unit(1).din, TECH, RefusalCode.DUPLICATE_DIN),
        (
            UnitIdentity(
                unit(2).din, BloodGroup.A_POS, "E0332V00", "red_cells", unit(2).expiry, "TAG1"
            ),
            unit(2).din,
            TECH,
            RefusalCode.DUPLICATE_TAG,
        ),
    ],
)
def test_stock_in_refusals(
    identity: UnitIdentity, tag_din: str, user: User, code: RefusalCode
) -> None:
    cabinet = stocked(unit(1))
    refused(cabinet.stock_in(identity, tag_din=tag_din, user=user, now=T0), code)


def test_stock_in_refuses_when_full_and_says_so() -> None:
    cabinet = stocked(unit(1), unit(2), slots=2)
    refusal = refused(
        cabinet.stock_in(unit(3), tag_din=unit(3).din, user=TECH, now=T0), RefusalCode.NO_FREE_SLOT
    )
    assert refusal.message == "The cabinet is full: no slot is free."


def test_a_dispensed_unit_is_pointed_at_the_return_procedure() -> None:
    cabinet = allocated(with_order(stocked(unit(1))), 1)
    cabinet, _ = unlocked(cabinet)
    cabinet = cabinet.apply(cabinet.removal_observed(1, "TAG1", now=T0))
    refusal = refused(
        cabinet.stock_in(unit(1), tag_din=unit(1).din, user=TECH, now=T0), RefusalCode.DUPLICATE_DIN
    )
    assert "return procedure" in refusal.message


def test_applying_a_stock_in_twice_raises_and_changes_nothing() -> None:
    cabinet = stocked()
    event = ok(cabinet.stock_in(unit(1), tag_din=unit(1).din, user=TECH, now=T0))
    once = cabinet.apply(event)
    with pytest.raises(IllegalTransition):
        once.apply(event)
    clash = StockedIn(unit(2), 1, "t1", T0)
    with pytest.raises(DomainError):
        once.apply(clash)
    assert once.inventory.get(unit(2).din) is None


# --- hospital commands ---------------------------------------------------------------------


def test_orders_can_be_raised_but_not_below_what_they_committed() -> None:
    cabinet = allocated(allocated(with_order(stocked(unit(1), unit(2)), limit=3), 1), 2)
    cabinet, _ = unlocked(cabinet)
    refused(
        cabinet.place_order("O1", patient_id="P1", unit_limit=1, now=T0),
        RefusalCode.INVALID_REQUEST,
    )
    refused(
        cabinet.place_order("O1", patient_id="P2", unit_limit=5, now=T0), RefusalCode.ORDER_CONFLICT
    )
    refused(
        cabinet.place_order("O9", patient_id="P1", unit_limit=0, now=T0),
        RefusalCode.INVALID_REQUEST,
    )
    raised = cabinet.apply(ok(cabinet.place_order("O1", patient_id="P1", unit_limit=2, now=T0)))
    assert raised.orders["O1"].unit_limit == 2


def test_allocation_refusals() -> None:
    cabinet = with_order(with_order(stocked(unit(1), unit(2), unit(3, days=0.01)), "O2", "P2"))
    until = T0 + timedelta(hours=2)

    def allocate(n: int, order: str = "O1", patient: str = "P1", at: datetime = T0) -> object:
        return cabinet.allocate_unit(
            unit(n).din, patient_id=patient, order_id=order, until=until, now=at
        )

    assert (
        refused(allocate(9), RefusalCode.UNKNOWN_UNIT).message
        == f"Unit {unit(9).din} is not in this cabinet."
    )
    refused(allocate(1, order="O7"), RefusalCode.UNKNOWN_ORDER)
    refused(allocate(1, order="O2"), RefusalCode.ORDER_CONFLICT)
    refused(allocate(3, at=T0 + timedelta(hours=1)), RefusalCode.UNIT_EXPIRED)
    refused(allocate(1, at=until), RefusalCode.PAST_DEADLINE)
    cabinet = cabinet.apply(ok(allocate(1)))
    refused(allocate(1, order="O2", patient="P2"), RefusalCode.ALREADY_ALLOCATED)
    renewed = cabinet.allocate_unit(
        unit(1).din, patient_id="P1", order_id="O1", until=until + timedelta(hours=1), now=T0
    )
    allocation = cabinet.apply(ok(renewed)).inventory.units[unit(1).din].allocation
    assert allocation is not None
    assert allocation.until == until + timedelta(hours=1)
    cabinet = cabinet.apply(ok(cabinet.quarantine(unit(2).din, reason="excursion", now=T0)))
    refused(allocate(2), RefusalCode.UNIT_UNAVAILABLE)


def test_electronic_issue_refusals() -> None:
    cabinet = with_order(stocked(unit(1)))
    later = T0 + timedelta(hours=1)
    groups = frozenset({BloodGroup.O_NEG})
    refused(
        cabinet.allow_electronic_issue(
            "P1", order_id="O9", groups=groups, product_class="red_cells", until=later, now=T0
        ),
        RefusalCode.UNKNOWN_ORDER,
    )
    refused(
        cabinet.allow_electronic_issue(
            "P1", order_id="O1", groups=frozenset(), product_class="red_cells", until=later, now=T0
        ),
        RefusalCode.INVALID_REQUEST,
    )
    refused(
        cabinet.allow_electronic_issue(
            "P1", order_id="O1", groups=groups, product_class="red_cells", until=T0, now=T0
        ),
        RefusalCode.PAST_DEADLINE,
    )


def test_cancelling_an_order_relocks_and_deallocates() -> None:
    cabinet = allocated(allocated(with_order(stocked(unit(1), unit(2))), 1), 2)
    cabinet = with_order(cabinet, "O2", "P2")
    cabinet = cabinet.apply(
        ok(
            cabinet.allow_electronic_issue(
                "P1",
                order_id="O1",
                groups=frozenset({BloodGroup.O_NEG}),
                product_class="red_cells",
                until=T0 + timedelta(hours=1),
                now=T0,
            )
        )
    )
    cabinet, plan = unlocked(cabinet)
    assert plan.slots == (1, 2)
    event = ok(cabinet.cancel_order("O1", now=T0))
    assert event.deallocated == (unit(1).din, unit(2).din)
    assert [grant.slot for grant in event.relocked] == [1, 2]
    after = cabinet.apply(event)
    assert {u.state for u in after.inventory.units.values()} == {UnitState.IN_STOCK}
    assert (dict(after.grants), "O1" in after.orders, "O1" in after.issues) == ({}, False, False)
    refused(after.cancel_order("O1", now=T0), RefusalCode.UNKNOWN_ORDER)
    with pytest.raises(StaleDecision):
        after.apply(event)


def test_cancelling_one_allocation_relocks_its_slot() -> None:
    cabinet = allocated(with_order(stocked(unit(1), unit(2))), 1)
    refused(cabinet.cancel_allocation(unit(2).din, now=T0), RefusalCode.NOT_ALLOCATED)
    refused(cabinet.cancel_allocation(unit(9).din, now=T0), RefusalCode.UNKNOWN_UNIT)
    cabinet, _ = unlocked(cabinet)
    event = ok(cabinet.cancel_allocation(unit(1).din, now=T0))
    assert event.relocked is not None
    assert event.relocked.slot == 1
    after = cabinet.apply(event)
    assert after.inventory.units[unit(1).din].state is UnitState.IN_STOCK
    assert not after.grants


def test_quarantine_refusals_and_relock() -> None:
    cabinet = allocated(with_order(stocked(unit(1), unit(2))), 1)
    refused(cabinet.quarantine(unit(9).din, reason="recall", now=T0), RefusalCode.UNKNOWN_UNIT)
    refused(cabinet.quarantine(unit(2).din, reason=" ", now=T0), RefusalCode.REASON_REQUIRED)
    cabinet, _ = unlocked(cabinet)
    event = ok(cabinet.quarantine(unit(1).din, reason="excursion", now=T0))
    assert event.relocked is not None
    after = cabinet.apply(event)
    quarantined = after.inventory.units[unit(1).din]
    assert (quarantined.state, quarantined.slot, quarantined.allocation) == (
        UnitState.QUARANTINED,
        1,
        None,
    )
    refused(after.quarantine(unit(1).din, reason="again", now=T0), RefusalCode.UNIT_UNAVAILABLE)


# --- dispense ------------------------------------------------------------------------------


def test_dispense_plan_unlocks_the_patients_units_first_expiring_first() -> None:
    cabinet = stocked(unit(1, days=9), unit(2, days=3), unit(3, days=5), unit(4, days=1))
    cabinet = with_order(with_order(cabinet, limit=2), "O2", "P2")
    for n in (1, 2, 3):
        cabinet = allocated(cabinet, n)
    cabinet = allocated(cabinet, 4, order="O2", patient="P2")
    plan = ok(cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=100.0))
    assert plan.slots == (2, 3)
    assert [g.din for g in plan.grants] == [unit(2).din, unit(3).din]
    assert {(g.purpose, g.patient_id, g.order_id, g.relock_at) for g in plan.grants} == {
        (UnlockPurpose.DISPENSE, "P1", "O1", 130.0)
    }
    assert not plan.emergency
    one = ok(cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0.0, wanted=1))
    assert one.slots == (2,)
    refused(
        cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0.0, wanted=0),
        RefusalCode.INVALID_REQUEST,
    )


def test_dispense_refusals_speak_plainly() -> None:
    cabinet = with_order(stocked(unit(1), unit(2, days=0.5)))
    refused(cabinet.dispense_plan(TECH, "P1", now=T0, monotonic=0), RefusalCode.ROLE_REQUIRED)
    none = refused(
        cabinet.dispense_plan(NURSE, "P123", now=T0, monotonic=0), RefusalCode.NO_ALLOCATION
    )
    assert none.message == "No unit is allocated to patient P123 in this cabinet."
    cabinet = allocated(cabinet, 2, hours=24)
    later = T0 + timedelta(hours=13)
    refused(
        cabinet.dispense_plan(NURSE, "P1", now=later, monotonic=0), RefusalCode.NO_DISPENSABLE_UNIT
    )
    lapsed = T0 + timedelta(hours=25)
    ended = refused(
        cabinet.dispense_plan(NURSE, "P1", now=lapsed, monotonic=0), RefusalCode.NO_ALLOCATION
    )
    assert "has ended" in ended.message


def test_order_limits_count_issued_and_unlocked_units() -> None:
    cabinet = with_order(stocked(unit(1), unit(2), unit(3)), limit=2)
    for n in (1, 2, 3):
        cabinet = allocated(cabinet, n)
    plan = ok(cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0, wanted=1))
    cabinet = cabinet.apply(plan)
    second = ok(cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0))
    assert len(second.grants) == 1
    cabinet = cabinet.apply(second)
    limit = refused(
        cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0), RefusalCode.ORDER_LIMIT_REACHED
    )
    assert "O1" in limit.message
    for slot in (1, 2):
        cabinet = cabinet.apply(cabinet.removal_observed(slot, f"TAG{slot}", now=T0))
    assert cabinet.orders["O1"].units_issued == 2
    refused(
        cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0), RefusalCode.ORDER_LIMIT_REACHED
    )


def test_a_plan_made_twice_cannot_be_applied_twice() -> None:
    cabinet = allocated(with_order(stocked(unit(1))), 1)
    plan = ok(cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0))
    after = cabinet.apply(plan)
    with pytest.raises(StaleDecision):
        after.apply(plan)
    assert after.grants[1] == plan.grants[0]
    refused(after.dispense_plan(NURSE, "P1", now=T0, monotonic=0), RefusalCode.ALREADY_UNLOCKED)


def test_electronic_issue_unlocks_matching_in_stock_units_only() -> None:
    cabinet = stocked(
        unit(1, BloodGroup.A_POS, days=4),
        unit(2, BloodGroup.O_NEG, days=2),
        unit(3, BloodGroup.B_POS, days=1),
    )
    cabinet = with_order(cabinet, limit=1)
    cabinet = cabinet.apply(
        ok(
            cabinet.allow_electronic_issue(
                "P1",
                order_id="O1",
                groups=frozenset({BloodGroup.A_POS, BloodGroup.O_NEG}),
                product_class="red_cells",
                until=T0 + timedelta(hours=2),
                now=T0,
            )
        )
    )
    plan = ok(cabinet.dispense_plan(NURSE, "P1", now=T0, monotonic=0))
    assert plan.slots == (2,)
    after = cabinet.apply(plan)
    assert after.inventory.units[unit(2).din].state is UnitState.UNLOCKED
    refused(after.dispense_plan(NURSE, "P1", now=T0, monotonic=0), RefusalCode.ORDER_LIMIT_REACHED)
    refused(
        cabinet.dispense_plan(NURSE, "P1", now=T0 + timedelta(hours=2), monotonic=0),
        RefusalCode.NO_ALLOCATION,
    )


def test_a_forged_plan_is_refused_when_applied() -> None:
    cabinet = with_order(stocked(unit(1)))
    plan = ok(allocated(cabinet, 1).dispense_plan(NURSE, "P1", now=T0, monotonic=0))
    with pytest.raises(StaleDecision):
        cabinet.apply(plan)
    assert cabinet.inventory.units[unit(1).din].state is UnitState.IN_STOCK


def test_already_unlocked_is_said_plainly() -> None:
    cabinet = with_order(stocked(unit(1), unit(2)))
    cabinet = cabinet.apply(
        ok(
            cabinet.allow_electronic_issue(
                "P1",
                order_id="O1",
                groups=frozenset({BloodGroup.O_NEG}),
                product_class="red_cells",
                until=T0 + timedelta(hours=2),
                now=T0,
            )
        )
    )
    cabinet, _ = unlocked(cabinet)
    cabinet = cabinet.apply(ok(cabinet.expiry_sweep(T0 + timedelta(hours=3))))
    refusal = refused(
        cabinet.dispense_plan(NURSE, "P1", now=T0 + timedelta(hours=3), monotonic=0),
        RefusalCode.ALREADY_UNLOCKED,
    )
    assert refusal.message == "Slot 1, 2 is already unlocked for patient P1."


# --- emergency release ---------------------------------------------------------------------


def test_emergency_release_takes_unallocated_o_negative_first_expiring() -> None:
    cabinet = stocked(
        unit(1, days=5),
        unit(2, BloodGroup.O_POS, days=1),
        unit(3, days=2),
        unit(4, days=1),
        unit(5, days=3),
    )
    cabinet = allocated(with_order(cabinet), 4)
    plan = ok(
        cabinet.emergency_plan(ER, reason="trauma bay 2", second_user=None, now=T0, monotonic=5.0)
    )
    assert plan.emergency
    assert plan.slots == (3, 5)
    assert (plan.reason, plan.patient_id, plan.second_user_id) == ("trauma bay 2", None, None)
    after = cabinet.apply(plan)
    event = after.removal_observed(3, "TAG3", now=T0, signed_in="e1")
    assert isinstance(event, UnitDispensed)
    assert (event.emergency, event.order_id, event.user_id) == (True, None, "e1")


def test_emergency_refusals() -> None:
    cabinet = stocked(unit(1, BloodGroup.A_POS), emergency_second_person=True)
    refused(
        cabinet.emergency_plan(NURSE, reason="x", second_user=WITNESS, now=T0, monotonic=0),
        RefusalCode.ROLE_REQUIRED,
    )
    refused(
        cabinet.emergency_plan(ER, reason="  ", second_user=WITNESS, now=T0, monotonic=0),
        RefusalCode.REASON_REQUIRED,
    )
    refused(
        cabinet.emergency_plan(ER, reason="bleed", second_user=None, now=T0, monotonic=0),
        RefusalCode.SECOND_PERSON_REQUIRED,
    )
    refused(
        cabinet.emergency_plan(ER, reason="bleed", second_user=ER, now=T0, monotonic=0),
        RefusalCode.SECOND_PERSON_REQUIRED,
    )
    none = refused(
        cabinet.emergency_plan(ER, reason="bleed", second_user=WITNESS, now=T0, monotonic=0),
        RefusalCode.NO_EMERGENCY_UNIT,
    )
    assert none.message == "No O RhD negative red cells are in stock here."


def test_emergency_with_a_second_person_records_them() -> None:
    cabinet = stocked(unit(1), emergency_second_person=True, emergency_units=1)
    plan = ok(
        cabinet.emergency_plan(
            ER, reason="bleed", second_user=WITNESS, now=T0, monotonic=0, patient_id="UNKNOWN-7"
        )
    )
    assert (plan.second_user_id, plan.patient_id, plan.slots) == ("s1", "UNKNOWN-7", (1,))


def test_an_expired_emergency_unit_is_never_released() -> None:
    cabinet = stocked(unit(1, days=1))
    later = T0 + timedelta(days=1)
    refused(
        cabinet.emergency_plan(ER, reason="bleed", second_user=None, now=later, monotonic=0),
        RefusalCode.NO_EMERGENCY_UNIT,
    )


# --- removal and relock --------------------------------------------------------------------


def test_a_unit_taken_from_a_locked_slot_is_an_incident() -> None:
    cabinet = allocated(with_order(stocked(unit(1), unit(2))), 1)
    cabinet, _ = unlocked(cabinet)
    event = cabinet.removal_observed(2, "TAG2", now=T0, signed_in="n1")
    assert isinstance(event, Incident)
    assert (event.kind, event.din, event.user_id) == (IncidentKind.FORCED_SLOT, unit(2).din, "n1")
    assert "slot 2" in event.message
    after = cabinet.apply(event)
    removed = after.inventory.units[unit(2).din]
    assert (removed.state, removed.slot) == (UnitState.REMOVED, None)
    assert after.inventory.units[unit(1).din].state is UnitState.UNLOCKED


def test_a_tag_that_does_not_match_the_slot_is_an_incident() -> None:
    cabinet = allocated(with_order(stocked(unit(1), unit(2))), 1)
    cabinet, _ = unlocked(cabinet)
    event = cabinet.removal_observed(1, "TAG2", now=T0)
    assert isinstance(event, Incident)
    assert (event.kind, event.din) == (IncidentKind.TAG_MISMATCH, unit(2).din)
    after = cabinet.apply(event)
    assert after.inventory.units[unit(2).din].state is UnitState.REMOVED
    stranger = cabinet.removal_observed(1, "TAG-UNKNOWN", now=T0)
    assert isinstance(stranger, Incident)
    assert stranger.din is None
    assert cabinet.apply(stranger) == cabinet


def test_something_leaving_an_empty_slot_is_an_incident() -> None:
    cabinet = stocked(unit(1))
    event = cabinet.removal_observed(4, None, now=T0)
    assert isinstance(event, Incident)
    assert (event.kind, event.din) == (IncidentKind.UNKNOWN_ITEM, None)
    assert cabinet.apply(event) == cabinet


def test_a_dispense_is_recorded_with_who_and_for_whom() -> None:
    cabinet = allocated(with_order(stocked(unit(1))), 1)
    cabinet, _ = unlocked(cabinet)
    event = cabinet.removal_observed(1, None, now=T0)
    assert event == UnitDispensed(unit(1).din, 1, None, "n1", "P1", "O1", False, T0)
    after = cabinet.apply(event)
    assert after.inventory.units[unit(1).din].state is UnitState.DISPENSED
    assert after.orders["O1"].units_issued == 1
    assert not after.grants
    with pytest.raises(StaleDecision):
        after.apply(event)


def test_a_unit_that_expired_while_unlocked_is_not_dispensed() -> None:
    cabinet = allocated(with_order(stocked(unit(1, days=0.5))), 1, hours=24)
    cabinet, _ = unlocked(cabinet)
    event = cabinet.removal_observed(1, "TAG1", now=T0 + timedelta(days=0.5))
    assert isinstance(event, Incident)
    assert (event.kind, event.din) == (IncidentKind.EXPIRED_UNIT, unit(1).din)
    assert "do not transfuse" in event.message
    after = cabinet.apply(event)
    assert after.inventory.units[unit(1).din].state is UnitState.REMOVED
    assert (dict(after.grants), after.orders["O1"].units_issued) == ({}, 0)


def test_slots_not_opened_in_time_relock_to_their_prior_state() -> None:
    cabinet = allocated(with_order(stocked(unit(1))), 1)
    cabinet, plan = unlocked(cabinet, monotonic=10.0)
    assert cabinet.relock_due(now=T0, monotonic=39.9) is None
    due = cabinet.relock_due(now=T0, monotonic=40.0)
    assert due is not None
    assert (due.grants, due.reason) == (plan.grants, "timeout")
    after = cabinet.apply(due)
    relocked = after.inventory.units[unit(1).din]
    assert (relocked.state, relocked.allocation is not None) == (UnitState.ALLOCATED, True)
    with pytest.raises(StaleDecision):
        after.apply(due)
    everything = cabinet.relock_all(now=T0, reason="restart")
    assert everything is not None
    assert cabinet.apply(everything) == after
    assert after.relock_all(now=T0, reason="restart") is None


def test_disposal_unlocks_quarantined_and_expired_units_for_a_technician() -> None:
    cabinet = stocked(unit(1, days=1), unit(2), unit(3))
    cabinet = cabinet.apply(ok(cabinet.quarantine(unit(2).din, reason="excursion", now=T0)))
    refused(cabinet.disposal_plan(NURSE, now=T0, monotonic=0), RefusalCode.ROLE_REQUIRED)
    cabinet = cabinet.apply(cabinet.expiry_sweep(T0 + timedelta(days=1)))
    plan = ok(cabinet.disposal_plan(TECH, now=T0, monotonic=0))
    assert plan.slots == (1, 2)
    cabinet = cabinet.apply(plan)
    event = cabinet.removal_observed(2, "TAG2", now=T0)
    assert event == UnitDisposed(unit(2).din, 2, "t1", T0)
    cabinet = cabinet.apply(event)
    assert cabinet.inventory.units[unit(2).din].state is UnitState.REMOVED
    cabinet = cabinet.apply(ok(cabinet.relock_due(now=T0, monotonic=60)))
    assert cabinet.inventory.units[unit(1).din].state is UnitState.EXPIRED
    refused(
        stocked(unit(1)).disposal_plan(TECH, now=T0, monotonic=0), RefusalCode.NOTHING_TO_REMOVE
    )


# --- returns -------------------------------------------------------------------------------


def dispensed(*identities: UnitIdentity, slots: int = 6, **policy: object) -> Cabinet:
    cabinet = with_order(stocked(*identities, slots=slots, **policy), limit=len(identities))
    for identity in identities:
        cabinet = allocated(cabinet, int(identity.din[-6:]))
    cabinet, plan = unlocked(cabinet)
    for grant in plan.grants:
        cabinet = cabinet.apply(cabinet.removal_observed(grant.slot, None, now=T0))
    return cabinet


def returned(
    cabinet: Cabinet, minutes: float, temperature: TemperatureSummary | None = None, n: int = 1
) -> UnitReturned:
    back = T0 + timedelta(minutes=minutes)
    return ok(
        cabinet.return_decision(
            NURSE, unit(n).din, left_storage_at=T0, returned_at=back, temperature=temperature
        )
    )


def summary(low: float, high: float, minutes: float = 60) -> TemperatureSummary:
    return TemperatureSummary(low, high, T0, T0 + timedelta(minutes=minutes))


def test_a_return_within_the_time_limit_goes_back_into_stock() -> None:
    cabinet = dispensed(unit(1))
    event = returned(cabinet, 30)
    assert (event.accepted, event.slot, event.time_out) == (True, 1, timedelta(minutes=30))
    back = cabinet.apply(event).inventory.units[unit(1).din]
    assert (back.state, back.slot) == (UnitState.IN_STOCK, 1)


def test_a_late_return_is_quarantined_unless_its_history_clears_it() -> None:
    cabinet = dispensed(unit(1))
    late = returned(cabinet, 45)
    assert not late.accepted
    assert "45 min out of controlled storage, limit 30 min" in late.reason
    assert cabinet.apply(late).inventory.units[unit(1).din].state is UnitState.QUARANTINED
    assert returned(cabinet, 45, summary(3.0, 8.5)).accepted
    assert not returned(cabinet, 45, summary(0.5, 8.5)).accepted
    assert not returned(cabinet, 45, summary(3.0, 8.5, minutes=40)).accepted


def test_the_return_rule_is_the_policys() -> None:
    by_time = dispensed(unit(1), return_rule=ReturnRule.TIME)
    assert not returned(by_time, 45, summary(3.0, 8.5)).accepted
    by_temperature = dispensed(unit(1), return_rule=ReturnRule.TEMPERATURE)
    assert not returned(by_temperature, 5).accepted
    assert returned(by_temperature, 5, summary(3.0, 8.5)).accepted
    sixty = dispensed(unit(1), return_limit=timedelta(minutes=60))
    assert returned(sixty, 60).accepted


def test_an_expired_return_is_quarantined() -> None:
    cabinet = dispensed(unit(1, days=0.01))
    event = returned(cabinet, 20)
    assert not event.accepted
    assert "expired" in event.reason


def test_return_refusals() -> None:
    cabinet = dispensed(unit(1), unit(2), slots=2)
    cabinet = cabinet.apply(ok(cabinet.stock_in(unit(3), tag_din=unit(3).din, user=TECH, now=T0)))
    cabinet = cabinet.apply(ok(cabinet.stock_in(unit(4), tag_din=unit(4).din, user=TECH, now=T0)))
    back = T0 + timedelta(minutes=10)
    refused(
        cabinet.return_decision(
            User("x", "Xan Visitor", frozenset()), unit(1).din, left_storage_at=T0, returned_at=back
        ),
        RefusalCode.ROLE_REQUIRED,
    )
    refused(
        cabinet.return_decision(NURSE, unit(9).din, left_storage_at=T0, returned_at=back),
        RefusalCode.UNKNOWN_UNIT,
    )
    refused(
        cabinet.return_decision(NURSE, unit(3).din, left_storage_at=T0, returned_at=back),
        RefusalCode.NOT_DISPENSED,
    )
    refused(
        cabinet.return_decision(NURSE, unit(1).din, left_storage_at=back, returned_at=T0),
        RefusalCode.INVALID_REQUEST,
    )
    full = refused(
        cabinet.return_decision(NURSE, unit(1).din, left_storage_at=T0, returned_at=back),
        RefusalCode.NO_FREE_SLOT,
    )
    assert "blood bank" in full.message
    rejected = returned(cabinet, 90)
    assert (rejected.accepted, rejected.slot) == (False, None)
    assert cabinet.apply(rejected).inventory.units[unit(1).din].slot is None


# --- expiry --------------------------------------------------------------------------------


def test_the_sweep_warns_expires_and_lapses() -> None:
    cabinet = stocked(unit(1, days=0.5), unit(2, days=2.5), unit(3, days=1.5), unit(4, days=30))
    cabinet = allocated(with_order(cabinet, limit=2), 1, hours=100)
    cabinet = allocated(cabinet, 4, hours=1)
    cabinet = cabinet.apply(
        ok(
            cabinet.allow_electronic_issue(
                "P1",
                order_id="O1",
                groups=frozenset({BloodGroup.O_NEG}),
                product_class="red_cells",
                until=T0 + timedelta(hours=2),
                now=T0,
            )
        )
    )
    cabinet, plan = unlocked(cabinet)
    assert plan.slots == (1, 3)
    at = T0 + timedelta(days=1)
    sweep = cabinet.expiry_sweep(at)
    assert [w.din for w in sweep.warnings] == [unit(3).din]
    assert sweep.expired == (unit(1).din,)
    assert [g.slot for g in sweep.relocked] == [1]
    assert (sweep.lapsed_allocations, sweep.lapsed_issues) == ((unit(4).din,), ("O1",))
    assert sweep.changes_state
    after = cabinet.apply(sweep)
    states = {din: u.state for din, u in after.inventory.units.items()}
    assert states == {
        unit(1).din: UnitState.EXPIRED,
        unit(2).din: UnitState.IN_STOCK,
        unit(3).din: UnitState.UNLOCKED,
        unit(4).din: UnitState.IN_STOCK,
    }
    assert set(after.grants) == {3}
    assert not after.issues
    wide = cabinet.expiry_sweep(at, warn_ahead=timedelta(days=2))
    assert [w.din for w in wide.warnings] == [unit(3).din, unit(2).din]
    quiet = after.apply(after.expiry_sweep(at))
    assert not after.expiry_sweep(at).changes_state
    assert quiet == after


def test_an_expired_unit_is_never_planned_even_before_the_sweep() -> None:
    cabinet = allocated(
        allocated(with_order(stocked(unit(1, days=1), unit(2, days=3))), 1, hours=48), 2, hours=48
    )
    plan = ok(cabinet.dispense_plan(NURSE, "P1", now=T0 + timedelta(days=1), monotonic=0))
    assert plan.slots == (2,)


# --- badges and snapshot -------------------------------------------------------------------


def test_the_snapshot_is_plain_data_and_says_how_old_the_badges_are() -> None:
    cabinet = allocated(with_order(stocked(unit(1), unit(2), slots=3)), 2)
    snapshot = cabinet.inventory_snapshot(T0)
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["free_slots"] == [3]
    assert snapshot["slots"][1] == {
        "slot": 2,
        "din": unit(2).din,
        "state": "allocated",
        "expiry": unit(2).expiry.isoformat(),
        "blood_group": "O-",
        "product_code": "E0332V00",
        "product_class": "red_cells",
    }
    assert (snapshot["badge_list_issued_at"], snapshot["badge_list_stale"]) == (None, True)
