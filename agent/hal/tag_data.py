"""What a blood bag's RFID tag stores: the unit's DIN, so a tag can be matched to its label.

Our simplification of ICCBBA ST-011 (ISBT 128 for RFID): the tag's user memory holds, from
block 0, the 13-character Donation Identification Number and its two flag characters in ASCII
(``A99991712345600``), padded with NUL bytes to a whole number of blocks. A driver reads the
blocks (:meth:`agent.hal.parts.RfidReader.read_tag_data`); the agent decodes them here and
compares the DIN with the one on the barcode (brief, section 3: stock-in refuses a unit whose
tag and label disagree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TAG_BLOCK_BYTES", "TagData", "TagDataError", "decode_tag_data", "encode_tag_data"]

TAG_BLOCK_BYTES = 4
"""ISO 15693 tags of the kind blood bags carry have 4-byte blocks."""

_CONTENT = re.compile(r"([A-NP-Z1-9][0-9]{12})([0-9A-Z]{2})")


class TagDataError(ValueError):
    """A tag's memory does not hold a DIN in our layout; says what was found."""


@dataclass(frozen=True, slots=True)
class TagData:
    """The DIN (13 characters) and flag characters a tag carries."""

    din: str
    flags: str


def encode_tag_data(din: str, flags: str) -> bytes:
    """The user memory to write to a new unit's tag."""
    if not _CONTENT.fullmatch(din + flags):
        raise TagDataError(f"not a DIN and flags: {din!r} {flags!r}")
    content = (din + flags).encode("ascii")
    padding = -len(content) % TAG_BLOCK_BYTES
    return content + bytes(padding)


def decode_tag_data(memory: bytes) -> TagData:
    """The DIN a tag's user memory holds; :class:`TagDataError` if it holds none."""
    content = memory.rstrip(b"\x00")
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise TagDataError(f"tag memory is not ASCII: {memory.hex()}") from None
    match = _CONTENT.fullmatch(text)
    if match is None:
        raise TagDataError(f"tag memory holds no DIN: {text!r}")
    return TagData(din=match.group(1), flags=match.group(2))
