"""``[wiring]``: the reference cabinet's wiring loads as written, and each way of mis-wiring a
profile is reported at its key with what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ProfileError, load_profile, parse_profile
from agent.config.wiring import Ds18b20Wiring, ScannerSuffix, Tmp117Wiring

PROFILE = Path(__file__).resolve().parent.parent / "config" / "cabinet-72-drivers.toml"
TEXT = PROFILE.read_text(encoding="utf-8")


def _problems(text: str) -> dict[str, str]:
    with pytest.raises(ProfileError) as raised:
        parse_profile(text, Path("rig.toml"))
    return {problem.key: str(problem) for problem in raised.value.problems}


def _edit(old: str, new: str) -> str:
    assert old in TEXT
    return TEXT.replace(old, new, 1)


def test_the_reference_wiring_loads() -> None:
    wiring = load_profile(PROFILE).wiring
    assert wiring is not None
    assert wiring.slots is not None
    assert wiring.slots.buses == (1, 3, 4, 5, 6)
    assert wiring.probes["air-top"] == Tmp117Wiring(bus=1, address=0x48)
    assert wiring.probes["product-top"] == Ds18b20Wiring(device_id="28-0316a2790001")
    assert wiring.doors["main"].lock_gpio == 21
    assert wiring.power.mains_gpio == 25
    assert wiring.scanner is not None
    assert wiring.scanner.suffix is ScannerSuffix.CR
    assert wiring.rfid is not None
    assert wiring.rfid.select_pins == (0, 1, 2, 3, 4, 5, 6)


def test_a_sim_profile_may_carry_wiring_and_loses_nothing_without_it() -> None:
    assert parse_profile(_edit('backend = "drivers"', 'backend = "sim"'), PROFILE).wiring
    without = TEXT[: TEXT.index("# Where every part")]
    assert parse_profile(without.replace('"drivers"', '"sim"', 1), PROFILE).wiring is None


@pytest.mark.parametrize(
    ("old", "new", "key", "expected"),
    [
        ("[wiring.slots]", "[wiring.slotz]", "wiring.slotz", "one of the keys of [wiring]"),
        ("lock_gpio = 21", "lock_gpio = 16", "wiring.doors.main.lock_gpio", "no other part"),
        ("lock_gpio = 21", "", "wiring.doors.main.lock_gpio", "the lock's coil pin"),
        ("lock_gpio = 21", "lock_gpio = 40", "wiring.doors.main.lock_gpio", "0 to 27"),
        (
            "tmp117_address = 0x49",
            "tmp117_address = 0x48",
            "wiring.probes.air-upper.tmp117_address",
            "no other chip on i2c-1",
        ),
        (
            "tmp117_address = 0x48",
            "tmp117_address = 0x40",
            "wiring.probes.air-top.tmp117_address",
            "0x48-0x4b",
        ),
        (
            'ds18b20 = "28-0316a2790001"',
            'ds18b20 = "28-0316a2790001"\ntmp117_bus = 1',
            "wiring.probes.product-top",
            "either tmp117_bus and tmp117_address, or ds18b20",
        ),
        ('ds18b20 = "28-0316a2790002"', 'ds18b20 = "10-0316a2790002"', None, "DS18B20"),
        ("[wiring.doors.main]", "[wiring.doors.back]", "wiring.doors.main", "wiring door"),
        ("buses = [1, 3, 4, 5, 6]", "buses = [1, 3]", "wiring.slots.buses", "at least 5 buses"),
        (
            "interrupt_gpio = [17, 27, 18, 19, 20]",
            "interrupt_gpio = [17]",
            "wiring.slots.interrupt_gpio",
            "one pin per bus",
        ),
        (
            "select_pins = [0, 1, 2, 3, 4, 5, 6]",
            "select_pins = [0, 1, 2]",
            "wiring.rfid.select_pins",
            "at least 7 select lines for 73 antennas",
        ),
        (
            "select_address = 0x27",
            "select_address = 0x20",
            "wiring.rfid.select_address",
            "no other chip on i2c-6",
        ),
        ('suffix = "cr"', 'suffix = "lf"', "wiring.scanner.suffix", '"cr", "crlf", "stx_etx"'),
        ("[wiring.badge_reader]", "[wiring.badge_readr]", "wiring.badge_reader", "port"),
    ],
)
def test_a_miswired_profile_is_reported_at_the_key(
    old: str, new: str, key: str | None, expected: str
) -> None:
    problems = _problems(_edit(old, new))
    if key is None:
        assert any(expected in text for text in problems.values()), problems
    else:
        assert key in problems, problems
        assert expected in problems[key]


def test_the_driver_backends_need_wiring() -> None:
    without = TEXT[: TEXT.index("# Where every part")]
    problems = _problems(without)
    assert problems == {
        "wiring": "wiring: expected a [wiring] section saying where each part is (backend"
        ' "drivers"), found nothing'
    }
