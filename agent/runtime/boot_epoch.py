"""The boot epoch: a counter of agent starts, persisted before the first record of a start.

It is part of every record's identity (invariant 3) and says which run of the agent stamped
the record; the sequence itself is device-wide and continues across runs (the journal keeps
it). The counter is written to a temporary file, fsync'd, renamed over the old one
and the directory fsync'd, so a power cut leaves either the old or the new value - never a
torn file and never a repeated epoch.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BootEpochError", "next_boot_epoch"]

_FILE_NAME = "boot_epoch"


class BootEpochError(Exception):
    """The boot epoch file exists but cannot be read as a counter; refusing to guess."""


def next_boot_epoch(state_dir: Path) -> int:
    """Increment and durably store the boot epoch in ``state_dir``; return the new value.

    A missing file starts at 1. A corrupt file raises :class:`BootEpochError`: reusing an
    epoch would give two records the same identity.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / _FILE_NAME
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        previous = 0
    except (OSError, UnicodeDecodeError) as error:
        raise BootEpochError(f"{path}: cannot be read: {error}") from error
    else:
        if not text.isdigit():
            raise BootEpochError(f"{path}: expected a non-negative integer, found {text!r}")
        previous = int(text)
    epoch = previous + 1
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="ascii") as handle:
        handle.write(f"{epoch}\n")
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    directory = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return epoch
