"""What the receiver knows of each device's presence, from the retained ``status`` topics.

Invariant kept: **a late Will never hides a live device.** A device's state is its latest birth
or death by (boot epoch, connection): a death of an older connection than the last birth seen
(a broker may publish an old Will after the device reconnected) is ignored. Held in memory for
display and logs only: nothing about records or acknowledgements depends on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.sync.protocol import Birth, Death

__all__ = ["DeviceState", "FleetView"]

_log = logging.getLogger("hospital_receiver.fleet")


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device's last known presence; ``last_acked`` and ``firmware`` from its last birth."""

    site: str
    device: str
    online: bool
    epoch: int
    connection: int
    last_acked: int | None
    firmware: str


class FleetView:
    """The latest state of every device seen on a status topic."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceState] = {}

    def update(self, message: Birth | Death) -> DeviceState | None:
        """Take a birth or death into account; the new state, or None if it was stale."""
        known = self.devices.get(message.device)
        order = (message.epoch, message.connection)
        if known is not None and order < (known.epoch, known.connection):
            _log.info(
                "stale status ignored",
                extra={"fields": {"device": message.device, "kind": message.KIND}},
            )
            return None
        if isinstance(message, Birth):
            state = DeviceState(
                message.site,
                message.device,
                online=True,
                epoch=message.epoch,
                connection=message.connection,
                last_acked=message.last_acked,
                firmware=message.firmware,
            )
        else:
            state = DeviceState(
                message.site,
                message.device,
                online=False,
                epoch=message.epoch,
                connection=message.connection,
                last_acked=None if known is None else known.last_acked,
                firmware="" if known is None else known.firmware,
            )
        self.devices[message.device] = state
        _log.info(
            "device online" if state.online else "device offline",
            extra={
                "fields": {
                    "site": state.site,
                    "device": state.device,
                    "epoch": state.epoch,
                    "connection": state.connection,
                    "last_acked": state.last_acked,
                }
            },
        )
        return state
