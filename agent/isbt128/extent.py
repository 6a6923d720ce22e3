"""How much of the scanned text a data structure covers: the length checks every reader shares.

Every ISBT 128 structure this package reads has a fixed length, so a reader at ``start`` first
makes sure the text holds the whole structure (:func:`require_length`), and a caller parsing
one structure on its own makes sure nothing follows it (:func:`require_end`). Both raise
:class:`~agent.isbt128.errors.BadLength` with the position where the text ran out or went on.
"""

from __future__ import annotations

from agent.isbt128.errors import BadLength

__all__ = ["require_end", "require_length"]


def require_length(text: str, start: int, length: int, structure: str) -> None:
    """Raise :class:`BadLength` unless ``text`` holds ``length`` characters from ``start``."""
    if len(text) - start < length:
        raise BadLength(
            structure,
            len(text),
            f"expected {length} characters, found {len(text) - start} (the text ends)",
        )


def require_end(text: str, end: int, structure: str) -> None:
    """Raise :class:`BadLength` if ``text`` goes on after ``end``, where ``structure`` ended."""
    if len(text) > end:
        raise BadLength(
            structure,
            end,
            f"expected the text to end after {end} characters, found {text[end]!r} and"
            f" {len(text) - end - 1} more",
        )
