"""The backends the HAL conformance suite runs against, each with its bench.

A backend under test provides the assembled :class:`~agent.hal.Hardware` and a :class:`Bench`:
the physical actions the suite needs to provoke each obligation (put a unit in a slot, open a
door, pull a plug). The simulator's bench is its bench hooks; a real driver's bench will be the
fake bus it runs over (issue: real drivers), and real hardware's a rig.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.config import load_profile
from agent.hal import Backend, Hardware
from hal_sim.clock import SimClock
from hal_sim.device import SimDevice
from hal_sim.parts import ProbeFaultMode
from hal_sim.units import SimUnit

CONFIG = Path(__file__).resolve().parents[2] / "config"


class Bench(Protocol):
    """What the suite can do to the physical device around the parts."""

    def insert_unit(self, slot: int, tag_uid: str) -> None: ...

    def din_on_tag(self, tag_uid: str) -> str: ...

    def remove_unit(self, slot: int) -> None: ...

    def open_door(self, door: str) -> None: ...

    def close_door(self, door: str) -> None: ...

    def unplug(self, part: str) -> None: ...

    def plug(self, part: str) -> None: ...

    def jam(self, lock: str) -> None: ...

    def fail_probe_read(self, probe: str) -> None: ...

    def present_badge(self, uid: str) -> None: ...

    def scan(self, data: str) -> None: ...

    def garble(self, reader: str, raw: bytes) -> None: ...

    def cut_mains(self) -> None: ...

    def restore_mains(self) -> None: ...


def _unit(tag_uid: str) -> SimUnit:
    return SimUnit(
        din=f"A9999{int(tag_uid, 16) % 10**8:08d}",
        flags="00",
        blood_group="9500",
        product_code="E0336V00",
        expiry=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        tag_uid=tag_uid,
    )


@dataclass
class SimBench:
    """The simulator's bench: its bench hooks."""

    device: SimDevice

    def insert_unit(self, slot: int, tag_uid: str) -> None:
        self.device.put_unit(_unit(tag_uid), slot, force=True)

    def din_on_tag(self, tag_uid: str) -> str:
        return _unit(tag_uid).din

    def remove_unit(self, slot: int) -> None:
        self.device.take_unit(slot, force=True)

    def open_door(self, door: str) -> None:
        self.device.open_door(door, force=True)

    def close_door(self, door: str) -> None:
        self.device.close_door(door)

    def unplug(self, part: str) -> None:
        self.device.set_connected(part, connected=False)

    def plug(self, part: str) -> None:
        self.device.set_connected(part, connected=True)

    def jam(self, lock: str) -> None:
        lock_part = next(p for p in self.device.locks.values() if p.name == lock)
        lock_part.jammed = True

    def fail_probe_read(self, probe: str) -> None:
        self.device.probe_fault(probe, ProbeFaultMode.CRC_ERROR)

    def present_badge(self, uid: str) -> None:
        self.device.present_badge(uid)

    def scan(self, data: str) -> None:
        self.device.scan(data)

    def garble(self, reader: str, raw: bytes) -> None:
        self.device.feed_garbage(reader, raw)

    def cut_mains(self) -> None:
        self.device.cut_power()

    def restore_mains(self) -> None:
        self.device.restore_power()


@dataclass
class BackendUnderTest:
    """One backend, ready for the suite: its hardware and its bench."""

    backend: Backend
    bench: Bench

    @property
    def hardware(self) -> Hardware:
        return self.backend.hardware


def sim_cabinet(clock: SimClock) -> BackendUnderTest:
    device = SimDevice(load_profile(CONFIG / "cabinet-72.toml"), clock)
    return BackendUnderTest(device, SimBench(device))


BACKENDS = {"sim": sim_cabinet}
"""Backend name → factory. Real drivers over their fakes join this table."""
