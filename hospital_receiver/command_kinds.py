"""The command kinds ``hemotrace-receiver command`` can send, as sub-commands: their options,
and the arguments map each builds (``docs/protocol.md`` section 6).

Kept apart from the command line's other jobs so that each kind is one entry: its options and
how they become a :class:`~agent.sync.protocol.CommandArgs`. Invalid values (a malformed DIN, an
unknown role in a badge file) are usage errors naming the option, before anything is sent.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from agent.duration import parse_duration
from agent.sync.protocol import (
    Allocate,
    BadgeEntry,
    BadgeList,
    Cancel,
    CommandArgs,
    ElectronicIssue,
    Inventory,
    Ping,
    ProtocolError,
    Resync,
    UnitHistory,
)

__all__ = ["add_kinds", "build_args"]

_NS = 1_000_000_000


def _until(lifetime: str) -> int:
    """Now plus ``lifetime`` (``4h``), as Unix nanoseconds."""
    return time.time_ns() + round(parse_duration(lifetime) * _NS)


def _badges(path: Path) -> BadgeList:
    """A badge list from a JSON file: ``[{"uid": "04A1B2", "user": "nurse-1", "name": "...",
    "roles": ["clinician"]}, ...]``."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise TypeError(f"{path}: expected a JSON array of badges")
    return BadgeList(
        time.time_ns(),
        tuple(
            BadgeEntry(
                str(entry["uid"]).upper(),
                entry["user"],
                entry.get("name", ""),
                tuple(entry.get("roles", ())),
            )
            for entry in entries
        ),
    )


_BUILDERS: dict[str, Callable[[argparse.Namespace], CommandArgs]] = {
    "ping": lambda _args: Ping(),
    "resync": lambda args: Resync(args.from_sequence),
    "allocate": lambda args: Allocate(args.din, args.patient, args.order, _until(args.valid)),
    "electronic-issue": lambda args: ElectronicIssue(
        args.patient,
        args.order,
        tuple(group.strip() for group in args.groups.split(",")),
        args.product_class,
        args.units,
        _until(args.valid),
    ),
    "cancel": lambda args: Cancel(args.order, args.din),
    "badges": lambda args: _badges(args.file),
    "inventory": lambda _args: Inventory(),
    "unit-history": lambda args: UnitHistory(
        args.din,
        args.minimum,
        args.maximum,
        time.time_ns() - round(parse_duration(args.covering) * _NS),
        time.time_ns(),
    ),
}


def add_kinds(
    kinds: argparse._SubParsersAction[argparse.ArgumentParser], sequence: Callable[[str], int]
) -> None:
    """Add one sub-command per command kind to ``kinds``."""
    kinds.add_parser("ping", help="prove the command path")
    resync = kinds.add_parser("resync", help="make the device resend from a sequence")
    resync.add_argument("--from", dest="from_sequence", required=True, type=sequence)
    allocate = kinds.add_parser("allocate", help="unit DIN is crossmatched for a patient")
    allocate.add_argument("--din", required=True, help="13-character DIN, e.g. A999926000001")
    allocate.add_argument("--patient", required=True)
    allocate.add_argument("--order", required=True)
    allocate.add_argument("--valid", default="4h", help="how long it holds (4h)")
    issue = kinds.add_parser(
        "electronic-issue", help="a patient may take compatible in-stock units"
    )
    issue.add_argument("--patient", required=True)
    issue.add_argument("--order", required=True)
    issue.add_argument("--groups", required=True, help="ABO/RhD groups, e.g. O-,O+")
    issue.add_argument("--units", required=True, type=int, help="how many units at most")
    issue.add_argument("--class", dest="product_class", default="red_cells")
    issue.add_argument("--valid", default="4h", help="how long it holds (4h)")
    cancel = kinds.add_parser("cancel", help="end an order's allocations (or one unit's)")
    cancel.add_argument("--order", required=True)
    cancel.add_argument("--din", help="only this unit's allocation")
    badges = kinds.add_parser("badges", help="send the badge list (a JSON file)")
    badges.add_argument("--file", required=True, type=Path)
    kinds.add_parser("inventory", help="ask for an inventory snapshot")
    history = kinds.add_parser(
        "unit-history", help="a dispensed unit's temperature history, for its return"
    )
    history.add_argument("--din", required=True)
    history.add_argument("--minimum", required=True, type=float, help="lowest °C recorded")
    history.add_argument("--maximum", required=True, type=float, help="highest °C recorded")
    history.add_argument(
        "--covering", required=True, help="how far back from now it reaches, e.g. 2h"
    )


def build_args(args: argparse.Namespace) -> CommandArgs:
    """The arguments map of the kind ``args.kind``; ``ValueError`` naming what is wrong."""
    try:
        return _BUILDERS[args.kind](args)
    except (ProtocolError, OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{args.kind}: {error}") from None
