"""A fake ``RPi.GPIO`` module: the API subset :class:`drivers.gpio_api.GpioApi` names, with the
real module's semantics and errors, over simulated lines a test bench can drive.

Followed: RPi.GPIO 0.7 (``source/py_gpio.c``, ``source/event_gpio.c``). Kept from the real
module: its constants; ``setmode`` first (``RuntimeError`` otherwise), BCM channels 0-53 or the
40-pin header's BOARD numbers (``ValueError`` otherwise); ``setup`` refusing a pull on an output
or an ``initial`` on an input (``ValueError``); ``input`` of a channel not set up
(``RuntimeError``), of an output reading back its level; ``output`` to a channel not set up as
an output (``RuntimeError``); ``add_event_detect`` only on an input and only once
(``RuntimeError``), ``bouncetime`` in milliseconds dropping every edge closer than that to the
last one delivered (as the library does, even when the dropped edge is the one the contact
settles on); ``event_detected`` latching an edge until read; ``cleanup`` returning channels to
unconfigured inputs. Edge callbacks run on a separate thread, as the library's do, so a driver
must hop onto its event loop (``loop.call_soon_threadsafe``).

Deliberate differences, for deterministic tests: a bench hook that makes edges returns only
after the callback thread has run their callbacks (so an edge is on the event loop before the
bench hook returns, and virtual time cannot jump past it), and an exception in a callback is
re-raised by that bench hook (the library prints it and carries on). A floating input
(``PUD_OFF``, nothing driving it) reads LOW. No ``PWM``, ``wait_for_edge`` or lists of channels.

Bench hooks, in BCM numbers whatever the numbering mode: :meth:`FakeGpio.drive` (with contact
bounce), :meth:`~FakeGpio.let_float`, :meth:`~FakeGpio.stick` / :meth:`~FakeGpio.unstick` (a stuck
input), :meth:`~FakeGpio.fail` / :meth:`~FakeGpio.repair` (the controller refuses every call on
a channel, as rpi-lgpio reports a gpiochip that went away), :meth:`~FakeGpio.level`,
:meth:`~FakeGpio.writes`, :meth:`~FakeGpio.on_output` (hear every output written); and wiring
of whole parts: :meth:`~FakeGpio.wire_lock` (a solenoid latch whose feedback follows the coil
after a delay unless jammed), :meth:`~FakeGpio.wire_door`, :meth:`~FakeGpio.wire_ups` (a UPS
board's mains-present output).
"""

from __future__ import annotations

import asyncio
import functools
import queue
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FakeDoor", "FakeGpio", "FakeLatch", "FakeUps"]

Callback = Callable[[int], object]

_BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
    21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
    36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip
"""The 40-pin header's GPIO pins (BOARD numbering) and their BCM numbers."""

_DELIVERY_TIMEOUT_S = 5.0
"""How long a bench hook waits for the callback thread before giving up on it."""


@dataclass
class _Line:
    """One GPIO line: how the program set it up and what the outside world does to it."""

    pull: int
    direction: int | None = None
    out_level: int = 0
    driven: int | None = None
    stuck: int | None = None
    failed: bool = False
    writes: list[int] = field(default_factory=list)


def _set_driven(line: _Line, *, level: int | None) -> None:
    line.driven = level


def _set_stuck(line: _Line, *, level: int | None) -> None:
    line.stuck = level


@dataclass
class _EdgeDetect:
    edge: int
    bouncetime_ms: int | None
    callbacks: list[Callback]
    detected: bool = False
    last_delivered: float | None = None


@dataclass
class _Delivery:
    """Edges to run callbacks for, and how the bench hook learns they ran."""

    calls: list[tuple[Callback, int]]
    done: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


class FakeGpio:
    """A fake ``RPi.GPIO`` module object; pass it to the drivers where they take ``gpio``.

    ``clock`` (seconds) times ``bouncetime``; tests on virtual time pass ``loop.time``.
    """

    HIGH = 1
    LOW = 0
    BOARD = 10
    BCM = 11
    OUT = 0
    IN = 1
    PUD_OFF = 20
    PUD_DOWN = 21
    PUD_UP = 22
    RISING = 31
    FALLING = 32
    BOTH = 33

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._mode: int | None = None
        self._warnings = True
        self._lines: dict[int, _Line] = {}
        self._events: dict[int, _EdgeDetect] = {}
        self._latches: dict[int, FakeLatch] = {}
        self._output_listeners: list[Callable[[int], None]] = []
        self._queue: queue.SimpleQueue[_Delivery | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    # --- the RPi.GPIO API ---------------------------------------------------------------------

    def setmode(self, mode: int) -> None:
        with self._lock:
            if self._mode is not None and mode != self._mode:
                raise ValueError("A different mode has already been set!")
            if mode not in (self.BOARD, self.BCM):
                raise ValueError("An invalid mode was passed to setmode()")
            self._mode = mode

    def getmode(self) -> int | None:
        return self._mode

    def setwarnings(self, flag: bool) -> None:
        self._warnings = bool(flag)

    def setup(
        self, channel: int, direction: int, pull_up_down: int = PUD_OFF, initial: int = -1
    ) -> None:
        with self._lock:
            bcm = self._bcm(channel)
            if direction not in (self.IN, self.OUT):
                raise ValueError("An invalid direction was passed to setup()")
            if direction == self.OUT and pull_up_down != self.PUD_OFF:
                raise ValueError("pull_up_down parameter is not valid for outputs")
            if direction == self.IN and initial != -1:
                raise ValueError("initial parameter is not valid for inputs")
            if pull_up_down not in (self.PUD_OFF, self.PUD_UP, self.PUD_DOWN):
                raise ValueError(
                    "Invalid value for pull_up_down - should be either PUD_OFF, PUD_UP or PUD_DOWN"
                )
            line = self._line(bcm)
            self._refuse_if_failed(line)
            before = self._read(line)
            if direction == self.OUT and initial in (self.LOW, self.HIGH):
                line.out_level = initial
            line.direction = direction
            line.pull = pull_up_down
            delivery = self._edges(bcm, before)
        self._deliver(delivery)
        self._coil_moved(bcm)

    def input(self, channel: int) -> int:
        with self._lock:
            line = self._line(self._bcm(channel))
            if line.direction is None:
                raise RuntimeError("You must setup() the GPIO channel first")
            self._refuse_if_failed(line)
            return self._read(line)

    def output(self, channel: int, value: int) -> None:
        with self._lock:
            bcm = self._bcm(channel)
            line = self._line(bcm)
            if line.direction != self.OUT:
                raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
            self._refuse_if_failed(line)
            level = self.HIGH if value else self.LOW
            if level != line.out_level:
                line.writes.append(level)
            line.out_level = level
        self._coil_moved(bcm)
        for listener in self._output_listeners:
            listener(bcm)

    def add_event_detect(
        self, channel: int, edge: int, callback: Callback | None = None, bouncetime: int = -666
    ) -> None:
        with self._lock:
            if callback is not None and not callable(callback):
                raise TypeError("Parameter must be callable")
            bcm = self._bcm(channel)
            line = self._line(bcm)
            if line.direction != self.IN:
                raise RuntimeError("You must setup() the GPIO channel as an input first")
            if edge not in (self.RISING, self.FALLING, self.BOTH):
                raise ValueError("The edge must be set to RISING, FALLING or BOTH")
            if bouncetime <= 0 and bouncetime != -666:
                raise ValueError("Bouncetime must be greater than 0")
            if bcm in self._events:
                raise RuntimeError(
                    "Conflicting edge detection already enabled for this GPIO channel"
                )
            if line.failed:
                raise RuntimeError("Failed to add edge detection")
            self._events[bcm] = _EdgeDetect(
                edge=edge,
                bouncetime_ms=None if bouncetime == -666 else bouncetime,
                callbacks=[] if callback is None else [callback],
            )
            if callback is not None:
                self._start_thread()

    def remove_event_detect(self, channel: int) -> None:
        with self._lock:
            self._events.pop(self._bcm(channel), None)

    def event_detected(self, channel: int) -> bool:
        with self._lock:
            detect = self._events.get(self._bcm(channel))
            if detect is None or not detect.detected:
                return False
            detect.detected = False
            return True

    def cleanup(self, channel: int | None = None) -> None:
        with self._lock:
            if channel is None:
                channels = list(self._lines)
                self._mode = None
            else:
                channels = [self._bcm(channel)]
            found = False
            for bcm in channels:
                self._events.pop(bcm, None)
                line = self._line(bcm)
                found = found or line.direction is not None
                line.direction = None
                line.pull = self.PUD_OFF
        if not found and self._warnings:
            warnings.warn(
                "No channels have been set up yet - nothing to clean up!  "
                "Try cleaning up at the end of your program instead!",
                RuntimeWarning,
                stacklevel=2,
            )
        if channel is None:
            self._stop_thread()
        for bcm in channels:
            self._coil_moved(bcm)

    # --- bench hooks ---------------------------------------------------------------------------

    def drive(self, channel: int, level: int, *, bounces: int = 0) -> None:
        """Drive input ``channel`` (BCM) to ``level`` from outside, as a switch or another
        board does. ``bounces`` > 0 first makes that many bounces (a burst of opposite and
        target levels at one instant), as a mechanical contact does when it closes."""
        if bounces < 0:
            raise ValueError(f"bounces must be >= 0, got {bounces}")
        target = self.HIGH if level else self.LOW
        for step in [target, 1 - target] * bounces + [target]:
            self._change(channel, functools.partial(_set_driven, level=step))

    def let_float(self, channel: int) -> None:
        """Stop driving ``channel``: it reads its pull again (LOW without one)."""
        self._change(channel, functools.partial(_set_driven, level=None))

    def stick(self, channel: int, level: int) -> None:
        """Stick ``channel`` at ``level`` whatever drives it: a failed sensor, a shorted wire."""
        stuck = self.HIGH if level else self.LOW
        self._change(channel, functools.partial(_set_stuck, level=stuck))

    def unstick(self, channel: int) -> None:
        """Free a stuck channel."""
        self._change(channel, functools.partial(_set_stuck, level=None))

    def fail(self, channel: int) -> None:
        """Make the controller refuse every call on ``channel`` with ``RuntimeError``, as
        rpi-lgpio does when its gpiochip is gone; :meth:`repair` undoes it."""
        with self._lock:
            self._line(channel).failed = True

    def repair(self, channel: int) -> None:
        """Undo :meth:`fail`."""
        with self._lock:
            self._line(channel).failed = False

    def level(self, channel: int) -> int:
        """The level ``channel`` carries now: what an output drives, what an input reads."""
        with self._lock:
            return self._read(self._line(channel))

    def writes(self, channel: int) -> tuple[int, ...]:
        """Every level change the program wrote to output ``channel``, oldest first."""
        with self._lock:
            return tuple(self._line(channel).writes)

    def pull(self, channel: int) -> int:
        """The pull resistor the program set on ``channel``."""
        with self._lock:
            return self._line(channel).pull

    def is_set_up(self, channel: int) -> bool:
        """Whether the program has ``channel`` set up (and not cleaned up)."""
        with self._lock:
            return self._line(channel).direction is not None

    def wire_lock(
        self,
        *,
        coil: int,
        feedback: int | None = None,
        coil_active_high: bool = True,
        feedback_locked_level: int = LOW,
        delay_s: float = 0.02,
    ) -> FakeLatch:
        """Wire a fail-secure solenoid latch to output ``coil``, its feedback switch (if any)
        driving input ``feedback``: the latch opens ``delay_s`` after the coil is energised and
        closes ``delay_s`` after it is not, unless jammed. Delays run on the asyncio loop of
        the thread that moved the coil (virtual time in tests), at once without one."""
        latch = FakeLatch(
            self,
            coil=coil,
            feedback=feedback,
            coil_active_high=coil_active_high,
            feedback_locked_level=feedback_locked_level,
            delay_s=delay_s,
        )
        with self._lock:
            if coil in self._latches:
                raise ValueError(f"GPIO{coil} already drives a latch")
            self._latches[coil] = latch
        latch.settle()
        return latch

    def wire_door(self, channel: int, *, open_level: int = HIGH, is_open: bool = False) -> FakeDoor:
        """Wire a door contact to input ``channel``: it reads ``open_level`` while the door is
        open (a reed switch to ground with a pull-up reads HIGH when open)."""
        door = FakeDoor(self, channel, open_level=open_level)
        door.move(is_open=is_open, bounces=0)
        return door

    def wire_ups(self, channel: int, *, mains_level: int = HIGH) -> FakeUps:
        """Wire a UPS board's mains-present output to input ``channel``; mains starts present."""
        ups = FakeUps(self, channel, mains_level=mains_level)
        ups.restore_mains()
        return ups

    def on_output(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` with the BCM number after every ``output()`` call, as a board
        that decodes output lines (an RF multiplexer's select inputs) sees them change."""
        self._output_listeners.append(listener)

    def close(self) -> None:
        """Stop the callback thread (the real library's ends with the process)."""
        self._stop_thread()

    # --- internals -----------------------------------------------------------------------------

    def _bcm(self, channel: int) -> int:
        if self._mode is None:
            raise RuntimeError(
                "Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or "
                "GPIO.setmode(GPIO.BCM)"
            )
        if self._mode == self.BCM:
            if 0 <= channel < 54:
                return channel
        elif channel in _BOARD_TO_BCM:
            return _BOARD_TO_BCM[channel]
        raise ValueError("The channel sent is invalid on a Raspberry Pi")

    def _channel(self, bcm: int) -> int:
        """The channel number a callback receives: BCM, or the header pin in BOARD mode."""
        if self._mode == self.BOARD:
            return next(pin for pin, line in _BOARD_TO_BCM.items() if line == bcm)
        return bcm

    def _line(self, bcm: int) -> _Line:
        line = self._lines.get(bcm)
        if line is None:
            line = self._lines[bcm] = _Line(pull=self.PUD_OFF)
        return line

    def _refuse_if_failed(self, line: _Line) -> None:
        if line.failed:
            raise RuntimeError("GPIO not allocated (simulated controller failure)")

    def _read(self, line: _Line) -> int:
        if line.stuck is not None:
            return line.stuck
        if line.direction == self.OUT:
            return line.out_level
        if line.driven is not None:
            return line.driven
        return self.HIGH if line.pull == self.PUD_UP else self.LOW

    def _change(self, bcm: int, update: Callable[[_Line], None]) -> None:
        """Change what the world does to line ``bcm`` and deliver the edge it makes."""
        if not 0 <= bcm < 54:
            raise ValueError(f"GPIO{bcm} is not a BCM GPIO number (0-53)")
        with self._lock:
            line = self._line(bcm)
            before = self._read(line)
            update(line)
            delivery = self._edges(bcm, before)
        self._deliver(delivery)

    def _drives_level(self, bcm: int) -> int | None:
        """The level output ``bcm`` drives, or None if it is not an output."""
        with self._lock:
            line = self._line(bcm)
            return line.out_level if line.direction == self.OUT else None

    def _edges(self, bcm: int, before: int) -> _Delivery | None:
        """Record the edge ``bcm`` made (if any) and collect its callbacks; lock held."""
        line = self._line(bcm)
        after = self._read(line)
        detect = self._events.get(bcm)
        if after == before or detect is None or line.direction != self.IN:
            return None
        if detect.edge not in (self.BOTH, self.RISING if after == self.HIGH else self.FALLING):
            return None
        now = self._clock()
        if (
            detect.bouncetime_ms is not None
            and detect.last_delivered is not None
            and (now - detect.last_delivered) * 1000 <= detect.bouncetime_ms
        ):
            return None
        detect.last_delivered = now
        detect.detected = True
        channel = self._channel(bcm)
        return _Delivery([(callback, channel) for callback in detect.callbacks])

    def _deliver(self, delivery: _Delivery | None) -> None:
        """Run ``delivery`` on the callback thread and wait until it has (lock not held)."""
        if delivery is None or not delivery.calls:
            return
        self._queue.put(delivery)
        if threading.current_thread() is self._thread:
            return
        delivery.done.wait(_DELIVERY_TIMEOUT_S)
        if delivery.errors:
            raise delivery.errors[0]

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run_callbacks, name="fake-gpio-events", daemon=True
            )
            self._thread.start()

    def _stop_thread(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            if thread is not threading.current_thread():
                thread.join(_DELIVERY_TIMEOUT_S)

    def _run_callbacks(self) -> None:
        while (delivery := self._queue.get()) is not None:
            for callback, channel in delivery.calls:
                try:
                    callback(channel)
                except Exception as error:  # noqa: BLE001 - handed to the bench hook to raise
                    delivery.errors.append(error)
            delivery.done.set()

    def _coil_moved(self, bcm: int) -> None:
        latch = self._latches.get(bcm)
        if latch is not None:
            latch.settle()


class FakeLatch:
    """A solenoid latch wired by :meth:`FakeGpio.wire_lock`. Bench hooks: :meth:`jam`,
    :meth:`free`; :attr:`locked` and :attr:`energised` tell what the mechanism does."""

    def __init__(
        self,
        gpio: FakeGpio,
        *,
        coil: int,
        feedback: int | None,
        coil_active_high: bool,
        feedback_locked_level: int,
        delay_s: float,
    ) -> None:
        self._gpio = gpio
        self.coil = coil
        self.feedback = feedback
        self._active_level = gpio.HIGH if coil_active_high else gpio.LOW
        self._locked_level = gpio.HIGH if feedback_locked_level else gpio.LOW
        self._delay_s = delay_s
        self.jammed = False
        self.locked = True
        self._pending: asyncio.TimerHandle | None = None

    @property
    def energised(self) -> bool:
        """Whether the coil is powered: set up as an output and driven to its active level."""
        return self._gpio._drives_level(self.coil) == self._active_level

    def jam(self) -> None:
        """Jam the latch where it is: the coil can no longer move it."""
        self.jammed = True

    def free(self) -> None:
        """Unjam the latch; it follows the coil again (after its delay)."""
        self.jammed = False
        self.settle()

    def settle(self) -> None:
        """Start moving toward where the coil wants the latch (called when the coil changes)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._delay_s <= 0:
            self._move()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._move()
            return
        self._pending = loop.call_later(self._delay_s, self._move)

    def _move(self) -> None:
        self._pending = None
        if self.jammed:
            self._report()
            return
        self.locked = not self.energised
        self._report()

    def _report(self) -> None:
        if self.feedback is None:
            return
        level = self._locked_level if self.locked else 1 - self._locked_level
        self._gpio.drive(self.feedback, level)


class FakeDoor:
    """A door contact wired by :meth:`FakeGpio.wire_door`. Bench hooks: :meth:`open`,
    :meth:`close` (with contact bounce)."""

    def __init__(self, gpio: FakeGpio, channel: int, *, open_level: int) -> None:
        self._gpio = gpio
        self.channel = channel
        self._open_level = gpio.HIGH if open_level else gpio.LOW
        self.is_open = False

    def open(self, *, bounces: int = 0) -> None:
        self.move(is_open=True, bounces=bounces)

    def close(self, *, bounces: int = 0) -> None:
        self.move(is_open=False, bounces=bounces)

    def move(self, *, is_open: bool, bounces: int) -> None:
        self.is_open = is_open
        level = self._open_level if is_open else 1 - self._open_level
        self._gpio.drive(self.channel, level, bounces=bounces)


class FakeUps:
    """A UPS board's mains-present output wired by :meth:`FakeGpio.wire_ups`. Bench hooks:
    :meth:`cut_mains`, :meth:`restore_mains` (``bounces`` for a flickering supply)."""

    def __init__(self, gpio: FakeGpio, channel: int, *, mains_level: int) -> None:
        self._gpio = gpio
        self.channel = channel
        self._mains_level = gpio.HIGH if mains_level else gpio.LOW
        self.mains = True

    def cut_mains(self, *, bounces: int = 0) -> None:
        self.mains = False
        self._gpio.drive(self.channel, 1 - self._mains_level, bounces=bounces)

    def restore_mains(self, *, bounces: int = 0) -> None:
        self.mains = True
        self._gpio.drive(self.channel, self._mains_level, bounces=bounces)
