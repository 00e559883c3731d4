"""Checks the MCP layer asks of the guardrails: tool descriptions that instruct the model (tool
poisoning) and elicitation requests that ask the user for secrets.

Both are rule-based: tool descriptions are instructions to a model by nature, so the learned
injection detector (trained on prompts) is not used on them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import re2

from stoad.guardrails._detectors import BUILTIN_RULES, Scanner, builtin_phrases, normalise

# Model-directed instructions that have no place in a tool's description (a space stands for a
# run of whitespace or punctuation, as in injection_phrases.txt).
TOOL_POISONING_PHRASES: tuple[tuple[str, str], ...] = (
    ("hidden_tag", r"<\s*/?\s*(important|system|instructions?|secret|hidden|admin|assistant|"
                   r"note to (the )?(ai|model|assistant))\s*>"),
    ("secrecy", r"\b(do not|don t|dont|never|without) (tell|telling|mention|mentioning|inform|informing|alert|alerting|"
                r"notify|notifying|reveal|revealing|show|showing|let) (it )?(to )?(the )?(user|human|operator)\b"),
    ("secrecy", r"\b(the )?(user|human) (must|should|will|need) not (know|see|notice|be told|find out)\b"),
    ("file_access", r"(~|\$home|%userprofile%|/home/\w+|/root|/etc)/+\.?(ssh|aws|env|config|cursor|npmrc|netrc|"
                    r"passwd|shadow|kube|docker|gnupg)|\bid_(rsa|ed25519|ecdsa|dsa)\b|\bmcp\.json\b"),
    ("cross_tool", r"\b(when|whenever|if) (the )?[\w.-]{1,40} (tool )?(is )?(called|used|invoked)\b.{0,80}"
                   r"\b(instead|also|always|change|replace|add|send|forward|redirect|bcc|cc)\b"),
    ("model_directive", r"\b(before|after|prior to) (using|calling|answering|responding|invoking|running) "
                        r"(this|the|any|every) (tool|function|request|call)\b.{0,120}"
                        r"\b(read|include|send|pass|attach|append|fetch|call|upload|copy|ignore|mention)\b"),
    ("model_directive", r"\b(include|pass|put|add|append|send|copy) (its|the|their|that|this|all) "
                        r"((full|entire|file|complete) )*(content|contents|text|data)s? (in|into|as|to|inside) "
                        r"(the )?[\w.-]{1,40} (argument|parameter|field|param)\b"),
)

# What an elicitation may not ask the user for (the MCP specification: servers must not request
# sensitive information through elicitation).
SECRET_REQUEST = (
    r"(?i)\b(passw(or)?d|passcode|passphrase|pass phrase|pin( code| number)?|api[ _-]?keys?|access[ _-]?keys?|"
    r"secret[ _-]?keys?|private[ _-]?keys?|client[ _-]?secret|(access|auth|bearer|refresh|session)[ _-]?tokens?|"
    r"credentials?|ssn|social[ _-]?security|credit[ _-]?card|card[ _-]?number|cvv|cvc|security[ _-]?code|"
    r"one[ _-]?time[ _-]?(code|password)|otp|2fa|mfa[ _-]?code|verification[ _-]?code|seed[ _-]?phrase|"
    r"recovery[ _-]?(phrase|code)s?|mnemonic|bank[ _-]?account[ _-]?number|iban|routing[ _-]?number)\b"
)

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 16 << 20


@cache
def _description_scanner() -> Scanner:
    phrases = builtin_phrases() + list(TOOL_POISONING_PHRASES)
    return Scanner(BUILTIN_RULES, phrases, model=None)


@cache
def _secret_request() -> Any:
    return re2.compile(SECRET_REQUEST, _OPTIONS)


def _texts(node: Any, keys: frozenset[str] | None) -> list[str]:
    """The strings of a JSON value (only those under C{keys} when given), and member names."""
    out: list[str] = []
    stack = [(None, node)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, str):
            if keys is None or key in keys:
                out.append(item)
        elif isinstance(item, dict):
            out.extend(k for k in item if isinstance(k, str))
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((key, v) for v in item)
    return out


def tool_poisoning(definition: dict[str, Any]) -> list[str]:
    """
    The instruction families found in a tool definition's description, title and the descriptions
    inside its input schema (empty: nothing found). Phrase families of the injection library and
    the tool-poisoning phrases above.
    """
    scanner = _description_scanner()
    texts = _texts({k: v for k, v in definition.items() if k != "name"},
                   frozenset({"description", "title"}))
    families: set[str] = set()
    for text in texts:
        families.update(scanner.injection(text))
    return sorted(families)


def elicitation_secrets(params: Any) -> bool:
    """Whether an C{elicitation/create} request's message or requested schema asks for a secret."""
    if not isinstance(params, dict):
        return False
    pattern = _secret_request()
    texts = [params.get("message")] if isinstance(params.get("message"), str) else []
    texts += _texts(params.get("requestedSchema"), None)
    return any(pattern.search(normalise(t).replace("_", " ")) is not None
               for t in texts if isinstance(t, str))

