"""deploy/: every metric the Grafana dashboard and the Prometheus alert rules query is one the
gateway exports (scraped from a real running gateway), and the rules (plus every dashboard
query, as recording rules) pass ``promtool check rules`` when promtool is installed (Debian's
``prometheus`` package; ``.ci/run`` installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import Gateway

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mcp-gateway.json"
_METRIC = re.compile(r"\b(mcpgw_[a-z0-9_]+)")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}
# Grafana's variables, replaced by something PromQL accepts for promtool.
_GRAFANA_VARS = {"$__rate_interval": "5m", "$server": ".*"}


def alert_expressions() -> list[str]:
    """The ``expr`` of every rule (single-line or a ``>-`` / ``|`` block)."""
    exprs: list[str] = []
    lines = ALERTS.read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("expr:"):
            continue
        rest = stripped[len("expr:") :].strip()
        if rest not in (">-", "|", ">", "|-"):
            exprs.append(rest)
            continue
        indent = len(line) - len(line.lstrip())
        block = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following.strip())
        exprs.append(" ".join(block).strip())
    return exprs


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def exported_series(text: str) -> set[str]:
    """Every series name the exposition can carry, from its ``# TYPE`` lines."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            base = family.removesuffix("_total") if kind == "counter" else family
            names.update(base + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names


def test_every_rule_and_panel_has_an_expression() -> None:
    assert len(alert_expressions()) >= 6
    assert all(alert_expressions()) and all(dashboard_expressions())


@pytest.mark.anyio
async def test_dashboard_and_alerts_query_only_metrics_the_gateway_exports(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    await gateway.call(gateway.admin_key, "fx", "echo", {"text": "x"})
    text = (await gateway.client.get("/metrics")).text
    exported = exported_series(text)
    assert "mcpgw_tool_calls_total" in exported and "mcpgw_server_status" in exported
    missing = {
        (name, expr)
        for expr in alert_expressions() + dashboard_expressions()
        for name in _METRIC.findall(expr)
        if name not in exported
    }
    assert not missing, missing
    for expr in alert_expressions() + dashboard_expressions():
        assert _METRIC.search(expr) or expr.startswith("up{"), expr


def _as_recording_rules(exprs: list[str]) -> str:
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(exprs):
        for var, replacement in _GRAFANA_VARS.items():
            expr = expr.replace(var, replacement)
        if expr.startswith("label_values("):
            continue  # a Grafana function, not PromQL
        lines += [f"      - record: dashboard:query_{i}", f"        expr: {json.dumps(expr)}"]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_alert_rules_and_every_dashboard_query(tmp_path: Path) -> None:
    rules = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    queries = tmp_path / "dashboard-rules.yaml"
    queries.write_text(_as_recording_rules(dashboard_expressions()))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(queries)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_alerts_fire_for_a_server_down_errors_refresh_failures_and_busy_refusals() -> None:
    """deploy/prometheus/alerts_test.yaml: synthetic series in, expected alerts out (and an idle
    per-user server, disconnected by design, raises none)."""
    tested = subprocess.run(
        ["promtool", "test", "rules", str(ALERTS.with_name("alerts_test.yaml"))],
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
