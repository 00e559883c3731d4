"""stoad's upstream HTTP/1.1 client in memory: framing both ways, interim and HEAD responses,
bodies that end with the connection, cancellation, and connections that cannot be reused."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone, ResponseFailed, ResponseNeverReceived
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from stoad.proxy.client import UpstreamConnection
from stoad.proxy.streaming import StreamedBody


class _Collect:
    """A body protocol that records what it gets and how the body ended."""

    def __init__(self) -> None:
        self.data = b""
        self.ended: Failure | None = None
        self.transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure) -> None:
        self.ended = reason


class ClientTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.transport = StringTransport()
        self.connection = UpstreamConnection(quick_ack=False)
        self.connection.makeConnection(self.transport)
        self.idle: list[UpstreamConnection] = []
        self.connection.on_idle = self.idle.append

    def send(self, method: bytes = b"GET", body: Any = None) -> defer.Deferred[Any]:
        return self.connection.request(method, b"/x?y=1", Headers({b"host": [b"up"]}), body)

    def body(self, response: Any) -> _Collect:
        collect = _Collect()
        response.deliverBody(collect)
        return collect

    def test_request_is_framed_with_one_content_length(self) -> None:
        """A buffered body goes out with exactly one Content-Length and the bytes as given."""
        self.send(b"POST", b"hello")
        self.assertEqual(self.transport.value(),
                         b"POST /x?y=1 HTTP/1.1\r\nHost: up\r\nContent-Length: 5\r\n\r\nhello")

    def test_response_body_is_delivered_and_the_connection_is_reused(self) -> None:
        """A Content-Length body is delivered whole, ends with ResponseDone, and the connection
        goes back to the pool."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-A: 1\r\n\r\nbody")
        response = self.successResultOf(d)
        self.assertEqual((response.code, response.headers.getRawHeaders(b"x-a")), (200, [b"1"]))
        collect = self.body(response)
        self.assertEqual(collect.data, b"body")
        assert collect.ended is not None
        self.assertTrue(collect.ended.check(ResponseDone))
        self.assertEqual(self.idle, [self.connection])

    def test_interim_responses_are_skipped(self) -> None:
        """A 100 or 103 before the final response is not taken for it."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                                     b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        response = self.successResultOf(d)
        self.assertEqual(response.code, 201)
        self.assertIsNone(response.headers.getRawHeaders(b"link"))

    def test_head_response_has_no_body_and_the_connection_is_not_reused(self) -> None:
        """The answer to HEAD ends at its head although it declares a length; the connection
        is closed rather than reused (what follows could not be told apart)."""
        d = self.send(b"HEAD")
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        collect = self.body(self.successResultOf(d))
        assert collect.ended is not None
        self.assertTrue(collect.ended.check(ResponseDone))
        self.assertEqual(collect.data, b"")
        self.assertEqual(self.idle, [])
        self.assertTrue(self.transport.disconnecting)

    def test_body_ended_by_close_is_potential_data_loss(self) -> None:
        """A response without length or chunking ends with the connection, as PotentialDataLoss
        (as Twisted's client reports it), never reused."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\n\r\npart")
        collect = self.body(self.successResultOf(d))
        self.connection.connectionLost(Failure(ConnectionError("closed")))
        self.assertEqual(collect.data, b"part")
        assert collect.ended is not None
        self.assertTrue(collect.ended.check(PotentialDataLoss))

    def test_framed_body_cut_short_fails(self) -> None:
        """A Content-Length body that stops early ends in ResponseFailed."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        collect = self.body(self.successResultOf(d))
        self.connection.connectionLost(Failure(ConnectionError("closed")))
        assert collect.ended is not None
        self.assertTrue(collect.ended.check(ResponseFailed))

    def test_malformed_response_fails_the_request(self) -> None:
        """A response with both Content-Length and Transfer-Encoding fails the request and
        the connection is cut."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n")
        self.failureResultOf(d, ResponseNeverReceived)
        self.assertTrue(self.transport.disconnected)

    def test_connection_lost_before_an_answer_fails_the_request(self) -> None:
        """The upstream closing before any response is ResponseNeverReceived."""
        d = self.send()
        self.connection.connectionLost(Failure(ConnectionError("reset")))
        self.failureResultOf(d, ResponseNeverReceived)

    def test_cancel_cuts_the_connection(self) -> None:
        """Cancelling the request (deadline, client gone) aborts the connection."""
        d = self.send()
        d.cancel()
        self.failureResultOf(d, defer.CancelledError)
        self.assertTrue(self.transport.disconnected)

    def test_bytes_while_idle_cut_the_connection(self) -> None:
        """An idle connection that receives bytes nobody asked for is cut, never reused."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 204 No Content\r\n\r\n")
        self.body(self.successResultOf(d))
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\n\r\n")
        self.assertTrue(self.transport.disconnected)

    def test_streamed_body_of_unknown_length_is_chunked_with_backpressure(self) -> None:
        """A streamed body without a length goes out chunked, registered as the connection's
        producer (so a full socket pauses the client), and ends with the last chunk."""
        streamed = StreamedBody(None, None)
        self.send(b"PUT", streamed)
        self.assertIs(self.transport.producer, streamed)
        streamed.write(b"abc")
        streamed.finish()
        self.assertTrue(self.transport.value().endswith(
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        self.assertIsNone(self.transport.producer)

    def test_response_before_the_streamed_body_ends_keeps_the_connection_busy(self) -> None:
        """An upstream answering before the streamed body is all sent: the connection is not
        reused until the body is done."""
        streamed = StreamedBody(None, 3)
        d = self.send(b"POST", streamed)
        self.connection.dataReceived(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
        self.body(self.successResultOf(d))
        self.assertEqual(self.idle, [])
        streamed.write(b"abc")
        streamed.finish()
        self.assertEqual(self.idle, [self.connection])

    def test_body_reader_pauses_and_stops_the_upstream(self) -> None:
        """The body protocol's transport pauses reading from the upstream and, stopped,
        cuts the connection."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        collect = self.body(self.successResultOf(d))
        collect.transport.pauseProducing()
        self.assertEqual(self.transport.producerState, "paused")
        collect.transport.resumeProducing()
        self.assertEqual(self.transport.producerState, "producing")
        collect.transport.stopProducing()
        self.assertTrue(self.transport.disconnected)
        self.connection.connectionLost(Failure(ConnectionError("aborted")))
        assert collect.ended is not None
        self.assertTrue(collect.ended.check(ResponseFailed))

    def test_a_finished_body_reader_cannot_touch_the_reused_connection(self) -> None:
        """Once a body has ended, its reader's transport is detached: stopping it later does
        not cut the connection, which may already carry the next request."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        collect = self.body(self.successResultOf(d))
        self.assertEqual(self.idle, [self.connection])
        self.send()
        collect.transport.stopProducing()
        self.assertFalse(self.transport.disconnected)

    def test_a_reader_paused_at_the_end_does_not_keep_the_connection_paused(self) -> None:
        """A body reader that paused the upstream and then got the whole body leaves the
        connection reading again, so it can be reused."""
        d = self.send()
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        collect = self.body(self.successResultOf(d))
        collect.transport.pauseProducing()
        self.connection.dataReceived(b"cd")
        self.assertEqual(collect.data, b"abcd")
        self.assertEqual(self.transport.producerState, "producing")
        self.assertEqual(self.idle, [self.connection])
