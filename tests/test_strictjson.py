"""Duplicate JSON object members: refused wherever a layer parses a body (one reading)."""

from __future__ import annotations

import os

import orjson
from twisted.trial.unittest import SynchronousTestCase

from stoad.mcp._jsonrpc import parse_body
from stoad.runtime import strictjson
from stoad.runtime.deny import Deny
from tests.test_guardrails_layer import deny_of, make_layer, request, route

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPENAPI = os.path.join(REPO, "tests", "data", "guardrails", "openapi.yaml")


class StrictLoadsTests(SynchronousTestCase):
    def test_duplicates_anywhere_are_refused(self) -> None:
        """A repeated member name at the top, nested in objects or inside arrays is refused,
        also when a string value holds `":` (which makes the quick count inconclusive)."""
        for body in (b'{"a":1,"a":2}', b'{"x":{"y":[{"d":1, "d" : 2}]}}',
                     b'[{"a":"\\":","a":1}]', b'{"x":"\\u0022:","a":1,"a":2}',
                     b'{"big":123456789012345678901234567890,"big":1}'):
            self.assertRaises(strictjson.DuplicateMember, strictjson.loads, body)

    def test_unique_documents_parse_as_orjson_parses_them(self) -> None:
        """Bodies without duplicates (including `":` inside strings, scalars, huge integers)
        parse to the same values."""
        self.assertEqual(strictjson.loads(b'{"a":"x\\":y","b":[1,{"c":null}]}'),
                         {"a": 'x":y', "b": [1, {"c": None}]})
        self.assertEqual(strictjson.loads(b"1"), 1)
        big = b'{"n":123456789012345678901234567890}'
        self.assertEqual(strictjson.loads(big), orjson.loads(big))

    def test_not_json_is_a_value_error(self) -> None:
        """Anything that is not JSON raises ValueError (not DuplicateMember)."""
        with self.assertRaises(ValueError) as caught:
            strictjson.loads(b"{nope")
        self.assertNotIsInstance(caught.exception, strictjson.DuplicateMember)


class LayerTests(SynchronousTestCase):
    def test_mcp_json_rpc_body_with_a_duplicate_is_400(self) -> None:
        """A tools/call naming `name` twice (the upstream might call the other tool) is a 400
        JSON-RPC Invalid Request."""
        body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","name":"rm"}}'
        with self.assertRaises(Deny) as caught:
            parse_body(body, 1 << 20)
        self.assertEqual((caught.exception.status, caught.exception.error), (400, "invalid_request"))

    def test_guardrails_refuse_a_body_they_parse_with_a_duplicate(self) -> None:
        """A JSON body the guardrails parse (it holds something to scan) with a repeated member
        is refused with 400 rather than scanned in one reading and forwarded in another."""
        layer, _, _ = make_layer()
        body = b'{"note":"my SSN is 078-05-1120","note":"fine"}'
        deny = deny_of(self, layer, request(body))
        self.assertEqual((deny.status, deny.error), (400, "invalid_request"))

    def test_openapi_validation_refuses_a_duplicate(self) -> None:
        """A body validated against the route's OpenAPI schema with a repeated member is a 400
        (the schema would have judged one of the two values)."""
        layer, _, _ = make_layer()
        ctx = request(b'{"title":"ok","body":"x","title":"' + b"y" * 50 + b'"}', path="/api/notes")
        ctx.route = route({"openapi": OPENAPI})
        deny = deny_of(self, layer, ctx)
        self.assertEqual((deny.status, deny.error), (400, "invalid_request"))
