"""Scanning one body (or one SSE event): JSON string values, form fields or text, with redaction.

JSON stays valid because redaction rewrites decoded string values, never raw bytes.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

import orjson
import re2

from stoad.guardrails._detectors import (
    CHECK_BUDGET,
    INJECTION,
    LEARNED,
    PII,
    SECRETS,
    AllowList,
    CheckBudget,
    Scanner,
    redact,
)
from stoad.runtime import strictjson

INJECTION_MARKER = "[REDACTED:prompt_injection]"
SECRET_MEMBER_MARKER = "[REDACTED:generic_secret]"
BLOCK_ORDER = (INJECTION, SECRETS, PII)
# integers whose digits could be a card number (13 to 19 digits), see ContentScanner.number
_CARD_RANGE = (10**12, 10**19)
# how a value that is PII by its member's name starts (an SSN, a phone number)
_NUMBER_START = "0123456789+("


@dataclass
class Tally:
    """What one scan found: hits per detector, and detectors whose hits could not be redacted."""

    counts: Counter[str] = field(default_factory=Counter)
    unredactable: set[str] = field(default_factory=set)
    changed: bool = False
    # Hits that are only alerted whatever the detector's action (the learned injection
    # detector alone, with [guardrails] injection.learned = alert).
    alerts: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.counts) or bool(self.alerts)


def body_kind(content_type: str | None) -> str:
    """How a body is read: C{json}, C{form}, C{sse}, C{text} or C{binary}."""
    if not content_type:
        return "text"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json") or media == "application/json-rpc":
        return "json"
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media == "text/event-stream":
        return "sse"
    if media.startswith("text/") or media.startswith("multipart/") or media.endswith("+xml") or media in (
            "application/xml", "application/javascript", "application/x-ndjson", "application/jsonl",
            "application/yaml", "application/x-yaml", "application/graphql", "application/sql"):
        return "text"
    return "binary"


class ContentScanner:
    """
    Applies one direction's detector actions to bodies. C{actions} maps detector -> action;
    hits are counted in a L{Tally}, spans of C{redact} detectors are replaced as they are found.
    """

    def __init__(self, scanner: Scanner, actions: Mapping[str, str], allow: AllowList | None,
                 learned_alert_only: bool = False) -> None:
        self.scanner = scanner
        self.actions = dict(actions)
        # The learned injection detector's verdict alone is alerted, never acted on.
        self.learned_alert_only = learned_alert_only
        self.active = frozenset(d for d, a in self.actions.items() if a != "off")
        self.redacting = frozenset(d for d, a in self.actions.items() if a == "redact")
        self.allow = allow if allow else None
        # The costly validator checks (phone numbers) this body or response may still make.
        self.budget = CheckBudget()
        # Set while walking one document: the strings that a raw match touched, and whether any
        # phrase matched the whole; other strings cannot hold a finding and are skipped.
        self._focus: set[str] | None = None
        self._phrases_possible = True
        # Set with the focus: the strings the learned detector's gate touched (None: any string).
        self._injection_focus: set[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.active)

    # --- values ------------------------------------------------------------------------------

    def text(self, value: str, tally: Tally) -> str:
        out = value
        focus = self._focus
        if focus is not None and value not in focus:
            findings = []
        else:
            findings = self.scanner.find(value, self.active, self.allow, self.budget)
        if findings:
            tally.counts.update(f.detector for f in findings)
            redacted = [f for f in findings if f.detector in self.redacting]
            if redacted:
                out = redact(value, redacted)
                tally.changed = True
        if INJECTION in self.active and self._phrases_possible and (
                self._injection_focus is None or value in self._injection_focus):
            families = self.scanner.injection(value)
            if families and self.learned_alert_only and families == [LEARNED]:
                tally.alerts[INJECTION] += 1
            elif families:
                tally.counts[INJECTION] += len(families)
                if INJECTION in self.redacting:
                    out = INJECTION_MARKER
                    tally.changed = True
        return out

    def member(self, key: str, value: str, tally: Tally) -> str:
        """An object member or form field: its value, plus the rules that need its name."""
        before = tally.counts[SECRETS]
        pii_before = tally.counts[PII]
        out = self.text(value, tally)
        kind = self.scanner.pii_member(key, value, self.budget) if (
            PII in self.active and out is value and tally.counts[PII] == pii_before) else None
        if kind is not None and not (self.allow and self.scanner.allowed(value, self.allow)):
            tally.counts[PII] += 1
            if PII in self.redacting:
                tally.changed = True
                return f"[REDACTED:{kind}]"
        if (SECRETS in self.active and tally.counts[SECRETS] == before
                and self.scanner.secret_member(key, value)
                and not (self.allow and self.scanner.allowed(value, self.allow))):
            tally.counts[SECRETS] += 1
            if SECRETS in self.redacting:
                tally.changed = True
                return SECRET_MEMBER_MARKER
        return out

    def number(self, value: int, tally: Tally) -> Any:
        digits = str(abs(value))
        if PII not in self.active or not 13 <= len(digits) <= 19:
            return value
        findings = [f for f in self.scanner.find(digits, frozenset((PII,)), self.allow, self.budget)
                    if f.kind == "card"]
        if not findings:
            return value
        tally.counts[PII] += 1
        if PII in self.redacting:
            tally.changed = True
            return "[REDACTED:card]"
        return value

    def _rewrite_in_place(self, document: Any, dicts: list[dict[str, Any]],
                         lists: list[list[Any]], tally: Tally) -> Any:
        """
        Apply L{text}, L{member} and L{number} to every string, member and integer of a parsed
        document whose containers are C{dicts} and C{lists}, changing only what is redacted;
        returns the (possibly replaced) root. Strings that cannot hold a finding (outside the
        focus, no phrase possible, not a secret-named member) are not visited one by one.
        """
        focus = self._focus if self._focus is not None else set()
        # without a focus (or with a phrase somewhere) any string may hold a finding
        injection = self._phrases_possible and INJECTION in self.active
        every_string = self._focus is None or (injection and self._injection_focus is None)
        if injection and self._injection_focus:
            focus = focus | self._injection_focus
        by_name = SECRETS in self.active
        numbers = PII in self.active
        secret_name = self.scanner.secret_name
        text = self.text
        for node in dicts:
            renamed: dict[str, str] | None = None
            replaced: dict[str, Any] | None = None
            # a JSON Patch operation (RFC 6902): its value's name is the last step of its path
            path = node.get("path") if "op" in node else None
            patched = path.rpartition("/")[2] if isinstance(path, str) else None
            if patched is None and "value" in node:
                # a name/value pair (a Kubernetes env entry, a HAR header or form field, a FHIR
                # identifier's system): the value is named by its sibling
                patched = _pair_name(node)
            for key, value in node.items():
                if every_string or key in focus:
                    new_key = text(key, tally)
                    if new_key != key:
                        renamed = renamed or {}
                        renamed[key] = new_key
                if isinstance(value, str):
                    name = key if patched is None or key != "value" else patched
                    if every_string or value in focus or (
                            by_name and len(value) >= 6 and secret_name(name)) or (
                            numbers and 6 <= len(value) <= 26 and value[0] in _NUMBER_START):
                        new_value: Any = self.member(name, value, tally)
                    else:
                        continue
                elif numbers and type(value) is int and _CARD_RANGE[0] <= abs(value) < _CARD_RANGE[1]:
                    new_value = self.number(value, tally)
                else:
                    continue
                if new_value is not value:
                    replaced = replaced or {}
                    replaced[key] = new_value
            if renamed is not None:
                # as a rebuilt dict would: redacted keys that collide keep the last value
                pairs = [(renamed.get(k, k), replaced.get(k, v) if replaced else v)
                         for k, v in node.items()]
                node.clear()
                node.update(pairs)
            elif replaced is not None:
                node.update(replaced)
        for items in lists:
            # a [name, value] row (a sheet's rows, a list of pairs): the value is named by the first
            pair = items[0] if len(items) == 2 and type(items[0]) is str else None
            for index, value in enumerate(items):
                if isinstance(value, str):
                    if pair is not None and index == 1:
                        if every_string or value in focus or (by_name and len(value) >= 6 and secret_name(pair)) or (
                                numbers and 6 <= len(value) <= 26 and value[0] in _NUMBER_START):
                            new_value = self.member(pair, value, tally)
                            if new_value is not value:
                                items[index] = new_value
                    elif every_string or value in focus:
                        new_value = text(value, tally)
                        if new_value is not value:
                            items[index] = new_value
                elif numbers and type(value) is int and _CARD_RANGE[0] <= abs(value) < _CARD_RANGE[1]:
                    new_value = self.number(value, tally)
                    if new_value is not value:
                        items[index] = new_value
        if isinstance(document, str):
            return text(document, tally)
        if type(document) is int:
            return self.number(document, tally)
        return document

    # --- bodies ------------------------------------------------------------------------------

    def body(self, data: bytes, kind: str, tally: Tally) -> bytes | None:
        """Scan a whole body; returns the rewritten body when something was redacted, else None."""
        if not self.active or not data:
            return None
        if kind == "json":
            return self._json(data, tally)
        if kind == "form":
            return self._form(data, tally)
        return self._text(data, tally, kind == "binary")

    def _json(self, data: bytes, tally: Tally) -> bytes | None:
        # Without escapes every decoded string is a substring of the raw body, so one pass of
        # the sets over the raw bytes proves a benign body benign.
        # A member named like a secret (or an SSN) is checked by its name alone (no rule need match its value):
        # the same pass of the set looks for such names (Scanner.maybe).
        if b"\\" not in data and not self.scanner.maybe(data, self.active):
            return None
        dump: Callable[[Any], bytes]
        try:
            try:
                document = orjson.loads(data)
                dump = orjson.dumps
            except orjson.JSONDecodeError:
                document = strictjson.loads(data)  # integers beyond 64 bits
                dump = _std_dumps
            else:
                # What is scanned must be what the upstream reads: no member twice.
                strictjson.check_unique(data, document)
        except strictjson.DuplicateMember:
            raise
        except (ValueError, UnicodeDecodeError):
            return self._text(data, tally, False)
        strings: list[str] = []
        dicts: list[dict[str, Any]] = []
        lists: list[list[Any]] = []
        _collect_strings(document, strings, dicts, lists)
        # JSON inside a JSON string (a tool call's arguments, a HAR body): what the upstream acts on
        # is the decoded document, so that is what is scanned (and re-encoded where redacted).
        joined = "\n".join(strings)
        probe = self.active & _PII_SECRETS
        # whether a PII/secret rule matches the parsed strings raw (asked once, used twice)
        rule_match: bool | None = None
        nested: list[_Nested] = []
        if b"\\" in data and _ESCAPED_QUOTE.search(data) is not None:
            # the strings that could be JSON documents, and whether decoding them could show more
            # than their text: the body's own fast-path test (escapes, a rule's raw match, a
            # member named like a secret or an SSN), asked of all of them at once
            texts = "\n".join(value for value in strings if '"' in value and _looks_nested(value))
            if texts:
                rule_match = bool(probe) and self.scanner.maybe(joined, probe)
                # (the set's pass over the decoded strings also looks for secret- or SSN-named members)
                if rule_match or "\\" in texts:
                    nested = self._expand_nested(dicts, lists, strings, tally)
                    if nested:
                        joined = "\n".join(strings)
        if not nested and b"\\" in data:
            if rule_match is None:
                rule_match = bool(probe) and self.scanner.maybe(joined, probe)
            if not rule_match and not self.scanner.maybe(joined, self.active - probe) and \
                    not self.scanner.maybe(data, self.active, learned=False):
                return None
        self._focus = _touched(strings, self.scanner.spans(joined, self.active))
        self._phrases_possible = INJECTION in self.active and self.scanner.phrase_possible(joined)
        if self._phrases_possible:
            self._injection_focus = self._gate_touched(strings, joined)
        try:
            rewritten = self._rewrite_in_place(document, dicts, lists, tally)
        finally:
            self._focus = None
            self._phrases_possible = True
            self._injection_focus = None
        # the nested documents' own text is part of what the parsed values show
        self._hidden(data, tally, "\n".join([joined, *(n.text for n in nested)]) if nested else joined)
        if tally.changed:
            _reencode(nested)
            return dump(rewritten)
        return None

    def _expand_nested(self, dicts: list[dict[str, Any]], lists: list[list[Any]], strings: list[str],
                       tally: Tally) -> list[_Nested]:
        """
        Replace every string value that is itself a JSON object or array by its parsed document (in
        place, nested ones too), adding its strings and containers to the walk; returns what was
        replaced, outermost first. At most L{MAX_NESTED_DOCUMENTS} documents and
        L{MAX_NESTED_DEPTH} levels: strings past either bound that look like a document are not
        read, and if they could hold a finding they count as an unredactable hit of each active
        PII/secrets detector (redact and block both block).
        """
        out: list[_Nested] = []
        unread: list[str] = []
        # the containers to look in: the body's own, then each level's new ones
        level: list[Any] = [*dicts, *lists]
        depth = 1
        while level:
            found: list[Any] = []
            # a document with a string member holds a quote; one without holds only numbers,
            # which the raw scan of the body already sees
            candidates = [(node, slot, value) for node in level
                          for slot, value in (node.items() if type(node) is dict else enumerate(node))
                          if type(value) is str and '"' in value and _looks_nested(value)]
            if not candidates or not self._may_hold("\n".join(value for _, _, value in candidates)):
                break  # (a document nested deeper would show as an escape here)
            for node, slot, value in candidates:
                past = depth > MAX_NESTED_DEPTH or len(out) >= MAX_NESTED_DOCUMENTS
                if past and unread:
                    continue  # one document left unread decides the body
                raw = value.encode("utf-8", "surrogatepass")
                if len(candidates) > 1 and not self._may_hold(raw):
                    continue
                if past:
                    unread.append(value)
                    continue
                try:
                    try:
                        inner = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        inner = strictjson.loads(raw)  # integers beyond 64 bits, lone surrogates
                except strictjson.DuplicateMember:
                    raise
                except ValueError:
                    continue  # not JSON: scanned as the text it is
                if type(inner) is not dict and type(inner) is not list:
                    continue
                inner_dicts: list[dict[str, Any]] = []
                inner_lists: list[list[Any]] = []
                _collect_strings(inner, strings, inner_dicts, inner_lists)
                # what is scanned must be what the tool reads: no member twice
                strictjson.check_member_count(raw, sum(map(len, inner_dicts)))
                out.append(_Nested(node, slot, inner, value))
                found.extend(inner_dicts)
                found.extend(inner_lists)
            dicts.extend(d for d in found if type(d) is dict)
            lists.extend(li for li in found if type(li) is list)
            level = found
            depth += 1
        # replaced after the walk: no dict changes while it is walked
        for item in out:
            item.node[item.slot] = item.document
        if unread:
            self._unread(unread, tally)
        return out

    def _may_hold(self, text: str | bytes) -> bool:
        """
        Whether decoding the JSON document(s) in C{text} could show a finding that scanning C{text} as
        it is cannot: the body's own fast-path test (an escape, a PII/secret rule's raw match, or a
        member named like a secret or an SSN).
        """
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        probe = self.active & _PII_SECRETS
        return b"\\" in raw or bool(probe) and self.scanner.maybe(raw, probe)

    def _unread(self, values: list[str], tally: Tally) -> None:
        """Documents past the bounds (each could hold a finding): an unredactable hit of PII and secrets."""
        for detector in (PII, SECRETS):
            if detector in self.active:
                tally.counts[detector] += 1
                tally.unredactable.add(detector)

    def _gate_touched(self, strings: list[str], joined: str) -> set[str] | None:
        """
        The strings that the learned detector's gate matched in, when no phrase matched the
        document (a phrase, or normalisation that moves offsets, means every string is checked).
        """
        spans = self.scanner.gate_spans(joined)
        return None if spans is None else _touched(strings, spans)

    def _hidden(self, raw: bytes, tally: Tally, parsed: str | None = None) -> None:
        """
        Detectors that fire on the raw bytes but not on the parsed values: content a parser does
        not show (a duplicate member the upstream may read instead). It cannot be redacted.
        A raw match whose text the parsed values do show was already judged there (a validator
        may have rejected it in its context): it is not hidden content.
        """
        text = raw.decode("utf-8", "replace")
        # only detectors without a hit can be added, so only those are looked for
        seen: set[str] = set()
        missing = frozenset(d for d in (PII, SECRETS) if d in self.active and not tally.counts[d])
        if missing:
            # Each "shown in the parsed values" check searches the whole parsed text: at most
            # CHECK_BUDGET of them per body, and a detector still undecided past that is taken as
            # hidden (refused: fail closed) rather than searched for in quadratic time.
            checks = CHECK_BUDGET
            for finding in self.scanner.find(text, missing, self.allow, self.budget):
                if finding.detector in seen:
                    continue
                if parsed is None:
                    seen.add(finding.detector)
                    continue
                checks -= 1
                if checks < 0 or text[finding.start:finding.end] not in parsed:
                    seen.add(finding.detector)
        if INJECTION in self.active and not tally.counts[INJECTION]:
            families = self.scanner.injection(text)
            if families and self.learned_alert_only and families == [LEARNED]:
                if not tally.alerts[INJECTION]:
                    tally.alerts[INJECTION] += 1
            elif families:
                seen.add(INJECTION)
        for detector in seen:
            if not tally.counts[detector]:
                tally.counts[detector] += 1
                tally.unredactable.add(detector)

    def _form(self, data: bytes, tally: Tally) -> bytes | None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return self._text(data, tally, False)
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
        out = [(self.text(k, tally), self.member(k, v, tally)) for k, v in pairs]
        self._hidden(data, tally, "\n".join(f"{k}={v}" for k, v in pairs))
        if tally.changed:
            return urlencode(out).encode("ascii")
        return None

    def _text(self, data: bytes, tally: Tally, binary: bool) -> bytes | None:
        try:
            text, codec = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, codec = data.decode("latin-1"), "latin-1"
            binary = True
        new = self.text(text, tally)
        if binary and tally.changed:
            # Rewriting bytes of a binary body could corrupt it: refuse what would be redacted.
            tally.unredactable.update(d for d in tally.counts if d in self.redacting)
            tally.changed = False
            return None
        return new.encode(codec) if tally.changed else None


# Bounds on JSON documents inside JSON strings, per body: how many are read, and how deep they nest
# (a string in the body is level 1, a string inside that document level 2, ...).
MAX_NESTED_DOCUMENTS = 1024
MAX_NESTED_DEPTH = 4
_JSON_SPACE = " \t\r\n"
_PII_SECRETS = frozenset((PII, SECRETS))
# a JSON document inside a JSON string holds an escaped quote in the raw body (re2: a search for
# two bytes whose first is common, such as the backslash of every \n, is slow with bytes.find)
_ESCAPED_QUOTE = re2.compile(rb'\\"')


@dataclass
class _Nested:
    """A JSON string value replaced by its parsed document: where it was, and its original text."""

    node: Any  # the dict or list holding it
    slot: Any  # its key or index there
    document: Any
    text: str


def _looks_nested(value: str) -> bool:
    """Whether a string could be a JSON object or array (cheap: its first and last characters)."""
    first = value[0]
    if first != "{" and first != "[":
        if first not in _JSON_SPACE:
            return False
        value = value.strip(_JSON_SPACE)
        if not value:
            return False
        first = value[0]
    last = value[-1]
    if last in _JSON_SPACE:
        last = value.rstrip(_JSON_SPACE)[-1:]
    return (first == "{" and last == "}") or (first == "[" and last == "]")


def _reencode(nested: list[_Nested]) -> None:
    """
    Put each nested document back as a string, innermost first: its original text where nothing in
    it was redacted, else the re-encoded document (valid JSON, the redactions in place).
    """
    for item in reversed(nested):
        new = _encode(item.document)
        if new != _encode(strictjson.loads(item.text)):
            item.node[item.slot] = new
        else:
            item.node[item.slot] = item.text


def _encode(document: Any) -> str:
    try:
        return orjson.dumps(document).decode("utf-8")
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return _std_dumps(document).decode("utf-8")


# The members that name a "value" member beside them: Kubernetes EnvVar and HAR's name/value
# pairs, key/value lists, FHIR Identifier's system (http://hl7.org/fhir/sid/us-ssn).
_PAIR_NAMES = ("name", "key", "system")


def _pair_name(node: dict[str, Any]) -> str | None:
    for member in _PAIR_NAMES:
        named = node.get(member)
        if type(named) is str:
            return named
    return None


def _collect_strings(node: Any, out: list[str], dicts: list[dict[str, Any]],
                     lists: list[list[Any]]) -> None:
    """Every key and string of a parsed document into C{out}; its containers into the others."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            dicts.append(item)
            out.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            lists.append(item)
            stack.extend(item)


def _touched(strings: list[str], spans: list[tuple[int, int]]) -> set[str]:
    """The strings (joined with one newline each) that any of C{spans} overlaps."""
    if not spans:
        return set()
    starts = list(accumulate(map(add, map(len, strings), repeat(1)), initial=0))
    out: set[str] = set()
    for start, end in spans:
        first = bisect_right(starts, start) - 1
        last = bisect_right(starts, max(start, end - 1)) - 1
        out.update(strings[max(first, 0):last + 1])
    return out


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
