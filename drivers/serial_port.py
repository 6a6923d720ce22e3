"""A serial port as the drivers use it: open with bounded, jittered retries, bytes in and out,
every failure of the port reported as a HAL error.

pyserial (through pyserial-asyncio-fast) moves the bytes; the framing of each part lives in its
own pure module (``scanner_framing``, ``pn532_frames``, ``cr95hf_frames``), as pyserial's
``Packetizer`` keeps framing apart from transport. This module keeps the HAL's rule for ports:
a port that cannot be opened, that reports an error, or that reaches end of file (a USB adapter
pulled out) is :class:`~agent.hal.errors.PartNotResponding` naming the part; the link is then
closed and the next :meth:`SerialLink.open` tries again. Nothing here blocks the event loop:
pyserial opens and closes the device in the loop's executor, and waits are ``asyncio.sleep``.

``port`` is a device path (``/dev/ttyUSB0``, a stable ``/dev/serial/by-id/...`` link, or a
pseudo-terminal in tests) or any pyserial URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

import serial_asyncio_fast

from agent.hal.errors import PartNotResponding

__all__ = ["Backoff", "PortSettings", "SerialLink"]

_READ_CHUNK = 1024


@dataclass(frozen=True, slots=True)
class PortSettings:
    """Where the part is and how its UART is set (pyserial's names and meanings)."""

    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


@dataclass(frozen=True, slots=True)
class Backoff:
    """Bounded retries: ``attempts`` tries in all, waiting ``first_s`` after the first failure,
    doubling up to ``max_s``, each wait stretched by up to ``jitter`` (a fraction) so that
    several parts recovering together do not retry in step."""

    attempts: int = 5
    first_s: float = 0.2
    max_s: float = 5.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.first_s < 0 or self.max_s < self.first_s:
            raise ValueError(f"need 0 <= first_s <= max_s, got {self.first_s}, {self.max_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within 0-1, got {self.jitter}")

    def delay_s(self, failures: int) -> float:
        """The wait after ``failures`` consecutive failures (1 for the first)."""
        base: float = min(self.max_s, self.first_s * 2.0 ** max(0, failures - 1))
        return base * (1 + self.jitter * random.random())

    async def wait(self, failures: int) -> None:
        await asyncio.sleep(self.delay_s(failures))


class SerialLink:
    """One serial port of one part. Not shared: each driver owns its link."""

    def __init__(self, part: str, settings: PortSettings, backoff: Backoff) -> None:
        self.part = part
        self.settings = settings
        self.backoff = backoff
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None and not self._writer.transport.is_closing()

    async def open(self) -> None:
        """Open the port, retrying as ``backoff`` allows; :class:`PartNotResponding` if every
        attempt fails. Opening an open link does nothing."""
        if self.is_open:
            return
        await self.close()
        last: OSError | None = None
        for attempt in range(1, self.backoff.attempts + 1):
            try:
                self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                    url=self.settings.port,
                    baudrate=self.settings.baudrate,
                    bytesize=self.settings.bytesize,
                    parity=self.settings.parity,
                    stopbits=self.settings.stopbits,
                )
            except OSError as exc:  # serial.SerialException is an OSError
                last = exc
                if attempt < self.backoff.attempts:
                    await self.backoff.wait(attempt)
            else:
                return
        raise PartNotResponding(
            self.part,
            f"cannot open {self.settings.port} after {self.backoff.attempts} attempts: {last}",
        )

    async def write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            await self.close()
            raise PartNotResponding(self.part, f"{self.settings.port} is not open")
        try:
            writer.write(data)
            await writer.drain()
        except OSError as exc:
            await self.close()
            raise PartNotResponding(
                self.part, f"write to {self.settings.port} failed: {exc}"
            ) from exc

    async def read_some(self, timeout_s: float | None = None) -> bytes:
        """The bytes that arrived, at least one; :class:`TimeoutError` if none came within
        ``timeout_s`` (``None``: wait as long as it takes)."""
        reader = self._reader
        if reader is None:
            raise PartNotResponding(self.part, f"{self.settings.port} is not open")
        try:
            async with asyncio.timeout(timeout_s):
                data = await reader.read(_READ_CHUNK)
        except TimeoutError:  # an OSError too, but the port is fine: the part is quiet
            raise
        except OSError as exc:
            await self.close()
            raise PartNotResponding(self.part, f"{self.settings.port} failed: {exc}") from exc
        if not data:
            await self.close()
            raise PartNotResponding(self.part, f"{self.settings.port} closed (unplugged?)")
        return data

    async def close(self) -> None:
        """Close the port if open; never raises (the port may already be gone)."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
