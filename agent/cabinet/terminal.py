"""The person at the cabinet: who is signed in, what they chose to do, what they scanned.

A pure value (no I/O): the desk replaces it on every step. Invariants kept: nobody acts
without a badge; a session ends after ``sign_out_after_s`` of inactivity (the desk relocks
what was released for it); a person with only emergency rights (a stale badge list) can do
nothing but an emergency release.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from agent.domain.users import Role, User

__all__ = ["Mode", "Session"]


class Mode(enum.StrEnum):
    """What the signed-in person is doing; chosen on the screen (dispense is the default)."""

    DISPENSE = "dispense"
    """Scan a patient's wristband: that patient's units unlock."""
    STOCK_IN = "stock_in"
    """Hold a unit on the station, scan its labels: a free slot opens for it."""
    RETURN = "return"
    """Hold a returned unit on the station, scan its DIN: a slot opens, or it is refused."""
    WITNESS = "witness"
    """An emergency release waits for a second person's badge."""


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in person. ``scans`` holds the label barcodes scanned so far for a stock-in;
    ``reason`` the reason given for an emergency release awaiting its witness."""

    user: User
    stale_list: bool
    mode: Mode
    last_active: float
    scans: tuple[str, ...] = ()
    reason: str = ""

    @classmethod
    def start(cls, user: User, *, stale_list: bool, monotonic: float) -> Session:
        """A new session; a technician without clinical rights starts on stock-in."""
        mode = (
            Mode.STOCK_IN
            if user.has(Role.TECHNICIAN) and not user.has(Role.CLINICIAN)
            else Mode.DISPENSE
        )
        return cls(user, stale_list, mode, monotonic)

    def touched(self, monotonic: float) -> Session:
        """The session after the person did something at ``monotonic``."""
        return replace(self, last_active=monotonic)

    def choose(self, mode: Mode, monotonic: float, reason: str = "") -> Session:
        """The session after choosing ``mode`` (scans so far are dropped)."""
        return replace(self, mode=mode, scans=(), reason=reason, last_active=monotonic)

    def scanned(self, data: str, monotonic: float) -> Session:
        """The session with one more label barcode."""
        return replace(self, scans=(*self.scans, data), last_active=monotonic)

    def idle(self, monotonic: float, limit_s: float) -> bool:
        """Whether nothing happened for ``limit_s`` seconds."""
        return monotonic - self.last_active >= limit_s
