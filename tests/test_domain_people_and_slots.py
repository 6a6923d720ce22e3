"""Badges and roles, the stale-list rule, reader lockout, the inventory's rules and the
policy's checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.domain import (
    Admitted,
    BadgeList,
    BloodGroup,
    Cabinet,
    DispensePolicy,
    Inventory,
    InventoryConflict,
    Order,
    ReaderLockout,
    Refusal,
    RefusalCode,
    Role,
    TemperatureRange,
    TemperatureSummary,
    Unit,
    UnitIdentity,
    UnitState,
    User,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
NURSE = User("n1", "Nia Nurse", frozenset({Role.CLINICIAN}))
ER = User("e1", "Eli Emergency", frozenset({Role.EMERGENCY, Role.CLINICIAN}))
BADGES = BadgeList({"B-NURSE": NURSE, "B-ER": ER}, issued_at=T0)


def identity(n: int, tag: str | None = None) -> UnitIdentity:
    return UnitIdentity(
        f"A999925{n:06d}", BloodGroup.A_POS, "E0332V00", "red_cells", T0 + DAY, tag or f"TAG{n}"
    )


# --- badges --------------------------------------------------------------------------------


def test_a_fresh_list_admits_its_badges_with_their_roles() -> None:
    assert BADGES.lookup("B-NURSE", T0 + DAY, DAY) == Admitted(NURSE, stale_list=False)
    unknown = BADGES.lookup("B-NOBODY", T0, DAY)
    assert unknown == Refusal(RefusalCode.UNKNOWN_BADGE, "This badge is not known at this cabinet.")


def test_a_stale_list_admits_only_emergency_release() -> None:
    late = T0 + DAY + timedelta(minutes=1)
    refusal = BADGES.lookup("B-NURSE", late, DAY)
    assert isinstance(refusal, Refusal)
    assert refusal.code is RefusalCode.BADGE_LIST_STALE
    assert refusal.message.startswith("The badge list was last updated 24 hours ago")
    assert "only emergency release" in refusal.message
    admitted = BADGES.lookup("B-ER", late, DAY)
    assert isinstance(admitted, Admitted)
    assert admitted.stale_list
    assert admitted.user.roles == frozenset({Role.EMERGENCY})
    assert BADGES.lookup("B-NOBODY", late, DAY) == BADGES.lookup("B-NOBODY", T0, DAY)


def test_a_list_never_received_is_stale() -> None:
    never = BadgeList({"B-NURSE": NURSE})
    assert never.stale(T0, DAY)
    refusal = never.lookup("B-NURSE", T0, DAY)
    assert isinstance(refusal, Refusal)
    assert "has never been received" in refusal.message


def test_the_cabinet_applies_its_policys_age_limit() -> None:
    cabinet = Cabinet.new(4, DispensePolicy(badge_list_max_age=timedelta(hours=2)), BADGES)
    assert isinstance(cabinet.identify("B-NURSE", T0 + timedelta(hours=1)), Admitted)
    assert isinstance(cabinet.identify("B-NURSE", T0 + timedelta(hours=3)), Refusal)
    fresh = cabinet.with_badges(BadgeList(BADGES.badges, issued_at=T0 + timedelta(hours=3)))
    assert isinstance(fresh.identify("B-NURSE", T0 + timedelta(hours=3)), Admitted)
    assert fresh.inventory_snapshot(T0 + timedelta(hours=4))["badge_list_stale"] is False


# --- reader lockout ------------------------------------------------------------------------


def test_repeated_unknown_badges_lock_the_reader_for_a_while() -> None:
    reader = ReaderLockout.from_policy(DispensePolicy())
    for second in range(4):
        reader = reader.failed(float(second))
        assert reader.check(float(second)) is None
    reader = reader.failed(4.0)
    refusal = reader.check(5.0)
    assert refusal is not None
    assert refusal.code is RefusalCode.READER_LOCKED
    assert "in 119 seconds" in refusal.message
    assert reader.check(123.9) is not None
    assert reader.check(124.0) is None


def test_failures_outside_the_window_do_not_count() -> None:
    reader = ReaderLockout(failures=3, window=10.0, duration=30.0)
    reader = reader.failed(0.0).failed(5.0).failed(10.0)
    assert reader.check(10.0) is None
    assert reader.failed(14.0).check(14.0) is not None


def test_a_known_badge_clears_the_count() -> None:
    reader = ReaderLockout(failures=2, window=60.0, duration=30.0).failed(0.0).succeeded()
    assert reader.failed(1.0).check(1.0) is None


# --- inventory -----------------------------------------------------------------------------


def test_one_unit_per_slot_and_no_shared_tag() -> None:
    empty = Inventory.empty(3)
    first = Unit(identity(1), UnitState.IN_STOCK, 1)
    held = empty.put([first])
    with pytest.raises(InventoryConflict, match="slot 1"):
        held.put([Unit(identity(2), UnitState.IN_STOCK, 1)])
    with pytest.raises(InventoryConflict, match="tag TAG1"):
        held.put([Unit(identity(2, tag="TAG1"), UnitState.IN_STOCK, 2)])
    with pytest.raises(InventoryConflict, match="not a slot here"):
        held.put([Unit(identity(2), UnitState.IN_STOCK, 9)])
    assert held.free_slots == (2, 3)
    assert held.in_slot(1) == first
    assert held.by_tag("TAG1") == first


def test_a_put_is_all_or_nothing() -> None:
    held = Inventory.empty(2).put([Unit(identity(1), UnitState.IN_STOCK, 1)])
    with pytest.raises(InventoryConflict):
        held.put(
            [Unit(identity(2), UnitState.IN_STOCK, 2), Unit(identity(3), UnitState.IN_STOCK, 2)]
        )
    assert held.get(identity(2).din) is None
    assert held.free_slots == (2,)


def test_a_removed_units_tag_may_come_back() -> None:
    removed = Unit(identity(1), UnitState.REMOVED)
    held = Inventory.empty(2).put([removed, Unit(identity(2, tag="TAG1"), UnitState.IN_STOCK, 1)])
    assert held.by_tag("TAG1") == held.get(identity(2).din)


def test_inventories_need_slots() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        Inventory.empty(0)
    with pytest.raises(InventoryConflict, match="distinct"):
        Inventory((1, 1))


# --- policy and plain values ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"return_limit": timedelta(0)},
        {"warn_ahead": -DAY},
        {"relock_after": 0.0},
        {"lockout_duration": -1.0},
        {"emergency_units": 0},
        {"emergency_groups": frozenset()},
    ],
)
def test_policy_values_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        DispensePolicy(**kwargs)  # type: ignore[arg-type]


def test_the_default_policy_is_the_reference_sites() -> None:
    policy = DispensePolicy()
    assert policy.return_limit == timedelta(minutes=30)
    assert policy.emergency_groups == frozenset({BloodGroup.O_NEG})
    assert policy.transport_limits["red_cells"] == TemperatureRange(1.0, 10.0)
    assert not policy.emergency_second_person


def test_plain_values_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        TemperatureRange(5.0, 1.0)
    with pytest.raises(ValueError, match="minimum <= maximum"):
        TemperatureSummary(5.0, 1.0, T0, T0)
    with pytest.raises(ValueError, match="unit_limit"):
        Order("O1", "P1", 1, 2)
    with pytest.raises(ValueError, match="empty message"):
        Refusal(RefusalCode.UNKNOWN_UNIT, " ")
    assert BloodGroup.AB_POS.words == "AB RhD positive"
