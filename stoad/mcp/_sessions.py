"""Which consumer each MCP session belongs to, so a session id cannot change hands.

Bounded: the least recently used binding is forgotten first; memory never grows past the limit.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict


def _key(session_id: str) -> bytes:
    # Keep digests, not the ids themselves: a memory dump shows no usable session id.
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).digest()


class SessionBindings:
    """An LRU map from session id to the consumer it was first issued to (or presented by)."""

    def __init__(self, max_sessions: int) -> None:
        self._max = max_sessions
        self._owners: OrderedDict[bytes, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._owners)

    def check(self, session_id: str, consumer: str) -> str | None:
        """None when C{consumer} may present C{session_id}, else the consumer it belongs to."""
        key = _key(session_id)
        owner = self._owners.get(key)
        if owner is None or hmac.compare_digest(owner.encode(), consumer.encode()):
            return None
        return owner

    def bind(self, session_id: str, consumer: str, issued: bool) -> None:
        """
        Record that C{consumer} holds C{session_id}. A session the upstream just issued
        (C{issued}) is bound to its receiver outright; one merely presented and accepted (known
        to another worker, or from before a restart) is bound only if nobody holds it yet.
        """
        key = _key(session_id)
        if key in self._owners and not issued:
            self._owners.move_to_end(key)
            return
        self._owners[key] = consumer
        self._owners.move_to_end(key)
        while len(self._owners) > self._max:
            self._owners.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._owners.pop(_key(session_id), None)
