"""Request validation against a route's OpenAPI 3.x document (JSON or YAML), compiled at load.

Path, query and header parameters and JSON bodies are checked with jsonschema; violations are
reported without echoing any value the client sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from stoad.runtime import safeschema, strictjson

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_DOC_URI = "urn:stoad:openapi"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Violation:
    location: str  # e.g. "query.limit", "header.x-trace", "body/items/0/price", "path"
    message: str

    def as_json(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


@dataclass
class _Parameter:
    name: str
    where: str  # path, query, header
    required: bool
    validator: Draft202012Validator | None
    array: bool
    explode: bool


@dataclass
class _Operation:
    parameters: list[_Parameter]
    body_required: bool
    body_validators: dict[str, Draft202012Validator]  # media type -> validator


@dataclass
class _PathItem:
    template: str
    pattern: re.Pattern[str]
    names: list[str]
    operations: dict[str, _Operation] = field(default_factory=dict)


def _pointer(parts: Iterable[str]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class OpenApiDocument:
    """
    One OpenAPI 3.x document, compiled once. C{validate} returns the violations of a request
    (method, path relative to the route prefix, query string, headers, body).
    """

    def __init__(self, document: Mapping[str, Any], source: str = "<openapi>") -> None:
        version = str(document.get("openapi", ""))
        if not version.startswith("3."):
            raise ValueError(f"{source}: not an OpenAPI 3.x document (openapi: {version or 'missing'})")
        paths = document.get("paths")
        if not isinstance(paths, Mapping):
            raise ValueError(f"{source}: has no paths object")
        try:
            # Every pattern must run on RE2: request data never meets a backtracking engine.
            safeschema.check_schema(document)
        except safeschema.UnsafeSchema as e:
            raise ValueError(f"{source}: {e}") from None
        self._doc = document
        self._registry: Registry = Registry().with_resource(
            _DOC_URI, Resource.from_contents(dict(document), default_specification=DRAFT202012))
        self._paths: list[_PathItem] = []
        for template, item in paths.items():
            item = self._deref(item)
            names = re.findall(r"{([^}/]+)}", template)
            regex = "".join(
                "([^/]+)" if part.startswith("{") else re.escape(part)
                for part in re.split(r"({[^}/]+})", template) if part
            )
            path_item = _PathItem(template, re.compile(f"^{regex}/?$"), names)
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method in item:
                    path_item.operations[method] = self._operation(
                        ["paths", template, method], item[method], shared, ["paths", template])
            self._paths.append(path_item)
        # Literal segments win over templated ones ("/items/new" before "/items/{id}").
        self._paths.sort(key=lambda p: (len(p.names), -len(p.template)))

    @classmethod
    def from_file(cls, path: str) -> OpenApiDocument:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".json"):
            document = json.loads(text)
        else:
            document = yaml.safe_load(text)
        if not isinstance(document, Mapping):
            raise ValueError(f"{path}: not an OpenAPI document")
        return cls(document, path)

    def _deref(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or seen > 32:
                raise ValueError(f"unsupported $ref {ref!r} (only local #/... references)")
            node = self._doc
            for part in ref[2:].split("/"):
                try:
                    node = node[part.replace("~1", "/").replace("~0", "~")]
                except (KeyError, IndexError, TypeError):
                    raise ValueError(f"$ref {ref!r} points at nothing in the document") from None
            seen += 1
        return node

    def _validator(self, pointer_parts: list[str]) -> Draft202012Validator:
        schema = {"$ref": _DOC_URI + "#" + _pointer(pointer_parts)}
        validator: Draft202012Validator = safeschema.safe_validator(schema, registry=self._registry)
        return validator

    def _location(self, raw: Any, fallback: list[str]) -> list[str]:
        """Where a (possibly referenced) object lives in the document, as pointer parts."""
        if isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str) and raw["$ref"].startswith("#/"):
            return [p.replace("~1", "/").replace("~0", "~") for p in raw["$ref"][2:].split("/")]
        return fallback

    def _operation(self, where: list[str], op: Mapping[str, Any], shared: list[Any],
                   item_where: list[str]) -> _Operation:
        params: dict[tuple[str, str], _Parameter] = {}
        for base, plist in ((item_where + ["parameters"], shared),
                            (where + ["parameters"], op.get("parameters", []))):
            for index, raw in enumerate(plist):
                param = self._deref(raw)
                location = self._location(raw, base + [str(index)])
                where_in = param.get("in")
                if where_in not in ("path", "query", "header"):
                    continue
                name = param["name"].lower() if where_in == "header" else param["name"]
                schema = param.get("schema")
                validator = self._validator(location + ["schema"]) if schema is not None else None
                resolved_schema = self._deref(schema) if schema is not None else {}
                params[(where_in, name)] = _Parameter(
                    name=name, where=where_in,
                    required=bool(param.get("required", where_in == "path")),
                    validator=validator,
                    array=isinstance(resolved_schema, Mapping) and resolved_schema.get("type") == "array",
                    explode=bool(param.get("explode", param.get("style", "form") == "form")),
                )
        body_required = False
        validators: dict[str, Draft202012Validator] = {}
        if "requestBody" in op:
            body_where = where + ["requestBody"]
            body = op["requestBody"]
            body_where = self._location(body, body_where)
            body = self._deref(body)
            body_required = bool(body.get("required", False))
            for media, content in (body.get("content") or {}).items():
                if isinstance(content, Mapping) and "schema" in content and _is_json(media):
                    validators[media.lower()] = self._validator(body_where + ["content", media, "schema"])
        # Compile-check every schema now, so that a broken document fails at load, not per request.
        for p in params.values():
            if p.validator is not None:
                _probe(p.validator)
        for v in validators.values():
            _probe(v)
        return _Operation(list(params.values()), body_required, validators)

    def validate(self, method: str, path: str, query: str, headers: Mapping[str, list[str]],
                 content_type: str | None, body: bytes | None) -> list[Violation]:
        for item in self._paths:
            match = item.pattern.match(path or "/")
            if match:
                break
        else:
            return [Violation("path", "no operation in the API description matches this path")]
        op = item.operations.get(method.lower())
        if op is None:
            return [Violation("method", f"{method.upper()} is not described for {item.template}")]
        out: list[Violation] = []
        path_values = dict(zip(item.names, match.groups(), strict=True))
        query_pairs = parse_qsl(query, keep_blank_values=True)
        for param in op.parameters:
            label = f"{param.where}.{param.name}"
            values: list[str]
            if param.where == "path":
                values = [path_values[param.name]] if param.name in path_values else []
            elif param.where == "query":
                values = [v for k, v in query_pairs if k == param.name]
            else:
                values = list(headers.get(param.name, []))
            if not values:
                if param.required:
                    out.append(Violation(label, "required parameter is missing"))
                continue
            if param.validator is None:
                continue
            if param.array:
                items = values if param.explode or len(values) > 1 else values[0].split(",")
                instance: Any = [_coerce(v) for v in items]
            elif len(values) > 1:
                out.append(Violation(label, "parameter given more than once"))
                continue
            else:
                instance = _coerce(values[0])
            out.extend(_violations(param.validator, instance, label))
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if not body:
            if op.body_required:
                out.append(Violation("body", "a request body is required"))
            return out
        if op.body_validators:
            validator = op.body_validators.get(media)
            if validator is None:
                out.append(Violation("header.content-type", "media type not accepted by this operation"))
                return out
            try:
                instance = strictjson.loads(body)
            except strictjson.DuplicateMember:
                raise  # a 400 from the layer: not a schema violation, an ambiguous body
            except (ValueError, UnicodeDecodeError):
                out.append(Violation("body", "not valid JSON"))
                return out
            out.extend(_violations(validator, instance, "body"))
        return out


def _is_json(media: str) -> bool:
    media = media.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _probe(validator: Draft202012Validator) -> None:
    # Resolving the $ref once surfaces a dangling reference at load time.
    validator.is_valid(None)


def _coerce(raw: str) -> Any:
    """Parameters arrive as strings; take the JSON reading when there is one (42, true, null)."""
    low = raw.strip()
    if low in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", low):
        return json.loads(low)
    return raw


def _message(error: ValidationError) -> str:
    kind = str(error.validator)
    # Errors from iter_errors always carry the keyword's value; only hand-made ones are Unset.
    value: Any = error.validator_value
    if kind == "type":
        return f"must be of type {value if isinstance(value, str) else ' or '.join(value)}"
    if kind == "required":
        missing = [name for name in value if isinstance(error.instance, dict) and name not in error.instance]
        return f"missing required property {', '.join(missing)}" if missing else "missing required property"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                "minItems", "maxItems", "multipleOf", "minProperties", "maxProperties"):
        return f"violates {kind} {value}"
    if kind == "enum":
        return "is not one of the allowed values"
    if kind == "pattern":
        return "does not match the required pattern"
    if kind == "format":
        return f"is not a valid {value}"
    if kind == "additionalProperties":
        return "has properties the schema does not allow"
    return f"fails the schema's {kind} rule"


def _violations(validator: Draft202012Validator, instance: Any, label: str) -> list[Violation]:
    out = []
    errors = safeschema.iter_errors(validator, instance, limit=50)  # raises TooComplex
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        parts = [str(p) if isinstance(p, int) or _SAFE_NAME.match(str(p)) else "*" for p in error.absolute_path]
        location = "/".join([label] + parts) if label == "body" else (label + "".join(f"/{p}" for p in parts))
        out.append(Violation(location, _message(error)))
        if len(out) >= 50:
            break
    return out


def problem_details(violations: list[Violation]) -> dict[str, object]:
    """An RFC 9457 problem-details body listing the violations."""
    return {
        "type": "about:blank",
        "title": "Request does not match the API description",
        "status": 422,
        "detail": f"{len(violations)} violation(s) of the route's OpenAPI document",
        "violations": [v.as_json() for v in violations],
    }
