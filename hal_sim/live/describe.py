"""Texts for people: one line per event, the simulated time, and the status line of the plain
mode. Pure functions over events and a session's state; no terminal, no Textual."""

from __future__ import annotations

import datetime as dt

from agent.config.schema import ProbeKind
from agent.dispensing_events import ExpirySwept, RequestRefused, WrongUnitRemoved
from agent.duration import format_duration
from agent.events import (
    AgentStarted,
    AgentStopping,
    BadgePresented,
    BarcodeScanned,
    CommandAnswered,
    CommandReceived,
    DoorChanged,
    Event,
    EventType,
    HardwareFault,
    InputRejected,
    Payload,
    PowerChanged,
    PresenceChanged,
    ProbeFault,
    RecordUnreadable,
    SyncRejected,
    TagsChanged,
    TemperatureSample,
)
from hal_sim.live.describe_dispensing import describe_dispensing
from hal_sim.session import SimSession

__all__ = [
    "describe_event",
    "describe_payload",
    "is_alert",
    "sim_time",
    "status_line",
    "temperature_range",
]


def sim_time(wall_ns: int) -> str:
    """A simulated moment as ``Mon 08:01:23`` (the day matters in runs of several days)."""
    return f"{dt.datetime.fromtimestamp(wall_ns / 1e9, tz=dt.UTC):%a %H:%M:%S}"


def describe_event(event: Event) -> str:
    """``Mon 08:01:23  door main opened``: the event's simulated time and what happened."""
    return f"{sim_time(event.wall_ns)}  {describe_payload(event.payload)}"


def describe_payload(payload: Payload) -> str:  # noqa: PLR0911, PLR0912 - one case per event type
    """What happened, in a few words."""
    match payload:
        case AgentStarted():
            return f"agent {payload.version} started ({payload.profile}, {payload.backend})"
        case AgentStopping():
            return f"agent stopping: {payload.reason}"
        case TemperatureSample():
            return ", ".join(f"{probe} {celsius:.2f} °C" for probe, celsius in payload.readings())
        case ProbeFault(cleared=True):
            return f"probe {payload.probe} reads again"
        case ProbeFault():
            value = "" if payload.value is None else f" (read {payload.value})"
            return f"probe {payload.probe} FAULT: {payload.reason}{value}"
        case DoorChanged():
            return f"door {payload.door} {'opened' if payload.open else 'closed'}"
        case PresenceChanged():
            return f"slot {payload.slot} {'now holds a unit' if payload.present else 'emptied'}"
        case TagsChanged():
            return f"RFID {payload.antenna}: " + _tag_changes(payload)
        case PowerChanged():
            return _power_change(payload)
        case BadgePresented():
            return f"badge {payload.badge_uid} at {payload.reader}"
        case BarcodeScanned():
            return f"{payload.scanner} read {payload.data!r}"
        case InputRejected():
            return f"REJECTED input from {payload.source}: {payload.reason} (raw {payload.raw})"
        case HardwareFault(recovered=True):
            return f"{payload.part} works again"
        case HardwareFault():
            return f"{payload.part} FAILED: {payload.error} - {payload.detail}"
        case CommandReceived():
            return f"hospital command {payload.command} ({payload.request_id}) received"
        case CommandAnswered():
            reason = "" if payload.reason is None else f": {payload.reason}"
            return f"hospital command {payload.request_id} {payload.outcome}{reason}"
        case SyncRejected():
            return (
                f"SYNC REFUSED by the hospital ({payload.reason}): {payload.records} records"
                f" {payload.first_sequence}-{payload.last_sequence} kept for a retry"
            )
        case RecordUnreadable():
            return f"record of type {payload.original_type} UNREADABLE: {payload.reason}"
        case _:
            return describe_dispensing(payload)


def is_alert(event: Event) -> bool:
    """Whether an event reports something wrong: a fault, rejected input, mains lost."""
    match event.payload:
        case (
            ProbeFault(cleared=False)
            | HardwareFault(recovered=False)
            | InputRejected()
            | SyncRejected()
            | WrongUnitRemoved()
            | ExpirySwept(expired=(_, *_))
            | RequestRefused()
        ):
            return True
        case PowerChanged(on_mains=on_mains, battery_low=low):
            return low or not on_mains
    return False


def _tag_changes(payload: TagsChanged) -> str:
    parts = []
    if payload.arrived:
        parts.append("arrived " + ", ".join(payload.arrived))
    if payload.left:
        parts.append("left " + ", ".join(payload.left))
    return "; ".join(parts) or "no change"


def _power_change(payload: PowerChanged) -> str:
    text = "on mains" if payload.on_mains else "MAINS LOST, on battery"
    if payload.battery_fraction is not None:
        text += f", battery {payload.battery_fraction:.0%}"
    if payload.battery_low:
        text += " LOW"
    return text


def temperature_range(session: SimSession, kind: ProbeKind) -> str:
    """The latest readings of a kind of probe: ``4.1 °C``, ``4.1-5.6 °C`` or ``fault``; a
    faulted probe is counted as such beside the others' range."""
    names = [probe.name for probe in session.profile.probes if probe.kind is kind]
    if not names:
        return "none"
    readings = [session.latest_temperatures.get(name, None) for name in names]
    values = [value for value in readings if value is not None]
    faulted = sum(
        1
        for name, value in zip(names, readings, strict=True)
        if value is None and name in session.latest_temperatures
    )
    low, high = (f"{min(values):.1f}", f"{max(values):.1f}") if values else ("", "")
    if not values:
        text = "no reading"
    elif low == high:
        text = f"{low} °C"
    else:
        text = f"{low}-{high} °C"
    return text + (f" ({faulted} faulted)" if faulted else "")


def status_line(session: SimSession, started_at: float) -> str:
    """One line on the device for the plain mode: simulated time and the time elapsed since
    ``started_at`` (monotonic), air and product temperatures, door(s), power, and how many
    events were recorded."""
    clock = session.clock
    device = session.device
    elapsed = format_duration(clock.monotonic() - started_at)
    doors = ", ".join(
        f"{door.name} {'OPEN' if device.door_is_open(door.name) else 'closed'}"
        for door in session.profile.doors
    )
    battery = device.battery
    power = "mains" if battery.on_mains else "ON BATTERY"
    if session.profile.power.battery:
        power += f" {battery.fraction:.0%}"
    total = sum(session.counts.values())
    samples = session.counts[EventType.TEMPERATURE_SAMPLE]
    return (
        f"status {dt.datetime.fromtimestamp(clock.wall_ns() / 1e9, tz=dt.UTC):%Y-%m-%d %H:%M:%S}"
        f" +{elapsed} air {temperature_range(session, ProbeKind.AIR)}"
        f" product {temperature_range(session, ProbeKind.PRODUCT)}"
        f" door {doors or 'none'} power {power}"
        f" events {total} ({samples} samples); {session.sync_line()}"
    )
