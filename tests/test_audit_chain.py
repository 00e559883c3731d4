"""The on-disk chain: group commit, rotation, restart, signed checkpoints, and tamper detection."""

from __future__ import annotations

import base64
import json
import os
import shutil

from twisted.trial.unittest import TestCase

from stoad.audit._canonical import canonical
from stoad.audit._chain import (
    CHECKPOINTS,
    HEAD,
    ChainReader,
    HeadSigner,
    load_private_key,
    log_files,
    sign_checkpoint,
)
from stoad.audit._event import build_alert_event, build_request_event
from stoad.audit._writer import AuditChainWriter
from tests.support.audit import context, run_cli, write_key


class ChainFixture(TestCase):
    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.key_path = write_key(self.base)
        self.key = load_private_key(self.key_path)
        self.directory = os.path.join(self.base, "audit", "worker-0")

    def writer(self, **options: object) -> AuditChainWriter:
        writer = AuditChainWriter(self.directory, self.key, fsync_interval=0.005, **options)
        writer.open()
        writer.start()
        self.addCleanup(writer.close, 5.0)
        return writer

    def write(self, count: int, start: int = 0, **options: object) -> AuditChainWriter:
        writer = self.writer(**options)
        for n in range(start, start + count):
            event, source = build_request_event(context(n, arguments={"n": n}), 1_700_000_001.0, 0)
            writer.append(event, source)
        self.assertTrue(writer.wait_durable(10.0))
        writer.close(5.0)
        return writer

    def verify(self) -> ChainReader:
        reader = ChainReader(self.directory, self.key.public_key())
        reader.verify()
        return reader

    def files(self) -> list[str]:
        return [os.path.join(self.directory, name) for _, name in log_files(self.directory)]

    def lines(self, path: str) -> list[bytes]:
        with open(path, "rb") as f:
            return f.read().splitlines(keepends=True)

    def rewrite(self, path: str, lines: list[bytes]) -> None:
        with open(path, "wb") as f:
            f.writelines(lines)

    def assertBroken(self, *fragments: str) -> str:
        report = self.verify().report
        self.assertFalse(report.ok, "tampering went unnoticed")
        for fragment in fragments:
            self.assertIn(fragment, report.errors[0])
        code, out, _ = run_cli("audit", "verify", "--key", self.key_path, self.directory)
        self.assertEqual(code, 1)
        self.assertIn("FAILED", out)
        return report.errors[0]


class WriterTests(ChainFixture):
    def test_records_chain_and_verify(self) -> None:
        """Every appended event becomes one record; seq and prev_hash link; the chain verifies."""
        self.write(300)
        report = self.verify().report
        self.assertTrue(report.ok, report.errors)
        self.assertEqual((report.records, report.last_seq, report.unsigned_tail), (300, 300, 0))
        first = json.loads(self.lines(self.files()[0])[0])
        self.assertEqual((first["seq"], first["prev_hash"]), (1, "0" * 64))
        second = json.loads(self.lines(self.files()[0])[1])
        self.assertEqual(second["prev_hash"], first["hash"])
        self.assertTrue(first["parameters_hash"].startswith("sha256:"))

    def test_rotation_continues_chain(self) -> None:
        """Rotated files are named by their first seq and the chain runs on across them."""
        writer = self.writer(rotate_size=4096, fsync_batch=8)
        for n in range(200):
            writer.append(*build_request_event(context(n), 1_700_000_001.0, 0))
            if n % 8 == 7:
                self.assertTrue(writer.wait_durable(10.0))
        writer.close(5.0)
        files = self.files()
        self.assertGreater(len(files), 3)
        report = self.verify().report
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(report.records, 200)
        for path in files[1:]:
            first = json.loads(self.lines(path)[0])
            self.assertTrue(path.endswith(f"audit-{first['seq']:020d}.jsonl"))

    def test_restart_continues_chain(self) -> None:
        """A new writer on the same folder continues the sequence and the hash chain."""
        self.write(50)
        self.write(50, start=50)
        report = self.verify().report
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(report.records, 100)

    def test_torn_record_cut_off_on_restart(self) -> None:
        """A half-written last record (crash mid-write) is cut off when the writer opens."""
        self.write(10)
        path = self.files()[-1]
        with open(path, "ab") as f:
            f.write(b'{"seq":11,"prev_')
        writer = self.write(5, start=10)
        self.assertEqual(writer.repaired_bytes, len(b'{"seq":11,"prev_'))
        report = self.verify().report
        self.assertTrue(report.ok, report.errors)
        self.assertEqual(report.records, 15)

    def test_fsync_every(self) -> None:
        """With fsync = every, the writer commits as soon as an event arrives."""
        writer = self.writer(fsync_every=True)
        writer._interval = 30.0  # only the wake-up on append can make it durable in time
        writer.append(*build_request_event(context(1), 1_700_000_001.0, 0))
        self.assertTrue(writer.wait_durable(5.0))
        self.assertEqual(writer.durable_seq, 1)

    def test_alert_events_in_chain(self) -> None:
        """Alert events are records of the same chain."""
        writer = self.writer()
        writer.append(build_alert_event("audit_backlog", "warning", None, {"backlog": 5}, 1.0, 0))
        self.assertTrue(writer.wait_durable(5.0))
        writer.close(5.0)
        record = json.loads(self.lines(self.files()[0])[0])
        self.assertEqual((record["event_type"], record["details"]), ("alert", {"backlog": 5}))


    def test_head_is_what_sign_checkpoint_makes(self) -> None:
        """
        The head signed after each group (built from its fields' fixed order) is byte for byte
        the canonical signed point L{sign_checkpoint} makes, also for a chain or file name that
        JSON must escape; a value that would need escaping where none is done is refused.
        """
        timestamp = "2026-05-04T12:34:56.789Z"
        for chain in ("worker-0", 'odd "chain" \\ \u00e9\u2028\U0001f600'):
            signer = HeadSigner(self.key, chain)
            for seq, file in ((1, "audit-00000000000000000001.jsonl"), (2**53 - 1, 'x"\n.jsonl')):
                digest = f"{seq:064x}"
                self.assertEqual(signer.line(seq, digest, file, timestamp),
                                 sign_checkpoint(self.key, seq, digest, file, timestamp,
                                                 chain=chain))
        signer = HeadSigner(self.key, "worker-0")
        for seq, digest, stamp in ((2**53, "a" * 64, timestamp), (True, "a" * 64, timestamp),
                                   (1, 'a"' * 32, timestamp), (1, "a" * 64, 'x"y')):
            self.assertRaises(ValueError, signer.line, seq, digest, "f.jsonl", stamp)

    def test_head_signed_after_every_group(self) -> None:
        """head.json names the newest durable record after each group, signed and verifying."""
        writer = self.writer()
        for n in range(3):
            writer.append(*build_request_event(context(n), 1_700_000_001.0, 0), urgent=True)
            self.assertTrue(writer.wait_durable(5.0))
            with open(os.path.join(self.directory, HEAD), "rb") as f:
                head = json.loads(f.read())
            self.assertEqual((head["seq"], head["hash"]), (writer.durable_seq, writer.durable_hash))
            self.assertEqual(head["seq"], n + 1)
            signature = base64.urlsafe_b64decode(head.pop("signature") + "==")
            self.key.public_key().verify(signature, canonical(head))  # raises if it is not

    def test_wake_is_not_lost(self) -> None:
        """
        A wake-up given while the writer is busy (or several given at once) makes its next wait
        return at once, exactly once; with none given the wait times out.
        """
        writer = AuditChainWriter(self.directory, self.key)
        wake = writer._wake
        self.assertFalse(wake.wait(0.0))
        wake.set()
        wake.set()
        self.assertTrue(wake.wait(5.0))
        self.assertFalse(wake.wait(0.01))


class TamperTests(ChainFixture):
    def setUp(self) -> None:
        super().setUp()
        writer = self.writer(rotate_size=4096, fsync_batch=8)
        for n in range(120):
            writer.append(*build_request_event(context(n), 1_700_000_001.0, 0))
            if n % 8 == 7:
                self.assertTrue(writer.wait_durable(10.0))
        writer.close(5.0)
        self.assertGreaterEqual(len(self.files()), 3)
        self.assertTrue(self.verify().report.ok)

    def test_edited_byte(self) -> None:
        """Changing one byte of a record (even keeping valid JSON) names that record."""
        path = self.files()[1]
        lines = self.lines(path)
        lines[2] = lines[2].replace(b'"status":200', b'"status":201')
        self.rewrite(path, lines)
        error = self.assertBroken(f"{path}:3", "hash does not match")
        self.assertIn("seq", error)

    def test_edited_hash_too(self) -> None:
        """Editing a record and recomputing its hash breaks the link to the next record."""
        import hashlib

        from stoad.audit._canonical import canonical

        path = self.files()[0]
        lines = self.lines(path)
        record = json.loads(lines[3])
        record["outcome"] = "denied"
        del record["hash"]
        record["hash"] = hashlib.sha256(canonical(record)).hexdigest()
        lines[3] = canonical(record) + b"\n"
        self.rewrite(path, lines)
        self.assertBroken(f"{path}:5", "prev_hash")

    def test_whitespace_edit(self) -> None:
        """Reformatting a record (same JSON value) is still caught: lines must be canonical."""
        path = self.files()[0]
        lines = self.lines(path)
        lines[0] = lines[0].replace(b'{"', b'{ "', 1)
        self.rewrite(path, lines)
        self.assertBroken(f"{path}:1", "canonical")

    def test_deleted_record(self) -> None:
        """Removing a record from the middle names the record after the gap."""
        path = self.files()[1]
        lines = self.lines(path)
        del lines[1]
        self.rewrite(path, lines)
        self.assertBroken(f"{path}:2", "seq")

    def test_reordered_records(self) -> None:
        """Swapping two records is caught at the first one out of place."""
        path = self.files()[0]
        lines = self.lines(path)
        lines[4], lines[5] = lines[5], lines[4]
        self.rewrite(path, lines)
        self.assertBroken(f"{path}:5")

    def test_truncated_tail(self) -> None:
        """Cutting the last file in the middle of a record is caught."""
        path = self.files()[-1]
        with open(path, "rb+") as f:
            f.truncate(os.path.getsize(path) - 7)
        self.assertBroken(path, "truncated")

    def test_tail_records_removed(self) -> None:
        """Removing whole records at the end is caught by the signed checkpoint of the head."""
        path = self.files()[-1]
        self.rewrite(path, self.lines(path)[:-2])
        self.assertBroken(CHECKPOINTS, "log ends at seq 118")

    def test_dropped_middle_file(self) -> None:
        """Deleting a whole file from the middle names the missing records."""
        os.remove(self.files()[1])
        self.assertBroken("missing")

    def test_dropped_first_file(self) -> None:
        """Deleting the first file is caught: the chain must start at seq 1."""
        os.remove(self.files()[0])
        self.assertBroken("records 1..", "no retention record")

    def test_dropped_last_file(self) -> None:
        """Deleting the newest file is caught by the checkpoint that signed its records."""
        os.remove(self.files()[-1])
        self.assertBroken(CHECKPOINTS, "records were removed")

    def test_bad_checkpoint_signature(self) -> None:
        """A checkpoint whose signature does not verify (forged or edited) is caught."""
        path = os.path.join(self.directory, CHECKPOINTS)
        lines = self.lines(path)
        point = json.loads(lines[-1])
        point["timestamp"] = "2000-01-01T00:00:00.000Z"
        lines[-1] = json.dumps(point, separators=(",", ":")).encode() + b"\n"
        self.rewrite(path, lines)
        self.assertBroken("bad signature")

    def test_wrong_key(self) -> None:
        """Checkpoints signed by another key (an attacker re-signing) do not verify."""
        other = write_key(self.base, "other.key")
        code, out, _ = run_cli("audit", "verify", "--key", other, self.directory)
        self.assertEqual(code, 1)
        self.assertIn("not among the trusted public keys", out)

    def test_checkpoints_removed(self) -> None:
        """Deleting the checkpoint file leaves the chain unsigned, which does not verify."""
        os.remove(os.path.join(self.directory, CHECKPOINTS))
        self.assertBroken("no signed checkpoint")

    def test_renamed_files_reordered(self) -> None:
        """Swapping the names of two files is caught."""
        a, b = self.files()[0], self.files()[1]
        shutil.move(a, a + ".tmp")
        shutil.move(b, a)
        shutil.move(a + ".tmp", b)
        self.assertBroken()


class CommandLineTests(ChainFixture):
    def setUp(self) -> None:
        super().setUp()
        writer = self.writer()
        for n in range(6):
            ctx = context(n, consumer="acme" if n % 2 else "globex")
            if n == 3:
                ctx.outcome, ctx.denied_by, ctx.reason, ctx.status = "denied", "policy", "opa: deny", 403
            writer.append(*build_request_event(ctx, 1_700_000_001.0, 0))
        writer.append(build_alert_event("guardrail_block", "warning", None, {}, 1_700_000_002.0, 0))
        self.assertTrue(writer.wait_durable(5.0))
        writer.close(5.0)
        self.audit_dir = os.path.dirname(self.directory)

    def test_verify_ok(self) -> None:
        """verify exits 0 and says OK when every chain under the folder verifies."""
        code, out, _ = run_cli("audit", "verify", "--key", self.key_path + ".pub"
                               if os.path.exists(self.key_path + ".pub") else self.key_path,
                               self.audit_dir)
        self.assertEqual(code, 0, out)
        self.assertIn("OK", out)
        self.assertIn("7 records", out)

    def test_verify_not_a_directory(self) -> None:
        """verify on a path that holds no audit log exits 2 with a reason."""
        code, _, err = run_cli("audit", "verify", "--key", self.key_path, self.key_path)
        self.assertEqual(code, 2)
        self.assertIn("not a directory", err)

    def test_show_filters(self) -> None:
        """show lists events, filtered by outcome and consumer, as text or JSON."""
        code, out, _ = run_cli("audit", "show", self.audit_dir, "--outcome", "denied")
        self.assertEqual(code, 0)
        self.assertEqual(len(out.splitlines()), 1)
        self.assertIn("denied_by=policy", out)
        code, out, _ = run_cli("audit", "show", self.audit_dir, "--consumer", "globex", "--json")
        records = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([r["seq"] for r in records], [1, 3, 5])
        code, out, _ = run_cli("audit", "show", self.audit_dir, "--type", "alert")
        self.assertIn("ALERT guardrail_block", out)

    def test_show_since(self) -> None:
        """--since 7d leaves out events older than seven days."""
        code, out, _ = run_cli("audit", "show", self.audit_dir, "--since", "7d")
        self.assertEqual((code, out), (0, ""))
        code, out, _ = run_cli("audit", "show", self.audit_dir, "--since", "100000d")
        self.assertEqual(len(out.splitlines()), 7)

    def test_show_reports_broken_chain(self) -> None:
        """show stops at a broken record, says so and exits 1."""
        path = self.files()[0]
        lines = self.lines(path)
        lines[2] = lines[2].replace(b"globex", b"globey")
        self.rewrite(path, lines)
        code, out, err = run_cli("audit", "show", self.audit_dir)
        self.assertEqual(code, 1)
        self.assertEqual(len(out.splitlines()), 2)
        self.assertIn("CHAIN BROKEN", err)

    def test_keygen(self) -> None:
        """keygen writes a private key only its owner can read, and the public key beside it."""
        path = os.path.join(self.base, "new.key")
        code, _, _ = run_cli("audit", "keygen", path)
        self.assertEqual(code, 0)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        load_private_key(path)
        code, _, err = run_cli("audit", "keygen", path)
        self.assertEqual(code, 2)
        code, out, _ = run_cli("audit", "verify", "--key", path + ".pub", self.audit_dir)
        self.assertEqual(code, 1)
        self.assertIn("not among the trusted public keys", out)
