"""The HAL conformance suite: every backend must keep every obligation its protocols document.

Parametrised by backend (``backends.BACKENDS``): the simulator's parts, the real drivers over
their fake buses, and the real drivers on a bench rig when one is named. Each test drives one
obligation through the backend's bench and the HAL protocol only - never through a backend's
own attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import pytest

from agent.hal import (
    BadgeRead,
    BarcodeRead,
    GarbledInput,
    IndicatorState,
    LightColour,
    LockJammed,
    PartNotResponding,
    ReadFailed,
)
from agent.hal.tag_data import decode_tag_data
from hal_sim.clock import SimClock
from tests.hal_conformance.backends import BACKENDS, BackendUnderTest

T = TypeVar("T")

Test = Callable[[BackendUnderTest], Coroutine[Any, Any, None]]


@pytest.fixture(params=sorted(BACKENDS))
def conformance(request: pytest.FixtureRequest, run_virtual: Any) -> Callable[[Test], None]:
    """Run a conformance check against one backend, with the backend's background work
    running: on virtual time, or in real time for a backend whose parts do real I/O (each
    such test takes a few seconds at most). A backend that cannot run here is skipped with
    its reason."""
    candidate = BACKENDS[request.param]
    reason = candidate.unavailable()
    if reason is not None:
        pytest.skip(reason)

    def run(test: Test) -> None:
        async def body() -> None:
            loop = asyncio.get_running_loop()
            clock = SimClock(loop, wall_epoch_ns=0)
            backend = candidate.build(clock)
            background = loop.create_task(backend.backend.run())
            try:
                await test(backend)
            finally:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background

        if candidate.real_time:
            asyncio.run(body())
        else:
            run_virtual(body())

    return run


async def _next(iterator: AsyncIterator[T]) -> T:
    async with asyncio.timeout(5.0):
        return await anext(iterator)


# --- locks ----------------------------------------------------------------------------------


def test_lock_starts_locked_and_releases_and_engages(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        lock = backend.hardware.slots[1].lock
        assert await lock.is_locked()
        await lock.release()
        assert not await lock.is_locked()
        await lock.engage()
        assert await lock.is_locked()

    conformance(check)


def test_released_lock_engages_itself_within_max_release(
    conformance: Callable[[Test], None],
) -> None:
    async def check(backend: BackendUnderTest) -> None:
        lock = backend.hardware.slots[2].lock
        await lock.release()
        await asyncio.sleep(lock.max_release_s * 0.5)
        assert not await lock.is_locked()
        await asyncio.sleep(lock.max_release_s * 0.5 + 0.1)
        assert await lock.is_locked(), "a solenoid left energised past max_release_s burns out"

    conformance(check)


def test_jammed_lock_raises_and_still_reads_locked(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        lock = backend.hardware.slots[3].lock
        backend.bench.jam(lock.name)
        with pytest.raises(LockJammed) as raised:
            await lock.release()
        assert raised.value.part == lock.name
        assert await lock.is_locked()

    conformance(check)


def test_door_lock_releases_and_engages(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        for lock in backend.hardware.door_locks.values():
            assert await lock.is_locked()
            await lock.release()
            assert not await lock.is_locked()
            await lock.engage()
            assert await lock.is_locked()

    conformance(check)


# --- every part: silence is PartNotResponding, and a part recovers ----------------------------


def _every_part_call(backend: BackendUnderTest) -> list[tuple[str, Callable[[], Any]]]:
    hw = backend.hardware
    slot = hw.slots[1]
    calls: list[tuple[str, Callable[[], Any]]] = [
        (slot.lock.name, slot.lock.is_locked),
        (slot.lock.name, slot.lock.release),
        (slot.lock.name, slot.lock.engage),
        (slot.presence.name, slot.presence.read),
        (slot.light.name, lambda: slot.light.set(LightColour.GREEN)),
        (slot.light.name, slot.light.colour),
        (hw.power.name, hw.power.read),
        (hw.indicator.name, lambda: hw.indicator.show(IndicatorState.ALARM)),
        (hw.indicator.name, hw.indicator.state),
    ]
    calls.extend((door.name, door.is_open) for door in hw.doors.values())
    calls.extend((probe.name, probe.read) for probe in hw.probes.values())
    if hw.rfid is not None:
        rfid = hw.rfid
        calls.append((rfid.name, lambda: rfid.inventory(rfid.antennas[0])))
    return calls


def test_a_silent_part_raises_part_not_responding_then_recovers(
    conformance: Callable[[Test], None],
) -> None:
    async def check(backend: BackendUnderTest) -> None:
        for part, call in _every_part_call(backend):
            backend.bench.unplug(part)
            with pytest.raises(PartNotResponding) as raised:
                await call()
            assert raised.value.part == part
            backend.bench.plug(part)
            await call()

    conformance(check)


def test_watch_of_a_silent_part_raises_part_not_responding(
    conformance: Callable[[Test], None],
) -> None:
    async def check(backend: BackendUnderTest) -> None:
        hw = backend.hardware
        watched = [
            (hw.slots[1].presence.name, hw.slots[1].presence.watch),
            (hw.power.name, hw.power.watch),
            *((door.name, door.watch) for door in hw.doors.values()),
        ]
        for part, watch in watched:
            backend.bench.unplug(part)
            with pytest.raises(PartNotResponding):
                await _next(watch())
            backend.bench.plug(part)
            await _next(watch())

    conformance(check)


# --- presence and doors ------------------------------------------------------------------------


def test_presence_reads_and_watches_insertion_and_removal(
    conformance: Callable[[Test], None],
) -> None:
    async def check(backend: BackendUnderTest) -> None:
        sensor = backend.hardware.slots[5].presence
        assert sensor.slot == 5
        assert await sensor.read() is False
        changes = sensor.watch()
        assert await _next(changes) is False, "watch() starts with the current state"
        backend.bench.insert_unit(5, "E0040100000000A5")
        assert await _next(changes) is True
        assert await sensor.read() is True
        backend.bench.remove_unit(5)
        assert await _next(changes) is False
        await changes.aclose()

    conformance(check)


def test_door_sensor_reads_and_watches(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        for name, door in backend.hardware.doors.items():
            assert await door.is_open() is False
            changes = door.watch()
            assert await _next(changes) is False
            backend.bench.open_door(name)
            assert await _next(changes) is True
            assert await door.is_open() is True
            backend.bench.close_door(name)
            assert await _next(changes) is False
            await changes.aclose()

    conformance(check)


# --- lights and indicator ---------------------------------------------------------------------


def test_slot_light_shows_what_it_was_set_to(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        light = backend.hardware.slots[7].light
        assert light.slot == 7
        for colour in LightColour:
            await light.set(colour)
            assert await light.colour() is colour

    conformance(check)


def test_indicator_shows_what_it_was_told(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        indicator = backend.hardware.indicator
        for state in IndicatorState:
            await indicator.show(state)
            assert await indicator.state() is state

    conformance(check)


# --- RFID ----------------------------------------------------------------------------------------


def test_rfid_inventory_reads_the_tag_in_a_slot(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        hw = backend.hardware
        assert hw.rfid is not None
        antenna = hw.antenna_of_slot[9]
        assert await hw.rfid.inventory(antenna) == frozenset()
        backend.bench.insert_unit(9, "E0040100000000B9")
        tags = await hw.rfid.inventory(antenna)
        assert tags == frozenset({"E0040100000000B9"})
        assert all(tag == tag.upper() for tag in tags)
        other = hw.antenna_of_slot[10]
        assert await hw.rfid.inventory(other) == frozenset()

    conformance(check)


def test_rfid_reads_the_din_from_a_tags_memory(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        hw = backend.hardware
        assert hw.rfid is not None
        antenna = hw.antenna_of_slot[12]
        backend.bench.insert_unit(12, "E0040100000000C3")
        memory = await hw.rfid.read_tag_data(antenna, "E0040100000000C3")
        assert decode_tag_data(memory).din == backend.bench.din_on_tag("E0040100000000C3")
        with pytest.raises(ReadFailed, match="E0040100000000D4"):
            await hw.rfid.read_tag_data(antenna, "E0040100000000D4")

    conformance(check)


def test_rfid_unknown_antenna_is_a_value_error(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        assert backend.hardware.rfid is not None
        with pytest.raises(ValueError, match="no antenna"):
            await backend.hardware.rfid.inventory("no-such-antenna")

    conformance(check)


# --- readers -------------------------------------------------------------------------------------


def test_scanner_delivers_scans_in_order_and_garbage_as_garbled_input(
    conformance: Callable[[Test], None],
) -> None:
    async def check(backend: BackendUnderTest) -> None:
        scanner = backend.hardware.scanner
        assert scanner is not None
        reads = scanner.reads()
        backend.bench.scan("=A99992600000100")
        backend.bench.garble("scanner", b"\x02\xff\xfe")
        backend.bench.scan("=<E0336V00")
        first, second, third = [await _next(reads) for _ in range(3)]
        assert first == BarcodeRead(data="=A99992600000100")
        assert isinstance(second, GarbledInput)
        assert second.raw == b"\x02\xff\xfe"
        assert third == BarcodeRead(data="=<E0336V00"), "the stream carries on after garbage"
        await reads.aclose()

    conformance(check)


def test_badge_reader_delivers_upper_case_uids_and_garbage(
    conformance: Callable[[Test], None],
) -> None:
    async def check(backend: BackendUnderTest) -> None:
        reader = backend.hardware.badge_reader
        assert reader is not None
        reads = reader.reads()
        backend.bench.present_badge("04a1b2c3")
        backend.bench.garble("badge", b"\x00")
        assert await _next(reads) == BadgeRead(uid="04A1B2C3")
        assert isinstance(await _next(reads), GarbledInput)
        await reads.aclose()

    conformance(check)


# --- temperature and power ----------------------------------------------------------------------


def test_probes_read_finite_celsius(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        for probe in backend.hardware.probes.values():
            value = await probe.read()
            assert isinstance(value, float)
            assert math.isfinite(value)
            assert -60.0 < value < 60.0

    conformance(check)


def test_a_failed_probe_read_is_read_failed(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        probe = next(iter(backend.hardware.probes.values()))
        backend.bench.fail_probe_read(probe.name)
        with pytest.raises(ReadFailed) as raised:
            await probe.read()
        assert raised.value.part == probe.name

    conformance(check)


def test_power_monitor_reports_mains_loss_and_return(conformance: Callable[[Test], None]) -> None:
    async def check(backend: BackendUnderTest) -> None:
        power = backend.hardware.power
        status = await power.read()
        assert status.on_mains
        if status.battery_fraction is not None:
            assert 0.0 <= status.battery_fraction <= 1.0
        changes = power.watch()
        assert (await _next(changes)).on_mains
        backend.bench.cut_mains()
        assert not (await _next(changes)).on_mains
        assert not (await power.read()).on_mains
        backend.bench.restore_mains()
        assert (await _next(changes)).on_mains
        await changes.aclose()

    conformance(check)
