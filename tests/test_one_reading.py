"""One reading of every request, at the gateway: method/URL overrides, identity headers, HEAD as
GET, and the request id every response carries."""

from __future__ import annotations

import dataclasses
from typing import Any

from stoad.auth._settings import RouteAuth
from stoad.policy._input import build_input
from stoad.proxy.headers import IdentityHeaderPolicy, claims_identity
from stoad.runtime.methods import method_class
from tests.test_gateway import GatewayTestCase, _Layer, _Response
from tests.test_routing import route


class OverrideTests(GatewayTestCase):
    def test_override_headers_are_refused(self) -> None:
        """X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, X-Original-URL and
        X-Rewrite-URL each get a 400 with the fixed body; nothing is forwarded."""
        self.build()
        for header in (b"X-HTTP-Method-Override: DELETE", b"X-HTTP-Method: PUT",
                       b"X-Method-Override: PATCH", b"X-Original-URL: /admin",
                       b"X-Rewrite-URL: /admin/x"):
            status, _, body = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
            self.assertEqual((status, body), (400, b'{"error": "invalid_request"}'), header)
        self.assertEqual(self.forwarder.sent, [])

    def test_method_parameters_are_refused_in_query_and_form(self) -> None:
        """_method in the query string or in a form body is refused like the headers."""
        self.build()
        status, _, _ = self.call(b"POST /api/x?_method=DELETE HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 0\r\n\r\n")
        self.assertEqual(status, 400)
        form = b"a=1&_method=DELETE"
        status, _, _ = self.call(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 b"application/x-www-form-urlencoded\r\nContent-Length: "
                                 + str(len(form)).encode() + b"\r\n\r\n", form)
        self.assertEqual(status, 400)
        self.assertEqual(self.forwarder.sent, [])

    def test_a_route_may_allow_one_override_by_name(self) -> None:
        """A route with allow_override = x-http-method-override forwards that header and still
        refuses the others."""
        allowing = dataclasses.replace(route("api", "/api"),
                                       allow_override=frozenset({"x-http-method-override"}))
        self.build(routes=[allowing])
        status, _, _ = self.call(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                 b"X-HTTP-Method-Override: PATCH\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(self.forwarder.sent[0][2].getRawHeaders(b"x-http-method-override"),
                         [b"PATCH"])
        status, _, _ = self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Original-URL: /a\r\n\r\n")
        self.assertEqual(status, 400)

    def test_the_refusal_is_audited_with_the_names(self) -> None:
        """The refusal completes through the chain as denied by http, naming the header."""
        layer = _Layer()
        self.build(layer)
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-HTTP-Method: PUT\r\n\r\n")
        ctx = layer.completed[0]
        self.assertEqual((ctx.outcome, ctx.denied_by, ctx.status), ("denied", "http", 400))
        self.assertIn("x-http-method", ctx.reason)


class IdentityHeaderPolicyTests(GatewayTestCase):
    def test_default_list_covers_auth_proxy_families_by_prefix(self) -> None:
        """Common identity and auth-proxy headers are claims, families matched by prefix."""
        for name in ("x-stoad-anything", "x-forwarded-user", "x-auth-request-email",
                     "x-amzn-oidc-identity", "x-goog-authenticated-user-email",
                     "x-ms-client-principal-name", "x-consumer-username", "x-authenticated-userid",
                     "cf-connecting-ip", "x-remote-user", "x-user-id", "x-jwt-assertion"):
            self.assertTrue(claims_identity(name), name)
        for name in ("accept", "content-type", "user-agent", "x-trace", "mcp-session-id"):
            self.assertFalse(claims_identity(name), name)

    def test_configured_names_and_prefixes_are_added_and_passed(self) -> None:
        """[headers] adds names and NAME* prefixes, and pass_identity_headers_do_not_use lets a
        built-in name through."""
        policy = IdentityHeaderPolicy(("x-team", "x-org-*"), ("x-real-ip",))
        self.assertTrue(policy.claims("x-team"))
        self.assertTrue(policy.claims("x-org-id"))
        self.assertFalse(policy.claims("x-real-ip"))
        self.assertTrue(policy.claims("x-forwarded-for"))

    def test_gateway_drops_what_the_policy_claims(self) -> None:
        """A header named by the configured policy never reaches the upstream."""
        self.build(identity_headers=IdentityHeaderPolicy(("x-team",)))
        self.call(b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Team: root\r\nX-Auth-Token: t\r\n"
                  b"Accept: */*\r\n\r\n")
        headers = self.forwarder.sent[0][2]
        self.assertIsNone(headers.getRawHeaders(b"x-team"))
        self.assertIsNone(headers.getRawHeaders(b"x-auth-token"))
        self.assertEqual(headers.getRawHeaders(b"accept"), [b"*/*"])


class MethodClassTests(GatewayTestCase):
    def test_head_needs_the_scopes_of_get(self) -> None:
        """With scopes.GET = stoa:admin, HEAD needs stoa:admin too (not the read default)."""
        rules = RouteAuth(method_scopes={"GET": frozenset({"stoa:admin"})})
        self.assertEqual(rules.required_scopes("HEAD"), frozenset({"stoa:admin"}))
        self.assertEqual(method_class("HEAD"), "GET")
        self.assertEqual(method_class("OPTIONS"), "OPTIONS")

    def test_policy_sees_head_as_get(self) -> None:
        """The policy input of a HEAD request says GET, so GET's rules decide it."""
        captured: list[Any] = []
        self.build(_Layer(request=captured.append))
        self.call(b"HEAD /api/x HTTP/1.1\r\nHost: x\r\n\r\n")
        document = build_input(captured[0], "/api/x", (), 0.0, None)
        self.assertEqual(document["request"]["method"], "GET")


class RequestIdTests(GatewayTestCase):
    def test_every_response_carries_the_audited_request_id(self) -> None:
        """Allowed, denied and unrouted responses carry X-Request-Id equal to the request id the
        chain completed with (what the audit event records); an upstream's own is replaced."""
        layer = _Layer()
        self.build(layer)
        self.forwarder.result = _Response(200, {"x-request-id": ["upstream-id"]}, b"ok")
        for head in (b"GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-HTTP-Method: PUT\r\n\r\n"):
            _, headers, _ = self.call(head)
            self.assertEqual(headers["x-request-id"], layer.completed[-1].request_id)
        self.assertEqual(len(layer.completed), 3)
