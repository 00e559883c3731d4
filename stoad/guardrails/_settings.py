"""The guardrails configuration: C{[guardrails]}, C{[guardrails.consumer:ID]} and route keys.

Every key is read into frozen objects here; patterns and OpenAPI documents are checked at load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from stoad.config._reader import SectionReader
from stoad.guardrails._detectors import (
    DEFAULT_PHONE_REGIONS,
    DETECTORS,
    INJECTION,
    PII,
    SECRETS,
    AllowList,
    check_regex,
    load_pattern_lines,
    phone_regions_problem,
    phrase_regex,
)
from stoad.guardrails._schema import OpenApiDocument
from stoad.runtime.layers import SectionSource

ACTIONS = ("block", "redact", "alert", "off")
LEARNED_MODES = ("alert", "enforce", "off")
DIRECTIONS = ("request", "response")
SECTION = "guardrails"
CONSUMER_PREFIX = "guardrails.consumer:"
ROUTE_PREFIX = "guardrails."

# The product's defaults: PII redacted, injection blocked (and alerted), secrets redacted (and
# alerted) in both directions, so an agent cannot post a credential upstream; injection in responses off.
DEFAULT_ACTIONS: Mapping[str, Mapping[str, str]] = {
    "request": {PII: "redact", INJECTION: "block", SECRETS: "redact"},
    "response": {PII: "redact", INJECTION: "off", SECRETS: "redact"},
}


@dataclass(frozen=True)
class GuardrailSettings:
    actions: Mapping[str, Mapping[str, str]]  # direction -> detector -> action
    scan_limit: int
    oversize: str  # "block" or "alert"
    max_response_bytes: int | None
    tier_max_response_bytes: Mapping[str, int]
    extra_phrases: tuple[tuple[str, str], ...]
    extra_pii: tuple[tuple[str, str], ...]
    extra_secrets: tuple[tuple[str, str], ...]
    allow: AllowList
    consumer_allow: Mapping[str, AllowList] = field(default_factory=dict)
    # Characters of later SSE text an event is held for, so a value split over events is
    # redacted whole; 0 sends each event as soon as it is scanned alone.
    stream_window: int = 256
    # The injection action on MCP tool results (responses to tools/call) when the response
    # direction's own injection action is off: indirect injection is alerted by default.
    tool_results_injection: str = "alert"
    # What the learned injection detector's verdict does when no phrase rule matched the text:
    # "alert" (the default: recorded and alerted, never blocked or redacted; see
    # docs/guardrails.md for its measured false-positive rate), "enforce" (the injection
    # action applies, as for a phrase), "off" (the model is not run).
    learned_injection: str = "alert"
    # ISO 3166 alpha-2 regions in whose national plans a number without "+" is read (libphonenumber).
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS


@dataclass(frozen=True)
class RouteGuardrails:
    actions: Mapping[str, Mapping[str, str]]  # overrides only: direction -> detector -> action
    max_response_bytes: int | None
    allow: AllowList
    openapi: OpenApiDocument | None = None
    openapi_path: str | None = None


def _actions(reader: SectionReader, prefix: str, base: Mapping[str, Mapping[str, str]] | None
             ) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {d: dict(base[d]) if base else {} for d in DIRECTIONS}
    for detector in DETECTORS:
        key = prefix + detector
        if reader.has(key):
            action = reader.choice(key, ACTIONS)
            for direction in DIRECTIONS:
                out[direction][detector] = action
        for direction in DIRECTIONS:
            dkey = f"{key}.{direction}"
            if reader.has(dkey):
                out[direction][detector] = reader.choice(dkey, ACTIONS)
    return out


def _allow(reader: SectionReader, prefix: str) -> AllowList:
    values = reader.words(prefix + "allow_values", ())
    patterns = reader.words(prefix + "allow_patterns", ())
    for pattern in patterns:
        try:
            check_regex(pattern)
        except ValueError as e:
            reader.problem(prefix + "allow_patterns", str(e))
    return AllowList(frozenset(values), tuple(patterns))


def _pattern_files(reader: SectionReader, key: str, phrases: bool = False) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for raw in reader.words(key, ()):
        try:
            path = _existing(reader, raw)
            with open(path, encoding="utf-8") as f:
                entries = load_pattern_lines(f)
            for _, pattern in entries:
                try:
                    check_regex(phrase_regex(pattern) if phrases else pattern)
                except ValueError as e:
                    raise ValueError(f"{path}: {e}") from None
            out.extend(entries)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            reader.problem(key, str(e))
    return tuple(out)


def _existing(reader: SectionReader, raw: str) -> str:
    full = os.path.normpath(os.path.join(reader.base_dir, os.path.expanduser(raw)))
    if not os.path.isfile(full):
        raise ValueError(f"no such file: {full}")
    reader.problems.files.add(full)  # part of the configuration's hash
    return full


def parse_settings(source: SectionSource) -> GuardrailSettings:
    reader = source.reader(SECTION)
    if reader is None:
        reader = SectionReader(SECTION, {}, source.problems, source.base_dir)
    actions = _actions(reader, "", DEFAULT_ACTIONS)
    tiers: dict[str, int] = {}
    for key in reader.keys():
        if key.startswith("max_response_bytes."):
            tier = key.split(".", 1)[1]
            tiers[tier] = reader.size(key, minimum=64)
    max_response = reader.size("max_response_bytes", 0, minimum=0) or None
    settings = GuardrailSettings(
        actions=actions,
        scan_limit=reader.size("scan_limit", 1024 * 1024, minimum=1024),
        oversize=reader.choice("oversize", ("block", "alert"), "block"),
        max_response_bytes=max_response,
        tier_max_response_bytes=tiers,
        extra_phrases=_pattern_files(reader, "phrase_files", phrases=True),
        extra_pii=_pattern_files(reader, "pii_pattern_files"),
        extra_secrets=_pattern_files(reader, "secret_pattern_files"),
        allow=_allow(reader, ""),
        consumer_allow=_consumers(source),
        stream_window=reader.size("stream_window", 256, minimum=0),
        tool_results_injection=reader.choice("injection.tool_results", ACTIONS, "alert"),
        learned_injection=reader.choice("injection.learned", LEARNED_MODES, "alert"),
        phone_regions=_phone_regions(reader),
    )
    reader.finish()
    return settings


def _phone_regions(reader: SectionReader) -> tuple[str, ...]:
    regions = tuple(dict.fromkeys(r.upper() for r in reader.words("phone_regions", DEFAULT_PHONE_REGIONS)))
    problem = phone_regions_problem(regions)
    if problem is not None:
        reader.problem("phone_regions", problem)
        return DEFAULT_PHONE_REGIONS
    return regions


def _consumers(source: SectionSource) -> dict[str, AllowList]:
    out: dict[str, AllowList] = {}
    for name in source.names(CONSUMER_PREFIX):
        reader = source.reader(name)
        assert reader is not None
        consumer = name[len(CONSUMER_PREFIX):]
        if not consumer:
            reader.problem(None, "name the consumer: [guardrails.consumer:ID]")
        out[consumer] = _allow(reader, "")
        reader.finish()
    return out


def parse_route(reader: SectionReader) -> RouteGuardrails:
    openapi_path = reader.optional_path(ROUTE_PREFIX + "openapi")
    document = None
    if openapi_path:
        try:
            document = OpenApiDocument.from_file(openapi_path)
        except Exception as e:  # any defect in the document is a configuration problem
            reader.problem(ROUTE_PREFIX + "openapi", f"cannot use {openapi_path}: {type(e).__name__}: {e}")
    max_response = reader.size(ROUTE_PREFIX + "max_response_bytes", 0, minimum=0) or None
    if max_response is not None and max_response < 64:
        reader.problem(ROUTE_PREFIX + "max_response_bytes", "must be at least 64 bytes")
    return RouteGuardrails(
        actions=_actions(reader, ROUTE_PREFIX, None),
        max_response_bytes=max_response,
        allow=_allow(reader, ROUTE_PREFIX),
        openapi=document,
        openapi_path=openapi_path,
    )
