"""Where and how to connect: :class:`~agent.config.schema.SyncConfig` as aiomqtt arguments.

Keeps secrets out of the profile and out of logs: the password is read from ``password_file``
on every connection attempt (so a rotated password is picked up without a restart) and is
never part of :class:`BrokerAddress`'s ``repr``. ``mqtts://`` always means TLS with the
certificate checked (against ``ca_file`` when given, else the system's trust store); a client
certificate is used when ``cert_file`` (and ``key_file``) are given. The MQTT user name is the
device id: the broker's ACL can then confine each device to its own topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from agent.config.schema import SyncConfig

__all__ = ["BrokerAddress", "client_options"]

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """The broker's host and port, whether to use TLS, and the files of the secrets."""

    host: str
    port: int
    tls: bool
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    password_file: Path | None = None

    @classmethod
    def from_config(cls, config: SyncConfig) -> BrokerAddress:
        """The address ``config.broker_url`` names (``mqtt://`` or ``mqtts://``)."""
        parts = urlsplit(config.broker_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an mqtt:// or mqtts:// URL with a host: {config.broker_url!r}")
        return cls(
            host=parts.hostname,
            port=parts.port or _DEFAULT_PORTS[parts.scheme],
            tls=parts.scheme == "mqtts",
            ca_file=config.ca_file,
            cert_file=config.cert_file,
            key_file=config.key_file,
            password_file=config.password_file,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def client_options(address: BrokerAddress, username: str) -> dict[str, Any]:
    """Keyword arguments for ``aiomqtt.Client``: host, port, TLS and credentials.

    Reads the password file now; raises ``OSError`` when it cannot be read.
    """
    options: dict[str, Any] = {"hostname": address.host, "port": address.port}
    if address.tls:
        options["tls_params"] = aiomqtt.TLSParameters(
            ca_certs=None if address.ca_file is None else str(address.ca_file),
            certfile=None if address.cert_file is None else str(address.cert_file),
            keyfile=None if address.key_file is None else str(address.key_file),
        )
    if address.password_file is not None:
        options["username"] = username
        options["password"] = address.password_file.read_text().strip()
    return options
