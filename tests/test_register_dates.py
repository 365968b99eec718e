"""Register dates read by DuckDB as it reads the file: a column whose first records are
all written in one plain form is read as dates, and only what parse_date reads the same
way is taken from that read; any other cell sends the file down the text or the
cell-by-cell path, which read it as before."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.readers import SAMPLED
from ingest.register import parse_date
from ingest.register_fast import date_columns, not_plain_date
from tests.register_helpers import load, project_line, query, register_config, write_register

_DATE_TEXT = st.text(alphabet="0123456789-/.年月日 \tT:+aEchinotyp", min_size=1, max_size=12)
_FORMS = ("%Y-%m-%d", "%Y/%m/%d")


@settings(deadline=None, max_examples=100)
@given(
    text=_DATE_TEXT
    | st.sampled_from(["epoch", "infinity", "-infinity", " 2026-3-5 ", "0999-12-31"])
    | st.dates().map(lambda d: f"{d.year:04d}-{d.month}-{d.day}")
    | st.dates().map(lambda d: f"{d.year}/{d.month:02d}/{d.day}"),
    form=st.sampled_from(_FORMS),
    kind=st.sampled_from(["DATE", "TIMESTAMP"]),
)
def test_dates_read_with_the_file_are_read_as_in_python(
    tmp_path_factory: pytest.TempPathFactory, text: str, form: str, kind: str
) -> None:
    path = tmp_path_factory.mktemp("dates") / "cell.csv"
    path.write_text('day\n"' + text.replace('"', '""') + '"\n', encoding="utf-8")
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT day, {not_plain_date('day')} FROM (SELECT CAST(day AS DATE) AS day "
            "FROM read_csv(?, header = true, auto_detect = false, columns = {'day': ?}, "
            "dateformat = ?, timestampformat = ?))",
            [str(path), kind, form, form],
        ).fetchall()[0]
    except duckdb.Error:
        return  # the file is read as text
    day, not_plain = row
    if day is None or not_plain:
        return  # empty, or decided cell by cell
    assert parse_date(text) == day, text


def test_the_columns_read_as_dates_are_those_of_one_form() -> None:
    headers = {"planned_0": "a", "reported_0": "b", "confirmed_0": "c", "planned_1": "d"}
    names = ["id", "a", "b", "c", "d"]
    sample = [
        ["P1", "2026-01-05", "2026/1/6", "", "2026-2-1"],
        ["P2", " 2026-01-07 ", "", "", "2026/2/1"],  # d holds two forms
    ]
    dashes, slashes = (frozenset({"a"}), "%Y-%m-%d"), (frozenset({"b"}), "%Y/%m/%d")
    assert date_columns(headers, names, sample) == (dashes, slashes)
    more_slashes = [*sample, ["P3", "", "2026/1/8", "", ""], ["P4", "", "2026/1/9", "", ""]]
    assert date_columns(headers, names, more_slashes) == (slashes, dashes)
    nothing = (frozenset(), "")
    assert date_columns(headers, names, sample[:0]) == (nothing, nothing)
    assert date_columns(headers, names, [row[:2] for row in sample]) == (dashes, nothing)


def _file(tmp_path: Path, late: str, slash: bool = False) -> Path:
    """SAMPLED projects whose start is planned in one form, then one planned as `late`;
    their signing planned in the other form (read as TIMESTAMP)."""
    first, other = ("{}/{}/{}", "{}-{}-{}") if slash else ("{}-{}-{}", "{}/{}/{}")
    lines = [
        project_line(
            f"P{i:04d}",
            started=(first.format(2026, 1 + i % 12, 1 + i % 28), ""),
            signed=(other.format(2025, 1 + i % 12, 1), ""),
        )
        for i in range(SAMPLED)
    ]
    return write_register(
        tmp_path / "register.csv", [*lines, project_line("LATE", started=(late, ""))]
    )


@pytest.mark.parametrize(
    ("late", "day", "slash"),
    [
        ("2026/3/5", date(2026, 3, 5), False),  # another form after the sampled records
        ("2026-3-5", date(2026, 3, 5), True),
        ("2026年3月5日", date(2026, 3, 5), False),
        ("1970-01-01", date(1970, 1, 1), False),  # what DuckDB also reads 'epoch' as
        ("1970/1/1", date(1970, 1, 1), True),
        ("46027", date(2026, 1, 5), False),  # an Excel serial
        ("2026-03-05", date(2026, 3, 5), False),  # the column's own form
        ("2026/03/05", date(2026, 3, 5), True),
    ],
)
def test_a_cell_in_another_form_than_its_column_is_read_as_ever(
    tmp_path: Path, late: str, day: date, slash: bool
) -> None:
    config = register_config(tmp_path)
    load(config, _file(tmp_path, late, slash), "2026-03-01")
    planned = query(
        config, "SELECT planned FROM project_nodes WHERE project = 'LATE' AND node = 'started'"
    )
    assert planned == [(day,)]
    assert query(config, "SELECT count(*) FROM projects") == [(SAMPLED + 1,)]
    signed = query(
        config, "SELECT planned FROM project_nodes WHERE project = 'P0013' AND node = 'signed'"
    )
    assert signed == [(date(2025, 2, 1),)]


@pytest.mark.parametrize("slash", [False, True])
@pytest.mark.parametrize("late", ["epoch", "infinity", "2026-02-30", "2026 3 5"])
def test_a_cell_duckdb_reads_but_parse_date_does_not_refuses_the_file(
    tmp_path: Path, late: str, slash: bool
) -> None:
    config = register_config(tmp_path)
    with pytest.raises(IngestError) as refused:
        load(config, _file(tmp_path, late, slash), "2026-03-01")
    assert f"line {SAMPLED + 2}" in str(refused.value)
    assert "开工计划" in str(refused.value)
    assert query(config, "SELECT count(*) FROM projects") == [(0,)]
