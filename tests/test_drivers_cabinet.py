"""A whole simulated 72-slot cabinet on the real drivers over the bus-level fakes: the agent
runs on the ``drivers_sim`` backend and every kind of part reaches it through its real driver
(TMP117 and DS18B20 probes, MCP23017 presence inputs on interrupt lines, the CR95HF behind its
antenna multiplexer, the serial scanner, the PN532, the INA219), including a part unplugged
mid-run. Real time: a few seconds."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from agent.config import load_profile
from agent.events import (
    BadgePresented,
    BarcodeScanned,
    Event,
    HardwareFault,
    PresenceChanged,
    TagsChanged,
    TemperatureSample,
)
from agent.hal.tag_data import decode_tag_data
from agent.runtime.agent import Agent
from agent.runtime.backends import make_backend
from agent.runtime.stream import EventStream
from hal_sim.clock import SimClock
from hal_sim.driven_device import DrivenDevice
from hal_sim.units import SimUnit

CONFIG = Path(__file__).resolve().parent.parent / "config"

UNIT = SimUnit(
    din="A999926000012",
    flags="00",
    blood_group="5100",
    product_code="E0336V00",
    expiry=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    tag_uid="E0040150A1B2C3D4",
)


async def _until(
    events: list[Event], found: Callable[[Event], bool], timeout_s: float = 5.0
) -> Event:
    async with asyncio.timeout(timeout_s):
        while True:
            match = next((event for event in events if found(event)), None)
            if match is not None:
                return match
            await asyncio.sleep(0.02)


def test_a_whole_cabinet_runs_on_the_real_drivers_over_the_fakes() -> None:
    async def body() -> None:
        profile = load_profile(CONFIG / "cabinet-72-drivers.toml")
        probes = tuple(dataclasses.replace(p, interval_s=0.25) for p in profile.probes)
        profile = dataclasses.replace(profile, backend="drivers_sim", probes=probes)
        loop = asyncio.get_running_loop()
        clock = SimClock(loop, wall_epoch_ns=1_767_600_000 * 10**9)
        device = make_backend(profile, clock)
        assert isinstance(device, DrivenDevice)
        stream = EventStream(device_id=profile.device.id, boot_epoch=1, clock=clock)
        events: list[Event] = []
        stream.observe(events.append)
        stop: asyncio.Future[str] = loop.create_future()
        agent = loop.create_task(
            Agent(profile=profile, backend=device, clock=clock, stream=stream).run(stop)
        )

        def payload_is(kind: type, **fields: object) -> Callable[[Event], bool]:
            return lambda event: (
                isinstance(event.payload, kind)
                and all(getattr(event.payload, key) == value for key, value in fields.items())
            )

        try:
            # TMP117s in the air, DS18B20s in the product bottles: all read in each tick.
            names = tuple(probe.name for probe in profile.probes)
            found = await _until(events, payload_is(TemperatureSample, probes=names))
            sample = found.payload
            assert isinstance(sample, TemperatureSample)
            assert all(1.0 < celsius < 7.0 for celsius in sample.celsius)

            device.put_unit(UNIT, 12, force=True)
            await _until(events, payload_is(PresenceChanged, slot=12, present=True))
            tags = (await _until(events, payload_is(TagsChanged, antenna="slot-12"))).payload
            assert isinstance(tags, TagsChanged)
            assert tags.arrived == (UNIT.tag_uid,)
            rfid = device.hardware.rfid
            assert rfid is not None
            memory = await rfid.read_tag_data("slot-12", UNIT.tag_uid)
            assert decode_tag_data(memory).din == UNIT.din

            device.scan("=A99992600001200")
            await _until(events, payload_is(BarcodeScanned, data="=A99992600001200"))
            device.present_badge("04a1b2c3")
            await _until(events, payload_is(BadgePresented, badge_uid="04A1B2C3"))

            device.set_connected("power", connected=False)  # the UPS board's INA219 NACKs
            fault = (await _until(events, payload_is(HardwareFault, part="power"))).payload
            assert isinstance(fault, HardwareFault)
            assert (fault.error, fault.recovered) == ("PartNotResponding", False)
            device.set_connected("power", connected=True)
            await _until(events, payload_is(HardwareFault, part="power", recovered=True))
        finally:
            stop.set_result("test over")
            await agent
        assert all(latch.locked for latch in device.fakes.latches.values()), (
            "stopping the backend leaves every solenoid de-energised"
        )

    asyncio.run(body())
