"""An ST CR95HF on its UART, on a pseudo-terminal, with ISO/IEC 15693 tags in the field of
each antenna of an RF multiplexer.

Written from the CR95HF datasheet and ISO/IEC 15693-3 with no help from the driver's
:mod:`drivers.cr95hf_frames` or :mod:`drivers.iso15693` (its own CRC, its own parsing), so
tests check the driver against the wire format:

* Echo ``55`` → ``55``; IDN ``01 00`` → the datasheet's example answer; ProtocolSelect ``02``
  → ``00 00`` (ISO 15693 needs its parameter byte: ``82 00`` otherwise; an unknown protocol
  ``83 00``); SendRecv ``04`` → the tags' answer once ISO 15693 is selected, ``83 00``
  (invalid protocol) while the field is still off after power-up, as ST's support describes
  a SendRecv sent after the chip was reset;
* tags answer an Inventory (1 or 16 slots, with mask) and an addressed Read Multiple Blocks.
  Each slot answers ``87 00`` (no tag), ``80 0D`` + the tag's frame + status ``00`` (one tag),
  or - two or more tags answering at once - what the chip makes of the collision:
  ``80`` with the overlaid frames and status ``03`` (collision, CRC error) by default, or the
  result code set in :attr:`Cr95hfPeer.collision_code` (``88`` invalid SOF, ``8E`` reception
  lost...). A zero-length SendRecv (EOF) moves a 16-slot inventory to its next slot.

Bench hooks: :meth:`Cr95hfPeer.put_tag` and :meth:`Cr95hfPeer.remove_tag` (per antenna),
:meth:`Cr95hfPeer.fail_next` (the next SendRecv answers an error code),
:meth:`Cr95hfPeer.corrupt_next` (the next tag frame arrives with a bit flipped and no error
flagged), :meth:`Cr95hfPeer.garble_next` (the next answer is preceded by noise),
:meth:`Cr95hfPeer.go_silent` and :meth:`Cr95hfPeer.recover` (a hung chip, then a power cycle),
unplug / replug; :meth:`Cr95hfPeer.select_antenna` is the multiplexer the driver switches
(:meth:`Cr95hfPeer.switch` the same, for a fake world that decodes the select lines).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hal_sim.fakes.pty_peer import PtyPeer

__all__ = ["Cr95hfPeer", "FakeTag"]

IDN_ANSWER = bytes.fromhex("000F4E4643204653324A41535434002ACE")
"""The datasheet's example IDN answer: ``NFC FS2JAST4``, NUL, ROM CRC ``2ACE``."""

BLOCK_SIZE = 4


def _crc(data: bytes) -> bytes:
    """ISO/IEC 15693-3 Annex C, bit by bit, LSB first."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(8):
            if (crc ^ (byte >> bit)) & 1:
                crc = (crc >> 1) ^ 0x8408
            else:
                crc >>= 1
    crc = ~crc & 0xFFFF
    return bytes([crc & 0xFF, crc >> 8])


@dataclass
class FakeTag:
    """A tag: its UID (hex, MSB first as printed), DSFID and memory in 4-byte blocks."""

    uid: str
    memory: bytearray
    dsfid: int = 0

    @property
    def uid_number(self) -> int:
        return int(self.uid, 16)

    @property
    def uid_wire(self) -> bytes:
        return bytes.fromhex(self.uid)[::-1]


class Cr95hfPeer(PtyPeer):
    """A CR95HF behind ``link`` whose RF multiplexer serves ``antennas``."""

    def __init__(self, link: Path, antennas: Iterable[str]) -> None:
        super().__init__(link)
        self.antennas = tuple(antennas)
        self.fields: dict[str, dict[str, FakeTag]] = {name: {} for name in self.antennas}
        self.selected = self.antennas[0]
        self.selections: list[str] = []
        self.collision_code: int | None = None
        self.silent = False
        self.requests: list[bytes] = []
        """Every ISO 15693 frame (or EOF, empty) the driver sent through SendRecv."""
        self._failures: list[int] = []
        self._corrupt_next = False
        self._garble_next = False
        self._protocol: int | None = None
        self._slots: list[list[FakeTag]] = []
        self._inbox = bytearray()

    # --- bench hooks ---------------------------------------------------------------------------

    def put_tag(self, antenna: str, uid: str, data: bytes = b"", *, blocks: int = 28) -> None:
        """Put a tag in ``antenna``'s field, its memory starting with ``data``."""
        memory = bytearray(data.ljust(blocks * BLOCK_SIZE, b"\x00"))
        self.fields[antenna][uid.upper()] = FakeTag(uid=uid.upper(), memory=memory)

    def remove_tag(self, antenna: str, uid: str) -> None:
        del self.fields[antenna][uid.upper()]

    def fail_next(self, code: int, times: int = 1) -> None:
        """The next ``times`` SendRecv commands answer result code ``code``."""
        self._failures += [code] * times

    def corrupt_next(self) -> None:
        """The next tag frame has a bit flipped on the air; the chip flags nothing."""
        self._corrupt_next = True

    def garble_next(self) -> None:
        """The next answer is preceded by noise on the UART."""
        self._garble_next = True

    def go_silent(self) -> None:
        self.silent = True

    def recover(self) -> None:
        """Power cycle: the chip answers again, with no protocol selected."""
        self.silent = False
        self.plugged_in()

    async def select_antenna(self, antenna: str) -> None:
        """The RF multiplexer: switch the transceiver to ``antenna``."""
        self.switch(antenna)

    def switch(self, antenna: str) -> None:
        """The RF multiplexer's switching, for a multiplexer wired to fake select lines."""
        if antenna not in self.fields:
            raise ValueError(f"no antenna {antenna!r}")
        self.selected = antenna
        self.selections.append(antenna)
        self._slots = []

    # --- the chip ------------------------------------------------------------------------------

    def plugged_in(self) -> None:
        self._protocol = None
        self._slots = []
        self._inbox.clear()

    def received(self, data: bytes) -> None:
        if self.silent:
            return
        self._inbox += data
        while self._inbox:
            if self._inbox[0] == 0x55:
                del self._inbox[:1]
                self._answer(b"\x55")
                continue
            if len(self._inbox) < 2 or len(self._inbox) < 2 + self._inbox[1]:
                return
            command, length = self._inbox[0], self._inbox[1]
            payload = bytes(self._inbox[2 : 2 + length])
            del self._inbox[: 2 + length]
            self._command(command, payload)

    def _command(self, command: int, payload: bytes) -> None:
        if command == 0x01:
            self._answer(IDN_ANSWER)
        elif command == 0x02:
            self._protocol_select(payload)
        elif command == 0x04:
            self._send_recv(payload)

    def _protocol_select(self, payload: bytes) -> None:
        if not payload or (payload[0] == 0x01 and len(payload) < 2):
            self._answer(b"\x82\x00")
        elif payload[0] > 0x04:
            self._answer(b"\x83\x00")
        else:
            self._protocol = payload[0] or None
            self._slots = []
            self._answer(b"\x00\x00")

    def _send_recv(self, frame: bytes) -> None:
        self.requests.append(frame)
        if self._failures:
            self._answer(bytes([self._failures.pop(0), 0x00]))
            return
        if self._protocol is None:  # field off since power-up: ST's answer is "invalid protocol"
            self._answer(b"\x83\x00")
            return
        if self._protocol != 0x01:  # another protocol: no ISO 15693 tag understands it
            self._answer(b"\x87\x00")
            return
        if not frame:
            self._next_slot()
            return
        self._slots = []
        flags = frame[0]
        if flags & 0x04:
            self._inventory(frame)
        elif len(frame) >= 12 and frame[1] == 0x23 and flags & 0x20:
            self._read_multiple_blocks(frame)
        else:
            self._answer(b"\x87\x00")

    def _inventory(self, frame: bytes) -> None:
        flags = frame[0]
        mask_length = frame[2]
        mask = int.from_bytes(frame[3 : 3 + (mask_length + 7) // 8], "little")
        bits = (1 << mask_length) - 1
        tags = [
            tag
            for tag in self.fields[self.selected].values()
            if tag.uid_number & bits == mask & bits
        ]
        if flags & 0x20:
            self._tags_answer(tags)
            return
        self._slots = [[] for _ in range(16)]
        for tag in tags:
            self._slots[(tag.uid_number >> mask_length) & 0x0F].append(tag)
        self._next_slot()

    def _next_slot(self) -> None:
        if not self._slots:
            self._answer(b"\x87\x00")
            return
        self._tags_answer(self._slots.pop(0))

    def _tags_answer(self, tags: list[FakeTag]) -> None:
        if not tags:
            self._answer(b"\x87\x00")
            return
        frames = [bytes([0x00, tag.dsfid]) + tag.uid_wire for tag in tags]
        frames = [frame + _crc(frame) for frame in frames]
        if len(frames) == 1:
            self._tag_frame(frames[0])
        elif self.collision_code is not None:
            self._answer(bytes([self.collision_code, 0x00]))
        else:
            overlaid = bytes(len(frames[0]))
            for frame in frames:
                overlaid = bytes(a | b for a, b in zip(overlaid, frame, strict=True))
            self._answer(bytes([0x80, len(overlaid) + 1]) + overlaid + b"\x03")

    def _read_multiple_blocks(self, frame: bytes) -> None:
        uid = frame[2:10][::-1].hex().upper()
        tag = self.fields[self.selected].get(uid)
        if tag is None:
            self._answer(b"\x87\x00")
            return
        first, count = frame[10], frame[11] + 1
        start, end = first * BLOCK_SIZE, (first + count) * BLOCK_SIZE
        if end > len(tag.memory):
            reply = bytes([0x01, 0x10])
        else:
            reply = bytes([0x00]) + bytes(tag.memory[start:end])
        self._tag_frame(reply + _crc(reply))

    def _tag_frame(self, frame: bytes) -> None:
        if self._corrupt_next:
            self._corrupt_next = False
            frame = frame[:1] + bytes([frame[1] ^ 0x04]) + frame[2:]
        self._answer(bytes([0x80, len(frame) + 1]) + frame + b"\x00")

    def _answer(self, data: bytes) -> None:
        if self._garble_next:
            self._garble_next = False
            data = b"\x3c\xa7" + data
        self.send(data)
