"""Which client certificate each recent access token came with, in one process's memory.

A token presented with a second certificate is a stolen-token signal (RFC 8705 binding aside).
"""

from __future__ import annotations

import hmac
from collections import OrderedDict


class ThumbprintTracker:
    """
    Remembers, for a bounded number of recent tokens, the certificate each was last presented
    with; a different one for the same token is a stolen-token signal.
    """

    def __init__(self, size: int, ttl: float = 3600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def observe(self, token_hash: str, thumbprint: str, now: float = 0.0) -> str | None:
        """Record C{thumbprint}; return the previous, different one if there was one."""
        found = self._seen.get(token_hash)
        self._seen[token_hash] = (thumbprint, now + self.ttl)
        self._seen.move_to_end(token_hash)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        if found is None or (now and found[1] <= now):
            return None
        if not hmac.compare_digest(found[0].encode(), thumbprint.encode()):
            return found[0]
        return None
