"""The backends the HAL conformance suite runs against, each with its bench.

A backend under test provides the assembled :class:`~agent.hal.Hardware` and a :class:`Bench`:
the physical actions the suite needs to provoke each obligation (put a unit in a slot, open a
door, pull a plug). Three candidates:

* ``sim`` - the simulator's parts; its bench is :class:`~hal_sim.device.SimDevice`'s hooks;
  on virtual time;
* ``drivers_sim`` - every real driver (MCP23017 slots, GPIO door, lock, indicator and
  power-fail input, TMP117 and DS18B20 probes, INA219, CR95HF, PN532, serial scanner) over its
  bus-level fake, assembled from ``config/cabinet-72-drivers.toml`` exactly as on a cabinet;
  its bench is :class:`~hal_sim.driven_device.DrivenDevice`'s hooks; in real time (the serial
  fakes are pseudo-terminals), with the slot release time cut to 1 s to keep tests short;
* ``drivers`` - the real drivers on a bench rig's real hardware, when
  ``HEMOTRACE_BENCH_PROFILE`` names the rig's profile; its bench is a person at the rig,
  prompted on the terminal (run pytest with ``-s``). Skipped, saying so, otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.config import load_profile
from agent.hal import Backend, Hardware
from agent.runtime.backends import make_backend
from hal_sim.clock import SimClock
from hal_sim.device import SimDevice
from hal_sim.driven_device import DrivenDevice
from hal_sim.parts import ProbeFaultMode
from hal_sim.units import SimUnit

CONFIG = Path(__file__).resolve().parents[2] / "config"

BENCH_PROFILE_VARIABLE = "HEMOTRACE_BENCH_PROFILE"
"""Names the profile of a bench rig to run the suite on real hardware."""


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
    """A simulated device's bench: its bench hooks (the simulator's, or the driven device's,
    which has the same names)."""

    device: SimDevice | DrivenDevice

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
        slot = next(s for s, parts in self.device.hardware.slots.items() if parts.lock.name == lock)
        self.device.jam_lock(slot)

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


class RigBench:
    """A person at a bench rig, asked on the terminal to do each action and press Enter."""

    def _ask(self, action: str) -> str:
        with Path("/dev/tty").open("r+", encoding="utf-8") as tty:
            tty.write(f"\n[bench] {action} - then press Enter: ")
            tty.flush()
            return tty.readline().strip()

    def insert_unit(self, slot: int, tag_uid: str) -> None:
        self._ask(f"put a bag with RFID tag {tag_uid} into slot {slot}")

    def din_on_tag(self, tag_uid: str) -> str:
        return self._ask(f"type the DIN written on tag {tag_uid}")

    def remove_unit(self, slot: int) -> None:
        self._ask(f"take the bag out of slot {slot}")

    def open_door(self, door: str) -> None:
        self._ask(f"open door {door!r}")

    def close_door(self, door: str) -> None:
        self._ask(f"close door {door!r}")

    def unplug(self, part: str) -> None:
        self._ask(f"unplug {part} (its connector, its USB cable or its I2C cable)")

    def plug(self, part: str) -> None:
        self._ask(f"plug {part} back in")

    def jam(self, lock: str) -> None:
        self._ask(f"block the bolt of {lock} so that it cannot move")

    def fail_probe_read(self, probe: str) -> None:
        self._ask(f"short the data line of probe {probe} to ground through 1 kOhm")

    def present_badge(self, uid: str) -> None:
        self._ask(f"hold badge {uid} to the badge reader, and take it away")

    def scan(self, data: str) -> None:
        self._ask(f"scan the test barcode {data}")

    def garble(self, reader: str, raw: bytes) -> None:
        self._ask(f"make the {reader} read something unreadable (raw {raw.hex()})")

    def cut_mains(self) -> None:
        self._ask("switch the UPS's mains input off")

    def restore_mains(self) -> None:
        self._ask("switch the UPS's mains input on")


@dataclass
class BackendUnderTest:
    """One backend, ready for the suite: its hardware and its bench."""

    backend: Backend
    bench: Bench

    @property
    def hardware(self) -> Hardware:
        return self.backend.hardware


@dataclass(frozen=True)
class Candidate:
    """How to build one backend for a test, whether it needs real time, and why it cannot run
    here (``None`` when it can)."""

    build: Callable[[SimClock], BackendUnderTest]
    real_time: bool = False
    unavailable: Callable[[], str | None] = lambda: None


def sim_cabinet(clock: SimClock) -> BackendUnderTest:
    device = SimDevice(load_profile(CONFIG / "cabinet-72.toml"), clock)
    return BackendUnderTest(device, SimBench(device))


def drivers_sim_cabinet(clock: SimClock) -> BackendUnderTest:
    """The 72-slot reference cabinet on its real drivers over the fakes (on a running loop)."""
    profile = load_profile(CONFIG / "cabinet-72-drivers.toml")
    profile = dataclasses.replace(profile, backend="drivers_sim", slot_release_s=1.0)
    device = DrivenDevice(profile, clock)
    return BackendUnderTest(device, SimBench(device))


def _no_rig() -> str | None:
    if os.environ.get(BENCH_PROFILE_VARIABLE):
        return None
    return (
        f"no bench rig: set {BENCH_PROFILE_VARIABLE}=/path/to/rig-profile.toml (backend"
        ' "drivers") and run pytest -s at the rig to test the real hardware'
    )


def rig(clock: SimClock) -> BackendUnderTest:
    """The real drivers on the rig that ``HEMOTRACE_BENCH_PROFILE`` describes."""
    profile = load_profile(Path(os.environ[BENCH_PROFILE_VARIABLE]))
    return BackendUnderTest(make_backend(profile, clock), RigBench())


BACKENDS = {
    "sim": Candidate(sim_cabinet),
    "drivers_sim": Candidate(drivers_sim_cabinet, real_time=True),
    "drivers": Candidate(rig, real_time=True, unavailable=_no_rig),
}
"""Backend name → how to build it for a test."""
