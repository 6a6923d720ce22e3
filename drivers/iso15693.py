"""ISO/IEC 15693-3 (vicinity cards: the HF tags on blood bags), pure: requests, responses,
CRC, UIDs and the anticollision slot arithmetic. No I/O; the reader that carries these frames
over the air is :mod:`drivers.iso15693_reader`.

Document followed: ISO/IEC 15693-3 - request flags (table "request flags 1 to 4", and "5 to 8"
with and without the inventory flag), the Inventory command (0x01) with its mask and
1 or 16 slots, Read Multiple Blocks (0x23), response flags and error codes, and Annex C's
CRC-16: ISO/IEC 13239's polynomial ``x^16 + x^12 + x^5 + 1`` processed LSB first (reflected,
``0x8408``), preset ``0xFFFF``, the result complemented and sent least significant byte first.
Annex C's example: the CRC of ``01 02 03 04`` is ``0x3991``; over data and its CRC, the
uncomplemented register ends at the residue ``0xF0B8``.

UIDs are 64 bits and travel least significant byte first; the HAL reports them as upper-case
hexadecimal, most significant byte first, as printed on tags (``E004...``, E0 being the
ISO 15693 allocation class, 04 NXP).

Anticollision (ISO/IEC 15693-3, "anticollision" and its annex): in a 16-slot inventory with a
mask of ``n`` bits, a tag answers when the ``n`` least significant bits of its UID equal the
mask, in the slot given by its next 4 bits; a slot where several tags answered is resolved by a
new inventory with the mask extended by that slot's 4 bits (:func:`child_mask`), recursively,
until each slot holds at most one tag.

The user memory of a blood bag's tag holds the unit's DIN in our simplified layout, decoded by
:mod:`agent.hal.tag_data`; this module only reads blocks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "MAX_MASK_BITS",
    "UID_BYTES",
    "Command",
    "ErrorCode",
    "Iso15693Error",
    "RequestFlag",
    "TagError",
    "TagInventory",
    "check_crc",
    "child_mask",
    "crc16",
    "inventory_request",
    "parse_inventory_response",
    "parse_read_multiple_blocks_response",
    "read_multiple_blocks_request",
    "uid_from_wire",
    "uid_to_wire",
    "with_crc",
]

UID_BYTES = 8
MAX_MASK_BITS = 60
"""The longest mask a 16-slot inventory can use: the slot takes the UID's last 4 bits."""
_RESIDUE = 0xF0B8
_POLY = 0x8408
_ERROR_FLAG = 0x01


class RequestFlag(enum.IntFlag):
    """Request flags. Bits 5 and 6 mean one thing in inventory requests (AFI, NB_SLOTS_1) and
    another in the others (SELECT, ADDRESS)."""

    SUBCARRIER_TWO = 0x01
    HIGH_DATA_RATE = 0x02
    INVENTORY = 0x04
    PROTOCOL_EXTENSION = 0x08
    SELECT = 0x10
    ADDRESS = 0x20
    OPTION = 0x40
    AFI = 0x10
    NB_SLOTS_1 = 0x20


class Command(enum.IntEnum):
    INVENTORY = 0x01
    STAY_QUIET = 0x02
    READ_SINGLE_BLOCK = 0x20
    READ_MULTIPLE_BLOCKS = 0x23
    GET_SYSTEM_INFORMATION = 0x2B


class ErrorCode(enum.IntEnum):
    """Error codes a tag returns with the error flag set."""

    NOT_SUPPORTED = 0x01
    NOT_RECOGNISED = 0x02
    OPTION_NOT_SUPPORTED = 0x03
    UNKNOWN = 0x0F
    BLOCK_NOT_AVAILABLE = 0x10
    BLOCK_ALREADY_LOCKED = 0x11
    BLOCK_LOCKED = 0x12
    BLOCK_NOT_PROGRAMMED = 0x13
    BLOCK_NOT_LOCKED = 0x14


class Iso15693Error(ValueError):
    """A tag's response that cannot be used: bad CRC, wrong length."""


class TagError(Iso15693Error):
    """The tag answered with its error flag set; ``code`` says why."""

    def __init__(self, code: int) -> None:
        try:
            name = ErrorCode(code).name
        except ValueError:
            name = "custom"
        super().__init__(f"tag error {code:#04x} ({name})")
        self.code = code


def crc16(data: bytes) -> int:
    """The ISO/IEC 15693 CRC of ``data`` (already complemented)."""
    return _register(data) ^ 0xFFFF


def _register(data: bytes) -> int:
    register = 0xFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            register = (register >> 1) ^ _POLY if register & 1 else register >> 1
    return register


def with_crc(frame: bytes) -> bytes:
    """``frame`` followed by its CRC, least significant byte first."""
    return frame + crc16(frame).to_bytes(2, "little")


def check_crc(frame: bytes) -> bool:
    """Whether ``frame`` ends with the right CRC of what precedes it."""
    return len(frame) >= 2 and _register(frame) == _RESIDUE


def uid_from_wire(wire: bytes) -> str:
    """The 8 UID bytes as sent (LSB first) → upper-case hexadecimal, MSB first."""
    if len(wire) != UID_BYTES:
        raise Iso15693Error(f"a UID has {UID_BYTES} bytes, got {len(wire)}")
    return wire[::-1].hex().upper()


def uid_to_wire(uid: str) -> bytes:
    """Hexadecimal UID, MSB first → the 8 bytes to send (LSB first)."""
    try:
        raw = bytes.fromhex(uid)
    except ValueError:
        raise ValueError(f"not a hexadecimal UID: {uid!r}") from None
    if len(raw) != UID_BYTES:
        raise ValueError(f"a UID has {UID_BYTES} bytes, got {uid!r}")
    return raw[::-1]


def inventory_request(
    *, slots: int = 16, mask_length: int = 0, mask: int = 0, high_data_rate: bool = True
) -> bytes:
    """An Inventory request without its CRC: flags, ``01``, mask length in bits, then the
    mask value in whole bytes, least significant first."""
    if slots not in (1, 16):
        raise ValueError(f"an inventory has 1 or 16 slots, not {slots}")
    limit = MAX_MASK_BITS if slots == 16 else MAX_MASK_BITS + 4
    if not 0 <= mask_length <= limit or not 0 <= mask < 1 << mask_length:
        raise ValueError(f"mask {mask:#x} of {mask_length} bits is out of range")
    flags = RequestFlag.INVENTORY
    if high_data_rate:
        flags |= RequestFlag.HIGH_DATA_RATE
    if slots == 1:
        flags |= RequestFlag.NB_SLOTS_1
    mask_bytes = mask.to_bytes((mask_length + 7) // 8, "little")
    return bytes([flags, Command.INVENTORY, mask_length]) + mask_bytes


def child_mask(mask_length: int, mask: int, slot: int) -> tuple[int, int]:
    """The mask that resolves a collision in ``slot`` of a 16-slot inventory with this mask."""
    if not 0 <= slot < 16:
        raise ValueError(f"slot {slot} is not one of 16")
    if mask_length + 4 > MAX_MASK_BITS:
        raise ValueError(f"a {mask_length}-bit mask cannot be extended")
    return mask_length + 4, mask | slot << mask_length


@dataclass(frozen=True, slots=True)
class TagInventory:
    """A tag's answer to an inventory."""

    uid: str
    dsfid: int


def parse_inventory_response(frame: bytes) -> TagInventory:
    """Flags, DSFID, UID (LSB first), CRC; :class:`Iso15693Error` if it is not that."""
    body = _checked(frame)
    if len(body) != 2 + UID_BYTES:
        raise Iso15693Error(f"inventory response of {len(body)} bytes: {frame.hex()}")
    return TagInventory(uid=uid_from_wire(body[2:]), dsfid=body[1])


def read_multiple_blocks_request(
    uid: str, first_block: int, count: int, *, high_data_rate: bool = True
) -> bytes:
    """An addressed Read Multiple Blocks request without its CRC."""
    if not 0 <= first_block <= 0xFF or not 1 <= count <= 0x100 - first_block:
        raise ValueError(f"blocks {first_block}+{count} out of range")
    flags = RequestFlag.ADDRESS
    if high_data_rate:
        flags |= RequestFlag.HIGH_DATA_RATE
    header = bytes([flags, Command.READ_MULTIPLE_BLOCKS])
    return header + uid_to_wire(uid) + bytes([first_block, count - 1])


def parse_read_multiple_blocks_response(frame: bytes, *, length: int) -> bytes:
    """The ``length`` data bytes of a Read Multiple Blocks response (no security status);
    :class:`TagError` if the tag reports an error."""
    body = _checked(frame)
    if len(body) != 1 + length:
        raise Iso15693Error(f"expected {length} data bytes, got {len(body) - 1}: {frame.hex()}")
    return body[1:]


def _checked(frame: bytes) -> bytes:
    """The response without its CRC, after checking CRC and error flag."""
    if not check_crc(frame):
        raise Iso15693Error(f"bad CRC: {frame.hex()}")
    body = frame[:-2]
    if not body:
        raise Iso15693Error("empty response")
    if body[0] & _ERROR_FLAG:
        if len(body) != 2:
            raise Iso15693Error(f"error response of {len(body)} bytes: {frame.hex()}")
        raise TagError(body[1])
    return body
