"""QoS 1 publishing with aiomqtt that does not take a negative PUBACK as success.

Why: aiomqtt 2.x (checked up to 2.5.1) resolves ``await client.publish(...)`` as soon as a PUBACK
arrives, whatever its MQTT 5 reason code: a publish the broker *refused* looks delivered.
Measured with Mosquitto 2.0.11 (``tests/test_mqtt_publish.py`` checks each of these):

- **MQTT 5**: a QoS 1 publish denied by the ACL is answered with a PUBACK whose reason code is
  ``0x87 Not authorized`` - the broker drops the message and aiomqtt reports success. This
  module reports :class:`PublishRejected`.
- **MQTT 3.1.1** has no reason codes: the same denied publish gets a plain PUBACK and *nothing* on
  the client can tell it was dropped. Always connect with ``protocol=ProtocolVersion.V5``.
- A publish that no subscription matches gets ``0x10 No matching subscribers``.

So a PUBACK - even a successful one - never proves that a record reached the hospital; only the
hospital's acknowledgement after its database commit does (``docs/protocol.md``). This module
is the lower layer: it turns each PUBACK into a typed outcome so the sync link can log and
react (back off on ``0x97 Quota exceeded``, raise an alarm on ``0x87 Not authorized``) instead
of waiting for a hospital acknowledgement that cannot come.

Outcome of one publish (:meth:`CheckedPublisher.publish`, or the future from ``send``):

- :class:`PublishAck` - the broker accepted it: any reason code below ``0x80`` (MQTT 5 section
  2.4), that is ``0x00 Success`` and ``0x10 No matching subscribers``. We count ``0x10`` as
  success on purpose: the broker did take the message, and "no receiver is subscribed right
  now" is exactly what the hospital acknowledgement and the resend timer cover. It is exposed as
  :attr:`PublishAck.no_matching_subscribers` so the caller can log it.
- :class:`PublishRejected` - a reason code ``0x80`` or above (``0x80`` unspecified error,
  ``0x83`` implementation specific, ``0x87`` not authorized, ``0x90`` topic name invalid,
  ``0x91`` packet id in use, ``0x97`` quota exceeded, ``0x99`` payload format invalid): the
  broker definitely did not forward it.
- :class:`PublishConnectionLost` / :class:`PublishTimeout` (both
  :class:`PublishOutcomeUnknown`) - no PUBACK: the broker may or may not have the message.
  Resend it (the hospital deduplicates on the record identity).
- :class:`PublishNotSent` - paho refused to queue it locally (its outgoing queue is full).

How: paho-mqtt 2.x, with ``CallbackAPIVersion.VERSION2`` (which aiomqtt always uses), calls
``on_publish(client, userdata, mid, reason_code, properties)`` with the PUBACK's reason code.
aiomqtt owns that callback and does not expose paho's message id, so this module publishes
through the paho client directly (getting the message id from ``publish()``'s return) and
*chains* paho's ``on_publish`` and ``on_disconnect`` callbacks: aiomqtt's own callbacks still
run first, unchanged. The one private access - ``aiomqtt.Client._client``, the paho client - is
isolated in :func:`_paho_client`. Nothing else of aiomqtt or paho is patched.

Use one :class:`CheckedPublisher` per connected ``aiomqtt.Client`` (create it after or before
``async with client``; it only publishes while the client is connected) and call it on the
client's event loop. Timeouts run on the event loop's clock: on a full-speed virtual-time loop
they fire as soon as the loop is idle, long before a real broker answers, so publish to a real
broker from a real-time loop (or a virtual loop at ``speed=1``).

:class:`SlidingWindow` keeps up to ``size`` publishes in flight (default 100; measured ~15k
msg/s against Mosquitto, three times "await each in turn", and far better than "gather a window
then wait", which stalls on Nagle's algorithm on the broker's PUBACKs). Note that paho itself
sends at most ``max_inflight_messages`` (default 20, ``aiomqtt.Client(max_inflight_messages=)``)
and queues the rest locally; keep that at or below the broker's Receive Maximum (Mosquitto's
``max_inflight_messages``, default 20) or the broker disconnects the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, cast

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_WINDOW",
    "CheckedPublisher",
    "PublishAck",
    "PublishConnectionLost",
    "PublishError",
    "PublishNotSent",
    "PublishOutcomeUnknown",
    "PublishRejected",
    "PublishTimeout",
    "SlidingWindow",
    "disable_nagle",
]

DEFAULT_TIMEOUT_S: Final = 30.0
DEFAULT_WINDOW: Final = 100

# MQTT 5 section 2.4: reason codes below 0x80 mean success.
_FIRST_FAILURE_CODE: Final = 0x80
_NO_MATCHING_SUBSCRIBERS: Final = 0x10

Payload: TypeAlias = str | bytes | bytearray | int | float | None


class PublishError(Exception):
    """A QoS 1 publish that was not accepted by the broker (or not known to be)."""

    def __init__(self, message: str, *, topic: str, mid: int | None = None) -> None:
        super().__init__(message)
        self.topic = topic
        self.mid = mid


class PublishRejected(PublishError):
    """The broker answered with a failure reason code (0x80 or above): the message is dropped."""

    def __init__(
        self, *, topic: str, mid: int, reason_code: int, reason: str, detail: str | None = None
    ) -> None:
        text = (
            f"publish to {topic!r} (mid {mid}) rejected by the broker: 0x{reason_code:02X} {reason}"
        )
        if detail:
            text += f" ({detail})"
        super().__init__(text, topic=topic, mid=mid)
        self.reason_code = reason_code
        self.reason = reason
        self.detail = detail


class PublishOutcomeUnknown(PublishError):
    """No PUBACK came: the broker may or may not have the message. Resend it."""


class PublishConnectionLost(PublishOutcomeUnknown):
    """The connection was down when publishing, or went down before the PUBACK.

    ``reason_code`` / ``reason`` are those of the disconnection (the broker's DISCONNECT reason,
    or the one paho made up for a lost socket), when known.
    """

    def __init__(
        self,
        *,
        topic: str,
        mid: int | None,
        reason_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        why = "" if reason is None else f": {reason}"
        super().__init__(
            f"connection lost before the PUBACK for {topic!r}{why}", topic=topic, mid=mid
        )
        self.reason_code = reason_code
        self.reason = reason


class PublishTimeout(PublishOutcomeUnknown):
    """No PUBACK within the timeout (a stalled link, or a broker that stopped answering)."""


class PublishNotSent(PublishError):
    """paho refused to queue the message locally (``rc`` is paho's error code)."""

    def __init__(self, *, topic: str, rc: int) -> None:
        super().__init__(
            f"publish to {topic!r} not sent: {paho.error_string(rc)} (paho rc {rc})", topic=topic
        )
        self.rc = rc


@dataclass(frozen=True, slots=True)
class PublishAck:
    """The broker accepted a publish (reason code below 0x80)."""

    topic: str
    mid: int
    reason_code: int
    reason: str

    @property
    def no_matching_subscribers(self) -> bool:
        """0x10: accepted, but nobody was subscribed (the message went nowhere)."""
        return self.reason_code == _NO_MATCHING_SUBSCRIBERS


@dataclass(slots=True)
class _Pending:
    topic: str
    future: asyncio.Future[PublishAck]
    timer: asyncio.TimerHandle


def _paho_client(client: aiomqtt.Client) -> paho.Client:
    """The paho client inside an aiomqtt client.

    Private access, deliberately isolated here: aiomqtt 2.0-2.5 (checked in 2.5.1) keeps the
    ``paho.mqtt.client.Client`` in ``Client._client`` and exposes neither it nor the message
    id of a publish, and paho's PUBACK reason code only reaches its ``on_publish`` callback.
    If a future aiomqtt renames the attribute, this fails loudly here.
    """
    inner = getattr(client, "_client", None)
    if not isinstance(inner, paho.Client):
        raise TypeError(
            f"aiomqtt {aiomqtt.__version__}: Client._client is not a paho client; "
            "agent/sync/mqtt_publish.py needs updating"
        )
    return inner


def disable_nagle(client: aiomqtt.Client) -> None:
    """Turn Nagle's algorithm off on a connected client's socket (``TCP_NODELAY``).

    Neither paho nor aiomqtt does: a small packet written while an earlier one is not yet
    acknowledged by TCP - a PUBACK, a hospital acknowledgement - then waits for the peer's
    delayed ACK, up to 40 ms on Linux. A link that keeps a window of batches awaiting small
    acknowledgements is throttled to a few dozen messages a second by it. Call it once
    connected (``async with client``); a client without a TCP socket is left as it is.
    """
    sock = _paho_client(client).socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _reason_name(code: ReasonCode | int) -> str:
    if isinstance(code, ReasonCode):
        return code.getName()
    return paho.error_string(code)


class CheckedPublisher:
    """Publishes QoS 1 messages through an ``aiomqtt.Client`` and checks each PUBACK's reason code.

    ``ack_timeout`` (seconds, on the event loop's clock) bounds the wait for each PUBACK; each
    call may give its own.
    """

    def __init__(self, client: aiomqtt.Client, *, ack_timeout: float = DEFAULT_TIMEOUT_S) -> None:
        if ack_timeout <= 0:
            raise ValueError(f"ack_timeout must be > 0, got {ack_timeout}")
        self.client = client
        self.ack_timeout = ack_timeout
        self._paho = _paho_client(client)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._pending: dict[int, _Pending] = {}
        # PUBACKs that arrive while paho's publish() is still running (cannot happen with
        # aiomqtt's socket callbacks, but cheap to be correct about).
        self._early: dict[int, tuple[ReasonCode, Properties | None]] | None = None
        self._chain_callbacks()

    @property
    def in_flight(self) -> int:
        """Publishes sent and not yet resolved."""
        return len(self._pending)

    # -- publishing --------------------------------------------------------------------

    def send(
        self,
        topic: str,
        payload: Payload = None,
        *,
        retain: bool = False,
        properties: Properties | None = None,
        ack_timeout: float | None = None,
    ) -> asyncio.Future[PublishAck]:
        """Publish at QoS 1 now; the future resolves on the PUBACK (see the module docstring).

        Raises :class:`PublishConnectionLost` at once when the client is not connected and
        :class:`PublishNotSent` when paho's queue is full; ``ValueError`` for an invalid topic
        or an oversized payload (paho's checks). Must be called on the client's event loop.
        """
        if not self._paho.is_connected():
            # Not handing it to paho: paho would queue it and send it on a later reconnect,
            # behind the caller's back.
            raise PublishConnectionLost(topic=topic, mid=None, reason="not connected")
        self._early = {}
        try:
            info = self._paho.publish(topic, payload, qos=1, retain=retain, properties=properties)
            early = self._early
        finally:
            self._early = None
        if info.rc == paho.MQTT_ERR_NO_CONN:
            raise PublishConnectionLost(topic=topic, mid=info.mid, reason="not connected")
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise PublishNotSent(topic=topic, rc=info.rc)
        future: asyncio.Future[PublishAck] = self._loop.create_future()
        wait = self.ack_timeout if ack_timeout is None else ack_timeout
        timer = self._loop.call_later(wait, self._expire, info.mid, future, wait)
        self._pending[info.mid] = _Pending(topic, future, timer)
        future.add_done_callback(lambda done: self._forget(info.mid, done))
        if info.mid in early:
            self._resolve(info.mid, *early[info.mid])
        return future

    async def publish(
        self,
        topic: str,
        payload: Payload = None,
        *,
        retain: bool = False,
        properties: Properties | None = None,
        ack_timeout: float | None = None,
    ) -> PublishAck:
        """Publish at QoS 1 and wait for the PUBACK: a :class:`PublishAck`, or raises
        :class:`PublishRejected`, :class:`PublishOutcomeUnknown` or :class:`PublishNotSent`."""
        return await self.send(
            topic, payload, retain=retain, properties=properties, ack_timeout=ack_timeout
        )

    # -- resolution --------------------------------------------------------------------

    def _resolve(self, mid: int, code: ReasonCode, properties: Properties | None) -> None:
        pending = self._pending.pop(mid, None)
        if pending is None or pending.future.done():
            return
        pending.timer.cancel()
        value = int(code.value)
        name = _reason_name(code)
        if value < _FIRST_FAILURE_CODE:
            pending.future.set_result(PublishAck(pending.topic, mid, value, name))
        else:
            detail = getattr(properties, "ReasonString", None) if properties is not None else None
            pending.future.set_exception(
                PublishRejected(
                    topic=pending.topic, mid=mid, reason_code=value, reason=name, detail=detail
                )
            )

    def _expire(self, mid: int, future: asyncio.Future[PublishAck], waited: float) -> None:
        pending = self._pending.get(mid)
        if pending is None or pending.future is not future or future.done():
            return
        del self._pending[mid]
        future.set_exception(
            PublishTimeout(
                f"no PUBACK for {pending.topic!r} (mid {mid}) within {waited} s",
                topic=pending.topic,
                mid=mid,
            )
        )

    def _forget(self, mid: int, future: asyncio.Future[PublishAck]) -> None:
        """A future finished (or the caller cancelled it): drop its bookkeeping."""
        pending = self._pending.get(mid)
        if pending is not None and pending.future is future:
            del self._pending[mid]
            pending.timer.cancel()

    def _fail_all(self, code: ReasonCode | int) -> None:
        pending, self._pending = self._pending, {}
        value = int(code.value) if isinstance(code, ReasonCode) else int(code)
        name = _reason_name(code)
        for mid, entry in pending.items():
            entry.timer.cancel()
            if not entry.future.done():
                entry.future.set_exception(
                    PublishConnectionLost(
                        topic=entry.topic, mid=mid, reason_code=value, reason=name
                    )
                )

    # -- paho callbacks ----------------------------------------------------------------

    def _chain_callbacks(self) -> None:
        """Run our handlers after the callbacks already installed (aiomqtt's)."""
        # aiomqtt always creates its paho client with CallbackAPIVersion.VERSION2.
        inner_publish = cast("paho.CallbackOnPublish_v2 | None", self._paho.on_publish)
        inner_disconnect = cast("paho.CallbackOnDisconnect_v2 | None", self._paho.on_disconnect)

        def on_publish(
            client: paho.Client, userdata: Any, mid: int, code: ReasonCode, props: Properties
        ) -> None:
            if inner_publish is not None:
                inner_publish(client, userdata, mid, code, props)
            if self._early is not None and mid not in self._pending:
                self._early[mid] = (code, props)
                return
            self._on_loop(self._resolve, mid, code, props)

        def on_disconnect(
            client: paho.Client,
            userdata: Any,
            flags: paho.DisconnectFlags,
            code: ReasonCode,
            props: Properties | None,
        ) -> None:
            if inner_disconnect is not None:
                inner_disconnect(client, userdata, flags, code, props)
            self._on_loop(self._fail_all, code)

        self._paho.on_publish = on_publish
        self._paho.on_disconnect = on_disconnect

    def _on_loop(self, handler: Callable[..., None], *args: Any) -> None:
        """paho calls back on the loop's thread (aiomqtt drives its socket from the loop), but
        its blocking connect runs in an executor thread: hop over if ever called from one."""
        if threading.get_ident() == self._thread:
            handler(*args)
        elif not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                self._loop.call_soon_threadsafe(handler, *args)


class SlidingWindow:
    """At most ``size`` QoS 1 publishes in flight; the next one goes as soon as one resolves.

    ``await window.submit(...)`` waits for a free slot, sends, and returns the publish's future
    (consume every future: its exception is the publish's outcome). ``await window.publish()``
    also waits for the outcome. ``await window.drain()`` waits for everything in flight.
    """

    def __init__(self, publisher: CheckedPublisher, size: int = DEFAULT_WINDOW) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.publisher = publisher
        self.size = size
        self._slots = asyncio.Semaphore(size)
        self._outstanding: set[asyncio.Future[PublishAck]] = set()
        # aiomqtt warns on every publish made through its own API while more than this many
        # calls are pending; raise it so a window that size does not flood the log.
        client = publisher.client
        client.pending_calls_threshold = max(client.pending_calls_threshold, size + 10)

    @property
    def in_flight(self) -> int:
        return len(self._outstanding)

    async def submit(
        self,
        topic: str,
        payload: Payload = None,
        *,
        retain: bool = False,
        properties: Properties | None = None,
        ack_timeout: float | None = None,
    ) -> asyncio.Future[PublishAck]:
        await self._slots.acquire()
        try:
            future = self.publisher.send(
                topic, payload, retain=retain, properties=properties, ack_timeout=ack_timeout
            )
        except BaseException:
            self._slots.release()
            raise
        self._outstanding.add(future)
        future.add_done_callback(self._finished)
        return future

    async def publish(
        self,
        topic: str,
        payload: Payload = None,
        *,
        retain: bool = False,
        properties: Properties | None = None,
        ack_timeout: float | None = None,
    ) -> PublishAck:
        future = await self.submit(
            topic, payload, retain=retain, properties=properties, ack_timeout=ack_timeout
        )
        return await future

    async def drain(self) -> None:
        """Wait until nothing is in flight (outcomes stay with the futures ``submit`` gave)."""
        while self._outstanding:
            await asyncio.wait(list(self._outstanding))

    def _finished(self, future: asyncio.Future[PublishAck]) -> None:
        self._outstanding.discard(future)
        self._slots.release()
