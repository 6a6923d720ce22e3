"""Records as the wire carries them, without the typed :class:`~agent.events.Event` around them.

The journal holds each record's payload already CBOR-encoded, and the receiver stores it
encoded: neither end needs typed payloads for the bulk of a drain. :class:`WireRecord` is what
the device sends (its payload the map that goes on the wire, decoded and checked once from the
journal's bytes); :class:`RecordRow` is what a receiver decodes from a batch (its payload in the
canonical encoding, the bytes :func:`~agent.payload_codec.encode_payload` gives). A batch of
wire records encodes to exactly the bytes the same records as events encode to.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from agent.payload_codec import payload_map

_payload_map = functools.lru_cache(maxsize=4096)(payload_map)
"""``payload_map``, remembered: a probe's readings repeat (a cabinet's hundreds of distinct
values a week), so most samples of a backlog decode once. Its maps are shared: read-only."""

__all__ = ["RecordRow", "WireRecord"]


class WireRecord(NamedTuple):
    """One record going up: identity (the batch gives the device), time facts, type, and its
    payload as the map that goes on the wire."""

    epoch: int
    sequence: int
    type: str
    wall_ns: int
    mono_ns: int
    synced: bool
    payload: dict[str, Any]

    @classmethod
    def from_stored(
        cls,
        *,
        epoch: int,
        sequence: int,
        event_type: str,
        wall_ns: int,
        mono_ns: int,
        synced: bool,
        payload: bytes,
    ) -> WireRecord:
        """The record whose payload is the CBOR ``payload`` (as the journal stores it);
        ``PayloadDecodeError`` exactly when :func:`~agent.payload_codec.decode_payload` would
        refuse it. Records with equal payloads may share one map: never modify it."""
        return cls(
            epoch, sequence, event_type, wall_ns, mono_ns, synced, _payload_map(event_type, payload)
        )

    @property
    def key(self) -> tuple[int, int]:
        """(boot epoch, sequence)."""
        return (self.epoch, self.sequence)


class RecordRow(NamedTuple):
    """One record decoded from a batch (the batch gives the device), its payload in the
    canonical CBOR encoding of the decoded payload."""

    epoch: int
    sequence: int
    type: str
    wall_ns: int
    mono_ns: int
    synced: bool
    payload: bytes
