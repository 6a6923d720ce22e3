"""Jittered exponential backoff between reconnection attempts ("full jitter").

Keeps a fleet from reconnecting in lockstep after a broker restart: the n-th consecutive
failure waits a uniformly random time in ``[0, min(cap, base * 2**n)]``, so the delay never
exceeds ``cap`` and the devices' attempts spread over the whole interval.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays for consecutive failures; :meth:`reset` after a connection that worked."""

    def __init__(
        self, *, base: float = 0.5, cap: float = 60.0, rng: random.Random | None = None
    ) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"need 0 < base <= cap, got base={base}, cap={cap}")
        self.base = base
        self.cap = cap
        self._rng = random.Random() if rng is None else rng
        self.failures = 0

    def ceiling(self) -> float:
        """The largest delay the next failure may wait."""
        return min(self.cap, self.base * 2.0 ** min(self.failures, 64))

    def next_delay(self) -> float:
        """The delay after one more failure."""
        delay = self._rng.uniform(0.0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        """A connection succeeded: the next failure starts from ``base`` again."""
        self.failures = 0
