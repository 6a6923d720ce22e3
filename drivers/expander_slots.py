"""Cabinet slot parts over MCP23017 expander pins: :class:`ExpanderLock`,
:class:`ExpanderPresenceSensor` and :class:`ExpanderSlotLight`, implementing the HAL's
:class:`~agent.hal.parts.Lock`, :class:`~agent.hal.parts.PresenceSensor` and
:class:`~agent.hal.parts.SlotLight`.

Each part is given its pins as :class:`ExpanderPin` values (Linux bus number, chip address,
pin 0-15 with GPA0-GPA7 = 0-7 and GPB0-GPB7 = 8-15) and an :class:`Expanders`, which holds one
:class:`~drivers.mcp23017.MCP23017` driver per (bus, address) so that the parts on one chip
share it. Errors from a chip are raised again under the part's name, with the chip in the
detail (obligation: errors carry the part's name).

Electrical conventions (the reference board; change the levels with the constructor arguments):

* solenoid: the pin drives a low-side MOSFET or ULN2803 channel, high = energised = released;
  a fail-secure lock is locked without power;
* latch feedback: a microswitch on the bolt, closing to ground while the bolt is thrown, with
  the chip's pull-up: low = locked;
* presence: a reflective optical sensor with an open-collector output, or a microswitch,
  pulling low while a unit is in the slot, with the chip's pull-up: low = present;
* light: three LEDs (or a common-cathode RGB LED) on three output pins through a driver,
  high = on; off is all three off, each colour is its one LED.

Reference wiring (:func:`reference_wiring`): one slot per 8-pin port, so a chip serves two
slots and a dead chip takes exactly two slots with it:

========  =============  =========  ==================
pin       direction      slot part  level
========  =============  =========  ==================
GPx0      input, pull-up presence   low = unit present
GPx1      input, pull-up latch      low = locked
GPx2      output         solenoid   high = released
GPx3      output         red LED    high = on
GPx4      output         amber LED  high = on
GPx5      output         green LED  high = on
GPx6      output (low)   spare
GPx7      output (low)   spare      output-only pin
========  =============  =========  ==================

Slot ``s`` (1-based) is on port A (``s`` odd) or B (``s`` even) of chip ``(s - 1) // 2``;
chips fill addresses 0x20-0x27 of each bus in turn. 72 slots take 36 chips on 5 buses (the
Pi's i2c-1 and i2c-3..6 from the ``i2c3``-``i2c6`` overlays, or five channels of a TCA9548A
multiplexer, which Linux presents as buses too). Packing six pins per slot without gaps would
need 27 chips, but would split slots across chips and put inputs on the output-only GPx7 pins.

Timing: locks confirm the latch within ``settle_s`` by polling its feedback; a released lock
engages itself after ``max_release_s`` by a background task the lock owns (the HAL's solenoid
obligation); presence is sampled every ``poll_interval_s`` (or when the chip's INT line fires,
if an ``interrupt`` awaitable is given) and debounced over ``debounce_s``. All waits are
``asyncio.sleep``; bus transactions are inline (see :mod:`drivers.i2c_bus`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from agent.hal.errors import HalError, LockJammed, ReadFailed
from agent.hal.parts import LightColour
from drivers.i2c_bus import DEFAULT_RETRY, RetryPolicy, SMBusLike
from drivers.mcp23017 import MCP23017, pin_label

__all__ = [
    "ExpanderLock",
    "ExpanderPin",
    "ExpanderPresenceSensor",
    "ExpanderSlotLight",
    "Expanders",
    "SlotWiring",
    "reference_wiring",
]

REFERENCE_BUSES = (1, 3, 4, 5, 6)


@dataclass(frozen=True, slots=True)
class ExpanderPin:
    """One pin of one MCP23017: ``bus`` is the Linux bus number (``/dev/i2c-<bus>``),
    ``address`` the chip's 0x20-0x27, ``pin`` 0-15 (GPA0-GPA7, then GPB0-GPB7)."""

    bus: int
    address: int
    pin: int

    def __post_init__(self) -> None:
        if self.bus < 0:
            raise ValueError(f"bus numbers are not negative, got {self.bus}")
        if not 0x20 <= self.address <= 0x27:
            raise ValueError(f"an MCP23017 answers at 0x20-0x27, not {self.address:#x}")
        pin_label(self.pin)

    def __str__(self) -> str:
        return f"i2c-{self.bus}/{self.address:#04x}/{pin_label(self.pin)}"


@dataclass(frozen=True, slots=True)
class SlotWiring:
    """The six pins of one slot in the reference wiring."""

    presence: ExpanderPin
    latch: ExpanderPin
    solenoid: ExpanderPin
    red: ExpanderPin
    amber: ExpanderPin
    green: ExpanderPin


def reference_wiring(
    slots: int, *, buses: Sequence[int] = REFERENCE_BUSES
) -> dict[int, SlotWiring]:
    """The reference wiring of slots 1..``slots`` (see the module docstring)."""
    chips_needed = (slots + 1) // 2
    if slots < 1:
        raise ValueError(f"a cabinet has at least one slot, not {slots}")
    if chips_needed > 8 * len(buses):
        raise ValueError(
            f"{slots} slots need {chips_needed} expanders; {len(buses)} buses hold {8 * len(buses)}"
        )
    wiring: dict[int, SlotWiring] = {}
    for slot in range(1, slots + 1):
        chip, port = divmod(slot - 1, 2)
        bus, address = buses[chip // 8], 0x20 + chip % 8
        pins = [ExpanderPin(bus, address, 8 * port + offset) for offset in range(6)]
        wiring[slot] = SlotWiring(*pins)
    return wiring


class Expanders:
    """The MCP23017s of one device: one driver per (bus, address), made on first use.

    ``buses`` maps Linux bus numbers to open buses (``smbus2.SMBus(n)``); this class never
    opens or closes them.
    """

    def __init__(
        self, buses: Mapping[int, SMBusLike], *, retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        self._buses = dict(buses)
        self._retry = retry
        self._chips: dict[tuple[int, int], MCP23017] = {}

    def chip(self, bus: int, address: int) -> MCP23017:
        key = (bus, address)
        chip = self._chips.get(key)
        if chip is None:
            if bus not in self._buses:
                raise ValueError(f"no I2C bus {bus} was given (have {sorted(self._buses)})")
            chip = MCP23017(
                self._buses[bus],
                address,
                name=f"mcp23017@i2c-{bus}/{address:#04x}",
                retry=self._retry,
            )
            self._chips[key] = chip
        return chip

    def chip_of(self, pin: ExpanderPin) -> MCP23017:
        return self.chip(pin.bus, pin.address)

    @property
    def chips(self) -> tuple[MCP23017, ...]:
        return tuple(self._chips.values())


@contextlib.contextmanager
def _as_part(name: str) -> Iterator[None]:
    """Raise a chip's error again under the part's name."""
    try:
        yield
    except HalError as error:
        if error.part == name:
            raise
        raise type(error)(name, f"{error.detail} ({error.part})") from error


async def _read_pin(expanders: Expanders, pin: ExpanderPin, *, max_age_s: float = 0.0) -> bool:
    inputs = await expanders.chip_of(pin).read_inputs(max_age_s=max_age_s)
    return bool(inputs >> pin.pin & 1)


async def _write_pin(expanders: Expanders, pin: ExpanderPin, level: bool) -> None:
    bit = 1 << pin.pin
    await expanders.chip_of(pin).write_outputs(bit if level else 0, bit)


class ExpanderLock:
    """A fail-secure solenoid lock: a solenoid on an output pin, and optionally the latch's
    feedback switch on an input pin.

    Keeps the :class:`~agent.hal.parts.Lock` obligations: ``release()`` returns once the
    feedback reads unlocked and raises :class:`LockJammed` (after de-energising) if it still
    reads locked after ``settle_s``; the solenoid is de-energised ``max_release_s`` after a
    release whatever happens (the timer is armed before the solenoid is driven, and retries a
    failing bus until it succeeds); ``is_locked()`` reads the feedback. Without a feedback pin
    the lock cannot see a jam, and ``is_locked()`` reports the solenoid latch (OLAT) as read
    back from the chip: a weaker check, for locks built without a switch.

    Arguments: ``solenoid`` and ``feedback`` pins; ``feedback_locked_level`` the feedback
    level while locked (default low); ``max_release_s`` the longest energised time;
    ``settle_s`` how long the latch may take to move; ``feedback_poll_s`` how often it is
    read meanwhile. A release and an engage never overlap: an ``engage()`` during a release
    waits for it (at most ``settle_s``), so it cannot pass for a jam.
    """

    def __init__(
        self,
        name: str,
        expanders: Expanders,
        *,
        solenoid: ExpanderPin,
        feedback: ExpanderPin | None,
        max_release_s: float = 5.0,
        settle_s: float = 0.15,
        feedback_poll_s: float = 0.01,
        feedback_locked_level: bool = False,
    ) -> None:
        if max_release_s <= settle_s:
            raise ValueError(f"max_release_s ({max_release_s}) must exceed settle_s ({settle_s})")
        if feedback_poll_s <= 0:
            raise ValueError("feedback_poll_s must be positive")
        self.name = name
        self.max_release_s = max_release_s
        self._expanders = expanders
        self._solenoid = solenoid
        self._feedback = feedback
        self._settle_s = settle_s
        self._feedback_poll_s = feedback_poll_s
        self._locked_level = feedback_locked_level
        self._auto_engage: asyncio.Task[None] | None = None
        self._motion = asyncio.Lock()
        expanders.chip_of(solenoid).claim_output(solenoid.pin, owner=name)
        if feedback is not None:
            expanders.chip_of(feedback).claim_input(feedback.pin, owner=name, pull_up=True)

    async def release(self) -> None:
        async with self._motion:
            await self._release()

    async def _release(self) -> None:
        self._arm_auto_engage()
        with _as_part(self.name):
            await _write_pin(self._expanders, self._solenoid, True)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._settle_s
            while await self._latch_locked():
                if loop.time() >= deadline:
                    await self._de_energise()
                    raise LockJammed(
                        self.name,
                        f"solenoid {self._solenoid} energised, latch {self._feedback} "
                        f"still reads locked after {self._settle_s} s",
                    )
                await asyncio.sleep(self._feedback_poll_s)

    async def engage(self) -> None:
        async with self._motion:
            with _as_part(self.name):
                await self._de_energise()

    async def is_locked(self) -> bool:
        with _as_part(self.name):
            return await self._latch_locked()

    async def _latch_locked(self) -> bool:
        if self._feedback is None:
            latch = await self._expanders.chip_of(self._solenoid).read_latch()
            return not latch >> self._solenoid.pin & 1
        return await _read_pin(self._expanders, self._feedback) == self._locked_level

    async def _de_energise(self) -> None:
        self._cancel_auto_engage()
        await _write_pin(self._expanders, self._solenoid, False)

    def _arm_auto_engage(self) -> None:
        self._cancel_auto_engage()
        self._auto_engage = asyncio.get_running_loop().create_task(
            self._engage_after(self.max_release_s), name=f"{self.name}-auto-engage"
        )

    def _cancel_auto_engage(self) -> None:
        task, self._auto_engage = self._auto_engage, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _engage_after(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        backoff_s = 0.05
        while True:
            try:
                await _write_pin(self._expanders, self._solenoid, False)
            except HalError:
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 1.0)
            else:
                self._auto_engage = None
                return


class ExpanderPresenceSensor:
    """A slot's presence input, debounced (:class:`~agent.hal.parts.PresenceSensor`).

    A change counts once the input has held its new level for ``debounce_s`` (every sample in
    between agreeing), so a bouncing insertion is one change. ``read()`` returns the debounced
    state from a fresh read: the last stable one if the input still agrees with it, else it
    waits out the debounce. ``watch()`` samples every ``poll_interval_s``; with ``interrupt``
    (an awaitable that returns when the chip's INT line has fired, such as
    :meth:`drivers.gpio_interrupt.InterruptLine.waiter` of the Pi pin it is wired to) it sleeps
    until the interrupt or ``idle_poll_s``, whichever is first, so a missed edge costs latency,
    never a change. The parts of one chip share a read younger than half a poll interval,
    except right after an interrupt, which says the inputs changed: that sample is fresh.

    Arguments: ``pin``; ``present_level`` the input level while a unit is present (default
    low); ``pull_up`` the chip's pull-up on the pin (default on).
    """

    def __init__(
        self,
        name: str,
        slot: int,
        expanders: Expanders,
        *,
        pin: ExpanderPin,
        present_level: bool = False,
        pull_up: bool = True,
        debounce_s: float = 0.05,
        poll_interval_s: float = 0.02,
        interrupt: Callable[[], Awaitable[None]] | None = None,
        idle_poll_s: float = 1.0,
    ) -> None:
        if poll_interval_s <= 0 or debounce_s < 0 or idle_poll_s < poll_interval_s:
            raise ValueError(
                "need poll_interval_s > 0, debounce_s >= 0 and idle_poll_s >= poll_interval_s"
            )
        self.name = name
        self.slot = slot
        self._expanders = expanders
        self._pin = pin
        self._present_level = present_level
        self._debounce_s = debounce_s
        self._poll_interval_s = poll_interval_s
        self._interrupt = interrupt
        self._idle_poll_s = idle_poll_s
        self._stable: bool | None = None
        expanders.chip_of(pin).claim_input(
            pin.pin, owner=name, pull_up=pull_up, interrupt=interrupt is not None
        )

    async def read(self) -> bool:
        with _as_part(self.name):
            sample = await self._sample(fresh=True)
            if sample != self._stable:
                self._stable = await self._settle(sample)
            return self._stable

    async def watch(self) -> AsyncIterator[bool]:
        state = await self.read()
        yield state
        while True:
            interrupted = await self._wait_for_next_sample()
            with _as_part(self.name):
                sample = await self._sample(fresh=interrupted)
                if sample == state:
                    continue
                settled = await self._settle(sample)
            self._stable = settled
            if settled != state:
                state = settled
                yield state

    async def _sample(self, *, fresh: bool = False) -> bool:
        max_age_s = 0.0 if fresh else self._poll_interval_s / 2
        level = await _read_pin(self._expanders, self._pin, max_age_s=max_age_s)
        return level == self._present_level

    async def _settle(self, candidate: bool) -> bool:
        """Wait until the input has held one value for ``debounce_s``; return that value."""
        loop = asyncio.get_running_loop()
        since = loop.time()
        while loop.time() - since < self._debounce_s:
            await asyncio.sleep(self._poll_interval_s)
            sample = await self._sample()
            if sample != candidate:
                candidate, since = sample, loop.time()
        return candidate

    async def _wait_for_next_sample(self) -> bool:
        """Wait for the next sample; True if the chip's interrupt woke it: the inputs have
        changed since any read the chip's parts share, so the sample must be fresh."""
        if self._interrupt is None:
            await asyncio.sleep(self._poll_interval_s)
            return False
        try:
            async with asyncio.timeout(self._idle_poll_s):
                await self._interrupt()
        except TimeoutError:
            return False
        return True


_COLOUR_LEDS = {
    LightColour.OFF: (False, False, False),
    LightColour.RED: (True, False, False),
    LightColour.AMBER: (False, True, False),
    LightColour.GREEN: (False, False, True),
}
"""(red, amber, green) LED states of each colour."""


class ExpanderSlotLight:
    """A slot light of three LEDs on three output pins (:class:`~agent.hal.parts.SlotLight`).

    ``set()`` returns once every chip involved has read back its latch as written;
    ``colour()`` decodes the latches as the chips report them, and a combination that is no
    colour (two LEDs on) is :class:`~agent.hal.errors.ReadFailed`. The three pins should sit on
    one chip (as in the reference wiring): then a colour change is one verified write.
    """

    def __init__(
        self,
        name: str,
        slot: int,
        expanders: Expanders,
        *,
        red: ExpanderPin,
        amber: ExpanderPin,
        green: ExpanderPin,
    ) -> None:
        self.name = name
        self.slot = slot
        self._expanders = expanders
        self._pins = (red, amber, green)
        for pin in self._pins:
            expanders.chip_of(pin).claim_output(pin.pin, owner=name)

    async def set(self, colour: LightColour) -> None:
        levels = _COLOUR_LEDS[colour]
        writes: dict[tuple[int, int], tuple[int, int]] = {}
        for pin, level in zip(self._pins, levels, strict=True):
            value, mask = writes.get((pin.bus, pin.address), (0, 0))
            bit = 1 << pin.pin
            writes[(pin.bus, pin.address)] = (value | (bit if level else 0), mask | bit)
        with _as_part(self.name):
            for (bus, address), (value, mask) in writes.items():
                await self._expanders.chip(bus, address).write_outputs(value, mask)

    async def colour(self) -> LightColour:
        latches: dict[tuple[int, int], int] = {}
        with _as_part(self.name):
            for pin in self._pins:
                key = (pin.bus, pin.address)
                if key not in latches:
                    latches[key] = await self._expanders.chip(*key).read_latch()
        levels = tuple(bool(latches[(pin.bus, pin.address)] >> pin.pin & 1) for pin in self._pins)
        for colour, leds in _COLOUR_LEDS.items():
            if leds == levels:
                return colour
        raise ReadFailed(self.name, f"LEDs (red, amber, green) read {levels}: no colour")
