"""The forwarder's upstream endpoints: made once per origin and reused by every request, with
the route's connect timeout, TLS for https origins, and nothing for other schemes."""

from __future__ import annotations

from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import URI
from twisted.web.error import SchemeNotSupported
from twisted.web.http_headers import Headers

from stoad.proxy.forward import Forwarder, _CachedEndpoints
from tests.test_routing import route


class _Policy:
    def __init__(self) -> None:
        self.asked: list[tuple[bytes, int]] = []

    def creatorForNetloc(self, hostname: bytes, port: int) -> object:
        self.asked.append((hostname, port))
        return object()


class CachedEndpointTests(SynchronousTestCase):
    def test_one_endpoint_per_origin(self) -> None:
        """Two requests to one origin get the same endpoint; another port gets its own."""
        endpoints = _CachedEndpoints(MemoryReactorClock(), 3.0, None)
        first = endpoints.endpointForURI(URI.fromBytes(b"http://127.0.0.1:8080/a"))
        again = endpoints.endpointForURI(URI.fromBytes(b"http://127.0.0.1:8080/b?q=1"))
        other = endpoints.endpointForURI(URI.fromBytes(b"http://127.0.0.1:8081/a"))
        self.assertIs(first, again)
        self.assertIsNot(first, other)
        self.assertIsInstance(first, HostnameEndpoint)

    def test_https_is_wrapped_in_the_routes_tls_once(self) -> None:
        """An https origin's endpoint is TLS over TCP, with the route's TLS policy asked once."""
        policy = _Policy()
        endpoints = _CachedEndpoints(MemoryReactorClock(), 3.0, policy)  # type: ignore[arg-type]
        first = endpoints.endpointForURI(URI.fromBytes(b"https://upstream.test:8443/a"))
        self.assertIs(endpoints.endpointForURI(URI.fromBytes(b"https://upstream.test:8443/b")),
                      first)
        self.assertNotIsInstance(first, HostnameEndpoint)
        self.assertEqual(policy.asked, [(b"upstream.test", 8443)])

    def test_other_schemes_are_refused(self) -> None:
        """Neither a non-HTTP scheme nor https without a TLS policy gets an endpoint."""
        endpoints = _CachedEndpoints(MemoryReactorClock(), 3.0, None)
        for url in (b"ftp://127.0.0.1:21/", b"https://127.0.0.1:443/"):
            self.assertRaises(SchemeNotSupported, endpoints.endpointForURI, URI.fromBytes(url))

    def test_forwarder_connects_to_the_route_with_its_timeout(self) -> None:
        """A request through the Forwarder opens a TCP connection to the route's upstream host
        and port with the route's connect timeout, and a second request reuses the endpoint."""
        reactor = MemoryReactorClock()
        target = route("api", "/api")
        forwarder = Forwarder(reactor, [target])
        forwarder.send(target, "GET", "/api/x", Headers(), None)
        reactor.advance(0)
        host, port, _, timeout, _ = reactor.tcpClients[0]
        self.assertEqual((host, port, timeout), ("127.0.0.1", 1, 1))
        agent = forwarder._agents["api"]
        uri = URI.fromBytes(b"http://127.0.0.1:1/api/x")
        self.assertIs(agent._getEndpoint(uri), agent._getEndpoint(uri))
