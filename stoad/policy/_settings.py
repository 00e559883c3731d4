"""The policy layer's settings: the C{[policy]} section and its per-route C{policy.*} keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stoad.config._reader import SectionReader

if TYPE_CHECKING:
    from stoad.runtime.layers import SectionSource

DEFAULT_DIRECTORY = "/etc/stoad/policies"
DEFAULT_QUERY = "data.stoa.authz.decision"
DEFAULT_HEADERS = (
    "accept", "content-type", "mcp-protocol-version", "mcp-session-id", "origin", "user-agent",
    "x-request-id",
)
# Headers that carry credentials never reach a policy: verified facts are in input.token.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "dpop"})
_QUERY = re.compile(r"data(\.[A-Za-z_][A-Za-z0-9_]*)+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")


@dataclass(frozen=True)
class PolicySettings:
    """
    @ivar directory: where C{*.rego} and C{*.json} files are loaded from (recursively).
    @ivar query: the decision rule, a plain C{data.a.b} reference.
    @ivar headers: lower-cased request header names copied into the input document.
    @ivar watch_interval: seconds between checks of the directory for changes; 0 = no watcher.
    @ivar usage_max_consumers: consumers whose usage is tracked before the least recent is dropped.
    @ivar usage_max_tools: tools tracked per consumer; calls to further tools count as other tools.
    """

    directory: str = DEFAULT_DIRECTORY
    query: str = DEFAULT_QUERY
    headers: tuple[str, ...] = DEFAULT_HEADERS
    watch_interval: float = 0.0
    usage_max_consumers: int = 10000
    usage_max_tools: int = 64


@dataclass(frozen=True)
class PolicyRouteOptions:
    """@ivar case_insensitive_paths: the upstream folds case, so the policy sees lower case."""

    case_insensitive_paths: bool = False


def check_query(query: str) -> str:
    if not _QUERY.fullmatch(query):
        raise ValueError(f"expected a rule reference like {DEFAULT_QUERY}, got {query!r}")
    return query


def _check_headers(names: tuple[str, ...], reader: SectionReader) -> tuple[str, ...]:
    out = []
    for name in names:
        low = name.lower()
        if not _HEADER_NAME.fullmatch(low):
            reader.problem("headers", f"not a header name: {name!r}")
        elif low in SECRET_HEADERS:
            reader.problem("headers", f"{low} carries credentials and is never given to policies")
        else:
            out.append(low)
    return tuple(out)


def parse_settings(source: SectionSource) -> PolicySettings:
    reader = source.reader("policy")
    if reader is None:
        return PolicySettings()
    directory = reader.path("directory", DEFAULT_DIRECTORY, must_exist=True, directory=True)
    query = reader._typed("query", DEFAULT_QUERY, check_query, DEFAULT_QUERY)
    headers = _check_headers(reader.words("headers", DEFAULT_HEADERS), reader)
    watch = reader.boolean("watch", False)
    interval = reader.duration("watch_interval", 2.0, minimum=0.1, maximum=3600.0)
    settings = PolicySettings(
        directory=directory,
        query=query,
        headers=headers,
        watch_interval=interval if watch else 0.0,
        usage_max_consumers=reader.integer("usage_max_consumers", 10000, minimum=1,
                                           maximum=10_000_000),
        usage_max_tools=reader.integer("usage_max_tools", 64, minimum=1, maximum=4096),
    )
    reader.finish()
    return settings


def parse_route(reader: SectionReader) -> PolicyRouteOptions:
    return PolicyRouteOptions(
        case_insensitive_paths=reader.boolean("policy.case_insensitive_paths", False)
    )
