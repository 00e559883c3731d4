"""contrib/injection/heldout2.py, the blind held-out injection split: generated deterministically,
with the documented number of distinct texts per family, language and label, in every language's
own script, from the standard library alone."""

from __future__ import annotations

import ast
import collections
import hashlib
import importlib.util
import json
import os
import sys
from types import ModuleType

from twisted.trial.unittest import SynchronousTestCase

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, "contrib", "injection", "heldout2.py")

# The documented shape (module docstring): 6 injection families and 8 benign families, each in 14
# languages, 24 injections and 18 benign texts per cell.
LANGUAGES = {"en", "de", "fr", "es", "it", "pt", "nl", "pl", "tr", "ru", "zh", "ja", "ar", "hi"}
INJECTION = {"override", "persona", "extraction", "indirect", "exfiltration", "splitting"}
BENIGN = {"support", "ai_docs", "fiction", "manual", "translation", "code", "api_payload", "meeting"}
PER_CELL = {1: 24, 0: 18}

# Pinned so that the split cannot move unnoticed once it has been scored: a held-out split that
# changes after a look is no longer held out.
DIGEST = "0c194db1cbad936901a7c89c9ad446dbc9fcfd0d4fd6686f793b2a966bb77450"

# A character range per language written outside the Latin script.
SCRIPTS = {"ru": [(0x0400, 0x04FF)], "zh": [(0x4E00, 0x9FFF)], "ja": [(0x3040, 0x30FF)],
           "ar": [(0x0600, 0x06FF)], "hi": [(0x0900, 0x097F)]}


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stoad_injection_heldout2_test", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def digest(samples: list[tuple[str, int, str, str]]) -> str:
    return hashlib.sha256(json.dumps(samples, ensure_ascii=False).encode("utf-8")).hexdigest()


def readable(text: str) -> str:
    """The text as a reader sees it: JSON escapes of non-ASCII characters decoded."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


class HeldOut2Tests(SynchronousTestCase):
    def setUp(self) -> None:
        self.module = load()
        self.samples: list[tuple[str, int, str, str]] = self.module.generate()

    def test_counts_per_family_language_and_label(self) -> None:
        """Every (family, language, label) cell holds exactly the documented number of texts."""
        cells = collections.Counter((f, self.module.language_of(t), y) for _, y, f, t in self.samples)
        expected = {(f, lang, 1): PER_CELL[1] for f in INJECTION for lang in LANGUAGES}
        expected.update({(f, lang, 0): PER_CELL[0] for f in BENIGN for lang in LANGUAGES})
        self.assertEqual(dict(cells), expected)
        labels = collections.Counter(y for _, y, _, _ in self.samples)
        self.assertEqual(labels, {1: 2016, 0: 2016})
        self.assertEqual(len(self.samples), 4032)

    def test_generation_is_deterministic_and_pinned(self) -> None:
        """Two runs with the default seed give the same list, and it is the pinned one."""
        self.assertEqual(self.module.generate(), self.samples)
        self.assertEqual(digest(self.samples), DIGEST)

    def test_another_seed_moves_texts_not_counts(self) -> None:
        """A different seed draws different texts into the same documented cells."""
        other = self.module.generate(seed=7)
        self.assertNotEqual({t for t, *_ in other}, {t for t, *_ in self.samples})
        shape = collections.Counter((f, y) for _, y, f, _ in other)
        self.assertEqual(shape, collections.Counter((f, y) for _, y, f, _ in self.samples))

    def test_texts_are_distinct(self) -> None:
        """No text appears twice, so no sample is counted twice in a figure."""
        texts = [t for t, *_ in self.samples]
        self.assertEqual(len(set(texts)), len(texts))

    def test_template_ids_name_language_family_and_variant(self) -> None:
        """Each template id is <language>/<family>/<variant>, agreeing with the sample's family."""
        for _, _, family, template in self.samples:
            lang, fam, variant = template.split("/")
            self.assertIn(lang, LANGUAGES)
            self.assertEqual(fam, family)
            self.assertTrue(variant)

    def test_lengths_range_from_one_line_to_kilobytes(self) -> None:
        """Both labels have one-line texts and documents over 1.5 KB, so length alone does not tell them apart."""
        for label in (0, 1):
            lengths = [len(t) for t, y, _, _ in self.samples if y == label]
            self.assertLess(min(lengths), 80)
            self.assertGreater(max(lengths), 1500)

    def test_non_latin_languages_are_in_their_own_script(self) -> None:
        """Every Russian, Chinese, Japanese, Arabic and Hindi sample carries text in that language's script."""
        for text, _, _, template in self.samples:
            lang = self.module.language_of(template)
            if lang not in SCRIPTS:
                continue
            seen = readable(text)
            self.assertTrue(any(lo <= ord(c) <= hi for c in seen for lo, hi in SCRIPTS[lang]),
                            f"{template}: {seen[:80]!r}")

    def test_standard_library_only(self) -> None:
        """The generator imports nothing outside the standard library (it runs without the venv)."""
        with open(SOURCE, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        names |= {node.module.split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module}
        self.assertLessEqual(names, set(sys.stdlib_module_names) | {"__future__"})
