"""Scanners and small helpers the guardrails rule tests share."""

from __future__ import annotations

import orjson

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import (
    BUILTIN_RULES,
    DETECTORS,
    ContentScanner,
    Scanner,
    Tally,
    builtin_phrases,
    builtin_rules,
)

ALL = frozenset(DETECTORS)
DEFAULT = Scanner(BUILTIN_RULES, builtin_phrases(), model=None)
# The twelve deployment regions of the independent corpus (its README): national formats of each.
REGIONS = ("US", "CA", "GB", "DE", "FR", "AU", "IN", "BR", "JP", "ES", "IT", "NL")
EUROPE_AND_MORE = Scanner(builtin_rules(REGIONS), builtin_phrases(), model=None)


def found(text: str, scanner: Scanner = DEFAULT) -> list[tuple[str, str]]:
    """Each finding of every detector in C{text}, as (kind, the text it covers)."""
    return [(f.kind, text[f.start:f.end]) for f in scanner.find(text, ALL)]


def kinds(text: str, scanner: Scanner = DEFAULT) -> list[str]:
    return [kind for kind, _ in found(text, scanner)]


def scan_json(document: object, action: str = "redact",
              scanner: Scanner = DEFAULT) -> tuple[Tally, bytes | None]:
    """C{document} as a JSON body through the content scanner, PII and secrets set to C{action}."""
    content = ContentScanner(scanner, {"pii": action, "secrets": action}, None)
    tally = Tally()
    return tally, content.body(orjson.dumps(document), "json", tally)
