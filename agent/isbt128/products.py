"""The product table: what each Product Description Code means, from configuration.

The meaning of a product description code (``E0336``) comes from ICCBBA's licensed database,
so the agent ships none: the hospital provides a TOML product table with the codes it stocks::

    [products.E0336]
    name = "Red Blood Cells, leukocytes reduced"   # shown to people
    class = "red_cells"                            # which storage limits apply
    irradiated = false                             # optional, default false
    leukocytes_reduced = true                      # optional, default false

``class`` is one of :class:`ProductClass` - the names a profile's ``[storage] product_class``
uses. The loader reports every problem in the file at once as a
:class:`ProductTableError` (a :class:`~agent.config.errors.ProfileError`, so it reads like a
profile problem)::

    config/products.toml: products.E0336.class: expected one of "red_cells", "platelets",
    "plasma", "cryo", "whole_blood", found "blood"

Invariant kept: a :class:`ProductTable` only holds codes that are valid product description
codes, each with a non-empty name and a known class.
"""

from __future__ import annotations

import enum
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.config.errors import FILE_KEY, Problem, ProfileError
from agent.config.kinds import render
from agent.isbt128.product_code import ProductCode

__all__ = [
    "ProductClass",
    "ProductInfo",
    "ProductTable",
    "ProductTableError",
    "load_product_table",
    "parse_product_table",
]

_CODE = re.compile(r"[A-Z][A-Z0-9]{4}")
_FIELDS = ("name", "class", "irradiated", "leukocytes_reduced")


class ProductClass(enum.StrEnum):
    """What kind of blood product a code is: decides its storage and transport limits."""

    RED_CELLS = "red_cells"
    PLATELETS = "platelets"
    PLASMA = "plasma"
    CRYO = "cryo"
    WHOLE_BLOOD = "whole_blood"


_CLASSES = frozenset(member.value for member in ProductClass)


class ProductTableError(ProfileError):
    """A product table could not be loaded: ``problems`` lists everything wrong with
    ``source``, each naming the key, what was expected and what was found."""


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What the product table says about one product description code."""

    code: str
    name: str
    product_class: ProductClass
    irradiated: bool = False
    leukocytes_reduced: bool = False


@dataclass(frozen=True, slots=True)
class ProductTable(Mapping[str, ProductInfo]):
    """Product description code -> :class:`ProductInfo`, as loaded from ``source``."""

    source: Path
    products: Mapping[str, ProductInfo]

    def __getitem__(self, code: str) -> ProductInfo:
        return self.products[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.products)

    def __len__(self) -> int:
        return len(self.products)

    def lookup(self, product_code: ProductCode) -> ProductInfo | None:
        """The table's entry for a scanned product code, or ``None`` if it has none."""
        return self.products.get(product_code.description_code)


def load_product_table(path: Path) -> ProductTable:
    """Read and check the product table at ``path``; raises :class:`ProductTableError`."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise _file_error(path, "a readable product table file", "no such file") from None
    except UnicodeDecodeError as exc:
        found = f"a byte that is not UTF-8 at offset {exc.start}"
        raise _file_error(path, "a UTF-8 text file", found) from None
    except OSError as exc:
        found = exc.strerror or type(exc).__name__
        raise _file_error(path, "a readable product table file", found) from None
    return parse_product_table(text, path)


def parse_product_table(text: str, source: Path) -> ProductTable:
    """Parse and check product table ``text`` read from ``source`` (named in problems)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _file_error(source, "valid TOML", str(exc)) from None
    problems = [
        Problem(key, "only the key products at the top level", f"unknown key {json.dumps(key)}")
        for key in document
        if key != "products"
    ]
    raw_products = document.get("products")
    products: dict[str, ProductInfo] = {}
    if not isinstance(raw_products, dict) or not raw_products:
        found = "nothing" if raw_products is None else render(raw_products)
        problems.append(Problem("products", "a table of products by code", found))
    else:
        for code, entry in raw_products.items():
            info = _product(code, entry, problems)
            if info is not None:
                products[code] = info
    if problems:
        raise ProductTableError(source, tuple(problems))
    return ProductTable(source, products)


def _product(code: str, entry: object, problems: list[Problem]) -> ProductInfo | None:
    key = f"products.{code}"
    before = len(problems)
    if not _CODE.fullmatch(code):
        expected = "a product description code: a capital letter, then 4 capital letters or digits"
        problems.append(Problem(key, expected, f"the code {json.dumps(code)}"))
    if not isinstance(entry, dict):
        problems.append(Problem(key, "a table with name and class", render(entry)))
        return None
    for field in entry:
        if field not in _FIELDS:
            expected = "one of the keys of a product: " + ", ".join(_FIELDS)
            found = f"unknown key {json.dumps(field)}"
            problems.append(Problem(f"{key}.{field}", expected, found))
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        found = "nothing" if name is None else render(name)
        problems.append(Problem(f"{key}.name", "a non-empty string", found))
    raw_class = entry.get("class")
    classes = ", ".join(f'"{member}"' for member in ProductClass)
    if not isinstance(raw_class, str) or raw_class not in _CLASSES:
        found = "nothing" if raw_class is None else render(raw_class)
        problems.append(Problem(f"{key}.class", f"one of {classes}", found))
    flags: list[bool] = []
    for field in ("irradiated", "leukocytes_reduced"):
        value = entry.get(field, False)
        if not isinstance(value, bool):
            problems.append(Problem(f"{key}.{field}", "true or false", render(value)))
        flags.append(value is True)
    if len(problems) > before:
        return None
    assert isinstance(name, str)
    assert isinstance(raw_class, str)
    return ProductInfo(code, name, ProductClass(raw_class), flags[0], flags[1])


def _file_error(source: Path, expected: str, found: str) -> ProductTableError:
    return ProductTableError(source, (Problem(FILE_KEY, expected, found),))
