"""The forwarder: sends an allowed request upstream through one pool of persistent connections.

stoad's own HTTP/1.1 client (stoad/proxy/client.py), with no redirects, no cookie memory and no
automatic retries.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from twisted.internet import defer
from twisted.internet.error import ConnectError, ConnectingCancelledError, DNSLookupError
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.python.failure import Failure
from twisted.web.client import RequestTransmissionFailed, ResponseFailed, ResponseNeverReceived
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer

from stoad.config import Route
from stoad.proxy.client import (
    UpstreamConnection,
    UpstreamPool,
    UpstreamResponse,
    endpoint_for,
    tcp_socket,
)
from stoad.proxy.headers import RawHeaders

__all__ = ["Forwarder", "UpstreamFailure", "tcp_socket", "tls_creator"]


class UpstreamFailure(Exception):
    """The upstream could not be reached or did not answer in time; carries the status to send."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.reason = reason


def tls_creator(route: Route) -> Any:
    """TLS to one upstream: its own CA bundle (or the system's) and optional client certificate."""
    kwargs: dict[str, Any] = {}
    if route.upstream_ca:
        with open(route.upstream_ca, "rb") as f:
            kwargs["trustRoot"] = Certificate.loadPEM(f.read())
    if route.upstream_client_certificate and route.upstream_client_key:
        with open(route.upstream_client_certificate, "rb") as f:
            cert_pem = f.read()
        with open(route.upstream_client_key, "rb") as f:
            key_pem = f.read()
        kwargs["clientCertificate"] = PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
    return optionsForClientTLS(route.upstream_host, **kwargs)


def _host_value(route: Route) -> bytes:
    host = f"[{route.upstream_host}]" if ":" in route.upstream_host else route.upstream_host
    default = 443 if route.upstream_scheme == "https" else 80
    if route.upstream_port != default:
        host = f"{host}:{route.upstream_port}"
    return host.encode("ascii")


class Forwarder:
    """
    One endpoint per route over one shared pool of idle connections. No retries: a request that
    fails on a pooled connection fails (an upstream may have acted on it).
    """

    def __init__(self, reactor: Any, routes: Sequence[Route], max_persistent_per_host: int = 64,
                 idle_timeout: float = 60.0) -> None:
        self._reactor = reactor
        self.pool = UpstreamPool(reactor, max_persistent_per_host, idle_timeout)
        self._endpoints: Mapping[str, Any] = {
            route.name: endpoint_for(reactor, route.upstream_host, route.upstream_port,
                                     route.connect_timeout,
                                     tls_creator(route) if route.upstream_scheme == "https"
                                     else None)
            for route in routes
        }
        self._keys: Mapping[str, tuple[str, str, int]] = {
            route.name: (route.upstream_scheme, route.upstream_host, route.upstream_port)
            for route in routes
        }
        self._hosts: Mapping[str, bytes] = {route.name: _host_value(route) for route in routes}

    def send(self, route: Route, method: str, path_and_query: str, headers: Headers | RawHeaders,
             body: bytes | IBodyProducer | None) -> defer.Deferred[UpstreamResponse]:
        """
        Send one request; fires with the response (body not yet read) or fails with
        L{UpstreamFailure}. The deadline covers connecting and the response head.
        """
        verb = method.encode("ascii")
        target = path_and_query.encode("latin-1")
        headers.setRawHeaders(b"host", [self._hosts[route.name]])
        pooled = self.pool.take(self._keys[route.name])
        if pooled is not None:
            # The usual case: the deadline (the response head) is the connection's own timer,
            # moved per request rather than a new timer per request.
            sent = pooled.request(verb, target, headers, body, deadline=route.timeout)
            sent.addErrback(_classify_pooled, pooled)
            return sent
        connecting = self.pool.connection(self._keys[route.name], self._endpoints[route.name])
        d: defer.Deferred[UpstreamResponse] = connecting.addCallback(
            lambda connection: connection.request(verb, target, headers, body))
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
        return self.pool.close()


def _classify_pooled(failure: Failure, connection: UpstreamConnection) -> None:
    _classify(failure, [True] if connection.timed_out else [])


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
