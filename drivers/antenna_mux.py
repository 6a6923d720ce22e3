"""An RF antenna multiplexer driven by binary select lines: the switch in front of a reader
that serves many antennas (a cabinet's 72 slot antennas and its station antenna).

The part: a tree of RF switches (1:8 or 1:2 HF switches, or a ready-made antenna multiplexer
board with a parallel select input) whose select inputs are wired to ``n`` output lines; the
antenna at position ``i`` of the reader's antenna list is selected by ``i`` in binary on those
lines, least significant bit on the first line. The lines are pins of one MCP23017
(:class:`ExpanderSelectLines`: one verified latch write switches every line at once) or BCM
pins (:class:`GpioSelectLines`, written one by one; the reader waits for the switch to settle
before it talks anyway).

:class:`BinaryAntennaMux` keeps one invariant: ``select(antenna)`` returns only once the lines
carry that antenna's code (a failed write is the HAL error of the lines, and the reader
driver selects again before its next exchange). An antenna not in the list is ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from drivers.gpio_api import GpioApi, refused, use_bcm
from drivers.mcp23017 import MCP23017
from drivers.pins import PinRegistry

__all__ = ["BinaryAntennaMux", "ExpanderSelectLines", "GpioSelectLines", "SelectLines"]


class SelectLines(Protocol):
    """``n`` output lines that carry a binary code."""

    @property
    def count(self) -> int: ...

    async def write(self, code: int) -> None: ...


class ExpanderSelectLines:
    """Select lines on pins of one MCP23017 (claimed as outputs for ``owner``)."""

    def __init__(self, chip: MCP23017, pins: Sequence[int], *, owner: str) -> None:
        self._chip = chip
        self._pins = tuple(pins)
        for pin in self._pins:
            chip.claim_output(pin, owner=owner)

    @property
    def count(self) -> int:
        return len(self._pins)

    async def write(self, code: int) -> None:
        value = sum(1 << pin for bit, pin in enumerate(self._pins) if code >> bit & 1)
        await self._chip.write_outputs(value, sum(1 << pin for pin in self._pins))


class GpioSelectLines:
    """Select lines on BCM pins, claimed for ``owner`` and set up low."""

    def __init__(
        self, gpio: GpioApi, pins: PinRegistry, lines: Sequence[int], *, owner: str
    ) -> None:
        pins.claim(owner, {f"select-{bit}": pin for bit, pin in enumerate(lines)})
        self._gpio = gpio
        self._lines = tuple(lines)
        self._owner = owner
        with refused(owner, None):
            use_bcm(gpio)
            for pin in self._lines:
                gpio.setup(pin, gpio.OUT, initial=gpio.LOW)

    @property
    def count(self) -> int:
        return len(self._lines)

    async def write(self, code: int) -> None:
        gpio = self._gpio
        for bit, pin in enumerate(self._lines):
            with refused(self._owner, pin):
                gpio.output(pin, gpio.HIGH if code >> bit & 1 else gpio.LOW)


class BinaryAntennaMux:
    """Selects ``antennas[i]`` by writing ``i`` on ``lines``; see the module docstring."""

    def __init__(self, antennas: Sequence[str], lines: SelectLines) -> None:
        if len(antennas) > 1 << lines.count:
            raise ValueError(
                f"{len(antennas)} antennas need {(len(antennas) - 1).bit_length()} select"
                f" lines, {lines.count} given"
            )
        self._codes = {antenna: index for index, antenna in enumerate(antennas)}
        self._lines = lines

    async def select(self, antenna: str) -> None:
        code = self._codes.get(antenna)
        if code is None:
            raise ValueError(f"the multiplexer has no antenna {antenna!r}")
        await self._lines.write(code)
