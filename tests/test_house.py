"""House rules the whole suite relies on: no timing in pass/fail tests, readable outputs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.files import write_atomic


def test_hypothesis_has_no_deadline_anywhere() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check


@settings(max_examples=3)
@given(st.integers())
def test_a_slow_example_does_not_fail(n: int) -> None:
    # Slower than the library's default deadline on any machine.
    time.sleep(0.25)


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask")
def test_written_files_honour_the_umask(tmp_path: Path) -> None:
    # Prometheus and Grafana run as their own users: they must be able to read these.
    path = tmp_path / "rules.yml"
    write_atomic(path, "groups: []\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    private = tmp_path / "private.yml"
    old = os.umask(0o077)
    try:
        write_atomic(private, "groups: []\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


@pytest.mark.usefixtures("umask")
def test_rewriting_keeps_the_mode_an_operator_set(tmp_path: Path) -> None:
    path = tmp_path / "dash.json"
    write_atomic(path, "{}")
    path.chmod(0o640)
    write_atomic(path, "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_text() == "{}\n"


ROOT = Path(__file__).resolve().parent.parent


def _planned(target: str, tmp_path: Path) -> str:
    """The commands `make TARGET` would run on a machine with no virtual environment."""
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_make_run_installs_only_the_runtime(tmp_path: Path) -> None:
    plan = _planned("run", tmp_path)
    assert "pip install --quiet -e ." in plan
    assert "[dev]" not in plan
    assert "kpiwatch serve" in plan


def test_make_test_leaves_the_system_prometheus_alone(tmp_path: Path) -> None:
    plan = _planned("test", tmp_path)
    assert "[dev]" in plan
    assert "systemctl" not in plan
    assert "service prometheus" not in plan


def test_the_cli_starts_without_the_libraries_only_some_verbs_need() -> None:
    # Every `kpiwatch` run pays for what the CLI imports before the verb starts.
    heavy = ("scipy", "statsmodels.tsa", "matplotlib")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, kpiwatch.cli; print([m for m in {heavy} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
