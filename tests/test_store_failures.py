"""Every fault of the DuckDB file keeps the last good snapshot serving, classified and counted."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.errors import StageError, StoreError
from kpiwatch.service import first_line
from kpiwatch.storefaults import classify
from tests.checks_helpers import CONFIG
from tests.service_helpers import free_port, get, kpiwatch_serve, ready, wait_for
from tests.test_service import BEHIND, DATA, _analyst

TOKEN = {"Authorization": "Bearer t"}
ENV = {"KPIWATCH_REFRESH_TOKEN": "t"}
KPI = b'kpiwatch_kpi_status{horizon="year",indicator="projects_started"'


def metric(port: int, series: str) -> float:
    """One series' value as /metrics serves it (0 when absent)."""
    for line in get(f"http://127.0.0.1:{port}/metrics")[2].decode().splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return 0.0


def failures(port: int, reason: str) -> float:
    return metric(port, f'kpiwatch_store_failures_total{{reason="{reason}"}}')


def refresh_and_wait_for(port: int, reason: str) -> None:
    """Ask for a refresh and wait until it fails for `reason`."""
    before = failures(port, reason)
    assert get(f"http://127.0.0.1:{port}/-/refresh", TOKEN, "POST")[0] == 202
    wait_for(lambda: failures(port, reason) > before, 60, f"a store failure: {reason}")


def refresh_and_wait_for_success(port: int) -> None:
    before = metric(port, "kpiwatch_refreshes_total")
    assert get(f"http://127.0.0.1:{port}/-/refresh", TOKEN, "POST")[0] == 202
    wait_for(lambda: metric(port, "kpiwatch_refreshes_total") > before, 60, "a refresh")


def serving(port: int) -> bool:
    return KPI in get(f"http://127.0.0.1:{port}/metrics")[2]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "db").mkdir()
    (tmp_path / "config.toml").write_text(
        CONFIG + BEHIND + '\n[store]\npath = "db/kpiwatch.duckdb"\n', encoding="utf-8"
    )
    (tmp_path / "data.csv").write_text(DATA, encoding="utf-8")
    return tmp_path


def damaged(good: bytes) -> Iterator[tuple[str, bytes]]:
    """A store cut short at many points, and with its headers overwritten."""
    for tenth in range(1, 10):
        yield f"truncated at {tenth}0 %", good[: len(good) * tenth // 10]
    yield "truncated by one block", good[:-4096]
    yield "main header overwritten", b"\xff" * 4096 + good[4096:]
    yield "database headers overwritten", good[:4096] + b"\x5a" * 8192 + good[12288:]


def test_a_damaged_store_keeps_the_last_snapshot_and_says_corrupt(workdir: Path) -> None:
    store = workdir / "db" / "kpiwatch.duckdb"
    port = free_port()
    with kpiwatch_serve(workdir, port, env=ENV) as proc:
        wait_for(lambda: ready(port), what="/readyz")
        good = store.read_bytes()
        for what, data in damaged(good):
            store.write_bytes(data)
            refresh_and_wait_for(port, "corrupt")
            assert proc.poll() is None and serving(port), what
            assert metric(port, 'kpiwatch_store_error{reason="corrupt"}') == 1, what
        assert failures(port, "locked") == 0  # never reported as busy
        store.write_bytes(good)
        refresh_and_wait_for_success(port)
        assert metric(port, 'kpiwatch_store_error{reason="corrupt"}') == 0
        store.write_bytes(good[: len(good) // 2])
    port = free_port()
    with kpiwatch_serve(workdir, port, env=ENV) as proc:
        # the saved snapshot is served at once although the store cannot be opened
        wait_for(lambda: ready(port), what="/readyz from the saved snapshot")
        assert serving(port)
        wait_for(lambda: failures(port, "corrupt") >= 1, what="the first refresh failing")
        assert metric(port, "kpiwatch_refresh_last_success_timestamp_seconds") > 0
        assert proc.poll() is None
    log = (workdir / "serve.log").read_text()
    assert "store (corrupt)" in log and "Traceback" not in log and "store busy" not in log


def test_a_store_locked_at_start_serves_the_saved_snapshot_at_once(workdir: Path) -> None:
    port = free_port()
    with kpiwatch_serve(workdir, port):
        wait_for(lambda: ready(port), what="the first snapshot")
    analyst = _analyst(workdir / "db")
    try:
        assert analyst.stdout is not None and analyst.stdout.readline().strip() == "open"
        with kpiwatch_serve(workdir, port):
            wait_for(lambda: ready(port), what="/readyz while the store is locked")
            assert serving(port)
            wait_for(lambda: failures(port, "locked") >= 1, what="the lock reported")
            assert metric(port, "kpiwatch_store_locked") == 1
    finally:
        analyst.kill()
        analyst.wait()
        assert analyst.stdout is not None
        analyst.stdout.close()


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"this test mounts a file system and needs root: {done.stderr}")


@contextlib.contextmanager
def mounted(point: Path, *args: str, then: str | None = None) -> Iterator[None]:
    """`mount ARGS… POINT` for the block, then `-o THEN` remounted; needs root."""
    mount(*args, str(point))
    try:
        if then:
            mount("-o", then, str(point))
        yield
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_a_read_only_store_folder_is_reported_as_read_only(workdir: Path) -> None:
    port = free_port()
    folder = workdir / "db"
    with kpiwatch_serve(workdir, port, env=ENV) as proc:
        wait_for(lambda: ready(port), what="/readyz")
        with mounted(folder, "--bind", str(folder), then="remount,ro,bind"):
            refresh_and_wait_for(port, "read_only")
            assert metric(port, 'kpiwatch_store_error{reason="read_only"}') == 1
            assert proc.poll() is None and serving(port)
            assert failures(port, "locked") == 0
        refresh_and_wait_for_success(port)
        assert metric(port, 'kpiwatch_store_error{reason="read_only"}') == 0


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; return it."""
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_fails_the_refresh_and_refuses_no_file(workdir: Path) -> None:
    port = free_port()
    folder = workdir / "db"
    with mounted(folder, "-t", "tmpfs", "-o", "size=48m", "tmpfs"):
        with kpiwatch_serve(workdir, port, env=ENV) as proc:
            wait_for(lambda: ready(port), what="/readyz")
            filler = fill(folder)
            with (workdir / "data.csv").open("a", encoding="utf-8") as fh:
                fh.write("2026年4月,zone_a,projects_started,value,40\n")  # a new file to load
            refresh_and_wait_for(port, "no_space")
            assert metric(port, 'kpiwatch_store_error{reason="no_space"}') == 1
            assert metric(port, "kpiwatch_rejected_files_total") == 0
            assert metric(port, 'kpiwatch_refresh_failures_total{stage="store"}') >= 1
            assert proc.poll() is None and serving(port)
            filler.unlink()
            refresh_and_wait_for_success(port)
            assert metric(port, 'kpiwatch_store_error{reason="no_space"}') == 0
            assert metric(port, "kpiwatch_rejected_files_total") == 0
        assert (folder / "kpiwatch.duckdb.snapshot").is_file()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "no_space"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "no_space"),
        (OSError(errno.EFBIG, "File too large"), "no_space"),
        (OSError(errno.EROFS, "Read-only file system"), "read_only"),
        (OSError(errno.EIO, "Input/output error"), "unreadable"),
        (StoreError('Could not set lock on file "x": Conflicting lock is held'), "locked"),
        (StoreError("Could not write file: No space left on device"), "no_space"),
        (StoreError('The file "x" exists, but it is not a valid DuckDB database file!'), "corrupt"),
        (StoreError("Corrupt database file: computed checksum 1 does not match"), "corrupt"),
        (StoreError('Cannot open file "x": Permission denied'), "read_only"),
        (StoreError("Binder Error: column q not found"), "other"),
    ],
)
def test_store_faults_are_named_by_errno_or_by_duckdbs_words(
    tmp_path: Path, error: Exception, reason: str
) -> None:
    wrapped = StageError("checks failed")
    wrapped.__cause__ = error  # as `raise … from exc` leaves it
    assert classify(wrapped, tmp_path / "kpiwatch.duckdb") == reason


def test_an_error_without_words_is_still_named() -> None:
    assert first_line(OSError()) == "OSError"
    assert first_line(StoreError("first\nsecond")) == "first"
