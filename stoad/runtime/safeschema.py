"""JSON Schema validation with bounded work on attacker-controlled input.

jsonschema evaluates C{pattern} and C{patternProperties} with Python's backtracking C{re}; here
they run on RE2 (linear time), a pattern RE2 cannot compile is refused when the schema is
loaded, and every validation is capped in nesting depth, array length, node count and keyword
evaluations. Used by the OpenAPI check (guardrails) and MCP C{inputSchema} (mcp).
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import re2
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError
from jsonschema.validators import extend, validator_for

MAX_DEPTH = 64  # nesting of arrays and objects in a validated instance
MAX_ARRAY = 10_000  # items in one array
MAX_NODES = 100_000  # values in one instance
MAX_WORK = 10_000  # keyword evaluations in one validation (anyOf/oneOf can multiply them)

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 8 << 20
_OPTIONS.log_errors = False

_budget: ContextVar[list[int] | None] = ContextVar("stoad_schema_budget", default=None)


class UnsafeSchema(ValueError):
    """The schema cannot be evaluated with bounded work (e.g. a pattern RE2 cannot run)."""


class TooComplex(ValueError):
    """The instance, or its validation, exceeds a cap."""


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        raise UnsafeSchema(f"pattern {pattern[:80]!r} is not supported (RE2 syntax only: no "
                           f"backreferences or lookaround): {e}") from None


def _search(pattern: str, text: str) -> bool:
    return _compile(pattern).search(text) is not None


def _charge() -> None:
    budget = _budget.get()
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooComplex(f"validation needs more than {MAX_WORK} keyword evaluations")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"string does not match {pattern[:80]!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any,
                        schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any,
                           schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = tuple(schema.get("patternProperties", {}))
    extras = [key for key in instance if key not in properties
              and not any(_search(pattern, key) for pattern in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield ValidationError(f"additional properties are not allowed ({len(extras)} unexpected)")


_OVERRIDES: dict[str, Callable[..., Iterator[ValidationError]]] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


def _metered(keyword: Callable[..., Iterator[ValidationError]]) -> Callable[..., Any]:
    def run(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        _charge()
        return keyword(validator, value, instance, schema)

    return run


@functools.lru_cache(maxsize=16)
def _safe_class(cls: Any) -> Any:
    keywords = dict(cls.VALIDATORS)
    keywords.update({name: fn for name, fn in _OVERRIDES.items() if name in keywords})
    return extend(cls, {name: _metered(fn) for name, fn in keywords.items()})  # type: ignore[no-untyped-call]


def _walk_schema(node: Any, found: dict[str, bool]) -> None:
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            pattern = value.get("pattern")
            if isinstance(pattern, str):
                _compile(pattern)
            pattern_properties = value.get("patternProperties")
            if isinstance(pattern_properties, dict):
                found["patternProperties"] = True
                for key in pattern_properties:
                    _compile(key)
            if "unevaluatedProperties" in value:
                found["unevaluatedProperties"] = True
            if value.get("format") == "regex":
                found["format-regex"] = True
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def check_schema(schema: Any) -> None:
    """Raise L{UnsafeSchema} unless every regular expression in C{schema} runs on RE2."""
    found: dict[str, bool] = {}
    _walk_schema(schema, found)
    if found.get("patternProperties") and found.get("unevaluatedProperties"):
        # jsonschema matches patternProperties for unevaluatedProperties with Python's re.
        raise UnsafeSchema("patternProperties together with unevaluatedProperties is not "
                           "supported (it would match names with a backtracking engine)")


def safe_validator(schema: Any, registry: Any = None) -> Any:
    """
    A validator for C{schema} (its draft from C{$schema}, 2020-12 by default) whose regular
    expressions run on RE2. Raises L{UnsafeSchema} or jsonschema's C{SchemaError}.
    """
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)
    check_schema(schema)
    safe = _safe_class(cls)
    return safe(schema) if registry is None else safe(schema, registry=registry)


def check_instance(instance: Any) -> None:
    """Raise L{TooComplex} if C{instance} is nested, long or large beyond the caps."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(instance, 0)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise TooComplex(f"more than {MAX_NODES} values")
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            if len(value) > MAX_ARRAY:
                raise TooComplex(f"an array of more than {MAX_ARRAY} items")
            children = value
        else:
            continue
        if depth >= MAX_DEPTH:
            raise TooComplex(f"nested deeper than {MAX_DEPTH}")
        stack.extend((child, depth + 1) for child in children)


def iter_errors(validator: Any, instance: Any, limit: int = 20) -> list[ValidationError]:
    """
    Up to C{limit} validation errors of C{instance}, with the work bounded: raises
    L{TooComplex} (instance or work beyond the caps) or L{UnsafeSchema} (a pattern found only
    now, e.g. behind a C{$ref}).
    """
    check_instance(instance)
    token = _budget.set([MAX_WORK])
    try:
        errors = []
        for error in validator.iter_errors(instance):
            errors.append(error)
            if len(errors) >= limit:
                break
        return errors
    finally:
        _budget.reset(token)


__all__ = ["MAX_ARRAY", "MAX_DEPTH", "MAX_NODES", "MAX_WORK", "SchemaError", "TooComplex",
           "UnsafeSchema", "check_instance", "check_schema", "iter_errors", "safe_validator"]
