"""Train the learned injection detector (run by `make train-injection`; fixed seed, reproducible).

Fits a logistic regression on the training split of the template corpus (corpus.py) and of the
contrastive carrier pairs (carriers.py), one row per window the runtime scores; chooses the
regularisation, the threshold (false-positive rate <= 0.5 % on the validation split's benign
texts and on benign training texts scored by models that never saw their template or carrier
source) and the re2 gate on the validation split only. The held-out split (heldout.py) is never
read here: score.py scores it, once per model. Scores are computed by the runtime scorer
(stoad.guardrails._learned) on the pruned float32 weights that the file holds.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
from typing import Any

import numpy as np
import re2
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import carriers  # noqa: E402

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails._detectors import normalise
from stoad.guardrails._learned import (
    STRIDE,
    WINDOW,
    InjectionModel,
    dump,
    features,
    from_weights,
    load,
    scale,
    tokens,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1204
MAX_FPR = 0.005
KEEP = 60_000  # features kept, by absolute weight
C_VALUES = (1.0, 4.0, 16.0, 64.0)
FOLDS = 5  # folds by template, for the threshold's second estimate
OPTIONS = re2.Options()
OPTIONS.max_mem = 64 << 20  # as the runtime compiles the gate


def span_words(example: carriers.Example) -> tuple[int, int] | None:
    """The inserted span as word positions (the words before its start and before its end)."""
    if example.span is None:
        return None
    start, end = example.span
    return len(tokens(normalise(example.text[:start]))), len(tokens(normalise(example.text[:end])))


def windows(words: list[str], label: int, span: tuple[int, int] | None, window: int,
            stride: int) -> list[tuple[list[str], int]]:
    """
    The training rows of one text, as the runtime scores it: a text up to one window long is one row;
    a longer one is cut into the runtime's windows. A benign text's windows are all benign; of a text
    with an inserted span, the windows holding (most of) the span are injections and the windows
    without any of it benign. A template injection longer than a window stays one row.
    """
    n = len(words)
    if n <= window or (label == 1 and span is None):
        return [(words, label)]
    starts = list(range(0, n - window + 1, stride if label else max(stride, window // 2)))
    if starts[-1] != n - window:
        starts.append(n - window)
    if label == 0:
        return [(words[s:s + window], 0) for s in starts]
    assert span is not None
    a, b = span
    out = []
    for s in starts:
        overlap = min(b, s + window) - max(a, s)
        if overlap >= 0.8 * min(b - a, window):
            out.append((words[s:s + window], 1))
        elif overlap <= 0:
            out.append((words[s:s + window], 0))
    return out or [(words, label)]


def vector(words: list[str]) -> dict[str, float]:
    """The training view of a text: each feature's count times the runtime's window scale."""
    factor = scale(len(words)) if words else 0.0
    out: dict[str, float] = {}
    for feature in features(words):
        out[feature] = out.get(feature, 0.0) + factor
    return out


def threshold_for(negative_scores: list[float]) -> float:
    """The lowest threshold at which at most MAX_FPR of these negatives score at or above it."""
    ordered = sorted(negative_scores, reverse=True)
    allowed = math.floor(MAX_FPR * len(ordered))
    return float(np.nextafter(np.float32(ordered[allowed]), np.float32(np.inf)))


def evaluate(model: InjectionModel, gate: Any, texts: list[str], labels: list[int]) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    for text, label in zip(texts, labels, strict=True):
        norm = normalise(text)
        flagged = model.passes_gate(gate, norm) and model.flags(tokens(norm))
        tp += flagged and label == 1
        fp += flagged and label == 0
        fn += (not flagged) and label == 1
        tn += (not flagged) and label == 0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
            "fpr": round(fp / (fp + tn), 4) if fp + tn else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="the model file to write")
    parser.add_argument("--metrics", required=True, help="a JSON file for the figures")
    parser.add_argument("--window", type=int, default=WINDOW, help="words scored together")
    parser.add_argument("--stride", type=int, default=STRIDE, help="words between window starts")
    parser.add_argument("--without-lookalikes", action="store_true",
                        help="leave out the look-alike carriers (lookalikes.py): the shipped model's corpus")
    args = parser.parse_args()
    random.seed(SEED)
    np.random.seed(SEED)
    samples = carriers.examples(with_lookalikes=not args.without_lookalikes)
    split: dict[str, tuple[list[str], list[int], list[list[str]]]] = {}
    templates: dict[str, list[str]] = {}
    parts: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for name in carriers.corpus.SPLITS:
        part = [s for s in samples if s.split == name]
        texts = [s.text for s in part]
        split[name] = (texts, [s.label for s in part], [tokens(normalise(t)) for t in texts])
        templates[name] = [s.group for s in part]
        parts[name] = [s.part for s in part]
        sources[name] = [s.source for s in part]
    train_spans = [span_words(s) for s in samples if s.split == "train"]
    row_of: list[int] = []  # the training text each row comes from
    row_words: list[list[str]] = []
    row_labels: list[int] = []
    for i, (words, label, span) in enumerate(zip(split["train"][2], split["train"][1], train_spans, strict=True)):
        for piece, row_label in windows(words, label, span, args.window, args.stride):
            row_of.append(i)
            row_words.append(piece)
            row_labels.append(row_label)
    print(f"{len(row_words)} training rows from {len(train_spans)} texts", file=sys.stderr)
    vectoriser = DictVectorizer(sort=True)
    x_train = vectoriser.fit_transform([vector(w) for w in row_words]).tocsr()
    x_train.indices = x_train.indices.astype(np.int32)  # liblinear takes 32-bit indices only
    x_train.indptr = x_train.indptr.astype(np.int32)
    y_rows = np.array(row_labels)
    y_train = np.array(split["train"][1])
    rows_of_text: list[list[int]] = [[] for _ in train_spans]
    for row, text in enumerate(row_of):
        rows_of_text[text].append(row)
    names = vectoriser.get_feature_names_out()
    val_texts, val_labels, val_words = split["validation"]
    # Benign look-alike carriers of the (family, language) pairs training never saw: the closest
    # the corpus has to another author's benign text that talks about instructions.
    held_lookalikes = [i for i, (y, source) in enumerate(zip(val_labels, sources["validation"], strict=True))
                       if y == 0 and source.startswith("lookalike-")]

    train_words = split["train"][2]
    groups = np.array(templates["train"])

    def fitted(c: float, texts: Any) -> InjectionModel:
        """The pruned float32 model fitted on these training texts' rows (threshold 0)."""
        rows = np.array([row for text in texts for row in rows_of_text[text]])
        fit = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, solver="liblinear",
                                 random_state=SEED).fit(x_train[rows], y_rows[rows])
        coef = fit.coef_[0]
        order = np.argsort(-np.abs(coef))[:KEEP]
        weights = [(str(names[i]), float(np.float32(coef[i]))) for i in order if abs(coef[i]) >= 1e-4]
        model = from_weights(weights, float(np.float32(fit.intercept_[0])), 0.0, ())
        return dataclasses.replace(model, window=args.window, stride=args.stride)

    everything = np.arange(len(y_train))
    best: tuple[float, float, InjectionModel] | None = None
    for c in C_VALUES:
        model = fitted(c, everything)
        negatives = [model.score(w) for w, y in zip(val_words, val_labels, strict=True) if y == 0]
        # The validation split has few benign templates, and a threshold set on them alone let
        # benign phrasings of other templates through. The benign training texts scored by
        # models that never saw their template (folds by template) give a second estimate; the
        # threshold is the strictest of the estimates.
        unseen: list[float] = []
        for fit_rows, held_rows in GroupKFold(n_splits=FOLDS).split(everything, y_train, groups):
            fold = fitted(c, fit_rows)
            unseen.extend(fold.score(train_words[i]) for i in held_rows if y_train[i] == 0)
        # The third estimate: the held-out look-alikes alone, whose benign texts are few among
        # the validation split's but the hardest.
        lookalike = (threshold_for([model.score(val_words[i]) for i in held_lookalikes])
                     if held_lookalikes else -math.inf)
        threshold = max(threshold_for(negatives), threshold_for(unseen), lookalike)
        model = dataclasses.replace(model, threshold=threshold)
        recall = evaluate(model, re2.compile(r"[\s\S]", OPTIONS), val_texts, val_labels)["recall"]
        print(f"C={c}: validation recall {recall} at FPR <= {MAX_FPR} (threshold {threshold:.3f}: validation "
              f"{threshold_for(negatives):.3f}, folds {threshold_for(unseen):.3f}, held-out look-alikes "
              f"{lookalike:.3f})", file=sys.stderr)
        if best is None or recall > best[0]:
            best = (recall, c, model)
    assert best is not None
    recall, c, model = best

    # The gate: the fewest strongest words (by weight) that keep validation recall (within a
    # tolerance), taken only from words rare in benign training text, so that most benign text
    # never reaches the model.
    negatives_with: dict[str, int] = {}
    train_negatives = [w for w, y in zip(split["train"][2], split["train"][1], strict=True) if y == 0]
    for words in train_negatives:
        for item in set(words):
            negatives_with[item] = negatives_with.get(item, 0) + 1
    # Short words are left out: digits normalised to letters ("41" -> "ai") make them common;
    # a character pair of an unspaced script (Chinese, Japanese) is a word there.

    def candidates(rare_fraction: float) -> list[tuple[float, str]]:
        rare = rare_fraction * len(train_negatives)
        return sorted(((w, name) for name, w in model.unigrams.items()
                       if w > 0 and len(name) >= (4 if name.isascii() else 2) and name.isalpha()
                       and negatives_with.get(name, 0) <= rare),
                      reverse=True)

    # Two distinct gate words are asked for first (benign prose often has one), from words in at
    # most 2 % of benign texts; else one word, from words in at most 0.3 %, if two lose more
    # than a point of validation recall. When no gate keeps recall within its tolerance, the
    # gate with the best validation recall is taken (ties: two words, then the smaller gate).
    chosen: InjectionModel | None = None
    best_gate: tuple[float, int, int, InjectionModel] | None = None
    for gate_min, tolerance, rare_fraction in ((2, 0.01, 0.02), (1, 0.005, 0.003)):
        positive = candidates(rare_fraction)
        for size in (50, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200, len(positive)):
            gate = tuple(name for _, name in positive[:size])
            candidate = dataclasses.replace(model, gate=gate, gate_min=gate_min)
            gated = evaluate(candidate, re2.compile(candidate.gate_pattern(), OPTIONS), val_texts,
                             val_labels)["recall"]
            print(f"gate of {size}, {gate_min} distinct: validation recall {gated}", file=sys.stderr)
            if best_gate is None or (gated, gate_min, -size) > best_gate[:3]:
                best_gate = (gated, gate_min, -size, candidate)
            if gated >= recall - tolerance:
                chosen = candidate
                break
        if chosen is not None:
            break
    if chosen is None:
        assert best_gate is not None
        chosen = best_gate[3]
    model = chosen

    blob = dump(model, {"seed": SEED, "C": c, "corpus_seed": carriers.corpus.SEED})
    model = load(blob)  # figures from exactly what ships
    gate_re = re2.compile(model.gate_pattern(), OPTIONS)
    figures = {name: evaluate(model, gate_re, split[name][0], split[name][1]) for name in carriers.corpus.SPLITS}
    for name in carriers.corpus.SPLITS:
        for part_name in ("templates", "carriers"):
            rows = [i for i, p in enumerate(parts[name]) if p == part_name]
            figures[f"{name}: {part_name}"] = evaluate(model, gate_re, [split[name][0][i] for i in rows],
                                                       [split[name][1][i] for i in rows])
    for name in carriers.corpus.SPLITS:
        # look-alike carriers alone and with spans inserted, per family (validation: the held-out pairs)
        for family in carriers.lookalikes.FAMILIES:
            rows = [i for i, source in enumerate(sources[name]) if source.startswith(f"lookalike-{family}-")]
            if rows:
                figures[f"{name}: look-alikes {family}"] = evaluate(
                    model, gate_re, [split[name][0][i] for i in rows], [split[name][1][i] for i in rows])
    figures["model"] = {"C": c, "window": model.window, "stride": model.stride,
                        "features": len(model.unigrams) + len(model.bigrams) + len(model.prefixes),
                        "gate_words": len(model.gate), "gate_min": model.gate_min, "threshold": model.threshold,
                        "bytes": len(blob),
                        "samples": {name: len(split[name][0]) for name in carriers.corpus.SPLITS}}
    with open(args.out, "wb") as f:
        f.write(blob)
    with open(args.metrics, "w", encoding="utf-8") as f:
        json.dump(figures, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
