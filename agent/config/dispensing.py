"""``[dispensing]``: the rules a dispensing cabinet enforces, as the site sets them.

Every key has the default the brief gives (30 minutes out of storage for a return, O RhD
negative red cells for emergency release, ...). The product table has none: product meanings
come from ICCBBA's licensed database, so a hospital provides its own (``docs/isbt128.md``); a
cabinet without one refuses every stock-in, saying so (fail safe). The section is optional on
a cabinet and refused elsewhere (:func:`check_dispensing`); :meth:`DispensingConfig.policy`
turns it into the domain's :class:`~agent.domain.policy.DispensePolicy`.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from agent.config.fields import Checked, Field, Table, check_table
from agent.config.kinds import ABSENT, INVALID, Choice, Context, Flag, Kind, Number, PathKind, Text
from agent.config.kinds import render as render_value
from agent.config.schema import DeviceKind
from agent.domain.blood import BloodGroup
from agent.domain.policy import DispensePolicy, ReturnRule

__all__ = ["DISPENSING", "DispensingConfig", "check_dispensing"]


@dataclass(frozen=True)
class _Groups(Kind):
    """A non-empty array of distinct ABO/RhD groups written ``O-``, ``AB+`` ..."""

    expected: str = 'a non-empty array of blood groups such as "O-" or "AB+"'

    def check(self, raw: object, key: str, ctx: Context) -> object:
        if not isinstance(raw, list) or not raw:
            ctx.problem(key, self.expected, render_value(raw))
            return INVALID
        groups: list[BloodGroup] = []
        for index, item in enumerate(raw):
            try:
                group = BloodGroup(item) if isinstance(item, str) else None
            except ValueError:
                group = None
            if group is None or group in groups:
                ctx.problem(
                    f"{key}[{index}]",
                    "a blood group not already listed: "
                    + ", ".join(f'"{g.value}"' for g in BloodGroup),
                    render_value(item),
                )
                return INVALID
            groups.append(group)
        return frozenset(groups)


@dataclass(frozen=True)
class _TimeZone(Text):
    """An IANA time zone name (``Europe/Paris``): the zone label dates are printed in."""

    expected: str = 'an IANA time zone name such as "UTC" or "Europe/Paris"'
    pattern: re.Pattern[str] | None = re.compile(r"[A-Za-z0-9_+\-/]+")

    def accept(self, raw: object) -> object:
        value = super().accept(raw)
        if not isinstance(value, str):
            return INVALID
        try:
            return zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return INVALID


_HOURS = Number("a number of hours", gt=0.0, le=24.0 * 366)
_SECONDS = Number("a number of seconds", gt=0.0, le=86400.0)

DISPENSING = Table(
    "[dispensing]",
    (
        Field("product_table", PathKind(), None),
        Field("label_timezone", _TimeZone(), zoneinfo.ZoneInfo("UTC")),
        Field("return_limit_min", Number("a number of minutes", gt=0.0, le=24 * 60.0), 30.0),
        Field("return_rule", Choice(ReturnRule), ReturnRule.TIME_OR_TEMPERATURE),
        Field("emergency_groups", _Groups(), frozenset({BloodGroup.O_NEG})),
        Field("emergency_units", Number(ge=1, le=20, integer=True), 2),
        Field("emergency_second_person", Flag(), False),
        Field("expiry_warning_h", _HOURS, 24.0),
        Field("badge_list_max_age_h", _HOURS, 24.0),
        Field("lockout_failures", Number(ge=1, le=100, integer=True), 5),
        Field("lockout_window_s", _SECONDS, 60.0),
        Field("lockout_duration_s", _SECONDS, 120.0),
        Field("sign_out_after_s", _SECONDS, 120.0),
    ),
)


@dataclass(frozen=True, slots=True)
class DispensingConfig:
    """``[dispensing]``, checked. ``sign_out_after_s``: a signed-in person who does nothing
    for this long is signed out and the slots released for them lock again."""

    product_table: Path | None
    label_timezone: dt.tzinfo
    return_limit_min: float
    return_rule: ReturnRule
    emergency_groups: frozenset[BloodGroup]
    emergency_units: int
    emergency_second_person: bool
    expiry_warning_h: float
    badge_list_max_age_h: float
    lockout_failures: int
    lockout_window_s: float
    lockout_duration_s: float
    sign_out_after_s: float

    def policy(self, *, stored_product_class: str, relock_after_s: float) -> DispensePolicy:
        """The domain's policy for a cabinet storing ``stored_product_class`` whose released
        slots lock again after ``relock_after_s``."""
        return DispensePolicy(
            return_limit=dt.timedelta(minutes=self.return_limit_min),
            return_rule=self.return_rule,
            emergency_groups=self.emergency_groups,
            emergency_units=self.emergency_units,
            emergency_second_person=self.emergency_second_person,
            warn_ahead=dt.timedelta(hours=self.expiry_warning_h),
            relock_after=relock_after_s,
            badge_list_max_age=dt.timedelta(hours=self.badge_list_max_age_h),
            lockout_failures=self.lockout_failures,
            lockout_window=self.lockout_window_s,
            lockout_duration=self.lockout_duration_s,
            stored_product_classes=frozenset({stored_product_class}),
        )


def check_dispensing(kind: DeviceKind | None, raw: object, ctx: Context) -> DispensingConfig | None:
    """``[dispensing]`` of a cabinet (its defaults when absent; refused on a fridge or box);
    None when wrong (which is reported) or not a cabinet."""
    if kind is not DeviceKind.CABINET:
        if raw is not ABSENT and kind is not None:
            ctx.problem("dispensing", f"no [dispensing] on a {kind} (cabinets only)", "a table")
        return None
    checked: Checked = check_table({} if raw is ABSENT else raw, "dispensing", DISPENSING, ctx)
    if not checked.ok:
        return None
    return DispensingConfig(**checked.values)  # type: ignore[arg-type]
