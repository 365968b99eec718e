"""Talks (约谈) read from a file: they count like config's, and a bad file changes nothing."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from ingest.errors import IngestError
from ingest.store import open_store
from kpiwatch import app
from kpiwatch.cli import cli
from kpiwatch.config import Config
from tests.checks_helpers import pipeline
from tests.conftest import dump
from tests.test_ladder import TARGET, rows

# Two thresholds: 问责 only for a unit still behind after a talk.
SETTINGS = """
[[units]]
id = "dev"
name = "发展改革局"
kind = "department"
[escalation]
periods = [1, 2]
recover_periods = 2
talk_files = ["talks.csv"]
"""

GOOD = "日期,被约谈单位,约谈事由\n2026-03-05,发展改革局,重点项目开工滞后\n\n2026年4月2日,dev,\n"


def levels(config: Config) -> list[int]:
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        got = con.execute(
            "SELECT level FROM escalation_history WHERE item_kind = 'check' ORDER BY period_end"
        ).fetchall()
    finally:
        con.close()
    return [int(v) for (v,) in got]


@pytest.fixture(scope="module")
def talked(tmp_path_factory: pytest.TempPathFactory) -> Config:
    tmp = tmp_path_factory.mktemp("talks")
    (tmp / "talks.csv").write_text(GOOD, encoding="utf-8")
    return pipeline(tmp, rows([70, 70, 100, 70]), TARGET + SETTINGS)


def test_a_unit_still_behind_after_a_talk_from_a_file_is_accountability(talked: Config) -> None:
    # red, red (约谈), on track (held: two are needed to step down), red after the talk
    assert levels(talked) == [1, 2, 2, 3]
    con = duckdb.connect(str(talked.store_path), read_only=True)
    try:
        stored = con.execute("SELECT * FROM escalation_talks ORDER BY talk_date").fetchall()
    finally:
        con.close()
    assert [(str(d), u, n) for d, u, n in stored] == [
        ("2026-03-05", "发展改革局", "重点项目开工滞后"),
        ("2026-04-02", "dev", ""),
    ]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "日期,被约谈单位\n2026-03-05,发展改革局\n2026-02-30,发展改革局\n2026-03-07,发改局\n",
            ["line 3, field 'date' ('2026-02-30'): not a real date", "line 4, field 'unit'"],
        ),
        ("date,unit,who\n2026-03-05,dev,x\n", ["line 1, field 'who'", "unknown column"]),
        ("date,note\n2026-03-05,x\n", ["field 'unit'", "required column missing"]),
        ("date,unit\n,dev\n", ["line 2, field 'date'", "not a date"]),
    ],
)
def test_a_bad_talk_file_is_refused_whole_and_changes_nothing(
    talked: Config, text: str, problems: list[str]
) -> None:
    path = talked.resolve("talks.csv")
    before = dump(talked.store_path)
    path.write_text(text, encoding="utf-8")
    try:
        con = open_store(talked.store_path)
        try:
            with pytest.raises(IngestError) as err:
                app.escalations_with(con, talked)
        finally:
            con.close()
        assert dump(talked.store_path) == before
        for problem in problems:
            assert problem in str(err.value)
        assert f"{path}: " in str(err.value)
    finally:
        path.write_text(GOOD, encoding="utf-8")


def test_check_config_names_the_file_line_and_field(talked: Config) -> None:
    path = talked.resolve("talks.csv")
    path.write_text("日期,单位\n2026-03-05,发展改革\n", encoding="utf-8")
    try:
        done = CliRunner().invoke(cli, ["check-config", str(path.parent / "config.toml")])
    finally:
        path.write_text(GOOD, encoding="utf-8")
    assert done.exit_code == 1 and "Traceback" not in done.output, done.output
    assert "talks.csv: line 2, field 'unit' ('发展改革'): a unit the config does not name" in (
        done.stderr
    ), done.output
