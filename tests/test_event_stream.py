"""The event stream: identity, time facts, the durable sink before the observers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from agent.events import MAX_SEQUENCE, Event, RecordId, TemperatureSample
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable


class FixedClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.synced = False

    def monotonic(self) -> float:
        return self.now

    def wall_ns(self) -> int:
        return 1_700_000_000_000_000_000 + int(self.now * 1e9)

    def synchronised(self) -> bool:
        return self.synced


class RecordingSink:
    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.events: list[Event] = []

    async def append(self, event: Event) -> None:
        await asyncio.sleep(0)
        self.order.append(f"sink {event.id.sequence}")
        self.events.append(event)

    async def append_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.append(event)


def test_events_get_identity_and_time_and_reach_the_sink_before_observers() -> None:
    order: list[str] = []
    clock = FixedClock()
    sink = RecordingSink(order)
    stream = EventStream(device_id="cab-1", boot_epoch=7, clock=clock, sink=sink, first_sequence=41)
    stream.observe(lambda event: order.append(f"observer {event.id.sequence}"))

    async def body() -> list[Event]:
        first = await stream.record(TemperatureSample(probes=("air",), celsius=(4.1,)))
        clock.now = 101.5
        clock.synced = True
        second = await stream.record(TemperatureSample(probes=("air",), celsius=(4.2,)))
        return [first, second]

    first, second = asyncio.run(body())
    assert first.id == RecordId("cab-1", 7, 41)
    assert second.id == RecordId("cab-1", 7, 42)
    assert second.monotonic_ns - first.monotonic_ns == 1_500_000_000
    assert second.wall_ns - first.wall_ns == 1_500_000_000
    assert (first.clock_synchronised, second.clock_synchronised) == (False, True)
    assert order == ["sink 41", "observer 41", "sink 42", "observer 42"]
    assert sink.events == [first, second]


def test_a_failing_observer_is_dropped_and_recording_goes_on() -> None:
    seen: list[int] = []

    def broken(event: Event) -> None:
        raise RuntimeError("display gone")

    stream = EventStream(device_id="cab-1", boot_epoch=1, clock=FixedClock())
    stream.observe(broken)
    stream.observe(lambda event: seen.append(event.id.sequence))

    async def body() -> None:
        for _ in range(3):
            await stream.record(TemperatureSample(probes=("air",), celsius=(4.0,)))

    asyncio.run(body())
    assert seen == [0, 1, 2]


def test_a_failing_sink_fails_the_record_tells_the_alarm_and_no_observer() -> None:
    class FullDisk:
        async def append(self, event: Event) -> None:
            raise SinkUnavailable(f"no space left on device for {event.id}")

        async def append_many(self, events: Sequence[Event]) -> None:
            raise SinkUnavailable(f"no space left on device for {len(events)} events")

    seen: list[Event] = []
    alarms: list[str] = []
    stream = EventStream(device_id="cab-1", boot_epoch=1, clock=FixedClock(), sink=FullDisk())
    stream.observe(seen.append)
    stream.on_sink_failure(lambda error: alarms.append(str(error)))
    with pytest.raises(SinkUnavailable, match="no space"):
        asyncio.run(stream.record(TemperatureSample(probes=("air",), celsius=(4.0,))))
    with pytest.raises(SinkUnavailable, match="2 events"):
        asyncio.run(stream.record_many([TemperatureSample(probes=("air",), celsius=(4.0,))] * 2))
    assert seen == [], "an event that is not durable is not shown as recorded"
    assert len(alarms) == 2


@pytest.mark.parametrize(
    ("device", "epoch", "sequence"), [("", 1, 0), ("d", -1, 0), ("d", 1, -1), ("d", 1, 2**64)]
)
def test_record_ids_reject_impossible_values(device: str, epoch: int, sequence: int) -> None:
    with pytest.raises(ValueError, match="must"):
        RecordId(device, epoch, sequence)
    assert RecordId("d", 0, MAX_SEQUENCE).sequence == MAX_SEQUENCE


def test_a_temperature_sample_is_one_reading_of_each_probe_of_its_tick() -> None:
    sample = TemperatureSample(("air-top", "product-top"), (4.1, 3.9))
    assert list(sample.readings()) == [("air-top", 4.1), ("product-top", 3.9)]
    with pytest.raises(ValueError, match="at least one"):
        TemperatureSample((), ())
    with pytest.raises(ValueError, match="one reading per probe"):
        TemperatureSample(("air-top", "product-top"), (4.1,))
    with pytest.raises(ValueError, match="at most once"):
        TemperatureSample(("air-top", "air-top"), (4.1, 4.2))
