"""One buzzer and status light, several reasons to sound it.

The journal's health, a wrong-unit incident and an expiry warning each want the indicator;
none may silence another's alarm. :class:`AlarmBoard` gives each source its own handle with
the :class:`~agent.hal.parts.Indicator` interface; the part shows the most urgent state any
source asks for (alarm over attention over quiet), so an alarm stays on until every source
that raised it has cleared it.
"""

from __future__ import annotations

from agent.hal.parts import Indicator, IndicatorState

__all__ = ["AlarmBoard", "AlarmSource"]

_URGENCY = {IndicatorState.QUIET: 0, IndicatorState.ATTENTION: 1, IndicatorState.ALARM: 2}


class AlarmBoard:
    """Shares ``indicator`` between sources; see the module docstring."""

    def __init__(self, indicator: Indicator) -> None:
        self._indicator = indicator
        self._wanted: dict[str, IndicatorState] = {}

    def source(self, name: str) -> AlarmSource:
        """The handle of source ``name`` (quiet until it asks otherwise)."""
        self._wanted.setdefault(name, IndicatorState.QUIET)
        return AlarmSource(self, name)

    def wanted(self, name: str) -> IndicatorState:
        """What source ``name`` last asked for."""
        return self._wanted.get(name, IndicatorState.QUIET)

    async def ask(self, name: str, state: IndicatorState) -> None:
        """Source ``name`` wants ``state``; show the most urgent of all wishes."""
        self._wanted[name] = state
        await self._indicator.show(max(self._wanted.values(), key=_URGENCY.__getitem__))


class AlarmSource:
    """One source's handle on an :class:`AlarmBoard`, usable where an Indicator is."""

    def __init__(self, board: AlarmBoard, name: str) -> None:
        self._board = board
        self.name = name

    async def show(self, state: IndicatorState) -> None:
        """Ask for ``state``; the part shows it unless another source wants more."""
        await self._board.ask(self.name, state)

    async def state(self) -> IndicatorState:
        """What this source asked for (not necessarily what the part shows)."""
        return self._board.wanted(self.name)
