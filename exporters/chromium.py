"""Headless Chromium (Debian's `chromium`): prints the bulletin to PDF, renders pages."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ingest.errors import StageError

# A fresh profile each run and nothing that reaches the network or a desktop session.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT = 120


def executable() -> str:
    """The chromium binary; its absence is a StageError saying how to install it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise StageError("chromium not found: install Debian's chromium package (make tools)")


def run(args: Sequence[str], url: str) -> bytes:
    """Run headless Chromium on `url` with `args` in a fresh profile; its stdout."""
    with tempfile.TemporaryDirectory(prefix="kpiwatch-chromium-") as profile:
        command = [executable(), *FLAGS, f"--user-data-dir={profile}", *args, url]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise StageError(f"chromium did not finish within {TIMEOUT} s on {url}") from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise StageError(f"chromium failed on {url}: {' '.join(tail) or done.returncode}")
    return done.stdout


def print_pdf(html: Path, pdf: Path) -> None:
    """Print a local HTML file to PDF (page size and margins from its CSS @page)."""
    run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer"], html.resolve().as_uri())
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise StageError(f"chromium wrote no PDF for {html}")
