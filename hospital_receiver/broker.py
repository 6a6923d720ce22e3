"""How the receiver reaches the broker: host, port and TLS, from ``mqtt://`` / ``mqtts://`` URLs.

Invariant kept: **one way to connect, always MQTT 5** (the protocol needs its response topic,
correlation data, content type and reason codes), with clean-start sessions (nothing relies on
the broker keeping messages). TLS - a CA file, a client certificate and key - is only possible
with ``mqtts://``, so a URL never silently means "plain text" when certificates were given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.sync.protocol import CONTENT_TYPE

__all__ = ["BrokerSettings", "publish_properties"]

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """A broker address and the TLS files to connect with (None: the system's CAs, no client
    certificate)."""

    host: str
    port: int
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError("TLS files need an mqtts:// broker URL")
        if self.key_file and not self.cert_file:
            raise ValueError("a client key needs its certificate (--cert-file)")

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> BrokerSettings:
        """Settings for ``mqtt://host[:port]`` or ``mqtts://host[:port]``; ``ValueError``
        saying what is wrong otherwise."""
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"expected mqtt://host:port or mqtts://host:port, found {url!r}")
        if parts.username is not None or parts.path not in ("", "/"):
            raise ValueError(f"expected only a host and port in the broker URL, found {url!r}")
        return cls(
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[parts.scheme],
            tls=parts.scheme == "mqtts",
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )

    def client(self, prefix: str) -> aiomqtt.Client:
        """A new MQTT 5 client with a unique identifier starting with ``prefix``."""
        tls = None
        if self.tls:
            tls = aiomqtt.TLSParameters(
                ca_certs=None if self.ca_file is None else str(self.ca_file),
                certfile=None if self.cert_file is None else str(self.cert_file),
                keyfile=None if self.key_file is None else str(self.key_file),
            )
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"{prefix}-{uuid.uuid4().hex[:12]}",
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=True,
            tls_params=tls,
        )


def publish_properties(
    *,
    correlation: bytes | None = None,
    response_topic: str | None = None,
    expiry_s: int | None = None,
) -> Properties:
    """MQTT 5 PUBLISH properties of one of our messages: the protocol's content type, and the
    others when given."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = CONTENT_TYPE
    if correlation is not None:
        properties.CorrelationData = correlation
    if response_topic is not None:
        properties.ResponseTopic = response_topic
    if expiry_s is not None:
        properties.MessageExpiryInterval = expiry_s
    return properties
