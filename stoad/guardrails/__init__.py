"""Layer 4, guardrails: PII, secrets and prompt-injection scanning, size limits, OpenAPI checks."""

from stoad.guardrails._content import ContentScanner, Tally, body_kind
from stoad.guardrails._detectors import (
    BUILTIN_RULES,
    DETECTORS,
    AllowList,
    Finding,
    Rule,
    Scanner,
    builtin_phrases,
    builtin_rules,
    iban_ok,
    luhn_ok,
    normalise,
    redact,
    ssn_ok,
)
from stoad.guardrails._layer import GuardrailsLayer
from stoad.guardrails._mcp_scan import elicitation_secrets, tool_poisoning
from stoad.guardrails._schema import OpenApiDocument, Violation, problem_details
from stoad.guardrails._settings import GuardrailSettings, RouteGuardrails, parse_route, parse_settings

__all__ = [
    "AllowList",
    "BUILTIN_RULES",
    "ContentScanner",
    "DETECTORS",
    "Finding",
    "GuardrailSettings",
    "GuardrailsLayer",
    "OpenApiDocument",
    "RouteGuardrails",
    "Rule",
    "Scanner",
    "Tally",
    "Violation",
    "body_kind",
    "builtin_phrases",
    "builtin_rules",
    "elicitation_secrets",
    "iban_ok",
    "luhn_ok",
    "normalise",
    "parse_route",
    "parse_settings",
    "problem_details",
    "redact",
    "ssn_ok",
    "tool_poisoning",
]
