"""Donation Identification Number (ST-001 data structure 001): ``=appppyynnnnnnff``.

The DIN is the unit's identity. Its 13-character code ``appppyynnnnnn`` is the Facility
Identification Number (``apppp``), the nominal year (``yy``) and the sequence number
(``nnnnnn``); the two flag characters ``ff`` are not part of it. (ST-001 writes the first
character as alpha; ``a`` stands for it here.) Invariant kept: a
:class:`Din` always holds a code ST-001 allows, so its check character can always be computed.

Characters, as ST-001 defines them:

- ``a`` (also the second data identifier character): ``A-N``, ``P-Z``, ``1-9`` - never ``0``
  or ``O``, so a DIN cannot be mistaken for another structure;
- ``pppp``: first two ``A-N``, ``P-Z``, ``0-9`` (numeric in current use), last two ``0-9``;
- ``yy`` and ``nnnnnn``: digits.

Flag characters (ST-001 Table 3, RT004), all accepted here:

- ``00``: no flag; ``01``-``19``: ICCBBA-defined process control (``14`` reserved);
- ``20``-``59``: defined locally by the facility, not to be interpreted elsewhere;
- ``60``-``96``: the Mod 37-2 check value of the code plus 60 - **checked**: a DIN whose flags
  in this range disagree with its code is refused with :class:`BadCheckCharacter`;
- ``97``-``99`` and two characters from ``0-9``, ``A-H``, ``J-N``, ``P``, ``R-Y``: reserved
  for future assignment; accepted (so a future label still reads) and reported as
  :attr:`FlagKind.RESERVED`.

The keyboard-entry form (what a person types from the eye-readable text) is the code followed
by its check character K, ``G123417654321A``; :func:`parse_keyboard_entry` checks K.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from agent.isbt128.charsets import DIGITS, DIN_FIRST, DIN_FLAG, FACILITY_ALNUM, CharSet, expect
from agent.isbt128.check_character import MOD37_ALPHABET, iso7064_mod37_2, mod37_2_value
from agent.isbt128.errors import BadCharacter, BadCheckCharacter, LabelError
from agent.isbt128.extent import require_end, require_length

__all__ = [
    "DIN_LENGTH",
    "STRUCTURE",
    "Din",
    "FlagKind",
    "parse_din",
    "parse_keyboard_entry",
    "read_din",
]

STRUCTURE = "DIN"
DIN_LENGTH = 16
"""Characters in the bar code text: ``=``, the 13-character code, two flag characters."""

_CODE_FIELDS: tuple[tuple[int, int, CharSet, str], ...] = (
    (0, 1, DIN_FIRST, "facility code"),
    (1, 2, FACILITY_ALNUM, "facility code"),
    (3, 2, DIGITS, "facility code"),
    (5, 2, DIGITS, "year"),
    (7, 6, DIGITS, "sequence number"),
)
_CHECK_FLAGS = range(60, 97)


class FlagKind(enum.StrEnum):
    """The kinds of DIN flag characters in ST-001 Table 3."""

    NOT_USED = "not_used"
    ICCBBA = "iccbba"
    LOCAL = "local"
    CHECK_CHARACTER = "check_character"
    RESERVED = "reserved"


@dataclass(frozen=True, slots=True)
class Din:
    """A Donation Identification Number with its flag characters.

    ``facility`` is the 5-character FIN (``"G1234"``), ``year`` the nominal year's last two
    digits (0-99), ``sequence`` the sequence number (0-999999), ``flags`` the two flag
    characters (``"00"`` when not used). Two bags of one donation share :attr:`code` and may
    differ in ``flags``: compare units by :attr:`code`.
    """

    facility: str
    year: int
    sequence: int
    flags: str = "00"

    def __post_init__(self) -> None:
        if not 0 <= self.year <= 99:
            raise ValueError(f"a DIN year is 0-99, got {self.year}")
        if not 0 <= self.sequence <= 999_999:
            raise ValueError(f"a DIN sequence number is 0-999999, got {self.sequence}")
        if len(self.facility) != 5:
            raise ValueError(f"a facility code has 5 characters, got {self.facility!r}")
        if len(self.flags) != 2:
            raise ValueError(f"DIN flags are 2 characters, got {self.flags!r}")
        try:
            _check_code(self.code, 0, STRUCTURE)
            _check_flags(self.encode(), 0)
        except LabelError as exc:
            raise ValueError(f"not a valid DIN {self.encode()!r}: {exc.detail}") from None

    @property
    def code(self) -> str:
        """The 13-character DIN ``appppyynnnnnn`` (no data identifier, no flags)."""
        return f"{self.facility}{self.year:02d}{self.sequence:06d}"

    @property
    def check_character(self) -> str:
        """The keyboard-entry check character K (ISO/IEC 7064 Mod 37-2 over :attr:`code`)."""
        return iso7064_mod37_2(self.code)

    @property
    def flag_kind(self) -> FlagKind:
        """What kind of flag characters :attr:`flags` are (ST-001 Table 3)."""
        if not self.flags.isdigit():
            return FlagKind.RESERVED
        value = int(self.flags)
        if value == 0:
            return FlagKind.NOT_USED
        if value <= 19:
            return FlagKind.RESERVED if value == 14 else FlagKind.ICCBBA
        if value <= 59:
            return FlagKind.LOCAL
        return FlagKind.CHECK_CHARACTER if value in _CHECK_FLAGS else FlagKind.RESERVED

    def encode(self) -> str:
        """The bar code text, ``=`` + code + flags: ``=G12341765432100``."""
        return f"={self.code}{self.flags}"

    def keyboard_entry(self) -> str:
        """What a person types: the code and its check character, ``G123417654321A``."""
        return self.code + self.check_character

    def eye_readable(self) -> str:
        """The text printed under the bar code, ``G1234 17 654321 00 A``: facility, year,
        sequence, flags, check character. On a label the flags are printed turned 90° and
        the check character boxed (ST-001 section 7.4.1); here they are plain words."""
        return (
            f"{self.facility} {self.year:02d} {self.sequence:06d} {self.flags}"
            f" {self.check_character}"
        )

    def __str__(self) -> str:
        return self.encode()


def read_din(text: str, start: int) -> Din:
    """Read the DIN bar code text that begins at ``text[start]`` (its ``=``).

    Errors name positions in ``text``, so a DIN inside a compound message is reported where
    it sits in the whole scan.
    """
    require_length(text, start, DIN_LENGTH, STRUCTURE)
    if text[start] != "=":
        raise BadCharacter(
            STRUCTURE, start, f"data identifier: expected '=', found {text[start]!r}"
        )
    code = _check_code(text, start + 1, STRUCTURE)
    flags = _check_flags(text, start)
    return Din(code[:5], int(code[5:7]), int(code[7:]), flags)


def parse_din(text: str) -> Din:
    """Parse one whole DIN bar code text, ``=G12341765432100``."""
    din = read_din(text, 0)
    require_end(text, DIN_LENGTH, STRUCTURE)
    return din


def parse_keyboard_entry(text: str) -> Din:
    """Parse a DIN typed by a person: the 13-character code then its check character K.

    Spaces between the groups of the eye-readable form are allowed (``G1234 17 654321 A``);
    positions in errors index ``text`` as typed. Flag characters are not part of a keyboard
    entry, so the result has flags ``"00"``. Raises :class:`BadCheckCharacter` if K is wrong.
    """
    structure = "DIN keyboard entry"
    where = [index for index, char in enumerate(text) if char != " "]
    compact = "".join(text[index] for index in where)
    if len(compact) != 14:
        position = where[14] if len(compact) > 14 else len(text)
        raise LabelError(
            structure,
            position,
            f"expected 13 characters and a check character, found {len(compact)} characters",
        )
    try:
        code = _check_code(compact, 0, structure)
    except BadCharacter as exc:
        raise BadCharacter(structure, where[exc.position or 0], exc.detail) from None
    expected = iso7064_mod37_2(code)
    if compact[13] != expected:
        raise BadCheckCharacter(
            f"{structure} check character",
            where[13],
            f"expected {expected!r}, found {compact[13]!r}",
        )
    return Din(code[:5], int(code[5:7]), int(code[7:]))


def _check_code(text: str, start: int, structure: str) -> str:
    for offset, length, allowed, field in _CODE_FIELDS:
        expect(text, start + offset, length, allowed, structure=structure, field=field)
    return text[start : start + 13]


def _check_flags(text: str, start: int) -> str:
    """Check the flags of the DIN bar code text at ``start``; flags 60-96 must carry the
    code's check value."""
    flags = expect(text, start + 14, 2, DIN_FLAG, structure=STRUCTURE, field="flag characters")
    if flags.isdigit() and int(flags) in _CHECK_FLAGS:
        code = text[start + 1 : start + 14]
        value = mod37_2_value(code)
        if int(flags) != 60 + value:
            raise BadCheckCharacter(
                f"{STRUCTURE} check character in flags",
                start + 14,
                f"expected {60 + value} (check character {MOD37_ALPHABET[value]!r}), found {flags}",
            )
    return flags
