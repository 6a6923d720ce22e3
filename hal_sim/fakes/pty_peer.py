"""A serial part's far end on a pseudo-terminal, for drivers to open as a real serial port.

The driver under test opens :attr:`PtyPeer.port` with pyserial exactly as it would open
``/dev/ttyUSB0``; the peer serves the master side on the running event loop (``add_reader``,
no thread). :attr:`port` is a symbolic link to the current pseudo-terminal, standing in for the
stable ``/dev/serial/by-id/...`` link udev gives a USB serial adapter: :meth:`unplug` closes the
pseudo-terminal and removes the link (the driver's reads fail, opening fails), :meth:`replug`
makes a new pseudo-terminal behind the same link, as a USB adapter plugged back in gets a new
``ttyUSBn`` behind the same by-id name.

The master runs in packet mode (``TIOCPKT``), so the peer sees the driver open the port:
pyserial flushes the port's input when it opens it (``tcflush``), which the master reads as a
``TIOCPKT_FLUSHREAD`` packet. Bytes a part sends before that are lost, as on real hardware;
:meth:`wait_open` lets a test send only once the driver is listening, and a bench that cannot
wait sets :attr:`PtyPeer.hold_until_open`: then what is sent before the driver has opened the
port since the last (re)plug is held and sent, in order, as soon as it does.

Subclasses emulate a part: :meth:`received` gets what the driver wrote, :meth:`send` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
import tty
from pathlib import Path

__all__ = ["PtyPeer"]

_READ_SIZE = 4096


class PtyPeer:
    """The master side of a pseudo-terminal behind the link ``link``. Must be started, and
    used, on a running event loop."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.plugged = False
        self.written = bytearray()
        """Everything the driver wrote, for tests that check bytes on the wire."""
        self._master: int | None = None
        self._slave: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox = bytearray()
        self._opened = asyncio.Event()
        self.opens = 0
        """How many times the driver opened the port."""
        self.hold_until_open = False
        """Hold what is sent until the driver has opened the port (see the module docstring)."""
        self._open_since_plug = False
        self._held = bytearray()

    @property
    def port(self) -> str:
        """What the driver opens."""
        return str(self.link)

    def start(self) -> None:
        """Plug the part in."""
        self._loop = asyncio.get_running_loop()
        self.replug()

    def replug(self) -> None:
        """Bench hook: plug the part (back) in, behind the same link."""
        if self.plugged:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self.link.symlink_to(os.ttyname(slave))
        assert self._loop is not None, "start() the peer first"
        self._loop.add_reader(master, self._readable)
        self.plugged = True
        self._open_since_plug = False
        self.plugged_in()

    def unplug(self) -> None:
        """Bench hook: pull the part out: the port goes away mid-stream."""
        if not self.plugged:
            return
        self.plugged = False
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        master, slave = self._master, self._slave
        self._master = self._slave = None
        self._outbox.clear()
        self._held.clear()
        if master is not None:
            assert self._loop is not None
            self._loop.remove_reader(master)
            self._loop.remove_writer(master)
            os.close(master)
        if slave is not None:
            os.close(slave)

    def close(self) -> None:
        self.unplug()

    def send(self, data: bytes) -> None:
        """Write ``data`` to the driver (dropped while unplugged). What the pseudo-terminal
        cannot take now is written when it can, in order."""
        if self._master is None or not data:
            return
        if self.hold_until_open and not self._open_since_plug:
            self._held += data
            return
        had_pending = bool(self._outbox)
        self._outbox += data
        if not had_pending:
            self._flush()

    def _flush(self) -> None:
        master = self._master
        if master is None:
            return
        try:
            while self._outbox:
                written = os.write(master, self._outbox)
                del self._outbox[:written]
        except BlockingIOError:
            assert self._loop is not None
            self._loop.add_writer(master, self._flush)
            return
        assert self._loop is not None
        self._loop.remove_writer(master)

    def received(self, data: bytes) -> None:
        """The driver wrote ``data``; a part answers here. The base part ignores it."""

    def plugged_in(self) -> None:
        """The part was (re)plugged: a part resets its state here. The base part has none."""

    def _readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: no process holds the slave side open
            return
        if not data:
            return
        if data[0] != termios.TIOCPKT_DATA:
            if data[0] & termios.TIOCPKT_FLUSHREAD:
                self.opens += 1
                self._opened.set()
                self._open_since_plug = True
                held, self._held = bytes(self._held), bytearray()
                self.send(held)
            return
        self.written += data[1:]
        self.received(data[1:])

    async def wait_open(self, timeout_s: float = 2.0) -> None:
        """Wait until the driver (re)opens the port; ``TimeoutError`` if it does not."""
        async with asyncio.timeout(timeout_s):
            await self._opened.wait()
        self._opened.clear()
