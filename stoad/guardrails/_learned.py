"""The learned prompt-injection detector: word, word-pair and word-prefix features, a linear model.

Weights are a compact file shipped in the package (trained by contrib/injection/train.py) and read
with the standard library; a re2 gate of the model's strongest words skips text that cannot score.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from array import array
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from itertools import accumulate, chain, repeat
from operator import add, itemgetter, sub
from typing import Any, Iterable

import orjson
import re2

MAGIC = b"STOAD-INJECTION-MODEL 1\n"
MODEL_FILE = "injection_model.bin"
# Words scored together and words between window starts, for new models (the third retrain's
# choice on validation); a model file says its own (the shipped one: 64 and 32).
WINDOW = 16
STRIDE = 4
MIN_TOKENS = 4
FEATURES_PER_TOKEN = 3
# \w+, plus the Arabic and Indic blocks whole: their vowel signs and marks are not \w, and
# would cut every word into pieces.
_TOKEN = re.compile(r"[\w\u0600-\u06ff\u0900-\u0dff]+")
_PREFIX = itemgetter(slice(0, 5))


# ASCII bytes: letters, digits and "_" kept, everything else a space (what \w+ splits on).
_ASCII_WORDS = bytes(c if chr(c).isalnum() or c == 95 else 32 for c in range(128)) + b" " * 128


# Scripts written without spaces (Chinese, Japanese kana and kanji): a run of them is cut into
# overlapping character pairs. Only their \w characters (the kana voicing marks and a few
# unassigned points are not, and separate words as any other non-word character).
_UNSPACED = re.compile("([\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
                       "\uf900-\ufa6d\ufa70-\ufad9\uff66-\uff9f]+)")


def tokens(normalised: str) -> list[str]:
    """The words of text already passed through L{stoad.guardrails._detectors.normalise}."""
    if normalised.isascii():
        # the same words as the pattern, several times faster: a byte table and str.split
        return normalised.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    pieces = _UNSPACED.split(normalised)
    if len(pieces) == 1:
        return _TOKEN.findall(normalised)
    out: list[str] = []
    findall = _TOKEN.findall
    # split keeps the runs at odd places: [other, run, other, run, ..., other]; cutting at the
    # runs first gives the same words as \w+ followed by cutting each word at its runs
    for i, piece in enumerate(pieces):
        if not i % 2:
            if piece:
                out += findall(piece)
        elif len(piece) > 1:
            out += map(add, piece, piece[1:])
        else:
            out.append(piece)
    return out


def gate_entry(entry: str) -> str:
    """
    The re2 pattern of one gate entry (a word, or words separated by a space). re2's C{\\b} is
    an ASCII word boundary, so an entry with other letters (Cyrillic, Arabic, a CJK pair) is
    matched without one.
    """
    body = r"\W+".join(re2.escape(w) for w in entry.split(" "))
    return r"\b" + body + r"\b" if entry.isascii() else body


def features(words: list[str]) -> list[str]:
    """Every feature of a run of words: C{u:word}, C{b:word word} (pairs), C{p:prefix} (5 letters)."""
    out = ["u:" + w for w in words]
    out.extend("b:" + a + " " + b for a, b in zip(words, words[1:], strict=False))
    out.extend("p:" + p for p in map(_PREFIX, words))
    return out


def scale(count: int) -> float:
    """The factor every feature of a window of C{count} words is weighted by."""
    return 1.0 / math.sqrt(FEATURES_PER_TOKEN * count)


@dataclass(frozen=True)
class InjectionModel:
    """A linear model over L{features}; L{score} is the highest window score of a text."""

    unigrams: dict[str, float]
    bigrams: dict[tuple[str, str], float]  # keyed by word pairs: a tuple hashes faster than a join
    prefixes: dict[str, float]
    bias: float
    threshold: float
    gate: tuple[str, ...]
    gate_min: int = 1  # distinct gate words a text needs before it is scored
    window: int = WINDOW  # words scored together; a longer text's score is its best window's
    stride: int = STRIDE  # windows start every this many words (and one ends at the text's end)

    def gate_pattern(self) -> str:
        """A re2 pattern of the gate's words and word pairs, one of which the text must contain."""
        if not self.gate:
            return r"[^\s\S]"
        return "|".join(gate_entry(entry) for entry in self.gate)

    def score(self, words: list[str]) -> float:
        n = len(words)
        if n < MIN_TOKENS:
            return -math.inf
        zero = repeat(0.0)
        own = map(add, map(self.unigrams.get, words, zero), map(self.prefixes.get, map(_PREFIX, words), zero))
        # a pair counts for its second word
        pairs = chain((0.0,), map(self.bigrams.get, zip(words, words[1:], strict=False), zero))
        sums: list[float] = list(accumulate(map(add, own, pairs), initial=0.0))
        window, stride = self.window, self.stride
        if n <= window:
            return self.bias + sums[n] * scale(n)
        # every window starting at a multiple of the stride, and the one that ends the text
        best: float = max(max(map(sub, sums[window::stride], sums[:n - window + 1:stride])), sums[n] - sums[n - window])
        return self.bias + best * scale(window)

    def flags(self, words: list[str]) -> bool:
        return self.score(words) >= self.threshold

    def passes_gate(self, gate: Any, normalised: str | bytes) -> bool:
        """Whether C{normalised} holds C{gate_min} distinct gate words (C{gate}: the compiled pattern)."""
        if self.gate_min <= 1:
            return gate.search(normalised) is not None
        seen: set[str | bytes] = set()
        for match in gate.finditer(normalised):
            seen.add(match.group(0))
            if len(seen) >= self.gate_min:
                return True
        return False


def dump(model: InjectionModel, extra: dict[str, object] | None = None) -> bytes:
    """The model file: magic line, a JSON header line, float32 weights, then the feature names."""
    names: list[str] = []
    weights = array("f")
    tables: tuple[tuple[str, dict[str, float]], ...] = (
        ("u:", model.unigrams), ("b:", {" ".join(k): v for k, v in model.bigrams.items()}), ("p:", model.prefixes))
    for prefix, table in tables:
        for name in sorted(table):
            names.append(prefix + name)
            weights.append(table[name])
    if sys.byteorder == "big":
        weights.byteswap()
    header = {"bias": model.bias, "threshold": model.threshold, "gate": list(model.gate), "gate_min": model.gate_min,
              "features": len(names), "window": model.window, "stride": model.stride, **(extra or {})}
    blob = weights.tobytes()
    return MAGIC + orjson.dumps(header) + b"\n" + struct.pack("<I", len(blob)) + blob + \
        "\n".join(names).encode("utf-8")


def load(data: bytes) -> InjectionModel:
    """Read a model file made by L{dump}; ValueError when it is not one."""
    try:
        return _load(data)
    except (KeyError, TypeError, struct.error, UnicodeDecodeError, orjson.JSONDecodeError) as e:
        raise ValueError(f"broken injection model file: {type(e).__name__}") from None


def _load(data: bytes) -> InjectionModel:
    if not data.startswith(MAGIC):
        raise ValueError("not a stoad injection model file")
    rest = data[len(MAGIC):]
    line, _, rest = rest.partition(b"\n")
    header = orjson.loads(line)
    window, stride = header["window"], header["stride"]
    if not (isinstance(window, int) and isinstance(stride, int) and 0 < stride <= window):
        raise ValueError("model file has no valid window")
    (size,) = struct.unpack("<I", rest[:4])
    weights = array("f")
    weights.frombytes(rest[4:4 + size])
    if sys.byteorder == "big":
        weights.byteswap()
    names = rest[4 + size:].decode("utf-8").split("\n") if header["features"] else []
    if len(names) != len(weights) or len(names) != header["features"] or \
            any(name[:2] not in ("u:", "b:", "p:") for name in names):
        raise ValueError("model file is truncated")
    model = from_weights(zip(names, weights, strict=True), float(header["bias"]), float(header["threshold"]),
                         header["gate"], int(header.get("gate_min", 1)))
    return replace(model, window=window, stride=stride)


def from_weights(weights: Iterable[tuple[str, float]], bias: float, threshold: float,
                 gate: Iterable[str], gate_min: int = 1) -> InjectionModel:
    """A model from C{(feature, weight)} pairs as L{features} names them."""
    tables: dict[str, dict[str, float]] = {"u:": {}, "b:": {}, "p:": {}}
    for name, weight in weights:
        tables[name[:2]][name[2:]] = weight
    pairs: dict[tuple[str, str], float] = {}
    for pair, weight in tables["b:"].items():
        first, _, second = pair.partition(" ")
        pairs[(first, second)] = weight
    return InjectionModel(tables["u:"], pairs, tables["p:"], bias, threshold, tuple(gate), gate_min)


@cache
def builtin_model() -> InjectionModel:
    """The model shipped in the package (read once per process)."""
    return load(resources.files("stoad.guardrails").joinpath(MODEL_FILE).read_bytes())
