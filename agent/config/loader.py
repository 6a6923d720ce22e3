"""Load a device profile from a TOML file, reporting every problem in it at once.

:func:`load_profile` reads a file, :func:`parse_profile` parses TOML text, and
:func:`validate_document` checks an already-parsed document; each returns a
:class:`~agent.config.schema.Profile` or raises one :class:`~agent.config.errors.ProfileError`
listing every problem, each naming the file. Nothing else is ever raised for bad input.

The format itself is specified in :mod:`agent.config.sections` (keys, kinds, ranges, defaults)
and :mod:`agent.config.rules` (rules across keys); ``docs/configuration.md`` documents it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from agent.config.build import build_profile
from agent.config.errors import FILE_KEY, Problem, ProfileError
from agent.config.kinds import Context
from agent.config.schema import Profile

__all__ = ["load_profile", "parse_profile", "validate_document"]


def load_profile(path: Path) -> Profile:
    """Read, parse and check the profile at ``path``.

    Raises :class:`ProfileError` if the file is missing, unreadable, not UTF-8, not TOML, or
    not a valid profile.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise _file_error(path, "a readable profile file", "no such file") from None
    except UnicodeDecodeError as exc:
        found = f"a byte that is not UTF-8 at offset {exc.start}"
        raise _file_error(path, "a UTF-8 text file", found) from None
    except OSError as exc:
        found = exc.strerror or type(exc).__name__
        raise _file_error(path, "a readable profile file", found) from None
    return parse_profile(text, path)


def parse_profile(text: str, source: Path) -> Profile:
    """Parse and check profile ``text`` read from ``source``.

    ``source`` names the file in problems, becomes :attr:`Profile.source`, and its directory
    is where relative paths in the profile (``password_file = "secrets/broker.pw"``) point.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _file_error(source, "valid TOML", str(exc)) from None
    return validate_document(document, source)


def validate_document(document: Mapping[str, object], source: Path) -> Profile:
    """Check a parsed TOML ``document`` as if read from ``source`` and build its profile."""
    ctx = Context(base_dir=source.parent)
    profile = build_profile(document, source, ctx)
    if profile is None:
        raise ProfileError(source, tuple(ctx.problems))
    return profile


def _file_error(source: Path, expected: str, found: str) -> ProfileError:
    return ProfileError(source, (Problem(FILE_KEY, expected, found),))
