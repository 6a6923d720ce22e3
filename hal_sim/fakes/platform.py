"""The fake hardware of a profile: every bus, chip, pin and serial peer its ``[wiring]`` names,
connected as the real board connects them, handed to the drivers as their platform.

:class:`FakePlatform` implements :class:`drivers.assembly.Platform` over the bus-level fakes of
:mod:`hal_sim.fakes`: a :class:`~hal_sim.fakes.smbus.FakeSMBus` per I2C bus with register-level
MCP23017s (two slots each, per the reference wiring), TMP117s and the INA219 attached; a
:class:`~hal_sim.fakes.gpio.FakeGpio` with the door contacts, door latches and the UPS's
power-fail output wired to it; a fake 1-Wire tree with the DS18B20s; pseudo-terminal peers for
the scanner, the PN532 and the CR95HF behind stand-ins for their ``/dev/serial/by-id`` links.

Connections it keeps, as copper does: each slot's :class:`~hal_sim.fakes.mcp23017.
FakeSolenoidLatch` follows its solenoid pin; each bus's shared INT line (when the wiring gives
one) is pulled low while any chip on the bus asserts its open-drain INT output; the RF
multiplexer switches the CR95HF's field to the antenna whose index the select lines carry.
It holds no physics and no units: :class:`hal_sim.driven_device.DrivenDevice` drives it.

Build it on a running event loop (the peers serve their pseudo-terminals on it); its files live
in one temporary directory that :meth:`FakePlatform.close` removes.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import TypeVar

from agent.config.schema import Profile
from agent.config.wiring import (
    Ds18b20Wiring,
    RfidWiring,
    ScannerSuffix,
    ScannerWiring,
    Tmp117Wiring,
    WiringConfig,
)
from drivers.expander_slots import ExpanderPin, SlotWiring, reference_wiring
from hal_sim.fakes.cr95hf_peer import Cr95hfPeer
from hal_sim.fakes.gpio import FakeDoor, FakeGpio, FakeLatch, FakeUps
from hal_sim.fakes.ina219 import FakeINA219
from hal_sim.fakes.mcp23017 import FakeMCP23017, FakeSolenoidLatch
from hal_sim.fakes.pn532_peer import Pn532Peer
from hal_sim.fakes.scanner_peer import ScannerPeer
from hal_sim.fakes.smbus import FakeSMBus
from hal_sim.fakes.tmp117 import FakeTMP117
from hal_sim.fakes.w1 import FakeDs18b20, FakeW1Bus

__all__ = ["FakePlatform"]

_Peer = TypeVar("_Peer", ScannerPeer, Pn532Peer, Cr95hfPeer)

_PEER_FRAMING = {
    ScannerSuffix.CR: (b"", b"\r"),
    ScannerSuffix.CRLF: (b"", b"\r\n"),
    ScannerSuffix.STX_ETX: (b"\x02", b"\x03"),
}
"""(prefix, suffix) the fake scanner is programmed with, for each framing of the profile."""


class FakePlatform:
    """The fake hardware of ``profile`` (which must have ``[wiring]``); see the module
    docstring. Attributes are the fakes, for the world that drives them."""

    def __init__(self, profile: Profile) -> None:
        wiring = profile.wiring
        if wiring is None:
            raise ValueError(f"{profile.source}: the fake platform needs a [wiring] section")
        self.profile = profile
        self.wiring = wiring
        self.directory = Path(tempfile.mkdtemp(prefix="hemotrace-fakes-"))
        loop = asyncio.get_running_loop()
        self.fake_gpio = FakeGpio()
        self.buses: dict[int, FakeSMBus] = {}
        self.w1 = FakeW1Bus(self.directory / "w1")
        self.slot_pins: dict[int, SlotWiring] = {}
        self.chips: dict[tuple[int, int], FakeMCP23017] = {}
        self.latches: dict[int, FakeSolenoidLatch] = {}
        self._wire_slots(profile, wiring)
        self.tmp117: dict[str, FakeTMP117] = {}
        self.ds18b20: dict[str, FakeDs18b20] = {}
        for name, where in wiring.probes.items():
            if isinstance(where, Tmp117Wiring):
                self.tmp117[name] = FakeTMP117(temperature_c=4.0, clock=loop.time)
                self._bus(where.bus).attach(where.address, self.tmp117[name])
            elif isinstance(where, Ds18b20Wiring):
                self.ds18b20[name] = self.w1.add_ds18b20(where.device_id, celsius=4.0)
        self.ina219 = FakeINA219(shunt_ohms=wiring.power.shunt_ohms)
        self._bus(wiring.power.ina219_bus).attach(wiring.power.ina219_address, self.ina219)
        self.ups: FakeUps | None = None
        if wiring.power.mains_gpio is not None:
            self.ups = self.fake_gpio.wire_ups(wiring.power.mains_gpio)
        self.doors: dict[str, FakeDoor] = {}
        self.door_latches: dict[str, FakeLatch] = {}
        for name, door in wiring.doors.items():
            self.doors[name] = self.fake_gpio.wire_door(door.sensor_gpio)
            if door.lock_gpio is not None:
                self.door_latches[name] = self.fake_gpio.wire_lock(
                    coil=door.lock_gpio,
                    feedback=door.lock_feedback_gpio,
                    feedback_locked_level=FakeGpio.HIGH,
                )
        self._ports: dict[str, str] = {}
        self.scanner = self._scanner_peer(wiring.scanner)
        self.badge_reader = (
            self._peer(Pn532Peer(self._link(wiring.badge_reader.port)), wiring.badge_reader.port)
            if wiring.badge_reader is not None
            else None
        )
        self.rfid = self._rfid_peer(profile, wiring.rfid)

    # --- the Platform protocol ---------------------------------------------------------------

    def i2c_bus(self, number: int) -> FakeSMBus:
        return self._bus(number)

    def gpio(self) -> FakeGpio:
        return self.fake_gpio

    def w1_devices(self) -> Path:
        return self.w1.root

    def serial_port(self, configured: str) -> str:
        return self._ports[configured]

    def close(self) -> None:
        for peer in (self.scanner, self.badge_reader, self.rfid):
            if peer is not None:
                peer.close()
        self.fake_gpio.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- wiring --------------------------------------------------------------------------------

    def chip_of(self, pin: ExpanderPin) -> FakeMCP23017:
        return self.chips[(pin.bus, pin.address)]

    def _bus(self, number: int) -> FakeSMBus:
        if number not in self.buses:
            self.buses[number] = FakeSMBus(number)
        return self.buses[number]

    def _chip(self, bus: int, address: int) -> FakeMCP23017:
        key = (bus, address)
        if key not in self.chips:
            self.chips[key] = FakeMCP23017()
            self._bus(bus).attach(address, self.chips[key])
        return self.chips[key]

    def _wire_slots(self, profile: Profile, wiring: WiringConfig) -> None:
        if profile.slots == 0 or wiring.slots is None:
            return
        self.slot_pins = reference_wiring(profile.slots, buses=wiring.slots.buses)
        for slot, pins in self.slot_pins.items():
            chip = self._chip(pins.solenoid.bus, pins.solenoid.address)
            self.latches[slot] = FakeSolenoidLatch(
                (chip, pins.solenoid.pin), (self.chip_of(pins.latch), pins.latch.pin)
            )
        for bus, pin in zip(wiring.slots.buses, wiring.slots.interrupt_gpio, strict=False):
            self._wire_interrupt_line(bus, pin)

    def _wire_interrupt_line(self, bus: int, pin: int) -> None:
        """The INT outputs of ``bus``'s chips, open drain, tied to ``pin`` (pulled up)."""
        chips = [chip for (number, _), chip in self.chips.items() if number == bus]
        pulled_low = False

        def follow() -> None:
            nonlocal pulled_low
            low = any(chip.interrupt_output("A") is False for chip in chips)
            if low == pulled_low:
                return
            pulled_low = low
            if low:
                self.fake_gpio.drive(pin, FakeGpio.LOW)
            else:
                self.fake_gpio.let_float(pin)

        for chip in chips:
            chip.subscribe(follow)

    def _link(self, port: str) -> Path:
        return self.directory / PurePosixPath(port).name

    def _peer(self, peer: _Peer, port: str) -> _Peer:
        peer.start()
        self._ports[port] = peer.port
        return peer

    def _scanner_peer(self, wiring: ScannerWiring | None) -> ScannerPeer | None:
        if wiring is None:
            return None
        prefix, suffix = _PEER_FRAMING[wiring.suffix]
        peer = ScannerPeer(self._link(wiring.port), prefix=prefix, suffix=suffix, aim=wiring.aim)
        return self._peer(peer, wiring.port)

    def _rfid_peer(self, profile: Profile, wiring: RfidWiring | None) -> Cr95hfPeer | None:
        if wiring is None or profile.rfid is None:
            return None
        antennas = profile.rfid.antennas
        peer = self._peer(Cr95hfPeer(self._link(wiring.port), antennas), wiring.port)
        if wiring.select_bus is not None and wiring.select_address is not None:
            chip = self._chip(wiring.select_bus, wiring.select_address)
            lines = [(chip, pin) for pin in wiring.select_pins]

            def decode_expander() -> None:
                code = sum(1 << bit for bit, (c, pin) in enumerate(lines) if c.output(pin))
                _switch(peer, antennas, code)

            chip.subscribe(decode_expander)
        elif wiring.select_gpio:
            gpio, select = self.fake_gpio, wiring.select_gpio

            def decode_gpio(bcm: int) -> None:
                if bcm in select:
                    code = sum(1 << bit for bit, pin in enumerate(select) if gpio.level(pin))
                    _switch(peer, antennas, code)

            gpio.on_output(decode_gpio)
        return peer


def _switch(peer: Cr95hfPeer, antennas: tuple[str, ...], code: int) -> None:
    """Switch the field to antenna number ``code``, if there is one and it is not already."""
    if code < len(antennas) and peer.selected != antennas[code]:
        peer.switch(antennas[code])
