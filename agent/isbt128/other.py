"""ICCBBA data structures a cabinet does not interpret, read only to step over them.

A compound message (or a scanner in concatenation mode) may carry a collection date, special
testing results or a container lot number beside the four structures a unit label needs. To
find where the next structure starts the parser must know each one's length, so this module
lists the fixed-length structures of ST-001 Table 2 (RT003) by data identifier and keeps their
content verbatim in an :class:`OtherStructure`. Their content is checked only to be ASCII
letters and digits (every one of these is alphanumeric); its meaning is left to whoever needs
it. Variable-length, retired and nationally defined structures are not listed: the parser
refuses them with :class:`~agent.isbt128.errors.UnknownDataIdentifier` rather than guess
where they end.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.isbt128.charsets import ALPHANUMERIC_MIXED_CASE, expect
from agent.isbt128.extent import require_length

__all__ = ["OTHER_STRUCTURES", "OtherKind", "OtherStructure", "read_other"]


@dataclass(frozen=True, slots=True)
class OtherKind:
    """One data structure of ST-001 Table 2: its number, name and data content length."""

    number: str
    name: str
    content_length: int


OTHER_STRUCTURES: dict[str, OtherKind] = {
    "=*": OtherKind("006", "collection date", 6),
    "&*": OtherKind("007", "collection date and time", 10),
    "=}": OtherKind("008", "production date", 6),
    "&}": OtherKind("009", "production date and time", 10),
    "&(": OtherKind("010", "special testing: general", 5),
    "=\\": OtherKind("012", "special testing: red blood cell antigens - general", 18),
    "&\\": OtherKind("013", "special testing: red blood cell antigens - Finnish", 18),
    "&{": OtherKind("014", "special testing: platelet HLA and platelet-specific antigens", 18),
    "=)": OtherKind("017", "container manufacturer and catalog number", 10),
    "&)": OtherKind("018", "container lot number", 10),
    "='": OtherKind("020", "staff member identification number", 11),
    "=-": OtherKind("021", "manufacturer and catalog number (other items)", 10),
    "&-": OtherKind("022", "lot number (other items)", 10),
    "=#": OtherKind("024", "patient date of birth", 10),
    "=]": OtherKind("026", "expiration month and year", 6),
    '&"': OtherKind("027", "transfusion transmitted infection marker", 18),
    "=$": OtherKind("028", "product consignment", 16),
    "=(": OtherKind("031", "flexible date and time", 16),
    "=,": OtherKind("032", "product divisions", 6),
    "&+": OtherKind("033", "processing facility information code", 11),
    "=/": OtherKind("034", "processor product identification code", 16),
}
"""Fixed-length ICCBBA data structures by data identifier (ST-001 Table 2, RT003)."""


@dataclass(frozen=True, slots=True)
class OtherStructure:
    """An ICCBBA data structure kept verbatim: ``identifier`` (``"=*"``) and ``content``."""

    identifier: str
    content: str

    def __post_init__(self) -> None:
        kind = OTHER_STRUCTURES.get(self.identifier)
        if kind is None:
            raise ValueError(f"{self.identifier!r} is not a data identifier listed here")
        if len(self.content) != kind.content_length or not all(
            char in ALPHANUMERIC_MIXED_CASE for char in self.content
        ):
            raise ValueError(
                f"{kind.name} content is {kind.content_length} letters or digits,"
                f" got {self.content!r}"
            )

    @property
    def kind(self) -> OtherKind:
        return OTHER_STRUCTURES[self.identifier]

    def encode(self) -> str:
        return self.identifier + self.content

    def __str__(self) -> str:
        return self.encode()


def read_other(text: str, start: int, kind: OtherKind) -> OtherStructure:
    """Read the structure of ``kind`` whose data identifier begins at ``text[start]``."""
    require_length(text, start, 2 + kind.content_length, kind.name)
    content = expect(
        text,
        start + 2,
        kind.content_length,
        ALPHANUMERIC_MIXED_CASE,
        structure=kind.name,
        field="content",
    )
    return OtherStructure(text[start : start + 2], content)
