"""The live view of ``hemotrace sim``: the bench command parser, the Textual app driven by its
pilot, and the plain mode."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input

from agent.config import load_profile
from agent.config.schema import Profile
from agent.events import DoorChanged, Event, InputRejected, PowerChanged, ProbeFault, RecordId
from hal_sim.clock import VirtualTimeLoop
from hal_sim.device import BenchError, SimDevice
from hal_sim.live.app import FASTEST_FINITE_SPEED, LiveView
from hal_sim.live.commands import HELP, Bench, CommandError, parse_command
from hal_sim.live.describe import describe_event, is_alert, sim_time
from hal_sim.live.launch import run_simulator
from hal_sim.live.panels import CabinetPanel, ClimatePanel, EventsPanel, SlotCell
from hal_sim.live.plain import status_period
from hal_sim.live.stockroom import Stockroom, group_name
from hal_sim.parts import ProbeFaultMode
from hal_sim.session import start_session

CONFIG = Path(__file__).resolve().parent.parent / "config"
CABINET = CONFIG / "cabinet-72.toml"
FRIDGE = CONFIG / "fridge.toml"
EPOCH_NS = 1_767_600_000_000_000_000  # 2026-01-05 08:00 UTC, a Monday


class FixedClock:
    """A clock that does not move: the parser tests need dates, not time."""

    def monotonic(self) -> float:
        return 0.0

    def wall_ns(self) -> int:
        return EPOCH_NS

    def synchronised(self) -> bool:
        return True


def bench_for(path: Path) -> Bench:
    clock = FixedClock()
    return Bench(device=SimDevice(load_profile(path), clock), clock=clock)


def on_mains(device: SimDevice) -> bool:
    """A function, so that type checkers do not narrow the attribute between calls."""
    return device.battery.on_mains


def run(line: str, bench: Bench) -> str:
    return parse_command(line).run(bench)


# --- the stockroom and the texts --------------------------------------------------------------


def test_stockroom_units_have_unique_well_formed_dins_and_the_asked_group() -> None:
    stockroom = Stockroom()
    now = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    units = [stockroom.make(now, "ab-"), stockroom.make(now), stockroom.make(now)]
    assert group_name(units[0].blood_group) == "AB-"
    assert len({unit.din for unit in units}) == len({unit.tag_uid for unit in units}) == 3
    assert units[0].din == "A999926000001"
    assert units[0].expiry.date().isoformat() == "2026-02-09"
    with pytest.raises(ValueError, match="unknown blood group"):
        stockroom.make(now, "C+")


def test_event_lines_carry_simulated_time_and_flag_alerts() -> None:
    def event(payload: Any) -> Event:
        return Event(RecordId("d", 1, 0), EPOCH_NS + 61 * 10**9, 0, True, payload)

    assert sim_time(EPOCH_NS) == "Mon 08:00:00"
    assert describe_event(event(DoorChanged("main", open=True))) == "Mon 08:01:01  door main opened"
    assert is_alert(event(ProbeFault("air-top", "no answer")))
    assert is_alert(event(InputRejected("scanner", "unframed", "ff")))
    assert is_alert(event(PowerChanged(on_mains=False, battery_fraction=0.9, battery_low=False)))
    assert not is_alert(event(PowerChanged(on_mains=True, battery_fraction=1, battery_low=False)))
    assert not is_alert(event(ProbeFault("air-top", "no answer", cleared=True)))


# --- the command parser ----------------------------------------------------------------------


def test_put_and_take_in_a_cabinet_respect_the_slot_lock() -> None:
    bench = bench_for(CABINET)
    with pytest.raises(BenchError, match="slot 5 is locked"):
        run("put 5 O-", bench)
    assert "slot 5" in run("put 5 O- force", bench)
    unit = bench.device.slot_units[5]
    assert unit is not None
    assert group_name(unit.blood_group) == "O-"
    with pytest.raises(BenchError, match="locked"):
        run("take 5", bench)
    assert unit.din in run("TAKE 5 FORCE", bench)
    assert bench.device.slot_units[5] is None


def test_put_and_take_in_a_fridge_need_the_door_open() -> None:
    bench = bench_for(FRIDGE)
    with pytest.raises(BenchError, match="door is closed"):
        run("put A+", bench)
    run("door open force", bench)
    run("put A+", bench)
    (tag,) = bench.device.loose_units
    with pytest.raises(BenchError, match="no barcode scanner"):
        run(f"label {tag.lower()}", bench)
    assert "took" in run(f"take {tag.lower()}", bench)
    assert not bench.device.loose_units


def test_stock_loads_a_fridge_and_label_scans_a_unit() -> None:
    bench = bench_for(FRIDGE)
    assert run("stock 3", bench) == "stocked 3 unit(s)"
    assert len(bench.device.loose_units) == 3
    with pytest.raises(BenchError, match="no barcode scanner"):
        run(f"label {next(iter(bench.device.loose_units))}", bench)


def test_a_cabinet_is_stocked_only_by_its_running_agent() -> None:
    with pytest.raises(BenchError, match="agent is not running"):
        run("stock 3", bench_for(CABINET))


def test_doors_power_ambient_battery_faults_jams_and_plugs_act_on_the_device() -> None:
    bench = bench_for(CABINET)
    device = bench.device
    with pytest.raises(BenchError, match="locked"):
        run("door open", bench)
    run("door open force main", bench)
    assert device.door_is_open()
    run("door close", bench)
    assert not device.door_is_open()
    assert run("power cut", bench) == "mains cut"
    assert not on_mains(device)
    assert run("power restore", bench) == "mains restored"
    assert on_mains(device)
    run("ambient 30.5", bench)
    assert device.thermal.ambient_c == 30.5
    run("battery 15%", bench)
    assert device.battery.fraction == pytest.approx(0.15)
    run("fault air-top crc_error", bench)
    assert device.probes["air-top"].fault is ProbeFaultMode.CRC_ERROR
    assert run("jam 7", bench) == "slot 7 lock jammed"
    assert device.locks[7].jammed
    assert run("unjam 7", bench) == "slot 7 lock freed"
    assert [slot for slot, lock in device.locks.items() if lock.jammed] == []
    run("jam door", bench)
    assert device.door_locks["main"].jammed
    run("unplug air-top", bench)
    assert not device.part("air-top").connected
    run("plug air-top", bench)
    assert device.part("air-top").connected


def test_readers_get_what_is_typed() -> None:
    bench = bench_for(CABINET)
    assert run("badge 04a1b2", bench) == "badge 04A1B2 presented"
    assert run("scan  =A9999 26000001 00", bench) == "scanned '=A9999 26000001 00'"
    assert run("garbage scanner ff00", bench) == "the scanner delivered ff00"
    assert run("help", bench) == HELP


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "type a command"),
        ("frobnicate 3", "unknown command 'frobnicate'"),
        ("put 1 2", "usage: put"),
        ("put Z+", "usage: put"),
        ("put 0", "slots are numbered from 1"),
        ("take", "usage: take"),
        ("take 1 2", "usage: take"),
        ("stock 0", "usage: stock"),
        ("stock many", "usage: stock"),
        ("label 1 2", "usage: label"),
        ("badge cleaner", "neither a staff member"),
        ("press fly", "usage: press"),
        ("hold O- O+", "usage: hold"),
        ("lift 3", "usage: lift"),
        ("allocate 1 P-1", "usage: allocate"),
        ("allocate 1 P_1! ORD-1", "PATIENT"),
        ("allocate 1 P-1 ORD-1 forever", "HOURS must be a number"),
        ("eligible P-1 ORD-1 C+ 2", "GROUPS"),
        ("eligible P-1 ORD-1 O- two", "usage: eligible"),
        ("cancel", "usage: cancel"),
        ("badges 0", "above 0"),
        ("staff now", "usage: staff"),
        ("badge", "usage: badge"),
        ("scan", "usage: scan"),
        ("garbage printer", "usage: garbage"),
        ("garbage badge zz", "hexadecimal"),
        ("door", "usage: door"),
        ("door ajar", "usage: door"),
        ("door close force", "force only applies to opening"),
        ("ambient", "usage: ambient"),
        ("ambient warm", "must be a number"),
        ("ambient nan", "finite"),
        ("power off", "usage: power"),
        ("battery 120", "0-100"),
        ("fault air-top", "usage: fault"),
        ("fault air-top melted", "unknown probe fault 'melted'"),
        ("jam", "usage: jam"),
        ("jam hinge", "usage: jam"),
        ("unjam 3 4", "usage: unjam"),
        ("unplug", "usage: unplug"),
    ],
)
def test_bad_lines_raise_a_command_error_saying_what_is_expected(line: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(line)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("put 99 force", "there is no slot 99"),
        ("take 4 force", "slot 4 is empty"),
        ("take E004FF", "no unit with tag E004FF"),
        ("label 9", "slot 9 is empty"),
        ("door open force back", "there is no door 'back'"),
        ("fault nowhere none", "there is no probe 'nowhere'"),
        ("unplug toaster", "there is no part 'toaster'"),
        ("put O+", "the door is closed"),
        ("label", "no unit is held at the scanning station"),
        ("lift", "no unit is held"),
        ("hold 0001", "no single unit"),
        ("press sign_out", "agent is not running"),
        ("allocate 1 P-1 ORD-1", "agent is not running"),
    ],
)
def test_what_the_world_does_not_allow_raises_a_bench_error(line: str, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        run(line, bench_for(CABINET))


_WORDS = st.sampled_from(
    [
        *["put", "take", "stock", "label", "badge", "scan", "garbage", "door", "ambient"],
        *["power", "battery", "fault", "jam", "unjam", "plug", "unplug", "help", "open"],
        *["close", "cut", "restore", "force", "main", "door", "air-top", "none", "garbage"],
        *["scanner", "0", "1", "7", "72", "73", "-1", "1e400", "nan", "50%", "O-", "AB+"],
        *["E0040000", "ff", "zz"],
        *["press", "hold", "lift", "allocate", "eligible", "cancel", "badges", "staff"],
        *["nurse", "emergency", "sign_out", "expired", "din", "P-1001", "ORD-1", "O-,O+"],
    ]
)


@given(st.lists(_WORDS | st.text(max_size=6), max_size=5).map(" ".join))
def test_any_line_gives_a_command_or_a_typed_error(line: str) -> None:
    bench = bench_for(CABINET)
    try:
        result = parse_command(line).run(bench)
    except (CommandError, BenchError):
        return
    assert isinstance(result, str)
    assert result


# --- the Textual app -------------------------------------------------------------------------


def run_live(body: Callable[[LiveView, Pilot[None]], Coroutine[Any, Any, None]]) -> None:
    """Run ``body`` against the live view of a stocked cabinet, in real time (speed 1): the
    pilot waits for the app to be idle, which a simulation at full speed never is."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        profile: Profile = load_profile(CABINET)
        session = await start_session(profile, log_events=False)
        app = LiveView(session, loop, started_at=loop.time())
        stocked = parse_command("stock 3").run(app.bench)
        assert not isinstance(stocked, str)
        await stocked
        try:
            async with app.run_test(size=(140, 45)) as pilot:
                await body(app, pilot)
        finally:
            await session.stop()

    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(speed=1.0)) as runner:
        runner.run(main())


async def until(app: LiveView, pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app run, redrawing, until ``condition`` holds; fails after 30 s of wall time
    (a safety net, not a speed check)."""
    deadline = time.monotonic() + 30
    while True:
        if app.is_running:
            app.refresh_view()
        if condition():
            return
        assert time.monotonic() < deadline, "condition not reached"
        await pilot.pause(0.02)


async def type_command(pilot: Pilot[None], line: str) -> None:
    await pilot.press("colon")
    await pilot.press(*("space" if char == " " else char for char in line))
    await pilot.press("enter")


def events_text(app: LiveView) -> str:
    return app.query_one(EventsPanel).plain


def test_the_slot_grid_shows_stocked_units_and_empty_slots() -> None:
    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        cells = {cell.slot: cell for cell in app.query(SlotCell)}
        assert len(cells) == 72
        await until(app, pilot, lambda: "O-" in cells[1].plain)
        assert "lk" in cells[1].plain
        assert "0001" in cells[1].plain  # the DIN's tail
        assert "O+" in cells[2].plain
        assert "empty" in cells[4].plain
        assert cells[1].has_class("occupied")
        assert not cells[4].has_class("occupied")

    run_live(body)


def test_typed_commands_act_on_the_device_and_their_events_are_listed() -> None:
    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        device = app.session.device
        await type_command(pilot, "door open force")
        assert device.door_is_open()
        await until(app, pilot, lambda: "door main opened" in events_text(app))
        await type_command(pilot, "badge 04a1b2")
        await until(app, pilot, lambda: "REFUSED sign_in" in events_text(app))
        lines = events_text(app).splitlines()
        assert "REFUSED sign_in: This badge is not known" in lines[1]  # most recent first
        assert "badge 04A1B2 at badge" in lines[2]
        await type_command(pilot, "fault air-top disconnected")
        await until(app, pilot, lambda: "FAULT" in app.query_one(ClimatePanel).plain)

    run_live(body)


def screen_text(app: LiveView) -> str:
    return app.query_one(CabinetPanel).plain


def message_text(app: LiveView) -> str:
    return str(app.query_one("#message").render())


async def say(app: LiveView, pilot: Pilot[None], line: str, screen: str) -> None:
    """Type ``line``, then wait until the cabinet panel shows ``screen``."""
    await type_command(pilot, line)
    await until(app, pilot, lambda: screen in screen_text(app))


def test_a_new_user_walks_through_every_workflow_by_typing() -> None:
    """The walk-through of docs/live-view.md: the three units the technician stocked at the
    start (slots 1-3: O-, O+, A-) are allocated, dispensed, returned and released in an
    emergency, and wrong moves are refused with a reason."""

    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        desk = app.session.agent.cabinet
        assert desk is not None
        o_pos = app.session.device.slot_units[2]
        assert o_pos is not None
        assert desk.cabinet.inventory.get(o_pos.din) is not None  # known to the cabinet
        # stock a unit (the technician's stock-in, by hand)
        await say(app, pilot, "badge tech", "Hello Tess Tech")
        await type_command(pilot, "hold B+")
        await say(app, pilot, "label", "Put unit")
        await until(app, pilot, lambda: "4 (put a unit in)" in screen_text(app))
        await say(app, pilot, "put 4", "is in stock in slot 4")
        # a wrong move at stock-in: an expired unit is refused, with the reason
        await type_command(pilot, "hold expired")
        await say(app, pilot, "label", "expired")
        await type_command(pilot, "lift")
        await say(app, pilot, "press sign_out", "Present your badge")
        # the hospital allocates; a nurse dispenses
        await type_command(pilot, "allocate 2 P-1001 ORD-1")
        await until(app, pilot, lambda: "allocated unit" in message_text(app))
        await say(app, pilot, "badge nurse", "Hello Nina Nurse")
        await say(app, pilot, "scan P-2002", "P-2002")  # nobody allocated to this patient
        await say(app, pilot, "scan P-1001", "Take the unit from slot 2")
        await say(app, pilot, "take 2", f"Unit {o_pos.din} dispensed")
        assert f"O+ {o_pos.din}" in screen_text(app).split("In hand")[1]
        # the unit comes back
        await say(app, pilot, "press return", "Hold the returned unit")
        await type_command(pilot, f"hold {o_pos.din[-4:]}")
        await say(app, pilot, "label din", "Put unit")
        await say(app, pilot, "put 2", "back in stock in slot 2")
        # emergency release: refused to the nurse, granted to the doctor with a reason
        await say(app, pilot, "press emergency bleeding", "does not allow")
        await say(app, pilot, "badge doctor", "Hello Dev Doctor")
        await say(app, pilot, "press emergency massive bleeding", "EMERGENCY release")
        await say(app, pilot, "take 1", "dispensed")
        assert "EMERGENCY RELEASE by doctor-1" in events_text(app)
        assert "REFUSED dispense" in events_text(app)

    run_live(body)


def test_a_bad_command_shows_its_error_and_changes_nothing() -> None:
    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        message = app.query_one("#message")
        await type_command(pilot, "take 1")
        assert "slot 1 is locked" in str(message.render())
        assert message.has_class("error")
        assert app.session.device.slot_units[1] is not None
        await type_command(pilot, "fly 3")
        assert "unknown command 'fly'" in str(message.render())

    run_live(body)


def test_keys_change_speed_door_and_power() -> None:
    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        speeds = []
        for keys in (["plus"], ["minus", "minus"], ["m"], ["minus"]):
            await pilot.press(*keys)
            speeds.append(loop.speed)
        assert speeds == [2.0, 0.5, None, FASTEST_FINITE_SPEED]
        loop.speed = 1.0
        await pilot.press("d")
        assert app.session.device.door_is_open()
        await pilot.press("d")
        assert not app.session.device.door_is_open()
        await pilot.press("p")
        assert not app.session.device.battery.on_mains

    run_live(body)


def test_keys_type_into_the_command_line_only_after_colon() -> None:
    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        command = app.query_one("#command", Input)
        await pilot.press("d")
        assert command.value == ""
        await pilot.press("colon", "d", "o")
        assert command.value == "do"
        await pilot.press("escape")
        assert command.value == ""
        assert not command.has_focus

    run_live(body)


def test_q_quits() -> None:
    async def body(app: LiveView, pilot: Pilot[None]) -> None:
        await pilot.press("q")
        await until(app, pilot, lambda: not app.is_running)

    run_live(body)


# --- the plain mode and the launcher ---------------------------------------------------------


def test_plain_mode_runs_for_its_duration_and_prints_status_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_simulator(CABINET, speed=None, duration=7200, live=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2
    # simulated wall-clock time starts at the host's time; the elapsed time is exact
    assert all(re.match(r"status \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+", line) for line in lines)
    assert " +1h00m00s air " in lines[0]
    assert "+2h00m00s" in lines[-1]
    assert "door main closed power mains 100%" in lines[-1]


def test_status_lines_come_every_minute_up_to_60x_and_every_hour_faster() -> None:
    assert status_period(1.0) == status_period(60.0) == 60.0
    assert status_period(61.0) == status_period(None) == 3600.0


def test_a_broken_profile_is_reported_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("schema = 1\n[device]\nid = 'x'\n")
    assert run_simulator(broken, speed=None, duration=1, live=False) == 2
    assert "broken.toml" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_plain_mode_in_order(signum: signal.Signals, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "sim",
            "--plain",
            "--speed",
            "max",
            "--offline",
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "agent started" in line:
            break
    process.send_signal(signum)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f'type=agent_stopping reason="signal {signum.name}"' in rest
