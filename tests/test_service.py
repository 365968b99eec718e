"""The service as Prometheus and the person on call see it: a real process, a real scrape."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.checks_helpers import CONFIG
from tests.service_helpers import (
    KPIWATCH,
    free_port,
    get,
    kpiwatch_serve,
    prometheus,
    query,
    ready,
    wait_for,
)

BEHIND = """
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2026
annual = 600
quarters = { Q1 = 257 }
"""
DATA = """period,region,indicator,measure,value
2026年1-2月,zone_a,projects_started,value,30
2026年1-2月,zone_b,projects_started,value,20
2026年3月,zone_a,projects_started,value,25
2026年3月,zone_b,projects_started,value,25
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG + BEHIND, encoding="utf-8")
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    return tmp_path


def test_metrics_health_and_formats(workdir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="/readyz")
        assert get(f"{base}/healthz")[0] == 200
        code, _, index = get(f"{base}/")
        assert code == 200 and b'href="/metrics"' in index
        code, headers, text = get(f"{base}/metrics")
        assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        line = (
            'kpiwatch_kpi_status{horizon="year",indicator="projects_started",region="west_coast",'
            'status="behind",year="2026"} 1.0'
        )
        assert line.encode() in text.splitlines()
        assert b"kpiwatch_refresh_last_success_timestamp_seconds " in text
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, check=False
        )
        assert check.returncode == 0 and check.stdout == b"" and check.stderr == b"", check
        code, headers, om = get(
            f"{base}/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert headers["Content-Type"].startswith("application/openmetrics-text")
        assert om.endswith(b"# EOF\n") and om.count(b"# EOF") == 1
        code, headers, packed = get(f"{base}/metrics", {"Accept-Encoding": "gzip"})
        assert headers["Content-Encoding"] == "gzip"
        assert _kpi_lines(gzip.decompress(packed)) == _kpi_lines(get(f"{base}/metrics")[2])
        assert get(f"{base}/nope")[0] == 404


def _kpi_lines(text: bytes) -> list[bytes]:
    """The snapshot's lines: the process and HTTP metrics change with every request."""
    kept = (b"kpiwatch_kpi_", b"kpiwatch_refresh")
    return [ln for ln in text.splitlines() if ln.startswith(kept)]


def test_http_as_exporters_answer(workdir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="/readyz")
        code, headers, body = get(f"{base}/metrics", method="HEAD")
        assert code == 200 and body == b"" and int(headers["Content-Length"]) > 0
        assert get(f"{base}/readyz", method="HEAD")[0] == 200
        assert get(f"{base}//metrics")[0] == 404
        assert get(f"{base}/metrics/")[0] == 404
        code, headers, _ = get(f"{base}/metrics", method="POST")
        assert code == 405 and headers["Allow"] == "GET, HEAD"
        assert get(f"{base}/-/refresh")[0] == 405
        text = get(f"{base}/metrics")[2].decode()
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert int(listening[2]) >= 128  # the backlog: a burst of scrapers is not refused
    lines = text.splitlines()
    build = next(ln for ln in lines if ln.startswith("kpiwatch_build_info{"))
    assert 'version="0.1.0"' in build and "duckdb_version=" in build and build.endswith(" 1.0")
    assert any(ln.startswith("process_resident_memory_bytes ") for ln in lines)
    assert any(ln.startswith("process_cpu_seconds_total ") for ln in lines)
    assert 'kpiwatch_http_requests_total{code="200",handler="/metrics"}' in text
    assert 'kpiwatch_http_requests_total{code="404",handler="other"} 2.0' in text
    assert 'kpiwatch_http_requests_total{code="405",handler="/metrics"} 1.0' in text
    assert [ln for ln in lines if "_created" in ln] == []


@pytest.mark.parametrize("listen", ["localhost", ":abc", ":99999", "127.0.0.1:0", "[::1", "a b:1"])
def test_a_bad_listen_address_is_one_clear_line(workdir: Path, listen: str) -> None:
    done = subprocess.run(
        [KPIWATCH, "serve", "--listen", listen],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    assert done.stderr.startswith(f"--listen {listen}: ") and "Traceback" not in done.stderr


def test_ipv6_and_every_address(workdir: Path) -> None:
    port = free_port()
    with kpiwatch_serve(workdir, port, host="[::1]"):
        wait_for(lambda: get(f"http://[::1]:{port}/readyz")[0] == 200, what="/readyz on ::1")
    assert f"serving on http://[::1]:{port}/metrics" in (workdir / "serve.log").read_text()
    port = free_port()
    with kpiwatch_serve(workdir, port, host=""):
        wait_for(lambda: ready(port), what="/readyz on every address")
    log = (workdir / "serve.log").read_text()
    assert f"listening on every network address (port {port})" in log


def test_refresh_endpoint_needs_its_token(workdir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/-/refresh"
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="/readyz")
        assert get(url, method="POST")[0] == 403  # no token configured: disabled
    secret = "s3cr3t-token-value"
    port = free_port()
    url = f"http://127.0.0.1:{port}/-/refresh"
    with kpiwatch_serve(workdir, port, env={"KPIWATCH_REFRESH_TOKEN": secret}):
        wait_for(lambda: ready(port), what="/readyz")
        assert get(url, method="POST")[0] == 401
        assert get(url, {"Authorization": "Bearer wrong"}, method="POST")[0] == 401
        before = _refreshes(port)
        assert get(url, {"Authorization": f"Bearer {secret}"}, method="POST")[0] == 202
        wait_for(lambda: _refreshes(port) > before, 30, "the requested refresh")
        assert secret.encode() not in get(f"http://127.0.0.1:{port}/metrics")[2]
    assert secret not in (workdir / "serve.log").read_text()


def _refreshes(port: int) -> float:
    text = get(f"http://127.0.0.1:{port}/metrics")[2].decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("kpiwatch_refreshes_total "))
    return float(line.split()[1])


def test_a_locked_store_keeps_the_last_snapshot_and_says_so(workdir: Path) -> None:
    with (workdir / "config.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[server]\nstore_retry_seconds = 0.5\nstore_retry_max_seconds = 2\n")
    port = free_port()
    metrics = f"http://127.0.0.1:{port}/metrics"
    with kpiwatch_serve(workdir, port, env={"KPIWATCH_REFRESH_TOKEN": "t"}):
        wait_for(lambda: ready(port), what="/readyz")
        analyst = _analyst(workdir)  # another process holds the file open read-write
        try:
            assert analyst.stdout is not None and analyst.stdout.readline().strip() == "open"
            get(f"http://127.0.0.1:{port}/-/refresh", {"Authorization": "Bearer t"}, "POST")
            wait_for(lambda: b"kpiwatch_store_locked 1.0" in get(metrics)[2], 30, "lock seen")
            text = get(metrics)[2]
            assert b'kpiwatch_kpi_status{horizon="year",indicator="projects_started"' in text
        finally:
            analyst.kill()
            analyst.wait()
            assert analyst.stdout is not None
            analyst.stdout.close()
        wait_for(lambda: b"kpiwatch_store_locked 0.0" in get(metrics)[2], 60, "lock released")
    assert "store busy" in (workdir / "serve.log").read_text()


def _analyst(workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); "
            "print('open', flush=True); time.sleep(60)",
            str(workdir / "kpiwatch.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_prometheus_scrapes_the_behind_indicator(workdir: Path) -> None:
    port = free_port()
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="/readyz")
        with prometheus(workdir, [f"127.0.0.1:{port}"]) as prom:
            wait_for(lambda: bool(query(prom, 'up{job="kpiwatch"} == 1')["result"]), 60, "up == 1")
            result = query(
                prom,
                'kpiwatch_kpi_status{indicator="projects_started",region="west_coast",'
                'horizon="year"} == 1',
            )["result"]
            assert isinstance(result, list) and len(result) == 1
            labels = result[0]["metric"]
            assert labels["status"] == "behind" and labels["job"] == "kpiwatch"
            assert query(prom, "kpiwatch_snapshot_series > 0")["result"]


def test_the_store_can_be_opened_between_refreshes(workdir: Path) -> None:
    port = free_port()
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="/readyz")
        con = duckdb.connect(str(workdir / "kpiwatch.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM progress").fetchone()[0] > 0  # type: ignore[index]
        con.close()
