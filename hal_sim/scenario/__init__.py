"""Scripted simulator runs: scenario files that act on a simulated device and check what the
agent records.

A scenario is a TOML file (documented in ``docs/simulator.md``, "Scenarios"): a device
profile, units loaded before the start, and timed steps, each a bench action
(:mod:`hal_sim.scenario.actions`) or an expectation (:mod:`hal_sim.scenario.expectations`).
:mod:`~hal_sim.scenario.format` loads and checks a file, :mod:`~hal_sim.scenario.runner` runs
it on virtual time, and :mod:`~hal_sim.scenario.report` writes the report.
"""

from hal_sim.scenario.errors import ScenarioError
from hal_sim.scenario.format import load_scenario
from hal_sim.scenario.runner import run_scenario, run_scenario_files

__all__ = ["ScenarioError", "load_scenario", "run_scenario", "run_scenario_files"]
