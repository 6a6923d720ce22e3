"""The product table from configuration: the shipped example loads, and every problem in a
table is reported at once, naming the file, the key and what was expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config.errors import FILE_KEY, ProfileError
from agent.isbt128 import (
    ProductClass,
    ProductInfo,
    ProductTableError,
    load_product_table,
    parse_product_code,
    parse_product_table,
)

EXAMPLE = Path(__file__).parent.parent / "config" / "products" / "example.toml"
SOURCE = Path("config/products.toml")


def test_the_example_table_has_the_simulators_products() -> None:
    table = load_product_table(EXAMPLE)
    assert table.source == EXAMPLE
    assert table.lookup(parse_product_code("=<E0336V00")) == ProductInfo(
        "E0336",
        "Example red cells in additive solution, leukocytes reduced",
        ProductClass.RED_CELLS,
        leukocytes_reduced=True,
    )
    assert "E0332" in table
    assert {info.product_class for info in table.values()} == set(ProductClass)
    assert all("xample" in info.name for info in table.values())


def test_a_product_not_in_the_table_has_no_entry() -> None:
    table = parse_product_table('[products.E0336]\nname = "x"\nclass = "plasma"\n', SOURCE)
    assert table.lookup(parse_product_code("=<E9999V00")) is None
    assert len(table) == 1
    assert table["E0336"].product_class is ProductClass.PLASMA


def _problems(text: str) -> list[str]:
    with pytest.raises(ProductTableError) as raised:
        parse_product_table(text, SOURCE)
    assert isinstance(raised.value, ProfileError)
    lines = str(raised.value).splitlines()
    assert all(line.startswith(f"{SOURCE}: ") for line in lines)
    return [line.removeprefix(f"{SOURCE}: ") for line in lines]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "products: expected a table of products by code, found nothing"),
        ("products = 3", "products: expected a table of products by code, found 3"),
        (
            '[products.e0336]\nname = "x"\nclass = "cryo"',
            "products.e0336: expected a product description code: a capital letter, then 4"
            ' capital letters or digits, found the code "e0336"',
        ),
        (
            '[products.E0336]\nclass = "cryo"',
            "products.E0336.name: expected a non-empty string, found nothing",
        ),
        (
            '[products.E0336]\nname = " "\nclass = "cryo"',
            'products.E0336.name: expected a non-empty string, found " "',
        ),
        (
            '[products.E0336]\nname = "x"\nclass = "blood"',
            'products.E0336.class: expected one of "red_cells", "platelets", "plasma", "cryo",'
            ' "whole_blood", found "blood"',
        ),
        (
            '[products.E0336]\nname = "x"\nclass = "cryo"\nirradiated = "yes"',
            'products.E0336.irradiated: expected true or false, found "yes"',
        ),
        (
            '[products.E0336]\nname = "x"\nclass = "cryo"\nvolume = 3',
            "products.E0336.volume: expected one of the keys of a product: name, class,"
            ' irradiated, leukocytes_reduced, found unknown key "volume"',
        ),
        ("products.E0336 = 1", "products.E0336: expected a table with name and class, found 1"),
        (
            'version = 2\n[products.E0336]\nname = "x"\nclass = "cryo"',
            'version: expected only the key products at the top level, found unknown key "version"',
        ),
        ("[products", f"{FILE_KEY}: expected valid TOML, found "),
    ],
)
def test_each_problem_names_the_key_what_was_expected_and_found(text: str, problem: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    text = (
        '[products.E0336]\nname = "x"\nclass = "blood"\n'
        '[products.E0337]\nclass = ["red_cells"]\nleukocytes_reduced = 0\n'
    )
    problems = _problems(text)
    assert [problem.split(":")[0] for problem in problems] == [
        "products.E0336.class",
        "products.E0337.name",
        "products.E0337.class",
        "products.E0337.leukocytes_reduced",
    ]


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ProductTableError, match=re.escape(f"{missing}: (file): expected a")):
        load_product_table(missing)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ProductTableError, match="not UTF-8 at offset 0"):
        load_product_table(binary)
