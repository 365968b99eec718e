"""`kpiwatch refresh` and `kpiwatch status` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.checks_helpers import CONFIG

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KPIWATCH, *args], capture_output=True, text=True, cwd=cwd)


def test_refresh_then_status_board_worst_first(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        CONFIG
        + """
[checks]
labels = { on_track = "green", at_risk = "yellow", behind = "red" }
"""
        + "".join(
            f'[[targets]]\nindicator = "projects_started"\nregion = "{r}"\nyear = 2026\n'
            "annual = 1200\n"
            for r in ("zone_a", "zone_b")
        ),
        encoding="utf-8",
    )
    (tmp_path / "data.csv").write_text(
        "period,region,indicator,measure,value\n"
        "2026年3月,zone_a,projects_started,ytd,310\n"
        "2026年3月,zone_b,projects_started,ytd,150\n",
        encoding="utf-8",
    )
    done = run(tmp_path, "refresh", "--today", "2026-04-10")
    assert done.returncode == 0, done.stderr
    assert "1 file(s) loaded (2 new or revised values), 0 skipped, 0 refused" in done.stdout
    again = run(tmp_path, "refresh", "--today", "2026-04-10")
    assert "0 file(s) loaded (0 new or revised values), 1 skipped, 0 refused" in again.stdout
    board = run(tmp_path, "status")
    assert board.returncode == 0, board.stderr
    lines = [ln for ln in board.stdout.splitlines() if "B区" in ln or "A区" in ln]
    assert "red" in lines[0] and "B区" in lines[0] and "50.0%" in lines[0]
    assert "green" in lines[1] and "A区" in lines[1]
    only_a = run(tmp_path, "status", "--region", "zone_a", "--horizon", "quarter")
    assert "A区" in only_a.stdout and "B区" not in only_a.stdout
