"""The site's dispensing policy: every tunable rule of the domain core in one frozen value.

The defaults are the reference design's (a red-cell cabinet in a hospital applying the classic
30-minute rule); a site's configuration overrides them. The domain reads nothing else: no
module-level constants stand in for a policy value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from agent.domain.blood import BloodGroup

__all__ = ["DEFAULT_TRANSPORT_LIMITS", "DispensePolicy", "ReturnRule", "TemperatureRange"]


@dataclass(frozen=True, slots=True)
class TemperatureRange:
    """An inclusive range of temperatures in °C."""

    low_c: float
    high_c: float

    def __post_init__(self) -> None:
        if self.low_c > self.high_c:
            raise ValueError(
                f"a temperature range needs low <= high, found {self.low_c} > {self.high_c}"
            )

    def holds(self, low_c: float, high_c: float) -> bool:
        """Whether readings from ``low_c`` to ``high_c`` all lie within this range."""
        return self.low_c <= low_c and high_c <= self.high_c


DEFAULT_TRANSPORT_LIMITS: Mapping[str, TemperatureRange] = MappingProxyType(
    {
        "red_cells": TemperatureRange(1.0, 10.0),
        "whole_blood": TemperatureRange(1.0, 10.0),
        "platelets": TemperatureRange(20.0, 24.0),
    }
)
"""Transport limits per product class (brief, section 4; US red-cell limits, 1-10 °C)."""


class ReturnRule(enum.StrEnum):
    """How a returned unit is judged fit to go back into stock."""

    TIME = "time"
    """Only the time out of controlled storage counts (the classic 30-minute rule)."""
    TEMPERATURE = "temperature"
    """Only a temperature history covering the whole time out counts (a transport box's)."""
    TIME_OR_TEMPERATURE = "time_or_temperature"
    """Either suffices: within the time limit, or a covering history within transport limits."""


@dataclass(frozen=True, slots=True)
class DispensePolicy:
    """The rules a cabinet enforces. All durations are positive.

    Defaults:

    * ``return_limit`` 30 min out of controlled storage, judged by ``return_rule``
      :attr:`ReturnRule.TIME_OR_TEMPERATURE` against ``transport_limits`` (red cells 1-10 °C);
    * emergency release of ``emergency_units`` = 2 units of ``emergency_groups`` = {O RhD
      negative} ``emergency_product_class`` = ``red_cells``, without a second person
      (``emergency_second_person`` False);
    * expiry warnings ``warn_ahead`` = 24 h before expiry;
    * an unlocked slot not opened within ``relock_after`` = 30 s (monotonic) locks again;
    * the badge list is stale ``badge_list_max_age`` = 24 h after the hospital issued it;
    * ``lockout_failures`` = 5 unknown badges within ``lockout_window`` = 60 s lock the reader
      for ``lockout_duration`` = 120 s (monotonic seconds);
    * the cabinet stores ``stored_product_classes`` = {``red_cells``}.
    """

    return_limit: timedelta = timedelta(minutes=30)
    return_rule: ReturnRule = ReturnRule.TIME_OR_TEMPERATURE
    transport_limits: Mapping[str, TemperatureRange] = field(
        default_factory=lambda: DEFAULT_TRANSPORT_LIMITS
    )
    emergency_groups: frozenset[BloodGroup] = frozenset({BloodGroup.O_NEG})
    emergency_product_class: str = "red_cells"
    emergency_units: int = 2
    emergency_second_person: bool = False
    warn_ahead: timedelta = timedelta(hours=24)
    relock_after: float = 30.0
    badge_list_max_age: timedelta = timedelta(hours=24)
    lockout_failures: int = 5
    lockout_window: float = 60.0
    lockout_duration: float = 120.0
    stored_product_classes: frozenset[str] = frozenset({"red_cells"})

    def __post_init__(self) -> None:
        for name in ("return_limit", "warn_ahead", "badge_list_max_age"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive, found {getattr(self, name)}")
        for name in ("relock_after", "lockout_window", "lockout_duration"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive seconds, found {getattr(self, name)}")
        if self.emergency_units < 1 or self.lockout_failures < 1:
            raise ValueError(
                "emergency_units and lockout_failures must be at least 1, found "
                f"{self.emergency_units} and {self.lockout_failures}"
            )
        if not self.emergency_groups:
            raise ValueError("emergency_groups must name at least one blood group")
