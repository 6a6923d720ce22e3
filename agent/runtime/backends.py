"""The table of hardware backends a profile can name in ``hardware.backend``.

Each entry builds a :class:`~agent.hal.Backend` for a profile. The table is data: choosing a
backend is a line in the profile, never a global swapped by tests.

* ``sim`` - the simulator's own parts (:class:`hal_sim.device.SimDevice`), on any clock speed;
* ``drivers`` - the real drivers on a Raspberry Pi's buses, as ``[wiring]`` places the parts
  (:mod:`drivers.assembly` over :class:`drivers.platform.PiPlatform`);
* ``drivers_sim`` - the same drivers over bus-level fakes that the simulator's physics drives
  (:class:`hal_sim.driven_device.DrivenDevice`); real time only (its fakes are real I/O).

Factories import their backend when called, so a device never imports the simulator, and
nothing Pi-only is imported until the ``drivers`` backend is built. A backend that cannot be
built on this machine (a package or bus missing) is :class:`BackendUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.clock import Clock
from agent.config.schema import Profile
from agent.hal.hardware import Backend

__all__ = ["BACKENDS", "BackendUnavailable", "UnknownBackendError", "make_backend"]


def _simulator(profile: Profile, clock: Clock) -> Backend:
    from hal_sim.device import SimDevice  # noqa: PLC0415 - only a simulated device needs it

    return SimDevice(profile, clock)


def _drivers(profile: Profile, clock: Clock) -> Backend:
    del clock  # real parts keep their own time
    from drivers.assembly import DriverBackend, assemble  # noqa: PLC0415 - see the docstring
    from drivers.platform import PiPlatform, PlatformUnavailable  # noqa: PLC0415

    try:
        return DriverBackend("drivers", assemble(profile, PiPlatform()))
    except PlatformUnavailable as error:
        raise BackendUnavailable(f"{profile.source}: hardware.backend drivers: {error}") from None


def _drivers_over_fakes(profile: Profile, clock: Clock) -> Backend:
    from hal_sim.driven_device import DrivenDevice  # noqa: PLC0415 - simulated devices only

    return DrivenDevice(profile, clock)


BACKENDS: dict[str, Callable[[Profile, Clock], Backend]] = {
    "sim": _simulator,
    "drivers": _drivers,
    "drivers_sim": _drivers_over_fakes,
}


class UnknownBackendError(Exception):
    """The profile names a backend this build does not have."""


class BackendUnavailable(Exception):
    """The backend exists but cannot run here: says which package or device is missing."""


def make_backend(profile: Profile, clock: Clock) -> Backend:
    """Build the backend ``profile`` names (on the running event loop: some start I/O)."""
    try:
        factory = BACKENDS[profile.backend]
    except KeyError:
        raise UnknownBackendError(
            f"{profile.source}: hardware.backend: expected one of {', '.join(sorted(BACKENDS))},"
            f" found {profile.backend!r}"
        ) from None
    return factory(profile, clock)
