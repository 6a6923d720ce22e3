"""Where the agent's time comes from.

Invariant 7 of the brief: every record carries wall-clock time, monotonic time and whether the
wall clock was synchronised; delays and alarms run on monotonic time. No module of the agent
reads :func:`time.time` or :func:`time.monotonic` itself: it is handed a :class:`Clock`. On a
device that is :class:`SystemClock`; in the simulator and in tests it is
:class:`hal_sim.clock.SimClock`, whose time is the virtual time of its event loop.

Sleeping is ``asyncio.sleep`` on the running loop in both cases: the simulator runs the agent on
an event loop whose ``time()`` is virtual, so ``asyncio.sleep``, ``asyncio.timeout`` and
``loop.call_later`` all follow the same clock as :meth:`Clock.monotonic`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "kernel_clock_synchronised"]


class Clock(Protocol):
    """The agent's view of time.

    An implementation must:

    * return from :meth:`monotonic` seconds that never go backwards and that are the same
      seconds the running event loop sleeps in;
    * return from :meth:`wall_ns` the wall-clock time as nanoseconds since the Unix epoch (UTC),
      which may jump when the clock is set;
    * say in :meth:`synchronised` whether the wall clock is currently disciplined by a time
      source (NTP, GNSS, PTP); an unsynchronised clock is still used, and records say so.
    """

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; for delays, timeouts and alarms."""
        ...

    def wall_ns(self) -> int:
        """Wall-clock time, nanoseconds since the Unix epoch."""
        ...

    def synchronised(self) -> bool:
        """True when the wall clock is disciplined by a time source right now."""
        ...


class _Timex(ctypes.Structure):
    """``struct timex`` from ``<sys/timex.h>`` (Linux); only ``status`` is read."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


_TIME_ERROR = 5  # adjtimex() return value: the clock is not synchronised


def kernel_clock_synchronised() -> bool:
    """Ask the Linux kernel whether NTP (or another time source) disciplines the clock.

    ``adjtimex(2)`` with ``modes = 0`` only reads; it returns ``TIME_ERROR`` while the kernel's
    ``STA_UNSYNC`` flag is set, which is what ``timedatectl`` reports as "System clock
    synchronized: no". Anywhere the call is not available the answer is ``False``: a record
    must never claim a synchronised clock it cannot vouch for.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    adjtimex = getattr(libc, "adjtimex", None)
    if adjtimex is None:
        return False
    timex = _Timex()
    state = adjtimex(ctypes.byref(timex))
    return bool(state not in (-1, _TIME_ERROR))


class SystemClock:
    """The device's clocks: ``CLOCK_MONOTONIC``, ``CLOCK_REALTIME`` and the kernel's NTP state.

    The synchronisation state is re-read at most every ``sync_check_interval`` seconds, because
    it is asked for every record.
    """

    def __init__(self, *, sync_check_interval: float = 10.0) -> None:
        self._interval = sync_check_interval
        self._checked_at = -float("inf")
        self._synchronised = False

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ns(self) -> int:
        return time.time_ns()

    def synchronised(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= self._interval:
            self._synchronised = kernel_clock_synchronised()
            self._checked_at = now
        return self._synchronised
