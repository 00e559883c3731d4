"""
The real authorization server fixture (oidc-provider) does what stoad's end-to-end tests rely on:
RFC 9068 JWTs bound to the agent's certificate, PKCE, introspection, revocation, key rotation.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import tempfile
import time
from typing import Any

from jose import jwk, jwt
from jose.exceptions import JWTError
from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from tests.support import oidc
from tests.support.oidc import (
    AuthorizationServer,
    ClientCertificate,
    OidcError,
    OidcFixtureError,
    Resource,
)

API = "https://127.0.0.1:8443/api"
RS256_API = "https://127.0.0.1:8443/rs256"
OPAQUE_API = "https://127.0.0.1:8443/opaque"


def temporary_directory(case: SynchronousTestCase) -> str:
    """A fresh directory outside the work tree, removed after the test."""
    path = tempfile.mkdtemp(prefix="stoad-oidc-")
    case.addCleanup(shutil.rmtree, path, True)
    return path


def verify(server: AuthorizationServer, token: str, audience: str) -> dict[str, Any]:
    """Verify C{token} against the JWKS the server publishes, one algorithm per key."""
    header = jwt.get_unverified_header(token)
    keys = [k for k in server.jwks()["keys"] if k["kid"] == header["kid"]]
    if len(keys) != 1:
        raise JWTError(f"kid {header['kid']!r} is not served")
    key = jwk.construct(keys[0], keys[0]["alg"])
    return dict(jwt.decode(
        token,
        key,
        algorithms=[keys[0]["alg"]],
        audience=audience,
        issuer=server.issuer,
        options={"require_aud": True, "require_iat": True, "require_exp": True,
                 "require_iss": True, "require_sub": True, "require_jti": True},
    ))


class AuthorizationServerTests(SynchronousTestCase):
    def setUp(self) -> None:
        base = temporary_directory(self)
        self.pki = write_dev_pki(os.path.join(base, "pki"))
        self.server = AuthorizationServer.from_dev_pki(
            os.path.join(base, "oidc"),
            self.pki,
            [Resource(API), Resource(RS256_API, alg="RS256"), Resource(OPAQUE_API, format="opaque")],
        ).start()
        self.addCleanup(self.server.stop)
        self.agent1 = self.server.agents["agent-1"]
        self.agent2 = self.server.agents["agent-2"]

    def test_client_credentials_jwt_is_rfc9068_and_bound_to_the_agent_certificate(self) -> None:
        """A client-credentials token for the JWT resource is an at+jwt for that audience,
        issued by the issuer, bound to the agent certificate's SHA-256 thumbprint, and its
        ES256 signature verifies against the published JWKS."""
        token = self.server.client_credentials("agent-1", API, scope="stoa:read stoa:write")
        header = jwt.get_unverified_header(token.access_token)
        self.assertEqual((header["typ"], header["alg"]), ("at+jwt", "ES256"))
        claims = verify(self.server, token.access_token, API)
        self.assertEqual(claims["iss"], self.server.issuer)
        self.assertEqual(claims["aud"], API)
        self.assertEqual(claims["client_id"], "agent-1")
        self.assertEqual(claims["scope"], "stoa:read stoa:write")
        self.assertEqual(claims["cnf"], {"x5t#S256": self.agent1.thumbprint()})
        self.assertNotEqual(self.agent1.thumbprint(), self.agent2.thumbprint())
        self.assertEqual(claims["exp"] - claims["iat"], 300)

    def test_tampered_jwt_does_not_verify(self) -> None:
        """An issued JWT whose payload is swapped (client_id changed) no longer verifies."""
        token = self.server.client_credentials("agent-1", API).access_token
        head, _, signature = token.split(".")
        claims = jwt.get_unverified_claims(token)
        claims["client_id"] = "agent-2"
        forged_payload = oidc.b64url(json.dumps(claims).encode())
        self.assertRaises(JWTError, verify, self.server, f"{head}.{forged_payload}.{signature}", API)

    def test_rs256_resource_gets_rs256_tokens(self) -> None:
        """A resource configured with alg RS256 gets RS256-signed at+jwt tokens that verify."""
        token = self.server.client_credentials("agent-2", RS256_API).access_token
        self.assertEqual(jwt.get_unverified_header(token)["alg"], "RS256")
        claims = verify(self.server, token, RS256_API)
        self.assertEqual(claims["cnf"]["x5t#S256"], self.agent2.thumbprint())

    def test_another_agents_certificate_cannot_get_a_token(self) -> None:
        """tls_client_auth refuses agent-1's client_id presented with agent-2's certificate."""
        with self.assertRaises(OidcError) as caught:
            self.server.client_credentials("agent-1", API, certificate=self.agent2)
        self.assertEqual((caught.exception.status, caught.exception.body["error"]), (401, "invalid_client"))

    def test_certificate_from_another_ca_cannot_get_a_token(self) -> None:
        """A certificate with the agent's name but from an unknown CA is not authorized."""
        other = write_dev_pki(temporary_directory(self))
        with self.assertRaises(OidcError) as caught:
            self.server.client_credentials(
                "agent-1", API, certificate=ClientCertificate(other["agent-1"], other["agent-1-key"])
            )
        self.assertEqual(caught.exception.status, 401)

    def test_unknown_resource_is_refused(self) -> None:
        """A resource indicator the server does not know gives invalid_target, not a token."""
        with self.assertRaises(OidcError) as caught:
            self.server.client_credentials("agent-1", "https://127.0.0.1:9/elsewhere")
        self.assertEqual(caught.exception.body["error"], "invalid_target")

    def test_authorization_code_with_pkce_gives_a_certificate_bound_jwt(self) -> None:
        """The public client's code + PKCE S256 flow, driven without a browser, yields an at+jwt
        for the user, bound to the certificate presented at the token endpoint."""
        token = self.server.authorization_code(API, certificate=self.agent2, scope="stoa:read stoa:write")
        self.assertEqual(jwt.get_unverified_header(token.access_token)["typ"], "at+jwt")
        claims = verify(self.server, token.access_token, API)
        self.assertEqual(claims["sub"], self.server.user)
        self.assertEqual(claims["client_id"], self.server.public_client_id)
        self.assertEqual(claims["cnf"], {"x5t#S256": self.agent2.thumbprint()})
        self.assertEqual(set(claims["scope"].split()), {"stoa:read", "stoa:write"})
        self.assertIn("id_token", token.raw)

    def test_authorization_code_redeemed_without_a_certificate_is_refused(self) -> None:
        """The public client requires bound tokens: redeeming the code with no client
        certificate gets invalid_grant, not an unbound token."""
        with self.assertRaises(OidcError) as caught:
            self.server.authorization_code(API, certificate=None)
        self.assertEqual((caught.exception.status, caught.exception.body["error"]), (400, "invalid_grant"))

    def test_resource_added_at_run_time_gets_tokens(self) -> None:
        """A resource added after start (as once stoad's port is known) issues tokens for it."""
        late = "https://127.0.0.1:8443/late"
        self.assertRaises(OidcError, self.server.client_credentials, "agent-1", late)
        self.server.add_resource(Resource(late, alg="RS256", ttl=60))
        claims = verify(self.server, self.server.client_credentials("agent-1", late).access_token, late)
        self.assertEqual(claims["exp"] - claims["iat"], 60)

    def test_killed_runner_does_not_leave_the_server_behind(self) -> None:
        """When the controlling pipe closes (the test runner died), the server exits by itself."""
        process = self.server._process
        assert process is not None and process.stdin is not None
        process.stdin.close()
        self.assertEqual(process.wait(timeout=10), 0)

    def test_authorization_code_with_a_wrong_password_fails(self) -> None:
        """The login step refuses a wrong password, so no code is issued."""
        with self.assertRaises(OidcError) as caught:
            self.server.authorization_code(API, certificate=self.agent1, password="not-the-password")
        self.assertEqual(caught.exception.status, 401)

    def test_opaque_token_introspects_active_with_cnf_until_revoked(self) -> None:
        """An opaque token introspects as active with its audience and cnf; after revocation
        at the provider it introspects as inactive."""
        token = self.server.client_credentials("agent-1", OPAQUE_API).access_token
        self.assertEqual(token.count("."), 0)
        active = self.server.introspect(token)
        self.assertIs(active["active"], True)
        self.assertEqual(active["aud"], OPAQUE_API)
        self.assertEqual(active["iss"], self.server.issuer)
        self.assertEqual(active["cnf"], {"x5t#S256": self.agent1.thumbprint()})
        self.server.revoke(token)
        self.assertEqual(self.server.introspect(token), {"active": False})

    def test_introspection_with_a_wrong_secret_is_refused(self) -> None:
        """The resource-server client must authenticate: a wrong secret gets 401."""
        token = self.server.client_credentials("agent-1", OPAQUE_API).access_token
        self.server.introspection_client_secret = "wrong"
        with self.assertRaises(OidcError) as caught:
            self.server.introspect(token)
        self.assertEqual(caught.exception.status, 401)

    def test_key_rotation_keeping_old_keys(self) -> None:
        """After rotation new tokens carry a new kid that the JWKS serves; the old kid stays
        served, so tokens signed before still verify."""
        before = self.server.client_credentials("agent-1", API).access_token
        old_kid = jwt.get_unverified_header(before)["kid"]
        kids = self.server.rotate_keys(keep_old=True)
        after = self.server.client_credentials("agent-1", API).access_token
        new_kid = jwt.get_unverified_header(after)["kid"]
        self.assertNotEqual(new_kid, old_kid)
        self.assertEqual(kids[0], new_kid)
        served = {k["kid"] for k in self.server.jwks()["keys"]}
        self.assertEqual(served, set(kids))
        self.assertIn(old_kid, served)
        verify(self.server, before, API)
        verify(self.server, after, API)

    def test_key_rotation_dropping_old_keys(self) -> None:
        """Rotation without keeping old keys removes the old kid, so older tokens no longer
        verify while new ones do; opaque tokens issued before stay introspectable."""
        before = self.server.client_credentials("agent-1", API).access_token
        opaque = self.server.client_credentials("agent-1", OPAQUE_API).access_token
        self.server.rotate_keys(keep_old=False)
        served = {k["kid"] for k in self.server.jwks()["keys"]}
        self.assertEqual(len(served), 2)
        self.assertNotIn(jwt.get_unverified_header(before)["kid"], served)
        self.assertRaises(JWTError, verify, self.server, before, API)
        verify(self.server, self.server.client_credentials("agent-1", API).access_token, API)
        self.assertIs(self.server.introspect(opaque)["active"], True)

    def test_time_shift_issues_validly_signed_expired_tokens(self) -> None:
        """With the token clock moved back an hour, a fresh JWT is correctly signed but expired."""
        self.server.shift_token_time(-3600)
        token = self.server.client_credentials("agent-1", API).access_token
        claims = jwt.get_unverified_claims(token)
        self.assertLess(claims["exp"], time.time())
        self.assertRaises(JWTError, verify, self.server, token, API)
        claims = jwt.decode(token, _key_for(self.server, token), algorithms=["ES256"], audience=API,
                            options={"verify_exp": False})
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        self.server.shift_token_time(0)
        verify(self.server, self.server.client_credentials("agent-1", API).access_token, API)

    def test_stop_serving_refuses_connections_until_resumed(self) -> None:
        """While "down" the OAuth port refuses connections; after resuming the same keys are served."""
        kids = self.server.health()["kids"]
        self.server.stop_serving()
        self.assertIs(self.server.health()["serving"], False)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.server.port), timeout=5).close()
        self.server.resume_serving()
        self.assertEqual([k["kid"] for k in self.server.jwks()["keys"]], kids)

    def test_control_port_requires_the_secret(self) -> None:
        """The control endpoint refuses a request without the right secret and rotates nothing."""
        kids = self.server.health()["kids"]
        connection = http.client.HTTPConnection("127.0.0.1", self.server.control_port, timeout=5)
        self.addCleanup(connection.close)
        connection.request("POST", "/rotate", body="{}", headers={"x-control-secret": "guess"})
        self.assertEqual(connection.getresponse().status, 403)
        self.assertEqual(self.server.health()["kids"], kids)

    def test_stop_ends_the_process(self) -> None:
        """stop() terminates the provider: its port no longer accepts connections."""
        port = self.server.port
        self.server.stop()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def _key_for(server: AuthorizationServer, token: str) -> Any:
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in server.jwks()["keys"] if k["kid"] == kid]
    return jwk.construct(key, key["alg"])


class MissingSetUpTests(SynchronousTestCase):
    def test_start_without_node_modules_names_the_make_target(self) -> None:
        """Without the npm install the fixture fails at once, naming the make target to run."""
        base = temporary_directory(self)
        self.patch(oidc, "FIXTURE_DIR", os.path.join(base, "not-installed"))
        pki = write_dev_pki(os.path.join(base, "pki"))
        server = AuthorizationServer.from_dev_pki(os.path.join(base, "oidc"), pki, [Resource(API)])
        error = self.assertRaises(OidcFixtureError, server.start)
        self.assertIn("make oidc-fixture", str(error))

    def test_a_start_that_never_says_ready_says_what_the_process_was_doing(self) -> None:
        """A process that runs but never says READY is started once more with a warning, then
        fails; both messages carry its stdout, its state and Node's report (idle event loop,
        the socket it listens on), so a rare hang explains itself."""
        base = temporary_directory(self)
        script = os.path.join(base, "never-ready.mjs")
        with open(script, "w", encoding="utf-8") as f:
            f.write("import * as net from 'node:net';\n"
                    "process.stdout.write('starting\\n');\n"
                    "net.createServer().listen(0, '127.0.0.1');\n")
        self.patch(oidc, "SERVER_SCRIPT", script)
        pki = write_dev_pki(os.path.join(base, "pki"))
        server = AuthorizationServer.from_dev_pki(
            os.path.join(base, "oidc"), pki, [Resource(API)], startup_timeout=2.0)
        self.addCleanup(server.stop)
        error = self.assertRaises(OidcFixtureError, server.start)
        warned = [str(w["message"]) for w in self.flushWarnings()]
        self.assertEqual(len(warned), 1, warned)
        for message in (str(error), warned[0]):
            self.assertIn("process still running", message)
            self.assertIn("stdout: b'starting\\n'", message)
            self.assertRegex(message, r"state S, wchan \S+, [0-9.]+s CPU used")
            self.assertIn("JavaScript stack: ['(event loop idle)']", message)
            self.assertRegex(message, r"open sockets/pipes: \['tcp \d+'\]")
