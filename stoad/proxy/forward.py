"""The forwarder: sends an allowed request upstream through one shared persistent pool.

Twisted's Agent directly (not treq), with no redirects, no cookie memory and no automatic retries.
"""

from __future__ import annotations

import socket
from typing import Any, Callable, Mapping, Sequence

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import ConnectError, ConnectingCancelledError, DNSLookupError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.web.client import (
    URI,
    Agent,
    HTTPConnectionPool,
    RequestTransmissionFailed,
    ResponseFailed,
    ResponseNeverReceived,
    _HTTP11ClientFactory,
)
from twisted.web.error import SchemeNotSupported
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory, IBodyProducer, IPolicyForHTTPS, IResponse
from zope.interface import implementer

from stoad.config import Route
from stoad.proxy.http import set_no_delay


class UpstreamFailure(Exception):
    """The upstream could not be reached or did not answer in time; carries the status to send."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.reason = reason


@implementer(IPolicyForHTTPS)
class _RouteTLSPolicy:
    """TLS to one upstream: its own CA bundle (or the system's) and optional client certificate."""

    def __init__(self, route: Route) -> None:
        trust: Any = None
        if route.upstream_ca:
            with open(route.upstream_ca, "rb") as f:
                trust = Certificate.loadPEM(f.read())
        client: Any = None
        if route.upstream_client_certificate and route.upstream_client_key:
            with open(route.upstream_client_certificate, "rb") as f:
                cert_pem = f.read()
            with open(route.upstream_client_key, "rb") as f:
                key_pem = f.read()
            client = PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
        kwargs: dict[str, Any] = {}
        if trust is not None:
            kwargs["trustRoot"] = trust
        if client is not None:
            kwargs["clientCertificate"] = client
        self._creator = optionsForClientTLS(route.upstream_host, **kwargs)

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return self._creator


@implementer(IAgentEndpointFactory)
class _CachedEndpoints:
    """
    The endpoints a route's Agent connects through, made once per (scheme, host, port). Agent's
    standard factory builds a new HostnameEndpoint for every request, pooled connection or not,
    and IDNA-encodes the host each time (~4 % of a worker's CPU under load); an endpoint holds
    only its configuration, so one serves every connection.
    """

    def __init__(self, reactor: Any, connect_timeout: float, tls: IPolicyForHTTPS | None) -> None:
        self._reactor = reactor
        self._timeout = connect_timeout
        self._tls = tls
        self._endpoints: dict[tuple[bytes, bytes, int], IStreamClientEndpoint] = {}

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        key = (uri.scheme, uri.host, uri.port)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            if uri.scheme not in (b"http", b"https") or (uri.scheme == b"https" and not self._tls):
                raise SchemeNotSupported(f"Unsupported scheme: {uri.scheme!r}")
            endpoint = HostnameEndpoint(self._reactor, uri.host.decode("ascii"), uri.port,
                                        timeout=self._timeout)
            if uri.scheme == b"https":
                assert self._tls is not None
                endpoint = wrapClientTLS(self._tls.creatorForNetloc(uri.host, uri.port), endpoint)
            self._endpoints[key] = endpoint
        return endpoint


# Linux only: elsewhere the kernel's delayed-ACK policy is left as it is.
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def _tcp_socket(transport: Any) -> Any:
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


class _NoDelayClientFactory(_HTTP11ClientFactory):
    """
    Upstream connections that stall on no small write, either way. Nagle off: the request head
    and body go out as written. Quick ACKs for what the upstream sends: a pooled connection
    carries request after request, so Linux treats it as interactive and delays its ACKs by up
    to 40 ms; an upstream with Nagle on (uvicorn on a socket not created with IPPROTO_TCP, for
    one) then holds the body it writes after the response head until that ACK comes. A client
    that opens a fresh connection per request never sees this; through a pool every call would.
    """

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        made = protocol.connectionMade
        received: Callable[[bytes], None] = protocol.dataReceived
        tcp: list[Any] = []

        def connection_made() -> None:
            made()
            set_no_delay(protocol.transport)
            sock = _tcp_socket(protocol.transport)
            if sock is not None and _TCP_QUICKACK is not None:
                tcp.append(sock)

        def data_received(data: bytes) -> None:
            if tcp:
                # The kernel re-enters delayed-ACK mode on its own: re-arm on every read, which
                # also sends the ACK for what was just read at once.
                try:
                    tcp[0].setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
                except OSError:
                    del tcp[:]  # closed under us: the read path reports that, not this hint
            received(data)

        protocol.connectionMade = connection_made  # type: ignore[method-assign]  # per-instance wrap
        protocol.dataReceived = data_received  # type: ignore[method-assign]
        return protocol


@implementer(IBodyProducer)
class _BytesBody:
    """A buffered body written in one go: no cooperator round trip for a few kilobytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> defer.Deferred[None]:
        consumer.write(self._data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


# Methods whose requests carry a body by definition; the others send none unless they have one.
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})


class Forwarder:
    """
    One Agent per route over one shared connection pool. The data path uses Twisted's Agent
    directly: treq's wrappers (cookie jar, gzip decoding that rewrites Accept-Encoding and
    Content-Encoding, URL re-parsing) cost a quarter of a request's CPU and change what the
    upstream and the client see.
    """

    def __init__(self, reactor: Any, routes: Sequence[Route], max_persistent_per_host: int = 64,
                 idle_timeout: float = 60.0) -> None:
        self._reactor = reactor
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool._factory = _NoDelayClientFactory
        self.pool.retryAutomatically = False
        self.pool.maxPersistentPerHost = max_persistent_per_host
        # Twisted declares int, but the value only feeds callLater: fractions of a second work.
        self.pool.cachedConnectionTimeout = idle_timeout  # type: ignore[assignment]
        self._agents: Mapping[str, Agent] = {route.name: self._agent(route) for route in routes}
        self._origins: Mapping[str, bytes] = {
            route.name: f"{route.upstream_scheme}://{_netloc(route)}".encode("ascii")
            for route in routes
        }

    def _agent(self, route: Route) -> Agent:
        tls = _RouteTLSPolicy(route) if route.upstream_scheme == "https" else None
        endpoints = _CachedEndpoints(self._reactor, route.connect_timeout, tls)
        agent: Agent = Agent.usingEndpointFactory(self._reactor, endpoints, pool=self.pool)
        return agent

    def send(self, route: Route, method: str, path_and_query: str, headers: Headers,
             body: bytes | IBodyProducer | None) -> defer.Deferred[IResponse]:
        """
        Send one request; fires with the response (body not yet read) or fails with
        L{UpstreamFailure}. The deadline covers connecting and the response head.
        """
        verb = method.encode("ascii")
        producer: IBodyProducer | None
        if isinstance(body, (bytes, bytearray)):
            producer = _BytesBody(bytes(body)) if body or verb in _BODY_METHODS else None
        else:
            producer = body
        url = self._origins[route.name] + path_and_query.encode("latin-1")
        d = self._agents[route.name].request(verb, url, headers, producer)
        timed_out: list[bool] = []

        def on_timeout() -> None:
            timed_out.append(True)
            d.cancel()

        deadline = self._reactor.callLater(route.timeout, on_timeout)

        def settled(result: Any) -> Any:
            if deadline.active():
                deadline.cancel()
            return result

        d.addBoth(settled)
        d.addErrback(_classify, timed_out)
        return d

    def close(self) -> defer.Deferred[None]:
        closed: defer.Deferred[None] = self.pool.closeCachedConnections()
        return closed


def _netloc(route: Route) -> str:
    host = f"[{route.upstream_host}]" if ":" in route.upstream_host else route.upstream_host
    return f"{host}:{route.upstream_port}"


def _classify(failure: Any, timed_out: list[bool]) -> None:
    # Cancelling a request part-way fails with whichever error that stage raises (connecting,
    # sending, waiting); our own deadline having fired is what makes it a timeout.
    if timed_out:
        raise UpstreamFailure(504, "gateway_timeout", "upstream timed out")
    if failure.check(defer.CancelledError):
        failure.raiseException()
    if failure.check(ConnectError, DNSLookupError, ConnectingCancelledError, ResponseNeverReceived,
                     RequestTransmissionFailed, ResponseFailed, ConnectionError):
        raise UpstreamFailure(502, "bad_gateway",
                              f"upstream unreachable: {failure.type.__name__}")
    failure.raiseException()
