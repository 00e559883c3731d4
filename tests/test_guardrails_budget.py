"""The bound on costly validator checks: a body stuffed with phone-shaped numbers cannot hold a
worker's reactor for seconds; past the bound candidates count as found (more is redacted, nothing
is missed)."""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

import stoad.config  # noqa: F401  (imports stoad.runtime.layers in the right order)
from stoad.guardrails import BUILTIN_RULES, Scanner, builtin_phrases
from stoad.guardrails._detectors import CHECK_BUDGET, PII, CheckBudget
from tests.test_guardrails_layer import make_layer, request


def invalid_numbers(count: int) -> list[str]:
    """North-American-shaped numbers in area code 555, which no plan assigns (libphonenumber: invalid)."""
    return [f"(555) {200 + i // 10000:03d}-{i % 10000:04d}" for i in range(count)]


class CheckBudgetTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.scanner = Scanner(BUILTIN_RULES, builtin_phrases(), model=None)

    def test_checks_past_the_budget_count_as_found(self) -> None:
        text = " ".join(invalid_numbers(5))
        self.assertEqual(self.scanner.find(text, frozenset({PII})), [])
        budget = CheckBudget(3)
        found = self.scanner.find(text, frozenset({PII}), None, budget)
        self.assertEqual([text[f.start:f.end] for f in found], invalid_numbers(5)[3:])
        self.assertEqual((budget.left, budget.exhausted), (0, True))

    def test_cheap_validators_do_not_spend_the_budget(self) -> None:
        """Cards (Luhn) are checked whatever the budget: a Luhn-invalid number stays no card."""
        budget = CheckBudget(0)
        self.assertEqual(self.scanner.find("4111 1111 1111 1112", frozenset({PII}), None, budget), [])
        self.assertFalse(budget.exhausted)

    def test_a_body_of_phone_shaped_numbers_is_bounded(self) -> None:
        """Past CHECK_BUDGET checks in one body the rest are redacted unchecked; the first ones
        were checked (and, invalid, left alone)."""
        numbers = invalid_numbers(CHECK_BUDGET + 200)
        layer, _, _ = make_layer()
        ctx = request(json.dumps({"text": " ".join(numbers)}).encode())
        layer.on_request(ctx)
        assert ctx.body is not None
        out = json.loads(ctx.body)["text"]
        self.assertEqual([(t.detector, t.action, t.count) for t in ctx.guardrail_triggers],
                         [("pii", "redact", 200)])
        self.assertTrue(out.startswith(" ".join(numbers[:CHECK_BUDGET])))
        self.assertEqual(out.count("[REDACTED:phone]"), 200)
