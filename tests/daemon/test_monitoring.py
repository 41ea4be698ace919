"""monitoring/: the Prometheus alert rules pass promtool (syntax and their unit tests), and the Grafana dashboard's
queries parse and name only metrics the daemon exports. The promtool checks skip, saying so, without promtool
(Debian: apt-get install prometheus)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.daemon.metric_samples import exported_families

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "scoutzoom-alerts.yml"
RULE_TESTS = MONITORING / "prometheus" / "scoutzoom-alerts.test.yml"
DASHBOARD = MONITORING / "grafana" / "scoutzoom-dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool absent (apt-get install prometheus)")
# Grafana's variables, as a query would see them
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "24h", "$job": "scoutzoom", "$instance": ".*"}
METRIC = re.compile(r"\b((?:scoutzoom|process)_[a-z0-9_]+)\b")


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = []
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            queries.append(expr)
    return queries


def rule_queries() -> list[str]:
    """The rules file as one text: every metric name in it must exist (names appear in expressions only)."""
    return [RULES.read_text()]


def exported_names() -> set[str]:
    """Sample names of the daemon's registry once every labelled series has a value."""
    families = exported_families()
    return {sample.name for family in families for sample in family.samples}


@needs_promtool
def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = _promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Each query becomes a recording rule, so promtool's PromQL parser checks it."""
    queries = dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    checked = _promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout


def test_dashboard_and_alerts_name_only_scoutzoom_metrics_that_exist() -> None:
    exported = exported_names()
    named = {name for query in dashboard_queries() + rule_queries() for name in METRIC.findall(query)}
    ours = {name for name in named if name.startswith("scoutzoom_")}
    assert len(ours) >= 10
    assert ours <= exported, sorted(ours - exported)


def test_process_metrics_the_dashboard_uses_are_exported() -> None:
    wanted = {name for query in dashboard_queries() for name in METRIC.findall(query) if name.startswith("process_")}
    assert wanted == {"process_resident_memory_bytes", "process_cpu_seconds_total"}
    missing = wanted - exported_names()
    if missing:
        pytest.xfail(f"daemon.metrics does not register process metrics yet (issue 19): {sorted(missing)}")


def test_dashboard_layout_is_sound() -> None:
    body = json.loads(DASHBOARD.read_text())
    panels = body["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
    titles = {p["title"] for p in panels}
    for wanted in (
        "Queued",
        "In progress",
        "Stage time",
        "Jobs ended per hour, by outcome",
        "Model cache hit rate (24 h)",
        "Trust flags per day",
        "Held-out PSNR gain over cubic",
        "Resident memory",
    ):
        assert wanted in titles
    assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in panels for t in p.get("targets", []))
