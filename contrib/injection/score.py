"""Score the shipped injection detector (phrase rules + the learned model, as the gateway runs them)
on a held-out split; prints the figures as JSON.

    .venv/bin/python contrib/injection/score.py                    # heldout.py
    .venv/bin/python contrib/injection/score.py --split heldout2   # heldout2.py, the blind split

heldout2 adds a row per language (its template ids start with the language).

The held-out split is for measuring what ships, never for choosing: run this once per shipped model.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import sys
from typing import Any

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, Scanner, builtin_phrases
from stoad.guardrails._detectors import LEARNED
from stoad.guardrails._learned import builtin_model

HERE = os.path.dirname(os.path.abspath(__file__))


SPLITS = ("heldout", "heldout2")


def held_out(split: str = "heldout") -> list[tuple[str, int, str, str]]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    spec = importlib.util.spec_from_file_location(f"stoad_injection_{split}",
                                                  os.path.join(HERE, f"{split}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    samples: list[tuple[str, int, str, str]] = module.generate()
    return samples


def counts(rows: list[tuple[bool, int]]) -> dict[str, Any]:
    tp = sum(f and y == 1 for f, y in rows)
    fp = sum(f and y == 0 for f, y in rows)
    fn = sum((not f) and y == 1 for f, y in rows)
    tn = sum((not f) and y == 0 for f, y in rows)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
            "fpr": round(fp / (fp + tn), 4) if fp + tn else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--split", choices=SPLITS, default="heldout",
                        help="which held-out split to score (default: heldout)")
    split = parser.parse_args(argv).split
    scanner = Scanner(BUILTIN_RULES, builtin_phrases(), model=builtin_model())
    by: dict[str, list[tuple[bool, int]]] = collections.defaultdict(list)
    for text, label, family, template in held_out(split):
        found = scanner.injection(text)
        learned, rules = LEARNED in found, any(f != LEARNED for f in found)
        by["all: rules + learned"].append((learned or rules, label))
        by["all: learned alone"].append((learned, label))
        by["all: rules alone"].append((rules, label))
        by[f"family {family}"].append((learned or rules, label))
        if split == "heldout2":
            by[f"language {template.split('/', 1)[0]}"].append((learned or rules, label))
    print(json.dumps({name: counts(rows) for name, rows in sorted(by.items())}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
