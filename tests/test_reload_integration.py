"""Black-box tests of reload through the real daemon: a new configuration takes effect on every
worker as a whole, or not at all, and `stoad reload` says which."""

from __future__ import annotations

import threading

from tests.support.authgateway import AuthGatewayCase


class ReloadTakesEffectTests(AuthGatewayCase):
    def test_agent_removed_by_reload_is_refused_on_every_worker(self) -> None:
        """Removing agent-2 from the consumer registry and running `stoad reload` (exit 0)
        refuses agent-2's next calls on every worker, while agent-1 keeps working; every worker
        reports the new configuration hash and audits config_reloaded with it."""
        self.assertEqual(self.call("agent-2"), 200)
        before, _ = self.hashes()
        self.write_consumers("agent-1")
        result = self.stoad_reload()
        self.assertEqual(result.returncode, 0, result.stderr)
        after, workers = self.hashes()
        self.assertNotEqual(after, before)
        self.assertEqual(workers, [after, after])
        self.assertIn(f"serving configuration {after}", result.stdout)
        token = self.token("agent-2")
        self.assertEqual([self.call("agent-2", token) for _ in range(8)], [403] * 8)
        self.assertEqual(self.call("agent-1"), 200)
        events = self.wait_for_audit("config_reloaded", 2)
        self.assertEqual({(e["worker"], e["config_hash"], e["previous_config_hash"])
                          for e in events}, {(0, after, before), (1, after, before)})

    def test_in_flight_request_finishes_on_the_runtime_it_started_on(self) -> None:
        """A request of agent-2 that is waiting for the upstream while agent-2 is removed by
        reload still gets its 200; agent-2's next request is refused."""
        results: list[int] = []
        token = self.token("agent-2")
        caller = threading.Thread(target=lambda: results.append(self.send(
            "GET", "/api/slow?seconds=30", "agent-2", token, timeout=60)[0]))
        caller.start()
        self.addCleanup(caller.join, 60)
        self.addCleanup(self.upstream.release.set)
        self.daemon.wait_until(lambda: any("/slow" in r["path"] for r in self.upstream.requests),
                               30, "the slow request at the upstream")
        self.write_consumers("agent-1")
        result = self.stoad_reload()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.call("agent-2", token), 403)
        self.upstream.release.set()
        caller.join(60)
        self.assertEqual(results, [200])

    def test_scope_tightened_by_reload_is_enforced(self) -> None:
        """Changing the route's scopes.GET from stoa:read to stoa:audit by reload refuses a
        stoa:read token and accepts a stoa:audit one."""
        read_token = self.token("agent-1", ("stoa:read",))
        self.assertEqual(self.call("agent-1", read_token), 200)
        self.daemon.write_config(self.config(get_scope="stoa:audit"))
        result = self.stoad_reload()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([self.call("agent-1", read_token) for _ in range(4)], [403] * 4)
        self.assertEqual(self.call("agent-1", self.token("agent-1", ("stoa:audit",))), 200)


class ReloadRefusedTests(AuthGatewayCase):
    def test_one_broken_file_changes_nothing_and_reload_exits_1(self) -> None:
        """A reload that removes agent-2 but also breaks the server key is refused as a whole:
        `stoad reload` exits 1 naming the key file, agent-2 is still served on every worker,
        the hashes are unchanged and each worker audits config_reload_failed."""
        before = self.hashes()
        self.write_consumers("agent-1")
        with open(self.pki["server-key"], "wb") as f:
            f.write(b"-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
        result = self.stoad_reload()
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("private_key", result.stderr)
        self.assertIn("refused", result.stderr)
        self.assertEqual(self.hashes(), before)
        self.assertEqual([self.call("agent-2") for _ in range(6)], [200] * 6)
        self.assertEqual(self.daemon.status()["state"], "ready")
        events = self.wait_for_audit("config_reload_failed", 2)
        self.assertEqual({e["config_hash"] for e in events}, {before[0]})
        self.assertTrue(all(any("private_key" in p for p in e["problems"]) for e in events))

    def test_invalid_ini_is_refused_with_every_problem(self) -> None:
        """An INI with an unknown key makes `stoad reload` exit 1 printing the problem as
        [section] key: problem; the old configuration keeps serving."""
        with open(self.daemon.config_path, "a", encoding="utf-8") as f:
            f.write("\n[limits]\nmax_bogus = 1\n")
        result = self.stoad_reload()
        self.assertEqual(result.returncode, 1)
        self.assertIn("[limits] max_bogus: unknown key", result.stderr)
        self.assertEqual(self.call("agent-1"), 200)

    def test_restart_only_key_is_refused_with_a_clear_message(self) -> None:
        """Changing [server] workers on reload is refused ("changes only on restart"), exit 1,
        and the daemon keeps its two workers."""
        self.daemon.write_config(self.config(workers=3))
        result = self.stoad_reload()
        self.assertEqual(result.returncode, 1)
        self.assertIn("[server] workers changes only on restart", result.stderr)
        self.assertEqual(len(self.daemon.status()["workers"]), 2)

    def test_reload_without_the_header_is_refused(self) -> None:
        """POST /_reload without X-Stoad-Reload (as a cross-site form would send it) is 403 and
        reloads nothing."""
        from stoad.daemon.admin_cli import UnixHTTPConnection

        before = self.hashes()
        self.write_consumers("agent-1")
        conn = UnixHTTPConnection(self.daemon.admin_socket)
        try:
            conn.request("POST", "/_reload", body=b"")
            self.assertEqual(conn.getresponse().status, 403)
        finally:
            conn.close()
        self.assertEqual(self.hashes(), before)
        self.assertEqual(self.call("agent-2"), 200)
