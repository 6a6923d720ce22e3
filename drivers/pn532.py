"""Badge reader: an NXP PN532 on its HSU (UART) host interface, polling for ISO/IEC 14443 type A
staff cards.

Document followed: NXP UM0701-02 "PN532 User Manual" rev. 02 - section 6.2 (frames, ACK as
abort), the HSU wake-up condition, and the commands SAMConfiguration (7.2.10), RFConfiguration
(7.3.1, CfgItem 5 "MaxRetries") and InListPassiveTarget (7.3.5, 106 kbps type A). Framing is the
pure :mod:`drivers.pn532_frames`.

What the driver does: opens the port (bounded retries, ``reopen``); wakes the PN532 with the HSU
wake-up sequence; sends SAMConfiguration (normal mode: required as the first command after
power-up, which leaves the PN532 in its low-battery mode) and RFConfiguration MaxRetries with
one passive-activation retry, so that InListPassiveTarget answers "no target" at once instead
of waiting for a card; then polls InListPassiveTarget (one target, 106 kbps type A) every
``poll_interval_s``.

The iterator polls while its consumer waits for the next read (no background task): a badge
presented and taken away while nobody iterates is not seen, as nobody was there to badge in.

Keeps the :class:`~agent.hal.parts.BadgeReader` obligations:

* a badge is yielded once as :class:`~agent.hal.parts.BadgeRead` (NFCID1 in upper-case
  hexadecimal) when it arrives, and again only after it has been away for ``removal_polls``
  consecutive polls (one missed poll is RF flicker, not a removal);
* a frame with a bad LCS or DCS, bytes outside frames, an error frame or a malformed response
  are yielded as :class:`~agent.hal.parts.GarbledInput` and polling carries on;
* a PN532 that does not answer (no ACK or no response within ``answer_timeout_s``) is sent an
  ACK (which aborts a pending command), woken and configured again, and asked again, up to
  ``retries.attempts`` tries with backoff; then ``reads()`` raises
  :class:`~agent.hal.errors.PartNotResponding`, as it does when the port fails (USB adapter
  unplugged). The caller may call ``reads()`` again: it reopens and re-initialises the part.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agent.hal.errors import PartNotResponding
from agent.hal.parts import BadgeRead, GarbledInput
from drivers.pn532_frames import (
    ACK,
    ERROR_FRAME,
    NACK,
    WAKE_UP,
    Ack,
    Command,
    ErrorFrame,
    Event,
    FrameDecoder,
    Garbled,
    InformationFrame,
    Nack,
    Tfi,
    encode_command,
    parse_in_list_passive_target,
)
from drivers.serial_port import Backoff, PortSettings, SerialLink

__all__ = ["REOPEN", "RETRIES", "Pn532BadgeReader"]

REOPEN = Backoff()
"""Default retries for (re)opening the port."""
RETRIES = Backoff(attempts=3, first_s=0.1, max_s=1.0)
"""Default tries of one exchange with a silent PN532 before it counts as not responding."""

SAM_NORMAL_MODE = bytes([0x01, 0x14, 0x01])
"""SAMConfiguration: normal mode (no SAM), virtual-card timeout 20 x 50 ms, use P70_IRQ."""
MAX_RETRIES_ONE_ACTIVATION = bytes([0x05, 0xFF, 0x01, 0x01])
"""RFConfiguration CfgItem 5: MxRtyATR 0xFF (default), MxRtyPSL 1 (default),
MxRtyPassiveActivation 1 instead of 0xFF (wait forever)."""
ONE_TARGET_106_TYPE_A = bytes([0x01, 0x00])
"""InListPassiveTarget: MaxTg 1, BrTy 0 (106 kbps type A)."""


class _NoUsableAnswer(Exception):
    """The PN532 answered the wake-up configuration with garbage."""


class _Session:
    """One open port to the PN532: exchanges commands, collects garbled input."""

    def __init__(self, reader: Pn532BadgeReader, link: SerialLink) -> None:
        self.reader = reader
        self.link = link
        self.decoder = FrameDecoder()
        self.garbled: list[GarbledInput] = []
        self.ready = False

    async def transact(self, command: Command, params: bytes) -> bytes | None:
        """The response data (from its response code on), ``None`` if it was garbled;
        retries a silent PN532, then :class:`PartNotResponding`."""
        retries = self.reader.retries
        for attempt in range(1, retries.attempts + 1):
            try:
                if not self.ready:
                    await self._wake()
                return await self.exchange(command, params)
            except (TimeoutError, _NoUsableAnswer):
                self.ready = False
                await self.link.write(ACK)
                self._flush()
                if attempt < retries.attempts:
                    await retries.wait(attempt)
        raise PartNotResponding(
            self.reader.name, f"no usable answer to {command.name} after {retries.attempts} tries"
        )

    async def _wake(self) -> None:
        await self.link.write(WAKE_UP)
        for command, params in (
            (Command.SAM_CONFIGURATION, SAM_NORMAL_MODE),
            (Command.RF_CONFIGURATION, MAX_RETRIES_ONE_ACTIVATION),
        ):
            if await self.exchange(command, params) is None:
                raise _NoUsableAnswer
        self.ready = True

    async def exchange(self, command: Command, params: bytes) -> bytes | None:
        """Send one command; wait for its ACK, then its response. ``TimeoutError`` if either
        does not come within the answer timeout."""
        self._flush()
        await self.link.write(encode_command(command, params))
        timeout = self.reader.answer_timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        acked = False
        while True:
            event = await self._next_event(deadline)
            if isinstance(event, Ack):
                acked, deadline = True, loop.time() + timeout
            elif isinstance(event, InformationFrame):
                if event.tfi is Tfi.PN532_TO_HOST and event.data[:1] == bytes(
                    [command.response_code]
                ):
                    return event.data
            else:
                self.garbled.append(_as_garbled(event))
                if acked or isinstance(event, ErrorFrame):
                    return None

    async def _next_event(self, deadline: float) -> Event:
        loop = asyncio.get_running_loop()
        while (event := self.decoder.next_event()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            self.decoder.receive_data(await self.link.read_some(remaining))
        return event

    def _flush(self) -> None:
        """Whatever is left over from an earlier exchange is reported, not mistaken for an
        answer to the next one."""
        self.decoder.flush()
        while (event := self.decoder.next_event()) is not None:
            if not isinstance(event, Ack | InformationFrame):
                self.garbled.append(_as_garbled(event))

    def take_garbled(self) -> list[GarbledInput]:
        garbled, self.garbled = self.garbled, []
        return garbled


def _as_garbled(event: ErrorFrame | Nack | Garbled) -> GarbledInput:
    if isinstance(event, ErrorFrame):
        return GarbledInput("PN532 error frame (syntax error)", ERROR_FRAME)
    if isinstance(event, Nack):
        return GarbledInput("NACK from the PN532", NACK)
    return GarbledInput(event.reason, event.raw)


class Pn532BadgeReader:
    """A :class:`~agent.hal.parts.BadgeReader`: a PN532 on serial port ``port`` (HSU,
    115200 baud by default)."""

    def __init__(
        self,
        name: str,
        port: str,
        *,
        baudrate: int = 115200,
        poll_interval_s: float = 0.2,
        answer_timeout_s: float = 0.2,
        removal_polls: int = 2,
        retries: Backoff = RETRIES,
        reopen: Backoff = REOPEN,
    ) -> None:
        if removal_polls < 1:
            raise ValueError(f"removal_polls must be at least 1, got {removal_polls}")
        self.name = name
        self.poll_interval_s = poll_interval_s
        self.answer_timeout_s = answer_timeout_s
        self.removal_polls = removal_polls
        self.retries = retries
        self._settings = PortSettings(port=port, baudrate=baudrate)
        self._reopen = reopen

    async def reads(self) -> AsyncIterator[BadgeRead | GarbledInput]:
        link = SerialLink(self.name, self._settings, self._reopen)
        await link.open()
        session = _Session(self, link)
        present: str | None = None
        absent_polls = 0
        try:
            while True:
                data = await session.transact(Command.IN_LIST_PASSIVE_TARGET, ONE_TARGET_106_TYPE_A)
                for garbled in session.take_garbled():
                    yield garbled
                if data is not None:
                    try:
                        targets = parse_in_list_passive_target(data)
                    except ValueError as exc:
                        yield GarbledInput(f"malformed InListPassiveTarget response: {exc}", data)
                    else:
                        if targets:
                            absent_polls = 0
                            if targets[0].uid_hex != present:
                                present = targets[0].uid_hex
                                yield BadgeRead(uid=present)
                        else:
                            absent_polls += 1
                            if absent_polls >= self.removal_polls:
                                present = None
                await asyncio.sleep(self.poll_interval_s)
        finally:
            await link.close()
