"""Refusals: the typed "no" that every decision of the domain may answer instead of an outcome.

A refusal is not an error: it is an ordinary answer for the person at the cabinet or for the
hospital that sent a command. Its ``code`` is machine-readable (journaled and synced); its
``message`` is plain words the device shows or says, naming what was asked (a patient, a DIN, a
slot) and never a stack trace.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Refusal", "RefusalCode"]


class RefusalCode(enum.StrEnum):
    """Why a request was refused."""

    UNKNOWN_BADGE = "unknown_badge"
    BADGE_LIST_STALE = "badge_list_stale"
    READER_LOCKED = "reader_locked"
    ROLE_REQUIRED = "role_required"
    INVALID_REQUEST = "invalid_request"
    TAG_MISMATCH = "tag_mismatch"
    UNIT_EXPIRED = "unit_expired"
    DUPLICATE_DIN = "duplicate_din"
    DUPLICATE_TAG = "duplicate_tag"
    PRODUCT_NOT_STORED = "product_not_stored"
    NO_FREE_SLOT = "no_free_slot"
    UNKNOWN_UNIT = "unknown_unit"
    UNIT_UNAVAILABLE = "unit_unavailable"
    ALREADY_ALLOCATED = "already_allocated"
    NOT_ALLOCATED = "not_allocated"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_CONFLICT = "order_conflict"
    PAST_DEADLINE = "past_deadline"
    NO_ALLOCATION = "no_allocation"
    ORDER_LIMIT_REACHED = "order_limit_reached"
    ALREADY_UNLOCKED = "already_unlocked"
    NO_DISPENSABLE_UNIT = "no_dispensable_unit"
    REASON_REQUIRED = "reason_required"
    SECOND_PERSON_REQUIRED = "second_person_required"
    NO_EMERGENCY_UNIT = "no_emergency_unit"
    NOT_DISPENSED = "not_dispensed"
    NOTHING_TO_REMOVE = "nothing_to_remove"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused: ``code`` for machines, ``message`` for the person."""

    code: RefusalCode
    message: str

    def __post_init__(self) -> None:
        if not self.message.strip():
            raise ValueError("a refusal must tell the person why, found an empty message")
