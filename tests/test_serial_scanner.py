"""The serial barcode scanner driver end to end: real pyserial on a pseudo-terminal, with the
scanner peer (hal_sim.fakes.scanner_peer) on the other side, and its faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from agent.hal.errors import PartNotResponding
from agent.hal.parts import BarcodeRead, BarcodeScanner, GarbledInput
from drivers.scanner_framing import STX_ETX, Framing
from drivers.serial_port import Backoff
from drivers.serial_scanner import SerialBarcodeScanner
from hal_sim.fakes.scanner_peer import ScannerPeer

T = TypeVar("T")

FAST_REOPEN = Backoff(attempts=4, first_s=0.01, max_s=0.04)


def run(body: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(10):
            await body()

    asyncio.run(bounded())


async def next_of(reads: AsyncIterator[T]) -> T:
    async with asyncio.timeout(2):
        return await anext(reads)


async def started(
    peer: ScannerPeer, scanner: SerialBarcodeScanner
) -> tuple[AsyncIterator[BarcodeRead | GarbledInput], asyncio.Task[BarcodeRead | GarbledInput]]:
    """Start reading and wait until the driver has the port open."""
    reads = scanner.reads()
    first = asyncio.create_task(next_of(reads))
    await peer.wait_open()
    return reads, first


def test_the_driver_is_a_barcode_scanner(tmp_path: Path) -> None:
    scanner: BarcodeScanner = SerialBarcodeScanner("scanner", str(tmp_path / "tty"))
    assert scanner.name == "scanner"


def test_scans_arrive_in_order_framing_removed(tmp_path: Path) -> None:
    async def body() -> None:
        peer = ScannerPeer(tmp_path / "ttyScanner")
        peer.start()
        scanner = SerialBarcodeScanner("scanner", peer.port)
        reads, first = await started(peer, scanner)
        peer.scan("=A99991712345600")
        peer.scan("=%5100")
        peer.scan("=A99991712345600=%5100")
        assert await first == BarcodeRead(data="=A99991712345600")
        assert await next_of(reads) == BarcodeRead(data="=%5100")
        assert await next_of(reads) == BarcodeRead(data="=A99991712345600=%5100")
        await reads.aclose()
        peer.close()

    run(body)


def test_aim_identifiers_and_stx_etx_framing(tmp_path: Path) -> None:
    async def body() -> None:
        peer = ScannerPeer(tmp_path / "ttyScanner", prefix=b"\x02", suffix=b"\x03", aim=True)
        peer.start()
        framing = Framing(prefix=STX_ETX.prefix, suffix=STX_ETX.suffix, aim=True)
        scanner = SerialBarcodeScanner("scanner", peer.port, framing=framing)
        reads, first = await started(peer, scanner)
        peer.scan("=A99991712345600", symbology="]C0")
        peer.scan("=<E0336V00", symbology="]d2")
        assert await first == BarcodeRead(data="=A99991712345600", symbology="]C0")
        assert await next_of(reads) == BarcodeRead(data="=<E0336V00", symbology="]d2")
        await reads.aclose()
        peer.close()

    run(body)


def test_garbage_is_garbled_input_and_the_stream_carries_on(tmp_path: Path) -> None:
    async def body() -> None:
        peer = ScannerPeer(tmp_path / "ttyScanner")
        peer.start()
        scanner = SerialBarcodeScanner("scanner", peer.port)
        reads, first = await started(peer, scanner)
        peer.garble(b"\xff\xfe\x80\r")
        peer.garble(b"x" * 600 + b"\r")
        peer.scan("=A99991712345600")
        assert await first == GarbledInput(reason="not printable ASCII", raw=b"\xff\xfe\x80")
        over_long = await next_of(reads)
        assert isinstance(over_long, GarbledInput)
        assert over_long.reason == "over-long line"
        assert await next_of(reads) == BarcodeRead(data="=A99991712345600")
        await reads.aclose()
        peer.close()

    run(body)


def test_unplugged_mid_line_yields_the_partial_line_then_part_not_responding(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        peer = ScannerPeer(tmp_path / "ttyScanner")
        peer.start()
        scanner = SerialBarcodeScanner("scanner", peer.port, reopen=FAST_REOPEN)
        reads, first = await started(peer, scanner)
        peer.scan("=A99991712345600")
        assert await first == BarcodeRead(data="=A99991712345600")
        peer.garble(b"=A9999")
        await asyncio.sleep(0.02)
        peer.unplug()
        assert await next_of(reads) == GarbledInput(
            reason="frame cut off by end of stream", raw=b"=A9999"
        )
        with pytest.raises(PartNotResponding) as caught:
            await next_of(reads)
        assert caught.value.part == "scanner"
        peer.close()

    run(body)


def test_reads_again_after_replug_recovers(tmp_path: Path) -> None:
    async def body() -> None:
        peer = ScannerPeer(tmp_path / "ttyScanner")
        peer.start()
        scanner = SerialBarcodeScanner("scanner", peer.port, reopen=FAST_REOPEN)
        reads, first = await started(peer, scanner)
        peer.unplug()
        with pytest.raises(PartNotResponding):
            await first
        peer.replug()
        reads, first = await started(peer, scanner)
        peer.scan("=%5100")
        assert await first == BarcodeRead(data="=%5100")
        await reads.aclose()
        peer.close()

    run(body)


def test_reopen_retries_with_backoff_until_the_scanner_is_back(tmp_path: Path) -> None:
    async def body() -> None:
        peer = ScannerPeer(tmp_path / "ttyScanner")
        peer.start()
        peer.unplug()
        scanner = SerialBarcodeScanner(
            "scanner", peer.port, reopen=Backoff(attempts=20, first_s=0.01, max_s=0.02)
        )
        reads = scanner.reads()
        first = asyncio.create_task(next_of(reads))
        await asyncio.sleep(0.05)
        assert not first.done()
        peer.replug()
        await peer.wait_open()
        peer.scan("back")
        assert await first == BarcodeRead(data="back")
        await reads.aclose()
        peer.close()

    run(body)


def test_reopen_gives_up_after_bounded_retries(tmp_path: Path) -> None:
    async def body() -> None:
        scanner = SerialBarcodeScanner("scanner", str(tmp_path / "missing"), reopen=FAST_REOPEN)
        began = time.monotonic()
        with pytest.raises(PartNotResponding, match="after 4 attempts"):
            await next_of(scanner.reads())
        assert time.monotonic() - began < 1.0

    run(body)
