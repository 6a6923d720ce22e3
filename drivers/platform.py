"""The buses of a Raspberry Pi, opened for the drivers: what the ``drivers`` backend runs on.

:class:`PiPlatform` is the real :class:`drivers.assembly.Platform`: ``smbus2.SMBus(n)`` for
``/dev/i2c-n``, the ``RPi.GPIO`` module (or rpi-lgpio's drop-in on a Pi 5), the kernel's
1-Wire devices under ``/sys/bus/w1/devices``, and serial ports by the path the profile gives.
Nothing Pi-only is imported when this module is: smbus2 and RPi.GPIO are imported on first
use, so the agent, its simulator and the tests run anywhere.

Invariant: a bus the profile needs that is missing - the package not installed, the device
node absent (I2C or an ``i2c<n>`` overlay not enabled, no ``w1-gpio`` overlay), not running
on a Pi - is :class:`PlatformUnavailable` at start-up, naming the package or device and how to
get it, never an obscure error at the first read. Serial ports are not checked: a USB reader
plugged in later is found by its driver's reopen retries.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, cast

from agent.hal.errors import PartNotResponding
from drivers.ds18b20 import W1_DEVICES
from drivers.gpio_api import GpioApi, load_rpi_gpio
from drivers.i2c_bus import SMBusLike

__all__ = ["PiPlatform", "PlatformUnavailable"]


class PlatformUnavailable(Exception):
    """A bus or package the profile's parts need is not there; says which and how to fix it."""


class _ClosableBus(SMBusLike, Protocol):
    def close(self) -> None: ...


class PiPlatform:
    """The Pi's own buses (see the module docstring)."""

    def __init__(self, *, dev: Path = Path("/dev"), w1_devices: Path = W1_DEVICES) -> None:
        self._dev = dev
        self._w1_devices = w1_devices
        self._buses: dict[int, _ClosableBus] = {}
        self._gpio: GpioApi | None = None

    def i2c_bus(self, number: int) -> SMBusLike:
        bus = self._buses.get(number)
        if bus is None:
            node = self._dev / f"i2c-{number}"
            try:
                smbus2 = importlib.import_module("smbus2")
            except ImportError as error:
                raise PlatformUnavailable(
                    f"the I2C parts need the smbus2 package (pip install smbus2): {error}"
                ) from error
            if not node.exists():
                raise PlatformUnavailable(
                    f"{node} does not exist: enable I2C (raspi-config) and the i2c{number}"
                    " overlay in /boot/firmware/config.txt (docs/hardware.md)"
                )
            try:
                bus = cast(_ClosableBus, smbus2.SMBus(number))
            except OSError as error:
                raise PlatformUnavailable(f"cannot open {node}: {error}") from error
            self._buses[number] = bus
        return bus

    def gpio(self) -> GpioApi:
        if self._gpio is None:
            try:
                self._gpio = load_rpi_gpio()
            except PartNotResponding as error:
                raise PlatformUnavailable(
                    f"the GPIO parts need RPi.GPIO on a Raspberry Pi (pip install RPi.GPIO, or"
                    f" rpi-lgpio on a Pi 5): {error.detail}"
                ) from error
        return self._gpio

    def w1_devices(self) -> Path:
        if not self._w1_devices.is_dir():
            raise PlatformUnavailable(
                f"{self._w1_devices} does not exist: enable the w1-gpio overlay"
                " (dtoverlay=w1-gpio,gpiopin=26 in /boot/firmware/config.txt)"
            )
        return self._w1_devices

    def serial_port(self, configured: str) -> str:
        return configured

    def close(self) -> None:
        for bus in self._buses.values():
            bus.close()
        self._buses.clear()
