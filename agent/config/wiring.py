"""``[wiring]``: which real part, on which bus, address, pin or port, is each part of a profile.

Only the driver backends (``hardware.backend = "drivers"`` on a device, ``"drivers_sim"`` over
the fake buses) read it, and for them it is required; a ``sim`` profile may carry one, which is
checked and ignored, so switching a profile between backends is one line. Every table is keyed
as the profile names its parts (``[wiring.doors.main]``, ``[wiring.probes.air-top]``), and
:func:`check_wiring` keeps the invariant the driver assembly (:mod:`drivers.assembly`) relies
on: every door, probe and reader of the profile is wired exactly once, nothing else is, no BCM
pin serves twice and no I2C address is claimed twice on one bus. Problems name the key, what
was expected and what was found, like every other section (``docs/configuration.md``).

Slots follow the reference wiring of :mod:`drivers.expander_slots` (two slots per MCP23017,
chips filling 0x20-0x27 of each listed bus in turn); ``[wiring.slots]`` only says which buses.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from agent.config.fields import Field, Table, check_table
from agent.config.kinds import (
    ABSENT,
    INVALID,
    NOTHING,
    OPTIONAL,
    Choice,
    Context,
    Flag,
    Kind,
    Number,
    ScalarKind,
    Text,
    join,
    render,
)

__all__ = [
    "DRIVER_BACKENDS",
    "WIRING",
    "WIRING_BADGE_READER",
    "WIRING_DOOR",
    "WIRING_INDICATOR",
    "WIRING_POWER",
    "WIRING_PROBE",
    "WIRING_RFID",
    "WIRING_SCANNER",
    "WIRING_SLOTS",
    "DoorWiring",
    "Ds18b20Wiring",
    "IndicatorWiring",
    "PowerWiring",
    "ProfileParts",
    "RfidWiring",
    "ScannerSuffix",
    "ScannerWiring",
    "SerialWiring",
    "SlotsWiring",
    "Tmp117Wiring",
    "WiringConfig",
    "check_wiring",
]

DRIVER_BACKENDS = frozenset({"drivers", "drivers_sim"})
"""The backends that build their parts from ``[wiring]``, and require it."""

_T = TypeVar("_T")

REFERENCE_BUSES = (1, 3, 4, 5, 6)
"""The reference cabinet's expander buses (``drivers.expander_slots.REFERENCE_BUSES``)."""

_SLOTS_PER_CHIP = 2
_CHIPS_PER_BUS = 8
_EXPANDER_BASE = 0x20


class ScannerSuffix(enum.StrEnum):
    """How the barcode scanner is set to end each scan (its programming guide's setting)."""

    CR = "cr"
    CRLF = "crlf"
    STX_ETX = "stx_etx"


@dataclass(frozen=True, slots=True)
class SlotsWiring:
    """``[wiring.slots]``: the Linux I2C buses whose MCP23017s serve the slots, in order;
    ``interrupt_gpio``, if given, the BCM pin each bus's shared INT line is wired to."""

    buses: tuple[int, ...] = REFERENCE_BUSES
    interrupt_gpio: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DoorWiring:
    """``[wiring.doors.<name>]``: the door contact's pin, and the lock's coil and feedback."""

    sensor_gpio: int
    lock_gpio: int | None = None
    lock_feedback_gpio: int | None = None


@dataclass(frozen=True, slots=True)
class Tmp117Wiring:
    """A TMP117 probe: its bus and address (0x48-0x4B)."""

    bus: int
    address: int


@dataclass(frozen=True, slots=True)
class Ds18b20Wiring:
    """A DS18B20 probe: its 1-Wire id as the kernel lists it (``28-`` and 12 hex digits)."""

    device_id: str


@dataclass(frozen=True, slots=True)
class PowerWiring:
    """``[wiring.power]``: the INA219 on the UPS board, its shunt, the battery's cells in
    series, and the UPS's power-fail output if it is wired to a pin."""

    ina219_bus: int
    ina219_address: int = 0x40
    shunt_ohms: float = 0.1
    cells: int = 2
    mains_gpio: int | None = None


@dataclass(frozen=True, slots=True)
class IndicatorWiring:
    """``[wiring.indicator]``: the buzzer and the red and amber lamps."""

    buzzer_gpio: int
    red_gpio: int
    amber_gpio: int


@dataclass(frozen=True, slots=True)
class SerialWiring:
    """A reader on a serial port (``/dev/serial/by-id/...``) at ``baudrate``."""

    port: str
    baudrate: int


@dataclass(frozen=True, slots=True)
class ScannerWiring:
    """``[wiring.scanner]``: the scanner's port and how it frames its scans."""

    port: str
    baudrate: int = 9600
    suffix: ScannerSuffix = ScannerSuffix.CR
    aim: bool = False


@dataclass(frozen=True, slots=True)
class RfidWiring:
    """``[wiring.rfid]``: the CR95HF's port, and the select lines of its antenna multiplexer -
    pins of one MCP23017 (``select_bus``, ``select_address``, ``select_pins``) or BCM pins
    (``select_gpio``) - carrying an antenna's position in the profile's list in binary,
    least significant bit first."""

    port: str
    baudrate: int = 57600
    select_bus: int | None = None
    select_address: int | None = None
    select_pins: tuple[int, ...] = ()
    select_gpio: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class WiringConfig:
    """The whole ``[wiring]`` section."""

    power: PowerWiring
    indicator: IndicatorWiring
    slots: SlotsWiring | None = None
    doors: Mapping[str, DoorWiring] = field(default_factory=dict)
    probes: Mapping[str, Tmp117Wiring | Ds18b20Wiring] = field(default_factory=dict)
    scanner: ScannerWiring | None = None
    badge_reader: SerialWiring | None = None
    rfid: RfidWiring | None = None


@dataclass(frozen=True, slots=True)
class ProfileParts:
    """What the rest of the profile says exists, for :func:`check_wiring` to match: ``None``
    where that part of the profile was itself invalid (and is reported there)."""

    backend: str | None
    slots: int
    doors: Mapping[str, bool] | None
    probes: tuple[str, ...] | None
    rfid: bool
    antennas: tuple[str, ...] | None
    scanner: bool
    badge_reader: bool


@dataclass(frozen=True)
class _Address(ScalarKind):
    """An I2C address within ``low``..``high`` (written in hex in the file, ``0x48``)."""

    part: str
    low: int
    high: int

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"the I2C address of a {self.part}, {self.low:#04x}-{self.high:#04x}"

    def accept(self, raw: object) -> object:
        ok = isinstance(raw, int) and not isinstance(raw, bool) and self.low <= raw <= self.high
        return raw if ok else INVALID


@dataclass(frozen=True)
class _IntList(Kind):
    """A non-empty array of distinct integers, each checked by ``item``, as a tuple."""

    item: Number
    what: str

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"a non-empty array of distinct {self.what}s"

    def check(self, raw: object, key: str, ctx: Context) -> object:
        if not isinstance(raw, list) or not raw:
            ctx.problem(key, self.expected, render(raw))
            return INVALID
        values: list[int] = []
        for index, item in enumerate(raw):
            value = self.item.check(item, f"{key}[{index}]", ctx)
            if not isinstance(value, int):
                return INVALID
            if value in values:
                ctx.problem(f"{key}[{index}]", f"a {self.what} not already listed", render(item))
                return INVALID
            values.append(value)
        return tuple(values)


_GPIO = Number("a BCM GPIO number", ge=0, le=27, integer=True)
_BUS = Number("a Linux I2C bus number (/dev/i2c-N)", ge=0, le=31, integer=True)
_PORT = Text(expected="a serial device path, e.g. /dev/serial/by-id/usb-...")
_BAUD = Number("a baud rate", ge=1200, le=921600, integer=True)

WIRING = Table(
    "[wiring]",
    (),
    subtables=(
        "slots",
        "doors",
        "probes",
        "power",
        "indicator",
        "scanner",
        "badge_reader",
        "rfid",
    ),
)

WIRING_SLOTS = Table(
    "[wiring.slots]",
    (
        Field("buses", _IntList(_BUS, "bus number"), OPTIONAL),
        Field("interrupt_gpio", _IntList(_GPIO, "BCM GPIO number"), OPTIONAL),
    ),
)

WIRING_DOOR = Table(
    "[wiring.doors.<door>]",
    (
        Field("sensor_gpio", _GPIO),
        Field("lock_gpio", _GPIO, OPTIONAL),
        Field("lock_feedback_gpio", _GPIO, OPTIONAL),
    ),
)

WIRING_PROBE = Table(
    "[wiring.probes.<probe>]",
    (
        Field("tmp117_bus", _BUS, OPTIONAL),
        Field("tmp117_address", _Address("TMP117", 0x48, 0x4B), OPTIONAL),
        Field(
            "ds18b20",
            Text(
                expected="a DS18B20 1-Wire id: 28- and 12 lower-case hex digits",
                pattern=re.compile(r"28-[0-9a-f]{12}"),
            ),
            OPTIONAL,
        ),
    ),
)

WIRING_POWER = Table(
    "[wiring.power]",
    (
        Field("ina219_bus", _BUS),
        Field("ina219_address", _Address("INA219", 0x40, 0x4F), OPTIONAL),
        Field("shunt_ohms", Number("a resistance in ohms", gt=0.0, le=10.0), OPTIONAL),
        Field(
            "cells",
            Number("a number of Li-ion cells in series", ge=1, le=8, integer=True),
            OPTIONAL,
        ),
        Field("mains_gpio", _GPIO, OPTIONAL),
    ),
)

WIRING_INDICATOR = Table(
    "[wiring.indicator]",
    (Field("buzzer_gpio", _GPIO), Field("red_gpio", _GPIO), Field("amber_gpio", _GPIO)),
)

WIRING_SCANNER = Table(
    "[wiring.scanner]",
    (
        Field("port", _PORT),
        Field("baudrate", _BAUD, OPTIONAL),
        Field("suffix", Choice(ScannerSuffix), OPTIONAL),
        Field("aim", Flag(), OPTIONAL),
    ),
)

WIRING_BADGE_READER = Table(
    "[wiring.badge_reader]", (Field("port", _PORT), Field("baudrate", _BAUD, 115200))
)

WIRING_RFID = Table(
    "[wiring.rfid]",
    (
        Field("port", _PORT),
        Field("baudrate", _BAUD, OPTIONAL),
        Field("select_bus", _BUS, OPTIONAL),
        Field("select_address", _Address("MCP23017", 0x20, 0x27), OPTIONAL),
        Field("select_pins", _IntList(Number(ge=0, le=15, integer=True), "pin 0-15"), OPTIONAL),
        Field("select_gpio", _IntList(_GPIO, "BCM GPIO number"), OPTIONAL),
    ),
)


def check_wiring(raw: object, parts: ProfileParts, ctx: Context) -> WiringConfig | None:
    """Check ``[wiring]`` against the parts the profile has; ``None`` if absent or wrong."""
    if raw is ABSENT:
        if parts.backend in DRIVER_BACKENDS:
            ctx.problem(
                "wiring",
                f'a [wiring] section saying where each part is (backend "{parts.backend}")',
                NOTHING,
            )
        return None
    top = check_table(raw, "wiring", WIRING, ctx)
    before = len(ctx.problems)
    sub = top.subtables
    power = _build(sub, "power", WIRING_POWER, PowerWiring, ctx)
    indicator = _build(sub, "indicator", WIRING_INDICATOR, IndicatorWiring, ctx)
    slots = _slots(sub.get("slots", ABSENT), parts, ctx)
    doors = _doors(sub.get("doors", ABSENT), parts.doors, ctx)
    probes = _probes(sub.get("probes", ABSENT), parts.probes, ctx)
    scanner = _reader(sub, "scanner", WIRING_SCANNER, ScannerWiring, ctx, present=parts.scanner)
    badge = _reader(
        sub, "badge_reader", WIRING_BADGE_READER, SerialWiring, ctx, present=parts.badge_reader
    )
    rfid = _reader(sub, "rfid", WIRING_RFID, RfidWiring, ctx, present=parts.rfid)
    if rfid is not None and parts.antennas is not None:
        _check_select_lines(rfid, parts.antennas, ctx)
    if not top.ok or len(ctx.problems) > before or power is None or indicator is None:
        return None
    wiring = WiringConfig(
        power=power,
        indicator=indicator,
        slots=slots,
        doors=doors,
        probes=probes,
        scanner=scanner,
        badge_reader=badge,
        rfid=rfid,
    )
    _check_pins_used_once(wiring, ctx)
    _check_addresses_used_once(wiring, parts.slots, ctx)
    return wiring if len(ctx.problems) == before else None


def _make(factory: Callable[..., _T], values: Mapping[str, object]) -> _T:
    """A wiring dataclass from a table that passed: its keys are the parameters."""
    return factory(**values)


def _build(
    sub: Mapping[str, object], name: str, spec: Table, factory: Callable[..., _T], ctx: Context
) -> _T | None:
    checked = check_table(sub.get(name, ABSENT), join("wiring", name), spec, ctx)
    return _make(factory, checked.values) if checked.ok else None


def _reader(
    sub: Mapping[str, object],
    name: str,
    spec: Table,
    factory: Callable[..., _T],
    ctx: Context,
    *,
    present: bool,
) -> _T | None:
    """A reader's wiring: required when the profile has the reader, refused when it has not."""
    key = join("wiring", name)
    if name not in sub:
        if present:
            ctx.problem(key, f"a table [{key}] with the reader's port", NOTHING)
        return None
    if not present:
        ctx.problem(key, f"no [{key}] (the profile has no [{name}])", "a table")
        return None
    return _build(sub, name, spec, factory, ctx)


def _slots(raw: object, parts: ProfileParts, ctx: Context) -> SlotsWiring | None:
    if parts.slots == 0:
        if raw is not ABSENT:
            ctx.problem("wiring.slots", "no [wiring.slots] on a device without slots", "a table")
        return None
    checked = check_table({} if raw is ABSENT else raw, "wiring.slots", WIRING_SLOTS, ctx)
    if not checked.ok:
        return None
    wiring = _make(SlotsWiring, checked.values)
    chips = (parts.slots + _SLOTS_PER_CHIP - 1) // _SLOTS_PER_CHIP
    if chips > _CHIPS_PER_BUS * len(wiring.buses):
        ctx.problem(
            "wiring.slots.buses",
            f"at least {-(-chips // _CHIPS_PER_BUS)} buses for {parts.slots} slots"
            f" ({chips} MCP23017s, 8 per bus)",
            render(list(wiring.buses)),
        )
        return None
    if wiring.interrupt_gpio and len(wiring.interrupt_gpio) != len(wiring.buses):
        ctx.problem(
            "wiring.slots.interrupt_gpio",
            f"one pin per bus in wiring.slots.buses ({len(wiring.buses)})",
            render(list(wiring.interrupt_gpio)),
        )
        return None
    return wiring


def _named(
    raw: object, key: str, names: Mapping[str, object] | tuple[str, ...], what: str, ctx: Context
) -> dict[str, object]:
    """The sub-tables of ``[key]``, one per name the profile has: each missing one and each
    one naming no such part are reported."""
    if raw is ABSENT:
        raw = {}
    if not isinstance(raw, dict):
        ctx.problem(key, f"a table of {what}s by name", render(raw))
        return {}
    tables: dict[str, object] = {}
    for name in names:
        if name in raw:
            tables[name] = raw[name]
        else:
            ctx.problem(join(key, name), f"a table [{key}.{name}] wiring {what} {name!r}", NOTHING)
    for name in raw:
        if name not in names:
            known = ", ".join(names) or "none"
            ctx.problem(
                join(key, name),
                f"the name of a {what} of the profile ({known})",
                f"unknown {what} {name!r}",
            )
    return tables


def _doors(raw: object, doors: Mapping[str, bool] | None, ctx: Context) -> dict[str, DoorWiring]:
    if doors is None:
        return {}
    wired: dict[str, DoorWiring] = {}
    for name, table in _named(raw, "wiring.doors", doors, "door", ctx).items():
        key = f"wiring.doors.{name}"
        checked = check_table(table, key, WIRING_DOOR, ctx)
        if not checked.ok:
            continue
        door = _make(DoorWiring, checked.values)
        if doors[name] and door.lock_gpio is None:
            ctx.problem(
                join(key, "lock_gpio"), f"the lock's coil pin (door {name!r} is locked)", NOTHING
            )
        elif not doors[name] and door.lock_gpio is not None:
            ctx.problem(
                join(key, "lock_gpio"),
                f"no lock pin (door {name!r} has locked = false)",
                render(door.lock_gpio),
            )
        elif door.lock_gpio is None and door.lock_feedback_gpio is not None:
            ctx.problem(
                join(key, "lock_feedback_gpio"),
                "no feedback pin without a lock",
                render(door.lock_feedback_gpio),
            )
        else:
            wired[name] = door
    return wired


def _probes(
    raw: object, probes: tuple[str, ...] | None, ctx: Context
) -> dict[str, Tmp117Wiring | Ds18b20Wiring]:
    if probes is None:
        return {}
    wired: dict[str, Tmp117Wiring | Ds18b20Wiring] = {}
    for name, table in _named(raw, "wiring.probes", probes, "probe", ctx).items():
        key = f"wiring.probes.{name}"
        checked = check_table(table, key, WIRING_PROBE, ctx)
        if not checked.ok:
            continue
        values = checked.values
        tmp117 = {"tmp117_bus", "tmp117_address"} & values.keys()
        if "ds18b20" in values and not tmp117:
            wired[name] = Ds18b20Wiring(device_id=str(values["ds18b20"]))
        elif len(tmp117) == 2 and "ds18b20" not in values:
            bus, address = values["tmp117_bus"], values["tmp117_address"]
            assert isinstance(bus, int)
            assert isinstance(address, int)
            wired[name] = Tmp117Wiring(bus=bus, address=address)
        else:
            ctx.problem(
                key,
                "either tmp117_bus and tmp117_address, or ds18b20",
                ", ".join(sorted(values)) or "neither",
            )
    return wired


def _check_select_lines(rfid: RfidWiring, antennas: tuple[str, ...], ctx: Context) -> None:
    expander = (rfid.select_bus, rfid.select_address, rfid.select_pins)
    on_expander = any(part not in (None, ()) for part in expander)
    if on_expander and rfid.select_gpio:
        ctx.problem(
            "wiring.rfid.select_gpio",
            "select lines on GPIO or on an expander, not both",
            render(list(rfid.select_gpio)),
        )
        return
    if on_expander and (None in expander[:2] or not rfid.select_pins):
        ctx.problem(
            "wiring.rfid",
            "select_bus, select_address and select_pins together",
            "only some of them",
        )
        return
    lines = len(rfid.select_pins) + len(rfid.select_gpio)
    if (1 << lines) < len(antennas):
        wanted = (len(antennas) - 1).bit_length()
        ctx.problem(
            "wiring.rfid.select_gpio" if rfid.select_gpio else "wiring.rfid.select_pins",
            f"at least {wanted} select lines for {len(antennas)} antennas",
            f"{lines} lines",
        )


def _check_pins_used_once(wiring: WiringConfig, ctx: Context) -> None:
    pins: list[tuple[str, int]] = []
    if wiring.slots is not None:
        pins += [
            (f"wiring.slots.interrupt_gpio[{i}]", p)
            for i, p in enumerate(wiring.slots.interrupt_gpio)
        ]
    for name, door in wiring.doors.items():
        for attr in ("sensor_gpio", "lock_gpio", "lock_feedback_gpio"):
            pin = getattr(door, attr)
            if pin is not None:
                pins.append((f"wiring.doors.{name}.{attr}", pin))
    if wiring.power.mains_gpio is not None:
        pins.append(("wiring.power.mains_gpio", wiring.power.mains_gpio))
    for attr in ("buzzer_gpio", "red_gpio", "amber_gpio"):
        pins.append((f"wiring.indicator.{attr}", getattr(wiring.indicator, attr)))
    if wiring.rfid is not None:
        pins += [
            (f"wiring.rfid.select_gpio[{i}]", p) for i, p in enumerate(wiring.rfid.select_gpio)
        ]
    first: dict[int, str] = {}
    for key, pin in pins:
        if pin in first:
            ctx.problem(key, "a GPIO pin no other part uses", f"{pin} (already {first[pin]})")
        else:
            first[pin] = key


def _check_addresses_used_once(wiring: WiringConfig, slots: int, ctx: Context) -> None:
    claims: list[tuple[str, int, int]] = []
    if wiring.slots is not None:
        chips = (slots + _SLOTS_PER_CHIP - 1) // _SLOTS_PER_CHIP
        claims += [
            (
                "wiring.slots.buses",
                wiring.slots.buses[chip // _CHIPS_PER_BUS],
                _EXPANDER_BASE + chip % _CHIPS_PER_BUS,
            )
            for chip in range(chips)
        ]
    for name, probe in wiring.probes.items():
        if isinstance(probe, Tmp117Wiring):
            claims.append((f"wiring.probes.{name}.tmp117_address", probe.bus, probe.address))
    claims.append(
        ("wiring.power.ina219_address", wiring.power.ina219_bus, wiring.power.ina219_address)
    )
    rfid = wiring.rfid
    if rfid is not None and rfid.select_bus is not None and rfid.select_address is not None:
        claims.append(("wiring.rfid.select_address", rfid.select_bus, rfid.select_address))
    first: dict[tuple[int, int], str] = {}
    for key, bus, address in claims:
        if (bus, address) in first:
            ctx.problem(
                key,
                f"an address no other chip on i2c-{bus} uses",
                f"{address:#04x} (already {first[(bus, address)]})",
            )
        else:
            first[(bus, address)] = key
