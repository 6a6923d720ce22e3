"""Birth and death certificates: whether a device is online, on the retained ``status`` topic.

The birth is published retained on every connection, so a receiver that starts later still
learns each device's state; the death is the connection's MQTT Will, published retained by the
broker when the connection is lost. Both carry the boot epoch and a connection counter so that
a late death of an older connection is never taken for the state of a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from agent.sync.protocol.fields import Fields, as_text, as_uint
from agent.sync.protocol.topics import TopicKind, check_identifier

__all__ = ["MAX_FIRMWARE_LENGTH", "Birth", "Death"]

MAX_FIRMWARE_LENGTH = 64


def _check_origin(site: str, device: str, epoch: int, connection: int) -> None:
    check_identifier(site, "site")
    check_identifier(device, "device")
    as_uint(epoch, "epoch")
    as_uint(connection, "connection")


@dataclass(frozen=True, slots=True)
class Birth:
    """The device is online: who it is, what it runs, and how far the hospital has acked it.

    ``last_acked`` is the highest sequence such that every record up to it has been
    acknowledged (None before the first acknowledgement); ``wall_ns``, ``mono_ns`` and
    ``synchronised`` are the device's clocks when it published the birth.
    """

    KIND: ClassVar[str] = "birth"
    TOPIC: ClassVar[TopicKind] = TopicKind.STATUS

    site: str
    device: str
    epoch: int
    connection: int
    firmware: str
    last_acked: int | None
    wall_ns: int
    mono_ns: int
    synchronised: bool

    def __post_init__(self) -> None:
        _check_origin(self.site, self.device, self.epoch, self.connection)
        as_text(self.firmware, "firmware", MAX_FIRMWARE_LENGTH)
        if self.last_acked is not None:
            as_uint(self.last_acked, "last_acked")
        as_uint(self.wall_ns, "wall_ns")
        as_uint(self.mono_ns, "mono_ns")

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR."""
        return {
            "site": self.site,
            "device": self.device,
            "epoch": self.epoch,
            "connection": self.connection,
            "firmware": self.firmware,
            "last_acked": self.last_acked,
            "wall_ns": self.wall_ns,
            "mono_ns": self.mono_ns,
            "synced": self.synchronised,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> Birth:
        """The birth the fields describe."""
        last_acked = fields.raw("last_acked")
        return cls(
            site=fields.text("site"),
            device=fields.text("device"),
            epoch=fields.uint("epoch"),
            connection=fields.uint("connection"),
            firmware=fields.text("firmware", max_length=MAX_FIRMWARE_LENGTH),
            last_acked=None
            if last_acked is None
            else as_uint(last_acked, f"{fields.where}.last_acked"),
            wall_ns=fields.uint("wall_ns"),
            mono_ns=fields.uint("mono_ns"),
            synchronised=fields.boolean("synced"),
        )


@dataclass(frozen=True, slots=True)
class Death:
    """The device's connection ``connection`` of boot epoch ``epoch`` is gone (its MQTT Will)."""

    KIND: ClassVar[str] = "death"
    TOPIC: ClassVar[TopicKind] = TopicKind.STATUS

    site: str
    device: str
    epoch: int
    connection: int

    def __post_init__(self) -> None:
        _check_origin(self.site, self.device, self.epoch, self.connection)

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR."""
        return {
            "site": self.site,
            "device": self.device,
            "epoch": self.epoch,
            "connection": self.connection,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> Death:
        """The death the fields describe."""
        return cls(
            site=fields.text("site"),
            device=fields.text("device"),
            epoch=fields.uint("epoch"),
            connection=fields.uint("connection"),
        )
