"""Guardrails scanning speed: 10 KB benign JSON, 10 KB with hits, and 1 MB adversarial bodies.

Run: .venv/bin/python bench/bench_guardrails.py   (targets: benign <= 100 us, hits <= 1 ms,
adversarial time growing linearly with size)
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Callable

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, ContentScanner, Scanner, Tally, builtin_phrases

SCANNER = Scanner(BUILTIN_RULES, builtin_phrases())
ACTIONS = {"pii": "redact", "secrets": "redact", "injection": "block"}
CONTENT = ContentScanner(SCANNER, ACTIONS, None)


def benign(size: int = 10_000) -> bytes:
    items = []
    i = 0
    while len(json.dumps({"items": items})) < size:
        items.append({"id": i, "name": f"widget {i}", "price": round(i * 1.37, 2), "in_stock": i % 3 != 0,
                      "description": "A sturdy general purpose widget for everyday tasks around the house.",
                      "tags": ["tools", "home", "garden"]})
        i += 1
    return json.dumps({"items": items}).encode()


def benign_prose(size: int = 10_000) -> bytes:
    text = ("The quarterly report shows steady growth in all regions.\nPlease review the attached "
            "summary before Friday's meeting and send comments.\n")
    return json.dumps({"messages": [{"role": "user", "content": text * (size // len(text))}]}).encode()


def with_hits(size: int = 10_000) -> bytes:
    doc = json.loads(benign(size))
    doc["items"][3]["description"] = "Contact jane@example.org or (415) 555-2671, card 4111 1111 1111 1111"
    doc["items"][7]["name"] = "key ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
    doc["items"][9]["tags"].append("DE89 3704 0044 0532 0130 00")
    return json.dumps(doc).encode()


def adversarial(size: int) -> dict[str, bytes]:
    """Inputs that make backtracking engines blow up: long near-matches of every pattern shape."""
    return {
        "digits": json.dumps({"q": "4" + "1 " * (size // 2)}).encode(),
        "email-ish": json.dumps({"q": "a." * (size // 2) + "@"}).encode(),
        "phrase-ish": json.dumps({"q": "ignore all all all " * (size // 19)}).encode(),
        "pem-ish": json.dumps({"q": "-----BEGIN PRIVATE KEY-----" + "A" * size}).encode(),
        "token-ish": json.dumps({"q": "api_key=" + "a1" * (size // 2)}).encode(),
    }


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def scan(body: bytes) -> Callable[[], object]:
    return lambda: CONTENT.body(body, "json", Tally())


def main() -> None:
    for name, body, repeat in (("10 KB benign JSON (catalogue)", benign(), 2000),
                               ("10 KB benign JSON (prose with newlines)", benign_prose(), 2000),
                               ("10 KB JSON with 5 hits", with_hits(), 500)):
        print(f"{name:45s} {len(body):8d} B  {timed(scan(body), repeat) * 1e6:9.1f} us (median)")
    for size in (250_000, 500_000, 1_000_000):
        for name, body in adversarial(size).items():
            print(f"adversarial {name:18s} {len(body):15d} B  {timed(scan(body), 3) * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()
