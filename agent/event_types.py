"""The names of event types, as they appear in logs, in the journal and on the wire.

Kept apart from the payload classes so that the core events (:mod:`agent.events`) and the
dispensing cabinet's events (:mod:`agent.dispensing_events`) can both name themselves without
importing each other. A name, once shipped, never changes meaning: the hospital stores it.
"""

from __future__ import annotations

import enum

__all__ = ["EventType"]


class EventType(enum.StrEnum):
    """The names of event types, as they appear in logs and on the wire."""

    AGENT_STARTED = "agent_started"
    AGENT_STOPPING = "agent_stopping"
    TEMPERATURE_SAMPLE = "temperature_sample"
    PROBE_FAULT = "probe_fault"
    DOOR_CHANGED = "door_changed"
    PRESENCE_CHANGED = "presence_changed"
    TAGS_CHANGED = "tags_changed"
    POWER_CHANGED = "power_changed"
    BADGE_PRESENTED = "badge_presented"
    BARCODE_SCANNED = "barcode_scanned"
    INPUT_REJECTED = "input_rejected"
    HARDWARE_FAULT = "hardware_fault"
    COMMAND_RECEIVED = "command_received"
    COMMAND_ANSWERED = "command_answered"
    SYNC_REJECTED = "sync_rejected"
    RECORD_UNREADABLE = "record_unreadable"
    # the dispensing cabinet (agent.dispensing_events)
    SIGNED_IN = "signed_in"
    REQUEST_REFUSED = "request_refused"
    UNIT_STOCKED = "unit_stocked"
    ORDER_PLACED = "order_placed"
    UNIT_ALLOCATED = "unit_allocated"
    ELECTRONIC_ISSUE_ALLOWED = "electronic_issue_allowed"
    ORDER_CANCELLED = "order_cancelled"
    ALLOCATION_CANCELLED = "allocation_cancelled"
    SLOTS_RELEASED = "slots_released"
    UNIT_DISPENSED = "unit_dispensed"
    UNIT_DISPOSED = "unit_disposed"
    WRONG_UNIT_REMOVED = "wrong_unit_removed"
    SLOTS_RELOCKED = "slots_relocked"
    UNIT_RETURNED = "unit_returned"
    UNIT_QUARANTINED = "unit_quarantined"
    EXPIRY_WARNING = "expiry_warning"
    EXPIRY_SWEPT = "expiry_swept"
    BADGE_LIST_UPDATED = "badge_list_updated"
    INVENTORY_SNAPSHOT = "inventory_snapshot"
    ALARM_ACKNOWLEDGED = "alarm_acknowledged"
