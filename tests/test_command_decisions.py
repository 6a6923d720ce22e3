"""The command desk hands the hospital's dispensing decisions to the device's workflows - only
after the command is journaled and its nonce claimed - and replies ``rejected`` with the
workflow's reason, or for a device that does not dispense."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.events import CommandAnswered, CommandReceived, Event
from agent.journal import Journal
from agent.runtime.stream import EventStream
from agent.sync.commands import CommandDesk, Decision
from agent.sync.nonces import NonceStore
from agent.sync.protocol import (
    Allocate,
    Command,
    Inventory,
    Outcome,
    RefusalReason,
    Topic,
    TopicKind,
    encode_message,
)
from hal_sim.clock import SimClock

DEVICE = "cab-1"
TOPIC = Topic("site-1", DEVICE, TopicKind.COMMANDS)
NOW_NS = 1_767_600_000_000_000_000


def _command(args: Any, request_id: str, nonce: bytes) -> bytes:
    return encode_message(Command(DEVICE, request_id, NOW_NS, NOW_NS + 60 * 10**9, nonce, args))


def test_decisions_are_journaled_then_carried_out_or_rejected(
    run_virtual: Any, tmp_path: Path
) -> None:
    async def body() -> tuple[list[Any], list[Event], list[Decision]]:
        clock = SimClock(asyncio.get_running_loop(), wall_epoch_ns=NOW_NS)
        journal = await Journal.open(tmp_path / "journal.db", device_id=DEVICE)
        stream = EventStream(device_id=DEVICE, boot_epoch=1, clock=clock, sink=journal)
        events: list[Event] = []
        stream.observe(events.append)
        desk = CommandDesk(
            device_id=DEVICE,
            journal=journal,
            stream=stream,
            clock=clock,
            nonces=NonceStore(tmp_path / "nonces.db"),
            on_resync=lambda _sequence: None,
        )
        allocate = Allocate("A999926000001", "P-1", "ORD-1", NOW_NS + 3600 * 10**9)
        replies = [await desk.handle(_command(allocate, "no-desk", bytes(16)), TOPIC)]
        carried: list[Decision] = []

        async def decide(decision: Decision) -> str | None:
            assert any(isinstance(e.payload, CommandReceived) for e in events[-1:])
            carried.append(decision)
            return None if isinstance(decision, Inventory) else "Unit A999926000001 is not here."

        desk.hand_decisions_to(decide)
        replies.append(await desk.handle(_command(allocate, "refused", b"\x01" * 16), TOPIC))
        replies.append(await desk.handle(_command(Inventory(), "done", b"\x02" * 16), TOPIC))
        replies.append(await desk.handle(_command(Inventory(), "done", b"\x02" * 16), TOPIC))
        await journal.close()
        return replies, events, carried

    replies, events, carried = run_virtual(body())
    assert [(r.request_id, r.outcome, r.reason, r.detail) for r in replies] == [
        ("no-desk", Outcome.REFUSED, RefusalReason.REJECTED, "this device does not dispense"),
        ("refused", Outcome.REFUSED, RefusalReason.REJECTED, "Unit A999926000001 is not here."),
        ("done", Outcome.DONE, None, ""),
        ("done", Outcome.REFUSED, RefusalReason.REPLAYED, "nonce already used"),
    ]
    assert carried == [
        Allocate("A999926000001", "P-1", "ORD-1", NOW_NS + 3600 * 10**9),
        Inventory(),
    ]  # the replayed command never reached the workflows
    answered = [e.payload for e in events if isinstance(e.payload, CommandAnswered)]
    assert [(a.request_id, a.reason) for a in answered] == [
        ("no-desk", "rejected"),
        ("refused", "rejected"),
        ("done", None),
        ("done", "replayed"),
    ]
