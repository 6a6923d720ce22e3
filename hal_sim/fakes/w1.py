"""A fake Linux 1-Wire sysfs tree (``/sys/bus/w1/devices``) with DS18B20 thermometers in it.

Each probe is a ``28-<serial>/w1_slave`` file holding what the kernel's ``w1_therm`` driver would
print for the probe's state: the nine scratchpad bytes (DS18B20 datasheet memory map: temperature
LSB and MSB, TH 0x4B, TL 0x46, configuration 0x1F | resolution, 0xFF, COUNT REMAIN, 0x10, CRC),
the CRC byte with the kernel's YES/NO verdict, and ``t=`` in millidegrees computed as the kernel
does. The encoder here is written independently of :mod:`drivers.ds18b20` (its own CRC as the
application note's shift register, its own formatting), so tests of the driver check its parsing
against a second reading of the datasheet. Files are replaced atomically, so a driver reading in
a thread never sees half a file.

Bench hooks on :class:`FakeDs18b20`: :meth:`~FakeDs18b20.set_temperature`,
:meth:`~FakeDs18b20.set_resolution`, :meth:`~FakeDs18b20.power_on_reset` (the 85 °C scratchpad),
:meth:`~FakeDs18b20.corrupt_crc`, :meth:`~FakeDs18b20.set_scratchpad` (any bytes, e.g. a bus
held low), :meth:`~FakeDs18b20.unplug` (the directory goes, as the kernel removes a device that
stopped answering) and :meth:`~FakeDs18b20.replug`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["FakeDs18b20", "FakeW1Bus", "w1_slave_text"]

_TH = 0x4B
_TL = 0x46
_POWER_ON_SCRATCHPAD = bytes([0x50, 0x05, _TH, _TL, 0x7F, 0xFF, 0x0C, 0x10, 0x1C])
"""The scratchpad at power-up (DS18B20 datasheet, "Memory"): +85 °C, 12 bits."""


def _dow_crc(data: bytes) -> int:
    """1-Wire CRC-8 as AN27's circuit computes it: X^8 + X^5 + X^4 + 1, stages cleared, each
    byte shifted in least significant bit first; the feedback (input bit XOR stage 0) enters
    the top stage and is XORed into the stages behind the X^4 and X^5 taps."""
    stages = [0] * 8
    for byte in data:
        for position in range(8):
            feedback = (byte >> position & 1) ^ stages[0]
            stages = [*stages[1:], feedback]
            stages[2] ^= feedback
            stages[3] ^= feedback
    return sum(bit << index for index, bit in enumerate(stages))


class FakeDs18b20:
    """One fake DS18B20 on a :class:`FakeW1Bus`; starts converted, at ``celsius``."""

    def __init__(self, root: Path, device_id: str, *, celsius: float, resolution_bits: int) -> None:
        self.device_id = device_id
        self.directory = root / device_id
        self._root = root
        self._plugged = True
        self._resolution_bits = 12
        self._scratchpad = b""
        self.set_resolution(resolution_bits)
        self.set_temperature(celsius)

    @property
    def w1_slave(self) -> Path:
        return self.directory / "w1_slave"

    def set_temperature(self, celsius: float) -> None:
        """Convert ``celsius`` (rounded to the resolution); also clears a corrupted CRC."""
        step = 1 << (12 - self._resolution_bits)
        register = round(celsius * 16 / step) * step
        if not -0x8000 <= register <= 0x7FFF:
            raise ValueError(f"{celsius} °C does not fit the temperature register")
        unsigned = register & 0xFFFF
        config = 0x1F | (self._resolution_bits - 9) << 5
        count_remain = 0x10 - (unsigned & 0x0F)
        self.set_scratchpad(
            bytes([unsigned & 0xFF, unsigned >> 8, _TH, _TL, config, 0xFF, count_remain, 0x10])
        )

    def set_resolution(self, bits: int) -> None:
        """Write the configuration register's resolution (9-12 bits); applies from the next
        :meth:`set_temperature`."""
        if bits not in range(9, 13):
            raise ValueError(f"resolution must be 9-12 bits, got {bits}")
        self._resolution_bits = bits

    def power_on_reset(self) -> None:
        """The probe lost power and has not converted since: the 85 °C scratchpad."""
        self.set_scratchpad(_POWER_ON_SCRATCHPAD)

    def corrupt_crc(self) -> None:
        """A bit flipped on the wire: the CRC byte is wrong and the kernel says NO, until the
        next :meth:`set_temperature`."""
        pad = bytearray(self._scratchpad)
        pad[8] ^= 0x21
        self._write(bytes(pad))

    def set_scratchpad(self, scratchpad: bytes) -> None:
        """Show ``scratchpad``: 8 bytes get their CRC appended, 9 are shown as given."""
        if len(scratchpad) == 8:
            scratchpad += bytes([_dow_crc(scratchpad)])
        if len(scratchpad) != 9:
            raise ValueError(f"a scratchpad is 8 or 9 bytes, got {len(scratchpad)}")
        self._write(scratchpad)

    def unplug(self) -> None:
        """The probe stops answering and the kernel drops its directory."""
        self._plugged = False
        shutil.rmtree(self.directory, ignore_errors=True)

    def replug(self) -> None:
        """The probe is found on the bus again, with the scratchpad it had."""
        self._plugged = True
        self._write(self._scratchpad)

    def _write(self, scratchpad: bytes) -> None:
        self._scratchpad = scratchpad
        if not self._plugged:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._root, prefix=".w1_slave.")
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(w1_slave_text(scratchpad))
        Path(temporary).replace(self.w1_slave)


def w1_slave_text(scratchpad: bytes) -> str:
    """What ``w1_therm`` prints for the nine bytes of ``scratchpad``."""
    verdict = "YES" if _dow_crc(scratchpad[:8]) == scratchpad[8] else "NO"
    register = int.from_bytes(scratchpad[:2], "little", signed=True)
    millidegrees = int(register * 1000 / 16)
    hex_bytes = "".join(f"{byte:02x} " for byte in scratchpad)
    return f"{hex_bytes}: crc={scratchpad[8]:02x} {verdict}\n{hex_bytes}t={millidegrees}\n"


class FakeW1Bus:
    """A 1-Wire bus master's device directory; pass :attr:`root` to the driver as its base
    directory. Without ``root`` it lives in a temporary directory that :meth:`close` removes."""

    def __init__(self, root: Path | None = None) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="fake-w1-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self._serials = 0

    def add_ds18b20(
        self, device_id: str | None = None, *, celsius: float = 4.0, resolution_bits: int = 12
    ) -> FakeDs18b20:
        """Put a DS18B20 on the bus; ``device_id`` defaults to the next ``28-00000000000n``."""
        if device_id is None:
            self._serials += 1
            device_id = f"28-{self._serials:012x}"
        return FakeDs18b20(self.root, device_id, celsius=celsius, resolution_bits=resolution_bits)

    def close(self) -> None:
        """Remove the tree if this bus made it."""
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)
