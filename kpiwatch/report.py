"""`kpiwatch report`: the monthly bulletin (月通报) for a month, a region or a unit."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import click
import duckdb

from exporters import chromium
from exporters.bulletin import Bulletin, Scope, gather
from ingest.errors import UsageError
from ingest.files import write_atomic
from kpiwatch.board import read_store
from kpiwatch.config import Config, find_region

MONTH = re.compile(r"(\d{4})-(\d{1,2})")
# Chart workers: the bulletin is one job among others on the machine.
WORKERS = max(1, min(os.cpu_count() or 1, 4))

UNITS_SQL = """
SELECT DISTINCT id, name FROM units WHERE ? IN (id, name)
UNION SELECT DISTINCT owner, owner FROM progress WHERE owner = ?
"""


class HasConfig(Protocol):
    def config(self) -> Config: ...


@dataclass(frozen=True)
class Request:
    """What a user asked for: a month, optionally a region or a unit."""

    month: str
    region: str | None = None
    unit: str | None = None


def parse_month(text: str) -> tuple[int, int]:
    """`2026-03` as (2026, 3); anything else is a UsageError."""
    found = MONTH.fullmatch(text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise UsageError(f"--month {text!r}: expected a month as YYYY-MM, e.g. 2026-03")
    return int(found.group(1)), int(found.group(2))


def below(config: Config, region: str) -> tuple[str, ...]:
    """A region and every region under it in the configured tree."""
    found, todo = [region], [region]
    while todo:
        parent = todo.pop()
        children = [r.id for r in config.regions if r.parent == parent and r.id not in found]
        found += children
        todo += children
    return tuple(found)


def build(
    config: Config,
    request: Request,
    generated: str | None = None,
    reload: int | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """The bulletin page; a month without checks or an unknown unit is a UsageError;
    `cancel` calls the drawing off (DrawingCancelled)."""
    parse_month(request.month)  # a malformed month never opens the store
    with read_store(config) as con:
        found = collect(con, config, request)
    return page(found, generated, reload, cancel)


def collect(
    con: duckdb.DuckDBPyConnection, config: Config, request: Request
) -> tuple[Bulletin, str]:
    """The bulletin's content from an open store, and the line saying what it covers."""
    year, month = parse_month(request.month)
    regions, shown = None, []
    if request.region is not None:
        region = find_region(config, request.region)
        regions, shown = below(config, region.id), [region.name or region.id]
    units = None
    if request.unit is not None:
        keys = con.execute(UNITS_SQL, [request.unit, request.unit]).fetchall()
        if not keys:
            raise UsageError(f"unit {request.unit!r}: no such unit or responsible unit")
        units = tuple(sorted({str(k) for pair in keys for k in pair}))
        shown.append(request.unit)
    scope = Scope(year, month, regions, units)
    b = gather(con, scope)
    if not b.items:
        raise UsageError(f"no checks for {scope.label}{_where(request)}{_held(con)}")
    from exporters import bulletin_page  # matplotlib: loaded by the verbs that draw

    return b, bulletin_page.region_scope(shown)


def page(
    found: tuple[Bulletin, str],
    generated: str | None,
    reload: int | None,
    cancel: threading.Event | None = None,
) -> str:
    """The collected bulletin as HTML, its charts drawn over the cores."""
    from exporters import bulletin_page

    return bulletin_page.render_html(found[0], found[1], WORKERS, generated, reload, cancel)


def _where(request: Request) -> str:
    parts = [f"region {request.region}" if request.region else "", request.unit or ""]
    text = ", ".join(p for p in parts if p)
    return f" in {text}" if text else ""


def _held(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute(
        "SELECT strftime(min(as_of_end), '%Y-%m'), strftime(max(as_of_end), '%Y-%m') FROM progress"
    ).fetchall()
    if not row or row[0][0] is None:
        return " (the store holds no checks: run kpiwatch refresh)"
    return f" (checks run from {row[0][0]} to {row[0][1]})"


@click.command("report")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--region", help="Only this region and those below it (id, name or alias).")
@click.option("--unit", help="Only the items this unit answers for (id or name).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf"]),
    default="html",
    show_default=True,
    help="pdf: printed on A4 by headless Chromium.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def report(
    obj: HasConfig, month: str, region: str | None, unit: str | None, fmt: str, output: Path
) -> None:
    """Write the monthly bulletin (月通报) as one self-contained HTML page or an A4 PDF."""
    if fmt == "pdf":
        chromium.executable()  # before the work: no browser, no PDF
    page = build(obj.config(), Request(month, region, unit))
    if fmt == "pdf":
        write_atomic(output, printed(page))
    else:
        write_atomic(output, page)
    click.echo(f"wrote {output}")


def printed(page: str) -> bytes:
    """The page printed to PDF by headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="kpiwatch-bulletin-") as tmp:
        html, pdf = Path(tmp) / "bulletin.html", Path(tmp) / "bulletin.pdf"
        html.write_text(page, encoding="utf-8")
        chromium.print_pdf(html, pdf)
        return pdf.read_bytes()
