"""The forwarder builds one upstream endpoint per route once (no endpoint, URL parse or IDNA
encoding per request), TLS-wrapped for https routes, connecting with the route's timeout."""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from stoad.proxy.forward import Forwarder
from tests.test_routing import route


class EndpointTests(SynchronousTestCase):
    def test_one_endpoint_per_route_reused_by_every_request(self) -> None:
        """A plain-HTTP route has one TCP endpoint, built with the forwarder and used by every
        request on that route."""
        reactor = MemoryReactorClock()
        target = route("api", "/api")
        forwarder = Forwarder(reactor, [target])
        endpoint = forwarder._endpoints["api"]
        self.assertIsInstance(endpoint, HostnameEndpoint)
        forwarder.send(target, "GET", "/api/x", Headers(), None)
        forwarder.send(target, "GET", "/api/y", Headers(), None)
        self.assertIs(forwarder._endpoints["api"], endpoint)

    def test_https_route_is_wrapped_in_tls(self) -> None:
        """An https route's endpoint is TLS over TCP, not a bare TCP endpoint."""
        target = replace(route("secure", "/s"), upstream="https://127.0.0.1:8443",
                         upstream_scheme="https", upstream_port=8443)
        forwarder = Forwarder(MemoryReactorClock(), [target])
        self.assertNotIsInstance(forwarder._endpoints["secure"], HostnameEndpoint)

    def test_forwarder_connects_to_the_route_with_its_timeout(self) -> None:
        """A request opens a TCP connection to the route's upstream host and port with the
        route's connect timeout."""
        reactor = MemoryReactorClock()
        target = route("api", "/api")
        forwarder = Forwarder(reactor, [target])
        forwarder.send(target, "GET", "/api/x", Headers(), None)
        reactor.advance(0)
        host, port, _, timeout, _ = reactor.tcpClients[0]
        self.assertEqual((host, port, timeout), ("127.0.0.1", 1, 1))
