"""An NXP PN532 on its HSU (UART) interface, on a pseudo-terminal, with a badge field.

Speaks UM0701-02's host link as the chip does, written here from the manual with no help from
the driver's :mod:`drivers.pn532_frames`, so tests check the driver against the wire format:

* asleep after power-up (and after :meth:`Pn532Peer.recover`): frames are ignored until the
  host's ``0x55`` wake-up byte arrives, and every command but SAMConfiguration is ignored until
  SAMConfiguration has put the chip in normal mode;
* a well-formed command frame is answered with an ACK frame, then its response frame;
  a frame with a bad length or data checksum is ignored (the host times out); an unknown
  command gets the error frame; an ACK from the host aborts (nothing pending here);
* InListPassiveTarget (106 kbps type A) lists the badge on the antenna: SENS_RES ``00 04``,
  SEL_RES ``08`` (a MIFARE Classic 1K), its NFCID1 - or no target.

Bench hooks: :meth:`Pn532Peer.present` and :meth:`Pn532Peer.remove` (a badge on the antenna),
:meth:`Pn532Peer.garble_next` (the next response frame goes out with a wrong DCS),
:meth:`Pn532Peer.garble` (raw bytes on the line), :meth:`Pn532Peer.go_silent` and
:meth:`Pn532Peer.recover` (a hung chip, then a power cycle), and unplug / replug.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hal_sim.fakes.pty_peer import PtyPeer

__all__ = ["Pn532Peer"]

_ACK = bytes([0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00])
_SYNTAX_ERROR = bytes([0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00])
_FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, version 1.6, supports ISO A, B, 18092

_GET_FIRMWARE_VERSION = 0x02
_SAM_CONFIGURATION = 0x14
_RF_CONFIGURATION = 0x32
_IN_LIST_PASSIVE_TARGET = 0x4A


def _response_frame(data: bytes) -> bytes:
    """``00 00 FF LEN LCS D5 data DCS 00`` (normal information frame, PN532 to host)."""
    body = bytes([0xD5]) + data
    length = len(body)
    lcs = (0x100 - length) % 0x100
    dcs = (0x100 - sum(body) % 0x100) % 0x100
    return bytes([0x00, 0x00, 0xFF, length, lcs]) + body + bytes([dcs, 0x00])


class Pn532Peer(PtyPeer):
    """A PN532 behind ``link``. ``commands`` records the command codes it answered."""

    def __init__(self, link: Path) -> None:
        super().__init__(link)
        self.badge: bytes | None = None
        self.commands: list[int] = []
        self.silent = False
        self._garble_next = False
        self._awake = False
        self._configured = False
        self._inbox = bytearray()
        self._answered = asyncio.Event()

    async def wait_for_command(self, code: int, *, total: int = 1, timeout_s: float = 2.0) -> None:
        """Wait until :attr:`commands` holds ``total`` answers to command ``code``."""
        async with asyncio.timeout(timeout_s):
            while self.commands.count(code) < total:
                self._answered.clear()
                await self._answered.wait()

    def present(self, uid: str) -> None:
        """Bench hook: hold a badge with NFCID1 ``uid`` (hex, 4 or 7 bytes) on the antenna."""
        self.badge = bytes.fromhex(uid)

    def remove(self) -> None:
        """Bench hook: take the badge away."""
        self.badge = None

    def garble_next(self) -> None:
        """Bench hook: the next response frame is corrupted on the line (its DCS is wrong)."""
        self._garble_next = True

    def garble(self, raw: bytes) -> None:
        """Bench hook: bytes on the line as they are."""
        self.send(raw)

    def go_silent(self) -> None:
        """Bench hook: the chip hangs: it hears nothing and says nothing."""
        self.silent = True

    def recover(self) -> None:
        """Bench hook: power cycle: the chip answers again, asleep and unconfigured."""
        self.silent = False
        self.plugged_in()

    def plugged_in(self) -> None:
        self._awake = False
        self._configured = False
        self._inbox.clear()

    def received(self, data: bytes) -> None:
        if self.silent:
            return
        self._inbox += data
        while True:
            start = self._inbox.find(b"\x00\xff")
            if start < 0:
                self._wake_on(self._inbox)
                del self._inbox[: max(0, len(self._inbox) - 1)]
                return
            self._wake_on(self._inbox[:start])
            frame = self._inbox[start + 2 :]
            if len(frame) < 2:
                return
            length, lcs = frame[0], frame[1]
            if (length, lcs) in ((0x00, 0xFF), (0xFF, 0x00)):  # ACK (abort) or NACK
                del self._inbox[: start + 4]
                continue
            if (length + lcs) % 0x100 != 0 or length == 0:
                del self._inbox[: start + 2]
                continue
            if len(frame) < 2 + length + 1:
                return
            body = bytes(frame[2 : 2 + length])
            dcs = frame[2 + length]
            del self._inbox[: start + 2 + 2 + length + 1]
            if (sum(body) + dcs) % 0x100 == 0 and body[0] == 0xD4 and self._awake:
                self._command(body[1], body[2:])

    def _wake_on(self, leading: bytearray) -> None:
        if 0x55 in leading:
            self._awake = True

    def _command(self, code: int, params: bytes) -> None:
        if not self._configured and code != _SAM_CONFIGURATION:
            return
        self.commands.append(code)
        self._answered.set()
        self.send(_ACK)
        if code == _SAM_CONFIGURATION:
            self._configured = True
            self._respond(bytes([code + 1]))
        elif code == _RF_CONFIGURATION:
            self._respond(bytes([code + 1]))
        elif code == _GET_FIRMWARE_VERSION:
            self._respond(bytes([code + 1]) + _FIRMWARE)
        elif code == _IN_LIST_PASSIVE_TARGET and params[:2] == b"\x01\x00":
            if self.badge is None:
                self._respond(bytes([code + 1, 0x00]))
            else:
                target = bytes([0x01, 0x00, 0x04, 0x08, len(self.badge)]) + self.badge
                self._respond(bytes([code + 1, 0x01]) + target)
        else:
            self.send(_SYNTAX_ERROR)

    def _respond(self, data: bytes) -> None:
        frame = bytearray(_response_frame(data))
        if self._garble_next:
            self._garble_next = False
            frame[-2] ^= 0x5A
        self.send(bytes(frame))
