"""ISO/IEC 7064 Mod 37-2: the keyboard-entry check character K of ISBT 128.

K is printed beside the eye-readable DIN (and some other structures) so that a person typing
the number can be checked; it is never in the bar code. The pure system Mod 37-2 over the
alphabet ``0-9A-Z*`` catches every single-character substitution and every transposition of
two adjacent characters (ICCBBA ST-001, Appendix A). ICCBBA's public vectors:
``G123417654321`` gives ``A`` and ``A999917123456`` gives ``9``.
"""

from __future__ import annotations

__all__ = ["MOD37_ALPHABET", "iso7064_mod37_2", "mod37_2_value"]

MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
"""The 37 characters of Mod 37-2, in value order: ``0`` is 0, ``A`` is 10, ``*`` is 36."""

_VALUES = {char: value for value, char in enumerate(MOD37_ALPHABET)}


def mod37_2_value(data: str) -> int:
    """The check value (0-36) of ``data``: the index of its check character in the alphabet.

    Raises :class:`ValueError` if ``data`` holds a character outside ``0-9A-Z`` (``*`` is
    only ever a check character, never data).
    """
    total = 0
    for char in data:
        value = _VALUES.get(char)
        if value is None or char == "*":
            raise ValueError(f"{char!r} is not a Mod 37-2 data character (0-9, A-Z)")
        total = ((total + value) * 2) % 37
    return (38 - total) % 37


def iso7064_mod37_2(data: str) -> str:
    """The ISO/IEC 7064 Mod 37-2 check character of ``data`` (``"G123417654321"`` -> ``"A"``)."""
    return MOD37_ALPHABET[mod37_2_value(data)]
