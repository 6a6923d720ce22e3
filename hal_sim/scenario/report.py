"""The readable report of scenario runs, as text for stdout.

One block per scenario - a line per step with PASS or FAIL, the step's number and time, what
was expected (or done) and what was found - then a summary line for all of them. The agent's
own event log goes to the logging system, not here.
"""

from __future__ import annotations

from agent.duration import format_duration
from hal_sim.scenario.errors import ScenarioError
from hal_sim.scenario.model import ActionStep, ScenarioRun, Step, StepResult

__all__ = ["describe_step", "scenario_error", "scenario_run", "summary"]


def describe_step(step: Step) -> str:
    """What a step does or expects, as the report shows it."""
    if isinstance(step, ActionStep):
        text = step.action.describe()
        return text if step.expect_error is None else f'{text} refused with "{step.expect_error}"'
    return step.expectation.describe()


def _result_line(result: StepResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    step = result.step
    return (
        f"  {verdict}  step {step.index:>2} at {format_duration(step.at):>10}  "
        f"{describe_step(step)}: {result.found}"
    )


def scenario_run(run: ScenarioRun) -> str:
    """The block of one finished run."""
    scenario = run.scenario
    device = scenario.profile.device
    lines = [
        f"{scenario.name}",
        f"  {scenario.source} - {device.kind.value} {device.id!r}, {len(scenario.steps)} steps"
        f" over {format_duration(scenario.duration)}",
        *(_result_line(result) for result in run.results),
    ]
    if run.setup_failure is not None:
        lines.append(f"  FAIL  {run.setup_failure} (no step was run)")
    if run.agent_failure is not None:
        lines.append(f"  FAIL  {run.agent_failure}")
    passed = sum(result.passed for result in run.results)
    verdict = "PASS" if run.passed else "FAIL"
    lines.append(
        f"  {verdict}: {passed} of {len(run.results)} steps passed"
        f" ({format_duration(scenario.duration)} simulated in {run.wall_s:.1f} s)"
    )
    return "\n".join(lines) + "\n\n"


def scenario_error(error: ScenarioError) -> str:
    """The block of a scenario file that could not be loaded: every problem in it."""
    count = len(error.problems)
    lines = [f"ERROR  {error.source}: {count} problem{'s' if count != 1 else ''}, not run"]
    lines.extend(f"  {line}" for line in str(error).splitlines())
    return "\n".join(lines) + "\n\n"


def summary(passed: int, failed: int, errors: int) -> str:
    """The last line: how many scenarios passed, failed, or could not be loaded."""
    total = passed + failed + errors
    return (
        f"{total} scenario{'s' if total != 1 else ''}: {passed} passed, {failed} failed,"
        f" {errors} not loaded\n"
    )
