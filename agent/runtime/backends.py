"""The table of hardware backends a profile can name in ``hardware.backend``.

Each entry builds a :class:`~agent.hal.Backend` for a profile. The table is data: choosing a
backend is a line in the profile, never a global swapped by tests. Real-hardware backends are
added here as their drivers land (``drivers/``).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.clock import Clock
from agent.config.schema import Profile
from agent.hal.hardware import Backend

__all__ = ["BACKENDS", "UnknownBackendError", "make_backend"]


def _simulator(profile: Profile, clock: Clock) -> Backend:
    from hal_sim.device import SimDevice  # noqa: PLC0415 - only a simulated device needs it

    return SimDevice(profile, clock)


BACKENDS: dict[str, Callable[[Profile, Clock], Backend]] = {"sim": _simulator}


class UnknownBackendError(Exception):
    """The profile names a backend this build does not have."""


def make_backend(profile: Profile, clock: Clock) -> Backend:
    """Build the backend ``profile`` names."""
    try:
        factory = BACKENDS[profile.backend]
    except KeyError:
        raise UnknownBackendError(
            f"{profile.source}: hardware.backend: expected one of {', '.join(sorted(BACKENDS))},"
            f" found {profile.backend!r}"
        ) from None
    return factory(profile, clock)
