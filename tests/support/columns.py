"""A compact temperature column for protocol tests: two probes, three ticks."""

from __future__ import annotations

from typing import Any


def two_probe_column() -> dict[str, Any]:
    """A fresh column map: probes ``air`` and ``core``, sequences 5-7 of boot epoch 1, readings
    4.00/3.80, 4.01/3.80 and 4.00/3.82 °C."""
    return {
        "probes": ["air", "core"],
        "epoch": 1,
        "synced": True,
        "divisor": 100,
        "seq": [5, 1, 1],
        "mono": [1000, 10, 0],
        "wall": [10**18, 0, 0],
        "values": [[400, 1, -1], [380, 0, 2]],
    }
