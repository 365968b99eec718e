"""Bad input as an adversary would send it, a SQL injection attempt, and kills mid-ingest."""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError
from kpiwatch.config import Config, load_config
from tests.conftest import BASE_TOML, NBS, dump
from tests.ingest_helpers import HOSTILE, LONG_SOURCE, Hostile, load

SAMPLE = Path(__file__).resolve().parent.parent / "sample" / "west_coast_projects.csv"
SOURCES = {
    "long": (
        NBS / "china_core_indicators_long.csv",
        """
        layout = "long"
        region = "CN"
        unmapped = "ignore"
        columns = { period = "period", value = "value", series = "indicator_cn", freq = "freq" }
        [sources.series]
        "固定资产投资完成额:累计值" = { indicator = "fai", measure = "ytd" }
        "固定资产投资完成额:当月值" = { indicator = "fai", measure = "value" }
        """,
    ),
    "panel": (
        NBS / "akshare_panel" / "retail_sales.csv",
        """
        layout = "columns"
        region = "CN"
        indicator = "fai"
        unmapped = "ignore"
        columns = { period = "date", jan_feb = "jan_feb_combined" }
        [sources.series]
        ytd_value = { measure = "ytd" }
        """,
    ),
    "sample": (
        SAMPLE,
        """
        layout = "long"
        unmapped = "ignore"
        [sources.columns]
        period = "period"
        region = "region"
        series = "indicator"
        measure = "measure"
        value = "value"
        [sources.series]
        projects_started = {}
        """,
    ),
}


def mutations(text: str, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Bad variants of a real file's text."""
    lines = text.splitlines()
    header, body = lines[0], lines[1:]
    cols = header.split(",")

    def with_line(i: int, line: str) -> str:
        return "\n".join([header, *body[:i], line, *body[i:]]) + "\n"

    def edit(i: int, col: int, value: str) -> str:
        cells = body[i].split(",")
        cells[col] = value
        return with_line(i, ",".join(cells))

    for k in range(6):
        cut = rng.randrange(len(text.encode()) // 4, len(text.encode()))
        yield f"truncated-{k}", text.encode()[:cut]
    yield "gbk-declared-as-utf8", text.encode("gbk", errors="replace")
    yield "latin1", text.encode("utf-8").decode("utf-8").encode("utf-16")
    yield "swapped-header", ("\n".join([",".join(reversed(cols)), *body]) + "\n").encode()
    value_col = next(i for i, c in enumerate(cols) if c in ("value", "ytd_value"))
    period_col = next(i for i, c in enumerate(cols) if c in ("period", "date"))
    for k in range(4):
        i = rng.randrange(len(body))
        yield (
            f"text-in-number-{k}",
            edit(i, value_col, rng.choice(["abc", "1.2.3", "12万元", "--x"])).encode(),
        )
        yield (
            f"future-{k}",
            edit(i, period_col, f"2{rng.randrange(100, 999)}-0{rng.randrange(1, 9)}").encode(),
        )
        yield f"before-1949-{k}", edit(i, period_col, f"18{rng.randrange(10, 99)}-03").encode()
        yield (
            f"bad-period-{k}",
            edit(i, period_col, rng.choice(["2024-13", "Q5", "昨天", "2024年13月"])).encode(),
        )
    yield "empty", b""
    yield "huge-line", with_line(3, ",".join(["x" * 200_000] * len(cols))).encode()
    yield "short-row", with_line(2, cols[0]).encode()
    yield "extra-column", with_line(2, body[1] + ",1,2").encode()
    yield "nul-bytes", (text[:200] + "\x00\x00" + text[200:]).encode()


def period_and_value_mutations(text: str) -> Iterator[tuple[str, bytes]]:
    """Periods and numbers that can be read two ways, each once per real file."""
    lines = text.splitlines()
    cols = lines[0].split(",")
    value_col = cols.index("ytd_value" if "ytd_value" in cols else "value")  # mapped
    period_col = next(i for i, c in enumerate(cols) if c in ("period", "date"))

    # a row of a mapped series (unmapped rows are ignored unread)
    mapped = (n for n, line in enumerate(lines) if "当月值" in line or "projects_started" in line)
    i = next(mapped, 5)

    def edit(col: int, value: str) -> bytes:
        cells = lines[i].split(",")
        cells[col] = value
        return ("\n".join([*lines[:i], ",".join(cells), *lines[i + 1 :]]) + "\n").encode()

    for n in range(2, 13):
        yield f"ytd-span-1-{n}", edit(period_col, f"2019年1-{n}月")
    for name, period in [("span-2-3", "2019年2-3月"), ("numeric-period", "2019.1")]:
        yield name, edit(period_col, period)
    for name, number in [
        ("comma-decimal", '"1,5"'),
        ("bad-groups", '"1,23,4"'),
        ("underscore", "1_0"),
    ]:
        yield name, edit(value_col, number)
    if "freq" in cols:
        yield "unknown-freq", edit(cols.index("freq"), "A")


def name_and_series_mutations(text: str) -> Iterator[tuple[str, bytes]]:
    """Invisible characters in names, and rows contradicting others of their series."""
    lines = text.splitlines()
    cols = lines[0].split(",")
    mapped = (n for n, line in enumerate(lines) if "当月值" in line or "projects_started" in line)
    i = next(mapped, 5)
    cells = lines[i].split(",")

    def with_row(row: list[str], at: int = i, drop: bool = True) -> bytes:
        rest = lines[at + 1 :] if drop else lines[at:]
        return ("\n".join([*lines[:at], ",".join(row), *rest]) + "\n").encode()

    if "date" in cols:  # the panel: series are headers, values year-to-date
        header = [c + "\u200b" if c == "ytd_value" else c for c in cols]
        yield "zero-width-series", with_row(header, 0)
        falling = list(cells)
        falling[cols.index("ytd_value")] = "1"  # below the months before it
        yield "falling-ytd", with_row(falling)
        return
    series = cols.index("indicator_cn" if "indicator_cn" in cols else "indicator")
    yield "nbsp-series", with_row([c + "\u00a0" if n == series else c for n, c in enumerate(cells)])
    if "region" in cols:
        region = cols.index("region")
        yield (
            "bom-region",
            with_row(["\ufeff" + c if n == region else c for n, c in enumerate(cells)]),
        )
    period = cols.index("period")
    year, month = cells[period][:4], int(re.sub(r"\D", "", cells[period])[4:6] or 3)
    quarter = list(cells)
    quarter[period] = f"{year}年第{'一二三四'[(month - 1) // 3]}季度"
    yield "overlap-quarter", with_row(quarter, i + 1, drop=False)


def corpus() -> list[tuple[str, str, bytes]]:
    rng = random.Random(7)
    out = []
    for name, (path, _) in SOURCES.items():
        text = path.read_text(encoding="utf-8-sig")
        lines = text.splitlines()
        text = "\n".join(lines[:400]) + "\n"
        for round_ in range(3):
            out += [(name, f"{m}-{round_}", data) for m, data in mutations(text, rng)]
        out += [(name, m, data) for m, data in period_and_value_mutations(text)]
        out += [(name, m, data) for m, data in name_and_series_mutations(text)]
    return out


CORPUS = corpus()
# Read two ways, so never loaded: the file must be refused.
MUST_REFUSE = {"span-2-3", "numeric-period", "comma-decimal", "bad-groups", "underscore"}
MUST_REFUSE |= {"unknown-freq", "overlap-quarter", "falling-ytd"}
# Names as configured once invisible characters are set aside: the file must load.
MUST_LOAD = {"zero-width-series", "nbsp-series", "bom-region"}


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 200


REGIONS = "".join(
    f'\n[[regions]]\nid = "{r}"\nname = "{r}"\n'
    for r in ("sino_german_ecopark", "dongjiakou", "guzhenkou")
)


def corpus_source(source: str, path: Path) -> str:
    """The config TOML (beyond BASE_TOML) of one corpus source reading `path`."""
    return REGIONS + f'\n[[sources]]\nname = "s"\npath = "{path}"\n' + SOURCES[source][1]


@pytest.fixture(scope="module")
def holding(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per source, a store already holding the first 20 kB of its real file.

    Built once: each corpus case starts from a copy, as a refresh would find it.
    """
    stores = {}
    for source, (path, _) in SOURCES.items():
        folder = tmp_path_factory.mktemp(f"holding-{source}")
        good = folder / "good.csv"
        good.write_bytes(path.read_bytes()[:20000].rsplit(b"\n", 1)[0] + b"\n")
        config_file = folder / "config.toml"
        config_file.write_text(BASE_TOML + corpus_source(source, good), encoding="utf-8")
        config = load_config(config_file)
        assert load(config, good).new > 0
        assert not Path(f"{config.store_path}.wal").exists()  # all of it is in the copied file
        stores[source] = config.store_path
    return stores


@pytest.mark.parametrize(("source", "name", "data"), CORPUS, ids=[f"{s}-{n}" for s, n, _ in CORPUS])
def test_bad_file_is_refused_clearly_or_loaded_whole(
    make_config: Callable[[str], Config],
    holding: dict[str, Path],
    tmp_path: Path,
    source: str,
    name: str,
    data: bytes,
) -> None:
    bad = tmp_path / f"{name}.csv"
    bad.write_bytes(data)
    config = make_config(corpus_source(source, bad))
    # the store already holds data when the bad file arrives
    shutil.copyfile(holding[source], config.store_path)
    before = dump(config.store_path)
    try:
        report = load(config, bad)
    except IngestError as exc:
        assert name not in MUST_LOAD, str(exc)
        assert str(bad) in str(exc)
        assert exc.errors and all(e.field for e in exc.errors)
        assert "Traceback" not in str(exc)
        assert dump(config.store_path) == before
    else:
        assert name not in MUST_REFUSE, f"{name} loaded"
        con = duckdb.connect(str(config.store_path), read_only=True)
        stored = con.execute(
            "SELECT count(*) FROM observations WHERE file = ?", [str(bad)]
        ).fetchone()
        con.close()
        assert stored == (report.new + report.revised,)


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile_file_is_refused_at_its_line_and_field(
    make_config: Callable[[str], Config], tmp_path: Path, case: Hostile
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    bad = case.write(folder)
    good = tmp_path / "good.csv"
    good.write_text("period,value\n2025-12,1\n", encoding="utf-8")
    config = make_config(
        f'\n[[sources]]\nname = "good"\npath = "{good}"\n{LONG_SOURCE}'
        f'\n[[sources]]\nname = "s"\npath = "{bad}"\n{case.source}'
    )
    load(config, good, "good")  # the store already holds data when the hostile file comes
    before = dump(config.store_path)
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(IngestError) as info:
        load(config, bad, "s", rejects=rejects)
    first = info.value.errors[0]
    assert (first.line, first.field) == (case.line, case.field), str(info.value)
    assert first.reason and str(bad) in str(info.value)
    assert dump(config.store_path) == before
    with rejects.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert (int(rows[0]["line"]), rows[0]["field"]) == (case.line, case.field)


def test_sql_injection_through_config_and_files_is_inert(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    evil = "x'); DROP TABLE observation_vintages; --"
    data = tmp_path / "evil.csv"
    data.write_text(
        f'period,region,indicator,value\n2026-03,west_coast,"{evil}",1\n2026-03,"{evil}",fai,1\n',
        encoding="utf-8",
    )
    config = make_config(f"""
        [[sources]]
        name = "evil"
        path = "{data}"
        layout = "long"
        measure = "value"
        columns = {{ period = "period", region = "region", series = "indicator", value = "value" }}
    """)
    with pytest.raises(IngestError) as info:
        load(config, data)
    reasons = {(e.field, e.reason.split(" (")[0]) for e in info.value.errors}
    assert reasons == {("indicator", "unknown indicator"), ("region", "unknown region")}
    con = duckdb.connect(str(config.store_path), read_only=True)
    assert con.execute("SELECT count(*) FROM observation_vintages").fetchone() == (0,)
    con.close()
    header_evil = tmp_path / "evil2.csv"
    header_evil.write_text(f'period,"{evil}"\n2026-03,1\n', encoding="utf-8")
    config2 = make_config(f"""
        [[sources]]
        name = "evil2"
        path = "{header_evil}"
        layout = "long"
        region = "west_coast"
        indicator = "fai"
        columns = {{ period = "period", value = "{evil.replace('"', "")}" }}
    """)
    report = load(config2, header_evil)
    assert report.new == 1  # the odd column name is quoted, never executed


KILL_SCRIPT = """
import sys
from kpiwatch.app import ingest
from kpiwatch.config import load_config
print("start", flush=True)
outcomes = ingest(load_config(sys.argv[1]))
assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
print("done", flush=True)
"""


# `make stress` kills many more times than the everyday run.
KILLS = int(os.environ.get("KPIWATCH_STRESS_KILLS", "10"))


def test_killed_ingest_leaves_all_or_nothing(tmp_path: Path) -> None:
    rows = ["period,region,indicator,measure,value"]
    rows += [
        f"{1950 + i // 12}-{i % 12 + 1:02d},r{r},fai,value,{i + r}"
        for r in range(40)
        for i in range(12 * 70)
    ]
    files = []
    for k in range(2):
        f = tmp_path / f"data{k}.csv"
        f.write_text("\n".join(rows).replace(",fai,", f",fai{k},") + "\n")
        files.append(f)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[store]\npath = "store.duckdb"\n'
        + "".join(f'[[indicators]]\nid = "fai{k}"\nname = "fai"\nkind = "flow"\n' for k in range(2))
        + "".join(f'[[regions]]\nid = "r{r}"\nname = "r{r}"\n' for r in range(40))
        + '[[sources]]\nname = "d"\npath = "data*.csv"\nlayout = "long"\n'
        'columns = { period = "period", region = "region", series = "indicator", '
        'measure = "measure", value = "value" }\n'
    )
    expected = len(rows) - 1
    rng = random.Random(3)
    for attempt in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(cfg)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
        # Killed before the schema's migration committed: the store holds nothing yet.
        migrated = con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = 'observation_vintages'"
        ).fetchall()[0][0]
        counts = dict(
            con.execute(
                "SELECT indicator, count(*) FROM observation_vintages GROUP BY ALL"
            ).fetchall()
            if migrated
            else []
        )
        con.close()
        assert all(n == expected for n in counts.values()), (attempt, counts)
    done = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(cfg)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "done" in done.stdout, done.stderr
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    assert con.execute(
        "SELECT indicator, count(*) FROM observation_vintages GROUP BY ALL ORDER BY 1"
    ).fetchall() == [("fai0", expected), ("fai1", expected)]
    con.close()


def test_workbook_formulas_and_merged_cells(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "data"
    ws.append(["月份", "ytd"])
    ws.append(["2026年1-2月", 150])
    ws.append(["2026年3月", 257])
    ws.append(["2026年4月", "=B3+40"])  # a formula nobody computed
    ws.append(["注：本表为示例", None])
    ws.merge_cells("A5:B5")  # a merged note row
    path = tmp_path / "book.xlsx"
    book.save(path)
    config = make_config(f"""
        [[sources]]
        name = "book"
        path = "{path}"
        layout = "columns"
        sheet = "data"
        region = "west_coast"
        indicator = "projects_started"
        columns = {{ period = "月份" }}
        [sources.series]
        ytd = {{ measure = "ytd" }}
    """)
    with pytest.raises(IngestError) as info:
        load(config, path)
    (error,) = info.value.errors
    assert (error.line, error.field, error.value) == (4, "data!B4", "=B3+40")
    ws["B4"] = 297
    book.save(path)
    report = load(config, path)
    assert report.new == 3  # the merged note row is skipped as a note


@given(st.text(max_size=30))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_value_text_is_loaded_as_a_number_or_refused(
    make_config: Callable[[str], Config], tmp_path: Path, text: str
) -> None:
    cell = '"' + text.replace('"', '""') + '"'
    data = tmp_path / "v.csv"
    data.write_text(f"period,value\n2026-03,{cell}\n", encoding="utf-8")
    config = make_config(f"""
        [[sources]]
        name = "v"
        path = "{data}"
        layout = "long"
        region = "west_coast"
        indicator = "fai_growth"
        columns = {{ period = "period", value = "value" }}
    """)
    try:
        report = load(config, data)
    except IngestError as exc:
        assert exc.errors and exc.errors[0].field in {"value", "csv"}
    else:
        assert report.new + report.unchanged + report.revised <= 1


def test_a_service_killed_mid_refresh_restarts_on_the_last_complete_snapshot(
    tmp_path: Path,
) -> None:
    from tests.checks_helpers import CONFIG
    from tests.service_helpers import KPIWATCH, free_port, get, kpiwatch_serve, ready, wait_for
    from tests.test_service import BEHIND, DATA

    (tmp_path / "config.toml").write_text(CONFIG + BEHIND, encoding="utf-8")
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    port = free_port()
    metric = b'kpiwatch_kpi_status{horizon="year",indicator="projects_started",region="west_coast"'
    with kpiwatch_serve(tmp_path, port):
        wait_for(lambda: ready(port), what="first snapshot")
    rng = random.Random(11)
    for _ in range(5):
        log = (tmp_path / "killed.log").open("w")
        proc = subprocess.Popen(
            [KPIWATCH, "serve", "--listen", f"127.0.0.1:{port}"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 2.5))  # somewhere inside start-up or the refresh
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
        with kpiwatch_serve(tmp_path, port):
            # before its own first refresh ends, the service already serves the stored state
            wait_for(lambda: ready(port), 60, "restart")
            assert metric in get(f"http://127.0.0.1:{port}/metrics")[2]


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.add(int(entry.name))
    return out


def test_worker_processes_die_with_a_killed_service(tmp_path: Path) -> None:
    from tests.checks_helpers import CONFIG
    from tests.service_helpers import KPIWATCH, free_port, ready, wait_for
    from tests.test_service import BEHIND, DATA

    (tmp_path / "config.toml").write_text(CONFIG + BEHIND, encoding="utf-8")
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [KPIWATCH, "serve", "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ready(port) and bool(_children(proc.pid)), 60, "a render worker")
        workers = _children(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    wait_for(
        lambda: (
            not any(
                Path(f"/proc/{w}").exists()
                and "Z" not in (Path(f"/proc/{w}/stat").read_text().split()[2])
                for w in workers
            )
        ),
        30,
        "workers gone",
    )
