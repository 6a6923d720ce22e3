"""The cabinet's hands: opening and closing slots, lighting them, reading their tags.

Thin over the HAL: each method does one physical thing and reports what happened instead of
raising, so the desk can journal a jammed or silent part and tell the person, without ever
being interrupted half-way by an exception (invariant 8). Nothing here decides anything;
:mod:`agent.cabinet.desk` calls it only after the decision is journaled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.config.schema import STATION_ANTENNA
from agent.hal.errors import HalError
from agent.hal.hardware import Hardware
from agent.hal.parts import LightColour
from agent.hal.tag_data import TagDataError, decode_tag_data

__all__ = ["SlotActions", "StationRead"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StationRead:
    """What the station antenna read: one tag and the DIN in its memory, or why not."""

    tag_uid: str | None
    din: str | None
    problem: str | None


class SlotActions:
    """Physical actions on a cabinet's slots and scanning station."""

    def __init__(self, hardware: Hardware) -> None:
        self._hw = hardware

    async def open(self, slot: int) -> HalError | None:
        """Light slot ``slot`` green and release its lock; the error if the lock failed (the
        light then goes red)."""
        parts = self._hw.slots[slot]
        try:
            await parts.light.set(LightColour.GREEN)
            await parts.lock.release()
        except HalError as error:
            await self._light(slot, LightColour.RED)
            return error
        return None

    async def close(self, slot: int) -> None:
        """Engage slot ``slot``'s lock and put its light out (a failure is logged: a
        fail-secure lock is locked without power, and the lock engages itself anyway)."""
        parts = self._hw.slots[slot]
        try:
            await parts.lock.engage()
        except HalError as error:
            _log.error("slot %d: engage failed: %s", slot, error)
        await self._light(slot, LightColour.OFF)

    async def _light(self, slot: int, colour: LightColour) -> None:
        try:
            await self._hw.slots[slot].light.set(colour)
        except HalError as error:
            _log.error("slot %d: light failed: %s", slot, error)

    async def tags_in(self, slot: int) -> frozenset[str] | HalError:
        """The tags slot ``slot``'s antenna reads now, or the reader's error."""
        rfid = self._hw.rfid
        antenna = self._hw.antenna_of_slot.get(slot)
        if rfid is None or antenna is None:
            return frozenset()
        try:
            return await rfid.inventory(antenna)
        except HalError as error:
            return error

    async def read_station(self) -> StationRead:
        """The one unit held at the scanning station: its tag and the DIN its tag carries."""
        rfid = self._hw.rfid
        if rfid is None or STATION_ANTENNA not in rfid.antennas:
            return StationRead(None, None, "This cabinet has no RFID reader at its station.")
        try:
            tags = await rfid.inventory(STATION_ANTENNA)
            if len(tags) != 1:
                found = "no tag" if not tags else f"{len(tags)} tags"
                return StationRead(
                    None, None, f"Hold exactly one unit on the scanning station ({found} read)."
                )
            (uid,) = tags
            memory = await rfid.read_tag_data(STATION_ANTENNA, uid)
        except HalError as error:
            return StationRead(None, None, f"The RFID reader failed: {error.detail}.")
        try:
            return StationRead(uid, decode_tag_data(memory).din, None)
        except TagDataError as error:
            return StationRead(uid, None, f"The unit's tag {uid} cannot be read: {error}.")
