"""The stock-in decision: may this unit go into the cabinet, and into which slot?

Invariant kept: a unit is accepted only if it is unexpired, of a product class this cabinet
stores, new to the cabinet (DIN and tag), its RFID tag names the same DIN as its barcode label,
and a slot is free; the slot chosen is the lowest-numbered free one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from agent.domain.outcomes import StockedIn
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.units import UnitIdentity, UnitState
from agent.domain.users import Role, User

if TYPE_CHECKING:
    from agent.domain.cabinet import Cabinet

__all__ = ["stock_in"]


def stock_in(
    cabinet: Cabinet, identity: UnitIdentity, *, tag_din: str, user: User, now: datetime
) -> StockedIn | Refusal:
    """Accept ``identity`` (read from its barcode labels, with ``tag_din`` the DIN read from
    its RFID tag's memory) into the lowest-numbered free slot, or refuse."""
    refusal = next(_refusals(cabinet, identity, tag_din, user, now), None)
    if refusal is not None:
        return refusal
    return StockedIn(identity, cabinet.inventory.free_slots[0], user.user_id, now)


def _refusals(
    cabinet: Cabinet, identity: UnitIdentity, tag_din: str, user: User, now: datetime
) -> Iterator[Refusal]:
    """Every reason to refuse, most fundamental first (the caller takes the first)."""
    din = identity.din
    if not user.has(Role.TECHNICIAN):
        yield Refusal(RefusalCode.ROLE_REQUIRED, "Your badge does not allow stocking units in.")
    if tag_din != din:
        yield Refusal(
            RefusalCode.TAG_MISMATCH,
            f"The unit's tag says {tag_din} but its label says {din}: set the unit aside "
            "for the blood bank.",
        )
    if identity.expired(now):
        yield Refusal(
            RefusalCode.UNIT_EXPIRED,
            f"Unit {din} expired at {identity.expiry:%Y-%m-%d %H:%M} and cannot be stocked in.",
        )
    if identity.product_class not in cabinet.policy.stored_product_classes:
        yield Refusal(
            RefusalCode.PRODUCT_NOT_STORED,
            f"This cabinet does not store {identity.product_class.replace('_', ' ')}.",
        )
    known = cabinet.inventory.get(din)
    if known is not None:
        hint = " Use the return procedure instead." if known.state is UnitState.DISPENSED else ""
        yield Refusal(
            RefusalCode.DUPLICATE_DIN,
            f"Unit {din} is already known to this cabinet ({known.state.replace('_', ' ')}).{hint}",
        )
    holder = cabinet.inventory.by_tag(identity.tag_uid)
    if holder is not None:
        yield Refusal(
            RefusalCode.DUPLICATE_TAG,
            f"Tag {identity.tag_uid} already belongs to unit {holder.din}.",
        )
    if not cabinet.inventory.free_slots:
        yield Refusal(RefusalCode.NO_FREE_SLOT, "The cabinet is full: no slot is free.")
