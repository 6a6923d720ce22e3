"""A serial barcode scanner on a pseudo-terminal: what :class:`drivers.serial_scanner.
SerialBarcodeScanner` reads in tests and on the bench.

The scanner frames each scan as its configuration says (prefix, optional AIM symbology
identifier, data, suffix), written out here byte by byte with no help from the driver's
framing code, so the tests check the driver against the wire format itself.

Bench hooks: :meth:`ScannerPeer.scan`, :meth:`ScannerPeer.garble` (raw bytes on the line),
:meth:`~hal_sim.fakes.pty_peer.PtyPeer.unplug` and :meth:`~hal_sim.fakes.pty_peer.PtyPeer.replug`.
"""

from __future__ import annotations

from pathlib import Path

from hal_sim.fakes.pty_peer import PtyPeer

__all__ = ["ScannerPeer"]


class ScannerPeer(PtyPeer):
    """A scanner configured with ``prefix`` and ``suffix``; with ``aim``, every scan carries
    an AIM symbology identifier (``]C0`` unless the scan names another)."""

    def __init__(
        self, link: Path, *, prefix: bytes = b"", suffix: bytes = b"\r", aim: bool = False
    ) -> None:
        super().__init__(link)
        self.prefix = prefix
        self.suffix = suffix
        self.aim = aim

    def scan(self, data: str, *, symbology: str = "]C0") -> None:
        """Bench hook: a barcode is read; the scanner sends it framed."""
        identifier = symbology.encode("ascii") if self.aim else b""
        self.send(self.prefix + identifier + data.encode("ascii") + self.suffix)

    def garble(self, raw: bytes) -> None:
        """Bench hook: bytes on the line as they are (noise, a baud-rate mismatch)."""
        self.send(raw)
