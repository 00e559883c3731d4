"""config_reloaded / config_reload_failed: the reload outcome as an audit event."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._event import build_config_event, finish_event
from stoad.audit.cli import _line


class ConfigEventTests(SynchronousTestCase):
    def test_reloaded_event_names_both_hashes(self) -> None:
        """A config_reloaded event carries the new and the previous hash and the worker, and
        keeps its shape through the writer's finishing step."""
        event = finish_event(build_config_event("config_reloaded", "new", "old", [], 1.5, 3), None)
        self.assertEqual((event["event_type"], event["config_hash"], event["previous_config_hash"],
                          event["worker"], event["problems"]),
                         ("config_reloaded", "new", "old", 3, []))

    def test_failed_event_keeps_bounded_problems(self) -> None:
        """A config_reload_failed event lists at most 20 problems of at most 300 characters."""
        event = build_config_event("config_reload_failed", "live", "live",
                                   ["[tls] " + "x" * 500] * 30, 0.0, 0)
        self.assertEqual(len(event["problems"]), 20)
        self.assertEqual(len(event["problems"][0]), 300)

    def test_other_kinds_are_refused(self) -> None:
        """Only the two configuration event kinds can be built."""
        self.assertRaises(ValueError, build_config_event, "alert", "h", None, [], 0.0, 0)

    def test_audit_show_prints_it(self) -> None:
        """stoad audit show prints the event type and both hashes."""
        event = finish_event(build_config_event("config_reload_failed", "aa", "aa", ["[tls] bad"],
                                                0.0, 0), None)
        line = _line({**event, "seq": 7})
        self.assertIn("CONFIG_RELOAD_FAILED config=aa previous=aa", line)
