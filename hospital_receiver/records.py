"""What the receiver stores: one device record, as it arrived."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Identity", "StoredRecord"]


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """A record's identity across the fleet; the database's primary key."""

    device: str
    boot_epoch: int
    sequence: int


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of one device: identity, type, the device's time facts, the payload as the
    device encoded it (CBOR), and whether it came from the device's backlog."""

    identity: Identity
    type: str
    wall_ns: int
    monotonic_ns: int
    clock_synchronised: bool
    payload: bytes
    historical: bool
