"""NXP PN532 host-link frames, pure: encode commands, decode the PN532's bytes into frames.

Document followed: NXP UM0701-02 "PN532 User Manual" (rev. 02, firmware V1.6), section 6.2
"Host controller communication protocol", and the command descriptions of section 7
(SAMConfiguration 0x14, RFConfiguration 0x32, InListPassiveTarget 0x4A, GetFirmwareVersion 0x02).

Frames (section 6.2.1), all starting with the start code ``00 FF`` after a preamble of zero or
more ``00`` bytes and ending with a postamble ``00``:

* normal information frame: ``00 00 FF LEN LCS TFI PD0..PDn DCS 00``, where LEN counts TFI and
  the data, ``LEN + LCS`` is 0 modulo 256, TFI is ``D4`` host to PN532 and ``D5`` PN532 to
  host, PD0 is the command code (a response's is the command's plus one), and
  ``TFI + PD0 + ... + PDn + DCS`` is 0 modulo 256;
* extended information frame: ``00 00 FF FF FF LENM LENL LCS TFI ... DCS 00`` for up to 265
  bytes of TFI and data, ``LENM + LENL + LCS`` 0 modulo 256;
* ACK ``00 00 FF 00 FF 00``, NACK ``00 00 FF FF 00 00``;
* error frame (an application-level syntax error) ``00 00 FF 01 FF 7F 81 00``.

HSU (UART) wake-up: the PN532 sleeps until the host's first byte; the host sends a long
preamble, ``55 55`` followed by zeros, before its first command (:data:`WAKE_UP`), and the
first command after power-up must be SAMConfiguration.

:class:`FrameDecoder` is sans-I/O (as h11 is): feed it bytes in any chunks and take events.
Anything that is not a well-formed frame - bytes outside frames, a bad LCS or DCS, an unknown
TFI, a length past the firmware's limit - is a :class:`Garbled` event carrying the bytes, and
decoding carries on at the next start code: no input makes it raise.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

__all__ = [
    "ACK",
    "ERROR_FRAME",
    "NACK",
    "WAKE_UP",
    "Ack",
    "Command",
    "ErrorFrame",
    "Event",
    "FrameDecoder",
    "Garbled",
    "InformationFrame",
    "Nack",
    "PassiveTarget",
    "Tfi",
    "checksum",
    "encode_command",
    "encode_information_frame",
    "parse_in_list_passive_target",
]

_START = b"\x00\xff"
_POSTAMBLE = b"\x00"
_MAX_NORMAL = 255
_MAX_EXTENDED = 265
_ERROR_TFI = 0x7F

ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")
WAKE_UP = b"\x55\x55" + bytes(14)
"""The HSU wake-up: ``55 55`` and a long run of zeros (UM0701-02, HSU wake-up condition)."""


class Tfi(enum.IntEnum):
    """Frame identifier: which way an information frame goes."""

    HOST_TO_PN532 = 0xD4
    PN532_TO_HOST = 0xD5


class Command(enum.IntEnum):
    """The PN532 commands this driver uses (UM0701-02, section 7)."""

    GET_FIRMWARE_VERSION = 0x02
    SAM_CONFIGURATION = 0x14
    RF_CONFIGURATION = 0x32
    IN_LIST_PASSIVE_TARGET = 0x4A

    @property
    def response_code(self) -> int:
        return self.value + 1


@dataclass(frozen=True, slots=True)
class Ack:
    """The previous frame was received."""


@dataclass(frozen=True, slots=True)
class Nack:
    """The previous frame was not received well: send it again."""


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """The PN532 found a syntax error in the host's command (application level)."""


@dataclass(frozen=True, slots=True)
class InformationFrame:
    """A command or response: ``data`` is PD0 (the command code) to PDn."""

    tfi: Tfi
    data: bytes


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes that are not a well-formed frame."""

    reason: str
    raw: bytes


Event = Ack | Nack | ErrorFrame | InformationFrame | Garbled

_SPECIAL_FRAMES: dict[tuple[int, int], Event] = {(0x00, 0xFF): Ack(), (0xFF, 0x00): Nack()}
"""(LEN, LCS) of the ACK and NACK frames."""


def checksum(data: bytes) -> int:
    """The byte that makes the low byte of ``sum(data) + checksum`` zero (LCS, DCS)."""
    return -sum(data) & 0xFF


def encode_information_frame(tfi: Tfi, data: bytes) -> bytes:
    """A normal information frame, or an extended one when TFI and data exceed 255 bytes."""
    body = bytes([tfi]) + data
    if len(body) > _MAX_EXTENDED:
        raise ValueError(f"{len(body)} bytes of TFI and data; the PN532 takes {_MAX_EXTENDED}")
    if len(body) <= _MAX_NORMAL:
        header = bytes([len(body), checksum(bytes([len(body)]))])
    else:
        length = len(body).to_bytes(2, "big")
        header = b"\xff\xff" + length + bytes([checksum(length)])
    return b"\x00" + _START + header + body + bytes([checksum(body)]) + _POSTAMBLE


def encode_command(command: Command, params: bytes = b"") -> bytes:
    """A host-to-PN532 command frame."""
    return encode_information_frame(Tfi.HOST_TO_PN532, bytes([command]) + params)


class FrameDecoder:
    """Bytes from the PN532 in, :data:`Event` out, whatever the chunking.

    A frame with a bad data checksum is reported whole as soon as it is complete. A bad length
    checksum leaves the frame's length unknown: its header is reported, and the bytes after it
    are reported as bytes outside a frame when the next start code arrives, or on
    :meth:`flush`.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._junk = bytearray()
        self._events: deque[Event] = deque()

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        progressing = True
        while progressing:
            progressing = self._step()

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def flush(self) -> None:
        """Report what is buffered as garbled input (nothing more will come for it: a
        timeout, the end of the stream); decoding then starts afresh."""
        self._skip(len(self._buffer))
        self._flush_junk()

    def _step(self) -> bool:
        """Decode one frame, or skip bytes; ``False`` when more bytes are needed."""
        start = self._buffer.find(_START)
        if start < 0:
            keep = 1 if self._buffer.endswith(b"\x00") else 0
            self._skip(len(self._buffer) - keep)
            return False
        self._skip(start)
        self._flush_junk()
        return self._frame()

    def _frame(self) -> bool:
        """Decode the frame at the start code that begins the buffer."""
        if len(self._buffer) < 4:
            return False
        length, lcs = self._buffer[2], self._buffer[3]
        if (special := _SPECIAL_FRAMES.get((length, lcs))) is not None:
            return self._take(4, special)
        if (length, lcs) == (0xFF, 0xFF):
            return self._extended()
        if checksum(bytes([length])) != lcs:
            return self._bad_header(4, "bad length checksum")
        if length == 0:
            return self._bad_header(4, "information frame without TFI")
        return self._body(4, length)

    def _extended(self) -> bool:
        if len(self._buffer) < 7:
            return False
        size_bytes = bytes(self._buffer[4:6])
        if checksum(size_bytes) != self._buffer[6]:
            return self._bad_header(7, "bad extended length checksum")
        size = int.from_bytes(size_bytes, "big")
        if not 0 < size <= _MAX_EXTENDED:
            return self._bad_header(7, f"extended length {size} out of range")
        return self._body(7, size)

    def _body(self, offset: int, size: int) -> bool:
        end = offset + size + 1
        if len(self._buffer) < end:
            return False
        body = bytes(self._buffer[offset : end - 1])
        if checksum(body) != self._buffer[end - 1]:
            return self._take(end, Garbled("bad data checksum", bytes(self._buffer[:end])))
        if body == bytes([_ERROR_TFI]):
            return self._take(end, ErrorFrame())
        if body[0] not in (Tfi.HOST_TO_PN532, Tfi.PN532_TO_HOST):
            reason = f"unknown frame identifier {body[0]:#04x}"
            return self._take(end, Garbled(reason, bytes(self._buffer[:end])))
        return self._take(end, InformationFrame(Tfi(body[0]), body[1:]))

    def _take(self, size: int, event: Event) -> bool:
        del self._buffer[:size]
        self._events.append(event)
        return True

    def _bad_header(self, size: int, reason: str) -> bool:
        """A header that cannot be trusted: report it, resume just past its start code."""
        self._events.append(Garbled(reason=reason, raw=bytes(self._buffer[:size])))
        del self._buffer[: len(_START)]
        return True

    def _skip(self, count: int) -> None:
        """Bytes before a start code: preamble and postamble zeros are dropped, anything
        else is collected and reported as one garbled event."""
        for byte in self._buffer[:count]:
            if byte or self._junk:
                self._junk.append(byte)
        del self._buffer[:count]
        while self._junk.endswith(b"\x00"):
            self._junk.pop()

    def _flush_junk(self) -> None:
        if self._junk:
            self._events.append(Garbled(reason="bytes outside a frame", raw=bytes(self._junk)))
            self._junk.clear()


@dataclass(frozen=True, slots=True)
class PassiveTarget:
    """One ISO/IEC 14443 type A target as InListPassiveTarget (106 kbps type A) lists it."""

    number: int
    sens_res: bytes
    sel_res: int
    uid: bytes

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()


def parse_in_list_passive_target(data: bytes) -> tuple[PassiveTarget, ...]:
    """The targets of an InListPassiveTarget response (``data`` from PD0, the response code
    ``4B``): NbTg, then per target Tg, SENS_RES (2 bytes), SEL_RES, NFCIDLength, NFCID1, and
    an ATS (length byte first) when SEL_RES says ISO/IEC 14443-4. ``ValueError`` if malformed."""
    if len(data) < 2 or data[0] != Command.IN_LIST_PASSIVE_TARGET.response_code:
        raise ValueError(f"not an InListPassiveTarget response: {data.hex()}")
    count, position, targets = data[1], 2, []
    for _ in range(count):
        fixed = data[position : position + 5]
        if len(fixed) < 5:
            raise ValueError(f"target truncated: {data.hex()}")
        number, sens_res, sel_res, uid_length = fixed[0], bytes(fixed[1:3]), fixed[3], fixed[4]
        position += 5
        uid = data[position : position + uid_length]
        if len(uid) != uid_length or uid_length not in (4, 7, 10):
            raise ValueError(f"bad NFCID1 of {uid_length} bytes: {data.hex()}")
        position += uid_length
        if sel_res & 0x20:
            if position >= len(data) or data[position] < 1:
                raise ValueError(f"ATS missing: {data.hex()}")
            position += data[position]
        targets.append(PassiveTarget(number, sens_res, sel_res, bytes(uid)))
    if position > len(data):
        raise ValueError(f"ATS truncated: {data.hex()}")
    return tuple(targets)
