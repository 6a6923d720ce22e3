"""What the ISBT 128 parser raises: one :class:`LabelError` family, each naming where and what.

Invariant 8 of the brief: bad input gets a clear, typed error, never a crash. Every problem
the parser finds in scanned text is a :class:`LabelError` (a :class:`ValueError`) whose
``structure`` says which data structure it was reading (``"DIN"``, ``"blood group"``, ...),
whose ``position`` is the 0-based index into the scanned text where the problem is, and whose
message says, in plain words, what was expected there and what was found::

    DIN check character: expected 'A', found 'B' at position 16

Subclasses say what kind of problem it was, so that a caller can react to a kind (refuse a
unit whose check character is wrong) without reading messages. Nothing else escapes the
parser for any input text.
"""

from __future__ import annotations

__all__ = [
    "BadCharacter",
    "BadCheckCharacter",
    "BadDate",
    "BadLength",
    "CompoundCountMismatch",
    "DuplicateStructure",
    "LabelError",
    "MissingStructure",
    "UnexpectedStructure",
    "UnknownCode",
    "UnknownDataIdentifier",
]


class LabelError(ValueError):
    """Scanned ISBT 128 text that is not what the standard allows.

    ``structure`` names the data structure being read; ``position`` is the 0-based index into
    the scanned text of the offending character, or ``None`` when the problem is not at one
    place in one text (a unit label assembled from several scans lacks its expiry);
    ``detail`` says what was expected and what was found.
    """

    def __init__(self, structure: str, position: int | None, detail: str) -> None:
        self.structure = structure
        self.position = position
        self.detail = detail
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = "" if self.position is None else f" at position {self.position}"
        return f"{self.structure}: {self.detail}{where}"

    def __reduce__(self) -> tuple[type[LabelError], tuple[str, int | None, str]]:
        return (type(self), (self.structure, self.position, self.detail))


class UnknownDataIdentifier(LabelError):
    """The text at ``position`` does not start with a data identifier this parser reads."""


class BadLength(LabelError):
    """The text ends inside a data structure, or goes on after the structure should end."""


class BadCharacter(LabelError):
    """A character is outside the set the standard allows at its place."""


class BadCheckCharacter(LabelError):
    """A keyboard-entry check character (or the check value in DIN flags 60-96) does not
    match the ISO/IEC 7064 Mod 37-2 check character of the DIN."""


class BadDate(LabelError):
    """A date or time that does not exist: day 366 of a common year, hour 24, minute 60."""


class UnknownCode(LabelError):
    """A code the standard's tables do not define (an ABO/RhD code, a type of collection)."""


class CompoundCountMismatch(LabelError):
    """A compound message whose declared number of data structures is not the number found."""


class UnexpectedStructure(LabelError):
    """A data structure where it may not appear (a compound message inside another)."""


class MissingStructure(LabelError):
    """A unit label lacks one of the data structures it needs."""


class DuplicateStructure(LabelError):
    """A unit label got the same kind of data structure twice."""
