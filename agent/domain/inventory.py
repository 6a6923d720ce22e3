"""The cabinet's inventory: every unit it knows, by DIN, by RFID tag and by slot.

Invariants, checked whenever an inventory value is made (so no value that breaks them exists):

* every slot a unit is in is one of the cabinet's slots, and holds at most one unit;
* a DIN appears once (units are keyed by it);
* a tag uid belongs to at most one unit that has not been removed (a removed unit's tag may
  come back on another unit's bag).

Units that left (dispensed, removed) are kept: a dispensed unit may come back as a return, and
a DIN that was here once can never be stocked in again as a new unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from agent.domain.errors import InventoryConflict
from agent.domain.frozen_maps import frozen, thawed
from agent.domain.units import Unit, UnitState

__all__ = ["Inventory"]


@dataclass(frozen=True, slots=True)
class Inventory:
    """Units by DIN, with indexes by slot, tag and state; values are immutable, :meth:`put`
    returns a new one or raises :class:`InventoryConflict` and changes nothing."""

    slots: tuple[int, ...]
    units: Mapping[str, Unit] = field(default_factory=lambda: MappingProxyType({}))
    _by_slot: Mapping[int, str] = field(init=False, repr=False, compare=False)
    _by_tag: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _by_state: Mapping[UnitState, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.slots)) != len(self.slots):
            raise InventoryConflict(f"slot numbers must be distinct, found {self.slots}")
        by_slot: dict[int, str] = {}
        by_tag: dict[str, str] = {}
        by_state: dict[UnitState, set[str]] = {state: set() for state in UnitState}
        for din, unit in self.units.items():
            if din != unit.din:
                raise InventoryConflict(f"unit {unit.din} filed under DIN {din}")
            self._index(unit, by_slot, by_tag)
            by_state[unit.state].add(din)
        object.__setattr__(self, "units", frozen(self.units))
        object.__setattr__(self, "_by_slot", MappingProxyType(by_slot))
        object.__setattr__(self, "_by_tag", MappingProxyType(by_tag))
        object.__setattr__(
            self,
            "_by_state",
            MappingProxyType({state: frozenset(dins) for state, dins in by_state.items()}),
        )

    def _index(self, unit: Unit, by_slot: dict[int, str], by_tag: dict[str, str]) -> None:
        """Add ``unit`` to the indexes, or raise :class:`InventoryConflict` if it clashes."""
        din = unit.din
        if unit.slot is not None:
            if unit.slot not in self.slots:
                raise InventoryConflict(f"unit {din} is in slot {unit.slot}, not a slot here")
            if unit.slot in by_slot:
                raise InventoryConflict(
                    f"slot {unit.slot} would hold both {by_slot[unit.slot]} and {din}"
                )
            by_slot[unit.slot] = din
        if unit.state is not UnitState.REMOVED:
            if unit.tag_uid in by_tag:
                raise InventoryConflict(
                    f"tag {unit.tag_uid} would belong to both {by_tag[unit.tag_uid]} and {din}"
                )
            by_tag[unit.tag_uid] = din

    @classmethod
    def empty(cls, slot_count: int) -> Inventory:
        """An inventory of slots ``1 .. slot_count`` holding nothing."""
        if slot_count < 1:
            raise ValueError(f"a cabinet has at least one slot, found {slot_count}")
        return cls(tuple(range(1, slot_count + 1)))

    def get(self, din: str) -> Unit | None:
        """The unit with this DIN, in whatever state, or None."""
        return self.units.get(din)

    def by_tag(self, tag_uid: str) -> Unit | None:
        """The unit (not removed) whose RFID tag has this uid, or None."""
        din = self._by_tag.get(tag_uid)
        return self.units[din] if din is not None else None

    def in_slot(self, slot: int) -> Unit | None:
        """The unit in ``slot``, or None."""
        din = self._by_slot.get(slot)
        return self.units[din] if din is not None else None

    @property
    def free_slots(self) -> tuple[int, ...]:
        """The slots holding no unit, in ascending order."""
        return tuple(sorted(slot for slot in self.slots if slot not in self._by_slot))

    def in_states(self, *states: UnitState) -> tuple[Unit, ...]:
        """The units in any of ``states``, ordered by DIN."""
        dins = set().union(*(self._by_state[state] for state in states))
        return tuple(self.units[din] for din in sorted(dins))

    def put(self, units: Iterable[Unit]) -> Inventory:
        """The inventory with ``units`` added or replaced (by DIN), all or nothing.

        Only the changed units are checked against the indexes (the rest were checked when
        they were put), so a put costs what it changes, not what the cabinet ever held."""
        changed = {unit.din: unit for unit in units}
        merged = thawed(self.units)
        by_slot = thawed(self._by_slot)
        by_tag = thawed(self._by_tag)
        by_state = thawed(self._by_state)
        touched: dict[UnitState, set[str]] = {}

        def bucket(state: UnitState) -> set[str]:
            """The DINs in ``state``, copied the first time this put changes them."""
            if state not in touched:
                touched[state] = set(by_state[state])
            return touched[state]

        for din in changed:
            old = merged.get(din)
            if old is None:
                continue
            if old.slot is not None and by_slot.get(old.slot) == din:
                del by_slot[old.slot]
            if by_tag.get(old.tag_uid) == din:
                del by_tag[old.tag_uid]
            bucket(old.state).discard(din)
        merged.update(changed)
        for unit in changed.values():
            self._index(unit, by_slot, by_tag)
            bucket(unit.state).add(unit.din)
        by_state.update((state, frozenset(dins)) for state, dins in touched.items())
        inventory = object.__new__(Inventory)
        object.__setattr__(inventory, "slots", self.slots)
        object.__setattr__(inventory, "units", MappingProxyType(merged))
        object.__setattr__(inventory, "_by_slot", MappingProxyType(by_slot))
        object.__setattr__(inventory, "_by_tag", MappingProxyType(by_tag))
        object.__setattr__(inventory, "_by_state", MappingProxyType(by_state))
        return inventory

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """A plain summary for the hospital (JSON- and CBOR-ready): per occupied slot the DIN,
        state, expiry, blood group and product; the free slots; the time it was taken."""
        occupied = []
        for slot in sorted(self._by_slot):
            unit = self.units[self._by_slot[slot]]
            occupied.append(
                {
                    "slot": slot,
                    "din": unit.din,
                    "state": str(unit.state),
                    "expiry": unit.expiry.isoformat(),
                    "blood_group": str(unit.blood_group),
                    "product_code": unit.identity.product_code,
                    "product_class": unit.product_class,
                }
            )
        return {"at": now.isoformat(), "slots": occupied, "free_slots": list(self.free_slots)}
