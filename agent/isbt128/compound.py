"""Compound Message (ST-001 data structure 023): ``=+aabbb`` and the structures it carries.

A compound message (typically the content of a 2-D symbol) is the header ``=+aabbb`` followed
by ``aa`` ISBT 128 data structures with nothing between them. ``bbb`` is ``000`` for an
undefined sequence (what ICCBBA now encourages) or the reference number of a sequence in
ICCBBA's table RT017. RT017 lives on ICCBBA's website and is not shipped here, so a specified
sequence is accepted and its number kept, but the order of the structures is not checked
against it.

Invariant kept, as ST-001 asks ("verify the integrity of the data string"): a compound message
is only accepted whole - the text after the header must be exactly ``aa`` structures, none of
them another compound message; otherwise :class:`~agent.isbt128.errors.CompoundCountMismatch`
(or :class:`~agent.isbt128.errors.UnexpectedStructure`) is raised and nothing is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.isbt128.charsets import DIGITS, expect
from agent.isbt128.dispatch import Structure, read_structure
from agent.isbt128.errors import BadCharacter, CompoundCountMismatch, UnexpectedStructure
from agent.isbt128.extent import require_length

__all__ = [
    "COMPOUND_HEADER_LENGTH",
    "STRUCTURE",
    "CompoundMessage",
    "parse_compound",
    "read_compound",
]

STRUCTURE = "compound message"
COMPOUND_HEADER_LENGTH = 7
_IDENTIFIER = "=+"


@dataclass(frozen=True, slots=True)
class CompoundMessage:
    """A compound message: ``structures`` in the order carried, ``sequence`` the RT017
    reference number (0 for an undefined sequence)."""

    structures: tuple[Structure, ...]
    sequence: int = 0

    def __post_init__(self) -> None:
        if not 1 <= len(self.structures) <= 99:
            count = len(self.structures)
            raise ValueError(f"a compound message carries 1-99 structures, got {count}")
        if not 0 <= self.sequence <= 999:
            raise ValueError(f"a compound message sequence number is 0-999, got {self.sequence}")

    def encode(self) -> str:
        header = f"{_IDENTIFIER}{len(self.structures):02d}{self.sequence:03d}"
        return header + "".join(structure.encode() for structure in self.structures)

    def __str__(self) -> str:
        return self.encode()


def read_compound(text: str, start: int) -> CompoundMessage:
    """Read the compound message that begins at ``text[start]`` and runs to the end of
    ``text`` (ST-001: the message is the whole data string)."""
    require_length(text, start, COMPOUND_HEADER_LENGTH, STRUCTURE)
    if text[start : start + 2] != _IDENTIFIER:
        raise BadCharacter(
            STRUCTURE, start, f"data identifier: expected '=+', found {text[start : start + 2]!r}"
        )
    declared = int(
        expect(text, start + 2, 2, DIGITS, structure=STRUCTURE, field="number of structures")
    )
    sequence = int(expect(text, start + 4, 3, DIGITS, structure=STRUCTURE, field="sequence number"))
    if declared == 0:
        raise CompoundCountMismatch(
            STRUCTURE, start + 2, "number of structures: expected 01-99, found 00"
        )
    structures: list[Structure] = []
    position = start + COMPOUND_HEADER_LENGTH
    while position < len(text):
        if len(structures) == declared:
            raise CompoundCountMismatch(
                STRUCTURE,
                position,
                f"the header declares {declared} data structures, found more after the"
                f" {_ordinal(declared)}",
            )
        if text.startswith(_IDENTIFIER, position):
            raise UnexpectedStructure(
                STRUCTURE, position, "a compound message cannot contain another compound message"
            )
        structure, position = read_structure(text, position)
        structures.append(structure)
    if len(structures) != declared:
        raise CompoundCountMismatch(
            STRUCTURE,
            position,
            f"the header declares {declared} data structures, found {len(structures)}",
        )
    return CompoundMessage(tuple(structures), sequence)


def parse_compound(text: str) -> CompoundMessage:
    """Parse one whole compound message text, ``=+03000=A99992600000700=%9500=<E0336V00``."""
    return read_compound(text, 0)


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
