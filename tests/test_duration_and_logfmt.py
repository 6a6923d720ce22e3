"""Durations as people write them, and log lines as machines read them."""

from __future__ import annotations

import contextlib
import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.duration import format_duration, parse_duration
from agent.runtime.logfmt import LogfmtFormatter, logfmt_value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        (" 2 m ", 120.0),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "10x", "-5", "5m10", "h1", "1d-2h"])
def test_bad_durations_say_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**7))
def test_formatted_durations_parse_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.text())
def test_parse_duration_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_duration(text)


def test_logfmt_quotes_what_needs_quoting() -> None:
    assert logfmt_value("plain") == "plain"
    assert logfmt_value("two words") == '"two words"'
    assert logfmt_value('say "hi"') == '"say \\"hi\\""'
    assert logfmt_value("") == '""'


def test_log_records_become_logfmt_lines_with_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    logger = logging.getLogger("test.logfmt")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("door forced", extra={"fields": {"door": "main", "slot": 4}})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.startswith("ts=")
    assert ' level=warning logger=test.logfmt msg="door forced" door=main slot=4' in line
