"""Expiration Date and Time (``&>cyyjjjhhmm``, ST-001 data structure 005) and Expiration
Date (``=>cyyjjj``, data structure 004).

``c`` is the century counted from 2000 (``0`` for 2000-2099, ``1`` for 2100-2199), ``yy`` the
year in it, ``jjj`` the day of the year (001-365, or 366 in a leap year), ``hhmm`` the time of
day (0000-2359). The century mapping is not spelled out in ST-001 itself; it follows ICCBBA's
published examples, where ``&>0183652359`` is 31 December 2018 at 23:59. A day runs from 0000 to
2359, and an expiry without a time means 23:59 of that day (ST-001 section 2.4.5), which is how
:class:`ExpirationDate` is read. Structure 005 is the one ST-001 recommends for blood; 004 is
kept for older labels.

Time zone: the label states the wall-clock time where the unit was labelled, with no zone.
These classes keep that local wall time; :meth:`ExpirationDateTime.expires_at` turns it into an
aware moment in the zone the caller says the label is in (the site's zone). Where that wall
time falls in a daylight-saving change (it happens twice or not at all) the earliest instant it
can mean is taken, so a unit never expires later than its label says.

Invariant kept: a structure holds a date and time that exists, within 2000-2999, to the
minute, so it always encodes and reads back unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agent.isbt128.charsets import DIGITS, expect
from agent.isbt128.errors import BadCharacter, BadDate
from agent.isbt128.extent import require_end, require_length

__all__ = [
    "EXPIRATION_DATE_LENGTH",
    "EXPIRATION_DATE_TIME_LENGTH",
    "ExpirationDate",
    "ExpirationDateTime",
    "parse_expiration_date",
    "parse_expiration_date_time",
    "parse_expiry",
    "read_expiration_date",
    "read_expiration_date_time",
]

EXPIRATION_DATE_TIME_LENGTH = 12
EXPIRATION_DATE_LENGTH = 8
_DATE_TIME_STRUCTURE = "expiration date and time"
_DATE_STRUCTURE = "expiration date"
_END_OF_DAY = dt.time(23, 59)


@dataclass(frozen=True, slots=True)
class ExpirationDateTime:
    """``&>cyyjjjhhmm``: ``local`` is the label's wall-clock expiry, naive, to the minute."""

    local: dt.datetime

    def __post_init__(self) -> None:
        _check_local(self.local)
        if self.local.second or self.local.microsecond:
            raise ValueError(f"an expiry is to the minute, got {self.local.isoformat()}")

    @classmethod
    def from_datetime(cls, moment: dt.datetime) -> ExpirationDateTime:
        """The structure for ``moment``'s own wall-clock time, seconds dropped (so the label
        never states a later expiry than ``moment``)."""
        return cls(moment.replace(tzinfo=None, second=0, microsecond=0, fold=0))

    def expires_at(self, tz: dt.tzinfo) -> dt.datetime:
        """The aware moment of expiry, reading the label's wall time in zone ``tz``."""
        return _earliest(self.local, tz)

    def encode(self) -> str:
        return f"&>{_cyyjjj(self.local.date())}{self.local:%H%M}"

    def __str__(self) -> str:
        return self.encode()


@dataclass(frozen=True, slots=True)
class ExpirationDate:
    """``=>cyyjjj``: the unit expires at the end (23:59) of ``date``, label-local."""

    date: dt.date

    def __post_init__(self) -> None:
        _check_local(self.date)

    @property
    def local(self) -> dt.datetime:
        """The label's wall-clock expiry: 23:59 on :attr:`date`."""
        return dt.datetime.combine(self.date, _END_OF_DAY)

    def expires_at(self, tz: dt.tzinfo) -> dt.datetime:
        """The aware moment of expiry, 23:59 of :attr:`date` in zone ``tz``."""
        return _earliest(self.local, tz)

    def encode(self) -> str:
        return f"=>{_cyyjjj(self.date)}"

    def __str__(self) -> str:
        return self.encode()


def read_expiration_date_time(text: str, start: int) -> ExpirationDateTime:
    """Read the ``&>cyyjjjhhmm`` bar code text that begins at ``text[start]``."""
    structure = _DATE_TIME_STRUCTURE
    require_length(text, start, EXPIRATION_DATE_TIME_LENGTH, structure)
    _identifier(text, start, "&>", structure)
    date = _read_date(text, start + 2, structure)
    hour = int(expect(text, start + 8, 2, DIGITS, structure=structure, field="hour"))
    minute = int(expect(text, start + 10, 2, DIGITS, structure=structure, field="minute"))
    if hour > 23:
        raise BadDate(structure, start + 8, f"hour: expected 00-23, found {hour:02d}")
    if minute > 59:
        raise BadDate(structure, start + 10, f"minute: expected 00-59, found {minute:02d}")
    return ExpirationDateTime(dt.datetime.combine(date, dt.time(hour, minute)))


def read_expiration_date(text: str, start: int) -> ExpirationDate:
    """Read the ``=>cyyjjj`` bar code text that begins at ``text[start]``."""
    require_length(text, start, EXPIRATION_DATE_LENGTH, _DATE_STRUCTURE)
    _identifier(text, start, "=>", _DATE_STRUCTURE)
    return ExpirationDate(_read_date(text, start + 2, _DATE_STRUCTURE))


def parse_expiration_date_time(text: str) -> ExpirationDateTime:
    """Parse one whole expiration date and time bar code text, ``&>0273650805``."""
    expiry = read_expiration_date_time(text, 0)
    require_end(text, EXPIRATION_DATE_TIME_LENGTH, _DATE_TIME_STRUCTURE)
    return expiry


def parse_expiration_date(text: str) -> ExpirationDate:
    """Parse one whole expiration date bar code text, ``=>027365``."""
    expiry = read_expiration_date(text, 0)
    require_end(text, EXPIRATION_DATE_LENGTH, _DATE_STRUCTURE)
    return expiry


def parse_expiry(text: str, tz: dt.tzinfo) -> dt.datetime:
    """The aware expiry moment of one whole ``&>`` or ``=>`` bar code text, read in ``tz``."""
    if text.startswith("=>"):
        return parse_expiration_date(text).expires_at(tz)
    return parse_expiration_date_time(text).expires_at(tz)


def _identifier(text: str, start: int, identifier: str, structure: str) -> None:
    if text[start : start + 2] != identifier:
        raise BadCharacter(
            structure,
            start,
            f"data identifier: expected {identifier!r}, found {text[start : start + 2]!r}",
        )


def _read_date(text: str, start: int, structure: str) -> dt.date:
    century = int(expect(text, start, 1, DIGITS, structure=structure, field="century"))
    year = (
        2000
        + 100 * century
        + int(expect(text, start + 1, 2, DIGITS, structure=structure, field="year"))
    )
    day = int(expect(text, start + 3, 3, DIGITS, structure=structure, field="day of the year"))
    days_in_year = 366 if _is_leap(year) else 365
    if not 1 <= day <= days_in_year:
        raise BadDate(
            structure,
            start + 3,
            f"day of the year: expected 001-{days_in_year} for {year}, found {day:03d}",
        )
    return dt.date(year, 1, 1) + dt.timedelta(days=day - 1)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _cyyjjj(date: dt.date) -> str:
    return f"{(date.year - 2000) // 100}{date.year % 100:02d}{date.timetuple().tm_yday:03d}"


def _check_local(value: dt.date) -> None:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        raise ValueError("an expiry is the label's local wall time: give a naive datetime")
    if not 2000 <= value.year <= 2999:
        raise ValueError(f"ISBT 128 dates cover 2000-2999, got {value.year}")


def _earliest(local: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    instants = (local.replace(tzinfo=tz, fold=fold).astimezone(dt.UTC) for fold in (0, 1))
    return min(instants).astimezone(tz)
