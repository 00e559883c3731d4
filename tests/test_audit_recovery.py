"""A tail that cannot be cut: signed heads, crash recovery, key rotation and retention."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from twisted.trial.unittest import TestCase

from stoad.audit._chain import CHECKPOINTS, HEAD, ChainReader, key_id, load_private_key, log_files
from stoad.audit._event import build_decision_event, build_request_event
from stoad.audit._writer import AuditChainWriter
from tests.support import kafka
from tests.support.audit import context, run_cli, write_key


class RecoveryFixture(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key_path = write_key(self.base)
        self.directory = os.path.join(self.base, "audit", "worker-0")

    def writer(self, key_path: str | None = None, directory: str | None = None,
               **options: Any) -> AuditChainWriter:
        writer = AuditChainWriter(directory or self.directory,
                                  load_private_key(key_path or self.key_path),
                                  fsync_interval=0.005, **options)
        writer.open()
        writer.start()
        self.addCleanup(writer.close, 5.0)
        return writer

    def requests(self, writer: AuditChainWriter, start: int, count: int) -> None:
        for n in range(start, start + count):
            writer.append(*build_request_event(context(n), 1_700_000_001.0, 0))
        self.assertTrue(writer.wait_durable(10.0))

    def crash_copy(self, writer: AuditChainWriter) -> str:
        """The folder as a SIGKILL would leave it now (the writer keeps running on the original)."""
        copy = os.path.join(self.base, "crashed", "worker-0")
        shutil.copytree(writer.directory, copy)
        return copy

    def verify(self, directory: str, *keys: str, allow_unsigned_tail: bool = False) -> Any:
        paths = keys or (self.key_path,)
        reader = ChainReader(directory, [load_private_key(k).public_key() for k in paths],
                             allow_unsigned_tail=allow_unsigned_tail)
        return reader.verify()

    def records(self, directory: str) -> list[dict[str, Any]]:
        out = []
        for _, name in log_files(directory):
            with open(os.path.join(directory, name), "rb") as f:
                out += [json.loads(line) for line in f]
        return out


class SignedHeadTests(RecoveryFixture):
    def test_every_group_signs_the_head(self) -> None:
        """After each group commit head.json signs the newest durable record: no unsigned tail."""
        writer = self.writer(checkpoint_interval=3600.0)
        self.requests(writer, 0, 5)
        self.requests(writer, 5, 5)
        with open(os.path.join(self.directory, HEAD), "rb") as f:
            head = json.loads(f.read())
        self.assertEqual((head["seq"], head["hash"]), (writer.durable_seq, writer.durable_hash))
        report = self.verify(self.crash_copy(writer))
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(report.unsigned_tail, 0)

    def test_truncating_the_newest_record_is_caught(self) -> None:
        """Cutting the newest record off (with no checkpoint since) fails verification."""
        writer = self.writer(checkpoint_interval=3600.0)
        self.requests(writer, 0, 5)
        self.requests(writer, 5, 5)
        copy = self.crash_copy(writer)
        path = os.path.join(copy, log_files(copy)[-1][1])
        with open(path, "rb") as f:
            lines = f.readlines()
        with open(path, "wb") as f:
            f.writelines(lines[:-1])
        report = self.verify(copy)
        self.assertFalse(report.ok)
        self.assertIn("records were removed or the tail truncated", report.errors[0])
        code, out, _ = run_cli("audit", "verify", "--key", self.key_path, copy)
        self.assertEqual(code, 1)

    def test_removed_head_is_an_unsigned_tail(self) -> None:
        """Without head.json the records after the last checkpoint fail, unless allowed."""
        writer = self.writer(checkpoint_interval=3600.0)
        self.requests(writer, 0, 5)
        self.requests(writer, 5, 5)
        copy = self.crash_copy(writer)
        os.remove(os.path.join(copy, HEAD))
        report = self.verify(copy)
        self.assertFalse(report.ok)
        self.assertIn("not covered by any signature", report.errors[0])
        code, out, _ = run_cli("audit", "verify", "--key", self.key_path, copy)
        self.assertEqual(code, 1)
        code, out, _ = run_cli("audit", "verify", "--allow-unsigned-tail", "--key",
                               self.key_path, copy)
        self.assertEqual(code, 0, out)
        self.assertIn("UNSIGNED TAIL of", out)


class CrashRecoveryTests(RecoveryFixture):
    def test_open_decisions_get_incomplete_completions(self) -> None:
        """Start-up after a crash closes each decision without completion as incomplete."""
        writer = self.writer()
        open_ids = []
        for n in range(3):
            event, source = build_decision_event(context(n, status=None, outcome=None), 0)
            open_ids.append(event["event_id"])
            writer.append(event, source, urgent=True)
        self.requests(writer, 10, 2)
        copy = self.crash_copy(writer)
        restarted = self.writer(directory=copy)
        self.assertEqual(restarted.recovered_incomplete, 3)
        restarted.close(5.0)
        completions = [r for r in self.records(copy) if r.get("record_type") == "completion"]
        self.assertEqual(sorted(r["decision_event_id"] for r in completions), sorted(open_ids))
        self.assertEqual({(r["outcome"], r["reason"]) for r in completions},
                         {("incomplete", "worker_died")})
        report = self.verify(copy)
        self.assertTrue(report.ok, report.errors)
        # A second start finds nothing left open.
        again = self.writer(directory=copy)
        self.assertEqual(again.recovered_incomplete, 0)

    def test_an_older_head_still_counts_for_what_it_signed(self) -> None:
        """A head naming an earlier, unchanged record: only the records after it are recovered."""
        writer = self.writer(checkpoint_interval=3600.0)
        self.requests(writer, 0, 5)
        self.requests(writer, 5, 5)
        self.patch(writer, "_write_head", lambda seq, digest: None)
        self.requests(writer, 10, 3)
        restarted = self.writer(directory=self.crash_copy(writer))
        self.assertEqual(restarted.recovered_unsigned, 3)

    def test_unsigned_tail_is_signed_as_recovered_not_as_before(self) -> None:
        """
        Records the crash left after the last signature are signed at recovery by a checkpoint
        that says so (recovered_after): never counted as covered by an earlier signature.
        """
        writer = self.writer(checkpoint_interval=3600.0)
        self.requests(writer, 0, 5)
        self.patch(writer, "_write_head", lambda seq, digest: None)  # the crash lands before the head
        self.requests(writer, 5, 4)
        copy = self.crash_copy(writer)
        self.assertFalse(self.verify(copy).ok)
        restarted = self.writer(directory=copy)
        self.assertEqual(restarted.recovered_unsigned, 4)
        self.requests(restarted, 100, 3)
        restarted.close(5.0)
        with open(os.path.join(copy, CHECKPOINTS), "rb") as f:
            recovered = [json.loads(line) for line in f if b"recovered_after" in line]
        self.assertEqual([(p["recovered_after"], p["recovered_through"]) for p in recovered],
                         [(5, 9)])
        report = self.verify(copy)
        self.assertTrue(report.ok, report.errors)
        self.assertEqual((report.recovered, report.unsigned_tail), (4, 0))
        code, out, _ = run_cli("audit", "verify", "--key", self.key_path, copy)
        self.assertIn("4 records signed only at crash recovery", out)


class KeyRotationTests(RecoveryFixture):
    def test_rotation_is_on_record_and_verifies_with_both_keys(self) -> None:
        """A new signing key: a key_rotation record; verify needs both keys, trusted, to pass."""
        writer = self.writer()
        self.requests(writer, 0, 5)
        writer.close(5.0)
        new_key = write_key(self.base, "new.key")
        rotated = self.writer(key_path=new_key)
        self.requests(rotated, 5, 5)
        rotated.close(5.0)
        old_id = key_id(load_private_key(self.key_path).public_key())
        new_id = key_id(load_private_key(new_key).public_key())
        (rotation,) = [r for r in self.records(self.directory) if r["event_type"] == "key_rotation"]
        self.assertEqual((rotation["from_key_id"], rotation["to_key_id"]), (old_id, new_id))
        report = self.verify(self.directory, self.key_path, new_key)
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(report.rotations, 1)
        only_new = self.verify(self.directory, new_key)
        self.assertFalse(only_new.ok)
        self.assertIn("not among the trusted public keys", only_new.errors[0])


class RetentionTests(RecoveryFixture):
    def fill(self, **options: Any) -> AuditChainWriter:
        writer = self.writer(rotate_size=4096, fsync_batch=8, **options)
        for n in range(0, 160, 8):
            self.requests(writer, n, 8)
        self.assertGreater(len(log_files(self.directory)), 4)
        return writer

    def test_removes_shipped_files_and_still_verifies_from_an_anchor(self) -> None:
        """Files over retain_size that were shipped go; the rest verifies from a signed anchor."""
        writer = self.fill(retain_size=8192, shipped_seq=lambda: 10**9)
        before = len(log_files(self.directory))
        writer.request_retention()
        kafka.wait_for(lambda: writer.removed_files, 10.0, "retention to remove files")
        self.requests(writer, 1000, 1)
        writer.close(5.0)
        removed = writer.removed_files
        kept = [name for _, name in log_files(self.directory)]
        self.assertEqual(set(kept) & set(removed), set())
        self.assertLess(len(kept), before)
        report = self.verify(self.directory)
        self.assertTrue(report.ok, report.errors)
        self.assertGreater(report.first_seq, 1)
        # The removal that made the oldest kept file the first is on record (earlier removal
        # records may have gone with later-removed files).
        kinds = [r for r in self.records(self.directory) if r["event_type"] == "retention"]
        self.assertIn(report.first_seq - 1, [r["last_seq"] for r in kinds])
        self.assertLessEqual({r["file"] for r in kinds}, set(removed))
        code, out, _ = run_cli("audit", "verify", "--key", self.key_path, self.directory)
        self.assertEqual(code, 0, out)
        self.assertIn("older files removed by retention", out)

    def test_keeps_files_not_yet_shipped(self) -> None:
        """A file whose records Kafka has not acknowledged is never removed."""
        writer = self.fill(retain_size=4096, shipped_seq=lambda: 0)
        writer.close(5.0)
        self.assertEqual(writer.apply_retention(), [])
