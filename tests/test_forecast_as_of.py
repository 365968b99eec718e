"""`kpiwatch forecast --as-of`: a forecast made from the vintages known then only."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpiwatch import app
from kpiwatch.cli import cli
from kpiwatch.config import Config, load_config
from tests.checks_helpers import CONFIG
from tests.test_growth import TARGET, gdp_rows

HEADER = "period,region,indicator,measure,value\n"
# Known on 20 October 2023: the third quarter, and the first half revised from 5.5 to 5.0.
OCTOBER = "2023Q2,CN,gdp_growth,ytd_yoy_pct,5.0\n2023Q3,CN,gdp_growth,ytd_yoy_pct,5.2\n"


def store(tmp: Path, files: list[tuple[str, datetime]]) -> Config:
    """A store loaded file by file, each with its vintage, and refreshed."""
    (tmp / "config.toml").write_text(CONFIG + TARGET, encoding="utf-8")
    config = load_config(tmp / "config.toml")
    for i, (text, vintage) in enumerate(files):
        path = tmp / f"release{i}.csv"
        path.write_text(HEADER + text, encoding="utf-8")
        outcomes = app.ingest(config, [path], source_name="data", known_from=vintage)
        assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
    app.refresh(config)
    return config


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Config]:
    """Both releases in one store; the July release alone in another."""
    july = (gdp_rows(2) + "\n", datetime(2023, 7, 20))
    october = (OCTOBER, datetime(2023, 10, 20))
    both = store(tmp_path_factory.mktemp("both"), [july, october])
    only_july = store(tmp_path_factory.mktemp("july"), [july])
    return both, only_july


def as_of(config: Config, moment: datetime) -> list[dict[str, object]]:
    return app.forecast_rows_as_of(config, "gdp_growth", "CN", moment)


def test_as_of_uses_only_the_vintages_known_then(stores: tuple[Config, Config]) -> None:
    both, only_july = stores
    september = as_of(both, datetime(2023, 9, 30, 23, 59))
    stored_july = app.forecast_rows(only_july, "gdp_growth", "CN")
    # what the store said in September is what a store of the July release says
    keys = ("horizon", "as_of", "point", "lower80", "upper95", "p_meet", "model")
    assert [{k: r[k] for k in keys} for r in september] == [
        {k: r[k] for k in keys} for r in stored_july
    ]
    assert september[0]["as_of"] == "2023-06"
    # a month later the revised half year and the third quarter are in
    late = as_of(both, datetime(2023, 10, 31))
    assert late[0]["as_of"] == "2023-09" and late[0]["point"] != september[0]["point"]
    assert late == as_of(both, datetime(2023, 10, 20, 0, 0))
    # before the July release nothing was known
    assert as_of(both, datetime(2023, 7, 19, 23, 59)) == []


def test_the_cli_prints_p_meet_to_a_tenth_of_a_percent(stores: tuple[Config, Config]) -> None:
    both, _ = stores
    args = ["--config", str(both.base_dir / "config.toml"), "forecast"]
    args += ["--indicator", "gdp_growth", "--region", "CN"]
    result = CliRunner().invoke(cli, [*args, "--as-of", "2023-09"])
    assert result.exit_code == 0, result.output
    assert "data to 2023-06" in result.output
    assert re.search(r"\b\d{1,3}\.\d%", result.output), result.output
    early = CliRunner().invoke(cli, [*args, "--as-of", "2022Q4"])
    assert early.exit_code == 1 and "as of 2022-12-31" in early.output
    bad = CliRunner().invoke(cli, [*args, "--as-of", "September"])
    assert bad.exit_code != 0 and "--as-of 'September'" in bad.output
