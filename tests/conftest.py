"""Shared fixtures: running coroutines on virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from hal_sim.clock import VirtualTimeLoop

T = TypeVar("T")

RunVirtual = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture
def run_virtual() -> Iterator[RunVirtual[Any]]:
    """Run a coroutine to completion on a fresh virtual-time loop (as fast as possible)."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        yield runner.run


pytest_plugins = ["tests.support.postgres", "tests.support.fixtures"]
