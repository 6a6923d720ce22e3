"""Errors of the domain core: a decision or event that does not fit the current state.

These are programming or sequencing errors, not answers for a person: a person's request that
cannot be granted gets a :class:`~agent.domain.refusals.Refusal` instead. Whatever raises one of
these leaves the state it was called on unchanged (every state object of the domain is
immutable, so a failed step simply produces no new value).
"""

from __future__ import annotations

__all__ = ["DomainError", "InventoryConflict", "StaleDecision"]


class DomainError(Exception):
    """Base class of the domain core's errors."""


class InventoryConflict(DomainError):
    """A change would break the inventory's rules: two units in one slot, a slot that does not
    exist, a duplicate DIN or tag."""


class StaleDecision(DomainError):
    """A decision applied to a state it no longer fits (the unit, order or slot it names has
    changed since the decision was made)."""
