"""A TCP proxy for tests: forwards 127.0.0.1:<port> to a target, counts the HTTP requests that reach
it, and can play dead (hang up on every connection) or stop (close the port, killing connections).

It lets a test put a real endpoint (anvil) behind a URL it can break at a chosen moment.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

# Every HTTP/1.1 request line ends with this; JSON-RPC bodies never contain a CR LF pair.
_REQUEST_LINE_END = b" HTTP/1.1\r\n"
_CHUNK = 1 << 16


class TcpProxy:
    """Forward connections to `target_host:target_port`. Use `async with TcpProxy(...) as proxy:`.

    Attributes:
        requests: HTTP requests that reached the proxy (forwarded or hung up on).
        connections: TCP connections accepted.
        per_target: connections forwarded to each target port.
    """

    def __init__(self, target_host: str, target_port: int, *more_ports: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        # With more ports, connections go round-robin (a load balancer in front of replicas).
        self._ports = (target_port, *more_ports)
        self.per_target = dict.fromkeys(self._ports, 0)
        self.requests = 0
        self.connections = 0
        self._hanging_up = False
        self._server: asyncio.Server | None = None
        self._port = 0
        self._transports: set[asyncio.Transport] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The listening port."""
        if self._port == 0:
            raise RuntimeError("the proxy is not started")
        return self._port

    @property
    def url(self) -> str:
        """An HTTP URL pointing at the proxy."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def hang_up(self) -> None:
        """Play dead: kill every open connection and, from now on, close each new one as soon as its
        first request has arrived (the request is still counted)."""
        self._hanging_up = True
        await self._kill_connections()

    def heal(self) -> None:
        """Forward new connections again."""
        self._hanging_up = False

    async def stop(self) -> None:
        """Close the port and kill every open connection. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._kill_connections()
        if server is not None:
            await server.wait_closed()

    async def _kill_connections(self) -> None:
        for transport in list(self._transports):
            transport.abort()
        # The handlers own their pumps; waiting for them means nothing of the old traffic survives.
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def _count(self, data: bytes, tail: bytes) -> bytes:
        seen = tail + data
        self.requests += seen.count(_REQUEST_LINE_END)
        return seen[-(len(_REQUEST_LINE_END) - 1) :]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        client = writer.transport
        assert isinstance(client, asyncio.Transport)
        self._transports.add(client)
        self.connections += 1
        try:
            if self._hanging_up:
                with contextlib.suppress(OSError):
                    self._count(await reader.read(_CHUNK), b"")
                return
            port = self._ports[(self.connections - 1) % len(self._ports)]
            self.per_target[port] += 1
            try:
                up_reader, up_writer = await asyncio.open_connection(self.target_host, port)
            except OSError:
                return
            upstream = up_writer.transport
            assert isinstance(upstream, asyncio.Transport)
            self._transports.add(upstream)
            try:
                await asyncio.gather(
                    self._pump(reader, up_writer, count=True), self._pump(up_reader, writer, count=False)
                )
            finally:
                self._transports.discard(upstream)
                upstream.abort()
        finally:
            self._transports.discard(client)
            client.abort()
            self._handlers.discard(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool) -> None:
        tail = b""
        try:
            while data := await source.read(_CHUNK):
                if count:
                    tail = self._count(data, tail)
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            # One side closed: close the other, so the peer sees the connection end.
            sink.transport.abort()
