"""Driver for the Microchip MCP23017 16-bit I2C I/O expander (smbus2).

Follows the MCP23017/MCP23S17 datasheet (Microchip DS20001952D): register map of Table 3-5
with IOCON.BANK = 0 (the power-on default, and the only addressing this driver uses), so each
A/B register pair is one SMBus word with port A in the low byte (sequential addressing,
IOCON.SEQOP = 0). Pins are numbered 0-15: GPA0-GPA7 = 0-7, GPB0-GPB7 = 8-15, and every 16-bit
mask below has bit ``n`` for pin ``n``.

GPA7 and GPB7 are output-only: revision D of the datasheet (2022) withdrew their input function
(the pins can corrupt SDA when read as inputs), so :meth:`MCP23017.claim_input` refuses pins 7
and 15.

Several HAL parts share one chip (a slot's lock, presence sensor and light), so the chip keeps
the pin claims (a pin claimed twice is :class:`~agent.hal.errors.PartInUse`, found at assembly),
serialises its read-modify-write cycles with an :class:`asyncio.Lock`, and remembers the output
latch it commanded. Invariants it keeps:

* An output write is verified by reading back the output latch OLAT; a mismatch is
  :class:`~agent.hal.errors.ReadFailed` (the chip or the bus answered nonsense).
* Before every operation the chip's IODIR is read back: a chip that lost its configuration
  (a power-on reset after a brown-out or a replug, IODIR = 0xFFFF) is configured again, its
  latch restored from the last command, so a part recovers by itself; if the configuration does
  not read back after writing it, that is ReadFailed. Unclaimed pins are outputs driven low,
  never floating inputs, so a configured chip never reads IODIR = 0xFFFF.
* The first configuration drives every output low: solenoids off (fail-secure locks engaged),
  lights off, whatever an earlier run left in the latch.

Interrupts: inputs claimed with ``interrupt=True`` get interrupt-on-change against their
previous value (GPINTEN set, INTCON clear). INTA and INTB are mirrored and open-drain
(IOCON.MIRROR, IOCON.ODR) so that the INT lines of several chips can share one Pi input with a
pull-up; :meth:`MCP23017.read_interrupt` reads INTF and INTCAP (which clears the interrupt). A
part without a wired INT line polls :meth:`MCP23017.read_inputs`, whose ``max_age_s`` lets the
parts on one chip share a recent read instead of each reading the bus.

Bus transactions are blocking smbus calls made inline (one takes well under a millisecond, see
:mod:`drivers.i2c_bus`); retries and waits are ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from agent.hal.errors import PartInUse, ReadFailed
from drivers.i2c_bus import DEFAULT_RETRY, I2CDevice, RetryPolicy, SMBusLike

__all__ = [
    "IOCON_CONFIG",
    "MCP23017",
    "OUTPUT_ONLY_PINS",
    "InterruptCapture",
    "PortConfig",
    "Reg",
    "pin_label",
]


class Reg(enum.IntEnum):
    """Register addresses with IOCON.BANK = 0 (DS20001952D Table 3-5)."""

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


IOCON_MIRROR = 0x40
IOCON_ODR = 0x04
IOCON_CONFIG = IOCON_MIRROR | IOCON_ODR
"""BANK = 0, MIRROR = 1, SEQOP = 0 (sequential), DISSLW = 0, HAEN = 0, ODR = 1, INTPOL = 0."""

OUTPUT_ONLY_PINS = frozenset({7, 15})
"""GPA7 and GPB7 (DS20001952D, 2022: output only)."""

_ALL_PINS = 0xFFFF


def pin_label(pin: int) -> str:
    """The datasheet's name of a pin number: 0 -> ``GPA0``, 15 -> ``GPB7``."""
    if not 0 <= pin <= 15:
        raise ValueError(f"MCP23017 pins are 0-15 (GPA0-GPB7), not {pin}")
    return f"GP{'AB'[pin // 8]}{pin % 8}"


@dataclass(frozen=True, slots=True)
class PortConfig:
    """The chip's configuration as 16-bit masks (bit n = pin n): IODIR, GPPU, GPINTEN."""

    inputs: int = 0
    pull_ups: int = 0
    interrupt_on_change: int = 0

    def __post_init__(self) -> None:
        for field_name in ("inputs", "pull_ups", "interrupt_on_change"):
            value = getattr(self, field_name)
            if not 0 <= value <= _ALL_PINS:
                raise ValueError(f"{field_name} must be a 16-bit mask, got {value!r}")
        if self.inputs & _mask(OUTPUT_ONLY_PINS):
            raise ValueError("GPA7 and GPB7 are output-only on the MCP23017")
        if (self.pull_ups | self.interrupt_on_change) & ~self.inputs:
            raise ValueError("pull-ups and interrupt-on-change apply to input pins only")


@dataclass(frozen=True, slots=True)
class InterruptCapture:
    """What INTF and INTCAP said: which pins interrupted, and the inputs at that moment."""

    flags: int
    captured: int


def _mask(pins: frozenset[int] | set[int]) -> int:
    return sum(1 << pin for pin in pins)


class MCP23017:
    """One MCP23017 on a bus at ``address`` (0x20-0x27); errors name it ``name``."""

    def __init__(
        self,
        bus: SMBusLike,
        address: int,
        *,
        name: str,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if not 0x20 <= address <= 0x27:
            raise ValueError(f"an MCP23017 answers at 0x20-0x27, not {address:#x}")
        self.name = name
        self.address = address
        self._device = I2CDevice(bus, address, name=name, retry=retry)
        self._owners: dict[int, str] = {}
        self._inputs: set[int] = set()
        self._pull_ups: set[int] = set()
        self._interrupts: set[int] = set()
        self._latch = 0
        self._configured: PortConfig | None = None
        self._snapshot: tuple[float, int] | None = None
        self._lock = asyncio.Lock()

    # --- claims ---------------------------------------------------------------------------------

    def claim_input(
        self, pin: int, *, owner: str, pull_up: bool = True, interrupt: bool = False
    ) -> None:
        """Reserve ``pin`` as an input for ``owner``, with its 100 kOhm pull-up by default."""
        if pin in OUTPUT_ONLY_PINS:
            raise ValueError(f"{self.name}: {pin_label(pin)} is output-only on the MCP23017")
        self._claim(pin, owner)
        self._inputs.add(pin)
        if pull_up:
            self._pull_ups.add(pin)
        if interrupt:
            self._interrupts.add(pin)

    def claim_output(self, pin: int, *, owner: str) -> None:
        """Reserve ``pin`` as an output for ``owner``; it starts low."""
        self._claim(pin, owner)

    def _claim(self, pin: int, owner: str) -> None:
        label = pin_label(pin)
        holder = self._owners.get(pin)
        if holder is not None:
            raise PartInUse(owner, f"{self.name} {label} is already used by {holder}")
        self._owners[pin] = owner
        self._configured = None

    @property
    def config(self) -> PortConfig:
        """The configuration the claims ask for; unclaimed pins are outputs."""
        return PortConfig(
            inputs=_mask(self._inputs),
            pull_ups=_mask(self._pull_ups),
            interrupt_on_change=_mask(self._interrupts),
        )

    # --- operations -----------------------------------------------------------------------------

    async def configure(self) -> None:
        """Write the configuration and the commanded latch, and verify them by reading back."""
        async with self._lock:
            await self._configure()

    async def read_inputs(self, *, max_age_s: float = 0.0) -> int:
        """The GPIO pair (bit n = pin n). A read younger than ``max_age_s`` seconds is reused."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and loop.time() - snapshot[0] < max_age_s:
                return snapshot[1]
            await self._ensure_configured()
            value = await self._device.read_word_le(Reg.GPIOA)
            self._snapshot = (loop.time(), value)
            return value

    async def read_latch(self) -> int:
        """The output latch OLAT as the chip reports it."""
        async with self._lock:
            await self._ensure_configured()
            return await self._device.read_word_le(Reg.OLATA)

    async def write_outputs(self, value: int, mask: int) -> None:
        """Set the output pins in ``mask`` to the bits of ``value``, leaving other pins alone,
        and verify the latch reads back as written."""
        if not 0 <= mask <= _ALL_PINS or not 0 <= value <= _ALL_PINS:
            raise ValueError("value and mask are 16-bit")
        if mask & self.config.inputs:
            raise ValueError(f"{self.name}: cannot drive input pins (mask {mask:#06x})")
        async with self._lock:
            await self._ensure_configured()
            self._latch = (self._latch & ~mask) | (value & mask)
            await self._write_latch()

    async def read_interrupt(self) -> InterruptCapture:
        """Which pins interrupted (INTF) and the inputs they captured (INTCAP); reading INTCAP
        clears the interrupt."""
        async with self._lock:
            await self._ensure_configured()
            flags = await self._device.read_word_le(Reg.INTFA)
            captured = await self._device.read_word_le(Reg.INTCAPA)
            return InterruptCapture(flags=flags, captured=captured)

    # --- configuration --------------------------------------------------------------------------

    async def _ensure_configured(self) -> None:
        expected = self.config
        if self._configured == expected:
            iodir = await self._device.read_word_le(Reg.IODIRA)
            if iodir == expected.inputs:
                return
        await self._configure()

    async def _configure(self) -> None:
        self._configured = None
        self._snapshot = None
        config = self.config
        device = self._device
        await device.write_byte(Reg.IOCON, IOCON_CONFIG)
        await device.write_word_le(Reg.OLATA, self._latch)
        await device.write_word_le(Reg.IPOLA, 0)
        await device.write_word_le(Reg.GPPUA, config.pull_ups)
        await device.write_word_le(Reg.DEFVALA, 0)
        await device.write_word_le(Reg.INTCONA, 0)
        await device.write_word_le(Reg.GPINTENA, config.interrupt_on_change)
        await device.write_word_le(Reg.IODIRA, config.inputs)
        readback = {
            "IOCON": (await device.read_byte(Reg.IOCON), IOCON_CONFIG),
            "IODIR": (await device.read_word_le(Reg.IODIRA), config.inputs),
            "GPPU": (await device.read_word_le(Reg.GPPUA), config.pull_ups),
            "GPINTEN": (await device.read_word_le(Reg.GPINTENA), config.interrupt_on_change),
            "OLAT": (await device.read_word_le(Reg.OLATA), self._latch),
        }
        wrong = [
            f"{register} {found:#06x} (wrote {wrote:#06x})"
            for register, (found, wrote) in readback.items()
            if found != wrote
        ]
        if wrong:
            raise ReadFailed(self.name, "configuration did not read back: " + ", ".join(wrong))
        self._configured = config

    async def _write_latch(self) -> None:
        await self._device.write_word_le(Reg.OLATA, self._latch)
        found = await self._device.read_word_le(Reg.OLATA)
        if found != self._latch:
            self._configured = None
            raise ReadFailed(
                self.name,
                f"output latch OLAT read back {found:#06x} after writing {self._latch:#06x}",
            )
