"""Fingerprints of source code: a stored result made by other code is made anew once
after an upgrade (the checks, the forecasts, the nowcasts and the ladder keep one)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType


def source_digest(sources: Iterable[ModuleType | Path], seed: str = "") -> str:
    """SHA-1 of `seed` followed by the text of each module or file, in order."""
    digest = hashlib.sha1(seed.encode())
    for source in sources:
        path = source if isinstance(source, Path) else Path(str(source.__file__))
        digest.update(path.read_bytes())
    return digest.hexdigest()
