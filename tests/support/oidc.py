"""Start and drive a real oidc-provider authorization server (tests/fixtures/oidc) from tests.

The helpers are synchronous (stdlib ``ssl`` + ``http.client``/``urllib``): they block the test
that calls them, which is fine because stoad under test runs in its own process. Example::

    paths = write_dev_pki(tmp)                      # stoad.dev.devpki: CA, localhost, agent-1/2
    server = AuthorizationServer.from_dev_pki(
        tmp + "/oidc", paths,
        [Resource("https://localhost:8443/api"), Resource("https://localhost:8443/o", format="opaque")],
    ).start()
    case.addCleanup(server.stop)
    jwt = server.client_credentials("agent-1", "https://localhost:8443/api", "stoa:read").access_token
"""

from __future__ import annotations

import atexit
import base64
import collections
import hashlib
import http.client
import http.cookiejar
import json
import os
import queue
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "oidc")
SERVER_SCRIPT = os.path.join(FIXTURE_DIR, "authorization-server.js")
SET_UP_HINT = "run `make oidc-fixture` (part of `make test`) to install oidc-provider"

STOA_SCOPES = "stoa:read stoa:write stoa:admin"
HTTP_TIMEOUT = 10.0
# Node writes a diagnostic report (JavaScript stack, open handles) when sent this signal; the
# fixture asks for one from a process that runs but never said READY.
REPORT_SIGNAL = signal.SIGUSR2
REPORT_FILE = "hung-start-report.json"
REPORT_TIMEOUT = 10.0


class OidcFixtureError(Exception):
    """The authorization server could not be started or answered unexpectedly."""


class _StartHung(OidcFixtureError):
    """The process runs but never said READY (seen rarely, cause not yet known; the message
    carries what the process was doing, see L{AuthorizationServer._describe_hang})."""


class OidcError(Exception):
    """The authorization server refused a request; C{status} and the parsed C{body} say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class ClientCertificate:
    """Paths of a PEM client certificate and its PEM private key."""

    cert: str
    key: str

    def thumbprint(self) -> str:
        """RFC 8705 C{x5t#S256}: base64url(SHA-256(DER)) without padding."""
        with open(self.cert, "rb") as f:
            der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
        return b64url(hashlib.sha256(der).digest())


@dataclass(frozen=True)
class Resource:
    """
    A resource server known to the authorization server. C{identifier} is both the RFC 8707
    C{resource} value a client asks for and the C{aud} of the tokens; C{format} is C{"jwt"}
    (RFC 9068, signed with C{alg}) or C{"opaque"} (introspect it); C{ttl} overrides the
    server-wide access-token lifetime for this resource.
    """

    identifier: str
    format: str = "jwt"
    alg: str = "ES256"
    ttl: int | None = None
    scope: str = STOA_SCOPES

    def __post_init__(self) -> None:
        if self.format not in ("jwt", "opaque"):
            raise ValueError(f"format must be 'jwt' or 'opaque', not {self.format!r}")
        if self.alg not in ("ES256", "RS256"):
            raise ValueError(f"alg must be ES256 or RS256, not {self.alg!r}")


@dataclass
class TokenResponse:
    """A successful token endpoint answer."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str | None
    raw: dict[str, Any] = field(repr=False)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _client_auth_identity(cert_path: str) -> dict[str, str]:
    """The registered tls_client_auth_* value for a certificate: its first SAN URI, else its DN."""
    with open(cert_path, "rb") as f:
        certificate = x509.load_pem_x509_certificate(f.read())
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        uris: list[str] = []
    else:
        uris = sans.value.get_values_for_type(x509.UniformResourceIdentifier)
    if uris:
        return {"tls_client_auth_san_uri": uris[0]}
    return {"tls_client_auth_subject_dn": certificate.subject.rfc4514_string()}


class AuthorizationServer:
    """
    One oidc-provider process on 127.0.0.1 over TLS, with these registered clients:

      - one confidential client per agent (client_id = agent name), C{tls_client_auth}
        bound to that agent's certificate, grant C{client_credentials}, certificate-bound tokens;
      - C{public_client_id}: a public native client (no secret) for authorization code + PKCE
        S256 with redirect URI C{redirect_uri}, certificate-bound tokens;
      - C{introspection_client_id}/C{introspection_client_secret}: stoad's own resource-server
        client (C{client_secret_basic}) that may introspect and revoke any token; and, when
        C{introspection_certificate} is given, C{introspection_mtls_client_id} doing the same
        with C{tls_client_auth}.

    The user C{user}/C{password} logs in during the authorization code flow.
    """

    public_client_id = "stoa-cli"
    redirect_uri = "http://127.0.0.1:9/callback"
    introspection_client_id = "stoad-gateway"
    introspection_mtls_client_id = "stoad-gateway-mtls"
    user = "alice"

    def __init__(
        self,
        directory: str,
        *,
        server_certificate: ClientCertificate,
        server_ca: str,
        client_ca: str,
        agents: Mapping[str, ClientCertificate],
        resources: Sequence[Resource],
        access_token_ttl: int = 300,
        introspection_certificate: ClientCertificate | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.directory = directory
        self.server_certificate = server_certificate
        self.ca_path = server_ca
        self.client_ca = client_ca
        self.agents = dict(agents)
        self.resources = list(resources)
        self.access_token_ttl = access_token_ttl
        self.introspection_certificate = introspection_certificate
        self.startup_timeout = startup_timeout
        self.introspection_client_secret = secrets.token_urlsafe(32)
        self.password = secrets.token_urlsafe(16)
        self._control_secret = secrets.token_urlsafe(32)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        # What the process wrote on stdout, as read (partial lines included), for _describe_hang.
        self._stdout_seen: collections.deque[bytes] = collections.deque(maxlen=20)
        self.issuer = ""
        self.port = 0
        self.control_port = 0
        self.metadata: dict[str, Any] = {}

    @classmethod
    def from_dev_pki(
        cls,
        directory: str,
        paths: Mapping[str, str],
        resources: Sequence[Resource],
        agents: Iterable[str] = ("agent-1", "agent-2"),
        **options: Any,
    ) -> AuthorizationServer:
        """
        Use the files written by L{stoad.dev.devpki.write_dev_pki}: its localhost server certificate
        for TLS, its CA both to trust the server and to verify the agents' certificates.
        """
        return cls(
            directory,
            server_certificate=ClientCertificate(paths["server"], paths["server-key"]),
            server_ca=paths["ca"],
            client_ca=paths["ca"],
            agents={name: ClientCertificate(paths[name], paths[f"{name}-key"]) for name in agents},
            resources=resources,
            **options,
        )

    # ---- process -------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        clients: list[dict[str, Any]] = []
        for name, certificate in self.agents.items():
            clients.append(
                {
                    "client_id": name,
                    "token_endpoint_auth_method": "tls_client_auth",
                    **_client_auth_identity(certificate.cert),
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "redirect_uris": [],
                    "scope": STOA_SCOPES,
                    "tls_client_certificate_bound_access_tokens": True,
                }
            )
        clients.append(
            {
                "client_id": self.public_client_id,
                "application_type": "native",
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "redirect_uris": [self.redirect_uri],
                "scope": "openid " + STOA_SCOPES,
                "tls_client_certificate_bound_access_tokens": True,
            }
        )
        introspectors = [self.introspection_client_id]
        clients.append(
            {
                "client_id": self.introspection_client_id,
                "client_secret": self.introspection_client_secret,
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": [],
                "response_types": [],
                "redirect_uris": [],
            }
        )
        if self.introspection_certificate is not None:
            introspectors.append(self.introspection_mtls_client_id)
            clients.append(
                {
                    "client_id": self.introspection_mtls_client_id,
                    "token_endpoint_auth_method": "tls_client_auth",
                    **_client_auth_identity(self.introspection_certificate.cert),
                    "grant_types": [],
                    "response_types": [],
                    "redirect_uris": [],
                }
            )
        return {
            "port": 0,
            "control_port": 0,
            "control_secret": self._control_secret,
            "tls": {
                "cert": self.server_certificate.cert,
                "key": self.server_certificate.key,
                "client_ca": self.client_ca,
            },
            "access_token_ttl": self.access_token_ttl,
            "resources": [
                {k: v for k, v in vars(r).items() if v is not None} for r in self.resources
            ],
            "clients": clients,
            "introspectors": introspectors,
            "users": {self.user: self.password},
        }

    def start(self) -> AuthorizationServer:
        """
        Start the process and wait (bounded) for its READY line; returns C{self}. A process that
        runs but never says READY is stopped and started once more (a rare hang whose cause is
        still open). The first hang is reported as a warning, a second one as the error; both
        say what the process was doing (see L{_describe_hang}).
        """
        try:
            return self._start_once()
        except _StartHung as hung:
            warnings.warn(f"oidc-provider start hung, starting it once more: {hung}", stacklevel=2)
            return self._start_once()

    def _start_once(self) -> AuthorizationServer:
        if self._process is not None:
            raise OidcFixtureError("already started")
        node = shutil.which("node")
        if node is None:
            raise OidcFixtureError(f"Node.js (`node`) is not on PATH; {SET_UP_HINT}")
        if not os.path.exists(os.path.join(FIXTURE_DIR, "node_modules", "oidc-provider", "package.json")):
            raise OidcFixtureError(f"{FIXTURE_DIR}/node_modules/oidc-provider is missing; {SET_UP_HINT}")
        os.makedirs(self.directory, exist_ok=True)
        config_path = os.path.join(self.directory, "oidc-provider.json")
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self._config(), f)
        # Kept open for the life of the process (its stderr); closed in stop().
        self._stderr = open(self.log_path, "wb")  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                node,
                "--report-on-signal",
                f"--report-signal={REPORT_SIGNAL.name}",
                f"--report-directory={self.directory}",
                f"--report-filename={REPORT_FILE}",
                SERVER_SCRIPT,
                config_path,
            ],
            cwd=FIXTURE_DIR,
            # The server exits when this pipe closes, so it dies with a killed test runner.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        atexit.register(self.stop)
        self._lines = queue.Queue()
        self._stdout_seen.clear()
        threading.Thread(target=self._drain, args=(self._process.stdout, self._lines),
                         daemon=True).start()
        try:
            self._await_ready()
            self.metadata = self._get_json(self.issuer + "/.well-known/openid-configuration")
        except BaseException:
            self.stop()
            raise
        if self.metadata.get("issuer") != self.issuer:
            self.stop()
            raise OidcFixtureError(f"metadata issuer {self.metadata.get('issuer')!r} != {self.issuer!r}")
        return self

    def _drain(self, stream: IO[bytes] | None, lines: queue.Queue[str | None]) -> None:
        # Chunks as they come rather than lines, so a hang report also shows a partial line.
        assert stream is not None
        pending = b""
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            self._stdout_seen.append(chunk)
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                lines.put(line.decode("utf-8", "replace"))
        lines.put(None)

    def _await_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # The log lives in the test's temporary folder, gone by the time anyone reads
                # the failure: carry its tail (and whether the process still runs) in the error.
                running = self._process is not None and self._process.poll() is None
                if not running:
                    raise OidcFixtureError(
                        f"no READY line within {self.startup_timeout}s (process exited); "
                        f"log tail: {self.log_tail()}"
                    )
                hang = self._describe_hang()
                raise _StartHung(
                    f"no READY line within {self.startup_timeout}s (process still running; "
                    f"{hang}); log tail: {self.log_tail()}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise OidcFixtureError(f"authorization server exited early: {self.log_tail()}")
            if line.startswith("READY "):
                fields = dict(item.split("=", 1) for item in line.split()[1:])
                self.issuer = fields["issuer"]
                self.port = int(fields["port"])
                self.control_port = int(fields["control_port"])
                return

    def _describe_hang(self) -> str:
        """
        What a process that runs but never said READY is doing: its scheduler state (a stopped
        process also "runs"), every stdout line it wrote (READY may have come out mangled), and
        from a Node diagnostic report its JavaScript stack and open sockets (are the listeners
        up, i.e. did it get past C{listen}?).
        """
        assert self._process is not None
        pid = self._process.pid
        facts = [f"stdout: {b''.join(self._stdout_seen)!r}"]
        try:
            with open(f"/proc/{pid}/stat") as f:
                # Fields after the parenthesised command name: state is the 3rd, utime and
                # stime the 14th and 15th (clock ticks): spinning, sleeping or stopped?
                stat = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/wchan") as f:
                wchan = f.read().strip() or "-"
            cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
            facts.append(f"state {stat[0]}, wchan {wchan}, {cpu:.1f}s CPU used")
        except (OSError, IndexError, ValueError):
            pass
        report_path = os.path.join(self.directory, REPORT_FILE)
        # A report left by an earlier hang in this folder must not be read as this one's.
        if os.path.exists(report_path):
            os.remove(report_path)
        self._process.send_signal(REPORT_SIGNAL)
        deadline = time.monotonic() + REPORT_TIMEOUT
        report: dict[str, Any] | None = None
        while report is None and time.monotonic() < deadline and self._process.poll() is None:
            try:
                with open(report_path, "rb") as f:
                    report = json.load(f)
            except (OSError, ValueError):
                # Not there, or still being written: Node writes it from its main thread.
                time.sleep(0.05)
        if report is None:
            facts.append(f"no Node report within {REPORT_TIMEOUT}s (main thread busy or blocked)")
            return "; ".join(facts)
        stack = report.get("javascriptStack", {}).get("stack") or ["(event loop idle)"]
        sockets = [
            f"{h['type']} {h.get('localEndpoint', {}).get('port')}"
            for h in report.get("libuv", [])
            if h.get("type") in ("tcp", "udp", "pipe") and h.get("is_active")
        ]
        facts.append(f"JavaScript stack: {stack[:8]!r}")
        facts.append(f"open sockets/pipes: {sockets!r}")
        return "; ".join(facts)

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, "oidc-provider.log")

    def log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate the process and wait for it; safe to call twice."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # ---- endpoints -----------------------------------------------------------------

    @property
    def jwks_uri(self) -> str:
        return str(self.metadata["jwks_uri"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def introspection_endpoint(self) -> str:
        return str(self.metadata["introspection_endpoint"])

    @property
    def revocation_endpoint(self) -> str:
        return str(self.metadata["revocation_endpoint"])

    def endpoint_for_mtls(self, name: str) -> str:
        """Where a certificate-authenticated client calls C{name} (RFC 8705 aliases, if any)."""
        aliases = self.metadata.get("mtls_endpoint_aliases") or {}
        return str(aliases.get(name) or self.metadata[name])

    # ---- HTTP ----------------------------------------------------------------------

    def tls_context(self, certificate: ClientCertificate | None = None) -> ssl.SSLContext:
        """Trusts only the fixture's server CA; presents C{certificate} when given."""
        context = ssl.create_default_context(cafile=self.ca_path)
        if certificate is not None:
            context.load_cert_chain(certificate.cert, certificate.key)
        return context

    def _request(
        self,
        method: str,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        certificate: ClientCertificate | None = None,
        basic: tuple[str, str] | None = None,
    ) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or parts.hostname != "127.0.0.1":
            raise OidcFixtureError(f"refusing to call {url!r}: not the fixture")
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=HTTP_TIMEOUT, context=self.tls_context(certificate)
        )
        headers = {"Accept": "application/json"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if basic is not None:
            pair = f"{urllib.parse.quote(basic[0], safe='')}:{urllib.parse.quote(basic[1], safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return response.status, parsed

    def _get_json(self, url: str) -> dict[str, Any]:
        status, body = self._request("GET", url)
        if status != 200 or not isinstance(body, dict):
            raise OidcError(status, body)
        return body

    def _token(self, form: Mapping[str, str], certificate: ClientCertificate | None) -> TokenResponse:
        status, body = self._request(
            "POST", self.endpoint_for_mtls("token_endpoint"), form=form, certificate=certificate
        )
        if status != 200 or not isinstance(body, dict):
            raise OidcError(status, body)
        return TokenResponse(
            access_token=body["access_token"],
            token_type=body["token_type"],
            expires_in=int(body["expires_in"]),
            scope=body.get("scope"),
            raw=body,
        )

    # ---- OAuth flows ---------------------------------------------------------------

    def client_credentials(
        self,
        client_id: str,
        resource: str | None = None,
        scope: str = "stoa:read",
        certificate: ClientCertificate | None = None,
    ) -> TokenResponse:
        """
        Client credentials grant for agent C{client_id}, authenticated with C{tls_client_auth}
        using C{certificate} (default: that agent's own). With C{resource} the token's C{aud}
        is that resource and its format the resource's; without, it is opaque with no C{aud}.
        Raises L{OidcError} when the server refuses.
        """
        form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}
        if resource is not None:
            form["resource"] = resource
        return self._token(form, certificate or self.agents[client_id])

    def authorization_code(
        self,
        resource: str,
        certificate: ClientCertificate | None,
        scope: str = "stoa:read",
        password: str | None = None,
    ) -> TokenResponse:
        """
        Authorization code + PKCE S256 for the public client: log C{user} in and consent over
        plain HTTP (cookies kept in a jar, no browser), then redeem the code presenting
        C{certificate} so the access token for C{resource} is bound to it (C{None}: present no
        certificate, which the server refuses since the client requires bound tokens).
        """
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        state = secrets.token_urlsafe(16)
        query = urllib.parse.urlencode(
            {
                "client_id": self.public_client_id,
                "response_type": "code",
                "redirect_uri": self.redirect_uri,
                "scope": f"openid {scope}",
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
            }
        )
        location = self._drive_interaction(
            f"{self.metadata['authorization_endpoint']}?{query}", password or self.password
        )
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        if "error" in params:
            raise OidcError(400, params)
        if params.get("state") != state:
            raise OidcFixtureError("authorization response state does not match")
        if params.get("iss") != self.issuer:
            raise OidcFixtureError(f"authorization response iss {params.get('iss')!r} is not the issuer")
        form = {
            "grant_type": "authorization_code",
            "client_id": self.public_client_id,
            "code": params["code"],
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "resource": resource,
        }
        return self._token(form, certificate)

    def _drive_interaction(self, authorization_url: str, password: str) -> str:
        """Follow the login and consent pages; returns the final redirect to C{redirect_uri}."""
        redirects = _StopAtRedirectUri(self.redirect_uri)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.tls_context()),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            redirects,
        )
        request: urllib.request.Request = urllib.request.Request(authorization_url)
        for _ in range(4):
            try:
                with opener.open(request, timeout=HTTP_TIMEOUT) as response:
                    page = json.loads(response.read())
                    interaction_url = response.geturl()
            except urllib.error.HTTPError as error:
                if redirects.location is not None:
                    return redirects.location
                raise OidcError(error.code, error.read().decode("utf-8", "replace")) from None
            if redirects.location is not None:
                return redirects.location
            if page.get("prompt") == "login":
                form = {"login": self.user, "password": password}
                action = "login"
            elif page.get("prompt") == "consent":
                form = {}
                action = "confirm"
            else:
                raise OidcFixtureError(f"unexpected interaction page: {page!r}")
            request = urllib.request.Request(
                f"{interaction_url}/{action}",
                data=urllib.parse.urlencode(form).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                method="POST",
            )
        raise OidcFixtureError("the authorization flow did not reach the redirect URI")

    def introspect(self, token: str, mtls: bool = False) -> dict[str, Any]:
        """RFC 7662 introspection as stoad would (secret basic, or its certificate if C{mtls})."""
        if mtls:
            if self.introspection_certificate is None:
                raise OidcFixtureError("no introspection_certificate configured")
            status, body = self._request(
                "POST",
                self.endpoint_for_mtls("introspection_endpoint"),
                form={"token": token, "client_id": self.introspection_mtls_client_id},
                certificate=self.introspection_certificate,
            )
        else:
            status, body = self._request(
                "POST",
                self.introspection_endpoint,
                form={"token": token},
                basic=(self.introspection_client_id, self.introspection_client_secret),
            )
        if status != 200 or not isinstance(body, dict):
            raise OidcError(status, body)
        return body

    def revoke(self, token: str) -> None:
        """RFC 7009 revocation of C{token} (as the resource-server client)."""
        status, body = self._request(
            "POST",
            self.revocation_endpoint,
            form={"token": token},
            basic=(self.introspection_client_id, self.introspection_client_secret),
        )
        if status != 200:
            raise OidcError(status, body)

    def jwks(self) -> dict[str, Any]:
        """The public JWKS currently served at C{jwks_uri}."""
        return self._get_json(self.jwks_uri)

    # ---- test control --------------------------------------------------------------

    def _control(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=HTTP_TIMEOUT)
        try:
            payload = json.dumps(body or {})
            connection.request(
                method,
                path,
                body=payload if method == "POST" else None,
                headers={"x-control-secret": self._control_secret, "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            parsed = json.loads(response.read())
        finally:
            connection.close()
        if response.status != 200:
            raise OidcError(response.status, parsed)
        return dict(parsed)

    def health(self) -> dict[str, Any]:
        """C{{ok, serving, issuer, kids, jwt_time_shift}}; C{kids} lists the signing keys, newest first."""
        return self._control("GET", "/health")

    def rotate_keys(self, keep_old: bool = True) -> list[str]:
        """
        New ES256 and RS256 signing keys (new kids) take over signing; the old keys stay in the
        JWKS when C{keep_old}, else they are dropped. Returns the kids now served, newest first.
        """
        return list(self._control("POST", "/rotate", {"keep_old": keep_old})["kids"])

    def shift_token_time(self, seconds: int) -> None:
        """JWT access tokens issued from now on carry iat/nbf/exp moved by C{seconds} (0 resets)."""
        self._control("POST", "/time-shift", {"seconds": seconds})

    def add_resource(self, resource: Resource) -> None:
        """Make C{resource} known from now on (e.g. once stoad's port, hence its URL, is known)."""
        self._control("POST", "/resources", {k: v for k, v in vars(resource).items() if v is not None})
        self.resources = [r for r in self.resources if r.identifier != resource.identifier] + [resource]

    def stop_serving(self) -> None:
        """The OAuth port stops accepting connections (the provider is "down"); state is kept."""
        self._control("POST", "/stop-serving")

    def resume_serving(self) -> None:
        """Listen again on the same port after L{stop_serving}."""
        self._control("POST", "/resume-serving")


class _StopAtRedirectUri(urllib.request.HTTPRedirectHandler):
    """Follows redirects inside the authorization server but records, not follows, the client's."""

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        self.location: str | None = None

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if newurl.startswith(self.redirect_uri):
            self.location = newurl
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class SharedAuthorizationServerCase(SynchronousTestCase):
    """
    A test case base that starts one L{AuthorizationServer} per class (it is the slow part)
    with the dev PKI in a class-wide temporary folder. Subclasses name their C{RESOURCES} and
    C{TMP_PREFIX}; each test gets C{self.workdir}, a fresh folder for its own daemon.

    pytest runs C{setUpClass}; trial does not, so the first test starts the server and it is
    stopped when the runner exits.
    """

    TMP_PREFIX = "stoad-as-"
    RESOURCES: tuple[Resource, ...] = ()
    tmp = ""
    pki: dict[str, str] = {}
    server: AuthorizationServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX)
        try:
            cls.pki = write_dev_pki(os.path.join(cls.tmp, "pki"))
            cls.server = AuthorizationServer.from_dev_pki(
                os.path.join(cls.tmp, "oidc"), cls.pki, list(cls.RESOURCES)).start()
        except BaseException:
            shutil.rmtree(cls.tmp, True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if "server" in vars(cls):
            cls.server.stop()
            del cls.server
        shutil.rmtree(cls.tmp, True)

    def setUp(self) -> None:
        if "server" not in vars(type(self)):
            type(self).setUpClass()
            atexit.register(type(self).tearDownClass)
        self.workdir = tempfile.mkdtemp(prefix="gw-", dir=self.tmp)
