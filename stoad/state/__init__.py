"""Shared state: the signals that must hold across workers and gateways (usage, sessions, tokens, tools).

One interface (L{SharedState}); L{MemoryState} is exact for one process, L{RedisState} for all.
"""

from __future__ import annotations

from typing import Any, Callable

from stoad.state._interface import (
    UNAVAILABLE_BODY,
    Maybe,
    Reservation,
    RoundRequest,
    RoundResult,
    SharedState,
    StateUnavailable,
    UsageView,
)
from stoad.state._memory import MemoryState
from stoad.state._redis import RedisState
from stoad.state._settings import (
    CLOSED,
    MEMORY,
    OPEN,
    REDIS,
    RedisAddress,
    StateSettings,
    check_sharing,
    parse_redis_url,
    parse_state,
    shared_features,
)


def build_state(settings: StateSettings, reactor: Any,
                on_health: Callable[[bool, str | None], None] | None = None,
                on_command: Callable[[], None] | None = None) -> SharedState:
    """The store C{settings} names; Redis connects lazily and reconnects by itself."""
    if settings.backend == REDIS:
        return RedisState(settings, reactor, on_health, on_command)
    if reactor is None:
        return MemoryState(settings)
    return MemoryState(settings, reactor.seconds)


__all__ = [
    "CLOSED",
    "MEMORY",
    "OPEN",
    "REDIS",
    "UNAVAILABLE_BODY",
    "Maybe",
    "MemoryState",
    "RedisAddress",
    "RedisState",
    "Reservation",
    "RoundRequest",
    "RoundResult",
    "SharedState",
    "StateSettings",
    "StateUnavailable",
    "UsageView",
    "build_state",
    "check_sharing",
    "parse_redis_url",
    "parse_state",
    "shared_features",
]
