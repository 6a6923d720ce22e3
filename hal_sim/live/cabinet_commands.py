"""The live view's commands for a dispensing cabinet's workflows: the staff at the readers,
the scanning station and the touch screen, and the hospital's blood bank deciding.

Each parser checks its words (raising :class:`~hal_sim.live.bench.CommandError`) and returns
an action. What the cabinet must answer - a screen choice, a decision of the blood bank, a
technician's stock-in - is a coroutine the view awaits; a decision the cabinet refuses raises
:class:`~hal_sim.staff.CabinetRefused` with its reason. A badge or a scan only reaches the
readers: the cabinet answers on its screen, which the view's cabinet panel shows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable

from hal_sim.device import BenchError
from hal_sim.live.bench import (
    Action,
    Bench,
    CommandError,
    Outcome,
    describe_unit,
    slot_number,
    usage,
)
from hal_sim.live.stockroom import BLOOD_GROUPS
from hal_sim.staff import SCREEN_CHOICES, STAFF, CabinetRefused, badge_uid
from hal_sim.units import SimUnit

__all__ = ["CABINET_PARSERS"]

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIN = re.compile(r"[A-Z0-9]{13}")


def _identifier(word: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(word):
        raise CommandError(f"{what} {word!r}: letters, digits, '.', '_' or '-' (up to 64)")
    return word


def _hours(word: str) -> float:
    try:
        hours = float(word)
    except ValueError:
        raise CommandError(f"HOURS must be a number, got {word!r}") from None
    if not 0 < hours <= 24 * 30:
        raise CommandError(f"HOURS must be above 0 and at most 720, got {word}")
    return hours


async def _decided(answer: Awaitable[str | None], done: str) -> str:
    """``done``, or :class:`CabinetRefused` with the cabinet's reason."""
    try:
        refusal = await answer
    except ValueError as error:  # a decision the hospital could not even send
        raise CommandError(str(error)) from None
    if refusal is not None:
        raise CabinetRefused(f"the cabinet refused: {refusal}")
    return done


def _unit_named(bench: Bench, word: str) -> SimUnit:
    """The unit in slot ``word``, or in hand or in the device with DIN ``word`` (or the DIN's
    last characters, as the slot grid shows them)."""
    slot = slot_number(word) if len(word) < 4 else None
    if slot is not None:
        unit = bench.device.slot_units.get(slot)
        if unit is None:
            raise BenchError(f"slot {slot} is empty or does not exist")
        return unit
    word = word.upper()
    candidates = [
        *bench.in_hand.values(),
        *(unit for unit in bench.device.slot_units.values() if unit is not None),
        *(unit for unit, _ in bench.device.loose_units.values()),
    ]
    found = [unit for unit in candidates if unit.din.endswith(word)]
    if len({unit.din for unit in found}) != 1:
        raise BenchError(f"no single unit has a DIN ending {word}")
    return found[0]


# --- people ------------------------------------------------------------------------------------


def _badge(args: list[str], _rest: str) -> Action:
    if len(args) != 1:
        raise usage("badge NAME|UID  (NAME: " + ", ".join(STAFF) + ")")
    try:
        uid = badge_uid(args[0])
    except ValueError as error:
        raise CommandError(str(error)) from None
    holder = next((name for name, entry in STAFF.items() if entry.uid == uid), None)

    def act(bench: Bench) -> str:
        bench.device.present_badge(uid)
        return f"badge {uid}" + (f" ({holder})" if holder else "") + " presented"

    return act


def _press(args: list[str], rest: str) -> Action:
    if not args or args[0].lower() not in SCREEN_CHOICES:
        raise usage("press CHOICE [REASON]  (CHOICE: " + ", ".join(SCREEN_CHOICES) + ")")
    choice = args[0].lower()
    reason = rest[len(args[0]) :].strip()

    def act(bench: Bench) -> Outcome:
        desk = bench.desk()

        async def press() -> str:
            await desk.choose(choice, reason)
            return f"pressed {choice}" + (f" ({reason})" if reason else "")

        return press()

    return act


def _hold(args: list[str], _rest: str) -> Action:
    words = [arg for arg in args if arg.lower() != "expired"]
    expired = len(words) != len(args)
    if len(words) > 1 or (expired and words and words[0].upper() not in BLOOD_GROUPS):
        raise usage("hold [GROUP] [expired], or hold DIN (a unit in hand)")
    word = words[0] if words else None

    def act(bench: Bench) -> str:
        if word is None or word.upper() in BLOOD_GROUPS:
            unit = bench.new_unit(word, expired=expired)
            bench.device.hold_at_station(unit)
            return f"holding new unit {describe_unit(unit)} on the scanning station"
        unit = _unit_named(bench, word)
        if unit.din not in bench.in_hand:
            raise BenchError(f"unit {unit.din} is not in hand (take it out first)")
        bench.device.hold_at_station(unit)
        del bench.in_hand[unit.din]
        return f"holding unit {describe_unit(unit)} on the scanning station"

    return act


def _lift(args: list[str], _rest: str) -> Action:
    if args:
        raise usage("lift")

    def act(bench: Bench) -> str:
        unit = bench.device.take_from_station()
        bench.in_hand[unit.din] = unit
        return f"took {describe_unit(unit)} off the station (in hand)"

    return act


# --- the hospital ------------------------------------------------------------------------------


def _allocate(args: list[str], _rest: str) -> Action:
    if len(args) not in (3, 4):
        raise usage("allocate SLOT|DIN PATIENT ORDER [HOURS]")
    patient = _identifier(args[1], "PATIENT")
    order = _identifier(args[2], "ORDER")
    hours = _hours(args[3]) if len(args) == 4 else 4.0

    def act(bench: Bench) -> Outcome:
        blood_bank = bench.blood_bank()
        din = _unit_named(bench, args[0]).din
        done = f"the blood bank allocated unit {din} to patient {patient} ({order}, {hours:g} h)"
        return _decided(blood_bank.allocate(din, patient, order, hours), done)

    return act


def _eligible(args: list[str], _rest: str) -> Action:
    if len(args) not in (4, 5) or not args[3].isdecimal():
        raise usage("eligible PATIENT ORDER GROUPS UNITS [HOURS]  (GROUPS like O-,O+)")
    patient = _identifier(args[0], "PATIENT")
    order = _identifier(args[1], "ORDER")
    groups = tuple(group.upper() for group in args[2].split(",") if group)
    unknown = [group for group in groups if group not in BLOOD_GROUPS]
    if not groups or unknown:
        raise CommandError(f"GROUPS are ABO/RhD groups like O-,O+; got {args[2]!r}")
    units = int(args[3])
    hours = _hours(args[4]) if len(args) == 5 else 4.0

    def act(bench: Bench) -> Outcome:
        blood_bank = bench.blood_bank()
        done = (
            f"the blood bank made patient {patient} eligible for {units} unit(s) of"
            f" {'/'.join(groups)} ({order}, {hours:g} h)"
        )
        return _decided(blood_bank.electronic_issue(patient, order, groups, units, hours), done)

    return act


def _cancel(args: list[str], _rest: str) -> Action:
    if len(args) not in (1, 2):
        raise usage("cancel ORDER [SLOT|DIN]")
    order = _identifier(args[0], "ORDER")

    def act(bench: Bench) -> Outcome:
        blood_bank = bench.blood_bank()
        din = _unit_named(bench, args[1]).din if len(args) == 2 else None
        what = f"unit {din} on order {order}" if din else f"order {order}"
        return _decided(blood_bank.cancel(order, din), f"the blood bank cancelled {what}")

    return act


def _badges(args: list[str], _rest: str) -> Action:
    if len(args) > 1:
        raise usage("badges [HOURS_OLD]")
    hours = _hours(args[0]) if args else 0.0

    def act(bench: Bench) -> Outcome:
        blood_bank = bench.blood_bank()
        age = f", issued {hours:g} h ago" if hours else ""
        return _decided(
            blood_bank.send_badge_list(dt.timedelta(hours=hours)),
            f"the blood bank sent the staff badge list{age}",
        )

    return act


def _staff(args: list[str], _rest: str) -> Action:
    if args:
        raise usage("staff")
    lines = [
        f"{name:<11} badge {entry.uid}  {entry.name} ({', '.join(entry.roles)})"
        for name, entry in STAFF.items()
    ]
    return lambda _bench: "\n".join(lines)


CABINET_PARSERS: dict[str, Callable[[list[str], str], Action]] = {
    "badge": _badge,
    "press": _press,
    "hold": _hold,
    "lift": _lift,
    "allocate": _allocate,
    "eligible": _eligible,
    "cancel": _cancel,
    "badges": _badges,
    "staff": _staff,
}
"""The cabinet workflow commands by their first word."""
