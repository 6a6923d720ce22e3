"""The character sets ST-001 allows in data content, and the check that reports a stray one.

Each data structure's element table names the characters allowed at each place (``{A-N; P-Z;
1-9}`` for the first character of a DIN). :func:`expect` checks a run of characters against
one such set and raises :class:`~agent.isbt128.errors.BadCharacter` naming the first character
outside it, its position in the scanned text, and the set in the standard's own words.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from agent.isbt128.errors import BadCharacter

__all__ = [
    "ALPHANUMERIC",
    "ALPHANUMERIC_MIXED_CASE",
    "DIGITS",
    "DIN_FIRST",
    "DIN_FLAG",
    "FACILITY_ALNUM",
    "LOWER_OR_DIGIT",
    "UPPER",
    "CharSet",
    "expect",
]


@dataclass(frozen=True, slots=True)
class CharSet:
    """A set of allowed characters and how to say it to a person (``"a digit 0-9"``)."""

    description: str
    chars: frozenset[str]

    def __contains__(self, char: object) -> bool:
        return char in self.chars


def _set(description: str, chars: str) -> CharSet:
    return CharSet(description, frozenset(chars))


_UPPER_NO_O = "ABCDEFGHIJKLMNPQRSTUVWXYZ"
DIGITS = _set("a digit 0-9", string.digits)
UPPER = _set("a capital letter A-Z", string.ascii_uppercase)
ALPHANUMERIC = _set("a capital letter A-Z or a digit 0-9", string.ascii_uppercase + string.digits)
ALPHANUMERIC_MIXED_CASE = _set(
    "a letter A-Z, a-z or a digit 0-9", string.ascii_letters + string.digits
)
LOWER_OR_DIGIT = _set("a small letter a-z or a digit 0-9", string.ascii_lowercase + string.digits)
DIN_FIRST = _set("a capital letter A-N, P-Z or a digit 1-9", _UPPER_NO_O + "123456789")
FACILITY_ALNUM = _set("a capital letter A-N, P-Z or a digit 0-9", _UPPER_NO_O + string.digits)
DIN_FLAG = _set(
    "a digit 0-9 or a capital letter A-H, J-N, P, R-Y", "ABCDEFGHJKLMNPRSTUVWXY0123456789"
)


def expect(
    text: str, start: int, length: int, allowed: CharSet, *, structure: str, field: str
) -> str:
    """Return ``text[start:start + length]`` if every character is in ``allowed``.

    The caller has already made sure the text is long enough. Raises :class:`BadCharacter`
    naming ``structure``, ``field`` and the position of the first character not allowed.
    """
    chunk = text[start : start + length]
    for offset, char in enumerate(chunk):
        if char not in allowed:
            raise BadCharacter(
                structure,
                start + offset,
                f"{field}: expected {allowed.description}, found {char!r}",
            )
    return chunk
