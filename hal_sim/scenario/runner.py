"""Run scenario files: each on a fresh simulated device, on virtual time, with a report.

:func:`run_scenario_files` is what ``hemotrace sim run SCENARIO...`` calls. For each file it
loads and checks the whole scenario (a file with problems is reported and not run), builds the
device of its profile, starts the agent on a new :class:`~hal_sim.clock.VirtualTimeLoop`
(a cabinet is sent the staff badge list, unless the scenario says not to), stocks the units -
a cabinet's through its stock-in workflow, by the simulated technician - and walks the steps
in time order, sleeping on the virtual clock between them. Time 0 is when the device is
started and stocked. Each action is applied and each expectation checked at its step's time;
the report goes to stdout, the agent's event log to the logging system.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from agent.config.schema import DeviceKind
from hal_sim.clock import new_virtual_loop
from hal_sim.device import BenchError
from hal_sim.scenario import report
from hal_sim.scenario.errors import ScenarioError
from hal_sim.scenario.expectations import sampled_probe
from hal_sim.scenario.format import load_scenario
from hal_sim.scenario.model import (
    ActionStep,
    Bench,
    CheckStep,
    Scenario,
    ScenarioRun,
    Seen,
    Step,
    StepResult,
)
from hal_sim.scenario.record import Recorder
from hal_sim.session import SimSession, start_session
from hal_sim.staff import CabinetRefused, stock_in

__all__ = ["run_scenario", "run_scenario_files"]

_SETTLE_ROUNDS = 10
"""Loop iterations allowed, at a step's time, for the agent to react to what has just
happened (a door sensor's change becomes an event, then an RFID inventory) before the step
runs, so that an expectation sees the effects of an action at the same time. The simulated
parts react within two or three."""


def run_scenario_files(
    paths: Sequence[Path], speed: float | None = None, *, out: TextIO | None = None
) -> int:
    """Run every scenario file in order and report to ``out`` (stdout by default).

    ``speed`` is simulated seconds per wall second; ``None`` or infinity runs as fast as
    possible. Returns 0 if every scenario passed, 1 if a step failed, 2 if a file could not
    be loaded (which wins over 1).
    """
    write = (out or sys.stdout).write
    loop_speed = None if speed is None or math.isinf(speed) else speed
    passed = failed = errors = 0
    for path in paths:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            errors += 1
            write(report.scenario_error(error))
            continue
        run = run_scenario(scenario, speed=loop_speed)
        write(report.scenario_run(run))
        passed, failed = (passed + 1, failed) if run.passed else (passed, failed + 1)
    write(report.summary(passed, failed, errors))
    return 2 if errors else 1 if failed else 0


def run_scenario(scenario: Scenario, *, speed: float | None = None) -> ScenarioRun:
    """Run one checked scenario on a new virtual-time loop and return how every step went."""
    started = time.perf_counter()
    with asyncio.Runner(loop_factory=lambda: new_virtual_loop(speed=speed)) as runner:
        results, failure, setup = runner.run(_run(scenario))
    return ScenarioRun(
        scenario, tuple(results), failure, time.perf_counter() - started, setup_failure=setup
    )


async def _run(scenario: Scenario) -> tuple[list[StepResult], str | None, str | None]:
    cabinet = scenario.profile.device.kind is DeviceKind.CABINET
    preloaded = () if cabinet else scenario.stock
    session = await start_session(
        scenario.profile,
        stock=[(stocked.unit, stocked.slot) for stocked in preloaded],
        badge_list=scenario.badge_list,
    )
    recorder = Recorder(
        sampled_probes={
            probe
            for step in scenario.steps
            if isinstance(step, CheckStep) and (probe := sampled_probe(step.expectation))
        },
    )
    for event in session.recent:  # recorded while the session started
        recorder.observe(event)
    session.stream.observe(recorder.observe)
    origin = session.clock.monotonic()
    if cabinet and scenario.stock:
        try:
            await stock_in(session, [stocked.unit for stocked in scenario.stock])
        except (CabinetRefused, BenchError) as error:
            return [], await _stop(session), f"stocking the cabinet: {error}"
        origin = session.clock.monotonic()
    await session.cabinet_ready()
    recorder.begin(origin)
    bench = Bench(session, scenario.units)

    results: list[StepResult] = []
    for step in scenario.steps:
        await asyncio.sleep(step.at - (session.clock.monotonic() - origin))
        for _ in range(_SETTLE_ROUNDS):
            await asyncio.sleep(0)
        if session.task.done():
            results.append(StepResult(step, passed=False, found="not run: the agent had stopped"))
            continue
        # An action may take simulated time (a stock-in): a later step at the same time sees
        # what it recorded.
        now = max(step.at, session.clock.monotonic() - origin)
        seen = Seen(
            now, recorder, session.latest_temperatures, session.device, session.agent.cabinet
        )
        results.append(await _run_step(step, bench, seen))
    await asyncio.sleep(scenario.duration - (session.clock.monotonic() - origin))
    return results, await _stop(session), None


async def _run_step(step: Step, bench: Bench, seen: Seen) -> StepResult:
    if isinstance(step, CheckStep):
        verdict = step.expectation.check(seen)
        return StepResult(step, verdict.passed, verdict.found)
    return await _act(step, bench)


async def _act(step: ActionStep, bench: Bench) -> StepResult:
    """Apply an action; it passes if it was allowed, or refused as the step expects."""
    try:
        await step.action.apply(bench)
    except (BenchError, CabinetRefused) as error:
        expected = step.expect_error is not None and step.expect_error in str(error)
        return StepResult(step, passed=expected, found=f"refused: {error}")
    if step.expect_error is not None:
        return StepResult(step, passed=False, found="done, not refused")
    return StepResult(step, passed=True, found="done")


async def _stop(session: SimSession) -> str | None:
    """Stop the agent; how it failed, if it did (during the run or while stopping)."""
    try:
        await session.stop("scenario ended")
    except Exception as error:  # noqa: BLE001 - the run's supervisor: the report says how it failed
        return f"the agent failed: {error!r}"
    return None
