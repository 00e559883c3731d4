"""Scores stoad's guardrails on the independent corpus: the JSON/text body path and the SSE stream scanner.

Used by tests/test_guardrails_independent.py and, to print the tables, by ``python -m tests.independent_scoring``.
"""

from __future__ import annotations

import json
import os
import sys
from types import ModuleType
from typing import Any

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import ContentScanner, Scanner, Tally, builtin_phrases, builtin_rules
from tests.support.modules import load_by_path
from tests.test_guardrails_response import context, make_layer, run

CORPUS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "guardrails", "independent",
                           "corpus.py")
HELDOUT3_PATH = os.path.join(os.path.dirname(CORPUS_PATH), "heldout3.py")


def load_corpus() -> ModuleType:
    return load_by_path("stoad_guardrails_independent_corpus", CORPUS_PATH)


def load_heldout3() -> ModuleType:
    """The third held-out split, a module of its own next to corpus.py (it reuses corpus.py's Sample and helpers)."""
    return load_by_path("stoad_guardrails_independent_heldout3", HELDOUT3_PATH)


def delta_text(doc: Any) -> str | None:
    """The text of one streamed delta: OpenAI chat chunks, Anthropic content_block_delta, OpenAI Responses deltas,
    Gemini ``candidates`` chunks and Cohere v2 ``content-delta`` events (the last two only heldout3 uses)."""
    if not isinstance(doc, dict):
        return None
    try:
        if doc.get("type") == "content_block_delta":
            return str(doc["delta"]["text"])
        if doc.get("type") == "response.output_text.delta":
            return str(doc["delta"])
        if doc.get("type") == "content-delta":
            return str(doc["delta"]["message"]["content"]["text"])
        if "candidates" in doc:
            return "".join(str(p.get("text", "")) for p in doc["candidates"][0]["content"]["parts"])
        return str(doc["choices"][0]["delta"]["content"])
    except (KeyError, IndexError, TypeError):
        return None


def stream_text(out: bytes) -> str:
    """The text a client rebuilds from an SSE response: chunk deltas, or the data: lines of plain events.

    ``event:`` and ``id:`` lines carry no text; the end markers of each framing (``[DONE]``, Anthropic's
    ``message_stop``, Cohere's ``message-end``, an empty ``{}``) are dropped.
    """
    text = []
    for event in out.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
        data = b"\n".join(lines)
        if data.startswith(b"{"):
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            piece = delta_text(doc)
            if piece is not None:
                text.append(piece)
                continue
            if isinstance(doc, dict) and doc.get("type") in ("message_stop", "message-end"):
                continue
        if data not in (b"[DONE]", b"{}"):
            text.append(data.decode("utf-8", "replace"))
    return "".join(text)


def readable(secret: str, text: str) -> bool:
    """Whether a piece of the secret (a third of it, at least 6 characters) is left in the text."""
    squeezed = text.replace("\n", "")
    n = max(6, len(secret) // 3)
    if len(secret) <= n:
        return secret in squeezed
    return any(secret[i:i + n] in squeezed for i in range(len(secret) - n + 1))


class Predictor:
    """Runs a sample through the body path (alert) or, for streams, the real response filter (redact)."""

    def __init__(self, phone_regions: tuple[str, ...]) -> None:
        scanner = Scanner(builtin_rules(phone_regions), builtin_phrases())
        self.content = ContentScanner(scanner, {"pii": "alert", "secrets": "alert"}, None)
        # one layer serves every response, as in the gateway; each sample has its own exchange
        self.layer = make_layer({"pii.response": "redact", "secrets.response": "redact", "injection.response": "off",
                                 "phone_regions": " ".join(phone_regions)})

    def __call__(self, sample: Any) -> tuple[set[str], bool]:
        if sample.carrier.startswith("sse"):
            ctx = context()
            out = run(self.layer, ctx, sample.content_type, list(sample.chunks))
            fired = {t.detector for t in ctx.guardrail_triggers}
            return fired, not readable(sample.secret, stream_text(out))
        tally = Tally()
        kind = "json" if sample.carrier.startswith("json") else "text"
        self.content.body(sample.chunks[0], kind, tally)
        return set(tally.counts), True


def score_split(split: str) -> tuple[dict[str, dict[str, dict[str, float]]], list[tuple[Any, set[str], bool]]]:
    """The score tables of one split, and every sample it got wrong."""
    corpus = load_corpus()
    # the deployment the corpus models: its countries' national numbers are read (phone_regions)
    predict = Predictor(tuple(corpus.DEPLOYMENT_REGIONS))
    if split == "heldout3":
        samples = load_heldout3().generate()
    else:
        samples = [s for s in corpus.generate() if s.split == split]
    wrong = []
    results = {}
    for s in samples:
        results[s.id] = predict(s)
        fired, whole = results[s.id]
        fired &= {"pii", "secrets"}
        ok = (s.detector in fired and whole and fired <= {s.detector}) if s.positive else not fired
        if not ok:
            wrong.append((s, fired, whole))
    return corpus.score(samples, lambda s: results[s.id]), wrong


def table(scores: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = []
    for name, cells in scores.items():
        rows.append(f"| {name} | P | R | tp | fp | fn | tn |")
        for key, c in sorted(cells.items()):
            rows.append(f"| {key} | {c['precision']:.3f} | {c['recall']:.3f} | {c['tp']:.0f} | {c['fp']:.0f} "
                        f"| {c['fn']:.0f} | {c['tn']:.0f} |")
    return "\n".join(rows)


SPLITS = ("dev", "heldout", "heldout2", "heldout3")

if __name__ == "__main__":
    split = sys.argv[1] if len(sys.argv) > 1 else "dev"
    if split not in SPLITS:
        sys.exit(f"usage: python -m tests.independent_scoring {'|'.join(SPLITS)} [-v]")
    scores, wrong = score_split(split)
    print(table(scores))
    if "-v" in sys.argv:
        for s, fired, whole in wrong:
            print(s.id, s.family, s.template, sorted(fired), "whole" if whole else "PARTIAL", repr(s.value[:90]))
