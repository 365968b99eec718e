"""Units' metrics (bounded labels), their alert rules under promtool, and metrics, rules and
the units dashboard's queries on a real Prometheus scraping `kpiwatch serve`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.request import urlopen

import duckdb
from grafana_foundation_sdk.models.dashboard import Dashboard
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporters.unit_metrics import UnitCollector, UnitData, UnitRow, read_unit_data
from ingest.store import open_store
from kpiwatch import worklists
from kpiwatch.config import Config
from tests.service_helpers import KPIWATCH, free_port, kpiwatch_serve, prometheus, query, ready
from tests.service_helpers import wait_for as wait
from tests.test_dashboards import as_promql
from tests.units_helpers import load_lists

ROW = UnitRow("renewal", "城市更新", "department", "tf3", "tf3", 3, 1, 1, 1 / 3, 0.0, 4.5, 4.5, 2)


def exposition(data: UnitData) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(UnitCollector(data))
    return generate_latest(registry).decode()


def test_one_series_per_unit_and_status_never_per_task() -> None:
    text = exposition(UnitData([ROW], [("renewal", "overdue", 2), ("renewal", "done_late", 1)]))
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert 'kpiwatch_unit_tasks{status="overdue",unit="renewal"} 2.0' in samples
    assert 'kpiwatch_unit_tasks{status="done",unit="renewal"} 0.0' in samples
    assert 'kpiwatch_unit_completion_ratio{unit="renewal"} 0.3333333333333333' in samples
    assert 'kpiwatch_unit_problems{status="overdue",unit="renewal"} 1.0' in samples
    assert 'kpiwatch_unit_rank{unit="renewal"} 2.0' in samples
    assert 'kpiwatch_unit_tree_score{unit="renewal"} 4.5' in samples
    assert len(samples) == 5 + 6 + 2 + 1  # statuses, per-unit figures, problems, info
    assert "task=" not in text


def test_exposition_passes_promtool_check_metrics() -> None:
    text = exposition(UnitData([ROW], [("renewal", "overdue", 2)]))
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_read_from_the_store_skips_regions_without_tasks(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    extra = '[[regions]]\nid = "idle_zone"\nname = "空区"\nparent = "west_coast"\n'
    config = load_lists(make_config, tmp_path, extra)
    con: duckdb.DuckDBPyConnection = open_store(config.store_path)
    try:
        data = read_unit_data(con)
    finally:
        con.close()
    # The regions above tf3 hold its tasks in their tree; idle_zone holds none.
    units = ["CN", "housing", "idle_co", "renewal", "tf3", "west_coast"]
    assert [u.unit for u in data.units] == units
    # Today every deadline of the lists has passed: statuses as of the machine's day.
    assert ("renewal", "overdue", 3) in data.counts


def test_rules_pass_promtool_check_and_unit_tests(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    load_lists(make_config, tmp_path)
    done = subprocess.run(
        [KPIWATCH, "rules", "-o", "rules"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rules = tmp_path / "rules"
    for args in (
        ["check", "rules", "kpiwatch-units-rules.yml"],
        ["test", "rules", "kpiwatch-units-rules.test.yml"],
    ):
        run = subprocess.run(["promtool", *args], cwd=rules, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr


def test_a_real_prometheus_fires_the_alerts_and_answers_the_dashboard(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = load_lists(make_config, tmp_path, '[unit_alerts]\noverdue_for = "0s"\n')
    subprocess.run([KPIWATCH, "rules", "-o", "rules"], cwd=tmp_path, check=True)
    subprocess.run([KPIWATCH, "dashboards", "-o", "grafana"], cwd=tmp_path, check=True)
    board = json.loads((tmp_path / "grafana" / "dashboards" / "kpiwatch-units.json").read_text())
    assert Dashboard.from_json(board).uid == "kpiwatch-units"
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    exprs += [as_promql(v["query"]) for v in board["templating"]["list"] if v["type"] == "query"]
    fill = {"$job": "kpiwatch", "$instance": ".*", "$unit": "renewal"}
    port = free_port()
    with kpiwatch_serve(tmp_path, port, today="2026-03-30"):
        wait(lambda: ready(port), what="/readyz")
        served = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        rules = [tmp_path / "rules" / "kpiwatch-units-rules.yml"]
        with prometheus(tmp_path, [f"127.0.0.1:{port}"], rule_files=rules) as prom:
            firing = 'ALERTS{alertname="KpiwatchUnitTasksOverdue",alertstate="firing"}'
            wait(lambda: bool(query(prom, firing)["result"]), 90, "the overdue alert")
            units = {r["metric"]["unit"] for r in query(prom, firing)["result"]}  # type: ignore[index, union-attr]
            assert units == {"housing", "renewal"}
            for expr in exprs:
                for key, value in fill.items():
                    expr = expr.replace(key, value)
                assert query(prom, expr)["result"], expr
            low = query(prom, "kpiwatch_unit_completion_ratio < 0.8")["result"]
            assert {r["metric"]["unit"] for r in low} == {"housing", "renewal"}  # type: ignore[index, union-attr]
    # As `kpiwatch units --as-of 2026-03-30` ranks them, not as of the machine's date
    # (when R_soon, due 1 April, is overdue).
    assert 'kpiwatch_unit_tasks{status="due_soon",unit="renewal"} 1.0' in served
    for unit in worklists.ranking(config, date(2026, 3, 30)):
        name = unit["unit"]
        assert f'kpiwatch_unit_tasks_due{{unit="{name}"}} {float(unit["due"])}' in served  # type: ignore[arg-type]
        for family, value in (("score", unit["score"]), ("tree_score", unit["tree_score"])):
            line = f'kpiwatch_unit_{family}{{unit="{name}"}} {value}'
            assert (line in served) == (value is not None), line
        rank = unit["rank_in_parent"]
        assert (f'kpiwatch_unit_rank{{unit="{name}"}} {rank}.0' in served) == (rank is not None)
