"""The DS18B20 driver against the fake 1-Wire sysfs tree: readings, faults, retries, recovery.

Virtual time: the sysfs read runs in a real thread (the virtual clock waits for it), the
retry backoff costs no wall time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent.hal.errors import PartNotResponding, ReadFailed
from drivers.ds18b20 import Ds18b20Probe
from hal_sim.fakes.w1 import FakeW1Bus

ID = "28-0316a2796eff"


@pytest.fixture
def bus(tmp_path: Path) -> FakeW1Bus:
    return FakeW1Bus(tmp_path / "devices")


def _probe(bus: FakeW1Bus, **kwargs: Any) -> Ds18b20Probe:
    return Ds18b20Probe("air-top", device_id=ID, base_dir=bus.root, **kwargs)


def test_reads_the_temperature_the_probe_converted(bus: FakeW1Bus, run_virtual: Any) -> None:
    fake = bus.add_ds18b20(ID, celsius=4.25)
    probe = _probe(bus)

    async def body() -> None:
        assert await probe.read() == 4.25
        fake.set_temperature(-18.5)
        assert await probe.read() == -18.5
        fake.set_temperature(23.125)
        value = await probe.read()
        assert isinstance(value, float)
        assert value == 23.125

    run_virtual(body())


def test_reads_at_the_configured_resolution(bus: FakeW1Bus, run_virtual: Any) -> None:
    fake = bus.add_ds18b20(ID, celsius=4.3, resolution_bits=9)
    probe = _probe(bus)

    async def body() -> None:
        reading = await probe.read_checked()
        assert reading.resolution_bits == 9
        assert reading.celsius == 4.5
        fake.set_resolution(11)
        fake.set_temperature(4.3)
        assert await probe.read() == 4.25

    run_virtual(body())


def test_a_crc_error_is_read_failed_after_the_retries(bus: FakeW1Bus, run_virtual: Any) -> None:
    fake = bus.add_ds18b20(ID, celsius=4.0)
    fake.corrupt_crc()
    probe = _probe(bus, retries=2, backoff_s=0.1)

    async def body() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReadFailed, match="CRC") as raised:
            await probe.read()
        assert raised.value.part == "air-top"
        assert loop.time() - started == pytest.approx(0.1 + 0.2), "two retries, doubling backoff"

    run_virtual(body())


def test_a_transient_crc_error_is_retried_away(bus: FakeW1Bus, run_virtual: Any) -> None:
    fake = bus.add_ds18b20(ID, celsius=4.0)
    fake.corrupt_crc()
    probe = _probe(bus, retries=2, backoff_s=0.1)

    async def body() -> None:
        reading = asyncio.create_task(probe.read())
        await asyncio.sleep(0.05)  # the first attempt failed; the driver is backing off
        assert not reading.done()
        fake.set_temperature(5.5)
        assert await reading == 5.5

    run_virtual(body())


def test_the_85_degree_power_on_value_is_read_failed(bus: FakeW1Bus, run_virtual: Any) -> None:
    fake = bus.add_ds18b20(ID, celsius=4.0)
    fake.power_on_reset()
    probe = _probe(bus)

    async def body() -> None:
        with pytest.raises(ReadFailed, match="power-on reset"):
            await probe.read()
        fake.set_temperature(4.0)
        assert await probe.read() == 4.0

    run_virtual(body())


@pytest.mark.parametrize(
    ("scratchpad", "why"),
    [
        (bytes(9), "all zeros"),
        (b"\xff" * 9, "CRC mismatch"),
        (bytes.fromhex("10f84b467fff0010"), "outside"),
    ],
)
def test_known_bad_scratchpads_are_read_failed(
    bus: FakeW1Bus, run_virtual: Any, scratchpad: bytes, why: str
) -> None:
    fake = bus.add_ds18b20(ID)
    fake.set_scratchpad(scratchpad)
    probe = _probe(bus, retries=0)

    async def body() -> None:
        with pytest.raises(ReadFailed, match=why):
            await probe.read()

    run_virtual(body())


def test_a_probe_gone_from_the_bus_is_not_responding_then_recovers(
    bus: FakeW1Bus, run_virtual: Any
) -> None:
    fake = bus.add_ds18b20(ID, celsius=3.0)
    probe = _probe(bus, retries=1, backoff_s=0.05)

    async def body() -> None:
        fake.unplug()
        assert not fake.directory.exists()
        with pytest.raises(PartNotResponding, match="not on the bus") as raised:
            await probe.read()
        assert raised.value.part == "air-top"
        fake.set_temperature(3.5)
        fake.replug()
        assert await probe.read() == 3.5

    run_virtual(body())


def test_a_probe_that_returns_during_the_backoff_is_read(bus: FakeW1Bus, run_virtual: Any) -> None:
    fake = bus.add_ds18b20(ID, celsius=3.0)
    fake.unplug()
    probe = _probe(bus, retries=2, backoff_s=0.1)

    async def body() -> None:
        reading = asyncio.create_task(probe.read())
        await asyncio.sleep(0.05)
        fake.replug()
        assert await reading == 3.0

    run_virtual(body())


def test_an_io_error_is_not_responding(tmp_path: Path, run_virtual: Any) -> None:
    device = tmp_path / ID
    (device / "w1_slave").mkdir(parents=True)  # reading a directory: IsADirectoryError
    probe = Ds18b20Probe("air-top", device_id=ID, base_dir=tmp_path, retries=0)

    async def body() -> None:
        with pytest.raises(PartNotResponding):
            await probe.read()

    run_virtual(body())


def test_the_event_loop_keeps_running_while_a_probe_converts(
    bus: FakeW1Bus, run_virtual: Any
) -> None:
    bus.add_ds18b20(ID, celsius=4.0)
    probes = [_probe(bus) for _ in range(4)]

    async def body() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        assert await asyncio.gather(*(p.read() for p in probes)) == [4.0] * 4
        task.cancel()
        assert ticks > 0

    run_virtual(body())


@pytest.mark.parametrize("device_id", ["10-0316a2796eff", "28-0316A2796EFF", "28-123", "../etc"])
def test_a_device_id_that_is_not_a_ds18b20s_is_a_value_error(device_id: str) -> None:
    with pytest.raises(ValueError, match="not a DS18B20 id"):
        Ds18b20Probe("air-top", device_id=device_id)


def test_the_fake_bus_makes_and_removes_its_own_temporary_tree() -> None:
    bus = FakeW1Bus()
    probe = bus.add_ds18b20()
    assert probe.device_id == "28-000000000001"
    assert probe.w1_slave.read_text().endswith("t=4000\n")
    bus.close()
    assert not bus.root.exists()
