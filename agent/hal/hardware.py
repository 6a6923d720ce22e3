"""A device's parts, assembled, and the backend that provides them.

:class:`Hardware` is what the agent's services are given: every part of one device, keyed the
way the profile names them. A :class:`Backend` builds it from the profile and keeps whatever the
parts need running in the background (bus polling for real drivers, physics for the simulator).
Backends are looked up by the name the profile gives (``hardware.backend``) in
:mod:`agent.runtime.backends`; nothing global is swapped to choose one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.hal.parts import (
    BadgeReader,
    BarcodeScanner,
    DoorSensor,
    Indicator,
    Lock,
    PowerMonitor,
    PresenceSensor,
    RfidReader,
    SlotLight,
    TemperatureProbe,
)

__all__ = ["Backend", "Hardware", "SlotParts"]


@dataclass(frozen=True, slots=True)
class SlotParts:
    """The three parts of one cabinet slot."""

    lock: Lock
    presence: PresenceSensor
    light: SlotLight


@dataclass(frozen=True, slots=True)
class Hardware:
    """Every part of one device. Profiles without slots (fridge, transport box) have none;
    a transport box may have no lid lock; every device has probes and a power monitor."""

    slots: dict[int, SlotParts]
    doors: dict[str, DoorSensor]
    door_locks: dict[str, Lock]
    rfid: RfidReader | None
    scanner: BarcodeScanner | None
    badge_reader: BadgeReader | None
    probes: dict[str, TemperatureProbe]
    power: PowerMonitor
    indicator: Indicator
    antenna_of_slot: dict[int, str] = field(default_factory=dict)


class Backend(Protocol):
    """Provides a device's :class:`Hardware` and runs what the parts need in the background.

    ``run()`` runs until cancelled; the parts work only while it runs. It must not return
    early: a backend whose background work fails raises from ``run()``.
    """

    @property
    def name(self) -> str: ...

    @property
    def hardware(self) -> Hardware: ...

    async def run(self) -> None: ...
