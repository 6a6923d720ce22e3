"""The live view: a Textual app showing one simulated device as it runs, with keys and a bench
command line to act on it.

It runs on the simulation's own :class:`~hal_sim.clock.VirtualTimeLoop`, beside the agent.
Textual's timers mix the two clocks (they compute deadlines on the wall clock and sleep on the
loop's, which is virtual here), so at high speed a Textual interval fires far too often and
after a speed change far too late. The view therefore sets no Textual timer: it redraws from a
task of its own that sleeps ``refresh_s * speed`` virtual seconds - ``refresh_s`` of wall time -
and, at full speed, a virtual step sized from the rate the simulation was last seen to run at,
redrawing once ``refresh_s`` of wall time has passed. A speed change wakes it at once. The
input's blinking cursor (a Textual interval) is switched off for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static

from agent.config.schema import DeviceKind
from hal_sim.clock import VirtualTimeLoop
from hal_sim.device import BenchError
from hal_sim.live.bench import Bench, CommandError, Outcome
from hal_sim.live.commands import parse_command
from hal_sim.live.panels import (
    CabinetPanel,
    ClimatePanel,
    ContentsPanel,
    DeviceHeader,
    EventsPanel,
    SlotGrid,
)
from hal_sim.session import SimSession
from hal_sim.staff import CabinetRefused

__all__ = ["FASTEST_FINITE_SPEED", "SLOWEST_SPEED", "LiveView"]

SLOWEST_SPEED = 0.125
"""The slowest the ``-`` key goes: one simulated second every eight wall seconds."""
FASTEST_FINITE_SPEED = 4096.0
"""What ``-`` steps down to from full speed, and the last step of ``+`` before it: a power of
two, so that halving comes back to real time."""

_EVENT_LINES = 30
_MAX_SPEED_STEP_S = (1.0, 3600.0)
"""Bounds of the virtual step between wall-clock checks at full speed."""


class LiveView(App[None]):
    """One simulated device, live; see the module docstring."""

    TITLE = "hemotrace sim"
    AUTO_FOCUS = None
    ENABLE_COMMAND_PALETTE = False
    """Keys act on the view; the command line takes them only after ``:``."""
    CSS = """
    Screen { layout: vertical; }
    DeviceHeader { height: 1; background: $panel; }
    #body { height: 1fr; }
    #left { width: 1fr; }
    #slots { height: auto; grid-columns: 8; grid-gutter: 0 1; }
    .slot { height: 2; background: $surface; }
    .slot.occupied { background: $primary-darken-2; }
    .slot.released { background: $warning-darken-3; }
    ContentsPanel { height: auto; max-height: 50%; padding: 0 1; }
    CabinetPanel { height: auto; padding: 0 1; border-top: solid $panel-lighten-2; }
    EventsPanel { height: 1fr; padding: 0 1; border-top: solid $panel-lighten-2; }
    ClimatePanel { width: 36; padding: 0 1; border-left: solid $panel-lighten-2; }
    #message { height: auto; max-height: 32; padding: 0 1; }
    #message.error { color: $error; }
    #command { height: 3; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual's declared type
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("plus,equals_sign", "faster", "Faster"),
        Binding("minus", "slower", "Slower"),
        Binding("m", "max_speed", "Max speed"),
        Binding("d", "toggle_door", "Door"),
        Binding("p", "toggle_power", "Power"),
        Binding("colon,slash", "command", "Command"),
        Binding("escape", "leave_command", "Leave command", show=False),
    ]

    def __init__(
        self,
        session: SimSession,
        loop: VirtualTimeLoop,
        *,
        started_at: float,
        refresh_s: float = 0.25,
    ) -> None:
        super().__init__()
        self.session = session
        self.bench = Bench(device=session.device, clock=session.clock, session=session)
        self._answers: set[asyncio.Task[None]] = set()
        self._sim_loop = loop
        self._started_at = started_at
        self._refresh_s = refresh_s
        self._wake = asyncio.Event()
        self._pacer: asyncio.Task[None] | None = None
        self._rate = 1.0
        """Virtual seconds per wall second, as last measured (for the step at full speed)."""

    # --- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        profile = self.session.profile
        yield DeviceHeader()
        with Horizontal(id="body"):
            with Vertical(id="left"):
                if profile.device.kind is DeviceKind.CABINET:
                    yield SlotGrid(profile.slots)
                    if self.session.agent.cabinet is not None:
                        yield CabinetPanel()
                else:
                    yield ContentsPanel()
                yield EventsPanel()
            yield ClimatePanel()
        yield Static("Press : to type a bench command (help lists them), q to quit.", id="message")
        yield Input(placeholder=": command, e.g. door open force", id="command")
        yield Footer()

    def on_mount(self) -> None:
        command = self.query_one("#command", Input)
        command.cursor_blink = False
        command.can_focus = False
        self.refresh_view()
        self._pacer = asyncio.get_running_loop().create_task(self._pace(), name="live-view")

    async def on_unmount(self) -> None:
        for answer in self._answers:
            answer.cancel()
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer

    # --- redrawing -------------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Redraw every panel from the session now."""
        session = self.session
        self.query_one(DeviceHeader).show(
            session, started_at=self._started_at, speed=self._sim_loop.speed
        )
        for grid in self.query(SlotGrid):
            grid.show(session.device)
        for contents in self.query(ContentsPanel):
            contents.show(session.device)
        desk = session.agent.cabinet
        if desk is not None:
            for cabinet in self.query(CabinetPanel):
                cabinet.show(desk, session.device, self.bench.in_hand)
        self.query_one(ClimatePanel).show(session)
        self.query_one(EventsPanel).show(session, lines=_EVENT_LINES)

    async def _pace(self) -> None:
        """Redraw every ``refresh_s`` of wall time, whatever the speed (module docstring)."""
        wall, virtual = time.monotonic(), self._sim_loop.time()
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._virtual_step()):
                    await self._wake.wait()
            now_wall, now_virtual = time.monotonic(), self._sim_loop.time()
            if not self.is_running:  # shutting down: the panels are going away
                return
            if now_wall - wall < self._refresh_s and not self._wake.is_set():
                continue
            if now_wall > wall:
                self._rate = max((now_virtual - virtual) / (now_wall - wall), 1.0)
            wall, virtual = now_wall, now_virtual
            self.refresh_view()

    def _virtual_step(self) -> float:
        speed = self._sim_loop.speed
        if speed is not None:
            return self._refresh_s * speed
        low, high = _MAX_SPEED_STEP_S
        return min(max(self._rate * self._refresh_s / 4, low), high)

    def _set_speed(self, speed: float | None) -> None:
        self._sim_loop.speed = speed
        self._wake.set()

    # --- keys ----------------------------------------------------------------------------------

    def action_faster(self) -> None:
        speed = self._sim_loop.speed
        if speed is not None:
            self._set_speed(None if speed * 2 > FASTEST_FINITE_SPEED else speed * 2)

    def action_slower(self) -> None:
        speed = self._sim_loop.speed
        self._set_speed(FASTEST_FINITE_SPEED if speed is None else max(speed / 2, SLOWEST_SPEED))

    def action_max_speed(self) -> None:
        self._set_speed(None)

    def action_toggle_door(self) -> None:
        """Open the first door (by force if locked: nothing unlocks it yet), or close it."""
        line = "door close" if self.session.device.door_is_open() else "door open force"
        self.run_command(line)

    def action_toggle_power(self) -> None:
        on_mains = self.session.device.battery.on_mains
        self.run_command("power cut" if on_mains else "power restore")

    def action_command(self) -> None:
        command = self.query_one("#command", Input)
        command.can_focus = True
        command.focus()

    def action_leave_command(self) -> None:
        command = self.query_one("#command", Input)
        command.value = ""
        command.can_focus = False
        self.set_focus(None)

    # --- the command line ------------------------------------------------------------------------

    def on_input_submitted(self, submitted: Input.Submitted) -> None:
        self.action_leave_command()
        if submitted.value.strip():
            self.run_command(submitted.value)

    def run_command(self, line: str) -> None:
        """Parse and run one bench command; show what happened or why it did not. What the
        cabinet must answer is awaited in a task of its own, the view running meanwhile."""
        try:
            result = parse_command(line).run(self.bench)
        except (CommandError, BenchError) as error:
            self._tell(f"{line.strip()}: {error}", error=True)
            return
        if isinstance(result, str):
            self._tell(result)
            return
        self._tell(f"{line.strip()}: waiting for the cabinet...")
        task = asyncio.get_running_loop().create_task(self._answer(line, result))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, line: str, outcome: Outcome) -> None:
        assert not isinstance(outcome, str)
        try:
            said = await outcome
        except (CommandError, BenchError, CabinetRefused) as error:
            self._tell(f"{line.strip()}: {error}", error=True)
        else:
            self._tell(said)

    def _tell(self, text: str, *, error: bool = False) -> None:
        if not self.is_running:
            return
        message = self.query_one("#message", Static)
        message.update(Text(text))
        message.set_class(error, "error")
        self._wake.set()
