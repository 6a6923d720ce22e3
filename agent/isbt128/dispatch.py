"""Which data structure starts here: reading one structure by its data identifier.

:func:`read_structure` looks at the data identifier at a position in scanned text, reads the
structure it announces and says where it ends. The compound-message reader and
:func:`~agent.isbt128.scan.parse_scan` both walk a scan with it. Invariant kept: every
structure type in :data:`Structure` has a fixed length, so the end of one structure is always
known before the next is read.

A DIN is recognised by ``=`` followed by its first character (``A-N``, ``P-Z``, ``1-9``); every
other structure by its two-character data identifier. The compound message ``=+`` is not a
:data:`Structure`: it is read by :mod:`agent.isbt128.compound`.
"""

from __future__ import annotations

from typing import TypeAlias

from agent.isbt128.blood_group import BloodGroup, read_blood_group
from agent.isbt128.charsets import DIN_FIRST
from agent.isbt128.din import Din, read_din
from agent.isbt128.errors import UnknownDataIdentifier
from agent.isbt128.expiry import (
    ExpirationDate,
    ExpirationDateTime,
    read_expiration_date,
    read_expiration_date_time,
)
from agent.isbt128.other import OTHER_STRUCTURES, OtherStructure, read_other
from agent.isbt128.product_code import ProductCode, read_product_code

__all__ = ["Structure", "read_structure"]

Structure: TypeAlias = (
    Din | BloodGroup | ProductCode | ExpirationDateTime | ExpirationDate | OtherStructure
)
"""One ISBT 128 data structure other than a compound message."""


def read_structure(text: str, start: int) -> tuple[Structure, int]:
    """Read the data structure whose data identifier begins at ``text[start]``.

    Returns the structure and the index just after it. Raises
    :class:`UnknownDataIdentifier` if no structure this package reads starts there.
    """
    identifier = text[start : start + 2]
    structure: Structure
    if identifier == "=%":
        structure = read_blood_group(text, start)
    elif identifier == "=<":
        structure = read_product_code(text, start)
    elif identifier == "&>":
        structure = read_expiration_date_time(text, start)
    elif identifier == "=>":
        structure = read_expiration_date(text, start)
    elif identifier in OTHER_STRUCTURES:
        structure = read_other(text, start, OTHER_STRUCTURES[identifier])
    elif len(identifier) == 2 and identifier[0] == "=" and identifier[1] in DIN_FIRST:
        structure = read_din(text, start)
    else:
        raise UnknownDataIdentifier(
            "scan",
            start,
            f"expected an ISBT 128 data identifier (such as '=A', '=%', '=<', '&>'),"
            f" found {identifier!r}",
        )
    return structure, start + len(structure.encode())
