"""Config models owned by the ingest stage: store, indicators, regions and sources."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from ingest.text import name_key

# Ids end up in Prometheus labels, file names and SQL parameters: keep them plain.
Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Measure = Literal["value", "ytd", "yoy_pct", "ytd_yoy_pct"]
Kind = Literal["flow", "growth", "stock"]
Layout = Literal["long", "columns", "wide"]
Encoding = Literal["auto", "utf-8", "gbk", "gb18030", "utf-16"]


class Strict(BaseModel):
    """Base for every config table: unknown keys are errors, objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(Strict):
    """[store]: where the DuckDB file lives."""

    path: str = "kpiwatch.duckdb"
    # e.g. "2GB": DuckDB spills beyond this to <path>.tmp/ (default: 80 % of RAM)
    memory_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")


class Indicator(Strict):
    """[[indicators]]: one monitored indicator."""

    id: Id
    name: str
    unit: str = ""
    kind: Kind
    # dekad: figures per 旬, checked per 旬 and summed (flows) or taken at the month's last
    # 旬 (stocks, rates) into months
    frequency: Literal["monthly", "quarterly", "dekad"] = "monthly"
    direction: Literal["higher", "lower"] = "higher"
    owner: str = ""
    # Counts and amounts cannot be negative; a negative one is a typing error.
    non_negative: bool | None = None
    illustrative: bool = False
    # a growth rate derived from this flow's or stock's levels where both years are known
    levels: Id | None = None

    @property
    def refuses_negative(self) -> bool:
        if self.non_negative is not None:
            return self.non_negative
        return self.kind != "growth"


class Region(Strict):
    """[[regions]]: one node of the region tree."""

    id: Id
    name: str
    parent: Id | None = None
    aliases: tuple[str, ...] = ()
    # the unit answering for this region's targets, unless a target names its own
    owner: str | None = None


def per_dekad(indicators: Iterable[Indicator]) -> set[str]:
    """The indicators published per 旬 (frequency = "dekad")."""
    return {i.id for i in indicators if i.frequency == "dekad"}


def region_children(regions: Iterable[Region]) -> dict[str, list[str]]:
    """Each region's direct children, in config order (regions without any are absent)."""
    children: dict[str, list[str]] = {}
    for r in regions:
        if r.parent is not None:
            children.setdefault(r.parent, []).append(r.id)
    return children


class SeriesMap(Strict):
    """Where one series of a file goes: indicator, measure and unit scale."""

    indicator: Id | None = None
    measure: Measure | None = None
    region: Id | None = None
    scale: float | None = None


class Columns(Strict):
    """Names of the columns a layout reads (header texts, exactly as in the file)."""

    period: str | None = None
    value: str | None = None
    series: str | None = None
    measure: str | None = None
    region: str | None = None
    freq: str | None = None
    jan_feb: str | None = None
    key: str | None = None


class Limits(Strict):
    """[sources.limits]: the most one file may hold; beyond it the file is refused unread.

    Grid layouts and workbooks are held in memory: rows, columns and cells bound that
    memory. Declared sizes (a workbook's dimension, a zip member's size) count too.
    """

    line_bytes: int = Field(default=1 << 20, ge=1)  # longest line of a CSV file
    workbook_bytes: int = Field(default=256 << 20, ge=1)  # uncompressed size of a workbook
    rows: int = Field(default=1_048_576, ge=1)  # rows of a sheet or a grid CSV
    columns: int = Field(default=16_384, ge=1)  # columns of a sheet or a grid CSV
    cells: int = Field(default=5_000_000, ge=1)  # rows × columns of a sheet or a grid CSV


class Source(Strict):
    """[[sources]]: a file layout and how its columns map onto observations.

    layouts:
      long    – one observation per row (period, value, series and/or region columns)
      columns – one period per row, one series per column (panel tables, vendor sheets)
      wide    – one series or region per row, one period per column
    """

    name: Id
    path: str
    layout: Layout
    encoding: Encoding = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None
    header_row: int = Field(default=1, ge=1)
    data_start_row: int | None = Field(default=None, ge=1)
    # wide layout: what the first (key) column of each row names
    row_key: Literal["series", "region"] = "series"
    columns: Columns = Columns()
    indicator: Id | None = None
    measure: Measure | None = None
    region: Id | None = None
    freq: Literal["M", "Q", "D"] = "M"
    scale: float = Field(default=1.0, gt=0)
    series: dict[str, SeriesMap] = {}
    unmapped: Literal["error", "ignore"] = "error"
    skip_rows: tuple[str, ...] = (r"^\s*(注|数据来源|资料来源|来源)",)
    # hidden rows and columns of a workbook: refuse the file, read them, or skip them
    hidden: Literal["error", "read", "skip"] = "error"
    limits: Limits = Limits()
    # The source revises its year-to-date figures: a ytd that falls loads, flagged.
    revises_ytd: bool = False
    _by_key: dict[str, SeriesMap] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object) -> None:
        self._by_key = {name_key(k): v for k, v in self.series.items()}

    def series_entry(self, text: str) -> SeriesMap | None:
        """The mapping of a series text as found in a file (spaces and widths aside)."""
        return self._by_key.get(name_key(text))

    @model_validator(mode="after")
    def _check_layout(self) -> Source:
        need: dict[str, tuple[str, ...]] = {
            "long": ("period", "value"),
            "columns": ("period",),
            "wide": ("key",),
        }
        missing = [c for c in need[self.layout] if getattr(self.columns, c) is None]
        if missing:
            raise ValueError(f"layout {self.layout!r} needs columns.{', columns.'.join(missing)}")
        for pattern in self.skip_rows:
            re.compile(pattern)
        return self
