"""C{stoad audit verify|show|keygen}: check an audit trail, review its events, make a signing key."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stoad.audit._chain import ChainReader, chain_directories, load_public_key
from stoad.audit._event import parse_rfc3339_ms

_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_subcommands(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify and review the audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser(
        "verify", help="check hashes, sequence, chain continuity and checkpoint signatures")
    verify.add_argument("paths", nargs="+", metavar="PATH",
                        help="an [audit] directory or one worker-N folder")
    verify.add_argument("--key", required=True, metavar="PEM",
                        help="the Ed25519 public key (or the signing key itself)")
    verify.set_defaults(func=run_verify)

    show = commands.add_parser("show", help="list events, verifying the chain as it reads")
    show.add_argument("paths", nargs="+", metavar="PATH")
    show.add_argument("--key", metavar="PEM", help="also check checkpoint signatures")
    show.add_argument("--outcome", choices=("allowed", "denied", "error"))
    show.add_argument("--consumer", metavar="ID")
    show.add_argument("--type", dest="event_type", choices=("tool_call", "http_request", "alert"))
    show.add_argument("--since", metavar="AGE", type=_since,
                      help="only events newer than this, e.g. 7d, 12h, 30m")
    show.add_argument("--json", action="store_true", help="one JSON record per line")
    show.set_defaults(func=run_show)

    keygen = commands.add_parser("keygen", help="write a new Ed25519 checkpoint signing key")
    keygen.add_argument("path", metavar="PATH", help="private key file (PATH.pub gets the public key)")
    keygen.set_defaults(func=run_keygen)


def _since(text: str) -> float:
    match = _SINCE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected an age like 7d, 12h or 30m, got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _chains(paths: list[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        found.extend(chain_directories(path))
    return found


def run_verify(args: argparse.Namespace) -> int:
    try:
        key = load_public_key(args.key)
        chains = _chains(args.paths)
    except (OSError, ValueError) as e:
        print(f"stoad audit verify: {e}", file=sys.stderr)
        return 2
    failed = False
    for directory in chains:
        report = ChainReader(directory, key).verify()
        if report.ok:
            tail = f", {report.unsigned_tail} after the last checkpoint" if report.unsigned_tail else ""
            print(f"OK {directory}: {report.records} records in {report.files} files, "
                  f"{report.checkpoints} signed checkpoints{tail}")
        else:
            failed = True
            print(f"FAILED {directory}: {report.errors[0]}")
    return 1 if failed else 0


def _line(record: dict[str, Any]) -> str:
    if record.get("event_type") == "alert":
        what = f"ALERT {record.get('alert')} [{record.get('severity')}]"
    else:
        tool = f" tool={record['tool_name']}" if record.get("tool_name") else ""
        what = (f"{record.get('outcome')} {record.get('method')} {record.get('path')}{tool} "
                f"status={record.get('status')}")
        if record.get("denied_by"):
            what += f" denied_by={record['denied_by']} reason={record.get('reason')!r}"
    return (f"{record.get('timestamp')} #{record.get('seq')} {what} "
            f"consumer={record.get('consumer_id')} agent={record.get('agent_id')} "
            f"request={record.get('request_id')}")


def run_show(args: argparse.Namespace) -> int:
    try:
        key = load_public_key(args.key) if args.key else None
        chains = _chains(args.paths)
    except (OSError, ValueError) as e:
        print(f"stoad audit show: {e}", file=sys.stderr)
        return 2
    oldest = time.time() - args.since if args.since is not None else None
    out = sys.stdout
    failed = False
    for directory in chains:
        reader = ChainReader(directory, key)
        for record in reader.records():
            if args.outcome and record.get("outcome") != args.outcome:
                continue
            if args.consumer and record.get("consumer_id") != args.consumer:
                continue
            if args.event_type and record.get("event_type") != args.event_type:
                continue
            if oldest is not None and parse_rfc3339_ms(record["timestamp"]) < oldest:
                continue
            out.write(orjson.dumps(record).decode() + "\n" if args.json else _line(record) + "\n")
        report = reader.report
        if report.ok and key is not None:
            reader._check_checkpoints()
        if not report.ok:
            failed = True
            print(f"stoad audit show: {directory}: CHAIN BROKEN: {report.errors[0]}",
                  file=sys.stderr)
    return 1 if failed else 0


def run_keygen(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(args.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        print(f"stoad audit keygen: {args.path}: {e.strerror}", file=sys.stderr)
        return 2
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    with open(args.path + ".pub", "wb") as f:
        f.write(public)
    print(f"wrote {args.path} (keep it readable by stoad only) and {args.path}.pub "
          "(give it to whoever runs `stoad audit verify`)")
    return 0
