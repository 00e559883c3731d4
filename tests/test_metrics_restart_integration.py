"""/metrics of the real daemon across a worker restart: counters merged from every worker never
go down when one is killed and replaced."""

from __future__ import annotations

import os
import re
import signal

from tests.test_daemon_integration import DaemonTestCase


class MetricsAcrossRestartTests(DaemonTestCase):
    workers = 2

    def requests_total(self) -> float:
        text = self.daemon.metrics()
        match = re.search(r'^stoad_requests_total\{route="api",status="200"\} (\S+)$', text,
                          re.MULTILINE)
        self.assertIsNotNone(match, text[-2000:])
        assert match is not None
        return float(match.group(1))

    def test_killed_worker_counts_stay_in_the_totals(self) -> None:
        """Requests counted by a worker that is then SIGKILLed stay in stoad_requests_total
        after its replacement starts, and the replacement's requests add on top."""
        for _ in range(10):
            self.assertEqual(self.daemon.request("GET", "/api/echo")[0], 200)
        before = self.requests_total()
        self.assertEqual(before, 10)
        pids = self.daemon.worker_pids()
        os.kill(pids[0], signal.SIGKILL)

        def replaced() -> bool:
            workers = (self.daemon.status() or {}).get("workers", [])
            return (len(workers) == 2 and workers[0]["pid"] != pids[0]
                    and all(w["state"] == "ready" for w in workers))

        self.daemon.wait_until(replaced, 30, "worker replaced")
        self.assertEqual(self.requests_total(), before)
        for _ in range(3):
            self.assertEqual(self.daemon.request("GET", "/api/echo")[0], 200)
        self.assertEqual(self.requests_total(), before + 3)
