"""Request-path normalisation: the one canonical path that routing, policy and the upstream see.

Anything two servers could read differently (encoded slashes, NUL, path parameters) is refused.
"""

from __future__ import annotations

import re

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
# Escapes that would turn into a path separator or a string terminator once an upstream
# decodes them; the policy could never see the path the upstream acts on.
_FORBIDDEN_ESCAPES = {"2F": "encoded slash", "5C": "encoded backslash", "00": "encoded NUL"}
_DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def normalise_path(raw_path: str, case_insensitive: bool = False) -> str:
    """
    The canonical form of a request path (without query or fragment): percent-encoded
    unreserved characters decoded, other escapes upper-cased, duplicate slashes collapsed, then
    C{.} and C{..} segments removed (never above the root). With C{case_insensitive}, ASCII
    letters are lower-cased (escapes stay upper-case).

    Raises C{ValueError} with a short reason for what cannot be made unambiguous: encoded
    slashes or backslashes, NUL (raw or encoded), backslashes, invalid or double percent-encoding,
    C{;} path parameters, C{?} or C{#}, control or non-ASCII characters, and paths that do not
    start with C{/}.

    Path parameters (C{/pii;x/}) are refused rather than stripped because servers disagree on
    them: Tomcat and Jetty drop them before routing, most others keep C{;x} as part of the name.
    Refusing leaves no reading in which the upstream acts on a path the policy did not see.
    """
    if not raw_path.startswith("/"):
        raise ValueError("path must start with /")
    # The character checks in C first; the loop below says which rule the first offending
    # character breaks (and is only reached when there is one).
    if not raw_path.isascii() or _CONTROL.search(raw_path) is not None:
        _refuse_characters(raw_path)
    if "\\" in raw_path:
        raise ValueError("backslash in path")
    if ";" in raw_path:
        raise ValueError("path parameters (;) are not accepted")
    if "?" in raw_path or "#" in raw_path:
        raise ValueError("query or fragment in path")
    if "%" not in raw_path and "//" not in raw_path and "/." not in raw_path:
        # No escape, no empty, "." or ".." segment: the path is its own canonical form.
        return _lower_outside_escapes(raw_path) if case_insensitive else raw_path
    path = _resolve(raw_path)
    return _lower_outside_escapes(path) if case_insensitive else path


def _resolve(raw_path: str) -> str:
    """
    The general steps for a path that passed the character checks: refuse double or invalid
    percent-encoding, decode unreserved escapes, drop empty and "." segments and apply "..".
    """
    if _DOUBLE_ENCODED.search(raw_path):
        raise ValueError("double percent-encoding in path")
    decoded = _decode_unreserved(raw_path)
    segments = [segment for segment in decoded.split("/") if segment]
    trailing_slash = decoded.endswith("/")
    output: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            trailing_slash = trailing_slash or last
        elif segment == "..":
            if output:
                output.pop()
            trailing_slash = trailing_slash or last
        else:
            output.append(segment)
    path = "/" + "/".join(output)
    if trailing_slash and output:
        path += "/"
    return path


def _refuse_characters(raw_path: str) -> None:
    for char in raw_path:
        code = ord(char)
        if code == 0:
            raise ValueError("NUL in path")
        if code < 0x21 or code == 0x7F:
            raise ValueError("control character or space in path")
        if code > 0x7E:
            raise ValueError("non-ASCII character in path")


def _decode_unreserved(path: str) -> str:
    parts: list[str] = []
    index = 0
    length = len(path)
    while index < length:
        char = path[index]
        if char != "%":
            parts.append(char)
            index += 1
            continue
        hexpair = path[index + 1:index + 3]
        if len(hexpair) != 2 or hexpair[0] not in _HEX or hexpair[1] not in _HEX:
            raise ValueError("invalid percent-encoding in path")
        hexpair = hexpair.upper()
        if hexpair in _FORBIDDEN_ESCAPES:
            raise ValueError(f"{_FORBIDDEN_ESCAPES[hexpair]} in path")
        decoded = chr(int(hexpair, 16))
        if decoded in _UNRESERVED:
            parts.append(decoded)
        else:
            parts.append("%" + hexpair)
        index += 3
    return "".join(parts)


def _lower_outside_escapes(path: str) -> str:
    # Escapes are upper-case by construction; only letters outside them are folded, so the
    # result is the same whatever case the client used anywhere.
    pieces = path.split("%")
    head = pieces[0].lower()
    rest = [piece[:2] + piece[2:].lower() for piece in pieces[1:]]
    return "%".join([head, *rest])
