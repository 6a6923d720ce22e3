"""The runtime end to end on the simulator: what the agent records for what happens to it.

Every test runs a simulated device with its agent on virtual time and asserts on the recorded
events - the record the hospital will rely on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_profile
from agent.events import (
    AgentStarted,
    AgentStopping,
    BadgePresented,
    BarcodeScanned,
    DoorChanged,
    Event,
    EventType,
    HardwareFault,
    InputRejected,
    PowerChanged,
    PresenceChanged,
    ProbeFault,
    TagsChanged,
    TemperatureSample,
)
from hal_sim.parts import ProbeFaultMode
from hal_sim.session import SimSession, start_session
from hal_sim.units import SimUnit

CONFIG = Path(__file__).resolve().parents[1] / "config"


def unit(n: int) -> SimUnit:
    return SimUnit(
        din=f"A99992600{n:04d}",
        flags="00",
        blood_group="9500",
        product_code="E0336V00",
        expiry=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        tag_uid=f"E0040100{n:08X}",
    )


def simulate(
    run_virtual: Any,
    profile: str,
    scenario: Callable[[SimSession], Awaitable[None]],
    stock: tuple[tuple[SimUnit, int | None], ...] = (),
) -> list[Event]:
    """Run ``scenario`` against a fresh simulated device loaded with ``stock``; return
    everything recorded from half a second after start to the end."""

    async def body() -> list[Event]:
        session = await start_session(load_profile(CONFIG / profile), log_events=False, stock=stock)
        events: list[Event] = []
        session.stream.observe(events.append)
        await asyncio.sleep(0.5)
        await scenario(session)
        await session.stop("test over")
        return events

    result: list[Event] = run_virtual(body())
    return result


def payloads(events: list[Event], kind: type[Any]) -> list[Any]:
    return [event.payload for event in events if isinstance(event.payload, kind)]


def test_a_run_is_bracketed_by_started_and_stopping_with_gapless_sequences(run_virtual) -> None:
    async def idle(session: SimSession) -> None:
        await asyncio.sleep(60)

    async def body() -> list[Event]:
        session = await start_session(load_profile(CONFIG / "cabinet-72.toml"), log_events=False)
        events: list[Event] = []
        session.stream.observe(events.append)
        await idle(session)
        await session.stop("test over")
        return events

    events = run_virtual(body())
    # The observer was attached after start: sequence 0 (agent_started) came before it.
    sequences = [event.id.sequence for event in events]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert isinstance(events[-1].payload, AgentStopping)
    assert events[-1].payload.reason == "test over"
    assert all(event.id.device_id == "cab-or-01" for event in events)


def test_agent_started_is_the_first_record(run_virtual) -> None:
    async def body() -> Event:
        session = await start_session(load_profile(CONFIG / "fridge.toml"), log_events=False)
        first = session.recent[0]
        await session.stop()
        return first

    first = run_virtual(body())
    assert first.id.sequence == 0
    assert isinstance(first.payload, AgentStarted)
    assert first.payload.backend == "sim"


def test_every_probe_is_sampled_at_its_interval(run_virtual) -> None:
    async def one_hour(session: SimSession) -> None:
        await asyncio.sleep(3600)

    events = simulate(run_virtual, "cabinet-72.toml", one_hour)
    samples = payloads(events, TemperatureSample)
    # The eight probes share the 1 s interval: one sample a tick, with all eight readings.
    # 3600 s, plus the half second before the scenario started.
    assert 3600 <= len(samples) <= 3602, len(samples)
    names = tuple(probe.name for probe in load_profile(CONFIG / "cabinet-72.toml").probes)
    assert all(sample.probes == names for sample in samples)
    assert all(2.0 < celsius < 6.5 for sample in samples for celsius in sample.celsius)


def test_sample_records_carry_time_and_identity(run_virtual) -> None:
    async def ten_seconds(session: SimSession) -> None:
        await asyncio.sleep(10)

    events = simulate(run_virtual, "cabinet-72.toml", ten_seconds)
    samples = [e for e in events if e.type is EventType.TEMPERATURE_SAMPLE]
    first, last = samples[0], samples[-1]
    assert last.monotonic_ns > first.monotonic_ns
    assert last.wall_ns - first.wall_ns == last.monotonic_ns - first.monotonic_ns
    assert first.clock_synchronised is True
    assert last.monotonic_ns - samples[-2].monotonic_ns == 1_000_000_000, "a tick a second"


def ticks(events: list[Event]) -> list[tuple[int, list[Any]]]:
    """The sampler's records grouped by tick, in order, each with its monotonic time: a tick's
    faults and sample are recorded together, with one time stamp. A tick that had nothing to
    record (every fault already recorded, no valid reading) is absent."""
    grouped: dict[int, list[Any]] = {}
    for event in events:
        if isinstance(event.payload, TemperatureSample | ProbeFault):
            grouped.setdefault(event.monotonic_ns, []).append(event.payload)
    return list(grouped.items())


def test_a_tick_is_one_sample_of_its_valid_readings_after_its_faults(run_virtual) -> None:
    """A faulted probe is left out of the tick's sample and its fault recorded before it; a
    tick without a valid reading has no sample; a probe that reads again is a cleared fault in
    the tick whose sample has it back."""
    names = tuple(probe.name for probe in load_profile(CONFIG / "cabinet-72.toml").probes)
    others = names[1:]

    async def faults(session: SimSession) -> None:
        await asyncio.sleep(5)
        session.device.probe_fault("air-top", ProbeFaultMode.DISCONNECTED)
        await asyncio.sleep(10)
        for name in others:  # now no probe gives a valid reading
            session.device.probe_fault(name, ProbeFaultMode.CRC_ERROR)
        await asyncio.sleep(10)
        for name in names:
            session.device.probe_fault(name, ProbeFaultMode.NONE)
        await asyncio.sleep(5)

    recorded = ticks(simulate(run_virtual, "cabinet-72.toml", faults))
    shape = [
        [type(p).__name__ if isinstance(p, ProbeFault) else p.probes for p in payloads]
        for _, payloads in recorded
    ]
    air_top_fault, all_faulted, recovered = (
        i for i, (_, payloads) in enumerate(recorded) if len(payloads) > 1
    )
    assert all(tick == [names] for tick in shape[:air_top_fault]), "all eight, one a tick"
    assert shape[air_top_fault] == ["ProbeFault", others]
    fault = recorded[air_top_fault][1][0]
    assert (fault.probe, fault.cleared) == ("air-top", False)
    assert "PartNotResponding" in fault.reason
    assert all(tick == [others] for tick in shape[air_top_fault + 1 : all_faulted])
    assert all_faulted - air_top_fault == 10, "the seven others, every second"

    # No probe valid: the seven new faults and no sample; then nothing at all until they read.
    assert [(f.probe, f.cleared) for f in recorded[all_faulted][1]] == [
        (name, False) for name in others
    ]
    assert recovered == all_faulted + 1
    assert recorded[recovered][0] - recorded[all_faulted][0] == 10 * 1_000_000_000

    # Every probe reads again: each fault cleared, then the tick's sample of all eight.
    *cleared, sample = recorded[recovered][1]
    assert cleared == [ProbeFault(name, "recovered", cleared=True) for name in names]
    assert isinstance(sample, TemperatureSample)
    assert sample.probes == names
    assert shape[recovered + 1 :]
    assert all(tick == [names] for tick in shape[recovered + 1 :])


def test_a_disconnected_probe_is_one_fault_then_cleared(run_virtual) -> None:
    async def unplug_and_replug(session: SimSession) -> None:
        session.device.probe_fault("air-top", ProbeFaultMode.DISCONNECTED)
        await asyncio.sleep(300)
        session.device.probe_fault("air-top", ProbeFaultMode.NONE)
        await asyncio.sleep(10)

    events = simulate(run_virtual, "cabinet-72.toml", unplug_and_replug)
    faults = payloads(events, ProbeFault)
    assert len(faults) == 2, "one record when the fault begins, one when it clears"
    assert faults[0].probe == "air-top"
    assert "PartNotResponding" in faults[0].reason
    assert faults[1].cleared
    began, cleared = (e.id.sequence for e in events if isinstance(e.payload, ProbeFault))
    air_top = [
        e.id.sequence
        for e in events
        if isinstance(e.payload, TemperatureSample) and "air-top" in e.payload.probes
    ]
    assert not [seq for seq in air_top if began < seq < cleared], "no readings while faulted"
    assert [seq for seq in air_top if seq > cleared], "its readings resume after the fault"
    during = [
        e.payload.probes
        for e in events
        if isinstance(e.payload, TemperatureSample) and began < e.id.sequence < cleared
    ]
    assert len(during) >= 299, "the other probes' ticks go on without it"
    assert all(len(probes) == 7 for probes in during)


def test_garbage_readings_are_faults_never_samples(run_virtual) -> None:
    async def garbage(session: SimSession) -> None:
        session.device.probe_fault("product-top", ProbeFaultMode.GARBAGE)
        await asyncio.sleep(120)

    events = simulate(run_virtual, "cabinet-72.toml", garbage)
    faults = [f for f in payloads(events, ProbeFault) if f.probe == "product-top"]
    assert len(faults) == 1
    assert "implausible" in faults[0].reason
    readings = [
        celsius
        for sample in payloads(events, TemperatureSample)
        for probe, celsius in sample.readings()
        if probe == "product-top"
    ]
    assert all(-60 < celsius < 60 for celsius in readings)
    assert len(readings) <= 1, "only the reading taken before the fault was injected"
    assert len(payloads(events, TemperatureSample)) >= 120, "the other probes are still read"


def test_a_crc_error_is_a_probe_fault(run_virtual) -> None:
    async def crc(session: SimSession) -> None:
        session.device.probe_fault("air-bottom", ProbeFaultMode.CRC_ERROR)
        await asyncio.sleep(5)

    faults = payloads(simulate(run_virtual, "cabinet-72.toml", crc), ProbeFault)
    assert faults
    assert "ReadFailed" in faults[0].reason


def test_slot_removal_records_presence_and_the_tag_that_left(run_virtual) -> None:
    async def remove(session: SimSession) -> None:
        await session.device.locks[4].release()
        session.device.take_unit(4)
        await asyncio.sleep(1)

    events = simulate(run_virtual, "cabinet-72.toml", remove, stock=((unit(4), 4),))
    assert payloads(events, PresenceChanged) == [PresenceChanged(slot=4, present=False)]
    assert payloads(events, TagsChanged) == [
        TagsChanged(antenna="slot-4", arrived=(unit(4).tag_uid,), left=()),  # found at boot
        TagsChanged(antenna="slot-4", arrived=(), left=(unit(4).tag_uid,)),
    ]


def test_slot_insertion_records_presence_and_the_tag_that_arrived(run_virtual) -> None:
    async def insert(session: SimSession) -> None:
        await session.device.locks[9].release()
        session.device.put_unit(unit(9), 9)
        await asyncio.sleep(1)

    events = simulate(run_virtual, "cabinet-72.toml", insert)
    assert payloads(events, PresenceChanged) == [PresenceChanged(slot=9, present=True)]
    assert payloads(events, TagsChanged) == [
        TagsChanged(antenna="slot-9", arrived=(unit(9).tag_uid,), left=())
    ]


def test_fridge_inventory_is_taken_when_the_door_closes(run_virtual) -> None:
    async def restock(session: SimSession) -> None:
        session.device.open_door("door", force=True)
        session.device.take_unit(tag_uid=unit(1).tag_uid)
        session.device.put_unit(unit(2))
        session.device.put_unit(unit(3))
        await asyncio.sleep(30)
        assert payloads(events_so_far, TagsChanged) == [
            TagsChanged(antenna="upper", arrived=(unit(1).tag_uid,), left=())
        ], "only the inventory at boot: nothing is read while the door is open"
        session.device.close_door("door")
        await asyncio.sleep(1)

    events_so_far: list[Event] = []

    async def body() -> list[Event]:
        session = await start_session(
            load_profile(CONFIG / "fridge.toml"), log_events=False, stock=((unit(1), None),)
        )
        session.stream.observe(events_so_far.append)
        await asyncio.sleep(0.5)
        await restock(session)
        await session.stop()
        return events_so_far

    events = run_virtual(body())
    changes = payloads(events, TagsChanged)[1:]
    arrived = {tag for change in changes for tag in change.arrived}
    left = {tag for change in changes for tag in change.left}
    assert arrived == {unit(2).tag_uid, unit(3).tag_uid}
    assert left == {unit(1).tag_uid}
    # the door at boot, opened, closed
    assert [d.open for d in payloads(events, DoorChanged)] == [False, True, False]


def test_power_cut_and_return_are_recorded_and_low_battery_once(run_virtual) -> None:
    async def outage(session: SimSession) -> None:
        session.device.cut_power()
        await asyncio.sleep(60)
        session.device.drain_battery(0.1)
        await asyncio.sleep(60)
        session.device.restore_power()
        await asyncio.sleep(60)

    changes = payloads(simulate(run_virtual, "cabinet-72.toml", outage), PowerChanged)
    assert [(c.on_mains, c.battery_low) for c in changes] == [
        (True, False),  # at boot
        (False, False),
        (False, True),
        (True, True),
    ]


def test_badges_scans_and_garbage_are_recorded(run_virtual) -> None:
    async def readers(session: SimSession) -> None:
        session.device.present_badge("04a1b2c3d4")
        session.device.scan("=A99992600000100")
        session.device.feed_garbage("scanner", b"\x02\x1b[garbage")
        session.device.scan("=<E0336V00")
        await asyncio.sleep(1)

    events = simulate(run_virtual, "cabinet-72.toml", readers)
    assert payloads(events, BadgePresented) == [
        BadgePresented(reader="badge", badge_uid="04A1B2C3D4")
    ]
    assert [s.data for s in payloads(events, BarcodeScanned)] == [
        "=A99992600000100",
        "=<E0336V00",
    ]
    rejected = payloads(events, InputRejected)
    assert len(rejected) == 1
    assert rejected[0].raw == b"\x02\x1b[garbage".hex()


def test_a_door_sensor_that_stops_answering_is_a_fault_then_a_recovery(run_virtual) -> None:
    async def unplug(session: SimSession) -> None:
        session.device.set_connected("main-sensor", connected=False)
        session.device.open_door("main", force=True)
        await asyncio.sleep(2)
        session.device.close_door("main")
        await asyncio.sleep(120)
        session.device.set_connected("main-sensor", connected=True)
        await asyncio.sleep(120)

    events = simulate(run_virtual, "cabinet-72.toml", unplug)
    faults = [f for f in payloads(events, HardwareFault) if f.part == "main-sensor"]
    assert [f.recovered for f in faults] == [False, True]
    assert faults[0].error == "PartNotResponding"


@pytest.mark.parametrize("profile", ["cabinet-72.toml", "fridge.toml", "transport.toml"])
def test_every_shipped_profile_runs_a_simulated_day(run_virtual, profile: str) -> None:
    async def one_day() -> tuple[SimSession, int]:
        session = await start_session(load_profile(CONFIG / profile), log_events=False)
        readings = 0

        def count(event: Event) -> None:
            nonlocal readings
            if isinstance(event.payload, TemperatureSample):
                readings += len(event.payload.probes)

        session.stream.observe(count)
        await asyncio.sleep(86400)
        await session.stop()
        return session, readings

    session, readings = run_virtual(one_day())
    probes = load_profile(CONFIG / profile).probes
    # One sample a tick of each interval's probes, with a reading of each probe.
    ticks = sum(86400 / interval for interval in {probe.interval_s for probe in probes})
    assert session.counts[EventType.TEMPERATURE_SAMPLE] == pytest.approx(ticks, rel=0.001)
    assert readings == pytest.approx(sum(86400 / p.interval_s for p in probes), rel=0.001)
    assert session.counts[EventType.PROBE_FAULT] == 0
    assert session.counts[EventType.AGENT_STOPPING] == 1
