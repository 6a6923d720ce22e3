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
    ProbeFault,
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


exact_celsius = st.one_of(
    st.integers(-4000, 4000).map(lambda n: n / 100),
    st.integers(-40000, 40000).map(lambda n: n / 1000),
    st.integers(-5000, 5000).map(lambda n: n / 128),
)
"""Readings the compact form carries (a numerator over 100, 1000 or 128)."""

odd_celsius = st.one_of(
    st.sampled_from([-0.0, 4.0 + 1e-9, 0.1 + 0.2, 1e300, -1e300, float(2**70), 5e-324]),
    _finite,
)
"""Readings that (mostly) no divisor carries exactly: their tick travels plain."""

celsius = st.one_of(exact_celsius, odd_celsius)

probe_names = st.sampled_from(["air-1", "air-2", "core", "shelf-3", "ambient", ""]) | _texts
"""Probe names: a cabinet's, the empty one, any text."""


@st.composite
def ticks(draw: st.DrawFn, readings: st.SearchStrategy[float] = celsius) -> TemperatureSample:
    """One sampling tick of 1-8 distinct probes, each with a reading from ``readings``."""
    probes = draw(st.lists(probe_names, min_size=1, max_size=8, unique=True))
    values = draw(st.lists(readings, min_size=len(probes), max_size=len(probes)))
    return TemperatureSample(tuple(probes), tuple(values))


def _payload_of(cls: type[Payload]) -> st.SearchStrategy[Payload]:
    if cls in COLUMN_PAYLOADS:
        return columns_of_one_length(cls, _FIELD_STRATEGIES)
    if cls is TemperatureSample:
        return ticks()
    hints = typing.get_type_hints(cls)
    fields = {f.name: _FIELD_STRATEGIES[hints[f.name]] for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


payloads = st.one_of([_payload_of(cls) for cls in PAYLOAD_TYPES.values()])
temperatures = ticks()


@st.composite
def sampler_records(draw: st.DrawFn, device: str) -> tuple[Event, ...]:
    """Records as a sampler journals them: a group of probes read together every period,
    one tick each; a faulted probe left out of its ticks (with its ``probe_fault``), now and
    then a reading no divisor carries, other records in between, restarts (a new boot epoch,
    the monotonic clock from near zero) and changes of the clock's synchronised state."""
    group = draw(st.lists(probe_names, min_size=1, max_size=8, unique=True))
    divisor = draw(st.sampled_from([100, 1000, 128]))
    levels = [draw(st.integers(-4000, 4000)) for _ in group]
    period = draw(st.sampled_from([1_000_000_000, 10_000_000_000, 60_000_000_000]))
    seq, mono = draw(st.integers(0, 2**40)), draw(st.integers(0, 2**50))
    offset = draw(st.integers(10**6, 2**61))
    epoch, synced = draw(st.integers(0, 3)), draw(st.booleans())
    faulted: set[str] = set()
    events: list[Event] = []

    def record(payload: Payload) -> None:
        nonlocal seq
        seq += draw(st.sampled_from([1, 1, 1, 1, 2, 7]))  # gaps: thinned or other devices' ids
        events.append(Event(RecordId(device, epoch, seq), mono + offset, mono, synced, payload))

    for _ in range(draw(st.integers(1, 40))):
        step = draw(st.integers(0, 19))
        if step == 0:  # a restart: a new boot epoch, the monotonic clock starts again
            epoch += draw(st.integers(1, 3))
            mono = draw(st.integers(0, 10**10))
            offset = draw(st.integers(10**6, 2**61))
        elif step == 1:  # the clock is (re)synchronised or loses its source
            synced = not synced
            offset = max(0, offset + draw(st.integers(-(10**9), 10**9)))
        elif step == 2:
            record(draw(payloads))
        mono += period + draw(st.integers(-3_000_000, 3_000_000))
        offset += draw(st.sampled_from([0, 0, 0, -1000, 5_000_000]))
        probes: list[str] = []
        readings: list[float] = []
        for i, probe in enumerate(group):
            failing = draw(st.integers(0, 1 if probe in faulted else 11)) == 0
            if failing:  # left out of the tick; a fault lasts a while
                if probe not in faulted:
                    faulted.add(probe)
                    record(ProbeFault(probe, "no answer"))
                continue
            if probe in faulted:
                faulted.discard(probe)
                record(ProbeFault(probe, "recovered", cleared=True))
            levels[i] += draw(st.integers(-5, 5))
            odd = draw(st.integers(0, 14)) == 0
            probes.append(probe)
            readings.append(draw(odd_celsius) if odd else levels[i] / divisor)
        if probes:
            record(TemperatureSample(tuple(probes), tuple(readings)))
    return tuple(events)


@st.composite
def record_lists(draw: st.DrawFn, device: str) -> tuple[Event, ...]:
    """Records in ascending order: arbitrary ones, or a sampler's (:func:`sampler_records`)."""
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
    return draw(sampler_records(device))


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
