"""The receiver's small parts: presence from births and deaths, backoff, broker URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.sync.protocol import Birth, Death
from hospital_receiver.broker import BrokerSettings
from hospital_receiver.fleet import FleetView


def birth(epoch: int, connection: int, last_acked: int | None = 41) -> Birth:
    return Birth("stmary", "cab-1", epoch, connection, "0.1.0", last_acked, 10**18, 10**9, True)


def test_a_late_will_of_an_older_connection_does_not_hide_a_live_device() -> None:
    fleet = FleetView()
    fleet.update(birth(3, 1))
    assert fleet.update(birth(3, 2)) is not None
    assert fleet.update(Death("stmary", "cab-1", 3, 1)) is None, "stale"
    assert fleet.devices["cab-1"].online
    state = fleet.update(Death("stmary", "cab-1", 3, 2))
    assert state is not None
    assert (state.online, state.last_acked, state.firmware) == (False, 41, "0.1.0")
    assert fleet.update(birth(4, 1, last_acked=99)) is not None, "a new boot epoch"
    assert (fleet.devices["cab-1"].online, fleet.devices["cab-1"].last_acked) == (True, 99)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://127.0.0.1:1884", "127.0.0.1", 1884, False),
        ("mqtt://broker", "broker", 1883, False),
        ("mqtts://broker.example", "broker.example", 8883, True),
    ],
)
def test_broker_urls(url: str, host: str, port: int, tls: bool) -> None:
    settings = BrokerSettings.from_url(url)
    assert (settings.host, settings.port, settings.tls) == (host, port, tls)


@pytest.mark.parametrize(
    "url", ["http://broker", "mqtt://", "mqtt://user:pw@broker", "mqtt://b/x", "mqtt://b:x"]
)
def test_bad_broker_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        BrokerSettings.from_url(url)


def test_certificates_need_mqtts() -> None:
    with pytest.raises(ValueError, match="mqtts"):
        BrokerSettings.from_url("mqtt://broker", ca_file=Path("ca.pem"))
    assert BrokerSettings.from_url("mqtts://broker", ca_file=Path("ca.pem")).tls
