"""The return decision: may a unit that went out come back into stock?

Invariant kept: a returned unit goes back into stock only if it is unexpired and, by the
policy's :class:`~agent.domain.policy.ReturnRule`, its time out of controlled storage is within
the limit and/or a temperature history covering that whole time stayed within the transport
limits of its product class; anything else is quarantined. Either way the caller journals the
decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agent.domain.allocations import require_aware
from agent.domain.outcomes import UnitReturned
from agent.domain.policy import DispensePolicy, ReturnRule
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.units import Unit, UnitState
from agent.domain.users import Role, User

if TYPE_CHECKING:
    from agent.domain.cabinet import Cabinet

__all__ = ["TemperatureSummary", "return_decision"]


@dataclass(frozen=True, slots=True)
class TemperatureSummary:
    """The extremes of a temperature history (e.g. a transport box's trip report) and the span
    of time it covers."""

    minimum_c: float
    maximum_c: float
    covers_from: datetime
    covers_until: datetime

    def __post_init__(self) -> None:
        require_aware("covers_from", self.covers_from)
        require_aware("covers_until", self.covers_until)
        if self.minimum_c > self.maximum_c or self.covers_from > self.covers_until:
            raise ValueError(
                "a temperature summary needs minimum <= maximum and from <= until, found "
                f"{self.minimum_c}..{self.maximum_c} over {self.covers_from}..{self.covers_until}"
            )


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"


def _judge(
    unit: Unit,
    *,
    left: datetime,
    returned: datetime,
    temperature: TemperatureSummary | None,
    policy: DispensePolicy,
) -> tuple[bool, str]:
    """Whether the unit may go back into stock, and why in plain words."""
    time_out = returned - left
    if unit.identity.expired(returned):
        return False, f"the unit expired at {unit.expiry:%Y-%m-%d %H:%M}"
    in_time = time_out <= policy.return_limit
    time_words = (
        f"{_minutes(time_out)} out of controlled storage, limit {_minutes(policy.return_limit)}"
    )
    limits = policy.transport_limits.get(unit.product_class)
    if temperature is None:
        in_range, temp_words = False, "no temperature history"
    elif not (temperature.covers_from <= left and returned <= temperature.covers_until):
        in_range, temp_words = False, "the temperature history does not cover the time out"
    elif limits is None:
        in_range, temp_words = False, f"no transport limits are set for {unit.product_class}"
    else:
        in_range = limits.holds(temperature.minimum_c, temperature.maximum_c)
        temp_words = (
            f"kept at {temperature.minimum_c:g} to {temperature.maximum_c:g} °C, limits "
            f"{limits.low_c:g} to {limits.high_c:g} °C"
        )
    if policy.return_rule is ReturnRule.TIME:
        return in_time, time_words
    if policy.return_rule is ReturnRule.TEMPERATURE:
        return in_range, temp_words
    if in_time:
        return True, time_words
    return in_range, f"{time_words}; {temp_words}"


def return_decision(
    cabinet: Cabinet,
    user: User,
    din: str,
    *,
    left_storage_at: datetime,
    returned_at: datetime,
    temperature: TemperatureSummary | None = None,
) -> UnitReturned | Refusal:
    """Accept unit ``din`` back into a free slot, or quarantine it (in a free slot if there is
    one, else to be handed to the blood bank); refuse if it was not dispensed from here."""
    if not (user.has(Role.CLINICIAN) or user.has(Role.TECHNICIAN)):
        return Refusal(RefusalCode.ROLE_REQUIRED, "Your badge does not allow returning units.")
    unit = cabinet.inventory.get(din)
    if unit is None:
        return Refusal(
            RefusalCode.UNKNOWN_UNIT,
            f"Unit {din} was not dispensed from this cabinet: take it to the blood bank.",
        )
    if unit.state is not UnitState.DISPENSED:
        return Refusal(
            RefusalCode.NOT_DISPENSED,
            f"Unit {din} is {unit.state.replace('_', ' ')}, not out on a dispense.",
        )
    if returned_at < left_storage_at:
        return Refusal(
            RefusalCode.INVALID_REQUEST,
            f"Unit {din} cannot come back before it left storage.",
        )
    time_out = returned_at - left_storage_at
    accepted, why = _judge(
        unit,
        left=left_storage_at,
        returned=returned_at,
        temperature=temperature,
        policy=cabinet.policy,
    )
    free = cabinet.inventory.free_slots
    if accepted and not free:
        return Refusal(
            RefusalCode.NO_FREE_SLOT,
            f"Unit {din} may go back into stock but no slot is free: take it to the blood bank.",
        )
    slot = free[0] if free else None
    return UnitReturned(din, accepted, slot, time_out, why, user.user_id, returned_at)
