"""C{stoad audit verify|show|report|keygen|hash-params}: check a trail, review it, chart it, make
keys, check a value."""

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
from stoad.audit._event import ParametersKey, parameters_hash, parse_rfc3339_ms

_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_subcommands(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify and review the audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser(
        "verify", help="check hashes, sequence, chain continuity and checkpoint signatures")
    verify.add_argument("paths", nargs="+", metavar="PATH",
                        help="an [audit] directory or one worker-N folder")
    verify.add_argument("--key", action="append", default=[], metavar="PEM",
                        help="a trusted Ed25519 public key (or the signing key itself); repeat "
                             "it for every key in use since the oldest kept file (rotation)")
    verify.add_argument("--config", metavar="INI",
                        help="take the trusted keys ([audit] public_keys, else the signing "
                             "key) and the Kafka settings from the gateway's configuration")
    verify.add_argument("--allow-unsigned-tail", action="store_true",
                        help="forensics: report records after the newest signature instead "
                             "of failing on them")
    verify.add_argument("--against-kafka", action="store_true",
                        help="also compare the chains with the records and signed checkpoints "
                             "in Kafka (the witness outside the machine)")
    verify.add_argument("--bootstrap", metavar="HOST:PORT",
                        help="Kafka to read (plaintext), instead of [audit.kafka] from --config")
    verify.add_argument("--topic", default=None, help="records topic (default stoad.audit)")
    verify.add_argument("--checkpoints-topic", default=None,
                        help="checkpoints topic (default TOPIC.checkpoints)")
    verify.set_defaults(func=run_verify)

    show = commands.add_parser("show", help="list events, verifying the chain as it reads")
    show.add_argument("paths", nargs="+", metavar="PATH")
    show.add_argument("--key", metavar="PEM", help="also check checkpoint signatures")
    show.add_argument("--outcome", choices=("allowed", "denied", "error", "incomplete"))
    show.add_argument("--consumer", metavar="ID")
    show.add_argument("--type", dest="event_type",
                      choices=("tool_call", "http_request", "alert", "key_rotation", "retention",
                               "config_reloaded", "config_reload_failed"))
    show.add_argument("--since", metavar="AGE", type=_since,
                      help="only events newer than this, e.g. 7d, 12h, 30m")
    show.add_argument("--json", action="store_true", help="one JSON record per line")
    show.set_defaults(func=run_show)

    from stoad.report import add_report_command

    add_report_command(commands, _since)

    keygen = commands.add_parser("keygen", help="write a new Ed25519 checkpoint signing key")
    keygen.add_argument("path", metavar="PATH", help="private key file (PATH.pub gets the public key)")
    keygen.set_defaults(func=run_keygen)

    hashing = commands.add_parser(
        "hash-params", help="the parameters_hash a suspected value would have (needs the key)")
    hashing.add_argument("--key", required=True, metavar="FILE",
                         help="the [audit] parameters_key file (default <directory>/parameters.key)")
    what = hashing.add_mutually_exclusive_group(required=True)
    what.add_argument("--arguments", metavar="JSON",
                      help="MCP tool arguments as JSON (key order and spacing do not matter)")
    what.add_argument("--body-file", metavar="FILE", help="a request body, hashed as stoad does")
    hashing.add_argument("--content-type", default="application/json",
                         help="the body's Content-Type (JSON bodies are canonicalised)")
    hashing.add_argument("--expect", metavar="HASH",
                         help="exit 0 if the hash equals this (from an event), 1 if not")
    hashing.set_defaults(func=run_hash_params)


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


def _verify_setup(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any] | None]:
    """The trusted keys, and the Kafka reading settings when --against-kafka."""
    paths = list(args.key)
    kafka: dict[str, Any] | None = None
    if args.config:
        from stoad.config import config_from_file

        config = config_from_file(args.config)
        audit = config.layer_settings.get("audit")
        if audit is None:
            raise ValueError(f"{args.config}: the audit layer is not enabled")
        paths += list(audit.public_keys) or [audit.signing_key]
        if args.against_kafka and audit.kafka is not None and not args.bootstrap:
            settings = audit.kafka.producer_config()
            kafka = {"config": {k: v for k, v in settings.items()
                                if k.startswith(("bootstrap", "security", "ssl", "sasl"))},
                     "topic": args.topic or audit.kafka.topic,
                     "checkpoints_topic": args.checkpoints_topic or audit.kafka.checkpoints_topic}
    if not paths:
        raise ValueError("give --key (repeatable) or --config")
    if args.against_kafka and kafka is None:
        if not args.bootstrap:
            raise ValueError("--against-kafka needs --bootstrap or --config with [audit.kafka]")
        topic = args.topic or "stoad.audit"
        kafka = {"config": {"bootstrap.servers": args.bootstrap}, "topic": topic,
                 "checkpoints_topic": args.checkpoints_topic or topic + ".checkpoints"}
    return [load_public_key(path) for path in paths], kafka


def run_verify(args: argparse.Namespace) -> int:
    try:
        keys, kafka = _verify_setup(args)
        chains = _chains(args.paths)
    except (OSError, ValueError) as e:
        print(f"stoad audit verify: {e}", file=sys.stderr)
        return 2
    copy = None
    if kafka is not None:
        from stoad.audit._witness import collect, counts, read_topic

        try:
            config = kafka["config"]
            bootstrap = config.pop("bootstrap.servers")
            copy = collect(read_topic(bootstrap, kafka["topic"], config),
                           read_topic(bootstrap, kafka["checkpoints_topic"], config))
        except Exception as e:  # any failure to read the witness is a failed verification
            print(f"FAILED kafka: cannot read the Kafka copy: {e}")
            return 1
        figures = counts(copy)
        print(f"kafka: {figures['records']} records ({figures['messages']} messages, "
              f"{figures['duplicates']} duplicate copies by event_id), "
              f"{figures['checkpoints']} checkpoints")
    failed = False
    for directory in chains:
        reader = ChainReader(directory, keys, allow_unsigned_tail=args.allow_unsigned_tail)
        report = reader.verify()
        if report.ok and copy is not None:
            from stoad.audit._witness import compare

            report.errors.extend(compare(reader, copy))
        if report.ok:
            notes = []
            if report.unsigned_tail:
                notes.append(f"UNSIGNED TAIL of {report.unsigned_tail} records (allowed)")
            if report.recovered:
                notes.append(f"{report.recovered} records signed only at crash recovery")
            if report.rotations:
                notes.append(f"{report.rotations} key rotations")
            if report.first_seq > 1:
                notes.append(f"starts at seq {report.first_seq} (older files removed by retention)")
            if copy is not None:
                notes.append("matches kafka")
            tail = "; " + "; ".join(notes) if notes else ""
            print(f"OK {directory}: {report.records} records in {report.files} files, "
                  f"{report.checkpoints} signed checkpoints, signed to seq {report.signed_seq}{tail}")
        else:
            failed = True
            print(f"FAILED {directory}: {report.errors[0]}")
    return 1 if failed else 0


def run_hash_params(args: argparse.Namespace) -> int:
    try:
        with open(args.key, "rb") as f:
            key = ParametersKey(f.read().strip())
        if args.arguments is not None:
            source: tuple[Any, ...] = ("json", orjson.loads(args.arguments))
        else:
            with open(args.body_file, "rb") as f:
                source = ("body", f.read(), args.content_type)
    except (OSError, ValueError) as e:
        print(f"stoad audit hash-params: {e}", file=sys.stderr)
        return 2
    digest = parameters_hash(source, key)
    print(f"{digest} key_id={key.key_id}")
    if args.expect is not None:
        import hmac

        same = hmac.compare_digest(args.expect.strip(), str(digest))
        print("MATCH" if same else "NO MATCH")
        return 0 if same else 1
    return 0


def _line(record: dict[str, Any]) -> str:
    kind = record.get("record_type")
    if record.get("event_type") == "alert":
        what = f"ALERT {record.get('alert')} [{record.get('severity')}]"
    elif record.get("event_type") == "key_rotation":
        what = f"KEY ROTATION {record.get('from_key_id')} -> {record.get('to_key_id')}"
    elif record.get("event_type") == "retention":
        what = (f"RETENTION removed {record.get('file')} "
                f"(seq {record.get('first_seq')}..{record.get('last_seq')})")
    elif kind == "decision":
        tool = f" tool={record['tool_name']}" if record.get("tool_name") else ""
        what = (f"forwarding {record.get('method')} {record.get('path')}{tool} "
                f"(decision {record.get('event_id')})")
    elif kind == "completion":
        what = (f"{record.get('outcome')} status={record.get('status')} "
                f"(completes {record.get('decision_event_id')})")
        if record.get("reason"):
            what += f" reason={record.get('reason')!r}"
    elif str(record.get("event_type", "")).startswith("config_"):
        what = (f"{str(record['event_type']).upper()} config={record.get('config_hash')} "
                f"previous={record.get('previous_config_hash')} problems={record.get('problems')}")
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
            reader.allow_unsigned_tail = True  # show is for reading; verify judges the tail
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
