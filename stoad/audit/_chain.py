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
HEAD = "head.json"
HEAD_SIZE = 1024  # the head file is rewritten in place at a fixed size: a torn write cannot leave
                  # a shorter valid-looking head followed by stale bytes
SHIPPED = "shipped.json"
_MAX_SAFE_INTEGER = 2**53 - 1
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
                    timestamp: str, **extra: Any) -> bytes:
    """
    One line of C{checkpoints.jsonl} (or the content of C{head.json}): the chain head signed
    with the writer's key. C{extra} adds signed fields (C{chain}, C{recovered_after}, ...).
    """
    body = {"seq": seq, "hash": head_hash, "file": file, "timestamp": timestamp,
            "key_id": key_id(key.public_key()), **extra}
    signature = key.sign(canonical(body))
    body["signature"] = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return canonical(body) + b"\n"


class HeadSigner:
    """
    Signs the chain head for C{head.json} after every group commit: the same bytes as
    L{sign_checkpoint} with C{chain=...} (Ed25519 is deterministic), built from the fields'
    fixed order instead of encoding a dict twice. The key id and the chain's name are encoded
    once, the file's name once per file.
    """

    def __init__(self, key: Ed25519PrivateKey, chain: str) -> None:
        self._sign = key.sign
        self._chain = b'{"chain":' + canonical(chain) + b',"file":'
        self._key_id = b'","key_id":"' + key_id(key.public_key()).encode() + b'","seq":'
        self._file = ""
        self._file_bytes = b""

    def line(self, seq: int, head_hash: str, file: str, timestamp: str) -> bytes:
        """The canonical signed head (with newline) naming record C{seq} with C{head_hash}."""
        if file != self._file:
            self._file, self._file_bytes = file, canonical(file)
        # Only values that need no escaping go in as they are: the bytes stay canonical JSON.
        if (type(seq) is not int or not 0 <= seq <= _MAX_SAFE_INTEGER
                or not (head_hash.isascii() and head_hash.isalnum())
                or not (timestamp.isascii() and timestamp.replace(".", "").replace("-", "")
                        .replace(":", "").isalnum())):
            raise ValueError(f"not a chain head: {seq!r}, {head_hash!r}, {timestamp!r}")
        start = (self._chain + self._file_bytes + b',"hash":"' + head_hash.encode() + self._key_id
                 + str(seq).encode())
        end = b',"timestamp":"' + timestamp.encode() + b'"}'
        signature = base64.urlsafe_b64encode(self._sign(start + end)).rstrip(b"=")
        return start + b',"signature":"' + signature + b'"' + end + b"\n"


@dataclass
class SignedPoint:
    """One signed chain head: a line of C{checkpoints.jsonl} or the content of C{head.json}."""

    where: str
    seq: int
    hash: str
    key_id: str
    fields: dict[str, Any]
    signature: bytes


@dataclass
class ChainReport:
    """The outcome of reading one chain: what was checked, and the first problem (if any)."""

    directory: str
    records: int = 0
    files: int = 0
    checkpoints: int = 0
    first_seq: int = 1
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    signed_seq: int = 0
    unsigned_tail: int = 0
    recovered: int = 0  # records signed only at start-up after a crash
    rotations: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse_point(where: str, line: bytes) -> SignedPoint | str:
    try:
        point = orjson.loads(line)
        signature = base64.urlsafe_b64decode(point.pop("signature") + "==")
        return SignedPoint(where, int(point["seq"]), str(point["hash"]), str(point["key_id"]),
                           point, signature)
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
        return "not a checkpoint (edited or corrupted)"


class ChainReader:
    """
    Reads one worker's chain in order, checking as it goes: each line is canonical JSON whose
    hash matches, seq increases by one and prev_hash links to the previous record, across
    files (whose names give their first seq). A chain whose oldest files were removed by
    retention starts at a file whose first C{prev_hash} must equal the hash a signed checkpoint
    gives for the seq before it. Then the signed points (checkpoints and C{head.json}): each
    must verify with one of C{public_keys} and match the record it names; one past the end
    means records were removed; records after the newest signature are an unsigned tail, a
    failure unless C{allow_unsigned_tail}; a change of key needs a C{key_rotation} record
    between the two signatures. Stops at the first problem, which names the file, line and seq.
    """

    def __init__(self, directory: str,
                 public_key: Ed25519PublicKey | list[Ed25519PublicKey] | None,
                 allow_unsigned_tail: bool = False) -> None:
        self.directory = directory
        if public_key is None:
            self.keys: dict[str, Ed25519PublicKey] | None = None
        else:
            keys = public_key if isinstance(public_key, list) else [public_key]
            self.keys = {key_id(k): k for k in keys}
        self.allow_unsigned_tail = allow_unsigned_tail
        self.report = ChainReport(directory)
        self._hashes: dict[int, str] = {}
        self._rotations: list[tuple[int, str, str]] = []
        self._retained: set[Any] = set()  # last seqs of files removed by retention, on record
        self._points: list[SignedPoint] | None = None

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        return next(iter(self.keys.values())) if self.keys else None

    def _fail(self, where: str, problem: str) -> None:
        self.report.errors.append(f"{where}: {problem}")

    def signed_points(self) -> list[SignedPoint]:
        """The checkpoints (in file order) and then the head; problems go to the report."""
        if self._points is not None:
            return self._points
        points: list[SignedPoint] = []
        self._points = points
        path = os.path.join(self.directory, CHECKPOINTS)
        try:
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            lines = [b""]
        except OSError as e:
            self._fail(path, f"cannot read: {e.strerror}")
            return points
        if lines[-1]:
            self._fail(f"{path}:{len(lines)}", "checkpoint is cut short (truncated)")
            return points
        for number, line in enumerate(lines[:-1], 1):
            point = _parse_point(f"{path}:{number}", line)
            if isinstance(point, str):
                self._fail(f"{path}:{number}", point)
                return points
            points.append(point)
        head_path = os.path.join(self.directory, HEAD)
        try:
            with open(head_path, "rb") as f:
                head = f.read().strip()
        except FileNotFoundError:
            return points
        except OSError as e:
            self._fail(head_path, f"cannot read: {e.strerror}")
            return points
        point = _parse_point(head_path, head)
        if isinstance(point, str):
            self._fail(head_path, "not a signed head (edited or corrupted)")
        else:
            points.append(point)
        return points

    def _anchor(self, first_seq: int) -> str | None:
        """The hash a signed checkpoint gives for C{first_seq - 1}, when there is one."""
        for point in self.signed_points():
            if point.seq == first_seq - 1 and self._signature_ok(point):
                return point.hash
        return None

    def _signature_ok(self, point: SignedPoint) -> bool:
        if self.keys is None:
            return True
        key = self.keys.get(point.key_id)
        if key is None:
            return False
        try:
            key.verify(point.signature, canonical(point.fields))
        except (InvalidSignature, ValueError):
            return False
        return True

    def records(self) -> Iterator[dict[str, Any]]:
        """Yield every record that verifies; stop at the first that does not."""
        report = self.report
        try:
            files = log_files(self.directory)
        except OSError as e:
            self._fail(self.directory, f"cannot list: {e.strerror}")
            return
        expected_seq, prev_hash = 1, GENESIS_HASH
        if files and files[0][0] > 1:
            # The oldest files were removed (retention): start from a signed anchor, or fail.
            first = files[0][0]
            anchor = self._anchor(first)
            if anchor is None:
                self._fail(os.path.join(self.directory, files[0][1]),
                           f"records 1..{first - 1} are missing and no signed checkpoint anchors "
                           f"seq {first - 1} (a file was removed?)")
                return
            expected_seq, prev_hash = first, anchor
            report.first_seq = first
            report.last_seq = first - 1
            self._hashes[first - 1] = anchor
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
                if record.get("event_type") == "retention":
                    self._retained.add(record.get("last_seq"))
                if record.get("event_type") == "key_rotation":
                    self._rotations.append((expected_seq, str(record.get("from_key_id")),
                                            str(record.get("to_key_id"))))
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
        """Read the whole chain, then check the signed points against it."""
        self.signed_points()
        if not self.report.ok:
            return self.report
        for _ in self.records():
            pass
        if self.report.ok:
            self._check_checkpoints()
        return self.report

    def _check_checkpoints(self) -> None:
        report = self.report
        points = self.signed_points()
        if not report.ok:
            return
        last_signed, last_key, last_where = 0, "", ""
        for point in points:
            where, seq = point.where, point.seq
            if self.keys is not None and not self._signature_ok(point):
                known = point.key_id in self.keys
                self._fail(where, f"bad signature on the checkpoint of seq {seq}" if known else
                           f"checkpoint of seq {seq} signed by key {point.key_id}, which is not "
                           "among the trusted public keys")
                return
            if seq > report.last_seq:
                self._fail(where, f"signed checkpoint at seq {seq} but the log ends at seq "
                           f"{report.last_seq}: records were removed or the tail truncated")
                return
            is_head = where.endswith(HEAD)
            if seq < last_signed and not is_head:
                self._fail(where, f"checkpoint of seq {seq} comes after one of seq {last_signed}")
                return
            if seq >= report.first_seq - 1 and seq and self._hashes.get(seq) != point.hash:
                self._fail(where, f"checkpoint hash differs from record seq {seq} (history rewritten)")
                return
            if last_key and point.key_id != last_key and seq >= last_signed:
                if not any(last_signed < at <= seq and old == last_key and new == point.key_id
                           for at, old, new in self._rotations):
                    self._fail(where, f"signed by key {point.key_id} where {last_where} used "
                               f"{last_key}, with no key_rotation record between them")
                    return
                report.rotations += 1
            after = point.fields.get("recovered_after")
            through = point.fields.get("recovered_through", seq)
            if isinstance(after, int) and isinstance(through, int) and not is_head:
                report.recovered += through - after
            if not is_head:
                report.checkpoints += 1
            if seq >= last_signed:
                last_signed, last_key, last_where = seq, point.key_id, where
        if report.records and not report.checkpoints:
            self._fail(os.path.join(self.directory, CHECKPOINTS),
                       "no signed checkpoint covers this chain (checkpoints removed?)")
            return
        if report.first_seq > 1 and report.first_seq - 1 not in self._retained:
            self._fail(os.path.join(self.directory, file_name(report.first_seq)),
                       f"records 1..{report.first_seq - 1} are gone but no retention record "
                       "says they were removed (a file was deleted?)")
            return
        report.signed_seq = last_signed
        report.unsigned_tail = report.last_seq - last_signed
        if report.unsigned_tail and not self.allow_unsigned_tail:
            self._fail(os.path.join(self.directory, HEAD),
                       f"records {last_signed + 1}..{report.last_seq} are not covered by any "
                       "signature (head.json removed or stale: the newest records may have been "
                       "cut or replaced); --allow-unsigned-tail accepts them")


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
