"""Product Code (ST-001 data structure 003): ``=<aooootds``.

Only the structure is read here; what a product description code means comes from the
hospital's licensed ICCBBA table, loaded by :mod:`agent.isbt128.products`.

- ``aoooo``, the Product Description Code: ``a`` is ``A-Z`` (``E``/``F`` blood components,
  ``S`` cellular therapy, ``A``-``D`` national or local codes, ...), ``oooo`` is ``A-Z``/``0-9``.
- ``tds``: for ``a`` of ``M``, ``N``, ``R``, ``T``, ``V``, ``W`` a three-character division
  code (``000`` undivided). For every other ``a``, ``t`` is the type of collection and ``ds``
  the division code (``00`` undivided; ``99`` when a Product Divisions structure, ``=,``,
  carries the division). For the ``a`` values where ST-001 says ``t`` is the type of
  collection (``E``, ``F``, ``H``, ``S``, ``P``, ``X0``, ``YA``-``YZ``), ``t`` must be a code
  of ST-001 Table 7 (RT008) - ``V`` volunteer allogeneic, ``1`` autologous only, ...

Characters as ST-001 allows: ``t`` is ``A-Z``, ``a-z`` or ``0-9``; ``d`` is ``A-Z`` or
``0-9``; ``s`` is ``a-z`` or ``0-9``. Invariant kept: a :class:`ProductCode` always encodes to
text this module reads back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.isbt128.charsets import (
    ALPHANUMERIC,
    ALPHANUMERIC_MIXED_CASE,
    LOWER_OR_DIGIT,
    UPPER,
    expect,
)
from agent.isbt128.errors import BadCharacter, LabelError, UnknownCode
from agent.isbt128.extent import require_end, require_length

__all__ = [
    "COLLECTION_TYPES",
    "PRODUCT_CODE_LENGTH",
    "STRUCTURE",
    "ProductCode",
    "parse_product_code",
    "read_product_code",
]

STRUCTURE = "product code"
PRODUCT_CODE_LENGTH = 10
_IDENTIFIER = "=<"
_THREE_DIGIT_DIVISIONS = frozenset("MNRTVW")

COLLECTION_TYPES: dict[str, str] = {
    "0": "not specified",
    "V": "volunteer homologous (allogeneic)",
    "R": "volunteer research",
    "S": "volunteer source",
    "T": "volunteer therapeutic",
    "P": "paid homologous (allogeneic)",
    "r": "paid research",
    "s": "paid source",
    "A": "autologous, eligible for crossover",
    "1": "for autologous use only",
    "X": "for autologous use only, biohazard",
    "D": "volunteer directed, eligible for crossover",
    "d": "paid directed, eligible for crossover",
    "2": "for directed recipient use only",
    "L": "for directed recipient use only, limited exposure",
    "E": "medical exception, for specified recipient only (allogeneic)",
    "Q": "see (scan) the special testing bar code",
    "3": "for directed recipient use only, biohazard",
    "4": "designated",
    "5": "dedicated",
    "6": "designated, biohazard",
    "F": "family reserved",
    "C": "replacement",
    "7": "for allogeneic use",
    "8": "for autologous use, contains allogeneic material",
    "B": "directed/dedicated/designated collection use only",
    "H": "directed/dedicated/designated collection, biohazardous",
    "J": "directed/dedicated/designated collection, eligible for crossover",
    "G": "for emergency use only",
}
"""ST-001 Table 7 (RT008): the type of collection in the 6th character of the product code."""


def _collection_type_applies(description_code: str) -> bool:
    """Whether ST-001 says ``t`` is the type of collection for this product description code."""
    alpha = description_code[0]
    return (
        alpha in "EFHSP"
        or description_code.startswith("X0")
        or (alpha == "Y" and description_code[1].isalpha())
    )


@dataclass(frozen=True, slots=True)
class ProductCode:
    """A product code: ``description_code`` (``aoooo``, e.g. ``"E0336"``), ``collection``
    (``t``) and ``division`` (``ds``). ``=<E0336V00`` is ``E0336``, volunteer allogeneic,
    undivided."""

    description_code: str
    collection: str
    division: str

    def __post_init__(self) -> None:
        lengths = (len(self.description_code), len(self.collection), len(self.division))
        if lengths != (5, 1, 2):
            raise ValueError(
                "a product code is a 5-character description code, 1 collection character"
                f" and 2 division characters, got {self.encode()!r}"
            )
        try:
            _check(self.encode(), 0)
        except LabelError as exc:
            raise ValueError(f"not a valid product code {self.encode()!r}: {exc}") from None

    @property
    def three_digit_division(self) -> bool:
        """Whether ``tds`` is one three-character division code (``a`` of M, N, R, T, V, W)."""
        return self.description_code[0] in _THREE_DIGIT_DIVISIONS

    @property
    def collection_type(self) -> str | None:
        """The type of collection in words (ST-001 Table 7), or ``None`` where ``t`` is not
        a type of collection for this product."""
        if not _collection_type_applies(self.description_code):
            return None
        return COLLECTION_TYPES[self.collection]

    @property
    def divided(self) -> bool:
        """Whether the product is a division of a product (``00``/``000`` means undivided)."""
        if self.three_digit_division:
            return self.collection + self.division != "000"
        return self.division != "00"

    def encode(self) -> str:
        return f"{_IDENTIFIER}{self.description_code}{self.collection}{self.division}"

    def __str__(self) -> str:
        return self.encode()


def read_product_code(text: str, start: int) -> ProductCode:
    """Read the product code bar code text that begins at ``text[start]`` (its ``=<``)."""
    require_length(text, start, PRODUCT_CODE_LENGTH, STRUCTURE)
    _check(text, start)
    content = text[start + 2 : start + PRODUCT_CODE_LENGTH]
    return ProductCode(content[:5], content[5], content[6:])


def parse_product_code(text: str) -> ProductCode:
    """Parse one whole product code bar code text, ``=<E0336V00``."""
    code = read_product_code(text, 0)
    require_end(text, PRODUCT_CODE_LENGTH, STRUCTURE)
    return code


def _check(text: str, start: int) -> None:
    if text[start : start + 2] != _IDENTIFIER:
        raise BadCharacter(
            STRUCTURE,
            start,
            f"data identifier: expected '=<', found {text[start : start + 2]!r}",
        )
    expect(text, start + 2, 1, UPPER, structure=STRUCTURE, field="product description code")
    expect(text, start + 3, 4, ALPHANUMERIC, structure=STRUCTURE, field="product description code")
    description_code = text[start + 2 : start + 7]
    three_digit = description_code[0] in _THREE_DIGIT_DIVISIONS
    collection = expect(
        text,
        start + 7,
        1,
        ALPHANUMERIC_MIXED_CASE,
        structure=STRUCTURE,
        field="division code" if three_digit else "type of collection",
    )
    if _collection_type_applies(description_code) and collection not in COLLECTION_TYPES:
        raise UnknownCode(
            STRUCTURE,
            start + 7,
            f"type of collection: expected a code of ST-001 Table 7, found {collection!r}",
        )
    expect(text, start + 8, 1, ALPHANUMERIC, structure=STRUCTURE, field="division code")
    expect(text, start + 9, 1, LOWER_OR_DIGIT, structure=STRUCTURE, field="division code")
