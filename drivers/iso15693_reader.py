"""Blood-bag RFID reader: an ST CR95HF transceiver on a UART, reading ISO/IEC 15693 tags through
one or more antennas behind an RF multiplexer.

Part and documents: the CR95HF (ST datasheet DocID 018669: UART commands Echo, IDN,
ProtocolSelect, SendRecv and their result codes, framed by the pure :mod:`drivers.cr95hf_frames`)
driving ISO/IEC 15693-3 tags (inventory, anticollision, Read Multiple Blocks; the pure
:mod:`drivers.iso15693`). The CR95HF was chosen because its host protocol is fully public and
small; a reader with another documented serial protocol would replace only the transceiver
layer.

Antennas: a cabinet has one antenna per slot, a fridge a few; one transceiver serves them all
through an RF multiplexer. The driver does not drive the multiplexer itself: the constructor
takes ``select_antenna``, a coroutine function called with an antenna's name before the
driver talks through that antenna (a GPIO- or I/O-expander-driven RF switch, or the fake's
multiplexer in tests). It is called only when the antenna changes, and again after any failure.
With a single antenna it may be omitted.

Keeps the :class:`~agent.hal.parts.RfidReader` obligations:

* ``inventory(antenna)`` returns the UIDs (upper-case hex, MSB first) of the tags the antenna
  reads now. It first sends a 1-slot inventory (flags ``26``): no answer means no tag, a clean
  answer is the one tag there (the common case: one bag per slot). When tags collide it runs
  the 16-slot anticollision of ISO/IEC 15693-3 (flags ``06``): each slot is read (the next slot
  by sending an EOF alone), and every slot where tags collided - the CR95HF flags a collision or
  a CRC error, or reports a reception error - is resolved by a new 16-slot inventory with that
  slot's 4 bits added to the mask, until no collision is left. At most ``max_rounds`` rounds of
  16 slots are spent; a field that never settles (noise) is then :class:`ReadFailed`.
* ``read_tag_data(antenna, uid)`` reads ``data_blocks`` blocks from block 0 with an addressed
  Read Multiple Blocks (``23``): the tag's user memory, which :mod:`agent.hal.tag_data` decodes
  (our simplification of ICCBBA ST-011: the DIN in ASCII from block 0). A tag that does not
  answer, answers garbled after the retries, or reports an error is :class:`ReadFailed`.
* an unknown antenna is a ``ValueError``; a reader that does not answer within
  ``answer_timeout_s`` is asked again (echo, identify and select ISO 15693 anew, as after a
  power cycle) up to ``retries.attempts`` tries with backoff, then is
  :class:`PartNotResponding`, as is a port that fails (USB adapter unplugged); a reader whose
  answers stay unusable is :class:`ReadFailed`. A failed call leaves the driver usable: the next
  call reopens the port (bounded retries, ``reopen``) and re-initialises the reader.

Calls are serialised (one transceiver); none blocks the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from agent.hal.errors import PartNotResponding, ReadFailed
from drivers.cr95hf_frames import (
    ECHO,
    Command,
    EchoReply,
    Event,
    Protocol,
    Response,
    ResponseDecoder,
    ResultCode,
    encode_command,
    encode_send_eof,
    iso15693_parameters,
    split_iso15693_reception,
)
from drivers.iso15693 import (
    MAX_MASK_BITS,
    Iso15693Error,
    TagError,
    child_mask,
    inventory_request,
    parse_inventory_response,
    parse_read_multiple_blocks_response,
    read_multiple_blocks_request,
)
from drivers.serial_port import Backoff, PortSettings, SerialLink

__all__ = [
    "REOPEN",
    "RETRIES",
    "AntennaSelector",
    "Cr95hfRfidReader",
    "SlotResult",
    "UnusableAnswer",
    "classify_slot",
]

T = TypeVar("T")

AntennaSelector = Callable[[str], Awaitable[None]]
"""Switches the RF multiplexer to the named antenna."""

REOPEN = Backoff()
RETRIES = Backoff(attempts=3, first_s=0.05, max_s=0.5)

_RF_ERRORS = frozenset(
    {
        ResultCode.COMMUNICATION_ERROR,
        ResultCode.INVALID_SOF,
        ResultCode.BUFFER_OVERFLOW,
        ResultCode.FRAMING_ERROR,
        ResultCode.EGT_TIMEOUT,
        ResultCode.INVALID_LENGTH,
        ResultCode.CRC_ERROR,
        ResultCode.RECEPTION_LOST,
    }
)
"""Result codes that mean "something answered, but it could not be received"."""


class UnusableAnswer(Exception):
    """The reader's answer cannot be used; it may have lost its configuration. The driver
    retries, and reports what is left as :class:`ReadFailed`."""


class _TagUnusable(UnusableAnswer):
    """The tag's answer (or silence) cannot be used; the reader itself is fine."""


@dataclass(frozen=True, slots=True)
class SlotResult:
    """One inventory slot: a tag's UID, nothing, or a collision to resolve."""

    uid: str | None = None
    collided: bool = False


def classify_slot(response: Response) -> SlotResult:
    """What one inventory slot's SendRecv answer means (pure); :class:`UnusableAnswer` if it
    is no answer to an inventory at all."""
    if response.code == ResultCode.NO_TAG:
        return SlotResult()
    if response.code in _RF_ERRORS:
        return SlotResult(collided=True)
    if response.code != ResultCode.FRAME_RECEIVED or not response.data:
        raise UnusableAnswer(f"inventory answered {response.code:#04x} {response.data.hex()}")
    reception = split_iso15693_reception(response.data)
    if reception.collision or reception.crc_error:
        return SlotResult(collided=True)
    try:
        return SlotResult(uid=parse_inventory_response(reception.frame).uid)
    except Iso15693Error:
        return SlotResult(collided=True)


class Cr95hfRfidReader:
    """A :class:`~agent.hal.parts.RfidReader`: a CR95HF on serial port ``port`` (57600 baud,
    the chip's default; 2 stop bits, which a receiver set for one also accepts)."""

    def __init__(
        self,
        name: str,
        port: str,
        *,
        antennas: tuple[str, ...] = ("antenna",),
        select_antenna: AntennaSelector | None = None,
        baudrate: int = 57600,
        answer_timeout_s: float = 0.1,
        data_blocks: int = 4,
        block_size: int = 4,
        max_rounds: int = 64,
        retries: Backoff = RETRIES,
        reopen: Backoff = REOPEN,
    ) -> None:
        if not antennas or len(set(antennas)) != len(antennas):
            raise ValueError(f"antennas must be distinct and at least one: {antennas}")
        if select_antenna is None and len(antennas) > 1:
            raise ValueError("several antennas need select_antenna to switch between them")
        if not 1 <= data_blocks <= 0x100 or block_size < 1 or max_rounds < 1:
            raise ValueError("data_blocks 1-256, block_size and max_rounds at least 1")
        self.name = name
        self.antennas = antennas
        self.answer_timeout_s = answer_timeout_s
        self.data_blocks = data_blocks
        self.block_size = block_size
        self.max_rounds = max_rounds
        self.retries = retries
        self.identity: str | None = None
        """What the reader's IDN said, once it has answered."""
        self._select_antenna = select_antenna
        self._link = SerialLink(name, PortSettings(port, baudrate=baudrate, stopbits=2), reopen)
        self._decoder = ResponseDecoder()
        self._lock = asyncio.Lock()
        self._ready = False
        self._selected: str | None = None

    async def inventory(self, antenna: str) -> frozenset[str]:
        return await self._operate(antenna, self._inventory)

    async def read_tag_data(self, antenna: str, uid: str) -> bytes:
        """The first ``data_blocks`` blocks of tag ``uid``'s user memory."""
        request = read_multiple_blocks_request(uid, 0, self.data_blocks)

        async def read() -> bytes:
            return await self._read_blocks(uid, request)

        return await self._operate(antenna, read)

    async def close(self) -> None:
        async with self._lock:
            self._ready = False
            self._selected = None
            await self._link.close()

    async def _operate(self, antenna: str, operation: Callable[[], Awaitable[T]]) -> T:
        if antenna not in self.antennas:
            raise ValueError(f"{self.name} has no antenna {antenna!r}")
        async with self._lock:
            failure: PartNotResponding | ReadFailed | None = None
            for attempt in range(1, self.retries.attempts + 1):
                try:
                    return await self._attempt(antenna, operation)
                except TimeoutError:
                    failure = PartNotResponding(self.name, "no answer from the reader")
                except _TagUnusable as exc:
                    failure = ReadFailed(self.name, str(exc))
                except UnusableAnswer as exc:
                    self._ready = False
                    failure = ReadFailed(self.name, str(exc))
                self._selected = None
                self._decoder.flush()
                if attempt < self.retries.attempts:
                    await self.retries.wait(attempt)
            assert failure is not None
            if isinstance(failure, PartNotResponding):
                self._ready = False
            raise failure

    async def _attempt(self, antenna: str, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            await self._link.open()
            if not self._ready:
                await self._initialise()
            if self._selected != antenna:
                self._selected = None
                if self._select_antenna is not None:
                    await self._select_antenna(antenna)
                self._selected = antenna
            return await operation()
        except PartNotResponding:
            self._ready = False
            self._selected = None
            raise
        except TimeoutError:
            self._ready = False
            raise

    async def _initialise(self) -> None:
        if not isinstance(await self._exchange(ECHO), EchoReply):
            raise UnusableAnswer("no echo from the reader")
        idn = await self._command(Command.IDN)
        if idn.code != ResultCode.OK:
            raise UnusableAnswer(f"IDN answered {idn.code:#04x}")
        self.identity = idn.data[:-2].rstrip(b"\x00").decode("ascii", "replace")
        selected = await self._command(
            Command.PROTOCOL_SELECT, bytes([Protocol.ISO15693, iso15693_parameters()])
        )
        if selected.code != ResultCode.OK:
            raise UnusableAnswer(f"ProtocolSelect ISO 15693 answered {selected.code:#04x}")
        self._ready = True

    async def _inventory(self) -> frozenset[str]:
        first = classify_slot(await self._send_recv(inventory_request(slots=1)))
        if not first.collided:
            return frozenset() if first.uid is None else frozenset({first.uid})
        found: set[str] = set()
        pending = [(0, 0)]
        for _ in range(self.max_rounds):
            if not pending:
                return frozenset(found)
            mask_length, mask = pending.pop()
            for slot in range(16):
                request = inventory_request(slots=16, mask_length=mask_length, mask=mask)
                result = classify_slot(await self._send_recv(request if slot == 0 else None))
                if result.uid is not None:
                    found.add(result.uid)
                elif result.collided:
                    if mask_length + 4 > MAX_MASK_BITS:
                        raise _TagUnusable(f"collision left at a {mask_length}-bit mask")
                    pending.append(child_mask(mask_length, mask, slot))
        if pending:
            raise _TagUnusable(f"anticollision did not settle in {self.max_rounds} rounds")
        return frozenset(found)

    async def _read_blocks(self, uid: str, request: bytes) -> bytes:
        response = await self._send_recv(request)
        if response.code == ResultCode.NO_TAG:
            raise _TagUnusable(f"tag {uid} did not answer")
        if response.code in _RF_ERRORS:
            raise _TagUnusable(f"tag {uid}: reception error {response.code:#04x}")
        if response.code != ResultCode.FRAME_RECEIVED or not response.data:
            raise UnusableAnswer(f"read answered {response.code:#04x} {response.data.hex()}")
        reception = split_iso15693_reception(response.data)
        if reception.collision or reception.crc_error:
            raise _TagUnusable(f"tag {uid}: answer garbled")
        length = self.data_blocks * self.block_size
        try:
            return parse_read_multiple_blocks_response(reception.frame, length=length)
        except TagError as exc:
            raise ReadFailed(self.name, f"tag {uid}: {exc}") from exc
        except Iso15693Error as exc:
            raise _TagUnusable(f"tag {uid}: {exc}") from exc

    async def _send_recv(self, frame: bytes | None) -> Response:
        """One ISO 15693 frame out (CRC appended by the chip), the tag's answer back;
        ``None`` sends an EOF alone."""
        message = encode_send_eof() if frame is None else encode_command(Command.SEND_RECV, frame)
        response = await self._exchange(message)
        if not isinstance(response, Response):
            raise UnusableAnswer(f"SendRecv answered {response}")
        if response.code in (ResultCode.INVALID_COMMAND_LENGTH, ResultCode.INVALID_PROTOCOL):
            raise UnusableAnswer(f"SendRecv refused ({response.code:#04x}): protocol not selected?")
        return response

    async def _command(self, command: Command, data: bytes = b"") -> Response:
        response = await self._exchange(encode_command(command, data))
        if not isinstance(response, Response):
            raise UnusableAnswer(f"{command.name} answered {response}")
        return response

    async def _exchange(self, message: bytes) -> Event:
        """Send ``message``; the next event from the reader. ``TimeoutError`` if none."""
        self._decoder.flush()
        while self._decoder.next_event() is not None:
            continue
        await self._link.write(message)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.answer_timeout_s
        while (event := self._decoder.next_event()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            self._decoder.receive_data(await self._link.read_some(remaining))
        return event
