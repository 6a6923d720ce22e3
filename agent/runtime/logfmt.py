"""Structured log lines: ``ts=… level=… logger=… msg=… key=value …`` (logfmt).

One line per record, machine-parseable and readable; values with spaces or quotes are quoted.
Services pass fields with ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import IO

__all__ = ["LogfmtFormatter", "configure_logging", "logfmt_value"]


def logfmt_value(value: object) -> str:
    """Render one value: bare when it is a simple token, quoted and escaped otherwise."""
    text = str(value)
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """Formats records as logfmt lines, appending ``record.fields`` when given."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        parts = [
            f"ts={moment.isoformat(timespec='milliseconds')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={logfmt_value(record.getMessage())}",
        ]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            parts.extend(f"{key}={logfmt_value(value)}" for key, value in fields.items())
        if record.exc_info:
            parts.append(f"exc={logfmt_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


def configure_logging(level: int, stream: IO[str]) -> None:
    """Send every log record at ``level`` or above to ``stream`` as logfmt."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
