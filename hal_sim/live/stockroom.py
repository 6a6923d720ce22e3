"""Blood units made up for the bench: what ``put`` and ``stock`` in the live view put in.

Each unit gets a DIN from the public test facility ``A9999`` (year of the simulated date, a
running sequence), two ``00`` flags, an ISBT 128 blood group, a red-cell product code, an
expiry 35 days after the simulated moment it was made and a unique RFID tag UID. The DINs are
well formed (their Mod 37-2 check character can be printed); they are not real donations.
"""

from __future__ import annotations

import datetime as dt
import itertools

from hal_sim.units import SimUnit

__all__ = ["BLOOD_GROUPS", "Stockroom", "group_name"]

BLOOD_GROUPS = {
    "O-": "9500",
    "O+": "5100",
    "A-": "0600",
    "A+": "6200",
    "B-": "1700",
    "B+": "7300",
    "AB-": "2800",
    "AB+": "8400",
}
"""ABO/RhD as people write it, to the ISBT 128 ``=%`` blood group code."""

_NAMES_BY_PREFIX = {code[:2]: name for name, code in BLOOD_GROUPS.items()}

_FACILITY = "A9999"
_PRODUCT_CODE = "E0332V00"
"""Red blood cells, volunteer donation, undivided."""
_SHELF_LIFE = dt.timedelta(days=35)
_TAG_PREFIX = "E004"
"""ISO 15693 tags' UIDs start E0 then a manufacturer code."""


def group_name(code: str) -> str:
    """``O-`` for ``9500``; the raw code when it is not one of the eight ABO/RhD groups."""
    return _NAMES_BY_PREFIX.get(code[:2], code)


class Stockroom:
    """Makes units with DINs that never repeat within one simulation."""

    def __init__(self) -> None:
        self._sequence = itertools.count(1)
        self._groups = itertools.cycle(BLOOD_GROUPS)

    def make(self, now: dt.datetime, group: str | None = None) -> SimUnit:
        """A unit made at simulated time ``now``; of ``group`` (``O-``, ``AB+``...), or of the
        next group in turn when None. Raises ``ValueError`` for an unknown group."""
        name = next(self._groups) if group is None else group.upper()
        if name not in BLOOD_GROUPS:
            raise ValueError(f"unknown blood group {group!r} (one of {', '.join(BLOOD_GROUPS)})")
        sequence = next(self._sequence)
        return SimUnit(
            din=f"{_FACILITY}{now.year % 100:02d}{sequence:06d}",
            flags="00",
            blood_group=BLOOD_GROUPS[name],
            product_code=_PRODUCT_CODE,
            expiry=now + _SHELF_LIFE,
            tag_uid=f"{_TAG_PREFIX}{sequence:012X}",
        )
