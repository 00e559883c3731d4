"""A lean HTTP/1.1 upstream client on httptools (llhttp): one request at a time per connection,
a pool of idle connections per origin, no retries, bodies streamed both ways with backpressure.

Responses look like Twisted's (C{code}, C{headers}, C{deliverBody}) and end the same way
(C{ResponseDone}, C{PotentialDataLoss}, C{ResponseFailed}), so the gateway relays either.
"""

from __future__ import annotations

import socket
from typing import Any, Callable

import httptools
from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from twisted.web.client import (
    RequestTransmissionFailed,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH
from zope.interface import implementer

from stoad.proxy.headers import RawHeaders
from stoad.proxy.http import set_no_delay

# Linux only: elsewhere the kernel's delayed-ACK policy is left as it is.
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
_NO_BODY_STATUSES = frozenset({204, 304})


def tcp_socket(transport: Any) -> Any:
    """
    The socket of the TCP connection under (any number of) TLS layers, or None. Not
    C{getHandle()}: on a TLS layer that is the OpenSSL connection, not the socket.
    """
    while transport is not None:
        sock = getattr(transport, "socket", None)  # twisted.internet.tcp keeps it here
        if sock is not None and hasattr(sock, "setsockopt"):
            return sock
        transport = getattr(transport, "transport", None)
    return None


class _HeadOnly(Exception):
    """Stops the parser after the head of a response to HEAD (llhttp would wait for a body)."""


class UpstreamResponse:
    """The status and headers of an upstream response; its body comes through C{deliverBody}."""

    def __init__(self, connection: UpstreamConnection, code: int,
                 raw_headers: list[tuple[bytes, bytes]], head_map: dict[str, list[str]]) -> None:
        self.code = code
        # What the gateway reads: names lower-cased, names and values decoded as Latin-1 (so
        # every byte survives), as layers see headers.
        self.head_map = head_map
        self._raw_headers = raw_headers
        self._connection = connection

    @property
    def headers(self) -> RawHeaders:
        """The headers as twisted.web's C{Headers} offers them (canonical names, raw bytes)."""
        headers = RawHeaders()
        for name, value in self._raw_headers:
            headers.addRawHeader(name, value)
        return headers

    def deliverBody(self, protocol: Protocol) -> None:
        self._connection.deliver(protocol)

    def take_body(self) -> bytes | None:
        """
        The whole body, if the upstream's framing says it has all arrived already (the
        connection is then free for another request); None otherwise, and then the body
        comes through C{deliverBody} as usual.
        """
        return self._connection.take_body(self)


@implementer(IPushProducer)
class _BodyProducer:
    """What a body protocol sees as its transport: the connection's reading, paused or stopped."""

    def __init__(self, connection: UpstreamConnection) -> None:
        # Detached when the body has ended: the connection may already carry another request.
        self.connection: UpstreamConnection | None = connection

    def pauseProducing(self) -> None:
        if self.connection is not None:
            self.connection.pause_reading("consumer")

    def resumeProducing(self) -> None:
        if self.connection is not None:
            self.connection.resume_reading("consumer")

    def stopProducing(self) -> None:
        if self.connection is not None:
            self.connection.abandon()


class _ChunkedConsumer:
    """Frames what a body producer writes as chunks (a streamed body of unknown length)."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        if data:
            self._transport.write(b"%x\r\n%b\r\n" % (len(data), data))


class UpstreamConnection(Protocol):
    """One upstream connection: writes a request, parses its response, then is idle again."""

    # TCP, or TLS over TCP: a consumer, a push producer and abortable (Twisted types ITransport).
    transport: Any

    def __init__(self, quick_ack: bool = True) -> None:
        self._quick_ack = quick_ack
        self._sock: Any = None
        self._parser: Any = None
        # The parser of the last response, ended cleanly on a kept-alive connection: llhttp is
        # back at the start of a message then, and parses the next response as a new one.
        self._spare_parser: Any = None
        self._waiting: defer.Deferred[UpstreamResponse] | None = None
        self._response: UpstreamResponse | None = None
        self._protocol: Protocol | None = None
        self._producer: _BodyProducer | None = None
        self._held: list[bytes] = []
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._framed = False  # the response has a Content-Length or chunked body
        self._head_only = False
        self._complete = False
        self._ended: Failure | None = None  # how the body ended, until a protocol takes it
        self._body_sent = True
        self._keep_alive = False
        self._pauses: set[str] = set()
        self._lost = False
        self._aborted = False
        # Set by the pool: the clock of the deadlines below, which live as long as the
        # connection and are moved per request (DelayedCall.reset), never made per request.
        self.clock: Any = None
        self._head_timer: Any = None  # the response-head deadline of the request in flight
        self.timed_out = False  # that deadline passed: the request was cancelled by it
        self.idle_timer: Any = None  # the pool's: closes the connection once idle too long
        self.on_idle: Callable[[UpstreamConnection], None] | None = None
        self.on_lost: Callable[[UpstreamConnection], None] | None = None

    # -- connection ---------------------------------------------------------------------------
    def connectionMade(self) -> None:
        set_no_delay(self.transport)
        if self._quick_ack and _TCP_QUICKACK is not None:
            self._sock = tcp_socket(self.transport)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self._lost = True
        for timer in (self._head_timer, self.idle_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._head_timer = self.idle_timer = None
        if self.on_lost is not None:
            self.on_lost(self)
        if self._waiting is not None and not self._waiting.called:
            waiting, self._waiting = self._waiting, None
            if not self._body_sent:
                waiting.errback(Failure(RequestTransmissionFailed([reason])))
            else:
                waiting.errback(Failure(ResponseNeverReceived([reason])))
            return
        if self._response is not None and not self._complete and self._ended is None:
            if (not self._framed and not self._head_only and self._parser is not None
                    and not self._aborted):
                self._ended = Failure(PotentialDataLoss())  # the close was the body's end
            else:
                self._ended = Failure(ResponseFailed([reason]))
            self._flush()

    @property
    def usable(self) -> bool:
        return not self._lost and self._waiting is None and self._response is None

    def abandon(self) -> None:
        """The body's reader gave up: cut the connection, never reuse it."""
        self._aborted = True
        self.transport.abortConnection()

    def pause_reading(self, why: str) -> None:
        if not self._pauses and not self._lost:
            self.transport.pauseProducing()
        self._pauses.add(why)

    def resume_reading(self, why: str) -> None:
        if why in self._pauses:
            self._pauses.discard(why)
            if not self._pauses and not self._lost:
                self.transport.resumeProducing()

    # -- request ------------------------------------------------------------------------------
    def request(self, method: bytes, target: bytes, headers: Headers | RawHeaders,
                body: Any, deadline: float = 0.0) -> defer.Deferred[UpstreamResponse]:
        """
        Send one request; fires with the response once its head is in. With a C{deadline}
        (seconds, on C{clock}), a head that has not arrived by then cancels the request and
        sets C{timed_out}.
        """
        self.timed_out = False
        if deadline > 0:
            self._arm_head_deadline(deadline)
        self._parser = self._spare_parser or httptools.HttpResponseParser(self)
        self._spare_parser = None
        self._head_only = method == b"HEAD"
        self._response = None
        self._protocol = None
        self._held = []
        self._complete = False
        self._ended = None
        self._raw_headers = []
        self._waiting = defer.Deferred(lambda d: self.abandon())
        waiting = self._waiting
        request_line = method + b" " + target + b" HTTP/1.1\r\n"
        if isinstance(headers, RawHeaders):
            lines = [headers.head_bytes(request_line)[:-2]]  # framing lines follow
        else:
            lines = [request_line]
            for name, values in headers.getAllRawHeaders():
                for value in values:
                    lines.append(name + b": " + value + b"\r\n")
        if isinstance(body, (bytes, bytearray)):
            if body or method in (b"POST", b"PUT", b"PATCH"):
                lines.append(b"Content-Length: %d\r\n" % len(body))
            lines.append(b"\r\n")
            self._body_sent = True
            self.transport.write(b"".join(lines) + bytes(body))
            return waiting
        if body is None:
            lines.append(b"\r\n")
            self._body_sent = True
            self.transport.write(b"".join(lines))
            return waiting
        chunked = body.length is UNKNOWN_LENGTH
        lines.append(b"Transfer-Encoding: chunked\r\n" if chunked
                     else b"Content-Length: %d\r\n" % body.length)
        lines.append(b"\r\n")
        self.transport.write(b"".join(lines))
        self._body_sent = False
        self.transport.registerProducer(body, True)
        consumer = _ChunkedConsumer(self.transport) if chunked else self.transport
        sent = body.startProducing(consumer)

        def done(_: Any) -> None:
            if self._lost:
                return
            self.transport.unregisterProducer()
            if chunked:
                self.transport.write(b"0\r\n\r\n")
            self._body_sent = True
            self._maybe_idle()

        def failed(reason: Failure) -> None:
            if not self._lost:
                self.transport.unregisterProducer()
                self.abandon()

        sent.addCallbacks(done, failed)
        return waiting

    def _arm_head_deadline(self, seconds: float) -> None:
        timer = self._head_timer
        if timer is not None and timer.active():
            timer.reset(seconds)  # later than before: Twisted re-sorts it lazily, no new call
        else:
            self._head_timer = self.clock.callLater(seconds, self._head_deadline_passed)

    def _head_deadline_passed(self) -> None:
        self._head_timer = None
        waiting = self._waiting
        # Moved to the request in flight at each request: if nothing waits for a head (it
        # came, or the connection is idle), it belonged to a request that is over.
        if waiting is not None and not waiting.called:
            self.timed_out = True
            waiting.cancel()

    # -- response -----------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        if self._parser is None or self._complete:
            self.abandon()  # bytes nobody asked for: this connection cannot be trusted
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as e:
            if not isinstance(e.__context__, _HeadOnly):
                self._protocol_error(e)
                return
            self._complete = True
            self._keep_alive = False  # what follows the head cannot be told apart
        except httptools.HttpParserError as e:
            self._protocol_error(e)
            return
        if self._sock is not None and not self._complete:
            # More of the response is to come: an upstream with Nagle on may hold it back
            # until this read is ACKed. The kernel re-enters delayed-ACK mode on its own, so
            # re-arm on every such read, which also sends the ACK at once (docs/mcp.md,
            # "Latency"). A read that completes the response needs no early ACK: the upstream
            # sends nothing more before the next request, which carries the ACK.
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except OSError:
                self._sock = None  # closed under us: the read path reports that, not this hint
        self._flush()

    def _protocol_error(self, error: Exception) -> None:
        reason = Failure(error)
        if self._waiting is not None and not self._waiting.called:
            waiting, self._waiting = self._waiting, None
            waiting.errback(Failure(ResponseNeverReceived([reason])))
        elif self._ended is None and not self._complete:
            self._ended = Failure(ResponseFailed([reason]))
            self._flush()
        self.abandon()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        code = self._parser.get_status_code()
        if 100 <= code < 200:
            self._raw_headers = []  # an interim response: the final one follows
            return
        head_map: dict[str, list[str]] = {}
        for name, value in self._raw_headers:
            key = name.decode("latin-1").lower()
            found = head_map.get(key)
            if found is None:
                head_map[key] = [value.decode("latin-1")]
            else:
                found.append(value.decode("latin-1"))
        framed = "content-length" in head_map or "transfer-encoding" in head_map
        self._framed = framed or code in _NO_BODY_STATUSES
        self._keep_alive = self._parser.should_keep_alive()
        self._response = UpstreamResponse(self, code, self._raw_headers, head_map)
        self._raw_headers = []  # the response keeps its own (trailers would come after)
        if self._head_only:
            raise _HeadOnly()

    def on_body(self, data: bytes) -> None:
        self._held.append(data)

    def on_message_complete(self) -> None:
        if self._response is None:
            return  # the end of an interim (1xx) response
        self._complete = True

    def _flush(self) -> None:
        waiting = self._waiting
        if self._response is not None and waiting is not None and not waiting.called:
            self._waiting = None
            if self._protocol is None and not self._complete:
                # Nothing more is read until someone wants the body (as Twisted's Agent does).
                self.pause_reading("deliver")
            waiting.callback(self._response)
            return
        self._feed()

    def deliver(self, protocol: Protocol) -> None:
        self._protocol = protocol
        self._producer = _BodyProducer(self)
        protocol.makeConnection(self._producer)  # a producer, as Agent hands over
        self.resume_reading("deliver")
        self._feed()

    def take_body(self, response: UpstreamResponse) -> bytes | None:
        if (response is not self._response or not self._complete or self._protocol is not None
                or self._ended is not None or self._lost):
            return None
        body = b"".join(self._held)
        self._held = []
        self._response = None
        self.resume_reading("deliver")
        self._maybe_idle()
        return body

    def _feed(self) -> None:
        protocol = self._protocol
        if protocol is None:
            return
        while self._held:
            chunk = self._held.pop(0)
            protocol.dataReceived(chunk)
        if self._complete:
            self._protocol = None
            self._response = None
            self._detach()
            protocol.connectionLost(Failure(ResponseDone()))
            self._maybe_idle()
        elif self._ended is not None:
            ended, self._ended = self._ended, None
            self._protocol = None
            self._detach()
            protocol.connectionLost(ended)

    def _detach(self) -> None:
        if self._producer is not None:
            self._producer.connection = None
            self._producer = None
        self.resume_reading("consumer")  # a reader that is done holds nothing back

    def _maybe_idle(self) -> None:
        if self._lost or not self._complete or not self._body_sent or self._protocol is not None:
            return
        if self._response is not None:
            return  # the body is not delivered yet
        if self._keep_alive and not self._aborted and not self._pauses:
            self._spare_parser, self._parser = self._parser, None
            if self.on_idle is not None:
                self.on_idle(self)
                return
        self.transport.loseConnection()


class UpstreamPool:
    """Idle upstream connections by origin; a connection is handed to one request at a time."""

    def __init__(self, reactor: Any, max_per_origin: int, idle_timeout: float) -> None:
        self._reactor = reactor
        self.max_per_origin = max_per_origin
        self.idle_timeout = idle_timeout
        self.idle: dict[Any, list[tuple[UpstreamConnection, Any]]] = {}

    def take(self, key: Any) -> UpstreamConnection | None:
        """An idle connection to C{key}'s origin, or None."""
        idle = self.idle.get(key)
        while idle:
            # Its idle timer is left running: the next park moves it (a busy connection's
            # timer that fires finds it not parked and does nothing).
            connection, _ = idle.pop()
            if connection.usable:
                return connection
        return None

    def connection(self, key: Any, endpoint: Any) -> defer.Deferred[UpstreamConnection]:
        """An idle connection to C{key}'s origin, or a new one through C{endpoint}."""
        connection = self.take(key)
        if connection is not None:
            return defer.succeed(connection)
        factory = Factory.forProtocol(UpstreamConnection)
        connecting: defer.Deferred[UpstreamConnection] = endpoint.connect(factory)

        def made(connection: UpstreamConnection) -> UpstreamConnection:
            connection.clock = self._reactor
            connection.on_idle = lambda c: self._park(key, c)
            connection.on_lost = lambda c: self._forget(key, c)
            return connection

        return connecting.addCallback(made)

    def _park(self, key: Any, connection: UpstreamConnection) -> None:
        connection.clock = self._reactor
        idle = self.idle.setdefault(key, [])
        if len(idle) >= self.max_per_origin:
            connection.transport.loseConnection()
            return
        timer = connection.idle_timer
        if timer is not None and timer.active():
            timer.reset(self.idle_timeout)
        else:
            timer = connection.idle_timer = self._reactor.callLater(
                self.idle_timeout, self._expire, key, connection)
        idle.append((connection, timer))

    def _expire(self, key: Any, connection: UpstreamConnection) -> None:
        connection.idle_timer = None
        if not any(entry[0] is connection for entry in self.idle.get(key, ())):
            return  # in use since it was parked: the next park arms a new timer
        self._forget(key, connection)
        connection.transport.loseConnection()

    def _forget(self, key: Any, connection: UpstreamConnection) -> None:
        idle = self.idle.get(key)
        if not idle:
            return
        for entry in list(idle):
            if entry[0] is connection:
                idle.remove(entry)
                timer = connection.idle_timer
                if timer is not None and timer.active():
                    timer.cancel()
                connection.idle_timer = None

    def close(self) -> defer.Deferred[None]:
        for key in list(self.idle):
            for connection, timer in self.idle.pop(key):
                if timer.active():
                    timer.cancel()
                connection.transport.loseConnection()
        return defer.succeed(None)


def endpoint_for(reactor: Any, host: str, port: int, connect_timeout: float,
                 tls_creator: Any = None) -> Any:
    """A client endpoint for one upstream origin (TLS with stoad's client certificate if set)."""
    # Imported here: importing twisted.internet.endpoints consumes systemd's LISTEN_FDS and
    # LISTEN_PID, which the supervisor must still find (see docs/decisions.md, shared state).
    from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

    endpoint: Any = HostnameEndpoint(reactor, host, port, timeout=connect_timeout)
    if tls_creator is not None:
        endpoint = wrapClientTLS(tls_creator, endpoint)
    return endpoint
