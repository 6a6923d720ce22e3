"""Topic names: one namespace per site and device, ``hemotrace/v1/{site}/{device}/{kind}``.

Keeps the routing safe: a site or device id is a short ASCII identifier that can never contain
a topic separator or wildcard (``/ + #``), so a device id cannot address another device's
topics and a parsed topic always names exactly one site, one device and one kind.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from agent.sync.protocol.errors import InvalidIdentifier, InvalidTopic

__all__ = [
    "DEFAULT_SHARE_GROUP",
    "MAX_IDENTIFIER_LENGTH",
    "TOPIC_ROOT",
    "Topic",
    "TopicKind",
    "check_identifier",
    "fleet_filter",
    "parse_topic",
    "shared_filter",
]

TOPIC_ROOT = "hemotrace/v2"
"""The first two levels of every topic; the second is the protocol's major version."""

MAX_IDENTIFIER_LENGTH = 64

DEFAULT_SHARE_GROUP = "receivers"
"""The MQTT 5 shared-subscription group receivers join to share a fleet's records."""

_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class TopicKind(enum.StrEnum):
    """The last level of a topic: what flows on it, and in which direction."""

    STATUS = "status"
    """Device to hospital, retained: the device's :class:`Birth`, or its :class:`Death` (Will)."""
    RECORDS = "records"
    """Device to hospital: :class:`RecordBatch` messages."""
    ACKS = "acks"
    """Hospital to device: :class:`BatchAck` messages, the response topic of record batches."""
    COMMANDS = "commands"
    """Hospital to device: :class:`Command` messages."""
    REPLIES = "replies"
    """Device to hospital: :class:`CommandReply` messages, the response topic of commands."""


def check_identifier(value: str, what: str = "identifier") -> str:
    """``value`` if it is a safe topic level: 1-64 ASCII letters, digits, ``.``, ``_``, ``-``.

    The first character is a letter or digit (so never ``$``, which brokers reserve, nor
    ``.``). Raises :class:`InvalidIdentifier` otherwise.
    """
    if not isinstance(value, str):
        raise InvalidIdentifier(f"{what} must be a string, found {type(value).__name__}")
    if not 1 <= len(value) <= MAX_IDENTIFIER_LENGTH or not _IDENTIFIER.fullmatch(value):
        raise InvalidIdentifier(
            f"{what} {value!r} is not 1-{MAX_IDENTIFIER_LENGTH} characters of "
            "A-Z a-z 0-9 . _ - starting with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    """One device's topic of one kind; ``str(topic)`` is the MQTT topic name."""

    site: str
    device: str
    kind: TopicKind

    def __post_init__(self) -> None:
        check_identifier(self.site, "site")
        check_identifier(self.device, "device")
        object.__setattr__(self, "kind", TopicKind(self.kind))

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{self.site}/{self.device}/{self.kind}"

    def sibling(self, kind: TopicKind) -> Topic:
        """The same device's topic of another kind (a batch's acks, a command's replies)."""
        return Topic(self.site, self.device, kind)


def parse_topic(name: str) -> Topic:
    """The :class:`Topic` that ``name`` is; :class:`InvalidTopic` if it is none of ours."""
    levels = name.split("/")
    root = TOPIC_ROOT.split("/")
    if len(levels) != len(root) + 3 or levels[: len(root)] != root:
        raise InvalidTopic(f"{name!r} is not {TOPIC_ROOT}/<site>/<device>/<kind>")
    site, device, kind = levels[len(root) :]
    try:
        return Topic(site, device, TopicKind(kind))
    except InvalidIdentifier as error:
        raise InvalidTopic(f"{name!r}: {error}") from None
    except ValueError:
        raise InvalidTopic(f"{name!r}: unknown topic kind {kind!r}") from None


def fleet_filter(kind: TopicKind) -> str:
    """The filter matching every device's topic of ``kind`` (``hemotrace/v1/+/+/kind``)."""
    return f"{TOPIC_ROOT}/+/+/{TopicKind(kind)}"


def shared_filter(kind: TopicKind, group: str = DEFAULT_SHARE_GROUP) -> str:
    """The MQTT 5 shared subscription through which receivers split a fleet's ``kind`` topics.

    Each message goes to one member of ``group``. Brokers send no retained messages to shared
    subscriptions, so the retained ``status`` topic is subscribed with :func:`fleet_filter`.
    """
    return f"$share/{check_identifier(group, 'share group')}/{fleet_filter(kind)}"
