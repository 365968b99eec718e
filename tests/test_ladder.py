"""The escalation ladder on the real pipeline: config → ingest → checks → escalations."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from kpiwatch import app, worklists
from kpiwatch.config import Config, load_config
from tests.checks_helpers import CONFIG, one, pipeline
from tests.register_helpers import load, project_line, register_config, write_register
from tests.test_cli_board import run

TARGET = """
[[targets]]
indicator = "projects_started"
region = "zone_a"
year = 2026
annual = 1200
"""


def rows(values: list[float], region: str = "zone_a") -> str:
    """One month's own value per month from January."""
    return "\n".join(
        f"2026-{m:02d},{region},projects_started,value,{v}" for m, v in enumerate(values, 1)
    )


def history(config: Config) -> list[tuple[str, str, int]]:
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        got = con.execute(
            "SELECT period, status, level FROM escalation_history ORDER BY period_end"
        ).fetchall()
    finally:
        con.close()
    return [(str(p), str(s), int(v)) for p, s, v in got]


def test_three_red_months_are_accountability_while_the_year_is_yellow(tmp_path: Path) -> None:
    config = pipeline(tmp_path, rows([150, 70, 70, 70]), TARGET)
    assert one(config, "zone_a", "2026-04", "year")["status"] == "at_risk"
    assert [lv for _, _, lv in history(config)] == [0, 1, 2, 3]


def escalations(config: Config, as_of: date) -> list[dict[str, object]]:
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        cur = con.execute(
            "SELECT * FROM escalations_as_of(?) ORDER BY item_kind, item, reached", [as_of]
        )
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("", [1, 2, 1, 1]),  # one month on track steps down one level; red again holds it
        ("recover_periods = 2", [1, 2, 2, 2]),  # one month on track is not enough
        ("step_down = 3", [1, 2, 0, 1]),  # one month on track clears the ladder
        ("periods = [1, 3, 4]", [1, 1, 0, 1]),
    ],
)
def test_red_red_green_red_follows_the_recovery_rule(
    tmp_path: Path, settings: str, expected: list[int]
) -> None:
    config = pipeline(tmp_path, rows([70, 70, 100, 70]), TARGET + "[escalation]\n" + settings)
    assert [s for _, s, _ in history(config)] == ["behind", "behind", "on_track", "behind"]
    assert [lv for _, _, lv in history(config)] == expected


TALK = """
[[units]]
id = "finance"
name = "财政局"
kind = "department"
[escalation]
recover_periods = 2
[[escalation.talks]]
date = {date}
unit = "{unit}"
note = "约谈 on the missed starts"
"""


@pytest.mark.parametrize(
    ("talk", "april"),
    [
        ({"date": "2026-03-05", "unit": "发展改革局"}, 3),  # still behind after the talk
        ({"date": "2026-03-05", "unit": "财政局"}, 2),  # another unit's talk
        ({"date": "2026-02-20", "unit": "发展改革局"}, 2),  # before it stood at 约谈
        ({"date": "2026-04-30", "unit": "发展改革局"}, 2),  # April ends with the talk
    ],
)
def test_behind_after_a_recorded_talk_is_accountability(
    tmp_path: Path, talk: dict[str, str], april: int
) -> None:
    config = pipeline(tmp_path, rows([70, 70, 100, 70]), TARGET + TALK.format(**talk))
    assert [lv for _, _, lv in history(config)] == [1, 2, 2, april]
    found = escalations(config, date(2026, 5, 10))
    assert [(e["level"], e["reached_period"], e["current"]) for e in found] == [
        (1, "2026-01", False),
        (2, "2026-02", april == 2),
        *([(3, "2026-04", True)] if april == 3 else []),
    ]
    assert found[-1]["by_talk"] is (april == 3)


def test_without_the_talk_rule_a_talk_changes_nothing(tmp_path: Path) -> None:
    extra = TALK.format(date="2026-03-05", unit="发展改革局")
    extra = extra.replace("recover_periods = 2", "recover_periods = 2\nafter_talk = false")
    config = pipeline(tmp_path, rows([70, 70, 100, 70]), TARGET + extra)
    assert [lv for _, _, lv in history(config)] == [1, 2, 2, 2]


def test_the_history_dates_each_level_and_its_clearing(tmp_path: Path) -> None:
    config = pipeline(tmp_path, rows([70, 70, 70, 100, 100, 100, 100]), TARGET)
    found = escalations(config, date(2026, 8, 10))
    got = [
        (e["level"], e["level_name"], e["reached"], e["cleared"], e["next_level"]) for e in found
    ]
    assert got == [
        (1, "通报", date(2026, 1, 31), date(2026, 2, 28), 2),
        (2, "约谈", date(2026, 2, 28), date(2026, 3, 31), 3),
        (3, "问责", date(2026, 3, 31), date(2026, 4, 30), 2),
        (2, "约谈", date(2026, 4, 30), date(2026, 5, 31), 1),
        (1, "通报", date(2026, 5, 31), date(2026, 6, 30), 0),
    ]
    assert not any(e["current"] for e in found)
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        levels = con.execute(
            "SELECT horizon, escalation_level, escalation FROM progress_escalation "
            "WHERE as_of = '2026-03' ORDER BY horizon"
        ).fetchall()
    finally:
        con.close()
    assert levels == [("month", 3, "问责"), ("quarter", 3, "问责"), ("year", 3, "问责")]


TASKS = """
[[units]]
id = "dev"
name = "发展改革局"
kind = "department"
[[tasks]]
id = "T1"
title = "开工手续"
unit = "dev"
deadline = 2026-04-01
[[tasks]]
id = "T2"
title = "签约"
unit = "dev"
deadline = 2026-04-20
"""


def test_tasks_climb_by_days_overdue(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + TARGET + TASKS, encoding="utf-8")
    (tmp_path / "data.csv").write_text("period,region,indicator,measure,value\n", encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    app.ingest(config, known_from=datetime(2026, 1, 1))
    app.refresh_checks(config, date(2026, 4, 26))
    found = [e for e in escalations(config, date(2026, 4, 26)) if e["item_kind"] == "task"]
    got = [(e["item"], e["level"], e["reached"], e["cleared"], e["current"]) for e in found]
    assert got == [
        ("T1", 1, date(2026, 4, 12), date(2026, 4, 22), False),
        ("T1", 2, date(2026, 4, 22), None, True),
    ]


def test_status_shows_the_level(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + TARGET, encoding="utf-8")
    (tmp_path / "data.csv").write_text(
        "period,region,indicator,measure,value\n" + rows([150, 70, 70, 70]), encoding="utf-8"
    )
    done = run(tmp_path, "refresh", "--today", "2026-05-10")
    assert done.returncode == 0, done.stderr
    for horizon, shown in (("year", "问责"), ("month", "问责")):
        board = run(tmp_path, "status", "--horizon", horizon)
        assert board.returncode == 0, board.stderr
        assert "ladder" in board.stdout and shown in board.stdout, board.stdout


def test_the_unit_list_shows_its_items_on_the_ladder(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + TARGET + TASKS, encoding="utf-8")
    (tmp_path / "data.csv").write_text(
        "period,region,indicator,measure,value\n" + rows([70, 70]), encoding="utf-8"
    )
    config = load_config(tmp_path / "config.toml")
    app.ingest(config, known_from=datetime(2026, 1, 1))
    app.refresh_checks(config, date(2026, 4, 26))
    found = worklists.one_unit(config, "dev", date(2026, 4, 26))
    assert found is not None
    got = [(e["level_name"], e["item"], e["reached_period"]) for e in found.escalations]
    assert got == [("约谈", "projects_started/zone_a", "2026-02"), ("约谈", "T1", "2026-04-22")]
    shown = run(tmp_path, "units", "--unit", "dev", "--as-of", "2026-04-26")
    assert shown.returncode == 0, shown.stderr
    assert "escalation" in shown.stdout and "约谈" in shown.stdout, shown.stdout


def test_a_talk_with_an_unknown_unit_is_refused_by_check_config(tmp_path: Path) -> None:
    extra = TALK.format(date="2026-03-05", unit="发展改革")  # a typo of 发展改革局
    (tmp_path / "config.toml").write_text(CONFIG + TARGET + extra, encoding="utf-8")
    done = run(tmp_path, "check-config")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "escalation.talks[#1].unit: unknown unit '发展改革'" in done.stderr, done.stderr


def test_project_nodes_climb_by_days_overdue_and_clear_when_done(tmp_path: Path) -> None:
    config = register_config(tmp_path)
    path = write_register(
        tmp_path / "register1.csv",
        [
            project_line("P1", land=("2026-03-01", "")),  # 35 days late on 5 April
            project_line("P2", started=("2026-03-01", "2026-03-15")),  # 14 days late, done
        ],
    )
    load(config, path, "2026-03-20")
    app.refresh_checks(config, date(2026, 4, 5))
    found = [e for e in escalations(config, date(2026, 4, 5)) if e["item_kind"] == "project_node"]
    got = [(e["item"], e["level"], e["reached"], e["cleared"], e["current"]) for e in found]
    assert got == [
        ("major/P1/land", 1, date(2026, 3, 12), date(2026, 3, 22), False),
        ("major/P1/land", 2, date(2026, 3, 22), date(2026, 4, 1), False),
        ("major/P1/land", 3, date(2026, 4, 1), None, True),
        ("major/P2/started", 1, date(2026, 3, 12), date(2026, 3, 15), False),
    ]
    assert {e["unit"] for e in found} == {"发改局"}
