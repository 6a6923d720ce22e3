"""Device profiles: the typed schema and the loader that builds it from a TOML file.

Typical use::

    from agent.config import ProfileError, load_profile

    try:
        profile = load_profile(Path("config/cabinet-72.toml"))
    except ProfileError as error:
        print(error, file=sys.stderr)   # one line per problem, each naming the file

The format is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from agent.config.errors import Problem, ProfileError
from agent.config.loader import load_profile, parse_profile
from agent.config.schema import (
    DeviceKind,
    DeviceSection,
    DoorConfig,
    PassiveBoxPhysics,
    PowerConfig,
    ProbeConfig,
    ProbeKind,
    Profile,
    RefrigeratorPhysics,
    RfidConfig,
    SimConfig,
    SimPowerConfig,
    StorageConfig,
    SyncConfig,
)

__all__ = [
    "DeviceKind",
    "DeviceSection",
    "DoorConfig",
    "PassiveBoxPhysics",
    "PowerConfig",
    "ProbeConfig",
    "ProbeKind",
    "Problem",
    "Profile",
    "ProfileError",
    "RefrigeratorPhysics",
    "RfidConfig",
    "SimConfig",
    "SimPowerConfig",
    "StorageConfig",
    "SyncConfig",
    "load_profile",
    "parse_profile",
]
