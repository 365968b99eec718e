"""The refresh's snapshot steps: the changed targets drawn in a worker process and spliced
with the kept ones, the result served and saved beside the store; at start, the saved
snapshot (or what the store holds) served before the first refresh."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date

import duckdb

from exporters.collector import SnapshotData
from exporters.health import ServiceHealth
from exporters.http import SnapshotHolder
from exporters.snapshot import Key, Snapshot, read_scoped_data, read_snapshot_data, render
from exporters.snapshot_parts import Drawn, Pending, SnapshotParts, draw
from exporters.snapshot_scope import merged, stamp
from exporters.snapshotfile import load_snapshot, remove_leftovers, save_snapshot, snapshot_path
from forecasts.pool import process_pool
from ingest.errors import StageError, StoreError
from ingest.store import open_store
from kpiwatch.config import Config
from kpiwatch.storefaults import classify

log = logging.getLogger("kpiwatch")
# The targets not drawn again, and the drawing of the others under way.
Rendering = tuple[Pending, Future[Drawn]]
# Counts a failed stage and gives the error that fails the refresh.
Failed = Callable[[str, BaseException, Config], StageError]


class Snapshots:
    """The snapshot served, how the next one is drawn, and its copy beside the store."""

    def __init__(self, health: ServiceHealth, holder: SnapshotHolder, failed: Failed) -> None:
        self.health = health
        self.holder = holder
        self._failed = failed
        self._renderer: ProcessPoolExecutor | None = None
        self._parts = SnapshotParts()  # the last snapshot's targets, drawn again only if changed
        # the last snapshot's data, as read whole, and the stamp of the store then; the
        # data being drawn
        self._last: tuple[SnapshotData, object] | None = None
        self._drawing: tuple[SnapshotData, object] | None = None
        self.scoped: frozenset[Key] | None = None  # the targets the last read read (None: all)
        self._fresh: tuple[SnapshotData, frozenset[Key]] | None = None  # that scoped read

    def opened(self, con: duckdb.DuckDBPyConnection) -> None:
        """At a refresh's start: the next read is whole when anything else wrote the
        store's checks or forecasts since the last one (a refresh run by hand)."""
        if self._last is None:
            return
        try:
            same = stamp(con) == self._last[1]
        except duckdb.Error:  # the refresh meets the store's fault itself, and says so
            same = False
        if not same:
            self._last = None

    def forget(self) -> None:
        """After a failed refresh: its writes may be in the store, not in the data kept."""
        self._last = self._drawing = None

    def read(
        self, con: duckdb.DuckDBPyConnection, today: date | None, scope: Collection[Key] | None
    ) -> SnapshotData:
        """What the snapshot shows: the rows of only the targets in `scope` (None: all)
        read again, the others' kept from the last snapshot."""
        last, self._last = self._last, None  # kept again once this snapshot is drawn
        if last is None or scope is None:
            data, self.scoped, self._fresh = read_snapshot_data(con, today), None, None
        else:
            fresh, self.scoped = read_scoped_data(con, today, scope)
            data, self._fresh = merged(last[0], fresh, self.scoped), (fresh, self.scoped)
        self._drawing = (data, stamp(con))
        return data

    def render(self, data: SnapshotData, config: Config) -> Rendering:
        """Draw the targets whose rows changed in a worker process: drawing is pure Python
        and would hold the GIL, stalling scrapes for as long as it runs."""
        if self._renderer is None:
            self._renderer = process_pool(1)
        try:
            # the rows of the targets a scoped read left out are the last snapshot's
            reading = self._drawing is not None and self._drawing[0] is data
            fresh = self._fresh if reading else None
            todo, job = self._parts.job(data, config.server.max_series, time.time(), fresh)
            return todo, self._renderer.submit(draw, job)
        except ValueError as exc:  # rows the snapshot cannot splice: a reading bug
            raise self._failed("snapshot", exc, config) from exc
        except BrokenProcessPool as exc:
            self._renderer = None
            raise self._failed("snapshot", exc, config) from exc

    def rendered(self, rendering: Rendering, config: Config) -> Snapshot:
        """The snapshot spliced from the drawn targets and the kept ones; a failure is the
        snapshot stage's."""
        todo, drawing = rendering
        try:
            snapshot = self._parts.snapshot(todo, drawing.result())
            self._last, self._drawing = self._drawing, None
            return snapshot
        except BrokenProcessPool as exc:
            self._renderer = None
            raise self._failed("snapshot", exc, config) from exc
        except Exception as exc:  # a rendering bug must not take the service down
            log.exception("snapshot rendering failed")
            raise self._failed("snapshot", exc, config) from exc

    def save(self, snapshot: Snapshot, config: Config) -> None:
        """Keep the snapshot beside the store for the next start; serving goes on if not."""
        try:
            save_snapshot(snapshot_path(config.store_path), snapshot)
        except OSError as exc:
            self.health.store_failed(classify(exc, config.store_path))
            self.holder.health_changed()
            log.warning("the snapshot is served but could not be saved: %s", exc)

    def serve(self, snapshot: Snapshot) -> None:
        self.health.series.set(snapshot.series)
        self.health.dropped.set(snapshot.dropped)
        self.health.ready.set(1)
        self.holder.set(snapshot)

    def load_last(self, config: Config, today: date | None) -> None:
        """Serve the saved snapshot, else what the store holds, before the first refresh."""
        path = snapshot_path(config.store_path)
        with contextlib.suppress(OSError):  # only this service writes them: a kill left them
            remove_leftovers(path)
        try:
            saved = load_snapshot(path)
        except (ValueError, OSError) as exc:
            log.warning("not serving the saved snapshot: %s", exc)
            saved = None
        if saved is not None:
            self.health.last_success.set(saved.built_at)  # the age alerts see stays true
            self.serve(saved)
            log.info("serving the snapshot saved at %s", time.ctime(saved.built_at))
            return
        if config.store_path.exists():
            self._load_from_store(config, today)

    def _load_from_store(self, config: Config, today: date | None) -> None:
        try:
            con = open_store(config.store_path, True, config.store.memory_limit)
        except StoreError as exc:
            reason = classify(exc, config.store_path)
            self.health.store_failed(reason)
            self.holder.health_changed()
            log.warning("cannot read the last snapshot (%s): %s", reason, first_line(exc))
            return
        try:
            data = read_snapshot_data(con, today)
        except duckdb.Error as exc:
            log.warning("no snapshot read from the store: %s", first_line(exc))
            return
        finally:
            with contextlib.suppress(duckdb.Error):
                con.close()
        self.serve(render(data, time.time(), config.server.max_series))


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
