"""HTTP/1.1 over TLS with the limits, strictness and per-phase deadlines of a security gateway.

The request head is parsed by llhttp (through httptools) with its strict defaults, plus stoad's
own refusals for anything a next hop could read differently; ambiguous framing is answered
400/413/414 and the connection closed before anything reaches the chain. Timers follow
HAProxy's phases: handshake, request head, request body progress, client write, keep-alive idle.
"""

from __future__ import annotations

from collections import deque
from http import HTTPStatus
from typing import Any, Callable, Iterable, cast

import httptools
from OpenSSL import SSL, crypto
from twisted.internet import defer
from twisted.internet.interfaces import (
    IDelayedCall,
    IHandshakeListener,
    IPushProducer,
    ITCPTransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from stoad.config import LimitSettings
from stoad.daemon.metrics import Metrics
from stoad.proxy.responses import raw_error
from stoad.proxy.streaming import StreamedBody
from stoad.proxy.tls import peer_certificate_of
from stoad.runtime.context import PeerCertificate

log = Logger()

_FRAMING_LETTERS = (b"contentlength", b"transferencoding")
_MAX_CONTENT_LENGTH = 1 << 63
_NO_BODY_STATUSES = frozenset({204, 304})

_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
            414: "URI Too Long", 417: "Expectation Failed", 503: "Service Unavailable"}
_STATUS_LINES: dict[int, bytes] = {}

# What llhttp says, and what the operator reads in the log and the audit event.
_PARSER_REASONS = {
    "Unexpected whitespace after header value": "obsolete line folding in a header",
    "Unexpected space after start line": "obsolete line folding in a header",
    "Duplicate Content-Length": "more than one Content-Length",
    "Content-Length can't be present with Transfer-Encoding":
        "both Transfer-Encoding and Content-Length",
    "Content-Length overflow": "Content-Length does not fit in 63 bits",
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# A buffered body is in memory twice at its peak: the copy the layers read, and the copy in the
# upstream connection's write buffer (Twisted joins what it is given before sending it).
_BODY_COPIES = 2


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        line = f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")
        if len(_STATUS_LINES) < 256:  # statuses come from upstreams: keep the map bounded
            _STATUS_LINES[status] = line
    return line


def _with_request_id(reply: bytes, request_id: object) -> bytes:
    """A fixed raw reply with the audit event's request id added to its head, when there is one."""
    if isinstance(request_id, str) and request_id.isalnum():
        return reply.replace(b"\r\n\r\n", b"\r\nX-Request-Id: " + request_id.encode("ascii")
                             + b"\r\n\r\n", 1)
    return reply


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is on the channel."""


class BufferBudget:
    """
    The bytes of request and response bodies a worker holds in memory at once, all exchanges
    together. A reservation beyond the budget is refused (the request gets 503) rather than
    letting the process grow.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def reserve(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def release(self, n: int) -> None:
        self.used = max(0, self.used - n)


class _Message:
    """A request as it is being parsed: head fields, then its body so far."""

    __slots__ = ("url", "headers", "head_bytes", "method", "version", "length", "chunked",
                 "parts", "received", "complete", "keep_alive", "expect_continue", "request",
                 "reserved", "content_types", "te_lines", "hosts", "head_done")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        self.method = b""
        self.version = b""
        self.length: int | None = None
        self.chunked = False
        self.parts: list[bytes] = []
        self.received = 0
        self.complete = False
        self.keep_alive = False
        self.expect_continue = False
        self.request: GatewayRequest | None = None
        self.reserved = 0
        self.content_types = 0
        self.te_lines = 0
        self.hosts = 0
        self.head_done = False


class GatewayRequest:
    """
    One request as the gateway sees it (method, target, raw headers, buffered or streamed
    body) and the writer of its one response.
    """

    def __init__(self, channel: GatewayChannel, message: _Message,
                 streamed: StreamedBody | None) -> None:
        self.channel = channel
        self.method = message.method
        self.uri = message.url
        self.path = message.url.split(b"?", 1)[0]
        self.clientproto = b"HTTP/" + message.version
        self.headers = message.headers
        self.body = b"".join(message.parts) if streamed is None else b""
        message.parts = []  # the joined copy is the only one kept
        self.streamed = streamed
        self.persistent = message.keep_alive
        self.code = 200
        self.finished = False
        self.started = False
        # Set by the channel when it refused this request after handing it over (a streamed
        # body too large or too slow): the exchange records this, and nothing else.
        self.refusal: tuple[int, str] | None = None
        # Set when the channel cut the exchange on a deadline: (source, status, reason).
        self.cut: tuple[str, int, str] | None = None
        # Set by the gateway: answers the request when the exchange deadline passes first.
        self.on_deadline: Callable[[], None] | None = None
        # Set by the gateway: told when the connection is lost before the response is complete
        # (what notifyFinish's errback says, without a Deferred per request).
        self.on_lost: Callable[[Failure], None] | None = None
        # Set by the channel for a request refused on its head alone before 100 Continue.
        self.head_refusal: Any = None
        # Set by the gateway once the exchange has its audit request id, so that a refusal the
        # channel writes itself (a streamed body too large or too slow) names it as well.
        self.request_id: str | None = None
        self._message = message
        self._chunked = False
        self._no_body = message.method == b"HEAD"
        self._head: bytes | None = None
        self._finish_waiters: list[defer.Deferred[None]] = []
        self._lost = False
        self._producer: Any = None

    @property
    def lost(self) -> bool:
        """The connection was lost before the response was complete."""
        return self._lost

    @property
    def client_ip(self) -> str:
        return self.channel.client_ip

    # -- lifetime ------------------------------------------------------------------------------
    def notifyFinish(self) -> defer.Deferred[None]:
        """Fires when the response is complete, fails if the connection is lost first."""
        d: defer.Deferred[None] = defer.Deferred()
        if self.finished:
            d.callback(None)
        elif self._lost:
            d.errback(Failure(ConnectionError("client connection lost")))
        else:
            self._finish_waiters.append(d)
        return d

    def connectionLost(self, reason: Failure) -> None:
        if self.finished or self._lost:
            return
        self._lost = True
        if self.streamed is not None:
            self.streamed.fail(reason.value or ConnectionError("connection lost"))
        if self.on_lost is not None:
            self.on_lost(reason)
        waiters, self._finish_waiters = self._finish_waiters, []
        for d in waiters:
            d.errback(reason)

    # -- response ------------------------------------------------------------------------------
    def start_response(self, status: int, headers: Iterable[tuple[str | bytes, str | bytes]]) -> None:
        """
        Set the status and headers; they go out with the first body write or at C{finish}. A
        response that leaves while the body is still arriving ends the connection: what follows
        could not be told from a new request.
        """
        if self.started or self.refusal is not None:
            return
        self.started = True
        self.code = status
        lines = [_status_line(status)]
        length_given = False
        for name, value in headers:
            raw_name = name.encode("latin-1") if isinstance(name, str) else name
            raw_value = value.encode("latin-1") if isinstance(value, str) else value
            if raw_name.lower() == b"content-length":
                length_given = True
            lines.append(raw_name + b": " + raw_value + b"\r\n")
        body_allowed = status >= 200 and status not in _NO_BODY_STATUSES
        if not self._message.complete or self.channel.rejected:
            self.persistent = False
        if body_allowed and not length_given and not self._no_body:
            if self.clientproto == b"HTTP/1.1":
                self._chunked = True
                lines.append(b"Transfer-Encoding: chunked\r\n")
            else:
                self.persistent = False  # the end of the body is the end of the connection
        if not body_allowed:
            self._no_body = True
        if not self.persistent:
            lines.append(b"Connection: close\r\n")
        lines.append(b"\r\n")
        self._head = b"".join(lines)

    def write(self, data: bytes) -> None:
        if self.finished or self._lost or not data or self.refusal is not None:
            return
        head, self._head = self._head or b"", None
        if self._no_body:
            if head:
                self.channel.write(head)
            return
        if self._chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        self.channel.write(head + data if head else data)

    def finish(self) -> None:
        if self.finished or self._lost or self.refusal is not None:
            return
        head, self._head = self._head or b"", None
        tail = b"0\r\n\r\n" if self._chunked and not self._no_body else b""
        if head or tail:
            self.channel.write(head + tail)
        self.finished = True
        waiters, self._finish_waiters = self._finish_waiters, []
        for d in waiters:
            d.callback(None)
        self.channel.request_done(self)

    def abort(self) -> None:
        """Cut the connection: the client must see the response broken, not complete."""
        self.channel.abort()

    # -- backpressure from the client to the response's producer ------------------------------
    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self._producer = producer
        self.channel.response_producer = producer
        if self.channel.write_paused:
            producer.pauseProducing()

    def unregisterProducer(self) -> None:
        self._producer = None
        self.channel.response_producer = None


@implementer(IHandshakeListener, IPushProducer)
class GatewayChannel(Protocol):
    """One client connection: strict parsing, limits, deadlines and the verified peer."""

    factory: GatewayHTTPFactory
    # Always under TLS (GatewayTLSFactory); set by makeConnection before any event below. The
    # TLS transport is an ISSLTransport, an IConsumer and an IPushProducer at once.
    transport: Any
    peer: PeerCertificate | None = None
    handshake_done = False
    handshake_deadline: IDelayedCall | None = None  # set by the TLS factory; cancelled when done
    rejected = False
    client_ip = "-"

    def __init__(self, limits: LimitSettings, budget: BufferBudget | None = None,
                 clock: Any = None) -> None:
        self.limits = limits
        self.budget = budget if budget is not None else BufferBudget(1 << 62)
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self._parser = httptools.HttpRequestParser(self)
        self._parsing: _Message | None = None
        # Pipelined requests behind the active one; a deque (a 64-slot block) only while any wait.
        self._queue: deque[_Message | tuple[int, str, _Message]] | None = None
        self.active: GatewayRequest | None = None
        self.response_producer: Any = None
        self.write_paused = False
        self._read_pauses: set[str] | None = None  # why reading is paused; None when it is not
        self._refusal: tuple[int, str] | None = None
        self._timers: dict[str, IDelayedCall] = {}
        self._window_start = 0
        self._closing = False
        # Stops parsing once a pipelined request was refused behind the one being answered.
        self._halted = False
        # Raw bytes of the request head being read, over reads that began inside it: llhttp
        # holds a header line until its end, so this is what bounds a line that never ends.
        self._head_raw = 0

    # -- connection ------------------------------------------------------------------------------
    def connectionMade(self) -> None:
        set_no_delay(self.transport)
        self.client_ip = getattr(self.transport.getPeer(), "host", "-") or "-"
        self.transport.registerProducer(self, True)
        self._arm("idle", self.limits.idle_timeout, self._idle_expired)

    def handshakeCompleted(self) -> None:
        self.handshake_done = True
        deadline, self.handshake_deadline = self.handshake_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()  # not left pending for the life of a keep-alive connection
        # ISSLTransport says object; the TLS transport hands back pyOpenSSL's X509 or None.
        cert = cast("crypto.X509 | None", self.transport.getPeerCertificate())
        if cert is not None:
            self.peer = peer_certificate_of(cert)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        for name in list(self._timers):
            self._disarm(name)
        self._release_all()
        if self.active is not None:
            self.active.connectionLost(reason)
        if not self.handshake_done and reason is not None and reason.check(SSL.Error):
            # Verification failures were counted with their own reason by the verify callback.
            why = _ssl_reason(cast(SSL.Error, reason.value))  # check() above
            if why != "certificate verify failed":
                self.factory.metrics.handshake_failures.labels(why).inc()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def abort(self) -> None:
        self._closing = True
        # A channel sits on TCP or on TLS over TCP: both abort (Twisted types it ITransport).
        cast(ITCPTransport, self.transport).abortConnection()

    def _close(self) -> None:
        if self._closing:
            return
        self._closing = True
        for name in list(self._timers):
            self._disarm(name)
        # Unregister first: the TLS layer waits for its producer before it closes.
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing half-read: the connection can go at once."""
        return self.active is None and self._parsing is None and not self._queue

    def drain(self) -> None:
        """The worker is stopping: the response in flight is the connection's last."""
        if self.active is not None:
            self.active.persistent = False

    # -- IPushProducer: the client's side of the response's backpressure ---------------------------
    def pauseProducing(self) -> None:
        self.write_paused = True
        if self.response_producer is not None:
            self.response_producer.pauseProducing()
        if "write" not in self._timers:  # a stall is timed from its start, never extended
            self._arm("write", self.limits.write_timeout, self._write_expired)

    def resumeProducing(self) -> None:
        self.write_paused = False
        self._disarm("write")
        if self.response_producer is not None:
            self.response_producer.resumeProducing()

    def stopProducing(self) -> None:
        pass  # the connection is going; connectionLost does the rest

    # -- reading ---------------------------------------------------------------------------------
    def pause_reading(self, why: str) -> None:
        """Stop reading from the client; its head and body clocks stop too (it is not slow)."""
        if not self._read_pauses:
            self.transport.pauseProducing()
            self._disarm("head")
            self._disarm("body")
        if self._read_pauses is None:
            self._read_pauses = set()
        self._read_pauses.add(why)

    def resume_reading(self, why: str) -> None:
        if self._read_pauses is None or why not in self._read_pauses:
            return
        self._read_pauses.discard(why)
        if self._read_pauses:
            return
        self._read_pauses = None
        if self._closing:
            return
        self.transport.resumeProducing()
        message = self._parsing
        if message is not None and not self.rejected:
            if not message.head_done:
                self._arm("head", self.limits.read_timeout, self._head_expired)
            else:
                self._arm_body_window()

    def dataReceived(self, data: bytes) -> None:
        if self.rejected or self._halted or self._closing:
            return
        message = self._parsing
        in_head = message is not None and not message.head_done
        if in_head:
            self._head_raw += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._after_upgrade(data[int(upgrade.args[0]):])
            return
        except httptools.HttpParserError as e:
            # A callback's own refusal comes back as a parser error too (which one depends on
            # the callback): the refusal decided there is the one that counts.
            if self._refusal is None:
                if self._closing or self.rejected or self._halted:
                    return  # stopped on purpose by a callback; nothing more to read
                cause = e.__context__
                if cause is not None and not isinstance(cause, _Refused):
                    # A fault of stoad's own while reading: fail closed, never guess.
                    log.failure("reading a request failed; closing the connection",
                                Failure(cause))
                    self.abort()
                    return
                reason = str(e)
                self._refusal = (400, _PARSER_REASONS.get(reason, f"malformed request: {reason}"))
        if self._refusal is not None:
            status, why = self._refusal
            self._refusal = None
            self.refuse(status, why, self._parsing or message)
            return
        message = self._parsing
        if (in_head and message is not None and not message.head_done
                and self._head_raw > self.limits.max_header_bytes + self.limits.max_request_line):
            if message.url and message.headers:
                self.refuse(400, "request head larger than max_header_bytes", message)
            else:
                self.refuse(414, "request head line too long", message)
            return
        active = self.active
        if self._queue or (active is not None and message is not None
                           and message is not active._message):
            # Pipelined: what is already here is parsed; nothing more is read until its turn.
            self.pause_reading("pipeline")
        elif message is None and active is None and not self._closing:
            self._arm("idle", self.limits.idle_timeout, self._idle_expired)
        if message is not None and not self._read_pauses and not (self._closing or self.rejected):
            # A head or body that did not arrive in this read gets its clock now (most arrive
            # whole in one read and never need one).
            if not message.head_done:
                if "head" not in self._timers:
                    self._arm("head", self.limits.read_timeout, self._head_expired)
            elif "body" not in self._timers:
                self._arm_body_window(restart=False)  # the body's first window began at its head

    def _after_upgrade(self, rest: bytes) -> None:
        # llhttp stops after a request with Upgrade (and Connection: upgrade) or CONNECT; stoad
        # never switches protocols, so the request was served as a plain one (or refused in
        # on_headers_complete) and parsing goes on with a fresh parser.
        self._parser = httptools.HttpRequestParser(self)
        if rest and not self.rejected:
            self.dataReceived(rest)

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._closing or self.rejected or self._halted:
            raise _Refused("connection closing")  # bytes after the last request are ignored
        self._parsing = _Message()
        self._head_raw = 0

    def on_url(self, url: bytes) -> None:
        message = cast(_Message, self._parsing)
        message.url += url
        message.head_bytes += len(url)
        if len(message.url) > self.limits.max_request_line:
            self._stop(414, "request line longer than max_request_line")

    def on_header(self, name: bytes, value: bytes) -> None:
        message = cast(_Message, self._parsing)
        value = value.rstrip(b" \t")
        message.head_bytes += len(name) + len(value) + 4
        if message.head_bytes > self.limits.max_header_bytes:
            self._stop(400, "request head larger than max_header_bytes")
        if len(message.headers) >= self.limits.max_headers:
            self._stop(400, "more than max_headers header lines")
        lower = name.lower()
        if lower == b"content-type":
            message.content_types += 1
            if message.content_types > 1:
                # Which one would the upstream use? Layers checked the first.
                self._stop(400, "more than one Content-Type")
        elif lower == b"transfer-encoding":
            message.te_lines += 1
        elif lower == b"host":
            message.hosts += 1
        elif lower != b"content-length" and (
                lower.replace(b"-", b"").replace(b"_", b"") in _FRAMING_LETTERS):
            # Transfer_Encoding, Content__Length...: servers that fold "_" into "-" (CGI, WSGI)
            # would read these as framing that stoad did not use.
            self._stop(400, "header name resembles Content-Length or Transfer-Encoding")
        elif lower == b"expect":
            message.expect_continue = value.lower() == b"100-continue"
            if not message.expect_continue:
                self._stop(417, "Expect other than 100-continue")
        message.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._disarm("head")
        message = cast(_Message, self._parsing)
        message.head_done = True
        self._window_start = 0
        parser = self._parser
        version = parser.get_http_version().encode("ascii")
        message.version = version
        message.method = parser.get_method()
        message.keep_alive = version == b"1.1" and parser.should_keep_alive()
        if version not in (b"1.1", b"1.0"):
            self._stop(400, f"HTTP version {version.decode('ascii')} not served")
        if b"#" in message.url:
            # A fragment is never part of a request target (RFC 9112 3.2); the forwarder's URL
            # parser would cut the target there, so upstream would see less than the chain.
            self._stop(400, "'#' in the request target")
        if message.hosts > 1 or (message.hosts == 0 and version == b"1.1"):
            self._stop(400, "an HTTP/1.1 request needs exactly one Host")  # RFC 9112 3.2
        length = None
        for name, value in message.headers:
            lower = name.lower()
            if lower == b"transfer-encoding":
                # Only one reading: a single line, a single coding, chunked, on HTTP/1.1.
                if message.te_lines > 1 or value.lower() != b"chunked":
                    self._stop(400, "Transfer-Encoding other than a single chunked")
                if version != b"1.1":
                    self._stop(400, "Transfer-Encoding on an HTTP/1.0 request")
                message.chunked = True
            elif lower == b"content-length":
                length = int(value)
        if length is not None and length >= _MAX_CONTENT_LENGTH:
            # No next hop can hold this length without overflowing (nginx answers 400 too).
            self._stop(400, "Content-Length does not fit in 63 bits")
        message.length = length
        if parser.should_upgrade() or message.method == b"CONNECT":
            # llhttp would hand the rest of the stream over as another protocol's bytes.
            if message.method == b"CONNECT":
                self._stop(400, "CONNECT is not served")
            if message.chunked or length:
                self._stop(400, "Upgrade request with a body")
        if length is not None and length > self.limits.max_body_bytes:
            self._stop(413, "body larger than max_body_bytes")
        expects_body = message.chunked or bool(length)
        gateway = self.factory.gateway
        streams = expects_body and gateway is not None and gateway.streams_body(message.url)
        if expects_body and not streams:
            if not self.budget.reserve(_BODY_COPIES * (length or 0)):
                self._stop(503, "worker buffer budget exhausted")
            message.reserved = _BODY_COPIES * (length or 0)
        if self.active is None and not self._queue:
            self._front(message, streams)

    def on_body(self, data: bytes) -> None:
        message = cast(_Message, self._parsing)
        message.received += len(data)
        if message.received > self.limits.max_body_bytes:
            self._stop(413, "body larger than max_body_bytes")
        request = message.request
        if request is not None and request.streamed is not None:
            request.streamed.write(data)
            return
        if _BODY_COPIES * message.received > message.reserved:
            more = _BODY_COPIES * message.received - message.reserved
            if not self.budget.reserve(more):
                self._stop(503, "worker buffer budget exhausted")
            message.reserved += more
        message.parts.append(data)

    def on_message_complete(self) -> None:
        message = cast(_Message, self._parsing)
        self._parsing = None
        self._disarm("body")
        message.complete = True
        request = message.request
        if request is not None:
            if request.streamed is not None:
                request.streamed.finish()
            return
        if self.active is None and not self._queue:
            self._dispatch(message)
        else:
            self._enqueue(message)

    def _enqueue(self, item: _Message | tuple[int, str, _Message]) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(item)

    # -- handing requests to the gateway ------------------------------------------------------
    def _front(self, message: _Message, streams: bool) -> None:
        """The head of a request that is next in line is complete: the head-only decisions."""
        gateway = self.factory.gateway
        if message.expect_continue and (message.chunked or message.length):
            refusal = gateway.head_refusal(message.method, message.url,
                                           message.chunked or bool(message.length)) \
                if gateway is not None else None
            if refusal is not None:
                # Refused on its head alone: the final answer and no 100, and the body the
                # client may still send is never read (the connection closes after it).
                message.parts = []
                self.rejected = True
                self._dispatch(message, head_refusal=refusal)
                return
            if not streams:
                self.write(_CONTINUE)
        if streams:
            streamed = StreamedBody(_ReadPause(self), message.length)
            for part in message.parts:  # read while it waited behind a pipelined request
                streamed.write(part)
            message.parts = []
            if message.expect_continue:
                streamed.on_start = lambda: self._continue(message)
            self._dispatch(message, streamed)

    def _continue(self, message: _Message) -> None:
        request = message.request
        if request is not None and not request.started and not self._closing:
            self.write(_CONTINUE)

    def _dispatch(self, message: _Message, streamed: StreamedBody | None = None,
                  head_refusal: Any = None) -> None:
        request = GatewayRequest(self, message, streamed)
        request.head_refusal = head_refusal
        message.request = request
        self.active = request
        self._arm("exchange", self.limits.exchange_timeout, self._exchange_expired)
        gateway = self.factory.gateway
        if gateway is not None:
            if streamed is None:
                gateway.handle(request, self.peer)
            else:
                gateway.handle(request, self.peer, streamed)

    def request_done(self, request: GatewayRequest) -> None:
        """The response is out: release what the request held, then the next one or idle."""
        if request is not self.active:
            return
        self.active = None
        self._disarm("write")
        self.budget.release(request._message.reserved)
        request._message.reserved = 0
        if not request.persistent or self.rejected:
            self._close()
            return
        if self._queue:
            item = self._queue.popleft()
            if not self._queue:
                self._queue = None
            if isinstance(item, tuple):
                status, reason, refused = item
                self.refuse(status, reason, refused)
            else:
                self._dispatch(item)
            return
        if self._parsing is not None and self._parsing.request is None:
            message = self._parsing
            if message.head_done and (message.length or message.chunked):
                gateway = self.factory.gateway
                self._front(message, bool(gateway is not None
                                          and gateway.streams_body(message.url)))
        self.resume_reading("pipeline")
        if self._parsing is None and self.active is None:
            self._arm("idle", self.limits.idle_timeout, self._idle_expired)

    # -- refusals ----------------------------------------------------------------------------------
    def _stop(self, status: int, reason: str) -> None:
        if self._refusal is None:
            self._refusal = (status, reason)
        raise _Refused(reason)

    def refuse(self, status: int, reason: str, message: _Message | None) -> None:
        """
        Answer with a fixed error and close the connection; the request is never forwarded.
        A request already handed to the gateway is recorded by its exchange, all others here:
        either way the audit log gets exactly one event.
        """
        if self.rejected and (message is None or message.request is None):
            return
        if self.active is not None and (message is None or message.request is not self.active):
            # A pipelined request refused while an earlier one is still being answered: the
            # answers go out in order.
            if not self._halted:
                self._halted = True
                self._enqueue((status, reason, message or _Message()))
                self.pause_reading("pipeline")
            return
        self.rejected = True
        for name in ("head", "body", "idle"):
            self._disarm(name)
        self.factory.metrics.denials.labels("http", str(status)).inc()
        log.info("rejected request from {peer}: {status} {reason}", peer=self.client_ip,
                 status=status, reason=reason)
        request = message.request if message is not None else None
        if request is not None:
            if not request.started:
                self.write(_with_request_id(raw_error(status, _REASONS.get(status, "Error")),
                                            request.request_id))
            request.refusal = (status, reason)
            if request.streamed is not None:
                request.streamed.fail(ValueError(reason))
            self._close()
            return
        reply = raw_error(status, _REASONS.get(status, "Error"))
        gateway = self.factory.gateway
        if gateway is not None:
            # Refused before a request existed, but still a call: the audit trail gets its event,
            # and the client the event's request id to quote.
            method = message.method if message is not None and message.method else b"-"
            if message is not None and not message.method:
                try:
                    method = self._parser.get_method()
                except httptools.HttpParserError:
                    pass
            target = message.url if message is not None and message.url else b"-"
            request_id = gateway.record_rejection(self.peer, self.client_ip, status, reason,
                                                  method, target)
            reply = _with_request_id(reply, request_id)
        self.write(reply)
        self._close()

    # -- deadlines -------------------------------------------------------------------------------
    def _arm(self, name: str, seconds: float, expired: Callable[[], None]) -> None:
        timer = self._timers.get(name)
        if timer is not None and timer.active():
            # Moving a pending call later is cheap in Twisted (re-sorted lazily); a new call
            # per request and phase is not.
            timer.reset(seconds)
            return
        if seconds > 0 and not self._closing:
            self._timers[name] = self.clock.callLater(seconds, self._fire, name, expired)

    def _fire(self, name: str, expired: Callable[[], None]) -> None:
        self._timers.pop(name, None)
        expired()

    def _disarm(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None and timer.active():
            timer.cancel()

    def _idle_expired(self) -> None:
        # Nothing in flight and nothing received: close quietly, no 408 and no audit event. (A
        # connection that became busy meanwhile re-arms this when it is idle again.)
        if self.idle:
            self._close()

    def _head_expired(self) -> None:
        self.refuse(408, "request head not received within read_timeout", self._parsing)

    def _arm_body_window(self, restart: bool = True) -> None:
        message = self._parsing
        if message is None or self._read_pauses or self.rejected:
            return
        if restart:
            self._window_start = message.received
        self._arm("body", self.limits.body_window, self._body_window_ended)

    def _body_window_ended(self) -> None:
        message = self._parsing
        if message is None:
            return
        moved = message.received - self._window_start
        if moved <= 0 or moved < self.limits.body_min_rate * self.limits.body_window:
            self.refuse(408, "request body slower than body_min_rate over body_window", message)
            return
        self._arm_body_window()

    def _write_expired(self) -> None:
        request = self.active
        log.info("client {peer} stopped reading for write_timeout; closing", peer=self.client_ip)
        if request is not None:
            request.cut = ("client", 499, "client stopped reading for write_timeout")
        self.abort()

    def _exchange_expired(self) -> None:
        # Moved later at each dispatch, so it always belongs to the request in flight, if any.
        request = self.active
        if request is None:
            return
        if request is not None:
            request.cut = ("gateway", 504, "exchange longer than exchange_timeout")
            if request.on_deadline is not None and not request.started:
                request.on_deadline()
                return
        self.abort()

    def _release_all(self) -> None:
        for message in (self._parsing, self.active._message if self.active else None):
            if message is not None and message.reserved:
                self.budget.release(message.reserved)
                message.reserved = 0
        for item in self._queue or ():
            held = item[2] if isinstance(item, tuple) else item
            if held.reserved:
                self.budget.release(held.reserved)
                held.reserved = 0


class _ReadPause:
    """What a streamed body pauses and resumes: the client's reading, as one of its reasons."""

    def __init__(self, channel: GatewayChannel) -> None:
        self._channel = channel

    def pauseProducing(self) -> None:
        self._channel.pause_reading("stream")

    def resumeProducing(self) -> None:
        self._channel.resume_reading("stream")


def set_no_delay(transport: Any) -> None:
    """
    Turn Nagle's algorithm off on the TCP connection under (any number of) TLS layers: a
    response head and body written separately would otherwise wait for the peer's delayed ACK.
    """
    while transport is not None:
        if ITCPTransport.providedBy(transport):
            set_option = getattr(transport, "setTcpNoDelay", None)  # test doubles may lack it
            if set_option is not None:
                set_option(True)
            return
        transport = getattr(transport, "transport", None)


class GatewayHTTPFactory(Factory[GatewayChannel]):
    """Builds channels that hand their requests to the current gateway."""

    def __init__(self, gateway: Any, limits: LimitSettings, metrics: Metrics,
                 clock: Any = None) -> None:
        self.gateway = gateway
        self.metrics = metrics
        self.clock = clock
        self.budget = BufferBudget(limits.max_buffered_bytes)
        self.limits = limits

    @property
    def limits(self) -> LimitSettings:
        """The limits new connections get; a reload replaces them (and resizes the budget)."""
        return self._limits

    @limits.setter
    def limits(self, limits: LimitSettings) -> None:
        self._limits = limits
        self.budget.limit = limits.max_buffered_bytes

    def buildProtocol(self, addr: Any) -> GatewayChannel:
        channel = GatewayChannel(self.limits, self.budget, self.clock)
        channel.factory = self
        return channel


class GatewayTLSFactory(TLSMemoryBIOFactory):
    """
    TLS around the HTTP factory: a cap on open connections, in all and per source address, a
    deadline for the handshake, and handshake accounting.

    Writes go to OpenSSL at once (C{TLSMemoryBIOProtocol}), not through Twisted's default
    C{BufferingTLSTransport}, which holds every write for a timer to the next reactor turn
    so that small writes share a TLS record: stoad already writes a response's head with its
    first body bytes and each relayed chunk whole, so there is nothing to join, and the timer
    cost every response a delayed call.
    """

    protocol = TLSMemoryBIOProtocol

    def __init__(self, creator: Any, http_factory: GatewayHTTPFactory, metrics: Metrics,
                 max_connections: int, clock: Any = None,
                 on_close: Callable[[], None] | None = None) -> None:
        super().__init__(creator, False, http_factory, clock=clock)
        self.metrics = metrics
        self.on_close = on_close
        self.max_connections = max_connections
        self.http_factory = http_factory
        self.open = 0
        self.per_source: dict[str, int] = {}
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock

    def buildProtocol(self, addr: Any) -> Any:
        if self.open >= self.max_connections:
            self.metrics.handshake_failures.labels("connection limit").inc()
            return None
        limits = self.http_factory.limits  # read per connection: a reload may change them
        source = getattr(addr, "host", None) or "-"
        held = self.per_source.get(source, 0)
        if held >= limits.max_connections_per_source:
            self.metrics.handshake_failures.labels("source connection limit").inc()
            return None
        protocol = super().buildProtocol(addr)
        self.open += 1
        self.per_source[source] = held + 1
        self.metrics.open_connections.inc()
        lost = protocol.connectionLost
        channel = cast(GatewayChannel, protocol.wrappedProtocol)  # built by http_factory
        deadline: list[IDelayedCall] = []

        def handshake_expired() -> None:
            deadline.clear()
            if not channel.handshake_done:
                self.metrics.handshake_failures.labels("handshake timeout").inc()
                log.info("TLS handshake from {peer} not done within handshake_timeout",
                         peer=source)
                protocol.abortConnection()

        if limits.handshake_timeout > 0:
            deadline.append(self.clock.callLater(limits.handshake_timeout, handshake_expired))
            channel.handshake_deadline = deadline[0]

        def connection_lost(reason: Any) -> None:
            self.open -= 1
            left = self.per_source.get(source, 1) - 1
            if left > 0:
                self.per_source[source] = left
            else:
                self.per_source.pop(source, None)
            self.metrics.open_connections.dec()
            if deadline and deadline[0].active():
                deadline[0].cancel()
            deadline.clear()
            try:
                lost(reason)
            finally:
                # The wrapper refers to the protocol and the protocol to it: drop the pair's
                # cycle here rather than leave it to the collector.
                del protocol.connectionLost
                if self.on_close is not None:
                    self.on_close()

        protocol.connectionLost = connection_lost  # type: ignore[method-assign]  # per-instance wrap
        return protocol


def _ssl_reason(error: SSL.Error) -> str:
    try:
        return str(error.args[0][-1][2])[:80]
    except (IndexError, TypeError):
        return "handshake failed"
