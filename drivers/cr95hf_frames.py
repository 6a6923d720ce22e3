"""STMicroelectronics CR95HF (13.56 MHz multi-protocol transceiver) UART commands and
responses, pure: encode commands, decode the chip's bytes into responses.

Document followed: ST's CR95HF datasheet (DocID 018669), "Commands" and "Error codes": the
host sends ``CMD LEN DATA`` (the Echo command is the single byte ``55``), the chip answers
``RESULT LEN DATA`` (the echo answer is the single byte ``55``). Commands used here: IDN
(``01``; the datasheet's example answer is ``00 0F`` then ``NFC FS2JAST4`` NUL-terminated
and a 2-byte ROM CRC), ProtocolSelect (``02``; ``02 02 01 05`` selects ISO/IEC 15693 at
26 kbps, 10 % modulation, CRC appended, answered ``00 00``), SendRecv (``04``; a zero-length
SendRecv sends an EOF alone, which is how an ISO 15693 16-slot inventory moves to the next
slot), Echo (``55``). Result codes: ``00`` done, ``80`` frame received; errors ``82`` invalid
command length, ``83`` invalid protocol, ``86`` communication error, ``87`` frame wait timeout
or no tag, ``88`` invalid SOF, ``89`` receive buffer overflow, ``8A`` framing error,
``8B`` EGT timeout, ``8C`` invalid length, ``8D`` CRC error, ``8E`` reception lost without EOF.

For ISO/IEC 15693, a ``80`` answer's data is the tag's frame (its CRC included) followed by one
status byte from the chip: bit 0 set when a collision was detected, bit 1 when the CRC was
wrong (:func:`split_iso15693_reception`).

:class:`ResponseDecoder` is sans-I/O: any bytes, in any chunks, yield :class:`Response`,
:class:`EchoReply` or :class:`Garbled` (a first byte that is no result code); it never raises.
The UART protocol has no checksum, so corruption that keeps a valid result code and length is
caught one layer up, by the ISO 15693 CRC.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

__all__ = [
    "ECHO",
    "Command",
    "DataRate",
    "EchoReply",
    "Event",
    "Garbled",
    "Iso15693Reception",
    "Protocol",
    "Response",
    "ResponseDecoder",
    "ResultCode",
    "encode_command",
    "encode_send_eof",
    "iso15693_parameters",
    "split_iso15693_reception",
]

ECHO = b"\x55"


class Command(enum.IntEnum):
    IDN = 0x01
    PROTOCOL_SELECT = 0x02
    SEND_RECV = 0x04
    IDLE = 0x07
    READ_REGISTER = 0x08
    WRITE_REGISTER = 0x09
    BAUD_RATE = 0x0A
    ECHO = 0x55


class Protocol(enum.IntEnum):
    FIELD_OFF = 0x00
    ISO15693 = 0x01
    ISO14443A = 0x02
    ISO14443B = 0x03
    ISO18092 = 0x04


class ResultCode(enum.IntEnum):
    OK = 0x00
    FRAME_RECEIVED = 0x80
    INVALID_COMMAND_LENGTH = 0x82
    INVALID_PROTOCOL = 0x83
    COMMUNICATION_ERROR = 0x86
    NO_TAG = 0x87
    INVALID_SOF = 0x88
    BUFFER_OVERFLOW = 0x89
    FRAMING_ERROR = 0x8A
    EGT_TIMEOUT = 0x8B
    INVALID_LENGTH = 0x8C
    CRC_ERROR = 0x8D
    RECEPTION_LOST = 0x8E


class DataRate(enum.IntEnum):
    """ISO 15693 data rates of ProtocolSelect's parameter byte, bits 5-4."""

    KBPS_26 = 0b00
    KBPS_52 = 0b01
    KBPS_6 = 0b10


def iso15693_parameters(
    rate: DataRate = DataRate.KBPS_26,
    *,
    ten_percent_modulation: bool = True,
    append_crc: bool = True,
    wait_for_sof: bool = False,
    dual_subcarrier: bool = False,
) -> int:
    """ProtocolSelect's parameter byte for ISO/IEC 15693."""
    return (
        rate << 4
        | wait_for_sof << 3
        | ten_percent_modulation << 2
        | dual_subcarrier << 1
        | append_crc
    )


def encode_command(command: Command, data: bytes = b"") -> bytes:
    """``CMD LEN DATA``; Echo is the single byte ``55``."""
    if command is Command.ECHO:
        if data:
            raise ValueError("Echo takes no data")
        return ECHO
    if len(data) > 0xFF:
        raise ValueError(f"{len(data)} data bytes; a command carries at most 255")
    return bytes([command, len(data)]) + data


def encode_send_eof() -> bytes:
    """A SendRecv of no data: the reader sends an EOF alone (next inventory slot)."""
    return encode_command(Command.SEND_RECV)


@dataclass(frozen=True, slots=True)
class Response:
    code: int
    data: bytes


@dataclass(frozen=True, slots=True)
class EchoReply:
    """The answer to Echo."""


@dataclass(frozen=True, slots=True)
class Garbled:
    reason: str
    raw: bytes


Event = Response | EchoReply | Garbled

_RESULT_CODES = frozenset(ResultCode)


class ResponseDecoder:
    """Bytes from the CR95HF in, :data:`Event` out, whatever the chunking. A run of bytes that
    are no result code is one :class:`Garbled` event, reported when the next response starts
    or on :meth:`flush`."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._junk = bytearray()
        self._events: deque[Event] = deque()

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            first = self._buffer[0]
            if first == ECHO[0]:
                self._take(1, EchoReply())
            elif first in _RESULT_CODES:
                if len(self._buffer) < 2 or len(self._buffer) < 2 + self._buffer[1]:
                    return
                end = 2 + self._buffer[1]
                self._take(end, Response(first, bytes(self._buffer[2:end])))
            else:
                self._junk.append(first)
                del self._buffer[:1]

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def flush(self) -> None:
        """Report a response cut short (nothing more will come for it) as garbled."""
        self._junk += self._buffer
        self._buffer.clear()
        self._flush_junk()

    def _take(self, size: int, event: Event) -> None:
        self._flush_junk()
        del self._buffer[:size]
        self._events.append(event)

    def _flush_junk(self) -> None:
        if self._junk:
            raw = bytes(self._junk)
            self._junk.clear()
            self._events.append(Garbled(f"unknown result code {raw[0]:#04x}", raw))


@dataclass(frozen=True, slots=True)
class Iso15693Reception:
    """A ``80`` answer to an ISO 15693 SendRecv: the tag's frame and the chip's status."""

    frame: bytes
    collision: bool
    crc_error: bool


def split_iso15693_reception(data: bytes) -> Iso15693Reception:
    """Split a ``80`` answer's data into the tag's frame and the status byte."""
    if not data:
        raise ValueError("a received frame carries at least the status byte")
    status = data[-1]
    return Iso15693Reception(
        frame=data[:-1], collision=bool(status & 0x01), crc_error=bool(status & 0x02)
    )
