"""Runs the HTTP desync corpus (tests/data/http-desync/) through a real gateway.

Each case becomes raw bytes sent over its own mTLS connection; the gateway's answer and what
the recording upstream got are turned into a verdict (rejected / forwarded-unchanged /
forwarded-normalised) and checked against the rule explained in docs/desync.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Sequence

import yaml

from tests.support.daemon import REPO

CORPUS = os.path.join(REPO, "tests", "data", "http-desync")
CORPUS_FROM_REPO = "tests/data/http-desync/"
MARKER = "x-corpus-case"
CHUNKED_BODY = b"5\r\nhello\r\n0\r\n\r\n"
CHUNKED_PAYLOAD = b"hello"

# Headers stoad replaces or never forwards by design (framing, Host, credentials, hop-by-hop,
# identity claims): their absence upstream is policy, not a normalisation of the request.
_POLICY_DROPPED = frozenset({
    "host", "content-length", "authorization", "expect", "cookie2", "connection", "keep-alive",
    "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "forwarded", "x-real-ip", "x-client-ip", "true-client-ip",
    "client-ip"})
_POLICY_DROPPED_PREFIXES = ("x-forwarded-", "x-stoad-", "x-ssl-", "ssl-client-", "x-client-")
# Headers stoad (or its HTTP client) adds on the way upstream.
_ADDED_UPSTREAM = frozenset({"host", "content-length", "transfer-encoding", "x-forwarded-for",
                             "x-forwarded-proto", "x-forwarded-host", "x-request-id",
                             "connection"})
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 5.5: the characters that make a field value dangerous rather than merely invalid.
_DANGEROUS_IN_VALUE = re.compile(rb"[\x00\r\n]")
PROBE_PATH = b"/__desync_probe"


def encode(text: Any) -> bytes:
    """
    Corpus text to wire bytes. The YAML writes single bytes as C{\\xNN} escapes (obs-text,
    control characters), so text that fits in Latin-1 is sent byte for byte; anything beyond
    (C{ſ}, Cyrillic paths) is sent as UTF-8, as a client would.
    """
    text = "" if text is None else str(text)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


@dataclass
class Case:
    file: str
    index: int
    name: str
    tier: str
    reason: str
    method: bytes
    uri: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"

    @property
    def severe_or_ambiguous(self) -> bool:
        return self.tier in ("Severe", "Ambiguous")

    def declared_body(self) -> tuple[bytes, bytes]:
        """
        The body the client sends after the head, and the payload it means, read the RFC 9112
        way from the exactly named framing headers: chunked as the final transfer coding
        frames a chunked body; otherwise one valid Content-Length frames that many bytes;
        otherwise there is no body. Look-alike names (C{Transfer_Encoding}) frame nothing.
        """
        te = [v for n, v in self.headers if n.lower() == b"transfer-encoding"]
        cl = [v for n, v in self.headers if n.lower() == b"content-length"]
        if te:
            codings = [c.split(b";")[0].strip(b" \t").lower()
                       for v in te for c in v.split(b",") if c.strip(b" \t")]
            if codings and codings[-1] == b"chunked":
                return CHUNKED_BODY, CHUNKED_PAYLOAD
            return b"", b""
        values = {v.strip(b" \t") for v in cl}
        if len(values) == 1:
            value = values.pop()
            if value.isdigit() and len(value) < 9:
                payload = b"b" * int(value)
                return payload, payload
        return b"", b""

    def raw(self) -> bytes:
        """
        The request on the wire: the case's request line and headers as written, with a
        C{Host} (when the case has none: an HTTP/1.1 request without one is refused by any
        strict server, which would hide what the case is about) and a marker header that
        ties what the upstream records to this case.
        """
        line = self.method + b" " + self.uri
        if self.version:
            line += b" " + self.version
        lines = [line]
        if not any(n.lower() == b"host" for n, _ in self.headers):
            lines.append(b"Host: localhost")
        lines.append(MARKER.encode() + b": " + self.id.encode())
        lines += [n + b": " + v for n, v in self.headers]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.declared_body()[0]


def corpus_files() -> list[str]:
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".yaml"))


def load_cases(filename: str) -> list[Case]:
    with open(os.path.join(CORPUS, filename), encoding="utf-8") as f:
        entries = yaml.safe_load(f) or []
    cases = []
    for index, entry in enumerate(entries):
        expected = entry.get("expected") or {}
        cases.append(Case(
            file=filename, index=index, name=str(entry["name"]),
            tier=str(expected.get("tier", "")), reason=str(expected.get("reason", "")),
            method=encode(entry.get("method")), uri=encode(entry.get("uri")),
            version=encode(entry.get("version")),
            headers=[(encode(h.get("name")), encode(h.get("value")))
                     for h in entry.get("headers") or []],
        ))
    return cases


@dataclass
class Reply:
    status: int | None
    headers: list[tuple[bytes, bytes]]
    body: bytes
    closed: bool


class _Connection:
    """One mTLS connection to the gateway that reads responses one at a time."""

    def __init__(self, port: int, context: ssl.SSLContext, timeout: float) -> None:
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.tls = context.wrap_socket(self.raw, server_hostname="localhost")
        self.buffer = b""
        self.eof = False

    def close(self) -> None:
        self.tls.close()
        self.raw.close()

    def send(self, data: bytes) -> bool:
        try:
            self.tls.sendall(data)
            return True
        except (ssl.SSLError, ConnectionError):
            self.eof = True
            return False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.tls.recv(65536)
        except (ssl.SSLError, ConnectionError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def response(self, method: bytes) -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                return Reply(None, [], self.buffer, True)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        status = int(status_line.split(b" ")[1])
        headers = [(n.strip().lower(), v.strip())
                   for n, _, v in (line.partition(b":") for line in header_lines)]
        length = next((int(v) for n, v in headers if n == b"content-length"), None)
        if method == b"HEAD" or status in (204, 304):
            length = 0
        chunked = any(n == b"transfer-encoding" and v.lower() == b"chunked" for n, v in headers)
        if length is None and chunked:
            body = self._chunked()
        elif length is None:
            while self._fill():
                pass
            body, self.buffer = self.buffer, b""
        else:
            while len(self.buffer) < length and self._fill():
                pass
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(status, headers, body, self.eof)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("connection closed inside a chunked body")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                while self._line():
                    pass
                return body
            while len(self.buffer) < size + 2:
                if not self._fill():
                    raise ConnectionError("connection closed inside a chunk")
            body, self.buffer = body + self.buffer[:size], self.buffer[size + 2:]

    def wait_closed(self) -> bool:
        """Whether the gateway closes the connection (bounded by the socket timeout)."""
        try:
            while self._fill():
                pass
        except TimeoutError:
            return False
        return True


# Raw mTLS connections for other black-box framing tests.
RawConnection = _Connection


def _policy_dropped(name: str) -> bool:
    return name in _POLICY_DROPPED or name.startswith(_POLICY_DROPPED_PREFIXES)


def framing_name(name: str) -> str | None:
    """
    Which framing header a name could be read as by a lenient parser: lower-cased, Unicode
    compatibility-folded, dotless i and long s folded, everything but letters dropped.
    """
    folded = unicodedata.normalize("NFKC", name).lower().replace("ı", "i").replace("ſ", "s")
    letters = "".join(c for c in folded if "a" <= c <= "z")
    if letters == "transferencoding":
        return "transfer-encoding"
    if letters == "contentlength":
        return "content-length"
    return None


@dataclass
class Outcome:
    case: Case
    reply: Reply
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def run_case(case: Case, port: int, context: ssl.SSLContext, upstream: Any,
             timeout: float = 8.0) -> Outcome:
    """
    Send one case on its own connection and read the answer. A forwarded case is followed by
    a probe request on the same connection; what the upstream recorded meanwhile is then
    attributed by marker and checked against the rule in docs/desync.md.
    """
    before = len(upstream.requests)
    conn = _Connection(port, context, timeout)
    try:
        conn.send(case.raw())
        reply = conn.response(case.method)
        probe: Reply | None = None
        if reply.status is not None and reply.status >= 400:
            reply.closed = reply.closed or conn.wait_closed()
        elif reply.status is not None:
            probe_id = f"{case.id}/probe".encode()
            if conn.send(b"GET " + PROBE_PATH + b" HTTP/1.1\r\nHost: localhost\r\n" + MARKER.encode()
                         + b": " + probe_id + b"\r\n\r\n"):
                probe = conn.response(b"GET")
            else:
                probe = Reply(None, [], b"", True)
    finally:
        conn.close()
    recorded = upstream.requests[before:]
    return classify(case, reply, probe, recorded)


def classify(case: Case, reply: Reply, probe: Reply | None,
             recorded: Sequence[dict[str, Any]]) -> Outcome:
    """The verdict for one case and every breach of the rule in docs/desync.md."""
    outcome = Outcome(case, reply)
    marker = {id(e): dict(e["headers"]).get(MARKER) for e in recorded}
    mine = [e for e in recorded if marker[id(e)] == case.id]
    probes = [e for e in recorded if marker[id(e)] == f"{case.id}/probe"]
    strays = [e for e in recorded if e not in mine and e not in probes]
    if strays:
        outcome.violations.append(
            f"{len(strays)} request(s) without this case's marker reached the upstream "
            f"(smuggled?): {[e['method'] + ' ' + e['path'] for e in strays]}")
    if len(mine) > 1:
        outcome.violations.append(f"forwarded {len(mine)} times")
    if case.tier == "Severe" and (mine or reply.status != 400 or not reply.closed):
        outcome.violations.append("a Severe case must be answered 400 with the connection "
                                  "closed and never forwarded")
    if not mine:
        if reply.status is None:
            outcome.verdict = "no-response"
            outcome.notes.append("connection closed without a response")
        else:
            outcome.verdict = "rejected"
            outcome.notes.append(f"{reply.status}" + (", connection closed" if reply.closed
                                                     else ", connection left open"))
        return outcome
    _check_forwarded(case, reply, mine[0], outcome)
    _check_probe(probe, probes, outcome)
    return outcome


def _check_probe(probe: Reply | None, probes: list[dict[str, Any]], outcome: Outcome) -> None:
    # After the response, the client's next request must be read as exactly that request:
    # otherwise stoad consumed a different number of bytes than the client framed.
    if probe is None or probe.status is None:
        if probes:
            outcome.violations.append("probe forwarded but never answered")
        outcome.notes.append("connection closed after the response")
        return
    ok = (probe.status == 200 and len(probes) == 1
          and probes[0]["path"] == PROBE_PATH.decode() and probes[0]["body_size"] == 0)
    if not ok:
        outcome.violations.append(f"probe on the same connection got {probe.status} and "
                                  f"reached the upstream {len(probes)} time(s)")
    else:
        outcome.notes.append("connection stays in sync (probe answered)")


def _check_forwarded(case: Case, reply: Reply, entry: dict[str, Any], outcome: Outcome) -> None:
    received = [(k, v) for k, v in entry["headers"]]
    # The forwarded message must have exactly one reading: its own Content-Length and nothing a
    # lenient next hop could take for framing, no header injection, a clean request target.
    framing = [(k, v) for k, v in received if framing_name(k) is not None]
    own = [("content-length", str(entry["body_size"]))]
    if framing not in ([], own, [("transfer-encoding", "chunked")]) or (
            not framing and entry["body_size"]):
        outcome.violations.append(f"forwarded framing {framing} for a {entry['body_size']}-byte "
                                  "body is not one plain Content-Length or chunked")
    for name, value in received:
        if not _TOKEN.match(name.encode("latin-1", "replace")):
            outcome.violations.append(f"header name {name!r} is not a token")
        if _DANGEROUS_IN_VALUE.search(value.encode("latin-1", "replace")):
            outcome.violations.append(f"header {name!r} carries NUL, CR or LF")
    target = entry["path"].encode("latin-1", "replace")
    if re.search(rb"[\x00-\x20\x7f#]", target):
        outcome.violations.append(f"forwarded request target {target!r} has whitespace, CTL or #")
    payload = case.declared_body()[1]
    if (entry["body_size"], entry["body_sha256"]) != (len(payload),
                                                       hashlib.sha256(payload).hexdigest()):
        outcome.violations.append(
            f"forwarded body of {entry['body_size']} bytes differs from the {len(payload)} "
            "bytes the client framed")
    if reply.status != 200:
        outcome.violations.append(f"client got {reply.status} for a forwarded request")

    # Unchanged or normalised: the client's message minus stoad's fixed header policy.
    changes = []
    if entry["method"].encode("latin-1") != case.method:
        changes.append(f"method {case.method!r} -> {entry['method']!r}")
    if target != case.uri:
        changes.append(f"target {case.uri.decode('latin-1')!r} -> "
                       f"{target.decode('latin-1')!r}")
    ignored = _ADDED_UPSTREAM | {MARKER}
    sent = sorted((n.decode("latin-1").lower(), v.decode("latin-1").strip(" \t"))
                  for n, v in case.headers
                  if not _policy_dropped(n.decode("latin-1").lower())
                  and n.decode("latin-1").lower() not in ignored)
    got = sorted((k, v.strip(" \t")) for k, v in received if k not in ignored)
    sent_by_name: dict[str, list[str]] = {}
    got_by_name: dict[str, list[str]] = {}
    for name, value in sent:
        sent_by_name.setdefault(name, []).append(value)
    for name, value in got:
        got_by_name.setdefault(name, []).append(value)
    for name in sorted(set(sent_by_name) | set(got_by_name)):
        before, after = sent_by_name.get(name), got_by_name.get(name)
        if before == after:
            continue
        if after is None:
            changes.append(f"header {name!r} not forwarded")
        elif before is None:
            changes.append(f"header {name!r} added")
        else:
            changes.append(f"header {name!r} value {_show(before)} arrived as {_show(after)}")
    dropped = sorted({n.decode("latin-1").lower() for n, _ in case.headers
                      if _policy_dropped(n.decode("latin-1").lower())})
    if dropped:
        outcome.notes.append("dropped by policy: " + ", ".join(dropped))
    if case.declared_body()[0] == CHUNKED_BODY:
        outcome.notes.append("chunked body re-framed with Content-Length")
    outcome.notes += changes
    outcome.verdict = "forwarded-normalised" if changes else "forwarded-unchanged"


def _show(values: list[str]) -> str:
    # Values are Latin-1 decoded wire bytes: show the bytes, escaped.
    return ", ".join(repr(v.encode("latin-1"))[1:] for v in values)


def run_file(filename: str, port: int, context: ssl.SSLContext, upstream: Any) -> list[Outcome]:
    return [run_case(case, port, context, upstream) for case in load_cases(filename)]


def failures(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per breached rule, naming the case."""
    return [f"{o.case.id} {o.case.name!r} ({o.case.tier}, {o.verdict}): {v}"
            for o in outcomes for v in o.violations]


def render_markdown(outcomes: dict[str, list[Outcome]]) -> str:
    """The per-case verdict tables of docs/desync.md."""
    out = []
    for filename, results in outcomes.items():
        counts: dict[str, int] = {}
        for o in results:
            counts[o.verdict] = counts.get(o.verdict, 0) + 1
        summary = ", ".join(f"{v}: {n}" for v, n in sorted(counts.items()))
        out += [f"### `{filename}` ({len(results)} cases; {summary})", "",
                "| # | case | corpus tier | verdict | details |", "|---|---|---|---|---|"]
        for o in results:
            details = "; ".join(o.notes + [f"**VIOLATION**: {v}" for v in o.violations])
            out.append(f"| {o.case.index} | {_cell(o.case.name)} | {o.case.tier} | {o.verdict} | "
                       f"{_cell(details)} |")
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text.replace("|", "\\|").replace("`", "\\`")
