"""ABO/RhD blood groups as the domain uses them.

The label parser turns an ISBT 128 ``=%`` blood group structure into one of these; the domain
only compares groups for equality against lists the hospital gives it (it never decides
compatibility itself).
"""

from __future__ import annotations

import enum

__all__ = ["BloodGroup"]


class BloodGroup(enum.StrEnum):
    """ABO group and RhD type of a unit."""

    O_NEG = "O-"
    O_POS = "O+"
    A_NEG = "A-"
    A_POS = "A+"
    B_NEG = "B-"
    B_POS = "B+"
    AB_NEG = "AB-"
    AB_POS = "AB+"

    @property
    def words(self) -> str:
        """The group as people say it: ``O RhD negative``."""
        abo = self.value.rstrip("+-")
        rhd = "negative" if self.value.endswith("-") else "positive"
        return f"{abo} RhD {rhd}"
