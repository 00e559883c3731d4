"""contrib/grafana/stoad.json: every PromQL expression parses, and names only metrics (and labels)
that stoad really registers and exports, collected from the registries its own code builds."""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Iterator

import promql_parser
from prometheus_client import CollectorRegistry
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from stoad.audit._metrics import audit_metrics
from stoad.auth._layer import metrics_for as auth_metrics
from stoad.config import config_from_string
from stoad.daemon.metrics import Metrics
from stoad.daemon.supervisor import Supervisor
from stoad.dev.devpki import write_dev_pki
from stoad.guardrails._layer import _trigger_counter
from stoad.mcp._metrics import metrics_for as mcp_metrics
from stoad.policy._layer import _Metrics as PolicyMetrics
from tests.support.daemon import REPO, gateway_config

DASHBOARD = os.path.join(REPO, "contrib", "grafana", "stoad.json")

# Grafana's variables, replaced by values of the same kind so that the text is plain PromQL.
_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "6h", "$route": ".*"}
_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
             "histogram": ("_bucket", "_sum", "_count", "_created")}


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expr) for every query in the dashboard, panels and template variables."""
    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) \
                else variable["query"]
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert match is not None, f"variable {variable['name']}: unexpected query {query!r}"
            yield f"variable {variable['name']!r}", f"count by ({match[2]}) ({match[1]})"


def plain(expr: str) -> str:
    for name, value in _VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def selectors(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """The metric selectors (name, matched labels) and the grouping labels of one expression."""
    found: list[tuple[str, set[str]]] = []
    grouping: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            labels = {m.name for m in node.matchers.matchers} if node.matchers else set()
            found.append((node.name, labels))
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found, grouping


def exported(registry: CollectorRegistry) -> dict[str, set[str]]:
    """Sample name -> label names, for every metric family on C{registry}."""
    names: dict[str, set[str]] = {}
    for collector in list(registry._collector_to_names):
        labels = set(getattr(collector, "_labelnames", ()))
        describe = getattr(collector, "describe", None)
        for family in (describe() if describe is not None else []) or collector.collect():
            for suffix in _SUFFIXES.get(family.type, ("",)):
                names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


class DashboardTests(SynchronousTestCase):
    def setUp(self) -> None:
        with open(DASHBOARD, encoding="utf-8") as f:
            self.dashboard = json.load(f)
        self.metrics = self.registered_metrics()

    def registered_metrics(self) -> dict[str, set[str]]:
        """Every metric the worker and its layers register, and the supervisor's own."""
        registry = CollectorRegistry()
        Metrics(registry)
        auth_metrics(registry)
        PolicyMetrics(registry)
        _trigger_counter(registry)
        mcp_metrics(registry)
        audit_metrics(registry)
        names = exported(registry)
        tmp = os.path.abspath(self.mktemp())
        pki = write_dev_pki(os.path.join(tmp, "pki"))
        text = gateway_config(pki, state_dir=tmp, admin_socket=os.path.join(tmp, "a.sock"),
                              routes={"api": {"prefix": "/api",
                                              "upstream": "http://127.0.0.1:9"}})
        supervisor = Supervisor(os.path.join(tmp, "stoad.ini"), config_from_string(text),
                                MemoryReactorClock(), state_dir=tmp)
        self.addCleanup(shutil.rmtree, supervisor.metrics_dir, True)
        names.update(exported(supervisor.registry))
        return names

    def test_every_expression_parses_and_names_exported_metrics_and_labels(self) -> None:
        """Each query is valid PromQL; every metric it selects is one stoad exports (with the
        suffix its type gives it), and every label it matches or groups by is one of its."""
        queries = list(expressions(self.dashboard))
        self.assertGreater(len(queries), 20)
        used: set[str] = set()
        for where, expr in queries:
            try:
                metrics, grouping = selectors(plain(expr))
            except ValueError as e:
                self.fail(f"{where}: not valid PromQL: {e}: {expr}")
            self.assertTrue(metrics, f"{where}: selects no metric")
            for name, labels in metrics:
                self.assertIn(name, self.metrics, f"{where}: {name} is not exported by stoad")
                self.assertLessEqual(labels, self.metrics[name], f"{where}: labels of {name}")
                used.add(name)
            known = set().union(*(self.metrics[name] for name, _ in metrics))
            self.assertLessEqual(grouping, known, f"{where}: grouping labels {grouping}")
        for needed in ("stoad_requests_total", "stoad_denials_total",
                       "stoad_guardrail_triggers_total", "stoad_request_duration_seconds_bucket",
                       "stoad_audit_ship_backlog_records", "stoad_audit_ship_lag_seconds",
                       "stoad_tls_handshake_failures_total", "stoad_alerts_total",
                       "stoad_state_backend_up", "stoad_state_failures_total",
                       "stoad_route_denials_total", "stoad_layer_duration_seconds_bucket"):
            self.assertIn(needed, used)

    def test_checker_refuses_an_unknown_metric_or_label(self) -> None:
        """The check above can fail: a metric stoad does not export, a label a metric does not
        have, and text that is not PromQL are all caught."""
        metrics, _ = selectors("sum(rate(stoad_requests_made_total[5m]))")
        self.assertNotIn(metrics[0][0], self.metrics)
        _, grouping = selectors("sum by (tool) (rate(stoad_denials_total[5m]))")
        self.assertFalse(grouping <= self.metrics["stoad_denials_total"])
        with self.assertRaises(ValueError):
            selectors("sum by (layer (rate(stoad_denials_total[5m]))")

    def test_panels_are_laid_out_and_uniquely_numbered(self) -> None:
        """Every panel has a unique id and a grid position inside Grafana's 24 columns; every
        query panel uses the dashboard's data source variable."""
        ids = [panel["id"] for panel in self.dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        for panel in self.dashboard["panels"]:
            grid = panel["gridPos"]
            self.assertLessEqual(grid["x"] + grid["w"], 24, panel["title"])
            if panel.get("targets"):
                self.assertEqual(panel["datasource"]["uid"], "${datasource}", panel["title"])
