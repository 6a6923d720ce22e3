"""The virtual-time loop: days of sleeping take no wall time, order is kept, I/O still works."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from hal_sim.clock import SimClock, VirtualTimeLoop


def test_a_simulated_day_of_sleeping_advances_virtual_time_exactly(run_virtual) -> None:
    async def body() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ticks = 0
        for _ in range(24):
            await asyncio.sleep(3600)
            ticks += 1
        return loop.time() - start, ticks

    elapsed, ticks = run_virtual(body())
    assert ticks == 24
    assert elapsed == pytest.approx(86400.0)


def test_timers_fire_in_deadline_order(run_virtual) -> None:
    async def body() -> list[str]:
        order: list[str] = []

        async def after(delay: float, name: str) -> None:
            await asyncio.sleep(delay)
            order.append(name)

        await asyncio.gather(after(30, "c"), after(10, "a"), after(20, "b"))
        return order

    assert run_virtual(body()) == ["a", "b", "c"]


def test_asyncio_timeout_follows_virtual_time(run_virtual) -> None:
    async def body() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(600):
                await asyncio.Event().wait()
        return loop.time() - start

    assert run_virtual(body()) == pytest.approx(600.0)


def test_ready_io_is_handled_before_time_jumps(run_virtual) -> None:
    async def body() -> tuple[bytes, float]:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        left.setblocking(False)
        right.setblocking(False)
        start = loop.time()
        right.send(b"ping")
        data = await loop.sock_recv(left, 4)
        elapsed = loop.time() - start
        left.close()
        right.close()
        return data, elapsed

    data, elapsed = run_virtual(body())
    assert data == b"ping"
    assert elapsed == 0.0


def test_finite_speed_runs_virtual_time_faster_than_wall_time() -> None:
    loop = VirtualTimeLoop(speed=1000.0)
    try:
        loop.run_until_complete(asyncio.sleep(50.0))
        assert loop.time() >= 50.0
    finally:
        loop.close()


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="speed"):
        VirtualTimeLoop(speed=0)
    loop = VirtualTimeLoop()
    try:
        with pytest.raises(ValueError, match="speed"):
            loop.speed = -1.0
    finally:
        loop.close()


def test_sim_clock_wall_time_follows_virtual_time(run_virtual) -> None:
    async def body() -> tuple[int, int, float, float]:
        clock = SimClock(asyncio.get_running_loop(), wall_epoch_ns=1_000_000_000_000)
        wall0, mono0 = clock.wall_ns(), clock.monotonic()
        await asyncio.sleep(90.5)
        return wall0, clock.wall_ns(), mono0, clock.monotonic()

    wall0, wall1, mono0, mono1 = run_virtual(body())
    assert wall0 == 1_000_000_000_000
    assert wall1 - wall0 == 90_500_000_000
    assert mono1 - mono0 == pytest.approx(90.5)


def test_time_stands_still_while_a_thread_works_for_the_loop(run_virtual) -> None:
    """A journal commit in a worker thread must take no simulated time at full speed, or a
    sampler waiting for it would miss its ticks."""

    async def body() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(1.0)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        start = loop.time()
        await asyncio.to_thread(time.sleep, 0.2)
        elapsed = loop.time() - start
        task.cancel()
        return elapsed, ticks

    elapsed, ticks = run_virtual(body())
    assert elapsed == 0.0
    assert ticks == 0
