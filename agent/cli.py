"""``hemotrace``: the command line of the agent and its simulator.

Subcommands:

* ``hemotrace sim`` - a simulated device (a 72-slot cabinet unless ``--profile`` says
  otherwise) with its agent and journal, syncing to a broker and hospital receiver started
  locally, shown live in the terminal;
* ``hemotrace sim run SCENARIO...`` - scripted simulator runs; exits 1 if an expectation fails;
* ``hemotrace config check FILE...`` - validate device profiles, reporting every problem;
* ``hemotrace run --profile FILE`` - the agent on the backend the profile names, on the
  system clock (what a device runs).

Exit codes: 0 success, 1 a check or scenario failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agent import __version__
from agent.clock import SystemClock
from agent.config import ProfileError, load_profile
from agent.config.schema import Profile
from agent.duration import parse_duration
from agent.runtime.backends import BackendUnavailable, UnknownBackendError, make_backend
from agent.runtime.boot_epoch import BootEpochError, next_boot_epoch
from agent.runtime.device_run import run_device
from agent.runtime.logfmt import configure_logging

__all__ = ["main", "resolve_profile"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
"""The profiles shipped in the repository's ``config/`` directory."""

PROFILE_NAMES = {
    "cabinet": "cabinet-72.toml",
    "fridge": "fridge.toml",
    "transport": "transport.toml",
}

_log = logging.getLogger("agent.cli")


def resolve_profile(name_or_path: str) -> Path:
    """A shipped profile by its short name (``cabinet``, ``fridge``, ``transport``), or a path."""
    if name_or_path in PROFILE_NAMES:
        return CONFIG_DIR / PROFILE_NAMES[name_or_path]
    return Path(name_or_path)


def _speed(text: str) -> float:
    if text == "max":
        return math.inf
    try:
        value = float(text.removesuffix("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a speed-up factor such as 1, 60 or max, found {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a speed-up factor must be > 0, found {text!r}")
    return value


def _loop_speed(requested: float | None, default: float) -> float | None:
    """The virtual loop's speed: a factor, or None for as fast as possible."""
    speed = default if requested is None else requested
    return None if math.isinf(speed) else speed


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hemotrace",
        description="Edge agent for blood-dispensing cabinets, blood fridges and transport boxes.",
    )
    parser.add_argument("--version", action="version", version=f"hemotrace {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every temperature sample too"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = commands.add_parser("sim", help="run a simulated device, shown live in the terminal")
    sim.add_argument(
        "--profile",
        default="cabinet",
        help="cabinet, fridge, transport or a profile file (default: cabinet)",
    )
    sim.add_argument(
        "--speed",
        type=_speed,
        default=None,
        help="simulated seconds per wall second, or max (default: 1, real time, for the live"
        " view; max for scenarios)",
    )
    sim.add_argument(
        "--for",
        dest="duration",
        type=_duration,
        default=None,
        help="stop after this much simulated time (e.g. 10m, 7d); default: until Ctrl-C",
    )
    sim.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/sim"),
        help="where the simulated device keeps its journal and the local hospital side its"
        " broker and database (default: var/sim)",
    )
    sim.add_argument(
        "--offline",
        action="store_true",
        help="no local broker and receiver: the device's records wait in its journal",
    )
    sim.add_argument(
        "--plain",
        action="store_true",
        help="log lines instead of the live view (the default when not on a terminal)",
    )
    sim_commands = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    run_scenarios = sim_commands.add_parser("run", help="run scenario files; exit 1 on a failure")
    run_scenarios.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO")

    config = commands.add_parser("config", help="device profiles")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="SUB")
    check = config_commands.add_parser("check", help="validate profiles, listing every problem")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")

    run = commands.add_parser("run", help="run the agent on the backend its profile names")
    run.add_argument("--profile", required=True, type=Path, help="the device profile")
    run.add_argument(
        "--state-dir",
        type=Path,
        default=Path("/var/lib/hemotrace"),
        help="where the agent keeps its state (default: /var/lib/hemotrace)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hemotrace`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO, sys.stderr)
    match args.command:
        case "config":
            return _config_check(args.files)
        case "run":
            return _run_device(args.profile, args.state_dir)
        case "sim" if args.sim_command == "run":
            from hal_sim.scenario.runner import run_scenario_files  # noqa: PLC0415

            return run_scenario_files(
                args.scenarios, speed=args.speed if args.speed != 1.0 else None
            )
        case "sim":
            from hal_sim.live.launch import run_simulator  # noqa: PLC0415

            return run_simulator(
                resolve_profile(args.profile),
                speed=_loop_speed(args.speed, 1.0),
                duration=args.duration,
                live=not args.plain and sys.stdout.isatty() and sys.stdin.isatty(),
                state_dir=args.state_dir,
                sync=not args.offline,
            )
    raise AssertionError(f"unhandled command {args.command!r}")


def _config_check(files: Sequence[Path]) -> int:
    failed = False
    for path in files:
        try:
            profile = load_profile(path)
        except ProfileError as error:
            failed = True
            print(error, file=sys.stderr)  # noqa: T201 - this is the command's output
            continue
        print(  # noqa: T201 - this is the command's output
            f"{path}: ok ({profile.device.kind.value} {profile.device.id!r}, "
            f"{profile.slots} slots, {len(profile.probes)} probes, backend {profile.backend})"
        )
    return 1 if failed else 0


def load_or_report(path: Path) -> Profile | None:
    """Load a profile, or print every problem in it and return None."""
    try:
        return load_profile(path)
    except ProfileError as error:
        print(error, file=sys.stderr)  # noqa: T201 - this is the command's output
        return None


def _run_device(profile_path: Path, state_dir: Path) -> int:
    profile = load_or_report(profile_path)
    if profile is None:
        return 2
    device_dir = state_dir / profile.device.id
    try:
        boot_epoch = next_boot_epoch(device_dir)
    except (BootEpochError, OSError) as error:
        _log.error("cannot start: %s", error)
        return 2
    return asyncio.run(_device_main(profile, boot_epoch, device_dir))


async def _device_main(profile: Profile, boot_epoch: int, device_dir: Path) -> int:
    clock = SystemClock()
    try:
        backend = make_backend(profile, clock)
    except (UnknownBackendError, BackendUnavailable) as error:
        _log.error("%s", error)
        return 2
    await run_device(
        profile,
        backend=backend,
        clock=clock,
        boot_epoch=boot_epoch,
        device_dir=device_dir,
        stop=stop_on_signals(),
    )
    return 0


def stop_on_signals() -> asyncio.Future[str]:
    """A future that SIGTERM or SIGINT (Ctrl-C) resolves with the signal's name."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[str] = loop.create_future()

    def request(signum: signal.Signals) -> None:
        if not stop.done():
            stop.set_result(f"signal {signum.name}")

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(signum, request, signum)
    return stop
