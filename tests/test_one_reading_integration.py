"""Black-box tests of "one reading" through the real daemon: HEAD is held to GET's scopes,
override headers are refused, identity headers never reach the upstream, and every response
names its audit event."""

from __future__ import annotations

import json

from tests.support.authgateway import AuthGatewayCase


class OneReadingTests(AuthGatewayCase):
    workers = 1
    route_extra = {"scopes.POST": "stoa:write"}

    def test_head_is_held_to_the_scopes_of_get(self) -> None:
        """With scopes.GET = stoa:admin on the route, a HEAD with a stoa:read token is refused
        (403) as the GET is; with stoa:admin both pass."""
        self.daemon.write_config(self.config(get_scope="stoa:admin"))
        self.daemon.reload()
        read = self.token("agent-1", ("stoa:read",))
        self.assertEqual(self.send("GET", "/api/echo", token=read)[0], 403)
        self.assertEqual(self.send("HEAD", "/api/echo", token=read)[0], 403)
        admin = self.token("agent-1", ("stoa:admin",))
        self.assertEqual(self.send("HEAD", "/api/echo", token=admin)[0], 200)

    def test_method_override_header_is_refused_and_never_forwarded(self) -> None:
        """A GET carrying X-HTTP-Method-Override: DELETE is refused with 400 and the fixed body;
        the upstream sees nothing."""
        before = len(self.upstream.requests)
        status, _, body = self.send("GET", "/api/echo",
                                    headers={"X-HTTP-Method-Override": "DELETE"})
        self.assertEqual((status, json.loads(body)), (400, {"error": "invalid_request"}))
        status, _, _ = self.send("POST", "/api/echo?_method=DELETE",
                                 token=self.token("agent-1", ("stoa:write",)), body=b"")
        self.assertEqual(status, 400)
        self.assertEqual(len(self.upstream.requests), before)

    def test_identity_headers_from_the_client_never_reach_the_upstream(self) -> None:
        """Auth-proxy identity headers sent by the client (oauth2-proxy, ALB, IAP, Kong, stoad's
        own) are dropped; stoad's verified identity headers arrive instead."""
        forged = {"X-Auth-Request-Email": "root@example.com", "X-Amzn-Oidc-Identity": "root",
                  "X-Goog-Authenticated-User-Email": "root", "X-Consumer-Username": "root",
                  "X-Stoad-Consumer": "root", "X-Remote-User": "root"}
        status, _, body = self.send("GET", "/api/echo", headers=forged)
        self.assertEqual(status, 200)
        seen = dict(json.loads(body)["headers"])
        for name in forged:
            if name.lower() != "x-stoad-consumer":
                self.assertNotIn(name.lower(), seen)
        self.assertEqual(seen["x-stoad-consumer"], "team-agent-1")

    def test_every_response_names_its_audit_event(self) -> None:
        """Allowed, denied (no token) and unrouted responses carry X-Request-Id, and the audit
        log holds the request's events (decision and completion, or the refusal) under exactly
        that request_id."""
        ids = [self.send("GET", "/api/echo")[1]["x-request-id"],
               self.daemon.request("GET", "/api/echo")[1]["x-request-id"],
               self.send("GET", "/elsewhere")[1]["x-request-id"]]
        self.assertEqual(len(set(ids)), 3)

        def audited() -> set[str] | None:
            found = {event["request_id"] for event in self.audit_events("http_request")}
            return found if set(ids) <= found else None

        self.daemon.wait_until(audited, 30, "the three requests' audit events")
