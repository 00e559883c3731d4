"""Compiles a policy directory (C{*.rego} and C{*.json}) into one regorus engine.

Data files are mounted at their folder's path, as C{opa eval -d DIR} does; the file name is not.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import orjson
import regorus

from stoad.policy._reads import InputPath, input_reads, minimal

TEST_SUFFIX = "_test.rego"


class PolicyLoadError(Exception):
    """A policy directory that cannot be loaded; the message is one line naming file and error."""


def one_line(error: BaseException) -> str:
    """A regorus error as one line: its text without the Rust backtrace, lines joined."""
    text = str(error).split("Stack backtrace:")[0]
    lines = [line.strip() for line in text.splitlines()]
    # Drop the source-excerpt gutter lines ("|", "2 | allow if ...") but keep the location.
    kept = [line for line in lines if line and not line.startswith("|") and " | " not in line]
    return " ".join(kept) or type(error).__name__


@dataclass(frozen=True)
class PolicyFile:
    relative: str
    content: bytes


@dataclass(frozen=True)
class CompiledPolicies:
    """
    A compiled engine (to be cloned, never evaluated directly) and what it was built from.

    @ivar version: a hash over every loaded file's relative path and contents.
    """

    engine: Any  # regorus.Engine
    version: str
    files: tuple[str, ...]
    packages: tuple[str, ...]
    directory: str
    # the query compiled in, and the generated rule that evaluates it with the clock replaced
    query: str | None = None
    decision_rule: str | None = None
    # The input paths the policies read (stoad.policy._reads), None when they cannot be listed;
    # with them, decisions are cached by the input's projection on those paths (one engine's).
    reads: tuple[InputPath, ...] | None = None
    decisions: dict[bytes, Any] = field(default_factory=dict, compare=False, repr=False)


def _skipped(name: str) -> bool:
    # Kubernetes ConfigMap volumes hold "..data" and timestamped dot folders; editors leave
    # dot-files. Loading them would load every policy twice, or half-written ones.
    return name.startswith(".")


def collect_files(directory: str, include_tests: bool) -> list[PolicyFile]:
    """Every policy and data file under C{directory}, sorted by relative path."""
    if not os.path.isdir(directory):
        raise PolicyLoadError(f"policy directory {directory}: not a directory")
    found: list[PolicyFile] = []
    for root, dirs, names in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(names):
            if _skipped(name) or not name.endswith((".rego", ".json")):
                continue
            if name.endswith(TEST_SUFFIX) and not include_tests:
                continue
            full = os.path.join(root, name)
            relative = os.path.relpath(full, directory).replace(os.sep, "/")
            try:
                with open(full, "rb") as f:
                    content = f.read()
            except OSError as e:
                raise PolicyLoadError(f"{relative}: cannot read: {e.strerror}") from None
            found.append(PolicyFile(relative, content))
    found.sort(key=lambda f: f.relative)
    return found


def version_of(files: list[PolicyFile]) -> str:
    digest = hashlib.sha256()
    for item in files:
        name = item.relative.encode()
        digest.update(len(name).to_bytes(4, "big") + name)
        digest.update(len(item.content).to_bytes(8, "big") + item.content)
    return digest.hexdigest()[:16]


def _mount(relative: str, document: Any) -> Any:
    folder = relative.rpartition("/")[0]
    for part in reversed([p for p in folder.split("/") if p]):
        document = {part: document}
    return document


def compile_directory(directory: str, query: str | None = None,
                      include_tests: bool = False) -> CompiledPolicies:
    """
    Load and compile every file of C{directory} into a fresh engine. Raises L{PolicyLoadError}
    for no policy at all, a parse error, an unknown function on the way to C{query}, a data
    file that is not a JSON object, or data that conflicts with other data.
    """
    files = collect_files(directory, include_tests)
    engine = regorus.Engine()
    engine.set_rego_v0(False)
    modules: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    for item in files:
        try:
            text = item.content.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyLoadError(f"{item.relative}: not UTF-8 text") from None
        if item.relative.endswith(".rego"):
            try:
                engine.add_policy(item.relative, text)
            except Exception as e:
                raise PolicyLoadError(f"{item.relative}: {one_line(e)}") from None
            modules.append((item.relative, text))
        else:
            try:
                document = orjson.loads(item.content)
            except orjson.JSONDecodeError as e:
                raise PolicyLoadError(f"{item.relative}: not JSON: {e}") from None
            if not isinstance(document, dict):
                raise PolicyLoadError(f"{item.relative}: a data document must be a JSON object")
            conflict = _merge_into(data, _mount(item.relative, document), [])
            if conflict:
                raise PolicyLoadError(f"{item.relative}: data.{conflict} is also defined by "
                                      "an earlier data file")
    if data:
        # JSON text, not Python objects: the object conversion turns true into 1.
        engine.add_data_json(orjson.dumps(data).decode())
    if not modules:
        raise PolicyLoadError(f"policy directory {directory}: no .rego file")
    packages = tuple(engine.get_packages())
    # Before the generated rule is added: it reads the clock from input for every policy.
    reads = _reads_of(engine, query) if query is not None else None
    decision_rule = None
    if query is not None:
        _check_statically(modules, data, query)
        _check_query_names_a_rule(engine, query)
        decision_rule = _add_decision_rule(engine, query, packages, data)
    return CompiledPolicies(
        engine=engine,
        version=version_of(files),
        files=tuple(f.relative for f in files),
        packages=packages,
        directory=directory,
        query=query,
        decision_rule=decision_rule,
        reads=reads,
    )


def _reads_of(engine: Any, query: str) -> tuple[InputPath, ...] | None:
    try:
        found = input_reads(engine.get_ast_as_json(), query)
    except Exception:  # a syntax tree this reader does not know: no cache, never a wrong key
        return None
    return minimal(found) if found is not None else None


DECISION_PACKAGE = "stoad_gateway_generated"
DECISION_MODULE = "<stoad generated decision rule>"


def _add_decision_rule(engine: Any, query: str, packages: tuple[str, ...],
                       data: dict[str, Any]) -> str:
    """
    Add a rule holding the decision query and its C{with} clause (see L{evaluation_query}), so
    each request evaluates a rule instead of parsing the query text again. Its value is the
    query's wrapped in an object, so a decision of C{null} stays apart from an undefined one.
    """
    from stoad.policy._decision import evaluation_query

    root = f"data.{DECISION_PACKAGE}"
    if DECISION_PACKAGE in data or any(p == root or p.startswith(root + ".") for p in packages):
        raise PolicyLoadError(f"{root} is reserved for the gateway's generated decision rule")
    engine.add_policy(DECISION_MODULE,
                      f"package {DECISION_PACKAGE}\n\n"
                      f"decision := {{\"value\": x}} if {{\n\tx := {evaluation_query(query)}\n}}\n")
    rule = f"{root}.decision"
    # warm it on the master engine, as the query itself was: clones inherit what is prepared
    engine.set_input_json("{}")
    try:
        engine.eval_rule(rule)
    except Exception:
        pass  # depends on the input; requests that hit it are denied
    return rule


def _merge_into(target: dict[str, Any], source: dict[str, Any], path: list[str]) -> str | None:
    """Merge objects key by key; the dotted path of the first key both define otherwise."""
    for key, value in source.items():
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            conflict = _merge_into(target[key], value, [*path, key])
            if conflict:
                return conflict
        else:
            return ".".join([*path, key])
    return None


def _check_statically(modules: list[tuple[str, str]], data: dict[str, Any], query: str) -> None:
    # The interpreter resolves function names only when a rule body reaches the call, so a
    # typo in a rarely taken branch would load fine and fail (closed) on some request later.
    # regorus's ahead-of-time compiler resolves every call on the way to the query at once. It
    # does not support everything the interpreter does (`with` outside tests, for one), so only
    # its unknown-function verdict is taken; anything else it rejects is left to the interpreter.
    try:
        regorus.regorus.Program.compile_from_modules(orjson.dumps(data).decode(), modules, [query])
    except Exception as e:
        message = one_line(e)
        if "Unknown function" in message:
            raise PolicyLoadError(message) from None


def _check_query_names_a_rule(engine: Any, query: str) -> None:
    # Evaluated on the master engine itself: what regorus prepares on a first evaluation is
    # then inherited by every per-request clone instead of being redone by each.
    engine.set_input_json("{}")
    try:
        engine.eval_rule(query)
    except Exception as e:
        message = one_line(e)
        if "not a valid rule path" in message:
            raise PolicyLoadError(f"query {query}: no rule of that name is loaded") from None
        # Any other failure depends on the input; requests that hit it are denied.
