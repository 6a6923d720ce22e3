"""Records as plain tuples, the shapes both ends of a drain handle them in by the hundred thousand.

The journal holds each record's payload already CBOR-encoded, and the receiver stores it
encoded: neither end needs typed :class:`~agent.events.Event` s for the bulk of a drain, nor an
object per record. A :data:`StoredRow` is what the device sends from (the journal's outbox row
as it is read); a :data:`RecordRow` is what a receiver decodes from a batch (its payload in the
canonical encoding, the bytes :func:`~agent.payload_codec.encode_payload` gives). A batch of
stored rows encodes to exactly the bytes the same records as events encode to, and a batch
decodes to exactly the rows of the events it carries (``tests/test_protocol_wire_records.py``).
"""

from __future__ import annotations

from typing import Any

from agent.payload_codec import PayloadDecodeError, payload_map
from agent.sync.protocol.errors import BadPayload

__all__ = ["RecordRow", "StoredRow", "stored_payload_map"]

StoredRow = tuple[int, int, str, int, int, int, bytes]
"""One record going up, as the journal's outbox holds it: sequence, boot epoch, type, wall ns,
monotonic ns, clock synchronised (0/1 or a boolean), the payload's CBOR bytes. The batch gives
the device."""

RecordRow = tuple[int, int, str, int, int, bool, bytes]
"""One record decoded from a batch: boot epoch, sequence, type, wall ns, monotonic ns, clock
synchronised, the payload's canonical CBOR bytes. The batch gives the device."""


def stored_payload_map(row: StoredRow) -> dict[str, Any]:
    """The map that goes on the wire for ``row``'s payload, checked as
    :func:`~agent.payload_codec.decode_payload` checks it; :class:`BadPayload` if it refuses."""
    sequence, epoch, event_type, _, _, _, payload = row
    try:
        return payload_map(event_type, payload)
    except PayloadDecodeError as error:
        raise BadPayload(f"record {epoch}/{sequence}: {error}") from None
