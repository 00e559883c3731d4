"""A real HTTP upstream for black-box tests, in a thread of the test process.

Paths: C{/echo...} answers JSON describing the request it got (method, path, headers, body
sha256 and size); C{/set-cookie} sets a cookie; C{/slow?seconds=N} waits before answering;
C{/sse?events=N&gap=S} streams N server-sent events S seconds apart; C{/status/NNN} answers
that status; C{/body} answers the body set with C{respond_with}. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Upstream:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.body = b"{}"
        self.content_type = "application/json"
        self.extra_headers: list[tuple[str, str]] = []
        self.release = threading.Event()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # head and body are separate writes

            def log_message(self, *args: Any) -> None:
                pass

            def _read_body(self) -> _Body:
                length = self.headers.get("Content-Length")
                if length is not None:
                    return _read_exactly(self.rfile, int(length))
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    return _read_chunked(self.rfile)
                return _Body()

            def _record(self, body: _Body) -> dict[str, Any]:
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "headers": [(k.lower(), v) for k, v in self.headers.items()],
                    "body_size": body.size,
                    "body_sha256": body.digest.hexdigest(),
                    "body": body.data,
                    "time": time.monotonic(),
                }
                upstream.requests.append(entry)
                return entry

            def _send(self, status: int, body: bytes, content_type: str = "application/json",
                      headers: list[tuple[str, str]] = ()) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_any(self) -> None:
                body = self._read_body()
                entry = self._record(body)
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                path = url.path
                if path.startswith("/set-cookie") or path.endswith("/set-cookie"):
                    self._send(200, b"{}", headers=[("Set-Cookie", "session=secret-of-first-caller; Path=/")])
                elif "/slow" in path:
                    seconds = float(query.get("seconds", ["5"])[0])
                    upstream.release.wait(seconds)
                    self._send(200, b'{"slow": true}')
                elif "/sse" in path:
                    self._sse(int(query.get("events", ["3"])[0]), float(query.get("gap", ["0.2"])[0]))
                elif "/status/" in path:
                    self._send(int(path.rsplit("/", 1)[1]), b'{"status": "from upstream"}')
                elif "/body" in path:
                    self._send(200, upstream.body, upstream.content_type, upstream.extra_headers)
                else:
                    echo = {k: v for k, v in entry.items() if k not in ("body", "time")}
                    self._send(200, json.dumps(echo).encode("utf-8"))

            def _sse(self, events: int, gap: float) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for i in range(events):
                    self.wfile.write(f"id: {i}\ndata: {{\"n\": {i}, \"t\": {time.monotonic()}}}\n\n".encode())
                    self.wfile.flush()
                    if i + 1 < events:
                        time.sleep(gap)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def respond_with(self, body: bytes, content_type: str = "application/json",
                     headers: list[tuple[str, str]] | None = None) -> None:
        self.body, self.content_type, self.extra_headers = body, content_type, headers or []

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _read_exactly(stream: Any, size: int) -> _Body:
    """Read a body, keeping only its digest when large (a 200 MB upload stays out of memory)."""
    body = _Body()
    remaining = size
    while remaining:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            break
        remaining -= len(chunk)
        body.add(chunk)
    return body


class _Body:
    def __init__(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()
        self.chunks: list[bytes] | None = []

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.digest.update(chunk)
        if self.chunks is not None:
            self.chunks.append(chunk)
            if self.size > 65536:
                self.chunks = None

    @property
    def data(self) -> bytes | None:
        return b"".join(self.chunks) if self.chunks is not None else None


def _read_chunked(stream: Any) -> _Body:
    body = _Body()
    while True:
        line = stream.readline().strip()
        size = int(line.split(b";")[0], 16)
        if size == 0:
            stream.readline()
            return body
        body.add(stream.read(size))
        stream.readline()
