"""ISBT 128 (ICCBBA ST-001) labels as a blood cabinet meets them: parse, check, encode.

Pure code, no I/O except :func:`load_product_table`. A scan's text goes in
(:func:`parse_scan`), typed data structures come out - :class:`Din`, :class:`BloodGroup`,
:class:`ProductCode`, :class:`ExpirationDateTime` / :class:`ExpirationDate`,
:class:`CompoundMessage`, :class:`OtherStructure` - or a :class:`LabelError` subclass that
says what is wrong and at which position. Every structure's ``encode()`` (and ``str()``) gives
its bar code text back. :class:`UnitLabel` assembles the four structures stock-in checks.
Product meanings come from a configured :class:`ProductTable`. ``docs/isbt128.md`` describes
the whole package.
"""

from __future__ import annotations

from agent.isbt128.blood_group import (
    GROUP_CODES,
    Abo,
    BloodGroup,
    GroupCode,
    IntendedUse,
    RhD,
    parse_blood_group,
)
from agent.isbt128.check_character import MOD37_ALPHABET, iso7064_mod37_2, mod37_2_value
from agent.isbt128.compound import CompoundMessage, parse_compound
from agent.isbt128.din import Din, FlagKind, parse_din, parse_keyboard_entry
from agent.isbt128.dispatch import Structure
from agent.isbt128.errors import (
    BadCharacter,
    BadCheckCharacter,
    BadDate,
    BadLength,
    CompoundCountMismatch,
    DuplicateStructure,
    LabelError,
    MissingStructure,
    UnexpectedStructure,
    UnknownCode,
    UnknownDataIdentifier,
)
from agent.isbt128.expiry import (
    ExpirationDate,
    ExpirationDateTime,
    parse_expiration_date,
    parse_expiration_date_time,
    parse_expiry,
)
from agent.isbt128.other import OTHER_STRUCTURES, OtherKind, OtherStructure
from agent.isbt128.product_code import COLLECTION_TYPES, ProductCode, parse_product_code
from agent.isbt128.products import (
    ProductClass,
    ProductInfo,
    ProductTable,
    ProductTableError,
    load_product_table,
    parse_product_table,
)
from agent.isbt128.scan import ScanItem, UnitLabel, encode_scan, flatten, parse_scan

__all__ = [
    "COLLECTION_TYPES",
    "GROUP_CODES",
    "MOD37_ALPHABET",
    "OTHER_STRUCTURES",
    "Abo",
    "BadCharacter",
    "BadCheckCharacter",
    "BadDate",
    "BadLength",
    "BloodGroup",
    "CompoundCountMismatch",
    "CompoundMessage",
    "Din",
    "DuplicateStructure",
    "ExpirationDate",
    "ExpirationDateTime",
    "FlagKind",
    "GroupCode",
    "IntendedUse",
    "LabelError",
    "MissingStructure",
    "OtherKind",
    "OtherStructure",
    "ProductClass",
    "ProductCode",
    "ProductInfo",
    "ProductTable",
    "ProductTableError",
    "RhD",
    "ScanItem",
    "Structure",
    "UnexpectedStructure",
    "UnitLabel",
    "UnknownCode",
    "UnknownDataIdentifier",
    "encode_scan",
    "flatten",
    "iso7064_mod37_2",
    "load_product_table",
    "mod37_2_value",
    "parse_blood_group",
    "parse_compound",
    "parse_din",
    "parse_expiration_date",
    "parse_expiration_date_time",
    "parse_expiry",
    "parse_keyboard_entry",
    "parse_product_code",
    "parse_product_table",
    "parse_scan",
]
