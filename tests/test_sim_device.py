"""The simulated world's rules: what a bench may and may not do to a device."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import load_profile
from agent.hal import PartInUse
from hal_sim.clock import SimClock, VirtualTimeLoop
from hal_sim.device import BenchError, SimDevice
from hal_sim.units import SimUnit, isbt_expiry, iso7064_mod37_2

CONFIG = Path(__file__).resolve().parents[1] / "config"


def unit(n: int) -> SimUnit:
    return SimUnit(
        din=f"A99992600{n:04d}",
        flags="00",
        blood_group="9500",
        product_code="E0336V00",
        expiry=dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC),
        tag_uid=f"E0040100{n:08X}",
    )


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    loop = VirtualTimeLoop()
    yield loop
    loop.close()


def device(loop: VirtualTimeLoop, profile: str) -> SimDevice:
    return SimDevice(load_profile(CONFIG / profile), SimClock(loop, wall_epoch_ns=0))


def test_a_locked_slot_refuses_take_and_put_unless_forced(loop: VirtualTimeLoop) -> None:
    cabinet = device(loop, "cabinet-72.toml")
    cabinet.stock(unit(1), 1)
    with pytest.raises(BenchError, match="slot 1 is locked"):
        cabinet.take_unit(1)
    with pytest.raises(BenchError, match="slot 2 is locked"):
        cabinet.put_unit(unit(2), 2)
    assert cabinet.slot_units[1] == unit(1), "a refused action changes nothing"
    assert cabinet.take_unit(1, force=True) == unit(1)
    assert cabinet.slot_units[1] is None


def test_a_released_slot_can_be_used(loop: VirtualTimeLoop) -> None:
    cabinet = device(loop, "cabinet-72.toml")
    loop.run_until_complete(cabinet.locks[5].release())
    cabinet.put_unit(unit(5), 5)
    assert cabinet.slot_units[5] == unit(5)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda d: d.stock(unit(1), 1), "already in the device"),
        (lambda d: d.stock(unit(2), 1), "slot 1 is already occupied"),
        (lambda d: d.take_unit(3, force=True), "slot 3 is empty"),
        (lambda d: d.take_unit(73, force=True), "there is no slot 73"),
        (lambda d: d.stock(unit(9)), "say which slot"),
        (lambda d: d.open_door("main"), "is locked"),
        (lambda d: d.open_door("back"), "there is no door 'back'"),
        (lambda d: d.probe_fault("air-middle", "none"), "there is no probe"),
        (lambda d: d.rfid_miss_rate(1.5), "between 0 and 1"),
        (lambda d: d.feed_garbage("keyboard", b"x"), "no reader"),
        (lambda d: d.set_connected("nothing", connected=False), "there is no part"),
    ],
)
def test_impossible_bench_actions_are_refused(
    loop: VirtualTimeLoop, action: object, message: str
) -> None:
    cabinet = device(loop, "cabinet-72.toml")
    cabinet.stock(unit(1), 1)
    with pytest.raises(BenchError, match=message):
        action(cabinet)  # type: ignore[operator]


def test_a_fridge_must_be_open_to_put_or_take(loop: VirtualTimeLoop) -> None:
    fridge = device(loop, "fridge.toml")
    fridge.stock(unit(1))
    with pytest.raises(BenchError, match="door is closed"):
        fridge.put_unit(unit(2))
    with pytest.raises(BenchError, match="door is closed"):
        fridge.take_unit(tag_uid=unit(1).tag_uid)
    fridge.open_door(force=True)
    fridge.put_unit(unit(2))
    assert fridge.take_unit(tag_uid=unit(1).tag_uid) == unit(1)
    assert set(fridge.loose_units) == {unit(2).tag_uid}


def test_a_fridge_has_no_scanner_and_a_box_no_badge_reader(loop: VirtualTimeLoop) -> None:
    with pytest.raises(BenchError, match="no barcode scanner"):
        device(loop, "fridge.toml").scan("=A99992600000100")
    with pytest.raises(BenchError, match="no badge reader"):
        device(loop, "transport.toml").present_badge("04A1")


def test_a_transport_box_lid_opens_without_force(loop: VirtualTimeLoop) -> None:
    box = device(loop, "transport.toml")
    box.open_door()
    assert box.door_is_open()
    box.put_unit(unit(1))
    box.close_door()
    assert not box.door_is_open()


def test_two_parts_with_one_name_are_refused_at_assembly(
    loop: VirtualTimeLoop, tmp_path: Path
) -> None:
    """Claiming one name twice fails when the hardware is built, not later."""
    text = (CONFIG / "cabinet-72.toml").read_text()
    clashing = text.replace('name = "air-top"', 'name = "power"', 1)
    assert clashing != text
    (tmp_path / "clash.toml").write_text(clashing)
    with pytest.raises(PartInUse) as raised:
        SimDevice(load_profile(tmp_path / "clash.toml"), SimClock(loop, wall_epoch_ns=0))
    assert raised.value.part == "power"


def test_unit_labels_read_as_isbt_128_barcodes() -> None:
    assert unit(7).barcodes() == (
        "=A99992600000700",
        "=%9500",
        "=<E0336V00",
        "&>0260602359",
    )
    assert iso7064_mod37_2("G123417654321") == "A"
    assert iso7064_mod37_2("A999917123456") == "9"
    assert isbt_expiry(dt.datetime(2027, 12, 31, 8, 5, tzinfo=dt.UTC)) == "&>0273650805"


@pytest.mark.parametrize(
    ("field", "value"),
    [("din", "A9999"), ("flags", "0"), ("tag_uid", "e004"), ("tag_uid", "")],
)
def test_malformed_units_are_refused(field: str, value: str) -> None:
    fields = {
        "din": "A999926000001",
        "flags": "00",
        "blood_group": "9500",
        "product_code": "E0336V00",
        "expiry": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        "tag_uid": "E004",
    }
    fields[field] = value
    with pytest.raises(ValueError, match=f"(?i){field.split('_', maxsplit=1)[0]}"):
        SimUnit(**fields)  # type: ignore[arg-type]
