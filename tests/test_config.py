"""The device-profile loader: shipped profiles load, and every kind of mistake is reported
with its key, what was expected and what was found - all of them at once."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import (
    DeviceKind,
    PassiveBoxPhysics,
    ProbeKind,
    Problem,
    Profile,
    ProfileError,
    RefrigeratorPhysics,
    SimPowerConfig,
    load_profile,
    parse_profile,
    sections,
    wiring,
)
from agent.config.dispensing import DISPENSING
from agent.config.errors import FILE_KEY
from agent.config.fields import Table
from agent.config.loader import validate_document

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SHIPPED = sorted(CONFIG_DIR.glob("*.toml"))

# A small but complete cabinet: every section, every optional part.
CABINET = """\
schema = 1

[device]
id = "cab-test-1"
site = "test-bench"
kind = "cabinet"

[hardware]
backend = "sim"

[cabinet]
slots = 4
slot_release_s = 20.0

[[doors]]
name = "main"
locked = true

[rfid]
per_slot = true

[scanner]
name = "scanner"

[badge_reader]
name = "badge"

[[probes]]
name = "air-top"
kind = "air"
interval_s = 1.0

[[probes]]
name = "product-top"
kind = "product"
interval_s = 1.0

[storage]
product_class = "red_cells"
min_c = 2.0
max_c = 6.0

[power]
battery = true

[sync]
broker_url = "mqtts://broker.hospital.example:8883"
password_file = "secrets/broker.pw"
"""

# A fridge with no optional section at all.
FRIDGE = """\
schema = 1

[device]
id = "fridge-1"
site = "ward-3"
kind = "fridge"

[hardware]
backend = "sim"

[[doors]]
name = "door"
locked = true

[rfid]
antennas = ["upper", "lower"]

[[probes]]
name = "air"
kind = "air"
interval_s = 10

[storage]
product_class = "red_cells"
min_c = 2.0
max_c = 6.0

[power]
battery = false
"""


def edit(text: str, old: str, new: str) -> str:
    """``text`` with its first ``old`` replaced by ``new``; ``old`` must be there."""
    assert old in text, f"test bug: {old!r} not in the base profile"
    return text.replace(old, new, 1)


def problems(text: str, source: Path = Path("test.toml")) -> list[Problem]:
    """The problems reported for ``text``; fails the test if it loads."""
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, source)
    assert caught.value.source == source
    return list(caught.value.problems)


def problem_at(text: str, key: str) -> Problem:
    """The one problem reported at ``key`` for ``text``."""
    found = [p for p in problems(text) if p.key == key]
    assert len(found) == 1, f"expected one problem at {key}, got {problems(text)}"
    return found[0]


# --- the shipped profiles -----------------------------------------------------------------


def test_the_four_profiles_are_shipped() -> None:
    assert [path.name for path in SHIPPED] == [
        "cabinet-72-drivers.toml",
        "cabinet-72.toml",
        "fridge.toml",
        "transport.toml",
    ]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.source == path
    assert profile.backend in {"sim", "drivers"}
    assert (profile.wiring is not None) == (profile.backend == "drivers")
    assert profile.doors
    assert profile.probes
    assert profile.storage.min_c < profile.storage.max_c
    for probe in profile.probes:
        assert probe.plausible_min_c < profile.storage.min_c
        assert profile.storage.max_c < probe.plausible_max_c


def test_cabinet_72_has_the_reference_design() -> None:
    profile = load_profile(CONFIG_DIR / "cabinet-72.toml")
    assert profile.device.kind is DeviceKind.CABINET
    assert profile.slots == 72
    assert [(door.name, door.locked) for door in profile.doors] == [("main", True)]
    assert profile.rfid is not None
    assert profile.rfid.per_slot
    assert profile.rfid.antennas == (*(f"slot-{n}" for n in range(1, 73)), "station")
    assert profile.scanner == "scanner"
    assert profile.badge_reader == "badge"
    kinds = [probe.kind for probe in profile.probes]
    assert kinds.count(ProbeKind.AIR) == 4
    assert kinds.count(ProbeKind.PRODUCT) == 4
    assert {probe.interval_s for probe in profile.probes} == {1.0}
    assert (profile.storage.product_class, profile.storage.min_c, profile.storage.max_c) == (
        "red_cells",
        2.0,
        6.0,
    )
    assert profile.power.battery
    assert profile.sim.thermal == RefrigeratorPhysics()
    assert profile.sync is not None
    assert profile.sync.broker_url == "mqtt://127.0.0.1:1883"
    assert profile.sync.password_file == CONFIG_DIR / "secrets" / "broker-password"


def test_fridge_is_a_locked_fridge_read_by_two_antennas() -> None:
    profile = load_profile(CONFIG_DIR / "fridge.toml")
    assert profile.device.kind is DeviceKind.FRIDGE
    assert profile.slots == 0
    assert [(door.name, door.locked) for door in profile.doors] == [("door", True)]
    assert profile.rfid is not None
    assert not profile.rfid.per_slot
    assert profile.rfid.antennas == ("upper", "lower")
    assert profile.scanner is None
    assert profile.badge_reader == "badge"
    assert len(profile.probes) == 3
    assert isinstance(profile.sim.thermal, RefrigeratorPhysics)


def test_transport_is_a_battery_box_with_an_unlocked_lid() -> None:
    profile = load_profile(CONFIG_DIR / "transport.toml")
    assert profile.device.kind is DeviceKind.TRANSPORT
    assert profile.slots == 0
    assert [(door.name, door.locked) for door in profile.doors] == [("lid", False)]
    assert profile.rfid is not None
    assert profile.rfid.antennas == ("box",)
    assert profile.scanner == "scanner"
    assert [probe.kind for probe in profile.probes] == [ProbeKind.AIR, ProbeKind.PRODUCT]
    assert {probe.interval_s for probe in profile.probes} == {30.0}
    assert profile.power.battery
    assert isinstance(profile.sim.thermal, PassiveBoxPhysics)
    assert not profile.sim.power.on_mains


# --- what a valid file turns into -------------------------------------------------------


def test_a_minimal_file_gets_the_documented_defaults() -> None:
    profile = parse_profile(FRIDGE, Path("/etc/hemotrace/fridge.toml"))
    assert profile.device.description == ""
    assert profile.slots == 0
    assert profile.slot_release_s == 0.0
    assert profile.rfid is not None
    assert profile.rfid.name == "rfid"
    assert profile.scanner is None
    assert profile.badge_reader is None
    probe = profile.probes[0]
    assert (probe.plausible_min_c, probe.plausible_max_c) == (-60.0, 60.0)
    assert profile.power.low_battery_fraction == 0.2
    assert profile.sync is None
    assert profile.sim.thermal == RefrigeratorPhysics()
    assert profile.sim.power == SimPowerConfig()
    assert (profile.sim.probe_noise_c, profile.sim.seed) == (0.02, 1)


def test_an_integer_is_accepted_where_a_number_of_seconds_is_expected() -> None:
    profile = parse_profile(FRIDGE, Path("fridge.toml"))
    assert profile.probes[0].interval_s == 10.0
    assert isinstance(profile.probes[0].interval_s, float)


def test_a_cabinet_gets_one_antenna_per_slot() -> None:
    profile = parse_profile(CABINET, Path("cabinet.toml"))
    assert profile.slots == 4
    assert profile.slot_release_s == 20.0
    assert profile.rfid is not None
    assert profile.rfid.antennas == ("slot-1", "slot-2", "slot-3", "slot-4", "station")


def test_relative_secret_paths_point_into_the_profiles_directory() -> None:
    text = edit(CABINET, 'password_file = "secrets/broker.pw"', 'password_file = "broker.pw"\n'
                'ca_file = "/etc/ssl/hospital-ca.pem"')  # fmt: skip
    profile = parse_profile(text, Path("/etc/hemotrace/cab.toml"))
    assert profile.sync is not None
    assert profile.sync.password_file == Path("/etc/hemotrace/broker.pw")
    assert profile.sync.ca_file == Path("/etc/ssl/hospital-ca.pem")
    assert profile.sync.key_file is None


def test_without_sim_a_transport_box_is_a_passive_box_off_mains() -> None:
    text = edit(FRIDGE, 'kind = "fridge"', 'kind = "transport"')
    profile = parse_profile(text, Path("box.toml"))
    assert profile.sim.thermal == PassiveBoxPhysics()
    assert not profile.sim.power.on_mains


def test_sim_values_override_the_schema_defaults_and_others_keep_them() -> None:
    text = FRIDGE + "[sim]\nseed = 7\n[sim.thermal]\nsetpoint_c = 5\n[sim.power]\nload_w = 2\n"
    profile = parse_profile(text, Path("fridge.toml"))
    assert profile.sim.seed == 7
    assert profile.sim.thermal == RefrigeratorPhysics(setpoint_c=5.0)
    assert profile.sim.power == SimPowerConfig(load_w=2.0)


# --- the file itself ------------------------------------------------------------------------


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.problems == (Problem(FILE_KEY, "a readable profile file", "no such file"),)
    assert (
        str(caught.value) == f"{path}: (file): expected a readable profile file, found no such file"
    )


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path)  # a directory cannot be read as a file
    (problem,) = caught.value.problems
    assert problem.key == FILE_KEY
    assert problem.expected == "a readable profile file"
    assert "directory" in problem.found.lower()


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(FRIDGE.replace("ward-3", "Salle \xe9").encode("latin-1"))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    (problem,) = caught.value.problems
    assert (problem.key, problem.expected) == (FILE_KEY, "a UTF-8 text file")
    assert "offset" in problem.found


def test_a_toml_syntax_error_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("schema = 1\n[device\nid = 'x'\n", encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    (problem,) = caught.value.problems
    assert (problem.key, problem.expected) == (FILE_KEY, "valid TOML")
    assert "line 2, column" in problem.found
    assert str(caught.value).startswith(f"{path}: (file): expected valid TOML, found ")


# --- one test per kind of mistake -------------------------------------------------------------


def test_the_error_message_names_the_file_key_expected_and_found(tmp_path: Path) -> None:
    path = tmp_path / "cabinet-72.toml"
    path.write_text(edit(CABINET, "interval_s = 1.0", "interval_s = -1"), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == (
        f"{path}: probes[0].interval_s: expected a number of seconds > 0, found -1"
    )


def test_a_wrong_type_is_reported() -> None:
    problem = problem_at(edit(CABINET, "locked = true", 'locked = "yes"'), "doors[0].locked")
    assert (problem.expected, problem.found) == ("true or false", '"yes"')


def test_a_section_of_the_wrong_type_is_reported() -> None:
    text = edit(
        edit(FRIDGE, "[power]\nbattery = false", ""), "schema = 1", 'schema = 1\npower = "mains"'
    )
    problem = problem_at(text, "power")
    assert (problem.expected, problem.found) == ("a table [power]", '"mains"')


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("interval_s = 1.0", "interval_s = true", "probes[0].interval_s"),
        ("slots = 4", "slots = true", "cabinet.slots"),
        ("min_c = 2.0", "min_c = false", "storage.min_c"),
    ],
)
def test_a_boolean_is_not_a_number(old: str, new: str, key: str) -> None:
    problem = problem_at(edit(CABINET, old, new), key)
    assert problem.found == new.split(" = ")[1]


def test_a_float_is_not_an_integer() -> None:
    problem = problem_at(edit(CABINET, "slots = 4", "slots = 4.0"), "cabinet.slots")
    assert (problem.expected, problem.found) == ("an integer from 1 to 144", "4.0")


def test_a_missing_key_is_reported() -> None:
    problem = problem_at(edit(CABINET, 'site = "test-bench"\n', ""), "device.site")
    assert problem.expected.startswith("a site id: 1-64 letters")
    assert problem.found == "nothing"


def test_a_missing_section_is_reported() -> None:
    text = edit(FRIDGE, '[storage]\nproduct_class = "red_cells"\nmin_c = 2.0\nmax_c = 6.0\n', "")
    problem = problem_at(text, "storage")
    assert (problem.expected, problem.found) == ("a table [storage]", "nothing")


def test_no_probes_is_reported() -> None:
    text = edit(FRIDGE, '[[probes]]\nname = "air"\nkind = "air"\ninterval_s = 10\n', "")
    problem = problem_at(text, "probes")
    assert (problem.expected, problem.found) == ("at least one [[probes]] table", "nothing")


def test_an_unknown_key_is_reported_with_the_allowed_keys() -> None:
    text = edit(CABINET, "interval_s = 1.0", "intervall_s = 1.0")
    problem = problem_at(text, "probes[0].intervall_s")
    assert problem.expected == (
        "one of the keys of [[probes]]: name, kind, interval_s, plausible_min_c, plausible_max_c"
    )
    assert problem.found == 'unknown key "intervall_s" (did you mean "interval_s"?)'
    # and the key it was meant to be is missing, which is reported too
    assert problem_at(text, "probes[0].interval_s").found == "nothing"


def test_an_unknown_section_is_reported() -> None:
    problem = problem_at(CABINET + "[gps]\nenabled = true\n", "gps")
    assert problem.found == 'unknown key "gps"'
    assert "device, hardware, cabinet" in problem.expected


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ("slots = 4", "slots = 145", "cabinet.slots", "an integer from 1 to 144"),
        ("slots = 4", "slots = 0", "cabinet.slots", "an integer from 1 to 144"),
        (
            "slot_release_s = 20.0",
            "slot_release_s = 0.5",
            "cabinet.slot_release_s",
            "a number of seconds from 1 to 120",
        ),
        (
            "interval_s = 1.0",
            "interval_s = 0",
            "probes[0].interval_s",
            "a number of seconds > 0",
        ),
        (
            "battery = true",
            "battery = true\nlow_battery_fraction = 1.5",
            "power.low_battery_fraction",
            "a fraction from 0 to 1",
        ),
        ("max_c = 6.0", "max_c = 150.0", "storage.max_c", "a temperature in °C from -100 to 100"),
        ("max_c = 6.0", "max_c = nan", "storage.max_c", "a temperature in °C from -100 to 100"),
        ("schema = 1", "schema = 2", "schema", "1 (the only profile format this agent reads)"),
    ],
)
def test_an_out_of_range_value_is_reported(old: str, new: str, key: str, expected: str) -> None:
    problem = problem_at(edit(CABINET, old, new), key)
    assert problem.expected == expected
    assert problem.found == new.rsplit(" = ", 1)[1]


def test_an_out_of_range_sim_value_is_reported() -> None:
    text = FRIDGE + "[sim.thermal]\nhysteresis_c = -1.0\n[sim.power]\ninitial_fraction = 2\n"
    assert problem_at(text, "sim.thermal.hysteresis_c").expected == "a number > 0"
    assert problem_at(text, "sim.power.initial_fraction").found == "2"


def test_an_enum_value_outside_the_set_lists_the_allowed_ones() -> None:
    problem = problem_at(edit(CABINET, 'kind = "cabinet"', 'kind = "freezer"'), "device.kind")
    assert problem.expected == 'one of "cabinet", "fridge", "transport"'
    assert problem.found == '"freezer"'
    problem = problem_at(edit(CABINET, 'kind = "air"', 'kind = "Air"'), "probes[0].kind")
    assert problem.expected == 'one of "air", "product"'


def test_a_duplicate_probe_name_is_reported() -> None:
    text = edit(CABINET, 'name = "product-top"', 'name = "air-top"')
    problem = problem_at(text, "probes[1].name")
    assert problem.expected == "a probe name not used by another probe"
    assert problem.found == '"air-top" (already used by probes[0])'


def test_a_duplicate_door_name_is_reported() -> None:
    text = edit(CABINET, "[rfid]", '[[doors]]\nname = "main"\nlocked = false\n\n[rfid]')
    problem = problem_at(text, "doors[1].name")
    assert problem.found == '"main" (already used by doors[0])'


def test_a_duplicate_antenna_name_is_reported() -> None:
    text = edit(FRIDGE, '["upper", "lower"]', '["upper", "lower", "upper"]')
    problem = problem_at(text, "rfid.antennas[2]")
    assert problem.found == '"upper" (already rfid.antennas[0])'


def test_a_device_id_with_forbidden_characters_is_reported() -> None:
    problem = problem_at(edit(CABINET, 'id = "cab-test-1"', 'id = "cab/01 #2"'), "device.id")
    assert problem.expected == (
        "a device id: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )
    assert problem.found == '"cab/01 #2"'


def test_a_backend_name_must_be_a_lower_case_token() -> None:
    problem = problem_at(edit(CABINET, 'backend = "sim"', 'backend = "Sim Pi"'), "hardware.backend")
    assert problem.expected == "a name of lower-case letters, digits and '_'"


# --- rules across keys ------------------------------------------------------------------------


def test_plausible_min_must_be_below_plausible_max() -> None:
    text = edit(FRIDGE, "interval_s = 10", "interval_s = 10\nplausible_min_c = 70")
    problem = problem_at(text, "probes[0].plausible_min_c")
    assert problem.expected == "a temperature below plausible_max_c (60)"
    assert problem.found == "70.0"


def test_storage_min_must_be_below_storage_max() -> None:
    text = edit(FRIDGE, "max_c = 6.0", "max_c = 2.0")
    problem = problem_at(text, "storage.min_c")
    assert problem.expected == "a temperature below max_c (2)"


def test_a_cabinet_needs_a_cabinet_section() -> None:
    text = edit(CABINET, "[cabinet]\nslots = 4\nslot_release_s = 20.0\n", "")
    problem = problem_at(text, "cabinet")
    assert (problem.expected, problem.found) == (
        "a [cabinet] section with slots >= 1 on a cabinet",
        "nothing",
    )


@pytest.mark.parametrize("kind", ["fridge", "transport"])
def test_only_a_cabinet_has_slots(kind: str) -> None:
    text = edit(FRIDGE, 'kind = "fridge"', f'kind = "{kind}"') + "[cabinet]\nslots = 4\n"
    problem = problem_at(text, "cabinet")
    assert problem.expected == f"no [cabinet] section on a {kind} (only a cabinet has slots)"


def test_per_slot_antennas_only_on_a_cabinet() -> None:
    text = edit(FRIDGE, 'antennas = ["upper", "lower"]', "per_slot = true")
    problem = problem_at(text, "rfid.per_slot")
    assert (problem.expected, problem.found) == (
        "false on a fridge (only a cabinet has an antenna per slot)",
        "true",
    )


def test_per_slot_antennas_are_not_listed() -> None:
    text = edit(CABINET, "per_slot = true", 'per_slot = true\nantennas = ["a"]')
    assert problem_at(text, "rfid.antennas").found == '["a"]'


def test_named_antennas_must_be_listed() -> None:
    text = edit(FRIDGE, 'antennas = ["upper", "lower"]', 'name = "reader"')
    assert problem_at(text, "rfid.antennas").found == "nothing"
    text = edit(FRIDGE, 'antennas = ["upper", "lower"]', "antennas = []")
    problem = problem_at(text, "rfid.antennas")
    assert (problem.expected, problem.found) == (
        "a non-empty array of antenna names",
        "an empty array",
    )


@pytest.mark.parametrize(
    ("kind", "model", "wanted"),
    [
        ("cabinet", "passive_box", "refrigerator"),
        ("fridge", "passive_box", "refrigerator"),
        ("transport", "refrigerator", "passive_box"),
    ],
)
def test_the_thermal_model_must_fit_the_device(kind: str, model: str, wanted: str) -> None:
    text = edit(FRIDGE, 'kind = "fridge"', f'kind = "{kind}"')
    if kind == "cabinet":
        text += "[cabinet]\nslots = 2\n"
    text += f'[sim.thermal]\nmodel = "{model}"\n'
    problem = problem_at(text, "sim.thermal.model")
    assert (problem.expected, problem.found) == (f'"{wanted}" on a {kind}', f'"{model}"')


def test_an_unknown_thermal_model_is_reported() -> None:
    problem = problem_at(FRIDGE + '[sim.thermal]\nmodel = "peltier"\n', "sim.thermal.model")
    assert problem.expected == '"refrigerator" or "passive_box"'


def test_keys_of_the_other_thermal_model_are_unknown() -> None:
    problem = problem_at(FRIDGE + "[sim.thermal]\ncoolant_kj = 100\n", "sim.thermal.coolant_kj")
    assert problem.expected.startswith("one of the keys of [sim.thermal] (model refrigerator)")


def test_the_broker_must_be_mqtt() -> None:
    text = edit(CABINET, "mqtts://broker.hospital.example:8883", "https://broker.example")
    problem = problem_at(text, "sync.broker_url")
    assert problem.expected.startswith("an mqtt:// or mqtts:// URL with a host")
    assert problem.found == '"https://broker.example"'


# --- secrets ----------------------------------------------------------------------------------


_PW = 'password_file = "secrets/broker.pw"'


@pytest.mark.parametrize(
    ("old", "new", "key", "use"),
    [
        (_PW, 'password = "hunter2"', "sync.password", "password_file"),
        (_PW, 'private_key = "hunter2"', "sync.private_key", "key_file"),
        (_PW, 'token = "hunter2"', "sync.token", "password_file"),
        (
            "[hardware]",
            '[hardware]\napi_secret = "s3cr3t"',
            "hardware.api_secret",
            "api_secret_file",
        ),
        (
            "schema = 1",
            'schema = 1\nadmin_password = "pw99"',
            "admin_password",
            "admin_password_file",
        ),
        (
            "[power]",
            '[vendor.cloud]\nauth_token = "t0k"\n[power]',
            "vendor.cloud.auth_token",
            "auth_token_file",
        ),
    ],
)
def test_an_inline_secret_is_refused_and_never_shown(
    old: str, new: str, key: str, use: str
) -> None:
    text = edit(CABINET, old, new)
    problem = problem_at(text, key)
    assert problem.expected == f"secrets are referenced by path: use {use}"
    assert problem.found == "an inline secret"
    secret = new.split('"')[1]
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, Path("cab.toml"))
    assert secret not in str(caught.value)


def test_credentials_in_the_broker_url_are_refused_and_never_shown() -> None:
    text = edit(CABINET, "mqtts://broker", "mqtts://agent:hunter2@broker")
    problem = problem_at(text, "sync.broker_url")
    assert "use password_file" in problem.expected
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, Path("cab.toml"))
    assert "hunter2" not in str(caught.value)


# --- everything at once -----------------------------------------------------------------------

MANY_MISTAKES = """\
schema = 2
[device]
id = "cab 01"
kind = "cabinet"
sitee = "Theatre"
[hardware]
backend = "sim"
[cabinet]
slots = 200
[[doors]]
name = "main"
locked = "yes"
[[doors]]
name = "main"
locked = true
[rfid]
per_slot = true
[[probes]]
name = "air"
kind = "air"
interval_s = -1
[[probes]]
name = "core"
kind = "core"
interval_s = true
plausible_min_c = 10
plausible_max_c = 5
[storage]
product_class = "red_cells"
min_c = 6.0
max_c = 2.0
[power]
battery = true
low_battery_fraction = 1.5
[sync]
broker_url = "mqtt://broker.example"
password = "hunter2"
[sim.thermal]
model = "passive_box"
"""


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.toml"
    path.write_text(MANY_MISTAKES, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    reported = {(p.key, p.found) for p in caught.value.problems}
    assert reported == {
        ("sync.password", "an inline secret"),
        ("schema", "2"),
        ("device.id", '"cab 01"'),
        ("device.site", "nothing"),
        ("device.sitee", 'unknown key "sitee" (did you mean "site"?)'),
        ("cabinet.slots", "200"),
        ("doors[0].locked", '"yes"'),
        ("doors[1].name", '"main" (already used by doors[0])'),
        ("probes[0].interval_s", "-1"),
        ("probes[1].kind", '"core"'),
        ("probes[1].interval_s", "true"),
        ("probes[1].plausible_min_c", "10.0"),
        ("storage.min_c", "6.0"),
        ("power.low_battery_fraction", "1.5"),
        ("sim.thermal.model", '"passive_box"'),
    }
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_a_profile_error_survives_pickling() -> None:
    import pickle

    error = ProfileError(Path("x.toml"), (Problem("a", "b", "c"),))
    copy_ = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy_.source, copy_.problems, str(copy_)) == (error.source, error.problems, str(error))


# --- nothing but ProfileError, whatever the input -----------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
)
_KEYS = st.sampled_from(
    ["schema", "device", "kind", "name", "probes", "doors", "rfid", "sim", "thermal", "model"]
) | st.text(max_size=8)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=20,
)


def _outcome(document: Mapping[str, object]) -> Profile | ProfileError:
    outcome: Profile | ProfileError
    try:
        outcome = validate_document(document, Path("fuzz.toml"))
    except ProfileError as error:
        outcome = error
    if isinstance(outcome, ProfileError):
        assert outcome.problems
        assert all(p.expected and p.found for p in outcome.problems)
    return outcome


def _leaf_paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path to a value inside ``value`` (tables and arrays included)."""
    paths: list[tuple[object, ...]] = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _leaf_paths(item, (*path, index))
    return paths


_BASES = [tomllib.loads(CABINET), tomllib.loads(FRIDGE)]


@given(st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_arbitrary_documents_raise_only_profile_error(document: dict[str, object]) -> None:
    assert isinstance(_outcome(document), ProfileError)  # nothing random is a whole profile


@given(st.data())
@settings(max_examples=300)
def test_a_valid_profile_with_one_value_replaced_never_crashes(data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(_BASES)))
    path = data.draw(st.sampled_from(_leaf_paths(document)))
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = data.draw(_VALUES)
    _outcome(document)


@given(st.data())
def test_removing_any_required_key_is_reported_at_that_key(data: st.DataObject) -> None:
    document = copy.deepcopy(tomllib.loads(FRIDGE))
    required = [
        ("schema",),
        ("device", "id"),
        ("device", "site"),
        ("device", "kind"),
        ("hardware", "backend"),
        ("doors", 0, "name"),
        ("doors", 0, "locked"),
        ("probes", 0, "name"),
        ("probes", 0, "kind"),
        ("probes", 0, "interval_s"),
        ("storage", "product_class"),
        ("storage", "min_c"),
        ("storage", "max_c"),
        ("power", "battery"),
    ]
    path = data.draw(st.sampled_from(required))
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    outcome = _outcome(document)
    assert isinstance(outcome, ProfileError)
    key = ".".join(str(step) for step in path).replace(".0.", "[0].")
    assert any(p.key == key and p.found == "nothing" for p in outcome.problems)


@given(st.text(alphabet=st.sampled_from(list("[]=.\"'\n #abcdefkpr0123456789-_{},")), max_size=80))
def test_arbitrary_text_raises_only_profile_error(text: str) -> None:
    with pytest.raises(ProfileError):
        parse_profile(text, Path("fuzz.toml"))


def test_the_documentation_describes_every_key() -> None:
    docs = (CONFIG_DIR.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    specs = [value for value in vars(sections).values() if isinstance(value, Table)]
    specs.append(DISPENSING)
    specs += [value for value in vars(wiring).values() if isinstance(value, Table)]
    assert len(specs) >= 14
    written = ("`{}`", "`[{}]`", "`[[{}]]`", ".{}]`")  # a key, a section, a sub-table
    undocumented = {
        (spec.title, name)
        for spec in specs
        for name in spec.keys
        if not any(form.format(name) in docs for form in written)
    }
    assert not undocumented
