"""The CR95HF ISO 15693 reader driver end to end: real pyserial on a pseudo-terminal, the
CR95HF peer (hal_sim.fakes.cr95hf_peer) with tags per antenna on the other side, and faults."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.hal.errors import PartNotResponding, ReadFailed
from agent.hal.parts import RfidReader
from agent.hal.tag_data import TagData, decode_tag_data, encode_tag_data
from drivers.iso15693_reader import Cr95hfRfidReader
from drivers.serial_port import Backoff
from hal_sim.fakes.cr95hf_peer import Cr95hfPeer

ANTENNAS = ("slot-1", "slot-2", "fridge")
UID = "E004010012345678"
FAST = Backoff(attempts=3, first_s=0.01, max_s=0.02)


def run(body: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(15):
            await body()

    asyncio.run(bounded())


@asynccontextmanager
async def rig(
    tmp_path: Path, **overrides: object
) -> AsyncIterator[tuple[Cr95hfPeer, Cr95hfRfidReader]]:
    peer = Cr95hfPeer(tmp_path / "ttyRfid", ANTENNAS)
    peer.start()
    settings: dict[str, object] = {
        "antennas": ANTENNAS,
        "select_antenna": peer.select_antenna,
        "answer_timeout_s": 0.1,
        "retries": FAST,
        "reopen": FAST,
    }
    settings.update(overrides)
    reader = Cr95hfRfidReader("rfid", peer.port, **settings)  # type: ignore[arg-type]
    try:
        yield peer, reader
    finally:
        await reader.close()
        peer.close()


def test_the_driver_is_an_rfid_reader(tmp_path: Path) -> None:
    reader: RfidReader = Cr95hfRfidReader("rfid", str(tmp_path / "tty"))
    assert reader.antennas == ("antenna",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"antennas": ()}, "distinct"),
        ({"antennas": ("a", "a"), "select_antenna": object()}, "distinct"),
        ({"antennas": ("a", "b")}, "select_antenna"),
        ({"data_blocks": 0}, "data_blocks"),
    ],
)
def test_impossible_configurations_are_value_errors(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Cr95hfRfidReader("rfid", str(tmp_path / "tty"), **kwargs)  # type: ignore[arg-type]


def test_unknown_antenna_is_a_value_error(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (_, reader):
            with pytest.raises(ValueError, match="no antenna"):
                await reader.inventory("slot-99")
            with pytest.raises(ValueError, match="no antenna"):
                await reader.read_tag_data("slot-99", UID)

    run(body)


def test_inventory_reads_each_antennas_tags_through_the_multiplexer(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            assert await reader.inventory("slot-1") == frozenset()
            assert reader.identity == "NFC FS2JAST4"
            peer.put_tag("slot-2", UID)
            assert await reader.inventory("slot-2") == {UID}
            assert await reader.inventory("slot-2") == {UID}
            assert await reader.inventory("slot-1") == frozenset()
            assert peer.selections == ["slot-1", "slot-2", "slot-1"]
            assert bytes.fromhex("02020105") in peer.written
            assert bytes.fromhex("0403260100") in peer.written

    run(body)


def test_a_single_antenna_reader_needs_no_multiplexer(tmp_path: Path) -> None:
    async def body() -> None:
        peer = Cr95hfPeer(tmp_path / "ttyRfid", ["box"])
        peer.start()
        peer.put_tag("box", UID)
        reader = Cr95hfRfidReader("rfid", peer.port, answer_timeout_s=0.1, retries=FAST)
        assert await reader.inventory("antenna") == {UID}
        await reader.close()
        peer.close()

    run(body)


def uids_with_colliding_nibbles(count: int, seed: int) -> set[str]:
    rng = random.Random(seed)
    uids = {f"E00401{rng.getrandbits(40):010X}" for _ in range(count)}
    # Tags sharing their low 12 bits force the anticollision three levels deep.
    uids |= {f"E0040{i:01X}0000000ABC" for i in range(1, 5)}
    uids |= {"E004010000000001", "E004010000000011", "E004010000000101"}
    return uids


@pytest.mark.parametrize("collision_code", [None, 0x88, 0x8E, 0x86])
def test_many_tags_are_resolved_by_16_slot_anticollision(
    tmp_path: Path, collision_code: int | None
) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.collision_code = collision_code
            uids = uids_with_colliding_nibbles(40, seed=7)
            for uid in uids:
                peer.put_tag("fridge", uid)
            peer.put_tag("slot-1", UID)
            assert await reader.inventory("fridge") == uids
            assert bytes.fromhex("060100") in peer.requests
            assert any(frame[:3] == bytes.fromhex("06010C") for frame in peer.requests)

    run(body)


def test_two_tags_whose_answers_overlap_are_both_found(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", "E004010000000001")
            peer.put_tag("slot-1", "E004010000000002")
            assert await reader.inventory("slot-1") == {"E004010000000001", "E004010000000002"}

    run(body)


def test_a_field_that_never_settles_is_read_failed(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path, max_rounds=2) as (peer, reader):
            peer.fail_next(0x86, times=10_000)
            with pytest.raises(ReadFailed, match="did not settle in 2 rounds"):
                await reader.inventory("fridge")

    run(body)


def test_read_tag_data_reads_the_din_blocks(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID, encode_tag_data("A999917123456", "00"))
            memory = await reader.read_tag_data("slot-1", UID)
            assert len(memory) == 16
            assert decode_tag_data(memory) == TagData(din="A999917123456", flags="00")
            assert bytes.fromhex("2223") + bytes.fromhex(UID)[::-1] + b"\x00\x03" in (peer.requests)

    run(body)


def test_read_tag_data_of_an_absent_tag_is_read_failed(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-2", UID)
            with pytest.raises(ReadFailed, match="did not answer"):
                await reader.read_tag_data("slot-1", UID)
            assert await reader.read_tag_data("slot-2", UID) == bytes(16)

    run(body)


def test_a_tag_error_is_read_failed_at_once(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path, data_blocks=64) as (peer, reader):
            peer.put_tag("slot-1", UID, blocks=28)
            sent = len(peer.requests)
            with pytest.raises(ReadFailed, match="BLOCK_NOT_AVAILABLE"):
                await reader.read_tag_data("slot-1", UID)
            assert len(peer.requests) == sent + 1

    run(body)


def test_corruption_the_chip_misses_is_caught_by_the_iso15693_crc(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            data = encode_tag_data("A999917123456", "00")
            peer.put_tag("slot-1", UID, data)
            peer.corrupt_next()
            assert await reader.inventory("slot-1") == {UID}
            peer.corrupt_next()
            assert await reader.read_tag_data("slot-1", UID) == data

    run(body)


@pytest.mark.parametrize("code", [0x86, 0x88, 0x8E, 0x83])
def test_error_results_are_retried(tmp_path: Path, code: int) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            data = encode_tag_data("A999917123456", "00")
            peer.put_tag("slot-1", UID, data)
            peer.fail_next(code)
            assert await reader.read_tag_data("slot-1", UID) == data

    run(body)


def test_errors_that_persist_are_read_failed(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID)
            peer.fail_next(0x86, times=3)
            with pytest.raises(ReadFailed, match="reception error 0x86"):
                await reader.read_tag_data("slot-1", UID)
            assert await reader.read_tag_data("slot-1", UID) == bytes(16)

    run(body)


def test_garbage_on_the_uart_is_retried(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID)
            assert await reader.inventory("slot-1") == {UID}
            peer.garble_next()
            assert await reader.inventory("slot-1") == {UID}

    run(body)


def test_a_silent_reader_is_part_not_responding_then_recovers(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID)
            assert await reader.inventory("slot-1") == {UID}
            peer.go_silent()
            loop = asyncio.get_running_loop()
            began = loop.time()
            with pytest.raises(PartNotResponding) as caught:
                await reader.inventory("slot-1")
            assert caught.value.part == "rfid"
            assert loop.time() - began < 2.0
            peer.recover()
            before = peer.written.count(bytes.fromhex("02020105"))
            assert await reader.inventory("slot-1") == {UID}
            assert peer.written.count(bytes.fromhex("02020105")) == before + 1

    run(body)


def test_a_power_cycle_between_calls_is_recovered_within_the_retries(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID)
            assert await reader.inventory("slot-1") == {UID}
            peer.recover()
            assert await reader.inventory("slot-1") == {UID}

    run(body)


def test_unplugged_reader_is_part_not_responding_until_replugged(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID)
            assert await reader.inventory("slot-1") == {UID}
            peer.unplug()
            with pytest.raises(PartNotResponding):
                await reader.inventory("slot-1")
            with pytest.raises(PartNotResponding, match="cannot open"):
                await reader.inventory("slot-1")
            peer.replug()
            assert await reader.inventory("slot-1") == {UID}

    run(body)


def test_calls_are_serialised_on_the_one_transceiver(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            peer.put_tag("slot-1", UID)
            peer.put_tag("slot-2", "E004010000000002")
            results = await asyncio.gather(
                reader.inventory("slot-1"),
                reader.inventory("slot-2"),
                reader.read_tag_data("slot-1", UID),
            )
            assert results == [{UID}, {"E004010000000002"}, bytes(16)]

    run(body)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    uids=st.sets(
        st.integers(0, 2**64 - 1).map(lambda n: f"{n:016X}")
        | st.integers(0, 2**16 - 1).map(lambda n: f"E0040100000{n:05X}"),
        max_size=24,
    )
)
def test_inventory_finds_exactly_the_tags_in_the_field(tmp_path: Path, uids: set[str]) -> None:
    async def body() -> None:
        async with rig(tmp_path) as (peer, reader):
            for uid in uids:
                peer.put_tag("fridge", uid)
            assert await reader.inventory("fridge") == uids

    run(body)
