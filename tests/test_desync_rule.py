"""The desync verdict rule (tests/support/desync.py) flags what it must, so the corpus test
can fail."""

from __future__ import annotations

import hashlib

from twisted.trial.unittest import SynchronousTestCase

from tests.support.desync import MARKER, Case, Reply, classify, encode, framing_name


def _case(tier: str = "Ambiguous", headers: list[tuple[bytes, bytes]] | None = None) -> Case:
    return Case(file="t.yaml", index=0, name="n", tier=tier, reason="", method=b"POST",
                uri=b"/a", version=b"HTTP/1.1",
                headers=headers if headers is not None else [(b"Content-Length", b"5")])


def _entry(case: Case, headers: list[tuple[str, str]], body: bytes = b"bbbbb",
           path: str = "/a") -> dict[str, object]:
    return {"method": "POST", "path": path, "body": body, "body_size": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "headers": [(MARKER, case.id)] + headers}


OK = Reply(200, [], b"{}", False)


class RuleTests(SynchronousTestCase):
    def test_clean_forward_has_no_violation(self) -> None:
        """A request re-framed with its own Content-Length is forwarded-unchanged."""
        case = _case()
        outcome = classify(case, OK, None, [_entry(case, [("content-length", "5")])])
        self.assertEqual((outcome.verdict, outcome.violations), ("forwarded-unchanged", []))

    def test_look_alike_framing_header_upstream_is_a_violation(self) -> None:
        """A Transfer_Encoding header reaching the upstream breaks the rule."""
        case = _case()
        outcome = classify(case, OK, None, [_entry(case, [("content-length", "5"),
                                                          ("transfer_encoding", "chunked")])])
        self.assertTrue(any("transfer_encoding" in v for v in outcome.violations))

    def test_body_differing_from_client_framing_is_a_violation(self) -> None:
        """Forwarding fewer bytes than the client framed breaks the rule."""
        case = _case()
        outcome = classify(case, OK, None, [_entry(case, [("content-length", "3")], b"bbb")])
        self.assertTrue(any("differs" in v for v in outcome.violations))

    def test_unmarked_upstream_request_is_a_smuggling_violation(self) -> None:
        """A request without the case's marker reaching the upstream is flagged as smuggled."""
        case = _case()
        stray = _entry(case, [("content-length", "0")], b"", "/smuggled")
        stray["headers"] = [("content-length", "0")]
        outcome = classify(case, Reply(400, [], b"", True), None, [stray])
        self.assertTrue(any("smuggled" in v for v in outcome.violations))

    def test_forwarded_severe_case_is_a_violation(self) -> None:
        """A Severe case must never be forwarded, however clean the forwarded form."""
        case = _case("Severe")
        outcome = classify(case, OK, None, [_entry(case, [("content-length", "5")])])
        self.assertTrue(any("Severe" in v for v in outcome.violations))

    def test_severe_case_refused_with_open_connection_is_a_violation(self) -> None:
        """A Severe case answered 400 but left open breaks the rule."""
        outcome = classify(_case("Severe"), Reply(400, [], b"", False), None, [])
        self.assertEqual(outcome.verdict, "rejected")
        self.assertTrue(outcome.violations)

    def test_header_injection_upstream_is_a_violation(self) -> None:
        """A forwarded header value containing CR/LF breaks the rule."""
        case = _case()
        outcome = classify(case, OK, None, [_entry(case, [("content-length", "5"),
                                                          ("x-a", "1\r\nx-b: 2")])])
        self.assertTrue(any("NUL, CR or LF" in v for v in outcome.violations))

    def test_framing_names_fold_lookalikes(self) -> None:
        """Long s, dotless i, underscores and control characters fold onto framing names."""
        for name in ("Tranſfer-Encoding", "Transfer-Encodıng", "transfer_encoding",
                     "\x01content-length "):
            self.assertIsNotNone(framing_name(name), name)
        self.assertIsNone(framing_name("x-content-type"))

    def test_corpus_text_is_sent_as_latin1_bytes_or_utf8(self) -> None:
        """C{\\xa0} in the YAML is the byte A0; characters beyond Latin-1 go as UTF-8."""
        self.assertEqual(encode("a\xa0"), b"a\xa0")
        self.assertEqual(encode("ſ"), "ſ".encode())
        self.assertEqual(encode(1000), b"1000")
