"""Cabinet slot parts over MCP23017 pins, against fake chips on fake buses wired per the
reference wiring: the HAL obligations of locks, presence sensors and lights, and faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest

from agent.hal.errors import LockJammed, PartInUse, PartNotResponding, ReadFailed
from agent.hal.parts import LightColour
from drivers.expander_slots import (
    ExpanderLock,
    ExpanderPin,
    ExpanderPresenceSensor,
    Expanders,
    ExpanderSlotLight,
    SlotWiring,
    reference_wiring,
)
from hal_sim.fakes.mcp23017 import FakeMCP23017, FakeSolenoidLatch, Reg
from hal_sim.fakes.smbus import BusFault, FakeSMBus

T = TypeVar("T")


class Cabinet:
    """Fake buses and chips wired per the reference wiring, each slot's parts, and the bench
    hooks a conformance bench would map to (insert/remove a unit, jam, unplug)."""

    def __init__(self, slots: int, *, max_release_s: float = 4.0) -> None:
        self.wiring = reference_wiring(slots)
        self.buses = {n: FakeSMBus(n) for n in {w.presence.bus for w in self.wiring.values()}}
        self.chips: dict[tuple[int, int], FakeMCP23017] = {}
        for slot_pins in self.wiring.values():
            key = (slot_pins.presence.bus, slot_pins.presence.address)
            if key not in self.chips:
                self.chips[key] = FakeMCP23017()
                self.buses[key[0]].attach(key[1], self.chips[key])
        self.expanders = Expanders(self.buses)
        self.latches = {
            slot: FakeSolenoidLatch(
                (self.chip(w.solenoid), w.solenoid.pin), (self.chip(w.latch), w.latch.pin)
            )
            for slot, w in self.wiring.items()
        }
        self.locks = {
            slot: ExpanderLock(
                f"slot-{slot}-lock",
                self.expanders,
                solenoid=w.solenoid,
                feedback=w.latch,
                max_release_s=max_release_s,
            )
            for slot, w in self.wiring.items()
        }
        self.presence = {
            slot: ExpanderPresenceSensor(
                f"slot-{slot}-presence", slot, self.expanders, pin=w.presence
            )
            for slot, w in self.wiring.items()
        }
        self.lights = {
            slot: ExpanderSlotLight(
                f"slot-{slot}-light", slot, self.expanders, red=w.red, amber=w.amber, green=w.green
            )
            for slot, w in self.wiring.items()
        }

    def chip(self, pin: ExpanderPin) -> FakeMCP23017:
        return self.chips[(pin.bus, pin.address)]

    def insert_unit(self, slot: int) -> None:
        pin = self.wiring[slot].presence
        self.chip(pin).drive(pin.pin, False)

    def remove_unit(self, slot: int) -> None:
        pin = self.wiring[slot].presence
        self.chip(pin).float_pin(pin.pin)

    def bus_of(self, slot: int) -> tuple[FakeSMBus, int]:
        pin = self.wiring[slot].presence
        return self.buses[pin.bus], pin.address


async def _next(iterator: AsyncIterator[T]) -> T:
    async with asyncio.timeout(5.0):
        return await anext(iterator)


# --- wiring -------------------------------------------------------------------------------------


def test_reference_wiring_of_72_slots() -> None:
    wiring = reference_wiring(72)
    chips = {(w.presence.bus, w.presence.address) for w in wiring.values()}
    assert len(chips) == 36
    assert sorted({bus for bus, _ in chips}) == [1, 3, 4, 5, 6]
    pins = [pin for w in wiring.values() for pin in _pins(w)]
    assert len(set(pins)) == len(pins) == 72 * 6, "no pin serves twice"
    for slot_pins in wiring.values():
        assert len({(p.bus, p.address) for p in _pins(slot_pins)}) == 1, "a slot is on one chip"
        assert slot_pins.presence.pin % 8 not in (7,), "inputs avoid output-only GPx7"
        assert slot_pins.latch.pin % 8 != 7
    assert wiring[1].presence == ExpanderPin(1, 0x20, 0)
    assert wiring[2].solenoid == ExpanderPin(1, 0x20, 10)
    assert wiring[17].presence == ExpanderPin(3, 0x20, 0)
    assert str(wiring[2].green) == "i2c-1/0x20/GPB5"


def _pins(wiring: SlotWiring) -> tuple[ExpanderPin, ...]:
    return (
        wiring.presence,
        wiring.latch,
        wiring.solenoid,
        wiring.red,
        wiring.amber,
        wiring.green,
    )


def test_reference_wiring_limits_and_pin_validation() -> None:
    with pytest.raises(ValueError, match="need 9 expanders"):
        reference_wiring(17, buses=(1,))
    with pytest.raises(ValueError, match="at least one slot"):
        reference_wiring(0)
    with pytest.raises(ValueError, match="0x20-0x27"):
        ExpanderPin(1, 0x28, 0)
    with pytest.raises(ValueError, match="0-15"):
        ExpanderPin(1, 0x20, 16)
    with pytest.raises(ValueError, match="no I2C bus 9"):
        Expanders({1: FakeSMBus(1)}).chip(9, 0x20)


def test_two_parts_on_one_pin_fail_at_assembly() -> None:
    cabinet = Cabinet(2)
    with pytest.raises(PartInUse, match="already used by slot-1-presence"):
        ExpanderLock(
            "intruder",
            cabinet.expanders,
            solenoid=cabinet.wiring[1].presence,
            feedback=None,
        )


# --- locks --------------------------------------------------------------------------------------


def test_lock_starts_locked_releases_and_engages(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(2)
        lock = cabinet.locks[1]
        assert await lock.is_locked()
        await lock.release()
        assert not await lock.is_locked()
        assert not cabinet.latches[1].locked
        await lock.engage()
        assert await lock.is_locked()
        assert cabinet.latches[2].locked, "the neighbour on the same chip never moved"

    run_virtual(body())


def test_released_lock_engages_itself_within_max_release(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(2, max_release_s=4.0)
        lock = cabinet.locks[2]
        await lock.release()
        await asyncio.sleep(2.0)
        assert not await lock.is_locked()
        await asyncio.sleep(2.1)
        assert await lock.is_locked()

    run_virtual(body())


def test_auto_engage_outlasts_a_failing_bus(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1, max_release_s=4.0)
        lock = cabinet.locks[1]
        bus, address = cabinet.bus_of(1)
        await lock.release()
        bus.inject(address, BusFault.NACK)
        await asyncio.sleep(6.0)
        assert not cabinet.latches[1].locked, "the bus is down: the solenoid is still on"
        bus.heal(address)
        await asyncio.sleep(1.5)
        assert cabinet.latches[1].locked, "the auto-engage kept trying and got through"

    run_virtual(body())


def test_jammed_lock_raises_de_energises_and_reads_locked(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        lock = cabinet.locks[1]
        cabinet.latches[1].jam()
        with pytest.raises(LockJammed, match="still reads locked") as raised:
            await lock.release()
        assert raised.value.part == "slot-1-lock"
        assert await lock.is_locked()
        solenoid = cabinet.wiring[1].solenoid
        assert cabinet.chip(solenoid).output(solenoid.pin) is False, "not left energised"

    run_virtual(body())


def test_engage_during_a_slow_release_waits_instead_of_faking_a_jam(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        lock = cabinet.locks[1]
        cabinet.latches[1].jam()
        release = asyncio.get_running_loop().create_task(lock.release())
        await asyncio.sleep(0.05)
        cabinet.latches[1].free()
        await lock.engage()
        await release
        assert await lock.is_locked()

    run_virtual(body())


def test_lock_without_feedback_reports_the_solenoid_latch(run_virtual: Any) -> None:
    async def body() -> None:
        bus = FakeSMBus(1)
        bus.attach(0x21, FakeMCP23017())
        lock = ExpanderLock(
            "door-lock", Expanders({1: bus}), solenoid=ExpanderPin(1, 0x21, 0), feedback=None
        )
        assert await lock.is_locked()
        await lock.release()
        assert not await lock.is_locked()

    run_virtual(body())


# --- presence -----------------------------------------------------------------------------------


def test_presence_reads_and_watches_insertion_and_removal(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(2)
        sensor = cabinet.presence[2]
        assert sensor.slot == 2
        assert await sensor.read() is False
        changes = sensor.watch()
        assert await _next(changes) is False
        cabinet.insert_unit(2)
        assert await _next(changes) is True
        assert await sensor.read() is True
        cabinet.remove_unit(2)
        assert await _next(changes) is False
        await changes.aclose()

    run_virtual(body())


def test_a_bouncing_insertion_is_one_change(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        sensor = cabinet.presence[1]
        changes = sensor.watch()
        assert await _next(changes) is False
        loop = asyncio.get_running_loop()
        bounce_started = loop.time()
        for _ in range(5):
            cabinet.insert_unit(1)
            await asyncio.sleep(0.015)
            cabinet.remove_unit(1)
            await asyncio.sleep(0.015)
        cabinet.insert_unit(1)
        settled = loop.time()
        assert await _next(changes) is True
        assert loop.time() - settled >= 0.05, "reported only after debounce_s of quiet"
        assert loop.time() - bounce_started < 0.5
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await anext(changes)
        await changes.aclose()

    run_virtual(body())


def test_presence_watch_wakes_on_the_interrupt_line(run_virtual: Any) -> None:
    async def body() -> None:
        bus = FakeSMBus(1)
        chip = FakeMCP23017()
        bus.attach(0x20, chip)
        line = asyncio.Event()

        def int_line() -> None:
            if chip.interrupt_asserted("A"):
                line.set()

        chip.subscribe(int_line)

        async def interrupt() -> None:
            await line.wait()
            line.clear()

        sensor = ExpanderPresenceSensor(
            "slot-1-presence",
            1,
            Expanders({1: bus}),
            pin=ExpanderPin(1, 0x20, 0),
            interrupt=interrupt,
            idle_poll_s=60.0,
        )
        changes = sensor.watch()
        assert await _next(changes) is False
        assert chip.register(Reg.GPINTENA) == 0x01
        loop = asyncio.get_running_loop()
        await asyncio.sleep(5.0)
        inserted = loop.time()
        chip.drive(0, False)
        assert await _next(changes) is True
        assert loop.time() - inserted < 0.2, "woken by INTA, not by the 60 s idle poll"
        await changes.aclose()

    run_virtual(body())


# --- lights -------------------------------------------------------------------------------------


def test_slot_light_shows_each_colour(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(2)
        light = cabinet.lights[2]
        wiring = cabinet.wiring[2]
        chip = cabinet.chip(wiring.red)
        for colour in LightColour:
            await light.set(colour)
            assert await light.colour() is colour
        await light.set(LightColour.GREEN)
        leds = [chip.output(p.pin) for p in (wiring.red, wiring.amber, wiring.green)]
        assert leds == [False, False, True]
        await light.set(LightColour.OFF)
        assert await cabinet.lights[1].colour() is LightColour.OFF

    run_virtual(body())


def test_a_light_showing_no_colour_is_read_failed(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        light = cabinet.lights[1]
        await light.set(LightColour.RED)
        bus, address = cabinet.bus_of(1)
        bus.write_word_data(address, Reg.OLATA, 0b0001_1000)
        with pytest.raises(ReadFailed, match="no colour") as raised:
            await light.colour()
        assert raised.value.part == "slot-1-light"

    run_virtual(body())


# --- faults on every part -------------------------------------------------------------------------


def _calls(cabinet: Cabinet) -> list[tuple[str, Any]]:
    lock, sensor, light = cabinet.locks[1], cabinet.presence[1], cabinet.lights[1]
    return [
        (lock.name, lock.is_locked),
        (lock.name, lock.release),
        (lock.name, lock.engage),
        (sensor.name, sensor.read),
        (light.name, lambda: light.set(LightColour.GREEN)),
        (light.name, light.colour),
    ]


@pytest.mark.parametrize("fault", [BusFault.NACK, BusFault.TIMEOUT, "unplug"])
def test_a_silent_chip_is_part_not_responding_then_recovers(
    run_virtual: Any, fault: BusFault | str
) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        bus, address = cabinet.bus_of(1)
        for part, call in _calls(cabinet):
            if fault == "unplug":
                bus.unplug(address)
            else:
                bus.inject(address, BusFault(fault))
            with pytest.raises(PartNotResponding) as raised:
                await call()
            assert raised.value.part == part
            assert "mcp23017@i2c-1/0x20" in raised.value.detail
            if fault == "unplug":
                bus.plug(address)
            else:
                bus.heal(address)
            await call()

    run_virtual(body())


def test_garbage_from_the_chip_is_read_failed_then_recovers(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        bus, address = cabinet.bus_of(1)
        for part, call in _calls(cabinet):
            bus.inject(address, BusFault.GARBAGE)
            with pytest.raises(ReadFailed) as raised:
                await call()
            assert raised.value.part == part
            bus.heal(address)
            await call()

    run_virtual(body())


def test_watch_of_an_unplugged_sensor_raises_and_a_new_watch_works(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(1)
        sensor = cabinet.presence[1]
        bus, address = cabinet.bus_of(1)
        changes = sensor.watch()
        assert await _next(changes) is False
        bus.unplug(address)
        with pytest.raises(PartNotResponding):
            await _next(changes)
        with pytest.raises(PartNotResponding):
            await _next(sensor.watch())
        bus.plug(address)
        cabinet.insert_unit(1)
        assert await _next(sensor.watch()) is True

    run_virtual(body())


def test_a_replugged_chip_gets_its_outputs_back(run_virtual: Any) -> None:
    async def body() -> None:
        cabinet = Cabinet(2)
        await cabinet.lights[2].set(LightColour.AMBER)
        bus, address = cabinet.bus_of(2)
        bus.unplug(address)
        bus.plug(address)
        amber = cabinet.wiring[2].amber
        assert cabinet.chip(amber).output(amber.pin) is None, "reset: every pin an input"
        assert await cabinet.presence[1].read() is False
        assert cabinet.chip(amber).output(amber.pin) is True, "configured again on first use"
        assert await cabinet.lights[2].colour() is LightColour.AMBER
        assert await cabinet.locks[2].is_locked(), "a reset never releases a lock"

    run_virtual(body())
