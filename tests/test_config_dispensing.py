"""``[dispensing]``: the brief's defaults, the shipped cabinet's settings, and errors that name
the key and what was expected."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

from agent.config import load_profile, parse_profile
from agent.domain.blood import BloodGroup
from agent.domain.policy import ReturnRule
from tests.test_config import CABINET, CONFIG_DIR, FRIDGE, problem_at


def test_a_cabinet_without_the_section_gets_the_briefs_defaults_and_no_product_table() -> None:
    dispensing = parse_profile(CABINET, Path("cab.toml")).dispensing
    assert dispensing is not None
    assert dispensing.product_table is None
    policy = dispensing.policy(stored_product_class="red_cells", relock_after_s=20.0)
    assert policy.return_limit == dt.timedelta(minutes=30)
    assert policy.emergency_groups == frozenset({BloodGroup.O_NEG})
    assert policy.relock_after == 20.0
    assert policy.stored_product_classes == frozenset({"red_cells"})


def test_the_shipped_cabinet_names_its_product_table_relative_to_itself() -> None:
    profile = load_profile(CONFIG_DIR / "cabinet-72.toml")
    assert profile.dispensing is not None
    assert profile.dispensing.product_table == CONFIG_DIR / "products" / "example.toml"
    assert profile.dispensing.product_table.is_file()
    assert profile.dispensing.label_timezone == zoneinfo.ZoneInfo("UTC")


def test_settings_are_read() -> None:
    text = CABINET + (
        '\n[dispensing]\nreturn_limit_min = 60\nreturn_rule = "time"\n'
        'emergency_groups = ["O-", "O+"]\nemergency_second_person = true\n'
        'label_timezone = "Europe/Paris"\n'
    )
    dispensing = parse_profile(text, Path("cab.toml")).dispensing
    assert dispensing is not None
    assert dispensing.return_limit_min == 60.0
    assert dispensing.return_rule is ReturnRule.TIME
    assert dispensing.emergency_groups == frozenset({BloodGroup.O_NEG, BloodGroup.O_POS})
    assert dispensing.emergency_second_person
    assert dispensing.label_timezone == zoneinfo.ZoneInfo("Europe/Paris")


def test_an_unknown_blood_group_is_named_with_the_groups_expected() -> None:
    problem = problem_at(
        CABINET + '\n[dispensing]\nemergency_groups = ["O-", "0-"]\n',
        "dispensing.emergency_groups[1]",
    )
    assert '"O-"' in problem.expected
    assert '"AB+"' in problem.expected
    assert problem.found == '"0-"'


def test_an_unknown_time_zone_and_a_bad_limit_are_both_reported() -> None:
    text = CABINET + '\n[dispensing]\nlabel_timezone = "Mars/Olympus"\nreturn_limit_min = 0\n'
    assert "IANA time zone" in problem_at(text, "dispensing.label_timezone").expected
    assert problem_at(text, "dispensing.return_limit_min").found == "0"


def test_a_fridge_has_no_dispensing_section() -> None:
    problem = problem_at(FRIDGE + "\n[dispensing]\nreturn_limit_min = 30\n", "dispensing")
    assert problem.expected == "no [dispensing] on a fridge (cabinets only)"
