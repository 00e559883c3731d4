"""Detection quality on the generated labelled corpus (tests/data/guardrails/corpus.py, fixed seed)."""

from __future__ import annotations

import os
from types import ModuleType

import orjson
from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, ContentScanner, Scanner, Tally, builtin_phrases
from tests.support.modules import load_by_path

CORPUS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "guardrails", "corpus.py")


def load_corpus() -> ModuleType:
    return load_by_path("stoad_guardrails_corpus", CORPUS_PATH)


class CorpusTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.corpus = load_corpus()
        self.samples = self.corpus.generate()
        scanner = Scanner(BUILTIN_RULES, builtin_phrases())
        self.content = ContentScanner(scanner, {"pii": "alert", "secrets": "alert", "injection": "alert"}, None)

    def predict(self, sample: object) -> set[str]:
        tally = Tally()
        self.content.body(orjson.dumps(sample.body), "json", tally)  # type: ignore[attr-defined]
        return set(tally.counts)

    def test_corpus_is_labelled_and_balanced(self) -> None:
        """The corpus has positives of every PII type and secret format, and more hard negatives."""
        kinds = {k for s in self.samples for k in s.kinds}
        for kind in ("card", "ssn", "iban", "phone", "email", "aws_access_key_id", "github_token", "jwt",
                     "private_key", "generic_secret", "injection"):
            self.assertIn(kind, kinds)
        negatives = sum(1 for s in self.samples if not s.detectors)
        self.assertGreater(negatives, len(self.samples) / 3)
        self.assertEqual(self.corpus.generate()[0], self.samples[0])  # fixed seed: same corpus

    def test_pii_and_secrets_quality(self) -> None:
        """PII and secrets reach recall >= 0.97 and precision >= 0.99 through the JSON body path."""
        scores = self.corpus.score(self.samples, self.predict)
        for detector in ("pii", "secrets"):
            self.assertGreaterEqual(scores[detector]["recall"], 0.97, (detector, scores[detector]))
            self.assertGreaterEqual(scores[detector]["precision"], 0.99, (detector, scores[detector]))

    def test_injection_quality(self) -> None:
        """Prompt injection (with obfuscations) reaches recall >= 0.95 and precision >= 0.98."""
        scores = self.corpus.score(self.samples, self.predict)
        self.assertGreaterEqual(scores["injection"]["recall"], 0.95, scores["injection"])
        self.assertGreaterEqual(scores["injection"]["precision"], 0.98, scores["injection"])
