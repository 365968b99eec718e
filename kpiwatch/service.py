"""The long-running service: serve /metrics, refresh on a schedule, on new files, on demand.

A refresh opens the DuckDB file only while it runs (ingest → checks → forecasts →
snapshot), so analysts can open the file in between. A refresh that fails keeps the
last good snapshot; a locked file is retried with back-off while scrapes go on.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from exporters.collector import SnapshotData
from exporters.health import ServiceHealth
from exporters.http import MetricsServer, SnapshotHolder
from exporters.snapshot import Snapshot, read_snapshot_data, render
from exporters.webconfig import load_web_config
from forecasts.pool import process_pool
from ingest.errors import IngestError, KpiwatchError, StageError, StoreError
from ingest.store import open_store
from kpiwatch import app
from kpiwatch.config import Config

log = logging.getLogger("kpiwatch")


@dataclass
class Triggers:
    """Why the refresh loop wakes up: a timer, a request, or new files in the inbox."""

    event: threading.Event
    stop: threading.Event


class Service:
    """Owns the snapshot holder, the health metrics and the refresh loop."""

    def __init__(self, config: Config, today: date | None = None) -> None:
        self.config = config
        self.today = today
        self.health = ServiceHealth()
        self.holder = SnapshotHolder(self.health)
        self.triggers = Triggers(threading.Event(), threading.Event())
        self._inbox_seen: tuple[tuple[str, int, int], ...] | None = None
        self._inbox_loaded: tuple[tuple[str, int, int], ...] | None = None
        self._locked = False
        self._renderer: ProcessPoolExecutor | None = None

    # -- the refresh -------------------------------------------------------------
    def refresh(self) -> bool:
        """Run one refresh; on success serve its snapshot. Never raises."""
        started = time.monotonic()
        con = self._open_with_retry()
        if con is None:
            return False
        try:
            data = self._pipeline(con)
        except StageError as exc:
            log.error("refresh failed: %s (serving the last good snapshot)", exc)
            self.holder.health_changed()
            return False
        finally:
            con.close()
        try:
            snapshot = self._render(data)
        except Exception as exc:  # a rendering bug must not take the service down
            self.health.failures.labels("snapshot").inc()
            log.exception("snapshot rendering failed: %s", exc)
            self.holder.health_changed()
            return False
        self.health.duration.set(time.monotonic() - started)
        self.health.last_success.set(time.time())
        self.health.refreshes.inc()
        self._serve(snapshot)
        log.info("refresh done: %d series in %.2fs", snapshot.series, time.monotonic() - started)
        return True

    def _pipeline(self, con: duckdb.DuckDBPyConnection) -> SnapshotData:
        try:
            outcomes = app.ingest_with(con, self.config)
        except KpiwatchError as exc:
            raise self._failed("ingest", exc) from exc
        for o in outcomes:
            if o.report is not None:
                self.health.ingested.inc(o.report.rows_read)
            elif o.error is not None:
                self.health.rejected_files.inc()
                bad = o.error.total if isinstance(o.error, IngestError) else 0
                self.health.rejected.inc(bad)
                log.warning("refused %s", str(o.error).splitlines()[0])
        stage = "checks"

        def entering(name: str) -> None:
            nonlocal stage
            stage = name

        try:
            _, report = app.refresh_with(con, self.config, self.today, entering)
            self.health.fallbacks.inc(report.fallbacks)
        except (KpiwatchError, duckdb.Error) as exc:
            raise self._failed(stage, exc) from exc
        try:
            return read_snapshot_data(con)
        except duckdb.Error as exc:
            raise self._failed("snapshot", exc) from exc

    def _failed(self, stage: str, exc: Exception) -> StageError:
        self.health.failures.labels(stage).inc()
        return StageError(f"{stage}: {exc}")

    def _open_with_retry(self) -> duckdb.DuckDBPyConnection | None:
        """Open the store for writing, waiting with back-off while another process holds it."""
        delay = self.config.server.store_retry_seconds
        while not self.triggers.stop.is_set():
            try:
                con = open_store(self.config.store_path, False, self.config.store.memory_limit)
            except StoreError as exc:
                self._locked = True
                self.health.store_locked.set(1)
                self.health.failures.labels("store").inc()
                self.holder.health_changed()
                log.warning("store busy, retrying in %.0fs: %s", delay, str(exc).splitlines()[0])
                self.triggers.stop.wait(delay)
                delay = min(delay * 2, self.config.server.store_retry_max_seconds)
                continue
            if self._locked:
                self._locked = False
                self.health.store_locked.set(0)
                self.holder.health_changed()
            return con
        return None

    def _render(self, data: SnapshotData) -> Snapshot:
        """Render in a worker process: rendering is pure Python and would hold the GIL,
        stalling scrapes for as long as it runs."""
        if self._renderer is None:
            self._renderer = process_pool(1)
        try:
            return self._renderer.submit(
                render, data, time.time(), self.config.server.max_series
            ).result()
        except BrokenProcessPool:
            self._renderer = None
            raise

    def close(self) -> None:
        """Stop the loop and the render worker."""
        self.triggers.stop.set()
        if self._renderer is not None:
            self._renderer.shutdown(cancel_futures=True)

    def _serve(self, snapshot: Snapshot) -> None:
        self.health.series.set(snapshot.series)
        self.health.dropped.set(snapshot.dropped)
        self.health.ready.set(1)
        self.holder.set(snapshot)

    def load_last_snapshot(self) -> None:
        """Serve what the store already holds, before the first refresh."""
        if not self.config.store_path.exists():
            return
        try:
            con = open_store(self.config.store_path, True, self.config.store.memory_limit)
        except StoreError as exc:
            log.warning("cannot read the last snapshot yet: %s", str(exc).splitlines()[0])
            return
        try:
            data = read_snapshot_data(con)
        except duckdb.Error as exc:
            log.warning("the store has no snapshot yet: %s", exc)
            return
        finally:
            con.close()
        self._serve(render(data, time.time(), self.config.server.max_series))

    # -- the loop ----------------------------------------------------------------
    def request_refresh(self) -> None:
        self.triggers.event.set()

    def inbox_changed(self) -> bool:
        """True once the inbox listing changed and then held still for one poll."""
        if self.config.server.inbox is None:
            return False
        listing = _listing(self.config.resolve(self.config.server.inbox))
        settled = listing == self._inbox_seen
        self._inbox_seen = listing
        if settled and listing != self._inbox_loaded:
            self._inbox_loaded = listing
            return True
        return False

    def run_loop(self) -> None:
        """Refresh now, then on schedule, on request and on inbox changes, until stopped."""
        server = self.config.server
        next_due = 0.0
        while not self.triggers.stop.is_set():
            now = time.monotonic()
            if now >= next_due or self.triggers.event.is_set():
                self.triggers.event.clear()
                self.refresh()
                next_due = time.monotonic() + server.refresh_interval_seconds
                self.inbox_changed()
                self._inbox_loaded = self._inbox_seen
                continue
            wait = min(next_due - now, server.inbox_poll_seconds)
            if self.triggers.event.wait(wait):
                continue
            if self.inbox_changed():
                log.info("new files in the inbox")
                self.triggers.event.set()


def serve(config: Config, listen: str | None = None, today: date | None = None) -> None:
    """Run the service until interrupted."""
    host, port = (listen or config.server.listen).rsplit(":", 1)
    service = Service(config, today)
    token = refresh_token(config)
    web = config.server.web_config_file
    httpd = MetricsServer(
        (host.strip("[]"), int(port)),
        service.holder,
        token,
        service.request_refresh,
        load_web_config(config.resolve(web)) if web else None,
    )
    # SIGTERM (systemd, docker stop) shuts down like Ctrl-C: workers stopped, socket closed.
    signal.signal(signal.SIGTERM, _interrupt)
    service.load_last_snapshot()
    httpd.serve_in_thread()
    log.info("serving on http://%s:%s/metrics", host, port)
    try:
        service.run_loop()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        service.close()
        httpd.shutdown()


def _listing(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and mtime of each file in a folder (empty if there is no folder)."""
    if not folder.is_dir():
        return ()
    stats = ((e.name, e.stat()) for e in os.scandir(folder) if e.is_file())
    return tuple(sorted((name, st.st_size, st.st_mtime_ns) for name, st in stats))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def refresh_token(config: Config) -> str | None:
    """The refresh token from the environment, else from the config (never logged)."""
    env = os.environ.get(config.server.refresh_token_env)
    if env:
        return env
    secret = config.server.refresh_token
    return secret.get_secret_value() if secret else None
