"""Commands from the hospital: decided and acted on only after they are journaled (invariant 5).

For every message on the device's ``commands`` topic, :meth:`CommandDesk.handle`:

1. decodes it strictly; one that fails is refused (``malformed`` / ``unknown``) and the refusal
   journaled, or - when not even its request id can be read, or it names another device - only
   logged, with no reply (``docs/protocol.md`` section 6);
2. journals a :class:`~agent.events.CommandReceived` through the event stream, *before*
   deciding anything - if that fails, nothing happens at all;
3. refuses it when it has expired by the device's wall clock, or when its nonce was claimed
   before (:class:`~agent.sync.nonces.NonceStore`, durable across restarts); otherwise claims
   the nonce and acts (``ping``: nothing; ``resync``: the journal resends and the link's
   cursors rewind; a dispensing decision - allocations, the badge list, an inventory request -
   goes to the device's workflows, which may refuse it as ``rejected`` with a reason);
4. journals the outcome (:class:`~agent.events.CommandAnswered`) and returns the reply to send.

A command is acted on at most once: the nonce is claimed durably before acting.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import assert_never

from agent.clock import Clock
from agent.events import CommandAnswered, CommandReceived
from agent.journal import Journal
from agent.runtime.stream import EventStream
from agent.sync.nonces import NonceStore
from agent.sync.protocol import (
    Allocate,
    BadgeList,
    Cancel,
    Command,
    CommandArgs,
    CommandReply,
    ElectronicIssue,
    Inventory,
    Outcome,
    Ping,
    ProtocolError,
    RefusalReason,
    Resync,
    Topic,
    UnitHistory,
    WrongDevice,
    decode_message,
    refusal_for,
)

__all__ = ["CommandDesk", "Decision", "DecisionHandler"]

Decision = Allocate | ElectronicIssue | Cancel | BadgeList | Inventory | UnitHistory
"""The hospital's dispensing decisions: acted on by the device's workflows."""

DecisionHandler = Callable[[Decision], Awaitable[str | None]]
"""Carries out one decision: None when done, or why the device cannot (a ``rejected``
refusal). Called only after the command is journaled and its nonce claimed."""

_log = logging.getLogger(__name__)


def _journaled_arguments(args: CommandArgs) -> str:
    """A command's arguments as its ``command_received`` record keeps them: in full, except a
    badge list's badges - the ``badge_list_updated`` record journaled before the list is used
    holds them all - which are kept as their count and SHA-256, so the record stays small."""
    text = json.dumps(args.to_args(), sort_keys=True)
    if not isinstance(args, BadgeList):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    summary = {"issued_ns": args.issued_ns, "badges": len(args.badges), "sha256": digest}
    return json.dumps(summary, sort_keys=True)


class CommandDesk:
    """Handles the commands of one device. ``on_resync(from_sequence)`` is called after the
    journal made records pending again, so the link reads them again; ``decisions`` carries out
    dispensing decisions (a device without dispensing workflows refuses them)."""

    def __init__(
        self,
        *,
        device_id: str,
        journal: Journal,
        stream: EventStream,
        clock: Clock,
        nonces: NonceStore,
        on_resync: Callable[[int], None],
        decisions: DecisionHandler | None = None,
    ) -> None:
        self._device = device_id
        self._journal = journal
        self._stream = stream
        self._clock = clock
        self._nonces = nonces
        self._on_resync = on_resync
        self._decisions = decisions

    def hand_decisions_to(self, decisions: DecisionHandler) -> None:
        """From now on, carry out dispensing decisions with ``decisions``."""
        self._decisions = decisions

    async def handle(self, data: bytes, topic: Topic) -> CommandReply | None:
        """Decide on one command message; the reply to publish, or None when there is none."""
        try:
            message = decode_message(data, topic)
        except ProtocolError as error:
            if error.request_id is None or isinstance(error, WrongDevice):
                _log.warning("command ignored, no reply possible: %s: %s", error.reason, error)
                return None
            _log.warning("command %s refused: %s", error.request_id, error)
            return await self._answer(error.request_id, refusal_for(error), str(error))
        if not isinstance(message, Command):  # decode_message checks the kind against the topic
            raise TypeError(f"decode_message returned a {message.KIND} for {topic}")
        await self._stream.record(
            CommandReceived(
                request_id=message.request_id,
                command=message.args.NAME,
                issued_ns=message.issued_ns,
                expires_ns=message.expires_ns,
                nonce=message.nonce.hex(),
                arguments=_journaled_arguments(message.args),
            )
        )
        now = self._clock.wall_ns()
        if message.expired(now):
            late_s = (now - message.expires_ns) / 1e9
            return await self._answer(
                message.request_id, RefusalReason.EXPIRED, f"expired {late_s:.3f} s ago"
            )
        if not await self._nonces.claim(message.nonce, message.expires_ns, now):
            return await self._answer(
                message.request_id, RefusalReason.REPLAYED, "nonce already used"
            )
        rejection = await self._act(message)
        if rejection is not None:
            return await self._answer(message.request_id, RefusalReason.REJECTED, rejection)
        return await self._answer(message.request_id)

    async def _act(self, command: Command) -> str | None:
        """Carry out ``command``; why it cannot be, or None when done."""
        args = command.args
        if isinstance(
            args, Allocate | ElectronicIssue | Cancel | BadgeList | Inventory | UnitHistory
        ):
            if self._decisions is None:
                return "this device does not dispense"
            return await self._decisions(args)
        if isinstance(args, Resync):
            count = await self._journal.resend_from(args.from_sequence)
            self._on_resync(args.from_sequence)
            _log.info(
                "command %s: resync from %d, %d records pending again",
                command.request_id,
                args.from_sequence,
                count,
            )
        elif isinstance(args, Ping):
            _log.info("command %s: ping", command.request_id)
        else:
            assert_never(args)
        return None

    async def _answer(
        self, request_id: str, reason: RefusalReason | None = None, detail: str = ""
    ) -> CommandReply:
        outcome = Outcome.DONE if reason is None else Outcome.REFUSED
        await self._stream.record(
            CommandAnswered(
                request_id=request_id,
                outcome=str(outcome),
                reason=None if reason is None else str(reason),
                detail=detail,
            )
        )
        return CommandReply(self._device, request_id, outcome, reason, detail)
