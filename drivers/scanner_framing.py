"""Framing of a serial barcode scanner's output: bytes in, scans out, no I/O (as h11 is).

A serial (or USB-CDC) barcode scanner sends each scan as a line: an optional prefix, an optional
AIM symbology identifier, the data, and a suffix. What the scanner sends is set by its
configuration barcodes, so the framing is configuration here too (:class:`Framing`): suffix CR
(the usual factory default), CRLF, or STX/ETX framing (prefix ``0x02``, suffix ``0x03``).

Symbology identifiers follow ISO/IEC 15424 (AIM): ``]`` then a code character (``C`` Code 128,
``d`` Data Matrix, ``Q`` QR Code, ``E`` EAN/UPC, ``A`` Code 39, ``L`` PDF417...) and a modifier
character: ``]C0`` is Code 128 with no FNC1, ``]d2`` Data Matrix with GS1 FNC1. With
``Framing.aim`` set, every scan must start with one; it goes into ``BarcodeRead.symbology`` as
sent (``"]C0"``) and is removed from the data.

Concatenated ISBT 128 scans: a scanner in ISBT 128 concatenation mode (ICCBBA ST-001) reads
two or more codes of one label (a DIN and a blood group, say) and sends them as one line, the
data structures one after another (``=A9999171234560000=%5100``). This module delivers such a
line as one :class:`~agent.hal.parts.BarcodeRead` holding the whole data; splitting it into data
structures by their data identifiers is the ISBT 128 parser's job.

The decoder keeps invariant 8 of the brief: input it cannot frame or decode becomes a
:class:`~agent.hal.parts.GarbledInput` carrying the bytes, and the stream carries on at the
next frame:

* bytes outside a frame (before a prefix, when a prefix is configured);
* a frame cut off by a new prefix, or by the end of the stream (:meth:`ScanDecoder.close`);
* a line longer than ``Framing.max_length`` bytes (reported once with the bytes received so
  far; the rest of that line, up to its suffix, is dropped);
* bytes that are not printable ASCII (ISBT 128 and GS1 data are printable ASCII; the one control
  character allowed is GS, ``0x1D``, which scanners send for FNC1 in GS1 codes);
* a missing or malformed AIM identifier when the scanner is configured to send one.

Empty lines (a stray LF from a CRLF scanner configured as CR) are skipped silently.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from agent.hal.parts import BarcodeRead, GarbledInput

__all__ = ["CR", "CRLF", "STX_ETX", "Framing", "ScanDecoder"]

_GS = 0x1D
_AIM_FLAG = ord("]")
_AIM_LENGTH = 3


@dataclass(frozen=True, slots=True)
class Framing:
    """How the scanner is configured to frame its scans."""

    suffix: bytes = b"\r"
    prefix: bytes = b""
    aim: bool = False
    max_length: int = 512

    def __post_init__(self) -> None:
        if not self.suffix:
            raise ValueError("a scanner framing needs a suffix: lines cannot be split without one")
        if self.prefix and (self.prefix in self.suffix or self.suffix in self.prefix):
            raise ValueError(f"prefix {self.prefix!r} and suffix {self.suffix!r} overlap")
        if self.max_length < 1:
            raise ValueError(f"max_length must be positive, got {self.max_length}")


CR = Framing(suffix=b"\r")
CRLF = Framing(suffix=b"\r\n")
STX_ETX = Framing(prefix=b"\x02", suffix=b"\x03")


class ScanDecoder:
    """Feed it bytes with :meth:`receive_data`; take scans with :meth:`next_event`.

    The events do not depend on how the bytes were split into chunks: one byte at a time gives
    what one large chunk gives. Over-long lines and long runs of bytes outside a frame are
    recorded by their first ``max_length + 1`` (respectively ``max_length``) bytes.
    """

    def __init__(self, framing: Framing = CR) -> None:
        self.framing = framing
        self._buffer = bytearray()
        self._junk = bytearray()
        self._events: deque[BarcodeRead | GarbledInput] = deque()
        self._in_frame = not framing.prefix
        self._discarding = False

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        self._split()

    def next_event(self) -> BarcodeRead | GarbledInput | None:
        """The next scan or garbled input, or ``None`` until more bytes arrive."""
        return self._events.popleft() if self._events else None

    def close(self) -> None:
        """End of stream: bytes still buffered (a frame cut off, bytes outside a frame) become
        garbled input, to be taken with :meth:`next_event`; the decoder starts afresh."""
        self._flush_junk()
        rest = bytes(self._buffer)
        self._buffer.clear()
        if rest and not self._discarding:
            self._events.append(GarbledInput(reason="frame cut off by end of stream", raw=rest))
        self._discarding = False
        self._in_frame = not self.framing.prefix

    def _split(self) -> None:
        prefix, suffix, limit = self.framing.prefix, self.framing.suffix, self.framing.max_length
        while self._buffer:
            if not self._in_frame:
                start = self._buffer.find(prefix)
                if start < 0:
                    self._move_to_junk(len(self._buffer) - _partial_match(self._buffer, prefix))
                    return
                self._move_to_junk(start)
                self._flush_junk()
                del self._buffer[: len(prefix)]
                self._in_frame = True
                continue
            end = self._buffer.find(suffix)
            cut = self._buffer.find(prefix) if prefix else -1
            if cut >= 0 and (end < 0 or cut < end):
                self._end_line(cut, 0, cut_off=True)
            elif end >= 0:
                self._end_line(end, len(suffix), cut_off=False)
            else:
                tail = max(len(suffix), len(prefix)) - 1
                if len(self._buffer) - tail > limit:
                    self._over_long(bytes(self._buffer[: limit + 1]))
                    del self._buffer[: len(self._buffer) - tail]
                return

    def _end_line(self, end: int, marker: int, *, cut_off: bool) -> None:
        line = bytes(self._buffer[:end])
        del self._buffer[: end + marker]
        self._in_frame = not self.framing.prefix
        if self._discarding:
            self._discarding = False
        elif len(line) > self.framing.max_length:
            raw = line[: self.framing.max_length + 1]
            self._events.append(GarbledInput(reason="over-long line", raw=raw))
        elif cut_off:
            self._events.append(GarbledInput(reason="frame cut off by a new prefix", raw=line))
        elif line:
            self._events.append(self._decode(line))

    def _over_long(self, raw: bytes) -> None:
        """An unterminated line already past the limit: reported once, dropped to its end."""
        if not self._discarding:
            self._events.append(GarbledInput(reason="over-long line", raw=raw))
        self._discarding = True

    def _move_to_junk(self, count: int) -> None:
        self._junk += self._buffer[:count]
        del self._buffer[:count]
        limit = self.framing.max_length
        while len(self._junk) >= limit:
            self._events.append(
                GarbledInput(reason="bytes outside a frame", raw=bytes(self._junk[:limit]))
            )
            del self._junk[:limit]

    def _flush_junk(self) -> None:
        if self._junk:
            self._events.append(GarbledInput(reason="bytes outside a frame", raw=bytes(self._junk)))
            self._junk.clear()

    def _decode(self, line: bytes) -> BarcodeRead | GarbledInput:
        if any(not (0x20 <= byte < 0x7F or byte == _GS) for byte in line):
            return GarbledInput(reason="not printable ASCII", raw=line)
        text = line.decode("ascii")
        if not self.framing.aim:
            return BarcodeRead(data=text)
        if len(text) < _AIM_LENGTH or line[0] != _AIM_FLAG or not text[1:3].isalnum():
            return GarbledInput(reason="missing AIM symbology identifier", raw=line)
        return BarcodeRead(data=text[_AIM_LENGTH:], symbology=text[:_AIM_LENGTH])


def _partial_match(buffer: bytearray, marker: bytes) -> int:
    """How many bytes at the end of ``buffer`` could be the start of ``marker``."""
    for size in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:size]):
            return size
    return 0
