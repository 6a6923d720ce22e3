"""Badge reader lockout: repeated unknown badges lock the reader for a while.

Runs on monotonic seconds only (invariant 7). The rule kept: once ``failures`` unknown badges
fall within ``window`` seconds, every badge is refused until ``duration`` seconds after the
last of them; a known badge clears the count. Only unknown badges count - a refusal for a
missing role or a stale list is not a guess at a badge uid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent.domain.policy import DispensePolicy
from agent.domain.refusals import Refusal, RefusalCode

__all__ = ["ReaderLockout"]


@dataclass(frozen=True, slots=True)
class ReaderLockout:
    """The lockout state of one badge reader; every method returns a new value."""

    failures: int = 5
    window: float = 60.0
    duration: float = 120.0
    recent: tuple[float, ...] = ()
    locked_until: float | None = None

    @classmethod
    def from_policy(cls, policy: DispensePolicy) -> ReaderLockout:
        """A reader with the policy's thresholds and no failures."""
        return cls(policy.lockout_failures, policy.lockout_window, policy.lockout_duration)

    def check(self, monotonic: float) -> Refusal | None:
        """A refusal while the reader is locked out at ``monotonic``, else None."""
        if self.locked_until is None or monotonic >= self.locked_until:
            return None
        seconds = self.locked_until - monotonic
        return Refusal(
            RefusalCode.READER_LOCKED,
            f"Too many unknown badges: the reader accepts badges again in {seconds:.0f} seconds.",
        )

    def failed(self, monotonic: float) -> ReaderLockout:
        """After an unknown badge at ``monotonic``."""
        recent = (*(t for t in self.recent if monotonic - t < self.window), monotonic)
        if len(recent) >= self.failures:
            return replace(self, recent=(), locked_until=monotonic + self.duration)
        return replace(self, recent=recent)

    def succeeded(self) -> ReaderLockout:
        """After a known badge: the count starts again (a running lockout still runs)."""
        return replace(self, recent=())
