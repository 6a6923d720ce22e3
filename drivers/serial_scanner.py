"""A barcode scanner on a serial port (RS-232, or USB in its CDC-ACM / virtual COM mode).

Part: any serial barcode scanner configured to send each scan as a framed ASCII line (suffix
CR, CRLF, or STX/ETX framing; optionally an AIM symbology identifier per ISO/IEC 15424), as
handheld and fixed-mount scanners all can. Document followed: the scanner's own programming
guide for the framing, and ISO/IEC 15424 for symbology identifiers; the framing itself is the
pure :mod:`drivers.scanner_framing`.

Keeps the :class:`~agent.hal.parts.BarcodeScanner` obligations: ``reads()`` yields each scan
once, in order; undecodable input is yielded as :class:`~agent.hal.parts.GarbledInput` and the
stream carries on; a port that fails or disappears (USB scanner unplugged) raises
:class:`~agent.hal.errors.PartNotResponding` from the iterator, after yielding any partial line
it was holding as garbled input. The caller may call ``reads()`` again: it reopens the port with
bounded retries and backoff (``reopen``), so a scanner plugged back in is picked up, and a
scanner still missing is ``PartNotResponding`` again once the retries are spent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from agent.hal.errors import PartNotResponding
from agent.hal.parts import BarcodeRead, GarbledInput
from drivers.scanner_framing import CR, Framing, ScanDecoder
from drivers.serial_port import Backoff, PortSettings, SerialLink

__all__ = ["REOPEN", "SerialBarcodeScanner"]

REOPEN = Backoff()
"""The default retries for (re)opening the port: 5 attempts over about 3 seconds."""


class SerialBarcodeScanner:
    """A :class:`~agent.hal.parts.BarcodeScanner` on ``port``."""

    def __init__(
        self,
        name: str,
        port: str,
        *,
        framing: Framing = CR,
        baudrate: int = 9600,
        reopen: Backoff = REOPEN,
    ) -> None:
        self.name = name
        self.framing = framing
        self._settings = PortSettings(port=port, baudrate=baudrate)
        self._reopen = reopen

    async def reads(self) -> AsyncIterator[BarcodeRead | GarbledInput]:
        link = SerialLink(self.name, self._settings, self._reopen)
        decoder = ScanDecoder(self.framing)
        await link.open()
        try:
            while True:
                while (event := decoder.next_event()) is not None:
                    yield event
                try:
                    data = await link.read_some()
                except PartNotResponding:
                    decoder.close()
                    while (event := decoder.next_event()) is not None:
                        yield event
                    raise
                decoder.receive_data(data)
        finally:
            await link.close()
