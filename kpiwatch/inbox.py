"""The inbox watcher: new files are loaded once their listing has held still for a poll."""

from __future__ import annotations

import os
from pathlib import Path

Listing = tuple[tuple[str, int, int], ...]


class Inbox:
    """What the inbox held at the last poll and at the last refresh."""

    def __init__(self) -> None:
        self.seen: Listing | None = None
        self.loaded: Listing | None = None

    def changed(self, folder: Path | None) -> bool:
        """True once the listing changed and then held still for one poll: a file still
        being copied in is not read half written."""
        if folder is None:
            return False
        current = listing(folder)
        settled = current == self.seen
        self.seen = current
        if settled and current != self.loaded:
            self.loaded = current
            return True
        return False

    def refreshed_with(self, current: Listing) -> None:
        """A refresh read these files: a later change is the next refresh's."""
        self.seen = self.loaded = current


def listing(folder: Path | None) -> Listing:
    """Name, size and mtime of each file in a folder (empty if there is no folder)."""
    if folder is None or not folder.is_dir():
        return ()
    stats = ((e.name, e.stat()) for e in os.scandir(folder) if e.is_file())
    return tuple(sorted((name, st.st_size, st.st_mtime_ns) for name, st in stats))
