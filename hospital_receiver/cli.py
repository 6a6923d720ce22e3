"""``hemotrace-receiver``: the hospital side's command line.

* ``hemotrace-receiver query --db DB [--device D] [--type T] [--since TIME] [--until TIME]`` -
  what arrived, one line per record (payloads decoded), oldest first per device.

Exit codes: 0 success, 2 usage or database error.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from collections.abc import Sequence

from agent.payload_codec import PayloadDecodeError, decode_payload
from hospital_receiver.open_store import open_store
from hospital_receiver.records import StoredRecord
from hospital_receiver.store import Query

__all__ = ["main"]


def _moment(text: str) -> int:
    """An ISO 8601 time (UTC unless it says otherwise) as Unix nanoseconds."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2026-01-05T08:00:00Z, found {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hemotrace-receiver", description="The hospital side of hemotrace's record sync."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    query = commands.add_parser("query", help="list the records that arrived")
    query.add_argument("--db", required=True, help="SQLite file or postgresql:// URL")
    query.add_argument("--device", help="only this device")
    query.add_argument("--type", help="only this event type (e.g. door_changed)")
    query.add_argument("--since", type=_moment, help="from this device time (ISO 8601)")
    query.add_argument("--until", type=_moment, help="before this device time (ISO 8601)")
    query.add_argument("--limit", type=int, default=1000, help="at most this many (1000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hemotrace-receiver``; returns the exit code."""
    args = _parser().parse_args(argv)
    return _query(args)


def _query(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.db)
    except Exception as error:  # noqa: BLE001 - any driver's connection error, reported plainly
        print(f"hemotrace-receiver: cannot open {args.db}: {error}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        records = store.find(
            Query(
                device=args.device,
                type=args.type,
                since_ns=args.since,
                until_ns=args.until,
                limit=args.limit,
            )
        )
    finally:
        store.close()
    for record in records:
        print(describe(record))  # noqa: T201 - the command's output
    return 0


def describe(record: StoredRecord) -> str:
    """One line: identity, device time, type, payload fields."""
    moment = dt.datetime.fromtimestamp(record.wall_ns / 1e9, tz=dt.UTC)
    try:
        payload = decode_payload(record.type, record.payload)
        fields = " ".join(
            f"{field.name}={getattr(payload, field.name)}" for field in dataclasses.fields(payload)
        )
    except PayloadDecodeError as error:
        fields = f"(undecodable payload: {error})"
    identity = record.identity
    flags = " historical" if record.historical else ""
    clock = "" if record.clock_synchronised else " clock-unsynchronised"
    return (
        f"{identity.device}/{identity.boot_epoch}/{identity.sequence}"
        f" {moment.isoformat(timespec='milliseconds')} {record.type}{flags}{clock} {fields}"
    )
