"""RFC 8785 (JSON Canonicalization Scheme) bytes, fast for the values audit records hold.

The pure-Python C{rfc8785} encoder costs ~30 µs per record; orjson with sorted keys produces the
very same bytes for a restricted profile (ASCII keys; integers within ±(2**53-1); floats that are
finite, non-integral and between 1e-3 and 1e15 in magnitude), so that profile takes the fast path
and everything else goes through C{rfc8785}. tests/test_audit_canonical.py pins the equivalence.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import rfc8785

_MAX_SAFE_INTEGER = 2**53 - 1


def _fast_profile(value: Any) -> bool:
    # Strings, None, booleans and integers are checked in the loops over a container's items,
    # without a call each: a record is ~30 such values, and a call costs more than the check.
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if kind is int:
                if -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                    continue
                return False
            if not _fast_profile(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if not _fast_profile(item):
                return False
        return True
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        integer: int = value
        return -_MAX_SAFE_INTEGER <= integer <= _MAX_SAFE_INTEGER
    if kind is float:
        number: float = value
        magnitude = abs(number)
        return 1e-3 <= magnitude < 1e15 and number != int(number)
    return False


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of C{value}; raises C{ValueError} for what JSON cannot hold."""
    if _fast_profile(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as e:
        raise ValueError(f"not canonicalizable as JSON: {e}") from None


def canonical_with_digest(record: dict[str, Any], field: str) -> tuple[bytes, str]:
    """
    The canonical bytes of C{record} after setting C{record[field]} to the SHA-256 hex of the
    canonical bytes of C{record} without it (one profile check serves both encodings).
    """
    if _fast_profile(record):
        digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
        record[field] = digest
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest
    digest = hashlib.sha256(canonical(record)).hexdigest()
    record[field] = digest
    return canonical(record), digest
