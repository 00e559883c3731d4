"""JSON as every layer must read it: one object member per name, or the body is refused.

orjson keeps the last of two members with one name and cannot report it; an upstream that keeps
the first would act on a value no layer checked. Parsing stays orjson's; a count of the members
in the raw bytes against the members parsed proves most bodies unique without a second parse.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# A member's name ends in a quote followed by a colon; strings that hold `":` only add to the
# count (and then the slow, exact check decides), they never hide a member.
_NAME_END = re.compile(rb'"[ \t\r\n]*:')


class DuplicateMember(ValueError):
    """A JSON object names one member twice."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateMember(f"object member {name[:64]!r} appears twice")
            seen.add(name)
    return result


def _members(document: Any) -> int:
    """How many object members the parsed document holds (iteratively: no recursion limit)."""
    count = 0
    if type(document) is not dict and type(document) is not list:
        return 0
    stack = [document]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        if type(value) is dict:
            count += len(value)
            children: Any = value.values()
        else:
            children = value
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                push(child)
    return count


def loads(data: bytes | str) -> Any:
    """
    Parse JSON like C{orjson.loads} (stdlib C{json} for what orjson refuses, e.g. integers
    beyond 64 bits); raise L{DuplicateMember} if any object anywhere repeats a member name, and
    C{ValueError} for anything that is not JSON.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw, object_pairs_hook=_unique)
    if len(_NAME_END.findall(raw)) != _members(document):
        json.loads(raw, object_pairs_hook=_unique)  # raises DuplicateMember when there is one
    return document


def check_unique(data: bytes, document: Any) -> None:
    """Raise L{DuplicateMember} if C{data} (already parsed into C{document}) repeats a name."""
    check_member_count(data, _members(document))


def check_member_count(data: bytes, members: int) -> None:
    """L{check_unique} for a caller that has counted the parsed document's C{members} itself."""
    if len(_NAME_END.findall(data)) != members:
        json.loads(data, object_pairs_hook=_unique)
