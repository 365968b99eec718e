"""Start the real service and a real Prometheus on 127.0.0.1 ports for the tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for(check: Callable[[], bool], timeout: float = 180, what: str = "condition") -> None:
    """Poll until check() holds. The bound only ends a hung test: it is generous, since a
    service's first refresh on a busy 2-core machine can take a minute."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def kpiwatch_serve(
    workdir: Path,
    port: int,
    env: dict[str, str] | None = None,
    today: str = "2026-11-01",
    host: str = "127.0.0.1",
) -> Iterator[subprocess.Popen[str]]:
    """Run `kpiwatch serve` in workdir until the block ends; its log is workdir/serve.log."""
    log = (workdir / "serve.log").open("w")
    proc = subprocess.Popen(
        [KPIWATCH, "serve", "--listen", f"{host}:{port}", "--today", today],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def ready(port: int) -> bool:
    return get(f"http://127.0.0.1:{port}/readyz")[0] == 200


@contextlib.contextmanager
def prometheus(
    workdir: Path,
    targets: list[str],
    rule_files: list[Path] | None = None,
    tsdb: Path | None = None,
    extra_args: list[str] | None = None,
    alertmanager: int | None = None,
) -> Iterator[int]:
    """Run Debian's prometheus scraping `targets` every second; yield its port.

    With `alertmanager` (a port on 127.0.0.1), firing alerts are sent there.
    """
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make test` installs Debian's prometheus package"
    port = free_port()
    cfg = workdir / "prometheus.yml"
    cfg.write_text(
        textwrap.dedent(f"""
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files: {json.dumps([str(p) for p in rule_files or []])}
        alerting:
          alertmanagers:
            - static_configs:
                - targets: {json.dumps([f"127.0.0.1:{alertmanager}"] if alertmanager else [])}
        scrape_configs:
          - job_name: kpiwatch
            static_configs:
              - targets: {json.dumps(targets)}
    """)
    )
    args = [
        binary,
        f"--config.file={cfg}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={tsdb or workdir / 'tsdb'}",
        *(extra_args or []),
    ]
    with until_ready(args, workdir / "prometheus.log", port, "prometheus"):
        yield port


@contextlib.contextmanager
def until_ready(args: list[str], log_path: Path, port: int, what: str) -> Iterator[None]:
    """Run a Prometheus-family server until its /-/ready answers; stop it afterwards."""
    log = log_path.open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, 60, what)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def query(port: int, promql: str) -> dict[str, object]:
    """Run an instant query against Prometheus's HTTP API; fail on an API error."""
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    code, _, body = get(url)
    data = json.loads(body)
    assert code == 200 and data["status"] == "success", data
    return data["data"]  # type: ignore[no-any-return]
