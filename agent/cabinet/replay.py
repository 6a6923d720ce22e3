"""Rebuilding the cabinet's state from its journal after a restart.

The journal is the one source of truth (invariant 1: nothing is done that it does not hold).
:func:`rebuild` applies its dispensing records in order to an empty cabinet; the result is the
state the cabinet had when the agent stopped, with what the desk needs besides (when each unit
left storage, which expiry warnings were already given). Slots released before the restart
are not released any more - the locks engaged when the power went - so the caller relocks
them (``relock_all(reason="restart")``) and journals it.

A record that no longer fits (a journal damaged by hand, a stock-in older than the journal's
retention) is reported and skipped: the rest of the state is still rebuilt, and the problems
are journaled so that someone looks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.cabinet.records import badge_list_of, moment, outcome_of
from agent.dispensing_events import (
    STATE_CHANGES,
    AlarmAcknowledged,
    BadgeListUpdated,
    ExpiryWarning,
    UnitDispensed,
    WrongUnitRemoved,
)
from agent.domain import Cabinet, DomainError
from agent.event_types import EventType
from agent.events import Event

__all__ = ["RESTORED_TYPES", "Rebuilt", "rebuild"]

RESTORED_TYPES: frozenset[EventType] = STATE_CHANGES | {
    EventType.EXPIRY_WARNING,
    EventType.ALARM_ACKNOWLEDGED,
}
"""The records :func:`rebuild` reads: every state change, the expiry warnings given, and the
alarm's acknowledgements (an incident's alarm sounds again after a restart until one)."""


@dataclass
class Rebuilt:
    """The cabinet as the journal left it, and the desk's memory of it."""

    cabinet: Cabinet
    left_storage: dict[str, dt.datetime] = field(default_factory=dict)
    """When each dispensed unit left the cabinet, for the return rule."""
    warned: set[str] = field(default_factory=set)
    """Units whose expiry warning was already given."""
    problems: list[str] = field(default_factory=list)
    """Records that did not fit and were skipped, described."""
    alarm: bool = False
    """An incident's alarm was raised and nobody acknowledged it."""


def rebuild(cabinet: Cabinet, events: Iterable[Event]) -> Rebuilt:
    """Apply the dispensing records ``events`` (in sequence order) to ``cabinet``."""
    rebuilt = Rebuilt(cabinet)
    for event in events:
        payload = event.payload
        if isinstance(payload, BadgeListUpdated):
            rebuilt.cabinet = rebuilt.cabinet.with_badges(badge_list_of(payload))
            continue
        if isinstance(payload, ExpiryWarning):
            rebuilt.warned.add(payload.din)
            continue
        if isinstance(payload, AlarmAcknowledged):
            rebuilt.alarm = False
            continue
        if isinstance(payload, WrongUnitRemoved):
            rebuilt.alarm = True
        outcome = outcome_of(event, rebuilt.cabinet)
        if outcome is None:
            continue
        try:
            rebuilt.cabinet = rebuilt.cabinet.apply(outcome)
        except DomainError as error:
            rebuilt.problems.append(f"record {event.id} ({event.type}) skipped: {error}")
            continue
        if isinstance(payload, UnitDispensed):
            rebuilt.left_storage[payload.din] = moment(event.wall_ns)
    return rebuilt
