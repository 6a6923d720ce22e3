"""Services that turn the device's sensors and readers into events.

* doors and lids: every debounced change, plus the state at start;
* slot presence: every change, followed by an RFID inventory of that slot's antenna, so the
  record says which tag arrived or left;
* whole-device RFID (fridge, transport box): an inventory of every antenna when a door closes -
  the moment the brief's fridge mode reads what left and what came in;
* power: the state at start, mains lost and restored, the battery crossing its low threshold;
* badge reader and barcode scanner: every read, and every garbled input as
  :class:`~agent.events.InputRejected` (invariant 8).

Badges, scans and slot changes are then handed to the device's workflows
(:class:`WorkflowInputs`: a cabinet's desk), after they are recorded.

Each watch survives its part's failures through
:func:`~agent.runtime.supervision.watch_with_recovery`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from agent.config.schema import Profile
from agent.events import (
    BadgePresented,
    BarcodeScanned,
    DoorChanged,
    HardwareFault,
    InputRejected,
    PowerChanged,
    PresenceChanged,
    TagsChanged,
)
from agent.hal.errors import HalError
from agent.hal.hardware import Hardware
from agent.hal.parts import BadgeRead, BarcodeRead, GarbledInput, PowerStatus
from agent.runtime.stream import EventStream
from agent.runtime.supervision import watch_with_recovery

__all__ = ["SensorWatchers", "WorkflowInputs"]


class WorkflowInputs(Protocol):
    """Whoever acts on what people do at the device (the cabinet's desk): told of each badge,
    scan and slot change after it is recorded. Must not raise."""

    async def badge(self, uid: str) -> None: ...

    async def scan(self, data: str) -> None: ...

    async def slot_changed(self, slot: int, present: bool) -> None: ...


class SensorWatchers:
    """The watching services of one device; :meth:`services` lists their coroutines by name."""

    def __init__(
        self,
        profile: Profile,
        hardware: Hardware,
        stream: EventStream,
        *,
        inputs: WorkflowInputs | None = None,
    ) -> None:
        self._profile = profile
        self._inputs = inputs
        self._hardware = hardware
        self._stream = stream
        self._tags: dict[str, frozenset[str]] = {}
        self._battery_low: bool | None = None
        self._on_mains: bool | None = None

    def services(self) -> dict[str, Coroutine[Any, Any, None]]:
        hw = self._hardware
        services: dict[str, Coroutine[Any, Any, None]] = {
            "power": watch_with_recovery(hw.power.name, self._stream, hw.power.watch, self._power)
        }
        for name, door in hw.doors.items():
            services[f"door:{name}"] = watch_with_recovery(
                door.name, self._stream, door.watch, self._door_handler(name)
            )
        for slot, parts in hw.slots.items():
            services[f"presence:{slot}"] = watch_with_recovery(
                parts.presence.name,
                self._stream,
                parts.presence.watch,
                self._presence_handler(slot),
            )
        if hw.scanner is not None:
            scanner = hw.scanner
            services["scanner"] = watch_with_recovery(
                scanner.name, self._stream, scanner.reads, self._scanned
            )
        if hw.badge_reader is not None:
            reader = hw.badge_reader
            services["badge_reader"] = watch_with_recovery(
                reader.name, self._stream, reader.reads, self._badge
            )
        return services

    # --- doors and RFID --------------------------------------------------------------------

    def _door_handler(self, door: str) -> Callable[[bool], Awaitable[None]]:
        async def handle(is_open: bool) -> None:
            await self._stream.record(DoorChanged(door=door, open=is_open))
            if not is_open and not self._hardware.antenna_of_slot:
                await self._inventory_all()

        return handle

    async def _inventory_all(self) -> None:
        rfid = self._hardware.rfid
        if rfid is None:
            return
        for antenna in rfid.antennas:
            await self._inventory(antenna)

    async def _inventory(self, antenna: str) -> None:
        rfid = self._hardware.rfid
        if rfid is None:
            return
        try:
            tags = await rfid.inventory(antenna)
        except HalError as error:
            await self._stream.record(
                HardwareFault(
                    part=rfid.name,
                    error=type(error).__name__,
                    detail=f"inventory of antenna {antenna} failed: {error.detail}",
                )
            )
            return
        before = self._tags.get(antenna, frozenset())
        self._tags[antenna] = tags
        arrived, left = tags - before, before - tags
        if arrived or left:
            await self._stream.record(
                TagsChanged(
                    antenna=antenna, arrived=tuple(sorted(arrived)), left=tuple(sorted(left))
                )
            )

    # --- slots -------------------------------------------------------------------------------

    def _presence_handler(self, slot: int) -> Callable[[bool], Awaitable[None]]:
        antenna = self._hardware.antenna_of_slot.get(slot)
        first = True

        async def handle(present: bool) -> None:
            nonlocal first
            if first:
                first = False
                if antenna is not None:
                    await self._inventory(antenna)
                return
            await self._stream.record(PresenceChanged(slot=slot, present=present))
            if antenna is not None:
                await self._inventory(antenna)
            if self._inputs is not None:
                await self._inputs.slot_changed(slot, present)

        return handle

    # --- power -------------------------------------------------------------------------------

    async def _power(self, status: PowerStatus) -> None:
        low = (
            status.battery_fraction is not None
            and status.battery_fraction < self._profile.power.low_battery_fraction
        )
        if status.on_mains == self._on_mains and low == self._battery_low:
            return
        self._on_mains, self._battery_low = status.on_mains, low
        await self._stream.record(
            PowerChanged(
                on_mains=status.on_mains,
                battery_fraction=status.battery_fraction,
                battery_low=low,
            )
        )

    # --- readers -----------------------------------------------------------------------------

    async def _scanned(self, read: BarcodeRead | GarbledInput) -> None:
        if isinstance(read, GarbledInput):
            await self._rejected(self._profile.scanner or "scanner", read)
            return
        await self._stream.record(
            BarcodeScanned(
                scanner=self._profile.scanner or "scanner",
                data=read.data,
                symbology=read.symbology,
            )
        )
        if self._inputs is not None:
            await self._inputs.scan(read.data)

    async def _badge(self, read: BadgeRead | GarbledInput) -> None:
        reader = self._profile.badge_reader or "badge"
        if isinstance(read, GarbledInput):
            await self._rejected(reader, read)
            return
        await self._stream.record(BadgePresented(reader=reader, badge_uid=read.uid))
        if self._inputs is not None:
            await self._inputs.badge(read.uid)

    async def _rejected(self, source: str, garbled: GarbledInput) -> None:
        await self._stream.record(
            InputRejected(source=source, reason=garbled.reason, raw=garbled.raw.hex())
        )
