"""The demo's illustrative task lists: reproducible from their generator, loaded whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingest.schema import StoreSettings
from ingest.store import open_store
from kpiwatch.config import load_config
from kpiwatch.worklists import ingest_records
from tests.conftest import ROOT

LISTS = ROOT / "sample" / "task_lists_illustrative"


def test_the_generator_reproduces_the_committed_lists(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make_task_lists.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True)
    for name in ("tasks.csv", "progress.csv", "problems.csv"):
        assert (tmp_path / name).read_bytes() == (LISTS / name).read_bytes(), name


def test_the_demo_lists_load_against_the_plans_figures(tmp_path: Path) -> None:
    demo = load_config(ROOT / "config.toml")
    config = demo.model_copy(update={"store": StoreSettings(path=str(tmp_path / "s.duckdb"))})
    con = open_store(config.store_path)
    try:
        results = ingest_records(con, config)
        assert [(p.name, e) for p, _, e in results] == [
            ("tasks.csv", None),
            ("problems.csv", None),
            ("progress.csv", None),
        ]
        quantities = dict(
            con.execute("SELECT task, quantity FROM tasks WHERE quantity IS NOT NULL").fetchall()
        )
        assert quantities == {
            "UR-2026": 627,
            "UR-Q1": 151,
            "MD-2026": 22,
            "MR-2026": 26,
            "CM-2026": 13,
        }
        counts = con.execute(
            "SELECT parent, count(*) FROM tasks WHERE parent IS NOT NULL GROUP BY ALL ORDER BY 1"
        ).fetchall()
        assert counts == [
            ("CM-2026", 13),
            ("MD-2026", 22),
            ("MR-2026", 26),
            ("UR-2026", 476 + 1),  # the projects after Q1, and UR-Q1 itself
            ("UR-Q1", 151),
        ]
    finally:
        con.close()
