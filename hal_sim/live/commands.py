"""The bench command line of the live view: one typed line to one action on the simulated
device, parsed without Textual so that it can be tested on its own.

:func:`parse_command` turns a line into a :class:`Command` or raises :class:`CommandError` with
a message saying what was wrong and what was expected; it never touches the device.
:meth:`Command.run` then acts on a :class:`~hal_sim.live.bench.Bench` and returns a one-line
account of what happened (or a coroutine giving it, for what the cabinet must answer), or
raises :class:`~hal_sim.device.BenchError` when the simulated world does not allow it (a
locked slot, a full one) - in which case nothing changed. The device's own verbs are here; the
cabinet workflows' (badges, the screen, the station, the blood bank) are in
:mod:`hal_sim.live.cabinet_commands`. :data:`HELP` lists them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from agent.config.schema import DeviceKind
from hal_sim.device import BenchError, SimDevice
from hal_sim.live.bench import (
    Action,
    Bench,
    CommandError,
    Outcome,
    describe_unit,
    slot_number,
    usage,
)
from hal_sim.live.cabinet_commands import CABINET_PARSERS
from hal_sim.live.stockroom import BLOOD_GROUPS
from hal_sim.parts import ProbeFaultMode
from hal_sim.staff import stock_in
from hal_sim.units import SimUnit

__all__ = ["HELP", "Bench", "Command", "CommandError", "parse_command"]

HELP = """\
A dispensing cabinet's workflows (its screen is shown above the events):
staff                     who may sign in: technician, nurse, doctor, supervisor
badge NAME|UID            present a badge, by staff name or badge UID
press CHOICE [REASON]     touch the screen: dispense, stock_in, return, dispose,
                          acknowledge, sign_out, or emergency REASON
scan DATA                 scan a barcode, such as a patient wristband: scan P-1001
hold [GROUP] [expired]    hold a new unit on the scanning station (hold DIN: one in hand)
label [SLOT|TAG] [din]    scan the label of the unit on the station (din: its DIN only)
put SLOT [force]          put the unit on the station into the slot that opened
take SLOT [force]         take the unit out of a slot (it stays in hand, for a return)
lift                      take the unit off the station (it stays in hand)
stock [N]                 the technician stocks N new units (fridge, box: just put in)
allocate SLOT|DIN PATIENT ORDER [HOURS]     the blood bank crossmatches a unit for a patient
eligible PATIENT ORDER GROUPS UNITS [HOURS] electronic issue (GROUPS like O-,O+)
cancel ORDER [SLOT|DIN]   the blood bank cancels an order, or one unit of it
badges [HOURS_OLD]        the blood bank sends the staff badge list
The device:
put SLOT GROUP [force]    put a new unit in a slot (force ignores the lock)
put [GROUP]               put a new unit in the fridge or box (door open)
take TAG [force]          take a unit out of the fridge or box by its RFID tag
garbage scanner|badge [HEX]  the reader delivers bytes it cannot decode
door open [force] [NAME]  open a door or lid (force: even when locked); door close [NAME]
ambient CELSIUS           change the room temperature
power cut|restore         cut or restore mains; battery PERCENT sets its charge
fault PROBE MODE          probe fault: none, disconnected, garbage or crc_error
jam SLOT|door [NAME]      jam a slot lock or a door lock; unjam ... frees it
unplug PART / plug PART   disconnect or reconnect any part by name
help                      this list
GROUP is O-, O+, A-, A+, B-, B+, AB- or AB+."""


_MAX_STOCK = 144
"""The most units one ``stock`` loads: a full reference cabinet."""


@dataclass(frozen=True)
class Command:
    """A parsed command line; :meth:`run` performs it."""

    action: Action

    def run(self, bench: Bench) -> Outcome:
        """Act on the bench; return what happened, or a coroutine that does once the cabinet
        answered. Raises ``BenchError`` if not allowed."""
        return self.action(bench)


def parse_command(line: str) -> Command:
    """Parse one command line; raises :class:`CommandError` on anything not understood."""
    words = line.split()
    if not words:
        raise CommandError("type a command; help lists them")
    verb, args = words[0].lower(), words[1:]
    parser = _PARSERS.get(verb)
    if parser is None:
        raise CommandError(f"unknown command {verb!r}; help lists the commands")
    rest = line.strip()[len(words[0]) :].strip()
    return Command(action=parser(args, rest))


# --- argument helpers -------------------------------------------------------------------------


def _number(word: str, what: str) -> float:
    try:
        value = float(word)
    except ValueError:
        raise CommandError(f"{what} must be a number, got {word!r}") from None
    if not math.isfinite(value):
        raise CommandError(f"{what} must be a finite number, got {word!r}")
    return value


def _take_flag(args: list[str], flag: str) -> tuple[list[str], bool]:
    """``args`` without ``flag`` (case-insensitive), and whether it was there."""
    kept = [arg for arg in args if arg.lower() != flag]
    return kept, len(kept) != len(args)


def _unit_where(device: SimDevice, where: str) -> SimUnit:
    """The unit in slot ``where`` or with tag ``where``."""
    slot = slot_number(where)
    if slot is not None:
        unit = device.slot_units.get(slot)
        if unit is None:
            raise BenchError(f"slot {slot} is empty or does not exist")
        return unit
    entry = device.loose_units.get(where.upper())
    if entry is None:
        raise BenchError(f"no unit with tag {where.upper()} is inside")
    return entry[0]


# --- one parser per verb: (args, rest of line) -> action ---------------------------------------


def _put(args: list[str], _rest: str) -> Action:
    args, force = _take_flag(args, "force")
    slot: int | None = None
    group: str | None = None
    for arg in args:
        if (number := slot_number(arg)) is not None and slot is None:
            slot = number
        elif arg.upper() in BLOOD_GROUPS and group is None:
            group = arg.upper()
        else:
            raise usage("put SLOT [GROUP] [force], or put [GROUP] in a fridge or box")

    def act(bench: Bench) -> str:
        held = bench.device.at_station() if slot is not None and group is None else None
        unit = held or bench.new_unit(group)
        bench.device.put_unit(unit, slot, force=force)
        what = "the unit from the station" if held else "new unit"
        return f"put {what} {describe_unit(unit)} in " + (f"slot {slot}" if slot else "the device")

    return act


def _take(args: list[str], _rest: str) -> Action:
    args, force = _take_flag(args, "force")
    if len(args) != 1:
        raise usage("take SLOT [force], or take TAG [force] in a fridge or box")
    slot = slot_number(args[0])
    tag = None if slot is not None else args[0].upper()

    def act(bench: Bench) -> str:
        unit = bench.device.take_unit(slot, tag_uid=tag, force=force)
        if slot is None:
            return f"took {describe_unit(unit)} out"
        bench.in_hand[unit.din] = unit
        return f"took {describe_unit(unit)} out of slot {slot} (in hand)"

    return act


def _stock(args: list[str], _rest: str) -> Action:
    if len(args) > 1 or (args and not (args[0].isdecimal() and 1 <= int(args[0]) <= _MAX_STOCK)):
        raise usage(f"stock [N]  (N units, 1 to {_MAX_STOCK}; default 1)")
    count = int(args[0]) if args else 1

    def act(bench: Bench) -> Outcome:
        device = bench.device
        if device.profile.device.kind is DeviceKind.CABINET:
            bench.desk()
            free = sum(unit is None for unit in device.slot_units.values())
            units = [bench.new_unit(None) for _ in range(min(count, free))]
            return _technician_stocks(bench, units, full=len(units) < count)
        for _ in range(count):
            device.stock(bench.new_unit(None))
        return f"stocked {count} unit(s)"

    return act


async def _technician_stocks(bench: Bench, units: list[SimUnit], *, full: bool) -> str:
    slots = await stock_in(bench.running(), units)
    where = ", ".join(str(slot) for slot in slots)
    left = " (no free slot left)" if full else ""
    return f"the technician stocked {len(slots)} unit(s) in slot(s) {where}{left}"


def _label(args: list[str], _rest: str) -> Action:
    args, din_only = _take_flag(args, "din")
    if len(args) > 1:
        raise usage("label [SLOT|TAG] [din]")
    where = args[0] if args else None

    def act(bench: Bench) -> str:
        if where is None:
            unit = bench.device.at_station()
            if unit is None:
                raise BenchError("no unit is held at the scanning station (hold one first)")
        else:
            unit = _unit_where(bench.device, where)
        if din_only:
            bench.device.scan(unit.barcodes()[0])
            return f"scanned the DIN of {describe_unit(unit)}"
        bench.device.scan_unit(unit)
        return f"scanned the label of {describe_unit(unit)}"

    return act


def _scan(_args: list[str], rest: str) -> Action:
    if not rest:
        raise usage("scan DATA")

    def act(bench: Bench) -> str:
        bench.device.scan(rest)
        return f"scanned {rest!r}"

    return act


def _garbage(args: list[str], _rest: str) -> Action:
    if not 1 <= len(args) <= 2 or args[0].lower() not in ("scanner", "badge"):
        raise usage("garbage scanner|badge [HEX]")
    source = args[0].lower()
    try:
        raw = bytes.fromhex(args[1]) if len(args) == 2 else b"\xff\x00\x1b\x9c"
    except ValueError:
        raise CommandError(f"expected hexadecimal bytes such as ff001b, got {args[1]!r}") from None

    def act(bench: Bench) -> str:
        bench.device.feed_garbage(source, raw)
        return f"the {source} delivered {raw.hex()}"

    return act


def _door(args: list[str], _rest: str) -> Action:
    args, force = _take_flag(args, "force")
    if not 1 <= len(args) <= 2 or args[0].lower() not in ("open", "close"):
        raise usage("door open [force] [NAME] or door close [NAME]")
    opening = args[0].lower() == "open"
    if force and not opening:
        raise usage("door close [NAME]  (force only applies to opening)")
    name = args[1] if len(args) == 2 else None

    def act(bench: Bench) -> str:
        if opening:
            bench.device.open_door(name, force=force)
        else:
            bench.device.close_door(name)
        door = name or "the door"
        return f"{door} {'forced ' if force else ''}{'open' if opening else 'closed'}"

    return act


def _ambient(args: list[str], _rest: str) -> Action:
    if len(args) != 1:
        raise usage("ambient CELSIUS")
    celsius = _number(args[0].removesuffix("C").removesuffix("°"), "the ambient temperature")

    def act(bench: Bench) -> str:
        bench.device.set_ambient(celsius)
        return f"ambient set to {celsius:g} °C"

    return act


def _power(args: list[str], _rest: str) -> Action:
    if len(args) != 1 or args[0].lower() not in ("cut", "restore"):
        raise usage("power cut|restore")
    cut = args[0].lower() == "cut"

    def act(bench: Bench) -> str:
        if cut:
            bench.device.cut_power()
            return "mains cut"
        bench.device.restore_power()
        return "mains restored"

    return act


def _battery(args: list[str], _rest: str) -> Action:
    if len(args) != 1:
        raise usage("battery PERCENT")
    percent = _number(args[0].removesuffix("%"), "the battery charge")
    if not 0 <= percent <= 100:
        raise CommandError(f"the battery charge is 0-100 %, got {args[0]}")

    def act(bench: Bench) -> str:
        bench.device.drain_battery(percent / 100)
        return f"battery set to {percent:g} %"

    return act


def _fault(args: list[str], _rest: str) -> Action:
    modes = ", ".join(mode.value for mode in ProbeFaultMode)
    if len(args) != 2:
        raise usage(f"fault PROBE MODE  (MODE: {modes})")
    probe = args[0]
    try:
        mode = ProbeFaultMode(args[1].lower())
    except ValueError:
        raise CommandError(f"unknown probe fault {args[1]!r} (one of {modes})") from None

    def act(bench: Bench) -> str:
        bench.device.probe_fault(probe, mode)
        return f"probe {probe}: fault {mode.value}"

    return act


def _jam_parser(*, jammed: bool) -> Callable[[list[str], str], Action]:
    verb = "jam" if jammed else "unjam"

    def parse(args: list[str], _rest: str) -> Action:
        if not args or len(args) > 2:
            raise usage(f"{verb} SLOT or {verb} door [NAME]")
        slot = slot_number(args[0])
        if slot is None and args[0].lower() != "door":
            raise usage(f"{verb} SLOT or {verb} door [NAME]")
        if slot is not None and len(args) != 1:
            raise usage(f"{verb} SLOT or {verb} door [NAME]")
        door = args[1] if len(args) == 2 else None

        def act(bench: Bench) -> str:
            bench.device.jam_lock(slot, door=door, jammed=jammed)
            what = f"slot {slot}" if slot is not None else f"door {door or ''}".strip()
            return f"{what} lock {'jammed' if jammed else 'freed'}"

        return act

    return parse


def _plug_parser(*, connected: bool) -> Callable[[list[str], str], Action]:
    verb = "plug" if connected else "unplug"

    def parse(args: list[str], _rest: str) -> Action:
        if len(args) != 1:
            raise usage(f"{verb} PART")
        part = args[0]

        def act(bench: Bench) -> str:
            bench.device.set_connected(part, connected=connected)
            return f"{part} {'reconnected' if connected else 'disconnected'}"

        return act

    return parse


def _help(_args: list[str], _rest: str) -> Action:
    return lambda _bench: HELP


_PARSERS: dict[str, Callable[[list[str], str], Action]] = {
    "put": _put,
    "take": _take,
    "stock": _stock,
    "label": _label,
    "scan": _scan,
    "garbage": _garbage,
    "door": _door,
    "ambient": _ambient,
    "power": _power,
    "battery": _battery,
    "fault": _fault,
    "jam": _jam_parser(jammed=True),
    "unjam": _jam_parser(jammed=False),
    "unplug": _plug_parser(connected=False),
    "plug": _plug_parser(connected=True),
    "help": _help,
    "?": _help,
    **CABINET_PARSERS,
}
