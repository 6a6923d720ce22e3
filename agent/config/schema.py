"""The device profile, as typed, validated data.

A profile is one TOML file in ``config/`` describing one device: what it is, which backend
drives its parts, which parts it has, how often probes are sampled, and - for the simulator -
the physics of the simulated box. :func:`agent.config.loader.load_profile` builds these classes
from a file and reports every problem in it at once; nothing else constructs them from user
input. All classes are frozen: the running agent never changes its configuration.

Secrets (broker passwords, private keys) are never in a profile: the profile names the file
that holds them (keys ending in ``_file``), and the loader refuses inline secrets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config.dispensing import DispensingConfig
    from agent.config.wiring import WiringConfig

__all__ = [
    "STATION_ANTENNA",
    "DeviceKind",
    "DeviceSection",
    "DoorConfig",
    "PassiveBoxPhysics",
    "PowerConfig",
    "ProbeConfig",
    "ProbeKind",
    "Profile",
    "RefrigeratorPhysics",
    "RfidConfig",
    "SimConfig",
    "SimPowerConfig",
    "StorageConfig",
    "SyncConfig",
]


class DeviceKind(enum.StrEnum):
    """The three hardware profiles of the brief."""

    CABINET = "cabinet"
    FRIDGE = "fridge"
    TRANSPORT = "transport"


class ProbeKind(enum.StrEnum):
    """Where a probe sits: in the air, or in a product-simulant bottle that lags the air the
    way a blood bag does."""

    AIR = "air"
    PRODUCT = "product"


@dataclass(frozen=True, slots=True)
class DeviceSection:
    """``[device]``: identity. ``id`` is the device id in every record identity; it must be
    unique in the fleet. ``id`` and ``site`` (the hospital or campus the device reports to)
    become MQTT topic levels: 1-64 of ``[A-Za-z0-9._-]``, starting with a letter or digit.
    ``description`` is free text (where the device stands, what it holds)."""

    id: str
    site: str
    kind: DeviceKind
    description: str = ""


@dataclass(frozen=True, slots=True)
class DoorConfig:
    """``[[doors]]``: a door (cabinet, fridge) or lid (transport box); ``locked`` if it has a
    lock the agent drives."""

    name: str
    locked: bool


STATION_ANTENNA = "station"
"""The antenna under a cabinet's scanning station, where a unit is held while its labels are
scanned (stock-in, return), so its tag can be read before a slot opens."""


@dataclass(frozen=True, slots=True)
class RfidConfig:
    """``[rfid]``: the RFID reader. A cabinet has one antenna per slot (``per_slot = true``,
    antennas named ``slot-<n>``) and one under its scanning station (:data:`STATION_ANTENNA`);
    a fridge or box lists its antennas by name."""

    name: str
    per_slot: bool
    antennas: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """``[[probes]]``: one temperature probe, sampled every ``interval_s`` seconds.

    Readings outside ``plausible_min_c``..``plausible_max_c`` are physically impossible for the
    device and are recorded as probe faults, not as temperatures.
    """

    name: str
    kind: ProbeKind
    interval_s: float
    plausible_min_c: float
    plausible_max_c: float


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """``[storage]``: the product class stored and its storage limits in degrees Celsius
    (e.g. red cells 2-6 °C; platelets 20-24 °C; plasma at most -18 °C)."""

    product_class: str
    min_c: float
    max_c: float


@dataclass(frozen=True, slots=True)
class PowerConfig:
    """``[power]``: whether the device has a battery, and below which state of charge it is
    reported low."""

    battery: bool
    low_battery_fraction: float


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """``[sync]``: how the agent reaches the hospital's broker. Secrets are paths to files."""

    broker_url: str
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    password_file: Path | None = None


@dataclass(frozen=True, slots=True)
class RefrigeratorPhysics:
    """``[sim.thermal]`` with ``model = "refrigerator"``: a cabinet or fridge.

    The air is cooled by a compressor that a thermostat cycles around ``setpoint_c`` (on above
    ``setpoint_c + hysteresis_c / 2``, off below ``setpoint_c - hysteresis_c / 2``), and warmed
    by heat leaking in from ambient with time constant ``ingress_tau_min`` (door closed) or
    ``door_open_tau_min`` (door open). Product-simulant probes follow the air with time
    constant ``product_tau_min``. See ``docs/simulator.md`` for why these numbers.
    """

    ambient_c: float = 22.0
    setpoint_c: float = 4.0
    hysteresis_c: float = 2.0
    cooling_c_per_min: float = 0.5
    ingress_tau_min: float = 180.0
    door_open_tau_min: float = 5.0
    product_tau_min: float = 30.0
    initial_c: float = 4.0


@dataclass(frozen=True, slots=True)
class PassiveBoxPhysics:
    """``[sim.thermal]`` with ``model = "passive_box"``: an insulated transport box kept cold
    by coolant packs that melt at ``coolant_melt_c`` and absorb ``coolant_kj`` of heat before
    they are spent. Heat enters through the walls at ``wall_ua_w_per_k`` (lid closed) or
    ``lid_open_ua_w_per_k`` (lid open)."""

    ambient_c: float = 22.0
    coolant_kj: float = 600.0
    coolant_melt_c: float = 4.0
    wall_ua_w_per_k: float = 0.5
    lid_open_ua_w_per_k: float = 8.0
    coolant_coupling_w_per_k: float = 5.0
    contents_kj_per_k: float = 7.0
    coolant_sensible_kj_per_k: float = 8.0
    product_tau_min: float = 20.0
    initial_c: float = 4.0


@dataclass(frozen=True, slots=True)
class SimPowerConfig:
    """``[sim.power]``: the simulated battery. ``load_w`` is drawn from the battery whenever
    mains is absent (a transport box never has mains); on mains it charges at ``charge_w``."""

    battery_wh: float = 20.0
    load_w: float = 0.5
    charge_w: float = 5.0
    initial_fraction: float = 1.0
    on_mains: bool = True


@dataclass(frozen=True, slots=True)
class SimConfig:
    """``[sim]``: physics and randomness of the simulated device (ignored by real backends)."""

    thermal: RefrigeratorPhysics | PassiveBoxPhysics
    power: SimPowerConfig
    probe_noise_c: float = 0.02
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Profile:
    """A whole device profile, loaded from ``source``."""

    source: Path
    device: DeviceSection
    backend: str
    slots: int
    slot_release_s: float
    doors: tuple[DoorConfig, ...]
    rfid: RfidConfig | None
    scanner: str | None
    badge_reader: str | None
    probes: tuple[ProbeConfig, ...]
    storage: StorageConfig
    power: PowerConfig
    sim: SimConfig
    sync: SyncConfig | None = None
    dispensing: DispensingConfig | None = None
    """The cabinet's dispensing rules (``[dispensing]``, cabinets only)."""
    wiring: WiringConfig | None = None
    """Where each part is (``[wiring]``): required by the driver backends."""
