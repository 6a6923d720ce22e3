"""The simulated battery of a device: state of charge, mains, and the terminal voltage a power
monitor would read.

Pure model: no I/O, no clock. Whoever owns the virtual clock calls ``step(dt_s)``; the bench
cuts or restores mains by setting ``on_mains`` and injects a low battery with ``drain_to``.
Whether a device has a battery at all is the caller's business (``[power] battery``).
"""

from __future__ import annotations

import itertools

from agent.config.schema import SimPowerConfig

__all__ = ["CELLS_IN_SERIES", "BatteryModel"]

CELLS_IN_SERIES = 2
"""The modelled pack is 2S Li-ion: 6.0 V empty, about 7.5 V at half charge, 8.4 V full."""

_S_PER_H = 3600.0

_CELL_OPEN_CIRCUIT_V = (
    (0.00, 3.00),
    (0.05, 3.30),
    (0.10, 3.45),
    (0.20, 3.60),
    (0.50, 3.75),
    (0.80, 3.95),
    (1.00, 4.20),
)
"""(state of charge, volts) of one Li-ion cell at rest: a coarse, typical discharge curve,
steep when nearly empty, flat in the middle. Voltage is read off it by linear interpolation."""


class BatteryModel:
    """A battery charged from mains and drained by the device's load when mains is absent.

    Off mains the state of charge falls by ``load_w / battery_wh`` per hour; on mains the load
    runs from mains and the battery charges at ``charge_w / battery_wh`` per hour (constant
    current, no taper). Invariant: ``fraction`` is always within ``0..1``.
    """

    __slots__ = ("_charge_per_s", "_drain_per_s", "_fraction", "on_mains")

    def __init__(self, params: SimPowerConfig) -> None:
        if not params.battery_wh > 0.0:
            raise ValueError(f"battery_wh must be positive, got {params.battery_wh!r}")
        if not (params.load_w >= 0.0 and params.charge_w >= 0.0):
            raise ValueError(
                "load_w and charge_w must be non-negative, got "
                f"{params.load_w!r} and {params.charge_w!r}"
            )
        self._check_fraction(params.initial_fraction)
        self.on_mains: bool = params.on_mains
        """Whether mains is present; the bench clears it to cut the power."""
        self._fraction = params.initial_fraction
        self._drain_per_s = params.load_w / (params.battery_wh * _S_PER_H)
        self._charge_per_s = params.charge_w / (params.battery_wh * _S_PER_H)

    @property
    def fraction(self) -> float:
        """State of charge, 0 (empty) to 1 (full)."""
        return self._fraction

    @property
    def volts(self) -> float:
        """Open-circuit terminal voltage of the 2S pack at the present state of charge."""
        (soc_low, v_low), (soc_high, v_high) = next(
            segment
            for segment in itertools.pairwise(_CELL_OPEN_CIRCUIT_V)
            if self._fraction <= segment[1][0]
        )
        share = (self._fraction - soc_low) / (soc_high - soc_low)
        return CELLS_IN_SERIES * (v_low + share * (v_high - v_low))

    def step(self, dt_s: float) -> None:
        """Advance by ``dt_s`` seconds: charge on mains, drain off it, clamped to ``0..1``."""
        if not dt_s >= 0.0:  # also refuses NaN
            raise ValueError(f"dt_s must be a non-negative number of seconds, got {dt_s!r}")
        if self.on_mains:
            self._fraction = min(1.0, self._fraction + self._charge_per_s * dt_s)
        else:
            self._fraction = max(0.0, self._fraction - self._drain_per_s * dt_s)

    def drain_to(self, fraction: float) -> None:
        """Bench hook: set the state of charge, e.g. to inject a low battery."""
        self._check_fraction(fraction)
        self._fraction = fraction

    @staticmethod
    def _check_fraction(fraction: float) -> None:
        """Raise :class:`ValueError` unless ``fraction`` is within ``0..1``."""
        if not 0.0 <= fraction <= 1.0:  # also refuses NaN
            raise ValueError(f"a state of charge must be within 0..1, got {fraction!r}")
