"""A TCP proxy between a client and a server (the broker) that injects network faults.

Point the client at ``proxy.port`` instead of the broker's port. Every accepted connection gets
its own upstream connection, and bytes are forwarded both ways unchanged until a fault:

- :meth:`~FaultProxy.cut` - every current connection is reset on *both* sides at once (RST:
  ``SO_LINGER`` 0, then abort). The client sees its socket die; the broker sees an unexpected
  disconnection (and publishes the client's will). New connections are still accepted.
- :meth:`~FaultProxy.blackhole` ``(True)`` - connections stay open (and new ones are accepted)
  but nothing is forwarded in either direction: a stalled link, as when a cellular modem
  loses its carrier without a reset. Bytes are held, not dropped, like TCP in a real partition:
  ``blackhole(False)`` delivers them intact and in order. Only keepalives or timeouts notice.
- :meth:`~FaultProxy.refuse` ``(True)`` - the listening socket is closed, so new connections
  are refused (``ECONNREFUSED``, as when the broker is down); existing connections continue.
  ``refuse(False)`` listens again on the same port.
- ``delay`` (seconds, settable at any time) - each chunk waits that long before it is
  forwarded (a slow link; order is kept).

Two ways to run it:

- :class:`FaultProxy`: an asyncio object on the *current* event loop (``async with
  FaultProxy(host, port) as proxy``); its fault methods are plain synchronous calls that act at
  once. ``delay`` sleeps on that loop's clock: on a full-speed virtual-time loop a delay costs
  no wall time at all.
- :class:`ThreadedFaultProxy`: the same proxy on its own real-time event loop in a background
  thread (``with ThreadedFaultProxy(host, port) as proxy``). Its methods are thread-safe and
  return once the fault is in effect. **Use this one in tests that run on virtual time or that
  block their own loop**: forwarding and ``delay`` then never depend on the test's loop being
  scheduled or on its clock. It is also what synchronous tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = ["FaultProxy", "ThreadedFaultProxy"]

_CHUNK = 65536
_T = TypeVar("_T")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with RST rather than FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One proxied connection: the client's side and the upstream (server's) side."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _reset(writer)
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()


class FaultProxy:
    """A fault-injecting TCP proxy on the running event loop (see the module docstring)."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        delay: float = 0.0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.port = listen_port
        self.delay = delay
        self.accepted = 0
        """Connections accepted so far (all time)."""
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- state -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.listen_host

    @property
    def connections(self) -> int:
        """Connections currently open through the proxy."""
        return len(self._links)

    @property
    def blackholed(self) -> bool:
        return not self._flowing.is_set()

    @property
    def refusing(self) -> bool:
        return self._server is None and self._serving is None

    # -- faults ------------------------------------------------------------------------

    def cut(self) -> int:
        """Reset every current connection on both sides; returns how many were cut."""
        links, self._links = self._links, set()
        for link in links:
            link.reset()
        return len(links)

    def blackhole(self, on: bool = True) -> None:
        """Stop (``True``) or resume (``False``) forwarding, both ways, on every connection."""
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    def refuse(self, on: bool = True) -> None:
        """Refuse new connections (close the listener) or accept them again (same port)."""
        if self._closed:
            raise RuntimeError("the proxy is closed")
        if on:
            self._stop_listening()
        elif self.refusing:
            # Bind synchronously, so the port is ours again before this returns; connections
            # arriving before the server runs wait in the kernel's backlog.
            self._serving = asyncio.get_running_loop().create_task(self._serve(self._listen()))

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> Self:
        sock = self._listen()
        self.port = int(sock.getsockname()[1])
        self._server = await asyncio.start_server(self._handle, sock=sock)
        return self

    async def close(self) -> None:
        self._closed = True
        self._stop_listening()
        self.cut()
        self._flowing.set()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- internals ---------------------------------------------------------------------

    def _listen(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.listen_host, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _serve(self, sock: socket.socket) -> None:
        try:
            server = await asyncio.start_server(self._handle, sock=sock)
        except BaseException:
            sock.close()
            raise
        if self._serving is None or self._closed:  # refused again (or closed) meanwhile
            server.close()
            return
        self._server = server
        self._serving = None

    def _stop_listening(self) -> None:
        if self._serving is not None:
            self._serving.cancel()
            self._serving = None
        if self._server is not None:
            # Closes the listening socket now; the server's connections are ours, not its.
            self._server.close()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                self._drop(link)  # the server is down: the client sees a reset, not a hang
                return
            link.upstream = up_writer
            if link not in self._links:  # cut while connecting upstream
                link.reset()
                return
            loop = asyncio.get_running_loop()
            link.tasks = {
                loop.create_task(self._pump(link, reader, up_writer)),
                loop.create_task(self._pump(link, up_reader, writer)),
            }
            # Both directions end with EOF (each half-closed in turn) or one of them resets
            # the link; either way both pumps finish.
            await asyncio.wait(link.tasks)
        finally:
            for pump in link.tasks:
                pump.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
            if link in self._links:  # ended cleanly: close both sides gracefully
                self._links.discard(link)
                for side in (link.client, link.upstream):
                    if side is not None:
                        side.close()
            self._handlers.discard(task)

    def _drop(self, link: _Link) -> None:
        if link in self._links:
            self._links.discard(link)
            link.reset()

    async def _pump(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Forward one direction until EOF (then half-close the far side) or an error (then
        reset the whole link, as a router would see it)."""
        try:
            while data := await reader.read(_CHUNK):
                await self._flowing.wait()
                if self.delay > 0:
                    await asyncio.sleep(self.delay)
                    await self._flowing.wait()
                writer.write(data)
                await writer.drain()
            await self._flowing.wait()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            self._drop(link)


class ThreadedFaultProxy:
    """:class:`FaultProxy` on its own real-time event loop in a daemon thread.

    Synchronous and thread-safe: call it from a plain test, from any event loop (virtual time
    included), or from another thread. Each fault method returns once the fault is in effect.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        delay: float = 0.0,
    ) -> None:
        self._args = (target_host, target_port)
        self._kwargs: dict[str, Any] = {
            "listen_host": listen_host,
            "listen_port": listen_port,
            "delay": delay,
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._proxy: FaultProxy | None = None

    @property
    def proxy(self) -> FaultProxy:
        if self._proxy is None:
            raise RuntimeError("the proxy is not started")
        return self._proxy

    @property
    def host(self) -> str:
        return self.proxy.host

    @property
    def port(self) -> int:
        return self.proxy.port

    @property
    def connections(self) -> int:
        return self._call(self._get_connections())

    @property
    def accepted(self) -> int:
        return self.proxy.accepted

    @property
    def delay(self) -> float:
        return self.proxy.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self.proxy.delay = seconds  # a plain attribute, read by the pumps per chunk

    def cut(self) -> int:
        return self._call(self._cut())

    def blackhole(self, on: bool = True) -> None:
        self._call(self._blackhole(on))

    def refuse(self, on: bool = True) -> None:
        self._call(self._refuse(on))

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        try:
            self._proxy = self._call(self._start())
        except BaseException:
            self._shutdown_loop()
            raise
        return self

    def close(self) -> None:
        if self._thread is None:
            return
        try:
            if self._proxy is not None:
                self._call(self._proxy.close())
        finally:
            self._shutdown_loop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- on the proxy's loop -----------------------------------------------------------

    async def _start(self) -> FaultProxy:
        return await FaultProxy(*self._args, **self._kwargs).start()

    async def _get_connections(self) -> int:
        return self.proxy.connections

    async def _cut(self) -> int:
        return self.proxy.cut()

    async def _blackhole(self, on: bool) -> None:
        self.proxy.blackhole(on)

    async def _refuse(self, on: bool) -> None:
        self.proxy.refuse(on)
        await asyncio.sleep(0)  # let a re-listen start serving

    def _call(self, work: Coroutine[Any, Any, _T]) -> _T:
        if self._loop is None:
            work.close()
            raise RuntimeError("the proxy is not started")
        future: Future[_T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout=30)

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
