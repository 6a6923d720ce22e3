"""The cabinet's workflows end to end through the simulator: stock-in, allocation, dispense,
wrong-unit removal, relock, emergency release, return, expiry, badges - each journaled before
it acts, and every refusal shown and journaled."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agent.dispensing_events import (
    AlarmAcknowledged,
    ExpirySwept,
    ExpiryWarning,
    InventorySnapshot,
    OrderCancelled,
    OrderPlaced,
    RequestRefused,
    SignedIn,
    SlotsReleased,
    SlotsRelocked,
    UnitAllocated,
    UnitDispensed,
    UnitQuarantined,
    UnitReturned,
    UnitStocked,
    WrongUnitRemoved,
)
from agent.domain.units import UnitState
from agent.events import HardwareFault
from agent.hal.parts import IndicatorState
from agent.journal import JournalUnavailable
from agent.journal.errors import UnavailableKind
from agent.sync.protocol import BadgeEntry, BadgeList, Cancel, UnitHistory
from tests.support.cabinet import CabinetRig, make_unit, quiet_cabinet

Body = Callable[[CabinetRig], Awaitable[None]]


@pytest.fixture
def cabinet(run_virtual: Any, tmp_path: Path) -> Callable[[Body], None]:
    """Run ``body`` against a fresh simulated cabinet that knows the staff badges."""

    def run(body: Body) -> None:
        async def main() -> None:
            rig = await CabinetRig.start(tmp_path)
            await rig.send_badges()
            try:
                await body(rig)
            finally:
                await rig.stop()

        run_virtual(main())

    return run


# --- stock-in ---------------------------------------------------------------------------------


def test_a_technician_stocks_a_unit_confirmed_by_presence_and_rfid(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = make_unit(1)
        slot = await rig.stock(unit)
        stocked = rig.last(UnitStocked)
        assert (stocked.din, stocked.slot, stocked.tag_uid) == (unit.din, slot, unit.tag_uid)
        assert stocked.blood_group == "O-"
        assert stocked.user == "tech-1"
        assert rig.state_of(unit.din) is UnitState.IN_STOCK
        assert rig.session.device.locks[slot].locked.value  # locked again once it is in
        assert rig.last(InventorySnapshot).dins == (unit.din,)

    cabinet(body)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("expired", "unit_expired"),
        ("duplicate", "duplicate_din"),
        ("tag_mismatch", "tag_mismatch"),
        ("unknown_product", "product_not_stored"),
    ],
)
def test_stock_in_refuses_with_a_reason(cabinet: Any, case: str, expected: str) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = make_unit(2)
        if case == "duplicate":
            await rig.stock(make_unit(2))
            unit = dataclasses.replace(make_unit(2), tag_uid="E0040000FFFFFFF2")
        elif case == "expired":
            unit = make_unit(2, expiry=rig.now() - dt.timedelta(hours=1))
        elif case == "unknown_product":
            unit = make_unit(2, product="E9999V00")
        await rig.badge("tech")
        rig.session.device.hold_at_station(unit)
        if case == "tag_mismatch":
            rig.session.device.reprogram_tag(unit.tag_uid, "A999926009999", "00")
        released_before = len(rig.recorded(SlotsReleased))
        for barcode in unit.barcodes():
            await rig.scan(barcode)
        refusal = rig.last(RequestRefused)
        assert (refusal.action, refusal.code) == ("stock_in", expected)
        assert rig.screen == refusal.message
        assert len(rig.recorded(SlotsReleased)) == released_before  # no slot opened

    cabinet(body)


def test_a_scan_without_a_badge_is_refused(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        await rig.scan("P-1001")
        assert rig.last(RequestRefused).message == "Present your badge before scanning."

    cabinet(body)


def test_a_unit_put_in_the_wrong_slot_is_refused_and_not_stocked(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = make_unit(3)
        await rig.badge("tech")
        rig.session.device.hold_at_station(unit)
        for barcode in unit.barcodes():
            await rig.scan(barcode)
        opened = rig.open_slot_for(unit.din)
        other = make_unit(4)
        rig.session.device.put_unit(other, opened)
        await rig.settle()
        assert rig.last(RequestRefused).code == "tag_mismatch"
        assert rig.state_of(unit.din) is None

    cabinet(body)


# --- allocation and dispense -----------------------------------------------------------------


async def _stocked_and_allocated(rig: CabinetRig, n: int = 10) -> int:
    unit = make_unit(n)
    slot = await rig.stock(unit)
    assert await rig.allocate(unit.din, "P-1001", "ORD-1") is None
    return slot


def test_dispense_commits_the_release_before_the_lock_moves(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig)
        assert rig.recorded(OrderPlaced)[-1].order == "ORD-1"
        assert rig.recorded(UnitAllocated)[-1].patient == "P-1001"
        lock_when_committed: list[bool] = []
        rig.session.stream.observe(
            lambda event: (
                isinstance(event.payload, SlotsReleased)
                and lock_when_committed.append(rig.session.device.locks[slot].locked.value)
            )
        )
        await rig.badge("nurse")
        await rig.scan("P-1001")
        assert lock_when_committed == [True]  # journaled while the slot was still locked
        assert not rig.session.device.locks[slot].locked.value
        assert rig.screen == f"Take the unit from slot {slot}."
        await rig.take(slot)
        dispensed = rig.last(UnitDispensed)
        assert (dispensed.slot, dispensed.patient, dispensed.order) == (slot, "P-1001", "ORD-1")
        assert not dispensed.emergency
        assert rig.state_of(make_unit(10).din) is UnitState.DISPENSED

    cabinet(body)


def test_a_patient_without_an_allocation_gets_nothing(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig)
        await rig.badge("nurse")
        await rig.scan("P-2002")
        assert rig.last(RequestRefused).code == "no_allocation"
        assert "P-2002" in rig.screen
        assert rig.session.device.locks[slot].locked.value
        assert not any(r.purpose == "dispense" for r in rig.recorded(SlotsReleased))

    cabinet(body)


def test_electronic_issue_opens_the_first_expiring_unit_within_the_order_limit(
    cabinet: Any,
) -> None:
    async def body(rig: CabinetRig) -> None:
        late = make_unit(20, expiry=rig.now() + dt.timedelta(days=30))
        early = make_unit(21, expiry=rig.now() + dt.timedelta(days=5))
        await rig.stock(late)
        early_slot = await rig.stock(early)
        assert await rig.electronic_issue("P-3003", "ORD-3", ("O-",), units=1) is None
        await rig.badge("nurse")
        await rig.scan("P-3003")
        released = rig.last(SlotsReleased)
        assert released.slots == (early_slot,)
        await rig.take(early_slot)
        await rig.scan("P-3003")
        assert rig.last(RequestRefused).code == "order_limit_reached"

    cabinet(body)


def test_taking_a_unit_that_was_not_released_is_an_incident_with_an_alarm(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig, 30)
        other_slot = await rig.stock(make_unit(31))
        await rig.badge("nurse")
        await rig.scan("P-1001")
        await rig.take(other_slot, force=True)
        incident = rig.last(WrongUnitRemoved)
        assert incident.slot == other_slot
        assert incident.din == make_unit(31).din
        assert incident.user == "nurse-1"
        assert await rig.session.device.indicator.state() is IndicatorState.ALARM
        assert rig.screen.startswith("ALARM:")
        assert rig.state_of(make_unit(31).din) is UnitState.REMOVED
        assert not rig.session.device.locks[slot].locked.value  # the right slot is still open

    cabinet(body)


def test_a_released_slot_not_opened_in_time_locks_again(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig, 40)
        await rig.badge("nurse")
        await rig.scan("P-1001")
        await rig.settle(35.0)
        relocked = rig.last(SlotsRelocked)
        assert (relocked.slots, relocked.reason) == ((slot,), "timeout")
        assert rig.state_of(make_unit(40).din) is UnitState.ALLOCATED
        assert rig.session.device.locks[slot].locked.value

    cabinet(body)


def test_a_jammed_lock_during_dispense_is_reported_and_relocked(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig, 41)
        rig.session.device.locks[slot].jammed = True
        await rig.badge("nurse")
        await rig.scan("P-1001")
        assert rig.last(HardwareFault).error == "LockJammed"
        assert rig.last(SlotsRelocked).reason == "lock failed"
        assert "did not open" in rig.screen
        assert rig.state_of(make_unit(41).din) is UnitState.ALLOCATED

    cabinet(body)


# --- emergency release ------------------------------------------------------------------------


def test_emergency_release_takes_o_negative_with_a_reason_flagged(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        o_neg = make_unit(50)
        a_pos = make_unit(51, group="6200")
        o_slot = await rig.stock(o_neg)
        await rig.stock(a_pos)
        await rig.badge("doctor")
        await rig.choose("emergency")
        assert rig.last(RequestRefused).code == "reason_required"
        await rig.choose("emergency", "massive haemorrhage, trauma bay 2")
        released = rig.last(SlotsReleased)
        assert (released.purpose, released.slots) == ("emergency", (o_slot,))
        assert released.reason == "massive haemorrhage, trauma bay 2"
        await rig.take(o_slot)
        assert rig.last(UnitDispensed).emergency

    cabinet(body)


def test_a_nurse_without_the_emergency_role_cannot_release(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        await rig.stock(make_unit(52))
        await rig.badge("nurse")
        await rig.choose("emergency", "bleeding")
        assert rig.last(RequestRefused).code == "role_required"

    cabinet(body)


def test_emergency_release_waits_for_a_second_person_where_configured(
    run_virtual: Any, tmp_path: Path
) -> None:
    profile = quiet_cabinet()
    assert profile.dispensing is not None
    profile = dataclasses.replace(
        profile,
        dispensing=dataclasses.replace(profile.dispensing, emergency_second_person=True),
    )

    async def main() -> None:
        rig = await CabinetRig.start(tmp_path, profile)
        await rig.send_badges()
        slot = await rig.stock(make_unit(53))
        await rig.badge("doctor")
        await rig.choose("emergency", "cardiac arrest")
        assert "second" in rig.screen
        assert rig.session.device.locks[slot].locked.value
        await rig.badge("supervisor")
        released = rig.last(SlotsReleased)
        assert (released.purpose, released.witness) == ("emergency", "super-1")
        await rig.stop()

    run_virtual(main())


# --- returns ----------------------------------------------------------------------------------


async def _dispensed(rig: CabinetRig, n: int) -> Any:
    slot = await _stocked_and_allocated(rig, n)
    await rig.badge("nurse")
    await rig.scan("P-1001")
    unit = await rig.take(slot)
    await rig.choose("sign_out")
    return unit


@pytest.mark.parametrize(("minutes", "accepted"), [(10, True), (45, False)])
def test_a_return_is_accepted_only_within_the_time_rule(
    cabinet: Any, minutes: int, accepted: bool
) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = await _dispensed(rig, 60)
        await rig.settle(minutes * 60)
        await rig.badge("nurse")
        await rig.choose("return")
        rig.session.device.hold_at_station(unit)
        for barcode in unit.barcodes():  # the whole label: only the DIN matters for a return
            await rig.scan(barcode)
        slot = rig.open_slot_for(unit.din)
        assert rig.screen == f"Put unit {unit.din} into slot {slot}."
        rig.session.device.put_unit(unit, slot)
        await rig.settle()
        returned = rig.last(UnitReturned)
        assert returned.accepted is accepted
        assert returned.minutes_out == pytest.approx(minutes, abs=1)
        expected = UnitState.IN_STOCK if accepted else UnitState.QUARANTINED
        assert rig.state_of(unit.din) is expected

    cabinet(body)


# --- expiry -----------------------------------------------------------------------------------


def test_expiry_warns_then_quarantines_and_the_unit_is_never_dispensed(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = make_unit(70, expiry=rig.now() + dt.timedelta(hours=3))
        await rig.stock(unit)
        assert await rig.allocate(unit.din, "P-7007", "ORD-7", hours=12) is None
        await rig.settle(120)
        assert [w.din for w in rig.recorded(ExpiryWarning)] == [unit.din]
        await rig.settle(3 * 3600)
        assert unit.din in rig.last(ExpirySwept).expired
        assert rig.state_of(unit.din) is UnitState.EXPIRED
        await rig.badge("nurse")
        await rig.scan("P-7007")
        assert rig.last(RequestRefused).action == "dispense"
        assert len(rig.recorded(ExpiryWarning)) == 1  # warned once

    cabinet(body)


# --- badges -----------------------------------------------------------------------------------


def test_a_stale_badge_list_admits_only_emergency_release(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        await rig.settle(25 * 3600)
        await rig.badge("nurse")
        assert rig.last(RequestRefused).code == "badge_list_stale"
        await rig.badge("doctor")
        signed = rig.last(SignedIn)
        assert (signed.user, signed.roles, signed.stale_list) == ("doctor-1", ("emergency",), True)
        await rig.scan("P-1001")
        assert rig.last(RequestRefused).action == "scan"

    cabinet(body)


def test_repeated_unknown_badges_lock_the_reader_out(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        for n in range(5):
            await rig.badge(f"FF0{n}")
        await rig.badge("nurse")
        assert rig.last(RequestRefused).code == "reader_locked"
        await rig.settle(121)
        await rig.badge("nurse")
        assert rig.last(SignedIn).user == "nurse-1"

    cabinet(body)


def test_an_idle_session_signs_out_and_relocks(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig, 80)
        await rig.badge("nurse")
        await rig.scan("P-1001")
        await rig.settle(10)
        await rig.take(slot)
        await rig.settle(130)
        assert rig.desk.session is None
        assert rig.screen == (
            "Nina Nurse was signed out after 120 s without activity. Present your badge."
        )

    cabinet(body)


# --- commit before act, and restart ---------------------------------------------------------


def test_the_state_survives_a_restart(run_virtual: Any, tmp_path: Path) -> None:
    async def main() -> None:
        rig = await CabinetRig.start(tmp_path)
        await rig.send_badges()
        slot = await _stocked_and_allocated(rig, 90)
        await rig.stop()
        again = await CabinetRig.start(tmp_path, boot_epoch=2)
        again.session.device.stock(make_unit(90), slot)
        await again.settle()
        assert again.state_of(make_unit(90).din) is UnitState.ALLOCATED
        await again.badge("nurse")
        await again.scan("P-1001")
        assert again.last(SlotsReleased).slots == (slot,)
        await again.stop()

    run_virtual(main())


def test_quarantine_by_expiry_reaches_the_inventory_snapshot(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = make_unit(95, expiry=rig.now() + dt.timedelta(minutes=30))
        slot = await rig.stock(unit)
        await rig.settle(3600)
        snapshot = rig.last(InventorySnapshot)
        assert snapshot.states[snapshot.slots.index(slot)] == "expired"
        assert not rig.recorded(UnitQuarantined)

    cabinet(body)


def test_no_slot_opens_when_the_journal_cannot_record_the_release(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig, 96)
        real_append = rig.journal.append

        async def full_disk_for_releases(event: Any) -> None:
            if isinstance(event.payload, SlotsReleased):
                raise JournalUnavailable(UnavailableKind.FULL, "disk full (test)")
            await real_append(event)

        rig.journal.append = full_disk_for_releases  # type: ignore[method-assign]
        await rig.badge("nurse")
        await rig.scan("P-1001")
        assert rig.session.device.locks[slot].locked.value
        assert "cannot keep its records" in rig.screen
        assert rig.state_of(make_unit(96).din) is UnitState.ALLOCATED
        rig.journal.append = real_append  # type: ignore[method-assign]
        await rig.scan("P-1001")
        assert not rig.session.device.locks[slot].locked.value

    cabinet(body)


def test_a_cancelled_order_locks_its_released_slot_and_frees_the_unit(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await _stocked_and_allocated(rig, 97)
        await rig.badge("nurse")
        await rig.scan("P-1001")
        assert not rig.session.device.locks[slot].locked.value
        assert await rig.desk.decide(Cancel("ORD-1")) is None
        cancelled = rig.last(OrderCancelled)
        assert (cancelled.order, cancelled.relocked_slots) == ("ORD-1", (slot,))
        assert rig.session.device.locks[slot].locked.value
        assert rig.state_of(make_unit(97).din) is UnitState.IN_STOCK
        assert await rig.desk.decide(Cancel("ORD-1")) == "Order ORD-1 is not known here."

    cabinet(body)


def test_a_late_return_is_accepted_on_a_temperature_history_within_transport_limits(
    cabinet: Any,
) -> None:
    async def body(rig: CabinetRig) -> None:
        unit = await _dispensed(rig, 98)
        left = rig.now()
        await rig.settle(90 * 60)
        covered_from = int((left - dt.timedelta(minutes=1)).timestamp() * 1e9)
        covered_until = int((rig.now() + dt.timedelta(hours=1)).timestamp() * 1e9)
        history = UnitHistory(unit.din, 3.5, 7.5, covered_from, covered_until)
        assert await rig.desk.decide(history) is None
        await rig.badge("nurse")
        await rig.choose("return")
        rig.session.device.hold_at_station(unit)
        await rig.scan(unit.barcodes()[0])
        rig.session.device.put_unit(unit, rig.open_slot_for(unit.din))
        await rig.settle()
        returned = rig.last(UnitReturned)
        assert returned.accepted
        assert "kept at 3.5 to 7.5" in returned.reason
        assert rig.state_of(unit.din) is UnitState.IN_STOCK

    cabinet(body)


def test_an_expiry_does_not_quiet_an_incidents_alarm_only_an_acknowledgement_does(
    cabinet: Any,
) -> None:
    async def body(rig: CabinetRig) -> None:
        slot = await rig.stock(make_unit(99, expiry=rig.now() + dt.timedelta(minutes=10)))
        await rig.take(slot, force=True)
        assert await rig.session.device.indicator.state() is IndicatorState.ALARM
        await rig.stock(make_unit(100, expiry=rig.now() + dt.timedelta(minutes=5)))
        await rig.settle(600)
        assert rig.last(ExpirySwept).expired == (make_unit(100).din,)
        assert await rig.session.device.indicator.state() is IndicatorState.ALARM
        await rig.badge("nurse")
        await rig.choose("acknowledge")
        assert rig.last(RequestRefused).code == "role_required"
        await rig.badge("supervisor")
        await rig.choose("acknowledge")
        assert await rig.session.device.indicator.state() is IndicatorState.QUIET

    cabinet(body)


def test_an_unacknowledged_incident_alarms_again_after_a_restart(
    run_virtual: Any, tmp_path: Path
) -> None:
    async def main() -> None:
        rig = await CabinetRig.start(tmp_path)
        await rig.send_badges()
        slot = await rig.stock(make_unit(101))
        await rig.take(slot, force=True)
        await rig.stop()
        again = await CabinetRig.start(tmp_path, boot_epoch=2)
        assert await again.session.device.indicator.state() is IndicatorState.ALARM
        assert again.screen.startswith("ALARM: an incident before the restart")
        await again.badge("technician")
        await again.choose("acknowledge")
        assert again.last(AlarmAcknowledged).user == "tech-1"
        await again.stop()
        third = await CabinetRig.start(tmp_path, boot_epoch=3)
        assert await third.session.device.indicator.state() is IndicatorState.QUIET
        await third.stop()

    run_virtual(main())


def test_a_badge_list_too_large_for_one_record_is_refused_and_the_old_one_kept(
    cabinet: Any,
) -> None:
    async def body(rig: CabinetRig) -> None:
        huge = BadgeList(
            int(rig.now().timestamp() * 1e9),
            tuple(
                BadgeEntry(f"{n:08X}", f"user-{n:05d}-" + "x" * 50, "N" * 128, ("clinician",))
                for n in range(2000)
            ),
        )
        refusal = await rig.desk.decide(huge)
        assert refusal is not None
        assert refusal.startswith("The badge list is too large to journal as one record")
        await rig.badge("nurse")
        assert rig.last(SignedIn).user == "nurse-1"

    cabinet(body)


def test_a_second_unit_waits_until_the_first_is_in_its_slot(cabinet: Any) -> None:
    async def body(rig: CabinetRig) -> None:
        first, second = make_unit(110), make_unit(111)
        await rig.badge("tech")
        rig.session.device.hold_at_station(first)
        for barcode in first.barcodes():
            await rig.scan(barcode)
        slot = rig.open_slot_for(first.din)
        rig.session.device.put_unit(second, slot + 1, force=True)  # set aside in another slot
        rig.session.device.take_unit(slot + 1, force=True)
        rig.session.device.hold_at_station(second)
        for barcode in second.barcodes():
            await rig.scan(barcode)
        refusal = rig.last(RequestRefused)
        assert (
            refusal.message == f"First put unit {first.din} into slot {slot}, which is open for it."
        )
        rig.session.device.take_from_station()
        rig.session.device.hold_at_station(first)
        rig.session.device.put_unit(first, slot)
        await rig.settle()
        assert rig.state_of(first.din) is UnitState.IN_STOCK

    cabinet(body)
