"""Blood Groups [ABO and RhD] (ST-001 data structure 002): ``=%ggre``.

``gg`` is looked up in ST-001 Table 4 (RT005: ABO/RhD group and the intended use of the
collection) or Table 5 (RT006: special messages such as ``Md`` discard). A code in neither
table is refused with :class:`~agent.isbt128.errors.UnknownCode`: a blood group the cabinet
cannot read must never be guessed. ``r`` (Rh, Kell and Mia/Mur phenotypes, Table 6) is any of
``0-9``, ``A-Z`` and ``e`` is reserved (ST-001 says it is always ``0``; any ``A-Z``/``0-9`` is
accepted so that a future use does not make labels unreadable); both are kept verbatim.

Invariant kept: :attr:`BloodGroup.abo` and :attr:`BloodGroup.rhd` are set only when the code
states them. Bombay and para-Bombay phenotypes have ``abo=None`` - they are not group O for
compatibility - and pooled or unstated RhD has ``rhd=None``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from agent.isbt128.charsets import ALPHANUMERIC, ALPHANUMERIC_MIXED_CASE, expect
from agent.isbt128.errors import BadCharacter, UnknownCode
from agent.isbt128.extent import require_end, require_length

__all__ = [
    "BLOOD_GROUP_LENGTH",
    "GROUP_CODES",
    "STRUCTURE",
    "Abo",
    "BloodGroup",
    "GroupCode",
    "IntendedUse",
    "RhD",
    "parse_blood_group",
    "read_blood_group",
]

STRUCTURE = "blood group"
BLOOD_GROUP_LENGTH = 6
_IDENTIFIER = "=%"


class Abo(enum.StrEnum):
    O = "O"  # noqa: E741 - the name of the blood group
    A = "A"
    B = "B"
    AB = "AB"


class RhD(enum.StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class IntendedUse(enum.StrEnum):
    """The columns of ST-001 Table 4: the type of collection coded with the blood group."""

    NOT_SPECIFIED = "not_specified"
    DIRECTED = "directed"
    EMERGENCY = "emergency"
    DIRECTED_BIOHAZARDOUS = "directed_biohazardous"
    DIRECTED_CROSSOVER = "directed_crossover"
    AUTOLOGOUS_CROSSOVER = "autologous_crossover"
    AUTOLOGOUS_ONLY = "autologous_only"
    AUTOLOGOUS_BIOHAZARDOUS = "autologous_biohazardous"


@dataclass(frozen=True, slots=True)
class GroupCode:
    """What one ``gg`` code means: ABO and RhD where stated, the group in words (or the
    special message), the intended use, and whether it is a Table 5 special message."""

    abo: Abo | None
    rhd: RhD | None
    meaning: str
    intended_use: IntendedUse = IntendedUse.NOT_SPECIFIED
    special_message: bool = False


_USE_COLUMNS = tuple(IntendedUse)
_POS, _NEG = RhD.POSITIVE, RhD.NEGATIVE

# ST-001 Table 4 (RT005): one row per group, its codes in the order of the IntendedUse columns.
_TABLE_4: tuple[tuple[Abo | None, RhD | None, str, str], ...] = (
    (Abo.O, _NEG, "O RhD negative", "95 91 92 93 94 96 97 98"),
    (Abo.O, _POS, "O RhD positive", "51 47 48 49 50 52 53 54"),
    (Abo.A, _NEG, "A RhD negative", "06 02 03 04 05 07 08 09"),
    (Abo.A, _POS, "A RhD positive", "62 58 59 60 61 63 64 65"),
    (Abo.B, _NEG, "B RhD negative", "17 13 14 15 16 18 19 20"),
    (Abo.B, _POS, "B RhD positive", "73 69 70 71 72 74 75 76"),
    (Abo.AB, _NEG, "AB RhD negative", "28 24 25 26 27 29 30 31"),
    (Abo.AB, _POS, "AB RhD positive", "84 80 81 82 83 85 86 87"),
    (Abo.O, None, "O (RhD not stated)", "55 P2 P3 P4 P5 P7 P8 P9"),
    (Abo.A, None, "A (RhD not stated)", "66 A2 A3 A4 A5 A7 A8 A9"),
    (Abo.B, None, "B (RhD not stated)", "77 B2 B3 B4 B5 B7 B8 B9"),
    (Abo.AB, None, "AB (RhD not stated)", "88 C2 C3 C4 C5 C7 C8 C9"),
    (None, _NEG, "para-Bombay, RhD negative", "D6 D2 D3 D4 D5 D7 D8 D9"),
    (None, _POS, "para-Bombay, RhD positive", "E6 E2 E3 E4 E5 E7 E8 E9"),
    (None, _NEG, "Bombay, RhD negative", "G6 G2 G3 G4 G5 G7 G8 G9"),
    (None, _POS, "Bombay, RhD positive", "H6 H2 H3 H4 H5 H7 H8 H9"),
    (None, _NEG, "O para-Bombay, RhD negative", "I6 I2 I3 I4 I5 I7 I8 I9"),
    (None, _POS, "O para-Bombay, RhD positive", "J6 J2 J3 J4 J5 J7 J8 J9"),
    (None, _NEG, "A para-Bombay, RhD negative", "K6 K2 K3 K4 K5 K7 K8 K9"),
    (None, _NEG, "B para-Bombay, RhD negative", "L6 L2 L3 L4 L5 L7 L8 L9"),
    (None, _NEG, "AB para-Bombay, RhD negative", "M6 M2 M3 M4 M5 M7 M8 M9"),
    (None, _POS, "A para-Bombay, RhD positive", "N6 N2 N3 N4 N5 N7 N8 N9"),
    (None, _POS, "B para-Bombay, RhD positive", "O6 O2 O3 O4 O5 O7 O8 O9"),
    (None, _POS, "AB para-Bombay, RhD positive", "Q6 Q2 Q3 Q4 Q5 Q7 Q8 Q9"),
    (Abo.A, None, "group A, pooled RhD", "A0"),
    (Abo.B, None, "group B, pooled RhD", "B0"),
    (Abo.AB, None, "group AB, pooled RhD", "C0"),
    (Abo.O, None, "group O, pooled RhD", "D0"),
    (None, _POS, "pooled ABO, RhD positive", "E0"),
    (None, _NEG, "pooled ABO, RhD negative", "F0"),
    (None, None, "pooled ABO, pooled RhD", "G0"),
    (None, None, "pooled ABO (RhD not specified)", "H0"),
    (Abo.A, None, "A1", "I0"),
    (Abo.A, None, "A2", "J0"),
    (Abo.AB, None, "A1B", "K0"),
    (Abo.AB, None, "A2B", "L0"),
)

# ST-001 Table 5 (RT006): special messages instead of a blood group. T1-T6 are for tissues.
_TABLE_5: tuple[tuple[str, RhD | None, str], ...] = (
    ("00", None, "no ABO or RhD information is available"),
    ("Ma", None, "autologous collection"),
    ("Mb", None, "biohazardous"),
    ("Md", None, "discard (to be destroyed)"),
    ("Mf", None, "for fractionation use only"),
    ("Mq", None, "quarantine/hold for further testing or processing"),
    ("Mr", None, "for research use only"),
    ("Mx", None, "not for transfusion based on test results"),
    ("T1", _POS, "ABO not specified, RhD positive"),
    ("T2", _NEG, "ABO not specified, RhD negative"),
    ("T3", None, "ABO not specified, RhD not specified"),
    ("T4", None, "autologous collection/in quarantine"),
    ("T5", None, "see outer packaging for product status"),
    ("T6", None, "must be sterilized before release"),
)


def _build_codes() -> dict[str, GroupCode]:
    codes: dict[str, GroupCode] = {}
    for abo, rhd, meaning, row in _TABLE_4:
        for use, code in zip(_USE_COLUMNS, row.split(), strict=False):
            codes[code] = GroupCode(abo, rhd, meaning, use)
    for code, rhd, meaning in _TABLE_5:
        codes[code] = GroupCode(None, rhd, meaning, special_message=True)
    return codes


GROUP_CODES: dict[str, GroupCode] = _build_codes()
"""Every ``gg`` code of ST-001 Tables 4 and 5 and what it means."""


@dataclass(frozen=True, slots=True)
class BloodGroup:
    """A blood group structure: ``group`` is ``gg``, ``phenotypes`` is ``r``, ``reserved``
    is ``e``. ``=%5100`` is O RhD positive with no phenotype information."""

    group: str
    phenotypes: str = "0"
    reserved: str = "0"

    def __post_init__(self) -> None:
        if self.group not in GROUP_CODES:
            raise ValueError(f"{self.group!r} is not an ABO/RhD code of ST-001 Table 4 or 5")
        if len(self.phenotypes) != 1 or self.phenotypes not in ALPHANUMERIC:
            raise ValueError(f"the phenotype character is 0-9 or A-Z, got {self.phenotypes!r}")
        if len(self.reserved) != 1 or self.reserved not in ALPHANUMERIC:
            raise ValueError(f"the reserved character is 0-9 or A-Z, got {self.reserved!r}")

    @property
    def meaning(self) -> GroupCode:
        return GROUP_CODES[self.group]

    @property
    def abo(self) -> Abo | None:
        return self.meaning.abo

    @property
    def rhd(self) -> RhD | None:
        return self.meaning.rhd

    def encode(self) -> str:
        return f"{_IDENTIFIER}{self.group}{self.phenotypes}{self.reserved}"

    def __str__(self) -> str:
        return self.encode()


def read_blood_group(text: str, start: int) -> BloodGroup:
    """Read the blood group bar code text that begins at ``text[start]`` (its ``=%``)."""
    require_length(text, start, BLOOD_GROUP_LENGTH, STRUCTURE)
    if text[start : start + 2] != _IDENTIFIER:
        raise BadCharacter(
            STRUCTURE,
            start,
            f"data identifier: expected '=%', found {text[start : start + 2]!r}",
        )
    group = expect(
        text, start + 2, 2, ALPHANUMERIC_MIXED_CASE, structure=STRUCTURE, field="ABO/RhD code"
    )
    if group not in GROUP_CODES:
        raise UnknownCode(
            STRUCTURE,
            start + 2,
            f"ABO/RhD code: expected a code of ST-001 Table 4 or 5, found {group!r}",
        )
    phenotypes = expect(
        text, start + 4, 1, ALPHANUMERIC, structure=STRUCTURE, field="phenotype character"
    )
    reserved = expect(
        text, start + 5, 1, ALPHANUMERIC, structure=STRUCTURE, field="reserved character"
    )
    return BloodGroup(group, phenotypes, reserved)


def parse_blood_group(text: str) -> BloodGroup:
    """Parse one whole blood group bar code text, ``=%9500``."""
    group = read_blood_group(text, 0)
    require_end(text, BLOOD_GROUP_LENGTH, STRUCTURE)
    return group
