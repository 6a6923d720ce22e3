"""Who may do what: roles, users and the badge list cached from the hospital.

The badge list works offline, but the device says plainly when it is older than the site allows
(invariant 6 of the brief). Rule chosen for a stale list: it **refuses everyone except holders
of the emergency role**, and admits those for emergency release only (their other roles are
withheld until a fresh list arrives). An emergency must never wait on a network, while routine
dispensing and stocking can; a badge revoked since the list was issued can at worst release the
flagged, audited and immediately reported emergency units.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from agent.domain.allocations import require_aware
from agent.domain.frozen_maps import frozen
from agent.domain.refusals import Refusal, RefusalCode

__all__ = ["Admitted", "BadgeList", "Role", "User"]


class Role(enum.StrEnum):
    """What a badge holder may do at a cabinet."""

    TECHNICIAN = "technician"
    """Blood bank technician: stock in, remove quarantined and expired units, take returns."""
    CLINICIAN = "clinician"
    """Nurse or doctor: dispense units allocated to a patient, return units."""
    EMERGENCY = "emergency"
    """May release uncrossmatched emergency units (and act as the second person)."""
    SUPERVISOR = "supervisor"
    """May act as the second person of an emergency release."""


@dataclass(frozen=True, slots=True)
class User:
    """A badge holder as the hospital listed them."""

    user_id: str
    name: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        """Whether the user holds ``role``."""
        return role in self.roles


@dataclass(frozen=True, slots=True)
class Admitted:
    """A badge accepted: the user with the roles they may use now. ``stale_list`` says the
    badge list was older than allowed, in which case ``user.roles`` is at most emergency."""

    user: User
    stale_list: bool


@dataclass(frozen=True, slots=True)
class BadgeList:
    """The hospital's list of badges (badge uid → user), as issued at ``issued_at``.

    ``issued_at`` None means no list was ever received: every badge is refused as stale.
    """

    badges: Mapping[str, User] = field(default_factory=lambda: MappingProxyType({}))
    issued_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.issued_at is not None:
            require_aware("issued_at", self.issued_at)
        object.__setattr__(self, "badges", frozen(self.badges))

    def age(self, now: datetime) -> timedelta | None:
        """How old the list is at ``now`` (None: never received)."""
        return None if self.issued_at is None else now - self.issued_at

    def stale(self, now: datetime, max_age: timedelta) -> bool:
        """Whether the list is older than ``max_age`` at ``now`` (or was never received)."""
        age = self.age(now)
        return age is None or age > max_age

    def lookup(self, badge_uid: str, now: datetime, max_age: timedelta) -> Admitted | Refusal:
        """The holder of ``badge_uid``, or a refusal: ``unknown_badge`` if the list does not
        have it; ``badge_list_stale`` if the list is older than ``max_age`` and the holder does
        not have the emergency role (see the module's docstring)."""
        user = self.badges.get(badge_uid)
        if user is None:
            return Refusal(RefusalCode.UNKNOWN_BADGE, "This badge is not known at this cabinet.")
        if not self.stale(now, max_age):
            return Admitted(user, stale_list=False)
        if self.issued_at is None:
            since = "has never been received"
        else:
            since = f"was last updated {_hours(now - self.issued_at)} ago"
        if user.has(Role.EMERGENCY):
            return Admitted(replace(user, roles=frozenset({Role.EMERGENCY})), stale_list=True)
        return Refusal(
            RefusalCode.BADGE_LIST_STALE,
            f"The badge list {since}, longer than allowed: only emergency release is possible "
            "until the cabinet is back in touch with the hospital.",
        )


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{span.total_seconds() / 60:.0f} minutes"
