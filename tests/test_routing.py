"""Route matching and the hop-by-hop / identity header rules."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from stoad.config import Route
from stoad.proxy.headers import claims_identity, end_to_end
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
