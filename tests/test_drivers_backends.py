"""The driver backends as the backend table builds them: ``drivers`` off a Raspberry Pi fails
at start-up with a typed error naming what is missing, and importing the backends, the
assembly and the platform loads nothing Pi-only."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from agent.clock import SystemClock
from agent.config import load_profile
from agent.runtime.backends import BACKENDS, BackendUnavailable, make_backend
from drivers.assembly import assemble
from drivers.platform import PiPlatform, PlatformUnavailable

CONFIG = Path(__file__).resolve().parent.parent / "config"


def test_the_table_has_both_driver_backends() -> None:
    assert {"sim", "drivers", "drivers_sim"} <= BACKENDS.keys()


def test_importing_the_driver_backends_loads_nothing_pi_only() -> None:
    code = (
        "import sys, agent.runtime.backends, drivers.assembly, drivers.platform;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('smbus2', 'RPi')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"


def test_the_drivers_backend_off_a_pi_names_what_is_missing() -> None:
    profile = load_profile(CONFIG / "cabinet-72-drivers.toml")

    with pytest.raises(BackendUnavailable) as raised:
        make_backend(profile, SystemClock())
    message = str(raised.value)
    assert message.startswith(f"{profile.source}: hardware.backend drivers: ")
    assert any(name in message for name in ("RPi.GPIO", "smbus2", "/dev/i2c-"))


def test_the_pi_platform_says_which_device_node_or_package_is_missing(tmp_path: Path) -> None:
    platform = PiPlatform(dev=tmp_path, w1_devices=tmp_path / "w1")
    with pytest.raises(PlatformUnavailable, match=r"smbus2|i2c-3 does not exist"):
        platform.i2c_bus(3)
    with pytest.raises(PlatformUnavailable, match="w1-gpio overlay"):
        platform.w1_devices()
    assert platform.serial_port("/dev/serial/by-id/x") == "/dev/serial/by-id/x"


def test_a_sim_profile_needs_no_wiring() -> None:
    profile = load_profile(CONFIG / "cabinet-72.toml")
    assert profile.wiring is None
    without_wiring = dataclasses.replace(profile, backend="drivers")
    with pytest.raises(ValueError, match=r"\[wiring\]"):
        assemble(without_wiring, PiPlatform())
