"""The Dallas/Maxim 1-Wire CRC-8 that guards every 1-Wire ROM code and the DS18B20 scratchpad.

Followed: Maxim Application Note 27, "Understanding and Using Cyclic Redundancy Checks with
Maxim 1-Wire and iButton Products", and the DS18B20 datasheet ("CRC Generation"): polynomial
X^8 + X^5 + X^4 + 1, shift register cleared to 0, data shifted in least significant bit first.
In the reflected form that is polynomial 0x8C with no final XOR (CRC-8/MAXIM). Run over data
followed by its own CRC, the register ends at 0. A pure function; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["crc8"]

_POLY_REFLECTED = 0x8C


def crc8(data: Iterable[int]) -> int:
    """The 1-Wire CRC-8 of ``data`` (bytes, or ints 0-255)."""
    crc = 0
    for byte in data:
        if not 0 <= byte <= 0xFF:
            raise ValueError(f"not a byte: {byte}")
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
    return crc
