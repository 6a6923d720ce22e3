"""What the hardware abstraction layer raises.

Every backend - a real driver or a simulated part - reports trouble with these and nothing
else, so the services above can tell "the part is silent" from "the part answered nonsense"
from "the part answered but the mechanism did not move" without knowing which bus it is on.
"""

from __future__ import annotations

__all__ = [
    "HalError",
    "LockJammed",
    "PartInUse",
    "PartNotResponding",
    "ReadFailed",
]


class HalError(Exception):
    """A part could not do what was asked. ``part`` names it as the configuration does."""

    def __init__(self, part: str, detail: str) -> None:
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.detail = detail


class PartNotResponding(HalError):
    """The part did not answer: a bus timeout, an I2C NACK, an unplugged USB reader,
    a 1-Wire device gone from the bus, a simulated disconnection."""


class ReadFailed(HalError):
    """The part answered, but what it said cannot be used: a CRC error, a garbled frame,
    a value outside what the part can physically report."""


class LockJammed(HalError):
    """A lock was driven but its feedback says the latch did not move."""


class PartInUse(HalError):
    """A part (a pin, a bus address, a serial port) was claimed twice.

    Raised when hardware is assembled, so a profile that wires two parts to one pin fails at
    start-up instead of behaving strangely later.
    """
