"""``hemotrace-receiver``: the hospital side's command line.

* ``hemotrace-receiver run --broker URL [--db DB] [--group NAME] [--ca-file F] [--cert-file F]
  [--key-file F]`` - the receiver service (:mod:`hospital_receiver.service`), until SIGTERM or
  Ctrl-C; logs in logfmt on stderr.
* ``hemotrace-receiver query --db DB [--device D] [--type T] [--since TIME] [--until TIME]`` -
  what arrived, one line per record (payloads decoded), oldest first per device.
* ``hemotrace-receiver command --broker URL --site S --device D [--expires 60s] KIND ...`` -
  send a command and print the device's reply; kinds: ``ping``, ``resync --from N``,
  ``allocate``, ``electronic-issue``, ``cancel``, ``badges --file F``, ``inventory``
  (:mod:`hospital_receiver.command_kinds`).

Exit codes: 0 success (a command done), 1 a command refused or not answered, 2 usage, database
or broker error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import aiomqtt

from agent.duration import parse_duration
from agent.payload_codec import PayloadDecodeError, decode_payload
from agent.runtime.logfmt import configure_logging
from agent.sync.mqtt_publish import PublishError
from agent.sync.protocol import (
    DEFAULT_SHARE_GROUP,
    Command,
    CommandReply,
    Outcome,
    ProtocolError,
    Resync,
    check_identifier,
)
from hospital_receiver.broker import BrokerSettings
from hospital_receiver.command_kinds import add_kinds, build_args
from hospital_receiver.commands import new_command, round_trip
from hospital_receiver.gaps import ResyncPolicy
from hospital_receiver.open_store import open_store
from hospital_receiver.records import StoredRecord
from hospital_receiver.service import Receiver, ReceiverConfig
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


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration above zero, found {text!r}")
    return seconds


def _identifier(text: str) -> str:
    try:
        return check_identifier(text)
    except ProtocolError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _sequence(text: str) -> int:
    try:
        return Resync(int(text)).from_sequence
    except (ValueError, ProtocolError):
        raise argparse.ArgumentTypeError(f"expected a sequence number, found {text!r}") from None


def _broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", required=True, help="mqtt://host:port, or mqtts://host:port for TLS"
    )
    parser.add_argument("--ca-file", type=Path, help="CA certificate(s) to check the broker with")
    parser.add_argument("--cert-file", type=Path, help="client certificate (PEM)")
    parser.add_argument("--key-file", type=Path, help="client private key (PEM)")


def _broker(parser: argparse.ArgumentParser, args: argparse.Namespace) -> BrokerSettings:
    try:
        return BrokerSettings.from_url(
            args.broker, ca_file=args.ca_file, cert_file=args.cert_file, key_file=args.key_file
        )
    except ValueError as error:
        parser.error(str(error))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hemotrace-receiver", description="The hospital side of hemotrace's record sync."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="take the fleet's records into the database")
    _broker_options(run)
    run.add_argument(
        "--db",
        default="hemotrace-receiver.db",
        help="SQLite file or postgresql:// URL (hemotrace-receiver.db)",
    )
    run.add_argument(
        "--group",
        type=_identifier,
        default=DEFAULT_SHARE_GROUP,
        help=f"shared-subscription group: receivers of one group share the load "
        f"({DEFAULT_SHARE_GROUP})",
    )
    run.add_argument(
        "--resync-after",
        type=_duration,
        default=ResyncPolicy().grace_s,
        help="ask for a gap once it has not moved for this long (30s)",
    )
    run.add_argument("--verbose", action="store_true", help="log debug messages too")
    send = commands.add_parser("command", help="send a command to a device, print its reply")
    _broker_options(send)
    send.add_argument("--site", required=True, type=_identifier)
    send.add_argument("--device", required=True, type=_identifier)
    send.add_argument(
        "--expires", type=_duration, default=60.0, help="the command's lifetime (60s)"
    )
    kinds = send.add_subparsers(dest="kind", required=True, metavar="KIND")
    add_kinds(kinds, _sequence)
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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(_broker(parser, args), args)
    if args.command == "command":
        return _command(_broker(parser, args), args)
    return _query(args)


def _run(broker: BrokerSettings, args: argparse.Namespace) -> int:
    configure_logging(logging.DEBUG if args.verbose else logging.INFO, sys.stderr)
    try:
        open_store(args.db).close()  # fail now, plainly, rather than refuse every batch
    except Exception as error:  # noqa: BLE001 - any driver's connection error, reported plainly
        print(f"hemotrace-receiver: cannot open {args.db}: {error}", file=sys.stderr)  # noqa: T201
        return 2
    config = ReceiverConfig(
        broker=broker, group=args.group, resync=ResyncPolicy(grace_s=args.resync_after)
    )
    asyncio.run(_until_signalled(Receiver(config, lambda: open_store(args.db))))
    return 0


async def _until_signalled(receiver: Receiver) -> None:
    """Run ``receiver`` until SIGTERM or SIGINT, then stop it cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = asyncio.create_task(receiver.run(), name="receiver")
    stopped = asyncio.create_task(stop.wait(), name="signals")
    await asyncio.wait({service, stopped}, return_when=asyncio.FIRST_COMPLETED)
    service.cancel()
    stopped.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await service
    logging.getLogger("hospital_receiver.cli").info("stopped")


def _command(broker: BrokerSettings, args: argparse.Namespace) -> int:
    try:
        kind = build_args(args)
    except ValueError as error:
        print(f"hemotrace-receiver: {error}", file=sys.stderr)  # noqa: T201
        return 2
    command = new_command(args.device, kind, args.expires)
    try:
        reply = asyncio.run(_send(broker, args.site, command, args.expires))
    except LookupError as error:
        print(f"hemotrace-receiver: {error}", file=sys.stderr)  # noqa: T201
        return 1
    except (aiomqtt.MqttError, PublishError) as error:
        print(f"hemotrace-receiver: broker: {error}", file=sys.stderr)  # noqa: T201
        return 2
    if reply is None:
        print(  # noqa: T201
            f"hemotrace-receiver: no reply from {args.device} within {args.expires:g} s",
            file=sys.stderr,
        )
        return 1
    print(describe_reply(reply))  # noqa: T201 - the command's output
    return 0 if reply.outcome is Outcome.DONE else 1


async def _send(
    broker: BrokerSettings, site: str, command: Command, timeout_s: float
) -> CommandReply | None:
    async with broker.client("hemotrace-command") as client:
        return await round_trip(client, site, command, timeout_s)


def describe_reply(reply: CommandReply) -> str:
    """One line: device, request id, outcome, and why when refused."""
    line = f"{reply.device} {reply.request_id} {reply.outcome}"
    if reply.reason is not None:
        line += f" {reply.reason}: {reply.detail}"
    return line


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


def _value(value: object) -> str:
    """A payload field as text; an array's items joined by commas (a tick's probes, then its
    readings in the same order)."""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def describe(record: StoredRecord) -> str:
    """One line: identity, device time, type, payload fields."""
    moment = dt.datetime.fromtimestamp(record.wall_ns / 1e9, tz=dt.UTC)
    try:
        payload = decode_payload(record.type, record.payload)
        fields = " ".join(
            f"{field.name}={_value(getattr(payload, field.name))}"
            for field in dataclasses.fields(payload)
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
