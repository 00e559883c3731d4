"""Who holds each MCP session (consumer, agent, certificate), in one process's memory.

Bounded: the least recently used binding is forgotten first; a binding idle for its TTL expires.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict


def session_digest(session_id: str) -> str:
    # Keep digests, not the ids themselves: a memory dump or a Redis key shows no usable id.
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


class SessionBindings:
    """An LRU map from session id to the holder it was issued to (or first presented by)."""

    def __init__(self, max_sessions: int, ttl: float = 3600.0) -> None:
        self.max_sessions = max_sessions
        self.ttl = ttl
        self._holders: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._holders)

    def _put(self, key: str, holder: str, now: float) -> None:
        self._holders[key] = (holder, now + self.ttl)
        self._holders.move_to_end(key)
        while len(self._holders) > self.max_sessions:
            self._holders.popitem(last=False)

    def check_or_claim(self, session_id: str, holder: str, now: float) -> str | None:
        """
        None when C{holder} may present C{session_id} (binding it if nobody holds it, and
        restarting its TTL), else the holder it belongs to.
        """
        key = session_digest(session_id)
        found = self._holders.get(key)
        if found is not None and found[1] > now and not hmac.compare_digest(
                found[0].encode(), holder.encode()):
            return found[0]
        self._put(key, holder, now)
        return None

    def bind(self, session_id: str, holder: str, now: float) -> None:
        """The upstream issued C{session_id} to C{holder}: bind it outright."""
        self._put(session_digest(session_id), holder, now)

    def forget(self, session_id: str) -> None:
        self._holders.pop(session_digest(session_id), None)
