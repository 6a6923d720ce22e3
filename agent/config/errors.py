"""What the profile loader raises: one :class:`ProfileError` listing every problem in a file.

A hospital engineer editing a profile should fix the whole file in one pass, not one mistake
per restart, so the loader never stops at the first problem: it collects a :class:`Problem`
for each and raises them together. Each problem names the key as a dotted path
(``probes[2].interval_s``), what was expected there, and what was found, so that::

    config/cabinet-72.toml: probes[2].interval_s: expected a number of seconds > 0, found -1

is enough to find and fix it without reading the agent's source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FILE_KEY", "Problem", "ProfileError"]

FILE_KEY = "(file)"
"""The key of a problem with the file as a whole: missing, unreadable, not UTF-8, not TOML."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a profile.

    ``key`` is the dotted path of the offending key (``sync.broker_url``, ``doors[0].name``) or
    :data:`FILE_KEY`; ``expected`` says what would be acceptable and ``found`` what is there,
    both written for the person editing the file. ``found`` never repeats an inline secret.
    """

    key: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.key}: expected {self.expected}, found {self.found}"


class ProfileError(ValueError):
    """A profile could not be loaded. ``problems`` lists everything wrong with ``source``
    (inline secrets first, then section by section); ``str()`` gives one line per problem,
    each naming the file."""

    def __init__(self, source: Path, problems: tuple[Problem, ...]) -> None:
        if not problems:
            raise ValueError("a ProfileError needs at least one problem")
        self.source = source
        self.problems = problems
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)

    def __reduce__(self) -> tuple[type[ProfileError], tuple[Path, tuple[Problem, ...]]]:
        return (type(self), (self.source, self.problems))
