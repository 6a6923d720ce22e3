"""Hypothesis strategies for the wire protocol's tests: every kind of valid message."""

from __future__ import annotations

import dataclasses
import typing
from typing import TypeVar

from hypothesis import strategies as st

from agent.dispensing_events import (
    BadgeListUpdated,
    InventorySnapshot,
    SlotsReleased,
    SlotsRelocked,
)
from agent.events import (
    PAYLOAD_TYPES,
    Event,
    Payload,
    RecordId,
    TemperatureSample,
)
from agent.sync.protocol import (
    COMMAND_TYPES,
    ROLES,
    Allocate,
    BadgeEntry,
    BadgeList,
    BatchAck,
    Birth,
    Cancel,
    Command,
    CommandArgs,
    CommandReply,
    Death,
    ElectronicIssue,
    Inventory,
    Message,
    Outcome,
    Ping,
    RecordBatch,
    RefusalReason,
    RejectReason,
    Resync,
    SequenceRange,
    Topic,
    UnitHistory,
)

T = TypeVar("T")
U64 = 2**64 - 1
identifiers = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True)
u64 = st.integers(0, 20) | st.integers(0, U64)
_finite = st.floats(allow_nan=False, allow_infinity=False)
_texts = st.text(max_size=12)

_FIELD_STRATEGIES: dict[object, st.SearchStrategy[object]] = {
    str: _texts,
    bool: st.booleans(),
    int: st.integers(-(2**63), 2**63),
    float: _finite,
    float | None: st.none() | _finite,
    str | None: st.none() | _texts,
    tuple[str, ...]: st.lists(_texts, max_size=3).map(tuple),
    int | None: st.none() | st.integers(-(2**63), 2**63),
    tuple[int, ...]: st.lists(st.integers(-(2**63), 2**63), max_size=3).map(tuple),
}


COLUMN_PAYLOADS: dict[type[Payload], tuple[str, ...]] = {
    InventorySnapshot: (
        "slots",
        "dins",
        "states",
        "expiries_ns",
        "blood_groups",
        "product_codes",
    ),
    SlotsReleased: ("slots", "dins", "orders", "relock_at_ns"),
    SlotsRelocked: ("slots", "dins"),
    BadgeListUpdated: ("uids", "users", "names", "roles"),
}
"""Payloads whose tuple fields are columns of one length."""


def columns_of_one_length(
    cls: type[Payload], field_strategies: dict[object, st.SearchStrategy[object]]
) -> st.SearchStrategy[Payload]:
    """``cls`` built with its column fields of one length, drawn from ``field_strategies``."""
    hints = typing.get_type_hints(cls)
    columns = COLUMN_PAYLOADS[cls]

    @st.composite
    def build(draw: st.DrawFn) -> Payload:
        size = draw(st.integers(0, 4))
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if f.name in columns:
                item = field_strategies[typing.get_args(hint)[0]]
                values[f.name] = tuple(draw(st.lists(item, min_size=size, max_size=size)))
            else:
                values[f.name] = draw(field_strategies[hint])
        return cls(**values)

    return build()


celsius = st.one_of(
    st.integers(-4000, 4000).map(lambda n: n / 100),
    st.integers(-40000, 40000).map(lambda n: n / 1000),
    st.integers(-5000, 5000).map(lambda n: n / 128),
    _finite,
    st.just(-0.0),
)


def _payload_of(cls: type[Payload]) -> st.SearchStrategy[Payload]:
    if cls in COLUMN_PAYLOADS:
        return columns_of_one_length(cls, _FIELD_STRATEGIES)
    if cls is TemperatureSample:
        return st.builds(
            TemperatureSample, probe=st.sampled_from(["air", "core", ""]) | _texts, celsius=celsius
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: _FIELD_STRATEGIES[hints[f.name]] for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


payloads = st.one_of([_payload_of(cls) for cls in PAYLOAD_TYPES.values()])
temperatures = _payload_of(TemperatureSample)


@st.composite
def record_lists(draw: st.DrawFn, device: str) -> tuple[Event, ...]:
    """Records in ascending order: arbitrary ones, or a steady series like a sampler's."""
    if draw(st.booleans()):
        keys = draw(st.lists(st.tuples(u64, u64), min_size=1, max_size=12, unique=True))
        events = [
            Event(
                RecordId(device, epoch, seq),
                draw(u64),
                draw(u64),
                draw(st.booleans()),
                draw(payloads),
            )
            for epoch, seq in sorted(keys)
        ]
        return tuple(events)
    count = draw(st.integers(1, 40))
    seq, mono = draw(st.integers(0, 2**40)), draw(st.integers(0, 2**50))
    offset = draw(st.integers(10**6, 2**61))
    epoch, synced = draw(st.integers(0, 3)), draw(st.booleans())
    events = []
    for _ in range(count):
        seq += draw(st.integers(1, 10))
        mono += draw(st.integers(0, 10**10))
        offset += draw(st.sampled_from([0, 0, 0, -1000, 5_000_000]))
        payload = draw(temperatures | payloads)
        events.append(Event(RecordId(device, epoch, seq), mono + offset, mono, synced, payload))
    return tuple(events)


@st.composite
def batches(draw: st.DrawFn) -> RecordBatch:
    device = draw(identifiers)
    return RecordBatch(device, draw(record_lists(device)), draw(st.booleans()))


@st.composite
def acks(draw: st.DrawFn) -> BatchAck:
    device = draw(identifiers)
    if draw(st.booleans()):
        return BatchAck.rejected(device, draw(st.sampled_from(RejectReason)), draw(_texts))
    bounds = sorted(draw(st.lists(st.tuples(u64, u64), min_size=2, max_size=8, unique=True)))
    ranges = [SequenceRange(e, s, s) for e, s in bounds]
    return BatchAck(device, "committed", tuple(ranges))  # type: ignore[arg-type]


dins = st.from_regex(r"[A-NP-Z1-9][0-9]{12}", fullmatch=True)
abo_rhd = st.sampled_from(["O-", "O+", "A-", "A+", "B-", "B+", "AB-", "AB+"])
product_classes = st.sampled_from(["red_cells", "whole_blood", "platelets", "plasma", "cryo"])
badges = st.builds(
    BadgeEntry,
    uid=st.from_regex(r"([0-9A-F]{2}){1,8}", fullmatch=True),
    user=identifiers,
    name=st.text(max_size=24),
    roles=st.lists(st.sampled_from(sorted(ROLES)), max_size=3, unique=True).map(tuple),
)
COMMAND_ARGS: dict[str, st.SearchStrategy[CommandArgs]] = {
    "ping": st.just(Ping()),
    "resync": st.builds(Resync, from_sequence=u64),
    "allocate": st.builds(Allocate, din=dins, patient=identifiers, order=identifiers, until_ns=u64),
    "electronic_issue": st.builds(
        ElectronicIssue,
        patient=identifiers,
        order=identifiers,
        groups=st.lists(abo_rhd, min_size=1, max_size=4, unique=True).map(tuple),
        product_class=product_classes,
        units=st.integers(1, 100),
        until_ns=u64,
    ),
    "cancel": st.builds(Cancel, order=identifiers, din=st.none() | dins),
    "badge_list": st.builds(
        BadgeList,
        issued_ns=u64,
        badges=st.lists(badges, max_size=4, unique_by=lambda b: b.uid).map(tuple),
    ),
    "inventory": st.just(Inventory()),
    "unit_history": st.builds(
        lambda din, low, span, start, length: UnitHistory(
            din, low, low + span, start, start + length
        ),
        dins,
        st.integers(-100, 50) | st.floats(-100, 50, allow_nan=False),
        st.integers(0, 50) | st.floats(0, 50, allow_nan=False),
        st.integers(0, 2**63),
        st.integers(0, 2**60),
    ),
}
assert set(COMMAND_ARGS) == set(COMMAND_TYPES), "every command kind has a strategy"


@st.composite
def commands(draw: st.DrawFn) -> Command:
    issued = draw(st.integers(0, U64 - 1))
    args = draw(st.sampled_from(sorted(COMMAND_ARGS)).flatmap(COMMAND_ARGS.__getitem__))
    return Command(
        device=draw(identifiers),
        request_id=draw(identifiers),
        issued_ns=issued,
        expires_ns=draw(st.integers(issued + 1, U64)),
        nonce=draw(st.binary(min_size=16, max_size=64)),
        args=args,
    )


@st.composite
def replies(draw: st.DrawFn) -> CommandReply:
    device, request_id = draw(identifiers), draw(identifiers)
    if draw(st.booleans()):
        return CommandReply(device, request_id, Outcome.DONE)
    reason = draw(st.sampled_from(RefusalReason))
    return CommandReply(device, request_id, Outcome.REFUSED, reason, draw(_texts))


births = st.builds(
    Birth,
    site=identifiers,
    device=identifiers,
    epoch=u64,
    connection=u64,
    firmware=st.text(max_size=64),
    last_acked=st.none() | u64,
    wall_ns=u64,
    mono_ns=u64,
    synchronised=st.booleans(),
)
deaths = st.builds(Death, site=identifiers, device=identifiers, epoch=u64, connection=u64)

messages: st.SearchStrategy[Message] = st.one_of(
    births, deaths, batches(), acks(), commands(), replies()
)


def topic_of(message: Message, site: str = "site-1") -> Topic:
    """The topic ``message`` is sent on."""
    site = message.site if isinstance(message, Birth | Death) else site
    return Topic(site, message.device, message.TOPIC)
