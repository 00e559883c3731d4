"""The bare path's shortcuts keep every rule: the upstream head deadline and the pool's idle
timeout on per-connection timers, a whole response taken at once, RawHeaders writing what
twisted's Headers would, request ids, and path normalisation's fast path."""

from __future__ import annotations

import os
import random
import re
from dataclasses import replace
from typing import Any

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from stoad.proxy import gateway as gateway_module
from stoad.proxy import pathnorm
from stoad.proxy.client import UpstreamConnection
from stoad.proxy.forward import Forwarder, UpstreamFailure
from stoad.proxy.headers import RawHeaders, canonical_name
from stoad.proxy.pathnorm import normalise_path
from tests.test_routing import route

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _pooled(reactor: MemoryReactorClock, timeout: float = 5.0
            ) -> tuple[Forwarder, UpstreamConnection, StringTransport, Any]:
    """A forwarder whose pool holds one idle connection (as after a first request)."""
    target = route("api", "/api")
    target = replace(target, timeout=timeout)
    forwarder = Forwarder(reactor, [target], idle_timeout=60.0)
    connection = UpstreamConnection(quick_ack=False)
    transport = StringTransport()
    connection.makeConnection(transport)
    key = ("http", "127.0.0.1", 1)
    connection.on_idle = lambda c: forwarder.pool._park(key, c)
    connection.on_lost = lambda c: forwarder.pool._forget(key, c)
    forwarder.pool._park(key, connection)
    return forwarder, connection, transport, target


class PooledDeadlineTests(SynchronousTestCase):
    def test_head_not_in_by_the_route_timeout_is_a_504_and_the_connection_is_cut(self) -> None:
        """On a pooled connection, a response head that has not arrived within the route's
        timeout fails the request as 504 gateway_timeout and the connection is aborted."""
        reactor = MemoryReactorClock()
        forwarder, connection, transport, target = _pooled(reactor, timeout=5.0)
        d = forwarder.send(target, "GET", "/api/x", RawHeaders(), None)
        reactor.advance(4.9)
        self.assertNoResult(d)
        reactor.advance(0.2)
        failure = self.failureResultOf(d, UpstreamFailure)
        self.assertEqual((failure.value.status, failure.value.error), (504, "gateway_timeout"))
        self.assertTrue(transport.disconnecting)

    def test_deadline_is_one_timer_moved_per_request(self) -> None:
        """Requests on a pooled connection reuse one deadline timer, moved to each request:
        answered requests leave no timer behind, and a late timer never cuts a later request
        early."""
        reactor = MemoryReactorClock()
        forwarder, connection, transport, target = _pooled(reactor, timeout=5.0)
        timers_before = len(reactor.getDelayedCalls())
        deadlines = set()
        for _ in range(3):
            d = forwarder.send(target, "GET", "/api/x", RawHeaders(), None)
            deadlines.add(id(connection._head_timer))
            reactor.advance(3.0)
            connection.dataReceived(_OK)
            response = self.successResultOf(d)
            self.assertEqual(response.take_body(), b"ok")
        self.assertEqual(len(deadlines), 1)
        # The deadline timer (moved, never re-created) plus the pool's idle timer.
        self.assertEqual(len(reactor.getDelayedCalls()), timers_before + 1)
        d = forwarder.send(target, "GET", "/api/x", RawHeaders(), None)
        reactor.advance(4.0)  # past the first request's deadline, not this one's
        self.assertNoResult(d)
        connection.dataReceived(_OK)
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_idle_connection_closes_after_idle_timeout_from_its_last_park(self) -> None:
        """A pooled connection closes idle_timeout after it was last parked: using it again
        moves its idle timer rather than leaving the first one to cut it."""
        reactor = MemoryReactorClock()
        forwarder, connection, transport, target = _pooled(reactor)
        reactor.advance(50)
        d = forwarder.send(target, "GET", "/api/x", RawHeaders(), None)
        connection.dataReceived(_OK)
        self.assertEqual(self.successResultOf(d).take_body(), b"ok")
        reactor.advance(20)  # 70 s after the first park, 20 s after the last
        self.assertFalse(transport.disconnecting)
        reactor.advance(41)
        self.assertTrue(transport.disconnecting)

    def test_idle_timer_firing_while_the_connection_is_in_use_leaves_it_alone(self) -> None:
        """A connection busy with a long request when its idle timer fires is not closed; it
        gets a new idle timer when it is parked again."""
        reactor = MemoryReactorClock()
        forwarder, connection, transport, target = _pooled(reactor, timeout=300.0)
        d = forwarder.send(target, "GET", "/api/x", RawHeaders(), None)
        reactor.advance(61)
        self.assertFalse(transport.disconnecting)
        connection.dataReceived(_OK)
        self.assertEqual(self.successResultOf(d).take_body(), b"ok")
        reactor.advance(59)
        self.assertFalse(transport.disconnecting)
        reactor.advance(2)
        self.assertTrue(transport.disconnecting)


class WholeBodyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.connection = UpstreamConnection(quick_ack=False)
        self.transport = StringTransport()
        self.connection.makeConnection(self.transport)
        self.idle: list[UpstreamConnection] = []
        self.connection.on_idle = self.idle.append

    def test_complete_body_is_taken_at_once_and_the_connection_is_reused(self) -> None:
        """A response whose framed body arrived with its head is taken whole; the connection
        is idle again at once."""
        d = self.connection.request(b"GET", b"/x", RawHeaders(), None)
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
        response = self.successResultOf(d)
        self.assertEqual(response.take_body(), b"body")
        self.assertEqual(self.idle, [self.connection])

    def test_incomplete_body_is_not_taken_and_still_streams(self) -> None:
        """A body still arriving is not taken (None); deliverBody then relays it as before."""
        d = self.connection.request(b"GET", b"/x", RawHeaders(), None)
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbo")
        response = self.successResultOf(d)
        self.assertIsNone(response.take_body())
        got: list[bytes] = []

        class _Collect:
            def makeConnection(self, transport: Any) -> None:
                pass

            def dataReceived(self, data: bytes) -> None:
                got.append(data)

            def connectionLost(self, reason: Any) -> None:
                got.append(b"<end>")

        response.deliverBody(_Collect())  # type: ignore[arg-type]
        self.connection.dataReceived(b"dy")
        self.assertEqual(b"".join(got), b"body<end>")
        self.assertEqual(self.idle, [self.connection])

    def test_body_ended_by_close_is_never_taken_whole(self) -> None:
        """A body with no length ends with the connection: it is never complete at the head."""
        d = self.connection.request(b"GET", b"/x", RawHeaders(), None)
        self.connection.dataReceived(b"HTTP/1.1 200 OK\r\n\r\npart")
        self.assertIsNone(self.successResultOf(d).take_body())


class RawHeadersTests(SynchronousTestCase):
    def test_head_is_what_twisted_headers_would_write(self) -> None:
        """Names in canonical case (with Twisted's special cases), values as given, in
        insertion order, a later set replacing an earlier one."""
        raw = RawHeaders()
        twisted = Headers()
        for name, values in [(b"x-one", [b"1"]), (b"www-authenticate", [b"a", b"b"]),
                             (b"te", [b"trailers"]), (b"x-one", [b"2"])]:
            raw.setRawHeaders(name, values)
            twisted.setRawHeaders(name, values)
        expected = b"".join(name + b": " + value + b"\r\n"
                            for name, values in twisted.getAllRawHeaders() for value in values)
        self.assertEqual(raw.head_bytes(b"GET / HTTP/1.1\r\n"),
                         b"GET / HTTP/1.1\r\n" + expected + b"\r\n")

    def test_line_breaks_in_a_value_never_end_its_line(self) -> None:
        """A value carrying CR or LF (set by a layer, say) is written on one line, as Twisted's
        Headers sanitises it: no header can be smuggled into the upstream request."""
        raw = RawHeaders({b"X-A": [b"1\r\nX-Injected: yes"], b"X-B": [b"2\nX-C: 3"]})
        head = raw.head_bytes(b"GET / HTTP/1.1\r\n")
        self.assertEqual(head, b"GET / HTTP/1.1\r\nX-A: 1 X-Injected: yes\r\nX-B: 2 X-C: 3\r\n\r\n")
        self.assertEqual(raw.getRawHeaders(b"x-a"), [b"1 X-Injected: yes"])

    def test_names_that_are_not_tokens_are_refused(self) -> None:
        """A header name with a space, colon or line break raises, as Twisted's Headers does."""
        for name in (b"x a", b"x:a", b"x\r\na", b"", "x\u00e9"):
            self.assertRaises(ValueError, canonical_name, name)


class RequestIdTests(SynchronousTestCase):
    def test_ids_are_32_hex_digits_and_never_repeat(self) -> None:
        """Request ids look like secrets.token_hex(16) and are unique over many refills."""
        ids = [gateway_module._request_id() for _ in range(5000)]
        self.assertEqual(len(set(ids)), len(ids))
        self.assertTrue(all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids))

    def test_a_forked_child_does_not_reuse_the_parents_ids(self) -> None:
        """After fork the child reads fresh randomness: ids the parent still holds are dropped."""
        gateway_module._request_id()  # the parent holds a filled pool
        held = list(gateway_module._ids)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.write(write, gateway_module._request_id().encode())
            finally:
                os._exit(0)
        os.close(write)
        child_id = os.read(read, 64).decode()
        os.close(read)
        os.waitpid(pid, 0)
        self.assertEqual(len(child_id), 32)
        self.assertNotIn(child_id, held)


def _reference_normalise_path(raw_path: str, case_insensitive: bool = False) -> str:
    """normalise_path as it was before its fast path (every path through the general steps)."""
    if not raw_path.startswith("/"):
        raise ValueError("path must start with /")
    pathnorm._refuse_characters(raw_path)  # raises on the first character it refuses
    if "\\" in raw_path:
        raise ValueError("backslash in path")
    if ";" in raw_path:
        raise ValueError("path parameters (;) are not accepted")
    if "?" in raw_path or "#" in raw_path:
        raise ValueError("query or fragment in path")
    path = pathnorm._resolve(raw_path)  # the general steps, which the fast path skips
    return pathnorm._lower_outside_escapes(path) if case_insensitive else path


class PathFastPathTests(SynchronousTestCase):
    def test_fast_path_agrees_with_the_general_steps(self) -> None:
        """On 40,000 random paths built from the pieces normalisation cares about, the result
        (or the refusal and its reason) is the same as through the general steps."""
        pieces = ["/", "/", "/", ".", "..", "a", "B", "%2e", "%2E", "%2f", "%41", "%7e", "%",
                  "%25", "%zz", ";", "?", "#", "\\", " ", "\x00", "\x7f", "\u00e9", "-", "~",
                  "%00", "%5c", "%2525", "x", "\t", ".well-known"]
        rng = random.Random(13)

        def outcome(function: Any, path: str, folded: bool) -> tuple[str, str]:
            try:
                return "ok", function(path, folded)
            except ValueError as e:
                return "refused", str(e)

        for _ in range(20000):
            path = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
            if rng.random() < 0.9:
                path = "/" + path
            for folded in (False, True):
                self.assertEqual(outcome(normalise_path, path, folded),
                                 outcome(_reference_normalise_path, path, folded), path)


class DriverTests(SynchronousTestCase):
    def test_awaiting_something_other_than_a_deferred_fails_the_exchange_closed(self) -> None:
        """The exchange driver only resumes on Deferreds: anything else is raised into the
        exchange as a TypeError (which it answers as an internal error) instead of leaving it
        suspended forever."""
        seen: list[str] = []

        class _Odd:
            def __await__(self) -> Any:
                yield "not a Deferred"

        async def exchange() -> None:
            try:
                await _Odd()
            except TypeError as e:
                seen.append(str(e))

        gateway_module._drive(exchange())
        self.assertEqual(seen, ["exchange awaited a str"])

    def test_a_failed_deferred_is_raised_at_the_await(self) -> None:
        """A Deferred that fails later resumes the exchange with its exception at the await."""
        from twisted.internet import defer

        waiting: defer.Deferred[None] = defer.Deferred()
        seen: list[str] = []

        async def exchange() -> None:
            try:
                await waiting
            except ValueError as e:
                seen.append(str(e))

        gateway_module._drive(exchange())
        self.assertEqual(seen, [])
        waiting.errback(ValueError("upstream broke"))
        self.assertEqual(seen, ["upstream broke"])


class LockFreeRequestMetricsTests(SynchronousTestCase):
    def test_exposition_matches_prometheus_clients_counter_and_histogram(self) -> None:
        """stoad_requests_total and stoad_request_duration_seconds, kept without locks, expose
        the same samples as prometheus-client's Counter and Histogram given the same requests
        (its _created timestamps aside, which the supervisor's merge drops anyway)."""
        from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

        from stoad.daemon.metrics import LATENCY_BUCKETS, Metrics

        ours = Metrics()
        registry = CollectorRegistry()
        counter = Counter("stoad_requests", "Requests answered, by route and status.",
                          ["route", "status"], registry=registry)
        histogram = Histogram("stoad_request_duration_seconds",
                              "Time from request received to response finished.", ["route"],
                              buckets=LATENCY_BUCKETS, registry=registry)
        for route_name, status, seconds in [("api", "200", 0.0004), ("api", "200", 0.0005),
                                            ("api", "502", 0.03), ("-", "404", 31.0),
                                            ("api", "200", 0.001)]:
            ours.requests.labels(route_name, status).inc()
            ours.latency.labels(route_name).observe(seconds)
            counter.labels(route_name, status).inc()
            histogram.labels(route_name).observe(seconds)

        def lines(text: bytes, prefix: str) -> list[str]:
            return sorted(line for line in text.decode().splitlines()
                          if line.startswith(prefix) and "_created" not in line)

        for prefix in ("stoad_requests_total", "stoad_request_duration_seconds"):
            expected = lines(generate_latest(registry), prefix)
            self.assertGreaterEqual(len(expected), 3)
            self.assertEqual(lines(generate_latest(ours.registry), prefix), expected)
