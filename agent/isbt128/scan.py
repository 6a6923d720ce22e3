"""One barcode scan as the scanner delivers it, and the unit label assembled from scans.

:func:`parse_scan` reads the text of one scan: a single data structure (``=%5100``), the
structures of one linear bar code pair joined by a scanner in ISBT 128 concatenation mode
(``=<E0336V00&>0273650805``), or a compound message from a 2-D symbol (``=+04000...``). It
dispatches on each data identifier and returns the typed structures in scan order;
:func:`encode_scan` gives the text back, so ``parse_scan(encode_scan(s)) == s``. The reader's
framing (CR/LF, AIM symbology prefixes) is removed before this point; any character the
standard does not allow is an error here.

:class:`UnitLabel` is what stock-in needs from a bag: exactly one DIN, one blood group, one
product code and one expiry (date and time, or date only), from one scan or several. Other
structures are ignored; a missing or repeated one is refused, so that a label is never built
from a guess or from two bags' barcodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from agent.isbt128.blood_group import BloodGroup
from agent.isbt128.compound import CompoundMessage, read_compound
from agent.isbt128.din import Din
from agent.isbt128.dispatch import Structure, read_structure
from agent.isbt128.errors import (
    BadLength,
    DuplicateStructure,
    MissingStructure,
    UnexpectedStructure,
)
from agent.isbt128.expiry import ExpirationDate, ExpirationDateTime
from agent.isbt128.product_code import ProductCode

__all__ = ["ScanItem", "UnitLabel", "encode_scan", "flatten", "parse_scan"]

ScanItem: TypeAlias = Structure | CompoundMessage
"""What one scan yields: a data structure, or a compound message carrying several."""

Expiry: TypeAlias = ExpirationDateTime | ExpirationDate
_LABEL = "unit label"


def parse_scan(text: str) -> tuple[ScanItem, ...]:
    """The data structures in the text of one scan, in order.

    Raises a :class:`~agent.isbt128.errors.LabelError` subclass naming the position of the
    first problem; nothing is returned from a scan with any problem in it.
    """
    if not text:
        raise BadLength("scan", 0, "expected at least one data structure, found an empty text")
    if text.startswith("=+"):
        return (read_compound(text, 0),)
    items: list[ScanItem] = []
    position = 0
    while position < len(text):
        if text.startswith("=+", position):
            raise UnexpectedStructure(
                "scan",
                position,
                "a compound message must be the whole scan, found one after another data structure",
            )
        structure, position = read_structure(text, position)
        items.append(structure)
    return tuple(items)


def encode_scan(items: Iterable[ScanItem]) -> str:
    """The scan text of ``items``: their encodings joined with nothing between them."""
    return "".join(item.encode() for item in items)


def flatten(items: Iterable[ScanItem]) -> tuple[Structure, ...]:
    """The data structures of ``items``, with each compound message replaced by its content."""
    flat: list[Structure] = []
    for item in items:
        if isinstance(item, CompoundMessage):
            flat.extend(item.structures)
        else:
            flat.append(item)
    return tuple(flat)


@dataclass(frozen=True, slots=True)
class UnitLabel:
    """The four data structures of a blood unit's label that stock-in checks."""

    din: Din
    blood_group: BloodGroup
    product_code: ProductCode
    expiry: Expiry

    @classmethod
    def from_structures(cls, items: Iterable[ScanItem]) -> UnitLabel:
        """Assemble a label from the structures of one or more scans.

        Raises :class:`MissingStructure` if one of the four is absent and
        :class:`DuplicateStructure` if one is present twice (an ``&>`` and an ``=>`` expiry
        count as two expiries), even with equal values.
        """
        found: dict[str, list[Structure]] = {name: [] for name in _KINDS}
        for structure in flatten(items):
            for name, kind in _KINDS.items():
                if isinstance(structure, kind):
                    found[name].append(structure)
        for name, structures in found.items():
            if not structures:
                raise MissingStructure(_LABEL, None, f"expected one {name}, found none")
            if len(structures) > 1:
                texts = ", ".join(repr(structure.encode()) for structure in structures)
                raise DuplicateStructure(_LABEL, None, f"expected one {name}, found {texts}")
        din, group, product, expiry = (found[name][0] for name in _KINDS)
        assert isinstance(din, Din)
        assert isinstance(group, BloodGroup)
        assert isinstance(product, ProductCode)
        assert isinstance(expiry, ExpirationDateTime | ExpirationDate)
        return cls(din, group, product, expiry)

    @classmethod
    def from_scans(cls, *texts: str) -> UnitLabel:
        """Parse each scan text and assemble the label from all of them."""
        return cls.from_structures(item for text in texts for item in parse_scan(text))

    def expires_at(self, tz: dt.tzinfo) -> dt.datetime:
        """The aware moment the unit expires, reading the label's wall time in zone ``tz``."""
        return self.expiry.expires_at(tz)

    def structures(self) -> tuple[Structure, ...]:
        return (self.din, self.blood_group, self.product_code, self.expiry)

    def barcodes(self) -> tuple[str, ...]:
        """The text of each of the four bar codes, in label order."""
        return tuple(structure.encode() for structure in self.structures())

    def compound(self) -> CompoundMessage:
        """The four structures as one compound message (undefined sequence)."""
        return CompoundMessage(self.structures())


_KINDS: dict[str, type | tuple[type, ...]] = {
    "DIN": Din,
    "blood group": BloodGroup,
    "product code": ProductCode,
    "expiry": (ExpirationDateTime, ExpirationDate),
}
