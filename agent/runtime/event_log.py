"""An observer that writes every event as a structured log line.

Temperature samples go at DEBUG (a cabinet makes one a second, eight readings); everything else
at INFO, so the default log reads as what happened to the device. ``at`` is the event's own
wall-clock time (in the simulator, simulated time), beside the line's ``ts`` of the host's clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from agent.events import Event, EventType

__all__ = ["log_event"]

_log = logging.getLogger("agent.events")


def log_event(event: Event) -> None:
    """Log ``event`` with its identity, type and payload fields."""
    level = logging.DEBUG if event.type is EventType.TEMPERATURE_SAMPLE else logging.INFO
    if not _log.isEnabledFor(level):
        return
    at = dt.datetime.fromtimestamp(event.wall_ns / 1e9, tz=dt.UTC)
    fields: dict[str, object] = {
        "at": at.isoformat(timespec="milliseconds"),
        "id": str(event.id),
        "type": event.type.value,
    }
    fields.update(
        (field.name, getattr(event.payload, field.name))
        for field in dataclasses.fields(event.payload)
    )
    _log.log(level, "event", extra={"fields": fields})
