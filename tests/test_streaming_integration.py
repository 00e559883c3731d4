"""Bodies stream through the real daemon both ways: large uploads with bounded memory, and
server-sent events passed on as they happen."""

from __future__ import annotations

import hashlib
import json
import os
import time

from tests.test_daemon_integration import DaemonTestCase

UPLOAD_BYTES = 200 * 1024 * 1024


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


class StreamedUploadTests(DaemonTestCase):
    routes_extra = {"request_body": "stream", "timeout": "120s"}
    limits = {"max_body_bytes": "1g"}

    def test_200_mb_upload_streams_with_bounded_memory(self) -> None:
        """A 200 MB upload reaches the upstream intact while the worker's peak RSS grows by far
        less than the body (it is never held in memory)."""
        worker = self.daemon.worker_pids()[0]
        before = _peak_rss_kib(worker)
        block = os.urandom(1024 * 1024)
        digest = hashlib.sha256()

        def body():  # type: ignore[no-untyped-def]
            for _ in range(UPLOAD_BYTES // len(block)):
                digest.update(block)
                yield block

        conn = self.daemon.connection("agent-1", timeout=120)
        conn.request("POST", "/api/echo", body=body(),
                     headers={"Content-Length": str(UPLOAD_BYTES), "Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        echo = json.loads(response.read())
        conn.close()
        self.assertEqual(response.status, 200)
        self.assertEqual(echo["body_size"], UPLOAD_BYTES)
        self.assertEqual(echo["body_sha256"], digest.hexdigest())
        growth_mib = (_peak_rss_kib(worker) - before) / 1024
        self.assertLess(growth_mib, 64, f"worker peak RSS grew by {growth_mib:.0f} MiB")

    def test_chunked_upload_streams(self) -> None:
        """A chunked upload of unknown length is streamed upstream unchanged."""
        chunks = [os.urandom(70000) for _ in range(20)]
        conn = self.daemon.connection("agent-1", timeout=60)
        conn.request("PUT", "/api/echo", body=iter(chunks), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        echo = json.loads(conn.getresponse().read())
        conn.close()
        self.assertEqual(echo["body_sha256"], hashlib.sha256(b"".join(chunks)).hexdigest())

    def test_upload_over_the_limit_is_cut_off(self) -> None:
        """A streamed chunked body that passes max_body_bytes is stopped with 413 or a closed
        connection; the upstream never receives a complete body."""
        self.daemon.write_config(self.config().replace("max_body_bytes = 1g", "max_body_bytes = 1m"))
        self.daemon.reload()
        conn = self.daemon.connection("agent-1", timeout=60)
        try:
            conn.request("POST", "/api/echo", body=iter([b"a" * 65536] * 64), encode_chunked=True,
                         headers={"Transfer-Encoding": "chunked"})
            status = conn.getresponse().status
        except (ConnectionError, OSError):
            status = None
        conn.close()
        self.assertIn(status, (413, 502, None))
        self.assertFalse(any(r["body_size"] >= 4 * 1024 * 1024 for r in self.upstream.requests))


class ServerSentEventTests(DaemonTestCase):
    def test_events_are_passed_on_as_they_happen(self) -> None:
        """Each server-sent event reaches the client about when the upstream sent it, not when
        the stream ends."""
        conn = self.daemon.connection("agent-1", timeout=30)
        conn.request("GET", "/api/sse?events=4&gap=0.5")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        arrivals = []
        buffer = b""
        while len(arrivals) < 4:
            chunk = response.read1(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                arrivals.append((time.monotonic(), event))
        conn.close()
        self.assertEqual(len(arrivals), 4)
        # Events were sent 0.5 s apart; buffering the stream would deliver them together.
        gaps = [b[0] - a[0] for a, b in zip(arrivals, arrivals[1:], strict=False)]
        self.assertTrue(all(gap > 0.25 for gap in gaps), gaps)
