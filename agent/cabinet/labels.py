"""From scanned ISBT 128 labels to the domain's unit identity.

The parser (:mod:`agent.isbt128`) says whether the barcodes are well formed; this module adds
what the cabinet needs to know about the unit - its ABO/RhD group as the domain names it, and
its product class from the hospital's product table - and refuses, in words for the person at
the cabinet, a label that states no group or a product the table does not list. Nothing here
guesses: an unknown product is refused, never assumed to be red cells.
"""

from __future__ import annotations

import datetime as dt

from agent.domain.blood import BloodGroup
from agent.domain.refusals import Refusal, RefusalCode
from agent.domain.units import UnitIdentity
from agent.isbt128 import Abo, ProductTable, RhD, UnitLabel

__all__ = ["unit_identity"]

_GROUPS = {
    (Abo.O, RhD.NEGATIVE): BloodGroup.O_NEG,
    (Abo.O, RhD.POSITIVE): BloodGroup.O_POS,
    (Abo.A, RhD.NEGATIVE): BloodGroup.A_NEG,
    (Abo.A, RhD.POSITIVE): BloodGroup.A_POS,
    (Abo.B, RhD.NEGATIVE): BloodGroup.B_NEG,
    (Abo.B, RhD.POSITIVE): BloodGroup.B_POS,
    (Abo.AB, RhD.NEGATIVE): BloodGroup.AB_NEG,
    (Abo.AB, RhD.POSITIVE): BloodGroup.AB_POS,
}


def unit_identity(
    label: UnitLabel, *, tag_uid: str, products: ProductTable | None, tz: dt.tzinfo
) -> UnitIdentity | Refusal:
    """The identity of the unit ``label`` describes, carrying RFID tag ``tag_uid``; or why the
    cabinet cannot take it. Label times are read in ``tz`` (the zone labels are printed in)."""
    if products is None:
        return Refusal(
            RefusalCode.PRODUCT_NOT_STORED,
            "This cabinet has no product table, so it cannot check what a unit is: ask the "
            "blood bank to install one.",
        )
    code = label.product_code.encode().removeprefix("=<")
    info = products.lookup(label.product_code)
    if info is None:
        return Refusal(
            RefusalCode.PRODUCT_NOT_STORED,
            f"Product code {code} is not in this cabinet's product table.",
        )
    group = _GROUPS.get((label.blood_group.abo, label.blood_group.rhd))  # type: ignore[arg-type]
    if group is None:
        return Refusal(
            RefusalCode.INVALID_REQUEST,
            f"The label of unit {label.din.code} states no ABO/RhD group this cabinet can "
            "dispense by.",
        )
    return UnitIdentity(
        din=label.din.code,
        blood_group=group,
        product_code=code,
        product_class=str(info.product_class),
        expiry=label.expires_at(tz).astimezone(dt.UTC),
        tag_uid=tag_uid,
    )
