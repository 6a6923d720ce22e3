"""What the scenario parser raises: one :class:`ScenarioError` listing every problem in a file.

Like a device profile, a scenario is checked in full before anything runs, and every problem
is reported at once, each naming the file and the key (``step[4].probe``; steps and units are
numbered from 1, in the order they appear in the file), what was expected and what was found.
"""

from __future__ import annotations

from pathlib import Path

from agent.config.errors import Problem

__all__ = ["ScenarioError"]


class ScenarioError(ValueError):
    """A scenario file could not be loaded. ``problems`` lists everything wrong with
    ``source``; ``str()`` gives one line per problem, each naming the file."""

    def __init__(self, source: Path, problems: tuple[Problem, ...]) -> None:
        if not problems:
            raise ValueError("a ScenarioError needs at least one problem")
        self.source = source
        self.problems = problems
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[Path, tuple[Problem, ...]]]:
        return (type(self), (self.source, self.problems))
