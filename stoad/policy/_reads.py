"""What a compiled policy reads of its input, from its syntax tree; decisions cached on exactly that.

A decision depends only on the input paths the policy's rules reference (and on its data, fixed
per compiled engine), so the same projection of the input gets the same decision from a cache.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import orjson

InputPath = tuple[str, ...]

# Builtins whose value is not a function of their arguments (the network, randomness, the clock,
# the runtime): a policy calling one is never cached. time.now_ns is read from input.time.now_ns
# (stoad.policy._decision.evaluation_query), so it counts as reading that path instead.
_NOT_CACHEABLE_NAMESPACES = ("http.", "net.", "opa.", "rand.", "uuid.")
_NOT_CACHEABLE_CALLS = frozenset({"io.jwt.decode_verify", "trace", "print"})
_CLOCK = "time.now_ns"
_CLOCK_PATH = ("time", "now_ns")
CACHE_ENTRIES = 4096
CACHE_KEY_BYTES = 2048  # larger projections are evaluated on, not kept: at most ~8 MB of keys


class _ReadsWholeInput(Exception):
    """The policy uses C{input} in a way whose reads cannot be listed: no cache."""


def input_reads(ast_json: str, query: str | None = None) -> frozenset[InputPath] | None:
    """
    Every input path that the modules of C{ast_json} (regorus's C{get_ast_as_json}) reference,
    each as the static part of a reference (C{input.a[x].b} reads C{("a",)}: all of C{a});
    with a C{query} (C{data.a.b}), only in the packages it can reach through C{data}
    references. None when such a module reads C{input} as a whole, imports from it, replaces it
    with C{with}, or calls a builtin whose value is not a function of its arguments.
    """
    modules = [module["ast"] for module in json.loads(ast_json)]
    if query is not None:
        modules = _reachable(modules, tuple(query.split(".")[1:]))
    found: set[InputPath] = set()
    try:
        for ast in modules:
            for item in ast.get("imports") or ():
                if _ref_base(item.get("refr")) == "input":
                    raise _ReadsWholeInput("import from input")
            _walk(ast.get("rules"), found)
    except _ReadsWholeInput:
        return None
    if () in found:
        return None  # input[x] with x computed: every request is a new key
    return frozenset(found)


def _package(ast: Mapping[str, Any]) -> tuple[str, ...]:
    path: list[str] = []
    node = ast["package"]["refr"]
    while True:
        kind = _kind(node)
        if kind is None:
            break
        name, value = kind
        if name == "Var":
            path.append(str(value["value"]))
            break
        if name == "RefDot":
            path.append(str(value["field"][-1]))
        elif name == "RefBrack" and _string(value["index"]) is not None:
            path.append(str(_string(value["index"])))
        else:
            break
        node = value["refr"]
    return tuple(reversed(path))


def _reachable(modules: list[Any], start: tuple[str, ...]) -> list[Any]:
    """The modules whose package the query's path, or a C{data} reference of a module already
    reached, overlaps (one path a prefix of the other); all of them for a computed C{data}."""
    packages = [_package(ast) for ast in modules]
    reached: set[int] = set()
    pending = [start]
    while pending:
        path = pending.pop()
        for index, package in enumerate(packages):
            if index in reached:
                continue
            if path[:len(package)] == package or package[:len(path)] == path:
                reached.add(index)
                refs: list[tuple[str, ...]] = []
                _data_refs(modules[index], refs)
                pending.extend(refs)
    return [modules[index] for index in sorted(reached)]


def _data_refs(node: Any, out: list[tuple[str, ...]]) -> None:
    """The static paths (below C{data}) of every C{data} reference under C{node}; C{()} for
    C{data} used as a whole or indexed by a computed key."""
    if isinstance(node, list):
        for item in node:
            _data_refs(item, out)
        return
    if not isinstance(node, dict):
        return
    kind = _kind(node)
    if kind is not None and kind[0] == "Var":
        if kind[1].get("value") == "data":
            out.append(())
        return
    if kind is not None and kind[0] in ("RefDot", "RefBrack"):
        steps: list[str | None] = []
        indexes: list[Any] = []
        base = node
        while True:
            base_kind = _kind(base)
            if base_kind is not None and base_kind[0] == "RefDot":
                steps.append(str(base_kind[1]["field"][-1]))
                base = base_kind[1]["refr"]
            elif base_kind is not None and base_kind[0] == "RefBrack":
                steps.append(_string(base_kind[1]["index"]))
                indexes.append(base_kind[1]["index"])
                base = base_kind[1]["refr"]
            else:
                break
        if _ref_base(base) == "data":  # the chain ended at a variable: data
            path: list[str] = []
            for step in reversed(steps):
                if step is None:
                    break
                path.append(step)
            out.append(tuple(path))
        else:
            _data_refs(base, out)
        _data_refs(indexes, out)
        return
    for value in node.values():
        _data_refs(value, out)


def _kind(node: Any) -> tuple[str, Any] | None:
    if isinstance(node, dict) and len(node) == 1:
        (key, value), = node.items()
        if key[:1].isupper():
            return key, value
    return None


def _ref_base(node: Any) -> str | None:
    """The variable a reference chain starts from."""
    while True:
        kind = _kind(node)
        if kind is None:
            return None
        name, value = kind
        if name in ("RefDot", "RefBrack"):
            node = value["refr"]
        elif name == "Var":
            return str(value["value"])
        else:
            return None


def _dotted(node: Any) -> str | None:
    """A function name (C{a.b.c}) from its reference, or None."""
    parts: list[str] = []
    while True:
        kind = _kind(node)
        if kind is None:
            return None
        name, value = kind
        if name == "Var":
            parts.append(str(value["value"]))
            return ".".join(reversed(parts))
        if name != "RefDot":
            return None
        parts.append(str(value["field"][-1]))
        node = value["refr"]


def _string(node: Any) -> str | None:
    kind = _kind(node)
    if kind is not None and kind[0] == "String":
        return str(kind[1]["value"])
    return None


def _walk(node: Any, found: set[InputPath]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    kind = _kind(node)
    if kind is None:
        for key, value in node.items():
            if key == "with_mods":
                for modifier in value or ():
                    if _ref_base(modifier.get("refr")) == "input" or \
                            _dotted(modifier.get("refr")) == _CLOCK:
                        raise _ReadsWholeInput("with replaces input or the clock")
            _walk(value, found)
        return
    name, value = kind
    if name == "Var":
        if value.get("value") == "input":
            raise _ReadsWholeInput("input used as a whole")
        return
    if name in ("RefDot", "RefBrack"):
        _reference(node, found)
        return
    if name == "Call":
        function = _dotted(value.get("fcn"))
        params = value.get("params") or []
        if function is not None:
            if function == _CLOCK:
                found.add(_CLOCK_PATH)
            elif function in _NOT_CACHEABLE_CALLS or function.startswith(_NOT_CACHEABLE_NAMESPACES):
                raise _ReadsWholeInput(f"calls {function}")
            elif function == "object.get" and len(params) >= 2 and _is_input(params[0]):
                path = _literal_path(params[1])
                if path is None:
                    raise _ReadsWholeInput("object.get on input with a computed path")
                found.add(path)
                _walk(params[2:], found)
                return
        else:
            _walk(value.get("fcn"), found)
        _walk(params, found)
        return
    _walk(value, found)


def _literal_path(node: Any) -> InputPath | None:
    """The path of C{object.get(input, PATH, ...)} when it is a string or an array of strings."""
    single = _string(node)
    if single is not None:
        return (single,)
    kind = _kind(node)
    if kind is None or kind[0] != "Array":
        return None
    parts = [_string(item) for item in kind[1].get("items") or ()]
    if not parts or any(part is None for part in parts):
        return None
    return tuple(part for part in parts if part is not None)


def _is_input(node: Any) -> bool:
    kind = _kind(node)
    return kind is not None and kind[0] == "Var" and kind[1].get("value") == "input"


def _reference(node: Any, found: set[InputPath]) -> None:
    """A reference chain: record the static path of one based on input; walk what is computed."""
    steps: list[tuple[str, Any]] = []  # from the outermost step inwards
    while True:
        kind = _kind(node)
        if kind is not None and kind[0] == "RefDot":
            steps.append(("field", str(kind[1]["field"][-1])))
            node = kind[1]["refr"]
        elif kind is not None and kind[0] == "RefBrack":
            steps.append(("index", kind[1]["index"]))
            node = kind[1]["refr"]
        else:
            break
    steps.reverse()
    if _is_input(node):
        path: list[str] = []
        static = True
        for step, detail in steps:
            key = detail if step == "field" else _string(detail)
            if static and key is not None:
                path.append(key)
            else:
                static = False
        found.add(tuple(path))
    else:
        _walk(node, found)
    for step, detail in steps:
        if step == "index":
            _walk(detail, found)


def minimal(reads: Iterable[InputPath]) -> tuple[InputPath, ...]:
    """The paths no other path is a prefix of (a prefix's value holds the longer path's)."""
    chosen: list[InputPath] = []
    for path in sorted(set(reads), key=lambda p: (len(p), p)):
        if not any(path[:len(prefix)] == prefix for prefix in chosen):
            chosen.append(path)
    return tuple(chosen)


def project(document: Mapping[str, Any], reads: tuple[InputPath, ...]) -> dict[str, Any]:
    """
    The part of C{document} that C{reads} (from L{minimal}) reach: for each path present, the
    value there, under new objects on the way. Each reference the policy makes has one of the
    paths as its static part, so it evaluates the same on the projection as on C{document}.
    An unread clock (C{time.now_ns}) is kept as a constant when present.
    """
    out: dict[str, Any] = {}
    clock_read = False
    for path in reads:
        if _CLOCK_PATH[:len(path)] == path:
            clock_read = True
        node: Any = document
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            target = out
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = node
    if not clock_read:
        # The decision rule replaces the clock builtin with input.time.now_ns, so it is defined
        # only if that is; a policy that never reads the clock sees only that, not the value.
        clock = document.get("time")
        if isinstance(clock, dict) and "now_ns" in clock:
            out.setdefault("time", {})["now_ns"] = 0
    return out


def cache_key(projection: Mapping[str, Any]) -> bytes:
    """The projection as canonical JSON: equal keys are equal inputs to the policy."""
    return orjson.dumps(projection, option=orjson.OPT_SORT_KEYS)
