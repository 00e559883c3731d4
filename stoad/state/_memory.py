"""The embedded store: exact for one worker process, and nothing is shared with any other.

Every call answers at once with a plain value (no Deferred, no timer on the request path).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable

from twisted.internet.defer import Deferred, succeed

from stoad.state._interface import Reservation, RoundRequest, RoundResult, UsageView
from stoad.state._sessions import SessionBindings
from stoad.state._settings import MEMORY, StateSettings
from stoad.state._tokens import ThumbprintTracker
from stoad.state._usage import UsageCounters


def _view(raw: dict[str, Any], tool: str | None) -> UsageView:
    tool_counts = raw.get("tool") or {}
    return UsageView(int(raw["calls_60s"]), int(raw["calls_3600s"]), tool,
                     int(tool_counts.get("calls_60s", 0)), int(tool_counts.get("calls_3600s", 0)))


class MemoryState:
    """L{SharedState} in this process's memory (bounded LRU tables)."""

    backend = MEMORY

    def __init__(self, settings: StateSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        settings = settings or StateSettings()
        self.settings = settings
        self._clock = clock
        self.usage = UsageCounters()
        self.sessions = SessionBindings(10000, settings.session_ttl)
        self.tokens = ThumbprintTracker(10000, settings.token_reuse_ttl)
        self.inactive: OrderedDict[str, float] = OrderedDict()  # token hash -> refused until
        self.max_inactive = 10000

    def configure(self, *, max_consumers: int | None = None, max_tools: int | None = None,
                  max_sessions: int | None = None, max_tokens: int | None = None) -> None:
        if max_consumers is not None:
            self.usage.max_consumers = max_consumers
        if max_tools is not None:
            self.usage.max_tools = max_tools
        if max_sessions is not None:
            self.sessions.max_sessions = max_sessions
        if max_tokens is not None:
            self.tokens.size = max_tokens

    def request_round(self, request: RoundRequest) -> RoundResult:
        owner = None
        if request.session_id is not None and request.holder is not None:
            owner = self.sessions.check_or_claim(request.session_id, request.holder, request.now)
        if owner is not None or request.usage_consumer is None:
            return RoundResult(session_owner=owner)
        raw, counters, at = self.usage.reserve(request.usage_consumer, request.usage_tool,
                                               request.now)
        return RoundResult(usage=_view(raw, request.usage_tool),
                           reservation=Reservation((counters, at)))

    def release_usage(self, reservation: Reservation) -> None:
        counters, at = reservation.handle
        self.usage.release(counters, at, self._clock())

    def bind_session(self, session_id: str, holder: str, now: float) -> None:
        self.sessions.bind(session_id, holder, now)

    def forget_session(self, session_id: str) -> None:
        self.sessions.forget(session_id)

    def note_token_use(self, token_hash: str, thumbprint: str, now: float) -> str | None:
        return self.tokens.observe(token_hash, thumbprint, now)

    def token_known_inactive(self, token_hash: str, now: float) -> bool:
        until = self.inactive.get(token_hash)
        if until is None:
            return False
        if now >= until:
            del self.inactive[token_hash]
            return False
        return True

    def note_token_inactive(self, token_hash: str, ttl: float, now: float) -> None:
        if ttl <= 0:
            return
        self.inactive[token_hash] = now + ttl
        self.inactive.move_to_end(token_hash)
        while len(self.inactive) > self.max_inactive:
            self.inactive.popitem(last=False)

    def health(self) -> dict[str, Any]:
        return {"backend": MEMORY, "up": True, "last_error": None}

    def close(self) -> Deferred[None]:
        return succeed(None)
