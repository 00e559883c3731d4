"""Layer 5: an append-only, hash-chained, signed audit trail of every request, shipped to Kafka.

See docs/audit.md. The public surface is re-exported here.
"""

import stoad.config  # noqa: F401  (stoad.runtime.layers imports cleanly only after stoad.config)
from stoad.audit._canonical import canonical
from stoad.audit._chain import ChainReader, ChainReport, chain_directories, load_private_key, load_public_key
from stoad.audit._event import build_alert_event, build_request_event, parameters_hash, sanitize_details
from stoad.audit._layer import AuditLayer, worker_directory
from stoad.audit._settings import AuditSettings, KafkaSettings
from stoad.audit._shipper import KafkaShipper
from stoad.audit._writer import AuditChainWriter

__all__ = [
    "AuditChainWriter",
    "AuditLayer",
    "AuditSettings",
    "ChainReader",
    "ChainReport",
    "KafkaSettings",
    "KafkaShipper",
    "build_alert_event",
    "build_request_event",
    "canonical",
    "chain_directories",
    "load_private_key",
    "load_public_key",
    "parameters_hash",
    "sanitize_details",
    "worker_directory",
]
