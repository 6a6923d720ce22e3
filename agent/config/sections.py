"""The profile format as data: one :class:`~agent.config.fields.Table` per section.

This module is the single place where keys, their kinds, ranges and defaults are written
down; ``docs/configuration.md`` describes the same table for people. Rules that tie several
keys or sections together (a cabinet needs ``[cabinet]``, names are unique, minimum below
maximum) are in :mod:`agent.config.rules`.

Field names match the schema dataclasses' parameters wherever a section maps onto one, so a
checked table builds its dataclass directly; :data:`~agent.config.kinds.OPTIONAL` fields
then take the dataclass's own default, which therefore lives in one place, the schema.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from agent.config.fields import Field, Table
from agent.config.kinds import (
    INVALID,
    OPTIONAL,
    Choice,
    Context,
    Flag,
    NameList,
    Number,
    PathKind,
    ScalarKind,
    Text,
    render,
)
from agent.config.schema import DeviceKind, ProbeKind

__all__ = [
    "BADGE_READER",
    "CABINET",
    "DEVICE",
    "DOOR",
    "FORMAT_VERSION",
    "HARDWARE",
    "PASSIVE_BOX",
    "POWER",
    "PROBE",
    "REFRIGERATOR",
    "RFID",
    "SCANNER",
    "SIM",
    "SIM_POWER",
    "STORAGE",
    "SYNC",
    "THERMAL_MODELS",
    "TOP",
    "BrokerUrl",
    "FormatVersion",
]

_TOPIC_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Device and site ids become MQTT topic levels (``docs/protocol.md``): the protocol's rule."""

FORMAT_VERSION = 1
"""The only value of ``schema`` this agent reads."""

_NAME = Text(
    expected="a name of letters, digits, '.', '_' or '-'",
    pattern=re.compile(r"[A-Za-z0-9._-]+"),
)
_TOKEN = Text(
    expected="a name of lower-case letters, digits and '_'",
    pattern=re.compile(r"[a-z0-9_]+"),
)
_FLAG = Flag()
_TEMPERATURE = Number("a temperature in °C", ge=-100.0, le=100.0)
_POSITIVE = Number(gt=0.0)
_NON_NEGATIVE = Number(ge=0.0)
_FRACTION = Number("a fraction", ge=0.0, le=1.0)


class BrokerUrl(ScalarKind):
    """An ``mqtt://`` or ``mqtts://`` URL with a host and no credentials in it."""

    expected = "an mqtt:// or mqtts:// URL with a host, e.g. mqtts://broker.example:8883"

    def check(self, raw: object, key: str, ctx: Context) -> object:
        value = self.accept(raw)
        if value is INVALID:
            ctx.problem(key, self.expected, _render_url(raw))
        elif isinstance(value, str) and _has_credentials(value):
            ctx.problem(
                key,
                "a URL without user or password (secrets are referenced by path: "
                "use password_file)",
                "credentials in the URL",
            )
            return INVALID
        return value

    def accept(self, raw: object) -> object:
        if not isinstance(raw, str):
            return INVALID
        try:
            parts = urlsplit(raw)
            _ = parts.port  # raises ValueError on a malformed port
        except ValueError:
            return INVALID
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            return INVALID
        return raw


class FormatVersion(ScalarKind):
    """The integer :data:`FORMAT_VERSION`."""

    expected = f"{FORMAT_VERSION} (the only profile format this agent reads)"

    def accept(self, raw: object) -> object:
        ok = isinstance(raw, int) and not isinstance(raw, bool) and raw == FORMAT_VERSION
        return raw if ok else INVALID


def _has_credentials(url: str) -> bool:
    parts = urlsplit(url)
    return parts.username is not None or parts.password is not None


def _render_url(raw: object) -> str:
    if isinstance(raw, str) and "@" in raw:
        return "a URL with credentials in it (not shown)"
    return render(raw)


TOP = Table(
    "the profile",
    (Field("schema", FormatVersion()),),
    subtables=(
        "device",
        "hardware",
        "cabinet",
        "doors",
        "rfid",
        "scanner",
        "badge_reader",
        "probes",
        "storage",
        "power",
        "sync",
        "sim",
        "dispensing",
        "wiring",
    ),
)
"""The top level: ``schema`` and the sections, which are checked one by one."""

DEVICE = Table(
    "[device]",
    (
        Field(
            "id",
            Text(
                expected="a device id: 1-64 letters, digits, '.', '_' or '-', starting with a"
                " letter or digit",
                pattern=_TOPIC_SAFE,
            ),
        ),
        Field(
            "site",
            Text(
                expected="a site id: 1-64 letters, digits, '.', '_' or '-', starting with a"
                " letter or digit",
                pattern=_TOPIC_SAFE,
            ),
        ),
        Field("kind", Choice(DeviceKind)),
        Field("description", Text(expected="a string", allow_empty=True), OPTIONAL),
    ),
)

HARDWARE = Table("[hardware]", (Field("backend", _TOKEN),))

CABINET = Table(
    "[cabinet]",
    (
        Field("slots", Number(ge=1, le=144, integer=True)),
        Field("slot_release_s", Number("a number of seconds", ge=1.0, le=120.0), 30.0),
    ),
)

DOOR = Table("[[doors]]", (Field("name", _NAME), Field("locked", _FLAG)))

RFID = Table(
    "[rfid]",
    (
        Field("name", _NAME, "rfid"),
        Field("per_slot", _FLAG, False),
        Field("antennas", NameList(_NAME, "antenna name"), OPTIONAL),
    ),
)

SCANNER = Table("[scanner]", (Field("name", _NAME, "scanner"),))

BADGE_READER = Table("[badge_reader]", (Field("name", _NAME, "badge"),))

PROBE = Table(
    "[[probes]]",
    (
        Field("name", _NAME),
        Field("kind", Choice(ProbeKind)),
        Field("interval_s", Number("a number of seconds", gt=0.0)),
        Field("plausible_min_c", _TEMPERATURE, -60.0),
        Field("plausible_max_c", _TEMPERATURE, 60.0),
    ),
)

STORAGE = Table(
    "[storage]",
    (
        Field("product_class", _TOKEN),
        Field("min_c", _TEMPERATURE),
        Field("max_c", _TEMPERATURE),
    ),
)

POWER = Table(
    "[power]",
    (Field("battery", _FLAG), Field("low_battery_fraction", _FRACTION, 0.2)),
)

SYNC = Table(
    "[sync]",
    (
        Field("broker_url", BrokerUrl()),
        Field("ca_file", PathKind(), OPTIONAL),
        Field("cert_file", PathKind(), OPTIONAL),
        Field("key_file", PathKind(), OPTIONAL),
        Field("password_file", PathKind(), OPTIONAL),
    ),
)

SIM = Table(
    "[sim]",
    (
        Field("probe_noise_c", Number("a number of °C", ge=0.0, le=5.0), OPTIONAL),
        Field("seed", Number(ge=0, integer=True), OPTIONAL),
    ),
    subtables=("thermal", "power"),
)

_MODEL = Field("model", Text(expected='"refrigerator" or "passive_box"'), OPTIONAL)

REFRIGERATOR = Table(
    "[sim.thermal] (model refrigerator)",
    (
        _MODEL,
        Field("ambient_c", _TEMPERATURE, OPTIONAL),
        Field("setpoint_c", _TEMPERATURE, OPTIONAL),
        Field("hysteresis_c", _POSITIVE, OPTIONAL),
        Field("cooling_c_per_min", _POSITIVE, OPTIONAL),
        Field("ingress_tau_min", _POSITIVE, OPTIONAL),
        Field("door_open_tau_min", _POSITIVE, OPTIONAL),
        Field("product_tau_min", _POSITIVE, OPTIONAL),
        Field("initial_c", _TEMPERATURE, OPTIONAL),
    ),
)

PASSIVE_BOX = Table(
    "[sim.thermal] (model passive_box)",
    (
        _MODEL,
        Field("ambient_c", _TEMPERATURE, OPTIONAL),
        Field("coolant_kj", _NON_NEGATIVE, OPTIONAL),
        Field("coolant_melt_c", _TEMPERATURE, OPTIONAL),
        Field("wall_ua_w_per_k", _POSITIVE, OPTIONAL),
        Field("lid_open_ua_w_per_k", _POSITIVE, OPTIONAL),
        Field("coolant_coupling_w_per_k", _POSITIVE, OPTIONAL),
        Field("contents_kj_per_k", _POSITIVE, OPTIONAL),
        Field("coolant_sensible_kj_per_k", _POSITIVE, OPTIONAL),
        Field("product_tau_min", _POSITIVE, OPTIONAL),
        Field("initial_c", _TEMPERATURE, OPTIONAL),
    ),
)

THERMAL_MODELS = {"refrigerator": REFRIGERATOR, "passive_box": PASSIVE_BOX}
"""``sim.thermal.model`` -> the spec of that model's table."""

SIM_POWER = Table(
    "[sim.power]",
    (
        Field("battery_wh", _POSITIVE, OPTIONAL),
        Field("load_w", _NON_NEGATIVE, OPTIONAL),
        Field("charge_w", _NON_NEGATIVE, OPTIONAL),
        Field("initial_fraction", _FRACTION, OPTIONAL),
        Field("on_mains", _FLAG, OPTIONAL),
    ),
)
