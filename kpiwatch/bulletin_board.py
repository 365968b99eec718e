"""The bulletin the service serves (电子展板): rebuilt after each good refresh, older
months built on request and kept until the next refresh changes what they would say."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import duckdb

from ingest.errors import KpiwatchError, StoreError, UsageError
from kpiwatch.board import read_store
from kpiwatch.config import Config
from kpiwatch.report import Request, build, parse_month

log = logging.getLogger("kpiwatch")
# A wall screen reloads the current bulletin this often (seconds).
RELOAD_SECONDS = 300

LATEST_SQL = "SELECT strftime(max(as_of_end), '%Y-%m') FROM progress"


class Bulletins:
    """Bulletin pages by month; the current month is the latest the store has checks for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, bytes] = {}
        self._current: str | None = None
        self._generation = 0  # a page built on request is kept only if no refresh came between

    def rebuild(self, config: Config) -> None:
        """After a good refresh: the current month's page again, older ones on request."""
        try:
            with read_store(config) as con:
                row = con.execute(LATEST_SQL).fetchone()
            month = row[0] if row else None
            page = None if month is None else _page(config, str(month), RELOAD_SECONDS)
        except (KpiwatchError, duckdb.Error, OSError) as exc:
            log.warning("the bulletin was not rebuilt: %s", str(exc).splitlines()[0])
            return
        with self._lock:
            self._generation += 1
            self._pages = {} if page is None else {str(month): page}
            self._current = None if month is None else str(month)

    def page(self, config: Config, month: str | None) -> tuple[int, bytes]:
        """(status, body) for GET /bulletin (month None) or /bulletin/YYYY-MM."""
        with self._lock:
            month = month or self._current
            found = self._pages.get(month) if month else None
            generation = self._generation
        if month is None:
            return 503, b"no bulletin yet: the first refresh has not finished\n"
        if found is not None:
            return 200, found
        try:
            parse_month(month)
            page = _page(config, month, None)
        except UsageError as exc:
            return 404, f"{exc}\n".encode()
        except (StoreError, duckdb.Error, OSError) as exc:
            return 503, f"the store is busy, try again: {str(exc).splitlines()[0]}\n".encode()
        with self._lock:
            if generation == self._generation:
                self._pages.setdefault(month, page)
        return 200, page


def _page(config: Config, month: str, reload: int | None) -> bytes:
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return build(config, Request(month), generated=stamp, reload=reload).encode("utf-8")
