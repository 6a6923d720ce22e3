"""The hospital's dispensing decisions, as command kinds (``docs/protocol.md`` section 6.1).

The hospital's blood bank system decides; the device enforces (brief, section 3). These are
the decisions it sends, each a strictly checked arguments map:

* :class:`Allocate` - unit ``din`` is crossmatched for ``patient`` on ``order`` until
  ``until_ns``;
* :class:`ElectronicIssue` - ``patient`` may take up to ``units`` in-stock units of the given
  ABO/RhD ``groups`` (``O-``, ``AB+`` ...) and ``product_class`` on ``order`` until
  ``until_ns``;
* :class:`Cancel` - an order's allocations end (all of them, or one unit's);
* :class:`BadgeList` - who may sign in at the device, with which roles; replaces the cached
  list and restarts its staleness clock;
* :class:`Inventory` - journal an inventory snapshot now;
* :class:`UnitHistory` - the temperature history that travelled with a dispensed unit (a
  transport box's trip report): the extremes and the span it covers, for the return rule.

Only the shape of each decision is checked here; whether the device can carry it out (is the
unit here, is it expired) is the workflow's call, answered with a ``rejected`` refusal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from agent.sync.protocol.errors import ImpossibleValue
from agent.sync.protocol.fields import Fields, as_array, as_text, as_uint
from agent.sync.protocol.topics import check_identifier

__all__ = [
    "ROLES",
    "Allocate",
    "BadgeEntry",
    "BadgeList",
    "Cancel",
    "ElectronicIssue",
    "Inventory",
    "UnitHistory",
]

_DIN = re.compile(r"[A-NP-Z1-9][0-9]{4}[0-9]{2}[0-9]{6}")
_GROUP = re.compile(r"(O|A|B|AB)[+-]")
_BADGE_UID = re.compile(r"[0-9A-F]{2,64}")
MAX_BADGES = 2000
"""Most badges one list carries (it must fit one 256 KiB message)."""
ROLES = frozenset({"technician", "clinician", "emergency", "supervisor"})
"""The roles a badge list may grant (``docs/protocol.md`` section 6.1)."""
_PRODUCT_CLASSES = frozenset({"red_cells", "whole_blood", "platelets", "plasma", "cryo"})


def _din(value: object, where: str) -> str:
    text = as_text(value, where, 13)
    if not _DIN.fullmatch(text):
        raise ImpossibleValue(f"{where}: {text!r} is not a 13-character ISBT 128 DIN")
    return text


def _groups(value: object, where: str) -> tuple[str, ...]:
    items = as_array(value, where)
    if not items:
        raise ImpossibleValue(f"{where}: at least one ABO/RhD group")
    groups = tuple(as_text(item, f"{where}[{i}]", 3) for i, item in enumerate(items))
    for i, group in enumerate(groups):
        if not _GROUP.fullmatch(group):
            raise ImpossibleValue(f"{where}[{i}]: {group!r} is not an ABO/RhD group like 'O-'")
    if len(set(groups)) != len(groups):
        raise ImpossibleValue(f"{where}: a group appears twice")
    return groups


def _product_class(value: object, where: str) -> str:
    text = as_text(value, where, 32)
    if text not in _PRODUCT_CLASSES:
        raise ImpossibleValue(
            f"{where}: expected one of {', '.join(sorted(_PRODUCT_CLASSES))}, found {text!r}"
        )
    return text


@dataclass(frozen=True, slots=True)
class Allocate:
    """Unit ``din`` is crossmatched for ``patient`` on ``order``, valid until ``until_ns``."""

    NAME: ClassVar[str] = "allocate"
    din: str
    patient: str
    order: str
    until_ns: int

    def __post_init__(self) -> None:
        _din(self.din, "din")
        check_identifier(self.patient, "patient")
        check_identifier(self.order, "order")
        as_uint(self.until_ns, "until_ns")

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {
            "din": self.din,
            "patient": self.patient,
            "order": self.order,
            "until_ns": self.until_ns,
        }

    @classmethod
    def from_args(cls, fields: Fields) -> Allocate:
        """The arguments the map describes."""
        return cls(
            din=_din(fields.raw("din"), f"{fields.where}.din"),
            patient=fields.text("patient"),
            order=fields.text("order"),
            until_ns=fields.uint("until_ns"),
        )


@dataclass(frozen=True, slots=True)
class ElectronicIssue:
    """``patient`` is eligible for electronic issue: up to ``units`` in-stock units of one of
    ``groups`` (ABO/RhD written ``O-``, ``AB+`` ..., as the hospital chose them - the device
    never judges compatibility) and of ``product_class``, on ``order``, until ``until_ns``."""

    NAME: ClassVar[str] = "electronic_issue"
    patient: str
    order: str
    groups: tuple[str, ...]
    product_class: str
    units: int
    until_ns: int

    def __post_init__(self) -> None:
        check_identifier(self.patient, "patient")
        check_identifier(self.order, "order")
        _groups(list(self.groups), "groups")
        _product_class(self.product_class, "product_class")
        if not 1 <= as_uint(self.units, "units") <= 100:
            raise ImpossibleValue("units: 1-100")
        as_uint(self.until_ns, "until_ns")

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {
            "patient": self.patient,
            "order": self.order,
            "groups": list(self.groups),
            "product_class": self.product_class,
            "units": self.units,
            "until_ns": self.until_ns,
        }

    @classmethod
    def from_args(cls, fields: Fields) -> ElectronicIssue:
        """The arguments the map describes."""
        return cls(
            patient=fields.text("patient"),
            order=fields.text("order"),
            groups=_groups(fields.raw("groups"), f"{fields.where}.groups"),
            product_class=_product_class(
                fields.raw("product_class"), f"{fields.where}.product_class"
            ),
            units=fields.uint("units", 100),
            until_ns=fields.uint("until_ns"),
        )


@dataclass(frozen=True, slots=True)
class Cancel:
    """``order``'s allocations end: every one, or only unit ``din``'s when it is given."""

    NAME: ClassVar[str] = "cancel"
    order: str
    din: str | None = None

    def __post_init__(self) -> None:
        check_identifier(self.order, "order")
        if self.din is not None:
            _din(self.din, "din")

    def to_args(self) -> dict[str, Any]:
        """The arguments map (``din`` only when given)."""
        args: dict[str, Any] = {"order": self.order}
        if self.din is not None:
            args["din"] = self.din
        return args

    @classmethod
    def from_args(cls, fields: Fields) -> Cancel:
        """The arguments the map describes."""
        order = fields.text("order")
        din = _din(fields.raw("din"), f"{fields.where}.din") if fields.has("din") else None
        return cls(order=order, din=din)


@dataclass(frozen=True, slots=True)
class BadgeEntry:
    """One badge: its UID (upper-case hexadecimal), its holder's user id and name, and the
    roles it grants (:data:`ROLES`)."""

    uid: str
    user: str
    name: str
    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _BADGE_UID.fullmatch(self.uid):
            raise ImpossibleValue(f"badge uid {self.uid!r}: 2-64 upper-case hexadecimal digits")
        check_identifier(self.user, "user")
        as_text(self.name, "name", 128)
        unknown = sorted(set(self.roles) - ROLES)
        if unknown:
            raise ImpossibleValue(
                f"badge {self.uid}: unknown roles {unknown}, expected some of {sorted(ROLES)}"
            )

    def to_map(self) -> dict[str, Any]:
        """The entry's map."""
        return {"uid": self.uid, "user": self.user, "name": self.name, "roles": list(self.roles)}

    @classmethod
    def from_fields(cls, fields: Fields) -> BadgeEntry:
        """The entry the map describes."""
        roles = tuple(
            as_text(role, f"{fields.where}.roles[{i}]", 32)
            for i, role in enumerate(fields.array("roles"))
        )
        entry = cls(
            uid=fields.text("uid", 64),
            user=fields.text("user"),
            name=fields.text("name", 128),
            roles=roles,
        )
        fields.finish()
        return entry


@dataclass(frozen=True, slots=True)
class BadgeList:
    """Everyone who may sign in at the device, as of ``issued_ns`` (the hospital's wall clock);
    replaces the cached list. A UID appears at most once."""

    NAME: ClassVar[str] = "badge_list"
    issued_ns: int
    badges: tuple[BadgeEntry, ...]

    def __post_init__(self) -> None:
        as_uint(self.issued_ns, "issued_ns")
        if len(self.badges) > MAX_BADGES:
            raise ImpossibleValue(f"badges: at most {MAX_BADGES}")
        uids = [badge.uid for badge in self.badges]
        if len(set(uids)) != len(uids):
            raise ImpossibleValue("badges: a badge uid appears twice")

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {"issued_ns": self.issued_ns, "badges": [b.to_map() for b in self.badges]}

    @classmethod
    def from_args(cls, fields: Fields) -> BadgeList:
        """The arguments the map describes."""
        issued_ns = fields.uint("issued_ns")
        entries = fields.array("badges")
        badges = tuple(
            BadgeEntry.from_fields(Fields(entry, f"{fields.where}.badges[{i}]"))
            for i, entry in enumerate(entries)
        )
        return cls(issued_ns=issued_ns, badges=badges)


def _celsius(value: object, where: str) -> float:
    if type(value) is int or type(value) is float:
        number = float(value)
        if math.isfinite(number) and -100.0 <= number <= 100.0:
            return number
    raise ImpossibleValue(f"{where}: expected a temperature in °C (-100..100), found {value!r}")


@dataclass(frozen=True, slots=True)
class UnitHistory:
    """Unit ``din`` was kept between ``minimum_c`` and ``maximum_c`` from ``from_ns`` to
    ``until_ns`` (wall clock): what a transport box recorded while it carried the unit."""

    NAME: ClassVar[str] = "unit_history"
    din: str
    minimum_c: float
    maximum_c: float
    from_ns: int
    until_ns: int

    def __post_init__(self) -> None:
        _din(self.din, "din")
        _celsius(self.minimum_c, "minimum_c")
        _celsius(self.maximum_c, "maximum_c")
        as_uint(self.from_ns, "from_ns")
        as_uint(self.until_ns, "until_ns")
        if self.minimum_c > self.maximum_c or self.from_ns > self.until_ns:
            raise ImpossibleValue("a history needs minimum <= maximum and from <= until")

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {
            "din": self.din,
            "minimum_c": self.minimum_c,
            "maximum_c": self.maximum_c,
            "from_ns": self.from_ns,
            "until_ns": self.until_ns,
        }

    @classmethod
    def from_args(cls, fields: Fields) -> UnitHistory:
        """The arguments the map describes."""
        return cls(
            din=_din(fields.raw("din"), f"{fields.where}.din"),
            minimum_c=_celsius(fields.raw("minimum_c"), f"{fields.where}.minimum_c"),
            maximum_c=_celsius(fields.raw("maximum_c"), f"{fields.where}.maximum_c"),
            from_ns=fields.uint("from_ns"),
            until_ns=fields.uint("until_ns"),
        )


@dataclass(frozen=True, slots=True)
class Inventory:
    """Journal an inventory snapshot now (it reaches the hospital as a record)."""

    NAME: ClassVar[str] = "inventory"

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {}

    @classmethod
    def from_args(cls, _fields: Fields) -> Inventory:
        """The arguments the map describes (none)."""
        return cls()
