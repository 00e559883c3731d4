"""The strict HTTP channel refuses request heads a next hop could read differently."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from stoad.config import LimitSettings
from stoad.daemon.metrics import Metrics
from stoad.proxy.http import GatewayChannel, GatewayHTTPFactory

LIMITS = LimitSettings(max_header_bytes=16384, max_headers=100, max_request_line=8192,
                       max_body_bytes=1 << 20, idle_timeout=60.0, read_timeout=15.0,
                       max_connections=10)


class _RecordingGateway:
    def __init__(self) -> None:
        self.handled: list[Any] = []
        self.rejections: list[Any] = []

    def handle(self, request: Any, peer: Any) -> None:
        self.handled.append(request)

    def streams_body(self, target: bytes) -> bool:
        return False

    def record_rejection(self, *details: Any) -> None:
        self.rejections.append(details)


class _ChannelTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.gateway = _RecordingGateway()
        factory = GatewayHTTPFactory(self.gateway, LIMITS, Metrics(), Clock())
        self.channel: GatewayChannel = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def send(self, data: bytes) -> bytes:
        self.channel.dataReceived(data)
        return self.transport.value()

    def assertRefused(self, data: bytes, status: bytes = b"400") -> None:
        reply = self.send(data)
        self.assertTrue(reply.startswith(b"HTTP/1.1 " + status), reply[:80])
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.gateway.handled, [])



class FramingStrictnessTests(_ChannelTestCase):
    def test_underscore_transfer_encoding_is_refused(self) -> None:
        """C{Transfer_Encoding: chunked} (which CGI/WSGI servers read as Transfer-Encoding)
        gets 400 and a closed connection instead of being forwarded."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\n\r\n"
                           b"5\r\nhello\r\n0\r\n\r\n")

    def test_underscore_content_length_is_refused(self) -> None:
        """C{Content_Length: 5} gets 400: the upstream might frame a body stoad did not."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\nhello")

    def test_repeated_hyphens_in_a_framing_name_are_refused(self) -> None:
        """C{Transfer---Encoding} is refused as a look-alike of Transfer-Encoding."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer---Encoding: chunked\r\n\r\n")

    def test_look_alike_as_last_header_is_refused(self) -> None:
        """A look-alike that is the last header line (checked at the blank line) is refused."""
        self.assertRefused(b"GET /a HTTP/1.1\r\nContent__Length: 0\r\n\r\n")

    def test_fragment_in_request_target_is_refused(self) -> None:
        """A request target with C{#} gets 400: the chain would see the text after it, the
        upstream (whose URL is parsed by the forwarder) would not."""
        self.assertRefused(b"GET /a?x=1#&admin=true HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_content_length_overflowing_64_bits_is_400(self) -> None:
        """C{Content-Length: 18446744073709551616} is malformed (400), not merely too large."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616"
                           b"\r\n\r\n")

    def test_large_but_representable_content_length_is_413(self) -> None:
        """A valid length above max_body_bytes is still 413."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807"
                           b"\r\n\r\n", b"413")

    def test_exact_framing_headers_and_other_underscored_names_pass(self) -> None:
        """Real Content-Length and underscore names that are not framing look-alikes reach
        the gateway."""
        reply = self.send(b"POST /a?x=1 HTTP/1.1\r\nHost: x\r\nMy_Custom_Header: 1\r\n"
                          b"Content-Length: 5\r\n\r\nhello")
        self.assertEqual(reply, b"")
        self.assertEqual(len(self.gateway.handled), 1)
        request = self.gateway.handled[0]
        self.assertEqual(request.body, b"hello")
        self.assertIn((b"My_Custom_Header", b"1"), request.headers)


class OneReadingTests(_ChannelTestCase):
    """Headers whose framing or meaning could be read two ways are refused (400, closed)."""

    def test_duplicate_content_type_is_refused(self) -> None:
        """Two Content-Type lines: layers would check one, the upstream might use the other."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}")

    def test_content_lengths_that_differ_are_refused(self) -> None:
        """Two Content-Length lines with different values are refused."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                           b"Content-Length: 2\r\n\r\nab")

    def test_identity_transfer_coding_is_refused(self) -> None:
        """Transfer-Encoding: identity (not a coding RFC 9112 knows) is refused."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n")

    def test_codings_before_chunked_are_refused(self) -> None:
        """Transfer-Encoding: gzip, chunked is refused: only a single chunked is accepted."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
                           b"\r\n0\r\n\r\n")

    def test_repeated_transfer_encoding_lines_are_refused(self) -> None:
        """Two Transfer-Encoding lines, even both chunked, are refused."""
        self.assertRefused(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_chunked_on_http_1_0_is_refused(self) -> None:
        """HTTP/1.0 has no chunked coding: Transfer-Encoding on an HTTP/1.0 request is refused."""
        self.assertRefused(b"POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5\r\nhello\r\n0\r\n\r\n")

    def test_missing_or_repeated_host_is_refused(self) -> None:
        """An HTTP/1.1 request needs exactly one Host (RFC 9112 3.2)."""
        self.assertRefused(b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")

    def test_http_0_9_is_refused(self) -> None:
        """A request line without a version (HTTP/0.9) is refused."""
        self.assertRefused(b"GET /a\r\n\r\n")

    def test_connect_is_refused(self) -> None:
        """CONNECT (a tunnel request) is refused with 400."""
        self.assertRefused(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")

    def test_endless_header_line_is_refused_at_the_head_limit(self) -> None:
        """A header line that never ends is refused once the head passes its limit, without
        holding more than that."""
        self.send(b"GET /a HTTP/1.1\r\nHost: x\r\nX-Long: ")
        for _ in range(10):
            if self.transport.disconnecting:
                break
            self.send(b"a" * 8192)
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 400"))
        self.assertTrue(self.transport.disconnecting)
