"""Contrastive training pairs: benign carrier texts from sources independent of the template generator,
each used alone (benign) and with an injection span or a benign look-alike span inserted.

A detector trained on templates alone learned the templates' filler words; here every carrier appears on
both sides of the label, so only the inserted span can tell them apart. Carriers are reproducible from
the repository and its pinned dependencies: the docstrings and source of Python's standard library
(PSF licence; read at run time, nothing copied into the repository), the repository's own docs as of
a fixed commit (read with git), and Faker (word lists and records in fourteen locales). Splits are by
carrier source and by span template.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import os
import random
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))


def _sibling(name: str) -> ModuleType:
    """A module next to this file (contrib/ is no package), loaded once."""
    key = f"stoad_injection_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, os.path.join(HERE, f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


multilingual = _sibling("multilingual")
corpus = _sibling("corpus")
lookalikes = _sibling("lookalikes")

# Pure-Python standard-library modules with plenty of prose in their docstrings (a fixed list, so that
# the carriers do not depend on what else is installed).
STDLIB_MODULES = (
    "argparse", "asyncio.events", "asyncio.streams", "base64", "bisect", "calendar", "collections",
    "concurrent.futures",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message",
    "email.utils", "enum", "fileinput", "fnmatch", "fractions", "ftplib", "functools", "getpass", "gettext", "glob",
    "gzip", "heapq", "hmac", "html.parser", "http.client", "http.cookies", "http.server", "imaplib", "inspect",
    "ipaddress", "json", "logging", "logging.handlers", "mailbox", "mimetypes", "netrc", "numbers", "optparse",
    "pathlib", "pdb", "pickle", "pprint", "queue", "random", "shlex", "shutil", "smtplib", "socketserver",
    "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize",
    "trace", "traceback", "typing", "unittest.case", "unittest.mock", "urllib.parse", "urllib.request", "uuid",
    "warnings", "wave", "weakref", "xml.dom.minidom", "xml.etree.ElementTree", "zipfile", "zoneinfo",
)
FAKER_LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "pt": "pt_PT",
                 "nl": "nl_NL", "pl": "pl_PL", "tr": "tr_TR", "ru": "ru_RU", "zh": "zh_CN", "ja": "ja_JP",
                 "ar": "ar_AA", "hi": "hi_IN"}
# Faker has word lists (lorem) for these; the others fall back to Latin.
LOREM = ("en", "de", "fr", "es", "it", "nl", "pl", "ru", "zh", "ja", "ar")
# Sources whose carriers only the validation split sees.
VALIDATION_SOURCES = frozenset({"repo-docs", "records", "lorem-fr", "lorem-ru", "lorem-zh", "lorem-ar"})
# The docs are read as of this commit, so that editing them does not change the training data.
DOCS_REVISION = "0984286ad70e0c275bf5345e8abfc8df3ba9b0bf"
# Words that mark a paragraph of the repository's docs as being about injection itself.
_ABOUT_INJECTION = re.compile(r"(?i)inject|jailbreak|prompt|persona|developer mode|\bDAN\b|ignore|instruction")
# Look-alike carriers (lookalikes.py) per language and family; a carrier's source names both.
LOOKALIKES_PER = 30
EPOCH, LAST = datetime(1990, 1, 1), datetime(2025, 12, 31)
VALIDATION_FRACTION = 0.25  # of the multilingual clauses, per language and kind


@dataclass(frozen=True)
class Carrier:
    text: str
    source: str
    language: str
    kind: str  # "prose", "code" or "record"


def _chunks(words: list[str], rng: random.Random, low: int, high: int) -> Iterator[str]:
    start = 0
    while start < len(words):
        size = rng.randint(low, high)
        piece = words[start:start + size]
        start += size
        if len(piece) >= low // 2:
            yield " ".join(piece)


def stdlib_docs(rng: random.Random) -> Iterator[Carrier]:
    """Docstring prose of the standard library, in chunks of 12-90 words."""
    for name in STDLIB_MODULES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(name)
        docs = [inspect.getdoc(module) or ""]
        for attr in sorted(vars(module)):
            value = getattr(module, attr)
            if attr.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            docs.append(inspect.getdoc(value) or "")
        for doc in docs:
            for paragraph in doc.split("\n\n"):
                if ">>>" in paragraph:
                    continue
                yield from (Carrier(c, "stdlib-doc", "en", "prose") for c in _chunks(paragraph.split(), rng, 12, 90))


def stdlib_code(rng: random.Random) -> Iterator[Carrier]:
    """Source of standard-library functions, in pieces of 4-24 lines."""
    for name in STDLIB_MODULES[::2]:
        module = importlib.import_module(name)
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            continue
        for node in ast.parse(source).body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.end_lineno is None:
                continue
            lines = source.splitlines()[node.lineno - 1:node.end_lineno]
            start = 0
            while start < len(lines):
                size = rng.randint(4, 24)
                piece = "\n".join(lines[start:start + size])
                start += size
                if len(piece.split()) >= 6:
                    yield Carrier(piece, "stdlib-code", "en", "code")


def repo_docs(rng: random.Random) -> Iterator[Carrier]:
    """Paragraphs of the repository's docs/*.md, as of DOCS_REVISION, that are not about injection."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", REPOSITORY, *args], check=True, capture_output=True,
                              text=True, encoding="utf-8").stdout

    for path in sorted(git("ls-tree", "--name-only", DOCS_REVISION, "docs/").split()):
        if not path.endswith(".md"):
            continue
        for paragraph in re.split(r"\n\s*\n", git("show", f"{DOCS_REVISION}:{path}")):
            if _ABOUT_INJECTION.search(paragraph) or len(paragraph.split()) < 8 or paragraph.startswith("|"):
                continue
            yield from (Carrier(c, "repo-docs", "en", "prose") for c in _chunks(paragraph.split(), rng, 12, 90))


def _fakers(seed: int) -> dict[str, Any]:
    from faker import Faker
    out = {}
    for lang, locale in FAKER_LOCALES.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        out[lang] = fake
    return out


def lorem(rng: random.Random, fakers: dict[str, Any], per: int) -> Iterator[Carrier]:
    """Faker's word-list text in the locales that have one."""
    for lang in LOREM:
        fake = fakers[lang]
        for _ in range(per):
            yield Carrier(fake.paragraph(nb_sentences=rng.randint(2, 6)), f"lorem-{lang}", lang, "prose")


def records(rng: random.Random, fakers: dict[str, Any], per: int) -> Iterator[Carrier]:
    """Faker records (people, addresses, orders) as JSON, CSV lines and log lines, in every locale."""
    for lang, fake in fakers.items():
        for _ in range(per):
            # dates between fixed bounds: Faker's default range ends today, which would change the corpus
            when = fake.date_time_between_dates(EPOCH, LAST)
            record = {"id": fake.uuid4(), "name": fake.name(), "address": fake.address(), "job": fake.job(),
                      "company": fake.company(), "date": when.date().isoformat(),
                      "amount": round(rng.uniform(1, 5000), 2),
                      "note": fake.sentence() if lang in LOREM else fake.city()}
            keys = rng.sample(sorted(record), rng.randint(3, len(record)))
            roll = rng.random()
            if roll < 0.6:
                text = json.dumps({k: record[k] for k in keys}, ensure_ascii=False)
            elif roll < 0.8:
                text = ",".join(str(record[k]).replace("\n", " ") for k in keys)
            else:
                text = f"{when.isoformat()} INFO " + " ".join(f"{k}={str(record[k])!r}" for k in keys)
            yield Carrier(text, "records", lang, "record")


def lookalike_carriers(seed: int) -> Iterator[Carrier]:
    """Benign texts that talk about resetting, ignoring, prompts, modes, roles and translation."""
    for text, lang, family in lookalikes.texts(random.Random(seed + 11), LOOKALIKES_PER):
        yield Carrier(text, f"lookalike-{family}-{lang}", lang, "prose")


def carrier_split(source: str) -> str:
    """
    Which split sees a carrier source: whole sources are held out, and of the look-alikes one
    family per language (rotated), so validation holds (family, language) pairs training never saw.
    """
    if source.startswith("lookalike-"):
        _, family, lang = source.split("-", 2)
        return "validation" if family == lookalikes.validation_family(lang) else "train"
    return "validation" if source in VALIDATION_SOURCES else "train"


def carriers(seed: int, per_locale: int = 120, with_lookalikes: bool = True) -> list[Carrier]:
    rng = random.Random(seed)
    fakers = _fakers(seed)
    out = list(stdlib_docs(rng)) + list(stdlib_code(rng)) + list(repo_docs(rng))
    out += list(lorem(rng, fakers, per_locale)) + list(records(rng, fakers, per_locale))
    if with_lookalikes:
        out += list(lookalike_carriers(seed))
    return out


# --- spans ------------------------------------------------------------------------------------


def clause_split(seed: int) -> dict[tuple[str, str, int], str]:
    """Which multilingual clauses are validation: a fixed fraction per language and kind."""
    rng = random.Random(seed + 7)
    out = {}
    for lang, kinds in sorted(multilingual.CLAUSES.items()):
        for kind, clauses in sorted(kinds.items()):
            if kind == "lead":
                continue
            order = list(range(len(clauses)))
            rng.shuffle(order)
            n_val = max(1, round(len(clauses) * VALIDATION_FRACTION))
            for rank, index in enumerate(order):
                out[(lang, kind, index)] = "validation" if rank < n_val else "train"
    return out


def multilingual_span(rng: random.Random, lang: str, split: str, label: int,
                      splits: dict[tuple[str, str, int], str], tasks: dict[str, list[str]],
                      personas: list[str]) -> tuple[str, str]:
    """An injection (label 1) or benign look-alike (label 0) span in C{lang}, and its template id."""
    table = multilingual.CLAUSES[lang]
    stop, join = multilingual.STOP.get(lang, "."), multilingual.JOIN.get(lang, ", ")
    kinds = ("override", "mode", "extract") if label else ("benign",)

    def pick(kind: str, other_than: int = -1) -> tuple[int, str]:
        choices = [i for i in range(len(table[kind])) if splits[(lang, kind, i)] == split and i != other_than]
        index = rng.choice(choices)
        return index, table[kind][index].format(persona=rng.choice(personas), task="")

    kind = rng.choice(kinds)
    index, text = pick(kind)
    template = f"ml-{lang}-{kind}{index}"
    if label:
        roll = rng.random()
        if roll < 0.4:
            second = rng.choice(kinds)
            text += join + pick(second, index if second == kind else -1)[1]
        if rng.random() < 0.5:
            text += join + rng.choice(tasks[lang])
        if rng.random() < 0.3:
            text = rng.choice(table["lead"]) + " " + text
    elif rng.random() < 0.3:
        text += join + pick("benign", index)[1]
    return text + stop, template


def insert(rng: random.Random, carrier: Carrier, span: str) -> tuple[str, int, int]:
    """
    C{carrier} with C{span} placed where an injection rides: between sentences or lines, in a comment
    or a string field, at either end; and where the span is (character offsets).
    """
    text = carrier.text
    if carrier.kind == "record" and text.startswith("{"):
        record = json.loads(text)
        key = rng.choice(sorted(record))
        record[key] = f"{record[key]} {span}" if rng.random() < 0.7 else span
        text, needle = json.dumps(record, ensure_ascii=False), json.dumps(span, ensure_ascii=False)[1:-1]
    elif carrier.kind == "code":
        lines = text.split("\n")
        at = rng.randint(0, len(lines))
        indent = re.match(r"\s*", lines[at - 1] if at else lines[0])
        lines.insert(at, f"{indent.group(0) if indent else ''}# {span}")
        text, needle = "\n".join(lines), span
    else:
        roll = rng.random()
        if roll < 0.2:
            text = f"{span} {text}"
        elif roll < 0.4:
            text = f"{text} {span}"
        else:
            pieces = re.split(r"(?<=[.!?。！？।])\s*", text)
            pieces.insert(rng.randint(0, len(pieces)), span)
            text = " ".join(p for p in pieces if p)
        needle = span
    start = text.index(needle)
    return text, start, start + len(needle)


@dataclass(frozen=True)
class Pair:
    text: str
    label: int
    family: str
    template: str  # the span's template, or "carrier-<source>" for a carrier alone
    split: str
    source: str  # the carrier's source ("" for a span alone)
    span: tuple[int, int] | None = None  # where the inserted span is (character offsets)


def contrastive(seed: int, spans: list[Any], personas: list[str], tasks: dict[str, list[str]],
                per_locale: int = 120, alone_per_language: int = 60, with_lookalikes: bool = True) -> list[Pair]:
    """
    Every carrier alone (benign), with an injection span (injection) and, for some, with a benign
    look-alike span (benign). C{spans}: the template corpus's samples (text, label, template, split),
    whose split decides where they may be inserted. Multilingual clauses are also given alone.
    """
    rng = random.Random(seed)
    splits = clause_split(seed)
    by_split: dict[tuple[str, int], list[Any]] = {}
    for sample in spans:
        # a span is a sentence or two, not a whole document
        if len(sample.text.split()) <= 60:
            by_split.setdefault((sample.split, sample.label), []).append(sample)
    languages = sorted(multilingual.CLAUSES)
    out: list[Pair] = []
    for carrier in carriers(seed, per_locale, with_lookalikes):
        split = carrier_split(carrier.source)
        out.append(Pair(carrier.text, 0, "carrier", f"carrier-{carrier.source}", split, carrier.source))
        for label in (1, 0):
            if label == 0 and rng.random() >= 0.4:
                continue
            roll = rng.random()
            if carrier.language != "en" and roll < 0.6:
                span, template = multilingual_span(rng, carrier.language, split, label, splits, tasks, personas)
            elif roll < 0.5:
                span, template = multilingual_span(rng, rng.choice(languages), split, label, splits, tasks, personas)
            else:
                sample = rng.choice(by_split[(split, label)])
                span, template = sample.text, sample.template
            family = "inserted" if label else "inserted_benign"
            text, start, end = insert(rng, carrier, span)
            out.append(Pair(text, label, family, template, split, carrier.source, (start, end)))
    for lang in languages:
        for split, count in (("train", alone_per_language), ("validation", alone_per_language // 3)):
            for label in (1, 0):
                seen: set[str] = set()
                for _ in range(count):
                    span, template = multilingual_span(rng, lang, split, label, splits, tasks, personas)
                    if span not in seen:
                        seen.add(span)
                        out.append(Pair(span, label, f"clause-{lang}" if label else f"clause_benign-{lang}",
                                        template, split, ""))
    return out


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    group: str  # the span's template, or the carrier's source for a carrier alone: folds keep groups whole
    part: str  # "templates" (corpus.py) or "carriers" (this module), for the figures
    split: str
    span: tuple[int, int] | None  # where an inserted span is (character offsets)
    source: str = ""  # the carrier's source ("" for a template sample or a span alone)


def examples(with_lookalikes: bool = True) -> list[Example]:
    """
    The template corpus and the contrastive carrier pairs, each sample with its split and group;
    without the look-alike carriers, the corpus of the shipped third retrain.
    """
    samples = corpus.generate()
    tasks = {lang: corpus.FOREIGN_TASKS[lang] + corpus.FOREIGN_TASKS_MORE.get(lang, [])
             for lang in corpus.FOREIGN_TASKS}
    pairs = contrastive(corpus.SEED, samples, corpus.PERSONAS, tasks, with_lookalikes=with_lookalikes)
    return [Example(s.text, s.label, s.template, "templates", s.split, None) for s in samples] + \
        [Example(p.text, p.label, p.template, "carriers", p.split, p.span, p.source) for p in pairs]
