"""Shared fixtures: running coroutines on virtual time; Hypothesis without a wall-clock deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import settings

from hal_sim.clock import VirtualTimeLoop

# Tests must not fail because the machine is slow: Hypothesis's default 200 ms deadline per
# example failed a large generated batch on a loaded CI machine (the rerun that confirms a
# deadline miss then tripped over the example's size). Speed is measured in benchmarks/.
settings.register_profile("hemotrace", deadline=None)
settings.load_profile("hemotrace")

T = TypeVar("T")

RunVirtual = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture
def run_virtual() -> Iterator[RunVirtual[Any]]:
    """Run a coroutine to completion on a fresh virtual-time loop (as fast as possible)."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        yield runner.run


pytest_plugins = ["tests.support.postgres", "tests.support.fixtures"]
