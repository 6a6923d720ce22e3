"""Thermal physics of the simulated devices: a refrigerated cabinet or fridge, and a passive
transport box kept cold by coolant packs.

The models are pure: no I/O, no clock, no asyncio. Whoever owns the virtual clock (the device
simulator) sets the inputs (ambient temperature, door or lid, mains) and calls ``step(dt_s)``.
Each step applies the closed-form solution of the model's linear equations, splitting the step
at every event inside it (a thermostat switching, coolant finishing or starting to melt), so a
step of any length is stable and 1-s and 60-s steps give nearly the same trajectory. The
equations, default parameters and measured behaviour are in ``docs/simulator.md`` ("Physics").
"""

from __future__ import annotations

import enum
import math
from typing import Protocol

from agent.config.schema import PassiveBoxPhysics, ProbeKind, Profile, RefrigeratorPhysics

__all__ = [
    "PassiveBoxModel",
    "RefrigeratorModel",
    "ThermalModel",
    "air_probe_offsets",
    "make_thermal_model",
]

AIR_PROBE_SPREAD_C = 0.6
"""Air probes read warmer near the top of a cabinet: the first air probe reads this much
above the mean, the last this much below, the others evenly in between."""

_S_PER_MIN = 60.0
_J_PER_KJ = 1000.0

_BOX_MAX_SUBSTEP_S = 60.0
"""The box advances in pieces of at most this long, so that a phase change of the coolant that
starts and reverses within one step is still seen (it is detected at piece ends)."""

_PHASE_HYSTERESIS_C = 1e-6
"""How far past its melting point (in coolant temperature) the coolant's heat must go before
it counts as spent or subcooled; far above rounding, far below anything measurable."""

_PHASE_CHANGE_RESOLUTION_S = 1e-6
"""A coolant phase change is located to within this. The piece that ends at a change is at
least half this long, so a step always finishes, whatever its length."""


class ThermalModel(Protocol):
    """What the device simulator needs from any thermal model: inputs it may set between steps,
    the temperatures it reads, and time advancing."""

    ambient_c: float
    """Temperature of the room or vehicle around the device; may change at any time."""

    door_open: bool
    """Whether the door (cabinet, fridge) or lid (transport box) is open."""

    @property
    def air_c(self) -> float:
        """Temperature an air probe reads (for a box: the contents around the units)."""
        ...

    @property
    def product_c(self) -> float:
        """Temperature a product-simulant probe reads; it lags ``air_c`` like a blood bag."""
        ...

    def air_probe_c(self, offset_c: float) -> float:
        """Reading of an air probe whose position makes it read ``offset_c`` off ``air_c``."""
        ...

    def step(self, dt_s: float) -> None:
        """Advance the physics by ``dt_s`` seconds with the current inputs."""
        ...


def make_thermal_model(params: RefrigeratorPhysics | PassiveBoxPhysics) -> ThermalModel:
    """The model that a profile's ``[sim.thermal]`` section describes."""
    if isinstance(params, RefrigeratorPhysics):
        return RefrigeratorModel(params)
    return PassiveBoxModel(params)


def _require_positive(**values: float) -> None:
    """Raise :class:`ValueError` naming the first parameter that is not a positive number."""
    for name, value in values.items():
        if not value > 0.0:  # also refuses NaN
            raise ValueError(f"{name} must be positive, got {value!r}")


def _require_duration(dt_s: float) -> None:
    """Raise :class:`ValueError` unless ``dt_s`` is a non-negative number of seconds."""
    if not dt_s >= 0.0:  # also refuses NaN
        raise ValueError(f"dt_s must be a non-negative number of seconds, got {dt_s!r}")


def _lag(lagging_c: float, start_c: float, end_c: float, h_s: float, tau_s: float) -> float:
    """Temperature of a first-order lag (time constant ``tau_s``) after ``h_s`` seconds, starting
    at ``lagging_c`` while what it follows moves linearly from ``start_c`` to ``end_c``.

    Exact for that linear input; for the smooth curves of these models the error over a 60-s
    piece is far below a hundredth of a degree. The result is a weighted mean of its inputs,
    so it never leaves their range, whatever ``h_s``.
    """
    if h_s <= 0.0:
        return lagging_c
    reached = -math.expm1(-h_s / tau_s)  # 1 - exp(-h/tau), accurate for small h/tau
    behind = reached * tau_s / h_s  # share of the ramp the lag has not caught up with, (0, 1]
    return end_c - (end_c - start_c) * behind + (lagging_c - start_c) * (1.0 - reached)


class RefrigeratorModel:
    """A refrigerated cabinet or fridge: air cooled by a thermostat-driven compressor, warmed by
    heat leaking in from ambient, and a product-simulant bottle lagging the air.

    Equations (``T`` air, ``P`` product simulant, ``Ta`` ambient, ``u`` 1 while the compressor
    runs)::

        dT/dt = (Ta - T) / tau - u * cooling      tau = ingress_tau (door shut) | door_open_tau
        dP/dt = (T - P) / product_tau

    The thermostat calls for cooling when the air reaches ``setpoint + hysteresis/2`` and stops
    calling when it reaches ``setpoint - hysteresis/2``; the compressor runs while the
    thermostat calls *and* mains is present. Thermostat switching is solved exactly inside a
    step, so the air never overshoots a threshold because of the step size.

    Invariant: with the door in any state and any ambient history, the air and the product stay
    between ``min(initial, lower threshold, lowest ambient)`` and
    ``max(initial, highest ambient)``.
    """

    __slots__ = (
        "_air_c",
        "_calling",
        "_closed_tau_s",
        "_cooling_c_per_s",
        "_lower_c",
        "_open_tau_s",
        "_product_c",
        "_product_tau_s",
        "_upper_c",
        "ambient_c",
        "door_open",
        "on_mains",
    )

    def __init__(self, params: RefrigeratorPhysics) -> None:
        _require_positive(
            hysteresis_c=params.hysteresis_c,
            cooling_c_per_min=params.cooling_c_per_min,
            ingress_tau_min=params.ingress_tau_min,
            door_open_tau_min=params.door_open_tau_min,
            product_tau_min=params.product_tau_min,
        )
        self.ambient_c: float = params.ambient_c
        """Room temperature; the bench may change it between steps."""
        self.door_open: bool = False
        self.on_mains: bool = True
        """Whether mains power is present; without it the compressor cannot run."""
        self._upper_c = params.setpoint_c + params.hysteresis_c / 2.0
        self._lower_c = params.setpoint_c - params.hysteresis_c / 2.0
        self._cooling_c_per_s = params.cooling_c_per_min / _S_PER_MIN
        self._closed_tau_s = params.ingress_tau_min * _S_PER_MIN
        self._open_tau_s = params.door_open_tau_min * _S_PER_MIN
        self._product_tau_s = params.product_tau_min * _S_PER_MIN
        self._air_c = params.initial_c
        self._product_c = params.initial_c
        self._calling = params.initial_c >= self._upper_c

    @property
    def air_c(self) -> float:
        """Air temperature in the cabinet, °C."""
        return self._air_c

    @property
    def product_c(self) -> float:
        """Product-simulant temperature, °C."""
        return self._product_c

    @property
    def compressor_on(self) -> bool:
        """Whether the compressor is running (the thermostat calls and mains is present)."""
        return self._calling and self.on_mains

    def air_probe_c(self, offset_c: float) -> float:
        """Reading of an air probe placed where the air is ``offset_c`` off the mean."""
        return self._air_c + offset_c

    def step(self, dt_s: float) -> None:
        """Advance by ``dt_s`` seconds, switching the thermostat exactly when the air crosses a
        threshold inside the step."""
        _require_duration(dt_s)
        tau_s = self._open_tau_s if self.door_open else self._closed_tau_s
        air = self._air_c
        product = self._product_c
        remaining = dt_s
        while remaining > 0.0:
            # With the compressor running the air relaxes towards a point below ambient.
            target = self.ambient_c
            if self._calling and self.on_mains:
                target -= self._cooling_c_per_s * tau_s
            piece = remaining
            end = target + (air - target) * math.exp(-piece / tau_s)
            threshold = self._lower_c if self._calling else self._upper_c
            if (end < threshold) if self._calling else (end > threshold):
                # Crossing inside the piece: the target lies beyond the threshold, so the log's
                # argument is at least 1.
                crossing = tau_s * math.log((air - target) / (threshold - target))
                piece = min(piece, crossing)
                end = threshold
                self._calling = not self._calling
            product = _lag(product, air, end, piece, self._product_tau_s)
            air = end
            remaining -= piece
        self._air_c = air
        self._product_c = product


class _Coolant(enum.Enum):
    """The phase of the coolant packs, which decides the equations that hold."""

    SUBCOOLED = "subcooled"  # frozen and colder than its melting point
    MELTING = "melting"  # holding its melting point
    SPENT = "spent"  # all melted and warming


class PassiveBoxModel:
    """An insulated transport box: the contents (units, air, inner walls) exchange heat with
    ambient through the walls and with coolant packs; a product-simulant probe lags the
    contents.

    State: the contents temperature ``Tc`` and the heat ``E`` the coolant has absorbed since it
    was fully frozen at its melting point (``E`` starts at 0). The coolant temperature follows
    from ``E``: it is the melting point while ``0 <= E <= L`` (``L`` = ``coolant_kj``, the
    latent heat), and beyond that it moves by ``1 / coolant_sensible`` per joule - warmer once
    the packs are spent, colder if a freezing ambient refreezes and subcools them. Equations
    (``U`` wall or lid-open conductance, ``K`` coolant coupling, ``C`` contents heat
    capacity)::

        C dTc/dt = U (Ta - Tc) - K (Tc - Tk)
          dE/dt  = K (Tc - Tk)
        dP/dt    = (Tc - P) / product_tau

    Within each coolant phase the equations are linear and solved in closed form; a phase
    change inside a step is located by bisection and the step split there. The coolant leaves
    the melting phase only once ``E`` is past the latent range by the heat that moves the
    coolant ``_PHASE_HYSTERESIS_C``: without that margin, rounding could flip the phase back
    and forth while the contents sit at the melting point.

    Invariant: the contents, coolant and product temperatures stay within the range of their
    initial values, the coolant melting point and every ambient applied; ``E`` changes only by
    heat exchanged with the contents, so heat is conserved.
    """

    __slots__ = (
        "_absorbed_j",
        "_contents_c",
        "_contents_j_per_k",
        "_coolant",
        "_coolant_sensible_j_per_k",
        "_coupling_w_per_k",
        "_latent_j",
        "_lid_open_ua_w_per_k",
        "_margin_j",
        "_melt_c",
        "_product_c",
        "_product_tau_s",
        "_wall_ua_w_per_k",
        "ambient_c",
        "lid_open",
    )

    def __init__(self, params: PassiveBoxPhysics) -> None:
        _require_positive(
            coolant_coupling_w_per_k=params.coolant_coupling_w_per_k,
            contents_kj_per_k=params.contents_kj_per_k,
            coolant_sensible_kj_per_k=params.coolant_sensible_kj_per_k,
            product_tau_min=params.product_tau_min,
        )
        for name, value in (
            ("coolant_kj", params.coolant_kj),
            ("wall_ua_w_per_k", params.wall_ua_w_per_k),
            ("lid_open_ua_w_per_k", params.lid_open_ua_w_per_k),
        ):
            if not value >= 0.0:  # also refuses NaN
                raise ValueError(f"{name} must be non-negative, got {value!r}")
        self.ambient_c: float = params.ambient_c
        """Temperature around the box; the bench may change it between steps."""
        self.lid_open: bool = False
        self._wall_ua_w_per_k = params.wall_ua_w_per_k
        self._lid_open_ua_w_per_k = params.lid_open_ua_w_per_k
        self._coupling_w_per_k = params.coolant_coupling_w_per_k
        self._contents_j_per_k = params.contents_kj_per_k * _J_PER_KJ
        self._coolant_sensible_j_per_k = params.coolant_sensible_kj_per_k * _J_PER_KJ
        self._latent_j = params.coolant_kj * _J_PER_KJ
        self._margin_j = _PHASE_HYSTERESIS_C * self._coolant_sensible_j_per_k
        self._melt_c = params.coolant_melt_c
        self._product_tau_s = params.product_tau_min * _S_PER_MIN
        self._contents_c = params.initial_c
        self._product_c = params.initial_c
        self._absorbed_j = 0.0
        self._coolant = _Coolant.MELTING

    @property
    def door_open(self) -> bool:
        """The lid, under the name :class:`ThermalModel` gives every door."""
        return self.lid_open

    @door_open.setter
    def door_open(self, value: bool) -> None:
        self.lid_open = value

    @property
    def air_c(self) -> float:
        """Temperature of the contents, °C: what an air probe in the box reads."""
        return self._contents_c

    @property
    def product_c(self) -> float:
        """Product-simulant temperature, °C."""
        return self._product_c

    @property
    def coolant_c(self) -> float:
        """Temperature of the coolant packs, °C."""
        latent_used_j = min(max(self._absorbed_j, 0.0), self._latent_j)
        return self._melt_c + (self._absorbed_j - latent_used_j) / self._coolant_sensible_j_per_k

    @property
    def coolant_remaining_kj(self) -> float:
        """Latent heat the coolant can still absorb while holding its melting point, kJ."""
        return min(max(self._latent_j - self._absorbed_j, 0.0), self._latent_j) / _J_PER_KJ

    def air_probe_c(self, offset_c: float) -> float:
        """Reading of an air probe placed where the contents are ``offset_c`` off the mean."""
        return self._contents_c + offset_c

    def step(self, dt_s: float) -> None:
        """Advance by ``dt_s`` seconds in pieces, splitting a piece where the coolant changes
        phase."""
        _require_duration(dt_s)
        remaining = dt_s
        while remaining > 0.0:
            piece = min(remaining, _BOX_MAX_SUBSTEP_S)
            start_c = self._contents_c
            contents_c, absorbed_j = self._evolve(piece)
            coolant = self._phase_after(absorbed_j)
            if coolant is not self._coolant:
                piece, contents_c, absorbed_j, coolant = self._first_phase_change(piece)
            self._product_c = _lag(self._product_c, start_c, contents_c, piece, self._product_tau_s)
            self._contents_c = contents_c
            self._absorbed_j = absorbed_j
            self._coolant = coolant
            remaining -= piece

    def _first_phase_change(self, piece_s: float) -> tuple[float, float, float, _Coolant]:
        """Bisect ``(0, piece_s]`` for the moment the coolant leaves its phase; return a moment
        just after the change (so time advances), the state then and the new phase."""
        inside_s, outside_s = 0.0, piece_s
        while outside_s - inside_s > _PHASE_CHANGE_RESOLUTION_S:
            middle_s = (inside_s + outside_s) / 2.0
            if self._phase_after(self._evolve(middle_s)[1]) is self._coolant:
                inside_s = middle_s
            else:
                outside_s = middle_s
        contents_c, absorbed_j = self._evolve(outside_s)
        return outside_s, contents_c, absorbed_j, self._phase_after(absorbed_j)

    def _phase_after(self, absorbed_j: float) -> _Coolant:
        """The coolant's phase once ``E`` reaches ``absorbed_j`` from the current phase. Leaving
        the melting phase takes ``E`` a margin past the latent range; coming back takes it
        back to the range's edge."""
        margin_j = self._margin_j if self._coolant is _Coolant.MELTING else 0.0
        if absorbed_j < -margin_j:
            return _Coolant.SUBCOOLED
        if absorbed_j > self._latent_j + margin_j:
            return _Coolant.SPENT
        return _Coolant.MELTING

    def _evolve(self, t_s: float) -> tuple[float, float]:
        """Contents temperature and absorbed heat after ``t_s`` seconds, assuming the coolant
        stays in its current phase throughout."""
        ua = self._lid_open_ua_w_per_k if self.lid_open else self._wall_ua_w_per_k
        if self._coolant is _Coolant.MELTING:
            return self._evolve_melting(t_s, ua)
        return self._evolve_sensible(t_s, ua)

    def _evolve_melting(self, t_s: float, ua: float) -> tuple[float, float]:
        """Closed form while the coolant holds its melting point: the contents relax towards
        the conductance-weighted mean of ambient and melting point, and the coolant absorbs
        ``K (Tc - Tm)`` integrated over time."""
        k = self._coupling_w_per_k
        target_c = (ua * self.ambient_c + k * self._melt_c) / (ua + k)
        rate = (ua + k) / self._contents_j_per_k
        reached = -math.expm1(-rate * t_s)
        contents_c = self._contents_c + (target_c - self._contents_c) * reached
        # The integral of (Tc - Tm) over the piece, in kelvin-seconds:
        excess = (target_c - self._melt_c) * t_s + (self._contents_c - target_c) * reached / rate
        return contents_c, self._absorbed_j + k * excess

    def _evolve_sensible(self, t_s: float, ua: float) -> tuple[float, float]:
        """Closed form while the coolant is all liquid (or all solid): two coupled nodes whose
        deviations ``y`` from ambient obey ``y' = M y``; ``exp(M t)`` comes from M's two real,
        distinct, non-positive eigenvalues (Sylvester's formula)."""
        a = ua / self._contents_j_per_k
        b = self._coupling_w_per_k / self._contents_j_per_k
        c = self._coupling_w_per_k / self._coolant_sensible_j_per_k
        # M = [[-(a + b), b], [c, -c]]; trace and determinant:
        trace = -(a + b + c)
        spread = math.sqrt(trace * trace - 4.0 * a * c)  # > 0 since b > 0
        fast = (trace - spread) / 2.0
        slow = (a * c) / fast  # the eigenvalues' product is det M = a c; fast < 0
        edge_j = self._latent_j if self._coolant is _Coolant.SPENT else 0.0
        y_contents = self._contents_c - self.ambient_c
        y_coolant = self._melt_c + (self._absorbed_j - edge_j) / self._coolant_sensible_j_per_k
        y_coolant -= self.ambient_c

        def minus(eigen: float) -> tuple[float, float]:
            """(M - eigen I) y0."""
            return (
                -(a + b + eigen) * y_contents + b * y_coolant,
                c * y_contents - (c + eigen) * y_coolant,
            )

        slow_part, fast_part = minus(fast), minus(slow)
        e_slow, e_fast = math.exp(slow * t_s), math.exp(fast * t_s)
        contents_c = self.ambient_c + (e_slow * slow_part[0] - e_fast * fast_part[0]) / spread
        coolant_c = self.ambient_c + (e_slow * slow_part[1] - e_fast * fast_part[1]) / spread
        return contents_c, edge_j + (coolant_c - self._melt_c) * self._coolant_sensible_j_per_k


def air_probe_offsets(profile: Profile) -> dict[str, float]:
    """How much each air probe of ``profile`` reads above the model's air temperature (the
    stratification of :data:`AIR_PROBE_SPREAD_C`), by probe name."""
    air = [probe.name for probe in profile.probes if probe.kind is ProbeKind.AIR]
    if len(air) == 1:
        return {air[0]: 0.0}
    return {
        name: AIR_PROBE_SPREAD_C * (1 - 2 * index / (len(air) - 1))
        for index, name in enumerate(air)
    }
