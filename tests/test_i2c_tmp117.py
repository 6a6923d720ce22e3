"""The TMP117: the datasheet's worked examples (SNOSD82 Table 7-1), the register-level fake, and
the probe driver against it, with faults."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.hal.errors import PartNotResponding, ReadFailed
from drivers.tmp117 import (
    LSB_C,
    AlertFlags,
    Averaging,
    ConversionMode,
    TMP117Probe,
    celsius_from_register,
    register_from_celsius,
)
from hal_sim.fakes.smbus import BusFault, FakeSMBus
from hal_sim.fakes.tmp117 import FakeTMP117, Reg

TABLE_7_1 = [
    (-25.0, 0xF380),
    (-0.125, 0xFFF0),
    (-0.0078125, 0xFFFF),
    (0.0, 0x0000),
    (0.0078125, 0x0001),
    (0.125, 0x0010),
    (1.0, 0x0080),
    (25.0, 0x0C80),
    (100.0, 0x3200),
    (255.9921875, 0x7FFF),
]
"""SNOSD82 Table 7-1, "16-bit temperature data format" (-256 °C = 0x8000 is the reset value)."""


@pytest.mark.parametrize(("celsius", "raw"), TABLE_7_1)
def test_datasheet_temperature_examples(celsius: float, raw: int) -> None:
    assert celsius_from_register(raw) == celsius
    assert register_from_celsius(celsius) == raw


def test_reset_value_decodes_to_minus_256_and_limits_are_range_checked() -> None:
    assert celsius_from_register(0x8000) == -256.0
    with pytest.raises(ValueError, match=r"-256\.\.255"):
        register_from_celsius(256.0)
    assert Averaging.AVG_8.conversion_s == 0.125


@given(st.integers(0, 0xFFFF))
def test_every_register_value_decodes_and_round_trips(raw: int) -> None:
    celsius = celsius_from_register(raw)
    assert math.isfinite(celsius)
    assert -256.0 <= celsius < 256.0
    assert register_from_celsius(celsius) == raw


@given(st.floats(-256.0, 255.99, allow_nan=False))
def test_encoding_is_within_half_an_lsb(celsius: float) -> None:
    assert abs(celsius_from_register(register_from_celsius(celsius)) - celsius) <= LSB_C / 2


# --- the fake -----------------------------------------------------------------------------------


def _read(bus: FakeSMBus, register: Reg) -> int:
    """A big-endian register read as a driver must do it over SMBus."""
    word = bus.read_word_data(0x48, register)
    return (word & 0xFF) << 8 | word >> 8


def _write(bus: FakeSMBus, register: Reg, value: int) -> None:
    bus.write_word_data(0x48, register, (value & 0xFF) << 8 | value >> 8)


def test_fake_reset_values_and_byte_order() -> None:
    bus = FakeSMBus(1)
    bus.attach(0x48, FakeTMP117(clock=lambda: 0.0))
    assert bus.read_word_data(0x48, Reg.DEVICE_ID) == 0x1701, "MSB first: SMBus sees it swapped"
    assert _read(bus, Reg.DEVICE_ID) == 0x0117
    assert _read(bus, Reg.TEMP_RESULT) == 0x8000, "no conversion yet"
    assert _read(bus, Reg.CONFIGURATION) == 0x0220
    assert _read(bus, Reg.THIGH_LIMIT) == 0x6000
    assert _read(bus, Reg.TLOW_LIMIT) == 0x8000


def test_fake_conversion_timing_data_ready_and_alerts() -> None:
    now = [0.0]
    bus = FakeSMBus(1)
    sensor = FakeTMP117(temperature_c=25.0, clock=lambda: now[0])
    bus.attach(0x48, sensor)
    _write(bus, Reg.THIGH_LIMIT, 0x0A00)
    _write(bus, Reg.CONFIGURATION, 0x0C20)
    now[0] = 0.1
    assert not _read(bus, Reg.CONFIGURATION) & 0x2000, "8 averages take 125 ms"
    now[0] = 0.13
    config = _read(bus, Reg.CONFIGURATION)
    assert config & 0x2000, "Data_Ready"
    assert config & 0x8000, "HIGH_Alert: 25 °C is above 20 °C"
    assert config & 0x0C00 == 0x0400, "a one-shot ends in shutdown"
    assert not _read(bus, Reg.CONFIGURATION) & 0xA000, "reading clears Data_Ready and alerts"
    assert _read(bus, Reg.TEMP_RESULT) == 0x0C80
    _write(bus, Reg.TEMP_OFFSET, 0x0080)
    _write(bus, Reg.CONFIGURATION, 0x0C00)
    now[0] = 0.2
    assert _read(bus, Reg.TEMP_RESULT) == 0x0D00, "Temp_Offset (+1 °C) is added"
    assert sensor.conversions == 2


def test_fake_therm_mode_keeps_high_alert_until_below_low_limit() -> None:
    bus = FakeSMBus(1)
    sensor = FakeTMP117(temperature_c=8.0)
    bus.attach(0x48, sensor)
    _write(bus, Reg.THIGH_LIMIT, register_from_celsius(6.0))
    _write(bus, Reg.TLOW_LIMIT, register_from_celsius(4.0))
    _write(bus, Reg.CONFIGURATION, 0x0010)
    _read(bus, Reg.TEMP_RESULT)
    assert _read(bus, Reg.CONFIGURATION) & 0x8000
    sensor.set_temperature(5.0)
    assert _read(bus, Reg.CONFIGURATION) & 0x8000, "hysteresis: still above TLow"
    sensor.set_temperature(3.0)
    _read(bus, Reg.TEMP_RESULT)
    assert not _read(bus, Reg.CONFIGURATION) & 0xC000


def test_fake_soft_reset() -> None:
    bus = FakeSMBus(1)
    bus.attach(0x48, FakeTMP117(clock=lambda: 0.0))
    _write(bus, Reg.THIGH_LIMIT, 0x1234)
    _write(bus, Reg.CONFIGURATION, 0x0002)
    assert _read(bus, Reg.THIGH_LIMIT) == 0x6000


# --- the driver ---------------------------------------------------------------------------------


def _probe(temperature_c: float = 4.2, **kwargs: Any) -> tuple[FakeSMBus, FakeTMP117, TMP117Probe]:
    loop = asyncio.get_running_loop()
    bus = FakeSMBus(1)
    sensor = FakeTMP117(temperature_c=temperature_c, clock=loop.time)
    bus.attach(0x49, sensor)
    return bus, sensor, TMP117Probe("air-1", bus, 0x49, **kwargs)


def test_one_shot_read_waits_for_the_conversion_on_the_loop(run_virtual: Any) -> None:
    async def body() -> None:
        _bus, sensor, probe = _probe(4.2)
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await probe.read() == pytest.approx(4.2, abs=LSB_C)
        assert loop.time() - start == pytest.approx(0.125, abs=0.002), "slept, never blocked"
        sensor.set_temperature(-18.5)
        assert await probe.read() == -18.5
        assert sensor.conversions == 2
        assert sensor.register(Reg.CONFIGURATION) & 0x0C00 == 0x0400, "shut down in between"

    run_virtual(body())


def test_continuous_read_waits_for_a_fresh_conversion(run_virtual: Any) -> None:
    async def body() -> None:
        _bus, sensor, probe = _probe(5.0, mode=ConversionMode.CONTINUOUS, averaging=Averaging.NONE)
        assert await probe.read() == 5.0
        sensor.set_temperature(6.0)
        assert await probe.read() == 6.0, "the value after the change, not a stale result"
        assert sensor.register(Reg.CONFIGURATION) & 0x0C00 == 0

    run_virtual(body())


def test_alert_flags_are_kept_from_the_last_read(run_virtual: Any) -> None:
    async def body() -> None:
        _bus, sensor, probe = _probe(4.0)
        await probe.set_limits(low_c=2.0, high_c=6.0)
        assert sensor.register(Reg.THIGH_LIMIT) == 0x0300
        await probe.read()
        assert probe.alerts == AlertFlags(high=False, low=False)
        sensor.set_temperature(7.5)
        await probe.read()
        assert probe.alerts == AlertFlags(high=True, low=False)
        sensor.set_temperature(1.0)
        await probe.read()
        assert probe.alerts == AlertFlags(high=False, low=True)
        with pytest.raises(ValueError, match="below high limit"):
            await probe.set_limits(low_c=6.0, high_c=2.0)

    run_virtual(body())


def test_a_wrong_device_id_is_read_failed_naming_what_was_found(run_virtual: Any) -> None:
    async def body() -> None:
        bus, _sensor, probe = _probe()
        bus.inject(0x49, BusFault.GARBAGE)
        with pytest.raises(ReadFailed, match=r"Device_ID reads 0x[0-9a-f]{4}, a TMP117") as raised:
            await probe.read()
        assert raised.value.part == "air-1"
        bus.heal(0x49)
        assert await probe.read() == pytest.approx(4.2, abs=LSB_C)

    run_virtual(body())


def test_the_reset_value_is_read_failed(run_virtual: Any) -> None:
    async def body() -> None:
        _bus, sensor, probe = _probe()
        sensor.force_result(0x8000)
        with pytest.raises(ReadFailed, match="0x8000"):
            await probe.read()
        sensor.force_result(None)
        assert math.isfinite(await probe.read())

    run_virtual(body())


def test_no_data_ready_is_read_failed(run_virtual: Any) -> None:
    async def body() -> None:
        bus = FakeSMBus(1)
        bus.attach(0x48, FakeTMP117(clock=lambda: 0.0))
        probe = TMP117Probe("air-2", bus)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ReadFailed, match=r"no conversion completed within 0\.25 s"):
            await probe.read()
        assert loop.time() - start == pytest.approx(0.25, abs=0.01)

    run_virtual(body())


@pytest.mark.parametrize("fault", [BusFault.NACK, BusFault.TIMEOUT, "unplug"])
def test_a_silent_probe_is_part_not_responding_then_recovers(
    run_virtual: Any, fault: BusFault | str
) -> None:
    async def body() -> None:
        bus, _sensor, probe = _probe(3.0)
        if fault == "unplug":
            bus.unplug(0x49)
        else:
            bus.inject(0x49, BusFault(fault))
        with pytest.raises(PartNotResponding) as raised:
            await probe.read()
        assert raised.value.part == "air-1"
        if fault == "unplug":
            bus.plug(0x49)
        else:
            bus.heal(0x49)
        assert await probe.read() == 3.0

    run_virtual(body())


def test_a_replugged_continuous_probe_is_configured_again(run_virtual: Any) -> None:
    async def body() -> None:
        bus, sensor, probe = _probe(3.0, mode=ConversionMode.CONTINUOUS, averaging=Averaging.NONE)
        await probe.read()
        bus.unplug(0x49)
        bus.plug(0x49)
        assert sensor.register(Reg.CONFIGURATION) == 0x0220
        assert await probe.read() == 3.0
        assert sensor.register(Reg.CONFIGURATION) & 0x0FFC == 0x0000

    run_virtual(body())


def test_constructor_validates_the_address() -> None:
    with pytest.raises(ValueError, match="0x48-0x4B"):
        TMP117Probe("p", FakeSMBus(), 0x40)
