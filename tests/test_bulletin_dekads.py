"""The bulletin's data notes name late 旬 figures: the 旬 missing and the day it was due."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpiwatch import app
from kpiwatch.cli import cli
from kpiwatch.config import Config, load_config
from kpiwatch.report import Request, build
from tests.bulletin_helpers import probe

# Judged on 25 November 2026 with release_lag_days_dekad = 5. a: to October's 下旬, so
# November's 上旬 was due on 15 November; b: to October's 上旬, its 中旬 due on 25 October;
# c: to November's 上旬, its 中旬 due on 25 November: not late yet; d: to September's 中旬,
# its 下旬 due on 5 October: late, but neither figure is October's.
CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "top"
name = "全区"
[[regions]]
id = "a"
name = "甲区"
parent = "top"
owner = "甲区管委会"
[[regions]]
id = "b"
name = "乙区"
parent = "top"
owner = "乙区管委会"
[[regions]]
id = "c"
name = "丙区"
parent = "top"
[[regions]]
id = "d"
name = "丁区"
parent = "top"

[[indicators]]
id = "fai_d"
name = "固定资产投资"
unit = "亿元"
kind = "flow"
frequency = "dekad"
owner = "发展和改革局"

[[sources]]
name = "data"
path = "data.csv"
layout = "long"
[sources.columns]
period = "period"
region = "region"
series = "indicator"
measure = "measure"
value = "value"
"""
LAST = {"a": "2026-10-D3", "b": "2026-10-D1", "c": "2026-11-D1", "d": "2026-09-D2"}
MONTH = "2026-10"
LATE_A = "固定资产投资 · 甲区: the figure for 2026-11-D1 is late (due 2026-11-15)"
LATE_B = "固定资产投资 · 乙区: the figure for 2026-10-D2 is late (due 2026-10-25)"
LATE_D = "固定资产投资 · 丁区: the figure for 2026-09-D3 is late (due 2026-10-05)"


def _data() -> str:
    lines = ["period,region,indicator,measure,value"]
    for region, last in LAST.items():
        labels = [f"2026-{m:02d}-D{d}" for m in range(1, 12) for d in (1, 2, 3)]
        lines += [f"{x},{region},fai_d,value,10" for x in labels if x <= last]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("bulletin_dekads")
    targets = "".join(
        f'\n[[targets]]\nindicator = "fai_d"\nregion = "{r}"\nyear = 2026\nannual = 360\n'
        for r in LAST
    )
    (root / "config.toml").write_text(CONFIG + targets, encoding="utf-8")
    (root / "data.csv").write_text(_data(), encoding="utf-8")
    config = load_config(root / "config.toml")
    outcomes = app.ingest(config, known_from=datetime(2026, 11, 20))
    assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
    app.refresh_checks(config, date(2026, 11, 25))
    return config


def _notes(page: str) -> list[str]:
    section = page.split('<section id="notes">')[1].split("</section>")[0]
    return [li.split("</li>")[0] for li in section.split("<li>")[1:]]


def test_the_notes_name_each_late_dekad_of_the_month_in_a_browser(
    store: Config, tmp_path: Path
) -> None:
    out = tmp_path / "bulletin.html"
    done = CliRunner().invoke(
        cli,
        [
            "--config",
            str(store.base_dir / "config.toml"),
            "report",
            "--month",
            MONTH,
            "-o",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    text = str(probe(out.read_text(encoding="utf-8"), tmp_path)["text"])
    notes = text.split("Data notes")[1]
    # b's first, by the day due; c is not late yet, d's late figures are September's
    assert notes.index(LATE_B) < notes.index(LATE_A)
    assert "丙区" not in notes and "丁区" not in notes


def test_a_late_dekad_is_noted_in_the_month_of_its_newest_figure_or_of_the_missing_one(
    store: Config,
) -> None:
    september = _notes(build(store, Request("2026-09")))
    assert [n for n in september if "late" in n] == [LATE_D]  # b's figures are October's
    october = _notes(build(store, Request(MONTH)))
    assert [n for n in october if "late" in n] == [LATE_B, LATE_A]


def test_a_region_or_a_unit_narrows_the_late_dekads(store: Config) -> None:
    for request in (Request(MONTH, region="甲区"), Request(MONTH, unit="甲区管委会")):
        assert [n for n in _notes(build(store, request)) if "late" in n] == [LATE_A]
    # the indicator's owner answers for c's and d's targets, a region's owner for a's and b's
    owner = _notes(build(store, Request(MONTH, unit="发展和改革局")))
    assert not [n for n in owner if "late" in n]
