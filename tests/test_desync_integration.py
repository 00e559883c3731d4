"""The HTTP desync corpus (tests/data/http-desync/) sent through the real daemon.

Every C{severe.yaml} case must be answered 400 with the connection closed and never reach the
upstream; for every file, nothing may reach the upstream in a form a next hop could frame
differently from stoad (the rule is explained in docs/desync.md, which lists every verdict).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from tests.support import desync
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.upstream import Upstream


class DesyncCorpusTests(SynchronousTestCase):
    """One daemon per corpus file; each test reports every failing case of its file at once."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="stoad-desync-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        self.upstream = Upstream()
        self.addCleanup(self.upstream.stop)
        config = gateway_config(
            pki, state_dir=os.path.join(self.tmp, "state"),
            admin_socket=os.path.join(self.tmp, "admin.sock"),
            routes={"all": {"prefix": "/", "upstream": self.upstream.url}},
            # Short timeouts: a case the gateway waits on (it never should) fails fast.
            limits={"read_timeout": "2s", "idle_timeout": "3s"},
        )
        self.daemon = StoadDaemon(self.tmp, config, pki=pki)
        self.addCleanup(self.daemon.kill)
        self.daemon.start()
        self.context = self.daemon.ssl_context("agent-1")

    def run_file(self, filename: str) -> list[desync.Outcome]:
        assert self.daemon.port is not None
        outcomes = desync.run_file(filename, self.daemon.port, self.context, self.upstream)
        self.assertTrue(outcomes, f"no cases in {filename}")
        problems = desync.failures(outcomes)
        if problems:
            self.fail(f"{len(problems)} breach(es) in {filename}:\n" + "\n".join(problems))
        return outcomes

    def test_every_severe_case_is_refused_with_400_and_never_forwarded(self) -> None:
        """Each case in severe.yaml gets 400, a closed connection, and no upstream request."""
        outcomes = self.run_file("severe.yaml")
        wrong = [f"{o.case.id} {o.case.name!r}: {o.verdict} {o.reply.status} closed={o.reply.closed}"
                 for o in outcomes
                 if (o.verdict, o.reply.status, o.reply.closed) != ("rejected", 400, True)]
        self.assertEqual(wrong, [])
        self.assertEqual(self.upstream.requests, [])

    def test_ambiguous_cases_never_reach_upstream_ambiguously(self) -> None:
        """ambiguous.yaml: look-alike framing names, TE+CL, empty names are refused; what is
        forwarded (bodies on GET/HEAD, TE on HTTP/1.0) is re-framed unambiguously."""
        self.run_file("ambiguous.yaml")

    def test_acceptable_cases(self) -> None:
        """acceptable.yaml: every verdict obeys the forwarding rule."""
        self.run_file("acceptable.yaml")

    def test_bad_header_characters(self) -> None:
        """bad-header-characters.yaml: control characters around framing headers are refused
        (Severe ones with 400 and a closed connection)."""
        self.run_file("bad-header-characters.yaml")

    def test_edge_cases(self) -> None:
        """edge-cases.yaml: a harmless bad header never hides a bad framing header."""
        self.run_file("edge-cases.yaml")

    def test_more_compliant_requests(self) -> None:
        """more-compliant-tests.yaml: every verdict obeys the forwarding rule."""
        self.run_file("more-compliant-tests.yaml")

    def test_real_life_cases(self) -> None:
        """real-life-test-cases.yaml: the smuggling attempts seen in the wild are refused."""
        self.run_file("real-life-test-cases.yaml")

    def test_rfc_compliant_requests(self) -> None:
        """rfc-compliant.yaml: plain requests are forwarded, and nothing ambiguous leaks."""
        outcomes = self.run_file("rfc-compliant.yaml")
        forwarded = {o.case.name for o in outcomes if o.verdict.startswith("forwarded")}
        for name in ("No headers", "Valid Transfer-Encoding (chunked)", "Valid Content-Length"):
            self.assertIn(name, forwarded)

    def test_single_case(self) -> None:
        """single-case.yaml (TE and CL together) is refused."""
        outcomes = self.run_file("single-case.yaml")
        self.assertEqual([o.verdict for o in outcomes], ["rejected"])

    def test_uri_cases(self) -> None:
        """uri-specific-test-cases.yaml: raw CR, LF, NUL, TAB or a smuggled line in the
        request target are refused; percent-encoded ones are forwarded as sent."""
        outcomes = self.run_file("uri-specific-test-cases.yaml")
        by_name = {o.case.name: o.verdict for o in outcomes}
        self.assertEqual(by_name["%0D in URI is OK"], "forwarded-unchanged")



class CorpusCoverageTests(SynchronousTestCase):
    def test_every_corpus_file_has_a_test(self) -> None:
        """A file added to the corpus is not silently skipped."""
        covered = {"severe.yaml", "ambiguous.yaml", "acceptable.yaml", "bad-header-characters.yaml",
                   "edge-cases.yaml", "more-compliant-tests.yaml", "real-life-test-cases.yaml",
                   "rfc-compliant.yaml", "single-case.yaml", "uri-specific-test-cases.yaml"}
        self.assertEqual(set(desync.corpus_files()), covered)
