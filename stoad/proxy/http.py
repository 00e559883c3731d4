"""HTTP/1.1 over TLS with the limits and strictness of a security gateway.

Ambiguous framing (obs-fold, bad lengths, oversize heads) is answered 400/413/414 and the
connection closed before anything reaches the chain; the peer certificate is read once per
connection right after the handshake.
"""

from __future__ import annotations

from typing import Any, cast

from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IHandshakeListener, ISSLTransport, ITCPTransport
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.web import http
from zope.interface import implementer

from stoad.config import LimitSettings
from stoad.daemon.metrics import Metrics
from stoad.proxy.responses import raw_error
from stoad.proxy.streaming import StreamedBody
from stoad.proxy.tls import peer_certificate_of
from stoad.runtime.context import PeerCertificate

log = Logger()

_FRAMING = (b"content-length", b"transfer-encoding")
_FRAMING_LETTERS = (b"contentlength", b"transferencoding")
_MAX_CONTENT_LENGTH = 1 << 63

_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
            414: "URI Too Long", 503: "Service Unavailable"}


class GatewayRequest(http.Request):
    """
    A request whose body is buffered up to the limit and handed to the gateway whole, or, on a
    route with C{request_body = stream}, handed over as soon as the head is in while the body
    streams on (L{StreamedBody}).
    """

    streamed: StreamedBody | None = None
    # GatewayChannel.requestFactory: every GatewayRequest lives on a GatewayChannel.
    channel: GatewayChannel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Form bodies are the upstream's business: parsing them (and every POST's Content-Type
        # through the email package, a new class per parse) only costs time and memory.
        # Request.__init__ sets this on the instance, so a class attribute would be hidden.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length: int | None) -> None:
        channel: GatewayChannel = self.channel
        self._received = 0
        if length is not None and length >= _MAX_CONTENT_LENGTH:
            # No next hop can hold this length without overflowing (nginx answers 400 too).
            channel.reject(400, "Content-Length does not fit in 63 bits")
            return
        if length is not None and length > channel.limits.max_body_bytes:
            channel.reject(413, "body larger than max_body_bytes")
            return
        gateway = channel.factory.gateway
        if length != 0 and gateway.streams_body(channel._path):
            self.method, self.uri = channel._command, channel._path
            self.clientproto = channel._version
            self.path = self.uri.split(b"?", 1)[0]
            self.streamed = StreamedBody(channel.transport, length)
            gateway.handle(self, channel.peer, self.streamed)
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        channel: GatewayChannel = self.channel
        if channel.rejected:
            return
        self._received += len(data)
        if self._received > channel.limits.max_body_bytes:
            channel.reject(413, "body larger than max_body_bytes")
            if self.streamed is not None:
                self.streamed.fail(ValueError("body larger than max_body_bytes"))
            return
        if self.streamed is not None:
            self.streamed.write(data)
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self.streamed is not None:
            self.streamed.finish()
            return
        super().requestReceived(command, path, version)

    def before_response(self) -> None:
        """
        Called just before the response head goes out. A response that leaves while the body
        is still arriving ends the connection: what follows could not be told from a new request.
        """
        if self.streamed is not None and not self.streamed.done:
            self.responseHeaders.setRawHeaders(b"connection", [b"close"])
            self.channel.persistent = False
            self.channel.rejected = True

    def connectionLost(self, reason: Any) -> None:
        if self.streamed is not None:
            self.streamed.fail(reason.value)
        super().connectionLost(reason)

    def process(self) -> None:
        channel: GatewayChannel = self.channel
        if channel.rejected:
            return
        channel.factory.gateway.handle(self, channel.peer)


@implementer(IHandshakeListener)
class GatewayChannel(http.HTTPChannel):
    """One client connection: strict parsing, limits, deadlines and the verified peer."""

    requestFactory = GatewayRequest
    factory: GatewayHTTPFactory
    # Always under TLS (GatewayTLSFactory); set by makeConnection before any event below.
    transport: ISSLTransport
    peer: PeerCertificate | None = None
    handshake_done = False
    rejected = False
    _head_deadline: Any = None

    def __init__(self, limits: LimitSettings) -> None:
        super().__init__()
        self.limits = limits
        self.totalHeadersSize = limits.max_header_bytes
        self.maxHeaders = limits.max_headers
        self.timeOut = limits.idle_timeout  # type: ignore[assignment]  # Twisted says int; seconds
        self.MAX_LENGTH = max(limits.max_header_bytes, limits.max_request_line) + 2

    def connectionMade(self) -> None:
        super().connectionMade()
        set_no_delay(self.transport)

    # -- TLS ---------------------------------------------------------------------------------
    def handshakeCompleted(self) -> None:
        self.handshake_done = True
        # ISSLTransport says object; the TLS transport hands back pyOpenSSL's X509 or None.
        cert = cast("crypto.X509 | None", self.transport.getPeerCertificate())
        if cert is not None:
            self.peer = peer_certificate_of(cert)

    # -- parsing -----------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        if self.rejected:
            return
        if self._head_deadline is None and not self._handlingRequest:
            self._head_deadline = self.callLater(self.limits.read_timeout, self._head_too_slow)
        super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        if self.rejected:
            return
        first = self._HTTPChannel__first_line  # type: ignore[attr-defined]
        if first:
            if len(line) > self.limits.max_request_line:
                self.reject(414, "request line longer than max_request_line")
                return
            target = line.split(b" ")[1:2]
            if target and b"#" in target[0]:
                # A fragment is never part of a request target (RFC 9112 3.2); the forwarder's
                # URL parser would cut the target there, so upstream would see less than the chain.
                self.reject(400, "'#' in the request target")
                return
        elif line[:1] in (b" ", b"\t"):
            # obs-fold (RFC 9112 5.2): a proxy must not guess how the next hop joins it.
            self.reject(400, "obsolete line folding in a header")
            return
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            self.reject(400, "bare CR, bare LF or NUL in the request head")
            return
        super().lineReceived(line)

    def headerReceived(self, line: bytes) -> bool:
        name = line.split(b":", 1)[0].lower()
        if name not in _FRAMING and name.replace(b"-", b"").replace(b"_", b"") in _FRAMING_LETTERS:
            # Transfer_Encoding, Content__Length...: servers that fold "_" into "-" (CGI, WSGI)
            # would read these as framing that stoad did not use.
            self.reject(400, "header name resembles Content-Length or Transfer-Encoding")
            return False
        result: bool = super().headerReceived(line)
        return result

    def lineLengthExceeded(self, line: bytes) -> None:
        self.reject(414 if self._HTTPChannel__first_line else 400,  # type: ignore[attr-defined]
                    "request head line too long")

    def allHeadersReceived(self) -> None:
        self._cancel_head_deadline()
        super().allHeadersReceived()

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            if self._head_deadline.active():
                self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        self.reject(408, "request head not received within read_timeout")

    def _respondToBadRequestAndDisconnect(self) -> None:
        self.reject(400, "malformed request")

    def reject(self, status: int, reason: str) -> None:
        """Answer with a fixed error, close the connection, and never forward the request."""
        if self.rejected:
            return
        self.rejected = True
        self._cancel_head_deadline()
        self.factory.metrics.denials.labels("http", str(status)).inc()
        client_ip = getattr(self.transport.getPeer(), "host", "-")
        log.info("rejected request from {peer}: {status} {reason}", peer=client_ip, status=status,
                 reason=reason)
        self.transport.write(raw_error(status, _REASONS.get(status, "Error")))
        gateway = self.factory.gateway
        if gateway is not None:
            # Refused before a request existed, but still a call: the audit trail gets its event.
            gateway.record_rejection(self.peer, client_ip, status, reason,
                                     getattr(self, "_command", b"-"), getattr(self, "_path", b"-"))
        self.setTimeout(None)
        # The channel's own loseConnection unregisters it as the TLS transport's producer;
        # without that the TLS layer would wait for it forever before closing.
        self.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_head_deadline()
        if not self.handshake_done and reason is not None and reason.check(SSL.Error):
            # Verification failures were counted with their own reason by the verify callback.
            why = _ssl_reason(cast(SSL.Error, reason.value))  # check() above
            if why != "certificate verify failed":
                self.factory.metrics.handshake_failures.labels(why).inc()
        super().connectionLost(reason)


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
        self.limits = limits
        self.metrics = metrics
        self.clock = clock

    def log(self, request: Any) -> None:
        """The audit layer records every request; a second access log would only duplicate it."""

    def buildProtocol(self, addr: Any) -> GatewayChannel:
        channel = GatewayChannel(self.limits)
        channel.factory = self
        if self.clock is not None:
            channel.callLater = self.clock.callLater  # type: ignore[method-assign]  # test clock
        return channel


class GatewayTLSFactory(TLSMemoryBIOFactory):
    """TLS around the HTTP factory, with a cap on open connections and handshake accounting."""

    def __init__(self, creator: Any, http_factory: GatewayHTTPFactory, metrics: Metrics,
                 max_connections: int, clock: Any = None) -> None:
        super().__init__(creator, False, http_factory, clock=clock)
        self.metrics = metrics
        self.max_connections = max_connections
        self.open = 0

    def buildProtocol(self, addr: Any) -> Any:
        if self.open >= self.max_connections:
            self.metrics.handshake_failures.labels("connection limit").inc()
            return None
        protocol = super().buildProtocol(addr)
        self.open += 1
        self.metrics.open_connections.inc()
        lost = protocol.connectionLost

        def connection_lost(reason: Any) -> None:
            self.open -= 1
            self.metrics.open_connections.dec()
            lost(reason)

        protocol.connectionLost = connection_lost  # type: ignore[method-assign]  # per-instance wrap
        return protocol


def _ssl_reason(error: SSL.Error) -> str:
    try:
        return str(error.args[0][-1][2])[:80]
    except (IndexError, TypeError):
        return "handshake failed"
