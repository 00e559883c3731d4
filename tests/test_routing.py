"""Route matching and the hop-by-hop / identity header rules."""

from __future__ import annotations

import random

from twisted.trial.unittest import SynchronousTestCase

from stoad.config import Route
from stoad.proxy.headers import canonical_name, claims_identity, end_to_end, end_to_end_raw
from stoad.proxy.routing import RouteTable


def route(name: str, prefix: str, base: str = "") -> Route:
    return Route(name=name, prefix=prefix, upstream="http://127.0.0.1:1", upstream_scheme="http",
                 upstream_host="127.0.0.1", upstream_port=1, upstream_base_path=base,
                 connect_timeout=1, timeout=1, upstream_ca=None, upstream_client_certificate=None,
                 upstream_client_key=None, public_url="https://gw" + prefix)


class RouteTableTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.table = RouteTable([route("api", "/api"), route("admin", "/api/admin/"),
                                 route("root", "/")])

    def test_longest_prefix_wins(self) -> None:
        """/api/admin/x goes to the admin route, not the shorter /api."""
        self.assertEqual(self.table.match("/api/admin/x").name, "admin")
        self.assertEqual(self.table.match("/api/admin").name, "admin")
        self.assertEqual(self.table.match("/api/other").name, "api")

    def test_prefix_matches_only_on_segment_boundaries(self) -> None:
        """/apix is not under /api; it falls to the root route."""
        self.assertEqual(self.table.match("/apix").name, "root")

    def test_no_match_without_a_root_route(self) -> None:
        """Without a / route an unrelated path has no route."""
        self.assertIsNone(RouteTable([route("api", "/api")]).match("/other"))

    def test_upstream_path_joins_the_base(self) -> None:
        """The upstream base path is put in front of the request path."""
        r = route("b", "/b", base="/v1")
        self.assertEqual(RouteTable([r]).upstream_path(r, "/b/x"), "/v1/b/x")


class HeaderTests(SynchronousTestCase):
    def test_hop_by_hop_and_connection_named_headers_are_dropped(self) -> None:
        """Connection, Keep-Alive, TE, Upgrade... and every header Connection names go."""
        headers = {"connection": ["close, X-Private"], "x-private": ["1"], "keep-alive": ["5"],
                   "te": ["trailers"], "upgrade": ["h2c"], "transfer-encoding": ["chunked"],
                   "proxy-authorization": ["Basic x"], "accept": ["*/*"]}
        self.assertEqual(end_to_end(headers), {"accept": ["*/*"]})

    def test_identity_claiming_headers(self) -> None:
        """X-Forwarded-*, Forwarded, client-certificate headers and stoad's own are claims."""
        for name in ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip",
                     "x-client-cert", "ssl-client-cert", "x-stoad-consumer", "x-forwarded-client-cert"):
            self.assertTrue(claims_identity(name), name)
        for name in ("accept", "content-type", "x-request-id", "user-agent"):
            self.assertFalse(claims_identity(name), name)

    def test_forwarded_raw_headers_are_end_to_end_less_the_named_ones(self) -> None:
        """
        end_to_end_raw keeps exactly what end_to_end keeps, less the names given, in the same
        order, with canonical names and the values' original bytes (differential, on random
        header sets with Connection-named, upgrade-only and Latin-1 values).
        """
        rng = random.Random(13)
        names = ["accept", "connection", "keep-alive", "x-private", "sec-websocket-key",
                 "http2-settings", "host", "content-length", "authorization", "content-type",
                 "te", "upgrade", "x-custom", "etag", "dnt", "user-agent", "expect"]
        not_forwarded = frozenset({"host", "content-length", "authorization", "expect"})
        for _ in range(300):
            headers: dict[str, list[str]] = {}
            for name in rng.sample(names, rng.randint(0, len(names))):
                if name == "connection":
                    headers[name] = [", ".join(rng.sample(["close", "X-Private", "x-custom",
                                                           "TE", ""], 2))]
                else:
                    headers[name] = [rng.choice(["a", "caf\xe9", "1, 2", ""])
                                     for _ in range(rng.randint(1, 2))]
            expected = {canonical_name(name): [v.encode("latin-1") for v in values]
                        for name, values in end_to_end(headers).items()
                        if name not in not_forwarded}
            got = end_to_end_raw(headers, not_forwarded)
            self.assertEqual(list(got.items()), list(expected.items()))

    def test_forwarded_raw_headers_refuse_a_name_that_is_not_a_token(self) -> None:
        """A header name that is not an RFC 9110 token cannot be forwarded (ValueError)."""
        with self.assertRaises(ValueError):
            end_to_end_raw({"bad name": ["x"]}, frozenset())
