"""Jittered exponential backoff between reconnection attempts.

Invariant kept: **a fleet of receivers (or one receiver and a recovering broker) never retries in
lockstep.** Each delay is drawn uniformly from the upper half of a ceiling that doubles from
``initial_s`` to ``max_s`` ("equal jitter"), so retries spread out yet never come sooner than
half the ceiling; :meth:`Backoff.reset` after a connection that worked starts over.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays for successive retries: about ``initial_s``, doubling up to ``max_s``, jittered."""

    def __init__(
        self, initial_s: float = 0.5, max_s: float = 30.0, *, rng: random.Random | None = None
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        self.initial_s = initial_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self._attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (seconds)."""
        ceiling = min(self.max_s, self.initial_s * 2.0 ** min(self._attempts, 64))
        self._attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """The last attempt worked: the next failure waits ``initial_s`` again."""
        self._attempts = 0
