"""What the person at the cabinet is told: one message at a time, in plain words.

The cabinet's touch screen shows :attr:`Screen.message`; the simulator's live view shows the
same text. Every refusal is shown here *and* journaled (the desk does both), so a person is
never refused without being told why, and never told something the record does not hold.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Screen", "Tone"]


class Tone(enum.StrEnum):
    """How the message is shown: information, an instruction to act, or a refusal or alarm."""

    INFO = "info"
    ACT = "act"
    REFUSED = "refused"
    ALARM = "alarm"


@dataclass
class Screen:
    """The message on the cabinet's screen; observers hear every change."""

    message: str = "Present your badge."
    tone: Tone = Tone.INFO

    def __post_init__(self) -> None:
        self._observers: list[Callable[[Screen], None]] = []

    def show(self, message: str, tone: Tone = Tone.INFO) -> None:
        """Show ``message``."""
        self.message = message
        self.tone = tone
        for observer in self._observers:
            observer(self)

    def observe(self, observer: Callable[[Screen], None]) -> None:
        """Call ``observer`` after every change."""
        self._observers.append(observer)
