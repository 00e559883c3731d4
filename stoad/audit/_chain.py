"""The on-disk shape of an audit chain and its verification: records, files, signed checkpoints.

A record is the event plus C{seq} and C{prev_hash}; C{hash} is SHA-256 over the RFC 8785 bytes
of all that, and each line is the canonical JSON of the record with its hash.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from stoad.audit._canonical import canonical, canonical_with_digest

GENESIS_HASH = "0" * 64
CHECKPOINTS = "checkpoints.jsonl"
SHIPPED = "shipped.json"
_FILE = re.compile(r"^audit-(\d{20})\.jsonl$")


def file_name(first_seq: int) -> str:
    """Log files are named by the sequence number of their first record."""
    return f"audit-{first_seq:020d}.jsonl"


def log_files(directory: str) -> list[tuple[int, str]]:
    """(first seq, name) of every log file in C{directory}, in chain order."""
    found = []
    for name in os.listdir(directory):
        match = _FILE.match(name)
        if match:
            found.append((int(match.group(1)), name))
    found.sort()
    return found


def seal(event: dict[str, Any], seq: int, prev_hash: str) -> tuple[bytes, str]:
    """The line (with newline) for C{event} at C{seq} after C{prev_hash}, and its hash."""
    event["seq"] = seq
    event["prev_hash"] = prev_hash
    line, digest = canonical_with_digest(event, "hash")
    return line + b"\n", digest


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def fsync_directory(directory: str) -> None:
    """Make a rename or a new file in C{directory} durable (fsync the folder itself)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_private_key(path: str) -> Ed25519PrivateKey:
    """An unencrypted PEM Ed25519 private key; ValueError with a one-line reason otherwise."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(f"not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def load_public_key(path: str) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file holding either the public or the private key."""
    with open(path, "rb") as f:
        data = f.read()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise ValueError(f"not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, head_hash: str, file: str,
                    timestamp: str) -> bytes:
    """One line of C{checkpoints.jsonl}: the chain head signed with the writer's key."""
    body = {"seq": seq, "hash": head_hash, "file": file, "timestamp": timestamp,
            "key_id": key_id(key.public_key())}
    signature = key.sign(canonical(body))
    body["signature"] = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return canonical(body) + b"\n"


@dataclass
class ChainReport:
    """The outcome of reading one chain: what was checked, and the first problem (if any)."""

    directory: str
    records: int = 0
    files: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    unsigned_tail: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ChainReader:
    """
    Reads one worker's chain in order, checking as it goes: each line is canonical JSON whose
    hash matches, seq increases by one and prev_hash links to the previous record, across
    files (whose names give their first seq). Then the signed checkpoints: each must verify
    with C{public_key} and match the record it names; one past the end means records were
    removed. Stops at the first problem, which names the file, line and seq.
    """

    def __init__(self, directory: str, public_key: Ed25519PublicKey | None) -> None:
        self.directory = directory
        self.public_key = public_key
        self.report = ChainReport(directory)
        self._hashes: dict[int, str] = {}

    def _fail(self, where: str, problem: str) -> None:
        self.report.errors.append(f"{where}: {problem}")

    def records(self) -> Iterator[dict[str, Any]]:
        """Yield every record that verifies; stop at the first that does not."""
        report = self.report
        try:
            files = log_files(self.directory)
        except OSError as e:
            self._fail(self.directory, f"cannot list: {e.strerror}")
            return
        expected_seq, prev_hash = 1, GENESIS_HASH
        for first_seq, name in files:
            report.files += 1
            path = os.path.join(self.directory, name)
            if first_seq != expected_seq:
                if first_seq > expected_seq:
                    self._fail(path, f"records {expected_seq}..{first_seq - 1} are missing "
                               "(a file was removed?)")
                else:
                    self._fail(path, f"file starts at seq {first_seq} but seq {expected_seq} "
                               "was expected (files renamed or reordered?)")
                return
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                self._fail(path, f"cannot read: {e.strerror}")
                return
            if not data:
                continue
            lines = data.split(b"\n")
            for number, line in enumerate(lines[:-1], 1):
                where = f"{path}:{number} (seq {expected_seq})"
                record = self._check(where, line, expected_seq, prev_hash)
                if record is None:
                    return
                prev_hash = record["hash"]
                self._hashes[expected_seq] = prev_hash
                report.records += 1
                report.last_seq, report.last_hash = expected_seq, prev_hash
                expected_seq += 1
                yield record
            if lines[-1]:
                self._fail(f"{path}:{len(lines)} (seq {expected_seq})",
                           "record is cut short (truncated tail)")
                return

    def _check(self, where: str, line: bytes, seq: int, prev_hash: str) -> dict[str, Any] | None:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            self._fail(where, "not valid JSON (edited or corrupted)")
            return None
        if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
            self._fail(where, "not an audit record")
            return None
        try:
            exact = canonical(record)
        except ValueError:
            exact = b""
        if exact != line:
            self._fail(where, "not in canonical form (edited)")
            return None
        claimed = record.pop("hash")
        if hashlib.sha256(canonical(record)).hexdigest() != claimed:
            self._fail(where, "hash does not match the record (edited)")
            return None
        record["hash"] = claimed
        if record.get("seq") != seq:
            self._fail(where, f"has seq {record.get('seq')!r} where {seq} was expected "
                       "(records removed or reordered)")
            return None
        if record.get("prev_hash") != prev_hash:
            self._fail(where, "prev_hash does not link to the previous record "
                       "(records removed, reordered or replaced)")
            return None
        return record

    def verify(self) -> ChainReport:
        """Read the whole chain, then check the checkpoints against it."""
        for _ in self.records():
            pass
        if self.report.ok:
            self._check_checkpoints()
        return self.report

    def _check_checkpoints(self) -> None:
        report = self.report
        path = os.path.join(self.directory, CHECKPOINTS)
        try:
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            lines = [b""]
        except OSError as e:
            self._fail(path, f"cannot read: {e.strerror}")
            return
        if lines[-1]:
            self._fail(f"{path}:{len(lines)}", "checkpoint is cut short (truncated)")
            return
        last_signed = 0
        for number, line in enumerate(lines[:-1], 1):
            where = f"{path}:{number}"
            try:
                point = orjson.loads(line)
                signature = base64.urlsafe_b64decode(point.pop("signature") + "==")
                seq, head = int(point["seq"]), str(point["hash"])
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
                self._fail(where, "not a checkpoint (edited or corrupted)")
                return
            if self.public_key is not None:
                try:
                    self.public_key.verify(signature, canonical(point))
                except (InvalidSignature, ValueError):
                    self._fail(where, f"bad signature on the checkpoint of seq {seq}")
                    return
            if seq > report.last_seq:
                self._fail(where, f"signed checkpoint at seq {seq} but the log ends at seq "
                           f"{report.last_seq}: records were removed or the tail truncated")
                return
            if seq < last_signed:
                self._fail(where, f"checkpoint of seq {seq} comes after one of seq {last_signed}")
                return
            if seq and self._hashes.get(seq) != head:
                self._fail(where, f"checkpoint hash differs from record seq {seq} (history rewritten)")
                return
            last_signed = seq
            report.checkpoints += 1
        if report.records and not report.checkpoints:
            self._fail(path, "no signed checkpoint covers this chain (checkpoints removed?)")
            return
        report.unsigned_tail = report.last_seq - last_signed


def chain_directories(path: str) -> list[str]:
    """A worker's chain directory itself, or every C{worker-N} chain under an audit directory."""
    if not os.path.isdir(path):
        raise ValueError(f"{path}: not a directory")
    if log_files(path) or os.path.exists(os.path.join(path, CHECKPOINTS)):
        return [path]
    found = sorted(
        os.path.join(path, name) for name in os.listdir(path)
        if name.startswith("worker-") and os.path.isdir(os.path.join(path, name))
    )
    if not found:
        raise ValueError(f"{path}: no audit log files and no worker-N folders")
    return found
