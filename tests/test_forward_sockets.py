"""The forwarder's upstream sockets: Nagle off, and quick ACKs for every read that leaves a
response incomplete (Linux)."""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.http_headers import Headers
from zope.interface import implementer

from stoad.config import Route
from stoad.proxy.client import UpstreamConnection
from stoad.proxy.forward import Forwarder, tcp_socket

HAS_QUICKACK = hasattr(socket, "TCP_QUICKACK")


class _RecordingSocket:
    def __init__(self) -> None:
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append((level, option, value))


@implementer(ITCPTransport)
class _TCPTransport(StringTransport):
    """A TCP transport double whose socket records the options set on it."""

    def __init__(self) -> None:
        super().__init__()
        self.socket = _RecordingSocket()
        self.no_delay = False

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.no_delay = enabled

    def getHandle(self) -> _RecordingSocket:
        return self.socket


class _TLSLayer(StringTransport):
    """
    Stands for a TLS wrapper: the TCP transport sits under it as C{.transport}, and, as with
    Twisted's TLS protocol, its C{getHandle()} is the OpenSSL connection, which has no
    C{setsockopt} (asking it for one broke every https upstream once).
    """

    def __init__(self, tcp: _TCPTransport) -> None:
        super().__init__()
        self.transport = tcp

    def getHandle(self) -> object:
        return object()


class QuickAckTests(SynchronousTestCase):
    if not HAS_QUICKACK:
        skip = "TCP_QUICKACK is Linux only"

    def _exchange(self, transport: Any) -> tuple[Any, _TCPTransport]:
        protocol = UpstreamConnection()
        protocol.makeConnection(transport)
        d = protocol.request(b"GET", b"/x", Headers({b"host": [b"up"]}), None)
        # The head and the body arrive in three reads, as from an upstream that writes them
        # apart.
        protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        protocol.dataReceived(b"bo")
        protocol.dataReceived(b"dy")
        response = self.successResultOf(d)
        self.assertEqual(response.code, 200)
        tcp = transport if isinstance(transport, _TCPTransport) else transport.transport
        return response, tcp

    def test_every_upstream_read_asks_for_an_immediate_ack(self) -> None:
        """Each read that leaves the response incomplete re-arms TCP_QUICKACK on its socket, so
        an upstream with Nagle on gets the ACK for its response head at once instead of after
        the delayed-ACK timer (the 40 ms stall per call seen with the MCP SDK server on a pooled
        connection). The read that completes the response asks for none: the upstream sends
        nothing more until the next request, which carries the ACK."""
        _, tcp = self._exchange(_TCPTransport())
        quick_ack = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self.assertEqual(tcp.socket.options, [quick_ack, quick_ack])
        self.assertTrue(tcp.no_delay)

    def test_quick_acks_reach_the_tcp_socket_under_tls(self) -> None:
        """Behind an HTTPS upstream's TLS layer the option still lands on the TCP socket."""
        _, tcp = self._exchange(_TLSLayer(_TCPTransport()))
        self.assertEqual(len(tcp.socket.options), 2)
        self.assertTrue(tcp.no_delay)

    def test_a_socket_that_refuses_the_option_does_not_break_the_response(self) -> None:
        """A socket closed under the protocol makes setsockopt fail: the response is still
        read, and the option is not tried again."""
        transport = _TCPTransport()
        calls: list[int] = []

        def refuse(level: int, option: int, value: int) -> None:
            calls.append(option)
            raise OSError(9, "Bad file descriptor")

        transport.socket.setsockopt = refuse  # type: ignore[method-assign]
        self._exchange(transport)
        self.assertEqual(calls, [socket.TCP_QUICKACK])


class _Answer(Protocol):
    def dataReceived(self, data: bytes) -> None:
        if b"\r\n\r\n" in data:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


class _Collect(Protocol):
    def __init__(self, done: defer.Deferred[bytes]) -> None:
        self.done = done
        self.parts: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.parts.append(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(b"".join(self.parts))


def _read(response: Any) -> defer.Deferred[bytes]:
    done: defer.Deferred[bytes] = defer.Deferred()
    response.deliverBody(_Collect(done))
    return done


class RealSocketTests(TestCase):
    @defer.inlineCallbacks
    def test_pooled_upstream_socket_has_nagle_off_and_is_reused(self) -> None:
        """Against a real upstream on 127.0.0.1, the pooled connection's socket has TCP_NODELAY
        set, the quick-ACK hint finds that socket, and a second request goes over the same
        connection (no new connection, so the kernel's delayed-ACK mode applies to it)."""
        port = reactor.listenTCP(0, Factory.forProtocol(_Answer), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        route = _route(number)
        forwarder = Forwarder(reactor, [route])
        self.addCleanup(forwarder.close)
        seen: list[Any] = []
        for _ in range(2):
            response = yield forwarder.send(route, "GET", "/x", Headers(), b"")
            self.assertEqual((yield _read(response)), b"ok")
            [(key, connections)] = forwarder.pool.idle.items()
            [(connection, _)] = connections
            seen.append(connection)
        self.assertIs(seen[0], seen[1])
        sock = seen[0].transport.getHandle()
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)
        self.assertIs(tcp_socket(seen[0].transport), sock)


def _route(port: int) -> Route:
    return Route(
        name="up", prefix="/", upstream=f"http://127.0.0.1:{port}", upstream_scheme="http",
        upstream_host="127.0.0.1", upstream_port=port, upstream_base_path="",
        connect_timeout=5.0, timeout=10.0, upstream_ca=None, upstream_client_certificate=None,
        upstream_client_key=None, public_url="https://gateway.test/")
