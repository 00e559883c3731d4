"""The Kafka copy as a witness: compare local chains with the records and checkpoints in Kafka.

Someone with root on the gateway's machine can rewrite or truncate the local files and even sign
anew with the key; they cannot take back what Kafka already acknowledged.
"""

from __future__ import annotations

import collections
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from stoad.audit._chain import ChainReader, SignedPoint, _parse_point


@dataclass
class KafkaCopy:
    """What one read of the topics found, by chain (the C{worker-N} folder name)."""

    records: dict[str, dict[int, bytes]] = field(default_factory=dict)  # chain -> seq -> line
    checkpoints: dict[str, list[SignedPoint]] = field(default_factory=dict)
    messages: int = 0
    duplicates: int = 0  # messages beyond the first for an event_id (byte-identical or not)
    conflicting: list[str] = field(default_factory=list)  # event_ids with differing copies


def read_topic(bootstrap: str, topic: str, config: dict[str, Any] | None = None,
               timeout: float = 60.0) -> list[bytes]:
    """Every message value of C{topic}, from the start to the end it had when reading began."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"stoad-verify-{uuid.uuid4().hex}",
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "isolation.level": "read_committed", **(config or {}),
    })
    values: list[bytes] = []
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            raise ValueError(f"topic {topic} not found on {bootstrap}")
        ends: dict[int, int] = {}
        for partition in described.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                       timeout=timeout)
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends] or [])
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: not at its end after {timeout:.0f}s")
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = message.value()
            if value is not None:
                values.append(value)
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
    finally:
        consumer.close()
    return values


def collect(records: list[bytes], checkpoints: list[bytes]) -> KafkaCopy:
    """Index the messages by chain; count duplicates by event_id (a resend after a crash)."""
    copy = KafkaCopy()
    by_id: dict[str, bytes] = {}
    for value in records:
        copy.messages += 1
        record = orjson.loads(value)
        event_id = str(record.get("event_id"))
        seen = by_id.get(event_id)
        if seen is not None:
            copy.duplicates += 1
            if seen != value:
                copy.conflicting.append(event_id)
            continue
        by_id[event_id] = value
        chain = f"worker-{record.get('worker')}"
        copy.records.setdefault(chain, {})[int(record["seq"])] = value
    for number, value in enumerate(checkpoints, 1):
        point = _parse_point(f"kafka checkpoint #{number}", value)
        if isinstance(point, str):
            continue
        chain = str(point.fields.get("chain", ""))
        copy.checkpoints.setdefault(chain, []).append(point)
    return copy


def compare(reader: ChainReader, copy: KafkaCopy) -> list[str]:
    """
    Problems found comparing one verified local chain (C{reader} after C{verify()}) with the
    Kafka copy: a witnessed checkpoint or record past the local end (truncation), a witnessed
    record or checkpoint hash that differs from the local one (rewriting).
    """
    report = reader.report
    chain = reader.directory.rstrip("/").rsplit("/", 1)[-1]
    problems: list[str] = []
    for event_id in copy.conflicting[:1]:
        problems.append(f"kafka: two different records carry event_id {event_id}")
    hashes: dict[int, str] = getattr(reader, "_hashes", {})
    for point in copy.checkpoints.get(chain, []):
        if not reader._signature_ok(point):
            problems.append(f"kafka checkpoint of seq {point.seq}: bad or untrusted signature")
        elif point.seq > report.last_seq:
            problems.append(f"kafka holds a signed checkpoint of seq {point.seq} but the local "
                            f"chain ends at seq {report.last_seq} (truncated)")
        elif point.seq >= report.first_seq and hashes.get(point.seq) != point.hash:
            problems.append(f"kafka checkpoint of seq {point.seq} differs from the local record "
                            "(history rewritten)")
        if problems:
            return problems
    witnessed = copy.records.get(chain, {})
    if witnessed and max(witnessed) > report.last_seq:
        problems.append(f"kafka holds record seq {max(witnessed)} but the local chain ends at "
                        f"seq {report.last_seq} (truncated)")
        return problems
    for seq in sorted(witnessed):
        if seq < report.first_seq:
            continue
        claimed = orjson.loads(witnessed[seq]).get("hash")
        if hashes.get(seq) != claimed or claimed != hashlib.sha256(
                _without_hash(witnessed[seq])).hexdigest():
            problems.append(f"record seq {seq} differs from its copy in kafka (edited)")
            return problems
    return problems


def _without_hash(value: bytes) -> bytes:
    from stoad.audit._canonical import canonical

    record = orjson.loads(value)
    record.pop("hash", None)
    return canonical(record)


def counts(copy: KafkaCopy) -> dict[str, int]:
    per_chain = collections.Counter({chain: len(seqs) for chain, seqs in copy.records.items()})
    return {"messages": copy.messages, "duplicates": copy.duplicates,
            "records": sum(per_chain.values()),
            "checkpoints": sum(len(v) for v in copy.checkpoints.values())}
