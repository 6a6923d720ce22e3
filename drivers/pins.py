"""Which part owns which GPIO pin: a registry that refuses a second claim.

Like gpiozero's ``GPIOPinInUse``: a profile that wires two parts (or two roles of one part) to
the same BCM pin fails when the hardware is assembled, with
:class:`~agent.hal.errors.PartInUse` naming both, instead of two drivers fighting over one line.
One registry serves one device; it is passed to every GPIO driver, never global.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.hal.errors import PartInUse

__all__ = ["PinClaim", "PinRegistry"]

_BCM_PINS = range(54)
"""The BCM numbers RPi.GPIO accepts (``0 <= channel < 54``)."""


@dataclass(frozen=True, slots=True)
class PinClaim:
    """One pin as a part uses it: ``role`` says what for (``"coil"``, ``"feedback"``...)."""

    part: str
    role: str


class PinRegistry:
    """The BCM pins of one device and the parts holding them."""

    def __init__(self) -> None:
        self._claims: dict[int, PinClaim] = {}

    def claim(self, part: str, pins: Mapping[str, int]) -> None:
        """Claim ``pins`` (role → BCM number) for ``part``: all of them or, on a conflict, none.

        Raises :class:`PartInUse` if a pin is held already or named twice in ``pins``, and
        ``ValueError`` for a number that is not a BCM pin.
        """
        seen: dict[int, str] = {}
        for role, pin in pins.items():
            if pin not in _BCM_PINS:
                raise ValueError(f"{part}: {role} pin {pin} is not a BCM GPIO number (0-53)")
            held = self._claims.get(pin)
            if held is not None:
                raise PartInUse(
                    part, f"GPIO{pin} ({role}) is already the {held.role} of {held.part}"
                )
            if pin in seen:
                raise PartInUse(part, f"GPIO{pin} is both its {seen[pin]} and its {role}")
            seen[pin] = role
        for role, pin in pins.items():
            self._claims[pin] = PinClaim(part, role)

    def release(self, part: str) -> None:
        """Give back every pin ``part`` holds (when the part is closed)."""
        for pin in [pin for pin, claim in self._claims.items() if claim.part == part]:
            del self._claims[pin]

    def owner(self, pin: int) -> PinClaim | None:
        """Who holds ``pin``, if anyone."""
        return self._claims.get(pin)
