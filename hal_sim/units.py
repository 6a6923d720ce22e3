"""Simulated blood units: bags carrying ISBT 128 label data and an RFID tag.

A :class:`SimUnit` is what a bench hook puts into a slot, a fridge or a box. Its label fields
are the ISBT 128 data structures as a barcode scanner reads them (data identifier included), so
that scanning a simulated unit feeds the agent exactly what a real label would. The check character
and the expiry's encoding are the agent's own (:mod:`agent.isbt128`), so the simulator prints
exactly what the agent reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agent.isbt128 import ExpirationDateTime, iso7064_mod37_2

__all__ = ["SimUnit", "isbt_expiry", "iso7064_mod37_2"]


def isbt_expiry(moment: dt.datetime) -> str:
    """The ISBT 128 expiration date and time bar code text, ``&>cyyjjjhhmm``, for ``moment``'s
    own wall-clock time (seconds dropped)."""
    return ExpirationDateTime.from_datetime(moment).encode()


@dataclass(frozen=True, slots=True)
class SimUnit:
    """One simulated blood bag.

    ``din`` is the 13-character Donation Identification Number without flags (facility code,
    year, sequence); ``flags`` its two flag characters; ``blood_group`` the 4-character ABO/RhD
    code (``5100`` is O RhD positive, ``9500`` O RhD negative); ``product_code`` the 8-character
    product code; ``expiry`` the expiration moment in UTC; ``tag_uid`` the RFID tag's UID in
    upper-case hexadecimal.
    """

    din: str
    flags: str
    blood_group: str
    product_code: str
    expiry: dt.datetime
    tag_uid: str

    def __post_init__(self) -> None:
        if len(self.din) != 13:
            raise ValueError(f"a DIN has 13 characters, got {self.din!r}")
        if len(self.flags) != 2:
            raise ValueError(f"DIN flags are 2 characters, got {self.flags!r}")
        if self.expiry.tzinfo is None:
            raise ValueError("expiry must be timezone-aware")
        if not self.tag_uid or any(c not in "0123456789ABCDEF" for c in self.tag_uid):
            raise ValueError(f"tag_uid must be upper-case hexadecimal, got {self.tag_uid!r}")

    @property
    def check_character(self) -> str:
        return iso7064_mod37_2(self.din)

    def barcodes(self) -> tuple[str, ...]:
        """The label's barcodes as a scanner reads them: DIN, blood group, product, expiry."""
        return (
            f"={self.din}{self.flags}",
            f"=%{self.blood_group}",
            f"=<{self.product_code}",
            isbt_expiry(self.expiry),
        )
