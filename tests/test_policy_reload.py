"""Hot reload: a new engine swapped in whole, a broken one never, and the watcher that asks."""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from stoad.policy import ALLOW, PolicyLoadError, PolicySettings
from stoad.runtime.deny import Deny
from tests.support.policy import ALLOW_ALL, DENY_ALL, PolicyDirectory, identity, layer, request


class ReloadTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = PolicyDirectory({"authz.rego": ALLOW_ALL})
        self.addCleanup(self.directory.cleanup)
        self.clock = Clock()
        self.layer, self.services, self.alerts = layer(self.directory.path, clock=self.clock)
        self.addCleanup(self.layer.stop_watching)

    def allowed(self) -> bool:
        try:
            self.layer.on_request(request(who=identity()))
        except Deny:
            return False
        return True

    def metric(self, outcome: str) -> float | None:
        return self.services.metrics.registry.get_sample_value(
            "stoad_policy_reloads_total", {"outcome": outcome})

    def test_reload_swaps_in_new_decisions_and_version(self) -> None:
        """After a good reload the new policy decides and the version changes."""
        before = self.layer.version
        self.directory.write("authz.rego", DENY_ALL)
        self.layer.reload(self.layer.settings)
        self.assertFalse(self.allowed())
        self.assertNotEqual(self.layer.version, before)
        self.assertEqual(self.metric("ok"), 1.0)

    def test_reload_with_broken_policy_keeps_serving_old_decisions(self) -> None:
        """A reload that does not compile raises; the old engine and version keep serving."""
        before = self.layer.version
        self.directory.write("authz.rego", "package stoa.authz\ndecision if {\n")
        with self.assertRaises(PolicyLoadError):
            self.layer.reload(self.layer.settings)
        self.assertTrue(self.allowed())
        ctx = request(who=identity())
        self.layer.on_request(ctx)
        self.assertEqual((ctx.policy_result, ctx.policy_version), (ALLOW, before))

    def test_failed_reload_is_counted_and_alerted(self) -> None:
        """A failed reload counts in stoad_policy_reloads_total and emits a high alert."""
        self.directory.write("extra.json", "[]")
        self.assertRaises(PolicyLoadError, self.layer.reload, self.layer.settings)
        self.assertEqual(self.metric("failed"), 1.0)
        self.assertEqual(len(self.alerts), 1)
        kind, severity, ctx, details = self.alerts[0]
        self.assertEqual((kind, severity, ctx), ("policy_reload_failed", "high", None))
        self.assertIn("extra.json", details["error"])

    def test_reload_takes_new_settings(self) -> None:
        """SIGHUP hands the re-parsed settings: a new query is used from then on."""
        self.directory.write("other.rego", DENY_ALL.replace("stoa.authz", "stoa.other"))
        self.layer.reload(PolicySettings(directory=self.directory.path,
                                         query="data.stoa.other.decision"))
        self.assertFalse(self.allowed())

    def test_reload_to_missing_query_is_refused(self) -> None:
        """New settings whose query names no rule keep the old state."""
        with self.assertRaises(PolicyLoadError):
            self.layer.reload(PolicySettings(directory=self.directory.path,
                                             query="data.stoa.nothing.decision"))
        self.assertTrue(self.allowed())

    def test_usage_survives_reload(self) -> None:
        """Usage counters live in the shared store, not the engine: a reload does not reset them."""
        self.assertTrue(self.allowed())
        self.layer.reload(self.layer.settings)
        self.assertEqual(self.layer.store.usage.view("acme-support", None, 0)["calls_60s"], 1)


class WatcherTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = PolicyDirectory({"authz.rego": ALLOW_ALL})
        self.addCleanup(self.directory.cleanup)
        self.clock = Clock()
        self.layer, self.services, self.alerts = layer(
            self.directory.path, clock=self.clock, watch_interval=2.0)
        self.addCleanup(self.layer.stop_watching)

    def touch(self, name: str, text: str) -> None:
        self.directory.write(name, text)
        # mtime granularity can hide a quick rewrite; the size and a later mtime make it visible
        full = os.path.join(self.directory.path, name)
        stat = os.stat(full)
        os.utime(full, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    def test_watcher_reloads_a_changed_directory(self) -> None:
        """Within one interval of a change the new policy decides."""
        before = self.layer.version
        self.touch("authz.rego", DENY_ALL)
        self.clock.advance(2.0)
        self.assertNotEqual(self.layer.version, before)
        self.assertRaises(Deny, self.layer.on_request, request(who=identity()))

    def test_watcher_keeps_old_policy_on_broken_change_and_alerts_once(self) -> None:
        """A broken edit keeps the old engine; it is alerted once, not on every tick."""
        before = self.layer.version
        self.touch("authz.rego", "package stoa.authz\ndecision if {\n")
        self.clock.advance(2.0)
        self.clock.advance(2.0)
        self.clock.advance(2.0)
        self.assertEqual(self.layer.version, before)
        self.assertEqual(len(self.alerts), 1)
        self.layer.on_request(request(who=identity()))
        self.touch("authz.rego", DENY_ALL)
        self.clock.advance(2.0)
        self.assertNotEqual(self.layer.version, before)

    def test_unchanged_directory_is_not_reloaded(self) -> None:
        """Ticks without a change do not recompile."""
        self.clock.advance(10.0)
        self.assertEqual(self.services.metrics.registry.get_sample_value(
            "stoad_policy_reloads_total", {"outcome": "ok"}), 0.0)

    def test_new_file_is_noticed(self) -> None:
        """Adding a file counts as a change."""
        before = self.layer.version
        self.touch("extra.json", '{"x": 1}')
        self.clock.advance(2.0)
        self.assertNotEqual(self.layer.version, before)
