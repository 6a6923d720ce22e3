"""A register-level model of the Microchip MCP23017 16-bit I2C I/O expander, for
:class:`~hal_sim.fakes.smbus.FakeSMBus`.

Follows the MCP23017/MCP23S17 datasheet (Microchip DS20001952D), section 3.5 and Table 3-5
"Control register summary (IOCON.BANK = 0)": eleven A/B register pairs at 0x00-0x15, reset
values IODIR = 0xFF and 0x00 for all others; the address pointer increments after each byte
(IOCON.SEQOP = 0) and rolls over from 0x15 to 0x00, or toggles within an A/B pair (SEQOP = 1).
IOCON is at both 0x0A and 0x0B. Only BANK = 0 addressing is modelled: setting IOCON.BANK raises
``ValueError``, so a driver that tries it fails loudly instead of talking to a wrong map.

Pins are numbered 0-15: GPA0-GPA7 are 0-7, GPB0-GPB7 are 8-15, so an A/B pair read as one
SMBus word (port A first on the wire) is bit ``n`` = pin ``n``.

* An output pin (IODIR bit 0) drives its OLAT bit; writing GPIO writes OLAT (3.5.10, 3.5.11).
* An input pin reads what the bench drives on it, else its 100 kOhm pull-up (GPPU) high, else
  low (a floating CMOS input is undefined on the chip; the fake picks low). GPIO shows the input
  through IPOL (inverted where IPOL is set).
* Interrupt-on-change (3.6): an enabled input (GPINTEN) interrupts when it differs from its
  previous value (INTCON = 0) or from DEFVAL (INTCON = 1). The port's INTF gets the pin's bit
  and INTCAP captures the port's GPIO value; both hold until the interrupt is cleared by reading
  that port's GPIO or INTCAP (further changes meanwhile are not latched, a simplification). A
  DEFVAL mismatch still present after clearing interrupts again. INTA/INTB follow ports A/B, or
  both follow either when IOCON.MIRROR is set; :meth:`FakeMCP23017.interrupt_output` reports
  the pin's electrical level (active low unless INTPOL; open drain released = high when ODR).

Bench hooks: :meth:`~FakeMCP23017.drive` / :meth:`~FakeMCP23017.float_pin` an input,
:meth:`~FakeMCP23017.output` to read an output, :meth:`~FakeMCP23017.interrupt_asserted`,
:meth:`~FakeMCP23017.subscribe` to hear every change (how :class:`FakeSolenoidLatch` follows
its solenoid). :class:`FakeSolenoidLatch` is a fail-secure lock wired to two pins, with
:meth:`~FakeSolenoidLatch.jam`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

__all__ = ["FakeMCP23017", "FakeSolenoidLatch", "Reg"]


class Reg(enum.IntEnum):
    """Register addresses with IOCON.BANK = 0 (Table 3-5)."""

    IODIRA = 0x00
    IODIRB = 0x01
    IPOLA = 0x02
    IPOLB = 0x03
    GPINTENA = 0x04
    GPINTENB = 0x05
    DEFVALA = 0x06
    DEFVALB = 0x07
    INTCONA = 0x08
    INTCONB = 0x09
    IOCON = 0x0A
    IOCON_ALIAS = 0x0B
    GPPUA = 0x0C
    GPPUB = 0x0D
    INTFA = 0x0E
    INTFB = 0x0F
    INTCAPA = 0x10
    INTCAPB = 0x11
    GPIOA = 0x12
    GPIOB = 0x13
    OLATA = 0x14
    OLATB = 0x15


_REGISTER_COUNT = 0x16

IOCON_BANK = 0x80
IOCON_MIRROR = 0x40
IOCON_SEQOP = 0x20
IOCON_ODR = 0x04
IOCON_INTPOL = 0x02
_IOCON_IMPLEMENTED = 0xFE
"""IOCON bit 0 is unimplemented and reads 0."""

_READ_ONLY = frozenset({Reg.INTFA, Reg.INTFB, Reg.INTCAPA, Reg.INTCAPB})


class FakeMCP23017:
    """One MCP23017: registers, pins and interrupt logic (see the module docstring)."""

    def __init__(self) -> None:
        self._regs = [0] * _REGISTER_COUNT
        self._pointer = 0
        self._driven: list[bool | None] = [None] * 16
        self._previous = 0
        self._listeners: list[Callable[[], None]] = []
        self.power_on_reset()

    # --- I2C target ---------------------------------------------------------------------------

    def power_on_reset(self) -> None:
        """Registers to their POR values; what the bench drives on the pins stays."""
        self._regs = [0] * _REGISTER_COUNT
        self._regs[Reg.IODIRA] = 0xFF
        self._regs[Reg.IODIRB] = 0xFF
        self._pointer = 0
        self._previous = self._gpio()
        self._changed()

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pointer = data[0]
        for value in data[1:]:
            self._write_register(self._pointer, value)
            self._advance()
        self._changed()

    def read(self, length: int) -> bytes:
        out = bytearray()
        for _ in range(length):
            out.append(self._read_register(self._pointer))
            self._advance()
        self._changed()
        return bytes(out)

    def _advance(self) -> None:
        if self._pointer >= _REGISTER_COUNT:
            return
        if self._regs[Reg.IOCON] & IOCON_SEQOP:
            self._pointer ^= 1
        else:
            self._pointer = (self._pointer + 1) % _REGISTER_COUNT

    def _read_register(self, register: int) -> int:
        if register >= _REGISTER_COUNT:
            return 0
        if register in (Reg.GPIOA, Reg.INTCAPA):
            value = self._gpio() & 0xFF if register == Reg.GPIOA else self._regs[register]
            self._clear_interrupt(0)
            return value
        if register in (Reg.GPIOB, Reg.INTCAPB):
            value = self._gpio() >> 8 if register == Reg.GPIOB else self._regs[register]
            self._clear_interrupt(1)
            return value
        if register == Reg.IOCON_ALIAS:
            return self._regs[Reg.IOCON]
        return self._regs[register]

    def _write_register(self, register: int, value: int) -> None:
        if register >= _REGISTER_COUNT or register in _READ_ONLY:
            return
        if register in (Reg.IOCON, Reg.IOCON_ALIAS):
            if value & IOCON_BANK:
                raise ValueError("the fake MCP23017 models IOCON.BANK = 0 addressing only")
            self._regs[Reg.IOCON] = value & _IOCON_IMPLEMENTED
            return
        if register in (Reg.GPIOA, Reg.GPIOB):
            register += Reg.OLATA - Reg.GPIOA
        self._regs[register] = value

    # --- pins -----------------------------------------------------------------------------------

    def _word(self, low: Reg) -> int:
        return self._regs[low] | self._regs[low + 1] << 8

    def _level(self, pin: int) -> bool:
        bit = 1 << pin
        if not self._word(Reg.IODIRA) & bit:
            return bool(self._word(Reg.OLATA) & bit)
        driven = self._driven[pin]
        if driven is not None:
            return driven
        return bool(self._word(Reg.GPPUA) & bit)

    def _gpio(self) -> int:
        """The GPIO pair as read: pin levels, inputs through IPOL."""
        inputs = self._word(Reg.IODIRA)
        levels = sum(1 << pin for pin in range(16) if self._level(pin))
        return levels ^ (self._word(Reg.IPOLA) & inputs)

    # --- interrupts -----------------------------------------------------------------------------

    def _clear_interrupt(self, port: int) -> None:
        self._regs[Reg.INTFA + port] = 0

    def _check_interrupts(self) -> None:
        gpio = self._gpio()
        enabled = self._word(Reg.GPINTENA) & self._word(Reg.IODIRA)
        against_defval = self._word(Reg.INTCONA)
        reference = (self._word(Reg.DEFVALA) & against_defval) | (self._previous & ~against_defval)
        firing = (gpio ^ reference) & enabled
        for port in (0, 1):
            port_firing = (firing >> (8 * port)) & 0xFF
            if port_firing and not self._regs[Reg.INTFA + port]:
                self._regs[Reg.INTFA + port] = port_firing
                self._regs[Reg.INTCAPA + port] = (gpio >> (8 * port)) & 0xFF
        self._previous = gpio

    def interrupt_asserted(self, port: str) -> bool:
        """Whether INTA (``port="A"``) or INTB (``"B"``) is asserted."""
        pending_a = bool(self._regs[Reg.INTFA])
        pending_b = bool(self._regs[Reg.INTFB])
        if self._regs[Reg.IOCON] & IOCON_MIRROR:
            return pending_a or pending_b
        if port == "A":
            return pending_a
        if port == "B":
            return pending_b
        raise ValueError(f"the MCP23017 has INTA and INTB, not INT{port}")

    def interrupt_output(self, port: str) -> bool | None:
        """The INTA/INTB pin's level: ``None`` when an open-drain output is released (the
        board's pull-up decides), else high (``True``) or low."""
        asserted = self.interrupt_asserted(port)
        iocon = self._regs[Reg.IOCON]
        if iocon & IOCON_ODR:
            return False if asserted else None
        active_high = bool(iocon & IOCON_INTPOL)
        return asserted == active_high

    # --- bench hooks ----------------------------------------------------------------------------

    def drive(self, pin: int, level: bool) -> None:
        """Drive an input pin high or low from outside (a switch, a sensor)."""
        self._driven[_check_pin(pin)] = level
        self._changed()

    def float_pin(self, pin: int) -> None:
        """Stop driving a pin: it reads its pull-up, if enabled."""
        self._driven[_check_pin(pin)] = None
        self._changed()

    def driven(self, pin: int) -> bool | None:
        """The level the bench drives on a pin, or ``None`` if it does not."""
        return self._driven[_check_pin(pin)]

    def output(self, pin: int) -> bool | None:
        """The level an output pin drives, or ``None`` if the pin is an input."""
        bit = 1 << _check_pin(pin)
        if self._word(Reg.IODIRA) & bit:
            return None
        return bool(self._word(Reg.OLATA) & bit)

    def register(self, register: Reg) -> int:
        """A register's value, without the side effects of reading it over the bus."""
        return self._regs[register]

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every change of registers or pins."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        self._check_interrupts()
        for listener in self._listeners:
            listener()


def _check_pin(pin: int) -> int:
    if not 0 <= pin <= 15:
        raise ValueError(f"MCP23017 pins are 0-15 (GPA0-GPB7), not {pin}")
    return pin


class FakeSolenoidLatch:
    """A fail-secure solenoid lock wired to expander pins: the solenoid's driver on an output
    pin (high = energised = released), the latch's microswitch on an input pin, reading
    ``locked_level`` while the bolt is thrown (default low: the switch closes to ground).

    The latch follows the solenoid at once, unless :meth:`jam`-med, when it stays locked.
    """

    def __init__(
        self,
        solenoid: tuple[FakeMCP23017, int],
        feedback: tuple[FakeMCP23017, int],
        *,
        locked_level: bool = False,
    ) -> None:
        self._solenoid_chip, self._solenoid_pin = solenoid
        self._feedback_chip, self._feedback_pin = feedback
        self._locked_level = locked_level
        self.jammed = False
        self.locked = True
        self._solenoid_chip.subscribe(self._follow)
        self._follow()

    def jam(self) -> None:
        """The bolt sticks: it stays thrown whatever the solenoid does."""
        self.jammed = True
        self._follow()

    def free(self) -> None:
        self.jammed = False
        self._follow()

    def _follow(self) -> None:
        energised = self._solenoid_chip.output(self._solenoid_pin) is True
        locked = self.jammed or not energised
        level = self._locked_level if locked else not self._locked_level
        if locked == self.locked and self._feedback_chip.driven(self._feedback_pin) == level:
            return
        self.locked = locked
        self._feedback_chip.drive(self._feedback_pin, level)
