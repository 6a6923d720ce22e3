"""The INA219: the datasheet's worked examples (SBOS448), the state-of-charge curve, the
register-level fake, and the UPS power monitor against it, with faults."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.config.schema import SimPowerConfig
from agent.hal.errors import PartNotResponding, ReadFailed
from drivers.ina219 import (
    CONFIGURATION,
    INA219PowerMonitor,
    bus_voltage_from_register,
    calibration_value,
    current_from_register,
    li_ion_state_of_charge,
    power_from_register,
    shunt_volts_from_register,
)
from hal_sim.battery import BatteryModel
from hal_sim.fakes.ina219 import FakeINA219, Reg
from hal_sim.fakes.smbus import BusFault, FakeSMBus

# --- datasheet examples ---------------------------------------------------------------------------


def test_calibration_example_of_section_8_5_1() -> None:
    assert calibration_value(100e-6, 0.1) == 4096, "100 µA/LSB on 0.1 Ohm"
    assert power_from_register(1, 100e-6) == pytest.approx(0.002), "power LSB = 20 x 100 µA"
    with pytest.raises(ValueError, match="does not fit"):
        calibration_value(1e-9, 0.001)
    with pytest.raises(ValueError, match="positive"):
        calibration_value(0.0, 0.1)


@pytest.mark.parametrize(
    ("raw", "millivolts"),
    [(0x7D00, 320.0), (0x8300, -320.0), (0x0001, 0.01), (0xFFFF, -0.01), (0x0000, 0.0)],
)
def test_shunt_voltage_register_examples(raw: int, millivolts: float) -> None:
    """SBOS448 Table "Shunt Voltage Register format" at PGA /8."""
    assert shunt_volts_from_register(raw) * 1000 == pytest.approx(millivolts)


def test_bus_voltage_register_example() -> None:
    """Full scale 32 V = 8000 counts of 4 mV in bits 15:3 (0xFA00), CNVR bit 1, OVF bit 0."""
    bus = bus_voltage_from_register(0xFA00 | 0b10)
    assert bus.volts == pytest.approx(32.0)
    assert bus.conversion_ready
    assert not bus.overflow
    assert bus_voltage_from_register(0x0001).overflow


def test_current_register_with_the_example_calibration() -> None:
    assert current_from_register(4000, 100e-6) == pytest.approx(0.4), "40 mV over 0.1 Ohm"
    assert current_from_register(0xF060, 100e-6) == pytest.approx(-0.4)


@given(st.integers(0, 0xFFFF))
def test_register_conversions_never_crash(raw: int) -> None:
    assert math.isfinite(shunt_volts_from_register(raw))
    assert math.isfinite(current_from_register(raw, 100e-6))
    assert power_from_register(raw, 100e-6) >= 0
    assert 0 <= bus_voltage_from_register(raw).volts < 32.8


# --- state of charge ----------------------------------------------------------------------------


def test_state_of_charge_curve_points() -> None:
    assert li_ion_state_of_charge(8.4, cells=2) == 1.0
    assert li_ion_state_of_charge(7.5, cells=2) == pytest.approx(0.5)
    assert li_ion_state_of_charge(3.75, cells=1) == pytest.approx(0.5)
    assert li_ion_state_of_charge(5.0, cells=2) == 0.0
    assert li_ion_state_of_charge(9.0, cells=2) == 1.0
    with pytest.raises(ValueError, match="at least one cell"):
        li_ion_state_of_charge(3.7, cells=0)


@given(st.floats(0.0, 20.0), st.floats(0.0, 20.0), st.integers(1, 4))
def test_state_of_charge_is_bounded_and_monotonic(v1: float, v2: float, cells: int) -> None:
    low, high = sorted((v1, v2))
    soc_low = li_ion_state_of_charge(low, cells)
    soc_high = li_ion_state_of_charge(high, cells)
    assert 0.0 <= soc_low <= soc_high <= 1.0


@given(st.floats(0.0, 1.0))
def test_state_of_charge_inverts_the_simulators_battery(fraction: float) -> None:
    battery = BatteryModel(dataclasses.replace(SimPowerConfig(), initial_fraction=fraction))
    assert li_ion_state_of_charge(battery.volts, cells=2) == pytest.approx(fraction, abs=1e-9)


# --- the fake -----------------------------------------------------------------------------------


def _read(bus: FakeSMBus, register: Reg) -> int:
    word = bus.read_word_data(0x40, register)
    return (word & 0xFF) << 8 | word >> 8


def _write(bus: FakeSMBus, register: Reg, value: int) -> None:
    bus.write_word_data(0x40, register, (value & 0xFF) << 8 | value >> 8)


def test_fake_reset_values_and_arithmetic() -> None:
    bus = FakeSMBus(1)
    chip = FakeINA219(shunt_ohms=0.1, bus_volts=12.0, current_a=1.0)
    bus.attach(0x40, chip)
    assert _read(bus, Reg.CONFIGURATION) == 0x399F
    assert _read(bus, Reg.CALIBRATION) == 0
    assert _read(bus, Reg.CURRENT) == 0, "uncalibrated: no current"
    assert _read(bus, Reg.SHUNT_VOLTAGE) == 10000, "100 mV in 10 µV counts"
    assert _read(bus, Reg.BUS_VOLTAGE) >> 3 == 3000, "12 V in 4 mV counts"
    _write(bus, Reg.CALIBRATION, 4097)
    assert _read(bus, Reg.CALIBRATION) == 4096, "bit 0 is void"
    assert _read(bus, Reg.CURRENT) == 10000, "1 A in 100 µA counts"
    assert _read(bus, Reg.BUS_VOLTAGE) & 0b10, "CNVR"
    assert _read(bus, Reg.POWER) == 10000 * 3000 // 5000, "12 W in 2 mW counts"
    chip.set_current(-0.5)
    assert _read(bus, Reg.CURRENT) == 0x10000 - 5000


def test_fake_cnvr_clears_on_power_read_and_ovf_on_overflow() -> None:
    bus = FakeSMBus(1)
    chip = FakeINA219(shunt_ohms=0.1, bus_volts=5.0, current_a=0.1)
    bus.attach(0x40, chip)
    _write(bus, Reg.CONFIGURATION, 0x3993)
    assert _read(bus, Reg.BUS_VOLTAGE) & 0b10, "a triggered conversion completed"
    _read(bus, Reg.POWER)
    assert not _read(bus, Reg.BUS_VOLTAGE) & 0b10, "reading Power clears CNVR"
    _write(bus, Reg.CONFIGURATION, 0x399F)
    _write(bus, Reg.CALIBRATION, 0xFFFE)
    chip.set_current(3.0)
    assert _read(bus, Reg.BUS_VOLTAGE) & 0b01, "current x calibration overflows: OVF"


# --- the driver ---------------------------------------------------------------------------------


def _monitor(**kwargs: Any) -> tuple[FakeSMBus, FakeINA219, INA219PowerMonitor]:
    bus = FakeSMBus(1)
    chip = FakeINA219(shunt_ohms=0.1, bus_volts=8.4, current_a=0.2)
    bus.attach(0x41, chip)
    return bus, chip, INA219PowerMonitor("power", bus, 0x41, **kwargs)


def test_first_read_configures_and_measures(run_virtual: Any) -> None:
    async def body() -> None:
        bus, _chip, monitor = _monitor()
        loop = asyncio.get_running_loop()
        start = loop.time()
        measurement = await monitor.measure()
        assert loop.time() - start == pytest.approx(0.1362), "waited out two conversions"
        assert measurement.bus_volts == pytest.approx(8.4)
        assert measurement.current_a == pytest.approx(0.2)
        assert measurement.shunt_volts == pytest.approx(0.02)
        assert _read_reg(bus, 0x41, Reg.CONFIGURATION) == CONFIGURATION
        status = await monitor.read()
        assert status.on_mains
        assert status.battery_fraction == 1.0
        assert status.battery_volts == pytest.approx(8.4)
        start = loop.time()
        await monitor.read()
        assert loop.time() == start, "configured: no more waiting"

    run_virtual(body())


def _read_reg(bus: FakeSMBus, address: int, register: Reg) -> int:
    word = bus.read_word_data(address, register)
    return (word & 0xFF) << 8 | word >> 8


def test_mains_follows_the_current_direction(run_virtual: Any) -> None:
    async def body() -> None:
        _bus, chip, monitor = _monitor()
        chip.set_current(0.0)
        assert (await monitor.read()).on_mains, "a full battery on mains draws nothing"
        chip.set_current(-0.6)
        chip.set_bus_voltage(7.5)
        status = await monitor.read()
        assert not status.on_mains
        assert status.battery_fraction == pytest.approx(0.5)

    run_virtual(body())


def test_mains_follows_the_power_fail_input_when_given(run_virtual: Any) -> None:
    async def body() -> None:
        mains = [True]

        async def mains_present() -> bool:
            return mains[0]

        _bus, chip, monitor = _monitor(mains_present=mains_present)
        chip.set_current(-0.6)
        assert (await monitor.read()).on_mains, "the power-fail input decides"
        mains[0] = False
        assert not (await monitor.read()).on_mains

    run_virtual(body())


def test_a_failing_power_fail_input_is_raised_under_the_monitors_name(run_virtual: Any) -> None:
    async def body() -> None:
        async def mains_present() -> bool:
            raise PartNotResponding("power-fail-gpio", "pin gone")

        _bus, _chip, monitor = _monitor(mains_present=mains_present)
        with pytest.raises(PartNotResponding, match="mains input") as raised:
            await monitor.read()
        assert raised.value.part == "power"

    run_virtual(body())


def test_watch_yields_start_mains_changes_and_percentage_points(run_virtual: Any) -> None:
    async def body() -> None:
        _bus, chip, monitor = _monitor(poll_interval_s=1.0)
        chip.set_bus_voltage(7.5)
        changes = monitor.watch()
        first = await anext(changes)
        assert first.on_mains
        chip.set_bus_voltage(7.501)
        chip.set_current(-0.4)
        cut = await anext(changes)
        assert not cut.on_mains
        chip.set_bus_voltage(7.502)
        chip.set_bus_voltage(7.52)
        moved = await anext(changes)
        assert moved.battery_fraction is not None
        assert cut.battery_fraction is not None
        assert moved.battery_fraction - cut.battery_fraction >= 0.01
        chip.set_current(0.3)
        assert (await anext(changes)).on_mains
        await changes.aclose()

    run_virtual(body())


@pytest.mark.parametrize("fault", [BusFault.NACK, BusFault.TIMEOUT, "unplug"])
def test_a_silent_monitor_is_part_not_responding_then_recovers(
    run_virtual: Any, fault: BusFault | str
) -> None:
    async def body() -> None:
        bus, _chip, monitor = _monitor()
        await monitor.read()
        if fault == "unplug":
            bus.unplug(0x41)
        else:
            bus.inject(0x41, BusFault(fault))
        with pytest.raises(PartNotResponding) as raised:
            await monitor.read()
        assert raised.value.part == "power"
        with pytest.raises(PartNotResponding):
            await anext(monitor.watch())
        if fault == "unplug":
            bus.plug(0x41)
        else:
            bus.heal(0x41)
        status = await monitor.read()
        assert status.battery_volts == pytest.approx(8.4)
        assert status.on_mains

    run_virtual(body())


def test_garbage_and_a_saturated_shunt_are_read_failed(run_virtual: Any) -> None:
    async def body() -> None:
        bus, chip, monitor = _monitor()
        bus.inject(0x41, BusFault.GARBAGE)
        with pytest.raises(ReadFailed, match="did not read back") as raised:
            await monitor.read()
        assert raised.value.part == "power"
        bus.heal(0x41)
        chip.set_current(5.0)
        with pytest.raises(ReadFailed, match="full scale"):
            await monitor.read()
        chip.set_current(0.1)
        assert (await monitor.read()).on_mains

    run_virtual(body())


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="0x40-0x4F"):
        INA219PowerMonitor("p", FakeSMBus(), 0x50)
    with pytest.raises(ValueError, match="cells >= 1"):
        INA219PowerMonitor("p", FakeSMBus(), cells=0)
