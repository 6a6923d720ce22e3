"""The simulated battery drains, charges and reads like a 2S Li-ion pack.

Defaults: 20 Wh, 0.5 W load, 5 W charge - 2.5 % an hour off mains, 25 % an hour on it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.config.schema import SimPowerConfig
from hal_sim.battery import CELLS_IN_SERIES, BatteryModel

HOUR_S = 3600.0
POWER = SimPowerConfig()


def test_off_mains_it_drains_at_load_over_capacity_per_hour() -> None:
    battery = BatteryModel(POWER)
    battery.on_mains = False  # bench hook "cut the power"
    for _ in range(4 * 3600):
        battery.step(1.0)
    assert battery.fraction == pytest.approx(1.0 - 4 * POWER.load_w / POWER.battery_wh)  # 0.9


def test_on_mains_it_charges_at_charge_over_capacity_per_hour() -> None:
    battery = BatteryModel(replace(POWER, initial_fraction=0.25))
    battery.step(HOUR_S)
    assert battery.on_mains
    assert battery.fraction == pytest.approx(0.25 + POWER.charge_w / POWER.battery_wh)  # 0.5


def test_it_clamps_at_empty_and_full() -> None:
    battery = BatteryModel(replace(POWER, on_mains=False))
    battery.step(100 * HOUR_S)  # 40 h would empty it
    assert battery.fraction == 0.0
    assert battery.volts == pytest.approx(6.0)
    battery.on_mains = True
    battery.step(100 * HOUR_S)
    assert battery.fraction == 1.0
    assert battery.volts == pytest.approx(8.4)


def test_the_bench_can_inject_a_low_battery() -> None:
    battery = BatteryModel(POWER)
    battery.drain_to(0.05)
    assert battery.fraction == 0.05
    assert battery.volts == pytest.approx(CELLS_IN_SERIES * 3.30)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        battery.drain_to(1.5)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        battery.drain_to(math.nan)


def test_voltage_follows_a_li_ion_curve_for_two_cells() -> None:
    battery = BatteryModel(POWER)
    battery.drain_to(0.5)
    assert battery.volts == pytest.approx(7.5)  # 3.75 V a cell, mid-plateau
    battery.drain_to(0.15)
    assert battery.volts == pytest.approx(2 * (3.45 + 3.60) / 2)


@given(low=st.floats(0, 1), high=st.floats(0, 1))
def test_voltage_rises_with_charge_within_the_pack_limits(low: float, high: float) -> None:
    low, high = sorted((low, high))
    battery = BatteryModel(POWER)
    battery.drain_to(low)
    low_v = battery.volts
    battery.drain_to(high)
    assert 6.0 <= low_v <= battery.volts <= 8.4


@given(
    params=st.builds(
        SimPowerConfig,
        battery_wh=st.floats(0.1, 500),
        load_w=st.floats(0, 50),
        charge_w=st.floats(0, 100),
        initial_fraction=st.floats(0, 1),
        on_mains=st.booleans(),
    ),
    schedule=st.lists(st.tuples(st.booleans(), st.floats(0, 10 * HOUR_S)), max_size=50),
)
def test_charge_stays_between_empty_and_full_and_follows_the_rates(
    params: SimPowerConfig, schedule: list[tuple[bool, float]]
) -> None:
    battery = BatteryModel(params)
    expected = params.initial_fraction
    for on_mains, dt_s in schedule:
        battery.on_mains = on_mains
        battery.step(dt_s)
        watts = params.charge_w if on_mains else -params.load_w
        expected = min(1.0, max(0.0, expected + watts * dt_s / HOUR_S / params.battery_wh))
        assert 0.0 <= battery.fraction <= 1.0
        assert battery.fraction == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    "change",
    [
        {"battery_wh": 0.0},
        {"load_w": -1.0},
        {"charge_w": math.nan},
        {"initial_fraction": 1.1},
    ],
)
def test_it_refuses_impossible_parameters(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        BatteryModel(replace(POWER, **change))


@pytest.mark.parametrize("dt_s", [-1.0, math.nan])
def test_time_never_runs_backwards(dt_s: float) -> None:
    with pytest.raises(ValueError, match="dt_s"):
        BatteryModel(POWER).step(dt_s)
