"""The PN532 badge reader driver end to end: real pyserial on a pseudo-terminal, the PN532 peer
(hal_sim.fakes.pn532_peer) on the other side, and its faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from agent.hal.errors import PartNotResponding
from agent.hal.parts import BadgeRead, BadgeReader, GarbledInput
from drivers.pn532 import Pn532BadgeReader
from drivers.serial_port import Backoff
from hal_sim.fakes.pn532_peer import Pn532Peer

T = TypeVar("T")

SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_LIST_PASSIVE_TARGET = 0x4A


def run(body: Callable[[Path], Awaitable[None]], tmp_path: Path) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(10):
            await body(tmp_path)

    asyncio.run(bounded())


async def next_of(reads: AsyncIterator[T], timeout_s: float = 2.0) -> T:
    async with asyncio.timeout(timeout_s):
        return await anext(reads)


def reader_for(peer: Pn532Peer, **overrides: object) -> Pn532BadgeReader:
    settings: dict[str, object] = {
        "poll_interval_s": 0.005,
        "answer_timeout_s": 0.1,
        "retries": Backoff(attempts=3, first_s=0.01, max_s=0.02),
        "reopen": Backoff(attempts=3, first_s=0.01, max_s=0.02),
    }
    settings.update(overrides)
    return Pn532BadgeReader("badge", peer.port, **settings)  # type: ignore[arg-type]


def started_peer(tmp_path: Path) -> Pn532Peer:
    peer = Pn532Peer(tmp_path / "ttyPn532")
    peer.start()
    return peer


def test_the_driver_is_a_badge_reader(tmp_path: Path) -> None:
    reader: BadgeReader = Pn532BadgeReader("badge", str(tmp_path / "tty"))
    assert reader.name == "badge"
    with pytest.raises(ValueError, match="removal_polls"):
        Pn532BadgeReader("badge", "/dev/null", removal_polls=0)


def test_wakes_configures_and_reports_a_presented_badge(tmp_path: Path) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        peer.present("04a1b2c3")
        reads = reader_for(peer).reads()
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        assert peer.written.startswith(b"\x55\x55\x00\x00")
        assert bytes.fromhex("0000FF05FBD4140114010200") in peer.written
        assert peer.commands[:3] == [SAM_CONFIGURATION, RF_CONFIGURATION, IN_LIST_PASSIVE_TARGET]
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


def test_a_held_badge_is_reported_once_until_removed(tmp_path: Path) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        peer.present("04112233445566")
        reads = reader_for(peer).reads()
        assert await next_of(reads) == BadgeRead(uid="04112233445566")
        pending = asyncio.create_task(next_of(reads))
        await asyncio.sleep(0.1)
        assert not pending.done(), "a badge left on the reader is not reported again"
        polls = peer.commands.count(IN_LIST_PASSIVE_TARGET)
        peer.remove()
        await peer.wait_for_command(IN_LIST_PASSIVE_TARGET, total=polls + 3)
        peer.present("04112233445566")
        assert await pending == BadgeRead(uid="04112233445566")
        peer.present("04A1B2C3")
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


def test_a_brief_absence_within_removal_polls_is_not_a_removal(tmp_path: Path) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        peer.present("04A1B2C3")
        reads = reader_for(peer, removal_polls=1000).reads()
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        pending = asyncio.create_task(next_of(reads))
        peer.remove()
        await asyncio.sleep(0.05)
        peer.present("04A1B2C3")
        await asyncio.sleep(0.05)
        assert not pending.done()
        peer.present("04DDEEFF")
        assert await pending == BadgeRead(uid="04DDEEFF")
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


def test_a_frame_with_a_bad_checksum_is_garbled_input_and_polling_carries_on(
    tmp_path: Path,
) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        reads = reader_for(peer).reads()
        pending = asyncio.create_task(next_of(reads))
        await peer.wait_for_command(IN_LIST_PASSIVE_TARGET)
        peer.garble_next()
        garbled = await pending
        assert isinstance(garbled, GarbledInput)
        assert garbled.reason == "bad data checksum"
        peer.present("04A1B2C3")
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x12\x34\x56", "bytes outside a frame"),
        (bytes.fromhex("0000FF01FF7F8100"), "PN532 error frame (syntax error)"),
        (bytes.fromhex("0000FF03FFD54B0000"), "bad length checksum"),
    ],
)
def test_noise_and_error_frames_on_the_line_are_garbled_input(
    tmp_path: Path, raw: bytes, reason: str
) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        reads = reader_for(peer).reads()
        pending = asyncio.create_task(next_of(reads))
        await peer.wait_for_command(IN_LIST_PASSIVE_TARGET)
        peer.garble(raw)
        garbled = await pending
        assert isinstance(garbled, GarbledInput)
        assert garbled.reason == reason
        peer.present("04A1B2C3")
        while (event := await next_of(reads)) != BadgeRead(uid="04A1B2C3"):
            assert isinstance(event, GarbledInput)
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


def test_a_silent_pn532_is_part_not_responding_after_bounded_retries(tmp_path: Path) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        peer.present("04A1B2C3")
        reads = reader_for(peer).reads()
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        peer.go_silent()
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(PartNotResponding, match="after 3 tries") as caught:
            await next_of(reads)
        assert caught.value.part == "badge"
        assert loop.time() - began < 2.0
        peer.recover()
        reads = reader_for(peer).reads()
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


def test_a_power_cycle_during_retries_is_recovered_by_waking_the_chip_again(
    tmp_path: Path,
) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        reader = reader_for(peer, retries=Backoff(attempts=10, first_s=0.02, max_s=0.02))
        reads = reader.reads()
        pending = asyncio.create_task(next_of(reads))
        await peer.wait_for_command(IN_LIST_PASSIVE_TARGET)
        peer.go_silent()
        await asyncio.sleep(0.1)
        peer.commands.clear()
        peer.recover()
        peer.present("04A1B2C3")
        assert await pending == BadgeRead(uid="04A1B2C3")
        assert peer.commands[:2] == [SAM_CONFIGURATION, RF_CONFIGURATION]
        await reads.aclose()
        peer.close()

    run(body, tmp_path)


def test_unplugged_reader_is_part_not_responding_and_reads_again_after_replug(
    tmp_path: Path,
) -> None:
    async def body(tmp_path: Path) -> None:
        peer = started_peer(tmp_path)
        peer.present("04A1B2C3")
        reader = reader_for(peer)
        reads = reader.reads()
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        peer.unplug()
        with pytest.raises(PartNotResponding):
            await next_of(reads)
        with pytest.raises(PartNotResponding, match="cannot open"):
            await next_of(reader.reads())
        peer.replug()
        reads = reader.reads()
        assert await next_of(reads) == BadgeRead(uid="04A1B2C3")
        await reads.aclose()
        peer.close()

    run(body, tmp_path)
